"""The GSM 03.38 (3GPP TS 23.038) 7-bit default alphabet, as billed by the major gateways.

The tables below are the Unicode Consortium's mapping ``GSM0338.TXT`` (table version 2.0, vendored
with its provenance in ``data/external/gsm0338/``) with two deliberate deviations, both chosen to
match what Twilio, the most used SMS gateway, bills (its open-source segment calculator,
``TwilioDevEd/message-segment-calculator``, ``src/libs/UnicodeToGSM.ts``):

========  ===============================  ======================================  =================
code      3GPP TS 23.038 glyph             Unicode ``GSM0338.TXT``                  this module
========  ===============================  ======================================  =================
``0x09``  capital ``Ç``                    small ``ç`` (U+00E7)                    capital ``Ç``
``0x1B``  escape to the extension table    NO-BREAK SPACE (U+00A0) when alone      escape only
========  ===============================  ======================================  =================

So ``ç`` is **not** GSM-7 here (a message containing it is sent, and billed, as UCS-2, exactly as
Twilio's calculator asserts for 70 and 71 × ``ç``), ``Ç`` is GSM-7, and a no-break space is not
GSM-7 (smart encoding turns it into a plain space). A test keeps these tables equal to the vendored
``GSM0338.TXT`` up to exactly these two deviations.

National language shift tables (Turkish, Spanish, Portuguese, Indian scripts) are not supported:
like Twilio, a character outside the default alphabet and its default extension table makes the
whole message UCS-2.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "BASIC_ALPHABET",
    "EXTENSION_TABLE",
    "ESCAPE",
    "GSM7_SEPTETS",
    "DEVIATIONS_FROM_UNICODE_TABLE",
    "is_gsm7_character",
]

#: The escape septet announcing a character of the extension table.
ESCAPE: Final = 0x1B

#: The 128 basic characters in code order (index = septet value). ``0x1B`` (escape) holds a
#: placeholder that maps to nothing; ``0x09`` is capital ``Ç`` (Twilio), see the module docstring.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

#: Basic table: Unicode character -> septet value (the escape code itself is excluded).
BASIC_ALPHABET: Final = MappingProxyType(
    {char: code for code, char in enumerate(_BASIC) if code != ESCAPE}
)

#: Extension table: Unicode character -> septet value following the escape (2 septets each).
EXTENSION_TABLE: Final = MappingProxyType(
    {
        "\x0c": 0x0A,  # FORM FEED
        "^": 0x14,
        "{": 0x28,
        "}": 0x29,
        "\\": 0x2F,
        "[": 0x3C,
        "~": 0x3D,
        "]": 0x3E,
        "|": 0x40,
        "€": 0x65,
    }
)

#: Septets each GSM-7 character costs: 1 in the basic table, 2 (escape + code) in the extension.
GSM7_SEPTETS: Final = MappingProxyType(
    {**{char: 1 for char in BASIC_ALPHABET}, **{char: 2 for char in EXTENSION_TABLE}}
)

#: Where this module departs from ``GSM0338.TXT``: Unicode character -> (Unicode table's code or
#: None, this module's code or None).
DEVIATIONS_FROM_UNICODE_TABLE: Final = MappingProxyType(
    {
        "\u00e7": (0x09, None),  # ç: GSM in the Unicode table, UCS-2 at Twilio
        "\u00c7": (None, 0x09),  # Ç: the 3GPP glyph, GSM at Twilio
        "\u00a0": (ESCAPE, None),  # NBSP: the Unicode table's reading of a lone escape
    }
)


def is_gsm7_character(char: str) -> bool:
    """Whether ``char`` (one Unicode scalar) is in the GSM-7 basic or extension table.

    Parameters
    ----------
    char
        A string of exactly one character.

    Returns
    -------
    bool
        ``True`` for the 127 basic characters and the 10 extension characters.

    Examples
    --------
    >>> is_gsm7_character("é"), is_gsm7_character("€"), is_gsm7_character("ç")
    (True, True, False)
    """
    return char in GSM7_SEPTETS
