"""A load that fails half-way leaves the warehouse exactly as it was."""

from __future__ import annotations

import pytest
from conftest import FIXTURES, snapshot

import smsanalytics.ingest.files as files
import smsanalytics.ingest.twilio as twilio
from smsanalytics.ingest import ingest_file
from smsanalytics.ingest.loading import load_rows


class Boom(RuntimeError):
    pass


def _failing_after(n_loads: int):
    """A load_rows that performs the first ``n_loads`` loads, then fails after writing the next."""
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        result = load_rows(*args, **kwargs)  # the rows are inserted …
        calls["n"] += 1
        if calls["n"] > n_loads:
            raise Boom("injected failure after an insert")  # … and then the load fails
        return result

    return wrapped


def test_ingest_failed_contacts_load_leaves_warehouse_unchanged(wh_contacts, write, monkeypatch):
    before = snapshot(wh_contacts)
    monkeypatch.setattr(files, "load_rows", _failing_after(0))
    with pytest.raises(Boom):
        ingest_file(
            wh_contacts, "contacts", write("more.csv", "contact_id,phone\nC8,0600000008\nC9,12\n")
        )
    assert snapshot(wh_contacts) == before
    monkeypatch.undo()
    report = ingest_file(
        wh_contacts, "contacts", write("more.csv", "contact_id,phone\nC8,0600000008\nC9,12\n")
    )
    assert report.rows_loaded == 1 and not report.already_loaded  # the failed attempt left no trace


def test_ingest_failed_opt_out_update_rolls_back_the_inbound_load(wh_contacts, write, monkeypatch):
    before = snapshot(wh_contacts)

    def boom(*args, **kwargs):
        raise Boom("opt-out update failed")

    monkeypatch.setattr(files, "update_opt_outs", boom)
    with pytest.raises(Boom):
        ingest_file(
            wh_contacts,
            "inbound",
            write("in.csv", "contact_id,received_at,body\nC1,2024-03-02T10:00:00Z,STOP\n"),
        )
    assert snapshot(wh_contacts) == before


@pytest.mark.parametrize("fail_after", [0, 1, 2])
def test_ingest_failed_twilio_load_leaves_warehouse_unchanged(wh_contacts, monkeypatch, fail_after):
    before = snapshot(wh_contacts)
    monkeypatch.setattr(twilio, "load_rows", _failing_after(fail_after))
    with pytest.raises(Boom):
        ingest_file(wh_contacts, "twilio", FIXTURES / "twilio_message_log.csv")
    assert snapshot(wh_contacts) == before


def test_ingest_failure_keeps_the_warehouse_usable(wh_contacts, monkeypatch, write):
    monkeypatch.setattr(twilio, "load_rows", _failing_after(1))
    with pytest.raises(Boom):
        ingest_file(wh_contacts, "twilio", FIXTURES / "twilio_message_log.csv")
    monkeypatch.undo()
    report = ingest_file(wh_contacts, "twilio", FIXTURES / "twilio_message_log.csv")
    assert report.tables["messages"].rows_loaded > 0
