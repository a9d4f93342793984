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

Run with ``make bench`` (``BENCH_SCALE``, ``BENCH_ONLY=sendtime``) or
``python -m benchmarks.bench_sendtime 100k``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "data" / "tmp" / "bench"
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

    return {name: pl.read_parquet(Path(folder) / f"{name}.parquet") for name in COLUMNS}


# -- stages (run in subprocesses by the harness) ---------------------------------------------------
def setup_fit(folder: str) -> dict[str, Any]:
    from smsanalytics.sendtime import SendTimeModel  # noqa: F401  (import before the clock)

    return _read(folder)


def fit(state: dict[str, Any], folder: str) -> dict[str, Any]:
    from smsanalytics.sendtime import SendTimeModel

    cpu = time.process_time()
    model = SendTimeModel().fit(state["messages"], state["clicks"], contacts=state["contacts"])
    hyper = {k: v for k, v in model.hyperparameters_.items() if k != "sources"}
    return {
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "levels": model.level_counts(),
        "hyperparameters": hyper,
    }


def setup_predict(folder: str) -> dict[str, Any]:
    from smsanalytics.sendtime import SendTimeModel

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
    from benchmarks.harness import measure

    entries: list[dict[str, Any]] = []
    for n in sizes:
        folder = Path(
            measure("benchmarks.bench_sendtime", "generate", n_contacts=n)["extra"]["folder"]
        )
        meta = json.loads((folder / "meta.json").read_text())
        for stage in ("fit", "predict", "windows"):
            result = measure("benchmarks.bench_sendtime", stage, folder=str(folder))
            entries.append(
                {
                    "stage": f"sendtime {stage}",
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
