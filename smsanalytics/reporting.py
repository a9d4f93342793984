"""What every notebook calls first: offline-safe charts, table display, privacy, the warehouse.

:func:`setup_notebook` makes a notebook render the same in JupyterLab, under papermill and in the
HTML reports, with no network:

- **charts** are rendered to SVG by vl-convert in the kernel (``alt.renderers.enable("svg")``):
  the output is a static ``image/svg+xml`` image, drawn by any browser with no JavaScript and no
  CDN. Altair's default renderer and its ``jupyter`` offline mode load the vega libraries from a
  CDN when the page is opened, and show nothing offline (``docs/reports.md`` has the
  measurements);
- **tables** (polars frames) show at most ``max_rows`` rows;
- **privacy**: a frame with a phone-number column (:data:`smsanalytics.schemas.PHONE_COLUMNS`,
  or any column named like ``phone``) or with E.164-looking values is *not displayed*; a notice
  takes its place. :func:`check_no_phone_numbers` raises instead, for code paths that export.

The other helpers turn notebook parameters (scalars, empty string = default) into objects:
:func:`open_warehouse`, :func:`report_period`, :func:`project_path`; :func:`kpi_table` formats a
KPI frame for reading; :func:`environment` is the last cell of every notebook.
"""

from __future__ import annotations

import datetime as dt
import html
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from smsanalytics.schemas import PHONE_COLUMNS
from smsanalytics.warehouse import Warehouse, WarehouseError

__all__ = [
    "PrivacyError",
    "ReportPeriod",
    "check_no_phone_numbers",
    "environment",
    "export_plan",
    "frame_html",
    "kpi_table",
    "open_warehouse",
    "package_version",
    "plan_summary",
    "planning_instant",
    "project_path",
    "report_period",
    "setup_notebook",
    "warehouse_overview",
]

#: A cell value that looks like an E.164 phone number (``+`` and 8-15 digits, separators allowed).
E164_VALUE: Final = r"^\s*\+[1-9](?:[ .()-]{0,2}\d){7,14}\s*$"
_PHONE_NAME: Final = re.compile(r"phone|msisdn|mobile_number", re.IGNORECASE)
_SCAN_ROWS = 1000


class PrivacyError(ValueError):
    """A frame about to be shown or exported holds phone numbers."""


# -- privacy ---------------------------------------------------------------------------------------
def _phone_problem(frame: pl.DataFrame) -> str | None:
    """Why ``frame`` must not be shown (``None`` when it may)."""
    known = {c for cols in PHONE_COLUMNS.values() for c in cols}
    named = [c for c in frame.columns if c in known or _PHONE_NAME.search(c)]
    if named:
        return f"column(s) {named} hold phone numbers"
    head = frame.head(_SCAN_ROWS)
    for name, dtype in head.schema.items():
        if dtype == pl.String:
            values = head[name].drop_nulls()
            if values.len() and values.str.contains(E164_VALUE).any():
                return f"column {name!r} holds values that look like phone numbers"
    return None


def check_no_phone_numbers(frame: pl.DataFrame, *, where: str = "frame") -> pl.DataFrame:
    """Return ``frame`` unchanged, or raise :class:`PrivacyError` when it holds phone numbers.

    A frame holds phone numbers when a column is a phone column of the schema (``phone_e164``),
    is named like one (``phone``, ``msisdn``), or has E.164-looking strings in its first rows.

    >>> check_no_phone_numbers(pl.DataFrame({"contact_id": [1]})).height
    1
    >>> check_no_phone_numbers(pl.DataFrame({"phone_e164": ["+33612345678"]}))
    Traceback (most recent call last):
    ...
    smsanalytics.reporting.PrivacyError: frame: column(s) ['phone_e164'] hold phone numbers; ...
    """
    problem = _phone_problem(frame)
    if problem:
        raise PrivacyError(
            f"{where}: {problem}; select the analytic columns (contact_id …) before showing it"
        )
    return frame


def _refusal(frame: pl.DataFrame) -> str | None:
    problem = _phone_problem(frame)
    if problem is None:
        return None
    return (
        f"[not displayed: a {frame.height:,}-row frame whose {problem}; reports never show phone "
        "numbers — select the analytic columns first]"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "NaN"
        if abs(value) >= 100 or value == int(value):
            return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else f"{value:.3g}"
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list | tuple):
        return "; ".join(_cell(v) for v in value)
    return str(value)


