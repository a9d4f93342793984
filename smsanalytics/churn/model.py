"""``ChurnModel``: a calibrated gradient-boosting classifier on point-in-time contact features.

The model is a :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (native missing-value
handling, so "never clicked" or "single purchase" need no imputation) wrapped in
:class:`~sklearn.calibration.CalibratedClassifierCV` (isotonic by default, 3 folds), so
``predict_proba`` is a probability one can read off a reliability diagram
(:func:`smsanalytics.churn.evaluate.reliability_table`).

Inputs are the columns of the contact feature table (:mod:`smsanalytics.features`); a few
ratios that make churn easier to learn are added (:func:`churn_design_matrix`):

- ``mean_gap_days`` = ``bgnbd_recency_days / bgnbd_frequency`` (mean days between purchase days);
- ``recency_over_gap`` = ``recency_days / mean_gap_days`` (how overdue the next purchase is);
- ``purchase_days_per_year`` = ``365 · n_purchase_days / (bgnbd_t_days + 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier

__all__ = ["ChurnModel", "CHURN_FEATURES", "churn_design_matrix"]

#: Candidate input columns, used when present in the frame given to ``fit``.
CHURN_FEATURES: tuple[str, ...] = (
    # orders (RFM, BG/NBD inputs)
    "recency_days",
    "n_orders",
    "n_purchase_days",
    "monetary_total",
    "monetary_mean",
    "gap_before_last_purchase_days",
    "bgnbd_frequency",
    "bgnbd_recency_days",
    "bgnbd_t_days",
    # derived (churn_design_matrix)
    "mean_gap_days",
    "recency_over_gap",
    "purchase_days_per_year",
    # programme and engagement
    "tenure_days",
    "n_sent",
    "n_delivered",
    "delivery_rate",
    "n_clicks",
    "n_clicked_messages",
    "click_rate",
    "days_since_last_sent",
    "days_since_last_click",
    "n_inbound",
    "points",
    "is_consented",
)


def churn_design_matrix(
    features: pl.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    candidates: Sequence[str] = CHURN_FEATURES,
) -> tuple[np.ndarray, list[str]]:
    """Numeric matrix of the churn inputs present in ``features`` (plus the derived ratios).

    Parameters
    ----------
    features
        A contact feature table (or an order summary); needs at least ``recency_days``.
    columns
        Exact columns to use (as learned by ``fit``); default: every ``candidates`` column present.
    candidates
        Columns considered when ``columns`` is not given (default :data:`CHURN_FEATURES`).

    Returns
    -------
    (numpy.ndarray, list[str])
        Float matrix (nulls as NaN) and its column names.

    Raises
    ------
    ValueError
        When a requested column is missing.
    """
    derived = []
    cols = set(features.columns)
    if {"bgnbd_recency_days", "bgnbd_frequency"} <= cols:
        gap = pl.when(pl.col("bgnbd_frequency") > 0).then(
            pl.col("bgnbd_recency_days").cast(pl.Float64) / pl.col("bgnbd_frequency")
        )
        derived.append(gap.alias("mean_gap_days"))
        if "recency_days" in cols:
            derived.append(
                (pl.col("recency_days").cast(pl.Float64) / gap).alias("recency_over_gap")
            )
    if {"n_purchase_days", "bgnbd_t_days"} <= cols:
        derived.append(
            (
                365.0 * pl.col("n_purchase_days") / (pl.col("bgnbd_t_days").cast(pl.Float64) + 1)
            ).alias("purchase_days_per_year")
        )
    frame = features.with_columns(derived) if derived else features
    if columns is None:
        columns = [c for c in candidates if c in frame.columns]
        if not columns:
            raise ValueError(f"no feature column found; expected some of {list(candidates)}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"feature column(s) {missing} missing; the model was fitted with {list(columns)}"
        )
    X = frame.select(pl.col(c).cast(pl.Float64).fill_nan(None) for c in columns).to_numpy()
    # row-major: tree ensembles walk one row at a time (2x faster scoring at 1M rows than the
    # column-major array polars returns)
    return np.ascontiguousarray(X, dtype=float), list(columns)


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Calibrated churn classifier on the contact feature table.

    Parameters
    ----------
    features
        Columns to use; default every :data:`CHURN_FEATURES` column present at ``fit``.
    calibration
        ``"isotonic"`` or ``"sigmoid"`` (Platt), applied by ``CalibratedClassifierCV``.
    cv
        Folds of the calibration.
    ensemble
        ``True`` (default): one calibrated booster per fold, averaged (slightly better AUC: 0.768
        vs 0.765 on the generated evaluation, 0.714 vs 0.705 on Online Retail); ``False``: one
        booster on all rows calibrated on its out-of-fold predictions (``cv`` times cheaper to
        score).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Hyper-parameters of the gradient boosting.
    random_state
        Seed.

    Attributes
    ----------
    feature_names_in_ : list[str]
        Columns used.
    calibrated_ : CalibratedClassifierCV
        The fitted calibrated model.

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> rng = np.random.default_rng(0)
    >>> recency = rng.integers(0, 365, 2000)
    >>> frame = pl.DataFrame({"recency_days": recency, "n_orders": rng.integers(1, 9, 2000)})
    >>> churned = rng.random(2000) < recency / 365
    >>> model = ChurnModel(max_iter=50).fit(frame, churned)
    >>> model.predict_proba(frame).shape
    (2000, 2)
    """

    def __init__(
        self,
        *,
        features: Sequence[str] | None = None,
        calibration: Literal["isotonic", "sigmoid"] = "isotonic",
        cv: int = 3,
        ensemble: bool = True,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 50,
        l2_regularization: float = 1.0,
        random_state: int | None = 0,
    ) -> None:
        self.features = features
        self.calibration = calibration
        self.cv = cv
        self.ensemble = ensemble
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state

    def fit(self, X: pl.DataFrame, y) -> ChurnModel:
        """Fit on a feature frame and churn labels (True/1 = churned).

        Raises
        ------
        ValueError
            When lengths differ or ``y`` holds a single class.
        """
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(
                f"calibration must be 'isotonic' or 'sigmoid', got {self.calibration!r}"
            )
        y = np.asarray(y).astype(int).ravel()
        if y.size != X.height:
            raise ValueError(f"X has {X.height} rows but y has {y.size}")
        if np.unique(y).size < 2:
            raise ValueError(
                "churn labels hold a single class; widen the population or the horizon"
            )
        matrix, names = churn_design_matrix(X, self.features)
        # A column with no value at all (e.g. clicks on a programme without links) carries no
        # information, and scikit-learn's binning fails on it: leave it out of the model.
        observed = ~np.isnan(matrix).all(axis=0)
        if not observed.any():
            raise ValueError("every churn feature is empty; nothing to learn from")
        if not observed.all():
            names = [n for n, keep in zip(names, observed, strict=True) if keep]
            matrix = matrix[:, observed]
        booster = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )
        self.calibrated_ = CalibratedClassifierCV(
            booster, method=self.calibration, cv=self.cv, ensemble=self.ensemble
        ).fit(matrix, y)
        self.feature_names_in_ = names
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pl.DataFrame) -> np.ndarray:
        """``[[P(stay), P(churn)], ...]`` for each row of the feature frame."""
        matrix, _ = churn_design_matrix(X, self.feature_names_in_)
        return self.calibrated_.predict_proba(matrix)

    def predict(self, X: pl.DataFrame) -> np.ndarray:
        """1 where P(churn) ≥ 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def predict_churn(self, X: pl.DataFrame) -> pl.DataFrame:
        """``contact_id`` (when present) and ``churn_probability`` per row."""
        p = self.predict_proba(X)[:, 1]
        out = pl.DataFrame({"churn_probability": p})
        if "contact_id" in X.columns:
            out = out.insert_column(0, X["contact_id"])
        return out
