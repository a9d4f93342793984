"""``smsanalytics ab``: design an A/B test, read it out, and show why peeking needs care."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from smsanalytics.cli.common import JSON_OPTION, emit, fail

app = typer.Typer(help="A/B tests: design, readout.", no_args_is_help=True)

_out = Console()

#: Warehouse used by ``readout --campaign`` unless ``--warehouse`` or ``$SMSANALYTICS_WAREHOUSE``.
DEFAULT_WAREHOUSE = Path("data/demo/warehouse.duckdb")
CSV_METRICS = ("conversion", "revenue")
WAREHOUSE_METRICS = ("conversion", "revenue", "click", "optout", "delivery")

STATS_CSV_HELP = (
    "CSV with one row per arm: variant, n, conversions [, revenue_sum, revenue_sumsq] "
    "[, pre_sum, pre_sumsq, conversions_x_pre | revenue_x_pre for CUPED]. "
    "The first row is the control unless --control names another."
)
WEIGHTS_HELP = (
    "Configured split for the SRM check: 'A=0.5,B=0.5' or '50,50' in row order "
    "(default: equal, or the campaign's holdout share for --campaign)."
)


def _parse_weights(text: str | None) -> dict[str, float] | list[float] | None:
    """``"A=0.5,B=0.5"`` -> mapping, ``"50,25,25"`` -> list, ``None`` -> ``None``."""
    if text is None or text.strip() == "":
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all("=" in p for p in parts):
            return {k.strip(): float(v) for k, v in (p.split("=", 1) for p in parts)}
        return [float(p) for p in parts]
    except ValueError:
        raise fail(f"--weights must look like 'A=0.5,B=0.5' or '50,25,25', got {text!r}") from None


@app.command()
def design(
    baseline_rate: Annotated[
        float | None, typer.Option("--baseline-rate", help="Control conversion rate, e.g. 0.03.")
    ] = None,
    baseline_mean: Annotated[
        float | None,
        typer.Option(
            "--baseline-mean", help="Control mean (revenue per message) instead of a rate."
        ),
    ] = None,
    std: Annotated[
        float | None,
        typer.Option("--std", help="Per-unit standard deviation (with --baseline-mean)."),
    ] = None,
    mde: Annotated[
        float | None,
        typer.Option(
            "--mde", help="Minimum detectable effect (see --mde-type); or give --n-total."
        ),
    ] = None,
    mde_type: Annotated[
        str, typer.Option("--mde-type", help="relative (0.1 = +10 % of baseline) or absolute.")
    ] = "relative",
    n_total: Annotated[
        int | None,
        typer.Option("--n-total", help="Total units available: compute the MDE instead."),
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Family-wise significance level.")] = 0.05,
    power: Annotated[float, typer.Option("--power", help="Target power of each comparison.")] = 0.8,
    arms: Annotated[int, typer.Option("--arms", help="Number of arms, control included.")] = 2,
    weights: Annotated[
        str | None, typer.Option("--weights", help="Allocation, control first, e.g. '50,25,25'.")
    ] = None,
    alternative: Annotated[
        str, typer.Option("--alternative", help="two-sided, larger or smaller.")
    ] = "two-sided",
    method: Annotated[
        str | None,
        typer.Option(
            "--method", help="rates: normal (default) or arcsine; means: t (default) or normal."
        ),
    ] = None,
    correction: Annotated[
        str, typer.Option("--correction", help="bonferroni (alpha split over comparisons) or none.")
    ] = "bonferroni",
    as_json: bool = JSON_OPTION,
) -> None:
    """Sample size per arm (or the MDE for a given size) for a conversion rate or a mean."""
    from smsanalytics.experiments import design as d

    parsed = _parse_weights(weights)
    if isinstance(parsed, dict):
        raise fail("--weights for design is a list in arm order, control first, e.g. '50,25,25'")
    if (baseline_rate is None) == (baseline_mean is None):
        raise fail(
            "give exactly one of --baseline-rate (conversion) or --baseline-mean (with --std)"
        )
    if (mde is None) == (n_total is None):
        raise fail(
            "give exactly one of --mde (to get the sample size) or --n-total (to get the MDE)"
        )
    common: dict[str, Any] = {
        "alpha": alpha,
        "power": power,
        "arms": arms,
        "weights": parsed,
        "alternative": alternative,
        "correction": correction,
    }
    try:
        if baseline_rate is not None:
            m = method or "normal"
            if mde is not None:
                result = d.sample_size_proportion(
                    baseline_rate, mde, mde_type=mde_type, method=m, **common
                )
            else:
                result = d.mde_proportion(baseline_rate, n_total, method=m, **common)
        else:
            if std is None:
                raise fail("--baseline-mean needs --std, the per-unit standard deviation")
            m = method or "t"
            if mde is not None:
                result = d.sample_size_mean(
                    baseline_mean, std, mde, mde_type=mde_type, method=m, **common
                )
            else:
                result = d.mde_mean(baseline_mean, std, n_total, method=m, **common)
    except ValueError as exc:
        raise fail(str(exc)) from None
    emit(result, as_json, title="A/B test design")


def _open_warehouse(path: Path) -> Any:
    if not path.exists():
        raise fail(
            f"warehouse file {str(path)!r} not found; pass --warehouse PATH or build it first"
        )
    try:
        from smsanalytics.warehouse import Warehouse
    except ImportError:  # pragma: no cover - the warehouse module ships with the package
        import duckdb

        return duckdb.connect(str(path), read_only=True)
    return Warehouse(path, read_only=True)


def _stats_from_csv(path: Path, metric: str) -> dict[str, Any]:
    from smsanalytics.experiments import statistics_from_frame

    if not path.exists():
        raise fail(f"stats file {str(path)!r} not found")
    try:
        frame = pl.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - polars raises several error types for bad CSV
        raise fail(f"cannot read {str(path)!r} as CSV: {exc}") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    if metric == "conversion":
        sum_col, sumsq_col, cross = "conversions", None, "conversions_x_pre"
    else:
        sum_col, sumsq_col, cross = "revenue_sum", "revenue_sumsq", "revenue_x_pre"
    has_cuped = all(c in frame.columns for c in ("pre_sum", "pre_sumsq", cross))
    try:
        return statistics_from_frame(
            frame,
            sum_column=sum_col,
            sum_squares_column=sumsq_col,
            pre_sum_column="pre_sum" if has_cuped else None,
            pre_sum_squares_column="pre_sumsq" if has_cuped else None,
            cross_column=cross if has_cuped else None,
        )
    except ValueError as exc:
        raise fail(f"{path}: {exc}") from None


def _print_readout(result: Any) -> None:
    style = "bold red" if result.srm_mismatch else "green"
    _out.print(
        f"[{style}]SRM check: p = {result.srm_p_value:.4g} "
        f"({'MISMATCH' if result.srm_mismatch else 'ok'}; observed {list(result.srm.observed)}, "
        f"configured shares {[round(w, 4) for w in result.srm.weights]})[/{style}]"
    )
    for w in result.warnings:
        _out.print(f"[yellow]warning:[/yellow] {w}")
    table = Table(
        title=(
            f"{result.method} readout vs {result.control} "
            f"(n={result.control_n}, rate={result.control_rate:.5g})"
        )
    )
    columns = ("variant", "n", "rate", "lift_abs", "lift_rel", "ci_low", "ci_high")
    for col in (*columns, "p_value", "p_adj", "P(beat)"):
        table.add_column(col)

    def f(x: float | None, spec: str = ".4g") -> str:
        return "—" if x is None else format(x, spec)

    for a in result.arms:
        table.add_row(
            a.variant,
            str(a.n),
            f(a.rate),
            f(a.lift_abs),
            f(a.lift_rel, ".2%"),
            f(a.ci_low),
            f(a.ci_high),
            f(a.p_value),
            f(a.p_value_adjusted),
            f(a.chance_to_beat_control, ".3f"),
        )
    _out.print(table)
    _out.print(
        f"intervals: {result.difference_type} lift; correction: {result.correction}; "
        f"CUPED: {result.cuped}"
    )


@app.command()
def readout(
    stats_csv: Annotated[Path | None, typer.Argument(help=STATS_CSV_HELP)] = None,
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="Read this campaign's arms from the warehouse.")
    ] = None,
    control: Annotated[
        str | None, typer.Option("--control", help="Name of the control arm.")
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="frequentist, bayesian or sequential.")
    ] = "frequentist",
    metric: Annotated[
        str,
        typer.Option(
            "--metric", help="conversion or revenue; also click, optout, delivery (warehouse)."
        ),
    ] = "conversion",
    weights: Annotated[str | None, typer.Option("--weights", help=WEIGHTS_HELP)] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Significance level; intervals 1 - alpha.")
    ] = 0.05,
    correction: Annotated[
        str, typer.Option("--correction", help="holm, bh, bonferroni or none.")
    ] = "holm",
    difference_type: Annotated[
        str, typer.Option("--difference", help="Lift of ci_low/ci_high: relative or absolute.")
    ] = "relative",
    cuped: Annotated[
        bool, typer.Option("--cuped/--no-cuped", help="Use CUPED when covariate sums are present.")
    ] = True,
    srm_threshold: Annotated[
        float, typer.Option("--srm-threshold", help="Flag SRM below this p-value.")
    ] = 0.001,
    tuning_n: Annotated[
        float,
        typer.Option("--tuning-n", help="Sequential: total n where the sequence is tightest."),
    ] = 5000,
    attribution_days: Annotated[
        int, typer.Option("--attribution-days", help="Warehouse: outcome window, in days.")
    ] = 7,
    pre_period_days: Annotated[
        int, typer.Option("--pre-period-days", help="Warehouse: CUPED pre-period, in days.")
    ] = 30,
    warehouse: Annotated[
        Path | None,
        typer.Option(
            "--warehouse",
            help="Warehouse file (default $SMSANALYTICS_WAREHOUSE or data/demo/warehouse.duckdb).",
        ),
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Read out an A/B test: the SRM check first, then each arm against the control."""
    from smsanalytics.experiments import readout as run_readout
    from smsanalytics.experiments.warehouse_stats import (
        arm_stats_from_warehouse,
        configured_weights,
    )

    if (stats_csv is None) == (campaign is None):
        raise fail("give either STATS.csv or --campaign ID (not both)")
    if method not in ("frequentist", "bayesian", "sequential"):
        raise fail(f"--method must be frequentist, bayesian or sequential, got {method!r}")
    parsed = _parse_weights(weights)
    if stats_csv is not None:
        if metric not in CSV_METRICS:
            raise fail(f"--metric for a CSV must be one of {list(CSV_METRICS)}, got {metric!r}")
        arms = _stats_from_csv(stats_csv, metric)
    else:
        if metric not in WAREHOUSE_METRICS:
            raise fail(f"--metric must be one of {list(WAREHOUSE_METRICS)}, got {metric!r}")
        path = warehouse or Path(os.environ.get("SMSANALYTICS_WAREHOUSE", str(DEFAULT_WAREHOUSE)))
        wh = _open_warehouse(path)
        try:
            arms = arm_stats_from_warehouse(
                wh,
                campaign,
                attribution_days=attribution_days,
                pre_period_days=pre_period_days,
                metric=metric,  # type: ignore[arg-type]
                covariate="auto" if cuped else None,
            )
            if parsed is None:
                parsed = configured_weights(wh, campaign, list(arms))  # type: ignore[arg-type]
        except ValueError as exc:
            raise fail(str(exc)) from None
        if control is None and "control" in arms:
            control = "control"
    try:
        result = run_readout(
            arms,
            control=control,
            method=method,  # type: ignore[arg-type]
            weights=parsed,
            alpha=alpha,
            correction=correction,  # type: ignore[arg-type]
            difference_type=difference_type,  # type: ignore[arg-type]
            cuped=cuped,
            srm_threshold=srm_threshold,
            tuning_n=tuning_n,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    if as_json:
        emit(result, True)
    else:
        _print_readout(result)


@app.command("simulate-peeking")
def simulate_peeking(
    n_sims: Annotated[int, typer.Option("--n-sims", help="Simulated experiments.")] = 20_000,
    days: Annotated[int, typer.Option("--days", help="Daily looks per experiment.")] = 28,
    daily_n_per_arm: Annotated[
        int, typer.Option("--daily-n", help="New contacts per arm per day.")
    ] = 500,
    baseline_rate: Annotated[
        float, typer.Option("--baseline-rate", help="Conversion rate of both arms.")
    ] = 0.05,
    relative_effect: Annotated[
        float, typer.Option("--effect", help="True relative lift of the treatment (0 = A/A).")
    ] = 0.0,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 20240601,
    as_json: bool = JSON_OPTION,
) -> None:
    """Seeded A/A simulation: false-positive rate of daily peeking, naive versus sequential."""
    from smsanalytics.experiments import simulate_aa_peeking

    try:
        result = simulate_aa_peeking(
            n_sims=n_sims,
            days=days,
            daily_n_per_arm=daily_n_per_arm,
            baseline_rate=baseline_rate,
            relative_effect=relative_effect,
            alpha=alpha,
            seed=seed,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    emit(result, as_json, title="Daily peeking simulation")
