"""Run the examples in the engines modules' docstrings."""

from __future__ import annotations

import doctest
import importlib
import sys

import pytest

pytestmark = pytest.mark.spark

MODULES = ["relations", "transpile", "parquet", "lookups"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, sqlglot_available: None) -> None:
    importlib.import_module(f"smsanalytics.engines.{name}")
    module = sys.modules[f"smsanalytics.engines.{name}"]  # `transpile` is also a function name
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
