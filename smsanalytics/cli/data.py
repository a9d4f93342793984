"""Data verbs: ``generate``, ``demo``, ``info``, ``cluster``."""

from __future__ import annotations

from pathlib import Path

import typer

from smsanalytics.cli.common import JSON_OPTION, console, emit, fail
from smsanalytics.settings import SettingsError, load_settings
from smsanalytics.warehouse import Warehouse, WarehouseError

WAREHOUSE_OPTION = typer.Option(
    None, "--warehouse", "-w", help="DuckDB warehouse file (default: the `warehouse_path` setting)."
)


def register(app: typer.Typer) -> None:
    """Add the data verbs to ``app``."""
    app.command("generate")(generate)
    app.command("demo")(demo)
    app.command("info")(info)
    app.command("cluster")(cluster)


def _settings(**overrides):
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None


def generate(
    out: Path = typer.Option(Path("data/demo/exports"), "--out", "-o", help="Folder for the export files."),
    contacts: int = typer.Option(20_000, "--contacts", "-n", min=10, help="Number of contacts."),
    months: int = typer.Option(12, "--months", min=1, max=60, help="Length of the programme."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    defects: bool = typer.Option(True, "--defects/--clean", help="Inject realistic bad rows."),
    warehouse: Path | None = typer.Option(
        None, "--warehouse", "-w", help="Load the canonical tables straight into this warehouse instead of writing exports."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Generate a seeded demo SMS programme (with ground truth) as exports or into a warehouse."""
    from smsanalytics import synth

    console.print(f"generating {contacts:,} contacts over {months} months (seed {seed}) …")
    programme = synth.generate_programme(contacts, months=months, seed=seed)
    if warehouse is not None:
        with Warehouse(warehouse) as wh:
            results = synth.load_programme(programme, wh)
        emit(
            {"warehouse": warehouse, "rows_loaded": {t: r.rows_loaded for t, r in results.items()}},
            json_out,
            title="generated into warehouse",
        )
        return
    paths = synth.write_exports(programme, out, defects=defects, seed=seed)
    emit(
        {
            "out": out,
            "files": {t: str(p) for t, p in paths.items()},
            "rows": {name: frame.height for name, frame in programme.tables().items()},
        },
        json_out,
        title="generated exports",
    )


def demo(
    contacts: int = typer.Option(20_000, "--contacts", "-n", min=100, help="Number of contacts."),
    months: int = typer.Option(12, "--months", min=1, max=60),
    seed: int = typer.Option(0, "--seed"),
    warehouse: Path | None = WAREHOUSE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """The main job: generate the demo programme, ingest its exports into the warehouse, summarise."""
    from smsanalytics.demo import run_demo

    settings = _settings(warehouse_path=warehouse)
    try:
        summary = run_demo(
            settings, contacts=contacts, months=months, seed=seed,
            on_step=lambda msg: console.print(f"[dim]·[/dim] {msg}"),
        )
    except WarehouseError as exc:
        raise fail(str(exc)) from None
    if json_out:
        emit(summary, True)
        return
    _print_tables(summary.tables, summary.quarantined)
    console.print(f"warehouse: {summary.warehouse}  (timings s: {summary.seconds})")


def info(warehouse: Path | None = WAREHOUSE_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Tables of the warehouse with row counts, and quarantined rows by reason."""
    settings = _settings(warehouse_path=warehouse)
    try:
        wh = Warehouse(settings.warehouse_path, read_only=True)
    except WarehouseError as exc:
        raise fail(str(exc)) from None
    with wh:
        tables = wh.counts()
        quarantined: dict[str, dict[str, int]] = {}
        for row in wh.quarantine_counts().iter_rows(named=True):
            quarantined.setdefault(row["table_name"], {})[row["reason"]] = int(row["rows"])
    if json_out:
        emit({"warehouse": settings.warehouse_path, "tables": tables, "quarantined": quarantined}, True)
    else:
        _print_tables(tables, quarantined)


def cluster(
    tables: list[str] | None = typer.Option(  # noqa: B008 (typer's declaration style)
        None, "--table", "-t", help="Table to rewrite (repeatable); default: every clustered one."
    ),
    warehouse: Path | None = WAREHOUSE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Rewrite tables in their clustering order (contact, then time) after many small loads."""
    settings = _settings(warehouse_path=warehouse)
    if not Path(settings.warehouse_path).is_file():
        raise fail(f"warehouse {str(settings.warehouse_path)!r} does not exist")
    try:
        with Warehouse(settings.warehouse_path) as wh:
            seconds = wh.cluster(tables or None)
    except (WarehouseError, KeyError) as exc:
        raise fail(str(exc)) from None
    if json_out:
        emit({"warehouse": settings.warehouse_path, "seconds": seconds}, True)
    else:
        for name, sec in seconds.items():
            console.print(f"{name}: rewritten in its clustering order ({sec:.2f} s)")


def _print_tables(tables: dict[str, int], quarantined: dict[str, dict[str, int]]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    t = Table(title="warehouse tables")
    t.add_column("table")
    t.add_column("rows", justify="right")
    t.add_column("quarantined", justify="right")
    t.add_column("reasons")
    for name, n in tables.items():
        q = quarantined.get(name, {})
        t.add_row(name, f"{n:,}", f"{sum(q.values()):,}" if q else "", ", ".join(f"{r} {c}" for r, c in q.items()))
    out.print(t)
