"""Charts of the segmented base: segment sizes, RFM heat map, migrations, cluster profiles.

Each builder takes the frames of :mod:`smsanalytics.segments`, aggregates them (so no
per-contact rows, and never a phone number, reach the chart's data) and returns one
``alt.Chart``.

>>> import polars as pl
>>> from smsanalytics.segments import segment_counts
>>> seg = pl.DataFrame({"contact_id": [1, 2, 3], "rfm_segment": ["Lost", "Lost", "Champions"]})
>>> chart_segment_sizes(seg).to_dict()["mark"]["type"]
'bar'
"""

from __future__ import annotations

import altair as alt
import polars as pl

from smsanalytics.segments import (
    LIFECYCLE_STAGES,
    NO_PURCHASE_SEGMENT,
    RFM_SEGMENTS,
    segment_counts,
    segment_migration,
)

__all__ = [
    "chart_cluster_profiles",
    "chart_rfm_heatmap",
    "chart_segment_migration",
    "chart_segment_sizes",
]

_ORDER = {
    "rfm_segment": [*RFM_SEGMENTS, NO_PURCHASE_SEGMENT],
    "lifecycle_stage": list(LIFECYCLE_STAGES),
}


def _order(by: str, present: list[str]) -> list[str]:
    known = _ORDER.get(by, [])
    return [s for s in known if s in present] + sorted(s for s in present if s not in known)


