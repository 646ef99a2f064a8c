"""Exponential-family distributions, with R's ``family`` vocabulary and conventions.

A family knows its variance function, unit deviance, log-likelihood, starting values, the
support of its response and which links it allows. Everything is vectorised over
observations; ``weights`` are R's prior weights (for the binomial: prior weight times the
number of trials, as ``glm()`` stores them).

This module holds the Gaussian, Poisson, binomial and quasi families; the base class lives in
:mod:`glmspec.families.base`, Gamma, inverse Gaussian and Tweedie in
:mod:`glmspec.families.positive`, the negative binomial in :mod:`glmspec.families.negbin`,
the multinomial in :mod:`glmspec.families.multinomial` and the registry of every family in
:mod:`glmspec.families.registry`.

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

from glmspec.errors import DomainWarning, ResponseError
from glmspec.families.base import (
    NON_NEGATIVE,
    OPEN_UNIT_INTERVAL,
    POSITIVE,
    POWER,
    UNIT_INTERVAL,
    Family,
    warn_non_integer_counts,
)
from glmspec.families.saddle import bd0, stirlerr

# The families defined here; glmspec.families re-exports them.
__all__ = ["Binomial", "Gaussian", "Poisson", "QuasiBinomial", "QuasiPoisson"]

_TWO_THIRDS = 2.0 / 3.0


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
    log_ratio_label = "ratio of means"
    statsmodels_name = "Gaussian"
    statsmodels_llf_note = "Gaussian at dispersion deviance/nobs; statsmodels loglike re-evaluated"

    @property
    def exact_in_one_step(self) -> bool:
        return self.link.name == "identity"

    def anscombe(self, y, mu, scale=1.0):
        return (y - mu) / np.sqrt(scale)

    def drop1_loglik(self, deviance, nobs, dispersion):
        # R's drop1.glm profiles sigma out: n log(RSS / n)
        return nobs * np.log(deviance / nobs)

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
    support = NON_NEGATIVE
    mean_domain = POSITIVE
    counts_response = True
    quasi_name = "quasipoisson"
    has_firth = True
    statsmodels_name = "Poisson"

    @property
    def support_requirement(self) -> str:
        return f"the {self.name} family needs counts >= 0."

    def anscombe(self, y, mu, scale=1.0):
        return 1.5 * (y**_TWO_THIRDS - mu**_TWO_THIRDS) / (mu ** (1.0 / 6.0) * np.sqrt(scale))

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

    def check_response(self, y, weights, column):
        super().check_response(y, weights, column)
        warn_non_integer_counts(y, column, "Poisson")


class Binomial(Family):
    """Binomial distribution; ``y`` is the proportion of successes, dispersion fixed at 1."""

    name = "binomial"
    canonical_link = "logit"
    allowed_links = ("logit", "probit", "cloglog", "log", "cauchit")
    fixed_scale = True
    support = UNIT_INTERVAL
    mean_domain = OPEN_UNIT_INTERVAL
    proportion_response = True
    categorical_response = True
    quasi_name = "quasibinomial"
    has_firth = True
    log_ratio_label = "risk ratio"
    statsmodels_name = "Binomial"

    @property
    def support_requirement(self) -> str:
        return (
            f"the {self.name} family needs 0/1 outcomes, proportions with weights = number of "
            "trials, or two count columns 'successes + failures ~ ...'."
        )

    @classmethod
    def read_response(cls, values, name, *, levels=None, column_names=()):
        """0/1 outcomes, a two-level factor (the second level is a success), proportions, or
        two count columns ``successes + failures`` (R's ``cbind``): the proportion of
        successes and, for counts, the numbers of trials."""
        values = np.asarray(values, dtype=float)
        if levels:
            if len(levels) != 2:
                raise ResponseError(
                    f"binomial response {name!r} has {len(levels)} classes {list(levels)}; it "
                    "needs exactly two (use family='multinomial' for more)."
                )
            return values[:, 1], np.ones(len(values)), tuple(levels)
        if values.shape[1] == 1:
            return values[:, 0], np.ones(len(values)), None
        if values.shape[1] == 2:
            if np.any(values < 0):
                raise ResponseError(f"binomial counts {name!r} must be non-negative.")
            trials = values.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                y = np.where(trials > 0, values[:, 0] / trials, 0.0)
            return y, trials, None
        raise ResponseError(
            f"binomial response {name!r} has {values.shape[1]} columns; give one column or two "
            "count columns 'successes + failures ~ ...'."
        )

    def anscombe(self, y, mu, scale=1.0):
        # B(x) = Beta(2/3, 2/3) I_x(2/3, 2/3), Cox and Snell's transformation
        def cox_snell(x):
            beta = special.beta(_TWO_THIRDS, _TWO_THIRDS)
            return special.betainc(_TWO_THIRDS, _TWO_THIRDS, x) * beta

        return (cox_snell(y) - cox_snell(mu)) / (mu * (1.0 - mu) * scale**3) ** (1.0 / 6.0)

    def firth_start_mu(self, y, weights):
        return self.starting_mu(y, weights)

    def variance(self, mu):
        return mu * (1.0 - mu)

    def variance_deriv(self, mu):
        return 1.0 - 2.0 * mu

    def unit_deviance(self, y, mu):
        y, mu = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(mu, dtype=float))
        with np.errstate(all="ignore"):
            # A 0/1 response (most binomial fits) has the closed form -2 log(q), q the mean
            # of the outcome seen: mu where y = 1, 1 - mu where y = 0, blended without a mask
            # as (1 - y) - (1 - 2y) mu (exact where y = 1). 1 - mu rounds, by ``error``,
            # recovered exactly (Fast2Sum); log(q + error) = log(q) + error / q to an ulp.
            # Two bd0 calls instead took 13 % of a logistic fit on 1e6 x 100 (profiled).
            failure = 1.0 - y
            signed_mu = (1.0 - 2.0 * y) * mu
            q = failure - signed_mu
            error = failure - q
            error -= signed_mu
            error /= q
            out = np.log(q)
            out += error
            out *= -2.0
            out += 0.0  # -0.0 where the outcome seen had mean 1 (a deviance residual's sign)
            if not np.isfinite(out).all():
                out[q == 0.0] = np.inf  # the outcome seen had mean 0 (0 / 0 above)
            proportion = y * failure  # nonzero where y is neither 0 nor 1
            between = np.flatnonzero(proportion) if proportion.any() else None
        if between is not None:
            # bd0 is homogeneous: the deviance per trial of bd0(s, n mu) + bd0(f, n (1 - mu))
            part_y, part_mu = y.reshape(-1)[between], mu.reshape(-1)[between]
            flat = out.reshape(-1)
            flat[between] = 2.0 * (bd0(part_y, part_mu) + bd0(1.0 - part_y, 1.0 - part_mu))
        return out

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

    def check_response(self, y, weights, column):
        super().check_response(y, weights, column)
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
    is_quasi = True
    quasi_name = None
    has_firth = False

    @property
    def support_requirement(self) -> str:
        return "the quasipoisson family needs values >= 0."

    def check_response(self, y, weights, column):
        Family.check_response(self, y, weights, column)  # non-integer values are fine


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
    is_quasi = True
    quasi_name = None
    has_firth = False

    def check_response(self, y, weights, column):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DomainWarning)
            super().check_response(y, weights, column)
