"""Templates: parsing, rendering, audience worst case (checked against a per-contact loop of
:func:`inspect`, the reference), starter templates within one GSM-7 segment."""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

from smsanalytics.messages import (
    STARTER_TEMPLATES,
    MissingFieldError,
    Template,
    TemplateSyntaxError,
    inspect,
    lint,
    render,
    render_for_audience,
    starter_template,
    worst_case_values,
)

KINDS = {
    "birthday",
    "reminder",
    "informational",
    "confirmation",
    "welcome",
    "cross_sell",
    "recapture",
    "thank_you",
    "promo_link",
    "invitation",
    "support",
}


def test_fields_fallbacks_and_literal_braces():
    t = Template("t", "{{promo}} {shop}: hi {first_name|there}, {points} pts {first_name}")
    assert t.fields == ("shop", "first_name", "points")
    assert t.render({"shop": "S", "first_name": None, "points": 3}) == "{promo} S: hi there, 3 pts "
    assert render("{a}{b}", {"a": 1, "b": "x"}) == "1x"


@pytest.mark.parametrize("body", ["Hi {first_name", "Hi first_name}", "Hi {first name}", "{}"])
def test_unbalanced_or_invalid_fields_raise_with_position(body):
    with pytest.raises(TemplateSyntaxError, match="position"):
        Template("bad", body)


def test_missing_value_without_fallback_names_the_field():
    with pytest.raises(MissingFieldError, match="'points'"):
        Template("t", "{points} pts").render({})


