"""Phone numbers to E.164 with ``phonenumbers``, vectorised.

:func:`normalize_phones` reads raw phone numbers as users' files hold them (``+33 6 12 34 56 78``,
``06 12 34 56 78``, ``0033 6…``, ``+1 (212) 555-0123``, spreadsheet damage such as
``3.3612345678E+10``) and returns the E.164 form, the number type and the country, or a reason
code saying why the number was rejected.

Speed: ``phonenumbers`` costs about 20 µs per number, i.e. 20 s for a million contacts. The common
shapes (``+`` and digits, or national digits of the row's region) are therefore decided by a
*vectorised port* of ``phonenumbers``' own validity test: the region metadata of ``phonenumbers``
(number patterns, possible lengths, national prefix, leading digits) compiled into polars
expressions that reproduce ``parse`` → ``region_code_for_number`` → ``number_type`` exactly. The
vectorised path only ever *accepts* numbers; anything it cannot accept (an invalid number, a
national prefix written after ``+CC``, letters, extensions, unusual prefixes) goes to
``phonenumbers`` itself, once per distinct value, which also gives the precise rejection reason.
``tests/ingest/test_ingest_phones.py`` checks the two paths agree on tens of thousands of
numbers from every region. See ``docs/ingest.md`` for the measured speed.

Decisions (also in ``docs/ingest.md``):

- *Scientific notation* (``3.3612345678E+10``): a spreadsheet turned the number into a float. When
  the mantissa keeps every digit (digits = exponent + 1) the value is exact and is read like the
  digits ``33612345678`` (so the lost ``+`` is restored when that gives a valid number); the row is
  kept and flagged ``repaired_scientific_notation``. Otherwise digits were lost: quarantined as
  ``spreadsheet_scientific_notation``.
- *Lost leading zero* (``612345678`` with region ``FR``): when the zero was only the national
  trunk prefix (France, UK, Germany …) no digit of the number was lost: ``phonenumbers`` reads it as
  ``+33612345678``; the row is kept and flagged ``repaired_lost_leading_zero``. When the zero is
  part of the number (Italian fixed lines: ``06 …``) the number is damaged and is quarantined as
  ``lost_leading_zero``, with the fix in the detail.
- *Missing plus* (``447911123456`` with region ``FR``): when the digits are not a valid national
  number but ``+`` and the digits are a valid international one, the ``+`` is restored and the row
  flagged ``repaired_missing_plus`` (unless a lost leading zero would also explain the digits:
  then the row is quarantined as ``lost_leading_zero``, being ambiguous).
- ``00`` + country code is read as ``+`` whatever the region's international prefix.
- Letters (vanity numbers, ``ext. 12``, names typed in the wrong column) → ``letters_in_phone``.
- Landlines are *kept* with ``phone_type = 'fixed_line'``; send planning excludes them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
import polars as pl
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult
from phonenumbers.phonemetadata import PhoneMetadata

__all__ = ["normalize_phones", "mask_phone", "TYPE_NAMES", "PHONE_RESULT_SCHEMA"]

#: ``phonenumbers`` number types as stored in ``contacts.phone_type``.
TYPE_NAMES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}

#: Columns returned by :func:`normalize_phones`.
PHONE_RESULT_SCHEMA = pl.Schema(
    {
        "phone_e164": pl.String(),
        "phone_type": pl.String(),
        "country": pl.String(),
        "reason": pl.String(),
        "detail": pl.String(),
        "repair": pl.String(),
    }
)

_NON_GEO = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY  # "001"
_COUNTRY_CODES = frozenset(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
# Separators people and spreadsheets put inside numbers; removed before the digits are read.
_SEPARATORS = r"[\s\u00a0\u202f\u2007\u2010-\u2015\u2212\-.()/\[\]]"
_SCIENTIFIC = r"^([0-9])(?:[.,]([0-9]+))?[eE]\+?([0-9]{1,2})$"
_FLOAT_SUFFIX = r"^(\+?[0-9]+)\.0+$"
_DESC_ORDER = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    NumberParseException.NOT_A_NUMBER: "invalid_phone",
    NumberParseException.TOO_SHORT_AFTER_IDD: "phone_too_short",
    NumberParseException.TOO_SHORT_NSN: "phone_too_short",
    NumberParseException.TOO_LONG: "phone_too_long",
}
_POSSIBLE_REASONS = {
    ValidationResult.TOO_SHORT: "phone_too_short",
    ValidationResult.TOO_LONG: "phone_too_long",
    ValidationResult.INVALID_COUNTRY_CODE: "invalid_country_code",
}


def mask_phone(value: str | None) -> str | None:
    """Hide every digit of a phone number except the last two (``+•• • •• •• •• 78``).

    Non-digit characters are kept so the shape of the damage stays visible in quarantine rows.

    >>> mask_phone("+33 6 12 34 56 78")
    '+•• • •• •• •• 78'
    >>> mask_phone("3.3612345678E+10")
    '•.••••••••78E+10'
    """
    if value is None:
        return None
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    # Keep the last two digits of the number itself (before an exponent, if any).
    exp = re.search(r"[eE][+-]?\d+$", value)
    body_end = exp.start() if exp else len(value)
    body = [i for i in digits if i < body_end]
    keep = set(body[-2:]) | {i for i in digits if i >= body_end}
    return "".join("•" if i in set(digits) - keep else ch for i, ch in enumerate(value))


def normalize_phones(
    raw: pl.Series,
    *,
    default_region: str = "FR",
    country_hint: pl.Series | None = None,
) -> pl.DataFrame:
    """Normalise raw phone numbers to E.164.

    Parameters
    ----------
    raw
        Phone numbers as written in the source (any dtype; cast to text). Nulls and blanks give
        reason ``missing_value``.
    default_region
        ISO 3166-1 alpha-2 region used to read numbers written without ``+country``.
    country_hint
        Optional per-row ISO country (e.g. a ``country`` column of the source) used instead of
        ``default_region`` for that row's national-format number; unknown codes are ignored.

    Returns
    -------
    polars.DataFrame
        One row per input row, in order, with columns ``phone_e164`` (``+33612345678``),
        ``phone_type`` (``mobile``, ``fixed_line``, ``fixed_line_or_mobile``, ``voip`` …, see
        :data:`TYPE_NAMES`), ``country`` (ISO alpha-2 of the number; NULL for non-geographic
        numbers), ``reason`` (NULL when valid, else a reason code), ``detail`` (what is wrong and
        how to fix it, without the number) and ``repair`` (NULL, or the flag of a repair applied
        to a kept number: ``repaired_scientific_notation``, ``repaired_lost_leading_zero``,
        ``repaired_missing_plus``).

    Raises
    ------
    ValueError
        When ``default_region`` is not a region known to ``phonenumbers``.

    Examples
    --------
    >>> import polars as pl
    >>> out = normalize_phones(pl.Series(["+33 6 12 34 56 78", "06 12 34 56 78", "12"]))
    >>> out["phone_e164"].to_list()
    ['+33612345678', '+33612345678', None]
    >>> out["reason"].to_list()
    [None, None, 'phone_too_short']
    """
    if default_region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"default_region {default_region!r} is not a region known to phonenumbers; "
            "use an ISO 3166-1 alpha-2 code such as 'FR', 'US', 'GB'"
        )
    values = _as_text(raw)
    if country_hint is not None:
        if len(country_hint) != len(raw):
            raise ValueError("country_hint must have the same length as raw")
        hint = _as_text(country_hint).str.strip_chars().str.to_uppercase()
        region = pl.select(
            pl.when(hint.is_in(sorted(phonenumbers.SUPPORTED_REGIONS)))
            .then(hint)
            .otherwise(pl.lit(default_region))
        ).to_series()
    else:
        region = pl.repeat(default_region, len(raw), dtype=pl.String, eager=True)
    frame = pl.DataFrame({"value": values, "region": region})
    distinct = frame.unique(maintain_order=False)
    result = _normalize_distinct(distinct)
    out = frame.join(
        result, on=["value", "region"], how="left", nulls_equal=True, maintain_order="left"
    )
    return out.select(PHONE_RESULT_SCHEMA.names())


def _as_text(series: pl.Series) -> pl.Series:
    if series.dtype == pl.String:
        return series
    if series.dtype.is_float():
        # 3.3612345678e10 as a float: write it with all its digits, then the '.0' rule applies.
        return pl.Series(
            series.name,
            [
                None if v is None else (f"{v:.1f}" if v == v and abs(v) < 1e20 else repr(v))
                for v in series
            ],
            dtype=pl.String,
        )
    return series.cast(pl.String)


def _normalize_distinct(keys: pl.DataFrame) -> pl.DataFrame:
    """Normalise distinct (value, region) pairs."""
    df = keys.with_columns(
        pl.col("value").str.strip_chars().str.replace(r"(?i)^tel:", "").alias("_v")
    ).with_columns(
        pl.col("_v").str.extract(_SCIENTIFIC, 1).alias("_m_int"),
        pl.col("_v").str.extract(_SCIENTIFIC, 2).fill_null("").alias("_m_frac"),
        pl.col("_v").str.extract(_SCIENTIFIC, 3).cast(pl.Int32).alias("_m_exp"),
    )
    is_sci = pl.col("_m_int").is_not_null()
    sci_digits = pl.col("_m_int") + pl.col("_m_frac")
    sci_exact = is_sci & (sci_digits.str.len_chars() == pl.col("_m_exp") + 1)
    df = df.with_columns(
        pl.when(sci_exact)
        .then(sci_digits)
        .when(pl.col("_v").str.contains(_FLOAT_SUFFIX))
        .then(pl.col("_v").str.extract(_FLOAT_SUFFIX, 1))
        .otherwise(pl.col("_v"))
        .alias("_v"),
        sci_exact.alias("_from_sci"),
        (is_sci & ~sci_exact).alias("_sci_lost"),
    )
    df = df.with_columns(
        pl.when(pl.col("_v").is_null() | (pl.col("_v") == ""))
        .then(pl.lit("missing_value"))
        .when(pl.col("_sci_lost"))
        .then(pl.lit("spreadsheet_scientific_notation"))
        .when(pl.col("_v").str.contains(r"[A-Za-z]"))
        .then(pl.lit("letters_in_phone"))
        .otherwise(pl.lit(None, pl.String))
        .alias("reason"),
    ).with_columns(pl.col("_v").str.replace_all(_SEPARATORS, "").alias("_clean"))

    fast = _fast_path(
        df.filter(pl.col("reason").is_null() & pl.col("_clean").str.contains(r"^\+?[0-9]+$"))
    )
    df = df.join(fast, on=["value", "region"], how="left", nulls_equal=True)
    slow_rows = df.filter(
        pl.col("reason").is_null()
        & pl.col("_fast_e164").is_null()
        & pl.col("_fast_reason").is_null()
    )
    slow = _slow_path(slow_rows)
    df = df.join(slow, on=["value", "region"], how="left", nulls_equal=True)
    df = df.with_columns(
        pl.coalesce("_fast_e164", "_slow_e164").alias("phone_e164"),
        pl.coalesce("_fast_type", "_slow_type").alias("phone_type"),
        pl.coalesce("_fast_country", "_slow_country").alias("country"),
        pl.coalesce("reason", "_fast_reason", "_slow_reason").alias("reason"),
        pl.coalesce("_fast_repair", "_slow_repair").alias("repair"),
    ).with_columns(
        # A number rebuilt from scientific notation: valid → flagged repair; invalid → the notation
        # is the cause to report.
        pl.when(pl.col("_from_sci") & pl.col("reason").is_not_null())
        .then(pl.lit("spreadsheet_scientific_notation"))
        .otherwise(pl.col("reason"))
        .alias("reason"),
        pl.when(pl.col("_from_sci") & pl.col("phone_e164").is_not_null())
        .then(pl.lit("repaired_scientific_notation"))
        .otherwise(pl.col("repair"))
        .alias("repair"),
    )
    return df.with_columns(_detail_expr()).select("value", "region", *PHONE_RESULT_SCHEMA.names())


def _detail_expr() -> pl.Expr:
    r = pl.col("reason")
    region = pl.col("region")
    return (
        pl.when(r == "missing_value")
        .then(pl.lit("the phone number is empty; every contact needs a mobile number"))
        .when(r == "letters_in_phone")
        .then(
            pl.lit(
                "the phone number contains letters; keep only the number (remove names, "
                "'ext.' extensions or notes from the phone column)"
            )
        )
        .when(r == "spreadsheet_scientific_notation")
        .then(
            pl.lit(
                "a spreadsheet turned the number into scientific notation (like 3.36E+10) and "
                "digits were lost; re-export the column formatted as text, or write numbers in "
                "international format (+CC…)"
            )
        )
        .when(r == "lost_leading_zero")
        .then(
            pl.format(
                "the number lost its leading 0 (a spreadsheet read it as a number) and that 0 "
                "is part of numbers in {}; format the column as text and re-export, or write it "
                "in international format (+CC…)",
                region,
            )
        )
        .when(r == "phone_too_short")
        .then(
            pl.format(
                "the number has too few digits to be a phone number of {} (the region used for "
                "numbers without +CC); check it, or write it in international format (+CC…)",
                region,
            )
        )
        .when(r == "phone_too_long")
        .then(
            pl.format(
                "the number has too many digits for {}; check for two numbers in one cell or "
                "extra digits",
                region,
            )
        )
        .when(r == "invalid_country_code")
        .then(
            pl.lit(
                "the number starts with + (or 00) but no country has that calling code; check "
                "the digits after the +"
            )
        )
        .when(r == "invalid_phone")
        .then(
            pl.format(
                "not a valid phone number: its digits match no number range of {} (the region "
                "used for numbers without +CC, see --default-region); check it, or write it in "
                "international format (+CC…) if it belongs to another country",
                region,
            )
        )
        .otherwise(pl.lit(None, pl.String))
        .alias("detail")
    )


# --------------------------------------------------------------------------------------------
# Vectorised path: a port of phonenumbers' parse + region_code_for_number + number_type for
# plain digit strings, driven by phonenumbers' own metadata.
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Region:
    code: str
    metadata: PhoneMetadata


@functools.cache
def _metadata(region: str, country_code: int) -> PhoneMetadata | None:
    return PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)


@functools.cache
def _prefix_customary(region: str) -> bool:
    """Whether national numbers of ``region`` are written with a leading 0 trunk prefix."""
    md = PhoneMetadata.metadata_for_region(region)
    if md is None or md.national_prefix != "0":
        return False
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if example is None:
        example = phonenumbers.example_number(region)
    if example is None:
        return False
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    return national.lstrip("(").startswith("0")


def _matches(nn: pl.Expr, desc: object) -> pl.Expr:
    pattern = getattr(desc, "national_number_pattern", None)
    if desc is None or not pattern:
        return pl.lit(False)
    expr = nn.str.contains(f"^(?:{pattern})$")
    lengths = tuple(getattr(desc, "possible_length", ()) or ())
    if lengths:
        expr = nn.str.len_chars().is_in(list(lengths)) & expr
    return expr


def _type_expr(nn: pl.Expr, md: PhoneMetadata) -> pl.Expr:
    """``_number_type_helper`` of phonenumbers as an expression (NULL = UNKNOWN)."""
    chain = pl.when(~_matches(nn, md.general_desc)).then(pl.lit(None, pl.String))
    for name in _DESC_ORDER:
        chain = chain.when(_matches(nn, getattr(md, name))).then(pl.lit(name))
    fixed = _matches(nn, md.fixed_line)
    mobile = _matches(nn, md.mobile)
    if md.same_mobile_and_fixed_line_pattern:
        chain = chain.when(fixed).then(pl.lit("fixed_line_or_mobile"))
    else:
        chain = (
            chain.when(fixed & mobile)
            .then(pl.lit("fixed_line_or_mobile"))
            .when(fixed)
            .then(pl.lit("fixed_line"))
            .when(mobile)
            .then(pl.lit("mobile"))
        )
    return chain.otherwise(pl.lit(None, pl.String))


def _classify(df: pl.DataFrame, cc: int) -> pl.DataFrame:
    """Region and type of rows with country code ``cc`` and national number ``_nn``."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ())
    nn = pl.col("_nn")
    if not regions:
        return df.with_columns(
            pl.lit(None, pl.String).alias("_country"), pl.lit(None, pl.String).alias("_type")
        )
    if len(regions) == 1:
        md = _metadata(regions[0], cc)
        if md is None:
            return df.with_columns(
                pl.lit(None, pl.String).alias("_country"), pl.lit(None, pl.String).alias("_type")
            )
        return df.with_columns(
            pl.lit(regions[0]).alias("_country"), _type_expr(nn, md).alias("_type")
        )
    # region_code_for_number: the first region whose leading digits match, or (when it has
    # none) for which the number has a type.
    chain: pl.Expr | None = None
    candidates = []
    for code in regions:
        md = PhoneMetadata.metadata_for_region(code, None)
        if md is None:
            continue
        candidates.append((code, md))
        cond = (
            nn.str.contains(f"^(?:{md.leading_digits})")
            if md.leading_digits
            else _type_expr(nn, md).is_not_null()
        )
        chain = (pl.when(cond) if chain is None else chain.when(cond)).then(pl.lit(code))
    if chain is None:
        return df.with_columns(
            pl.lit(None, pl.String).alias("_country"), pl.lit(None, pl.String).alias("_type")
        )
    df = df.with_columns(chain.otherwise(pl.lit(None, pl.String)).alias("_country"))
    type_chain = None
    for code, md in candidates:
        cond = pl.col("_country") == code
        type_chain = (pl.when(cond) if type_chain is None else type_chain.when(cond)).then(
            _type_expr(nn, md)
        )
    return df.with_columns(type_chain.otherwise(pl.lit(None, pl.String)).alias("_type"))


