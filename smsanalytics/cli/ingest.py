"""``smsanalytics ingest TABLE PATH``: load one export into the warehouse.

Registered by ``smsanalytics.cli`` as the top-level verb ``ingest``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import typer

from smsanalytics.cli.common import JSON_OPTION, emit, fail, progress
from smsanalytics.ingest import IngestError, IngestReport, ingest_file
from smsanalytics.settings import SettingsError, load_settings
from smsanalytics.warehouse import Warehouse, WarehouseError

__all__ = ["ingest", "parse_mapping", "summary"]

_STAGES = ("read", "validate", "load")
_PATH = typer.Argument(..., help="CSV or Parquet file to load.")
_WAREHOUSE = typer.Option(None, "--warehouse", help="DuckDB warehouse file.")


def parse_mapping(value: str | None) -> dict[str, str] | None:
    """Read ``--map``: ``user_col=canonical,...`` or the path of a TOML / JSON mapping file.

    A TOML file holds ``user_col = "canonical"`` lines, at the top level or under ``[mapping]``;
    a JSON file holds one object (or ``{"mapping": {...}}``).

    Raises
    ------
    IngestError
        When the value is neither a readable mapping file nor ``a=b`` pairs.
    """
    if value is None or not value.strip():
        return None
    path = Path(value)
    if path.suffix.lower() in {".toml", ".json"} or path.is_file():
        if not path.is_file():
            raise IngestError(f"mapping file {value!r} does not exist")
        text = path.read_text(encoding="utf-8-sig")
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise IngestError(
                f"mapping file {value!r} is not valid {path.suffix[1:].upper()}: {exc}"
            ) from None
        if isinstance(data, dict) and isinstance(data.get("mapping"), dict):
            data = data["mapping"]
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise IngestError(
                f"mapping file {value!r} must map user column names to canonical names, "
                'e.g. Mobile = "phone"'
            )
        return {str(k): v for k, v in data.items()}
    pairs = [p for p in value.split(",") if p.strip()]
    if not all("=" in p for p in pairs):
        raise IngestError(
            f"--map {value!r}: write user_col=canonical pairs separated by commas "
            "(--map Mobile=phone,CustomerID=contact_id) or give a .toml/.json mapping file"
        )
    return {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in pairs)}


def ingest(
    table: str = typer.Argument(
        ...,
        help="contacts, campaigns, messages, assignments, receipts, clicks, inbound, orders, "
        "or twilio (a Twilio message-log export).",
    ),
    path: Path = _PATH,
    map: str | None = typer.Option(
        None, "--map", help="user_col=canonical,... or a .toml/.json mapping file."
    ),
    default_region: str | None = typer.Option(
        None,
        "--default-region",
        help="Region for numbers without +country (default: settings, FR).",
    ),
    default_timezone: str | None = typer.Option(
        None,
        "--default-timezone",
        help="Zone for contacts whose zone is unknown (default: settings).",
    ),
    source_timezone: str = typer.Option(
        "UTC", "--source-timezone", help="Zone of timestamps written without an offset."
    ),
    dayfirst: bool = typer.Option(False, "--dayfirst", help="Read 01/03/2024 as 1 March."),
    format: str = typer.Option("auto", "--format", help="auto, csv, parquet or twilio."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Process the file again even if it was loaded before (after adding missing contacts).",
    ),
    warehouse: Path | None = _WAREHOUSE,
    json_out: bool = JSON_OPTION,
) -> None:
    """Validate and load one export; bad rows are quarantined with a reason, never lost."""
    if format not in ("auto", "csv", "parquet", "twilio"):
        raise fail(f"--format {format!r}: use auto, csv, parquet or twilio")
    try:
        mapping = parse_mapping(map)
        settings = load_settings(
            warehouse_path=warehouse,
            default_region=default_region,
            default_timezone=default_timezone,
        )
    except (IngestError, SettingsError) as exc:
        raise fail(str(exc)) from None
    try:
        with (
            Warehouse(settings.warehouse_path) as wh,
            progress(f"ingest {table}", total=len(_STAGES)) as advance,
        ):
            seen: list[str] = []

            def step(stage: str) -> None:
                if seen:
                    advance()
                seen.append(stage)

            report = ingest_file(
                wh,
                table,
                path,
                mapping=mapping,
                default_region=settings.default_region,
                default_timezone=settings.default_timezone,
                source_timezone=source_timezone,
                dayfirst=dayfirst,
                format=format,  # type: ignore[arg-type]
                force=force,
                progress=step,
            )
            advance()
    except (IngestError, WarehouseError) as exc:
        raise fail(str(exc)) from None
    emit(report if json_out else summary(report), json_out, title=f"ingest {report.table}: {path}")


def summary(report: IngestReport) -> dict[str, object]:
    """A flat, readable version of the report (``--json`` prints the full one)."""
    out: dict[str, object] = {
        "table": report.table,
        "source": report.source,
        "rows read": report.rows_read,
        "rows loaded": report.rows_loaded,
        "already in warehouse": report.rows_duplicate,
        "rows quarantined": report.rows_quarantined,
    }
    if report.already_loaded:
        out["already loaded"] = "yes: same content loaded before, nothing done"
    for table, result in report.tables.items():
        if len(report.tables) > 1:
            out[f"{table}: loaded / duplicate"] = f"{result.rows_loaded} / {result.rows_duplicate}"
    for reason, n in report.quarantined_by_reason.items():
        out[f"quarantined: {reason}"] = n
    for reason, n in report.flagged_by_reason.items():
        out[f"flagged (loaded): {reason}"] = n
    if report.contacts_opted_out or report.contacts_opted_in:
        out["contacts opted out / in"] = f"{report.contacts_opted_out} / {report.contacts_opted_in}"
    for i, warning in enumerate(report.warnings, 1):
        out[f"warning {i}"] = warning
    out["seconds"] = report.seconds
    return out
