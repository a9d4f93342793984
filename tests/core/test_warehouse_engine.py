"""The engine option of the warehouse without Spark: names, a missing pyspark, Parquet output on
DuckDB, and the ``engine`` setting and ``--engine`` option (the Spark runs are in
``tests/spark/test_engine_option.py``)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from smsanalytics.cli import app
from smsanalytics.engines import EngineError
from smsanalytics.features import contact_features
from smsanalytics.settings import SettingsError, load_settings
from smsanalytics.warehouse import Warehouse, WarehouseError

runner = CliRunner()


@pytest.fixture(scope="module")
def warehouse_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dt.datetime]:
    """A small generated programme in a DuckDB file, and an ``as_of`` inside it."""
    from smsanalytics.synth import generate_programme, load_programme

    programme = generate_programme(400, months=4, seed=3)
    path = tmp_path_factory.mktemp("engine") / "warehouse.duckdb"
    with Warehouse(path) as wh:
        load_programme(programme, wh)
    as_of = dt.datetime.combine(programme.as_of, dt.time(), dt.UTC) - dt.timedelta(days=20)
    return path, as_of.replace(hour=10, minute=30)


def test_unknown_engine_is_a_value_error_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"unknown engine 'presto'; choose one of \['duckdb', 'spark'\]"
    ):
        Warehouse(tmp_path / "w.duckdb", engine="presto")
    assert not (tmp_path / "w.duckdb").exists()  # nothing was opened


def test_spark_without_pyspark_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the spark extra were not installed
    with pytest.raises(EngineError, match=r"engine='spark' needs pyspark.*uv sync --extra spark"):
        Warehouse(":memory:", engine="spark")


def test_the_cli_reports_a_missing_pyspark(
    monkeypatch: pytest.MonkeyPatch, warehouse_file: tuple[Path, dt.datetime]
) -> None:
    path, as_of = warehouse_file
    monkeypatch.setitem(sys.modules, "pyspark", None)
    result = runner.invoke(
        app,
        ["segment", "--as-of", as_of.isoformat(), "--warehouse", str(path), "--engine", "spark"],
    )
    assert result.exit_code == 2, result.output
    assert "needs pyspark" in result.output


def test_the_duckdb_engine_has_no_spark_engine() -> None:
    with Warehouse(":memory:") as wh:
        assert wh.engine == "duckdb" and wh.parquet_dir is None
        with pytest.raises(EngineError, match="runs its relations on DuckDB"):
            wh.spark_engine  # noqa: B018


def test_query_builds_the_zone_lookups_for_as_of(warehouse_file: tuple[Path, dt.datetime]) -> None:
    """`query("fct_contact_features")` is `contact_features` (same rows and types), its zone
    lookup tables built for `as_of` and dropped afterwards."""
    path, as_of = warehouse_file
    with Warehouse(path, read_only=True) as wh:
        expected = contact_features(wh, as_of=as_of)
        got = wh.query("fct_contact_features", as_of=as_of).sort("contact_id")
        assert got.height > 0
        assert_frame_equal(got, expected)
        lookups = "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'zone_%'"
        assert wh.sql(lookups).item() == 0
        with pytest.raises(WarehouseError, match=r"needs parameter\(s\) \['as_of'\]"):
            wh.query("fct_contact_features")


def test_write_relation_on_duckdb(warehouse_file: tuple[Path, dt.datetime], tmp_path: Path) -> None:
    path, as_of = warehouse_file
    out = tmp_path / "features"
    with Warehouse(path, read_only=True) as wh:
        expected = wh.query("fct_contact_features", as_of=as_of)
        assert wh.write_relation("fct_contact_features", out, as_of=as_of) == str(out)
        written = pl.read_parquet(out / "*.parquet")
        assert written.schema == expected.schema
        assert written.sort("contact_id").equals(expected.sort("contact_id"))
        with pytest.raises(WarehouseError, match="it exists; pass overwrite=True"):
            wh.write_relation(
                "campaign_weekly_activity", out, start=as_of.replace(year=2000), as_of=as_of
            )
        # HUGEINT sums (polars Decimal(38, 0)) are written as BIGINT, as Spark writes them
        params = {"start": as_of - dt.timedelta(days=90), "as_of": as_of}
        weekly = wh.query("campaign_weekly_activity", **params)
        assert weekly.height > 0 and weekly.schema["sent"] == pl.Decimal(38, 0)
        wh.write_relation("campaign_weekly_activity", out, overwrite=True, **params)
        rewritten = pl.read_parquet(out / "*.parquet")
        assert rewritten.schema["sent"] == pl.Int64
        assert_frame_equal(rewritten, weekly, check_dtypes=False, check_row_order=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["features"]  # no partial left


def test_engine_setting_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "smsanalytics.toml"
    config.write_text('[smsanalytics]\nengine = "spark"\nparquet_dir = "lake/canonical"\n')
    settings = load_settings(config, environ={})
    assert settings.engine == "spark" and settings.sources["engine"] == str(config)
    assert Path(settings.parquet_dir).is_absolute()  # relative to the project root
    uri = load_settings(config, environ={"SMSANALYTICS_PARQUET_DIR": "s3a://bucket/sms"})
    assert uri.parquet_dir == "s3a://bucket/sms"  # a URI is kept as written
    env = load_settings(config, environ={"SMSANALYTICS_ENGINE": "DuckDB"})
    assert env.engine == "duckdb"
    assert load_settings(config, environ={}, engine="duckdb").engine == "duckdb"
    assert load_settings(environ={}).engine == "duckdb"
    with pytest.raises(
        SettingsError, match=r"setting 'engine' \(from env\): 'presto' is not an engine"
    ):
        load_settings(environ={"SMSANALYTICS_ENGINE": "presto"})


def test_engine_option_before_or_after_the_verb(
    warehouse_file: tuple[Path, dt.datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, as_of = warehouse_file
    args = ["segment", "--as-of", as_of.isoformat(), "--warehouse", str(path), "--json"]
    monkeypatch.setenv("SMSANALYTICS_ENGINE", "spark")
    verb = runner.invoke(app, [*args, "--engine", "duckdb"])  # the verb's option beats env
    assert verb.exit_code == 0, verb.output
    before = runner.invoke(app, ["--engine", "duckdb", *args])
    assert before.exit_code == 0, before.output
    assert json.loads(verb.stdout)["engine"] == json.loads(before.stdout)["engine"] == "duckdb"
    assert json.loads(verb.stdout) == json.loads(before.stdout)
    bad = runner.invoke(app, [*args, "--engine", "presto"])
    assert bad.exit_code == 2 and "presto" in bad.output
