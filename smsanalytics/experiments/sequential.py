"""Sequential testing: anytime-valid confidence sequences (Gaussian-mixture mSPRT).

A fixed-horizon test is only valid if it is looked at once. An analyst who checks the readout
every day and stops at the first "significant" day inflates the false-positive rate far above
:math:`\\alpha` (see :func:`simulate_aa_peeking`). The confidence sequence below holds
*simultaneously* for every look, so the analyst may look as often as they like and stop whenever.

Method
------
Let :math:`\\hat\\Delta_n` be the estimated lift after :math:`N` units (both arms) and :math:`V_n`
its variance (:class:`~smsanalytics.experiments.effects.EffectEstimate`). The mixture
sequential probability ratio test (mSPRT) with a normal mixing distribution :math:`N(0,\\tau^2)`
over the effect has likelihood ratio

.. math::
    \\Lambda_n(\\theta_0) = \\sqrt{\\frac{V_n}{V_n + \\tau^2}}
        \\exp\\left(\\frac{\\tau^2 (\\hat\\Delta_n - \\theta_0)^2}{2 V_n (V_n + \\tau^2)}\\right),

a nonnegative martingale under :math:`H_0: \\Delta = \\theta_0`, so by Ville's inequality
:math:`P(\\exists n: \\Lambda_n \\ge 1/\\alpha) \\le \\alpha`. Inverting it gives the confidence
sequence, with :math:`r = \\tau^2 / V_n`,

.. math::
    \\hat\\Delta_n \\pm \\sqrt{V_n \\left(1 + \\frac1r\\right)
                             \\left(2\\log\\frac1\\alpha + \\log(1 + r)\\right)},

and the anytime-valid p-value :math:`p_n = \\min(1, 1/\\Lambda_n(0))` (:math:`p_n \\le \\alpha`
exactly when 0 is outside the sequence). Over a series of looks the running minimum of
:math:`p_n` is still valid.

Tuning. :math:`\\tau^2` is set so that the sequence is tightest at a planned total sample size
:math:`N^*` (``tuning_n``): with :math:`\\sigma^2 = N V_n` the per-unit variance of the lift,
:math:`\\tau^2 = r^* \\sigma^2/N^*`, i.e. :math:`r = r^* N / N^*`, where :math:`r^*` minimises
the half-width :math:`(1 + 1/r)(2\\log(1/\\alpha) + \\log(1+r))`: it solves
:math:`r = 2\\log(1/\\alpha) + \\log(1 + r)`, so :math:`r^* = -W_{-1}(-\\alpha^2/e) - 1`
(Lambert W, lower branch; about 8.21 for :math:`\\alpha = 0.05`). This is the
"best :math:`\\rho^2`" of Waudby-Smith et al.'s asymptotic confidence sequences, with
:math:`\\rho^2 = r^*/N^*` (GrowthBook uses the approximation
:math:`r^* \\approx -2\\log\\alpha + \\log(1 - 2\\log\\alpha)`).

The variance is estimated from the data (plug-in), which makes the guarantee asymptotic
(Waudby-Smith et al. 2023); :func:`simulate_aa_peeking` checks it on daily A/A data.

References
----------
Johari, Koomen, Pekelis & Walsh (2017), "Peeking at A/B tests: why it matters, and what to do about
it", KDD. Howard, Ramdas, McAuliffe & Sekhon (2021), "Time-uniform, nonparametric, nonasymptotic
confidence sequences", Annals of Statistics 49(2). Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas
(2023), "Time-uniform central limit theory and asymptotic confidence sequences", arXiv:2103.06476.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import special, stats

from smsanalytics.experiments.effects import EffectEstimate, estimate_effect
from smsanalytics.experiments.stats import Statistic

__all__ = [
    "SequentialResult",
    "PeekingSimulation",
    "DEFAULT_TUNING_N",
    "optimal_mixing_ratio",
    "mixture_halfwidth",
    "msprt_log_likelihood_ratio",
    "sequential_test",
    "confidence_sequence",
    "simulate_aa_peeking",
    "peeking_decisions",
]

#: Default total sample size (both arms) at which the confidence sequence is tightest.
DEFAULT_TUNING_N = 5000

ALPHA_MESSAGE = "alpha must lie in (0, 1), got {alpha!r}"
TUNING_MESSAGE = "tuning_n must be > 0, got {n!r}"
LOOKS_MESSAGE = "confidence_sequence needs at least one look; got none"


def _check(alpha: float, tuning_n: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(ALPHA_MESSAGE.format(alpha=alpha))
    if not tuning_n > 0:
        raise ValueError(TUNING_MESSAGE.format(n=tuning_n))


def optimal_mixing_ratio(alpha: float) -> float:
    """:math:`r^* = -W_{-1}(-\\alpha^2/e) - 1`, the :math:`\\tau^2/V` minimising the half-width.

    It is the root of :math:`r = 2\\log(1/\\alpha) + \\log(1+r)` (set the derivative of
    :math:`(1 + 1/r)(2\\log(1/\\alpha) + \\log(1+r))` to zero).

    Examples
    --------
    >>> round(optimal_mixing_ratio(0.05), 4)
    8.212
    """
    if not 0 < alpha < 1:
        raise ValueError(ALPHA_MESSAGE.format(alpha=alpha))
    return float(-special.lambertw(-(alpha**2) / math.e, k=-1).real - 1.0)


def mixture_halfwidth(
    variance: float | np.ndarray, r: float | np.ndarray, alpha: float
) -> float | np.ndarray:
    """Half-width of the confidence sequence,
    :math:`\\sqrt{V (1 + 1/r)(2\\log(1/\\alpha) + \\log(1+r))}`.

    Parameters
    ----------
    variance
        :math:`V_n`, the variance of the estimate at this look.
    r
        :math:`\\tau^2 / V_n`.
    alpha
        Error rate over all looks.
    """
    return np.sqrt(variance * (1.0 + 1.0 / r) * (2.0 * math.log(1.0 / alpha) + np.log1p(r)))


def msprt_log_likelihood_ratio(
    estimate: float | np.ndarray,
    variance: float | np.ndarray,
    r: float | np.ndarray,
    null: float = 0.0,
) -> float | np.ndarray:
    """Log mixture likelihood ratio,
    :math:`\\log \\Lambda_n(\\theta_0) = -\\tfrac12\\log(1 + r)
    + \\frac{r (\\hat\\Delta - \\theta_0)^2}{2 V (1 + r)}`."""
    return -0.5 * np.log1p(r) + r * (estimate - null) ** 2 / (2.0 * variance * (1.0 + r))


@dataclass(frozen=True)
class SequentialResult:
    """Anytime-valid readout of a treatment against the control at one look.

    Attributes
    ----------
    control_mean, treatment_mean, lift_abs, lift_rel
        Point estimates (CUPED-adjusted when ``variance_reduction`` is set).
    ci_abs_low, ci_abs_high, ci_rel_low, ci_rel_high
        Confidence-sequence bounds at this look (valid simultaneously over all looks).
    p_value
        Anytime-valid p-value :math:`\\min(1, 1/\\Lambda_n(0))` for the absolute lift.
    alpha, tuning_n, mixing_ratio
        Error rate, tuning sample size :math:`N^*` and :math:`r = \\tau^2/V_n` at this look.
    n_total
        Units in both arms at this look.
    variance_reduction
        CUPED variance reduction, ``None`` without CUPED.
    """

    control_mean: float
    treatment_mean: float
    lift_abs: float
    lift_rel: float
    ci_abs_low: float
    ci_abs_high: float
    ci_rel_low: float
    ci_rel_high: float
    p_value: float
    alpha: float
    tuning_n: float
    mixing_ratio: float
    n_total: int
    variance_reduction: float | None = None


def _from_effect(eff: EffectEstimate, *, alpha: float, tuning_n: float) -> SequentialResult:
    n_total = eff.n_control + eff.n_treatment
    r = optimal_mixing_ratio(alpha) * n_total / tuning_n
    v_abs, v_rel = eff.variance_abs, eff.variance_rel
    if v_abs > 0:
        hw_abs = float(mixture_halfwidth(v_abs, r, alpha))
        log_lr = float(msprt_log_likelihood_ratio(eff.lift_abs, v_abs, r))
        p_value = min(1.0, math.exp(-log_lr)) if log_lr > -700 else 1.0
    else:
        hw_abs = 0.0
        p_value = 1.0 if eff.lift_abs == 0 else 0.0
    hw_rel = float(mixture_halfwidth(v_rel, r, alpha)) if math.isfinite(v_rel) else math.nan
    return SequentialResult(
        control_mean=eff.control_mean,
        treatment_mean=eff.treatment_mean,
        lift_abs=eff.lift_abs,
        lift_rel=eff.lift_rel,
        ci_abs_low=eff.lift_abs - hw_abs,
        ci_abs_high=eff.lift_abs + hw_abs,
        ci_rel_low=eff.lift_rel - hw_rel,
        ci_rel_high=eff.lift_rel + hw_rel,
        p_value=p_value,
        alpha=alpha,
        tuning_n=tuning_n,
        mixing_ratio=r,
        n_total=n_total,
        variance_reduction=eff.variance_reduction,
    )


def sequential_test(
    control: Statistic,
    treatment: Statistic,
    *,
    alpha: float = 0.05,
    tuning_n: float = DEFAULT_TUNING_N,
    cuped: bool = True,
) -> SequentialResult:
    """Anytime-valid confidence sequence and p-value at the current look.

    Parameters
    ----------
    control, treatment
        Cumulative arm statistics at this look.
    alpha
        Error rate, controlled over *all* looks.
    tuning_n
        Total units (both arms) at which the interval is tightest; fix it before the test starts
        (e.g. the planned sample size). Default 5000.
    cuped
        Use CUPED-adjusted estimates when the arms carry a covariate.

    Returns
    -------
    SequentialResult
        The formulas are in the module docstring.
    """
    _check(alpha, tuning_n)
    eff = estimate_effect(control, treatment, cuped=cuped)
    return _from_effect(eff, alpha=alpha, tuning_n=tuning_n)


def confidence_sequence(
    looks: Sequence[tuple[Statistic, Statistic]],
    *,
    alpha: float = 0.05,
    tuning_n: float = DEFAULT_TUNING_N,
    cuped: bool = True,
    labels: Sequence[object] | None = None,
) -> pl.DataFrame:
    """The confidence sequence over a series of looks (e.g. one per day), for charting.

    Parameters
    ----------
    looks
        ``(control, treatment)`` cumulative statistics, one pair per look, in time order.
    alpha, tuning_n, cuped
        As in :func:`sequential_test`.
    labels
        Optional label per look (a date, a day number); default ``1, 2, ...``.

    Returns
    -------
    polars.DataFrame
        One row per look: ``look, n_total, lift_abs, ci_abs_low, ci_abs_high, lift_rel,
        ci_rel_low, ci_rel_high, p_value`` (the running minimum of the anytime-valid p-values)
        and ``naive_p_value`` (the fixed-horizon test at that look, invalid under peeking;
        shown for comparison).
    """
    from smsanalytics.experiments.frequentist import frequentist_test

    _check(alpha, tuning_n)
    if len(looks) == 0:
        raise ValueError(LOOKS_MESSAGE)
    rows = []
    running = 1.0
    for i, (c, t) in enumerate(looks):
        res = sequential_test(c, t, alpha=alpha, tuning_n=tuning_n, cuped=cuped)
        running = min(running, res.p_value)
        naive = frequentist_test(c, t, alpha=alpha, cuped=cuped)
        rows.append(
            {
                "look": labels[i] if labels is not None else i + 1,
                "n_total": res.n_total,
                "lift_abs": res.lift_abs,
                "ci_abs_low": res.ci_abs_low,
                "ci_abs_high": res.ci_abs_high,
                "lift_rel": res.lift_rel,
                "ci_rel_low": res.ci_rel_low,
                "ci_rel_high": res.ci_rel_high,
                "p_value": running,
                "naive_p_value": naive.p_value,
                "naive_ci_abs_low": naive.ci_abs_low,
                "naive_ci_abs_high": naive.ci_abs_high,
            }
        )
    return pl.DataFrame(rows)


@dataclass(frozen=True)
class PeekingSimulation:
    """Result of :func:`simulate_aa_peeking`.

    Attributes
    ----------
    n_sims, days, daily_n_per_arm, baseline_rate, relative_effect, alpha, tuning_n, seed
        The simulation's settings.
    reject_sequential, se_sequential
        Share of runs in which the confidence sequence excluded 0 at *any* daily look, and its
        Monte Carlo standard error :math:`\\sqrt{\\hat p(1-\\hat p)/n_{sims}}`.
    reject_naive_peeking, se_naive_peeking
        Same for the fixed-horizon z-test looked at daily ("stop at the first p < alpha").
    reject_fixed_horizon, se_fixed_horizon
        The z-test looked at once, on the last day (should be about ``alpha`` when the effect is 0).
    """

    n_sims: int
    days: int
    daily_n_per_arm: int
    baseline_rate: float
    relative_effect: float
    alpha: float
    tuning_n: float
    seed: int
    reject_sequential: float
    se_sequential: float
    reject_naive_peeking: float
    se_naive_peeking: float
    reject_fixed_horizon: float
    se_fixed_horizon: float


def peeking_decisions(
    conv_c: np.ndarray, conv_t: np.ndarray, n: np.ndarray, *, alpha: float, tuning_n: float
) -> tuple[np.ndarray, np.ndarray]:
    """Reject decisions of the naive z-test and the confidence sequence at every look, vectorised.

    Parameters
    ----------
    conv_c, conv_t
        Cumulative conversions, shape ``(runs, looks)``.
    n
        Units per arm at each look, shape ``(looks,)`` (equal arms).
    alpha, tuning_n
        As in :func:`sequential_test`.

    Returns
    -------
    (naive_reject, sequential_reject)
        Boolean arrays of shape ``(runs, looks)``: pooled two-sided z-test ``p < alpha``
        (as :func:`~smsanalytics.experiments.frequentist.two_proportion_ztest`) and 0 outside the
        confidence sequence (as :func:`sequential_test`, ``p_value <= alpha``).
    """
    n = np.asarray(n, dtype=float)
    pc, pt = conv_c / n, conv_t / n
    diff = pt - pc
    pooled = (conv_c + conv_t) / (2.0 * n)
    var0 = pooled * (1.0 - pooled) * (2.0 / n)
    var1 = pc * (1.0 - pc) / n + pt * (1.0 - pt) / n
    z_crit = stats.norm.isf(alpha / 2)
    z = np.abs(diff) / np.sqrt(np.where(var0 > 0, var0, 1.0))
    naive_reject = (var0 > 0) & (z > z_crit)
    r = optimal_mixing_ratio(alpha) * (2.0 * n) / tuning_n
    log_lr = msprt_log_likelihood_ratio(diff, np.where(var1 > 0, var1, 1.0), r)
    seq_reject = (var1 > 0) & (log_lr >= math.log(1.0 / alpha))
    return naive_reject, seq_reject


def simulate_aa_peeking(
    *,
    n_sims: int = 20_000,
    days: int = 28,
    daily_n_per_arm: int = 500,
    baseline_rate: float = 0.05,
    relative_effect: float = 0.0,
    alpha: float = 0.05,
    tuning_n: float | None = None,
    seed: int = 20240601,
) -> PeekingSimulation:
    """Seeded simulation of daily peeking at a conversion-rate test.

    Each run adds ``daily_n_per_arm`` contacts per arm per day for ``days`` days, conversions
    Binomial with rate ``baseline_rate`` (times ``1 + relative_effect`` in the treatment). At every
    daily look it evaluates the pooled z-test
    (:func:`~smsanalytics.experiments.frequentist.two_proportion_ztest`) and the confidence
    sequence (:func:`sequential_test`), with the exact formulas of those functions vectorised
    over runs.

    With ``relative_effect=0`` (an A/A test) the rejection rates are false-positive rates: the
    sequential one stays at or below ``alpha`` while the naive daily-peeking one exceeds it.

    Parameters
    ----------
    tuning_n
        Default: the total sample size at the last look, ``2 * days * daily_n_per_arm``.
    """
    if tuning_n is None:
        tuning_n = 2 * days * daily_n_per_arm
    _check(alpha, tuning_n)
    rng = np.random.default_rng(seed)
    p_t = baseline_rate * (1.0 + relative_effect)
    conv_c = rng.binomial(daily_n_per_arm, baseline_rate, size=(n_sims, days)).cumsum(axis=1)
    conv_t = rng.binomial(daily_n_per_arm, p_t, size=(n_sims, days)).cumsum(axis=1)
    n = daily_n_per_arm * np.arange(1, days + 1, dtype=np.int64)  # per arm, at each look
    naive_reject, seq_reject = peeking_decisions(conv_c, conv_t, n, alpha=alpha, tuning_n=tuning_n)

    def rate(x: np.ndarray) -> tuple[float, float]:
        p = float(x.mean())
        return p, math.sqrt(p * (1.0 - p) / n_sims)

    rs, ss = rate(seq_reject.any(axis=1))
    rn, sn = rate(naive_reject.any(axis=1))
    rf, sf = rate(naive_reject[:, -1])
    return PeekingSimulation(
        n_sims=n_sims,
        days=days,
        daily_n_per_arm=daily_n_per_arm,
        baseline_rate=baseline_rate,
        relative_effect=relative_effect,
        alpha=alpha,
        tuning_n=float(tuning_n),
        seed=seed,
        reject_sequential=rs,
        se_sequential=ss,
        reject_naive_peeking=rn,
        se_naive_peeking=sn,
        reject_fixed_horizon=rf,
        se_fixed_horizon=sf,
    )
