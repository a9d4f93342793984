"""The generative model of the demo programme (see ``docs/synthetic-data.md``).

Everything is vectorised over contacts and messages with numpy; the only Python loops run over
campaigns (a few dozen) and over the handful of fixed lists in :mod:`._config`. Times are
``int64`` microseconds since the epoch (UTC) until the frames are built.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import special

from smsanalytics import schemas
from smsanalytics.settings import DEFAULT_PRICES
from smsanalytics.synth import _config as cfg
from smsanalytics.synth._clock import DAY, HOUR, SECOND, Clock, day_of_week, epoch_us, hour_of_week

__all__ = ["Programme", "generate_programme", "truth_click_probability", "DEFAULT_END"]

#: Last day of the default demo window (inclusive); fixed so the demo is reproducible.
DEFAULT_END = dt.date(2026, 10, 31)

NEVER = np.iinfo(np.int64).max
MINUTE = 60 * SECOND

# -- parameters of the generative model (documented in docs/synthetic-data.md) ---------------
PREF_FLOOR = 0.2  # preference away from a contact's preferred hours, relative to its peak
CLICK_CAP = 0.95  # no click probability above this
CHURNED_CLICK_FACTOR = 0.3  # churned contacts still click, less often, and never buy
BASE_CLICK_LOGIT = (math.log(0.12 / 0.88), 0.8)  # mean and sd of logit(peak click probability)
HOUR_CENTRES = ((8.5, 0.20), (12.5, 0.30), (17.5, 0.20), (20.0, 0.30))  # (hour, share); sd 1.2 h
SECOND_BUMP_SHARE = 0.4
PURCHASE_RATE = (0.8, 3.2)  # gamma shape r and mean orders per year of λ
DROPOUT_BETA = (1.3, 7.0)  # beta(a, b) of the dropout probability p
PRE_WINDOW_MONTHS = 24  # signups (and orders) go back this far before the window
PRE_WINDOW_SIGNUP_SHARE = 0.45
RANDOM_HOUR_SHARE = 0.2  # share of broadcast sends at a uniformly random allowed hour of the week
RECAPTURE_HOLDOUT = 0.2
RECAPTURE_INACTIVE_DAYS = 90
RECAPTURE_WINDOW_DAYS = 14
UPLIFT_MAX = 0.25
THANK_YOU_SHARE = 0.6  # orders followed by a thank-you message
PREVIEWER_SHARE = {"ios": 0.2, "android": 0.05}  # contacts whose messaging app previews links
PREVIEW_RATE = 0.6  # share of their delivered messages that get a preview (bot) click
DEAD_NUMBER_SHARE = 0.02
FATIGUE_DAYS = 7.0


@dataclass(frozen=True, eq=False)
class Programme:
    """A generated SMS programme: the canonical tables and the ground truth behind them.

    Attributes
    ----------
    contacts, campaigns, messages, assignments, receipts, clicks, inbound, orders
        One polars frame per canonical table, with exactly the columns and dtypes of
        :mod:`smsanalytics.schemas`; ``contact_id`` is ``1 … n`` and ``message_id`` ``1 … m`` (in
        order of ``sent_at``).
    truth_contacts
        Latent parameters of every contact (evaluation only; see ``docs/synthetic-data.md``).
    truth_messages
        Per message (with ``provider_message_id``, the key that survives an ingest): the contact's
        local hour of week at ``sent_at``, whether the contact was alive in the purchase process
        then, and the true click probability of the message.
    truth_recapture
        Per assignment of a recapture campaign (both arms): the alive state, the baseline and the
        true uplift of the 14-day order probability.
    truth_variants
        Per campaign and arm: the template of the arm and its true click multiplier.
    truth_orders
        Per order: why it happened (``base`` purchase process, ``click`` conversion,
        ``recapture`` uplift) and the message that caused it.
    start, as_of
        The window of messages: ``[start, as_of)``, UTC; ``as_of`` is midnight UTC after ``end``.
    end
        Last day of the window.
    seed, n_contacts, months
        The arguments that generated the programme.
    """

    contacts: pl.DataFrame
    campaigns: pl.DataFrame
    messages: pl.DataFrame
    assignments: pl.DataFrame
    receipts: pl.DataFrame
    clicks: pl.DataFrame
    inbound: pl.DataFrame
    orders: pl.DataFrame
    truth_contacts: pl.DataFrame
    truth_messages: pl.DataFrame
    truth_recapture: pl.DataFrame
    truth_variants: pl.DataFrame
    truth_orders: pl.DataFrame
    start: dt.datetime
    end: dt.date
    as_of: dt.datetime
    seed: int
    n_contacts: int
    months: int
    #: Seconds spent per generation stage (for benchmarks).
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def tables(self) -> dict[str, pl.DataFrame]:
        """The canonical tables by name, in load order."""
        return {t.name: getattr(self, t.name) for t in schemas.CANONICAL_TABLES}

    def truth_tables(self) -> dict[str, pl.DataFrame]:
        """The ground-truth tables by name (without the ``truth_`` prefix)."""
        names = ("contacts", "messages", "recapture", "variants", "orders")
        return {name: getattr(self, f"truth_{name}") for name in names}


# -- the click model --------------------------------------------------------------------------
def _preference(
    mu1: np.ndarray,
    k1: np.ndarray,
    mu2: np.ndarray,
    k2: np.ndarray,
    w2: np.ndarray,
    shift: np.ndarray,
    weekend: np.ndarray,
    how: np.ndarray,
) -> np.ndarray:
    ftype = np.result_type(mu1.dtype, np.float32)
    how = np.asarray(how)
    is_weekend = how >= 5 * 24
    h = (how % 24).astype(ftype) + ftype.type(0.5) - np.where(is_weekend, shift, ftype.type(0))
    omega = ftype.type(2 * np.pi / 24)
    one = ftype.type(1)
    bump = (one - w2) * np.exp(k1 * (np.cos(omega * (h - mu1)) - one)) + w2 * np.exp(
        k2 * (np.cos(omega * (h - mu2)) - one)
    )
    floor = ftype.type(PREF_FLOOR)
    return (floor + (one - floor) * bump) * np.where(is_weekend, np.exp(weekend), one)


def _click_probability(
    base: np.ndarray,
    pref: np.ndarray,
    kind_multiplier: np.ndarray | float,
    alive: np.ndarray | bool,
) -> np.ndarray:
    ftype = pref.dtype
    factor = np.where(alive, ftype.type(1), ftype.type(CHURNED_CLICK_FACTOR))
    return np.minimum(base * kind_multiplier * pref * factor, ftype.type(CLICK_CAP))


_PREF_COLUMNS = (
    "pref_hour_1",
    "pref_kappa_1",
    "pref_hour_2",
    "pref_kappa_2",
    "pref_weight_2",
    "weekend_shift_hours",
    "weekend_log_effect",
)


def truth_click_probability(
    truth_contacts: pl.DataFrame,
    hour_of_week: np.ndarray | int,
    *,
    kind: str = "promotional",
    alive: bool | np.ndarray | None = None,
) -> np.ndarray:
    """True probability that a contact clicks a message delivered at a local hour of the week.

    The generative model (``docs/synthetic-data.md``)::

        h     = hour of day + 0.5, minus the weekend shift s on Saturday and Sunday
        vm(μ, κ) = exp(κ (cos(2π (h - μ) / 24) - 1))          (a von Mises bump, 1 at μ)
        bump  = (1 - w2) vm(μ1, κ1) + w2 vm(μ2, κ2)
        pref  = (0.2 + 0.8 bump) × (exp(β_weekend) on Saturday and Sunday, else 1)
        p     = min(0.95, base_click × kind_multiplier × pref × (1 if alive else 0.3))

    ``base_click`` is the contact's click probability at a peak hour on a weekday for a
    promotional message; the kind multipliers are ``promotional`` 1, ``birthday`` 1.4,
    ``reminder`` 0.9, ``welcome`` 1.5, ``recapture`` 1, ``thank_you`` 0.6, ``informational`` 0.5,
    ``invitation`` 1.2. A/B variants multiply ``p`` further (``truth_variants``). Only delivered
    messages can be clicked.

    Parameters
    ----------
    truth_contacts
        Rows of :attr:`Programme.truth_contacts` (any subset, in any order, repeats allowed) with
        columns ``base_click, pref_hour_1, pref_kappa_1, pref_hour_2, pref_kappa_2,
        pref_weight_2, weekend_shift_hours, weekend_log_effect`` (Float64) and
        ``is_alive_at_end`` (Boolean).
    hour_of_week
        Local hour of the week, 0 = Monday 00:00 … 167 = Sunday 23:00. A scalar (every contact
        at that hour), a 1-D array with one hour per row, or a 2-D array of shape ``(rows, k)``
        or ``(1, k)`` for ``k`` hours per contact (``np.arange(168)[None, :]`` for all).
    kind
        Campaign kind, one of :data:`smsanalytics.synth.KINDS`.
    alive
        Whether the contact is alive in the purchase process (a scalar or one value per row);
        default: its state at the end of the window (``is_alive_at_end``), i.e. the probability
        for the next send.

    Returns
    -------
    numpy.ndarray
        Float64 probabilities, shape ``(rows,)`` or ``(rows, k)``.

    Raises
    ------
    ValueError
        For an unknown kind, hours outside 0 … 167 or an array of the wrong shape.
    KeyError
        When a required column is missing.

    Examples
    --------
    >>> from smsanalytics.synth import generate_programme, truth_click_probability
    >>> prog = generate_programme(200, months=1, seed=1)
    >>> p = truth_click_probability(prog.truth_contacts, np.arange(168)[None, :])
    >>> p.shape
    (200, 168)
    >>> bool(((p >= 0) & (p <= 0.95)).all())
    True
    """
    if kind not in cfg.KIND_CLICK_MULTIPLIER:
        raise ValueError(f"unknown kind {kind!r}; use one of {list(cfg.KINDS)}")
    missing = [
        c
        for c in (*_PREF_COLUMNS, "base_click", "is_alive_at_end")
        if c not in truth_contacts.columns
    ]
    if missing:
        raise KeyError(f"truth_contacts lacks column(s) {missing}; pass Programme.truth_contacts")
    how = np.asarray(hour_of_week)
    if how.size and (how.min() < 0 or how.max() > 167):
        raise ValueError("hour_of_week must be between 0 (Monday 00:00) and 167 (Sunday 23:00)")
    rows = truth_contacts.height
    if how.ndim == 1 and how.shape[0] != rows:
        raise ValueError(
            f"a 1-D hour_of_week needs one hour per row ({rows}); got {how.shape[0]}. "
            "Use a 2-D array of shape (1, k) for k hours per contact."
        )
    if how.ndim > 2 or (how.ndim == 2 and how.shape[0] not in (1, rows)):
        raise ValueError(f"hour_of_week of shape {how.shape} does not fit {rows} rows")
    cols = {c: truth_contacts[c].to_numpy() for c in (*_PREF_COLUMNS, "base_click")}
    live = (
        truth_contacts["is_alive_at_end"].to_numpy()
        if alive is None
        else np.broadcast_to(alive, (rows,))
    )
    if how.ndim == 2:
        cols = {k: v[:, None] for k, v in cols.items()}
        live = live[:, None]
    pref = _preference(*(cols[c] for c in _PREF_COLUMNS), how.astype(np.int64))
    return _click_probability(cols["base_click"], pref, cfg.KIND_CLICK_MULTIPLIER[kind], live)


# -- helpers ----------------------------------------------------------------------------------
def _add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def _nullable(s: pl.Series, valid: np.ndarray) -> pl.Series:
    return pl.select(pl.when(pl.Series(valid)).then(s).alias(s.name)).to_series()


def _ts(values: np.ndarray, name: str, valid: np.ndarray | None = None) -> pl.Series:
    s = pl.Series(name, values, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    return s if valid is None else _nullable(s, valid)


def _constant(name: str, value: str | None, n: int) -> pl.Series:
    return pl.Series(name, [], dtype=pl.String).extend_constant(value, n)


def _pick(labels: tuple[str | None, ...] | list[str], codes: np.ndarray, name: str) -> pl.Series:
    """``labels[codes]`` as a string series (``None`` labels give nulls)."""
    return (
        pl.Series(name, list(labels), dtype=pl.String).gather(codes.astype(np.uint32)).alias(name)
    )


def len_digits(x: np.ndarray) -> np.ndarray:
    """Number of decimal digits of non-negative integers (0 has one)."""
    return (np.floor(np.log10(np.maximum(x, 1))) + 1).astype(np.int32)


def _choice(
    rng: np.random.Generator, weights: tuple[float, ...] | np.ndarray, size: int
) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return np.searchsorted(np.cumsum(w) / w.sum(), rng.random(size), side="right").astype(np.int16)


_GSM_BASIC = frozenset(
    "@£$¥èéùìòç\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


def _text_length(text: str) -> tuple[bool, int]:
    """(is GSM-7, length in septets if GSM-7 else UTF-16 code units)."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text):
        return True, sum(2 if ch in _GSM_EXTENSION else 1 for ch in text)
    return False, len(text.encode("utf-16-le")) // 2


