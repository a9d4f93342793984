"""Lifecycle stages and event flags; every contact in exactly one stage (hypothesis, end to end)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import AS_OF, load_frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsanalytics.segments import (
    LIFECYCLE_STAGES,
    NO_PURCHASE_SEGMENT,
    RFM_SEGMENTS,
    assign_lifecycle_stages,
    segment_contacts,
    segment_counts,
)
from smsanalytics.warehouse import Warehouse


def test_stages_and_flags_of_the_hand_made_programme(wh):
    seg = segment_contacts(wh, as_of=AS_OF)
    stages = dict(seg.select("contact_id", "lifecycle_stage").iter_rows())
    assert stages == {
        1: "reactivated",  # ordered 12 days ago after 445 days without an order
        2: "welcome",  # signed up a week ago, no order
        3: "opted_out",
        5: "at_risk",  # last order 137 days ago
        6: "lapsed",  # last order 365 days ago
        7: "opted_out",  # STOP reply
        8: "lapsed",  # never ordered, signed up 517 days ago
        9: "welcome",  # signup date unknown, no order
    }
    flags = {
        r["contact_id"]: (
            r["is_birthday_soon"],
            r["is_abandoned_activity"],
            r["has_points_to_redeem"],
        )
        for r in seg.iter_rows(named=True)
    }
    assert flags[1] == (
        True,
        False,
        True,
    )  # birthday in 4 days, 120 points, clicked before ordering
    assert flags[2] == (False, True, False)  # clicked 4 days ago, never ordered
    assert flags[3] == (False, False, False)  # 0 points


def test_windows_are_parameters(wh):
    seg = segment_contacts(wh, as_of=AS_OF, active_days=150, lapse_days=400, abandon_days=2)
    stages = dict(seg.select("contact_id", "lifecycle_stage").iter_rows())
    assert stages[5] == "active" and stages[6] == "at_risk" and stages[1] == "reactivated"
    assert stages[8] == "lapsed"
    assert not seg.filter(pl.col("contact_id") == 2)["is_abandoned_activity"].item()


def test_inconsistent_windows_raise():
    f = pl.DataFrame(
        {
            "is_opted_out": [False],
            "n_orders": [0],
            "recency_days": [None],
            "gap_before_last_purchase_days": [None],
            "tenure_days": [3],
        }
    )
    with pytest.raises(ValueError, match="active_days < lapse_days"):
        assign_lifecycle_stages(f, active_days=200, lapse_days=100)


def test_points_flag_is_false_when_the_programme_has_no_points():
    f = pl.DataFrame(
        {
            "is_opted_out": [False],
            "n_orders": [0],
            "recency_days": [None],
            "gap_before_last_purchase_days": [None],
            "tenure_days": [3],
        }
    )
    assert assign_lifecycle_stages(f)["has_points_to_redeem"].to_list() == [False]


_when = st.datetimes(
    min_value=dt.datetime(2023, 1, 1),
    max_value=dt.datetime(2025, 12, 31),
    timezones=st.just(dt.UTC),
)
_zone = st.sampled_from(["Europe/Paris", "America/New_York", "Asia/Kathmandu", None])


@st.composite
def programmes(draw):
    n = draw(st.integers(1, 12))
    contacts = pl.DataFrame(
        {
            "contact_id": list(range(1, n + 1)),
            "external_id": [f"x{i}" for i in range(1, n + 1)],
            "phone_e164": [f"+3361000000{i:02d}" for i in range(1, n + 1)],
            "timezone": [draw(_zone) for _ in range(n)],
            "timezone_source": ["explicit"] * n,
            "signup_at": [draw(st.one_of(st.none(), _when)) for _ in range(n)],
            "consent_at": [draw(st.one_of(st.none(), _when)) for _ in range(n)],
            "opted_out_at": [draw(st.one_of(st.none(), _when)) for _ in range(n)],
            "birthday": [
                draw(st.one_of(st.none(), st.dates(dt.date(1950, 1, 1), dt.date(2005, 12, 31))))
                for _ in range(n)
            ],
            "points": [draw(st.one_of(st.none(), st.integers(0, 500))) for _ in range(n)],
        },
        schema_overrides={
            "timezone": pl.String,
            "signup_at": pl.Datetime("us", "UTC"),
            "consent_at": pl.Datetime("us", "UTC"),
            "opted_out_at": pl.Datetime("us", "UTC"),
            "points": pl.Int32,
        },
    )
    orders = draw(st.lists(st.tuples(st.integers(1, n), _when, st.floats(0.01, 900)), max_size=25))
    sends = draw(
        st.lists(st.tuples(st.integers(1, n), _when, st.booleans(), st.booleans()), max_size=25)
    )
    frames = {
        "contacts": contacts,
        "orders": pl.DataFrame(
            [(f"o{i}", c, at, a) for i, (c, at, a) in enumerate(orders)],
            schema={
                "order_id": pl.String,
                "contact_id": pl.Int64,
                "ordered_at": pl.Datetime("us", "UTC"),
                "amount": pl.Float64,
            },
            orient="row",
        ),
        "messages": pl.DataFrame(
            [(i, c, at) for i, (c, at, _, _) in enumerate(sends)],
            schema={
                "message_id": pl.Int64,
                "contact_id": pl.Int64,
                "sent_at": pl.Datetime("us", "UTC"),
            },
            orient="row",
        ),
        "clicks": pl.DataFrame(
            [
                (i, c, at + dt.timedelta(minutes=5), bot)
                for i, (c, at, clicked, bot) in enumerate(sends)
                if clicked
            ],
            schema={
                "message_id": pl.Int64,
                "contact_id": pl.Int64,
                "clicked_at": pl.Datetime("us", "UTC"),
                "is_bot": pl.Boolean,
            },
            orient="row",
        ),
    }
    return frames, draw(_when)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programmes())
def test_every_contact_falls_in_exactly_one_rfm_segment_and_one_stage(case):
    frames, as_of = case
    with Warehouse(":memory:") as wh:
        seg = segment_contacts(load_frames(wh, frames), as_of=as_of)
    contacts = frames["contacts"]
    known = contacts.filter(pl.col("signup_at").is_null() | (pl.col("signup_at") < as_of))
    assert sorted(seg["contact_id"]) == sorted(known["contact_id"])  # one row per known contact
    assert seg["rfm_segment"].null_count() == 0 and seg["lifecycle_stage"].null_count() == 0
    assert set(seg["rfm_segment"]) <= {*RFM_SEGMENTS, NO_PURCHASE_SEGMENT}
    assert set(seg["lifecycle_stage"]) <= set(LIFECYCLE_STAGES)
    assert segment_counts(seg, "lifecycle_stage")["contacts"].sum() == seg.height
    assert segment_counts(seg, "rfm_segment")["contacts"].sum() == seg.height
    # stages agree with their definitions
    buyers = seg.filter(pl.col("n_orders") > 0)
    assert (buyers["rfm_segment"] != NO_PURCHASE_SEGMENT).all()
    opted = seg.filter(pl.col("lifecycle_stage") == "opted_out")
    assert opted["is_opted_out"].all()
    assert (seg.filter(pl.col("lifecycle_stage") == "welcome")["n_orders"] == 0).all()
