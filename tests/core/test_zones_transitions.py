"""The exact UTC-offset changes of :func:`smsanalytics.zones.offset_transitions`.

Reference: Python's ``zoneinfo``, asked instant by instant (every five minutes of a year, and
every second of the hour either side of each change).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pytest

from smsanalytics import zones
from smsanalytics.zones import Transitions, offset_transitions, offsets_at

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
YEAR = dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC)


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def seconds(value: dt.datetime) -> int:
    return int(value.timestamp())


def zoneinfo_offsets(zone: str, instants: np.ndarray) -> np.ndarray:
    """The reference: ``zoneinfo``'s UTC offset (seconds) at each epoch second, one by one."""
    tz = zoneinfo.ZoneInfo(zone)
    return np.array(
        [
            (EPOCH + dt.timedelta(seconds=int(t))).astimezone(tz).utcoffset().total_seconds()
            for t in instants
        ],
        dtype=np.int64,
    )


def assert_matches_zoneinfo(zone: str, start: dt.datetime, end: dt.datetime) -> Transitions:
    changes = offset_transitions(zone, start, end)
    first, last = seconds(start), seconds(end)
    assert changes.at.dtype == np.int64 and changes.offsets.dtype == np.int64
    assert changes.offsets.size == changes.at.size + 1
    assert ((changes.at > first) & (changes.at <= last)).all()
    assert (np.diff(changes.at) > 0).all() and (np.diff(changes.offsets) != 0).all()
    around = [np.arange(t - 3600, t + 3601) for t in changes.at.tolist()]
    instants = np.concatenate([np.arange(first, last + 1, 300), [last], *around])
    instants = instants[(instants >= first) & (instants <= last)]
    np.testing.assert_array_equal(offsets_at(changes, instants), zoneinfo_offsets(zone, instants))
    return changes


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # UTC-03:30; changes at 02:00 local, so at 05:30 and 04:30 UTC: not on a UTC hour
        ("America/St_Johns", [(at(2024, 3, 10, 5, 30), -9000), (at(2024, 11, 3, 4, 30), -12600)]),
        # a 30-minute DST shift: +10:30 in winter, +11:00 in summer
        ("Australia/Lord_Howe", [(at(2024, 4, 6, 15), 37800), (at(2024, 10, 5, 15, 30), 39600)]),
        ("Asia/Kathmandu", []),  # +05:45, no DST
        ("Europe/Paris", [(at(2024, 3, 31, 1), 7200), (at(2024, 10, 27, 1), 3600)]),
        ("Asia/Kolkata", []),  # +05:30, no DST
        ("UTC", []),
    ],
)
def test_transitions_match_zoneinfo_over_a_year(zone, expected):
    changes = assert_matches_zoneinfo(zone, *YEAR)
    assert [
        (dt.datetime.fromtimestamp(t, UTC), o)
        for t, o in zip(changes.at.tolist(), changes.offsets[1:].tolist(), strict=True)
    ] == expected


@pytest.mark.parametrize("zone", ["Asia/Kathmandu", "Asia/Kolkata", "UTC"])
def test_a_zone_without_dst_has_one_offset(zone):
    changes = offset_transitions(zone, *YEAR)
    assert changes.at.size == 0
    assert changes.offsets.tolist() == [
        {"Asia/Kathmandu": 20700, "Asia/Kolkata": 19800}.get(zone, 0)
    ]


def test_a_range_without_a_change():
    changes = assert_matches_zoneinfo("Europe/Paris", at(2024, 5, 1), at(2024, 9, 1))
    assert changes.at.size == 0 and changes.offsets.tolist() == [7200]


def test_range_bounds_on_a_change():
    """A change at ``start`` is in force already, one at ``end`` is listed: ``(start, end]``."""
    change = at(2024, 3, 10, 5, 30)  # St John's: -03:30 -> -02:30
    starting = assert_matches_zoneinfo("America/St_Johns", change, at(2024, 3, 11))
    assert starting.at.size == 0 and starting.offsets.tolist() == [-9000]
    ending = assert_matches_zoneinfo("America/St_Johns", at(2024, 3, 9), change)
    assert ending.at.tolist() == [seconds(change)] and ending.offsets.tolist() == [-12600, -9000]
    just_before = offset_transitions(
        "America/St_Johns", at(2024, 3, 9), change - dt.timedelta(seconds=1)
    )
    assert just_before.at.size == 0 and just_before.offsets.tolist() == [-12600]
    point = offset_transitions("America/St_Johns", change, change)
    assert point.at.size == 0 and point.offsets.tolist() == [-9000]


def test_fractional_bounds_and_bounds_in_other_time_zones():
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    start = dt.datetime(2024, 3, 31, 0, 59, 59, 500_000, tzinfo=paris)  # 23:59:59.5 UTC
    changes = offset_transitions("Europe/Paris", start, at(2024, 3, 31, 1, 0, 0, 500_000))
    assert changes.at.tolist() == [seconds(at(2024, 3, 31, 1))]
    assert changes.offsets.tolist() == [3600, 7200]
    before = offset_transitions("Europe/Paris", start, at(2024, 3, 31, 0, 59, 59, 999_999))
    assert before.at.size == 0 and before.offsets.tolist() == [3600]


def test_offsets_at_a_zone_name_reads_the_same_offsets():
    instants = np.arange(seconds(YEAR[0]), seconds(YEAR[1]), 3600 * 7 + 13)[:1200].reshape(-1, 4)
    table = offset_transitions("Australia/Lord_Howe", *YEAR)
    out = offsets_at("Australia/Lord_Howe", instants)
    assert out.shape == instants.shape and out.dtype == np.int64
    np.testing.assert_array_equal(out, offsets_at(table, instants))
    np.testing.assert_array_equal(
        out.ravel(), zoneinfo_offsets("Australia/Lord_Howe", instants.ravel())
    )
    assert offsets_at("Europe/Paris", np.array([], dtype=np.int64)).shape == (0,)


def test_when_polars_disagrees_zoneinfo_decides(monkeypatch):
    """Polars' samples only locate the changes: wrong or missing samples fall back to zoneinfo."""
    expected = offset_transitions("Europe/Paris", *YEAR)
    sample = zones._polars_offsets

    def shifted(zone, grid):
        out = sample(zone, grid).copy()
        out[len(grid) // 3 : len(grid) // 2] += 900  # a stretch where the databases differ
        return out

    for fake in (shifted, lambda zone, grid: None):
        monkeypatch.setattr(zones, "_polars_offsets", fake)
        changes = assert_matches_zoneinfo("Europe/Paris", *YEAR)
        np.testing.assert_array_equal(changes.at, expected.at)
        np.testing.assert_array_equal(changes.offsets, expected.offsets)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="timezone-aware"):
        offset_transitions("Europe/Paris", dt.datetime(2024, 1, 1), YEAR[1])
    with pytest.raises(ValueError, match="before start"):
        offset_transitions("Europe/Paris", YEAR[1], YEAR[0])
    with pytest.raises(zoneinfo.ZoneInfoNotFoundError):
        offset_transitions("Not/AZone", *YEAR)
