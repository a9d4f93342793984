"""Reading CSV and Parquet exports into text columns, with their structural problems.

CSV:

- encoding: a UTF-8 byte-order mark is removed; UTF-16 (with a BOM, or recognised by its NUL
  bytes, as Excel's "Unicode text" export) is decoded; otherwise UTF-8 is tried strictly and, if
  the bytes are not UTF-8, Windows-1252 (cp1252, what Excel writes on Western-European Windows;
  bytes undefined in cp1252 fall back to Latin-1). The encoding used is reported.
- delimiter: ``,`` ``;`` tab or ``|``, sniffed from the first lines (the one that splits them
  into the same number of fields, most fields first); line endings ``\\n``, ``\\r\\n`` or ``\\r``.
- quoting: RFC 4180 (``"a, b"``, doubled quotes, line breaks inside quotes).
- every value is read as text (polars ``infer_schema=False``); surrounding whitespace is trimmed
  later and empty values are NULL.
- rows are numbered from 1 after the header (the spreadsheet row minus one). Blank lines are
  skipped and counted; rows with more or fewer fields than the header are quarantined
  (``ragged_row``) with their fields as read.

Parquet is read as it is (types kept).

An empty file is not an error: :attr:`SourceFile.is_empty` is set and the caller records an
``empty_file`` quarantine row. Files that cannot be read at all raise
:class:`~smsanalytics.ingest.errors.UnreadableFileError`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from smsanalytics.ingest.errors import InvalidHeaderError, UnreadableFileError
from smsanalytics.ingest.quarantine import ROW

__all__ = ["SourceFile", "read_source", "decode_bytes", "sniff_delimiter"]

_DELIMITERS = (",", ";", "\t", "|")
_QUOTED = r'"(?:[^"]|"")*"'


@dataclass(frozen=True)
class SourceFile:
    """A source file read into a frame of its columns.

    Attributes
    ----------
    path, source
        The file, and its name as recorded in ``loads`` / ``quarantine`` (the absolute path).
    format
        ``csv`` or ``parquet``.
    frame
        ``__row__`` (1-based Int64) and the file's columns under their (whitespace-trimmed) names;
        text for CSV, native types for Parquet. Blank and ragged rows are not in it.
    columns
        The header, in file order.
    rows_read
        Data rows read, blank lines excluded (ragged rows included).
    ragged
        Ragged rows: ``__row__``, ``detail`` and ``raw`` (the fields as a JSON list).
    """

    path: Path
    source: str
    format: Literal["csv", "parquet"]
    frame: pl.DataFrame
    columns: tuple[str, ...]
    rows_read: int
    encoding: str | None = None
    delimiter: str | None = None
    blank_rows: int = 0
    ragged: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={ROW: pl.Int64, "fields": pl.Int64, "raw": pl.String}
        )
    )
    is_empty: bool = False
    size_bytes: int = 0


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode file bytes; returns (text, encoding name)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            return data[3:].decode("cp1252", errors="strict") if _is_cp1252(data[3:]) else data[
                3:
            ].decode("latin-1"), "cp1252"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    head = data[:4096]
    if len(head) >= 4:
        odd_nuls = head[1::2].count(0) / max(1, len(head[1::2]))
        even_nuls = head[0::2].count(0) / max(1, len(head[0::2]))
        if odd_nuls > 0.9 and even_nuls < 0.1:
            return data.decode("utf-16-le", errors="replace"), "utf-16-le"
        if even_nuls > 0.9 and odd_nuls < 0.1:
            return data.decode("utf-16-be", errors="replace"), "utf-16-be"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _is_cp1252(data):
        return data.decode("cp1252"), "cp1252"
    return data.decode("latin-1"), "latin-1"


def _is_cp1252(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def _split_count(line: str, delimiter: str) -> int:
    try:
        return len(next(csv.reader([line], delimiter=delimiter)))
    except (csv.Error, StopIteration):
        return 0


def sniff_delimiter(text: str) -> str:
    """The delimiter among ``, ; tab |`` that splits the first lines most consistently."""
    lines = [ln for ln in text.split("\n", 51)[:50] if ln.strip()]
    if not lines:
        return ","
    best, best_score = ",", (-1.0, 0)
    for d in _DELIMITERS:
        counts = [_split_count(ln, d) for ln in lines]
        header = counts[0]
        if header <= 1:
            continue
        consistency = sum(c == header for c in counts) / len(counts)
        score = (consistency, header)
        if score > best_score:
            best, best_score = d, score
    return best


def _clean_names(names: list[str], path: Path) -> tuple[str, ...]:
    cleaned = []
    for i, name in enumerate(names):
        name = name.replace("\ufeff", "").strip()
        cleaned.append(name or f"column_{i + 1}")
    dupes = sorted(n for n, c in Counter(cleaned).items() if c > 1)
    if dupes:
        raise InvalidHeaderError(
            f"{path}: the header has duplicate column name(s) {dupes}; rename them so each "
            "column has its own name"
        )
    if ROW in cleaned:
        raise InvalidHeaderError(f"{path}: a column may not be called {ROW!r}; rename it")
    return tuple(cleaned)


def read_source(
    path: str | Path, *, format: Literal["auto", "csv", "parquet"] = "auto"
) -> SourceFile:
    """Read a CSV or Parquet file.

    Parameters
    ----------
    path
        The file.
    format
        ``auto`` recognises Parquet by its magic bytes, otherwise reads CSV.

    Raises
    ------
    UnreadableFileError
        The file is missing, unreadable, an Excel workbook, binary, or invalid Parquet.
    InvalidHeaderError
        Duplicate column names, or a header row spanning several lines.
    """
    path = Path(path)
    if not path.exists():
        raise UnreadableFileError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise UnreadableFileError(f"{path}: is not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(
            f"{path}: cannot be read ({exc.strerror}); check its permissions"
        ) from None
    source = str(path.resolve())
    if format == "parquet" or (format == "auto" and data[:4] == b"PAR1"):
        return _read_parquet(path, source, len(data))
    if data[:4] == b"PK\x03\x04":
        raise UnreadableFileError(
            f"{path}: is a zip archive (an Excel .xlsx workbook?); save it as 'CSV UTF-8' and "
            "ingest the CSV"
        )
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UnreadableFileError(
            f"{path}: is an old Excel .xls workbook; save it as 'CSV UTF-8' and ingest the CSV"
        )
    return _read_csv(path, source, data)


def _empty(
    path: Path, source: str, fmt: Literal["csv", "parquet"], encoding: str | None, size: int
) -> SourceFile:
    return SourceFile(
        path,
        source,
        fmt,
        pl.DataFrame(schema={ROW: pl.Int64}),
        (),
        0,
        encoding,
        None,
        0,
        is_empty=True,
        size_bytes=size,
    )


def _read_csv(path: Path, source: str, data: bytes) -> SourceFile:
    text, encoding = decode_bytes(data)
    head = text[:8192]
    controls = len(re.findall(r"[\x00-\x08\x0e-\x1f]", head))
    if controls > max(8, len(head) // 20):
        raise UnreadableFileError(
            f"{path}: looks like a binary file, not CSV text (it is full of control bytes); export "
            "it as CSV"
        )
    text = text.replace("\r\n", "\n")
    if "\n" not in text.rstrip("\r"):
        text = text.replace("\r", "\n")
    text = text.lstrip("\ufeff")
    if not text.strip():
        return _empty(path, source, "csv", encoding, len(data))
    text = text.lstrip("\n")
    header_end = text.find("\n")
    header_line = text if header_end < 0 else text[:header_end]
    if header_line.count('"') % 2:
        raise InvalidHeaderError(
            f"{path}: the header row has an unbalanced quote (a column name spanning lines?); fix "
            "the header"
        )
    delimiter = sniff_delimiter(text[:65536])
    names = _clean_names(next(csv.reader([header_line], delimiter=delimiter)), path)
    k = len(names)
    body = "" if header_end < 0 else text[header_end + 1 :]
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        frame = pl.DataFrame(
            {
                ROW: pl.Series([], dtype=pl.Int64),
                **{n: pl.Series([], dtype=pl.String) for n in names},
            }
        )
        return SourceFile(
            path, source, "csv", frame, names, 0, encoding, delimiter, 0, size_bytes=len(data)
        )
    structure = _structure(lines, body, delimiter)
    if structure is None:
        frame, counts = _read_with_csv_module(body, delimiter, k)
    else:
        counts = structure
        frame = pl.read_csv(
            io.BytesIO(body.encode("utf-8")),
            has_header=False,
            separator=delimiter,
            schema={f"c{i}": pl.String for i in range(k)},
            truncate_ragged_lines=True,
            missing_columns="insert",
            quote_char='"',
        )
        if frame.height != len(counts):  # polars and the line structure disagree: be exact.
            frame, counts = _read_with_csv_module(body, delimiter, k)
    frame = (
        frame.rename(dict(zip(frame.columns, names, strict=True)))
        .with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(ROW))
        .select(ROW, *names)
    )
    counts_s = pl.Series("fields", counts, dtype=pl.Int64)
    blank = counts_s == 0
    ragged_mask = ~blank & (counts_s != k)
    ragged_rows = frame.filter(ragged_mask)[ROW]
    ragged = pl.DataFrame(schema={ROW: pl.Int64, "fields": pl.Int64, "raw": pl.String})
    if ragged_rows.len():
        raws = _ragged_raw(
            body, delimiter, set(ragged_rows.to_list()), structure is not None, lines
        )
        ragged = pl.DataFrame(
            {
                ROW: ragged_rows,
                "fields": counts_s.filter(ragged_mask),
                "raw": [raws.get(r) for r in ragged_rows],
            },
            schema={ROW: pl.Int64, "fields": pl.Int64, "raw": pl.String},
        )
    frame = frame.filter(~blank & ~ragged_mask)
    return SourceFile(
        path,
        source,
        "csv",
        frame,
        names,
        int((~blank).sum()),
        encoding,
        delimiter,
        int(blank.sum()),
        ragged,
        size_bytes=len(data),
    )


def _structure(lines: list[str], body: str, delimiter: str) -> list[int] | None:
    """Fields per line (0 for a blank line), or None when quotes span lines."""
    s = pl.Series("l", lines, dtype=pl.String)
    quotes = s.str.count_matches('"', literal=True)
    if bool((quotes % 2 != 0).any()):
        return None
    stripped = s.str.replace_all(_QUOTED, "")
    fields = stripped.str.count_matches(delimiter, literal=True) + 1
    blank = s.str.strip_chars() == ""
    return (
        pl.select(pl.when(pl.lit(blank)).then(0).otherwise(pl.lit(fields)))
        .to_series()
        .cast(pl.Int64)
        .to_list()
    )


def _read_with_csv_module(body: str, delimiter: str, k: int) -> tuple[pl.DataFrame, list[int]]:
    cols: list[list[str | None]] = [[] for _ in range(k)]
    counts: list[int] = []
    for record in csv.reader(io.StringIO(body, newline=""), delimiter=delimiter):
        n = 0 if (not record or (len(record) == 1 and not record[0].strip())) else len(record)
        counts.append(n)
        for i in range(k):
            value = record[i] if i < len(record) else None
            cols[i].append(value if value != "" else None)
    frame = pl.DataFrame({f"c{i}": pl.Series(c, dtype=pl.String) for i, c in enumerate(cols)})
    return frame, counts


def _ragged_raw(
    body: str, delimiter: str, wanted: set[int], line_based: bool, lines: list[str]
) -> dict[int, str]:
    out: dict[int, str] = {}
    if line_based:
        for r in wanted:
            fields = next(csv.reader([lines[r - 1]], delimiter=delimiter), [])
            out[r] = json.dumps({"fields": fields}, ensure_ascii=False)
        return out
    for i, record in enumerate(
        csv.reader(io.StringIO(body, newline=""), delimiter=delimiter), start=1
    ):
        if i in wanted:
            out[i] = json.dumps({"fields": record}, ensure_ascii=False)
    return out


def _read_parquet(path: Path, source: str, size: int) -> SourceFile:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several types for corrupt files
        raise UnreadableFileError(
            f"{path}: is not a readable Parquet file ({type(exc).__name__}: {exc})"
        ) from None
    names = _clean_names(list(frame.columns), path)
    frame = frame.rename(dict(zip(frame.columns, names, strict=True)))
    if frame.width == 0:
        return _empty(path, source, "parquet", None, size)
    frame = frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(ROW)).select(
        ROW, *names
    )
    return SourceFile(
        path, source, "parquet", frame, names, frame.height, None, None, 0, size_bytes=size
    )


def raw_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every column as text (for quarantine raw rows)."""
    exprs = []
    for name, dtype in frame.schema.items():
        if name == ROW or dtype == pl.String:
            exprs.append(pl.col(name))
        elif isinstance(dtype, pl.Struct | pl.List | pl.Array):
            exprs.append(pl.struct(pl.col(name).alias("v")).struct.json_encode().alias(name))
        else:
            exprs.append(pl.col(name).cast(pl.String).alias(name))
    return frame.select(exprs)
