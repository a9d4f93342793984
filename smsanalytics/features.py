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
import time
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import polars as pl

from smsanalytics.warehouse import Warehouse, WarehouseError, sql_text

__all__ = [
    "FEATURE_RELATION",
    "FEATURE_STAGES",
    "OnlineRetailReport",
    "compile_relation",
    "dialect_overrides",
    "relation_text",
    "contact_features",
    "load_online_retail",
    "normalize_as_of",
    "order_summary",
    "query_relation",
    "send_hour_engagement",
    "zone_tables",
]

#: The relation :func:`contact_features` runs.
FEATURE_RELATION = "fct_contact_features"
#: Its per-contact inputs, computed one statement at a time (see :func:`query_relation`).
FEATURE_STAGES = (
    "agg_contact_messages",
    "fct_contact_send_hour",
    "fct_contact_orders",
    "agg_contact_clicks",
    "agg_contact_inbound",
)

_REF = re.compile(r"\b((?:stg|fct|agg)_[a-z0-9_]+)\b")
_LINE_COMMENT = re.compile(r"--[^\n]*")
_PARAM = re.compile(r"(?<![\w$:])\$([A-Za-z_]\w*)")
#: Lookup tables registered per run (not SQL files): see :func:`zone_tables`.
_ZONE_RELATIONS = ("zone_ids", "zone_offsets")
_BUCKET_SECONDS = 900
#: SQL dialects: the portable files of ``sql/``, or DuckDB-specific versions in ``sql/duckdb/``.
Dialect = Literal["portable", "duckdb"]
#: Largest contact_id range (in bits) aggregated with a perfect hash table: 2^22 slots per thread.
_MAX_PERFECT_HASH_BITS = 22


# -- compiling relations ------------------------------------------------------------------------
def _available_relations() -> set[str]:
    folder = resources.files("smsanalytics") / "sql"
    return {p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql")}


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


def _dependencies(name: str, available: set[str], dialect: Dialect) -> list[str]:
    body = _LINE_COMMENT.sub("", relation_text(name, dialect))
    return sorted({r for r in _REF.findall(body) if r != name and r in available})


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
        Relations that already exist as tables or views (e.g. staged temporary tables): they are
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
    available = _available_relations() - set(external)
    order: list[str] = []
    visiting: list[str] = []

    def visit(rel: str) -> None:
        if rel in order:
            return
        if rel in visiting:
            cycle = " -> ".join([*visiting[visiting.index(rel) :], rel])
            raise WarehouseError(f"SQL relations refer to each other in a cycle: {cycle}")
        visiting.append(rel)
        for dep in _dependencies(rel, available, dialect):
            visit(dep)
        visiting.pop()
        order.append(rel)

    sql_text(name)  # raises a WarehouseError naming the available relations
    visit(name)
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
    lines = [ln for ln in _LINE_COMMENT.sub("", sql).splitlines() if ln.strip()]
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
    valid = []
    for zone in sorted({z for z in zones if z}):
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        valid.append(zone)
    zone_ids = pl.DataFrame(
        {"zone_id": list(range(1, len(valid) + 1)), "timezone": valid},
        schema={"zone_id": pl.Int32, "timezone": pl.String},
    )
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
    parts = []
    for zone_id, zone in enumerate(valid, start=1):
        local = utc.dt.convert_time_zone(zone)
        offset = (local.dt.base_utc_offset() + local.dt.dst_offset()).dt.total_minutes()
        if (offset % 15 != 0).any():
            raise ValueError(
                f"time zone {zone!r} has a UTC offset that is not a multiple of 15 minutes "
                f"between {start} and {end}; local hours cannot be tabulated per 15 minutes"
            )
        parts.append(
            pl.DataFrame(
                {
                    "zone_bucket": bucket + zone_id * 2**32,
                    "zone_id": pl.repeat(zone_id, utc.len(), dtype=pl.Int32, eager=True),
                    "bucket": bucket,
                    "local_hour": local.dt.hour(),
                    "local_dow": local.dt.weekday(),
                    "utc_offset_minutes": offset,
                }
            ).cast(schema)
        )
    return zone_ids, pl.concat(parts)


def _register_zone_tables(warehouse: Warehouse, as_of: dt.datetime) -> None:
    con = warehouse.con
    zones = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT timezone FROM contacts WHERE timezone IS NOT NULL"
        ).fetchall()
    ]
    first = con.execute("SELECT min(sent_at) FROM messages").fetchall()[0][0]
    first = as_of if first is None else min(first, as_of)
    zone_ids, offsets = zone_tables(zones, start=first, end=as_of)
    con.register("zone_ids", zone_ids)
    con.register("zone_offsets", offsets)


