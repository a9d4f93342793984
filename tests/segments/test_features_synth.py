"""contact_features and segments on a generated programme (smsanalytics.synth), checked against
an independent pandas implementation and the generator's ground truth."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import polars as pl
import pytest
from conftest import load_frames, truncate_frames
from polars.testing import assert_frame_equal

from smsanalytics.features import contact_features
from smsanalytics.segments import (
    LIFECYCLE_STAGES,
    NO_PURCHASE_SEGMENT,
    RFM_SEGMENTS,
    cluster_contacts,
    segment_contacts,
)
from smsanalytics.warehouse import Warehouse

synth = pytest.importorskip("smsanalytics.synth")

_BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_features.py"
MID = dt.datetime(2026, 7, 15, 13, 30, tzinfo=dt.UTC)


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_features", _BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def programme():
    return synth.generate_programme(1500, months=6, seed=11)


@pytest.fixture(scope="module")
def wh(programme):
    w = Warehouse(":memory:")
    try:
        synth.load_programme(programme, w)
    except NotImplementedError:  # the loader is being written in parallel
        load_frames(w, programme.tables())
    yield w
    w.close()


@pytest.mark.parametrize("when", ["end", "mid"])
def test_equals_an_independent_pandas_implementation(programme, wh, when):
    """benchmarks/bench_features.pandas_features computes every column the way a notebook would."""
    bench = _bench_module()
    as_of = programme.as_of if when == "end" else MID
    data = {
        name: programme.tables()[name].select(cols).to_pandas()
        for name, cols in bench.COLUMNS.items()
    }
    ours = contact_features(wh, as_of=as_of)
    assert ours.height > 500
    bench.compare_features(ours, bench.pandas_features(data, as_of.isoformat()))


def test_no_leakage_on_generated_data(programme, wh):
    cut = truncate_frames(programme.tables(), MID)
    with Warehouse(":memory:") as early:
        load_frames(early, cut)
        assert_frame_equal(contact_features(early, as_of=MID), contact_features(wh, as_of=MID))


def test_segments_and_stages_cover_everyone_and_track_the_truth(programme, wh):
    seg = segment_contacts(wh, as_of=programme.as_of)
    assert seg["contact_id"].is_unique().all()
    assert set(seg["rfm_segment"]) <= {*RFM_SEGMENTS, NO_PURCHASE_SEGMENT}
    assert set(seg["lifecycle_stage"]) <= set(LIFECYCLE_STAGES)
    truth = programme.truth_contacts.select(
        "contact_id", "is_alive_at_end", "base_click", "is_link_previewer"
    )
    seg = seg.join(truth, on="contact_id")
    dead = seg.group_by("lifecycle_stage").agg((~pl.col("is_alive_at_end")).mean().alias("dead"))
    dead = dict(dead.iter_rows())
    # buyers who stopped buying are much more often truly churned than active ones
    assert dead["lapsed"] > dead["active"] + 0.2
    # bot (link-preview) clicks are excluded: previewers do not look like better clickers
    rates = (
        seg.filter(pl.col("n_sent") >= 5)
        .group_by("is_link_previewer")
        .agg(pl.col("click_rate").mean())
    )
    rates = dict(rates.iter_rows())
    assert rates[True] < rates[False] * 1.5
    # the click rate follows the latent click propensity
    corr = (
        seg.filter(pl.col("n_sent") >= 5)
        .select(pl.corr("click_rate", "base_click", method="spearman"))
        .item()
    )
    assert corr > 0.3


def test_clusters_on_generated_features(programme, wh):
    features = contact_features(wh, as_of=programme.as_of)
    out, model = cluster_contacts(features, k_range=(2, 5), sample_size=1500)
    assert 2 <= model.n_clusters_ <= 5
    assert out["cluster"].null_count() == 0
    assert model.profiles_["contacts"].sum() == features.height
    assert model.profiles_["cluster_name"].is_unique().all()
