"""Recapture candidates: whom a win-back message will actually bring back, ranked by value.

The recapture message ("we miss you") should go to contacts it *changes*: not those who would
order anyway, not those who are gone for good. For every at-risk or lapsed, consented, reachable
contact at ``as_of`` this module estimates

- **uplift** :math:`\\tau(x)`: the increase in the probability of an order within
  ``window_days`` caused by the message, learned from past recapture campaigns that kept a random
  control group (:func:`recapture_training_data`, :class:`RecaptureUpliftModel`);
- **expected order value**: the contact's mean order value shrunk towards the population mean,
  :math:`(n\\,\\bar m_i + k\\,\\bar m) / (n + k)` with ``k = value_shrinkage`` orders;
- **message cost**: segments × price per segment of the contact's country
  (:class:`smsanalytics.settings.Settings`);

and ranks by **expected incremental value** = uplift × expected order value − message cost. Each
row carries the reason (lifecycle stage, BG/NBD P(alive), churn probability, uplift) and whether
the contact falls in the recommended random control group (:func:`recommend_holdout`), which is
what lets the next campaign's uplift be measured — and the next model be trained.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier

from smsanalytics.churn.bgnbd import BGNBD, BGNBDFitWarning
from smsanalytics.churn.model import ChurnModel, churn_design_matrix
from smsanalytics.settings import Settings
from smsanalytics.uplift.models import TwoModels, check_treatment
from smsanalytics.warehouse import Warehouse

__all__ = [
    "RECAPTURE_STAGES",
    "UPLIFT_FEATURES",
    "HoldoutRecommendation",
    "RecaptureResult",
    "RecaptureUpliftModel",
    "recapture_training_data",
    "recommend_holdout",
    "recapture_candidates",
    "evaluate_recapture_ranking",
]

#: Lifecycle stages a recapture message is for
#: (see :func:`smsanalytics.segments.assign_lifecycle_stages`).
RECAPTURE_STAGES: tuple[str, ...] = ("at_risk", "lapsed")

#: Feature columns of the uplift model (from the contact feature table, plus derived columns).
UPLIFT_FEATURES: tuple[str, ...] = (
    "recency_days",
    "n_orders",
    "n_purchase_days",
    "monetary_mean",
    "monetary_total",
    "bgnbd_frequency",
    "bgnbd_recency_days",
    "bgnbd_t_days",
    "mean_gap_days",
    "recency_over_gap",
    "purchase_days_per_year",
    "tenure_days",
    "has_loyalty_card",
    "points",
    "n_sent",
    "n_clicks",
    "click_rate",
    "days_since_last_click",
    "days_since_last_sent",
)


def _features(warehouse: Warehouse, as_of) -> pl.DataFrame:
    from smsanalytics.features import contact_features

    return contact_features(warehouse, as_of=as_of)


def _with_derived(frame: pl.DataFrame) -> pl.DataFrame:
    extra = []
    if "points" in frame.columns:
        extra.append(pl.col("points").is_not_null().cast(pl.Float64).alias("has_loyalty_card"))
    return frame.with_columns(extra) if extra else frame


def recapture_training_data(
    warehouse: Warehouse,
    *,
    before: str | dt.date | dt.datetime | None = None,
    window_days: int = 14,
    kind: str = "recapture",
) -> pl.DataFrame:
    """One row per assignment of past recapture campaigns with a random control group.

    Features are the contact feature table at the UTC midnight of the assignment day (events
    before it only); the outcome is an order in ``[assigned_at, assigned_at + window_days)``.
    Only campaigns whose outcome window ends before ``before`` are used, so the data is
    observable at ``before``.

    Parameters
    ----------
    warehouse
        Warehouse with ``campaigns``, ``assignments``, ``orders`` and the feature inputs.
    before
        Only assignments whose outcome window ended by then (default: no limit).
    window_days
        Outcome window.
    kind
        Campaign kind to learn from.

    Returns
    -------
    polars.DataFrame
        ``campaign_id``, ``assigned_at``, ``treatment`` (1 = messaged, 0 = random holdout),
        ``converted`` (0/1), ``order_value`` (sum of orders in the window) and the feature
        columns. Empty when there is no such campaign.
    """
    from smsanalytics.features import normalize_as_of

    limit = (
        normalize_as_of(before) if before is not None else dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
    )
    assigned = warehouse.query(
        "uplift_recapture_assignments", kind=kind, window_days=int(window_days), limit=limit
    )
    if assigned.height == 0:
        return assigned
    parts = []
    for day in assigned["assigned_day"].unique().sort():
        batch = assigned.filter(pl.col("assigned_day") == day)
        feats = _features(warehouse, day)
        parts.append(batch.join(feats, on="contact_id", how="inner"))
    out = pl.concat(parts, how="diagonal_relaxed")
    return (
        _with_derived(out)
        .with_columns(
            (~pl.col("is_holdout")).cast(pl.Int64).alias("treatment"),
            (pl.col("n_orders_window") > 0).cast(pl.Int64).alias("converted"),
        )
        .drop("assigned_day")
    )


def _default_uplift_estimator():
    booster = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.05,
        max_depth=3,
        min_samples_leaf=200,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
    )
    return TwoModels(booster)


class RecaptureUpliftModel(BaseEstimator):
    """An uplift meta-estimator on contact feature frames (for recapture targeting).

    Parameters
    ----------
    estimator
        Uplift estimator with ``fit(X, y, treatment)`` / ``predict(X)`` on numpy arrays; default a
        :class:`~smsanalytics.uplift.models.TwoModels` on gradient boosting.
    features
        Feature columns; default every :data:`UPLIFT_FEATURES` column present at ``fit``.

    Attributes
    ----------
    estimator_, feature_names_in_
    """

    def __init__(self, estimator=None, *, features: Sequence[str] | None = None) -> None:
        self.estimator = estimator
        self.features = features

    def _matrix(self, frame: pl.DataFrame, columns) -> tuple[np.ndarray, list[str]]:
        return churn_design_matrix(_with_derived(frame), columns, candidates=UPLIFT_FEATURES)

    def fit(self, frame: pl.DataFrame, y, treatment) -> RecaptureUpliftModel:
        """Fit on a feature frame, the outcome (0/1) and the treatment flag (1 = messaged)."""
        X, names = self._matrix(frame, self.features)
        y, t = check_treatment(X, y, treatment)
        self.estimator_ = clone(
            self.estimator if self.estimator is not None else _default_uplift_estimator()
        )
        self.estimator_.fit(X, y, t)
        self.feature_names_in_ = names
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Predicted uplift of the order probability for each row."""
        X, _ = self._matrix(frame, self.feature_names_in_)
        return np.asarray(self.estimator_.predict(X), dtype=float)


