"""Exponential-family distributions, with R's ``family`` vocabulary and conventions.

A family knows its variance function, unit deviance, log-likelihood, starting values, the
support of its response and which links it allows. Everything is vectorised over
observations; ``weights`` are R's prior weights (for the binomial: prior weight times the
number of trials, as ``glm()`` stores them).

Conventions (R's ``glm``/``logLik.glm``; statsmodels differences noted where they exist):

* ``loglik`` is the full log-likelihood with every constant (``log y!`` for the Poisson, the
  binomial coefficient for counts).
* The Gaussian log-likelihood is evaluated at the maximum-likelihood dispersion
  ``deviance / n`` (:meth:`Family.loglik_scale`), as R's ``logLik``; statsmodels does the same
  for the identity link but uses the Pearson estimate for other links.
* ``n_dispersion_params`` counts the dispersion in AIC/BIC (1 for the Gaussian), as R's
  ``AIC``; statsmodels' ``aic`` does not count it.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special

from glmspec.errors import (
    DomainWarning,
    ResponseError,
    UnknownFamilyError,
    UnknownLinkError,
    suggest,
)
from glmspec.links import Link, get_link


class Family:
    """Base class of the distributions. Subclasses set the class attributes below."""

    name: str = "family"
    canonical_link: str = "identity"
    allowed_links: tuple[str, ...] = ()
    #: True when the dispersion is 1 by definition (binomial, Poisson).
    fixed_scale: bool = False
    #: Parameters besides the coefficients counted by AIC/BIC (R counts the Gaussian sigma).
    n_dispersion_params: int = 0

    def __init__(self, link: str | Link | None = None) -> None:
        self.link = self._resolve_link(link)

    def _resolve_link(self, link: str | Link | None) -> Link:
        chosen = get_link(self.canonical_link if link is None else link)
        allowed = self.allowed_links
        if chosen.name not in allowed and not (isinstance(link, Link) and "power" in allowed):
            raise UnknownLinkError(
                f"link {chosen.name!r} is not available for the {self.name} family; "
                f"allowed links: {', '.join(allowed)}."
            )
        return chosen

    def __repr__(self) -> str:
        return f"{type(self).__name__}(link={self.link.name!r})"

    def variance(self, mu: np.ndarray) -> np.ndarray:
        """Variance function ``V(mu)``: ``Var(y) = scale * V(mu) / weight``."""
        raise NotImplementedError

    def variance_deriv(self, mu: np.ndarray) -> np.ndarray:
        """Derivative ``V'(mu)`` of the variance function, for the observed information."""
        raise NotImplementedError

    def unit_deviance(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Unit deviance ``d(y, mu)`` of each observation (R's ``dev.resids`` with weight 1)."""
        raise NotImplementedError

    def deviance(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> float:
        """Total deviance ``sum(weights * d(y, mu))``."""
        return float(np.dot(weights, self.unit_deviance(y, mu)))

    def loglik(
        self,
        y: np.ndarray,
        mu: np.ndarray,
        weights: np.ndarray,
        scale: float = 1.0,
        trials: np.ndarray | None = None,
    ) -> float:
        """Full log-likelihood at ``mu`` with dispersion ``scale`` (R's ``logLik`` terms)."""
        raise NotImplementedError

    def loglik_scale(self, deviance: float, nobs: float, pearson_scale: float) -> float:
        """Dispersion at which R's ``logLik`` evaluates the log-likelihood."""
        return 1.0 if self.fixed_scale else deviance / nobs

    def starting_mu(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Starting means for IRLS (R's ``family$initialize``)."""
        raise NotImplementedError

    def valid_mu(self, mu: np.ndarray) -> bool:
        """Whether every mean is inside the family's parameter space (R's ``validmu``)."""
        return bool(np.all(np.isfinite(mu)))

    def check_response(self, y: np.ndarray, weights: np.ndarray, column: str) -> None:
        """Raise :class:`ResponseError` naming ``column`` if ``y`` is outside the support."""
        if not np.all(np.isfinite(y)):
            raise ResponseError(f"response {column!r} has non-finite values.")

    @property
    def is_canonical(self) -> bool:
        """Whether the link is the canonical one (observed and expected information agree)."""
        return self.link.name == self.canonical_link


class Gaussian(Family):
    """Normal distribution; dispersion estimated (``sigma^2``)."""

    name = "gaussian"
    canonical_link = "identity"
    allowed_links = ("identity", "log", "inverse")
    n_dispersion_params = 1

    def variance(self, mu):
        return np.ones_like(mu, dtype=float)

    def variance_deriv(self, mu):
        return np.zeros_like(mu, dtype=float)

    def unit_deviance(self, y, mu):
        return np.square(y - mu)

    def loglik(self, y, mu, weights, scale=1.0, trials=None):
        used = weights > 0
        w, r = weights[used], (y - mu)[used]
        return float(-0.5 * np.sum(np.log(2 * np.pi * scale / w) + w * r * r / scale))

    def starting_mu(self, y, weights):
        if self.link.name == "identity":
            return np.asarray(y, dtype=float).copy()
        mu = 0.5 * (y + np.average(y, weights=weights))
        if not self.link.valid_eta(self.link.link(mu)) or np.any(mu <= 0):
            mu = np.full_like(y, max(np.average(y, weights=weights), 1e-3), dtype=float)
        return mu


class Poisson(Family):
    """Poisson distribution for counts; dispersion fixed at 1."""

    name = "poisson"
    canonical_link = "log"
    allowed_links = ("log", "identity", "sqrt")
    fixed_scale = True

    def variance(self, mu):
        return np.asarray(mu, dtype=float)

    def variance_deriv(self, mu):
        return np.ones_like(mu, dtype=float)

    def unit_deviance(self, y, mu):
        return 2.0 * (special.xlogy(y, y / mu) - (y - mu))

    def loglik(self, y, mu, weights, scale=1.0, trials=None):
        terms = special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)
        return float(np.dot(weights, terms))

    def starting_mu(self, y, weights):
        return np.asarray(y, dtype=float) + 0.1

    def valid_mu(self, mu):
        return bool(np.all(np.isfinite(mu)) and np.all(mu > 0))

    def check_response(self, y, weights, column):
        super().check_response(y, weights, column)
        negative = np.flatnonzero(y < 0)
        if negative.size:
            raise ResponseError(
                f"response {column!r} has {negative.size} negative value(s) (first: "
                f"{y[negative[0]]:g} in row {negative[0]}); the Poisson family needs counts >= 0."
            )
        fractional = int(np.count_nonzero(y != np.round(y)))
        if fractional:
            warnings.warn(
                f"response {column!r} has {fractional} non-integer value(s); the Poisson "
                "log-likelihood uses log Gamma(y + 1) for them (R warns the same way).",
                DomainWarning,
                stacklevel=4,
            )


class Binomial(Family):
    """Binomial distribution; ``y`` is the proportion of successes, dispersion fixed at 1."""

    name = "binomial"
    canonical_link = "logit"
    allowed_links = ("logit", "probit", "cloglog", "log", "cauchit")
    fixed_scale = True

    def variance(self, mu):
        return mu * (1.0 - mu)

    def variance_deriv(self, mu):
        return 1.0 - 2.0 * mu

    def unit_deviance(self, y, mu):
        return 2.0 * (special.xlogy(y, y / mu) + special.xlogy(1.0 - y, (1.0 - y) / (1.0 - mu)))

    def loglik(self, y, mu, weights, scale=1.0, trials=None):
        # R's binomial()$aic: m = trials if any exceed one, else the prior weights.
        m = trials if trials is not None and np.any(trials > 1) else weights
        used = m > 0
        m_used, y_used, mu_used = np.round(m[used]), y[used], mu[used]
        successes = np.round(m[used] * y_used)
        failures = m_used - successes
        log_pmf = (
            special.gammaln(m_used + 1)
            - special.gammaln(successes + 1)
            - special.gammaln(failures + 1)
            + special.xlogy(successes, mu_used)
            + special.xlog1py(failures, -mu_used)
        )
        return float(np.dot(weights[used] / m[used], log_pmf))

    def starting_mu(self, y, weights):
        return (weights * y + 0.5) / (weights + 1.0)

    def valid_mu(self, mu):
        return bool(np.all(np.isfinite(mu)) and np.all((mu > 0) & (mu < 1)))

    def check_response(self, y, weights, column):
        super().check_response(y, weights, column)
        outside = np.flatnonzero((y < 0) | (y > 1))
        if outside.size:
            raise ResponseError(
                f"response {column!r} has {outside.size} value(s) outside [0, 1] (first: "
                f"{y[outside[0]]:g} in row {outside[0]}); the binomial family needs 0/1 outcomes, "
                "proportions with weights = number of trials, or two count columns "
                "'successes + failures ~ ...'."
            )
        counts = weights * y
        if np.any(np.abs(counts - np.round(counts)) > 1e-7):
            warnings.warn(
                f"response {column!r} times the weights gives non-integer numbers of successes; "
                "for proportions pass the number of trials as weights (R warns the same way).",
                DomainWarning,
                stacklevel=4,
            )


FAMILIES: dict[str, type[Family]] = {
    "gaussian": Gaussian,
    "binomial": Binomial,
    "poisson": Poisson,
}
_ALIASES = {"bernoulli": "binomial", "normal": "gaussian", "logistic": "binomial"}
#: Names accepted by :func:`glmspec.fit`; "multinomial" is fitted by its own solver.
FAMILY_NAMES: tuple[str, ...] = (*FAMILIES, "multinomial", *_ALIASES)


def canonical_family_name(family: str) -> str:
    """Map a family name or alias to its canonical name, or raise :class:`UnknownFamilyError`."""
    if not isinstance(family, str):
        raise UnknownFamilyError(
            f"family must be a name or a Family object, not {type(family).__name__}."
        )
    key = family.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key in FAMILIES or key == "multinomial":
        return key
    raise UnknownFamilyError(
        f"unknown family {family!r}; known families: {', '.join(FAMILY_NAMES)}."
        f"{suggest(key, FAMILY_NAMES)}"
    )


def get_family(family: str | Family, link: str | Link | None = None) -> Family:
    """Return a family object with the requested link (the canonical link by default).

    Parameters
    ----------
    family : str or Family
        Family name (``"gaussian"``, ``"binomial"``/``"bernoulli"``, ``"poisson"``) or an
        instance, returned unchanged when ``link`` is None.
    link : str or Link, optional
        Link name or object; must be one the family allows.

    Raises
    ------
    UnknownFamilyError, UnknownLinkError
    """
    if isinstance(family, Family):
        return family if link is None else type(family)(link)
    name = canonical_family_name(family)
    if name == "multinomial":
        raise UnknownFamilyError("the multinomial family is fitted by glmspec.multinomial.")
    return FAMILIES[name](link)
