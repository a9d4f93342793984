"""Export the canonical tables of a DuckDB warehouse to Parquet, the format every engine reads.

>>> import tempfile
>>> from smsanalytics.warehouse import Warehouse
>>> with Warehouse(":memory:") as wh, tempfile.TemporaryDirectory() as folder:
...     paths = export_parquet(wh, folder)
...     sorted(p.name for p in paths.values())[:3]
['assignments.parquet', 'campaigns.parquet', 'clicks.parquet']
"""

from __future__ import annotations

import os
from pathlib import Path

from smsanalytics import schemas
from smsanalytics.engines.errors import EngineError
from smsanalytics.warehouse import Warehouse

__all__ = ["export_parquet"]


def export_parquet(
    warehouse: Warehouse,
    folder: str | os.PathLike[str],
    *,
    compression: str = "zstd",
) -> dict[str, Path]:
    """Write every canonical table of ``warehouse`` to ``folder/<table>.parquet``.

    DuckDB writes each file (``COPY … TO … (FORMAT parquet)``) next to its final name and
    renames it when complete, so a reader never sees half a file. ``TIMESTAMPTZ`` columns are
    stored as UTC-adjusted Parquet timestamps (microseconds), which Spark reads as ``TIMESTAMP``.

    Parameters
    ----------
    warehouse
        An open warehouse (read-only is fine).
    folder
        Local folder, created when missing; existing files of the same names are replaced.
    compression
        Parquet codec (``zstd``, ``snappy``, ``gzip``, ``uncompressed``).

    Returns
    -------
    dict[str, pathlib.Path]
        The file written for each canonical table.

    Raises
    ------
    EngineError
        When ``folder/<table>.parquet`` is a folder (part files written by Spark or another
        tool): remove it first, the export does not delete folders.
    """
    if compression not in ("zstd", "snappy", "gzip", "uncompressed"):
        raise EngineError(f"compression {compression!r}: use zstd, snappy, gzip or uncompressed")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for t in schemas.CANONICAL_TABLES:
        target = out / f"{t.name}.parquet"
        if target.is_dir():
            raise EngineError(f"{target} is a folder; remove it before exporting {t.name!r} there")
        partial = out / f".{t.name}.parquet.partial"
        literal = str(partial).replace("'", "''")
        cols = ", ".join(t.column_names)
        warehouse.con.execute(
            f"COPY (SELECT {cols} FROM {t.qualified_name}) TO '{literal}' "
            f"(FORMAT parquet, COMPRESSION {compression})"
        ).fetchall()
        os.replace(partial, target)
        written[t.name] = target
    return written
