"""Collecting row problems and turning them into ``quarantine`` rows, with phone numbers masked.

Validation code records *issues* (row number, column, reason code, detail) in an :class:`Issues`
collector as it goes; a row with at least one row-level issue is not loaded. At the end
:func:`build_quarantine` joins each issue with the raw source row, as JSON, and masks phone
numbers: in phone columns every digit but the last two; in every other value and in details,
any run of eight or more digits that looks like a phone number (dates and decimal amounts are left
alone).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

import polars as pl

from smsanalytics.ingest.phones import mask_phone
from smsanalytics.ingest.reasons import REASONS

__all__ = ["Issues", "build_quarantine", "format_detail", "mask_text", "ROW"]

#: Name of the 1-based source row number column carried through validation.
ROW = "__row__"
#: Values shown in a detail sentence are cut to this many characters.
DETAIL_VALUE_WIDTH = 60

_ISSUE_SCHEMA = {
    ROW: pl.Int64,
    "column_name": pl.String,
    "reason": pl.String,
    "detail": pl.String,
    "raw": pl.String,
}
_PHONE_RUN = re.compile(r"(?<![\w.,])\+?\d[\d \u00a0().\-/]{5,}\d(?![\w])")
_NOT_PHONE = re.compile(
    r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2024-03-01 …
    r"|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 01/03/2024 …
    r"|^\d+[.,]\d{1,2}$"  # 12345678.90 (an amount)
)


def mask_text(text: str | None) -> str | None:
    """Mask phone-number-like runs of digits inside free text.

    >>> mask_text("call me on 06 12 34 56 78 after 2024-03-01 14:05")
    'call me on •• •• •• •• 78 after 2024-03-01 14:05'
    """
    if text is None:
        return None

    def repl(match: re.Match[str]) -> str:
        run = match.group(0)
        if sum(ch.isdigit() for ch in run) < 8 or _NOT_PHONE.match(run):
            return run
        return mask_phone(run) or run

    return _PHONE_RUN.sub(repl, text)


def format_detail(template: str, *values: pl.Series) -> pl.Series:
    """Fill a detail sentence row by row.

    Parameters
    ----------
    template
        The sentence, with one ``{}`` per value (as in :func:`polars.format`).
    *values
        One series per ``{}``, all of the same length; each value is shown as text cut to
        :data:`DETAIL_VALUE_WIDTH` characters.

    Returns
    -------
    polars.Series
        ``detail``: one sentence per row (NULL where a value is NULL).

    Examples
    --------
    >>> format_detail("row {} is '{}'", pl.Series([3]), pl.Series(["x" * 70])).item()
    "row 3 is 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
    """
    shown = [pl.lit(v).cast(pl.String).str.slice(0, DETAIL_VALUE_WIDTH) for v in values]
    return pl.select(pl.format(template, *shown).alias("detail")).to_series()


class Issues:
    """Row problems found while validating one file.

    ``add`` records row-level reasons (the row is quarantined); ``flag`` records kept rows with a
    repair or an unknown. Masks may contain nulls (treated as false).
    """

    def __init__(self) -> None:
        self._parts: list[pl.DataFrame] = []
        self._flags: list[pl.DataFrame] = []

    @staticmethod
    def _frame(
        rows: pl.Series,
        mask: pl.Series | None,
        reason: str | pl.Series,
        column: str | None,
        detail: str | pl.Series | None,
        raw: pl.Series | None = None,
    ) -> pl.DataFrame:
        if mask is not None:
            keep = mask.fill_null(False)
            rows = rows.filter(keep)
            reason = reason.filter(keep) if isinstance(reason, pl.Series) else reason
            detail = detail.filter(keep) if isinstance(detail, pl.Series) else detail
            raw = raw.filter(keep) if raw is not None else None
        n = len(rows)

        def text(value: str | pl.Series | None) -> pl.Series:
            if isinstance(value, pl.Series):
                return value.cast(pl.String)
            return pl.repeat(value, n, dtype=pl.String, eager=True)

        frame = pl.DataFrame(
            {
                ROW: rows.cast(pl.Int64),
                "column_name": text(column),
                "reason": text(reason),
                "detail": text(detail),
                "raw": text(raw),
            },
            schema=_ISSUE_SCHEMA,
        )
        frame = frame.filter(pl.col("reason").is_not_null())
        unknown = set(frame["reason"].unique().to_list()) - set(REASONS)
        if unknown:
            raise KeyError(f"undocumented reason code(s) {sorted(unknown)}; add them to reasons.py")
        return frame

    def add(
        self,
        rows: pl.Series,
        mask: pl.Series | None,
        *,
        reason: str | pl.Series,
        column: str | None,
        detail: str | pl.Series | None,
        raw: pl.Series | None = None,
    ) -> None:
        """Quarantine ``rows[mask]`` with ``reason`` (a code or a per-row series of codes)."""
        frame = self._frame(rows, mask, reason, column, detail, raw)
        if frame.height:
            self._parts.append(frame)

    def add_formatted(
        self,
        rows: pl.Series,
        template: str,
        *values: pl.Series,
        reason: str,
        column: str | None,
    ) -> None:
        """Quarantine every row of ``rows`` with a detail sentence filled in row by row.

        Parameters
        ----------
        rows
            Row numbers (``__row__``) to quarantine, all of them (there is no mask); none is fine.
        template
            The detail sentence, with one ``{}`` per value: see :func:`format_detail`.
        *values
            One series per ``{}``, aligned with ``rows``.
        reason
            The reason code (documented in ``reasons.py``).
        column
            The user's name of the column at fault, or None for the whole row.

        Examples
        --------
        >>> issues = Issues()
        >>> issues.add_formatted(
        ...     pl.Series([4]), "the same row as row {}", pl.Series([2]),
        ...     reason="duplicate_row", column=None,
        ... )
        >>> issues.frame()["detail"].to_list()
        ['the same row as row 2']
        """
        if rows.len() == 0:
            return
        self.add(rows, None, reason=reason, column=column, detail=format_detail(template, *values))

    def flag(
        self,
        rows: pl.Series,
        mask: pl.Series | None,
        *,
        reason: str | pl.Series,
        column: str | None,
        detail: str | pl.Series | None,
    ) -> None:
        """Record a kept row with a repair or an unknown value."""
        frame = self._frame(rows, mask, reason, column, detail)
        if frame.height:
            self._flags.append(frame)

    def extend(self, other: Issues) -> None:
        self._parts.extend(other._parts)
        self._flags.extend(other._flags)

    def frame(self) -> pl.DataFrame:
        """All row-level issues, ordered by row."""
        if not self._parts:
            return pl.DataFrame(schema=_ISSUE_SCHEMA)
        return pl.concat(self._parts).sort(ROW, maintain_order=True)

    def flags(self) -> pl.DataFrame:
        """All flags, ordered by row."""
        if not self._flags:
            return pl.DataFrame(schema=_ISSUE_SCHEMA)
        return pl.concat(self._flags).sort(ROW, maintain_order=True)

    def bad_rows(self) -> pl.Series:
        """Distinct row numbers with at least one row-level issue."""
        return self.frame()[ROW].unique()

    def without(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` minus the rows that have issues."""
        bad = self.bad_rows()
        if bad.len() == 0:
            return frame
        return frame.filter(~pl.col(ROW).is_in(bad.implode()))


