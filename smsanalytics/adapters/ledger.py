"""The durable send ledger: intent before each send, outcome after, receipts only move forward.

One SQLite file per plan directory (``DIR/ledger.sqlite``, WAL journal, ``synchronous=FULL``),
shared by the send process and the receipt endpoint (several processes may write it; SQLite
serialises them). Table ``sends`` has one row per idempotency key with its *state*:

``pending`` → ``intent`` (committed before the request leaves) → ``sent`` | ``failed``;
``intent`` → ``pending`` when the adapter is certain nothing reached the gateway;
``pending`` → ``dropped`` (opted out since planning), ``expired`` (window over),
``cancelled`` (no longer in a re-made plan).

A row left in ``intent`` by a crash is *in doubt*: the next run asks the adapter to reconcile it
(outbox files, Twilio's message list, Kannel delivery reports) before anything is resent, so a
message is never sent twice and never forgotten. Delivery status (``queued`` < ``sent`` <
``delivered`` | ``undelivered`` | ``failed``) is a separate column that only moves forward;
table ``receipts`` keeps every distinct report with ``is_applied`` telling whether it moved the
status.

The warehouse side: :func:`sync_to_warehouse` writes ``messages`` (ids from ``next_id``, exactly
once per (campaign, contact, variant)), the forward-moving ``receipts``, the ``assignments`` and
the ``campaigns`` row; :func:`reserve_plan` records a plan's windows in ``planned_sends`` so other
plans count them against frequency caps.

This module imports no heavy library at import time: a send process only needs ``sqlite3``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "LEDGER_FILE",
    "STATUS_RANK",
    "STATES",
    "LedgerError",
    "LedgerRow",
    "Ledger",
    "ensure_planned_sends",
    "reserve_plan",
    "sync_to_warehouse",
    "SyncResult",
]

UTC = dt.UTC
LEDGER_FILE = "ledger.sqlite"
#: Delivery statuses and their rank: a report is applied only when it ranks higher.
STATUS_RANK: dict[str, int] = {
    "queued": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
}
#: Send states of a ledger row.
STATES = ("pending", "intent", "sent", "failed", "dropped", "expired", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sends (
    idempotency_key TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    contact_id INTEGER NOT NULL,
    variant TEXT NOT NULL,
    phone_e164 TEXT NOT NULL,
    body TEXT NOT NULL,
    encoding TEXT,
    segments INTEGER,
    cost REAL,
    currency TEXT,
    sender_id TEXT,
    send_time_policy TEXT,
    window_start_us INTEGER NOT NULL,
    window_end_us INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    adapter TEXT,
    intent_us INTEGER,
    sent_us INTEGER,
    scheduled_us INTEGER,
    provider_message_id TEXT,
    status TEXT,
    status_rank INTEGER NOT NULL DEFAULT 0,
    status_us INTEGER,
    error TEXT,
    message_id INTEGER
);
CREATE INDEX IF NOT EXISTS sends_state ON sends (state, window_start_us);
CREATE INDEX IF NOT EXISTS sends_provider ON sends (provider_message_id);
CREATE TABLE IF NOT EXISTS receipts (
    idempotency_key TEXT NOT NULL,
    status TEXT NOT NULL,
    status_us INTEGER NOT NULL,
    error_code TEXT,
    source TEXT NOT NULL,
    received_us INTEGER NOT NULL,
    is_applied INTEGER NOT NULL,
    is_synced INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (idempotency_key, status, status_us)
);
"""


class LedgerError(RuntimeError):
    """The ledger cannot be used as asked (wrong plan, corrupt file); the message names the fix."""


