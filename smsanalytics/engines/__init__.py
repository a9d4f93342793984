"""Query engines for the SQL relations: DuckDB (the warehouse, default) and Apache Spark.

The SQL in ``smsanalytics/sql/`` is the contract (``docs/scale-out.md``): every relation runs on
DuckDB, and transpiled on Spark over the canonical tables stored as Parquet, with the same
result.

>>> from smsanalytics.engines import export_parquet, open_engine      # doctest: +SKIP
>>> export_parquet(warehouse, "data/parquet")                        # doctest: +SKIP
>>> spark = open_engine("spark", parquet_dir="data/parquet")          # doctest: +SKIP
>>> spark.query("fct_contact_orders", as_of="2026-01-01")            # doctest: +SKIP

pyspark (the ``spark`` extra) and sqlglot are imported only when a relation is parsed or the Spark
engine is used.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from smsanalytics.engines.errors import EngineError, UnsupportedSQLError
from smsanalytics.engines.lookups import zone_lookups
from smsanalytics.engines.parquet import export_parquet
from smsanalytics.engines.relations import relation_sql

try:
    # Bound eagerly: the function shadows the submodule of the same name.
    from smsanalytics.engines.transpile import transpile
except ImportError as _missing:  # sqlglot (the spark extra) is not installed
    _reason = str(_missing)

    def transpile(sql: str, *, params: Any, **kwargs: Any) -> str:  # type: ignore[misc]
        """Unavailable: needs sqlglot (the ``spark`` extra)."""
        raise EngineError(
            f"transpile needs sqlglot (a dependency of smsanalytics): reinstall with make setup ({_reason})"
        )


if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from smsanalytics.engines.spark import SparkEngine
    from smsanalytics.warehouse import Warehouse

__all__ = [
    "ENGINES",
    "EngineError",
    "SparkEngine",
    "UnsupportedSQLError",
    "export_parquet",
    "local_spark_session",
    "open_engine",
    "relation_sql",
    "transpile",
    "zone_lookups",
]

#: Engine names accepted by :func:`open_engine` (and ``--engine`` on the command line).
ENGINES: tuple[str, ...] = ("duckdb", "spark")

_LAZY = {
    "SparkEngine": "smsanalytics.engines.spark",
    "local_spark_session": "smsanalytics.engines.spark",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        try:
            module = importlib.import_module(_LAZY[name])
        except ImportError as exc:
            raise EngineError(
                f"smsanalytics.engines.{name} needs the spark extra (pyspark, sqlglot): "
                f"uv sync --extra spark ({exc})"
            ) from None
        return getattr(module, name)
    raise AttributeError(f"module 'smsanalytics.engines' has no attribute {name!r}")


def open_engine(
    kind: Literal["duckdb", "spark"],
    *,
    warehouse: Warehouse | None = None,
    parquet_dir: str | os.PathLike[str] | None = None,
    spark: SparkSession | None = None,
) -> Warehouse | SparkEngine:
    """The engine that runs ``query(name, **params)`` and ``sql(text, **params)``.

    Parameters
    ----------
    kind
        ``"duckdb"``: the warehouse itself. ``"spark"``: a :class:`SparkEngine` over
        ``parquet_dir``.
    warehouse
        Required for ``"duckdb"``. For ``"spark"``, when given, its canonical tables are first
        exported to ``parquet_dir`` (a snapshot; use this to run a local warehouse on Spark);
        without it, ``parquet_dir`` must already hold the tables (e.g. written by your
        lakehouse jobs).
    parquet_dir
        Folder or URI of ``<table>.parquet`` files (required for ``"spark"``).
    spark
        SparkSession to use; default: a local one (:func:`local_spark_session`).

    Raises
    ------
    EngineError
        On an unknown kind or a missing argument.
    """
    if kind == "duckdb":
        if warehouse is None:
            raise EngineError("the duckdb engine is a Warehouse: pass warehouse=Warehouse(path)")
        return warehouse
    if kind == "spark":
        if parquet_dir is None:
            raise EngineError(
                "the spark engine reads Parquet: pass parquet_dir (a folder or URI holding "
                "<table>.parquet for each canonical table)"
            )
        if warehouse is not None:
            export_parquet(warehouse, parquet_dir)
        from smsanalytics.engines.spark import SparkEngine

        return SparkEngine(spark, parquet_dir)
    raise EngineError(f"unknown engine {kind!r}; choose one of {list(ENGINES)}")
