"""Exports in the platform's format, with and without defects, and the warehouse fast path."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import polars as pl
import pytest

from smsanalytics import schemas
from smsanalytics.synth import generate_programme, load_programme, write_exports
from smsanalytics.synth.exports import EXPORT_FILES
from smsanalytics.warehouse import Warehouse

N = 2500

EXPECTED_COLUMNS = {
    "contacts": [
        "contact_id",
        "phone",
        "country",
        "timezone",
        "first_name",
        "language",
        "signup_at",
        "birthday",
        "consent_at",
        "opted_out_at",
        "points",
        "acquisition_channel",
        "store",
    ],
    "campaigns": schemas.table("campaigns").column_names,
    "messages": [c for c in schemas.table("messages").column_names if c != "provider_message_id"],
    "assignments": schemas.table("assignments").column_names,
    "receipts": schemas.table("receipts").column_names,
    "clicks": ["message_id", "contact_id", "clicked_at", "url", "user_agent"],
    "inbound": ["contact_id", "received_at", "body"],
    "orders": schemas.table("orders").column_names,
}


@pytest.fixture(scope="module")
def prog():
    return generate_programme(N, months=6, seed=3)


@pytest.fixture(scope="module")
def clean(prog, tmp_path_factory):
    return write_exports(prog, tmp_path_factory.mktemp("clean"), defects=False)


@pytest.fixture(scope="module")
def dirty(prog, tmp_path_factory):
    return write_exports(prog, tmp_path_factory.mktemp("dirty"), defects=True, seed=1)


def _read(path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False) if path.suffix == ".csv" else pl.read_parquet(path)


def test_exports_have_the_agreed_columns(clean):
    assert set(clean) == set(EXPORT_FILES)
    for name, columns in EXPECTED_COLUMNS.items():
        assert _read(clean[name]).columns == columns, name
    assert "defects" not in clean


def test_clean_exports_round_trip_to_the_canonical_tables(prog, clean):
    ext = prog.contacts.select("contact_id", "external_id")
    sid = prog.messages.select("message_id", "provider_message_id")
    messages = _read(clean["messages"])
    assert messages.height == prog.messages.height
    assert messages["sent_at"].dtype == pl.Datetime("us", "UTC")
    back = (
        _read(clean["clicks"])
        .rename({"message_id": "provider_message_id", "contact_id": "external_id"})
        .join(sid, on="provider_message_id")
        .join(ext, on="external_id")
        .select("message_id", "contact_id", "clicked_at", "url", "user_agent")
    )
    assert back.equals(prog.clicks.drop("is_bot"))
    orders = (
        _read(clean["orders"]).rename({"contact_id": "external_id"}).join(ext, on="external_id")
    )
    assert orders.select(prog.orders.columns).equals(prog.orders)
    receipts = (
        _read(clean["receipts"])
        .rename({"message_id": "provider_message_id"})
        .join(sid, on="provider_message_id")
    )
    assert receipts.select(prog.receipts.columns).equals(prog.receipts)
    inbound = _read(clean["inbound"])
    assert inbound["body"].to_list() == prog.inbound["body"].to_list()
    assert _read(clean["assignments"]).height == prog.assignments.height
    campaigns = _read(clean["campaigns"])
    assert campaigns["template"].to_list() == prog.campaigns["template"].to_list()


def test_contacts_csv_phones_parse_back_to_the_canonical_number(prog, clean):
    raw = _read(clean["contacts"]).join(
        prog.contacts.select(
            pl.col("external_id").alias("contact_id"),
            "phone_e164",
            "timezone",
            "timezone_source",
            pl.col("signup_at").alias("signup_utc"),
        ),
        on="contact_id",
        suffix="_canonical",
    )
    assert raw.height == N
    formats = set()
    for row in raw.iter_rows(named=True):
        parsed = phonenumbers.parse(row["phone"], row["country"])
        assert (
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            == row["phone_e164"]
        )
        formats.add("intl" if row["phone"].startswith("+") else "national")
    assert formats == {"intl", "national"}
    assert raw.filter(pl.col("phone").str.contains(" ")).height > 0
    blank = raw.filter(pl.col("timezone").is_null())
    assert blank.height > 0 and (blank["timezone_source"] == "number").all()
    kept = raw.filter(pl.col("timezone").is_not_null())
    assert (kept["timezone"] == kept["timezone_canonical"]).all()
    # ISO-8601 with Z or with an offset, the same instant to the second
    assert (
        raw["signup_at"].str.ends_with("Z").any()
        and raw["signup_at"].str.contains(r"[+-]\d\d:\d\d$").any()
    )
    parsed_at = raw["signup_at"].str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", time_zone="UTC")
    assert (parsed_at == raw["signup_utc"].dt.truncate("1s")).all()


def test_defects_are_injected_and_listed(prog, dirty):
    defects = _read(dirty["defects"])
    kinds = set(defects["defect"])
    assert kinds == {
        "scientific_notation_phone",
        "lost_leading_zero",
        "duplicate_contact",
        "unparseable_date",
        "negative_amount",
        "unknown_contact",
        "unknown_message",
    }
    contacts = _read(dirty["contacts"])
    assert N < contacts.height < N * 1.01
    for row in defects.filter(pl.col("file") == "contacts.csv").iter_rows(named=True):
        line = contacts.row(int(row["row_number"]) - 1, named=True)
        assert line["contact_id"] == row["id"]
        if row["defect"] == "scientific_notation_phone":
            assert "E+" in line["phone"]
            assert str(int(float(line["phone"]))) == prog.contacts.filter(
                pl.col("external_id") == row["id"]
            )["phone_e164"][0].lstrip("+")
        elif row["defect"] == "lost_leading_zero":
            assert len(line["phone"]) == 9 and line["phone"][0] in "67"
        elif row["defect"] == "unparseable_date":
            with pytest.raises(
                (ValueError, pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError)
            ):
                pl.Series([line["signup_at"]]).str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", strict=True)
    dups = contacts.filter(pl.col("contact_id").is_duplicated())
    assert dups.height == 2 * (defects["defect"] == "duplicate_contact").sum()
    assert (dups.group_by("contact_id").agg(pl.col("phone").n_unique())["phone"] == 2).all()

    orders = _read(dirty["orders"])
    assert (orders["amount"] < 0).sum() == (defects["defect"] == "negative_amount").sum() > 0
    unknown = set(orders["contact_id"]) - set(prog.contacts["external_id"])
    assert len(unknown) == (defects["defect"] == "unknown_contact").sum() > 0
    clicks = _read(dirty["clicks"])
    ghosts = set(clicks["message_id"]) - set(prog.messages["provider_message_id"])
    assert len(ghosts) == (defects["defect"] == "unknown_message").sum() > 0
    for name in ("orders", "clicks"):
        frame = _read(dirty[name])
        rows = defects.filter(pl.col("file") == f"{name}.parquet")
        for row in rows.iter_rows(named=True):
            key = "order_id" if name == "orders" else "message_id"
            assert frame.row(int(row["row_number"]) - 1, named=True)[key] == row["id"]
    # the share of bad rows is small
    bad_contacts = defects.filter(pl.col("file") == "contacts.csv").height
    assert bad_contacts <= 0.006 * N + 4


def test_exports_are_deterministic(prog, dirty, tmp_path):
    again = write_exports(prog, tmp_path, defects=True, seed=1)
    for name, path in dirty.items():
        assert path.read_bytes() == again[name].read_bytes(), name


def test_load_programme_fills_the_warehouse_and_the_truth_schema(prog):
    with Warehouse(":memory:") as wh:
        results = load_programme(prog, wh)
        assert set(results) == {t.name for t in schemas.CANONICAL_TABLES}
        counts = wh.counts()
        for name, frame in prog.tables().items():
            assert counts[name] == frame.height == results[name].rows_loaded, name
        for name, frame in prog.truth_tables().items():
            n = wh.con.execute(f"SELECT count(*) FROM truth.{name}").fetchall()[0][0]
            assert n == frame.height, name
        alive = wh.sql("SELECT avg(is_alive_at_end::INT) AS a FROM truth.contacts")["a"][0]
        assert alive == pytest.approx(prog.truth_contacts["is_alive_at_end"].mean())
        churn_type = wh.sql("SELECT churn_at FROM truth.contacts LIMIT 1")["churn_at"].dtype
        assert churn_type == pl.Datetime("us", "UTC")
        again = load_programme(prog, wh)
        assert all(r.already_loaded for r in again.values())
        assert wh.counts()["messages"] == prog.messages.height
        joined = wh.sql(
            "SELECT count(*) AS n FROM truth.contacts t JOIN contacts c USING (external_id)"
        )["n"][0]
        assert joined == N
        first = wh.table("messages")["sent_at"].min()
        assert first >= dt.datetime(2026, 5, 1, tzinfo=dt.UTC)


def test_write_truth_replaces_the_truth_schema(prog):
    from smsanalytics.synth import write_truth

    with Warehouse(":memory:") as wh:
        rows = write_truth(prog, wh)
        assert rows == {name: frame.height for name, frame in prog.truth_tables().items()}
        write_truth(prog, wh)  # replaces, does not append
        n = wh.con.execute("SELECT count(*) FROM truth.orders").fetchall()[0][0]
        assert n == prog.truth_orders.height
        assert wh.counts()["contacts"] == 0


def test_clean_exports_ingest_to_the_same_tables(prog, clean):
    """The export convention agreed with the ingest: a clean export loads completely."""
    ingest = pytest.importorskip("smsanalytics.ingest")
    order = (
        "campaigns",
        "contacts",
        "messages",
        "assignments",
        "receipts",
        "clicks",
        "inbound",
        "orders",
    )
    with Warehouse(":memory:") as wh:
        for table in order:
            ingest.ingest_file(
                wh, table, clean[table], default_region="FR", default_timezone="Europe/Paris"
            )
        counts = wh.counts()
        assert counts["quarantine"] == 0
        for name, frame in prog.tables().items():
            assert counts[name] == frame.height, name
        bots = wh.sql("SELECT count(*) AS n FROM clicks WHERE is_bot")["n"][0]
        assert bots == prog.clicks["is_bot"].sum()
        stops = wh.sql("SELECT count(*) AS n FROM inbound WHERE keyword = 'STOP'")["n"][0]
        assert stops == (prog.inbound["keyword"] == "STOP").sum()
        zones = wh.sql("SELECT external_id, timezone FROM contacts").join(
            prog.contacts.select("external_id", "timezone"), on="external_id", suffix="_truth"
        )
        assert (zones["timezone"] == zones["timezone_truth"]).all()
