"""The BG/NBD model of repeat buying: P(alive) and expected purchases per contact.

Fader, Hardie & Lee (2005), *"Counting your customers" the easy way: an alternative to the
Pareto/NBD model*, Marketing Science 24(2), 275–284 (the paper and its technical notes
"Implementing the BG/NBD model for customer base analysis in Excel", 2005, give the formulas
below; equation numbers are the paper's).

The model, for one customer observed on ``(0, T]`` after a first purchase at time 0:

- while alive, repeat purchases arrive as a Poisson process of rate :math:`\\lambda`;
- after **each repeat purchase** the customer drops out for good with probability :math:`p`;
- across customers :math:`\\lambda \\sim \\mathrm{Gamma}(r, \\alpha)` (shape ``r``, rate ``alpha``)
  and :math:`p \\sim \\mathrm{Beta}(a, b)`.

A customer is summarised by ``frequency`` :math:`x` (number of repeat purchases, i.e. purchase
periods after the first), ``recency`` :math:`t_x` (time of the last purchase, from the first)
and ``T`` (time from the first purchase to the end of observation), all in the same unit.

Known weakness, shown in ``docs/churn-and-recapture.md``: dropout can only happen right after a
repeat purchase, so a customer with ``frequency == 0`` is *alive with probability 1* however long
ago the single purchase was. :func:`one_time_buyer_diagnostic` measures how many contacts that
concerns. The discriminative :class:`~smsanalytics.churn.ChurnModel` has no such blind spot.

Estimation is by maximum likelihood (eq. 6) on log-parameters with L-BFGS-B and the **analytic
gradient** (digamma terms, derived below and checked against finite differences in the tests),
from a few starting points, keeping the best optimum. Identical ``(x, t_x, T)`` rows are
collapsed with counts first, so one million contacts fit in about a second. Times are rescaled
internally so that ``max(T) = 10`` (the fit does not depend on the unit; ``alpha`` is reported in
the caller's unit).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import optimize, special
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

__all__ = [
    "BGNBD",
    "BGNBDFitWarning",
    "PARAM_NAMES",
    "bgnbd_log_likelihood",
    "simulate_bgnbd",
    "one_time_buyer_diagnostic",
    "OneTimeBuyerDiagnostic",
    "FADER_HARDIE_LEE_2005_CDNOW",
]

#: Parameter order used in arrays.
PARAM_NAMES: tuple[str, str, str, str] = ("r", "alpha", "a", "b")

#: Published maximum-likelihood estimates on the CDNOW sample (2,357 customers, time in weeks,
#: 39-week calibration period): Fader, Hardie & Lee (2005), section 4, with log-likelihood
#: -9582.4.
FADER_HARDIE_LEE_2005_CDNOW: dict[str, float] = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}

#: Log-parameters are bounded to [-12, 12] (parameters in [6e-6, 1.6e5] on the rescaled axis).
_LOG_BOUND = 12.0
#: A log-parameter this close to a bound is on it (``at_bound_``, :func:`_projected_gradient`).
_ON_BOUND = 1e-6

#: A fit whose optimiser stopped without reporting convergence still counts as converged when
#: the first-order optimality conditions hold at its optimum: the projected gradient of the mean
#: negative log-likelihood (log-parameters; a bound's component dropped when it points out of
#: the box) is at most this in every component. L-BFGS-B ends with ``ABNORMAL`` when its line
#: search can no longer lower the objective in floating point, which happens at a flat optimum
#: on a bound (no dropout: a -> 0) on some CPUs and not others.
_STATIONARY_GRADIENT = 1e-5


def _projected_gradient(log_params: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """The gradient without the components that push a parameter out through its bound.

    At a minimum inside the box every component is 0. On a lower bound a positive component is
    dropped (descent would take the parameter below its bound), on an upper bound a negative one.

    >>> _projected_gradient(np.array([-12.0, 0.0, 12.0]), np.array([0.5, 1e-7, -0.3]))
    array([0.e+00, 1.e-07, 0.e+00])
    """
    g = np.asarray(gradient, dtype=float).copy()
    g[(log_params <= -_LOG_BOUND + _ON_BOUND) & (g > 0)] = 0.0
    g[(log_params >= _LOG_BOUND - _ON_BOUND) & (g < 0)] = 0.0
    return g

_E_NOT_FITTED = "this BGNBD is not fitted yet; call fit(frequency, recency, T) or set params_ first"


class BGNBDFitWarning(UserWarning):
    """The optimiser did not converge, or the optimum lies on a parameter bound (no dropout)."""


def _as_arrays(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    T_ = np.asarray(T, dtype=float)
    x, t_x, T_ = np.broadcast_arrays(x, t_x, T_)
    return x, t_x, T_


def _validate(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(T))):
        raise ValueError(
            "frequency, recency and T must be finite (no NaN or inf); drop or fill those rows"
        )
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ValueError("frequency must be a non-negative integer count of repeat purchases")
    if np.any(t_x < 0):
        raise ValueError("recency must be >= 0 (time from the first to the last purchase)")
    if np.any(t_x > T * (1 + 1e-9) + 1e-9):
        bad = int(np.argmax(t_x > T * (1 + 1e-9) + 1e-9))
        raise ValueError(
            f"recency must be <= T (row {bad}: recency {t_x.flat[bad]}, T {T.flat[bad]}); "
            "T is the time from the first purchase to the end of the observation period"
        )
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("recency must be 0 when frequency is 0 (no repeat purchase)")


def _groups(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct frequencies and the index of each row's: terms that depend on ``x`` only
    (gamma and digamma functions) are computed once per distinct value."""
    ux, inv = np.unique(x, return_inverse=True)
    return ux, inv.reshape(x.shape)