def _length_reason(nn: pl.Expr, md: PhoneMetadata) -> pl.Expr:
    """Reason of ``is_possible_number_with_reason`` for a number that is not valid."""
    desc = md.general_desc
    lengths = [n for n in (getattr(desc, "possible_length", ()) or ()) if n > 0]
    local = [n for n in (getattr(desc, "possible_length_local_only", ()) or ()) if n > 0]
    length = nn.str.len_chars()
    if not lengths:
        return pl.lit("invalid_phone")
    return (
        pl.when(length.is_in(local) if local else pl.lit(False))
        .then(pl.lit("invalid_phone"))
        .when(length < min(lengths))
        .then(pl.lit("phone_too_short"))
        .when(length > max(lengths))
        .then(pl.lit("phone_too_long"))
        .otherwise(pl.lit("invalid_phone"))
    )


def _fast_path(df: pl.DataFrame) -> pl.DataFrame:
    """Decide plain-digit numbers without calling phonenumbers (see module docstring).

    Returns the rows it decided: valid ones with their E.164 form, and invalid ones whose reason
    is certain (``+CC`` numbers, and national numbers written with their trunk prefix). Rows it
    cannot decide exactly are left to :func:`_slow_path`.
    """
    schema = {
        "value": pl.String,
        "region": pl.String,
        "_fast_e164": pl.String,
        "_fast_type": pl.String,
        "_fast_country": pl.String,
        "_fast_repair": pl.String,
        "_fast_reason": pl.String,
    }
    parts: list[pl.DataFrame] = []
    # 00 + country code is read as + whatever the region (the rule of phonenumbers for regions
    # whose international prefix is 00, and of the slow path for the others).
    clean = pl.col("_clean")
    df = df.with_columns(
        pl.when(clean.str.starts_with("00") & ~clean.str.starts_with("000"))
        .then(pl.lit("+") + clean.str.slice(2))
        .otherwise(clean)
        .alias("_clean")
    )
    # International: + then a country calling code (calling codes are prefix-free).
    intl = df.filter(clean.str.starts_with("+")).with_columns(clean.str.slice(1).alias("_d"))
    if intl.height:
        codes = sorted(_COUNTRY_CODES)
        intl = intl.with_columns(
            pl.when(pl.col("_d").str.slice(0, 1).is_in(codes))
            .then(pl.col("_d").str.slice(0, 1))
            .when(pl.col("_d").str.slice(0, 2).is_in(codes))
            .then(pl.col("_d").str.slice(0, 2))
            .when(pl.col("_d").str.slice(0, 3).is_in(codes))
            .then(pl.col("_d").str.slice(0, 3))
            .otherwise(pl.lit(None, pl.String))
            .alias("_cc")
        ).filter(pl.col("_cc").is_not_null())
        intl = intl.with_columns(pl.col("_d").str.slice(pl.col("_cc").str.len_chars()).alias("_nn"))
        for (cc_text,), group in intl.partition_by("_cc", as_dict=True).items():
            cc = int(cc_text)
            md = _metadata(phonenumbers.region_code_for_country_code(cc), cc)
            if md is None:
                continue
            if md.national_prefix_for_parsing:
                # phonenumbers would try to strip a national prefix written after +CC: leave
                # those to it.
                group = group.filter(
                    ~pl.col("_nn").str.contains(f"^(?:{md.national_prefix_for_parsing})")
                )
            group = group.filter(pl.col("_nn").str.len_chars().is_between(2, 17))
            if group.height:
                parts.append(
                    _finish(_classify(group, cc), cc, md, repair=None, certain_invalid=pl.lit(True))
                )
    # National: digits read with the row's region.
    national = df.filter(~clean.str.starts_with("+"))
    for (region,), group in national.partition_by("region", as_dict=True).items():
        md = PhoneMetadata.metadata_for_region(region, None)
        if md is None or md.national_prefix_transform_rule:
            continue
        cc = md.country_code
        keep = ~clean.str.starts_with(str(cc))
        if md.international_prefix:
            keep = keep & ~clean.str.contains(f"^(?:{md.international_prefix})")
        group = group.filter(keep)
        npfp = md.national_prefix_for_parsing
        if npfp:
            stripped = clean.str.replace(f"^(?:{npfp})", "")
            group = group.with_columns(
                stripped.alias("_nn"), (stripped != clean).alias("_had_prefix")
            )
        else:
            group = group.with_columns(clean.alias("_nn"), pl.lit(False).alias("_had_prefix"))
        group = group.filter(pl.col("_nn").str.len_chars().is_between(2, 17))
        if not group.height:
            continue
        repair = (
            pl.when(~pl.col("_had_prefix")).then(pl.lit("repaired_lost_leading_zero"))
            if _prefix_customary(region)
            else None
        )
        # An invalid number is certain (no rescue of the slow path applies) when it starts with
        # 0, its trunk prefix was stripped, the digits with the prefix do not fit the region's
        # pattern, and the stripped digits have a possible length or are too long: then
        # phonenumbers keeps the stripped digits and reports their length problem.
        desc = md.general_desc
        lengths = [n for n in (getattr(desc, "possible_length", ()) or ()) if n > 0]
        local = [n for n in (getattr(desc, "possible_length_local_only", ()) or ()) if n > 0]
        nn_len = pl.col("_nn").str.len_chars()
        pattern = getattr(desc, "national_number_pattern", None)
        certain = (
            clean.str.starts_with("0")
            & pl.col("_had_prefix")
            & (~clean.str.contains(f"^(?:{pattern})$") if pattern else pl.lit(True))
            & ((nn_len.is_in(lengths) | (nn_len > max(lengths))) if lengths else pl.lit(False))
            & (~nn_len.is_in(local) if local else pl.lit(True))
        )
        parts.append(_finish(_classify(group, cc), cc, md, repair=repair, certain_invalid=certain))
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts, how="vertical")


