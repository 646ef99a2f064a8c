"""The registry of families: names, aliases, family parameters and :func:`get_family`."""

from __future__ import annotations

from glmspec.errors import SpecificationError, UnknownFamilyError, suggest
from glmspec.families.base import Family
from glmspec.families.exponential import (
    Binomial,
    Gaussian,
    Poisson,
    QuasiBinomial,
    QuasiPoisson,
)
from glmspec.families.links import Link
from glmspec.families.multinomial import Multinomial
from glmspec.families.negbin import NegativeBinomial
from glmspec.families.positive import Gamma, InverseGaussian, Tweedie

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
    "multinomial": Multinomial,
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
#: Names accepted by :func:`glmspec.fit`.
FAMILY_NAMES: tuple[str, ...] = (*FAMILIES, *_ALIASES)
#: Family parameters :func:`get_family` accepts, and the families that use them.
FAMILY_PARAMS = {"theta": ("negative_binomial",), "var_power": ("tweedie",)}


#: Families whose response is read as binomial (0/1, a factor, proportions or two counts).
BINOMIAL_RESPONSE = tuple(name for name, cls in FAMILIES.items() if cls.proportion_response)
#: Families that take ``exposure=`` (with the log link): the count families.
EXPOSURE_FAMILIES = tuple(name for name, cls in FAMILIES.items() if cls.counts_response)


def canonical_family_name(family: str) -> str:
    """Map a family name or alias to its canonical name, or raise :class:`UnknownFamilyError`."""
    if not isinstance(family, str):
        raise UnknownFamilyError(_not_a_name(family))
    key = family.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key in FAMILIES:
        return key
    raise UnknownFamilyError(
        f"unknown family {family!r}; known families: {', '.join(FAMILY_NAMES)}."
        f"{suggest(key, FAMILY_NAMES)}"
    )


# statsmodels' family classes and the names glmspec knows them by (quasi families share
# their statsmodels class with the likelihood family)
_STATSMODELS_FAMILIES = {
    cls.statsmodels_name: name
    for name, cls in FAMILIES.items()
    if cls.statsmodels_name and not cls.is_quasi
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


def family_class(family: str | Family | type[Family]) -> type[Family]:
    """The class of a family given by name (or alias), instance or class.

    Its class attributes (support, ``is_multiclass``, ``categorical_response``) and class
    methods (``read_response``) need no parameters, so a name is enough to read a response.
    """
    if isinstance(family, type) and issubclass(family, Family):
        return family
    if isinstance(family, Family):
        return type(family)
    return FAMILIES[canonical_family_name(family)]


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
    check_family_params(name, theta=theta, var_power=var_power)
    if name == "negative_binomial":
        return NegativeBinomial(link, theta=theta)
    if name == "tweedie":
        return Tweedie(link, var_power=var_power)
    return FAMILIES[name](link)
