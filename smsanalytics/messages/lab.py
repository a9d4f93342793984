"""Message lab: compare copy variants side by side before a campaign.

One row per variant with its encoding, segments, cost for the audience, lint findings and spam
risk, for a notebook table (``notebooks/`` calls :func:`compare_variants` and shows the frame).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

import polars as pl

from smsanalytics.messages.cost import DEFAULT_PRICES
from smsanalytics.messages.lint import LintConfig, lint
from smsanalytics.messages.templates import Template, render_for_audience, worst_case_values

if TYPE_CHECKING:
    from smsanalytics.messages.spam import SpamClassifier

__all__ = ["VARIANT_TABLE_SCHEMA", "compare_variants"]

#: Columns of :func:`compare_variants`.
VARIANT_TABLE_SCHEMA: Final = {
    "variant": pl.String,
    "text": pl.String,
    "encoding": pl.String,
    "segments": pl.Int64,
    "characters": pl.Int64,
    "code_units": pl.Int64,
    "non_gsm_characters": pl.String,
    "cost_per_message": pl.Float64,
    "audience_size": pl.Int64,
    "audience_cost": pl.Float64,
    "extra_segment_contacts": pl.Int64,
    "errors": pl.Int64,
    "warnings": pl.Int64,
    "findings": pl.List(pl.String),
    "spam_probability": pl.Float64,
    "spam_drivers": pl.String,
}


def _as_templates(
    variants: Mapping[str, str | Template] | Sequence[str | Template],
) -> dict[str, Template]:
    if isinstance(variants, Mapping):
        items = list(variants.items())
    else:
        items = [
            (v.name if isinstance(v, Template) else chr(ord("A") + i) if i < 26 else f"V{i}", v)
            for i, v in enumerate(variants)
        ]
    out: dict[str, Template] = {}
    for name, variant in items:
        out[str(name)] = variant if isinstance(variant, Template) else Template(str(name), variant)
    if not out:
        raise ValueError("variants is empty; pass at least one message body or Template.")
    return out


def compare_variants(
    variants: Mapping[str, str | Template] | Sequence[str | Template],
    *,
    contacts: pl.DataFrame | None = None,
    fields: Mapping[str, str] | None = None,
    audience_size: int = 1,
    country: str = "FR",
    prices: Mapping[str, float] = DEFAULT_PRICES,
    smart_encoding: bool = False,
    sender_id: str | None = None,
    brand: str | None = None,
    marketing: bool = True,
    spam: bool = True,
    spam_model: SpamClassifier | None = None,
    config: LintConfig | None = None,
) -> pl.DataFrame:
    """A table of message variants: encoding, segments, audience cost, lint findings, spam risk.

    Parameters
    ----------
    variants
        Variant name -> body or :class:`Template`, or a sequence (named A, B, … or by template
        name).
    contacts
        Optional audience (``contact_id`` + field columns, optional ``country``): each variant is
        rendered for every contact, the row shows its worst case and the cost over the audience
        (:func:`render_for_audience`).
    fields
        Values of fields shared by all contacts (``link``, ``shop`` …). Without ``contacts``, a
        field missing here is filled at its budgeted worst-case length
        (:func:`worst_case_values`).
    audience_size
        Recipients when no ``contacts`` are given.
    country
        Country for the lint rules and, without ``contacts``, the price.
    prices
        Price per segment by country with a ``"default"`` key.
    smart_encoding
        Evaluate the texts as sent with smart encoding.
    sender_id, brand, marketing, spam, spam_model, config
        Passed to :func:`smsanalytics.messages.lint`.

    Returns
    -------
    polars.DataFrame
        One row per variant with the columns of :data:`VARIANT_TABLE_SCHEMA`; ``findings`` lists
        ``"severity rule: message"`` for errors and warnings.

    Examples
    --------
    >>> table = compare_variants(
    ...     {"plain": "Maison: -20% ce week-end. STOP au 36180",
    ...      "emoji": "Maison: -20% ce week-end 🎉 STOP au 36180"},
    ...     audience_size=1000, spam=False)
    >>> table.select("variant", "encoding", "segments", "audience_cost").rows()
    [('plain', 'GSM-7', 1, 45.0), ('emoji', 'UCS-2', 1, 45.0)]
    """
    templates = _as_templates(variants)
    constants = dict(fields or {})
    rows = []
    for name, template in templates.items():
        extra: int | None = None
        if contacts is not None:
            report = render_for_audience(
                template, contacts, fields=constants, prices=prices, smart_encoding=smart_encoding
            )
            text = report.worst.text
            size = report.contacts_count
            audience_cost: float | None = report.total_cost
            extra = len(report.extra_segment_contacts)
        else:
            values = {**worst_case_values(template), **constants}
            text = template.render(values)
            size = audience_size
            audience_cost = None
        result = lint(
            text,
            country=country,
            sender_id=sender_id,
            brand=brand,
            marketing=marketing and template.marketing,
            audience_size=size,
            prices=prices,
            smart_encoding=smart_encoding,
            spam=spam,
            spam_model=spam_model,
            config=config,
        )
        info = result.message
        rows.append(
            {
                "variant": name,
                "text": info.text,
                "encoding": info.encoding,
                "segments": info.segments_count,
                "characters": info.characters,
                "code_units": info.code_units,
                "non_gsm_characters": "".join(info.non_gsm_characters),
                "cost_per_message": result.cost.cost_per_message,
                "audience_size": size,
                "audience_cost": result.cost.total_cost if audience_cost is None else audience_cost,
                "extra_segment_contacts": extra,
                "errors": len(result.errors),
                "warnings": len(result.warnings),
                "findings": [
                    f"{f.severity} {f.rule}: {f.message}"
                    for f in result.findings
                    if f.severity != "info"
                ],
                "spam_probability": None if result.spam is None else result.spam.probability,
                "spam_drivers": None
                if result.spam is None
                else ", ".join(f.term for f in result.spam.features if f.contribution > 0),
            }
        )
    return pl.DataFrame(rows, schema=VARIANT_TABLE_SCHEMA)
