"""Local wall-clock times of UTC instants without a ``zoneinfo`` call per row.

Converting each row with its own zone (``AT TIME ZONE`` in SQL, ``zoneinfo`` in Python) costs a
string look-up and a rule evaluation per row; at 20 million sends that dominates everything
(``/work/shared/bench/README.md``: ~6 s in DuckDB against ~1 s for a table join). Instead,
:class:`ZoneOffsets` tabulates each zone's UTC offset per 15-minute UTC bucket once (from the exact
offset changes of :func:`smsanalytics.zones.offset_transitions`, ``zoneinfo``'s), and every row is
then one integer gather.

Why 15 minutes is exact: every UTC offset in use today is a multiple of 15 minutes (Kathmandu
+05:45, Chatham +12:45 …) and zones change offset at a local wall-clock time on a quarter hour,
so each transition falls on a 15-minute UTC boundary and all instants of a bucket share one
offset. :class:`ZoneOffsets` checks the first half of that claim on the range it covers and
refuses zones (or historical ranges, such as local mean time before 1900) where it fails.

Times are ``int64`` microseconds since the Unix epoch (the resolution of the warehouse's
``TIMESTAMPTZ`` and of polars ``Datetime("us", "UTC")``); "local" times are microseconds since
the naive epoch of the local wall clock.

>>> import datetime as dt, polars as pl
>>> utc = pl.Series([dt.datetime(2026, 3, 28, 17, tzinfo=dt.UTC),   # Saturday, before the change
...                  dt.datetime(2026, 3, 29, 17, tzinfo=dt.UTC)])  # Sunday, summer time
>>> local_hour_of_week(utc, pl.Series(["Europe/Paris", "Europe/Paris"])).to_list()
[138, 163]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import polars as pl

from smsanalytics.zones import offsets_at, valid_zones

__all__ = [
    "BUCKET_SECONDS",
    "DAY_US",
    "HOUR_US",
    "MINUTE_US",
    "ZoneOffsets",
    "ZoneError",
    "day_of_week",
    "hour_of_week",
    "local_hour_of_week",
    "to_epoch_us",
]

#: Width of the offset table's buckets.
BUCKET_SECONDS = 900
SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 3_600 * SECOND_US
DAY_US = 86_400 * SECOND_US
_BUCKET_US = BUCKET_SECONDS * SECOND_US

Nonexistent = Literal["raise", "null", "shift_forward"]
Ambiguous = Literal["raise", "earliest", "latest"]


class ZoneError(ValueError):
    """A zone name, range or local time that the offset table cannot handle."""


def to_epoch_us(values: pl.Series | np.ndarray | Sequence[dt.datetime]) -> np.ndarray:
    """Microseconds since the epoch of UTC instants (``Datetime`` series, array or datetimes).

    Raises
    ------
    ZoneError
        For a naive or non-UTC datetime series (a naive value would be silently misread).
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.astype(np.int64, copy=False)
    if not isinstance(values, pl.Series):
        values = pl.Series(values)
    dtype = values.dtype
    if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
        raise ZoneError(
            f"expected UTC timestamps (Datetime with a time zone), got {dtype}; convert with "
            ".dt.replace_time_zone('UTC') if the values are UTC"
        )
    return (
        values.dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC")).to_physical().to_numpy()
    )


def day_of_week(local_us: np.ndarray) -> np.ndarray:
    """Weekday of local wall-clock times: 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday)."""
    return ((np.floor_divide(local_us, DAY_US) + 3) % 7).astype(np.int8)


def hour_of_week(local_us: np.ndarray) -> np.ndarray:
    """Hour of week of local wall-clock times: 0 = Monday 00:00 … 167 = Sunday 23:00."""
    days = np.floor_divide(local_us, DAY_US)
    hod = np.floor_divide(local_us - days * DAY_US, HOUR_US)
    return (((days + 3) % 7) * 24 + hod).astype(np.int16)


