"""The DuckDB warehouse: one file, the canonical tables, atomic idempotent loads, named SQL.

>>> from smsanalytics.warehouse import Warehouse
>>> import polars as pl
>>> wh = Warehouse(":memory:")
>>> wh.counts()["contacts"]
0
>>> wh.close()

With ``engine="spark"`` the SQL relations (:meth:`Warehouse.query`,
:meth:`Warehouse.write_relation`) run on Apache Spark over the canonical tables as Parquet; the
DuckDB file stays the store of record (loads, quarantine, ledger). See ``docs/scale-out.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from smsanalytics import schemas

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from smsanalytics.engines.spark import SparkEngine

__all__ = [
    "Warehouse",
    "WarehouseError",
    "LoadResult",
    "available_relations",
    "bind_parameters",
    "code_text",
    "relation_order",
    "sha256_file",
    "sql_parameters",
    "sql_text",
    "strip_line_comments",
]

_PARAM = re.compile(r"(?<![\w$:])\$([A-Za-z_]\w*)")
#: A single-quoted string literal (``''`` escapes a quote), a double-quoted identifier (which may
#: hold a ``'``) or a ``--`` comment to the end of the line, matched in one pass so that none is
#: mistaken for another.
_LITERAL_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*")
_QUARANTINE_INPUT = ("source", "row_number", "column_name", "reason", "detail", "raw")


def _stdout_is_terminal() -> bool:
    """Whether standard output is an interactive terminal (not a pipe, file or notebook)."""
    try:
        return sys.stdout is not None and sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _reuse_buffer_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Let DuckDB's block allocator hold up to ``memory_limit`` of buffer blocks for reuse.

    Under a memory limit, DuckDB evicts table blocks and intermediate buffers (256 KB each) and
    reads or builds new ones all the time. By default every evicted block goes back to the
    system and its replacement is faulted in page by page (zeroed by the kernel): at 10M
    contacts the feature build took ~3.9 million page faults and ~9 s of system time. With
    ``block_allocator_memory`` DuckDB keeps released blocks mapped (``madvise(MADV_FREE)``: the
    kernel may still take them back under memory pressure) and hands them out again: ~3.0
    million faults, ~7.5 s of system time, 1–2 s less (``docs/performance.md``). The setting
    is per database, cannot be lowered once set, and cannot exceed DuckDB's virtual-memory
    budget; above that budget it is left off.
    """
    try:
        con.execute("SET block_allocator_memory = '100%'")  # of memory_limit
    except duckdb.InvalidInputException:
        pass  # a memory limit above DuckDB's virtual-memory budget: keep DuckDB's default


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