def _components(params: np.ndarray, x, t_x, T, groups=None):
    """The log-likelihood terms of eq. 6 and the dropout weight.

    Returns ``(ll, w)`` where ``ll`` is the per-row log-likelihood and ``w = exp(A4 - ll_tail)``
    is the posterior probability that the customer has dropped out (``1 - P(alive)``).
    """
    r, alpha, a, b = params
    ux, inv = _groups(x) if groups is None else groups
    uxs = np.where(ux > 0, ux, 1.0)  # safe value where x == 0 (masked below)
    u_a12 = (
        special.gammaln(r + ux)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + ux)
        - special.gammaln(b)
        - special.gammaln(a + b + ux)
    )
    u_log_ratio = np.where(ux > 0, np.log(a) - np.log(b + uxs - 1.0), -np.inf)
    has = x > 0
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(has, u_log_ratio[inv] - (r + x) * np.log(alpha + t_x), -np.inf)
    tail = np.logaddexp(a3, a4)
    w = np.exp(a4 - tail)
    return u_a12[inv] + tail, w


def bgnbd_log_likelihood(
    params: Mapping[str, float] | np.ndarray, frequency, recency, T
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6).

    .. math::

        L = \\frac{B(a, b+x)}{B(a, b)} \\frac{\\Gamma(r+x)\\,\\alpha^r}{\\Gamma(r)\\,(\\alpha+T)^{r+x}}
          + \\delta_{x>0} \\frac{B(a+1, b+x-1)}{B(a, b)}
            \\frac{\\Gamma(r+x)\\,\\alpha^r}{\\Gamma(r)\\,(\\alpha+t_x)^{r+x}}

    computed in log space (``gammaln``, ``logaddexp``) so it neither overflows nor underflows.

    Parameters
    ----------
    params
        ``{"r", "alpha", "a", "b"}`` or an array in that order; all > 0.
    frequency, recency, T
        Array-likes (broadcast together): repeat purchases, time of the last purchase and length
        of observation, from the first purchase.

    Returns
    -------
    numpy.ndarray
        Log-likelihood of each customer.
    """
    p = _param_array(params)
    x, t_x, T_ = _as_arrays(frequency, recency, T)
    ll, _ = _components(p, x, t_x, T_)
    return ll


def _param_array(params: Mapping[str, float] | np.ndarray) -> np.ndarray:
    if isinstance(params, Mapping):
        missing = [k for k in PARAM_NAMES if k not in params]
        if missing:
            raise ValueError(f"BG/NBD parameters {missing} are missing; need {list(PARAM_NAMES)}")
        arr = np.array([float(params[k]) for k in PARAM_NAMES])
    else:
        arr = np.asarray(params, dtype=float)
        if arr.shape != (4,):
            raise ValueError(
                f"BG/NBD parameters must be 4 values {PARAM_NAMES}, got shape {arr.shape}"
            )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            "BG/NBD parameters must be finite and > 0, got "
            f"{dict(zip(PARAM_NAMES, arr, strict=True))}"
        )
    return arr


def _negative_ll_and_gradient(
    log_params: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    penalizer: float,
    groups=None,
) -> tuple[float, np.ndarray]:
    """Weighted mean negative log-likelihood and its gradient with respect to log-parameters.

    With ``w`` the posterior dropout probability of a row (see :func:`_components`),
    ``q = 1 - w`` and :math:`\\psi` the digamma function:

    - :math:`\\partial_r \\ell = \\psi(r+x) - \\psi(r) + \\ln\\alpha - q\\ln(\\alpha+T) - w\\ln(\\alpha+t_x)`
    - :math:`\\partial_\\alpha \\ell = r/\\alpha - q (r+x)/(\\alpha+T) - w (r+x)/(\\alpha+t_x)`
    - :math:`\\partial_a \\ell = \\psi(a+b) - \\psi(a+b+x) + w/a`
    - :math:`\\partial_b \\ell = \\psi(a+b) + \\psi(b+x) - \\psi(b) - \\psi(a+b+x) - w/(b+x-1)`

    and :math:`\\partial_{\\ln\\theta} = \\theta\\,\\partial_\\theta`. The optional penalty is
    ``penalizer * sum(theta**2)`` (as in *lifetimes*).
    """
    params = np.exp(log_params)
    r, alpha, a, b = params
    if not np.all(np.isfinite(params)):
        return np.inf, np.zeros(4)
    groups = _groups(x) if groups is None else groups
    ux, inv = groups
    ll, w = _components(params, x, t_x, T, groups)
    q = 1.0 - w
    uxs = np.where(ux > 0, ux, 1.0)
    psi_ab, psi_abx = special.digamma(a + b), special.digamma(a + b + ux)
    u_dr = special.digamma(r + ux) - special.digamma(r) + np.log(alpha)
    u_da = psi_ab - psi_abx
    u_db = psi_ab + special.digamma(b + ux) - special.digamma(b) - psi_abx
    u_inv_b = np.where(ux > 0, 1.0 / (b + uxs - 1.0), 0.0)
    log_aT = np.log(alpha + T)
    log_atx = np.log(alpha + t_x)
    d_r = u_dr[inv] - q * log_aT - w * log_atx
    d_alpha = r / alpha - q * (r + x) / (alpha + T) - w * (r + x) / (alpha + t_x)
    d_a = u_da[inv] + w / a
    d_b = u_db[inv] - w * u_inv_b[inv]
    total = weights.sum()
    # elementwise products and sums rather than BLAS dot products: on a busy machine a
    # multi-threaded BLAS call on small vectors can cost 100x more than the arithmetic
    value = -float(np.sum(weights * ll)) / total + penalizer * np.sum(params**2)
    grad = -np.array([np.sum(weights * d) for d in (d_r, d_alpha, d_a, d_b)]) / total
    grad = grad * params + penalizer * 2 * params**2
    if not np.isfinite(value):
        return np.inf, np.zeros(4)
    return float(value), grad


def _collapse(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray | None):
    """Collapse identical ``(x, t_x, T)`` rows into one with their summed weight."""
    frame = pl.DataFrame(
        {
            "x": x.ravel(),
            "t_x": t_x.ravel(),
            "T": T.ravel(),
            "w": np.ones(x.size) if weights is None else np.asarray(weights, dtype=float).ravel(),
        }
    )
    g = (
        frame.group_by("x", "t_x", "T", maintain_order=True)
        .agg(pl.col("w").sum())
        .filter(pl.col("w") > 0)
    )
    return (g["x"].to_numpy(), g["t_x"].to_numpy(), g["T"].to_numpy(), g["w"].to_numpy())


class BGNBD(BaseEstimator):
    """BG/NBD (beta-geometric / negative binomial) model, fitted by maximum likelihood.

    Parameters
    ----------
    penalizer_coef
        L2 penalty on the parameters added to the mean negative log-likelihood (0 = pure MLE).
        A small value (0.001–0.01) stabilises fits on tiny or degenerate data.
    n_starts
        Number of starting points for L-BFGS-B (the first is ``r = alpha = a = b = 1`` on the
        rescaled time axis, the others are jittered); the best optimum is kept.
    tol
        Gradient tolerance of L-BFGS-B.
    max_iter
        Maximum iterations per start.
    random_state
        Seed for the jittered starting points.

    Attributes
    ----------
    params_ : dict
        ``{"r", "alpha", "a", "b"}`` in the caller's time unit.
    params_se_ : dict
        Asymptotic standard errors (inverse observed information, delta method from log-scale).
    log_likelihood_ : float
        Total log-likelihood at ``params_`` on the fitted data (the number Fader et al. report).
    n_customers_ : int
        Customers (rows) fitted, after weights.
    converged_ : bool
        Whether the best start converged: L-BFGS-B says so, or the first-order conditions hold
        at its optimum (projected gradient at most :data:`_STATIONARY_GRADIENT`).
    at_bound_ : list[str]
        Parameters whose optimum lies on the search bound (a :class:`BGNBDFitWarning` is
        issued): typically ``a`` → 0 when the data show no dropout.

    Examples
    --------
    >>> from smsanalytics.churn import BGNBD, simulate_bgnbd
    >>> data = simulate_bgnbd(5_000, r=0.243, alpha=4.414, a=0.793, b=2.426, T=39.0, seed=1)
    >>> model = BGNBD().fit(data["frequency"], data["recency"], data["T"])
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    >>> float(model.p_alive(0, 0, 39))  # one-time buyer: alive by assumption
    1.0

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way:
    an alternative to the Pareto/NBD model. *Marketing Science*, 24(2), 275–284.
    """

    def __init__(
        self,
        *,
        penalizer_coef: float = 0.0,
        n_starts: int = 3,
        tol: float = 1e-9,
        max_iter: int = 2000,
        random_state: int | None = 0,
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.n_starts = n_starts
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, frequency, recency, T, *, weights=None) -> BGNBD:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency
            Repeat purchases per customer (integer ≥ 0).
        recency
            Time from the first to the last purchase (0 when ``frequency == 0``).
        T
            Time from the first purchase to the end of the calibration period (≥ ``recency``).
        weights
            Optional count of customers each row stands for.

        Returns
        -------
        BGNBD
            ``self``, with ``params_``, ``params_se_`` and ``log_likelihood_`` set.

        Raises
        ------
        ValueError
            When an input is negative, non-finite, ``recency > T``, or there are no rows.
        """
        x, t_x, T_ = _as_arrays(frequency, recency, T)
        if x.size == 0:
            raise ValueError("no customers to fit: frequency, recency and T are empty")
        _validate(x, t_x, T_)
        if self.penalizer_coef < 0:
            raise ValueError(f"penalizer_coef must be >= 0, got {self.penalizer_coef}")
        if weights is not None and np.any(np.asarray(weights, dtype=float) < 0):
            raise ValueError("weights must be >= 0")
        cx, ctx, cT, cw = _collapse(x, t_x, T_, weights)
        scale = 10.0 / float(cT.max()) if cT.max() > 0 else 1.0
        ctx_s, cT_s = ctx * scale, cT * scale
        rng = np.random.default_rng(self.random_state)
        groups = _groups(cx)
        with threadpool_limits(limits=1, user_api="blas"):  # 4-parameter problem: threads only cost
            best = self._optimise(rng, cx, ctx_s, cT_s, cw, groups)
        log_params = best.x.copy()
        params = np.exp(log_params)
        params[1] /= scale  # alpha is a rate per unit of time: back to the caller's unit
        self.params_ = dict(zip(PARAM_NAMES, (float(v) for v in params), strict=True))
        gradient = _negative_ll_and_gradient(
            log_params, cx, ctx_s, cT_s, cw, float(self.penalizer_coef), groups
        )[1]
        stationary = np.max(np.abs(_projected_gradient(log_params, gradient)))
        self.converged_ = bool(best.success) or bool(stationary <= _STATIONARY_GRADIENT)
        self.n_iter_ = int(best.nit)
        self.n_customers_ = float(cw.sum())
        self.log_likelihood_ = float(np.sum(cw * bgnbd_log_likelihood(params, cx, ctx, cT)))
        self.params_se_ = self._standard_errors(log_params, cx, ctx_s, cT_s, cw, scale, groups)
        self.at_bound_ = [
            name
            for name, v in zip(PARAM_NAMES, log_params, strict=True)
            if abs(v) >= _LOG_BOUND - _ON_BOUND
        ]
        if self.at_bound_:
            warnings.warn(
                f"BG/NBD maximum likelihood lies on the boundary for {self.at_bound_} "
                f"(estimates {self.params_}); with a -> 0 or b -> inf the data show no dropout "
                "and the model reduces to the NBD, "
                "so P(alive) is ~1 for everybody",
                BGNBDFitWarning,
                stacklevel=2,
            )
        if not self.converged_:
            warnings.warn(
                f"BG/NBD optimiser did not converge ({best.message}); estimates {self.params_}",
                BGNBDFitWarning,
                stacklevel=2,
            )
        return self

    def _optimise(self, rng, cx, ctx_s, cT_s, cw, groups):
        """L-BFGS-B from ``n_starts`` points (the first at all-ones); the best optimum."""
        best = None
        for i in range(max(1, int(self.n_starts))):
            start = np.zeros(4) if i == 0 else rng.normal(0.0, 0.75, size=4)
            res = optimize.minimize(
                _negative_ll_and_gradient,
                start,
                jac=True,
                method="L-BFGS-B",
                args=(cx, ctx_s, cT_s, cw, float(self.penalizer_coef), groups),
                bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 4,
                options={"maxiter": int(self.max_iter), "gtol": self.tol, "ftol": 1e-14},
            )
            if best is None or res.fun < best.fun:
                best = res
        return best

    def _standard_errors(self, log_params, x, t_x, T, w, scale, groups) -> dict[str, float]:
        """Standard errors from the observed information (central differences of the gradient)."""
        n = w.sum()
        h = 1e-5
        hess = np.empty((4, 4))
        for j in range(4):
            e = np.zeros(4)
            e[j] = h
            g_plus = _negative_ll_and_gradient(log_params + e, x, t_x, T, w, 0.0, groups)[1]
            g_minus = _negative_ll_and_gradient(log_params - e, x, t_x, T, w, 0.0, groups)[1]
            hess[:, j] = (g_plus - g_minus) / (2 * h)
        hess = (hess + hess.T) / 2 * n  # gradient is of the mean; information is of the total
        try:
            cov = np.linalg.inv(hess)
            se_log = np.sqrt(np.clip(np.diag(cov), 0, None))
        except np.linalg.LinAlgError:
            se_log = np.full(4, np.nan)
        params = np.exp(log_params)
        params[1] /= scale
        return dict(zip(PARAM_NAMES, (float(v) for v in params * se_log), strict=True))

    def _params(self) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise AttributeError(_E_NOT_FITTED)
        return _param_array(self.params_)

    # -- prediction ------------------------------------------------------------------------
    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """Probability that each customer is still alive at ``T`` (Fader et al. 2005, eq. 13).

        .. math::

            P(\\text{alive} \\mid x, t_x, T) = \\Big(1 + \\delta_{x>0}\\,\\frac{a}{b+x-1}
            \\Big(\\frac{\\alpha+T}{\\alpha+t_x}\\Big)^{r+x}\\Big)^{-1}

        It is exactly 1 for ``frequency == 0`` (the model's one-time-buyer blind spot).
        """
        r, alpha, a, b = self._params()
        x, t_x, T_ = _as_arrays(frequency, recency, T)
        _validate(x, t_x, T_)
        has = x > 0
        xs = np.where(has, x, 1.0)
        log_odds_dead = (
            np.log(a) - np.log(b + xs - 1.0) + (r + xs) * (np.log(alpha + T_) - np.log(alpha + t_x))
        )
        return np.where(has, special.expit(-log_odds_dead), 1.0)

    def expected_purchases(self, t, frequency=None, recency=None, T=None) -> np.ndarray:
        """Expected number of purchases in the next ``t`` time units.

        With ``frequency, recency, T`` given, the conditional expectation for those customers over
        ``(T, T + t]`` (eq. 10):

        .. math::

            E[Y(t) \\mid x, t_x, T] = \\frac{a+b+x-1}{a-1}
            \\Big[1 - \\Big(\\frac{\\alpha+T}{\\alpha+T+t}\\Big)^{r+x}
            {}_2F_1\\big(r+x, b+x; a+b+x-1; \\tfrac{t}{\\alpha+T+t}\\big)\\Big]
            \\; P(\\text{alive} \\mid x, t_x, T)

        Without them, the expected repeat purchases of a new customer over ``(0, t]`` (eq. 9):
        :math:`\\frac{a+b-1}{a-1}[1 - (\\frac{\\alpha}{\\alpha+t})^r {}_2F_1(r, b; a+b-1; \\frac{t}{\\alpha+t})]`.
        """
        r, alpha, a, b = self._params()
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise ValueError("t must be >= 0")
        if frequency is None and recency is None and T is None:
            z = t / (alpha + t)
            return (
                (a + b - 1)
                / (a - 1)
                * (
                    1
                    - np.exp(r * (np.log(alpha) - np.log(alpha + t)))
                    * special.hyp2f1(r, b, a + b - 1, z)
                )
            )
        if frequency is None or recency is None or T is None:
            raise ValueError(
                "give all of frequency, recency and T (conditional) or none (unconditional)"
            )
        x, t_x, T_ = _as_arrays(frequency, recency, T)
        _validate(x, t_x, T_)
        x, t_x, T_, t = np.broadcast_arrays(x, t_x, T_, t)
        z = t / (alpha + T_ + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        head = (a + b + x - 1) / (a - 1)
        body = 1 - np.exp((r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t))) * hyp
        return head * body * self.p_alive(x, t_x, T_)

    def p_no_purchase(self, t, frequency, recency, T) -> np.ndarray:
        """Probability of no purchase in ``(T, T + t]`` given the customer's history.

        A customer makes no purchase in the window if they are dead, or alive with no Poisson
        event in it (dropout only follows a purchase). Given alive, :math:`\\lambda \\sim
        \\mathrm{Gamma}(r + x, \\alpha + T)`, so

        .. math::

            P(Y(t) = 0 \\mid x, t_x, T) = 1 - P_{alive} + P_{alive}
            \\Big(\\frac{\\alpha + T}{\\alpha + T + t}\\Big)^{r + x}

        This is BG/NBD's own forecast of the churn label "no order in the next ``t``"; compare
        it with ``1 - p_alive``, which ignores the horizon.
        """
        r, alpha, a, b = self._params()
        x, t_x, T_ = _as_arrays(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise ValueError("t must be >= 0")
        pa = self.p_alive(x, t_x, T_)
        quiet = np.exp((r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t)))
        return 1.0 - pa + pa * quiet

    def probability_of_purchases(self, t: float, n) -> np.ndarray:
        """P(X(t) = n): a new customer makes ``n`` repeat purchases in ``(0, t]`` (eq. 8).

        .. math::

            P(X(t)=x) = \\frac{B(a, b+x)}{B(a,b)} \\frac{\\Gamma(r+x)}{\\Gamma(r)\\,x!}
            \\Big(\\frac{\\alpha}{\\alpha+t}\\Big)^r \\Big(\\frac{t}{\\alpha+t}\\Big)^x
            + \\delta_{x>0} \\frac{B(a+1, b+x-1)}{B(a,b)} \\Big[1 - \\Big(\\frac{\\alpha}{\\alpha+t}\\Big)^r
            \\sum_{j=0}^{x-1} \\frac{\\Gamma(r+j)}{\\Gamma(r)\\,j!} \\Big(\\frac{t}{\\alpha+t}\\Big)^j\\Big]
        """
        r, alpha, a, b = self._params()
        if not t > 0:
            raise ValueError(f"t must be > 0, got {t}")
        n = np.atleast_1d(np.asarray(n, dtype=float))
        if np.any(n < 0) or np.any(n != np.floor(n)):
            raise ValueError("n must be non-negative integers")
        log_beta_ab = special.betaln(a, b)
        lz = np.log(t / (alpha + t))
        la = r * (np.log(alpha) - np.log(alpha + t))

        def log_nbd(k):  # log of Gamma(r+k) / (Gamma(r) k!) (t/(alpha+t))^k
            return special.gammaln(r + k) - special.gammaln(r) - special.gammaln(k + 1) + k * lz

        out = np.exp(special.betaln(a, b + n) - log_beta_ab + log_nbd(n) + la)
        for i, k in enumerate(n):
            if k > 0:
                partial = np.exp(la + log_nbd(np.arange(int(k)))).sum()
                out[i] += np.exp(special.betaln(a + 1, b + k - 1) - log_beta_ab) * (1 - partial)
        return out

    def predict(self, frequency, recency, T, *, horizon: float) -> pl.DataFrame:
        """P(alive) and expected purchases over ``horizon`` for each customer, as a frame."""
        return pl.DataFrame(
            {
                "p_alive": self.p_alive(frequency, recency, T),
                "expected_purchases": self.expected_purchases(horizon, frequency, recency, T),
            }
        )


