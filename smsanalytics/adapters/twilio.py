"""Twilio-shaped HTTP adapter: the Programmable Messaging ``Messages`` resource.

``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`` (HTTP basic auth, form body)
with ``To``, ``From`` or ``MessagingServiceSid``, ``Body``, ``StatusCallback`` (the receipt
endpoint, with the message's idempotency key in the query) and, for a window that opens
later, ``ScheduleType=fixed`` and ``SendAt`` — validated locally first: Twilio schedules only
through a Messaging Service, between 300 seconds and 35 days ahead (errors 35114/35118).

Behaviour on errors, as Twilio documents it:

- ``429`` (error 20429): the request was not processed and is safe to retry: wait
  ``Retry-After`` (or an exponential backoff) and retry;
- ``5xx`` or a connection that breaks after the request was sent: the message *may* have been
  created. Before any resend the adapter reconciles: it lists the recent messages to the same
  number (``GET …/Messages.json?To=…``) and claims one with the same body created since the
  intent was recorded and not already claimed; found → sent, not found → retry;
- connection refused: nothing was sent; retried with backoff;
- other ``4xx`` (invalid number 21211, unsubscribed recipient 21610 …): refused for good.

References
----------
Twilio, *Message resource*, https://www.twilio.com/docs/messaging/api/message-resource.
Twilio, *Error 20429* (429 is never processed, retry with backoff), *Errors 35114/35118*
(SendAt between 300 s and 35 days; scheduling needs a Messaging Service).
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import http.client
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from smsanalytics.adapters.base import Outcome
from smsanalytics.adapters.ledger import Ledger, LedgerRow
from smsanalytics.adapters.receipts import TWILIO_STATUS, ReceiptServer

__all__ = [
    "TwilioAdapter",
    "TwilioValidationError",
    "SCHEDULE_MIN",
    "SCHEDULE_MAX",
    "validate_send_at",
]

UTC = dt.UTC
#: Twilio's scheduling bounds (error 35114): ``SendAt`` at least 300 s and at most 35 days ahead.
SCHEDULE_MIN = dt.timedelta(seconds=300)
SCHEDULE_MAX = dt.timedelta(days=35)
_SCHEDULE_MARGIN = dt.timedelta(seconds=60)  # request latency: stay clear of the minimum


class TwilioValidationError(ValueError):
    """A request Twilio would refuse, caught before sending (the message names the rule)."""


def validate_send_at(
    send_at: dt.datetime, now: dt.datetime, *, messaging_service_sid: str | None
) -> str:
    """Check a scheduled send time as Twilio does; return ``SendAt`` (``YYYY-MM-DDTHH:MM:SSZ``).

    Raises
    ------
    TwilioValidationError
        When there is no Messaging Service (35118) or ``send_at`` is not between 300 seconds
        and 35 days after ``now`` (35114).

    Examples
    --------
    >>> now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    >>> validate_send_at(now + dt.timedelta(minutes=5), now, messaging_service_sid="MG1")
    '2026-12-01T09:05:00Z'
    >>> validate_send_at(now + dt.timedelta(minutes=4), now, messaging_service_sid="MG1")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    smsanalytics.adapters.twilio.TwilioValidationError: SendAt ... 300 s to 35 days (error 35114)
    """
    if not messaging_service_sid:
        raise TwilioValidationError("scheduling needs a MessagingServiceSid (Twilio error 35118)")
    if send_at.tzinfo is None:
        raise TwilioValidationError(f"SendAt must be timezone-aware, got {send_at!r}")
    lead = send_at - now
    if not SCHEDULE_MIN <= lead <= SCHEDULE_MAX:
        raise TwilioValidationError(
            f"SendAt {send_at.isoformat()} is {lead} ahead; Twilio accepts 300 s to 35 days "
            "(error 35114)"
        )
    return send_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TwilioAdapter:
    """Send through a Twilio-shaped Messages API (see the module docstring).

    Parameters
    ----------
    account_sid, auth_token
        Credentials (HTTP basic auth).
    base_url
        ``https://api.twilio.com`` or a local imitation for tests.
    from_
        Sender number or alphanumeric id (``From``); or
    messaging_service_sid
        A Messaging Service (``MessagingServiceSid``), required to schedule.
    status_callback
        Base URL of a receipt endpoint reachable by Twilio (``…/twilio?key=`` is appended);
        ``serve_receipts=True`` starts a local one (useful with a local imitation).
    receipt_wait
        With ``serve_receipts``: seconds to wait, when closing, for the final status callbacks of
        the messages just sent before the endpoint stops.
    timeout
        Seconds per request.
    max_attempts, backoff, max_backoff
        Attempts per message for 429, 5xx and connection errors; waits of ``backoff × 2^n``
        seconds (at most ``max_backoff``) unless Twilio sends ``Retry-After``.
    schedule
        Use ``ScheduleType=fixed`` for windows that open later (with ``send --ahead``).
    """

    name = "twilio"
    batch_by_window = False

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        base_url: str = "https://api.twilio.com",
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        serve_receipts: bool = False,
        receipt_host: str = "127.0.0.1",
        receipt_port: int = 0,
        receipt_wait: float = 3.0,
        timeout: float = 15.0,
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        schedule: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (from_ or messaging_service_sid):
            raise ValueError("give from_ (a sender) or messaging_service_sid")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be http(s)://host[:port], got {base_url!r}")
        self.account_sid, self.auth_token = account_sid, auth_token
        self._scheme, self._host = parts.scheme, parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self.from_, self.messaging_service_sid = from_, messaging_service_sid
        self.status_callback = status_callback
        self.serve_receipts = serve_receipts
        self.receipt_host, self.receipt_port = receipt_host, receipt_port
        self.receipt_wait = receipt_wait
        self._sent_keys: list[str] = []
        self.timeout = timeout
        self.max_attempts, self.backoff, self.max_backoff = max_attempts, backoff, max_backoff
        self.schedule = schedule
        self.max_schedule_ahead = (
            SCHEDULE_MAX if schedule and messaging_service_sid else dt.timedelta(0)
        )
        self._sleep = sleep
        self.server: ReceiptServer | None = None
        self._ledger: Ledger | None = None
        self._path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"

    # -- lifecycle --------------------------------------------------------------------------
    def open(self, ledger: Ledger, plan_dir: Path) -> None:
        self._ledger = ledger
        if self.serve_receipts and self.server is None:
            self.server = ReceiptServer(
                ledger.path, host=self.receipt_host, port=self.receipt_port
            ).start()
            self.status_callback = self.server.url

    def close(self) -> None:
        try:
            if (
                self.server is not None
                and self._ledger is not None
                and self._sent_keys
                and self.receipt_wait > 0
            ):
                self._ledger.wait_for_receipts(self._sent_keys, self.receipt_wait, final=True)
        finally:
            if self.server is not None:
                self.server.stop()
                self.server = None

    # -- HTTP -------------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, body: str | None = None
    ) -> tuple[str, int | None, dict, dict]:
        """("connect"|"after", None, {}, {"error": …}) or ("http", status, headers, json)."""
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        auth = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            try:
                conn.connect()
            except OSError as exc:
                return "connect", None, {}, {"error": f"{type(exc).__name__}: {exc}"}
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                return "after", None, {}, {"error": f"{type(exc).__name__}: {exc}"}
            try:
                data = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                data = {"message": raw.decode("utf-8", "replace")[:200]}
            return "http", resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def _wait(self, attempt: int, headers: dict) -> None:
        retry_after = headers.get("retry-after")
        if retry_after is not None and retry_after.strip().isdigit():
            delay = float(retry_after)
        else:
            delay = self.backoff * 2**attempt
        self._sleep(min(delay, self.max_backoff))

    # -- sending ----------------------------------------------------------------------------
    def form(self, row: LedgerRow, now: dt.datetime) -> dict[str, str]:
        """The form fields of the create request for one message.

        Raises
        ------
        TwilioValidationError
            When the window has not opened and cannot be scheduled inside it.
        """
        fields = {"To": row.phone_e164, "Body": row.body}
        if self.messaging_service_sid:
            fields["MessagingServiceSid"] = self.messaging_service_sid
        if self.from_:
            fields["From"] = self.from_
        if self.status_callback:
            fields["StatusCallback"] = (
                f"{self.status_callback.rstrip('/')}/twilio?key={row.idempotency_key}"
            )
        if row.window_start_at > now:
            if not self.schedule:
                raise TwilioValidationError("the window has not opened and scheduling is off")
            send_at = max(row.window_start_at, now + SCHEDULE_MIN + _SCHEDULE_MARGIN).replace(
                microsecond=0
            )
            if send_at < row.window_start_at:
                send_at += dt.timedelta(seconds=1)
            if send_at >= row.window_end_at:
                raise TwilioValidationError(
                    f"window [{row.window_start_at.isoformat()}, {row.window_end_at.isoformat()}) "
                    "is too "
                    "close to schedule (Twilio needs SendAt 300 s ahead); send it when it opens"
                )
            fields["ScheduleType"] = "fixed"
            fields["SendAt"] = validate_send_at(
                send_at, now, messaging_service_sid=self.messaging_service_sid
            )
        return fields

    def _accepted(self, data: dict) -> Outcome:
        scheduled = data.get("send_at") or None
        return Outcome(
            "accepted",
            provider_message_id=data.get("sid"),
            status=TWILIO_STATUS.get(str(data.get("status")), "queued"),
            scheduled_at=dt.datetime.fromisoformat(scheduled.replace("Z", "+00:00"))
            if isinstance(scheduled, str)
            else None,
        )

    def _send_one(self, row: LedgerRow, now: dt.datetime) -> Outcome:
        try:
            fields = self.form(row, now)
        except TwilioValidationError as exc:
            return Outcome("not_sent", error=str(exc))
        body = urlencode(fields)
        intent_at = row.intent_at or now
        error = ""
        attempt = 0
        while attempt < self.max_attempts:
            kind, status, headers, data = self._request("POST", self._path, body)
            if kind == "http" and status in (200, 201):
                return self._accepted(data)
            if kind == "http" and status == 429:  # never processed: safe to retry
                error = f"429 Too Many Requests ({data.get('code', 20429)})"
                self._wait(attempt, headers)
                attempt += 1
                continue
            if kind == "http" and status is not None and 400 <= status < 500:
                return Outcome(
                    "rejected",
                    error=f"Twilio {status}: {data.get('message', '')}",
                    error_code=str(data.get("code", status)),
                )
            if kind == "connect":
                error = f"Twilio unreachable: {data['error']}"
                self._wait(attempt, {})
                attempt += 1
                continue
            # 5xx, or no answer after the request left: it may exist. Reconcile before resending.
            error = (
                f"Twilio {status}"
                if kind == "http"
                else f"no answer after the request: {data['error']}"
            )
            self._wait(attempt, headers)
            found = self._find(row, intent_at)
            if found is None:
                return Outcome("unknown", error=f"{error}; reconciliation failed")
            if found is not False:
                return found
            attempt += 1
        if error.startswith(("429", "Twilio unreachable")):
            return Outcome("not_sent", error=error)
        return Outcome("unknown", error=error)

    def send(self, batch: Sequence[LedgerRow], *, now: dt.datetime) -> list[Outcome]:
        outcomes = [self._send_one(row, now) for row in batch]
        self._sent_keys.extend(
            r.idempotency_key for r, o in zip(batch, outcomes, strict=True) if o.kind == "accepted"
        )
        return outcomes

    # -- reconciliation ---------------------------------------------------------------------
    def _find(self, row: LedgerRow, since: dt.datetime) -> Outcome | bool | None:
        """The message made for ``row`` (accepted Outcome); ``False``: none; ``None``: unknown."""
        query = urlencode({"To": row.phone_e164, "PageSize": 50})
        kind, status, _headers, data = self._request("GET", f"{self._path}?{query}")
        if kind != "http" or status != 200:
            return None
        claimed = self._ledger.known_provider_ids() if self._ledger is not None else set()
        earliest = since - dt.timedelta(minutes=2)
        for message in data.get("messages", []):
            if message.get("body") != row.body or message.get("sid") in claimed:
                continue
            created = message.get("date_created")
            try:
                created_at = email.utils.parsedate_to_datetime(created) if created else None
            except (TypeError, ValueError):
                created_at = None
            if created_at is not None and created_at < earliest:
                continue
            return self._accepted(message)
        return False

    def reconcile(self, in_doubt: Sequence[LedgerRow]) -> list[Outcome]:
        out = []
        for row in in_doubt:
            found = self._find(row, row.intent_at or dt.datetime.now(UTC))
            if found is None:
                out.append(Outcome("unknown", error="could not list messages to reconcile"))
            elif found is False:
                out.append(Outcome("not_sent", error="not found in Twilio's message list"))
            else:
                out.append(found)
        return out
