"""Sufficient statistics of one experiment arm, in frozen dataclasses.

The inference engine never sees unit-level data: SQL (``sql/ab_arm_stats.sql``) or the user's CSV
reduces each arm to a handful of sums, and every test in :mod:`smsanalytics.experiments` is a
function of these sums only (the design of GrowthBook's ``gbstats``).

Three statistics cover the readouts:

- :class:`ProportionStatistic` -- a 0/1 outcome per unit (converted, clicked, opted out):
  ``n`` units, ``sum`` successes.
- :class:`SampleMeanStatistic` -- a real outcome per unit (revenue per message):
  ``n``, ``sum`` :math:`\\sum y_i` and ``sum_squares`` :math:`\\sum y_i^2`.
- :class:`RegressionAdjustedStatistic` -- an outcome together with a pre-period covariate
  :math:`x` (for CUPED): the outcome statistic, the covariate's :class:`SampleMeanStatistic` and
  the cross-product :math:`\\sum x_i y_i`.

An experiment is a mapping ``{variant: statistic}`` (insertion order kept; the control is named
explicitly or is the first entry).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "ProportionStatistic",
    "SampleMeanStatistic",
    "RegressionAdjustedStatistic",
    "Statistic",
    "MetricType",
    "metric_type",
    "outcome_statistic",
    "validate_arms",
]

#: Kind of outcome: a 0/1 ``proportion`` or a real-valued ``mean``.
MetricType = Literal["proportion", "mean"]

NEGATIVE_N_MESSAGE = "n must be a non-negative integer, got {n!r}"
SUCCESSES_OUT_OF_RANGE_MESSAGE = "sum (number of successes) must lie in [0, n={n}], got {s!r}"
NEGATIVE_SUM_SQUARES_MESSAGE = "sum_squares must be >= 0, got {s!r}"
INCONSISTENT_SUM_SQUARES_MESSAGE = (
    "sum_squares={ss!r} is smaller than sum**2/n={bound!r}: the sums do not come from real data "
    "(check that sum_squares is the sum of squared per-unit values, not the square of the sum)"
)
NOT_FINITE_MESSAGE = "{name} must be finite, got {value!r}"
N_MISMATCH_MESSAGE = (
    "pre-period covariate has n={pre}, outcome has n={post}: they must be the same units"
)
TOO_FEW_ARMS_MESSAGE = "an experiment needs at least two arms, got {k}: {names}"
MIXED_METRICS_MESSAGE = "all arms must carry the same kind of statistic; got {kinds}"
UNKNOWN_CONTROL_MESSAGE = "control {control!r} is not one of the arms {names}"

# Relative tolerance for the Cauchy-Schwarz checks (sums are often accumulated in float64).
_RTOL = 1e-9


def _coerce_n(obj: object) -> None:
    """Check ``obj.n`` is a non-negative integer and store it as a Python ``int``."""
    n = obj.n  # type: ignore[attr-defined]
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(NEGATIVE_N_MESSAGE.format(n=n))
    object.__setattr__(obj, "n", int(n))


def _coerce_float(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(NOT_FINITE_MESSAGE.format(name=name, value=value))
    _check_finite(name, float(value))
    object.__setattr__(obj, name, float(value))


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(NOT_FINITE_MESSAGE.format(name=name, value=value))


@dataclass(frozen=True)
class ProportionStatistic:
    """Sufficient statistics of a 0/1 outcome in one arm.

    Parameters
    ----------
    n
        Number of units (contacts) in the arm.
    sum
        Number of units with outcome 1 (conversions, clicks, opt-outs).

    Notes
    -----
    The mean is :math:`\\hat p = s/n` and the per-unit variance is the Bernoulli variance
    :math:`\\hat p (1-\\hat p)` (maximum likelihood, as in the z-test).

    Examples
    --------
    >>> ProportionStatistic(n=1000, sum=50).mean
    0.05
    """

    n: int
    sum: float

    def __post_init__(self) -> None:
        _coerce_n(self)
        _coerce_float(self, "sum")
        if not 0 <= self.sum <= self.n:
            raise ValueError(SUCCESSES_OUT_OF_RANGE_MESSAGE.format(n=self.n, s=self.sum))

    @property
    def sum_squares(self) -> float:
        """:math:`\\sum y_i^2`, equal to ``sum`` for a 0/1 outcome."""
        return float(self.sum)

    @property
    def mean(self) -> float:
        """Observed rate :math:`\\hat p = s / n` (NaN when ``n == 0``)."""
        return self.sum / self.n if self.n > 0 else math.nan

    @property
    def variance(self) -> float:
        """Per-unit Bernoulli variance :math:`\\hat p (1 - \\hat p)`."""
        p = self.mean
        return p * (1.0 - p)


@dataclass(frozen=True)
class SampleMeanStatistic:
    """Sufficient statistics of a real-valued outcome in one arm.

    Parameters
    ----------
    n
        Number of units.
    sum
        :math:`\\sum_i y_i`.
    sum_squares
        :math:`\\sum_i y_i^2`.

    Notes
    -----
    The per-unit variance is the unbiased sample variance

    .. math:: s^2 = \\frac{\\sum y_i^2 - (\\sum y_i)^2 / n}{n - 1}.

    Examples
    --------
    >>> SampleMeanStatistic(n=3, sum=6.0, sum_squares=14.0).variance
    1.0
    """

    n: int
    sum: float
    sum_squares: float

    def __post_init__(self) -> None:
        _coerce_n(self)
        _coerce_float(self, "sum")
        _coerce_float(self, "sum_squares")
        if self.sum_squares < 0:
            raise ValueError(NEGATIVE_SUM_SQUARES_MESSAGE.format(s=self.sum_squares))
        if self.n > 0:
            bound = self.sum * self.sum / self.n
            if self.sum_squares < bound - _RTOL * max(abs(bound), 1.0):
                raise ValueError(
                    INCONSISTENT_SUM_SQUARES_MESSAGE.format(ss=self.sum_squares, bound=bound)
                )

    @property
    def mean(self) -> float:
        """Sample mean :math:`\\bar y = \\sum y_i / n` (NaN when ``n == 0``)."""
        return self.sum / self.n if self.n > 0 else math.nan

    @property
    def variance(self) -> float:
        """Unbiased sample variance :math:`s^2` (NaN when ``n < 2``; clipped at 0)."""
        if self.n < 2:
            return math.nan
        return max((self.sum_squares - self.sum * self.sum / self.n) / (self.n - 1), 0.0)


@dataclass(frozen=True)
class RegressionAdjustedStatistic:
    """An outcome with a pre-period covariate, for CUPED.

    Parameters
    ----------
    post
        The outcome's statistic (:class:`ProportionStatistic` or :class:`SampleMeanStatistic`).
    pre
        The pre-period covariate :math:`x` (e.g. orders in the 30 days before assignment).
    post_pre_sum_of_products
        :math:`\\sum_i x_i y_i`.

    References
    ----------
    Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online controlled
    experiments by utilizing pre-experiment data", WSDM.
    """

    post: ProportionStatistic | SampleMeanStatistic
    pre: SampleMeanStatistic
    post_pre_sum_of_products: float

    def __post_init__(self) -> None:
        if self.pre.n != self.post.n:
            raise ValueError(N_MISMATCH_MESSAGE.format(pre=self.pre.n, post=self.post.n))
        _coerce_float(self, "post_pre_sum_of_products")

    @property
    def n(self) -> int:
        """Number of units."""
        return self.post.n

    @property
    def mean(self) -> float:
        """Unadjusted outcome mean."""
        return self.post.mean

    @property
    def variance(self) -> float:
        """Per-unit outcome variance (as in :attr:`post`)."""
        return self.post.variance

    @property
    def covariance(self) -> float:
        """Sample covariance of outcome and covariate.

        :math:`(\\sum xy - \\sum x \\sum y / n)/(n-1)`.
        """
        n = self.n
        if n < 2:
            return math.nan
        return (self.post_pre_sum_of_products - self.post.sum * self.pre.sum / n) / (n - 1)


#: Any per-arm sufficient statistic.
Statistic: TypeAlias = ProportionStatistic | SampleMeanStatistic | RegressionAdjustedStatistic


def outcome_statistic(stat: Statistic) -> ProportionStatistic | SampleMeanStatistic:
    """The outcome part of ``stat`` (drops the CUPED covariate)."""
    return stat.post if isinstance(stat, RegressionAdjustedStatistic) else stat


def metric_type(stat: Statistic) -> MetricType:
    """``"proportion"`` for a 0/1 outcome, ``"mean"`` otherwise."""
    return "proportion" if isinstance(outcome_statistic(stat), ProportionStatistic) else "mean"


def validate_arms(arms: Mapping[str, Statistic], control: str | None = None) -> str:
    """Check an experiment's arms and return the control's name.

    Parameters
    ----------
    arms
        ``{variant: statistic}`` with at least two entries, all of the same metric type.
    control
        Name of the control arm; ``None`` means the first entry.

    Raises
    ------
    ValueError
        Fewer than two arms, mixed metric types, or an unknown control.
    """
    names = list(arms)
    if len(names) < 2:
        raise ValueError(TOO_FEW_ARMS_MESSAGE.format(k=len(names), names=names))
    kinds = {metric_type(s) for s in arms.values()}
    if len(kinds) > 1:
        raise ValueError(MIXED_METRICS_MESSAGE.format(kinds=sorted(kinds)))
    if control is None:
        return names[0]
    if control not in arms:
        raise ValueError(UNKNOWN_CONTROL_MESSAGE.format(control=control, names=names))
    return control
