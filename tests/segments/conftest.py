"""Hand-made programme for the feature and segment tests, with events after ``AS_OF``.

Each contact is built to exercise one rule (see the comments); the expected feature values are
worked out by hand in ``test_features_sql.py``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from smsanalytics.warehouse import Warehouse

UTC = dt.UTC
AS_OF = dt.datetime(2025, 6, 1, tzinfo=UTC)
LOAD_ORDER = ("contacts", "messages", "receipts", "clicks", "inbound", "orders")


def t(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def programme_frames() -> dict[str, pl.DataFrame]:
    """The hand-made programme, including events at or after ``AS_OF``."""
    contacts = pl.DataFrame(
        [
            # 1: reactivated buyer in Paris, birthday in 4 days, messages across the DST change
            (
                1,
                "FR",
                "Europe/Paris",
                t(2024, 1, 10, 9),
                dt.date(1990, 6, 5),
                t(2024, 1, 10, 9),
                None,
                120,
            ),
            # 2: new in New York, no order, born 29 February, clicked 4 days ago (abandoned)
            (
                2,
                "US",
                "America/New_York",
                t(2025, 5, 25),
                dt.date(2000, 2, 29),
                t(2025, 5, 25),
                None,
                None,
            ),
            # 3: opted out before as_of
            (3, "FR", "Europe/Paris", t(2023, 1, 1), None, t(2023, 1, 1), t(2025, 1, 1), 0),
            # 4: signs up after as_of: not in the features
            (4, "FR", "Europe/Paris", t(2025, 7, 1), None, t(2025, 7, 1), None, None),
            # 5: opts out after as_of: still consented at as_of; at risk
            (5, "BE", "Europe/Brussels", t(2024, 6, 1), None, t(2025, 1, 1), t(2025, 7, 1), None),
            # 6: unknown time zone: no local hour; lapsed buyer
            (6, "FR", None, t(2024, 1, 1), None, None, None, None),
            # 7: replied STOP (no opted_out_at yet): opted out
            (7, "FR", "Europe/Paris", t(2024, 2, 1), None, t(2024, 2, 1), None, None),
            # 8: Kathmandu (UTC+05:45); STOP then START: not opted out; never bought, old: lapsed
            (8, "NP", "Asia/Kathmandu", t(2024, 1, 1), None, t(2024, 1, 1), None, None),
            # 9: no signup date, nothing else: welcome
            (9, None, None, None, None, None, None, None),
        ],
        schema={
            "contact_id": pl.Int64,
            "country": pl.String,
            "timezone": pl.String,
            "signup_at": pl.Datetime("us", "UTC"),
            "birthday": pl.Date,
            "consent_at": pl.Datetime("us", "UTC"),
            "opted_out_at": pl.Datetime("us", "UTC"),
            "points": pl.Int32,
        },
        orient="row",
    ).with_columns(
        pl.format("ext-{}", "contact_id").alias("external_id"),
        pl.format("+3360000000{}", "contact_id").alias("phone_e164"),
        pl.when(pl.col("timezone").is_null())
        .then(pl.lit("unknown"))
        .otherwise(pl.lit("explicit"))
        .alias("timezone_source"),
    )
    messages = pl.DataFrame(
        [
            (11, 1, t(2025, 3, 30, 0, 30), 0.05),  # 01:30 CET (before the change)
            (12, 1, t(2025, 3, 30, 1, 30), 0.05),  # 03:30 CEST (after)
            (13, 1, t(2025, 5, 10, 8, 0), 0.05),  # 10:00 CEST
            (14, 1, t(2025, 6, 1, 0, 0), 0.05),  # at as_of: excluded
            (21, 2, t(2025, 5, 26, 14, 0), 0.01),  # 10:00 EDT
            (22, 2, t(2025, 6, 3, 14, 0), 0.01),  # after
            (51, 5, t(2025, 2, 1, 9, 0), 0.06),
            (61, 6, t(2025, 4, 1, 12, 0), 0.05),
            (81, 8, t(2025, 5, 1, 10, 0), 0.05),  # 15:45 in Kathmandu
        ],
        schema={
            "message_id": pl.Int64,
            "contact_id": pl.Int64,
            "sent_at": pl.Datetime("us", "UTC"),
            "cost": pl.Float64,
        },
        orient="row",
    )
    receipts = pl.DataFrame(
        [
            (11, t(2025, 3, 30, 0, 31), "delivered"),
            (12, t(2025, 3, 30, 1, 31), "failed"),
            (13, t(2025, 5, 10, 8, 0), "sent"),
            (13, t(2025, 5, 10, 8, 1), "delivered"),
            (14, t(2025, 6, 1, 0, 1), "delivered"),
            (21, t(2025, 5, 31, 23, 59), "delivered"),
            (22, t(2025, 6, 3, 14, 1), "delivered"),
            (51, t(2025, 6, 1, 0, 0), "delivered"),  # report arrives at as_of: not yet delivered
            (61, t(2025, 4, 1, 12, 1), "delivered"),
            (81, t(2025, 5, 1, 10, 1), "delivered"),
        ],
        schema={"message_id": pl.Int64, "status_at": pl.Datetime("us", "UTC"), "status": pl.String},
        orient="row",
    )
    clicks = pl.DataFrame(
        [
            (11, 1, t(2025, 3, 30, 0, 31), True),  # link preview: not a person
            (13, 1, t(2025, 5, 10, 8, 2), True),
            (13, 1, t(2025, 5, 10, 9, 0), False),
            (13, 1, t(2025, 5, 10, 9, 5), False),  # second click on the same message
            (14, 1, t(2025, 6, 1, 0, 5), False),  # after
            (21, 2, t(2025, 5, 28, 18, 0), False),
            (51, 5, t(2025, 6, 2, 9, 0), False),  # late click, after as_of
            (61, 6, t(2025, 4, 1, 13, 0), False),
            (81, 8, t(2025, 5, 1, 10, 30), False),
        ],
        schema={
            "message_id": pl.Int64,
            "contact_id": pl.Int64,
            "clicked_at": pl.Datetime("us", "UTC"),
            "is_bot": pl.Boolean,
        },
        orient="row",
    )
    inbound = pl.DataFrame(
        [
            (7, t(2025, 4, 1, 10), "STOP"),
            (8, t(2025, 2, 1, 10), "STOP"),
            (8, t(2025, 3, 1, 10), "START"),
            (8, t(2025, 3, 2, 10), None),
            (5, t(2025, 6, 15, 10), "STOP"),  # after
        ],
        schema={
            "contact_id": pl.Int64,
            "received_at": pl.Datetime("us", "UTC"),
            "keyword": pl.String,
        },
        orient="row",
    )
    orders = pl.DataFrame(
        [
            ("o11", 1, t(2024, 3, 1, 10), 30.0),
            ("o12", 1, t(2024, 3, 1, 18), 20.0),  # same day: one purchase day
            ("o13", 1, t(2025, 5, 20, 12), 50.0),
            ("o14", 1, t(2025, 6, 2, 12), 999.0),  # after
            ("o31", 3, t(2024, 12, 1, 12), 40.0),
            ("o51", 5, t(2025, 1, 15, 12), 200.0),
            ("o61", 6, t(2024, 6, 1, 12), 15.0),
            ("o91", 9, t(2025, 6, 1, 0), 10.0),  # exactly at as_of: excluded
        ],
        schema={
            "order_id": pl.String,
            "contact_id": pl.Int64,
            "ordered_at": pl.Datetime("us", "UTC"),
            "amount": pl.Float64,
        },
        orient="row",
    )
    return {
        "contacts": contacts,
        "messages": messages,
        "receipts": receipts,
        "clicks": clicks,
        "inbound": inbound,
        "orders": orders,
    }


_EVENT_TIME = {
    "messages": "sent_at",
    "receipts": "status_at",
    "clicks": "clicked_at",
    "inbound": "received_at",
    "orders": "ordered_at",
}


def truncate_frames(frames: dict[str, pl.DataFrame], as_of: dt.datetime) -> dict[str, pl.DataFrame]:
    """The programme as known at ``as_of``: later events, signups and consent changes removed."""
    out = {}
    for name, frame in frames.items():
        if name == "contacts":
            frame = frame.filter(
                pl.col("signup_at").is_null() | (pl.col("signup_at") < as_of)
            ).with_columns(
                *[
                    pl.when(pl.col(c) < as_of).then(pl.col(c)).otherwise(None).alias(c)
                    for c in ("consent_at", "opted_out_at")
                ]
            )
        elif name in _EVENT_TIME:
            frame = frame.filter(pl.col(_EVENT_TIME[name]) < as_of)
        out[name] = frame
    return out


def load_frames(wh: Warehouse, frames: dict[str, pl.DataFrame]) -> Warehouse:
    for name in LOAD_ORDER:
        if name in frames:
            wh.load(name, frames[name], source=f"test:{name}")
    return wh


@pytest.fixture
def programme() -> dict[str, pl.DataFrame]:
    return programme_frames()


@pytest.fixture
def wh(programme):
    with Warehouse(":memory:") as w:
        yield load_frames(w, programme)
