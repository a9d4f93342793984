"""``smsanalytics message …``: inspect encoding and segments, lint copy, retrain the spam model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from smsanalytics.cli.common import JSON_OPTION, emit, fail

app = typer.Typer(help="Message lab: encoding, segments, lint, spam risk.", no_args_is_help=True)


def _human_info(info: Any) -> dict[str, Any]:
    """Flatten a MessageInfo for the two-column human table."""
    return {
        "encoding": info.encoding,
        "segments_count": info.segments_count,
        "characters": info.characters,
        "unicode_scalars": info.unicode_scalars,
        "code_units": info.code_units,
        "message_size_bits": info.message_size_bits,
        "total_size_bits": info.total_size_bits,
        "non_gsm_characters": " ".join(repr(c) for c in info.non_gsm_characters) or "-",
        **{f"part {i + 1}": repr(part) for i, part in enumerate(info.parts)},
    }


@app.command("inspect")
def inspect_command(
    text: str = typer.Argument(..., help="The message body."),
    smart_encoding: bool = typer.Option(
        False, "--smart-encoding", help="Replace look-alike characters by GSM-7 ones first."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Encoding (GSM-7/UCS-2), segments, sizes and per-segment split of TEXT."""
    from smsanalytics.messages import inspect, smart_encode

    info = inspect(text, smart_encoding=smart_encoding)
    if as_json:
        emit(info, True)
        return
    data = _human_info(info)
    if smart_encoding:
        report = smart_encode(text)
        data["smart encoding"] = (
            ", ".join(f"{r.original!r}->{r.replacement!r}" for r in report.replacements) or "-"
        )
        data["segments saved"] = report.segments_saved
    emit(data, False, title="message")


@app.command("lint")
def lint_command(
    text: str = typer.Argument(..., help="The message body (rendered)."),
    country: str = typer.Option("FR", "--country", help="Destination country (ISO alpha-2)."),
    sender_id: str | None = typer.Option(None, "--sender-id", help="Sender ID to check."),
    brand: str | None = typer.Option(None, "--brand", help="Brand that must appear in the text."),
    audience_size: int = typer.Option(1, "--audience-size", min=0, help="Recipients, for cost."),
    transactional: bool = typer.Option(
        False, "--transactional", help="Transactional message: opt-out wording not required."
    ),
    smart_encoding: bool = typer.Option(False, "--smart-encoding", help="Lint as smart-encoded."),
    no_spam: bool = typer.Option(False, "--no-spam", help="Skip the spam-risk score."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Lint TEXT: opt-out and sender wording, links, caps, punctuation, sender ID, cost, spam.

    Exits with status 1 when a finding is an error (status 0 otherwise), in both output modes.
    """
    from smsanalytics.messages import SpamModelError, lint

    try:
        report = lint(
            text,
            country=country,
            sender_id=sender_id,
            brand=brand,
            marketing=not transactional,
            audience_size=audience_size,
            smart_encoding=smart_encoding,
            spam=not no_spam,
        )
    except SpamModelError as error:
        raise fail(str(error)) from error
    if as_json:
        emit(report, True)
        if not report.passed:
            raise typer.Exit(1)
        return
    emit(
        {
            "passed": report.passed,
            "encoding": report.message.encoding,
            "segments": report.message.segments_count,
            "total_cost": report.cost.total_cost,
            "spam_probability": None if report.spam is None else round(report.spam.probability, 4),
            **{
                f"{i + 1}. {f.severity} {f.rule}": f.message + (f" -> {f.fix}" if f.fix else "")
                for i, f in enumerate(report.findings)
            },
        },
        False,
        title="lint",
    )
    if not report.passed:
        raise typer.Exit(1)


_DATA_OPTION = typer.Option(
    None, "--data", help="SMSSpamCollection file (default: the data/external/ copy)."
)
_OUTPUT_OPTION = typer.Option(
    None, "--output", help="Model file to write (default: the one shipped in the package)."
)


@app.command("train-spam")
def train_spam_command(
    data: Path | None = _DATA_OPTION,
    output: Path | None = _OUTPUT_OPTION,
    use: str = typer.Option(
        "paper-train",
        "--use",
        help="'paper-train': first 30 % (shipped model, evaluated on the other 70 %); 'all'.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Retrain the spam model deterministically and print its evaluation on the paper's split."""
    from smsanalytics.messages.spam import (
        PAPER_BEST_RESULT,
        SHIPPED_SPAM_MODEL,
        SpamDataError,
        train_spam_model,
    )

    if use not in {"paper-train", "all"}:
        raise fail(f"--use must be 'paper-train' or 'all', got {use!r}.")
    target = output if output is not None else SHIPPED_SPAM_MODEL
    try:
        model, evaluation = train_spam_model(data, output=target, use=use)
    except SpamDataError as error:
        raise fail(str(error)) from error
    result: dict[str, Any] = {
        "model": str(target),
        "use": use,
        "features": len(model.vocabulary_),
        "threshold": model.threshold,
        "probability_threshold": round(model.probability_threshold, 6),
    }
    if evaluation is not None:
        result.update(
            {
                "test_messages": evaluation.messages,
                "test_spam": evaluation.spam,
                "accuracy_pct": round(100 * evaluation.accuracy, 2),
                "spam_caught_pct": round(100 * evaluation.spam_caught, 2),
                "blocked_ham_pct": round(100 * evaluation.blocked_ham, 3),
                "mcc": round(evaluation.mcc, 4),
                "false_positives": evaluation.false_positives,
                "false_negatives": evaluation.false_negatives,
                "paper_best": PAPER_BEST_RESULT,
            }
        )
    emit(result, as_json, title="spam model")