def _us(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    return (
        int(value.timestamp() * 1_000_000)
        if value.tzinfo
        else int(value.replace(tzinfo=UTC).timestamp() * 1_000_000)
    )


def _dt(us: int | None) -> dt.datetime | None:
    return None if us is None else dt.datetime.fromtimestamp(us / 1_000_000, UTC)


def now_us() -> int:
    """The clock in microseconds since the epoch (UTC)."""
    return time.time_ns() // 1000


@dataclass(frozen=True)
class LedgerRow:
    """One ledger row as the adapters see it."""

    idempotency_key: str
    campaign_id: str
    contact_id: int
    variant: str
    phone_e164: str
    body: str
    encoding: str | None
    segments: int | None
    sender_id: str | None
    window_start_at: dt.datetime
    window_end_at: dt.datetime
    state: str
    attempts: int
    intent_at: dt.datetime | None
    provider_message_id: str | None
    status: str | None


_ROW_COLUMNS = (
    "idempotency_key, campaign_id, contact_id, variant, phone_e164, body, encoding, segments, "
    "sender_id, window_start_us, window_end_us, state, attempts, intent_us, provider_message_id, "
    "status"
)


def _row(r: Sequence[Any]) -> LedgerRow:
    return LedgerRow(
        idempotency_key=r[0],
        campaign_id=r[1],
        contact_id=int(r[2]),
        variant=r[3],
        phone_e164=r[4],
        body=r[5],
        encoding=r[6],
        segments=r[7],
        sender_id=r[8],
        window_start_at=_dt(r[9]),
        window_end_at=_dt(r[10]),  # type: ignore[arg-type]
        state=r[11],
        attempts=int(r[12]),
        intent_at=_dt(r[13]),
        provider_message_id=r[14],
        status=r[15],
    )


class Ledger:
    """The send ledger of one plan directory (see the module docstring).

    Parameters
    ----------
    path
        The SQLite file (``DIR/ledger.sqlite``) or the plan directory.
    timeout
        Seconds to wait for another process holding the write lock.

    Notes
    -----
    One connection per object, usable from several threads (calls are serialised by a lock).
    Open one :class:`Ledger` per process.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        path = Path(path)
        self.path = path / LEDGER_FILE if path.is_dir() else path
        self._lock = threading.RLock()
        self._con = sqlite3.connect(
            str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        with self._tx() as con:
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                con.execute(statement)

    # -- plumbing ---------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (durable on return), rolled back on any exception."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._con.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self, key: str) -> str | None:
        """A value of the ``meta`` table (``plan_id``, ``content_hash``, ``manifest`` …)."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    # -- loading the plan -------------------------------------------------------------------
    def initialise(self, plan_dir: str | Path, manifest: dict[str, Any]) -> int:
        """Load the plan's rows into the ledger once (again when the plan was re-made).

        New keys start ``pending``; keys already ``sent``, ``intent`` or ``failed`` keep their
        state (so a re-made plan never resends); other existing keys take the new window and
        text and become ``pending``; pending keys absent from the new plan become
        ``cancelled``. One transaction: a crash leaves the ledger as it was.

        Returns
        -------
        int
            Rows inserted or updated (0 when the ledger already holds this plan).
        """
        content_hash = manifest["content_hash"]
        if self.meta("content_hash") == content_hash:
            return 0
        campaign = self.meta("campaign_id")
        if campaign is not None and campaign != manifest["campaign_id"]:
            raise LedgerError(
                f"{self.path} belongs to campaign {campaign!r}, not {manifest['campaign_id']!r}; "
                "write each campaign's plan to its own directory"
            )
        import polars as pl  # only when (re)loading a plan

        rows = pl.read_parquet(Path(plan_dir) / "plan.parquet").select(
            "idempotency_key",
            "campaign_id",
            "contact_id",
            "variant",
            "phone_e164",
            "text",
            "encoding",
            "segments",
            "cost",
            "currency",
            "sender_id",
            "send_time_policy",
            pl.col("window_start_at").dt.epoch("us"),
            pl.col("window_end_at").dt.epoch("us"),
        )
        plan_id = manifest["plan_id"]
        with self._tx() as con:
            con.execute("CREATE TEMP TABLE IF NOT EXISTS incoming (k TEXT PRIMARY KEY)")
            con.execute("DELETE FROM incoming")
            con.executemany(
                "INSERT INTO incoming VALUES (?)",
                ((k,) for k in rows.get_column("idempotency_key")),
            )
            before = con.total_changes
            con.executemany(
                """
                INSERT INTO sends (idempotency_key, campaign_id, contact_id, variant, phone_e164,
                    body, encoding, segments, cost, currency, sender_id, send_time_policy,
                    window_start_us, window_end_us, plan_id, state)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')
                ON CONFLICT (idempotency_key) DO UPDATE SET
                    phone_e164 = excluded.phone_e164, body = excluded.body,
                    encoding = excluded.encoding, segments = excluded.segments,
                    cost = excluded.cost, currency = excluded.currency,
                    sender_id = excluded.sender_id, send_time_policy = excluded.send_time_policy,
                    window_start_us = excluded.window_start_us,
                    window_end_us = excluded.window_end_us, plan_id = excluded.plan_id,
                    state = 'pending', error = NULL
                WHERE sends.state IN ('pending', 'dropped', 'expired', 'cancelled')
                """,
                ((*r, plan_id) for r in rows.iter_rows()),
            )
            n = con.total_changes - before
            con.execute(
                "UPDATE sends SET state = 'cancelled', error = 'not in plan ' || ? WHERE state = "
                "'pending' "
                "AND idempotency_key NOT IN (SELECT k FROM incoming)",
                (plan_id,),
            )
            for key, value in (
                ("content_hash", content_hash),
                ("plan_id", plan_id),
                ("campaign_id", manifest["campaign_id"]),
                ("manifest", json.dumps(manifest, default=str)),
            ):
                con.execute(
                    "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                    "excluded.value",
                    (key, value),
                )
        return n

    # -- reading ----------------------------------------------------------------------------
    def rows(self, state: str | None = None, keys: Iterable[str] | None = None) -> list[LedgerRow]:
        """Ledger rows, optionally of one state and/or some keys, by window start then key."""
        sql = f"SELECT {_ROW_COLUMNS} FROM sends"
        where, params = [], []
        if state is not None:
            where.append("state = ?")
            params.append(state)
        if keys is not None:
            keys = list(keys)
            where.append(f"idempotency_key IN ({', '.join('?' * len(keys))})")
            params.extend(keys)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [
            _row(r) for r in self._query(sql + " ORDER BY window_start_us, idempotency_key", params)
        ]

    def due(self, now: dt.datetime, ahead: dt.timedelta = dt.timedelta(0)) -> list[LedgerRow]:
        """Pending rows whose window has started by ``now + ahead`` and not ended at ``now``."""
        return [
            _row(r)
            for r in self._query(
                f"SELECT {_ROW_COLUMNS} FROM sends WHERE state = 'pending' AND window_start_us <= "
                "? "
                "AND window_end_us > ? ORDER BY window_start_us, idempotency_key",
                (_us(now + ahead), _us(now)),
            )
        ]

    def counts(self) -> dict[str, int]:
        """Rows by state (every state present, 0 when none)."""
        out = dict.fromkeys(STATES, 0)
        out.update(
            {s: int(n) for s, n in self._query("SELECT state, count(*) FROM sends GROUP BY state")}
        )
        return out

    def status_counts(self) -> dict[str, int]:
        """Rows by delivery status (``none`` when no status yet)."""
        return {
            (s or "none"): int(n)
            for s, n in self._query(
                "SELECT status, count(*) FROM sends GROUP BY status ORDER BY status"
            )
        }

    def contacts(self, state: str) -> list[int]:
        """Contact ids of the rows in ``state``."""
        return [
            int(r[0]) for r in self._query("SELECT contact_id FROM sends WHERE state = ?", (state,))
        ]

    def has_receipt(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` for which the gateway sent a delivery report (any status)."""
        keys = list(keys)
        if not keys:
            return set()
        rows = self._query(
            f"SELECT DISTINCT idempotency_key FROM receipts WHERE source != 'adapter' "
            f"AND idempotency_key IN ({', '.join('?' * len(keys))})",
            keys,
        )
        return {r[0] for r in rows}

    def final(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` whose status is final (delivered, undelivered or failed)."""
        keys = list(keys)
        if not keys:
            return set()
        rows = self._query(
            f"SELECT idempotency_key FROM sends WHERE status_rank >= 3 "
            f"AND idempotency_key IN ({', '.join('?' * len(keys))})",
            keys,
        )
        return {r[0] for r in rows}

    def known_provider_ids(self) -> set[str]:
        """Provider message ids already recorded (to never claim one twice in reconciliation)."""
        return {
            r[0]
            for r in self._query(
                "SELECT provider_message_id FROM sends WHERE provider_message_id IS NOT NULL"
            )
        }

    def key_for_provider_id(self, provider_message_id: str) -> str | None:
        """The idempotency key of a provider message id (Twilio SID)."""
        rows = self._query(
            "SELECT idempotency_key FROM sends WHERE provider_message_id = ?",
            (provider_message_id,),
        )
        return rows[0][0] if rows else None

    # -- state changes ----------------------------------------------------------------------
    def mark_intent(self, keys: Sequence[str], adapter: str, at: dt.datetime) -> None:
        """Record the intent to send ``keys`` now (committed before the request leaves).

        Raises
        ------
        LedgerError
            When a key is not ``pending`` (another process is sending this plan).
        """
        with self._tx() as con:
            for key in keys:
                cur = con.execute(
                    "UPDATE sends SET state = 'intent', attempts = attempts + 1, adapter = ?, "
                    "intent_us = ? "
                    "WHERE idempotency_key = ? AND state = 'pending'",
                    (adapter, _us(at), key),
                )
                if cur.rowcount != 1:
                    raise LedgerError(
                        f"message {key} is not pending; is another `send` running on this plan?"
                    )

    def mark_sent(
        self,
        key: str,
        *,
        at: dt.datetime,
        provider_message_id: str | None = None,
        status: str | None = None,
        scheduled_at: dt.datetime | None = None,
        source: str = "adapter",
    ) -> None:
        """``intent`` → ``sent`` with the provider's id; the provider's status as a report."""
        with self._tx() as con:
            con.execute(
                "UPDATE sends SET state = 'sent', sent_us = ?, provider_message_id = coalesce(?, "
                "provider_message_id), "
                "scheduled_us = ?, error = NULL WHERE idempotency_key = ? AND state IN ('intent', "
                "'pending')",
                (_us(at), provider_message_id, _us(scheduled_at), key),
            )
            if status is not None:
                self._apply_receipt(con, key, status, _us(at), None, source)  # type: ignore[arg-type]

    def mark_failed(
        self, key: str, error: str, *, error_code: str | None = None, at: dt.datetime | None = None
    ) -> None:
        """``intent`` → ``failed``: the gateway refused the message for good."""
        with self._tx() as con:
            con.execute(
                "UPDATE sends SET state = 'failed', error = ? WHERE idempotency_key = ? AND state "
                "IN ('intent', 'pending')",
                (error, key),
            )
            if at is not None:
                self._apply_receipt(con, key, "failed", _us(at), error_code, "adapter")  # type: ignore[arg-type]

    def mark_not_sent(self, key: str, error: str) -> None:
        """``intent`` → ``pending``: certainly nothing reached the gateway; safe to retry later."""
        with self._tx() as con:
            con.execute(
                "UPDATE sends SET state = 'pending', error = ? WHERE idempotency_key = ? AND "
                "state = 'intent'",
                (error, key),
            )

    def mark_in_doubt(self, key: str, error: str) -> None:
        """Keep ``intent`` (outcome unknown) and note why; reconciled before any resend."""
        with self._tx() as con:
            con.execute(
                "UPDATE sends SET error = ? WHERE idempotency_key = ? AND state = 'intent'",
                (error, key),
            )

    def mark_pending_as(self, keys: Iterable[str], state: str, reason: str) -> int:
        """Move pending rows to ``dropped``, ``expired`` or ``cancelled``; return the count."""
        if state not in ("dropped", "expired", "cancelled"):
            raise ValueError(f"state {state!r} is not a terminal non-send state")
        n = 0
        with self._tx() as con:
            for key in keys:
                n += con.execute(
                    "UPDATE sends SET state = ?, error = ? WHERE idempotency_key = ? AND state = "
                    "'pending'",
                    (state, reason, key),
                ).rowcount
        return n

    def expire(self, now: dt.datetime) -> int:
        """Pending rows whose window is over become ``expired``; returns the count."""
        with self._tx() as con:
            return con.execute(
                "UPDATE sends SET state = 'expired', error = 'window ended before sending' "
                "WHERE state = 'pending' AND window_end_us <= ?",
                (_us(now),),
            ).rowcount

    def drop_contacts(self, contact_ids: Iterable[int], reason: str) -> int:
        """Pending rows of these contacts become ``dropped`` (e.g. opted out since planning)."""
        ids = list(contact_ids)
        if not ids:
            return 0
        n = 0
        with self._tx() as con:
            for cid in ids:
                n += con.execute(
                    "UPDATE sends SET state = 'dropped', error = ? WHERE contact_id = ? AND state "
                    "= 'pending'",
                    (reason, int(cid)),
                ).rowcount
        return n

    # -- receipts ---------------------------------------------------------------------------
    @staticmethod
    def _apply_receipt(
        con: sqlite3.Connection,
        key: str,
        status: str,
        status_us: int,
        error_code: str | None,
        source: str,
    ) -> bool:
        rank = STATUS_RANK[status]
        current = con.execute(
            "SELECT status_rank FROM sends WHERE idempotency_key = ?", (key,)
        ).fetchone()
        applied = current is not None and rank > current[0]
        cur = con.execute(
            "INSERT OR IGNORE INTO receipts (idempotency_key, status, status_us, error_code, "
            "source, received_us, is_applied) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, status, status_us, error_code, source, now_us(), int(applied)),
        )
        if cur.rowcount == 0:
            return False  # the same report again
        if applied:
            con.execute(
                "UPDATE sends SET status = ?, status_rank = ?, status_us = ? WHERE "
                "idempotency_key = ?",
                (status, rank, status_us, key),
            )
        return applied

    def record_receipt(
        self,
        *,
        status: str,
        status_at: dt.datetime,
        key: str | None = None,
        provider_message_id: str | None = None,
        error_code: str | None = None,
        source: str = "gateway",
    ) -> bool:
        """Record a delivery report; returns whether it moved the message's status forward.

        Duplicates (same key, status and time) are ignored; a report ranking at or below the
        current status is kept in ``receipts`` with ``is_applied = 0`` and changes nothing.

        Raises
        ------
        LedgerError
            When the status is unknown or no message of this ledger has the key / provider id.
        """
        if status not in STATUS_RANK:
            raise LedgerError(f"unknown delivery status {status!r}; one of {sorted(STATUS_RANK)}")
        with self._tx() as con:
            if key is None and provider_message_id is not None:
                row = con.execute(
                    "SELECT idempotency_key FROM sends WHERE provider_message_id = ?",
                    (provider_message_id,),
                ).fetchone()
                key = row[0] if row else None
            if key is None:
                raise LedgerError(
                    f"no message with provider id {provider_message_id!r} in {self.path}"
                )
            if (
                con.execute("SELECT 1 FROM sends WHERE idempotency_key = ?", (key,)).fetchone()
                is None
            ):
                raise LedgerError(f"no message with key {key!r} in {self.path}")
            return self._apply_receipt(con, key, status, _us(status_at), error_code, source)  # type: ignore[arg-type]

    def wait_for_receipts(
        self, keys: Iterable[str], timeout: float, *, final: bool = False, poll: float = 0.05
    ) -> set[str]:
        """Wait up to ``timeout`` s until every key has a gateway report (a final status when
        ``final``); return the keys that do."""
        keys = set(keys)
        check = self.final if final else self.has_receipt
        deadline = time.monotonic() + timeout
        while True:
            got = check(keys)
            if got >= keys or time.monotonic() >= deadline:
                return got
            time.sleep(poll)

    # -- warehouse sync helpers ------------------------------------------------------------
    def unsynced_sent(self) -> list[tuple[Any, ...]]:
        """Sent rows without a warehouse ``message_id`` yet."""
        return self._query(
            "SELECT idempotency_key, campaign_id, contact_id, variant, body, send_time_policy, "
            "coalesce(scheduled_us, window_start_us), sent_us, encoding, segments, cost, currency, "
            "provider_message_id FROM sends WHERE state = 'sent' AND message_id IS NULL ORDER BY "
            "sent_us, idempotency_key"
        )

    def set_message_ids(self, pairs: Iterable[tuple[str, int]]) -> None:
        """Record the warehouse ``message_id`` of sent rows."""
        with self._tx() as con:
            con.executemany(
                "UPDATE sends SET message_id = ? WHERE idempotency_key = ?",
                [(m, k) for k, m in pairs],
            )

    def unsynced_receipts(self) -> list[tuple[Any, ...]]:
        """Applied reports of messages with a ``message_id``.

        Rows: (key, message_id, status, status_us, error_code).
        """
        return self._query(
            "SELECT r.idempotency_key, s.message_id, r.status, r.status_us, r.error_code FROM "
            "receipts r "
            "JOIN sends s USING (idempotency_key) WHERE r.is_applied = 1 AND r.is_synced = 0 "
            "AND s.message_id IS NOT NULL"
        )

    def mark_receipts_synced(self, items: Iterable[tuple[str, str, int]]) -> None:
        """Flag (key, status, status_us) reports as written to the warehouse."""
        with self._tx() as con:
            con.executemany(
                "UPDATE receipts SET is_synced = 1 WHERE idempotency_key = ? AND status = ? AND "
                "status_us = ?",
                list(items),
            )

    def set_meta(self, key: str, value: str) -> None:
        """Set a ``meta`` value."""
        with self._tx() as con:
            con.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                "excluded.value",
                (key, value),
            )


# --------------------------------------------------------------------------------------------
# warehouse side
# --------------------------------------------------------------------------------------------

def ensure_planned_sends(warehouse: Any) -> bool:
    """Create the ``planned_sends`` table (plans' reservations for caps) if missing.

    Returns whether the table exists (a read-only warehouse without it returns ``False``).
    """
    if not warehouse.read_only:
        from smsanalytics import schemas

        warehouse.con.execute(schemas.create_table_sql(schemas.PLANNED_SENDS))
        return True
    tables = {
        r[0] for r in warehouse.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    }
    return "planned_sends" in tables


def reserve_plan(warehouse: Any, plan: Any) -> int:
    """Record a plan's windows in ``planned_sends``, replacing the campaign's earlier plan.

    Other campaigns planned later count these windows against their frequency caps until the
    messages are in ``messages``.

    Returns
    -------
    int
        Rows reserved.
    """
    ensure_planned_sends(warehouse)
    import polars as pl

    rows = plan.rows.select(
        pl.lit(plan.manifest["plan_id"]).alias("plan_id"),
        "campaign_id",
        "contact_id",
        "variant",
        "idempotency_key",
        "window_start_at",
        "window_end_at",
        pl.lit(
            dt.datetime.fromisoformat(plan.manifest["planned_at"]), pl.Datetime("us", "UTC")
        ).alias("planned_at"),
    )
    with warehouse.transaction() as con:
        con.execute("DELETE FROM planned_sends WHERE campaign_id = $c", {"c": plan.campaign_id})
        con.register("_reserve", rows)
        try:
            con.execute("INSERT INTO planned_sends SELECT * FROM _reserve")
        finally:
            con.unregister("_reserve")
    return rows.height


@dataclass(frozen=True)
class SyncResult:
    """What :func:`sync_to_warehouse` wrote."""

    messages: int
    receipts: int
    assignments: int
    campaigns: int


def sync_to_warehouse(
    ledger: Ledger, warehouse: Any, *, plan_dir: str | Path | None = None
) -> SyncResult:
    """Write the ledger's sent messages, applied receipts and the assignments to the warehouse.

    Exactly once: a message row is keyed by (campaign, contact, variant) — a row already there
    (from an earlier sync that crashed before the ledger learnt its id) is reused, never
    duplicated; receipts are keyed by (message_id, status, status_at). Safe to run any number of
    times, from the send process or the receipt endpoint.

    Parameters
    ----------
    ledger
        The plan's ledger.
    warehouse
        An open, writable :class:`smsanalytics.warehouse.Warehouse`.
    plan_dir
        The plan directory (for ``assignments.parquet`` and the campaign row); default the
        ledger's folder.
    """
    import polars as pl

    from smsanalytics import schemas

    plan_dir = Path(plan_dir) if plan_dir is not None else ledger.path.parent
    manifest = json.loads(ledger.meta("manifest") or "{}")
    n_campaigns = n_assign = 0
    ts = pl.Datetime("us", "UTC")
    if manifest:
        campaign_id = manifest["campaign_id"]
        exists = warehouse.con.execute(
            "SELECT count(*) FROM campaigns WHERE campaign_id = $c", {"c": campaign_id}
        ).fetchall()[0][0]
        if not exists:
            camp = manifest.get("campaign", {})
            variants = manifest.get("by_variant", {})
            template = (
                next(iter(variants.values()))["template"]
                if len(variants) == 1
                else json.dumps({k: v["template"] for k, v in variants.items()}, ensure_ascii=False)
            )
            frame = pl.DataFrame(
                {
                    "campaign_id": [campaign_id],
                    "name": [camp.get("name", campaign_id)],
                    "kind": [camp.get("kind")],
                    "sender_id": [camp.get("sender_id")],
                    "template": [template],
                    "created_at": [dt.datetime.fromisoformat(manifest["planned_at"])],
                    "holdout_share": [float(manifest.get("experiment", {}).get("holdout", 0.0))],
                },
                schema_overrides={"kind": pl.String, "sender_id": pl.String, "created_at": ts},
            )
            n_campaigns = warehouse.load(
                "campaigns", frame, source=f"plan:{manifest['plan_id']}"
            ).rows_loaded
        if (
            ledger.meta("assignments_synced") != manifest["plan_id"]
            and (plan_dir / "assignments.parquet").is_file()
        ):
            assignments = pl.read_parquet(plan_dir / "assignments.parquet")
            if assignments.height:
                n_assign = warehouse.load(
                    "assignments", assignments, source=f"plan:{manifest['plan_id']}"
                ).rows_loaded
            ledger.set_meta("assignments_synced", manifest["plan_id"])

    sent = ledger.unsynced_sent()
    n_messages = 0
    if sent:
        cols = list(zip(*sent, strict=True))
        frame = pl.DataFrame(
            {
                "idempotency_key": cols[0],
                "campaign_id": cols[1],
                "contact_id": cols[2],
                "variant": cols[3],
                "body": cols[4],
                "send_time_policy": cols[5],
                "scheduled_at": [_dt(v) for v in cols[6]],
                "sent_at": [_dt(v) for v in cols[7]],
                "encoding": cols[8],
                "segments": cols[9],
                "cost": cols[10],
                "currency": cols[11],
                "provider_message_id": cols[12],
            },
            schema_overrides={
                "contact_id": pl.Int64,
                "segments": pl.Int32,
                "cost": pl.Float64,
                "scheduled_at": ts,
                "sent_at": ts,
                "provider_message_id": pl.String,
                "send_time_policy": pl.String,
                "encoding": pl.String,
                "currency": pl.String,
            },
        )
        with warehouse.transaction() as con:
            con.register("_sent", frame)
            try:
                existing = con.sql(
                    "SELECT s.idempotency_key, m.message_id FROM _sent s JOIN messages m "
                    "ON m.campaign_id = s.campaign_id AND m.contact_id = s.contact_id AND "
                    "m.variant = s.variant"
                ).pl()
                base = int(
                    con.execute("SELECT coalesce(max(message_id), 0) + 1 FROM messages").fetchall()[
                        0
                    ][0]
                )
                new = frame.join(existing, on="idempotency_key", how="anti").with_row_index("_i")
                new = new.with_columns(
                    (pl.col("_i").cast(pl.Int64) + base).alias("message_id")
                ).drop("_i")
                con.register("_new", new)
                con.execute(
                    "INSERT INTO messages (message_id, provider_message_id, campaign_id, "
                    "contact_id, variant, body, "
                    "send_time_policy, scheduled_at, sent_at, encoding, segments, cost, currency) "
                    "SELECT message_id, provider_message_id, campaign_id, contact_id, variant, "
                    "body, send_time_policy, "
                    "scheduled_at, sent_at, encoding, segments, cost, currency FROM _new"
                    + schemas.cluster_order(schemas.table("messages"))
                )
                con.unregister("_new")
            finally:
                con.unregister("_sent")
        n_messages = new.height
        pairs = list(new.select("idempotency_key", "message_id").iter_rows()) + list(
            existing.iter_rows()
        )
        ledger.set_message_ids(pairs)

    receipts = ledger.unsynced_receipts()
    n_receipts = 0
    if receipts:
        cols = list(zip(*receipts, strict=True))
        frame = pl.DataFrame(
            {
                "message_id": cols[1],
                "status_at": [_dt(v) for v in cols[3]],
                "status": cols[2],
                "error_code": cols[4],
            },
            schema_overrides={"message_id": pl.Int64, "status_at": ts, "error_code": pl.String},
        )
        with warehouse.transaction() as con:
            con.register("_r", frame)
            try:
                before = con.execute("SELECT count(*) FROM receipts").fetchall()[0][0]
                con.execute(
                    "INSERT INTO receipts SELECT r.message_id, r.status_at, r.status, "
                    "r.error_code FROM _r r "
                    "WHERE NOT EXISTS (SELECT 1 FROM receipts e WHERE e.message_id = r.message_id "
                    "AND e.status = r.status AND e.status_at = r.status_at)"
                    + schemas.cluster_order(schemas.table("receipts"))
                )
                n_receipts = int(
                    con.execute("SELECT count(*) FROM receipts").fetchall()[0][0] - before
                )
            finally:
                con.unregister("_r")
        ledger.mark_receipts_synced([(k, s, u) for k, _m, s, u, _e in receipts])
    if (n_messages or n_receipts) and hasattr(warehouse, "mark_changed"):
        warehouse.mark_changed()  # messages/receipts were inserted by SQL, not Warehouse.load
    return SyncResult(
        messages=n_messages, receipts=n_receipts, assignments=n_assign, campaigns=n_campaigns
    )
