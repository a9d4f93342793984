"""Message templates with personalisation fields, rendered for a whole audience.

A template body holds fields in braces, e.g. ``"{shop}: Happy birthday {first_name}!"``. A field
may carry a fallback used when the contact's value is missing: ``{first_name|there}``. Literal
braces are written ``{{`` and ``}}`` (they are GSM-7 extension characters and cost 2 septets).

:func:`render_for_audience` renders a template for every contact of a polars frame with
vectorised expressions, inspects each *distinct* rendered text once, and reports the worst case
(encoding, segments, cost) over the audience with the contacts that push the message into an extra
segment, before anything is sent. Phone numbers are never read nor returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Final

import polars as pl
import regex

from smsanalytics.messages.cost import DEFAULT_PRICES, price_per_segment
from smsanalytics.messages.encoding import (
    GSM7_CONCATENATED_SEPTETS,
    GSM7_SINGLE_SEGMENT_SEPTETS,
    UCS2_CONCATENATED_UNITS,
    UCS2_SINGLE_SEGMENT_UNITS,
    MessageInfo,
    inspect,
    split_graphemes,
)
from smsanalytics.messages.gsm0338 import GSM7_SEPTETS
from smsanalytics.messages.smart import apply_smart_encoding

__all__ = [
    "Template",
    "TemplateSyntaxError",
    "MissingFieldError",
    "RenderReport",
    "render",
    "render_for_audience",
    "STARTER_TEMPLATES",
    "STARTER_FIELD_BUDGETS",
    "OPT_OUT_FOOTERS",
    "starter_template",
    "worst_case_values",
]

_FIELD: Final = regex.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?:\|([^{}]*))?\}|[{}]")


class TemplateSyntaxError(ValueError):
    """A template body has an unbalanced brace or an invalid field name."""


class MissingFieldError(KeyError):
    """A template field has no value: no column in the contacts and no constant given."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class _Field:
    name: str
    fallback: str | None


def _parse(body: str) -> tuple[str | _Field, ...]:
    """Split a body into literal strings and fields."""
    pieces: list[str | _Field] = []
    literal: list[str] = []
    position = 0
    for match in _FIELD.finditer(body):
        literal.append(body[position : match.start()])
        token = match.group(0)
        if token == "{{":
            literal.append("{")
        elif token == "}}":
            literal.append("}")
        elif match.group(1) is None:
            raise TemplateSyntaxError(
                f"unbalanced {token!r} at position {match.start()} of the template body "
                f"{body!r}; write a field as {{name}} or {{name|fallback}}, and a literal brace "
                f"as {{{{ or }}}}."
            )
        else:
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append(_Field(match.group(1), match.group(2)))
        position = match.end()
    literal.append(body[position:])
    if "".join(literal):
        pieces.append("".join(literal))
    return tuple(p for p in pieces if p != "")


