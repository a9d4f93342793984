"""Pipelines: validation, a real run on a small generated warehouse, failures that name the
notebook and the cell and leave earlier reports untouched, and the phone-number gate."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from typer.testing import CliRunner

from smsanalytics.cli.pipeline import app
from smsanalytics.pipelines import (
    PipelineError,
    _substitute,
    load_pipeline,
    run_pipeline,
    scan_report,
)

RUN_DATE = dt.date(2026, 11, 2)  # as in conftest.py


def _notebook(path: Path, *cells: str, params: str = 'label = "x"') -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = new_code_cell(params)
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [new_markdown_cell(f"# {path.stem}\n\nA tiny test notebook."), parameters,
                *[new_code_cell(c) for c in cells]]  # fmt: skip
    nbformat.write(nb, str(path))
    return path


def _pipeline(folder: Path, name: str, *notebooks: Path, extra: str = "") -> Path:
    listed = "\n".join(f"  - path: {nb}" for nb in notebooks)
    spec = folder / f"{name}.yaml"
    spec.write_text(f"name: {name}\noutput: {folder / 'reports'}\n{extra}notebooks:\n{listed}\n")
    return spec


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# -- validation ------------------------------------------------------------------------------------
def test_load_pipeline_explains_bad_files(tmp_path):
    nb = _notebook(tmp_path / "ok.ipynb", "print(label)")
    cases = {
        "name: x\nnotebooks: []\n": "non-empty list",
        "name: x\nfoo: 1\nnotebooks:\n  - path: ok.ipynb\n": "unknown key",
        f"name: x\nnotebooks:\n  - path: {tmp_path / 'missing.ipynb'}\n": "does not exist",
        f"notebooks:\n  - path: {nb}\n    parameters: {{nope: 1}}\n": r"\['nope'\] in its",
        f"notebooks:\n  - path: {nb}\n    parameters: {{label: [1, 2]}}\n": "must be a scalar",
        "name: 'bad name!'\nnotebooks:\n  - path: ok.ipynb\n": "name",
        "name: [\n": "not valid YAML",
    }
    for i, (text, message) in enumerate(cases.items()):
        spec = tmp_path / f"p{i}.yaml"
        spec.write_text(text)
        with pytest.raises(PipelineError, match=message):
            load_pipeline(spec, root=tmp_path)
    with pytest.raises(PipelineError, match="does not exist"):
        load_pipeline(tmp_path / "nope.yaml")


def test_shared_parameters_go_to_the_notebooks_that_declare_them(tmp_path):
    a = _notebook(tmp_path / "a.ipynb", "print(label)")
    b = _notebook(tmp_path / "b.ipynb", "print(days)", params="days = 1")
    spec = tmp_path / "p.yaml"
    spec.write_text(
        f"parameters: {{label: '{{date-7d}}', days: 3}}\n"
        f"notebooks:\n  - {a}\n  - path: {b}\n    parameters: {{days: 9}}\n"
    )
    pipeline = load_pipeline(spec, root=tmp_path)
    assert pipeline.name == "p" and pipeline.output == tmp_path / "reports"
    assert [dict(s.parameters) for s in pipeline.steps] == [{"label": "{date-7d}"}, {"days": 9}]
    day = dt.date(2026, 11, 2)
    assert _substitute("{date-7d}..{date}..{date+1d}", day) == "2026-10-26..2026-11-02..2026-11-03"
    assert _substitute("Hi {first_name}", day) == "Hi {first_name}"


# -- a real run ------------------------------------------------------------------------------------
def test_run_publishes_html_index_and_notebook(report_run):
    folder = report_run.folder
    assert folder.name == RUN_DATE.isoformat() and folder.parent.name == "test_campaign_report"
    assert sorted(p.name for p in folder.iterdir()) == [
        "07_campaign_report.html", "07_campaign_report.ipynb", "index.html", "run.json",
    ]  # fmt: skip
    index = report_run.index.read_text()
    assert 'href="07_campaign_report.html"' in index and "07 · Campaign report" in index
    page = (folder / "07_campaign_report.html").read_text()
    assert "campaign_kpis(" not in page, "inputs are hidden"
    assert "Click-through rate" in page and "Attribution: An order is credited" in page
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?://", page), (
        "no remote resources"
    )
    assert page.count('class="smsanalytics-chart"') >= 7
    run = json.loads((folder / "run.json").read_text())
    assert run["notebooks"][0]["parameters"]["days"] == 28
    assert not list(folder.parent.glob(".*tmp")), "no temporary folder left"


def test_published_reports_hold_no_phone_number(report_run):
    files = [p for p in report_run.folder.iterdir() if p.suffix in (".html", ".ipynb")]
    assert len(files) == 3
    assert scan_report(files) == []


# -- failures --------------------------------------------------------------------------------------
def test_a_failing_notebook_names_notebook_and_cell_and_keeps_earlier_reports(tmp_path):
    good = _notebook(tmp_path / "good.ipynb", "print(label)")
    bad = _notebook(
        tmp_path / "bad.ipynb", "x = 1", "raise ValueError('the campaign has no messages')"
    )
    first = run_pipeline(_pipeline(tmp_path, "weekly", good), date=RUN_DATE)
    before = _snapshot(first.folder)
    assert set(before) == {"good.html", "good.ipynb", "index.html", "run.json"}

    result = CliRunner().invoke(
        app, ["run", str(_pipeline(tmp_path, "weekly", good, bad)), "--date", RUN_DATE.isoformat()]
    )
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "notebook bad.ipynb failed at cell 4" in message
    assert "raise ValueError('the campaign has no messages')" in message
    assert "ValueError: the campaign has no messages" in message
    assert _snapshot(first.folder) == before, "the earlier report is untouched"
    assert sorted(p.name for p in (tmp_path / "reports" / "weekly").iterdir()) == [
        "2026-11-02",
        "_failed",
    ]
    assert (tmp_path / "reports" / "weekly" / "_failed" / "2026-11-02" / "bad.ipynb").is_file()


def test_a_phone_number_in_an_output_stops_publication(tmp_path):
    leaky = _notebook(tmp_path / "leaky.ipynb", "print('call +33 6 12 34 56 78')")
    with pytest.raises(
        PipelineError, match=r"2 phone number\(s\).*leaky.ipynb: \+33 • •• •• •• 78"
    ) as info:
        run_pipeline(_pipeline(tmp_path, "leaky", leaky), date=RUN_DATE)
    assert "12 34 56" not in str(info.value)
    assert not (tmp_path / "reports" / "leaky" / RUN_DATE.isoformat()).exists()
    assert list((tmp_path / "reports" / "leaky").iterdir()) == []


def test_cli_rerun_replaces_the_same_date_and_prints_json(tmp_path):
    nb = _notebook(tmp_path / "hello.ipynb", "print(label)")
    spec = _pipeline(tmp_path, "daily", nb, extra="parameters: {label: 'run {date}'}\n")
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["run", str(spec), "--date", "2026-11-03", "--json"])
        assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (
        summary["index"].endswith("daily/2026-11-03/index.html")
        and Path(summary["index"]).is_file()
    )
    assert "run 2026-11-03" in Path(summary["notebooks"][0]["html"]).read_text()
    assert sorted(p.name for p in (tmp_path / "reports" / "daily").iterdir()) == ["2026-11-03"]
