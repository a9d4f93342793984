"""Ingest the user's own exports: generic CSV/Parquet per table, Twilio message logs.

Phone numbers are normalised to E.164 (:func:`normalize_phones`), each contact gets a time zone
with its source (:func:`assign_timezones`), opt-out keywords are recognised
(:func:`detect_keywords`), and every row that cannot be loaded is quarantined with a reason
(:data:`REASONS`). See ``docs/ingest.md``.

>>> import polars as pl
>>> from smsanalytics.ingest import normalize_phones
>>> normalize_phones(pl.Series(["06 12 34 56 78", "+1 (202) 555-0143"]))["phone_e164"].to_list()
['+33612345678', '+12025550143']
"""

from smsanalytics.ingest.bots import BOT_CLICK_SECONDS, BOT_USER_AGENT_PATTERN, detect_bot_clicks
from smsanalytics.ingest.errors import (
    IngestError,
    InvalidHeaderError,
    MappingError,
    MissingColumnsError,
    UnknownTableError,
    UnreadableFileError,
)
from smsanalytics.ingest.files import Format, ingest_file
from smsanalytics.ingest.keywords import HELP_WORDS, START_WORDS, STOP_WORDS, detect_keywords
from smsanalytics.ingest.phones import mask_phone, normalize_phones
from smsanalytics.ingest.quarantine import mask_text
from smsanalytics.ingest.reasons import REASONS, Reason
from smsanalytics.ingest.report import Flag, IngestReport, TableResult
from smsanalytics.ingest.tables import SPECS
from smsanalytics.ingest.timestamps import parse_dates, parse_timestamps
from smsanalytics.ingest.timezones import assign_timezones
from smsanalytics.ingest.twilio import ingest_twilio_log

__all__ = [
    "ingest_file",
    "ingest_twilio_log",
    "IngestReport",
    "TableResult",
    "Flag",
    "Format",
    "IngestError",
    "UnreadableFileError",
    "MissingColumnsError",
    "MappingError",
    "InvalidHeaderError",
    "UnknownTableError",
    "normalize_phones",
    "mask_phone",
    "mask_text",
    "assign_timezones",
    "parse_timestamps",
    "parse_dates",
    "detect_keywords",
    "detect_bot_clicks",
    "STOP_WORDS",
    "START_WORDS",
    "HELP_WORDS",
    "BOT_USER_AGENT_PATTERN",
    "BOT_CLICK_SECONDS",
    "REASONS",
    "Reason",
    "SPECS",
]
