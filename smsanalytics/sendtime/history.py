"""Reading the send-time model's history from the warehouse (SQL in ``smsanalytics/sql/``).

- ``sendtime_sends``: delivered sends before ``as_of`` with ``is_response`` (human click within
  the response window), the input of :meth:`SendTimeModel.fit` without a clicks frame;
- ``sendtime_contacts``: contacts known at ``as_of`` with their zone and opt-out state;
- ``sendtime_send_hours``: the same sends with their local hour of week computed in SQL from the
  registered zone-offset table (integer joins only), for engines other than numpy.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import polars as pl

from smsanalytics.sendtime.timezones import ZoneOffsets
from smsanalytics.warehouse import Warehouse, sql_text

__all__ = ["load_send_history", "send_hours_sql", "history_sql"]

_COMMENT = re.compile(r"--[^\n]*")


def _as_of(value: str | dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def _body(name: str) -> str:
    lines = [ln for ln in _COMMENT.sub("", sql_text(name)).splitlines() if ln.strip()]
    return "\n".join(lines).rstrip().rstrip(";")


def history_sql(name: str) -> str:
    """Relation ``name`` with ``sendtime_sends`` inlined as a CTE when it reads it."""
    body = _body(name)
    if name == "sendtime_sends" or "sendtime_sends" not in body:
        return body
    head = f"sendtime_sends AS (\n{_body('sendtime_sends')}\n)"
    if re.match(r"(?is)^\s*WITH\b", body):
        return "WITH " + head + ",\n" + re.sub(r"(?is)^\s*WITH\b", "", body, count=1)
    return "WITH " + head + "\n" + body


def load_send_history(
    warehouse: Warehouse,
    *,
    as_of: str | dt.date | dt.datetime,
    response_window_hours: float = 24.0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The sends (labelled) and contacts to fit a :class:`SendTimeModel` on, at ``as_of``.

    Returns
    -------
    sends : polars.DataFrame
        ``message_id``, ``contact_id``, ``sent_at``, ``campaign_id``, ``variant``,
        ``send_time_policy``, ``is_response`` (relation ``sendtime_sends``).
    contacts : polars.DataFrame
        ``contact_id``, ``timezone``, ``country``, ``is_opted_out`` (``sendtime_contacts``).

    Examples
    --------
    >>> wh = Warehouse(":memory:")
    >>> sends, contacts = load_send_history(wh, as_of="2026-01-01")
    >>> sends.columns[-1], contacts.height
    ('is_response', 0)
    """
    at = _as_of(as_of)
    if getattr(warehouse, "engine", "duckdb") == "spark":  # the relations on the Spark engine
        sends = warehouse.query(
            "sendtime_sends", as_of=at, window_hours=float(response_window_hours)
        )
        return sends, warehouse.query("sendtime_contacts", as_of=at)
    sends = warehouse.sql(
        history_sql("sendtime_sends"), as_of=at, window_hours=float(response_window_hours)
    )
    contacts = warehouse.sql(history_sql("sendtime_contacts"), as_of=at)
    return sends, contacts


def send_hours_sql(
    warehouse: Warehouse,
    *,
    as_of: str | dt.date | dt.datetime,
    response_window_hours: float = 24.0,
) -> pl.DataFrame:
    """Sends with their local hour of week computed by the SQL engine (``sendtime_send_hours``).

    Builds a :class:`ZoneOffsets` table for the contacts' zones over the sends' range and registers
    it (``sendtime_zone_ids``, ``sendtime_zone_offsets``) for the query.
    """
    at = _as_of(as_of)
    con = warehouse.con
    zones_sql = "SELECT DISTINCT timezone FROM contacts WHERE timezone IS NOT NULL"
    span = "SELECT min(sent_at) AS lo, max(sent_at) AS hi FROM messages WHERE sent_at < $a"
    on_spark = getattr(warehouse, "engine", "duckdb") == "spark"
    if on_spark:  # Warehouse(engine="spark"): the zone table is sized and the relation run there
        zones = warehouse.spark_engine.sql(zones_sql)["timezone"].to_list()
        lo, hi = warehouse.spark_engine.sql(span, a=at).row(0)
    else:
        zones = [r[0] for r in con.execute(zones_sql).fetchall()]
        lo, hi = con.execute(span, {"a": at}).fetchall()[0]
    if lo is None:
        lo = hi = at
    table = ZoneOffsets(zones, lo - dt.timedelta(days=1), hi + dt.timedelta(days=1))
    rel = table.relation()
    ids = rel.select("zone_id", "timezone").unique().sort("zone_id")
    offsets = rel.select("zone_id", "bucket", "utc_offset_minutes")
    params: dict[str, Any] = {"as_of": at, "window_hours": float(response_window_hours)}
    if on_spark:
        with warehouse.registered(sendtime_zone_ids=ids, sendtime_zone_offsets=offsets):
            return warehouse.query("sendtime_send_hours", **params)
    con.register("sendtime_zone_ids", ids)
    con.register("sendtime_zone_offsets", offsets)
    try:
        return warehouse.sql(history_sql("sendtime_send_hours"), **params)
    finally:
        con.unregister("sendtime_zone_ids")
        con.unregister("sendtime_zone_offsets")
