"""The negative binomial family and the maximum-likelihood estimate of its shape ``theta``.

``Var(y) = mu + mu^2 / theta`` (NB2). R's conventions (``MASS::negative.binomial`` and
``MASS::glm.nb``):

* ``theta`` fixed by the user: an ordinary GLM with dispersion 1; AIC counts the
  coefficients only (R's ``glm(family = negative.binomial(theta))``).
* ``theta`` estimated (the default): :func:`glmspec.solvers.negbin.fit_negbin` alternates theta by
  maximum likelihood given the means (:func:`theta_ml`, R's ``theta.ml``: Newton on the score
  with digamma/trigamma) and the coefficients by IRLS given theta, to joint convergence; the
  standard error of theta is ``1 / sqrt(observed information of theta)`` at the fitted means,
  as ``glm.nb``'s ``SE.theta``; AIC counts theta as a parameter (``-2 llf + 2 (rank + 1)``).
* ``llf`` includes every constant (the log-gamma terms).

statsmodels parametrises the same distribution by ``alpha = 1 / theta``: its GLM family
``NegativeBinomial(alpha=...)`` keeps alpha fixed, and ``discrete_model.NegativeBinomial``
(NB2, log link only) estimates alpha by maximum likelihood.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special

from glmspec.errors import ConvergenceWarning, SpecificationError
from glmspec.families.base import NON_NEGATIVE, POSITIVE, Family
from glmspec.families.exponential import Poisson
from glmspec.families.saddle import bd0

#: Largest theta reported: beyond it the data show no overdispersion (a Poisson model).
THETA_MAX = 1e10
#: theta.ml stops when the Newton step in log(theta) is below this many standard errors.
STEP_SE_TOL = 1e-8


def check_theta(theta) -> float | None:
    """``theta`` as a positive float (None stays None), or raise :class:`SpecificationError`."""
    if theta is None:
        return None
    if isinstance(theta, bool) or not isinstance(theta, (int, float, np.number)):
        raise SpecificationError(f"theta must be a positive number, got {theta!r}.")
    if not (np.isfinite(theta) and theta > 0):
        raise SpecificationError(
            f"theta must be a positive finite number (Var = mu + mu^2/theta), got {theta!r}."
        )
    return float(theta)


class NegativeBinomial(Family):
    """Negative binomial (NB2) counts; dispersion fixed at 1.

    Parameters
    ----------
    link : str or Link, optional
        ``"log"`` (default), ``"sqrt"`` or ``"identity"`` (as ``MASS::negative.binomial``).
    theta : float, optional
        Shape; None means it is estimated by maximum likelihood when fitting.
    theta_estimated : bool
        Whether ``theta`` is an estimate (counted by AIC) rather than fixed by the user.
    """

    name = "negative_binomial"
    canonical_link = "log"  # the default link; the NB2 canonical link is log(mu/(mu+theta))
    allowed_links = ("log", "sqrt", "identity")
    fixed_scale = True
    support = NON_NEGATIVE
    mean_domain = POSITIVE
    counts_response = True
    statsmodels_name = "NegativeBinomial"

    def __init__(self, link=None, theta: float | None = None, theta_estimated: bool = False):
        self.theta = check_theta(theta)
        self.theta_estimated = bool(theta_estimated or theta is None)
        super().__init__(link)

    def with_link(self, link):
        return type(self)(link, theta=self.theta, theta_estimated=self.theta_estimated)

    def with_theta(self, theta: float, estimated: bool = True) -> NegativeBinomial:
        """The same family and link at another ``theta``."""
        return type(self)(self.link, theta=theta, theta_estimated=estimated)

    def poisson_limit(self) -> Family:
        """The Poisson family with the same link: this family's limit as theta -> infinity."""
        return Poisson(self.link)

    def __repr__(self) -> str:
        theta = "None" if self.theta is None else f"{self.theta:.6g}"
        return f"NegativeBinomial(link={self.link.name!r}, theta={theta})"

    @property
    def label(self) -> str:
        theta = "estimated" if self.theta is None else f"{self.theta:.6g}"
        return f"negative_binomial(theta={theta})"

    @property
    def n_dispersion_params(self) -> int:  # type: ignore[override]
        """1 when theta is estimated (glm.nb's AIC counts it), 0 when fixed."""
        return 1 if self.theta_estimated else 0

    @property
    def llf_convention(self) -> str:  # type: ignore[override]
        text = "full log-likelihood with the log-gamma constants, as MASS::glm.nb"
        if self.theta_estimated:
            text += "; AIC counts theta as a parameter"
        return text

    @property
    def is_canonical(self) -> bool:
        # log(mu / (mu + theta)) is canonical; none of the allowed links is.
        return False

    def _theta(self) -> float:
        if self.theta is None:
            raise SpecificationError(
                "theta is not set yet: it is estimated by glmspec.fit(..., "
                "family='negative_binomial'); pass theta= to fix it."
            )
        return self.theta

    def variance(self, mu):
        return mu + np.square(mu) / self._theta()

    def variance_deriv(self, mu):
        return 1.0 + 2.0 * np.asarray(mu, dtype=float) / self._theta()

    def unit_deviance(self, y, mu):
        theta = self._theta()
        # y log(y/mu) - (y + theta) log((y + theta)/(mu + theta)) as a difference of Loader's
        # bd0 (the linear terms cancel): no loss of digits for counts of 1e10 and more
        return 2.0 * (bd0(y, mu) - bd0(y + theta, mu + theta))

    def loglik_obs(self, y, mu, weights, scale=1.0, trials=None):
        return np.where(weights > 0, weights * _log_pmf(y, mu, self._theta()), 0.0)

    def starting_mu(self, y, weights):
        y = np.asarray(y, dtype=float)
        return y + (y == 0) / 6.0  # MASS::negative.binomial()$initialize

    @property
    def support_requirement(self) -> str:
        return "the negative_binomial family needs counts >= 0."

    def anscombe(self, y, mu, scale=1.0):
        # H(z) = 2F1(2/3, 1/3; 5/3; z), with statsmodels' alpha = 1 / theta
        alpha = 1.0 / self._theta()

        def h(x):
            return special.hyp2f1(2.0 / 3.0, 1.0 / 3.0, 5.0 / 3.0, x)

        top = y ** (2.0 / 3.0) * h(-alpha * y) - mu ** (2.0 / 3.0) * h(-alpha * mu)
        return 1.5 * top / (mu * (1.0 + alpha * mu) * scale**3) ** (1.0 / 6.0)

    def statsmodels_params(self):
        return {"alpha": 1.0 / self._theta()}

    @property
    def statsmodels_llf_note(self) -> str:  # type: ignore[override]
        return f"NB2 at theta = {self._theta():.10g}; statsmodels alpha = 1/theta"


