"""Notebook hygiene: committed without outputs, a purpose cell, a parameters cell of scalars
that papermill can read, no logic defined in the notebook, the environment recorded last."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import papermill
import pytest

from smsanalytics.pipelines import find_phone_numbers, load_pipeline

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = [
    "01_explore.ipynb",
    "02_segments.ipynb",
    "03_send_time.ipynb",
    "04_churn_recapture.ipynb",
    "05_ab_readout.ipynb",
    "06_message_lab.ipynb",
    "07_campaign_report.ipynb",
    "08_send_plan.ipynb",
]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LOGIC = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.AsyncFor,
    ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
)  # fmt: skip


def test_the_expected_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request) -> tuple[Path, nbformat.NotebookNode]:
    path = request.param
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return path, nb


def test_no_outputs_are_committed(notebook):
    _, nb = notebook
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    assert nb.nbformat == 4 and nb.metadata["kernelspec"]["name"] == "python3"


def test_purpose_cell_then_scalar_parameters_cell(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "What this answers" in first.source
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters`"
    tree = ast.parse(tagged[0].source)
    names = []
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1, ast.unparse(stmt)
        assert isinstance(stmt.value, ast.Constant), f"{ast.unparse(stmt)}: parameters are scalars"
        names.append(stmt.targets[0].id)
    # papermill reads every parameter (a `=` in a comment would hide it from `inspect_notebook`)
    assert list(papermill.inspect_notebook(str(path))) == names


def test_no_logic_is_defined_in_the_notebook(notebook):
    _, nb = notebook
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(node, LOGIC), f"{type(node).__name__} in: {cell.source[:80]}"


def test_last_cell_records_the_environment(notebook):
    _, nb = notebook
    assert (
        nb.cells[-1].cell_type == "code"
        and nb.cells[-1].source.strip() == "reporting.environment()"
    )


def test_no_phone_number_in_the_sources(notebook):
    _, nb = notebook
    for cell in nb.cells:
        assert find_phone_numbers(cell.source) == [], cell.source[:80]


@pytest.mark.parametrize("name", ["weekly_campaign_report.yaml", "daily_send_plan.yaml"])
def test_shipped_pipelines_load(name):
    pipeline = load_pipeline(ROOT / "pipelines" / name)
    assert pipeline.name == name.removesuffix(".yaml")
    assert pipeline.output == ROOT / "reports"
    for step in pipeline.steps:
        assert step.path.parent == ROOT / "notebooks"
    assert (ROOT / "pipelines" / "cron.example").read_text().count("pipeline run") == 2
