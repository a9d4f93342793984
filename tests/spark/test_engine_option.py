"""``Warehouse(engine="spark")``, ``contact_features`` and ``segment --engine spark`` give what the
DuckDB engine gives; large outputs are written as Parquet on both engines."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from smsanalytics import schemas
from smsanalytics.engines import EngineError
from smsanalytics.warehouse import Warehouse

DataContext = Any  # tests/spark/conftest.py: the data and its as_of

pytestmark = pytest.mark.spark


def _copy_to_file(warehouse: Warehouse, path: Path) -> Path:
    warehouse.con.execute(f"ATTACH '{path}' AS copy_target").fetchall()
    try:
        warehouse.con.execute("COPY FROM DATABASE memory TO copy_target").fetchall()
    finally:
        warehouse.con.execute("DETACH copy_target").fetchall()
    return path


@pytest.fixture(scope="module")
def warehouse_file(warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated programme of the session in a DuckDB file."""
    return _copy_to_file(warehouse, tmp_path_factory.mktemp("engine") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def on_duckdb(warehouse_file: Path) -> Iterator[Warehouse]:
    with Warehouse(warehouse_file, read_only=True) as wh:
        yield wh


@pytest.fixture(scope="module")
def on_spark(warehouse_file: Path, spark: Any) -> Iterator[Warehouse]:
    """The same file with engine="spark": its tables exported next to it on first use."""
    with Warehouse(warehouse_file, read_only=True, engine="spark", spark=spark) as wh:
        yield wh


def _params(name: str, context: DataContext) -> dict[str, Any]:
    if name == "churn_labels":
        cutoff = context.as_of - dt.timedelta(days=90)
        return {"cutoff": cutoff, "horizon_end": context.as_of, "require_no_click": True}
    if name == "campaign_weekly_activity":
        return {"start": context.as_of - dt.timedelta(days=120), "as_of": context.as_of}
    return {"as_of": context.as_of}


@pytest.mark.parametrize(
    "name", ["fct_contact_orders", "campaign_list", "churn_labels", "campaign_weekly_activity"]
)
def test_query_gives_the_duckdb_frame(
    name: str,
    on_duckdb: Warehouse,
    on_spark: Warehouse,
    context: DataContext,
    same_result: Callable[..., None],
) -> None:
    params = _params(name, context)
    duck = on_duckdb.query(name, **params)
    spark = on_spark.query(name, **params)
    assert duck.height > 0
    assert spark.schema == duck.schema  # DuckDB's types (campaign_weekly_activity: HUGEINT sums)
    same_result(duck, spark, f"Warehouse(engine='spark').query({name!r})")


def test_the_tables_are_exported_next_to_the_file(
    on_spark: Warehouse, warehouse_file: Path, spark: Any
) -> None:
    on_spark.spark_engine  # noqa: B018 (opens the engine)
    folder = warehouse_file.with_name("warehouse_parquet")
    assert on_spark.parquet_dir == str(folder)
    assert sorted(on_spark.spark_engine.tables) == sorted(t.name for t in schemas.CANONICAL_TABLES)
    assert all((folder / f"{t.name}.parquet").is_file() for t in schemas.CANONICAL_TABLES)
    marker = folder / "_smsanalytics_export.json"
    before = marker.stat().st_mtime_ns
    # A second reader of the unchanged file shares the export instead of rewriting it.
    with Warehouse(warehouse_file, read_only=True, engine="spark", spark=spark) as again:
        assert again.spark_engine.table("contacts").height == again.counts()["contacts"] > 0
    assert marker.stat().st_mtime_ns == before


def test_a_write_by_sql_is_seen_by_spark_after_mark_changed(
    warehouse: Warehouse, tmp_path: Path, spark: Any, context: DataContext
) -> None:
    """Rows inserted by SQL (as the send ledger's sync does) reach Spark's next query once the
    warehouse is told (``mark_changed``): its export is written again."""
    path = _copy_to_file(warehouse, tmp_path / "w.duckdb")
    with Warehouse(path, engine="spark", spark=spark) as wh:
        before = wh.query("campaign_list", as_of=context.as_of)
        wh.con.execute(
            "INSERT INTO messages (message_id, campaign_id, contact_id, sent_at) "
            "SELECT max(message_id) + 1, 'added-by-sql', min(contact_id), $at FROM messages",
            {"at": context.as_of - dt.timedelta(days=1)},
        ).fetchall()
        wh.mark_changed()
        after = wh.query("campaign_list", as_of=context.as_of)
    assert "added-by-sql" not in before["campaign_id"].to_list()
    assert after.filter(pl.col("campaign_id") == "added-by-sql")["sent"].to_list() == [1]
    assert after.height == before.height + 1


def test_contact_features_on_spark(
    on_duckdb: Warehouse,
    on_spark: Warehouse,
    context: DataContext,
    same_result: Callable[..., None],
) -> None:
    from smsanalytics.features import contact_features

    duck = contact_features(on_duckdb, as_of=context.as_of)
    spark = contact_features(on_spark, as_of=context.as_of)
    assert duck.height > 0 and spark["best_local_hour"].null_count() < spark.height
    assert spark.schema == duck.schema
    assert spark["contact_id"].is_sorted()
    same_result(duck, spark, "contact_features on Spark")
    # the zone lookups were registered for the run only
    with pytest.raises(EngineError, match=r"\['zone_ids'\] are not registered"):
        on_spark.spark_engine.sql("SELECT count(*) AS n FROM zone_ids")


def test_a_parquet_dir_is_read_as_it_is(
    parquet_dir: Path, spark: Any, on_duckdb: Warehouse, context: DataContext
) -> None:
    """With parquet_dir (a lakehouse folder) nothing is exported: the DuckDB file may be empty."""
    with Warehouse(":memory:", engine="spark", parquet_dir=parquet_dir, spark=spark) as wh:
        got = wh.query("fct_contact_orders", as_of=context.as_of)
        expected = on_duckdb.query("fct_contact_orders", as_of=context.as_of)
        assert got.schema == expected.schema
        assert_frame_equal(got.sort("contact_id"), expected.sort("contact_id"))
    assert not (parquet_dir / "_smsanalytics_export.json").exists()


def test_large_outputs_are_written_as_parquet_on_both_engines(
    on_duckdb: Warehouse,
    on_spark: Warehouse,
    context: DataContext,
    tmp_path: Path,
    same_result: Callable[..., None],
) -> None:
    as_of = context.as_of
    expected = on_duckdb.query("fct_contact_features", as_of=as_of)
    written = {}
    for wh in (on_duckdb, on_spark):
        out = tmp_path / wh.engine
        assert wh.write_relation("fct_contact_features", out, as_of=as_of) == str(out)
        written[wh.engine] = pl.read_parquet(out / "*.parquet")
        with pytest.raises(Exception, match="exists"):
            wh.write_relation("fct_contact_features", out, as_of=as_of)
    # The same columns and rows; integer widths are each engine's (Spark's day counts are INT
    # where DuckDB's are BIGINT), timestamps UTC microseconds on both.
    assert written["spark"].columns == written["duckdb"].columns == expected.columns
    assert written["spark"].schema["last_sent_at"] == pl.Datetime("us", "UTC")
    same_result(expected, written["duckdb"], "fct_contact_features written by DuckDB")
    same_result(expected, written["spark"], "fct_contact_features written by Spark")


def test_campaign_kpis_and_send_history_run_on_the_engine(
    on_duckdb: Warehouse,
    on_spark: Warehouse,
    context: DataContext,
    same_result: Callable[..., None],
) -> None:
    from smsanalytics.campaigns import campaign_kpis
    from smsanalytics.sendtime.history import load_send_history

    start = context.as_of - dt.timedelta(days=60)
    kpis = {
        wh.engine: campaign_kpis(wh, start=start, as_of=context.as_of, by=("kind",))
        for wh in (on_duckdb, on_spark)
    }
    assert kpis["duckdb"].height > 0
    assert kpis["spark"].schema == kpis["duckdb"].schema
    same_result(kpis["duckdb"], kpis["spark"], "campaign_kpis by kind")
    duck_sends, duck_contacts = load_send_history(on_duckdb, as_of=context.as_of)
    spark_sends, spark_contacts = load_send_history(on_spark, as_of=context.as_of)
    same_result(duck_sends, spark_sends, "sendtime_sends")
    same_result(duck_contacts, spark_contacts, "sendtime_contacts")


def test_cli_segment_with_engine_spark(
    warehouse: Warehouse, context: DataContext, tmp_path: Path, spark: Any
) -> None:
    """`smsanalytics segment --engine spark --json` prints the counts the DuckDB engine prints
    (the verb uses the active session, and leaves it running)."""
    from smsanalytics.cli import app

    path = _copy_to_file(warehouse, tmp_path / "cli.duckdb")
    args = ["segment", "--as-of", context.as_of.isoformat(), "--warehouse", str(path), "--json"]
    runner = CliRunner()
    duck = runner.invoke(app, args)
    assert duck.exit_code == 0, duck.output
    on_spark = runner.invoke(app, [*args, "--engine", "spark"])
    assert on_spark.exit_code == 0, on_spark.output
    d, s = json.loads(duck.stdout), json.loads(on_spark.stdout)
    assert (d.pop("engine"), s.pop("engine")) == ("duckdb", "spark")
    assert d["contacts"] > 0 and s == d
    assert (tmp_path / "cli_parquet" / "contacts.parquet").is_file()
    assert spark.range(1).count() == 1  # the session fixture still runs



def test_feature_helpers_follow_the_engine(
    on_duckdb: Warehouse,
    on_spark: Warehouse,
    context: DataContext,
    same_result: Callable[..., None],
    tmp_path: Path,
) -> None:
    """order_summary, send_hour_engagement, write_contact_features run on the engine."""
    from smsanalytics.features import (
        contact_features,
        order_summary,
        send_hour_engagement,
        write_contact_features,
    )

    as_of = context.as_of
    for fn in (order_summary, send_hour_engagement):
        duck, spark = fn(on_duckdb, as_of=as_of), fn(on_spark, as_of=as_of)
        assert duck.height > 0
        same_result(duck, spark, f"{fn.__name__} on Spark")
    folder = write_contact_features(on_spark, tmp_path / "features", as_of=as_of)
    assert folder.is_dir()  # Spark writes a folder of part files
    written = pl.read_parquet(f"{folder}/*.parquet").sort("contact_id")
    same_result(contact_features(on_duckdb, as_of=as_of), written, "write_contact_features")
