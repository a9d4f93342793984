"""Per-contact feature build: ``contact_features`` (DuckDB SQL) vs a plain pandas notebook.

For each size, a seeded programme is generated once (:func:`smsanalytics.synth.generate_programme`,
cached under ``data/tmp/bench/``), written as Parquet exports (what an analyst's notebook reads)
and inserted into a DuckDB warehouse file (what ``contact_features`` reads). Then, each in its own
subprocess (wall time and peak RSS of that process, imports done before the clock starts):

- ours: ``smsanalytics.features.write_contact_features(warehouse, path, as_of=...)`` on the
  warehouse file, writing the feature table to Parquet (:func:`run_ours`);
- baseline: :func:`pandas_features`, the same features computed the way an analyst would in
  pandas, from the Parquet exports (reading included: that is where the notebook starts; the
  read time is also reported separately), written to Parquet with ``DataFrame.to_parquet``;
- ``parquet scan (reference)``: DuckDB reading the same columns from the same Parquet files and
  doing nothing else: a floor for any pipeline that starts from those files.

Each of the three starts with its own input files in the OS page cache and the other benchmark
files dropped from it (untimed, just before: :func:`benchmarks.harness.warm_page_cache`), so none
is measured reading from disk what another found in memory (at 10M the warehouse file and the
exports do not fit in the page cache together), nor reclaiming the cache another left full.
Both implementations must agree: at every size the two frames are compared column by column
(:func:`compare_features`) before a time is reported. Run with ``make bench``
(``BENCH_SCALE``, ``BENCH_ONLY=features``) or ``python -m benchmarks.bench_features 100k``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import CACHE

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
#: Columns read by both implementations, per table.
COLUMNS: dict[str, list[str]] = {
    "contacts": [
        "contact_id",
        "country",
        "timezone",
        "signup_at",
        "birthday",
        "consent_at",
        "opted_out_at",
        "points",
    ],
    "messages": ["message_id", "contact_id", "sent_at", "cost"],
    "receipts": ["message_id", "status_at", "status"],
    "clicks": ["message_id", "contact_id", "clicked_at", "is_bot"],
    "inbound": ["contact_id", "received_at", "keyword"],
    "orders": ["contact_id", "ordered_at", "amount"],
}


# -- data -----------------------------------------------------------------------------------------
def prepare(n_contacts: int, *, cache: Path = CACHE, seed: int = SEED) -> Path:
    """Generate (once) the programme of ``n_contacts`` as Parquet files and a warehouse file.

    Returns the folder, which holds ``{table}.parquet``, ``warehouse.duckdb`` and ``meta.json``
    (``as_of``, row counts, ``layout`` and ``load_seconds``: see :func:`build_warehouse`). Above
    1M contacts the programme comes from the chunked generator
    (:func:`benchmarks.harness.prepare_programme`; ``{table}.parquet`` are folders of part files).
    """
    from benchmarks.harness import IN_MEMORY_MAX, WAREHOUSE_LAYOUT, prepare_programme

    if n_contacts > IN_MEMORY_MAX:
        return prepare_programme(n_contacts, seed=seed, cache=cache)
    folder = cache / f"features-{n_contacts}-seed{seed}"
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
    if meta is not None and meta.get("layout") == WAREHOUSE_LAYOUT:
        return folder
    if meta is None:
        from smsanalytics.synth import generate_programme

        folder.mkdir(parents=True, exist_ok=True)
        programme = generate_programme(n_contacts, seed=seed)
        tables = programme.tables()
        rows = {}
        for name, frame in tables.items():
            frame.write_parquet(folder / f"{name}.parquet")
            rows[name] = frame.height
        meta = {"as_of": programme.as_of.isoformat(), "rows": rows, "seed": seed}
        del programme, tables
    meta["load_seconds"] = build_warehouse(folder, list(meta["rows"]))
    meta["layout"] = WAREHOUSE_LAYOUT
    meta_path.write_text(json.dumps(meta, indent=2))
    return folder


def build_warehouse(folder: Path, tables: list[str]) -> float:
    """Insert the Parquet exports of ``folder`` into a new ``warehouse.duckdb``; returns seconds.

    The rows are clean (generated), so they are inserted directly rather than through
    :meth:`~smsanalytics.warehouse.Warehouse.load`, but stored the way a load stores them:
    in the table's ``cluster_by`` order (:func:`smsanalytics.schemas.cluster_order`). The time is
    that of the whole load (read, sort, write, checkpoint), reported beside the feature build.
    """
    import polars as pl

    from smsanalytics import schemas
    from smsanalytics.warehouse import Warehouse

    wh_path = folder / "warehouse.duckdb"
    wh_path.unlink(missing_ok=True)
    start = time.perf_counter()
    with Warehouse(wh_path) as wh:
        wh.con.execute("SET enable_progress_bar = false").fetchall()
        for name in tables:
            cols = ", ".join(pl.read_parquet_schema(folder / f"{name}.parquet"))
            wh.con.execute(
                f"INSERT INTO {name} ({cols}) SELECT {cols} FROM read_parquet($p)"
                f"{schemas.cluster_order(schemas.table(name))}",
                {"p": str(folder / f"{name}.parquet")},
            ).fetchall()
        wh.con.execute("CHECKPOINT").fetchall()
    return round(time.perf_counter() - start, 2)


def _vm_hwm_mb() -> float | None:
    """Peak RSS of this process image from ``/proc/self/status`` (``VmHWM``), in MB.

    ``getrusage().ru_maxrss`` survives ``fork``/``exec``: a child started by a parent that once
    held 1 GB reports at least 1 GB. ``VmHWM`` belongs to the current address space only.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    import os

    t = os.times()
    return t.user + t.system


