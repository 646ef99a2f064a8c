"""Refits of a fitted GLM on some of its design's columns, for anova, drop1 and profiles.

R's ``drop1.glm``, ``anova.glm`` and ``profile.glm`` refit with ``glm.fit`` on columns of the
model matrix, with the same response, prior weights, offset and family (for the negative
binomial: at the fitted theta). :func:`refit_columns` does the same with glmspec's solver, on
the arrays of the fitted design only (no formula is rebuilt).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glmspec.design.aliasing import aliased_columns
from glmspec.design.build import Design
from glmspec.families import Family
from glmspec.solvers.irls import fit_irls
from glmspec.solvers.newton import FitRecord
from glmspec.solvers.penalized import Penalty, fit_penalized


@dataclass(frozen=True)
class Refit:
    """A refit: its deviance, the number of coefficients and the solver's record."""

    deviance: float
    n_coef: int
    record: FitRecord | None


def refit_columns(
    design: Design,
    family: Family,
    columns: Sequence[int],
    *,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-8,
    start: np.ndarray | None = None,
    penalty: tuple[float, float] | None = None,
    singular: bool = False,
) -> Refit:
    """Fit the same model (response, weights, offset, family) on a subset of the columns.

    Parameters
    ----------
    design : Design
        The fitted design.
    family : Family
        The fitted family with its link (theta fixed for the negative binomial).
    columns : sequence of int
        Columns of ``design.X`` to keep; may be empty (the model is then the offset alone).
    offset : ndarray, optional
        Replaces the design's offset (profiles move a fixed coefficient into it).
    max_iter, tol : int, float
        Solver options, as the original fit.
    start : ndarray, optional
        Starting coefficients for the kept columns.
    penalty : (alpha, l1_ratio), optional
        Refit with the fit's penalty (on every kept column but the intercept).
    singular : bool
        Leave out the kept columns that are combinations of the kept columns before them
        (R's ``glm.fit``, as for a fit with ``singular="drop"``); ``n_coef`` is then the rank.

    Returns
    -------
    Refit
    """
    offset = design.offset if offset is None else offset
    weights = design.total_weights
    columns = list(columns)
    if singular and columns:
        dropped = set(aliased_columns(np.asarray(design.X)[:, columns], weights))
        columns = [c for i, c in enumerate(columns) if i not in dropped]
    if not columns:
        mu = family.link.inverse(offset)
        return Refit(float(family.deviance(design.y, mu, weights)), 0, None)
    X = np.ascontiguousarray(np.asarray(design.X)[:, columns])
    names = [design.column_names[j] for j in columns]
    with warnings.catch_warnings():
        # the reduced models of a table are not the user's model: their warnings would mislead
        warnings.simplefilter("ignore")
        solve = dict(prior_weights=weights, offset=offset, max_iter=max_iter, tol=tol)
        if penalty is not None:
            shrink = Penalty.except_intercept(penalty[0], penalty[1], names)
            record = fit_penalized(design.y, X, family, shrink, **solve)
        else:
            record = fit_irls(design.y, X, family, start=start, column_names=names, **solve)
    return Refit(record.deviance, len(columns), record)
