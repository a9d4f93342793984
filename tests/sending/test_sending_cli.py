"""Command line: ``plan``, ``send`` and ``receipts serve`` registered on a small typer app."""

from __future__ import annotations

import json

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from smsanalytics.cli.sending import plan, receipts_app, send

NOW = "2025-03-03T09:00:00Z"
CAMPAIGN = """
[campaign]
id = "cli-promo"
name = "CLI promo"
sender_id = "ACME"

[audience]
countries = ["FR"]

[message]
template = "Hi {first_name|there}, -10% today. STOP 36173"

[window]
start = "2025-03-03T09:00:00Z"
end = "+6h"
"""


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("plan")(plan)
    app.command("send")(send)
    app.add_typer(receipts_app, name="receipts")
    return app


@pytest.fixture
def setup(tmp_path, make_contacts, warehouse_factory):
    contacts = make_contacts(
        [{"contact_id": i, "first_name": f"N{i}"} for i in range(1, 6)]
        + [{"contact_id": 6, "consent_at": None}]
    )
    wh = warehouse_factory(contacts)
    path = wh.path
    wh.close()
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(CAMPAIGN)
    return path, campaign, tmp_path / "plan"


def test_plan_then_send_to_the_outbox(app, setup):
    warehouse, campaign, out = setup
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "plan",
            str(campaign),
            "--warehouse",
            str(warehouse),
            "--out",
            str(out),
            "--now",
            NOW,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest["counts"] == {"audience": 6, "planned": 5, "excluded": 1}
    assert manifest["excluded_by_reason"] == {"no_consent": 1}
    frame = pl.read_parquet(out / "plan.parquet")
    assert {
        "contact_id",
        "phone_e164",
        "variant",
        "text",
        "window_start_at",
        "window_end_at",
        "timezone",
        "idempotency_key",
    } <= set(frame.columns)
    assert pl.read_parquet(out / "exclusions.parquet").columns[1:3] == ["contact_id", "reason"]
    assert json.loads((out / "manifest.json").read_text())["plan_id"] == manifest["plan_id"]

    args = [
        "send",
        str(out),
        "--adapter",
        "outbox",
        "--warehouse",
        str(warehouse),
        "--now",
        "2025-03-03T10:00:00Z",
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["sent"], report["skipped"], report["failed"]) == (5, 0, 0)
    lines = [
        json.loads(line)
        for p in (out / "outbox").glob("*.jsonl")
        for line in p.read_text().splitlines()
    ]
    assert sorted(line["contact_id"] for line in lines) == [1, 2, 3, 4, 5]
    assert all(len(line["idempotency_key"]) == 32 for line in lines)
    again = json.loads(runner.invoke(app, args).stdout)
    assert (again["sent"], again["skipped"]) == (0, 5)
    assert report["warehouse"]["messages"] == 5 and again["warehouse"]["messages"] == 0


def said(result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def test_cli_errors_are_explained(app, setup, tmp_path):
    warehouse, campaign, out = setup
    runner = CliRunner()
    missing = runner.invoke(
        app,
        ["plan", str(campaign), "--warehouse", str(tmp_path / "none.duckdb"), "--out", str(out)],
    )
    assert missing.exit_code == 2 and "does not exist" in said(missing)
    runner.invoke(
        app, ["plan", str(campaign), "--warehouse", str(warehouse), "--out", str(out), "--now", NOW]
    )
    bad = runner.invoke(app, ["send", str(out), "--adapter", "carrier-pigeon", "--no-warehouse"])
    assert bad.exit_code == 2 and "unknown adapter" in said(bad)
    creds = runner.invoke(
        app,
        ["send", str(out), "--adapter", "kannel", "--no-warehouse"],
        env={"SMSANALYTICS_KANNEL_USER": ""},
    )
    assert creds.exit_code == 2 and "--kannel-user" in said(creds)
    not_a_plan = runner.invoke(app, ["send", str(tmp_path), "--no-warehouse"])
    assert not_a_plan.exit_code == 2 and "manifest.json" in said(not_a_plan)


def test_receipts_serve_runs_the_endpoint(app, setup):
    warehouse, campaign, out = setup
    runner = CliRunner()
    runner.invoke(
        app, ["plan", str(campaign), "--warehouse", str(warehouse), "--out", str(out), "--now", NOW]
    )
    result = runner.invoke(
        app,
        [
            "receipts",
            "serve",
            str(out),
            "--port",
            "0",
            "--duration",
            "0.3",
            "--warehouse",
            str(warehouse),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["url"].startswith("http://127.0.0.1:") and data["received"]["applied"] == 0


def test_campaign_rules_file_is_the_one_checked_at_send_time(app, setup, tmp_path):
    from smsanalytics.rules import SHIPPED_RULES

    warehouse, campaign, out = setup
    rules = tmp_path / "strict.toml"
    rules.write_text(
        SHIPPED_RULES.read_text().replace(
            'hours = ["08:00", "20:00"]', 'hours = ["11:00", "20:00"]'
        )
    )
    campaign.write_text(CAMPAIGN + '\n[rules]\nfile = "strict.toml"\n')
    runner = CliRunner()
    planned = runner.invoke(
        app,
        [
            "plan",
            str(campaign),
            "--warehouse",
            str(warehouse),
            "--out",
            str(out),
            "--now",
            NOW,
            "--json",
        ],
    )
    manifest = json.loads(planned.stdout)
    assert manifest["rules"]["origin"] == "campaign" and manifest["rules"]["source"] == str(rules)
    assert (
        pl.read_parquet(out / "plan.parquet").get_column("window_start_local").dt.hour().min() == 11
    )
    args = [
        "send",
        str(out),
        "--warehouse",
        str(warehouse),
        "--now",
        "2025-03-03T10:00:00Z",
        "--json",
    ]
    rules.write_text(rules.read_text() + "\n# edited after planning\n")
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "rules changed" in said(refused)
