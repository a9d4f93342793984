"""Run the SQL relations on Apache Spark, over the canonical tables stored as Parquet.

>>> engine = SparkEngine(None, "data/parquet")              # doctest: +SKIP
>>> engine.query("fct_contact_orders", as_of="2026-01-01")  # doctest: +SKIP
shape: (…, 12)
>>> engine.query_to_parquet("fct_contact_features", "out/features",   # doctest: +SKIP
...                         as_of="2026-01-01")

Each canonical table is a temporary view over ``<parquet_dir>/<table>.parquet`` (one file or a
folder of part files), its columns cast to the canonical types. A relation is compiled with the
relations it reads (:func:`~smsanalytics.engines.relations.relation_sql`), transpiled
(:func:`~smsanalytics.engines.transpile.transpile`) and run by ``spark.sql``; small results come
back as polars frames through Arrow, large ones are written as Parquet by the executors.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from smsanalytics import schemas
from smsanalytics.engines.errors import EngineError
from smsanalytics.engines.relations import referenced_tables, relation_sql
from smsanalytics.engines.transpile import transpile

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession

__all__ = ["SPARK_TYPES", "SparkEngine", "local_spark_session"]

#: Spark type of each canonical DuckDB type (TIMESTAMPTZ is Spark's TIMESTAMP: an instant).
SPARK_TYPES: dict[str, str] = {
    "BIGINT": "bigint",
    "INTEGER": "int",
    "DOUBLE": "double",
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMPTZ": "timestamp",
}
_DUCKDB_TYPES: dict[str, str] = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "timestamp_ntz": "TIMESTAMP",
    "binary": "BLOB",
}
_NAME = re.compile(r"^[A-Za-z_]\w*$")


def local_spark_session(
    *,
    master: str = "local[2]",
    app_name: str = "smsanalytics",
    shuffle_partitions: int = 4,
    driver_memory: str = "2g",
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """A SparkSession on this machine, configured as the engine needs.

    The session time zone is UTC (as the DuckDB warehouse), the web UI and the console progress
    bar are off, and the Python workers run this interpreter (``PYSPARK_PYTHON`` defaults to
    ``sys.executable``). An existing session is reused (``getOrCreate``). On a ``local``
    master, memory pages are 4 MB (``spark.buffer.pageSize``; ``conf`` may override it): Spark
    sizes them at the execution memory / cores / 16, 64 MB with 2 GB, and a hash aggregate
    refused one whole page while its task's other operators held theirs fails with
    ``AGGREGATE_OUT_OF_MEMORY`` (seen twice in the test suite's feature relations).

    Parameters
    ----------
    master
        Spark master URL (``local[2]``: two cores of this machine).
    shuffle_partitions
        ``spark.sql.shuffle.partitions``; small for small data (Spark's default, 200, makes a
        tiny query slow).
    driver_memory
        ``spark.driver.memory``; only effective when the session (the JVM) is created here.
    conf
        Other Spark settings.

    Raises
    ------
    EngineError
        When pyspark is not installed or no Java runtime is found.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            "pyspark is not installed; install the spark extra: "
            "uv sync --extra spark (or pip install 'smsanalytics[spark]')"
        ) from None
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise EngineError(
            "Spark needs a Java runtime (17 or 21): install one (Debian: apt-get install -y "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(shuffle_partitions))
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if master.startswith("local"):
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.buffer.pageSize", "4m")
        )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _is_remote(path: str) -> bool:
    return "://" in path


def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}" if _is_remote(folder) else str(Path(folder) / name)


