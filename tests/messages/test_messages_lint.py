"""Copy lint rules, sender ID validity and cost estimate.

Sources for the expectations: CTIA Messaging Principles and Best Practices (opt-out "Reply STOP",
public URL shorteners), the French FFTélécoms / ARCEP rules for marketing SMS ("STOP au 36xxx",
no 06/07 mobile number as sender), Twilio's alphanumeric sender ID rules (≤ 11 characters of
A-Z, a-z, 0-9 and space, at least one letter; not supported in the US).
"""

from __future__ import annotations

import pytest

from smsanalytics.messages import (
    DEFAULT_PRICES,
    LintConfig,
    MissingPriceError,
    check_sender_id,
    estimate_cost,
    find_links,
    lint,
    price_per_segment,
)


def rules(report, severity=None):
    return {f.rule for f in report.findings if severity is None or f.severity == severity}


GOOD_FR = "Maison Rose: -20% sur tout le magasin ce week-end. ms.fr/p?utm_source=sms STOP au 36180"
GOOD_US = (
    "Maison Rose: 20% off everything this weekend at ms.co/p?utm_source=sms Reply STOP to opt out"
)


def test_clean_french_and_us_messages_have_no_error_or_warning():
    for text, country in ((GOOD_FR, "FR"), (GOOD_US, "US")):
        report = lint(text, country=country, spam=False)
        assert report.passed and not report.warnings, report.findings
        assert rules(report, "info") == {"cost"}


@pytest.mark.parametrize(
    "country,text,ok",
    [
        ("FR", "Maison: promo. STOP au 36180", True),
        ("FR", "Maison: promo. Stop SMS 36180", True),
        ("FR", "Maison: promo. Reply STOP to opt out", False),
        ("US", "Maison: promo. Reply STOP to opt out", True),
        ("US", "Maison: promo. Text STOP to quit", True),
        ("US", "Maison: promo. STOP au 36180", False),
        ("DE", "Maison: promo. STOP", True),
    ],
)
def test_opt_out_wording_is_per_country(country, text, ok):
    report = lint(text, country=country, spam=False)
    assert ("opt-out" in rules(report, "error")) is (not ok)


def test_opt_out_is_only_information_for_transactional_messages():
    report = lint("Maison: your order 123 is ready.", country="US", marketing=False, spam=False)
    assert "opt-out" in rules(report, "info") and report.passed


def test_opt_out_rules_are_configurable():
    from smsanalytics.messages import OPT_OUT_RULES, OptOutRule

    config = LintConfig(
        opt_out_rules={**OPT_OUT_RULES, "BE": OptOutRule(r"\bSTOP\s+au\s+\d{4}\b", "STOP au 8xxx")}
    )
    assert "opt-out" in rules(
        lint("Maison: promo. STOP au 36180", country="BE", config=config, spam=False)
    )
    assert "opt-out" not in rules(
        lint("Maison: promo. STOP au 8123", country="BE", config=config, spam=False)
    )


def test_sender_identification_by_brand_or_prefix():
    assert "sender-identification" in rules(
        lint("-20% today. STOP au 36180", spam=False), "warning"
    )
    assert "sender-identification" not in rules(
        lint("Maison Rose: -20%. STOP au 36180", spam=False)
    )
    by_brand = lint("Chez Maison Rosé, -20%. STOP au 36180", brand="maison rose", spam=False)
    assert "sender-identification" not in rules(by_brand)


def test_links_shortener_untracked_and_too_long():
    assert find_links("go www.ex.fr/a, then https://b.co/x?y=1.") == [
        "www.ex.fr/a",
        "https://b.co/x?y=1",
    ]
    report = lint("Maison: bit.ly/abc STOP au 36180", spam=False)
    assert {"link-shortener", "link-untracked"} <= rules(report, "warning")
    long = lint(
        "Maison: https://www.maison-rose.fr/collections/hiver-2025/femmes?utm_source=sms "
        "STOP au 36180",
        spam=False,
    )
    assert "link-too-long" in rules(long, "warning") and "link-untracked" not in rules(long)
    own = lint(
        "Maison: ms.fr/x STOP au 36180",
        config=LintConfig(tracking_domains=frozenset({"ms.fr"})),
        spam=False,
    )
    assert not {"link-untracked", "link-shortener"} & rules(own)