@dataclass(frozen=True)
class HoldoutRecommendation:
    """The recommended random control group of a recapture send.

    Attributes
    ----------
    share
        Share of the selected contacts to keep as control (never messaged).
    n_holdout, n_treated
        Group sizes (after the hash-based assignment in :func:`recapture_candidates`, which
        draws each contact with probability ``share``).
    expected_uplift, baseline_rate
        Mean predicted uplift and control order probability of the selected contacts.
    power
        Power of a one-sided two-proportion test (α = ``alpha``) to detect ``expected_uplift``
        (NaN when the share was imposed).
    is_powered
        Whether ``power`` reaches the target (else even the largest share falls short: measure
        over several sends).
    """

    share: float
    n_holdout: int
    n_treated: int
    expected_uplift: float
    baseline_rate: float
    power: float
    is_powered: bool


def recommend_holdout(
    n_selected: int,
    *,
    expected_uplift: float,
    baseline_rate: float,
    target_power: float = 0.8,
    alpha: float = 0.05,
    min_share: float = 0.05,
    max_share: float = 0.5,
) -> HoldoutRecommendation:
    """Smallest control share in ``[min_share, max_share]`` that detects the expected uplift.

    Power is that of the one-sided two-proportion z-test
    (:func:`smsanalytics.experiments.design.power_proportion`) of ``baseline_rate +
    expected_uplift`` against ``baseline_rate`` with ``share · n`` control and ``(1 − share) · n``
    treated contacts. The smallest share keeps the most contacts messaged.
    """
    from smsanalytics.experiments.design import power_proportion

    if n_selected < 2:
        raise ValueError("need at least 2 selected contacts to split into treated and control")
    if not 0 < min_share <= max_share < 1:
        raise ValueError(f"need 0 < min_share <= max_share < 1, got {min_share}, {max_share}")
    base = float(np.clip(baseline_rate, 1e-6, 1 - 1e-6))
    lift = float(np.clip(base + expected_uplift, 1e-6, 1 - 1e-6))

    def power(share: float) -> float:
        n_c = max(1.0, share * n_selected)
        n_t = max(1.0, n_selected - n_c)
        if lift <= base:
            return 0.0
        return float(power_proportion(base, lift, n_c, n_t, alpha=alpha, alternative="larger"))

    share = None
    for s in np.arange(min_share, max_share + 1e-9, 0.01):
        if power(float(s)) >= target_power:
            share = float(round(s, 2))
            break
    powered = share is not None
    if share is None:
        share = float(max_share)
    n_holdout = int(math.floor(share * n_selected))
    return HoldoutRecommendation(
        share=share,
        n_holdout=n_holdout,
        n_treated=n_selected - n_holdout,
        expected_uplift=float(expected_uplift),
        baseline_rate=base,
        power=power(share),
        is_powered=powered,
    )


