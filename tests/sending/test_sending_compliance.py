"""Compliance rules: rules file, jurisdictions, eligibility, DST-exact quiet hours, caps."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import polars as pl
import pytest

from smsanalytics import compliance
from smsanalytics.compliance import RulesError, load_rules

UTC = dt.UTC
TS = pl.Datetime("us", "UTC")

BASE_RULES = """
format_version = 1
[default]
id = "default"
hours = ["{start}", "{end}"]
days = {days}
{extra}
"""


def write_rules(
    tmp_path: Path,
    start="08:00",
    end="20:00",
    days='["mon","tue","wed","thu","fri","sat","sun"]',
    extra="",
) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(BASE_RULES.format(start=start, end=end, days=days, extra=extra))
    return path


def test_shipped_rules_hold_the_issue_jurisdictions():
    rules = load_rules()
    us, fl, ok, fr = (rules.effective(j) for j in ("US", "US+US-FL", "US+US-OK", "FR"))
    assert (us.start_minute, us.end_minute, len(us.days)) == (8 * 60, 21 * 60, 7)
    assert (fl.start_minute, fl.end_minute) == (8 * 60, 20 * 60)
    assert compliance.Cap(3, "24h") in fl.caps and compliance.Cap(3, "24h") in ok.caps
    assert (fr.start_minute, fr.end_minute, fr.days, fr.holidays) == (
        480,
        1200,
        frozenset(range(6)),
        ("FR",),
    )
    assert rules.default.id == "default" and rules.global_caps == (compliance.Cap(1, "local_day"),)
    assert len(rules.sha256) == 64


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[[rule]]\nid = "X"\ncountries = ["FR"]\nhours = ["20:00", "08:00"]',
            "must be before end",
        ),
        ('[[rule]]\nid = "X"\ncountries = ["FR"]\nhours = ["8h", "20:00"]', "'HH:MM'"),
        ('[[rule]]\nid = "X"\ncountries = ["France"]\nhours = ["08:00", "20:00"]', "ISO 3166-1"),
        (
            '[[rule]]\nid = "X"\ncountries = ["FR"]\nhours = ["08:00", "20:00"]\n'
            'caps = [{ messages = 2, per = "week" }]',
            "'local_day' or '<hours>h'",
        ),
        (
            '[[rule]]\nid = "X"\ncountries = ["FR"]\nhours = ["08:00", "20:00"]\nholidays = "ZZ"',
            "no holiday calendar",
        ),
        (
            '[[rule]]\nid = "X"\ncountries = ["FR"]\nhours = ["08:00", "20:00"]\nquiet = 1',
            "unknown key",
        ),
    ],
)
def test_rules_file_errors_name_the_rule_and_key(tmp_path, extra, message):
    with pytest.raises(RulesError, match=message) as info:
        load_rules(write_rules(tmp_path, extra=extra))
    assert "rules.toml" in str(info.value)


def test_jurisdictions_from_area_code_and_region():
    rules = load_rules()
    contacts = pl.DataFrame(
        {
            "phone_e164": [
                "+13055550123",
                "+14055550123",
                "+12125550123",
                "+12125550124",
                "+33612345678",
                "+447700900123",
                "+33612345679",
            ],
            "country": ["US", "US", "US", "US", "FR", "GB", None],
            "region": [None, None, None, "US-FL", None, None, None],
        }
    )
    out = compliance.assign_jurisdictions(contacts, rules)
    assert out.get_column("jurisdiction").to_list() == [
        "US+US-FL",
        "US+US-OK",
        "US",
        "US+US-FL",
        "FR",
        "default",
        "default",
    ]
    assert out.get_column("number_region").to_list()[:3] == ["FL", "OK", "NY"]


def test_screen_gives_the_first_reason_in_precedence_order(make_contacts):
    rules = load_rules()
    at = dt.datetime(2026, 3, 2, 12, tzinfo=UTC)
    contacts = make_contacts(
        [
            {"contact_id": 1},
            {
                "contact_id": 2,
                "opted_out_at": dt.datetime(2025, 1, 1, tzinfo=UTC),
                "consent_at": None,
            },
            {"contact_id": 3, "consent_at": None},
            {
                "contact_id": 4,
                "consent_at": dt.datetime(2026, 3, 3, tzinfo=UTC),
            },  # consent after planning
            {"contact_id": 5, "phone_e164": "0612345678"},
            {"contact_id": 6, "phone_e164": "+33142345678", "phone_type": "fixed_line"},
            {
                "contact_id": 7,
                "phone_e164": "+33800123456",
                "phone_type": None,
            },  # toll free, typed by phonenumbers
            {
                "contact_id": 8,
                "phone_e164": "+33612345601",
                "phone_type": None,
            },  # mobile, typed by phonenumbers
            {"contact_id": 9, "timezone": None},
            {"contact_id": 10, "timezone": "Mars/Olympus"},
            {"contact_id": 11, "timezone_source": "default"},  # the configured default is a guess
            {"contact_id": 12, "phone_e164": "+33612", "phone_type": None},
            {
                "contact_id": 13,
                "opted_out_at": dt.datetime(2026, 3, 5, tzinfo=UTC),
            },  # opts out after planning
        ]
    )
    out = compliance.screen_contacts(contacts, rules, at=at)
    assert out.get_column("reason").to_list() == [
        None,
        "opted_out",
        "no_consent",
        "no_consent",
        "invalid_phone",
        "landline",
        "not_mobile",
        None,
        "unknown_timezone",
        "unknown_timezone",
        "unknown_timezone",
        "invalid_phone",
        None,
    ]
    # a detail for the reasons that have one, null elsewhere
    assert out.get_column("detail").to_list() == [
        *[None] * 6,
        "phone_type toll_free",
        None,
        "timezone null (source explicit)",
        "timezone Mars/Olympus (source explicit)",
        "timezone Europe/Paris (source default)",
        None,
        None,
    ]


def test_stop_replies_opt_out_and_start_opts_back_in(make_contacts):
    rules = load_rules()
    contacts = make_contacts([{"contact_id": i} for i in range(1, 6)])
    t = lambda d: dt.datetime(2026, 2, d, 10, tzinfo=UTC)  # noqa: E731
    inbound = pl.DataFrame(
        {
            "contact_id": [1, 2, 3, 3, 4, 5],
            "received_at": [t(1), t(1), t(1), t(2), t(20), t(1)],
            "keyword": ["STOP", None, "STOP", "START", "STOP", None],
            "body": ["STOP", " arrêt ", "stop", "start", "stop", "Stop sending me these?"],
        },
        schema_overrides={"received_at": TS},
    )
    out = compliance.opted_out_contacts(contacts, rules, at=t(10), inbound=inbound)
    # 1 STOP; 2 body ARRÊT; 3 STOP then START; 4 STOP after the planning time; 5 free text
    assert out.get_column("is_opted_out").to_list() == [True, True, False, False, False]


# -- quiet hours, DST-exact ----------------------------------------------------------------------


def _reference_allowed_minutes(
    zone: str, rule: compliance.Rule, start: dt.datetime, end: dt.datetime, holidays=frozenset()
):
    """Minute starts in [start, end) whose local time is allowed, one zoneinfo call per minute."""
    tz = zoneinfo.ZoneInfo(zone)
    out = set()
    t = start
    while t < end:
        local = t.astimezone(tz)
        minute = local.hour * 60 + local.minute
        if (
            local.weekday() in rule.days
            and local.date() not in holidays
            and rule.start_minute <= minute < rule.end_minute
        ):
            out.add(t)
        t += dt.timedelta(minutes=1)
    return out


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", dt.date(2026, 3, 8), ("01:30", "03:30")),  # 02:00-03:00 does not exist
        ("America/New_York", dt.date(2026, 11, 1), ("01:15", "01:45")),  # 01:00-02:00 occurs twice
        ("Europe/Paris", dt.date(2026, 3, 29), ("02:30", "09:00")),  # start in the gap
        ("Europe/Paris", dt.date(2026, 10, 25), ("02:30", "20:00")),  # start in the fold
        ("Australia/Lord_Howe", dt.date(2026, 4, 5), ("01:00", "03:00")),  # 30-minute DST shift
        ("America/Havana", dt.date(2026, 3, 8), ("00:00", "02:00")),  # changes at midnight
        ("Asia/Kolkata", dt.date(2026, 3, 8), ("08:00", "21:00")),  # +05:30, no DST
    ],
)
def test_allowed_intervals_equal_a_minute_by_minute_zoneinfo_reference(tmp_path, zone, day, hours):
    rules = load_rules(write_rules(tmp_path, *hours))
    start = dt.datetime.combine(day, dt.time(), UTC) - dt.timedelta(days=1)
    end = start + dt.timedelta(days=3)
    intervals = compliance.allowed_intervals(
        pl.DataFrame({"timezone": [zone], "jurisdiction": ["default"]}), start, end, rules
    )
    ours = set()
    for s, e in intervals.select("allowed_start_at", "allowed_end_at").iter_rows():
        t = s
        while t < e:
            if start <= t < end:
                ours.add(t)
            t += dt.timedelta(minutes=1)
    assert ours == _reference_allowed_minutes(zone, rules.effective("default"), start, end)
    # every interval lies within one local day, as the caps assume
    tz = zoneinfo.ZoneInfo(zone)
    for d, s, e in intervals.select("local_date", "allowed_start_at", "allowed_end_at").iter_rows():
        assert (
            s.astimezone(tz).date() == d == (e - dt.timedelta(microseconds=1)).astimezone(tz).date()
        )


def test_gap_and_fold_bounds_are_resolved_explicitly(tmp_path):
    rules = load_rules(write_rules(tmp_path, "02:30", "04:00"))
    pair = pl.DataFrame({"timezone": ["America/New_York"], "jurisdiction": ["default"]})
    # spring forward 2026-03-08: 02:30 does not exist -> allowed from the jump (03:00 EDT = 07:00Z)
    spring = compliance.allowed_intervals(
        pair, dt.datetime(2026, 3, 8, tzinfo=UTC), dt.datetime(2026, 3, 9, tzinfo=UTC), rules
    )
    day = spring.filter(pl.col("local_date") == dt.date(2026, 3, 8))
    assert day.select("allowed_start_at", "allowed_end_at").rows() == [
        (dt.datetime(2026, 3, 8, 7, tzinfo=UTC), dt.datetime(2026, 3, 8, 8, tzinfo=UTC))
    ]
    rules = load_rules(write_rules(tmp_path, "01:30", "03:00"))
    # fall back 2026-11-01 at 02:00 EDT -> 01:00 EST: 01:30-02:00 occurs twice and is allowed both
    # times, while the repeated 01:00-01:30 (EST) reads before the start and is not
    fall = compliance.allowed_intervals(
        pair, dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC), rules
    )
    day = fall.filter(pl.col("local_date") == dt.date(2026, 11, 1))
    assert day.select("allowed_start_at", "allowed_end_at").rows() == [
        (dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC), dt.datetime(2026, 11, 1, 6, tzinfo=UTC)),
        (dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC), dt.datetime(2026, 11, 1, 8, tzinfo=UTC)),
    ]


def test_france_has_no_sunday_and_no_public_holiday():
    rules = load_rules()
    pair = pl.DataFrame({"timezone": ["Europe/Paris"], "jurisdiction": ["FR"]})
    out = compliance.allowed_intervals(
        pair, dt.datetime(2026, 7, 10, tzinfo=UTC), dt.datetime(2026, 7, 16, tzinfo=UTC), rules
    )
    days = set(out.get_column("local_date").to_list())
    assert dt.date(2026, 7, 13) in days and dt.date(2026, 7, 11) in days  # Monday, Saturday
    assert dt.date(2026, 7, 12) not in days  # Sunday
    assert dt.date(2026, 7, 14) not in days  # Bastille Day (Tuesday)


def test_windows_are_clipped_or_moved_or_excluded(tmp_path):
    rules = load_rules(write_rules(tmp_path, "08:00", "20:00"))
    z = "Europe/Paris"  # UTC+1 in February
    at = lambda d, h, m=0: dt.datetime(2026, 2, d, h, m, tzinfo=UTC)  # noqa: E731
    requests = pl.DataFrame(
        {
            "timezone": [z] * 4,
            "jurisdiction": ["default"] * 4,
            "window_start_at": [at(2, 5), at(2, 18), at(2, 20), at(2, 20)],
            "window_end_at": [at(2, 9), at(2, 21), at(2, 21), at(2, 21)],
            "latest_start_at": [at(3, 20), at(3, 20), at(3, 20), at(3, 6)],
        },
        schema_overrides={c: TS for c in ("window_start_at", "window_end_at", "latest_start_at")},
    )
    intervals = compliance.allowed_intervals(
        requests.select("timezone", "jurisdiction").unique(), at(1, 0), at(4, 0), rules
    )
    out = compliance.fit_windows(requests, intervals)
    assert out.select("start_at", "end_at", "is_moved", "fit_reason").rows() == [
        (at(2, 7), at(2, 9), False, None),  # 06:00-10:00 local -> clipped to 08:00-10:00
        (at(2, 18), at(2, 19), False, None),  # 19:00-22:00 local -> clipped to 19:00-20:00
        (
            at(3, 7),
            at(3, 8),
            True,
            None,
        ),  # 21:00-22:00 local -> moved to 08:00 next day, same length
        (None, None, False, "quiet_hours"),  # ... unless the deadline is before that
    ]


def test_caps_count_sent_and_planned_messages(tmp_path):
    rules = load_rules(
        write_rules(
            tmp_path,
            extra='[[rule]]\nid = "US"\ncountries = ["US"]\nhours = ["08:00", "21:00"]\n'
            'caps = [{ messages = 3, per = "24h" }]\n'
            '[all]\ncaps = [{ messages = 2, per = "local_day" }]',
        )
    )
    z = "America/New_York"  # UTC-5
    at = lambda d, h: dt.datetime(2026, 2, d, h, tzinfo=UTC)  # noqa: E731
    rows = pl.DataFrame(
        {
            "contact_id": [1, 2, 3, 4],
            "timezone": [z] * 4,
            "jurisdiction": ["US"] * 4,
            "start_at": [at(10, 15)] * 4,
            "end_at": [at(10, 16)] * 4,
            "local_date": [dt.date(2026, 2, 10)] * 4,
        },
        schema_overrides={"start_at": TS, "end_at": TS},
    )
    prior = pl.DataFrame(
        {
            # 1: two sent the same local day -> local_day cap 2 is full
            # 2: one the same local day, one planned the evening before (within 24 h) -> ok
            # 3: three within 24 h (two sent, one planned window) -> 3/24h full
            # 4: one sent at 03:00Z on the 10th = 22:00 local on the 9th -> another local day, ok
            "contact_id": [1, 1, 2, 2, 3, 3, 3, 4],
            "start_at": [
                at(10, 13),
                at(10, 14),
                at(10, 13),
                at(9, 23),
                at(9, 17),
                at(10, 1),
                at(11, 10),
                at(10, 3),
            ],
            "end_at": [
                at(10, 13),
                at(10, 14),
                at(10, 13),
                at(10, 0),
                at(9, 17),
                at(10, 1),
                at(11, 12),
                at(10, 3),
            ],
        },
        schema_overrides={"start_at": TS, "end_at": TS},
    )
    offsets = compliance.utc_offset_segments([z], at(5, 0), at(15, 0))
    out = compliance.apply_caps(rows, prior, rules, offsets)
    assert out.get_column("cap_violation").to_list() == ["2/local_day", None, "3/24h", None]
