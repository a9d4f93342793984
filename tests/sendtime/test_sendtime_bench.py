"""The benchmark's stages run (in-process, small) and return what ``make bench`` reports."""

from __future__ import annotations

from pathlib import Path

from benchmarks import bench_sendtime


def test_bench_stages_run_on_a_small_programme(tmp_path: Path) -> None:
    folder = str(bench_sendtime.prepare(1500, cache=tmp_path))
    fitted = bench_sendtime.fit(bench_sendtime.setup_fit(folder), folder)
    assert sum(fitted["levels"].values()) == 1500
    state = bench_sendtime.setup_windows(folder)
    assert bench_sendtime.predict(state, folder)["rows"] == 1500
    assert bench_sendtime.windows(state, folder)["rows"] == 1500


def test_bench_stages_run_partitioned_on_a_chunked_programme(tmp_path: Path) -> None:
    from smsanalytics.synth import generate_programme_parquet

    folder = tmp_path / "prog"
    generate_programme_parquet(1500, folder, seed=1, chunk=500, months=6)
    fitted = bench_sendtime.fit(bench_sendtime.setup_fit(str(folder)), str(folder))
    assert fitted["partitions"] == 3
    assert fitted["population"]["contacts"] == 500
    assert sum(fitted["levels"].values()) == 1500
    state = bench_sendtime.setup_windows(str(folder))
    assert bench_sendtime.predict(state, str(folder))["rows"] == 1500
    assert bench_sendtime.windows(state, str(folder))["rows"] == 1500
