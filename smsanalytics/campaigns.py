"""Campaign analysis: how did the campaign go, and what to change in the next one.

Every message sent in a window is followed to its outcome (``sql/campaign_message_facts.sql``):
delivery report, first human click (link-preview bots excluded), orders credited to it by a
stated attribution rule (:class:`Attribution`), a STOP reply charged to it, its billed segments
and cost. :func:`campaign_kpis` sums those facts by any of :data:`DIMENSIONS` (campaign, kind,
variant, segment, country, local send hour) and derives the rates with Wilson intervals, revenue
per message and ROI; :func:`click_delays` and :func:`click_delay_distribution` measure how fast
people click ("9 of 10 read within 3 minutes", made measurable for clicks).

Definitions (``docs/reports.md``):

- **delivered**: a delivery report says delivered, or a person clicked (a click proves delivery);
  **failed**: the last report is ``undelivered`` or ``failed`` (with its error code);
  **pending**: no final report yet.
- **clicked**: messages with at least one human click; **CTR** = clicked / delivered.
- **converted**: messages credited with at least one order; **conversion rate** = converted /
  delivered; **revenue** = amount of the credited orders; **revenue per message** = revenue / sent.
- **opted out**: messages that were the last one sent to the contact within
  ``Attribution.optout_days`` before a STOP reply; **opt-out rate** = opted out / sent.
- **cost**: ``messages.cost`` (or billed segments × the settings' price for the country when the
  cost was not recorded); **ROI** = (revenue − cost) / cost.

The local send hour is the hour on the contact's own clock (its IANA zone) when the message was
sent, DST-exact, from the per-zone offset tables of :func:`smsanalytics.features.zone_tables`;
messages to contacts without a known zone have ``local_hour`` null.

>>> from smsanalytics.warehouse import Warehouse
>>> wh = Warehouse(":memory:")
>>> campaign_kpis(wh, by=("campaign_id",)).height
0
>>> Attribution(click_days=7, delivery_days=1).describe()[:60]
'An order is credited to the message whose link the contact l'
>>> wh.close()
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import polars as pl

from smsanalytics.warehouse import Warehouse, code_text, sql_text, strip_line_comments

if TYPE_CHECKING:
    from smsanalytics.settings import Settings

__all__ = [
    "DIMENSIONS",
    "DEFAULT_DELAY_MINUTES",
    "ERROR_CODE_DESCRIPTIONS",
    "Attribution",
    "CampaignAnalysisError",
    "campaign_kpis",
    "campaign_message_facts",
    "click_delay_distribution",
    "click_delay_summary",
    "click_delays",
    "contact_segments",
    "data_end",
    "failures_by_error_code",
    "list_campaigns",
    "resolve_campaign",
    "weekly_activity",
    "wilson_interval",
]

#: Columns :func:`campaign_kpis` can group by.
DIMENSIONS: Final[tuple[str, ...]] = (
    "campaign_id",
    "kind",
    "variant",
    "segment",
    "country",
    "local_hour",
)

#: Delays (minutes) at which :func:`click_delay_distribution` reports the share of clicks.
DEFAULT_DELAY_MINUTES: Final[tuple[float, ...]] = (1, 3, 5, 10, 30, 60, 180, 720, 1440, 4320)

#: Common gateway error codes (Twilio's, which most exports follow), for failure tables.
#: Source: https://www.twilio.com/docs/api/errors (30001-30008).
ERROR_CODE_DESCRIPTIONS: Final[dict[str, str]] = {
    "30001": "Queue overflow",
    "30002": "Account suspended",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Carrier violation (filtered)",
    "30008": "Unknown error",
    "none": "No error code reported",
}

_FACTS = "campaign_message_facts"
_ADDITIVE = (
    "sent",
    "delivered",
    "failed",
    "pending",
    "clicked",
    "human_clicks",
    "bot_clicks",
    "converted",
    "orders",
    "orders_by_click",
    "revenue",
    "opted_out",
    "billed_segments",
    "cost",
    "cost_estimated",
)
_INT_COUNTS = tuple(c for c in _ADDITIVE if c not in ("revenue", "cost"))


class CampaignAnalysisError(ValueError):
    """An argument the campaign analysis cannot use; the message names it and the fix."""


@dataclass(frozen=True)
class Attribution:
    """Which message an order (or a STOP reply) is credited to: last touch, stated windows.

    Parameters
    ----------
    click_days
        An order is credited to the message whose link the contact last clicked (a person, not a
        link-preview bot) within this many days before the order.
    delivery_days
        Without such a click, to the message last delivered to the contact within this many days
        before the order (a view-through credit; 0 turns it off).
    optout_days
        A STOP reply is charged to the last message sent to the contact within this many days
        before it.

    Notes
    -----
    Each order is credited to at most one message, of any campaign (a later message takes the
    credit from an earlier one). This measures what happened after a message, not what the
    message caused: for the causal effect, compare with a random holdout
    (:mod:`smsanalytics.experiments`).
    """

    click_days: int = 7
    delivery_days: int = 1
    optout_days: int = 2

    def __post_init__(self) -> None:
        for name in ("click_days", "delivery_days", "optout_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CampaignAnalysisError(
                    f"Attribution.{name} must be a whole number of days >= 0, got {value!r}"
                )
        if self.optout_days < 1:
            raise CampaignAnalysisError("Attribution.optout_days must be at least 1 day")

    @property
    def window_days(self) -> int:
        """Longest time after a message that can still credit it with an order."""
        return max(self.click_days, self.delivery_days)

    def describe(self) -> str:
        """The rule in one paragraph, for reports."""
        text = (
            "An order is credited to the message whose link the contact last clicked (bots "
            f"excluded) within {self.click_days} day{'s' if self.click_days != 1 else ''} before "
            "the order"
        )
        if self.delivery_days:
            text += (
                "; without such a click, to the last message delivered to the contact within "
                f"{self.delivery_days} day{'s' if self.delivery_days != 1 else ''} before it"
            )
        text += (
            "; otherwise to no message. A STOP reply is charged to the last message sent within "
            f"{self.optout_days} day{'s' if self.optout_days != 1 else ''} before it."
        )
        return text


# -- intervals -------------------------------------------------------------------------------------
def wilson_interval(
    successes: Any, n: Any, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of binomial proportions (vectorised).

    Parameters
    ----------
    successes, n
        Counts (scalars or arrays of the same shape); ``n = 0`` gives NaN bounds.
    confidence
        Coverage of the interval (0.95 for 95 %).

    Returns
    -------
    (low, high) : tuple of numpy.ndarray

    References
    ----------
    E. B. Wilson (1927), "Probable inference, the law of succession, and statistical inference",
    JASA 22(158). Matches ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.

    >>> low, high = wilson_interval(8, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (0.4902, 0.9433)
    """
    from scipy.stats import norm

    if not 0 < confidence < 1:
        raise CampaignAnalysisError(f"confidence must be between 0 and 1, got {confidence!r}")
    k = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    z = float(norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / m
        denom = 1 + z * z / m
        centre = (p + z * z / (2 * m)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m))
        low = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


