"""Charts of churn and recapture: reliability, P(alive) matrix, Qini curve, uplift by decile.

Every builder takes aggregated inputs (a reliability table, a fitted model, metric arrays it
aggregates itself) so no per-contact row reaches the chart's data, and returns an altair chart
(layered charts are :class:`altair.LayerChart`).

>>> import numpy as np
>>> from smsanalytics.churn import reliability_table
>>> y = np.array([0, 1, 1, 0, 1]); p = np.array([0.1, 0.8, 0.7, 0.3, 0.9])
>>> type(chart_reliability(reliability_table(y, p))).__name__
'LayerChart'
"""

from __future__ import annotations

import altair as alt
import numpy as np
import polars as pl

from smsanalytics.churn.bgnbd import BGNBD
from smsanalytics.uplift.metrics import (
    perfect_qini_curve,
    qini_auc_score,
    qini_curve,
    random_qini_curve,
)

__all__ = ["chart_reliability", "chart_p_alive", "chart_qini", "chart_uplift_by_decile"]


def chart_reliability(
    reliability: pl.DataFrame, *, title: str = "Reliability diagram"
) -> alt.LayerChart:
    """Observed churn rate against mean predicted probability per bin, one line per model.

    Parameters
    ----------
    reliability
        Output of :func:`smsanalytics.churn.reliability_table` (``mean_predicted``, ``observed``,
        ``n``), optionally stacked with a ``model`` column (as in
        :attr:`smsanalytics.churn.ChurnEvaluation.reliability`).

    Returns
    -------
    altair.LayerChart
        The diagonal (perfect calibration) and a line with points sized by the bin count.
    """
    missing = {"mean_predicted", "observed", "n"} - set(reliability.columns)
    if missing:
        raise ValueError(
            f"reliability table lacks column(s) {sorted(missing)}; "
            "build it with reliability_table()"
        )
    data = (
        reliability
        if "model" in reliability.columns
        else reliability.with_columns(pl.lit("model").alias("model"))
    )
    diagonal = (
        alt.Chart(pl.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color="gray")
        .encode(x="x:Q", y="y:Q")
    )
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "mean_predicted:Q",
                title="Mean predicted churn probability",
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y("observed:Q", title="Observed churn rate", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("model:N", title="Model"),
            tooltip=[
                alt.Tooltip("model:N"),
                alt.Tooltip("mean_predicted:Q", format=".3f"),
                alt.Tooltip("observed:Q", format=".3f"),
                alt.Tooltip("n:Q", format=","),
            ],
        )
    )
    points = (
        alt.Chart(data)
        .mark_circle()
        .encode(
            x="mean_predicted:Q",
            y="observed:Q",
            color="model:N",
            size=alt.Size("n:Q", title="Contacts"),
        )
    )
    return alt.layer(diagonal, lines, points).properties(title=title, width=360, height=360)


def chart_p_alive(
    model: BGNBD, *, T: float, max_frequency: int = 20, n_recency: int = 40, unit: str = "days"
) -> alt.Chart:
    """Heat map of BG/NBD P(alive) over frequency × recency at observation length ``T``.

    The ``frequency = 0`` column is 1 everywhere: the one-time-buyer blind spot of BG/NBD.

    Parameters
    ----------
    model
        A fitted :class:`~smsanalytics.churn.BGNBD`.
    T
        Observation length (time since the first purchase) of the customers shown.
    max_frequency
        Largest frequency (repeat purchases) shown.
    n_recency
        Number of recency values between 0 and ``T``.
    unit
        Time unit for the axis title.
    """
    if T <= 0 or max_frequency < 1 or n_recency < 2:
        raise ValueError("need T > 0, max_frequency >= 1 and n_recency >= 2")
    freq = np.arange(0, max_frequency + 1)
    rec = np.linspace(0.0, float(T), n_recency)
    f, r = np.meshgrid(freq, rec, indexing="ij")
    r = np.where(f == 0, 0.0, r)
    p = model.p_alive(f.ravel(), r.ravel(), np.full(f.size, float(T)))
    grid = pl.DataFrame(
        {
            "frequency": f.ravel(),
            "recency": np.meshgrid(freq, rec, indexing="ij")[1].ravel().round(1),
            "p_alive": p,
        }
    )
    return (
        alt.Chart(grid, title=f"BG/NBD P(alive) at T = {T:g} {unit}")
        .mark_rect()
        .encode(
            x=alt.X("frequency:O", title="Frequency (repeat purchase periods)"),
            y=alt.Y(
                "recency:O",
                title=f"Recency ({unit} from first to last purchase)",
                sort="descending",
            ),
            color=alt.Color(
                "p_alive:Q", title="P(alive)", scale=alt.Scale(domain=[0, 1], scheme="viridis")
            ),
            tooltip=[
                alt.Tooltip("frequency:O"),
                alt.Tooltip("recency:O"),
                alt.Tooltip("p_alive:Q", format=".3f"),
            ],
        )
    )


