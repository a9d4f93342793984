"""The examples in the message-lab docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "smsanalytics.messages.gsm0338",
    "smsanalytics.messages.encoding",
    "smsanalytics.messages.smart",
    "smsanalytics.messages.cost",
    "smsanalytics.messages.templates",
    "smsanalytics.messages.lint",
    "smsanalytics.messages.spam",
    "smsanalytics.messages.lab",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