# -- running the relations -------------------------------------------------------------------------
def _utc(value: Any, name: str) -> dt.datetime:
    from smsanalytics.features import normalize_as_of

    try:
        return normalize_as_of(value)
    except (TypeError, ValueError) as exc:
        raise CampaignAnalysisError(f"{name}: {exc}") from None


def data_end(warehouse: Warehouse) -> dt.datetime | None:
    """The instant just after the last event of the warehouse (message, report, click, order,
    reply), or ``None`` when it holds none. The default ``as_of`` of every function here."""
    row = warehouse.con.execute(
        "SELECT greatest("
        "(SELECT max(sent_at) FROM messages), (SELECT max(status_at) FROM receipts), "
        "(SELECT max(clicked_at) FROM clicks), (SELECT max(ordered_at) FROM orders), "
        "(SELECT max(received_at) FROM inbound))"
    ).fetchall()[0][0]
    if row is None:
        return None
    return row.astimezone(dt.UTC) + dt.timedelta(microseconds=1)


def _window(
    warehouse: Warehouse, start: Any, end: Any, as_of: Any
) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    at = _utc(as_of, "as_of") if as_of is not None else data_end(warehouse)
    if at is None:
        at = dt.datetime.now(dt.UTC)
    lo = _utc(start, "start") if start is not None else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    hi = _utc(end, "end") if end is not None else at
    if hi <= lo:
        raise CampaignAnalysisError(
            f"end ({hi:%Y-%m-%d %H:%M}) must be after start ({lo:%Y-%m-%d %H:%M})"
        )
    return lo, hi, at


