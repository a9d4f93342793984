"""Writing validated rows: several loads and the opt-out update in one transaction.

:meth:`smsanalytics.warehouse.Warehouse.load` is atomic on its own, but a Twilio log fills three
tables and an inbound file must also update ``contacts.opted_out_at``: all of it must commit or
none. ``Warehouse.transaction()`` is re-entrant, so :func:`atomic` opens one transaction that
the loads inside join; any exception rolls everything back. (See
``docs/ingest.md``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import polars as pl

from smsanalytics import schemas
from smsanalytics.ingest.quarantine import ROW, Issues, mask_text
from smsanalytics.ingest.report import Flag, TableResult
from smsanalytics.warehouse import LoadResult, Warehouse

__all__ = [
    "atomic",
    "registered",
    "load_rows",
    "update_opt_outs",
    "OptOutChange",
    "table_result",
    "flag_summary",
]


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> Iterator[None]:
    """Register a polars frame as a view for the block.

    If the block fails, DuckDB may have aborted the transaction and refuse the unregister; that
    secondary error is suppressed so the original one is what the caller sees.
    """
    con.register(name, frame)
    try:
        yield
    except BaseException:
        try:
            con.unregister(name)
        except duckdb.Error:
            pass
        raise
    con.unregister(name)


@contextmanager
def atomic(wh: Warehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction around several ``Warehouse.load`` calls and other statements.

    ``Warehouse.transaction`` is re-entrant, so the loads inside join this transaction and any
    exception rolls everything back.
    """
    with wh.transaction() as con:
        yield con


def load_rows(
    wh: Warehouse,
    table: str,
    rows: pl.DataFrame,
    *,
    quarantine: pl.DataFrame,
    source: str,
    sha256: str,
    rows_read: int,
    force: bool = False,
) -> LoadResult:
    """``Warehouse.load`` with only the canonical columns of ``rows``.

    With ``force`` (run inside :func:`atomic`), the content is processed again even though it
    was loaded before: the quarantine rows of earlier loads of the *same content* into ``table``
    are replaced by this load's (rows that now load, e.g. after the missing contacts were added,
    leave the quarantine), rows already in the table count as duplicates, and the ``loads`` row
    still records the content hash.
    """
    cols = [c for c in schemas.table(table).column_names if c in rows.columns]
    if not cols:
        rows = schemas.empty_frame(table)
        cols = rows.columns
    return wh.load(
        table,
        rows.select(cols),
        source=source,
        sha256=sha256,
        quarantine=quarantine,
        rows_read=rows_read,
        force=force,
    )


@dataclass(frozen=True)
class OptOutChange:
    """Contacts whose ``opted_out_at`` was set (or moved) / cleared by replies."""

    opted_out: int
    opted_in: int


_OPT_OUT_SQL = """
WITH ev AS (
    SELECT i.contact_id, i.received_at AS event_at, i.keyword
    FROM inbound i
    WHERE i.keyword IN ('STOP', 'START')
      AND i.contact_id IN (SELECT contact_id FROM _ingest_affected)
    UNION ALL
    SELECT c.contact_id, c.opted_out_at AS event_at, 'STOP' AS keyword
    FROM contacts c
    WHERE c.opted_out_at IS NOT NULL
      AND c.contact_id IN (SELECT contact_id FROM _ingest_affected)
),
last_start AS (
    SELECT contact_id, max(event_at) FILTER (WHERE keyword = 'START') AS last_start_at
    FROM ev GROUP BY contact_id
),
result AS (
    SELECT ev.contact_id,
           min(ev.event_at) FILTER (
               WHERE ev.keyword = 'STOP'
                 AND (l.last_start_at IS NULL OR ev.event_at > l.last_start_at)
           ) AS new_opted_out_at
    FROM ev JOIN last_start l ON l.contact_id = ev.contact_id
    GROUP BY ev.contact_id
)
SELECT r.contact_id, c.opted_out_at AS old_opted_out_at, r.new_opted_out_at
FROM result r JOIN contacts c ON c.contact_id = r.contact_id
WHERE c.opted_out_at IS DISTINCT FROM r.new_opted_out_at
"""


def update_opt_outs(wh: Warehouse, contact_ids: pl.Series) -> OptOutChange:
    """Recompute ``contacts.opted_out_at`` of ``contact_ids`` from their STOP/START replies.

    ``opted_out_at`` becomes the earliest STOP after the last START (an ``opted_out_at`` already
    recorded, e.g. from a contacts export, counts as a STOP at that time); a START after every
    STOP clears it (the contact opted in again). Run inside the load's transaction. When a
    contact changes, the warehouse is marked changed (:meth:`Warehouse.mark_changed`): the rows
    are updated by SQL, not by ``Warehouse.load``, and the Spark engine's export must follow.
    """
    con = wh.con
    affected = pl.DataFrame({"contact_id": contact_ids.drop_nulls().unique().cast(pl.Int64)})
    if affected.height == 0:
        return OptOutChange(0, 0)
    with registered(con, "_ingest_affected", affected):
        changes = con.sql(_OPT_OUT_SQL).pl()
    if changes.height == 0:
        return OptOutChange(0, 0)
    with registered(con, "_ingest_opt_changes", changes):
        con.execute(
            "UPDATE contacts SET opted_out_at = ch.new_opted_out_at FROM _ingest_opt_changes ch "
            "WHERE contacts.contact_id = ch.contact_id"
        )
    wh.mark_changed()
    opted_in = int(changes.filter(pl.col("new_opted_out_at").is_null()).height)
    return OptOutChange(changes.height - opted_in, opted_in)


def table_result(result: LoadResult, quarantine: pl.DataFrame) -> TableResult:
    """Summary of one load for the report (distinct quarantined rows, counts by reason)."""
    rows_q = (
        quarantine.filter(pl.col("row_number") > 0)["row_number"].n_unique()
        if quarantine.height
        else 0
    )
    by_reason = (
        dict(sorted(quarantine.group_by("reason").len().iter_rows())) if quarantine.height else {}
    )
    return TableResult(
        result.table,
        result.load_id,
        result.rows_loaded,
        result.rows_duplicate,
        int(rows_q),
        by_reason,
        result.already_loaded,
    )


def flag_summary(issues: Issues) -> tuple[dict[str, int], tuple[Flag, ...]]:
    """Flags of the rows that were kept: counts by reason and the first 100."""
    flags = issues.flags()
    bad = issues.bad_rows()
    if bad.len():
        flags = flags.filter(~pl.col(ROW).is_in(bad.implode()))
    flags = flags.unique(subset=[ROW, "reason"], keep="first", maintain_order=True)
    counts = dict(sorted(flags.group_by("reason").len().iter_rows())) if flags.height else {}
    examples = tuple(
        Flag(int(r), c, reason, mask_text(d))
        for r, c, reason, d in flags.head(100)
        .select(ROW, "column_name", "reason", "detail")
        .iter_rows()
    )
    return counts, examples