# -- contacts ---------------------------------------------------------------------------------
@dataclass
class _Contacts:
    n: int
    country: np.ndarray
    zone: np.ndarray
    market: np.ndarray
    range_idx: np.ndarray
    nsn: np.ndarray
    is_fr: np.ndarray
    zone_from_number: np.ndarray
    signup: np.ndarray
    consent: np.ndarray
    pre_optout: np.ndarray
    name_idx: np.ndarray  # -1 = no first name
    name_len: np.ndarray
    name_gsm: np.ndarray
    bday_year: np.ndarray
    bday_month: np.ndarray
    bday_day: np.ndarray
    has_bday: np.ndarray
    points: np.ndarray  # -1 = none
    acquisition: np.ndarray
    store: np.ndarray
    device: np.ndarray  # 0 ios, 1 android
    previewer: np.ndarray
    dead: np.ndarray  # 0 = number works, else index into cfg.FAILURES + 1
    base_click: np.ndarray
    pref: dict[str, np.ndarray]
    lam: np.ndarray  # orders per day
    dropout: np.ndarray
    amount_mu: np.ndarray
    amount_sd: np.ndarray
    optout_sens: np.ndarray
    tau: np.ndarray
    churn: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def __post_init__(self) -> None:
        # float32 copies for the per-message hot path (the truth keeps float64)
        self.pref32 = {k: v.astype(np.float32) for k, v in self.pref.items()}
        self.base_click32 = self.base_click.astype(np.float32)
        self.optout_sens32 = self.optout_sens.astype(np.float32)


_NAMES: list[str] = [name for lang in ("fr", "en", "es") for name in cfg.FIRST_NAMES[lang]]
_NAME_OFFSET = {
    "fr": 0,
    "en": len(cfg.FIRST_NAMES["fr"]),
    "es": len(cfg.FIRST_NAMES["fr"]) + len(cfg.FIRST_NAMES["en"]),
}
_NAME_GSM = np.array([_text_length(x)[0] for x in _NAMES] + [True])
_NAME_LEN = np.array([_text_length(x)[1] for x in _NAMES] + [0], dtype=np.int16)
_SIGNUP_HOURS = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.5, 2, 4, 6, 7, 8, 8, 9, 8, 7, 7, 8, 9, 10, 10, 9, 7, 4, 2],
    dtype=np.float64,
)
_ORDER_HOURS = np.array(
    [1.5, 0.8, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 5, 6, 7, 8, 9, 8, 7, 7, 7, 8, 9, 10, 10, 9, 6, 3],
    dtype=np.float64,
)


def _local_time_of_day(rng: np.random.Generator, profile: np.ndarray, size: int) -> np.ndarray:
    hours = _choice(rng, profile, size).astype(np.int64)
    return hours * HOUR + rng.integers(0, HOUR, size)


def _phone_numbers(rng: np.random.Generator, range_idx: np.ndarray) -> np.ndarray:
    """National significant numbers (int64) for each contact's number range, unique overall."""
    n = range_idx.size
    nsn = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    for _ in range(50):
        if todo.size == 0:
            break
        for r, spec in enumerate(cfg.NUMBER_RANGES):
            sel = todo[range_idx[todo] == r]
            if sel.size == 0:
                continue
            pre = np.array([int(p) for p in spec.prefixes], dtype=np.int64)
            plen = np.array([len(p) for p in spec.prefixes], dtype=np.int64)
            k = rng.integers(0, pre.size, sel.size)
            digits = spec.nsn_length - plen[k]
            rest = (rng.random(sel.size) * 10.0**digits).astype(np.int64)
            if spec.country in ("US", "CA"):  # exchange NXX: 200-999, not N11 nor 555
                nxx = rng.integers(200, 1000, sel.size)
                bad = (nxx % 100 == 11) | (nxx == 555)
                nxx = np.where(bad, nxx + 1, nxx)
                rest = nxx * 10_000 + rest % 10_000
            nsn[sel] = pre[k] * 10**digits + rest
        cc = np.array(
            [
                int(cfg.COUNTRIES[cfg.COUNTRY_INDEX[s.country]].calling_code)
                for s in cfg.NUMBER_RANGES
            ]
        )
        full = cc[range_idx] * 10**12 + nsn
        order = np.argsort(full, kind="stable")
        dup = np.zeros(n, dtype=bool)
        dup[order[1:]] = full[order[1:]] == full[order[:-1]]
        todo = np.flatnonzero(dup)
    return nsn


