"""Chart builders: valid Vega-Lite specs of aggregated data, no contact ids."""

from __future__ import annotations

import json

import altair as alt
from sendtime_data import programme

from smsanalytics.charts.sendtime import (
    chart_chosen_hours,
    chart_evaluation,
    chart_hour_of_week_heatmap,
)
from smsanalytics.sendtime import SendTimeModel, evaluate_programme
from smsanalytics.sendtime.evaluate import rfm_segments_at


def _rows(chart: alt.TopLevelMixin) -> list[dict]:
    spec = chart.to_dict()
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


def test_charts_aggregate_and_render() -> None:
    prog = programme(3000, 0)
    contacts = rfm_segments_at(
        prog.contacts.select("contact_id", "timezone"), prog.orders, as_of=prog.as_of
    )
    model = SendTimeModel(segment_column="rfm_segment").fit(
        prog.messages, prog.clicks, contacts=contacts
    )
    heat = chart_hour_of_week_heatmap(model)
    rows = _rows(heat)
    assert {r["panel"].split(" (")[0] for r in rows} == {"global", *model.segments_}
    assert heat.to_dict()["facet"]["sort"][0].startswith("global (")
    windows = model.predict_windows(contacts, "2026-11-10")
    hours = chart_chosen_hours(windows)
    assert sum(r["contacts"] for r in _rows(hours)) == windows.height
    ev = evaluate_programme(prog, n_boot=50)
    bars = chart_evaluation(ev)
    assert isinstance(bars, alt.LayerChart) and len(bars.to_dict()["layer"]) == 2
    for chart in (heat, hours, bars):
        text = json.dumps(chart.to_dict())
        assert "contact_id" not in text and "phone" not in text
