"""The per-day time-zone table of the DuckDB relations, and writing features to Parquet."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import polars as pl
import pytest
from conftest import AS_OF, t
from polars.testing import assert_frame_equal

from smsanalytics.features import (
    _zone_ids,
    contact_features,
    write_contact_features,
    zone_day_range,
    zone_days,
)

ZONES = [
    "Europe/Paris",
    "America/New_York",
    "America/St_Johns",  # UTC-03:30, changes at 02:00 local (05:30 UTC): not on a UTC hour
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kathmandu",  # UTC+05:45, no DST
    "Asia/Kolkata",
]


def _local(utc_s: int, row: dict) -> int:
    """The local epoch seconds of ``utc_s`` by the table's rule (what the SQL computes)."""
    offset = (
        row["offset_after_s"] if utc_s % 86400 >= row["switch_second"] else row["offset_before_s"]
    )
    return utc_s + offset


def test_zone_days_give_zoneinfo_local_time_every_ten_minutes():
    """Reference: Python's zoneinfo, instant by instant, over both 2024 changes of each zone."""
    start, end = t(2024, 3, 1), t(2024, 11, 10)
    ids = _zone_ids([*ZONES, "Not/AZone", None])
    days = zone_days(ids, start=start, end=end)
    first_day, day_count = zone_day_range(start, end)
    assert days.height == len(ZONES) * day_count
    assert days["zone_day"].n_unique() == days.height
    rows = {r["zone_day"]: r for r in days.iter_rows(named=True)}
    switches = days.filter(pl.col("switch_second") < 86400)
    # Paris, New York, St John's twice each, Lord Howe twice (April, October), none elsewhere
    assert switches.group_by("zone_id").len().sort("zone_id")["len"].to_list() == [2, 2, 2, 2]
    for zone_id, zone in ids.iter_rows():
        tz = zoneinfo.ZoneInfo(zone)
        for utc_s in range(int(start.timestamp()), int(end.timestamp()), 600):
            row = rows[zone_id * day_count + utc_s // 86400 - first_day]
            expected = dt.datetime.fromtimestamp(utc_s, dt.UTC).astimezone(tz)
            local = dt.datetime.fromtimestamp(_local(utc_s, row), dt.UTC)
            assert (local.hour, local.minute, local.isoweekday()) == (
                expected.hour,
                expected.minute,
                expected.isoweekday(),
            ), (zone, utc_s)


def test_zone_days_switch_second_is_exact():
    ids = _zone_ids(["America/St_Johns"])
    days = zone_days(ids, start=t(2024, 3, 10), end=t(2024, 3, 10, 12))
    (row,) = days.iter_rows(named=True)
    # 2024-03-10 02:00 NST = 05:30 UTC: the offset goes from -3:30 to -2:30
    assert (row["offset_before_s"], row["switch_second"], row["offset_after_s"]) == (
        -12600,
        5 * 3600 + 1800,
        -9000,
    )


def test_zone_days_without_zones_is_an_empty_typed_frame():
    days = zone_days(_zone_ids([]), start=t(2024, 1, 1), end=t(2024, 2, 1))
    assert days.height == 0
    assert days.schema["zone_day"] == pl.Int32


def test_write_contact_features_equals_the_frame(wh, tmp_path):
    out = write_contact_features(wh, tmp_path / "features.parquet", as_of=AS_OF)
    assert out == tmp_path / "features.parquet"
    assert [p.name for p in tmp_path.iterdir()] == ["features.parquet"]  # no temporary left
    # the same rows, columns and types; the file is not sorted
    assert_frame_equal(pl.read_parquet(out).sort("contact_id"), contact_features(wh, as_of=AS_OF))


def test_written_features_are_zstd_parquet_that_other_readers_read(wh, tmp_path):
    """The codec and dictionary limit of ``features._PARQUET_OPTIONS``: every column chunk in
    zstd, small counts still dictionary-encoded, and pyarrow (pandas' reader) reads the same
    table as polars."""
    import duckdb

    out = write_contact_features(wh, tmp_path / "features.parquet", as_of=AS_OF)
    meta = duckdb.execute(
        "SELECT path_in_schema, compression, encodings FROM parquet_metadata($p)", {"p": str(out)}
    ).fetchall()
    assert {compression for _, compression, _ in meta} == {"ZSTD"}
    assert all("DICTIONARY" in encodings for column, _, encodings in meta if column == "n_sent")
    parquet = pytest.importorskip("pyarrow.parquet")
    assert_frame_equal(
        pl.from_arrow(parquet.read_table(out)).sort("contact_id"),
        pl.read_parquet(out).sort("contact_id"),
    )


def test_write_contact_features_failure_leaves_the_previous_file(wh, tmp_path, monkeypatch):
    """A failed write must not truncate or half-replace what was there."""
    out = tmp_path / "features.parquet"
    out.write_bytes(b"previous")
    import smsanalytics.features as features

    monkeypatch.setattr(features, "FEATURE_RELATION", "no_such_relation")
    with pytest.raises(Exception, match="no_such_relation"):
        write_contact_features(wh, out, as_of=AS_OF)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.parquet"]
