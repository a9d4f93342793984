"""The ``segment`` verb (RFM segment and lifecycle stage counts at a date) and the ``features``
verb (the per-contact feature table at a date, written to Parquet)."""

from __future__ import annotations

from pathlib import Path

import typer

from smsanalytics.cli.common import (
    ENGINE_OPTION,
    JSON_OPTION,
    PARQUET_DIR_OPTION,
    EngineName,
    emit,
    engine_overrides,
    fail,
    open_warehouse,
)
from smsanalytics.settings import SettingsError, load_settings
from smsanalytics.warehouse import WarehouseError

__all__ = ["features", "segment"]

AS_OF_OPTION = typer.Option(
    ...,
    "--as-of",
    help="Date (YYYY-MM-DD = midnight UTC) or ISO datetime; events from then on are ignored.",
)
WAREHOUSE_OPTION = typer.Option(
    None, "--warehouse", help="DuckDB warehouse file (default: the `warehouse_path` setting)."
)


def segment(
    ctx: typer.Context,
    as_of: str = AS_OF_OPTION,
    warehouse: Path | None = WAREHOUSE_OPTION,
    engine: EngineName | None = ENGINE_OPTION,
    parquet_dir: str | None = PARQUET_DIR_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Count contacts per RFM segment and lifecycle stage at --as-of (plus event flags).

    With --engine spark the feature relation runs on Spark, the segmentation on this machine.
    """
    from smsanalytics.features import normalize_as_of
    from smsanalytics.segments import segment_contacts, segment_counts

    try:
        when = normalize_as_of(as_of)
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        overrides = engine_overrides(ctx, engine, parquet_dir)
        settings = load_settings(warehouse_path=warehouse, **overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    try:
        with open_warehouse(settings) as wh:
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
                "engine": settings.engine,
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

OUT_OPTION = typer.Option(
    ..., "--out", help="Parquet file to write (with --contacts-per-part: a folder of part files)."
)
PARTS_OPTION = typer.Option(
    None,
    "--contacts-per-part",
    min=1,
    help="Build in parts of about this many contacts (e.g. 1048576 above a million), each "
    "written to its own file of the folder --out.",
)


def features(
    ctx: typer.Context,
    as_of: str = AS_OF_OPTION,
    out: Path = OUT_OPTION,
    contacts_per_part: int | None = PARTS_OPTION,
    warehouse: Path | None = WAREHOUSE_OPTION,
    engine: EngineName | None = ENGINE_OPTION,
    parquet_dir: str | None = PARQUET_DIR_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Write the per-contact feature table at --as-of to Parquet (no phone number in it).

    The table of ``smsanalytics.features.contact_features`` (RFM, BG/NBD inputs, engagement,
    best local send hour; docs/segments.md), written straight from the engine without going
    through memory: for a scheduled job, or to hand the features to another tool. With
    --engine spark, Spark writes --out as a folder of part files.
    """
    import time

    import polars as pl

    from smsanalytics.features import normalize_as_of, write_contact_features

    try:
        when = normalize_as_of(as_of)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not out.parent.is_dir():
        raise fail(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist; create it")
    try:
        overrides = engine_overrides(ctx, engine, parquet_dir)
        settings = load_settings(warehouse_path=warehouse, **overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    start = time.perf_counter()
    try:
        with open_warehouse(settings) as wh:
            written = Path(
                write_contact_features(wh, out, as_of=when, contacts_per_part=contacts_per_part)
            )
    except WarehouseError as exc:
        raise fail(str(exc)) from None
    seconds = time.perf_counter() - start
    files = sorted(written.glob("*.parquet")) if written.is_dir() else [written]
    scan = pl.scan_parquet(files)
    result = {
        "as_of": when,
        "warehouse": settings.warehouse_path,
        "engine": settings.engine,
        "out": str(written),
        "files": len(files),
        "contacts": scan.select(pl.len()).collect().item(),
        "columns": len(scan.collect_schema()),
        "seconds": round(seconds, 2),
    }
    emit(result, json_out, title=f"Contact features at {when.isoformat().replace('+00:00', 'Z')}")
