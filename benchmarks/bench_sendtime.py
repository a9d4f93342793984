"""Send-time model at scale: ``fit``, ``predict`` and ``predict_windows`` for N contacts.

For each size a seeded programme (:func:`smsanalytics.synth.generate_programme`, ~20 sends per
contact) is generated once and cached as Parquet under ``data/tmp/bench/``. Each stage then runs
in its own subprocess (:func:`benchmarks.harness.measure`: wall time and peak RSS of that process;
reading the Parquet files, imports and, for the prediction stages, the fit happen in the untimed
setup):

- ``sendtime fit``: :meth:`SendTimeModel.fit` on messages + clicks (responses labelled inside:
  bots out, 24 h window), contacts with their zones; no segments;
- ``sendtime predict``: best allowed local hour of week for every contact (08:00–20:00);
- ``sendtime windows``: best 60-minute window of every contact on one campaign date.

Above 1M contacts (``BENCH_SCALE=10m``) the programme comes from the chunked generator
(:func:`benchmarks.harness.prepare_programme`: Parquet part files of 1M contacts each, shared with
the other benchmarks) and the history does not fit in memory at once (~100 bytes per send at the
fit's peak, ~20 GB for 210M sends), so ``sendtime fit`` is
:meth:`SendTimeModel.fit_partitioned` over the part files: the population parameters (profiles,
campaign effects, prior strengths, hyperparameters) from the first 1M contacts, then every
contact's own parameters one part at a time. Reading each part's Parquet files is inside the
timed fit there (``read_seconds`` in the entry). The fitted model is saved (pickle) for the
``predict`` and ``windows`` stages, whose setup loads it instead of fitting again.

Run with ``make bench`` (``BENCH_SCALE``, ``BENCH_ONLY=sendtime``) or
``python -m benchmarks.bench_sendtime 100k``.
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
COLUMNS: dict[str, list[str]] = {
    "contacts": ["contact_id", "timezone"],
    "messages": [
        "message_id",
        "contact_id",
        "sent_at",
        "campaign_id",
        "variant",
        "send_time_policy",
    ],
    "clicks": ["message_id", "clicked_at", "is_bot"],
}
CAMPAIGN_DATE = "2026-11-10"


def prepare(n_contacts: int, *, cache: Path = CACHE, seed: int = SEED) -> Path:
    """Generate (once) the programme's contacts, messages and clicks as Parquet files."""
    folder = cache / f"sendtime-{n_contacts}-seed{seed}"
    if (folder / "meta.json").is_file():
        return folder
    from smsanalytics.synth import generate_programme

    folder.mkdir(parents=True, exist_ok=True)
    programme = generate_programme(n_contacts, seed=seed)
    rows = {}
    for name, cols in COLUMNS.items():
        frame = getattr(programme, name).select(cols)
        frame.write_parquet(folder / f"{name}.parquet")
        rows[name] = frame.height
    (folder / "meta.json").write_text(json.dumps({"rows": rows, "seed": seed}, indent=2))
    return folder


def generate(n_contacts: int) -> dict[str, Any]:
    """:func:`prepare` as a harness stage: the data are generated in a subprocess, because on
    Linux a child started by ``fork`` inherits its parent's peak RSS (``ru_maxrss``), which
    would inflate every later measurement of a parent that generated a large programme itself."""
    return {"folder": str(prepare(n_contacts))}


def _read(folder: str) -> dict[str, Any]:
    import polars as pl

    from benchmarks.harness import parquet_source

    return {
        name: pl.read_parquet(parquet_source(folder, name), columns=cols)
        for name, cols in COLUMNS.items()
    }


def _partitioned(folder: str) -> bool:
    """Whether ``folder`` is a chunked programme (``{table}.parquet/part-*.parquet``)."""
    return (Path(folder) / "messages.parquet").is_dir()


MODEL_FILE = "sendtime_model.pkl"


# -- stages (run in subprocesses by the harness) ---------------------------------------------------
def setup_fit(folder: str) -> dict[str, Any]:
    import polars as pl  # noqa: F401  (import before the clock)

    from smsanalytics.sendtime import SendTimeModel  # noqa: F401

    if _partitioned(folder):
        (Path(folder) / MODEL_FILE).unlink(missing_ok=True)
        return {}
    return _read(folder)


def fit(state: dict[str, Any], folder: str) -> dict[str, Any]:
    from smsanalytics.sendtime import SendTimeModel

    cpu = time.process_time()
    extra: dict[str, Any] = {}
    if _partitioned(folder):
        model, extra = _fit_partitioned(folder)
    else:
        model = SendTimeModel().fit(state["messages"], state["clicks"], contacts=state["contacts"])
    hyper = {k: v for k, v in model.hyperparameters_.items() if k != "sources"}
    return {
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "levels": model.level_counts(),
        "hyperparameters": hyper,
        **extra,
    }


