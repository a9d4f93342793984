"""``smsanalytics sendtime``: evaluate the send-time model, and plan send windows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from smsanalytics.cli.common import JSON_OPTION, console, emit, fail

WAREHOUSE_OPTION = typer.Option(
    None, "--warehouse", "-w", help="DuckDB warehouse (default: the warehouse_path setting)."
)
OUT_OPTION = typer.Option(
    None, "--out", "-o", help="Write the per-contact windows to this Parquet file."
)

app = typer.Typer(
    help="Best send time per contact: evaluate the model against ground truth, plan send windows.",
    no_args_is_help=True,
)


@app.command()
def evaluate(
    contacts: int = typer.Option(10_000, "--contacts", "-n", min=500, help="Contacts to generate."),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the generated programme (and of the bootstrap)."
    ),
    months: int = typer.Option(
        12, "--months", min=3, max=36, help="Months of history to generate."
    ),
    holdout_days: int = typer.Option(
        60,
        "--holdout-days",
        min=7,
        max=180,
        help="Days after the cut-off scored against the truth.",
    ),
    n_boot: int = typer.Option(
        1000, "--n-boot", min=50, max=10_000, help="Contact-bootstrap replicates."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Generate a programme with ground truth, fit on its history, score five send-time strategies.

    Prints the expected click rate of the later sends if each had gone out at a random allowed
    hour, the global best hour, the contact's naive argmax of past clicks, the model's hour and
    the oracle's hour, with 95 % contact-bootstrap intervals, the lifts and the share of the
    oracle's gain captured.
    """
    from smsanalytics.sendtime import evaluate_programme
    from smsanalytics.synth import generate_programme

    console.print(f"generating {contacts:,} contacts over {months} months (seed {seed}) …")
    programme = generate_programme(contacts, months=months, seed=seed)
    console.print("fitting on the history and scoring against the truth …")
    result = evaluate_programme(programme, holdout_days=holdout_days, n_boot=n_boot, seed=seed)
    emit(result.to_dict(), json_out, title="send-time evaluation")


def _history(
    warehouse: Path | None,
    synthetic: int | None,
    seed: int,
    as_of: dt.datetime | None,
    ctx: typer.Context | None = None,
) -> tuple[Any, Any, dt.datetime]:
    """(sends, contacts, as_of) from the warehouse or a generated programme."""
    import polars as pl

    if synthetic:
        from smsanalytics.sendtime import label_responses
        from smsanalytics.synth import generate_programme

        prog = generate_programme(synthetic, seed=seed)
        at = as_of or prog.as_of
        sends = label_responses(
            prog.messages.filter(pl.col("sent_at") < at),
            prog.clicks.filter(pl.col("clicked_at") < at),
            receipts=prog.receipts.filter(pl.col("status_at") < at),
        )
        contacts = prog.contacts.filter(pl.col("signup_at") < at).with_columns(
            (pl.col("opted_out_at") < at).fill_null(False).alias("is_opted_out")
        )
        return sends, contacts, at
    from smsanalytics.cli.common import engine_overrides
    from smsanalytics.sendtime.history import load_send_history
    from smsanalytics.settings import SettingsError, load_settings
    from smsanalytics.warehouse import Warehouse, WarehouseError

    try:
        settings = load_settings(**engine_overrides(ctx, None, None))  # `smsanalytics --engine …`
    except SettingsError as exc:
        raise fail(str(exc)) from None
    path = warehouse or settings.warehouse_path
    spark = settings.engine == "spark"
    try:
        with Warehouse(
            path,
            read_only=True,
            engine=settings.engine,
            parquet_dir=settings.parquet_dir if spark else None,
        ) as wh:
            at = as_of or (
                wh.con.execute("SELECT max(sent_at) FROM messages").fetchall()[0][0]
                or dt.datetime.now(dt.UTC)
            ) + dt.timedelta(microseconds=1)
            sends, contacts = load_send_history(wh, as_of=at)
    except WarehouseError as exc:
        raise fail(f"{exc} (or use --synthetic N to plan on generated data)") from None
    return sends, contacts, at


@app.command()
def windows(
    ctx: typer.Context,
    date: str = typer.Option(
        ..., "--date", "-d", help="Campaign date (YYYY-MM-DD, each contact's local calendar)."
    ),
    days: int = typer.Option(
        1, "--days", min=1, max=31, help="Number of days from --date the windows may fall on."
    ),
    window_minutes: int = typer.Option(
        60, "--window-minutes", min=5, max=720, help="Length of each send window."
    ),
    start: str = typer.Option("08:00", "--start", help="Allowed local time from (HH:MM)."),
    end: str = typer.Option("20:00", "--end", help="Allowed local time until (HH:MM, exclusive)."),
    control_share: float = typer.Option(
        0.0,
        "--control-share",
        min=0.0,
        max=0.9,
        help="Share of contacts in a random-time control arm.",
    ),
    warehouse: Path | None = WAREHOUSE_OPTION,
    synthetic: int | None = typer.Option(
        None,
        "--synthetic",
        min=500,
        help="Use a generated programme of this many contacts instead of a warehouse.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of --synthetic."),
    out: Path | None = OUT_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Fit on the whole history and print the distribution of the best send windows on a date."""
    import polars as pl

    from smsanalytics.sendtime import AllowedHours, SendTimeError, SendTimeModel

    try:
        campaign = dt.date.fromisoformat(date)
        rule = AllowedHours(start, end)
    except (ValueError, SendTimeError) as exc:
        raise fail(str(exc)) from None
    sends, contacts, at = _history(warehouse, synthetic, seed, None, ctx)
    audience = (
        contacts.filter(~pl.col("is_opted_out")) if "is_opted_out" in contacts.columns else contacts
    )
    try:
        model = SendTimeModel().fit(sends, contacts=contacts)
        last = campaign + dt.timedelta(days=days - 1)
        result = model.predict_windows(
            audience,
            (campaign, last),
            window_minutes=window_minutes,
            quiet_hours=rule,
            control_share=control_share,
        )
    except SendTimeError as exc:
        raise fail(str(exc)) from None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        result.write_parquet(out)
    placed = result.filter(pl.col("start_at").is_not_null())
    by_hour = (
        placed.group_by(pl.col("local_start").dt.hour().alias("local_hour"))
        .len()
        .sort("local_hour")
    )
    by_date = placed.group_by("local_date").len().sort("local_date")
    summary = {
        "date": campaign.isoformat(),
        "days": days,
        "as_of": at.isoformat(),
        "window_minutes": window_minutes,
        "allowed_hours": [start, end],
        "contacts": result.height,
        "with_window": placed.height,
        "without_window": dict(
            result.filter(pl.col("reason").is_not_null()).group_by("reason").len().iter_rows()
        ),
        "by_local_hour": {str(h): n for h, n in by_hour.iter_rows()},
        "by_local_date": {d.isoformat(): n for d, n in by_date.iter_rows()},
        "by_level": dict(placed.group_by("level").len().sort("level").iter_rows()),
        "by_policy": dict(
            placed.group_by("send_time_policy").len().sort("send_time_policy").iter_rows()
        ),
        "mean_score": placed["score"].mean(),
        "hyperparameters": model.hyperparameters_,
        "out": str(out) if out else None,
    }
    emit(summary, json_out, title=f"send windows on {campaign.isoformat()}")
