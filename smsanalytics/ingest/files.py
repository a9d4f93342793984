"""``ingest_file``: one CSV or Parquet export into one canonical table (or a Twilio log into three).

What raises and what quarantines:

- **raises** (a subclass of :class:`~smsanalytics.ingest.errors.IngestError`, nothing written):
  unknown table; invalid option (region, zone); missing, unreadable, binary, Excel or corrupt
  Parquet file; duplicate column names or a broken header; a ``--map`` naming columns the file
  lacks or targets the table lacks; required columns missing (the message names them, lists the
  columns found and gives the ``--map`` fix); a Twilio log given for a table it cannot fill.
- **quarantines a file-level row** (``row_number = 0``, load recorded, nothing else written): an
  empty file (``empty_file``), a header without rows (``no_data_rows``). An empty export is a
  normal outcome of a scheduled job and must not break a pipeline.
- **quarantines rows** (everything else, see :mod:`smsanalytics.ingest.reasons`).
"""

from __future__ import annotations

import json
import re
import time
import zoneinfo
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import phonenumbers
import polars as pl

from smsanalytics.ingest.errors import (
    IngestError,
    MappingError,
    MissingColumnsError,
    UnknownTableError,
    UnreadableFileError,
)
from smsanalytics.ingest.loading import (
    atomic,
    flag_summary,
    load_rows,
    table_result,
    update_opt_outs,
)
from smsanalytics.ingest.quarantine import ROW, Issues, build_quarantine
from smsanalytics.ingest.readers import SourceFile, raw_strings, read_source
from smsanalytics.ingest.report import IngestReport
from smsanalytics.ingest.tables import PREPARERS, SPECS, Batch, Options, TableSpec, prepare_contacts
from smsanalytics.ingest.twilio import ingest_twilio_log, is_twilio_header
from smsanalytics.warehouse import Warehouse, sha256_file

__all__ = ["ingest_file", "apply_mapping", "Format"]

Format = Literal["auto", "csv", "parquet", "twilio"]
Progress = Callable[[str], None]

# Alias → (primary, alias wins when both are present).
_ALIAS_WINS = {"external_id": True, "provider_message_id": True, "phone_e164": False}
# Canonical contact columns the warehouse computes: ignored when a file has them.
_COMPUTED = {"contacts": ("phone_type", "timezone_source")}
# Suggestions for the --map fix when a required column is missing.
_SYNONYMS = {
    "contact_id": (
        "id",
        "customer_id",
        "customer",
        "client_id",
        "user_id",
        "member_id",
        "external_id",
        "crm_id",
        "identifiant",
    ),
    "phone": (
        "mobile",
        "phone_number",
        "telephone",
        "téléphone",
        "tel",
        "msisdn",
        "cell",
        "portable",
        "number",
        "gsm",
        "mobile_phone",
    ),
    "sent_at": (
        "sent",
        "date",
        "sent_date",
        "datesent",
        "date_sent",
        "timestamp",
        "created_at",
        "send_date",
    ),
    "received_at": ("received", "date", "timestamp", "date_received", "sent_at"),
    "ordered_at": ("order_date", "date", "created_at", "timestamp", "purchase_date"),
    "amount": ("total", "price", "value", "order_total", "revenue", "montant"),
    "order_id": ("id", "order", "order_number", "reference", "commande"),
    "message_id": ("sid", "message_sid", "provider_id", "id", "provider_message_id"),
    "status_at": ("date", "timestamp", "updated_at", "status_date"),
    "status": ("state", "delivery_status", "dlr_status"),
    "clicked_at": ("date", "timestamp", "click_date", "clicked"),
    "campaign_id": ("campaign", "campaign_name", "id"),
    "variant": ("arm", "group", "version"),
    "assigned_at": ("date", "timestamp", "created_at"),
}


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.strip().lower())


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def apply_mapping(
    source: SourceFile, spec: TableSpec, mapping: Mapping[str, str] | None
) -> tuple[pl.DataFrame, dict[str, str], list[str]]:
    """Rename the user's columns to canonical names.

    Explicit ``mapping`` entries (``user column → canonical``) first; then columns whose name
    matches a canonical name ignoring case, spaces and hyphens (``Phone`` → ``phone``,
    ``Sent At`` → ``sent_at``); then aliases (``external_id`` → ``contact_id`` …).

    Returns
    -------
    (frame, names, warnings)
        The renamed frame, canonical name → user name, and sentences for the report.

    Raises
    ------
    MappingError
        A mapped column is not in the file, a target is not a column of the table, or two columns
        map to the same name.
    """
    path = str(source.path)
    columns = list(source.columns)
    mapping = {str(k).strip(): str(v).strip() for k, v in (mapping or {}).items()}
    missing = [k for k in mapping if k not in columns]
    if missing:
        raise MappingError(
            f"{path}: the mapping names column(s) {missing} that the file does not have; its "
            f"columns are {columns}"
        )
    bad = [v for v in mapping.values() if v not in spec.columns]
    if bad:
        raise MappingError(
            f"{path}: the mapping targets {bad}, which are not columns of table {spec.name!r}; "
            f"map to one of {list(spec.columns)}"
        )
    targets = list(mapping.values())
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    if dupes:
        raise MappingError(
            f"{path}: several columns are mapped to {dupes}; map one column to each name"
        )
    clash = [v for k, v in mapping.items() if v in columns and v not in mapping and v != k]
    if clash:
        raise MappingError(
            f"{path}: the file already has column(s) {clash} that the mapping also targets; "
            "map the existing column to something else or drop the mapping entry"
        )
    rename = dict(mapping)
    taken = set(rename.values()) | {c for c in columns if c not in rename and c in spec.columns}
    for c in columns:
        if c in rename or c in spec.columns:
            continue
        norm = _norm(c)
        if norm in spec.columns and norm not in taken:
            rename[c] = norm
            taken.add(norm)
    frame = source.frame.rename(rename)
    names = {rename.get(c, c): c for c in columns}
    warnings: list[str] = []
    for alias, primary in spec.aliases.items():
        if alias not in frame.columns:
            continue
        if primary not in frame.columns:
            frame = frame.rename({alias: primary})
            names[primary] = names.pop(alias)
        elif _ALIAS_WINS.get(alias, True):
            warnings.append(
                f"column '{names[primary]}' ignored: '{names[alias]}' is used as {primary} "
                "(the warehouse assigns its own integer ids)"
            )
            frame = frame.drop(primary).rename({alias: primary})
            names[primary] = names.pop(alias)
        else:
            warnings.append(
                f"column '{names[alias]}' ignored: '{names[primary]}' is used as {primary}"
            )
            frame = frame.drop(alias)
            names.pop(alias)
    return frame, names, warnings


