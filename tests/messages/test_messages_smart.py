"""Smart encoding: look-alike characters replaced, meaningful letters never touched.

Replacement pairs are checked against Twilio's published Smart Encoding list (the pairs both
tables share) and against Unicode's own compatibility decomposition (NFKC) for fullwidth forms.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsanalytics.messages import SMART_ENCODING_TABLE, apply_smart_encoding, inspect, smart_encode
from smsanalytics.messages.gsm0338 import GSM7_SEPTETS

# A sample of Twilio's smart-encoding list (TwilioDevEd/message-segment-calculator,
# src/libs/SmartEncodingMap.ts) where our table agrees.
TWILIO_PAIRS = {
    "\u201c": '"',
    "\u201d": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u200b": "",
    "\ufeff": "",
    "\u2060": "",
    "\uff01": "!",
    "\uff21": "A",
    "\u2044": "/",
    "\u203c": "!!",
    "\u2022": "-",
    "\u3000": " ",
}


@pytest.mark.parametrize("char,replacement", sorted(TWILIO_PAIRS.items()))
def test_replacements_agree_with_twilio_smart_encoding_list(char, replacement):
    assert SMART_ENCODING_TABLE[char] == replacement
    assert apply_smart_encoding(f"a{char}b")[0] == f"a{replacement}b"


def test_every_replacement_is_gsm7():
    for char, replacement in SMART_ENCODING_TABLE.items():
        assert all(c in GSM7_SEPTETS for c in replacement), (char, replacement)
        assert char not in GSM7_SEPTETS, char


def test_no_break_space_becomes_one_space_not_two_unlike_twilio():
    assert apply_smart_encoding("Soldes\u00a0!")[0] == "Soldes !"


def test_letter_entries_are_only_compatibility_forms_or_apostrophe_modifiers():
    """A letter is replaced only when Unicode says it is a variant (NFKC) or an apostrophe."""
    apostrophes = {"\u02bc", "\u02b9", "\u02c8", "\u02ca", "\u02cb", "\u02ba", "\u02ee"}
    for char, replacement in SMART_ENCODING_TABLE.items():
        if unicodedata.category(char).startswith("L"):
            assert char in apostrophes or unicodedata.normalize("NFKC", char) == replacement, char


@pytest.mark.parametrize(
    "text", ["Reçu", "fête", "Ça", "œuvre", "Ελλάδα", "Москва", "東京", "ʻokina"]
)
def test_meaningful_letters_are_never_replaced(text):
    assert apply_smart_encoding(text)[0] == text


MEANINGFUL = st.characters(categories=["Lu", "Ll", "Lo"]).filter(
    lambda c: c not in SMART_ENCODING_TABLE and unicodedata.is_normalized("NFC", c)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(MEANINGFUL, st.sampled_from(sorted(SMART_ENCODING_TABLE))), max_size=60))
def test_property_letters_survive_and_replacement_is_per_character(chars):
    text = " ".join(chars)  # spaces keep each character its own grapheme
    out = apply_smart_encoding(text)[0]
    assert out == " ".join(apply_smart_encoding(c)[0] for c in chars)
    for c in chars:
        if c not in SMART_ENCODING_TABLE:
            assert apply_smart_encoding(c)[0] == c


def test_diff_reports_positions_in_the_original_text():
    text = "L\u2019offre \u2014 ici\u2026"
    new, changes = apply_smart_encoding(text)
    assert new == "L'offre - ici..."
    assert [(c.position, c.original, c.replacement) for c in changes] == [
        (1, "\u2019", "'"),
        (8, "\u2014", "-"),
        (13, "\u2026", "..."),
    ]
    assert changes[0].reason == "RIGHT SINGLE QUOTATION MARK"


def test_report_shows_effect_on_encoding_segments_and_cost():
    text = "Maison: l\u2019offre d\u2019hiver \u2014 -20% sur tout, jusqu\u2019au 31/01 " + "x" * 40
    report = smart_encode(text, country="FR")
    assert report.original.encoding == "UCS-2" and report.encoded.encoding == "GSM-7"
    assert (report.original.segments_count, report.encoded.segments_count) == (2, 1)
    assert report.segments_saved == 1
    assert report.saving_per_message == pytest.approx(0.045)
    assert inspect(text, smart_encoding=True) == report.encoded


def test_emoji_stays_ucs2_and_zwj_sequences_are_kept_intact():
    text = "Bravo \U0001f3f3\ufe0f\u200d\U0001f308 \u2019"
    new, _ = apply_smart_encoding(text)
    assert "\U0001f3f3\ufe0f\u200d\U0001f308" in new
    assert inspect(new).encoding == "UCS-2"


def test_cp1252_mojibake_quotes_from_the_sms_spam_collection_are_fixed():
    assert apply_smart_encoding("I\x92m here \x93now\x94")[0] == 'I\'m here "now"'
