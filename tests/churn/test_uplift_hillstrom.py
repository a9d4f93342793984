"""The vendored Hillstrom experiment and the evaluation protocol (one split; the 10-split table is
produced by ``python -m smsanalytics.uplift.hillstrom`` and reported in the docs)."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest
from threadpoolctl import threadpool_limits

from smsanalytics.uplift.hillstrom import (
    HILLSTROM_SHA256,
    ONEHOT_FEATURES,
    evaluate_hillstrom,
    hillstrom_candidates,
    hillstrom_model,
    hillstrom_onehot_features,
    hillstrom_splits,
    hillstrom_uplift_data,
    load_hillstrom,
)
from smsanalytics.uplift.models import UpliftSearchCV


@pytest.fixture(autouse=True)
def _one_thread():
    """One OpenMP/BLAS thread: on a shared, oversubscribed machine spinning worker threads make
    gradient boosting tens of times slower than a single thread."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return load_hillstrom()


def _shortest(v: float) -> str:
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def test_vendored_parquet_rebuilds_the_published_csv_byte_for_byte(frame):
    header = ",".join(frame.columns)
    lines = [header]
    for r in frame.iter_rows():
        seg = f'"{r[1]}"' if "," in r[1] else r[1]
        lines.append(
            ",".join(
                [
                    str(r[0]),
                    seg,
                    _shortest(r[2]),
                    str(r[3]),
                    str(r[4]),
                    r[5],
                    str(r[6]),
                    r[7],
                    r[8],
                    str(r[9]),
                    str(r[10]),
                    _shortest(r[11]),
                ]
            )
        )
    data = ("\r\n".join(lines) + "\r\n").encode()
    assert len(data) == 3_964_977
    assert hashlib.sha256(data).hexdigest() == HILLSTROM_SHA256


def test_arm_sizes_and_visit_rates_match_the_published_figures(frame):
    arms = frame.group_by("segment").agg(pl.len(), pl.col("visit").mean()).sort("segment")
    assert dict(zip(arms["segment"], arms["len"], strict=True)) == {
        "Mens E-Mail": 21_307,
        "No E-Mail": 21_306,
        "Womens E-Mail": 21_387,
    }
    rates = dict(zip(arms["segment"], arms["visit"], strict=True))
    assert rates["Womens E-Mail"] == pytest.approx(0.1514, abs=5e-5)
    assert rates["No E-Mail"] == pytest.approx(0.1062, abs=5e-5)


def test_womens_arm_data_and_splits(frame):
    data = hillstrom_uplift_data(frame)
    assert data.X.shape == (42_693, len(data.feature_names))
    assert data.treatment.sum() == 21_387
    splits = list(hillstrom_splits(data.y, data.treatment, n_splits=2))
    _, train, test = splits[0]
    assert test.size == 12_808 and np.intersect1d(train, test).size == 0
    # stratified on treatment x outcome, and reproducible per seed
    strata = 2 * data.treatment + data.y
    np.testing.assert_allclose(
        np.bincount(strata[test]) / test.size, np.bincount(strata) / strata.size, atol=1e-3
    )
    again = list(hillstrom_splits(data.y, data.treatment, n_splits=1))[0][2]
    np.testing.assert_array_equal(again, test)
    assert not np.array_equal(splits[1][2], test)


def test_one_split_of_the_protocol_beats_random_targeting(frame):
    data = hillstrom_uplift_data(frame)
    model = hillstrom_candidates()["two_models_logistic"]
    ev = evaluate_hillstrom(lambda: model, data=data, n_splits=1, n_random=20)
    row = ev.splits.row(0, named=True)
    assert row["n_test"] == 12_808
    assert row["random_uplift_at_k"] == pytest.approx(row["ate"], abs=0.01)
    assert row["uplift_at_k"] > row["ate"] + 0.015
    assert row["qini"] > 0.02


def test_onehot_effect_features_are_derived_from_the_base_features(frame):
    data = hillstrom_uplift_data(frame)
    Z = hillstrom_onehot_features(data.X)
    assert Z.shape == (data.X.shape[0], len(ONEHOT_FEATURES))
    col = dict(zip(ONEHOT_FEATURES, Z.T, strict=True))
    base = dict(zip(data.feature_names, data.X.T, strict=True))
    segments = [f"history_segment_{i}" for i in range(2, 8)]
    # one-hot history segments 2-7 against segment 1, consistent with the ordinal column
    onehot = np.column_stack([col[s] for s in segments])
    assert set(np.unique(onehot).tolist()) == {0.0, 1.0} and onehot.sum(axis=1).max() == 1
    np.testing.assert_array_equal(onehot.sum(axis=1) == 0, base["history_segment"] == 1)
    np.testing.assert_array_equal(col["mens_and_womens"], base["mens"] * base["womens"])
    np.testing.assert_array_equal(col["zip_rural"], base["zip_rural"])


def test_the_model_search_covers_the_candidates_with_repeated_folds():
    model = hillstrom_model()
    assert model.n_repeats == 2 and model.cv == 5 and model.scoring == "uplift_at_k"
    assert model.k == 0.3 and set(model.candidates) == set(hillstrom_candidates())
    assert len(model.candidates) == 14


def test_a_reduced_protocol_on_one_split_records_the_choice_and_beats_random(frame):
    """The protocol of ``hillstrom_model`` on split 0 with two candidates and 3 folds (fast)."""
    data = hillstrom_uplift_data(frame)
    candidates = hillstrom_candidates()
    names = ("two_models_logistic", "x_learner_ridge_30000_onehot")
    ev = evaluate_hillstrom(
        lambda: UpliftSearchCV(
            {n: candidates[n] for n in names}, scoring="uplift_at_k", cv=3, random_state=0
        ),
        data=data,
        n_splits=1,
        n_random=20,
    )
    row = ev.splits.row(0, named=True)
    assert row["model"] in names and 0.0 < row["cv_uplift_at_k"] < 0.2
    assert row["uplift_at_k"] > row["ate"] + 0.01
    assert row["qini"] > 0.02
