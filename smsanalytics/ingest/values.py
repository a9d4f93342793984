"""Parsers for the plain values of exports: text, numbers, amounts, booleans, currencies, statuses.

Every parser takes a column as read (text for CSV, native types for Parquet) and returns the
value plus a reason code (NULL when fine, NULL value and NULL reason when blank), so the caller
decides whether a blank is allowed.
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "nulls",
    "constant",
    "clean_text",
    "parse_numbers",
    "parse_integers",
    "parse_booleans",
    "normalize_currency",
    "normalize_receipt_status",
    "CONTROL_CHARACTERS",
    "RECEIPT_STATUSES",
    "ISO_CURRENCIES",
]

#: C0 control characters other than tab, line feed and carriage return, and DEL.
CONTROL_CHARACTERS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"

#: Canonical delivery statuses of ``receipts.status``.
RECEIPT_STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")

#: Provider spellings → canonical status. Twilio: accepted/scheduled/queued/sending/sent/
#: delivered/undelivered/failed/read/canceled; Kannel DLR codes 1/2/4/8/16; SMPP states.
STATUS_SYNONYMS: dict[str, str] = {
    "queued": "queued",
    "accepted": "queued",
    "scheduled": "queued",
    "pending": "queued",
    "buffered": "queued",
    "enroute": "queued",
    "sending": "queued",
    "4": "queued",
    "sent": "sent",
    "submitted": "sent",
    "8": "sent",
    "delivered": "delivered",
    "delivrd": "delivered",
    "read": "delivered",
    "1": "delivered",
    "undelivered": "undelivered",
    "undeliv": "undelivered",
    "expired": "undelivered",
    "2": "undelivered",
    "failed": "failed",
    "rejected": "failed",
    "rejectd": "failed",
    "16": "failed",
}

#: Active ISO 4217 codes.
ISO_CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
    SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS
    VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()
)
_CURRENCY_SYMBOLS = {"€": "EUR", "£": "GBP", "¥": "JPY", "CHF": "CHF", "US$": "USD"}


def nulls(n: int, dtype: pl.DataType | type[pl.DataType] = pl.String, name: str = "") -> pl.Series:
    """A series of ``n`` NULLs (built natively: no Python list)."""
    return pl.repeat(None, n, dtype=dtype, eager=True).alias(name)


def constant(
    value: object, n: int, dtype: pl.DataType | type[pl.DataType] = pl.String, name: str = ""
) -> pl.Series:
    """A series of ``n`` copies of ``value``."""
    return pl.repeat(value, n, dtype=dtype, eager=True).alias(name)


def _none(n: int) -> pl.Series:
    return nulls(n)


def clean_text(values: pl.Series) -> pl.Series:
    """Text with surrounding whitespace removed; empty strings become NULL."""
    text = values.cast(pl.String).str.strip_chars()
    return (
        pl.DataFrame({"t": text})
        .select(
            pl.when(pl.col("t") == "")
            .then(pl.lit(None, pl.String))
            .otherwise(pl.col("t"))
            .alias(values.name)
        )
        .to_series()
    )


def parse_numbers(values: pl.Series) -> pl.DataFrame:
    """Decimal numbers: ``12.5``, ``12,50`` (decimal comma), ``1 234,50``, ``1,234.50``, ``€12.50``.

    When both ``,`` and ``.`` appear the last one is the decimal separator; a lone ``,`` is a
    decimal comma. Returns ``value`` (Float64) and ``reason`` (``invalid_number`` for text that is
    not a finite number).
    """
    if values.dtype.is_numeric():
        v = values.cast(pl.Float64)
        return (
            pl.DataFrame({"value": v})
            .with_columns(
                pl.when(pl.col("value").is_nan() | pl.col("value").is_infinite())
                .then(pl.lit("invalid_number"))
                .otherwise(pl.lit(None, pl.String))
                .alias("reason"),
            )
            .with_columns(pl.when(pl.col("reason").is_null()).then(pl.col("value")).alias("value"))
        )
    text = clean_text(values)
    t = (
        pl.col("t")
        .str.replace_all(r"[\s\u00a0\u202f'’]", "")
        .str.replace(r"^(?:[€£$¥]|US\$|EUR|USD|GBP|CHF)|(?:[€£$¥]|EUR|USD|GBP|CHF)$", "")
    )
    both = t.str.contains(",", literal=True) & t.str.contains(".", literal=True)
    comma_decimal = both & (t.str.replace(r"^.*,", "").str.contains(".", literal=True).not_())
    normalized = (
        pl.when(comma_decimal)
        .then(t.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .when(both)
        .then(t.str.replace_all(",", "", literal=True))
        .when(t.str.count_matches(",", literal=True) > 1)
        .then(t.str.replace_all(",", "", literal=True))
        .otherwise(t.str.replace(",", ".", literal=True))
    )
    valid_shape = normalized.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
    value = pl.when(valid_shape).then(normalized.cast(pl.Float64, strict=False))
    out = pl.DataFrame({"t": text}).select(
        value.alias("value"), pl.col("t").is_null().alias("_blank")
    )
    out = out.with_columns(
        pl.when(pl.col("_blank"))
        .then(pl.lit(None, pl.String))
        .when(pl.col("value").is_null() | pl.col("value").is_nan() | pl.col("value").is_infinite())
        .then(pl.lit("invalid_number"))
        .otherwise(pl.lit(None, pl.String))
        .alias("reason")
    )
    return out.select(
        pl.when(pl.col("reason").is_null()).then(pl.col("value")).alias("value"), "reason"
    )


def parse_integers(values: pl.Series) -> pl.DataFrame:
    """Whole numbers (``3``, ``3.0``); ``3.5`` or text → ``invalid_number``."""
    nums = parse_numbers(values)
    return nums.select(
        pl.when(pl.col("value") == pl.col("value").round(0))
        .then(pl.col("value").cast(pl.Int64, strict=False))
        .alias("value"),
        pl.when(
            pl.col("reason").is_null()
            & pl.col("value").is_not_null()
            & (pl.col("value") != pl.col("value").round(0))
        )
        .then(pl.lit("invalid_number"))
        .otherwise(pl.col("reason"))
        .alias("reason"),
    )


_TRUE = ("true", "t", "yes", "y", "1", "oui", "vrai", "x", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "non", "faux", "0.0")


def parse_booleans(values: pl.Series) -> pl.DataFrame:
    """``true/false``, ``t/f``, ``yes/no``, ``y/n``, ``1/0``, ``oui/non``, ``vrai/faux``, ``x``.

    Returns ``value`` (Boolean) and ``reason`` (``invalid_boolean``).
    """
    if values.dtype == pl.Boolean:
        return pl.DataFrame({"value": values, "reason": _none(len(values))})
    text = clean_text(values).str.to_lowercase()
    return pl.DataFrame({"t": text}).select(
        pl.when(pl.col("t").is_in(_TRUE))
        .then(pl.lit(True))
        .when(pl.col("t").is_in(_FALSE))
        .then(pl.lit(False))
        .otherwise(pl.lit(None, pl.Boolean))
        .alias("value"),
        pl.when(pl.col("t").is_not_null() & ~pl.col("t").is_in(_TRUE + _FALSE))
        .then(pl.lit("invalid_boolean"))
        .otherwise(pl.lit(None, pl.String))
        .alias("reason"),
    )


def normalize_currency(values: pl.Series) -> pl.DataFrame:
    """ISO 4217 codes (case-insensitive; ``€`` and ``£`` accepted); else ``invalid_currency``."""
    text = clean_text(values).str.to_uppercase().replace(_CURRENCY_SYMBOLS)
    return pl.DataFrame({"t": text}).select(
        pl.when(pl.col("t").is_in(sorted(ISO_CURRENCIES))).then(pl.col("t")).alias("value"),
        pl.when(pl.col("t").is_not_null() & ~pl.col("t").is_in(sorted(ISO_CURRENCIES)))
        .then(pl.lit("invalid_currency"))
        .otherwise(pl.lit(None, pl.String))
        .alias("reason"),
    )


def normalize_receipt_status(values: pl.Series) -> pl.DataFrame:
    """Provider statuses → ``queued/sent/delivered/undelivered/failed``, else ``invalid_status``."""
    text = clean_text(values).str.to_lowercase().str.replace_all(r"[\s_\-]", "")
    return pl.DataFrame({"t": text}).select(
        pl.col("t")
        .replace_strict(STATUS_SYNONYMS, default=None, return_dtype=pl.String)
        .alias("value"),
        pl.when(pl.col("t").is_not_null() & ~pl.col("t").is_in(list(STATUS_SYNONYMS)))
        .then(pl.lit("invalid_status"))
        .otherwise(pl.lit(None, pl.String))
        .alias("reason"),
    )
