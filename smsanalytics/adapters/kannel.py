"""Kannel (the Debian SMS gateway) through its HTTP ``sendsms`` API.

Per message: one ``GET /cgi-bin/sendsms`` on a fresh connection with ``charset=UTF-8`` and
``coding=2`` when the text is not GSM-7 (Kannel otherwise turns unsupported characters into
``?`` and still answers 202), ``dlr-mask=31`` and a ``dlr-url`` carrying the message's
idempotency key (Kannel 1.4.5 returns no message id), pointing at the receipt endpoint this
adapter runs (:class:`~smsanalytics.adapters.receipts.ReceiptServer`).

Outcomes:

- ``202`` (``0: Accepted for delivery``, ``3: Queued for later delivery``) → accepted;
- ``4xx`` (not routable, bad number, authorisation) → rejected for good;
- connection refused / unreachable, and ``5xx`` (Kannel's "temporary failure, try again") →
  retried with exponential backoff; still failing → not sent (the message stays pending and the
  next run sends it): the request never got in, so no duplicate is possible;
- the connection breaks or times out *after* the request was written → unknown: the message may
  be in Kannel. Kannel has no query API, so reconciliation waits (``reconcile_wait`` seconds)
  for a delivery report of that key: one arrives → it was sent; none → it was not, and it is
  sent again. This assumes a message Kannel accepted reports back (DLR 8 or 16) within
  ``reconcile_wait`` while the receipt endpoint is up; Kannel retries failed callbacks with
  ``http-request-retry``. Keep ``reconcile_wait`` above the smsbox's retry window.
"""

from __future__ import annotations

import datetime as dt
import http.client
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from smsanalytics.adapters.base import Outcome
from smsanalytics.adapters.ledger import Ledger, LedgerRow
from smsanalytics.adapters.receipts import ReceiptServer

__all__ = ["KannelAdapter", "needs_ucs2"]


def needs_ucs2(encoding: str | None) -> bool:
    """Whether a message needs ``coding=2``: anything the plan did not find to be GSM-7.

    The plan computed each text's encoding with :func:`smsanalytics.messages.encoding.inspect`
    (the GSM 03.38 alphabet Kannel also uses); a message of unknown encoding goes as UCS-2,
    which can cost a segment but never turns a character into ``?``.
    """
    return encoding != "GSM-7"


