"""ingest_file end to end: contacts ids, mapping, Parquet, every event table, opt-outs, re-loads."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from conftest import FIXTURES, quarantine_rows

from smsanalytics.ingest import SPECS, ingest_file

UTC = dt.UTC


def test_ingest_crm_export_with_mapping(wh):
    mapping = {
        "CustomerID": "contact_id",
        "Mobile": "phone",
        "First name": "first_name",
        "Language": "language",
        "Signup date": "signup_at",
        "Birthday": "birthday",
    }
    report = ingest_file(
        wh,
        "contacts",
        FIXTURES / "contacts_crm_export.csv",
        mapping=mapping,
        dayfirst=True,
        source_timezone="Europe/Paris",
    )
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (6, 6, 0)
    c = {r["external_id"]: r for r in wh.table("contacts").to_dicts()}
    assert [c[k]["phone_e164"] for k in ("C001", "C002", "C003", "C004")] == [
        "+33600000001",
        "+33600000002",
        "+33600000003",
        "+33600000004",
    ]
    assert c["C005"]["phone_e164"] == "+12025550143" and c["C005"]["timezone"] == "America/New_York"
    assert c["C006"]["phone_type"] == "fixed_line"  # landlines are kept; planning excludes them
    assert c["C001"]["signup_at"] == dt.datetime(2023, 2, 1, 9, 15, tzinfo=UTC)  # 10:15 Paris
    assert c["C001"]["birthday"] == dt.date(1990, 5, 17)
    assert c["C003"]["language"] == "fr"
    assert json.loads(c["C001"]["attributes"]) == {"City": "Lyon", "Loyalty tier": "gold"}
    assert {r["timezone_source"] for r in c.values()} == {"number"}
    assert sorted(r["contact_id"] for r in c.values()) == [1, 2, 3, 4, 5, 6]


def test_ingest_column_names_match_ignoring_case_and_spaces(wh, write):
    path = write("c.csv", "Contact ID,Phone,First Name\nC1,0600000001,Zoé\n")
    report = ingest_file(wh, "contacts", path)
    assert report.rows_loaded == 1
    assert wh.table("contacts")["first_name"].to_list() == ["Zoé"]


def test_ingest_existing_contacts_keep_their_ids(wh_contacts, write):
    before = {r["external_id"]: r["contact_id"] for r in wh_contacts.table("contacts").to_dicts()}
    text = "contact_id,phone\nC2,06 00 00 00 02\nC5,+33600000005\nC1,+33 6 00 00 00 01\n"
    report = ingest_file(wh_contacts, "contacts", write("more.csv", text))
    assert (report.rows_loaded, report.rows_duplicate, report.rows_quarantined) == (1, 2, 0)
    after = {r["external_id"]: r["contact_id"] for r in wh_contacts.table("contacts").to_dicts()}
    assert {k: after[k] for k in before} == before
    assert after["C5"] == max(before.values()) + 1


def test_ingest_phone_like_extra_columns_are_dropped(wh, write):
    text = (
        "contact_id,phone,Home phone,notes,ref\n"
        "C1,0600000001,01 99 00 00 01,VIP,12\n"
        "C2,0600000002,,,13\n"
    )
    report = ingest_file(wh, "contacts", write("c.csv", text))
    assert report.dropped_columns == ("Home phone",)
    attrs = [json.loads(a) for a in wh.table("contacts").sort("external_id")["attributes"]]
    assert attrs == [{"notes": "VIP", "ref": "12"}, {"notes": None, "ref": "13"}]


def test_ingest_phone_like_values_under_an_innocent_name_are_dropped(wh, write):
    text = (
        "contact_id,phone,backup\nC1,0600000001,+33 6 00 00 00 09\nC2,0600000002,06 00 00 00 08\n"
    )
    report = ingest_file(wh, "contacts", write("c.csv", text))
    assert report.dropped_columns == ("backup",)


def test_ingest_parquet_with_canonical_columns(wh, tmp_path):
    # The demo generator writes canonical columns; the warehouse-style integer ids are ignored.
    frame = pl.DataFrame(
        {
            "contact_id": [10, 11],
            "external_id": ["E10", "E11"],
            "phone_e164": ["+33600000010", "+33600000011"],
            "timezone": ["Europe/Paris", None],
            "signup_at": [dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 2, 10)],
            "birthday": [dt.date(1990, 1, 1), None],
            "points": [5, 0],
            "consent_at": [dt.datetime(2024, 1, 1, 10, tzinfo=UTC), None],
        }
    )
    path = tmp_path / "contacts.parquet"
    frame.write_parquet(path)
    report = ingest_file(wh, "contacts", path)
    assert (report.format, report.rows_loaded) == ("parquet", 2)
    assert any("ignored" in w for w in report.warnings)
    c = wh.table("contacts").sort("external_id").to_dicts()
    assert [r["external_id"] for r in c] == ["E10", "E11"]
    assert [r["contact_id"] for r in c] == [1, 2]
    assert c[0]["timezone_source"] == "explicit" and c[1]["timezone_source"] == "number"
    assert c[0]["signup_at"] == dt.datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert c[0]["points"] == 5


def test_ingest_every_table_has_a_spec():
    assert set(SPECS) == {
        "contacts",
        "campaigns",
        "messages",
        "assignments",
        "receipts",
        "clicks",
        "inbound",
        "orders",
    }


def test_ingest_messages_receipts_clicks(wh_messages, write):
    wh = wh_messages
    messages = wh.table("messages").sort("provider_message_id")
    assert messages["message_id"].to_list() == [1, 2, 3]
    assert messages["contact_id"].to_list() == [1, 2, 3]
    receipts = (
        "message_id,status,status_at,error_code\n"
        "M1,sent,2024-03-01T10:00:01Z,\n"
        "M1,delivered,2024-03-01T10:00:05Z,\n"
        "M2,undelivered,2024-03-01T10:00:09Z,30003.0\n"
    )
    report = ingest_file(wh, "receipts", write("receipts.csv", receipts))
    assert report.rows_loaded == 3
    assert sorted(wh.table("receipts")["error_code"].drop_nulls().to_list()) == ["30003"]
    clicks = (
        "message_id,clicked_at,url,user_agent\n"
        # 1 s after the send: a preview
        "M1,2024-03-01T10:00:01Z,https://shop.example/a,Mozilla/5.0 (iPhone)\n"
        "M1,2024-03-01T10:20:00Z,https://shop.example/a,Mozilla/5.0 (iPhone)\n"
        "M3,2024-03-01T10:25:00Z,https://shop.example/b,facebookexternalhit/1.1\n"
    )
    report = ingest_file(wh, "clicks", write("clicks.csv", clicks))
    assert report.rows_loaded == 3
    c = wh.table("clicks").sort("clicked_at")
    assert c["is_bot"].to_list() == [True, False, True]
    assert c["contact_id"].to_list() == [1, 1, 3]


def test_ingest_messages_without_provider_id_are_matched_on_reload(wh_contacts, write):
    text = (
        "contact_id,campaign_id,variant,sent_at\n"
        "C1,spring,A,2024-03-01 10:00\n"
        "C2,spring,B,2024-03-01 10:00\n"
    )
    first = ingest_file(wh_contacts, "messages", write("a.csv", text))
    second = ingest_file(
        wh_contacts, "messages", write("b.csv", text + "C3,spring,A,2024-03-01 10:00\n")
    )
    assert (first.rows_loaded, second.rows_loaded, second.rows_duplicate) == (2, 1, 2)
    assert wh_contacts.table("messages")["message_id"].sort().to_list() == [1, 2, 3]


def test_ingest_orders_campaigns_assignments(wh_contacts, write):
    wh = wh_contacts
    ingest_file(
        wh,
        "campaigns",
        write(
            "c.csv",
            "campaign_id,name,kind,created_at,holdout_share\nspring,Spring "
            "sale,Promotional,2024-02-01,10%\n",
        ),
    )
    assert wh.table("campaigns").row(0, named=True)["holdout_share"] == pytest.approx(0.1)
    report = ingest_file(
        wh,
        "assignments",
        write(
            "a.csv",
            "campaign_id,contact_id,variant,assigned_at\nspring,C1,A,2024-03-01\nspring,C2,control,2024-03-01\n",
        ),
    )
    assert report.rows_loaded == 2
    assert wh.table("assignments").sort("contact_id")["is_holdout"].to_list() == [False, True]
    report = ingest_file(
        wh,
        "orders",
        write(
            "o.csv",
            "order_id,phone,ordered_at,amount,currency\nO1,06 00 00 00 01,2024-03-02 "
            '10:00,"49,90",eur\n',
        ),
    )
    assert report.rows_loaded == 1
    assert wh.table("orders").row(0, named=True) == {
        "order_id": "O1",
        "contact_id": 1,
        "ordered_at": dt.datetime(2024, 3, 2, 10, tzinfo=UTC),
        "amount": 49.9,
        "currency": "EUR",
    }


def test_ingest_unmapped_event_columns_are_ignored_and_listed(wh_contacts, write):
    report = ingest_file(
        wh_contacts,
        "orders",
        write("o.csv", "order_id,contact_id,ordered_at,amount,shop\nO1,C1,2024-03-02,10,Lyon\n"),
    )
    assert report.ignored_columns == ("shop",)


def test_ingest_inbound_stop_sets_opted_out_at_earliest_after_last_start(wh_contacts, write):
    wh = wh_contacts
    text = (
        "contact_id,received_at,body\n"
        "C1,2024-03-02T10:00:00Z,STOP\n"
        "C1,2024-03-01T10:00:00Z,stop please\n"  # earlier STOP: the earliest counts
        "C2,2024-03-01T10:00:00Z,STOP\n"
        "C2,2024-03-03T10:00:00Z,START\n"  # opted in again
        "C3,2024-03-01T10:00:00Z,Start over tomorrow?\n"  # not a START
        "C4,2024-03-01T10:00:00Z,HELP\n"
    )
    report = ingest_file(wh, "inbound", write("in.csv", text))
    assert (report.rows_loaded, report.contacts_opted_out, report.contacts_opted_in) == (6, 1, 0)
    out = dict(wh.table("contacts").select("external_id", "opted_out_at").iter_rows())
    assert out == {
        "C1": dt.datetime(2024, 3, 1, 10, tzinfo=UTC),
        "C2": None,
        "C3": None,
        "C4": None,
    }
    keywords = wh.table("inbound").sort("contact_id", "received_at")["keyword"].to_list()
    assert keywords == ["STOP", "STOP", "STOP", "START", None, "HELP"]
    # a later START re-subscribes C1; a later STOP after that counts from there
    ingest_file(
        wh,
        "inbound",
        write("in2.csv", "contact_id,received_at,body\nC1,2024-03-05T10:00:00Z,START\n"),
    )
    assert (
        dict(wh.table("contacts").select("external_id", "opted_out_at").iter_rows())["C1"] is None
    )
    r = ingest_file(
        wh,
        "inbound",
        write("in3.csv", "contact_id,received_at,body\nC1,2024-03-07T10:00:00Z,Arrêt\n"),
    )
    assert r.contacts_opted_out == 1
    assert dict(wh.table("contacts").select("external_id", "opted_out_at").iter_rows())[
        "C1"
    ] == dt.datetime(2024, 3, 7, 10, tzinfo=UTC)


def test_ingest_opt_out_changes_mark_the_warehouse_changed(wh_contacts, write, monkeypatch):
    """contacts.opted_out_at is updated by SQL, not Warehouse.load: the warehouse must be told
    (mark_changed) once more than the load itself tells it, or the Spark engine would answer
    from its stale export. A reply that changes no contact (HELP) adds no call."""
    calls = []
    monkeypatch.setattr(wh_contacts, "mark_changed", lambda: calls.append("changed"))

    def ingest(name: str, body: str) -> int:
        calls.clear()
        line = f"contact_id,received_at,body\nC1,2024-03-0{len(name)}T10:00:00Z,{body}\n"
        ingest_file(wh_contacts, "inbound", write(name, line))
        return len(calls)

    by_load = ingest("h.csv", "HELP")
    assert ingest("ss.csv", "STOP") == by_load + 1


def test_ingest_opt_out_from_contacts_export_is_kept(wh, write):
    ingest_file(
        wh,
        "contacts",
        write("c.csv", "contact_id,phone,opted_out_at\nC1,0600000001,2024-01-01T00:00:00Z\n"),
    )
    ingest_file(
        wh, "inbound", write("i.csv", "contact_id,received_at,body\nC1,2024-02-01T00:00:00Z,STOP\n")
    )
    assert wh.table("contacts")["opted_out_at"].to_list() == [dt.datetime(2024, 1, 1, tzinfo=UTC)]


def test_ingest_reload_is_a_noop_and_overlap_is_duplicate(wh_contacts, write):
    path = write(
        "o.csv", "order_id,contact_id,ordered_at,amount\nO1,C1,2024-03-02,10\nO2,C2,2024-03-02,20\n"
    )
    first = ingest_file(wh_contacts, "orders", path)
    counts = wh_contacts.counts()
    again = ingest_file(wh_contacts, "orders", path)
    assert again.already_loaded and wh_contacts.counts() == counts
    assert again.rows_read == first.rows_read
    overlap = ingest_file(
        wh_contacts,
        "orders",
        write(
            "o2.csv",
            "order_id,contact_id,ordered_at,amount\nO2,C2,2024-03-02,20\nO3,C3,2024-03-02,30\n",
        ),
    )
    assert (overlap.rows_loaded, overlap.rows_duplicate) == (1, 1)


def test_ingest_progress_stages(wh, write):
    stages = []
    ingest_file(
        wh, "contacts", write("c.csv", "contact_id,phone\nC1,0600000001\n"), progress=stages.append
    )
    assert stages == ["read", "validate", "load"]


def test_ingest_report_is_frozen_and_quarantine_rows_name_the_source(wh, write):
    report = ingest_file(wh, "contacts", write("c.csv", "contact_id,phone\nC1,12\n"))
    with pytest.raises(AttributeError):
        report.rows_loaded = 5  # type: ignore[misc]
    (row,) = quarantine_rows(wh)
    assert row["source"] == report.source and row["load_id"] == report.tables["contacts"].load_id


def test_ingest_force_loads_rows_quarantined_for_missing_contacts(wh_contacts, write):
    wh = wh_contacts
    orders = write(
        "o.csv", "order_id,contact_id,ordered_at,amount\nO1,C1,2024-03-02,10\nO2,C7,2024-03-02,20\n"
    )
    first = ingest_file(wh, "orders", orders)
    assert first.quarantined_by_reason == {"unknown_contact": 1}
    ingest_file(wh, "contacts", write("c7.csv", "contact_id,phone\nC7,0600000007\n"))
    assert ingest_file(wh, "orders", orders).already_loaded  # same content: a no-op ...
    again = ingest_file(wh, "orders", orders, force=True)  # ... unless forced
    assert (again.rows_loaded, again.rows_duplicate, again.rows_quarantined) == (1, 1, 0)
    assert sorted(wh.table("orders")["order_id"].to_list()) == ["O1", "O2"]
    assert [r for r in quarantine_rows(wh) if r["table_name"] == "orders"] == []
    hashes = wh.table("loads").filter(pl.col("table_name") == "orders")["sha256"].to_list()
    assert hashes == [first.sha256, first.sha256]
    assert ingest_file(wh, "orders", orders).already_loaded