def _raw_json(row: Mapping[str, object], phone_columns: set[str]) -> str:
    masked: dict[str, object] = {}
    for key, value in row.items():
        if key == ROW:
            continue
        if value is None:
            masked[key] = None
        elif key in phone_columns:
            masked[key] = mask_phone(str(value))
        elif isinstance(value, str):
            masked[key] = mask_text(value)
        else:
            masked[key] = value
    return json.dumps(masked, ensure_ascii=False, default=str)


def _mask_given(raw: str, phone_columns: set[str], header: tuple[str, ...]) -> str:
    """Mask a raw row built elsewhere (a ragged row's ``{"fields": [...]}``, a file-level row)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return mask_text(raw) or raw
    if isinstance(data, dict) and isinstance(data.get("fields"), list):
        fields = []
        for i, value in enumerate(data["fields"]):
            name = header[i] if i < len(header) else None
            if value is None:
                fields.append(None)
            elif name in phone_columns:
                fields.append(mask_phone(str(value)))
            else:
                fields.append(mask_text(str(value)))
        data["fields"] = fields
        return json.dumps(data, ensure_ascii=False)
    if isinstance(data, dict):
        return _raw_json(data, phone_columns)
    return mask_text(raw) or raw


def build_quarantine(
    issues: pl.DataFrame,
    raw: pl.DataFrame | None,
    *,
    phone_columns: Iterable[str] = (),
    header: Iterable[str] = (),
) -> pl.DataFrame:
    """Quarantine rows for :meth:`smsanalytics.warehouse.Warehouse.load`.

    Parameters
    ----------
    issues
        ``Issues.frame()`` (``__row__, column_name, reason, detail, raw``); ``raw`` may already be
        set (ragged rows, file-level rows).
    raw
        The source rows as read, with ``__row__`` and the user's column names.
    phone_columns
        User column names that hold phone numbers (fully masked).
    header
        The file's columns in order (to mask the fields of ragged rows by position).

    Returns
    -------
    polars.DataFrame
        ``row_number, column_name, reason, detail, raw`` with phone numbers masked; one row per
        (row number, reason) (the first column wins when a row has the same reason twice).
    """
    schema = {
        "row_number": pl.Int64,
        "column_name": pl.String,
        "reason": pl.String,
        "detail": pl.String,
        "raw": pl.String,
    }
    if issues.height == 0:
        return pl.DataFrame(schema=schema)
    phones = set(phone_columns)
    header = tuple(header)
    issues = issues.unique(subset=[ROW, "reason"], keep="first", maintain_order=True)
    wanted = issues.filter(pl.col("raw").is_null())[ROW].unique()
    raw_json: dict[int, str] = {}
    if raw is not None and wanted.len():
        rows = raw.filter(pl.col(ROW).is_in(wanted.implode()))
        for row in rows.iter_rows(named=True):
            raw_json[int(row[ROW])] = _raw_json(row, phones)
    out = issues.with_columns(
        pl.Series(
            "raw",
            [
                _mask_given(given, phones, header) if given is not None else raw_json.get(int(r))
                for r, given in zip(issues[ROW], issues["raw"], strict=True)
            ],
            dtype=pl.String,
        ),
        pl.Series("detail", [mask_text(d) for d in issues["detail"]], dtype=pl.String),
    )
    return out.select(pl.col(ROW).alias("row_number"), "column_name", "reason", "detail", "raw")
