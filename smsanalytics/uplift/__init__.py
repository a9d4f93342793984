"""Uplift modelling: meta-estimators (``fit(X, y, treatment)``), metrics, Hillstrom benchmark.

Estimators live in :mod:`smsanalytics.uplift.models`, metrics (pure functions of
``(y_true, uplift, treatment)``) in :mod:`smsanalytics.uplift.metrics`, the validation on the
Hillstrom e-mail experiment in :mod:`smsanalytics.uplift.hillstrom`.
"""

from smsanalytics.uplift.metrics import (
    average_treatment_effect,
    perfect_qini_curve,
    qini_auc_score,
    qini_curve,
    random_qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_by_percentile,
    uplift_curve,
)
from smsanalytics.uplift.models import (
    ClassTransformation,
    SoloModel,
    TwoModels,
    UpliftEnsemble,
    UpliftSearchCV,
    XLearner,
)

__all__ = [
    "ClassTransformation",
    "SoloModel",
    "TwoModels",
    "UpliftEnsemble",
    "UpliftSearchCV",
    "XLearner",
    "average_treatment_effect",
    "perfect_qini_curve",
    "qini_auc_score",
    "qini_curve",
    "random_qini_curve",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_by_percentile",
    "uplift_curve",
]