class SparkEngine:
    """The SQL relations of ``smsanalytics/sql/`` run by Spark over Parquet.

    Parameters
    ----------
    spark
        A SparkSession (on a cluster: the one your platform gives you), or ``None`` for a local
        one from :func:`local_spark_session` (stopped by :meth:`close`). The engine sets the
        session time zone to UTC: DuckDB's warehouse computes in UTC, and dates of timestamps
        (``CAST(sent_at AS DATE)``, weeks, days between) depend on it.
    parquet_dir
        Folder (local path or a URI Spark reads, such as ``s3a://bucket/sms``) holding
        ``<table>.parquet`` for each canonical table: one file or a folder of part files, as
        written by :func:`~smsanalytics.engines.export_parquet` or by any tool. Columns are
        matched by name and cast to the canonical types; a missing optional column is NULL.

    Notes
    -----
    Each table is a temporary view of the session under a name private to the engine
    (``smsanalytics_<id>_messages``; the transpiler renames the references), so several
    engines, and your own views, share a session without clashing. A table without a Parquet
    file is not registered; a query reading it raises :class:`EngineError`.
    """

    def __init__(self, spark: SparkSession | None, parquet_dir: str | os.PathLike[str]) -> None:
        self._owns_session = spark is None
        self.spark = local_spark_session() if spark is None else spark
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self.parquet_dir = os.fspath(parquet_dir)
        self._prefix = f"smsanalytics_{uuid.uuid4().hex[:8]}_"
        self._tables: dict[str, str] = {}
        self._registered: dict[str, dict[str, str]] = {}
        self.refresh()

    # -- lifecycle ------------------------------------------------------------------------
    def refresh(self) -> SparkEngine:
        """(Re)register a view for each canonical table found under ``parquet_dir``."""
        from pyspark.errors import AnalysisException
        from pyspark.sql import functions as F

        for name in self._tables:
            self.spark.catalog.dropTempView(self._view(name))
        self._tables.clear()
        for t in schemas.CANONICAL_TABLES:
            path = _join(self.parquet_dir, f"{t.name}.parquet")
            if not _is_remote(path) and not Path(path).exists():
                continue
            try:
                frame = self.spark.read.parquet(path)
            except AnalysisException as exc:
                if "PATH_NOT_FOUND" in str(exc):
                    continue
                raise EngineError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
            present = {c.lower(): c for c in frame.columns}
            missing = [c.name for c in t.columns if c.required and c.name not in present]
            if missing:
                raise EngineError(
                    f"{path}: required column(s) {missing} of table {t.name!r} are missing; "
                    f"its columns are {t.column_names}"
                )
            columns = [
                (F.col(f"`{present[c.name]}`") if c.name in present else F.lit(None))
                .cast(SPARK_TYPES[c.sql_type])
                .alias(c.name)
                for c in t.columns
            ]
            frame.select(*columns).createOrReplaceTempView(self._view(t.name))
            self._tables[t.name] = path
        return self

    def _view(self, name: str) -> str:
        return self._prefix + name.lower()

    @property
    def tables(self) -> dict[str, str]:
        """Canonical tables registered as views, with their Parquet path."""
        return dict(self._tables)

    def close(self) -> None:
        """Drop the engine's views; stop the session when the engine created it."""
        for name in [*self._tables, *self._registered]:
            self.spark.catalog.dropTempView(self._view(name))
        self._tables.clear()
        self._registered.clear()
        if self._owns_session:
            self.spark.stop()

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SparkEngine({self.parquet_dir!r}, tables={sorted(self._tables)})"

    # -- registered lookup tables ---------------------------------------------------------
    def register(self, name: str, frame: pl.DataFrame | pa.Table | SparkDataFrame) -> None:
        """Make a small per-run table (``zone_offsets`` …) readable by name, like DuckDB's
        ``con.register``. A polars frame or Arrow table is shipped to Spark once per call.

        Raises
        ------
        EngineError
            When the name is not an identifier or is a canonical table.
        """
        if not _NAME.match(name):
            raise EngineError(f"cannot register {name!r}: use a plain SQL identifier")
        if name.lower() in schemas.TABLES:
            raise EngineError(f"{name!r} is a canonical table; it is read from {self.parquet_dir}")
        if isinstance(frame, pl.DataFrame):
            frame = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
        if isinstance(frame, pa.Table):
            if _pyspark_major() >= 4:
                frame = self.spark.createDataFrame(frame)
            else:  # pyspark 3.5 reads pandas, not Arrow tables
                frame = self.spark.createDataFrame(frame.to_pandas())
        frame.createOrReplaceTempView(self._view(name))
        self._registered[name.lower()] = {
            f.name: _DUCKDB_TYPES.get(
                f.dataType.simpleString(), _decimal(f.dataType.simpleString())
            )
            for f in frame.schema.fields
        }

    def unregister(self, name: str) -> None:
        """Drop a table registered with :meth:`register` (no error when absent)."""
        self._registered.pop(name.lower(), None)
        self.spark.catalog.dropTempView(self._view(name))

    @contextmanager
    def registered(
        self, **frames: pl.DataFrame | pa.Table | SparkDataFrame
    ) -> Iterator[SparkEngine]:
        """Register ``frames`` for the duration of a ``with`` block."""
        try:
            for name, frame in frames.items():
                self.register(name, frame)
            yield self
        finally:
            for name in frames:
                self.unregister(name)

    # -- queries --------------------------------------------------------------------------
    def transpiled(self, name: str, **params: Any) -> str:
        """The Spark SQL the engine runs for relation ``name`` (indented, for reading)."""
        return self._prepare(relation_sql(name), params, name, pretty=True)

    def dataframe(self, name: str, **params: Any) -> SparkDataFrame:
        """Relation ``name`` as a lazy Spark DataFrame (to join, cache or write yourself)."""
        return self._run(self._prepare(relation_sql(name), params, name), name)

    def query(self, name: str, **params: Any) -> pl.DataFrame:
        """Run relation ``smsanalytics/sql/{name}.sql`` and collect it as a polars frame.

        For results that fit the driver (Spark refuses beyond ``spark.driver.maxResultSize``,
        1 GB by default); write large ones with :meth:`query_to_parquet`.

        Raises
        ------
        EngineError
            On a missing or unknown parameter, a table neither exported nor registered, or a
            Spark error (the message names the relation).
        UnsupportedSQLError
            When the relation uses SQL without a faithful Spark translation.
        """
        return self._collect(self.dataframe(name, **params), name)

    def sql(self, sql: str, **params: Any) -> pl.DataFrame:
        """Run a DuckDB-dialect statement with ``$name`` parameters (transpiled) and collect it."""
        return self._collect(
            self._run(self._prepare(sql, params, "<inline>"), "<inline>"), "<inline>"
        )

    def table(self, name: str) -> pl.DataFrame:
        """The whole of a canonical table as a polars frame (for small tables and tests)."""
        t = schemas.table(name)
        self._require({t.name}, t.name)
        return self._collect(self.spark.table(self._view(t.name)), t.name)

    def query_to_parquet(
        self, name: str, out_path: str | os.PathLike[str], *, overwrite: bool = False, **params: Any
    ) -> str:
        """Run relation ``name`` and write it as a folder of Parquet part files.

        Parameters
        ----------
        out_path
            Folder to write (a local path or a URI Spark writes to).
        overwrite
            Replace ``out_path`` when it exists (default: raise).
        **params
            The relation's parameters.

        Returns
        -------
        str
            ``out_path``; read it back with ``polars.scan_parquet(f"{out_path}/*.parquet")``.
        """
        from pyspark.errors import PySparkException

        frame = self.dataframe(name, **params)
        out = os.fspath(out_path)
        # Timestamps as Parquet TIMESTAMP(MICROS, UTC) as DuckDB writes them, not Spark's legacy
        # INT96 (which polars and DuckDB read as zone-less nanoseconds).
        key = "spark.sql.parquet.outputTimestampType"
        before = self.spark.conf.get(key)
        self.spark.conf.set(key, "TIMESTAMP_MICROS")
        try:
            frame.write.mode("overwrite" if overwrite else "errorifexists").parquet(out)
        except PySparkException as exc:
            raise EngineError(
                f"Spark could not write relation {name!r} to {out}: {_first_line(exc)}"
            ) from exc
        finally:
            self.spark.conf.set(key, before)
        return out

    # -- internals ------------------------------------------------------------------------
    def _require(self, needed: set[str], name: str) -> None:
        missing = sorted(needed - set(self._tables) - set(self._registered))
        if not missing:
            return
        canonical = [m for m in missing if m in schemas.TABLES]
        other = [m for m in missing if m not in schemas.TABLES]
        parts = []
        if canonical:
            parts.append(
                f"canonical table(s) {canonical} have no Parquet under {self.parquet_dir} "
                "(write them with smsanalytics.engines.export_parquet)"
            )
        if other:
            parts.append(f"table(s) {other} are not registered (engine.register(name, frame))")
        raise EngineError(f"relation {name!r} cannot run on Spark: " + "; ".join(parts))

    def _prepare(
        self, sql: str, params: Mapping[str, Any], name: str, *, pretty: bool = False
    ) -> str:
        zone = self.spark.conf.get("spark.sql.session.timeZone")
        if zone != "UTC":
            raise EngineError(
                f"the Spark session time zone is {zone!r}; relations compute dates in UTC as "
                "DuckDB does: spark.conf.set('spark.sql.session.timeZone', 'UTC')"
            )
        self._require(referenced_tables(sql, name=name), name)
        views = {n: self._view(n) for n in [*self._tables, *self._registered]}
        return transpile(
            sql, params=params, name=name, schema=self._registered, tables=views, pretty=pretty
        )

    def _run(self, spark_sql: str, name: str) -> SparkDataFrame:
        from pyspark.errors import PySparkException

        try:
            return self.spark.sql(spark_sql)
        except PySparkException as exc:
            raise EngineError(f"Spark could not run relation {name!r}: {_first_line(exc)}") from exc

    def _collect(self, frame: SparkDataFrame, name: str) -> pl.DataFrame:
        from pyspark.errors import PySparkException

        try:
            if hasattr(frame, "toArrow"):
                table = frame.toArrow()
            else:  # pyspark 3.5
                from pyspark.sql.pandas.types import to_arrow_schema

                batches = frame._collect_as_arrow()
                schema = batches[0].schema if batches else to_arrow_schema(frame.schema)
                table = pa.Table.from_batches(batches, schema=schema)
        except PySparkException as exc:
            raise EngineError(f"Spark could not run relation {name!r}: {_first_line(exc)}") from exc
        result = pl.from_arrow(table)
        assert isinstance(result, pl.DataFrame)
        return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _decimal(simple: str) -> str:
    m = re.fullmatch(r"decimal\((\d+),(\d+)\)", simple)
    return f"DECIMAL({m.group(1)}, {m.group(2)})" if m else "UNKNOWN"


def _pyspark_major() -> int:
    import pyspark

    return int(pyspark.__version__.split(".")[0])
