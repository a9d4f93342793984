"""Validation of the uplift estimators on real randomised data: the Hillstrom e-mail experiment.

Kevin Hillstrom's MineThatData challenge (2008): 64,000 recent customers randomly split into a
men's e-mail, a women's e-mail and a no-e-mail arm; outcomes over the next two weeks. We use the
**women's e-mail arm vs no e-mail** (42,693 customers) with outcome ``visit``, as scikit-uplift's
published example does, and the vendored copy in ``data/external/hillstrom/`` (see its README).

Protocol (:func:`evaluate_hillstrom`), fixed before any test part was scored:

- 10 seeded stratified 70/30 splits (``train_test_split(random_state=i, stratify=2·t + y)``,
  ``i = 0..9``);
- on each training part only, :class:`~smsanalytics.uplift.models.UpliftSearchCV` picks one of
  the 14 :func:`hillstrom_candidates` (estimator family, effect-model features and ridge penalty)
  by uplift@30% (strategy ``"overall"``) averaged over 2 × 5-fold stratified cross-validation,
  and refits it on the whole training part;
- the test part is scored once: uplift@30% (sklift ``strategy="overall"`` and ``"by_group"``),
  the normalised Qini coefficient, and the random-targeting baseline (uplift@30% of a random
  ranking = the test part's average treatment effect in expectation; Qini 0).

Run ``python -m smsanalytics.uplift.hillstrom`` to reproduce the table in
``docs/churn-and-recapture.md`` (about five minutes with one thread).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler

from smsanalytics.uplift.metrics import average_treatment_effect, qini_auc_score, uplift_at_k
from smsanalytics.uplift.models import (
    ClassTransformation,
    SoloModel,
    TwoModels,
    UpliftSearchCV,
    XLearner,
)

__all__ = [
    "HILLSTROM_SHA256",
    "HillstromData",
    "HillstromEvaluation",
    "hillstrom_path",
    "load_hillstrom",
    "hillstrom_uplift_data",
    "hillstrom_splits",
    "hillstrom_onehot_features",
    "hillstrom_candidates",
    "hillstrom_model",
    "evaluate_hillstrom",
]

#: SHA-256 of the published CSV (the vendored Parquet rebuilds it byte for byte).
HILLSTROM_SHA256 = "0e5893329d8b93cefecc571777672028290ab69865718020c78c7284f291aece"

_COLUMNS = {
    "recency": pl.Int8,
    "history_segment": pl.String,
    "history": pl.Float64,
    "mens": pl.Int8,
    "womens": pl.Int8,
    "zip_code": pl.String,
    "newbie": pl.Int8,
    "channel": pl.String,
    "segment": pl.String,
    "visit": pl.Int8,
    "conversion": pl.Int8,
    "spend": pl.Float64,
}
#: Feature columns produced by :func:`hillstrom_uplift_data`, in order.
FEATURES: tuple[str, ...] = (
    "recency",
    "log_history",
    "history",
    "mens",
    "womens",
    "newbie",
    "zip_urban",
    "zip_surburban",
    "zip_rural",
    "channel_phone",
    "channel_web",
    "channel_multichannel",
    "history_segment",
)


def hillstrom_path() -> Path:
    """Location of the vendored Parquet copy (``SMSANALYTICS_HILLSTROM`` overrides it)."""
    env = os.environ.get("SMSANALYTICS_HILLSTROM")
    if env:
        return Path(env)
    return (
        Path(__file__).resolve().parents[2]
        / "data"
        / "external"
        / "hillstrom"
        / "hillstrom.parquet"
    )


def load_hillstrom(path: str | Path | None = None) -> pl.DataFrame:
    """The 64,000 rows of the Hillstrom experiment with the published columns.

    Parameters
    ----------
    path
        The vendored ``hillstrom.parquet`` (default) or the original CSV.

    Raises
    ------
    FileNotFoundError
        When the file is missing, with where to get it.
    ValueError
        When a published column is missing.
    """
    path = Path(path) if path is not None else hillstrom_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"Hillstrom data not found at {str(path)!r}; it is vendored in "
            "data/external/hillstrom/ "
            "(see its README) or set SMSANALYTICS_HILLSTROM to a copy of the CSV or Parquet"
        )
    frame = (
        pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, schema=_COLUMNS)
    )
    missing = sorted(set(_COLUMNS) - set(frame.columns))
    if missing:
        raise ValueError(f"{path}: Hillstrom column(s) {missing} missing")
    return frame.select(pl.col(c).cast(t) for c, t in _COLUMNS.items())


@dataclass(frozen=True)
class HillstromData:
    """Features, outcome and treatment of one arm of the experiment against no e-mail."""

    X: np.ndarray
    y: np.ndarray
    treatment: np.ndarray
    feature_names: tuple[str, ...]


def hillstrom_uplift_data(
    frame: pl.DataFrame | None = None, *, arm: str = "Womens E-Mail", outcome: str = "visit"
) -> HillstromData:
    """The arm ``arm`` vs ``No E-Mail`` as ``(X, y, treatment)`` with numeric features.

    Features: recency (months), history and its log, the ``mens``/``womens``/``newbie`` flags,
    one-hot zip code and channel, and the ordinal history segment (1–7).
    """
    frame = load_hillstrom() if frame is None else frame
    if arm not in ("Womens E-Mail", "Mens E-Mail"):
        raise ValueError(f"arm must be 'Womens E-Mail' or 'Mens E-Mail', got {arm!r}")
    if outcome not in ("visit", "conversion"):
        raise ValueError(f"outcome must be 'visit' or 'conversion', got {outcome!r}")
    d = frame.filter(pl.col("segment").is_in([arm, "No E-Mail"]))
    X = d.select(
        pl.col("recency").cast(pl.Float64),
        pl.col("history").log1p().alias("log_history"),
        pl.col("history"),
        pl.col("mens").cast(pl.Float64),
        pl.col("womens").cast(pl.Float64),
        pl.col("newbie").cast(pl.Float64),
        (pl.col("zip_code") == "Urban").cast(pl.Float64).alias("zip_urban"),
        (pl.col("zip_code") == "Surburban").cast(pl.Float64).alias("zip_surburban"),
        (pl.col("zip_code") == "Rural").cast(pl.Float64).alias("zip_rural"),
        (pl.col("channel") == "Phone").cast(pl.Float64).alias("channel_phone"),
        (pl.col("channel") == "Web").cast(pl.Float64).alias("channel_web"),
        (pl.col("channel") == "Multichannel").cast(pl.Float64).alias("channel_multichannel"),
        pl.col("history_segment").str.slice(0, 1).cast(pl.Float64).alias("history_segment"),
    )
    return HillstromData(
        X=X.to_numpy(),
        y=d[outcome].cast(pl.Int64).to_numpy(),
        treatment=(d["segment"] == arm).cast(pl.Int64).to_numpy(),
        feature_names=tuple(X.columns),
    )


def hillstrom_splits(y, treatment, *, n_splits: int = 10, test_size: float = 0.3):
    """``n_splits`` seeded stratified splits (seed ``i`` for split ``i``; strata = 2·t + y).

    Yields
    ------
    (int, numpy.ndarray, numpy.ndarray)
        Split number, training indices, test indices.
    """
    y = np.asarray(y)
    t = np.asarray(treatment)
    index = np.arange(y.size)
    for i in range(n_splits):
        train, test = train_test_split(
            index, test_size=test_size, random_state=i, stratify=2 * t + y
        )
        yield i, np.sort(train), np.sort(test)


def _logistic(C: float = 1.0):
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000))


def _spline_logistic(C: float = 1.0):
    # splines on recency (col 0) and log history (col 1); the other columns pass through
    splines = ColumnTransformer(
        [("spline", SplineTransformer(n_knots=5, degree=3), [0, 1])], remainder="passthrough"
    )
    return make_pipeline(splines, StandardScaler(), LogisticRegression(C=C, max_iter=3000))


#: Columns produced by :func:`hillstrom_onehot_features`, in order.
ONEHOT_FEATURES: tuple[str, ...] = (
    "recency",
    "log_history",
    "mens",
    "womens",
    "mens_and_womens",
    "newbie",
    "zip_urban",
    "zip_rural",
    "channel_phone",
    "channel_multichannel",
    *(f"history_segment_{i}" for i in range(2, 8)),
)


def hillstrom_onehot_features(X) -> np.ndarray:
    """The :data:`FEATURES` matrix re-expressed for linear effect models (stateless).

    Keeps recency, log history, the flags, ``mens × womens``, zip code and channel dummies (urban
    and rural against suburban, phone and multichannel against web) and one-hot history segments
    2–7 (segment 1 is the reference); drops raw history and the ordinal segment, which a linear
    model cannot use well. Columns: :data:`ONEHOT_FEATURES`.
    """
    X = np.asarray(X, dtype=float)
    col = {name: X[:, i] for i, name in enumerate(FEATURES)}
    segment = np.rint(col["history_segment"])
    return np.column_stack(
        [
            col["recency"],
            col["log_history"],
            col["mens"],
            col["womens"],
            col["mens"] * col["womens"],
            col["newbie"],
            col["zip_urban"],
            col["zip_rural"],
            col["channel_phone"],
            col["channel_multichannel"],
            *((segment == i).astype(float) for i in range(2, 8)),
        ]
    )


def _ridge(alpha: float, onehot: bool = False):
    steps = [FunctionTransformer(hillstrom_onehot_features)] if onehot else []
    return make_pipeline(*steps, StandardScaler(), Ridge(alpha=alpha))


def _boosting(**params):
    base = {
        "max_iter": 100,
        "learning_rate": 0.05,
        "max_depth": 2,
        "min_samples_leaf": 200,
        "early_stopping": False,
        "random_state": 0,
    }
    base.update(params)
    return HistGradientBoostingClassifier(**base)


#: Ridge penalties of the X-learner effect models (features standardised; ~15,000 rows per arm).
RIDGE_ALPHAS: tuple[float, ...] = (3_000.0, 10_000.0, 30_000.0, 100_000.0)


def _x_learner(effect) -> XLearner:
    return XLearner(_boosting(), effect)


def hillstrom_candidates() -> dict[str, object]:
    """The uplift estimators :func:`hillstrom_model` chooses among (by CV on the training part).

    - single learners on :data:`FEATURES`: class transformation and two-model learners on
      depth-2 gradient boosting and on logistic regression, and an S-learner on spline logistic
      regression with treatment interactions;
    - X-learners (:class:`~smsanalytics.uplift.models.XLearner`) with depth-2 gradient-boosting
      outcome models and a ridge effect model, for each penalty in :data:`RIDGE_ALPHAS` and each
      effect-feature set (:data:`FEATURES`, or :func:`hillstrom_onehot_features`):
      ``x_learner_ridge_<alpha>`` and ``x_learner_ridge_<alpha>_onehot``;
    - ``x_learner_ridge_average``: an X-learner whose effect model averages those eight ridge
      models (a variance-reducing ensemble).
    """
    candidates: dict[str, object] = {
        "class_transformation_boosting": ClassTransformation(_boosting()),
        "two_models_boosting": TwoModels(_boosting()),
        "two_models_logistic": TwoModels(_logistic(0.1)),
        "class_transformation_logistic": ClassTransformation(_logistic(1.0)),
        "solo_model_spline_interactions": SoloModel(
            _spline_logistic(1.0), method="treatment_interaction"
        ),
    }
    heads = []
    for alpha in RIDGE_ALPHAS:
        for onehot in (False, True):
            name = f"ridge_{alpha:.0f}" + ("_onehot" if onehot else "")
            heads.append((name, _ridge(alpha, onehot)))
            candidates[f"x_learner_{name}"] = _x_learner(_ridge(alpha, onehot))
    candidates["x_learner_ridge_average"] = _x_learner(VotingRegressor(heads))
    return candidates


def hillstrom_model(
    *, k: float = 0.3, cv: int = 5, n_repeats: int = 2, random_state: int = 0
) -> UpliftSearchCV:
    """The tuned Hillstrom uplift model: :class:`UpliftSearchCV` over :func:`hillstrom_candidates`.

    Selection is by uplift@k (strategy ``"overall"``) averaged over ``n_repeats`` × ``cv``-fold
    stratified cross-validation on the data passed to ``fit`` only.
    """
    return UpliftSearchCV(
        hillstrom_candidates(),
        scoring="uplift_at_k",
        k=k,
        cv=cv,
        n_repeats=n_repeats,
        random_state=random_state,
    )


@dataclass(frozen=True)
class HillstromEvaluation:
    """Per-split and summary results of :func:`evaluate_hillstrom`.

    Attributes
    ----------
    splits
        One row per split: ``split``, ``model`` (chosen), ``cv_uplift_at_k`` (the chosen
        model's mean inner cross-validation score on the training part, NaN for a model without
        ``cv_scores_``), ``uplift_at_k`` (overall),
        ``uplift_at_k_by_group``, ``qini``, ``random_uplift_at_k`` (mean over 200 random
        rankings), ``ate`` (test part), ``n_train``, ``n_test``, ``seconds``.
    k
        Targeted share.
    """

    splits: pl.DataFrame
    k: float
    summary: dict[str, float] = field(default_factory=dict)


def evaluate_hillstrom(
    make_model: Callable[[], object] | None = None,
    *,
    data: HillstromData | None = None,
    n_splits: int = 10,
    test_size: float = 0.3,
    k: float = 0.3,
    n_random: int = 200,
    on_split: Callable[[dict], None] | None = None,
) -> HillstromEvaluation:
    """Fit on each training part, score each test part once (the protocol in the module docstring).

    Parameters
    ----------
    make_model
        Factory of a fresh uplift estimator (``fit(X, y, treatment)``, ``predict(X)``);
        default :func:`hillstrom_model`.
    data
        Default: women's e-mail vs no e-mail, outcome ``visit``.
    n_splits, test_size, k
        Protocol settings.
    n_random
        Random rankings per split for the random-targeting baseline.
    on_split
        Called with each split's row (progress).
    """
    data = hillstrom_uplift_data() if data is None else data
    make_model = make_model or hillstrom_model
    rows = []
    for i, train, test in hillstrom_splits(
        data.y, data.treatment, n_splits=n_splits, test_size=test_size
    ):
        t0 = time.perf_counter()
        model = make_model()
        model.fit(data.X[train], data.y[train], data.treatment[train])
        u = model.predict(data.X[test])
        y_te, t_te = data.y[test], data.treatment[test]
        rng = np.random.default_rng(1000 + i)
        random_scores = [
            uplift_at_k(y_te, rng.random(test.size), t_te, k=k) for _ in range(n_random)
        ]
        row = {
            "split": i,
            "model": getattr(model, "best_name_", type(model).__name__),
            "cv_uplift_at_k": (
                float(np.mean(model.cv_scores_[model.best_name_]))
                if hasattr(model, "cv_scores_")
                else float("nan")
            ),
            "uplift_at_k": uplift_at_k(y_te, u, t_te, strategy="overall", k=k),
            "uplift_at_k_by_group": uplift_at_k(y_te, u, t_te, strategy="by_group", k=k),
            "qini": qini_auc_score(y_te, u, t_te),
            "random_uplift_at_k": float(np.mean(random_scores)),
            "ate": average_treatment_effect(y_te, t_te),
            "n_train": int(train.size),
            "n_test": int(test.size),
            "seconds": time.perf_counter() - t0,
        }
        rows.append(row)
        if on_split:
            on_split(row)
    splits = pl.DataFrame(rows)
    summary = {}
    for col in ("uplift_at_k", "uplift_at_k_by_group", "qini", "random_uplift_at_k", "ate"):
        summary[f"{col}_mean"] = float(splits[col].mean())
        summary[f"{col}_sd"] = float(splits[col].std()) if splits.height > 1 else 0.0
    return HillstromEvaluation(splits=splits, k=k, summary=summary)


def main() -> None:  # pragma: no cover - reporting entry point
    """Print the 10-split evaluation table (``python -m smsanalytics.uplift.hillstrom``)."""
    import json
    import sys

    def show(row: dict) -> None:
        print(
            json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}),
            flush=True,
        )

    from threadpoolctl import threadpool_limits

    only = sys.argv[1] if len(sys.argv) > 1 else None
    # one thread per process: on a shared machine, spinning OpenMP/BLAS workers cost far more
    # than they bring to these small fits (the estimates do not depend on it)
    with threadpool_limits(limits=1):
        if only:
            candidates = hillstrom_candidates()
            ev = evaluate_hillstrom(lambda: candidates[only], on_split=show)
        else:
            ev = evaluate_hillstrom(on_split=show)
    print(json.dumps({k: round(v, 4) for k, v in ev.summary.items()}, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
