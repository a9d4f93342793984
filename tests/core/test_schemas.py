"""The canonical tables are defined once, and the data-model document is generated from them."""

from __future__ import annotations

from pathlib import Path

from smsanalytics import schemas
from smsanalytics.docgen import data_model_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_data_model_doc_is_in_sync_with_schemas():
    doc = (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert doc == data_model_markdown(), "run `make docs` to regenerate docs/data-model.md"


def test_naming_conventions():
    for t in schemas.DOCUMENTED_TABLES:
        for c in t.columns:
            assert c.name == c.name.lower()
            if c.sql_type == "TIMESTAMPTZ":
                assert c.name.endswith("_at"), c.name
            if c.sql_type == "BOOLEAN":
                assert c.name.startswith("is_"), c.name
        assert set(t.key) <= set(t.column_names)
        assert set(t.key) <= set(t.required_columns)
        assert set(t.cluster_by) <= set(t.column_names), t.name


def test_per_contact_event_tables_are_clustered_by_contact():
    """Per-contact aggregation reads these tables; their loads are stored by contact first."""
    for name in ("messages", "clicks", "inbound", "orders"):
        assert schemas.table(name).cluster_by[0] == "contact_id"
    assert schemas.cluster_order(schemas.table("orders")) == (
        " ORDER BY contact_id, ordered_at, order_id"
    )
    assert schemas.cluster_order(schemas.table("campaigns")) == ""


def test_only_contacts_hold_phone_numbers():
    phone_like = {
        (t.name, c.name) for t in schemas.ORDERED_TABLES for c in t.columns if "phone" in c.name
    }
    assert phone_like == {("contacts", "phone_e164"), ("contacts", "phone_type")}


def test_planned_sends_is_created_as_declared(tmp_path):
    """The ledger creates ``planned_sends`` from its declaration, on first use only."""
    from smsanalytics.adapters.ledger import ensure_planned_sends
    from smsanalytics.warehouse import Warehouse

    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert "planned_sends" not in {r[0] for r in wh.con.execute("SHOW TABLES").fetchall()}
        assert ensure_planned_sends(wh)
        described = wh.con.execute("DESCRIBE planned_sends").fetchall()
    t = schemas.PLANNED_SENDS
    spelled = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}  # DuckDB's DESCRIBE spelling
    assert [(r[0], r[1], r[2]) for r in described] == [
        (c.name, spelled.get(c.sql_type, c.sql_type), "NO" if c.required else "YES")
        for c in t.columns
    ]
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        assert ensure_planned_sends(wh)  # there now, read-only is fine
