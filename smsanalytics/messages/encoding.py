"""GSM-7 / UCS-2 encoding, segment count and per-segment split of an SMS body.

The rules are those of 3GPP TS 23.038 (alphabet) and TS 23.040 (concatenation), applied the way
Twilio bills them (its open-source segment calculator is the reference the tests check against):

- A message is **GSM-7** when every character is in the GSM 03.38 basic or extension table
  (:mod:`smsanalytics.messages.gsm0338`), else **UCS-2** (UTF-16 on the wire).
- GSM-7 payload: 7 bits per septet, extension characters (``^ { } \\ [ ~ ] | €`` and form feed)
  cost 2 septets (escape + code). UCS-2 payload: 16 bits per UTF-16 code unit, so a character
  outside the Basic Multilingual Plane (most emoji) costs 2 units.
- One segment carries 140 octets: 160 septets or 70 UTF-16 units. A longer message is split into
  concatenated segments, each carrying a 6-octet user data header (UDH), which leaves 153 septets
  or 67 UTF-16 units of text per segment.
- A segment boundary never splits an escape pair, a surrogate pair or a grapheme cluster
  (user-perceived character): the split is greedy, and a character that does not fit starts the
  next segment.
- Characters are counted as gateways count them: a grapheme cluster made of several scalars
  (``e`` + combining acute, a flag, an emoji with a skin tone) is **one** character but is never
  GSM-7, even when its normalised form would be (use smart encoding to compose it); CRLF is two
  characters (CR and LF are both GSM-7).

References
----------
3GPP TS 23.038, *Alphabets and language-specific information*, §6.2.1.
3GPP TS 23.040, *Technical realization of the Short Message Service*, §9.2.3.24.1.
Twilio, *Message Segment Calculator*, https://github.com/TwilioDevEd/message-segment-calculator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import regex

from smsanalytics.messages.gsm0338 import GSM7_SEPTETS

__all__ = [
    "Encoding",
    "MessageInfo",
    "inspect",
    "split_graphemes",
    "GSM7_SINGLE_SEGMENT_SEPTETS",
    "GSM7_CONCATENATED_SEPTETS",
    "UCS2_SINGLE_SEGMENT_UNITS",
    "UCS2_CONCATENATED_UNITS",
    "UDH_BITS",
]

Encoding = Literal["GSM-7", "UCS-2"]

#: Septets in a single (unconcatenated) GSM-7 segment: 140 octets × 8 / 7.
GSM7_SINGLE_SEGMENT_SEPTETS: Final = 160
#: Septets of text per concatenated GSM-7 segment: (140 − 6) octets × 8 / 7, rounded down.
GSM7_CONCATENATED_SEPTETS: Final = 153
#: UTF-16 code units in a single UCS-2 segment: 140 octets / 2.
UCS2_SINGLE_SEGMENT_UNITS: Final = 70
#: UTF-16 code units of text per concatenated UCS-2 segment: (140 − 6) octets / 2.
UCS2_CONCATENATED_UNITS: Final = 67
#: Bits of the concatenation user data header carried by each segment of a multi-part message.
UDH_BITS: Final = 6 * 8

_GRAPHEME: Final = regex.compile(r"\X")
_BITS: Final = {"GSM-7": 7, "UCS-2": 16}
_GSM7_CHARS: Final = frozenset(GSM7_SEPTETS)


@dataclass(frozen=True)
class MessageInfo:
    """How an SMS body is encoded, counted and split into billed segments.

    Attributes
    ----------
    text
        The body as it will be sent (after smart encoding when it was asked for).
    encoding
        ``"GSM-7"`` or ``"UCS-2"``.
    segments_count
        Number of billed segments (an empty body counts as one segment, as at Twilio).
    characters
        User-perceived characters (grapheme clusters), with CRLF counted as two.
    unicode_scalars
        Unicode code points (``len(text)`` in Python).
    code_units
        Septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2.
    message_size_bits
        Payload size: 7 bits per septet or 16 bits per UTF-16 unit.
    total_size_bits
        Payload plus the 48-bit concatenation header of each segment when there is more than one.
    non_gsm_characters
        The characters that force UCS-2, in order of first appearance, without repeats.
    parts
        The text of each segment; ``"".join(parts) == text``.
    """

    text: str
    encoding: Encoding
    segments_count: int
    characters: int
    unicode_scalars: int
    code_units: int
    message_size_bits: int
    total_size_bits: int
    non_gsm_characters: tuple[str, ...]
    parts: tuple[str, ...]

    @property
    def is_gsm7(self) -> bool:
        """Whether the message is sent in the GSM-7 alphabet."""
        return self.encoding == "GSM-7"

    @property
    def units_per_segment(self) -> int:
        """Capacity of each segment of this message, in septets or UTF-16 units."""
        if self.encoding == "GSM-7":
            return (
                GSM7_SINGLE_SEGMENT_SEPTETS
                if self.segments_count == 1
                else GSM7_CONCATENATED_SEPTETS
            )
        return UCS2_SINGLE_SEGMENT_UNITS if self.segments_count == 1 else UCS2_CONCATENATED_UNITS


def split_graphemes(text: str) -> list[str]:
    """Split ``text`` into the characters gateways count: grapheme clusters, CRLF as two.

    Parameters
    ----------
    text
        Any Unicode string.

    Returns
    -------
    list of str
        Extended grapheme clusters (Unicode UAX #29) in order, except that a ``"\\r\\n"`` cluster
        is returned as ``"\\r"`` and ``"\\n"``, as Twilio counts it.

    Examples
    --------
    >>> [len(g) for g in split_graphemes("e\\u0301!\\r\\n")]
    [2, 1, 1, 1]
    """
    if text.isascii() or max(text) < "\u0300" or _GSM7_CHARS.issuperset(text):
        # No character below U+0300 nor in the GSM-7 tables extends a cluster (combining marks
        # start at U+0300); CRLF comes out as two characters, as wanted.
        return list(text)
    graphemes = _GRAPHEME.findall(text)
    if "\r\n" in text:
        split: list[str] = []
        for grapheme in graphemes:
            if grapheme == "\r\n":
                split.extend(("\r", "\n"))
            else:
                split.append(grapheme)
        return split
    return graphemes


def _utf16_units(grapheme: str) -> int:
    """UTF-16 code units of ``grapheme`` (2 for each scalar beyond the BMP)."""
    return len(grapheme) + sum(1 for char in grapheme if ord(char) > 0xFFFF)


def _split_oversized(grapheme: str, capacity: int) -> list[tuple[str, int]]:
    """Split one grapheme longer than a segment at scalar boundaries (never inside a surrogate).

    Only reachable with pathological clusters (e.g. dozens of stacked combining marks), which no
    gateway can keep in one segment either.
    """
    pieces: list[tuple[str, int]] = []
    current, size = "", 0
    for char in grapheme:
        units = 2 if ord(char) > 0xFFFF else 1
        if size + units > capacity:
            pieces.append((current, size))
            current, size = "", 0
        current += char
        size += units
    pieces.append((current, size))
    return pieces


def _pack(units: list[tuple[str, int]], capacity: int) -> tuple[str, ...]:
    """Greedy split of ``(grapheme, size)`` pairs into parts of at most ``capacity`` units."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for grapheme, cost in units:
        if cost > capacity:
            if current:
                parts.append("".join(current))
                current, size = [], 0
            pieces = _split_oversized(grapheme, capacity)
            parts.extend(piece for piece, _ in pieces[:-1])
            current, size = [pieces[-1][0]], pieces[-1][1]
            continue
        if size + cost > capacity:
            parts.append("".join(current))
            current, size = [], 0
        current.append(grapheme)
        size += cost
    if current or not parts:
        parts.append("".join(current))
    return tuple(parts)


def inspect(text: str, smart_encoding: bool = False) -> MessageInfo:
    """Encoding, segments, sizes and per-segment split of an SMS body, as Twilio bills it.

    Parameters
    ----------
    text
        The message body (rendered, i.e. without template fields).
    smart_encoding
        Replace look-alike characters (curly quotes, dashes, ellipsis, non-breaking and
        zero-width spaces …) by GSM-7 equivalents first, as Twilio's *Smart Encoding* does; see
        :func:`smsanalytics.messages.smart_encode` for the table and the diff.

    Returns
    -------
    MessageInfo
        Encoding, segment count, character / scalar / code-unit counts, sizes in bits, the
        non-GSM characters and the text of each segment.

    Raises
    ------
    TypeError
        If ``text`` is not a ``str``.

    References
    ----------
    3GPP TS 23.038 §6.2.1 and TS 23.040 §9.2.3.24.1; Twilio's Message Segment Calculator.

    Examples
    --------
    >>> info = inspect("x" * 161)
    >>> info.encoding, info.segments_count, [len(p) for p in info.parts]
    ('GSM-7', 2, [153, 8])
    >>> info = inspect("Merci 🎉")
    >>> info.encoding, info.code_units, info.non_gsm_characters
    ('UCS-2', 8, ('🎉',))
    """
    if not isinstance(text, str):
        raise TypeError(
            f"text must be a str, got {type(text).__name__}; pass the rendered message body."
        )
    if smart_encoding:
        from smsanalytics.messages.smart import apply_smart_encoding

        text = apply_smart_encoding(text)[0]

    graphemes = split_graphemes(text)
    septets = GSM7_SEPTETS
    costs = [septets.get(g) for g in graphemes]
    if None not in costs:
        encoding: Encoding = "GSM-7"
        code_units = sum(costs)  # type: ignore[arg-type]
        non_gsm: tuple[str, ...] = ()
        single, concatenated = GSM7_SINGLE_SEGMENT_SEPTETS, GSM7_CONCATENATED_SEPTETS
        if code_units <= single:
            parts: tuple[str, ...] = (text,)
        elif code_units == len(graphemes):  # no extension character: plain slicing
            parts = tuple(
                "".join(graphemes[i : i + concatenated])
                for i in range(0, len(graphemes), concatenated)
            )
        else:
            parts = _pack(list(zip(graphemes, costs, strict=True)), concatenated)  # type: ignore[arg-type]
    else:
        encoding = "UCS-2"
        sizes = [_utf16_units(g) for g in graphemes]
        code_units = sum(sizes)
        non_gsm = tuple(
            dict.fromkeys(g for g, c in zip(graphemes, costs, strict=True) if c is None)
        )
        single, concatenated = UCS2_SINGLE_SEGMENT_UNITS, UCS2_CONCATENATED_UNITS
        if code_units <= single:
            parts = (text,)
        else:
            parts = _pack(list(zip(graphemes, sizes, strict=True)), concatenated)

    message_bits = code_units * _BITS[encoding]
    segments = len(parts)
    total_bits = message_bits + (UDH_BITS * segments if segments > 1 else 0)
    return MessageInfo(
        text=text,
        encoding=encoding,
        segments_count=segments,
        characters=len(graphemes),
        unicode_scalars=len(text),
        code_units=code_units,
        message_size_bits=message_bits,
        total_size_bits=total_bits,
        non_gsm_characters=non_gsm,
        parts=parts,
    )
