"""Shared pieces of the command line: JSON or human output, progress bars, error exits."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

__all__ = ["JSON_OPTION", "console", "emit", "fail", "progress", "to_jsonable"]

console = Console(stderr=True)
_stdout = Console()

#: ``--json`` option shared by every verb that produces a result.
JSON_OPTION = typer.Option(False, "--json", help="Print a machine-readable JSON summary on stdout.")


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, polars frames, numpy scalars, dates and paths to JSON-ready values.

    Non-finite floats become ``None`` so the output is strict JSON.
    """
    import dataclasses

    import numpy as np
    import polars as pl

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, pl.DataFrame):
        return to_jsonable(value.to_dicts())
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def emit(result: Any, as_json: bool, *, title: str | None = None) -> None:
    """Print ``result``: strict JSON on stdout with ``--json``, else a readable rich rendering.

    Dicts of scalars print as a two-column table; nested values print as indented JSON.
    """
    data = to_jsonable(result)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
        sys.stdout.flush()
        return
    if isinstance(data, dict) and all(not isinstance(v, dict | list) for v in data.values()):
        table = RichTable(title=title, show_header=False)
        table.add_column("key", style="bold")
        table.add_column("value")
        for k, v in data.items():
            table.add_row(str(k), str(v))
        _stdout.print(table)
    else:
        if title:
            _stdout.print(f"[bold]{title}[/bold]")
        _stdout.print_json(json.dumps(data, ensure_ascii=False, allow_nan=False))


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error on stderr and return an :class:`typer.Exit` to raise."""
    console.print(f"[bold red]error:[/bold red] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


@contextmanager
def progress(description: str, total: float | None = None, *, enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar on stderr (silent when ``enabled`` is false or stderr is no terminal).

    Yields a callable ``advance(n=1)``.
    """
    if not enabled or not console.is_terminal:
        yield lambda n=1: None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
