"""Smart encoding: replace look-alike characters by GSM-7 equivalents, and show what it saves.

Word processors and phones slip typographic characters into SMS copy (curly quotes, en dashes, an
ellipsis, a no-break space before ``!`` in French, a zero-width space pasted from the web). Any one
of them turns a GSM-7 message into UCS-2, which more than halves the characters per segment. Smart
encoding, as offered by Twilio Messaging Services, replaces such characters by plain GSM-7 ones.

The table here (:data:`SMART_ENCODING_TABLE`) is our own, grouped by purpose and documented in
``docs/messages.md``. It follows Twilio's published list where that list is a pure look-alike
substitution and departs from it where Twilio's replacement would change meaning or is a typo:

- letters that carry meaning are **never** replaced: ``ç``, ``ê``, ``œ``, Greek, Cyrillic, CJK …,
  nor the Hawaiian ʻokina (U+02BB, a letter), nor combining accents (Twilio maps a combining
  circumflex to ``^``, which turns a decomposed ``ê`` into ``e^``);
- a no-break space becomes **one** space (Twilio's table has two);
- ``‹`` / ``›`` become ``<`` / ``>`` (Twilio's table has them swapped);
- a decomposed accented letter (``e`` + U+0301) is composed (NFC) into ``é`` when that makes it
  GSM-7 or shorter, which is canonically the same text;
- the cp1252 "smart quote" mojibake stored as C1 controls (U+0091–U+0097, common in exported
  copy) is mapped to the quote or dash it was meant to be.

References
----------
Twilio, *Smart Encoding character list*, https://www.twilio.com/docs/messaging/services/smart-encoding-char-list
Unicode Standard Annex #15, *Unicode Normalization Forms* (NFC).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from smsanalytics.messages.cost import DEFAULT_PRICES, price_per_segment
from smsanalytics.messages.encoding import MessageInfo, inspect, split_graphemes
from smsanalytics.messages.gsm0338 import GSM7_SEPTETS

__all__ = [
    "SMART_ENCODING_TABLE",
    "Replacement",
    "SmartEncodingReport",
    "apply_smart_encoding",
    "smart_encode",
]


def _group(chars: str, replacement: str) -> dict[str, str]:
    return dict.fromkeys(chars, replacement)


_FULLWIDTH_ASCII = {
    chr(code): chr(code - 0xFEE0)
    for code in range(0xFF01, 0xFF5F)
    if chr(code - 0xFEE0) in GSM7_SEPTETS  # everything but the backtick
}

#: Look-alike character -> GSM-7 replacement ("" deletes an invisible character).
SMART_ENCODING_TABLE: Final[Mapping[str, str]] = MappingProxyType(
    {
        # double quotation marks
        **_group(
            "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u02ba\u02ee\u275d\u275e\u301d\u301e", '"'
        ),
        # single quotation marks, apostrophes, primes and stray accents used as apostrophes
        **_group(
            "\u2018\u2019\u201a\u201b\u2032\u02bc\u02b9\u02c8\u00b4\u02ca\u0060\u02cb\u275b\u275c",
            "'",
        ),
        # single angle quotation marks look like less-than / greater-than
        "\u2039": "<",
        "\u203a": ">",
        # hyphens and dashes
        **_group("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63", "-"),
        "\u2022": "-",  # bullet used as a list marker
        "\u2026": "...",  # horizontal ellipsis
        "\u203c": "!!",  # double exclamation mark
        "\u2044": "/",  # fraction slash
        "\u2215": "/",  # division slash
        # spaces (no-break, typographic, ideographic) and tab
        **_group(
            "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
            "\u202f\u205f\u3000\t",
            " ",
        ),
        # line and paragraph separators are line breaks
        "\u2028": "\n",
        "\u2029": "\n",
        # invisible characters: zero-width space, word joiner, BOM / zero-width no-break space,
        # soft hyphen. ZWJ and ZWNJ are kept: they shape emoji and several scripts.
        **_group("\u200b\u2060\ufeff\u00ad", ""),
        # cp1252 "smart punctuation" decoded as Latin-1 (C1 controls)
        "\u0085": "...",
        "\u0091": "'",
        "\u0092": "'",
        "\u0093": '"',
        "\u0094": '"',
        "\u0095": "-",
        "\u0096": "-",
        "\u0097": "-",
        # fullwidth forms of ASCII punctuation, digits and Latin letters (compatibility forms)
        **_FULLWIDTH_ASCII,
    }
)


@dataclass(frozen=True)
class Replacement:
    """One change made by smart encoding.

    Attributes
    ----------
    position
        Index of the replaced character(s) in the original text (Unicode scalars).
    original
        The replaced character(s).
    replacement
        What was put instead (``""`` when an invisible character was removed).
    reason
        The Unicode name of the original character, or ``"canonical composition (NFC)"``.
    """

    position: int
    original: str
    replacement: str
    reason: str


@dataclass(frozen=True)
class SmartEncodingReport:
    """Smart encoding of one message: the diff and its effect on encoding, segments and cost.

    Attributes
    ----------
    original
        :class:`MessageInfo` of the text as written.
    encoded
        :class:`MessageInfo` of the text after replacement.
    replacements
        Every change, in text order.
    price_per_segment
        Price used for the cost fields (see :data:`smsanalytics.messages.DEFAULT_PRICES`).
    cost_before, cost_after
        Price of one message before and after (segments × price per segment).
    """

    original: MessageInfo
    encoded: MessageInfo
    replacements: tuple[Replacement, ...]
    price_per_segment: float
    cost_before: float
    cost_after: float

    @property
    def changed(self) -> bool:
        """Whether smart encoding changed anything."""
        return bool(self.replacements)

    @property
    def segments_saved(self) -> int:
        """Segments saved per message (negative if replacements made it longer)."""
        return self.original.segments_count - self.encoded.segments_count

    @property
    def saving_per_message(self) -> float:
        """Cost saved per message."""
        return self.cost_before - self.cost_after


def _name(char: str) -> str:
    return unicodedata.name(char, f"U+{ord(char):04X}")


def apply_smart_encoding(text: str) -> tuple[str, tuple[Replacement, ...]]:
    """Replace look-alike characters of ``text`` by GSM-7 equivalents.

    Parameters
    ----------
    text
        The message body.

    Returns
    -------
    tuple
        ``(new_text, replacements)``.

    Notes
    -----
    Works per grapheme cluster: a cluster that is not NFC-composed is composed when that makes it
    GSM-7 or shorter in UTF-16 units; then each character found in :data:`SMART_ENCODING_TABLE`
    is replaced. Characters inside emoji sequences (ZWJ, variation selectors) are left alone.

    Examples
    --------
    >>> apply_smart_encoding("L\\u2019offre\\u00a0!")[0]
    "L'offre !"
    >>> apply_smart_encoding("Reçu, fête")[0]
    'Reçu, fête'
    """
    table = SMART_ENCODING_TABLE
    if text.isascii() and "\t" not in text and "`" not in text:
        return text, ()
    out: list[str] = []
    changes: list[Replacement] = []
    position = 0
    for grapheme in split_graphemes(text):
        current = grapheme
        if len(grapheme) > 1 and not unicodedata.is_normalized("NFC", grapheme):
            composed = unicodedata.normalize("NFC", grapheme)
            if composed in GSM7_SEPTETS or len(composed.encode("utf-16-le")) < len(
                grapheme.encode("utf-16-le")
            ):
                changes.append(
                    Replacement(position, grapheme, composed, "canonical composition (NFC)")
                )
                current = composed
        if any(char in table for char in current):
            rebuilt: list[str] = []
            for offset, char in enumerate(current):
                if char in table:
                    changes.append(Replacement(position + offset, char, table[char], _name(char)))
                    rebuilt.append(table[char])
                else:
                    rebuilt.append(char)
            current = "".join(rebuilt)
        out.append(current)
        position += len(grapheme)
    return "".join(out), tuple(changes)


def smart_encode(
    text: str,
    *,
    country: str = "default",
    prices: Mapping[str, float] = DEFAULT_PRICES,
) -> SmartEncodingReport:
    """Smart-encode ``text`` and report the diff with its effect on encoding, segments and cost.

    Parameters
    ----------
    text
        The message body.
    country
        ISO 3166-1 alpha-2 country whose price per segment values the saving.
    prices
        Price per segment by country with a ``"default"`` key (see
        :data:`smsanalytics.messages.DEFAULT_PRICES`).

    Returns
    -------
    SmartEncodingReport
        Before/after :class:`MessageInfo`, the replacements, and the cost of one message.

    Examples
    --------
    >>> report = smart_encode("C\\u2019est l\\u2019heure \\u2014 " + "x" * 60)
    >>> report.original.encoding, report.encoded.encoding, report.segments_saved
    ('UCS-2', 'GSM-7', 1)
    """
    new_text, changes = apply_smart_encoding(text)
    before = inspect(text)
    after = inspect(new_text) if changes else before
    price = price_per_segment(country, prices)
    return SmartEncodingReport(
        original=before,
        encoded=after,
        replacements=changes,
        price_per_segment=price,
        cost_before=before.segments_count * price,
        cost_after=after.segments_count * price,
    )