def _thin(x: np.ndarray, y: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    if x.size <= n_points:
        return x, y
    keep = np.unique(np.r_[np.linspace(0, x.size - 1, n_points).astype(int), x.size - 1])
    return x[keep], y[keep]


def chart_qini(
    y_true, uplift, treatment, *, n_points: int = 200, perfect: bool = False, label: str = "model"
) -> alt.LayerChart:
    """Qini curve of a model with the random-targeting baseline (and optionally the perfect curve).

    Parameters
    ----------
    y_true, uplift, treatment
        As for :func:`smsanalytics.uplift.metrics.qini_curve`.
    n_points
        Points kept per curve (evenly spaced thresholds).
    perfect
        Also draw the perfect-ranking curve.
    label
        Name of the model in the legend.
    """
    x, q = _thin(*qini_curve(y_true, uplift, treatment), n_points)
    xr, qr = random_qini_curve(y_true, treatment)
    n = float(xr[-1])
    parts = [
        pl.DataFrame({"share": x / n, "incremental": q, "curve": label}),
        pl.DataFrame({"share": xr / n, "incremental": qr, "curve": "random targeting"}),
    ]
    if perfect:
        xp, qp = _thin(*perfect_qini_curve(y_true, treatment), n_points)
        parts.append(pl.DataFrame({"share": xp / n, "incremental": qp, "curve": "perfect"}))
    data = pl.concat(parts, how="vertical_relaxed")
    score = qini_auc_score(y_true, uplift, treatment)
    line = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("share:Q", title="Share of contacts targeted", axis=alt.Axis(format="%")),
            y=alt.Y("incremental:Q", title="Incremental responders (Qini)"),
            color=alt.Color("curve:N", title=None),
            strokeDash=alt.condition(
                alt.datum.curve == "random targeting", alt.value([4, 4]), alt.value([1, 0])
            ),
            tooltip=[
                alt.Tooltip("curve:N"),
                alt.Tooltip("share:Q", format=".1%"),
                alt.Tooltip("incremental:Q", format=",.1f"),
            ],
        )
    )
    return alt.layer(line).properties(
        title=f"Qini curve (Qini coefficient {score:.3f})", width=420, height=300
    )


def chart_uplift_by_decile(
    table: pl.DataFrame, *, title: str = "Observed uplift by decile of predicted uplift"
) -> alt.LayerChart:
    """Bars of observed uplift per bin of predicted uplift, with ±1.96 standard-error whiskers.

    Parameters
    ----------
    table
        Output of :func:`smsanalytics.uplift.metrics.uplift_by_percentile`.
    """
    missing = {"percentile", "uplift", "std_uplift", "bin"} - set(table.columns)
    if missing:
        raise ValueError(
            f"table lacks column(s) {sorted(missing)}; build it with uplift_by_percentile()"
        )
    data = table.with_columns(
        (pl.col("uplift") - 1.96 * pl.col("std_uplift")).alias("low"),
        (pl.col("uplift") + 1.96 * pl.col("std_uplift")).alias("high"),
    )
    order = data.sort("bin")["percentile"].to_list()
    x = alt.X("percentile:N", sort=order, title="Percentile of predicted uplift (best first)")
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y(
                "uplift:Q",
                title="Observed uplift (treated − control rate)",
                axis=alt.Axis(format="%"),
            ),
            tooltip=[
                alt.Tooltip("percentile:N"),
                alt.Tooltip("uplift:Q", format=".2%"),
                alt.Tooltip("n_treatment:Q", format=","),
                alt.Tooltip("n_control:Q", format=","),
            ],
        )
    )
    whiskers = alt.Chart(data).mark_rule().encode(x=x, y="low:Q", y2="high:Q")
    zero = alt.Chart(pl.DataFrame({"y": [0.0]})).mark_rule(color="gray").encode(y="y:Q")
    return alt.layer(bars, whiskers, zero).properties(title=title, width=420, height=280)
