"""The base class of glmspec's distributions and the link rules every family shares.

A family owns everything that depends on which distribution it is: its support and range of
means as data (:class:`Interval`, as scikit-learn's ``_loss`` declares them), how it reads the
response (R's ``family$initialize``: :meth:`Family.read_response`), its Anscombe residuals,
its statsmodels counterpart and what ``exp(estimate)`` means. Code outside
:mod:`glmspec.families` asks the family these questions instead of comparing its name.

See :mod:`glmspec.families` for the conventions and the registry of families.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from glmspec.errors import DomainWarning, ResponseError, SpecificationError, UnknownLinkError
from glmspec.families.links import Link, Power, get_link, is_power_spec

#: Entry of ``allowed_links`` meaning "any ``power(p)`` link written as such" (R's ``power()``).
POWER = "power(p)"


@dataclass(frozen=True)
class Interval:
    """An interval of the real line, as scikit-learn's ``sklearn._loss.link.Interval``.

    Parameters
    ----------
    low, high : float
        Endpoints; infinite for a half-line or the whole line.
    low_inclusive, high_inclusive : bool
        Whether each endpoint belongs to the interval.
    """

    low: float
    high: float
    low_inclusive: bool
    high_inclusive: bool

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Elementwise: whether each value lies in the interval (NaN does not)."""
        values = np.asarray(values, dtype=float)
        above = values >= self.low if self.low_inclusive else values > self.low
        below = values <= self.high if self.high_inclusive else values < self.high
        return above & below

    def __str__(self) -> str:
        left = "[" if self.low_inclusive else "("
        right = "]" if self.high_inclusive else ")"
        return f"{left}{self.low:g}, {self.high:g}{right}"

    def describe_outside(self, count: int) -> str:
        """``"3 negative value(s)"``, ``"2 non-positive value(s)"`` or ``"1 value(s) outside
        [0, 1]"``: how many values miss the interval, in words."""
        if self.low == 0 and self.high == np.inf:
            return f"{count} {'negative' if self.low_inclusive else 'non-positive'} value(s)"
        return f"{count} value(s) outside {self}"


