"""``smsanalytics churn evaluate`` and ``smsanalytics recapture``.

The lead registers the typer group :data:`app` as ``churn`` and :func:`recapture` as a top-level
command.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from smsanalytics.cli.common import (
    ENGINE_OPTION,
    JSON_OPTION,
    PARQUET_DIR_OPTION,
    EngineName,
    console,
    emit,
    engine_overrides,
    fail,
    open_warehouse,
)

__all__ = ["app", "evaluate", "recapture"]

app = typer.Typer(
    help="Churn: BG/NBD P(alive) and the ChurnModel, evaluated on held-out periods.",
    no_args_is_help=True,
)

WAREHOUSE_OPTION = typer.Option(
    None, "--warehouse", "-w", help="DuckDB warehouse file (default: the `warehouse_path` setting)."
)


def _settings(
    warehouse: Path | None,
    ctx: typer.Context | None = None,
    engine: EngineName | None = None,
    parquet_dir: str | None = None,
):
    from smsanalytics.settings import SettingsError, load_settings

    try:
        overrides = engine_overrides(ctx, engine, parquet_dir)
        return load_settings(warehouse_path=warehouse, **overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} must be a date like 2026-06-30, got {text!r}") from None


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    warehouse: Path | None = WAREHOUSE_OPTION,
    cutoff: str | None = typer.Option(
        None,
        "--cutoff",
        help="Start of the held-out window (default: end of the data minus the horizon).",
    ),
    horizon_days: int = typer.Option(90, "--horizon-days", min=7, help="Churn horizon H in days."),
    require_no_click: bool = typer.Option(
        False, "--require-no-click", help="A human click in the window also counts as activity."
    ),
    online_retail: bool = typer.Option(
        False, "--online-retail", help="Also evaluate on the vendored UCI Online Retail orders."
    ),
    skip_warehouse: bool = typer.Option(
        False, "--skip-warehouse", help="Do not evaluate on the warehouse."
    ),
    engine: EngineName | None = ENGINE_OPTION,
    parquet_dir: str | None = PARQUET_DIR_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """AUC, Brier and calibration of BG/NBD (1 − P(alive), P(no order in H)) vs the ChurnModel."""
    from smsanalytics.churn import evaluate_churn, evaluate_online_retail
    from smsanalytics.warehouse import WarehouseError

    results = []
    if not skip_warehouse:
        settings = _settings(warehouse, ctx, engine, parquet_dir)
        with open_warehouse(settings) as wh:
            console.print(f"evaluating churn models on {settings.warehouse_path} …")
            try:
                ev = evaluate_churn(
                    wh,
                    cutoff=_date(cutoff, "--cutoff"),
                    horizon_days=horizon_days,
                    require_no_click=require_no_click,
                    dataset=str(settings.warehouse_path),
                )
            except (ValueError, WarehouseError) as exc:
                raise fail(str(exc)) from None
        results.append(ev.summary())
    if online_retail:
        console.print("evaluating churn models on Online Retail …")
        try:
            results.append(evaluate_online_retail(horizon_days=horizon_days).summary())
        except (FileNotFoundError, ValueError) as exc:
            raise fail(str(exc)) from None
    if not results:
        raise fail("nothing to evaluate: drop --skip-warehouse or add --online-retail")
    if json_out:
        emit({"evaluations": results}, True)
        return
    _print_tables(results)


def _print_tables(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    for r in results:
        t = Table(
            title=f"{r['dataset']}: cutoff {r['cutoff']:%Y-%m-%d}, H = {r['horizon_days']} d, "
            f"{r['n_test']:,} buyers, churn {r['churn_rate_test']:.1%}"
        )
        for col in ("model", "label", "AUC", "Brier", "log loss", "ECE"):
            t.add_column(col, justify="left" if col in ("model", "label") else "right")
        for row in r["table"]:
            t.add_row(
                row["model"],
                row["label"],
                f"{row['auc']:.3f}",
                f"{row['brier']:.3f}",
                f"{row['log_loss']:.3f}",
                f"{row['ece']:.3f}",
            )
        out.print(t)


def recapture(
    ctx: typer.Context,
    as_of: str = typer.Option(
        ..., "--as-of", help="Decision date (features use events before it)."
    ),
    top: int | None = typer.Option(None, "--top", "-n", min=1, help="Keep the best N contacts."),
    warehouse: Path | None = WAREHOUSE_OPTION,
    segments: int | None = typer.Option(
        None, "--segments", min=1, help="SMS segments per message (default 1)."
    ),
    message: str | None = typer.Option(
        None, "--message", help="Message text (its segments are counted)."
    ),
    holdout_share: float | None = typer.Option(
        None,
        "--holdout-share",
        min=0.0,
        max=0.95,
        help="Control share (default: smallest powered share).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Write the ranked list (one row per contact) to this .csv or .parquet file.",
    ),
    engine: EngineName | None = ENGINE_OPTION,
    parquet_dir: str | None = PARQUET_DIR_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Rank at-risk and lapsed contacts by uplift × expected order value − message cost."""
    from smsanalytics.recapture import recapture_candidates
    from smsanalytics.warehouse import WarehouseError

    day = _date(as_of, "--as-of")
    settings = _settings(warehouse, ctx, engine, parquet_dir)
    with open_warehouse(settings) as wh:
        console.print(f"ranking recapture candidates at {day} …")
        try:
            result = recapture_candidates(
                wh,
                as_of=day,
                top=top,
                settings=settings,
                message=message,
                segments=segments,
                holdout_share=holdout_share,
            )
        except (ValueError, WarehouseError) as exc:
            raise fail(str(exc)) from None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            result.candidates.write_parquet(out)
        elif out.suffix == ".csv":
            result.candidates.write_csv(out)
        else:
            raise fail(f"--out must end in .csv or .parquet, got {out.name!r}")
    summary = dict(result.summary)
    summary["holdout_size"] = summary["holdout"]
    if out is not None:
        summary["out"] = out
    emit(summary, json_out, title="recapture candidates")
