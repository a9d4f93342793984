"""Notebook setup (offline charts, privacy guard), parameter helpers, the phone-number scan."""

from __future__ import annotations

import datetime as dt
import doctest

import altair as alt
import polars as pl
import pytest

from smsanalytics import campaigns, pipelines, reporting
from smsanalytics.charts import campaigns as campaign_charts
from smsanalytics.pipelines import find_phone_numbers, scan_report
from smsanalytics.reporting import PrivacyError, check_no_phone_numbers
from smsanalytics.warehouse import Warehouse, WarehouseError


@pytest.mark.parametrize(
    "module", [campaigns, campaign_charts, reporting, pipelines], ids=lambda m: m.__name__
)
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


@pytest.fixture
def shell():
    """An IPython shell with setup_notebook applied; global state restored afterwards."""
    from IPython.core.interactiveshell import InteractiveShell

    previous = alt.renderers.active
    ip = InteractiveShell.instance()
    with pl.Config():
        yield ip, reporting.setup_notebook(max_rows=5)
    InteractiveShell.clear_instance()
    alt.renderers.enable(previous)


def test_setup_notebook_renders_charts_as_svg_and_guards_phone_numbers(shell):
    ip, info = shell
    assert info == {"renderer": "svg", "max_rows": 5, "privacy_guard": True}
    chart = alt.Chart(pl.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_bar().encode(x="x:O", y="y:Q")
    bundle, _ = ip.display_formatter.format(chart)
    assert set(bundle) == {"image/svg+xml", "text/plain"} or "image/svg+xml" in bundle
    assert "<svg" in bundle["image/svg+xml"] and "role-mark" in bundle["image/svg+xml"]

    contacts = pl.DataFrame({"contact_id": [1, 2], "phone_e164": ["+33612345678", "+33612345679"]})
    bundle, _ = ip.display_formatter.format(contacts)
    for mime in ("text/html", "text/plain"):
        assert "not displayed" in bundle[mime] and "612345678" not in bundle[mime]
    sneaky = pl.DataFrame({"contact_id": [1], "number": ["+1 415 555 2671"]})
    assert "not displayed" in ip.display_formatter.format(sneaky)[0]["text/html"]

    fine = pl.DataFrame({"segment": ["Champions"], "sent": [12_345], "ctr": [0.0471]})
    html = ip.display_formatter.format(fine)[0]["text/html"]
    assert "Champions" in html and "12,345" in html and '"Champions"' not in html


def test_setup_notebook_refuses_renderers_that_need_a_network():
    with pytest.raises(ValueError, match="CDN"):
        reporting.setup_notebook(renderer="default")


def test_check_no_phone_numbers():
    assert check_no_phone_numbers(pl.DataFrame({"contact_id": [1]})).height == 1
    with pytest.raises(PrivacyError, match="phone_e164"):
        check_no_phone_numbers(pl.DataFrame({"phone_e164": ["+33612345678"]}))
    with pytest.raises(PrivacyError, match="look like phone numbers"):
        check_no_phone_numbers(pl.DataFrame({"to": ["+44 7911 123456"]}))


def test_frame_html_truncates_and_formats():
    frame = pl.DataFrame({"name": [f"c{i}" for i in range(30)], "revenue": [1234.5] * 30})
    html = reporting.frame_html(frame, max_rows=10)
    assert html.count("<tr>") == 11 and "first 10 shown" in html and "1,234.5" in html


def test_report_period_and_planning_instant(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        with pytest.raises(ValueError, match="no events"):
            reporting.report_period(wh)
        contact = {"contact_id": [1], "external_id": ["e"], "phone_e164": ["+33612345678"]}
        wh.load("contacts", pl.DataFrame({**contact, "timezone_source": ["unknown"]}), source="t")
        at = dt.datetime(2026, 10, 31, 20, tzinfo=dt.UTC)
        order = {"order_id": ["o"], "contact_id": [1], "amount": [1.0], "ordered_at": [at]}
        wh.load("orders", pl.DataFrame(order), source="t")
        period = reporting.report_period(wh, days=7)
        assert (period.start, period.end) == (
            dt.datetime(2026, 10, 25, tzinfo=dt.UTC),
            dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        )
        assert period.label == "2026-10-25 to 2026-10-31 (7 days, UTC)"
        assert reporting.report_period(wh, end="2026-06-01", days=1).start == dt.datetime(
            2026, 5, 31, tzinfo=dt.UTC
        )
        with pytest.raises(ValueError, match="not a date"):
            reporting.report_period(wh, end="yesterday")
        assert reporting.planning_instant(wh) == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        assert reporting.planning_instant(wh, "2026-11-02T06:00:00Z") == dt.datetime(
            2026, 11, 2, 6, tzinfo=dt.UTC
        )
        overview = reporting.warehouse_overview(wh)
        assert overview.filter(pl.col("table") == "orders")["rows"].item() == 1
    with pytest.raises(WarehouseError, match="make demo"):
        reporting.open_warehouse(tmp_path / "missing.duckdb")
    opened = reporting.open_warehouse(tmp_path / "w.duckdb")
    assert opened.read_only
    opened.close()


def test_kpi_table_formats_rates_with_intervals():
    kpis = pl.DataFrame({"campaign_id": ["c1"], "sent": [100], "ctr": [0.0471], "ctr_low": [0.0433],
                         "ctr_high": [0.0512], "revenue": [12.3456]})  # fmt: skip
    table = reporting.kpi_table(kpis)
    assert table.columns == ["campaign_id", "sent", "CTR", "revenue"]
    assert table["CTR"].item() == "4.71 % (4.33–5.12)" and table["revenue"].item() == 12.35


PHONES = [
    "+33 6 12 34 56 78", "+33612345678", "06 12 34 56 78", "0612345678", "06.12.34.56.78",
    "(415) 555-2671", "+1 415 555 2671", "07911 123456", "+44 7911 123456", "0470 12 34 56",
    "+41 79 123 45 67", "tel: 06-12-34-56-78",
]  # fmt: skip
NOT_PHONES = [
    "CTR 4.71 % (4.33–5.12)", "11,967 messages", "2026-10-31 20:49:08.394508 UTC",
    "p = 0.0381679389313", "revenue 1234567.89", "ORD-00000123", "SMaa050f60fc42364e78f2476319df",
    "id 2026-10-31-promo-fr",
]  # fmt: skip


@pytest.mark.parametrize("text", PHONES)
def test_scan_finds_phone_numbers(text):
    assert [raw for raw, _ in find_phone_numbers(f"x {text} y")] == [text.removeprefix("tel: ")]


@pytest.mark.parametrize("text", NOT_PHONES)
def test_scan_ignores_numbers_that_are_not_phone_numbers(text):
    assert find_phone_numbers(text) == []


def test_scan_report_reads_text_and_tooltips_not_svg_geometry(tmp_path):
    page = tmp_path / "r.html"
    page.write_text(
        '<html><body><p>fine</p><svg><path d="M0612345678,0L33612345678,1"/>'
        '<g aria-label="contact: +33612345678"></g></svg>'
        '<script>var x = "+33699999999";</script></body></html>'
    )
    findings = scan_report([page])
    assert len(findings) == 1 and findings[0].masked == "+33•••••••78"
    assert "612345678" not in findings[0].context
