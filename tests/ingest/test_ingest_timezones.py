"""Time zone per contact: explicit → number → default, flagged when unknown, never guessed."""

from __future__ import annotations

import phonenumbers
import polars as pl
import pytest
from phonenumbers.timezone import time_zones_for_number

from smsanalytics.ingest import assign_timezones, normalize_phones
from smsanalytics.ingest.phones import TYPE_NAMES
from smsanalytics.ingest.timezones import zones_for_numbers


def _assign(numbers, explicit=None, **kw):
    phones = normalize_phones(pl.Series(numbers), default_region=kw.get("default_region", "FR"))
    return assign_timezones(
        phones,
        explicit=pl.Series(explicit, dtype=pl.String) if explicit is not None else None,
        **kw,
    ).to_dicts()


def test_ingest_timezone_explicit_column_wins_case_insensitively():
    out = _assign(["+33600000001", "+12025550143"], ["europe/paris", "America/Chicago"])
    assert [(r["timezone"], r["timezone_source"], r["flag"]) for r in out] == [
        ("Europe/Paris", "explicit", None),
        ("America/Chicago", "explicit", None),
    ]


def test_ingest_invalid_explicit_zone_is_flagged_not_guessed():
    out = _assign(["+33600000001"], ["Europe/Pariss"])[0]
    assert out["timezone"] is None and out["timezone_source"] == "unknown"
    assert out["flag"] == "invalid_timezone"
    assert "Europe/Pariss" in out["detail"]


def test_ingest_blank_explicit_falls_through_to_the_number():
    out = _assign(["+33600000001", "+12025550143"], ["", None])
    assert [(r["timezone"], r["timezone_source"]) for r in out] == [
        ("Europe/Paris", "number"),
        ("America/New_York", "number"),
    ]


def test_ingest_area_code_gives_the_zone_in_multi_zone_countries():
    out = _assign(["+13105550143", "+13125550143"])  # Los Angeles, Chicago
    assert [r["timezone"] for r in out] == ["America/Los_Angeles", "America/Chicago"]


def test_ingest_own_country_zone_resolves_shared_prefixes():
    # phonenumbers lists London, Guernsey, Jersey and the Isle of Man for UK mobiles
    out = _assign(["+447400000001"])[0]
    assert (out["timezone"], out["timezone_source"], out["flag"]) == (
        "Europe/London",
        "number",
        None,
    )


def test_ingest_ambiguous_number_is_unknown_and_flagged():
    out = _assign(["+79123456789"])[0]  # a Russian mobile: eleven zones
    assert (out["timezone"], out["timezone_source"], out["flag"]) == (
        None,
        "unknown",
        "ambiguous_timezone",
    )
    assert "Europe/Moscow" in out["detail"]


def test_ingest_ambiguous_number_of_the_default_region_takes_the_default_zone():
    out = _assign(["+79123456789"], default_region="RU", default_timezone="Europe/Moscow")[0]
    assert (out["timezone"], out["timezone_source"], out["flag"]) == (
        "Europe/Moscow",
        "default",
        None,
    )


def test_ingest_unknown_default_timezone_raises():
    phones = normalize_phones(pl.Series(["+33600000001"]))
    with pytest.raises(ValueError, match="IANA"):
        assign_timezones(phones, default_timezone="Mars/Olympus")


def test_ingest_zone_lookup_equals_phonenumbers_for_every_region():
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in TYPE_NAMES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                numbers.append(
                    phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                )
    phones = normalize_phones(pl.Series(numbers))
    zones = zones_for_numbers(phones["phone_e164"], phones["phone_type"])
    for e164, got in zip(phones["phone_e164"], zones, strict=True):
        if e164 is not None:
            assert got == "|".join(time_zones_for_number(phonenumbers.parse(e164))), e164
