"""Encoding, segments and split, checked against Twilio's segment calculator and 3GPP rules.

Reference values come from Twilio's open-source Message Segment Calculator
(TwilioDevEd/message-segment-calculator, ``tests/index.test.js`` and ``tests/segments.test.js``),
and an independent re-implementation of its bit-level algorithm below (segments of 1120 bits,
a 48-bit user data header pushed into each segment of a concatenated message, characters popped
from the end of a segment until it fits), fed with a GSM table parsed from the vendored
Unicode ``GSM0338.TXT``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from smsanalytics.messages import inspect, split_graphemes
from smsanalytics.messages.gsm0338 import (
    BASIC_ALPHABET,
    DEVIATIONS_FROM_UNICODE_TABLE,
    EXTENSION_TABLE,
    GSM7_SEPTETS,
)

GSM0338_TXT = Path(__file__).resolve().parents[2] / "data" / "external" / "gsm0338" / "GSM0338.TXT"

DIGITS = "1234567890" * 40


# ---------------------------------------------------------------------------------------------
# The GSM table against the Unicode mapping file
# ---------------------------------------------------------------------------------------------
def _unicode_table() -> dict[str, tuple[int, int]]:
    """Unicode character -> (code, septets) from GSM0338.TXT data lines."""
    table = {}
    for line in GSM0338_TXT.read_text(encoding="utf-8").splitlines():
        if not line.startswith("0x"):
            continue
        gsm, uni = line.split("\t")[:2]
        code = int(gsm, 16)
        table[chr(int(uni, 16))] = (code & 0x7F, 2 if code > 0xFF else 1)
    return table


def test_gsm_table_equals_unicode_gsm0338_txt_up_to_the_documented_twilio_deviations():
    unicode_table = _unicode_table()
    assert len(unicode_table) == 138  # 128 basic (incl. ESC->NBSP) + 10 extension
    ours = {c: (code, 1) for c, code in BASIC_ALPHABET.items()} | {
        c: (code, 2) for c, code in EXTENSION_TABLE.items()
    }
    differing = {c for c in set(unicode_table) | set(ours) if unicode_table.get(c) != ours.get(c)}
    assert differing == set(DEVIATIONS_FROM_UNICODE_TABLE) == {"ç", "Ç", "\u00a0"}
    assert ours["Ç"] == (0x09, 1) and "ç" not in ours and "\u00a0" not in ours


# ---------------------------------------------------------------------------------------------
# Twilio calculator reference cases (tests/index.test.js)
# ---------------------------------------------------------------------------------------------
TWILIO_CASES = [
    # description, body, encoding, segments, message bits, total bits, characters, scalars
    ("GSM-7 in one segment", DIGITS[:160], "GSM-7", 1, 1120, 1120, 160, 160),
    ("GSM-7 in two segments", DIGITS[:161], "GSM-7", 2, 1127, 1223, 161, 161),
    ("GSM-7 in three segments", DIGITS[:307], "GSM-7", 3, 2149, 2293, 307, 307),
    ("UCS-2 in one segment", "😜" + DIGITS[1:69], "UCS-2", 1, 1120, 1120, 69, 69),
    ("UCS-2 in two segments", "😜" + DIGITS[1:70], "UCS-2", 2, 1136, 1232, 70, 70),
    ("UCS-2 in three segments", "😜" + DIGITS[1:134], "UCS-2", 3, 2160, 2304, 134, 134),
    ("flag at one-segment boundary", "🇮🇹" + DIGITS[1:67], "UCS-2", 1, 1120, 1120, 67, 68),
    ("flag at two-segment boundary", "🇮🇹" + DIGITS[1:68], "UCS-2", 2, 1136, 1232, 68, 69),
    ("ZWJ sequence one segment", "🏳️‍🌈" + DIGITS[1:65], "UCS-2", 1, 1120, 1120, 65, 68),
    ("ZWJ sequence two segments", "🏳️‍🌈" + DIGITS[1:66], "UCS-2", 2, 1136, 1232, 66, 69),
]


@pytest.mark.parametrize(
    "body,encoding,segments,message_bits,total_bits,characters,scalars",
    [case[1:] for case in TWILIO_CASES],
    ids=[case[0] for case in TWILIO_CASES],
)
def test_matches_twilio_segment_calculator_basic_cases(
    body, encoding, segments, message_bits, total_bits, characters, scalars
):
    info = inspect(body)
    assert info.encoding == encoding
    assert info.segments_count == segments
    assert info.message_size_bits == message_bits
    assert info.total_size_bits == total_bits
    assert info.characters == characters
    assert info.unicode_scalars == scalars
    assert "".join(info.parts) == body


def test_twilio_segments_analysis_last_segment_holds_one_character():
    """tests/segments.test.js: 307 GSM digits -> 153 + 153 + 1; 😜 + 133 digits -> 67+67+1 units."""
    gsm = inspect(DIGITS[:307])
    assert [len(p) for p in gsm.parts] == [153, 153, 1] and gsm.parts[2] == "7"
    ucs = inspect("😜" + DIGITS[1:134])
    assert ucs.parts[2] == "4" and len(ucs.parts[0]) == 66  # emoji (2 units) + 65 digits = 67


@pytest.mark.parametrize("escape", ["|", "^", "€", "{", "}", "[", "]", "~", "\\"])
def test_twilio_escape_characters_count_two_septets(escape):
    one = inspect(escape + DIGITS[:158])
    assert (one.encoding, one.segments_count, one.message_size_bits) == ("GSM-7", 1, 1120)
    two = inspect(escape + DIGITS[:159])
    assert (two.segments_count, two.message_size_bits, two.total_size_bits) == (2, 1127, 1223)


@pytest.mark.parametrize("char", ["Á", "Ú", "ú", "ç", "í", "Í", "ó", "Ó"])
def test_twilio_one_grapheme_ucs2_characters_including_small_c_cedilla(char):
    """Twilio bills ç as UCS-2 (0x09 is Ç there): 70 × ç is one segment, 71 × ç two."""
    assert inspect(char * 70).segments_count == 1
    assert inspect(char * 71).segments_count == 2
    assert inspect(char * 71).encoding == "UCS-2"
    assert inspect(char).non_gsm_characters == (char,)


def test_capital_c_cedilla_is_gsm7_like_twilio():
    assert inspect("Ç" * 160).encoding == "GSM-7"
    assert inspect("Ç" * 160).segments_count == 1


def test_twilio_ucs2_message_with_gsm_extension_characters_counts_one_unit_each():
    assert inspect("😀" + "]" * 68).segments_count == 1
    assert inspect("😀" + "]" * 69).segments_count == 2


def test_twilio_line_breaks_crlf_counts_two_characters():
    assert inspect("\rabcde\r\n123").characters == 11
    assert inspect("\rabcde\r\n123").code_units == 11
    assert inspect("\nabcde\n\n123\n").characters == 12
    assert split_graphemes("a\r\nb") == ["a", "\r", "\n", "b"]


def test_twilio_triple_accent_is_one_character_four_scalars_and_not_split():
    triple = "e\u0301\u0301\u0301"
    info = inspect(triple)
    assert (info.characters, info.unicode_scalars, info.encoding) == (1, 4, "UCS-2")
    assert inspect(triple + "a" * 66).segments_count == 1
    assert inspect(triple + "a" * 67).segments_count == 2


def test_combining_accent_forces_ucs2_unless_smart_encoding_composes_it():
    decomposed = "Cafe\u0301"
    assert inspect(decomposed).encoding == "UCS-2"
    assert inspect(decomposed).non_gsm_characters == ("e\u0301",)
    assert inspect(decomposed, smart_encoding=True).encoding == "GSM-7"
    assert inspect(decomposed, smart_encoding=True).text == "Café"


def test_euro_sign_is_an_extension_character_of_two_septets():
    info = inspect("€")
    assert (info.encoding, info.code_units, info.message_size_bits) == ("GSM-7", 2, 14)
    assert inspect("€" * 80).segments_count == 1
    assert inspect("€" * 81).segments_count == 2


def test_escape_pair_never_split_at_153_septet_boundary():
    """152 plain septets then '€': the pair does not fit the first segment and moves whole."""
    text = "a" * 152 + "€" + "b" * 10
    info = inspect(text)
    assert info.segments_count == 2
    assert info.parts[0] == "a" * 152 and info.parts[1].startswith("€")


def test_surrogate_pair_and_grapheme_never_split():
    text = "a" * 66 + "👍🏽" + "b" * 10  # thumbs up + skin tone: 4 UTF-16 units, one grapheme
    info = inspect(text)
    assert info.parts[0] == "a" * 66 and info.parts[1].startswith("👍🏽")


def test_empty_message_is_one_gsm_segment_like_twilio():
    info = inspect("")
    assert (info.encoding, info.segments_count, info.parts, info.total_size_bits) == (
        "GSM-7",
        1,
        ("",),
        0,
    )


def test_non_gsm_characters_in_order_without_repeats():
    assert inspect("😀 ça 😀 ô ç").non_gsm_characters == ("😀", "ç", "ô")


def test_inspect_rejects_non_string_with_a_clear_message():
    with pytest.raises(TypeError, match="text must be a str"):
        inspect(b"bytes")  # type: ignore[arg-type]


def test_inspect_is_fast_enough_per_distinct_text():
    texts = [
        f"Bonjour client {i}, -20% ce week-end avec le code ANNIV{i}. STOP au 36180"
        for i in range(20_000)
    ]
    start = time.perf_counter()
    for text in texts:
        inspect(text)
    assert time.perf_counter() - start < 2.0  # ~10 µs each on the reference machine


# ---------------------------------------------------------------------------------------------
# Independent reference: Twilio's bit-level algorithm, GSM table parsed from GSM0338.TXT
# ---------------------------------------------------------------------------------------------
def _twilio_gsm_table() -> dict[str, int]:
    table = {c: s for c, (_, s) in _unicode_table().items()}
    del table["ç"], table["\u00a0"]
    table["Ç"] = 1
    return table


_REF_GSM = _twilio_gsm_table()


def twilio_reference(text: str) -> tuple[str, int, int, int, list[str]]:
    """(encoding, segments, message bits, total bits, parts) computed like Twilio's calculator."""
    graphemes = []
    for g in regex.findall(r"\X", text):
        graphemes.extend(["\r", "\n"] if g == "\r\n" else [g])
    gsm = all(len(g) == 1 and g in _REF_GSM for g in graphemes)

    def bits(g: str) -> int:
        if gsm:
            return 7 * _REF_GSM[g]
        return 16 * len(g.encode("utf-16-le")) // 2

    segments: list[dict] = [{"udh": False, "chars": []}]

    def size(seg: dict) -> int:
        return (48 if seg["udh"] else 0) + sum(bits(c) for c in seg["chars"])

    for g in graphemes:
        current = segments[-1]
        if 1120 - size(current) < bits(g):
            new = {"udh": True, "chars": []}
            segments.append(new)
            previous = segments[-2]
            if not previous["udh"]:
                previous["udh"] = True
                moved = []
                while 1120 - size(previous) < 0:
                    moved.insert(0, previous["chars"].pop())
                new["chars"].extend(moved)
            current = new
        current["chars"].append(g)
    if len(segments) == 1:
        segments[0]["udh"] = False
    message_bits = sum(bits(c) for s in segments for c in s["chars"])
    total = sum(size(s) for s in segments)
    return (
        "GSM-7" if gsm else "UCS-2",
        len(segments),
        message_bits,
        total,
        ["".join(s["chars"]) for s in segments],
    )