def chart_segment_sizes(segmented: pl.DataFrame, *, by: str = "rfm_segment") -> alt.Chart:
    """Horizontal bars: contacts per RFM segment (or ``by="lifecycle_stage"``), with shares.

    Parameters
    ----------
    segmented
        Frame with a ``by`` column (from :func:`smsanalytics.segments.segment_contacts`).
    """
    counts = segment_counts(segmented, by)
    order = _order(by, counts[by].to_list())
    title = {"rfm_segment": "RFM segment", "lifecycle_stage": "Lifecycle stage"}.get(by, by)
    return (
        alt.Chart(
            counts,
            title=f"Contacts per {title[0].lower() + title[1:] if by != 'rfm_segment' else title}",
        )
        .mark_bar()
        .encode(
            y=alt.Y(f"{by}:N", sort=order, title=title),
            x=alt.X("contacts:Q", title="Contacts"),
            color=alt.Color(f"{by}:N", sort=order, legend=None),
            tooltip=[
                alt.Tooltip(f"{by}:N", title=title),
                alt.Tooltip("contacts:Q", format=","),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
    )


def chart_rfm_heatmap(rfm: pl.DataFrame) -> alt.Chart:
    """Heat map of recency score × frequency score, coloured by mean monetary value.

    Parameters
    ----------
    rfm
        Output of :func:`smsanalytics.segments.compute_rfm` (buyers have scores 1-5; contacts
        without orders are left out).
    """
    cells = (
        rfm.filter(pl.col("r_score") > 0)
        .group_by("r_score", "f_score")
        .agg(
            pl.len().alias("contacts"),
            pl.col("monetary_total").mean().alias("mean_monetary"),
            pl.col("rfm_segment").mode().first().alias("main_segment"),
        )
        .sort("r_score", "f_score")
    )
    return (
        alt.Chart(cells, title="RFM: recency × frequency, coloured by mean monetary value")
        .mark_rect()
        .encode(
            x=alt.X("f_score:O", title="Frequency score (5 = most orders)"),
            y=alt.Y("r_score:O", sort="descending", title="Recency score (5 = most recent)"),
            color=alt.Color(
                "mean_monetary:Q", title="Mean monetary", scale=alt.Scale(scheme="viridis")
            ),
            tooltip=[
                alt.Tooltip("r_score:O", title="R"),
                alt.Tooltip("f_score:O", title="F"),
                alt.Tooltip("contacts:Q", format=","),
                alt.Tooltip("mean_monetary:Q", format=",.2f"),
                alt.Tooltip("main_segment:N", title="Main segment"),
            ],
        )
    )


def chart_segment_migration(
    before: pl.DataFrame,
    after: pl.DataFrame,
    *,
    by: str = "rfm_segment",
    labels: tuple[str, str] = ("before", "after"),
    min_contacts: int = 1,
) -> alt.Chart:
    """Flows of contacts between segments from one date to another (a parallel-sets chart).

    Each line joins a segment at the first date to a segment at the second; its width is the
    number of contacts who moved that way. Contacts new at the second date come from ``(new)``,
    those gone go to ``(gone)``.

    Parameters
    ----------
    before, after
        Segmented frames at the two dates (``contact_id`` and ``by``).
    labels
        Names of the two dates on the x axis (e.g. the ``as_of`` dates).
    min_contacts
        Flows smaller than this are left out (to keep the chart readable).
    """
    flows = segment_migration(before, after, by=by).filter(pl.col("contacts") >= min_contacts)
    flows = flows.with_columns(
        pl.format("{} → {}", "from_segment", "to_segment").alias("flow"),
        (pl.col("from_segment") == pl.col("to_segment")).alias("is_stay"),
    )
    long = pl.concat(
        [
            flows.select(
                "flow",
                "contacts",
                "is_stay",
                pl.lit(labels[0]).alias("date"),
                pl.lit(0).alias("step"),
                pl.col("from_segment").alias("segment"),
            ),
            flows.select(
                "flow",
                "contacts",
                "is_stay",
                pl.lit(labels[1]).alias("date"),
                pl.lit(1).alias("step"),
                pl.col("to_segment").alias("segment"),
            ),
        ]
    )
    order = _order(by, long["segment"].unique().to_list())
    for extra in ("(new)", "(gone)"):
        if extra in order:
            order.remove(extra)
            order.append(extra)
    return (
        alt.Chart(long, title="Segment migration")
        .mark_line(interpolate="monotone", opacity=0.55)
        .encode(
            x=alt.X("date:N", sort=list(labels), title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("segment:N", sort=order, title=None),
            detail="flow:N",
            strokeWidth=alt.StrokeWidth(
                "contacts:Q", title="Contacts", scale=alt.Scale(range=[1, 30])
            ),
            color=alt.Color(
                "is_stay:N",
                title="Stayed",
                scale=alt.Scale(domain=[True, False], range=["#9e9e9e", "#e4572e"]),
            ),
            tooltip=[alt.Tooltip("flow:N"), alt.Tooltip("contacts:Q", format=",")],
        )
        .properties(width=320, height=alt.Step(28))
    )


def chart_cluster_profiles(profiles: pl.DataFrame) -> alt.Chart:
    """Heat map of clusters × features, coloured by the cluster's mean standardised value.

    Parameters
    ----------
    profiles
        :attr:`smsanalytics.segments.ClusterModel.profiles_` (``cluster_name``, ``contacts``,
        the mean of each feature and its ``z_`` standardised mean).
    """
    features = [c.removeprefix("z_") for c in profiles.columns if c.startswith("z_")]
    rows = []
    for feature in features:
        rows.append(
            profiles.select(
                pl.format("{} ({} contacts)", "cluster_name", "contacts").alias("cluster"),
                pl.lit(feature).alias("feature"),
                pl.col(f"z_{feature}").alias("z"),
                pl.col(feature).alias("mean"),
            )
        )
    long = pl.concat(rows)
    order = (
        profiles.sort("cluster")
        .select(pl.format("{} ({} contacts)", "cluster_name", "contacts"))
        .to_series()
        .to_list()
    )
    return (
        alt.Chart(long, title="Cluster profiles (colour: mean in standard deviations)")
        .mark_rect()
        .encode(
            x=alt.X("feature:N", sort=features, title=None, axis=alt.Axis(labelAngle=-30)),
            y=alt.Y("cluster:N", sort=order, title=None, axis=alt.Axis(labelLimit=400)),
            color=alt.Color(
                "z:Q", title="z", scale=alt.Scale(scheme="redblue", domainMid=0, reverse=True)
            ),
            tooltip=[
                alt.Tooltip("cluster:N"),
                alt.Tooltip("feature:N"),
                alt.Tooltip("mean:Q", format=",.2f"),
                alt.Tooltip("z:Q", format="+.2f"),
            ],
        )
    )
