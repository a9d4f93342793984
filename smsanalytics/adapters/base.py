"""The sending-adapter protocol and the driver that sends a plan exactly once.

:func:`send_plan` is the only way a plan leaves the machine. It

1. refuses a plan directory that was not validated, whose files changed since, or whose rules
   file is not the one in force (:func:`verify_plan`);
2. loads the plan into the durable ledger (:class:`~smsanalytics.adapters.ledger.Ledger`);
3. drops contacts who opted out since planning (warehouse ``contacts.opted_out_at`` and STOP
   replies), expires messages whose window is over;
4. asks the adapter to reconcile messages left *in doubt* by an earlier crash before anything
   is resent;
5. sends the messages that are due (window open at ``now``, or starting within ``ahead`` for an
   adapter that schedules), recording the intent before each request and the outcome after,
   at a bounded rate;
6. writes the sent messages and their receipts to the warehouse.

Adapters implement :class:`SendingAdapter`; they never see a message whose window is closed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from smsanalytics.adapters.ledger import Ledger, LedgerError, LedgerRow, sync_to_warehouse
from smsanalytics.rules import rules_path, rules_sha256

__all__ = [
    "OutcomeKind",
    "Outcome",
    "SendingAdapter",
    "PlanRefusedError",
    "SendReport",
    "RateLimiter",
    "verify_plan",
    "send_plan",
    "failpoint",
]

UTC = dt.UTC
OutcomeKind = Literal["accepted", "rejected", "not_sent", "unknown"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one message handed to an adapter.

    Attributes
    ----------
    kind
        ``accepted`` (the gateway has it), ``rejected`` (refused for good), ``not_sent``
        (certainly never reached the gateway: safe to retry) or ``unknown`` (may have reached it:
        reconcile before any resend).
    provider_message_id
        The gateway's id (Twilio ``sid``), when it gives one.
    status
        Delivery status the gateway reported (``queued``, ``sent`` …), when any.
    scheduled_at
        When a scheduling gateway will send it (Twilio ``SendAt``).
    error, error_code
        Why it was rejected or not sent.
    """

    kind: OutcomeKind
    provider_message_id: str | None = None
    status: str | None = None
    scheduled_at: dt.datetime | None = None
    error: str | None = None
    error_code: str | None = None


@runtime_checkable
class SendingAdapter(Protocol):
    """A way out for messages (outbox files, Kannel, Twilio).

    Attributes
    ----------
    name
        ``outbox``, ``kannel``, ``twilio``.
    max_schedule_ahead
        How far ahead of a window's start the adapter may be handed a message (a gateway that
        schedules, like Twilio, holds it until then); ``timedelta(0)`` for send-now adapters.
    batch_by_window
        Whether :meth:`send` takes every due message of one window at once (the outbox) rather
        than one message per call.
    """

    name: str
    max_schedule_ahead: dt.timedelta
    batch_by_window: bool

    def open(self, ledger: Ledger, plan_dir: Path) -> None:
        """Prepare (connections, receipt endpoint) before the first message."""

    def send(self, batch: Sequence[LedgerRow], *, now: dt.datetime) -> list[Outcome]:
        """Send ``batch`` (intent already recorded) and return one outcome per message."""

    def reconcile(self, in_doubt: Sequence[LedgerRow]) -> list[Outcome]:
        """For messages whose earlier send may or may not have reached the gateway, find out:
        ``accepted`` (it did), ``not_sent`` (it certainly did not) or ``unknown``."""

    def close(self) -> None:
        """Release resources (wait briefly for outstanding receipts, stop the endpoint)."""


class PlanRefusedError(RuntimeError):
    """A plan directory the adapters will not send; the message says why and what to do."""


@dataclass(frozen=True)
class SendReport:
    """Counts of one ``send`` run.

    Attributes
    ----------
    sent
        Messages the gateway accepted during this run.
    skipped
        Messages already sent before this run (including those an interrupted run had sent,
        found by reconciliation): never sent again.
    failed
        Messages the gateway refused for good, or that could not reach it during this run
        (the latter stay ``pending`` and are retried by the next run).
    pending
        Messages still to send: windows not open yet, or the gateway could not be reached
        during this run (run ``send`` again).
    expired, dropped
        Windows that closed before sending; contacts who opted out since planning.
    in_doubt
        Messages whose fate could not be established (not resent; reconciled next run).
    states, statuses
        Ledger rows by state and by delivery status after the run.
    warehouse
        What was written to the warehouse (messages, receipts, assignments, campaigns).
    """

    plan_id: str
    campaign_id: str
    adapter: str
    sent: int
    skipped: int
    failed: int
    pending: int
    expired: int
    dropped: int
    in_doubt: int
    states: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    warehouse: dict[str, int] | None = None


