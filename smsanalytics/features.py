"""The per-contact feature table: recency, frequency, monetary, engagement, tenure, birthday.

Everything heavy is SQL in ``smsanalytics/sql/`` (one relation per file, ``$name`` parameters),
run by DuckDB; this module compiles the relations a query needs into one statement, registers the
small per-run lookup tables (time-zone offsets) and returns polars frames.

Point-in-time rule: every event is filtered on ``< as_of``; contacts who signed up at or after
``as_of`` are left out; consent or opt-out timestamps at or after ``as_of`` count as not (yet)
given. Nothing after ``as_of`` changes the result (``tests/segments/test_features_asof.py``).

The reader of the public Online Retail dataset (:func:`load_online_retail`) turns a line-level
order export with cancellations, anonymous lines and duplicates into the canonical ``orders``
table; its rules are in ``docs/segments.md``.

>>> import datetime as dt
>>> from smsanalytics.warehouse import Warehouse
>>> wh = Warehouse(":memory:")
>>> contact_features(wh, as_of=dt.date(2026, 1, 1)).height
0
>>> wh.close()
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from smsanalytics import schemas
from smsanalytics.warehouse import (
    Warehouse,
    WarehouseError,
    available_relations,
    bind_parameters,
    code_text,
    quote_identifier,
    relation_order,
    sql_text,
    strip_line_comments,
)
from smsanalytics.zones import offset_transitions, offsets_at, valid_zones

__all__ = [
    "FEATURE_RELATION",
    "FEATURE_STAGES",
    "OnlineRetailReport",
    "compile_relation",
    "dialect_overrides",
    "inlined_relations",
    "relation_text",
    "contact_features",
    "load_online_retail",
    "normalize_as_of",
    "order_summary",
    "query_relation",
    "send_hour_engagement",
    "write_contact_features",
    "write_relation",
    "zone_days",
    "zone_span",
    "zone_tables",
]

#: The relation :func:`contact_features` runs.
FEATURE_RELATION = "fct_contact_features"
#: Its per-contact inputs, each staged as a table by its own statement (see
#: :func:`query_relation`).
FEATURE_STAGES = (
    "agg_contact_messages",
    "agg_contact_clicked_hours",
    "fct_contact_send_hour",
    "fct_contact_orders",
    "agg_contact_clicks",
    "agg_contact_inbound",
)

_REF = re.compile(r"\b((?:stg|fct|agg)_[a-z0-9_]+)\b")
#: Lookup tables registered per run (not SQL files): see :func:`zone_tables`.
_ZONE_RELATIONS = ("zone_ids", "zone_offsets", "zone_days")
#: Helper tables the runner builds when a relation's SQL names them (the zone tables and the
#: DuckDB dialect's bitmaps of delivered messages, see :data:`_DELIVERED_BLOCKS_SQL`).
_HELPER_TABLES = (*_ZONE_RELATIONS, "delivered_blocks")
#: Canonical tables with a ``contact_id`` column: what a part of :func:`contact_parts` narrows
#: (``receipts`` has none: it is reached through ``message_id``).
_CONTACT_TABLES = tuple(
    t.name for t in schemas.CANONICAL_TABLES if "contact_id" in t.column_names
)
_BUCKET_SECONDS = 900
#: SQL dialects: the portable files of ``sql/``, or DuckDB-specific versions in ``sql/duckdb/``.
Dialect = Literal["portable", "duckdb"]
#: Largest contact_id range (in bits) aggregated with a perfect hash table: 2^22 slots per thread.
_MAX_PERFECT_HASH_BITS = 22
#: Relations that aggregate one contact-keyed table per contact, and that table: a statement
#: holding one of them runs with perfect-hash aggregation when the table has at least
#: :data:`_PERFECT_HASH_MIN_ROWS_PER_CONTACT` rows per contact (see :func:`query_relation`).
_PER_CONTACT_AGGREGATES = {
    "agg_contact_messages": "messages",
    "agg_contact_orders": "orders",
    "agg_contact_clicks": "clicks",
    "agg_contact_inbound": "inbound",
}
#: ``messages`` has ~21 rows per contact in the generated programmes; ``orders``, ``clicks`` and
#: ``inbound`` 0.1–3, too few per slot to pay for clearing the array.
_PERFECT_HASH_MIN_ROWS_PER_CONTACT = 8
#: Default part size of :func:`contact_features` (2^20): one part up to ~1M contacts; above,
#: parts of ~1M were the fastest at 10M contacts (27.5 s; 5 parts 32.0 s, 20 parts 28.1 s).
CONTACTS_PER_PART = 2**20


# -- compiling relations ------------------------------------------------------------------------
def dialect_overrides(dialect: Dialect) -> set[str]:
    """Relations with an engine-specific version in ``smsanalytics/sql/{dialect}/``."""
    if dialect == "portable":
        return set()
    folder = resources.files("smsanalytics") / "sql" / dialect
    if not folder.is_dir():
        return set()
    return {p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql")}


def relation_text(name: str, dialect: Dialect = "portable") -> str:
    """The SQL of relation ``name``: its ``{dialect}/`` version if any, else the portable one."""
    if name in dialect_overrides(dialect):
        folder = resources.files("smsanalytics") / "sql" / dialect
        return (folder / f"{name}.sql").read_text(encoding="utf-8")
    return sql_text(name)


def _dependencies(name: str, available: set[str], dialect: Dialect) -> set[str]:
    body = code_text(relation_text(name, dialect))
    return {r for r in _REF.findall(body) if r in available}


def inlined_relations(
    name: str, *, external: Iterable[str] = (), dialect: Dialect = "portable"
) -> list[str]:
    """The relations :func:`compile_relation` puts in ``name``'s statement, dependencies first.

    Parameters
    ----------
    name
        File name without ``.sql``.
    external
        Relations read by name (staged tables or views): they, and what only they read, are
        not inlined.
    dialect
        As for :func:`compile_relation`: which version of each file is read for its references.

    Returns
    -------
    list of str
        The inlined relations in dependency order (each after those it reads), ``name`` last.

    Examples
    --------
    >>> inlined_relations("fct_contact_orders")
    ['agg_contact_orders', 'fct_contact_orders']
    >>> inlined_relations("fct_contact_orders", external=["agg_contact_orders"])
    ['fct_contact_orders']

    Raises
    ------
    WarehouseError
        When the relation does not exist or the relations refer to each other in a cycle.
    """
    available = available_relations() - set(external)
    sql_text(name)  # raises a WarehouseError naming the available relations
    return relation_order(name, lambda rel: _dependencies(rel, available, dialect))


def compile_relation(
    name: str, *, external: Iterable[str] = (), dialect: Dialect = "portable"
) -> str:
    """One SQL statement computing relation ``name`` with all the relations it reads inlined.

    A file in ``smsanalytics/sql/`` may read other relations by their file name (``stg_*``,
    ``fct_*``, ``agg_*``); like dbt's ephemeral models, each one it needs (transitively) becomes a
    CTE named after its file, in dependency order. The result is plain SQL with ``$name``
    parameters that :meth:`Warehouse.sql` runs, and that can be transpiled (e.g. with sqlglot) to
    Spark SQL.

    Parameters
    ----------
    name
        File name without ``.sql``.
    external
        Relations that already exist as tables or views (e.g. staged tables): they are
        read by name instead of being inlined.
    dialect
        ``"portable"`` (default): only the standard SQL files of ``smsanalytics/sql/``, the
        contract that other engines (Spark, via sqlglot) run. ``"duckdb"``: use the faster
        DuckDB-only versions in ``smsanalytics/sql/duckdb/`` where they exist (each is tested
        to give the same result as its portable version).

    Returns
    -------
    str

    Raises
    ------
    WarehouseError
        When the relation does not exist or the relations refer to each other in a cycle.
    """
    order = inlined_relations(name, external=external, dialect=dialect)
    if len(order) == 1:
        return relation_text(name, dialect)
    ctes = [f"{rel} AS (\n{_strip(relation_text(rel, dialect))}\n)" for rel in order[:-1]]
    final = _strip(relation_text(name, dialect))
    if re.match(r"(?is)^\s*WITH\b", final):
        final_head, final_rest = ",\n", re.sub(r"(?is)^\s*WITH\b", "", final, count=1)
    else:
        final_head, final_rest = "\n", final
    return "WITH " + ",\n".join(ctes) + final_head + final_rest


def _strip(sql: str) -> str:
    lines = [ln for ln in strip_line_comments(sql).splitlines() if ln.strip()]
    return "\n".join(lines).rstrip().rstrip(";")


def normalize_as_of(as_of: str | dt.date | dt.datetime) -> dt.datetime:
    """The ``as_of`` instant as an aware UTC datetime.

    A date (or ``"YYYY-MM-DD"``) means midnight UTC at the start of that day, so events of the
    previous days count and events of that day do not. A naive datetime is read as UTC.

    Raises
    ------
    ValueError
        When a string is not an ISO date or datetime.
    """
    if isinstance(as_of, str):
        try:
            as_of = dt.datetime.fromisoformat(as_of)
        except ValueError:
            raise ValueError(
                f"as_of {as_of!r} is not an ISO date or datetime; use e.g. '2026-01-31' or "
                "'2026-01-31T12:00:00+00:00'"
            ) from None
    if isinstance(as_of, dt.datetime):
        if as_of.tzinfo is None:
            return as_of.replace(tzinfo=dt.UTC)
        return as_of.astimezone(dt.UTC)
    if isinstance(as_of, dt.date):
        return dt.datetime(as_of.year, as_of.month, as_of.day, tzinfo=dt.UTC)
    raise TypeError(f"as_of must be a date, datetime or ISO string, got {type(as_of).__name__}")


# -- time-zone lookup tables --------------------------------------------------------------------
def zone_tables(
    zones: Iterable[str], *, start: dt.datetime, end: dt.datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Integer ids for IANA zones and each zone's local hour per 15-minute UTC bucket.

    Converting every event with ``AT TIME ZONE`` on a per-row zone name is slow (a string join
    and a time-zone rule lookup per row); joining a small table of local hours per
    ``(zone_id, bucket)`` on integers gives the same, DST-exact, hours much faster.
    The offsets come from :func:`smsanalytics.zones.offsets_at` (``zoneinfo``'s, exact to the
    second).

    Parameters
    ----------
    zones
        IANA zone names; names that are not IANA zones are skipped (their contacts get no local
        hour).
    start, end
        UTC range to cover (``end`` exclusive).

    Returns
    -------
    zone_ids : polars.DataFrame
        ``zone_id`` (Int32, from 1 in sorted zone order), ``timezone`` (String).
    zone_offsets : polars.DataFrame
        ``zone_bucket`` (Int64, ``zone_id * 2**32 + bucket``: one integer join key),
        ``zone_id`` (Int32), ``bucket`` (Int64, ``floor(epoch seconds / 900)``), ``local_hour``
        (Int8, 0-23), ``local_dow`` (Int8, ISO: 1 = Monday), ``utc_offset_minutes`` (Int16).

    Raises
    ------
    ValueError
        When a zone has an offset that is not a multiple of 15 minutes in the range (then a
        bucket would straddle two local hours).
    """
    zone_ids = _zone_ids(zones)
    valid = zone_ids["timezone"].to_list()
    schema = {
        "zone_bucket": pl.Int64,
        "zone_id": pl.Int32,
        "bucket": pl.Int64,
        "local_hour": pl.Int8,
        "local_dow": pl.Int8,
        "utc_offset_minutes": pl.Int16,
    }
    start, end = normalize_as_of(start), normalize_as_of(end)
    first = start.timestamp() // _BUCKET_SECONDS * _BUCKET_SECONDS
    if not valid or end.timestamp() <= first:
        return zone_ids, pl.DataFrame(schema=schema)
    utc = pl.datetime_range(
        dt.datetime.fromtimestamp(first, dt.UTC),
        end,
        "15m",
        time_zone="UTC",
        closed="left",
        eager=True,
    )
    bucket = utc.dt.epoch("s") // _BUCKET_SECONDS
    bucket_start = bucket.to_numpy() * _BUCKET_SECONDS
    parts = []
    for zone_id, zone in enumerate(valid, start=1):
        offset = offsets_at(zone, bucket_start)  # seconds, in force at each bucket's start
        minutes = offset // 60
        if (offset % _BUCKET_SECONDS != 0).any():  # e.g. local mean time, −03:30:52 in 1890
            raise ValueError(
                f"time zone {zone!r} has a UTC offset that is not a multiple of 15 minutes "
                f"between {start} and {end}; local hours cannot be tabulated per 15 minutes"
            )
        local = bucket_start + offset
        parts.append(
            pl.DataFrame(
                {
                    "zone_bucket": bucket + zone_id * 2**32,
                    "zone_id": pl.repeat(zone_id, utc.len(), dtype=pl.Int32, eager=True),
                    "bucket": bucket,
                    "local_hour": local // 3600 % 24,
                    "local_dow": (local // 86400 + 3) % 7 + 1,  # 1970-01-01 was a Thursday
                    "utc_offset_minutes": minutes,
                }
            ).cast(schema)
        )
    return zone_ids, pl.concat(parts)


def _zone_ids(zones: Iterable[str]) -> pl.DataFrame:
    """``zone_id`` (Int32, from 1 in sorted order), ``timezone``: the valid IANA zones given."""
    arrays = _zone_id_arrays(zones)
    return pl.DataFrame(
        {"zone_id": arrays["zone_id"], "timezone": arrays["timezone"].tolist()},
        schema={"zone_id": pl.Int32, "timezone": pl.String},
    )


def _zone_id_arrays(zones: Iterable[str]) -> dict[str, np.ndarray]:
    """:func:`_zone_ids` as numpy arrays, which DuckDB registers without pyarrow (see
    :func:`_register_zone_tables`)."""
    valid = list(valid_zones(zones))
    return {
        "zone_id": np.arange(1, len(valid) + 1, dtype=np.int32),
        "timezone": np.array(valid, dtype=object),
    }


def zone_days(
    zone_ids: pl.DataFrame, *, start: dt.datetime, end: dt.datetime
) -> pl.DataFrame:
    """Each zone's UTC offset per UTC day, with the second of the day at which it changes.

    The compact alternative to the 15-minute table of :func:`zone_tables` (a few thousand rows
    instead of hundreds of thousands): an instant ``t`` (epoch seconds) on UTC day ``d`` in zone
    ``z`` has the local time ``t + offset``, where ``offset`` is ``offset_after_s`` when
    ``t mod 86400 >= switch_second`` and ``offset_before_s`` otherwise. Exact for any offset
    (not only multiples of 15 minutes), provided a zone changes its offset at most once per UTC
    day (true of every IANA zone; checked).
    The offsets and switch seconds come from :func:`smsanalytics.zones.offset_transitions`
    (``zoneinfo``'s).

    Parameters
    ----------
    zone_ids
        ``zone_id``, ``timezone`` as returned by :func:`zone_tables`.
    start, end
        UTC range to cover: every UTC day from ``start``'s to ``end``'s (inclusive).

    Returns
    -------
    polars.DataFrame
        ``zone_day`` (Int32, ``zone_id * day_count + (utc_day - first_day)``: one dense integer
        key), ``zone_id`` (Int32), ``utc_day`` (Int32, days since 1970-01-01),
        ``offset_before_s``, ``switch_second``, ``offset_after_s`` (Int32; ``switch_second`` is
        86400 on days without a change). ``first_day`` and ``day_count`` are
        :func:`zone_day_range` ``(start, end)``.

    Raises
    ------
    ValueError
        When a zone changes its offset twice within one UTC day.
    """
    pairs = zone_ids.select("zone_id", "timezone").iter_rows()
    return pl.DataFrame(_zone_day_arrays(pairs, start=start, end=end))


#: Columns of :func:`zone_days`, all ``int32``.
_ZONE_DAY_COLUMNS = (
    "zone_day", "zone_id", "utc_day", "offset_before_s", "switch_second", "offset_after_s"
)


def _zone_day_arrays(
    zone_ids: Iterable[tuple[int, str]], *, start: dt.datetime, end: dt.datetime
) -> dict[str, np.ndarray]:
    """The columns of :func:`zone_days` (``int32`` numpy arrays) for ``(zone_id, timezone)``
    pairs: what :func:`_register_zone_tables` hands to DuckDB, with no polars frame (whose
    conversion would import pyarrow in the timed build)."""
    first_day, day_count = zone_day_range(start, end)
    parts: list[list[np.ndarray]] = []
    origin = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    # day i runs from midnight[i] to midnight[i + 1]; a change at midnight[i + 1] is day i's
    # (switch_second 86400, offset_after_s the new offset), as the SQL reads it
    midnight = (first_day + np.arange(day_count + 1)) * 86400
    for zone_id, zone in zone_ids:
        changes = offset_transitions(
            zone,
            origin + dt.timedelta(days=first_day),
            origin + dt.timedelta(days=first_day + day_count),
        )
        day = np.searchsorted(midnight, changes.at, side="left") - 1
        per_day = np.bincount(day, minlength=day_count)
        if (per_day > 1).any():
            twice = first_day + int(np.flatnonzero(per_day > 1)[0])
            raise ValueError(
                f"time zone {zone!r} changes its UTC offset more than once on "
                f"{origin + dt.timedelta(days=twice):%Y-%m-%d} (UTC); local times cannot be "
                "tabulated per day"
            )
        switch = np.full(day_count, 86400, dtype=np.int32)
        switch[day] = changes.at - midnight[day]
        offset = offsets_at(changes, midnight)
        parts.append(
            [
                zone_id * day_count + np.arange(day_count),
                np.full(day_count, zone_id),
                first_day + np.arange(day_count),
                offset[:-1],
                switch,
                offset[1:],
            ]
        )
    return {
        name: np.concatenate([part[i] for part in parts]).astype(np.int32)
        if parts
        else np.zeros(0, dtype=np.int32)
        for i, name in enumerate(_ZONE_DAY_COLUMNS)
    }


def zone_day_range(start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """``(first_day, day_count)`` of :func:`zone_days`: UTC days since 1970-01-01, inclusive."""
    first = int(normalize_as_of(start).timestamp() // 86400)
    last = int(normalize_as_of(end).timestamp() // 86400)
    return first, max(last - first + 1, 1)


def zone_span(
    engine: Any, *, end: dt.datetime, start: dt.datetime | None = None
) -> tuple[list[str], dt.datetime]:
    """The contacts' time zones and the start of the range their lookup tables must cover.

    Parameters
    ----------
    engine
        Anything with ``sql(text, **params) -> polars.DataFrame`` (a
        :class:`~smsanalytics.warehouse.Warehouse`, a Spark engine).
    end
        End of the range (exclusive), usually the ``as_of`` of the query.
    start
        Start of the range; default: the first ``sent_at`` before ``end`` (``end`` when there is
        none).

    Returns
    -------
    zones : list of str
        The distinct non-null ``contacts.timezone`` values (not yet checked as IANA names).
    start : datetime.datetime
    """
    end = normalize_as_of(end)
    if getattr(engine, "engine", None) == "duckdb":  # a DuckDB Warehouse: rows, not frames
        def rows(sql: str, **params: Any) -> list[tuple[Any, ...]]:
            return engine.con.execute(sql, params).fetchall()
    else:
        def rows(sql: str, **params: Any) -> list[tuple[Any, ...]]:
            return engine.sql(sql, **params).rows()
    names = rows("SELECT DISTINCT timezone FROM contacts WHERE timezone IS NOT NULL")
    zones = [z for (z,) in names]
    if start is None:
        ((first,),) = rows("SELECT min(sent_at) FROM messages WHERE sent_at < $end", end=end)
        start = first if first is not None else end
    return zones, start


def _register_zone_tables(
    warehouse: Warehouse,
    area: _StageArea,
    as_of: dt.datetime,
    wanted: set[str],
    params: dict[str, Any],
) -> None:
    """Build the zone lookup tables (``zone_ids``, and those of ``wanted``) in the run's ``area``.

    ``zone_ids`` (always) and the ``wanted`` ones of ``zone_offsets`` and ``zone_days`` become
    tables (readable from every connection of the area, and known to DuckDB's planner by size
    and key range); ``zone_days`` fills in the ``zone_first_day`` and ``zone_day_count``
    parameters of the SQL that keys it. The feature build's path (``zone_ids``, ``zone_days``)
    hands DuckDB numpy arrays, which it scans directly: a polars frame would be converted
    through pyarrow, whose import alone took ~0.02 s of a 2.6 s build in a fresh process.
    """
    zones, first = zone_span(warehouse, end=as_of)
    zone_ids = _zone_id_arrays(zones)
    frames: dict[str, Any] = {"zone_ids": zone_ids}
    if "zone_offsets" in wanted:
        frames["zone_offsets"] = zone_tables(zones, start=first, end=as_of)[1]
    if "zone_days" in wanted:
        pairs = zip(zone_ids["zone_id"].tolist(), zone_ids["timezone"].tolist(), strict=True)
        frames["zone_days"] = _zone_day_arrays(pairs, start=first, end=as_of)
        first_day, day_count = zone_day_range(first, as_of)
        params.setdefault("zone_first_day", first_day)
        params.setdefault("zone_day_count", day_count)
    con = warehouse.con
    for name, frame in frames.items():
        source = f"{name}_frame"
        con.register(source, frame)
        try:
            area.create("TABLE", name, f"SELECT * FROM {source}")
        finally:
            con.unregister(source)


def query_relation(
    warehouse: Warehouse,
    name: str,
    *,
    stage: Sequence[str] = (),
    dialect: Dialect = "duckdb",
    timings: dict[str, float] | None = None,
    order_by: Sequence[str] = (),
    **params: Any,
) -> pl.DataFrame:
    """Run relation ``name`` (compiled with :func:`compile_relation`) and return a polars frame.

    When the relation needs the time-zone lookup tables (``zone_ids``, ``zone_offsets``,
    ``zone_days``), they are built for the contacts' zones and the messages' date range up to
    ``as_of`` and kept as tables for the duration of the query.

    On ``Warehouse(engine="spark")`` the portable relation runs on Spark instead
    (:meth:`~smsanalytics.warehouse.Warehouse.query`); ``stage``, ``dialect`` and ``timings``
    are DuckDB matters and are ignored there.

    Relations listed in ``stage`` are computed first, one statement each, into tables that the
    following statements read by name. The result is the same; the peak memory is that of the
    largest steps instead of the whole plan at once. Stages that do not read each other run
    :data:`STAGE_WORKERS` at a time, each on its own cursor of the connection, their tables in
    an in-memory catalog attached for the run (read-only warehouses included) and first on the
    connection's ``search_path``, with DuckDB's thread pool shrunk so that the statements
    together use the cores it had (:func:`stage_threads`; one thread each on two cores); at the
    end the catalog is detached and the ``search_path`` and ``threads`` put back.
    Inside an open :meth:`~smsanalytics.warehouse.Warehouse.transaction` (whose uncommitted
    rows another cursor would not see) they run one at a time into temporary tables instead.

    A statement that aggregates a table with many rows per contact (one of
    :data:`_PER_CONTACT_AGGREGATES` over a table with at least
    :data:`_PERFECT_HASH_MIN_ROWS_PER_CONTACT` rows per contact: ``messages``) runs with
    DuckDB's ``perfect_ht_threshold`` raised to the number of bits of the ``contact_id`` range
    (at most 22): its per-contact ``GROUP BY`` then runs as a perfect hash aggregate, an array
    indexed by ``contact_id`` (like ``numpy.bincount``). Each thread allocates and clears the
    whole array, so it pays only where every slot gets many rows: for 21M messages stored in
    arrival order (as many daily loads leave them) it is 1.7× faster than a hash table (0.33 s
    against 0.57 s at a million contacts; about equal when the rows are clustered by contact),
    while for ``orders`` (2 rows a contact) it is 1.6–2.5× slower (0.11–0.14 s against
    0.04–0.08 s) and for ``inbound`` 5× slower. Other statements keep the session's value. It
    is an engine setting, not SQL: the relations stay portable.

    Parameters
    ----------
    warehouse
        An open :class:`~smsanalytics.warehouse.Warehouse` (read-only is fine).
    name
        Relation (file name without ``.sql``).
    stage
        Relations ``name`` depends on to compute first, in order.
    dialect
        ``"duckdb"`` (default) uses the DuckDB-specific versions of relations where they exist
        (see :func:`compile_relation`); their extra parameters ``message_id_min`` and
        ``message_id_max`` are filled in here. ``"portable"`` runs the standard SQL only.
    timings
        When given, filled with the seconds each step took (for benchmarks). Stages that ran at
        the same time overlap: the steps then add up to more than the wall time.
    order_by
        Columns to sort the result by (in SQL).
    **params
        The relations' ``$name`` parameters. ``as_of`` may be a date, datetime or ISO string.
    """
    result = _run_relation(
        warehouse, name, stage=stage, dialect=dialect, timings=timings, order_by=order_by,
        out=None, params=params,
    )
    assert isinstance(result, pl.DataFrame)
    return result


def write_relation(
    warehouse: Warehouse,
    name: str,
    path: str | Path,
    *,
    stage: Sequence[str] = (),
    dialect: Dialect = "duckdb",
    timings: dict[str, float] | None = None,
    order_by: Sequence[str] = (),
    **params: Any,
) -> Path:
    """Run relation ``name`` like :func:`query_relation`, writing the result to a Parquet file.

    DuckDB writes the rows straight from the query, never collecting them in Python: for
    results larger than memory (DuckDB streams, and spills to its temporary directory), in zstd
    with small dictionaries (``_PARQUET_OPTIONS``). The file appears complete or not at all (written
    beside it, then renamed); its folder must exist.
    The parameters are those of :func:`query_relation`. On ``Warehouse(engine="spark")`` the
    relation runs on Spark and ``path`` becomes a folder of part files
    (:meth:`~smsanalytics.warehouse.Warehouse.write_relation`).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    result = _run_relation(
        warehouse, name, stage=stage, dialect=dialect, timings=timings, order_by=order_by,
        out=Path(path), params=params,
    )
    assert isinstance(result, Path)
    return result


def _run_relation(
    warehouse: Warehouse,
    name: str,
    *,
    stage: Sequence[str],
    dialect: Dialect,
    timings: dict[str, float] | None,
    order_by: Sequence[str],
    out: Path | None,
    params: dict[str, Any],
    contacts_per_part: int | None = None,
) -> pl.DataFrame | Path:
    """:func:`query_relation` (``out`` None) and :func:`write_relation` (``out`` a path).

    With ``contacts_per_part``, the relation (which must be per contact: each of its rows
    depends only on one contact's rows of the contact-keyed tables) runs once per range of
    contact ids (:func:`contact_parts`) with those tables narrowed to the range
    (:func:`_narrow_contact_tables`); the frames are concatenated, or each part is written to
    its own file of the folder ``out``.
    """
    if "as_of" in params:
        params["as_of"] = normalize_as_of(params["as_of"])
    if getattr(warehouse, "engine", "duckdb") != "duckdb":
        # Warehouse(engine="spark"): the portable relation runs on the engine, typed as DuckDB
        # types it (docs/scale-out.md); staging and DuckDB dialects do not apply there.
        if out is not None:
            warehouse.write_relation(name, out, overwrite=True, **params)
            return out
        result = warehouse.query(name, **params)
        return result.sort(list(order_by)) if order_by else result
    con = warehouse.con
    if dialect == "duckdb":
        lo_id, hi_id = con.execute(
            "SELECT min(message_id), max(message_id) FROM messages"
        ).fetchall()[0]
        if lo_id is not None and hi_id - lo_id >= 2**31 - 1:  # get_bit takes a 32-bit position
            dialect = "portable"
        else:
            params.setdefault("message_id_min", lo_id if lo_id is not None else 0)
            params.setdefault("message_id_max", hi_id if hi_id is not None else 0)
    steps = [*stage, name]
    sqls = [
        compile_relation(rel, external=steps[:i], dialect=dialect) for i, rel in enumerate(steps)
    ]
    bodies = [code_text(sql) for sql in sqls]
    wanted_helpers = {
        h for body in bodies for h in _HELPER_TABLES if re.search(rf"\b{h}\b", body)
    }
    wanted_zones = wanted_helpers & set(_ZONE_RELATIONS)
    if wanted_helpers and "as_of" not in params:
        raise WarehouseError(f"relation {name!r} needs the as_of parameter")
    parts = contact_parts(warehouse, contacts_per_part) if contacts_per_part else [(None, None)]
    narrowed = [t for t in _CONTACT_TABLES if any(re.search(rf"\b{t}\b", b) for b in bodies)]
    dense = _dense_tables(con, [t for t in _PER_CONTACT_AGGREGATES.values() if t in narrowed])
    perfect_hash = _perfect_hash_steps(steps, dense, dialect)
    previous = con.execute("SELECT current_setting('perfect_ht_threshold')").fetchall()[0][0]
    previous_order = con.execute(
        "SELECT current_setting('preserve_insertion_order')"
    ).fetchall()[0][0]
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        if timings is not None:
            now = time.perf_counter()
            timings[step] = round(timings.get(step, 0.0) + now - clock, 3)
            clock = now

    # the stages run STAGE_WORKERS at a time on cursors sharing an attached catalog; inside a
    # transaction (whose uncommitted rows other cursors cannot see) one by one, in temp
    workers = 1 if warehouse.in_transaction else STAGE_WORKERS
    # with contacts_per_part, `out` is a folder of part files, written beside it and renamed
    folder_tmp = out.with_name(f".{out.name}.tmp") if out and contacts_per_part else None
    area = _StageArea(con, workers)
    try:
        if wanted_zones:
            _register_zone_tables(warehouse, area, params["as_of"], wanted_zones, params)
            lap("zone_tables")
        if folder_tmp is not None:
            shutil.rmtree(folder_tmp, ignore_errors=True)
            folder_tmp.mkdir(parents=False)
        # no statement here promises an order without ORDER BY (order_by sorts in SQL): DuckDB
        # may then emit rows as its threads finish them (the final step ~0.04 s faster at 1M)
        con.execute("SET preserve_insertion_order = false").fetchall()
        frames: list[pl.DataFrame] = []
        for i, (lo, hi) in enumerate(parts):
            _narrow_contact_tables(area, narrowed, lo, hi)
            bits = _contact_id_bits(con)
            threshold = [
                bits if wanted and bits <= _MAX_PERFECT_HASH_BITS else int(previous)
                for wanted in perfect_hash
            ]
            jobs = [
                _StageJob(rel, sql, bind_parameters(sql, params, rel, allow_unused=True), bits_now)
                for rel, sql, bits_now in zip(steps[:-1], sqls[:-1], threshold[:-1], strict=True)
            ]
            if i == 0 and "delivered_blocks" in wanted_helpers:  # once, for every part
                sql = _DELIVERED_BLOCKS_SQL
                bound = bind_parameters(sql, params, "delivered_blocks", allow_unused=True)
                jobs.insert(0, _StageJob("delivered_blocks", sql, bound, int(previous)))
            area.run(jobs, timings)
            clock = time.perf_counter()
            con.execute(f"SET perfect_ht_threshold = {threshold[-1]}").fetchall()
            final = sqls[-1]
            if order_by:
                final = f"SELECT * FROM ({final}) ORDER BY {', '.join(order_by)}"
            bound = bind_parameters(final, params, name, allow_unused=True)
            if out is None:
                frames.append(con.sql(final, params=bound).pl())
            else:
                target = (
                    folder_tmp / f"part-{i:05d}.parquet"
                    if folder_tmp is not None
                    else out.with_name(f".{out.name}.tmp")
                )
                try:
                    con.execute(
                        f"COPY ({final}) TO '{_sql_string(target)}' ({_PARQUET_OPTIONS})",
                        bound,
                    ).fetchall()
                    if folder_tmp is None:
                        _replace_path(target, out)
                finally:
                    if folder_tmp is None:
                        target.unlink(missing_ok=True)
            lap(name)
        if out is None:
            return frames[0] if len(frames) == 1 else pl.concat(frames)
        if folder_tmp is not None:
            _replace_path(folder_tmp, out)
        return out
    finally:
        if folder_tmp is not None:
            shutil.rmtree(folder_tmp, ignore_errors=True)
        area.close()
        con.execute(f"SET perfect_ht_threshold = {int(previous)}").fetchall()
        con.execute(f"SET preserve_insertion_order = {bool(previous_order)}").fetchall()


#: How :func:`write_relation` writes Parquet. zstd at level 1: as fast to write as snappy, files
#: ~15 % smaller (level 3 cost 0.15 s more for 4 % less at 1M contacts). Dictionaries of at most
#: 4 KB per column chunk: the small counts and day numbers of a feature table still fit one (512
#: 64-bit values), while a column of distinct values (timestamps, amounts) gives up after a few
#: hundred instead of hashing thousands first; DuckDB's default limit wrote the 1M-contact feature
#: table in 0.47–0.49 s (66.3 MB), 4 KB in 0.43–0.44 s (65.6 MB), 1 KB or 16 KB in 0.45–0.46 s.
_PARQUET_OPTIONS = (
    "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, DICTIONARY_SIZE_LIMIT 4096"
)

#: How many stages of a staged run (:func:`query_relation`) run at a time, each on its own
#: cursor of the warehouse's connection, with DuckDB's thread pool shrunk meanwhile so that
#: there is one runnable thread per core in all (:func:`stage_threads`). On two cores each
#: statement then runs on one thread, start to end, beside the other: no serial phase (building
#: a hash table, finalising an aggregate, creating a table) leaves a core idle, and no statement
#: pays for partitioning and merging its work between threads. Measured at 1M contacts: the
#: stages 1.55 s with two threads shared by two statements, 1.36–1.43 s with one each.
STAGE_WORKERS = 2


def stage_threads(threads: int, workers: int, external_threads: int = 1) -> int:
    """DuckDB's ``threads`` setting while ``workers`` stages run at once.

    A statement runs on the thread that executes it (here a stage worker's) plus DuckDB's
    background threads, of which a setting of ``t`` starts ``t - external_threads``, shared by
    all statements: one statement keeps ``t - external_threads + 1`` threads busy, ``workers``
    statements at once ``t - external_threads + workers``. The result is the ``t`` that keeps
    the second number at the first one's for ``t = threads`` (the cores DuckDB was given), and
    never below ``external_threads`` (DuckDB refuses fewer).

    Parameters
    ----------
    threads : int
        DuckDB's ``threads`` setting outside the stages.
    workers : int
        How many stages run at once.
    external_threads : int
        DuckDB's ``external_threads`` setting (1 unless configured).

    Returns
    -------
    int
        ``max(external_threads, 1, threads - workers + 1)``.

    Examples
    --------
    >>> stage_threads(2, 2), stage_threads(8, 2), stage_threads(1, 2), stage_threads(2, 2, 2)
    (1, 7, 1, 2)
    """
    return max(external_threads, 1, threads - workers + 1)


#: The in-memory catalog a staged run attaches for its tables and views (see :class:`_StageArea`).
_SCRATCH = "smsanalytics_stages"


@dataclass(frozen=True)
class _StageJob:
    """One statement of a staged run: ``CREATE TABLE name AS sql`` with its bound parameters and
    the ``perfect_ht_threshold`` to run it with."""

    name: str
    sql: str
    params: dict[str, Any]
    perfect_hash_bits: int


class _StageArea:
    """Where a staged run keeps its tables and views, and the connections that fill them.

    With ``workers`` > 1: an in-memory catalog attached for the run (a read-only warehouse may
    attach one) and first on the ``search_path`` of the connection and of ``workers`` cursors,
    so that the relations' SQL reads the staged tables by their bare names from any of them;
    detached at the end, which drops everything in it. With one worker (inside a transaction):
    the connection's temporary catalog, whose objects are dropped one by one at the end.
    """

    def __init__(self, con: Any, workers: int) -> None:
        self.con = con
        self.home = con.execute("SELECT current_database()").fetchall()[0][0]
        self.catalog = "temp"
        self.connections: list[Any] = [con]
        self.created: dict[str, str] = {}  # name -> TABLE or VIEW (temporary catalog only)
        self._search_path: str | None = None
        if workers > 1:
            self._search_path = con.execute(
                "SELECT current_setting('search_path')"
            ).fetchall()[0][0]
            con.execute(f"DETACH DATABASE IF EXISTS {_SCRATCH}").fetchall()
            con.execute(f"ATTACH ':memory:' AS {_SCRATCH} (READ_WRITE)").fetchall()
            self.catalog = _SCRATCH
            try:
                rest = self._search_path or f"{quote_identifier(self.home)}.main"
                path = f"{_SCRATCH}.main,{rest}".replace("'", "''")
                self.connections = [con.cursor() for _ in range(workers)]
                for c in [con, *self.connections]:
                    c.execute(f"SET search_path = '{path}'").fetchall()
            except BaseException:
                self.close()
                raise

    def _create(self, kind: str, name: str) -> str:
        """The head of the statement that creates ``name`` in the area (kind: TABLE or VIEW)."""
        if self.catalog == "temp":
            return f"CREATE OR REPLACE TEMP {kind} {name}"
        return f"CREATE OR REPLACE {kind} {self.catalog}.main.{name}"

    def create(self, kind: str, name: str, sql: str, params: Any = None) -> None:
        """``CREATE OR REPLACE {kind} name AS sql`` in the area (kind: TABLE or VIEW)."""
        self.con.execute(f"{self._create(kind, name)} AS {sql}", params).fetchall()
        self.created[name] = kind

    def run(self, jobs: Sequence[_StageJob], timings: dict[str, float] | None) -> None:
        """Create each job's table, as many at a time as there are connections, each once the
        staged tables its SQL reads exist (jobs in dependency order; a failure interrupts the
        others and is raised). Meanwhile DuckDB's ``threads`` is :func:`stage_threads` of its
        value, put back at the end."""
        if len(self.connections) == 1:
            for job in jobs:
                self._run_job(self.connections[0], job, timings)
            return
        threads, external = self.con.execute(
            "SELECT current_setting('threads'), current_setting('external_threads')"
        ).fetchall()[0]
        budget = stage_threads(int(threads), len(self.connections), int(external))
        self.con.execute(f"SET threads = {budget}").fetchall()
        try:
            self._run_concurrently(jobs, timings)
        finally:
            self.con.execute(f"SET threads = {threads}").fetchall()

    def _run_concurrently(
        self, jobs: Sequence[_StageJob], timings: dict[str, float] | None
    ) -> None:
        """:meth:`run` with a job on each connection at a time."""
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        names = {job.name for job in jobs}
        bodies = {job.name: code_text(job.sql) for job in jobs}
        needs = {
            job.name: {n for n in names - {job.name} if re.search(rf"\b{n}\b", bodies[job.name])}
            for job in jobs
        }
        pending, done = list(jobs), set()
        free = list(self.connections)
        running: dict[Any, tuple[_StageJob, Any]] = {}
        with ThreadPoolExecutor(max_workers=len(self.connections)) as pool:
            try:
                while pending or running:
                    for job in [j for j in pending if needs[j.name] <= done]:
                        if not free:
                            break
                        cursor = free.pop()
                        pending.remove(job)
                        running[pool.submit(self._run_job, cursor, job, timings)] = (job, cursor)
                    if not running:  # dependencies that nothing can satisfy
                        raise WarehouseError(f"stages wait on each other: {sorted(needs)}")
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        job, cursor = running.pop(future)
                        error = future.exception()
                        if error is not None:
                            raise error
                        done.add(job.name)
                        free.append(cursor)
            except BaseException:
                # a failed stage (or Ctrl-C): stop the statements still running, then raise
                for _, cursor in running.values():
                    cursor.interrupt()
                wait(running)
                raise

    def _run_job(self, con: Any, job: _StageJob, timings: dict[str, float] | None) -> None:
        started = time.perf_counter()
        con.execute(f"SET perfect_ht_threshold = {job.perfect_hash_bits}").fetchall()
        con.execute(f"{self._create('TABLE', job.name)} AS {job.sql}", job.params).fetchall()
        self.created[job.name] = "TABLE"
        if timings is not None:  # concurrent stages overlap: their sum exceeds the wall time
            seconds = time.perf_counter() - started
            timings[job.name] = round(timings.get(job.name, 0.0) + seconds, 3)

    def close(self) -> None:
        """Drop everything the run made and put the connection's search path back."""
        if self.catalog == "temp":
            for name, kind in self.created.items():
                self.con.execute(f"DROP {kind} IF EXISTS temp.main.{name}").fetchall()
            return
        for cursor in self.connections:
            cursor.close()
        previous = (self._search_path or "").replace("'", "''")
        self.con.execute(f"SET search_path = '{previous}'").fetchall()
        self.con.execute(f"DETACH DATABASE IF EXISTS {_SCRATCH}").fetchall()


#: Bitmaps of the delivered messages before ``$as_of``, one row per block of 65,536 consecutive
#: message ids (``block``, ``bits``), every block of the messages' id range present (all zeros
#: when none of its messages was delivered): the helper table ``delivered_blocks`` of
#: ``sql/duckdb/agg_contact_messages.sql`` (which explains the layout), built once per run.
#: 8 KB per block: ~330 blocks (2.6 MB) for the 21M dense ids of 1M contacts; at most 32,768
#: (256 MB) for ids spread over the 2^31 range the DuckDB dialect accepts (ingest and the send
#: ledger number messages densely).
_DELIVERED_BLOCKS_SQL = """
WITH delivered AS (
    SELECT
        (r.message_id - $message_id_min) // 65536 AS block,
        bitstring_agg(CAST((r.message_id - $message_id_min) % 65536 AS INTEGER), 0, 65535) AS bits
    FROM receipts AS r
    WHERE r.status = 'delivered'
        AND r.status_at < CAST($as_of AS TIMESTAMPTZ)
        AND r.message_id BETWEEN $message_id_min AND $message_id_max
    GROUP BY (r.message_id - $message_id_min) // 65536
)
SELECT b.block, coalesce(d.bits, bitstring('0'::BITSTRING, 65536)) AS bits
FROM range(0, ($message_id_max - $message_id_min) // 65536 + 1) AS b(block)
LEFT JOIN delivered AS d ON d.block = b.block
"""


def contact_parts(
    warehouse: Warehouse, contacts_per_part: int
) -> list[tuple[int | None, int | None]]:
    """Ranges of contact ids holding at most about ``contacts_per_part`` contacts each.

    Returns ``[(None, b1), (b1, b2), …, (bk, None)]``: part ``i`` is the contacts with
    ``lo < contact_id <= hi`` (``None``: unbounded), so every contact id — also one that is only
    in an event table — falls in exactly one part. The bounds are quantiles of
    ``contacts.contact_id`` (``quantile_disc``), so parts are even however sparse the ids are;
    ``[(None, None)]`` when one part is enough.

    Raises
    ------
    ValueError
        If ``contacts_per_part`` is not a positive integer.
    """
    if not isinstance(contacts_per_part, int) or contacts_per_part < 1:
        raise ValueError(f"contacts_per_part must be a positive integer, got {contacts_per_part!r}")
    n = warehouse.con.execute("SELECT count(*) FROM contacts").fetchall()[0][0]
    k = -(-n // contacts_per_part)
    if k <= 1:
        return [(None, None)]
    quantiles = [i / k for i in range(1, k)]
    bounds = warehouse.con.execute(
        "SELECT quantile_disc(contact_id, $q) FROM contacts", {"q": quantiles}
    ).fetchall()[0][0]
    edges: list[int | None] = [None, *sorted(set(bounds)), None]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _narrow_contact_tables(
    area: _StageArea, tables: Sequence[str], lo: int | None, hi: int | None
) -> None:
    """Views of the run's ``area`` that shadow ``tables`` with their rows of
    ``lo < contact_id <= hi`` (none when the range is unbounded).

    The area's catalog comes before the warehouse's in name resolution (the temporary catalog
    always does; an attached one is first on the ``search_path``), so the relations' SQL reads
    the views unchanged; the filter on ``contact_id`` is pushed into the table scans, which skip
    the row groups outside the range (the tables are stored clustered by contact:
    ``schemas.cluster_order``). A later part replaces them.
    """
    if not tables or (lo is None and hi is None):
        return
    where = " AND ".join(
        [*([f"contact_id > {int(lo)}"] if lo is not None else []),
         *([f"contact_id <= {int(hi)}"] if hi is not None else [])]
    )
    for table in tables:
        source = f"{quote_identifier(area.home)}.main.{table}"
        area.create("VIEW", table, f"SELECT * FROM {source} WHERE {where}")


def _dense_tables(con: Any, tables: Sequence[str]) -> list[str]:
    """The ``tables`` with at least :data:`_PERFECT_HASH_MIN_ROWS_PER_CONTACT` rows per contact
    (row counts of the whole tables: a part narrows a table and the contacts alike)."""
    if not tables:
        return []
    counts = ", ".join(f"(SELECT count(*) FROM {t})" for t in ["contacts", *tables])
    n_contacts, *rows = con.execute(f"SELECT {counts}").fetchall()[0]
    per_contact = _PERFECT_HASH_MIN_ROWS_PER_CONTACT * max(n_contacts, 1)
    return [t for t, n in zip(tables, rows, strict=True) if n >= per_contact]


def _perfect_hash_steps(
    steps: Sequence[str], dense: Iterable[str], dialect: Dialect
) -> list[bool]:
    """For each statement of a staged run (``steps``: the stages, then the relation), whether it
    aggregates one of the ``dense`` tables per contact (holds a relation of
    :data:`_PER_CONTACT_AGGREGATES` over one of them, itself or inlined)."""
    dense = set(dense)
    return [
        any(
            _PER_CONTACT_AGGREGATES.get(r) in dense
            for r in inlined_relations(rel, external=steps[:i], dialect=dialect)
        )
        for i, rel in enumerate(steps)
    ]


def _contact_id_bits(con: Any) -> int:
    """Bits of the contact-id range of ``contacts`` as the SQL sees it (≥ 12)."""
    lo, hi = con.execute("SELECT min(contact_id), max(contact_id) FROM contacts").fetchall()[0]
    return max(int(hi - lo + 2).bit_length(), 12) if lo is not None else 12


def _replace_path(new: Path, target: Path) -> None:
    """Put ``new`` (a file or a folder) at ``target``, replacing what was there.

    A file replaces a file atomically (``os.replace``); anything else — a folder of parts where a
    file was, or the reverse — moves the old one aside first and deletes it once ``new`` is in
    place.
    """
    if new.is_file() and not target.is_dir():
        new.replace(target)
        return
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.is_dir():
        target.rename(old)
    elif target.exists():
        target.unlink()
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _sql_string(path: Path) -> str:
    """``path`` as the body of a SQL string literal (quotes doubled)."""
    return str(path).replace("'", "''")


# -- public feature builders --------------------------------------------------------------------
def contact_features(
    warehouse: Warehouse,
    *,
    as_of: str | dt.date | dt.datetime,
    timings: dict[str, float] | None = None,
    contacts_per_part: int | None = CONTACTS_PER_PART,
) -> pl.DataFrame:
    """The per-contact feature table at ``as_of`` (relation ``fct_contact_features``).

    Parameters
    ----------
    warehouse
        Warehouse holding the canonical tables (``contacts``, ``messages``, ``receipts``,
        ``clicks``, ``inbound``, ``orders``).
    as_of
        Instant the features describe (exclusive). A date means midnight UTC.
    timings
        When given, filled with the seconds of each step (see :func:`query_relation`), summed
        over the parts.
    contacts_per_part
        Above this many contacts, the table is computed one range of contact ids at a time
        (:func:`contact_parts`) and the parts are concatenated: the same rows, with each step's
        memory and hash tables bounded by the part (default :data:`CONTACTS_PER_PART`; ``None``:
        one query whatever the size).

    Returns
    -------
    polars.DataFrame
        One row per contact known at ``as_of``, sorted by ``contact_id``; columns are defined in
        ``docs/segments.md``: identity and consent (``country``, ``timezone``, ``signup_at``,
        ``tenure_days``, ``consent_at``, ``opted_out_at``, ``is_opted_out``, ``is_consented``,
        ``birthday``, ``days_to_birthday``, ``points``), orders (``n_orders``,
        ``monetary_total``, ``monetary_mean``, ``first_order_at``, ``last_order_at``,
        ``recency_days``, ``gap_before_last_purchase_days``, ``n_purchase_days``), BG/NBD inputs
        in days (``bgnbd_frequency``, ``bgnbd_recency_days``, ``bgnbd_t_days``), engagement
        (``n_sent``, ``n_delivered``, ``delivery_rate``, ``n_clicks``, ``n_clicked_messages``,
        ``click_rate``, ``sms_cost``, ``first_sent_at``, ``last_sent_at``,
        ``days_since_last_sent``, ``last_click_at``, ``days_since_last_click``, ``n_inbound``)
        and the best local send hour so far, of the day (``best_local_hour``,
        ``best_local_hour_sends``, ``best_local_hour_click_rate``) and of the week
        (``best_local_hour_of_week``, 0 = Monday 00:00 … 167 = Sunday 23:00,
        ``best_local_hour_of_week_sends``, ``best_local_hour_of_week_click_rate``). Never a
        phone number.
    """
    result = _run_relation(
        warehouse,
        FEATURE_RELATION,
        stage=FEATURE_STAGES,
        dialect="duckdb",
        timings=timings,
        order_by=("contact_id",),
        out=None,
        params={"as_of": as_of},
        contacts_per_part=contacts_per_part,
    )
    assert isinstance(result, pl.DataFrame)
    return result


def write_contact_features(
    warehouse: Warehouse,
    path: str | Path,
    *,
    as_of: str | dt.date | dt.datetime,
    timings: dict[str, float] | None = None,
    contacts_per_part: int | None = None,
) -> Path:
    """Write the per-contact feature table at ``as_of`` to a Parquet file, without collecting it.

    The same table as :func:`contact_features` (same rows, columns and types), written by DuckDB
    straight from the query: the way to build features for bases whose feature table does not
    fit in memory (10M contacts is ~3 GB as a polars frame), and the fastest way to hand them to
    another job. The rows are in no particular order, as with Spark's writers (sorting 10M rows
    before writing cost a third of the final step); sort on read when the order matters. The
    file is replaced atomically.

    Parameters
    ----------
    warehouse
        Warehouse holding the canonical tables.
    path
        Parquet file to write (its folder must exist); with ``contacts_per_part``, a folder of
        part files.
    as_of
        Instant the features describe (exclusive). A date means midnight UTC.
    timings
        When given, filled with the seconds of each step (see :func:`query_relation`), summed
        over the parts.
    contacts_per_part
        When given, ``path`` becomes a folder of Parquet files ``part-00000.parquet``, … (as
        Spark writes them; ``polars.scan_parquet(path)`` and DuckDB's
        ``read_parquet('path/*.parquet')`` read them as one table), one per range of about
        ``contacts_per_part`` contacts (:func:`contact_parts`), each computed by its own queries:
        for bases of several million contacts, where one query would outgrow the perfect-hash
        aggregates and spill (10M contacts: 27.5 s in parts of 2^20 against 33.9 s at once,
        ``docs/performance.md``). The folder is replaced as a whole, or left as it was on error.
        Ignored on ``Warehouse(engine="spark")``, whose writer always makes a folder of parts.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    result = _run_relation(
        warehouse,
        FEATURE_RELATION,
        stage=FEATURE_STAGES,
        dialect="duckdb",
        timings=timings,
        order_by=(),
        out=Path(path),
        params={"as_of": as_of},
        contacts_per_part=contacts_per_part,
    )
    assert isinstance(result, Path)
    return result


def order_summary(warehouse: Warehouse, *, as_of: str | dt.date | dt.datetime) -> pl.DataFrame:
    """RFM and BG/NBD inputs per buyer from the ``orders`` table alone (``fct_contact_orders``).

    Returns
    -------
    polars.DataFrame
        One row per contact with an order before ``as_of``: ``n_orders``, ``monetary_total``,
        ``monetary_mean``, ``first_order_at``, ``last_order_at``, ``n_purchase_days``,
        ``recency_days``, ``gap_before_last_purchase_days``, ``bgnbd_frequency``,
        ``bgnbd_recency_days``, ``bgnbd_t_days`` (days between UTC dates; BG/NBD inputs follow
        lifetimes' ``summary_data_from_transaction_data(freq="D",
        observation_period_end=as_of date)`` on the orders before ``as_of``).
    """
    return query_relation(warehouse, "fct_contact_orders", as_of=as_of).sort("contact_id")


def send_hour_engagement(
    warehouse: Warehouse, *, as_of: str | dt.date | dt.datetime
) -> pl.DataFrame:
    """Sends and human-clicked messages per contact and local send hour (``agg_contact_send_hour``).

    Local hours come from each contact's IANA zone (DST-exact); contacts without a known zone
    are absent.
    """
    return query_relation(warehouse, "agg_contact_send_hour", as_of=as_of).sort(
        "contact_id", "local_hour"
    )


# -- the Online Retail reader -------------------------------------------------------------------
@dataclass(frozen=True)
class OnlineRetailReport:
    """What :func:`load_online_retail` kept and dropped, in lines unless stated.

    Attributes
    ----------
    rows_read
        Lines in the file.
    duplicate_rows
        Exact duplicates of an earlier line (all columns equal), dropped.
    rows_without_customer
        Lines without ``CustomerID``, dropped (they cannot be attributed to a contact).
    adjustment_rows
        ``A…`` invoices ("Adjust bad debt") with a customer, dropped.
    negative_rows_dropped
        Lines with a customer and ``Quantity <= 0`` that are not cancellations, or cancellation
        lines with ``Quantity >= 0``, dropped.
    cancellation_rows
        ``C…`` lines with a customer (netted against earlier purchases, then dropped).
    cancelled_units_matched, cancelled_units_unmatched
        Units of cancellation lines matched to an earlier purchase line of the same customer and
        stock code, and units with no such purchase (bought before the data starts, or
        non-product codes such as ``D`` discount and ``M`` manual): the latter change no order.
    cancelled_value_matched
        Value removed from purchase invoices by matched cancellations (GBP).
    orders_fully_cancelled
        Invoices whose net value became ≤ 0 after cancellations, dropped.
    orders, customers
        Orders (invoices) and customers in the result.
    """

    rows_read: int
    duplicate_rows: int
    rows_without_customer: int
    adjustment_rows: int
    negative_rows_dropped: int
    cancellation_rows: int
    cancelled_units_matched: int
    cancelled_units_unmatched: int
    cancelled_value_matched: float
    orders_fully_cancelled: int
    orders: int
    customers: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_RETAIL_SCHEMA = {
    "InvoiceNo": pl.String,
    "StockCode": pl.String,
    "Description": pl.String,
    "Quantity": pl.Int64,
    "InvoiceDate": pl.String,
    "UnitPrice": pl.Float64,
    "CustomerID": pl.Int64,
    "Country": pl.String,
}


def _read_retail(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
    else:
        frame = pl.read_csv(path, schema_overrides=_RETAIL_SCHEMA)
    missing = sorted(set(_RETAIL_SCHEMA) - set(frame.columns))
    if missing:
        raise ValueError(
            f"{path}: column(s) {missing} missing; an Online Retail export has columns "
            f"{list(_RETAIL_SCHEMA)}"
        )
    return frame.select(pl.col(c).cast(t) for c, t in _RETAIL_SCHEMA.items())


def load_online_retail(
    path: str | Path, *, timezone: str = "Europe/London"
) -> tuple[pl.DataFrame, OnlineRetailReport]:
    """Read the UCI Online Retail line-level export into canonical ``orders`` rows.

    Rules, in order (see ``docs/segments.md``):

    1. exact duplicate lines are dropped (one copy kept);
    2. lines without ``CustomerID`` are dropped;
    3. ``A…`` invoices (bad-debt adjustments) are dropped;
    4. cancellation lines (``InvoiceNo`` starting with ``C``) are matched to the same customer's
       earlier purchase lines of the same ``StockCode``, most recent first, and their units are
       removed from those lines; unmatched units change nothing and are counted;
    5. other lines with ``Quantity <= 0`` are dropped;
    6. each remaining invoice is one order: ``amount`` = Σ remaining quantity × ``UnitPrice``
       (rounded to cents), ``ordered_at`` = its earliest ``InvoiceDate`` read in ``timezone``
       and converted to UTC; invoices whose amount is ≤ 0 (fully cancelled, free items) are
       dropped.

    Parameters
    ----------
    path
        ``online_retail.csv`` (UCI columns) or a Parquet copy with the same columns.
    timezone
        Zone of the naive ``InvoiceDate`` values (UCI states none; the shop is in the UK).

    Returns
    -------
    orders : polars.DataFrame
        ``order_id`` (the invoice number), ``contact_id`` (the ``CustomerID``), ``ordered_at``
        (UTC), ``amount`` (GBP), ``currency`` (``GBP``), sorted by ``ordered_at, order_id``.
    report : OnlineRetailReport

    References
    ----------
    Chen, D., Sain, S.L., Guo, K. (2012). Data mining for the online retail industry: a case
    study of RFM model-based customer segmentation using data mining. J. Database Marketing &
    Customer Strategy Management 19(3), 197–208.
    """
    raw = _read_retail(Path(path))
    rows_read = raw.height
    lines = raw.unique(maintain_order=True)
    duplicate_rows = rows_read - lines.height
    lines = lines.with_row_index("line")
    rows_without_customer = lines["CustomerID"].null_count()
    lines = lines.filter(pl.col("CustomerID").is_not_null())
    is_adjustment = pl.col("InvoiceNo").str.starts_with("A")
    adjustment_rows = lines.filter(is_adjustment).height
    lines = lines.filter(~is_adjustment)
    is_cancel = pl.col("InvoiceNo").str.starts_with("C")
    cancels = lines.filter(is_cancel & (pl.col("Quantity") < 0))
    purchases = lines.filter(~is_cancel & (pl.col("Quantity") > 0))
    negative_rows_dropped = lines.height - cancels.height - purchases.height
    purchases = purchases.with_columns(
        pl.col("InvoiceDate")
        .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us")
        .dt.replace_time_zone(timezone, ambiguous="raise", non_existent="raise")
        .dt.convert_time_zone("UTC")
        .alias("ordered_at")
    )
    cancels = cancels.with_columns(
        pl.col("InvoiceDate")
        .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us")
        .dt.replace_time_zone(timezone, ambiguous="raise", non_existent="raise")
        .dt.convert_time_zone("UTC")
        .alias("cancelled_at")
    )
    removed, matched_units, unmatched_units = _match_cancellations(purchases, cancels)
    purchases = purchases.join(removed, on="line", how="left").with_columns(
        (pl.col("Quantity") - pl.col("removed").fill_null(0)).alias("net_quantity")
    )
    matched_value = float(
        purchases.select((pl.col("removed").fill_null(0) * pl.col("UnitPrice")).sum()).item()
    )
    invoices = purchases.group_by("InvoiceNo").agg(
        pl.col("CustomerID").first().alias("contact_id"),
        pl.col("ordered_at").min(),
        (pl.col("net_quantity") * pl.col("UnitPrice")).sum().round(2).alias("amount"),
    )
    orders = (
        invoices.filter(pl.col("amount") > 0)
        .select(
            pl.col("InvoiceNo").alias("order_id"),
            pl.col("contact_id").cast(pl.Int64),
            pl.col("ordered_at"),
            pl.col("amount"),
            pl.lit("GBP").alias("currency"),
        )
        .sort("ordered_at", "order_id")
    )
    report = OnlineRetailReport(
        rows_read=rows_read,
        duplicate_rows=duplicate_rows,
        rows_without_customer=rows_without_customer,
        adjustment_rows=adjustment_rows,
        negative_rows_dropped=negative_rows_dropped,
        cancellation_rows=cancels.height,
        cancelled_units_matched=matched_units,
        cancelled_units_unmatched=unmatched_units,
        cancelled_value_matched=round(matched_value, 2),
        orders_fully_cancelled=invoices.height - orders.height,
        orders=orders.height,
        customers=orders["contact_id"].n_unique(),
    )
    return orders, report


def _match_cancellations(
    purchases: pl.DataFrame, cancels: pl.DataFrame
) -> tuple[pl.DataFrame, int, int]:
    """Units removed per purchase line by cancellations (most recent earlier purchase first)."""
    keys = cancels.select("CustomerID", "StockCode").unique()
    candidates = purchases.join(keys, on=["CustomerID", "StockCode"], how="semi").sort(
        "ordered_at", "line"
    )
    remaining: dict[tuple[int, str], list[list[Any]]] = {}
    for line, customer, stock, at, qty in candidates.select(
        "line", "CustomerID", "StockCode", "ordered_at", "Quantity"
    ).iter_rows():
        remaining.setdefault((customer, stock), []).append([at, line, qty])
    removed: dict[int, int] = {}
    matched = unmatched = 0
    for customer, stock, at, qty in (
        cancels.sort("cancelled_at", "line")
        .select("CustomerID", "StockCode", "cancelled_at", "Quantity")
        .iter_rows()
    ):
        units = -qty
        for entry in reversed(remaining.get((customer, stock), [])):
            if units == 0:
                break
            bought_at, line, left = entry
            if bought_at > at or left == 0:
                continue
            take = min(units, left)
            entry[2] -= take
            removed[line] = removed.get(line, 0) + take
            units -= take
        matched += -qty - units
        unmatched += units
    frame = pl.DataFrame(
        {"line": list(removed), "removed": list(removed.values())},
        schema={"line": pl.UInt32, "removed": pl.Int64},
    )
    return frame, matched, unmatched
