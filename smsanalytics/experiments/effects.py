"""Point estimates and standard errors of absolute and relative lift (delta method).

Every readout method (frequentist, sequential, the Bayesian normal model) starts from the same
:class:`EffectEstimate`: the two arm means and the variances of those means, possibly
CUPED-adjusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from smsanalytics.experiments.cuped import cuped_adjust
from smsanalytics.experiments.stats import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    Statistic,
    metric_type,
    outcome_statistic,
)

__all__ = ["EffectEstimate", "estimate_effect", "welch_df"]

EMPTY_ARM_MESSAGE = "arm has n={n}; every arm needs at least {k} unit(s) for this estimate"


def welch_df(var_c: float, n_c: int, var_t: float, n_t: int) -> float:
    """Welch-Satterthwaite degrees of freedom.

    ``var_*`` are variances of the arm means (:math:`s_k^2 / n_k`):

    .. math:: \\nu = \\frac{(v_c + v_t)^2}{v_c^2/(n_c-1) + v_t^2/(n_t-1)}

    Returns ``inf`` when both variances are 0.
    """
    denominator = var_c * var_c / (n_c - 1) + var_t * var_t / (n_t - 1)
    if denominator <= 0:
        return math.inf
    return (var_c + var_t) ** 2 / denominator


@dataclass(frozen=True)
class EffectEstimate:
    """Arm means, the variances of the means and the derived lifts.

    Attributes
    ----------
    control_mean, treatment_mean
        Estimated means :math:`\\hat\\mu_c, \\hat\\mu_t` (CUPED-adjusted when ``theta`` is set).
    control_variance, treatment_variance
        :math:`v_c = \\mathrm{Var}(\\hat\\mu_c)`, :math:`v_t = \\mathrm{Var}(\\hat\\mu_t)`.
    df
        Degrees of freedom of the reference t distribution (``inf`` = normal).
    n_control, n_treatment
        Units per arm.
    theta, variance_reduction
        CUPED slope and variance reduction, ``None`` when no adjustment was made.
    """

    control_mean: float
    treatment_mean: float
    control_variance: float
    treatment_variance: float
    df: float
    n_control: int
    n_treatment: int
    theta: float | None = None
    variance_reduction: float | None = None

    @property
    def lift_abs(self) -> float:
        """:math:`\\hat\\Delta = \\hat\\mu_t - \\hat\\mu_c`."""
        return self.treatment_mean - self.control_mean

    @property
    def variance_abs(self) -> float:
        """:math:`\\operatorname{Var}(\\hat\\Delta) = v_c + v_t` (independent arms)."""
        return self.control_variance + self.treatment_variance

    @property
    def se_abs(self) -> float:
        """Standard error of the absolute lift."""
        return math.sqrt(self.variance_abs)

    @property
    def lift_rel(self) -> float:
        """:math:`\\hat\\mu_t / \\hat\\mu_c - 1` (NaN when the control mean is 0)."""
        if self.control_mean == 0:
            return math.nan
        return self.treatment_mean / self.control_mean - 1.0

    @property
    def variance_rel(self) -> float:
        """Delta-method variance of the relative lift.

        .. math:: \\operatorname{Var}\\left(\\frac{\\hat\\mu_t}{\\hat\\mu_c}\\right) \\approx
                  \\frac{v_t}{\\mu_c^2} + \\frac{\\mu_t^2 v_c}{\\mu_c^4}
        """
        mc = self.control_mean
        if mc == 0:
            return math.nan
        return (
            self.treatment_variance / mc**2 + self.treatment_mean**2 * self.control_variance / mc**4
        )

    @property
    def se_rel(self) -> float:
        """Delta-method standard error of the relative lift."""
        v = self.variance_rel
        return math.sqrt(v) if math.isfinite(v) else math.nan


def estimate_effect(
    control: Statistic, treatment: Statistic, *, cuped: bool = True
) -> EffectEstimate:
    """Build the :class:`EffectEstimate` of ``treatment`` versus ``control``.

    Parameters
    ----------
    control, treatment
        Arm statistics of the same metric type.
    cuped
        Use the CUPED adjustment when both arms carry a pre-period covariate
        (:class:`RegressionAdjustedStatistic`); otherwise the covariate is ignored.

    Notes
    -----
    - 0/1 outcome: :math:`v_k = \\hat p_k(1-\\hat p_k)/n_k`, normal reference (``df = inf``).
    - real outcome: :math:`v_k = s_k^2/n_k` with the unbiased :math:`s_k^2` and Welch's
      :math:`\\nu` (see :func:`welch_df`).
    - CUPED: see :func:`smsanalytics.experiments.cuped.cuped_adjust`.

    References
    ----------
    Deng, Knoblich & Lu (2018), "Applying the delta method in metric analytics", KDD.
    """
    adjusted = (
        cuped
        and isinstance(control, RegressionAdjustedStatistic)
        and isinstance(treatment, RegressionAdjustedStatistic)
    )
    if adjusted:
        assert isinstance(control, RegressionAdjustedStatistic)
        assert isinstance(treatment, RegressionAdjustedStatistic)
        adj = cuped_adjust(control, treatment)
        return EffectEstimate(
            control_mean=adj.control_mean,
            treatment_mean=adj.treatment_mean,
            control_variance=adj.control_variance,
            treatment_variance=adj.treatment_variance,
            df=adj.df,
            n_control=control.n,
            n_treatment=treatment.n,
            theta=adj.theta,
            variance_reduction=adj.variance_reduction,
        )
    c, t = outcome_statistic(control), outcome_statistic(treatment)
    if metric_type(c) == "proportion":
        assert isinstance(c, ProportionStatistic) and isinstance(t, ProportionStatistic)
        for s in (c, t):
            if s.n < 1:
                raise ValueError(EMPTY_ARM_MESSAGE.format(n=s.n, k=1))
        return EffectEstimate(
            control_mean=c.mean,
            treatment_mean=t.mean,
            control_variance=c.variance / c.n,
            treatment_variance=t.variance / t.n,
            df=math.inf,
            n_control=c.n,
            n_treatment=t.n,
        )
    assert isinstance(c, SampleMeanStatistic) and isinstance(t, SampleMeanStatistic)
    for s in (c, t):
        if s.n < 2:
            raise ValueError(EMPTY_ARM_MESSAGE.format(n=s.n, k=2))
    vc, vt = c.variance / c.n, t.variance / t.n
    return EffectEstimate(
        control_mean=c.mean,
        treatment_mean=t.mean,
        control_variance=vc,
        treatment_variance=vt,
        df=welch_df(vc, c.n, vt, t.n),
        n_control=c.n,
        n_treatment=t.n,
    )
