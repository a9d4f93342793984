"""Uplift meta-estimators in scikit-learn style: ``fit(X, y, treatment)``, ``predict(X) -> uplift``.

Each wraps any scikit-learn classifier with ``predict_proba`` (cloned, never modified) and takes
``treatment`` in ``fit``, so it works as the last step of a :class:`sklearn.pipeline.Pipeline`
(``pipe.fit(X, y, model__treatment=t)``), as in scikit-uplift.

- :class:`TwoModels` — T-learner: one outcome model per arm, uplift = difference.
- :class:`ClassTransformation` — Jaskowski & Jaroszewicz (2012): learn
  :math:`Z = YW + (1-Y)(1-W)`; with a 50/50 treatment split :math:`\\tau(x) = 2P(Z=1|x) - 1`.
  Unbalanced arms are reweighted to 50/50 (``balance=True``), which keeps the identity exact.
- :class:`SoloModel` — S-learner: one model with the treatment flag as a feature (optionally
  with treatment × feature interactions), scored with the flag set to 1 and 0.
- :class:`XLearner` — Künzel et al. (2019): per-arm outcome classifiers impute each contact's
  individual effect, per-arm regressors learn it, and the two are blended by the treated share.
- :class:`UpliftEnsemble` — mean of the members' uplift *ranks* (robust to members on different
  scales).
- :class:`UpliftSearchCV` — picks among candidate uplift estimators (or hyper-parameters) by
  stratified K-fold cross-validation **on the data given to fit only**, then refits the best.

References
----------
Jaskowski, M. & Jaroszewicz, S. (2012). Uplift modeling for clinical trial data. ICML Workshop on
Clinical Data Analysis.

Künzel, S. R., Sekhon, J. S., Bickel, P. J. & Yu, B. (2019). Metalearners for estimating
heterogeneous treatment effects using machine learning. *PNAS* 116(10), 4156–4165.

Lo, V. S. Y. (2002). The true lift model. *SIGKDD Explorations* 4(2), 78–86.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from smsanalytics.uplift.metrics import qini_auc_score, uplift_at_k

__all__ = [
    "TwoModels",
    "ClassTransformation",
    "SoloModel",
    "XLearner",
    "UpliftEnsemble",
    "UpliftSearchCV",
    "check_treatment",
]


def check_treatment(X, y, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``y`` and ``treatment`` against ``X``; return them as 1-d integer arrays.

    Raises
    ------
    ValueError
        When lengths differ, ``treatment`` is not 0/1 with both values present, or ``y`` is not
        binary 0/1.
    """
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    y = np.asarray(y).ravel()
    t = np.asarray(treatment).ravel()
    if not (y.size == t.size == n):
        raise ValueError(
            f"X, y and treatment must have the same length; got {n}, {y.size}, {t.size}"
        )
    t_values = set(np.unique(t).tolist())
    if not t_values <= {0, 1} or len(t_values) < 2:
        raise ValueError(
            "treatment must hold both 0 (control) and 1 (treated); "
            f"got values {sorted(t_values)[:5]}"
        )
    y_values = set(np.unique(y).tolist())
    if not y_values <= {0, 1}:
        raise ValueError(f"y must be a binary 0/1 outcome; got values {sorted(y_values)[:5]}")
    return y.astype(np.int64), t.astype(np.int64)


def _proba(estimator, X) -> np.ndarray:
    p = estimator.predict_proba(X)
    classes = list(estimator.classes_)
    if 1 not in classes:  # a model that only ever saw y == 0
        return np.zeros(p.shape[0])
    return p[:, classes.index(1)]


