"""A time zone per contact: explicit column → the number → the configured default, never a guess.

The rule, in order (``timezone_source`` records which step decided):

1. ``explicit``: the source has a ``timezone`` value that is an IANA zone (matched
   case-insensitively: ``europe/paris`` → ``Europe/Paris``). A value that is *not* a zone
   (``Europe/Pariss``, ``CET+1``, ``GMT+2``) is **not** replaced by a guess: the contact is kept
   with ``timezone`` NULL and ``timezone_source = 'unknown'``, the row is flagged
   ``invalid_timezone`` in the report, and the value is kept in ``attributes.timezone_invalid``.
2. ``number``: the zones ``phonenumbers`` gives for the number (by country, and by area code in
   countries with several zones: US, CA, AU, BR, RU, MX, …). Exactly one zone → that zone. Several
   zones of which exactly one belongs to the number's own country (``zone.tab`` of ``tzdata``) →
   that zone (a UK mobile lists London, Jersey, Guernsey and the Isle of Man: it is London).
3. Several zones for the number (a US mobile-or-landline number whose area code spans two zones,
   a Russian mobile): when the number is of the default region and the configured default zone is
   one of them, the default zone (``default``); otherwise NULL / ``unknown``, flagged
   ``ambiguous_timezone``.
4. No zone known for the number: the configured default (``default``) when the number is of the
   default region; otherwise NULL / ``unknown``, flagged ``unknown_timezone``.

Zones by number are looked up in ``phonenumbers``' own prefix table, vectorised (one join per
prefix length) rather than number by number; a test checks the result equals
``phonenumbers.timezone.time_zones_for_number`` on numbers from every region.
"""

from __future__ import annotations

import functools
import zoneinfo
from importlib import resources

import phonenumbers
import polars as pl
from phonenumbers import PhoneNumberType
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from smsanalytics.ingest.values import nulls

__all__ = ["assign_timezones", "normalize_timezone_names", "TIMEZONE_SOURCES"]

#: Values of ``contacts.timezone_source``.
TIMEZONE_SOURCES = ("explicit", "number", "default", "unknown")

