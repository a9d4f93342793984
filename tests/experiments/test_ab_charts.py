"""Altair chart builders return renderable specs with the data they claim to show."""

from __future__ import annotations

import altair as alt

from smsanalytics.experiments import (
    ProportionStatistic,
    SampleMeanStatistic,
    chart_lift,
    chart_posteriors,
    chart_sequential,
    confidence_sequence,
    readout,
)

ARMS = {
    "A": ProportionStatistic(10_000, 300),
    "B": ProportionStatistic(10_050, 370),
    "C": ProportionStatistic(9_900, 310),
}


def _datasets(spec: dict) -> list[dict]:
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


def test_chart_lift_layers_intervals_points_and_zero_line() -> None:
    for method in ("frequentist", "bayesian", "sequential"):
        result = readout(ARMS, method=method)  # type: ignore[arg-type]
        chart = chart_lift(result)
        assert isinstance(chart, alt.LayerChart)
        spec = chart.to_dict()
        assert len(spec["layer"]) == 3
        rows = [r for r in _datasets(spec) if "variant" in r]
        assert {r["variant"] for r in rows} == {"B", "C"}
        assert all(r["ci_low"] <= r["lift"] <= r["ci_high"] for r in rows)
        assert "SRM p" in spec["title"]["subtitle"]


def test_chart_sequential_band_and_absolute_overlay() -> None:
    looks = [
        (ProportionStatistic(1000 * k, 30 * k), ProportionStatistic(1000 * k, 34 * k))
        for k in range(1, 11)
    ]
    frame = confidence_sequence(looks)
    rel = chart_sequential(frame)
    assert isinstance(rel, alt.LayerChart) and len(rel.to_dict()["layer"]) == 3
    absolute = chart_sequential(frame, difference_type="absolute").to_dict()
    assert len(absolute["layer"]) == 5  # zero, band, line, naive low, naive high


def test_chart_posteriors_one_curve_per_arm() -> None:
    chart = chart_posteriors(ARMS)
    assert isinstance(chart, alt.Chart)
    rows = _datasets(chart.to_dict())
    assert {r["variant"] for r in rows} == {"A", "B", "C"}
    means = chart_posteriors(
        {"A": SampleMeanStatistic(100, 50.0, 200.0), "B": SampleMeanStatistic(100, 60.0, 260.0)}
    )
    assert isinstance(means, alt.Chart)
