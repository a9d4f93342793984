"""Shared pieces of the command line: JSON or human output, progress bars, error exits, the
``--engine`` options."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

if TYPE_CHECKING:
    from smsanalytics.settings import Settings
    from smsanalytics.warehouse import Warehouse

__all__ = [
    "ENGINE_OPTION",
    "JSON_OPTION",
    "PARQUET_DIR_OPTION",
    "EngineName",
    "console",
    "emit",
    "engine_overrides",
    "fail",
    "open_warehouse",
    "progress",
    "to_jsonable",
]

console = Console(stderr=True)
_stdout = Console()

#: ``--json`` option shared by every verb that produces a result.
JSON_OPTION = typer.Option(False, "--json", help="Print a machine-readable JSON summary on stdout.")


class EngineName(enum.StrEnum):
    """Values of ``--engine`` (the ``engine`` setting)."""

    duckdb = "duckdb"
    spark = "spark"


#: ``--engine``, on the command line before any verb and on the verbs that build features and
#: segments (the verb's value wins); default: the ``engine`` setting.
ENGINE_OPTION = typer.Option(
    None,
    "--engine",
    case_sensitive=False,
    help="What runs the SQL relations (features, segments): duckdb (the warehouse) or spark "
    "(over Parquet, docs/scale-out.md). Default: the `engine` setting (duckdb).",
)
#: ``--parquet-dir``: where the Spark engine reads the canonical tables.
PARQUET_DIR_OPTION = typer.Option(
    None,
    "--parquet-dir",
    help="With --engine spark: folder or URI holding <table>.parquet for each canonical table. "
    "Default: the `parquet_dir` setting, else the warehouse's tables exported next to it.",
)


def engine_overrides(
    ctx: typer.Context | None, engine: EngineName | str | None, parquet_dir: str | None
) -> dict[str, str | None]:
    """``engine`` and ``parquet_dir`` settings from the command line: the verb's options, else
    those given before the verb (``smsanalytics --engine spark segment …``, read from the root of
    the verb's context ``ctx``); ``None`` = not given (the settings file and environment
    decide)."""
    root = ctx.find_root().params if ctx is not None else {}
    engine = engine if engine is not None else root.get("engine")
    parquet_dir = parquet_dir if parquet_dir is not None else root.get("parquet_dir")
    return {
        "engine": str(getattr(engine, "value", engine)) if engine is not None else None,
        "parquet_dir": parquet_dir,
    }


def open_warehouse(settings: Settings, *, read_only: bool = True) -> Warehouse:
    """The warehouse of ``settings`` on the engine of ``settings`` (a clear exit on errors)."""
    from smsanalytics.warehouse import Warehouse, WarehouseError

    spark = settings.engine == "spark"
    try:
        return Warehouse(
            settings.warehouse_path,
            read_only=read_only,
            engine=settings.engine,
            parquet_dir=settings.parquet_dir if spark else None,
        )
    except WarehouseError as exc:
        raise fail(str(exc)) from None


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
