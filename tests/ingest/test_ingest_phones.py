"""Phone normalisation: formats, spreadsheet damage, reasons, and agreement with phonenumbers."""

from __future__ import annotations

import random

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsanalytics.ingest import mask_phone, normalize_phones
from smsanalytics.ingest.phones import TYPE_NAMES, _normalize_one

CASES = [
    # raw, region, e164, type, reason, repair
    ("+33 6 00 00 00 01", "FR", "+33600000001", "mobile", None, None),
    ("06 00 00 00 01", "FR", "+33600000001", "mobile", None, None),
    ("06.00.00.00.01", "FR", "+33600000001", "mobile", None, None),
    ("+33 (0)6 00 00 00 01", "FR", "+33600000001", "mobile", None, None),
    ("0033 6 00 00 00 01", "FR", "+33600000001", "mobile", None, None),
    ("0033600000001", "US", "+33600000001", "mobile", None, None),  # 00 read as + in any region
    ("+1 (202) 555-0143", "FR", "+12025550143", "fixed_line_or_mobile", None, None),
    ("(202) 555-0143", "US", "+12025550143", "fixed_line_or_mobile", None, None),
    ("01 99 00 00 06", "FR", "+33199000006", "fixed_line", None, None),  # landline kept
    ("tel:+33600000001", "FR", "+33600000001", "mobile", None, None),
    ("  +33600000001 ", "FR", "+33600000001", "mobile", None, None),
    ("3.3600000001E+10", "FR", "+33600000001", "mobile", None, "repaired_scientific_notation"),
    ("3,3600000001E+10", "FR", "+33600000001", "mobile", None, "repaired_scientific_notation"),
    ("3.36E+10", "FR", None, None, "spreadsheet_scientific_notation", None),
    ("600000001", "FR", "+33600000001", "mobile", None, "repaired_lost_leading_zero"),
    (
        "612345678",
        "IT",
        None,
        None,
        "lost_leading_zero",
        None,
    ),  # the 0 of Italian landlines is part of the number
    ("33600000001", "FR", "+33600000001", "mobile", None, "repaired_missing_plus"),
    ("447400000001", "FR", "+447400000001", "mobile", None, "repaired_missing_plus"),
    ("33600000001.0", "FR", "+33600000001", "mobile", None, "repaired_missing_plus"),
    ("06 00 CALL ME", "FR", None, None, "letters_in_phone", None),
    ("+33 6 00 00 00 01 ext. 12", "FR", None, None, "letters_in_phone", None),
    ("12345", "FR", None, None, "phone_too_short", None),
    ("+33 6 00 00 00 01 23 45", "FR", None, None, "phone_too_long", None),
    ("+999 123456789", "FR", None, None, "invalid_country_code", None),
    ("+1 555 123 4567", "FR", None, None, "invalid_phone", None),
    ("", "FR", None, None, "missing_value", None),
    (None, "FR", None, None, "missing_value", None),
]


@pytest.mark.parametrize(("raw", "region", "e164", "kind", "reason", "repair"), CASES)
def test_ingest_normalize_phone_cases(raw, region, e164, kind, reason, repair):
    out = normalize_phones(pl.Series([raw], dtype=pl.String), default_region=region).row(
        0, named=True
    )
    assert (out["phone_e164"], out["phone_type"], out["reason"], out["repair"]) == (
        e164,
        kind,
        reason,
        repair,
    )
    if reason:
        assert out["detail"], "every rejection explains itself"
        assert "0600" not in (out["detail"] or "")


def test_ingest_normalize_keeps_order_and_duplicates():
    raw = pl.Series(["06 00 00 00 02", "+33600000001", "06 00 00 00 02", None, "0600000001"])
    out = normalize_phones(raw)
    assert out.height == 5
    assert out["phone_e164"].to_list() == [
        "+33600000002",
        "+33600000001",
        "+33600000002",
        None,
        "+33600000001",
    ]