def _fit_partitioned(folder: str) -> tuple[Any, dict[str, Any]]:
    """:meth:`SendTimeModel.fit_partitioned` over the part files of a chunked programme; the
    model is pickled into the folder for the later stages."""
    import pickle

    import polars as pl

    from smsanalytics.sendtime import SendTimeModel

    root = Path(folder)
    names = sorted(p.name for p in (root / "messages.parquet").glob("part-*.parquet"))
    read_seconds = 0.0

    def loader(name: str):
        def load():
            nonlocal read_seconds
            t0 = time.perf_counter()
            frames = {
                table: pl.read_parquet(root / f"{table}.parquet" / name, columns=cols)
                for table, cols in COLUMNS.items()
            }
            read_seconds += time.perf_counter() - t0
            return frames["messages"], frames["clicks"], frames["contacts"]

        return load

    model = SendTimeModel().fit_partitioned([loader(n) for n in names])
    t0 = time.perf_counter()
    with open(root / MODEL_FILE, "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    return model, {
        "partitions": model.partitions_,
        "population": model.population_,
        "read_seconds": round(read_seconds, 2),
        "save_seconds": round(time.perf_counter() - t0, 2),
    }


def setup_predict(folder: str) -> dict[str, Any]:
    from smsanalytics.sendtime import SendTimeModel

    if _partitioned(folder):  # fitted by the fit stage of this run
        import pickle

        import polars as pl

        from benchmarks.harness import parquet_source

        with open(Path(folder) / MODEL_FILE, "rb") as f:
            model = pickle.load(f)
        contacts = pl.read_parquet(parquet_source(folder, "contacts"), columns=COLUMNS["contacts"])
        return {"model": model, "contacts": contacts}
    data = _read(folder)
    model = SendTimeModel().fit(data["messages"], data["clicks"], contacts=data["contacts"])
    return {"model": model, "contacts": data["contacts"]}


def predict(state: dict[str, Any], folder: str) -> dict[str, Any]:
    cpu = time.process_time()
    best = state["model"].predict(state["contacts"])
    return {"rows": best.height, "cpu_seconds": round(time.process_time() - cpu, 2)}


def setup_windows(folder: str) -> dict[str, Any]:
    state = setup_predict(folder)
    state["model"].predict_windows(state["contacts"].head(10), CAMPAIGN_DATE)  # warm imports
    return state


def windows(state: dict[str, Any], folder: str) -> dict[str, Any]:
    cpu = time.process_time()
    result = state["model"].predict_windows(state["contacts"], CAMPAIGN_DATE)
    return {"rows": result.height, "cpu_seconds": round(time.process_time() - cpu, 2)}


# -- entry points --------------------------------------------------------------------------------
def run(sizes: list[int]) -> list[dict[str, Any]]:
    """One entry per stage and size (see the module docstring)."""
    from benchmarks.harness import IN_MEMORY_MAX, measure, prepare_programme

    entries: list[dict[str, Any]] = []
    for n in sizes:
        if n > IN_MEMORY_MAX:
            folder = prepare_programme(n)
        else:
            folder = Path(
                measure("benchmarks.bench_sendtime", "generate", n_contacts=n)["extra"]["folder"]
            )
        meta = json.loads((folder / "meta.json").read_text())
        for stage in ("fit", "predict", "windows"):
            result = measure("benchmarks.bench_sendtime", stage, folder=str(folder))
            label = f"sendtime {stage}"
            if stage == "fit" and _partitioned(str(folder)):
                label += " (partitioned: 1M-contact parts, Parquet reads included)"
            entries.append(
                {
                    "stage": label,
                    "contacts": n,
                    "messages": meta["rows"]["messages"],
                    "seconds": result["seconds"],
                    "peak_rss_mb": result["peak_rss_mb"],
                    "baseline_seconds": None,
                    "setup_rss_mb": result["setup_rss_mb"],
                    "cpu_seconds": (result.get("extra") or {}).get("cpu_seconds"),
                    "extra": result.get("extra"),
                }
            )
    return entries


def main(argv: list[str]) -> None:
    from benchmarks.harness import parse_scale

    sizes = parse_scale(argv[0] if argv else "100k")
    for e in run(sizes):
        cpu = (e.get("extra") or {}).get("cpu_seconds")
        print(
            f"{e['stage']:18s} {e['contacts']:>10,} contacts {e['messages']:>12,} messages "
            f"{e['seconds']:8.2f} s (cpu {cpu} s)  peak {e['peak_rss_mb']:7.0f} MB "
            f"(setup {e['setup_rss_mb']:.0f} MB)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
