"""Fixtures for the ingest tests: an in-memory warehouse, file writers, pre-loaded contacts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from smsanalytics.ingest import ingest_file
from smsanalytics.warehouse import Warehouse

FIXTURES = Path(__file__).parent / "fixtures"

#: Contacts used by the event-table tests (fictional numbers: +33 6 00 00 00 xx, US 555-01xx).
CONTACTS_CSV = (
    "contact_id,phone,first_name\n"
    "C1,+33600000001,Renée\n"
    "C2,+33600000002,Jean\n"
    "C3,+33600000003,Zoé\n"
    "C4,+12025550143,Sam\n"
)
MESSAGES_CSV = (
    "message_id,contact_id,campaign_id,variant,sent_at,segments,cost,currency\n"
    "M1,C1,spring,A,2024-03-01T10:00:00Z,1,0.05,EUR\n"
    "M2,C2,spring,B,2024-03-01T10:00:00Z,1,0.05,EUR\n"
    "M3,C3,spring,A,2024-03-01T10:00:00Z,2,0.10,EUR\n"
)


@pytest.fixture
def wh() -> Warehouse:
    warehouse = Warehouse(":memory:")
    yield warehouse
    warehouse.close()


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write(name, text_or_bytes, encoding="utf-8") -> path in a temporary folder."""

    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
        return path

    return _write


@pytest.fixture
def wh_contacts(wh: Warehouse, write: Callable[..., Path]) -> Warehouse:
    report = ingest_file(wh, "contacts", write("contacts.csv", CONTACTS_CSV))
    assert report.rows_loaded == 4
    return wh


@pytest.fixture
def wh_messages(wh_contacts: Warehouse, write: Callable[..., Path]) -> Warehouse:
    report = ingest_file(wh_contacts, "messages", write("messages.csv", MESSAGES_CSV))
    assert report.rows_loaded == 3
    return wh_contacts


def quarantine_rows(wh: Warehouse) -> list[dict]:
    """The quarantine table as dicts, ordered by table and row."""
    return wh.table("quarantine").sort("table_name", "row_number", "reason").to_dicts()


def snapshot(wh: Warehouse) -> dict[str, list[dict]]:
    """Every table's full contents (sorted rows), for before/after comparisons."""
    out = {}
    for name in wh.counts():
        frame = wh.table(name)
        if "quarantined_at" in frame.columns:
            frame = frame.drop("quarantined_at")
        if "loaded_at" in frame.columns:
            frame = frame.drop("loaded_at")
        out[name] = frame.sort(frame.columns).to_dicts()
    return out


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def assert_no_phone(text: str | None, phones: list[str]) -> None:
    """No phone number of ``phones`` appears (digits compared, separators ignored) in ``text``."""
    flat = digits(text)
    for phone in phones:
        d = digits(phone)
        if len(d) >= 6:
            assert d not in flat and d[-9:] not in flat, (
                f"phone number {phone!r} leaked into {text!r}"
            )


def raw_json(row: dict) -> dict:
    return json.loads(row["raw"]) if row["raw"] else {}
