"""Aliased columns of a design, found as R's ``glm.fit`` finds them (``singular.ok = TRUE``).

R's QR (LINPACK ``dqrdc2``) walks the columns in order and moves a column whose residual,
after projecting out the columns kept before it, is negligible against its own norm to the
end: those columns are *aliased* and get ``NA`` coefficients. :func:`aliased_columns` makes
the same greedy, in-order choice on the weighted design (rows with positive weight), so the
first of two identical columns is kept and an all-zero column of an empty interaction cell is
aliased, as in R. R's order is its model matrix's (terms as written, main effects first), not
patsy's: callers pass the columns in that order
(:func:`glmspec.design.termorder.r_column_order`).
"""

from __future__ import annotations

import numpy as np

from glmspec.errors import SpecificationError

#: Relative residual norm below which a column is in the span of the columns before it (the
#: threshold of glmspec's rank check, so a design it accepts has no aliased column here).
ALIAS_TOL = 1e-7


def aliased_columns(X: np.ndarray, weights: np.ndarray, tol: float = ALIAS_TOL) -> list[int]:
    """Positions of the columns of ``X`` that are linear combinations of earlier columns.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    weights : ndarray of shape (n,)
        Prior weights; rows with zero weight do not count (as in R's weighted QR).
    tol : float
        Relative residual norm threshold.

    Returns
    -------
    list of int
        In increasing order; empty for a design of full column rank.
    """
    used = weights > 0
    Xw = np.asarray(X, dtype=float)[used] * np.sqrt(weights[used])[:, None]
    basis = np.empty((Xw.shape[0], 0))
    aliased = []
    for j in range(Xw.shape[1]):
        column = Xw[:, j]
        norm = np.linalg.norm(column)
        residual = column
        for _ in range(2):  # Gram-Schmidt twice keeps the basis orthonormal to rounding
            residual = residual - basis @ (basis.T @ residual)
        rest = np.linalg.norm(residual)
        if norm == 0 or rest <= tol * norm:
            aliased.append(j)
        else:
            basis = np.column_stack([basis, residual / rest])
    return aliased


SINGULAR = ("error", "drop")


def check_singular_option(
    singular: str, *, multinomial: bool, dask: bool, penalty: str | None, cov_type: str
) -> None:
    """Validate ``fit(singular=)``: ``"drop"`` (R's ``singular.ok``) is for GLM fits in memory
    with the model-based covariance."""
    if singular not in SINGULAR:
        raise SpecificationError(f"singular must be 'error' or 'drop', got {singular!r}.")
    if singular == "drop" and (
        multinomial or dask or penalty is not None or cov_type != "nonrobust"
    ):
        raise SpecificationError(
            "singular='drop' is available for GLM fits in memory with the model-based "
            "covariance (not multinomial, Dask, penalized or robust-covariance fits)."
        )