class TwoModels(BaseEstimator):
    """T-learner: separate outcome models for the treated and control arms.

    Parameters
    ----------
    estimator
        Classifier with ``predict_proba`` used for the treated arm (cloned).
    estimator_control
        Classifier for the control arm; defaults to a clone of ``estimator``.

    Attributes
    ----------
    estimator_treatment_, estimator_control_
        The fitted per-arm models.
    """

    def __init__(self, estimator, estimator_control=None) -> None:
        self.estimator = estimator
        self.estimator_control = estimator_control

    def fit(self, X, y, treatment, **fit_params) -> TwoModels:
        """Fit one model on the treated rows and one on the control rows."""
        y, t = check_treatment(X, y, treatment)
        X = _rows(X)
        self.estimator_treatment_ = clone(self.estimator).fit(
            _take(X, t == 1), y[t == 1], **fit_params
        )
        control = self.estimator if self.estimator_control is None else self.estimator_control
        self.estimator_control_ = clone(control).fit(_take(X, t == 0), y[t == 0], **fit_params)
        return self

    def predict_outcomes(self, X) -> tuple[np.ndarray, np.ndarray]:
        """P(y=1 | treated, x) and P(y=1 | control, x)."""
        X = _rows(X)
        return _proba(self.estimator_treatment_, X), _proba(self.estimator_control_, X)

    def predict(self, X) -> np.ndarray:
        """Predicted uplift :math:`P(y|t=1,x) - P(y|t=0,x)`."""
        p_t, p_c = self.predict_outcomes(X)
        return p_t - p_c


class ClassTransformation(BaseEstimator):
    """Class-variable transformation (Jaskowski & Jaroszewicz 2012).

    Parameters
    ----------
    estimator
        Classifier with ``predict_proba`` and ``sample_weight`` support in ``fit`` (cloned).
    balance
        Reweight rows so both arms weigh half (exact when the treated share is not 50%); without
        it the identity :math:`\\tau = 2P(Z=1)-1` only holds for a 50/50 split.
    """

    def __init__(self, estimator, *, balance: bool = True) -> None:
        self.estimator = estimator
        self.balance = balance

    def fit(self, X, y, treatment, **fit_params) -> ClassTransformation:
        """Fit the classifier on :math:`Z = y\\,t + (1-y)(1-t)`."""
        y, t = check_treatment(X, y, treatment)
        z = (y == t).astype(np.int64)
        self.treated_share_ = float(t.mean())
        if self.balance:
            w = np.where(t == 1, 0.5 / self.treated_share_, 0.5 / (1 - self.treated_share_))
            key = _sample_weight_key(self.estimator)
            if key in fit_params:
                w = w * np.asarray(fit_params.pop(key), dtype=float)
            fit_params[key] = w
        self.estimator_ = clone(self.estimator).fit(_rows(X), z, **fit_params)
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted uplift :math:`2P(Z=1|x) - 1`."""
        return 2 * _proba(self.estimator_, _rows(X)) - 1


class SoloModel(BaseEstimator):
    """S-learner: one classifier with the treatment flag (and optionally interactions) as features.

    Parameters
    ----------
    estimator
        Classifier with ``predict_proba`` (cloned).
    method
        ``"dummy"``: append the flag; ``"treatment_interaction"``: also append flag × each feature.
    """

    def __init__(
        self, estimator, *, method: Literal["dummy", "treatment_interaction"] = "dummy"
    ) -> None:
        self.estimator = estimator
        self.method = method

    def _augment(self, X: np.ndarray, flag: np.ndarray) -> np.ndarray:
        cols = [X, flag[:, None]]
        if self.method == "treatment_interaction":
            cols.append(X * flag[:, None])
        return np.hstack(cols)

    def fit(self, X, y, treatment, **fit_params) -> SoloModel:
        """Fit on ``[X, treatment(, X * treatment)]``."""
        if self.method not in ("dummy", "treatment_interaction"):
            raise ValueError(
                f"method must be 'dummy' or 'treatment_interaction', got {self.method!r}"
            )
        y, t = check_treatment(X, y, treatment)
        X = np.asarray(_rows(X), dtype=float)
        self.estimator_ = clone(self.estimator).fit(
            self._augment(X, t.astype(float)), y, **fit_params
        )
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted uplift: score with the flag at 1 minus score with the flag at 0."""
        X = np.asarray(_rows(X), dtype=float)
        ones, zeros = np.ones(X.shape[0]), np.zeros(X.shape[0])
        return _proba(self.estimator_, self._augment(X, ones)) - _proba(
            self.estimator_, self._augment(X, zeros)
        )


