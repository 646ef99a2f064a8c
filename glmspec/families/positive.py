"""Gamma, inverse Gaussian and Tweedie families, with R's conventions.

* **Gamma** (``Gamma()`` in R): ``V(mu) = mu^2``; links inverse (canonical), log, identity and
  ``power(p)``.
* **Inverse Gaussian** (``inverse.gaussian()``): ``V(mu) = mu^3``; links inverse_squared
  (canonical, R's ``1/mu^2``), inverse, log, identity and ``power(p)``.
* **Tweedie** (``statmod::tweedie(var.power, link.power = 0)``): ``V(mu) = mu^p`` with a fixed
  ``var_power`` p in (1, 2) (compound Poisson-gamma: exact zeros and positive values); log
  link.

The dispersion is estimated by Pearson chi2 / df_resid (R's ``summary.glm``; statsmodels'
default ``scale="X2"``).

Log-likelihood, as R's ``logLik``: for Gamma and inverse Gaussian it is evaluated at the
dispersion ``deviance / sum(prior weights)`` (R's ``Gamma()$aic`` and
``inverse.gaussian()$aic`` use ``disp <- dev / sum(wt)``), with each row's log-density
multiplied by its prior weight, and AIC/BIC count the dispersion as a parameter. statsmodels'
``llf`` uses the Pearson dispersion instead (and, with ``var_weights``, the density of the
weighted observation), so the statsmodels check re-evaluates its family's ``loglike`` at
R's dispersion with the weights as ``freq_weights``. The Tweedie density has no closed form:
``llf``, ``aic`` and ``bic`` are NaN and only the deviance is reported (statsmodels' Tweedie
``llf`` is a series approximation that glmspec does not reproduce).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from glmspec.errors import SpecificationError
from glmspec.families.base import NON_NEGATIVE, POSITIVE, POWER, Family
from glmspec.families.saddle import bd0

_R_DISPERSION = (
    "full log-likelihood, R's logLik: each row's log-density times its prior weight, at the "
    "dispersion deviance/sum(weights) (statsmodels' llf uses the Pearson dispersion)"
)


class _PositiveContinuous(Family):
    """Shared parts of Gamma and inverse Gaussian: y > 0, R's starting means and dispersion."""

    n_dispersion_params = 1
    llf_convention = _R_DISPERSION
    support = POSITIVE
    mean_domain = POSITIVE
    log_ratio_label = "ratio of means"
    statsmodels_llf_note = (
        "sum w log f at dispersion deviance/sum(w); statsmodels loglike re-evaluated "
        "there, since its llf uses the Pearson dispersion"
    )
    weights_multiply_log_density = True

    @property
    def support_requirement(self) -> str:
        return (
            f"the {self.name} family needs values > 0 (R: 'non-positive values not allowed "
            f"for the {self.name} family')."
        )

    def loglik_scale(self, deviance, nobs, pearson_scale, weight_sum=None):
        return deviance / (nobs if weight_sum is None else weight_sum)

    def starting_mu(self, y, weights):
        return np.asarray(y, dtype=float).copy()  # R: mustart <- y


class Gamma(_PositiveContinuous):
    """Gamma distribution: ``Var(y) = phi mu^2``."""

    name = "gamma"
    canonical_link = "inverse"
    allowed_links = ("inverse", "log", "identity", POWER)
    statsmodels_name = "Gamma"

    def anscombe(self, y, mu, scale=1.0):
        return 3.0 * (np.cbrt(y) - np.cbrt(mu)) / np.cbrt(mu) / np.sqrt(scale)

    def variance(self, mu):
        return np.square(mu)

    def variance_deriv(self, mu):
        return 2.0 * np.asarray(mu, dtype=float)

    def unit_deviance(self, y, mu):
        # 2 (log(mu/y) + y/mu - 1) = 2 bd0(mu, y) / mu, without its cancellation near y = mu
        return 2.0 * bd0(mu, y) / mu

    def loglik_obs(self, y, mu, weights, scale=1.0, trials=None):
        # R: dgamma(y, shape = 1/disp, scale = mu * disp, log = TRUE) * wt
        used = weights > 0
        shape = 1.0 / scale
        with np.errstate(divide="ignore", invalid="ignore"):
            log_density = (
                (shape - 1.0) * np.log(y)
                - y / (mu * scale)
                - special.gammaln(shape)
                - shape * np.log(mu * scale)
            )
        return np.where(used, weights * log_density, 0.0)


