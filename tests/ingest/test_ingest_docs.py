"""docs/ingest.md documents every reason code; the docstring examples of the package run."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

from smsanalytics.ingest import REASONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "ingest.md"
SOURCES = Path(__file__).resolve().parents[2] / "smsanalytics" / "ingest"


def test_ingest_docs_list_every_reason_code():
    text = DOC.read_text(encoding="utf-8")
    missing = [code for code in REASONS if f"`{code}`" not in text]
    assert not missing, f"document these reason codes in docs/ingest.md: {missing}"
    stale = [c for c, r in REASONS.items() if f"| `{c}` | {r.meaning} | {r.fix} |" not in text]
    assert not stale, f"update the rows of these codes in docs/ingest.md from reasons.py: {stale}"


def test_ingest_reason_codes_used_in_the_code_are_documented():
    used = set()
    for path in SOURCES.glob("*.py"):
        used |= set(re.findall(r'reason="([a-z_]+)"', path.read_text(encoding="utf-8")))
        used |= set(
            re.findall(
                r'pl\.lit\("((?:repaired|invalid|missing|phone|spreadsheet|lost|letters|ambiguous|unknown|nonexistent)_[a-z_]+)"\)',
                path.read_text(encoding="utf-8"),
            )
        )
    assert used, "the patterns should find reason codes"
    assert used <= set(REASONS), sorted(used - set(REASONS))


@pytest.mark.parametrize(
    "module",
    ["phones", "timezones", "timestamps", "keywords", "bots", "quarantine"],
)
def test_ingest_docstring_examples(module):
    mod = importlib.import_module(f"smsanalytics.ingest.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
