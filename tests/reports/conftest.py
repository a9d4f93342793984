"""Fixtures of the report tests: a small generated warehouse and one published report run.

Both are built once per session: notebook runs start a Jupyter kernel each (seconds on a busy
2-core machine), so the tests share one executed campaign report.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from smsanalytics.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
RUN_DATE = dt.date(2026, 11, 2)
REQUIRE_SYSTEM = os.environ.get("SMSANALYTICS_REQUIRE_SYSTEM") == "1"


CHROMIUM = Path("/usr/bin/chromium")


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``, or fail when ``SMSANALYTICS_REQUIRE_SYSTEM=1`` (CI)."""
    if REQUIRE_SYSTEM:
        pytest.fail(f"{reason} (SMSANALYTICS_REQUIRE_SYSTEM=1: system components must be present)")
    pytest.skip(reason)


@pytest.fixture
def chromium() -> Path:
    """Debian's headless Chromium; skips (fails in CI) when it is not installed."""
    if not CHROMIUM.is_file():
        skip_or_fail(
            f"{CHROMIUM} is not installed (apt-get install chromium); "
            "the offline rendering test needs it"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 generated contacts over 12 months (ending 2026-10-31), loaded into a DuckDB file."""
    from smsanalytics.synth import generate_programme

    path = tmp_path_factory.mktemp("warehouse") / "small.duckdb"
    programme = generate_programme(2_000, months=12, seed=7)
    with Warehouse(path) as wh:
        for name, frame in programme.tables().items():
            wh.load(name, frame, source="synth:seed7")
    return path


@pytest.fixture(scope="session")
def report_run(small_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """The campaign report notebook run through a pipeline on the small warehouse."""
    from smsanalytics.pipelines import run_pipeline

    folder = tmp_path_factory.mktemp("pipeline")
    spec = folder / "test_campaign_report.yaml"
    spec.write_text(
        f"""
name: test_campaign_report
description: Campaign report on the small generated warehouse.
output: {folder / "reports"}
parameters:
  warehouse: {small_warehouse}
notebooks:
  - path: {NOTEBOOKS / "07_campaign_report.ipynb"}
    parameters:
      days: 28
""",
        encoding="utf-8",
    )
    return run_pipeline(spec, date=RUN_DATE)
