"""Properties (hypothesis) over random contacts, zones, rules, prior sends and plans.

The plan is checked against an independent reference that calls ``zoneinfo`` per instant:
0 messages to opted-out contacts, 0 instants of a window outside the allowed hours of *every*
rule the contact is subject to, 0 caps exceeded counting prior messages; every audience
contact is either planned or excluded. Receipts in any order and repetition only move a
status forward.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import zoneinfo
from pathlib import Path

import holidays
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsanalytics.adapters.ledger import STATUS_RANK, Ledger
from smsanalytics.compliance import load_rules
from smsanalytics.plan import plan_sends
from smsanalytics.settings import Settings

UTC = dt.UTC
TS = pl.Datetime("us", "UTC")
ZONES = [
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Havana",
    "Europe/London",
    None,
]
PHONES = {  # country -> (number prefix before 4 digits, area-code region for the reference)
    "FR": [("+3361234", None), ("+3371234", None)],
    "US": [("+1305555", "FL"), ("+1405555", "OK"), ("+1212555", "NY"), ("+1312555", "IL")],
    "GB": [("+44770090", None)],
}
# instants near DST changes (US 2026-03-08, EU 2026-03-29, US 2026-11-01, Lord Howe 2026-04-05)
ANCHORS = [
    dt.datetime(2026, 3, 7, 20, tzinfo=UTC),
    dt.datetime(2026, 3, 28, 22, tzinfo=UTC),
    dt.datetime(2026, 10, 31, 23, tzinfo=UTC),
    dt.datetime(2026, 4, 4, 12, tzinfo=UTC),
    dt.datetime(2026, 7, 12, 6, tzinfo=UTC),
]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@st.composite
def hours(draw):
    start = draw(st.integers(0, 36)) * 30
    end = draw(st.integers(start // 30 + 1, 48)) * 30
    return f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"


@st.composite
def rules_text(draw):
    def rule(header: str, rid: str, extra: str = "") -> str:
        h = draw(hours())
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
        caps = draw(
            st.lists(
                st.sampled_from(
                    [
                        '{ messages = 1, per = "local_day" }',
                        '{ messages = 2, per = "local_day" }',
                        '{ messages = 2, per = "24h" }',
                        '{ messages = 3, per = "48h" }',
                    ]
                ),
                max_size=2,
                unique=True,
            )
        )
        hol = 'holidays = "FR"\n' if rid == "FR" and draw(st.booleans()) else ""
        return (
            f'{header}\nid = "{rid}"\n{extra}hours = ["{h[0]}", "{h[1]}"]\ndays = {days!r}\n'
            f"caps = [{', '.join(caps)}]\n{hol}"
        ).replace("'", '"')

    text = "format_version = 1\n" + rule("[default]", "default")
    text += rule("[[rule]]", "US", 'countries = ["US"]\n')
    text += rule("[[rule]]", "US-FL", 'countries = ["US"]\nregions = ["FL"]\n')
    text += rule("[[rule]]", "FR", 'countries = ["FR"]\n')
    if draw(st.booleans()):
        text += '[all]\ncaps = [{ messages = 1, per = "local_day" }]\n'
    return text


@st.composite
def scenario(draw):
    now = draw(st.sampled_from(ANCHORS)) + dt.timedelta(minutes=draw(st.integers(0, 48 * 60)))
    n = draw(st.integers(4, 24))
    rows, inbound, prior = [], [], []
    for cid in range(1, n + 1):
        country = draw(st.sampled_from(["FR", "US", "GB", None]))
        prefix, region = draw(st.sampled_from(PHONES.get(country or "FR", PHONES["FR"])))
        offset = lambda: dt.timedelta(minutes=draw(st.integers(-3 * 24 * 60, 3 * 24 * 60)))  # noqa: E731
        rows.append(
            {
                "contact_id": cid,
                "external_id": f"C{cid}",
                "phone_e164": f"{prefix}{cid:04d}",
                "phone_type": "mobile" if country != "US" else "fixed_line_or_mobile",
                "country": country,
                "timezone": draw(st.sampled_from(ZONES)),
                "timezone_source": "explicit",
                "consent_at": draw(
                    st.sampled_from(
                        [now - dt.timedelta(days=30)] * 5 + [None, now + dt.timedelta(days=1)]
                    )
                ),
                "opted_out_at": draw(
                    st.sampled_from(
                        [None] * 5 + [now - dt.timedelta(days=1), now + dt.timedelta(hours=1)]
                    )
                ),
                "_region": region,
            }
        )
        if draw(st.integers(0, 5)) == 0:
            inbound.append(
                {
                    "contact_id": cid,
                    "received_at": now + offset(),
                    "body": draw(st.sampled_from(["STOP", "start", "hi"])),
                }
            )
        for _ in range(draw(st.integers(0, 2))):
            s = now + offset()
            prior.append(
                {
                    "contact_id": cid,
                    "start_at": s,
                    "end_at": s + dt.timedelta(minutes=draw(st.sampled_from([0, 0, 90]))),
                }
            )
    if draw(st.booleans()):
        when = now
    else:
        when = (now, now + dt.timedelta(hours=draw(st.integers(1, 72))))
    return now, rows, inbound, prior, when, draw(rules_text())


def _allowed(rule: dict, instant: dt.datetime, zone: str) -> bool:
    local = instant.astimezone(zoneinfo.ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    if DAYS[local.weekday()] not in rule["days"] or local.date() in rule["holidays"]:
        return False
    return rule["start"] <= minute < rule["end"]


def _reference_rules(text: str) -> dict:
    import tomllib

    data = tomllib.loads(text)

    def parse(r):
        m = lambda s: int(s[:2]) * 60 + int(s[3:])  # noqa: E731
        return {
            "id": r["id"],
            "countries": r.get("countries", []),
            "regions": r.get("regions", []),
            "start": m(r["hours"][0]),
            "end": m(r["hours"][1]),
            "days": r["days"],
            "caps": r.get("caps", []),
            "holidays": holidays.country_holidays("FR", years=range(2025, 2028))
            if r.get("holidays")
            else {},
        }

    return {
        "default": parse(data["default"]),
        "rules": [parse(r) for r in data.get("rule", [])],
        "all": data.get("all", {}).get("caps", []),
    }


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario())
def test_plans_never_message_opted_out_contacts_in_quiet_hours_or_over_caps(case):
    now, rows, inbound, prior, when, text = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.toml"
        path.write_text(text)
        rules = load_rules(path)
        contacts = pl.DataFrame(
            [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
            schema_overrides={
                "consent_at": TS,
                "opted_out_at": TS,
                "timezone": pl.String,
                "country": pl.String,
            },
        )
        inbound_frame = pl.DataFrame(
            inbound, schema={"contact_id": pl.Int64, "received_at": TS, "body": pl.String}
        )
        prior_frame = pl.DataFrame(
            prior, schema={"contact_id": pl.Int64, "start_at": TS, "end_at": TS}
        )
        plan = plan_sends(
            contacts.get_column("contact_id"),
            "Hi",
            when,
            campaign_id="prop",
            contacts=contacts,
            inbound=inbound_frame,
            prior=prior_frame,
            rules=rules,
            settings=Settings(),
            now=now,
        )
    ref = _reference_rules(text)
    by_id = {r["contact_id"]: r for r in rows}
    planned = plan.rows.get_column("contact_id").to_list()
    excluded = plan.exclusions.get_column("contact_id").to_list()
    assert sorted(planned + excluded) == sorted(by_id) and len(set(planned)) == len(planned)

    for row in plan.rows.iter_rows(named=True):
        c = by_id[row["contact_id"]]
        # consent and opt-out, judged at planning time
        assert c["consent_at"] is not None and c["consent_at"] <= now
        replies = sorted(
            (i["received_at"], i["body"])
            for i in inbound
            if i["contact_id"] == c["contact_id"] and i["received_at"] <= now
        )
        # the latest opt-out (record or STOP) at planning time must be followed by a START
        outs = [t for t, b in replies if b == "STOP"]
        if c["opted_out_at"] is not None and c["opted_out_at"] <= now:
            outs.append(c["opted_out_at"])
        last_start = max((t for t, b in replies if b == "start"), default=None)
        assert not outs or (last_start is not None and last_start > max(outs))
        # quiet hours: every rule the contact is subject to allows every instant of the window
        applicable = [
            r
            for r in ref["rules"]
            if c["country"] in r["countries"] and (not r["regions"] or c["_region"] in r["regions"])
        ]
        applicable = applicable or [ref["default"]]
        s, e = row["window_start_at"], row["window_end_at"]
        assert s < e
        samples = [s, e - dt.timedelta(microseconds=1)]
        t = s
        while t < e:
            samples.append(t)
            t += dt.timedelta(minutes=5)
        for instant in samples:
            for rule in applicable:
                assert _allowed(rule, instant, c["timezone"]), (row, rule, instant)
        # caps: prior messages (sent points or planned windows) plus this one
        zone = zoneinfo.ZoneInfo(c["timezone"])
        mine = [p for p in prior if p["contact_id"] == c["contact_id"]]
        day = s.astimezone(zone).date()
        for cap in [cp for r in applicable for cp in r["caps"]] + ref["all"]:
            if cap["per"] == "local_day":
                same_day = [
                    p
                    for p in mine
                    if p["start_at"].astimezone(zone).date() == day
                    or (
                        max(p["end_at"], p["start_at"] + dt.timedelta(microseconds=1))
                        - dt.timedelta(microseconds=1)
                    )
                    .astimezone(zone)
                    .date()
                    == day
                ]
                assert len(same_day) + 1 <= cap["messages"], (row, cap, same_day)
            else:
                h = dt.timedelta(hours=int(cap["per"][:-1]))
                near = [
                    p
                    for p in mine
                    if p["start_at"] < e + h
                    and max(p["end_at"], p["start_at"] + dt.timedelta(microseconds=1)) > s - h
                ]
                assert len(near) + 1 <= cap["messages"], (row, cap, near)


@settings(max_examples=40, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(STATUS_RANK)), st.integers(0, 5)), min_size=1, max_size=12
    )
)
def test_receipts_in_any_order_and_repetition_only_move_forward(reports):
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(Path(folder) / "ledger.sqlite")
        ledger._con.execute(
            "INSERT INTO sends (idempotency_key, plan_id, campaign_id, contact_id, variant, "
            "phone_e164, body, "
            "window_start_us, window_end_us, state) VALUES ('k', 'p', 'c', 1, 'default', "
            "'+33612345678', 'x', 0, 1, 'sent')"
        )
        base = dt.datetime(2026, 1, 1, tzinfo=UTC)
        applied = []
        for status, second in reports:
            if ledger.record_receipt(
                key="k", status=status, status_at=base + dt.timedelta(seconds=second)
            ):
                applied.append(status)
        ranks = [STATUS_RANK[s] for s in applied]
        assert ranks == sorted(set(ranks))  # strictly increasing
        assert max(ranks) == max(STATUS_RANK[s] for s, _ in reports)
        final = ledger.rows()[0].status
        assert final == applied[-1]
        stored = ledger._con.execute("SELECT status, status_us FROM receipts").fetchall()
        assert len(stored) == len(set(reports))
        ledger.close()
