"""Frequentist tests against scipy/statsmodels (1e-9) and the delta method against simulation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from smsanalytics.experiments import (
    ProportionStatistic,
    SampleMeanStatistic,
    adjust_p_values,
    frequentist_test,
    two_proportion_ztest,
    welch_ttest,
)

ALTERNATIVES = ["two-sided", "larger", "smaller"]
Z_CASES = [
    (10_000, 300, 10_050, 370),
    (500, 20, 700, 22),
    (120, 60, 80, 50),
    (1_000_000, 31_000, 1_000_000, 30_500),
]


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(("nc", "xc", "nt", "xt"), Z_CASES)
def test_ztest_equals_statsmodels_proportions_ztest(nc, xc, nt, xt, alternative) -> None:  # noqa: ANN001
    r = two_proportion_ztest(
        ProportionStatistic(nc, xc), ProportionStatistic(nt, xt), alternative=alternative
    )
    z, p = proportions_ztest([xt, xc], [nt, nc], alternative=alternative)
    assert abs(r.statistic - z) < 1e-9
    assert abs(r.p_value - p) < 1e-9


@pytest.mark.parametrize(("nc", "xc", "nt", "xt"), Z_CASES)
def test_ztest_absolute_interval_equals_statsmodels_wald_interval(nc, xc, nt, xt) -> None:  # noqa: ANN001
    r = two_proportion_ztest(ProportionStatistic(nc, xc), ProportionStatistic(nt, xt), alpha=0.1)
    lo, hi = confint_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff", alpha=0.1)
    assert abs(r.ci_abs_low - lo) < 1e-9 and abs(r.ci_abs_high - hi) < 1e-9


def _sample(rng: np.random.Generator, n: int, shape: float, scale: float) -> np.ndarray:
    # revenue-like: most contacts 0, a few large orders
    buy = rng.random(n) < 0.08
    return np.where(buy, rng.gamma(shape, scale, n), 0.0)


def _mean_stat(y: np.ndarray) -> SampleMeanStatistic:
    return SampleMeanStatistic(y.size, float(y.sum()), float((y**2).sum()))


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(("nc", "nt", "seed"), [(400, 600, 1), (50, 30, 2), (5000, 5000, 3)])
def test_welch_equals_scipy_ttest_ind_unequal_var(nc, nt, seed, alternative) -> None:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    yc, yt = _sample(rng, nc, 2.0, 30.0), _sample(rng, nt, 2.0, 36.0)
    r = welch_ttest(_mean_stat(yc), _mean_stat(yt), alternative=alternative, alpha=0.05)
    scipy_alt = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative]
    ref = stats.ttest_ind(yt, yc, equal_var=False, alternative=scipy_alt)
    assert abs(r.statistic - ref.statistic) < 1e-9
    assert abs(r.p_value - ref.pvalue) < 1e-9
    assert abs(r.df - ref.df) < 1e-6 * ref.df
    ci = ref.confidence_interval(0.95)
    for ours, theirs in ((r.ci_abs_low, ci.low), (r.ci_abs_high, ci.high)):
        assert (math.isinf(ours) and math.isinf(theirs)) or abs(ours - theirs) < 1e-9


def test_welch_equals_scipy_ttest_ind_from_stats() -> None:
    c, t = SampleMeanStatistic(800, 960.0, 30_000.0), SampleMeanStatistic(820, 1100.0, 36_000.0)
    r = welch_ttest(c, t)
    ref = stats.ttest_ind_from_stats(
        t.mean, math.sqrt(t.variance), t.n, c.mean, math.sqrt(c.variance), c.n, equal_var=False
    )
    assert abs(r.statistic - ref.statistic) < 1e-9 and abs(r.p_value - ref.pvalue) < 1e-9


@settings(max_examples=60, deadline=None)
@given(
    p=st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=12),
    method=st.sampled_from(["holm", "bh", "bonferroni"]),
)
def test_adjust_p_values_equals_statsmodels_multipletests(p: list[float], method: str) -> None:
    ref = multipletests(
        p, method={"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni"}[method]
    )[1]
    got = adjust_p_values(p, method)  # type: ignore[arg-type]
    assert np.max(np.abs(got - ref)) < 1e-9
    assert np.all(got >= np.asarray(p) - 1e-15)


def test_adjust_p_values_golden_and_nan_handling() -> None:
    assert adjust_p_values([0.01, 0.04, 0.03], "holm").tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert adjust_p_values([0.01, 0.04, 0.03], "bh").tolist() == pytest.approx([0.03, 0.04, 0.04])
    out = adjust_p_values([0.01, float("nan"), 0.04], "holm")
    assert math.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)
    with pytest.raises(ValueError, match="correction must be one of"):
        adjust_p_values([0.1], "sidak")  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(
    nc=st.integers(50, 5000),
    nt=st.integers(50, 5000),
    rc=st.floats(0.01, 0.99),
    rt=st.floats(0.01, 0.99),
)
def test_swapping_arms_flips_the_effect(nc: int, nt: int, rc: float, rt: float) -> None:
    c, t = ProportionStatistic(nc, round(nc * rc)), ProportionStatistic(nt, round(nt * rt))
    a, b = two_proportion_ztest(c, t), two_proportion_ztest(t, c)
    assert a.lift_abs == pytest.approx(-b.lift_abs, abs=1e-15)
    assert a.p_value == pytest.approx(b.p_value, rel=1e-12, abs=1e-300)
    assert a.ci_abs_low == pytest.approx(-b.ci_abs_high, abs=1e-12)


def test_relative_lift_delta_method_interval_covers_at_nominal_rate() -> None:
    """Seeded simulation: 4000 experiments with true relative lift +20 % (3 % -> 3.6 %), n = 20000
    per arm; the 95 % delta-method interval for p_t/p_c - 1 should cover 0.2 in 95 % of runs."""
    rng = np.random.default_rng(20240601)
    reps, n, pc, pt = 4000, 20_000, 0.03, 0.036
    xc, xt = rng.binomial(n, pc, reps), rng.binomial(n, pt, reps)
    cover = 0
    for a, b in zip(xc, xt, strict=True):
        r = two_proportion_ztest(ProportionStatistic(n, int(a)), ProportionStatistic(n, int(b)))
        cover += r.ci_rel_low <= 0.2 <= r.ci_rel_high
    rate = cover / reps
    se = math.sqrt(0.95 * 0.05 / reps)
    assert abs(rate - 0.95) < 4 * se, rate


def test_degenerate_arms_give_no_evidence_and_no_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = two_proportion_ztest(ProportionStatistic(100, 0), ProportionStatistic(100, 0))
        assert r.p_value == 1.0 and r.lift_abs == 0.0 and math.isnan(r.lift_rel)
        w = welch_ttest(SampleMeanStatistic(10, 0.0, 0.0), SampleMeanStatistic(10, 0.0, 0.0))
        assert w.p_value == 1.0


def test_frequentist_test_dispatches_on_metric_type() -> None:
    p = frequentist_test(ProportionStatistic(100, 5), ProportionStatistic(100, 9))
    assert p.test == "z-test"
    m = frequentist_test(SampleMeanStatistic(100, 5.0, 30.0), SampleMeanStatistic(100, 9.0, 40.0))
    assert m.test == "welch"
    one_sided = two_proportion_ztest(
        ProportionStatistic(100, 5), ProportionStatistic(100, 9), alternative="larger"
    )
    assert math.isinf(one_sided.ci_abs_high) and one_sided.ci_abs_low < one_sided.lift_abs
