"""Every reason code of ingest, with its meaning and its fix (the source of ``docs/ingest.md``).

Three kinds:

- ``row``: the row is **not loaded**; it is written to ``quarantine`` with the code, the column,
  a detail sentence and the raw row (phone numbers masked). A row can have several reasons.
- ``file``: a problem of the whole file that is not an error (an empty export is a normal
  outcome of a scheduled job): one ``quarantine`` row with ``row_number = 0``.
- ``flag``: the row **is loaded**, something was repaired or left unknown; counted in
  ``IngestReport.flagged_by_reason`` with examples in ``IngestReport.flagged`` (row numbers only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Reason", "REASONS", "reason"]

ReasonKind = Literal["row", "file", "flag"]


@dataclass(frozen=True)
class Reason:
    """A reason code: what it means and how the user fixes it."""

    code: str
    kind: ReasonKind
    meaning: str
    fix: str


def _r(code: str, kind: ReasonKind, meaning: str, fix: str) -> Reason:
    return Reason(code, kind, meaning, fix)


_ALL = (
    # -- file level --------------------------------------------------------------------------------
    _r(
        "empty_file",
        "file",
        "The file has no bytes, or only whitespace / a byte-order mark.",
        "Check the export ran; nothing was loaded (re-loading the same empty file is a no-op).",
    ),
    _r(
        "no_data_rows",
        "file",
        "The file has a header but no data rows.",
        "Check the export's filters; nothing was loaded.",
    ),
    # -- structure ---------------------------------------------------------------------------------
    _r(
        "ragged_row",
        "row",
        "The row has more or fewer fields than the header (an unquoted delimiter inside a value, a"
        " truncated line).",
        "Quote values that contain the delimiter, or re-export the file.",
    ),
    _r(
        "control_characters",
        "row",
        "A value holds control characters (NUL bytes, form feeds …), usually from a corrupted "
        "export or binary data pasted into a cell.",
        "Remove the characters or re-export the file.",
    ),
    _r(
        "missing_value",
        "row",
        "A required value is blank (contact id, phone, timestamp, amount …).",
        "Fill the value or remove the row.",
    ),
    _r(
        "duplicate_row",
        "row",
        "The same row (same key and same values) appears earlier in the file.",
        "Nothing to do if the copy is accidental; the first occurrence was loaded.",
    ),
    _r(
        "duplicate_key",
        "row",
        "Another row earlier in the file has the same key (order id, message id, contact and time "
        "…) but different values.",
        "Keep one row per key; the first one was loaded.",
    ),
    # -- phones ------------------------------------------------------------------------------------
    _r(
        "invalid_phone",
        "row",
        "Not a valid phone number: its digits match no number range of its country (for numbers "
        "without +CC: the default region).",
        "Correct the number, write it as +CC…, or set --default-region.",
    ),
    _r(
        "phone_too_short",
        "row",
        "Too few digits for a phone number of its country.",
        "Correct the number (a digit may be missing).",
    ),
    _r(
        "phone_too_long",
        "row",
        "Too many digits for a phone number of its country.",
        "Correct the number (two numbers in one cell?).",
    ),
    _r(
        "invalid_country_code",
        "row",
        "Starts with + or 00 but no country has that calling code.",
        "Correct the digits after the +.",
    ),
    _r(
        "letters_in_phone",
        "row",
        "The phone value contains letters (a name, 'ext. 12', a vanity number).",
        "Keep only the number in the phone column.",
    ),
    _r(
        "spreadsheet_scientific_notation",
        "row",
        "A spreadsheet turned the number into scientific notation (3.36E+10) and digits were lost.",
        "Format the column as text in the spreadsheet and re-export.",
    ),
    _r(
        "lost_leading_zero",
        "row",
        "The number lost a leading 0 that is part of the number (e.g. Italian landlines), or could"
        " be read two ways.",
        "Format the column as text and re-export, or write numbers as +CC….",
    ),
    # -- contacts ----------------------------------------------------------------------------------
    _r(
        "duplicate_external_id",
        "row",
        "The contact id appears on an earlier row of the file with another phone number.",
        "Keep one row per contact; the first one was loaded (the detail names it).",
    ),
    _r(
        "duplicate_contact",
        "row",
        "The same contact again: the same phone number (perhaps written differently) as an earlier"
        " row (with the same or another contact id), or as a contact already in the warehouse "
        "under another contact id.",
        "Merge the two contacts in your system; the first one was kept (the detail names it).",
    ),
    _r(
        "contact_changed",
        "row",
        "The contact id is already in the warehouse with a different phone number; ingest never "
        "overwrites a contact.",
        "Update the contact deliberately (delete and re-load), or correct the id.",
    ),
    _r(
        "invalid_attributes",
        "row",
        "The 'attributes' value is not a JSON object.",
        'Write it as a JSON object, e.g. {"city": "Lyon"}, or leave it blank.',
    ),
    # -- timestamps --------------------------------------------------------------------------------
    _r(
        "invalid_timestamp",
        "row",
        "A date-time that cannot be read (or reads only with day and month swapped). For the "
        "optional contact columns (signup_at, consent_at) a flag: the contact is loaded without "
        "the value, kept in attributes.<column>_invalid.",
        "Use ISO 8601 (2024-03-01T14:05:00Z), or pass --dayfirst for 01/03/2024 = 1 March.",
    ),
    _r(
        "nonexistent_local_time",
        "row",
        "A naive local time that does not exist in --source-timezone (the hour skipped when clocks"
        " go forward).",
        "Export timestamps with their UTC offset, or correct the time.",
    ),
    _r(
        "absurd_timestamp",
        "row",
        "A date-time before 1990, or in the future (events more than one day ahead). A flag for "
        "signup_at and consent_at of contacts.",
        "Correct the value (a default date such as 1900-01-01 or a typo in the year?).",
    ),
    _r(
        "invalid_date",
        "flag",
        "A birthday that cannot be read, or outside 1900-01-01 … today; the contact is loaded "
        "without it (kept in attributes.birthday_invalid).",
        "Use YYYY-MM-DD (or --dayfirst for DD/MM/YYYY).",
    ),
    # -- numbers and codes -------------------------------------------------------------------------
    _r(
        "invalid_number",
        "row",
        "A number (amount, cost, points, segments) that is not a number (a flag for contacts' "
        "points).",
        "Write plain numbers: 12.50 or 12,50.",
    ),
    _r(
        "negative_amount",
        "row",
        "A negative order amount or cost (a refund or a cancellation is not an order).",
        "Leave refunds out of the orders file, or net them into the original order.",
    ),
    _r(
        "absurd_amount",
        "row",
        "An amount above the plausible maximum (order > 1,000,000; message cost > 100).",
        "Correct the value (cents instead of units? a concatenated cell?).",
    ),
    _r(
        "out_of_range",
        "row",
        "A number outside its allowed range (segments 1–255, holdout share in [0, 1); contacts' "
        "points ≥ 0 is a flag).",
        "Correct the value.",
    ),
    _r(
        "invalid_boolean",
        "row",
        "A yes/no value that is not one of true/false, yes/no, 1/0, y/n, oui/non.",
        "Write true or false.",
    ),
    _r(
        "invalid_currency",
        "row",
        "Not an ISO 4217 currency code.",
        "Use a three-letter code such as EUR or USD.",
    ),
    _r(
        "invalid_status",
        "row",
        "A delivery status that is not known (queued, sent, delivered, undelivered, failed and "
        "providers' synonyms).",
        "Map your provider's status to one of those values.",
    ),
    _r(
        "invalid_value",
        "row",
        "A value outside the allowed list (Twilio direction, encoding, send-time policy, keyword; "
        "contacts' language is a flag).",
        "Use one of the values listed in the detail.",
    ),
    # -- references --------------------------------------------------------------------------------
    _r(
        "unknown_contact",
        "row",
        "The row refers to a contact (by contact id or phone number) that is not in the warehouse.",
        "Load the contacts file first (ingest contacts …), then this file again with --force (rows"
        " already loaded are skipped).",
    ),
    _r(
        "unknown_message",
        "row",
        "The row refers to a message id (provider id) that is not in the warehouse.",
        "Load the messages first, then this file again with --force.",
    ),
    _r(
        "contact_mismatch",
        "row",
        "The click's contact is not the recipient of the clicked message.",
        "Correct the contact id, or leave the column out (it is taken from the message).",
    ),
    _r(
        "click_before_send",
        "row",
        "The click happened more than a minute before its message was sent.",
        "Check both files use the same time zone (--source-timezone).",
    ),
    _r(
        "cancelled_order",
        "row",
        "The order's status says it was cancelled or refunded; cancelled orders are not purchases.",
        "Nothing to do; remove them from the export to silence this.",
    ),
    _r(
        "message_not_sent",
        "row",
        "A Twilio log row for a message that was never sent (canceled or scheduled, or failed with"
        " no send date).",
        "Nothing to do: it is not a message to analyse.",
    ),
    # -- flags (row kept) --------------------------------------------------------------------------
    _r(
        "repaired_scientific_notation",
        "flag",
        "The number was in scientific notation but every digit was kept; it was rebuilt exactly.",
        "Format the column as text in future exports.",
    ),
    _r(
        "repaired_lost_leading_zero",
        "flag",
        "A national number without its leading 0 trunk prefix (612345678); no digit was lost and "
        "it was read as +33612345678.",
        "Format the column as text in future exports.",
    ),
    _r(
        "repaired_missing_plus",
        "flag",
        "An international number without its + (447911123456) that is not a valid national number;"
        " the + was restored.",
        "Write international numbers with their +.",
    ),
    _r(
        "invalid_timezone",
        "flag",
        "The time zone given is not an IANA zone; the contact is kept with no zone "
        "(timezone_source 'unknown'); its value is kept in attributes.timezone_invalid.",
        "Write IANA names such as Europe/Paris.",
    ),
    _r(
        "ambiguous_timezone",
        "flag",
        "The number's area spans several time zones and none is configured; the contact is kept "
        "with no zone.",
        "Add a timezone column.",
    ),
    _r(
        "unknown_timezone",
        "flag",
        "No time zone is known for a foreign number; the contact is kept with no zone.",
        "Add a timezone column.",
    ),
    _r(
        "ambiguous_local_time",
        "flag",
        "A naive local time that occurs twice in --source-timezone (clocks going back); the first "
        "occurrence was used.",
        "Export timestamps with their UTC offset.",
    ),
    _r(
        "positive_price",
        "flag",
        "A Twilio price that is positive (Twilio writes costs as negative numbers); the cost was "
        "left empty.",
        "Check the export; costs are -Price.",
    ),
)

#: All reason codes by code.
REASONS: dict[str, Reason] = {r.code: r for r in _ALL}


def reason(code: str) -> Reason:
    """The :class:`Reason` of ``code`` (``KeyError`` naming the known codes otherwise)."""
    try:
        return REASONS[code]
    except KeyError:
        raise KeyError(f"unknown reason code {code!r}; known: {sorted(REASONS)}") from None
