"""IANA time zones: which names are real zones, and when their UTC offsets change.

Shared by the SQL feature build (:mod:`smsanalytics.features`), the send-time model
(:mod:`smsanalytics.sendtime.timezones`), the compliance rules (:mod:`smsanalytics.compliance`)
and the data generator (:mod:`smsanalytics.synth`), so that all of them treat the same names as
zones and give the same instant the same local time.

:func:`offset_transitions` finds, exactly to the second, the instants at which a zone's UTC offset
changes over a UTC range; :func:`offsets_at` reads the offset in force at many instants at once
from them (one ``numpy.searchsorted``, no ``zoneinfo`` call per instant).

>>> valid_zones(["Europe/Paris", "Not/AZone", None, "America/New_York", "Europe/Paris"])
('America/New_York', 'Europe/Paris')
>>> import datetime as dt
>>> march = dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
>>> at, offsets = offset_transitions("Europe/Paris", *march)
>>> [dt.datetime.fromtimestamp(t, dt.UTC).isoformat() for t in at.tolist()], offsets.tolist()
(['2026-03-29T01:00:00+00:00'], [3600, 7200])
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np
import polars as pl

__all__ = ["Transitions", "offset_transitions", "offsets_at", "valid_zones"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Spacing of the vectorised offset samples: every zone changes its offset at most once an hour.
_SAMPLE_SECONDS = 3600


def valid_zones(zones: Iterable[str | None]) -> tuple[str, ...]:
    """The distinct names among ``zones`` that are IANA time zones, sorted (others dropped).

    Parameters
    ----------
    zones
        Zone names; ``None``, empty strings and names ``zoneinfo`` does not know are dropped.

    Returns
    -------
    tuple of str
    """
    out = []
    for zone in sorted({z for z in zones if z}):
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        out.append(zone)
    return tuple(out)


class Transitions(NamedTuple):
    """The UTC offsets of one zone over a UTC range (see :func:`offset_transitions`).

    Attributes
    ----------
    at : numpy.ndarray
        ``int64`` epoch seconds, increasing: the instants at which the offset changes.
    offsets : numpy.ndarray
        ``int64`` seconds, one more than ``at``: ``offsets[0]`` is in force at the start of the
        range, ``offsets[i + 1]`` from ``at[i]`` on.
    """

    at: np.ndarray
    offsets: np.ndarray


def offset_transitions(zone: str, start: dt.datetime, end: dt.datetime) -> Transitions:
    """The instants in ``(start, end]`` at which the UTC offset of ``zone`` changes, to the second.

    The offsets are Python's ``zoneinfo``'s (the system's IANA tz database). To keep the
    ``zoneinfo`` calls few, the offset is first sampled every hour of the range with polars
    (``convert_time_zone``); only the rare hours whose ends differ are bisected to the second with
    ``zoneinfo``. The two are checked against each other at the ends of every run of equal
    samples; where they disagree (different tz database versions, or a name polars does not
    know) the hourly samples are taken with ``zoneinfo`` instead. A change of the offset that is
    undone within the same hour would go unseen (no IANA zone has one).

    Parameters
    ----------
    zone : str
        IANA zone name.
    start, end : datetime.datetime
        Timezone-aware bounds of the UTC range, ``start <= end``.

    Returns
    -------
    Transitions
        ``(at, offsets)``: the change instants (``int64`` epoch seconds, in ``(start, end]``) and
        the offsets (``int64`` seconds) in force at ``start`` and from each change on. Only changes
        of the total offset count (not of the zone's abbreviation or of its DST flag alone).

    Raises
    ------
    ValueError
        When ``start`` or ``end`` is naive, or ``end`` is before ``start``.
    zoneinfo.ZoneInfoNotFoundError
        When ``zone`` is not an IANA zone.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"start and end must be timezone-aware (UTC), got {start!r}, {end!r}")
    first, last = _epoch_seconds(start), _epoch_seconds(end)
    if last < first:
        raise ValueError(f"end {end} is before start {start}")
    return _transitions(zone, first, last)


def offsets_at(zone: str | tuple[np.ndarray, np.ndarray], utc_seconds: np.ndarray) -> np.ndarray:
    """The UTC offsets of one zone in force at many UTC instants (vectorised).

    Parameters
    ----------
    zone : str or Transitions
        An IANA zone name, whose changes over the instants' range are then found with
        :func:`offset_transitions` (so the offsets are ``zoneinfo``'s), or the
        :class:`Transitions` it returned for a range holding the instants.
    utc_seconds : numpy.ndarray
        Integer epoch seconds.

    Returns
    -------
    numpy.ndarray
        ``int64`` offsets in seconds, shaped like ``utc_seconds``. With a :class:`Transitions`,
        instants outside its range get the offset at its nearer end.
    """
    seconds = np.asarray(utc_seconds, dtype=np.int64)
    if not isinstance(zone, str):
        at, offsets = zone
    elif seconds.size:
        at, offsets = _transitions(zone, int(seconds.min()), int(seconds.max()))
    else:
        return np.zeros(seconds.shape, dtype=np.int64)
    return offsets[np.searchsorted(at, seconds, side="right")]


def _epoch_seconds(value: dt.datetime) -> int:
    """Whole epoch seconds of an aware datetime, rounded down (changes fall on whole seconds)."""
    return (value - _EPOCH) // dt.timedelta(seconds=1)


def _transitions(zone: str, first: int, last: int) -> Transitions:
    """:func:`offset_transitions` on epoch seconds ``first <= last``."""
    tz = zoneinfo.ZoneInfo(zone)

    def offset(t: int) -> int:
        local = (_EPOCH + dt.timedelta(seconds=t)).astimezone(tz)
        return int(local.utcoffset().total_seconds())  # type: ignore[union-attr]

    samples = _sample_grid(first, last)
    grid = samples.to_numpy()
    sampled = _polars_offsets(zone, samples)
    if sampled is None or not _agree(sampled, grid, offset):
        sampled = np.array([offset(int(t)) for t in grid], dtype=np.int64)
    at: list[int] = []
    offsets = [int(sampled[0])]
    for k in np.flatnonzero(np.diff(sampled)):  # the rare sampled hours holding a change
        lo, hi = int(grid[k]), int(grid[k + 1])
        while offsets[-1] != sampled[k + 1]:  # one change after another, until the hour's end
            lo = _first_change(offset, lo, hi)
            at.append(lo)
            offsets.append(offset(lo))
    return Transitions(np.array(at, dtype=np.int64), np.array(offsets, dtype=np.int64))


def _sample_grid(first: int, last: int) -> pl.Series:
    """The epoch seconds :func:`_transitions` samples: every ``_SAMPLE_SECONDS`` from ``first``,
    then ``last``. Built by polars, and read by numpy from it: polars handed a numpy array
    imports ``numpy.ma`` (~6 ms, once per process: in every fresh feature build)."""
    return pl.concat(
        [
            pl.int_range(first, last, _SAMPLE_SECONDS, dtype=pl.Int64, eager=True),
            pl.Series([last], dtype=pl.Int64),
        ]
    )


def _polars_offsets(zone: str, grid: pl.Series) -> np.ndarray | None:
    """UTC offsets (seconds) of ``zone`` at epoch seconds ``grid`` by polars; None if unknown."""
    utc = (grid * 1_000_000).cast(pl.Datetime("us", "UTC"))
    try:
        local = utc.dt.convert_time_zone(zone)
    except pl.exceptions.ComputeError:  # a name zoneinfo knows and polars does not
        return None
    return (local.dt.base_utc_offset() + local.dt.dst_offset()).dt.total_seconds().to_numpy()


def _agree(sampled: np.ndarray, grid: np.ndarray, offset: Callable[[int], int]) -> bool:
    """Whether ``offset`` gives ``sampled`` at both ends of the range and of every change."""
    changes = np.flatnonzero(np.diff(sampled)).tolist()
    # a set, not np.unique, which imports numpy.ma (see _sample_grid)
    probes = sorted({0, grid.size - 1, *changes, *(k + 1 for k in changes)})
    return all(offset(int(grid[i])) == sampled[i] for i in probes)


def _first_change(offset: Callable[[int], int], lo: int, hi: int) -> int:
    """The first second in ``(lo, hi]`` whose offset differs from ``lo``'s (``hi``'s does)."""
    before = offset(lo)
    while hi - lo > 1:  # invariant: offset(lo) == before != offset(hi)
        mid = (lo + hi) // 2
        if offset(mid) == before:
            lo = mid
        else:
            hi = mid
    return hi
