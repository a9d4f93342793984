"""The send-time model: response rate per local hour of week, per contact, with shrinkage.

Model
-----
The expected response (human click within the response window) of a send to contact *c* at
local hour of week *w* (0 = Monday 00:00 … 167) of campaign (variant) *j* is::

    λ(c, w, j) = e_j · a_c · q_p(c)(w) · u_c(hour(w)) · v_c(day(w))

- ``q_p`` is a *profile*: the response rate per hour of week of the contact's segment, or the
  global one (the fallback chain picks which, see below). The global profile is shrunk toward a
  separable one (a day level × an hour-of-day curve for weekdays and one for weekends); each
  segment's profile is shrunk toward the global profile scaled to the segment's level.
- ``e_j`` is the campaign (variant) effect, ``a_c`` the contact's level (its responsiveness
  relative to its profile), ``u_c`` its hour-of-day shape and ``v_c`` its day-of-week shape
  (both with exposure-weighted mean 1, so they only move responses between hours).

Priors (empirical Bayes)
------------------------
Every quantity is a gamma–Poisson posterior mean ``(k + s·m) / (x + s)`` of ``k`` responses
against ``x`` expected responses (exposure), with prior mean ``m`` and prior strength ``s`` in
units of exposure:

- cells of the global profile, of segment profiles, campaign effects and contact levels: ``s``
  maximises the marginal (negative-binomial) likelihood of all cells of that layer
  (:func:`fit_prior_strength`, type-II maximum likelihood);
- the contact's hour shape ``u_c`` pools its responses over neighbouring hours of day with a
  circular Gaussian kernel of ``bandwidth_hours`` before the same shrinkage toward 1 with strength
  ``contact_strength``; the day shape ``v_c`` uses ``dow_strength``. Kernel-pooled cells are not
  independent, so these three are chosen by the predictive likelihood of the last
  ``validation_days`` of the history under a model fitted on the earlier history (a grid search on
  at most ``max_tuning_contacts`` contacts).

Exposure
--------
Responses are counted per send (a click at 19:00 after a 19:00 send says nothing about 10:00):
each send contributes its expected response under the prior to the hour it was *sent* at, and a
response only when a human clicked within the response window. Hours and campaigns are
confounded in fixed-hour sends (a campaign sent at 19:00 to everyone); randomised-hour sends
(``send_time_policy = 'random'``) tie every campaign to many hours. When they hold at least
``min_random_responses`` responses, a campaign × hour-of-week Poisson model fitted on all sends
identifies both: the global profile comes from it, segment profiles from the randomised sends,
and the campaign effects divide out of every contact's exposure. Without randomised sends,
campaign effects are not identifiable (they are 1) and ``profile_source_`` says the profiles are
confounded.

Fallback chain
--------------
Each contact's prediction records the most specific level whose data it uses: ``contact`` (at
least ``min_contact_responses`` responses of its own, on top of its prior), else ``segment``
(its segment's profile has at least ``min_segment_responses`` responses), else ``global`` (at
least ``min_global_responses``), else ``default`` (``default_local_hour``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import optimize, special

from smsanalytics.sendtime.timezones import (
    DAY_US,
    ZoneOffsets,
    to_epoch_us,
)

__all__ = [
    "HOURS_OF_WEEK",
    "LEVELS",
    "AllowedHours",
    "SendTimeError",
    "SendTimeModel",
    "fit_prior_strength",
    "label_responses",
]

HOURS_OF_WEEK = 168
#: Fallback levels, most specific first.
LEVELS: tuple[str, ...] = ("contact", "segment", "global", "default")
Level = Literal["contact", "segment", "global", "default"]
_HOD = np.arange(HOURS_OF_WEEK) % 24
_DOW = np.arange(HOURS_OF_WEEK) // 24
_UNDELIVERED = ("undelivered", "failed")
_BANDWIDTHS = (1.0, 1.5, 2.0, 3.0, 4.0)
_STRENGTHS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
_DOW_STRENGTHS = (0.5, 1.0, 2.0, 4.0, 8.0, math.inf)
_DEFAULTS = {"bandwidth_hours": 2.0, "contact_strength": 1.0, "dow_strength": math.inf}


class SendTimeError(ValueError):
    """Input the send-time model cannot use; the message names the column or value to fix."""


# -- allowed hours ----------------------------------------------------------------------------
def _minute(value: str | int, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value * 60
    elif isinstance(value, str) and len(value) == 5 and value[2] == ":":
        try:
            minutes = int(value[:2]) * 60 + int(value[3:])
        except ValueError:
            minutes = -1
    else:
        minutes = -1
    if not 0 <= minutes <= 1440:
        raise SendTimeError(
            f"{name} must be 'HH:MM' between 00:00 and 24:00 (or an hour), got {value!r}"
        )
    return minutes


@dataclass(frozen=True)
class AllowedHours:
    """The default quiet-hours rule: sends allowed from ``start`` to ``end`` local time.

    Parameters
    ----------
    start, end
        Local wall-clock bounds, ``"HH:MM"`` (end exclusive, ``"24:00"`` allowed) or whole hours.
    days
        Allowed weekdays, 0 = Monday … 6 = Sunday.

    Notes
    -----
    This is the hook for the compliance rules of the send plans: anything with the method
    :meth:`allowed_minutes` can be passed as ``quiet_hours`` to
    :meth:`SendTimeModel.predict_windows` (see
    :class:`smsanalytics.sendtime.windows.QuietHoursRule`).

    Examples
    --------
    >>> AllowedHours().allowed_minutes(timezone="Europe/Paris", jurisdiction=None,
    ...                                local_date=dt.date(2026, 5, 4))
    [(480, 1200)]
    >>> int(AllowedHours("09:00", "18:00", days=(0, 1, 2, 3, 4)).hours_of_week().sum())
    45
    """

    start: str | int = "08:00"
    end: str | int = "20:00"
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)

    def __post_init__(self) -> None:
        s, e = _minute(self.start, "start"), _minute(self.end, "end")
        if s >= e:
            raise SendTimeError(
                f"allowed hours start {self.start!r} must be before end {self.end!r}"
            )
        if not self.days or any(d not in range(7) for d in self.days):
            raise SendTimeError(f"days must be weekdays 0 (Monday) … 6 (Sunday), got {self.days!r}")

    @property
    def start_minute(self) -> int:
        return _minute(self.start, "start")

    @property
    def end_minute(self) -> int:
        return _minute(self.end, "end")

    def allowed_minutes(
        self, *, timezone: str, jurisdiction: str | None, local_date: dt.date
    ) -> list[tuple[int, int]]:
        """Allowed local minutes ``[start, end)`` of ``local_date`` (empty on a disallowed day)."""
        if local_date.weekday() not in self.days:
            return []
        return [(self.start_minute, self.end_minute)]

    def hours_of_week(self) -> np.ndarray:
        """Boolean ``(168,)``: local hours of week lying entirely inside the allowed time."""
        s, e = self.start_minute, self.end_minute
        hod_ok = (np.arange(24) * 60 >= s) & (np.arange(24) * 60 + 60 <= e)
        day_ok = np.isin(np.arange(7), self.days)
        return (day_ok[:, None] & hod_ok[None, :]).reshape(-1)


# -- responses --------------------------------------------------------------------------------
def label_responses(
    messages: pl.DataFrame,
    clicks: pl.DataFrame,
    *,
    receipts: pl.DataFrame | None = None,
    response_window: dt.timedelta = dt.timedelta(hours=24),
) -> pl.DataFrame:
    """Mark each send that got a human response within the window.

    Parameters
    ----------
    messages
        ``message_id`` (Int64), ``contact_id`` (Int64), ``sent_at`` (Datetime UTC), any others.
    clicks
        ``message_id``, ``clicked_at`` (Datetime UTC), ``is_bot`` (Boolean; link-preview
        fetchers, excluded). A click before ``sent_at`` or at/after ``sent_at +
        response_window`` does not count.
    receipts
        Optional delivery reports (``message_id``, ``status``); messages with an ``undelivered``
        or ``failed`` report are dropped (they were never exposed).
    response_window
        How long after the send a click still counts as a response to that send's hour.

    Returns
    -------
    polars.DataFrame
        ``messages`` (delivered ones) with ``is_response`` (Boolean).

    Raises
    ------
    SendTimeError
        When a required column is missing.
    """
    _require(messages, ("message_id", "contact_id", "sent_at"), "messages")
    _require(clicks, ("message_id", "clicked_at", "is_bot"), "clicks")
    if receipts is not None:
        _require(receipts, ("message_id", "status"), "receipts")
        lost = receipts.filter(pl.col("status").is_in(_UNDELIVERED)).select("message_id").unique()
        messages = messages.join(lost, on="message_id", how="anti", maintain_order="left")
    human = clicks.filter(~pl.col("is_bot").fill_null(False)).select("message_id", "clicked_at")
    ok = (
        human.join(messages.select("message_id", "sent_at"), on="message_id", how="inner")
        .filter(
            (pl.col("clicked_at") >= pl.col("sent_at"))
            & (pl.col("clicked_at") < pl.col("sent_at") + pl.lit(response_window))
        )
        .select("message_id")
        .unique()
    )
    return messages.with_columns(
        pl.col("message_id").is_in(ok["message_id"].implode()).alias("is_response")
    )


def _require(frame: pl.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SendTimeError(f"{name} lacks column(s) {missing}; it has {frame.columns}")


# -- empirical Bayes --------------------------------------------------------------------------
def fit_prior_strength(
    k: np.ndarray,
    x: np.ndarray,
    m: np.ndarray | float,
    *,
    bounds: tuple[float, float] = (1e-3, 1e7),
) -> float:
    """Prior strength ``s`` maximising the gamma–Poisson marginal likelihood of counts.

    Each cell *i* has ``k_i`` responses at exposure ``x_i`` and rate ``λ_i ~ Gamma(shape s·m_i,
    rate s)`` (prior mean ``m_i``, prior weight ``s`` units of exposure), so ``k_i`` is negative
    binomial and the posterior mean is ``(k_i + s·m_i) / (x_i + s)``. Cells with ``x_i = 0`` or
    ``m_i <= 0`` carry no information and are skipped.

    Parameters
    ----------
    k, x, m
        Responses, exposures and prior means (arrays of one length; ``m`` may be a scalar).
    bounds
        Search range of ``s``. The upper bound means "no detectable spread around the prior"
        (complete pooling).

    Returns
    -------
    float

    References
    ----------
    Clayton, D. & Kaldor, J. (1987). Empirical Bayes estimates of age-standardized relative
    risks for use in disease mapping. *Biometrics* 43(3), 671–681.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(50, 150, 4000)
    >>> lam = rng.gamma(20 * 0.1, 1 / 20, 4000)   # mean 0.1, strength 20
    >>> s = fit_prior_strength(rng.poisson(lam * x), x, 0.1)
    >>> 14 < s < 28
    True
    """
    k = np.asarray(k, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    m = np.broadcast_to(np.asarray(m, dtype=np.float64), k.shape)
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    k, x, m = k[keep], x[keep], m[keep]
    if k.size < 2 or k.sum() == 0:
        return float(bounds[1])
    lgk = special.gammaln(k + 1)

    def nll(log_s: float) -> float:
        s = math.exp(log_s)
        a = s * m
        ll = (
            special.gammaln(k + a)
            - special.gammaln(a)
            - lgk
            - a * np.log1p(x / s)
            + k * (np.log(x) - np.log(s + x))
        )
        return -float(ll.sum())

    res = optimize.minimize_scalar(
        nll,
        bounds=(math.log(bounds[0]), math.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-3},
    )
    return float(math.exp(res.x))


def _shrink(k: np.ndarray, x: np.ndarray, m: np.ndarray, s: float) -> np.ndarray:
    return (k + s * m) / (x + s)


def _campaign_effects(
    y: np.ndarray, x: np.ndarray, *, iterations: int = 100
) -> tuple[np.ndarray, float]:
    """Campaign effects of a campaign × hour-of-week Poisson model, by alternating updates.

    ``y``, ``x``: responses and sends per (campaign, hour of week). Alternates the hour rates
    ``q_w = Σ_j y_jw / Σ_j e_j x_jw`` and the shrunk campaign effects
    ``e_j = (Σ_w y_jw + s) / (Σ_w x_jw q_w + s)`` (``s`` by marginal likelihood, refitted every
    ten rounds) until the rates move by less than 1e-6 (relative).
    """
    y_w, y_j = y.sum(0), y.sum(1)
    e = np.ones(y.shape[0])
    q = np.zeros(y.shape[1])
    s = math.nan
    for it in range(iterations):
        xw = (x * e[:, None]).sum(0)
        q_new = np.where(xw > 0, y_w / np.where(xw > 0, xw, 1.0), 0.0)
        xj = (x * q_new[None, :]).sum(1)
        if it % 10 == 0:
            s = fit_prior_strength(y_j, xj, 1.0)
        e = _shrink(y_j, xj, 1.0, s)
        done = np.allclose(q_new, q, rtol=1e-6, atol=0.0)
        q = q_new
        if done:
            break
    return e, s


def _kernel(bandwidth: float) -> np.ndarray:
    """Circular Gaussian kernel over the 24 hours of the day, ``(24, 24)``."""
    h = np.arange(24)
    d = np.abs(h[:, None] - h[None, :])
    d = np.minimum(d, 24 - d)
    return np.exp(-0.5 * (d / bandwidth) ** 2)


def _profile_fill(q: np.ndarray) -> np.ndarray:
    """A profile with hours of no data replaced by its mean (for exposure sums only)."""
    out = q.copy()
    for row in out.reshape(-1, HOURS_OF_WEEK):
        bad = ~np.isfinite(row)
        if bad.all():
            row[:] = 1.0
        elif bad.any():
            row[bad] = row[~bad].mean()
    return out


_CURVE_BANDWIDTHS = (0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def _smooth_curve(k: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Kernel-smoothed rate over the 24 hours of the day, bandwidth by leave-one-hour-out.

    ``k``, ``x``: responses and exposure per hour. The bandwidth maximises the Poisson
    likelihood of each observed hour's responses predicted from the other hours; hours without
    exposure stay NaN (no extrapolation).
    """
    seen = x > 0
    if seen.sum() < 3 or k.sum() == 0:
        return np.where(seen, k / np.where(seen, x, 1.0), np.nan), math.nan
    best, best_ll = _CURVE_BANDWIDTHS[0], -math.inf
    for bw in _CURVE_BANDWIDTHS:
        kern = _kernel(bw)
        np.fill_diagonal(kern, 0.0)
        rate = (kern @ k) / np.maximum(kern @ x, 1e-300)
        mu = np.maximum(rate[seen] * x[seen], 1e-300)
        ll = float((k[seen] * np.log(mu) - mu).sum())
        if ll > best_ll:
            best, best_ll = bw, ll
    kern = _kernel(best)
    curve = (kern @ k) / np.maximum(kern @ x, 1e-300)
    return np.where(seen, curve, np.nan), best


