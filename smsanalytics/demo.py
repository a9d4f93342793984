"""The main job on the embedded default: a generated demo programme in a DuckDB warehouse.

``run_demo`` generates a seeded SMS programme (:mod:`smsanalytics.synth`), writes it as a user's
platform would export it (CSV and Parquet, with a few realistic defects), ingests every export
through the real ingest pipeline (:mod:`smsanalytics.ingest`) into a fresh warehouse, and returns
a summary. The warehouse is built in a temporary file next to the target and moved into place
only when everything succeeded, so a failed demo leaves the previous warehouse as it was.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smsanalytics.settings import Settings
from smsanalytics.warehouse import Warehouse

__all__ = ["DemoSummary", "run_demo", "INGEST_ORDER"]

#: Load order: contacts and campaigns before the events that refer to them, messages before
#: receipts and clicks.
INGEST_ORDER: tuple[str, ...] = (
    "campaigns",
    "contacts",
    "messages",
    "assignments",
    "receipts",
    "clicks",
    "inbound",
    "orders",
)


@dataclass(frozen=True)
class DemoSummary:
    """What ``run_demo`` built."""

    warehouse: Path
    contacts_generated: int
    months: int
    seed: int
    tables: dict[str, int]
    quarantined: dict[str, dict[str, int]]
    ingest: list[dict[str, Any]]
    seconds: dict[str, float] = field(default_factory=dict)


def run_demo(
    settings: Settings,
    *,
    contacts: int = 20_000,
    months: int = 12,
    seed: int = 0,
    exports_dir: Path | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Generate, export, ingest: build the demo warehouse at ``settings.warehouse_path``.

    Parameters
    ----------
    settings
        Where the warehouse goes, default region and zone for reading the exports.
    contacts, months, seed
        Size, length and seed of the generated programme.
    exports_dir
        Where the export files are written (default ``<warehouse folder>/exports``).
    on_step
        Called with a short description before each step (for progress display).

    Returns
    -------
    DemoSummary
        Row counts per table, quarantined rows per table and reason, the ingest reports and
        the time each step took.
    """
    from smsanalytics import synth
    from smsanalytics.ingest import ingest_file

    step = on_step or (lambda _msg: None)
    target = settings.warehouse_path
    target.parent.mkdir(parents=True, exist_ok=True)
    exports = exports_dir or target.parent / "exports"
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    step(f"generating {contacts:,} contacts over {months} months (seed {seed})")
    programme = synth.generate_programme(contacts, months=months, seed=seed)
    seconds["generate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    step(f"writing platform exports to {exports}")
    if exports.exists():
        shutil.rmtree(exports)
    paths = synth.write_exports(programme, exports, defects=True, seed=seed)
    seconds["export"] = time.perf_counter() - t0

    tmp = target.with_name(target.name + ".tmp")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    reports: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with Warehouse(tmp) as wh:
        for table in INGEST_ORDER:
            if table not in paths:
                continue
            step(f"ingesting {paths[table].name} into {table}")
            report = ingest_file(
                wh,
                table,
                paths[table],
                default_region=settings.default_region,
                default_timezone=settings.default_timezone,
            )
            reports.append(_report_dict(report))
        seconds["ingest"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        step("recording ground truth for evaluations (schema truth)")
        synth.write_truth(programme, wh)
        seconds["truth"] = time.perf_counter() - t0
        tables = wh.counts()
        quarantined: dict[str, dict[str, int]] = {}
        for row in wh.quarantine_counts().iter_rows(named=True):
            quarantined.setdefault(row["table_name"], {})[row["reason"]] = int(row["rows"])
        wh.con.execute("CHECKPOINT")
    os.replace(tmp, target)
    return DemoSummary(
        warehouse=target,
        contacts_generated=contacts,
        months=months,
        seed=seed,
        tables=tables,
        quarantined=quarantined,
        ingest=reports,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )


def _report_dict(report: Any) -> dict[str, Any]:
    import dataclasses

    data = dataclasses.asdict(report) if dataclasses.is_dataclass(report) else dict(report)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}
