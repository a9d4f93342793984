"""BG/NBD: published values of Fader, Hardie & Lee (2005), R BTYD, and recovery from simulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special
from threadpoolctl import threadpool_limits

from smsanalytics.churn import (
    BGNBD,
    FADER_HARDIE_LEE_2005_CDNOW,
    BGNBDFitWarning,
    bgnbd_log_likelihood,
    one_time_buyer_diagnostic,
    simulate_bgnbd,
)
from smsanalytics.churn.bgnbd import _negative_ll_and_gradient


@pytest.fixture(autouse=True)
def _one_thread():
    """One OpenMP/BLAS thread: on a shared, oversubscribed machine spinning worker threads make
    gradient boosting tens of times slower than a single thread."""
    with threadpool_limits(limits=1):
        yield


PAPER = FADER_HARDIE_LEE_2005_CDNOW


def _published_model() -> BGNBD:
    model = BGNBD()
    model.params_ = dict(PAPER)
    return model


@pytest.fixture(scope="module")
def cdnow_like():
    """20,000 customers simulated from the published CDNOW estimates, T uniform on 27–39 weeks."""
    n = 20_000
    T = np.random.default_rng(5).uniform(27.0, 39.0, n)
    return simulate_bgnbd(n, **PAPER, T=T, holdout=39.0, seed=3)


def test_fit_recovers_fader_hardie_lee_2005_cdnow_parameters_from_simulated_data(cdnow_like):
    d = cdnow_like
    model = BGNBD().fit(d["frequency"], d["recency"], d["T"])
    assert model.converged_
    for name, true in PAPER.items():
        est, se = model.params_[name], model.params_se_[name]
        assert abs(est - true) < 4 * se, (name, est, true, se)
        assert abs(est - true) / true < 0.2, (name, est, true)
    # the maximum is a maximum: the true parameters do not fit the sample better
    ll_true = bgnbd_log_likelihood(PAPER, d["frequency"], d["recency"], d["T"]).sum()
    assert model.log_likelihood_ >= ll_true


def _direct_likelihood(params, x, t_x, T) -> float:
    """Straightforward eq. 6 with beta and gamma functions (no logs), for moderate inputs."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    common = special.gamma(r + x) * alpha**r / special.gamma(r)
    first = special.beta(a, b + x) / special.beta(a, b) * common / (alpha + T) ** (r + x)
    second = 0.0
    if x > 0:
        second = (
            special.beta(a + 1, b + x - 1) / special.beta(a, b) * common / (alpha + t_x) ** (r + x)
        )
    return first + second