def query_relation(
    warehouse: Warehouse,
    name: str,
    *,
    stage: Sequence[str] = (),
    dialect: Dialect = "duckdb",
    timings: dict[str, float] | None = None,
    **params: Any,
) -> pl.DataFrame:
    """Run relation ``name`` (compiled with :func:`compile_relation`) and return a polars frame.

    When the relation needs the time-zone lookup tables (``zone_ids``, ``zone_offsets``), they
    are built for the contacts' zones and the messages' date range up to ``as_of`` and registered
    on the warehouse connection for the duration of the query.

    Relations listed in ``stage`` are computed first, one statement each, into temporary tables
    that the following statements read by name (dropped at the end). The result is the same; the
    peak memory is that of the largest step instead of the whole plan at once.

    For the duration of the query DuckDB's ``perfect_ht_threshold`` is raised to the number of
    bits of the ``contact_id`` range (at most 22): per-contact ``GROUP BY``s then run as a
    perfect hash aggregate (an array indexed by ``contact_id``, like ``numpy.bincount``), about
    ten times faster than a hash table at a million contacts. It is an engine setting, not SQL:
    the relations stay portable.

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
        When given, filled with the seconds each step took (for benchmarks).
    **params
        The relations' ``$name`` parameters. ``as_of`` may be a date, datetime or ISO string.
    """
    if "as_of" in params:
        params["as_of"] = normalize_as_of(params["as_of"])
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
    needs_zones = any(
        re.search(rf"\b{z}\b", _LINE_COMMENT.sub("", sql)) for sql in sqls for z in _ZONE_RELATIONS
    )
    if needs_zones and "as_of" not in params:
        raise WarehouseError(f"relation {name!r} needs the as_of parameter")
    previous = con.execute("SELECT current_setting('perfect_ht_threshold')").fetchall()[0][0]
    lo, hi = con.execute("SELECT min(contact_id), max(contact_id) FROM contacts").fetchall()[0]
    bits = max(int(hi - lo + 2).bit_length(), 12) if lo is not None else 12
    registered, staged = False, []
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        if timings is not None:
            now = time.perf_counter()
            timings[step] = round(now - clock, 3)
            clock = now

    try:
        if bits <= _MAX_PERFECT_HASH_BITS:
            con.execute(f"SET perfect_ht_threshold = {bits}").fetchall()
        if needs_zones:
            _register_zone_tables(warehouse, params["as_of"])
            registered = True
            lap("zone_tables")
        for rel, sql in zip(steps[:-1], sqls[:-1], strict=True):
            bound = _bind_params(sql, params)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rel} AS {sql}", bound).fetchall()
            staged.append(rel)
            lap(rel)
        result = con.sql(sqls[-1], params=_bind_params(sqls[-1], params)).pl()
        lap(name)
        return result
    finally:
        for rel in staged:
            con.execute(f"DROP TABLE IF EXISTS temp.{rel}").fetchall()
        con.execute(f"SET perfect_ht_threshold = {int(previous)}").fetchall()
        if registered:
            for z in _ZONE_RELATIONS:
                con.unregister(z)


def _bind_params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` uses; a missing one raises :class:`WarehouseError`."""
    wanted = set(_PARAM.findall(_LINE_COMMENT.sub("", sql)))
    missing = sorted(wanted - set(params))
    if missing:
        raise WarehouseError(f"SQL needs parameter(s) {missing}; got {sorted(params)}")
    return {k: params[k] for k in wanted}


# -- public feature builders --------------------------------------------------------------------
def contact_features(
    warehouse: Warehouse,
    *,
    as_of: str | dt.date | dt.datetime,
    timings: dict[str, float] | None = None,
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
        When given, filled with the seconds of each step (see :func:`query_relation`).

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
        and the best local send hour so far (``best_local_hour``, ``best_local_hour_sends``,
        ``best_local_hour_click_rate``). Never a phone number.
    """
    return query_relation(
        warehouse, FEATURE_RELATION, stage=FEATURE_STAGES, timings=timings, as_of=as_of
    ).sort("contact_id")


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
