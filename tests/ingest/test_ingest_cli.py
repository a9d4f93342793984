"""``smsanalytics ingest TABLE PATH``: JSON summary, --map (pairs or file), errors exit 2."""

from __future__ import annotations

import json

import pytest
import typer
from conftest import CONTACTS_CSV, FIXTURES
from typer.testing import CliRunner

from smsanalytics.cli.ingest import ingest, parse_mapping
from smsanalytics.ingest import IngestError
from smsanalytics.warehouse import Warehouse

app = typer.Typer()
app.command("ingest")(ingest)
app.command("noop")(lambda: None)  # two commands, so `ingest` is a sub-command as in the real CLI
runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no smsanalytics.toml here: defaults apply
    for key in (
        "SMSANALYTICS_CONFIG",
        "SMSANALYTICS_DEFAULT_REGION",
        "SMSANALYTICS_WAREHOUSE_PATH",
    ):
        monkeypatch.delenv(key, raising=False)
    return tmp_path


def _run(*args):
    return runner.invoke(app, ["ingest", *map(str, args)])


def test_ingest_cli_json_summary(env):
    (env / "contacts.csv").write_text(CONTACTS_CSV + "C9,12,Short\n", encoding="utf-8")
    db = env / "wh.duckdb"
    result = _run("contacts", env / "contacts.csv", "--warehouse", db, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["rows_loaded"], data["rows_quarantined"]) == (4, 1)
    assert data["quarantined_by_reason"] == {"phone_too_short": 1}
    with Warehouse(db, read_only=True) as wh:
        assert wh.counts()["contacts"] == 4


def test_ingest_cli_map_pairs_and_files(env):
    src = FIXTURES / "contacts_crm_export.csv"
    for i, mapping in enumerate(
        (
            "CustomerID=contact_id,Mobile=phone,First name=first_name,Language=language,Signup "
            "date=signup_at,Birthday=birthday",
            FIXTURES / "contacts_mapping.toml",
            FIXTURES / "contacts_mapping.json",
        )
    ):
        result = _run(
            "contacts",
            src,
            "--map",
            mapping,
            "--dayfirst",
            "--source-timezone",
            "Europe/Paris",
            "--warehouse",
            env / f"wh{i}.duckdb",
            "--json",
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["rows_loaded"] == 6


def test_ingest_cli_human_output(env):
    (env / "c.csv").write_text(CONTACTS_CSV, encoding="utf-8")
    result = _run("contacts", env / "c.csv", "--warehouse", env / "wh.duckdb")
    assert result.exit_code == 0, result.output
    assert "rows loaded" in result.stdout and "4" in result.stdout


def test_ingest_cli_missing_columns_exit_2_with_the_fix(env):
    (env / "c.csv").write_text("CustomerID,Mobile\nC1,0600000001\n", encoding="utf-8")
    result = _run("contacts", env / "c.csv", "--warehouse", env / "wh.duckdb", "--json")
    assert result.exit_code == 2
    assert "--map CustomerID=contact_id,Mobile=phone" in " ".join(result.output.split())


def test_ingest_cli_default_region(env):
    (env / "c.csv").write_text("contact_id,phone\nC1,(202) 555-0143\n", encoding="utf-8")
    result = _run(
        "contacts",
        env / "c.csv",
        "--default-region",
        "US",
        "--warehouse",
        env / "wh.duckdb",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_loaded"] == 1
    bad = _run(
        "contacts", env / "c.csv", "--default-region", "XX", "--warehouse", env / "wh2.duckdb"
    )
    assert bad.exit_code == 2


def test_ingest_cli_twilio(env):
    (env / "c.csv").write_text(
        "contact_id,phone\nC1,+33600000001\nC2,+33600000002\n", encoding="utf-8"
    )
    db = env / "wh.duckdb"
    assert _run("contacts", env / "c.csv", "--warehouse", db).exit_code == 0
    result = _run("twilio", FIXTURES / "twilio_message_log.csv", "--warehouse", db, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["table"] == "twilio" and set(data["tables"]) == {"messages", "receipts", "inbound"}


def test_ingest_cli_bad_format_and_missing_file(env):
    assert _run("contacts", env / "nope.csv", "--warehouse", env / "wh.duckdb").exit_code == 2
    assert _run("contacts", env / "nope.csv", "--format", "xlsx").exit_code == 2


def test_ingest_parse_mapping(tmp_path):
    assert parse_mapping(None) is None
    assert parse_mapping("A=phone, B = contact_id") == {"A": "phone", "B": "contact_id"}
    flat = tmp_path / "m.toml"
    flat.write_text('Mobile = "phone"\n', encoding="utf-8")
    assert parse_mapping(str(flat)) == {"Mobile": "phone"}
    with pytest.raises(IngestError, match="user_col=canonical"):
        parse_mapping("Mobile")
    with pytest.raises(IngestError, match="does not exist"):
        parse_mapping(str(tmp_path / "missing.json"))
