"""Inspecting a message must not pay for the spam model's scikit-learn import (~2 s)."""

from __future__ import annotations

import subprocess
import sys


def test_message_lab_imports_scikit_learn_only_to_score_spam():
    code = (
        "import sys\n"
        "from smsanalytics.messages import inspect, render, Template\n"
        "inspect('Bonjour, -20% ce week-end ! STOP au 36111')\n"
        "assert 'sklearn' not in sys.modules, 'encoding pulled in scikit-learn'\n"
        "from smsanalytics.messages import score_spam, SpamClassifier\n"
        "assert 'sklearn' in sys.modules\n"
        "assert score_spam('WIN a FREE prize, call now!').probability > 0.5\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
