"""Opt-out, opt-in and help keywords in inbound SMS.

Recognition is case-, accent- and whitespace-insensitive; punctuation around words is ignored
(``Stop.``, ``« STOP »``, ``stop!``). Three families:

- ``STOP`` (opt-out): STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT (also
  ``OPT OUT``/``OPT-OUT``), French ARRET/ARRÊT, DESABONNER/DÉSABONNER, DESINSCRIRE. Recognised when
  it is the *first word* of the reply or the whole reply: ``STOP``, ``Stop please``, ``STOP au
  36180`` (the French "STOP au 36xxx" mention echoed back).
- ``START`` (opt-in again): START, UNSTOP. Recognised only when it is the *whole* reply
  (a reply such as "Start over tomorrow?" must not re-subscribe someone who opted out: a false
  opt-in is a compliance breach, a false opt-out only costs a contact).
- ``HELP``: HELP, INFO, AIDE. First word or whole reply.

Anything else gives NULL.
"""

from __future__ import annotations

import polars as pl

__all__ = ["detect_keywords", "STOP_WORDS", "START_WORDS", "HELP_WORDS"]

STOP_WORDS: tuple[str, ...] = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "ARRET",
    "DESABONNER",
    "DESINSCRIRE",
)
START_WORDS: tuple[str, ...] = ("START", "UNSTOP")
HELP_WORDS: tuple[str, ...] = ("HELP", "INFO", "AIDE")


def detect_keywords(body: pl.Series) -> pl.Series:
    """The keyword (``STOP``, ``START``, ``HELP``) of each reply, or NULL.

    Parameters
    ----------
    body
        Text of inbound messages (String).

    Returns
    -------
    polars.Series
        String series ``keyword``, same length.

    Examples
    --------
    >>> import polars as pl
    >>> detect_keywords(pl.Series([" stop ", "STOP au 36180", "Arrêt", "start", "Start over?",
    ...                            "help me", "Thanks!", None])).to_list()
    ['STOP', 'STOP', 'STOP', 'START', None, 'HELP', None, None]
    """
    text = (
        body.cast(pl.String)
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_uppercase()
        .str.replace_all(r"\bOPT[\s\-_]+OUT\b", "OPTOUT")
        .str.replace_all(r"[^\p{L}\p{N}\s]", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    frame = pl.DataFrame({"t": text}).with_columns(
        pl.col("t").str.extract(r"^(\S+)", 1).alias("first")
    )
    t, first = pl.col("t"), pl.col("first")
    keyword = (
        pl.when(t.is_in(STOP_WORDS) | first.is_in(STOP_WORDS))
        .then(pl.lit("STOP"))
        .when(t.is_in(START_WORDS))
        .then(pl.lit("START"))
        .when(t.is_in(HELP_WORDS) | first.is_in(HELP_WORDS))
        .then(pl.lit("HELP"))
        .otherwise(pl.lit(None, pl.String))
    )
    return frame.select(keyword.alias("keyword")).to_series()
