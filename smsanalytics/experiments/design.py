"""Experiment design: power, sample size, minimum detectable effect; hash assignment; holdouts.

Power and sample size
---------------------
Each treatment arm is compared with the control. For :math:`k` arms (control included) and
``correction="bonferroni"`` each of the :math:`k-1` comparisons is run at
:math:`\\alpha' = \\alpha/(k-1)` (conservative for the Holm and Benjamini-Hochberg corrections
used in the readout). Allocation weights :math:`w_0, \\dots, w_{k-1}` (control first) give
:math:`n_j = w_j N`; the total :math:`N` is the smallest for which *every* comparison reaches the
target power.

Two-sided power with critical value :math:`z = z_{1-\\alpha'/2}` (the far tail is included):

- **conversion rate, ``method="normal"``** (default; the z-test of the readout): pooled variance
  under the null, unpooled under the alternative,

  .. math::
      \\pi = \\Phi\\left(\\frac{\\delta - z\\,\\sigma_0}{\\sigma_1}\\right)
           + \\Phi\\left(\\frac{-\\delta - z\\,\\sigma_0}{\\sigma_1}\\right),\\quad
      \\sigma_0^2 = \\bar p(1-\\bar p)\\left(\\tfrac1{n_t} + \\tfrac1{n_c}\\right),\\quad
      \\sigma_1^2 = \\tfrac{p_t(1-p_t)}{n_t} + \\tfrac{p_c(1-p_c)}{n_c},

  :math:`\\delta = p_t - p_c`, :math:`\\bar p = (n_t p_t + n_c p_c)/(n_t + n_c)`. Equals
  ``statsmodels.stats.proportion.power_proportions_2indep``.
- **conversion rate, ``method="arcsine"``**: Cohen's
  :math:`h = 2\\arcsin\\sqrt{p_t} - 2\\arcsin\\sqrt{p_c}`,
  :math:`\\pi = \\Phi(h\\sqrt{n_e} - z) + \\Phi(-h\\sqrt{n_e} - z)`,
  :math:`n_e = (1/n_t + 1/n_c)^{-1}`. Equals
  ``NormalIndPower().power(proportion_effectsize(p_t, p_c), ...)``.
- **mean, ``method="t"``** (default): noncentral t with :math:`\\nu = n_t + n_c - 2` and
  noncentrality :math:`d\\sqrt{n_e}`, :math:`d = \\delta/\\sigma`. Equals ``TTestIndPower().power``.
- **mean, ``method="normal"``**: :math:`\\Phi(d\\sqrt{n_e} - z) + \\Phi(-d\\sqrt{n_e} - z)`;
  equals ``NormalIndPower().power``.

Assignment
----------
:func:`assign_arms` maps ``(salt, contact_id)`` to a uniform number in [0, 1) with a keyed 64-bit
integer hash (two rounds of the MurmurHash3 ``fmix64`` finaliser, keyed by the BLAKE2b digest of
the salt), and the uniform number to an arm by the cumulative weights. The map is pure integer
arithmetic, identical on every machine and Python/numpy version, vectorised (a million ids in
milliseconds), and depends on nothing but ``(salt, contact_id)``: contacts added later never move
existing contacts. :func:`global_holdout` uses the same hash with a programme-wide salt, so the
holdout is the same set of contacts in every campaign, and raising its share only adds contacts.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from scipy import optimize, special, stats

from smsanalytics.experiments.srm import normalise_weights

__all__ = [
    "ProportionMethod",
    "MeanMethod",
    "MdeType",
    "DesignCorrection",
    "DesignResult",
    "power_proportion",
    "power_mean",
    "sample_size_proportion",
    "sample_size_mean",
    "mde_proportion",
    "mde_mean",
    "GLOBAL_HOLDOUT_SALT",
    "GLOBAL_HOLDOUT_VARIANT",
    "hash_unit",
    "global_holdout",
    "assign_arms",
]

#: Power formula for a conversion rate: pooled/unpooled normal approximation or arcsine (Cohen's h).
ProportionMethod = Literal["normal", "arcsine"]
#: Power formula for a mean: noncentral t (pooled-variance t-test) or normal.
MeanMethod = Literal["t", "normal"]
#: Whether ``mde`` is relative to the baseline (0.1 = +10 %) or absolute (0.005 = +0.5 points).
MdeType = Literal["relative", "absolute"]
#: Multiple-comparison allowance in the design.
DesignCorrection = Literal["bonferroni", "none"]
Alternative = Literal["two-sided", "larger", "smaller"]

ALPHA_MESSAGE = "alpha must lie in (0, 1), got {alpha!r}"
POWER_MESSAGE = "power must lie in (alpha, 1), got power={power!r} with alpha={alpha!r}"
RATE_MESSAGE = "{name} must lie strictly between 0 and 1, got {value!r}"
TREATMENT_RATE_MESSAGE = (
    "baseline rate {p!r} with mde {mde!r} ({kind}) gives a treatment rate {pt!r} outside (0, 1); "
    "use a smaller --mde"
)
MDE_MESSAGE = "mde must be non-zero and finite, got {mde!r}"
MDE_SIGN_MESSAGE = "alternative={alt!r} needs an mde of the matching sign, got {mde!r}"
STD_MESSAGE = "std must be finite and > 0, got {std!r}"
ARMS_MESSAGE = "arms must be an integer >= 2, got {arms!r}"
METHOD_MESSAGE = "method must be one of {allowed}, got {method!r}"
N_MESSAGE = "sample sizes must be >= {k} per arm, got n_control={nc!r}, n_treatment={nt!r}"
MDE_TYPE_MESSAGE = "mde_type must be 'relative' or 'absolute', got {t!r}"
RELATIVE_NEEDS_BASELINE_MESSAGE = "a relative mde needs a non-zero baseline mean, got {b!r}"
NO_MDE_MESSAGE = "no effect size reaches power {power} with N={n}; the design is infeasible"
SHARE_MESSAGE = "share must lie in [0, 1), got {share!r}"
CONTACT_IDS_MESSAGE = "contact_ids must be integers (Int64), got dtype {dtype}"
EMPTY_SALT_MESSAGE = "salt must be a non-empty string (e.g. the campaign id)"


# --------------------------------------------------------------------------------------------
# power


def _check_alpha_power(alpha: float, power: float | None = None) -> None:
    if not 0 < alpha < 1:
        raise ValueError(ALPHA_MESSAGE.format(alpha=alpha))
    if power is not None and not alpha < power < 1:
        raise ValueError(POWER_MESSAGE.format(power=power, alpha=alpha))


def _alpha_side(alpha: float, alternative: Alternative) -> float:
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(
            METHOD_MESSAGE.format(allowed=["two-sided", "larger", "smaller"], method=alternative)
        )
    return alpha / 2.0 if alternative == "two-sided" else alpha


def _normal_power(shift: float, ratio_null: float, crit: float, alternative: Alternative) -> float:
    """:math:`P(Z > c\\,\\rho - s) + P(Z < -c\\,\\rho - s)` for the sides in ``alternative``.

    ``shift`` is :math:`\\delta/\\sigma_1`, ``ratio_null`` is :math:`\\sigma_0/\\sigma_1`.
    """
    power = 0.0
    if alternative in ("two-sided", "larger"):
        power += float(stats.norm.sf(crit * ratio_null - shift))
    if alternative in ("two-sided", "smaller"):
        power += float(stats.norm.cdf(-crit * ratio_null - shift))
    return power


def _check_n(nc: float, nt: float, k: float = 1.0) -> None:
    if not (nc >= k and nt >= k):
        raise ValueError(N_MESSAGE.format(k=k, nc=nc, nt=nt))


def _check_rate(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(RATE_MESSAGE.format(name=name, value=value))


def power_proportion(
    baseline_rate: float,
    treatment_rate: float,
    n_control: float,
    n_treatment: float,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    method: ProportionMethod = "normal",
) -> float:
    """Power of the two-proportion test of a treatment against the control.

    Parameters
    ----------
    baseline_rate, treatment_rate
        :math:`p_c` and :math:`p_t` under the alternative.
    n_control, n_treatment
        Units per arm (may be non-integer while solving).
    alpha
        Level of this one comparison.
    alternative
        ``two-sided``, ``larger`` (:math:`p_t > p_c`) or ``smaller``.
    method
        ``normal`` (equals ``statsmodels.stats.proportion.power_proportions_2indep(p_t - p_c, p_c,
        n_t, ratio=n_c/n_t)``) or ``arcsine`` (equals ``NormalIndPower().power(
        proportion_effectsize(p_t, p_c), n_t, alpha, ratio=n_c/n_t)``). Formulas in the module
        docstring.

    Examples
    --------
    >>> round(power_proportion(0.10, 0.12, 3841, 3841), 3)
    0.8
    """
    _check_alpha_power(alpha)
    _check_rate("baseline_rate", baseline_rate)
    _check_rate("treatment_rate", treatment_rate)
    _check_n(n_control, n_treatment)
    crit = float(stats.norm.isf(_alpha_side(alpha, alternative)))
    pc, pt, nc, nt = baseline_rate, treatment_rate, float(n_control), float(n_treatment)
    if method == "normal":
        pooled = (nt * pt + nc * pc) / (nt + nc)
        sd0 = math.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nc))
        sd1 = math.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)
        return _normal_power((pt - pc) / sd1, sd0 / sd1, crit, alternative)
    if method == "arcsine":
        h = 2 * math.asin(math.sqrt(pt)) - 2 * math.asin(math.sqrt(pc))
        n_eff = 1.0 / (1.0 / nt + 1.0 / nc)
        return _normal_power(h * math.sqrt(n_eff), 1.0, crit, alternative)
    raise ValueError(METHOD_MESSAGE.format(allowed=["normal", "arcsine"], method=method))


def _nct_cdf(df: float, nc: float, x: float) -> float:
    """CDF of the noncentral t, ``scipy.special.nctdtr`` (as statsmodels uses).

    ``nctdtr`` returns NaN deep in a tail (probabilities below ~1e-30); there the normal
    approximation of Abramowitz & Stegun 26.7.10 is used, whose error is irrelevant at that size.
    """
    value = float(special.nctdtr(df, nc, x))
    if math.isnan(value):
        value = float(
            stats.norm.cdf(
                (x * (1.0 - 1.0 / (4.0 * df)) - nc) / math.sqrt(1.0 + x * x / (2.0 * df))
            )
        )
    return value


def power_mean(
    difference: float,
    std: float,
    n_control: float,
    n_treatment: float,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    method: MeanMethod = "t",
) -> float:
    """Power of the two-sample test of a difference in means.

    Parameters
    ----------
    difference
        :math:`\\delta = \\mu_t - \\mu_c` under the alternative.
    std
        Per-unit standard deviation :math:`\\sigma` (assumed common to both arms).
    n_control, n_treatment
        Units per arm.
    alpha, alternative
        As in :func:`power_proportion`.
    method
        ``t`` (equals ``TTestIndPower().power(delta/sigma, n_t, alpha, ratio=n_c/n_t)``) or
        ``normal`` (equals ``NormalIndPower().power(...)``).
    """
    _check_alpha_power(alpha)
    if not (math.isfinite(std) and std > 0):
        raise ValueError(STD_MESSAGE.format(std=std))
    nc, nt = float(n_control), float(n_treatment)
    d = difference / std
    n_eff = 1.0 / (1.0 / nt + 1.0 / nc)
    side = _alpha_side(alpha, alternative)
    if method == "normal":
        _check_n(nc, nt)
        return _normal_power(d * math.sqrt(n_eff), 1.0, float(stats.norm.isf(side)), alternative)
    if method == "t":
        _check_n(nc, nt, k=1.0)
        df = nc + nt - 2.0
        if df <= 0:
            raise ValueError(N_MESSAGE.format(k=1, nc=nc, nt=nt))
        nc_param = d * math.sqrt(n_eff)
        power = 0.0
        if alternative in ("two-sided", "larger"):
            power += 1.0 - _nct_cdf(df, nc_param, float(stats.t.isf(side, df)))
        if alternative in ("two-sided", "smaller"):
            power += _nct_cdf(df, nc_param, float(stats.t.ppf(side, df)))
        return power
    raise ValueError(METHOD_MESSAGE.format(allowed=["t", "normal"], method=method))


# --------------------------------------------------------------------------------------------
# sample size and MDE


@dataclass(frozen=True)
class DesignResult:
    """A sample-size or MDE calculation.

    Attributes
    ----------
    metric
        ``proportion`` (conversion rate) or ``mean`` (e.g. revenue per message).
    method
        Power formula (see the module docstring).
    baseline
        Control rate or mean.
    std
        Per-unit standard deviation (means only).
    mde_abs, mde_rel
        Minimum detectable effect, absolute and relative to ``baseline``.
    treatment_value
        ``baseline + mde_abs``.
    alpha, alpha_per_comparison
        Family-wise level and the level of each treatment-versus-control comparison.
    power
        Target power.
    achieved_power
        Lowest power over the comparisons at the integer sizes ``n_per_arm``.
    alternative, correction
        Settings.
    arms, weights
        Number of arms and the allocation shares (control first).
    n_per_arm, n_total
        Integer units per arm (each rounded up) and their sum.
    n_total_exact
        The continuous total :math:`N` solving the power equation (before rounding).
    """

    metric: Literal["proportion", "mean"]
    method: str
    baseline: float
    std: float | None
    mde_abs: float
    mde_rel: float
    treatment_value: float
    alpha: float
    alpha_per_comparison: float
    power: float
    achieved_power: float
    alternative: Alternative
    correction: DesignCorrection
    arms: int
    weights: tuple[float, ...]
    n_per_arm: tuple[int, ...]
    n_total: int
    n_total_exact: float


def _weights(arms: int, weights: Sequence[float] | None) -> tuple[float, ...]:
    if isinstance(arms, bool) or not isinstance(arms, int) or arms < 2:
        raise ValueError(ARMS_MESSAGE.format(arms=arms))
    return normalise_weights(weights, [str(i) for i in range(arms)])


def _alpha_per_comparison(alpha: float, arms: int, correction: DesignCorrection) -> float:
    if correction == "bonferroni":
        return alpha / (arms - 1)
    if correction == "none":
        return alpha
    raise ValueError(METHOD_MESSAGE.format(allowed=["bonferroni", "none"], method=correction))


def _solve_total(power_at: callable, target: float, n_min: float) -> float:  # type: ignore[valid-type]
    """Smallest continuous N with ``power_at(N) >= target`` (power increases with N)."""
    lo = n_min
    if power_at(lo) >= target:
        return lo
    hi = max(2.0 * lo, 16.0)
    while power_at(hi) < target:
        lo, hi = hi, hi * 2.0
        if hi > 1e15:
            raise ValueError(NO_MDE_MESSAGE.format(power=target, n="> 1e15"))
    return float(
        optimize.brentq(lambda n: power_at(n) - target, lo, hi, xtol=1e-10, rtol=1e-14, maxiter=500)
    )


def _mde_abs(baseline: float, mde: float, mde_type: MdeType) -> float:
    if not (math.isfinite(mde) and mde != 0):
        raise ValueError(MDE_MESSAGE.format(mde=mde))
    if mde_type == "relative":
        if baseline == 0:
            raise ValueError(RELATIVE_NEEDS_BASELINE_MESSAGE.format(b=baseline))
        return mde * baseline
    if mde_type == "absolute":
        return mde
    raise ValueError(MDE_TYPE_MESSAGE.format(t=mde_type))


def _check_sign(delta: float, alternative: Alternative) -> None:
    if (alternative == "larger" and delta < 0) or (alternative == "smaller" and delta > 0):
        raise ValueError(MDE_SIGN_MESSAGE.format(alt=alternative, mde=delta))


def _finish(
    *,
    metric: Literal["proportion", "mean"],
    method: str,
    baseline: float,
    std: float | None,
    delta: float,
    alpha: float,
    alpha_c: float,
    power: float,
    alternative: Alternative,
    correction: DesignCorrection,
    w: tuple[float, ...],
    n_exact: float,
    n_per_arm: tuple[int, ...],
    power_of: callable,  # type: ignore[valid-type]
) -> DesignResult:
    achieved = min(power_of(n_per_arm[0], n_per_arm[j]) for j in range(1, len(w)))
    return DesignResult(
        metric=metric,
        method=method,
        baseline=baseline,
        std=std,
        mde_abs=delta,
        mde_rel=delta / baseline if baseline != 0 else math.nan,
        treatment_value=baseline + delta,
        alpha=alpha,
        alpha_per_comparison=alpha_c,
        power=power,
        achieved_power=achieved,
        alternative=alternative,
        correction=correction,
        arms=len(w),
        weights=w,
        n_per_arm=n_per_arm,
        n_total=int(sum(n_per_arm)),
        n_total_exact=n_exact,
    )


def _sample_size(
    power_of: callable,  # type: ignore[valid-type]
    w: tuple[float, ...],
    power: float,
    n_min_per_arm: float,
) -> tuple[float, tuple[int, ...]]:
    n_min_total = n_min_per_arm / min(w)
    totals = [
        _solve_total(lambda n, j=j: power_of(w[0] * n, w[j] * n), power, n_min_total)
        for j in range(1, len(w))
    ]
    n_exact = max(totals)
    # round each arm up; the 1e-9 guard keeps an exact integer solution from being bumped by one
    n_per_arm = tuple(int(math.ceil(wi * n_exact - 1e-9)) for wi in w)
    return n_exact, n_per_arm


def sample_size_proportion(
    baseline_rate: float,
    mde: float,
    *,
    mde_type: MdeType = "relative",
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    weights: Sequence[float] | None = None,
    alternative: Alternative = "two-sided",
    method: ProportionMethod = "normal",
    correction: DesignCorrection = "bonferroni",
) -> DesignResult:
    """Units needed to detect a change ``mde`` in a conversion rate.

    Parameters
    ----------
    baseline_rate
        Control conversion rate :math:`p_c` (e.g. 0.03).
    mde
        Minimum detectable effect: relative (0.1 = +10 % of the baseline) or absolute
        (0.003 = +0.3 points), see ``mde_type``.
    mde_type
        ``relative`` (default) or ``absolute``.
    alpha, power
        Family-wise significance level and target power of each comparison.
    arms
        Number of arms, control included.
    weights
        Allocation weights, control first (default equal).
    alternative
        ``two-sided`` (default), ``larger`` or ``smaller``.
    method
        ``normal`` (default) or ``arcsine``; formulas in the module docstring.
    correction
        ``bonferroni`` (default: each of the ``arms - 1`` comparisons at ``alpha/(arms-1)``) or
        ``none``.

    Returns
    -------
    DesignResult

    Examples
    --------
    >>> r = sample_size_proportion(0.10, 0.2)     # 10 % -> 12 %
    >>> r.n_per_arm
    (3841, 3841)
    """
    _check_alpha_power(alpha, power)
    _check_rate("baseline_rate", baseline_rate)
    delta = _mde_abs(baseline_rate, mde, mde_type)
    _check_sign(delta, alternative)
    pt = baseline_rate + delta
    if not 0 < pt < 1:
        raise ValueError(
            TREATMENT_RATE_MESSAGE.format(p=baseline_rate, mde=mde, kind=mde_type, pt=pt)
        )
    w = _weights(arms, weights)
    alpha_c = _alpha_per_comparison(alpha, arms, correction)

    def power_of(nc: float, nt: float) -> float:
        return power_proportion(
            baseline_rate, pt, nc, nt, alpha=alpha_c, alternative=alternative, method=method
        )

    n_exact, n_per_arm = _sample_size(power_of, w, power, 1.0)
    return _finish(
        metric="proportion",
        method=method,
        baseline=baseline_rate,
        std=None,
        delta=delta,
        alpha=alpha,
        alpha_c=alpha_c,
        power=power,
        alternative=alternative,
        correction=correction,
        w=w,
        n_exact=n_exact,
        n_per_arm=n_per_arm,
        power_of=power_of,
    )


def sample_size_mean(
    baseline_mean: float,
    std: float,
    mde: float,
    *,
    mde_type: MdeType = "relative",
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    weights: Sequence[float] | None = None,
    alternative: Alternative = "two-sided",
    method: MeanMethod = "t",
    correction: DesignCorrection = "bonferroni",
) -> DesignResult:
    """Units needed to detect a change ``mde`` in a mean (e.g. revenue per message).

    Parameters
    ----------
    baseline_mean
        Control mean :math:`\\mu_c`.
    std
        Per-unit standard deviation :math:`\\sigma` (revenue per message is very skewed: take it
        from past campaigns, it is typically several times the mean).
    mde, mde_type, alpha, power, arms, weights, alternative, correction
        As in :func:`sample_size_proportion`.
    method
        ``t`` (default) or ``normal``.

    Examples
    --------
    >>> sample_size_mean(1.0, 2.0, 1.0, mde_type="absolute").n_per_arm  # Cohen's d = 0.5
    (64, 64)
    """
    _check_alpha_power(alpha, power)
    if not (math.isfinite(std) and std > 0):
        raise ValueError(STD_MESSAGE.format(std=std))
    delta = _mde_abs(baseline_mean, mde, mde_type)
    _check_sign(delta, alternative)
    w = _weights(arms, weights)
    alpha_c = _alpha_per_comparison(alpha, arms, correction)

    def power_of(nc: float, nt: float) -> float:
        return power_mean(delta, std, nc, nt, alpha=alpha_c, alternative=alternative, method=method)

    n_exact, n_per_arm = _sample_size(power_of, w, power, 2.0 if method == "t" else 1.0)
    return _finish(
        metric="mean",
        method=method,
        baseline=baseline_mean,
        std=std,
        delta=delta,
        alpha=alpha,
        alpha_c=alpha_c,
        power=power,
        alternative=alternative,
        correction=correction,
        w=w,
        n_exact=n_exact,
        n_per_arm=n_per_arm,
        power_of=power_of,
    )


def _solve_mde(power_of_delta: callable, target: float, lo: float, hi: float, n: float) -> float:  # type: ignore[valid-type]
    """Smallest |delta| in (lo, hi] with power >= target (power increases with |delta|)."""
    if power_of_delta(hi) < target:
        raise ValueError(NO_MDE_MESSAGE.format(power=target, n=n))
    return float(
        optimize.brentq(
            lambda d: power_of_delta(d) - target, lo, hi, xtol=1e-14, rtol=1e-13, maxiter=500
        )
    )


def _per_arm(n_total: float, w: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(wi * n_total for wi in w)


def mde_proportion(
    baseline_rate: float,
    n_total: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    weights: Sequence[float] | None = None,
    alternative: Alternative = "two-sided",
    method: ProportionMethod = "normal",
    correction: DesignCorrection = "bonferroni",
) -> DesignResult:
    """Smallest change in a conversion rate detectable with ``n_total`` units over all arms.

    The arms get :math:`n_j = w_j N` units (not rounded); the MDE is the largest over the
    comparisons of the effect :math:`\\delta > 0` (:math:`< 0` for ``smaller``) whose power equals
    ``power``, found by root finding on :func:`power_proportion`.
    """
    _check_alpha_power(alpha, power)
    _check_rate("baseline_rate", baseline_rate)
    w = _weights(arms, weights)
    alpha_c = _alpha_per_comparison(alpha, arms, correction)
    n = _per_arm(n_total, w)
    sign = -1.0 if alternative == "smaller" else 1.0
    upper = (1.0 - baseline_rate if sign > 0 else baseline_rate) * (1 - 1e-12)
    deltas = []
    for j in range(1, len(w)):

        def p_of(d: float, j: int = j) -> float:
            return power_proportion(
                baseline_rate,
                baseline_rate + sign * d,
                n[0],
                n[j],
                alpha=alpha_c,
                alternative=alternative,
                method=method,
            )

        deltas.append(_solve_mde(p_of, power, 1e-12, upper, n_total))
    delta = sign * max(deltas)

    def power_of(nc: float, nt: float) -> float:
        return power_proportion(
            baseline_rate,
            baseline_rate + delta,
            nc,
            nt,
            alpha=alpha_c,
            alternative=alternative,
            method=method,
        )

    n_per_arm = tuple(int(math.floor(x + 1e-9)) for x in n)
    return _finish(
        metric="proportion",
        method=method,
        baseline=baseline_rate,
        std=None,
        delta=delta,
        alpha=alpha,
        alpha_c=alpha_c,
        power=power,
        alternative=alternative,
        correction=correction,
        w=w,
        n_exact=float(n_total),
        n_per_arm=n_per_arm,
        power_of=power_of,
    )


def mde_mean(
    baseline_mean: float,
    std: float,
    n_total: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    weights: Sequence[float] | None = None,
    alternative: Alternative = "two-sided",
    method: MeanMethod = "t",
    correction: DesignCorrection = "bonferroni",
) -> DesignResult:
    """Smallest change in a mean detectable with ``n_total`` units (see :func:`mde_proportion`)."""
    _check_alpha_power(alpha, power)
    if not (math.isfinite(std) and std > 0):
        raise ValueError(STD_MESSAGE.format(std=std))
    w = _weights(arms, weights)
    alpha_c = _alpha_per_comparison(alpha, arms, correction)
    n = _per_arm(n_total, w)
    sign = -1.0 if alternative == "smaller" else 1.0
    deltas = []
    for j in range(1, len(w)):

        def p_of(d: float, j: int = j) -> float:
            return power_mean(
                sign * d, std, n[0], n[j], alpha=alpha_c, alternative=alternative, method=method
            )

        hi = std
        while p_of(hi) < power:
            hi *= 2.0
            if hi > 1e12 * std:
                raise ValueError(NO_MDE_MESSAGE.format(power=power, n=n_total))
        deltas.append(_solve_mde(p_of, power, 1e-15 * std, hi, n_total))
    delta = sign * max(deltas)

    def power_of(nc: float, nt: float) -> float:
        return power_mean(delta, std, nc, nt, alpha=alpha_c, alternative=alternative, method=method)

    n_per_arm = tuple(int(math.floor(x + 1e-9)) for x in n)
    return _finish(
        metric="mean",
        method=method,
        baseline=baseline_mean,
        std=std,
        delta=delta,
        alpha=alpha,
        alpha_c=alpha_c,
        power=power,
        alternative=alternative,
        correction=correction,
        w=w,
        n_exact=float(n_total),
        n_per_arm=n_per_arm,
        power_of=power_of,
    )


# --------------------------------------------------------------------------------------------
# deterministic assignment

#: Salt of the programme-wide holdout; change it only to start a new holdout population.
GLOBAL_HOLDOUT_SALT = "smsanalytics:global-holdout:v1"
#: ``variant`` given by :func:`assign_arms` to contacts in the global holdout.
GLOBAL_HOLDOUT_VARIANT = "global_holdout"

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_S11 = np.uint64(11)
_MASK = (1 << 64) - 1


def _salt_keys(salt: str) -> tuple[int, int]:
    if not isinstance(salt, str) or salt == "":
        raise ValueError(EMPTY_SALT_MESSAGE)
    digest = hashlib.blake2b(salt.encode("utf-8"), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little")


def _fmix64(k: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (a bijection of uint64 with full avalanche), in place."""
    k ^= k >> _S33
    k *= _M1
    k ^= k >> _S33
    k *= _M2
    k ^= k >> _S33
    return k