#: The whole real line.
REAL_LINE = Interval(-np.inf, np.inf, False, False)
#: ``y >= 0``: counts and Tweedie responses.
NON_NEGATIVE = Interval(0.0, np.inf, True, False)
#: ``y > 0``, and the means of every log-scale family.
POSITIVE = Interval(0.0, np.inf, False, False)
#: Proportions (and 0/1 outcomes).
UNIT_INTERVAL = Interval(0.0, 1.0, True, True)
#: Probabilities strictly inside (0, 1): the binomial means.
OPEN_UNIT_INTERVAL = Interval(0.0, 1.0, False, False)


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
    #: Values the response may take; :meth:`check_response` rejects the others.
    support: Interval = REAL_LINE
    #: Means the family allows (R's ``validmu``).
    mean_domain: Interval = REAL_LINE
    #: Family parameters without a default (the Tweedie's ``var_power``).
    required_params: tuple[str, ...] = ()
    #: True for the multinomial: one response of several classes, a coefficient per class.
    is_multiclass: bool = False
    #: True when the response is a proportion of trials (binomial: 0/1, a two-level factor,
    #: proportions with weights, or two count columns).
    proportion_response: bool = False
    #: True when the response may be a factor (text) column, which the family reads.
    categorical_response: bool = False
    #: True for count families (they take ``exposure=`` with the log link; zero counts can
    #: make log-link estimates diverge).
    counts_response: bool = False
    #: True for the quasi-likelihood families (R's quasipoisson/quasibinomial).
    is_quasi: bool = False
    #: The quasi family whose F test R's ``drop1`` assumes when asked for one on this family.
    quasi_name: str | None = None
    #: Whether Firth's adjustment is implemented for this family's canonical link.
    has_firth: bool = False
    #: What ``exp(estimate)`` means under the log link.
    log_ratio_label: str = "rate ratio"
    #: The statsmodels family class (``statsmodels.genmod.families``) fitting the same model.
    statsmodels_name: str = ""
    #: statsmodels' ``llf`` needs re-evaluating at R's dispersion (families with an estimated
    #: dispersion and a likelihood), with the weights as ``freq_weights`` where R multiplies
    #: each row's log-density by its prior weight.
    statsmodels_llf_note: str | None = None
    weights_multiply_log_density: bool = False

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

    @classmethod
    def allows_link(cls, link: str | Link) -> bool:
        """Whether the family accepts ``link`` (asked without building the family)."""
        return link_allowed(cls, link, get_link(link))

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
        return bool(np.all(np.isfinite(mu)) and np.all(self.mean_domain.contains(mu)))

    @property
    def support_requirement(self) -> str:
        """What the response must be, for the message of :meth:`check_response`."""
        return f"the {self.name} family needs values in {self.support}."

    def check_response(self, y: np.ndarray, weights: np.ndarray, column: str) -> None:
        """Raise :class:`ResponseError` naming ``column`` if ``y`` is outside the support."""
        if not np.all(np.isfinite(y)):
            raise ResponseError(f"response {column!r} has non-finite values.")
        outside = np.flatnonzero(~self.support.contains(y))
        if outside.size:
            raise ResponseError(
                f"response {column!r} has {self.support.describe_outside(outside.size)} "
                f"(first: {y[outside[0]]:g} in row {outside[0]}); {self.support_requirement}"
            )

    @classmethod
    def read_response(
        cls,
        values: Any,
        name: str,
        *,
        levels: tuple | None = None,
        column_names: tuple[str, ...] = (),
    ) -> tuple[np.ndarray, np.ndarray | None, tuple | None]:
        """The response from the columns a formula's left-hand side gives (R's ``initialize``).

        A class method: the Dask engine's workers read responses knowing the family's name only.

        Parameters
        ----------
        values : ndarray
            The left-hand side's columns, ``(n, k)``.
        name : str
            The response's label, for messages.
        levels : tuple, optional
            The classes when the left-hand side is a factor.
        column_names : tuple of str
            The left-hand side's column names, for messages.

        Returns
        -------
        y : ndarray
        trials : ndarray or None
            Numbers of trials (binomial); they multiply the prior weights.
        classes : tuple or None
            Class labels of a factor response.
        """
        values = np.asarray(values, dtype=float)
        if levels or values.ndim != 2 or values.shape[1] != 1:
            width = 1 if values.ndim == 1 else values.shape[1]
            raise ResponseError(
                f"the {cls.name} family needs one numeric response column; {name!r} "
                f"gives {width} column(s) {list(column_names)}."
            )
        return values[:, 0], None, None

    def anscombe(self, y: np.ndarray, mu: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """Anscombe residuals of unit prior weight, as statsmodels' ``resid_anscombe``."""
        raise SpecificationError(f"Anscombe residuals are not defined for the {self.name} family.")

    @property
    def ratio_label(self) -> str | None:
        """What ``exp(estimate)`` means, or None when it has no ratio meaning (by the link:
        logit gives odds ratios, log the family's :attr:`log_ratio_label`)."""
        if self.link.name == "logit":
            return "odds ratio"
        if self.link.name == "log":
            return self.log_ratio_label
        return None

    @property
    def supports_firth(self) -> bool:
        """Whether ``method="firth"`` is available: Firth's adjustment at the canonical link."""
        return self.has_firth and self.is_canonical

    @property
    def exact_in_one_step(self) -> bool:
        """Whether one IRLS step from any start solves the model (constant weights and
        working response: the Gaussian with the identity link)."""
        return False

    def firth_start_mu(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Means strictly inside the mean's range, finite on the link scale under separation."""
        return np.asarray(y, dtype=float) + 0.5

    def drop1_loglik(self, deviance: np.ndarray, nobs: float, dispersion: float) -> np.ndarray:
        """The deviance term of R's ``drop1.glm`` AIC, ``deviance / dispersion``."""
        return deviance / dispersion

    def statsmodels_params(self) -> dict[str, Any]:
        """Keyword arguments of the statsmodels family besides the link."""
        return {}

    def statsmodels_family(self) -> Any:
        """The statsmodels family (``statsmodels.genmod.families``) of the same model.

        statsmodels is imported here, on first use, so that ``import glmspec`` does not load
        it. ``check_link=False``: statsmodels refuses R's ``power(p)`` links for some families.
        """
        import statsmodels.api as sm

        cls = getattr(sm.families, self.statsmodels_name)
        return cls(self.link.statsmodels_link(), check_link=False, **self.statsmodels_params())

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


def warn_non_integer_counts(y: np.ndarray, column: str, family: str) -> None:
    """Warn (as R does) when a count family's response has non-integer values."""
    fractional = int(np.count_nonzero(y != np.round(y)))
    if fractional:
        warnings.warn(
            f"response {column!r} has {fractional} non-integer value(s); the {family} "
            "log-likelihood uses log Gamma(y + 1) for them (R warns the same way).",
            DomainWarning,
            stacklevel=5,
        )