def _make_contacts(
    n: int, rng: np.random.Generator, clock: Clock, hist_start: int, start: int, as_of: int
) -> _Contacts:
    country = _choice(rng, [c.share for c in cfg.COUNTRIES], n).astype(np.int8)
    range_idx = np.zeros(n, dtype=np.int8)
    for ci, c in enumerate(cfg.COUNTRIES):
        sel = np.flatnonzero(country == ci)
        ranges = [i for i, r in enumerate(cfg.NUMBER_RANGES) if r.country == c.code]
        pick = _choice(rng, [cfg.NUMBER_RANGES[i].weight for i in ranges], sel.size)
        range_idx[sel] = np.array(ranges, dtype=np.int8)[pick]
    zone_of_range = np.array([cfg.ZONES.index(r.zone) for r in cfg.NUMBER_RANGES], dtype=np.int8)
    zone = zone_of_range[range_idx]
    market_of_country = np.array(
        [cfg.MARKETS.index(c.market) for c in cfg.COUNTRIES], dtype=np.int8
    )
    market = market_of_country[country]
    nsn = _phone_numbers(rng, range_idx)
    is_fr = country == cfg.COUNTRY_INDEX["FR"]
    inferable = np.array([c.zone_from_number for c in cfg.COUNTRIES])[country]
    zone_from_number = inferable & (rng.random(n) < 0.15)

    # signups: some before the window, the rest growing linearly over it, at local daytime
    pre = rng.random(n) < PRE_WINDOW_SIGNUP_SHARE
    d_hist, d_start, d_end = hist_start // DAY, start // DAY, as_of // DAY - 1
    a = 0.8  # density grows from 1 to 1 + a over the window
    u = rng.random(n)
    ramp = (-1 + np.sqrt(1 + 2 * a * u * (1 + a / 2))) / a
    day = np.where(
        pre,
        d_hist + (rng.random(n) * (d_start - d_hist)).astype(np.int64),
        d_start + (ramp * (d_end - d_start + 1)).astype(np.int64),
    )
    local = day * DAY + _local_time_of_day(rng, _SIGNUP_HOURS, n)
    signup = np.minimum(clock.utc(zone, local), as_of - HOUR)

    u = rng.random(n)
    later = signup + (rng.uniform(1, 60, n) * DAY).astype(np.int64)
    consent = np.where(u < 0.92, signup, np.where((u < 0.97) & (later < as_of), later, NEVER))
    pre_optout = np.full(n, NEVER, dtype=np.int64)
    old = (consent < start) & (rng.random(n) < 0.10)
    pre_optout[old] = consent[old] + (rng.random(old.sum()) * (start - consent[old])).astype(
        np.int64
    )

    lang_of_market = {m: cfg.MARKET_LANGUAGE[m] for m in cfg.MARKETS}
    name_idx = np.zeros(n, dtype=np.int16)
    for mi, m in enumerate(cfg.MARKETS):
        sel = market == mi
        lang = lang_of_market[m]
        name_idx[sel] = _NAME_OFFSET[lang] + rng.integers(0, len(cfg.FIRST_NAMES[lang]), sel.sum())
    name_idx[rng.random(n) < 0.04] = -1

    has_bday = rng.random(n) < 0.75
    age = np.clip(rng.normal(38, 12, n), 16, 80).astype(np.int64)
    bday_year = np.where(rng.random(n) < 0.05, 1900, 2026 - age).astype(np.int32)
    doy = rng.integers(0, 366, n)  # a leap year's days, so 29 February occurs
    dates = np.datetime64("2000-01-01") + doy.astype("timedelta64[D]")
    bday_month = (dates.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int8)
    bday_day = ((dates - dates.astype("datetime64[M]")).astype(np.int64) + 1).astype(np.int8)
    leap = (bday_year % 4 == 0) & ((bday_year % 100 != 0) | (bday_year % 400 == 0))
    bday_day[(bday_month == 2) & (bday_day == 29) & ~leap] = 28

    points = np.where(rng.random(n) < 0.45, np.round(rng.gamma(1.4, 180.0, n)), -1).astype(np.int32)
    acquisition = _choice(rng, cfg.ACQUISITION_WEIGHTS, n)
    store = np.zeros(n, dtype=np.int16)
    for mi, m in enumerate(cfg.MARKETS):
        sel = market == mi
        store[sel] = rng.integers(0, len(cfg.STORES[m]), sel.sum())
    ios_share = np.array([0.5, 0.35, 0.55, 0.6])[market]
    device = (rng.random(n) >= ios_share).astype(np.int8)
    previewer = rng.random(n) < np.where(
        device == 0, PREVIEWER_SHARE["ios"], PREVIEWER_SHARE["android"]
    )
    dead = np.where(
        rng.random(n) < DEAD_NUMBER_SHARE, np.where(rng.random(n) < 0.7, 2, 3), 0
    ).astype(np.int8)

    # latent engagement and send-time preference
    base_click = special.expit(rng.normal(*BASE_CLICK_LOGIT, n))
    centres = np.array([c for c, _ in HOUR_CENTRES])
    shares = [s for _, s in HOUR_CENTRES]
    mu1 = centres[_choice(rng, shares, n)] + rng.normal(0, 1.2, n)
    mu2 = centres[_choice(rng, shares, n)] + rng.normal(0, 1.2, n)
    k1 = np.clip(rng.gamma(4.0, 0.8, n), 0.8, 8.0)
    k2 = np.clip(rng.gamma(4.0, 0.8, n), 0.8, 8.0)
    w2 = np.where(rng.random(n) < SECOND_BUMP_SHARE, rng.uniform(0.25, 0.6, n), 0.0)
    mu2 = np.where(w2 > 0, mu2, mu1)
    k2 = np.where(w2 > 0, k2, k1)
    pref = {
        "pref_hour_1": np.mod(mu1, 24),
        "pref_kappa_1": k1,
        "pref_hour_2": np.mod(mu2, 24),
        "pref_kappa_2": k2,
        "pref_weight_2": w2,
        "weekend_shift_hours": rng.normal(1.0, 0.7, n),
        "weekend_log_effect": rng.normal(0.0, 0.35, n),
    }

    # purchase process (MBG/NBD) and value
    r, mean_per_year = PURCHASE_RATE
    lam_year = np.minimum(rng.gamma(r, mean_per_year / r, n), 60.0)
    lam = lam_year / 365.25
    dropout = rng.beta(*DROPOUT_BETA, n)
    amount_mu = rng.normal(math.log(48.0), 0.4, n)
    amount_sd = rng.uniform(0.25, 0.55, n)
    optout_sens = rng.lognormal(-0.32, 0.8, n)

    # recapture uplift: a function of observable traits (frequency, loyalty card, market) + noise
    z_lam = (
        np.log(np.maximum(lam_year, 1e-6)) - (special.digamma(r) + math.log(mean_per_year / r))
    ) / math.sqrt(special.polygamma(1, r))
    is_na = market == cfg.MARKETS.index("na")
    tau = UPLIFT_MAX * special.expit(
        -1.6 + 0.9 * z_lam + 0.5 * (points >= 0) - 0.4 * is_na + rng.normal(0, 0.5, n)
    )

    return _Contacts(
        n=n,
        country=country,
        zone=zone,
        market=market,
        range_idx=range_idx,
        nsn=nsn,
        is_fr=is_fr,
        zone_from_number=zone_from_number,
        signup=signup,
        consent=consent,
        pre_optout=pre_optout,
        name_idx=name_idx,
        name_len=_NAME_LEN[name_idx],
        name_gsm=_NAME_GSM[name_idx],
        bday_year=bday_year,
        bday_month=bday_month,
        bday_day=bday_day,
        has_bday=has_bday,
        points=points,
        acquisition=acquisition,
        store=store,
        device=device,
        previewer=previewer,
        dead=dead,
        base_click=base_click,
        pref=pref,
        lam=lam,
        dropout=dropout,
        amount_mu=amount_mu,
        amount_sd=amount_sd,
        optout_sens=optout_sens,
        tau=tau,
    )


def _base_orders(
    c: _Contacts, rng: np.random.Generator, clock: Clock, as_of: int
) -> tuple[np.ndarray, np.ndarray]:
    """Orders of the latent purchase process (MBG/NBD); sets ``c.churn``.

    Orders arrive as a Poisson process of rate λ from signup; the contact drops out at signup
    with probability p and after each order with probability p (Batislam et al. 2007).
    """
    span = (as_of - c.signup) / DAY
    count = rng.poisson(c.lam * span)
    who = np.repeat(np.arange(c.n, dtype=np.int32), count)
    local_signup = clock.local(c.zone[who], c.signup[who])
    local = local_signup + (rng.random(who.size) * (as_of - c.signup[who])).astype(np.int64)
    day = local // DAY
    t = clock.utc(c.zone[who], day * DAY + _local_time_of_day(rng, _ORDER_HOURS, who.size))
    ok = (t > c.signup[who]) & (t < as_of)
    who, t = who[ok], t[ok]
    order = _sort_by(who, t)
    who, t = who[order], t[order]
    first = np.searchsorted(who, np.arange(c.n), side="left")
    rank = np.arange(who.size) - first[who]
    n_max = rng.geometric(c.dropout) - 1  # orders before dropping out
    keep = rank < n_max[who]
    kept = np.bincount(who[keep], minlength=c.n)
    churn = np.full(c.n, NEVER, dtype=np.int64)
    churn[n_max == 0] = c.signup[n_max == 0]
    last = (n_max > 0) & (kept >= n_max)
    last_idx = first[last] + n_max[last] - 1
    churn[last] = t[last_idx]
    c.churn = churn
    return who[keep], t[keep]


# -- campaign calendar --------------------------------------------------------------------------
@dataclass
class _Broadcast:
    kind: str
    slug: str
    name: str
    offers: tuple[str, str, str]  # fr, es, en
    day: dt.date
    hour: int
    audience: str  # all | buyers | recent | points | vip | inactive
    arms: tuple[str, ...]  # ("default",) or ("A", "B")
    multipliers: tuple[float, ...]


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _calendar(start: dt.date, end: dt.date, rng: np.random.Generator) -> list[_Broadcast]:
    out: list[_Broadcast] = []
    hours = (10, 11, 12, 14, 17, 18, 19)
    hour_w = (0.22, 0.12, 0.2, 0.08, 0.12, 0.16, 0.1)
    y, m = start.year, start.month
    i_info = i_inv = 0
    while dt.date(y, m, 1) <= end:
        themes = cfg.PROMO_THEMES[m]
        days = [_nth_weekday(y, m, 1, 2), _nth_weekday(y, m, 3, 4)]
        if m == 1:
            days[0] = _nth_weekday(y, 1, 2, 2)  # winter sales start on a Wednesday
        if m == 6:
            days[0] = _nth_weekday(y, 6, 2, 4)
        if m == 12:
            days[1] = _nth_weekday(y, 12, 3, 3)  # last-minute gifts, before Christmas
        if m == 11:
            days = [dt.date(y, 11, 11), _nth_weekday(y, 11, 3, 4) + dt.timedelta(days=1)]
        for theme, day in zip(themes, days, strict=True):
            ab = rng.random() < 0.4
            audience = ("all", "all", "all", "buyers", "recent")[rng.integers(0, 5)]
            mult = (1.0, float(rng.choice([0.85, 1.0, 1.0, 1.1, 1.2, 1.3]))) if ab else (1.0,)
            out.append(
                _Broadcast(
                    "promotional",
                    theme[0],
                    theme[1],
                    theme[2:],
                    day,
                    int(rng.choice(hours, p=np.array(hour_w) / sum(hour_w))),
                    audience,
                    ("A", "B") if ab else ("default",),
                    mult,
                )
            )
        out.append(
            _Broadcast(
                "recapture",
                "we-miss-you",
                "Vous nous manquez",
                ("", "", ""),
                _nth_weekday(y, m, 2, 1),
                11,
                "inactive",
                ("default",),
                (1.0,),
            )
        )
        out.append(
            _Broadcast(
                "reminder",
                "points-reminder",
                "Rappel points fidélité",
                ("", "", ""),
                _nth_weekday(y, m, 0, 3),
                12,
                "points",
                ("default",),
                (1.0,),
            )
        )
        if m in (3, 6, 9, 12):
            t = cfg.INFO_THEMES[0] if m == 12 else cfg.INFO_THEMES[1 + i_info % 3]
            i_info += m != 12
            out.append(
                _Broadcast(
                    "informational",
                    t[0],
                    t[1],
                    t[2:],
                    _nth_weekday(y, m, 4, 1),
                    10,
                    "all",
                    ("default",),
                    (1.0,),
                )
            )
        if m in (2, 5, 9, 11):
            t = cfg.INVITATION_THEMES[i_inv % len(cfg.INVITATION_THEMES)]
            i_inv += 1
            out.append(
                _Broadcast(
                    "invitation",
                    t[0],
                    t[1],
                    t[2:],
                    _nth_weekday(y, m, 3, 2),
                    17,
                    "vip",
                    ("default",),
                    (1.0,),
                )
            )
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    out = [b for b in out if start <= b.day <= end - dt.timedelta(days=1)]
    out.sort(key=lambda b: (b.day, b.kind, b.slug))
    return out


