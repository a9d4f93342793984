"""Send windows: the best allowed ``[start_at, end_at)`` per contact on a campaign date.

A window is ``window_minutes`` long and starts on a ``step_minutes`` grid of the contact's local
day. It is a candidate only when every minute of it is allowed by the quiet-hours rule (checked
on the local wall clock, so DST days are exact: a start in a spring-forward gap is skipped, a
start in a fall-back fold takes its first occurrence). Its score is the model's expected response
rate averaged over the local hours it covers; each contact gets its best candidate (the earliest
on ties).

The quiet-hours rule is a hook: :class:`~smsanalytics.sendtime.model.AllowedHours` (default
08:00–20:00 local) or anything with an ``allowed_minutes(*, timezone, jurisdiction, local_date)``
method, such as :class:`ComplianceQuietHours` around the compliance rules of the send plans.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import polars as pl

from smsanalytics.sendtime.model import HOURS_OF_WEEK, LEVELS, AllowedHours, SendTimeError
from smsanalytics.sendtime.timezones import DAY_US, MINUTE_US, ZoneOffsets, hour_of_week

if TYPE_CHECKING:
    from smsanalytics.sendtime.model import SendTimeModel

__all__ = [
    "ComplianceQuietHours",
    "QuietHoursRule",
    "WINDOW_COLUMNS",
    "campaign_dates",
    "predict_windows",
    "split_control_arm",
]

_NULL = np.iinfo(np.int64).min
_EPOCH = dt.date(1970, 1, 1)
MAX_DAYS = 31

#: Columns of :func:`predict_windows`' result.
WINDOW_COLUMNS: dict[str, pl.DataType] = {
    "contact_id": pl.Int64(),
    "timezone": pl.String(),
    "local_date": pl.Date(),
    "start_at": pl.Datetime("us", "UTC"),
    "end_at": pl.Datetime("us", "UTC"),
    "local_start": pl.Datetime("us"),
    "local_end": pl.Datetime("us"),
    "hour_of_week": pl.Int16(),
    "score": pl.Float64(),
    "level": pl.String(),
    "send_time_policy": pl.String(),
    "reason": pl.String(),
}


@runtime_checkable
class QuietHoursRule(Protocol):
    """When a contact may receive a message: allowed local minutes of a local date."""

    def allowed_minutes(
        self, *, timezone: str, jurisdiction: str | None, local_date: dt.date
    ) -> Sequence[tuple[int, int]]:
        """Allowed ``[start_minute, end_minute)`` intervals of the local day (0 … 1440)."""
        ...


@cache
def _holiday_dates(codes: tuple[str, ...], year: int) -> frozenset[dt.date]:
    import holidays as holidays_lib

    days: set[dt.date] = set()
    for code in codes:
        days.update(holidays_lib.country_holidays(code, years=[year]).keys())
    return frozenset(days)


@dataclass(frozen=True)
class ComplianceQuietHours:
    """The compliance rules of the send plans (:mod:`smsanalytics.compliance`) as quiet hours.

    Parameters
    ----------
    rules
        A :class:`smsanalytics.compliance.ComplianceRules` (``load_rules()``). A contact's rule is
        the effective rule of its ``jurisdiction`` column (the default rule without one): its
        allowed hours, weekdays and public holidays apply.
    """

    rules: Any

    def allowed_minutes(
        self, *, timezone: str, jurisdiction: str | None, local_date: dt.date
    ) -> list[tuple[int, int]]:
        rule = self.rules.effective(jurisdiction or self.rules.default.id)
        if local_date.weekday() not in rule.days:
            return []
        if rule.holidays and local_date in _holiday_dates(tuple(rule.holidays), local_date.year):
            return []
        return [(int(rule.start_minute), int(rule.end_minute))]


def campaign_dates(
    campaign_date: dt.date | str | tuple[dt.date | str, dt.date | str],
) -> list[dt.date]:
    """The local dates of a campaign: one date, or an inclusive ``(first, last)`` range.

    Raises
    ------
    SendTimeError
        For an unreadable date, a reversed range or more than 31 days.
    """

    def one(v: dt.date | str) -> dt.date:
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        try:
            return dt.date.fromisoformat(str(v))
        except ValueError:
            raise SendTimeError(f"campaign date {v!r} is not an ISO date (YYYY-MM-DD)") from None

    if isinstance(campaign_date, tuple | list):
        if len(campaign_date) != 2:
            raise SendTimeError("a campaign date range is a (first, last) pair")
        first, last = one(campaign_date[0]), one(campaign_date[1])
    else:
        first = last = one(campaign_date)
    if last < first:
        raise SendTimeError(f"campaign date range ends ({last}) before it starts ({first})")
    n = (last - first).days + 1
    if n > MAX_DAYS:
        raise SendTimeError(f"a campaign spans at most {MAX_DAYS} days; got {n}")
    return [first + dt.timedelta(days=i) for i in range(n)]


@dataclass
class _Candidates:
    start_us: np.ndarray  # UTC start of each valid candidate
    local_start: np.ndarray
    local_end: np.ndarray
    weights: np.ndarray  # (n, 168) share of the window in each local hour of week
    start_how: np.ndarray


def _candidates(
    table: ZoneOffsets,
    code: int,
    timezone: str,
    jurisdiction: str | None,
    dates: list[dt.date],
    rule: Any,
    window_minutes: int,
    step_minutes: int,
) -> _Candidates:
    """Valid windows of one (zone, jurisdiction) on the campaign dates, in start order."""
    day0 = (dates[0] - _EPOCH).days
    starts_min = np.arange(0, 1440, step_minutes, dtype=np.int64)
    local = (
        (np.array([(d - _EPOCH).days for d in dates], dtype=np.int64)[:, None] * DAY_US)
        + starts_min[None, :] * MINUTE_US
    ).reshape(-1)
    codes = np.full(local.size, code, dtype=np.int32)
    start = table.to_utc(codes, local, nonexistent="null", ambiguous="earliest")
    ok = start != _NULL
    start, local = start[ok], local[ok]
    # sample the window every minute (exact against minute-resolution rules)
    offsets = np.arange(window_minutes, dtype=np.int64) * MINUTE_US
    samples = start[:, None] + offsets[None, :]
    sample_local = table.local_us(np.full(samples.shape, code, dtype=np.int32), samples)
    # allowed minutes of every local date the samples can touch
    span_days = np.arange(-1, len(dates) + 2)
    allowed = np.zeros((span_days.size, 1440), dtype=bool)
    for i, off in enumerate(span_days):
        day = dates[0] + dt.timedelta(days=int(off))
        for lo, hi in rule.allowed_minutes(
            timezone=timezone, jurisdiction=jurisdiction, local_date=day
        ):
            allowed[i, max(0, int(lo)) : min(1440, int(hi))] = True
    day_idx = np.floor_divide(sample_local, DAY_US) - day0 + 1
    minute = (sample_local - np.floor_divide(sample_local, DAY_US) * DAY_US) // MINUTE_US
    inside = (day_idx >= 0) & (day_idx < span_days.size)
    good = inside & allowed[np.clip(day_idx, 0, span_days.size - 1), minute]
    valid = good.all(1)
    start, local, sample_local = start[valid], local[valid], sample_local[valid]
    n = start.size
    how = hour_of_week(sample_local).astype(np.int64)
    weights = np.bincount(
        (np.arange(n)[:, None] * HOURS_OF_WEEK + how).reshape(-1), minlength=n * HOURS_OF_WEEK
    ).reshape(n, HOURS_OF_WEEK).astype(np.float32) / np.float32(window_minutes)
    end = start + window_minutes * MINUTE_US
    local_end = table.local_us(np.full(n, code, dtype=np.int32), end)
    return _Candidates(start, local, local_end, weights, hour_of_week(local))


def predict_windows(
    model: SendTimeModel,
    contacts: pl.DataFrame,
    campaign_date: dt.date | str | tuple[dt.date | str, dt.date | str],
    *,
    window_minutes: int = 60,
    quiet_hours: QuietHoursRule | None = None,
    step_minutes: int = 15,
    control_share: float = 0.0,
    salt: str = "sendtime-control",
    chunk_size: int = 100_000,
) -> pl.DataFrame:
    """The best allowed send window of each contact on a campaign date (or date range).

    Parameters
    ----------
    model
        A fitted :class:`~smsanalytics.sendtime.model.SendTimeModel`.
    contacts
        ``contact_id`` (Int64), ``timezone`` (IANA String), optionally ``jurisdiction`` (String,
        passed to the rule) and the model's segment column.
    campaign_date
        A local date (``datetime.date`` or ``"YYYY-MM-DD"``) or an inclusive ``(first, last)``
        range of at most 31 days; each contact's windows lie on these dates of its own calendar.
    window_minutes
        Length of a window (1 … 1440).
    quiet_hours
        The allowed-time rule (default :class:`AllowedHours`, 08:00–20:00 local every day).
    step_minutes
        Grid of window starts (divides 1440).
    control_share
        Share of contacts (by a salted hash of ``contact_id``) sent at a uniformly random allowed
        window instead: the random-time control arm (``send_time_policy = 'random'``).
    salt
        Salt of the control-arm hash (use the campaign id to re-draw per campaign).
    chunk_size
        Contacts scored at a time.

    Returns
    -------
    polars.DataFrame
        One row per contact, in input order, with :data:`WINDOW_COLUMNS`: ``start_at``,
        ``end_at`` (UTC, end exclusive), ``local_start``, ``local_end`` (naive local wall-clock
        times), ``local_date``, ``hour_of_week`` of the start, ``score`` (expected response rate
        over the window; null at the ``default`` level), ``level`` (the fallback level used:
        ``contact``, ``segment``, ``global``, ``default``), ``send_time_policy`` (``optimised``
        or ``random``) and ``reason`` (null, or ``unknown_timezone`` / ``no_allowed_time`` when
        the contact gets no window).

    Raises
    ------
    SendTimeError
        For bad arguments or missing columns.

    Examples
    --------
    >>> import polars as pl
    >>> from smsanalytics.sendtime import SendTimeModel
    >>> sent = ["2026-05-05 16:10", "2026-05-06 08:05", "2026-05-05 16:20"]
    >>> sends = pl.DataFrame({
    ...     "contact_id": [1, 1, 2], "is_response": [True, False, False],
    ...     "sent_at": pl.Series(sent).str.to_datetime(time_zone="UTC")})
    >>> contacts = pl.DataFrame({"contact_id": [1, 2],
    ...                          "timezone": ["Europe/Paris", "America/New_York"]})
    >>> model = SendTimeModel(min_global_responses=1, bandwidth_hours=2, contact_strength=1,
    ...                       dow_strength=float("inf")).fit(sends, contacts=contacts)
    >>> w = model.predict_windows(contacts, "2026-05-12")
    >>> for row in w.select("contact_id", "local_start", "level").rows():
    ...     print(row)
    (1, datetime.datetime(2026, 5, 12, 18, 0), 'contact')
    (2, datetime.datetime(2026, 5, 12, 18, 0), 'global')
    >>> start, end = w.select("start_at", "end_at").row(1)  # New York, EDT (UTC-4)
    >>> start.isoformat(), end.isoformat()
    ('2026-05-12T22:00:00+00:00', '2026-05-12T23:00:00+00:00')
    """
    from smsanalytics.experiments.design import hash_unit

    if not 1 <= window_minutes <= 1440:
        raise SendTimeError(f"window_minutes must be between 1 and 1440, got {window_minutes}")
    if not 1 <= step_minutes <= 1440 or 1440 % step_minutes:
        raise SendTimeError(
            f"step_minutes must divide 1440 (5, 10, 15, 30, 60 …), got {step_minutes}"
        )
    if not 0.0 <= control_share <= 1.0:
        raise SendTimeError(f"control_share must be between 0 and 1, got {control_share}")
    rule = quiet_hours if quiet_hours is not None else AllowedHours()
    if not hasattr(rule, "allowed_minutes"):
        raise SendTimeError(
            "quiet_hours needs an allowed_minutes(*, timezone, jurisdiction, local_date) method"
        )
    missing = [c for c in ("contact_id", "timezone") if c not in contacts.columns]
    if missing:
        raise SendTimeError(f"contacts lacks column(s) {missing}; it has {contacts.columns}")
    dates = campaign_dates(campaign_date)
    n = contacts.height
    first = dt.datetime.combine(dates[0], dt.time(), dt.UTC) - dt.timedelta(days=2)
    last = dt.datetime.combine(dates[-1], dt.time(), dt.UTC) + dt.timedelta(days=3)
    zones = contacts["timezone"].cast(pl.String)
    table = ZoneOffsets(zones.unique().to_list(), first, last)
    codes = table.codes(zones)
    juris = (
        contacts["jurisdiction"].cast(pl.String)
        if "jurisdiction" in contacts.columns
        else pl.Series([None] * n, dtype=pl.String)
    )
    r = model._rows_for(contacts)
    ids = r["contact_id"]
    control = hash_unit(ids, salt) < control_share if control_share > 0 else np.zeros(n, dtype=bool)
    slot = hash_unit(ids, salt + ":slot")

    start = np.full(n, _NULL, dtype=np.int64)
    end = np.full(n, _NULL, dtype=np.int64)
    lstart = np.full(n, _NULL, dtype=np.int64)
    lend = np.full(n, _NULL, dtype=np.int64)
    how = np.full(n, -1, dtype=np.int64)
    score = np.full(n, np.nan)
    level = r["code"].astype(np.int64).copy()
    reason = np.where(codes < 0, 1, 0)  # 1 unknown_timezone, 2 no_allowed_time
    default = model.profiles_[-1]
    groups = (
        pl.DataFrame({"code": codes, "jurisdiction": juris})
        .with_row_index("row")
        .filter(pl.col("code") >= 0)
        .group_by("code", "jurisdiction", maintain_order=True)
        .agg(pl.col("row"))
    )
    for code, jur, rows in groups.iter_rows():
        rows = np.asarray(rows, dtype=np.int64)
        cand = _candidates(
            table, int(code), table.zones[code], jur, dates, rule, window_minutes, step_minutes
        )
        if cand.start_us.size == 0:
            reason[rows] = 2
            continue
        cols = np.flatnonzero((cand.weights > 0).any(0))  # hours of week the windows touch
        w_t = cand.weights[:, cols].T  # (len(cols), n_cand)
        touches = (w_t > 0).astype(np.float32)
        fallback = int(np.argmax(np.nan_to_num(default[cols]) @ w_t))
        for lo in range(0, rows.size, chunk_size):
            sel = rows[lo : lo + chunk_size]
            s = model._scores(r, sel, cols)
            nan = np.isnan(s)
            cs = np.where(nan, 0.0, s) @ w_t
            if nan.any():
                cs[(nan.astype(np.float32) @ touches) > 0] = -np.inf
            best = np.argmax(cs, axis=1)
            none = ~np.isfinite(cs[np.arange(sel.size), best])
            best[none] = fallback
            level[sel[none]] = LEVELS.index("default")
            is_ctl = control[sel]
            best[is_ctl] = np.minimum(
                (slot[sel[is_ctl]] * cand.start_us.size).astype(np.int64), cand.start_us.size - 1
            )
            start[sel] = cand.start_us[best]
            lstart[sel] = cand.local_start[best]
            lend[sel] = cand.local_end[best]
            how[sel] = cand.start_how[best]
            sc = cs[np.arange(sel.size), best]
            score[sel] = np.where(np.isfinite(sc), sc, np.nan)
        end[rows] = np.where(start[rows] != _NULL, start[rows] + window_minutes * MINUTE_US, _NULL)

    has = start != _NULL
    score = np.where(has & (level != LEVELS.index("default")), score, np.nan)

    def ts(values: np.ndarray, tz: str | None) -> pl.Series:
        s = pl.Series(np.where(has, values, 0), dtype=pl.Int64).cast(pl.Datetime("us", tz))
        return pl.select(pl.when(pl.Series(has)).then(s)).to_series()

    out = pl.DataFrame(
        {
            "contact_id": pl.Series(ids, dtype=pl.Int64),
            "timezone": zones,
            "local_start": ts(lstart, None),
            "start_at": ts(start, "UTC"),
            "end_at": ts(end, "UTC"),
            "local_end": ts(lend, None),
            "hour_of_week": pl.Series(np.where(has, how, 0), dtype=pl.Int16),
            "score": pl.Series(score, dtype=pl.Float64).fill_nan(None),
            "level": pl.Series(list(LEVELS), dtype=pl.String).gather(level),
            "send_time_policy": pl.Series(["optimised", "random"], dtype=pl.String).gather(
                control.astype(np.int64)
            ),
            "reason": pl.Series(
                [None, "unknown_timezone", "no_allowed_time"], dtype=pl.String
            ).gather(reason),
        }
    ).with_columns(
        pl.col("local_start").dt.date().alias("local_date"),
        pl.when(pl.Series(has)).then(pl.col("hour_of_week")).alias("hour_of_week"),
        pl.when(pl.Series(has)).then(pl.col("level")).alias("level"),
    )
    return out.select(list(WINDOW_COLUMNS))


def split_control_arm(
    model: SendTimeModel,
    contacts: pl.DataFrame,
    campaign_date: dt.date | str | tuple[dt.date | str, dt.date | str],
    *,
    share: float = 0.1,
    salt: str = "sendtime-control",
    **kwargs: Any,
) -> pl.DataFrame:
    """Windows for a campaign with a random-time control arm.

    A ``share`` of the contacts (chosen by a salted hash of ``contact_id``, so the split is
    reproducible and independent of the send time) gets a uniformly random allowed window, the
    others their optimised one; ``send_time_policy`` says which. Load the sends with that column
    so :func:`~smsanalytics.sendtime.readout_send_time` can compare the arms, and so the model's
    next fit learns from the randomised sends.

    Parameters
    ----------
    share
        Share of contacts in the random arm (0 … 1).
    salt
        Salt of the split (e.g. the campaign id).
    **kwargs
        Passed to :func:`predict_windows` (``window_minutes``, ``quiet_hours`` …).
    """
    if not 0.0 < share < 1.0:
        raise SendTimeError(f"share must be strictly between 0 and 1, got {share}")
    return predict_windows(model, contacts, campaign_date, control_share=share, salt=salt, **kwargs)