class InverseGaussian(_PositiveContinuous):
    """Inverse Gaussian distribution: ``Var(y) = phi mu^3``."""

    name = "inverse_gaussian"
    canonical_link = "inverse_squared"
    allowed_links = ("inverse_squared", "inverse", "log", "identity", POWER)
    statsmodels_name = "InverseGaussian"

    def anscombe(self, y, mu, scale=1.0):
        return np.log(y / mu) / np.sqrt(mu * scale)

    def variance(self, mu):
        return np.power(mu, 3.0)

    def variance_deriv(self, mu):
        return 3.0 * np.square(mu)

    def unit_deviance(self, y, mu):
        return np.square(y - mu) / (y * np.square(mu))

    def loglik_obs(self, y, mu, weights, scale=1.0, trials=None):
        used = weights > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            log_density = -0.5 * (
                np.log(2.0 * np.pi * scale * np.power(y, 3.0))
                + np.square(y - mu) / (scale * y * np.square(mu))
            )
        return np.where(used, weights * log_density, 0.0)


def check_var_power(var_power) -> float:
    """``var_power`` as a float in (1, 2), or raise :class:`SpecificationError`."""
    if var_power is None:
        raise SpecificationError(
            "the tweedie family needs var_power=, a number in (1, 2) (compound Poisson-gamma)."
        )
    if isinstance(var_power, bool) or not isinstance(var_power, (int, float, np.number)):
        raise SpecificationError(f"var_power must be a number in (1, 2), got {var_power!r}.")
    if not 1.0 < float(var_power) < 2.0:
        raise SpecificationError(
            f"var_power must be in the open interval (1, 2), got {var_power!r}; 1 is the "
            "Poisson (family='poisson' or 'quasipoisson') and 2 the Gamma (family='gamma')."
        )
    return float(var_power)


class Tweedie(Family):
    """Tweedie distribution with ``V(mu) = mu^p``, ``1 < p < 2``, and the log link.

    Parameters
    ----------
    link : str or Link, optional
        Only ``"log"`` (the default).
    var_power : float
        The variance power p, strictly between 1 and 2.
    """

    name = "tweedie"
    canonical_link = "log"
    allowed_links = ("log",)
    has_loglik = False
    required_params = ("var_power",)
    support = NON_NEGATIVE
    mean_domain = POSITIVE
    log_ratio_label = "ratio of means"
    statsmodels_name = "Tweedie"
    llf_convention = (
        "not available: the Tweedie density has no closed form, so llf, AIC and BIC are NaN "
        "(statsmodels' llf is a series approximation); the deviance is reported"
    )

    def __init__(self, link=None, var_power: float | None = None) -> None:
        self.var_power = check_var_power(var_power)
        super().__init__(link)

    def with_link(self, link):
        return type(self)(link, var_power=self.var_power)

    def __repr__(self) -> str:
        return f"Tweedie(link={self.link.name!r}, var_power={self.var_power:g})"

    @property
    def label(self) -> str:
        return f"tweedie(var_power={self.var_power:g})"

    def variance(self, mu):
        return np.power(mu, self.var_power)

    def variance_deriv(self, mu):
        return self.var_power * np.power(mu, self.var_power - 1.0)

    def unit_deviance(self, y, mu):
        p = self.var_power
        y = np.asarray(y, dtype=float)
        y_term = np.power(y, 2.0 - p) / ((1.0 - p) * (2.0 - p))
        return 2.0 * (
            y_term - y * np.power(mu, 1.0 - p) / (1.0 - p) + np.power(mu, 2.0 - p) / (2.0 - p)
        )

    def starting_mu(self, y, weights):
        y = np.asarray(y, dtype=float)
        return y + 0.1 * (y == 0)  # statmod's tweedie()$initialize

    @property
    def support_requirement(self) -> str:
        return "the tweedie family with 1 < var_power < 2 needs values >= 0."

    def anscombe(self, y, mu, scale=1.0):
        c = (3.0 - self.var_power) / 3.0
        return (y**c - mu**c) / c / mu ** (self.var_power / 6.0) / np.sqrt(scale)

    def statsmodels_params(self):
        return {"var_power": self.var_power}