_AUTOMATIONS = ("welcome", "birthday", "thank_you")
_AUTOMATION_NAMES = {
    "welcome": "Welcome flow",
    "birthday": "Birthday flow",
    "thank_you": "Post-purchase thank-you",
}
_VARIANTS = ("default", "A", "B", "control")


@dataclass
class _CampaignRow:
    campaign_id: str
    name: str
    kind: str
    market: str
    sender_id: str
    template: str
    created_at: int
    holdout_share: float
    url: str
    templates: dict[str, str]  # arm -> template
    multipliers: dict[str, float]
    gsm: dict[str, bool]
    length: dict[str, int]  # static length (septets or UTF-16 units) without placeholders


def _render(template: str, market: str, offer: str) -> str:
    return f"{template.replace('{offer}', offer)} {cfg.FOOTER[market]}"


def _campaign_row(
    campaign_id: str,
    name: str,
    kind: str,
    market: str,
    created: int,
    holdout: float,
    templates: dict[str, str],
    multipliers: dict[str, float],
    slug: str,
) -> _CampaignRow:
    gsm, length = {}, {}
    for arm, text in templates.items():
        static = text.replace("{first_name}", "").replace("{link}", "").replace("{points}", "")
        gsm[arm], length[arm] = _text_length(static)
        length[arm] += cfg.LINK_LENGTH
    url = f"https://lumen.example/{slug}?utm_source=sms&utm_campaign={campaign_id}"
    return _CampaignRow(
        campaign_id,
        name,
        kind,
        market,
        cfg.MARKET_SENDER[market],
        templates[next(iter(templates))],
        created,
        holdout,
        url,
        templates,
        multipliers,
        gsm,
        length,
    )


# -- the simulation ---------------------------------------------------------------------------
_LISTS = (
    "m_c",
    "m_camp",
    "m_var",
    "m_policy",
    "m_sched",
    "m_sent",
    "m_final",
    "m_status",
    "m_p",
    "m_alive",
    "m_how",
    "m_seg",
    "m_ucs2",
    "k_msg",
    "k_t",
    "k_ua",
    "k_bot",
    "i_c",
    "i_t",
    "i_body",
    "i_kw",
    "i_msg",
    "o_c",
    "o_t",
    "o_src",
    "o_msg",
    "a_c",
    "a_camp",
    "a_var",
    "a_hold",
    "a_t",
    "r_c",
    "r_camp",
    "r_hold",
    "r_t",
    "r_alive",
    "r_rec",
    "r_base",
    "r_tau",
)


