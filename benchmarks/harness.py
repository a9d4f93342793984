"""Measure a function's wall time and peak memory in a fresh subprocess.

Each measurement runs ``module:function(**kwargs)`` in its own Python process so that its peak
resident set size (``VmHWM``) is its own, and nothing cached by an earlier stage helps it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_RUNNER = r"""
import importlib, json, os, resource, sys, time

def hwm_mb():
    # VmHWM is this process's own peak; ru_maxrss is inherited across fork/exec on Linux.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")

# machine-wide kernel counters that tell why a run was slow: memory taken by reclaiming the page
# cache (allocstall, pgscan_direct), huge-page compaction stalls, page-list promotions
VMSTAT = ("allocstall_normal", "allocstall_movable", "pgscan_direct", "compact_stall",
          "thp_fault_alloc", "pgactivate")

def vmstat():
    try:
        with open("/proc/vmstat") as handle:
            return {k: int(v) for k, v in (ln.split() for ln in handle) if k in VMSTAT}
    except OSError:  # not Linux
        return {}

def steal_seconds():
    # CPU time the hypervisor gave other guests while this one had work (all CPUs, /proc/stat)
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):  # not Linux
        return None

mod, fn, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
func = getattr(importlib.import_module(mod), fn)
setup = getattr(importlib.import_module(mod), "setup_" + fn, None)
state = setup(**kwargs) if setup else None
base = hwm_mb()
usage, counters = resource.getrusage(resource.RUSAGE_SELF), vmstat()
steal = steal_seconds()
t0 = time.perf_counter()
extra = func(state, **kwargs) if setup else func(**kwargs)
seconds = time.perf_counter() - t0
after, counters_after = resource.getrusage(resource.RUSAGE_SELF), vmstat()
steal_after = steal_seconds()
kernel = {
    "minor_faults": after.ru_minflt - usage.ru_minflt,
    "system_seconds": round(after.ru_stime - usage.ru_stime, 3),
    **{k: counters_after[k] - v for k, v in counters.items() if k in counters_after},
    **({"steal_seconds": round(steal_after - steal, 2)} if steal is not None else {}),
}
peak = hwm_mb()
print("__RESULT__" + json.dumps({"seconds": seconds, "peak_rss_mb": peak, "setup_rss_mb": base, "kernel": kernel, "extra": extra if isinstance(extra, dict) else None}))
"""


def measure(module: str, function: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``module.function(**kwargs)`` in a subprocess; return seconds and peak RSS (MB).

    When the module defines ``setup_<function>(**kwargs)``, it runs first (untimed) and its
    return value is passed as the first argument of the function. ``peak_rss_mb`` is the process
    peak including the setup; ``setup_rss_mb`` is the peak before the timed part started.
    ``kernel`` describes the timed part from the kernel's side: the process's minor page faults
    and system CPU seconds, and the change of a few machine-wide ``/proc/vmstat`` counters
    (direct reclaim, compaction stalls, huge-page faults, page activations; empty off Linux),
    and ``steal_seconds``: CPU time the hypervisor gave to other guests meanwhile (summed over
    the CPUs, from ``/proc/stat``), the mark of a run slowed by the host rather than the code.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, module, function, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if "__RESULT__" in line:  # DuckDB's progress bar may precede it on the same line
            return json.loads(line.split("__RESULT__", 1)[1])
    raise RuntimeError(f"benchmark {module}.{function}({kwargs}) failed:\n{proc.stderr[-4000:]}")


#: The speed probe's table (:func:`setup_probe`): this many rows of scattered keys, with
#: about :data:`PROBE_GROUPS` distinct values.
PROBE_ROWS = 8_000_000
PROBE_GROUPS = 1_000_003
#: Python loop iterations and DuckDB scans of the table per probe (:func:`probe`).
PROBE_LOOPS = 5_000_000
PROBE_SCANS = 8


def setup_probe(threads: int = 1) -> Any:
    """A DuckDB connection on ``threads`` threads with the probe's table (untimed)."""
    import duckdb

    con = duckdb.connect(config={"threads": threads})
    con.execute("SET enable_progress_bar = false").fetchall()
    con.execute(
        f"CREATE TABLE probe AS SELECT (i * 2654435761) % {PROBE_GROUPS} AS k "
        f"FROM range({PROBE_ROWS}) AS t(i)"
    ).fetchall()
    return con


