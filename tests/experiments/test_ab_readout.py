"""The readout entry point: SRM first, per-arm results equal the underlying tests."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from smsanalytics.cli.common import to_jsonable
from smsanalytics.experiments import (
    ProportionStatistic,
    SampleMeanStatistic,
    beta_binomial_test,
    readout,
    sequential_test,
)

ARMS = {
    "A": ProportionStatistic(10_000, 300),
    "B": ProportionStatistic(10_050, 370),
    "C": ProportionStatistic(9_900, 310),
    "D": ProportionStatistic(10_020, 345),
}
REQUIRED = {
    "variant",
    "rate",
    "lift_abs",
    "lift_rel",
    "ci_low",
    "ci_high",
    "p_value",
    "p_value_adjusted",
    "chance_to_beat_control",
}


@pytest.mark.parametrize(
    ("correction", "sm_method"), [("holm", "holm"), ("bh", "fdr_bh"), ("bonferroni", "bonferroni")]
)
def test_frequentist_readout_equals_statsmodels_ztest_and_multipletests(
    correction: str, sm_method: str
) -> None:
    r = readout(ARMS, correction=correction)  # type: ignore[arg-type]
    assert [a.variant for a in r.arms] == ["B", "C", "D"] and r.control == "A"
    raw = [proportions_ztest([ARMS[v].sum, 300], [ARMS[v].n, 10_000])[1] for v in ("B", "C", "D")]
    adjusted = multipletests(raw, method=sm_method)[1]
    for arm, p, q in zip(r.arms, raw, adjusted, strict=True):
        assert abs(arm.p_value - p) < 1e-9
        assert abs(arm.p_value_adjusted - q) < 1e-9
        assert arm.is_significant == (q < 0.05)
        assert arm.chance_to_beat_control is None
        assert arm.rate == ARMS[arm.variant].mean and arm.control_rate == 0.03
        assert (arm.ci_low, arm.ci_high) == (arm.ci_rel_low, arm.ci_rel_high)


def test_srm_comes_first_and_uses_the_configured_split() -> None:
    arms = {
        "control": ProportionStatistic(1000, 30),
        "A": ProportionStatistic(4500, 160),
        "B": ProportionStatistic(4500, 150),
    }
    equal = readout(arms)
    assert equal.srm_mismatch and "sample-ratio mismatch" in equal.warnings[0]
    configured = readout(arms, weights={"control": 0.1, "A": 0.45, "B": 0.45})
    assert not configured.srm_mismatch and configured.srm_p_value == pytest.approx(1.0)
    assert [f.name for f in dataclasses.fields(configured)][:2] == ["srm_p_value", "srm_mismatch"]
    ref = stats.chisquare([1000, 4500, 4500], f_exp=[10_000 / 3] * 3)
    assert abs(equal.srm_p_value - ref.pvalue) < 1e-9


def test_named_control_and_absolute_intervals() -> None:
    r = readout(ARMS, control="C", difference_type="absolute")
    assert r.control == "C" and [a.variant for a in r.arms] == ["A", "B", "D"]
    assert all((a.ci_low, a.ci_high) == (a.ci_abs_low, a.ci_abs_high) for a in r.arms)


def test_bayesian_and_sequential_readouts_fill_their_fields() -> None:
    b = readout(ARMS, method="bayesian")
    ref = beta_binomial_test(ARMS["A"], ARMS["B"])
    assert b.arms[0].chance_to_beat_control == ref.chance_to_beat_control
    assert b.arms[0].p_value is None and b.arms[0].expected_loss == ref.expected_loss
    s = readout(ARMS, method="sequential", tuning_n=20_000)
    ref_s = sequential_test(ARMS["A"], ARMS["B"], tuning_n=20_000)
    assert s.arms[0].p_value == ref_s.p_value and s.tuning_n == 20_000
    assert s.arms[0].chance_to_beat_control is None


def test_revenue_readout_uses_welch_equal_to_scipy() -> None:
    arms = {
        "A": SampleMeanStatistic(800, 960.0, 30_000.0),
        "B": SampleMeanStatistic(820, 1100.0, 36_000.0),
    }
    r = readout(arms)
    c, t = arms["A"], arms["B"]
    ref = stats.ttest_ind_from_stats(
        t.mean, math.sqrt(t.variance), t.n, c.mean, math.sqrt(c.variance), c.n, equal_var=False
    )
    assert abs(r.arms[0].p_value - ref.pvalue) < 1e-9
    assert r.metric == "mean"


def test_readout_serialises_to_strict_json_with_required_keys() -> None:
    for method in ("frequentist", "bayesian", "sequential"):
        data = to_jsonable(readout(ARMS, method=method))  # type: ignore[arg-type]
        text = json.dumps(data, allow_nan=False)
        parsed = json.loads(text)
        assert list(parsed)[0] == "srm_p_value"
        assert all(REQUIRED <= set(a) for a in parsed["arms"])


def test_readout_input_errors() -> None:
    with pytest.raises(ValueError, match="method must be"):
        readout(ARMS, method="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not one of the arms"):
        readout(ARMS, control="Z")
    with pytest.raises(ValueError, match="one weight per arm"):
        readout(ARMS, weights=[1, 1])


def test_small_arms_are_warned_about() -> None:
    r = readout({"A": ProportionStatistic(20, 2), "B": ProportionStatistic(25, 5)})
    assert any("only 20 units" in w for w in r.warnings)
