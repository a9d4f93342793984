"""The canonical tables of the warehouse, defined once.

Every table the package reads or writes is described here: its columns with their DuckDB type,
polars type and meaning, and its key. The DDL of the warehouse, the validation of loads and
``docs/data-model.md`` are all generated from these definitions (a test keeps the document in
sync), so a column is added or changed in one place only.

Conventions (see ``docs/data-model.md``):

- timestamps are ``TIMESTAMPTZ`` in UTC and end in ``_at``;
- booleans start with ``is_``;
- ``contact_id`` is an integer surrogate assigned by the warehouse; the id the user's own system
  gives a contact is kept in ``contacts.external_id``;
- phone numbers live only in ``contacts.phone_e164`` (and in what is handed to a gateway).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

__all__ = [
    "Column",
    "Table",
    "TABLES",
    "CANONICAL_TABLES",
    "ORDERED_TABLES",
    "EVENT_TABLES",
    "PHONE_COLUMNS",
    "table",
    "cluster_order",
    "create_table_sql",
    "empty_frame",
]

_POLARS_TYPES: dict[str, pl.DataType] = {
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "DOUBLE": pl.Float64(),
    "VARCHAR": pl.String(),
    "BOOLEAN": pl.Boolean(),
    "DATE": pl.Date(),
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name
        Column name (snake_case; ``_at`` for UTC timestamps, ``is_`` for booleans).
    sql_type
        DuckDB type, one of ``BIGINT, INTEGER, DOUBLE, VARCHAR, BOOLEAN, DATE, TIMESTAMPTZ``.
    description
        What the column means, for ``docs/data-model.md``.
    required
        Whether a row without a value is invalid (``NOT NULL``).
    """

    name: str
    sql_type: str
    description: str
    required: bool = False

    @property
    def polars_type(self) -> pl.DataType:
        """The polars dtype matching :attr:`sql_type`."""
        return _POLARS_TYPES[self.sql_type]