def _integrated_likelihood(params, x, t_x, T) -> float:
    """Individual likelihood integrated over Gamma(λ) × Beta(p) numerically (Fader et al. eq. 3)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))

    def integrand(lam, p):
        individual = (1 - p) ** x * lam**x * np.exp(-lam * T)
        if x > 0:
            individual += p * (1 - p) ** (x - 1) * lam**x * np.exp(-lam * t_x)
        g = alpha**r * lam ** (r - 1) * np.exp(-alpha * lam) / special.gamma(r)
        f = p ** (a - 1) * (1 - p) ** (b - 1) / special.beta(a, b)
        return individual * g * f

    value, _ = integrate.dblquad(integrand, 0.0, 1.0, 0.0, np.inf, epsabs=1e-13, epsrel=1e-9)
    return value


@pytest.mark.parametrize(
    ("x", "t_x", "T"), [(0, 0.0, 10.0), (1, 3.0, 10.0), (3, 7.5, 12.0), (6, 11.0, 12.0)]
)
def test_log_likelihood_matches_direct_formula_and_numerical_integration(x, t_x, T):
    params = {"r": 1.3, "alpha": 2.0, "a": 1.5, "b": 3.0}
    ours = float(bgnbd_log_likelihood(params, x, t_x, T))
    assert ours == pytest.approx(
        np.log(_direct_likelihood(params, x, t_x, T)), rel=1e-12, abs=1e-12
    )
    assert ours == pytest.approx(np.log(_integrated_likelihood(params, x, t_x, T)), abs=1e-6)


def test_analytic_gradient_matches_central_differences(cdnow_like):
    d = cdnow_like.head(2_000)
    x, t_x, T = (d[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    w = np.ones(x.size)
    at = np.log([0.4, 3.0, 0.9, 2.0])
    _, grad = _negative_ll_and_gradient(at, x, t_x, T, w, 0.0)
    h = 1e-6
    numeric = []
    for j in range(4):
        e = np.zeros(4)
        e[j] = h
        up = _negative_ll_and_gradient(at + e, x, t_x, T, w, 0.0)[0]
        down = _negative_ll_and_gradient(at - e, x, t_x, T, w, 0.0)[0]
        numeric.append((up - down) / (2 * h))
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_expected_purchases_match_hardie_excel_sheet():
    # Hardie's BG/NBD spreadsheet (CDNOW, weeks); the paper's parameters are rounded to 3
    # decimals, hence the tolerance.
    times = np.array([0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0])
    expected = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    np.testing.assert_allclose(
        _published_model().expected_purchases(times), expected, rtol=2e-3, atol=2e-4
    )


def test_conditional_expectation_matches_fader_hardie_lee_2005_example():
    # a customer with x = 2, t_x = 30.43, T = 38.86 weeks: 1.226 purchases in the next 39 weeks
    value = _published_model().expected_purchases(39.0, 2, 30.43, 38.86)
    assert float(value) == pytest.approx(1.226, abs=1e-3)


def test_probability_of_purchases_matches_r_btyd():
    # BTYD::bgnbd.pmf with the CDNOW parameters (the R package's documented examples)
    model = _published_model()
    assert model.probability_of_purchases(39.0, 0)[0] == pytest.approx(0.5737864, abs=1e-6)
    assert model.probability_of_purchases(2.0, 10)[0] == pytest.approx(1.07869e-07, rel=1e-4)
    pmf = [
        0.0019995214,
        0.0015170236,
        0.0011633150,
        0.0009003148,
        0.0007023638,
        0.0005517902,
        0.0004361913,
        0.0003467171,
        0.0002769613,
        0.0002222260,
    ]
    np.testing.assert_allclose(
        model.probability_of_purchases(30.0, np.arange(11, 21)), pmf, rtol=1e-5
    )
    assert model.probability_of_purchases(39.0, np.arange(0, 400)).sum() == pytest.approx(
        1.0, abs=1e-3
    )


def test_simulator_agrees_with_the_model_distribution():
    d = simulate_bgnbd(100_000, **PAPER, T=39.0, holdout=39.0, seed=11)
    model = _published_model()
    freq = d["frequency"].to_numpy()
    for k in (0, 1, 2, 5):
        share = float((freq == k).mean())
        p = float(model.probability_of_purchases(39.0, k)[0])
        assert share == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / freq.size) + 1e-4)
    assert freq.mean() == pytest.approx(float(model.expected_purchases(39.0)), rel=0.03)
    # conditional forecasts for the holdout period, on average
    cond = model.expected_purchases(39.0, d["frequency"], d["recency"], d["T"])
    assert d["purchases_holdout"].mean() == pytest.approx(cond.mean(), rel=0.04)
    quiet = model.p_no_purchase(39.0, d["frequency"], d["recency"], d["T"])
    assert float((d["purchases_holdout"] == 0).mean()) == pytest.approx(quiet.mean(), abs=0.01)
    # P(alive) is calibrated against the simulated truth
    p_alive = model.p_alive(d["frequency"], d["recency"], d["T"])
    assert float(d["is_alive"].mean()) == pytest.approx(p_alive.mean(), abs=0.01)


def test_fit_does_not_depend_on_the_time_unit(cdnow_like):
    d = cdnow_like.head(5_000)
    weeks = BGNBD().fit(d["frequency"], d["recency"], d["T"])
    days = BGNBD().fit(d["frequency"], d["recency"] * 7, d["T"] * 7)
    for name in ("r", "a", "b"):
        assert days.params_[name] == pytest.approx(weeks.params_[name], rel=1e-4)
    assert days.params_["alpha"] == pytest.approx(7 * weeks.params_["alpha"], rel=1e-4)
    # the likelihood of times is a density: rescaling shifts it by -sum(x) * log(7)
    shift = float(d["frequency"].sum()) * np.log(7)
    assert days.log_likelihood_ == pytest.approx(weeks.log_likelihood_ - shift, abs=1e-3)


def test_weights_are_equivalent_to_repeated_rows():
    d = simulate_bgnbd(3_000, **PAPER, T=39.0, seed=4)
    x = d["frequency"].to_numpy()
    t_x, T = np.round(d["recency"].to_numpy()), d["T"].to_numpy()
    keys, counts = np.unique(np.c_[x, t_x, T], axis=0, return_counts=True)
    a = BGNBD().fit(x, t_x, T)
    b = BGNBD().fit(keys[:, 0], keys[:, 1], keys[:, 2], weights=counts)
    for name in a.params_:
        assert b.params_[name] == pytest.approx(a.params_[name], rel=1e-4)
    assert b.log_likelihood_ == pytest.approx(a.log_likelihood_, rel=1e-9)


def test_one_time_buyers_are_alive_with_probability_one():
    model = _published_model()
    p = model.p_alive([0, 0, 0], [0.0, 0.0, 0.0], [1.0, 50.0, 5_000.0])
    np.testing.assert_array_equal(p, 1.0)
    d = simulate_bgnbd(20_000, **PAPER, T=39.0, seed=2)
    diag = one_time_buyer_diagnostic(model, d["frequency"], d["recency"], d["T"], long_ago=20.0)
    assert diag.mean_p_alive_one_time == 1.0
    assert diag.mean_p_alive_repeat < 1.0
    assert diag.share_one_time == pytest.approx(float((d["frequency"] == 0).mean()))


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(1, 60),
    t_x=st.floats(0.0, 50.0),
    gap=st.floats(0.0, 100.0),
    more=st.floats(0.1, 100.0),
)
def test_p_alive_falls_as_time_passes_without_purchase(x, t_x, gap, more):
    model = _published_model()
    T = t_x + gap
    now = float(model.p_alive(x, t_x, T))
    later = float(model.p_alive(x, t_x, T + more))
    assert 0.0 <= later <= now <= 1.0
    # a later last purchase (same T) means more likely alive
    assert float(model.p_alive(x, min(t_x + gap / 2, T), T)) >= now - 1e-12


def test_p_alive_of_a_very_frequent_past_buyer_is_zero_without_warnings():
    assert float(_published_model().p_alive(1000, 10.0, 100.0)) == 0.0


def test_no_dropout_data_ends_on_the_boundary_with_a_warning():
    # purchases forever (p ~ 0): the likelihood is maximised as a -> 0 (BG/NBD becomes NBD)
    d = simulate_bgnbd(3_000, r=2.0, alpha=10.0, a=1e-4, b=1e4, T=60.0, seed=1)
    with pytest.warns(BGNBDFitWarning, match="boundary"):
        model = BGNBD().fit(d["frequency"], d["recency"], d["T"])
    assert "a" in model.at_bound_ or "b" in model.at_bound_
    assert float(model.p_alive(d["frequency"], d["recency"], d["T"]).min()) > 0.99


@pytest.mark.parametrize(
    ("freq", "rec", "T", "match"),
    [
        ([1], [5.0], [4.0], "recency must be <= T"),
        ([-1], [0.0], [4.0], "non-negative integer"),
        ([1.5], [1.0], [4.0], "non-negative integer"),
        ([0], [2.0], [4.0], "recency must be 0"),
        ([1], [np.nan], [4.0], "finite"),
        ([], [], [], "no customers"),
    ],
)
def test_invalid_inputs_are_explained(freq, rec, T, match):
    with pytest.raises(ValueError, match=match):
        BGNBD().fit(freq, rec, T)


def test_predictions_need_a_fitted_model():
    with pytest.raises(AttributeError, match="not fitted"):
        BGNBD().p_alive(1, 1.0, 2.0)


def test_a_line_search_stalled_at_the_optimum_counts_as_converged(monkeypatch, cdnow_like):
    """L-BFGS-B may end ABNORMAL (its line search cannot lower the objective any more in floating
    point) at the optimum; seen on one CPU at a flat optimum on the a -> 0 bound, not on another.
    Then the first-order conditions decide: no "did not converge" warning, same estimates."""
    import warnings

    from smsanalytics.churn import bgnbd

    d = cdnow_like
    reference = BGNBD().fit(d["frequency"], d["recency"], d["T"])
    minimize = bgnbd.optimize.minimize

    def stalled(*args, **kwargs):
        result = minimize(*args, **kwargs)
        result.success, result.message = False, "ABNORMAL: "
        return result

    monkeypatch.setattr(bgnbd.optimize, "minimize", stalled)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = BGNBD().fit(d["frequency"], d["recency"], d["T"])
    assert model.converged_ and model.params_ == reference.params_


def test_an_optimiser_stopped_early_is_not_converged_and_says_so(cdnow_like):
    d = cdnow_like
    with pytest.warns(BGNBDFitWarning, match="did not converge"):
        model = BGNBD(max_iter=2).fit(d["frequency"], d["recency"], d["T"])
    assert not model.converged_


def test_docstring_examples() -> None:
    import doctest

    from smsanalytics.churn import bgnbd

    result = doctest.testmod(bgnbd, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 1 and result.failed == 0
