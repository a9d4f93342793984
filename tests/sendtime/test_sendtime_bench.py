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