def test_ingest_country_hint_reads_national_numbers_per_row():
    out = normalize_phones(
        pl.Series(["(202) 555-0143", "06 00 00 00 01", "07400 000001"]),
        default_region="FR",
        country_hint=pl.Series(["us", None, "GB"]),
    )
    assert out["phone_e164"].to_list() == ["+12025550143", "+33600000001", "+447400000001"]
    assert out["country"].to_list() == ["US", "FR", "GB"]


def test_ingest_numeric_dtypes_from_parquet():
    out = normalize_phones(pl.Series([33600000001, 600000001], dtype=pl.Int64))
    assert out["phone_e164"].to_list() == ["+33600000001", "+33600000001"]
    out = normalize_phones(pl.Series([33600000001.0]))
    assert out["phone_e164"].to_list() == ["+33600000001"]


def test_ingest_unknown_default_region_raises():
    with pytest.raises(ValueError, match="default_region"):
        normalize_phones(pl.Series(["0600000001"]), default_region="XX")


def _sample_numbers(regions: list[str], seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    values, hints = [], []
    for region in regions:
        for kind in TYPE_NAMES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for fmt in (
                phonenumbers.PhoneNumberFormat.E164,
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.NATIONAL,
            ):
                text = phonenumbers.format_number(example, fmt)
                digits = [i for i, ch in enumerate(text) if ch.isdigit()]
                mutated = list(text)
                k = rng.choice(digits)
                mutated[k] = str(rng.randint(0, 9))
                for candidate in (
                    text,
                    text[:-1],
                    text + "5",
                    "".join(mutated),
                    "".join(ch for ch in text if ch.isdigit()),
                ):
                    values.append(candidate)
                    hints.append(rng.choice([region, "FR", "US", "IT"]))
    return values, hints


def _agree(values: list[str], hints: list[str]) -> None:
    out = normalize_phones(pl.Series(values), country_hint=pl.Series(hints))
    for value, hint, row in zip(values, hints, out.iter_rows(named=True), strict=True):
        expected = _normalize_one(value.strip(), hint)
        got = (row["phone_e164"], row["phone_type"], row["country"], row["reason"], row["repair"])
        assert got == expected, (value, hint)
        # the accepted numbers are exactly phonenumbers' valid numbers
        if row["phone_e164"] is not None:
            parsed = phonenumbers.parse(row["phone_e164"])
            assert phonenumbers.is_valid_number(parsed)
            assert TYPE_NAMES[phonenumbers.number_type(parsed)] == row["phone_type"]


def test_ingest_vectorised_path_agrees_with_phonenumbers_sample():
    """The vectorised path gives phonenumbers' answer (sampled regions; all in the slow test)."""
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    rng = random.Random(7)
    sample = sorted(
        set(rng.sample(regions, 25))
        | {"FR", "US", "GB", "DE", "IT", "BR", "AR", "MX", "RU", "CA", "AU", "IN", "CN", "BE", "CH"}
    )
    _agree(*_sample_numbers(sample, seed=1))


@pytest.mark.slow
def test_ingest_vectorised_path_agrees_with_phonenumbers_all_regions():
    _agree(*_sample_numbers(sorted(phonenumbers.SUPPORTED_REGIONS), seed=2))


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10**8 - 1), st.sampled_from(["6", "7"]))
def test_ingest_normalisation_is_idempotent(n, first):
    raw = f"0{first}{n:08d}"
    out = normalize_phones(pl.Series([raw]))
    e164 = out["phone_e164"][0]
    if e164 is not None:
        again = normalize_phones(pl.Series([e164]))
        assert again["phone_e164"][0] == e164
        assert again["phone_type"][0] == out["phone_type"][0]


def test_ingest_mask_phone_keeps_only_two_digits():
    assert mask_phone("+33 6 00 00 00 01") == "+•• • •• •• •• 01"
    assert mask_phone("3.3612345678E+10") == "•.••••••••78E+10"
    assert mask_phone(None) is None
