"""Fixed-horizon frequentist tests: two-proportion z-test, Welch's t-test, CUPED, corrections.

All tests compare a treatment arm with a control arm from their sufficient statistics and report
the absolute lift :math:`\\mu_t - \\mu_c` and the relative lift :math:`\\mu_t/\\mu_c - 1`, each
with a confidence interval (delta method for the relative one).

Cross-checks (see ``tests/experiments/test_ab_frequentist.py``):

- :func:`two_proportion_ztest` equals ``statsmodels.stats.proportion.proportions_ztest``;
- :func:`welch_ttest` equals ``scipy.stats.ttest_ind(equal_var=False)`` (statistic, p-value,
  degrees of freedom and ``confidence_interval``);
- :func:`adjust_p_values` equals ``statsmodels.stats.multitest.multipletests``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from smsanalytics.experiments.effects import EffectEstimate, estimate_effect
from smsanalytics.experiments.stats import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    Statistic,
    metric_type,
    outcome_statistic,
)

__all__ = [
    "Alternative",
    "CorrectionMethod",
    "FrequentistResult",
    "two_proportion_ztest",
    "welch_ttest",
    "frequentist_test",
    "adjust_p_values",
    "confidence_interval",
]

#: Alternative hypothesis about :math:`\\mu_t - \\mu_c`: ``larger`` means treatment > control.
Alternative = Literal["two-sided", "larger", "smaller"]
#: Multiple-comparison correction: Holm (FWER), Benjamini-Hochberg (FDR), Bonferroni or none.
CorrectionMethod = Literal["holm", "bh", "bonferroni", "none"]

ALPHA_MESSAGE = "alpha must lie in (0, 1), got {alpha!r}"
ALTERNATIVE_MESSAGE = "alternative must be one of 'two-sided', 'larger', 'smaller', got {alt!r}"
CORRECTION_MESSAGE = "correction must be one of 'holm', 'bh', 'bonferroni', 'none', got {m!r}"
P_VALUES_MESSAGE = "p-values must lie in [0, 1] (NaN allowed), got {p}"
PROPORTION_REQUIRED_MESSAGE = "the z-test needs ProportionStatistic arms, got {kind}"


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(ALPHA_MESSAGE.format(alpha=alpha))


def _check_alternative(alternative: str) -> None:
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(ALTERNATIVE_MESSAGE.format(alt=alternative))


@dataclass(frozen=True)
class FrequentistResult:
    """A treatment-versus-control test.

    Attributes
    ----------
    test
        ``z-test`` (pooled two-proportion), ``welch`` (Welch's t), ``cuped-z`` or ``cuped-welch``.
    control_mean, treatment_mean
        Arm means (CUPED-adjusted for the ``cuped-*`` tests).
    lift_abs, lift_rel
        :math:`\\hat\\mu_t - \\hat\\mu_c` and :math:`\\hat\\mu_t/\\hat\\mu_c - 1`.
    se_abs, se_rel
        Their standard errors (unpooled; delta method for the relative lift).
    ci_abs_low, ci_abs_high, ci_rel_low, ci_rel_high
        :math:`1-\\alpha` confidence intervals (one-sided, i.e. with an infinite end, for a
        one-sided ``alternative``).
    statistic, p_value, df
        Test statistic, its p-value and degrees of freedom (``inf`` for the normal reference).
    alpha, alternative
        Settings used.
    theta, variance_reduction
        CUPED slope and variance reduction (``None`` without CUPED).
    """

    test: str
    control_mean: float
    treatment_mean: float
    lift_abs: float
    lift_rel: float
    se_abs: float
    se_rel: float
    ci_abs_low: float
    ci_abs_high: float
    ci_rel_low: float
    ci_rel_high: float
    statistic: float
    p_value: float
    df: float
    alpha: float
    alternative: Alternative
    theta: float | None = None
    variance_reduction: float | None = None


def _quantile(level: float, df: float) -> float:
    """Upper ``level`` quantile of t(df) (normal when df is infinite)."""
    if math.isinf(df):
        return float(stats.norm.isf(level))
    return float(stats.t.isf(level, df))


def confidence_interval(
    estimate: float,
    se: float,
    *,
    alpha: float,
    df: float = math.inf,
    alternative: Alternative = "two-sided",
) -> tuple[float, float]:
    """Wald interval :math:`\\hat\\theta \\pm q\\, \\widehat{se}`, :math:`q` from t(df) or N(0, 1).

    Two-sided: :math:`q = q_{1-\\alpha/2}`.
    ``larger``: :math:`[\\hat\\theta - q_{1-\\alpha}\\,se, \\infty)`;
    ``smaller``: :math:`(-\\infty, \\hat\\theta + q_{1-\\alpha}\\,se]`.
    """
    if not (math.isfinite(estimate) and math.isfinite(se)):
        return (math.nan, math.nan)
    if alternative == "two-sided":
        q = _quantile(alpha / 2, df)
        return (estimate - q * se, estimate + q * se)
    q = _quantile(alpha, df)
    if alternative == "larger":
        return (estimate - q * se, math.inf)
    return (-math.inf, estimate + q * se)


def _p_value(statistic: float, df: float, alternative: Alternative) -> float:
    dist = stats.norm if math.isinf(df) else stats.t(df)
    if alternative == "two-sided":
        return float(2.0 * dist.sf(abs(statistic)))
    if alternative == "larger":
        return float(dist.sf(statistic))
    return float(dist.cdf(statistic))


def _ratio(num: float, den: float) -> float:
    """``num / den`` with the limits of a degenerate test (0/0 -> NaN, x/0 -> +-inf)."""
    if den > 0:
        return num / den
    if num == 0:
        return math.nan
    return math.copysign(math.inf, num)


def _result(
    test: str,
    eff: EffectEstimate,
    statistic: float,
    df: float,
    *,
    alpha: float,
    alternative: Alternative,
) -> FrequentistResult:
    if math.isnan(statistic):
        p_value = 1.0  # no variation at all in either arm: no evidence of a difference
    else:
        p_value = _p_value(statistic, df, alternative)
    abs_lo, abs_hi = confidence_interval(
        eff.lift_abs, eff.se_abs, alpha=alpha, df=df, alternative=alternative
    )
    rel_lo, rel_hi = confidence_interval(
        eff.lift_rel, eff.se_rel, alpha=alpha, df=df, alternative=alternative
    )
    return FrequentistResult(
        test=test,
        control_mean=eff.control_mean,
        treatment_mean=eff.treatment_mean,
        lift_abs=eff.lift_abs,
        lift_rel=eff.lift_rel,
        se_abs=eff.se_abs,
        se_rel=eff.se_rel,
        ci_abs_low=abs_lo,
        ci_abs_high=abs_hi,
        ci_rel_low=rel_lo,
        ci_rel_high=rel_hi,
        statistic=statistic,
        p_value=p_value,
        df=df,
        alpha=alpha,
        alternative=alternative,
        theta=eff.theta,
        variance_reduction=eff.variance_reduction,
    )


def two_proportion_ztest(
    control: ProportionStatistic,
    treatment: ProportionStatistic,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> FrequentistResult:
    """Pooled two-proportion z-test of :math:`H_0: p_t = p_c`.

    Parameters
    ----------
    control, treatment
        Units and successes per arm.
    alpha
        Level of the confidence intervals.
    alternative
        ``two-sided``, ``larger`` (:math:`p_t > p_c`) or ``smaller``.

    Returns
    -------
    FrequentistResult

    Notes
    -----
    The statistic uses the pooled rate :math:`\\bar p = (s_c + s_t)/(n_c + n_t)` under the null:

    .. math:: z = \\frac{\\hat p_t - \\hat p_c}{\\sqrt{\\bar p (1-\\bar p)(1/n_t + 1/n_c)}}

    and equals ``proportions_ztest([s_t, s_c], [n_t, n_c], alternative=...)`` of statsmodels.
    The confidence intervals use the unpooled (Wald) standard error
    :math:`\\sqrt{\\hat p_t(1-\\hat p_t)/n_t + \\hat p_c(1-\\hat p_c)/n_c}`, and the delta method
    for the relative lift, so near the boundary the interval and the p-value can disagree slightly.

    Examples
    --------
    >>> r = two_proportion_ztest(ProportionStatistic(1000, 50), ProportionStatistic(1000, 70))
    >>> round(r.p_value, 4)
    0.0597
    """
    _check_alpha(alpha)
    _check_alternative(alternative)
    if not (
        isinstance(control, ProportionStatistic) and isinstance(treatment, ProportionStatistic)
    ):
        raise TypeError(PROPORTION_REQUIRED_MESSAGE.format(kind=type(control).__name__))
    eff = estimate_effect(control, treatment)
    pooled = (control.sum + treatment.sum) / (control.n + treatment.n)
    se0 = math.sqrt(pooled * (1.0 - pooled) * (1.0 / treatment.n + 1.0 / control.n))
    z = _ratio(eff.lift_abs, se0)
    return _result("z-test", eff, z, math.inf, alpha=alpha, alternative=alternative)


def welch_ttest(
    control: SampleMeanStatistic | ProportionStatistic,
    treatment: SampleMeanStatistic | ProportionStatistic,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> FrequentistResult:
    """Welch's unequal-variance t-test of :math:`H_0: \\mu_t = \\mu_c`.

    Parameters
    ----------
    control, treatment
        Sums per arm (a :class:`ProportionStatistic` is treated as 0/1 data with
        :math:`\\sum y^2 = \\sum y`).
    alpha, alternative
        As in :func:`two_proportion_ztest`.

    Notes
    -----
    .. math::
        t = \\frac{\\bar y_t - \\bar y_c}{\\sqrt{s_t^2/n_t + s_c^2/n_c}},\\qquad
        \\nu = \\frac{(s_t^2/n_t + s_c^2/n_c)^2}
                   {\\frac{(s_t^2/n_t)^2}{n_t-1} + \\frac{(s_c^2/n_c)^2}{n_c-1}}

    Equals ``scipy.stats.ttest_ind(treatment_values, control_values, equal_var=False)``; the
    absolute-lift interval equals that result's ``confidence_interval(1 - alpha)``. The relative
    interval uses the delta method with the same t quantile.

    References
    ----------
    Welch (1947), "The generalization of 'Student's' problem when several different population
    variances are involved", Biometrika 34.
    """
    _check_alpha(alpha)
    _check_alternative(alternative)

    def as_mean(s: SampleMeanStatistic | ProportionStatistic) -> SampleMeanStatistic:
        if isinstance(s, ProportionStatistic):
            return SampleMeanStatistic(s.n, s.sum, s.sum)
        return s

    c, t = as_mean(control), as_mean(treatment)
    eff = estimate_effect(c, t)
    statistic = _ratio(eff.lift_abs, eff.se_abs)
    return _result("welch", eff, statistic, eff.df, alpha=alpha, alternative=alternative)


def frequentist_test(
    control: Statistic,
    treatment: Statistic,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    cuped: bool = True,
) -> FrequentistResult:
    """The default fixed-horizon test for the arms' metric type.

    - 0/1 outcome: :func:`two_proportion_ztest`;
    - real outcome: :func:`welch_ttest`;
    - with CUPED (both arms are :class:`RegressionAdjustedStatistic` and ``cuped`` is true): a Wald
      test of the adjusted difference, :math:`z = \\hat\\Delta_{adj}/se_{adj}` against the normal
      (0/1 outcome) or t with Welch's :math:`\\nu` from the adjusted variances (real outcome).
    """
    _check_alpha(alpha)
    _check_alternative(alternative)
    use_cuped = (
        cuped
        and isinstance(control, RegressionAdjustedStatistic)
        and isinstance(treatment, RegressionAdjustedStatistic)
    )
    if use_cuped:
        eff = estimate_effect(control, treatment, cuped=True)
        kind = "cuped-z" if metric_type(control) == "proportion" else "cuped-welch"
        statistic = _ratio(eff.lift_abs, eff.se_abs)
        return _result(kind, eff, statistic, eff.df, alpha=alpha, alternative=alternative)
    c, t = outcome_statistic(control), outcome_statistic(treatment)
    if isinstance(c, ProportionStatistic) and isinstance(t, ProportionStatistic):
        return two_proportion_ztest(c, t, alpha=alpha, alternative=alternative)
    return welch_ttest(c, t, alpha=alpha, alternative=alternative)


def adjust_p_values(
    p_values: Sequence[float] | np.ndarray, method: CorrectionMethod = "holm"
) -> np.ndarray:
    """Adjust p-values for multiple comparisons.

    Parameters
    ----------
    p_values
        One p-value per comparison (NaN entries are left out of the family and stay NaN).
    method
        ``holm`` (Holm-Bonferroni step-down, controls the family-wise error rate),
        ``bh`` (Benjamini-Hochberg step-up, controls the false discovery rate),
        ``bonferroni`` or ``none``.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order; equals
        ``statsmodels.stats.multitest.multipletests(p, method=m)[1]`` with
        ``m = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni"}[method]``.

    Notes
    -----
    With sorted :math:`p_{(1)} \\le \\dots \\le p_{(m)}`:

    .. math::
        \\text{Holm: } \\tilde p_{(i)} = \\min\\Big(1, \\max_{j \\le i} (m-j+1)\\, p_{(j)}\\Big),
        \\qquad
        \\text{BH: } \\tilde p_{(i)} = \\min\\Big(1, \\min_{j \\ge i} \\frac{m}{j} p_{(j)}\\Big).

    References
    ----------
    Holm (1979), "A simple sequentially rejective multiple test procedure", Scand. J. Statist. 6.
    Benjamini & Hochberg (1995), "Controlling the false discovery rate", JRSS B 57.

    Examples
    --------
    >>> adjust_p_values([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    if method not in ("holm", "bh", "bonferroni", "none"):
        raise ValueError(CORRECTION_MESSAGE.format(m=method))
    p = np.asarray(p_values, dtype=float).copy()
    if p.ndim != 1:
        raise ValueError(P_VALUES_MESSAGE.format(p=p_values))
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError(P_VALUES_MESSAGE.format(p=list(p_values)))
    out = np.full_like(p, np.nan)
    q = p[ok]
    m = q.size
    if m == 0 or method == "none":
        out[ok] = q
        return out
    if method == "bonferroni":
        out[ok] = np.minimum(q * m, 1.0)
        return out
    order = np.argsort(q, kind="mergesort")
    s = q[order]
    if method == "holm":
        adjusted_sorted = np.minimum(np.maximum.accumulate(s * np.arange(m, 0, -1)), 1.0)
    else:  # bh
        factor = np.arange(1, m + 1) / float(m)
        adjusted_sorted = np.minimum(np.minimum.accumulate((s / factor)[::-1])[::-1], 1.0)
    adjusted = np.empty_like(q)
    adjusted[order] = adjusted_sorted
    out[ok] = adjusted
    return out
