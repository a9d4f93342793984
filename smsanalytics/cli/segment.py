"""The ``segment`` verb: RFM segment and lifecycle stage counts at a date."""

from __future__ import annotations

from pathlib import Path

import typer

from smsanalytics.cli.common import JSON_OPTION, emit, fail
from smsanalytics.settings import SettingsError, load_settings
from smsanalytics.warehouse import Warehouse, WarehouseError

__all__ = ["segment"]

AS_OF_OPTION = typer.Option(
    ...,
    "--as-of",
    help="Date (YYYY-MM-DD = midnight UTC) or ISO datetime; events from then on are ignored.",
)
WAREHOUSE_OPTION = typer.Option(
    None, "--warehouse", help="DuckDB warehouse file (default: the `warehouse_path` setting)."
)


def segment(
    as_of: str = AS_OF_OPTION,
    warehouse: Path | None = WAREHOUSE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Count contacts per RFM segment and lifecycle stage at --as-of (plus event flags)."""
    from smsanalytics.features import normalize_as_of
    from smsanalytics.segments import segment_contacts, segment_counts

    try:
        when = normalize_as_of(as_of)
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        settings = load_settings(warehouse_path=warehouse)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    try:
        with Warehouse(settings.warehouse_path, read_only=True) as wh:
            segmented = segment_contacts(wh, as_of=when)
    except WarehouseError as exc:
        raise fail(str(exc)) from None
    rfm = segment_counts(segmented, "rfm_segment")
    stages = segment_counts(segmented, "lifecycle_stage")
    flags = {
        flag: int(segmented[flag].sum())
        for flag in ("is_birthday_soon", "is_abandoned_activity", "has_points_to_redeem")
    }
    if json_out:
        emit(
            {
                "as_of": when,
                "warehouse": settings.warehouse_path,
                "contacts": segmented.height,
                "rfm_segments": dict(rfm.select("rfm_segment", "contacts").iter_rows()),
                "lifecycle_stages": dict(stages.select("lifecycle_stage", "contacts").iter_rows()),
                "flags": flags,
            },
            True,
        )
        return

    def readable(frame, key):
        return {
            row[key]: f"{row['contacts']:,} ({row['share']:.1%})"
            for row in frame.iter_rows(named=True)
        }

    stamp = when.isoformat().replace("+00:00", "Z")
    emit(
        readable(rfm, "rfm_segment"),
        False,
        title=f"RFM segments at {stamp} ({segmented.height:,} contacts)",
    )
    emit(readable(stages, "lifecycle_stage"), False, title="Lifecycle stages")
    emit({k: f"{v:,}" for k, v in flags.items()}, False, title="Event flags")
