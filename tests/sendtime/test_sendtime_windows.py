"""Send windows: outside quiet hours, DST-exact, fallback levels, control arm, compliance."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sendtime_data import contacts_frame, sends_frame, ts

from smsanalytics.sendtime import (
    AllowedHours,
    ComplianceQuietHours,
    SendTimeError,
    SendTimeModel,
    campaign_dates,
    predict_windows,
    split_control_arm,
)

ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Sydney",
    "America/Phoenix",
]
FIXED = {
    "bandwidth_hours": 1.5,
    "contact_strength": 1.0,
    "dow_strength": math.inf,
    "min_global_responses": 1,
}


def _model() -> tuple[SendTimeModel, pl.DataFrame]:
    rng = np.random.default_rng(0)
    rows = []
    for c in range(1, 101):
        for k in range(8):
            rows.append(
                (c, ts(2026, 2, 2 + k, int(rng.integers(0, 24)), 5), bool(rng.random() < 0.2))
            )
    contacts = contacts_frame([(c, ZONES[c % len(ZONES)]) for c in range(1, 101)])
    return SendTimeModel(**FIXED).fit(sends_frame(rows), contacts=contacts), contacts


MODEL, CONTACTS = _model()


def _local(at: dt.datetime, zone: str) -> dt.datetime:
    return at.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.integers(0, 22),
    length=st.integers(1, 14),
    window=st.sampled_from([10, 30, 60, 90, 120]),
    day=st.sampled_from(
        ["2026-03-08", "2026-03-29", "2026-04-05", "2026-10-25", "2026-11-01", "2026-06-10"]
    ),
)
def test_windows_lie_inside_the_allowed_hours_on_the_local_clock(
    start: int, length: int, window: int, day: str
) -> None:
    end = min(24, start + length)
    rule = AllowedHours(start, end)
    out = MODEL.predict_windows(CONTACTS, day, window_minutes=window, quiet_hours=rule)
    assert out.height == CONTACTS.height
    for row in out.iter_rows(named=True):
        if row["start_at"] is None:  # too long for the allowed time (or cut by a DST gap)
            assert row["reason"] == "no_allowed_time"
            assert window > (end - start) * 60 or day in ("2026-03-08", "2026-03-29")
            continue
        # a window longer than the allowed span only fits when a fall-back fold repeats it
        assert window <= (end - start) * 60 or day in ("2026-10-25", "2026-11-01", "2026-04-05")
        zone = row["timezone"]
        assert row["end_at"] - row["start_at"] == dt.timedelta(minutes=window)
        assert _local(row["start_at"], zone) == row["local_start"]
        assert _local(row["end_at"], zone) == row["local_end"]
        assert row["local_date"] == dt.date.fromisoformat(day)
        # every minute of the window is allowed on the local clock
        for m in range(window):
            t = _local(row["start_at"] + dt.timedelta(minutes=m), zone)
            assert t.date() == row["local_date"]
            assert start * 60 <= t.hour * 60 + t.minute < end * 60


def test_dst_gap_and_fold_windows() -> None:
    paris = contacts_frame([(1, "Europe/Paris")])
    gap = MODEL.predict_windows(
        paris, "2026-03-29", window_minutes=30, quiet_hours=AllowedHours("02:00", "04:00")
    )
    row = gap.row(0, named=True)
    assert row["local_start"] >= dt.datetime(2026, 3, 29, 3, 0)  # 02:xx does not exist that night
    assert row["start_at"] >= ts(2026, 3, 29, 1, 0)
    fold = MODEL.predict_windows(
        paris, "2026-10-25", window_minutes=30, quiet_hours=AllowedHours("02:00", "03:00")
    )
    row = fold.row(0, named=True)
    assert row["local_start"].hour == 2
    # 02:xx happens twice; the window is in the first occurrence (summer time, UTC+2)
    assert row["start_at"] == dt.datetime.combine(
        dt.date(2026, 10, 25), row["local_start"].time(), dt.UTC
    ) - dt.timedelta(hours=2)


def test_unknown_zone_and_forbidden_days_get_a_reason_not_a_window() -> None:
    frame = contacts_frame([(1, "Europe/Paris"), (2, None), (3, "Mars/Olympus")])
    out = MODEL.predict_windows(frame, "2026-05-12")
    assert out["reason"].to_list() == [None, "unknown_timezone", "unknown_timezone"]
    assert out["start_at"].null_count() == 2
    sunday_only = AllowedHours(days=(6,))
    out = MODEL.predict_windows(frame.head(1), "2026-05-12", quiet_hours=sunday_only)  # a Tuesday
    assert out["reason"].to_list() == ["no_allowed_time"] and out["level"].null_count() == 1


def test_a_date_range_picks_the_contacts_best_day() -> None:
    rows = [
        (1, ts(2026, 2, d, 17, 5), d in (5, 12, 19)) for d in range(2, 27)
    ]  # responds on Thursdays
    rows += [(c, ts(2026, 2, 3, 17, 5), c % 4 == 0) for c in range(2, 40)]
    contacts = contacts_frame([(c, "Europe/Paris") for c in range(1, 40)])
    model = SendTimeModel(
        min_global_responses=1, bandwidth_hours=1.5, contact_strength=1.0, dow_strength=1.0
    ).fit(sends_frame(rows), contacts=contacts)
    out = model.predict_windows(contacts.head(1), ("2026-05-11", "2026-05-17"))
    row = out.row(0, named=True)
    assert row["local_date"] == dt.date(2026, 5, 14) and row["local_start"].hour == 18
    assert row["level"] == "contact"


def test_control_arm_is_a_reproducible_random_share() -> None:
    many = pl.concat([CONTACTS.with_columns(pl.col("contact_id") + 1000 * k) for k in range(20)])
    a = split_control_arm(MODEL, many, "2026-05-12", share=0.25, salt="camp-1")
    b = split_control_arm(MODEL, many, "2026-05-12", share=0.25, salt="camp-1")
    assert a.equals(b)
    share = (a["send_time_policy"] == "random").mean()
    assert 0.2 < share < 0.3
    optimised = MODEL.predict_windows(many, "2026-05-12")
    same = a.join(optimised, on="contact_id", suffix="_opt").filter(
        pl.col("send_time_policy") == "optimised"
    )
    assert (same["start_at"] == same["start_at_opt"]).all()
    rnd = a.filter(pl.col("send_time_policy") == "random")
    assert rnd["local_start"].dt.hour().n_unique() > 5  # spread over the allowed day
    assert rnd["local_start"].dt.hour().is_between(8, 19).all()
    with pytest.raises(SendTimeError, match="share"):
        split_control_arm(MODEL, many, "2026-05-12", share=0.0)


def test_compliance_rules_plug_in_as_the_quiet_hours_hook() -> None:
    from smsanalytics.compliance import load_rules

    rules = load_rules()
    hook = ComplianceQuietHours(rules)
    frame = contacts_frame([(1, "America/New_York"), (2, "Europe/Paris")]).with_columns(
        pl.Series("jurisdiction", ["US", rules.default.id])
    )
    out = predict_windows(MODEL, frame, "2026-05-12", quiet_hours=hook, window_minutes=30)
    assert out["reason"].null_count() == 2
    us = rules.effective("US")
    for row in out.iter_rows(named=True):
        rule = us if row["contact_id"] == 1 else rules.effective(rules.default.id)
        minutes = row["local_start"].hour * 60 + row["local_start"].minute
        assert rule.start_minute <= minutes and minutes + 30 <= rule.end_minute


def test_bad_arguments_raise() -> None:
    with pytest.raises(SendTimeError, match="31 days"):
        campaign_dates(("2026-01-01", "2026-03-01"))
    with pytest.raises(SendTimeError, match="ISO date"):
        campaign_dates("tomorrow")
    with pytest.raises(SendTimeError, match="before it starts"):
        campaign_dates(("2026-01-05", "2026-01-01"))
    with pytest.raises(SendTimeError, match="window_minutes"):
        MODEL.predict_windows(CONTACTS, "2026-05-12", window_minutes=0)
    with pytest.raises(SendTimeError, match="timezone"):
        MODEL.predict_windows(CONTACTS.select("contact_id"), "2026-05-12")
    assert campaign_dates(("2026-01-30", "2026-02-02"))[-1] == dt.date(2026, 2, 2)
