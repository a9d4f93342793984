"""Evaluations of the send-time model that a user can check: against ground truth, on real orders.

- :func:`evaluate_programme`: on a generated programme (:mod:`smsanalytics.synth`) whose true
  click probabilities are known, the expected click rate of the sends after a cut-off if each
  had gone out at (a) a random allowed hour of its day, (b) the global best hour, (c) the
  contact's naive argmax of past clicks, (d) the model's hour, (e) the oracle's hour; with
  contact-bootstrap intervals, the lifts and the share of the oracle's gain captured.
- :func:`evaluate_online_retail`: on the UCI Online Retail orders, how well each method's
  hour-of-week distribution fitted on orders before a cut-off predicts the hour of week of each
  customer's later orders (mean log-likelihood, top-3-hours hit rate).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from smsanalytics.sendtime.model import HOURS_OF_WEEK, LEVELS, AllowedHours, SendTimeModel
from smsanalytics.sendtime.timezones import ZoneOffsets, hour_of_week, to_epoch_us

__all__ = [
    "STRATEGIES",
    "SendTimeEvaluation",
    "SendTimeReadout",
    "bootstrap_ratio_means",
    "evaluate_online_retail",
    "evaluate_programme",
    "naive_click_hours",
    "readout_send_time",
    "rfm_segments_at",
]

#: The strategies compared by :func:`evaluate_programme`, in report order.
STRATEGIES: tuple[str, ...] = ("random", "global_best", "naive", "model", "oracle")
#: Kinds whose send time a planner chooses (welcome and thank-you messages follow an event).
SCHEDULABLE_KINDS: tuple[str, ...] = (
    "promotional",
    "birthday",
    "reminder",
    "recapture",
    "informational",
    "invitation",
)


@dataclass(frozen=True)
class SendTimeEvaluation:
    """The ground-truth evaluation of :func:`evaluate_programme`.

    Attributes
    ----------
    expected_ctr
        Expected human click rate of the evaluation sends under each strategy
        (:data:`STRATEGIES`).
    intervals
        95 % contact-bootstrap percentile intervals ``[low, high]`` of each figure of
        ``expected_ctr`` and of the derived figures below.
    lift_over_global_best, lift_over_naive
        ``{"absolute": model - other, "relative": model / other - 1}``.
    share_of_oracle_gain
        ``(model - random) / (oracle - random)``.
    n_contacts, n_history_sends, n_eval_sends, n_eval_contacts
        Sizes.
    cutoff
        The model saw sends and clicks before it; the evaluation sends are at or after it.
    levels
        Evaluation contacts per fallback level.
    hyperparameters
        What the model chose (strengths, bandwidth, and how).
    seconds
        Wall time of ``fit`` and of the predictions.
    settings
        The evaluation's settings (seed, holdout, allowed hours, bootstrap size).
    """

    expected_ctr: dict[str, float]
    intervals: dict[str, list[float]]
    lift_over_global_best: dict[str, float]
    lift_over_naive: dict[str, float]
    share_of_oracle_gain: float
    n_contacts: int
    n_history_sends: int
    n_eval_sends: int
    n_eval_contacts: int
    cutoff: dt.datetime
    levels: dict[str, int]
    hyperparameters: dict[str, Any]
    seconds: dict[str, float]
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO strings)."""
        d = asdict(self)
        d["cutoff"] = self.cutoff.isoformat()
        return d

    def table(self) -> pl.DataFrame:
        """One row per strategy: ``strategy``, ``expected_ctr``, ``ci_low``, ``ci_high``."""
        return pl.DataFrame(
            {
                "strategy": list(STRATEGIES),
                "expected_ctr": [self.expected_ctr[s] for s in STRATEGIES],
                "ci_low": [self.intervals[s][0] for s in STRATEGIES],
                "ci_high": [self.intervals[s][1] for s in STRATEGIES],
            }
        )