def simulate_bgnbd(
    n_customers: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | np.ndarray,
    holdout: float = 0.0,
    seed: int | None = 0,
) -> pl.DataFrame:
    """Simulate customers from the BG/NBD generative process with known parameters.

    Each customer makes a first purchase at time 0 and is then observed on ``(0, T]`` (the
    calibration period) and ``(T, T + holdout]`` (the holdout period).

    Parameters
    ----------
    n_customers
        Number of customers.
    r, alpha, a, b
        BG/NBD parameters (``alpha`` in the same time unit as ``T``).
    T
        Calibration length: a scalar or one value per customer.
    holdout
        Length of the holdout period after ``T`` (0 = none).
    seed
        Random seed.

    Returns
    -------
    polars.DataFrame
        ``customer_id``, ``frequency``, ``recency``, ``T`` (calibration summary),
        ``purchases_holdout`` (repeat purchases in the holdout period), ``is_alive`` (truth: still
        alive at ``T``), ``lambda_`` and ``p_`` (the customer's latent rate and dropout
        probability).
    """
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    T_arr = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    end = T_arr + float(holdout)
    now = np.zeros(n)
    freq = np.zeros(n, dtype=np.int64)
    rec = np.zeros(n)
    hold = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)  # still alive (no dropout yet)
    alive_at_T = np.ones(n, dtype=bool)
    active = np.flatnonzero(lam > 0)
    while active.size:
        gap = rng.exponential(1.0, size=active.size) / lam[active]
        nxt = now[active] + gap
        bought = nxt <= end[active]
        idx = active[bought]
        when = nxt[bought]
        in_cal = when <= T_arr[idx]
        freq[idx[in_cal]] += 1
        rec[idx[in_cal]] = when[in_cal]
        hold[idx[~in_cal]] += 1
        now[idx] = when
        dropped = rng.random(idx.size) < p[idx]
        alive[idx[dropped]] = False
        alive_at_T[idx[dropped & in_cal]] = False
        active = idx[~dropped]
    return pl.DataFrame(
        {
            "customer_id": np.arange(n, dtype=np.int64),
            "frequency": freq,
            "recency": rec,
            "T": T_arr,
            "purchases_holdout": hold,
            "is_alive": alive_at_T,
            "lambda_": lam,
            "p_": p,
        }
    )