def _check_required(
    source: SourceFile, spec: TableSpec, frame: pl.DataFrame, names: Mapping[str, str]
) -> None:
    missing = [
        req for req in spec.required if not any(alt in frame.columns for alt in req.split("|"))
    ]
    if not missing:
        return
    found = [names.get(c, c) for c in frame.columns if c != ROW]
    fixes = []
    for req in missing:
        primary = req.split("|")[0]
        guess = next(
            (
                names.get(c, c)
                for c in frame.columns
                if _squash(names.get(c, c)) in {_squash(s) for s in _SYNONYMS.get(primary, ())}
                and c not in spec.columns
            ),
            None,
        )
        fixes.append(f"{guess or 'YOUR_COLUMN'}={primary}")
    raise MissingColumnsError(str(source.path), spec.name, missing, found, ",".join(fixes))


def _check_options(default_region: str, default_timezone: str, source_timezone: str) -> None:
    if default_region not in phonenumbers.SUPPORTED_REGIONS:
        raise IngestError(
            f"default region {default_region!r} is not an ISO 3166-1 alpha-2 region known to "
            "phonenumbers; use e.g. FR, US, GB"
        )
    for label, zone in (
        ("default time zone", default_timezone),
        ("source time zone", source_timezone),
    ):
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise IngestError(
                f"{label} {zone!r} is not an IANA time zone; use e.g. Europe/Paris or UTC"
            ) from None


def _file_level(reason: str, detail: str, source: SourceFile) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row_number": [0],
            "column_name": [None],
            "reason": [reason],
            "detail": [detail],
            "raw": [
                json.dumps(
                    {
                        "file": source.path.name,
                        "bytes": source.size_bytes,
                        "encoding": source.encoding,
                    }
                )
            ],
        },
        schema={
            "row_number": pl.Int64,
            "column_name": pl.String,
            "reason": pl.String,
            "detail": pl.String,
            "raw": pl.String,
        },
    )