@dataclass(frozen=True)
class Table:
    """A canonical table: ordered columns, a key and a description.

    ``cluster_by`` is the order in which the loader writes each load's rows (physical
    clustering): the per-contact aggregations of ``smsanalytics.features`` update the state of
    each contact in turn instead of jumping between a million of them (DuckDB's perfect-hash
    aggregate over 21M messages: 0.36 s on rows in send-time order, 0.16 s clustered by contact,
    1M contacts). Results never depend on it; only speed does.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    schema_name: str = "main"
    kind: str = "canonical"  # canonical | system | truth
    notes: tuple[str, ...] = field(default=())
    cluster_by: tuple[str, ...] = field(default=())

    @property
    def qualified_name(self) -> str:
        """``schema.table`` as used in SQL."""
        return f"{self.schema_name}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.polars_type for c in self.columns})

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}; columns: {self.column_names}")


def _c(name: str, sql_type: str, description: str, required: bool = False) -> Column:
    return Column(name, sql_type, description, required)


CONTACTS = Table(
    "contacts",
    "One row per person who can receive SMS. The only table that holds phone numbers.",
    (
        _c("contact_id", "BIGINT", "Surrogate key assigned by the warehouse (stable across loads).", True),
        _c("external_id", "VARCHAR", "The contact's id in the user's own system (CRM, shop).", True),
        _c("phone_e164", "VARCHAR", "Phone number in E.164 (`+33612345678`), normalised with `phonenumbers`.", True),
        _c("phone_type", "VARCHAR", "`mobile`, `fixed_line`, `fixed_line_or_mobile`, `voip`, `toll_free`, `unknown` …"),
        _c("country", "VARCHAR", "ISO 3166-1 alpha-2 country of the number (`FR`, `US` …)."),
        _c("timezone", "VARCHAR", "IANA time zone (`Europe/Paris`); NULL when unknown (never guessed)."),
        _c("timezone_source", "VARCHAR", "`explicit` (from the file), `number` (country / area code), `default` (configured), `unknown`.", True),
        _c("first_name", "VARCHAR", "First name for personalisation."),
        _c("language", "VARCHAR", "Preferred language, ISO 639-1 (`fr`, `en`)."),
        _c("signup_at", "TIMESTAMPTZ", "When the contact joined the programme (UTC)."),
        _c("birthday", "DATE", "Date of birth (the year may be a placeholder such as 1900)."),
        _c("consent_at", "TIMESTAMPTZ", "When marketing consent was given (UTC); NULL = no consent."),
        _c("opted_out_at", "TIMESTAMPTZ", "When the contact opted out (STOP reply or export); NULL = not opted out."),
        _c("points", "INTEGER", "Loyalty points to redeem, if the programme has them."),
        _c("attributes", "VARCHAR", "Other columns of the source file as a JSON object."),
    ),
    key=("contact_id",),
    cluster_by=("contact_id",),
    notes=("`external_id` is unique too; event files refer to contacts by it (or by phone number).",),
)

CAMPAIGNS = Table(
    "campaigns",
    "One row per campaign (a message sent to an audience, possibly in several variants).",
    (
        _c("campaign_id", "VARCHAR", "Campaign identifier (`2026-11-bf-promo`).", True),
        _c("name", "VARCHAR", "Human-readable name."),
        _c("kind", "VARCHAR", "Message type: `promotional`, `birthday`, `reminder`, `welcome`, `recapture`, `thank_you`, `informational`, `invitation`, `confirmation`, `cross_sell`, `support`."),
        _c("sender_id", "VARCHAR", "Sender identity shown to the recipient (alphanumeric ≤ 11, long code or short code)."),
        _c("template", "VARCHAR", "Message template with `{fields}`."),
        _c("created_at", "TIMESTAMPTZ", "When the campaign was created (UTC)."),
        _c("holdout_share", "DOUBLE", "Share of the audience kept as a random control group (0 = none)."),
    ),
    key=("campaign_id",),
)

MESSAGES = Table(
    "messages",
    "One row per outbound SMS (a campaign message to one contact).",
    (
        _c("message_id", "BIGINT", "Surrogate key assigned by the warehouse.", True),
        _c("provider_message_id", "VARCHAR", "The gateway's id (Twilio `Sid`, Kannel id); unique when present."),
        _c("campaign_id", "VARCHAR", "Campaign the message belongs to (NULL for transactional or unknown)."),
        _c("contact_id", "BIGINT", "Recipient.", True),
        _c("variant", "VARCHAR", "A/B variant (`A`, `B` …; `default` when there is one)."),
        _c("body", "VARCHAR", "Text as sent, when known (the demo stores it in `campaigns.template`)."),
        _c("send_time_policy", "VARCHAR", "How the send time was chosen: `fixed`, `random` (randomised hour, unbiased for send-time models), `optimised`."),
        _c("scheduled_at", "TIMESTAMPTZ", "When the message was planned to go (UTC)."),
        _c("sent_at", "TIMESTAMPTZ", "When the gateway accepted it (UTC).", True),
        _c("encoding", "VARCHAR", "`GSM-7` or `UCS-2`."),
        _c("segments", "INTEGER", "Number of SMS segments billed."),
        _c("cost", "DOUBLE", "Price paid, in `currency`."),
        _c("currency", "VARCHAR", "ISO 4217 currency of `cost`."),
    ),
    key=("message_id",),
    cluster_by=("contact_id", "sent_at", "message_id"),
)

ASSIGNMENTS = Table(
    "assignments",
    "Who was assigned to which arm of a campaign, including random control (holdout) contacts who got no message.",
    (
        _c("campaign_id", "VARCHAR", "Campaign.", True),
        _c("contact_id", "BIGINT", "Contact.", True),
        _c("variant", "VARCHAR", "Arm: a variant name, or `control` for the holdout.", True),
        _c("is_holdout", "BOOLEAN", "True when the contact was randomly kept out (no message).", True),
        _c("assigned_at", "TIMESTAMPTZ", "When the assignment was made (UTC).", True),
    ),
    key=("campaign_id", "contact_id"),
)

RECEIPTS = Table(
    "receipts",
    "Delivery reports (DLR) from the gateway; several per message as its status moves.",
    (
        _c("message_id", "BIGINT", "Message the report is about.", True),
        _c("status_at", "TIMESTAMPTZ", "When the status was reached (UTC).", True),
        _c("status", "VARCHAR", "`queued`, `sent`, `delivered`, `undelivered` or `failed`.", True),
        _c("error_code", "VARCHAR", "Gateway or carrier error code for failures."),
    ),
    key=("message_id", "status", "status_at"),
    cluster_by=("message_id", "status_at", "status"),
)

CLICKS = Table(
    "clicks",
    "Clicks on tracked links in messages.",
    (
        _c("message_id", "BIGINT", "Message whose link was clicked.", True),
        _c("contact_id", "BIGINT", "Contact (denormalised from `messages` for fast per-contact work).", True),
        _c("clicked_at", "TIMESTAMPTZ", "When the click happened (UTC).", True),
        _c("url", "VARCHAR", "Link clicked."),
        _c("user_agent", "VARCHAR", "User agent of the click, when the tracker records it."),
        _c("is_bot", "BOOLEAN", "Link-preview or crawler click (not a person): excluded from engagement.", True),
    ),
    key=("message_id", "clicked_at"),
    cluster_by=("contact_id", "clicked_at", "message_id"),
)

INBOUND = Table(
    "inbound",
    "Replies received from contacts (STOP, HELP, START, free text).",
    (
        _c("contact_id", "BIGINT", "Contact who replied.", True),
        _c("received_at", "TIMESTAMPTZ", "When the reply arrived (UTC).", True),
        _c("body", "VARCHAR", "Text of the reply."),
        _c("keyword", "VARCHAR", "Recognised keyword: `STOP` (opt-out), `START` (opt-in), `HELP`, or NULL."),
    ),
    key=("contact_id", "received_at"),
    cluster_by=("contact_id", "received_at"),
)

ORDERS = Table(
    "orders",
    "Purchases by contacts (one row per order; cancellations are handled by the reader, see docs).",
    (
        _c("order_id", "VARCHAR", "Order identifier from the shop.", True),
        _c("contact_id", "BIGINT", "Buyer.", True),
        _c("ordered_at", "TIMESTAMPTZ", "When the order was placed (UTC).", True),
        _c("amount", "DOUBLE", "Order value (≥ 0) in `currency`.", True),
        _c("currency", "VARCHAR", "ISO 4217 currency."),
    ),
    key=("order_id",),
    cluster_by=("contact_id", "ordered_at", "order_id"),
)

QUARANTINE = Table(
    "quarantine",
    "Every input row that was not loaded, with the reason. Phone-number fields in `raw` are masked.",
    (
        _c("load_id", "BIGINT", "Load that produced the row (see `loads`).", True),
        _c("table_name", "VARCHAR", "Canonical table the row was meant for.", True),
        _c("source", "VARCHAR", "File the row came from.", True),
        _c("row_number", "BIGINT", "1-based data row number in the source (header excluded); 0 for file-level problems.", True),
        _c("column_name", "VARCHAR", "Column at fault, when there is one."),
        _c("reason", "VARCHAR", "Reason code (`invalid_phone`, `duplicate_contact`, `unknown_contact` …; see docs).", True),
        _c("detail", "VARCHAR", "What is wrong and how to fix it, in words."),
        _c("raw", "VARCHAR", "The raw row as JSON (phone numbers masked)."),
        _c("quarantined_at", "TIMESTAMPTZ", "When the row was quarantined (UTC).", True),
    ),
    key=("source", "row_number", "reason"),
    kind="system",
)

LOADS = Table(
    "loads",
    "One row per completed load: which file went into which table, and what happened to its rows.",
    (
        _c("load_id", "BIGINT", "Sequential id of the load.", True),
        _c("table_name", "VARCHAR", "Canonical table loaded.", True),
        _c("source", "VARCHAR", "File (or generator) the rows came from.", True),
        _c("sha256", "VARCHAR", "Content hash of the source; a re-load of the same content is a no-op.", True),
        _c("rows_read", "BIGINT", "Data rows read.", True),
        _c("rows_loaded", "BIGINT", "Rows inserted (new).", True),
        _c("rows_duplicate", "BIGINT", "Rows already present (same key) and skipped.", True),
        _c("rows_quarantined", "BIGINT", "Rows sent to `quarantine`.", True),
        _c("loaded_at", "TIMESTAMPTZ", "When the load committed (UTC).", True),
    ),
    key=("load_id",),
    kind="system",
)

PLANNED_SENDS = Table(
    "planned_sends",
    "The send windows of validated plans not yet sent: other campaigns planned later count them "
    "against their frequency caps until the messages are in `messages`.",
    (
        _c("plan_id", "VARCHAR", "Plan that reserved the window (its manifest's `plan_id`).", True),
        _c("campaign_id", "VARCHAR", "Campaign of the plan; a new plan of the campaign replaces its rows.", True),
        _c("contact_id", "BIGINT", "Contact to be messaged.", True),
        _c("variant", "VARCHAR", "A/B variant planned.", True),
        _c("idempotency_key", "VARCHAR", "The send's idempotency key (campaign, contact, variant).", True),
        _c("window_start_at", "TIMESTAMPTZ", "Start of the planned send window (UTC).", True),
        _c("window_end_at", "TIMESTAMPTZ", "End of the planned send window (UTC).", True),
        _c("planned_at", "TIMESTAMPTZ", "When the plan was made (UTC).", True),
    ),
    key=("campaign_id", "idempotency_key"),
    kind="system",
    notes=(
        "Created by the first plan written to the warehouse "
        "(`smsanalytics.adapters.ledger.reserve_plan`), not by `Warehouse.create`: warehouses "
        "that never planned do not have it, and it is not part of `counts()` or the Spark export.",
    ),
)

CANONICAL_TABLES: tuple[Table, ...] = (
    CONTACTS,
    CAMPAIGNS,
    MESSAGES,
    ASSIGNMENTS,
    RECEIPTS,
    CLICKS,
    INBOUND,
    ORDERS,
)
#: All tables in load order (contacts before the events that refer to them).
ORDERED_TABLES: tuple[Table, ...] = (*CANONICAL_TABLES, QUARANTINE, LOADS)
TABLES: dict[str, Table] = {t.name: t for t in ORDERED_TABLES}
#: Every table the package writes, as ``docs/data-model.md`` documents them.
DOCUMENTED_TABLES: tuple[Table, ...] = (*ORDERED_TABLES, PLANNED_SENDS)
#: Tables whose rows refer to a contact.
EVENT_TABLES: tuple[str, ...] = ("messages", "assignments", "receipts", "clicks", "inbound", "orders")
#: The only columns allowed to hold phone numbers.
PHONE_COLUMNS: dict[str, tuple[str, ...]] = {"contacts": ("phone_e164",)}


def table(name: str) -> Table:
    """Return the canonical table called ``name``.

    Raises
    ------
    KeyError
        With the list of known tables when ``name`` is not one of them.
    """
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known tables: {sorted(TABLES)}") from None


def cluster_order(t: Table) -> str:
    """`` ORDER BY …`` writing rows in ``t.cluster_by`` order (``""`` when there is none).

    Every writer of a canonical table in bulk (``Warehouse.load``, the chunked generator, the
    benchmarks) inserts with it, so that each load's rows are stored clustered by contact.
    """
    return f" ORDER BY {', '.join(t.cluster_by)}" if t.cluster_by else ""


def create_table_sql(t: Table) -> str:
    """``CREATE TABLE IF NOT EXISTS`` statement for ``t``.

    Keys are enforced by :meth:`smsanalytics.warehouse.Warehouse.load` (an anti-join on the key),
    not by a ``PRIMARY KEY`` index: DuckDB's indexes cost memory and insert time that a table of
    hundreds of millions of messages cannot afford, and the loader needs the anti-join anyway to
    make re-loads idempotent.
    """
    cols = ",\n    ".join(
        f"{c.name} {c.sql_type}{' NOT NULL' if c.required else ''}" for c in t.columns
    )
    return f"CREATE TABLE IF NOT EXISTS {t.qualified_name} (\n    {cols}\n)"


def empty_frame(name: str) -> pl.DataFrame:
    """An empty polars frame with the columns and dtypes of table ``name``."""
    return pl.DataFrame(schema=table(name).polars_schema)
