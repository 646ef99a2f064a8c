"""The information at the estimates and what is read from it row by row.

``A = (X' diag(w) X)^{-1}`` with ``w`` the observed or expected (Fisher) information weights
(dispersion 1), the leverages ``w_i x_i' A x_i`` and the variances ``x_i' C x_i`` of the linear
predictor, all computed row block by row block (never an n x n matrix). Shared by the robust
covariances (:mod:`.covariance`), predictions (:mod:`.prediction`) and influence measures
(:mod:`.influence`), which do not import one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg

from glmspec.design.matrix import as_design, row_blocks
from glmspec.linalg import GramFactor, factor_gram, factorize
from glmspec.solvers.engine import observed_weights, working_quantities


def flat_params(params: pd.Series | pd.DataFrame) -> pd.Series:
    """Coefficients as one Series; a (columns x classes) DataFrame is stacked class-major."""
    if isinstance(params, pd.DataFrame):
        return params.T.stack()
    return params


def solver_weights(design: Any) -> np.ndarray:
    """The weights the solver used: prior weights times frequency weights (if any)."""
    return getattr(design, "total_weights", design.prior_weights)


def information_weights(res: Any, observed: bool = True) -> np.ndarray:
    """Weights ``w`` with information ``X' diag(w) X`` at the estimates (dispersion 1).

    ``observed=False`` gives the expected (Fisher, IRLS) weights ``prior mu_eta^2 / V``, with
    ``prior`` the prior weights times any frequency weights;
    ``observed=True`` subtracts ``prior (y - mu) d/deta[mu_eta / V]`` (zero, up to rounding, for
    canonical links), statsmodels' ``hessian_factor(observed=True)``. Observed weights can be
    negative.
    """
    d, rec, fam = res.design, res.record, res.family
    prior = solver_weights(d)
    # the solver's own per-row derivatives (overflow-safe, zero-weight rows masked), so the
    # sandwich and the leverages use exactly the information the fit converged with
    fisher, _ = working_quantities(fam, d.y, rec.mu, rec.eta, prior)
    if not observed:
        return fisher
    # computed for every link: a family's ``canonical_link`` may name its default link
    return observed_weights(fam, d.y, rec.mu, rec.eta, fisher, prior)


def score_factor(res: Any) -> np.ndarray:
    """Per-row score factor ``s = prior (y - mu) mu_eta / V(mu)`` (dispersion 1), score ``s x``;
    the solver's :func:`~glmspec.solvers.engine.working_quantities`."""
    d, rec = res.design, res.record
    return working_quantities(res.family, d.y, rec.mu, rec.eta, solver_weights(d))[1]


@dataclass(frozen=True)
class Bread:
    """Inverse information ``A = (X' diag(w) X)^{-1}`` and the weights ``w`` it was built from.

    ``factor`` is an upper-triangular ``r`` with ``X' diag(w) X = r' r`` when the information is
    positive definite (used for leverages without forming ``A``), else None.
    """

    inverse: np.ndarray
    weights: np.ndarray
    factor: GramFactor | None


def bread(res: Any, observed: bool = True) -> Bread:
    """Inverse (observed or expected) information at the estimates, dispersion 1."""
    X = res.design.X
    w = information_weights(res, observed)
    gram = as_design(X).gram(w)
    if np.all(w >= 0):
        factor: GramFactor | None = factorize(X, w, res.design.column_names, gram=gram)
    else:
        factor = factor_gram(gram)
    if factor is not None:
        return Bread(factor.inverse(), w, factor)
    return Bread(np.linalg.pinv(0.5 * (gram + gram.T), hermitian=True), w, None)


def quadratic_forms(X: np.ndarray, b: Bread) -> np.ndarray:
    """``x_i' A x_i`` for every row, blockwise (no n x n or extra n x p array)."""
    out = np.empty(X.shape[0])
    for rows, block in row_blocks(X):
        if b.factor is not None:
            z = linalg.solve_triangular(b.factor.r, block.T, trans="T", check_finite=False)
            out[rows] = np.einsum("ij,ij->j", z, z)
        else:
            out[rows] = np.einsum("ij,jk,ik->i", block, b.inverse, block)
    return out


def generalized_leverage(res: Any, b: Bread | None = None) -> np.ndarray:
    """``d mu_hat_i / d y_i = w_i x_i' A x_i`` with expected weights ``w`` and ``A`` the inverse
    observed information (statsmodels' ``MLEInfluence.hat_matrix_diag``).

    It equals the ordinary GLM hat values for canonical links and, unlike ``w_obs x' A x``,
    is never negative: the leverage used by HC2 and HC3.
    """
    b = bread(res, observed=True) if b is None else b
    return information_weights(res, observed=False) * quadratic_forms(res.design.X, b)


def hat_values(res: Any, observed: bool = True) -> np.ndarray:
    """Diagonal of the hat matrix ``W^(1/2) X (X'WX)^{-1} X' W^(1/2)``, without forming it."""
    b = bread(res, observed)
    return b.weights * quadratic_forms(res.design.X, b)


def rowwise_variance(X: Any, cov: np.ndarray) -> np.ndarray:
    """``x_i' C x_i`` per row, in row blocks."""
    out = np.empty(X.shape[0])
    for rows, block in row_blocks(X):
        out[rows] = np.einsum("ij,jk,ik->i", block, cov, block)
    return np.clip(out, 0.0, None)


def linear_prediction(
    res: Any, X: Any, offset: Any, cov: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Linear predictor ``X b + offset`` and its standard error ``sqrt(x_i' C x_i)``.

    ``b`` is ``res.params`` and ``C`` is ``res.cov_params()`` (robust when ``res`` uses a
    robust covariance) unless ``cov`` is given; aliased columns (``singular="drop"``) are left
    out of both.
    """
    cov = np.asarray(res.cov_params(), dtype=float) if cov is None else cov
    params = flat_params(res.params)
    coef = params.to_numpy(dtype=float)
    if getattr(res, "aliased", ()):
        # as R's predict.glm: an aliased column (NaN coefficient) contributes nothing
        dropped = params.index.isin(res.aliased)
        coef = np.where(dropped, 0.0, coef)
        cov = np.where(dropped[:, None] | dropped[None, :], 0.0, cov)
    return linear_predictor_se(X, offset, coef, cov)


def linear_predictor_se(
    X: Any, offset: Any, coef: np.ndarray, cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``X b + offset`` and ``sqrt(x_i' C x_i)`` from the numbers alone: the one computation
    behind a fit's and a stored model's (``model.json``) standard errors of prediction."""
    return np.asarray(X @ coef) + offset, np.sqrt(rowwise_variance(X, cov))