def _finish(
    df: pl.DataFrame, cc: int, md: PhoneMetadata, repair: pl.Expr | None, certain_invalid: pl.Expr
) -> pl.DataFrame:
    valid = pl.col("_type").is_not_null()
    main = _metadata(phonenumbers.region_code_for_country_code(cc), cc) or md
    repair_expr = (
        repair.otherwise(pl.lit(None, pl.String)) if repair is not None else pl.lit(None, pl.String)
    )
    return (
        df.filter(valid | certain_invalid)
        .with_columns(
            pl.when(valid).then(pl.lit(f"+{cc}") + pl.col("_nn")).alias("_fast_e164"),
            pl.col("_type").alias("_fast_type"),
            pl.when(valid & (pl.col("_country") != _NON_GEO))
            .then(pl.col("_country"))
            .alias("_fast_country"),
            pl.when(valid).then(repair_expr).alias("_fast_repair"),
            pl.when(~valid).then(_length_reason(pl.col("_nn"), main)).alias("_fast_reason"),
        )
        .select(
            "value",
            "region",
            "_fast_e164",
            "_fast_type",
            "_fast_country",
            "_fast_repair",
            "_fast_reason",
        )
    )


# --------------------------------------------------------------------------------------------
# phonenumbers itself, once per distinct value: everything the fast path did not accept.
# --------------------------------------------------------------------------------------------
def _slow_path(df: pl.DataFrame) -> pl.DataFrame:
    out: dict[str, list] = {
        k: []
        for k in (
            "value",
            "region",
            "_slow_e164",
            "_slow_type",
            "_slow_country",
            "_slow_reason",
            "_slow_repair",
        )
    }
    for value, region, text in df.select("value", "region", "_v").iter_rows():
        e164, kind, country, reason, repair = _normalize_one(text, region)
        out["value"].append(value)
        out["region"].append(region)
        out["_slow_e164"].append(e164)
        out["_slow_type"].append(kind)
        out["_slow_country"].append(country)
        out["_slow_reason"].append(reason)
        out["_slow_repair"].append(repair)
    return pl.DataFrame(out, schema={k: pl.String for k in out})


