"""The real gateway: Kannel's bearerbox, fake SMSC and smsbox on loopback (``-m kannel``).

Checks that each message of a plan (GSM-7 and UCS-2, single and multi-part) reaches the SMSC
exactly once with the right text, that delivery reports land in the warehouse, that a rerun
sends nothing, that a gateway down then up loses nothing, and that a send killed after Kannel
accepted a message is reconciled from its delivery report instead of being sent twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from smsanalytics.adapters import KannelAdapter, Ledger, send_plan
from smsanalytics.warehouse import Warehouse

pytestmark = pytest.mark.kannel

UTC = dt.UTC
NOW = dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "Hello @£$é{}[]~€ GSM",  # GSM-7 with extension characters, 1 part
    "Promo: " + "A" * 160,  # GSM-7, 2 parts
    "é" * 150 + "€" * 20,  # GSM-7, 190 septets: 2 parts, no escape split
    "Привет мир 👋",  # UCS-2 with a surrogate pair, 1 part
    "Ж" * 80,  # UCS-2, 2 parts
    "Ça va? 😀 " * 14,  # UCS-2 (11 units each), 3 parts
]


def adapter(kannel, **kw) -> KannelAdapter:
    options = {
        "username": "tester",
        "password": "foobar",
        "receipt_wait": 5,
        "reconcile_wait": 6,
        "backoff": 0.05,
    }
    return KannelAdapter(kannel.sendsms_url, **{**options, **kw})


def test_plan_reaches_the_smsc_once_with_the_right_text_and_receipts(
    kannel, make_contacts, warehouse_factory, plan_factory
):
    contacts = make_contacts(
        [{"contact_id": i, "first_name": t} for i, t in enumerate(TEXTS, start=1)]
    )
    wh = warehouse_factory(contacts)
    plan_dir = plan_factory(len(TEXTS), texts=TEXTS, warehouse=wh)
    path = wh.path
    wh.close()
    planned = pl.read_parquet(plan_dir / "plan.parquet")
    report = send_plan(plan_dir, adapter(kannel), warehouse=path, now=NOW, clock=lambda: NOW)
    assert (report.sent, report.failed, report.in_doubt) == (len(TEXTS), 0, 0)
    assert report.statuses == {"delivered": len(TEXTS)}

    delivered = kannel.delivered()
    by_number = Counter(d.to for d in delivered)
    assert set(by_number.values()) == {1} and len(by_number) == len(TEXTS)
    got = {d.to: d for d in delivered}
    for row in planned.iter_rows(named=True):
        sms = got[row["phone_e164"]]
        assert sms.text == row["text"]
        assert sms.parts == row["segments"], (row["text"][:20], sms.parts, row["segments"])
        assert sms.sender == "ACME"
    assert sorted(planned.get_column("segments").to_list()) == [1, 1, 2, 2, 2, 3]

    with Warehouse(path) as w:
        messages = w.table("messages")
        receipts = w.table("receipts")
    assert messages.height == len(TEXTS)
    delivered_ids = receipts.filter(pl.col("status") == "delivered").get_column("message_id")
    assert sorted(delivered_ids) == sorted(messages.get_column("message_id"))
    assert receipts.select("message_id", "status", "status_at").is_unique().all()

    again = send_plan(plan_dir, adapter(kannel), warehouse=path, now=NOW, clock=lambda: NOW)
    assert (again.sent, again.skipped) == (0, len(TEXTS))
    time.sleep(0.3)
    assert len(kannel.delivered()) == len(TEXTS)


def test_refused_number_fails_with_its_report(kannel, make_contacts, plan_factory):
    contacts = make_contacts(
        [
            {"contact_id": 1, "first_name": "ok"},
            {"contact_id": 2, "first_name": "denied", "phone_e164": "+9991234567", "country": None},
        ]
    )
    plan_dir = plan_factory(2, texts=["ok", "denied"], contacts=contacts)
    report = send_plan(plan_dir, adapter(kannel), now=NOW, clock=lambda: NOW)
    assert (report.sent, report.failed) == (1, 1)
    with Ledger(plan_dir) as ledger:
        rows = {r.body: r for r in ledger.rows()}
    assert rows["denied"].state == "failed" and rows["denied"].status == "failed"
    assert [d.to for d in kannel.delivered()] == [rows["ok"].phone_e164]


def test_gateway_down_then_up_loses_nothing(kannel_factory, plan_factory):
    plan_dir = plan_factory(3)
    gateway = kannel_factory("late-kannel")  # configured, not started: nothing listens
    down = send_plan(plan_dir, adapter(gateway, max_attempts=2), now=NOW, clock=lambda: NOW)
    assert (down.sent, down.failed, down.pending) == (0, 3, 3)
    gateway.start()
    up = send_plan(plan_dir, adapter(gateway), now=NOW, clock=lambda: NOW)
    assert (up.sent, up.skipped, up.failed) == (3, 0, 0)
    assert sorted(Counter(d.to for d in gateway.delivered()).values()) == [1, 1, 1]


CHILD = """
import datetime as dt, json, sys
from smsanalytics.adapters import KannelAdapter, send_plan
a = json.loads(sys.argv[1])
now = dt.datetime.fromisoformat(a["now"])
adapter = KannelAdapter(a["url"], username="tester", password="foobar", receipt_port=a["port"],
                        receipt_wait=5, reconcile_wait=6, backoff=0.05)
send_plan(a["plan"], adapter, now=now, clock=lambda: now)
"""


def test_send_killed_after_kannel_accepted_is_reconciled_not_resent(kannel, plan_factory):
    import socket

    plan_dir = plan_factory(4)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # a fixed receipt port: Kannel retries its callbacks there
    args = json.dumps(
        {"url": kannel.sendsms_url, "plan": str(plan_dir), "now": NOW.isoformat(), "port": port}
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SMSANALYTICS_FAILPOINT": "after_send:2"}
    crashed = subprocess.run(
        [sys.executable, "-c", CHILD, args], env=env, cwd=ROOT, capture_output=True, timeout=60
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-2000:]
    env.pop("SMSANALYTICS_FAILPOINT")
    rerun = subprocess.run(
        [sys.executable, "-c", CHILD, args], env=env, cwd=ROOT, capture_output=True, timeout=60
    )
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    with Ledger(plan_dir) as ledger:
        assert ledger.counts()["sent"] == 4
    assert sorted(Counter(d.to for d in kannel.delivered()).values()) == [1, 1, 1, 1]
