"""The receipt endpoint: delivery reports from Kannel and Twilio into the send ledger.

A small threaded HTTP server (loopback by default) that records each report with
:meth:`~smsanalytics.adapters.ledger.Ledger.record_receipt` (duplicates ignored, statuses only
move forward) and answers ``200`` at once. Routes:

``GET|POST /kannel?key=K&status=%d&answer=%A&ts=%T``
    Kannel's ``dlr-url`` (the Kannel adapter puts the message's idempotency key in it).
    ``status``: 1 delivered, 2 undelivered, 4 queued (buffered by the SMSC), 8 sent (SMSC
    accepted), 16 failed (SMSC rejected); ``answer`` becomes the error code of 2/16;
    ``ts`` (unix seconds) the status time.
``POST /twilio?key=K``
    Twilio's ``StatusCallback`` (form fields ``MessageSid``, ``MessageStatus``, ``ErrorCode``).
``GET /health``
    ``200 ok``.

Reports for unknown keys are answered ``200`` (a gateway must not retry them) and counted.
The listen backlog is 256 and accepted sockets use ``TCP_NODELAY``: with Python's default
backlog of 5 a burst of Kannel callbacks loses connections (see the Kannel notes).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from smsanalytics.adapters.ledger import Ledger, LedgerError

__all__ = ["KANNEL_DLR_STATUS", "TWILIO_STATUS", "ReceiptServer"]

UTC = dt.UTC
#: Kannel DLR type → delivery status.
KANNEL_DLR_STATUS: dict[int, str] = {
    1: "delivered",
    2: "undelivered",
    4: "queued",
    8: "sent",
    16: "failed",
}
#: Twilio ``MessageStatus`` → delivery status.
TWILIO_STATUS: dict[str, str] = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


class _Server(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


class ReceiptServer:
    """Serve the receipt endpoint for one plan's ledger.

    Parameters
    ----------
    ledger
        The plan's :class:`Ledger`, or its path / plan directory (a connection is opened).
    host, port
        Where to listen (port 0 = a free port; see :attr:`url`).

    Attributes
    ----------
    counts
        Reports received: ``applied``, ``ignored`` (duplicate or not forward), ``unknown``
        (no such message), ``bad`` (malformed).

    Examples
    --------
    ``with ReceiptServer(plan_dir) as server: print(server.url)`` serves in a background thread.
    """

    def __init__(
        self, ledger: Ledger | str | Path, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._owned = not isinstance(ledger, Ledger)
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        self.counts = {"applied": 0, "ignored": 0, "unknown": 0, "bad": 0}
        self._count_lock = threading.Lock()
        self._httpd = _Server((host, port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _count(self, what: str) -> None:
        with self._count_lock:
            self.counts[what] += 1

    def record(self, route: str, params: dict[str, str]) -> str:
        """Record one report of route ``kannel`` or ``twilio``; return the outcome."""
        now = dt.datetime.now(UTC)
        key = params.get("key") or None
        try:
            if route == "kannel":
                status = KANNEL_DLR_STATUS[int(params["status"])]
                ts = params.get("ts")
                at = (
                    dt.datetime.fromtimestamp(int(ts), UTC)
                    if ts and ts.lstrip("-").isdigit() and int(ts) > 0
                    else now
                )
                error = params.get("answer") if status in ("failed", "undelivered") else None
                applied = self.ledger.record_receipt(
                    key=key, status=status, status_at=at, error_code=error or None, source="kannel"
                )
            elif route == "twilio":
                status = TWILIO_STATUS[params["MessageStatus"]]
                applied = self.ledger.record_receipt(
                    key=key,
                    provider_message_id=params.get("MessageSid"),
                    status=status,
                    status_at=now,
                    error_code=params.get("ErrorCode") or None,
                    source="twilio",
                )
            else:
                raise KeyError(route)
        except (KeyError, ValueError):
            self._count("bad")
            return "bad"
        except LedgerError:
            self._count("unknown")
            return "unknown"
        outcome = "applied" if applied else "ignored"
        self._count(outcome)
        return outcome

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, code: int, body: str) -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, form: dict[str, str]) -> None:
                parts = urlsplit(self.path)
                route = parts.path.strip("/")
                if route == "health":
                    self._reply(200, "ok")
                    return
                params = {
                    k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()
                }
                params.update(form)
                if route not in ("kannel", "twilio"):
                    self._reply(404, "unknown route")
                    return
                outcome = server.record(route, params)
                self._reply(400 if outcome == "bad" else 200, outcome)

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                self._handle({})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                self._handle({k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()})

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

        return Handler

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> ReceiptServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (or Ctrl-C)."""
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving and close the socket (and the ledger when this server opened it)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        if self._owned:
            self.ledger.close()

    def __enter__(self) -> ReceiptServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
