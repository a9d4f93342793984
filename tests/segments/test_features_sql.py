"""contact_features on the hand-made programme: every value worked out by hand (see conftest)."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from conftest import AS_OF, load_frames, t

from smsanalytics.features import (
    compile_relation,
    contact_features,
    normalize_as_of,
    order_summary,
    query_relation,
    send_hour_engagement,
    zone_tables,
)
from smsanalytics.warehouse import Warehouse, WarehouseError


@pytest.fixture
def features(wh):
    return contact_features(wh, as_of=AS_OF)


def row(features: pl.DataFrame, contact_id: int) -> dict:
    return features.filter(pl.col("contact_id") == contact_id).row(0, named=True)


def test_one_row_per_contact_known_at_as_of_and_no_phone_number(features):
    assert features["contact_id"].to_list() == [1, 2, 3, 5, 6, 7, 8, 9]  # 4 signs up later
    assert not any("phone" in c for c in features.columns)


def test_orders_rfm_and_bgnbd_inputs_by_hand(features):
    c1 = row(features, 1)
    # orders 2024-03-01 (two, same day), 2025-05-20; the 2025-06-02 order is after as_of
    assert (c1["n_orders"], c1["monetary_total"], c1["n_purchase_days"]) == (3, 100.0, 2)
    assert c1["monetary_mean"] == pytest.approx(100 / 3)
    assert c1["last_order_at"] == t(2025, 5, 20, 12)
    assert c1["recency_days"] == 12  # 2025-05-20 -> 2025-06-01
    assert c1["gap_before_last_purchase_days"] == 445  # 2024-03-01 -> 2025-05-20
    # lifetimes convention: repeat purchase days, first->last day, first day->as_of date
    assert (c1["bgnbd_frequency"], c1["bgnbd_recency_days"], c1["bgnbd_t_days"]) == (1, 445, 457)
    c9 = row(features, 9)  # its only order is exactly at as_of: excluded
    assert (c9["n_orders"], c9["monetary_total"], c9["recency_days"], c9["bgnbd_t_days"]) == (
        0,
        0.0,
        None,
        None,
    )


def test_engagement_counts_exclude_bots_and_late_events(features):
    c1 = row(features, 1)
    assert (c1["n_sent"], c1["n_delivered"]) == (3, 2)  # message 14 is at as_of; 12 failed
    assert (c1["n_clicks"], c1["n_clicked_messages"]) == (2, 1)  # bot clicks left out
    assert c1["click_rate"] == pytest.approx(1 / 3)
    assert c1["last_click_at"] == t(2025, 5, 10, 9, 5)
    assert (c1["days_since_last_click"], c1["days_since_last_sent"]) == (22, 22)
    assert c1["sms_cost"] == pytest.approx(0.15)
    c5 = row(features, 5)  # delivery report at as_of and click after it do not count yet
    assert (c5["n_delivered"], c5["n_clicks"], c5["click_rate"]) == (0, 0, 0.0)
    c3 = row(features, 3)  # never messaged: rates are missing, counts are zero
    assert (c3["n_sent"], c3["click_rate"], c3["delivery_rate"]) == (0, None, None)


def test_consent_and_opt_out_state_at_as_of(features):
    state = {
        r["contact_id"]: (r["is_consented"], r["is_opted_out"])
        for r in features.iter_rows(named=True)
    }
    assert state[3] == (False, True)  # opted out before as_of
    assert state[5] == (True, False)  # opts out after as_of
    assert state[7] == (False, True)  # STOP reply, no opted_out_at
    assert state[8] == (True, False)  # STOP then START
    assert state[6] == (False, False)  # never consented
    assert row(features, 5)["opted_out_at"] is None


def test_tenure_and_birthday(features):
    assert row(features, 1)["tenure_days"] == 508
    assert row(features, 9)["tenure_days"] is None
    assert row(features, 1)["days_to_birthday"] == 4  # 5 June
    assert row(features, 2)["days_to_birthday"] == 272  # 29 Feb -> 28 Feb 2026


@pytest.mark.parametrize(
    ("as_of", "contact_id", "expected"),
    [
        (dt.date(2025, 6, 5), 1, 0),  # birthday today
        (dt.date(2025, 6, 6), 1, 364),  # just passed: 2026-06-05
        (dt.date(2027, 12, 31), 2, 60),  # 29 February 2028 exists (leap year)
        (dt.date(2027, 3, 1), 2, 365),  # 28 February 2027 just passed: 29 February 2028
    ],
)
def test_days_to_birthday_edges(wh, as_of, contact_id, expected):
    f = contact_features(wh, as_of=as_of)
    assert row(f, contact_id)["days_to_birthday"] == expected


def test_local_send_hours_follow_dst_and_quarter_hour_zones(wh):
    hours = send_hour_engagement(wh, as_of=AS_OF)
    got = {
        (r["contact_id"], r["local_hour"]): (r["sends"], r["clicked_messages"])
        for r in hours.iter_rows(named=True)
    }
    assert got == {
        (1, 1): (1, 0),  # 00:30 UTC = 01:30 CET, before the 2025-03-30 change
        (1, 3): (1, 0),  # 01:30 UTC = 03:30 CEST, after
        (1, 10): (1, 1),  # 08:00 UTC = 10:00 CEST; clicked by a person
        (2, 10): (1, 1),  # 14:00 UTC = 10:00 EDT
        (5, 10): (1, 0),  # 09:00 UTC = 10:00 CET; its click came after as_of
        (8, 15): (1, 1),  # 10:00 UTC = 15:45 in Kathmandu (UTC+05:45)
    }  # contact 6 has no time zone: no local hour


def test_best_local_hour(features):
    assert row(features, 1)["best_local_hour"] == 10
    assert row(features, 1)["best_local_hour_click_rate"] == 1.0
    assert row(features, 6)["best_local_hour"] is None


def test_best_local_hour_of_week(features):
    """0 = Monday 00:00 local (the convention of sendtime_send_hours); dates checked by hand."""
    assert row(features, 1)["best_local_hour_of_week"] == 5 * 24 + 10  # Sat 10 May, 10:00 CEST
    assert row(features, 2)["best_local_hour_of_week"] == 0 * 24 + 10  # Mon 26 May, 10:00 EDT
    assert row(features, 8)["best_local_hour_of_week"] == 3 * 24 + 15  # Thu 1 May, 15:45 NPT
    assert (
        row(features, 8)["best_local_hour_of_week_sends"],
        row(features, 8)["best_local_hour_of_week_click_rate"],
    ) == (1, 1.0)
    assert row(features, 6)["best_local_hour_of_week"] is None  # no time zone


@pytest.mark.parametrize("dialect", ["duckdb", "portable"])
def test_best_hour_of_day_and_of_week_differ_and_break_ties(programme, dialect):
    """Contact 8 (Kathmandu, UTC+05:45), sends worked out by hand (1 May 2025 was a Thursday):

    ====  =====================  ===========  =======
    id    UTC                    local        clicked
    ====  =====================  ===========  =======
    81    Thu 1 May 10:00        Thu 15:45    yes
    82    Thu 8 May 10:00        Thu 15:45    no
    83    Fri 9 May 10:00        Fri 15:45    yes
    84    Fri 16 May 10:00       Fri 15:45    yes
    85    Thu 15 May 02:15       Thu 08:00    yes
    ====  =====================  ===========  =======

    Hour of day: 15 h has 3 clicked of 4 (0.75), 8 h 1 of 1 (1.0): best 8. Hour of week: Thu 15 h
    1 of 2, Fri 15 h 2 of 2, Thu 8 h 1 of 1: Fri 15 h and Thu 8 h tie at 1.0, and the one with
    more clicked messages wins: Fri 15 h = 4 * 24 + 15.
    """
    extra = [(82, t(2025, 5, 8, 10)), (83, t(2025, 5, 9, 10)), (84, t(2025, 5, 16, 10))]
    extra.append((85, t(2025, 5, 15, 2, 15)))
    programme["messages"] = pl.concat(
        [
            programme["messages"],
            pl.DataFrame(
                [(i, 8, at, 0.05) for i, at in extra],
                schema=programme["messages"].schema,
                orient="row",
            ),
        ]
    )
    programme["clicks"] = pl.concat(
        [
            programme["clicks"],
            pl.DataFrame(
                [(i, 8, at + dt.timedelta(minutes=5), False) for i, at in extra if i != 82],
                schema=programme["clicks"].schema,
                orient="row",
            ),
        ]
    )
    with Warehouse(":memory:") as w:
        load_frames(w, programme)
        f = query_relation(w, "fct_contact_features", dialect=dialect, as_of=AS_OF)
    c8 = row(f, 8)
    assert (
        c8["best_local_hour"],
        c8["best_local_hour_sends"],
        c8["best_local_hour_click_rate"],
    ) == (8, 1, 1.0)
    assert (
        c8["best_local_hour_of_week"],
        c8["best_local_hour_of_week_sends"],
        c8["best_local_hour_of_week_click_rate"],
    ) == (4 * 24 + 15, 2, 1.0)


def test_packed_day_counters_refuse_to_overflow(programme):
    """The DuckDB dialect packs the sends of each day of the week in 18-bit fields: a contact with
    2^18 sends in one local hour of day gets an error naming the way out, not a wrong count."""
    n = 2**18
    with Warehouse(":memory:") as w:
        load_frames(w, programme)
        w.con.execute(
            "INSERT INTO messages (message_id, contact_id, sent_at, cost) "
            "SELECT 1000 + i, 1, TIMESTAMPTZ '2025-05-05 08:00:00+00' + i * INTERVAL 1 MICROSECOND,"
            " 0.0 FROM range($n) AS r(i)",
            {"n": n},
        ).fetchall()
        with pytest.raises(Exception, match="262,144 sends or more"):
            contact_features(w, as_of=AS_OF)
        # the portable SQL has no such limit: Mon 10:00 CEST holds the n sends, none clicked
        f = query_relation(w, "fct_contact_features", dialect="portable", as_of=AS_OF)
    assert row(f, 1)["n_sent"] == n + 3


def test_zone_tables_match_zoneinfo_hour_by_hour():
    import zoneinfo

    start, end = t(2024, 10, 26), t(2024, 11, 4)  # both the EU and the US autumn changes
    ids, offsets = zone_tables(
        ["Europe/Paris", "America/New_York", "Not/AZone", None], start=start, end=end
    )
    assert ids["timezone"].to_list() == ["America/New_York", "Europe/Paris"]
    assert offsets.height == 2 * 9 * 96
    for zone_id, zone in ids.iter_rows():
        z = offsets.filter(pl.col("zone_id") == zone_id)
        for bucket, hour, dow in z.select("bucket", "local_hour", "local_dow").iter_rows():
            local = dt.datetime.fromtimestamp(bucket * 900, dt.UTC).astimezone(
                zoneinfo.ZoneInfo(zone)
            )
            assert (hour, dow) == (local.hour, local.isoweekday())


def test_zone_tables_refuse_offsets_off_the_quarter_hour():
    """Reference: zoneinfo — St John's kept local mean time, UTC−03:30:52, until 1935; Kathmandu's
    +05:45 is a whole number of quarter hours and is tabulated."""
    with pytest.raises(ValueError, match="not a multiple of 15 minutes"):
        zone_tables(["America/St_Johns"], start=t(1890, 1, 1), end=t(1890, 1, 2))
    _, offsets = zone_tables(["Asia/Kathmandu"], start=t(2024, 1, 1), end=t(2024, 1, 2))
    assert offsets["utc_offset_minutes"].unique().to_list() == [345]


def test_order_summary_is_the_orders_part(wh):
    s = order_summary(wh, as_of=AS_OF)
    assert s["contact_id"].to_list() == [1, 3, 5, 6]
    assert s.filter(pl.col("contact_id") == 1)["bgnbd_t_days"].item() == 457


def test_compiled_sql_is_one_statement_with_named_parameters_only():
    sql = compile_relation("fct_contact_features")
    assert sql.lstrip().upper().startswith("WITH ")
    assert set(re.findall(r"\$([a-z_]+)", sql)) == {"as_of"}
    for rel in (
        "stg_contacts_asof",
        "fct_contact_orders",
        "stg_message_local_time",
        "stg_contact_zones",
    ):
        assert f"{rel} AS (" in sql
    assert "phone_e164" not in sql
    assert "AT TIME ZONE" not in sql.upper()  # local time comes from the integer-keyed offset table


def test_compile_unknown_relation_names_the_available_ones():
    with pytest.raises(WarehouseError, match="fct_contact_features"):
        compile_relation("fct_nope")


def test_as_of_forms():
    assert normalize_as_of("2025-06-01") == AS_OF
    assert normalize_as_of(dt.date(2025, 6, 1)) == AS_OF
    assert (
        normalize_as_of(dt.datetime(2025, 6, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2))))
        == AS_OF
    )
    with pytest.raises(ValueError, match="ISO date"):
        normalize_as_of("June 1st")


def test_empty_warehouse_gives_empty_typed_frame():
    with Warehouse(":memory:") as w:
        f = contact_features(w, as_of=AS_OF)
    assert f.height == 0 and f.schema["n_orders"] == pl.Int64