class XLearner(BaseEstimator):
    """X-learner (Künzel et al. 2019): impute individual effects, then regress them.

    1. Outcome classifiers :math:`\\mu_1, \\mu_0` are fitted on the treated and control rows;
    2. imputed effects :math:`D_1 = y - \\mu_0(x)` (treated rows) and
       :math:`D_0 = \\mu_1(x) - y` (control rows) are regressed on ``x`` by ``effect_estimator``,
       giving :math:`\\tau_1, \\tau_0`;
    3. uplift :math:`\\tau(x) = e\\,\\tau_0(x) + (1 - e)\\,\\tau_1(x)` with :math:`e` the treated
       share of the training rows (the propensity of a randomised experiment).

    A strongly regularised (e.g. ridge) ``effect_estimator`` gives a smooth, low-variance uplift
    model even when the outcome classifiers are flexible.

    Parameters
    ----------
    estimator
        Classifier with ``predict_proba`` for the outcome models (cloned; one per arm).
    effect_estimator
        Regressor for the imputed effects (cloned; one per arm).
    estimator_control
        Outcome classifier for the control arm; defaults to a clone of ``estimator``.

    Attributes
    ----------
    estimator_treatment_, estimator_control_
        Fitted outcome models :math:`\\mu_1, \\mu_0`.
    effect_treatment_, effect_control_
        Fitted effect regressors :math:`\\tau_1` (on treated rows) and :math:`\\tau_0` (control).
    treated_share_
        :math:`e`.
    """

    def __init__(self, estimator, effect_estimator, *, estimator_control=None) -> None:
        self.estimator = estimator
        self.effect_estimator = effect_estimator
        self.estimator_control = estimator_control

    def fit(self, X, y, treatment) -> XLearner:
        """Fit the outcome models, then the effect regressors on the imputed effects."""
        y, t = check_treatment(X, y, treatment)
        X = _rows(X)
        X1, X0 = _take(X, t == 1), _take(X, t == 0)
        self.estimator_treatment_ = clone(self.estimator).fit(X1, y[t == 1])
        control = self.estimator if self.estimator_control is None else self.estimator_control
        self.estimator_control_ = clone(control).fit(X0, y[t == 0])
        d1 = y[t == 1] - _proba(self.estimator_control_, X1)
        d0 = _proba(self.estimator_treatment_, X0) - y[t == 0]
        self.effect_treatment_ = clone(self.effect_estimator).fit(X1, d1)
        self.effect_control_ = clone(self.effect_estimator).fit(X0, d0)
        self.treated_share_ = float(t.mean())
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted uplift :math:`e\\,\\tau_0(x) + (1-e)\\,\\tau_1(x)`."""
        X = _rows(X)
        e = self.treated_share_
        return e * np.asarray(self.effect_control_.predict(X), dtype=float) + (1 - e) * np.asarray(
            self.effect_treatment_.predict(X), dtype=float
        )


class UpliftEnsemble(BaseEstimator):
    """Average of the members' uplift ranks, rescaled to (0, 1]: a robust combination for ranking.

    The output is a ranking score, not an uplift in outcome units; use it for targeting and
    rank-based metrics (uplift@k, Qini), and a member's :meth:`predict` for calibrated values.

    Parameters
    ----------
    estimators
        ``[(name, uplift_estimator), ...]`` (cloned).
    """

    def __init__(self, estimators) -> None:
        self.estimators = estimators

    def fit(self, X, y, treatment, **fit_params) -> UpliftEnsemble:
        """Fit every member on the same data."""
        if not self.estimators:
            raise ValueError("UpliftEnsemble needs at least one (name, estimator) pair")
        self.estimators_ = [
            (name, clone(est).fit(X, y, treatment, **fit_params)) for name, est in self.estimators
        ]
        return self

    def predict(self, X) -> np.ndarray:
        """Mean rank (1 = lowest uplift) of each row over the members, divided by the row count."""
        ranks = [stats.rankdata(est.predict(X)) for _, est in self.estimators_]
        return np.mean(ranks, axis=0) / len(ranks[0])


Scoring = Literal["qini", "uplift_at_k"]


class UpliftSearchCV(BaseEstimator):
    """Choose among candidate uplift estimators by cross-validation on the training data only.

    Each candidate is scored by stratified K-fold cross-validation (strata = treatment × outcome)
    on the rows passed to :meth:`fit`; the best mean score wins and is refitted on all those rows.
    Nothing outside ``fit``'s data is ever seen, so the held-out test rows stay untouched.

    Parameters
    ----------
    candidates
        ``{name: uplift_estimator}``.
    scoring
        ``"qini"`` (normalised Qini coefficient, smoother) or ``"uplift_at_k"`` (strategy
        ``"overall"`` at ``k``), or a callable ``(y, uplift, treatment) -> float``.
    k
        Share for ``"uplift_at_k"``.
    cv
        Number of folds.
    n_repeats
        Repetitions of the ``cv``-fold split (repetition ``r`` shuffles with seed
        ``random_state + r``); the score is the mean over all ``cv × n_repeats`` folds, which makes
        the choice less dependent on one partition.
    random_state
        Seed of the fold shuffling.

    Attributes
    ----------
    best_name_, best_estimator_, cv_scores_
        The winner, refitted; and ``{name: [fold scores]}`` (``cv × n_repeats`` per name).
    """

    def __init__(
        self,
        candidates: Mapping[str, BaseEstimator],
        *,
        scoring: Scoring | Callable[[np.ndarray, np.ndarray, np.ndarray], float] = "qini",
        k: float = 0.3,
        cv: int = 5,
        n_repeats: int = 1,
        random_state: int | None = 0,
    ) -> None:
        self.candidates = candidates
        self.scoring = scoring
        self.k = k
        self.cv = cv
        self.n_repeats = n_repeats
        self.random_state = random_state

    def _score(self, y, u, t) -> float:
        if callable(self.scoring):
            return float(self.scoring(y, u, t))
        if self.scoring == "qini":
            return qini_auc_score(y, u, t)
        if self.scoring == "uplift_at_k":
            return uplift_at_k(y, u, t, strategy="overall", k=self.k)
        raise ValueError(
            f"scoring must be 'qini', 'uplift_at_k' or a callable, got {self.scoring!r}"
        )

    def fit(self, X, y, treatment) -> UpliftSearchCV:
        """Cross-validate every candidate on ``(X, y, treatment)``; refit the best on all of it."""
        if not self.candidates:
            raise ValueError("UpliftSearchCV needs at least one candidate")
        if not isinstance(self.n_repeats, int | np.integer) or self.n_repeats < 1:
            raise ValueError(f"n_repeats must be a positive integer, got {self.n_repeats!r}")
        y, t = check_treatment(X, y, treatment)
        X = _rows(X)
        strata = 2 * t + y
        splits = [
            split
            for r in range(self.n_repeats)
            for split in StratifiedKFold(
                n_splits=self.cv,
                shuffle=True,
                random_state=None if self.random_state is None else self.random_state + r,
            ).split(np.zeros(y.size), strata)
        ]
        scores: dict[str, list[float]] = {name: [] for name in self.candidates}
        for train, valid in splits:
            for name, est in self.candidates.items():
                model = clone(est).fit(_take(X, train), y[train], t[train])
                scores[name].append(self._score(y[valid], model.predict(_take(X, valid)), t[valid]))
        self.cv_scores_ = scores
        self.best_name_ = max(scores, key=lambda name: float(np.mean(scores[name])))
        self.best_estimator_ = clone(self.candidates[self.best_name_]).fit(X, y, t)
        return self

    def predict(self, X) -> np.ndarray:
        """Uplift predicted by the refitted best candidate."""
        return self.best_estimator_.predict(_rows(X))


def _sample_weight_key(estimator) -> str:
    """``sample_weight``, routed to the last step when the estimator is a Pipeline."""
    if isinstance(estimator, Pipeline):
        return f"{estimator.steps[-1][0]}__sample_weight"
    return "sample_weight"


def _rows(X):
    """Accept numpy arrays and polars/pandas frames (converted to numpy)."""
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        return X.to_numpy()
    return X


def _take(X, index):
    return X[index]
