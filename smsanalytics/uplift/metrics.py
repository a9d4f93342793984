"""Uplift metrics as pure functions of ``(y_true, uplift, treatment)``.

The definitions follow scikit-uplift (``sklift.metrics``, v0.5.1) exactly, so numbers are
comparable with published sklift results; the tests check them against values computed with
sklift 0.5.1 and against straightforward loop implementations.

Conventions
-----------
- Contacts are ranked by predicted uplift, highest first; ties keep the order of
  ``numpy.argsort(uplift, kind="mergesort")[::-1]`` (as sklift does).
- :func:`uplift_at_k` with ``strategy="overall"`` (the default here, and what sklift's published
  Hillstrom example uses) takes the top ``int(k * n)`` contacts of the whole sample and returns
  the treated response rate minus the control response rate *among them*. ``"by_group"`` takes
  the top ``int(k * n_t)`` treated and the top ``int(k * n_c)`` control contacts separately.
- :func:`qini_curve` (Radcliffe 2007) at ``n`` targeted contacts is
  :math:`Y_T(n) - Y_C(n)\\,N_T(n)/N_C(n)`: incremental responders among the top ``n``.
- :func:`qini_auc_score` is the *normalised* Qini coefficient of sklift: the area between the
  model's Qini curve and the random-targeting diagonal, divided by the same area for the perfect
  ranking (``negative_effect=True``: the perfect curve also orders the contacts hurt by treatment
  last). 0 is random targeting, 1 the perfect ranking.

References
----------
Radcliffe, N. J. (2007). Using control groups to target on predicted lift: building and
assessing uplift models. *Direct Marketing Analytics Journal*, 1, 14–21.

Gutierrez, P. & Gérardy, J.-Y. (2017). Causal inference and uplift modelling: a review of the
literature. *PMLR* 67, 1–13.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl

__all__ = [
    "Strategy",
    "uplift_at_k",
    "uplift_curve",
    "qini_curve",
    "perfect_qini_curve",
    "random_qini_curve",
    "qini_auc_score",
    "uplift_auc_score",
    "uplift_by_percentile",
    "average_treatment_effect",
]

Strategy = Literal["overall", "by_group"]


def _check(
    y_true, uplift, treatment, *, binary_y: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).ravel()
    u = np.asarray(uplift, dtype=float).ravel()
    t = np.asarray(treatment).ravel()
    if not (y.size == u.size == t.size):
        raise ValueError(
            "y_true, uplift and treatment must have the same length; "
            f"got {y.size}, {u.size}, {t.size}"
        )
    if y.size == 0:
        raise ValueError("y_true, uplift and treatment are empty")
    values = set(np.unique(t).tolist())
    if not values <= {0, 1}:
        raise ValueError(
            f"treatment must be binary (0 = control, 1 = treated); got values {sorted(values)[:5]}"
        )
    t = t.astype(np.int64)
    if t.min() == t.max():
        raise ValueError("treatment needs both treated (1) and control (0) contacts")
    if not np.all(np.isfinite(u)):
        raise ValueError("uplift contains NaN or inf; score every contact")
    if not np.all(np.isfinite(y)):
        raise ValueError("y_true contains NaN or inf")
    if binary_y and not set(np.unique(y).tolist()) <= {0.0, 1.0}:
        raise ValueError("y_true must be binary (0/1) for this metric")
    return y, u, t


def _order(uplift: np.ndarray) -> np.ndarray:
    return np.argsort(uplift, kind="mergesort")[::-1]


def average_treatment_effect(y_true, treatment) -> float:
    """Difference in mean outcome, treated minus control (the uplift of random targeting)."""
    y = np.asarray(y_true, dtype=float)
    t = np.asarray(treatment).astype(bool)
    if t.all() or not t.any():
        raise ValueError("treatment needs both treated (1) and control (0) contacts")
    return float(y[t].mean() - y[~t].mean())


def uplift_at_k(
    y_true, uplift, treatment, *, strategy: Strategy = "overall", k: float | int = 0.3
) -> float:
    """Uplift among the top-``k`` contacts ranked by predicted uplift (sklift's ``uplift_at_k``).

    Parameters
    ----------
    y_true
        Observed binary (or numeric) outcome per contact.
    uplift
        Predicted uplift (any score; only the ranking matters).
    treatment
        1 for treated, 0 for control.
    strategy
        ``"overall"``: top ``int(k * n)`` of all contacts, then treated rate − control rate among
        them. ``"by_group"``: top ``int(k * n_treated)`` treated vs top ``int(k * n_control)``
        control.
    k
        Share in (0, 1) or an absolute number of contacts.

    Returns
    -------
    float
        Treated response rate minus control response rate in the top ``k``.

    Raises
    ------
    ValueError
        On inputs of different lengths, a non-binary treatment, one group only, an invalid ``k`` or
        strategy, or a top-``k`` containing no treated or no control contact.

    Examples
    --------
    >>> uplift_at_k([1, 0, 1, 0], [0.9, 0.8, 0.1, 0.0], [1, 0, 0, 1], k=0.5)
    1.0
    """
    y, u, t = _check(y_true, uplift, treatment, binary_y=False)
    if strategy not in ("overall", "by_group"):
        raise ValueError(f"strategy must be 'overall' or 'by_group', got {strategy!r}")
    n = y.size
    is_int = isinstance(k, int | np.integer) and not isinstance(k, bool)
    if is_int and not (0 < k < n) or (not is_int and not (0 < float(k) < 1)):
        raise ValueError(f"k={k} must be a share in (0, 1) or a count in (0, {n})")
    order = _order(u)
    ys, ts = y[order], t[order]
    if strategy == "overall":
        size = int(k) if is_int else int(n * float(k))
        top_y, top_t = ys[:size], ts[:size]
        if top_t.all() or not top_t.any():
            raise ValueError(f"the top {size} contacts hold only one group; uplift@k is undefined")
        return float(top_y[top_t == 1].mean() - top_y[top_t == 0].mean())
    n_t, n_c = int((t == 1).sum()), int((t == 0).sum())
    size_t = int(k) if is_int else int(n_t * float(k))
    size_c = int(k) if is_int else int(n_c * float(k))
    if size_t == 0 or size_c == 0 or size_t > n_t or size_c > n_c:
        raise ValueError(
            f"k={k} selects {size_t} treated and {size_c} control contacts; need 1..group size"
        )
    return float(ys[ts == 1][:size_t].mean() - ys[ts == 0][:size_c].mean())


def _cumulative(y: np.ndarray, u: np.ndarray, t: np.ndarray):
    order = _order(u)
    y, u, t = y[order], u[order], t[order]
    distinct = np.flatnonzero(np.diff(u))
    thresholds = np.r_[distinct, u.size - 1]
    n_t = np.cumsum(t, dtype=float)[thresholds]
    y_t = np.cumsum(y * t)[thresholds]
    y_c = np.cumsum(y * (1 - t))[thresholds]
    n_all = (thresholds + 1).astype(float)
    n_c = n_all - n_t
    return n_all, n_t, n_c, y_t, y_c


def _start_at_origin(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.size == 0 or x[0] != 0 or v[0] != 0:
        x, v = np.r_[0.0, x], np.r_[0.0, v]
    return x, v


def qini_curve(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: incremental responders among the top ``n`` contacts, for every threshold.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Number of contacts targeted (starting at 0) and :math:`Y_T - Y_C N_T / N_C` at each.
    """
    y, u, t = _check(y_true, uplift, treatment, binary_y=False)
    n_all, n_t, n_c, y_t, y_c = _cumulative(y, u, t)
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    return _start_at_origin(n_all, y_t - y_c * ratio)


def uplift_curve(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: (treated rate − control rate) among the top ``n``, times ``n``."""
    y, u, t = _check(y_true, uplift, treatment, binary_y=False)
    n_all, n_t, n_c, y_t, y_c = _cumulative(y, u, t)
    rate_t = np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t != 0)
    rate_c = np.divide(y_c, n_c, out=np.zeros_like(y_c), where=n_c != 0)
    return _start_at_origin(n_all, (rate_t - rate_c) * n_all)


def perfect_qini_curve(
    y_true, treatment, *, negative_effect: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve of the perfect ranking (sklift's ``perfect_qini_curve``).

    With ``negative_effect=True`` the perfect ranking puts treated responders first and control
    responders last (the score ``y·t − y·(1−t)``); otherwise the curve rises straight to the total
    incremental responders and stays flat.
    """
    y, _, t = _check(y_true, np.zeros(np.asarray(y_true).size), treatment)
    if negative_effect:
        return qini_curve(y, y * t - y * (1 - t), t)
    total = y[t == 1].sum() - (t == 1).sum() * y[t == 0].sum() / (t == 0).sum()
    return np.array([0.0, total, float(y.size)]), np.array([0.0, total, total])


def random_qini_curve(y_true, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Random-targeting baseline: the straight line from (0, 0) to the full-sample Qini value."""
    y, _, t = _check(y_true, np.zeros(np.asarray(y_true).size), treatment, binary_y=False)
    total = y[t == 1].sum() - y[t == 0].sum() * (t == 1).sum() / (t == 0).sum()
    return np.array([0.0, float(y.size)]), np.array([0.0, float(total)])


def _area(x: np.ndarray, v: np.ndarray) -> float:
    return float(np.trapezoid(v, x))


def qini_auc_score(y_true, uplift, treatment, *, negative_effect: bool = True) -> float:
    """Normalised Qini coefficient (sklift's ``qini_auc_score``).

    .. math::

        Q = \\frac{A(\\text{model}) - A(\\text{random})}{A(\\text{perfect}) - A(\\text{random})}

    where :math:`A` is the area under a Qini curve and "random" is the diagonal to the
    full-sample incremental responders.
    """
    y, u, t = _check(y_true, uplift, treatment)
    x_m, q_m = qini_curve(y, u, t)
    x_p, q_p = perfect_qini_curve(y, t, negative_effect=negative_effect)
    base = _area(np.array([0.0, x_p[-1]]), np.array([0.0, q_p[-1]]))
    denom = _area(x_p, q_p) - base
    if denom == 0:
        raise ValueError(
            "the perfect Qini curve equals the random one (no incremental responders); "
            "Qini is undefined"
        )
    return (_area(x_m, q_m) - base) / denom


def uplift_auc_score(y_true, uplift, treatment) -> float:
    """Normalised area under the uplift curve (sklift's ``uplift_auc_score``)."""
    y, u, t = _check(y_true, uplift, treatment)
    x_m, v_m = uplift_curve(y, u, t)
    cr = np.sum((y == 1) & (t == 0))
    tn = np.sum((y == 0) & (t == 1))
    summand = y if cr > tn else t
    x_p, v_p = uplift_curve(y, 2 * (y == t) + summand, t)
    base = _area(np.array([0.0, x_p[-1]]), np.array([0.0, v_p[-1]]))
    denom = _area(x_p, v_p) - base
    if denom == 0:
        raise ValueError("the perfect uplift curve equals the random one; the score is undefined")
    return (_area(x_m, v_m) - base) / denom


def uplift_by_percentile(
    y_true, uplift, treatment, *, bins: int = 10, strategy: Strategy = "overall"
) -> pl.DataFrame:
    """Observed uplift in each bin of predicted uplift (deciles by default), best bin first.

    Bins are ``numpy.array_split`` of the ranked contacts (sizes differ by at most one), as in
    sklift's ``uplift_by_percentile``.

    Returns
    -------
    polars.DataFrame
        ``bin`` (1 = highest predicted uplift), ``percentile`` (``"0-10"`` …), ``n_treatment``,
        ``n_control``, ``response_rate_treatment``, ``response_rate_control``, ``uplift``,
        ``std_uplift`` (binomial standard error), ``mean_predicted_uplift`` (strategy
        ``"overall"`` only; NaN otherwise).
    """
    y, u, t = _check(y_true, uplift, treatment, binary_y=False)
    if strategy not in ("overall", "by_group"):
        raise ValueError(f"strategy must be 'overall' or 'by_group', got {strategy!r}")
    if not isinstance(bins, int) or not (0 < bins < y.size):
        raise ValueError(f"bins must be an integer in (0, {y.size}), got {bins!r}")
    order = _order(u)
    ys, ts, us = y[order], t[order], u[order]
    rows = []
    if strategy == "overall":
        for yb, tb, ub in zip(
            np.array_split(ys, bins),
            np.array_split(ts, bins),
            np.array_split(us, bins),
            strict=True,
        ):
            rows.append((yb[tb == 1], yb[tb == 0], float(ub.mean())))
    else:
        split_t = np.array_split(ys[ts == 1], bins)
        split_c = np.array_split(ys[ts == 0], bins)
        rows = [(a, b, float("nan")) for a, b in zip(split_t, split_c, strict=True)]
    edges = [round(p * 100 / bins) for p in range(bins + 1)]
    out = []
    for i, (yt, yc, mu) in enumerate(rows):
        rt = float(yt.mean()) if yt.size else float("nan")
        rc = float(yc.mean()) if yc.size else float("nan")
        var = (rt * (1 - rt) / yt.size if yt.size else np.nan) + (
            rc * (1 - rc) / yc.size if yc.size else np.nan
        )
        out.append(
            {
                "bin": i + 1,
                "percentile": f"{edges[i]}-{edges[i + 1]}",
                "n_treatment": int(yt.size),
                "n_control": int(yc.size),
                "response_rate_treatment": rt,
                "response_rate_control": rc,
                "uplift": rt - rc,
                "std_uplift": float(np.sqrt(var)),
                "mean_predicted_uplift": mu,
            }
        )
    return pl.DataFrame(out)
