"""Bayesian readouts: Evan Miller's exact formula (50-digit decimals) and Monte Carlo."""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

import numpy as np
import pytest
from scipy import stats

from smsanalytics.experiments import (
    BetaPrior,
    ProportionStatistic,
    SampleMeanStatistic,
    beta_binomial_test,
    beta_expected_loss,
    normal_model_test,
    prob_beta_greater,
    welch_ttest,
)


def miller_prob_greater(a_x: int, b_x: int, a_y: int, b_y: int) -> float:
    """P(X > Y) for X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y), integer parameters.

    Evan Miller (2015), "Formulas for Bayesian A/B testing":
    P(p_B > p_A) = sum_{i=0}^{a_B-1} B(a_A+i, b_A+b_B) / ((b_B+i) B(1+i, b_B) B(a_A, b_A)),
    evaluated exactly in 50-digit decimals via the term ratio
    t_{i+1}/t_i = (a_A+i)(b_B+i) / ((a_A+b_A+b_B+i)(1+i)) and
    t_0 = B(a_A, b_A+b_B)/B(a_A, b_A) = prod_{j<b_B} (b_A+j)/(a_A+b_A+j).
    """
    getcontext().prec = 50
    a_a, b_a, a_b, b_b = map(Decimal, (a_y, b_y, a_x, b_x))
    term = Decimal(1)
    for j in range(b_x):
        term *= (b_a + j) / (a_a + b_a + j)
    total = Decimal(0)
    for i in range(a_x):
        total += term
        term *= (a_a + i) * (b_b + i) / ((a_a + b_a + b_b + i) * (1 + i))
    return float(total)


CASES = [
    (1000, 50, 1000, 70),
    (20, 0, 20, 1),
    (5000, 400, 4800, 380),
    (100_000, 2000, 100_000, 2100),
]


@pytest.mark.parametrize(("nc", "xc", "nt", "xt"), CASES)
def test_chance_to_beat_control_equals_evan_miller_closed_form(nc, xc, nt, xt) -> None:  # noqa: ANN001
    r = beta_binomial_test(ProportionStatistic(nc, xc), ProportionStatistic(nt, xt))
    exact = miller_prob_greater(1 + xt, 1 + nt - xt, 1 + xc, 1 + nc - xc)
    assert abs(r.chance_to_beat_control - exact) < 1e-9


@pytest.mark.parametrize(("nc", "xc", "nt", "xt"), CASES[:3])
def test_expected_loss_equals_closed_form_and_monte_carlo(nc, xc, nt, xt) -> None:  # noqa: ANN001
    ac, bc, at, bt = 1 + xc, 1 + nc - xc, 1 + xt, 1 + nt - xt
    loss = beta_expected_loss(at, bt, ac, bc)  # E[max(p_c - p_t, 0)]
    # closed form (Stucchio 2015) with each probability from Miller's exact sum
    exact = ac / (ac + bc) * miller_prob_greater(ac + 1, bc, at, bt) - at / (
        at + bt
    ) * miller_prob_greater(ac, bc, at + 1, bt)
    assert abs(loss - exact) < 1e-9
    rng = np.random.default_rng(11)
    draws_c, draws_t = rng.beta(ac, bc, 400_000), rng.beta(at, bt, 400_000)
    mc = np.maximum(draws_c - draws_t, 0.0)
    assert abs(loss - mc.mean()) < 5 * mc.std() / math.sqrt(mc.size)


def test_credible_intervals_match_monte_carlo_quantiles() -> None:
    c, t = ProportionStatistic(2000, 60), ProportionStatistic(2000, 80)
    r = beta_binomial_test(c, t, ci_level=0.9)
    rng = np.random.default_rng(5)
    pc, pt = rng.beta(61, 1941, 1_000_000), rng.beta(81, 1921, 1_000_000)
    diff, rel = pt - pc, pt / pc - 1

    def within_mc_quantile_band(value: float, draws: np.ndarray, q: float) -> bool:
        # distribution-free 4-sigma band for the q-quantile:
        # order statistics at n q -+ 4 sqrt(n q (1-q))
        srt = np.sort(draws)
        half = 4 * math.sqrt(draws.size * q * (1 - q))
        lo, hi = int(draws.size * q - half), int(math.ceil(draws.size * q + half))
        return bool(srt[lo] <= value <= srt[hi])

    assert within_mc_quantile_band(r.ci_abs_low, diff, 0.05)
    assert within_mc_quantile_band(r.ci_abs_high, diff, 0.95)
    assert within_mc_quantile_band(r.ci_rel_low, rel, 0.05)
    assert within_mc_quantile_band(r.ci_rel_high, rel, 0.95)
    assert r.chance_to_beat_control == pytest.approx((diff > 0).mean(), abs=5e-3)


def test_non_integer_priors_symmetry_and_monte_carlo() -> None:
    # Jeffreys prior Beta(1/2, 1/2): densities singular at 0; identical posteriors give exactly 1/2
    assert prob_beta_greater(0.5, 100.5, 0.5, 100.5) == pytest.approx(0.5, abs=1e-12)
    p = prob_beta_greater(0.5, 100.5, 0.5, 300.5)
    rng = np.random.default_rng(21)
    draws = rng.beta(0.5, 100.5, 2_000_000) > rng.beta(0.5, 300.5, 2_000_000)
    assert abs(p - draws.mean()) < 5 * math.sqrt(p * (1 - p) / draws.size)


def test_probabilities_are_complementary_and_prior_is_used() -> None:
    p = prob_beta_greater(31.5, 970.0, 20.2, 990.0)
    q = prob_beta_greater(20.2, 990.0, 31.5, 970.0)
    assert p + q == pytest.approx(1.0, abs=1e-12)
    flat = beta_binomial_test(ProportionStatistic(10, 1), ProportionStatistic(10, 3))
    strong = beta_binomial_test(
        ProportionStatistic(10, 1), ProportionStatistic(10, 3), prior=BetaPrior(50, 950)
    )
    assert strong.control_params == (51.0, 959.0)
    assert strong.chance_to_beat_control < flat.chance_to_beat_control
    with pytest.raises(ValueError, match="prior parameters"):
        BetaPrior(0.0, 1.0)


def test_normal_model_closed_forms_and_monte_carlo_loss() -> None:
    c, t = SampleMeanStatistic(900, 1080.0, 40_000.0), SampleMeanStatistic(950, 1300.0, 47_000.0)
    r = normal_model_test(c, t)
    delta = t.mean - c.mean
    sd = math.sqrt(c.variance / c.n + t.variance / t.n)
    assert abs(r.chance_to_beat_control - stats.norm.cdf(delta / sd)) < 1e-12
    draws = np.random.default_rng(3).normal(delta, sd, 1_000_000)
    loss = np.maximum(-draws, 0)
    assert abs(r.expected_loss - loss.mean()) < 5 * loss.std() / 1000
    gain = np.maximum(draws, 0)
    assert abs(r.expected_loss_control - gain.mean()) < 5 * gain.std() / 1000
    # flat prior: the credible interval is the large-sample z interval
    w = welch_ttest(c, t)
    z = stats.norm.isf(0.025)
    assert r.ci_abs_low == pytest.approx(delta - z * w.se_abs, rel=1e-12)
