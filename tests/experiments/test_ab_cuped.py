"""CUPED: equals the OLS treatment coefficient, reduces variance by about rho^2, keeps alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from smsanalytics.experiments import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    cuped_adjust,
    cuped_theta,
    frequentist_test,
    readout,
)


def _stat(y: np.ndarray, x: np.ndarray, binary: bool = False) -> RegressionAdjustedStatistic:
    post = (
        ProportionStatistic(y.size, float(y.sum()))
        if binary
        else SampleMeanStatistic(y.size, float(y.sum()), float((y**2).sum()))
    )
    return RegressionAdjustedStatistic(
        post, SampleMeanStatistic(x.size, float(x.sum()), float((x**2).sum())), float((x * y).sum())
    )


def _data(rng: np.random.Generator, n: int, rho: float, effect: float) -> tuple[np.ndarray, ...]:
    xc, xt = rng.normal(size=n), rng.normal(size=n)
    ec, et = rng.normal(size=n), rng.normal(size=n)
    s = math.sqrt(1 - rho**2)
    return 5 + rho * xc + s * ec, 5 + effect + rho * xt + s * et, xc, xt


def test_cuped_lift_and_theta_equal_ols_with_treatment_and_covariate() -> None:
    """Frisch-Waugh-Lovell: in y ~ 1 + treat + x, the x coefficient is the pooled within-arm slope
    and the treat coefficient is the CUPED-adjusted difference (statsmodels OLS as reference)."""
    rng = np.random.default_rng(4)
    yc, yt, xc, xt = _data(rng, 3000, 0.6, 0.1)
    yt, xt = yt[:2500], xt[:2500]  # unequal arms
    adj = cuped_adjust(_stat(yc, xc), _stat(yt, xt))
    y = np.concatenate([yc, yt])
    design = np.column_stack(
        [np.ones(y.size), np.r_[np.zeros(yc.size), np.ones(yt.size)], np.r_[xc, xt]]
    )
    fit = sm.OLS(y, design).fit()
    assert abs(adj.theta - fit.params[2]) < 1e-9
    assert abs((adj.treatment_mean - adj.control_mean) - fit.params[1]) < 1e-9
    assert adj.theta == pytest.approx(cuped_theta(_stat(yc, xc), _stat(yt, xt)))


def test_variance_reduction_is_about_rho_squared() -> None:
    rng = np.random.default_rng(8)
    yc, yt, xc, xt = _data(rng, 20_000, 0.7, 0.0)
    r = frequentist_test(_stat(yc, xc), _stat(yt, xt))
    assert r.test == "cuped-welch"
    assert r.variance_reduction == pytest.approx(0.49, abs=0.02)
    plain = frequentist_test(_stat(yc, xc), _stat(yt, xt), cuped=False)
    assert plain.variance_reduction is None
    assert r.se_abs / plain.se_abs == pytest.approx(math.sqrt(1 - r.variance_reduction), rel=1e-12)


def test_cuped_aa_false_positive_rate_is_alpha() -> None:
    """Seeded A/A: 2000 experiments of 2 x 1000 units with a covariate (rho = 0.6); the CUPED
    test must reject at ~5 % (the covariate adjustment must not inflate alpha)."""
    rng = np.random.default_rng(12)
    reps, rejects = 2000, 0
    for _ in range(reps):
        yc, yt, xc, xt = _data(rng, 1000, 0.6, 0.0)
        rejects += frequentist_test(_stat(yc, xc), _stat(yt, xt)).p_value < 0.05
    rate = rejects / reps
    assert abs(rate - 0.05) < 4 * math.sqrt(0.05 * 0.95 / reps), rate


def test_cuped_on_a_conversion_uses_the_normal_reference() -> None:
    rng = np.random.default_rng(1)
    xc, xt = rng.poisson(1.0, 5000).astype(float), rng.poisson(1.0, 5000).astype(float)
    yc = (rng.random(5000) < 0.02 + 0.02 * np.minimum(xc, 3)).astype(float)
    yt = (rng.random(5000) < 0.025 + 0.02 * np.minimum(xt, 3)).astype(float)
    r = frequentist_test(_stat(yc, xc, binary=True), _stat(yt, xt, binary=True))
    assert r.test == "cuped-z" and math.isinf(r.df)
    assert 0 < r.variance_reduction < 1


def test_constant_covariate_gives_no_adjustment() -> None:
    y = np.random.default_rng(0).normal(size=400)
    x = np.ones(400)
    adj = cuped_adjust(_stat(y[:200], x[:200]), _stat(y[200:], x[200:]))
    assert adj.theta == 0.0 and adj.variance_reduction == pytest.approx(0.0, abs=1e-12)


def test_readout_reports_cuped_variance_reduction() -> None:
    rng = np.random.default_rng(9)
    yc, yt, xc, xt = _data(rng, 4000, 0.5, 0.05)
    r = readout({"control": _stat(yc, xc), "B": _stat(yt, xt)})
    assert r.cuped and r.arms[0].variance_reduction == pytest.approx(0.25, abs=0.04)
    r2 = readout({"control": _stat(yc, xc), "B": _stat(yt, xt)}, cuped=False)
    assert not r2.cuped and r2.arms[0].variance_reduction is None