def probe(con: Any, threads: int = 1) -> dict[str, Any]:
    """Three fixed workloads, each timed: a pure-Python loop (:data:`PROBE_LOOPS` additions, one
    core); DuckDB grouping the table's keys (a hash aggregate into ~1M groups: hash-table work
    on fresh memory, the feature build's main costs); DuckDB hashing every key
    (:data:`PROBE_SCANS` parallel scans, no memory: the cores' throughput)."""
    import time

    started = time.perf_counter()
    total = 0
    for i in range(PROBE_LOOPS):
        total += i
    python = time.perf_counter() - started
    started = time.perf_counter()
    con.execute("SELECT count(*) FROM (SELECT k, count(*) FROM probe GROUP BY k)").fetchall()
    aggregate = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(PROBE_SCANS):
        con.execute("SELECT sum(hash(k) % 1000) FROM probe").fetchall()
    scans = time.perf_counter() - started
    return {"python": python, "aggregate": aggregate, "scans": scans, "threads": threads}


def speed_probe(rounds: int = 3) -> dict[str, Any]:
    """How fast this machine runs the same small workloads right now.

    A host shared with other virtual machines can be twice as slow one day as another, or one
    hour as the next: a time from ``make bench`` is only comparable with a run on an equally
    fast machine. :func:`probe` runs in ``rounds`` fresh processes on one DuckDB thread and in
    ``rounds`` on every core (:func:`measure`); each figure is its best round.

    Returns
    -------
    dict
        ``python_loop_seconds`` and ``duckdb_aggregate_seconds`` (one thread);
        ``duckdb_scans_1_thread_seconds`` and ``duckdb_scans_all_threads_seconds``, and their
        ratio ``parallel_speedup``: near ``threads`` when the guest has its cores to itself,
        lower when other guests share them; ``threads``, ``rounds``.
    """
    cores = os.cpu_count() or 1
    one = [measure(__name__, "probe", threads=1)["extra"] for _ in range(rounds)]
    every = [measure(__name__, "probe", threads=cores)["extra"] for _ in range(rounds)]

    def best(runs: list[dict[str, Any]], key: str) -> float:
        return round(min(r[key] for r in runs), 3)

    return {
        "python_loop_seconds": best(one, "python"),
        "duckdb_aggregate_seconds": best(one, "aggregate"),
        "duckdb_scans_1_thread_seconds": best(one, "scans"),
        "duckdb_scans_all_threads_seconds": best(every, "scans"),
        "parallel_speedup": round(best(one, "scans") / best(every, "scans"), 2),
        "threads": cores,
        "rounds": rounds,
    }


def parse_scale(text: str) -> list[int]:
    """``"100k,1m,10m"`` → ``[100_000, 1_000_000, 10_000_000]``."""
    sizes = []
    for part in text.replace(" ", "").lower().split(","):
        if not part:
            continue
        mult = {"k": 1_000, "m": 1_000_000}.get(part[-1], 1)
        sizes.append(int(float(part.rstrip("km")) * mult))
    return sizes


#: Sizes above this are generated chunk by chunk (:func:`prepare_programme`): the in-memory
#: generator needs ~9 GB at 1M contacts.
IN_MEMORY_MAX = 1_000_000
CACHE = ROOT / "data" / "tmp" / "bench"


#: How a cached programme's ``warehouse.duckdb`` stores its tables: each load in its table's
#: ``cluster_by`` order (:mod:`smsanalytics.schemas`). A cache with another layout is rebuilt.
WAREHOUSE_LAYOUT = "clustered"


def _fresh_python(code: str, folder: Path, what: str) -> str:
    """Run ``code`` in a fresh Python process (``sys.argv[1]`` = ``folder``), so that this one,
    which may measure later stages, never holds what it loads; returns its standard output."""
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout


