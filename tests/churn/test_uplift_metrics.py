"""Uplift metrics: values computed with scikit-uplift 0.5.1, reference loops, invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsanalytics.uplift.metrics import (
    average_treatment_effect,
    perfect_qini_curve,
    qini_auc_score,
    qini_curve,
    random_qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_by_percentile,
)


@pytest.fixture(scope="module")
def sample():
    """400 contacts with tied scores; the expected values below were computed on exactly this
    sample with ``sklift.metrics`` from scikit-uplift 0.5.1 (PyPI wheel)."""
    rng = np.random.default_rng(20240601)
    n = 400
    t = rng.integers(0, 2, n)
    u = np.round(rng.normal(size=n), 2)
    y = (rng.random(n) < 0.2 + 0.15 * t * (u > 0)).astype(int)
    return y, u, t


@pytest.mark.parametrize(
    ("strategy", "k", "expected"),
    [
        ("overall", 0.1, 0.1515151515151515),
        ("overall", 0.3, 0.15460433680653335),
        ("overall", 0.5, 0.1484593837535014),
        ("overall", 50, 0.1794871794871795),
        ("by_group", 0.1, 0.1394736842105263),
        ("by_group", 0.3, 0.1466101694915254),
        ("by_group", 0.5, 0.15787878787878787),
        ("by_group", 50, 0.14),
    ],
)
def test_uplift_at_k_matches_scikit_uplift_0_5_1(sample, strategy, k, expected):
    y, u, t = sample
    assert uplift_at_k(y, u, t, strategy=strategy, k=k) == pytest.approx(expected, rel=1e-12)


def test_qini_and_uplift_auc_match_scikit_uplift_0_5_1(sample):
    y, u, t = sample
    assert qini_auc_score(y, u, t) == pytest.approx(0.054990822829090506, rel=1e-10)
    assert qini_auc_score(y, u, t, negative_effect=False) == pytest.approx(
        0.3161446974468977, rel=1e-10
    )
    assert uplift_auc_score(y, u, t) == pytest.approx(0.048273208679716496, rel=1e-10)
    x, q = qini_curve(y, u, t)
    assert len(x) == 239 and x[-1] == 400 and q[-1] == pytest.approx(16.55778894472362)


def test_uplift_by_decile_matches_scikit_uplift_0_5_1(sample):
    y, u, t = sample
    overall = [
        0.151515151515,
        0.025641025641,
        0.252525252525,
        0.03007518797,
        0.291666666667,
        0.285714285714,
        -0.242966751918,
        0.015151515152,
        0.020833333333,
        0.208333333333,
    ]
    by_group = [0.133333333333, 0.15, 0.2, 0.05, 0.25, 0.15, -0.3, -0.05, 0.0, 0.244736842105]
    table = uplift_by_percentile(y, u, t)
    np.testing.assert_allclose(table["uplift"].to_numpy(), overall, atol=1e-11)
    np.testing.assert_allclose(
        uplift_by_percentile(y, u, t, strategy="by_group")["uplift"].to_numpy(),
        by_group,
        atol=1e-11,
    )
    assert table["percentile"].to_list()[:2] == ["0-10", "10-20"]
    assert int((table["n_treatment"] + table["n_control"]).sum()) == y.size
    assert table["mean_predicted_uplift"].is_sorted(descending=True)


def _qini_reference(y, u, t):
    """Loop over distinct thresholds (scores descending; ties enter together)."""
    order = np.argsort(u, kind="mergesort")[::-1]
    y, u, t = y[order], u[order], t[order]
    xs, qs = [0.0], [0.0]
    for i in range(len(u)):
        if i + 1 < len(u) and u[i + 1] == u[i]:
            continue
        top_y, top_t = y[: i + 1], t[: i + 1]
        n_t, n_c = top_t.sum(), (1 - top_t).sum()
        y_t, y_c = (top_y * top_t).sum(), (top_y * (1 - top_t)).sum()
        xs.append(i + 1.0)
        qs.append(y_t - (y_c * n_t / n_c if n_c else 0.0))
    return np.array(xs), np.array(qs)


arrays = st.integers(10, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(-5, 5), min_size=n, max_size=n),
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda t: 0 < sum(t) < len(t)),
    )
)


@settings(max_examples=80, deadline=None)
@given(arrays)
def test_qini_curve_equals_a_reference_loop(data):
    y, u, t = (np.array(v) for v in data)
    x, q = qini_curve(y, u.astype(float), t)
    xr, qr = _qini_reference(y, u.astype(float), t)
    if xr.size > 1 and xr[1] == 0:  # not possible: first threshold has >= 1 contact
        raise AssertionError
    np.testing.assert_allclose(x, xr)
    np.testing.assert_allclose(q, qr, atol=1e-9)


@settings(max_examples=80, deadline=None)
@given(arrays, st.sampled_from(["overall", "by_group"]))
def test_uplift_at_k_is_invariant_to_monotone_transformations(data, strategy):
    y, u, t = (np.array(v) for v in data)
    u = u.astype(float) + np.arange(u.size) * 1e-3  # distinct scores
    try:
        base = uplift_at_k(y, u, t, strategy=strategy, k=0.5)
    except ValueError:
        return  # top half holds a single arm: undefined either way
    assert uplift_at_k(y, np.exp(u / 3) * 7 + 2, t, strategy=strategy, k=0.5) == pytest.approx(base)


def test_perfect_ranking_has_qini_one_and_random_ranking_about_zero():
    rng = np.random.default_rng(3)
    n = 4_000
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + 0.1 * t).astype(int)
    perfect = y * t - y * (1 - t)
    assert qini_auc_score(y, perfect, t) == pytest.approx(1.0)
    scores = [qini_auc_score(y, rng.random(n), t) for _ in range(30)]
    assert abs(np.mean(scores)) < 3 * np.std(scores) / np.sqrt(len(scores)) + 0.02
    # uplift@k of a random ranking is the average treatment effect in expectation
    ate = average_treatment_effect(y, t)
    at_k = [uplift_at_k(y, rng.random(n), t, k=0.3) for _ in range(30)]
    assert np.mean(at_k) == pytest.approx(ate, abs=0.02)
    x_r, q_r = random_qini_curve(y, t)
    x_p, q_p = perfect_qini_curve(y, t)
    assert x_r[-1] == n and q_r[-1] == pytest.approx(q_p[-1])


def test_a_model_that_knows_the_uplift_beats_random_at_30_percent():
    rng = np.random.default_rng(9)
    n = 20_000
    tau = rng.uniform(0, 0.2, n)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + tau * t).astype(int)
    assert uplift_at_k(y, tau, t, k=0.3) > average_treatment_effect(y, t) + 0.03
    assert qini_auc_score(y, tau, t) > 0.1


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([1, 0], [0.1, 0.2, 0.3], [1, 0]), {}, "same length"),
        (([1, 0, 1], [0.1, 0.2, 0.3], [1, 1, 1]), {}, "both treated"),
        (([1, 0, 1], [0.1, 0.2, 0.3], [1, 2, 0]), {}, "binary"),
        (([1, 0, 1], [0.1, np.nan, 0.3], [1, 0, 0]), {}, "NaN"),
        (([1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4], [1, 0, 0, 1]), {"k": 1.5}, "k=1.5"),
        (([1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4], [1, 0, 0, 1]), {"strategy": "top"}, "strategy"),
        (([1, 0, 1, 0], [0.9, 0.8, 0.1, 0.0], [1, 1, 0, 0]), {"k": 0.5}, "one group"),
    ],
)
def test_uplift_at_k_explains_invalid_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        uplift_at_k(*args, **kwargs)


def test_qini_needs_a_binary_outcome():
    with pytest.raises(ValueError, match="binary"):
        qini_auc_score([0.5, 1.0, 0.0, 2.0], [1, 2, 3, 4], [1, 0, 1, 0])
