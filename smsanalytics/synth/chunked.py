"""A generated programme larger than memory: contacts in chunks, tables as Parquet part files.

:func:`~smsanalytics.synth.generate_programme` holds the whole programme in memory (about 9 GB
at its peak for 1M contacts), so 10M contacts (~210M messages, ~420M receipts) cannot be
generated at once. :func:`generate_programme_parquet` generates the contacts ``chunk`` at a time
and appends each chunk's tables to the folder as Parquet part files (zstd), optionally inserting
them into a DuckDB warehouse as it goes; memory is that of one chunk.

What is shared across chunks, and what is not
---------------------------------------------
In the generative model contacts are independent of each other given the campaign calendar, so a
programme of ``n`` contacts is the union of programmes of its chunks, provided that:

- every chunk receives **the same campaigns**: the calendar (which broadcasts are A/B tests, their
  audiences, hours, creation times) is drawn from the programme's ``seed`` in every chunk
  (``calendar_seed``), and the ``campaigns`` table, identical in every chunk, is written once;
- ids are **disjoint**: each chunk's ``contact_id`` and ``external_id``, ``message_id`` and
  ``order_id`` are shifted by the counts of the chunks before it (``provider_message_id`` is 128
  random bits; phone numbers that another chunk already used are redrawn, see below);
- every other draw of chunk ``k`` comes from its own seed: ``seed`` itself for chunk 0 and one
  derived from ``(seed, k)`` for the others.

Chunk 0 is therefore exactly ``generate_programme(min(n, chunk), seed=seed)``, and with
``n <= chunk`` the files hold exactly the in-memory generator's tables. Message ids grow chunk
by chunk (within a chunk, campaign by campaign as in the in-memory generator), so they are not
in ``sent_at`` order across chunks; nothing in the package relies on that.

Phone numbers are drawn unique within a chunk; a number already used by an earlier chunk (a few
hundred per million contacts in the smaller US area codes) gets its last four digits redrawn,
which keeps its country, number range, type and the zone it implies.

Layout of the folder::

    meta.json                        written last: its presence means the folder is complete
    contacts.parquet/part-00000.parquet, part-00001.parquet, ...
    campaigns.parquet/part-00000.parquet
    messages.parquet/..., assignments.parquet/..., receipts.parquet/..., clicks.parquet/...,
    inbound.parquet/..., orders.parquet/...
    truth/{contacts,messages,recapture,variants,orders}.parquet/...   (with ``truth=True``)

Each ``<table>.parquet`` folder is what the Parquet/Spark engine reads (``docs/scale-out.md``)
and what DuckDB reads with ``read_parquet('<folder>/<table>.parquet/*.parquet')``. Part ``k``
holds the rows of chunk ``k`` (contacts ``meta["chunks"][k]["contact_id"]``), so a job can read
one chunk of contacts with all of its events.

>>> import tempfile
>>> from smsanalytics.synth import generate_programme_parquet
>>> with tempfile.TemporaryDirectory() as tmp:
...     meta = generate_programme_parquet(600, tmp, seed=1, chunk=250, months=1)
...     (meta["rows"]["contacts"], len(meta["chunks"]))
(600, 3)
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from smsanalytics import schemas
from smsanalytics.synth.generate import DEFAULT_END, Programme, generate_programme

__all__ = ["chunk_seed", "generate_programme_parquet", "load_parts", "parquet_glob"]

#: Tables written once (identical in every chunk).
_SHARED = ("campaigns",)
_SHARED_TRUTH = ("variants",)
_FOUR_DIGITS = 10_000


def chunk_seed(seed: int, k: int) -> int:
    """The seed of chunk ``k`` of a programme generated with ``seed`` (chunk 0: ``seed``)."""
    if k == 0:
        return seed
    state = np.random.SeedSequence([seed, k]).generate_state(2, np.uint32)
    return int(state[0]) << 32 | int(state[1])


def parquet_glob(folder: str | Path, table: str, *, truth: bool = False) -> str:
    """The glob of a table's part files in a folder written by :func:`generate_programme_parquet`
    (for DuckDB's ``read_parquet`` and polars' ``scan_parquet``)."""
    base = Path(folder) / "truth" if truth else Path(folder)
    return str(base / f"{table}.parquet" / "*.parquet")


def _shift_ids(prog: Programme, offsets: dict[str, int]) -> dict[str, pl.DataFrame]:
    """The canonical and truth tables of one chunk with their ids moved past earlier chunks."""
    c_off, m_off, o_off = offsets["contact_id"], offsets["message_id"], offsets["order_id"]

    def contact(frame: pl.DataFrame) -> list[pl.Expr]:
        exprs = []
        if "contact_id" in frame.columns:
            exprs.append(pl.col("contact_id") + c_off)
        if "external_id" in frame.columns:
            exprs.append(
                pl.concat_str(
                    pl.lit("C"),
                    (pl.col("external_id").str.slice(1).cast(pl.Int64) + c_off)
                    .cast(pl.String)
                    .str.zfill(7),
                ).alias("external_id")
            )
        return exprs

    def message(frame: pl.DataFrame) -> list[pl.Expr]:
        return [pl.col("message_id") + m_off] if "message_id" in frame.columns else []

    def order(frame: pl.DataFrame) -> list[pl.Expr]:
        if "order_id" not in frame.columns:
            return []
        number = pl.col("order_id").str.slice(4).cast(pl.Int64) + o_off
        return [
            pl.concat_str(pl.lit("ORD-"), number.cast(pl.String).str.zfill(8)).alias("order_id")
        ]

    out: dict[str, pl.DataFrame] = {}
    named = {**prog.tables(), **{f"truth/{k}": v for k, v in prog.truth_tables().items()}}
    for name, frame in named.items():
        exprs = [*contact(frame), *message(frame), *order(frame)]
        # the schema is kept exactly (the ids are the same types; nullable message ids stay null)
        out[name] = frame.with_columns(exprs) if exprs else frame
    return out


def _dedupe_phones(
    contacts: pl.DataFrame, seen: np.ndarray, rng: np.random.Generator
) -> tuple[pl.DataFrame, np.ndarray, int]:
    """Redraw the last four digits of numbers used by an earlier chunk; returns the frame, the
    updated sorted array of used numbers (E.164 digits as int64) and the count redrawn."""
    keys = contacts["phone_e164"].str.slice(1).cast(pl.Int64).to_numpy().copy()

    def used(values: np.ndarray, others: np.ndarray) -> np.ndarray:
        if others.size == 0:
            return np.zeros(values.size, dtype=bool)
        pos = np.minimum(np.searchsorted(others, values), others.size - 1)
        return others[pos] == values

    clash = np.flatnonzero(used(keys, seen))
    redrawn = clash.size
    if clash.size:
        own = np.sort(np.delete(keys, clash))
        todo = clash
        for _ in range(100):
            if todo.size == 0:
                break
            cand = keys[todo] - keys[todo] % _FOUR_DIGITS + rng.integers(0, _FOUR_DIGITS, todo.size)
            order = np.argsort(cand, kind="stable")
            dup = np.zeros(todo.size, dtype=bool)
            dup[order[1:]] = cand[order[1:]] == cand[order[:-1]]
            ok = ~dup & ~used(cand, seen) & ~used(cand, own)
            keys[todo[ok]] = cand[ok]
            own = np.sort(np.concatenate([own, cand[ok]]))
            todo = todo[~ok]
        if todo.size:  # pragma: no cover - needs a number range nearly full
            raise RuntimeError(f"could not find unused phone numbers for {todo.size} contacts")
        phone = pl.Series("phone_e164", keys).cast(pl.String)
        contacts = contacts.with_columns(pl.concat_str(pl.lit("+"), phone).alias("phone_e164"))
    return contacts, np.sort(np.concatenate([seen, keys])), redrawn


def _insert_parts(con: Any, parts: dict[str, Path]) -> None:
    """``INSERT`` each canonical table's part file into the warehouse (one transaction)."""
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        for name, path in parts.items():
            t = schemas.table(name)
            cols = ", ".join(t.polars_schema)
            con.execute(  # a chunk's contact ids are its own: clustered per chunk = clustered
                f"INSERT INTO {name} ({cols}) SELECT {cols} FROM read_parquet($p)"
                f"{schemas.cluster_order(t)}",
                {"p": str(path)},
            ).fetchall()
        con.execute("COMMIT").fetchall()
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise


