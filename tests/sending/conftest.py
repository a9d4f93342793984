"""Fixtures of the sending tests: contacts, a small warehouse, a fake Twilio API, a real Kannel.

The Kannel gateway (bearerbox + fakesmsc + smsbox on loopback, free ports, a private run
folder) follows ``shared/gateway/KANNEL_NOTES.md``. Tests marked ``kannel`` skip when the
binaries are absent, unless ``SMSANALYTICS_REQUIRE_SYSTEM=1`` (CI), where they fail.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

import polars as pl
import pytest

from smsanalytics.warehouse import Warehouse

UTC = dt.UTC
TS = pl.Datetime("us", "UTC")

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"


# --------------------------------------------------------------------------------------------
# contacts and warehouse
# --------------------------------------------------------------------------------------------


def build_contacts(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A contacts frame with the warehouse's columns; missing values get sensible defaults."""
    defaults = {
        "phone_type": "mobile",
        "country": "FR",
        "timezone": "Europe/Paris",
        "timezone_source": "explicit",
        "first_name": None,
        "language": "fr",
        "consent_at": dt.datetime(2024, 1, 1, tzinfo=UTC),
        "opted_out_at": None,
    }
    full = []
    for i, r in enumerate(rows):
        row = {**defaults, **r}
        row.setdefault("contact_id", i + 1)
        row.setdefault("phone_e164", f"+3361234{row['contact_id']:04d}")
        row.setdefault("external_id", f"C{row['contact_id']}")
        full.append(row)
    return pl.DataFrame(
        full,
        schema={
            "contact_id": pl.Int64,
            "external_id": pl.String,
            "phone_e164": pl.String,
            "phone_type": pl.String,
            "country": pl.String,
            "timezone": pl.String,
            "timezone_source": pl.String,
            "first_name": pl.String,
            "language": pl.String,
            "consent_at": TS,
            "opted_out_at": TS,
        },
    )


@pytest.fixture
def make_contacts():
    """:func:`build_contacts`: a contacts frame from a list of partial rows."""
    return build_contacts


@pytest.fixture
def warehouse_factory(tmp_path):
    """Build a warehouse file holding the given contacts (and optional inbound/messages)."""
    opened: list[Warehouse] = []

    def build(
        contacts: pl.DataFrame,
        *,
        inbound: pl.DataFrame | None = None,
        messages: pl.DataFrame | None = None,
        name: str = "w.duckdb",
    ) -> Warehouse:
        wh = Warehouse(tmp_path / name)
        wh.load("contacts", contacts, source="test-contacts")
        if inbound is not None:
            wh.load("inbound", inbound, source="test-inbound")
        if messages is not None:
            wh.load("messages", messages, source="test-messages")
        opened.append(wh)
        return wh

    yield build
    for wh in opened:
        try:
            wh.close()
        except Exception:
            pass


#: Planning instant of the test plans: Monday 2025-03-03 10:00 in Paris (in the past, so the fake
#: Twilio's real-clock creation dates are always later than the intents).
PLAN_NOW = dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def plan_factory(tmp_path):
    """Write a validated plan directory for ``n`` French contacts (``staggered``: a window each)."""

    def build(
        n: int = 5,
        *,
        name: str = "plan",
        campaign_id: str = "camp",
        texts: list[str] | None = None,
        staggered: bool = False,
        warehouse: Warehouse | None = None,
        contacts: pl.DataFrame | None = None,
        now: dt.datetime = PLAN_NOW,
    ) -> Path:
        from smsanalytics.plan import plan_sends, write_plan
        from smsanalytics.settings import Settings

        texts = texts or [f"Hello {i}" for i in range(1, n + 1)]
        if contacts is None:
            contacts = build_contacts(
                [{"contact_id": i, "first_name": t} for i, t in enumerate(texts, start=1)]
            )
        when: Any = (now, now + dt.timedelta(hours=8))
        if staggered:  # one window per contact, a minute apart: many batches for the outbox
            ids = contacts.get_column("contact_id")
            when = pl.DataFrame(
                {
                    "contact_id": ids,
                    "window_start_at": [now + dt.timedelta(minutes=i) for i in range(len(ids))],
                    "window_end_at": [
                        now + dt.timedelta(hours=8, minutes=i) for i in range(len(ids))
                    ],
                },
                schema_overrides={"window_start_at": TS, "window_end_at": TS},
            )
        plan = plan_sends(
            contacts.get_column("contact_id"),
            "{first_name}",
            when,
            campaign_id=campaign_id,
            contacts=None if warehouse is not None else contacts,
            warehouse=warehouse,
            settings=Settings(),
            now=now,
            sender_id="ACME",
        )
        assert plan.rows.height == len(texts), plan.exclusions
        out = tmp_path / name
        write_plan(plan, out)
        return out

    return build


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# a local imitation of Twilio's Messages API
# --------------------------------------------------------------------------------------------


