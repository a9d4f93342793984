"""BG/NBD fit and churn scoring at scale (``make bench``, ``BENCH_ONLY=churn``).

Stages, each in its own subprocess (wall time and peak RSS; data built untimed in ``setup_*``):

- ``bgnbd fit``: :class:`smsanalytics.churn.BGNBD` on ``n`` contacts' daily summaries
  (frequency, recency and T in whole days, as the feature table gives them), simulated from
  known parameters; the baseline is the straightforward implementation — the same likelihood on
  every row (no collapsing of identical rows) optimised by Nelder–Mead without a gradient
  (lifetimes' approach before 0.10), run at up to 100k contacts only;
- ``bgnbd score``: P(alive), P(no order in 90 days) and expected purchases in 90 days for ``n``
  contacts;
- ``churn model fit``: :class:`smsanalytics.churn.ChurnModel` (gradient boosting, isotonic
  calibration, 3 folds) on ``min(n, 200k)`` labelled contacts;
- ``churn model score``: ``predict_proba`` of that model on ``n`` contacts.

Threads: ``BENCH_THREADS`` (default 1) caps OpenMP/BLAS threads. On a shared, oversubscribed
machine, spinning OpenMP workers make gradient boosting an order of magnitude slower than one
thread; set it to the number of idle cores on a dedicated machine.

Run alone: ``python -m benchmarks.bench_churn 100k,1m``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: Daily-unit parameters in the range of the generated programme's fit.
PARAMS = {"r": 0.85, "alpha": 85.0, "a": 1.8, "b": 15.0}
BASELINE_MAX = 100_000
FIT_MAX = 200_000


def _threads() -> int:
    return int(os.environ.get("BENCH_THREADS", "1"))


def _summaries(n: int, seed: int = 0):
    import numpy as np

    from smsanalytics.churn import simulate_bgnbd

    rng = np.random.default_rng(seed)
    T = rng.integers(1, 731, n).astype(float)
    d = simulate_bgnbd(n, **PARAMS, T=T, holdout=90.0, seed=seed)
    freq = d["frequency"].to_numpy()
    rec = np.minimum(np.round(d["recency"].to_numpy()), T)
    rec[freq == 0] = 0.0
    return d, freq, rec, T


# -- bgnbd fit ------------------------------------------------------------------------------------
def setup_bgnbd_fit(n: int) -> Any:
    _, freq, rec, T = _summaries(n)
    return freq, rec, T


def bgnbd_fit(state: Any, n: int) -> dict:
    from threadpoolctl import threadpool_limits

    from smsanalytics.churn import BGNBD

    freq, rec, T = state
    with threadpool_limits(_threads()):
        model = BGNBD().fit(freq, rec, T)
    return {k: round(v, 4) for k, v in model.params_.items()}


def setup_bgnbd_fit_baseline(n: int) -> Any:
    return setup_bgnbd_fit(n)


def bgnbd_fit_baseline(state: Any, n: int) -> dict:
    """Per-row likelihood, Nelder–Mead on log-parameters, no gradient, no collapsing."""
    import numpy as np
    from scipy import optimize
    from threadpoolctl import threadpool_limits

    from smsanalytics.churn import bgnbd_log_likelihood

    freq, rec, T = state
    scale = 10.0 / T.max()

    def nll(log_params):
        return (
            -float(np.sum(bgnbd_log_likelihood(np.exp(log_params), freq, rec * scale, T * scale)))
            / freq.size
        )

    with threadpool_limits(_threads()):
        res = optimize.minimize(
            nll,
            np.zeros(4),
            method="Nelder-Mead",
            options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10},
        )
    p = np.exp(res.x)
    p[1] /= scale
    return {
        "r": round(p[0], 4),
        "alpha": round(p[1], 4),
        "a": round(p[2], 4),
        "b": round(p[3], 4),
        "evaluations": int(res.nfev),
    }


# -- bgnbd score ----------------------------------------------------------------------------------
def setup_bgnbd_score(n: int) -> Any:
    from smsanalytics.churn import BGNBD

    freq, rec, T = setup_bgnbd_fit(n)
    model = BGNBD()
    model.params_ = dict(PARAMS)
    return model, freq, rec, T


def bgnbd_score(state: Any, n: int) -> dict:
    from threadpoolctl import threadpool_limits

    model, freq, rec, T = state
    with threadpool_limits(_threads()):
        p_alive = model.p_alive(freq, rec, T)
        quiet = model.p_no_purchase(90.0, freq, rec, T)
        expected = model.expected_purchases(90.0, freq, rec, T)
    return {
        "mean_p_alive": round(float(p_alive.mean()), 4),
        "mean_p_quiet": round(float(quiet.mean()), 4),
        "mean_expected": round(float(expected.mean()), 4),
    }


# -- churn model ----------------------------------------------------------------------------------
def _feature_frame(n: int, seed: int = 1):
    """Order features of simulated customers and the label "no purchase in the next 90 days"."""
    import numpy as np
    import polars as pl

    d, freq, rec, T = _summaries(n, seed)
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {
            "contact_id": np.arange(n),
            "recency_days": (T - rec).astype(np.int64),
            "n_purchase_days": freq + 1,
            "n_orders": freq + 1 + rng.poisson(0.1, n),
            "bgnbd_frequency": freq,
            "bgnbd_recency_days": rec,
            "bgnbd_t_days": T,
            "monetary_mean": rng.lognormal(3.5, 0.6, n),
            "tenure_days": T + rng.integers(0, 365, n),
            "n_sent": rng.poisson(20, n),
            "click_rate": rng.beta(1, 12, n),
        }
    )
    return frame, (d["purchases_holdout"].to_numpy() == 0)


def setup_churn_fit(n: int) -> Any:
    return _feature_frame(min(n, FIT_MAX))


def churn_fit(state: Any, n: int) -> dict:
    from threadpoolctl import threadpool_limits

    from smsanalytics.churn import ChurnModel

    frame, y = state
    with threadpool_limits(_threads()):
        ChurnModel().fit(frame, y)
    return {"rows": frame.height}


def setup_churn_score(n: int) -> Any:
    from threadpoolctl import threadpool_limits

    from smsanalytics.churn import ChurnModel

    train, y = _feature_frame(min(n, 100_000), seed=2)
    with threadpool_limits(_threads()):
        model = ChurnModel().fit(train, y)
    frame, _ = _feature_frame(n, seed=3)
    return model, frame


def churn_score(state: Any, n: int) -> dict:
    from threadpoolctl import threadpool_limits

    model, frame = state
    with threadpool_limits(_threads()):
        p = model.predict_proba(frame)[:, 1]
    return {"mean_churn_probability": round(float(p.mean()), 4)}


# -- harness entry --------------------------------------------------------------------------------
def run(sizes: list[int]) -> list[dict]:
    """Measure every stage at every size (see the module docstring)."""
    from benchmarks.harness import measure

    entries = []
    for n in sizes:
        fit = measure("benchmarks.bench_churn", "bgnbd_fit", n=n)
        baseline = (
            measure("benchmarks.bench_churn", "bgnbd_fit_baseline", n=n)
            if n <= BASELINE_MAX
            else None
        )
        entries.append(
            {
                "stage": "bgnbd fit",
                "contacts": n,
                "messages": 0,
                "seconds": fit["seconds"],
                "peak_rss_mb": fit["peak_rss_mb"],
                "baseline_seconds": baseline["seconds"] if baseline else None,
                "params": fit["extra"],
                "baseline_params": baseline["extra"] if baseline else None,
            }
        )
        score = measure("benchmarks.bench_churn", "bgnbd_score", n=n)
        entries.append(
            {
                "stage": "bgnbd score",
                "contacts": n,
                "messages": 0,
                "seconds": score["seconds"],
                "peak_rss_mb": score["peak_rss_mb"],
                "baseline_seconds": None,
            }
        )
        cfit = measure("benchmarks.bench_churn", "churn_fit", n=n)
        entries.append(
            {
                "stage": "churn model fit",
                "contacts": min(n, FIT_MAX),
                "messages": 0,
                "seconds": cfit["seconds"],
                "peak_rss_mb": cfit["peak_rss_mb"],
                "baseline_seconds": None,
            }
        )
        cscore = measure("benchmarks.bench_churn", "churn_score", n=n)
        entries.append(
            {
                "stage": "churn model score",
                "contacts": n,
                "messages": 0,
                "seconds": cscore["seconds"],
                "peak_rss_mb": cscore["peak_rss_mb"],
                "baseline_seconds": None,
            }
        )
    return entries


def main() -> None:  # pragma: no cover
    import json

    from benchmarks.harness import parse_scale

    sizes = parse_scale(sys.argv[1] if len(sys.argv) > 1 else "100k")
    for entry in run(sizes):
        print(json.dumps(entry))


if __name__ == "__main__":  # pragma: no cover
    main()