def _strip(sql: str) -> str:
    lines = [ln for ln in strip_line_comments(sql).splitlines() if ln.strip()]
    return "\n".join(lines).rstrip().rstrip(";")


def _compile(name: str) -> str:
    """The relation ``name`` with :data:`_FACTS` inlined as a CTE when it reads it."""
    sql = sql_text(name)
    if name == _FACTS or not re.search(rf"\b{_FACTS}\b", code_text(sql)):
        return sql
    return f"WITH {_FACTS} AS (\n{_strip(sql_text(_FACTS))}\n)\n{_strip(sql)}"


def _check_segments(segments: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"contact_id": pl.Int64, "segment": pl.String}
    if segments is None:
        return pl.DataFrame(schema=schema)
    if not isinstance(segments, pl.DataFrame) or not {"contact_id", "segment"} <= set(
        segments.columns
    ):
        raise CampaignAnalysisError(
            "segments must be a polars frame with columns contact_id and segment, e.g. "
            "contact_segments(warehouse, as_of=start) or "
            "frame.select('contact_id', pl.col('rfm_segment').alias('segment'))"
        )
    return segments.select(
        pl.col("contact_id").cast(pl.Int64), pl.col("segment").cast(pl.String)
    ).unique("contact_id", keep="first")


def _prices(settings: Settings | None) -> pl.DataFrame:
    if settings is None:
        from smsanalytics.settings import load_settings

        settings = load_settings()
    prices = dict(settings.price_per_segment)
    return pl.DataFrame(
        {"country": list(prices), "price_per_segment": [float(v) for v in prices.values()]},
        schema={"country": pl.String, "price_per_segment": pl.Float64},
    )


def _run_facts_relation(
    warehouse: Warehouse,
    name: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
    as_of: dt.datetime,
    campaign_id: str | None,
    attribution: Attribution,
    segments: pl.DataFrame | None,
    settings: Settings | None,
) -> pl.DataFrame:
    from smsanalytics.features import zone_tables

    if not isinstance(attribution, Attribution):
        raise CampaignAnalysisError(
            "attribution must be an Attribution(click_days=…, delivery_days=…), "
            f"got {attribution!r}"
        )
    con = warehouse.con
    params = {"start": start, "end": end, "as_of": as_of}
    span = (
        "SELECT min(sent_at) AS first_sent_at, max(sent_at) AS last_sent_at FROM messages "
        "WHERE sent_at >= $start AND sent_at < $end AND sent_at < $as_of"
    )
    zones_sql = "SELECT DISTINCT timezone FROM contacts WHERE timezone IS NOT NULL"
    on_spark = getattr(warehouse, "engine", "duckdb") == "spark"
    if on_spark:  # Warehouse(engine="spark"): the lookups are sized and the relation run there
        first, last = warehouse.spark_engine.sql(span, **params).row(0)
        zones = warehouse.spark_engine.sql(zones_sql)["timezone"].to_list()
    else:
        first, last = con.execute(span, params).fetchall()[0]
        zones = [r[0] for r in con.execute(zones_sql).fetchall()]
    if first is None:
        first = last = start
    zone_ids, zone_offsets = zone_tables(zones, start=first, end=last + dt.timedelta(minutes=15))
    registered = {
        "zone_ids": zone_ids,
        "zone_offsets": zone_offsets,
        "campaign_segments": _check_segments(segments),
        "campaign_prices": _prices(settings),
    }
    run = {
        **params,
        "campaign_id": campaign_id or None,
        "click_days": attribution.click_days,
        "delivery_days": attribution.delivery_days,
        "optout_days": attribution.optout_days,
    }
    if on_spark:
        with warehouse.registered(**registered):
            return warehouse.query(name, **run)
    for key, frame in registered.items():
        con.register(key, frame)
    try:
        return warehouse.sql(_compile(name), **run)
    finally:
        for key in registered:
            con.unregister(key)


