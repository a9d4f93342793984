"""DuckDB-specific relations (smsanalytics/sql/duckdb/) give exactly the portable results."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import AS_OF, load_frames, t
from polars.testing import assert_frame_equal

from smsanalytics.features import (
    FEATURE_RELATION,
    FEATURE_STAGES,
    compile_relation,
    dialect_overrides,
    query_relation,
)
from smsanalytics.warehouse import Warehouse

OVERRIDES = sorted(dialect_overrides("duckdb"))


def _key(frame: pl.DataFrame) -> list[str]:
    return [c for c in ("contact_id", "message_id", "local_hour") if c in frame.columns]


def test_overrides_exist_and_portable_sql_has_no_duckdb_only_functions():
    assert "agg_contact_messages" in OVERRIDES
    portable = compile_relation(FEATURE_RELATION, dialect="portable").lower()
    for duckdb_only in ("bitstring_agg", "get_bit", "list(", "struct_pack", "qualify", "::"):
        assert duckdb_only not in portable
    assert "get_bit" in compile_relation(FEATURE_RELATION, dialect="duckdb")


@pytest.mark.parametrize("rel", OVERRIDES)
@pytest.mark.parametrize("as_of", [AS_OF, t(2025, 5, 10, 9, 1), t(2024, 1, 1)])
def test_same_result_on_the_hand_made_programme(wh, rel, as_of):
    duck = query_relation(wh, rel, dialect="duckdb", as_of=as_of)
    portable = query_relation(wh, rel, dialect="portable", as_of=as_of)
    assert_frame_equal(duck.sort(_key(duck)), portable.sort(_key(portable)))


def test_same_features_on_generated_data():
    synth = pytest.importorskip("smsanalytics.synth")
    programme = synth.generate_programme(800, months=4, seed=5)
    with Warehouse(":memory:") as wh:
        load_frames(wh, programme.tables())
        for as_of in (programme.as_of, dt.datetime(2026, 8, 20, 6, tzinfo=dt.UTC)):
            duck = query_relation(
                wh, FEATURE_RELATION, stage=FEATURE_STAGES, dialect="duckdb", as_of=as_of
            )
            portable = query_relation(wh, FEATURE_RELATION, dialect="portable", as_of=as_of)
            assert_frame_equal(duck.sort("contact_id"), portable.sort("contact_id"))


def test_receipts_and_clicks_outside_the_message_range_are_ignored(programme):
    """Orphan events (no such message) must not break the bitmap (its range is the messages')."""
    frames = dict(programme)
    frames["receipts"] = pl.concat(
        [
            programme["receipts"],
            pl.DataFrame(
                [(999_999, t(2025, 5, 1), "delivered"), (0, t(2025, 5, 1), "delivered")],
                schema=programme["receipts"].schema,
                orient="row",
            ),
        ]
    )
    frames["clicks"] = pl.concat(
        [
            programme["clicks"],
            pl.DataFrame(
                [(999_999, 1, t(2025, 5, 1), False)],
                schema=programme["clicks"].schema,
                orient="row",
            ),
        ]
    )
    with Warehouse(":memory:") as wh:
        load_frames(wh, frames)
        duck = query_relation(
            wh, FEATURE_RELATION, stage=FEATURE_STAGES, dialect="duckdb", as_of=AS_OF
        )
        portable = query_relation(wh, FEATURE_RELATION, dialect="portable", as_of=AS_OF)
    assert_frame_equal(duck.sort("contact_id"), portable.sort("contact_id"))


def test_messages_in_blocks_without_deliveries(programme):
    """Message ids 70,000 apart put every message in its own bitmap block of 65,536 ids: blocks
    whose message was never delivered (and the empty blocks between) must still count the
    message as sent, as the portable version does (delivered_blocks has every block)."""
    spread = {"messages", "receipts", "clicks"}
    frames = {
        name: frame.with_columns(pl.col("message_id") * 70_000) if name in spread else frame
        for name, frame in programme.items()
    }
    with Warehouse(":memory:") as wh:
        load_frames(wh, frames)
        for rel in ("agg_contact_messages", FEATURE_RELATION):
            stage = FEATURE_STAGES if rel == FEATURE_RELATION else ()
            duck = query_relation(wh, rel, stage=stage, dialect="duckdb", as_of=AS_OF)
            portable = query_relation(wh, rel, dialect="portable", as_of=AS_OF)
            assert_frame_equal(duck.sort("contact_id"), portable.sort("contact_id"))
        undelivered = wh.sql(
            "SELECT count(*) AS n FROM messages AS m WHERE m.sent_at < $as_of AND NOT EXISTS ("
            "SELECT 1 FROM receipts AS r WHERE r.message_id = m.message_id "
            "AND r.status = 'delivered' AND r.status_at < $as_of)",
            as_of=AS_OF,
        )["n"][0]
    assert undelivered > 0  # the case is present
    assert (duck["n_sent"] > duck["n_delivered"]).any()


def test_orders_days_at_the_edges(programme):
    """agg_contact_orders counts UTC days from epoch microseconds in the DuckDB version: the days
    must match CAST(… AS DATE) at midnight, one microsecond before it, before 1970 (floor, not
    truncation) and with several orders on one day (one purchase day)."""
    rows = [
        ("e1", 1, t(2025, 5, 20, 0), 1.0),  # midnight opens the day
        ("e2", 1, dt.datetime(2025, 5, 19, 23, 59, 59, 999_999, tzinfo=dt.UTC), 2.0),
        ("e3", 1, t(2025, 5, 20, 23), 3.0),  # same day as e1
        ("e4", 3, t(1969, 12, 31, 12), 4.0),  # before the epoch: day -1, not 0
        ("e5", 3, t(1969, 12, 30, 23), 5.0),
        ("e6", 3, t(1970, 1, 1, 0), 6.0),
        ("e7", 5, t(2025, 1, 15, 13), 7.0),  # second order on o51's day: still one day
    ]
    frames = dict(programme)
    frames["orders"] = pl.concat(
        [programme["orders"], pl.DataFrame(rows, schema=programme["orders"].schema, orient="row")]
    )
    with Warehouse(":memory:") as wh:
        load_frames(wh, frames)
        duck = query_relation(wh, "agg_contact_orders", dialect="duckdb", as_of=AS_OF)
        portable = query_relation(wh, "agg_contact_orders", dialect="portable", as_of=AS_OF)
    assert_frame_equal(duck.sort("contact_id"), portable.sort("contact_id"))
    c3 = duck.filter(pl.col("contact_id") == 3).row(0, named=True)
    assert c3["first_purchase_date"] == dt.date(1969, 12, 30)
    assert c3["n_purchase_days"] == 4  # 1969-12-30, 1969-12-31, 1970-01-01 and o31's day
    c5 = duck.filter(pl.col("contact_id") == 5).row(0, named=True)
    assert (c5["n_orders"], c5["n_purchase_days"]) == (2, 1)
