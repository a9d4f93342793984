"""Sufficient-statistic dataclasses and the SRM check (reference: numpy, scipy.stats.chisquare)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from smsanalytics.experiments import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    srm_test,
    statistics_from_frame,
)
from smsanalytics.experiments.srm import normalise_weights
from smsanalytics.experiments.stats import validate_arms


def test_sample_mean_variance_matches_numpy_ddof1() -> None:
    rng = np.random.default_rng(1)
    y = rng.gamma(0.5, 20.0, size=1000)
    s = SampleMeanStatistic(y.size, y.sum(), (y**2).sum())
    assert s.mean == pytest.approx(y.mean(), rel=1e-12)
    assert s.variance == pytest.approx(np.var(y, ddof=1), rel=1e-9)


def test_proportion_statistic_is_bernoulli() -> None:
    s = ProportionStatistic(200, 30)
    assert s.mean == 0.15
    assert s.variance == pytest.approx(0.15 * 0.85)
    assert s.sum_squares == 30.0


def test_regression_adjusted_covariance_matches_numpy_cov() -> None:
    rng = np.random.default_rng(2)
    x = rng.poisson(2.0, 500).astype(float)
    y = 3.0 * x + rng.normal(size=500)
    s = RegressionAdjustedStatistic(
        SampleMeanStatistic(500, y.sum(), (y**2).sum()),
        SampleMeanStatistic(500, x.sum(), (x**2).sum()),
        float((x * y).sum()),
    )
    assert s.covariance == pytest.approx(np.cov(x, y, ddof=1)[0, 1], rel=1e-9)


def test_numpy_integers_are_accepted_and_stored_as_int() -> None:
    s = ProportionStatistic(np.int64(10), np.int64(3))
    assert isinstance(s.n, int) and isinstance(s.sum, float)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: ProportionStatistic(-1, 0), "non-negative integer"),
        (lambda: ProportionStatistic(10, 11), r"\[0, n=10\]"),
        (lambda: ProportionStatistic(10.5, 1), "non-negative integer"),  # type: ignore[arg-type]
        (lambda: SampleMeanStatistic(3, 6.0, 1.0), "square of the sum"),
        (lambda: SampleMeanStatistic(3, float("nan"), 1.0), "finite"),
        (
            lambda: RegressionAdjustedStatistic(
                ProportionStatistic(10, 1), SampleMeanStatistic(9, 1.0, 1.0), 0.0
            ),
            "same units",
        ),
    ],
)
def test_invalid_statistics_raise_with_explanation(factory, match: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=match):
        factory()


def test_validate_arms_errors() -> None:
    p = ProportionStatistic(10, 1)
    with pytest.raises(ValueError, match="at least two arms"):
        validate_arms({"A": p})
    with pytest.raises(ValueError, match="same kind"):
        validate_arms({"A": p, "B": SampleMeanStatistic(10, 1.0, 1.0)})
    with pytest.raises(ValueError, match="'Z' is not one of the arms"):
        validate_arms({"A": p, "B": p}, "Z")
    assert validate_arms({"A": p, "B": p}) == "A"


def test_statistics_from_frame_builds_each_kind() -> None:
    frame = pl.DataFrame(
        {
            "variant": ["A", "B"],
            "n": [100, 110],
            "conversions": [5, 9],
            "revenue_sum": [50.0, 70.0],
            "revenue_sumsq": [900.0, 1500.0],
            "pre_sum": [10.0, 12.0],
            "pre_sumsq": [30.0, 40.0],
            "x": [20.0, 25.0],
        }
    )
    props = statistics_from_frame(frame)
    assert props == {"A": ProportionStatistic(100, 5), "B": ProportionStatistic(110, 9)}
    means = statistics_from_frame(
        frame, sum_column="revenue_sum", sum_squares_column="revenue_sumsq"
    )
    assert means["B"] == SampleMeanStatistic(110, 70.0, 1500.0)
    adj = statistics_from_frame(
        frame, pre_sum_column="pre_sum", pre_sum_squares_column="pre_sumsq", cross_column="x"
    )
    assert isinstance(adj["A"], RegressionAdjustedStatistic)
    assert adj["A"].post_pre_sum_of_products == 20.0


def test_statistics_from_frame_names_missing_columns_and_duplicates() -> None:
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['conversions'\]"):
        statistics_from_frame(pl.DataFrame({"variant": ["A"], "n": [1]}))
    dup = pl.DataFrame({"variant": ["A", "A"], "n": [10, 10], "conversions": [1, 2]})
    with pytest.raises(ValueError, match="more than once"):
        statistics_from_frame(dup)
    empty = pl.DataFrame(
        {"variant": ["A"], "n": [10], "conversions": [None]},
        schema_overrides={"conversions": pl.Int64},
    )
    with pytest.raises(ValueError, match="'conversions' is empty for variant 'A'"):
        statistics_from_frame(empty)


@pytest.mark.parametrize(
    ("observed", "weights"),
    [
        ([5000, 5100], None),
        ([5000, 5300], None),
        ([1000, 480, 530], [2, 1, 1]),
        ([90, 455, 455], [0.1, 0.45, 0.45]),
    ],
)
def test_srm_equals_scipy_chisquare(observed: list[int], weights: list[float] | None) -> None:
    r = srm_test(observed, weights)
    w = np.ones(len(observed)) if weights is None else np.asarray(weights, dtype=float)
    ref = stats.chisquare(observed, f_exp=np.sum(observed) * w / w.sum())
    assert abs(r.statistic - ref.statistic) < 1e-9
    assert abs(r.p_value - ref.pvalue) < 1e-9
    assert r.df == len(observed) - 1


def test_srm_flags_mismatch_at_default_threshold() -> None:
    # 5000 vs 5300: chi2 = 8.74, p = 0.0031 -- suspicious but above the default 0.001
    assert not srm_test([5000, 5300]).is_mismatch
    assert srm_test([5000, 5300], threshold=0.01).is_mismatch
    r = srm_test([5000, 5400])  # chi2 = 15.4, p = 8.8e-5
    assert r.p_value < 0.001 and r.is_mismatch
    assert not srm_test([5000, 5100]).is_mismatch


def test_srm_uses_configured_split_by_name() -> None:
    r = srm_test({"control": 1000, "A": 4500, "B": 4500}, {"A": 0.45, "B": 0.45, "control": 0.1})
    assert r.p_value == pytest.approx(1.0)
    # against the default equal split the same counts are a gross mismatch
    assert srm_test({"control": 1000, "A": 4500, "B": 4500}).is_mismatch


def test_normalise_weights_errors() -> None:
    with pytest.raises(ValueError, match="one weight per arm"):
        normalise_weights([1, 2], ["A", "B", "C"])
    with pytest.raises(ValueError, match=r"no entry for arm\(s\) \['B'\]"):
        normalise_weights({"A": 1}, ["A", "B"])
    with pytest.raises(ValueError, match=r"not in the data"):
        normalise_weights({"A": 1, "B": 1, "Z": 1}, ["A", "B"])
    with pytest.raises(ValueError, match="> 0"):
        normalise_weights([1, 0], ["A", "B"])
    assert normalise_weights([50, 25, 25], ["a", "b", "c"]) == (0.5, 0.25, 0.25)
