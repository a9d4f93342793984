"""Message lab: GSM-7/UCS-2 encoding and segments, smart encoding, templates, copy lint, spam risk.

Every send is billed per segment, and one emoji can turn one segment into three. This subpackage
answers, before a campaign leaves: how is this text encoded and split, what does it cost for this
audience, who pushes it into an extra segment, does it carry the mandatory wording, and does it read
like spam. See ``docs/messages.md``.
"""

from smsanalytics.messages.cost import (
    DEFAULT_PRICES,
    CostEstimate,
    MissingPriceError,
    estimate_cost,
    price_per_segment,
)
from smsanalytics.messages.encoding import (
    Encoding,
    MessageInfo,
    inspect,
    split_graphemes,
)
from smsanalytics.messages.lab import compare_variants
from smsanalytics.messages.lint import (
    OPT_OUT_RULES,
    PUBLIC_URL_SHORTENERS,
    Finding,
    LintConfig,
    LintReport,
    OptOutRule,
    SenderIdCheck,
    check_sender_id,
    find_links,
    lint,
)
from smsanalytics.messages.smart import (
    SMART_ENCODING_TABLE,
    Replacement,
    SmartEncodingReport,
    apply_smart_encoding,
    smart_encode,
)
from smsanalytics.messages.templates import (
    OPT_OUT_FOOTERS,
    STARTER_FIELD_BUDGETS,
    STARTER_TEMPLATES,
    MissingFieldError,
    RenderReport,
    Template,
    TemplateSyntaxError,
    render,
    render_for_audience,
    starter_template,
    worst_case_values,
)

#: Names of :mod:`smsanalytics.messages.spam`, imported on first use: the spam model needs
#: scikit-learn, whose import takes ~2 s, and most uses of the message lab (encoding, segments,
#: templates) never score spam.
_SPAM_NAMES: tuple[str, ...] = (
    "PAPER_BEST_RESULT",
    "SpamClassifier",
    "SpamDataError",
    "SpamEvaluation",
    "SpamFeature",
    "SpamModelError",
    "SpamScore",
    "evaluate_spam_classifier",
    "load_sms_spam_collection",
    "load_spam_model",
    "score_spam",
    "split_like_almeida_2011",
    "train_spam_model",
)


def __getattr__(name: str) -> object:
    if name in _SPAM_NAMES:
        from smsanalytics.messages import spam

        return getattr(spam, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    # encoding
    "Encoding",
    "MessageInfo",
    "inspect",
    "split_graphemes",
    # smart encoding
    "SMART_ENCODING_TABLE",
    "Replacement",
    "SmartEncodingReport",
    "apply_smart_encoding",
    "smart_encode",
    # cost
    "DEFAULT_PRICES",
    "CostEstimate",
    "MissingPriceError",
    "estimate_cost",
    "price_per_segment",
    # templates
    "OPT_OUT_FOOTERS",
    "STARTER_FIELD_BUDGETS",
    "STARTER_TEMPLATES",
    "MissingFieldError",
    "RenderReport",
    "Template",
    "TemplateSyntaxError",
    "render",
    "render_for_audience",
    "starter_template",
    "worst_case_values",
    # lint
    "OPT_OUT_RULES",
    "PUBLIC_URL_SHORTENERS",
    "Finding",
    "LintConfig",
    "LintReport",
    "OptOutRule",
    "SenderIdCheck",
    "check_sender_id",
    "find_links",
    "lint",
    # spam (imported on first use)
    *_SPAM_NAMES,
    # lab
    "compare_variants",
]
