"""Offset tables give the local times zoneinfo gives, DST gaps and folds resolved explicitly."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsanalytics.sendtime.timezones import (
    DAY_US,
    ZoneError,
    ZoneOffsets,
    hour_of_week,
    local_hour_of_week,
)

UTC = dt.UTC
ZONES = (
    "Europe/Paris",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/Phoenix",
    "Pacific/Chatham",
    "Europe/London",
)
TABLE = ZoneOffsets(ZONES, dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC))
EPOCH = dt.datetime(1970, 1, 1)


def _us(d: dt.datetime) -> int:
    return (d - EPOCH) // dt.timedelta(microseconds=1)


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.integers(
        int(dt.datetime(2025, 1, 3, tzinfo=UTC).timestamp()),
        int(dt.datetime(2026, 12, 29, tzinfo=UTC).timestamp()),
    ),
    zone=st.sampled_from(ZONES),
)
def test_local_time_matches_zoneinfo(seconds: int, zone: str) -> None:
    code = TABLE.code(zone)
    got = TABLE.local_us(np.array([code]), np.array([seconds * 1_000_000]))[0]
    ref = dt.datetime.fromtimestamp(seconds, zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)
    assert got == _us(ref)
    how = hour_of_week(np.array([got]))[0]
    assert how == ref.weekday() * 24 + ref.hour


def test_paris_spring_forward_boundary_is_exact() -> None:
    c = np.array([TABLE.code("Europe/Paris")] * 2)
    t = np.array([_us(dt.datetime(2026, 3, 29, 0, 59, 59)), _us(dt.datetime(2026, 3, 29, 1, 0, 0))])
    local = TABLE.local_us(c, t)
    assert [EPOCH + dt.timedelta(microseconds=int(x)) for x in local] == [
        dt.datetime(2026, 3, 29, 1, 59, 59),
        dt.datetime(2026, 3, 29, 3, 0, 0),
    ]


def test_gap_and_fold_are_resolved_as_asked() -> None:
    c = np.array([TABLE.code("Europe/Paris")])
    gap = np.array([_us(dt.datetime(2026, 3, 29, 2, 30))])
    with pytest.raises(ZoneError, match="does not exist"):
        TABLE.to_utc(c, gap)
    assert TABLE.to_utc(c, gap, nonexistent="null")[0] == np.iinfo(np.int64).min
    assert TABLE.to_utc(c, gap, nonexistent="shift_forward")[0] == _us(
        dt.datetime(2026, 3, 29, 1, 0)
    )
    fold = np.array([_us(dt.datetime(2026, 10, 25, 2, 30))])
    with pytest.raises(ZoneError, match="occurs twice"):
        TABLE.to_utc(c, fold)
    assert TABLE.to_utc(c, fold, ambiguous="earliest")[0] == _us(dt.datetime(2026, 10, 25, 0, 30))
    assert TABLE.to_utc(c, fold, ambiguous="latest")[0] == _us(dt.datetime(2026, 10, 25, 1, 30))


@settings(max_examples=200, deadline=None)
@given(
    seconds=st.integers(
        int(dt.datetime(2025, 1, 3, tzinfo=UTC).timestamp()),
        int(dt.datetime(2026, 12, 29, tzinfo=UTC).timestamp()),
    ),
    zone=st.sampled_from(ZONES),
)
def test_to_utc_inverts_local_time(seconds: int, zone: str) -> None:
    code = np.array([TABLE.code(zone)])
    t = np.array([seconds * 1_000_000])
    local = TABLE.local_us(code, t)
    back = TABLE.to_utc(code, local, ambiguous="earliest")
    # a fold maps back to its first occurrence, which has the same local reading
    assert TABLE.local_us(code, back)[0] == local[0]
    assert back[0] <= t[0]


def test_local_hour_of_week_series_handles_nulls_and_unknown_zones() -> None:
    utc = pl.Series(
        [dt.datetime(2026, 1, 1, tzinfo=UTC), None, dt.datetime(2026, 7, 4, 16, tzinfo=UTC)]
    )
    zone = pl.Series(["Asia/Kathmandu", "Europe/Paris", "Not/AZone"])
    out = local_hour_of_week(utc, zone)
    assert out.dtype == pl.Int16
    assert out.to_list() == [3 * 24 + 5, None, None]  # Thursday 05:45 in Kathmandu


def test_out_of_range_and_naive_input_raise() -> None:
    with pytest.raises(ZoneError, match="outside the offset table"):
        TABLE.local_us(np.array([0]), np.array([_us(dt.datetime(2030, 1, 1))]))
    with pytest.raises(ZoneError, match="UTC timestamps"):
        local_hour_of_week(pl.Series([dt.datetime(2026, 1, 1)]), pl.Series(["Europe/Paris"]))


def test_offsets_not_on_a_quarter_hour_are_refused() -> None:
    # Liberia used UTC-00:44:30 until 1972
    with pytest.raises(ZoneError, match="multiple of 15 minutes"):
        ZoneOffsets(
            ["Africa/Monrovia"],
            dt.datetime(1971, 1, 1, tzinfo=UTC),
            dt.datetime(1971, 2, 1, tzinfo=UTC),
        )


def test_relation_rows_match_the_table() -> None:
    small = ZoneOffsets(
        ["Europe/Paris", "America/New_York"],
        dt.datetime(2026, 3, 1, tzinfo=UTC),
        dt.datetime(2026, 3, 2, tzinfo=UTC),
    )
    rel = small.relation()
    assert rel.columns == ["zone_id", "timezone", "bucket", "utc_offset_minutes"]
    assert rel.height == small.offsets_minutes.size
    paris = (
        rel.filter(pl.col("timezone") == "Europe/Paris")["utc_offset_minutes"].unique().to_list()
    )
    assert paris == [60]
    assert (np.diff(rel["bucket"].to_numpy()[: small.offsets_minutes.shape[1]]) == 1).all()
    assert DAY_US == 86_400_000_000