def prepare_programme(n_contacts: int, *, seed: int = 0, cache: Path = CACHE) -> Path:
    """Generate (once) a programme of ``n_contacts`` with the chunked generator, as Parquet part
    files and a warehouse file, under ``cache`` (shared by the 10M stages of every benchmark).

    Returns the folder: ``{table}.parquet/part-*.parquet`` (one part per 1M contacts),
    ``warehouse.duckdb`` and ``meta.json`` (``as_of``, ``rows``, ``layout``; written last). See
    :func:`smsanalytics.synth.generate_programme_parquet`. A cached folder whose warehouse has
    another layout than :data:`WAREHOUSE_LAYOUT` gets its warehouse rebuilt from the part files
    (:func:`smsanalytics.synth.chunked.load_parts`; ``load_seconds`` in ``meta.json``).
    """
    folder = cache / f"programme-{n_contacts}-seed{seed}"
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("layout") != WAREHOUSE_LAYOUT:  # cached before tables were clustered
            out = _fresh_python(
                "from smsanalytics.synth.chunked import load_parts; import sys; "
                "print(load_parts(sys.argv[1], sys.argv[1] + '/warehouse.duckdb'))",
                folder,
                f"rebuilding the warehouse of {folder}",
            )
            meta["layout"] = WAREHOUSE_LAYOUT
            meta["load_seconds"] = round(float(out.strip().splitlines()[-1]), 1)
            meta_path.write_text(json.dumps(meta, indent=2))
        return folder
    _fresh_python(
        "from smsanalytics.synth import generate_programme_parquet; import sys; "
        f"generate_programme_parquet({int(n_contacts)}, sys.argv[1], seed={int(seed)}, "
        "warehouse=sys.argv[1] + '/warehouse.duckdb', progress=True)",
        folder,
        f"generating {n_contacts:,} contacts",
    )
    meta = json.loads(meta_path.read_text())  # the generator inserts each chunk clustered
    meta_path.write_text(json.dumps({**meta, "layout": WAREHOUSE_LAYOUT}, indent=2))
    return folder


def warm_page_cache(paths: list[Path], *, cache: Path = CACHE) -> None:
    """Give the next measured stage the same start: only its own input files in the page cache.

    Untimed, before each measurement:

    1. every other file under ``cache`` (the benchmarks' generated data) is dropped from the OS
       page cache (``posix_fadvise(POSIX_FADV_DONTNEED)``: no root needed, nothing else on the
       machine is touched). At 10M contacts the warehouse file (12 GB) and the Parquet exports
       (10 GB) do not fit in the page cache of a 24 GiB machine together; and when the cache is
       full of an earlier stage's files, a stage's memory comes from reclaiming them (a 1M
       feature build measured 3.2–3.9 s that way against 2.5–2.7 s);
    2. ``paths`` (files, or folders of files) are read twice, in 16 MB blocks: once to bring
       them into the cache, once more so that the kernel has already promoted them to its
       active list — otherwise the stage's own first reads pay for that (250,000 page
       activations, ~0.1–0.2 s, in a 1M feature build).
    """
    keep = {
        file.resolve()
        for path in paths
        for file in (path.rglob("*") if path.is_dir() else [path])
        if file.is_file()
    }
    if cache.is_dir():
        for other in cache.rglob("*"):
            if other.is_file() and other.resolve() not in keep:
                _drop_from_page_cache(other)
    for _ in range(2):
        for file in sorted(keep):
            with open(file, "rb", buffering=0) as handle:
                while handle.read(1 << 24):
                    pass


def _drop_from_page_cache(file: Path) -> None:
    """Ask the kernel to drop ``file``'s clean pages from its cache (a no-op where unsupported)."""
    if not hasattr(os, "posix_fadvise"):
        return
    try:
        fd = os.open(file, os.O_RDONLY)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def parquet_source(folder: str | Path, table: str) -> str:
    """What DuckDB's ``read_parquet`` / polars' ``scan_parquet`` read for ``table`` in a cached
    programme: ``{table}.parquet``, or the glob of its part files when it is a folder."""
    path = Path(folder) / f"{table}.parquet"
    return str(path / "*.parquet") if path.is_dir() else str(path)
