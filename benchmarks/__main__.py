"""``make bench``: run every ``benchmarks/bench_*.py`` at the sizes of ``BENCH_SCALE``.

Each module defines ``run(sizes: list[int]) -> list[dict]`` returning entries
``{stage, contacts, messages, seconds, peak_rss_mb, baseline_seconds}``. The table is printed and
written to ``benchmarks/results/latest.json``. ``BENCH_ONLY=features,plan`` restricts the modules;
``BENCH_REPEAT=3`` measures the feature build in three rounds and reports each stage's median.
A speed probe (:func:`benchmarks.harness.speed_probe`) runs before and after, and its results go
to ``benchmarks/results/latest.meta.json``: times are only comparable between equally fast hosts.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.harness import parse_scale, speed_probe

HERE = Path(__file__).resolve().parent


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _probe_line(title: str, probe: dict) -> str:
    """One line for a :func:`benchmarks.harness.speed_probe` result."""
    one, every = probe["duckdb_scans_1_thread_seconds"], probe["duckdb_scans_all_threads_seconds"]
    return (
        f"{title}: Python loop {probe['python_loop_seconds']:.2f} s, DuckDB aggregate "
        f"{probe['duckdb_aggregate_seconds']:.2f} s, scans {one:.2f} s on 1 thread and "
        f"{every:.2f} s on {probe['threads']} ({probe['parallel_speedup']:.2f}x); "
        "compare timings only between runs with similar probes"
    )


def main() -> None:
    started = time.perf_counter()
    sizes = parse_scale(os.environ.get("BENCH_SCALE", "100k,1m"))
    only = {s for s in os.environ.get("BENCH_ONLY", "").split(",") if s}
    console = Console(width=None if sys.stdout.isatty() else 200)  # a log file: no wrapping
    probes = {"at_start": speed_probe()}
    console.print(_probe_line("speed probe at start", probes["at_start"]))
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
        seconds = "skipped" if e["seconds"] is None else f"{e['seconds']:.2f}"
        peak = "" if e["peak_rss_mb"] is None else f"{e['peak_rss_mb']:.0f}"
        table.add_row(
            e["stage"],
            f"{e['contacts']:,}",
            f"{e.get('messages') or 0:,}",
            seconds,
            peak,
            f"{base:.2f}" if base else "",
            ratio,
        )
    notes = [e for e in entries if e.get("skipped") or e.get("baseline_skipped")]
    probes["at_end"] = speed_probe()
    console.print(table)
    for e in notes:
        reason = e.get("skipped") or e["baseline_skipped"]
        console.print(f"  {e['stage']} at {e['contacts']:,}: {reason}")
    for when, probe in probes.items():
        console.print(_probe_line(f"speed probe {when.replace('_', ' ')}", probe))
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    meta = {
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "bench_scale": os.environ.get("BENCH_SCALE", "100k,1m"),
        "bench_only": os.environ.get("BENCH_ONLY", ""),
        "bench_repeat": os.environ.get("BENCH_REPEAT", "1"),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - started),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "speed_probe": probes,
    }
    out.write_text(json.dumps(entries, indent=2) + "\n")
    (HERE / "results" / "latest.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    console.print(f"written {out}")


if __name__ == "__main__":
    main()