class KannelAdapter:
    """Send through Kannel's ``sendsms`` HTTP interface (see the module docstring).

    Parameters
    ----------
    url
        The sendsms URL, e.g. ``http://127.0.0.1:13013/cgi-bin/sendsms``.
    username, password
        A ``sendsms-user`` of the smsbox.
    sender
        ``from`` (default: each message's ``sender_id``, else the smsbox's ``global-sender``).
    receipt_host, receipt_port
        Where this adapter's receipt endpoint listens (port 0 = free port).
    receipt_url
        Public base URL of the receipt endpoint when Kannel cannot reach ``receipt_host``
        directly (a proxy, another host); ``serve_receipts=False`` uses an endpoint run
        elsewhere (``smsanalytics receipts serve``).
    dlr_mask
        Kannel DLR mask (31 = delivered, undelivered, buffered, SMSC accepted, SMSC rejected).
    timeout
        Seconds to wait for Kannel's answer.
    max_attempts, backoff, max_backoff
        Retries of connection errors and 5xx: waits of ``backoff × 2^n`` seconds, at most
        ``max_backoff``.
    reconcile_wait
        Seconds to wait for a delivery report of a message in doubt before sending it again.
    receipt_wait
        Seconds to wait, when closing, for the final reports (delivered, undelivered, failed)
        of the messages just sent, before the endpoint stops.
    """

    name = "kannel"
    batch_by_window = False
    max_schedule_ahead = dt.timedelta(0)

    def __init__(
        self,
        url: str = "http://127.0.0.1:13013/cgi-bin/sendsms",
        *,
        username: str,
        password: str,
        sender: str | None = None,
        receipt_host: str = "127.0.0.1",
        receipt_port: int = 0,
        receipt_url: str | None = None,
        serve_receipts: bool = True,
        dlr_mask: int = 31,
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        reconcile_wait: float = 10.0,
        receipt_wait: float = 3.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"Kannel sendsms URL must be http://host:port/path, got {url!r}")
        if not serve_receipts and not receipt_url:
            raise ValueError(
                "serve_receipts=False needs receipt_url (where Kannel should send delivery reports)"
            )
        self.url = url
        self._host, self._port = parts.hostname, parts.port or 80
        self._path = parts.path or "/cgi-bin/sendsms"
        self.username, self.password, self.sender = username, password, sender
        self.receipt_host, self.receipt_port = receipt_host, receipt_port
        self.receipt_url = receipt_url
        self.serve_receipts = serve_receipts
        self.dlr_mask = dlr_mask
        self.timeout = timeout
        self.max_attempts, self.backoff, self.max_backoff = max_attempts, backoff, max_backoff
        self.reconcile_wait, self.receipt_wait = reconcile_wait, receipt_wait
        self.server: ReceiptServer | None = None
        self._ledger: Ledger | None = None
        self._sent_keys: list[str] = []

    # -- lifecycle --------------------------------------------------------------------------
    def open(self, ledger: Ledger, plan_dir: Path) -> None:
        self._ledger = ledger
        if self.serve_receipts:
            self.server = ReceiptServer(
                ledger.path, host=self.receipt_host, port=self.receipt_port
            ).start()
        self._sent_keys = []

    @property
    def dlr_base(self) -> str:
        """Base URL Kannel calls back."""
        if self.receipt_url:
            return self.receipt_url.rstrip("/")
        if self.server is None:
            raise RuntimeError("KannelAdapter.open() was not called")
        return self.server.url

    def close(self) -> None:
        try:
            if self._ledger is not None and self._sent_keys and self.receipt_wait > 0:
                self._ledger.wait_for_receipts(self._sent_keys, self.receipt_wait, final=True)
        finally:
            if self.server is not None:
                self.server.stop()
                self.server = None

    # -- sending ----------------------------------------------------------------------------
    def request_params(self, row: LedgerRow) -> dict[str, str]:
        """The sendsms query parameters for one message."""
        params = {
            "username": self.username,
            "password": self.password,
            "to": row.phone_e164,
            "text": row.body,
            "charset": "UTF-8",
            "dlr-mask": str(self.dlr_mask),
            "dlr-url": (
                f"{self.dlr_base}/kannel?key={row.idempotency_key}&status=%d&answer=%A&ts=%T"
            ),
        }
        sender = self.sender or row.sender_id
        if sender:
            params["from"] = sender
        if needs_ucs2(row.encoding):
            params["coding"] = "2"
        return params

    def _attempt(self, query: str) -> tuple[str, int | None, str]:
        """One request on a fresh connection.

        Returns ``("connect", None, error)`` when it never left, ``("after", None, error)`` when
        the connection broke after the request was written, else ``("http", status, body)``.
        """
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            try:
                conn.connect()
            except OSError as exc:  # refused, unreachable, DNS: the request never left
                return "connect", None, f"{type(exc).__name__}: {exc}"
            try:
                conn.request("GET", f"{self._path}?{query}")
                resp = conn.getresponse()
                body = resp.read().decode("utf-8", "replace").strip()
            except (OSError, http.client.HTTPException) as exc:
                return "after", None, f"{type(exc).__name__}: {exc}"
            return "http", resp.status, body
        finally:
            conn.close()

    def _send_one(self, row: LedgerRow) -> Outcome:
        query = urlencode(self.request_params(row))
        error = ""
        for attempt in range(self.max_attempts):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))
            kind, code, text = self._attempt(query)
            if kind == "after":
                return Outcome("unknown", error=f"no answer from Kannel after the request: {text}")
            if kind == "connect":
                error = f"Kannel unreachable: {text}"
                continue
            assert code is not None
            if code in (200, 202):
                self._sent_keys.append(row.idempotency_key)
                return Outcome("accepted", status="queued")
            if 400 <= code < 500:
                return Outcome("rejected", error=f"Kannel {code}: {text}", error_code=str(code))
            error = f"Kannel {code}: {text}"  # 5xx: temporary failure, nothing queued
        return Outcome("not_sent", error=error)

    def send(self, batch: Sequence[LedgerRow], *, now: dt.datetime) -> list[Outcome]:
        return [self._send_one(row) for row in batch]

    def reconcile(self, in_doubt: Sequence[LedgerRow]) -> list[Outcome]:
        if self._ledger is None:
            raise RuntimeError("KannelAdapter.open() was not called")
        keys = [r.idempotency_key for r in in_doubt]
        got = self._ledger.wait_for_receipts(keys, self.reconcile_wait)
        return [
            Outcome("accepted")
            if r.idempotency_key in got
            else Outcome("not_sent", error=f"no delivery report within {self.reconcile_wait:g} s")
            for r in in_doubt
        ]

    def healthy(self) -> bool:
        """Whether sendsms answers (a bare GET is refused with 403 when Kannel is up)."""
        try:
            with socket.create_connection((self._host, self._port), timeout=2):
                return True
        except OSError:
            return False