# --------------------------------------------------------------------------------------------
# fault injection (tests)
# --------------------------------------------------------------------------------------------

_FAILPOINT_ENV = "SMSANALYTICS_FAILPOINT"
_failpoint_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Test hook: kill this process with SIGKILL at the N-th pass through ``name``.

    Active only when ``SMSANALYTICS_FAILPOINT=name:N`` is set (the fault tests set it in a
    child process); otherwise a dictionary lookup. Points: ``before_intent``, ``after_intent``,
    ``after_send``, ``after_record``, ``outbox_before_rename`` and ``sync``.
    """
    spec = os.environ.get(_FAILPOINT_ENV)
    if not spec:
        return
    point, _, count = spec.partition(":")
    if point != name:
        return
    _failpoint_hits[name] = _failpoint_hits.get(name, 0) + 1
    if _failpoint_hits[name] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------


def verify_plan(plan_dir: str | Path, *, rules_file: str | Path | None = None) -> dict[str, Any]:
    """Check that a plan directory may be sent, and return its manifest.

    Parameters
    ----------
    plan_dir
        Directory written by :func:`smsanalytics.plan.write_plan`.
    rules_file
        The compliance rules in force (the ``compliance_rules`` setting; ``None`` = shipped).
        A plan validated against rules of its own (a campaign's ``[rules] file``, or rules
        passed to ``plan_sends``) is compared with that file instead.

    Raises
    ------
    PlanRefusedError
        When the manifest is missing or not validated, a file changed since planning, or the
        rules differ from those the plan was validated against.
    """
    folder = Path(plan_dir)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise PlanRefusedError(
            f"{folder} has no manifest.json: not a plan; run `smsanalytics plan` first"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PlanRefusedError(f"{manifest_path} is not valid JSON ({exc}); re-plan") from None
    if manifest.get("validated") is not True:
        raise PlanRefusedError(
            f"{folder}: the plan was not validated; re-plan with `smsanalytics plan`"
        )
    files = manifest.get("files", {})
    if "plan.parquet" not in files:
        raise PlanRefusedError(f"{folder}: the manifest lists no plan.parquet; re-plan")
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise PlanRefusedError(f"{path} is missing; re-plan")
        with open(path, "rb") as f:
            if hashlib.file_digest(f, "sha256").hexdigest() != digest:
                raise PlanRefusedError(f"{path} changed since the plan was validated; re-plan")
    recorded = manifest.get("rules", {})
    in_force = _plan_rules(manifest, rules_file)
    if not in_force.is_file() or rules_sha256(in_force) != recorded.get("sha256"):
        raise PlanRefusedError(
            f"the compliance rules changed since the plan was validated (plan: "
            f"{recorded.get('source')}, now: {in_force}); re-plan"
        )
    return manifest


def _plan_rules(manifest: dict[str, Any], rules_file: str | Path | None) -> Path:
    """The rules file a plan must still satisfy: the rules in force (the setting, or the shipped
    file) for a plan made with them, else the campaign's own file named in the manifest."""
    recorded = manifest.get("rules", {})
    if recorded.get("origin", "settings") == "settings":
        return rules_path(rules_file)
    return Path(recorded.get("source", ""))


