"""``smsanalytics message`` commands, tested through the typer app."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from smsanalytics.cli.message import app
from smsanalytics.messages import MessageInfo, load_spam_model

runner = CliRunner()


def test_inspect_json_has_every_message_info_field():
    result = runner.invoke(app, ["inspect", "x" * 161, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == set(MessageInfo.__dataclass_fields__)
    assert (data["encoding"], data["segments_count"], [len(p) for p in data["parts"]]) == (
        "GSM-7",
        2,
        [153, 8],
    )


def test_inspect_smart_encoding_flag():
    result = runner.invoke(
        app, ["inspect", "L\u2019offre \u2014 ici", "--smart-encoding", "--json"]
    )
    data = json.loads(result.stdout)
    assert data["text"] == "L'offre - ici" and data["encoding"] == "GSM-7"
    human = runner.invoke(app, ["inspect", "L\u2019offre", "--smart-encoding"])
    assert human.exit_code == 0 and "segments saved" in human.stdout


def test_lint_json_and_exit_code():
    ok = runner.invoke(
        app, ["lint", "Maison: -20% ce week-end. STOP au 36180", "--country", "FR", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["country"] == "FR" and data["message"]["segments_count"] == 1
    assert {f["rule"] for f in data["findings"]} >= {"cost", "spam-risk"}
    assert 0.0 <= data["spam"]["probability"] <= 1.0
    bad = runner.invoke(app, ["lint", "PROMO bit.ly/x", "--country", "FR", "--json"])
    assert bad.exit_code == 1
    assert any(f["rule"] == "opt-out" for f in json.loads(bad.stdout)["findings"])


def test_lint_us_transactional_with_sender_id():
    result = runner.invoke(
        app,
        [
            "lint",
            "Maison: your order is ready.",
            "--country",
            "US",
            "--transactional",
            "--sender-id",
            "MaisonRose",
            "--no-spam",
            "--json",
        ],
    )
    data = json.loads(result.stdout)
    assert data["spam"] is None
    assert any(f["rule"] == "sender-id" and f["severity"] == "error" for f in data["findings"])


def test_train_spam_writes_a_model_equal_to_the_shipped_one(tmp_path):
    target = tmp_path / "model.npz"
    result = runner.invoke(app, ["train-spam", "--output", str(target), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["test_messages"] == 3902 and data["mcc"] >= 0.95 and data["blocked_ham_pct"] <= 0.2
    from smsanalytics.messages import SpamClassifier

    written, shipped = SpamClassifier.load(target), load_spam_model()
    assert written.vocabulary_ == shipped.vocabulary_
    np.testing.assert_allclose(written.coef_, shipped.coef_, atol=1e-12)


def test_train_spam_reports_missing_data(tmp_path):
    result = runner.invoke(
        app, ["train-spam", "--data", str(tmp_path / "nope"), "--output", str(tmp_path / "m.npz")]
    )
    assert result.exit_code == 2