class ZoneOffsets:
    """UTC offsets of IANA zones per 15-minute UTC bucket, for vectorised local times.

    The offsets are those in force at each bucket's start, from
    :func:`smsanalytics.zones.offsets_at` (``zoneinfo``'s).

    Parameters
    ----------
    zones
        IANA zone names; a zone is referred to by its index (its *code*) in :attr:`zones`, which
        holds the valid names sorted. Names that are not IANA zones are dropped (their rows get
        code ``-1``, and no local time).
    start, end
        UTC range to cover (aware datetimes). Look-ups outside it raise :class:`ZoneError`.

    Attributes
    ----------
    zones
        The valid zone names, sorted; ``zones[code]``.
    offsets_minutes
        ``int16`` array ``(len(zones), n_buckets)``: UTC offset in minutes per bucket.
    first_bucket
        Bucket number (``floor(epoch seconds / 900)``) of the first column.

    Raises
    ------
    ZoneError
        When a zone has an offset that is not a multiple of 15 minutes inside the range.
    """

    def __init__(self, zones: Iterable[str | None], start: dt.datetime, end: dt.datetime) -> None:
        if start.tzinfo is None or end.tzinfo is None:
            raise ZoneError("start and end must be timezone-aware (UTC) datetimes")
        self.zones = valid_zones(zones)
        first = int(start.timestamp()) // BUCKET_SECONDS
        last = -(-int(end.timestamp()) // BUCKET_SECONDS)
        last = max(last, first + 1)
        self.first_bucket = first
        n = last - first + 1
        table = np.zeros((len(self.zones), n), dtype=np.int16)
        bucket_start = (first + np.arange(n, dtype=np.int64)) * BUCKET_SECONDS
        for i, zone in enumerate(self.zones):
            seconds = offsets_at(zone, bucket_start)
            if (seconds % BUCKET_SECONDS != 0).any():
                raise ZoneError(
                    f"time zone {zone!r} has a UTC offset that is not a multiple of 15 minutes "
                    f"between {start} and {end}; local times cannot be tabulated per 15 minutes"
                )
            table[i] = seconds // 60
        self.offsets_minutes = table
        self._codes = {z: i for i, z in enumerate(self.zones)}

    # -- construction helpers ----------------------------------------------------------------
    @classmethod
    def covering(
        cls, zones: Iterable[str | None], utc_us: np.ndarray, *, margin_days: int = 2
    ) -> ZoneOffsets:
        """A table for ``zones`` covering the instants ``utc_us`` (with a margin either side)."""
        if utc_us.size == 0:
            now = dt.datetime.now(dt.UTC)
            return cls(zones, now, now)
        lo, hi = int(utc_us.min()), int(utc_us.max())
        margin = margin_days * DAY_US
        return cls(
            zones,
            dt.datetime.fromtimestamp((lo - margin) // SECOND_US, dt.UTC),
            dt.datetime.fromtimestamp((hi + margin) // SECOND_US + 1, dt.UTC),
        )

    @property
    def start(self) -> dt.datetime:
        """First instant covered."""
        return dt.datetime.fromtimestamp(self.first_bucket * BUCKET_SECONDS, dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """Instant after the last one covered."""
        n = self.offsets_minutes.shape[1]
        return dt.datetime.fromtimestamp((self.first_bucket + n) * BUCKET_SECONDS, dt.UTC)

    def code(self, zone: str | None) -> int:
        """Code of one zone name (``-1`` when unknown)."""
        return self._codes.get(zone, -1) if zone else -1

    def codes(self, zones: pl.Series | Sequence[str | None]) -> np.ndarray:
        """``int32`` codes of zone names, ``-1`` for null or unknown names (vectorised)."""
        s = zones if isinstance(zones, pl.Series) else pl.Series(zones, dtype=pl.String)
        lookup = pl.DataFrame(
            {"_zone": list(self.zones), "_code": np.arange(len(self.zones), dtype=np.int32)},
            schema={"_zone": pl.String, "_code": pl.Int32},
        )
        frame = pl.DataFrame({"_zone": s.cast(pl.String)})
        joined = frame.join(lookup, on="_zone", how="left", maintain_order="left")
        return joined["_code"].fill_null(-1).to_numpy().astype(np.int32, copy=False)

    # -- UTC -> local ------------------------------------------------------------------------
    def _bucket_index(self, utc_us: np.ndarray, clip: bool = False) -> np.ndarray:
        idx = np.floor_divide(utc_us, _BUCKET_US) - self.first_bucket
        if clip:
            return np.clip(idx, 0, self.offsets_minutes.shape[1] - 1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.offsets_minutes.shape[1]):
            bad = utc_us[(idx < 0) | (idx >= self.offsets_minutes.shape[1])][0]
            raise ZoneError(
                f"instant {dt.datetime.fromtimestamp(int(bad) // SECOND_US, dt.UTC)} is outside "
                "the "
                f"offset table [{self.start}, {self.end}); build it with ZoneOffsets.covering()"
            )
        return idx

    def utc_offset_us(
        self, codes: np.ndarray, utc_us: np.ndarray, *, clip: bool = False
    ) -> np.ndarray:
        """UTC offset (microseconds) of zone ``codes`` at UTC instants (``0`` where code is -1).

        ``clip=True`` uses the first or last bucket for instants outside the table instead of
        raising (for probes around the edges).
        """
        codes = np.asarray(codes)
        utc_us = np.asarray(utc_us, dtype=np.int64)
        idx = self._bucket_index(utc_us, clip)
        if not self.zones:
            return np.zeros(np.broadcast(codes, utc_us).shape, dtype=np.int64)
        safe = np.where(codes >= 0, codes, 0)
        off = self.offsets_minutes[safe, idx].astype(np.int64) * MINUTE_US
        return np.where(codes >= 0, off, 0)

    def local_us(self, codes: np.ndarray, utc_us: np.ndarray) -> np.ndarray:
        """Local wall-clock times (microseconds since the naive epoch) of UTC instants."""
        utc_us = np.asarray(utc_us, dtype=np.int64)
        return utc_us + self.utc_offset_us(codes, utc_us)

    def hour_of_week(self, codes: np.ndarray, utc_us: np.ndarray) -> np.ndarray:
        """Local hour of week (0 = Monday 00:00 … 167), ``-1`` where the zone is unknown."""
        codes = np.asarray(codes)
        how = hour_of_week(self.local_us(codes, utc_us))
        return np.where(codes >= 0, how, -1).astype(np.int16)

    # -- local -> UTC ------------------------------------------------------------------------
    def to_utc(
        self,
        codes: np.ndarray,
        local_us: np.ndarray,
        *,
        nonexistent: Nonexistent = "raise",
        ambiguous: Ambiguous = "raise",
    ) -> np.ndarray:
        """UTC instants of local wall-clock times, resolving DST gaps and folds explicitly.

        Parameters
        ----------
        codes
            Zone codes. A ``-1`` (unknown zone) raises, unless ``nonexistent='null'``, which
            returns the sentinel for it too: an unknown zone is never read as UTC.
        local_us
            Local wall-clock times (microseconds since the naive epoch).
        nonexistent
            A local time in a spring-forward gap: ``raise``, ``null`` (returns the sentinel
            ``np.iinfo(np.int64).min``) or ``shift_forward`` (the instant the gap ends).
        ambiguous
            A local time that occurs twice (fall-back fold): ``raise``, ``earliest`` (the first
            occurrence, summer time) or ``latest``.

        Raises
        ------
        ZoneError
            For a gap or fold with ``raise``, or an unknown zone without ``nonexistent='null'``.
        """
        codes = np.asarray(codes)
        local_us = np.asarray(local_us, dtype=np.int64)
        null = np.iinfo(np.int64).min
        unknown = codes < 0
        if unknown.any() and nonexistent != "null":
            raise ZoneError("a row has no known time zone; its local time cannot be placed in UTC")
        # offsets in force a day before and after: at most one transition lies between them
        o1 = self.utc_offset_us(codes, local_us - DAY_US, clip=True)
        o2 = self.utc_offset_us(codes, local_us + DAY_US, clip=True)
        c1, c2 = local_us - o1, local_us - o2
        ok1 = c1 + self.utc_offset_us(codes, c1, clip=True) == local_us
        ok2 = c2 + self.utc_offset_us(codes, c2, clip=True) == local_us
        both = ok1 & ok2 & (c1 != c2)
        if both.any() and ambiguous == "raise":
            i = int(np.flatnonzero(both)[0])
            raise ZoneError(
                f"local time {_fmt_local(local_us[i])} occurs twice in {self.zones[codes[i]]!r} "
                "(DST fold); pass ambiguous='earliest' or 'latest'"
            )
        pick_late = both & (ambiguous == "latest")
        out = np.where(ok1 & ~pick_late, c1, np.where(ok2, c2, null))
        gap = ~(ok1 | ok2) & ~unknown
        if gap.any():
            if nonexistent == "raise":
                i = int(np.flatnonzero(gap)[0])
                raise ZoneError(
                    f"local time {_fmt_local(local_us[i])} does not exist in "
                    f"{self.zones[codes[i]]!r} "
                    "(DST gap); pass nonexistent='shift_forward' or 'null'"
                )
            if nonexistent == "shift_forward":
                # the gap ends at the transition instant: local - o1 lies after it, local - o2
                # before it; the transition is the first bucket whose offset is o2
                lo, hi = c2[gap], c1[gap]
                b_lo, b_hi = np.floor_divide(lo, _BUCKET_US), -(-hi // _BUCKET_US)
                span = int((b_hi - b_lo).max()) + 1
                steps = b_lo[:, None] + np.arange(span)[None, :]
                steps = np.minimum(steps, b_hi[:, None])
                offs = self.utc_offset_us(
                    np.repeat(codes[gap][:, None], span, 1), steps * _BUCKET_US, clip=True
                )
                first_new = np.argmax(offs == o2[gap][:, None], axis=1)
                out[gap] = steps[np.arange(steps.shape[0]), first_new] * _BUCKET_US
            else:
                out[gap] = null
        out[unknown] = null
        return out

    # -- SQL --------------------------------------------------------------------------------
    def relation(self) -> pl.DataFrame:
        """The table as rows for SQL engines: ``zone_id`` (Int32, code + 1), ``timezone``,
        ``bucket`` (Int64, ``floor(epoch seconds / 900)``), ``utc_offset_minutes`` (Int16).

        Join it on ``zone_id`` and ``bucket = CAST(floor(epoch(ts) / 900) AS BIGINT)`` to get
        local times with integer joins only (see ``smsanalytics/sql/sendtime_*.sql``).
        """
        n_z, n_b = self.offsets_minutes.shape
        return pl.DataFrame(
            {
                "zone_id": np.repeat(np.arange(1, n_z + 1, dtype=np.int32), n_b),
                "timezone": pl.Series(list(self.zones), dtype=pl.String).gather(
                    np.repeat(np.arange(n_z), n_b)
                ),
                "bucket": np.tile(
                    np.arange(self.first_bucket, self.first_bucket + n_b, dtype=np.int64), n_z
                ),
                "utc_offset_minutes": self.offsets_minutes.reshape(-1),
            }
        )


def _fmt_local(local_us: int) -> str:
    return (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(local_us))).isoformat(sep=" ")


def local_hour_of_week(utc: pl.Series, zone: pl.Series) -> pl.Series:
    """Local hour of week (0 = Monday 00:00 … 167 = Sunday 23:00) of UTC instants in IANA zones.

    DST-exact and vectorised (one offset table per call, no per-row zone rules).

    Parameters
    ----------
    utc
        ``Datetime`` with a time zone (UTC instants).
    zone
        IANA zone name per row (String); null or unknown names give a null hour.

    Returns
    -------
    polars.Series
        ``local_hour_of_week`` (Int16).
    """
    if utc.len() != zone.len():
        raise ZoneError(f"utc has {utc.len()} rows but zone has {zone.len()}")
    t = to_epoch_us(utc)
    valid = utc.is_not_null().to_numpy()
    table = ZoneOffsets.covering(zone.unique().to_list(), t[valid] if valid.any() else t[:0])
    codes = np.where(valid, table.codes(zone), -1)
    how = table.hour_of_week(codes, np.where(valid, t, int(table.first_bucket) * _BUCKET_US))
    out = pl.Series("local_hour_of_week", how, dtype=pl.Int16)
    return out.scatter(np.flatnonzero(how < 0), None) if (how < 0).any() else out
