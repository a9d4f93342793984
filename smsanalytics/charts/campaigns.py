"""Charts of campaign analysis: funnel, KPIs by segment/variant/hour, click delays, cost vs revenue.

Every builder takes the aggregated frames of :mod:`smsanalytics.campaigns` (never per-contact rows)
and returns an altair chart; only the columns a chart draws are embedded in its data.

>>> import polars as pl
>>> kpis = pl.DataFrame({"sent": [100], "delivered": [95], "clicked": [10], "converted": [2],
...                      "opted_out": [1]})
>>> type(chart_funnel(kpis)).__name__
'LayerChart'
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import polars as pl

__all__ = [
    "METRIC_TITLES",
    "chart_click_delay",
    "chart_cost_vs_revenue",
    "chart_failures",
    "chart_funnel",
    "chart_kpi_by",
    "chart_kpi_by_hour",
    "chart_weekly_activity",
]

#: Axis titles of the rate columns of :func:`smsanalytics.campaigns.campaign_kpis`.
METRIC_TITLES: dict[str, str] = {
    "delivery_rate": "Delivery rate",
    "failure_rate": "Failure rate",
    "ctr": "Click-through rate (of delivered)",
    "conversion_rate": "Conversion rate (of delivered)",
    "opt_out_rate": "Opt-out rate (of sent)",
}
_FUNNEL = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("clicked", "Clicked (people)"),
    ("converted", "Converted"),
)
_DIMENSION_TITLES = {
    "campaign_id": "Campaign",
    "kind": "Kind",
    "variant": "Variant",
    "segment": "Segment",
    "country": "Country",
    "local_hour": "Local send hour",
}


def _require(frame: pl.DataFrame, columns: Sequence[str], chart: str, source: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{chart}: the frame lacks column(s) {missing}; build it with {source}")


def _metric(metric: str) -> str:
    if metric not in METRIC_TITLES:
        raise ValueError(f"metric must be one of {sorted(METRIC_TITLES)}, got {metric!r}")
    return METRIC_TITLES[metric]


def chart_funnel(
    kpis: pl.DataFrame, *, by: str | None = None, title: str = "Campaign funnel"
) -> alt.LayerChart:
    """Sent → delivered → clicked → converted, as bars labelled with the share of sent.

    Parameters
    ----------
    kpis
        From :func:`smsanalytics.campaigns.campaign_kpis`: one row (``by=()``), or one row per
        value of ``by`` (bars side by side, e.g. per variant).
    by
        The group column of ``kpis`` when it has several rows.
    """
    cols = [c for c, _ in _FUNNEL]
    _require(kpis, cols + ([by] if by else []), "chart_funnel", "campaign_kpis()")
    if by is None and kpis.height > 1:
        raise ValueError(
            "chart_funnel: kpis has several rows; pass by=<its group column> or use by=()"
        )
    group = by or "_group"
    data = (kpis if by else kpis.with_columns(pl.lit("all").alias("_group"))).select(
        pl.col(group).cast(pl.String), *cols
    )
    stages = {c: label for c, label in _FUNNEL}
    long = (
        data.unpivot(index=group, on=cols, variable_name="stage_key", value_name="messages")
        .with_columns(
            pl.col("stage_key").replace_strict(stages, return_dtype=pl.String).alias("stage"),
            (pl.col("messages") / pl.col("messages").first().over(group)).alias("share_of_sent"),
        )
        .drop("stage_key")
    )
    order = [label for _, label in _FUNNEL]
    top = float(long["messages"].max() or 1)
    enc = {
        "y": alt.Y("stage:N", sort=order, title=None),
        "x": alt.X("messages:Q", title="Messages", scale=alt.Scale(domain=[0, top * 1.15])),
        "tooltip": [
            alt.Tooltip("stage:N", title="Stage"),
            alt.Tooltip("messages:Q", format=","),
            alt.Tooltip("share_of_sent:Q", format=".2%", title="Share of sent"),
        ],
    }
    if by:
        enc["yOffset"] = alt.YOffset(f"{group}:N", title=_DIMENSION_TITLES.get(by, by))
        enc["color"] = alt.Color(f"{group}:N", title=_DIMENSION_TITLES.get(by, by))
        enc["tooltip"].insert(0, alt.Tooltip(f"{group}:N", title=_DIMENSION_TITLES.get(by, by)))
    base = alt.Chart(long)
    bars = base.mark_bar().encode(**enc)
    labels = base.mark_text(align="left", dx=3, fontSize=11).encode(
        y=enc["y"], x="messages:Q", text=alt.Text("share_of_sent:Q", format=".1%"),
        **({"yOffset": enc["yOffset"]} if by else {}),
    )  # fmt: skip
    return alt.layer(bars, labels).properties(
        title=title, width=420, height=alt.Step(22 if by else 32)
    )


def chart_kpi_by(
    kpis: pl.DataFrame,
    by: str,
    *,
    metric: str = "ctr",
    title: str | None = None,
    sort: Sequence[str] | None = None,
) -> alt.LayerChart:
    """A rate per group (segment, variant, country, campaign …) with its Wilson interval.

    Parameters
    ----------
    kpis
        From :func:`smsanalytics.campaigns.campaign_kpis` grouped by ``by``.
    by
        The group column.
    metric
        A rate column: one of :data:`METRIC_TITLES`.
    sort
        Order of the groups (default: by the rate, highest first).
    """
    label = _metric(metric)
    cols = [by, metric, f"{metric}_low", f"{metric}_high", "sent", "delivered"]
    _require(kpis, cols, "chart_kpi_by", f"campaign_kpis(by=({by!r},))")
    data = kpis.select(pl.col(by).cast(pl.String), *cols[1:]).filter(pl.col(metric).is_not_null())
    order = list(sort) if sort is not None else "-x"
    dim = _DIMENSION_TITLES.get(by, by)
    y = alt.Y(f"{by}:N", sort=order, title=dim)
    base = alt.Chart(data)
    rule = base.mark_rule(color="#4c78a8").encode(
        y=y,
        x=alt.X(f"{metric}_low:Q", title=label, axis=alt.Axis(format="%")),
        x2=f"{metric}_high:Q",
    )
    point = base.mark_point(filled=True, size=60, color="#4c78a8").encode(
        y=y,
        x=f"{metric}:Q",
        tooltip=[
            alt.Tooltip(f"{by}:N", title=dim),
            alt.Tooltip(f"{metric}:Q", format=".2%", title=label),
            alt.Tooltip(f"{metric}_low:Q", format=".2%", title="95 % low"),
            alt.Tooltip(f"{metric}_high:Q", format=".2%", title="95 % high"),
            alt.Tooltip("sent:Q", format=","),
            alt.Tooltip("delivered:Q", format=","),
        ],
    )
    return alt.layer(rule, point).properties(
        title=title or f"{label} by {dim.lower()}", width=420, height=alt.Step(22)
    )


def chart_kpi_by_hour(
    kpis: pl.DataFrame, *, metric: str = "ctr", title: str | None = None
) -> alt.VConcatChart:
    """A rate by local send hour (the contact's own clock), with its Wilson band and the sends.

    Parameters
    ----------
    kpis
        From :func:`smsanalytics.campaigns.campaign_kpis` with ``by=("local_hour",)``; rows
        without a local hour (unknown time zone) are left out.
    """
    label = _metric(metric)
    cols = ["local_hour", metric, f"{metric}_low", f"{metric}_high", "sent"]
    _require(kpis, cols, "chart_kpi_by_hour", "campaign_kpis(by=('local_hour',))")
    data = kpis.select(cols).filter(
        pl.col("local_hour").is_not_null() & pl.col(metric).is_not_null()
    )
    x = alt.X("local_hour:Q", title="Local send hour", scale=alt.Scale(domain=[0, 23]),
              axis=alt.Axis(tickCount=24, format="d"))  # fmt: skip
    base = alt.Chart(data)
    band = base.mark_area(opacity=0.25, color="#4c78a8").encode(
        x=x,
        y=alt.Y(f"{metric}_low:Q", title=label, axis=alt.Axis(format="%")),
        y2=f"{metric}_high:Q",
    )
    line = base.mark_line(point=True, color="#4c78a8").encode(
        x=x,
        y=f"{metric}:Q",
        tooltip=[
            alt.Tooltip("local_hour:Q", title="Local hour"),
            alt.Tooltip(f"{metric}:Q", format=".2%", title=label),
            alt.Tooltip(f"{metric}_low:Q", format=".2%", title="95 % low"),
            alt.Tooltip(f"{metric}_high:Q", format=".2%", title="95 % high"),
            alt.Tooltip("sent:Q", format=","),
        ],
    )
    sends = (
        base.mark_bar(color="#bbbbbb")
        .encode(x=x, y=alt.Y("sent:Q", title="Messages sent"))
        .properties(height=80, width=420)
    )
    top = alt.layer(band, line).properties(width=420, height=220)
    return alt.vconcat(top, sends).properties(title=title or f"{label} by local send hour")


def chart_click_delay(
    distribution: pl.DataFrame, *, by: str | None = None, title: str = "Time to the first click"
) -> alt.LayerChart:
    """Share of first human clicks that came within *t* minutes of sending (log time axis).

    A dashed line marks 90 %: where it crosses the curve is the delay within which 9 of 10
    clicks came.

    Parameters
    ----------
    distribution
        From :func:`smsanalytics.campaigns.click_delay_distribution` (optionally grouped by
        ``by``: one curve per group).
    """
    cols = ["within_minutes", "share", "share_low", "share_high", "clicked", "clicked_within"]
    _require(
        distribution, cols + ([by] if by else []), "chart_click_delay", "click_delay_distribution()"
    )
    data = distribution.select(*([pl.col(by).cast(pl.String)] if by else []), *cols)
    x = alt.X("within_minutes:Q", title="Minutes after sending", scale=alt.Scale(type="log"))
    color = {"color": alt.Color(f"{by}:N", title=_DIMENSION_TITLES.get(by, by))} if by else {}
    base = alt.Chart(data)
    band = base.mark_area(opacity=0.2, **({} if by else {"color": "#4c78a8"})).encode(
        x=x, y=alt.Y("share_low:Q", title="Share of clicks", axis=alt.Axis(format="%"),
                     scale=alt.Scale(domain=[0, 1])),
        y2="share_high:Q", **color,
    )  # fmt: skip
    line = base.mark_line(point=True, **({} if by else {"color": "#4c78a8"})).encode(
        x=x,
        y="share:Q",
        tooltip=[
            *([alt.Tooltip(f"{by}:N")] if by else []),
            alt.Tooltip("within_minutes:Q", title="Within (minutes)"),
            alt.Tooltip("share:Q", format=".1%", title="Share of clicks"),
            alt.Tooltip("clicked_within:Q", format=","),
            alt.Tooltip("clicked:Q", format=",", title="Clicked messages"),
        ],
        **color,
    )
    ninety = (
        alt.Chart(pl.DataFrame({"y": [0.9]}))
        .mark_rule(strokeDash=[4, 4], color="gray")
        .encode(y="y:Q")
    )
    return alt.layer(band, line, ninety).properties(title=title, width=420, height=260)


def chart_cost_vs_revenue(
    kpis: pl.DataFrame, *, label: str = "campaign_id", title: str = "Cost and attributed revenue"
) -> alt.LayerChart:
    """Each group (campaign by default) as a point: SMS cost against attributed revenue.

    Points above the dashed break-even line (revenue = cost) paid for their messages; the size is
    the number of messages sent, the colour the campaign kind when ``kpis`` has it.
    """
    cols = [label, "cost", "revenue", "sent", "roi"]
    _require(kpis, cols, "chart_cost_vs_revenue", f"campaign_kpis(by=({label!r},))")
    extra = ["kind"] if "kind" in kpis.columns and label != "kind" else []
    data = kpis.select(pl.col(label).cast(pl.String), *cols[1:], *extra)
    top = float(data["cost"].max() or 1.0)
    diagonal = (
        alt.Chart(pl.DataFrame({"x": [0.0, top], "y": [0.0, top]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="x:Q", y="y:Q")
    )
    points = (
        alt.Chart(data)
        .mark_circle(opacity=0.8)
        .encode(
            x=alt.X("cost:Q", title="SMS cost"),
            y=alt.Y("revenue:Q", title="Attributed revenue"),
            size=alt.Size("sent:Q", title="Messages sent"),
            **({"color": alt.Color("kind:N", title="Kind")} if extra else {}),
            tooltip=[
                alt.Tooltip(f"{label}:N", title=_DIMENSION_TITLES.get(label, label)),
                *([alt.Tooltip("kind:N")] if extra else []),
                alt.Tooltip("sent:Q", format=","),
                alt.Tooltip("cost:Q", format=",.2f"),
                alt.Tooltip("revenue:Q", format=",.2f"),
                alt.Tooltip("roi:Q", format=".1f", title="ROI"),
            ],
        )
    )
    return alt.layer(diagonal, points).properties(title=title, width=420, height=320)


def chart_failures(
    failures: pl.DataFrame, *, title: str = "Undelivered messages by error code"
) -> alt.Chart:
    """Failed and undelivered messages per error code (all groups of ``failures`` summed).

    Parameters
    ----------
    failures
        From :func:`smsanalytics.campaigns.failures_by_error_code`.
    """
    _require(
        failures, ["status", "error_code", "messages"], "chart_failures", "failures_by_error_code()"
    )
    desc = "description" in failures.columns
    label = pl.col("error_code")
    if desc:
        label = label + pl.lit(" ") + pl.col("description").fill_null("")
    data = (
        failures.group_by("status", "error_code")
        .agg(pl.col("messages").sum(), *([pl.col("description").first()] if desc else []))
        .with_columns(label.str.strip_chars().alias("code"))
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("code:N", sort="-x", title="Error code"),
            x=alt.X("messages:Q", title="Messages"),
            color=alt.Color("status:N", title="Status"),
            tooltip=[
                alt.Tooltip("code:N", title="Error"),
                alt.Tooltip("status:N"),
                alt.Tooltip("messages:Q", format=","),
            ],  # fmt: skip
        )
        .properties(title=title, width=420, height=alt.Step(22))
    )


def chart_weekly_activity(
    weekly: pl.DataFrame, *, title: str = "The programme week by week"
) -> alt.FacetChart:
    """Messages sent, human clicks, orders and STOP replies per week (one panel each).

    Parameters
    ----------
    weekly
        From :func:`smsanalytics.campaigns.weekly_activity`.
    """
    series = {
        "sent": "Messages sent",
        "human_clicks": "Human clicks",
        "orders": "Orders",
        "stops": "STOP replies",
    }
    _require(weekly, ["week", *series], "chart_weekly_activity", "weekly_activity()")
    long = (
        weekly.select("week", *series)
        .unpivot(index="week", variable_name="key", value_name="count")
        .with_columns(pl.col("key").replace_strict(series, return_dtype=pl.String).alias("series"))
    )
    return (
        alt.Chart(long)
        .mark_line(point=alt.OverlayMarkDef(size=15))
        .encode(
            x=alt.X("week:T", title="Week (UTC, from Monday)"),
            y=alt.Y("count:Q", title=None),
            tooltip=[
                alt.Tooltip("week:T"),
                alt.Tooltip("series:N"),
                alt.Tooltip("count:Q", format=","),
            ],
        )
        .properties(width=420, height=90)
        .facet(row=alt.Row("series:N", sort=list(series.values()), title=None))
        .resolve_scale(y="independent")
        .properties(title=title)
    )
