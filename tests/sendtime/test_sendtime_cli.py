"""``smsanalytics sendtime evaluate|windows`` through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from smsanalytics.cli.sendtime import app

RUNNER = CliRunner()


def test_evaluate_prints_the_figures_as_json() -> None:
    res = RUNNER.invoke(app, ["evaluate", "--contacts", "2000", "--n-boot", "100", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out["expected_ctr"]) == {"random", "global_best", "naive", "model", "oracle"}
    assert {"lift_over_global_best", "lift_over_naive", "share_of_oracle_gain", "intervals"} <= set(
        out
    )
    assert all(len(v) == 2 for v in out["intervals"].values())


def test_windows_prints_the_distribution_and_writes_parquet(tmp_path: Path) -> None:
    target = tmp_path / "windows.parquet"
    res = RUNNER.invoke(
        app,
        [
            "windows",
            "--date",
            "2026-11-10",
            "--synthetic",
            "2000",
            "--control-share",
            "0.1",
            "--out",
            str(target),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert sum(out["by_local_hour"].values()) == out["with_window"] > 0
    assert set(out["by_local_hour"]) <= {str(h) for h in range(8, 20)}
    assert set(out["by_policy"]) == {"optimised", "random"}
    frame = pl.read_parquet(target)
    assert frame.height == out["contacts"] and "phone_e164" not in frame.columns


def test_windows_without_a_warehouse_fails_with_advice(tmp_path: Path) -> None:
    res = RUNNER.invoke(
        app, ["windows", "--date", "2026-11-10", "--warehouse", str(tmp_path / "none.duckdb")]
    )
    assert res.exit_code == 2
    assert "--synthetic" in res.output
    bad = RUNNER.invoke(app, ["windows", "--date", "11/10/2026", "--synthetic", "600"])
    assert bad.exit_code == 2