@functools.cache
def _national_prefix(region: str) -> str | None:
    md = PhoneMetadata.metadata_for_region(region, None)
    return md.national_prefix if md is not None else None


def _trunk_prefixed(digits: str, region: str) -> bool:
    prefix = _national_prefix(region)
    return bool(prefix) and digits.startswith(prefix)


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _valid(number: phonenumbers.PhoneNumber | None) -> bool:
    return number is not None and phonenumbers.is_valid_number(number)


def _result(number: phonenumbers.PhoneNumber, repair: str | None) -> tuple:
    country = phonenumbers.region_code_for_number(number)
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        TYPE_NAMES.get(phonenumbers.number_type(number), "unknown"),
        None if country in (None, _NON_GEO, "ZZ") else country,
        None,
        repair,
    )


def _normalize_one(text: str, region: str) -> tuple:
    """(e164, type, country, reason, repair) of one raw number with phonenumbers."""
    clean = re.sub(_SEPARATORS, "", text)
    digits_only = clean.isdigit() and clean.isascii()
    if digits_only and clean.startswith("00") and not clean.startswith("000"):
        # 00 + country code is read as + whatever the region's international prefix.
        text = clean = "+" + clean[2:]
        digits_only = False
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        number = None
        reason = _PARSE_REASONS.get(exc.error_type, "invalid_phone")
    else:
        if phonenumbers.is_valid_number(number):
            repair = None
            if digits_only and not clean.startswith("0"):
                nsn = phonenumbers.national_significant_number(number)
                if clean == nsn and _prefix_customary(region):
                    repair = "repaired_lost_leading_zero"
                elif clean == f"{number.country_code}{nsn}" and not _trunk_prefixed(clean, region):
                    # (not when the leading digits are the region's own trunk prefix, as the 1 of
                    # 1-212-555-0123 in the US: then nothing was missing)
                    repair = "repaired_missing_plus"
            return _result(number, repair)
        possible = phonenumbers.is_possible_number_with_reason(number)
        reason = _POSSIBLE_REASONS.get(possible, "invalid_phone")
    if digits_only and not clean.startswith("0"):
        if _valid(_parse("0" + clean, region)):
            return (None, None, None, "lost_leading_zero", None)
        rescued = _parse("+" + clean, None)
        if _valid(rescued):
            return _result(rescued, "repaired_missing_plus")
    return (None, None, None, reason, None)
