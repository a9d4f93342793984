"""Timestamps: ISO with offsets, Twilio's RFC 2822, naive local times, dayfirst, DST edges."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from smsanalytics.ingest import parse_dates, parse_timestamps

UTC = dt.UTC
T = dt.datetime(2024, 3, 1, 13, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-01T13:05:00Z",
        "2024-03-01T13:05:00.000Z",
        "2024-03-01 14:05:00+01:00",
        "2024-03-01T14:05:00+0100",
        "2024-03-01 13:05:00 UTC",
        "Fri, 01 Mar 2024 13:05:00 +0000",
        "2024-03-01 14:05:00",  # naive, in Europe/Paris
        "2024-03-01T14:05",
        "2024/03/01 14:05:00",
        "03/01/2024 14:05",  # month first (default)
        "3/1/2024 2:05:00 PM",
    ],
)
def test_ingest_timestamp_formats(text):
    out = parse_timestamps(pl.Series([text]), source_timezone="Europe/Paris").row(0, named=True)
    assert out == {"value": T, "reason": None, "flag": None}


def test_ingest_dayfirst_reads_day_before_month():
    s = pl.Series(["01/03/2024 14:05", "13/03/2024 14:05", "01.03.2024 14:05"])
    assert parse_timestamps(s, dayfirst=True)["value"].to_list() == [
        dt.datetime(2024, 3, 1, 14, 5, tzinfo=UTC),
        dt.datetime(2024, 3, 13, 14, 5, tzinfo=UTC),
        dt.datetime(2024, 3, 1, 14, 5, tzinfo=UTC),
    ]
    # without dayfirst, 13/03 does not read as a month/day: rejected, not silently swapped
    assert parse_timestamps(s)["reason"].to_list() == [
        None,
        "invalid_timestamp",
        "invalid_timestamp",
    ]


def test_ingest_dates_are_midnight_in_the_source_zone():
    out = parse_timestamps(pl.Series(["2024-03-01"]), source_timezone="Europe/Paris")["value"][0]
    assert out == dt.datetime(2024, 2, 29, 23, 0, tzinfo=UTC)


def test_ingest_dst_gap_is_rejected_and_fold_is_flagged():
    out = parse_timestamps(
        pl.Series(["2024-03-31 02:30:00", "2024-10-27 02:30:00"]), source_timezone="Europe/Paris"
    ).to_dicts()
    assert out[0] == {"value": None, "reason": "nonexistent_local_time", "flag": None}
    assert out[1] == {
        "value": dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC),
        "reason": None,
        "flag": "ambiguous_local_time",
    }


def test_ingest_blank_and_garbage():
    out = parse_timestamps(pl.Series(["", None, "  ", "yesterday", "2024-13-01"])).to_dicts()
    assert [r["reason"] for r in out] == [
        None,
        None,
        None,
        "invalid_timestamp",
        "invalid_timestamp",
    ]


def test_ingest_native_parquet_types():
    naive = pl.Series([dt.datetime(2024, 3, 1, 14, 5)])
    assert parse_timestamps(naive, source_timezone="Europe/Paris")["value"][0] == T
    aware = pl.Series([dt.datetime(2024, 3, 1, 14, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))])
    assert parse_timestamps(aware)["value"][0] == T
    day = pl.Series([dt.date(2024, 3, 1)])
    assert parse_timestamps(day)["value"][0] == dt.datetime(2024, 3, 1, tzinfo=UTC)


def test_ingest_parse_dates():
    out = parse_dates(
        pl.Series(["1990-05-17", "17/05/1990", "1990-05-17 00:00:00", "31/02/1990", None]),
        dayfirst=True,
    )
    assert out["value"].to_list()[:3] == [dt.date(1990, 5, 17)] * 3
    assert out["reason"].to_list() == [None, None, None, "invalid_date", None]


def test_ingest_unknown_source_timezone_raises():
    with pytest.raises(ValueError, match="IANA"):
        parse_timestamps(pl.Series(["2024-03-01"]), source_timezone="Paris")