def prepare_in_subprocess(n_contacts: int) -> Path:
    """:func:`prepare` in a fresh process, so this one never holds the generated programme."""
    import subprocess

    code = f"from benchmarks.bench_features import prepare; print(prepare({int(n_contacts)}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"preparing {n_contacts:,} contacts failed:\n{out.stderr[-4000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


# -- our implementation ----------------------------------------------------------------------
def setup_run_ours(folder: str, as_of: str) -> Any:
    import smsanalytics.features as features
    from smsanalytics.warehouse import Warehouse

    return features, Warehouse


def run_ours(
    state: Any, folder: str, as_of: str, contacts_per_part: int | None = None
) -> dict[str, Any]:
    """``write_contact_features`` to ``features_ours.parquet`` (a file; with
    ``contacts_per_part``, a folder of part files)."""
    features, Warehouse = state  # noqa: N806
    cpu = _cpu_seconds()
    timings: dict[str, float] = {}
    out = Path(folder) / "features_ours.parquet"
    with Warehouse(Path(folder) / "warehouse.duckdb", read_only=True) as wh:
        features.write_contact_features(
            wh, out, as_of=as_of, timings=timings, contacts_per_part=contacts_per_part
        )
    cpu = _cpu_seconds() - cpu
    files = out / "*.parquet" if out.is_dir() else out
    rows = features.pl.scan_parquet(files).select(features.pl.len()).collect().item()
    return {"rows": rows, "vm_hwm_mb": _vm_hwm_mb(), "cpu_seconds": cpu, "steps": timings}


def setup_run_scan(folder: str, as_of: str) -> Any:
    import duckdb

    return duckdb


#: Above 1M contacts: DuckDB's memory limit for the feature build, and where it spills.
LARGE_MEMORY_LIMIT = "2.5GB"
SPILL = ROOT / "data" / "tmp" / "duckdb-spill"


def setup_run_ours_limited(folder: str, as_of: str) -> Any:
    """:func:`run_ours` with the warehouse opened with ``memory_limit`` =
    :data:`LARGE_MEMORY_LIMIT` and a ``temp_directory`` under ``data/tmp`` (DuckDB spills there)."""
    features, Warehouse = setup_run_ours(folder, as_of)  # noqa: N806

    def limited(path: Any, **kwargs: Any) -> Any:
        wh = Warehouse(path, memory_limit=LARGE_MEMORY_LIMIT, **kwargs)
        SPILL.mkdir(parents=True, exist_ok=True)
        wh.con.execute(f"SET temp_directory = '{SPILL}'").fetchall()
        wh.con.execute("SET enable_progress_bar = false").fetchall()
        return wh

    return features, limited


def run_ours_limited(state: Any, folder: str, as_of: str) -> dict[str, Any]:
    """Above 1M contacts: in parts of ``CONTACTS_PER_PART`` contacts (written as a folder)."""
    features = state[0]
    result = run_ours(state, folder, as_of, contacts_per_part=features.CONTACTS_PER_PART)
    result["memory_limit"] = LARGE_MEMORY_LIMIT
    result["contacts_per_part"] = features.CONTACTS_PER_PART
    return result


def run_scan(duckdb: Any, folder: str, as_of: str) -> dict[str, Any]:
    """DuckDB decoding the columns both implementations read from the Parquet files, no more."""
    from benchmarks.harness import parquet_source

    cpu = _cpu_seconds()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false").fetchall()
    total = 0
    for name, cols in COLUMNS.items():
        # hash() forces every value to be decoded (count() or min() may be read from metadata)
        aggs = ", ".join(f"bit_xor(hash({c}))" for c in cols)
        row = con.execute(
            f"SELECT {aggs} FROM read_parquet($p)", {"p": parquet_source(folder, name)}
        ).fetchall()[0]
        total += sum(1 for v in row if v is not None)
    con.close()
    return {"values": total, "vm_hwm_mb": _vm_hwm_mb(), "cpu_seconds": _cpu_seconds() - cpu}


# -- the pandas baseline ----------------------------------------------------------------------
def setup_run_pandas(folder: str, as_of: str) -> Any:
    import pandas as pd

    return pd


def run_pandas(pd: Any, folder: str, as_of: str) -> dict[str, Any]:
    cpu = _cpu_seconds()
    t0 = time.perf_counter()
    data = read_exports(folder)
    read_seconds = time.perf_counter() - t0
    frame = pandas_features(data, as_of)
    frame.to_parquet(Path(folder) / "features_pandas.parquet")
    cpu = _cpu_seconds() - cpu
    return {
        "rows": len(frame),
        "read_seconds": read_seconds,
        "vm_hwm_mb": _vm_hwm_mb(),
        "cpu_seconds": cpu,
    }


def read_exports(folder: str | Path) -> dict[str, Any]:
    """The Parquet exports as pandas frames (only the columns the features use)."""
    import pandas as pd

    return {
        name: pd.read_parquet(Path(folder) / f"{name}.parquet", columns=cols)
        for name, cols in COLUMNS.items()
    }


def pandas_features(data: dict[str, Any], as_of: str) -> Any:
    """The per-contact features of ``fct_contact_features`` written as a pandas notebook would.

    Parameters
    ----------
    data
        pandas frames ``contacts, messages, receipts, clicks, inbound, orders`` (see
        :data:`COLUMNS`), timestamps tz-aware UTC.
    as_of
        ISO instant (UTC).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`smsanalytics.features.contact_features`, one row per contact.
    """
    import numpy as np
    import pandas as pd

    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    day0 = as_of_ts.floor("D")

    # contacts known at as_of, consent state at as_of
    c = data["contacts"]
    c = c[c["signup_at"].isna() | (c["signup_at"] < as_of_ts)].copy()
    c["consent_at"] = c["consent_at"].where(c["consent_at"] < as_of_ts)
    c["opted_out_at"] = c["opted_out_at"].where(c["opted_out_at"] < as_of_ts)
    c["tenure_days"] = (day0 - c["signup_at"].dt.floor("D")).dt.days

    # next birthday (29 February -> 28 February in common years)
    born = pd.to_datetime(c["birthday"])
    has = born.notna()
    month = born.dt.month[has].astype(int)
    day = born.dt.day[has].astype(int)

    def birthday_in(year: int) -> pd.Series:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        d = day.where(~((month == 2) & (day == 29)) | leap, 28)
        return pd.to_datetime(
            pd.DataFrame({"year": year, "month": month, "day": d})
        ).dt.tz_localize("UTC")

    this_year, next_year = birthday_in(day0.year), birthday_in(day0.year + 1)
    upcoming = this_year.where(this_year >= day0, next_year)
    c["days_to_birthday"] = (upcoming - day0).dt.days

    # orders: per purchase day, then per contact
    o = data["orders"]
    o = o[o["ordered_at"] < as_of_ts].copy()
    o["day"] = o["ordered_at"].dt.floor("D")
    days = o.groupby(["contact_id", "day"], as_index=False).agg(
        n=("amount", "size"),
        amount=("amount", "sum"),
        first_at=("ordered_at", "min"),
        last_at=("ordered_at", "max"),
    )
    days["prev_day"] = days.groupby("contact_id")["day"].shift()
    oa = days.groupby("contact_id").agg(
        n_orders=("n", "sum"),
        monetary_total=("amount", "sum"),
        first_order_at=("first_at", "min"),
        last_order_at=("last_at", "max"),
        n_purchase_days=("day", "size"),
        first_day=("day", "min"),
        last_day=("day", "max"),
        prev_day=("prev_day", "max"),
    )
    oa["monetary_mean"] = oa["monetary_total"] / oa["n_orders"]
    oa["recency_days"] = (day0 - oa["last_day"]).dt.days
    oa["gap_before_last_purchase_days"] = (oa["last_day"] - oa["prev_day"]).dt.days
    oa["bgnbd_frequency"] = oa["n_purchase_days"] - 1
    oa["bgnbd_recency_days"] = (oa["last_day"] - oa["first_day"]).dt.days
    oa["bgnbd_t_days"] = (day0 - oa["first_day"]).dt.days

    # messages and deliveries
    m = data["messages"]
    m = m[m["sent_at"] < as_of_ts].copy()
    r = data["receipts"]
    delivered = r.loc[
        (r["status"] == "delivered") & (r["status_at"] < as_of_ts), "message_id"
    ].unique()
    m["is_delivered"] = m["message_id"].isin(delivered)
    ma = m.groupby("contact_id").agg(
        n_sent=("message_id", "size"),
        n_delivered=("is_delivered", "sum"),
        sms_cost=("cost", "sum"),
        first_sent_at=("sent_at", "min"),
        last_sent_at=("sent_at", "max"),
    )

    # human clicks
    k = data["clicks"]
    k = k[(k["clicked_at"] < as_of_ts) & ~k["is_bot"]]
    ka = k.groupby("contact_id").agg(
        n_clicks=("message_id", "size"),
        n_clicked_messages=("message_id", "nunique"),
        last_click_at=("clicked_at", "max"),
    )

    # replies and the last STOP/START (STOP wins a tie)
    i = data["inbound"]
    i = i[i["received_at"] < as_of_ts].copy()
    ia = i.groupby("contact_id").agg(n_inbound=("received_at", "size"))
    i["kw"] = i["keyword"].str.upper()
    opt = i[i["kw"].isin(["STOP", "START"])].assign(is_stop=lambda x: x["kw"] == "STOP")
    opt = (
        opt.sort_values(["contact_id", "received_at", "is_stop"]).groupby("contact_id")["kw"].last()
    )

    # local send hour of day and of week (0 = Monday 00:00): convert each zone's messages, then
    # the best hour by clicked / sent at each grain
    zones = c[["contact_id", "timezone"]].dropna()
    mz = m[["message_id", "contact_id", "sent_at"]].merge(zones, on="contact_id")
    hours = np.zeros(len(mz), dtype=np.int64)
    weekdays = np.zeros(len(mz), dtype=np.int64)
    for zone, idx in mz.groupby("timezone").indices.items():
        local = mz["sent_at"].iloc[idx].dt.tz_convert(zone).dt.tz_localize(None)  # wall clock
        hours[idx] = local.dt.hour.to_numpy()
        weekdays[idx] = local.dt.day_of_week.to_numpy()
    mz["local_hour_of_week"] = weekdays * 24 + hours
    mz["is_clicked"] = mz["message_id"].isin(k["message_id"].unique())
    cells = mz.groupby(["contact_id", "local_hour_of_week"], as_index=False).agg(
        sends=("message_id", "size"), clicked=("is_clicked", "sum")
    )
    cells["local_hour"] = cells["local_hour_of_week"] % 24
    by_hour = cells.groupby(["contact_id", "local_hour"], as_index=False)[
        ["sends", "clicked"]
    ].sum()

    def best_by(h: pd.DataFrame, key: str) -> pd.DataFrame:
        h = h[h["clicked"] > 0].copy()
        h["rate"] = h["clicked"] / h["sends"]
        return (
            h.sort_values(
                ["contact_id", "rate", "clicked", "sends", key],
                ascending=[True, False, False, False, True],
            )
            .drop_duplicates("contact_id")
            .set_index("contact_id")[[key, "sends", "rate"]]
            .rename(
                columns={
                    key: f"best_{key}",
                    "sends": f"best_{key}_sends",
                    "rate": f"best_{key}_click_rate",
                }
            )
        )

    f = (
        c.set_index("contact_id")
        .join(oa)
        .join(ma)
        .join(ka)
        .join(ia)
        .join(opt.rename("last_opt_keyword"))
        .join(best_by(by_hour, "local_hour"))
        .join(best_by(cells, "local_hour_of_week"))
        .reset_index()
    )
    f["is_opted_out"] = f["opted_out_at"].notna() | (f["last_opt_keyword"] == "STOP")
    f["is_consented"] = f["consent_at"].notna() & ~f["is_opted_out"]
    for col in (
        "n_orders",
        "n_purchase_days",
        "n_sent",
        "n_delivered",
        "n_clicks",
        "n_clicked_messages",
        "n_inbound",
    ):
        f[col] = f[col].fillna(0).astype("int64")
    for col in ("monetary_total", "sms_cost"):
        f[col] = f[col].fillna(0.0)
    sent = f["n_sent"].where(f["n_sent"] > 0)
    f["delivery_rate"] = f["n_delivered"] / sent
    f["click_rate"] = f["n_clicked_messages"] / sent
    f["days_since_last_sent"] = (day0 - f["last_sent_at"].dt.floor("D")).dt.days
    f["days_since_last_click"] = (day0 - f["last_click_at"].dt.floor("D")).dt.days
    return f.sort_values("contact_id").reset_index(drop=True)


def compare_features(ours: Any, theirs: Any, *, rtol: float = 1e-9) -> None:
    """Raise ``AssertionError`` naming the first column where the two feature frames differ.

    ``ours`` is the polars frame of ``contact_features``; ``theirs`` the pandas frame of
    :func:`pandas_features`. Integers and timestamps must be equal, floats equal to ``rtol``,
    missing values in the same places.
    """
    import numpy as np
    import polars as pl

    theirs = pl.from_pandas(theirs)
    assert ours.height == theirs.height, f"rows: ours {ours.height}, pandas {theirs.height}"
    assert ours["contact_id"].to_list() == theirs["contact_id"].to_list(), "contact ids differ"
    for col in ours.columns:
        a, b = ours[col], theirs[col]
        if a.dtype.is_float() or b.dtype.is_float():
            x = a.cast(pl.Float64).to_numpy()
            y = b.cast(pl.Float64).to_numpy()
            ok = np.isclose(x, y, rtol=rtol, atol=1e-9, equal_nan=True)
        elif a.dtype == pl.Date or b.dtype == pl.Date:
            ok = (a.cast(pl.Date) == b.cast(pl.Date)).fill_null(True).to_numpy() & (
                a.is_null() == b.cast(pl.Date).is_null()
            ).to_numpy()
        else:
            b = b.cast(a.dtype)
            ok = (a.eq_missing(b)).to_numpy()
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise AssertionError(
                f"column {col!r} differs for contact {ours['contact_id'][bad]}: "
                f"ours {a[bad]!r}, pandas {b[bad]!r} "
                f"({int((~ok).sum())} rows)"
            )


# -- the run --------------------------------------------------------------------------------
def _peak(result: dict[str, Any]) -> float:
    """Peak RSS (MB) of a measured stage: its own ``VmHWM`` when it reported one."""
    return round((result.get("extra") or {}).get("vm_hwm_mb") or result["peak_rss_mb"], 1)


def _entry(
    stage: str, contacts: int, messages: int, result: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """One ``latest.json`` entry from a :func:`benchmarks.harness.measure` result
    (``baseline_seconds`` None unless ``extra`` gives it)."""
    return {
        "stage": stage,
        "contacts": contacts,
        "messages": messages,
        "seconds": round(result["seconds"], 3),
        "peak_rss_mb": _peak(result),
        "baseline_seconds": None,
        "cpu_seconds": round(result["extra"]["cpu_seconds"], 2),
        "kernel": result.get("kernel"),
        **extra,
    }


def repeats(environ: dict[str, str] | None = None) -> int:
    """How many rounds :func:`run` measures at each size: ``BENCH_REPEAT`` (default 1).

    Raises
    ------
    ValueError
        When ``BENCH_REPEAT`` is not a whole number from 1 to 20.
    """
    import os

    raw = (os.environ if environ is None else environ).get("BENCH_REPEAT", "1")
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 20:
        raise ValueError(f"BENCH_REPEAT={raw!r}: give a whole number of rounds from 1 to 20")
    return int(raw)


def median_run(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The measurement with the median wall time (the lower middle one for an even count).

    The whole measurement is kept, not only its time, so that its steps, CPU seconds and kernel
    counters describe the run whose time is reported.

    >>> [median_run([{"seconds": s} for s in (3.0, 1.0, 2.0)])["seconds"]]
    [2.0]
    """
    ranked = sorted(results, key=lambda r: r["seconds"])
    return ranked[(len(ranked) - 1) // 2]


def run(sizes: list[int]) -> list[dict[str, Any]]:
    """Measure both implementations at each size; entries for ``make bench``.

    With ``BENCH_REPEAT=k`` (:func:`repeats`) each size is measured in ``k`` rounds (ours, the
    pandas baseline, the decode reference, in that order in every round, each warmed as below),
    and each stage reports its median round (:func:`median_run`), with every round's wall time
    in ``round_seconds``: on a shared machine one round can be twice as slow as the next.
    """
    import polars as pl

    from benchmarks.harness import IN_MEMORY_MAX, measure, warm_page_cache

    rounds = repeats()
    entries = []
    for n in sizes:
        folder = prepare_in_subprocess(n)
        meta = json.loads((folder / "meta.json").read_text())
        kwargs = {"folder": str(folder), "as_of": meta["as_of"]}
        messages = meta["rows"]["messages"]

        def entry(stage: str, result: dict[str, Any], **extra: Any) -> dict[str, Any]:
            return _entry(stage, n, messages, result, **extra)  # noqa: B023 (this iteration)

        exports = [folder / f"{t}.parquet" for t in COLUMNS]  # files, or folders of parts
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "base": [], "scan": []}
        for round_no in range(rounds):
            warm_page_cache([folder / "warehouse.duckdb"])
            if n > IN_MEMORY_MAX:
                # the pandas frames alone would need ~6.4 GB per million contacts (64 GB at
                # 10M): no baseline; our build runs under a DuckDB memory limit and spills
                runs["ours"].append(
                    measure("benchmarks.bench_features", "run_ours_limited", **kwargs)
                )
            else:
                runs["ours"].append(measure("benchmarks.bench_features", "run_ours", **kwargs))
                warm_page_cache(exports)
                runs["base"].append(measure("benchmarks.bench_features", "run_pandas", **kwargs))
                if round_no == 0:  # the same code every round: compared once
                    import pandas as pd

                    compare_features(
                        pl.read_parquet(folder / "features_ours.parquet").sort("contact_id"),
                        pd.read_parquet(folder / "features_pandas.parquet"),
                    )
            warm_page_cache(exports)
            runs["scan"].append(measure("benchmarks.bench_features", "run_scan", **kwargs))
        ours, scan = median_run(runs["ours"]), median_run(runs["scan"])
        base = median_run(runs["base"]) if runs["base"] else None
        if base is None:
            skipped = {
                "baseline_skipped": (
                    "pandas baseline not run above 1M contacts: its frames need "
                    "~6.4 GB per million contacts (~64 GB at 10M, machine has 24 GiB)"
                ),
                "memory_limit": LARGE_MEMORY_LIMIT,
                "contacts_per_part": ours["extra"].get("contacts_per_part"),
            }
        else:
            skipped = {}

        def round_seconds(key: str) -> dict[str, Any]:
            times = [round(r["seconds"], 3) for r in runs[key]]  # noqa: B023 (this iteration)
            return {"round_seconds": times} if rounds > 1 else {}

        baseline = (
            {
                "baseline_seconds": round(base["seconds"], 3),
                "baseline_peak_rss_mb": _peak(base),
                "baseline_cpu_seconds": round(base["extra"]["cpu_seconds"], 2),
                "baseline_read_seconds": round(base["extra"]["read_seconds"], 3),
            }
            if base
            else skipped
        )
        entries.append(
            entry(
                "features: contact_features (DuckDB SQL)",
                ours,
                **baseline,
                steps=ours["extra"]["steps"],
                rows={**meta["rows"], "features": ours["extra"]["rows"]},
                # not part of the build: once per load, for context (see build_warehouse)
                warehouse_load_seconds=meta.get("load_seconds"),
                warehouse_layout=meta.get("layout"),
                **round_seconds("ours"),
            )
        )
        if base:
            entries.append(entry("features: pandas baseline", base, **round_seconds("base")))
        entries.append(
            entry(
                "features: DuckDB Parquet decode of the same columns (reference)",
                scan,
                **round_seconds("scan"),
            )
        )
    return entries


def _print(entries: list[dict[str, Any]]) -> None:
    print(
        f"{'stage':<66} {'contacts':>10} {'messages':>11} {'wall s':>8} {'CPU s':>7} "
        f"{'RSS MB':>7} {'pandas s':>9} {'ratio':>6}"
    )
    for e in entries:
        base = e.get("baseline_seconds")
        ratio = f"{base / e['seconds']:.1f}x" if base else ""
        print(
            f"{e['stage']:<66} {e['contacts']:>10,} {e['messages']:>11,} {e['seconds']:>8.2f} "
            f"{e.get('cpu_seconds', 0):>7.1f} {e['peak_rss_mb']:>7.0f} {base or '':>9} {ratio:>6}"
        )
        if e.get("steps"):
            print("    steps (s):", e["steps"])
        if e.get("warehouse_load_seconds") is not None:
            print(
                f"    (not timed above: loading the exports into the warehouse, "
                f"{e.get('warehouse_layout')}, took {e['warehouse_load_seconds']} s once)"
            )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from benchmarks.harness import parse_scale

    result = run(parse_scale(sys.argv[1] if len(sys.argv) > 1 else "100k"))
    _print(result)
