"""Sending adapters: outbox (default), Kannel, a Twilio-shaped HTTP API, and the durable ledger.

A plan directory (:func:`smsanalytics.plan.write_plan`) is sent with :func:`send_plan` and an
adapter; the ledger (:class:`Ledger`, ``DIR/ledger.sqlite``) makes every (campaign, contact,
variant) go out exactly once across crashes and reruns. See ``docs/sending.md``.

Importing this package loads no heavy library (no polars, no DuckDB): a send process stays light.
"""

from __future__ import annotations

from typing import Any

from smsanalytics.adapters.base import (
    Outcome,
    PlanRefusedError,
    RateLimiter,
    SendingAdapter,
    SendReport,
    send_plan,
    verify_plan,
)
from smsanalytics.adapters.kannel import KannelAdapter
from smsanalytics.adapters.ledger import Ledger, LedgerError, reserve_plan, sync_to_warehouse
from smsanalytics.adapters.outbox import OutboxAdapter
from smsanalytics.adapters.receipts import ReceiptServer
from smsanalytics.adapters.twilio import TwilioAdapter, TwilioValidationError

__all__ = [
    "ADAPTERS",
    "Outcome",
    "PlanRefusedError",
    "RateLimiter",
    "SendingAdapter",
    "SendReport",
    "send_plan",
    "verify_plan",
    "Ledger",
    "LedgerError",
    "reserve_plan",
    "sync_to_warehouse",
    "OutboxAdapter",
    "KannelAdapter",
    "TwilioAdapter",
    "TwilioValidationError",
    "ReceiptServer",
    "get_adapter",
]

#: Adapter names accepted by :func:`get_adapter` and ``smsanalytics send --adapter``.
ADAPTERS = ("outbox", "kannel", "twilio")


def get_adapter(name: str, **options: Any) -> SendingAdapter:
    """Build an adapter by name with its keyword options.

    Raises
    ------
    ValueError
        For an unknown name (listing the known ones).
    """
    if name == "outbox":
        return OutboxAdapter(**options)
    if name == "kannel":
        return KannelAdapter(**options)
    if name == "twilio":
        return TwilioAdapter(**options)
    raise ValueError(f"unknown adapter {name!r}; use one of {list(ADAPTERS)}")