@dataclass(frozen=True)
class RecaptureResult:
    """Output of :func:`recapture_candidates`.

    Attributes
    ----------
    candidates
        One row per contact, best first: ``contact_id``, ``rank``, ``lifecycle_stage``,
        ``country``, ``p_alive``, ``churn_probability``, ``uplift``, ``expected_order_value``,
        ``message_cost``, ``expected_incremental_value``, ``is_holdout``, ``reason``.
    summary
        Counts, total expected incremental value (of the treated part), the holdout.
    holdout
        The :class:`HoldoutRecommendation`.
    """

    candidates: pl.DataFrame
    summary: dict
    holdout: HoldoutRecommendation | None = None
    models: dict = field(default_factory=dict, repr=False)


def _segments_of(message: str | None, segments: int | None) -> int:
    if segments is not None:
        if segments < 1:
            raise ValueError(f"segments must be >= 1, got {segments}")
        return int(segments)
    if message is None:
        return 1
    from smsanalytics.messages.encoding import inspect

    return int(inspect(message).segments_count)


def recapture_candidates(
    warehouse: Warehouse,
    *,
    as_of: str | dt.date | dt.datetime,
    top: int | None = None,
    uplift_model: RecaptureUpliftModel | None = None,
    churn_model: ChurnModel | None = None,
    stages: Sequence[str] = RECAPTURE_STAGES,
    horizon_days: int = 90,
    window_days: int = 14,
    active_days: int = 90,
    lapse_days: int = 180,
    settings: Settings | None = None,
    message: str | None = None,
    segments: int | None = None,
    value_shrinkage: float = 1.0,
    min_expected_value: float | None = 0.0,
    holdout_share: float | None = None,
    salt: str | None = None,
) -> RecaptureResult:
    """Rank recapture candidates by expected incremental value, with reasons and a holdout.

    Parameters
    ----------
    warehouse
        Warehouse with the canonical tables.
    as_of
        Decision instant (features use events before it).
    top
        Keep the best ``top`` contacts (after the value filter); default all.
    uplift_model
        A fitted :class:`RecaptureUpliftModel`; default: fitted here on the past recapture
        campaigns whose outcome window ended before ``as_of``.
    churn_model
        A fitted :class:`~smsanalytics.churn.model.ChurnModel`; default: trained here on
        features at ``as_of − horizon_days`` and labels up to ``as_of``.
    stages
        Lifecycle stages to consider.
    horizon_days
        Churn horizon H.
    window_days
        Outcome window of the uplift (an order within it counts).
    active_days, lapse_days
        Lifecycle windows (:func:`smsanalytics.segments.assign_lifecycle_stages`).
    settings
        Prices per segment (default :func:`smsanalytics.settings.load_settings`).
    message, segments
        The message text (its segments are counted) or the segment count directly (default 1).
    value_shrinkage
        Pseudo-orders ``k`` shrinking each contact's mean order value towards the mean.
    min_expected_value
        Drop contacts whose expected incremental value is below this (``None`` keeps all).
    holdout_share
        Control share; default :func:`recommend_holdout`.
    salt
        Salt of the hash-based holdout assignment (default ``recapture-<as_of date>``).

    Returns
    -------
    RecaptureResult

    Raises
    ------
    ValueError
        When there is no past recapture campaign with a random control group to learn the uplift
        from (pass ``uplift_model``), or an argument is invalid.
    """
    from smsanalytics.features import normalize_as_of
    from smsanalytics.segments import assign_lifecycle_stages

    at = normalize_as_of(as_of)
    if settings is None:
        from smsanalytics.settings import load_settings

        settings = load_settings()
    n_segments = _segments_of(message, segments)
    feats = assign_lifecycle_stages(
        _features(warehouse, at), active_days=active_days, lapse_days=lapse_days
    )
    bad = sorted(
        set(stages) - {"opted_out", "welcome", "reactivated", "active", "at_risk", "lapsed"}
    )
    if bad:
        raise ValueError(f"unknown lifecycle stage(s) {bad}")
    models: dict = {}

    # -- uplift model -------------------------------------------------------------------------
    if uplift_model is None:
        train = recapture_training_data(warehouse, before=at, window_days=window_days)
        if train.height == 0 or train["treatment"].n_unique() < 2:
            raise ValueError(
                "no past recapture campaign with a random control group ended its "
                f"{window_days}-day window before {at:%Y-%m-%d}; run one with a holdout first "
                "(campaigns.kind = 'recapture', assignments.is_holdout) or pass uplift_model"
            )
        uplift_model = RecaptureUpliftModel().fit(train, train["converted"], train["treatment"])
        models["uplift_training_rows"] = train.height
    models["uplift"] = uplift_model

    # -- BG/NBD on every buyer ----------------------------------------------------------------
    buyers = feats.filter(pl.col("bgnbd_frequency").is_not_null())
    p_alive = pl.DataFrame(schema={"contact_id": pl.Int64, "p_alive": pl.Float64})
    if buyers.height >= 10:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BGNBDFitWarning)
            bg = BGNBD().fit(
                buyers["bgnbd_frequency"], buyers["bgnbd_recency_days"], buyers["bgnbd_t_days"]
            )
        p_alive = pl.DataFrame(
            {
                "contact_id": buyers["contact_id"],
                "p_alive": bg.p_alive(
                    buyers["bgnbd_frequency"], buyers["bgnbd_recency_days"], buyers["bgnbd_t_days"]
                ),
            }
        )
        models["bgnbd"] = bg

    # -- churn model --------------------------------------------------------------------------
    if churn_model is None:
        from smsanalytics.churn.labels import build_churn_dataset

        past = build_churn_dataset(
            warehouse,
            cutoff=at - dt.timedelta(days=horizon_days),
            horizon_days=horizon_days,
            check_observed=False,
        )
        if past.height >= 50 and past["is_churned"].n_unique() == 2:
            churn_model = ChurnModel().fit(past, past["is_churned"])
    models["churn"] = churn_model

    # -- population and value -----------------------------------------------------------------
    pool = feats.filter(
        pl.col("lifecycle_stage").is_in(list(stages))
        & pl.col("is_consented").fill_null(False)
        & ~pl.col("is_opted_out").fill_null(False)
        & ((pl.col("n_sent").fill_null(0) == 0) | (pl.col("n_delivered").fill_null(0) > 0))
    )
    n_pool = pool.height
    mean_value = float(feats["monetary_mean"].drop_nulls().mean() or 0.0)
    if pool.height == 0:
        empty = pl.DataFrame(
            schema={
                "contact_id": pl.Int64,
                "rank": pl.Int64,
                "lifecycle_stage": pl.String,
                "country": pl.String,
                "p_alive": pl.Float64,
                "churn_probability": pl.Float64,
                "uplift": pl.Float64,
                "expected_order_value": pl.Float64,
                "message_cost": pl.Float64,
                "expected_incremental_value": pl.Float64,
                "is_holdout": pl.Boolean,
                "reason": pl.String,
            }
        )
        summary = {
            "as_of": at,
            "eligible": 0,
            "selected": 0,
            "treated": 0,
            "holdout": 0,
            "expected_incremental_value": 0.0,
            "currency": settings.currency,
        }
        return RecaptureResult(candidates=empty, summary=summary, models=models)
    uplift = uplift_model.predict(pool)
    churn_p = np.full(pool.height, np.nan)
    if churn_model is not None:
        is_buyer = pool["bgnbd_frequency"].is_not_null().to_numpy()
        if is_buyer.any():
            churn_p[is_buyer] = churn_model.predict_proba(
                pool.filter(pl.col("bgnbd_frequency").is_not_null())
            )[:, 1]
    k = float(value_shrinkage)
    n = pool["n_orders"].fill_null(0).cast(pl.Float64)
    own = pool["monetary_mean"].fill_null(mean_value)
    order_value = ((n * own + k * mean_value) / (n + k)).fill_nan(mean_value) if k > 0 else own
    cost = np.array([settings.price_for(c) * n_segments for c in pool["country"].to_list()])
    frame = (
        pool.select("contact_id", "lifecycle_stage", "country")
        .with_columns(
            pl.Series("uplift", uplift),
            pl.Series("churn_probability", churn_p).fill_nan(None),
            pl.Series("expected_order_value", order_value.to_numpy()),
            pl.Series("message_cost", cost),
        )
        .join(p_alive, on="contact_id", how="left")
        .with_columns(
            (pl.col("uplift") * pl.col("expected_order_value") - pl.col("message_cost")).alias(
                "expected_incremental_value"
            )
        )
    )
    if min_expected_value is not None:
        frame = frame.filter(pl.col("expected_incremental_value") >= min_expected_value)
    frame = frame.sort(["expected_incremental_value", "contact_id"], descending=[True, False])
    if top is not None:
        if top < 1:
            raise ValueError(f"top must be >= 1, got {top}")
        frame = frame.head(top)
    frame = frame.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64))

    # -- holdout --------------------------------------------------------------------------------
    holdout = None
    if frame.height >= 2:
        baseline = (
            float(np.nanmean(1 - frame["churn_probability"].fill_null(np.nan).to_numpy()))
            if churn_model
            else 0.05
        )
        baseline = baseline if math.isfinite(baseline) else 0.05
        # the churn probability is over H days; the uplift window is window_days: scale the
        # order probability to the window assuming a constant hazard
        base_window = 1 - (1 - min(max(baseline, 1e-6), 1 - 1e-6)) ** (window_days / horizon_days)
        holdout = recommend_holdout(
            frame.height, expected_uplift=float(frame["uplift"].mean()), baseline_rate=base_window
        )
        share = holdout.share if holdout_share is None else float(holdout_share)
        if not 0 <= share < 1:
            raise ValueError(f"holdout_share must be in [0, 1), got {share}")
        from smsanalytics.experiments.design import hash_unit

        unit = hash_unit(frame["contact_id"].to_numpy(), salt or f"recapture-{at:%Y-%m-%d}")
        frame = frame.with_columns(pl.Series("is_holdout", unit < share))
        n_h = int(frame["is_holdout"].sum())
        holdout = HoldoutRecommendation(
            share=share,
            n_holdout=n_h,
            n_treated=frame.height - n_h,
            expected_uplift=holdout.expected_uplift,
            baseline_rate=holdout.baseline_rate,
            power=holdout.power if holdout_share is None else float("nan"),
            is_powered=holdout.is_powered if holdout_share is None else False,
        )
    else:
        frame = frame.with_columns(pl.lit(False).alias("is_holdout"))
    frame = frame.with_columns(_reason().alias("reason")).select(
        "contact_id",
        "rank",
        "lifecycle_stage",
        "country",
        "p_alive",
        "churn_probability",
        "uplift",
        "expected_order_value",
        "message_cost",
        "expected_incremental_value",
        "is_holdout",
        "reason",
    )
    treated = frame.filter(~pl.col("is_holdout"))
    summary = {
        "as_of": at,
        "eligible": n_pool,
        "selected": frame.height,
        "treated": treated.height,
        "holdout": frame.height - treated.height,
        "holdout_share": holdout.share if holdout else 0.0,
        "holdout_power": holdout.power if holdout else None,
        "expected_incremental_value": float(treated["expected_incremental_value"].sum()),
        "expected_incremental_orders": float(treated["uplift"].sum()),
        "message_cost": float(treated["message_cost"].sum()),
        "segments_per_message": n_segments,
        "currency": settings.currency,
        "by_stage": dict(
            frame.group_by("lifecycle_stage").len().sort("lifecycle_stage").iter_rows()
        ),
    }
    return RecaptureResult(candidates=frame, summary=summary, holdout=holdout, models=models)