class RateLimiter:
    """A token bucket: at most ``rate`` messages per second (bursts of one second's worth)."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"rate must be positive messages per second, got {rate!r}")
        self.rate = rate
        self._clock, self._sleep = clock, sleep
        self._tokens = 1.0
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self, n: int = 1) -> None:
        """Block until ``n`` messages may go."""
        if self.rate is None:
            return
        with self._lock:
            capacity = max(self.rate, 1.0)
            while True:
                now = self._clock()
                self._tokens = min(capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= min(n, capacity):
                    self._tokens -= n
                    return
                self._sleep((min(n, capacity) - self._tokens) / self.rate)


def _drop_opted_out(ledger: Ledger, warehouse: Any, rules: Path, now: dt.datetime) -> int:
    """Pending rows of contacts who opted out, lost their consent or left the warehouse since
    planning become ``dropped``."""
    import polars as pl

    from smsanalytics import compliance

    ids = sorted(set(ledger.contacts("pending")))
    if not ids:
        return 0
    wanted = pl.DataFrame({"contact_id": ids}, schema={"contact_id": pl.Int64})
    warehouse.con.register("_send_ids", wanted)
    try:
        contacts = warehouse.con.sql(
            "SELECT c.contact_id, c.opted_out_at, c.consent_at FROM contacts c "
            "JOIN _send_ids USING (contact_id)"
        ).pl()
        inbound = warehouse.con.sql(
            "SELECT i.contact_id, i.received_at, i.keyword, i.body FROM inbound i JOIN _send_ids "
            "USING (contact_id)"
        ).pl()
    finally:
        warehouse.con.unregister("_send_ids")
    missing = sorted(set(ids) - set(contacts.get_column("contact_id").to_list()))
    opted = compliance.opted_out_contacts(
        contacts, compliance.load_rules(rules), at=now, inbound=inbound
    )
    out = opted.filter(pl.col("is_opted_out")).get_column("contact_id").to_list()
    no_consent = contacts.filter(
        pl.col("consent_at").is_null() | (pl.col("consent_at") > now)
    ).get_column("contact_id")
    n = ledger.drop_contacts(out, "opted out since planning")
    n += ledger.drop_contacts(no_consent.to_list(), "consent withdrawn since planning")
    n += ledger.drop_contacts(missing, "contact no longer in the warehouse")
    return n


def _open_warehouse(warehouse: Any) -> tuple[Any, bool]:
    from smsanalytics.warehouse import Warehouse

    if isinstance(warehouse, Warehouse):
        return warehouse, False
    return Warehouse(warehouse), True


def send_plan(
    plan_dir: str | Path,
    adapter: SendingAdapter,
    *,
    warehouse: Any = None,
    rules_file: str | Path | None = None,
    now: dt.datetime | None = None,
    ahead: dt.timedelta = dt.timedelta(0),
    rate: float | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    max_messages: int | None = None,
) -> SendReport:
    """Send the due messages of a plan directory through ``adapter``, exactly once.

    Parameters
    ----------
    plan_dir
        Directory written by :func:`smsanalytics.plan.write_plan`; the ledger lives there.
    adapter
        A :class:`SendingAdapter`.
    warehouse
        A :class:`~smsanalytics.warehouse.Warehouse` or its path: opt-outs since planning are
        read from it and the sent messages and receipts written to it. ``None`` skips both
        (the late opt-out check then relies on the plan-time screen only).
    rules_file
        Compliance rules in force (the ``compliance_rules`` setting).
    now
        The instant used to pick due messages (default: the clock). Windows are re-checked
        against ``clock`` right before each message.
    ahead
        For scheduling adapters: also hand over messages whose window starts within ``ahead``
        (capped by the adapter's ``max_schedule_ahead``).
    rate
        Messages per second (default: unlimited).
    clock
        Time source (default ``datetime.now(UTC)``; tests pass a fixed clock).
    max_messages
        Send at most this many messages in this run.

    Returns
    -------
    SendReport

    Raises
    ------
    PlanRefusedError
        When the plan is not validated, changed, or its rules changed (nothing is sent).
    LedgerError
        When another ``send`` is running on the same plan directory.
    """
    manifest = verify_plan(plan_dir, rules_file=rules_file)
    folder = Path(plan_dir)
    clock = clock or (lambda: dt.datetime.now(UTC))
    now = (now or clock()).astimezone(UTC)
    ahead = min(ahead, adapter.max_schedule_ahead)
    limiter = RateLimiter(rate)
    lock = _lock(folder)
    ledger = Ledger(folder)
    sent = skipped = failed = dropped = 0
    try:
        ledger.initialise(folder, manifest)
        skipped += ledger.counts()["sent"]
        if warehouse is not None:
            wh, owned = _open_warehouse(warehouse)
            try:
                dropped = _drop_opted_out(ledger, wh, _plan_rules(manifest, rules_file), now)
            finally:
                if owned:
                    wh.close()
        adapter.open(ledger, folder)
        try:
            # intents left by an earlier run (crash, Ctrl-C): sent by then, so not sent again
            accepted, _ = _reconcile(ledger, adapter, now)
            skipped += accepted
            ledger.expire(now)
            due = ledger.due(now, ahead)
            if max_messages is not None:
                due = due[:max_messages]
            for batch in _batches(due, adapter.batch_by_window):
                at = clock().astimezone(UTC)
                late = [r for r in batch if r.window_end_at <= at]
                if late:
                    ledger.mark_pending_as(
                        [r.idempotency_key for r in late], "expired", "window ended before sending"
                    )
                    batch = [r for r in batch if r.window_end_at > at]
                    if not batch:
                        continue
                limiter.acquire(len(batch))
                failpoint("before_intent")
                ledger.mark_intent([r.idempotency_key for r in batch], adapter.name, at)
                failpoint("after_intent")
                outcomes = adapter.send(batch, now=at)
                failpoint("after_send")
                done = clock().astimezone(UTC)
                for row, outcome in zip(batch, outcomes, strict=True):
                    if outcome.kind == "accepted":
                        _record_accepted(ledger, row.idempotency_key, outcome, done)
                        sent += 1
                    elif outcome.kind == "rejected":
                        ledger.mark_failed(
                            row.idempotency_key,
                            outcome.error or "rejected",
                            error_code=outcome.error_code,
                            at=done,
                        )
                        failed += 1
                    elif outcome.kind == "not_sent":
                        ledger.mark_not_sent(row.idempotency_key, outcome.error or "not sent")
                        failed += 1
                    else:
                        ledger.mark_in_doubt(
                            row.idempotency_key, outcome.error or "outcome unknown"
                        )
                    failpoint("after_record")
            # messages that ended in doubt during this run: one more reconciliation pass
            accepted, not_sent = _reconcile(ledger, adapter, clock())
            sent += accepted
            failed += not_sent
        finally:
            adapter.close()
        synced = None
        if warehouse is not None:
            failpoint("sync")
            wh, owned = _open_warehouse(warehouse)
            try:
                result = sync_to_warehouse(ledger, wh, plan_dir=folder)
            finally:
                if owned:
                    wh.close()
            synced = {
                "messages": result.messages,
                "receipts": result.receipts,
                "assignments": result.assignments,
                "campaigns": result.campaigns,
            }
        states = ledger.counts()
        return SendReport(
            plan_id=manifest["plan_id"],
            campaign_id=manifest["campaign_id"],
            adapter=adapter.name,
            sent=sent,
            skipped=skipped,
            failed=failed,
            pending=states["pending"],
            expired=states["expired"],
            dropped=dropped,
            in_doubt=states["intent"],
            states=states,
            statuses=ledger.status_counts(),
            warehouse=synced,
        )
    finally:
        ledger.close()
        os.close(lock)  # releases the flock (a crashed process releases it too)


def _record_accepted(ledger: Ledger, key: str, outcome: Outcome, at: dt.datetime) -> None:
    """``intent`` → ``sent`` for a message the gateway accepted."""
    ledger.mark_sent(
        key,
        at=at,
        provider_message_id=outcome.provider_message_id,
        status=outcome.status,
        scheduled_at=outcome.scheduled_at,
    )


def _reconcile(ledger: Ledger, adapter: SendingAdapter, at: Any) -> tuple[int, int]:
    """Ask the gateway about every message still in ``intent``; return (accepted, not sent).

    Accepted ones become ``sent``; ones the gateway never received become ``not_sent`` (due
    again); those it cannot tell stay in ``intent`` and are never resent blindly.
    """
    doubtful = ledger.rows("intent")
    accepted = not_sent = 0
    if doubtful:
        for row, outcome in zip(doubtful, adapter.reconcile(doubtful), strict=True):
            if outcome.kind == "accepted":
                _record_accepted(ledger, row.idempotency_key, outcome, at)
                accepted += 1
            elif outcome.kind == "not_sent":
                ledger.mark_not_sent(
                    row.idempotency_key, outcome.error or "not received by the gateway"
                )
                not_sent += 1
    return accepted, not_sent


def _lock(folder: Path) -> int:
    """An exclusive lock on ``DIR/.send.lock`` for the duration of a send (one sender per plan)."""
    import fcntl

    fd = os.open(folder / ".send.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LedgerError(f"another `send` is running on {folder}; wait for it to finish") from None
    return fd


def _batches(rows: Sequence[LedgerRow], by_window: bool) -> list[list[LedgerRow]]:
    if not by_window:
        return [[r] for r in rows]
    groups: dict[tuple[dt.datetime, dt.datetime], list[LedgerRow]] = {}
    for r in rows:
        groups.setdefault((r.window_start_at, r.window_end_at), []).append(r)
    return list(groups.values())
