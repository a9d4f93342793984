"""Loading a generated programme into the warehouse, and writing it as a platform's exports.

:func:`load_programme` is the fast path (tests, benchmarks): the canonical frames go straight into
the warehouse and the ground truth into the ``truth`` schema. :func:`write_exports` writes what a
user's SMS platform and shop would export, with realistic formatting and (optionally) a few bad
rows, so the demo can run through the real ingest pipeline.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from smsanalytics.synth import _config as cfg

if TYPE_CHECKING:
    from smsanalytics.synth.generate import Programme
    from smsanalytics.warehouse import LoadResult, Warehouse

__all__ = ["load_programme", "write_truth", "write_exports", "EXPORT_FILES", "DEFECT_SHARE"]

#: Files written by :func:`write_exports`, by canonical table.
EXPORT_FILES: dict[str, str] = {
    "contacts": "contacts.csv",
    "campaigns": "campaigns.csv",
    "messages": "messages.parquet",
    "assignments": "assignments.parquet",
    "receipts": "receipts.parquet",
    "clicks": "clicks.parquet",
    "inbound": "inbound.parquet",
    "orders": "orders.parquet",
}
#: Share of bad rows injected into ``contacts.csv``, ``orders.parquet`` and ``clicks.parquet``.
DEFECT_SHARE = 0.003

_GENERATOR_VERSION = "smsanalytics.synth/1"


def _digest(programme: Programme, table: str) -> str:
    key = (
        f"{_GENERATOR_VERSION} n={programme.n_contacts} months={programme.months} "
        f"seed={programme.seed} end={programme.end.isoformat()} table={table}"
    )
    return hashlib.sha256(key.encode()).hexdigest()


def load_programme(programme: Programme, warehouse: Warehouse) -> dict[str, LoadResult]:
    """Load the canonical tables of ``programme`` into ``warehouse``, its truth into ``truth.*``.

    Each canonical table goes through :meth:`~smsanalytics.warehouse.Warehouse.load` (atomic and
    idempotent: loading the same programme twice changes nothing, the second load reports
    ``already_loaded``). The truth tables then replace ``truth.contacts``, ``truth.messages``,
    ``truth.recapture``, ``truth.variants`` and ``truth.orders`` in one transaction
    (:func:`write_truth`).

    Parameters
    ----------
    programme
        From :func:`~smsanalytics.synth.generate_programme`.
    warehouse
        An open, writable warehouse.

    Returns
    -------
    dict[str, LoadResult]
        The load result of each canonical table, by table name.

    Raises
    ------
    smsanalytics.warehouse.WarehouseError
        When a load fails; that table (and the truth, if it failed there) is left unchanged.
    """
    results: dict[str, LoadResult] = {}
    for name, frame in programme.tables().items():
        results[name] = warehouse.load(
            name,
            frame,
            source=f"synth:{name}",
            sha256=_digest(programme, name),
            rows_read=frame.height,
        )
    write_truth(programme, warehouse)
    return results


def write_truth(programme: Programme, warehouse: Warehouse) -> dict[str, int]:
    """Replace the tables of schema ``truth`` with the programme's ground truth, atomically.

    ``truth.contacts``, ``truth.messages``, ``truth.recapture``, ``truth.variants`` and
    ``truth.orders`` (see ``docs/synthetic-data.md``) are written in one transaction; a failure
    leaves the previous truth in place. They carry ``external_id`` / ``campaign_id`` /
    ``order_id`` so that a warehouse filled by the ingest (which assigns its own ``contact_id``
    and ``message_id``) can be joined to them.

    Parameters
    ----------
    programme
        From :func:`~smsanalytics.synth.generate_programme`.
    warehouse
        An open, writable warehouse.

    Returns
    -------
    dict[str, int]
        Rows written per truth table.
    """
    rows: dict[str, int] = {}
    with warehouse.transaction() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS truth")
        for name, frame in programme.truth_tables().items():
            view = f"_truth_{name}"
            con.register(view, frame)
            try:
                con.execute(f"CREATE OR REPLACE TABLE truth.{name} AS SELECT * FROM {view}")
            finally:
                con.unregister(view)
            rows[name] = frame.height
    return rows


# -- exports --------------------------------------------------------------------------------
# Phone formats per country: pieces are literals or (start, length) slices of the national
# significant number; weights say how often each format appears.
_Piece = str | tuple[int, int]
_FORMATS: dict[str, tuple[tuple[float, tuple[_Piece, ...]], ...]] = {
    "FR": (
        (0.20, ("+33", (0, 9))),
        (0.15, ("+33 ", (0, 1), " ", (1, 2), " ", (3, 2), " ", (5, 2), " ", (7, 2))),
        (0.30, ("0", (0, 1), " ", (1, 2), " ", (3, 2), " ", (5, 2), " ", (7, 2))),
        (0.20, ("0", (0, 9))),
        (0.10, ("0", (0, 1), ".", (1, 2), ".", (3, 2), ".", (5, 2), ".", (7, 2))),
        (0.05, ("0033", (0, 9))),
    ),
    "BE": (
        (0.5, ("+32", (0, 9))),
        (0.3, ("+32 ", (0, 3), " ", (3, 2), " ", (5, 2), " ", (7, 2))),
        (0.2, ("0", (0, 3), " ", (3, 2), " ", (5, 2), " ", (7, 2))),
    ),
    "CH": (
        (0.5, ("+41", (0, 9))),
        (0.3, ("+41 ", (0, 2), " ", (2, 3), " ", (5, 2), " ", (7, 2))),
        (0.2, ("0", (0, 2), " ", (2, 3), " ", (5, 2), " ", (7, 2))),
    ),
    "ES": (
        (0.5, ("+34", (0, 9))),
        (0.3, ("+34 ", (0, 3), " ", (3, 2), " ", (5, 2), " ", (7, 2))),
        (0.2, ((0, 3), " ", (3, 3), " ", (6, 3))),
    ),
    "GB": (
        (0.5, ("+44", (0, 10))),
        (0.3, ("+44 ", (0, 4), " ", (4, 6))),
        (0.2, ("0", (0, 4), " ", (4, 6))),
    ),
    "US": (
        (0.30, ("+1", (0, 10))),
        (0.10, ("+1 ", (0, 3), "-", (3, 3), "-", (6, 4))),
        (0.30, ("(", (0, 3), ") ", (3, 3), "-", (6, 4))),
        (0.20, ((0, 3), "-", (3, 3), "-", (6, 4))),
        (0.10, ("1-", (0, 3), "-", (3, 3), "-", (6, 4))),
    ),
}
_FORMATS["CA"] = _FORMATS["US"]
_ISO_Z = "%Y-%m-%dT%H:%M:%SZ"
_ISO_OFFSET = "%Y-%m-%dT%H:%M:%S%:z"


def _phone_expr(country: pl.Expr, code: pl.Expr, nsn: pl.Expr) -> pl.Expr:
    expr: pl.Expr | None = None
    for ctry, formats in _FORMATS.items():
        for k, (_, pieces) in enumerate(formats):
            parts = [pl.lit(p) if isinstance(p, str) else nsn.str.slice(*p) for p in pieces]
            cond = (country == ctry) & (code == k)
            expr = (pl.when(cond) if expr is None else expr.when(cond)).then(pl.concat_str(parts))
    assert expr is not None
    return expr.otherwise(pl.concat_str(pl.lit("+"), nsn))


def _iso(col: str, zone: pl.Expr | None = None, local: pl.Expr | None = None) -> pl.Expr:
    """ISO-8601 text of a UTC timestamp: with ``Z``, or with the contact's UTC offset where
    ``local`` is true."""
    utc = pl.col(col).dt.strftime(_ISO_Z)
    if zone is None or local is None:
        return utc.alias(col)
    expr = pl.when(~local).then(utc)
    for z in cfg.ZONES:
        expr = expr.when(zone == z).then(
            pl.col(col).dt.convert_time_zone(z).dt.strftime(_ISO_OFFSET)
        )
    return expr.otherwise(utc).alias(col)


def _contacts_export(
    contacts: pl.DataFrame, rng: np.random.Generator, defects: bool
) -> tuple[pl.DataFrame, list[dict[str, object]]]:
    n = contacts.height
    code = np.zeros(n, dtype=np.int32)
    country = contacts["country"].to_numpy()
    for ctry, formats in _FORMATS.items():
        sel = np.flatnonzero(country == ctry)
        w = np.array([f[0] for f in formats])
        code[sel] = np.searchsorted(
            np.cumsum(w) / w.sum(), rng.random(sel.size), side="right"
        ).clip(0, w.size - 1)
    prefix = {c.code: len(c.calling_code) + 1 for c in cfg.COUNTRIES}
    nsn = pl.col("phone_e164").str.slice(
        pl.col("country").replace_strict(prefix, return_dtype=pl.Int64)
    )
    attrs = pl.col("attributes").str.json_decode(
        pl.Struct({"acquisition_channel": pl.String, "store": pl.String})
    )
    out = contacts.with_columns(
        pl.Series("_code", code), (pl.Series(rng.random(n)) < 0.3).alias("_local")
    ).select(
        pl.col("external_id").alias("contact_id"),
        _phone_expr(pl.col("country"), pl.col("_code"), nsn).alias("phone"),
        pl.col("country"),
        pl.when(pl.col("timezone_source") == "explicit").then(pl.col("timezone")).alias("timezone"),
        pl.col("first_name"),
        pl.col("language"),
        _iso("signup_at", pl.col("timezone"), pl.col("_local")),
        pl.col("birthday").dt.strftime("%Y-%m-%d"),
        _iso("consent_at", pl.col("timezone"), pl.col("_local")),
        _iso("opted_out_at"),
        pl.col("points"),
        attrs.struct.field("acquisition_channel"),
        attrs.struct.field("store"),
        pl.col("phone_e164").alias("_e164"),
        nsn.alias("_nsn"),
    )
    notes: list[dict[str, object]] = []
    if defects and n >= 10:
        k = max(1, round(DEFECT_SHARE * n / 4))
        chosen = rng.choice(n, size=min(n, 4 * k), replace=False)
        sci, zero_pool, dup, bad_date = (
            chosen[:k],
            chosen[k : 2 * k],
            chosen[2 * k : 3 * k],
            chosen[3 * k :],
        )
        fr = np.flatnonzero(country == "FR")
        lost = (
            rng.choice(fr, size=min(k, fr.size), replace=False)
            if fr.size
            else np.zeros(0, np.int64)
        )
        lost = np.setdiff1d(lost, np.concatenate([sci, dup, bad_date]))
        del zero_pool
        digits = out["_e164"].str.slice(1)
        mantissa = pl.concat_str(
            digits.str.slice(0, 1), pl.lit("."), digits.str.slice(1).str.strip_chars_end("0")
        )
        sci_text = pl.select(
            pl.concat_str(mantissa, pl.lit("E+"), (digits.str.len_chars() - 1).cast(pl.String))
        ).to_series()
        phone = out["phone"].scatter(sci, sci_text.gather(sci))
        phone = phone.scatter(lost, out["_nsn"].gather(lost))
        bad_values = ["31/02/2026", "2026-02-30T10:00:00Z", "n/a", "yesterday"]
        signup = out["signup_at"].scatter(
            bad_date, [bad_values[i % 4] for i in range(bad_date.size)]
        )
        out = out.with_columns(phone.alias("phone"), signup.alias("signup_at"))
        # duplicates: the same contact again, its number typed differently
        dups = out[dup].with_columns(
            pl.when(pl.col("phone").str.starts_with("+"))
            .then(pl.col("_e164").str.replace(r"^\+", "00"))
            .otherwise(pl.col("_e164"))
            .alias("phone")
        )
        key = np.concatenate([np.arange(n, dtype=np.float64), rng.uniform(0, n, dup.size)])
        out = (
            pl.concat([out, dups])
            .with_columns(pl.Series("_key", key))
            .sort("_key", maintain_order=True)
        )
        row = out.with_row_index("_row", offset=1)
        for label, rows_ in (("scientific_notation_phone", sci), ("lost_leading_zero", lost)):
            ids = set(contacts["external_id"].gather(rows_).to_list())
            for r in row.filter(
                pl.col("contact_id").is_in(list(ids)) & (pl.col("_key") % 1 == 0)
            ).iter_rows(named=True):
                notes.append(
                    {
                        "file": "contacts.csv",
                        "row_number": r["_row"],
                        "column": "phone",
                        "defect": label,
                        "id": r["contact_id"],
                    }
                )
        for r in row.filter(pl.col("_key") % 1 != 0).iter_rows(named=True):
            notes.append(
                {
                    "file": "contacts.csv",
                    "row_number": r["_row"],
                    "column": "contact_id",
                    "defect": "duplicate_contact",
                    "id": r["contact_id"],
                }
            )
        bad_ids = set(contacts["external_id"].gather(bad_date).to_list())
        for r in row.filter(
            pl.col("contact_id").is_in(list(bad_ids)) & (pl.col("_key") % 1 == 0)
        ).iter_rows(named=True):
            notes.append(
                {
                    "file": "contacts.csv",
                    "row_number": r["_row"],
                    "column": "signup_at",
                    "defect": "unparseable_date",
                    "id": r["contact_id"],
                }
            )
        out = out.drop("_key")
    return out.drop("_e164", "_nsn"), notes


def _insert(
    frame: pl.DataFrame, extra: pl.DataFrame, rng: np.random.Generator
) -> tuple[pl.DataFrame, np.ndarray]:
    """``frame`` with ``extra`` rows at random places, and the 1-based rows of ``extra``."""
    n = frame.height
    key = np.concatenate([np.arange(n, dtype=np.float64), rng.uniform(0, n, extra.height) + 0.5])
    merged = pl.concat([frame, extra]).with_columns(pl.Series("_key", key))
    order = np.argsort(key, kind="stable")
    rows = np.empty(key.size, dtype=np.int64)
    rows[order] = np.arange(1, key.size + 1)
    return merged.sort("_key", maintain_order=True).drop("_key"), rows[n:]


def write_exports(
    programme: Programme, folder: str | Path, *, defects: bool = True, seed: int = 0
) -> dict[str, Path]:
    """Write the programme as a user's SMS platform and shop would export it.

    The files use the canonical column names, except that contacts and events refer to contacts
    by their external id and to messages by the provider's message id, as real exports do:

    ``contacts.csv``
        ``contact_id`` (the external id, ``C0000001``), ``phone`` (as typed: national or
        international, with spaces, dots, dashes or brackets), ``country``, ``timezone`` (blank
        for ~15 % of contacts whose zone follows from the number), ``first_name``, ``language``,
        ``signup_at``, ``birthday``, ``consent_at``, ``opted_out_at`` (ISO-8601 text, UTC with
        ``Z`` or with the contact's offset such as ``+02:00``), ``points``, and the extra columns
        ``acquisition_channel`` and ``store`` (which the ingest keeps in ``attributes``).
    ``campaigns.csv``
        The canonical columns; ``created_at`` as ISO-8601 UTC text.
    ``messages.parquet``
        ``message_id`` = the provider id (``SM…``), ``contact_id`` = external id, and the other
        canonical columns (no ``provider_message_id``).
    ``assignments.parquet``, ``receipts.parquet``, ``orders.parquet``
        Canonical columns with external contact ids / provider message ids.
    ``clicks.parquet``
        ``message_id``, ``contact_id``, ``clicked_at``, ``url``, ``user_agent`` (no ``is_bot``:
        the ingest decides bot clicks from the user agent and timing).
    ``inbound.parquet``
        ``contact_id``, ``received_at``, ``body`` (no ``keyword``: the ingest recognises them).

    Parquet timestamps are UTC ``timestamp[us, tz=UTC]``.

    With ``defects=True`` about 0.3 % bad rows are injected, and listed in ``defects.csv``
    (``file, row_number, column, defect, id``; row numbers are 1-based data rows):
    ``contacts.csv`` gets numbers damaged by spreadsheets (``3.3612345678E+10``, a French
    mobile without its leading zero ``612345678``), the same contact repeated with its number
    typed differently, and unparseable ``signup_at`` values; ``orders.parquet`` gets extra rows
    with a negative amount or an unknown contact id; ``clicks.parquet`` gets clicks on unknown
    message ids. Without defects the files hold exactly the canonical data.

    Parameters
    ----------
    programme
        From :func:`~smsanalytics.synth.generate_programme`.
    folder
        Output folder (created if missing); existing files of the same names are replaced.
    defects
        Whether to inject bad rows.
    seed
        Seed of the formatting choices and defects.

    Returns
    -------
    dict[str, Path]
        Path of each file by canonical table name (plus ``defects`` when defects are written).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0x5EED])
    paths = {name: folder / file for name, file in EXPORT_FILES.items()}
    notes: list[dict[str, object]] = []

    contacts, contact_notes = _contacts_export(programme.contacts, rng, defects)
    notes.extend(contact_notes)
    contacts.write_csv(paths["contacts"])

    programme.campaigns.with_columns(pl.col("created_at").dt.strftime(_ISO_Z)).write_csv(
        paths["campaigns"]
    )

    external = programme.contacts["external_id"]
    provider = programme.messages["provider_message_id"]

    def ext(col: str = "contact_id") -> pl.Expr:
        return pl.col(col).map_batches(lambda s: external.gather(s - 1), return_dtype=pl.String)

    def sid(col: str = "message_id") -> pl.Expr:
        return pl.col(col).map_batches(lambda s: provider.gather(s - 1), return_dtype=pl.String)

    messages = programme.messages.select(
        sid(), "campaign_id", ext(), *programme.messages.columns[4:]
    )
    messages.write_parquet(paths["messages"])
    programme.assignments.with_columns(ext()).write_parquet(paths["assignments"])
    programme.receipts.with_columns(sid()).write_parquet(paths["receipts"])
    programme.inbound.select(ext(), "received_at", "body").write_parquet(paths["inbound"])

    clicks = programme.clicks.select(sid(), ext(), "clicked_at", "url", "user_agent")
    orders = programme.orders.with_columns(ext())
    if defects and clicks.height:
        k = max(1, round(DEFECT_SHARE * clicks.height))
        bad = clicks.sample(k, seed=int(rng.integers(2**31))).with_columns(
            pl.Series(
                "message_id",
                [f"SM{rng.integers(0, 2**63):016x}{rng.integers(0, 2**63):016x}" for _ in range(k)],
            )
        )
        clicks, rows = _insert(clicks, bad, rng)
        notes.extend(
            {
                "file": "clicks.parquet",
                "row_number": int(r),
                "column": "message_id",
                "defect": "unknown_message",
                "id": m,
            }
            for r, m in zip(rows, bad["message_id"].to_list(), strict=True)
        )
    if defects and orders.height:
        k = max(1, round(DEFECT_SHARE * orders.height / 2))
        base = orders.sample(2 * k, seed=int(rng.integers(2**31)))
        neg = base[:k].with_columns(
            pl.format("{}-R", pl.col("order_id")).alias("order_id"),
            (-pl.col("amount")).alias("amount"),
        )
        n = programme.n_contacts
        unknown = base[k:].with_columns(
            pl.format("{}-X", pl.col("order_id")).alias("order_id"),
            pl.Series("contact_id", [f"C{n + 1 + i:07d}" for i in range(k)]),
        )
        extra = pl.concat([neg, unknown])
        orders, rows = _insert(orders, extra, rng)
        for i, (r, oid) in enumerate(zip(rows, extra["order_id"].to_list(), strict=True)):
            defect, column = (
                ("negative_amount", "amount") if i < k else ("unknown_contact", "contact_id")
            )
            notes.append(
                {
                    "file": "orders.parquet",
                    "row_number": int(r),
                    "column": column,
                    "defect": defect,
                    "id": oid,
                }
            )
    clicks.write_parquet(paths["clicks"])
    orders.write_parquet(paths["orders"])
    if defects:
        paths["defects"] = folder / "defects.csv"
        pl.DataFrame(
            notes,
            schema={
                "file": pl.String,
                "row_number": pl.Int64,
                "column": pl.String,
                "defect": pl.String,
                "id": pl.String,
            },
        ).sort("file", "row_number").write_csv(paths["defects"])
    return paths
