"""CUPED: variance reduction with a pre-period covariate.

CUPED (Controlled-experiment Using Pre-Experiment Data) replaces each unit's outcome :math:`y` by
:math:`y - \\theta (x - \\bar x)` where :math:`x` is a pre-period covariate unaffected by the
treatment (orders, revenue or clicks in the 30 days before assignment). The expected difference
between arms is unchanged (randomisation makes :math:`E[\\bar x_t - \\bar x_c] = 0`), while the
variance shrinks by the factor :math:`1 - \\rho^2`, :math:`\\rho` the correlation of :math:`x`
and :math:`y`.

Everything here is computed from the sums of
:class:`~smsanalytics.experiments.stats.RegressionAdjustedStatistic` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from smsanalytics.experiments.stats import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
)

__all__ = ["CupedAdjustment", "cuped_theta", "cuped_adjust"]

SMALL_ARM_MESSAGE = "CUPED needs at least 2 units per arm, got n_control={nc}, n_treatment={nt}"


@dataclass(frozen=True)
class CupedAdjustment:
    """Regression-adjusted means of two arms.

    Attributes
    ----------
    theta
        Pooled within-arm slope :math:`\\theta` of the outcome on the covariate.
    control_mean, treatment_mean
        Adjusted means :math:`\\bar y_k - \\theta(\\bar x_k - \\bar x)`.
    control_variance, treatment_variance
        Variances of the adjusted means (per-unit adjusted variance / :math:`n_k`).
    control_variance_unadjusted, treatment_variance_unadjusted
        Variances of the raw means (sample variance / :math:`n_k`), for comparison.
    variance_reduction
        :math:`1 - \\mathrm{Var}_{adj}(\\hat\\Delta) / \\mathrm{Var}(\\hat\\Delta)` for the
        difference of means (0 = no gain; about :math:`\\rho^2` in large samples).
    df
        Welch-Satterthwaite degrees of freedom of the adjusted difference (``inf`` for a 0/1
        outcome, whose tests use the normal reference).
    """

    theta: float
    control_mean: float
    treatment_mean: float
    control_variance: float
    treatment_variance: float
    control_variance_unadjusted: float
    treatment_variance_unadjusted: float
    variance_reduction: float
    df: float


def _centered(stat: RegressionAdjustedStatistic) -> tuple[float, float, float]:
    """Centered sums :math:`S_{yy}, S_{xy}, S_{xx}` of one arm."""
    n = stat.n
    y, x = stat.post, stat.pre
    syy = y.sum_squares - y.sum * y.sum / n
    sxy = stat.post_pre_sum_of_products - y.sum * x.sum / n
    sxx = x.sum_squares - x.sum * x.sum / n
    return max(syy, 0.0), sxy, max(sxx, 0.0)


def cuped_theta(
    control: RegressionAdjustedStatistic, treatment: RegressionAdjustedStatistic
) -> float:
    """Pooled within-arm regression slope of outcome on covariate.

    .. math:: \\theta = \\frac{S_{xy,c} + S_{xy,t}}{S_{xx,c} + S_{xx,t}},\\quad
              S_{xy,k} = \\sum_{i\\in k} x_i y_i - \\frac{\\sum x_i \\sum y_i}{n_k}

    This is the covariate coefficient of the OLS fit ``y ~ 1 + treatment + x``
    (Frisch-Waugh-Lovell), so the adjusted difference equals that fit's treatment coefficient.
    Returns 0 when the covariate is constant.
    """
    _, sxy_c, sxx_c = _centered(control)
    _, sxy_t, sxx_t = _centered(treatment)
    denominator = sxx_c + sxx_t
    if denominator <= 0:
        return 0.0
    return (sxy_c + sxy_t) / denominator


def cuped_adjust(
    control: RegressionAdjustedStatistic,
    treatment: RegressionAdjustedStatistic,
    *,
    theta: float | None = None,
) -> CupedAdjustment:
    """Adjusted means and their variances for a control/treatment pair.

    Parameters
    ----------
    control, treatment
        Outcome and covariate sums of the two arms.
    theta
        Slope to use; default :func:`cuped_theta` (estimated from both arms, treated as known).

    Returns
    -------
    CupedAdjustment

    Notes
    -----
    With :math:`\\bar x = (\\sum_c x + \\sum_t x)/(n_c + n_t)`:

    .. math::
        \\bar y_k^{adj} = \\bar y_k - \\theta(\\bar x_k - \\bar x), \\qquad
        \\mathrm{Var}(\\bar y_k^{adj}) = \\frac{S_{yy,k} - 2\\theta S_{xy,k} + \\theta^2 S_{xx,k}}
                                                   {(n_k - 1)\\, n_k}.

    The uncertainty of :math:`\\hat\\theta` is ignored (it is :math:`O(1/n)`).

    References
    ----------
    Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online controlled
    experiments by utilizing pre-experiment data", WSDM, section 3.
    """
    nc, nt = control.n, treatment.n
    if nc < 2 or nt < 2:
        raise ValueError(SMALL_ARM_MESSAGE.format(nc=nc, nt=nt))
    if theta is None:
        theta = cuped_theta(control, treatment)
    x_bar = (control.pre.sum + treatment.pre.sum) / (nc + nt)

    def arm(stat: RegressionAdjustedStatistic) -> tuple[float, float, float]:
        n = stat.n
        syy, sxy, sxx = _centered(stat)
        mean = stat.post.mean - theta * (stat.pre.mean - x_bar)
        var_adj = max(syy - 2.0 * theta * sxy + theta * theta * sxx, 0.0) / (n - 1) / n
        var_raw = syy / (n - 1) / n
        return mean, var_adj, var_raw

    mc, vc, vc_raw = arm(control)
    mt, vt, vt_raw = arm(treatment)
    raw = vc_raw + vt_raw
    reduction = 1.0 - (vc + vt) / raw if raw > 0 else 0.0
    if isinstance(control.post, ProportionStatistic):
        df = math.inf
    else:
        denominator = vc * vc / (nc - 1) + vt * vt / (nt - 1)
        df = (vc + vt) ** 2 / denominator if denominator > 0 else math.inf
    return CupedAdjustment(
        theta=float(theta),
        control_mean=mc,
        treatment_mean=mt,
        control_variance=vc,
        treatment_variance=vt,
        control_variance_unadjusted=vc_raw,
        treatment_variance_unadjusted=vt_raw,
        variance_reduction=reduction,
        df=df,
    )