def available_relations() -> set[str]:
    """Names of the SQL relations in ``smsanalytics/sql/`` (file names without ``.sql``)."""
    folder = resources.files("smsanalytics") / "sql"
    return {p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql")}


def sql_text(name: str) -> str:
    """The text of ``smsanalytics/sql/{name}.sql``.

    Raises
    ------
    WarehouseError
        Naming the available relations when there is no such file.
    """
    path = resources.files("smsanalytics") / "sql" / f"{name}.sql"
    if not path.is_file():
        available = sorted(available_relations())
        raise WarehouseError(f"no SQL relation {name!r} in smsanalytics/sql/; available: {available}")
    return path.read_text(encoding="utf-8")


def strip_line_comments(sql: str) -> str:
    """``sql`` without its ``--`` comments (to the end of the line); string literals are kept,
    even one holding ``--``.

    >>> strip_line_comments("SELECT '--', 1 -- one")
    "SELECT '--', 1 "
    """
    return _LITERAL_OR_COMMENT.sub(lambda m: "" if m[0].startswith("--") else m[0], sql)


def code_text(sql: str) -> str:
    """``sql`` without its ``--`` comments and with its string literals emptied (``''``).

    The text in which to look for ``$name`` parameters and relation names: the SQL files of
    ``smsanalytics/sql/`` name relations and parameters in their comments' prose, and an error
    message in a literal may name them too.

    >>> code_text("SELECT 'see fct_x, $y', $z -- and $w")
    "SELECT '', $z "
    """

    def replace(m: re.Match[str]) -> str:
        return "''" if m[0].startswith("'") else "" if m[0].startswith("--") else m[0]

    return _LITERAL_OR_COMMENT.sub(replace, sql)


def sql_parameters(sql: str) -> set[str]:
    """The ``$name`` parameters of ``sql``, outside ``--`` comments and string literals.

    A regular expression, for the statements the warehouse and the feature build run on DuckDB;
    :func:`smsanalytics.engines.relations.parameter_names`, a tokenizer, also knows ``/* */``
    comments and refuses unterminated literals (the SQL it hands to sqlglot).

    >>> sorted(sql_parameters("SELECT $a, $b::INT, 'not $d' -- not $c"))
    ['a', 'b']
    """
    return set(_PARAM.findall(code_text(sql)))


def relation_order(
    name: str,
    reads: Callable[[str], Iterable[str]],
    *,
    error: type[Exception] = WarehouseError,
) -> list[str]:
    """``name`` and the relations it reads, directly or not, each after the relations it reads.

    The one dependency walk behind :func:`smsanalytics.features.inlined_relations` (references
    found by a regular expression, DuckDB dialect files) and
    :func:`smsanalytics.engines.relations.relation_dependencies` (references found by sqlglot).

    Parameters
    ----------
    name
        The relation to compute.
    reads
        The relations a relation reads directly (a relation reading itself is ignored).
    error
        Raised, with the cycle in its message, when relations read each other in a cycle.

    Returns
    -------
    list of str
        Depth-first post-order over the dependencies taken in name order: deterministic, with
        ``name`` last.

    Examples
    --------
    >>> graph = {"fct_c": ["agg_b", "stg_a"], "agg_b": ["stg_a"], "stg_a": []}
    >>> relation_order("fct_c", graph.__getitem__)
    ['stg_a', 'agg_b', 'fct_c']
    """
    order: list[str] = []
    visiting: list[str] = []

    def visit(rel: str) -> None:
        if rel in order:
            return
        if rel in visiting:
            cycle = " -> ".join([*visiting[visiting.index(rel) :], rel])
            raise error(f"SQL relations refer to each other in a cycle: {cycle}")
        visiting.append(rel)
        for dep in sorted(set(reads(rel)) - {rel}):
            visit(dep)
        visiting.pop()
        order.append(rel)

    visit(name)
    return order


def bind_parameters(
    sql: str,
    params: Mapping[str, Any],
    name: str,
    *,
    allow_unused: bool = False,
    find: Callable[[str], set[str]] = sql_parameters,
    error: type[Exception] = WarehouseError,
) -> dict[str, Any]:
    """The values of the ``$name`` parameters of ``sql`` (:func:`sql_parameters`) in ``params``.

    Parameters
    ----------
    sql
        The statement.
    params
        Values by parameter name.
    name
        What the statement is, for error messages (a relation name).
    allow_unused
        Accept values ``sql`` does not use (one set of values shared by several statements, as
        in the feature build); by default they are refused as likely typos.
    find
        How the parameters of ``sql`` are found: :func:`sql_parameters` (default), or the
        Spark engine's tokenizer (:func:`smsanalytics.engines.relations.parameter_names`).
    error
        The exception raised (the Spark engine raises its ``EngineError``).

    Raises
    ------
    WarehouseError
        (or ``error``) When a parameter has no value, or (without ``allow_unused``) a value has
        no parameter.
    """
    wanted = find(sql)
    missing = sorted(wanted - set(params))
    if missing:
        raise error(f"query {name!r} needs parameter(s) {missing}; got {sorted(params)}")
    unknown = sorted(set(params) - wanted)
    if unknown and not allow_unused:
        raise error(
            f"query {name!r} takes parameter(s) {sorted(wanted)}; unknown: {unknown}"
        )
    return {k: params[k] for k in wanted}


#: File written next to an export of the canonical tables for Spark, identifying the state of
#: the DuckDB file it was taken from (see :meth:`Warehouse.spark_engine`).
_EXPORT_MARKER = "_smsanalytics_export.json"
#: Lookup tables of local hours per time zone (:func:`smsanalytics.engines.zone_lookups`) that
#: :meth:`Warehouse.query` builds for a relation's ``$as_of`` when it reads them.
_ZONE_LOOKUPS = ("zone_ids", "zone_offsets")


def _check_engine(engine: str) -> str:
    """``engine`` when it names an engine that can run here; else a clear error."""
    if engine == "duckdb":
        return engine
    from smsanalytics.engines import ENGINES

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {list(ENGINES)}")
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        from smsanalytics.engines.errors import EngineError

        raise EngineError(
            "engine='spark' needs pyspark, which is not installed: install the spark extra "
            "(uv sync --extra spark, or pip install 'smsanalytics[spark]') and a Java 17 or 21 "
            "runtime, or use engine='duckdb'"
        )
    return engine


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
        With a memory limit, DuckDB's block allocator may also keep that much of the buffer
        memory it evicts, to hand it out again (``block_allocator_memory``: 31 → 25 s for the
        10M-contact feature build, ``docs/performance.md``).
    engine
        What runs the SQL relations of :meth:`query` and :meth:`write_relation` (and the
        functions built on them, such as :func:`smsanalytics.features.contact_features`):
        ``"duckdb"`` (default) this file; ``"spark"`` a
        :class:`~smsanalytics.engines.SparkEngine` over the canonical tables as Parquet, opened
        on first use. Any other name raises ``ValueError``; ``"spark"`` without pyspark raises
        :class:`~smsanalytics.engines.EngineError`. Loads, the quarantine, the sending ledger
        and :meth:`sql` always use the DuckDB file, the store of record.
    parquet_dir
        With ``engine="spark"``: folder or URI holding ``<table>.parquet`` for each canonical
        table (e.g. written by your lakehouse jobs), read as it is. Default: the canonical tables
        of this file are exported on first use (again after a :meth:`load`; not when the export
        there is of the file as it is) to :attr:`parquet_dir`: ``<file stem>_parquet/`` next to
        the DuckDB file (a temporary folder, removed by :meth:`close`, for ``":memory:"``).
    spark
        With ``engine="spark"``: the SparkSession to run on. Default: the active session if there
        is one (a notebook on a cluster), else a local one
        (:func:`~smsanalytics.engines.local_spark_session`), stopped by :meth:`close`.

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
        engine: str = "duckdb",
        parquet_dir: str | os.PathLike[str] | None = None,
        spark: SparkSession | None = None,
    ) -> None:
        self.engine = _check_engine(engine)  # before connecting: a bad name leaves nothing open
        self._parquet_dir = os.fspath(parquet_dir) if parquet_dir is not None else None
        self._spark = spark
        self._spark_engine: SparkEngine | None = None
        self._owned_session: SparkSession | None = None  # a local session started here
        self._temporary_dir: str | None = None  # export folder of a ":memory:" warehouse
        self._parquet_stale = False  # canonical tables loaded since the export
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
        if memory_limit:
            _reuse_buffer_memory(self.con)
        if not _stdout_is_terminal():
            # DuckDB draws its progress bar (queries over 2 s) on stdout, terminal or not: it
            # would corrupt `--json` output and piped results, and fill papermill logs
            try:
                self.con.execute("SET enable_progress_bar = false")
            except duckdb.Error:  # in Jupyter without ipywidgets DuckDB refuses any change
                pass
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
        """Close the connection (and the Spark engine: its views, a session started here, a
        temporary export folder)."""
        try:
            if self._spark_engine is not None:
                engine, self._spark_engine = self._spark_engine, None
                engine.close()
            if self._owned_session is not None:
                session, self._owned_session = self._owned_session, None
                session.stop()
        finally:
            if self._temporary_dir is not None:
                shutil.rmtree(self._temporary_dir, ignore_errors=True)
                self._temporary_dir = None
            self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        engine = f", engine={self.engine!r}" if self.engine != "duckdb" else ""
        return f"Warehouse({str(self.path) if self.path else ':memory:'!r}{engine})"

    @property
    def in_transaction(self) -> bool:
        """Whether a :meth:`transaction` block is open: its statements see its uncommitted rows,
        another cursor of the connection does not (so staged feature runs then use one)."""
        return self._depth > 0

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
        """Run a SQL statement with ``$name`` parameters and return a polars frame.

        Always on the DuckDB file, whatever the ``engine`` (for SQL on Spark:
        ``warehouse.spark_engine.sql(text, **params)``).
        """
        return self.con.sql(sql, params=bind_parameters(sql, params, "<inline>")).pl()

    def query(self, name: str, **params: Any) -> pl.DataFrame:
        """Run the relation ``smsanalytics/sql/{name}.sql`` with named parameters.

        On ``engine="spark"`` the relation runs on the Spark engine and the collected frame is
        given the column types DuckDB gives the same relation (DuckDB sums integers into
        ``HUGEINT``, read as ``Decimal(38, 0)``, where Spark keeps ``BIGINT``), so the result is
        the same frame on either engine. For results too large to collect, use
        :meth:`write_relation`.

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

        Notes
        -----
        A relation reading the time-zone lookup tables ``zone_ids`` and ``zone_offsets``
        (``fct_contact_features``, ``agg_contact_send_hour`` …) gets them built for its
        ``$as_of`` (:func:`smsanalytics.engines.zone_lookups`) unless they are registered
        (:meth:`registered`). Other lookup tables (``campaign_segments`` …) must be registered.
        """
        from smsanalytics.engines.relations import relation_sql

        sql = relation_sql(name)  # the relations it reads are inlined as CTEs
        bound = bind_parameters(sql, params, name)
        with self._zone_lookups(sql, name, params):
            if self.engine == "spark":
                return self._like_duckdb(self.spark_engine.query(name, **params), sql, bound)
            return self.con.sql(sql, params=bound).pl()

    def write_relation(
        self, name: str, path: str | os.PathLike[str], *, overwrite: bool = False, **params: Any
    ) -> str:
        """Run relation ``name`` and write it as Parquet instead of collecting it (large outputs).

        DuckDB streams the result into ``path/part-00000.parquet`` (written next to ``path`` and
        renamed when complete); Spark's executors write a folder of part files, also to URIs
        (``s3a://…``). Either way timestamps are UTC microseconds, and read back with
        ``polars.scan_parquet(f"{path}/*.parquet")``. DuckDB's ``HUGEINT`` sums are written as
        ``BIGINT``, as Spark writes them.

        Parameters
        ----------
        name
            Relation, as in :meth:`query` (zone lookup tables are built the same way).
        path
            Folder to write.
        overwrite
            Replace ``path`` when it exists (default: raise).
        **params
            The relation's parameters.

        Returns
        -------
        str
            ``path``.

        Raises
        ------
        WarehouseError
            When ``path`` exists and ``overwrite`` is false, or a parameter is missing or unknown.
        """
        from smsanalytics.engines.relations import relation_sql

        sql = relation_sql(name)
        bound = bind_parameters(sql, params, name)
        out = os.fspath(path)
        local = "://" not in out
        if local and os.path.lexists(out) and not overwrite:
            raise WarehouseError(
                f"cannot write relation {name!r} to {out}: it exists; pass overwrite=True to "
                "replace it"
            )
        with self._zone_lookups(sql, name, params):
            if self.engine == "spark":
                return self.spark_engine.query_to_parquet(name, out, overwrite=overwrite, **params)
            if not local:
                raise WarehouseError(
                    f"the duckdb engine writes relations to local folders, not {out!r}; use "
                    "engine='spark' for URIs"
                )
            return self._write_parquet(sql, bound, Path(out))

    def _write_parquet(self, sql: str, bound: dict[str, Any], target: Path) -> str:
        relation = self.con.sql(sql, params=bound)  # binds only: the types, without running it
        types = zip(relation.columns, relation.types, strict=True)
        huge = {c for c, t in types if str(t) in ("HUGEINT", "UHUGEINT")}
        if huge:
            casts = ", ".join(
                f"CAST({quote_identifier(c)} AS BIGINT) AS {quote_identifier(c)}"
                for c in sorted(huge)
            )
            sql = f"SELECT * REPLACE ({casts}) FROM (\n{sql}\n)"
        partial = target.with_name(f".{target.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            self.con.sql(sql, params=bound).write_parquet(
                str(partial / "part-00000.parquet"), compression="zstd"
            )
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif os.path.lexists(target):
                target.unlink()
            os.replace(partial, target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return str(target)

    @contextmanager
    def registered(self, **frames: pl.DataFrame) -> Iterator[Warehouse]:
        """Register small per-run lookup tables (``campaign_segments``, ``zone_offsets`` …) by
        name for the relations run inside a ``with`` block: on the DuckDB connection and, with
        ``engine="spark"``, on the Spark engine (which broadcasts them)."""
        engine = self.spark_engine if self.engine == "spark" else None
        on_duckdb: list[str] = []
        on_spark: list[str] = []
        try:
            for name, frame in frames.items():
                self.con.register(name, frame)
                on_duckdb.append(name)
                if engine is not None:
                    engine.register(name, frame)
                    on_spark.append(name)
            yield self
        finally:
            for name in on_spark:
                assert engine is not None
                engine.unregister(name)
            for name in on_duckdb:
                self.con.unregister(name)

    # -- the Spark engine -----------------------------------------------------------------
    @property
    def parquet_dir(self) -> str | None:
        """Where the Spark engine reads the canonical tables (``None`` with ``engine="duckdb"``):
        the ``parquet_dir`` given, else ``<file stem>_parquet/`` next to the DuckDB file (a
        temporary folder for ``":memory:"``), where they are exported on first use."""
        if self._parquet_dir is not None:
            return self._parquet_dir
        if self.engine != "spark":
            return None
        if self.path is not None:
            return str(self.path.with_name(f"{self.path.stem}_parquet"))
        if self._temporary_dir is None:
            self._temporary_dir = tempfile.mkdtemp(prefix="smsanalytics-parquet-")
        return self._temporary_dir

    @property
    def spark_engine(self) -> SparkEngine:
        """The :class:`~smsanalytics.engines.SparkEngine` that runs the relations of a warehouse
        opened with ``engine="spark"``, opened on first use: without a ``parquet_dir``, the
        canonical tables are first exported to :attr:`parquet_dir` (with
        :func:`~smsanalytics.engines.export_parquet`), unless the export there was taken from
        the file as it is now (same size and modification time); again after a :meth:`load`.

        Raises
        ------
        EngineError
            With ``engine="duckdb"``, or when the export or the Spark session fails.
        """
        from smsanalytics.engines.errors import EngineError

        if self.engine != "spark":
            raise EngineError(
                f"{self!r} runs its relations on DuckDB; open it with engine='spark' to use Spark"
            )
        if self._spark_engine is None:
            from smsanalytics.engines import open_engine

            session = self._session()
            folder = self.parquet_dir
            assert folder is not None
            if self._parquet_dir is None:
                self._export(folder, force=False)
            self._spark_engine = open_engine("spark", parquet_dir=folder, spark=session)
        elif self._parquet_stale:
            self.refresh_engine()
        return self._spark_engine

    def mark_changed(self) -> None:
        """Record that canonical tables were written other than by :meth:`load` (SQL of one's
        own, the send ledger's sync): with ``engine="spark"`` the export Spark reads is written
        again before the next query, so it never answers from the tables as they were. A no-op
        on DuckDB, which always reads the tables themselves."""
        self._parquet_stale = True

    def refresh_engine(self) -> None:
        """Export the canonical tables again (when no ``parquet_dir`` was given) and make the
        Spark engine re-read them; a no-op before the engine is opened."""
        if self._spark_engine is None:
            return
        if self._parquet_dir is None:
            folder = self.parquet_dir
            assert folder is not None
            self._export(folder, force=True)
        self._spark_engine.refresh()

    def _export(self, folder: str, *, force: bool) -> None:
        """Export the canonical tables to ``folder`` for Spark, unless (``force`` false) the
        export there is of this file as it is now (same size and modification time of the file
        and its WAL): repeated runs, and several readers, then share one export instead of
        rewriting files another reader may be reading."""
        from smsanalytics.engines.errors import EngineError
        from smsanalytics.engines.parquet import export_parquet

        marker = Path(folder) / _EXPORT_MARKER
        stamp = self._file_stamp()  # taken first: a change during the export invalidates it
        if not force and stamp is not None and marker.is_file():
            try:
                current = json.loads(marker.read_text(encoding="utf-8")) == stamp
            except (OSError, ValueError):
                current = False
            tables = (Path(folder) / f"{t.name}.parquet" for t in schemas.CANONICAL_TABLES)
            if current and all(p.exists() for p in tables):
                self._parquet_stale = False
                return
        try:
            marker.unlink(missing_ok=True)
            export_parquet(self, folder)
            if stamp is not None:
                partial = marker.with_name(marker.name + ".partial")
                partial.write_text(json.dumps(stamp), encoding="utf-8")
                os.replace(partial, marker)
        except (duckdb.Error, OSError) as exc:
            raise EngineError(
                f"cannot export the canonical tables of {self!r} to {folder} for Spark: {exc}; "
                "pass parquet_dir= a writable folder (or one holding the tables)"
            ) from exc
        self._parquet_stale = False

    def _file_stamp(self) -> dict[str, Any] | None:
        if self.path is None:
            return None

        def stat(path: Path) -> list[int] | None:
            try:
                st = path.stat()
            except FileNotFoundError:
                return None
            return [st.st_mtime_ns, st.st_size]

        wal = self.path.with_name(self.path.name + ".wal")
        return {"warehouse": str(self.path.resolve()), "file": stat(self.path), "wal": stat(wal)}

    def _session(self) -> SparkSession:
        if self._spark is None:
            from pyspark.sql import SparkSession

            self._spark = SparkSession.getActiveSession()
            if self._spark is None:
                from smsanalytics.engines.spark import local_spark_session

                self._spark = self._owned_session = local_spark_session()
        return self._spark

    def _runner(self) -> Any:
        """What runs SQL on the current engine (``sql(text, **params)``)."""
        return self.spark_engine if self.engine == "spark" else self

    def _is_registered(self, name: str) -> bool:
        if self.engine == "spark":
            return name.lower() in getattr(self.spark_engine, "_registered", {})
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = $n", {"n": name}
        ).fetchall()
        return bool(rows[0][0])

    @contextmanager
    def _zone_lookups(self, sql: str, name: str, params: Mapping[str, Any]) -> Iterator[None]:
        """Build and register the zone lookup tables ``sql`` reads and nobody registered."""
        missing = [
            z for z in _ZONE_LOOKUPS if re.search(rf"\b{z}\b", sql) and not self._is_registered(z)
        ]
        if not missing:
            yield
            return
        if "as_of" not in params:
            raise WarehouseError(
                f"relation {name!r} reads {missing}, the local hours per time zone, which are "
                "built for an $as_of parameter it does not take: register them with "
                "Warehouse.registered(**smsanalytics.engines.zone_lookups(warehouse, end=...))"
            )
        from smsanalytics.engines.lookups import zone_lookups

        frames = zone_lookups(self._runner(), end=params["as_of"])
        with self.registered(**{z: frames[z] for z in missing}):
            yield

    def _like_duckdb(self, frame: pl.DataFrame, sql: str, bound: dict[str, Any]) -> pl.DataFrame:
        """``frame`` (a relation's result from another engine) with the column types DuckDB
        gives the same SQL (bound only: ``LIMIT 0`` runs nothing). Unchanged when DuckDB cannot
        bind it (a lookup table registered on the other engine only) or a cast fails."""
        try:
            schema = self.con.sql(f"SELECT * FROM (\n{sql}\n) LIMIT 0", params=bound).pl().schema
        except duckdb.Error:
            return frame
        if list(schema) != frame.columns:
            return frame
        casts = {c: t for c, t in schema.items() if t != frame.schema[c] and t != pl.Null}
        if not casts:
            return frame
        try:
            return frame.cast(casts)  # type: ignore[arg-type]
        except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
            return frame

    def table(self, name: str) -> pl.DataFrame:
        """The whole of a canonical table as a polars frame (for small tables and tests)."""
        t = schemas.table(name)
        return self.con.sql(f"SELECT * FROM {t.qualified_name}").pl()

    def cluster(self, tables: Iterable[str] | None = None) -> dict[str, float]:
        """Rewrite tables in their ``cluster_by`` order (contact, then time); returns seconds each.

        Every load is stored in that order already (see :func:`smsanalytics.schemas.cluster_order`),
        so a table filled by a few large loads needs nothing. One filled by many small ones (daily
        exports) is a stack of short sorted runs, and per-contact aggregation gains little from
        them: at 1M contacts, aggregating 21M messages takes 0.34 s in send-time order, 0.29 s as
        365 daily loads, 0.20 s as 13 monthly loads and 0.15 s fully clustered. This re-sorts the
        whole table, like ``CLUSTER`` or ``OPTIMIZE … ZORDER BY`` elsewhere: run it now and then
        (``smsanalytics cluster``). Rows, keys and results are unchanged; only storage order is.
        All tables are rewritten in one transaction: a failure leaves them as they were. At 1M
        contacts it takes about 30 s (messages 18 s, receipts 8 s). The file does not shrink:
        the old rows' space is freed inside it and reused by later loads (a 1.0 GB warehouse file
        becomes 2.2 GB after a first rewrite; DuckDB does not return space to the system).

        Parameters
        ----------
        tables
            Canonical table names; default: every table with a ``cluster_by``.

        Returns
        -------
        dict
            Seconds per table rewritten.
        """
        if self.read_only:
            raise WarehouseError("the warehouse is open read-only: open it writable to cluster it")
        if tables is None:
            names = [t.name for t in schemas.ORDERED_TABLES if t.cluster_by]
        else:
            names = list(tables)
        chosen = [schemas.table(n) for n in names]
        for t in chosen:
            if t.kind != "canonical" or not t.cluster_by:
                raise WarehouseError(f"table {t.name!r} has no clustering order (schemas.py)")
        seconds: dict[str, float] = {}
        self._rewrite_clustered(chosen, seconds)
        if not self._depth:  # not inside a caller's transaction (CHECKPOINT cannot run there)
            self.con.execute("CHECKPOINT").fetchall()  # frees the deleted rows' space in the file
        return seconds

    def _rewrite_clustered(self, chosen: list[schemas.Table], seconds: dict[str, float]) -> None:
        """The statements of :meth:`cluster`, in one transaction; fills ``seconds``."""
        import time

        with self.transaction() as con:
            for t in chosen:
                start = time.perf_counter()
                cols = ", ".join(t.column_names)
                con.execute(
                    f"CREATE TEMP TABLE _cluster AS SELECT {cols} FROM {t.qualified_name}"
                    f"{schemas.cluster_order(t)}"
                ).fetchall()
                con.execute(f"DELETE FROM {t.qualified_name}").fetchall()
                con.execute(
                    f"INSERT INTO {t.qualified_name} ({cols}) SELECT {cols} FROM _cluster"
                ).fetchall()
                con.execute("DROP TABLE _cluster").fetchall()
                seconds[t.name] = round(time.perf_counter() - start, 3)

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
                    {schemas.cluster_order(t)}
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
        if loaded:
            self.mark_changed()  # the Spark engine's export is re-written on next use
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


def quote_identifier(identifier: str) -> str:
    """``identifier`` as a double-quoted SQL identifier (inner quotes doubled)."""
    return '"' + identifier.replace('"', '""') + '"'
