"""Local time without per-row zone look-ups: UTC offsets tabulated per zone and UTC hour.

Every zone used by the demo changes its offset only on a whole UTC hour, so one offset per zone
and UTC hour (the one in force at the hour's start, from :func:`smsanalytics.zones.offsets_at`,
``zoneinfo``'s) is exact. Times are ``int64`` microseconds since the Unix epoch (UTC) throughout,
the resolution of the warehouse's ``TIMESTAMPTZ``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from smsanalytics.zones import offsets_at

#: One day and one hour in microseconds (the unit of every time in the generator).
DAY = 86_400_000_000
HOUR = 3_600_000_000
SECOND = 1_000_000


def epoch_us(value: dt.datetime | dt.date) -> int:
    """Microseconds since the epoch of a UTC datetime, or of a date at 00:00 UTC."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return int(value.timestamp()) * SECOND


class Clock:
    """UTC offsets of ``zones`` for every UTC hour between two instants.

    Parameters
    ----------
    zones
        IANA zone names; a zone is referred to by its index in this sequence.
    first, last
        Range covered (UTC); look-ups outside it use the nearest hour covered.
    """

    def __init__(self, zones: tuple[str, ...], first: dt.datetime, last: dt.datetime) -> None:
        n_hours = max((last - first) // dt.timedelta(hours=1) + 1, 0)
        hour_starts = (epoch_us(first) + np.arange(n_hours, dtype=np.int64) * HOUR) // SECOND
        table = np.empty((len(zones), n_hours), dtype=np.int32)
        for i, zone in enumerate(zones):
            table[i] = offsets_at(zone, hour_starts)  # epoch seconds in, seconds out
        self.zones = zones
        self.origin = epoch_us(first)
        self.offsets = table
        self._last = table.shape[1] - 1

    def offset(self, zone: np.ndarray, t: np.ndarray) -> np.ndarray:
        """UTC offset in microseconds of ``zone`` (codes) at UTC instants ``t``."""
        idx = np.clip((t - self.origin) // HOUR, 0, self._last)
        return self.offsets[zone, idx].astype(np.int64) * SECOND

    def local(self, zone: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Local wall-clock time (microseconds since a naive epoch) of UTC instants ``t``."""
        return t + self.offset(zone, t)

    def utc(self, zone: np.ndarray, local: np.ndarray) -> np.ndarray:
        """UTC instant of local wall-clock times.

        Exact for every time that exists once; the demo only converts daytime (08:00 – 20:00 for
        sends), far from the night-time DST transitions of its zones, so no time is ambiguous.
        """
        guess = local - self.offset(zone, local)
        return local - self.offset(zone, guess)


def day_of_week(local_days: np.ndarray) -> np.ndarray:
    """Weekday of local day numbers (days since 1970-01-01, a Thursday): 0 = Monday … 6 = Sunday."""
    return (local_days + 3) % 7


def hour_of_week(local: np.ndarray) -> np.ndarray:
    """Hour of week of local wall-clock times: 0 = Monday 00:00 … 167 = Sunday 23:00."""
    days = local // DAY
    return (day_of_week(days) * 24 + (local - days * DAY) // HOUR).astype(np.int16)
