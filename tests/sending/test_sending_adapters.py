"""Adapters: refusal of bad plans, outbox, ledger, receipts, sync, Twilio, Kannel client."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from smsanalytics.adapters import (
    KannelAdapter,
    Ledger,
    LedgerError,
    OutboxAdapter,
    PlanRefusedError,
    RateLimiter,
    ReceiptServer,
    TwilioAdapter,
    TwilioValidationError,
    send_plan,
    sync_to_warehouse,
)
from smsanalytics.adapters.twilio import validate_send_at
from smsanalytics.warehouse import Warehouse

UTC = dt.UTC
NOW = dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def fixed(at: dt.datetime):
    return lambda: at


def outbox_lines(plan_dir: Path) -> list[dict]:
    return [
        json.loads(line)
        for p in sorted((plan_dir / "outbox").glob("*.jsonl"))
        for line in p.read_text().splitlines()
    ]


# -- refusal --------------------------------------------------------------------------------------


def test_adapters_refuse_unvalidated_changed_or_stale_plans(tmp_path, plan_factory):
    with pytest.raises(PlanRefusedError, match="no manifest.json"):
        send_plan(tmp_path, OutboxAdapter(), now=NOW)
    plan_dir = plan_factory(3)
    manifest = json.loads((plan_dir / "manifest.json").read_text())
    (plan_dir / "manifest.json").write_text(json.dumps({**manifest, "validated": False}))
    with pytest.raises(PlanRefusedError, match="not validated"):
        send_plan(plan_dir, OutboxAdapter(), now=NOW)
    (plan_dir / "manifest.json").write_text(json.dumps(manifest))
    written = (plan_dir / "plan.parquet").read_bytes()
    frame = pl.read_parquet(plan_dir / "plan.parquet")
    frame.with_columns(pl.lit("+33699999999").alias("phone_e164")).write_parquet(
        plan_dir / "plan.parquet"
    )
    with pytest.raises(PlanRefusedError, match="changed since"):
        send_plan(plan_dir, OutboxAdapter(), now=NOW)
    (plan_dir / "plan.parquet").write_bytes(written)
    other_rules = tmp_path / "rules.toml"
    other_rules.write_text(Path(manifest["rules"]["source"]).read_text() + "\n# edited\n")
    with pytest.raises(PlanRefusedError, match="rules changed"):
        send_plan(plan_dir, OutboxAdapter(), now=NOW, rules_file=other_rules)
    assert not (plan_dir / "outbox").exists()
    report = send_plan(
        plan_dir, OutboxAdapter(), now=NOW, clock=fixed(NOW)
    )  # untouched plan: accepted
    assert report.sent == 3


# -- outbox ---------------------------------------------------------------------------------------


def test_outbox_sends_due_windows_once_and_keeps_the_rest_for_later(plan_factory):
    plan_dir = plan_factory(5, staggered=True)  # windows start at NOW, +1 min, ... +4 min
    t1 = NOW + dt.timedelta(minutes=1, seconds=30)
    first = send_plan(plan_dir, OutboxAdapter(), now=t1, clock=fixed(t1))
    assert (first.sent, first.skipped, first.pending) == (2, 0, 3)
    assert len(list((plan_dir / "outbox").glob("*.jsonl"))) == 2  # one file per window
    t2 = NOW + dt.timedelta(minutes=10)
    second = send_plan(plan_dir, OutboxAdapter(), now=t2, clock=fixed(t2))
    assert (second.sent, second.skipped, second.failed, second.pending) == (3, 2, 0, 0)
    lines = outbox_lines(plan_dir)
    assert sorted(line["contact_id"] for line in lines) == [1, 2, 3, 4, 5]
    assert lines[0]["to"].startswith("+336") and lines[0]["text"].startswith("Hello")
    assert all(line["send_at"] < line["send_before"] for line in lines)
    third = send_plan(plan_dir, OutboxAdapter(), now=t2, clock=fixed(t2))
    assert (third.sent, third.skipped) == (0, 5) and len(outbox_lines(plan_dir)) == 5


def test_windows_that_closed_expire_and_ahead_hands_over_future_windows(plan_factory):
    plan_dir = plan_factory(3, staggered=True)
    early = NOW - dt.timedelta(hours=1)
    report = send_plan(
        plan_dir,
        OutboxAdapter(),
        now=early,
        clock=fixed(early),
        ahead=dt.timedelta(hours=1, minutes=1),
    )
    assert (report.sent, report.pending) == (2, 1)
    assert {line["send_at"] for line in outbox_lines(plan_dir)} == {
        "2025-03-03T09:00:00.000000Z",
        "2025-03-03T09:01:00.000000Z",
    }
    late = NOW + dt.timedelta(hours=9)
    report = send_plan(plan_dir, OutboxAdapter(), now=late, clock=fixed(late))
    assert (report.sent, report.expired, report.skipped) == (0, 1, 2)


def test_opt_out_after_planning_is_dropped_at_send_time_and_warehouse_gets_messages_once(
    make_contacts, warehouse_factory, plan_factory, tmp_path
):
    contacts = make_contacts([{"contact_id": i, "first_name": f"Hi {i}"} for i in range(1, 6)])
    wh = warehouse_factory(contacts)
    plan_dir = plan_factory(5, warehouse=wh, texts=[f"Hi {i}" for i in range(1, 6)])
    # after planning: contact 2 replies STOP, contact 3's record says opted out, contact 5's
    # consent is withdrawn
    wh.load(
        "inbound",
        pl.DataFrame(
            {"contact_id": [2], "received_at": [NOW + dt.timedelta(minutes=5)], "body": ["STOP"]},
            schema_overrides={"received_at": pl.Datetime("us", "UTC")},
        ),
        source="replies",
    )
    wh.con.execute(
        "UPDATE contacts SET opted_out_at = $t WHERE contact_id = 3",
        {"t": NOW + dt.timedelta(minutes=1)},
    )
    wh.con.execute("UPDATE contacts SET consent_at = NULL WHERE contact_id = 5")
    path = wh.path
    wh.close()
    at = NOW + dt.timedelta(minutes=10)
    report = send_plan(plan_dir, OutboxAdapter(), warehouse=path, now=at, clock=fixed(at))
    assert (report.sent, report.dropped) == (2, 3)
    assert sorted(line["contact_id"] for line in outbox_lines(plan_dir)) == [1, 4]
    assert report.warehouse == {"messages": 2, "receipts": 0, "assignments": 5, "campaigns": 1}
    again = send_plan(plan_dir, OutboxAdapter(), warehouse=path, now=at, clock=fixed(at))
    assert again.warehouse == {"messages": 0, "receipts": 0, "assignments": 0, "campaigns": 0}
    with Warehouse(path) as w:
        msgs = w.table("messages").sort("contact_id")
        assert msgs.get_column("contact_id").to_list() == [1, 4]
        assert msgs.get_column("message_id").n_unique() == 2
        assert msgs.select(
            "campaign_id", "variant", "encoding", "segments", "send_time_policy"
        ).unique().rows() == [("camp", "default", "GSM-7", 1, "fixed")]
        assert w.table("campaigns").get_column("campaign_id").to_list() == ["camp"]
        assert w.table("assignments").height == 5
    with Ledger(plan_dir) as ledger:
        reasons = dict(
            ledger._con.execute("SELECT contact_id, error FROM sends WHERE state = 'dropped'")
        )
    assert reasons == {
        2: "opted out since planning",
        3: "opted out since planning",
        5: "consent withdrawn since planning",
    }


def test_sync_reuses_a_message_row_written_before_a_crash(plan_factory, tmp_path, monkeypatch):
    plan_dir = plan_factory(2)
    send_plan(plan_dir, OutboxAdapter(), now=NOW, clock=fixed(NOW))
    with Warehouse(tmp_path / "w.duckdb") as wh, Ledger(plan_dir) as ledger:
        changed = []
        monkeypatch.setattr(wh, "mark_changed", lambda: changed.append(True))
        first = sync_to_warehouse(ledger, wh)
        assert changed  # a Spark engine's export must be written again
        calls = len(changed)
        # simulate a crash after the warehouse commit but before the ledger learnt the ids
        ledger._con.execute("UPDATE sends SET message_id = NULL")
        second = sync_to_warehouse(ledger, wh)
        assert (first.messages, second.messages) == (2, 0)
        assert wh.table("messages").height == 2
        assert len(changed) == calls  # nothing written the second time
        # a receipt goes in by SQL (not Warehouse.load): the sync itself marks the change
        key = ledger.rows("sent")[0].idempotency_key
        assert ledger.record_receipt(key=key, status="delivered", status_at=NOW)
        assert sync_to_warehouse(ledger, wh).receipts == 1
        assert len(changed) == calls + 1


# -- ledger and receipts --------------------------------------------------------------------------


def test_statuses_only_move_forward_with_duplicate_and_out_of_order_receipts(
    plan_factory, tmp_path
):
    plan_dir = plan_factory(2)
    send_plan(plan_dir, OutboxAdapter(), now=NOW, clock=fixed(NOW))
    t = lambda s: NOW + dt.timedelta(seconds=s)  # noqa: E731
    with Ledger(plan_dir) as ledger:
        key_a, key_b = [r.idempotency_key for r in ledger.rows("sent")]
        assert ledger.record_receipt(key=key_a, status="delivered", status_at=t(5))
        assert not ledger.record_receipt(key=key_a, status="sent", status_at=t(1))  # late, lower
        assert not ledger.record_receipt(key=key_a, status="delivered", status_at=t(5))  # duplicate
        assert not ledger.record_receipt(
            key=key_a, status="failed", status_at=t(9)
        )  # terminal stays
        assert ledger.record_receipt(key=key_b, status="queued", status_at=t(1))
        assert ledger.record_receipt(key=key_b, status="undelivered", status_at=t(3))
        assert ledger.status_counts() == {"delivered": 1, "undelivered": 1}
        with pytest.raises(LedgerError, match="unknown delivery status"):
            ledger.record_receipt(key=key_a, status="read", status_at=t(1))
        with Warehouse(tmp_path / "w.duckdb") as wh:
            sync_to_warehouse(ledger, wh)
            sync_to_warehouse(ledger, wh)
            receipts = wh.table("receipts").sort("message_id", "status_at")
        assert receipts.select("status").to_series().to_list().count("delivered") == 1
        assert sorted(receipts.get_column("status").to_list()) == [
            "delivered",
            "queued",
            "undelivered",
        ]


def test_receipt_endpoint_records_kannel_and_twilio_callbacks(plan_factory):
    plan_dir = plan_factory(2)
    send_plan(plan_dir, OutboxAdapter(), now=NOW, clock=fixed(NOW))
    with Ledger(plan_dir) as ledger:
        key_a, key_b = [r.idempotency_key for r in ledger.rows("sent")]
        ledger._con.execute(
            "UPDATE sends SET provider_message_id = 'SM1' WHERE idempotency_key = ?", (key_b,)
        )
    with ReceiptServer(plan_dir) as server:

        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(server.url + path, timeout=5) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        assert get("/health") == (200, "ok")
        assert get(f"/kannel?key={key_a}&status=1&answer=&ts=1741000000") == (200, "applied")
        assert get(f"/kannel?key={key_a}&status=8&answer=ACK%2F&ts=1741000000") == (200, "ignored")
        assert get(f"/kannel?key={key_a}&status=1&answer=&ts=1741000000") == (200, "ignored")
        assert get("/kannel?key=nope&status=1") == (200, "unknown")
        assert get(f"/kannel?key={key_a}&status=99") == (400, "bad")
        data = b"MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003"
        with urllib.request.urlopen(
            urllib.request.Request(server.url + "/twilio", data=data), timeout=5
        ) as r:
            assert r.read() == b"applied"
        assert server.counts == {"applied": 2, "ignored": 2, "unknown": 1, "bad": 1}
    with Ledger(plan_dir) as ledger:
        rows = {r.idempotency_key: r.status for r in ledger.rows()}
        assert rows == {key_a: "delivered", key_b: "undelivered"}


def test_rate_limiter_spaces_messages():
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(9):
        limiter.acquire()
    assert now[0] == pytest.approx(2.0, abs=0.01)  # one token at start, then 4 per second
    with pytest.raises(ValueError):
        RateLimiter(0)


# -- Twilio ---------------------------------------------------------------------------------------


def twilio(fake, url, **kw) -> TwilioAdapter:
    return TwilioAdapter(
        fake.account_sid,
        fake.auth_token,
        base_url=url,
        from_="ACME",
        backoff=0.001,
        sleep=lambda s: None,
        **kw,
    )


def test_twilio_sends_once_and_records_status_callbacks(plan_factory, fake_twilio, tmp_path):
    fake, url = fake_twilio
    fake.callbacks = True
    plan_dir = plan_factory(3)
    report = send_plan(plan_dir, twilio(fake, url, serve_receipts=True), now=NOW, clock=fixed(NOW))
    assert (report.sent, report.failed) == (3, 0)
    assert sorted(m["body"] for m in fake.messages) == ["Hello 1", "Hello 2", "Hello 3"]
    assert all("/twilio?key=" in m["status_callback"] for m in fake.messages)
    with Ledger(plan_dir) as ledger:
        # the adapter waited for the final callbacks before closing its endpoint
        keys = [r.idempotency_key for r in ledger.rows("sent")]
        assert ledger.wait_for_receipts(keys, 5, final=True) == set(keys)
        assert ledger.status_counts() == {"delivered": 3}
        assert {r.provider_message_id for r in ledger.rows()} == {m["sid"] for m in fake.messages}
        with Warehouse(tmp_path / "w.duckdb") as wh:
            sync_to_warehouse(ledger, wh)
            assert set(wh.table("messages").get_column("provider_message_id")) == {
                m["sid"] for m in fake.messages
            }
            assert wh.table("receipts").filter(pl.col("status") == "delivered").height == 3


@pytest.mark.parametrize(
    ("script", "posts"),
    [
        (["429", "429"], 3),  # never processed: retried after Retry-After
        (["500-created"], 1),  # created despite the 500: found by reconciliation, not resent
        (["500"], 2),  # not created: reconciliation finds nothing, resent once
        (["drop-created"], 1),  # created, connection dropped: reconciled
    ],
)
def test_twilio_errors_are_retried_or_reconciled_without_duplicates(
    plan_factory, fake_twilio, script, posts
):
    fake, url = fake_twilio
    fake.script = list(script)
    plan_dir = plan_factory(1)
    report = send_plan(plan_dir, twilio(fake, url), now=NOW, clock=fixed(NOW))
    assert (report.sent, report.failed, report.in_doubt) == (1, 0, 0)
    assert (fake.posts, len(fake.messages)) == (posts, 1)


def test_twilio_refusals_fail_for_good(plan_factory, fake_twilio):
    fake, url = fake_twilio
    fake.script = ["400"]
    plan_dir = plan_factory(2)
    report = send_plan(plan_dir, twilio(fake, url), now=NOW, clock=fixed(NOW))
    assert (report.sent, report.failed) == (1, 1)
    again = send_plan(plan_dir, twilio(fake, url), now=NOW, clock=fixed(NOW))
    assert (again.sent, again.skipped, again.states["failed"]) == (0, 1, 1)
    assert fake.posts == 2
    bad = TwilioAdapter(fake.account_sid, "wrong", base_url=url, from_="ACME")
    other = plan_factory(1, name="other", campaign_id="other")
    assert send_plan(other, bad, now=NOW, clock=fixed(NOW)).failed == 1


def test_twilio_schedules_future_windows_within_its_limits(plan_factory, fake_twilio):
    fake, url = fake_twilio
    plan_dir = plan_factory(3, staggered=True)
    early = NOW - dt.timedelta(hours=2)
    adapter = TwilioAdapter(
        fake.account_sid, fake.auth_token, base_url=url, messaging_service_sid="MG" + "1" * 32
    )
    report = send_plan(plan_dir, adapter, now=early, clock=fixed(early), ahead=dt.timedelta(days=1))
    assert report.sent == 3
    assert [(m["send_at"], m["status"]) for m in fake.messages] == [
        ("2025-03-03T09:00:00Z", "scheduled"),
        ("2025-03-03T09:01:00Z", "scheduled"),
        ("2025-03-03T09:02:00Z", "scheduled"),
    ]
    with pytest.raises(TwilioValidationError, match="35118"):
        validate_send_at(NOW + dt.timedelta(hours=1), NOW, messaging_service_sid=None)
    for lead, ok in [(299, False), (300, True), (35 * 86400, True), (35 * 86400 + 1, False)]:
        if ok:
            assert validate_send_at(
                NOW + dt.timedelta(seconds=lead), NOW, messaging_service_sid="MG1"
            ).endswith("Z")
        else:
            with pytest.raises(TwilioValidationError, match="35114"):
                validate_send_at(NOW + dt.timedelta(seconds=lead), NOW, messaging_service_sid="MG1")


# -- Kannel client against a scripted sendsms -----------------------------------------------------


@pytest.fixture
def fake_sendsms():
    """A sendsms imitation answering from a script: (status, body) or "drop"."""
    state = {"script": [], "requests": []}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            return None

        def do_GET(self):  # noqa: N802
            state["requests"].append(self.path)
            action = (
                state["script"].pop(0) if state["script"] else (202, "0: Accepted for delivery")
            )
            if action == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            code, body = action
            raw = body.encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/sendsms"
    server.shutdown()
    server.server_close()


def kannel_client(url: str, **kw) -> KannelAdapter:
    options = {
        "username": "tester",
        "password": "foobar",
        "backoff": 0.01,
        "reconcile_wait": 0.3,
        "receipt_wait": 0,
    }
    return KannelAdapter(url, **{**options, **kw})


def test_kannel_request_chooses_coding_and_carries_its_own_id(plan_factory, fake_sendsms):
    state, url = fake_sendsms
    plan_dir = plan_factory(2, texts=["Plain GSM €", "Кириллица"])
    report = send_plan(plan_dir, kannel_client(url), now=NOW, clock=fixed(NOW))
    assert report.sent == 2
    from urllib.parse import parse_qs, urlsplit

    params = [{k: v[0] for k, v in parse_qs(urlsplit(p).query).items()} for p in state["requests"]]
    by_text = {p["text"]: p for p in params}
    assert "coding" not in by_text["Plain GSM €"] and by_text["Кириллица"]["coding"] == "2"
    with Ledger(plan_dir) as ledger:
        keys = {r.body: r.idempotency_key for r in ledger.rows()}
    for text, p in by_text.items():
        assert p["charset"] == "UTF-8" and p["dlr-mask"] == "31" and p["from"] == "ACME"
        assert p["dlr-url"].endswith(f"/kannel?key={keys[text]}&status=%d&answer=%A&ts=%T")


def test_kannel_errors_retry_refuse_or_reconcile(plan_factory, fake_sendsms):
    state, url = fake_sendsms
    plan_dir = plan_factory(3)
    state["script"] = [
        (503, "Temporary failure"),
        (202, "0: Accepted for delivery"),  # retried
        (403, "Not routable. Do not try again."),  # refused
        "drop",
    ]  # ambiguous: no report arrives -> not sent, stays pending
    report = send_plan(plan_dir, kannel_client(url), now=NOW, clock=fixed(NOW))
    assert (report.sent, report.failed, report.pending, report.in_doubt) == (1, 2, 1, 0)
    assert len(state["requests"]) == 4
    again = send_plan(plan_dir, kannel_client(url), now=NOW, clock=fixed(NOW))
    assert (again.sent, again.skipped, again.states["failed"]) == (1, 1, 1)


def test_kannel_unreachable_leaves_messages_pending(plan_factory):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plan_dir = plan_factory(2)
    report = send_plan(
        plan_dir,
        kannel_client(f"http://127.0.0.1:{port}/cgi-bin/sendsms", max_attempts=3),
        now=NOW,
        clock=fixed(NOW),
    )
    assert (report.sent, report.failed, report.pending, report.in_doubt) == (0, 2, 2, 0)
    with Ledger(plan_dir) as ledger:
        assert all(
            "unreachable" in (r[0] or "") for r in ledger._con.execute("SELECT error FROM sends")
        )


def test_kannel_ambiguous_send_is_reconciled_by_its_delivery_report(plan_factory, fake_sendsms):
    state, url = fake_sendsms
    plan_dir = plan_factory(1)
    adapter = kannel_client(url, reconcile_wait=5)
    state["script"] = ["drop"]

    def report_later() -> None:  # the gateway had the message: its report arrives
        import time

        while adapter.server is None or not state["requests"]:
            time.sleep(0.01)
        time.sleep(0.1)
        with Ledger(plan_dir) as ledger:
            key = ledger.rows()[0].idempotency_key
        urllib.request.urlopen(
            f"{adapter.dlr_base}/kannel?key={key}&status=8&answer=ACK%2F&ts=0", timeout=5
        ).read()

    thread = threading.Thread(target=report_later)
    thread.start()
    report = send_plan(plan_dir, adapter, now=NOW, clock=fixed(NOW))
    thread.join()
    assert (report.sent, report.failed, len(state["requests"])) == (1, 0, 1)


def test_one_sender_per_plan(plan_factory):
    import fcntl
    import os

    plan_dir = plan_factory(1)
    fd = os.open(plan_dir / ".send.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(LedgerError, match="another `send` is running"):
            send_plan(plan_dir, OutboxAdapter(), now=NOW, clock=fixed(NOW))
    finally:
        os.close(fd)
    assert send_plan(plan_dir, OutboxAdapter(), now=NOW, clock=fixed(NOW)).sent == 1
