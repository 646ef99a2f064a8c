"""The base class of glmspec's distributions and the link rules every family shares.

See :mod:`glmspec.families` for the conventions and the registry of families.
"""

from __future__ import annotations

import warnings

import numpy as np

from glmspec.errors import DomainWarning, ResponseError, UnknownLinkError
from glmspec.families.links import Link, Power, get_link, is_power_spec

#: Entry of ``allowed_links`` meaning "any ``power(p)`` link written as such" (R's ``power()``).
POWER = "power(p)"


class Family:
    """Base class of the distributions. Subclasses set the class attributes below."""

    name: str = "family"
    canonical_link: str = "identity"
    #: Link names the family accepts; :data:`POWER` admits any ``power(p)`` link.
    allowed_links: tuple[str, ...] = ()
    #: True when the dispersion is 1 by definition (binomial, Poisson).
    fixed_scale: bool = False
    #: Parameters besides the coefficients counted by AIC/BIC (R counts the Gaussian sigma).
    n_dispersion_params: int = 0
    #: False for quasi-likelihood families and the Tweedie: llf, AIC and BIC are NaN.
    has_loglik: bool = True
    #: How ``loglik`` is defined, for summaries, reports and the statsmodels check.
    llf_convention: str = "full log-likelihood with all constants, as R's logLik"

    def __init__(self, link: str | Link | None = None) -> None:
        self.link = self._resolve_link(link)

    def _resolve_link(self, link: str | Link | None) -> Link:
        chosen = get_link(self.canonical_link if link is None else link)
        if not link_allowed(self, link, chosen):
            raise UnknownLinkError(
                f"link {chosen.name!r} is not available for the {self.name} family; "
                f"{describe_allowed_links(self)}"
            )
        return chosen

    def with_link(self, link: str | Link | None) -> Family:
        """The same family (with the same parameters) and another link."""
        return type(self)(link)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(link={self.link.name!r})"

    @property
    def label(self) -> str:
        """Family name for display, with its parameters (e.g. ``tweedie(var_power=1.5)``)."""
        return self.name

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

    def loglik_obs(
        self,
        y: np.ndarray,
        mu: np.ndarray,
        weights: np.ndarray,
        scale: float = 1.0,
        trials: np.ndarray | None = None,
    ) -> np.ndarray:
        """Each row's log-likelihood term (zero for rows with zero weight)."""
        raise NotImplementedError

    def loglik(
        self,
        y: np.ndarray,
        mu: np.ndarray,
        weights: np.ndarray,
        scale: float = 1.0,
        trials: np.ndarray | None = None,
        freq_weights: np.ndarray | None = None,
    ) -> float:
        """Full log-likelihood at ``mu`` with dispersion ``scale`` (R's ``logLik`` terms).

        Parameters
        ----------
        y, mu : ndarray
            Response and means.
        weights : ndarray
            Prior weights (statsmodels' ``var_weights``; binomial: times the trials).
        scale : float
            Dispersion.
        trials : ndarray, optional
            Binomial numbers of trials.
        freq_weights : ndarray, optional
            Each row stands for this many identical rows: its term is multiplied by it.

        Returns
        -------
        float
            NaN for families without a likelihood (``has_loglik`` False).
        """
        if not self.has_loglik:
            return float("nan")
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            # rows with zero weight may hold an overflowed mean; loglik_obs masks them out
            terms = self.loglik_obs(y, mu, weights, scale, trials)
        if freq_weights is not None:
            terms = np.where(freq_weights > 0, freq_weights * terms, 0.0)
        return float(np.sum(terms))

    def loglik_scale(
        self, deviance: float, nobs: float, pearson_scale: float, weight_sum: float | None = None
    ) -> float:
        """Dispersion at which R's ``logLik`` evaluates the log-likelihood.

        1 for fixed-dispersion families, else ``deviance / nobs`` (R's Gaussian);
        ``weight_sum`` (the sum of the prior weights) is used by Gamma and inverse Gaussian.
        """
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


def link_allowed(family: Family | type[Family], requested, chosen: Link) -> bool:
    """Whether ``family`` accepts ``chosen`` (resolved from ``requested``).

    A link is accepted when its name is listed, or when the family allows :data:`POWER` and
    the link was asked for as a power: ``"power(p)"`` or a :class:`~glmspec.families.links.Power`
    object (so ``poisson`` rejects ``"inverse"`` but accepts ``"power(-1)"``, as R's
    ``poisson(link = power(-1))``).
    """
    allowed = family.allowed_links
    if chosen.name in allowed:
        return True
    as_power = isinstance(requested, Power) or (
        isinstance(requested, str) and is_power_spec(requested)
    )
    return POWER in allowed and as_power


def describe_allowed_links(family: Family | type[Family]) -> str:
    """``"allowed links: a, b, c."``, plus a note when ``power(p)`` links are allowed too."""
    named = [name for name in family.allowed_links if name != POWER]
    text = f"allowed links: {', '.join(named)}."
    if POWER in family.allowed_links:
        text += " Any power(p) link, e.g. 'power(0.5)', is allowed too (R's power())."
    return text


def reject_negative(y: np.ndarray, column: str, requirement: str) -> None:
    """Raise :class:`ResponseError` naming ``column`` and the first negative value."""
    negative = np.flatnonzero(y < 0)
    if negative.size:
        raise ResponseError(
            f"response {column!r} has {negative.size} negative value(s) (first: "
            f"{y[negative[0]]:g} in row {negative[0]}); {requirement}"
        )


def check_counts(y: np.ndarray, column: str, family: str) -> None:
    reject_negative(y, column, f"the {family} family needs counts >= 0.")
    fractional = int(np.count_nonzero(y != np.round(y)))
    if fractional:
        warnings.warn(
            f"response {column!r} has {fractional} non-integer value(s); the {family} "
            "log-likelihood uses log Gamma(y + 1) for them (R warns the same way).",
            DomainWarning,
            stacklevel=5,
        )