def _fmix64_py(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _MASK
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _MASK
    k ^= k >> 33
    return k


def _hash_unit_py(salt: str, contact_id: int) -> float:
    """Pure-Python reference of :func:`hash_unit` for one id (used by the tests)."""
    k1, k2 = _salt_keys(salt)
    h = _fmix64_py(_fmix64_py((contact_id & _MASK) ^ k1) ^ k2)
    return (h >> 11) * 2.0**-53


def _as_int64(contact_ids: Sequence[int] | np.ndarray | pl.Series) -> np.ndarray:
    if isinstance(contact_ids, pl.Series):
        if not contact_ids.dtype.is_integer():
            raise TypeError(CONTACT_IDS_MESSAGE.format(dtype=contact_ids.dtype))
        arr = contact_ids.cast(pl.Int64).to_numpy()
    else:
        arr = np.asarray(contact_ids)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(CONTACT_IDS_MESSAGE.format(dtype=arr.dtype))
    return np.ascontiguousarray(np.atleast_1d(arr).astype(np.int64, copy=False))


def hash_unit(contact_ids: Sequence[int] | np.ndarray | pl.Series, salt: str) -> np.ndarray:
    """Map each ``(salt, contact_id)`` to a uniform number in [0, 1), deterministically.

    Parameters
    ----------
    contact_ids
        Integer contact ids (Int64).
    salt
        Experiment salt (e.g. the campaign id); different salts give independent draws.

    Returns
    -------
    numpy.ndarray
        float64 values :math:`u = \\lfloor h / 2^{11} \\rfloor \\cdot 2^{-53}` with
        :math:`h = f(f(\\mathrm{id} \\oplus k_1) \\oplus k_2)`, :math:`f` MurmurHash3's ``fmix64``
        and :math:`(k_1, k_2)` the two halves of ``BLAKE2b-128(salt)``; ids are taken as
        two's-complement uint64.

    References
    ----------
    Appleby, MurmurHash3 (``fmix64``), https://github.com/aappleby/smhasher.
    Kohavi, Tang & Xu (2020), *Trustworthy Online Controlled Experiments*, ch. 4 (hash-based
    assignment).

    Examples
    --------
    >>> hash_unit([1, 2, 3], "demo").round(6).tolist()
    [0.947022, 0.793051, 0.237614]
    """
    k1, k2 = _salt_keys(salt)
    ids = _as_int64(contact_ids)
    h = ids.view(np.uint64).copy()
    h ^= np.uint64(k1)
    _fmix64(h)
    h ^= np.uint64(k2)
    _fmix64(h)
    return (h >> _S11).astype(np.float64) * 2.0**-53


def global_holdout(
    contact_ids: Sequence[int] | np.ndarray | pl.Series,
    *,
    share: float,
    salt: str = GLOBAL_HOLDOUT_SALT,
) -> np.ndarray:
    """Whether each contact belongs to the programme-wide holdout (never messaged).

    Parameters
    ----------
    contact_ids
        Integer contact ids.
    share
        Holdout share in [0, 1).
    salt
        Programme-wide salt; keep the default so the holdout is the same in every campaign.

    Returns
    -------
    numpy.ndarray
        Boolean mask, ``hash_unit(ids, salt) < share``. Membership depends only on the id, so it
        persists across campaigns and as the audience grows; raising ``share`` only adds members.
    """
    if not 0 <= share < 1:
        raise ValueError(SHARE_MESSAGE.format(share=share))
    return hash_unit(contact_ids, salt) < share


def assign_arms(
    contact_ids: Sequence[int] | np.ndarray | pl.Series,
    *,
    salt: str,
    weights: Mapping[str, float] | Sequence[str],
    global_holdout_share: float = 0.0,
    global_holdout_salt: str = GLOBAL_HOLDOUT_SALT,
    holdout_arms: Sequence[str] = ("control",),
) -> pl.DataFrame:
    """Deterministically assign contacts to arms.

    Parameters
    ----------
    contact_ids
        Integer contact ids (duplicates get the same arm).
    salt
        Experiment salt, e.g. the campaign id. Reusing a salt reuses the split.
    weights
        ``{arm: weight}`` (any positive numbers, normalised), or a sequence of arm names for an
        equal split. Order matters: arms take consecutive slices of [0, 1) in this order.
    global_holdout_share
        Share of *all* contacts kept in the programme-wide holdout (:func:`global_holdout`); they
        get variant ``"global_holdout"`` and are excluded from the arms, whose split applies to the
        remaining contacts.
    global_holdout_salt
        Salt of the programme-wide holdout.
    holdout_arms
        Arms whose contacts receive no message (``is_holdout``); default ``("control",)``, the
        convention of the ``assignments`` table.

    Returns
    -------
    polars.DataFrame
        ``contact_id`` (Int64), ``variant`` (String), ``is_holdout`` (Boolean: global holdout or a
        holdout arm) and ``is_global_holdout`` (Boolean), in input order.

    Notes
    -----
    Arm :math:`j` receives the contacts with :math:`u \\in [c_{j-1}, c_j)`, :math:`c_j` the
    cumulative normalised weights and :math:`u` = :func:`hash_unit` of ``(salt, id)``. An id's arm
    depends only on ``(salt, id, weights)``: adding contacts never moves anyone.

    Examples
    --------
    >>> assign_arms([1, 2, 3], salt="demo", weights=["A", "B"])["variant"].to_list()
    ['B', 'B', 'A']
    """
    names = list(weights) if isinstance(weights, Mapping) else [str(x) for x in weights]
    shares = normalise_weights(weights if isinstance(weights, Mapping) else None, names)
    ids = _as_int64(contact_ids)
    cum = np.cumsum(shares)
    cum[-1] = 1.0
    u = hash_unit(ids, salt)
    arm_index = np.minimum(np.searchsorted(cum, u, side="right"), len(names) - 1)
    in_global = (
        global_holdout(ids, share=global_holdout_share, salt=global_holdout_salt)
        if global_holdout_share > 0
        else np.zeros(ids.shape, dtype=bool)
    )
    labels = pl.Series("variant", [*names, GLOBAL_HOLDOUT_VARIANT], dtype=pl.String)
    index = np.where(in_global, len(names), arm_index)
    variant = labels.gather(index)
    holdout_idx = np.asarray(
        [i for i, n in enumerate(names) if n in set(holdout_arms)], dtype=np.int64
    )
    is_holdout = in_global | np.isin(arm_index, holdout_idx)
    return pl.DataFrame(
        {
            "contact_id": pl.Series("contact_id", ids, dtype=pl.Int64),
            "variant": variant,
            "is_holdout": pl.Series("is_holdout", is_holdout, dtype=pl.Boolean),
            "is_global_holdout": pl.Series("is_global_holdout", in_global, dtype=pl.Boolean),
        }
    )