GSM_CHARS = sorted(GSM7_SEPTETS)
NON_GSM = ["ç", "ê", "😀", "🇫🇷", "👍🏽", "e\u0301", "中", "Ж", "’", "\u00a0", "🏳️‍🌈"]
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=400)
mixed_text = st.lists(
    st.one_of(st.sampled_from(GSM_CHARS), st.sampled_from(NON_GSM)), max_size=250
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(gsm_text, mixed_text))
def test_agrees_with_independent_twilio_bit_level_reference(text):
    info = inspect(text)
    encoding, segments, message_bits, total_bits, parts = twilio_reference(text)
    assert (info.encoding, info.segments_count) == (encoding, segments)
    assert (info.message_size_bits, info.total_size_bits) == (message_bits, total_bits)
    assert list(info.parts) == parts


# ---------------------------------------------------------------------------------------------
# Properties from the issue
# ---------------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(gsm_text)
def test_property_gsm7_text_of_at_most_160_septets_is_one_segment(text):
    septets = sum(GSM7_SEPTETS[c] for c in text)
    info = inspect(text)
    assert info.encoding == "GSM-7" and info.code_units == septets
    if septets <= 160:
        assert info.segments_count == 1
    else:
        assert info.segments_count >= 2


@settings(max_examples=300, deadline=None)
@given(st.one_of(gsm_text, mixed_text))
def test_property_segments_times_capacity_covers_size_and_split_joins_back(text):
    info = inspect(text)
    assert info.segments_count * info.units_per_segment >= info.code_units
    assert "".join(info.parts) == text
    # no grapheme split: the graphemes of the parts are the graphemes of the text
    assert [g for p in info.parts for g in split_graphemes(p)] == split_graphemes(text)
    bits = 7 if info.is_gsm7 else 16
    for part in info.parts:
        assert inspect(part).code_units * bits <= 1120 - (48 if info.segments_count > 1 else 0)


@settings(max_examples=300, deadline=None)
@given(st.one_of(gsm_text, mixed_text), st.sampled_from(NON_GSM), st.integers(min_value=0))
def test_property_adding_a_non_gsm_character_never_lowers_the_segment_count(text, char, where):
    graphemes = split_graphemes(text)
    position = where % (len(graphemes) + 1)
    # insert between graphemes, with a separating space so the char stays its own grapheme
    longer = "".join(graphemes[:position]) + char + " " + "".join(graphemes[position:])
    assert inspect(longer).segments_count >= inspect(text).segments_count
    assert inspect(longer).encoding == "UCS-2"
