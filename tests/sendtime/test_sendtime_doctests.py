"""The examples in the send-time docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "smsanalytics.sendtime.timezones",
    "smsanalytics.sendtime.model",
    "smsanalytics.sendtime.windows",
    "smsanalytics.sendtime.history",
    "smsanalytics.sendtime.evaluate",
    "smsanalytics.charts.sendtime",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
