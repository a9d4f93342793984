"""Shared, cached test data for the send-time tests (a helper module, not a conftest)."""

from __future__ import annotations

import datetime as dt
from functools import cache

import polars as pl

UTC = dt.UTC


@cache
def programme(n_contacts: int = 3000, seed: int = 0):
    """A generated programme (cached per process)."""
    from smsanalytics.synth import generate_programme

    return generate_programme(n_contacts, seed=seed)


def ts(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def sends_frame(rows: list[tuple]) -> pl.DataFrame:
    """``(contact_id, sent_at, is_response[, send_time_policy, campaign_id])`` rows."""
    width = len(rows[0])
    names = ["contact_id", "sent_at", "is_response", "send_time_policy", "campaign_id"][:width]
    schema = {
        "contact_id": pl.Int64,
        "sent_at": pl.Datetime("us", "UTC"),
        "is_response": pl.Boolean,
        "send_time_policy": pl.String,
        "campaign_id": pl.String,
    }
    return pl.DataFrame(rows, schema={k: schema[k] for k in names}, orient="row")


def contacts_frame(rows: list[tuple]) -> pl.DataFrame:
    """``(contact_id, timezone[, segment])`` rows."""
    names = ["contact_id", "timezone", "segment"][: len(rows[0])]
    schema = {"contact_id": pl.Int64, "timezone": pl.String, "segment": pl.String}
    return pl.DataFrame(rows, schema={k: schema[k] for k in names}, orient="row")