@dataclass(frozen=True)
class OneTimeBuyerDiagnostic:
    """How much the BG/NBD one-time-buyer assumption matters on a customer base.

    Attributes
    ----------
    n_customers
        Customers scored.
    share_one_time
        Share with ``frequency == 0`` (P(alive) = 1 by construction).
    share_one_time_long_ago
        Share with ``frequency == 0`` whose single purchase is older than ``long_ago`` time units.
    churn_rate_one_time_long_ago
        Observed churn (no purchase in the holdout) among those, when labels are given.
    mean_p_alive_one_time, mean_p_alive_repeat
        Mean P(alive) of one-time and repeat buyers.
    long_ago
        Threshold used.
    """

    n_customers: int
    share_one_time: float
    share_one_time_long_ago: float
    churn_rate_one_time_long_ago: float | None
    mean_p_alive_one_time: float
    mean_p_alive_repeat: float
    long_ago: float


def one_time_buyer_diagnostic(
    model: BGNBD, frequency, recency, T, *, long_ago: float, is_churned=None
) -> OneTimeBuyerDiagnostic:
    """Measure the one-time-buyer weakness of BG/NBD on a customer base.

    Parameters
    ----------
    model
        A fitted :class:`BGNBD`.
    frequency, recency, T
        The customers' calibration summaries.
    long_ago
        A single purchase older than this (``T > long_ago``) is "long ago" (e.g. 180 days).
    is_churned
        Optional observed churn labels (True = no order in the horizon) to show how wrong
        P(alive) = 1 is for those contacts.
    """
    x, t_x, T_ = _as_arrays(frequency, recency, T)
    pa = model.p_alive(x, t_x, T_)
    one = x == 0
    old = one & (T_ > long_ago)
    churn = None
    if is_churned is not None and old.any():
        churn = float(np.asarray(is_churned, dtype=float)[old].mean())
    return OneTimeBuyerDiagnostic(
        n_customers=int(x.size),
        share_one_time=float(one.mean()) if x.size else float("nan"),
        share_one_time_long_ago=float(old.mean()) if x.size else float("nan"),
        churn_rate_one_time_long_ago=churn,
        mean_p_alive_one_time=float(pa[one].mean()) if one.any() else float("nan"),
        mean_p_alive_repeat=float(pa[~one].mean()) if (~one).any() else float("nan"),
        long_ago=float(long_ago),
    )
