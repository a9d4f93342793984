"""Per-table validation: from a source file's columns to canonical rows, plus the issues found.

Each ``prepare_<table>`` function takes a :class:`Batch` (the source rows under canonical column
names, the options, the warehouse for look-ups) and returns the canonical rows to load (with
``__row__``); every row it rejects is recorded in ``batch.issues`` with a reason code. Nothing is
written to the warehouse here.

Source-column conventions (``docs/ingest.md``):

- ``contacts``: ``contact_id`` is the user's own id (stored in ``external_id``; the warehouse
  assigns the integer ``contact_id``); ``phone`` is the raw number; ``country`` (optional) is a
  hint for national-format numbers; other columns go into ``attributes`` (phone-like ones are
  dropped).
- event tables refer to contacts by ``contact_id`` (the user's id) or by ``phone``.
- ``messages.message_id`` is the provider's id (stored in ``provider_message_id``); ``receipts``
  and ``clicks`` refer to messages by it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from smsanalytics.ingest.bots import detect_bot_clicks
from smsanalytics.ingest.keywords import detect_keywords
from smsanalytics.ingest.loading import registered
from smsanalytics.ingest.phones import normalize_phones
from smsanalytics.ingest.quarantine import ROW, Issues, format_detail
from smsanalytics.ingest.timestamps import parse_dates, parse_timestamps
from smsanalytics.ingest.timezones import assign_timezones
from smsanalytics.ingest.values import (
    CONTROL_CHARACTERS,
    clean_text,
    normalize_currency,
    normalize_receipt_status,
    nulls,
    parse_booleans,
    parse_integers,
    parse_numbers,
)
from smsanalytics.warehouse import Warehouse

__all__ = ["TableSpec", "SPECS", "Options", "Batch", "PREPARERS"]

#: Timestamps before this are absurd (typos, 1900-01-01 placeholders).
MIN_TIMESTAMP = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
#: Birthdays before this are absurd.
MIN_BIRTHDAY = dt.date(1900, 1, 1)
#: Largest plausible order amount and message cost.
MAX_ORDER_AMOUNT = 1_000_000.0
MAX_MESSAGE_COST = 100.0
#: Events may be at most this far in the future (clock skew between systems).
EVENT_LEEWAY = dt.timedelta(days=1)
#: A click may precede its message's send time by this much (clock skew) before it is rejected.
CLICK_SKEW = dt.timedelta(minutes=1)

_PHONE_NAME = re.compile(
    r"(?i)(phone|mobile|portable|cell|t[eé]l[eé]phone|^tel$|^tel[_\s]|[_\s]tel$|msisdn|gsm|fax|whatsapp|sms[_\s]?number|num[eé]ro)"
)
_PHONE_VALUE = re.compile(r"^\+?[\d\s().\-/]{8,22}$")
_DATE_VALUE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")


@dataclass(frozen=True)
class TableSpec:
    """What a source file for ``name`` may and must contain (canonical names, after mapping).

    ``required`` entries ``"a|b"`` are satisfied by either column. ``aliases`` are accepted
    alternative names (``external_id`` for ``contact_id`` …).
    """

    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)


SPECS: dict[str, TableSpec] = {
    "contacts": TableSpec(
        "contacts",
        (
            "contact_id",
            "phone",
            "country",
            "timezone",
            "first_name",
            "language",
            "signup_at",
            "birthday",
            "consent_at",
            "opted_out_at",
            "points",
            "attributes",
            "external_id",
            "phone_e164",
            "phone_type",
            "timezone_source",
        ),
        ("contact_id", "phone"),
        {"external_id": "contact_id", "phone_e164": "phone"},
    ),
    "campaigns": TableSpec(
        "campaigns",
        ("campaign_id", "name", "kind", "sender_id", "template", "created_at", "holdout_share"),
        ("campaign_id",),
    ),
    "messages": TableSpec(
        "messages",
        (
            "message_id",
            "campaign_id",
            "contact_id",
            "phone",
            "variant",
            "body",
            "send_time_policy",
            "scheduled_at",
            "sent_at",
            "encoding",
            "segments",
            "cost",
            "currency",
            "provider_message_id",
        ),
        ("contact_id|phone", "sent_at"),
        {"provider_message_id": "message_id"},
    ),
    "assignments": TableSpec(
        "assignments",
        ("campaign_id", "contact_id", "phone", "variant", "is_holdout", "assigned_at"),
        ("campaign_id", "contact_id|phone", "variant", "assigned_at"),
    ),
    "receipts": TableSpec(
        "receipts",
        ("message_id", "status_at", "status", "error_code", "provider_message_id"),
        ("message_id", "status", "status_at"),
        {"provider_message_id": "message_id"},
    ),
    "clicks": TableSpec(
        "clicks",
        (
            "message_id",
            "contact_id",
            "phone",
            "clicked_at",
            "url",
            "user_agent",
            "is_bot",
            "provider_message_id",
        ),
        ("message_id", "clicked_at"),
        {"provider_message_id": "message_id"},
    ),
    "inbound": TableSpec(
        "inbound",
        ("contact_id", "phone", "received_at", "body", "keyword"),
        ("contact_id|phone", "received_at"),
    ),
    "orders": TableSpec(
        "orders",
        ("order_id", "contact_id", "phone", "ordered_at", "amount", "currency", "status"),
        ("order_id", "contact_id|phone", "ordered_at", "amount"),
    ),
}


class Detail:
    """A detail sentence rendered lazily for the rows that need it."""

    def __init__(self, template: str, values: tuple[pl.Series, ...]) -> None:
        self.template = template
        self.values = values

    def render(self, keep: pl.Series) -> pl.Series:
        return format_detail(self.template, *(v.filter(keep) for v in self.values))


@dataclass(frozen=True)
class Options:
    """Reading options shared by every table."""

    default_region: str = "FR"
    default_timezone: str = "Europe/Paris"
    source_timezone: str = "UTC"
    dayfirst: bool = False
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class Batch:
    """The rows of one source file for one table, with helpers that validate and record issues.

    Parameters
    ----------
    warehouse
        For look-ups of contacts and messages (read only).
    table
        Canonical table.
    frame
        ``__row__`` and the source columns under canonical names.
    names
        Canonical name → the user's column name (for quarantine rows and details).
    options
        Reading options.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        table: str,
        frame: pl.DataFrame,
        names: Mapping[str, str],
        options: Options,
        issues: Issues | None = None,
    ) -> None:
        self.wh = warehouse
        self.table = table
        self.frame = frame
        self.names = dict(names)
        self.options = options
        self.issues = issues or Issues()
        self.rows = frame[ROW]
        self.n = frame.height
        self.warnings: list[str] = []
        self.dropped_columns: list[str] = []
        self.phone_columns: set[str] = {self.user(c) for c in ("phone",) if self.has(c)}
        #: Columns whose bad values are flagged (row kept, value NULL) instead of quarantined.
        self.soft: set[str] = set()
        #: Rows of each soft column whose value was unreadable (their raw value is kept).
        self.kept_invalid: dict[str, pl.Series] = {}

    # -- access -----------------------------------------------------------------------------
    def has(self, col: str) -> bool:
        return col in self.frame.columns

    def user(self, col: str) -> str:
        return self.names.get(col, col)

    def column(self, col: str) -> pl.Series:
        if self.has(col):
            return self.frame[col]
        return nulls(self.n, pl.String, col)

    def text(self, col: str) -> pl.Series:
        return clean_text(self.column(col)).alias(col)

    def fmt(self, template: str, *values: pl.Series) -> Detail:
        """A detail sentence ``template`` with ``{}`` filled from ``values`` row by row (rendered
        only for the rows that get an issue; values shortened to 60 characters)."""
        return Detail(template, values)

    def _issue(
        self, mask: pl.Series, reason: str | pl.Series, detail: str | pl.Series | Detail | None
    ) -> tuple | None:
        keep = mask.fill_null(False)
        if not bool(keep.any()):
            return None
        rows = self.rows.filter(keep)
        if isinstance(reason, pl.Series):
            reason = reason.filter(keep)
        if isinstance(detail, Detail):
            detail = detail.render(keep)
        elif isinstance(detail, pl.Series):
            detail = detail.filter(keep)
        return rows, reason, detail

    def add(
        self,
        mask: pl.Series,
        reason: str | pl.Series,
        col: str | None,
        detail: str | pl.Series | Detail | None,
    ) -> None:
        """Quarantine the rows of ``mask`` with ``reason`` on column ``col`` (flag them instead
        when ``col`` is a soft column: the row is kept with the value empty)."""
        if col is not None and col in self.soft:
            keep = mask.fill_null(False)
            previous = self.kept_invalid.get(col)
            self.kept_invalid[col] = keep if previous is None else (previous | keep)
            if isinstance(detail, Detail):
                detail = Detail(
                    detail.template
                    + "; the row was loaded without this value (kept in attributes)",
                    detail.values,
                )
            self.flag(mask, reason, col, detail)
            return
        issue = self._issue(mask, reason, detail)
        if issue is not None:
            rows, reason, detail = issue
            self.issues.add(
                rows, None, reason=reason, column=self.user(col) if col else None, detail=detail
            )

    def flag(
        self,
        mask: pl.Series,
        reason: str | pl.Series,
        col: str | None,
        detail: str | pl.Series | Detail | None,
    ) -> None:
        """Flag the (kept) rows of ``mask`` with ``reason``."""
        issue = self._issue(mask, reason, detail)
        if issue is not None:
            rows, reason, detail = issue
            self.issues.flag(
                rows, None, reason=reason, column=self.user(col) if col else None, detail=detail
            )

    # -- generic checks ---------------------------------------------------------------------
    def check_control_characters(self) -> None:
        for col, dtype in self.frame.schema.items():
            if col == ROW or dtype != pl.String:
                continue
            values = self.frame[col]
            mask = values.str.contains(CONTROL_CHARACTERS)
            if bool(mask.fill_null(False).any()):
                self.add(
                    mask,
                    "control_characters",
                    col,
                    f"column '{self.user(col)}' contains control characters (NUL bytes or similar, "
                    "from a corrupted export); remove them or re-export the file",
                )

    def require(self, col: str, what: str | None = None) -> None:
        """Quarantine rows whose ``col`` is blank (``missing_value``)."""
        mask = self.text(col).is_null()
        if bool(mask.any()):
            self.add(
                mask,
                "missing_value",
                col,
                f"column '{self.user(col)}' is empty; {what or 'it is required'}: fill it or "
                "remove the row",
            )

    def timestamps(self, col: str, *, ahead: dt.timedelta = EVENT_LEEWAY) -> pl.Series:
        """UTC timestamps of ``col``; unreadable, non-existent and absurd values are quarantined
        (and returned as NULL). Blank values are NULL without an issue: see :meth:`require`."""
        if not self.has(col):
            return nulls(self.n, pl.Datetime("us", "UTC"), col)
        raw = self.column(col)
        parsed = parse_timestamps(
            raw, source_timezone=self.options.source_timezone, dayfirst=self.options.dayfirst
        )
        value = parsed["value"].alias(col)
        shown = raw.cast(pl.String)
        hint = (
            " (if it is day/month/year, drop --dayfirst)"
            if self.options.dayfirst
            else " (for day/month/year dates such as 13/03/2024, pass --dayfirst)"
        )
        invalid = parsed["reason"] == "invalid_timestamp"
        self.add(
            invalid,
            "invalid_timestamp",
            col,
            self.fmt(
                f"'{{}}' in column '{self.user(col)}' is not a date-time that can be read; write "
                "ISO "
                f"8601 such as 2024-03-01T14:05:00Z{hint}",
                shown,
            ),
        )
        self.add(
            parsed["reason"] == "nonexistent_local_time",
            "nonexistent_local_time",
            col,
            self.fmt(
                f"'{{}}' in column '{self.user(col)}' does not exist in time zone "
                f"{self.options.source_timezone} (clocks went forward); export times with their "
                "UTC "
                "offset or correct the time",
                shown,
            ),
        )
        self.flag(
            parsed["flag"] == "ambiguous_local_time",
            "ambiguous_local_time",
            col,
            f"this local time occurs twice in {self.options.source_timezone} (clocks went back); "
            "the first occurrence was used",
        )
        latest = self.options.now + ahead
        too_early = value < MIN_TIMESTAMP
        too_late = value > latest
        self.add(
            too_early | too_late,
            "absurd_timestamp",
            col,
            self.fmt(
                f"'{{}}' in column '{self.user(col)}' is {{}}; correct the date (a placeholder "
                "such as "
                "1900-01-01, or a typo in the year?)",
                shown,
                pl.select(
                    pl.when(pl.lit(too_early))
                    .then(pl.lit("before 1990"))
                    .otherwise(pl.lit(f"in the future (after {latest:%Y-%m-%d %H:%M} UTC)"))
                ).to_series(),
            ),
        )
        return pl.select(
            pl.when(pl.lit(too_early | too_late).fill_null(False))
            .then(None)
            .otherwise(pl.lit(value))
            .alias(col)
        ).to_series()

    def date(self, col: str) -> pl.Series:
        if not self.has(col):
            return nulls(self.n, pl.Date, col)
        raw = self.column(col)
        parsed = parse_dates(raw, dayfirst=self.options.dayfirst)
        value = parsed["value"]
        today = self.options.now.date()
        bad = (
            (parsed["reason"] == "invalid_date").fill_null(False)
            | (value < MIN_BIRTHDAY).fill_null(False)
            | (value > today).fill_null(False)
        )
        self.add(
            bad,
            "invalid_date",
            col,
            self.fmt(
                f"'{{}}' in column '{self.user(col)}' is not a date between 1900-01-01 and today; "
                "write "
                "YYYY-MM-DD (or pass --dayfirst for DD/MM/YYYY)",
                raw.cast(pl.String),
            ),
        )
        return (
            pl.select(pl.when(pl.lit(bad)).then(None).otherwise(pl.lit(value)))
            .to_series()
            .alias(col)
        )

    def number(
        self,
        col: str,
        *,
        maximum: float | None = None,
        negative: str = "negative_amount",
    ) -> pl.Series:
        if not self.has(col):
            return nulls(self.n, pl.Float64, col)
        raw = self.column(col)
        parsed = parse_numbers(raw)
        value = parsed["value"]
        shown = raw.cast(pl.String)
        self.add(
            parsed["reason"] == "invalid_number",
            "invalid_number",
            col,
            self.fmt(
                f"'{{}}' in column '{self.user(col)}' is not a number; write plain numbers such as "
                "12.50",
                shown,
            ),
        )
        self.add(
            value < 0,
            negative,
            col,
            self.fmt(
                f"'{{}}' in column '{self.user(col)}' is negative; refunds and cancellations are "
                "not "
                "orders: leave them out or net them into the original row",
                shown,
            ),
        )
        if maximum is not None:
            self.add(
                value > maximum,
                "absurd_amount",
                col,
                self.fmt(
                    f"'{{}}' in column '{self.user(col)}' is above {maximum:,.0f}; correct the "
                    "value "
                    "(cents instead of units? two values in one cell?)",
                    shown,
                ),
            )
        return value.alias(col)

    def integer(self, col: str, *, minimum: int, maximum: int) -> pl.Series:
        if not self.has(col):
            return nulls(self.n, pl.Int64, col)
        raw = self.column(col)
        parsed = parse_integers(raw)
        value = parsed["value"]
        shown = raw.cast(pl.String)
        self.add(
            parsed["reason"] == "invalid_number",
            "invalid_number",
            col,
            self.fmt(f"'{{}}' in column '{self.user(col)}' is not a whole number", shown),
        )
        outside = (value < minimum) | (value > maximum)
        self.add(
            outside,
            "out_of_range",
            col,
            self.fmt(
                f"'{{}}' in column '{self.user(col)}' is outside {minimum:,}…{maximum:,}; correct "
                "it",
                shown,
            ),
        )
        return (
            pl.select(pl.when(pl.lit(outside).fill_null(False)).then(None).otherwise(pl.lit(value)))
            .to_series()
            .alias(col)
        )

    def boolean(self, col: str) -> pl.Series:
        if not self.has(col):
            return nulls(self.n, pl.Boolean, col)
        raw = self.column(col)
        parsed = parse_booleans(raw)
        self.add(
            parsed["reason"] == "invalid_boolean",
            "invalid_boolean",
            col,
            self.fmt(
                f"'{{}}' in column '{self.user(col)}' is not a yes/no value; write true or false",
                raw.cast(pl.String),
            ),
        )
        return parsed["value"].alias(col)

    def currency(self, col: str) -> pl.Series:
        if not self.has(col):
            return nulls(self.n, pl.String, col)
        raw = self.column(col)
        parsed = normalize_currency(raw)
        self.add(
            parsed["reason"] == "invalid_currency",
            "invalid_currency",
            col,
            self.fmt(
                f"'{{}}' in column '{self.user(col)}' is not an ISO 4217 currency; use a code such "
                "as EUR or USD",
                raw.cast(pl.String),
            ),
        )
        return parsed["value"].alias(col)

    def choice(self, col: str, allowed: Mapping[str, str]) -> pl.Series:
        """A value from a closed list (keys are lower-cased spellings, values canonical)."""
        text = self.text(col)
        key = text.str.to_lowercase().str.replace_all(r"[\s_]", "")
        value = key.replace_strict(dict(allowed), default=None, return_dtype=pl.String)
        canon = ", ".join(sorted(set(allowed.values())))
        self.add(
            text.is_not_null() & value.is_null(),
            "invalid_value",
            col,
            self.fmt(f"'{{}}' in column '{self.user(col)}' is not one of: {canon}", text),
        )
        return value.alias(col)

    # -- references ---------------------------------------------------------------------------
    def _lookup(self, keys: pl.Series, sql: str, table: str) -> pl.DataFrame:
        """Run ``sql`` against the distinct non-null ``keys`` registered as ``_ingest_keys(k)``.

        Skipped (an empty result with the query's columns) when ``table`` is empty.
        """
        empty = not self.wh.con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchall()[0][0]
        distinct = pl.DataFrame(
            {"k": [] if empty else keys.drop_nulls().unique()}, schema={"k": pl.String}
        )
        with registered(self.wh.con, "_ingest_keys", distinct):
            return self.wh.con.sql(sql).pl()

    def contacts(self) -> pl.Series:
        """Warehouse ``contact_id`` of each row, from ``contact_id`` (user id) or ``phone``."""
        ext = self.text("contact_id")
        frame = pl.DataFrame({"ext": ext})
        found = self._lookup(
            ext,
            "SELECT k.k AS ext, min(c.contact_id) AS cid_ext FROM _ingest_keys k "
            "JOIN contacts c ON c.external_id = k.k GROUP BY k.k",
            "contacts",
        )
        frame = frame.join(found, on="ext", how="left", maintain_order="left")
        phone_given = pl.repeat(False, self.n, dtype=pl.Boolean, eager=True)
        phone_reason = nulls(self.n, pl.String)
        phone_detail = nulls(self.n, pl.String)
        if self.has("phone"):
            phones = normalize_phones(
                self.column("phone"), default_region=self.options.default_region
            )
            phone_given = phones["reason"].ne_missing("missing_value")
            phone_reason = phones["reason"]
            phone_detail = phones["detail"]
            found = self._lookup(
                phones["phone_e164"],
                "SELECT k.k AS e164, min(c.contact_id) AS cid_phone FROM _ingest_keys k "
                "JOIN contacts c ON c.phone_e164 = k.k GROUP BY k.k",
                "contacts",
            )
            frame = frame.with_columns(phones["phone_e164"].alias("e164")).join(
                found, on="e164", how="left", maintain_order="left"
            )
        else:
            frame = frame.with_columns(pl.lit(None, pl.Int64).alias("cid_phone"))
        cid = frame.select(pl.coalesce("cid_ext", "cid_phone")).to_series().alias("contact_id")
        has_ext = ext.is_not_null()
        ref = "contact_id (or phone)" if self.has("phone") else "contact_id"
        self.add(
            ~has_ext & ~phone_given,
            "missing_value",
            "contact_id" if self.has("contact_id") else "phone",
            f"the row names no contact; fill {ref}",
        )
        self.add(
            has_ext & cid.is_null(),
            "unknown_contact",
            "contact_id",
            self.fmt(
                f"contact id '{{}}' (column '{self.user('contact_id')}') is not in the warehouse; "
                "load the contacts file first, then this file again with --force (force=True)",
                ext,
            ),
        )
        invalid_phone = ~has_ext & phone_given & phone_reason.is_not_null()
        self.add(invalid_phone, phone_reason, "phone", phone_detail)
        self.add(
            ~has_ext & phone_given & phone_reason.is_null() & cid.is_null(),
            "unknown_contact",
            "phone",
            "no contact in the warehouse has this phone number; load the contacts file first, then "
            "this file again with --force (force=True)",
        )
        return cid

    def messages(self) -> pl.DataFrame:
        """``message_id``, ``msg_contact_id`` and ``msg_sent_at`` of each row's provider id."""
        ref = self.text("message_id")
        self.require("message_id", "it names the message (the provider's message id)")
        found = self._lookup(
            ref,
            "SELECT k.k AS ref, min(m.message_id) AS message_id, arg_min(m.contact_id, "
            "m.message_id) AS msg_contact_id, "
            "arg_min(m.sent_at, m.message_id) AS msg_sent_at FROM _ingest_keys k "
            "JOIN messages m ON m.provider_message_id = k.k GROUP BY k.k",
            "messages",
        )
        out = pl.DataFrame({"ref": ref}).join(found, on="ref", how="left", maintain_order="left")
        self.add(
            ref.is_not_null() & out["message_id"].is_null(),
            "unknown_message",
            "message_id",
            self.fmt(
                f"message id '{{}}' (column '{self.user('message_id')}') is not in the warehouse; "
                "load the messages first, then this file again with --force (force=True)",
                ref,
            ),
        )
        return out.select(
            pl.col("message_id").cast(pl.Int64),
            pl.col("msg_contact_id").cast(pl.Int64),
            pl.col("msg_sent_at").cast(pl.Datetime("us", "UTC")),
        )

    # -- finishing ----------------------------------------------------------------------------
    def keep(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Rows without issues."""
        return self.issues.without(rows)

    def dedupe(
        self, rows: pl.DataFrame, key: list[str], values: list[str] | None = None
    ) -> pl.DataFrame:
        """Quarantine later rows with the key of an earlier row (``duplicate_row`` when every value
        is the same, ``duplicate_key`` otherwise); keys with a NULL part are not compared."""
        if rows.height == 0:
            return rows
        values = values or [c for c in rows.columns if c != ROW]
        ranked = rows.sort(ROW).with_columns(pl.col(ROW).first().over(key).alias("_first"))
        ranked = ranked.with_columns(
            pl.any_horizontal([pl.col(k).is_null() for k in key]).alias("_nullkey")
        )
        same = pl.all_horizontal(
            [pl.col(c).eq_missing(pl.col(c).first().over(key)) for c in values]
        )
        ranked = ranked.with_columns(same.alias("_same"))
        dup = ranked.filter(~pl.col("_nullkey") & (pl.col(ROW) != pl.col("_first")))
        if dup.height:
            key_text = ", ".join(self.user(k) for k in key)
            exact = dup.filter(pl.col("_same"))
            other = dup.filter(~pl.col("_same"))
            self.issues.add_formatted(
                exact[ROW],
                "the same row as row {} of the file, which was loaded; remove the copy",
                exact["_first"],
                reason="duplicate_row",
                column=None,
            )
            self.issues.add_formatted(
                other[ROW],
                f"the same {key_text} as row {{}} of the file but different values; the first "
                "row was loaded; keep one row per key",
                other["_first"],
                reason="duplicate_key",
                column=self.user(key[0]),
            )
        return ranked.filter(pl.col("_nullkey") | (pl.col(ROW) == pl.col("_first"))).drop(
            "_first", "_nullkey", "_same"
        )


def _attributes_json(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    if not columns:
        return nulls(frame.height, pl.String, "attributes")
    exprs = []
    for c in columns:
        dtype = frame.schema[c]
        e = pl.col(c)
        if dtype == pl.String:
            e = e.str.strip_chars()
            e = pl.when(e == "").then(pl.lit(None, pl.String)).otherwise(e)
        elif isinstance(dtype, pl.Datetime | pl.Date | pl.Time | pl.Duration | pl.Decimal):
            e = e.cast(pl.String)
        exprs.append(e.alias(c))
    return frame.select(pl.struct(exprs).struct.json_encode().alias("attributes")).to_series()


def _is_phone_like(name: str, values: pl.Series) -> bool:
    if _PHONE_NAME.search(name):
        return True
    sample = values.drop_nulls().head(1000).cast(pl.String).str.strip_chars()
    sample = sample.filter(sample != "")
    if sample.len() == 0:
        return False
    hits = 0
    for v in sample:
        digits = sum(ch.isdigit() for ch in v)
        if _PHONE_VALUE.match(v) and 8 <= digits <= 15 and not _DATE_VALUE.match(v):
            hits += 1
    return hits / sample.len() >= 0.5


def _merge_json(base: str | None, extra: str | None) -> str | None:
    if base is None:
        return extra
    if extra is None:
        return base
    merged = json.loads(base)
    merged.update(json.loads(extra))
    return json.dumps(merged, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# contacts
# ---------------------------------------------------------------------------------------------
_LANGUAGE = re.compile(r"^[a-z]{2}(?:[-_][a-z0-9]{2,8})*$")


def prepare_contacts(b: Batch, extras: list[str]) -> pl.DataFrame:
    """Validate contacts; assign warehouse ids (existing contacts keep theirs)."""
    o = b.options
    # A contact is the root of every event: an unreadable optional value must not cost the whole
    # contact (and, through unknown_contact, all its messages, clicks and orders). Those values
    # are left empty, flagged, and kept in attributes.<column>_invalid. opted_out_at is not
    # optional in that sense: an unreadable opt-out must never read as "not opted out".
    b.soft = {"signup_at", "consent_at", "birthday", "points", "language"}
    ext = b.text("contact_id")
    b.require("contact_id", "it is the contact's id in your system")
    phones = normalize_phones(
        b.column("phone"),
        default_region=o.default_region,
        country_hint=b.column("country") if b.has("country") else None,
    )
    b.phone_columns.add(b.user("phone"))
    b.add(phones["reason"].is_not_null(), phones["reason"], "phone", phones["detail"])
    b.flag(
        phones["repair"].is_not_null(),
        phones["repair"],
        "phone",
        None,
    )
    tz = assign_timezones(
        phones,
        explicit=b.column("timezone") if b.has("timezone") else None,
        default_region=o.default_region,
        default_timezone=o.default_timezone,
    )
    b.flag(
        tz["flag"].is_not_null(),
        tz["flag"],
        "timezone" if b.has("timezone") else "phone",
        tz["detail"],
    )
    language_raw = b.text("language")
    language = language_raw.str.to_lowercase()
    bad_language = language.is_not_null() & ~language.str.contains(_LANGUAGE.pattern)
    b.add(
        bad_language,
        "invalid_value",
        "language",
        b.fmt(
            f"'{{}}' in column '{b.user('language')}' is not an ISO 639-1 language code such as fr "
            "or en",
            language_raw,
        ),
    )
    language = pl.select(
        pl.when(pl.lit(bad_language)).then(None).otherwise(pl.lit(language).str.slice(0, 2))
    ).to_series()

    # Extra columns → attributes, except phone numbers (which live only in phone_e164).
    kept_extras = []
    for col in extras:
        if _is_phone_like(col, b.frame[col]):
            b.dropped_columns.append(col)
            b.phone_columns.add(col)
        else:
            kept_extras.append(col)
    attributes = _attributes_json(b.frame, kept_extras)
    if b.has("attributes"):
        given = b.text("attributes")
        parsed_ok = []
        for v in given:
            if v is None:
                parsed_ok.append(True)
                continue
            try:
                parsed_ok.append(isinstance(json.loads(v), dict))
            except ValueError:
                parsed_ok.append(False)
        bad_json = pl.Series(parsed_ok) == False  # noqa: E712
        b.add(
            bad_json,
            "invalid_attributes",
            "attributes",
            f"column '{b.user('attributes')}' is not a JSON object; write e.g. {{\"city\": "
            '"Lyon"}} or leave it blank',
        )
        if kept_extras:
            attributes = pl.Series(
                "attributes",
                [
                    _merge_json(g, a) if ok else None
                    for g, a, ok in zip(given, attributes, parsed_ok, strict=True)
                ],
                dtype=pl.String,
            )
        else:
            attributes = given.alias("attributes")
    signup_at = b.timestamps("signup_at")
    birthday = b.date("birthday")
    consent_at = b.timestamps("consent_at")
    points = b.integer("points", minimum=0, maximum=1_000_000_000)
    opted_out_at = b.timestamps("opted_out_at")  # not soft: see above
    # Unreadable values are kept in attributes.<column>_invalid (nothing is lost).
    kept = dict(b.kept_invalid)
    if b.has("timezone"):
        kept["timezone"] = (tz["flag"] == "invalid_timezone").fill_null(False)
    kept = {col: mask for col, mask in kept.items() if bool(mask.any())}
    if kept:
        raw_text = {col: b.column(col).cast(pl.String) for col in kept}
        any_kept = pl.select(pl.any_horizontal([pl.lit(m) for m in kept.values()])).to_series()
        merged = []
        for i, (base, flagged) in enumerate(zip(attributes, any_kept, strict=True)):
            if not flagged:
                merged.append(base)
                continue
            extra = {f"{col}_invalid": raw_text[col][i] for col, mask in kept.items() if mask[i]}
            merged.append(
                _merge_json(base, json.dumps(extra, ensure_ascii=False, separators=(",", ":")))
            )
        attributes = pl.Series("attributes", merged, dtype=pl.String)

    rows = pl.DataFrame(
        {
            ROW: b.rows,
            "external_id": ext,
            "phone_e164": phones["phone_e164"],
            "phone_type": phones["phone_type"],
            "country": phones["country"],
            "timezone": tz["timezone"],
            "timezone_source": tz["timezone_source"],
            "first_name": b.text("first_name"),
            "language": language,
            "signup_at": signup_at,
            "birthday": birthday,
            "consent_at": consent_at,
            "opted_out_at": opted_out_at,
            "points": points,
            "attributes": attributes,
        }
    )
    rows = b.keep(rows)
    # Within the file: one row per external id, then one per number (first occurrence wins).
    rows = rows.sort(ROW)
    first_by_ext = rows.with_columns(
        pl.col(ROW).first().over("external_id").alias("_first"),
        pl.col("phone_e164").first().over("external_id").alias("_first_phone"),
    )
    dup_ext = first_by_ext.filter(pl.col(ROW) != pl.col("_first"))
    same = dup_ext.filter(pl.col("phone_e164") == pl.col("_first_phone"))
    other = dup_ext.filter(pl.col("phone_e164") != pl.col("_first_phone"))
    b.issues.add_formatted(
        same[ROW],
        "the same contact as row {} (contact id '{}', the same number, perhaps written "
        "differently), which was kept; remove the copy",
        same["_first"],
        same["external_id"],
        reason="duplicate_contact",
        column=b.user("contact_id"),
    )
    b.issues.add_formatted(
        other[ROW],
        "contact id '{}' already appears on row {} with another phone number; the first "
        "row was kept: keep one row per contact, or give each person their own id",
        other["external_id"],
        other["_first"],
        reason="duplicate_external_id",
        column=b.user("contact_id"),
    )
    if dup_ext.height:
        rows = rows.filter(~pl.col(ROW).is_in(dup_ext[ROW].implode()))
    first_by_phone = rows.with_columns(
        pl.col(ROW).first().over("phone_e164").alias("_first"),
        pl.col("external_id").first().over("phone_e164").alias("_first_ext"),
    )
    dup_phone = first_by_phone.filter(pl.col(ROW) != pl.col("_first"))
    if dup_phone.height:
        b.issues.add_formatted(
            dup_phone[ROW],
            "the same phone number (perhaps written differently) as row {} (contact id '{}'), "
            "which was kept; merge the two contacts in your system",
            dup_phone["_first"],
            dup_phone["_first_ext"],
            reason="duplicate_contact",
            column=b.user("phone"),
        )
        rows = rows.filter(~pl.col(ROW).is_in(dup_phone[ROW].implode()))

    # Against the warehouse: match on external id, then on the number.
    by_ext = b._lookup(
        rows["external_id"],
        "SELECT k.k AS external_id, c.contact_id AS _cid, c.phone_e164 AS _old_phone "
        "FROM _ingest_keys k JOIN contacts c ON c.external_id = k.k",
        "contacts",
    ).unique(subset=["external_id"], keep="first")
    by_phone = b._lookup(
        rows["phone_e164"],
        "SELECT k.k AS phone_e164, c.contact_id AS _pcid, c.external_id AS _pext "
        "FROM _ingest_keys k JOIN contacts c ON c.phone_e164 = k.k",
        "contacts",
    ).unique(subset=["phone_e164"], keep="first")
    rows = rows.join(by_ext, on="external_id", how="left", maintain_order="left").join(
        by_phone, on="phone_e164", how="left", maintain_order="left"
    )
    changed = rows.filter(
        pl.col("_cid").is_not_null() & (pl.col("_old_phone") != pl.col("phone_e164"))
    )
    b.issues.add_formatted(
        changed[ROW],
        "contact id '{}' is already in the warehouse (contact_id {}) with another phone number; "
        "ingest does not overwrite contacts: correct the id, or update the contact deliberately",
        changed["external_id"],
        changed["_cid"],
        reason="contact_changed",
        column=b.user("phone"),
    )
    taken = rows.filter(pl.col("_cid").is_null() & pl.col("_pcid").is_not_null())
    b.issues.add_formatted(
        taken[ROW],
        "this phone number already belongs to contact id '{}' (contact_id {}) in the "
        "warehouse; merge the two contacts in your system",
        taken["_pext"],
        taken["_pcid"],
        reason="duplicate_contact",
        column=b.user("phone"),
    )
    rows = b.keep(rows)
    start = b.wh.next_id("contacts", "contact_id")
    rows = rows.with_columns(
        pl.when(pl.col("_cid").is_null())
        .then(pl.lit(start, pl.Int64) + pl.col("_cid").is_null().cast(pl.Int64).cum_sum() - 1)
        .otherwise(pl.col("_cid"))
        .cast(pl.Int64)
        .alias("contact_id")
    )
    return rows.drop("_cid", "_old_phone", "_pcid", "_pext")


# ---------------------------------------------------------------------------------------------
# campaigns
# ---------------------------------------------------------------------------------------------
def prepare_campaigns(b: Batch) -> pl.DataFrame:
    cid = b.text("campaign_id")
    b.require("campaign_id", "it names the campaign")
    share = b.column("holdout_share")
    percent = None
    if share.dtype == pl.String:
        text = clean_text(share)
        percent = text.str.ends_with("%")
        share = text.str.strip_suffix("%")
        b.frame = b.frame.with_columns(share.alias("holdout_share"))
    value = b.number("holdout_share", negative="out_of_range")
    if percent is not None:
        value = pl.select(
            pl.when(pl.lit(percent).fill_null(False))
            .then(pl.lit(value) / 100)
            .otherwise(pl.lit(value))
        ).to_series()
    b.add(
        value >= 1,
        "out_of_range",
        "holdout_share",
        b.fmt(
            f"'{{}}' in column '{b.user('holdout_share')}' must be a share in [0, 1), e.g. 0.1 or "
            "10%",
            value,
        ),
    )
    rows = pl.DataFrame(
        {
            ROW: b.rows,
            "campaign_id": cid,
            "name": b.text("name"),
            "kind": b.text("kind").str.to_lowercase(),
            "sender_id": b.text("sender_id"),
            "template": b.column("template").cast(pl.String),
            "created_at": b.timestamps("created_at"),
            "holdout_share": value.alias("holdout_share"),
        }
    )
    return b.dedupe(b.keep(rows), ["campaign_id"])


# ---------------------------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------------------------
SEND_TIME_POLICIES = {
    "fixed": "fixed",
    "random": "random",
    "randomised": "random",
    "randomized": "random",
    "optimised": "optimised",
    "optimized": "optimised",
}
ENCODINGS = {
    "gsm-7": "GSM-7",
    "gsm7": "GSM-7",
    "gsm": "GSM-7",
    "7bit": "GSM-7",
    "gsm-7bit": "GSM-7",
    "ucs-2": "UCS-2",
    "ucs2": "UCS-2",
    "unicode": "UCS-2",
    "utf-16": "UCS-2",
}


def assign_message_ids(b: Batch, rows: pl.DataFrame) -> pl.DataFrame:
    """Warehouse ``message_id``: existing messages (same provider id, or same contact, campaign,
    variant and send time when there is no provider id) keep theirs; new ones get the next ids."""
    keyed = rows.with_columns(
        pl.concat_str(
            [
                pl.col("contact_id").cast(pl.String),
                pl.col("campaign_id").fill_null(""),
                pl.col("variant").fill_null(""),
                pl.col("sent_at").cast(pl.String),
            ],
            separator="\x1f",
        ).alias("_natural")
    )
    msgs = keyed.select(
        "provider_message_id", "contact_id", "campaign_id", "variant", "sent_at", "_natural"
    )
    with registered(b.wh.con, "_ingest_msgs", msgs):
        by_provider = b.wh.con.sql(
            "SELECT k.provider_message_id, min(m.message_id) AS _mid_p FROM (SELECT DISTINCT "
            "provider_message_id FROM _ingest_msgs "
            "WHERE provider_message_id IS NOT NULL) k JOIN messages m ON m.provider_message_id = "
            "k.provider_message_id GROUP BY 1"
        ).pl()
        by_natural = b.wh.con.sql(
            "SELECT k._natural, min(m.message_id) AS _mid_n FROM (SELECT DISTINCT * FROM "
            "_ingest_msgs WHERE provider_message_id IS NULL) k "
            "JOIN messages m ON m.contact_id = k.contact_id AND m.sent_at = k.sent_at "
            "AND coalesce(m.campaign_id, '') = coalesce(k.campaign_id, '') AND coalesce(m.variant, "
            "'') = coalesce(k.variant, '') GROUP BY 1"
        ).pl()
    keyed = keyed.join(
        by_provider, on="provider_message_id", how="left", maintain_order="left"
    ).join(by_natural, on="_natural", how="left", maintain_order="left")
    start = b.wh.next_id("messages", "message_id")
    existing = pl.coalesce("_mid_p", "_mid_n")
    return keyed.with_columns(
        pl.when(existing.is_null())
        .then(pl.lit(start, pl.Int64) + existing.is_null().cast(pl.Int64).cum_sum() - 1)
        .otherwise(existing)
        .cast(pl.Int64)
        .alias("message_id")
    ).drop("_natural", "_mid_p", "_mid_n")


def prepare_messages(b: Batch) -> pl.DataFrame:
    contact_id = b.contacts()
    rows = pl.DataFrame(
        {
            ROW: b.rows,
            "provider_message_id": b.text("message_id"),
            "campaign_id": b.text("campaign_id"),
            "contact_id": contact_id,
            "variant": b.text("variant"),
            "body": b.column("body").cast(pl.String),
            "send_time_policy": b.choice("send_time_policy", SEND_TIME_POLICIES),
            "scheduled_at": b.timestamps("scheduled_at", ahead=dt.timedelta(days=400)),
            "sent_at": b.timestamps("sent_at"),
            "encoding": b.choice("encoding", ENCODINGS),
            "segments": b.integer("segments", minimum=1, maximum=255),
            "cost": b.number("cost", maximum=MAX_MESSAGE_COST),
            "currency": b.currency("currency"),
        }
    )
    b.require("sent_at", "it is when the message was sent")
    rows = b.keep(rows)
    rows = b.dedupe(rows, ["provider_message_id"])
    rows = (
        b.dedupe(
            rows.with_columns(pl.col("provider_message_id").is_null().alias("_np")),
            ["contact_id", "campaign_id", "variant", "sent_at", "_np"],
        ).drop("_np")
        if rows.height
        else rows
    )
    return assign_message_ids(b, rows)


# ---------------------------------------------------------------------------------------------
# assignments, receipts, clicks, inbound, orders
# ---------------------------------------------------------------------------------------------
def prepare_assignments(b: Batch) -> pl.DataFrame:
    campaign = b.text("campaign_id")
    b.require("campaign_id", "it names the campaign")
    contact_id = b.contacts()
    variant = b.text("variant")
    b.require("variant", "it names the arm (a variant, or control)")
    holdout = b.boolean("is_holdout")
    holdout = pl.select(
        pl.coalesce(
            pl.lit(holdout), pl.lit(variant).str.to_lowercase().is_in(["control", "holdout"])
        )
    ).to_series()
    assigned = b.timestamps("assigned_at")
    b.require("assigned_at", "it is when the contact was assigned")
    rows = pl.DataFrame(
        {
            ROW: b.rows,
            "campaign_id": campaign,
            "contact_id": contact_id,
            "variant": variant,
            "is_holdout": holdout,
            "assigned_at": assigned,
        }
    )
    return b.dedupe(b.keep(rows), ["campaign_id", "contact_id"])


def prepare_receipts(b: Batch) -> pl.DataFrame:
    msgs = b.messages()
    status_raw = b.text("status")
    status = normalize_receipt_status(status_raw)
    b.require("status", "it is the delivery status")
    b.add(
        status["reason"] == "invalid_status",
        "invalid_status",
        "status",
        b.fmt(
            f"'{{}}' in column '{b.user('status')}' is not a known delivery status; use queued, "
            "sent, delivered, undelivered or failed",
            status_raw,
        ),
    )
    status_at = b.timestamps("status_at")
    b.require("status_at", "it is when the status was reached")
    error = b.text("error_code").str.replace(r"\.0+$", "")
    rows = pl.DataFrame(
        {
            ROW: b.rows,
            "message_id": msgs["message_id"],
            "status_at": status_at,
            "status": status["value"],
            "error_code": error,
        }
    )
    return b.dedupe(b.keep(rows), ["message_id", "status", "status_at"])


def prepare_clicks(b: Batch) -> pl.DataFrame:
    msgs = b.messages()
    clicked = b.timestamps("clicked_at")
    b.require("clicked_at", "it is when the click happened")
    contact_id = msgs["msg_contact_id"]
    if b.has("contact_id") or b.has("phone"):
        given = b.contacts()
        b.add(
            given.is_not_null() & contact_id.is_not_null() & (given != contact_id),
            "contact_mismatch",
            "contact_id" if b.has("contact_id") else "phone",
            "the click's contact is not the recipient of the clicked message; correct it, or leave "
            "the column out (it is taken from the message)",
        )
    too_early = clicked < (msgs["msg_sent_at"] - CLICK_SKEW)
    b.add(
        too_early,
        "click_before_send",
        "clicked_at",
        b.fmt(
            "the click ({}) is more than a minute before its message was sent ({}); check both "
            "files use the same time zone (--source-timezone)",
            clicked,
            msgs["msg_sent_at"],
        ),
    )
    user_agent = b.text("user_agent")
    given_bot = b.boolean("is_bot")
    computed = detect_bot_clicks(user_agent, clicked, msgs["msg_sent_at"])
    is_bot = pl.select(pl.coalesce(pl.lit(given_bot), pl.lit(computed))).to_series()
    rows = pl.DataFrame(
        {
            ROW: b.rows,
            "message_id": msgs["message_id"],
            "contact_id": contact_id,
            "clicked_at": clicked,
            "url": b.text("url"),
            "user_agent": user_agent,
            "is_bot": is_bot,
        }
    )
    return b.dedupe(b.keep(rows), ["message_id", "clicked_at"])


KEYWORDS = {"stop": "STOP", "start": "START", "help": "HELP"}


def prepare_inbound(b: Batch) -> pl.DataFrame:
    contact_id = b.contacts()
    received = b.timestamps("received_at")
    b.require("received_at", "it is when the reply arrived")
    body = b.column("body").cast(pl.String)
    keyword = detect_keywords(body)
    if b.has("keyword"):
        # A given keyword is used (and checked) only where there is no body to read it from.
        no_body = body.is_null()
        b.frame = b.frame.with_columns(
            pl.when(pl.lit(no_body)).then(pl.col("keyword").cast(pl.String)).alias("keyword")
        )
        given = b.choice("keyword", KEYWORDS)
        keyword = pl.select(
            pl.when(pl.lit(body).is_not_null()).then(pl.lit(keyword)).otherwise(pl.lit(given))
        ).to_series()
    rows = pl.DataFrame(
        {
            ROW: b.rows,
            "contact_id": contact_id,
            "received_at": received,
            "body": body,
            "keyword": keyword,
        }
    )
    return b.dedupe(b.keep(rows), ["contact_id", "received_at"])


CANCELLED = (
    "cancelled",
    "canceled",
    "refunded",
    "voided",
    "void",
    "annulee",
    "annulée",
    "rembourse",
    "remboursée",
)


def prepare_orders(b: Batch) -> pl.DataFrame:
    order_id = b.text("order_id")
    b.require("order_id", "it identifies the order")
    contact_id = b.contacts()
    ordered = b.timestamps("ordered_at")
    b.require("ordered_at", "it is when the order was placed")
    amount = b.number("amount", maximum=MAX_ORDER_AMOUNT)
    b.require("amount", "it is the order value")
    if b.has("status"):
        status = b.text("status").str.to_lowercase()
        b.add(
            status.is_in(list(CANCELLED)),
            "cancelled_order",
            "status",
            b.fmt(
                f"the order's status is '{{}}' (column '{b.user('status')}'): cancelled or "
                "refunded orders are not purchases",
                status,
            ),
        )
    rows = pl.DataFrame(
        {
            ROW: b.rows,
            "order_id": order_id,
            "contact_id": contact_id,
            "ordered_at": ordered,
            "amount": amount,
            "currency": b.currency("currency"),
        }
    )
    return b.dedupe(b.keep(rows), ["order_id"])


PREPARERS = {
    "campaigns": prepare_campaigns,
    "messages": prepare_messages,
    "assignments": prepare_assignments,
    "receipts": prepare_receipts,
    "clicks": prepare_clicks,
    "inbound": prepare_inbound,
    "orders": prepare_orders,
}