def load_parts(
    folder: str | Path, warehouse: str | Path, *, memory_limit: str = "2GB"
) -> float:
    """(Re)build ``warehouse`` from the part files of a folder written by
    :func:`generate_programme_parquet`, chunk by chunk as the generator loads them.

    Each chunk's rows are inserted in their table's ``cluster_by`` order; chunks hold disjoint
    contact ids, so the whole table ends up clustered by contact. Use it to rebuild a cached
    programme's warehouse (for example one written before tables were clustered) without
    generating the programme again.

    Parameters
    ----------
    folder
        Folder written by :func:`generate_programme_parquet` (``{table}.parquet/part-*.parquet``).
    warehouse
        DuckDB file to write; replaced if it exists.
    memory_limit
        DuckDB's memory limit while inserting (sorts beyond it spill to disk).

    Returns
    -------
    float
        Seconds taken (read, sort, write and checkpoint).
    """
    from smsanalytics.warehouse import Warehouse

    start = time.perf_counter()
    folder = Path(folder)
    Path(warehouse).unlink(missing_ok=True)
    Path(f"{warehouse}.wal").unlink(missing_ok=True)
    tables = [t.name for t in schemas.ORDERED_TABLES if (folder / f"{t.name}.parquet").is_dir()]
    # chunk k wrote part-{k:05d}.parquet of each table (the shared tables in chunk 0 only)
    chunks = sorted({p.name for t in tables for p in (folder / f"{t}.parquet").glob("part-*")})
    with Warehouse(warehouse, memory_limit=memory_limit) as wh:
        wh.con.execute("SET enable_progress_bar = false").fetchall()
        for part in chunks:
            paths = {t: folder / f"{t}.parquet" / part for t in tables}
            _insert_parts(wh.con, {t: path for t, path in paths.items() if path.is_file()})
        wh.con.execute("CHECKPOINT").fetchall()
    return time.perf_counter() - start