_UNKNOWN = "Etc/Unknown"
_TYPE_CODES = {
    "fixed_line": PhoneNumberType.FIXED_LINE,
    "mobile": PhoneNumberType.MOBILE,
    "fixed_line_or_mobile": PhoneNumberType.FIXED_LINE_OR_MOBILE,
    "toll_free": PhoneNumberType.TOLL_FREE,
    "premium_rate": PhoneNumberType.PREMIUM_RATE,
    "shared_cost": PhoneNumberType.SHARED_COST,
    "voip": PhoneNumberType.VOIP,
    "personal_number": PhoneNumberType.PERSONAL_NUMBER,
    "pager": PhoneNumberType.PAGER,
    "uan": PhoneNumberType.UAN,
    "voicemail": PhoneNumberType.VOICEMAIL,
}
_COUNTRY_CODES = sorted(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@functools.lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    names = zoneinfo.available_timezones()
    return {n.lower(): n for n in names}


def normalize_timezone_names(values: pl.Series) -> pl.DataFrame:
    """Match IANA zone names case-insensitively.

    Returns
    -------
    polars.DataFrame
        Columns ``timezone`` (canonical IANA name or NULL) and ``is_invalid`` (a non-blank value
        that is no IANA zone).
    """
    text = values.cast(pl.String).str.strip_chars()
    blank = text.is_null() | (text == "")
    distinct = text.filter(~blank).unique()
    lookup = _zone_names()
    mapping = pl.DataFrame(
        {"_tz_raw": distinct, "timezone": [lookup.get(v.lower()) for v in distinct]},
        schema={"_tz_raw": pl.String, "timezone": pl.String},
    )
    out = (
        pl.DataFrame({"_tz_raw": text})
        .join(mapping, on="_tz_raw", how="left", maintain_order="left")
        .with_columns((~blank & pl.col("timezone").is_null()).alias("is_invalid"))
    )
    return out.select("timezone", "is_invalid")


@functools.lru_cache(maxsize=1)
def _prefix_maps() -> dict[int, dict[str, str]]:
    by_length: dict[int, dict[str, str]] = {}
    for prefix, zones in TIMEZONE_DATA.items():
        by_length.setdefault(len(prefix), {})[prefix] = "|".join(zones)
    return by_length


@functools.lru_cache(maxsize=1)
def _country_zones() -> dict[str, frozenset[str]]:
    """IANA zones by ISO country, from the ``zone.tab`` shipped with ``tzdata``."""
    text = (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    out: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) >= 3:
            out.setdefault(fields[0], set()).add(fields[2])
    return {k: frozenset(v) for k, v in out.items()}


def _country_level_zones(cc: str) -> str:
    """``phonenumbers.timezone._country_level_time_zones_for_number`` for a calling code."""
    for prefix_len in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        prefix = cc[: 1 + prefix_len]
        if prefix in TIMEZONE_DATA:
            return "|".join(TIMEZONE_DATA[prefix])
    return _UNKNOWN


@functools.cache
def _is_geographical(type_name: str | None, cc: int) -> bool:
    code = _TYPE_CODES.get(type_name or "")
    return code is not None and phonenumbers.is_number_type_geographical(code, cc)


def zones_for_numbers(e164: pl.Series, phone_type: pl.Series) -> pl.Series:
    """``phonenumbers.timezone.time_zones_for_number`` for valid numbers, vectorised.

    Returns the zones joined by ``|`` (``Etc/Unknown`` when none is known; NULL for NULL input).
    """
    df = pl.DataFrame({"_e164": e164, "_type": phone_type}).with_columns(
        pl.col("_e164").str.strip_prefix("+").alias("_digits")
    )
    df = df.with_columns(
        pl.when(pl.col("_digits").str.slice(0, 1).is_in(_COUNTRY_CODES))
        .then(pl.col("_digits").str.slice(0, 1))
        .when(pl.col("_digits").str.slice(0, 2).is_in(_COUNTRY_CODES))
        .then(pl.col("_digits").str.slice(0, 2))
        .when(pl.col("_digits").str.slice(0, 3).is_in(_COUNTRY_CODES))
        .then(pl.col("_digits").str.slice(0, 3))
        .alias("_cc")
    )
    pairs = df.select("_cc", "_type").unique().drop_nulls("_cc")
    geo = pairs.with_columns(
        pl.Series(
            "_geo",
            [_is_geographical(t, int(cc)) for cc, t in pairs.iter_rows()],
            dtype=pl.Boolean,
        ),
        pl.Series(
            "_country_zones",
            [_country_level_zones(cc) for cc, _ in pairs.iter_rows()],
            dtype=pl.String,
        ),
    )
    df = df.join(geo, on=["_cc", "_type"], how="left", nulls_equal=True, maintain_order="left")
    maps = _prefix_maps()
    lookups = [
        pl.col("_digits")
        .str.slice(0, n)
        .replace_strict(maps[n], default=None, return_dtype=pl.String)
        for n in range(TIMEZONE_LONGEST_PREFIX, 0, -1)
        if n in maps
    ]
    found = pl.coalesce(*lookups, pl.lit(_UNKNOWN))
    zones = (
        pl.when(pl.col("_e164").is_null())
        .then(pl.lit(None, pl.String))
        .when(pl.col("_type").is_null() | (pl.col("_type") == "unknown"))
        .then(pl.lit(_UNKNOWN))
        .when(pl.col("_geo"))
        .then(found)
        .otherwise(pl.coalesce("_country_zones", pl.lit(_UNKNOWN)))
    )
    return df.select(zones.alias("zones")).to_series()


def assign_timezones(
    phones: pl.DataFrame,
    *,
    explicit: pl.Series | None = None,
    default_region: str = "FR",
    default_timezone: str = "Europe/Paris",
) -> pl.DataFrame:
    """Give each contact an IANA time zone and say where it came from.

    Parameters
    ----------
    phones
        One row per contact with ``phone_e164`` (String), ``phone_type`` (String) and ``country``
        (String), as returned by :func:`smsanalytics.ingest.normalize_phones`.
    explicit
        Optional time-zone column of the source (same length); blank values fall through to the
        number.
    default_region, default_timezone
        The configured region and zone (``Settings.default_region``, ``default_timezone``).

    Returns
    -------
    polars.DataFrame
        Same height, columns ``timezone`` (IANA or NULL), ``timezone_source`` (``explicit``,
        ``number``, ``default`` or ``unknown``), ``flag`` (NULL, ``invalid_timezone``,
        ``ambiguous_timezone`` or ``unknown_timezone``) and ``detail`` (what to do about a flag).

    Raises
    ------
    ValueError
        When ``default_timezone`` is not an IANA zone.

    Examples
    --------
    >>> import polars as pl
    >>> phones = pl.DataFrame({"phone_e164": ["+33612345678", "+12125550123"],
    ...                        "phone_type": ["mobile", "fixed_line_or_mobile"],
    ...                        "country": ["FR", "US"]})
    >>> assign_timezones(phones)["timezone"].to_list()
    ['Europe/Paris', 'America/New_York']
    """
    if default_timezone.lower() not in _zone_names():
        raise ValueError(
            f"default_timezone {default_timezone!r} is not an IANA time zone, e.g. 'Europe/Paris'"
        )
    n = phones.height
    if explicit is None:
        given = pl.DataFrame(
            {
                "timezone": nulls(n, pl.String),
                "is_invalid": pl.repeat(False, n, dtype=pl.Boolean, eager=True),
            }
        )
    else:
        given = normalize_timezone_names(explicit)
    zones = zones_for_numbers(phones["phone_e164"], phones["phone_type"])
    df = pl.DataFrame(
        {
            "_given": given["timezone"],
            "_invalid": given["is_invalid"],
            "_zones": zones,
            "_country": phones["country"],
            "_raw": explicit.cast(pl.String).str.strip_chars()
            if explicit is not None
            else nulls(n, pl.String),
        }
    )
    # Resolve each distinct (zones, country) once: one zone, or one zone of the number's own
    # country (zone.tab) among several (+44 7… → London, not Jersey/Guernsey/Isle of Man).
    pairs = df.select("_zones", "_country").unique()
    by_country = _country_zones()
    resolved = []
    for zones_text, country in pairs.iter_rows():
        zones_list = [] if zones_text in (None, _UNKNOWN) else zones_text.split("|")
        if len(zones_list) > 1:
            own = [z for z in zones_list if z in by_country.get(country or "", ())]
            zones_list = own if len(own) == 1 else zones_list
        resolved.append(zones_list[0] if len(zones_list) == 1 else None)
    pairs = pairs.with_columns(pl.Series("_resolved", resolved, dtype=pl.String))
    df = df.join(
        pairs, on=["_zones", "_country"], how="left", nulls_equal=True, maintain_order="left"
    )
    known = pl.col("_zones").is_not_null() & (pl.col("_zones") != _UNKNOWN)
    home = pl.col("_country").is_null() | (pl.col("_country") == default_region)
    default_in = pl.col("_zones").str.split("|").list.contains(pl.lit(default_timezone))
    single = pl.col("_resolved").is_not_null()
    several = known & ~single
    tz = (
        pl.when(pl.col("_given").is_not_null())
        .then(pl.col("_given"))
        .when(pl.col("_invalid"))
        .then(pl.lit(None, pl.String))
        .when(single)
        .then(pl.col("_resolved"))
        .when(several & home & default_in)
        .then(pl.lit(default_timezone))
        .when(several)
        .then(pl.lit(None, pl.String))
        .when(home)
        .then(pl.lit(default_timezone))
        .otherwise(pl.lit(None, pl.String))
    )
    source = (
        pl.when(pl.col("_given").is_not_null())
        .then(pl.lit("explicit"))
        .when(pl.col("_invalid"))
        .then(pl.lit("unknown"))
        .when(single)
        .then(pl.lit("number"))
        .when(several & home & default_in)
        .then(pl.lit("default"))
        .when(several)
        .then(pl.lit("unknown"))
        .when(home)
        .then(pl.lit("default"))
        .otherwise(pl.lit("unknown"))
    )
    flag = (
        pl.when(pl.col("_given").is_not_null())
        .then(pl.lit(None, pl.String))
        .when(pl.col("_invalid"))
        .then(pl.lit("invalid_timezone"))
        .when(single)
        .then(pl.lit(None, pl.String))
        .when(several & home & default_in)
        .then(pl.lit(None, pl.String))
        .when(several)
        .then(pl.lit("ambiguous_timezone"))
        .when(home)
        .then(pl.lit(None, pl.String))
        .otherwise(pl.lit("unknown_timezone"))
    )
    detail = (
        pl.when(flag == "invalid_timezone")
        .then(
            pl.format(
                "time zone '{}' is not an IANA zone name; the contact is kept with no zone (it "
                "will not be sent to at a local hour); write a name such as Europe/Paris or "
                "America/New_York",
                pl.col("_raw").str.slice(0, 40),
            )
        )
        .when(flag == "ambiguous_timezone")
        .then(
            pl.format(
                "the number's area spans several time zones ({}); the contact is kept with no "
                "zone; add a timezone column to the file",
                pl.col("_zones").str.replace_all("|", ", ", literal=True),
            )
        )
        .when(flag == "unknown_timezone")
        .then(
            pl.lit(
                "no time zone is known for the number's country; the contact is kept with no zone; "
                "add a timezone column to the file"
            )
        )
        .otherwise(pl.lit(None, pl.String))
    )
    return df.select(
        tz.alias("timezone"),
        source.alias("timezone_source"),
        flag.alias("flag"),
        detail.alias("detail"),
    )
