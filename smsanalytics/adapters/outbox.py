"""The default adapter: due messages go to JSONL files, one file per send window.

``DIR/outbox/<window start>_<window end>.jsonl`` (UTC, ``20261201T080000Z``), one JSON object a
line, for an upload tool or another process to pick up. Each file is written whole through a
temporary file, fsynced and renamed, so a file that exists is complete; a later batch of the
same window gets a ``-2``, ``-3`` … suffix. Reconciliation after a crash reads the files: a key
found in one was handed over (``accepted``), a key found in none was not (``not_sent``).

Line fields: ``idempotency_key``, ``campaign_id``, ``contact_id``, ``variant``, ``to`` (E.164),
``text``, ``encoding``, ``segments``, ``sender_id``, ``send_at`` (when to send: the window start,
or the hand-over time when later), ``send_before`` (window end) — the consumer must send
within ``[send_at, send_before)`` — and ``window_start_at``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path

from smsanalytics.adapters.base import Outcome, failpoint
from smsanalytics.adapters.ledger import Ledger, LedgerRow

__all__ = ["OutboxAdapter"]

_FMT = "%Y%m%dT%H%M%SZ"


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class OutboxAdapter:
    """Write due messages to per-window JSONL files under ``folder`` (default ``DIR/outbox``).

    Parameters
    ----------
    folder
        Where the files go; default the plan directory's ``outbox/``.
    schedule_ahead
        How far ahead of a window the outbox may be handed messages (``send --ahead``), for a
        consumer that schedules by ``send_at``; default 35 days (the driver's ``ahead``, 0 by
        default, decides).
    """

    name = "outbox"
    batch_by_window = True

    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        schedule_ahead: dt.timedelta = dt.timedelta(days=35),
    ) -> None:
        self._folder = Path(folder) if folder is not None else None
        self.max_schedule_ahead = schedule_ahead
        self.folder: Path | None = None

    def open(self, ledger: Ledger, plan_dir: Path) -> None:
        self.folder = self._folder or Path(plan_dir) / "outbox"
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(
            ".*.tmp"
        ):  # a crash mid-write: never renamed, never handed over
            stale.unlink(missing_ok=True)

    def _path(self, start: dt.datetime, end: dt.datetime) -> Path:
        assert self.folder is not None
        stem = f"{start.astimezone(dt.UTC).strftime(_FMT)}_{end.astimezone(dt.UTC).strftime(_FMT)}"
        path, n = self.folder / f"{stem}.jsonl", 1
        while path.exists():
            n += 1
            path = self.folder / f"{stem}-{n}.jsonl"
        return path

    def send(self, batch: Sequence[LedgerRow], *, now: dt.datetime) -> list[Outcome]:
        if self.folder is None:
            raise RuntimeError("OutboxAdapter.open() was not called")
        path = self._path(batch[0].window_start_at, batch[0].window_end_at)
        tmp = path.with_name(f".{path.name}.tmp")
        lines = []
        for r in batch:
            lines.append(
                json.dumps(
                    {
                        "idempotency_key": r.idempotency_key,
                        "campaign_id": r.campaign_id,
                        "contact_id": r.contact_id,
                        "variant": r.variant,
                        "to": r.phone_e164,
                        "text": r.body,
                        "encoding": r.encoding,
                        "segments": r.segments,
                        "sender_id": r.sender_id,
                        "send_at": _iso(max(r.window_start_at, now)),
                        "send_before": _iso(r.window_end_at),
                        "window_start_at": _iso(r.window_start_at),
                    },
                    ensure_ascii=False,
                )
            )
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        failpoint("outbox_before_rename")
        os.replace(tmp, path)
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return [Outcome("accepted") for _ in batch]

    def written_keys(self) -> set[str]:
        """Idempotency keys present in the outbox files."""
        assert self.folder is not None
        keys: set[str] = set()
        for path in sorted(self.folder.glob("*.jsonl")):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        keys.add(json.loads(line)["idempotency_key"])
        return keys

    def reconcile(self, in_doubt: Sequence[LedgerRow]) -> list[Outcome]:
        keys = self.written_keys()
        return [
            Outcome("accepted")
            if r.idempotency_key in keys
            else Outcome("not_sent", error="not in any outbox file")
            for r in in_doubt
        ]

    def close(self) -> None:
        return None
