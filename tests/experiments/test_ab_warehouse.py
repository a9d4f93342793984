"""sql/ab_arm_stats.sql: hand-computed golden values and an independent polars reference."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import numpy as np
import polars as pl
import pytest

from smsanalytics import schemas
from smsanalytics.experiments import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    arm_stats_frame,
    arm_stats_from_warehouse,
    configured_weights,
    readout,
)
from smsanalytics.experiments.warehouse_stats import load_sql

UTC = dt.UTC
T0 = dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def at(days: float = 0.0, hours: float = 0.0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, hours=hours)


def new_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for t in schemas.CANONICAL_TABLES:
        con.sql(schemas.create_table_sql(t))
    return con


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    schema = schemas.table(table).polars_schema
    frame = pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)
    con.register("_rows", frame)
    con.sql(
        f"INSERT INTO {table} SELECT * FROM _rows"
    )  # test fixture only; package SQL has no f-strings
    con.unregister("_rows")


@pytest.fixture()
def golden_con() -> duckdb.DuckDBPyConnection:
    """Eight contacts of campaign c1 assigned at T0: 1-3 control (holdout), 4-6 A, 7-8 B."""
    con = new_connection()
    insert(con, "campaigns", [{"campaign_id": "c1", "holdout_share": 0.2}, {"campaign_id": "c0"}])
    arms = {1: "control", 2: "control", 3: "control", 4: "A", 5: "A", 6: "A", 7: "B", 8: "B"}
    insert(
        con,
        "assignments",
        [
            {
                "campaign_id": "c1",
                "contact_id": c,
                "variant": v,
                "is_holdout": v == "control",
                "assigned_at": T0,
            }
            for c, v in arms.items()
        ],
    )
    msgs = [
        {
            "message_id": 100 + c,
            "campaign_id": "c1",
            "contact_id": c,
            "variant": v,
            "sent_at": at(hours=0.1),
        }
        for c, v in arms.items()
        if v != "control"
    ]
    msgs.append(
        {
            "message_id": 201,
            "campaign_id": "c0",
            "contact_id": 4,
            "variant": "default",
            "sent_at": at(-10),
        }
    )
    msgs.append(
        {
            "message_id": 205,
            "campaign_id": "c0",
            "contact_id": 5,
            "variant": "default",
            "sent_at": at(-10),
        }
    )
    insert(con, "messages", msgs)
    insert(
        con,
        "receipts",
        [
            {"message_id": 104, "status_at": at(hours=0.2), "status": "delivered"},
            {"message_id": 105, "status_at": at(hours=0.2), "status": "delivered"},
            {"message_id": 106, "status_at": at(hours=0.2), "status": "failed"},
            {"message_id": 107, "status_at": at(hours=0.2), "status": "delivered"},
            {"message_id": 108, "status_at": at(hours=0.15), "status": "sent"},
            {"message_id": 108, "status_at": at(hours=0.2), "status": "delivered"},
            {"message_id": 201, "status_at": at(-10), "status": "delivered"},  # other campaign
        ],
    )
    insert(
        con,
        "clicks",
        [
            {"message_id": 104, "contact_id": 4, "clicked_at": at(hours=1), "is_bot": False},
            {
                "message_id": 105,
                "contact_id": 5,
                "clicked_at": at(hours=0.11),
                "is_bot": True,
            },  # link preview
            {
                "message_id": 107,
                "contact_id": 7,
                "clicked_at": at(9),
                "is_bot": False,
            },  # after the window
            {"message_id": 108, "contact_id": 8, "clicked_at": at(hours=2), "is_bot": False},
            {
                "message_id": 108,
                "contact_id": 8,
                "clicked_at": at(hours=3),
                "is_bot": False,
            },  # counted once
            {
                "message_id": 201,
                "contact_id": 4,
                "clicked_at": at(-10, 1),
                "is_bot": False,
            },  # pre-period
            {
                "message_id": 205,
                "contact_id": 5,
                "clicked_at": at(-10, 1),
                "is_bot": True,
            },  # pre, bot
        ],
    )
    insert(
        con,
        "orders",
        [
            {"order_id": "o1", "contact_id": 1, "ordered_at": at(2), "amount": 10.0},
            {"order_id": "o2", "contact_id": 2, "ordered_at": at(-15), "amount": 50.0},  # pre
            {"order_id": "o3", "contact_id": 4, "ordered_at": at(1), "amount": 20.0},
            {"order_id": "o4", "contact_id": 4, "ordered_at": at(3), "amount": 5.0},
            {"order_id": "o5", "contact_id": 4, "ordered_at": at(-20), "amount": 30.0},  # pre
            {
                "order_id": "o6",
                "contact_id": 5,
                "ordered_at": at(8),
                "amount": 100.0,
            },  # after the window
            {"order_id": "o7", "contact_id": 7, "ordered_at": at(hours=-1), "amount": 15.0},  # pre
            {"order_id": "o8", "contact_id": 8, "ordered_at": at(6, 2), "amount": 40.0},
            {
                "order_id": "o9",
                "contact_id": 3,
                "ordered_at": at(-45),
                "amount": 70.0,
            },  # before the pre-period
        ],
    )
    insert(
        con,
        "inbound",
        [
            {"contact_id": 6, "received_at": at(1), "keyword": "STOP"},
            {"contact_id": 5, "received_at": at(1), "keyword": "HELP"},
            {"contact_id": 8, "received_at": at(-29), "keyword": "STOP"},  # before the campaign
        ],
    )
    return con


EXPECTED = {
    # variant: (is_holdout, n, delivered, clicked, conversions, revenue_sum, revenue_sumsq, optouts,
    #           pre_orders_sum, pre_revenue_sum, pre_revenue_sumsq, pre_clicks_sum,
    #           conversions_x_pre_orders, revenue_x_pre_revenue, clicked_x_pre_clicks)
    "control": (True, 3, 0, 0, 1, 10.0, 100.0, 0, 1.0, 50.0, 2500.0, 0.0, 0.0, 0.0, 0.0),
    "A": (False, 3, 2, 1, 1, 25.0, 625.0, 1, 1.0, 30.0, 900.0, 1.0, 1.0, 750.0, 1.0),
    "B": (False, 2, 2, 1, 1, 40.0, 1600.0, 0, 1.0, 15.0, 225.0, 0.0, 0.0, 0.0, 0.0),
}
COLUMNS = [
    "is_holdout",
    "n",
    "delivered",
    "clicked",
    "conversions",
    "revenue_sum",
    "revenue_sumsq",
    "optouts",
    "pre_orders_sum",
    "pre_revenue_sum",
    "pre_revenue_sumsq",
    "pre_clicks_sum",
    "conversions_x_pre_orders",
    "revenue_x_pre_revenue",
    "clicked_x_pre_clicks",
]


def test_arm_stats_equal_hand_computed_values(golden_con: duckdb.DuckDBPyConnection) -> None:
    frame = arm_stats_frame(golden_con, "c1", attribution_days=7, pre_period_days=30)
    assert frame["variant"].to_list() == ["control", "A", "B"]
    for row in frame.iter_rows(named=True):
        assert tuple(row[c] for c in COLUMNS) == EXPECTED[row["variant"]], row["variant"]


def test_windows_are_parameters(golden_con: duckdb.DuckDBPyConnection) -> None:
    wide = arm_stats_frame(golden_con, "c1", attribution_days=10, pre_period_days=60)
    a = wide.filter(pl.col("variant") == "A").row(0, named=True)
    assert a["conversions"] == 2 and a["revenue_sum"] == 125.0  # contact 5's order on day 8
    b = wide.filter(pl.col("variant") == "B").row(0, named=True)
    assert b["clicked"] == 2  # contact 7's day-9 click on the campaign message now counts too
    control = wide.filter(pl.col("variant") == "control").row(0, named=True)
    assert control["pre_orders_sum"] == 2.0  # contact 3's order 45 days before


def test_statistics_for_each_metric(golden_con: duckdb.DuckDBPyConnection) -> None:
    conv = arm_stats_from_warehouse(golden_con, "c1")
    assert isinstance(conv["A"], RegressionAdjustedStatistic)
    assert conv["A"].post == ProportionStatistic(3, 1) and conv["A"].pre.sum == 1.0
    rev = arm_stats_from_warehouse(golden_con, "c1", metric="revenue", covariate=None)
    assert rev["B"] == SampleMeanStatistic(2, 40.0, 1600.0)
    clicks = arm_stats_from_warehouse(golden_con, "c1", metric="click")
    assert clicks["A"].post_pre_sum_of_products == 1.0  # type: ignore[union-attr]
    assert arm_stats_from_warehouse(golden_con, "c1", metric="delivery", covariate=None)[
        "B"
    ] == ProportionStatistic(2, 2)
    with pytest.raises(ValueError, match="metric must be one of"):
        arm_stats_from_warehouse(golden_con, "c1", metric="sales")  # type: ignore[arg-type]


def test_configured_weights_from_holdout_share(golden_con: duckdb.DuckDBPyConnection) -> None:
    w = configured_weights(golden_con, "c1", ["control", "A", "B"])
    assert w == {"control": 0.2, "A": 0.4, "B": 0.4}
    assert configured_weights(golden_con, "c0", ["A", "B"]) is None


def test_accepts_an_object_with_a_con_attribute(golden_con: duckdb.DuckDBPyConnection) -> None:
    class FakeWarehouse:
        con = golden_con

    assert arm_stats_frame(FakeWarehouse(), "c1").height == 3
    with pytest.raises(TypeError, match="duckdb connection"):
        arm_stats_frame(object(), "c1")


def test_unknown_campaign_is_explained(golden_con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="no rows in `assignments` and no messages"):
        arm_stats_frame(golden_con, "nope")


def test_fallback_to_messages_when_a_campaign_has_no_assignments() -> None:
    con = new_connection()
    insert(
        con,
        "messages",
        [
            {"message_id": 1, "campaign_id": "m", "contact_id": 1, "variant": "A", "sent_at": at()},
            {
                "message_id": 2,
                "campaign_id": "m",
                "contact_id": 1,
                "variant": "A",
                "sent_at": at(1),
            },  # 2nd msg
            {"message_id": 3, "campaign_id": "m", "contact_id": 2, "variant": "B", "sent_at": at()},
            {
                "message_id": 4,
                "campaign_id": "m",
                "contact_id": 3,
                "variant": None,
                "sent_at": at(),
            },
        ],
    )
    insert(
        con,
        "orders",
        [
            {
                "order_id": "a",
                "contact_id": 1,
                "ordered_at": at(7, 1),
                "amount": 9.0,
            },  # 7d1h after FIRST send
            {"order_id": "b", "contact_id": 2, "ordered_at": at(2), "amount": 4.0},
        ],
    )
    frame = arm_stats_frame(con, "m")
    got = {
        r["variant"]: (r["n"], r["conversions"], r["is_holdout"])
        for r in frame.iter_rows(named=True)
    }
    assert got == {"A": (1, 0, False), "B": (1, 1, False), "default": (1, 0, False)}


def test_sql_binds_parameters_by_name_only() -> None:
    text = load_sql("ab_arm_stats")
    assert set(re.findall(r"\$(\w+)", text)) == {
        "campaign_id",
        "attribution_days",
        "pre_period_days",
    }
    assert "{" not in text  # no templating
    assert set(re.findall(r"\$(\w+)", load_sql("ab_campaign_config"))) == {"campaign_id"}


# ---------------------------------------------------------------------------------------------
# randomised data against an independent polars implementation of the same definitions


def random_programme(seed: int, n_contacts: int = 400) -> dict[str, list[dict]]:
    rng = np.random.default_rng(seed)
    rows: dict[str, list[dict]] = {
        k: [] for k in ("assignments", "messages", "receipts", "clicks", "orders", "inbound")
    }
    mid = 0
    for c in range(1, n_contacts + 1):
        variant = str(rng.choice(["control", "A", "B"], p=[0.2, 0.4, 0.4]))
        assigned = at(float(rng.uniform(0, 3)))
        rows["assignments"].append(
            {
                "campaign_id": "camp",
                "contact_id": c,
                "variant": variant,
                "is_holdout": variant == "control",
                "assigned_at": assigned,
            }
        )
        sends = [("camp", assigned + dt.timedelta(minutes=5))] if variant != "control" else []
        sends += [("old", at(float(rng.uniform(-40, -1))))] if rng.random() < 0.5 else []
        for campaign, sent in sends:
            mid += 1
            rows["messages"].append(
                {
                    "message_id": mid,
                    "campaign_id": campaign,
                    "contact_id": c,
                    "variant": variant,
                    "sent_at": sent,
                }
            )
            rows["receipts"].append(
                {
                    "message_id": mid,
                    "status_at": sent,
                    "status": str(rng.choice(["delivered", "failed", "sent"])),
                }
            )
            for _ in range(int(rng.poisson(0.8))):
                rows["clicks"].append(
                    {
                        "message_id": mid,
                        "contact_id": c,
                        "clicked_at": sent + dt.timedelta(days=float(rng.uniform(-1, 12))),
                        "is_bot": bool(rng.random() < 0.2),
                    }
                )
        for k in range(int(rng.poisson(1.5))):
            rows["orders"].append(
                {
                    "order_id": f"{c}-{k}",
                    "contact_id": c,
                    "ordered_at": at(float(rng.uniform(-45, 15))),
                    "amount": float(np.round(rng.gamma(2.0, 20.0), 2)),
                }
            )
        if rng.random() < 0.3:
            rows["inbound"].append(
                {
                    "contact_id": c,
                    "received_at": at(float(rng.uniform(-5, 12))),
                    "keyword": str(rng.choice(["STOP", "HELP", "stop"])),
                }
            )
    return rows


def polars_reference(
    rows: dict[str, list[dict]], attribution_days: int, pre_days: int
) -> pl.DataFrame:
    def frame(name: str) -> pl.DataFrame:
        schema = schemas.table(name).polars_schema
        return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows[name]], schema=schema)

    units = (
        frame("assignments")
        .filter(pl.col("campaign_id") == "camp")
        .select("contact_id", "variant", "is_holdout", pl.col("assigned_at").alias("anchor"))
    )
    win_end = pl.col("anchor") + pl.duration(days=attribution_days)
    pre_start = pl.col("anchor") - pl.duration(days=pre_days)
    msgs = frame("messages")
    camp_msgs = msgs.filter(pl.col("campaign_id") == "camp").select("message_id", "contact_id")
    delivered = (
        camp_msgs.join(frame("receipts").filter(pl.col("status") == "delivered"), on="message_id")
        .select("contact_id")
        .unique()
        .with_columns(pl.lit(1).alias("is_delivered"))
    )
    clicks = frame("clicks").filter(~pl.col("is_bot"))
    post_clicks = (
        units.join(camp_msgs, on="contact_id")
        .join(clicks.drop("contact_id"), on="message_id")
        .filter((pl.col("clicked_at") >= pl.col("anchor")) & (pl.col("clicked_at") < win_end))
        .select("contact_id")
        .unique()
        .with_columns(pl.lit(1).alias("is_clicked"))
    )
    orders = units.join(frame("orders"), on="contact_id")
    post = (
        orders.filter((pl.col("ordered_at") >= pl.col("anchor")) & (pl.col("ordered_at") < win_end))
        .group_by("contact_id")
        .agg(pl.col("amount").sum().alias("revenue"), pl.lit(1).alias("is_converted"))
    )
    pre = (
        orders.filter(
            (pl.col("ordered_at") >= pre_start) & (pl.col("ordered_at") < pl.col("anchor"))
        )
        .group_by("contact_id")
        .agg(
            pl.len().cast(pl.Float64).alias("pre_orders"),
            pl.col("amount").sum().alias("pre_revenue"),
        )
    )
    pre_clicks = (
        units.join(clicks, on="contact_id")
        .filter((pl.col("clicked_at") >= pre_start) & (pl.col("clicked_at") < pl.col("anchor")))
        .group_by("contact_id")
        .agg(pl.len().cast(pl.Float64).alias("pre_clicks"))
    )
    stops = (
        units.join(frame("inbound"), on="contact_id")
        .filter(
            (pl.col("keyword").str.to_uppercase() == "STOP")
            & (pl.col("received_at") >= pl.col("anchor"))
            & (pl.col("received_at") < win_end)
        )
        .select("contact_id")
        .unique()
        .with_columns(pl.lit(1).alias("is_opted_out"))
    )
    per = units
    for extra in (delivered, post_clicks, post, pre, pre_clicks, stops):
        per = per.join(extra, on="contact_id", how="left")
    per = per.with_columns(pl.exclude("contact_id", "variant", "is_holdout", "anchor").fill_null(0))
    return (
        per.group_by("variant")
        .agg(
            pl.len().alias("n"),
            pl.col("is_delivered").sum().alias("delivered"),
            pl.col("is_clicked").sum().alias("clicked"),
            pl.col("is_converted").sum().alias("conversions"),
            pl.col("revenue").sum().alias("revenue_sum"),
            (pl.col("revenue") ** 2).sum().alias("revenue_sumsq"),
            pl.col("is_opted_out").sum().alias("optouts"),
            pl.col("pre_orders").sum().alias("pre_orders_sum"),
            (pl.col("pre_revenue") ** 2).sum().alias("pre_revenue_sumsq"),
            (pl.col("pre_clicks") ** 2).sum().alias("pre_clicks_sumsq"),
            (pl.col("is_converted") * pl.col("pre_orders")).sum().alias("conversions_x_pre_orders"),
            (pl.col("revenue") * pl.col("pre_revenue")).sum().alias("revenue_x_pre_revenue"),
            (pl.col("is_clicked") * pl.col("pre_clicks")).sum().alias("clicked_x_pre_clicks"),
            (pl.col("is_opted_out") * pl.col("pre_clicks")).sum().alias("optouts_x_pre_clicks"),
        )
        .sort("variant")
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_sql_equals_independent_polars_reference_on_random_data(seed: int) -> None:
    rows = random_programme(seed)
    con = new_connection()
    for table, data in rows.items():
        insert(con, table, data)
    got = arm_stats_frame(con, "camp", attribution_days=5, pre_period_days=20).sort("variant")
    ref = polars_reference(rows, 5, 20)
    assert got["variant"].to_list() == ref["variant"].to_list()
    for col in ref.columns[1:]:
        np.testing.assert_allclose(
            got[col].to_numpy().astype(float),
            ref[col].to_numpy().astype(float),
            rtol=1e-12,
            err_msg=col,
        )
    # and it reads out end to end, with the configured split of the control
    r = readout(
        arm_stats_from_warehouse(con, "camp", attribution_days=5, pre_period_days=20),
        control="control",
        weights={"control": 0.2, "A": 0.4, "B": 0.4},
    )
    assert r.cuped and len(r.arms) == 2


def test_windows_are_24_hour_days_whatever_the_session_time_zone() -> None:
    """Paris moves to summer time on 2024-03-31: 7 calendar days after 2024-03-25 12:00 UTC in
    Europe/Paris end at 10:00 UTC, 7 x 24 hours end at 12:00 UTC. An order at 11:30 UTC must count
    in every session time zone."""
    anchor = dt.datetime(2024, 3, 25, 12, 0, tzinfo=UTC)
    results = []
    for zone in ("UTC", "Europe/Paris", "America/New_York"):
        con = new_connection()
        con.execute(f"SET TimeZone = '{zone}'")
        insert(
            con,
            "assignments",
            [
                {
                    "campaign_id": "dst",
                    "contact_id": 1,
                    "variant": "A",
                    "is_holdout": False,
                    "assigned_at": anchor,
                },
                {
                    "campaign_id": "dst",
                    "contact_id": 2,
                    "variant": "B",
                    "is_holdout": False,
                    "assigned_at": anchor,
                },
            ],
        )
        insert(
            con,
            "orders",
            [
                {
                    "order_id": "x",
                    "contact_id": 1,
                    "ordered_at": anchor + dt.timedelta(days=7, minutes=-30),
                    "amount": 1.0,
                },
            ],
        )
        results.append(arm_stats_frame(con, "dst")["conversions"].to_list())
    assert results == [[1, 0]] * 3
