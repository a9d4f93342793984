"""Anytime-valid confidence sequences: formulas, duality, and a seeded A/A peeking simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from smsanalytics.experiments import (
    ProportionStatistic,
    SampleMeanStatistic,
    confidence_sequence,
    sequential_test,
    simulate_aa_peeking,
    two_proportion_ztest,
)
from smsanalytics.experiments.sequential import (
    mixture_halfwidth,
    msprt_log_likelihood_ratio,
    optimal_mixing_ratio,
    peeking_decisions,
)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_optimal_mixing_ratio_minimises_the_halfwidth(alpha: float) -> None:
    r = optimal_mixing_ratio(alpha)
    assert r == pytest.approx(2 * math.log(1 / alpha) + math.log1p(r), rel=1e-12)
    best = optimize.minimize_scalar(
        lambda x: float(mixture_halfwidth(1.0, x, alpha)),
        bounds=(0.01, 1000),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert r == pytest.approx(best.x, rel=1e-4)


def test_msprt_equals_johari_et_al_two_sample_normal_formula() -> None:
    """Johari et al. (2017), two-sample normal mSPRT with n per arm, variance sigma^2, mixing tau^2:
    Lambda_n = sqrt(2 s2 / (2 s2 + n tau2))
               * exp(n^2 tau2 (ybar - xbar)^2 / (4 s2 (2 s2 + n tau2)))."""
    s2, tau2 = 0.7, 0.01
    for n, diff in [(100, 0.1), (2000, 0.05), (50_000, -0.02)]:
        johari = 0.5 * math.log(2 * s2 / (2 * s2 + n * tau2)) + n**2 * tau2 * diff**2 / (
            4 * s2 * (2 * s2 + n * tau2)
        )
        v = 2 * s2 / n
        ours = msprt_log_likelihood_ratio(diff, v, tau2 / v)
        assert ours == pytest.approx(johari, rel=1e-12, abs=1e-15)


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(200, 50_000),
    rc=st.floats(0.01, 0.3),
    lift=st.floats(-0.5, 0.5),
    tuning=st.sampled_from([1000, 5000, 100_000]),
)
def test_p_value_below_alpha_iff_zero_outside_sequence(
    n: int, rc: float, lift: float, tuning: int
) -> None:
    c = ProportionStatistic(n, round(n * rc))
    t = ProportionStatistic(n, min(n, round(n * rc * (1 + lift))))
    r = sequential_test(c, t, alpha=0.05, tuning_n=tuning)
    excluded = r.ci_abs_low > 0 or r.ci_abs_high < 0
    if abs(r.p_value - 0.05) > 1e-9:  # skip exact ties
        assert (r.p_value <= 0.05) == excluded
    fixed = two_proportion_ztest(c, t)
    assert r.ci_abs_high - r.ci_abs_low >= fixed.ci_abs_high - fixed.ci_abs_low


def test_vectorised_peeking_decisions_equal_the_scalar_tests() -> None:
    rng = np.random.default_rng(2)
    conv_c = rng.binomial(300, 0.05, size=(40, 10)).cumsum(axis=1)
    conv_t = rng.binomial(300, 0.06, size=(40, 10)).cumsum(axis=1)
    n = 300 * np.arange(1, 11)
    naive, seq = peeking_decisions(conv_c, conv_t, n, alpha=0.05, tuning_n=6000)
    for i in range(40):
        for j in range(10):
            c, t = (
                ProportionStatistic(int(n[j]), int(conv_c[i, j])),
                ProportionStatistic(int(n[j]), int(conv_t[i, j])),
            )
            assert naive[i, j] == (two_proportion_ztest(c, t).p_value < 0.05)
            assert seq[i, j] == (sequential_test(c, t, alpha=0.05, tuning_n=6000).p_value <= 0.05)


def test_aa_daily_peeking_sequential_stays_below_alpha_naive_exceeds_it() -> None:
    """Seeded A/A: 4000 runs x 20 daily looks, 300 contacts per arm per day, 5 % conversion.

    The confidence sequence's false-positive rate must be <= alpha within simulation error, the
    fixed-horizon z-test looked at daily must exceed alpha, and looked at once it is ~alpha.
    Full-size figures (20 000 runs x 28 days) are in docs/experiments.md.
    """
    sim = simulate_aa_peeking(
        n_sims=4000, days=20, daily_n_per_arm=300, baseline_rate=0.05, alpha=0.05, seed=7
    )
    assert sim.reject_sequential <= 0.05 + 3 * sim.se_sequential
    assert sim.reject_naive_peeking > 0.05 + 3 * sim.se_naive_peeking
    assert sim.reject_naive_peeking > 2 * 0.05  # not a marginal excess: daily peeking over 20 looks
    assert abs(sim.reject_fixed_horizon - 0.05) < 4 * math.sqrt(0.05 * 0.95 / sim.n_sims)


def test_sequential_has_power_against_a_real_effect() -> None:
    sim = simulate_aa_peeking(
        n_sims=1000, days=20, daily_n_per_arm=500, relative_effect=0.3, seed=3
    )
    assert sim.reject_sequential > 0.7


def test_confidence_sequence_frame_running_min_p_value() -> None:
    looks = [
        (
            SampleMeanStatistic(100 * k, 120.0 * k, 900.0 * k),
            SampleMeanStatistic(100 * k, 135.0 * k, 1000.0 * k),
        )
        for k in range(1, 8)
    ]
    frame = confidence_sequence(looks, labels=[f"day {k}" for k in range(1, 8)])
    assert frame.height == 7 and frame["look"][0] == "day 1"
    p = frame["p_value"].to_numpy()
    assert np.all(np.diff(p) <= 0)
    width = (frame["ci_abs_high"] - frame["ci_abs_low"]).to_numpy()
    naive = (frame["naive_ci_abs_high"] - frame["naive_ci_abs_low"]).to_numpy()
    assert np.all(width > naive)
    with pytest.raises(ValueError, match="at least one look"):
        confidence_sequence([])
