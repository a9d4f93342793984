"""The data verbs of the command line: generate, demo, info, cluster (with --json)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smsanalytics.cli import app

runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_verb_has_help():
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for verb in ("generate", "demo", "info", "ingest", "ab", "message"):
        assert verb in top.stdout
        assert runner.invoke(app, [verb, "--help"]).exit_code == 0


def test_generate_exports_json(tmp_path):
    out = _json(runner.invoke(app, ["generate", "--contacts", "300", "--months", "2", "--out", str(tmp_path), "--json"]))
    assert out["rows"]["contacts"] == 300
    assert (tmp_path / "contacts.csv").is_file()


def test_demo_builds_warehouse_and_info_reads_it(tmp_path):
    wh = tmp_path / "demo.duckdb"
    summary = _json(runner.invoke(app, ["demo", "--contacts", "400", "--months", "3", "--warehouse", str(wh), "--json"]))
    assert wh.is_file() and not wh.with_name("demo.duckdb.tmp").exists()
    assert summary["tables"]["contacts"] > 380  # a few rows are quarantined by design
    assert sum(sum(r.values()) for r in summary["quarantined"].values()) > 0
    info = _json(runner.invoke(app, ["info", "--warehouse", str(wh), "--json"]))
    assert info["tables"] == summary["tables"]
    clustered = _json(runner.invoke(app, ["cluster", "-w", str(wh), "-t", "messages", "--json"]))
    assert list(clustered["seconds"]) == ["messages"]
    after = _json(runner.invoke(app, ["info", "--warehouse", str(wh), "--json"]))
    assert after["tables"] == summary["tables"]


def test_cluster_errors_name_the_problem(tmp_path):
    missing = runner.invoke(app, ["cluster", "-w", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    wh = tmp_path / "w.duckdb"
    from smsanalytics.warehouse import Warehouse

    Warehouse(wh).close()
    bad = runner.invoke(app, ["cluster", "-w", str(wh), "-t", "campaigns"])
    assert bad.exit_code == 2 and "no clustering order" in bad.output


def test_info_on_missing_warehouse_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["info", "--warehouse", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_invalid_setting_stops_at_start_up(tmp_path, monkeypatch):
    monkeypatch.setenv("SMSANALYTICS_DEFAULT_REGION", "XX")
    result = runner.invoke(app, ["info", "--warehouse", str(tmp_path / "w.duckdb")])
    assert result.exit_code == 2
    assert "default_region" in result.output
