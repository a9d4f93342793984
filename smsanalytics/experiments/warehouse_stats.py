"""Per-arm sufficient statistics of a campaign, aggregated in SQL by the warehouse.

The aggregation is ``sql/ab_arm_stats.sql`` (one row per arm, all metrics and CUPED sums);
this module runs it and turns the chosen metric's columns into
:mod:`~smsanalytics.experiments.stats` dataclasses for :func:`~smsanalytics.experiments.readout`.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal

import polars as pl

from smsanalytics.experiments.readout import statistics_from_frame
from smsanalytics.experiments.stats import Statistic

__all__ = [
    "WarehouseMetric",
    "Covariate",
    "load_sql",
    "arm_stats_frame",
    "arm_stats_from_warehouse",
    "configured_weights",
]

#: Outcome read from the warehouse: contacts who converted, revenue per contact, clicked,
#: opted out (STOP), or had a message delivered.
WarehouseMetric = Literal["conversion", "revenue", "click", "optout", "delivery"]
#: Pre-period covariate for CUPED.
Covariate = Literal["pre_orders", "pre_revenue", "pre_clicks"]

# metric -> (sum column, sum-of-squares column or None for 0/1, cross-product prefix)
_OUTCOMES: dict[str, tuple[str, str | None, str | None]] = {
    "conversion": ("conversions", None, "conversions"),
    "revenue": ("revenue_sum", "revenue_sumsq", "revenue"),
    "click": ("clicked", None, "clicked"),
    "optout": ("optouts", None, "optouts"),
    "delivery": ("delivered", None, None),
}
_DEFAULT_COVARIATE: dict[str, str | None] = {
    "conversion": "pre_orders",
    "revenue": "pre_revenue",
    "click": "pre_clicks",
    "optout": "pre_clicks",
    "delivery": None,
}

METRIC_MESSAGE = "metric must be one of {allowed}, got {m!r}"
COVARIATE_MESSAGE = "covariate must be one of {allowed}, 'auto' or None, got {c!r}"
NO_COVARIATE_MESSAGE = "metric {m!r} has no CUPED covariate; use covariate=None"
EMPTY_CAMPAIGN_MESSAGE = (
    "campaign {c!r} has no rows in `assignments` and no messages; check the campaign id "
    "(known campaigns are in the `campaigns` table)"
)
DAYS_MESSAGE = "{name} must be a non-negative integer number of days, got {v!r}"
CONNECTION_MESSAGE = (
    "expected a duckdb connection or an object with a `.con` duckdb connection "
    "(smsanalytics.warehouse.Warehouse), got {t}"
)


def load_sql(name: str) -> str:
    """Text of ``smsanalytics/sql/{name}.sql``."""
    return (
        resources.files("smsanalytics").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    )


def _connection(con_or_warehouse: Any) -> Any:
    con = getattr(con_or_warehouse, "con", con_or_warehouse)
    if not hasattr(con, "sql"):
        raise TypeError(CONNECTION_MESSAGE.format(t=type(con_or_warehouse).__name__))
    return con


def _run(con_or_warehouse: Any, name: str, params: dict[str, Any]) -> pl.DataFrame:
    con = _connection(con_or_warehouse)
    return con.sql(load_sql(name), params=params).pl()


def _days(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(DAYS_MESSAGE.format(name=name, v=value))
    return value


def arm_stats_frame(
    con_or_warehouse: Any,
    campaign_id: str,
    *,
    attribution_days: int = 7,
    pre_period_days: int = 30,
) -> pl.DataFrame:
    """All per-arm sums of a campaign (the relation ``ab_arm_stats``).

    Parameters
    ----------
    con_or_warehouse
        A duckdb connection, or an object whose ``.con`` is one (the ``Warehouse``).
    campaign_id
        Campaign to read out.
    attribution_days
        Outcomes count when they happen within this many days after the contact's assignment.
    pre_period_days
        Length of the pre-period for the CUPED covariates.

    Returns
    -------
    polars.DataFrame
        One row per arm (``control`` first): ``variant, is_holdout, n, delivered, clicked,
        conversions, revenue_sum, revenue_sumsq, optouts``, the covariate sums
        ``pre_{orders,revenue,clicks}_{sum,sumsq}`` and the cross-products
        ``{conversions,revenue,clicked,optouts}_x_pre_{orders,revenue,clicks}``
        (see the header of ``sql/ab_arm_stats.sql``).

    Raises
    ------
    ValueError
        The campaign has neither assignments nor messages.
    """
    params = {
        "campaign_id": campaign_id,
        "attribution_days": _days("attribution_days", attribution_days),
        "pre_period_days": _days("pre_period_days", pre_period_days),
    }
    frame = _run(con_or_warehouse, "ab_arm_stats", params)
    if frame.height == 0:
        raise ValueError(EMPTY_CAMPAIGN_MESSAGE.format(c=campaign_id))
    return frame


def arm_stats_from_warehouse(
    con_or_warehouse: Any,
    campaign_id: str,
    *,
    attribution_days: int = 7,
    pre_period_days: int = 30,
    metric: WarehouseMetric = "conversion",
    covariate: Covariate | Literal["auto"] | None = "auto",
) -> dict[str, Statistic]:
    """Per-arm sufficient statistics of one metric of a campaign, ready for :func:`readout`.

    Parameters
    ----------
    con_or_warehouse, campaign_id, attribution_days, pre_period_days
        As in :func:`arm_stats_frame`.
    metric
        ``conversion`` (default), ``revenue``, ``click``, ``optout`` or ``delivery``.
    covariate
        CUPED covariate: ``auto`` (orders for conversion, revenue for revenue, clicks for
        click and opt-out, none for delivery), one of ``pre_orders``, ``pre_revenue``,
        ``pre_clicks``, or ``None`` for no covariate.

    Returns
    -------
    dict
        ``{variant: statistic}`` in the SQL's order (``control`` first):
        :class:`~smsanalytics.experiments.stats.ProportionStatistic` for 0/1 metrics,
        :class:`~smsanalytics.experiments.stats.SampleMeanStatistic` for revenue, wrapped in
        :class:`~smsanalytics.experiments.stats.RegressionAdjustedStatistic` with a covariate.
    """
    if metric not in _OUTCOMES:
        raise ValueError(METRIC_MESSAGE.format(allowed=sorted(_OUTCOMES), m=metric))
    if covariate == "auto":
        covariate = _DEFAULT_COVARIATE[metric]  # type: ignore[assignment]
    elif covariate is not None and covariate not in ("pre_orders", "pre_revenue", "pre_clicks"):
        raise ValueError(
            COVARIATE_MESSAGE.format(
                allowed=["pre_orders", "pre_revenue", "pre_clicks"], c=covariate
            )
        )
    sum_col, sumsq_col, cross_prefix = _OUTCOMES[metric]
    if covariate is not None and cross_prefix is None:
        raise ValueError(NO_COVARIATE_MESSAGE.format(m=metric))
    frame = arm_stats_frame(
        con_or_warehouse,
        campaign_id,
        attribution_days=attribution_days,
        pre_period_days=pre_period_days,
    )
    if covariate is None:
        return statistics_from_frame(frame, sum_column=sum_col, sum_squares_column=sumsq_col)
    return statistics_from_frame(
        frame,
        sum_column=sum_col,
        sum_squares_column=sumsq_col,
        pre_sum_column=f"{covariate}_sum",
        pre_sum_squares_column=f"{covariate}_sumsq",
        cross_column=f"{cross_prefix}_x_{covariate}",
    )


def configured_weights(
    con_or_warehouse: Any, campaign_id: str, variants: list[str]
) -> dict[str, float] | None:
    """The split a campaign was configured with, for the SRM check.

    ``campaigns.holdout_share`` is the share of the ``control`` arm; the other arms share the rest
    equally. Returns ``None`` (equal split) when the campaign is unknown, has no holdout share, or
    has no ``control`` arm.
    """
    frame = _run(con_or_warehouse, "ab_campaign_config", {"campaign_id": campaign_id})
    if frame.height == 0 or "control" not in variants or len(variants) < 2:
        return None
    share = frame["holdout_share"][0]
    if share is None or not 0 < share < 1:
        return None
    others = [v for v in variants if v != "control"]
    weights = {v: (1.0 - share) / len(others) for v in others}
    weights["control"] = float(share)
    return {v: weights[v] for v in variants}