class _Simulation:
    """Runs the campaigns in time order, keeping the state that targeting needs."""

    def __init__(
        self,
        c: _Contacts,
        rng: np.random.Generator,
        clock: Clock,
        campaigns: list[_CampaignRow],
        start: int,
        as_of: int,
        fr_bad_day: np.ndarray,
        day0: int,
    ) -> None:
        self.c, self.rng, self.clock, self.campaigns = c, rng, clock, campaigns
        self.start, self.as_of = start, as_of
        self.fr_bad_day, self.day0 = fr_bad_day, day0
        self.out: dict[str, list[np.ndarray]] = {k: [] for k in _LISTS}
        self.n_messages = 0
        self.optout = c.pre_optout.copy()  # opt-outs known so far
        self.last_order = np.full(c.n, -NEVER, dtype=np.int64)
        self.n_orders = np.zeros(c.n, dtype=np.int32)
        self.fatigue = np.zeros(c.n, dtype=np.float32)
        self.fatigue_at = start
        self.pending_orders: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending_thanks: list[tuple[np.ndarray, np.ndarray]] = []
        self.kind_mult = np.array([cfg.KIND_CLICK_MULTIPLIER[k] for k in cfg.KINDS])
        self.kind_conv = np.array([cfg.KIND_CLICK_CONVERSION[k] for k in cfg.KINDS])
        self.kind_haz = np.array([cfg.KIND_OPTOUT_HAZARD[k] for k in cfg.KINDS])
        self.camp_kind = np.array([cfg.KIND_INDEX[r.kind] for r in campaigns], dtype=np.int8)
        arms = ("default", "A", "B")
        self.camp_len = np.array(
            [[r.length.get(a, 0) for a in arms] for r in campaigns], dtype=np.int32
        )
        self.camp_gsm = np.array([[r.gsm.get(a, True) for a in arms] for r in campaigns])
        self.camp_name = np.array(
            [[("{first_name}" in r.templates.get(a, "")) for a in arms] for r in campaigns]
        )
        self.camp_mult = np.array([[r.multipliers.get(a, 1.0) for a in arms] for r in campaigns])
        self.auto_row = {
            (r.kind, r.market): i
            for i, r in enumerate(campaigns)
            if r.campaign_id.startswith("auto-")
        }
        promo_like = {"promotional", "recapture"}
        self.camp_filter = np.array(
            [0.004 if r.kind in promo_like else 0.0 for r in campaigns], dtype=np.float32
        )
        self.market_filter = np.array(
            [5.0 if m == "na" else 1.0 for m in cfg.MARKETS], dtype=np.float32
        )
        self.kind_mult = self.kind_mult.astype(np.float32)
        self.camp_mult = self.camp_mult.astype(np.float32)
        self.kind_haz = self.kind_haz.astype(np.float32)

    # -- time rules ---------------------------------------------------------------------------
    def _bad_day(self, contacts: np.ndarray, local_day: np.ndarray) -> np.ndarray:
        idx = np.clip(local_day - self.day0, 0, self.fr_bad_day.size - 1)
        return self.c.is_fr[contacts] & self.fr_bad_day[idx]

    def _at_local(
        self, contacts: np.ndarray, day: np.ndarray, time_of_day: np.ndarray
    ) -> np.ndarray:
        """UTC of local ``day`` at ``time_of_day``, moved to the next allowed day for FR numbers."""
        for _ in range(7):
            bad = self._bad_day(contacts, day)
            if not bad.any():
                break
            day = day + bad
        return self.clock.utc(self.c.zone[contacts], day * DAY + time_of_day)

    def _defer(self, contacts: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Earliest allowed send time at or after ``t`` (08:00 – 19:50 local, FR rules)."""
        lo, hi = cfg.ALLOWED_HOURS[0] * HOUR, cfg.ALLOWED_HOURS[1] * HOUR - 10 * MINUTE
        local = self.clock.local(self.c.zone[contacts], t)
        day, tod = local // DAY, local % DAY
        late, early = tod >= hi, tod < lo
        morning = lo + self.rng.integers(0, 40 * MINUTE, t.size)
        day = day + late
        tod = np.where(late | early, morning, tod)
        moved = late | early | self._bad_day(contacts, day)
        tod = np.where(self._bad_day(contacts, day), morning, tod)
        return np.where(moved, self._at_local(contacts, day, tod), t)

    # -- state ----------------------------------------------------------------------------------
    def _apply_orders(self, until: int, base_c: np.ndarray, base_t: np.ndarray, pos: int) -> int:
        end = int(np.searchsorted(base_t, until, side="left"))
        parts = [(base_c[pos:end], base_t[pos:end])]
        keep = []
        for oc, ot in self.pending_orders:
            due = ot < until
            parts.append((oc[due], ot[due]))
            keep.append((oc[~due], ot[~due]))
        self.pending_orders = keep
        for oc, ot in parts:
            if oc.size:
                np.maximum.at(self.last_order, oc, ot)
                np.add.at(self.n_orders, oc, 1)
        return end

    def _audience(self, b: _Broadcast, at: int) -> np.ndarray:
        c = self.c
        ok = (c.signup <= at) & (c.consent <= at) & (self.optout > at)
        if b.audience == "buyers":
            ok &= self.n_orders > 0
        elif b.audience == "recent":
            ok &= c.signup >= at - 180 * DAY
        elif b.audience == "points":
            ok &= c.points >= 100
        elif b.audience == "vip":
            ok &= (self.n_orders >= 3) | (c.points >= 400)
        elif b.audience == "inactive":
            ok &= (c.signup <= at - 60 * DAY) & (
                self.last_order < at - RECAPTURE_INACTIVE_DAYS * DAY
            )
        return np.flatnonzero(ok).astype(np.int32)

    # -- broadcasts ---------------------------------------------------------------------------
    def broadcast(self, b: _Broadcast, rows: list[int], at: int) -> dict[str, np.ndarray]:
        """Targets, assigns and schedules one broadcast (all markets); returns a message batch."""
        c, rng = self.c, self.rng
        who = self._audience(b, at)
        camp = np.array(rows, dtype=np.int16)[c.market[who]]
        n = who.size
        # arms
        var = np.zeros(n, dtype=np.int8)
        hold = np.zeros(n, dtype=bool)
        if len(b.arms) > 1:
            var = (1 + rng.integers(0, len(b.arms), n)).astype(np.int8)
        if b.kind == "recapture":
            hold = rng.random(n) < RECAPTURE_HOLDOUT
            var = np.where(hold, 3, 0).astype(np.int8)
        if len(b.arms) > 1 or b.kind == "recapture":
            self._emit(
                a_c=who, a_camp=camp, a_var=var, a_hold=hold, a_t=np.full(n, at, dtype=np.int64)
            )
        if b.kind == "recapture":
            alive = at < c.churn[who]
            rec_from = np.maximum(self.last_order[who], c.signup[who])
            recency = (at - rec_from) / DAY
            baseline = np.where(alive, 1 - np.exp(-RECAPTURE_WINDOW_DAYS * c.lam[who]), 0.0)
            tau = c.tau[who] * np.minimum(1.0, np.exp(-(recency - RECAPTURE_INACTIVE_DAYS) / 365.0))
            self._emit(
                r_c=who,
                r_camp=camp,
                r_hold=hold,
                r_t=np.full(n, at, dtype=np.int64),
                r_alive=alive,
                r_rec=recency,
                r_base=baseline,
                r_tau=tau,
            )
        sent = ~hold
        who, camp, var = who[sent], camp[sent], var[sent]
        tau_m = tau[sent] if b.kind == "recapture" else np.zeros(who.size)
        n = who.size
        # send times: the campaign's local hour, or a random allowed hour of the following week
        random = rng.random(n) < RANDOM_HOUR_SHARE
        d0 = np.int64((b.day - dt.date(1970, 1, 1)).days)
        fixed_tod = b.hour * HOUR + np.zeros(n, dtype=np.int64)
        sched = self._at_local(who, np.full(n, d0), fixed_tod)
        r_idx = np.flatnonzero(random)
        r_t = np.full(r_idx.size, NEVER, dtype=np.int64)
        todo = np.arange(r_idx.size)
        lo, hi = cfg.ALLOWED_HOURS
        for _ in range(20):
            if todo.size == 0:
                break
            k = todo.size
            day = d0 + rng.integers(0, 7, k)
            tod = rng.integers(lo, hi, k) * HOUR + rng.integers(0, 59 * MINUTE, k)
            cand = self.clock.utc(c.zone[who[r_idx[todo]]], day * DAY + tod)
            ok = ~self._bad_day(who[r_idx[todo]], day) & (cand < self.as_of - HOUR)
            r_t[todo[ok]] = cand[ok]
            todo = todo[~ok]
        sched[r_idx] = r_t
        delay = np.where(random, rng.integers(0, 30 * SECOND, n), rng.integers(0, 10 * MINUTE, n))
        return {
            "c": who,
            "camp": camp,
            "var": var,
            "policy": random.astype(np.int8),
            "sched": sched,
            "sent": np.where(sched == NEVER, NEVER, sched + delay),
            "tau": tau_m,
            "assigned": np.full(n, at),
        }

    # -- automations ---------------------------------------------------------------------------
    def automation(
        self, kind: str, who: np.ndarray, desired: np.ndarray, policy: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        n = who.size
        rows = np.array([self.auto_row[(kind, m)] for m in cfg.MARKETS], dtype=np.int16)
        sent = self._defer(who, desired) + self.rng.integers(SECOND, 20 * SECOND, n)
        pol = np.zeros(n, dtype=np.int8) if policy is None else policy
        return {
            "c": who,
            "camp": rows[self.c.market[who]],
            "var": np.zeros(n, dtype=np.int8),
            "policy": pol,
            "sched": sent - self.rng.integers(0, SECOND, n),
            "sent": sent,
            "tau": np.zeros(n),
            "assigned": np.full(n, NEVER),
        }

    # -- outcomes of a batch of messages ---------------------------------------------------------
    def _emit(self, **arrays: np.ndarray) -> None:
        for k, v in arrays.items():
            self.out[k].append(v)

    def deliver(self, batch: dict[str, np.ndarray]) -> None:
        """Delivery, clicks, replies and caused orders of a batch of scheduled messages."""
        c, rng = self.c, self.rng
        who, sent = batch["c"], batch["sent"]
        ok = (
            (sent < self.as_of - HOUR)
            & (sent < self.optout[who])
            & (c.consent[who] <= sent)
            & (c.signup[who] <= sent)
        )
        b = {k: v[ok] for k, v in batch.items()}
        who, sent, camp, var = b["c"], b["sent"], b["camp"], b["var"]
        n = who.size
        if n == 0:
            return
        ids = self.n_messages + np.arange(n, dtype=np.int64)
        self.n_messages += n
        kind = self.camp_kind[camp]
        # delivery: numbers that never work, then transient failures and carrier filtering
        u = rng.random(n, dtype=np.float32)
        status = c.dead[who].copy()  # 0 delivered, else 1 + index into cfg.FAILURES
        live = status == 0
        status[live & (u < 0.012)] = 1
        status[live & (u >= 0.012) & (u < 0.018)] = 5
        filt = self.camp_filter[camp] * self.market_filter[c.market[who]]
        status[live & (u >= 0.018) & (u < 0.018 + filt)] = 4
        delivered = status == 0
        lat = (rng.lognormal(math.log(4.0), 0.7, n) * SECOND).astype(np.int64) + SECOND
        fi = np.flatnonzero(~delivered)
        lat[fi] = np.where(
            status[fi] == 5,
            rng.integers(SECOND // 2, 2 * SECOND, fi.size),
            rng.integers(5 * SECOND, 300 * SECOND, fi.size),
        )
        final = sent + lat
        # clicks: people (probability from the latent model), and link-preview bots
        how = hour_of_week(self.clock.local(c.zone[who], sent))
        alive = sent < c.churn[who]
        pref = _preference(*(c.pref32[k][who] for k in _PREF_COLUMNS), how)
        p = _click_probability(
            c.base_click32[who], pref, self.kind_mult[kind] * self.camp_mult[camp, var], alive
        )
        human = delivered & (rng.random(n, dtype=np.float32) < p)
        hi = np.flatnonzero(human)
        delay = 5 * SECOND + (rng.lognormal(math.log(150.0), 1.2, hi.size) * SECOND).astype(
            np.int64
        )
        late = rng.random(hi.size) < 0.04
        delay[late] = rng.integers(HOUR, 48 * HOUR, late.sum())
        t_click = final[hi] + delay
        again = rng.random(hi.size) < 0.10
        t_again = t_click[again] + rng.integers(10 * SECOND, 20 * MINUTE, again.sum())
        ua_h = c.device[who[hi]].astype(np.int16) * 3 + rng.integers(0, 3, hi.size).astype(np.int16)
        pi = np.flatnonzero(delivered & c.previewer[who])
        bi = pi[rng.random(pi.size) < PREVIEW_RATE]
        t_bot = final[bi] + rng.integers(SECOND // 5, 3 * SECOND, bi.size)
        ua_b = 6 + _choice(rng, [w for _, w in cfg.BOT_USER_AGENTS], bi.size)
        self._emit(
            k_msg=np.concatenate([ids[hi], ids[hi][again], ids[bi]]),
            k_t=np.concatenate([t_click, t_again, t_bot]),
            k_ua=np.concatenate([ua_h, ua_h[again], ua_b]),
            k_bot=np.concatenate([np.zeros(hi.size + again.sum(), bool), np.ones(bi.size, bool)]),
        )
        # replies: STOP (hazard grows with recent messages), HELP, free text
        decay = np.float32(1 / (FATIGUE_DAYS * DAY))
        fatigue = self.fatigue[who] * np.exp(
            -np.maximum(sent - self.fatigue_at, 0).astype(np.float32) * decay
        )
        hazard = self.kind_haz[kind] * c.optout_sens32[who] * (1 + 0.5 * fatigue)
        u = rng.random(n, dtype=np.float32)
        stop = delivered & (u < hazard)
        helpr = delivered & ~stop & (u < hazard + 0.0005)
        free = delivered & ~stop & ~helpr & (u < hazard + 0.0005 + 0.002 + 0.01 * human)
        kw = np.where(stop, 1, np.where(helpr, 2, 0)).astype(np.int8)
        ri = np.flatnonzero(stop | helpr | free)
        t_reply = (
            final[ri]
            + 20 * SECOND
            + (rng.lognormal(math.log(120.0), 1.2, ri.size) * SECOND).astype(np.int64)
        )
        self._emit(i_c=who[ri], i_t=t_reply, i_kw=kw[ri], i_msg=ids[ri], i_body=rng.random(ri.size))
        is_stop = kw[ri] == 1
        if is_stop.any():
            np.minimum.at(self.optout, who[ri[is_stop]], t_reply[is_stop])
        # orders caused by messages: conversions of clicks, and the uplift of recapture messages
        conv = rng.random(hi.size) < self.kind_conv[kind[hi]]
        ci = hi[conv]
        t_conv = t_click[conv] + rng.integers(2 * MINUTE, 3 * HOUR, ci.size)
        ok_conv = t_conv < c.churn[who[ci]]
        ti = np.flatnonzero(b["tau"] > 0)
        ri2 = ti[delivered[ti] & alive[ti] & (rng.random(ti.size) < b["tau"][ti])]
        bound = np.minimum(b["assigned"][ri2] + RECAPTURE_WINDOW_DAYS * DAY, c.churn[who[ri2]])
        room = (bound - final[ri2] - MINUTE) / DAY
        ok_rec = room > 0
        mean = 3.0  # days; truncated exponential delay within the 14-day window
        frac = -mean * np.log1p(-rng.random(ri2.size) * (1 - np.exp(-np.maximum(room, 0) / mean)))
        t_rec = final[ri2] + MINUTE + (frac * DAY).astype(np.int64)
        oc = np.concatenate([who[ci][ok_conv], who[ri2][ok_rec]])
        ot = np.concatenate([t_conv[ok_conv], t_rec[ok_rec]])
        self._emit(
            o_c=oc,
            o_t=ot,
            o_msg=np.concatenate([ids[ci][ok_conv], ids[ri2][ok_rec]]),
            o_src=np.concatenate(
                [np.ones(ok_conv.sum(), np.int8), np.full(ok_rec.sum(), 2, np.int8)]
            ),
        )
        self.pending_orders.append((oc, ot))
        thanks = rng.random(oc.size) < THANK_YOU_SHARE
        self.pending_thanks.append(
            (oc[thanks], ot[thanks] + rng.integers(HOUR, 3 * HOUR, thanks.sum()))
        )
        # the messages themselves: length with the first name (and points) -> encoding, segments
        named = self.camp_name[camp, var]
        seg_len = self.camp_len[camp, var] + c.name_len[who] * named
        rem = np.flatnonzero(kind == cfg.KIND_INDEX["reminder"])
        seg_len[rem] += len_digits(c.points[who[rem]])
        ucs2 = ~(self.camp_gsm[camp, var] & (c.name_gsm[who] | ~named))
        single, multi = np.where(ucs2, 70, 160), np.where(ucs2, 67, 153)
        segments = np.where(seg_len <= single, 1, -(-seg_len // multi)).astype(np.int16)
        self._emit(
            m_c=who,
            m_camp=camp,
            m_var=var,
            m_policy=b["policy"],
            m_sched=b["sched"],
            m_sent=sent,
            m_final=final,
            m_status=status,
            m_p=p.astype(np.float32),
            m_alive=alive,
            m_how=how,
            m_seg=segments,
            m_ucs2=ucs2,
        )
        # fatigue: exponentially decayed count of messages, kept at a common reference time
        ref = int(sent.max())
        if ref > self.fatigue_at:
            self.fatigue *= np.float32(math.exp(-(ref - self.fatigue_at) / (FATIGUE_DAYS * DAY)))
            self.fatigue_at = ref
        w = np.exp(-np.maximum(self.fatigue_at - sent, 0).astype(np.float32) * decay)
        np.add.at(self.fatigue, who, w)

    def take_thanks(self, until: int) -> tuple[np.ndarray, np.ndarray]:
        due_c, due_t, keep = [], [], []
        for tc, tt in self.pending_thanks:
            due = tt < until
            due_c.append(tc[due])
            due_t.append(tt[due])
            keep.append((tc[~due], tt[~due]))
        self.pending_thanks = keep
        if not due_c:
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
        return np.concatenate(due_c), np.concatenate(due_t)


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * l_) // 433
    month = (h + l_ - 7 * m + 90) // 25
    return dt.date(year, month, (h + l_ - 7 * m + 33 * month + 19) % 32)


def french_public_holidays(year: int) -> list[dt.date]:
    """The eleven public holidays of metropolitan France in ``year``."""
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    easter = _easter(year)
    movable = [
        easter + dt.timedelta(days=d) for d in (1, 39, 50)
    ]  # Easter Monday, Ascension, Whit Monday
    return sorted([dt.date(year, m, d) for m, d in fixed] + movable)


def _fr_bad_days(first: dt.date, last: dt.date) -> np.ndarray:
    """Boolean per day from ``first``: a Sunday or a French public holiday."""
    n = (last - first).days + 1
    days = np.arange(n) + (first - dt.date(1970, 1, 1)).days
    bad = day_of_week(days) == 6
    for year in range(first.year, last.year + 1):
        for d in french_public_holidays(year):
            if first <= d <= last:
                bad[(d - first).days] = True
    return bad


def _arr(out: dict[str, list[np.ndarray]], key: str, dtype: type | np.dtype) -> np.ndarray:
    parts = out[key]
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


# -- entry point ------------------------------------------------------------------------------
def generate_programme(
    n_contacts: int = 20_000,
    *,
    months: int = 12,
    seed: int = 0,
    end: dt.date | None = None,
    calendar_seed: int | None = None,
) -> Programme:
    """Generate a realistic SMS-marketing programme with its ground truth.

    Contacts in seven countries and twelve time zones sign up over time, give (or not) consent,
    receive campaigns of eight kinds at allowed local hours, click (people and link-preview bots),
    reply STOP/HELP/free text, and buy through a latent MBG/NBD purchase process that recapture
    messages lift for a random treated group. The model and its parameters are described in
    ``docs/synthetic-data.md``.

    Parameters
    ----------
    n_contacts
        Number of contacts (the demo uses 20,000; 1,000,000 generates in well under a minute).
    months
        Length of the messaging window, ending on ``end``. Signups and orders go back 24 more
        months.
    seed
        Seed of every random draw: the same arguments give identical frames.
    end
        Last day of the window (default :data:`DEFAULT_END`, 2026-10-31).
    calendar_seed
        Seed of the campaign calendar only (which broadcasts are A/B tests, their audiences,
        hours and creation times); default ``seed``. The chunked generator
        (:func:`smsanalytics.synth.generate_programme_parquet`) generates every chunk of contacts
        with its own ``seed`` and the programme's ``calendar_seed``, so that all chunks receive
        the same campaigns.

    Returns
    -------
    Programme
        The canonical tables and the truth tables.

    Raises
    ------
    ValueError
        When ``n_contacts`` or ``months`` is not positive.
    """
    import time

    if n_contacts < 1:
        raise ValueError(f"n_contacts must be at least 1, got {n_contacts}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    timings: dict[str, float] = {}
    tick = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(now - tick, 3)
        tick = now

    end = end or DEFAULT_END
    window_end = end + dt.timedelta(days=1)
    start_day = _add_months(window_end, -months)
    hist_day = _add_months(start_day, -PRE_WINDOW_MONTHS)
    start, as_of, hist = epoch_us(start_day), epoch_us(window_end), epoch_us(hist_day)
    utc = dt.UTC
    clock = Clock(
        cfg.ZONES,
        dt.datetime.combine(hist_day - dt.timedelta(days=3), dt.time(), utc),
        dt.datetime.combine(window_end + dt.timedelta(days=60), dt.time(), utc),
    )
    ss = np.random.SeedSequence(seed)
    rng_contacts, rng_orders, rng_calendar, rng_sim, rng_ids = (
        np.random.default_rng(s) for s in ss.spawn(5)
    )
    if calendar_seed is not None and calendar_seed != seed:
        rng_calendar = np.random.default_rng(np.random.SeedSequence(calendar_seed).spawn(5)[2])

    c = _make_contacts(n_contacts, rng_contacts, clock, hist, start, as_of)
    lap("contacts")
    base_c, base_t = _base_orders(c, rng_orders, clock, as_of)
    by_time = _sort_by(base_t)
    base_c_sorted, base_t_sorted = base_c[by_time], base_t[by_time]
    lap("base_orders")

    # campaigns: one row per broadcast and market, and the always-on automations
    broadcasts = _calendar(start_day, end, rng_calendar)
    rows: list[_CampaignRow] = []
    for kind in _AUTOMATIONS:
        for m in cfg.MARKETS:
            rows.append(
                _campaign_row(
                    f"auto-{kind}-{m}",
                    f"{_AUTOMATION_NAMES[kind]} ({m.upper()})",
                    kind,
                    m,
                    start - 30 * DAY,
                    0.0,
                    {"default": _render(cfg.TEMPLATES[kind][m], m, "")},
                    {"default": 1.0},
                    kind.replace("_", "-"),
                )
            )
    broadcast_rows: list[list[int]] = []
    lang_pos = {"fr": 0, "es": 1, "uk": 2, "na": 2}
    for b in broadcasts:
        ids = []
        created = (
            epoch_us(b.day)
            - int(rng_calendar.integers(1, 6)) * DAY
            - int(rng_calendar.integers(0, 8 * 3600)) * SECOND
        )
        for m in cfg.MARKETS:
            offer = b.offers[lang_pos[m]]
            templates = {}
            for arm in b.arms:
                base = cfg.TEMPLATES_B[m] if arm == "B" else cfg.TEMPLATES[b.kind][m]
                templates[arm] = _render(base, m, offer)
            ids.append(len(rows))
            rows.append(
                _campaign_row(
                    f"{b.day.isoformat()}-{b.slug}-{m}",
                    f"{b.name} ({m.upper()})",
                    b.kind,
                    m,
                    created,
                    RECAPTURE_HOLDOUT if b.kind == "recapture" else 0.0,
                    templates,
                    dict(zip(b.arms, b.multipliers, strict=True)),
                    b.slug,
                )
            )
        broadcast_rows.append(ids)

    day0_date = hist_day - dt.timedelta(days=3)
    fr_bad = _fr_bad_days(day0_date, window_end + dt.timedelta(days=60))
    sim = _Simulation(
        c, rng_sim, clock, rows, start, as_of, fr_bad, (day0_date - dt.date(1970, 1, 1)).days
    )

    # automation triggers known in advance: welcome on consent, birthdays, thanks for base orders
    welcome_c = np.flatnonzero((c.consent >= start) & (c.consent < as_of)).astype(np.int32)
    welcome_t = c.consent[welcome_c] + rng_sim.integers(30 * SECOND, 5 * MINUTE, welcome_c.size)
    bd_c, bd_t, bd_pol = [], [], []
    for year in range(start_day.year, end.year + 1):
        sel = np.flatnonzero(c.has_bday)
        month, day = c.bday_month[sel], c.bday_day[sel].astype(np.int64)
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        day = np.where((month == 2) & (day == 29) & (not leap), 28, day)
        dates = (np.datetime64(f"{year}-01", "M") + (month - 1).astype("timedelta64[M]")).astype(
            "datetime64[D]"
        )
        local_day = (dates + (day - 1).astype("timedelta64[D]")).astype(np.int64)
        random = rng_sim.random(sel.size) < RANDOM_HOUR_SHARE
        tod = np.where(
            random,
            rng_sim.integers(8, 20, sel.size) * HOUR + rng_sim.integers(0, 50 * MINUTE, sel.size),
            10 * HOUR + rng_sim.integers(0, 10 * MINUTE, sel.size),
        )
        t = sim._at_local(sel.astype(np.int32), local_day, tod)
        inside = (t >= start) & (t < as_of)
        bd_c.append(sel[inside].astype(np.int32))
        bd_t.append(t[inside])
        bd_pol.append(random[inside].astype(np.int8))
    bd_c_all, bd_t_all, bd_pol_all = (
        np.concatenate(bd_c),
        np.concatenate(bd_t),
        np.concatenate(bd_pol),
    )
    thanks = (base_t_sorted >= start - 3 * HOUR) & (
        rng_sim.random(base_t_sorted.size) < THANK_YOU_SHARE
    )
    sim.pending_thanks.append(
        (
            base_c_sorted[thanks],
            base_t_sorted[thanks] + rng_sim.integers(HOUR, 3 * HOUR, thanks.sum()),
        )
    )
    lap("calendar")

    bounds = [start] + [epoch_us(b.day) for b in broadcasts] + [as_of]
    pos = sim._apply_orders(start, base_c_sorted, base_t_sorted, 0)
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        batches = []
        if k > 0:
            b = broadcasts[k - 1]
            pos = sim._apply_orders(lo, base_c_sorted, base_t_sorted, pos)
            batches.append(sim.broadcast(b, broadcast_rows[k - 1], lo))
        w = (welcome_t >= lo) & (welcome_t < hi) if k else welcome_t < hi
        if w.any():
            batches.append(sim.automation("welcome", welcome_c[w], welcome_t[w]))
        bsel = (bd_t_all >= lo) & (bd_t_all < hi) if k else bd_t_all < hi
        if bsel.any():
            auto = sim.automation("birthday", bd_c_all[bsel], bd_t_all[bsel], bd_pol_all[bsel])
            auto["sent"] = bd_t_all[bsel] + rng_sim.integers(SECOND, 20 * SECOND, bsel.sum())
            auto["sched"] = bd_t_all[bsel]
            batches.append(auto)
        tc, tt = sim.take_thanks(hi)
        if tc.size:
            batches.append(sim.automation("thank_you", tc, tt))
        for batch in batches:
            sim.deliver(batch)
    lap("campaigns")

    prog = _assemble(c, sim, rows, base_c, base_t, rng_ids, start, as_of, clock, lap)
    return Programme(
        **prog,
        start=dt.datetime.combine(start_day, dt.time(), utc),
        end=end,
        as_of=dt.datetime.combine(window_end, dt.time(), utc),
        seed=seed,
        n_contacts=n_contacts,
        months=months,
        timings=timings,
    )


def _provider_ids(rng: np.random.Generator, n: int) -> pl.Series:
    """Twilio-style message SIDs: ``SM`` and 32 lowercase hex digits (128 random bits)."""
    import pyarrow as pa

    raw = rng.integers(0, 2**64 - 1, (n, 2), dtype=np.uint64, endpoint=True)  # 128 bits per row
    offsets = np.arange(0, 16 * (n + 1), 16, dtype=np.int64)
    arr = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw)]
    )
    hexed = pl.Series(pl.from_arrow(arr)).bin.encode("hex")
    return pl.select(pl.concat_str(pl.lit("SM"), hexed).alias("provider_message_id")).to_series()


def _sort_by(*keys: np.ndarray) -> np.ndarray:
    """Stable indices sorting by several keys (first key first), multi-threaded by polars."""
    frame = pl.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
    return frame.select(pl.arg_sort_by(frame.columns, maintain_order=True)).to_series().to_numpy()


def _assemble(
    c: _Contacts,
    sim: _Simulation,
    rows: list[_CampaignRow],
    base_c: np.ndarray,
    base_t: np.ndarray,
    rng: np.random.Generator,
    start: int,
    as_of: int,
    clock: Clock,
    lap: Callable[[str], None],
) -> dict[str, pl.DataFrame]:
    out = sim.out

    def take(key: str, dtype: type | np.dtype) -> np.ndarray:
        parts = out.pop(key)  # free the pieces as they are consumed
        return (
            np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
        )

    # opt-outs: the first STOP before the end, or an opt-out from before the window
    i_c, i_t, i_kw, i_msg = (
        take("i_c", np.int32),
        take("i_t", np.int64),
        take("i_kw", np.int8),
        take("i_msg", np.int64),
    )
    i_u = take("i_body", np.float64)
    optout = c.pre_optout.copy()
    stop = (i_kw == 1) & (i_t < as_of)
    np.minimum.at(optout, i_c[stop], i_t[stop])

    # messages: drop those after the contact's opt-out and number the rest in the order they
    # were generated (campaign by campaign, so ids grow with the schedule, not strictly with time)
    c_parts, t_parts = out.pop("m_c"), out.pop("m_sent")
    keep_parts = [t < optout[who] for who, t in zip(c_parts, t_parts, strict=True)]
    counts = [int(k.sum()) for k in keep_parts]
    m = sum(counts)
    new_id = np.zeros(sum(k.size for k in keep_parts) + 1, dtype=np.int64)  # pre-index -> id
    new_id[:-1][np.concatenate(keep_parts)] = np.arange(1, m + 1)

    def msg(key: str, dtype: type | np.dtype, parts: list[np.ndarray] | None = None) -> np.ndarray:
        """The kept rows of a per-message array, filtered piece by piece (one copy)."""
        parts = out.pop(key) if parts is None else parts
        result = np.empty(m, dtype=dtype)
        pos = 0
        for part, keep, k in zip(parts, keep_parts, counts, strict=True):
            np.compress(keep, part.astype(dtype, copy=False), out=result[pos : pos + k])
            pos += k
        parts.clear()
        return result

    mc, sent = msg("", np.int32, c_parts), msg("", np.int64, t_parts)
    lap("frames.order")

    camp, var = msg("m_camp", np.int16), msg("m_var", np.int8)
    sched, final = msg("m_sched", np.int64), msg("m_final", np.int64)
    status, segs, ucs2 = msg("m_status", np.int8), msg("m_seg", np.int16), msg("m_ucs2", bool)
    camp_ids = [r.campaign_id for r in rows]
    price = np.array([DEFAULT_PRICES.get(x.code, DEFAULT_PRICES["default"]) for x in cfg.COUNTRIES])
    message_id = pl.Series("message_id", np.arange(1, m + 1, dtype=np.int64))
    provider_id = _provider_ids(rng, m)
    messages = pl.DataFrame(
        [
            message_id,
            provider_id,
            _pick(camp_ids, camp, "campaign_id"),
            pl.Series("contact_id", mc.astype(np.int64) + 1),
            _pick(_VARIANTS, var, "variant"),
            _constant("body", None, m),
            _pick(("fixed", "random"), msg("m_policy", np.int8), "send_time_policy"),
            _ts(sched, "scheduled_at"),
            _ts(sent, "sent_at"),
            _pick(("GSM-7", "UCS-2"), ucs2, "encoding"),
            pl.Series("segments", segs.astype(np.int32)),
            pl.Series("cost", np.round(segs * price[c.country[mc]], 4)),
            _constant("currency", "EUR", m),
        ]
    )
    del sched, ucs2, segs
    truth_messages = pl.DataFrame(
        [
            message_id,
            provider_id,
            pl.Series("local_hour_of_week", msg("m_how", np.int16)),
            pl.Series("is_alive_at_send", msg("m_alive", bool)),
            pl.Series("click_probability", msg("m_p", np.float32).astype(np.float64)),
        ]
    )

    lap("frames.messages")

    # receipts: `sent`, then the final status, per message
    statuses = ("delivered", *(st for st, _ in cfg.FAILURES), "sent")
    codes = (None, *(e for _, e in cfg.FAILURES), None)
    pair = np.empty((m, 2), dtype=np.int64)
    pair[:] = np.arange(1, m + 1, dtype=np.int64)[:, None]
    r_t = np.empty((m, 2), dtype=np.int64)
    r_t[:, 0], r_t[:, 1] = sent, final
    r_status = np.empty((m, 2), dtype=np.int8)
    r_status[:, 0], r_status[:, 1] = len(statuses) - 1, status
    r_status = r_status.ravel()
    receipts = pl.DataFrame(
        [
            pl.Series("message_id", pair.ravel()),
            _ts(r_t.ravel(), "status_at"),
            _pick(statuses, r_status, "status"),
            _pick(codes, r_status, "error_code"),
        ]
    )
    del pair, r_t, r_status, final, status
    lap("frames.receipts")

    # clicks on kept messages, before the end (one row per message and instant)
    k_msg, k_t = take("k_msg", np.int64), take("k_t", np.int64)
    k_ua, k_bot = take("k_ua", np.int16), take("k_bot", bool)
    k_id = new_id[k_msg]
    ok = np.flatnonzero((k_id > 0) & (k_t < as_of))
    order_k = ok[_sort_by(k_id[ok], k_t[ok])]
    k_id, k_t, k_ua, k_bot = k_id[order_k], k_t[order_k], k_ua[order_k], k_bot[order_k]
    first = np.ones(k_id.size, dtype=bool)
    first[1:] = (k_id[1:] != k_id[:-1]) | (k_t[1:] != k_t[:-1])
    k_id, k_t, k_ua, k_bot = k_id[first], k_t[first], k_ua[first], k_bot[first]
    urls = [r.url for r in rows]
    uas = [
        *cfg.HUMAN_USER_AGENTS["ios"],
        *cfg.HUMAN_USER_AGENTS["android"],
        *(u for u, _ in cfg.BOT_USER_AGENTS),
    ]
    clicks = pl.DataFrame(
        [
            pl.Series("message_id", k_id),
            pl.Series("contact_id", mc[k_id - 1].astype(np.int64) + 1),
            _ts(k_t, "clicked_at"),
            _pick(urls, camp[k_id - 1], "url"),
            _pick(uas, k_ua, "user_agent"),
            pl.Series("is_bot", k_bot),
        ]
    )
    del k_msg, k_t, k_ua, k_bot, k_id
    lap("frames.clicks")

    # inbound replies to kept messages, before the end
    ok = np.flatnonzero((new_id[i_msg] > 0) & (i_t < as_of))
    order_i = ok[_sort_by(i_t[ok], i_c[ok])]
    i_c, i_t, i_kw, i_u = i_c[order_i], i_t[order_i], i_kw[order_i], i_u[order_i]
    first = np.ones(i_c.size, dtype=bool)
    first[1:] = (i_c[1:] != i_c[:-1]) | (i_t[1:] != i_t[:-1])
    i_c, i_t, i_kw, i_u = i_c[first], i_t[first], i_kw[first], i_u[first]
    market = c.market[i_c]
    body_lists: list[str] = []
    body_code = np.zeros(i_c.size, dtype=np.int32)
    for mi, mk in enumerate(cfg.MARKETS):
        stops = cfg.STOP_REPLIES[mk]
        sel = (market == mi) & (i_kw == 1)
        cum = np.cumsum([w for _, w in stops]) / sum(w for _, w in stops)
        body_code[sel] = len(body_lists) + np.searchsorted(cum, i_u[sel], side="right").clip(
            0, len(stops) - 1
        )
        body_lists.extend(st for st, _ in stops)
        sel = (market == mi) & (i_kw == 0)
        free = cfg.FREE_REPLIES[mk]
        body_code[sel] = len(body_lists) + (i_u[sel] * len(free)).astype(np.int32).clip(
            0, len(free) - 1
        )
        body_lists.extend(free)
    sel = i_kw == 2
    helps = cfg.HELP_REPLIES
    body_code[sel] = len(body_lists) + (i_u[sel] * len(helps)).astype(np.int32).clip(
        0, len(helps) - 1
    )
    body_lists.extend(helps)
    inbound = pl.DataFrame(
        [
            pl.Series("contact_id", i_c.astype(np.int64) + 1),
            _ts(i_t, "received_at"),
            _pick(body_lists, body_code, "body"),
            _pick((None, "STOP", "HELP"), i_kw, "keyword"),
        ]
    )
    lap("frames.inbound")

    # orders: the purchase process plus the orders caused by kept messages
    o_c, o_t = take("o_c", np.int32), take("o_t", np.int64)
    o_src, o_msg = take("o_src", np.int8), take("o_msg", np.int64)
    o_id = new_id[o_msg]
    del new_id
    ok = (o_id > 0) & (o_t < as_of)
    all_c = np.concatenate([base_c, o_c[ok]]).astype(np.int64)
    all_t = np.concatenate([base_t, o_t[ok]])
    all_src = np.concatenate([np.zeros(base_c.size, np.int8), o_src[ok]])
    all_msg = np.concatenate([np.zeros(base_c.size, np.int64), o_id[ok]])
    order_o = _sort_by(all_t, all_c)
    all_c, all_t, all_src, all_msg = (
        all_c[order_o],
        all_t[order_o],
        all_src[order_o],
        all_msg[order_o],
    )
    amount = np.round(
        np.maximum(np.exp(rng.normal(c.amount_mu[all_c], c.amount_sd[all_c])), 1.0), 2
    )
    seq = pl.Series(np.arange(1, all_c.size + 1, dtype=np.int64)).cast(pl.String).str.zfill(8)
    order_id = pl.select(pl.concat_str(pl.lit("ORD-"), seq).alias("order_id")).to_series()
    orders = pl.DataFrame(
        [
            order_id,
            pl.Series("contact_id", all_c + 1),
            _ts(all_t, "ordered_at"),
            pl.Series("amount", amount),
            _constant("currency", "EUR", all_c.size),
        ]
    )
    truth_orders = pl.DataFrame(
        [
            order_id,
            _pick(("base", "click", "recapture"), all_src, "source"),
            _nullable(pl.Series("message_id", all_msg), all_msg > 0),
        ]
    )
    lap("frames.orders")

    # assignments and recapture truth
    a_c, a_camp = take("a_c", np.int32), take("a_camp", np.int16)
    assignments = pl.DataFrame(
        [
            _pick(camp_ids, a_camp, "campaign_id"),
            pl.Series("contact_id", a_c.astype(np.int64) + 1),
            _pick(_VARIANTS, take("a_var", np.int8), "variant"),
            pl.Series("is_holdout", take("a_hold", bool)),
            _ts(take("a_t", np.int64), "assigned_at"),
        ]
    )
    r_c = take("r_c", np.int32)
    r_base, r_tau, r_alive = (
        take("r_base", np.float64),
        take("r_tau", np.float64),
        take("r_alive", bool),
    )
    ext = pl.Series(np.arange(1, c.n + 1, dtype=np.int64)).cast(pl.String).str.zfill(7)
    external = pl.select(pl.concat_str(pl.lit("C"), ext).alias("external_id")).to_series()
    truth_recapture = pl.DataFrame(
        [
            _pick(camp_ids, take("r_camp", np.int16), "campaign_id"),
            pl.Series("contact_id", r_c.astype(np.int64) + 1),
            external.gather(r_c.astype(np.uint32)),
            pl.Series("is_holdout", take("r_hold", bool)),
            _ts(take("r_t", np.int64), "assigned_at"),
            pl.Series("is_alive_at_assignment", r_alive),
            pl.Series("recency_days", take("r_rec", np.float64)),
            pl.Series("baseline_14d", r_base),
            pl.Series("uplift_if_alive", r_tau),
            pl.Series("uplift_14d", np.where(r_alive, r_tau * (1 - r_base), 0.0)),
        ]
    )
    lap("frames.assignments")

    campaigns = pl.DataFrame(
        {
            "campaign_id": camp_ids,
            "name": [r.name for r in rows],
            "kind": [r.kind for r in rows],
            "sender_id": [r.sender_id for r in rows],
            "template": [r.template for r in rows],
            "created_at": _ts(np.array([r.created_at for r in rows], dtype=np.int64), "created_at"),
            "holdout_share": [r.holdout_share for r in rows],
        }
    )
    variant_rows = [
        (r.campaign_id, arm, text, r.multipliers[arm], r.gsm[arm])
        for r in rows
        for arm, text in r.templates.items()
    ] + [(r.campaign_id, "control", None, 0.0, True) for r in rows if r.holdout_share > 0]
    truth_variants = pl.DataFrame(
        variant_rows,
        schema={
            "campaign_id": pl.String,
            "variant": pl.String,
            "template": pl.String,
            "click_multiplier": pl.Float64,
            "is_gsm7": pl.Boolean,
        },
        orient="row",
    )

    contacts = _contacts_frame(c, optout, external)
    truth_contacts = _truth_contacts_frame(c, external, as_of)
    frames = {
        "contacts": contacts,
        "campaigns": campaigns,
        "messages": messages,
        "assignments": assignments,
        "receipts": receipts,
        "clicks": clicks,
        "inbound": inbound,
        "orders": orders,
    }
    for name, frame in frames.items():
        schema = schemas.table(name).polars_schema
        if frame.schema != schema:
            frames[name] = frame.select(pl.col(k).cast(v) for k, v in schema.items())
    lap("frames.contacts")
    return {
        **frames,
        "truth_contacts": truth_contacts,
        "truth_messages": truth_messages,
        "truth_recapture": truth_recapture,
        "truth_variants": truth_variants,
        "truth_orders": truth_orders,
    }


def _contacts_frame(c: _Contacts, optout: np.ndarray, external: pl.Series) -> pl.DataFrame:
    n = c.n
    cc = [cfg.COUNTRIES[cfg.COUNTRY_INDEX[r.country]].calling_code for r in cfg.NUMBER_RANGES]
    phone = pl.select(
        pl.concat_str(
            pl.lit("+"), _pick(cc, c.range_idx, "cc"), pl.Series(c.nsn).cast(pl.String)
        ).alias("phone_e164")
    ).to_series()
    names = pl.Series("first_name", [*_NAMES, None], dtype=pl.String).gather(
        np.where(c.name_idx < 0, len(_NAMES), c.name_idx).astype(np.uint32)
    )
    language = _pick([x.language for x in cfg.COUNTRIES], c.country, "language")
    bday = pl.select(
        pl.when(pl.Series(c.has_bday))
        .then(
            pl.date(
                pl.Series(c.bday_year),
                pl.Series(c.bday_month.astype(np.int32)),
                pl.Series(c.bday_day.astype(np.int32)),
            )
        )
        .alias("birthday")
    ).to_series()
    stores = [s for m in cfg.MARKETS for s in cfg.STORES[m]]
    store_off = np.cumsum([0, *(len(cfg.STORES[m]) for m in cfg.MARKETS)])[:-1]
    attrs = pl.select(
        pl.concat_str(
            pl.lit('{"acquisition_channel": "'),
            _pick(cfg.ACQUISITION_CHANNELS, c.acquisition, "a"),
            pl.lit('", "store": "'),
            _pick(stores, store_off[c.market] + c.store, "s"),
            pl.lit('"}'),
        ).alias("attributes")
    ).to_series()
    return pl.DataFrame(
        [
            pl.Series("contact_id", np.arange(1, n + 1, dtype=np.int64)),
            external,
            phone,
            _pick([r.phone_type for r in cfg.NUMBER_RANGES], c.range_idx, "phone_type"),
            _pick([x.code for x in cfg.COUNTRIES], c.country, "country"),
            _pick(cfg.ZONES, c.zone, "timezone"),
            _pick(("explicit", "number"), c.zone_from_number.astype(np.int8), "timezone_source"),
            names,
            language,
            _ts(c.signup, "signup_at"),
            bday,
            _ts(c.consent, "consent_at", c.consent != NEVER),
            _ts(optout, "opted_out_at", optout != NEVER),
            _nullable(pl.Series("points", c.points, dtype=pl.Int32), c.points >= 0),
            attrs,
        ]
    )


def _truth_contacts_frame(c: _Contacts, external: pl.Series, as_of: int) -> pl.DataFrame:
    alive = c.churn == NEVER
    return pl.DataFrame(
        [
            pl.Series("contact_id", np.arange(1, c.n + 1, dtype=np.int64)),
            external,
            pl.Series("base_click", c.base_click),
            *(pl.Series(k, v.astype(np.float64)) for k, v in c.pref.items()),
            pl.Series("purchase_rate_per_year", c.lam * 365.25),
            pl.Series("dropout_p", c.dropout),
            _ts(np.where(alive, 0, c.churn), "churn_at", ~alive),
            pl.Series("is_alive_at_end", alive),
            pl.Series("amount_log_mean", c.amount_mu),
            pl.Series("amount_log_sd", c.amount_sd),
            pl.Series("recapture_uplift", c.tau),
            pl.Series(
                "recapture_baseline_14d",
                np.where(alive, 1 - np.exp(-RECAPTURE_WINDOW_DAYS * c.lam), 0.0),
            ),
            pl.Series("optout_sensitivity", c.optout_sens),
            _pick(("ios", "android"), c.device, "device"),
            pl.Series("is_link_previewer", c.previewer),
            pl.Series("is_dead_number", c.dead > 0),
        ]
    )
