"""Exponential-family distributions, with R's ``family`` vocabulary and conventions.

A family knows its variance function, unit deviance, log-likelihood, starting values, the
support of its response and which links it allows. Everything is vectorised over
observations; ``weights`` are R's prior weights (for the binomial: prior weight times the
number of trials, as ``glm()`` stores them).

This module holds the Gaussian, Poisson, binomial and quasi families and the registry of
every family; the base class lives in :mod:`glmspec.families.base`, Gamma, inverse Gaussian
and Tweedie in :mod:`glmspec.families.positive`, the negative binomial in
:mod:`glmspec.families.negbin`.

| family | links (first = default) | dispersion | llf |
|---|---|---|---|
| gaussian | identity, log, inverse, power(p) | Pearson | at deviance/n |
| binomial | logit, probit, cloglog, log, cauchit | 1 | full |
| poisson | log, identity, sqrt, power(p) | 1 | full |
| gamma | inverse, log, identity, power(p) | Pearson | dev/sum(w) |
| inverse_gaussian | inverse_squared, inverse, log, identity, power(p) | Pearson | dev/sum(w) |
| negative_binomial | log, sqrt, identity | 1 (theta fixed or ML) | full |
| tweedie (1 < var_power < 2) | log | Pearson | NaN |
| quasipoisson | log, identity, sqrt, power(p) | Pearson | NaN |
| quasibinomial | logit, probit, cloglog, log, cauchit | Pearson | NaN |

Conventions (R's ``glm``/``logLik.glm``; statsmodels differences noted where they exist):

* ``loglik`` is the full log-likelihood with every constant (``log y!`` for the Poisson, the
  binomial coefficient for counts). Frequency weights multiply each row's term.
* The Gaussian log-likelihood is evaluated at the maximum-likelihood dispersion
  ``deviance / n`` (:meth:`Family.loglik_scale`), as R's ``logLik``; statsmodels does the same
  for the identity link but uses the Pearson estimate for other links.
* ``n_dispersion_params`` counts the dispersion in AIC/BIC (1 for the Gaussian), as R's
  ``AIC``; statsmodels' ``aic`` does not count it.
* Families without a likelihood (quasi families, Tweedie) have ``has_loglik = False``; their
  ``loglik`` is NaN, as R prints ``NA``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special

from glmspec.errors import (
    DomainWarning,
    ResponseError,
    SpecificationError,
    UnknownFamilyError,
    suggest,
)
from glmspec.families.base import (
    POWER,
    Family,
    check_counts,
    reject_negative,
)
from glmspec.families.links import Link
from glmspec.families.negbin import NegativeBinomial
from glmspec.families.positive import Gamma, InverseGaussian, Tweedie
from glmspec.families.saddle import bd0, stirlerr

# The families defined here and the registry; glmspec.families re-exports the public set.
__all__ = [
    "BINOMIAL_RESPONSE",
    "EXPOSURE_FAMILIES",
    "FAMILIES",
    "FAMILY_NAMES",
    "FAMILY_PARAMS",
    "Binomial",
    "Gaussian",
    "Poisson",
    "QuasiBinomial",
    "QuasiPoisson",
    "canonical_family_name",
    "check_family_params",
    "get_family",
]


class Gaussian(Family):
    """Normal distribution; dispersion estimated (``sigma^2``)."""

    name = "gaussian"
    canonical_link = "identity"
    allowed_links = ("identity", "log", "inverse", POWER)
    n_dispersion_params = 1
    llf_convention = (
        "full log-likelihood, R's logLik: at the ML dispersion deviance/n "
        "(statsmodels uses the Pearson estimate for non-identity links)"
    )

    def variance(self, mu):
        return np.ones_like(mu, dtype=float)

    def variance_deriv(self, mu):
        return np.zeros_like(mu, dtype=float)

    def unit_deviance(self, y, mu):
        return np.square(y - mu)

    def loglik_obs(self, y, mu, weights, scale=1.0, trials=None):
        used = weights > 0
        w = np.where(used, weights, 1.0)
        r = y - mu
        terms = -0.5 * (np.log(2 * np.pi * scale / w) + w * r * r / scale)
        return np.where(used, terms, 0.0)

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
    allowed_links = ("log", "identity", "sqrt", POWER)
    fixed_scale = True

    def variance(self, mu):
        return np.asarray(mu, dtype=float)

    def variance_deriv(self, mu):
        return np.ones_like(mu, dtype=float)

    def unit_deviance(self, y, mu):
        # 2 bd0: y log(y/mu) - (y - mu) cancels to nothing for counts of 1e10 and more
        return 2.0 * bd0(y, mu)

    def loglik_obs(self, y, mu, weights, scale=1.0, trials=None):
        return np.where(weights > 0, weights * poisson_log_pmf(y, mu), 0.0)

    def starting_mu(self, y, weights):
        return np.asarray(y, dtype=float) + 0.1

    def valid_mu(self, mu):
        return bool(np.all(np.isfinite(mu)) and np.all(mu > 0))

    def check_response(self, y, weights, column):
        super().check_response(y, weights, column)
        check_counts(y, column, "Poisson")


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
        # bd0 is homogeneous, so this is the deviance per trial of bd0(s, n mu) + bd0(f, n (1-mu))
        return 2.0 * (bd0(y, mu) + bd0(1.0 - y, 1.0 - mu))

    def loglik_obs(self, y, mu, weights, scale=1.0, trials=None):
        # R's binomial()$aic: m = trials if any exceed one, else the prior weights.
        m = trials if trials is not None and np.any(trials > 1) else weights
        used = m > 0
        m_used = np.round(m[used])
        log_pmf = binomial_log_pmf(np.round(m[used] * y[used]), m_used, mu[used])
        terms = np.zeros(len(y))
        terms[used] = weights[used] / m[used] * log_pmf
        return terms

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
                f"{y[outside[0]]:g} in row {outside[0]}); the {self.name} family needs 0/1 "
                "outcomes, proportions with weights = number of trials, or two count columns "
                "'successes + failures ~ ...'."
            )
        counts = weights * y
        # relative tolerance: y = successes / trials is rounded, so counts out of 1e10 trials
        # miss their integer by ~1e-6 in absolute terms
        if np.any(np.abs(counts - np.round(counts)) > 1e-7 * np.maximum(1.0, counts)):
            warnings.warn(
                f"response {column!r} times the weights gives non-integer numbers of successes; "
                "for proportions pass the number of trials as weights (R warns the same way).",
                DomainWarning,
                stacklevel=4,
            )


def poisson_log_pmf(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``log dpois(y, mu)`` by Loader's saddle-point form (R's ``dpois``), for ``mu > 0``.

    ``-stirlerr(y) - bd0(y, mu) - log(2 pi y) / 2``, and ``-mu`` at ``y = 0``: accurate to
    ~1e-15 relative where ``y log(mu) - mu - log(y!)`` loses every digit (counts of 1e12,
    means of 1e174). Non-integer ``y`` get the same continuous extension (``log Gamma``).
    """
    y, mu = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(mu, dtype=float))
    out = -mu.astype(float, copy=True)
    counted = y > 0
    if np.any(counted):
        yc = y[counted]
        out[counted] = -stirlerr(yc) - bd0(yc, mu[counted]) - 0.5 * np.log(2.0 * np.pi * yc)
    return out


