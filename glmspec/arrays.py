"""The array path: :func:`fit_arrays` fits ``y`` on a design matrix without a formula.

Same solver, same results object and the same statsmodels check as :func:`glmspec.fit`; only
the formula step is skipped, so it is the path to use when the design already exists (and the
one the speed benchmarks measure).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from glmspec.design.build import Design
from glmspec.design.matrix import intercept_column
from glmspec.errors import DataError, MissingValueError
from glmspec.families import Family
from glmspec.families.links import Link
from glmspec.fitting import fit_design, fit_multinomial_design
from glmspec.options import check_fit_options


def _vector(values: Any, n: int, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numeric: {exc}") from exc
    if array.shape != (n,):
        raise DataError(f"{what} has shape {array.shape}; expected ({n},), one value per row.")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise MissingValueError(f"{what} has {bad} missing or infinite value(s).")
    return array


def _matrix(X: Any) -> np.ndarray:
    try:
        matrix = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"X must be a numeric matrix: {exc}") from exc
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        raise DataError(f"X must be a non-empty 2-d array, got shape {matrix.shape}.")
    # one sum finds any NaN/inf (or overflows): only then look column by column
    bad = np.zeros(0, dtype=int)
    with np.errstate(over="ignore", invalid="ignore"):
        suspect = not np.isfinite(matrix.sum())
    if suspect:
        bad = np.flatnonzero(~np.isfinite(matrix).all(axis=0))
    if bad.size:
        raise MissingValueError(f"X has missing or infinite values in column(s) {bad.tolist()}.")
    return matrix if matrix.flags.c_contiguous else np.ascontiguousarray(matrix)


def fit_arrays(
    y: Any,
    X: Any,
    family: str | Family = "gaussian",
    link: str | Link | None = None,
    weights: Any = None,
    offset: Any = None,
    *,
    column_names: Sequence[str] | None = None,
    max_iter: int = 100,
    tol: float = 1e-8,
    freq_weights: Any = None,
    theta: float | None = None,
    var_power: float | None = None,
):
    """Fit a GLM to a response vector and a design matrix with glmspec's solver.

    Parameters
    ----------
    y : array-like of shape (n,)
        Response: numbers; for the binomial 0/1 or proportions (with ``weights`` = trials);
        for the multinomial class labels (the first in sorted order is the reference).
    X : array-like of shape (n, p)
        Design matrix, including an intercept column if wanted. A column whose values are
        all equal and nonzero is the intercept, whatever its name (as statsmodels: of several,
        the first column of ones, else the first): the null model behind ``null_deviance``,
        ``llnull`` and the pseudo R-squared is then the intercept-only model, else R's
        no-intercept null model ``mu = linkinv(offset)``.
    family, link, weights, offset, max_iter, tol, freq_weights, theta, var_power
        As for :func:`glmspec.fit`.
    column_names : sequence of str, optional
        Coefficient labels; default ``x0, x1, ...``.

    Returns
    -------
    GLMResults, NegBinResults or MultinomialResults
        ``predict`` takes a matrix with the same columns.
    """
    spec, chosen = check_fit_options(
        "y ~ X (arrays)",
        family=family,
        link=link,
        weights=weights,
        offset=offset,
        max_iter=max_iter,
        tol=tol,
        freq_weights=freq_weights,
        theta=theta,
        var_power=var_power,
    )
    matrix = _matrix(X)
    n, p = matrix.shape
    names = tuple(column_names) if column_names is not None else tuple(f"x{j}" for j in range(p))
    if len(names) != p:
        raise DataError(f"column_names has {len(names)} names for {p} columns.")
    prior = np.ones(n) if weights is None else _vector(weights, n, "weights")
    if np.any(prior < 0):
        raise DataError("weights must be non-negative.")
    off = np.zeros(n) if offset is None else _vector(offset, n, "offset")
    freq = None if freq_weights is None else _vector(freq_weights, n, "freq_weights")
    if freq is not None and np.any(freq < 0):
        raise DataError("freq_weights must be non-negative.")
    classes = None
    trials = None
    if chosen.is_multiclass:
        labels = pd.Categorical(np.asarray(y))
        classes, response = tuple(labels.categories), labels.codes.astype(np.int64)
        if len(response) != n:
            raise DataError(f"y has {len(response)} values for {n} rows of X.")
        if len(classes) < 2:
            raise DataError("the multinomial response needs at least two classes.")
    else:
        response, trials, _ = chosen.read_response(_vector(y, n, "y")[:, None], "y")
    design = Design(
        y=response,
        X=matrix,
        column_names=names,
        design_info=None,
        prior_weights=prior,
        trials=trials,
        offset=off,
        response_name="y",
        classes=classes,
        n_dropped=0,
        row_index=pd.RangeIndex(n),
        weights_given=weights is not None,
        offset_given=offset is not None,
        freq_weights=freq,
        constant_column=intercept_column(matrix),
    )
    if not chosen.is_multiclass:
        return fit_design(design, chosen, spec)
    return fit_multinomial_design(design, spec)