def _already_loaded(wh: Warehouse, table: str, path: Path, sha: str, fmt: str) -> IngestReport:
    rows = wh.con.execute(
        "SELECT rows_read FROM loads WHERE table_name = $t AND sha256 = $h ORDER BY load_id LIMIT "
        "1",
        {"t": table, "h": sha},
    ).fetchall()
    return IngestReport(
        table=table,
        source=str(path.resolve()),
        format=fmt,
        sha256=sha,
        rows_read=int(rows[0][0]) if rows else 0,
        rows_loaded=0,
        rows_duplicate=0,
        rows_quarantined=0,
        already_loaded=True,
        warnings=("the same content was loaded before; nothing was done",),
    )


def ingest_file(
    warehouse: Warehouse,
    table: str,
    path: str | Path,
    *,
    mapping: Mapping[str, str] | None = None,
    default_region: str = "FR",
    default_timezone: str = "Europe/Paris",
    source_timezone: str = "UTC",
    dayfirst: bool = False,
    format: Format = "auto",
    force: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Validate, normalise and load one export into the warehouse, atomically.

    Parameters
    ----------
    warehouse
        The warehouse to load into.
    table
        Canonical table (``contacts``, ``campaigns``, ``messages``, ``assignments``,
        ``receipts``, ``clicks``, ``inbound``, ``orders``), or ``twilio`` for a Twilio message log.
    path
        CSV or Parquet file.
    mapping
        The user's column names → canonical names (``{"Mobile": "phone", "CustomerID":
        "contact_id"}``); see ``docs/ingest.md`` for the source columns of each table.
    default_region
        Region for phone numbers written without ``+country``.
    default_timezone
        Zone given to contacts whose zone is neither in the file nor known from the number.
    source_timezone
        Zone of naive timestamps in the file (``2024-03-01 14:05``). Default ``UTC``.
    dayfirst
        Read ``01/03/2024`` as 1 March (True) or 3 January (False, default).
    format
        ``auto`` (Parquet by its magic bytes; a CSV whose header is a Twilio message log is read as
        one), ``csv``, ``parquet`` or ``twilio``.
    force
        Process the file even if the same content was loaded before: rows already in the
        warehouse are skipped (duplicates), rows that failed before and now pass are loaded, and
        the quarantine rows of the earlier loads of this content are replaced. Use it after
        loading the contacts (or messages) that rows were quarantined for (``unknown_contact``).
    progress
        Called with the name of each stage (``read``, ``validate``, ``load``), for progress bars.

    Returns
    -------
    IngestReport
        Rows read, loaded, already present, quarantined by reason, flagged; per table.

    Raises
    ------
    IngestError
        A file-level problem (see the module docstring); the warehouse is unchanged.

    Notes
    -----
    Re-loading the same content into the same table is a no-op (``already_loaded``). Rows already
    in the warehouse (same key) are counted as duplicates, not loaded twice. Everything a call
    writes (rows, quarantine, the ``loads`` record, opt-out updates) commits together or not at
    all.
    """
    started = time.perf_counter()
    step = progress or (lambda stage: None)
    table = table.strip().lower()
    if table != "twilio" and table not in SPECS:
        raise UnknownTableError(
            f"unknown table {table!r}; ingest one of {sorted(SPECS)} or 'twilio' (a Twilio message "
            "log)"
        )
    _check_options(default_region, default_timezone, source_timezone)
    options = Options(default_region, default_timezone, source_timezone, dayfirst)
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path}: no such file; check the path")
    if table == "twilio" or format == "twilio":
        return ingest_twilio_log(
            warehouse,
            path,
            default_region=default_region,
            default_timezone=default_timezone,
            source_timezone=source_timezone,
            dayfirst=dayfirst,
            force=force,
            progress=progress,
        )
    try:
        sha = sha256_file(path)
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if not force and warehouse.loaded_hash(table, sha) is not None:
        return _already_loaded(warehouse, table, path, sha, format)
    step("read")
    source = read_source(path, format="auto" if format == "auto" else format)
    if format == "auto" and source.format == "csv" and not mapping:
        if is_twilio_header(source.columns):
            if table in ("messages", "receipts", "inbound"):
                return ingest_twilio_log(
                    warehouse,
                    path,
                    default_region=default_region,
                    default_timezone=default_timezone,
                    source_timezone=source_timezone,
                    dayfirst=dayfirst,
                    force=force,
                    progress=progress,
                )
            raise IngestError(
                f"{path}: looks like a Twilio message log (Sid, From, To, Direction …), which "
                "fills messages, "
                f"receipts and inbound, not {table!r}; run `smsanalytics ingest twilio {path}`"
            )
    spec = SPECS[table]
    warnings: list[str] = []
    if source.encoding not in (None, "utf-8"):
        warnings.append(f"decoded as {source.encoding}")
    if source.is_empty:
        quarantine = _file_level(
            "empty_file", "the file is empty (no header, no rows); check the export ran", source
        )
        return _finish(
            warehouse,
            table,
            source,
            sha,
            None,
            quarantine,
            Issues(),
            warnings,
            (),
            (),
            started,
            step,
            force,
        )
    frame, names, alias_warnings = apply_mapping(source, spec, mapping)
    warnings += alias_warnings
    _check_required(source, spec, frame, names)
    computed = [c for c in _COMPUTED.get(table, ()) if c in frame.columns]
    known = set(spec.columns)
    extras = [c for c in frame.columns if c != ROW and c not in known]
    ignored = [names.get(c, c) for c in computed]
    if table != "contacts":
        ignored += [names.get(c, c) for c in extras]
    frame = frame.drop(computed)
    if table != "contacts":
        frame = frame.drop(extras)
    if source.rows_read == 0:
        quarantine = _file_level(
            "no_data_rows",
            "the file has a header but no data rows; check the export's filters",
            source,
        )
        return _finish(
            warehouse,
            table,
            source,
            sha,
            None,
            quarantine,
            Issues(),
            warnings,
            tuple(ignored),
            (),
            started,
            step,
            force,
        )
    step("validate")
    batch = Batch(warehouse, table, frame, names, options)
    batch.check_control_characters()
    if table == "contacts":
        rows = prepare_contacts(batch, extras)
    else:
        rows = PREPARERS[table](batch)
    warnings += batch.warnings
    if batch.dropped_columns:
        warnings.append(
            f"column(s) {batch.dropped_columns} hold phone numbers and were not copied to "
            "attributes "
            "(phone numbers live only in phone_e164)"
        )
    issues = batch.issues
    ragged = source.ragged
    if ragged.height:
        issues.add(
            ragged[ROW],
            None,
            reason="ragged_row",
            column=None,
            detail=pl.select(
                pl.format(
                    "the row has {} fields but the header has {}; quote values that contain the "
                    "delimiter '{}', or re-export the file",
                    pl.lit(ragged["fields"]),
                    pl.lit(len(source.columns)),
                    pl.lit(source.delimiter or ","),
                )
            ).to_series(),
            raw=ragged["raw"],
        )
    phone_columns = batch.phone_columns
    quarantine = build_quarantine(
        issues.frame(),
        raw_strings(source.frame),
        phone_columns=phone_columns,
        header=source.columns,
    )
    return _finish(
        warehouse,
        table,
        source,
        sha,
        rows,
        quarantine,
        issues,
        warnings,
        tuple(ignored),
        tuple(batch.dropped_columns),
        started,
        step,
        force,
    )


def _finish(
    wh: Warehouse,
    table: str,
    source: SourceFile,
    sha: str,
    rows: pl.DataFrame | None,
    quarantine: pl.DataFrame,
    issues: Issues,
    warnings: list[str],
    ignored: tuple[str, ...],
    dropped: tuple[str, ...],
    started: float,
    step: Progress,
    force: bool = False,
) -> IngestReport:
    step("load")
    rows = rows if rows is not None else pl.DataFrame()
    opt = None
    with atomic(wh):
        result = load_rows(
            wh,
            table,
            rows,
            quarantine=quarantine,
            source=source.source,
            sha256=sha,
            rows_read=source.rows_read,
            force=force,
        )
        if table == "inbound" and rows.height and not result.already_loaded:
            opt = update_opt_outs(
                wh, rows.filter(pl.col("keyword").is_in(["STOP", "START"]))["contact_id"]
            )
    tr = table_result(result, quarantine)
    flag_counts, flag_examples = flag_summary(issues)
    return IngestReport(
        table=table,
        source=source.source,
        format=source.format,
        sha256=sha,
        rows_read=source.rows_read,
        rows_loaded=tr.rows_loaded,
        rows_duplicate=tr.rows_duplicate,
        rows_quarantined=tr.rows_quarantined,
        quarantined_by_reason=tr.quarantined_by_reason,
        flagged_by_reason=flag_counts,
        already_loaded=result.already_loaded,
        tables={table: tr},
        encoding=source.encoding,
        delimiter=source.delimiter,
        blank_rows=source.blank_rows,
        ignored_columns=ignored,
        dropped_columns=dropped,
        contacts_opted_out=opt.opted_out if opt else 0,
        contacts_opted_in=opt.opted_in if opt else 0,
        warnings=tuple(warnings),
        flagged=flag_examples,
        seconds=round(time.perf_counter() - started, 3),
    )
