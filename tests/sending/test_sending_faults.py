"""Fault tests: the send process killed at seeded random points, gateways down, errors.

Each case runs ``send`` in a child process that SIGKILLs itself at the N-th pass through a
named failpoint (``SMSANALYTICS_FAILPOINT``), or is SIGKILLed by the test after a random delay,
then reruns it to completion, and checks the gateway's own record: every message of the plan
arrived exactly once (0 lost, 0 duplicated). Children import only the light adapters package.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from smsanalytics.adapters import Ledger, OutboxAdapter, TwilioAdapter, send_plan, verify_plan

UTC = dt.UTC
NOW = dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
N_MESSAGES = 12

CHILD = """
import datetime as dt, json, sys
from smsanalytics.adapters import OutboxAdapter, TwilioAdapter, send_plan
a = json.loads(sys.argv[1])
now = dt.datetime.fromisoformat(a["now"])
if a["adapter"] == "outbox":
    adapter = OutboxAdapter()
else:
    adapter = TwilioAdapter(a["sid"], a["token"], base_url=a["url"], from_="ACME",
                            backoff=0.001, max_backoff=0.01)
r = send_plan(a["plan"], adapter, now=now, clock=lambda: now)
print(json.dumps({"sent": r.sent, "skipped": r.skipped, "failed": r.failed}))
"""


def run_child(args: dict, failpoint: str | None = None, *, kill_after: float | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SMSANALYTICS_FAILPOINT", None)
    if failpoint:
        env["SMSANALYTICS_FAILPOINT"] = failpoint
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
    return proc.returncode


@pytest.fixture
def template(plan_factory):
    """A staggered plan (one window per message: one outbox file each) with its ledger loaded."""
    plan_dir = plan_factory(N_MESSAGES, staggered=True)
    with Ledger(plan_dir) as ledger:
        ledger.initialise(plan_dir, verify_plan(plan_dir))
    return plan_dir


def fresh(template: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(template, target)
    return target


def assert_all_sent(plan_dir: Path) -> set[str]:
    with Ledger(plan_dir) as ledger:
        assert ledger.counts()["sent"] == N_MESSAGES, ledger.counts()
        return {r.idempotency_key for r in ledger.rows("sent")}


POINTS = ["before_intent", "after_intent", "outbox_before_rename", "after_send", "after_record"]


def test_outbox_killed_at_seeded_random_points_loses_and_duplicates_nothing(template, tmp_path):
    rng = random.Random(20260301)
    later = NOW + dt.timedelta(hours=1)  # every window open
    killed = 0
    for case in range(12):
        plan_dir = fresh(template, tmp_path, f"outbox-{case}")
        args = {"adapter": "outbox", "plan": str(plan_dir), "now": later.isoformat()}
        for _crash in range(rng.choice([1, 2])):  # one or two crashes before the clean run
            point = rng.choice(POINTS)
            killed += run_child(args, f"{point}:{rng.randint(1, N_MESSAGES)}") == -signal.SIGKILL
        assert run_child(args) == 0
        keys = assert_all_sent(plan_dir)
        lines = [
            json.loads(line)
            for p in (plan_dir / "outbox").glob("*.jsonl")
            for line in p.read_text().splitlines()
        ]
        counts = Counter(line["idempotency_key"] for line in lines)
        assert set(counts) == keys and set(counts.values()) == {1}, f"case {case}: {counts}"
        assert not list((plan_dir / "outbox").glob(".*.tmp"))
    assert killed >= 10  # the points were really hit


def test_twilio_killed_at_seeded_random_points_sends_each_message_once(
    template, tmp_path, fake_twilio
):
    fake, url = fake_twilio
    rng = random.Random(7)
    killed = 0
    for case in range(12):
        fake.messages.clear()
        fake.script = [
            rng.choice(["500-created", "drop-created", "429", "500"])
            for _ in range(rng.randint(0, 2))
        ]
        plan_dir = fresh(template, tmp_path, f"twilio-{case}")
        args = {
            "adapter": "twilio",
            "plan": str(plan_dir),
            "now": (NOW + dt.timedelta(hours=1)).isoformat(),
            "sid": fake.account_sid,
            "token": fake.auth_token,
            "url": url,
        }
        point = rng.choice(["before_intent", "after_intent", "after_send", "after_record"])
        killed += run_child(args, f"{point}:{rng.randint(1, N_MESSAGES)}") == -signal.SIGKILL
        assert run_child(args) == 0
        assert_all_sent(plan_dir)
        per_number = Counter(m["to"] for m in fake.messages)
        assert len(per_number) == N_MESSAGES and set(per_number.values()) == {1}, (
            f"case {case}: {per_number}"
        )
    assert killed >= 10


def test_twilio_sigkill_at_random_times(template, tmp_path, fake_twilio):
    fake, url = fake_twilio
    fake.delay = 0.02  # a slow gateway: the kill lands mid-run
    rng = random.Random(99)
    for case in range(5):
        fake.messages.clear()
        plan_dir = fresh(template, tmp_path, f"random-{case}")
        args = {
            "adapter": "twilio",
            "plan": str(plan_dir),
            "now": (NOW + dt.timedelta(hours=1)).isoformat(),
            "sid": fake.account_sid,
            "token": fake.auth_token,
            "url": url,
        }
        run_child(args, kill_after=rng.uniform(0.1, 0.8))
        assert run_child(args) == 0
        assert_all_sent(plan_dir)
        assert set(Counter(m["to"] for m in fake.messages).values()) == {1}
        assert len(fake.messages) == N_MESSAGES


def test_gateway_down_then_up(template, tmp_path, fake_twilio):
    import socket

    fake, url = fake_twilio
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    plan_dir = fresh(template, tmp_path, "down")
    at = NOW + dt.timedelta(hours=1)
    adapter = TwilioAdapter(
        fake.account_sid,
        fake.auth_token,
        base_url=dead,
        from_="ACME",
        max_attempts=2,
        sleep=lambda s: None,
    )
    down = send_plan(plan_dir, adapter, now=at, clock=lambda: at)
    assert (down.sent, down.failed, down.pending, down.in_doubt) == (0, N_MESSAGES, N_MESSAGES, 0)
    up = send_plan(
        plan_dir,
        TwilioAdapter(fake.account_sid, fake.auth_token, base_url=url, from_="ACME"),
        now=at,
        clock=lambda: at,
    )
    assert (up.sent, up.skipped, up.failed) == (N_MESSAGES, 0, 0)
    assert len(fake.messages) == N_MESSAGES


def test_ctrl_c_during_a_send_is_reconciled_on_rerun(template, tmp_path):
    plan_dir = fresh(template, tmp_path, "ctrl-c")
    at = NOW + dt.timedelta(hours=1)

    class Interrupting(OutboxAdapter):
        calls = 0

        def send(self, batch, *, now):
            Interrupting.calls += 1
            if Interrupting.calls == 4:
                super().send(batch, now=now)  # the file is written, then Ctrl-C
                raise KeyboardInterrupt
            return super().send(batch, now=now)

    with pytest.raises(KeyboardInterrupt):
        send_plan(plan_dir, Interrupting(), now=at, clock=lambda: at)
    with Ledger(plan_dir) as ledger:
        assert ledger.counts()["intent"] == 1
    report = send_plan(plan_dir, OutboxAdapter(), now=at, clock=lambda: at)
    assert (report.sent, report.skipped) == (N_MESSAGES - 4, 4)
    lines = [
        line for p in (plan_dir / "outbox").glob("*.jsonl") for line in p.read_text().splitlines()
    ]
    assert len(lines) == N_MESSAGES
