"""``smsanalytics segment --as-of DATE [--json]`` and ``smsanalytics features --as-of DATE --out``."""

from __future__ import annotations

import json

import polars as pl
import pytest
import typer
from conftest import load_frames, programme_frames
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from smsanalytics.cli.segment import features, segment
from smsanalytics.features import contact_features
from smsanalytics.warehouse import Warehouse


@pytest.fixture(scope="module")
def app_and_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "w.duckdb"
    with Warehouse(path) as wh:
        load_frames(wh, programme_frames())
    app = typer.Typer()
    app.command("segment")(segment)
    app.command("features")(features)
    app.command("noop")(lambda: None)  # two commands: typer keeps `segment` as a sub-command
    return app, path


def test_json_counts(app_and_path):
    app, path = app_and_path
    result = CliRunner().invoke(
        app, ["segment", "--as-of", "2025-06-01", "--warehouse", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["as_of"] == "2025-06-01T00:00:00+00:00"
    assert data["contacts"] == 8
    assert data["lifecycle_stages"] == {
        "opted_out": 2,
        "welcome": 2,
        "reactivated": 1,
        "active": 0,
        "at_risk": 1,
        "lapsed": 2,
    }
    assert sum(data["rfm_segments"].values()) == 8 and data["rfm_segments"]["No purchase yet"] == 4
    assert data["flags"] == {
        "is_birthday_soon": 1,
        "is_abandoned_activity": 1,
        "has_points_to_redeem": 1,
    }
    assert "+336" not in result.stdout


def test_human_output(app_and_path):
    app, path = app_and_path
    result = CliRunner().invoke(app, ["segment", "--as-of", "2025-06-01", "--warehouse", str(path)])
    assert result.exit_code == 0, result.output
    assert "Lifecycle stages" in result.stdout and "No purchase yet" in result.stdout


def test_errors_exit_2_with_a_message(app_and_path, tmp_path):
    app, path = app_and_path
    bad_date = CliRunner().invoke(
        app, ["segment", "--as-of", "yesterday", "--warehouse", str(path)]
    )
    assert bad_date.exit_code == 2 and "ISO date" in " ".join(bad_date.output.split())
    missing = CliRunner().invoke(
        app, ["segment", "--as-of", "2025-06-01", "--warehouse", str(tmp_path / "no.duckdb")]
    )
    assert missing.exit_code == 2 and "does not exist" in " ".join(missing.output.split())


def test_features_written_as_the_frame(app_and_path, tmp_path):
    app, path = app_and_path
    out = tmp_path / "features.parquet"
    args = ["features", "--as-of", "2025-06-01", "--warehouse", str(path), "--json"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    with Warehouse(path, read_only=True) as wh:
        expected = contact_features(wh, as_of="2025-06-01")
    assert (data["contacts"], data["columns"], data["files"]) == (8, expected.width, 1)
    assert data["out"] == str(out) and data["engine"] == "duckdb"
    assert_frame_equal(pl.read_parquet(out).sort("contact_id"), expected)
    assert "phone" not in " ".join(expected.columns)
    # in parts: a folder of part files holding the same rows
    folder = tmp_path / "parts"
    parted = CliRunner().invoke(app, [*args, "--out", str(folder), "--contacts-per-part", "3"])
    assert parted.exit_code == 0, parted.output
    assert json.loads(parted.stdout)["files"] == 3
    assert_frame_equal(pl.read_parquet(folder / "*.parquet").sort("contact_id"), expected)


def test_features_errors(app_and_path, tmp_path):
    app, path = app_and_path
    base = ["features", "--as-of", "2025-06-01", "--warehouse", str(path)]
    no_folder = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "nope" / "f.parquet")])
    assert no_folder.exit_code == 2 and "does not exist" in " ".join(no_folder.output.split())
    zero = CliRunner().invoke(
        app, [*base, "--out", str(tmp_path / "f.parquet"), "--contacts-per-part", "0"]
    )
    assert zero.exit_code == 2 and "contacts-per-part" in zero.output
    assert not (tmp_path / "f.parquet").exists()
