"""Churn: labels, BG/NBD P(alive), the calibrated ChurnModel and their evaluation.

- :mod:`smsanalytics.churn.bgnbd` — :class:`BGNBD` (Fader, Hardie & Lee 2005) and its simulator;
- :mod:`smsanalytics.churn.labels` — the churn label and point-in-time datasets;
- :mod:`smsanalytics.churn.model` — :class:`ChurnModel`;
- :mod:`smsanalytics.churn.evaluate` — the side-by-side evaluation on held-out periods.
"""

from smsanalytics.churn.bgnbd import (
    BGNBD,
    FADER_HARDIE_LEE_2005_CDNOW,
    BGNBDFitWarning,
    OneTimeBuyerDiagnostic,
    bgnbd_log_likelihood,
    one_time_buyer_diagnostic,
    simulate_bgnbd,
)
from smsanalytics.churn.evaluate import (
    ChurnEvaluation,
    churn_scores,
    evaluate_churn,
    evaluate_online_retail,
    expected_calibration_error,
    reliability_table,
)
from smsanalytics.churn.labels import ChurnPeriods, build_churn_dataset, churn_labels, churn_periods
from smsanalytics.churn.model import CHURN_FEATURES, ChurnModel, churn_design_matrix

__all__ = [
    "BGNBD",
    "BGNBDFitWarning",
    "CHURN_FEATURES",
    "ChurnEvaluation",
    "ChurnModel",
    "ChurnPeriods",
    "FADER_HARDIE_LEE_2005_CDNOW",
    "OneTimeBuyerDiagnostic",
    "bgnbd_log_likelihood",
    "build_churn_dataset",
    "churn_design_matrix",
    "churn_labels",
    "churn_periods",
    "churn_scores",
    "evaluate_churn",
    "evaluate_online_retail",
    "expected_calibration_error",
    "one_time_buyer_diagnostic",
    "reliability_table",
    "simulate_bgnbd",
]
