"""Profile-likelihood confidence intervals of GLM coefficients (R's ``confint.glm``).

For coefficient ``j`` the profile is the signed root deviance

    z(b) = sign(b - b_hat) * sqrt((D(b) - D_hat) / phi),

where ``D(b)`` is the deviance of the model refitted with ``beta_j`` fixed at ``b`` (its
column moved into the offset), ``D_hat`` the model's deviance and ``phi`` the full model's
dispersion (1 for binomial, Poisson and negative binomial; Pearson chi-square / df_resid when
estimated), exactly as MASS's ``profile.glm`` (R's ``confint.glm`` since 4.4). The interval is
``{b : |z(b)| <= q}`` with ``q`` the normal quantile, as R uses for every family.

R interpolates a spline through a grid of profile points, which puts its limits off the exact
root by up to about 5e-4 relative on small data; here each limit is the root of
``|z(b)| - q``, found by Brent's method on a bracket grown outwards from the Wald limit, every
refit warm-started from the previous one and converged to a tight tolerance.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize

from glmspec.errors import ConvergenceWarning, FitError, SpecificationError
from glmspec.inference.applicability import require_ml_glm_in_memory
from glmspec.inference.dispersion import check_alpha
from glmspec.inference.distributions import chi2_ppf, norm_ppf
from glmspec.solvers.refit import refit_columns

#: Tolerance of the refits along the profile (tighter than a fit's default 1e-8, so that the
#: profile deviance is smooth enough for Brent's method to locate the root to ~1e-10).
_REFIT_TOL = 1e-11
#: Relative tolerance of the root.
_ROOT_RTOL = 1e-11
#: A rise of the signed root deviance smaller than this over a doubling of the distance from
#: the estimate means the profile is flat (the limit is at infinity).
_FLAT = 1e-6
#: How many times the bracket may be extended outwards (each step doubles its width).
_MAX_EXPAND = 40


def profile_conf_int(res, alpha: float = 0.05, which: Sequence[str] | None = None) -> pd.DataFrame:
    """Profile-likelihood confidence intervals, as R's ``confint(glm_fit)``.

    Parameters
    ----------
    res : GLMResults or NegBinResults
        A maximum-likelihood fit held in memory (not penalized, not multinomial, not Dask);
        the negative binomial is profiled at its fitted theta, as R.
    alpha : float
        1 - confidence level.
    which : sequence of str, optional
        Coefficient names; default all.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``params`` (or ``which``), columns ``0`` (lower) and ``1`` (upper), as
        the Wald :meth:`conf_int`. A limit the profile never reaches (separation: the
        deviance levels off below the cut-off) is NaN, with a warning, as R's NA; an
        aliased coefficient's (``singular="drop"``) limits are NaN, as R's NA.
    """
    _check(res, alpha)
    names = list(res.design.column_names)
    which = names if which is None else list(which)
    unknown = [w for w in which if w not in names]
    if unknown:
        raise SpecificationError(f"unknown coefficient(s) {unknown}; the model has {names}.")
    q = float(norm_ppf(1.0 - alpha / 2.0))
    # aliased columns (singular="drop") are not profiled and the others are profiled without
    # them, as MASS's profile.glm (their limits are NA in R)
    aliased = set(getattr(res, "aliased", ()))
    estimable = [k for k, n in enumerate(names) if n not in aliased]
    profile = _Profile(res, estimable)
    rows = {}
    for name in which:
        if name in aliased:
            rows[name] = [float("nan"), float("nan")]
            continue
        j = estimable.index(names.index(name))
        rows[name] = [profile.limit(j, q, side) for side in (-1.0, 1.0)]
    lost = [n for n, v in rows.items() if np.isnan(v).any() and n not in aliased]
    if lost:
        warnings.warn(
            f"the profile deviance does not reach the cut-off for {', '.join(lost)}: that limit "
            "is NaN (infinite: check for separation).",
            ConvergenceWarning,
            stacklevel=3,
        )
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[0, 1])
    table.attrs["method"] = "profile"
    return table


class _Profile:
    """The signed root deviance of one fitted model along each coefficient."""

    def __init__(self, res, columns: list[int]) -> None:
        self.res = res
        self.design = res.design
        #: the design's columns that are profiled and refitted (all but the aliased ones)
        self.columns = columns
        self.X = np.asarray(self.design.X)[:, columns]
        self.coef = np.asarray(res.params, dtype=float)[columns]
        self.deviance = float(res.deviance)
        self.dispersion = float(res.scale)
        bse = np.asarray(res.bse, dtype=float)[columns]
        self.step = np.where(np.isfinite(bse) & (bse > 0), bse, 1.0)
        self.max_iter = max(int(res.spec.max_iter), 100)

    def root_deviance(self, j: int, b: float, start: np.ndarray | None) -> tuple[float, object]:
        """``sqrt((D(b) - D_hat) / phi)`` and the refit's coefficients."""
        keep = [c for k, c in enumerate(self.columns) if k != j]
        offset = self.design.offset + self.X[:, j] * b
        refit = None
        # the warm start can put the linear predictor outside the link's domain (an inverse
        # link after moving the fixed coefficient): then R's default start, as glm.fit's
        for first in (start, None) if start is not None else (None,):
            try:
                refit = refit_columns(
                    self.design,
                    self.res.family,
                    keep,
                    offset=offset,
                    max_iter=self.max_iter,
                    tol=_REFIT_TOL,
                    start=first,
                )
                break
            except (ArithmeticError, ValueError, RuntimeError, FitError):
                continue
        if refit is None:
            return float("nan"), None
        rise = max(refit.deviance - self.deviance, 0.0) / self.dispersion
        coef = None if refit.record is None else refit.record.coef
        return float(np.sqrt(rise)), coef

    def limit(self, j: int, q: float, side: float) -> float:
        """The limit on one ``side`` (-1 lower, +1 upper): the root of ``|z(b)| = q``."""
        b_hat = self.coef[j]
        start = np.delete(self.coef, j)
        inner, width, previous = b_hat, q * self.step[j], 0.0
        for _ in range(_MAX_EXPAND):
            outer = b_hat + side * width
            value, coef = self.root_deviance(j, outer, start)
            if not np.isfinite(value):
                return float("nan")
            if value >= q:
                break
            if value <= previous + _FLAT:
                # the deviance has levelled off below the cut-off (separation): no limit
                return float("nan")
            inner, start, width, previous = outer, coef, 2.0 * width, value
        else:
            return float("nan")

        def excess(b: float) -> float:
            if b == b_hat:
                return -q
            return self.root_deviance(j, b, start)[0] - q

        lo, hi = sorted((inner, outer))
        xtol = _ROOT_RTOL * self.step[j]  # a limit near zero needs an absolute tolerance
        return float(optimize.brentq(excess, lo, hi, xtol=xtol, rtol=_ROOT_RTOL, maxiter=200))