def generate_programme_parquet(
    n_contacts: int,
    folder: str | Path,
    *,
    seed: int = 0,
    chunk: int = 1_000_000,
    months: int = 12,
    end: dt.date | None = None,
    truth: bool = False,
    warehouse: str | Path | None = None,
    warehouse_memory_limit: str = "2GB",
    progress: bool = False,
) -> dict[str, Any]:
    """Generate a programme of ``n_contacts`` chunk by chunk, as Parquet part files.

    Parameters
    ----------
    n_contacts
        Number of contacts (10,000,000 gives ~210M messages with the default 12 months).
    folder
        Output folder; replaced if it exists (see the module docstring for its layout).
    seed
        Seed of the programme: the same arguments give byte-identical files.
    chunk
        Contacts generated at a time. Peak memory is that of
        ``generate_programme(chunk)`` (about 9 GB for 1M contacts, 4.6 GB for 500k).
    months, end
        As for :func:`~smsanalytics.synth.generate_programme`.
    truth
        Also write the ground-truth tables under ``truth/``.
    warehouse
        When given, a DuckDB warehouse file (created, or replaced if it exists) into which each
        chunk's canonical tables are inserted as they are written (the generator's rows are
        clean, so they go in directly, without the ingest's checks).
    warehouse_memory_limit
        DuckDB ``memory_limit`` of the warehouse connection during the inserts.
    progress
        Print one line per chunk.

    Returns
    -------
    dict
        The content of ``meta.json``: the arguments, ``start`` / ``as_of`` (ISO UTC), ``rows``
        per table, ``chunks`` (per chunk: its seed, ``[first, last]`` ``contact_id`` and
        ``message_id``, rows per table, seconds, phone numbers redrawn), ``seconds``.

    Raises
    ------
    ValueError
        When ``n_contacts`` or ``chunk`` is not positive.
    """
    if n_contacts < 1:
        raise ValueError(f"n_contacts must be at least 1, got {n_contacts}")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    t_start = time.perf_counter()
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    wh = None
    if warehouse is not None:
        from smsanalytics.warehouse import Warehouse

        Path(warehouse).unlink(missing_ok=True)
        Path(f"{warehouse}.wal").unlink(missing_ok=True)
        wh = Warehouse(warehouse, memory_limit=warehouse_memory_limit)
        wh.con.execute("SET enable_progress_bar = false").fetchall()
    offsets = {"contact_id": 0, "message_id": 0, "order_id": 0}
    rows: dict[str, int] = {}
    chunks: list[dict[str, Any]] = []
    seen_phones = np.zeros(0, dtype=np.int64)
    shared: dict[str, pl.DataFrame] = {}
    try:
        for k, lo in enumerate(range(0, n_contacts, chunk)):
            t0 = time.perf_counter()
            size = min(chunk, n_contacts - lo)
            prog = generate_programme(
                size, months=months, seed=chunk_seed(seed, k), end=end, calendar_seed=seed
            )
            tables = _shift_ids(prog, offsets)
            counts = {
                "contacts": prog.contacts.height,
                "messages": prog.messages.height,
                "orders": prog.orders.height,
            }
            start, as_of = prog.start, prog.as_of
            del prog
            rng = np.random.default_rng(np.random.SeedSequence([seed, k, 1]))
            tables["contacts"], seen_phones, redrawn = _dedupe_phones(
                tables["contacts"], seen_phones, rng
            )
            written: dict[str, Path] = {}
            for name, frame in tables.items():
                base = name.removeprefix("truth/")
                is_truth = name.startswith("truth/")
                if is_truth and not truth:
                    continue
                if (base in _SHARED and not is_truth) or (base in _SHARED_TRUTH and is_truth):
                    if name in shared:
                        if not frame.equals(shared[name]):  # pragma: no cover - a generator bug
                            raise RuntimeError(f"chunk {k} has a different {name} table")
                        continue
                    shared[name] = frame
                path = Path(parquet_glob(folder, base, truth=is_truth)).parent
                path.mkdir(parents=True, exist_ok=True)
                part = path / f"part-{k:05d}.parquet"
                frame.write_parquet(part, compression="zstd")
                if not is_truth:
                    written[name] = part
                rows[name] = rows.get(name, 0) + frame.height
            chunk_rows = {name: frame.height for name, frame in tables.items() if "/" not in name}
            del tables
            gc.collect()
            if wh is not None:
                _insert_parts(wh.con, written)
            info = {
                "seed": chunk_seed(seed, k),
                "contact_id": [
                    offsets["contact_id"] + 1,
                    offsets["contact_id"] + counts["contacts"],
                ],
                "message_id": [
                    offsets["message_id"] + 1,
                    offsets["message_id"] + counts["messages"],
                ],
                "rows": chunk_rows,
                "phones_redrawn": int(redrawn),
                "seconds": round(time.perf_counter() - t0, 2),
            }
            chunks.append(info)
            for key, name in (("contact_id", "contacts"), ("message_id", "messages")):
                offsets[key] += counts[name]
            offsets["order_id"] += counts["orders"]
            if progress:
                print(
                    f"chunk {k}: contacts {info['contact_id']}, {counts['messages']:,} messages, "
                    f"{info['seconds']} s",
                    flush=True,
                )
        if wh is not None:
            wh.con.execute("CHECKPOINT").fetchall()
    finally:
        if wh is not None:
            wh.close()
    meta = {
        "generator": "smsanalytics.synth.generate_programme_parquet",
        "n_contacts": n_contacts,
        "seed": seed,
        "chunk": chunk,
        "months": months,
        "end": (end or DEFAULT_END).isoformat(),
        "start": start.isoformat(),
        "as_of": as_of.isoformat(),
        "truth": truth,
        "warehouse": str(warehouse) if warehouse is not None else None,
        "rows": rows,
        "chunks": chunks,
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
