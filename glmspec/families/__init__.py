"""Families and links: the first layer above :mod:`glmspec.errors`.

A family (:class:`~glmspec.families.base.Family`) bundles, as R's ``family`` objects do, its
variance, unit deviance, log-likelihood, starting values, response support and allowed links.
Modules: :mod:`.links` (link functions), :mod:`.base` (the base class), :mod:`.exponential`
(Gaussian, Poisson, binomial, quasi families and the registry), :mod:`.positive` (Gamma,
inverse Gaussian, Tweedie) and :mod:`.negbin` (negative binomial with its theta likelihood).
Everything else imports families from here.
"""

from glmspec.families.base import POWER, Family, describe_allowed_links, link_allowed
from glmspec.families.exponential import (
    BINOMIAL_RESPONSE,
    EXPOSURE_FAMILIES,
    FAMILIES,
    FAMILY_NAMES,
    FAMILY_PARAMS,
    Binomial,
    Gaussian,
    Poisson,
    QuasiBinomial,
    QuasiPoisson,
    canonical_family_name,
    check_family_params,
    get_family,
)
from glmspec.families.negbin import NegativeBinomial
from glmspec.families.positive import Gamma, InverseGaussian, Tweedie

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
    "InverseGaussian",
    "NegativeBinomial",
    "Poisson",
    "QuasiBinomial",
    "QuasiPoisson",
    "Tweedie",
    "canonical_family_name",
    "check_family_params",
    "describe_allowed_links",
    "get_family",
    "link_allowed",
]