def _check_by(by: Sequence[str] | str) -> list[str]:
    cols = [by] if isinstance(by, str) else list(by)
    bad = [c for c in cols if c not in DIMENSIONS]
    if bad:
        raise CampaignAnalysisError(f"cannot group by {bad}; choose among {list(DIMENSIONS)}")
    if len(set(cols)) != len(cols):
        raise CampaignAnalysisError(f"by lists a column twice: {cols}")
    return cols


def _needs_segments(by: Sequence[str], segments: pl.DataFrame | None) -> None:
    if "segment" in by and segments is None:
        raise CampaignAnalysisError(
            "grouping by segment needs segments=…: pass contact_segments(warehouse, as_of=start) "
            "or a frame with contact_id and segment"
        )


# -- public functions ------------------------------------------------------------------------------
def campaign_message_facts(
    warehouse: Warehouse,
    *,
    start: Any = None,
    end: Any = None,
    as_of: Any = None,
    campaign_id: str | None = None,
    attribution: Attribution = Attribution(),
    segments: pl.DataFrame | None = None,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """One row per message sent in ``[start, end)`` with its outcome (the relation
    ``campaign_message_facts``): for audits and custom cuts; :func:`campaign_kpis` sums it.

    Parameters are those of :func:`campaign_kpis`.

    Returns
    -------
    polars.DataFrame
        ``message_id, campaign_id, kind, variant, contact_id, country, segment, local_hour,
        sent_at, status, error_code, delivered_at, first_click_at, human_clicks, bot_clicks,
        orders, orders_by_click, revenue, is_opted_out, billed_segments, cost,
        is_cost_estimated``. Never a phone number.
    """
    lo, hi, at = _window(warehouse, start, end, as_of)
    return _run_facts_relation(
        warehouse, _FACTS, start=lo, end=hi, as_of=at, campaign_id=campaign_id,
        attribution=attribution, segments=segments, settings=settings,
    ).sort("message_id")  # fmt: skip


def campaign_kpis(
    warehouse: Warehouse,
    *,
    by: Sequence[str] | str = ("campaign_id",),
    start: Any = None,
    end: Any = None,
    as_of: Any = None,
    campaign_id: str | None = None,
    attribution: Attribution = Attribution(),
    segments: pl.DataFrame | None = None,
    settings: Settings | None = None,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Campaign KPIs of the messages sent in ``[start, end)``, by any of :data:`DIMENSIONS`.

    Parameters
    ----------
    warehouse
        Warehouse with the canonical tables (read-only is fine).
    by
        Columns to group by, among :data:`DIMENSIONS`; ``()`` gives one total row.
    start, end
        Window of ``sent_at`` (dates mean midnight UTC; ``end`` exclusive). Default: all
        messages before ``as_of``.
    as_of
        Only events before this instant count (reports, clicks, orders, replies); default
        :func:`data_end`. Orders up to ``end + attribution.window_days`` can be credited.
    campaign_id
        Restrict to one campaign (default: every message, transactional ones under a null
        ``campaign_id``).
    attribution
        The crediting rule (:class:`Attribution`); state it next to the numbers
        (:meth:`Attribution.describe`).
    segments
        ``contact_id, segment`` frame (e.g. :func:`contact_segments`); needed to group by
        ``segment`` (contacts not in it are ``unknown``).
    settings
        Prices for messages without a recorded cost (default
        :func:`smsanalytics.settings.load_settings`).
    confidence
        Coverage of the Wilson intervals of the rates.

    Returns
    -------
    polars.DataFrame
        The ``by`` columns, then ``sent, delivered, delivery_rate, failed, failure_rate,
        pending, clicked, ctr, human_clicks, bot_clicks, converted, conversion_rate, orders,
        orders_by_click, orders_by_delivery, revenue, revenue_per_message, opted_out,
        opt_out_rate, billed_segments, segments_per_message, cost, cost_per_message,
        cost_estimated, roi, first_sent_at, last_sent_at, is_attribution_complete``; each
        ``*_rate`` and ``ctr`` has ``*_low`` / ``*_high`` Wilson bounds. ``roi`` is null when
        the cost is 0. ``is_attribution_complete`` is false while orders can still be credited
        to the group's last messages (``last_sent_at + attribution.window_days > as_of``).
        Sorted by the ``by`` columns.

    Raises
    ------
    CampaignAnalysisError
        For an unknown ``by`` column, ``segment`` without ``segments``, or a bad window.
    """
    cols = _check_by(by)
    _needs_segments(cols, segments)
    lo, hi, at = _window(warehouse, start, end, as_of)
    cells = _run_facts_relation(
        warehouse, "campaign_kpi_cells", start=lo, end=hi, as_of=at, campaign_id=campaign_id,
        attribution=attribution, segments=segments, settings=settings,
    )  # fmt: skip
    sums = [pl.col(c).sum() for c in _ADDITIVE] + [
        pl.col("first_sent_at").min(),
        pl.col("last_sent_at").max(),
    ]
    if cols:
        grouped = cells.group_by(cols).agg(sums)
    else:
        grouped = cells.select(sums)
    grouped = grouped.with_columns(
        [pl.col(c).cast(pl.Int64) for c in _INT_COUNTS]
        + [
            pl.col("revenue").cast(pl.Float64).fill_null(0.0),
            pl.col("cost").cast(pl.Float64).fill_null(0.0),
        ]
    )
    if not cols and grouped["sent"][0] in (None, 0):
        grouped = grouped.clear()
    out = _derive(grouped, confidence=confidence, as_of=at, window_days=attribution.window_days)
    order = [
        *cols,
        "sent",
        "delivered", "delivery_rate", "delivery_rate_low", "delivery_rate_high",
        "failed", "failure_rate", "failure_rate_low", "failure_rate_high",
        "pending",
        "clicked", "ctr", "ctr_low", "ctr_high", "human_clicks", "bot_clicks",
        "converted", "conversion_rate", "conversion_rate_low", "conversion_rate_high",
        "orders", "orders_by_click", "orders_by_delivery", "revenue", "revenue_per_message",
        "opted_out", "opt_out_rate", "opt_out_rate_low", "opt_out_rate_high",
        "billed_segments", "segments_per_message", "cost", "cost_per_message", "cost_estimated",
        "roi", "first_sent_at", "last_sent_at", "is_attribution_complete",
    ]  # fmt: skip
    out = out.select(order)
    return out.sort(cols, nulls_last=True) if cols else out


def _derive(
    frame: pl.DataFrame, *, confidence: float, as_of: dt.datetime, window_days: int
) -> pl.DataFrame:
    def ratio(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None)

    rates = {
        "delivery_rate": ("delivered", "sent"),
        "failure_rate": ("failed", "sent"),
        "ctr": ("clicked", "delivered"),
        "conversion_rate": ("converted", "delivered"),
        "opt_out_rate": ("opted_out", "sent"),
    }
    out = frame.with_columns(
        [ratio(num, den).alias(name) for name, (num, den) in rates.items()]
        + [
            (pl.col("orders") - pl.col("orders_by_click")).alias("orders_by_delivery"),
            ratio("revenue", "sent").alias("revenue_per_message"),
            ratio("billed_segments", "sent").alias("segments_per_message"),
            ratio("cost", "sent").alias("cost_per_message"),
            pl.when(pl.col("cost") > 0)
            .then((pl.col("revenue") - pl.col("cost")) / pl.col("cost"))
            .otherwise(None)
            .alias("roi"),
            (
                pl.col("last_sent_at") + pl.duration(days=window_days)
                <= pl.lit(as_of, dtype=pl.Datetime("us", "UTC"))
            ).alias("is_attribution_complete"),
        ]
    )
    bounds = []
    for name, (num, den) in rates.items():
        low, high = wilson_interval(out[num].to_numpy(), out[den].to_numpy(), confidence=confidence)
        bounds += [
            pl.Series(f"{name}_low", low, dtype=pl.Float64).fill_nan(None),
            pl.Series(f"{name}_high", high, dtype=pl.Float64).fill_nan(None),
        ]
    return out.with_columns(bounds)


def failures_by_error_code(
    warehouse: Warehouse,
    *,
    by: Sequence[str] | str = ("campaign_id",),
    start: Any = None,
    end: Any = None,
    as_of: Any = None,
    campaign_id: str | None = None,
    segments: pl.DataFrame | None = None,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """Undelivered and failed messages by status and error code.

    Returns
    -------
    polars.DataFrame
        The ``by`` columns, ``status`` (``undelivered`` / ``failed``), ``error_code`` (``none``
        when the report had none), ``description`` (:data:`ERROR_CODE_DESCRIPTIONS`, null when
        unknown), ``messages`` and ``share`` (of the group's failures); most frequent first
        within each group.
    """
    cols = _check_by(by)
    _needs_segments(cols, segments)
    lo, hi, at = _window(warehouse, start, end, as_of)
    rows = _run_facts_relation(
        warehouse, "campaign_failures", start=lo, end=hi, as_of=at, campaign_id=campaign_id,
        attribution=Attribution(), segments=segments, settings=settings,
    )  # fmt: skip
    keys = [*cols, "status", "error_code"]
    out = rows.group_by(keys).agg(pl.col("messages").sum().cast(pl.Int64))
    total = pl.col("messages").sum().over(cols) if cols else pl.col("messages").sum()
    out = out.with_columns(
        pl.col("error_code")
        .replace_strict(ERROR_CODE_DESCRIPTIONS, default=None, return_dtype=pl.String)
        .alias("description"),
        (pl.col("messages") / total).alias("share"),
    )
    return out.select(*keys, "description", "messages", "share").sort(
        [*cols, "messages", "error_code"], descending=[*([False] * len(cols)), True, False],
        nulls_last=True,
    )  # fmt: skip


def click_delays(
    warehouse: Warehouse,
    *,
    start: Any = None,
    end: Any = None,
    as_of: Any = None,
    campaign_id: str | None = None,
    segments: pl.DataFrame | None = None,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """Time from sending (and from delivery) to the first human click, per clicked message.

    Returns
    -------
    polars.DataFrame
        One row per message sent in ``[start, end)`` with a human click before ``as_of``:
        the :data:`DIMENSIONS` columns, ``delay_seconds`` (from ``sent_at``) and
        ``delay_from_delivery_seconds`` (null without a delivery report). Clicks that have not
        happened yet by ``as_of`` are missing, so recent messages understate long delays.
    """
    lo, hi, at = _window(warehouse, start, end, as_of)
    return _run_facts_relation(
        warehouse, "campaign_click_delays", start=lo, end=hi, as_of=at, campaign_id=campaign_id,
        attribution=Attribution(), segments=segments, settings=settings,
    )  # fmt: skip


def _delay_column(delays: pl.DataFrame, reference: str) -> str:
    column = {"sent": "delay_seconds", "delivered": "delay_from_delivery_seconds"}.get(reference)
    if column is None:
        raise CampaignAnalysisError(f"reference must be 'sent' or 'delivered', got {reference!r}")
    if column not in delays.columns:
        raise CampaignAnalysisError(
            f"delays has no {column!r} column; build it with click_delays(warehouse, …)"
        )
    return column


def click_delay_distribution(
    delays: pl.DataFrame,
    *,
    by: Sequence[str] | str = (),
    minutes: Sequence[float] = DEFAULT_DELAY_MINUTES,
    reference: Literal["sent", "delivered"] = "sent",
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Share of first human clicks that came within each delay (the empirical CDF), with intervals.

    Parameters
    ----------
    delays
        From :func:`click_delays`.
    by
        Group columns among :data:`DIMENSIONS` (``()`` for all clicks together).
    minutes
        Delays at which to read the distribution.
    reference
        Measure from ``sent`` (default) or from ``delivered`` (messages without a delivery
        report are left out).
    confidence
        Coverage of the Wilson intervals.

    Returns
    -------
    polars.DataFrame
        The ``by`` columns, ``within_minutes``, ``clicked`` (clicked messages of the group),
        ``clicked_within``, ``share``, ``share_low``, ``share_high``. "9 of 10 clicks within 3
        minutes" reads as ``share >= 0.9`` at ``within_minutes = 3``.
    """
    cols = _check_by(by)
    column = _delay_column(delays, reference)
    if not minutes or any(not (isinstance(m, int | float) and m > 0) for m in minutes):
        raise CampaignAnalysisError(f"minutes must be positive numbers, got {list(minutes)!r}")
    data = delays.filter(pl.col(column).is_not_null())
    thresholds = sorted({float(m) for m in minutes})
    exprs = [pl.len().cast(pl.Int64).alias("clicked")] + [
        (pl.col(column) <= m * 60).sum().cast(pl.Int64).alias(f"w{i}")
        for i, m in enumerate(thresholds)
    ]
    agg = data.group_by(cols).agg(exprs) if cols else data.select(exprs)
    if agg.height and agg["clicked"][0] == 0 and not cols:
        agg = agg.clear()
    long = agg.unpivot(
        index=[*cols, "clicked"], on=[f"w{i}" for i in range(len(thresholds))],
        variable_name="_w", value_name="clicked_within",
    ).with_columns(
        pl.col("_w").str.slice(1).cast(pl.Int64)
        .replace_strict(dict(enumerate(thresholds)), return_dtype=pl.Float64)
        .alias("within_minutes")
    )  # fmt: skip
    low, high = wilson_interval(
        long["clicked_within"].to_numpy(), long["clicked"].to_numpy(), confidence=confidence
    )
    long = long.with_columns(
        (pl.col("clicked_within") / pl.col("clicked")).alias("share"),
        pl.Series("share_low", low, dtype=pl.Float64).fill_nan(None),
        pl.Series("share_high", high, dtype=pl.Float64).fill_nan(None),
    )
    return long.select(
        *cols, "within_minutes", "clicked", "clicked_within", "share", "share_low", "share_high"
    ).sort([*cols, "within_minutes"], nulls_last=True)


def click_delay_summary(
    delays: pl.DataFrame,
    *,
    by: Sequence[str] | str = (),
    reference: Literal["sent", "delivered"] = "sent",
    within_minutes: float = 3.0,
) -> pl.DataFrame:
    """Median and 90th percentile of the delay to the first human click, per group.

    Returns
    -------
    polars.DataFrame
        The ``by`` columns, ``clicked``, ``median_minutes``, ``p90_minutes`` (9 of 10 clicks
        came within this many minutes) and ``share_within`` (share within ``within_minutes``).
    """
    cols = _check_by(by)
    column = _delay_column(delays, reference)
    data = delays.filter(pl.col(column).is_not_null())
    exprs = [
        pl.len().cast(pl.Int64).alias("clicked"),
        (pl.col(column).median() / 60).alias("median_minutes"),
        (pl.col(column).quantile(0.9, interpolation="linear") / 60).alias("p90_minutes"),
        ((pl.col(column) <= within_minutes * 60).mean()).alias("share_within"),
    ]
    out = data.group_by(cols).agg(exprs) if cols else data.select(exprs)
    if not cols and out["clicked"][0] == 0:
        out = out.clear()
    return out.sort(cols, nulls_last=True) if cols else out


def weekly_activity(warehouse: Warehouse, *, start: Any = None, as_of: Any = None) -> pl.DataFrame:
    """The programme week by week: ``week`` (Monday, UTC), ``sent``, ``human_clicks``,
    ``orders``, ``revenue`` (all orders, attributed or not) and ``stops`` (STOP replies), for
    events in ``[start, as_of)``; ``start`` defaults to the week of the first message."""
    at = (
        _utc(as_of, "as_of")
        if as_of is not None
        else (data_end(warehouse) or dt.datetime.now(dt.UTC))
    )
    if start is None:
        first = warehouse.con.execute("SELECT min(sent_at) FROM messages").fetchall()[0][0]
        first = first.astimezone(dt.UTC) if first is not None else at
        day = first.date() - dt.timedelta(days=first.weekday())
        lo = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    else:
        lo = _utc(start, "start")
    out = warehouse.query("campaign_weekly_activity", start=lo, as_of=at)
    return out.with_columns(
        [pl.col(c).cast(pl.Int64) for c in ("sent", "human_clicks", "orders", "stops")]
        + [pl.col("revenue").cast(pl.Float64)]
    )


def list_campaigns(warehouse: Warehouse, *, as_of: Any = None) -> pl.DataFrame:
    """Campaigns with messages before ``as_of``, most recent first: ``campaign_id, name, kind,
    sent, variants, holdout_share, first_sent_at, last_sent_at``."""
    at = (
        _utc(as_of, "as_of")
        if as_of is not None
        else (data_end(warehouse) or dt.datetime.now(dt.UTC))
    )
    return warehouse.query("campaign_list", as_of=at).with_columns(
        pl.col("sent").cast(pl.Int64), pl.col("variants").cast(pl.Int64)
    )


def resolve_campaign(
    warehouse: Warehouse,
    campaign_id: str | None = None,
    *,
    experiment: bool = False,
    kind: str | None = None,
    as_of: Any = None,
) -> str:
    """The campaign a report is about: ``campaign_id`` when given (checked), else the most
    recent one, optionally an experiment (two variants or more, or a holdout) or of ``kind``.

    Notebooks take ``campaign_id = ""`` as a parameter and call this, so they run unchanged on
    any warehouse.

    Raises
    ------
    CampaignAnalysisError
        When the campaign is unknown or no campaign matches.
    """
    listed = list_campaigns(warehouse, as_of=as_of)
    if campaign_id:
        if campaign_id not in set(listed["campaign_id"].to_list()):
            recent = listed["campaign_id"].head(5).to_list()
            raise CampaignAnalysisError(
                f"no messages of campaign {campaign_id!r} in the warehouse; "
                f"recent campaigns: {recent}"
            )
        return campaign_id
    pick = listed
    if experiment:
        pick = pick.filter((pl.col("variants") >= 2) | (pl.col("holdout_share") > 0))
    if kind:
        pick = pick.filter(pl.col("kind") == kind)
    if pick.height == 0:
        what = " ".join(w for w in ("experiment" if experiment else "", kind or "") if w) or "any"
        raise CampaignAnalysisError(
            f"no campaign in the warehouse matches ({what}); pass campaign_id"
        )
    return str(pick["campaign_id"][0])


def contact_segments(
    warehouse: Warehouse, *, as_of: Any, column: str = "rfm_segment"
) -> pl.DataFrame:
    """Each contact's segment at ``as_of`` as ``contact_id, segment``, for ``segments=``.

    ``column`` is a column of :func:`smsanalytics.segments.segment_contacts` (``rfm_segment``,
    ``lifecycle_stage`` …). Use the start of the analysed window so the segment describes the
    contact before the campaign, not after it.
    """
    from smsanalytics.segments import segment_contacts

    frame = segment_contacts(warehouse, as_of=_utc(as_of, "as_of"))
    if column not in frame.columns:
        raise CampaignAnalysisError(
            f"segment_contacts has no column {column!r}; choose among {frame.columns}"
        )
    return frame.select("contact_id", pl.col(column).cast(pl.String).alias("segment"))
