"""The small per-run lookup tables some relations read, built from any engine.

Local hours come from joining a table of each time zone's local hour per 15-minute UTC bucket
(:func:`smsanalytics.features.zone_tables`) on integers, instead of converting every event with
``AT TIME ZONE``; the table is built on the driver (it is small: 96 rows per zone and day) and
registered on the engine, where Spark broadcasts it to the executors.

>>> import datetime as dt
>>> from smsanalytics.warehouse import Warehouse
>>> with Warehouse(":memory:") as wh:
...     sorted(zone_lookups(wh, end=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
['zone_ids', 'zone_offsets']
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import polars as pl

__all__ = ["zone_lookups"]


class _Engine(Protocol):
    def sql(self, sql: str, **params: Any) -> pl.DataFrame: ...


def zone_lookups(
    engine: _Engine, *, end: dt.datetime, start: dt.datetime | None = None
) -> dict[str, pl.DataFrame]:
    """``zone_ids`` and ``zone_offsets`` for the contacts' zones over the messages before ``end``.

    What :func:`smsanalytics.features.contact_features` registers on DuckDB, computed with two
    small aggregate queries on ``engine`` (a :class:`~smsanalytics.warehouse.Warehouse` or a
    :class:`~smsanalytics.engines.SparkEngine`), for the relations that read them
    (``stg_message_local_time``, ``agg_contact_send_hour``, ``fct_contact_send_hour``,
    ``fct_contact_features``, ``campaign_message_facts`` …).

    Parameters
    ----------
    engine
        Anything with ``sql(text, **params) -> polars.DataFrame``.
    end
        End of the covered UTC range (exclusive), usually the ``as_of`` of the query.
    start
        Start of the range; default: the first ``sent_at`` before ``end``.

    Returns
    -------
    dict[str, polars.DataFrame]
        ``{"zone_ids": ..., "zone_offsets": ...}``, ready for ``engine.registered(**tables)``.
    """
    from smsanalytics.features import normalize_as_of, zone_span, zone_tables

    end = normalize_as_of(end)
    zones, start = zone_span(engine, end=end, start=start)
    zone_ids, zone_offsets = zone_tables(zones, start=start, end=end)
    return {"zone_ids": zone_ids, "zone_offsets": zone_offsets}
