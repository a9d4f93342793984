"""The benchmark harness (benchmarks/harness.py): page-cache protocol, measurement."""

from __future__ import annotations

import builtins
import collections
import os
import sys
from pathlib import Path

import pytest

from benchmarks import harness


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="posix_fadvise is Linux/Unix only")
def test_warm_page_cache_drops_every_other_benchmark_file_and_reads_the_inputs_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "bench"
    (cache / "run" / "parts").mkdir(parents=True)
    names = ("run/warehouse.duckdb", "run/parts/p0.parquet", "other.parquet", "run/x")
    files = {name: (cache / name) for name in names}
    for path in files.values():
        path.write_bytes(b"0" * 100)
    dropped: list[str] = []
    reads: collections.Counter[str] = collections.Counter()

    def fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        assert (offset, length, advice) == (0, 0, os.POSIX_FADV_DONTNEED)  # the whole file
        dropped.append(os.readlink(f"/proc/self/fd/{fd}"))

    def counting_open(file, *args, **kwargs):  # noqa: ANN001, ANN202
        reads[str(file)] += 1
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(harness.os, "posix_fadvise", fadvise)
    monkeypatch.setattr(harness, "open", counting_open, raising=False)
    harness.warm_page_cache([files["run/warehouse.duckdb"], cache / "run" / "parts"], cache=cache)

    inputs = {str(files[n].resolve()) for n in ("run/warehouse.duckdb", "run/parts/p0.parquet")}
    others = {str(files[n].resolve()) for n in ("other.parquet", "run/x")}
    assert set(dropped) == others and len(dropped) == 2
    assert reads == {name: 2 for name in inputs}


def test_feature_benchmark_rounds_report_the_median_run():
    from benchmarks.bench_features import median_run, repeats

    runs = [{"seconds": s, "extra": {"tag": s}} for s in (3.4, 2.9, 3.1, 5.0)]
    assert median_run(runs)["extra"]["tag"] == 3.1  # lower middle of four: the whole run kept
    assert median_run(runs[:3])["seconds"] == 3.1
    assert repeats({}) == 1 and repeats({"BENCH_REPEAT": "3"}) == 3
    for bad in ("0", "x", "-1", "21"):
        with pytest.raises(ValueError, match="BENCH_REPEAT"):
            repeats({"BENCH_REPEAT": bad})


def test_measure_reports_wall_time_memory_and_the_kernel_side_of_the_call() -> None:
    result = harness.measure("json", "dumps", obj=[1, 2])  # a cheap call in a fresh process
    assert result["seconds"] >= 0 and result["peak_rss_mb"] > 0
    kernel = result["kernel"]
    assert kernel["minor_faults"] >= 0 and kernel["system_seconds"] >= 0
    if sys.platform == "linux":  # /proc/stat: steal time of the host, never negative
        assert kernel["steal_seconds"] >= 0


def test_speed_probe_keeps_the_best_round_of_each_workload_per_thread_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str, dict]] = []

    def fake_measure(module: str, function: str, **kwargs: int) -> dict:
        calls.append((module, function, kwargs))
        slower = len(calls) % 2  # rounds alternate fast, slow
        one = kwargs["threads"] == 1
        return {
            "extra": {
                "python": 0.30 + slower if one else 9.0,  # only the one-thread rounds count
                "aggregate": 0.40 + slower if one else 9.0,
                "scans": (0.80 if one else 0.50) + slower,
                "threads": kwargs["threads"],
            }
        }

    monkeypatch.setattr(harness, "measure", fake_measure)
    monkeypatch.setattr(harness.os, "cpu_count", lambda: 2)
    result = harness.speed_probe(rounds=2)
    assert [(m, f, k["threads"]) for m, f, k in calls] == [
        ("benchmarks.harness", "probe", t) for t in (1, 1, 2, 2)
    ]
    assert result == {
        "python_loop_seconds": 0.3,
        "duckdb_aggregate_seconds": 0.4,
        "duckdb_scans_1_thread_seconds": 0.8,
        "duckdb_scans_all_threads_seconds": 0.5,
        "parallel_speedup": 1.6,
        "threads": 2,
        "rounds": 2,
    }


def test_probe_times_its_three_workloads_on_its_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "PROBE_ROWS", 50_000)
    monkeypatch.setattr(harness, "PROBE_GROUPS", 1_009)
    monkeypatch.setattr(harness, "PROBE_LOOPS", 10_000)
    con = harness.setup_probe(threads=1)
    rows, keys = con.execute("SELECT count(*), count(DISTINCT k) FROM probe").fetchall()[0]
    assert rows == 50_000 and keys == 1_009  # the multiplier visits every residue
    result = harness.probe(con, threads=1)
    assert result["threads"] == 1
    assert all(result[k] > 0 for k in ("python", "aggregate", "scans"))


def test_bench_prints_the_probe_with_its_warning() -> None:
    from benchmarks.__main__ import _probe_line

    probe = {
        "python_loop_seconds": 0.33,
        "duckdb_aggregate_seconds": 0.41,
        "duckdb_scans_1_thread_seconds": 0.53,
        "duckdb_scans_all_threads_seconds": 0.29,
        "parallel_speedup": 1.83,
        "threads": 2,
    }
    line = _probe_line("speed probe at start", probe)
    assert line.startswith("speed probe at start: Python loop 0.33 s, DuckDB aggregate 0.41 s")
    assert "0.29 s on 2 (1.83x)" in line and "similar probes" in line