def theta_profile_interval(res, alpha: float = 0.05) -> tuple[float, float]:
    """Profile-likelihood interval of a negative binomial theta estimated by maximum likelihood.

    The interval is ``{theta : 2 (llf_hat - l_p(theta)) <= chi2_1(1 - alpha)}``, where
    ``l_p(theta)`` is the log-likelihood maximised over the coefficients at that fixed theta
    (the model refitted as R's ``glm(family = negative.binomial(theta))``, warm-started).
    Each limit is the exact root, by Brent's method on ``log(theta)``. The upper limit is
    ``inf`` when the Poisson model (``theta -> inf``) is inside the cut-off, i.e. when
    ``2 (llf_nb - llf_poisson)`` (``pscl::odTest``'s statistic) is below it.

    Parameters
    ----------
    res : NegBinResults
        A fit of :func:`glmspec.fit` with ``family="negative_binomial"`` and theta estimated.
    alpha : float
        1 - confidence level.

    Returns
    -------
    (float, float)
        Lower and upper limit.
    """
    check_alpha(alpha)
    require_ml_glm_in_memory(res, "the profile interval of theta")
    if not getattr(res, "theta_estimated", False):
        raise SpecificationError(
            "the profile interval of theta needs a negative binomial fit with theta estimated "
            "(family='negative_binomial' without theta=)."
        )
    cut = float(chi2_ppf(1.0 - alpha, 1))
    estimable = [k for k, n in enumerate(res.design.column_names) if n not in res.aliased]
    start = np.asarray(res.params, dtype=float)[estimable]
    llf_hat = float(res.llf)

    def excess(log_theta: float, family=None) -> float:
        """``2 (llf_hat - l_p(theta)) - cut``."""
        family = family or res.family.with_theta(float(np.exp(log_theta)), estimated=False)
        refit = refit_columns(
            res.design,
            family,
            estimable,
            max_iter=max(int(res.spec.max_iter), 100),
            tol=_REFIT_TOL,
            start=start,
        )
        record, d = refit.record, res.design
        mu = family.link.unclamp(record.eta, record.mu)
        freq = getattr(d, "freq_weights", None)
        llf = family.loglik(d.y, mu, d.prior_weights, 1.0, d.trials, freq_weights=freq)
        return 2.0 * (llf_hat - llf) - cut

    log_hat = float(np.log(res.theta))
    # the Poisson limit: is the upper end of the profile above the cut-off at all?
    poisson = res.family.poisson_limit()
    upper = float("inf") if excess(np.inf, poisson) <= 0.0 else None
    limits = []
    for side in (-1.0, 1.0):
        if side > 0 and upper is not None:
            limits.append(upper)
            continue
        inner, outer = log_hat, log_hat + side
        for _ in range(_MAX_EXPAND):
            if excess(outer) > 0.0:
                break
            inner, outer = outer, log_hat + 2.0 * (outer - log_hat)
        else:
            limits.append(0.0 if side < 0 else float("inf"))
            continue
        lo, hi = sorted((inner, outer))
        root = optimize.brentq(excess, lo, hi, xtol=1e-12, rtol=_ROOT_RTOL, maxiter=200)
        limits.append(float(np.exp(root)))
    return limits[0], limits[1]


def _check(res, alpha: float) -> None:
    check_alpha(alpha)
    require_ml_glm_in_memory(res, "profile intervals")
