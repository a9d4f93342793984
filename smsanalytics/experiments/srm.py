"""Sample-ratio mismatch (SRM): are the arm sizes consistent with the configured split?

An SRM means the assignment or the logging is broken (a filter applied to one arm, a crashed
sender, bots in one variant); any effect estimate computed on such data is suspect, so the readout
reports this check before any result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["SrmResult", "srm_test", "DEFAULT_SRM_THRESHOLD", "normalise_weights"]

#: Default p-value below which a sample-ratio mismatch is declared (Fabijan et al. 2019).
DEFAULT_SRM_THRESHOLD = 0.001

WEIGHTS_LENGTH_MESSAGE = "got {w} weights for {k} arms; give one weight per arm"
WEIGHTS_NEGATIVE_MESSAGE = "weights must be finite and > 0, got {weights}"
WEIGHTS_MISSING_MESSAGE = "weights have no entry for arm(s) {missing}; weights given for {given}"
WEIGHTS_EXTRA_MESSAGE = "weights name arm(s) {extra} that are not in the data {names}"
COUNTS_MESSAGE = "observed arm sizes must be non-negative integers with a positive total, got {obs}"


def normalise_weights(
    weights: Mapping[str, float] | Sequence[float] | None, names: Sequence[str]
) -> tuple[float, ...]:
    """Turn configured weights into shares that sum to one, in the order of ``names``.

    Parameters
    ----------
    weights
        ``None`` (equal split), a sequence with one weight per arm in ``names`` order, or a mapping
        ``{arm: weight}`` naming every arm. Weights need not sum to one (``50, 25, 25`` is fine).
    names
        Arm names.

    Raises
    ------
    ValueError
        Wrong length, missing or unknown arms, non-positive weights.
    """
    k = len(names)
    if weights is None:
        return tuple(1.0 / k for _ in names)
    if isinstance(weights, Mapping):
        missing = [n for n in names if n not in weights]
        if missing:
            raise ValueError(WEIGHTS_MISSING_MESSAGE.format(missing=missing, given=list(weights)))
        extra = [n for n in weights if n not in names]
        if extra:
            raise ValueError(WEIGHTS_EXTRA_MESSAGE.format(extra=extra, names=list(names)))
        values = [float(weights[n]) for n in names]
    else:
        values = [float(w) for w in weights]
        if len(values) != k:
            raise ValueError(WEIGHTS_LENGTH_MESSAGE.format(w=len(values), k=k))
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(WEIGHTS_NEGATIVE_MESSAGE.format(weights=values))
    return tuple(float(v) for v in arr / arr.sum())


@dataclass(frozen=True)
class SrmResult:
    """Outcome of the sample-ratio-mismatch check.

    Attributes
    ----------
    p_value
        Pearson chi-square goodness-of-fit p-value.
    is_mismatch
        ``p_value < threshold``.
    statistic, df
        :math:`\\chi^2` statistic and its degrees of freedom :math:`k - 1`.
    observed, expected, weights
        Arm sizes, expected sizes :math:`N w_k` and the configured shares :math:`w_k`.
    threshold
        The p-value threshold used.
    """

    p_value: float
    is_mismatch: bool
    statistic: float
    df: int
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    weights: tuple[float, ...]
    threshold: float


def srm_test(
    observed: Sequence[int] | Mapping[str, int],
    weights: Mapping[str, float] | Sequence[float] | None = None,
    *,
    threshold: float = DEFAULT_SRM_THRESHOLD,
) -> SrmResult:
    """Chi-square test of the observed arm sizes against the configured split.

    Parameters
    ----------
    observed
        Units per arm, as a sequence or a mapping ``{arm: n}``.
    weights
        Configured split (see :func:`normalise_weights`); default equal.
    threshold
        Declare a mismatch when the p-value is below this (default 0.001).

    Returns
    -------
    SrmResult

    Notes
    -----
    With :math:`N = \\sum_k n_k` and expected counts :math:`E_k = N w_k`,

    .. math:: \\chi^2 = \\sum_k \\frac{(n_k - E_k)^2}{E_k} \\sim \\chi^2_{k-1}.

    Equals ``scipy.stats.chisquare(observed, f_exp=expected)``.

    References
    ----------
    Fabijan et al. (2019), "Diagnosing sample ratio mismatch in online controlled experiments",
    KDD.

    Examples
    --------
    >>> srm_test([5000, 5100]).is_mismatch
    False
    """
    if isinstance(observed, Mapping):
        names = [str(k) for k in observed]
        counts = [observed[k] for k in observed]
    else:
        counts = list(observed)
        names = [str(i) for i in range(len(counts))]
    obs = np.asarray(counts, dtype=float)
    if obs.ndim != 1 or np.any(obs < 0) or obs.sum() <= 0 or np.any(obs != np.round(obs)):
        raise ValueError(COUNTS_MESSAGE.format(obs=counts))
    shares = normalise_weights(weights, names)
    expected = obs.sum() * np.asarray(shares)
    statistic = float(np.sum((obs - expected) ** 2 / expected))
    df = len(obs) - 1
    p_value = float(stats.chi2.sf(statistic, df))
    return SrmResult(
        p_value=p_value,
        is_mismatch=bool(p_value < threshold),
        statistic=statistic,
        df=df,
        observed=tuple(int(c) for c in obs),
        expected=tuple(float(e) for e in expected),
        weights=shares,
        threshold=threshold,
    )
