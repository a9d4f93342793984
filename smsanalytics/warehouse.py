"""The DuckDB warehouse: one file, the canonical tables, atomic idempotent loads, named SQL.

>>> from smsanalytics.warehouse import Warehouse
>>> import polars as pl
>>> wh = Warehouse(":memory:")
>>> wh.counts()["contacts"]
0
>>> wh.close()
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from smsanalytics import schemas

__all__ = ["Warehouse", "WarehouseError", "LoadResult", "sha256_file", "sql_text"]

_PARAM = re.compile(r"(?<![\w$:])\$([A-Za-z_]\w*)")
_QUARANTINE_INPUT = ("source", "row_number", "column_name", "reason", "detail", "raw")


class WarehouseError(RuntimeError):
    """A load or query that cannot proceed; the warehouse is left as it was."""


@dataclass(frozen=True)
class LoadResult:
    """What a load did.

    Attributes
    ----------
    table, source
        Canonical table and the file (or generator) the rows came from.
    load_id
        Id of the row in ``loads`` (``None`` when the same content was already loaded).
    rows_read
        Data rows in the source.
    rows_loaded
        New rows inserted.
    rows_duplicate
        Rows whose key was already in the table (or earlier in the same batch), skipped.
    rows_quarantined
        Rows written to ``quarantine``.
    quarantined_by_reason
        Quarantined rows counted by reason code.
    already_loaded
        True when a source with the same content hash had been loaded into this table before;
        nothing was changed.
    """

    table: str
    source: str
    load_id: int | None
    rows_read: int
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    already_loaded: bool = False


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sql_text(name: str) -> str:
    """The text of ``smsanalytics/sql/{name}.sql``.

    Raises
    ------
    WarehouseError
        Naming the available relations when there is no such file.
    """
    folder = resources.files("smsanalytics") / "sql"
    path = folder / f"{name}.sql"
    if not path.is_file():
        available = sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))
        raise WarehouseError(f"no SQL relation {name!r} in smsanalytics/sql/; available: {available}")
    return path.read_text(encoding="utf-8")


def _bind(sql: str, params: Mapping[str, Any], name: str) -> dict[str, Any]:
    wanted = set(_PARAM.findall(re.sub(r"--[^\n]*", "", sql)))
    missing = sorted(wanted - set(params))
    if missing:
        raise WarehouseError(f"query {name!r} needs parameter(s) {missing}; got {sorted(params)}")
    unknown = sorted(set(params) - wanted)
    if unknown:
        raise WarehouseError(
            f"query {name!r} takes parameter(s) {sorted(wanted)}; unknown: {unknown}"
        )
    return {k: params[k] for k in wanted}


class Warehouse:
    """A DuckDB file holding the canonical tables of :mod:`smsanalytics.schemas`.

    Parameters
    ----------
    path
        DuckDB file (created with its folder when missing) or ``":memory:"``.
    read_only
        Open without write access (several readers may share the file).
    threads, memory_limit
        Optional DuckDB resource limits (``memory_limit="4GB"``); DuckDB spills to disk beyond it.

    Notes
    -----
    The session time zone is UTC, so ``TIMESTAMPTZ`` values come back as UTC datetimes and SQL
    date arithmetic is in UTC; local times are computed explicitly from each contact's zone.
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        read_only: bool = False,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path is not None and read_only and not self.path.is_file():
            raise WarehouseError(
                f"warehouse {str(self.path)!r} does not exist; create it with "
                "`smsanalytics demo` or `smsanalytics ingest`"
            )
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self.con = duckdb.connect(str(path), read_only=read_only, config=config)
        self.con.execute("SET TimeZone = 'UTC'")  # after connect: ICU must be loaded first
        self.read_only = read_only
        self._depth = 0  # nesting level of transaction()
        if not read_only:
            self.create()

    # -- lifecycle ------------------------------------------------------------------------
    def create(self) -> Warehouse:
        """Create every canonical table that does not exist yet (idempotent)."""
        with self.transaction():
            for t in schemas.ORDERED_TABLES:
                if t.schema_name != "main":
                    self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {t.schema_name}")
                self.con.execute(schemas.create_table_sql(t))
        return self

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path) if self.path else ':memory:'!r})"

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """``BEGIN`` … ``COMMIT``; any exception rolls everything back and is re-raised.

        Re-entrant: a nested ``transaction()`` joins the outer one, so several loads (and other
        statements) can be made atomic together by wrapping them in one outer block.
        """
        if self._depth:
            self._depth += 1
            try:
                yield self.con
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield self.con
        except BaseException:
            self._depth = 0
            self.con.execute("ROLLBACK")
            raise
        self._depth = 0
        self.con.execute("COMMIT")

    # -- reading --------------------------------------------------------------------------
    def sql(self, sql: str, **params: Any) -> pl.DataFrame:
        """Run a SQL statement with ``$name`` parameters and return a polars frame."""
        return self.con.sql(sql, params=_bind(sql, params, "<inline>")).pl()

    def query(self, name: str, **params: Any) -> pl.DataFrame:
        """Run the relation ``smsanalytics/sql/{name}.sql`` with named parameters.

        Parameters
        ----------
        name
            File name without ``.sql``. Relations it reads (other files of ``sql/``) are inlined
            as CTEs (:func:`smsanalytics.engines.relation_sql`).
        **params
            Values for the ``$param`` placeholders of the file; missing or unknown ones raise.

        Returns
        -------
        polars.DataFrame
        """
        from smsanalytics.engines.relations import relation_sql

        sql = relation_sql(name)  # the relations it reads are inlined as CTEs
        return self.con.sql(sql, params=_bind(sql, params, name)).pl()

    def table(self, name: str) -> pl.DataFrame:
        """The whole of a canonical table as a polars frame (for small tables and tests)."""
        t = schemas.table(name)
        return self.con.sql(f"SELECT * FROM {t.qualified_name}").pl()

    def counts(self) -> dict[str, int]:
        """Row count of every canonical and system table."""
        return {
            t.name: int(self.con.execute(f"SELECT count(*) FROM {t.qualified_name}").fetchall()[0][0])
            for t in schemas.ORDERED_TABLES
        }

    def quarantine_counts(self) -> pl.DataFrame:
        """Quarantined rows by table and reason."""
        return self.con.sql(
            "SELECT table_name, reason, count(*) AS rows FROM quarantine "
            "GROUP BY ALL ORDER BY table_name, rows DESC, reason"
        ).pl()

    def next_id(self, table: str, column: str) -> int:
        """One more than the largest value of an integer key column (1 for an empty table)."""
        t = schemas.table(table)
        t.column(column)
        return int(self.con.execute(f"SELECT coalesce(max({column}), 0) + 1 FROM {t.qualified_name}").fetchall()[0][0])

    def loaded_hash(self, table: str, sha256: str) -> int | None:
        """The ``load_id`` of an earlier load of the same content into ``table``, if any."""
        rows = self.con.execute(
            "SELECT load_id FROM loads WHERE table_name = $t AND sha256 = $h", {"t": table, "h": sha256}
        ).fetchall()
        return int(rows[0][0]) if rows else None

    # -- writing --------------------------------------------------------------------------
    def load(
        self,
        table: str,
        rows: pl.DataFrame,
        *,
        source: str,
        sha256: str | None = None,
        quarantine: pl.DataFrame | None = None,
        rows_read: int | None = None,
        force: bool = False,
    ) -> LoadResult:
        """Insert rows into a canonical table atomically and idempotently.

        Within one transaction: rows whose key is already in the table (or earlier in the batch)
        are skipped and counted; quarantine rows are recorded; a ``loads`` row is written. Any
        error rolls the whole load back, leaving the warehouse exactly as it was.

        Parameters
        ----------
        table
            Canonical table name.
        rows
            Rows with the table's column names (missing optional columns are filled with NULL;
            values are cast to the canonical types).
        source
            File or generator the rows came from (recorded in ``loads`` and ``quarantine``).
        sha256
            Content hash of the source; when a load with the same hash into the same table exists,
            nothing is done and ``already_loaded`` is true. Default: no such check.
        quarantine
            Rejected rows with columns ``row_number, column_name, reason, detail, raw``
            (``source`` optional; defaults to ``source``).
        rows_read
            Data rows in the source (default: loaded + quarantined rows with a row number).
        force
            Process content already loaded (same ``sha256``) again: rows already present count
            as duplicates, and the quarantine rows of the earlier loads of the same content into
            ``table`` are replaced by this load's.

        Returns
        -------
        LoadResult

        Raises
        ------
        WarehouseError
            When columns are unknown, a required column is missing or null, or a value cannot be
            cast to its canonical type. Nothing is written.
        """
        t = schemas.table(table)
        if t.kind != "canonical":
            raise WarehouseError(f"{table!r} is a system table; it is written by the warehouse itself")
        if sha256 is not None and not force and self.loaded_hash(table, sha256) is not None:
            return LoadResult(table, source, None, rows_read or 0, 0, 0, 0, {}, already_loaded=True)
        frame = self._conform(t, rows, source)
        qframe = self._conform_quarantine(quarantine, source, table)
        n_quarantined = qframe.height
        by_reason = (
            dict(qframe.group_by("reason").len().sort("reason").iter_rows()) if n_quarantined else {}
        )
        if rows_read is None:
            rows_read = frame.height + qframe.filter(pl.col("row_number") > 0)["row_number"].n_unique()
        key = ", ".join(t.key)
        cols = ", ".join(t.column_names)
        on = " AND ".join(f"e.{k} = b.{k}" for k in t.key)
        with self.transaction() as con:
            if force and sha256 is not None:
                con.execute(
                    "DELETE FROM quarantine WHERE table_name = $t AND load_id IN "
                    "(SELECT load_id FROM loads WHERE table_name = $t AND sha256 = $h)",
                    {"t": table, "h": sha256},
                ).fetchall()
            load_id = int(con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchall()[0][0])
            con.register("_incoming", frame)
            try:
                before = con.execute(f"SELECT count(*) FROM {t.qualified_name}").fetchall()[0][0]
                con.execute(
                    f"""
                    INSERT INTO {t.qualified_name} ({cols})
                    SELECT {cols} FROM (
                        SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY _ord) AS _rn
                        FROM (SELECT *, row_number() OVER () AS _ord FROM _incoming)
                    ) b
                    WHERE _rn = 1
                      AND NOT EXISTS (SELECT 1 FROM {t.qualified_name} e WHERE {on})
                    """
                )
                after = con.execute(f"SELECT count(*) FROM {t.qualified_name}").fetchall()[0][0]
            finally:
                con.unregister("_incoming")
            loaded = int(after - before)
            if n_quarantined:
                q = qframe.with_columns(
                    pl.lit(load_id, pl.Int64).alias("load_id"),
                    pl.lit(table).alias("table_name"),
                    pl.lit(_now(), pl.Datetime("us", "UTC")).alias("quarantined_at"),
                ).select(schemas.table("quarantine").column_names)
                con.register("_quarantine", q)
                try:
                    con.execute(
                        "INSERT INTO quarantine SELECT * FROM _quarantine q WHERE NOT EXISTS ("
                        "SELECT 1 FROM quarantine e WHERE e.source = q.source "
                        "AND e.row_number = q.row_number AND e.reason = q.reason)"
                    )
                finally:
                    con.unregister("_quarantine")
            con.execute(
                "INSERT INTO loads VALUES ($id, $t, $s, $h, $read, $loaded, $dup, $q, $at)",
                {
                    "id": load_id,
                    "t": table,
                    "s": source,
                    "h": sha256 or f"unhashed:{load_id}",
                    "read": int(rows_read),
                    "loaded": loaded,
                    "dup": int(frame.height - loaded),
                    "q": n_quarantined,
                    "at": _now(),
                },
            )
        return LoadResult(
            table, source, load_id, int(rows_read), loaded, frame.height - loaded, n_quarantined, by_reason
        )

    @staticmethod
    def _conform(t: schemas.Table, rows: pl.DataFrame, source: str) -> pl.DataFrame:
        unknown = [c for c in rows.columns if c not in t.column_names]
        if unknown:
            raise WarehouseError(
                f"{source}: column(s) {unknown} are not in table {t.name!r}; "
                f"its columns are {t.column_names}"
            )
        missing = [c for c in t.required_columns if c not in rows.columns]
        if missing:
            raise WarehouseError(f"{source}: required column(s) {missing} of table {t.name!r} are missing")
        exprs = []
        for c in t.columns:
            if c.name in rows.columns:
                exprs.append(pl.col(c.name).cast(c.polars_type, strict=True))
            else:
                exprs.append(pl.lit(None, c.polars_type).alias(c.name))
        try:
            frame = rows.select(exprs)
        except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
            raise WarehouseError(f"{source}: a value cannot be cast to the types of {t.name!r}: {exc}") from None
        nulls = frame.select(pl.col(t.required_columns).null_count()).row(0, named=True)
        bad = {c: n for c, n in nulls.items() if n}
        if bad:
            raise WarehouseError(
                f"{source}: required column(s) of {t.name!r} have empty values {bad}; "
                "quarantine those rows before loading"
            )
        return frame

    @staticmethod
    def _conform_quarantine(q: pl.DataFrame | None, source: str, table: str) -> pl.DataFrame:
        schema = {
            "source": pl.String,
            "row_number": pl.Int64,
            "column_name": pl.String,
            "reason": pl.String,
            "detail": pl.String,
            "raw": pl.String,
        }
        if q is None or q.height == 0:
            return pl.DataFrame(schema=schema)
        if "source" not in q.columns:
            q = q.with_columns(pl.lit(source).alias("source"))
        for col in ("column_name", "detail", "raw"):
            if col not in q.columns:
                q = q.with_columns(pl.lit(None, pl.String).alias(col))
        missing = [c for c in ("row_number", "reason") if c not in q.columns]
        if missing:
            raise WarehouseError(f"quarantine rows for {table!r} lack column(s) {missing}")
        return q.select([pl.col(c).cast(d) for c, d in schema.items()])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