def frame_html(frame: pl.DataFrame, *, max_rows: int | None = None) -> str:
    """A plain HTML table of ``frame`` for notebooks and reports: no quotes around strings, no
    dtype row, thousands separators, at most ``max_rows`` rows (default the polars setting)."""
    limit = (
        max_rows if max_rows is not None else (pl.Config.state().get("POLARS_FMT_MAX_ROWS") or 25)
    )
    limit = int(limit) if int(limit) >= 0 else frame.height
    shown = frame.head(limit)
    numeric = {name for name, dtype in frame.schema.items() if dtype.is_numeric()}
    head = "".join(
        f'<th style="text-align:{"right" if c in numeric else "left"}">{html.escape(c)}</th>'
        for c in frame.columns
    )
    body = []
    for row in shown.iter_rows():
        cells = "".join(
            f'<td style="white-space:nowrap;text-align:{"right" if c in numeric else "left"}">'
            f"{html.escape(_cell(v))}</td>"
            for c, v in zip(frame.columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    more = frame.height - shown.height
    rows = f"{frame.height:,} row{'s' if frame.height != 1 else ''}"
    note = f"{rows} × {frame.width} column{'s' if frame.width != 1 else ''}"
    if more > 0:
        note += f" (first {shown.height:,} shown)"
    return (
        '<div class="smsanalytics-table" style="overflow-x:auto">'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f'<div style="color:#666;font-size:0.85em;margin-top:2px">{note}</div></div>'
    )


def _html_formatter(frame: pl.DataFrame) -> str:
    notice = _refusal(frame)
    if notice is not None:
        return f'<p class="smsanalytics-privacy"><b>{html.escape(notice)}</b></p>'
    return frame_html(frame)


def _text_formatter(frame: pl.DataFrame, printer: Any, cycle: bool) -> None:
    notice = _refusal(frame)
    printer.text(notice if notice is not None else str(frame))


def _install_privacy_guard() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is in the notebooks extra
        return False
    shell = get_ipython()
    if shell is None:
        return False
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(pl.DataFrame, _html_formatter)
    formatters["text/plain"].for_type(pl.DataFrame, _text_formatter)
    return True


# -- setup -----------------------------------------------------------------------------------------
def setup_notebook(
    *, max_rows: int = 25, max_str_len: int = 60, renderer: str = "svg"
) -> dict[str, Any]:
    """Configure the running notebook: offline-safe charts, table display, the privacy guard.

    Parameters
    ----------
    max_rows
        Rows shown of a polars frame.
    max_str_len
        Characters shown of a string cell.
    renderer
        Altair renderer: ``svg`` (default; static, offline, via vl-convert) or ``png``.

    Returns
    -------
    dict
        What was set (renderer, rows, whether the privacy guard is installed: it needs IPython).

    Raises
    ------
    ValueError
        For a renderer that needs a network to draw (``default``, ``html``, ``jupyter`` …).
    """
    import altair as alt

    if renderer not in ("svg", "png"):
        raise ValueError(
            f"renderer {renderer!r} loads the vega libraries from a CDN and draws nothing offline; "
            "use 'svg' (default) or 'png'"
        )
    alt.renderers.enable(renderer)
    pl.Config.set_tbl_rows(max_rows)
    pl.Config.set_fmt_str_lengths(max_str_len)
    pl.Config.set_tbl_hide_dataframe_shape(False)
    guarded = _install_privacy_guard()
    return {"renderer": renderer, "max_rows": max_rows, "privacy_guard": guarded}


# -- parameters → objects --------------------------------------------------------------------------
def project_path(path: str | Path) -> Path:
    """``path`` as is when absolute, else relative to the project root (the folder with
    ``smsanalytics.toml`` or ``pyproject.toml``), so a notebook finds the same files from
    ``notebooks/`` in JupyterLab and from the root under papermill."""
    from smsanalytics.settings import project_root

    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p


def open_warehouse(path: str | Path | None = None) -> Warehouse:
    """Open the warehouse read-only: ``path`` (relative to the project root), or, when empty,
    the ``warehouse_path`` setting (default the demo warehouse).

    Raises
    ------
    WarehouseError
        When the file does not exist (the message says how to create it).
    """
    from smsanalytics.settings import load_settings

    target = project_path(path) if path else load_settings().warehouse_path
    if not target.is_file():
        raise WarehouseError(
            f"warehouse {str(target)!r} does not exist; build the demo with `make demo` "
            "(or `smsanalytics demo`), or pass the path of yours as the `warehouse` parameter"
        )
    return Warehouse(target, read_only=True)


@dataclass(frozen=True)
class ReportPeriod:
    """The window a report covers: messages sent in ``[start, end)``; events known before
    ``as_of`` (= ``end``)."""

    start: dt.datetime
    end: dt.datetime

    @property
    def as_of(self) -> dt.datetime:
        return self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def label(self) -> str:
        last = self.end - dt.timedelta(days=1)
        return f"{self.start:%Y-%m-%d} to {last:%Y-%m-%d} ({self.days} days, UTC)"

    def __str__(self) -> str:
        return self.label


def report_period(
    warehouse: Warehouse, *, end: str | dt.date | None = None, days: int = 7
) -> ReportPeriod:
    """The ``days`` UTC days before ``end`` (a date, exclusive).

    ``end`` empty or ``None``: the day after the last event in the warehouse, so the demo
    warehouse gives its last ``days`` days whatever today's date is.

    Raises
    ------
    ValueError
        When ``days`` is not positive, ``end`` is not a date, or the warehouse is empty and no
        ``end`` is given.
    """
    from smsanalytics.campaigns import data_end

    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise ValueError(f"days must be a positive whole number, got {days!r}")
    if end in (None, ""):
        last = data_end(warehouse)
        if last is None:
            raise ValueError("the warehouse has no events; pass end='YYYY-MM-DD'")
        stop = last.date() + dt.timedelta(days=1) if last.time() != dt.time(0) else last.date()
    elif isinstance(end, dt.datetime):
        stop = end.date()
    elif isinstance(end, dt.date):
        stop = end
    else:
        try:
            stop = dt.date.fromisoformat(str(end))
        except ValueError:
            raise ValueError(f"end {end!r} is not a date; use 'YYYY-MM-DD'") from None
    hi = dt.datetime(stop.year, stop.month, stop.day, tzinfo=dt.UTC)
    return ReportPeriod(start=hi - dt.timedelta(days=days), end=hi)


def planning_instant(warehouse: Warehouse, now: str | dt.datetime | None = None) -> dt.datetime:
    """The planning instant of a send plan: ``now`` (ISO 8601 with an offset), or, when empty,
    midnight UTC after the last event of the warehouse (so the demo plans "tomorrow")."""
    if now not in (None, ""):
        if isinstance(now, dt.datetime):
            value = now
        else:
            try:
                value = dt.datetime.fromisoformat(str(now).replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"now {now!r} is not an ISO 8601 instant such as 2026-11-02T09:00:00Z"
                ) from None
        if value.tzinfo is None:
            raise ValueError(f"now {now!r} needs a UTC offset, e.g. 2026-11-02T09:00:00Z")
        return value.astimezone(dt.UTC)
    return report_period(warehouse, days=1).end


def warehouse_overview(warehouse: Warehouse) -> pl.DataFrame:
    """Rows per canonical table and the UTC span of its event timestamps.

    Returns
    -------
    polars.DataFrame
        ``table``, ``rows``, ``timestamp`` (the column spanned), ``first_at``, ``last_at``.
    """
    from smsanalytics import schemas

    spans = {
        "contacts": "signup_at", "campaigns": "created_at", "messages": "sent_at",
        "assignments": "assigned_at", "receipts": "status_at", "clicks": "clicked_at",
        "inbound": "received_at", "orders": "ordered_at", "quarantine": "quarantined_at",
        "loads": "loaded_at",
    }  # fmt: skip
    rows = []
    for t in schemas.ORDERED_TABLES:
        column = spans.get(t.name)
        if column:
            t.column(column)  # raises if the schema changed
        n, first, last = warehouse.con.execute(
            f"SELECT count(*), min({column}), max({column}) FROM {t.qualified_name}"
            if column
            else f"SELECT count(*), NULL, NULL FROM {t.qualified_name}"
        ).fetchall()[0]
        rows.append(
            {
                "table": t.name,
                "rows": int(n),
                "timestamp": column,
                "first_at": first,
                "last_at": last,
            }
        )
    return pl.DataFrame(
        rows,
        schema={"table": pl.String, "rows": pl.Int64, "timestamp": pl.String,
                "first_at": pl.Datetime("us", "UTC"), "last_at": pl.Datetime("us", "UTC")},
    )  # fmt: skip


def plan_summary(plan: Any) -> pl.DataFrame:
    """One row per variant of a :class:`smsanalytics.plan.SendPlan` from its manifest:
    ``variant, messages, segments, cost`` and the totals row ``(all)`` — never a phone number."""
    manifest = plan.manifest
    rows = [
        {"variant": name, "messages": v["messages"], "segments": v["segments"], "cost": v["cost"]}
        for name, v in manifest.get("by_variant", {}).items()
    ]
    rows.append(
        {
            "variant": "(all)",
            "messages": manifest["counts"]["planned"],
            "segments": manifest.get("total_segments", 0),
            "cost": manifest.get("total_cost", 0.0),
        }
    )
    return pl.DataFrame(
        rows,
        schema={
            "variant": pl.String,
            "messages": pl.Int64,
            "segments": pl.Int64,
            "cost": pl.Float64,
        },
    )


def export_plan(plan: Any, plan_dir: str | Path | None) -> dict[str, str]:
    """Write ``plan`` to ``plan_dir`` (relative to the project root) with
    :func:`smsanalytics.plan.write_plan`; an empty ``plan_dir`` writes nothing.

    Returns
    -------
    dict
        File kind → path written (empty when nothing was written).
    """
    if not plan_dir:
        return {}
    from smsanalytics.plan import write_plan

    return {name: str(path) for name, path in write_plan(plan, project_path(plan_dir)).items()}


# -- presentation ----------------------------------------------------------------------------------
def _pct(kpis: pl.DataFrame, rate: str) -> list[str | None]:
    out: list[str | None] = []
    for v, lo, hi in kpis.select(rate, f"{rate}_low", f"{rate}_high").iter_rows():
        out.append(None if v is None else f"{100 * v:.2f} % ({100 * lo:.2f}–{100 * hi:.2f})")
    return out


def kpi_table(kpis: pl.DataFrame) -> pl.DataFrame:
    """The KPI frame of :func:`smsanalytics.campaigns.campaign_kpis` as a readable table.

    Rates become ``"4.71 % (4.33–5.12)"`` (estimate and Wilson interval, in percent), money is
    rounded to cents; the group columns come first, ``attribution complete`` last. Columns absent
    from ``kpis`` are skipped.
    """
    from smsanalytics.campaigns import DIMENSIONS

    groups = [c for c in DIMENSIONS if c in kpis.columns]
    columns: list[pl.Series] = [kpis[c] for c in groups] + [kpis["sent"]]
    for rate, label in (
        ("delivery_rate", "delivery rate"),
        ("ctr", "CTR"),
        ("conversion_rate", "conversion rate"),
        ("opt_out_rate", "opt-out rate"),
    ):
        if {rate, f"{rate}_low", f"{rate}_high"} <= set(kpis.columns):
            columns.append(pl.Series(label, _pct(kpis, rate), dtype=pl.String))
    for col, label in (
        ("failed", "failed"),
        ("clicked", "clicked"),
        ("orders", "orders"),
        ("revenue", "revenue"),
        ("revenue_per_message", "revenue / message"),
        ("cost", "cost"),
        ("roi", "ROI"),
    ):
        if col in kpis.columns:
            series = kpis[col]
            if series.dtype.is_float():
                series = series.round(3 if col == "revenue_per_message" else 2)
            columns.append(series.alias(label))
    if "is_attribution_complete" in kpis.columns:
        columns.append(kpis["is_attribution_complete"].alias("attribution complete"))
    return pl.DataFrame(columns)


def package_version() -> str:
    """The installed version of smsanalytics (``importlib.metadata``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("smsanalytics")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        import smsanalytics

        return str(getattr(smsanalytics, "__version__", "unknown"))


def environment() -> dict[str, str]:
    """What produced this notebook's outputs: package version, Python, platform, time (UTC)."""
    return {
        "smsanalytics": package_version(),
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
