"""Chart builders: valid Vega-Lite, aggregated data only, expected encodings."""

from __future__ import annotations

import json

import altair as alt
import polars as pl
import pytest
from conftest import AS_OF, load_frames, programme_frames, t

from smsanalytics.charts.segments import (
    chart_cluster_profiles,
    chart_rfm_heatmap,
    chart_segment_migration,
    chart_segment_sizes,
)
from smsanalytics.segments import ClusterModel, segment_contacts
from smsanalytics.warehouse import Warehouse


@pytest.fixture(scope="module")
def snapshots():
    with Warehouse(":memory:") as wh:
        load_frames(wh, programme_frames())
        return segment_contacts(wh, as_of=t(2025, 3, 1)), segment_contacts(wh, as_of=AS_OF)


def _data(chart: alt.Chart) -> list[dict]:
    spec = chart.to_dict()
    return next(iter(spec["datasets"].values()))


def _no_contact_rows(chart: alt.Chart) -> None:
    text = json.dumps(chart.to_dict())
    assert "phone" not in text and "contact_id" not in text


def test_segment_sizes(snapshots):
    _, after = snapshots
    chart = chart_segment_sizes(after)
    assert isinstance(chart, alt.Chart)
    rows = {r["rfm_segment"]: r["contacts"] for r in _data(chart)}
    assert rows["No purchase yet"] == 4 and sum(rows.values()) == after.height
    assert chart.to_dict()["encoding"]["y"]["sort"][0] == "Champions"
    _no_contact_rows(chart)
    stages = chart_segment_sizes(after, by="lifecycle_stage")
    assert {r["lifecycle_stage"] for r in _data(stages)} >= {"welcome", "opted_out"}


def test_rfm_heatmap(snapshots):
    _, after = snapshots
    chart = chart_rfm_heatmap(after)
    spec = chart.to_dict()
    assert spec["mark"]["type"] == "rect"
    assert spec["encoding"]["color"]["field"] == "mean_monetary"
    cells = _data(chart)
    assert sum(c["contacts"] for c in cells) == after.filter(pl.col("n_orders") > 0).height
    _no_contact_rows(chart)


def test_segment_migration(snapshots):
    before, after = snapshots
    chart = chart_segment_migration(before, after, labels=("2025-03-01", "2025-06-01"))
    rows = _data(chart)
    assert {r["date"] for r in rows} == {"2025-03-01", "2025-06-01"}
    starts = [r for r in rows if r["step"] == 0]
    assert sum(r["contacts"] for r in starts) == len(
        set(before["contact_id"]) | set(after["contact_id"])
    )
    assert any(r["segment"] == "(new)" for r in starts)  # contact 2 signed up in May
    _no_contact_rows(chart)


def test_cluster_profiles():
    profiles = pl.DataFrame(
        {
            "cluster": [0, 1],
            "cluster_name": ["Dormant", "Clickers"],
            "contacts": [10, 5],
            "share": [2 / 3, 1 / 3],
            "recency_days": [300.0, 5.0],
            "z_recency_days": [0.8, -1.1],
            "click_rate": [0.0, 0.4],
            "z_click_rate": [-0.5, 1.2],
        }
    )
    chart = chart_cluster_profiles(profiles)
    rows = _data(chart)
    assert len(rows) == 4 and {r["feature"] for r in rows} == {"recency_days", "click_rate"}
    assert chart.to_dict()["encoding"]["color"]["scale"]["domainMid"] == 0


def test_cluster_profiles_from_a_fitted_model(snapshots):
    _, after = snapshots
    model = ClusterModel(2, sample_size=100).fit(after)
    assert len(_data(chart_cluster_profiles(model.profiles_))) == 2 * 6
