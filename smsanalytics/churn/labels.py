"""Churn labels and point-in-time churn datasets (calibration and holdout periods).

Definition
----------
At a cut-off instant :math:`c` and horizon :math:`H` days, a **buyer** (a contact with at least one
order before :math:`c`) has **churned** when they place no order in :math:`[c, c + H)`; with
``require_no_click=True`` a human click in the window also counts as "not churned". Contacts
who never bought are not in the population (BG/NBD and the churn label are about buyers; the
welcome series handles the others).

Periods
-------
Everything a model sees is computed at the cut-off with events strictly before it
(:func:`smsanalytics.features.contact_features` guarantees it); the label uses the window only.
:func:`churn_periods` lays out the two periods used to train and evaluate honestly::

    ─────── training features ──────┤ train_cutoff ── training labels ──┤ cutoff ── test labels ──┤
                                                                         ├ test features (< cutoff)

The ChurnModel is trained on ``(features at train_cutoff, labels over [train_cutoff, cutoff))``
— all observed before ``cutoff`` — and evaluated on ``(features at cutoff, labels over
[cutoff, cutoff + H))``. BG/NBD is fitted on the calibration summaries at ``cutoff`` (it needs
no label).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import polars as pl

from smsanalytics.warehouse import Warehouse

__all__ = ["ChurnPeriods", "churn_periods", "churn_labels", "build_churn_dataset", "data_end"]

FeatureSource = Literal["contacts", "orders"]


def _as_utc(value: str | dt.date | dt.datetime) -> dt.datetime:
    from smsanalytics.features import normalize_as_of

    return normalize_as_of(value)


@dataclass(frozen=True)
class ChurnPeriods:
    """The calibration (training) and holdout (test) cut-offs of a churn evaluation.

    Attributes
    ----------
    train_cutoff
        Features for training are computed here; training labels cover
        ``[train_cutoff, cutoff)``.
    cutoff
        Features for scoring are computed here; test labels cover ``[cutoff, horizon_end)``.
    horizon_end
        ``cutoff + horizon_days``.
    horizon_days
        Label window length in days.
    """

    train_cutoff: dt.datetime
    cutoff: dt.datetime
    horizon_end: dt.datetime
    horizon_days: int


def churn_periods(cutoff: str | dt.date | dt.datetime, *, horizon_days: int = 90) -> ChurnPeriods:
    """Training and test periods around ``cutoff`` (see the module docstring).

    Raises
    ------
    ValueError
        When ``horizon_days`` is not positive.
    """
    if horizon_days <= 0:
        raise ValueError(f"horizon_days must be > 0, got {horizon_days}")
    c = _as_utc(cutoff)
    h = dt.timedelta(days=horizon_days)
    return ChurnPeriods(train_cutoff=c - h, cutoff=c, horizon_end=c + h, horizon_days=horizon_days)


def data_end(warehouse: Warehouse) -> dt.datetime | None:
    """The latest order or message timestamp in the warehouse (the end of observation)."""
    row = warehouse.con.execute(
        "SELECT greatest(coalesce((SELECT max(ordered_at) FROM orders), TIMESTAMPTZ '1970-01-01'),"
        " coalesce((SELECT max(sent_at) FROM messages), TIMESTAMPTZ '1970-01-01'))"
    ).fetchall()[0][0]
    if row is None or row.year == 1970:
        return None
    return row.astimezone(dt.UTC)


def churn_labels(
    warehouse: Warehouse,
    *,
    cutoff: str | dt.date | dt.datetime,
    horizon_days: int = 90,
    require_no_click: bool = False,
    check_observed: bool = True,
) -> pl.DataFrame:
    """Observed churn label of every buyer at ``cutoff`` (relation ``churn_labels``).

    Parameters
    ----------
    warehouse
        Warehouse with ``orders`` (and ``clicks`` for ``require_no_click``).
    cutoff
        Start of the label window; a date means midnight UTC.
    horizon_days
        Window length H in days.
    require_no_click
        Also require no human click in the window to call a contact churned.
    check_observed
        Raise when the window ends after the last event in the warehouse (the label would be
        censored: everyone looks churned at the end of the data).

    Returns
    -------
    polars.DataFrame
        ``contact_id``, ``last_order_at``, ``n_orders_horizon``, ``amount_horizon``,
        ``n_clicks_horizon``, ``is_churned`` (Boolean); one row per buyer, sorted by contact.

    Raises
    ------
    ValueError
        When the window is not fully observed (with ``check_observed``) or ``horizon_days`` ≤ 0.
    """
    periods = churn_periods(cutoff, horizon_days=horizon_days)
    if check_observed:
        end = data_end(warehouse)
        if end is not None and periods.horizon_end > end + dt.timedelta(days=1):
            raise ValueError(
                f"the churn window [{periods.cutoff:%Y-%m-%d}, {periods.horizon_end:%Y-%m-%d}) "
                f"ends after the last event in the warehouse ({end:%Y-%m-%d}); pick a cutoff at "
                f"least {horizon_days} days "
                "before the end of the data or pass check_observed=False"
            )
    return warehouse.query(
        "churn_labels",
        cutoff=periods.cutoff,
        horizon_end=periods.horizon_end,
        require_no_click=bool(require_no_click),
    )


def build_churn_dataset(
    warehouse: Warehouse,
    *,
    cutoff: str | dt.date | dt.datetime,
    horizon_days: int = 90,
    require_no_click: bool = False,
    features: FeatureSource = "contacts",
    check_observed: bool = True,
) -> pl.DataFrame:
    """Point-in-time features at ``cutoff`` joined with the churn label over the next H days.

    Parameters
    ----------
    warehouse, cutoff, horizon_days, require_no_click, check_observed
        As in :func:`churn_labels`.
    features
        ``"contacts"``: the full contact feature table
        (:func:`smsanalytics.features.contact_features`, needs ``contacts``); ``"orders"``: RFM
        and BG/NBD inputs from ``orders`` alone (:func:`smsanalytics.features.order_summary`),
        for shops without SMS history such as Online Retail.

    Returns
    -------
    polars.DataFrame
        One row per buyer at ``cutoff``: the feature columns (BG/NBD inputs ``bgnbd_frequency``,
        ``bgnbd_recency_days``, ``bgnbd_t_days`` among them), ``n_orders_horizon``,
        ``amount_horizon``, ``n_clicks_horizon`` and ``is_churned``.
    """
    from smsanalytics.features import contact_features, order_summary

    if features not in ("contacts", "orders"):
        raise ValueError(f"features must be 'contacts' or 'orders', got {features!r}")
    labels = churn_labels(
        warehouse,
        cutoff=cutoff,
        horizon_days=horizon_days,
        require_no_click=require_no_click,
        check_observed=check_observed,
    ).drop("last_order_at")
    if features == "orders" and getattr(warehouse, "engine", "duckdb") == "spark":
        # order_summary's relation on the Spark engine (contact_features dispatches itself)
        table = warehouse.query("fct_contact_orders", as_of=_as_utc(cutoff)).sort("contact_id")
    else:
        table = (contact_features if features == "contacts" else order_summary)(
            warehouse, as_of=_as_utc(cutoff)
        )
    return table.join(labels, on="contact_id", how="inner").sort("contact_id")