def _reason() -> pl.Expr:
    def pct(col: str) -> pl.Expr:
        return (
            pl.when(pl.col(col).is_null())
            .then(pl.lit("n/a"))
            .otherwise((pl.col(col) * 100).round(0).cast(pl.Int64).cast(pl.String) + pl.lit("%"))
        )

    return pl.concat_str(
        pl.col("lifecycle_stage"),
        pl.lit("; P(alive) "),
        pct("p_alive"),
        pl.lit("; churn "),
        pct("churn_probability"),
        pl.lit("; uplift "),
        pl.when(pl.col("uplift") >= 0).then(pl.lit("+")).otherwise(pl.lit("")),
        (pl.col("uplift") * 100).round(1).cast(pl.String),
        pl.lit(" pts × "),
        pl.col("expected_order_value").round(2).cast(pl.String),
        pl.lit(" − cost "),
        pl.col("message_cost").round(3).cast(pl.String),
    )


def evaluate_recapture_ranking(
    warehouse: Warehouse,
    truth_recapture: pl.DataFrame,
    *,
    test_from: str | dt.date | dt.datetime,
    window_days: int = 14,
    estimator=None,
    k: float = 0.3,
) -> dict:
    """Ranking quality of the recapture uplift model against the generator's true uplift.

    The model is trained on recapture campaigns whose window ended before ``test_from`` and
    scores the assignments of the campaigns from ``test_from`` on (both arms).

    Parameters
    ----------
    warehouse
        Warehouse loaded from a generated programme.
    truth_recapture
        :attr:`smsanalytics.synth.Programme.truth_recapture` (``campaign_id``, ``contact_id``,
        ``uplift_14d`` the true uplift of the 14-day order probability).
    test_from
        First assignment instant of the test campaigns.
    window_days
        Outcome window (the generator uses 14 days).
    estimator
        Uplift estimator for :class:`RecaptureUpliftModel` (default its default).
    k
        Targeted share.

    Returns
    -------
    dict
        ``n_train``, ``n_test``, ``spearman`` (predicted vs true uplift), ``true_uplift_top_k``
        (mean true uplift of the top ``k`` by prediction), ``true_uplift_all``,
        ``true_uplift_oracle_top_k`` (top ``k`` by the truth itself), ``observed_uplift_at_k``
        and ``qini`` (from the random holdout), ``ate``.
    """
    from scipy import stats

    from smsanalytics.features import normalize_as_of
    from smsanalytics.uplift.metrics import average_treatment_effect, qini_auc_score, uplift_at_k

    start = normalize_as_of(test_from)
    data = recapture_training_data(warehouse, window_days=window_days)
    train = data.filter(pl.col("assigned_at") + pl.duration(days=window_days) <= start)
    test = data.filter(pl.col("assigned_at") >= start)
    if train.height == 0 or test.height == 0:
        raise ValueError(f"need recapture assignments both before and after {start:%Y-%m-%d}")
    model = RecaptureUpliftModel(estimator).fit(train, train["converted"], train["treatment"])
    test = test.with_columns(pl.Series("predicted", model.predict(test))).join(
        truth_recapture.select("campaign_id", "contact_id", "uplift_14d"),
        on=["campaign_id", "contact_id"],
        how="inner",
    )
    pred, true = test["predicted"].to_numpy(), test["uplift_14d"].to_numpy()
    n_top = int(len(pred) * k)
    top = np.argsort(-pred, kind="mergesort")[:n_top]
    oracle = np.argsort(-true, kind="mergesort")[:n_top]
    y, t = test["converted"].to_numpy(), test["treatment"].to_numpy()
    return {
        "n_train": train.height,
        "n_test": test.height,
        "spearman": float(stats.spearmanr(pred, true).statistic),
        "true_uplift_top_k": float(true[top].mean()),
        "true_uplift_all": float(true.mean()),
        "true_uplift_oracle_top_k": float(true[oracle].mean()),
        "observed_uplift_at_k": uplift_at_k(y, pred, t, k=k),
        "qini": qini_auc_score(y, pred, t),
        "ate": average_treatment_effect(y, t),
        "k": k,
    }
