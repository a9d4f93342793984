"""Run the examples in the experiments modules' docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["stats", "srm", "design", "frequentist", "bayesian", "sequential", "readout"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"smsanalytics.experiments.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
