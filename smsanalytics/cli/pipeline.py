"""``smsanalytics pipeline``: run report pipelines (papermill notebooks → offline HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smsanalytics.cli.common import JSON_OPTION, console, emit, fail

app = typer.Typer(
    help="Report pipelines: notebooks run with papermill into reports/.", no_args_is_help=True
)


@app.callback()
def main() -> None:
    """Report pipelines: declared notebooks run with papermill into reports/<pipeline>/<date>/."""


@app.command()
def run(
    file: Annotated[
        Path,
        typer.Argument(help="Pipeline file (YAML), e.g. pipelines/weekly_campaign_report.yaml."),
    ],
    date: Annotated[
        str | None,
        typer.Option(
            "--date", help="Run date YYYY-MM-DD (default today, UTC); {date} in parameters."
        ),
    ] = None,
    warehouse: Annotated[
        Path | None,
        typer.Option(
            "--warehouse", help="Warehouse for every notebook with a `warehouse` parameter."
        ),
    ] = None,
    json_out: bool = JSON_OPTION,
) -> None:
    """Execute the pipeline's notebooks and publish reports/<pipeline>/<date>/ with an index.html.

    A failing notebook stops the run (exit code 1) naming the notebook and the cell; earlier
    reports are left untouched. The path of index.html is printed last.
    """
    from smsanalytics.pipelines import PipelineError, run_pipeline

    overrides = {"warehouse": str(warehouse.resolve())} if warehouse is not None else None
    if warehouse is not None and not warehouse.is_file():
        raise fail(f"warehouse {str(warehouse)!r} does not exist")
    quiet = json_out or not console.is_terminal
    try:
        result = run_pipeline(
            file, date=date, overrides=overrides,
            on_step=None if quiet else (lambda m: console.print(f"[dim]running {m}[/dim]")),
        )  # fmt: skip
    except PipelineError as exc:
        raise fail(str(exc), code=1) from None
    summary = {
        "pipeline": result.pipeline,
        "date": result.date.isoformat(),
        "folder": str(result.folder),
        "index": str(result.index),
        "seconds": round(result.seconds, 1),
        "notebooks": [
            {"name": r.name, "title": r.title, "html": str(r.html), "seconds": round(r.seconds, 1)}
            for r in result.notebooks
        ],
    }
    if json_out:
        emit(summary, True)
        return
    for r in result.notebooks:
        console.print(f"{r.title}: {r.html} ({r.seconds:.0f} s)")
    typer.echo(str(result.index))
