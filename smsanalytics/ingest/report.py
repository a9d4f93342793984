"""What an ingest did: :class:`IngestReport` (and :class:`TableResult` per table loaded)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["IngestReport", "TableResult", "Flag"]


@dataclass(frozen=True)
class TableResult:
    """The load of one canonical table (a Twilio log fills three).

    Attributes
    ----------
    table
        Canonical table.
    load_id
        Row of ``loads`` written (``None`` when the content had been loaded before).
    rows_loaded, rows_duplicate
        New rows inserted; rows already in the warehouse (same key), skipped.
    rows_quarantined
        Source rows quarantined for this table (distinct row numbers).
    quarantined_by_reason
        Quarantine rows by reason code (a row with two reasons counts under both).
    already_loaded
        The same file content had been loaded into this table before; nothing was done.
    """

    table: str
    load_id: int | None
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    already_loaded: bool = False


@dataclass(frozen=True)
class Flag:
    """A loaded row with a repair or an unknown value (no phone number in it)."""

    row_number: int
    column_name: str | None
    reason: str
    detail: str | None


@dataclass(frozen=True)
class IngestReport:
    """The result of :func:`smsanalytics.ingest.ingest_file`.

    For one source file: ``rows_read = rows_loaded + rows_duplicate + rows_quarantined`` (every
    row is accounted for). For a Twilio log, ``rows_loaded``/``rows_duplicate`` count log rows
    that became ``messages`` or ``inbound`` rows; the derived ``receipts`` are in ``tables``.

    Attributes
    ----------
    table
        The table asked for (``twilio`` for a Twilio message log).
    source
        The file (absolute path), as recorded in ``loads`` and ``quarantine``.
    format
        ``csv``, ``parquet`` or ``twilio``.
    sha256
        Content hash of the file.
    rows_read
        Data rows in the file (blank lines excluded).
    rows_loaded, rows_duplicate, rows_quarantined
        New rows, rows already in the warehouse, rows not loaded (quarantined).
    quarantined_by_reason
        Quarantine rows by reason code.
    flagged_by_reason, flagged
        Loaded rows with a repair or unknown (``repaired_lost_leading_zero``,
        ``invalid_timezone`` …), counted, and the first 100 of them.
    already_loaded
        The same content was loaded before: nothing changed.
    tables
        Result per canonical table written.
    encoding, delimiter, blank_rows
        How the CSV was read.
    ignored_columns
        Source columns not used (not a column of the table; for contacts they go to
        ``attributes`` and are not listed here).
    dropped_columns
        Extra contact columns holding phone numbers, dropped rather than copied to
        ``attributes`` (phone numbers live only in ``phone_e164``).
    contacts_opted_out, contacts_opted_in
        Contacts whose ``opted_out_at`` was set / cleared by STOP / START replies of this file.
    warnings
        Sentences about the file as a whole (encoding used, columns ignored …).
    seconds
        Wall time.
    """

    table: str
    source: str
    format: str
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    flagged_by_reason: dict[str, int] = field(default_factory=dict)
    already_loaded: bool = False
    tables: dict[str, TableResult] = field(default_factory=dict)
    encoding: str | None = None
    delimiter: str | None = None
    blank_rows: int = 0
    ignored_columns: tuple[str, ...] = ()
    dropped_columns: tuple[str, ...] = ()
    contacts_opted_out: int = 0
    contacts_opted_in: int = 0
    warnings: tuple[str, ...] = ()
    flagged: tuple[Flag, ...] = ()
    seconds: float = 0.0
