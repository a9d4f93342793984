"""Charts of the send-time model: hour-of-week heat maps, chosen hours, the evaluation.

Each builder aggregates before charting (no per-contact rows, never a phone number, reach the
chart's data) and returns an ``alt.Chart`` (or an ``alt.LayerChart`` when marks are layered).

>>> import polars as pl
>>> windows = pl.DataFrame({"local_start": pl.Series(["2026-05-12 18:00", "2026-05-12 12:00"])
...                         .str.to_datetime(), "level": ["contact", "global"]})
>>> chart_chosen_hours(windows).to_dict()["mark"]["type"]
'bar'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import polars as pl

if TYPE_CHECKING:
    from smsanalytics.sendtime.evaluate import SendTimeEvaluation
    from smsanalytics.sendtime.model import SendTimeModel

__all__ = ["chart_chosen_hours", "chart_evaluation", "chart_hour_of_week_heatmap"]

_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_LEVELS = ["contact", "segment", "global", "default"]
_LABELS = {
    "random": "Random allowed hour",
    "global_best": "Global best hour",
    "naive": "Naive (most past clicks)",
    "model": "Model",
    "oracle": "Oracle (true best hour)",
}


def chart_hour_of_week_heatmap(
    model: SendTimeModel, *, segments: bool = True, relative: bool = True, columns: int = 3
) -> alt.Chart:
    """Heat map of the response rate by local hour of day × day of week, global and per segment.

    Parameters
    ----------
    model
        A fitted :class:`~smsanalytics.sendtime.SendTimeModel`.
    segments
        Add one panel per segment (when the model has segments).
    relative
        Colour by the rate relative to the panel's mean (1 = average hour), so panels of
        different levels compare; otherwise by the rate itself.
    columns
        Panels per row.

    Returns
    -------
    altair.Chart
        A faceted ``rect`` chart; hours without data are left blank.
    """
    frame = model.profile_frame()
    if not segments:
        frame = frame.filter(pl.col("profile") == "global")
    frame = (
        frame.filter(pl.col("rate").is_not_null())
        .with_columns(
            (pl.col("rate") / pl.col("rate").mean().over("profile")).alias("relative_rate"),
            pl.col("day_of_week")
            .replace_strict(list(range(7)), _DAYS, return_dtype=pl.String)
            .alias("day"),
            pl.format(
                "{} ({} responses)", pl.col("profile"), pl.col("responses").cast(pl.Int64)
            ).alias("panel"),
        )
        .select("panel", "day", "local_hour", "rate", "relative_rate")
    )
    panels = (
        frame.unique("panel")
        .sort(pl.col("panel").str.starts_with("global ("), "panel", descending=[True, False])[
            "panel"
        ]
        .to_list()
    )
    field = "relative_rate" if relative else "rate"
    title = "Response rate by local hour of week" + (
        " (relative to each panel's mean)" if relative else ""
    )
    return (
        alt.Chart(frame, title=title)
        .mark_rect()
        .encode(
            x=alt.X("local_hour:O", title="Local hour"),
            y=alt.Y("day:O", sort=_DAYS, title=None),
            color=alt.Color(
                f"{field}:Q",
                title="Relative rate" if relative else "Rate",
                scale=alt.Scale(scheme="viridis"),
            ),
            tooltip=[
                alt.Tooltip("panel:N", title="Profile"),
                alt.Tooltip("day:O"),
                alt.Tooltip("local_hour:O", title="Hour"),
                alt.Tooltip("rate:Q", format=".2%"),
                alt.Tooltip("relative_rate:Q", format=".2f", title="Relative"),
            ],
        )
        .properties(width=260, height=120)
        .facet(facet=alt.Facet("panel:N", title=None, sort=panels), columns=columns)
    )


def chart_chosen_hours(chosen: pl.DataFrame) -> alt.Chart:
    """Bars: contacts per chosen local hour, stacked by the fallback level used.

    Parameters
    ----------
    chosen
        Output of :meth:`SendTimeModel.predict_windows` (``local_start``, ``level``) or of
        :meth:`SendTimeModel.predict` (``local_hour``, ``level``).
    """
    if "local_start" in chosen.columns:
        hours = chosen.filter(pl.col("local_start").is_not_null()).select(
            pl.col("local_start").dt.hour().alias("local_hour"), "level"
        )
    else:
        hours = chosen.select("local_hour", "level")
    counts = hours.group_by("local_hour", "level").len("contacts").sort("local_hour", "level")
    return (
        alt.Chart(counts, title="Chosen send hours (local time)")
        .mark_bar()
        .encode(
            x=alt.X("local_hour:O", title="Local hour"),
            y=alt.Y("contacts:Q", title="Contacts"),
            color=alt.Color("level:N", sort=_LEVELS, title="Fallback level"),
            tooltip=[
                alt.Tooltip("local_hour:O", title="Hour"),
                alt.Tooltip("level:N"),
                alt.Tooltip("contacts:Q", format=","),
            ],
        )
    )


def chart_evaluation(evaluation: SendTimeEvaluation) -> alt.LayerChart:
    """Bars of the expected click rate of each strategy with 95 % interval whiskers.

    Parameters
    ----------
    evaluation
        Output of :func:`smsanalytics.sendtime.evaluate_programme`.
    """
    rows = evaluation.table().with_columns(
        pl.col("strategy").replace_strict(_LABELS, return_dtype=pl.String).alias("label")
    )
    order = [_LABELS[s] for s in rows["strategy"].to_list()]
    share = evaluation.share_of_oracle_gain
    base = alt.Chart(
        rows,
        title=alt.Title(
            "Expected click rate by send-time strategy",
            subtitle=f"model captures {share:.0%} of the oracle's gain over random; "
            f"{evaluation.n_eval_sends:,} later sends to {evaluation.n_eval_contacts:,} contacts",
        ),
    )
    bars = base.mark_bar().encode(
        y=alt.Y("label:N", sort=order, title=None),
        x=alt.X("expected_ctr:Q", title="Expected click rate", axis=alt.Axis(format=".1%")),
        color=alt.condition(
            alt.datum.strategy == "model", alt.value("#d62728"), alt.value("#7f7f7f")
        ),
        tooltip=[
            alt.Tooltip("label:N", title="Strategy"),
            alt.Tooltip("expected_ctr:Q", format=".3%"),
            alt.Tooltip("ci_low:Q", format=".3%"),
            alt.Tooltip("ci_high:Q", format=".3%"),
        ],
    )
    whiskers = base.mark_rule(color="black").encode(
        y=alt.Y("label:N", sort=order), x="ci_low:Q", x2="ci_high:Q"
    )
    return alt.layer(bars, whiskers)
