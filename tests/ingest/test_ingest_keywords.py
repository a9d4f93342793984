"""Opt-out / opt-in / help keywords, the bot-click rule and the plain value parsers."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from smsanalytics.ingest import detect_bot_clicks, detect_keywords
from smsanalytics.ingest.values import (
    normalize_currency,
    normalize_receipt_status,
    parse_booleans,
    parse_integers,
    parse_numbers,
)


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", "STOP"),
        (" stop ", "STOP"),
        ("Stop.", "STOP"),
        ("stop please", "STOP"),
        ("STOPALL", "STOP"),
        ("unsubscribe", "STOP"),
        ("Cancel", "STOP"),
        ("END", "STOP"),
        ("quit", "STOP"),
        ("REVOKE", "STOP"),
        ("OPTOUT", "STOP"),
        ("opt-out", "STOP"),
        ("Arrêt", "STOP"),
        ("ARRET", "STOP"),
        ("STOP au 36180", "STOP"),
        ("« STOP »", "STOP"),
        ("START", "START"),
        ("unstop", "START"),
        ("Start over tomorrow?", None),  # START only as the whole reply: a false opt-in is a breach
        ("HELP", "HELP"),
        ("info", "HELP"),
        ("Help me with my order", "HELP"),
        ("Thanks!", None),
        ("Don't stop", None),
        ("", None),
        (None, None),
    ],
)
def test_ingest_keywords(body, keyword):
    assert detect_keywords(pl.Series([body], dtype=pl.String)).to_list() == [keyword]


def test_ingest_bot_clicks_by_user_agent_and_speed():
    sent = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)
    agents = [
        "facebookexternalhit/1.1",
        "WhatsApp/2.23.20.0",
        "Slackbot-LinkExpanding 1.0",
        "Twitterbot/1.0",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Applebot/0.1)",
        "Mozilla/5.0 (compatible; Discordbot/2.0)",
        "LinkedInBot/1.0",
        "Mozilla/5.0 SkypeUriPreview Preview/0.5",
        "Mozilla/5.0 (compatible; Googlebot/2.1)",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "some-crawler/1.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1",
        None,
    ]
    later = [sent + dt.timedelta(minutes=5)] * 12 + [
        sent + dt.timedelta(seconds=1),
        sent + dt.timedelta(minutes=5),
        sent + dt.timedelta(minutes=5),
    ]
    out = detect_bot_clicks(
        pl.Series(agents), pl.Series(later), pl.Series([sent] * len(agents))
    ).to_list()
    assert out == [True] * 12 + [True, False, False]


def test_ingest_parse_numbers_separators():
    out = parse_numbers(
        pl.Series(
            ["12.5", "12,50", "1 234,50", "1,234.50", "1.234,50", "€12.50", "-3", "abc", "", "nan"]
        )
    )
    assert out["value"].to_list() == [
        12.5,
        12.5,
        1234.5,
        1234.5,
        1234.5,
        12.5,
        -3.0,
        None,
        None,
        None,
    ]
    assert out["reason"].to_list() == [None] * 7 + ["invalid_number", None, "invalid_number"]


def test_ingest_parse_integers_and_booleans():
    assert parse_integers(pl.Series(["3", "3.0", "3.5"]))["reason"].to_list() == [
        None,
        None,
        "invalid_number",
    ]
    out = parse_booleans(pl.Series(["TRUE", "no", "Oui", "0", "maybe", None]))
    assert out["value"].to_list() == [True, False, True, False, None, None]
    assert out["reason"].to_list() == [None, None, None, None, "invalid_boolean", None]


def test_ingest_currency_and_status():
    out = normalize_currency(pl.Series(["eur", "€", "XYZ", None]))
    assert out["value"].to_list() == ["EUR", "EUR", None, None]
    assert out["reason"].to_list() == [None, None, "invalid_currency", None]
    out = normalize_receipt_status(
        pl.Series(["Delivered", "sending", "read", "UNDELIVERED", "16", "bogus"])
    )
    assert out["value"].to_list() == [
        "delivered",
        "queued",
        "delivered",
        "undelivered",
        "failed",
        None,
    ]
    assert out["reason"].to_list() == [None] * 5 + ["invalid_status"]
