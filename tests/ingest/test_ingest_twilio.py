"""A Twilio message-log export → messages, receipts, inbound and opt-outs."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import FIXTURES, assert_no_phone, quarantine_rows

from smsanalytics.ingest import IngestError, MissingColumnsError, ingest_file, ingest_twilio_log

LOG = FIXTURES / "twilio_message_log.csv"
UTC = dt.UTC
CONTACTS = (
    "contact_id,phone\n"
    "C1,+33600000001\nC2,+33600000002\nC3,+33600000003\nC4,+33600000004\nC5,+12025550143\n"
)


@pytest.fixture
def wh5(wh, write):
    ingest_file(wh, "contacts", write("contacts.csv", CONTACTS))
    return wh


def test_ingest_twilio_log_fills_three_tables(wh5):
    report = ingest_twilio_log(wh5, LOG)
    assert report.table == "twilio" and report.format == "twilio"
    assert report.rows_read == 13
    assert {t: r.rows_loaded for t, r in report.tables.items()} == {
        "messages": 6,
        "receipts": 6,
        "inbound": 5,
    }
    assert report.quarantined_by_reason == {"message_not_sent": 1, "unknown_contact": 1}
    assert report.rows_read == report.rows_loaded + report.rows_duplicate + report.rows_quarantined
    assert set(report.ignored_columns) == {"ApiVersion", "AccountSid"}

    msgs = {r["provider_message_id"]: r for r in wh5.table("messages").to_dicts()}
    first = msgs["SM00000000000000000000000000000001"]
    assert first["contact_id"] == 1 and first["sent_at"] == dt.datetime(
        2024, 3, 1, 14, 5, tzinfo=UTC
    )
    assert first["cost"] == pytest.approx(0.071) and first["currency"] == "EUR"  # cost = -Price
    assert msgs["SM00000000000000000000000000000003"]["segments"] == 2
    assert (
        msgs["SM00000000000000000000000000000012"]["contact_id"] == 2
    )  # outbound-reply is outbound

    receipts = {r["message_id"]: r for r in wh5.table("receipts").to_dicts()}
    failed = receipts[msgs["SM00000000000000000000000000000004"]["message_id"]]
    assert (failed["status"], failed["error_code"]) == ("failed", "30007")
    assert (
        receipts[msgs["SM00000000000000000000000000000002"]["message_id"]]["status"]
        == "undelivered"
    )

    inbound = wh5.table("inbound").sort("received_at").to_dicts()
    assert [(r["contact_id"], r["keyword"]) for r in inbound] == [
        (2, "STOP"),
        (3, "STOP"),
        (1, None),
        (3, "START"),
        (4, "HELP"),
    ]
    opted = dict(wh5.table("contacts").select("external_id", "opted_out_at").iter_rows())
    assert opted["C2"] == dt.datetime(2024, 3, 1, 14, 20, 11, tzinfo=UTC)
    assert opted["C3"] is None  # ARRÊT then START
    assert report.contacts_opted_out == 1


def test_ingest_twilio_unknown_numbers_are_quarantined_not_created(wh5):
    ingest_twilio_log(wh5, LOG)
    assert wh5.counts()["contacts"] == 5
    rows = {r["reason"]: r for r in quarantine_rows(wh5)}
    unknown = rows["unknown_contact"]
    assert (unknown["table_name"], unknown["row_number"], unknown["column_name"]) == (
        "messages",
        5,
        "To",
    )
    assert '"To": "+•••••••••99"' in unknown["raw"]
    not_sent = rows["message_not_sent"]
    assert (not_sent["row_number"], not_sent["column_name"]) == (6, "SentDate")
    for r in quarantine_rows(wh5):
        assert_no_phone(r["raw"], ["+33600000099", "+33757000001", "+33600000004"])


def test_ingest_twilio_business_numbers_are_not_stored(wh5):
    ingest_twilio_log(wh5, LOG)
    for name in ("messages", "receipts", "inbound", "loads"):
        text = wh5.table(name).write_csv()
        assert "757000001" not in text


def test_ingest_twilio_is_detected_and_idempotent(wh5):
    report = ingest_file(wh5, "messages", LOG)  # auto-detected from the header
    assert report.table == "twilio"
    counts = wh5.counts()
    again = ingest_file(wh5, "twilio", LOG)
    assert again.already_loaded and wh5.counts() == counts


def test_ingest_twilio_log_for_contacts_is_refused(wh5):
    with pytest.raises(IngestError, match="Twilio message log"):
        ingest_file(wh5, "contacts", LOG)


def test_ingest_twilio_missing_columns(wh5, write):
    path = write(
        "log.csv",
        "From,To,Body,Status,Sid,Direction\n+33600000001,+33757000001,hi,received,SM1,inbound\n",
    )
    with pytest.raises(MissingColumnsError, match="SentDate"):
        ingest_twilio_log(wh5, path)


def test_ingest_twilio_positive_price_and_bad_rows(wh5, write):
    text = (
        "From,To,Body,Status,SentDate,NumSegments,ErrorCode,Sid,Direction,Price,PriceUnit\n"
        "+33757000001,+33600000001,Hi,delivered,2024-03-01T10:00:00Z,1,,SMa,outbound-api,0.05,EUR\n"
        "+33757000001,+33600000002,Hi,delivered,2024-03-01T10:00:00Z,1,,SMb,sideways,-0.05,EUR\n"
        "+33757000001,+33600000003,Hi,teleported,2024-03-01T10:00:00Z,1,,SMc,outbound-api,-0.05,EUR\n"
    )
    report = ingest_twilio_log(wh5, write("log.csv", text))
    assert report.flagged_by_reason == {"positive_price": 1}
    assert report.quarantined_by_reason == {"invalid_status": 1, "invalid_value": 1}
    msgs = {r["provider_message_id"]: r for r in wh5.table("messages").to_dicts()}
    assert msgs["SMa"]["cost"] is None
    assert set(msgs) == {"SMa", "SMc"}  # SMc loaded without a receipt
    assert report.tables["receipts"].rows_loaded == 1
