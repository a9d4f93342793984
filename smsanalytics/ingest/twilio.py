"""A Twilio message-log export (Console → Monitor → Messaging logs → Export CSV).

Columns used (matched ignoring case, spaces and underscores): ``Sid``, ``From``, ``To``,
``Direction``, ``Status``, ``SentDate`` (or ``DateSent``), ``Body``, ``NumSegments``,
``ErrorCode``, ``Price``, ``PriceUnit``. Others (``AccountSid``, ``ApiVersion``, ``NumMedia``,
``MessagingServiceSid`` …) are ignored.

- ``Direction`` ``outbound-api`` / ``outbound-*`` → a ``messages`` row (``provider_message_id`` =
  ``Sid``, ``sent_at`` = ``SentDate``, ``segments`` = ``NumSegments``, ``cost`` = −``Price``
  (Twilio writes costs as negative numbers), ``currency`` = ``PriceUnit``, ``body``), plus a
  ``receipts`` row with the final ``Status`` at ``SentDate`` and the ``ErrorCode``. The recipient
  is found by the ``To`` number.
- ``inbound`` → an ``inbound`` row (``received_at`` = ``SentDate``, ``body``, ``keyword``), the
  sender found by the ``From`` number; STOP / START replies update ``contacts.opted_out_at`` in
  the same transaction.
- Contacts are **not created** from a message log: a log has no contact id, consent or signup
  date, and creating contacts from it would invent consent. Numbers that are not in ``contacts``
  are quarantined as ``unknown_contact``: load the contact list first, then the log again (it is
  idempotent: rows already loaded are skipped).
- The business numbers (``From`` of outbound, ``To`` of inbound) are not stored anywhere.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import polars as pl

from smsanalytics.ingest.errors import IngestError, MissingColumnsError, UnreadableFileError
from smsanalytics.ingest.keywords import detect_keywords
from smsanalytics.ingest.loading import (
    atomic,
    flag_summary,
    load_rows,
    table_result,
    update_opt_outs,
)
from smsanalytics.ingest.quarantine import ROW, Issues, build_quarantine
from smsanalytics.ingest.readers import raw_strings, read_source
from smsanalytics.ingest.report import IngestReport
from smsanalytics.ingest.tables import MAX_MESSAGE_COST, Batch, Options, assign_message_ids
from smsanalytics.ingest.values import normalize_receipt_status, nulls, parse_numbers
from smsanalytics.warehouse import Warehouse, sha256_file

__all__ = ["ingest_twilio_log", "is_twilio_header", "TWILIO_COLUMNS"]

#: Twilio column (lower case, no spaces/underscores) → internal name.
TWILIO_COLUMNS = {
    "sid": "sid",
    "messagesid": "sid",
    "from": "from",
    "to": "to",
    "direction": "direction",
    "status": "status",
    "sentdate": "sent_date",
    "datesent": "sent_date",
    "body": "body",
    "numsegments": "segments",
    "errorcode": "error_code",
    "price": "price",
    "priceunit": "price_unit",
}
_REQUIRED = ("sid", "from", "to", "direction", "status", "sent_date")
_TABLES = ("messages", "receipts", "inbound")


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.lower())


def is_twilio_header(columns: Iterable[str]) -> bool:
    """Whether a CSV header is a Twilio message log (has Sid, From, To, Direction, Status)."""
    keys = {_key(c) for c in columns}
    return {"sid", "from", "to", "direction", "status"} <= keys


def ingest_twilio_log(
    warehouse: Warehouse,
    path: str | Path,
    *,
    default_region: str = "FR",
    default_timezone: str = "Europe/Paris",
    source_timezone: str = "UTC",
    dayfirst: bool = False,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Load a Twilio message-log CSV into ``messages``, ``receipts`` and ``inbound``, atomically.

    Parameters
    ----------
    warehouse
        The warehouse (contacts must already be loaded).
    path
        The exported CSV.
    default_region
        Region for numbers without ``+`` (Twilio writes E.164, so rarely needed).
    default_timezone
        Unused for messages; accepted for symmetry with :func:`~smsanalytics.ingest.ingest_file`.
    source_timezone, dayfirst
        For ``SentDate`` values without an offset (Twilio's own are RFC 2822 with ``+0000``).
    force
        Process the log again even if it was loaded before (after loading missing contacts);
        see :func:`~smsanalytics.ingest.ingest_file`.
    progress
        Called with each stage name.

    Returns
    -------
    IngestReport
        ``table='twilio'``; ``rows_loaded`` counts log rows that became messages or inbound rows;
        ``tables`` has the three loads.

    Raises
    ------
    MissingColumnsError
        When ``Sid``, ``From``, ``To``, ``Direction``, ``Status`` or ``SentDate`` is missing.
    UnreadableFileError
        When the file cannot be read.
    """
    started = time.perf_counter()
    step = progress or (lambda stage: None)
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path}: no such file; check the path")
    sha = sha256_file(path)
    if not force and all(warehouse.loaded_hash(t, sha) is not None for t in _TABLES):
        return IngestReport(
            table="twilio",
            source=str(path.resolve()),
            format="twilio",
            sha256=sha,
            rows_read=0,
            rows_loaded=0,
            rows_duplicate=0,
            rows_quarantined=0,
            already_loaded=True,
            warnings=("the same content was loaded before; nothing was done",),
        )
    options = Options(default_region, default_timezone, source_timezone, dayfirst)
    step("read")
    source = read_source(path, format="csv")
    if source.is_empty:
        raise IngestError(f"{path}: the file is empty; export the message log again")
    rename: dict[str, str] = {}
    for col in source.columns:
        internal = TWILIO_COLUMNS.get(_key(col))
        if internal and internal not in rename.values():
            rename[col] = internal
    names = {v: k for k, v in rename.items()}
    missing = [c for c in _REQUIRED if c not in names]
    if missing:
        wanted = {
            "sid": "Sid",
            "from": "From",
            "to": "To",
            "direction": "Direction",
            "status": "Status",
            "sent_date": "SentDate",
        }
        raise MissingColumnsError(
            str(path),
            "twilio",
            [wanted[m] for m in missing],
            list(source.columns),
            suggestion="(rename them to Twilio's: Sid, From, To, Direction, Status, SentDate)",
        )
    frame = source.frame.select(ROW, *rename).rename(rename)
    ignored = tuple(c for c in source.columns if c not in rename)

    step("validate")
    issues = Issues()
    receipt_issues = Issues()
    whole = Batch(warehouse, "messages", frame, names, options, issues)
    whole.check_control_characters()
    direction = whole.text("direction").str.to_lowercase()
    outbound = direction.str.starts_with("outbound").fill_null(False)
    inbound = (direction == "inbound").fill_null(False)
    whole.add(
        ~outbound & ~inbound,
        "invalid_value",
        "direction",
        whole.fmt(
            f"'{{}}' in column '{names['direction']}' is not a Twilio direction (outbound-api, "
            "outbound-reply, inbound …)",
            direction,
        ),
    )
    out_b = _direction(whole, "messages", outbound, "to")
    in_b = _direction(whole, "inbound", inbound, "from")

    messages, receipts = _outbound(out_b, receipt_issues)
    inbound_rows = _inbound(in_b)

    phone_columns = {names["from"], names["to"]}
    raw = raw_strings(source.frame)
    all_issues = issues.frame()
    if source.ragged.height:
        ragged = source.ragged
        all_issues = pl.concat(
            [
                all_issues,
                pl.DataFrame(
                    {
                        ROW: ragged[ROW],
                        "column_name": nulls(ragged.height, pl.String),
                        "reason": pl.Series(["ragged_row"] * ragged.height, dtype=pl.String),
                        "detail": pl.select(
                            pl.format(
                                "the row has {} fields but the header has {}; re-export the log",
                                pl.lit(ragged["fields"]),
                                pl.lit(len(source.columns)),
                            )
                        ).to_series(),
                        "raw": ragged["raw"],
                    },
                    schema=all_issues.schema,
                ),
            ]
        )
    inbound_row_numbers = in_b.rows.implode()
    q_in = build_quarantine(
        all_issues.filter(pl.col(ROW).is_in(inbound_row_numbers)),
        raw,
        phone_columns=phone_columns,
        header=source.columns,
    )
    q_out = build_quarantine(
        all_issues.filter(~pl.col(ROW).is_in(inbound_row_numbers)),
        raw,
        phone_columns=phone_columns,
        header=source.columns,
    )
    q_rec = build_quarantine(
        receipt_issues.frame(), raw, phone_columns=phone_columns, header=source.columns
    )

    step("load")
    n_out = int(outbound.sum()) + int((~outbound & ~inbound).sum()) + source.ragged.height
    n_in = int(inbound.sum())
    with atomic(warehouse):
        r_msg = load_rows(
            warehouse,
            "messages",
            messages,
            quarantine=q_out,
            source=source.source,
            sha256=sha,
            rows_read=n_out,
            force=force,
        )
        r_rec = load_rows(
            warehouse,
            "receipts",
            receipts,
            quarantine=q_rec,
            source=source.source,
            sha256=sha,
            rows_read=receipts.height + q_rec.height,
            force=force,
        )
        r_in = load_rows(
            warehouse,
            "inbound",
            inbound_rows,
            quarantine=q_in,
            source=source.source,
            sha256=sha,
            rows_read=n_in,
            force=force,
        )
        opt = update_opt_outs(
            warehouse,
            inbound_rows.filter(pl.col("keyword").is_in(["STOP", "START"]))["contact_id"],
        )

    tables = {
        "messages": table_result(r_msg, q_out),
        "receipts": table_result(r_rec, q_rec),
        "inbound": table_result(r_in, q_in),
    }
    merged = issues
    merged.extend(receipt_issues)
    flag_counts, flag_examples = flag_summary(issues)
    q_all = pl.concat([q_out, q_in, q_rec])
    by_reason = dict(sorted(q_all.group_by("reason").len().iter_rows())) if q_all.height else {}
    quarantined_rows = (
        pl.concat([q_out, q_in])["row_number"].n_unique() if (q_out.height or q_in.height) else 0
    )
    return IngestReport(
        table="twilio",
        source=source.source,
        format="twilio",
        sha256=sha,
        rows_read=source.rows_read,
        rows_loaded=tables["messages"].rows_loaded + tables["inbound"].rows_loaded,
        rows_duplicate=tables["messages"].rows_duplicate + tables["inbound"].rows_duplicate,
        rows_quarantined=int(quarantined_rows),
        quarantined_by_reason=by_reason,
        flagged_by_reason=flag_counts,
        already_loaded=False,
        tables=tables,
        encoding=source.encoding,
        delimiter=source.delimiter,
        blank_rows=source.blank_rows,
        ignored_columns=ignored,
        contacts_opted_out=opt.opted_out,
        contacts_opted_in=opt.opted_in,
        warnings=(f"decoded as {source.encoding}",)
        if source.encoding not in (None, "utf-8")
        else (),
        flagged=flag_examples,
        seconds=round(time.perf_counter() - started, 3),
    )


