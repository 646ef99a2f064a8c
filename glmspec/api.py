"""The public entry point :func:`fit`: formula and data in, verified-ready results out."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import patsy

from glmspec.design import build_design
from glmspec.errors import DataError, DomainWarning, SeparationWarning, SpecificationError
from glmspec.families import Family, canonical_family_name, get_family
from glmspec.links import Link, get_link
from glmspec.multinomial import fit_multinomial
from glmspec.multinomial_results import MultinomialResults
from glmspec.results import GLMResults, ModelSpec
from glmspec.separation import find_separation
from glmspec.solver import fit_irls

# R's glm.fit warns when fitted probabilities are within 10 * DBL_EPSILON of 0 or 1.
_BOUNDARY = 10 * np.finfo(float).eps


def fit(
    formula: str,
    data: Any,
    family: str | Family = "gaussian",
    link: str | Link | None = None,
    weights: Any = None,
    offset: Any = None,
    *,
    missing: str = "raise",
    max_iter: int = 100,
    tol: float = 1e-8,
):
    """Fit a generalized linear model by maximum likelihood with glmspec's own solver.

    Parameters
    ----------
    formula : str
        R-style formula, e.g. ``"visitors ~ hour + C(weekday)"``. For binomial counts write
        ``"successes + failures ~ x"`` or ``"cbind(successes, failures) ~ x"``.
    data : pandas.DataFrame or mapping of columns
        Not modified.
    family : str or Family
        ``"gaussian"``, ``"binomial"`` (alias ``"bernoulli"``), ``"poisson"`` or
        ``"multinomial"``.
    link : str or Link, optional
        Link name; None means the family's canonical link.
    weights : str or array-like, optional
        Prior weights with R's ``glm()`` meaning (column name or array). For binomial
        proportions, the number of trials.
    offset : str or array-like, optional
        Added to the linear predictor (column name or array).
    missing : {"raise", "drop"}
        What to do with NaN/infinite values in used columns.
    max_iter : int
        Maximum number of solver iterations.
    tol : float
        Convergence tolerance (relative deviance change; the Newton decrement must be below
        ``tol**2``).

    Returns
    -------
    GLMResults or MultinomialResults

    Raises
    ------
    glmspec.errors.GLMSpecError
        Unknown family/link, bad data, rank-deficient design, and the other input errors.

    Warns
    -----
    ConvergenceWarning, SeparationWarning, DomainWarning
    """
    family_name = family.name if isinstance(family, Family) else canonical_family_name(family)
    _check_options(max_iter, tol)
    if family_name == "multinomial":
        if link is not None and get_link(link).name != "logit":
            raise SpecificationError("the multinomial family uses the softmax (logit) link only.")
        family_obj = None
    else:
        family_obj = get_family(family, link)
    design = build_design(
        formula,
        data,
        family_name,
        weights=weights,
        offset=offset,
        missing=missing,
        eval_env=patsy.EvalEnvironment.capture(1),
    )
    spec = ModelSpec(
        formula=formula,
        family=family_name,
        link="softmax" if family_obj is None else family_obj.link.name,
        weights=_describe(weights),
        offset=_describe(offset),
        missing=missing,
        max_iter=max_iter,
        tol=tol,
    )
    if family_obj is None:
        record = fit_multinomial(
            design.y,
            len(design.classes),
            design.X,
            prior_weights=design.prior_weights,
            offset=design.offset,
            max_iter=max_iter,
            tol=tol,
            column_names=design.column_names,
        )
        return MultinomialResults(spec, design, record)
    family_obj.check_response(design.y, design.prior_weights, design.response_name)
    record = fit_irls(
        design.y,
        design.X,
        family_obj,
        prior_weights=design.prior_weights,
        offset=design.offset,
        max_iter=max_iter,
        tol=tol,
        column_names=design.column_names,
    )
    separation = _check_separation(design, record) if family_name == "binomial" else None
    return GLMResults(spec, design, family_obj, record, separation)


def _describe(option: Any) -> str | None:
    """A column name as given; "array" for arrays; None when absent."""
    if option is None or isinstance(option, str):
        return option
    return "array"


def _check_options(max_iter: int, tol: float) -> None:
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise DataError(f"max_iter must be a positive integer, got {max_iter!r}.")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise DataError(f"tol must be a number in (0, 1), got {tol!r}.")


def _check_separation(design, record):
    """Warn and return the separation when fitted probabilities reach 0 or 1 (R's check)."""
    used = design.prior_weights > 0
    mu = record.mu[used]
    at_boundary = np.any((mu < _BOUNDARY) | (mu > 1 - _BOUNDARY))
    if not at_boundary and record.converged:
        return None
    X = np.asarray(design.X)
    found = find_separation(X, design.y, design.prior_weights, design.column_names)
    if found is not None:
        warnings.warn(found.describe(), SeparationWarning, stacklevel=3)
    elif at_boundary:
        warnings.warn(
            "fitted probabilities numerically 0 or 1 occurred (no separation was found).",
            DomainWarning,
            stacklevel=3,
        )
    return found