@dataclass(frozen=True)
class Template:
    """An SMS template with ``{field}`` / ``{field|fallback}`` placeholders.

    Parameters
    ----------
    name
        Identifier (e.g. ``"birthday_fr"``).
    body
        The text with its fields.
    language
        BCP 47 language of the copy (``"fr"``, ``"en"``).
    kind
        Campaign kind (birthday, reminder, promo_link, …), as in ``campaigns.kind``.
    marketing
        Whether the message is marketing (opt-out wording mandatory) or transactional.
    description
        What the template is for.

    Raises
    ------
    TemplateSyntaxError
        If the body has an unbalanced brace.

    Examples
    --------
    >>> t = Template("hi", "{shop}: Hi {first_name|there}!")
    >>> t.fields
    ('shop', 'first_name')
    >>> t.render({"shop": "Maison", "first_name": None})
    'Maison: Hi there!'
    """

    name: str
    body: str
    language: str = "en"
    kind: str = "custom"
    marketing: bool = True
    description: str = ""
    _pieces: tuple[str | _Field, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pieces", _parse(self.body))

    @property
    def fields(self) -> tuple[str, ...]:
        """Field names in order of first appearance."""
        return tuple(dict.fromkeys(p.name for p in self._pieces if isinstance(p, _Field)))

    def render(self, values: Mapping[str, object]) -> str:
        """Render with ``values`` (missing or ``None`` values use the field's fallback).

        Parameters
        ----------
        values
            Field name -> value (converted with ``str``).

        Returns
        -------
        str
            The message body.

        Raises
        ------
        MissingFieldError
            If a field without fallback has no value in ``values``.
        """
        out: list[str] = []
        for piece in self._pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            value = values.get(piece.name)
            if value is None:
                if piece.fallback is None and piece.name not in values:
                    raise MissingFieldError(
                        f"template {self.name!r} needs a value for field {piece.name!r}; pass it "
                        f"in values or give the field a fallback, e.g. {{{piece.name}|...}}."
                    )
                value = piece.fallback or ""
            out.append(str(value))
        return "".join(out)


def render(template: Template | str, values: Mapping[str, object]) -> str:
    """Render a template (or a body string) with one contact's values.

    Parameters
    ----------
    template
        A :class:`Template` or a body string.
    values
        Field name -> value.

    Returns
    -------
    str

    Examples
    --------
    >>> render("Hi {first_name}, {points} points", {"first_name": "Ana", "points": 120})
    'Hi Ana, 120 points'
    """
    tpl = template if isinstance(template, Template) else Template("inline", template)
    return tpl.render(values)


@dataclass(frozen=True)
class RenderReport:
    """A template rendered for an audience: per-contact cost and the worst case, before sending.

    Attributes
    ----------
    template
        The rendered template.
    contacts_count
        Contacts rendered.
    per_contact
        One row per contact: ``contact_id`` (Int64), ``text`` (String), ``encoding`` (String),
        ``segments_count`` (Int64), ``price_per_segment`` (Float64), ``cost`` (Float64). No phone
        number.
    distribution
        Contacts, segments and cost by ``(encoding, segments_count)``.
    baseline_segments
        The segment count most of the audience gets (the mode; the smaller on a tie).
    worst
        :class:`MessageInfo` of the worst rendered text (most segments, then UCS-2, then longest).
    worst_contact_id
        A contact who gets the worst text.
    extra_segment_contacts
        Contacts whose message has more segments than ``baseline_segments``: ``contact_id``,
        ``segments_count``, ``encoding``, ``non_gsm_characters`` (the characters their values
        brought in, joined) and ``reason`` (``"encoding"`` when their values made the text UCS-2
        while the baseline text is GSM-7, else ``"length"``).
    total_segments
        Segments billed over the audience.
    total_cost
        Cost over the audience (segments × the price of each contact's country).
    distinct_texts
        Number of distinct rendered texts.
    missing_values
        Field -> number of contacts whose value was missing (fallback or empty string used).
    """

    template: Template
    contacts_count: int
    per_contact: pl.DataFrame
    distribution: pl.DataFrame
    baseline_segments: int
    worst: MessageInfo
    worst_contact_id: int | None
    extra_segment_contacts: pl.DataFrame
    total_segments: int
    total_cost: float
    distinct_texts: int
    missing_values: Mapping[str, int]

    @cached_property
    def extra_segment_contact_ids(self) -> list[int]:
        """Ids of the contacts pushed into an extra segment, in ``contact_id`` order."""
        return self.extra_segment_contacts.get_column("contact_id").to_list()


@dataclass(frozen=True)
class _PieceStats:
    """Encoding facts of one rendered piece (a literal or a field value), as sent."""

    sent: str
    gsm: bool
    septets: int
    units16: int
    max_gsm: int  # largest septet count of one character (2 for an extension character)
    max_ucs2: int  # largest UTF-16 units of one grapheme (2 for a surrogate pair, more for ZWJ)
    safe: bool  # first and last characters cannot merge with a neighbour into one grapheme
    non_gsm: tuple[str, ...]


def _edge_safe(char: str) -> bool:
    # ASCII and GSM-7 characters never extend a neighbouring grapheme (CR+LF is counted as two
    # characters anyway).
    return char.isascii() or char in GSM7_SEPTETS


def _piece_stats(value: str, smart_encoding: bool) -> _PieceStats:
    sent = apply_smart_encoding(value)[0] if smart_encoding else value
    graphemes = split_graphemes(sent)
    costs = [GSM7_SEPTETS.get(g) for g in graphemes]
    gsm = None not in costs
    units16 = len(sent.encode("utf-16-le")) // 2
    septets = sum(c for c in costs if c is not None)
    return _PieceStats(
        sent=sent,
        gsm=gsm,
        septets=septets,
        units16=units16,
        max_gsm=max((c for c in costs if c is not None), default=0),
        max_ucs2=max((len(g.encode("utf-16-le")) // 2 for g in graphemes), default=0),
        safe=all(not t or (_edge_safe(t[0]) and _edge_safe(t[-1])) for t in (value, sent)),
        non_gsm=tuple(dict.fromkeys(g for g, c in zip(graphemes, costs, strict=True) if c is None)),
    )


_STAT_COLUMNS: Final = (
    "sent",
    "gsm",
    "septets",
    "units16",
    "max_gsm",
    "max_ucs2",
    "safe",
    "non_gsm",
)
_STAT_TYPES: Final = {
    "sent": pl.String,
    "gsm": pl.Boolean,
    "septets": pl.Int64,
    "units16": pl.Int64,
    "max_gsm": pl.Int64,
    "max_ucs2": pl.Int64,
    "safe": pl.Boolean,
    "non_gsm": pl.List(pl.String),
}


def _value_expression(name: str, fallback: str, contacts: pl.DataFrame) -> pl.Expr:
    if name not in contacts.columns:
        raise MissingFieldError(
            f"template field {name!r} is neither a column of contacts "
            f"({', '.join(contacts.columns)}) nor in fields; add the column or pass "
            f"fields={{'{name}': ...}}."
        )
    return pl.col(name).cast(pl.String).fill_null(pl.lit(fallback, dtype=pl.String))


def render_for_audience(
    template: Template | str,
    contacts: pl.DataFrame,
    *,
    fields: Mapping[str, str] | None = None,
    prices: Mapping[str, float] = DEFAULT_PRICES,
    smart_encoding: bool = False,
) -> RenderReport:
    """Render ``template`` for every contact and report cost and worst case over the audience.

    Parameters
    ----------
    template
        A :class:`Template` or a body string.
    contacts
        One row per contact with ``contact_id`` (Int64) and a column per template field not given
        in ``fields`` (e.g. ``first_name`` String, ``points`` Int32); an optional ``country``
        (String, ISO alpha-2) selects the price per segment. Other columns (``phone_e164`` …) are
        ignored and never returned.
    fields
        Values shared by every contact for fields that are not columns (``link``, ``shop``,
        ``stop_code`` …). A key here wins over a column of the same name.
    prices
        Price per segment by country with a ``"default"`` key.
    smart_encoding
        Apply smart encoding to the rendered text (as the gateway would).

    Returns
    -------
    RenderReport

    Raises
    ------
    MissingFieldError
        If a field is neither a column nor in ``fields``.
    ValueError
        If ``contacts`` has no ``contact_id`` column.

    Notes
    -----
    Vectorised: each *distinct value* of each field column is analysed once (encoding, septets,
    UTF-16 units), the per-contact encoding and segment count are then polars expressions
    (``⌈units / 153⌉`` or ``⌈units / 67⌉`` when that is exact: greedy packing of characters of at
    most *m* units leaves every segment but the last with more than *capacity − m* units, so when
    ``⌈u / c⌉ = ⌊(u − 1) / (c − m + 1)⌋ + 1`` the count is settled). Only the texts whose length
    falls where a two-unit character (an extension character, a surrogate pair) could move a
    boundary, or whose field value could merge with a neighbour into one grapheme, are passed to
    :func:`inspect`, once per distinct text. A million contacts take a few seconds.

    Examples
    --------
    >>> contacts = pl.DataFrame({"contact_id": [1, 2], "first_name": ["Ana", "Zoë"]})
    >>> report = render_for_audience("Hi {first_name}!", contacts)
    >>> report.per_contact.get_column("encoding").to_list()
    ['GSM-7', 'UCS-2']
    """
    tpl = template if isinstance(template, Template) else Template("inline", template)
    if "contact_id" not in contacts.columns:
        raise ValueError(
            "contacts has no 'contact_id' column; pass the contacts table (contact_id Int64, "
            "one column per template field)."
        )
    constants = dict(fields or {})
    frame = contacts.select(
        pl.col("contact_id").cast(pl.Int64),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"),
        (
            pl.col("country").cast(pl.String).str.to_uppercase()
            if "country" in contacts.columns
            else pl.lit(None, dtype=pl.String)
        ).alias("country"),
    )

    # One column group per field piece, literal stats for literal and constant pieces.
    literal_stats: list[_PieceStats] = []
    piece_columns: list[str] = []  # column prefixes of field pieces, in template order
    sent_pieces: list[pl.Expr] = []
    raw_pieces: list[pl.Expr] = []
    missing = {name: 0 for name in tpl.fields}
    for index, piece in enumerate(tpl._pieces):
        if isinstance(piece, _Field) and piece.name not in constants:
            prefix = f"_p{index}"
            values = contacts.select(
                _value_expression(piece.name, piece.fallback or "", contacts).alias(prefix)
            )
            missing[piece.name] = int(contacts.get_column(piece.name).null_count())
            distinct = values.get_column(prefix).unique().to_list()
            stats = [_piece_stats(v, smart_encoding) for v in distinct]
            table = pl.DataFrame(
                {prefix: distinct}
                | {f"{prefix}{c}": [getattr(s, c) for s in stats] for c in _STAT_COLUMNS},
                schema={prefix: pl.String} | {f"{prefix}{c}": t for c, t in _STAT_TYPES.items()},
            )
            frame = pl.concat([frame, values], how="horizontal").join(
                table, on=prefix, how="left", maintain_order="left"
            )
            piece_columns.append(prefix)
            sent_pieces.append(pl.col(f"{prefix}sent"))
            raw_pieces.append(pl.col(prefix))
        else:
            if isinstance(piece, _Field):
                value = constants[piece.name]
                text = piece.fallback or "" if value is None else str(value)
            else:
                text = piece
            stats = _piece_stats(text, smart_encoding)
            literal_stats.append(stats)
            sent_pieces.append(pl.lit(stats.sent, dtype=pl.String))
            raw_pieces.append(pl.lit(text, dtype=pl.String))

    def all_of(column: str, literal: bool) -> pl.Expr:
        exprs = [pl.col(f"{p}{column}") for p in piece_columns]
        return pl.all_horizontal(exprs) & pl.lit(literal) if exprs else pl.lit(literal)

    def sum_of(column: str, literal: int) -> pl.Expr:
        exprs = [pl.col(f"{p}{column}") for p in piece_columns]
        return (pl.sum_horizontal(exprs) + pl.lit(literal)) if exprs else pl.lit(literal)

    lit_gsm = all(s.gsm for s in literal_stats)
    gsm = all_of("gsm", lit_gsm)
    units = (
        pl.when(gsm)
        .then(sum_of("septets", sum(s.septets for s in literal_stats)))
        .otherwise(sum_of("units16", sum(s.units16 for s in literal_stats)))
    )

    def max_of(column: str, literal: int) -> pl.Expr:
        exprs = [pl.col(f"{p}{column}") for p in piece_columns]
        return pl.max_horizontal([*exprs, pl.lit(literal)])

    largest = (
        pl.when(gsm)
        .then(max_of("max_gsm", max((s.max_gsm for s in literal_stats), default=0)))
        .otherwise(max_of("max_ucs2", max((s.max_ucs2 for s in literal_stats), default=0)))
    )
    safe = all_of("safe", all(s.safe for s in literal_stats))
    single = (
        pl.when(gsm)
        .then(pl.lit(GSM7_SINGLE_SEGMENT_SEPTETS))
        .otherwise(pl.lit(UCS2_SINGLE_SEGMENT_UNITS))
    )
    concatenated = (
        pl.when(gsm)
        .then(pl.lit(GSM7_CONCATENATED_SEPTETS))
        .otherwise(pl.lit(UCS2_CONCATENATED_UNITS))
    )
    non_gsm_lists = [pl.col(f"{p}non_gsm") for p in piece_columns] + [
        pl.lit(list(s.non_gsm), dtype=pl.List(pl.String)) for s in literal_stats if s.non_gsm
    ]
    non_gsm = (
        pl.concat_list(non_gsm_lists).list.unique(maintain_order=True).list.join("")
        if non_gsm_lists
        else pl.lit("", dtype=pl.String)
    )
    # Greedy packing of characters of at most `largest` units into segments of `concatenated`
    # units: every segment but the last holds more than concatenated - largest units, so the
    # count lies between these bounds, equal whenever no boundary can matter.
    lower = (units + concatenated - 1) // concatenated
    upper = (units - 1) // (concatenated - largest + 1) + 1
    frame = frame.with_columns(
        (pl.concat_str(sent_pieces) if sent_pieces else pl.lit("", dtype=pl.String)).alias("text"),
        pl.when(gsm).then(pl.lit("GSM-7")).otherwise(pl.lit("UCS-2")).alias("encoding"),
        units.cast(pl.Int64).alias("code_units"),
        pl.when(safe & (units <= single))
        .then(pl.lit(1, dtype=pl.Int64))
        .when(safe & (lower == upper))
        .then(lower.cast(pl.Int64))
        .otherwise(pl.lit(None, dtype=pl.Int64))
        .alias("segments_count"),
        non_gsm.alias("non_gsm_characters"),
    )
    columns = [
        "contact_id",
        "country",
        "text",
        "encoding",
        "code_units",
        "segments_count",
        "non_gsm_characters",
    ]
    # Exact inspection of the few texts the closed form cannot settle (from the raw text, so that
    # smart encoding and grapheme clusters see the whole message).
    pending = frame.filter(pl.col("segments_count").is_null())
    if pending.height:
        pending = pending.with_columns(
            (pl.concat_str(raw_pieces) if raw_pieces else pl.lit("", dtype=pl.String)).alias("_raw")
        )
        unsettled = pending.get_column("_raw").unique().to_list()
        infos = [inspect(t, smart_encoding=smart_encoding) for t in unsettled]
        exact = pl.DataFrame(
            {
                "_raw": unsettled,
                "_text": [i.text for i in infos],
                "_encoding": [i.encoding for i in infos],
                "_code_units": [i.code_units for i in infos],
                "_segments": [i.segments_count for i in infos],
                "_non_gsm": ["".join(i.non_gsm_characters) for i in infos],
            },
            schema={
                "_raw": pl.String,
                "_text": pl.String,
                "_encoding": pl.String,
                "_code_units": pl.Int64,
                "_segments": pl.Int64,
                "_non_gsm": pl.String,
            },
        )
        pending = pending.join(exact, on="_raw", how="left", maintain_order="left").select(
            "contact_id",
            "country",
            pl.col("_text").alias("text"),
            pl.col("_encoding").alias("encoding"),
            pl.col("_code_units").alias("code_units"),
            pl.col("_segments").alias("segments_count"),
            pl.col("_non_gsm").alias("non_gsm_characters"),
            pl.col("_row"),
        )
        frame = (
            pl.concat(
                [
                    frame.filter(pl.col("segments_count").is_not_null()).select(*columns, "_row"),
                    pending,
                ]
            )
            .sort("_row")
            .select(columns)
        )
    else:
        frame = frame.select(columns)

    countries = frame.get_column("country").unique().to_list()
    price_table = pl.DataFrame(
        {
            "country": countries,
            "price_per_segment": [price_per_segment(c, prices) for c in countries],
        },
        schema={"country": pl.String, "price_per_segment": pl.Float64},
    )
    per_contact = frame.join(
        price_table, on="country", how="left", nulls_equal=True, maintain_order="left"
    ).with_columns((pl.col("segments_count") * pl.col("price_per_segment")).alias("cost"))

    n = per_contact.height
    if n:
        counts = (
            per_contact.group_by("segments_count")
            .len()
            .sort(["len", "segments_count"], descending=[True, False])
        )
        baseline = int(counts.item(0, "segments_count"))
        worst_row = per_contact.sort(
            ["segments_count", "encoding", "code_units", "contact_id"],
            descending=[True, True, True, False],
        ).row(0, named=True)
        worst = inspect(worst_row["text"])
        worst_id: int | None = int(worst_row["contact_id"])
        baseline_gsm = bool(
            per_contact.filter(pl.col("segments_count") == baseline)
            .get_column("encoding")
            .eq("GSM-7")
            .any()
        )
    else:
        baseline, worst, worst_id, baseline_gsm = 1, inspect(""), None, True

    extra = (
        per_contact.filter(pl.col("segments_count") > baseline)
        .select(
            "contact_id",
            "segments_count",
            "encoding",
            "non_gsm_characters",
            pl.when((pl.col("encoding") == "UCS-2") & pl.lit(baseline_gsm))
            .then(pl.lit("encoding"))
            .otherwise(pl.lit("length"))
            .alias("reason"),
        )
        .sort("contact_id")
    )
    distribution = (
        per_contact.group_by(["encoding", "segments_count"])
        .agg(pl.len().cast(pl.Int64).alias("contacts"), pl.col("cost").sum().alias("cost"))
        .with_columns((pl.col("segments_count") * pl.col("contacts")).alias("segments"))
        .sort(["segments_count", "encoding"])
    )
    return RenderReport(
        template=tpl,
        contacts_count=n,
        per_contact=per_contact.select(
            "contact_id", "text", "encoding", "segments_count", "price_per_segment", "cost"
        ),
        distribution=distribution,
        baseline_segments=baseline,
        worst=worst,
        worst_contact_id=worst_id,
        extra_segment_contacts=extra,
        total_segments=int(per_contact.get_column("segments_count").sum() or 0),
        total_cost=float(per_contact.get_column("cost").sum() or 0.0),
        distinct_texts=int(per_contact.get_column("text").n_unique()),
        missing_values=MappingProxyType(missing),
    )


# --------------------------------------------------------------------------------------------
# Starter templates
# --------------------------------------------------------------------------------------------

#: Opt-out footers of the starter templates by language. France: "STOP au" + the 5-digit short
#: number the operator gives you (``{stop_code}``); United States (CTIA): "Reply STOP to opt out".
OPT_OUT_FOOTERS: Final[Mapping[str, str]] = MappingProxyType(
    {"fr": "STOP au {stop_code}", "en": "Reply STOP to opt out"}
)

#: Longest value each starter-template field is designed for (characters, all GSM-7). Every
#: starter template fits one GSM-7 segment with every field at this length (a test checks it).
STARTER_FIELD_BUDGETS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "shop": 15,
        "first_name": 15,
        "points": 6,
        "link": 24,
        "date": 10,
        "time": 5,
        "code": 10,
        "order_id": 10,
        "stop_code": 5,
    }
)

_NUMERIC_FIELDS: Final = frozenset({"points", "stop_code"})

_STARTERS: Final = {
    # kind: (marketing, description, fr body, en body); the opt-out footer is appended.
    "birthday": (
        True,
        "Birthday wish with a time-limited offer.",
        "{shop}: Joyeux anniversaire {first_name|à vous} ! -20% sur tout le magasin jusqu'au "
        "{date} avec le code {code}.",
        "{shop}: Happy birthday {first_name|to you}! Enjoy 20% off everything until {date} with "
        "code {code}.",
    ),
    "reminder": (
        False,
        "Appointment or pickup reminder with a link to change it.",
        "{shop}: {first_name|Bonjour}, rappel de votre rendez-vous le {date} à {time}. "
        "Pour le modifier : {link}",
        "{shop}: Hi {first_name|there}, a reminder of your appointment on {date} at {time}. "
        "To change it: {link}",
    ),
    "informational": (
        False,
        "Practical information (opening hours, closure, new address).",
        "{shop}: {first_name|Bonjour}, nos horaires changent à partir du {date}. "
        "Tous les détails : {link}",
        "{shop}: Hi {first_name|there}, our opening hours change from {date}. "
        "All the details: {link}",
    ),
    "confirmation": (
        False,
        "Order or booking confirmation with tracking.",
        "{shop}: {first_name|Bonjour}, votre commande {order_id} est confirmée. Suivi : {link}",
        "{shop}: {first_name|Hello}, your order {order_id} is confirmed. Track it: {link}",
    ),
    "welcome": (
        True,
        "Welcome after sign-up, with the loyalty balance.",
        "{shop}: Bienvenue {first_name|parmi nous} ! Votre carte fidélité est active avec "
        "{points} points offerts.",
        "{shop}: Welcome {first_name|aboard}! Your loyalty card is active with {points} bonus "
        "points.",
    ),
    "cross_sell": (
        True,
        "Products that go with the last purchase.",
        "{shop}: {first_name|Bonjour}, votre dernier achat vous a plu ? Découvrez ce qui va "
        "avec : {link}",
        "{shop}: {first_name|Hi}, loved your last purchase? See what goes with it: {link}",
    ),
    "recapture": (
        True,
        "Win back a lapsing customer with a code.",
        "{shop}: {first_name|Bonjour}, vous nous manquez ! -15% sur votre prochain achat avec "
        "le code {code} jusqu'au {date}.",
        "{shop}: {first_name|Hello}, we miss you! Get 15% off your next visit with code {code} "
        "until {date}.",
    ),
    "thank_you": (
        True,
        "Thank a customer after a purchase, with the points balance.",
        "{shop}: Merci {first_name|beaucoup} pour votre fidélité ! Vous avez {points} points sur "
        "votre carte.",
        "{shop}: Thank you {first_name|very much} for your loyalty! You have {points} points "
        "on your card.",
    ),
    "promo_link": (
        True,
        "Promotion with a tracked link.",
        "{shop}: Soldes ! Jusqu'à -50% sur une sélection, en magasin et sur {link} jusqu'au "
        "{date}.",
        "{shop}: Sale! Up to 50% off selected items in store and at {link} until {date}.",
    ),
    "invitation": (
        True,
        "Invitation to a private event.",
        "{shop}: {first_name|Bonjour}, nous vous invitons à notre soirée privée le {date} à "
        "{time}. Inscription : {link}",
        "{shop}: {first_name|Hi}, you're invited to our private evening on {date} at {time}. "
        "Sign up: {link}",
    ),
    "support": (
        False,
        "After-sales support follow-up.",
        "{shop}: {first_name|Bonjour}, une question sur la commande {order_id} ? "
        "Répondez à ce SMS ou voyez {link}",
        "{shop}: Hi {first_name|there}, a question about order {order_id}? Reply to this text "
        "or visit {link}",
    ),
}


def _build_starters() -> Mapping[tuple[str, str], Template]:
    starters: dict[tuple[str, str], Template] = {}
    for kind, (marketing, description, fr, en) in _STARTERS.items():
        for language, body in (("fr", fr), ("en", en)):
            starters[(kind, language)] = Template(
                name=f"{kind}_{language}",
                body=f"{body} {OPT_OUT_FOOTERS[language]}",
                language=language,
                kind=kind,
                marketing=marketing,
                description=description,
            )
    return MappingProxyType(starters)


#: Starter templates by ``(kind, language)`` for the seed's message types, in French and English.
#: Each fits one GSM-7 segment, opt-out footer included, with fields at
#: :data:`STARTER_FIELD_BUDGETS` lengths; French copy avoids ç, ê, â, î, ô, û (not GSM-7).
STARTER_TEMPLATES: Final[Mapping[tuple[str, str], Template]] = _build_starters()


def starter_template(kind: str, language: str = "en") -> Template:
    """The starter template of a message kind in a language.

    Parameters
    ----------
    kind
        One of ``birthday, reminder, informational, confirmation, welcome, cross_sell, recapture,
        thank_you, promo_link, invitation, support``.
    language
        ``"fr"`` or ``"en"``.

    Returns
    -------
    Template

    Raises
    ------
    KeyError
        If there is no starter template for that kind and language.

    Examples
    --------
    >>> starter_template("birthday", "fr").fields
    ('shop', 'first_name', 'date', 'code', 'stop_code')
    """
    try:
        return STARTER_TEMPLATES[(kind, language)]
    except KeyError:
        kinds = sorted({k for k, _ in STARTER_TEMPLATES})
        raise KeyError(
            f"no starter template for kind={kind!r}, language={language!r}; kinds are "
            f"{', '.join(kinds)} and languages 'fr', 'en'."
        ) from None


def worst_case_values(
    template: Template, budgets: Mapping[str, int] = STARTER_FIELD_BUDGETS
) -> dict[str, str]:
    """Field values at their budgeted maximum length, to check a template's worst case.

    Parameters
    ----------
    template
        The template.
    budgets
        Maximum length per field; a field without budget gets 20 characters.

    Returns
    -------
    dict
        Field -> a GSM-7 value of the budgeted length (digits for numeric fields, ``Www…`` else).
    """
    values = {}
    for name in template.fields:
        size = budgets.get(name, 20)
        values[name] = "9" * size if name in _NUMERIC_FIELDS else ("W" + "w" * (size - 1))[:size]
    return values