def binomial_log_pmf(successes: np.ndarray, trials: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``log dbinom(successes, trials, p)`` by Loader's saddle-point form (R's ``dbinom``).

    ``stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n p) - bd0(n - x, n q)
    - log(2 pi x (n - x) / n) / 2`` for ``0 < x < n``; ``n log(1 - p)`` at ``x = 0`` and
    ``n log p`` at ``x = n``. ``trials > 0``; ``0 <= p <= 1``.
    """
    x, n, p = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (successes, trials, p)))
    out = np.empty_like(p)
    with np.errstate(divide="ignore"):
        none, every = x == 0, x == n
        out[none] = special.xlog1py(n[none], -p[none])
        out[every] = special.xlogy(n[every], p[every])
        inner = ~(none | every)
        if np.any(inner):
            xi, ni, pi = x[inner], n[inner], p[inner]
            fails = ni - xi
            out[inner] = (
                stirlerr(ni)
                - stirlerr(xi)
                - stirlerr(fails)
                - bd0(xi, ni * pi)
                - bd0(fails, ni * (1.0 - pi))
                - 0.5 * (np.log(2.0 * np.pi) + np.log(xi) + np.log(fails / ni))
            )
    return out


_NO_LLF = "no likelihood (quasi-likelihood): llf, AIC and BIC are NaN, as R prints NA"


class QuasiPoisson(Poisson):
    """R's ``quasipoisson``: Poisson estimates, dispersion Pearson chi2 / df_resid, t tests.

    There is no likelihood: ``llf``, ``aic`` and ``bic`` are NaN (R prints ``NA``).
    statsmodels fits the same model as ``GLM(family=Poisson()).fit(scale="X2")``.
    """

    name = "quasipoisson"
    fixed_scale = False
    has_loglik = False
    llf_convention = _NO_LLF

    def check_response(self, y, weights, column):
        Family.check_response(self, y, weights, column)
        reject_negative(y, column, "the quasipoisson family needs values >= 0.")


class QuasiBinomial(Binomial):
    """R's ``quasibinomial``: binomial estimates, dispersion Pearson chi2 / df_resid, t tests.

    There is no likelihood: ``llf``, ``aic`` and ``bic`` are NaN (R prints ``NA``); non-integer
    numbers of successes are allowed without a warning, as in R. statsmodels fits the same
    model as ``GLM(family=Binomial()).fit(scale="X2")``.
    """

    name = "quasibinomial"
    fixed_scale = False
    has_loglik = False
    llf_convention = _NO_LLF

    def check_response(self, y, weights, column):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DomainWarning)
            super().check_response(y, weights, column)


FAMILIES: dict[str, type[Family]] = {
    "gaussian": Gaussian,
    "binomial": Binomial,
    "poisson": Poisson,
    "gamma": Gamma,
    "inverse_gaussian": InverseGaussian,
    "negative_binomial": NegativeBinomial,
    "tweedie": Tweedie,
    "quasipoisson": QuasiPoisson,
    "quasibinomial": QuasiBinomial,
}
_ALIASES = {
    "bernoulli": "binomial",
    "normal": "gaussian",
    "logistic": "binomial",
    "inverse.gaussian": "inverse_gaussian",
    "inversegaussian": "inverse_gaussian",
    "negbin": "negative_binomial",
    "negative.binomial": "negative_binomial",
    "negativebinomial": "negative_binomial",
    "nb": "negative_binomial",
    "nb2": "negative_binomial",
}
#: Names accepted by :func:`glmspec.fit`; "multinomial" is fitted by its own solver.
FAMILY_NAMES: tuple[str, ...] = (*FAMILIES, "multinomial", *_ALIASES)
#: Family parameters :func:`get_family` accepts, and the families that use them.
FAMILY_PARAMS = {"theta": ("negative_binomial",), "var_power": ("tweedie",)}


#: Families whose response is read as binomial (0/1, a factor, proportions or two counts).
BINOMIAL_RESPONSE = ("binomial", "quasibinomial")
#: Families that take ``exposure=`` (with the log link).
EXPOSURE_FAMILIES = ("poisson", "quasipoisson", "negative_binomial")


def canonical_family_name(family: str) -> str:
    """Map a family name or alias to its canonical name, or raise :class:`UnknownFamilyError`."""
    if not isinstance(family, str):
        raise UnknownFamilyError(_not_a_name(family))
    key = family.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key in FAMILIES or key == "multinomial":
        return key
    raise UnknownFamilyError(
        f"unknown family {family!r}; known families: {', '.join(FAMILY_NAMES)}."
        f"{suggest(key, FAMILY_NAMES)}"
    )


# statsmodels' family classes and the names glmspec knows them by
_STATSMODELS_FAMILIES = {
    "Gaussian": "gaussian",
    "Binomial": "binomial",
    "Poisson": "poisson",
    "Gamma": "gamma",
    "InverseGaussian": "inverse_gaussian",
    "NegativeBinomial": "negative_binomial",
    "Tweedie": "tweedie",
}


def _not_a_name(family: object) -> str:
    """Why ``family`` is not a family; for a statsmodels family, the name to pass instead."""
    kind = type(family).__name__
    name = _STATSMODELS_FAMILIES.get(kind)
    if name is None or not type(family).__module__.startswith("statsmodels"):
        return f"family must be a family name such as 'poisson' or a Family object, not {kind}."
    link = type(getattr(family, "link", None)).__name__.lower()
    link = {"inversepower": "inverse", "inversesquared": "inverse_squared"}.get(link, link)
    args = [f"family={name!r}"]
    if link != FAMILIES[name].canonical_link:
        args.append(f"link={link!r}")
    if name == "negative_binomial" and getattr(family, "alpha", 0):
        args.append(f"theta={1 / family.alpha:g}")  # statsmodels' alpha is 1/theta
    if name == "tweedie":
        args.append(f"var_power={getattr(family, 'var_power', 1.5):g}")
    return (
        f"family is a statsmodels {kind} object; pass the family name instead: {', '.join(args)}."
    )


def check_family_params(name: str, **params) -> None:
    """Raise :class:`SpecificationError` for a parameter the family ``name`` does not use."""
    for key, value in params.items():
        if value is not None and name not in FAMILY_PARAMS[key]:
            users = ", ".join(FAMILY_PARAMS[key])
            raise SpecificationError(
                f"{key}={value!r} applies only to the {users} family, not to {name}."
            )


def get_family(
    family: str | Family,
    link: str | Link | None = None,
    *,
    theta: float | None = None,
    var_power: float | None = None,
) -> Family:
    """Return a family object with the requested link (the canonical link by default).

    Parameters
    ----------
    family : str or Family
        Family name (see :data:`FAMILY_NAMES`) or an instance, returned unchanged when
        ``link`` is None.
    link : str or Link, optional
        Link name or object; must be one the family allows.
    theta : float, optional
        Negative binomial shape; None estimates it by maximum likelihood.
    var_power : float
        Tweedie variance power in (1, 2); required for the Tweedie.

    Raises
    ------
    UnknownFamilyError, UnknownLinkError, SpecificationError
    """
    if isinstance(family, Family):
        check_family_params(family.name, theta=theta, var_power=var_power)
        return family if link is None else family.with_link(link)
    name = canonical_family_name(family)
    if name == "multinomial":
        raise UnknownFamilyError("the multinomial family is fitted by glmspec.solvers.multinomial.")
    check_family_params(name, theta=theta, var_power=var_power)
    if name == "negative_binomial":
        return NegativeBinomial(link, theta=theta)
    if name == "tweedie":
        return Tweedie(link, var_power=var_power)
    return FAMILIES[name](link)
