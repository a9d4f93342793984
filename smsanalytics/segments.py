"""Segments of the contact base: RFM scores and segments, lifecycle stages, clusters, audiences.

Everything here takes the per-contact feature table of
:func:`smsanalytics.features.contact_features`
(a polars frame, one row per contact) and adds columns; :class:`Audience` selects contact ids
from such a frame with declarative filters compiled to SQL.

>>> import polars as pl
>>> f = pl.DataFrame({"contact_id": [1, 2, 3, 4, 5, 6],
...                   "n_orders": [0, 1, 2, 3, 4, 9],
...                   "recency_days": [None, 300, 200, 100, 50, 3],
...                   "monetary_total": [0.0, 20.0, 50.0, 90.0, 200.0, 900.0]})
>>> compute_rfm(f).select("contact_id", "rfm_cell", "rfm_segment").rows()[::5]
[(1, '000', 'No purchase yet'), (6, '555', 'Champions')]
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from smsanalytics.schemas import PHONE_COLUMNS

if TYPE_CHECKING:
    from smsanalytics.warehouse import Warehouse

__all__ = [
    "Audience",
    "AudienceError",
    "AudienceOverlap",
    "ClusterModel",
    "LIFECYCLE_STAGES",
    "NO_PURCHASE_SEGMENT",
    "RFM_SEGMENTS",
    "RFM_SEGMENT_MAP",
    "assign_lifecycle_stages",
    "cluster_contacts",
    "compute_rfm",
    "segment_contacts",
    "segment_counts",
    "segment_migration",
]

# -- RFM ----------------------------------------------------------------------------------------
#: The named RFM segments, best first.
RFM_SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
    "Lost",
)
#: Segment of contacts without any order before ``as_of`` (they have no RFM scores).
NO_PURCHASE_SEGMENT = "No purchase yet"

_GRID = {
    # R score: FM score 1 .. 5  (FM = (F + M + 1) // 2, the rounded-up mean of F and M)
    5: ("New", "Potential loyalists", "Potential loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Champions"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    1: ("Lost", "Lost", "At risk", "At risk", "Can't lose them"),
}
#: ``(r_score, fm_score) -> segment`` for every cell of the 5 × 5 grid, where ``fm_score`` is
#: ``(f_score + m_score + 1) // 2``. Printed as a table in ``docs/segments.md``.
RFM_SEGMENT_MAP: dict[tuple[int, int], str] = {
    (r, fm): _GRID[r][fm - 1] for r in range(5, 0, -1) for fm in range(1, 6)
}


def _quantile_score(values: pl.Expr, n_bins: int, *, descending: bool) -> pl.Expr:
    """``1 + floor(n_bins * (rank_min - 1) / n)``: equal values always get the same score."""
    rank = values.rank("min", descending=descending).cast(pl.Int64)
    n = values.count().cast(pl.Int64)
    return (1 + ((rank - 1) * n_bins) // n).cast(pl.Int8)


def compute_rfm(features: pl.DataFrame, *, n_bins: int = 5) -> pl.DataFrame:
    """Add RFM quintile scores and the named RFM segment to a feature table.

    Scores are computed among buyers (``n_orders >= 1``) only. For a value with ``rank_min``
    (1 + the number of buyers with a strictly worse value) among ``n`` buyers, the score is
    ``1 + floor(5 (rank_min - 1) / n)``: quintiles in which tied values always share a score, so
    the result depends only on the values, never on row order. Recency is better when lower,
    frequency (``n_orders``) and monetary (``monetary_total``) when higher; 5 is best.

    The segment comes from :data:`RFM_SEGMENT_MAP` on ``(r_score, fm_score)`` with
    ``fm_score = (f_score + m_score + 1) // 2``. Contacts without an order get scores 0 and the
    segment :data:`NO_PURCHASE_SEGMENT`.

    Parameters
    ----------
    features
        Needs ``n_orders`` (integer), ``recency_days`` (integer, null without orders) and
        ``monetary_total`` (float).
    n_bins
        Number of score levels; the named segments need 5.

    Returns
    -------
    polars.DataFrame
        ``features`` with ``r_score``, ``f_score``, ``m_score``, ``fm_score`` (Int8, 0 without
        orders), ``rfm_cell`` (e.g. ``"545"``) and ``rfm_segment`` (String).

    Raises
    ------
    ValueError
        When a required column is missing, or ``n_bins != 5`` with named segments requested.
    """
    _require(features, ("n_orders", "recency_days", "monetary_total"), "compute_rfm")
    if n_bins != 5:
        raise ValueError("the named RFM segments are defined on quintiles: use n_bins=5")
    buyer = pl.col("n_orders").fill_null(0) >= 1
    outputs = ("r_score", "f_score", "m_score", "fm_score", "rfm_cell", "rfm_segment")
    rows = features.drop(outputs, strict=False).with_row_index("_row")
    scores = rows.filter(buyer).select(
        "_row",
        _quantile_score(pl.col("recency_days"), n_bins, descending=True).alias("r_score"),
        _quantile_score(pl.col("n_orders"), n_bins, descending=False).alias("f_score"),
        _quantile_score(pl.col("monetary_total"), n_bins, descending=False).alias("m_score"),
    )
    out = rows.join(scores, on="_row", how="left", maintain_order="left").drop("_row")
    fm = ((pl.col("f_score") + pl.col("m_score") + 1) // 2).cast(pl.Int8)
    keys = pl.DataFrame(
        {
            "r_score": [k[0] for k in RFM_SEGMENT_MAP],
            "fm_score": [k[1] for k in RFM_SEGMENT_MAP],
            "rfm_segment": list(RFM_SEGMENT_MAP.values()),
        },
        schema={"r_score": pl.Int8, "fm_score": pl.Int8, "rfm_segment": pl.String},
    )
    out = out.with_columns(fm.alias("fm_score"))
    out = out.join(keys, on=["r_score", "fm_score"], how="left", maintain_order="left")
    return out.with_columns(
        pl.col("r_score", "f_score", "m_score", "fm_score").fill_null(0),
        pl.col("rfm_segment").fill_null(NO_PURCHASE_SEGMENT),
        pl.when(buyer)
        .then(pl.concat_str(pl.col("r_score"), pl.col("f_score"), pl.col("m_score")))
        .otherwise(pl.lit("000"))
        .alias("rfm_cell"),
    )


# -- lifecycle ----------------------------------------------------------------------------------
#: Lifecycle stages, in the order they are tested (the first that applies wins).
LIFECYCLE_STAGES: tuple[str, ...] = (
    "opted_out",
    "welcome",
    "reactivated",
    "active",
    "at_risk",
    "lapsed",
)


def assign_lifecycle_stages(
    features: pl.DataFrame,
    *,
    active_days: int = 90,
    lapse_days: int = 180,
    birthday_days: int = 7,
    abandon_days: int = 7,
) -> pl.DataFrame:
    """Add the lifecycle stage and the event flags that drive the programme's message types.

    Stages (the first rule that applies wins; every contact gets exactly one):

    ``opted_out``
        ``is_opted_out`` at ``as_of`` (no marketing message may go to them).
    ``welcome``
        No order yet, signed up less than ``lapse_days`` ago (or signup unknown): the welcome
        series.
    ``reactivated``
        Last order within ``active_days`` and more than ``lapse_days`` between the last two
        purchase days: came back after lapsing (thank-you / win-back follow-up).
    ``active``
        Last order within ``active_days``.
    ``at_risk``
        Last order ``active_days`` to ``lapse_days`` ago (reminder / recapture).
    ``lapsed``
        Last order more than ``lapse_days`` ago, or no order ever and signed up at least
        ``lapse_days`` ago (recapture or sunset).

    Flags (independent of the stage): ``is_birthday_soon`` (next birthday within
    ``birthday_days`` days, today included), ``is_abandoned_activity`` (a human click within
    ``abandon_days`` days and no order since that click), ``has_points_to_redeem``
    (``points > 0``; false when the programme has no points).

    Parameters
    ----------
    features
        Needs ``is_opted_out`` (bool), ``n_orders``, ``recency_days``,
        ``gap_before_last_purchase_days``, ``tenure_days`` (integers, may be null); for the flags
        ``days_to_birthday``, ``days_since_last_click``, ``last_click_at``, ``last_order_at`` and
        optionally ``points``.
    active_days, lapse_days
        Recency windows in days, ``0 < active_days < lapse_days``.
    birthday_days, abandon_days
        Windows of the flags in days (≥ 0).

    Returns
    -------
    polars.DataFrame
        ``features`` with ``lifecycle_stage`` (String, one of :data:`LIFECYCLE_STAGES`),
        ``is_birthday_soon``, ``is_abandoned_activity``, ``has_points_to_redeem`` (Boolean, never
        null).

    Raises
    ------
    ValueError
        When a required column is missing or the windows are inconsistent.
    """
    _require(
        features,
        (
            "is_opted_out",
            "n_orders",
            "recency_days",
            "gap_before_last_purchase_days",
            "tenure_days",
        ),
        "assign_lifecycle_stages",
    )
    if not 0 < active_days < lapse_days:
        raise ValueError(
            f"need 0 < active_days < lapse_days, got active_days={active_days}, "
            f"lapse_days={lapse_days}"
        )
    if birthday_days < 0 or abandon_days < 0:
        raise ValueError("birthday_days and abandon_days must be >= 0")
    buyer = pl.col("n_orders").fill_null(0) >= 1
    recency = pl.col("recency_days")
    stage = (
        pl.when(pl.col("is_opted_out").fill_null(False))
        .then(pl.lit("opted_out"))
        .when(~buyer & (pl.col("tenure_days").is_null() | (pl.col("tenure_days") < lapse_days)))
        .then(pl.lit("welcome"))
        .when(~buyer)
        .then(pl.lit("lapsed"))
        .when((recency <= active_days) & (pl.col("gap_before_last_purchase_days") > lapse_days))
        .then(pl.lit("reactivated"))
        .when(recency <= active_days)
        .then(pl.lit("active"))
        .when(recency <= lapse_days)
        .then(pl.lit("at_risk"))
        .otherwise(pl.lit("lapsed"))
    )
    flags = []
    if "days_to_birthday" in features.columns:
        flags.append(
            (pl.col("days_to_birthday") <= birthday_days).fill_null(False).alias("is_birthday_soon")
        )
    else:
        flags.append(pl.lit(False).alias("is_birthday_soon"))
    if {"days_since_last_click", "last_click_at", "last_order_at"} <= set(features.columns):
        flags.append(
            (
                (pl.col("days_since_last_click") <= abandon_days)
                & (
                    pl.col("last_order_at").is_null()
                    | (pl.col("last_order_at") < pl.col("last_click_at"))
                )
            )
            .fill_null(False)
            .alias("is_abandoned_activity")
        )
    else:
        flags.append(pl.lit(False).alias("is_abandoned_activity"))
    if "points" in features.columns:
        flags.append((pl.col("points") > 0).fill_null(False).alias("has_points_to_redeem"))
    else:
        flags.append(pl.lit(False).alias("has_points_to_redeem"))
    return features.with_columns(stage.alias("lifecycle_stage"), *flags)


def segment_contacts(
    warehouse: Warehouse,
    *,
    as_of: str | dt.date | dt.datetime,
    active_days: int = 90,
    lapse_days: int = 180,
    birthday_days: int = 7,
    abandon_days: int = 7,
) -> pl.DataFrame:
    """Feature table at ``as_of`` with RFM scores and segment, lifecycle stage and event flags.

    Shorthand for ``assign_lifecycle_stages(compute_rfm(contact_features(warehouse,
    as_of=as_of)), ...)``.
    """
    from smsanalytics.features import contact_features

    features = contact_features(warehouse, as_of=as_of)
    return assign_lifecycle_stages(
        compute_rfm(features),
        active_days=active_days,
        lapse_days=lapse_days,
        birthday_days=birthday_days,
        abandon_days=abandon_days,
    )


def segment_counts(
    segmented: pl.DataFrame,
    by: Literal["rfm_segment", "lifecycle_stage", "cluster_name"] | str = "rfm_segment",
) -> pl.DataFrame:
    """Contacts per segment (or stage), with shares, in the canonical order, zeros included.

    Returns
    -------
    polars.DataFrame
        ``{by}`` (String), ``contacts`` (Int64), ``share`` (Float64, of all rows).
    """
    _require(segmented, (by,), "segment_counts")
    order: Sequence[str]
    if by == "rfm_segment":
        order = (*RFM_SEGMENTS, NO_PURCHASE_SEGMENT)
    elif by == "lifecycle_stage":
        order = LIFECYCLE_STAGES
    else:
        # any column (flags are Boolean, clusters integers): counted by its text value
        order = sorted(segmented[by].drop_nulls().cast(pl.String).unique().to_list())
    counts = segmented.group_by(by).agg(pl.len().cast(pl.Int64).alias("contacts"))
    total = max(segmented.height, 1)
    frame = pl.DataFrame({by: list(order)}, schema={by: pl.String}).join(
        counts.with_columns(pl.col(by).cast(pl.String)),
        on=by,
        how="full",
        coalesce=True,
        maintain_order="left",
    )
    return frame.with_columns(
        pl.col("contacts").fill_null(0), (pl.col("contacts").fill_null(0) / total).alias("share")
    )


def segment_migration(
    before: pl.DataFrame, after: pl.DataFrame, *, by: str = "rfm_segment"
) -> pl.DataFrame:
    """Contacts moving between segments from one date to another.

    Contacts present only in ``after`` come from ``"(new)"``; contacts only in ``before`` go to
    ``"(gone)"``.

    Returns
    -------
    polars.DataFrame
        ``from_segment``, ``to_segment`` (String), ``contacts`` (Int64), sorted by descending
        ``contacts``.
    """
    _require(before, ("contact_id", by), "segment_migration")
    _require(after, ("contact_id", by), "segment_migration")
    joined = before.select("contact_id", pl.col(by).alias("from_segment")).join(
        after.select("contact_id", pl.col(by).alias("to_segment")),
        on="contact_id",
        how="full",
        coalesce=True,
    )
    return (
        joined.with_columns(
            pl.col("from_segment").fill_null("(new)"), pl.col("to_segment").fill_null("(gone)")
        )
        .group_by("from_segment", "to_segment")
        .agg(pl.len().cast(pl.Int64).alias("contacts"))
        .sort(["contacts", "from_segment", "to_segment"], descending=[True, False, False])
    )


# -- clusters -----------------------------------------------------------------------------------
#: Features the behavioural clusters use by default, and the words naming a high / low mean.
CLUSTER_FEATURES: dict[str, tuple[str, str]] = {
    "recency_days": ("dormant", "recent buyers"),
    "n_orders": ("frequent buyers", "rare buyers"),
    "monetary_total": ("big spenders", "small spenders"),
    "click_rate": ("clickers", "non-clickers"),
    "n_sent": ("heavily messaged", "lightly messaged"),
    "tenure_days": ("long-standing", "newcomers"),
}
_LOG_FEATURES = frozenset({"n_orders", "monetary_total", "n_sent"})


class ClusterModel:
    """K-means clusters of contacts on scaled behavioural features, with readable profiles.

    Features are prepared as follows: missing recency (no order) becomes one day more than the
    largest observed recency, missing click rate (no message) becomes 0, missing tenure the
    median; counts and money are ``log1p``-transformed; all are standardised
    (:class:`sklearn.preprocessing.StandardScaler`).

    The number of clusters ``k`` is chosen by the **largest mean silhouette coefficient** over
    ``k_range`` (ties: the smaller k). k-means (3 seeded initialisations) is fitted on a seeded
    sample of at most ``sample_size`` contacts, the silhouette is computed on at most
    ``silhouette_size`` of them, and every contact is then assigned to its nearest centre.
    Clusters are numbered by decreasing size.

    Parameters
    ----------
    n_clusters
        Fixed k; ``None`` chooses it by silhouette.
    k_range
        Inclusive range of k to try.
    features
        Columns to cluster on (default :data:`CLUSTER_FEATURES`).
    sample_size
        Contacts (a seeded random sample) on which k-means is fitted for each k.
    silhouette_size
        Contacts of that sample on which each k's mean silhouette is computed.
    random_state
        Seed of the sample and of k-means.

    Attributes
    ----------
    n_clusters_ : int
    silhouette_scores_ : dict[int, float]
        Mean silhouette per k tried (empty when ``n_clusters`` was given).
    profiles_ : polars.DataFrame
        ``cluster``, ``cluster_name``, ``contacts``, ``share`` and the mean of each raw
        feature per cluster, plus ``z_{feature}`` (the mean of the standardised feature).
    """

    def __init__(
        self,
        n_clusters: int | None = None,
        *,
        k_range: tuple[int, int] = (2, 8),
        features: Sequence[str] | None = None,
        sample_size: int = 20_000,
        silhouette_size: int = 3_000,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.features = features
        self.sample_size = sample_size
        self.silhouette_size = silhouette_size
        self.random_state = random_state

    # preparation ------------------------------------------------------------------------
    def _columns(self) -> list[str]:
        return list(self.features) if self.features is not None else list(CLUSTER_FEATURES)

    def _matrix(self, frame: pl.DataFrame) -> np.ndarray:
        cols = self._columns()
        exprs = []
        for c in cols:
            e = pl.col(c).cast(pl.Float64)
            e = e.fill_null(self.fill_values_[c])
            if c in _LOG_FEATURES:
                e = e.clip(lower_bound=0).log1p()
            exprs.append(e.alias(c))
        return frame.select(exprs).to_numpy()

    def fit(self, features: pl.DataFrame) -> ClusterModel:
        """Choose k (unless given), fit k-means and build the profiles. Returns ``self``."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score
        from sklearn.preprocessing import StandardScaler
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

        # k-means on a sample of ≤ sample_size rows is fastest on one thread; OpenMP threads
        # spinning on a shared machine slow it down up to 100×.
        with threadpool_limits(limits=1):
            return self._fit(features, KMeans, silhouette_score, StandardScaler)

    def _fit(
        self, features: pl.DataFrame, KMeans: Any, silhouette_score: Any, StandardScaler: Any
    ) -> ClusterModel:  # noqa: N803

        cols = self._columns()
        _require(features, cols, "ClusterModel.fit")
        lo, hi = self.k_range
        if self.n_clusters is None and not 2 <= lo <= hi:
            raise ValueError(f"k_range must satisfy 2 <= low <= high, got {self.k_range}")
        if features.height < 3:
            raise ValueError(f"need at least 3 contacts to cluster, got {features.height}")
        fills: dict[str, float] = {}
        for c in cols:
            s = features[c].cast(pl.Float64).drop_nulls()
            if c == "recency_days":
                fills[c] = float(s.max()) + 1.0 if s.len() else 365.0
            elif c == "click_rate":
                fills[c] = 0.0
            else:
                fills[c] = float(s.median()) if s.len() else 0.0
        self.fill_values_ = fills
        rng = np.random.default_rng(self.random_state)
        n = features.height
        sample_idx = np.sort(rng.choice(n, size=min(n, self.sample_size), replace=False))
        raw = self._matrix(features[sample_idx])
        self.scaler_ = StandardScaler().fit(raw)
        x = self.scaler_.transform(raw)
        n_distinct = len(np.unique(x, axis=0))
        self.silhouette_scores_: dict[int, float] = {}
        if self.n_clusters is not None:
            k = self.n_clusters
        else:
            ks = [k for k in range(lo, hi + 1) if k < n_distinct]
            if not ks:
                raise ValueError(
                    f"only {n_distinct} distinct contacts: cannot choose k in {self.k_range}"
                )
            for k in ks:
                labels = KMeans(k, n_init=3, random_state=self.random_state).fit_predict(x)
                self.silhouette_scores_[k] = float(
                    silhouette_score(
                        x,
                        labels,
                        sample_size=min(len(x), self.silhouette_size),
                        random_state=self.random_state,
                    )
                )
            k = max(ks, key=lambda k: (round(self.silhouette_scores_[k], 6), -k))
        km = KMeans(k, n_init=3, random_state=self.random_state).fit(x)
        # number clusters by decreasing size on the sample (ties: by centre coordinates)
        sizes = np.bincount(km.labels_, minlength=k)
        order = sorted(range(k), key=lambda j: (-sizes[j], tuple(km.cluster_centers_[j])))
        self.cluster_centers_ = km.cluster_centers_[order]
        self.n_clusters_ = k
        labels = self.predict(features)
        self.profiles_ = self._profiles(features, labels)
        return self

    def predict(self, features: pl.DataFrame) -> pl.Series:
        """Cluster number (0 = largest cluster) of each contact, as a ``cluster`` Int32 Series."""
        x = self.scaler_.transform(self._matrix(features))
        labels = np.empty(len(x), dtype=np.int32)
        step = 200_000
        centers = self.cluster_centers_
        for i in range(0, len(x), step):
            chunk = x[i : i + step]
            d = ((chunk[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
            labels[i : i + step] = d.argmin(axis=1)
        return pl.Series("cluster", labels, dtype=pl.Int32)

    def _profiles(self, features: pl.DataFrame, labels: pl.Series) -> pl.DataFrame:
        cols = self._columns()
        z = pl.DataFrame(
            self.scaler_.transform(self._matrix(features)), schema=[f"z_{c}" for c in cols]
        )
        frame = pl.concat(
            [features.select(pl.col(cols).cast(pl.Float64)), z, labels.to_frame()], how="horizontal"
        )
        prof = (
            frame.group_by("cluster")
            .agg(
                pl.len().cast(pl.Int64).alias("contacts"),
                *[pl.col(c).mean() for c in cols],
                *[pl.col(f"z_{c}").mean() for c in cols],
            )
            .sort("cluster")
        )
        prof = prof.with_columns((pl.col("contacts") / features.height).alias("share"))
        names = _cluster_names(prof, cols)
        return prof.with_columns(pl.Series("cluster_name", names)).select(
            "cluster", "cluster_name", "contacts", "share", *cols, *[f"z_{c}" for c in cols]
        )

    @property
    def names_(self) -> dict[int, str]:
        """Cluster number → generated name."""
        return dict(self.profiles_.select("cluster", "cluster_name").iter_rows())


def _cluster_names(profiles: pl.DataFrame, cols: Sequence[str]) -> list[str]:
    names: list[str] = []
    for row in profiles.iter_rows(named=True):
        zs = sorted(((abs(row[f"z_{c}"]), c, row[f"z_{c}"]) for c in cols), reverse=True)
        words = []
        for size, c, value in zs[:2]:
            if size < 0.4 or math.isnan(size):
                continue
            high, low = CLUSTER_FEATURES.get(c, (f"high {c}", f"low {c}"))
            words.append(high if value > 0 else low)
        name = " · ".join(words) if words else "typical"
        name = name[0].upper() + name[1:]
        base, i = name, 2
        while name in names:
            name, i = f"{base} ({i})", i + 1
        names.append(name)
    return names


def cluster_contacts(features: pl.DataFrame, **params: Any) -> tuple[pl.DataFrame, ClusterModel]:
    """Fit a :class:`ClusterModel` (``params`` are its keyword arguments) and label every contact.

    Returns
    -------
    (polars.DataFrame, ClusterModel)
        ``features`` with ``cluster`` (Int32) and ``cluster_name`` (String), and the fitted model
        (its ``profiles_`` describe each cluster).
    """
    model = ClusterModel(**params).fit(features)
    labels = model.predict(features)
    names = pl.DataFrame(
        {"cluster": list(model.names_), "cluster_name": list(model.names_.values())},
        schema={"cluster": pl.Int32, "cluster_name": pl.String},
    )
    out = features.with_columns(labels).join(names, on="cluster", how="left", maintain_order="left")
    return out, model


# -- audiences ----------------------------------------------------------------------------------
class AudienceError(ValueError):
    """An audience filter that cannot be compiled or evaluated; the message names the fix."""


_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null")
Op = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null"]


@dataclass(frozen=True)
class _Pred:
    column: str
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class _Bool:
    kind: Literal["and", "or", "not", "all"]
    parts: tuple[Any, ...] = ()


@dataclass(frozen=True)
class AudienceOverlap:
    """Sizes of two audiences, their intersection and union (on the same base)."""

    size_a: int
    size_b: int
    both: int
    only_a: int
    only_b: int
    union: int
    jaccard: float


@dataclass(frozen=True)
class Audience:
    """A declarative, composable selection of contacts, compiled to SQL over a segmented base.

    Build leaves with the class methods, combine them with ``&`` (and), ``|`` (or) and ``~``
    (not), then evaluate on a base: a polars frame from :func:`segment_contacts` (or any frame
    with ``contact_id`` and the filtered columns), or a table in a warehouse. Values are bound as
    SQL parameters, column names are checked against the base, and a missing value never
    matches a filter (``~a`` is exactly the contacts not in ``a``).

    Evaluation returns **contact ids only**; filtering on a phone-number column is refused.

    Examples
    --------
    >>> import polars as pl
    >>> base = pl.DataFrame({"contact_id": [1, 2, 3], "rfm_segment": ["Champions", "Lost", "Lost"],
    ...                      "country": ["FR", "FR", "BE"], "is_consented": [True, True, False]})
    >>> a = Audience.segment("Lost") & Audience.consented()
    >>> a.contact_ids(base).to_list()
    [2]
    >>> (Audience.country("FR") | ~Audience.consented()).size(base)
    3
    """

    node: Any = _Bool("all")

    # leaves -----------------------------------------------------------------------------
    @classmethod
    def everyone(cls) -> Audience:
        """Every contact of the base."""
        return cls(_Bool("all"))

    @classmethod
    def where(cls, column: str, op: Op, value: Any = None) -> Audience:
        """A filter ``column op value`` (``in``/``not in`` take a list; ``is null`` no value)."""
        if not isinstance(column, str) or not _IDENT.match(column):
            raise AudienceError(f"column {column!r} is not a snake_case column name")
        if any(column in cols for cols in PHONE_COLUMNS.values()):
            raise AudienceError(f"audiences never filter on phone numbers ({column!r})")
        if op not in _OPS:
            raise AudienceError(f"unknown operator {op!r}; use one of {list(_OPS)}")
        if op in ("in", "not in"):
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise AudienceError(f"operator {op!r} needs a list of values for {column!r}")
            values = tuple(value)
            if not values:
                raise AudienceError(f"operator {op!r} needs at least one value for {column!r}")
        elif op in ("is null", "is not null"):
            values = ()
        else:
            if value is None:
                raise AudienceError(
                    f"compare {column!r} with a value, or use op='is null' to select missing values"
                )
            values = (value,)
        return cls(_Pred(column, op, values))

    @classmethod
    def segment(cls, *names: str) -> Audience:
        """Contacts in any of the named RFM segments."""
        unknown = sorted(set(names) - {*RFM_SEGMENTS, NO_PURCHASE_SEGMENT})
        if unknown:
            raise AudienceError(
                f"unknown RFM segment(s) {unknown}; "
                f"segments: {[*RFM_SEGMENTS, NO_PURCHASE_SEGMENT]}"
            )
        return cls.where("rfm_segment", "in", names)

    @classmethod
    def stage(cls, *stages: str) -> Audience:
        """Contacts in any of the lifecycle stages."""
        unknown = sorted(set(stages) - set(LIFECYCLE_STAGES))
        if unknown:
            raise AudienceError(
                f"unknown lifecycle stage(s) {unknown}; stages: {list(LIFECYCLE_STAGES)}"
            )
        return cls.where("lifecycle_stage", "in", stages)

    @classmethod
    def cluster(cls, *names: str) -> Audience:
        """Contacts in any of the named behavioural clusters (``cluster_name``)."""
        return cls.where("cluster_name", "in", names)

    @classmethod
    def country(cls, *codes: str) -> Audience:
        """Contacts whose ISO country is one of ``codes``."""
        return cls.where("country", "in", [c.upper() for c in codes])

    @classmethod
    def consented(cls, value: bool = True) -> Audience:
        """Contacts with (``value=True``) or without marketing consent at ``as_of``."""
        return cls.where("is_consented", "=", bool(value))

    @classmethod
    def contacted_within(cls, days: int) -> Audience:
        """Contacts sent a message in the last ``days`` days (``days_since_last_sent <= days``)."""
        return cls.where("days_since_last_sent", "<=", int(days))

    @classmethod
    def not_contacted_within(cls, days: int) -> Audience:
        """Contacts not sent anything in the last ``days`` days (or never): a rest period."""
        return ~cls.contacted_within(days)

    @classmethod
    def flag(cls, column: str) -> Audience:
        """Contacts whose boolean column (e.g. ``is_birthday_soon``) is true."""
        return cls.where(column, "=", True)

    @classmethod
    def score(
        cls, column: str, *, at_least: float | None = None, at_most: float | None = None
    ) -> Audience:
        """A predicted score (added by later models, e.g. ``p_alive``) within bounds."""
        if at_least is None and at_most is None:
            raise AudienceError("give at_least and/or at_most")
        parts = []
        if at_least is not None:
            parts.append(cls.where(column, ">=", float(at_least)))
        if at_most is not None:
            parts.append(cls.where(column, "<=", float(at_most)))
        return parts[0] if len(parts) == 1 else parts[0] & parts[1]

    # combinators ------------------------------------------------------------------------
    def __and__(self, other: Audience) -> Audience:
        return Audience(_Bool("and", (self.node, _node(other))))

    def __or__(self, other: Audience) -> Audience:
        return Audience(_Bool("or", (self.node, _node(other))))

    def __invert__(self) -> Audience:
        return Audience(_Bool("not", (self.node,)))

    # compilation ------------------------------------------------------------------------
    @property
    def columns(self) -> set[str]:
        """Columns the filters read."""
        out: set[str] = set()

        def walk(n: Any) -> None:
            if isinstance(n, _Pred):
                out.add(n.column)
            else:
                for p in n.parts:
                    walk(p)

        walk(self.node)
        return out

    def where_sql(self) -> tuple[str, dict[str, Any]]:
        """The boolean SQL condition and its ``$p{i}`` parameters (never NULL: two-valued)."""
        params: dict[str, Any] = {}
        counter = itertools.count()

        def bind(v: Any) -> str:
            name = f"p{next(counter)}"
            params[name] = v
            return f"${name}"

        def comp(n: Any) -> str:
            if isinstance(n, _Pred):
                col = n.column
                if n.op == "is null":
                    return f"({col} IS NULL)"
                if n.op == "is not null":
                    return f"({col} IS NOT NULL)"
                if n.op in ("in", "not in"):
                    items = ", ".join(bind(v) for v in n.values)
                    keyword = "IN" if n.op == "in" else "NOT IN"
                    return f"coalesce({col} {keyword} ({items}), FALSE)"
                op = "<>" if n.op == "!=" else n.op
                return f"coalesce({col} {op} {bind(n.values[0])}, FALSE)"
            if n.kind == "all":
                return "TRUE"
            if n.kind == "not":
                return f"(NOT {comp(n.parts[0])})"
            joiner = " AND " if n.kind == "and" else " OR "
            return "(" + joiner.join(comp(p) for p in n.parts) + ")"

        return comp(self.node), params

    def to_sql(self, table: str = "audience_base") -> tuple[str, dict[str, Any]]:
        """``SELECT contact_id FROM {table} WHERE … ORDER BY contact_id`` and its parameters."""
        if not _IDENT.match(table):
            raise AudienceError(f"table {table!r} is not a plain table name")
        cond, params = self.where_sql()
        return f"SELECT contact_id FROM {table} WHERE {cond} ORDER BY contact_id", params

    def describe(self) -> str:
        """The filters in words, e.g. ``(rfm_segment in ['Lost'] and is_consented = True)``."""

        def d(n: Any) -> str:
            if isinstance(n, _Pred):
                if n.op in ("is null", "is not null"):
                    return f"{n.column} {n.op}"
                v = list(n.values) if n.op in ("in", "not in") else n.values[0]
                return f"{n.column} {n.op} {v!r}"
            if n.kind == "all":
                return "everyone"
            if n.kind == "not":
                return f"not ({d(n.parts[0])})"
            return "(" + f" {n.kind} ".join(d(p) for p in n.parts) + ")"

        return d(self.node)

    def __repr__(self) -> str:
        return f"Audience({self.describe()})"

    # evaluation -------------------------------------------------------------------------
    def _run(self, base: pl.DataFrame | Warehouse, table: str, select: str) -> pl.DataFrame:
        sql, params = self.to_sql("audience_base" if isinstance(base, pl.DataFrame) else table)
        sql = sql.replace("SELECT contact_id", f"SELECT {select}", 1)
        if select != "contact_id":
            sql = sql.removesuffix(" ORDER BY contact_id")
        if isinstance(base, pl.DataFrame):
            import duckdb

            _check_columns(self.columns | {"contact_id"}, base.columns)
            with duckdb.connect() as con:
                con.register("audience_base", base)
                return con.sql(sql, params=params).pl()
        cols = [r[0] for r in base.con.execute(f"DESCRIBE {table}").fetchall()]
        _check_columns(self.columns | {"contact_id"}, cols)
        return base.con.sql(sql, params=params).pl()

    def contact_ids(
        self, base: pl.DataFrame | Warehouse, *, table: str = "contact_segments"
    ) -> pl.Series:
        """The contact ids in the audience, sorted (Int64 Series named ``contact_id``).

        Parameters
        ----------
        base
            A segmented feature frame, or a warehouse holding ``table``.
        table
            Table (or view) of the warehouse to select from when ``base`` is a warehouse.
        """
        return self._run(base, table, "contact_id")["contact_id"]

    def size(self, base: pl.DataFrame | Warehouse, *, table: str = "contact_segments") -> int:
        """Number of contacts in the audience."""
        return int(self._run(base, table, "count(*) AS n")["n"][0])

    def overlap(
        self, other: Audience, base: pl.DataFrame | Warehouse, *, table: str = "contact_segments"
    ) -> AudienceOverlap:
        """Sizes of this audience, ``other``, both, each only, the union and the Jaccard index."""
        a, b = self.size(base, table=table), other.size(base, table=table)
        both = (self & other).size(base, table=table)
        union = a + b - both
        return AudienceOverlap(
            a, b, both, a - both, b - both, union, both / union if union else 0.0
        )


def _node(a: Audience) -> Any:
    if not isinstance(a, Audience):
        raise AudienceError(
            f"can only combine an Audience with another Audience, not {type(a).__name__}"
        )
    return a.node


def _check_columns(needed: set[str], available: Sequence[str]) -> None:
    missing = sorted(needed - set(available))
    if missing:
        raise AudienceError(
            f"the base has no column(s) {missing}; add them (e.g. with segment_contacts or a "
            f"model's scores) or filter on one of {sorted(available)}"
        )


def _require(frame: pl.DataFrame, columns: Iterable[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: column(s) {missing} missing; build the frame with "
            "smsanalytics.features.contact_features"
        )