def _direction(whole: Batch, table: str, mask: pl.Series, number: str) -> Batch:
    """The rows of ``whole`` in ``mask``, as a batch for ``table`` that finds contacts by the
    ``number`` column (``to`` of outbound messages, ``from`` of inbound ones) read as ``phone``;
    issues go to ``whole.issues``."""
    return Batch(
        whole.wh,
        table,
        whole.frame.filter(mask).with_columns(pl.col(number).alias("phone")),
        {**whole.names, "phone": whole.user(number)},
        whole.options,
        whole.issues,
    )


def _outbound(b: Batch, receipt_issues: Issues) -> tuple[pl.DataFrame, pl.DataFrame]:
    contact_id = b.contacts()
    sid = b.text("sid")
    b.require("sid", "it is the message's Sid")
    status_raw = b.text("status")
    sent_blank = b.text("sent_date").is_null()
    never = sent_blank | status_raw.str.to_lowercase().is_in(["canceled", "cancelled"]).fill_null(
        False
    )
    b.add(
        never,
        "message_not_sent",
        "sent_date",
        b.fmt(
            "Twilio did not send this message (status '{}', no send date); it is not a message to "
            "analyse",
            status_raw.fill_null(""),
        ),
    )
    sent_at = b.timestamps("sent_date")
    segments = b.integer("segments", minimum=1, maximum=255)
    price = (
        parse_numbers(b.column("price"))
        if b.has("price")
        else pl.DataFrame({"value": nulls(b.n, pl.Float64), "reason": nulls(b.n, pl.String)})
    )
    shown = b.column("price").cast(pl.String)
    b.add(
        price["reason"] == "invalid_number",
        "invalid_number",
        "price",
        b.fmt(f"'{{}}' in column '{b.user('price')}' is not a number", shown),
    )
    b.add(
        price["value"].abs() > MAX_MESSAGE_COST,
        "absurd_amount",
        "price",
        b.fmt(
            f"'{{}}' in column '{b.user('price')}' is above {MAX_MESSAGE_COST:,.0f} for one "
            "message; check the export",
            shown,
        ),
    )
    positive = price["value"] > 0
    b.flag(
        positive,
        "positive_price",
        "price",
        "Twilio writes prices as negative numbers (a cost); this one is positive, so the cost was "
        "left empty",
    )
    cost = pl.select(pl.when(pl.lit(price["value"]) <= 0).then(-pl.lit(price["value"]))).to_series()
    currency = b.currency("price_unit")
    messages = pl.DataFrame(
        {
            ROW: b.rows,
            "provider_message_id": sid,
            "campaign_id": nulls(b.n, pl.String),
            "contact_id": contact_id,
            "variant": nulls(b.n, pl.String),
            "body": b.column("body").cast(pl.String) if b.has("body") else nulls(b.n, pl.String),
            "sent_at": sent_at,
            "segments": segments,
            "cost": cost,
            "currency": currency,
        }
    )
    status = normalize_receipt_status(status_raw)
    details = pl.DataFrame(
        {
            ROW: b.rows,
            "status": status["value"],
            "status_reason": status["reason"],
            "status_raw": status_raw,
            "error_code": b.text("error_code").str.replace(r"\.0+$", ""),
        }
    )
    messages = b.dedupe(b.keep(messages), ["provider_message_id"])
    messages = assign_message_ids(b, messages)
    receipts = messages.select(ROW, "message_id", pl.col("sent_at").alias("status_at")).join(
        details, on=ROW, how="left"
    )
    bad = receipts.filter(pl.col("status_reason").is_not_null())
    receipt_issues.add_formatted(
        bad[ROW],
        f"'{{}}' in column '{b.user('status')}' is not a Twilio delivery status; the message was "
        "loaded without a receipt",
        bad["status_raw"],
        reason="invalid_status",
        column=b.user("status"),
    )
    receipts = receipts.filter(pl.col("status").is_not_null()).drop("status_reason", "status_raw")
    return messages, receipts


def _inbound(b: Batch) -> pl.DataFrame:
    contact_id = b.contacts()
    received = b.timestamps("sent_date")
    b.require("sent_date", "it is when the reply arrived")
    body = b.column("body").cast(pl.String) if b.has("body") else nulls(b.n, pl.String)
    rows = pl.DataFrame(
        {
            ROW: b.rows,
            "contact_id": contact_id,
            "received_at": received,
            "body": body,
            "keyword": detect_keywords(body),
        }
    )
    return b.dedupe(b.keep(rows), ["contact_id", "received_at"])