def _log_pmf(y: np.ndarray, mu: np.ndarray, theta: float) -> np.ndarray:
    """NB2 log-probabilities with every constant (R's ``negative.binomial()$aic`` terms)."""
    return (
        special.gammaln(theta + y)
        - special.gammaln(theta)
        - special.gammaln(y + 1.0)
        - theta * np.log1p(mu / theta)
        + special.xlogy(y, mu / (mu + theta))
    )


def theta_loglik(theta: float, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> float:
    """The NB2 log-likelihood as a function of ``theta`` at fixed means."""
    used = weights > 0
    return float(np.dot(weights[used], _log_pmf(y[used], mu[used], theta)))


def theta_score(theta: float, y, mu, weights) -> float:
    """``d llf / d theta`` (R's ``theta.ml`` score)."""
    return float(
        np.sum(
            weights
            * (
                special.digamma(theta + y)
                - special.digamma(theta)
                + np.log(theta)
                + 1.0
                - np.log(theta + mu)
                - (y + theta) / (mu + theta)
            )
        )
    )


def theta_information(theta: float, y, mu, weights) -> float:
    """Observed information ``-d^2 llf / d theta^2`` (R's ``theta.ml`` info)."""
    return float(
        np.sum(
            weights
            * (
                -special.polygamma(1, theta + y)
                + special.polygamma(1, theta)
                - 1.0 / theta
                + 2.0 / (mu + theta)
                - (y + theta) / np.square(mu + theta)
            )
        )
    )


class ArrayThetaRows:
    """The sums :func:`theta_ml_rows` needs, from counts and means held as arrays.

    An engine whose rows live elsewhere (:mod:`glmspec.distributed`) provides the same two
    methods by adding these sums over its partitions.
    """

    def __init__(self, y, mu, weights=None) -> None:
        y, mu = np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
        w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
        used = w > 0
        self.y, self.mu, self.w = y[used], mu[used], w[used]

    def moment(self) -> tuple[float, float]:
        """``(sum(w), sum(w (y/mu - 1)^2))`` for R's moment start ``n / sum(...)``."""
        return float(np.sum(self.w)), float(np.sum(self.w * np.square(self.y / self.mu - 1.0)))

    def at(self, theta: float) -> tuple[float, float, float]:
        """Log-likelihood, score and observed information in theta, at ``theta``."""
        y, mu, w = self.y, self.mu, self.w
        return (
            theta_loglik(theta, y, mu, w),
            theta_score(theta, y, mu, w),
            theta_information(theta, y, mu, w),
        )


def theta_ml(
    y: np.ndarray,
    mu: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    start: float | None = None,
    max_iter: int = 100,
    tol: float = 1e-12,
) -> tuple[float, float]:
    """Maximum-likelihood ``theta`` at fixed means, and its standard error (R's ``theta.ml``).

    Newton's method on the score, as R, but on ``log(theta)`` with step halving so that the
    log-likelihood never decreases and theta stays positive. R starts from the moment estimate
    ``n / sum(w (y/mu - 1)^2)``; so does this function unless ``start`` is given.

    Parameters
    ----------
    y, mu : ndarray
        Counts and fitted means.
    weights : ndarray, optional
        Prior weights (default ones).
    start : float, optional
        Starting value.
    max_iter : int
        Newton iterations.
    tol : float
        Stop when the change of ``log(theta)`` is below this, or when the Newton step is
        below ``STEP_SE_TOL`` standard errors of ``log(theta)`` (what rounding errors in the
        score leave when the likelihood is flat).

    Returns
    -------
    theta : float
    se : float
        ``1 / sqrt(information)`` at theta (R's ``attr(theta, "SE")``); NaN when the
        information is not positive.

    Warns
    -----
    ConvergenceWarning
        The iteration limit was reached, or theta ran off to ``THETA_MAX`` (no
        overdispersion: a Poisson model fits as well).
    """
    rows = ArrayThetaRows(y, mu, weights)
    theta, se, _ = theta_ml_rows(rows, start=start, max_iter=max_iter, tol=tol)
    return theta, se


def theta_ml_rows(
    rows, *, start: float | None = None, max_iter: int = 100, tol: float = 1e-12
) -> tuple[float, float, float]:
    """:func:`theta_ml` on sums from ``rows`` (see :class:`ArrayThetaRows`); also returns the
    log-likelihood at the estimate (so callers need no further evaluation)."""
    if start is None:
        weight_sum, moment = rows.moment()
        start = weight_sum / moment if moment > 0 else 1.0
    theta = float(np.clip(abs(start), 1e-8, THETA_MAX))
    u = np.log(theta)
    llf, score, info = rows.at(theta)
    for _ in range(max_iter):
        grad, curv = theta * score, theta * score - theta * theta * info  # d/du, d2/du2
        step = -grad / curv if curv < 0 else np.sign(grad)
        if curv < 0 and abs(step) * np.sqrt(-curv) < STEP_SE_TOL:
            break  # converged: the remaining step is far below one standard error
        for _halving in range(60):
            u_new = min(u + step, np.log(THETA_MAX))
            state = rows.at(float(np.exp(u_new)))
            if state[0] >= llf - 1e-12 * abs(llf):
                break
            step *= 0.5
        else:
            break  # no ascent direction left: at the maximum up to rounding
        change = abs(u_new - u)
        u, theta = u_new, float(np.exp(u_new))
        llf, score, info = state
        if change < tol:
            break
        if theta >= THETA_MAX:
            warnings.warn(
                f"theta reached {THETA_MAX:g}: the counts show no overdispersion and the "
                "negative binomial reduces to the Poisson; fit family='poisson' instead.",
                ConvergenceWarning,
                stacklevel=2,
            )
            break
    else:
        warnings.warn(
            f"theta.ml: iteration limit {max_iter} reached (theta = {theta:.6g}).",
            ConvergenceWarning,
            stacklevel=2,
        )
    se = float(1.0 / np.sqrt(info)) if info > 0 else float("nan")
    return theta, se, llf
