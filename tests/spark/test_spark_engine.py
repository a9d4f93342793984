"""The Spark engine's API: Parquet export and views, large results, registration, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from smsanalytics import schemas
from smsanalytics.engines import EngineError, UnsupportedSQLError, export_parquet, open_engine

pytestmark = pytest.mark.spark

AS_OF = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)


def test_export_writes_every_canonical_table(parquet_dir: Path) -> None:
    names = sorted(p.name for p in parquet_dir.iterdir())
    assert names == sorted(f"{t.name}.parquet" for t in schemas.CANONICAL_TABLES)


def test_the_local_session_uses_small_memory_pages(spark: Any) -> None:
    """local_spark_session: 4 MB pages, so that a hash aggregate is not refused its first page
    (AGGREGATE_OUT_OF_MEMORY) while the other operators of its task hold theirs."""
    assert spark.conf.get("spark.buffer.pageSize") == "4m"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_export_refuses_to_replace_a_folder(warehouse: Any, tmp_path: Path) -> None:
    (tmp_path / "orders.parquet").mkdir()
    with pytest.raises(EngineError, match="orders.parquet is a folder"):
        export_parquet(warehouse, tmp_path)


def test_canonical_tables_round_trip_through_parquet(
    warehouse: Any, spark_engine: Any, same_result: Any
) -> None:
    """Timestamps (UTC, microseconds), dates, INTEGER and NULLs come back as DuckDB has them."""
    assert sorted(spark_engine.tables) == sorted(t.name for t in schemas.CANONICAL_TABLES)
    for name in ("contacts", "receipts"):
        duck, spark = warehouse.table(name), spark_engine.table(name)
        assert spark.schema == duck.schema, name
        same_result(duck, spark, name)


def test_large_results_are_written_as_parquet(spark_engine: Any, tmp_path: Path) -> None:
    out = tmp_path / "orders_summary"
    expected = spark_engine.query("fct_contact_orders", as_of=AS_OF)
    assert spark_engine.query_to_parquet("fct_contact_orders", out, as_of=AS_OF) == str(out)
    written = pl.read_parquet(out / "*.parquet")
    assert written.schema == expected.schema  # timestamps stay UTC microseconds
    assert written.sort("contact_id").equals(expected.sort("contact_id"))
    with pytest.raises(EngineError, match="could not write relation 'fct_contact_orders'"):
        spark_engine.query_to_parquet("fct_contact_orders", out, as_of=AS_OF)
    spark_engine.query_to_parquet("fct_contact_orders", out, overwrite=True, as_of=AS_OF)


def test_parameters_are_checked_like_the_warehouse(spark_engine: Any) -> None:
    with pytest.raises(EngineError, match=r"'fct_contact_orders' needs parameter\(s\) \['as_of'\]"):
        spark_engine.query("fct_contact_orders")
    with pytest.raises(EngineError, match=r"unknown: \['asof'\]"):
        spark_engine.query("fct_contact_orders", as_of=AS_OF, asof=AS_OF)


def test_tables_missing_from_the_engine_are_named(
    spark: Any, parquet_dir: Path, tmp_path: Path
) -> None:
    from smsanalytics.engines import SparkEngine

    with SparkEngine(spark, parquet_dir) as engine:  # nothing registered on this one
        with pytest.raises(EngineError, match=r"\['zone_ids', 'zone_offsets'\] are not registered"):
            engine.query("agg_contact_send_hour", as_of=AS_OF)
    with SparkEngine(spark, tmp_path) as empty:
        with pytest.raises(EngineError, match=r"canonical table\(s\) \['orders'\] have no Parquet"):
            empty.query("fct_contact_orders", as_of=AS_OF)


def test_engines_sharing_a_session_do_not_clash(
    spark: Any, parquet_dir: Path, spark_engine: Any
) -> None:
    """Views are private to an engine: closing another engine leaves this one working, and a
    user's own view called `orders` is neither read nor replaced."""
    from smsanalytics.engines import SparkEngine

    spark.createDataFrame([(1,)], "x int").createOrReplaceTempView("orders")
    try:
        with SparkEngine(spark, parquet_dir) as other:
            assert other.query("fct_contact_orders", as_of=AS_OF).height > 0
        assert spark_engine.query("fct_contact_orders", as_of=AS_OF).height > 0
        assert spark.table("orders").count() == 1
    finally:
        spark.catalog.dropTempView("orders")


def test_registered_frames_may_be_empty_and_are_scoped(spark_engine: Any) -> None:
    empty = pl.DataFrame(schema={"contact_id": pl.Int64, "segment": pl.String})
    with spark_engine.registered(seg=empty):
        assert spark_engine.sql("SELECT count(*) AS n FROM seg").item() == 0
    with pytest.raises(EngineError, match=r"\['seg'\] are not registered"):
        spark_engine.sql("SELECT count(*) AS n FROM seg")
    with pytest.raises(EngineError, match="is a canonical table"):
        spark_engine.register("orders", empty)


def test_the_session_must_stay_in_utc(spark: Any, spark_engine: Any) -> None:
    spark.conf.set("spark.sql.session.timeZone", "Europe/Paris")
    try:
        with pytest.raises(EngineError, match="time zone is 'Europe/Paris'"):
            spark_engine.query("fct_contact_orders", as_of=AS_OF)
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_unsupported_sql_is_refused_before_spark_runs(spark_engine: Any) -> None:
    with pytest.raises(UnsupportedSQLError, match="relation '<inline>' uses 'RANDOM"):
        spark_engine.sql("SELECT random() AS r")


def test_the_transpiled_sql_can_be_read(spark_engine: Any) -> None:
    text = spark_engine.transpiled("fct_contact_orders", as_of=AS_OF)
    assert "DATEDIFF" in text and "2026-08-01 00:00:00.000000+00:00" in text


def test_open_engine(warehouse: Any, spark: Any, tmp_path: Path) -> None:
    assert open_engine("duckdb", warehouse=warehouse) is warehouse
    with pytest.raises(EngineError, match="pass parquet_dir"):
        open_engine("spark")
    with pytest.raises(EngineError, match="unknown engine 'presto'"):
        open_engine("presto")  # type: ignore[arg-type]
    engine = open_engine("spark", warehouse=warehouse, parquet_dir=tmp_path, spark=spark)
    try:
        assert engine.query("campaign_list", as_of=AS_OF).height > 0
    finally:
        engine.close()
