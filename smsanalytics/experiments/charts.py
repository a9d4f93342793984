"""Altair charts of experiment readouts.

- :func:`chart_lift`: lift of each arm with its interval, against a zero line;
- :func:`chart_sequential`: the confidence sequence over time (and the naive interval);
- :func:`chart_posteriors`: posterior densities of each arm's mean.

Charts that overlay several marks are :class:`altair.LayerChart` objects; a single-mark chart is an
:class:`altair.Chart`. Both render in JupyterLab and save with ``.save("chart.html")``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import altair as alt
import numpy as np
import polars as pl
from scipy import stats

from smsanalytics.experiments.bayesian import BetaPrior
from smsanalytics.experiments.readout import DifferenceType, ReadoutResult
from smsanalytics.experiments.stats import ProportionStatistic, Statistic, outcome_statistic

__all__ = ["chart_lift", "chart_sequential", "chart_posteriors"]

SEQUENCE_COLUMNS_MESSAGE = (
    "the frame lacks column(s) {missing}; build it with confidence_sequence()"
)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def chart_lift(
    result: ReadoutResult, *, difference_type: DifferenceType | None = None
) -> alt.LayerChart:
    """Lift of each treatment arm with its interval (confidence, credible or sequential).

    Parameters
    ----------
    result
        A :class:`~smsanalytics.experiments.readout.ReadoutResult`.
    difference_type
        ``relative`` or ``absolute``; default the readout's ``difference_type``.

    Returns
    -------
    altair.LayerChart
        Interval rules, point estimates (filled when significant or, for the Bayesian method,
        when the chance to beat control is above 95 % or below 5 %) and a dashed zero line. The
        title carries the SRM p-value.
    """
    kind = difference_type or result.difference_type
    rel = kind == "relative"
    rows = []
    for a in result.arms:
        if result.method == "bayesian":
            ctb = a.chance_to_beat_control
            decided = ctb is not None and (ctb > 0.95 or ctb < 0.05)
        else:
            decided = bool(a.is_significant)
        rows.append(
            {
                "variant": a.variant,
                "lift": _finite(a.lift_rel if rel else a.lift_abs),
                "ci_low": _finite(a.ci_rel_low if rel else a.ci_abs_low),
                "ci_high": _finite(a.ci_rel_high if rel else a.ci_abs_high),
                "p_value_adjusted": a.p_value_adjusted,
                "chance_to_beat_control": a.chance_to_beat_control,
                "n": a.n,
                "decided": "yes" if decided else "no",
            }
        )
    data = pl.DataFrame(
        rows,
        schema={
            "variant": pl.String,
            "lift": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "p_value_adjusted": pl.Float64,
            "chance_to_beat_control": pl.Float64,
            "n": pl.Int64,
            "decided": pl.String,
        },
    )
    fmt = ".1%" if rel else ".4f"
    title = f"{'Relative' if rel else 'Absolute'} lift vs {result.control} ({result.method})"
    subtitle = f"SRM p = {result.srm_p_value:.3g}" + (
        " — MISMATCH, do not trust" if result.srm_mismatch else ""
    )
    base = alt.Chart(data)
    y = alt.Y("variant:N", title=None, sort=None)
    intervals = base.mark_rule(strokeWidth=3, opacity=0.6).encode(
        x=alt.X("ci_low:Q", title=f"{kind} lift", axis=alt.Axis(format=fmt)),
        x2="ci_high:Q",
        y=y,
    )
    points = base.mark_point(size=90).encode(
        x="lift:Q",
        y=y,
        fill=alt.Fill(
            "decided:N",
            scale=alt.Scale(domain=["yes", "no"], range=["black", "white"]),
            title="decided",
        ),
        color=alt.value("black"),
        tooltip=[
            alt.Tooltip("variant:N"),
            alt.Tooltip("lift:Q", format=fmt),
            alt.Tooltip("ci_low:Q", format=fmt),
            alt.Tooltip("ci_high:Q", format=fmt),
            alt.Tooltip("p_value_adjusted:Q", format=".4f"),
            alt.Tooltip("chance_to_beat_control:Q", format=".3f"),
            alt.Tooltip("n:Q"),
        ],
    )
    zero = (
        alt.Chart(pl.DataFrame({"x": [0.0]}))
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(x="x:Q")
    )
    return alt.layer(zero, intervals, points).properties(
        title=alt.Title(title, subtitle=subtitle), width=400, height=max(60, 40 * len(rows))
    )


def chart_sequential(
    frame: pl.DataFrame, *, difference_type: DifferenceType = "relative", show_naive: bool = True
) -> alt.LayerChart:
    """The confidence sequence over looks (output of ``confidence_sequence``).

    Parameters
    ----------
    frame
        Output of ``confidence_sequence`` (columns ``look``, ``lift_*``, ``ci_*``,
        ``naive_ci_abs_*``).
    difference_type
        ``relative`` (default) or ``absolute``.
    show_naive
        Overlay the fixed-horizon interval (absolute lift only), which is *not* valid under
        repeated looks, to show how much wider the sequence is.

    Returns
    -------
    altair.LayerChart
        A band for the confidence sequence, the lift as a line, a dashed zero line.
    """
    rel = difference_type == "relative"
    lift, lo, hi = (
        ("lift_rel", "ci_rel_low", "ci_rel_high")
        if rel
        else ("lift_abs", "ci_abs_low", "ci_abs_high")
    )
    missing = [c for c in ("look", lift, lo, hi) if c not in frame.columns]
    if missing:
        raise ValueError(SEQUENCE_COLUMNS_MESSAGE.format(missing=missing))
    data = frame.select(
        pl.col("look"),
        pl.col(lift).alias("lift"),
        pl.col(lo).alias("ci_low"),
        pl.col(hi).alias("ci_high"),
        *([pl.col("p_value")] if "p_value" in frame.columns else []),
        *(
            [
                pl.col("naive_ci_abs_low").alias("naive_low"),
                pl.col("naive_ci_abs_high").alias("naive_high"),
            ]
            if not rel and show_naive and "naive_ci_abs_low" in frame.columns
            else []
        ),
    )
    look_type = (
        "T"
        if data.schema["look"] in (pl.Date, pl.Datetime)
        or isinstance(data.schema["look"], pl.Datetime)
        else "Q"
    )
    fmt = ".1%" if rel else ".4f"
    x = alt.X(f"look:{look_type}", title="look")
    base = alt.Chart(data)
    band = base.mark_area(opacity=0.25).encode(
        x=x,
        y=alt.Y("ci_low:Q", title=f"{difference_type} lift", axis=alt.Axis(format=fmt)),
        y2="ci_high:Q",
    )
    line = base.mark_line(point=True).encode(
        x=x,
        y="lift:Q",
        tooltip=[
            alt.Tooltip("look"),
            alt.Tooltip("lift:Q", format=fmt),
            alt.Tooltip("ci_low:Q", format=fmt),
            alt.Tooltip("ci_high:Q", format=fmt),
        ]
        + ([alt.Tooltip("p_value:Q", format=".4f")] if "p_value" in data.columns else []),
    )
    layers: list[alt.Chart] = [band, line]
    if "naive_low" in data.columns:
        layers.append(base.mark_line(strokeDash=[2, 2], color="gray").encode(x=x, y="naive_low:Q"))
        layers.append(base.mark_line(strokeDash=[2, 2], color="gray").encode(x=x, y="naive_high:Q"))
    zero = (
        alt.Chart(pl.DataFrame({"y": [0.0]}))
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(y="y:Q")
    )
    return alt.layer(zero, *layers).properties(
        title=alt.Title("Anytime-valid confidence sequence", subtitle="band: valid at every look"),
        width=500,
        height=250,
    )


def chart_posteriors(
    arms: Mapping[str, Statistic],
    *,
    prior: BetaPrior | None = None,
    points: int = 400,
) -> alt.Chart:
    """Posterior density of each arm's mean.

    Parameters
    ----------
    arms
        ``{variant: statistic}``.
    prior
        Beta prior for 0/1 outcomes (default Beta(1, 1)): the posterior is
        :math:`Beta(\\alpha + s, \\beta + n - s)`. Real outcomes use the flat-prior normal
        posterior :math:`N(\\bar y, s^2/n)` (unadjusted).
    points
        Grid size.

    Returns
    -------
    altair.Chart
        One line per arm, coloured by variant.
    """
    prior = prior or BetaPrior()
    dists = {}
    for name, stat in arms.items():
        s = outcome_statistic(stat)
        if isinstance(s, ProportionStatistic):
            dists[name] = stats.beta(prior.alpha + s.sum, prior.beta + s.n - s.sum)
        else:
            dists[name] = stats.norm(s.mean, math.sqrt(s.variance / s.n))
    lo = min(float(d.ppf(1e-4)) for d in dists.values())
    hi = max(float(d.isf(1e-4)) for d in dists.values())
    grid = np.linspace(lo, hi, points)
    frames = [
        pl.DataFrame({"variant": [name] * points, "value": grid, "density": d.pdf(grid)})
        for name, d in dists.items()
    ]
    data = pl.concat(frames)
    return (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("value:Q", title="arm mean (posterior)", scale=alt.Scale(zero=False)),
            y=alt.Y("density:Q", title="density"),
            color=alt.Color("variant:N", sort=list(arms)),
        )
        .properties(title="Posterior densities", width=500, height=250)
    )
