"""The ``smsanalytics`` command line (typer).

Every verb has ``--help``; every verb that produces a result accepts ``--json`` and then prints a
machine-readable summary on stdout (progress and messages go to stderr).
"""

from __future__ import annotations

import importlib

import typer

from smsanalytics.cli import data
from smsanalytics.cli.common import ENGINE_OPTION, PARQUET_DIR_OPTION, EngineName

__all__ = ["app", "main"]

app = typer.Typer(
    name="smsanalytics",
    help="SMS marketing analytics: ingest, segment, send time, churn, A/B tests, message lab, send plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    engine: EngineName | None = ENGINE_OPTION,
    parquet_dir: str | None = PARQUET_DIR_OPTION,
) -> None:
    # Read by the verbs through smsanalytics.cli.common.engine_overrides (a verb's own
    # --engine wins); a verb that runs no relation ignores them.
    pass


data.register(app)

# Verbs and verb groups that live in their own modules: (module, attribute, kind, name).
_PLUGINS: tuple[tuple[str, str, str, str], ...] = (
    ("smsanalytics.cli.ingest", "ingest", "command", "ingest"),
    ("smsanalytics.cli.segment", "segment", "command", "segment"),
    ("smsanalytics.cli.segment", "features", "command", "features"),
    ("smsanalytics.cli.ab", "app", "group", "ab"),
    ("smsanalytics.cli.message", "app", "group", "message"),
    ("smsanalytics.cli.sendtime", "app", "group", "sendtime"),
    ("smsanalytics.cli.churn", "app", "group", "churn"),
    ("smsanalytics.cli.churn", "recapture", "command", "recapture"),
    ("smsanalytics.cli.sending", "plan", "command", "plan"),
    ("smsanalytics.cli.sending", "send", "command", "send"),
    ("smsanalytics.cli.sending", "receipts_app", "group", "receipts"),
    ("smsanalytics.cli.pipeline", "app", "group", "pipeline"),
)

for _module, _attr, _kind, _name in _PLUGINS:
    try:
        _obj = getattr(importlib.import_module(_module), _attr)
    except ModuleNotFoundError as _exc:  # a module not written yet
        if _exc.name != _module:
            raise
        continue
    if _kind == "command":
        app.command(_name)(_obj)
    else:
        app.add_typer(_obj, name=_name)


def main() -> None:
    """Entry point of the ``smsanalytics`` script."""
    app()
