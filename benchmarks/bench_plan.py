"""Send plan at scale: ``plan_sends`` + ``write_plan`` for N contacts read from a warehouse.

Setup (untimed, cached under ``data/tmp/bench/plan-<n>.duckdb``): a warehouse with ``n``
synthetic contacts (France 55 %, United States 25 % over four zones with Florida and Oklahoma
numbers, United Kingdom 10 %, Belgium 10 %; 2,000 first names, 3 % without consent, 2 % opted
out, 1 % without a known zone), STOP replies for 1 %, and one message sent an hour earlier (the
same local day) to 10 %, counted by the frequency caps. The heavy imports happen in setup too.

Timed, in a fresh process (:func:`benchmarks.harness.measure`): plan an A/B campaign with a
10 % holdout over a three-day range for every contact (compliance screen, jurisdictions, quiet
hours, caps, rendering, keys, manifest), then export ``plan.parquet``, ``plan.csv``,
``plan.jsonl``, the exclusions and the manifest atomically.

Run with ``make bench`` (``BENCH_ONLY=plan``) or ``python -m benchmarks.bench_plan 1m``. Sizes
above :data:`PLAN_MAX` (1M) get an entry with ``seconds: null`` and the reason in ``skipped``;
with the 1M size, :data:`SENDS_1M_CONTACTS` (1.3M contacts, just over 1M sends) is measured too.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import CACHE

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)  # Monday 08:00 in Paris
#: Largest size planned: ``plan_sends`` holds the whole plan (rows, exclusions, rendered texts,
#: keys) in memory, ~1.9 GB at 1M contacts, so ~19 GB at 10M on a 24 GiB machine shared with
#: other jobs. A 10M-contact campaign is planned in waves (one plan per audience slice).
PLAN_MAX = 1_000_000
#: Contacts that give just over 1M sends after the exclusions (~77 % are sent): measured with
#: the 1M size, for the target "plan + export of 1M sends under 10 s".
SENDS_1M_CONTACTS = 1_300_000
SKIP_REASON = (
    "plan_sends holds the whole plan in memory (1.9 GB peak at 1M contacts, ~19 GB projected "
    "at 10M on a 24 GiB machine): not run above 1M; plan a 10M campaign in waves of <= 1M"
)


def _contacts(n: int, seed: int = 0):
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1, dtype=np.int64)
    country = rng.choice(np.array(["FR", "US", "GB", "BE"]), size=n, p=[0.55, 0.25, 0.10, 0.10])
    us_zone = rng.choice(
        np.array(["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]),
        size=n,
    )
    area = rng.choice(np.array(["305", "786", "405", "918", "212", "312", "720", "213"]), size=n)
    zone = np.where(
        country == "FR",
        "Europe/Paris",
        np.where(
            country == "GB", "Europe/London", np.where(country == "BE", "Europe/Brussels", us_zone)
        ),
    )
    digits = np.char.zfill((ids % 10_000_000).astype(str), 7)
    phone = np.where(
        country == "FR",
        np.char.add("+3361", np.char.zfill((ids % 100_000_000).astype(str), 8)),
        np.where(
            country == "US",
            np.char.add(np.char.add("+1", area), digits),
            np.where(
                country == "GB",
                np.char.add("+44770", np.char.zfill((ids % 10_000_000).astype(str), 7)),
                np.char.add("+32470", np.char.zfill((ids % 1_000_000).astype(str), 6)),
            ),
        ),
    )
    names = np.array([f"Name{i}" for i in range(2000)] + ["Zoë", "José", "Ана"])
    first = rng.choice(names, size=n)
    u = rng.random(n)
    frame = pl.DataFrame(
        {
            "contact_id": ids,
            "external_id": np.char.add("C", ids.astype(str)),
            "phone_e164": phone,
            "phone_type": np.where(country == "US", "fixed_line_or_mobile", "mobile"),
            "country": country,
            "timezone": np.where(u > 0.99, None, zone),
            "timezone_source": np.where(u > 0.99, "unknown", "explicit"),
            "first_name": first,
            "language": np.where(country == "FR", "fr", "en"),
        }
    ).with_columns(
        pl.when(pl.Series(u) < 0.03)
        .then(None)
        .otherwise(pl.lit(dt.datetime(2024, 1, 1, tzinfo=dt.UTC)))
        .cast(pl.Datetime("us", "UTC"))
        .alias("consent_at"),
        pl.when((pl.Series(u) >= 0.03) & (pl.Series(u) < 0.05))
        .then(pl.lit(dt.datetime(2025, 6, 1, tzinfo=dt.UTC)))
        .cast(pl.Datetime("us", "UTC"))
        .alias("opted_out_at"),
    )
    return frame


def _warehouse(n: int) -> Path:
    import polars as pl

    from smsanalytics.warehouse import Warehouse

    path = CACHE / f"plan-{n}.duckdb"
    if path.is_file():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    contacts = _contacts(n)
    with Warehouse(tmp) as wh:
        wh.load("contacts", contacts, source="bench")
        k = max(n // 100, 1)
        wh.load(
            "inbound",
            pl.DataFrame(
                {
                    "contact_id": contacts.get_column("contact_id").gather_every(100)[:k],
                    "received_at": [NOW - dt.timedelta(days=3)] * k,
                    "body": ["STOP"] * k,
                    "keyword": ["STOP"] * k,
                },
                schema_overrides={"received_at": pl.Datetime("us", "UTC")},
            ),
            source="bench",
        )
        m = max(n // 10, 1)
        wh.load(
            "messages",
            pl.DataFrame(
                {
                    "message_id": range(1, m + 1),
                    "contact_id": contacts.get_column("contact_id").gather_every(10)[:m],
                    "campaign_id": ["earlier"] * m,
                    "variant": ["default"] * m,
                    "sent_at": [NOW - dt.timedelta(hours=1)] * m,
                },
                schema_overrides={"sent_at": pl.Datetime("us", "UTC")},
            ),
            source="bench",
        )
        wh.con.execute("CHECKPOINT")
    tmp.rename(path)
    return path


def setup_plan_and_export(n: int) -> dict[str, Any]:
    """Build (or reuse) the warehouse and import everything the timed part uses."""
    import smsanalytics.experiments.design  # noqa: F401
    import smsanalytics.messages.templates  # noqa: F401
    from smsanalytics.compliance import load_rules
    from smsanalytics.plan import plan_sends  # noqa: F401

    load_rules()  # imports the holiday calendars

    out = CACHE / f"plan-out-{n}"
    shutil.rmtree(out, ignore_errors=True)
    return {"warehouse": str(_warehouse(n)), "out": str(out)}


def plan_and_export(state: dict[str, Any], n: int) -> dict[str, Any]:
    """Plan an A/B campaign with holdout for every contact and export it (the timed part)."""
    from smsanalytics.plan import Experiment, Variant, plan_sends, write_plan
    from smsanalytics.settings import Settings
    from smsanalytics.warehouse import Warehouse

    t0, c0 = time.perf_counter(), time.process_time()
    with Warehouse(state["warehouse"], read_only=True) as wh:
        ids = wh.sql("SELECT contact_id FROM contacts").get_column("contact_id")
        plan = plan_sends(
            ids,
            [
                Variant("A", "ACME: {first_name|Hello}, -20% this week! acme.example/s STOP 36173"),
                Variant(
                    "B", "ACME: {first_name|Hello}, a gift awaits you. acme.example/g STOP 36173"
                ),
            ],
            (NOW, NOW + dt.timedelta(days=3)),
            Experiment(holdout=0.1),
            campaign_id="bench-ab",
            warehouse=wh,
            settings=Settings(),
            now=NOW,
            sender_id="ACME",
        )
    t1, c1 = time.perf_counter(), time.process_time()
    write_plan(plan, state["out"])
    t2, c2 = time.perf_counter(), time.process_time()
    return {
        "plan_seconds": round(t1 - t0, 2),
        "export_seconds": round(t2 - t1, 2),
        "plan_cpu_seconds": round(c1 - c0, 2),
        "export_cpu_seconds": round(c2 - c1, 2),
        "load_average": round(os.getloadavg()[0], 1),
        "messages": plan.rows.height,
        "excluded": plan.exclusions.height,
        "by_reason": plan.manifest["excluded_by_reason"],
        "stages": plan.timings,
    }


def run(sizes: list[int]) -> list[dict[str, Any]]:
    """``make bench`` entry point: one entry per size."""
    from benchmarks.harness import measure

    entries = []
    if PLAN_MAX in sizes:  # the target is stated in sends: ~1.3M contacts give 1M sends
        sizes = sorted({*sizes, SENDS_1M_CONTACTS})
    for n in sizes:
        if n > PLAN_MAX and n != SENDS_1M_CONTACTS:
            entries.append(
                {
                    "stage": f"plan + export: skipped above {PLAN_MAX:,} contacts",
                    "contacts": n,
                    "messages": None,
                    "seconds": None,
                    "peak_rss_mb": None,
                    "baseline_seconds": None,
                    "skipped": SKIP_REASON,
                }
            )
            continue
        result = measure("benchmarks.bench_plan", "plan_and_export", n=n)
        extra = result.get("extra") or {}
        entries.append(
            {
                "stage": (
                    f"plan + export: plan {extra.get('plan_seconds')} s "
                    f"(CPU {extra.get('plan_cpu_seconds')}), "
                    f"export {extra.get('export_seconds')} s "
                    f"(CPU {extra.get('export_cpu_seconds')}), load {extra.get('load_average')}"
                ),
                "contacts": n,
                "messages": extra.get("messages"),  # sends in the plan
                "seconds": result["seconds"],
                "peak_rss_mb": result["peak_rss_mb"],
                "baseline_seconds": None,
                "detail": extra,
            }
        )
    return entries


if __name__ == "__main__":
    from benchmarks.harness import parse_scale

    for entry in run(parse_scale(",".join(sys.argv[1:]) or "100k,1m")):
        print(entry)
