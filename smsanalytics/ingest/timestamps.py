"""Timestamps and dates from exports, to UTC.

Accepted (tried in this order, per value; the first format that reads the whole value wins):

- ISO 8601 with an offset or ``Z``: ``2024-03-01T14:05:00Z``, ``2024-03-01 14:05:00+01:00``,
  fractions of a second allowed → converted to UTC. ``… UTC`` / ``… GMT`` suffixes mean ``Z``.
- RFC 2822 as in Twilio's API and exports: ``Fri, 01 Mar 2024 14:05:00 +0000``.
- Naive ISO-like: ``2024-03-01 14:05:00``, ``2024-03-01T14:05``, ``2024/03/01 14:05:00``, a bare
  date ``2024-03-01`` (midnight).
- Day/month or month/day: ``01/03/2024 14:05[:00]``, ``01/03/2024``, ``01.03.2024 14:05``,
  12-hour US ``3/1/2024 2:05:00 PM``. ``dayfirst=False`` (default) reads ``01/03/2024`` as
  3 January (US order); ``dayfirst=True`` as 1 March (European order). A value that only reads
  the other way (``13/03/2024`` without ``dayfirst``) is *not* silently swapped: it is invalid,
  and the detail suggests ``--dayfirst``.

Naive values are wall-clock times in ``source_timezone`` (default ``UTC``; an export from a
French back-office usually wants ``Europe/Paris``). A wall-clock time that does not exist in that
zone (the hour skipped when clocks go forward) is rejected (``nonexistent_local_time``); one that
occurs twice (the hour repeated when clocks go back) takes the *first* occurrence and is flagged
``ambiguous_local_time``.

Parquet columns that are already ``Datetime`` are used as they are (naive ones are in
``source_timezone``), ``Date`` columns are midnight.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import polars as pl

from smsanalytics.ingest.values import nulls

__all__ = ["parse_timestamps", "parse_dates", "TIMESTAMP_FORMATS"]

_AWARE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
    "%Y-%m-%d %H:%M%#z",
    "%a, %d %b %Y %H:%M:%S %z",
    "%d %b %Y %H:%M:%S %z",
)
_NAIVE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
)
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
_DAYFIRST = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
)
_DAYFIRST_DATES = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")
_MONTHFIRST = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p")
_MONTHFIRST_DATES = ("%m/%d/%Y",)

#: Every format tried, for the documentation.
TIMESTAMP_FORMATS = {
    "with offset": _AWARE_FORMATS,
    "naive": _NAIVE_FORMATS + _DATE_FORMATS,
    "dayfirst=True": _DAYFIRST + _DAYFIRST_DATES,
    "dayfirst=False": _MONTHFIRST + _MONTHFIRST_DATES,
}

_UTC = pl.Datetime("us", "UTC")


def _check_zone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"source_timezone {name!r} is not an IANA time zone, e.g. 'UTC' or 'Europe/Paris'"
        ) from None


def _prepare(text: pl.Expr) -> pl.Expr:
    text = text.str.strip_chars()
    # 'Z', ' UTC', ' GMT' → '+00:00' so one family of formats reads them.
    return text.str.replace(r"(?i)(?:\s*(?:Z|UTC|GMT))$", "+00:00")


def _localize(naive: pl.Expr, zone: str, ambiguous: str) -> pl.Expr:
    return naive.dt.replace_time_zone(
        zone, ambiguous=ambiguous, non_existent="null"
    ).dt.convert_time_zone("UTC")


def parse_timestamps(
    values: pl.Series,
    *,
    source_timezone: str = "UTC",
    dayfirst: bool = False,
) -> pl.DataFrame:
    """Read timestamps to UTC.

    Parameters
    ----------
    values
        Text (any of the formats in the module docstring), or ``Datetime`` / ``Date`` values.
    source_timezone
        IANA zone of naive values. Default ``UTC``.
    dayfirst
        Read ``01/03/2024`` as 1 March (True) or 3 January (False).

    Returns
    -------
    polars.DataFrame
        Same length: ``value`` (``Datetime("us", "UTC")``, NULL when blank or unreadable),
        ``reason`` (NULL, ``invalid_timestamp`` or ``nonexistent_local_time``) and ``flag`` (NULL or
        ``ambiguous_local_time``). Blank input gives NULL value and NULL reason.

    Examples
    --------
    >>> import polars as pl
    >>> out = parse_timestamps(pl.Series(["2024-03-01T14:05:00Z", "Fri, 01 Mar 2024 14:05:00 +0000",
    ...                                   "2024-03-01 15:05:00", "yesterday"]),
    ...                        source_timezone="Europe/Paris")
    >>> [v.isoformat() if v else None for v in out["value"]]
    ['2024-03-01T14:05:00+00:00', '2024-03-01T14:05:00+00:00', '2024-03-01T14:05:00+00:00', None]
    >>> out["reason"].to_list()
    [None, None, None, 'invalid_timestamp']
    """
    _check_zone(source_timezone)
    dtype = values.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        value = values.dt.convert_time_zone("UTC").cast(_UTC)
        return pl.DataFrame(
            {"value": value, "reason": _nulls(len(values)), "flag": _nulls(len(values))}
        )
    if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        naive = values.cast(pl.Datetime("us"))
        aware = nulls(len(values), _UTC)
        blank = values.is_null()
    else:
        text = pl.DataFrame({"v": values.cast(pl.String)}).select(_prepare(pl.col("v"))).to_series()
        blank = text.is_null() | (text == "")
        aware, naive = _parse_text(text, dayfirst)
    frame = pl.DataFrame({"aware": aware, "naive": naive, "blank": blank}).with_columns(
        _localize(pl.col("naive"), source_timezone, "null").alias("_strict"),
        _localize(pl.col("naive"), source_timezone, "earliest").alias("_earliest"),
    )
    return frame.select(
        pl.coalesce("aware", "_earliest").cast(_UTC).alias("value"),
        pl.when(pl.col("blank"))
        .then(pl.lit(None, pl.String))
        .when(pl.col("aware").is_null() & pl.col("naive").is_null())
        .then(pl.lit("invalid_timestamp"))
        .when(pl.col("aware").is_null() & pl.col("_earliest").is_null())
        .then(pl.lit("nonexistent_local_time"))
        .otherwise(pl.lit(None, pl.String))
        .alias("reason"),
        pl.when(
            pl.col("aware").is_null()
            & pl.col("_strict").is_null()
            & pl.col("_earliest").is_not_null()
        )
        .then(pl.lit("ambiguous_local_time"))
        .otherwise(pl.lit(None, pl.String))
        .alias("flag"),
    )


def _nulls(n: int) -> pl.Series:
    return nulls(n, pl.String)


def _parse_text(text: pl.Series, dayfirst: bool) -> tuple[pl.Series, pl.Series]:
    """(aware UTC values, naive values) of text timestamps; each value is parsed once.

    Formats must match the whole value, so at most one family can read a value; the formats are
    tried on the distinct values that are still unread, most common first.
    """
    naive_fmts = _NAIVE_FORMATS + (_DAYFIRST if dayfirst else _MONTHFIRST)
    date_fmts = _DATE_FORMATS + (_DAYFIRST_DATES if dayfirst else _MONTHFIRST_DATES)
    plan: list[tuple[str, str]] = (
        [("naive", f) for f in _NAIVE_FORMATS[:2]]
        + [("aware", f) for f in _AWARE_FORMATS]
        + [("naive", f) for f in naive_fmts[2:]]
        + [("date", f) for f in date_fmts]
    )
    remaining = text.drop_nulls().unique()
    remaining = remaining.filter(remaining != "")
    found: list[pl.DataFrame] = []
    for kind, fmt in plan:
        if remaining.len() == 0:
            break
        if kind == "aware":
            parsed = remaining.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
        elif kind == "naive":
            parsed = remaining.str.to_datetime(fmt, strict=False, time_unit="us")
        else:
            parsed = remaining.str.to_date(fmt, strict=False).cast(pl.Datetime("us"))
        hit = parsed.is_not_null()
        if bool(hit.any()):
            found.append(
                pl.DataFrame(
                    {
                        "t": remaining.filter(hit),
                        "aware": parsed.filter(hit)
                        if kind == "aware"
                        else nulls(int(hit.sum()), _UTC),
                        "naive": parsed.filter(hit).cast(pl.Datetime("us"))
                        if kind != "aware"
                        else nulls(int(hit.sum()), pl.Datetime("us")),
                    },
                    schema={"t": pl.String, "aware": _UTC, "naive": pl.Datetime("us")},
                )
            )
            remaining = remaining.filter(~hit)
    lookup = (
        pl.concat(found)
        if found
        else pl.DataFrame(schema={"t": pl.String, "aware": _UTC, "naive": pl.Datetime("us")})
    )
    out = pl.DataFrame({"t": text}).join(lookup, on="t", how="left", maintain_order="left")
    return out["aware"], out["naive"]


def parse_dates(values: pl.Series, *, dayfirst: bool = False) -> pl.DataFrame:
    """Read calendar dates (birthdays): ``2024-03-01``, ``01/03/2024`` (see ``dayfirst``) ….

    A timestamp at midnight (``1990-05-17 00:00:00``, as spreadsheets export dates) is read as its
    date. Returns ``value`` (``Date``) and ``reason`` (NULL or ``invalid_date``); blanks give NULL.
    """
    dtype = values.dtype
    if dtype == pl.Date:
        return pl.DataFrame({"value": values, "reason": nulls(len(values), pl.String)})
    if isinstance(dtype, pl.Datetime):
        return pl.DataFrame({"value": values.dt.date(), "reason": nulls(len(values), pl.String)})
    text = pl.col("v").cast(pl.String).str.strip_chars()
    text = text.str.replace(r"[ T]00:00(?::00(?:\.0+)?)?$", "")
    fmts = _DATE_FORMATS + (_DAYFIRST_DATES if dayfirst else _MONTHFIRST_DATES)
    value = pl.coalesce(*[text.str.to_date(f, strict=False) for f in fmts])
    blank = text.is_null() | (text == "")
    return pl.DataFrame({"v": values}).select(
        value.alias("value"),
        pl.when(~blank & value.is_null())
        .then(pl.lit("invalid_date"))
        .otherwise(pl.lit(None, pl.String))
        .alias("reason"),
    )


def utc_now() -> dt.datetime:
    """The current time in UTC (one place, so tests can reason about 'the future')."""
    return dt.datetime.now(dt.UTC)
