"""SendTimeModel: exposure, randomised sends, priors, the fallback chain, DST, predictions."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from sendtime_data import contacts_frame, sends_frame, ts

from smsanalytics.sendtime import (
    LEVELS,
    AllowedHours,
    SendTimeError,
    SendTimeModel,
    fit_prior_strength,
    label_responses,
)

FIXED = {"bandwidth_hours": 1.0, "contact_strength": 1.0, "dow_strength": math.inf}


def test_prior_strength_recovers_a_simulated_gamma_poisson_strength() -> None:
    rng = np.random.default_rng(7)
    estimates = []
    for _ in range(5):
        x = rng.uniform(20, 200, 3000)
        lam = rng.gamma(30 * 0.05, 1 / 30, 3000)  # mean 0.05, strength 30
        estimates.append(fit_prior_strength(rng.poisson(lam * x), x, 0.05))
    assert 22 < np.median(estimates) < 40


def test_prior_strength_is_the_upper_bound_without_overdispersion() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(100, 300, 2000)
    s = fit_prior_strength(rng.poisson(0.1 * x), x, 0.1, bounds=(1e-3, 1e7))
    assert s > 1e4  # complete pooling: every cell has the same rate


def test_label_responses_excludes_bots_late_early_and_undelivered_clicks() -> None:
    t0 = ts(2026, 5, 5, 10)
    messages = pl.DataFrame(
        {"message_id": [1, 2, 3, 4, 5], "contact_id": [1] * 5, "sent_at": [t0] * 5}
    )
    clicks = pl.DataFrame(
        {
            "message_id": [1, 2, 3, 3, 4, 5],
            "clicked_at": [
                t0 + dt.timedelta(minutes=2),  # 1: a person, 2 min later -> response
                t0 + dt.timedelta(seconds=1),  # 2: a link preview -> not a response
                t0 + dt.timedelta(hours=24),  # 3: exactly 24 h later -> outside the window
                t0 - dt.timedelta(minutes=1),  # 3: before the send (clock skew) -> ignored
                t0 + dt.timedelta(hours=23, minutes=59),  # 4: inside the window
                t0 + dt.timedelta(minutes=1),  # 5: undelivered message
            ],
            "is_bot": [False, True, False, False, False, False],
        }
    )
    receipts = pl.DataFrame({"message_id": [5], "status": ["undelivered"]})
    out = label_responses(messages, clicks, receipts=receipts)
    assert dict(out.select("message_id", "is_response").iter_rows()) == {
        1: True,
        2: False,
        3: False,
        4: True,
    }


def test_response_rate_per_hour_sent_not_click_counts() -> None:
    # contact 1: 20 sends at 10:00 with 3 clicks (15 %), 3 sends at 19:00 with 2 clicks (67 %);
    # the naive argmax of clicks says 10:00, the rate says 19:00
    rows = []
    for d in range(20):
        rows.append(
            (1, ts(2026, 3, 2 + d % 5, 9, 5) + dt.timedelta(weeks=d // 5), d < 3)
        )  # 10:05 Paris (UTC+1)
    for d in range(3):
        rows.append((1, ts(2026, 3, 2 + d, 18, 5), d < 2))  # 19:05 Paris
    # a population so the global profile exists, flat between 10 and 19
    for c in range(2, 60):
        for h in (9, 18):
            rows.append((c, ts(2026, 3, 3, h, 10), c % 5 == 0))
    sends = sends_frame(rows)
    contacts = contacts_frame([(c, "Europe/Paris") for c in range(1, 60)])
    model = SendTimeModel(min_global_responses=1, **FIXED).fit(sends, contacts=contacts)
    best = model.predict([1]).row(0, named=True)
    assert best["level"] == "contact"
    assert best["local_hour"] == 19


def test_randomised_sends_remove_the_campaign_hour_confounding() -> None:
    # hours truly do not matter; campaign "great" (3x the others) always goes at 19:00,
    # campaign "plain" at 10:00; 20 % of each campaign is sent at a random hour
    rng = np.random.default_rng(11)
    n = 40_000
    contact = rng.integers(1, 4001, n)
    great = rng.random(n) < 0.5
    random = rng.random(n) < 0.2
    hour = np.where(random, rng.integers(8, 20, n), np.where(great, 19, 10))
    day = rng.integers(0, 5, n)
    base = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)  # a Monday; contacts in UTC
    sent = [
        base + dt.timedelta(days=int(d), hours=int(h), minutes=5)
        for d, h in zip(day, hour, strict=True)
    ]
    p = np.where(great, 0.15, 0.05)
    sends = pl.DataFrame(
        {
            "contact_id": contact,
            "sent_at": pl.Series(sent, dtype=pl.Datetime("us", "UTC")),
            "is_response": rng.random(n) < p,
            "send_time_policy": np.where(random, "random", "fixed"),
            "campaign_id": np.where(great, "great", "plain"),
        }
    )
    contacts = contacts_frame([(c, "UTC") for c in range(1, 4001)])
    fitted = SendTimeModel(**FIXED).fit(sends, contacts=contacts)
    q = fitted.profiles_[0].reshape(7, 24)[:5, 8:20].mean(0)  # weekday hours 8..19
    assert q[19 - 8] / q[10 - 8] == pytest.approx(1.0, abs=0.15)
    naive = SendTimeModel(use_random_sends="never", **FIXED).fit(sends, contacts=contacts)
    qn = naive.profiles_[0].reshape(7, 24)[:5, 8:20].mean(0)
    assert qn[19 - 8] / qn[10 - 8] > 2.0  # without randomisation the campaign looks like the hour
    assert "randomised" in fitted.profile_source_ and "confounded" in naive.profile_source_


def _chain_data() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(5)
    rows = []
    # segment "big": 200 contacts with many sends at 12:00 and 18:00, responding mostly at 18:00
    for c in range(1, 201):
        for k in range(6):
            h = 17 if k % 2 else 11  # 12:00 / 18:00 in Paris (UTC+1 in February)
            rows.append(
                (c, ts(2026, 2, 2 + k, h, 0), bool(rng.random() < (0.3 if h == 17 else 0.05)))
            )
    # contact 500: segment "big", sends but no response -> segment level
    rows += [(500, ts(2026, 2, 3, 11, 0), False), (500, ts(2026, 2, 4, 17, 0), False)]
    # contact 600: segment "tiny" (too few responses of its own) -> global level
    rows += [(600, ts(2026, 2, 3, 11, 0), False)]
    # contact 700: responds at 09:00 -> contact level
    rows += [
        (700, ts(2026, 2, 3, 8, 0), True),
        (700, ts(2026, 2, 4, 8, 0), True),
        (700, ts(2026, 2, 5, 17, 0), False),
    ]
    contacts = contacts_frame(
        [(c, "Europe/Paris", "big") for c in range(1, 201)]
        + [
            (500, "Europe/Paris", "big"),
            (600, "Europe/Paris", "tiny"),
            (700, "Europe/Paris", "big"),
            (800, "Europe/Paris", None),
        ]
    )
    return sends_frame(rows), contacts


def test_fallback_chain_records_the_level_used() -> None:
    sends, contacts = _chain_data()
    model = SendTimeModel(segment_column="segment", min_segment_responses=20, **FIXED).fit(
        sends, contacts=contacts
    )
    out = model.predict([500, 600, 700, 800, 999])
    levels = dict(out.select("contact_id", "level").iter_rows())
    assert levels == {500: "segment", 600: "global", 700: "contact", 800: "global", 999: "global"}
    hours = dict(out.select("contact_id", "local_hour").iter_rows())
    assert hours[500] == 18 and hours[700] in (8, 9, 10)
    counts = model.level_counts()
    assert set(counts) == set(LEVELS) and sum(counts.values()) == contacts.height
    # an unknown contact given its segment uses it
    seg = model.predict(pl.DataFrame({"contact_id": [999], "segment": ["big"]}))
    assert seg["level"].to_list() == ["segment"]


def test_default_level_without_data() -> None:
    sends, contacts = _chain_data()
    model = SendTimeModel(
        min_global_responses=10**9, min_contact_responses=10**9, default_local_hour=15, **FIXED
    ).fit(sends, contacts=contacts)
    out = model.predict([500, 700])
    assert out["level"].to_list() == ["default", "default"]
    assert out["local_hour"].to_list() == [15, 15]
    assert out["score"].null_count() == 2
    late = model.predict([500], allowed=AllowedHours("17:00", "20:00"))
    assert late["local_hour"].to_list() == [17]  # nearest allowed hour to the default


def test_local_hour_is_dst_safe_across_the_change() -> None:
    # 18:30 Paris every day across the 2026-03-29 change: 17:30 UTC before, 16:30 UTC after
    rows = []
    for d in range(20, 29):
        rows.append((1, ts(2026, 3, d, 17, 30), True))
    for d in range(30, 32):
        rows.append((1, ts(2026, 3, d, 16, 30), True))
    for d in range(1, 8):
        rows.append((1, ts(2026, 4, d, 16, 30), True))
    for c in range(2, 30):
        rows.append((c, ts(2026, 3, 25, 9, 0), c % 3 == 0))
    model = SendTimeModel(min_global_responses=1, **FIXED).fit(
        sends_frame(rows), contacts=contacts_frame([(c, "Europe/Paris") for c in range(1, 30)])
    )
    prof = model.profile_frame().filter(
        (pl.col("profile") == "global") & (pl.col("local_hour") == 18)
    )
    assert prof["rate"].null_count() < 7  # 18:00 local is observed...
    seventeen = model.profile_frame().filter(
        (pl.col("profile") == "global") & (pl.col("local_hour") == 17)
    )
    assert seventeen["rate"].null_count() == 7  # ...and 17:00 local never is
    assert model.predict([1])["local_hour"].to_list() == [18]


def test_predictions_respect_allowed_hours_and_chunking() -> None:
    sends, contacts = _chain_data()
    model = SendTimeModel(segment_column="segment", min_segment_responses=20, **FIXED).fit(
        sends, contacts=contacts
    )
    allowed = AllowedHours("09:00", "13:00", days=(0, 1, 2, 3, 4))
    a = model.predict(contacts, allowed=allowed)
    b = model.predict(contacts, allowed=allowed, chunk_size=7)
    assert a.equals(b)
    assert a["local_hour"].is_between(9, 12).all() and (a["day_of_week"] <= 4).all()
    assert a.schema == pl.Schema(
        {
            "contact_id": pl.Int64,
            "hour_of_week": pl.Int16,
            "day_of_week": pl.Int8,
            "local_hour": pl.Int8,
            "score": pl.Float64,
            "level": pl.String,
            "n_responses": pl.Int32,
            "exposure": pl.Float64,
        }
    )
    scores = model.predict_scores(contacts["contact_id"])
    assert scores.shape == (contacts.height, 168) and scores.dtype == np.float32
    assert np.isnan(scores[:, 3]).all()  # Monday 03:00: never sent at


def test_fit_events_learns_each_customers_habit() -> None:
    rng = np.random.default_rng(2)
    rows = []
    for c in range(1, 301):
        habit = (
            10 if c % 2 else 15
        )  # odd customers order at 10:xx, even ones at 15:xx (UTC = London winter)
        for _ in range(8):
            day = int(rng.integers(0, 60))
            hour = habit if rng.random() < 0.8 else int(rng.integers(8, 19))
            rows.append(
                (
                    c,
                    dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
                    + dt.timedelta(days=day, hours=hour, minutes=10),
                )
            )
    events = pl.DataFrame(
        rows, schema={"contact_id": pl.Int64, "event_at": pl.Datetime("us", "UTC")}, orient="row"
    )
    contacts = contacts_frame([(c, "Europe/London") for c in range(1, 301)])
    model = SendTimeModel(validation_days=14).fit_events(events, contacts=contacts)
    dist = model.predict_distribution([1, 2])
    assert dist.shape == (2, 168) and np.allclose(dist.sum(1), 1.0)
    hour_mass = dist.reshape(2, 7, 24).sum(1)
    assert hour_mass[0].argmax() == 10 and hour_mass[1].argmax() == 15
    assert (
        model.tuning_ is not None
        and model.hyperparameters_["sources"]["contact_strength"] == "held-out likelihood"
    )


def test_errors_name_the_problem() -> None:
    with pytest.raises(SendTimeError, match="not fitted"):
        SendTimeModel().predict([1])
    with pytest.raises(SendTimeError, match="timezone"):
        SendTimeModel().fit(
            sends_frame([(1, ts(2026, 1, 1), True)]), contacts=pl.DataFrame({"contact_id": [1]})
        )
    with pytest.raises(SendTimeError, match="is_response"):
        SendTimeModel().fit(
            pl.DataFrame({"contact_id": [1], "sent_at": [ts(2026, 1, 1)]}),
            contacts=contacts_frame([(1, "UTC")]),
        )
    with pytest.raises(SendTimeError, match="no usable history"):
        SendTimeModel().fit(
            sends_frame([(1, ts(2026, 1, 1), True)]), contacts=contacts_frame([(1, None)])
        )
    with pytest.raises(SendTimeError, match="before end"):
        AllowedHours("20:00", "08:00")
    model = SendTimeModel(segment_column="s")
    assert model.segment_column == "s" and not hasattr(model, "profiles_")  # __init__ only stores
