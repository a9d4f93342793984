"""``smsanalytics ab design|readout`` through typer's CliRunner."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from smsanalytics import schemas
from smsanalytics.cli.ab import app
from smsanalytics.experiments import ProportionStatistic, readout, sample_size_proportion

runner = CliRunner()
REQUIRED = {
    "variant",
    "rate",
    "lift_abs",
    "lift_rel",
    "ci_low",
    "ci_high",
    "p_value",
    "p_value_adjusted",
    "chance_to_beat_control",
}


def flat(text: str) -> str:
    """Undo rich's line wrapping of error messages."""
    return " ".join(text.split())


def run_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def test_design_json_equals_the_library() -> None:
    data = run_json(
        "design", "--baseline-rate", "0.03", "--mde", "0.1", "--arms", "3", "--power", "0.9"
    )
    ref = sample_size_proportion(0.03, 0.1, arms=3, power=0.9)
    assert data["n_per_arm"] == list(ref.n_per_arm) and data["n_total"] == ref.n_total
    assert data["alpha_per_comparison"] == pytest.approx(0.025)
    mean = run_json("design", "--baseline-mean", "1.2", "--std", "5", "--n-total", "10000")
    assert mean["metric"] == "mean" and mean["mde_abs"] > 0


def test_design_usage_errors_exit_2() -> None:
    assert runner.invoke(app, ["design", "--mde", "0.1"]).exit_code == 2
    r = runner.invoke(app, ["design", "--baseline-rate", "0.9", "--mde", "0.5"])
    assert r.exit_code == 2 and "outside (0, 1)" in flat(r.stderr)


@pytest.fixture()
def stats_csv(tmp_path: Path) -> Path:
    path = tmp_path / "stats.csv"
    path.write_text(
        "variant,n,conversions,revenue_sum,revenue_sumsq\n"
        "A,10000,300,1500.5,90000\nB,10050,370,1800,120000\nC,9900,310,1490,85000\n"
    )
    return path


@pytest.mark.parametrize("method", ["frequentist", "bayesian", "sequential"])
def test_readout_csv_json_has_srm_and_required_arm_fields(stats_csv: Path, method: str) -> None:
    data = run_json("readout", str(stats_csv), "--method", method)
    assert list(data)[0] == "srm_p_value"
    assert [a["variant"] for a in data["arms"]] == ["B", "C"]
    assert all(REQUIRED <= set(a) for a in data["arms"])
    ref = readout(
        {
            "A": ProportionStatistic(10000, 300),
            "B": ProportionStatistic(10050, 370),
            "C": ProportionStatistic(9900, 310),
        },
        method=method,
    )  # type: ignore[arg-type]
    assert data["arms"][0]["lift_rel"] == pytest.approx(ref.arms[0].lift_rel, rel=1e-12)


def test_readout_csv_named_control_revenue_and_weights(stats_csv: Path) -> None:
    data = run_json(
        "readout",
        str(stats_csv),
        "--control",
        "B",
        "--metric",
        "revenue",
        "--weights",
        "B=2,A=1,C=1",
    )
    assert data["control"] == "B" and data["metric"] == "mean"
    assert data["srm"]["weights"] == pytest.approx([0.25, 0.5, 0.25])  # row order A, B, C
    assert data["srm_mismatch"] is True


def test_readout_human_output_prints_srm_first(stats_csv: Path) -> None:
    r = runner.invoke(app, ["readout", str(stats_csv)])
    assert r.exit_code == 0
    assert r.stdout.lstrip().startswith("SRM check")


def test_readout_errors_name_the_problem(tmp_path: Path, stats_csv: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("variant,n\nA,10\nB,12\n")
    r = runner.invoke(app, ["readout", str(bad)])
    assert r.exit_code == 2 and "conversions" in flat(r.stderr)
    r = runner.invoke(app, ["readout", str(stats_csv), "--metric", "revenue_per_click"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["readout"])
    assert r.exit_code == 2 and "either STATS.csv or --campaign" in flat(r.stderr)


def test_readout_from_warehouse_campaign(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    for t in schemas.CANONICAL_TABLES:
        con.sql(schemas.create_table_sql(t))
    t0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    n = 300
    assignments = pl.DataFrame(
        {
            "campaign_id": ["promo"] * n,
            "contact_id": list(range(n)),
            "variant": ["control" if i % 10 == 0 else ("A" if i % 2 else "B") for i in range(n)],
            "is_holdout": [i % 10 == 0 for i in range(n)],
            "assigned_at": [t0] * n,
        },
        schema=schemas.table("assignments").polars_schema,
    )
    orders = pl.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(0, n, 7)],
            "contact_id": list(range(0, n, 7)),
            "ordered_at": [t0 + dt.timedelta(days=1)] * len(range(0, n, 7)),
            "amount": [25.0] * len(range(0, n, 7)),
            "currency": ["EUR"] * len(range(0, n, 7)),
        },
        schema=schemas.table("orders").polars_schema,
    )
    campaigns = (
        pl.DataFrame({"campaign_id": ["promo"], "holdout_share": [0.1]})
        .with_columns(
            *[
                pl.lit(None, dtype=dtype).alias(name)
                for name, dtype in schemas.table("campaigns").polars_schema.items()
                if name not in ("campaign_id", "holdout_share")
            ]
        )
        .select(schemas.table("campaigns").column_names)
    )
    for name, frame in (("assignments", assignments), ("orders", orders), ("campaigns", campaigns)):
        con.register("_f", frame)
        con.sql(f"INSERT INTO {name} SELECT * FROM _f")
        con.unregister("_f")
    con.close()
    data = run_json(
        "readout", "--campaign", "promo", "--warehouse", str(db), "--method", "bayesian"
    )
    assert data["control"] == "control" and data["control_n"] == 30
    assert data["srm"]["weights"] == pytest.approx([0.1, 0.45, 0.45])
    assert {a["variant"] for a in data["arms"]} == {"A", "B"}
    assert all(a["chance_to_beat_control"] is not None for a in data["arms"])
    missing = runner.invoke(
        app, ["readout", "--campaign", "promo", "--warehouse", str(tmp_path / "none.duckdb")]
    )
    assert missing.exit_code == 2 and "not found" in flat(missing.stderr)


def test_simulate_peeking_command_is_reproducible() -> None:
    args = (
        "simulate-peeking",
        "--n-sims",
        "500",
        "--days",
        "10",
        "--daily-n",
        "200",
        "--seed",
        "5",
    )
    first, second = run_json(*args), run_json(*args)
    assert first == second
    assert first["reject_naive_peeking"] > first["reject_sequential"]
