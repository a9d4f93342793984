"""The examples in smsanalytics.features' docstrings run and give what they show."""

from __future__ import annotations

import doctest

import smsanalytics.features as features


def test_docstring_examples() -> None:
    result = doctest.testmod(features, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8
    assert result.failed == 0
