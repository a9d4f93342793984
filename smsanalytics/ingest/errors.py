"""Exceptions raised by ingest for problems that concern a whole file.

Row-level problems never raise: they become quarantine rows (see
:mod:`smsanalytics.ingest.reasons`). A file-level problem raises one of these before anything is
written, so the warehouse is left exactly as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "IngestError",
    "UnreadableFileError",
    "MissingColumnsError",
    "MappingError",
    "InvalidHeaderError",
    "UnknownTableError",
]


class IngestError(ValueError):
    """A file that cannot be ingested at all; the message names the file and the fix."""


class UnreadableFileError(IngestError):
    """The file does not exist, cannot be opened, or is not CSV/Parquet text."""


class UnknownTableError(IngestError):
    """The table to ingest into is not one of the canonical tables."""


class MappingError(IngestError):
    """The ``--map`` mapping names columns the file lacks, or targets that are not table columns."""


class InvalidHeaderError(IngestError):
    """The header row cannot be used (duplicate column names, a header spanning lines)."""


class MissingColumnsError(IngestError):
    """Required columns are absent from the file.

    Attributes
    ----------
    path
        The file.
    table
        The canonical table being loaded.
    missing
        Required columns not found (``"contact_id|phone"`` when either one will do).
    found
        The columns the file has (after the mapping).
    """

    def __init__(
        self,
        path: str,
        table: str,
        missing: Sequence[str],
        found: Sequence[str],
        suggestion: str | None = None,
    ) -> None:
        self.path = path
        self.table = table
        self.missing = tuple(missing)
        self.found = tuple(found)
        wanted = ", ".join(m.replace("|", " (or ") + (")" if "|" in m else "") for m in missing)
        fix = suggestion or ",".join(f"YOUR_COLUMN={m.split('|')[0]}" for m in missing)
        super().__init__(
            f"{path}: cannot load table {table!r}: required column(s) missing: {wanted}. "
            f"The file has the columns {list(found)}. Rename them in the file or map them with "
            f"--map {fix} (mapping=... in Python)."
        )
