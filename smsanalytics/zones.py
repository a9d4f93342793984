"""IANA time-zone names: which ones are real zones.

A light module (standard library only) shared by the SQL feature build
(:mod:`smsanalytics.features`) and the send-time model (:mod:`smsanalytics.sendtime.timezones`),
so that both treat the same names as zones.

>>> valid_zones(["Europe/Paris", "Not/AZone", None, "America/New_York", "Europe/Paris"])
('America/New_York', 'Europe/Paris')
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable

__all__ = ["valid_zones"]


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
