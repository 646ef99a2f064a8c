"""The options of a fit and every rule about them, in one place for every front end.

:class:`FitOptions` lists the options; a field with ``spec_type`` in its metadata is also a
key of spec files, with that TOML type (:data:`SPEC_OPTION_TYPES`), so an option added here
reaches :mod:`glmspec.spec` without editing it. :func:`option_problems` applies every rule
(each option on its own, then the rules between options: the family's link and parameters,
exposure only with a log-link count family, the multinomial's softmax link, the penalties,
cov_type, ``singular``, ``method`` and what the Dask engine does not do) and returns every
broken one; :func:`check_fit_options` raises the first. :func:`glmspec.fit`,
:func:`glmspec.fit_arrays`, spec files and the Dask engine all go through them, so a rule
gives the same message whichever front end the options came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from glmspec.design.aliasing import check_singular_option
from glmspec.design.build import check_missing_policy
from glmspec.design.formula_check import check_mode
from glmspec.errors import DataError, GLMSpecError, SpecificationError, suggest
from glmspec.families import (
    EXPOSURE_FAMILIES,
    FAMILY_PARAMS,
    Family,
    canonical_family_name,
    check_family_params,
    family_class,
    get_family,
)
from glmspec.families.links import get_link
from glmspec.families.negbin import check_theta
from glmspec.families.positive import check_var_power
from glmspec.inference.covariance import check_cov_type, normalize_cov_type
from glmspec.solvers.firth import check_method_option


def option(default: Any, spec_type: type | None = None) -> Any:
    """A :class:`FitOptions` field; with ``spec_type`` (str, int or float) it is also a spec
    key whose TOML value must have that type (a column name is a ``str``)."""
    return field(default=default, metadata={"spec_type": spec_type} if spec_type else {})


@dataclass(frozen=True)
class FitOptions:
    """Every option of a fit, as the user gave it: kept on the results (``res.spec``) so the
    fit can be reproduced and cross-checked. Built by :func:`check_fit_options` for
    :func:`glmspec.fit` (also for spec files and Dask data) and :func:`glmspec.fit_arrays`;
    the fitting step reads ``max_iter``, ``tol``, the penalty, ``singular`` and ``method``
    from it. ``weights``, ``offset``, ``freq_weights``, ``exposure`` and ``groups`` are the
    column names given, "array" for arrays, or None."""

    formula: str
    family: str = option("gaussian", str)
    link: str | None = option(None, str)
    weights: Any = option(None, str)
    offset: Any = option(None, str)
    missing: str = option("raise", str)
    max_iter: int = option(100, int)
    tol: float = option(1e-8, float)
    freq_weights: Any = option(None, str)
    exposure: Any = option(None, str)
    theta: float | None = option(None, float)
    var_power: float | None = option(None, float)
    cov_type: str = option("nonrobust", str)
    groups: Any = option(None, str)
    penalty: str | None = option(None, str)
    alpha: float = option(0.0, float)
    l1_ratio: float = option(0.0, float)
    singular: str = option("error", str)
    method: str = option("ml", str)
    formula_mode: str = option("python")


#: The spec keys taken from :class:`FitOptions`, in its order, with their TOML types.
SPEC_OPTION_TYPES: dict[str, type] = {
    f.name: f.metadata["spec_type"] for f in fields(FitOptions) if "spec_type" in f.metadata
}

#: The penalties ``fit(penalty=...)`` accepts.
PENALTIES = ("l2", "elastic_net")

#: The options that take a column of the data (or, in memory, an array).
COLUMN_OPTIONS = ("weights", "offset", "freq_weights", "exposure", "groups")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def _check_max_iter(max_iter: Any) -> None:
    if not isinstance(max_iter, (int, np.integer)) or isinstance(max_iter, bool) or max_iter < 1:
        raise DataError(f"max_iter must be a positive integer, got {max_iter!r}.")


def _check_tol(tol: Any) -> None:
    if not (_is_number(tol) and 0 < tol < 1):
        raise DataError(f"tol must be a number in (0, 1), got {tol!r}.")


def _check_penalty(penalty: Any) -> None:
    if penalty is not None and penalty not in PENALTIES:
        raise SpecificationError(
            f"unknown penalty {penalty!r}; known: {', '.join(PENALTIES)}."
            f"{suggest(str(penalty), PENALTIES)}"
        )


def _check_alpha(alpha: Any) -> None:
    if not (_is_number(alpha) and alpha >= 0):
        raise SpecificationError(f"alpha must be a number >= 0, got {alpha!r}.")


def _check_l1_ratio(l1_ratio: Any) -> None:
    if l1_ratio is not None and not (_is_number(l1_ratio) and 0 <= l1_ratio <= 1):
        raise SpecificationError(f"l1_ratio must be a number in [0, 1], got {l1_ratio!r}.")


def _check_link(link: Any) -> None:
    if not (isinstance(link, str) and link.strip().lower() == "softmax"):
        get_link(link)


def _check_method_name(method: Any) -> None:
    # "firth" also needs a binomial-logit or Poisson-log model: checked with the family
    if method != "firth":
        check_method_option(method, None, dask=False, penalty=None, cov_type="nonrobust")


#: The rule of each option on its own (the value is not None): raises an error of
#: :mod:`glmspec.errors` whose message names the option.
VALUE_RULES: dict[str, Callable[[Any], Any]] = {
    "family": lambda family: None if isinstance(family, Family) else canonical_family_name(family),
    "link": _check_link,
    "missing": check_missing_policy,
    "max_iter": _check_max_iter,
    "tol": _check_tol,
    "theta": check_theta,
    "var_power": check_var_power,
    "cov_type": normalize_cov_type,
    "penalty": _check_penalty,
    "alpha": _check_alpha,
    "l1_ratio": _check_l1_ratio,
    "singular": lambda singular: check_singular_option(
        singular, multinomial=False, dask=False, penalty=None, cov_type="nonrobust"
    ),
    "method": _check_method_name,
    "formula_mode": check_mode,
}


#: The options for which None means "not given" (their fit() default); for the others None
#: is a value, and their rule refuses it.
NONE_MEANS_ABSENT = (*COLUMN_OPTIONS, "link", "theta", "var_power", "penalty", "l1_ratio")


def check_exposure_family(family: Family, exposure: Any) -> None:
    """``exposure=`` needs a log-link count family (it multiplies the mean)."""
    if exposure is None:
        return
    if not family.counts_response or family.link.name != "log":
        raise SpecificationError(
            f"exposure= needs a log-link count model ({', '.join(EXPOSURE_FAMILIES)} with "
            f"link 'log'); this is {family.name} with link {family.link.name!r}. Use offset= "
            "for other models."
        )


def _check_penalty_use(opts: Mapping[str, Any], multinomial: bool) -> None:
    """A penalty rules out the multinomial and robust covariances; ``l2`` has no ``l1_ratio``
    and ``elastic_net`` needs one."""
    penalty, l1_ratio = opts["penalty"], opts.get("l1_ratio")
    if multinomial:
        raise SpecificationError("penalties are not available for the multinomial family.")
    if opts.get("cov_type", "nonrobust") != "nonrobust":
        raise SpecificationError("penalized fits have no standard errors: drop cov_type.")
    if penalty == "l2" and l1_ratio not in (None, 0, 0.0):
        raise SpecificationError("penalty='l2' has no l1_ratio; use 'elastic_net'.")
    if penalty == "elastic_net" and l1_ratio is None:
        raise SpecificationError("elastic_net needs l1_ratio in [0, 1], got None.")


def _check_dask_column(what: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise DataError(
            f"with Dask data, {what} must name a column of the data, got {type(value).__name__}."
        )


class _Problems:
    """The broken rules found so far, each as (option, error)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, GLMSpecError]] = []

    def check(self, key: str, rule: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``rule(*args, **kwargs)``, or None with its error recorded under ``key``."""
        try:
            return rule(*args, **kwargs)
        except GLMSpecError as exc:
            self.found.append((key, exc))
            return None

    def add(self, key: str, error: GLMSpecError) -> None:
        self.found.append((key, error))


def _review(
    opts: Mapping[str, Any], dask: bool, rejected: Iterable[str] = ()
) -> tuple[_Problems, Family | None]:
    """Every rule on ``opts`` (keyword arguments of :func:`glmspec.fit`; a missing one has
    fit()'s default, except the ``rejected`` ones, given but already found invalid) and the
    family object with its link and parameters (None when a rule about them is broken)."""
    problems = _Problems()
    for key, value in opts.items():
        error = value_problem(key, value)
        if error is not None:
            problems.add(key, error)
    bad = {key for key, _ in problems.found} | set(rejected)
    if "family" in bad:  # every rule between options depends on the family
        return problems, None
    given = {k: v for k, v in opts.items() if k not in bad and v is not None}
    family = given.get("family", "gaussian")
    name = family.name if isinstance(family, Family) else canonical_family_name(family)
    before = len(problems.found)
    for key in FAMILY_PARAMS:
        if key in given:
            problems.check(key, check_family_params, name, **{key: given[key]})
    chosen = None  # the family object, with its link and parameters
    if not bad & {"link", *FAMILY_PARAMS} and len(problems.found) == before:
        if "var_power" in family_class(name).required_params and "var_power" not in given:
            problems.check("var_power", check_var_power, None)
        else:
            params = {key: given.get(key) for key in FAMILY_PARAMS}
            chosen = problems.check("link", get_family, family, given.get("link"), **params)
    multinomial = chosen.is_multiclass if chosen is not None else family_class(name).is_multiclass
    glm_family = None if multinomial else chosen  # what method= and exposure= are checked on
    if multinomial:
        for key in ("freq_weights", "exposure"):
            if key in given:
                error = SpecificationError(f"{key} is not available for the multinomial family.")
                problems.add(key, error)
    elif chosen is not None and "exposure" in given:
        problems.check("exposure", check_exposure_family, chosen, given["exposure"])
    cov_type = normalize_cov_type(given.get("cov_type", "nonrobust"))
    problems.check("cov_type", check_cov_type, cov_type, "groups" in given, multinomial)
    penalty = given.get("penalty")
    if penalty is None and (given.get("alpha") or "l1_ratio" in given):
        key = "alpha" if given.get("alpha") else "l1_ratio"
        problems.add(
            key, SpecificationError("alpha and l1_ratio need penalty='l2' or 'elastic_net'.")
        )
    elif penalty is not None:
        problems.check("penalty", _check_penalty_use, given, multinomial)
    combo = dict(dask=dask, penalty=penalty, cov_type=cov_type)
    if "singular" in given:
        problems.check(
            "singular", check_singular_option, given["singular"], multinomial=multinomial, **combo
        )
    if "method" in given and (multinomial or glm_family is not None):
        problems.check("method", check_method_option, given["method"], glm_family, **combo)
    if dask:
        for key in COLUMN_OPTIONS:
            problems.check(key, _check_dask_column, key, given.get(key))
        if cov_type != "nonrobust" or "groups" in given:
            message = f"cov_type={cov_type!r} is not available on Dask data; only 'nonrobust'."
            problems.add("cov_type", SpecificationError(message))
        if penalty is not None:
            problems.add(
                "penalty", SpecificationError("penalized fits are not available on Dask data.")
            )
    return problems, chosen


def value_problem(key: str, value: Any) -> GLMSpecError | None:
    """The error of option ``key``'s own rule for ``value`` (None: it holds, or ``key`` has
    no rule of its own), without the rules between options."""
    problems = _Problems()
    if key in VALUE_RULES and (value is not None or key not in NONE_MEANS_ABSENT):
        problems.check(key, VALUE_RULES[key], value)
    return problems.found[0][1] if problems.found else None


def option_problems(
    opts: Mapping[str, Any], *, dask: bool = False, rejected: Iterable[str] = ()
) -> list[tuple[str, GLMSpecError]]:
    """Every broken option rule, as (option name, error of :mod:`glmspec.errors`).

    Parameters
    ----------
    opts : mapping
        Keyword arguments of :func:`glmspec.fit` (``family``, ``link``, ``theta``, ...); an
        option left out has fit()'s default.
    dask : bool
        The data is a Dask DataFrame (the Dask engine's limits apply).
    rejected : iterable of str
        Options that were given but already reported invalid (a spec's wrongly typed value):
        left out without standing for fit()'s default.

    Returns
    -------
    list of (str, GLMSpecError)
        Each option's own rule first, then the rules between options; empty when every rule
        holds. Spec files report them all; :func:`check_fit_options` raises the first.
    """
    return _review(opts, dask, rejected)[0].found


def describe_option(option: Any) -> str | None:
    """A column name as given; "array" for arrays; None when absent."""
    if option is None or isinstance(option, str):
        return option
    return "array"


def check_fit_options(
    formula: str, *, dask: bool = False, **opts: Any
) -> tuple[FitOptions, Family | None]:
    """Apply every rule to the options of a fit and record them.

    Parameters
    ----------
    formula : str
        Recorded as given (``fit_arrays`` records ``"y ~ X (arrays)"``).
    dask : bool
        The data is a Dask DataFrame.
    **opts
        Keyword arguments of :func:`glmspec.fit` other than ``formula`` and ``data``.

    Returns
    -------
    (FitOptions, Family)
        The options with canonical names (family, link, cov_type) and columns described by
        :func:`describe_option`; the family object (:class:`~glmspec.families.Multinomial`
        for the multinomial).

    Raises
    ------
    glmspec.errors.GLMSpecError
        The first broken rule of :func:`option_problems`.
    """
    problems, family = _review(opts, dask)
    if problems.found:
        raise problems.found[0][1]
    penalty = opts.get("penalty")
    l1_ratio = opts.get("l1_ratio")
    recorded = {
        key: opts[key]
        for key in ("missing", "max_iter", "tol", "singular", "method")
        if key in opts
    }
    recorded |= {key: describe_option(opts.get(key)) for key in COLUMN_OPTIONS}
    fit_options = FitOptions(
        formula=formula,
        family=family.name,
        link=family.link.name,
        theta=opts.get("theta"),
        var_power=opts.get("var_power"),
        cov_type=normalize_cov_type(opts.get("cov_type", "nonrobust")),
        penalty=penalty,
        alpha=float(opts.get("alpha", 0.0)) if penalty is not None else 0.0,
        l1_ratio=float(l1_ratio) if penalty is not None and l1_ratio is not None else 0.0,
        formula_mode=opts.get("formula_mode", "python"),
        **recorded,
    )
    return fit_options, family
