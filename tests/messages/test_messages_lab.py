"""Message-lab table of variants."""

from __future__ import annotations

import polars as pl
import pytest

from smsanalytics.messages import compare_variants, starter_template
from smsanalytics.messages.lab import VARIANT_TABLE_SCHEMA


def test_variants_side_by_side_without_audience():
    table = compare_variants(
        {
            "plain": "Maison: -20% ce week-end. STOP au 36180",
            "curly": "Maison: l\u2019offre -20% ce week-end \u2014 " + "x" * 40 + " STOP au 36180",
            "no-opt-out": "Maison: -20% ce week-end",
        },
        audience_size=10_000,
        country="FR",
    )
    assert dict(table.schema) == VARIANT_TABLE_SCHEMA
    rows = {r["variant"]: r for r in table.iter_rows(named=True)}
    assert rows["plain"]["encoding"] == "GSM-7" and rows["plain"]["audience_cost"] == pytest.approx(
        450.0
    )
    assert rows["curly"]["encoding"] == "UCS-2" and rows["curly"]["segments"] == 2
    assert rows["curly"]["audience_cost"] == pytest.approx(900.0)
    assert rows["no-opt-out"]["errors"] == 1
    assert all(0 <= r["spam_probability"] <= 1 for r in rows.values())


def test_variants_rendered_for_an_audience_report_worst_case_and_extra_contacts():
    contacts = pl.DataFrame(
        {
            "contact_id": [1, 2, 3],
            "first_name": ["Ana", "François", "Léa"],
            "country": ["FR", "FR", "US"],
            "points": pl.Series([10, 20, 30], dtype=pl.Int32),
        }
    )
    table = compare_variants(
        [starter_template("welcome", "fr"), starter_template("welcome", "en")],
        contacts=contacts,
        fields={"shop": "Maison Rose", "stop_code": "36180"},
        spam=False,
    )
    fr = table.row(0, named=True)
    assert fr["variant"] == "welcome_fr"
    assert fr["encoding"] == "UCS-2" and fr["extra_segment_contacts"] == 1  # François: ç
    assert fr["audience_size"] == 3
    assert fr["audience_cost"] == pytest.approx(2 * 0.045 + 0.045 + 0.0083)
