"""Factors of the Fisher information for the Newton loop of :mod:`glmspec.solvers.multinomial`.

At the starting values, from the starting sums alone (:func:`kronecker_factor`); during the
fit, Cholesky, else the engine's QR factor, else a Cholesky factor of a merely
ill-conditioned information (:func:`information_factor`); at numerically singular estimates, the
pseudo-inverse (:func:`pinv_factor`, a :class:`PseudoInverseFactor`). Between fresh
informations the loop steps with BFGS updates of the last factor
(:func:`glmspec.solvers.newton.quasi_newton_direction`); :func:`lbfgs` is its L-BFGS-B fallback.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from glmspec.errors import GLMSpecWarning
from glmspec.linalg import GramFactor, factor_gram
from glmspec.solvers.multinomial_rows import MultinomialRows, StartSums, log_softmax
from glmspec.solvers.newton import Iteration, relative_change

_RCOND_LAST = 1e-12  # smallest reciprocal condition number of a Cholesky-only information


@dataclass(frozen=True)
class PseudoInverseFactor(GramFactor):
    """Singular ``r' r`` (``r`` from its eigendecomposition); solves use its pseudo-inverse."""

    pinv: np.ndarray

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """Return ``pinv(r' r) @ rhs``."""
        return self.pinv @ rhs

    def inverse(self) -> np.ndarray:
        """Return the Moore-Penrose pseudo-inverse of ``r' r``."""
        return self.pinv


def information_factor(rows: MultinomialRows, theta, info, column_names) -> GramFactor | None:
    """Cholesky factor of the information, else the engine's QR factor, else a Cholesky
    factor of a merely ill-conditioned information; None: (numerically) singular."""
    factor = factor_gram(info)
    if factor is not None:
        return factor
    rows.check_rank(column_names)
    factor = rows.qr_factor(theta, column_names)
    return factor if factor is not None else _ill_conditioned_factor(info)


def _ill_conditioned_factor(info: np.ndarray) -> GramFactor | None:
    """Cholesky factor when the equilibrated information's reciprocal condition number is
    above ``_RCOND_LAST`` (solves then lose at most about 4 of 16 digits); else None.

    The last resort of engines without a QR factor (and of the in-memory engine when the
    square root is too large to build), before L-BFGS-B.
    """
    return factor_gram(info, rcond_min=_RCOND_LAST)


def pinv_factor(info: np.ndarray) -> GramFactor:
    """The pseudo-inverse factor of a numerically singular information, with a warning."""
    warnings.warn(
        "the Fisher information is numerically singular at the estimates; standard errors "
        "use its pseudo-inverse and may be meaningless.",
        GLMSpecWarning,
        stacklevel=3,
    )
    values, vectors = linalg.eigh(info)
    (r,) = linalg.qr(np.sqrt(np.clip(values, 0.0, None))[:, None] * vectors.T, mode="r")
    return PseudoInverseFactor(r, "pinv", linalg.pinvh(info))


def kronecker_factor(start: StartSums, theta: np.ndarray, n_classes: int) -> GramFactor | None:
    """Factor of ``(diag(pi) - pi pi') kron X' W X``, pi the probabilities at the mean row.

    This is the information at the starting values whenever their fitted probabilities are
    the same for every row (an intercept and a constant offset); else an approximation that
    the loop replaces as soon as it proves poor. None when ``X' W X`` is not well conditioned.
    """
    total = start.class_weights.sum()
    mean_row = start.column_sums / total
    eta = np.concatenate([[0.0], theta.reshape(n_classes - 1, -1) @ mean_row])
    eta[1:] += start.offset_sum / total
    pi = np.exp(log_softmax(eta[None, :])[0, 1:])
    gram = factor_gram(start.gram)
    if gram is None:
        return None
    try:
        class_root = linalg.cholesky(np.diag(pi) - np.outer(pi, pi))
    except linalg.LinAlgError:
        return None
    return GramFactor(np.kron(class_root, gram.r), "kronecker")


def lbfgs(rows: MultinomialRows, theta, info_diag, total, max_iter, history):
    """Maximise the log-likelihood by L-BFGS-B from ``theta``, appending steps to ``history``.

    The variables are rescaled by the root of the information's diagonal (a diagonal
    preconditioner); ``total`` is the sum of the weights, which scales the objective to
    O(1). Returns the estimates, the last relative deviance change and the number of
    iterations.
    """
    scale = np.sqrt(np.where(info_diag > 0, info_diag, total) / total)
    state = {"loglik": rows.derivatives(theta, False).loglik, "change": np.inf, "n": 0}
    done = len(history)

    def objective(u):
        sums = rows.derivatives(u / scale, False)
        return -sums.loglik / total, -sums.gradient / (total * scale)

    def callback(intermediate_result):
        new = -float(intermediate_result.fun) * total
        state["change"] = relative_change(-2.0 * new, -2.0 * state["loglik"])
        state["loglik"], state["n"] = new, state["n"] + 1
        history.append(Iteration(done + state["n"], -2.0 * new, state["change"], np.nan, 0))

    options = {"maxiter": 10 * max_iter, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 20}
    result = optimize.minimize(
        objective, theta * scale, jac=True, method="L-BFGS-B", callback=callback, options=options
    )
    return result.x / scale, state["change"], state["n"]
