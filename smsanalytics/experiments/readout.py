"""One entry point for an experiment readout: SRM check first, then every arm against the control.

>>> from smsanalytics.experiments import ProportionStatistic, readout
>>> r = readout({"A": ProportionStatistic(10_000, 300), "B": ProportionStatistic(10_050, 370)})
>>> r.srm_mismatch, [a.variant for a in r.arms], round(r.arms[0].p_value, 4)
(False, ['B'], 0.0073)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

from smsanalytics.experiments.bayesian import BetaPrior, bayesian_test
from smsanalytics.experiments.frequentist import (
    Alternative,
    CorrectionMethod,
    adjust_p_values,
    frequentist_test,
)
from smsanalytics.experiments.sequential import DEFAULT_TUNING_N, sequential_test
from smsanalytics.experiments.srm import DEFAULT_SRM_THRESHOLD, SrmResult, srm_test
from smsanalytics.experiments.stats import (
    MetricType,
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    Statistic,
    metric_type,
    outcome_statistic,
    validate_arms,
)

__all__ = [
    "Method",
    "DifferenceType",
    "ArmResult",
    "ReadoutResult",
    "readout",
    "statistics_from_frame",
]

#: Inference method of a readout.
Method = Literal["frequentist", "bayesian", "sequential"]
#: Which lift ``ci_low``/``ci_high`` refer to.
DifferenceType = Literal["relative", "absolute"]

METHOD_MESSAGE = "method must be 'frequentist', 'bayesian' or 'sequential', got {m!r}"
DIFFERENCE_MESSAGE = "difference_type must be 'relative' or 'absolute', got {d!r}"
MISSING_COLUMNS_MESSAGE = "the arm table lacks column(s) {missing}; it has {columns}"
DUPLICATE_VARIANT_MESSAGE = "variant {v!r} appears more than once in the arm table; one row per arm"
NULL_VALUE_MESSAGE = "column {col!r} is empty for variant {v!r}"
SRM_WARNING = (
    "sample-ratio mismatch: arm sizes {observed} are unlikely under the configured split {weights} "
    "(chi-square p = {p:.3g} < {t}); the assignment or the data is broken, do not trust the results"
)
SMALL_ARM_WARNING = "arm {v!r} has only {n} units; normal approximations may be poor"
NO_CUPED_WARNING = (
    "CUPED requested but the arms carry no pre-period covariate; results are unadjusted"
)


@dataclass(frozen=True)
class ArmResult:
    """One treatment arm compared with the control.

    Attributes
    ----------
    variant, n
        Arm name and units.
    rate
        Observed mean of the arm (conversion rate, or revenue per contact), unadjusted.
    control_rate
        Observed mean of the control.
    lift_abs, lift_rel
        Estimated absolute and relative lift (CUPED-adjusted when ``variance_reduction`` is set;
        posterior means for the Bayesian method).
    ci_low, ci_high
        Interval of the lift chosen by ``difference_type`` (confidence, credible or
        confidence-sequence interval, per the method).
    ci_abs_low, ci_abs_high, ci_rel_low, ci_rel_high
        Both intervals.
    p_value, p_value_adjusted
        Raw and multiplicity-adjusted p-values (``None`` for the Bayesian method; anytime-valid
        for the sequential method).
    is_significant
        ``p_value_adjusted < alpha`` (``<=`` for the sequential method; ``None`` for Bayesian).
    chance_to_beat_control, expected_loss
        Bayesian :math:`P(\\mu_t > \\mu_c)` and :math:`E[\\max(\\mu_c-\\mu_t, 0)]`
        (``None`` for the other methods).
    variance_reduction
        CUPED variance reduction of the lift estimate (``None`` without CUPED).
    """

    variant: str
    n: int
    rate: float
    control_rate: float
    lift_abs: float
    lift_rel: float
    ci_low: float
    ci_high: float
    ci_abs_low: float
    ci_abs_high: float
    ci_rel_low: float
    ci_rel_high: float
    p_value: float | None
    p_value_adjusted: float | None
    is_significant: bool | None
    chance_to_beat_control: float | None
    expected_loss: float | None
    variance_reduction: float | None


@dataclass(frozen=True)
class ReadoutResult:
    """A full readout. The SRM check comes first: read it before any lift.

    Attributes
    ----------
    srm_p_value, srm_mismatch, srm
        Sample-ratio-mismatch check against the configured split.
    method, metric, control, control_n, control_rate
        What was tested.
    alpha, correction, difference_type, alternative
        Settings.
    cuped
        Whether CUPED adjustment was applied.
    tuning_n
        Tuning sample size of the sequential method (``None`` otherwise).
    arms
        One :class:`ArmResult` per non-control arm, in input order.
    warnings
        Human-readable warnings (SRM first).
    """

    srm_p_value: float
    srm_mismatch: bool
    srm: SrmResult
    method: Method
    metric: MetricType
    control: str
    control_n: int
    control_rate: float
    alpha: float
    correction: CorrectionMethod
    difference_type: DifferenceType
    alternative: Alternative
    cuped: bool
    tuning_n: float | None
    arms: tuple[ArmResult, ...]
    warnings: tuple[str, ...]


def readout(
    arms: Mapping[str, Statistic],
    *,
    control: str | None = None,
    method: Method = "frequentist",
    weights: Mapping[str, float] | Sequence[float] | None = None,
    alpha: float = 0.05,
    correction: CorrectionMethod = "holm",
    difference_type: DifferenceType = "relative",
    alternative: Alternative = "two-sided",
    cuped: bool = True,
    srm_threshold: float = DEFAULT_SRM_THRESHOLD,
    prior: BetaPrior | None = None,
    tuning_n: float = DEFAULT_TUNING_N,
) -> ReadoutResult:
    """Read out an experiment from per-arm sufficient statistics.

    Parameters
    ----------
    arms
        ``{variant: statistic}``: all :class:`ProportionStatistic` (conversion), all
        :class:`SampleMeanStatistic` (revenue), or :class:`RegressionAdjustedStatistic` for CUPED.
    control
        The control arm; default the first entry of ``arms``.
    method
        ``frequentist`` (z-test / Welch, :mod:`~smsanalytics.experiments.frequentist`),
        ``bayesian`` (beta-binomial / normal model) or ``sequential`` (anytime-valid confidence
        sequence).
    weights
        Configured split for the SRM check (mapping by arm or sequence in ``arms`` order); default
        equal.
    alpha
        Level of the tests and ``1 - alpha`` of the intervals.
    correction
        Multiple-comparison adjustment over the treatment arms: ``holm`` (default), ``bh``,
        ``bonferroni``, ``none``. Intervals are not adjusted.
    difference_type
        Which lift ``ci_low``/``ci_high`` describe: ``relative`` (default) or ``absolute``.
    alternative
        ``two-sided`` (default), ``larger`` or ``smaller`` (frequentist only; the sequential and
        Bayesian methods are two-sided).
    cuped
        Apply CUPED when the arms carry a pre-period covariate.
    srm_threshold
        SRM p-value threshold (default 0.001).
    prior
        Beta prior of the beta-binomial model (default Beta(1, 1)).
    tuning_n
        Tuning sample size of the sequential method.

    Returns
    -------
    ReadoutResult
    """
    if method not in ("frequentist", "bayesian", "sequential"):
        raise ValueError(METHOD_MESSAGE.format(m=method))
    if difference_type not in ("relative", "absolute"):
        raise ValueError(DIFFERENCE_MESSAGE.format(d=difference_type))
    control_name = validate_arms(arms, control)
    names = list(arms)
    srm = srm_test({k: arms[k].n for k in names}, weights, threshold=srm_threshold)
    warnings: list[str] = []
    if srm.is_mismatch:
        warnings.append(
            SRM_WARNING.format(
                observed=dict(zip(names, srm.observed, strict=True)),
                weights=dict(zip(names, [round(w, 4) for w in srm.weights], strict=True)),
                p=srm.p_value,
                t=srm_threshold,
            )
        )
    has_covariate = all(isinstance(s, RegressionAdjustedStatistic) for s in arms.values())
    if (
        cuped
        and not has_covariate
        and any(isinstance(s, RegressionAdjustedStatistic) for s in arms.values())
    ):
        warnings.append(NO_CUPED_WARNING)
    use_cuped = cuped and has_covariate
    for name in names:
        if arms[name].n < 30:
            warnings.append(SMALL_ARM_WARNING.format(v=name, n=arms[name].n))

    c = arms[control_name]
    treatments = [n for n in names if n != control_name]
    partial: list[dict[str, object]] = []
    for name in treatments:
        t = arms[name]
        row: dict[str, object] = {"variant": name, "n": t.n, "rate": outcome_statistic(t).mean}
        if method == "frequentist":
            r = frequentist_test(c, t, alpha=alpha, alternative=alternative, cuped=use_cuped)
            row.update(
                lift_abs=r.lift_abs,
                lift_rel=r.lift_rel,
                ci_abs_low=r.ci_abs_low,
                ci_abs_high=r.ci_abs_high,
                ci_rel_low=r.ci_rel_low,
                ci_rel_high=r.ci_rel_high,
                p_value=r.p_value,
                chance_to_beat_control=None,
                expected_loss=None,
                variance_reduction=r.variance_reduction,
            )
        elif method == "bayesian":
            b = bayesian_test(
                c, t, prior=prior or BetaPrior(), ci_level=1.0 - alpha, cuped=use_cuped
            )
            row.update(
                lift_abs=b.lift_abs,
                lift_rel=b.lift_rel,
                ci_abs_low=b.ci_abs_low,
                ci_abs_high=b.ci_abs_high,
                ci_rel_low=b.ci_rel_low,
                ci_rel_high=b.ci_rel_high,
                p_value=None,
                chance_to_beat_control=b.chance_to_beat_control,
                expected_loss=b.expected_loss,
                variance_reduction=b.variance_reduction,
            )
        else:
            s = sequential_test(c, t, alpha=alpha, tuning_n=tuning_n, cuped=use_cuped)
            row.update(
                lift_abs=s.lift_abs,
                lift_rel=s.lift_rel,
                ci_abs_low=s.ci_abs_low,
                ci_abs_high=s.ci_abs_high,
                ci_rel_low=s.ci_rel_low,
                ci_rel_high=s.ci_rel_high,
                p_value=s.p_value,
                chance_to_beat_control=None,
                expected_loss=None,
                variance_reduction=s.variance_reduction,
            )
        partial.append(row)

    if method == "bayesian":
        adjusted: list[float | None] = [None] * len(partial)
    else:
        adjusted = [
            float(x) for x in adjust_p_values([float(r["p_value"]) for r in partial], correction)
        ]  # type: ignore[arg-type]

    results = []
    for row, p_adj in zip(partial, adjusted, strict=True):
        if p_adj is None or math.isnan(p_adj):
            significant = None
        elif method == "sequential":
            significant = p_adj <= alpha
        else:
            significant = p_adj < alpha
        lo_key, hi_key = (
            ("ci_rel_low", "ci_rel_high")
            if difference_type == "relative"
            else ("ci_abs_low", "ci_abs_high")
        )
        results.append(
            ArmResult(
                variant=str(row["variant"]),
                n=int(row["n"]),  # type: ignore[call-overload]
                rate=float(row["rate"]),  # type: ignore[arg-type]
                control_rate=outcome_statistic(c).mean,
                lift_abs=float(row["lift_abs"]),  # type: ignore[arg-type]
                lift_rel=float(row["lift_rel"]),  # type: ignore[arg-type]
                ci_low=float(row[lo_key]),  # type: ignore[arg-type]
                ci_high=float(row[hi_key]),  # type: ignore[arg-type]
                ci_abs_low=float(row["ci_abs_low"]),  # type: ignore[arg-type]
                ci_abs_high=float(row["ci_abs_high"]),  # type: ignore[arg-type]
                ci_rel_low=float(row["ci_rel_low"]),  # type: ignore[arg-type]
                ci_rel_high=float(row["ci_rel_high"]),  # type: ignore[arg-type]
                p_value=row["p_value"],  # type: ignore[arg-type]
                p_value_adjusted=p_adj,
                is_significant=significant,
                chance_to_beat_control=row["chance_to_beat_control"],  # type: ignore[arg-type]
                expected_loss=row["expected_loss"],  # type: ignore[arg-type]
                variance_reduction=row["variance_reduction"],  # type: ignore[arg-type]
            )
        )
    return ReadoutResult(
        srm_p_value=srm.p_value,
        srm_mismatch=srm.is_mismatch,
        srm=srm,
        method=method,
        metric=metric_type(c),
        control=control_name,
        control_n=c.n,
        control_rate=outcome_statistic(c).mean,
        alpha=alpha,
        correction=correction,
        difference_type=difference_type,
        alternative=alternative if method == "frequentist" else "two-sided",
        cuped=use_cuped,
        tuning_n=float(tuning_n) if method == "sequential" else None,
        arms=tuple(results),
        warnings=tuple(warnings),
    )


def statistics_from_frame(
    frame: pl.DataFrame,
    *,
    sum_column: str = "conversions",
    sum_squares_column: str | None = None,
    pre_sum_column: str | None = None,
    pre_sum_squares_column: str | None = None,
    cross_column: str | None = None,
    variant_column: str = "variant",
    n_column: str = "n",
) -> dict[str, Statistic]:
    """Build ``{variant: statistic}`` from a table with one row per arm.

    Parameters
    ----------
    frame
        One row per arm, in the order wanted (the first row is the default control).
    sum_column
        Column with :math:`\\sum y` (conversions, revenue_sum).
    sum_squares_column
        Column with :math:`\\sum y^2`; ``None`` means a 0/1 outcome (:class:`ProportionStatistic`).
    pre_sum_column, pre_sum_squares_column, cross_column
        Covariate :math:`\\sum x`, :math:`\\sum x^2` and :math:`\\sum xy` for CUPED; all three or
        none.
    variant_column, n_column
        Names of the arm and unit-count columns.

    Raises
    ------
    ValueError
        Missing columns, duplicate variants or empty values, naming the column and the variant.
    """
    cuped_cols = [pre_sum_column, pre_sum_squares_column, cross_column]
    wanted = [variant_column, n_column, sum_column]
    if sum_squares_column:
        wanted.append(sum_squares_column)
    if any(cuped_cols):
        wanted += [c for c in cuped_cols if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing or (any(cuped_cols) and not all(cuped_cols)):
        if not missing:
            missing = [
                name
                for name, c in zip(("pre_sum", "pre_sumsq", "cross"), cuped_cols, strict=True)
                if not c
            ]
        raise ValueError(MISSING_COLUMNS_MESSAGE.format(missing=missing, columns=frame.columns))
    out: dict[str, Statistic] = {}
    for row in frame.select(wanted).iter_rows(named=True):
        v = str(row[variant_column])
        if v in out:
            raise ValueError(DUPLICATE_VARIANT_MESSAGE.format(v=v))
        for col in wanted:
            if row[col] is None:
                raise ValueError(NULL_VALUE_MESSAGE.format(col=col, v=v))
        n = int(row[n_column])
        post: ProportionStatistic | SampleMeanStatistic
        if sum_squares_column:
            post = SampleMeanStatistic(n, float(row[sum_column]), float(row[sum_squares_column]))
        else:
            post = ProportionStatistic(n, float(row[sum_column]))
        if all(cuped_cols):
            pre = SampleMeanStatistic(
                n, float(row[pre_sum_column]), float(row[pre_sum_squares_column])
            )  # type: ignore[index]
            out[v] = RegressionAdjustedStatistic(post, pre, float(row[cross_column]))  # type: ignore[index]
        else:
            out[v] = post
    return out
