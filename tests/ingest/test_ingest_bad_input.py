"""Every class of bad input: quarantined with a reason (or a specific error), never dropped.

Each row-level case writes a small file with good rows and one bad row, ingests it, and checks the
quarantine row: table, source, 1-based row number, the user's column name, the reason code, a
detail sentence, the raw row as JSON with phone numbers masked, and that every source row is
accounted for (read = loaded + duplicate + quarantined).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import pytest
from conftest import CONTACTS_CSV, assert_no_phone, quarantine_rows

from smsanalytics.ingest import (
    REASONS,
    IngestError,
    InvalidHeaderError,
    MappingError,
    MissingColumnsError,
    UnknownTableError,
    UnreadableFileError,
    ingest_file,
)

C = "contact_id,phone,first_name,signup_at,birthday,points,language\n"
GOOD = "C1,+33600000001,Renée,2024-01-05 10:00,1990-05-17,10,fr\n"


@dataclass(frozen=True)
class Case:
    id: str
    reason: str
    table: str
    text: str
    row: int
    column: str | None
    setup: str = "wh"  # wh (empty) | wh_contacts | wh_messages
    options: dict = field(default_factory=dict)
    loaded: int | None = None


CASES = [
    # -- contacts: identity and phone numbers ----------------------------------------------
    Case(
        "empty contact id",
        "missing_value",
        "contacts",
        C + GOOD + ",+33600000002,Jean,,,,\n",
        2,
        "contact_id",
        loaded=1,
    ),
    Case(
        "empty phone",
        "missing_value",
        "contacts",
        C + GOOD + "C2,,Jean,,,,\n",
        2,
        "phone",
        loaded=1,
    ),
    Case(
        "invalid number",
        "invalid_phone",
        "contacts",
        C + GOOD + "C2,+1 555 123 4567,Sam,,,,\n",
        2,
        "phone",
        loaded=1,
    ),
    Case(
        "too short",
        "phone_too_short",
        "contacts",
        C + GOOD + "C2,12345,Jean,,,,\n",
        2,
        "phone",
        loaded=1,
    ),
    Case(
        "too long",
        "phone_too_long",
        "contacts",
        C + GOOD + "C2,+33 6 00 00 00 02 23 45,Jean,,,,\n",
        2,
        "phone",
        loaded=1,
    ),
    Case(
        "letters",
        "letters_in_phone",
        "contacts",
        C + GOOD + "C2,06 00 CALL ME,Jean,,,,\n",
        2,
        "phone",
        loaded=1,
    ),
    Case(
        "no such country code",
        "invalid_country_code",
        "contacts",
        C + GOOD + "C2,+999 123456789,Jean,,,,\n",
        2,
        "phone",
        loaded=1,
    ),
    Case(
        "scientific notation",
        "spreadsheet_scientific_notation",
        "contacts",
        C + GOOD + "C2,3.36E+10,Jean,,,,\n",
        2,
        "phone",
        loaded=1,
    ),
    Case(
        "lost leading zero (Italy)",
        "lost_leading_zero",
        "contacts",
        C.replace("\n", "") + "\nC1,3123456789,Lia,,,,\nC2,612345678,Gio,,,,\n",
        2,
        "phone",
        options={"default_region": "IT"},
        loaded=1,
    ),
    Case(
        "same number, other format",
        "duplicate_contact",
        "contacts",
        C + GOOD + "C2,+33 (0)6 00 00 00 01,Jean,,,,\n",
        2,
        "phone",
        loaded=1,
    ),
    Case(
        "same contact id twice",
        "duplicate_external_id",
        "contacts",
        C + GOOD + "C1,+33600000002,Jean,,,,\n",
        2,
        "contact_id",
        loaded=1,
    ),
    Case(
        "contact id in warehouse, new number",
        "contact_changed",
        "contacts",
        C + "C1,+33600000009,Renée,,,,\n",
        1,
        "phone",
        setup="wh_contacts",
        loaded=0,
    ),
    Case(
        "number of another warehouse contact",
        "duplicate_contact",
        "contacts",
        C + "C9,06 00 00 00 02,Jeanne,,,,\n",
        1,
        "phone",
        setup="wh_contacts",
        loaded=0,
    ),
    Case(
        "invalid json attributes",
        "invalid_attributes",
        "contacts",
        'contact_id,phone,attributes\nC1,+33600000001,"{""city"": ""Lyon""}"\nC2,+33600000002,{not '
        "json\n",
        2,
        "attributes",
        loaded=1,
    ),
    # -- contacts: other values ---------------------------------------------------------
    Case(
        "unreadable opt-out time",
        "invalid_timestamp",
        "contacts",
        "contact_id,phone,opted_out_at\nC1,+33600000001,\nC2,+33600000002,32/13/2024 10:00\n",
        2,
        "opted_out_at",
        loaded=1,
    ),
    Case(
        "placeholder opt-out time",
        "absurd_timestamp",
        "contacts",
        "contact_id,phone,opted_out_at\nC1,+33600000001,\nC2,+33600000002,1900-01-01 00:00\n",
        2,
        "opted_out_at",
        loaded=1,
    ),
    Case(
        "NUL byte",
        "control_characters",
        "contacts",
        C + GOOD + "C2,+33600000002,Je\x00an,,,,\n",
        2,
        "first_name",
        loaded=1,
    ),
    Case(
        "ragged row",
        "ragged_row",
        "contacts",
        C + GOOD + "C2,+33600000002,Jean,Paris,France,,,,\n",
        2,
        None,
        loaded=1,
    ),
    # -- event tables ---------------------------------------------------------------------
    Case(
        "unknown contact id",
        "unknown_contact",
        "orders",
        "order_id,contact_id,ordered_at,amount,currency\nO1,C1,2024-03-02 "
        "10:00,49.90,EUR\nO2,C99,2024-03-02 11:00,10,EUR\n",
        2,
        "contact_id",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "unknown phone",
        "unknown_contact",
        "inbound",
        "phone,received_at,body\n+33600000001,2024-03-02T10:00:00Z,Merci\n"
        "+33600000099,2024-03-02T11:00:00Z,Qui ?\n",
        2,
        "phone",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "invalid phone in an event file",
        "phone_too_short",
        "inbound",
        "phone,received_at,body\n+33600000001,2024-03-02T10:00:00Z,Merci\n"
        "0600,2024-03-02T11:00:00Z,Qui ?\n",
        2,
        "phone",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "unreadable event time",
        "invalid_timestamp",
        "orders",
        "order_id,contact_id,ordered_at,amount\nO1,C1,2024-03-02 10:00,49.90\nO2,C2,yesterday,10\n",
        2,
        "ordered_at",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "local time skipped by DST",
        "nonexistent_local_time",
        "inbound",
        "contact_id,received_at,body\nC1,2024-03-02 10:00,Merci\nC2,2024-03-31 02:30,Hello\n",
        2,
        "received_at",
        setup="wh_contacts",
        options={"source_timezone": "Europe/Paris"},
        loaded=1,
    ),
    Case(
        "missing event time",
        "missing_value",
        "orders",
        "order_id,contact_id,ordered_at,amount\nO1,C1,2024-03-02 10:00,49.90\nO2,C2,,10\n",
        2,
        "ordered_at",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "event in the future",
        "absurd_timestamp",
        "inbound",
        "contact_id,received_at,body\nC1,2024-03-02T10:00:00Z,Merci\nC2,2999-01-01T00:00:00Z,Hello\n",
        2,
        "received_at",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "negative amount",
        "negative_amount",
        "orders",
        "order_id,contact_id,ordered_at,amount\nO1,C1,2024-03-02 10:00,49.90\nO2,C2,2024-03-02 "
        "11:00,-10\n",
        2,
        "amount",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "absurd amount",
        "absurd_amount",
        "orders",
        "order_id,contact_id,ordered_at,amount\nO1,C1,2024-03-02 10:00,49.90\nO2,C2,2024-03-02 "
        "11:00,2000000\n",
        2,
        "amount",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "non-numeric amount",
        "invalid_number",
        "orders",
        "order_id,contact_id,ordered_at,amount\nO1,C1,2024-03-02 10:00,49.90\nO2,C2,2024-03-02 "
        "11:00,12 euros\n",
        2,
        "amount",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "unknown currency",
        "invalid_currency",
        "orders",
        "order_id,contact_id,ordered_at,amount,currency\nO1,C1,2024-03-02 "
        "10:00,49.90,EUR\nO2,C2,2024-03-02 11:00,10,EURO\n",
        2,
        "currency",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "cancelled order",
        "cancelled_order",
        "orders",
        "order_id,contact_id,ordered_at,amount,status\nO1,C1,2024-03-02 "
        "10:00,49.90,paid\nO2,C2,2024-03-02 11:00,10,Cancelled\n",
        2,
        "status",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "duplicate row",
        "duplicate_row",
        "orders",
        "order_id,contact_id,ordered_at,amount\nO1,C1,2024-03-02 "
        "10:00,49.90\nO1,C1,2024-03-02T10:00:00Z,49.9\n",
        2,
        None,
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "duplicate key, other values",
        "duplicate_key",
        "orders",
        "order_id,contact_id,ordered_at,amount\nO1,C1,2024-03-02 10:00,49.90\nO1,C1,2024-03-02 "
        "10:00,59.90\n",
        2,
        "order_id",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "invalid boolean",
        "invalid_boolean",
        "assignments",
        "campaign_id,contact_id,variant,is_holdout,assigned_at\nspring,C1,A,false,2024-03-01\nspring,C2,control,maybe,2024-03-01\n",
        2,
        "is_holdout",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "unknown message",
        "unknown_message",
        "receipts",
        "message_id,status,status_at\nM1,delivered,2024-03-01T10:00:05Z\nM99,delivered,2024-03-01T10:00:05Z\n",
        2,
        "message_id",
        setup="wh_messages",
        loaded=1,
    ),
    Case(
        "unknown delivery status",
        "invalid_status",
        "receipts",
        "message_id,status,status_at\nM1,delivered,2024-03-01T10:00:05Z\nM2,bogus,2024-03-01T10:00:05Z\n",
        2,
        "status",
        setup="wh_messages",
        loaded=1,
    ),
    Case(
        "click by someone else",
        "contact_mismatch",
        "clicks",
        "message_id,contact_id,clicked_at\nM1,C1,2024-03-01T10:30:00Z\nM1,C2,2024-03-01T10:31:00Z\n",
        2,
        "contact_id",
        setup="wh_messages",
        loaded=1,
    ),
    Case(
        "click before the send",
        "click_before_send",
        "clicks",
        "message_id,clicked_at\nM1,2024-03-01T10:30:00Z\nM2,2024-03-01T09:00:00Z\n",
        2,
        "clicked_at",
        setup="wh_messages",
        loaded=1,
    ),
    Case(
        "segments out of range",
        "out_of_range",
        "messages",
        "message_id,contact_id,sent_at,segments\nK1,C1,2024-03-01T10:00:00Z,1\nK2,C2,2024-03-01T10:00:00Z,0\n",
        2,
        "segments",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "unknown encoding",
        "invalid_value",
        "messages",
        "message_id,contact_id,sent_at,encoding\nK1,C1,2024-03-01T10:00:00Z,GSM-7\nK2,C2,2024-03-01T10:00:00Z,klingon\n",
        2,
        "encoding",
        setup="wh_contacts",
        loaded=1,
    ),
    Case(
        "message cost absurd",
        "absurd_amount",
        "messages",
        "message_id,contact_id,sent_at,cost\nK1,C1,2024-03-01T10:00:00Z,0.05\nK2,C2,2024-03-01T10:00:00Z,500\n",
        2,
        "cost",
        setup="wh_contacts",
        loaded=1,
    ),
]


def _phones(text: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text)))
    found = [v for r in rows for k, v in r.items() if k and "phone" in k.lower() and v]
    found += [line.split(",")[1] for line in CONTACTS_CSV.splitlines()[1:]]
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.reason}-{c.id}")
def test_ingest_bad_input_is_quarantined(case: Case, request, write):
    wh = request.getfixturevalue(case.setup)
    path = write(f"{case.table}.csv", case.text)
    report = ingest_file(wh, case.table, path, **case.options)

    assert report.quarantined_by_reason.get(case.reason, 0) >= 1, report.quarantined_by_reason
    rows = [
        r
        for r in quarantine_rows(wh)
        if r["source"] == report.source and r["reason"] == case.reason
    ]
    match = [r for r in rows if r["row_number"] == case.row]
    assert match, rows
    row = match[0]
    assert row["table_name"] == case.table
    assert row["column_name"] == case.column
    assert row["detail"] and len(row["detail"]) > 30, (
        "the detail says what is wrong and how to fix it"
    )
    raw = json.loads(row["raw"])
    assert raw, "the raw row is kept"
    assert_no_phone(row["raw"], _phones(case.text))
    assert_no_phone(row["detail"], _phones(case.text))
    # nothing lost: every row is loaded, already present, or quarantined
    assert report.rows_read == report.rows_loaded + report.rows_duplicate + report.rows_quarantined
    if case.loaded is not None:
        assert report.rows_loaded == case.loaded
    assert case.reason in REASONS


def test_ingest_bad_input_covers_at_least_twenty_classes():
    classes = {c.reason for c in CASES} | set(FILE_LEVEL_CLASSES)
    assert len(classes) >= 20, sorted(classes)


# -- file-level problems --------------------------------------------------------------------
FILE_LEVEL_CLASSES = (
    "empty_file",
    "no_data_rows",
    "missing_required_columns",
    "utf8_bom",
    "cp1252",
    "utf16",
    "semicolon",
    "excel_workbook",
    "binary_file",
    "duplicate_header",
    "bad_mapping",
    # a flag, see test_ingest_unreadable_optional_contact_values_are_flagged_and_kept:
    "invalid_date",
)


@pytest.mark.parametrize(
    "content",
    [b"", b"   \n\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"],
    ids=["zero bytes", "whitespace", "bom only", "bom newline"],
)
def test_ingest_empty_file_is_a_file_level_quarantine_row(wh, write, content):
    path = write("contacts.csv", content)
    report = ingest_file(wh, "contacts", path)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (0, 0, 0)
    assert report.quarantined_by_reason == {"empty_file": 1}
    (row,) = quarantine_rows(wh)
    assert (row["row_number"], row["reason"], row["table_name"]) == (0, "empty_file", "contacts")
    assert wh.counts()["loads"] == 1
    assert ingest_file(wh, "contacts", path).already_loaded


def test_ingest_header_only_is_no_data_rows(wh, write):
    report = ingest_file(wh, "contacts", write("contacts.csv", "contact_id,phone\n"))
    assert report.quarantined_by_reason == {"no_data_rows": 1}
    assert wh.counts()["contacts"] == 0


def test_ingest_missing_required_columns_names_them_and_the_fix(wh, write):
    path = write("contacts.csv", "CustomerID,Mobile,Name\nC1,+33600000001,Renée\n")
    with pytest.raises(MissingColumnsError) as info:
        ingest_file(wh, "contacts", path)
    message = str(info.value)
    assert "contact_id" in message and "phone" in message
    assert "['CustomerID', 'Mobile', 'Name']" in message
    assert "--map CustomerID=contact_id,Mobile=phone" in message
    assert info.value.missing == ("contact_id", "phone")
    assert wh.counts()["loads"] == 0


def test_ingest_missing_either_column_names_both(wh_contacts, write):
    with pytest.raises(MissingColumnsError, match=r"contact_id \(or phone\)"):
        ingest_file(
            wh_contacts,
            "orders",
            write("orders.csv", "order_id,ordered_at,amount\nO1,2024-03-02,10\n"),
        )


def test_ingest_utf8_bom_loads_with_clean_column_names(wh, write):
    path = write("contacts.csv", "\ufeffcontact_id,phone,first_name\r\nC1,+33600000001,Renée\r\n")
    report = ingest_file(wh, "contacts", path)
    assert report.rows_loaded == 1 and report.encoding == "utf-8-sig"
    assert wh.table("contacts")["first_name"].to_list() == ["Renée"]


def test_ingest_cp1252_is_detected_and_decoded(wh, write):
    path = write(
        "contacts.csv",
        "contact_id;phone;first_name\r\nC1;06 00 00 00 01;Renée\r\nC2;06 00 00 00 02;François\r\n",
        encoding="cp1252",
    )
    report = ingest_file(wh, "contacts", path)
    assert (report.rows_loaded, report.encoding, report.delimiter) == (2, "cp1252", ";")
    assert "decoded as cp1252" in report.warnings
    assert sorted(wh.table("contacts")["first_name"].to_list()) == ["François", "Renée"]


def test_ingest_utf16_excel_unicode_text(wh, write):
    path = write(
        "contacts.txt",
        "contact_id\tphone\tfirst_name\r\nC1\t0600000001\tZoé\r\n",
        encoding="utf-16",
    )
    report = ingest_file(wh, "contacts", path)
    assert (report.rows_loaded, report.delimiter) == (1, "\t")
    assert wh.table("contacts")["first_name"].to_list() == ["Zoé"]


def test_ingest_semicolon_quotes_and_blank_lines(wh, write):
    text = (
        "contact_id;phone;first_name;notes\n"
        'C1;0600000001;"Dupont; Jean";"line one\nline two"\n'
        "\n"
        "C2;0600000002;Zoé;\n"
    )
    report = ingest_file(wh, "contacts", write("contacts.csv", text))
    assert (report.rows_loaded, report.blank_rows, report.rows_read) == (2, 1, 2)
    attrs = wh.table("contacts").sort("external_id")["attributes"].to_list()
    assert json.loads(attrs[0]) == {"notes": "line one\nline two"}
    assert wh.table("contacts").sort("external_id")["first_name"].to_list() == [
        "Dupont; Jean",
        "Zoé",
    ]


def test_ingest_excel_workbook_is_refused_with_the_fix(wh, write):
    with pytest.raises(UnreadableFileError, match="CSV UTF-8"):
        ingest_file(wh, "contacts", write("contacts.xlsx", b"PK\x03\x04" + b"\x00" * 100))


def test_ingest_binary_file_is_refused(wh, write):
    with pytest.raises(UnreadableFileError, match="binary"):
        ingest_file(wh, "contacts", write("contacts.csv", bytes(range(256)) * 40))


def test_ingest_missing_file_is_refused(wh, tmp_path):
    with pytest.raises(UnreadableFileError, match="no such file"):
        ingest_file(wh, "contacts", tmp_path / "nope.csv")


def test_ingest_corrupt_parquet_is_refused(wh, write):
    with pytest.raises(UnreadableFileError, match="Parquet"):
        ingest_file(wh, "contacts", write("contacts.parquet", b"PAR1garbagePAR1"))


def test_ingest_duplicate_header_is_refused(wh, write):
    with pytest.raises(InvalidHeaderError, match="duplicate column"):
        ingest_file(
            wh,
            "contacts",
            write("contacts.csv", "contact_id,phone,phone\nC1,0600000001,0600000002\n"),
        )


def test_ingest_bad_mapping_is_refused(wh, write):
    path = write("contacts.csv", "id,mobile\nC1,0600000001\n")
    with pytest.raises(MappingError, match="does not have"):
        ingest_file(wh, "contacts", path, mapping={"ID": "contact_id", "mobile": "phone"})
    with pytest.raises(MappingError, match="not columns of table"):
        ingest_file(wh, "contacts", path, mapping={"id": "contact_id", "mobile": "mobile_phone"})
    with pytest.raises(MappingError, match="several columns"):
        ingest_file(wh, "contacts", path, mapping={"id": "phone", "mobile": "phone"})


def test_ingest_unknown_table_and_bad_options(wh, write):
    path = write("contacts.csv", "contact_id,phone\nC1,0600000001\n")
    with pytest.raises(UnknownTableError, match="known|one of"):
        ingest_file(wh, "customers", path)
    with pytest.raises(IngestError, match="region"):
        ingest_file(wh, "contacts", path, default_region="XX")
    with pytest.raises(IngestError, match="IANA"):
        ingest_file(wh, "contacts", path, source_timezone="Paris")
    assert wh.counts()["loads"] == 0


def test_ingest_flagged_rows_are_loaded_and_reported(wh, write):
    text = (
        "contact_id,phone,timezone\n"
        "C1,600000001,\n"  # lost leading 0: repaired
        "C2,3.3600000002E+10,\n"  # exact scientific notation: repaired
        "C3,+33600000003,Europe/Pariss\n"  # invalid zone: kept, no zone
        "C4,+79123456789,\n"  # eleven zones: kept, no zone
    )
    report = ingest_file(wh, "contacts", write("contacts.csv", text))
    assert report.rows_loaded == 4 and report.rows_quarantined == 0
    assert report.flagged_by_reason == {
        "ambiguous_timezone": 1,
        "invalid_timezone": 1,
        "repaired_lost_leading_zero": 1,
        "repaired_scientific_notation": 1,
    }
    contacts = {r["external_id"]: r for r in wh.table("contacts").to_dicts()}
    assert contacts["C3"]["timezone"] is None and contacts["C3"]["timezone_source"] == "unknown"
    assert json.loads(contacts["C3"]["attributes"]) == {"timezone_invalid": "Europe/Pariss"}
    assert [f.row_number for f in report.flagged] == [1, 2, 3, 4]
    assert wh.counts()["quarantine"] == 0


def test_ingest_unreadable_optional_contact_values_are_flagged_and_kept(wh, write):
    """A contact is the root of every event: a bad optional value must not cost the contact."""
    text = (
        "contact_id,phone,signup_at,consent_at,birthday,points,language\n"
        "C1,+33600000001,31/02/2026,2024-01-01T00:00:00Z,1990-02-30,lots,français\n"
        "C2,+33600000002,1900-01-01,,,-5,fr\n"
    )
    report = ingest_file(wh, "contacts", write("contacts.csv", text))
    assert (report.rows_loaded, report.rows_quarantined) == (2, 0)
    assert report.flagged_by_reason == {
        "absurd_timestamp": 1,
        "invalid_date": 1,
        "invalid_number": 1,
        "invalid_timestamp": 1,
        "invalid_value": 1,
    } or set(report.flagged_by_reason) >= {
        "absurd_timestamp",
        "invalid_date",
        "invalid_number",
        "invalid_timestamp",
        "invalid_value",
    }
    c = {r["external_id"]: r for r in wh.table("contacts").to_dicts()}
    assert (
        c["C1"]["signup_at"] is None and c["C1"]["birthday"] is None and c["C1"]["points"] is None
    )
    assert c["C1"]["consent_at"] is not None
    assert json.loads(c["C1"]["attributes"]) == {
        "signup_at_invalid": "31/02/2026",
        "birthday_invalid": "1990-02-30",
        "points_invalid": "lots",
        "language_invalid": "français",
    }
    assert json.loads(c["C2"]["attributes"]) == {
        "signup_at_invalid": "1900-01-01",
        "points_invalid": "-5",
    }
    flagged = {(f.row_number, f.column_name, f.reason) for f in report.flagged}
    assert (1, "signup_at", "invalid_timestamp") in flagged and (
        2,
        "points",
        "out_of_range",
    ) in flagged