# -- statistics --------------------------------------------------------------------------------
def bootstrap_ratio_means(
    sums: np.ndarray,
    counts: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    batch: int = 50,
) -> np.ndarray:
    """Bootstrap replicates of ratio means ``Σ sums / Σ counts`` resampling clusters (contacts).

    Uses the Poisson bootstrap (each cluster weighted by a Poisson(1) draw), which matches the
    multinomial bootstrap for large samples and needs no index arrays.

    Parameters
    ----------
    sums
        ``(n_clusters, n_stats)``: per cluster, the sum of each statistic over its units.
    counts
        ``(n_clusters,)``: units per cluster.

    Returns
    -------
    numpy.ndarray
        ``(n_boot, n_stats)`` replicates of the ratio means.

    References
    ----------
    Hanley, J. A. & MacGibbon, B. (2006). Creating non-parametric bootstrap samples using
    Poisson frequencies. *Computer Methods and Programs in Biomedicine* 83(1), 57–62.
    """
    rng = np.random.default_rng(seed)
    sums = np.asarray(sums, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    out = np.empty((n_boot, sums.shape[1]))
    for lo in range(0, n_boot, batch):
        b = min(batch, n_boot - lo)
        w = rng.poisson(1.0, (b, counts.size)).astype(np.float64)
        out[lo : lo + b] = (w @ sums) / np.maximum(w @ counts, 1e-300)[:, None]
    return out


def _interval(reps: np.ndarray) -> list[float]:
    lo, hi = np.nanpercentile(reps, [2.5, 97.5])
    return [float(lo), float(hi)]


# -- helpers shared with the CLI ---------------------------------------------------------------
def rfm_segments_at(
    contacts: pl.DataFrame, orders: pl.DataFrame, *, as_of: dt.datetime
) -> pl.DataFrame:
    """``contacts`` with the RFM segment (``rfm_segment``) from the orders before ``as_of``.

    A light polars version of the feature table (``n_orders``, ``recency_days``,
    ``monetary_total``) fed to :func:`smsanalytics.segments.compute_rfm`.
    """
    from smsanalytics.segments import compute_rfm

    past = orders.filter(pl.col("ordered_at") < as_of)
    agg = past.group_by("contact_id").agg(
        pl.len().cast(pl.Int64).alias("n_orders"),
        pl.col("amount").sum().alias("monetary_total"),
        ((pl.lit(as_of) - pl.col("ordered_at").max()).dt.total_days())
        .cast(pl.Int64)
        .alias("recency_days"),
    )
    frame = contacts.join(agg, on="contact_id", how="left", maintain_order="left").with_columns(
        pl.col("n_orders").fill_null(0), pl.col("monetary_total").fill_null(0.0)
    )
    return compute_rfm(frame).drop(
        "n_orders",
        "monetary_total",
        "recency_days",
        "r_score",
        "f_score",
        "m_score",
        "fm_score",
        "rfm_cell",
    )


def naive_click_hours(
    clicks: pl.DataFrame, contacts: pl.DataFrame, *, before: dt.datetime
) -> tuple[np.ndarray, np.ndarray]:
    """Past human clicks per contact and local hour of day of the click (the naive baseline).

    Returns
    -------
    ids, counts
        Sorted contact ids and an ``(n, 24)`` array of human click counts by local hour of the
        click (bots excluded; every click before ``before`` counts, whatever the send's hour).
    """
    past = clicks.filter((pl.col("clicked_at") < before) & ~pl.col("is_bot").fill_null(False))
    zones = contacts.select("contact_id", "timezone")
    past = past.select("contact_id", "clicked_at").join(zones, on="contact_id", how="inner")
    t = to_epoch_us(past["clicked_at"])
    table = ZoneOffsets.covering(zones["timezone"].unique().to_list(), t)
    codes = table.codes(past["timezone"])
    ok = codes >= 0
    hod = hour_of_week(table.local_us(codes[ok], t[ok])) % 24
    ids = np.unique(zones["contact_id"].to_numpy())
    pos = np.searchsorted(ids, past["contact_id"].to_numpy()[ok])
    counts = np.bincount(pos * 24 + hod, minlength=ids.size * 24).reshape(ids.size, 24)
    return ids, counts


# -- ground-truth evaluation -------------------------------------------------------------------
def evaluate_programme(
    programme: Any,
    *,
    holdout_days: int = 60,
    allowed: AllowedHours | None = None,
    model: SendTimeModel | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> SendTimeEvaluation:
    """Fit on the history of a generated programme and score strategies against its truth.

    Parameters
    ----------
    programme
        A :class:`smsanalytics.synth.Programme` (canonical tables and truth tables).
    holdout_days
        The model sees sends, clicks, receipts and orders before ``as_of - holdout_days``; the
        evaluation sends are the later sends of schedulable kinds (:data:`SCHEDULABLE_KINDS`).
    allowed
        Allowed local hours (default 08:00–20:00): every strategy picks an hour of the
        evaluation send's own local day within them.
    model
        An unfitted :class:`SendTimeModel` (default: segments by RFM at the cut-off).
    n_boot, seed
        Contact-bootstrap replicates for the intervals, and their seed.

    Returns
    -------
    SendTimeEvaluation

    Notes
    -----
    For each evaluation send (contact *c*, local day *d*, kind *k*, campaign arm with
    multiplier *m*, alive state at the send), the true click probability at each hour *h* of
    *d* is ``truth_click_probability`` × *m* (capped at 0.95). A strategy's value is the mean of
    that probability at the hour it picks (the random strategy: the mean over allowed hours);
    the figures are means over evaluation sends. The naive strategy is the allowed hour with the
    most past human clicks (by local hour of the click; ties and contacts without clicks take
    the global best hour).
    """
    from smsanalytics.synth import truth_click_probability

    allowed = allowed or AllowedHours()
    mask = allowed.hours_of_week().reshape(7, 24)
    cutoff = programme.as_of - dt.timedelta(days=holdout_days)
    hist = programme.messages.filter(pl.col("sent_at") < cutoff)
    clicks = programme.clicks.filter(pl.col("clicked_at") < cutoff)
    receipts = programme.receipts.filter(pl.col("status_at") < cutoff)
    contacts = programme.contacts.filter(pl.col("signup_at") < cutoff).select(
        "contact_id", "timezone"
    )
    try:
        contacts = rfm_segments_at(contacts, programme.orders, as_of=cutoff)
        segment_column: str | None = "rfm_segment"
    except ImportError:  # pragma: no cover - segments is part of the package
        segment_column = None
    model = model or SendTimeModel(segment_column=segment_column, random_state=seed)
    t0 = time.perf_counter()
    model.fit(hist, clicks, contacts=contacts, receipts=receipts)
    fit_seconds = time.perf_counter() - t0

    # evaluation sends with their truth
    kinds = programme.campaigns.select("campaign_id", "kind")
    mult = programme.truth_variants.select("campaign_id", "variant", "click_multiplier")
    ev = (
        programme.messages.filter(pl.col("sent_at") >= cutoff)
        .select("message_id", "contact_id", "campaign_id", "variant")
        .join(programme.truth_messages, on="message_id", how="inner")
        .join(kinds, on="campaign_id", how="left")
        .join(mult, on=["campaign_id", "variant"], how="left")
        .filter(pl.col("kind").is_in(SCHEDULABLE_KINDS))
        .sort("message_id")
    )
    day = (ev["local_hour_of_week"].to_numpy() // 24).astype(np.int64)
    cand = day[:, None] * 24 + np.arange(24)[None, :]
    truth = programme.truth_contacts
    rows = truth[ev["contact_id"].to_numpy() - 1].with_columns(
        ev["is_alive_at_send"].alias("is_alive_at_end")
    )
    prob = np.zeros(cand.shape)
    kind_arr = ev["kind"].to_numpy()
    for kind in np.unique(kind_arr):
        sel = kind_arr == kind
        prob[sel] = truth_click_probability(rows.filter(pl.Series(sel)), cand[sel], kind=str(kind))
    m = ev["click_multiplier"].fill_null(1.0).to_numpy()
    prob = np.minimum(prob * m[:, None], 0.95)
    ok = mask[day]  # (n_eval, 24) allowed hours of the send's day
    if not ok.any(1).all():
        raise ValueError(
            "some evaluation sends fall on a day without allowed hours; widen `allowed`"
        )
    idx = np.arange(day.size)

    def pick(scores: np.ndarray) -> np.ndarray:
        s = np.where(ok & np.isfinite(scores), scores, -np.inf)
        return prob[idx, np.argmax(s, axis=1)]

    t1 = time.perf_counter()
    values: dict[str, np.ndarray] = {}
    values["random"] = np.where(ok, prob, 0.0).sum(1) / ok.sum(1)
    values["oracle"] = np.where(ok, prob, -np.inf).max(1)
    q_g = model.profiles_[0]
    global_rank = np.where(np.isfinite(q_g), q_g, -np.inf)[cand]
    values["global_best"] = pick(global_rank)
    ids, counts = naive_click_hours(clicks, contacts, before=cutoff)
    pos = np.searchsorted(ids, ev["contact_id"].to_numpy())
    pos = np.minimum(pos, ids.size - 1)
    known = ids[pos] == ev["contact_id"].to_numpy()
    c = np.where(known[:, None], counts[pos], 0).astype(np.float64)
    # ties (and contacts without clicks) broken by the global ranking
    order = np.argsort(
        np.argsort(np.where(np.isfinite(global_rank), global_rank, -1e9), axis=1), axis=1
    )
    values["naive"] = pick(c + order / 1000.0)
    uniq, inverse = np.unique(ev["contact_id"].to_numpy(), return_inverse=True)
    scores = model.predict_scores(uniq)
    values["model"] = pick(scores[inverse[:, None], cand])
    predict_seconds = time.perf_counter() - t1

    # per-contact sums, bootstrap over contacts
    sums = np.stack(
        [np.bincount(inverse, values[s], minlength=uniq.size) for s in STRATEGIES], axis=1
    )
    counts_c = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
    point = sums.sum(0) / counts_c.sum()
    reps = bootstrap_ratio_means(sums, counts_c, n_boot=n_boot, seed=seed)
    i = {s: k for k, s in enumerate(STRATEGIES)}

    def derived(v: np.ndarray) -> dict[str, Any]:
        rnd, glob, nai, mod, ora = (v[..., i[s]] for s in STRATEGIES)
        return {
            "lift_over_global_best_abs": mod - glob,
            "lift_over_global_best_rel": mod / glob - 1,
            "lift_over_naive_abs": mod - nai,
            "lift_over_naive_rel": mod / nai - 1,
            "share_of_oracle_gain": (mod - rnd) / (ora - rnd),
        }

    d_point, d_reps = derived(point), derived(reps)
    intervals = {s: _interval(reps[:, i[s]]) for s in STRATEGIES}
    intervals.update({k: _interval(v) for k, v in d_reps.items()})
    ev_levels = model.predict(uniq, allowed=allowed)["level"].value_counts()
    levels = {name: 0 for name in LEVELS}
    levels.update(dict(ev_levels.iter_rows()))
    return SendTimeEvaluation(
        expected_ctr={s: float(point[i[s]]) for s in STRATEGIES},
        intervals=intervals,
        lift_over_global_best={
            "absolute": float(d_point["lift_over_global_best_abs"]),
            "relative": float(d_point["lift_over_global_best_rel"]),
        },
        lift_over_naive={
            "absolute": float(d_point["lift_over_naive_abs"]),
            "relative": float(d_point["lift_over_naive_rel"]),
        },
        share_of_oracle_gain=float(d_point["share_of_oracle_gain"]),
        n_contacts=int(programme.contacts.height),
        n_history_sends=int(hist.height),
        n_eval_sends=int(ev.height),
        n_eval_contacts=int(uniq.size),
        cutoff=cutoff,
        levels=levels,
        hyperparameters=model.hyperparameters_,
        seconds={"fit": round(fit_seconds, 3), "predict": round(predict_seconds, 3)},
        settings={
            "seed": getattr(programme, "seed", None),
            "months": getattr(programme, "months", None),
            "holdout_days": holdout_days,
            "allowed_hours": [str(allowed.start), str(allowed.end)],
            "allowed_days": list(allowed.days),
            "n_boot": n_boot,
            "segment_column": model.segment_column,
            "profile_source": model.profile_source_,
        },
    )


# -- real data: Online Retail --------------------------------------------------------------------
def evaluate_online_retail(
    orders: pl.DataFrame,
    *,
    cutoff: dt.datetime = dt.datetime(2011, 9, 1, tzinfo=dt.UTC),
    timezone: str = "Europe/London",
    model: SendTimeModel | None = None,
    floor: float = 1e-3,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """How well hour-of-week distributions fitted before a cut-off predict later orders.

    Parameters
    ----------
    orders
        ``contact_id`` (Int64), ``ordered_at`` (Datetime UTC), ``amount``: e.g. the output of
        :func:`smsanalytics.features.load_online_retail`.
    cutoff
        Orders before it are history; the customers with orders on both sides are evaluated on
        their later orders.
    timezone
        Every customer's zone (the shop's: the data holds UK wall-clock times).
    model
        An unfitted :class:`SendTimeModel` (default: RFM segments at the cut-off).
    floor
        Every distribution is mixed with the uniform one with this weight, so an hour never seen
        before keeps a finite log-likelihood (the same for every method).
    n_boot, seed
        Customer-bootstrap replicates and seed.

    Returns
    -------
    polars.DataFrame
        One row per method — ``global`` (pooled history of all customers), ``empirical`` (the
        customer's own history, add-½ per hour of week), ``model``
        (:meth:`SendTimeModel.fit_events`)
        — with ``mean_loglik`` (nats per later order), ``top3_hit_rate`` (share of later orders
        in the method's three most likely hours of week for that customer; ties broken by the
        global distribution), each with its 95 % interval and its paired difference to
        ``global`` (``loglik_vs_global``, ``top3_vs_global``, with intervals), ``customers`` and
        ``orders``. The model's chosen hyperparameters are in ``model.hyperparameters_`` when a
        model is passed.
    """
    start = orders["ordered_at"].min()
    past = orders.filter(pl.col("ordered_at") < cutoff)
    later = orders.filter(pl.col("ordered_at") >= cutoff)
    both = np.intersect1d(
        past["contact_id"].unique().to_numpy(), later["contact_id"].unique().to_numpy()
    )
    contacts = pl.DataFrame({"contact_id": past["contact_id"].unique().sort()}).with_columns(
        pl.lit(timezone).alias("timezone")
    )
    contacts = rfm_segments_at(contacts, past, as_of=cutoff)
    model = model or SendTimeModel(segment_column="rfm_segment", random_state=seed)
    events = past.select("contact_id", pl.col("ordered_at").alias("event_at"))
    model.fit_events(events, contacts=contacts, start=start, end=cutoff)

    ev = later.filter(pl.col("contact_id").is_in(pl.Series(both).implode())).sort(
        "contact_id", "ordered_at"
    )
    how = _local_how(ev["ordered_at"], timezone)
    hist_how = _local_how(past["ordered_at"], timezone)
    uniq, inverse = np.unique(ev["contact_id"].to_numpy(), return_inverse=True)

    pooled = np.bincount(hist_how, minlength=HOURS_OF_WEEK).astype(np.float64)
    p_global = pooled / pooled.sum()
    own = np.zeros((uniq.size, HOURS_OF_WEEK))
    pos = np.searchsorted(uniq, past["contact_id"].to_numpy())
    pos = np.minimum(pos, uniq.size - 1)
    mine = uniq[pos] == past["contact_id"].to_numpy()
    np.add.at(own, (pos[mine], hist_how[mine]), 1.0)
    dists = {
        "global": np.broadcast_to(p_global, (uniq.size, HOURS_OF_WEEK)),
        "empirical": (own + 0.5) / (own.sum(1, keepdims=True) + 0.5 * HOURS_OF_WEEK),
        "model": model.predict_distribution(uniq),
    }
    tie = p_global * 1e-9
    names = list(dists)
    lls, hits = [], []
    for name in names:
        p = (1 - floor) * dists[name] + floor / HOURS_OF_WEEK
        lls.append(np.log(p[inverse, how]))
        ranked = p + (own * 1e-6 if name == "empirical" else 0.0) + tie
        top3 = np.argsort(-ranked, axis=1)[:, :3]
        hits.append((top3[inverse] == how[:, None]).any(1).astype(np.float64))
    g = names.index("global")
    stats = [*lls, *hits, *(ll - lls[g] for ll in lls), *(h - hits[g] for h in hits)]
    sums = np.stack([np.bincount(inverse, v, minlength=uniq.size) for v in stats], axis=1)
    counts = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
    reps = bootstrap_ratio_means(sums, counts, n_boot=n_boot, seed=seed)
    k = len(names)
    rows = []
    for i, name in enumerate(names):
        ll_ci, hit_ci = _interval(reps[:, i]), _interval(reps[:, k + i])
        dll_ci, dhit_ci = _interval(reps[:, 2 * k + i]), _interval(reps[:, 3 * k + i])
        rows.append(
            {
                "method": name,
                "mean_loglik": float(lls[i].mean()),
                "mean_loglik_ci_low": ll_ci[0],
                "mean_loglik_ci_high": ll_ci[1],
                "loglik_vs_global": float((lls[i] - lls[g]).mean()),
                "loglik_vs_global_ci_low": dll_ci[0],
                "loglik_vs_global_ci_high": dll_ci[1],
                "top3_hit_rate": float(hits[i].mean()),
                "top3_ci_low": hit_ci[0],
                "top3_ci_high": hit_ci[1],
                "top3_vs_global": float((hits[i] - hits[g]).mean()),
                "top3_vs_global_ci_low": dhit_ci[0],
                "top3_vs_global_ci_high": dhit_ci[1],
                "customers": int(uniq.size),
                "orders": int(ev.height),
            }
        )
    return pl.DataFrame(rows)


def _local_how(utc: pl.Series, zone: str) -> np.ndarray:
    t = to_epoch_us(utc)
    table = ZoneOffsets.covering([zone], t)
    return table.hour_of_week(np.zeros(t.size, dtype=np.int32), t).astype(np.int64)


# -- the random-time control arm -----------------------------------------------------------------
@dataclass(frozen=True)
class SendTimeReadout:
    """Optimised versus random send time in one campaign (or several).

    Attributes
    ----------
    optimised_n, optimised_responses, random_n, random_responses
        Delivered sends and human responses (clicks within the window) per arm.
    optimised_rate, random_rate
        Response rates.
    lift_abs, lift_rel
        ``optimised - random`` and ``optimised / random - 1``.
    ci_abs, ci_rel
        Their ``1 - alpha`` confidence intervals (unpooled Wald; delta method for the relative).
    p_value
        Two-sided pooled two-proportion z-test
        (:func:`smsanalytics.experiments.two_proportion_ztest`).
    alpha
        Level of the intervals.
    """

    optimised_n: int
    optimised_responses: int
    random_n: int
    random_responses: int
    optimised_rate: float
    random_rate: float
    lift_abs: float
    lift_rel: float
    ci_abs: tuple[float, float]
    ci_rel: tuple[float, float]
    p_value: float
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def readout_send_time(
    messages: pl.DataFrame,
    clicks: pl.DataFrame,
    *,
    campaign_id: str | Sequence[str] | None = None,
    receipts: pl.DataFrame | None = None,
    response_window: dt.timedelta = dt.timedelta(hours=24),
    alpha: float = 0.05,
) -> SendTimeReadout:
    """Compare the optimised and the random-time arms of a campaign.

    Parameters
    ----------
    messages
        Sends with ``message_id``, ``contact_id``, ``sent_at``, ``send_time_policy``
        (``optimised`` or ``random``, from :func:`~smsanalytics.sendtime.split_control_arm`) and
        ``campaign_id`` when filtering.
    clicks, receipts, response_window
        As in :func:`~smsanalytics.sendtime.label_responses` (bots excluded).
    campaign_id
        Restrict to these campaigns.
    alpha
        Level of the intervals.

    Returns
    -------
    SendTimeReadout

    Raises
    ------
    SendTimeError
        When an arm has no sends.
    """
    from smsanalytics.experiments import ProportionStatistic, two_proportion_ztest
    from smsanalytics.sendtime.model import SendTimeError, label_responses

    if "send_time_policy" not in messages.columns:
        raise SendTimeError("messages lacks column 'send_time_policy' (optimised / random)")
    if campaign_id is not None:
        wanted = [campaign_id] if isinstance(campaign_id, str) else list(campaign_id)
        messages = messages.filter(pl.col("campaign_id").is_in(wanted))
    sends = label_responses(messages, clicks, receipts=receipts, response_window=response_window)
    arms = dict(
        sends.group_by("send_time_policy")
        .agg(pl.len(), pl.col("is_response").sum())
        .select("send_time_policy", pl.struct("len", "is_response"))
        .iter_rows()
    )
    for arm in ("optimised", "random"):
        if arm not in arms or arms[arm]["len"] == 0:
            raise SendTimeError(
                f"no {arm!r} sends to compare (send_time_policy); found {sorted(arms)}"
            )
    opt = ProportionStatistic(int(arms["optimised"]["len"]), int(arms["optimised"]["is_response"]))
    rnd = ProportionStatistic(int(arms["random"]["len"]), int(arms["random"]["is_response"]))
    res = two_proportion_ztest(rnd, opt, alpha=alpha)
    return SendTimeReadout(
        optimised_n=opt.n,
        optimised_responses=int(opt.sum),
        random_n=rnd.n,
        random_responses=int(rnd.sum),
        optimised_rate=opt.mean,
        random_rate=rnd.mean,
        lift_abs=res.lift_abs,
        lift_rel=res.lift_rel,
        ci_abs=(res.ci_abs_low, res.ci_abs_high),
        ci_rel=(res.ci_rel_low, res.ci_rel_high),
        p_value=res.p_value,
        alpha=alpha,
    )
