"""``make bench``: run every ``benchmarks/bench_*.py`` at the sizes of ``BENCH_SCALE``.

Each module defines ``run(sizes: list[int]) -> list[dict]`` returning entries
``{stage, contacts, messages, seconds, peak_rss_mb, baseline_seconds}``. The table is printed and
written to ``benchmarks/results/latest.json``. ``BENCH_ONLY=features,plan`` restricts the modules.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.harness import parse_scale

HERE = Path(__file__).resolve().parent


def main() -> None:
    sizes = parse_scale(os.environ.get("BENCH_SCALE", "100k,1m"))
    only = {s for s in os.environ.get("BENCH_ONLY", "").split(",") if s}
    console = Console()
    entries: list[dict] = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        module = importlib.import_module(f"benchmarks.{path.stem}")
        if not hasattr(module, "run"):
            continue
        console.print(f"[bold]{name}[/bold] at {sizes} …")
        t0 = time.perf_counter()
        entries.extend(module.run(sizes))
        console.print(f"  done in {time.perf_counter() - t0:.0f} s")
    table = Table(title="benchmarks (wall time, peak RSS)")
    for col in ("stage", "contacts", "messages", "seconds", "peak RSS MB", "baseline s", "ratio"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for e in entries:
        base = e.get("baseline_seconds")
        ratio = f"{base / e['seconds']:.1f}x" if base and e["seconds"] else ""
        table.add_row(
            e["stage"], f"{e['contacts']:,}", f"{e.get('messages') or 0:,}", f"{e['seconds']:.2f}",
            f"{e['peak_rss_mb']:.0f}", f"{base:.2f}" if base else "", ratio,
        )
    console.print(table)
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()}
    out.write_text(json.dumps(entries, indent=2) + "\n")
    (HERE / "results" / "latest.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    console.print(f"written {out}")


if __name__ == "__main__":
    main()
