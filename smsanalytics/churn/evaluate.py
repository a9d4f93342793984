"""Side-by-side evaluation of BG/NBD and the ChurnModel on a held-out time period.

Protocol (:func:`evaluate_churn`, periods from :func:`~smsanalytics.churn.labels.churn_periods`):

1. the ChurnModel is trained on features at ``cutoff − H`` with labels over
   ``[cutoff − H, cutoff)``;
2. BG/NBD is fitted on the calibration summaries (frequency, recency, T in days) of every buyer
   at ``cutoff`` (it needs no labels);
3. all are scored on the buyers at ``cutoff`` against the label "no order in
   ``[cutoff, cutoff + H)``", which no model has seen.

Scores compared: BG/NBD's ``1 − P(alive)`` (what the issue asks for), BG/NBD's own forecast of the
label ``P(no purchase in H)`` (:meth:`~smsanalytics.churn.bgnbd.BGNBD.p_no_purchase`), and the
ChurnModel's calibrated probability. Metrics: ROC AUC, Brier score, log loss, expected
calibration error (ECE, 10 equal-width bins) and calibration-in-the-large (mean predicted minus
observed churn rate). With generated data the latent truth (dead or alive at the cut-off) is
scored too.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from smsanalytics.churn.bgnbd import (
    BGNBD,
    BGNBDFitWarning,
    OneTimeBuyerDiagnostic,
    one_time_buyer_diagnostic,
)
from smsanalytics.churn.labels import ChurnPeriods, build_churn_dataset, churn_periods, data_end
from smsanalytics.churn.model import ChurnModel
from smsanalytics.warehouse import Warehouse


#: Smallest training set the calibrated ChurnModel is fitted on (cross-validated calibration).
MIN_TRAIN_BUYERS = 50
MIN_TRAIN_PER_CLASS = 10

__all__ = [
    "ChurnEvaluation",
    "churn_scores",
    "reliability_table",
    "expected_calibration_error",
    "evaluate_churn",
    "evaluate_online_retail",
    "online_retail_path",
    "default_cutoff",
]

SCORE_NAMES = {
    "bgnbd_1_minus_p_alive": "BG/NBD 1 − P(alive)",
    "bgnbd_p_no_purchase": "BG/NBD P(no order in H)",
    "churn_model": "ChurnModel (calibrated HGB)",
}


def reliability_table(
    y_true, prob, *, n_bins: int = 10, strategy: Literal["uniform", "quantile"] = "uniform"
) -> pl.DataFrame:
    """Observed frequency vs mean predicted probability per bin (the reliability diagram).

    Parameters
    ----------
    y_true
        Binary outcomes.
    prob
        Predicted probabilities in [0, 1].
    n_bins
        Number of bins.
    strategy
        ``"uniform"``: equal-width bins on [0, 1]; ``"quantile"``: equal-count bins.

    Returns
    -------
    polars.DataFrame
        ``bin``, ``lower``, ``upper``, ``n``, ``mean_predicted``, ``observed`` (non-empty bins).
    """
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(prob, dtype=float).ravel()
    if y.size != p.size or y.size == 0:
        raise ValueError(
            f"y_true and prob must be non-empty and of equal length; got {y.size}, {p.size}"
        )
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("prob must be finite probabilities in [0, 1]")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
        edges[0], edges[-1] = 0.0, 1.0
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
    rows = []
    for b in range(edges.size - 1):
        mask = idx == b
        if mask.any():
            rows.append(
                {
                    "bin": b,
                    "lower": float(edges[b]),
                    "upper": float(edges[b + 1]),
                    "n": int(mask.sum()),
                    "mean_predicted": float(p[mask].mean()),
                    "observed": float(y[mask].mean()),
                }
            )
    return pl.DataFrame(rows)


def expected_calibration_error(y_true, prob, *, n_bins: int = 10) -> float:
    """ECE: bin-size-weighted mean of ``|observed − mean predicted|`` over equal-width bins."""
    table = reliability_table(y_true, prob, n_bins=n_bins)
    w = table["n"].to_numpy() / table["n"].sum()
    return float(
        np.sum(w * np.abs(table["observed"].to_numpy() - table["mean_predicted"].to_numpy()))
    )


def churn_scores(y_true, prob) -> dict[str, float]:
    """AUC, Brier score, log loss, ECE and calibration-in-the-large of churn probabilities."""
    y = np.asarray(y_true, dtype=int).ravel()
    p = np.clip(np.asarray(prob, dtype=float).ravel(), 0.0, 1.0)
    both = np.unique(y).size == 2
    return {
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "calibration_in_the_large": float(p.mean() - y.mean()),
    }


@dataclass(frozen=True)
class ChurnEvaluation:
    """Result of :func:`evaluate_churn`.

    Attributes
    ----------
    dataset
        Name of the data.
    periods
        Cut-offs used.
    n_train, n_test
        Buyers in the training and test populations.
    churn_rate_train, churn_rate_test
        Observed churn rates.
    table
        One row per score: ``model``, ``label`` (``observed`` or ``truth``), ``auc``, ``brier``,
        ``log_loss``, ``ece``, ``calibration_in_the_large``.
    reliability
        Reliability tables of the test scores, stacked with a ``model`` column.
    bgnbd_params
        Fitted BG/NBD parameters (alpha per day) and log-likelihood.
    bgnbd_warnings
        Fit warnings (e.g. an optimum on the no-dropout boundary), kept rather than raised.
    one_time_buyers
        The one-time-buyer diagnostic on the test population.
    scores
        Test frame: ``contact_id``, ``bgnbd_frequency``, ``bgnbd_recency_days``, ``bgnbd_t_days``,
        ``is_churned``, ``p_alive``, the three scores (and ``is_dead_truth`` with truth).
    """

    dataset: str
    periods: ChurnPeriods
    n_train: int
    n_test: int
    churn_rate_train: float
    churn_rate_test: float
    table: pl.DataFrame
    reliability: pl.DataFrame
    bgnbd_params: dict[str, float]
    one_time_buyers: OneTimeBuyerDiagnostic
    scores: pl.DataFrame = field(repr=False)
    bgnbd_warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-ready summary (no per-contact rows)."""
        return {
            "dataset": self.dataset,
            "train_cutoff": self.periods.train_cutoff,
            "cutoff": self.periods.cutoff,
            "horizon_days": self.periods.horizon_days,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "churn_rate_train": self.churn_rate_train,
            "churn_rate_test": self.churn_rate_test,
            "table": self.table.to_dicts(),
            "bgnbd_params": self.bgnbd_params,
            "bgnbd_warnings": self.bgnbd_warnings,
            "one_time_buyers": self.one_time_buyers,
        }


