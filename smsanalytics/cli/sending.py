"""Sending verbs: ``plan``, ``send`` and the ``receipts`` group (``receipts serve``).

The lead registers them: ``app.command("plan")(plan)``, ``app.command("send")(send)`` and
``app.add_typer(receipts_app, name="receipts")``.
"""

from __future__ import annotations

import datetime as dt
import errno
import time
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

__all__ = ["plan", "send", "receipts_app", "serve"]

UTC = dt.UTC

receipts_app = typer.Typer(
    help="Delivery receipts: run the endpoint that Kannel/Twilio call back.",
    no_args_is_help=True,
)

_WAREHOUSE = typer.Option(
    None, "--warehouse", "-w", help="DuckDB warehouse file (default: the `warehouse_path` setting)."
)
_NOW = typer.Option(
    None,
    "--now",
    help="Act as if it were this UTC instant (ISO 8601), for replays and tests; default: now.",
)


def _settings(**overrides):
    from smsanalytics.settings import SettingsError, load_settings

    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None


def _instant(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"--now {text!r} is not an ISO 8601 instant such as 2026-12-01T09:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise fail(f"--now {text!r} needs a UTC offset (…Z or +01:00)")
    return value.astimezone(UTC)


def _duration(text: str) -> dt.timedelta:
    from smsanalytics.plan import PlanError, _duration

    try:
        return _duration(text, "--ahead") if text not in ("0", "") else dt.timedelta(0)
    except PlanError as exc:
        raise fail(str(exc)) from None


def plan(
    ctx: typer.Context,
    campaign_file: Path = typer.Argument(
        ..., help="Campaign file (TOML): audience, template or variants, window, rules, experiment."
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Plan directory to write (plan.parquet, exclusions.parquet, manifest.json …).",
    ),
    warehouse: Path | None = _WAREHOUSE,
    formats: str = typer.Option(
        "parquet,csv,jsonl", "--formats", help="Exports besides plan.parquet: csv, jsonl."
    ),
    reserve: bool = typer.Option(
        True,
        "--reserve/--no-reserve",
        help="Record the plan's windows in the warehouse (other campaigns count them in caps).",
    ),
    now: str | None = _NOW,
    engine: EngineName | None = ENGINE_OPTION,
    parquet_dir: str | None = PARQUET_DIR_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Plan a campaign: who gets which text when, who is excluded and why; print the manifest.

    With --engine spark the audience's features run on Spark; the plan, its exclusions and the
    reservation use the warehouse file.
    """
    from smsanalytics.adapters.ledger import reserve_plan
    from smsanalytics.compliance import ComplianceError
    from smsanalytics.plan import PlanError, load_campaign, plan_campaign, write_plan
    from smsanalytics.warehouse import WarehouseError

    settings = _settings(warehouse_path=warehouse, **engine_overrides(ctx, engine, parquet_dir))
    if not settings.warehouse_path.is_file():
        raise fail(
            f"warehouse {str(settings.warehouse_path)!r} does not exist; run `smsanalytics demo` "
            "or ingest first"
        )
    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    try:
        campaign = load_campaign(campaign_file)
        with open_warehouse(settings, read_only=False) as wh:
            result = plan_campaign(campaign, warehouse=wh, settings=settings, now=_instant(now))
            write_plan(result, out, formats=["parquet", *wanted])
            if reserve:
                reserve_plan(wh, result)
    except (PlanError, ComplianceError, WarehouseError) as exc:
        raise fail(str(exc)) from None
    console.print(
        f"plan written to {out}: {result.manifest['counts']['planned']:,} messages, "
        f"{result.manifest['counts']['excluded']:,} excluded"
    )
    emit(result.manifest, json_out, title=f"plan {result.manifest['plan_id']}")


def send(
    plan_dir: Path = typer.Argument(..., help="Plan directory written by `smsanalytics plan`."),
    adapter: str = typer.Option(
        "outbox", "--adapter", "-a", help="outbox (files under DIR/outbox/), kannel or twilio."
    ),
    rate: float | None = typer.Option(
        None, "--rate", min=0.001, help="At most N messages per second."
    ),
    warehouse: Path | None = _WAREHOUSE,
    no_warehouse: bool = typer.Option(
        False,
        "--no-warehouse",
        help="Do not read late opt-outs nor record messages in the warehouse.",
    ),
    ahead: str = typer.Option(
        "0",
        "--ahead",
        help="Also hand over windows opening within this duration (+6h, +3d) (twilio, outbox).",
    ),
    now: str | None = _NOW,
    kannel_url: str = typer.Option(
        "http://127.0.0.1:13013/cgi-bin/sendsms",
        "--kannel-url",
        envvar="SMSANALYTICS_KANNEL_URL",
        help="Kannel sendsms URL.",
    ),
    kannel_user: str | None = typer.Option(
        None, "--kannel-user", envvar="SMSANALYTICS_KANNEL_USER"
    ),
    kannel_password: str | None = typer.Option(
        None, "--kannel-password", envvar="SMSANALYTICS_KANNEL_PASSWORD"
    ),
    receipt_host: str = typer.Option(
        "127.0.0.1", "--receipt-host", help="Where the receipt endpoint listens."
    ),
    receipt_port: int = typer.Option(
        13080,
        "--receipt-port",
        help="Receipt endpoint port; keep it fixed (after a crash Kannel retries reports there).",
    ),
    receipt_url: str | None = typer.Option(
        None,
        "--receipt-url",
        help="Public base URL of the receipt endpoint, when the gateway reaches it elsewhere.",
    ),
    twilio_base_url: str = typer.Option(
        "https://api.twilio.com", "--twilio-base-url", envvar="SMSANALYTICS_TWILIO_BASE_URL"
    ),
    twilio_account_sid: str | None = typer.Option(
        None, "--twilio-account-sid", envvar="TWILIO_ACCOUNT_SID"
    ),
    twilio_auth_token: str | None = typer.Option(
        None, "--twilio-auth-token", envvar="TWILIO_AUTH_TOKEN"
    ),
    twilio_from: str | None = typer.Option(
        None, "--twilio-from", envvar="SMSANALYTICS_TWILIO_FROM"
    ),
    twilio_service: str | None = typer.Option(
        None, "--twilio-messaging-service", envvar="SMSANALYTICS_TWILIO_MESSAGING_SERVICE_SID"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Send the due messages of a plan exactly once; print sent, skipped and failed counts."""
    from smsanalytics.adapters import ADAPTERS, PlanRefusedError, get_adapter, send_plan
    from smsanalytics.adapters.ledger import LedgerError

    if adapter not in ADAPTERS:
        raise fail(f"unknown adapter {adapter!r}; use one of {', '.join(ADAPTERS)}")
    settings = _settings(warehouse_path=warehouse)
    options: dict = {}
    if adapter == "kannel":
        if not (kannel_user and kannel_password):
            raise fail(
                "kannel needs --kannel-user and --kannel-password (or "
                "SMSANALYTICS_KANNEL_USER/PASSWORD)"
            )
        options = {
            "url": kannel_url,
            "username": kannel_user,
            "password": kannel_password,
            "receipt_host": receipt_host,
            "receipt_port": receipt_port,
            "receipt_url": receipt_url,
        }
    elif adapter == "twilio":
        if not (twilio_account_sid and twilio_auth_token):
            raise fail(
                "twilio needs --twilio-account-sid and --twilio-auth-token (or "
                "TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN)"
            )
        options = {
            "account_sid": twilio_account_sid,
            "auth_token": twilio_auth_token,
            "base_url": twilio_base_url,
            "from_": twilio_from,
            "messaging_service_sid": twilio_service,
            "status_callback": receipt_url,
            "serve_receipts": receipt_url is None,
            "receipt_host": receipt_host,
            "receipt_port": receipt_port,
        }
    wh = None
    if not no_warehouse:
        if not settings.warehouse_path.is_file():
            raise fail(
                f"warehouse {str(settings.warehouse_path)!r} does not exist; pass --warehouse, or "
                "--no-warehouse "
                "to send without the late opt-out check and without recording messages"
            )
        wh = settings.warehouse_path
    try:
        chosen = get_adapter(adapter, **options)
        at = _instant(now)
        report = send_plan(
            plan_dir,
            chosen,
            warehouse=wh,
            rules_file=settings.compliance_rules,
            now=at,
            ahead=_duration(ahead),
            rate=rate,
            clock=(lambda: at) if at is not None else None,
        )
    except (PlanRefusedError, LedgerError, ValueError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise fail(f"receipt port {receipt_port} is in use; pass --receipt-port") from None
        raise
    emit(
        {
            "plan_id": report.plan_id,
            "campaign_id": report.campaign_id,
            "adapter": report.adapter,
            "sent": report.sent,
            "skipped": report.skipped,
            "failed": report.failed,
            "pending": report.pending,
            "expired": report.expired,
            "dropped": report.dropped,
            "in_doubt": report.in_doubt,
            "states": report.states,
            "statuses": report.statuses,
            "warehouse": report.warehouse,
        },
        json_out,
        title=f"sent with {adapter}",
    )


@receipts_app.command("serve")
def serve(
    plan_dir: Path = typer.Argument(..., help="Plan directory whose ledger records the receipts."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to listen on (loopback by default)."
    ),
    port: int = typer.Option(13080, "--port", help="Port (0: any free port)."),
    warehouse: Path | None = _WAREHOUSE,
    no_warehouse: bool = typer.Option(False, "--no-warehouse", help="Only record in the ledger."),
    sync_every: float = typer.Option(
        30.0,
        "--sync-every",
        min=0.5,
        help="Seconds between writes of new receipts to the warehouse.",
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="Stop after this many seconds (default: until Ctrl-C)."
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Run the receipt endpoint of a plan (Kannel dlr-url /kannel, Twilio callbacks /twilio)."""
    from smsanalytics.adapters import Ledger, ReceiptServer, sync_to_warehouse
    from smsanalytics.warehouse import Warehouse, WarehouseError

    if not (plan_dir / "manifest.json").is_file():
        raise fail(f"{plan_dir} is not a plan directory (no manifest.json)")
    settings = _settings(warehouse_path=warehouse)
    ledger = Ledger(plan_dir)
    server = ReceiptServer(ledger, host=host, port=port).start()
    console.print(f"receipts endpoint at {server.url} (/kannel, /twilio); Ctrl-C to stop")
    synced = {"messages": 0, "receipts": 0}

    def sync() -> None:
        if no_warehouse or not settings.warehouse_path.is_file():
            return
        try:  # the warehouse may be held by a `send` in progress: try again later
            with Warehouse(settings.warehouse_path) as wh:
                result = sync_to_warehouse(ledger, wh, plan_dir=plan_dir)
        except (WarehouseError, OSError) as exc:
            console.print(f"[dim]warehouse busy, will retry: {exc}[/dim]")
            return
        except (
            Exception
        ) as exc:  # duckdb raises its own IOException when another process holds the file
            if "lock" not in str(exc).lower():
                raise
            return
        synced["messages"] += result.messages
        synced["receipts"] += result.receipts

    start = time.monotonic()
    last_sync = start
    try:
        while duration is None or time.monotonic() - start < duration:
            time.sleep(0.1)
            if time.monotonic() - last_sync >= sync_every:
                sync()
                last_sync = time.monotonic()
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        server.stop()
        sync()
        counts = dict(server.counts)
        ledger.close()
    emit({"url": server.url, "received": counts, "warehouse": synced}, json_out, title="receipts")
