"""Which clicks are not people: link previews and crawlers.

A click is a bot click (``clicks.is_bot = true``) when either

1. its user agent is a link-preview or crawler agent: facebookexternalhit, Facebot, WhatsApp,
   Slackbot / Slack-ImgProxy, Twitterbot, TelegramBot, Applebot, Discordbot, LinkedInBot,
   SkypeUriPreview, Googlebot (and Google-InspectionTool, AdsBot-Google), bingbot, BingPreview,
   Pinterestbot, redditbot, Embedly, Iframely, Viber, Snapchat, YandexBot, Baiduspider,
   DuckDuckBot, curl/wget/python-requests/Go-http-client/okhttp library agents, and the generic
   words ``bot``, ``crawler``, ``spider``, ``preview``, ``fetcher``, ``headless``; or
2. it happened less than :data:`BOT_CLICK_SECONDS` (2 s) after the message was sent (or before
   it): no person receives, reads and taps a link that fast, but a phone's or messaging app's
   link preview does.

When the source has an ``is_bot`` column its values are kept; the rule fills only the blanks.
"""

from __future__ import annotations

import polars as pl

__all__ = ["BOT_USER_AGENT_PATTERN", "BOT_CLICK_SECONDS", "detect_bot_clicks"]

#: Clicks within this many seconds of the send are previews.
BOT_CLICK_SECONDS = 2.0

#: Case-insensitive pattern of preview / crawler user agents.
BOT_USER_AGENT_PATTERN = (
    r"(?i)facebookexternalhit|facebot|whatsapp|slackbot|slack-imgproxy|twitterbot|telegrambot"
    r"|applebot|discordbot|linkedinbot|skypeuripreview|googlebot|google-inspectiontool"
    r"|adsbot-google|bingbot|bingpreview|pinterestbot|redditbot|embedly|iframely|viber"
    r"|snapchat|yandexbot|baiduspider|duckduckbot|curl/|wget/|python-requests|python-urllib"
    r"|go-http-client|okhttp|headless|bot\b|bot/|crawler|spider|preview|fetcher"
)


def detect_bot_clicks(
    user_agent: pl.Series,
    clicked_at: pl.Series,
    sent_at: pl.Series | None = None,
) -> pl.Series:
    """``is_bot`` by the rule of the module docstring.

    Parameters
    ----------
    user_agent
        User agents (String; NULL when unknown).
    clicked_at, sent_at
        Click time and the message's send time (``Datetime``); ``sent_at`` may be omitted.

    Returns
    -------
    polars.Series
        Boolean ``is_bot`` (never NULL).

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> t = dt.datetime(2024, 3, 1, 14, 5, tzinfo=dt.UTC)
    >>> detect_bot_clicks(
    ...     pl.Series(["WhatsApp/2.23", "Mozilla/5.0 (iPhone)", "Mozilla/5.0 (iPhone)"]),
    ...     pl.Series([t + dt.timedelta(seconds=s) for s in (60, 1, 90)]),
    ...     pl.Series([t, t, t]),
    ... ).to_list()
    [True, True, False]
    """
    frame = pl.DataFrame({"ua": user_agent.cast(pl.String), "clicked": clicked_at})
    by_agent = pl.col("ua").str.contains(BOT_USER_AGENT_PATTERN).fill_null(False)
    if sent_at is None:
        return frame.select(by_agent.alias("is_bot")).to_series()
    frame = frame.with_columns(sent_at.alias("sent"))
    fast = (
        (pl.col("clicked") - pl.col("sent")).dt.total_microseconds() < BOT_CLICK_SECONDS * 1e6
    ).fill_null(False)
    return frame.select((by_agent | fast).alias("is_bot")).to_series()