def default_cutoff(warehouse: Warehouse, *, horizon_days: int = 90) -> dt.datetime:
    """The latest cut-off whose label window is fully observed: the data end minus H (midnight UTC).

    Raises
    ------
    ValueError
        When the warehouse has no orders or messages.
    """
    end = data_end(warehouse)
    if end is None:
        raise ValueError("the warehouse has no orders or messages; load data first")
    last = dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC)
    return last - dt.timedelta(days=horizon_days)


def evaluate_churn(
    warehouse: Warehouse,
    *,
    cutoff: str | dt.date | dt.datetime | None = None,
    horizon_days: int = 90,
    features: Literal["contacts", "orders"] = "contacts",
    require_no_click: bool = False,
    truth: pl.DataFrame | None = None,
    dataset: str = "warehouse",
    churn_model: ChurnModel | None = None,
) -> ChurnEvaluation:
    """Compare BG/NBD and the ChurnModel on the held-out period after ``cutoff``.

    Parameters
    ----------
    warehouse
        Warehouse with ``orders`` (and ``contacts`` and events for ``features="contacts"``).
    cutoff
        Start of the test window; default :func:`default_cutoff`.
    horizon_days
        Label window H (days); also the gap between the training and test cut-offs.
    features
        Feature source, see :func:`~smsanalytics.churn.labels.build_churn_dataset`.
    require_no_click
        Label definition variant (a click also counts as activity).
    truth
        Optional ``contact_id``, ``is_dead_truth`` (Boolean, latent truth at the cut-off) frame,
        e.g. from the generator; adds rows with ``label = "truth"``.
    dataset
        Name recorded in the result.
    churn_model
        Unfitted ChurnModel to use (default ``ChurnModel()``).

    Returns
    -------
    ChurnEvaluation
    """
    if cutoff is None:
        cutoff = default_cutoff(warehouse, horizon_days=horizon_days)
    periods = churn_periods(cutoff, horizon_days=horizon_days)
    train = build_churn_dataset(
        warehouse,
        cutoff=periods.train_cutoff,
        horizon_days=horizon_days,
        features=features,
        require_no_click=require_no_click,
    )
    test = build_churn_dataset(
        warehouse,
        cutoff=periods.cutoff,
        horizon_days=horizon_days,
        features=features,
        require_no_click=require_no_click,
    )
    if train.height == 0 or test.height == 0:
        raise ValueError(
            f"no buyers before the training cut-off {periods.train_cutoff:%Y-%m-%d} or the "
            "test cut-off "
            f"{periods.cutoff:%Y-%m-%d}; choose a later cutoff or a shorter horizon"
        )
    labels = train["is_churned"]
    churned, retained = int(labels.sum()), int(train.height - labels.sum())
    if train.height < MIN_TRAIN_BUYERS or min(churned, retained) < MIN_TRAIN_PER_CLASS:
        raise ValueError(
            f"too little history to train the ChurnModel: {train.height} buyers before the "
            f"training cut-off {periods.train_cutoff:%Y-%m-%d} ({churned} churned, {retained} "
            f"retained); it needs at least {MIN_TRAIN_BUYERS} with {MIN_TRAIN_PER_CLASS} of each. "
            f"Evaluation needs about 2 x H = {2 * horizon_days} days of orders after the first "
            "ones: choose a later cutoff, a shorter horizon, or a longer history"
        )
    freq = test["bgnbd_frequency"].to_numpy()
    rec = test["bgnbd_recency_days"].cast(pl.Float64).to_numpy()
    T = test["bgnbd_t_days"].cast(pl.Float64).to_numpy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BGNBDFitWarning)
        bgnbd = BGNBD(penalizer_coef=0.0).fit(freq, rec, T)
    bgnbd_warnings = [str(w.message) for w in caught if issubclass(w.category, BGNBDFitWarning)]
    p_alive = bgnbd.p_alive(freq, rec, T)
    model = (churn_model or ChurnModel()).fit(train, train["is_churned"].to_numpy())
    scores = test.select(
        "contact_id", "bgnbd_frequency", "bgnbd_recency_days", "bgnbd_t_days", "is_churned"
    ).with_columns(
        pl.Series("p_alive", p_alive),
        pl.Series("bgnbd_1_minus_p_alive", 1.0 - p_alive),
        pl.Series("bgnbd_p_no_purchase", bgnbd.p_no_purchase(horizon_days, freq, rec, T)),
        pl.Series("churn_model", model.predict_proba(test)[:, 1]),
    )
    y = scores["is_churned"].to_numpy().astype(int)
    rows, reliability = [], []
    for name in SCORE_NAMES:
        p = scores[name].to_numpy()
        rows.append(
            {"model": SCORE_NAMES[name], "score": name, "label": "observed", **churn_scores(y, p)}
        )
        reliability.append(
            reliability_table(y, p).with_columns(pl.lit(SCORE_NAMES[name]).alias("model"))
        )
    if truth is not None:
        scores = scores.join(
            truth.select("contact_id", "is_dead_truth"), on="contact_id", how="left"
        )
        known = scores.filter(pl.col("is_dead_truth").is_not_null())
        dead = known["is_dead_truth"].to_numpy().astype(int)
        for name in SCORE_NAMES:
            rows.append(
                {
                    "model": SCORE_NAMES[name],
                    "score": name,
                    "label": "truth",
                    **churn_scores(dead, known[name].to_numpy()),
                }
            )
    diag = one_time_buyer_diagnostic(bgnbd, freq, rec, T, long_ago=horizon_days * 2, is_churned=y)
    return ChurnEvaluation(
        dataset=dataset,
        periods=periods,
        n_train=train.height,
        n_test=test.height,
        churn_rate_train=float(train["is_churned"].mean()),
        churn_rate_test=float(y.mean()),
        table=pl.DataFrame(rows),
        reliability=pl.concat(reliability),
        bgnbd_params={**bgnbd.params_, "log_likelihood": bgnbd.log_likelihood_},
        bgnbd_warnings=bgnbd_warnings,
        one_time_buyers=diag,
        scores=scores,
    )


def online_retail_path() -> Path:
    """The vendored Online Retail Parquet (``data/external/online_retail/``)."""
    return (
        Path(__file__).resolve().parents[2]
        / "data"
        / "external"
        / "online_retail"
        / "online_retail.parquet"
    )


def evaluate_online_retail(
    path: str | Path | None = None,
    *,
    cutoff: str | dt.date | dt.datetime = dt.date(2011, 9, 10),
    horizon_days: int = 90,
) -> ChurnEvaluation:
    """:func:`evaluate_churn` on the real UCI Online Retail orders (features from orders alone).

    The orders are read with :func:`smsanalytics.features.load_online_retail` (cancellations
    netted, anonymous lines dropped) into an in-memory warehouse. The default cut-off
    2011-09-10 with H = 90 days puts the test window at the end of the data (2011-12-09) and
    the training window just before it.
    """
    from smsanalytics.features import load_online_retail

    orders, _ = load_online_retail(path or online_retail_path())
    with Warehouse(":memory:") as wh:
        wh.load("orders", orders, source="online_retail")
        return evaluate_churn(
            wh,
            cutoff=cutoff,
            horizon_days=horizon_days,
            features="orders",
            dataset="Online Retail (UCI)",
        )
