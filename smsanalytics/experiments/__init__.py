"""A/B tests: design, deterministic assignment, and readouts from sufficient statistics.

- design: :func:`sample_size_proportion`, :func:`sample_size_mean`, :func:`mde_proportion`,
  :func:`mde_mean`, :func:`power_proportion`, :func:`power_mean`;
- assignment: :func:`assign_arms`, :func:`global_holdout`, :func:`hash_unit`;
- statistics: :class:`ProportionStatistic`, :class:`SampleMeanStatistic`,
  :class:`RegressionAdjustedStatistic`, and :func:`arm_stats_from_warehouse` (SQL);
- inference: :func:`two_proportion_ztest`, :func:`welch_ttest`, :func:`adjust_p_values`,
  :func:`beta_binomial_test`, :func:`normal_model_test`, :func:`sequential_test`,
  :func:`confidence_sequence`, :func:`cuped_adjust`, :func:`srm_test`;
- one entry point: :func:`readout` -> :class:`ReadoutResult`;
- charts: :func:`chart_lift`, :func:`chart_sequential`, :func:`chart_posteriors`.

See ``docs/experiments.md`` for the formulas and references. The chart builders import altair
lazily (on first use), so the statistics load fast.
"""

from typing import Any

from smsanalytics.experiments.bayesian import (
    BayesianResult,
    BetaPrior,
    bayesian_test,
    beta_binomial_test,
    beta_expected_loss,
    normal_model_test,
    prob_beta_greater,
)
from smsanalytics.experiments.cuped import CupedAdjustment, cuped_adjust, cuped_theta
from smsanalytics.experiments.design import (
    GLOBAL_HOLDOUT_SALT,
    GLOBAL_HOLDOUT_VARIANT,
    DesignResult,
    assign_arms,
    global_holdout,
    hash_unit,
    mde_mean,
    mde_proportion,
    power_mean,
    power_proportion,
    sample_size_mean,
    sample_size_proportion,
)
from smsanalytics.experiments.effects import EffectEstimate, estimate_effect
from smsanalytics.experiments.frequentist import (
    FrequentistResult,
    adjust_p_values,
    frequentist_test,
    two_proportion_ztest,
    welch_ttest,
)
from smsanalytics.experiments.readout import (
    ArmResult,
    ReadoutResult,
    readout,
    statistics_from_frame,
)
from smsanalytics.experiments.sequential import (
    PeekingSimulation,
    SequentialResult,
    confidence_sequence,
    sequential_test,
    simulate_aa_peeking,
)
from smsanalytics.experiments.srm import SrmResult, srm_test
from smsanalytics.experiments.stats import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    Statistic,
)
from smsanalytics.experiments.warehouse_stats import (
    WarehouseMetric,
    arm_stats_frame,
    arm_stats_from_warehouse,
    configured_weights,
)

__all__ = [
    # statistics
    "ProportionStatistic",
    "SampleMeanStatistic",
    "RegressionAdjustedStatistic",
    "Statistic",
    "statistics_from_frame",
    "arm_stats_frame",
    "arm_stats_from_warehouse",
    "configured_weights",
    "WarehouseMetric",
    # design
    "DesignResult",
    "power_proportion",
    "power_mean",
    "sample_size_proportion",
    "sample_size_mean",
    "mde_proportion",
    "mde_mean",
    "hash_unit",
    "assign_arms",
    "global_holdout",
    "GLOBAL_HOLDOUT_SALT",
    "GLOBAL_HOLDOUT_VARIANT",
    # inference
    "EffectEstimate",
    "estimate_effect",
    "FrequentistResult",
    "two_proportion_ztest",
    "welch_ttest",
    "frequentist_test",
    "adjust_p_values",
    "BetaPrior",
    "BayesianResult",
    "beta_binomial_test",
    "normal_model_test",
    "bayesian_test",
    "prob_beta_greater",
    "beta_expected_loss",
    "SequentialResult",
    "sequential_test",
    "confidence_sequence",
    "PeekingSimulation",
    "simulate_aa_peeking",
    "CupedAdjustment",
    "cuped_adjust",
    "cuped_theta",
    "SrmResult",
    "srm_test",
    # readout and charts
    "ArmResult",
    "ReadoutResult",
    "readout",
    "chart_lift",
    "chart_sequential",
    "chart_posteriors",
]

_LAZY_CHARTS = ("chart_lift", "chart_sequential", "chart_posteriors")


def __getattr__(name: str) -> Any:
    """Import the altair chart builders on first access (altair is slow to import)."""
    if name in _LAZY_CHARTS:
        from smsanalytics.experiments import charts

        return getattr(charts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
