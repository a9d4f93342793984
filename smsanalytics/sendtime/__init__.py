"""Best send time per contact, as send windows, with an evaluation users can trust.

- :class:`SendTimeModel` (scikit-learn style): ``fit`` on sends and clicks (or
  :meth:`~SendTimeModel.fit_events` on orders), ``predict`` the best allowed local hour of week
  per contact with the fallback level used, ``predict_windows`` the best allowed
  ``[start_at, end_at)`` on a campaign date;
- :func:`predict_windows`, :func:`split_control_arm` (random-time control arm),
  :func:`readout_send_time` (optimised versus random, with the A/B statistics);
- :func:`evaluate_programme` (ground truth of generated data) and :func:`evaluate_online_retail`
  (real order timestamps);
- :class:`ZoneOffsets` and :func:`local_hour_of_week`: DST-exact local times from per-zone
  offset tables, without a ``zoneinfo`` call per row.

See ``docs/sendtime.md`` for the model, its priors, the evaluation tables and the benchmark.
"""

from smsanalytics.sendtime.evaluate import (
    STRATEGIES,
    SendTimeEvaluation,
    SendTimeReadout,
    evaluate_online_retail,
    evaluate_programme,
    readout_send_time,
)
from smsanalytics.sendtime.model import (
    HOURS_OF_WEEK,
    LEVELS,
    AllowedHours,
    SendTimeError,
    SendTimeModel,
    fit_prior_strength,
    label_responses,
)
from smsanalytics.sendtime.timezones import ZoneError, ZoneOffsets, local_hour_of_week
from smsanalytics.sendtime.windows import (
    ComplianceQuietHours,
    QuietHoursRule,
    campaign_dates,
    predict_windows,
    split_control_arm,
)

__all__ = [
    "HOURS_OF_WEEK",
    "LEVELS",
    "STRATEGIES",
    "AllowedHours",
    "ComplianceQuietHours",
    "QuietHoursRule",
    "SendTimeError",
    "SendTimeEvaluation",
    "SendTimeModel",
    "SendTimeReadout",
    "ZoneError",
    "ZoneOffsets",
    "campaign_dates",
    "evaluate_online_retail",
    "evaluate_programme",
    "fit_prior_strength",
    "label_responses",
    "local_hour_of_week",
    "predict_windows",
    "readout_send_time",
    "split_control_arm",
]
