"""Run the examples in the sending modules' docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["smsanalytics.plan", "smsanalytics.compliance", "smsanalytics.adapters.twilio"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0
