"""The fitting step shared by every front end: a built design and a family in, results out.

:func:`fit_design` runs the solver (IRLS, the penalized fit or ``glm.nb``'s alternation) and
checks binomial fits for separation; :func:`fit_multinomial_design` does the same for the
multinomial. :func:`glmspec.fit`, :func:`glmspec.fit_arrays` and the Dask engine's in-memory
sample fits call them after building their design.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from glmspec.design.aliasing import aliased_columns
from glmspec.design.termorder import r_column_order
from glmspec.errors import (
    DomainWarning,
    ResponseError,
    SeparationWarning,
    SpecificationError,
)
from glmspec.families import (
    Family,
    NegativeBinomial,
)
from glmspec.inference.separation import find_separation, find_zero_counts
from glmspec.options import FitOptions
from glmspec.results.glm import GLMResults
from glmspec.results.multinomial import MultinomialResults
from glmspec.results.negbin import NegBinResults
from glmspec.solvers.firth import fit_firth
from glmspec.solvers.irls import fit_irls
from glmspec.solvers.multinomial import fit_multinomial
from glmspec.solvers.negbin import ThetaFit, fit_negbin
from glmspec.solvers.penalized import Penalty, fit_penalized

# R's glm.fit warns when fitted probabilities are within 10 * DBL_EPSILON of 0 or 1.
_BOUNDARY = 10 * np.finfo(float).eps


def fit_design(design, family: Family, spec: FitOptions):
    """Fit a built design with a family: the solver (or glm.nb's alternation) and results.

    Shared by :func:`fit` and any other front end that builds a
    :class:`~glmspec.design.build.Design` itself.

    Parameters
    ----------
    design : Design
    family : Family
        With its link (and theta / var_power).
    spec : FitOptions
        ``max_iter`` and ``tol`` are taken from it.

    Returns
    -------
    GLMResults or NegBinResults
    """
    family.check_response(design.y, design.prior_weights, design.response_name)
    solve = dict(
        prior_weights=design.total_weights,
        offset=design.offset,
        max_iter=spec.max_iter,
        tol=spec.tol,
        column_names=design.column_names,
    )
    if spec.penalty is not None:
        if isinstance(family, NegativeBinomial) and family.theta is None:
            raise SpecificationError("a penalized negative binomial fit needs a fixed theta=.")
        penalty = Penalty.except_intercept(spec.alpha, spec.l1_ratio, design.column_names)
        solve.pop("column_names")
        record = fit_penalized(design.y, design.X, family, penalty, **solve)
        return GLMResults(spec, design, family, record)
    X, aliased = design.X, ()
    if spec.singular == "drop":
        # walked in R's column order, so the same columns are aliased as in R
        order = r_column_order(design.design_info, len(design.column_names), spec.formula)
        found = aliased_columns(np.asarray(design.X)[:, order], design.total_weights)
        dropped = sorted(order[i] for i in found)
        if dropped:
            keep = [j for j in range(len(design.column_names)) if j not in dropped]
            X = np.ascontiguousarray(np.asarray(design.X)[:, keep])
            solve["column_names"] = tuple(design.column_names[j] for j in keep)
            aliased = tuple(design.column_names[j] for j in dropped)
    if isinstance(family, NegativeBinomial):
        if family.theta is None:
            family, record, theta_fit = fit_negbin(design.y, X, family, **solve)
        else:
            record = fit_irls(design.y, X, family, **solve)
            theta_fit = ThetaFit(family.theta, float("nan"), False)
        res = NegBinResults(spec, design, family, record, theta_fit)
    elif spec.method == "firth":
        res = GLMResults(spec, design, family, fit_firth(design.y, X, family, **solve))
    else:
        record = fit_irls(design.y, X, family, **solve)
        if family.proportion_response:
            separation = _check_separation(design, record, family)
        elif family.counts_response and family.link.name == "log":
            separation = _check_zero_counts(design, record, family)
        else:
            separation = None
        res = GLMResults(spec, design, family, record, separation)
    res.aliased = aliased
    return res


def fit_multinomial_design(design, spec: FitOptions) -> MultinomialResults:
    """Fit a built multinomial design and check it for separation.

    The solver's own signal of separation (a fitted probability numerically 1) is replaced by
    the linear program of :mod:`glmspec.inference.separation`, run for each class against the others
    whenever a fitted probability reaches 0 or 1 or the fit did not converge; it names the
    class and the columns, and the result is kept as ``res.separation``.
    """
    _check_class_weights(design)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = fit_multinomial(
            design.y,
            len(design.classes),
            design.X,
            prior_weights=design.prior_weights,
            offset=design.offset,
            max_iter=spec.max_iter,
            tol=spec.tol,
            column_names=design.column_names,
        )
    heuristic = [w for w in caught if issubclass(w.category, SeparationWarning)]
    separation = _multinomial_separation(design, record)
    for w in caught:
        if w not in heuristic or separation is None:
            warnings.warn(w.message, w.category, stacklevel=3)
    return MultinomialResults(spec, design, record, separation)


def _check_separation(design, record, family: Family):
    """Warn and return the separation when fitted probabilities reach 0 or 1 (R's check)."""
    used = design.prior_weights > 0
    mu = record.mu[used]
    at_boundary = np.any((mu < _BOUNDARY) | (mu > 1 - _BOUNDARY))
    if not at_boundary and record.converged:
        return None
    X = np.asarray(design.X)
    found = find_separation(X, design.y, design.prior_weights, design.column_names)
    if found is not None:
        firth = family.supports_firth
        hint = " method='firth' gives finite (bias-reduced) estimates." if firth else ""
        warnings.warn(found.describe() + hint, SeparationWarning, stacklevel=3)
    elif at_boundary:
        warnings.warn(
            "fitted probabilities numerically 0 or 1 occurred (no separation was found).",
            DomainWarning,
            stacklevel=3,
        )
    return found


def _check_zero_counts(design, record, family: Family):
    """Warn and return the direction along which zero counts make log-link estimates diverge
    (e.g. a factor level whose counts are all zero), when some zero count's fitted mean is
    numerically 0 or the fit did not converge (the symptoms; the LP decides)."""
    used = (design.prior_weights > 0) & (design.y == 0)
    if record.converged and not np.any(record.mu[used] < _BOUNDARY):
        return None
    X = np.asarray(design.X)
    found = find_zero_counts(X, design.y, design.prior_weights, design.column_names)
    if found is not None:
        hint = " method='firth' gives finite (bias-reduced) estimates."
        hint = hint if family.supports_firth else ""
        warnings.warn(found.describe() + hint, SeparationWarning, stacklevel=3)
    return found


def _multinomial_separation(design, record):
    """Separation of some class from the others, found by the LP; warns naming it."""
    used = design.prior_weights > 0
    suspicious = np.any(record.probs[used] < _BOUNDARY) or not record.converged
    if not suspicious:
        return None
    X = np.asarray(design.X)
    for k, label in enumerate(design.classes):
        found = find_separation(
            X, (design.y == k).astype(float), design.prior_weights, design.column_names
        )
        if found is not None:
            found = replace(found, subject=f"class {label!r} against the others")
            warnings.warn(found.describe(), SeparationWarning, stacklevel=4)
            return found
    return None


def _check_class_weights(design) -> None:
    """Every class of a multinomial response needs rows with positive weight."""
    totals = np.bincount(design.y, weights=design.prior_weights, minlength=len(design.classes))
    empty = [design.classes[k] for k in np.flatnonzero(totals <= 0)]
    if empty:
        raise ResponseError(
            f"class(es) {empty} of the response {design.response_name!r} have no rows with "
            "positive weight; drop them or give those rows weight."
        )