def _global_profile(k: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Hour-of-week rates shrunk toward a separable day level × hour-of-day curve.

    The hour-of-day curve pools all days (weighted by their day level) and is kernel-smoothed
    over neighbouring hours (bandwidth by leave-one-hour-out likelihood); each hour-of-week cell
    is then shrunk toward its separable rate with a strength fitted by marginal likelihood, so
    days whose hours really differ (a weekend shift) keep their own shape when the data show it.
    """
    k2, x2 = k.reshape(7, 24), x.reshape(7, 24)
    level = np.ones(7)
    curve, bw = np.full(24, np.nan), math.nan
    for _ in range(3):
        curve, bw = _smooth_curve(k2.sum(0), (x2 * level[:, None]).sum(0))
        expected = (np.where(np.isfinite(curve), curve, 0.0)[None, :] * x2).sum(1)
        level = np.where(expected > 0, k2.sum(1) / np.where(expected > 0, expected, 1.0), 1.0)
    sep = (level[:, None] * curve[None, :]).reshape(-1)
    s = fit_prior_strength(k, x, sep)
    q = np.where(x > 0, _shrink(k, x, np.nan_to_num(sep), s), sep)
    q = np.where(np.isfinite(sep) | (x > 0), q, np.nan)
    return q, s, bw


# -- rows: the common input of both fits --------------------------------------------------------
@dataclass
class _Rows:
    """Exposure and response rows: a send (weight 1, y 0/1) or, for event data, an exposure
    (weight = weeks observed, y 0) or an event (weight 0, y 1)."""

    idx: np.ndarray  # int64 contact index
    how: np.ndarray  # int16 local hour of week
    y: np.ndarray  # float32 responses
    weight: np.ndarray | None  # float32 exposure units (None = 1 per row)
    camp: np.ndarray | None  # int32 campaign-variant code, -1 = none
    is_random: np.ndarray  # bool
    t: np.ndarray  # int64 µs, for the validation split

    def subset(self, mask: np.ndarray) -> _Rows:
        return _Rows(
            self.idx[mask],
            self.how[mask],
            self.y[mask],
            None if self.weight is None else self.weight[mask],
            None if self.camp is None else self.camp[mask],
            self.is_random[mask],
            self.t[mask],
        )

    def w(self) -> np.ndarray | float:
        return 1.0 if self.weight is None else self.weight


def _codes(values: pl.Series) -> tuple[np.ndarray, list[Any]]:
    """Dense ``int32`` codes (``-1`` for null) and the sorted distinct values."""
    uniq = values.drop_nulls().unique().sort()
    lookup = pl.DataFrame({"_v": uniq, "_c": np.arange(uniq.len(), dtype=np.int32)})
    joined = pl.DataFrame({"_v": values}).join(lookup, on="_v", how="left", maintain_order="left")
    return joined["_c"].fill_null(-1).to_numpy().astype(np.int32), uniq.to_list()


def _dense_codes(*parts: pl.Series) -> np.ndarray:
    """``int32`` codes of the combination of string columns (``-1`` when the first is null)."""
    combined = np.zeros(parts[0].len(), dtype=np.int64)
    null = parts[0].is_null().to_numpy()
    for s in parts:
        cat = s if s.dtype == pl.Categorical else s.cast(pl.String).cast(pl.Categorical)
        phys = cat.to_physical()
        top = int(phys.max()) + 1 if phys.len() and phys.null_count() < phys.len() else 0
        phys = phys.fill_null(top).to_numpy().astype(np.int64)  # null: its own code
        if phys.size and top > 50_000_000:
            phys = np.unique(phys, return_inverse=True)[1].astype(np.int64)
        width = int(phys.max()) + 1 if phys.size else 1
        combined = combined * width + phys
    if combined.size and combined.max() < 4 * combined.size + 1_000_000:
        present = np.bincount(combined) > 0
        remap = np.cumsum(present) - 1
        out = remap[combined].astype(np.int32)
    else:
        out = np.unique(combined, return_inverse=True)[1].astype(np.int32)
    out[null] = -1
    return out


def _book_codes(keys: pl.DataFrame, book: dict[tuple[Any, ...], int]) -> np.ndarray:
    """``int32`` codes of the rows of ``keys`` (campaign, variant) from ``book``, which gets a new
    code for each combination it has not seen (in sorted order); ``-1`` when the first is null."""
    cols = keys.columns
    uniq = keys.unique().filter(pl.col(cols[0]).is_not_null()).sort(cols, nulls_last=True)
    for row in uniq.iter_rows():
        book.setdefault(row, len(book))
    lookup = uniq.with_columns(
        pl.Series("_c", [book[row] for row in uniq.iter_rows()], dtype=pl.Int32)
    )
    joined = keys.join(lookup, on=cols, how="left", nulls_equal=True, maintain_order="left")
    return joined["_c"].fill_null(-1).to_numpy().astype(np.int32)


def _index_of(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each value in the sorted unique ``ids`` (``-1`` when absent)."""
    if ids.size == 0:
        return np.full(values.size, -1, dtype=np.int64)
    lo = int(ids[0])
    if int(ids[-1]) - lo + 1 == ids.size:  # dense ids: no search needed
        pos = values.astype(np.int64) - lo
        ok = (pos >= 0) & (pos < ids.size)
        return np.where(ok, pos, -1)
    pos = np.searchsorted(ids, values)
    pos = np.minimum(pos, ids.size - 1)
    return np.where(ids[pos] == values, pos, -1).astype(np.int64)


def _bincount2(
    idx: np.ndarray,
    col: np.ndarray,
    ncol: int,
    n: int,
    weights: np.ndarray | None,
    chunk: int = 2_000_000,
) -> np.ndarray:
    """``(n, ncol)`` float32 sums of ``weights`` by (row index, column), in contact chunks."""
    out = np.zeros((n, ncol), dtype=np.float32)
    if idx.size == 0 or n == 0:
        return out
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        sel = (idx >= lo) & (idx < hi) if (lo > 0 or hi < n) else slice(None)
        key = (idx[sel] - lo) * ncol + col[sel]
        w = None if weights is None else weights[sel]
        out[lo:hi] = np.bincount(key, w, minlength=(hi - lo) * ncol).reshape(hi - lo, ncol)
    return out


# -- the model ----------------------------------------------------------------------------------
class SendTimeModel:
    """Per-contact response rate by local hour of week, with hierarchical shrinkage.

    Parameters
    ----------
    segment_column
        Column of the ``contacts`` frame naming each contact's segment (e.g. ``rfm_segment``);
        ``None``: contacts fall back to the global profile directly.
    response_window_hours
        A human click counts as a response to a send when it comes within this many hours.
    bandwidth_hours, contact_strength, dow_strength
        Kernel bandwidth over hours of day, and prior strengths (in expected responses) of a
        contact's hour and day shapes; ``"auto"`` chooses them by held-out likelihood;
        ``dow_strength=math.inf`` disables the per-contact day shape.
    level_strength, segment_strength
        Prior strengths of the contact level and of the segment profiles; ``"auto"``: marginal
        maximum likelihood.
    min_contact_responses, min_segment_responses, min_global_responses
        Thresholds of the fallback chain (see the module docstring).
    default_local_hour
        Hour of the ``default`` level (when there is no data at all).
    use_random_sends
        ``"auto"``: estimate profiles from randomised-hour sends when they hold at least
        ``min_random_responses`` responses, else from all sends; ``"always"`` / ``"never"``.
    min_random_responses
        See ``use_random_sends``.
    validation_days, max_tuning_contacts
        Length of the held-out tail of the history and contact sample used by ``"auto"``.
    random_state
        Seed of the tuning sample.

    Attributes
    ----------
    contact_ids_
        Sorted contact ids known at fit (Int64 numpy array).
    profiles_
        ``(n_profiles, 168)`` response rate per hour of week: row 0 global, then one per
        segment in :attr:`segments_` order, then the default profile; NaN where no data.
    segments_
        Segment names (sorted).
    levels_
        Per known contact, its fallback level code (index into :data:`LEVELS`).
    hyperparameters_
        The chosen strengths and bandwidth, and where each came from.
    tuning_
        The grid of held-out log-likelihoods (``None`` when nothing was tuned).
    campaign_effects_
        ``None``, or a frame of campaign effects (when identifiable).
    n_rows_, n_dropped_
        Rows used, and dropped (unknown contact or time zone).
    """

    def __init__(
        self,
        *,
        segment_column: str | None = None,
        response_window_hours: float = 24.0,
        bandwidth_hours: float | Literal["auto"] = "auto",
        contact_strength: float | Literal["auto"] = "auto",
        dow_strength: float | Literal["auto"] = "auto",
        level_strength: float | Literal["auto"] = "auto",
        segment_strength: float | Literal["auto"] = "auto",
        min_contact_responses: int = 1,
        min_segment_responses: int = 100,
        min_global_responses: int = 30,
        default_local_hour: int = 12,
        use_random_sends: Literal["auto", "always", "never"] = "auto",
        min_random_responses: int = 200,
        validation_days: int = 60,
        max_tuning_contacts: int = 100_000,
        random_state: int = 0,
    ) -> None:
        self.segment_column = segment_column
        self.response_window_hours = response_window_hours
        self.bandwidth_hours = bandwidth_hours
        self.contact_strength = contact_strength
        self.dow_strength = dow_strength
        self.level_strength = level_strength
        self.segment_strength = segment_strength
        self.min_contact_responses = min_contact_responses
        self.min_segment_responses = min_segment_responses
        self.min_global_responses = min_global_responses
        self.default_local_hour = default_local_hour
        self.use_random_sends = use_random_sends
        self.min_random_responses = min_random_responses
        self.validation_days = validation_days
        self.max_tuning_contacts = max_tuning_contacts
        self.random_state = random_state

    def __repr__(self) -> str:
        return f"SendTimeModel(segment_column={self.segment_column!r})"

    # -- fitting --------------------------------------------------------------------------------
    def fit(
        self,
        messages: pl.DataFrame,
        clicks: pl.DataFrame | None = None,
        *,
        contacts: pl.DataFrame,
        receipts: pl.DataFrame | None = None,
    ) -> SendTimeModel:
        """Fit on past sends and their clicks.

        Parameters
        ----------
        messages
            One row per send: ``contact_id`` (Int64), ``sent_at`` (Datetime UTC), and
            ``message_id`` when ``clicks`` is given; optional ``send_time_policy`` (String,
            ``random`` marks randomised-hour sends), ``campaign_id`` and ``variant`` (String).
            Without ``clicks``, an ``is_response`` (Boolean) column is required.
        clicks
            ``message_id``, ``clicked_at``, ``is_bot``: labelled with :func:`label_responses`
            (bots excluded, ``response_window_hours``).
        contacts
            ``contact_id`` (Int64), ``timezone`` (IANA String; contacts without one are left out:
            their local hour is unknown) and the ``segment_column`` when set.
        receipts
            Optional delivery reports: undelivered sends are not exposures.

        Returns
        -------
        SendTimeModel
            ``self``.

        Raises
        ------
        SendTimeError
            For missing columns or an empty history.
        """
        rows = self._send_rows(messages, clicks, contacts, receipts)
        self.data_kind_ = "sends"
        return self._fit_rows(rows)

    def _send_rows(
        self,
        messages: pl.DataFrame,
        clicks: pl.DataFrame | None,
        contacts: pl.DataFrame,
        receipts: pl.DataFrame | None,
        *,
        campaign_book: dict[tuple[Any, ...], int] | None = None,
        segments: Sequence[str] | None = None,
    ) -> _Rows:
        """The rows of :meth:`fit`; indexes ``contacts`` (sets ``contact_ids_``, ``segments_``)
        and ``n_dropped_``. With ``campaign_book`` (campaign key -> code, extended in place),
        campaign codes are shared across calls; with ``segments``, segment codes are those of
        that list (other segments: none)."""
        if clicks is not None:
            sends = label_responses(
                messages,
                clicks,
                receipts=receipts,
                response_window=dt.timedelta(hours=self.response_window_hours),
            )
        else:
            _require(messages, ("contact_id", "sent_at", "is_response"), "messages")
            sends = messages
        _require(sends, ("contact_id", "sent_at"), "messages")
        table, zone_codes = self._index_contacts(
            contacts, to_epoch_us(sends["sent_at"]), segments=segments
        )
        t = to_epoch_us(sends["sent_at"])
        idx = _index_of(self.contact_ids_, sends["contact_id"].to_numpy())
        zone = np.where(idx >= 0, zone_codes[np.maximum(idx, 0)], -1)
        keep = zone >= 0
        camp = None
        if "campaign_id" in sends.columns:
            keys = ["campaign_id", *(["variant"] if "variant" in sends.columns else [])]
            if campaign_book is None:
                camp = _dense_codes(*(sends[k] for k in keys))
            else:
                camp = _book_codes(sends.select(keys), campaign_book)
        is_random = (
            (sends["send_time_policy"] == "random").fill_null(False).to_numpy()
            if "send_time_policy" in sends.columns
            else np.zeros(sends.height, dtype=bool)
        )
        rows = _Rows(
            idx=idx,
            how=table.hour_of_week(zone, np.where(keep, t, t.min() if t.size else 0)),
            y=sends["is_response"].fill_null(False).to_numpy().astype(np.float32),
            weight=None,
            camp=camp,
            is_random=is_random,
            t=t,
        )
        self.n_dropped_ = int((~keep).sum())
        if not keep.all():
            rows = rows.subset(keep)
        return rows

    def fit_partitioned(
        self,
        partitions: Iterable[Callable[[], tuple[pl.DataFrame, pl.DataFrame | None, pl.DataFrame]]],
    ) -> SendTimeModel:
        """Fit on a history too large for memory, one partition of contacts at a time.

        The population parameters (global and segment profiles, campaign effects, the prior
        strengths and the contact-shape hyperparameters) are fitted by :meth:`fit` on the first
        partition; every contact's own parameters (level, hour and day shapes, fallback level)
        are then computed partition by partition with those population parameters held fixed,
        exactly as :meth:`fit` computes them. Only one partition's sends are in memory at a time.

        With one partition this is :meth:`fit`. With several, each contact's parameters are what
        :meth:`fit` would give with the population parameters of the first partition: the first
        partition should be a random sample of the contacts (a partition by contact id of a base
        whose ids carry no meaning is one) and large enough for the profiles (a million contacts
        is plenty: the population parameters are a few thousand numbers).

        Parameters
        ----------
        partitions
            Callables, each returning ``(messages, clicks, contacts)`` of one partition (the
            arguments of :meth:`fit`; ``clicks`` may be ``None`` when ``messages`` has
            ``is_response``). The partitions' contacts must be disjoint; a send of a contact of
            another partition is dropped (counted in ``n_dropped_``).

        Returns
        -------
        SendTimeModel
            ``self``; ``partitions_`` holds the number of partitions and ``population_`` the
            contacts and sends the population parameters come from.

        Raises
        ------
        SendTimeError
            For no partition, a contact in two partitions, or what :meth:`fit` raises.

        Examples
        --------
        >>> import polars as pl, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
        >>> def part(first):
        ...     ids = [first + i % 50 for i in range(2000)]
        ...     sent = [t0 + dt.timedelta(hours=i % 200) for i in range(2000)]
        ...     msgs = pl.DataFrame({"contact_id": ids, "sent_at": sent,
        ...                          "is_response": [i % 7 == 0 for i in range(2000)]})
        ...     contacts = pl.DataFrame({"contact_id": range(first, first + 50),
        ...                              "timezone": ["Europe/Paris"] * 50})
        ...     return lambda: (msgs, None, contacts)
        >>> model = SendTimeModel(bandwidth_hours=2.0, contact_strength=1.0, dow_strength=math.inf)
        >>> model = model.fit_partitioned([part(1), part(51)])
        >>> model.predict(range(1, 101)).height, model.partitions_
        (100, 2)
        """
        loaders = iter(partitions)
        first = next(loaders, None)
        if first is None:
            raise SendTimeError("fit_partitioned needs at least one partition")
        book: dict[tuple[Any, ...], int] = {}
        messages, clicks, contacts = first()
        rows = self._send_rows(messages, clicks, contacts, None, campaign_book=book)
        del messages, clicks, contacts
        self.data_kind_ = "sends"
        self._fit_rows(rows)
        self.population_ = {"contacts": int(self.contact_ids_.size), "sends": int(rows.idx.size)}
        del rows
        hp = {
            k: self.hyperparameters_[k]
            for k in ("bandwidth_hours", "contact_strength", "dow_strength")
        }
        tau = self.hyperparameters_["level_strength"]
        names = (
            "contact_ids_",
            "_contact_segment",
            "_contact_profile",
            "_level",
            "_responses",
            "_exposure",
            "_own_index",
            "levels_",
            "_hour_shape",
            "_dow_shape",
        )
        parts: dict[str, list[Any]] = {name: [getattr(self, name)] for name in names}
        n_rows, n_dropped, n_own = self.n_rows_, self.n_dropped_, self._hour_shape.shape[0]
        count = 1
        for load in loaders:
            messages, clicks, contacts = load()
            scratch = SendTimeModel(segment_column=self.segment_column)
            scratch.response_window_hours = self.response_window_hours
            rows = scratch._send_rows(
                messages, clicks, contacts, None, campaign_book=book, segments=self.segments_
            )
            del messages, clicks, contacts
            n_dropped += scratch.n_dropped_
            n_rows += int(rows.idx.size)
            prof = self._profile_of(scratch._contact_segment)
            rate_row, x_row = self._row_rates(rows, prof, self._campaign_exposure(rows))
            del rate_row
            n = scratch.contact_ids_.size
            k_c = np.bincount(rows.idx, rows.y, minlength=n)
            x_c = np.bincount(rows.idx, x_row, minlength=n)
            state = self._contact_levels(k_c, x_c, tau, prof)
            hour, dow = self._shapes(rows, x_row, state["_level"], state["_own_index"], hp)
            del rows, x_row
            own = state["_own_index"] >= 0
            state["_own_index"] = np.where(own, state["_own_index"] + n_own, -1)
            n_own += hour.shape[0]
            state.update(
                contact_ids_=scratch.contact_ids_,
                _contact_segment=scratch._contact_segment,
                _contact_profile=prof,
                _hour_shape=hour,
                _dow_shape=dow,
            )
            for name in names:
                parts[name].append(state[name])
            count += 1
        if count > 1:
            ids = np.concatenate(parts["contact_ids_"])
            order = np.argsort(ids, kind="stable")
            ids = ids[order]
            if ids.size > 1 and (ids[1:] == ids[:-1]).any():
                dup = int(ids[1:][ids[1:] == ids[:-1]][0])
                raise SendTimeError(f"contact {dup} is in more than one partition")
            for name in names:
                if name in ("_hour_shape", "_dow_shape"):
                    if parts[name][0] is not None:
                        setattr(self, name, np.concatenate(parts[name]))
                    continue
                setattr(self, name, np.concatenate(parts[name])[order])
            self.n_rows_, self.n_dropped_ = n_rows, n_dropped
        self.partitions_ = count
        return self

    def _campaign_exposure(self, rows: _Rows) -> np.ndarray:
        """Each row's exposure times its campaign's effect, with the fitted effects (a campaign
        the fit did not see: 1, the prior mean)."""
        w = rows.w()
        effect = self._campaign_effect
        if effect is None or rows.camp is None:
            return np.asarray(np.broadcast_to(np.float32(1.0), rows.idx.shape) * w, np.float32)
        known = effect.size - 1  # the last group: sends without a campaign
        camp = rows.camp
        e = np.where(camp < 0, effect[known], 1.0)
        seen = (camp >= 0) & (camp < known)
        e[seen] = effect[camp[seen]]
        return (w * e).astype(np.float32)

    def fit_events(
        self,
        events: pl.DataFrame,
        *,
        contacts: pl.DataFrame,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> SendTimeModel:
        """Fit on spontaneous events (orders, visits) instead of responses to sends.

        Every hour of the week is equally exposed: a contact observed for ``T`` weeks had ``T``
        chances of each hour of week, so the model estimates each contact's events per hour of
        week, and :meth:`predict_distribution` their distribution over the week.

        Parameters
        ----------
        events
            ``contact_id`` (Int64), ``event_at`` (Datetime UTC).
        contacts
            ``contact_id``, ``timezone`` and the ``segment_column`` when set.
        start, end
            Observation period (default: first event, and the instant after the last).
        """
        _require(events, ("contact_id", "event_at"), "events")
        t = to_epoch_us(events["event_at"])
        if t.size == 0:
            raise SendTimeError("events is empty: nothing to fit")
        t0 = int(to_epoch_us(pl.Series([start]))[0]) if start else int(t.min())
        t1 = int(to_epoch_us(pl.Series([end]))[0]) if end else int(t.max()) + 1
        table, zone_codes = self._index_contacts(contacts, np.array([t0, t1], dtype=np.int64))
        idx = _index_of(self.contact_ids_, events["contact_id"].to_numpy())
        zone = np.where(idx >= 0, zone_codes[np.maximum(idx, 0)], -1)
        keep = (zone >= 0) & (t >= t0) & (t < t1)
        self.n_dropped_ = int((~keep).sum())
        idx, zone, t = idx[keep], zone[keep], t[keep]
        known = np.flatnonzero(zone_codes >= 0)
        # exposure rows: per contact and hour of week, weeks observed, split at the validation
        # boundary so that the held-out tail has its own exposure
        split = max(t0, t1 - self.validation_days * DAY_US)
        parts_idx, parts_how, parts_w, parts_t = [], [], [], []
        for lo, hi in ((t0, split), (split, t1)):
            weeks = (hi - lo) / (7 * DAY_US)
            if weeks <= 0:
                continue
            parts_idx.append(np.repeat(known, HOURS_OF_WEEK))
            parts_how.append(np.tile(np.arange(HOURS_OF_WEEK, dtype=np.int16), known.size))
            parts_w.append(np.full(known.size * HOURS_OF_WEEK, weeks, dtype=np.float32))
            parts_t.append(np.full(known.size * HOURS_OF_WEEK, lo, dtype=np.int64))
        how = table.hour_of_week(zone, t)
        rows = _Rows(
            idx=np.concatenate([*parts_idx, idx]),
            how=np.concatenate([*parts_how, how]).astype(np.int16),
            y=np.concatenate(
                [
                    np.zeros(sum(p.size for p in parts_idx), np.float32),
                    np.ones(idx.size, np.float32),
                ]
            ),
            weight=np.concatenate([*parts_w, np.zeros(idx.size, np.float32)]),
            camp=None,
            is_random=np.ones(sum(p.size for p in parts_idx) + idx.size, dtype=bool),
            t=np.concatenate([*parts_t, t]),
        )
        self.data_kind_ = "events"
        return self._fit_rows(rows, split=split)

    def _index_contacts(
        self, contacts: pl.DataFrame, t: np.ndarray, *, segments: Sequence[str] | None = None
    ) -> tuple[ZoneOffsets, np.ndarray]:
        cols = ["contact_id", "timezone"] + ([self.segment_column] if self.segment_column else [])
        _require(contacts, cols, "contacts")
        frame = contacts.select(cols).unique("contact_id", keep="first").sort("contact_id")
        self.contact_ids_ = frame["contact_id"].cast(pl.Int64).to_numpy()
        table = ZoneOffsets.covering(frame["timezone"].unique().to_list(), t)
        zone_codes = table.codes(frame["timezone"])
        if self.segment_column and segments is not None:
            lookup = {name: i for i, name in enumerate(segments)}
            values = frame[self.segment_column].cast(pl.String).to_list()
            seg = np.array([lookup.get(v, -1) for v in values], dtype=np.int32)
            names = list(segments)
        elif self.segment_column:
            seg, names = _codes(frame[self.segment_column].cast(pl.String))
        else:
            seg, names = np.full(frame.height, -1, dtype=np.int32), []
        self.segments_ = [str(s) for s in names]
        self._contact_segment = seg
        return table, zone_codes

    def _fit_rows(self, rows: _Rows, split: int | None = None) -> SendTimeModel:
        n = self.contact_ids_.size
        if rows.idx.size == 0:
            raise SendTimeError(
                "no usable history: no send (or event) of a known contact with a known time zone"
            )
        self.n_rows_ = int(rows.idx.size)
        seg_of_row = self._contact_segment[rows.idx]
        n_seg = len(self.segments_)
        # 1. profiles and campaign effects ---------------------------------------------------
        n_random_resp = float(rows.y[rows.is_random].sum())
        if self.use_random_sends == "always" and n_random_resp == 0:
            raise SendTimeError("use_random_sends='always' but no randomised send got a response")
        randomised = self.use_random_sends == "always" or (
            self.use_random_sends == "auto" and n_random_resp >= self.min_random_responses
        )
        w = rows.w()
        s_camp = math.nan
        self._campaign_effect = None
        if randomised and rows.camp is not None:
            # campaign (variant) x hour-of-week Poisson model on all sends: randomised sends tie
            # each campaign to many hours, which identifies both effects
            n_grp = int(rows.camp.max()) + 2 if rows.camp.size else 1
            grp = np.where(rows.camp >= 0, rows.camp, n_grp - 1).astype(np.int64)
            key = grp * HOURS_OF_WEEK + rows.how
            y_jw = np.bincount(key, rows.y, minlength=n_grp * HOURS_OF_WEEK).reshape(n_grp, -1)
            x_jw = np.bincount(
                key, w if isinstance(w, np.ndarray) else None, minlength=n_grp * HOURS_OF_WEEK
            ).reshape(n_grp, -1)
            effect, s_camp = _campaign_effects(y_jw, x_jw)
            self._campaign_effect = effect
            ex = (w * effect[grp]).astype(np.float32)
            src = np.ones(rows.idx.size, dtype=bool)
            self.profile_source_ = "all sends, campaign effects identified by randomised sends"
        elif randomised:
            ex = np.broadcast_to(np.float32(1.0), rows.idx.shape) * w
            src = rows.is_random
            self.profile_source_ = "randomised sends"
        else:
            ex = np.broadcast_to(np.float32(1.0), rows.idx.shape) * w
            src = np.ones(rows.idx.size, dtype=bool)
            self.profile_source_ = (
                "all sends (hours confounded with campaigns: no randomised sends)"
            )
        ex = np.asarray(ex, dtype=np.float32)
        how_s = rows.how[src]
        k_g = np.bincount(how_s, rows.y[src], minlength=HOURS_OF_WEEK)
        x_g = np.bincount(how_s, ex[src], minlength=HOURS_OF_WEEK)
        q_g, s_global, curve_bw = _global_profile(k_g, x_g)
        # segments: from randomised sends when there are any (a segment's response to a
        # fixed-hour campaign differs from the campaign's average, which would bias that hour)
        src_s = rows.is_random if randomised else src
        q_seg, s_seg, seg_resp = self._segment_profiles(
            q_g, seg_of_row[src_s], rows.how[src_s], rows.y[src_s], ex[src_s], n_seg
        )
        self.campaign_effect_strength_ = s_camp
        # 2. profile table and the fallback chain ----------------------------------------------
        default = self._default_profile()
        self.profiles_ = np.vstack([q_g[None, :], q_seg, default[None, :]]).astype(np.float64)
        self.profile_responses_ = np.concatenate([[k_g.sum()], seg_resp, [0.0]])
        prof = self._profile_of(self._contact_segment)
        self._contact_profile = prof
        # 3. contact levels -----------------------------------------------------------------------
        rate_row, x_row = self._row_rates(rows, prof, ex)
        del ex
        k_c = np.bincount(rows.idx, rows.y, minlength=n)
        x_c = np.bincount(rows.idx, x_row, minlength=n)
        if self.level_strength == "auto":
            rng = np.random.default_rng(self.random_state)
            cand = np.flatnonzero(x_c > 0)
            if cand.size > 200_000:
                cand = rng.choice(cand, 200_000, replace=False)
            tau = fit_prior_strength(k_c[cand], x_c[cand], 1.0)
            tau_src = "marginal likelihood"
        else:
            tau, tau_src = float(self.level_strength), "given"
        for name, value in self._contact_levels(k_c, x_c, tau, prof).items():
            setattr(self, name, value)
        # 4. hyperparameters of the contact shapes -------------------------------------------
        hp = {
            "bandwidth_hours": self.bandwidth_hours,
            "contact_strength": self.contact_strength,
            "dow_strength": self.dow_strength,
        }
        self.tuning_ = None
        if any(v == "auto" for v in hp.values()):
            hp, self.tuning_ = self._tune(rows, rate_row, x_row, tau, hp, split)
        del rate_row
        self.hyperparameters_ = {
            **{k: float(v) for k, v in hp.items()},
            "level_strength": float(tau),
            "segment_strength": float(s_seg),
            "global_strength": float(s_global),
            "campaign_effect_strength": float(s_camp),
            "global_curve_bandwidth_hours": float(curve_bw),
            "sources": {
                "bandwidth_hours": "given"
                if self.bandwidth_hours != "auto"
                else "held-out likelihood",
                "contact_strength": "given"
                if self.contact_strength != "auto"
                else "held-out likelihood",
                "dow_strength": "given" if self.dow_strength != "auto" else "held-out likelihood",
                "level_strength": tau_src,
                "segment_strength": (
                    "no segments"
                    if not n_seg
                    else "given"
                    if self.segment_strength != "auto"
                    else "marginal likelihood"
                ),
                "global_strength": "marginal likelihood",
                "global_curve_bandwidth_hours": "leave-one-hour-out likelihood",
                "campaign_effect_strength": (
                    "marginal likelihood" if self._campaign_effect is not None else "not estimated"
                ),
            },
        }
        # 5. contact shapes ------------------------------------------------------------------------
        self._hour_shape, self._dow_shape = self._shapes(
            rows, x_row, self._level, self._own_index, hp
        )
        return self

    # -- the per-contact part of a fit (shared by fit and fit_partitioned) ----------------------
    def _profile_of(self, seg: np.ndarray) -> np.ndarray:
        """Profile row of each contact (its segment's, the global or the default one)."""
        n_seg = len(self.segments_)
        global_ok = float(self.profile_responses_[0]) >= self.min_global_responses
        seg_ok = self.profile_responses_[1 : n_seg + 1] >= self.min_segment_responses
        seg_ok = np.append(seg_ok, False)  # index n_seg: no segment
        seg_idx = np.where(seg >= 0, seg, n_seg)
        return np.where(
            seg_ok[seg_idx] & global_ok, 1 + seg_idx, 0 if global_ok else n_seg + 1
        ).astype(np.int32)

    def _row_rates(
        self, rows: _Rows, prof: np.ndarray, ex: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Expected responses per unit of exposure (rate) and per row (x = weight × rate);
        ``ex`` is each row's exposure with its campaign effect."""
        w = rows.w()
        qfill = _profile_fill(self.profiles_)
        rate_row = (
            qfill[prof[rows.idx], rows.how] * (ex / w if self._campaign_effect is not None else 1.0)
        ).astype(np.float32)
        return rate_row, (rate_row * w).astype(np.float32)

    def _contact_levels(
        self, k_c: np.ndarray, x_c: np.ndarray, tau: float, prof: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Per contact: shrunk level, responses, exposure, index of its own shape, level code."""
        n_seg = len(self.segments_)
        own = k_c >= self.min_contact_responses if self.min_contact_responses > 0 else x_c > 0
        own_idx = np.full(k_c.size, -1, dtype=np.int64)
        own_idx[own] = np.arange(int(own.sum()))
        levels = np.where(own, 0, np.where(prof == n_seg + 1, 3, np.where(prof == 0, 2, 1)))
        return {
            "_level": _shrink(k_c, x_c, 1.0, tau).astype(np.float32),
            "_responses": k_c.astype(np.int32),
            "_exposure": x_c.astype(np.float32),
            "_own_index": own_idx,
            "levels_": levels.astype(np.int8),
        }

    def _shapes(
        self,
        rows: _Rows,
        x_row: np.ndarray,
        level: np.ndarray,
        own_idx: np.ndarray,
        hp: dict[str, Any],
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Hour shapes (and day shapes unless ``dow_strength`` is infinite) of own-data contacts."""
        sel = own_idx[rows.idx] >= 0
        j = own_idx[rows.idx[sel]]
        xa = x_row[sel] * level[rows.idx[sel]]
        hour, dow = _contact_shapes(
            j,
            rows.how[sel],
            rows.y[sel],
            xa,
            int((own_idx >= 0).sum()),
            **{k: float(v) for k, v in hp.items()},
        )
        return hour, None if math.isinf(float(hp["dow_strength"])) else dow

    def _default_profile(self) -> np.ndarray:
        d = np.abs(_HOD - self.default_local_hour)
        d = np.minimum(d, 24 - d)
        return 1e-6 * np.exp(-d.astype(np.float64))

    def _segment_profiles(
        self,
        q_g: np.ndarray,
        seg: np.ndarray,
        how: np.ndarray,
        y: np.ndarray,
        x: np.ndarray,
        n_seg: int,
    ) -> tuple[np.ndarray, float, np.ndarray]:
        if n_seg == 0:
            return np.zeros((0, HOURS_OF_WEEK)), math.nan, np.zeros(0)
        has = seg >= 0
        key = seg[has].astype(np.int64) * HOURS_OF_WEEK + how[has]
        k = np.bincount(key, y[has], minlength=n_seg * HOURS_OF_WEEK).reshape(n_seg, HOURS_OF_WEEK)
        xx = np.bincount(key, x[has], minlength=n_seg * HOURS_OF_WEEK).reshape(n_seg, HOURS_OF_WEEK)
        qf = np.where(np.isfinite(q_g), q_g, 0.0)
        expected = (xx * qf[None, :]).sum(1)
        level = (k.sum(1) + 1.0) / (expected + 1.0)  # a Gamma(1, 1) prior around the global level
        prior = level[:, None] * q_g[None, :]
        if self.segment_strength == "auto":
            s = fit_prior_strength(k.reshape(-1), xx.reshape(-1), np.nan_to_num(prior.reshape(-1)))
        else:
            s = float(self.segment_strength)
        q = np.where(xx > 0, _shrink(k, xx, np.nan_to_num(prior), s), prior)
        q = np.where(np.isfinite(prior) | (xx > 0), q, np.nan)
        return q, s, k.sum(1)

    def _tune(
        self,
        rows: _Rows,
        rate_row: np.ndarray,
        x_row: np.ndarray,
        tau: float,
        hp: dict[str, Any],
        split: int | None = None,
    ) -> tuple[dict[str, float], pl.DataFrame | None]:
        """Grid search of the contact-shape hyperparameters by held-out Poisson likelihood.

        Fits the contact levels and shapes on the rows before ``split`` (default
        ``max(t) - validation_days``) and
        scores ``Σ y log λ - Σ weight λ`` of the later rows (per response), for contacts with
        own data in the early part (a sample of at most ``max_tuning_contacts``).
        """
        fixed = {k: (None if v == "auto" else float(v)) for k, v in hp.items()}
        fallback = {k: (v if v is not None else _DEFAULTS[k]) for k, v in fixed.items()}
        if split is None:
            split = int(rows.t.max()) - self.validation_days * DAY_US
        early = rows.t < split
        n = self.contact_ids_.size
        k_e = np.bincount(rows.idx[early], rows.y[early], minlength=n)
        own_e = k_e >= max(self.min_contact_responses, 1)
        late = ~early & own_e[rows.idx]
        cand = np.flatnonzero(np.bincount(rows.idx[late], minlength=n))
        if cand.size == 0 or rows.y[late].sum() < 50:
            return fallback, None
        rng = np.random.default_rng(self.random_state)
        if cand.size > self.max_tuning_contacts:
            cand = np.sort(rng.choice(cand, self.max_tuning_contacts, replace=False))
        sub = np.full(n, -1, dtype=np.int64)
        sub[cand] = np.arange(cand.size)
        in_e = early & (sub[rows.idx] >= 0)
        in_l = late & (sub[rows.idx] >= 0)
        x_e = np.bincount(rows.idx[in_e], x_row[in_e], minlength=n)[cand]
        a_e = _shrink(k_e[cand], x_e, 1.0, tau)
        j_e = sub[rows.idx[in_e]]
        xa_e = x_row[in_e] * a_e[j_e]
        j_l, how_l, y_l = sub[rows.idx[in_l]], rows.how[in_l], rows.y[in_l].astype(np.float64)
        r_l = rate_row[in_l].astype(np.float64) * a_e[j_l]
        w_l = 1.0 if rows.weight is None else rows.weight[in_l].astype(np.float64)
        hod_l, dow_l = how_l % 24, how_l // 24
        # cells of the early history, computed once for the whole grid
        k_cells = _bincount2(j_e, rows.how[in_e], HOURS_OF_WEEK, cand.size, rows.y[in_e]).reshape(
            -1, 7, 24
        )
        x_cells = _bincount2(j_e, rows.how[in_e], HOURS_OF_WEEK, cand.size, xa_e).reshape(-1, 7, 24)
        k_h, x_h, k_d = k_cells.sum(1), x_cells.sum(1), k_cells.sum(2)
        shapes: dict[tuple[float, float], np.ndarray] = {}

        def score(bw: float, kappa: float, kd: float) -> float:
            if (bw, kappa) not in shapes:
                shapes[(bw, kappa)] = _hour_shape(k_h, x_h, bw, kappa)
            u = shapes[(bw, kappa)]
            lam = r_l * u[j_l, hod_l]
            if not math.isinf(kd):
                v = _dow_shape(k_d, (x_cells * u[:, None, :]).sum(2), kd)
                lam = lam * v[j_l, dow_l]
            lam = np.maximum(lam, 1e-12)
            return float(((y_l * np.log(lam)).sum() - (w_l * lam).sum()) / max(y_l.sum(), 1.0))

        grid = []
        bws = _BANDWIDTHS if fixed["bandwidth_hours"] is None else (fixed["bandwidth_hours"],)
        kappas = _STRENGTHS if fixed["contact_strength"] is None else (fixed["contact_strength"],)
        for bw in bws:
            for kappa in kappas:
                grid.append((bw, kappa, math.inf, score(bw, kappa, math.inf)))
        bw, kappa = max(grid, key=lambda r: r[3])[:2]
        kds = _DOW_STRENGTHS if fixed["dow_strength"] is None else (fixed["dow_strength"],)
        for kd in kds:
            if not math.isinf(kd) or fixed["dow_strength"] is not None:
                grid.append((bw, kappa, kd, score(bw, kappa, kd)))
        best = max(grid, key=lambda r: r[3])
        table = pl.DataFrame(
            grid,
            schema={
                "bandwidth_hours": pl.Float64,
                "contact_strength": pl.Float64,
                "dow_strength": pl.Float64,
                "heldout_loglik_per_response": pl.Float64,
            },
            orient="row",
        )
        return {
            "bandwidth_hours": best[0],
            "contact_strength": best[1],
            "dow_strength": best[2],
        }, table

    # -- prediction -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "profiles_"):
            raise SendTimeError("this SendTimeModel is not fitted yet; call fit() first")

    def _rows_for(
        self, contacts: pl.DataFrame | pl.Series | np.ndarray | Sequence[int]
    ) -> dict[str, np.ndarray]:
        """Per requested contact: own-shape index, profile index, level, level code."""
        self._check_fitted()
        if isinstance(contacts, pl.DataFrame):
            _require(contacts, ("contact_id",), "contacts")
            ids = contacts["contact_id"].cast(pl.Int64).to_numpy()
        else:
            ids = np.asarray(pl.Series(contacts).cast(pl.Int64).to_numpy())
        pos = _index_of(self.contact_ids_, ids)
        known = pos >= 0
        safe = np.maximum(pos, 0)
        n_seg = len(self.segments_)
        global_ok = self.profile_responses_[0] >= self.min_global_responses
        prof = np.where(known, self._contact_profile[safe], 0 if global_ok else n_seg + 1)
        if (
            isinstance(contacts, pl.DataFrame)
            and self.segment_column
            and self.segment_column in contacts.columns
        ):
            lookup = {name: i for i, name in enumerate(self.segments_)}
            seg = np.array(
                [lookup.get(s, -1) for s in contacts[self.segment_column].cast(pl.String).to_list()]
            )
            seg_ok = np.zeros(n_seg + 1, dtype=bool)
            seg_ok[:n_seg] = self.profile_responses_[1 : n_seg + 1] >= self.min_segment_responses
            from_seg = (seg >= 0) & seg_ok[np.where(seg >= 0, seg, n_seg)] & global_ok
            prof = np.where(from_seg, 1 + seg, np.where(global_ok, 0, n_seg + 1))
        own = np.where(known, self._own_index[safe], -1)
        level = np.where(known, self._level[safe], 1.0).astype(np.float64)
        code = np.where(own >= 0, 0, np.where(prof == n_seg + 1, 3, np.where(prof == 0, 2, 1)))
        return {
            "contact_id": ids,
            "own": own,
            "profile": prof.astype(np.int64),
            "level": level,
            "code": code.astype(np.int8),
            "responses": np.where(known, self._responses[safe], 0),
            "exposure": np.where(known, self._exposure[safe], 0.0),
        }

    def _scores(
        self, r: dict[str, np.ndarray], rows: slice | np.ndarray, cols: np.ndarray
    ) -> np.ndarray:
        """Expected response rate ``(len(rows), len(cols))`` (float32; NaN where no data)."""
        own = r["own"][rows]
        q = self.profiles_[:, cols].astype(np.float32)
        s = q[r["profile"][rows]] * r["level"][rows].astype(np.float32)[:, None]
        has = own >= 0
        if has.any():
            j = own[has]
            shape = self._hour_shape[j][:, _HOD[cols]]
            if self._dow_shape is not None:
                shape *= self._dow_shape[j][:, _DOW[cols]]
            s[has] *= shape
        return s

    def predict_scores(
        self, contacts: pl.DataFrame | pl.Series | np.ndarray | Sequence[int]
    ) -> np.ndarray:
        """Expected response rate of each contact at each local hour of week.

        Parameters
        ----------
        contacts
            Contact ids, or a frame with ``contact_id`` (and the ``segment_column`` to override
            the fitted segments). Unknown contacts get their segment's or the global profile.

        Returns
        -------
        numpy.ndarray
            float32 ``(n, 168)``, column ``w`` = hour of week (0 = Monday 00:00); NaN where the
            profile has no data (hours never sent at). Dense: for millions of contacts use
            :meth:`predict`, which works in chunks.
        """
        r = self._rows_for(contacts)
        return self._scores(r, slice(None), np.arange(HOURS_OF_WEEK))

    def predict_distribution(
        self, contacts: pl.DataFrame | pl.Series | np.ndarray | Sequence[int]
    ) -> np.ndarray:
        """Each contact's predicted distribution over the 168 hours of week (rows sum to 1).

        For models fitted with :meth:`fit_events`: the share of the contact's events expected at
        each local hour of week. Hours without data get probability 0.
        """
        s = np.nan_to_num(self.predict_scores(contacts).astype(np.float64))
        total = s.sum(1, keepdims=True)
        return np.where(total > 0, s / np.where(total > 0, total, 1.0), 1.0 / HOURS_OF_WEEK)

    def predict(
        self,
        contacts: pl.DataFrame | pl.Series | np.ndarray | Sequence[int],
        *,
        allowed: AllowedHours | np.ndarray | None = None,
        chunk_size: int = 250_000,
    ) -> pl.DataFrame:
        """Best allowed local hour of week per contact, with the fallback level used.

        Parameters
        ----------
        contacts
            Contact ids, or a frame with ``contact_id`` (and optionally the segment column).
        allowed
            :class:`AllowedHours` (default 08:00–20:00 every day) or a boolean ``(168,)`` mask of
            allowed local hours of week.
        chunk_size
            Contacts scored at a time (memory ~ ``chunk_size × allowed hours × 4`` bytes).

        Returns
        -------
        polars.DataFrame
            ``contact_id``, ``hour_of_week`` (Int16), ``day_of_week`` (Int8, 0 = Monday),
            ``local_hour`` (Int8), ``score`` (Float64: expected response rate of an average
            campaign at that hour; null at the ``default`` level), ``level`` (String, one of
            :data:`LEVELS`), ``n_responses`` (Int32), ``exposure`` (Float64: expected responses
            of the contact's past sends under its prior), in input order.
        """
        mask = (
            (allowed or AllowedHours()).hours_of_week()
            if not isinstance(allowed, np.ndarray)
            else allowed
        )
        cols = np.flatnonzero(np.asarray(mask, dtype=bool))
        if cols.size == 0:
            raise SendTimeError("no allowed hour of week: widen the allowed hours")
        r = self._rows_for(contacts)
        n = r["own"].size
        best = np.zeros(n, dtype=np.int64)
        score = np.full(n, np.nan)
        code = r["code"].copy()
        default = self.profiles_[-1][cols]
        for lo in range(0, n, chunk_size):
            sl = slice(lo, min(n, lo + chunk_size))
            s = self._scores(r, sl, cols)
            finite = np.isfinite(s)
            none = ~finite.any(1)
            s = np.where(finite, s, -np.inf)
            b = np.argmax(s, axis=1)
            if none.any():
                b[none] = int(np.argmax(default))
                code[sl][none] = 3
            best[sl] = cols[b]
            score[sl] = np.where(none, np.nan, s[np.arange(b.size), b])
        score = np.where(code == 3, np.nan, score)
        return pl.DataFrame(
            {
                "contact_id": pl.Series(r["contact_id"], dtype=pl.Int64),
                "hour_of_week": pl.Series(best, dtype=pl.Int16),
                "day_of_week": pl.Series(best // 24, dtype=pl.Int8),
                "local_hour": pl.Series(best % 24, dtype=pl.Int8),
                "score": pl.Series(score, dtype=pl.Float64).fill_nan(None),
                "level": pl.Series(list(LEVELS), dtype=pl.String).gather(code.astype(np.int64)),
                "n_responses": pl.Series(r["responses"], dtype=pl.Int32),
                "exposure": pl.Series(r["exposure"], dtype=pl.Float64),
            }
        )

    def predict_windows(
        self,
        contacts: pl.DataFrame,
        campaign_date: dt.date | str | tuple[dt.date | str, dt.date | str],
        *,
        window_minutes: int = 60,
        quiet_hours: Any = None,
        step_minutes: int = 15,
        control_share: float = 0.0,
        salt: str = "sendtime-control",
        chunk_size: int = 100_000,
    ) -> pl.DataFrame:
        """Best allowed send window per contact on a campaign date (or range of dates).

        See :func:`smsanalytics.sendtime.windows.predict_windows` (this method calls it).
        """
        from smsanalytics.sendtime.windows import predict_windows

        return predict_windows(
            self,
            contacts,
            campaign_date,
            window_minutes=window_minutes,
            quiet_hours=quiet_hours,
            step_minutes=step_minutes,
            control_share=control_share,
            salt=salt,
            chunk_size=chunk_size,
        )

    # -- introspection ---------------------------------------------------------------------------
    def profile_frame(self) -> pl.DataFrame:
        """The global and segment profiles as rows: ``profile`` (``global`` or the segment),
        ``hour_of_week``, ``day_of_week``, ``local_hour``, ``rate`` (null where no data),
        ``responses`` (responses behind the profile)."""
        self._check_fitted()
        names = ["global", *self.segments_]
        q = self.profiles_[: len(names)]
        return pl.DataFrame(
            {
                "profile": np.repeat(names, HOURS_OF_WEEK),
                "hour_of_week": np.tile(np.arange(HOURS_OF_WEEK), len(names)).astype(np.int16),
                "day_of_week": np.tile(_DOW, len(names)).astype(np.int8),
                "local_hour": np.tile(_HOD, len(names)).astype(np.int8),
                "rate": q.reshape(-1),
                "responses": np.repeat(self.profile_responses_[: len(names)], HOURS_OF_WEEK),
            }
        ).with_columns(pl.col("rate").fill_nan(None))

    def level_counts(self) -> dict[str, int]:
        """Known contacts per fallback level."""
        self._check_fitted()
        counts = np.bincount(self.levels_, minlength=len(LEVELS))
        return {name: int(c) for name, c in zip(LEVELS, counts, strict=True)}


def _hour_shape(
    k_h: np.ndarray, x_h: np.ndarray, bandwidth_hours: float, strength: float
) -> np.ndarray:
    """``(k̃ + κ) / (x̃ + κ)`` of kernel-pooled hour cells, scaled to exposure-weighted mean 1."""
    kern = _kernel(bandwidth_hours).astype(np.float32)
    u = (k_h @ kern + strength) / (x_h @ kern + strength)
    u *= x_h.sum(1, keepdims=True) / np.maximum((x_h * u).sum(1, keepdims=True), 1e-30)
    return u.astype(np.float32)


def _dow_shape(k_d: np.ndarray, x_d: np.ndarray, strength: float) -> np.ndarray:
    """``(k + κ_d) / (x + κ_d)`` of day cells (exposure already includes the hour shape)."""
    v = (k_d + strength) / (x_d + strength)
    v *= x_d.sum(1, keepdims=True) / np.maximum((x_d * v).sum(1, keepdims=True), 1e-30)
    return v.astype(np.float32)


def _contact_shapes(
    j: np.ndarray,
    how: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    n: int,
    *,
    bandwidth_hours: float,
    contact_strength: float,
    dow_strength: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Hour-of-day and day-of-week shapes ``(n, 24)``, ``(n, 7)`` of contacts with own data.

    ``j`` indexes the contact, ``x`` is each row's expected responses under the contact's prior
    (level included). Hour cells are pooled with a circular Gaussian kernel, then shrunk toward 1
    with ``contact_strength``; the day shape is estimated after the hour shape. Both are scaled
    to an exposure-weighted mean of 1.
    """
    hod = (how % 24).astype(np.int64)
    u = _hour_shape(
        _bincount2(j, hod, 24, n, y),
        _bincount2(j, hod, 24, n, x),
        bandwidth_hours,
        contact_strength,
    )
    if math.isinf(dow_strength) or n == 0:
        return u, np.ones((n, 7), dtype=np.float32)
    dow = (how // 24).astype(np.int64)
    x_d = _bincount2(j, dow, 7, n, x * u[j, hod])
    return u, _dow_shape(_bincount2(j, dow, 7, n, y), x_d, dow_strength)
