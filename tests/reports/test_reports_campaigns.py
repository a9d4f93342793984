# ruff: noqa: E501  (the hand-made rows are tables with a comment per row)
"""Campaign KPIs against an independent computation in plain Python over the same rows.

The hand-made programme below exercises each rule once (see the comments); :func:`reference`
re-implements the stated definitions (``docs/reports.md``) with lists, dicts and ``zoneinfo``,
and every KPI column of :func:`smsanalytics.campaigns.campaign_kpis` is compared with it.
Intervals are checked against statsmodels' ``proportion_confint(method="wilson")``.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from statsmodels.stats.proportion import proportion_confint

from smsanalytics import campaigns
from smsanalytics.campaigns import Attribution, CampaignAnalysisError
from smsanalytics.settings import Settings
from smsanalytics.warehouse import Warehouse

UTC = dt.UTC
START = dt.datetime(2025, 3, 15, tzinfo=UTC)
END = dt.datetime(2025, 4, 8, tzinfo=UTC)
PRICES = {"FR": 0.045, "US": 0.0083, "GB": 0.035, "default": 0.05}
SETTINGS = Settings(price_per_segment=PRICES)


def t(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


CONTACTS = [
    # contact_id, country, timezone
    (1, "FR", "Europe/Paris"),
    (2, "US", "America/New_York"),
    (3, "FR", None),  # unknown zone: no local hour
    (4, "GB", "Europe/London"),
]
CAMPAIGNS = [("c1", "promotional"), ("c2", "reminder")]
MESSAGES = [
    # message_id, campaign_id, variant, contact_id, sent_at, segments, cost
    (1, "c1", "A", 1, t(2025, 3, 30, 0, 30), 1, 0.05),  # 01:30 CET, before the change to CEST
    (2, "c1", "B", 2, t(2025, 3, 30, 14, 0), 2, None),  # 10:00 EDT; cost estimated: 2 x US price
    (3, "c1", "A", 3, t(2025, 3, 30, 9, 0), 1, 0.05),
    (4, "c1", "B", 4, t(2025, 3, 30, 1, 30), 1, 0.035),  # 02:30 BST: London changed at 01:00 UTC
    (5, "c2", None, 1, t(2025, 4, 2, 8, 0), 1, 0.05),  # 10:00 CEST; variant NULL -> default
    (6, "c2", None, 2, t(2025, 4, 2, 12, 0), 1, 0.0083),
    (7, "c2", None, 4, t(2025, 4, 2, 8, 0), 1, 0.035),
    (8, None, None, 1, t(2025, 4, 5, 8, 0), 1, 0.05),  # transactional
    (9, "c1", "A", 1, t(2025, 3, 1, 9, 0), 1, 0.05),  # before the window
    (10, "c2", None, 3, t(2025, 4, 9, 9, 0), 1, 0.05),  # after the window and as_of
]
RECEIPTS = [
    # message_id, status_at, status, error_code
    (1, t(2025, 3, 30, 0, 30, 20), "sent", None),
    (1, t(2025, 3, 30, 0, 31), "delivered", None),
    (2, t(2025, 3, 30, 14, 1), "undelivered", "30003"),
    (2, t(2025, 3, 30, 14, 10), "failed", "30008"),  # the last failure gives status and code
    (3, t(2025, 3, 30, 9, 1), "delivered", None),
    # 4: no report at all, but a person clicked: delivered
    (5, t(2025, 4, 2, 8, 0, 5), "delivered", None),
    (6, t(2025, 4, 2, 12, 0, 10), "delivered", None),
    (7, t(2025, 4, 2, 8, 0, 2), "sent", None),  # no final report: pending
    (8, t(2025, 4, 5, 8, 0, 3), "delivered", None),
    (9, t(2025, 3, 1, 9, 1), "delivered", None),
]
CLICKS = [
    # message_id, contact_id, clicked_at, is_bot
    (1, 1, t(2025, 3, 30, 0, 31, 2), True),  # link preview
    (1, 1, t(2025, 3, 30, 0, 33), False),  # first human click: 180 s after sending
    (1, 1, t(2025, 3, 30, 1, 0), False),
    (3, 3, t(2025, 3, 30, 10, 0), False),  # 3,600 s
    (4, 4, t(2025, 3, 30, 1, 32), False),  # 120 s, no delivery report
    (5, 1, t(2025, 4, 2, 8, 0, 10), True),  # bot only: not clicked
    (8, 1, t(2025, 4, 5, 8, 1), False),
    (9, 1, t(2025, 3, 1, 9, 5), False),
    (6, 2, t(2025, 4, 9, 12, 0), False),  # after as_of: ignored
]
ORDERS = [
    # order_id, contact_id, ordered_at, amount
    ("o1", 1, t(2025, 3, 31, 12), 100.0),  # last human click m1 -> m1 (click)
    ("o2", 1, t(2025, 4, 2, 20), 50.0),  # click on m1 within 7 days wins over delivery of m5
    ("o3", 1, t(2025, 4, 6, 9), 30.0),  # click on m8 (transactional) is the last click
    ("o4", 2, t(2025, 3, 30, 18), 40.0),  # m2 failed: no touch -> not credited
    ("o5", 2, t(2025, 4, 2, 20), 25.0),  # m6 delivered 8 h before -> m6 (delivery)
    ("o6", 2, t(2025, 4, 4, 12), 60.0),  # m6 delivered 2 days before: outside 1 day
    ("o7", 3, t(2025, 3, 30, 20), 70.0),  # click on m3
    ("o8", 4, t(2025, 3, 30, 5), 80.0),  # click on m4
    ("o9", 4, t(2025, 4, 6, 1, 32), 90.0),  # exactly 7 days after the click: outside
    ("o10", 1, t(2025, 3, 2, 9), 10.0),  # before the window start
    ("o11", 1, t(2025, 4, 8, 1), 15.0),  # after as_of
]
INBOUND = [
    # contact_id, received_at, keyword
    (4, t(2025, 4, 2, 9), "STOP"),  # last message within 2 days: m7
    (3, t(2025, 4, 6, 9), "STOP"),  # m3 was 7 days before: not charged
    (1, t(2025, 4, 3, 9), "HELP"),
    (2, t(2025, 4, 2, 13), "stop"),  # keyword matched case-insensitively: m6
]


def _frames() -> dict[str, pl.DataFrame]:
    ts = pl.Datetime("us", "UTC")
    return {
        "contacts": pl.DataFrame(
            [(c, f"ext-{c}", f"+3360000000{c}", country, zone, "explicit" if zone else "unknown")
             for c, country, zone in CONTACTS],
            schema={"contact_id": pl.Int64, "external_id": pl.String, "phone_e164": pl.String,
                    "country": pl.String, "timezone": pl.String, "timezone_source": pl.String},
            orient="row",
        ),
        "campaigns": pl.DataFrame(CAMPAIGNS, schema={"campaign_id": pl.String, "kind": pl.String}, orient="row"),
        "messages": pl.DataFrame(
            MESSAGES,
            schema={"message_id": pl.Int64, "campaign_id": pl.String, "variant": pl.String,
                    "contact_id": pl.Int64, "sent_at": ts, "segments": pl.Int32, "cost": pl.Float64},
            orient="row",
        ),
        "receipts": pl.DataFrame(
            RECEIPTS, schema={"message_id": pl.Int64, "status_at": ts, "status": pl.String, "error_code": pl.String},
            orient="row",
        ),
        "clicks": pl.DataFrame(
            CLICKS, schema={"message_id": pl.Int64, "contact_id": pl.Int64, "clicked_at": ts, "is_bot": pl.Boolean},
            orient="row",
        ),
        "inbound": pl.DataFrame(
            INBOUND, schema={"contact_id": pl.Int64, "received_at": ts, "keyword": pl.String}, orient="row"
        ),
        "orders": pl.DataFrame(
            ORDERS, schema={"order_id": pl.String, "contact_id": pl.Int64, "ordered_at": ts, "amount": pl.Float64},
            orient="row",
        ),
    }  # fmt: skip


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("campaigns") / "hand.duckdb"
    with Warehouse(path) as w:
        for name, frame in _frames().items():
            w.load(name, frame, source="hand-made")
    warehouse = Warehouse(path, read_only=True)
    yield warehouse
    warehouse.close()


# -- the reference ---------------------------------------------------------------------------------
def reference_facts(
    *, start, end, as_of, attribution: Attribution, segments=None, campaign_id=None
) -> list[dict]:
    """One dict per message, by the definitions in docs/reports.md, in plain Python."""
    country = {c: k for c, k, _ in CONTACTS}
    zone = {c: z for c, _, z in CONTACTS}
    kind = dict(CAMPAIGNS)
    sent = [
        m for m in MESSAGES
        if start <= m[4] < end and m[4] < as_of and (campaign_id is None or m[1] == campaign_id)
    ]  # fmt: skip
    contacts_sent = {m[3] for m in sent}
    human = [c for c in CLICKS if not c[3] and c[2] < as_of]
    delivered_at = {}
    for mid, at, status, _ in RECEIPTS:
        if status == "delivered" and at < as_of:
            delivered_at[mid] = min(at, delivered_at.get(mid, at))
    sender = {m[0]: m for m in MESSAGES}
    # attribution
    credit: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    horizon = end + dt.timedelta(days=attribution.window_days)
    for _, contact, at, amount in ORDERS:
        if not (start <= at < as_of and at < horizon and contact in contacts_sent):
            continue
        lo = at - dt.timedelta(days=attribution.click_days)
        touches = [(c[2], c[0]) for c in human if c[1] == contact and lo < c[2] <= at]
        if touches:
            credit[max(touches)[1]].append((amount, True))
            continue
        lo = at - dt.timedelta(days=attribution.delivery_days)
        touches = [
            (d, mid)
            for mid, d in delivered_at.items()
            if sender[mid][3] == contact and lo < d <= at
        ]
        if touches:
            credit[max(touches)[1]].append((amount, False))
    # opt-outs
    opted = set()
    for contact, at, keyword in set(INBOUND):
        if (
            (keyword or "").upper() != "STOP"
            or not (start <= at < as_of)
            or contact not in contacts_sent
        ):
            continue
        lo = at - dt.timedelta(days=attribution.optout_days)
        touches = [(m[4], m[0]) for m in MESSAGES if m[3] == contact and lo < m[4] <= at]
        if touches:
            opted.add(max(touches)[1])
    rows = []
    for mid, cid, variant, contact, sent_at, segs, cost in sent:
        clicks_h = sorted(c[2] for c in human if c[0] == mid)
        bots = [c for c in CLICKS if c[0] == mid and c[3] and c[2] < as_of]
        fails = sorted((r for r in RECEIPTS if r[0] == mid and r[2] in ("undelivered", "failed") and r[1] < as_of),
                       key=lambda r: r[1])  # fmt: skip
        if mid in delivered_at or clicks_h:
            status, code = "delivered", None
        elif fails:
            status, code = fails[-1][2], fails[-1][3]
        else:
            status, code = "pending", None
        z = zone[contact]
        local = sent_at.astimezone(zoneinfo.ZoneInfo(z)).hour if z else None
        seg = (segments or {}).get(contact, "unknown")
        rows.append({
            "message_id": mid, "campaign_id": cid, "kind": kind.get(cid, "unknown"), "variant": variant or "default",
            "segment": seg, "country": country[contact], "local_hour": local, "status": status, "error_code": code,
            "first_click_at": clicks_h[0] if clicks_h else None, "delivered_at": delivered_at.get(mid),
            "sent_at": sent_at, "human_clicks": len(clicks_h), "bot_clicks": len(bots),
            "orders": len(credit[mid]), "orders_by_click": sum(1 for _, c in credit[mid] if c),
            "revenue": sum(a for a, _ in credit[mid]), "is_opted_out": mid in opted,
            "billed_segments": segs, "cost": cost if cost is not None else segs * PRICES.get(country[contact], PRICES["default"]),
            "is_cost_estimated": cost is None,
        })  # fmt: skip
    return rows


def reference_kpis(facts: list[dict], by: tuple[str, ...]) -> dict[tuple, dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for f in facts:
        groups[tuple(f[k] for k in by)].append(f)
    out = {}
    for key, rows in groups.items():
        n = len(rows)
        delivered = sum(r["status"] == "delivered" for r in rows)
        out[key] = {
            "sent": n,
            "delivered": delivered,
            "failed": sum(r["status"] in ("undelivered", "failed") for r in rows),
            "pending": sum(r["status"] == "pending" for r in rows),
            "clicked": sum(r["first_click_at"] is not None for r in rows),
            "human_clicks": sum(r["human_clicks"] for r in rows),
            "bot_clicks": sum(r["bot_clicks"] for r in rows),
            "converted": sum(r["orders"] > 0 for r in rows),
            "orders": sum(r["orders"] for r in rows),
            "orders_by_click": sum(r["orders_by_click"] for r in rows),
            "revenue": sum(r["revenue"] for r in rows),
            "opted_out": sum(r["is_opted_out"] for r in rows),
            "billed_segments": sum(r["billed_segments"] for r in rows),
            "cost": sum(r["cost"] for r in rows),
            "cost_estimated": sum(r["is_cost_estimated"] for r in rows),
        }
        o = out[key]
        o["delivery_rate"] = o["delivered"] / n
        o["ctr"] = o["clicked"] / delivered if delivered else None
        o["conversion_rate"] = o["converted"] / delivered if delivered else None
        o["opt_out_rate"] = o["opted_out"] / n
        o["revenue_per_message"] = o["revenue"] / n
        o["roi"] = (o["revenue"] - o["cost"]) / o["cost"] if o["cost"] else None
    return out


def _compare(frame: pl.DataFrame, expected: dict[tuple, dict], by: tuple[str, ...]) -> None:
    got = {tuple(r[k] for k in by): r for r in frame.iter_rows(named=True)}
    assert set(got) == set(expected)
    for key, exp in expected.items():
        for col, value in exp.items():
            if value is None:
                assert got[key][col] is None, (key, col)
            elif isinstance(value, float):
                assert got[key][col] == pytest.approx(value, rel=1e-12, abs=1e-12), (key, col)
            else:
                assert got[key][col] == value, (key, col)


CUTS = [
    ("campaign_id",),
    ("campaign_id", "variant"),
    ("kind", "country"),
    ("local_hour",),
    ("country", "local_hour", "variant"),
]


@pytest.mark.parametrize("by", CUTS, ids=lambda b: "+".join(b))
def test_campaign_kpis_match_plain_python_reference(wh, by):
    attribution = Attribution(click_days=7, delivery_days=1, optout_days=2)
    kpis = campaigns.campaign_kpis(wh, by=by, start=START, end=END, as_of=END, attribution=attribution,
                                   settings=SETTINGS)  # fmt: skip
    facts = reference_facts(start=START, end=END, as_of=END, attribution=attribution)
    _compare(kpis, reference_kpis(facts, by), by)


def test_hand_made_rules_give_the_worked_out_numbers(wh):
    """The worked-out values behind the comments of the fixture (a check on the reference too)."""
    kpis = campaigns.campaign_kpis(
        wh, by=("campaign_id",), start=START, end=END, as_of=END, settings=SETTINGS
    )
    c1 = kpis.filter(pl.col("campaign_id") == "c1").row(0, named=True)
    assert (c1["sent"], c1["delivered"], c1["failed"], c1["pending"]) == (4, 3, 1, 0)
    assert (c1["clicked"], c1["human_clicks"], c1["bot_clicks"]) == (3, 4, 1)
    assert (c1["orders"], c1["orders_by_click"], c1["revenue"]) == (4, 4, 300.0)  # o1, o2, o7, o8
    assert (
        c1["cost"] == pytest.approx(0.05 + 2 * 0.0083 + 0.05 + 0.035) and c1["cost_estimated"] == 1
    )
    c2 = kpis.filter(pl.col("campaign_id") == "c2").row(0, named=True)
    assert (c2["sent"], c2["delivered"], c2["pending"], c2["clicked"]) == (3, 2, 1, 0)
    assert (c2["orders"], c2["orders_by_delivery"], c2["revenue"]) == (1, 1, 25.0)  # o5 via m6
    assert c2["opted_out"] == 2  # m7 (STOP) and m6 (stop)
    transactional = kpis.filter(pl.col("campaign_id").is_null()).row(0, named=True)
    assert transactional["revenue"] == 30.0  # o3, credited to the transactional m8
    facts = campaigns.campaign_message_facts(wh, start=START, end=END, as_of=END, settings=SETTINGS)
    hours = dict(zip(facts["message_id"], facts["local_hour"], strict=True))
    assert hours == {1: 1, 2: 10, 3: None, 4: 2, 5: 10, 6: 8, 7: 9, 8: 10}  # DST-exact local hours
    assert facts.filter(pl.col("message_id") == 2)["error_code"].item() == "30008"
    assert "phone_e164" not in facts.columns


def test_as_of_hides_later_events_and_later_messages(wh):
    attribution = Attribution()
    as_of = t(2025, 4, 2, 10)  # m5, m7 sent; m6 not yet; m5 delivered, o5 not yet
    kpis = campaigns.campaign_kpis(
        wh, by=("campaign_id",), start=START, end=END, as_of=as_of, settings=SETTINGS
    )
    facts = reference_facts(start=START, end=END, as_of=as_of, attribution=attribution)
    _compare(kpis, reference_kpis(facts, ("campaign_id",)), ("campaign_id",))
    assert kpis.filter(pl.col("campaign_id") == "c2")["sent"].item() == 2
    assert not kpis["is_attribution_complete"].any()


def test_other_attribution_windows_match_the_reference(wh):
    attribution = Attribution(click_days=1, delivery_days=3, optout_days=10)
    kpis = campaigns.campaign_kpis(wh, by=("campaign_id", "variant"), start=START, end=END, as_of=END,
                                   attribution=attribution, settings=SETTINGS)  # fmt: skip
    facts = reference_facts(start=START, end=END, as_of=END, attribution=attribution)
    _compare(kpis, reference_kpis(facts, ("campaign_id", "variant")), ("campaign_id", "variant"))


def test_segments_and_campaign_filter(wh):
    segments = pl.DataFrame({"contact_id": [1, 2, 4], "segment": ["Champions", "New", "Champions"]})
    kpis = campaigns.campaign_kpis(wh, by=("segment",), start=START, end=END, as_of=END, campaign_id="c1",
                                   segments=segments, settings=SETTINGS)  # fmt: skip
    facts = reference_facts(start=START, end=END, as_of=END, attribution=Attribution(), campaign_id="c1",
                            segments={1: "Champions", 2: "New", 4: "Champions"})  # fmt: skip
    _compare(kpis, reference_kpis(facts, ("segment",)), ("segment",))
    assert set(kpis["segment"]) == {"Champions", "New", "unknown"}


def test_total_row_and_consistency_with_groups(wh):
    total = campaigns.campaign_kpis(wh, by=(), start=START, end=END, as_of=END, settings=SETTINGS)
    by_hour = campaigns.campaign_kpis(
        wh, by="local_hour", start=START, end=END, as_of=END, settings=SETTINGS
    )
    assert total.height == 1
    for col in ("sent", "delivered", "clicked", "orders", "opted_out", "billed_segments"):
        assert total[col].item() == by_hour[col].sum()
    assert total["revenue"].item() == pytest.approx(by_hour["revenue"].sum())


def test_wilson_intervals_match_statsmodels(wh):
    kpis = campaigns.campaign_kpis(wh, by=("campaign_id", "variant"), start=START, end=END, as_of=END,
                                   settings=SETTINGS, confidence=0.9)  # fmt: skip
    for row in kpis.iter_rows(named=True):
        for rate, (num, den) in {
            "delivery_rate": ("delivered", "sent"), "ctr": ("clicked", "delivered"),
            "conversion_rate": ("converted", "delivered"), "opt_out_rate": ("opted_out", "sent"),
            "failure_rate": ("failed", "sent"),
        }.items():  # fmt: skip
            if row[den] == 0:
                assert row[f"{rate}_low"] is None and row[f"{rate}_high"] is None
                continue
            low, high = proportion_confint(row[num], row[den], alpha=0.1, method="wilson")
            assert row[f"{rate}_low"] == pytest.approx(low, abs=1e-12)
            assert row[f"{rate}_high"] == pytest.approx(high, abs=1e-12)


def test_wilson_interval_matches_statsmodels_on_many_counts():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 5_000, size=500)
    k = rng.binomial(n, rng.uniform(0, 1, size=500))
    k[:5] = 0
    k[5:10] = n[5:10]
    low, high = campaigns.wilson_interval(k, n, confidence=0.95)
    ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(low, ref_low, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, atol=1e-12)
    nan_low, nan_high = campaigns.wilson_interval(0, 0)
    assert math.isnan(float(nan_low)) and math.isnan(float(nan_high))


def test_click_delays_and_distribution(wh):
    delays = campaigns.click_delays(wh, start=START, end=END, as_of=END)
    assert sorted(delays["delay_seconds"].to_list()) == [
        60.0,
        120.0,
        180.0,
        3600.0,
    ]  # m8, m4, m1, m3
    assert (
        delays.filter(pl.col("delay_seconds") == 120.0)["delay_from_delivery_seconds"].item()
        is None
    )
    dist = campaigns.click_delay_distribution(delays, minutes=(1, 3, 60))
    assert dist["clicked_within"].to_list() == [1, 3, 4]
    assert dist["share"].to_list() == [0.25, 0.75, 1.0]
    low, high = proportion_confint(3, 4, method="wilson")
    assert dist["share_low"][1] == pytest.approx(low) and dist["share_high"][1] == pytest.approx(
        high
    )
    by_kind = campaigns.click_delay_distribution(delays, by="kind", minutes=(3,))
    assert dict(zip(by_kind["kind"], by_kind["share"], strict=True)) == {
        "promotional": 2 / 3,
        "unknown": 1.0,
    }
    summary = campaigns.click_delay_summary(delays)
    assert summary["clicked"].item() == 4 and summary["median_minutes"].item() == pytest.approx(
        150 / 60
    )
    assert summary["share_within"].item() == 0.75
    with pytest.raises(CampaignAnalysisError, match="reference"):
        campaigns.click_delay_distribution(delays, reference="read")


def test_failures_by_error_code(wh):
    failures = campaigns.failures_by_error_code(
        wh, by=("campaign_id",), start=START, end=END, as_of=END
    )
    assert failures.select("campaign_id", "status", "error_code", "messages", "share").rows() == [
        ("c1", "failed", "30008", 1, 1.0)
    ]
    assert failures["description"].item() == "Unknown error"


def test_helpers_list_and_resolve_campaigns(wh):
    listed = campaigns.list_campaigns(wh, as_of=END)
    assert listed["campaign_id"].to_list() == ["c2", "c1"]
    assert listed.filter(pl.col("campaign_id") == "c1")["variants"].item() == 2
    assert campaigns.resolve_campaign(wh, as_of=END) == "c2"
    assert campaigns.resolve_campaign(wh, experiment=True, as_of=END) == "c1"
    assert campaigns.resolve_campaign(wh, "c1") == "c1"
    with pytest.raises(CampaignAnalysisError, match="no messages of campaign 'nope'"):
        campaigns.resolve_campaign(wh, "nope")
    weekly = campaigns.weekly_activity(wh, as_of=END)
    assert weekly["sent"].sum() == 9 and weekly["week"].min() == dt.date(2025, 2, 24)
    assert campaigns.data_end(wh) == t(2025, 4, 9, 12) + dt.timedelta(microseconds=1)


def test_bad_arguments_are_explained(wh):
    with pytest.raises(CampaignAnalysisError, match="cannot group by"):
        campaigns.campaign_kpis(wh, by=("contact_id",))
    with pytest.raises(CampaignAnalysisError, match="needs segments"):
        campaigns.campaign_kpis(wh, by=("segment",))
    with pytest.raises(CampaignAnalysisError, match="must be after start"):
        campaigns.campaign_kpis(wh, start=END, end=START)
    with pytest.raises(CampaignAnalysisError, match="click_days"):
        Attribution(click_days=-1)
    with pytest.raises(CampaignAnalysisError, match="contact_id and segment"):
        campaigns.campaign_kpis(wh, by=("segment",), segments=pl.DataFrame({"contact_id": [1]}))
    assert "7 days" in Attribution().describe() and "1 day " in Attribution().describe()


def test_empty_warehouse_gives_empty_frames():
    with Warehouse(":memory:") as empty:
        assert campaigns.campaign_kpis(empty, by=()).height == 0
        assert campaigns.campaign_kpis(empty, by=("campaign_id",)).height == 0
        assert campaigns.click_delay_distribution(campaigns.click_delays(empty)).height == 0
