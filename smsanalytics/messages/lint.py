"""Copy lint for SMS marketing messages: rules with severities, cost estimate and spam risk.

Every rule returns :class:`Finding` objects with a severity (``error`` blocks a send, ``warning``
should be fixed, ``info`` is context), the rule id, a message and the fix. Rules and defaults are
listed in ``docs/messages.md``; thresholds and per-country opt-out wording live in
:class:`LintConfig`, so a team can adapt them without touching the code.

The rules are heuristics grounded in public guidance: the French CNIL / ARCEP and the FFTélécoms
code of conduct for SMS marketing (sender identification, "STOP au 36xxx" opt-out, no 06/07 mobile
number as the sender of a marketing SMS), the US CTIA Messaging Principles and Best Practices
("Reply STOP to opt out", public URL shorteners filtered by carriers), and gateways' sender ID
rules (alphanumeric up to 11 characters, numeric, short code). They do not replace legal advice.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import parse_qsl, urlsplit

import regex

from smsanalytics.messages.cost import DEFAULT_PRICES, CostEstimate, estimate_cost
from smsanalytics.messages.encoding import MessageInfo, inspect

if TYPE_CHECKING:  # the spam model needs scikit-learn (~2 s to import): loaded when first scored
    from smsanalytics.messages.spam import SpamClassifier, SpamScore

__all__ = [
    "Severity",
    "Finding",
    "OptOutRule",
    "OPT_OUT_RULES",
    "PUBLIC_URL_SHORTENERS",
    "LintConfig",
    "LintReport",
    "SenderIdCheck",
    "check_sender_id",
    "find_links",
    "lint",
]

Severity = Literal["error", "warning", "info"]
SenderIdKind = Literal["alphanumeric", "short_code", "long_number", "invalid"]
_SEVERITY_ORDER: Final = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """One lint finding.

    Attributes
    ----------
    rule
        Rule id (``opt-out``, ``sender-identification``, ``link-shortener`` …).
    severity
        ``"error"``, ``"warning"`` or ``"info"``.
    message
        What is wrong (or, for ``info``, the fact).
    fix
        How to fix it (empty for pure information).
    """

    rule: str
    severity: Severity
    message: str
    fix: str = ""


@dataclass(frozen=True)
class OptOutRule:
    """Opt-out wording required in a country.

    Attributes
    ----------
    pattern
        Case-insensitive regular expression the message must match.
    example
        The wording to suggest.
    """

    pattern: str
    example: str


#: Opt-out wording by country (ISO alpha-2) with a ``"default"``. France: "STOP au" + the 5-digit
#: short number of the operator (e.g. 36xxx); United States: CTIA's "Reply STOP to opt out" (or
#: "Text STOP to …"); elsewhere the keyword STOP at least.
OPT_OUT_RULES: Final[Mapping[str, OptOutRule]] = MappingProxyType(
    {
        "FR": OptOutRule(
            pattern=r"\bstop(?:\s+sms)?\s*(?:au|:)?\s*\d{5}\b",
            example="STOP au 36xxx",
        ),
        "US": OptOutRule(
            pattern=r"\b(?:reply|text|txt|send)\s+stop\b|\bstop\s+to\s+(?:opt[\s-]?out|unsubscribe|end|cancel|quit)\b",
            example="Reply STOP to opt out",
        ),
        "default": OptOutRule(pattern=r"\bstop\b", example="Reply STOP to opt out"),
    }
)

#: Public URL shorteners whose links carriers filter (shared domains abused by spammers).
PUBLIC_URL_SHORTENERS: Final = frozenset(
    {
        "bit.ly",
        "bitly.com",
        "tinyurl.com",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "v.gd",
        "t.co",
        "buff.ly",
        "cutt.ly",
        "shorturl.at",
        "rb.gy",
        "tiny.cc",
        "bit.do",
        "t.ly",
        "s.id",
        "rebrand.ly",
        "shorte.st",
        "adf.ly",
        "lnkd.in",
        "tr.im",
        "qr.ae",
        "x.co",
        "soo.gd",
        "clck.ru",
        "tiny.one",
        "urlz.fr",
    }
)

_TRACKING_PARAMETERS: Final = frozenset(
    {
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "mc_cid",
        "sms_id",
        "cid",
        "gclid",
        "fbclid",
        "ref",
    }
)
_OPT_OUT_KEYWORDS: Final = frozenset(
    {"STOP", "STOPALL", "HELP", "AIDE", "START", "SMS", "UNSUBSCRIBE", "OK"}
)


@dataclass(frozen=True)
class LintConfig:
    """Thresholds and tables of the lint rules.

    Parameters
    ----------
    opt_out_rules
        Opt-out wording by country, with a ``"default"``.
    max_caps_share
        Largest share of letters in ALL-CAPS words (opt-out keywords and the brand excluded).
    max_exclamation_marks
        Most ``!`` allowed in one message.
    max_link_length
        Longest link (characters) before ``link-too-long``.
    shorteners
        Public shortener domains (``link-shortener``).
    tracking_domains
        Your own link domains, tracked by construction (a branded short domain).
    tracking_parameters
        Query parameters that count as tracking (``utm_*`` …).
    max_segments
        More segments than this is a warning (1 more is only information).
    spam_warning_probability
        Spam probability from which ``spam-risk`` is a warning, information below. The default
        (0.8) is above the classifier's own threshold on purpose: the training collection's ham is
        personal chat, so any commercial copy scores higher than a chat message; a warning is kept
        for copy that reads like the collection's spam. ``None`` uses the model's threshold.
    """

    opt_out_rules: Mapping[str, OptOutRule] = field(default_factory=lambda: OPT_OUT_RULES)
    max_caps_share: float = 0.3
    max_exclamation_marks: int = 2
    max_link_length: int = 35
    shorteners: frozenset[str] = PUBLIC_URL_SHORTENERS
    tracking_domains: frozenset[str] = frozenset()
    tracking_parameters: frozenset[str] = _TRACKING_PARAMETERS
    max_segments: int = 2
    spam_warning_probability: float | None = 0.8


@dataclass(frozen=True)
class SenderIdCheck:
    """Validity of a sender ID.

    Attributes
    ----------
    sender_id
        The sender ID as given.
    kind
        ``alphanumeric`` (≤ 11 of A–Z a–z 0–9 space, at least one letter), ``short_code`` (3–8
        digits), ``long_number`` (a phone number, up to 15 digits) or ``invalid``.
    findings
        Problems found (empty when valid).
    """

    sender_id: str
    kind: SenderIdKind
    findings: tuple[Finding, ...]

    @property
    def is_valid(self) -> bool:
        """Whether no error was found."""
        return not any(f.severity == "error" for f in self.findings)


@dataclass(frozen=True)
class LintReport:
    """Lint result of one message.

    Attributes
    ----------
    text
        The message as linted.
    country
        Destination country used for the rules and the price.
    message
        :class:`MessageInfo` (encoding, segments …).
    findings
        Findings, errors first.
    cost
        :class:`CostEstimate` for the audience.
    spam
        :class:`SpamScore` (``None`` when spam scoring was turned off).
    """

    text: str
    country: str
    message: MessageInfo
    findings: tuple[Finding, ...]
    cost: CostEstimate
    spam: SpamScore | None = field(default=None)

    @property
    def errors(self) -> tuple[Finding, ...]:
        """Findings of severity ``error``."""
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """Findings of severity ``warning``."""
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def passed(self) -> bool:
        """Whether the message has no error."""
        return not self.errors


_LINK: Final = regex.compile(
    r"(?i)\b(?:https?://|www\.)[^\s<>\"]+"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}/[^\s<>\"]*"
)
_TRAILING: Final = ".,;:!?)'\""
_FIELD_LEFT: Final = regex.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?:\|[^{}]*)?\}")
_WORD: Final = regex.compile(r"\p{L}[\p{L}\p{M}'’-]*")
_SENDER_PREFIX: Final = regex.compile(r"^\s*[\p{L}\p{N}][\p{L}\p{N}&'.\- ]{1,30}\s?:")
_FR_MOBILE: Final = regex.compile(r"^(?:\+33|0033|33|0)[67]\d{8}$")


def find_links(text: str) -> list[str]:
    """Links in ``text`` (``http(s)://…``, ``www.…`` or ``domain.tld/path``), trailing punctuation
    removed.

    Examples
    --------
    >>> find_links("Voir bit.ly/abc. Ou https://ex.fr/p?utm_source=sms !")
    ['bit.ly/abc', 'https://ex.fr/p?utm_source=sms']
    """
    return [m.group(0).rstrip(_TRAILING) for m in _LINK.finditer(text)]


def _host(link: str) -> str:
    parts = urlsplit(link if "://" in link else f"http://{link}")
    host = (parts.hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _strip_accents(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).casefold()


def check_sender_id(
    sender_id: str, *, country: str = "default", marketing: bool = True
) -> SenderIdCheck:
    """Check a sender ID: alphanumeric (≤ 11), short code or phone number, with country rules.

    Parameters
    ----------
    sender_id
        The sender shown to recipients.
    country
        Destination country (ISO alpha-2): in France a marketing SMS may not come from a 06/07
        mobile number; in the United States alphanumeric sender IDs are not supported.
    marketing
        Whether the message is marketing.

    Returns
    -------
    SenderIdCheck

    Examples
    --------
    >>> check_sender_id("MaBoutique").kind, check_sender_id("MaBoutiqueParis").is_valid
    ('alphanumeric', False)
    >>> check_sender_id("0612345678", country="FR").is_valid
    False
    """
    country = country.upper() if country != "default" else country
    raw = sender_id.strip()
    compact = regex.sub(r"[\s.\-()]", "", raw)
    findings: list[Finding] = []
    kind: SenderIdKind
    if regex.fullmatch(r"\+?\d+", compact):
        digits = compact.lstrip("+")
        if not compact.startswith("+") and 3 <= len(digits) <= 8:
            kind = "short_code"
        elif 8 <= len(digits) <= 15:
            kind = "long_number"
        else:
            kind = "invalid"
            findings.append(
                Finding(
                    "sender-id",
                    "error",
                    f"numeric sender ID has {len(digits)} digits: neither a short code (3-8 "
                    "digits) nor a phone number (up to 15 digits, E.164)",
                    "Use your short code, a phone number in E.164 form, or an alphanumeric ID.",
                )
            )
        if kind == "long_number" and country == "FR" and marketing and _FR_MOBILE.match(compact):
            findings.append(
                Finding(
                    "sender-id",
                    "error",
                    "the sender ID is a French mobile number (06/07): marketing SMS may not be "
                    "sent from one in France",
                    "Use an alphanumeric sender ID (your brand, up to 11 characters) or a "
                    "short code.",
                )
            )
    elif regex.fullmatch(r"[A-Za-z0-9 ]+", raw) and regex.search(r"[A-Za-z]", raw):
        kind = "alphanumeric" if len(raw) <= 11 else "invalid"
        if len(raw) > 11:
            findings.append(
                Finding(
                    "sender-id",
                    "error",
                    f"alphanumeric sender ID is {len(raw)} characters long; the limit is 11",
                    "Shorten it to 11 characters or fewer (letters, digits, spaces).",
                )
            )
        if country == "US":
            findings.append(
                Finding(
                    "sender-id",
                    "error",
                    "alphanumeric sender IDs are not supported in the United States",
                    "Send from a registered 10DLC number, a toll-free number or a short code.",
                )
            )
    else:
        kind = "invalid"
        findings.append(
            Finding(
                "sender-id",
                "error",
                "sender ID has characters other than A-Z, a-z, 0-9 and space (or no letter)",
                "Use up to 11 letters, digits or spaces with at least one letter, or a number.",
            )
        )
    return SenderIdCheck(sender_id=sender_id, kind=kind, findings=tuple(findings))


def _opt_out_rule(country: str, config: LintConfig) -> OptOutRule:
    rules = config.opt_out_rules
    return rules.get(country, rules.get("default", OPT_OUT_RULES["default"]))


def _caps_share(text: str, exclude: set[str]) -> tuple[float, int]:
    letters = caps = 0
    for match in _WORD.finditer(text):
        word = match.group(0)
        alpha = [c for c in word if c.isalpha()]
        if not alpha:
            continue
        letters += len(alpha)
        if len(alpha) >= 2 and all(c.isupper() for c in alpha) and word.upper() not in exclude:
            caps += len(alpha)
    return (caps / letters if letters else 0.0), letters


def lint(
    text: str,
    *,
    country: str = "FR",
    sender_id: str | None = None,
    brand: str | None = None,
    marketing: bool = True,
    audience_size: int = 1,
    prices: Mapping[str, float] = DEFAULT_PRICES,
    smart_encoding: bool = False,
    spam: bool = True,
    spam_model: SpamClassifier | None = None,
    config: LintConfig | None = None,
) -> LintReport:
    """Lint an SMS body: compliance wording, links, style, sender ID, cost and spam risk.

    Parameters
    ----------
    text
        The rendered message body.
    country
        Destination country (ISO alpha-2) for opt-out wording, sender rules and price.
    sender_id
        Sender ID to check (alphanumeric, short code or number); ``None`` skips the check.
    brand
        Brand or shop name that must appear in the text (sender identification); when ``None``,
        a ``"Name:"`` prefix counts as identification.
    marketing
        Marketing messages must carry opt-out wording; transactional ones only get a note.
    audience_size
        Recipients, for the campaign cost estimate.
    prices
        Price per segment by country with a ``"default"`` key.
    smart_encoding
        Lint the text as sent with smart encoding.
    spam
        Score spam risk with the shipped (or given) model.
    spam_model
        A fitted :class:`SpamClassifier` to use instead of the shipped one.
    config
        Thresholds and tables (:class:`LintConfig`).

    Returns
    -------
    LintReport
        Findings sorted by severity, the :class:`MessageInfo`, the cost estimate and the spam
        score.

    Examples
    --------
    >>> report = lint("PROMO EXCEPTIONNELLE!!! -50% sur bit.ly/x", country="FR", spam=False)
    >>> sorted({f.rule for f in report.findings if f.severity == "warning"})
    ['all-caps', 'link-shortener', 'link-untracked', 'punctuation', 'sender-identification']
    >>> [f.rule for f in report.errors]
    ['opt-out']
    """
    config = config or LintConfig()
    country = country.strip()
    country = country if country == "default" else country.upper()
    info = inspect(text, smart_encoding=smart_encoding)
    body = info.text
    findings: list[Finding] = []

    if not body.strip():
        findings.append(
            Finding("empty", "error", "the message is empty", "Write the message body.")
        )

    leftover = _FIELD_LEFT.findall(body)
    if leftover:
        findings.append(
            Finding(
                "unrendered-field",
                "error",
                f"template field(s) left in the text: {', '.join(dict.fromkeys(leftover))}",
                "Render the template for each contact before linting or sending.",
            )
        )

    # -- sender identification ----------------------------------------------------------------
    if brand:
        if _strip_accents(brand) not in _strip_accents(body):
            findings.append(
                Finding(
                    "sender-identification",
                    "warning",
                    f"the brand {brand!r} does not appear in the message",
                    f"Start the message with '{brand}: '.",
                )
            )
    elif not _SENDER_PREFIX.match(body):
        findings.append(
            Finding(
                "sender-identification",
                "warning",
                "the message does not say who sends it",
                "Start with your brand name, e.g. 'Boulangerie Martin: ...', or pass brand=.",
            )
        )

    # -- opt-out --------------------------------------------------------------------------------
    rule = _opt_out_rule(country, config)
    opt_out_match = regex.search(rule.pattern, body, flags=regex.IGNORECASE)
    if not opt_out_match:
        findings.append(
            Finding(
                "opt-out",
                "error" if marketing else "info",
                f"no opt-out wording for {country}"
                + ("" if marketing else " (not required for a transactional message)"),
                f"Add '{rule.example}' at the end of the message.",
            )
        )

    # -- links --------------------------------------------------------------------------------
    for link in find_links(body):
        host = _host(link)
        if host in config.shorteners:
            findings.append(
                Finding(
                    "link-shortener",
                    "warning",
                    f"{host} is a public URL shortener; carriers filter messages that use them",
                    "Use a branded short domain of your own.",
                )
            )
        query = urlsplit(link if "://" in link else f"http://{link}").query
        params = {k.lower() for k, _ in parse_qsl(query, keep_blank_values=True)}
        tracked = host in config.tracking_domains or bool(params & config.tracking_parameters)
        if not tracked and host not in config.shorteners:
            findings.append(
                Finding(
                    "link-untracked",
                    "warning",
                    f"the link to {host} carries no tracking (no utm_* parameter, not a "
                    "tracking domain)",
                    "Use a per-campaign tracked link (utm_source=sms&utm_campaign=...) or your "
                    "tracking domain (LintConfig.tracking_domains).",
                )
            )
        elif not tracked:
            findings.append(
                Finding(
                    "link-untracked",
                    "warning",
                    f"the {host} link is tracked by the shortener, not by your analytics",
                    "Use your own tracked short domain.",
                )
            )
        if len(link) > config.max_link_length:
            findings.append(
                Finding(
                    "link-too-long",
                    "warning",
                    f"a link is {len(link)} characters long (limit {config.max_link_length}); "
                    "it eats most of a segment",
                    "Shorten it with your own branded short domain.",
                )
            )

    # -- style --------------------------------------------------------------------------------
    exclude = set(_OPT_OUT_KEYWORDS)
    if brand:
        exclude.update(w.upper() for w in _WORD.findall(brand))
    prefix = _SENDER_PREFIX.match(body)
    style_text = body[prefix.end() :] if prefix and not brand else body
    for link in find_links(style_text):
        style_text = style_text.replace(link, " ")
    share, letters = _caps_share(style_text, exclude)
    if letters >= 10 and share > config.max_caps_share:
        findings.append(
            Finding(
                "all-caps",
                "warning",
                f"{share:.0%} of the letters are in ALL-CAPS words "
                f"(limit {config.max_caps_share:.0%})",
                "Write in sentence case; keep capitals for one word at most.",
            )
        )
    runs = regex.findall(r"[!?]{2,}|[$€£]{2,}|\.{4,}", body)
    exclamations = body.count("!")
    if runs or exclamations > config.max_exclamation_marks:
        detail = []
        if runs:
            detail.append(f"repeated punctuation {', '.join(dict.fromkeys(runs))}")
        if exclamations > config.max_exclamation_marks:
            detail.append(
                f"{exclamations} exclamation marks (limit {config.max_exclamation_marks})"
            )
        findings.append(
            Finding(
                "punctuation",
                "warning",
                "excessive punctuation: " + "; ".join(detail),
                "Use at most one '!' per sentence and no repeated punctuation.",
            )
        )

    # -- sender id ----------------------------------------------------------------------------
    if sender_id is not None:
        findings.extend(check_sender_id(sender_id, country=country, marketing=marketing).findings)

    # -- encoding, segments, cost -------------------------------------------------------------
    if info.encoding == "UCS-2":
        smart_info = inspect(body, smart_encoding=True)
        chars = " ".join(repr(c) for c in info.non_gsm_characters)
        if smart_info.is_gsm7:
            findings.append(
                Finding(
                    "encoding",
                    "warning",
                    f"UCS-2 because of {chars}; smart encoding makes it GSM-7 "
                    f"({info.segments_count} -> {smart_info.segments_count} segment(s))",
                    "Turn on smart encoding, or type these look-alike characters as plain ones.",
                )
            )
        else:
            findings.append(
                Finding(
                    "encoding",
                    "warning",
                    f"UCS-2 because of {chars}: 70 characters per segment instead of 160",
                    "Replace these characters if the meaning allows it (emoji, ç, ê … are not "
                    "GSM-7).",
                )
            )
    if info.segments_count > config.max_segments:
        findings.append(
            Finding(
                "segments",
                "warning",
                f"{info.segments_count} segments per message ({info.code_units} "
                f"{'septets' if info.is_gsm7 else 'UTF-16 units'})",
                "Shorten the copy; every segment is billed.",
            )
        )
    elif info.segments_count > 1:
        findings.append(
            Finding(
                "segments",
                "info",
                f"{info.segments_count} segments per message; "
                f"{info.code_units - (160 if info.is_gsm7 else 70)} "
                f"{'septets' if info.is_gsm7 else 'UTF-16 units'} over one segment",
                "Shorten the copy to fit one segment.",
            )
        )
    cost = estimate_cost(
        info.segments_count, country=country, audience_size=audience_size, prices=prices
    )
    findings.append(
        Finding(
            "cost",
            "info",
            f"{cost.segments_per_message} segment(s) × {cost.price_per_segment:g} per segment × "
            f"{cost.audience_size} recipient(s) = {cost.total_cost:g}",
        )
    )

    # -- spam risk ----------------------------------------------------------------------------
    score: SpamScore | None = None
    if spam and body.strip():
        # The mandatory opt-out wording is removed before scoring: in the 2011 training data
        # "STOP" and short numbers appear almost only in spam, so it would mask the copy's risk.
        scored = body
        if opt_out_match:
            scored = (body[: opt_out_match.start()] + body[opt_out_match.end() :]).strip()
        from smsanalytics.messages.spam import score_spam

        score = score_spam(scored or body, spam_model)
        limit = (
            config.spam_warning_probability
            if config.spam_warning_probability is not None
            else score.probability_threshold
        )
        drivers = ", ".join(f"{f.term!r}" for f in score.features if f.contribution > 0)
        findings.append(
            Finding(
                "spam-risk",
                "warning" if score.probability >= limit else "info",
                f"spam probability {score.probability:.0%}"
                + (f"; words pushing towards spam: {drivers}" if drivers else ""),
                "Rephrase the words pushing towards spam (prizes, urgency, 'free', 'txt', "
                "premium numbers)."
                if score.probability >= limit
                else "",
            )
        )

    findings.sort(key=lambda f: _SEVERITY_ORDER[f.severity])
    return LintReport(
        text=body, country=country, message=info, findings=tuple(findings), cost=cost, spam=score
    )
