"""Uplift meta-estimators recover a known treatment effect and follow scikit-learn conventions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from smsanalytics.uplift import (
    ClassTransformation,
    SoloModel,
    TwoModels,
    UpliftEnsemble,
    UpliftSearchCV,
    uplift_at_k,
)
from smsanalytics.uplift.models import XLearner


@pytest.fixture(autouse=True)
def _one_thread():
    """One OpenMP/BLAS thread: on a shared, oversubscribed machine spinning worker threads make
    gradient boosting tens of times slower than a single thread."""
    with threadpool_limits(limits=1):
        yield


def _simulate(n: int, *, treated_share: float = 0.5, seed: int = 0):
    """Logistic outcome with a treatment effect that grows with x0 (known true uplift)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = (rng.random(n) < treated_share).astype(int)
    base = -2.0 + 0.5 * X[:, 1]
    effect = 0.8 * (X[:, 0] > 0) + 0.6 * X[:, 0]
    p0 = 1 / (1 + np.exp(-base))
    p1 = 1 / (1 + np.exp(-(base + effect)))
    y = (rng.random(n) < np.where(t == 1, p1, p0)).astype(int)
    return X, y, t, p1 - p0


def _lr():
    return LogisticRegression(max_iter=1000)


def _interactions(X):
    return np.c_[X, (X[:, :1] > 0).astype(float)]


@pytest.mark.parametrize(
    "model",
    [
        TwoModels(_lr()),
        ClassTransformation(_lr()),
        SoloModel(_lr(), method="treatment_interaction"),
        XLearner(_lr(), LinearRegression()),
    ],
    ids=["two_models", "class_transformation", "solo_model", "x_learner"],
)
def test_estimators_rank_contacts_like_the_true_uplift(model):
    X, y, t, tau = _simulate(20_000, seed=1)
    Xi = _interactions(X)
    model = clone(model).fit(Xi[:15_000], y[:15_000], t[:15_000])
    pred = model.predict(Xi[15_000:])
    assert stats.spearmanr(pred, tau[15_000:]).statistic > 0.8
    assert uplift_at_k(y[15_000:], pred, t[15_000:], k=0.3) > uplift_at_k(
        y[15_000:], -pred, t[15_000:], k=0.3
    )


def test_class_transformation_is_unbiased_with_unbalanced_arms_when_reweighted():
    X, y, t, tau = _simulate(60_000, treated_share=0.8, seed=2)
    Xi = _interactions(X)
    balanced = ClassTransformation(_lr()).fit(Xi, y, t)
    naive = ClassTransformation(_lr(), balance=False).fit(Xi, y, t)
    # with 80% treated the naive transformation is badly biased; reweighting removes the bias
    assert balanced.predict(Xi).mean() == pytest.approx(tau.mean(), abs=0.015)
    assert abs(naive.predict(Xi).mean() - tau.mean()) > 0.1


def test_two_models_predicts_each_arm():
    X, y, t, _ = _simulate(5_000, seed=3)
    model = TwoModels(_lr()).fit(X, y, t)
    p_t, p_c = model.predict_outcomes(X)
    np.testing.assert_allclose(model.predict(X), p_t - p_c)
    assert p_t.mean() == pytest.approx(y[t == 1].mean(), abs=0.02)
    assert p_c.mean() == pytest.approx(y[t == 0].mean(), abs=0.02)


def test_x_learner_blends_the_arm_effect_models_by_the_treated_share():
    X, y, t, tau = _simulate(30_000, treated_share=0.7, seed=6)
    Xi = _interactions(X)
    model = XLearner(_lr(), LinearRegression()).fit(Xi, y, t)
    assert model.treated_share_ == pytest.approx(t.mean())
    tau1 = model.effect_treatment_.predict(Xi)
    tau0 = model.effect_control_.predict(Xi)
    np.testing.assert_allclose(model.predict(Xi), 0.7 * tau0 + 0.3 * tau1, atol=0.01)
    # imputed effects are on the outcome scale: the mean predicted uplift is the true mean effect
    assert model.predict(Xi).mean() == pytest.approx(tau.mean(), abs=0.01)
    # a separate control-arm outcome model is used when given
    dummy = XLearner(_lr(), LinearRegression(), estimator_control=DummyClassifier()).fit(Xi, y, t)
    assert isinstance(dummy.estimator_control_, DummyClassifier)


def test_estimators_work_as_the_last_step_of_a_pipeline():
    X, y, t, tau = _simulate(8_000, seed=4)
    for model in (TwoModels(_lr()), ClassTransformation(_lr())):
        pipe = Pipeline([("scale", StandardScaler()), ("model", model)]).fit(
            _interactions(X), y, model__treatment=t
        )
        assert stats.spearmanr(pipe.predict(_interactions(X)), tau).statistic > 0.7
    # a Pipeline as the estimator of ClassTransformation receives the balancing weights
    inner = Pipeline([("scale", StandardScaler()), ("lr", _lr())])
    ct = ClassTransformation(inner).fit(_interactions(X), y, t)
    assert np.isfinite(ct.predict(_interactions(X))).all()


def test_ensemble_and_search_choose_by_cross_validation_on_fit_data_only():
    X, y, t, tau = _simulate(12_000, seed=5)
    Xi = _interactions(X)
    useless = TwoModels(DummyClassifier(strategy="prior"))
    search = UpliftSearchCV({"useless": useless, "logistic": TwoModels(_lr())}, cv=3).fit(Xi, y, t)
    assert search.best_name_ == "logistic"
    assert (
        set(search.cv_scores_) == {"useless", "logistic"}
        and len(search.cv_scores_["logistic"]) == 3
    )
    repeated = UpliftSearchCV(
        {"useless": useless, "logistic": TwoModels(_lr())}, cv=3, n_repeats=2
    ).fit(Xi, y, t)
    assert repeated.best_name_ == "logistic" and len(repeated.cv_scores_["logistic"]) == 6
    # the first repetition is the single-repetition search (same folds, same scores)
    assert repeated.cv_scores_["logistic"][:3] == search.cv_scores_["logistic"]
    with pytest.raises(ValueError, match="n_repeats"):
        UpliftSearchCV({"logistic": TwoModels(_lr())}, n_repeats=0).fit(Xi, y, t)
    ensemble = UpliftEnsemble([("a", TwoModels(_lr())), ("b", ClassTransformation(_lr()))]).fit(
        Xi, y, t
    )
    ranks = ensemble.predict(Xi)
    assert ranks.min() > 0 and ranks.max() <= 1
    assert stats.spearmanr(ranks, tau).statistic > 0.8


def test_estimators_follow_scikit_learn_conventions():
    model = TwoModels(_lr())
    assert clone(model).get_params()["estimator"].max_iter == 1000
    assert model.set_params(estimator=DummyClassifier()) is model
    with pytest.raises(AttributeError):
        model.estimator_treatment_  # noqa: B018 - not fitted: no learned attribute


@pytest.mark.parametrize(
    ("y", "t", "match"),
    [
        ([0, 1, 0], [0, 1], "same length"),
        ([0, 1, 0], [1, 1, 1], "both 0"),
        ([0, 2, 1], [0, 1, 0], "binary"),
    ],
)
def test_fit_explains_invalid_treatment_or_outcome(y, t, match):
    X = np.zeros((3, 1))
    with pytest.raises(ValueError, match=match):
        TwoModels(_lr()).fit(X, y, t)
