"""Families and links: the first layer above :mod:`glmspec.errors`.

A family (:class:`~glmspec.families.base.Family`) bundles, as R's ``family`` objects do, its
variance, unit deviance, log-likelihood, starting values, response support and allowed links.
A family also owns what depends on the distribution: its support (:class:`Interval`), how it
reads the response, its Anscombe residuals, its statsmodels counterpart and its ratio label;
code outside this package asks the family instead of comparing family names.
Modules: :mod:`.links` (link functions), :mod:`.base` (the base class, intervals),
:mod:`.exponential` (Gaussian, Poisson, binomial, quasi families), :mod:`.positive` (Gamma,
inverse Gaussian, Tweedie), :mod:`.negbin` (negative binomial with its theta likelihood),
:mod:`.multinomial` (the multinomial and its softmax link) and :mod:`.registry` (names,
aliases and :func:`get_family`). Everything else imports families from here.
"""

from glmspec.families.base import (
    POWER,
    Family,
    Interval,
    describe_allowed_links,
    link_allowed,
)
from glmspec.families.exponential import (
    Binomial,
    Gaussian,
    Poisson,
    QuasiBinomial,
    QuasiPoisson,
)
from glmspec.families.multinomial import Multinomial, Softmax
from glmspec.families.negbin import NegativeBinomial
from glmspec.families.positive import Gamma, InverseGaussian, Tweedie
from glmspec.families.registry import (
    BINOMIAL_RESPONSE,
    EXPOSURE_FAMILIES,
    FAMILIES,
    FAMILY_NAMES,
    FAMILY_PARAMS,
    canonical_family_name,
    check_family_params,
    family_class,
    get_family,
)

__all__ = [
    "BINOMIAL_RESPONSE",
    "EXPOSURE_FAMILIES",
    "FAMILIES",
    "FAMILY_NAMES",
    "FAMILY_PARAMS",
    "POWER",
    "Binomial",
    "Family",
    "Gamma",
    "Gaussian",
    "Interval",
    "InverseGaussian",
    "Multinomial",
    "NegativeBinomial",
    "Poisson",
    "QuasiBinomial",
    "QuasiPoisson",
    "Softmax",
    "Tweedie",
    "canonical_family_name",
    "check_family_params",
    "describe_allowed_links",
    "family_class",
    "get_family",
    "link_allowed",
]