def test_all_caps_share_excludes_opt_out_keywords():
    assert "all-caps" in rules(
        lint("Maison: GRANDE VENTE AUJOURD'HUI seulement. STOP au 36180", spam=False)
    )
    assert "all-caps" not in rules(
        lint("Maison: une vente aujourd'hui seulement. STOP au 36180 SMS", spam=False)
    )


def test_excessive_punctuation():
    assert "punctuation" in rules(lint("Maison: promo!! STOP au 36180", spam=False))
    assert "punctuation" in rules(lint("Maison: promo! vite! fin! STOP au 36180", spam=False))
    assert "punctuation" not in rules(lint("Maison: promo ! STOP au 36180", spam=False))


@pytest.mark.parametrize(
    "sender,country,kind,valid",
    [
        ("MaisonRose", "FR", "alphanumeric", True),
        ("Maison Rose", "FR", "alphanumeric", True),
        ("MaisonRoseParis", "FR", "invalid", False),  # 15 > 11 characters
        ("Maison-Rose", "FR", "invalid", False),  # hyphen not allowed
        ("12345", "FR", "short_code", True),
        ("36180", "FR", "short_code", True),
        ("+33612345678", "FR", "long_number", False),  # French mobile for marketing
        ("07 12 34 56 78", "FR", "long_number", False),
        ("+33184000000", "FR", "long_number", True),  # landline-range number
        ("+14155550100", "US", "long_number", True),
        ("MaisonRose", "US", "alphanumeric", False),  # alphanumeric not supported in the US
        ("1234567890123456", "FR", "invalid", False),  # > 15 digits
    ],
)
def test_sender_id_validity(sender, country, kind, valid):
    check = check_sender_id(sender, country=country)
    assert (check.kind, check.is_valid) == (kind, valid)


def test_french_mobile_sender_allowed_for_transactional_and_number_not_echoed():
    assert check_sender_id("0612345678", country="FR", marketing=False).is_valid
    report = lint(GOOD_FR, country="FR", sender_id="0612345678", spam=False)
    assert "sender-id" in rules(report, "error")
    assert all("0612345678" not in f.message for f in report.findings)


def test_encoding_finding_suggests_smart_encoding_only_when_it_helps():
    fixable = lint("Maison: l\u2019offre. STOP au 36180", spam=False)
    assert any(
        f.rule == "encoding" and "smart encoding makes it GSM-7" in f.message
        for f in fixable.findings
    )
    emoji = lint("Maison: l'offre 🎉. STOP au 36180", spam=False)
    assert any(f.rule == "encoding" and "70 characters" in f.message for f in emoji.findings)


def test_cost_estimate_from_price_table():
    report = lint(
        "Maison: " + "x" * 200 + " STOP au 36180", country="FR", audience_size=10_000, spam=False
    )
    assert report.message.segments_count == 2
    assert report.cost.total_cost == pytest.approx(2 * 0.045 * 10_000)
    assert report.cost.total_segments == 20_000
    assert estimate_cost(3, country="XX", audience_size=2).total_cost == pytest.approx(0.3)
    assert price_per_segment("us") == DEFAULT_PRICES["US"]
    with pytest.raises(MissingPriceError, match="'default'"):
        price_per_segment("FR", {"US": 0.01})


def test_unrendered_field_and_empty_message_are_errors():
    assert "unrendered-field" in rules(lint("Hi {first_name}. STOP au 36180", spam=False), "error")
    assert "empty" in rules(lint("", spam=False), "error")


def test_spam_risk_reported_with_driving_words():
    report = lint(
        "WINNER!! You have won a FREE £1000 prize. Txt CLAIM to 81010 now", country="default"
    )
    finding = next(f for f in report.findings if f.rule == "spam-risk")
    assert report.spam is not None and report.spam.probability > 0.9
    assert finding.severity == "warning" and "'txt'" in finding.message.lower()


def test_opt_out_wording_is_not_counted_as_spam_signal():
    text = GOOD_US
    with_footer = lint(text, country="US").spam
    from smsanalytics.messages import score_spam

    raw = score_spam(text)
    assert with_footer is not None and with_footer.probability < raw.probability