@dataclass
class FakeTwilio:
    """Imitates ``POST/GET /2010-04-01/Accounts/{sid}/Messages.json`` with scripted faults.

    ``script`` holds actions for the next POSTs, consumed in order: ``"429"`` (not created,
    ``Retry-After: 0``), ``"500-created"`` (created, then 500), ``"500"`` (not created, 500),
    ``"drop-created"`` (created, connection closed without an answer), ``"400"`` (invalid
    number, 21211). Without a script every POST creates the message (201).
    """

    account_sid: str = "AC" + "0" * 32
    auth_token: str = "secret"
    messages: list[dict[str, Any]] = field(default_factory=list)
    posts: int = 0
    script: list[str] = field(default_factory=list)
    delay: float = 0.0
    callbacks: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: Any = field(default_factory=lambda: itertools.count(1))

    def create(self, form: dict[str, str]) -> dict[str, Any]:
        sid = f"SM{next(self._seq):032x}"
        msg = {
            "sid": sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status": "scheduled"
            if form.get("ScheduleType") == "fixed"
            else ("accepted" if form.get("MessagingServiceSid") else "queued"),
            "date_created": email.utils.format_datetime(dt.datetime.now(UTC)),
            "send_at": form.get("SendAt"),
            "status_callback": form.get("StatusCallback"),
            "num_segments": "1",
        }
        self.messages.append(msg)
        return msg

    def created_bodies_by_to(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.messages:
            out[m["to"]] = out.get(m["to"], 0) + 1
        return out


@pytest.fixture
def fake_twilio() -> Iterator[tuple[FakeTwilio, str]]:
    """A running :class:`FakeTwilio` and its base URL."""
    state = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return None

        def _json(self, code: int, data: dict, headers: dict | None = None) -> None:
            raw = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def _authorised(self) -> bool:
            expected = (
                "Basic "
                + base64.b64encode(f"{state.account_sid}:{state.auth_token}".encode()).decode()
            )
            if self.headers.get("Authorization") != expected:
                self._json(401, {"code": 20003, "message": "Authenticate"})
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802
            if not self._authorised():
                return
            q = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
            with state._lock:
                found = [m for m in reversed(state.messages) if m["to"] == q.get("To")]
            self._json(200, {"messages": found[: int(q.get("PageSize", 50))]})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if not self._authorised():
                return
            if state.delay:
                time.sleep(state.delay)
            with state._lock:
                state.posts += 1
                action = state.script.pop(0) if state.script else "ok"
                if action in ("ok", "500-created", "drop-created"):
                    msg = state.create(form)
            if action == "ok":
                self._json(201, msg)
                if state.callbacks and msg["status_callback"]:
                    threading.Thread(target=_callback, args=(msg,), daemon=True).start()
            elif action == "429":
                self._json(
                    429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "0"}
                )
            elif action in ("500", "500-created"):
                self._json(500, {"code": 20500, "message": "Internal Server Error"})
            elif action == "drop-created":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif action == "400":
                self._json(
                    400, {"code": 21211, "message": "The 'To' number is not a valid phone number."}
                )

    def _callback(msg: dict) -> None:
        for status in ("sent", "delivered"):
            data = f"MessageSid={msg['sid']}&MessageStatus={status}".encode()
            try:
                urllib.request.urlopen(
                    urllib.request.Request(msg["status_callback"], data=data), timeout=5
                ).read()
            except (urllib.error.URLError, OSError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------------------------
# Kannel
# --------------------------------------------------------------------------------------------


def kannel_available() -> bool:
    return all(os.access(p, os.X_OK) for p in (BEARERBOX, SMSBOX, FAKESMSC))


def require_kannel() -> None:
    """Skip (or fail under ``SMSANALYTICS_REQUIRE_SYSTEM=1``) when Kannel is not installed."""
    if kannel_available():
        return
    message = "Kannel not installed: apt-get install kannel kannel-extras"
    if os.environ.get("SMSANALYTICS_REQUIRE_SYSTEM") == "1":
        pytest.fail(message + " (SMSANALYTICS_REQUIRE_SYSTEM=1)")
    pytest.skip(message)


_CONF = """\
group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = adminpw
status-password = statuspw
admin-allow-ip = "127.0.0.1"
smsbox-port = {box}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "run/bearerbox.log"
log-level = 1
store-type = file
store-location = "run/kannel.store"
store-dump-freq = 1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {smsc}
our-host = 127.0.0.1
connect-allow-ip = "127.0.0.1"
denied-prefix = "+999;999"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
global-sender = 12345
log-file = "run/smsbox.log"
log-level = 1
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = tester
password = foobar
max-messages = 10
concatenation = true
"""


@dataclass
class DeliveredSms:
    """A message as the fake SMSC received it (parts reassembled)."""

    sender: str
    to: str
    text: str
    parts: int


class KannelGateway:
    """bearerbox + fakesmsc + smsbox on loopback in ``folder`` (see KANNEL_NOTES.md)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "run").mkdir(parents=True, exist_ok=True)
        self.ports = {k: free_port() for k in ("admin", "box", "smsc", "sendsms")}
        (folder / "kannel.conf").write_text(_CONF.format(**self.ports))
        self.procs: dict[str, subprocess.Popen] = {}
        self._outputs = 0

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    def _status(self) -> str:
        url = f"http://127.0.0.1:{self.ports['admin']}/status.txt?password=statuspw"
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                return r.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError):
            return ""

    def _sendsms_code(self) -> int | None:
        try:
            with urllib.request.urlopen(self.sendsms_url, timeout=1) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return None

    @staticmethod
    def _wait(check, what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kannel: timed out waiting for {what}")
            time.sleep(0.05)

    def _spawn(self, name: str, args: list[str]) -> None:
        out = open(self.folder / "run" / f"{name}.out", "ab")
        self.procs[name] = subprocess.Popen(
            args,
            cwd=self.folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()

    def start(self, *, clean_store: bool = True) -> KannelGateway:
        if clean_store:
            for stale in (self.folder / "run").glob("kannel.store*"):
                stale.unlink()
        self._spawn("bearerbox", [BEARERBOX, "-v", "1", "kannel.conf"])
        smsc = f"FAKE:{self.ports['smsc']}"
        self._wait(lambda: smsc in self._status(), "bearerbox")
        self.start_fakesmsc()
        self._spawn("smsbox", [SMSBOX, "-v", "1", "kannel.conf"])
        self._wait(lambda: self._sendsms_code() == 403, "smsbox sendsms")
        return self

    def start_fakesmsc(self) -> None:
        self._outputs += 1
        self._spawn(
            f"fakesmsc{self._outputs}",
            [
                FAKESMSC,
                "-H",
                "127.0.0.1",
                "-r",
                str(self.ports["smsc"]),
                "-m",
                "0",
                "100 200 text nop",
            ],
        )
        smsc = f"FAKE:{self.ports['smsc']}"
        self._wait(
            lambda: any(smsc in line and "(online" in line for line in self._status().splitlines()),
            "fakesmsc online",
        )

    def kill(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def stop(self) -> None:
        self.kill("smsbox")
        self.kill("bearerbox")
        for name in list(self.procs):
            self.kill(name, signal.SIGKILL if name.startswith("fakesmsc") else signal.SIGTERM)

    def delivered(self) -> list[DeliveredSms]:
        """Messages written to the fake SMSC(s), multi-part messages reassembled."""
        out: list[DeliveredSms] = []
        pieces: dict[tuple[str, str, int], dict[int, bytes]] = {}
        totals: dict[tuple[str, str, int], int] = {}
        pattern = re.compile(r"Got message \d+: <(.*)>\s*$")
        for path in sorted((self.folder / "run").glob("fakesmsc*.out")):
            for line in path.read_text("utf-8", "replace").splitlines():
                m = pattern.search(line)
                if not m:
                    continue
                sender, to, kind, rest = m.group(1).split(" ", 3)
                if kind == "text":
                    out.append(DeliveredSms(sender, to, rest, 1))
                elif kind == "data":
                    out.append(DeliveredSms(sender, to, _bytes(rest).decode("utf-8"), 1))
                elif kind == "ucs-2":
                    out.append(DeliveredSms(sender, to, _bytes(rest).decode("utf-16-be"), 1))
                elif kind == "udh":
                    udh, _data, payload = rest.split(" ", 2)
                    header = _bytes(udh)
                    key = (sender, to, header[3])
                    pieces.setdefault(key, {})[header[5]] = _bytes(payload)
                    totals[key] = header[4]
        for key, parts in pieces.items():
            if len(parts) == totals[key]:
                raw = b"".join(parts[i] for i in sorted(parts))
                out.append(DeliveredSms(key[0], key[1], _decode_parts(raw), totals[key]))
        return out


def _bytes(quoted: str) -> bytes:
    """fakesmsc's url-encoding (form style: '+' is a space byte)."""
    return unquote_to_bytes(quoted.replace("+", "%20"))


def _decode_parts(raw: bytes) -> str:
    """Concatenated parts: UTF-16BE for UCS-2 (its high bytes are control codes), else UTF-8."""
    if any(b < 0x09 or 0x0E <= b < 0x20 for b in raw[::2]):
        return raw.decode("utf-16-be")
    return raw.decode("utf-8")


_service_checked = False


def _stop_packaged_service() -> None:
    """Stop Debian's own kannel service once if it runs (pidfile-based: ours are untouched)."""
    global _service_checked
    if not _service_checked and os.path.exists("/etc/init.d/kannel"):
        subprocess.run(["/etc/init.d/kannel", "stop"], check=False, capture_output=True, timeout=30)
    _service_checked = True


@pytest.fixture
def kannel_factory(tmp_path) -> Iterator[Any]:
    """Configure (not start) Kannel gateways in the test's folder; all are stopped at teardown."""
    require_kannel()
    _stop_packaged_service()
    made: list[KannelGateway] = []

    def build(name: str = "kannel") -> KannelGateway:
        gateway = KannelGateway(tmp_path / name)
        made.append(gateway)
        return gateway

    try:
        yield build
    finally:
        for gateway in made:
            gateway.stop()


@pytest.fixture
def kannel(kannel_factory) -> KannelGateway:
    """A running Kannel gateway (function scope: each test gets a fresh one, ~0.5 s)."""
    return kannel_factory().start()
