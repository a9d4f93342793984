"""Benchmark of the demo generator: wall and CPU seconds and peak memory by number of contacts.

Usage::

    .venv/bin/python benchmarks/bench_synth.py                 # 100k and 1M contacts
    .venv/bin/python benchmarks/bench_synth.py 20000 100000    # any sizes
    BENCH_SCALE=100k,1m .venv/bin/python benchmarks/bench_synth.py

Each size runs in a fresh subprocess, so the peak resident memory (``ru_maxrss``) is that of
one generation (read from ``VmHWM``). The load average is printed too: on a shared machine the
wall time includes waiting for the CPU, and the CPU time is the fairer measure of the code.

Up to 1M contacts the stage is the in-memory :func:`smsanalytics.synth.generate_programme`
(about 9 GB at 1M). From 1M contacts on, ``make bench`` also measures the chunked generator
:func:`smsanalytics.synth.generate_programme_parquet` (1M contacts per chunk, every canonical
table written as zstd Parquet part files, no warehouse, no truth), the only one that reaches 10M;
its output goes to a scratch folder under ``data/tmp/bench`` that is removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

_SUFFIX = {"k": 1_000, "m": 1_000_000}

_CHILD = """
import json, sys, time

def hwm_kb():
    # this process's own peak RSS (ru_maxrss is inherited across fork/exec on Linux)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

from smsanalytics.synth import generate_programme
n = int(sys.argv[1])
wall, cpu = time.perf_counter(), time.process_time()
prog = generate_programme(n)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
rows = {name: frame.height for name, frame in prog.tables().items()}
size = sum(f.estimated_size() for f in (*prog.tables().values(), *prog.truth_tables().values()))
print(json.dumps({
    "n_contacts": n,
    "seconds": round(wall, 1),
    "cpu_seconds": round(cpu, 1),
    "peak_rss_gb": round(hwm_kb() / 1e6, 2),
    "output_gb": round(size / 1e9, 2),
    "rows": rows,
    "stages": prog.timings,
}))
"""


_CHUNKED_CHILD = """
import json, os, sys, time

def hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

from smsanalytics.synth import generate_programme_parquet
n, folder = int(sys.argv[1]), sys.argv[2]
wall, cpu = time.perf_counter(), time.process_time()
meta = generate_programme_parquet(n, folder, seed=0)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)
print(json.dumps({
    "n_contacts": n,
    "seconds": round(wall, 1),
    "cpu_seconds": round(cpu, 1),
    "peak_rss_gb": round(hwm_kb() / 1e6, 2),
    "parquet_gb": round(size / 1e9, 2),
    "rows": meta["rows"],
    "chunks": len(meta["chunks"]),
}))
"""

#: Sizes from which the chunked generator is measured too (and above which it is the only one).
CHUNKED_MIN = 1_000_000
IN_MEMORY_MAX = 1_000_000


def _measure_chunked(n: int) -> dict:
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folder = root / "data" / "tmp" / "bench" / f"synth-chunked-{n}"
    load = os.getloadavg()[0]
    try:
        out = subprocess.run(
            [sys.executable, "-c", _CHUNKED_CHILD, str(n), str(folder)],
            check=True,
            capture_output=True,
            text=True,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        ).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = json.loads(out)
    result["load_average_before"] = round(load, 2)
    return result


def _parse(size: str) -> int:
    size = size.strip().lower()
    if size[-1] in _SUFFIX:
        return int(float(size[:-1]) * _SUFFIX[size[-1]])
    return int(size)


def _measure(n: int) -> dict:
    load = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n)], check=True, capture_output=True, text=True
    ).stdout
    result = json.loads(out)
    result["load_average_before"] = round(load, 2)
    return result


def run(sizes: list[int]) -> list[dict]:
    """Entries for ``make bench`` (``benchmarks/__main__.py``)."""
    entries = []
    for n in sizes:
        if n <= IN_MEMORY_MAX:
            r = _measure(n)
            entries.append(
                {
                    "stage": "generate_programme",
                    "contacts": n,
                    "messages": r["rows"]["messages"],
                    "seconds": r["seconds"],
                    "cpu_seconds": r["cpu_seconds"],
                    "peak_rss_mb": r["peak_rss_gb"] * 1000,
                    "baseline_seconds": None,
                }
            )
        if n >= CHUNKED_MIN:
            r = _measure_chunked(n)
            entries.append(
                {
                    "stage": "generate_programme_parquet (1M-contact chunks, zstd Parquet)",
                    "contacts": n,
                    "messages": r["rows"]["messages"],
                    "seconds": r["seconds"],
                    "cpu_seconds": r["cpu_seconds"],
                    "peak_rss_mb": r["peak_rss_gb"] * 1000,
                    "baseline_seconds": None,
                    "parquet_gb": r["parquet_gb"],
                    "rows": r["rows"],
                    "load_average_before": r["load_average_before"],
                }
            )
    return entries


def main(argv: list[str]) -> int:
    sizes = [_parse(a) for a in argv] or [
        _parse(s) for s in os.environ.get("BENCH_SCALE", "100k,1m").split(",") if s.strip()
    ]
    for entry in run(sizes):
        print(json.dumps(entry), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