def _contacts(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    names = [
        "Ana",
        "Zoë",
        "François",
        "Jean-Baptiste",
        "Maximilien-Alexandre",
        "Ñandú",
        "Ωmega",
        "José",
        "e\u0301mile",
        "Li 李",
        "Sam 🎉",
        "[VIP]",
        "€uro",
        "A" * 40,
        "",
        None,
    ]
    return pl.DataFrame(
        {
            "contact_id": np.arange(n, dtype=np.int64) * 7 + 3,
            "first_name": [names[i] for i in rng.integers(0, len(names), n)],
            "country": rng.choice(["FR", "US", "BE", None], n).tolist(),
            "language": "fr",
            "points": rng.integers(0, 100_000, n).astype(np.int32),
            "phone_e164": "+33612345678",
        },
        schema_overrides={"points": pl.Int32},
    )


TEMPLATES = [
    "{shop}: Bonjour {first_name|client}, vous avez {points} points ! STOP au {stop_code}",
    "{first_name} " + "x" * 140 + " {points}",  # around the 160/153 boundary
    "{first_name} 🎉 " + "y" * 55 + " {points}",  # UCS-2 around 70/67 with a surrogate pair
    "€" * 70 + "{first_name}{points}",  # extension characters near 153
    "\u0301{first_name}\u0301 {points}",  # combining marks at the field edges
]


@pytest.mark.parametrize("body", TEMPLATES)
@pytest.mark.parametrize("smart", [False, True])
def test_render_for_audience_matches_per_contact_inspect_reference(body, smart):
    contacts = _contacts(600)
    fields = {"shop": "Maison", "stop_code": "36180"}
    prices = {"FR": 0.045, "US": 0.0083, "default": 0.05}
    report = render_for_audience(body, contacts, fields=fields, prices=prices, smart_encoding=smart)
    template = Template("t", body)
    expected_rows = []
    for row in contacts.iter_rows(named=True):
        values = {**row, **fields}
        text = template.render({k: v for k, v in values.items()})
        info = inspect(text, smart_encoding=smart)
        price = prices.get(row["country"] or "default", prices["default"])
        expected_rows.append(
            (
                row["contact_id"],
                info.text,
                info.encoding,
                info.segments_count,
                info.segments_count * price,
            )
        )
    got = report.per_contact.select(
        "contact_id", "text", "encoding", "segments_count", "cost"
    ).rows()
    assert [r[:4] for r in got] == [r[:4] for r in expected_rows]
    assert [r[4] for r in got] == pytest.approx([r[4] for r in expected_rows])
    assert report.total_segments == sum(r[3] for r in expected_rows)
    assert report.total_cost == pytest.approx(sum(r[4] for r in expected_rows))
    worst_segments = max(r[3] for r in expected_rows)
    assert report.worst.segments_count == worst_segments
    counts = pl.Series([r[3] for r in expected_rows]).value_counts(sort=True)
    baseline = report.baseline_segments
    assert baseline == counts.sort(["count", ""], descending=[True, False]).item(0, 0)
    assert report.extra_segment_contact_ids == sorted(
        r[0] for r in expected_rows if r[3] > baseline
    )
    assert "phone_e164" not in report.per_contact.columns
    assert "phone_e164" not in report.extra_segment_contacts.columns


def test_extra_segment_contacts_are_explained_by_encoding():
    contacts = pl.DataFrame({"contact_id": [1, 2, 3], "first_name": ["Ana", "François", "Léa"]})
    body = "Maison: Bonjour {first_name}, " + "z" * 60 + " STOP au 36180"
    report = render_for_audience(body, contacts)
    assert report.baseline_segments == 1
    assert report.extra_segment_contacts.rows() == [(2, 2, "UCS-2", "ç", "encoding")]
    assert report.worst_contact_id == 2 and report.worst.encoding == "UCS-2"


def test_missing_values_counted_and_missing_field_explained():
    contacts = pl.DataFrame({"contact_id": [1, 2], "first_name": ["Ana", None]})
    report = render_for_audience("Hi {first_name|there}", contacts)
    assert report.missing_values["first_name"] == 1
    assert report.per_contact.get_column("text").to_list() == ["Hi Ana", "Hi there"]
    with pytest.raises(MissingFieldError, match="fields=\\{'link'"):
        render_for_audience("Hi {link}", contacts)


def test_render_for_audience_handles_a_million_contacts_in_seconds():
    n = 1_000_000
    rng = np.random.default_rng(1)
    names = np.array(
        ["Ana", "Zoë", "François", "Jean-Baptiste", "Léa"] + [f"Nom{i}" for i in range(2000)]
    )
    contacts = pl.DataFrame(
        {
            "contact_id": np.arange(n, dtype=np.int64),
            "first_name": names[rng.integers(0, names.size, n)],
            "country": rng.choice(["FR", "US"], n),
            "points": rng.integers(0, 10_000, n).astype(np.int32),
        }
    )
    start = time.perf_counter()
    report = render_for_audience(
        starter_template("welcome", "fr"),
        contacts,
        fields={"shop": "Maison Rose", "stop_code": "36180"},
    )
    elapsed = time.perf_counter() - start
    assert report.contacts_count == n
    assert set(report.distribution.get_column("encoding")) == {"GSM-7", "UCS-2"}
    assert elapsed < 20  # about 3 s on the 2-core reference machine


def test_starter_library_covers_every_kind_in_french_and_english():
    assert {(k, lang) for k in KINDS for lang in ("fr", "en")} == set(STARTER_TEMPLATES)


@pytest.mark.parametrize("key", sorted(STARTER_TEMPLATES), ids=lambda k: "_".join(k))
def test_starter_template_fits_one_gsm7_segment_with_footer_at_worst_case(key):
    template = STARTER_TEMPLATES[key]
    values = worst_case_values(template)
    info = inspect(template.render(values))
    assert info.encoding == "GSM-7", info.non_gsm_characters
    assert info.segments_count == 1, info.code_units
    # the fallbacks (missing first name) too
    assert inspect(template.render({**values, "first_name": None})).segments_count == 1


@pytest.mark.parametrize("key", sorted(STARTER_TEMPLATES), ids=lambda k: "_".join(k))
def test_starter_template_passes_lint_in_its_country(key):
    template = STARTER_TEMPLATES[key]
    values = worst_case_values(template) | {
        "shop": "Maison Rose",
        "stop_code": "36180",
        "link": "ms.fr/s?utm_source=sms",
    }
    country = "FR" if template.language == "fr" else "US"
    report = lint(
        template.render(values),
        country=country,
        brand="Maison Rose",
        marketing=template.marketing,
        spam=False,
    )
    assert report.passed, report.errors
    assert not [f for f in report.warnings], report.warnings


def test_starter_template_lookup_error_lists_kinds():
    with pytest.raises(KeyError, match="birthday"):
        starter_template("black_friday", "fr")
