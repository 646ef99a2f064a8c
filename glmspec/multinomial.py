"""Maximum-likelihood fitting of a multinomial logit (softmax) model, on arrays only.

Class 0 is the reference (linear predictor 0); class ``k >= 1`` has
``eta_k = X @ coef[:, k-1] + offset``. Flat coefficient vectors ``theta = coef.T.ravel()`` are
*class-major* (index ``(k-1)*p + j``), statsmodels ``MNLogit``'s ``cov_params`` order. The loop
mirrors :func:`glmspec.solver.fit_irls`, in named steps:

1. :func:`loglik_derivatives` -- log-likelihood, score and Fisher information (equal to the
   observed information: canonical link). Block ``(j, k)`` of the information is
   ``X' diag(w p_j (delta_jk - p_k)) X``; only the ``K(K-1)/2`` upper blocks are formed;
2. a Newton step factorised by :func:`_factor`: Cholesky (:func:`glmspec.linalg.factor_gram`);
   if that fails, :func:`glmspec.linalg.check_rank` raises :class:`SingularDesignError` for an
   aliased design, else a QR of the information's square root copes with ill-conditioning. Only
   when that is numerically singular too (separation) does L-BFGS-B with the analytic gradient
   take over (``method="lbfgs"``);
3. :func:`_line_search` -- step halving while the log-likelihood decreases;
4. :func:`glmspec.solver._converged` -- relative deviance change below ``tol`` and Newton
   decrement below ``tol**2`` (both relative to ``|deviance| + 0.1``); the step computed at the
   converged point is still taken.

Separation is detected only roughly: :class:`SeparationWarning` is issued when a row with
positive weight has a fitted probability of its observed class above ``1 - 1e-10`` while the
coefficients still move (no convergence, the L-BFGS fallback, or a last Newton step above
``1e-3`` in some coefficient).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import linalg, optimize, special

from glmspec.errors import (
    DataError,
    GLMSpecWarning,
    ResponseError,
    SeparationWarning,
    SingularDesignError,
)
from glmspec.linalg import GramFactor, check_rank, factor_gram, factorize, weighted_gram
from glmspec.solver import MAX_HALVINGS, Iteration, _converged, warn_not_converged

_SEPARATION_LOGP = -1e-10  # log(1 - 1e-10): the observed class has probability 1
_MOVING_STEP = 1e-3
_QR_MAX_VALUES = 1 << 27  # largest square root (n K x (K-1) p values) the QR route builds


@dataclass(frozen=True)
class MultinomialFitRecord:
    """Everything the multinomial solver computed; read-only.

    Attributes
    ----------
    coef : ndarray of shape (p, K-1)
        Column ``k-1``: coefficients of class ``k`` against reference class 0.
    probs : ndarray of shape (n, K)
        Fitted probabilities.
    loglik, deviance : float
        ``sum(prior_i * log p_i[y_i])``, the full log-likelihood, and ``-2 * loglik``.
    information : GramFactor
        Factor of the ``(K-1)p x (K-1)p`` Fisher information at ``coef``, class-major;
        a :class:`PseudoInverseFactor` when numerically singular (with a warning).
    converged : bool
        True only when the convergence criterion was met.
    n_iter : int
        Newton iterations plus L-BFGS iterations.
    history : tuple of Iteration
        One entry per accepted step (``decrement`` is NaN for L-BFGS steps).
    message : str
        Why the loop stopped.
    method : str
        ``"newton"``, or ``"lbfgs"`` when the information became singular.
    """

    coef: np.ndarray
    probs: np.ndarray
    loglik: float
    deviance: float
    information: GramFactor
    converged: bool
    n_iter: int
    history: tuple[Iteration, ...]
    message: str
    method: str


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


class _Data(NamedTuple):
    codes: np.ndarray
    n_classes: int
    X: np.ndarray
    prior: np.ndarray
    offset: np.ndarray


def log_softmax(eta_full: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities for linear predictors of shape (n, K), column 0 = reference.

    :func:`scipy.special.log_softmax` subtracts the row maximum before the log-sum-exp, so the
    result is finite and accurate to rounding for any finite input, e.g. linear predictors of
    +-1e4 (and it is twice as fast as ``logsumexp`` here).
    """
    return special.log_softmax(eta_full, axis=1)


def covariance(record: MultinomialFitRecord) -> np.ndarray:
    """Inverse Fisher information at the estimates, class-major, ((K-1)p, (K-1)p)."""
    return record.information.inverse()


def _score(d: _Data, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood, class-major score and log-probabilities at ``theta``."""
    eta = d.X @ theta.reshape(d.n_classes - 1, -1).T + d.offset[:, None]
    logp = log_softmax(np.column_stack([np.zeros(len(eta)), eta]))
    loglik = float(d.prior @ logp[np.arange(len(eta)), d.codes])
    resid = (d.codes[:, None] == np.arange(d.n_classes)) - np.exp(logp)
    return loglik, (d.X.T @ (d.prior[:, None] * resid[:, 1:])).T.ravel(), logp


def _derivatives(d: _Data, theta: np.ndarray):
    loglik, gradient, logp = _score(d, theta)
    probs, (K, p) = np.exp(logp), (d.n_classes, d.X.shape[1])
    info = np.empty(((K - 1) * p, (K - 1) * p))
    for j in range(1, K):
        rest = probs[:, np.arange(K) != j].sum(axis=1)  # 1 - p_j without cancellation
        rows = slice((j - 1) * p, j * p)
        info[rows, rows] = weighted_gram(d.X, d.prior * probs[:, j] * rest)
        for k in range(j + 1, K):
            block = -weighted_gram(d.X, d.prior * probs[:, j] * probs[:, k])
            info[rows, (k - 1) * p : k * p] = block
            info[(k - 1) * p : k * p, rows] = block.T
    return loglik, gradient, info, probs


def loglik_derivatives(
    codes: np.ndarray,
    n_classes: int,
    X: np.ndarray,
    theta: np.ndarray,
    *,
    prior_weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood, score, Fisher information and probabilities at ``theta``.

    Parameters
    ----------
    codes, n_classes, X, prior_weights, offset
        As in :func:`fit_multinomial`.
    theta : ndarray of shape ((K-1)p,)
        Class-major coefficients, ``coef.T.ravel()``.

    Returns
    -------
    loglik : float
    gradient : ndarray of shape ((K-1)p,)
    information : ndarray of shape ((K-1)p, (K-1)p)
        Minus the Hessian of ``loglik``.
    probs : ndarray of shape (n, K)
    """
    d = _validate(codes, n_classes, X, prior_weights, offset, check_classes=False)
    return _derivatives(d, np.asarray(theta, dtype=float))


def _relative_change(loglik_new: float, loglik_old: float) -> float:
    """Relative change of the deviance ``-2 loglik``, on the ``|deviance| + 0.1`` scale."""
    return 2.0 * abs(loglik_new - loglik_old) / (2.0 * abs(loglik_new) + 0.1)


def _line_search(d: _Data, theta, delta, loglik_old):
    """Halve ``delta`` until the log-likelihood does not decrease; None if it always does."""
    for halvings in range(MAX_HALVINGS + 1):
        loglik = _score(d, theta + delta)[0]
        if np.isfinite(loglik) and loglik >= loglik_old - 1e-12 * abs(loglik_old):
            return theta + delta, halvings
        delta = 0.5 * delta
    return None


def _factor(d: _Data, info, probs, column_names) -> GramFactor | None:
    """Cholesky factor of the information, else a QR one of ``A`` with ``A'A = info``.

    ``A[(i, m), (k, j)] = sqrt(w_i p_im) (delta_mk - p_ik) x_ij`` (``m = 0..K-1``) is accurate
    where Cholesky is not. None: numerically singular, or ``A`` too large to build.
    """
    factor = factor_gram(info)
    if factor is not None:
        return factor
    check_rank(d.X[d.prior > 0], column_names)
    (n, K), dim = probs.shape, info.shape[0]
    if n * K * dim > _QR_MAX_VALUES:
        return None
    root = np.sqrt(d.prior[:, None] * probs)[:, :, None] * (np.eye(K)[:, 1:] - probs[:, None, 1:])
    try:
        return factorize(
            (root[..., None] * d.X[:, None, None, :]).reshape(n * K, dim), np.ones(n * K)
        )
    except SingularDesignError:
        return None


def _pinv_factor(info: np.ndarray) -> GramFactor:
    warnings.warn(
        "the Fisher information is numerically singular at the estimates; standard errors "
        "use its pseudo-inverse and may be meaningless.",
        GLMSpecWarning,
        stacklevel=3,
    )
    values, vectors = linalg.eigh(info)
    (r,) = linalg.qr(np.sqrt(np.clip(values, 0.0, None))[:, None] * vectors.T, mode="r")
    return PseudoInverseFactor(r, "pinv", linalg.pinvh(info))


def _start(d: _Data) -> np.ndarray:
    """Zeros, except class log-odds on a constant (intercept) column.

    The log-odds are taken net of the average offset, so that a large offset does not start
    the fit with the reference class at a probability of e^-offset.
    """
    theta = np.zeros((d.n_classes - 1, d.X.shape[1]))
    positive = d.prior > 0
    used = d.X[positive]
    freq = np.bincount(d.codes, weights=d.prior, minlength=d.n_classes)
    constant = np.flatnonzero(np.all(used == used[:1], axis=0) & (used[0] != 0))
    if constant.size:
        mean_offset = np.average(d.offset[positive], weights=d.prior[positive])
        log_odds = np.log(freq[1:] / freq[0]) - mean_offset
        theta[:, constant[0]] = log_odds / used[0, constant[0]]
    return theta.ravel()


def _validate(codes, n_classes, X, prior_weights, offset, check_classes=True) -> _Data:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0 or not np.all(np.isfinite(X)):
        raise DataError(f"X must be a non-empty finite 2-d array; got shape {X.shape}.")
    n, codes = X.shape[0], np.asarray(codes)
    if codes.shape != (n,) or not np.issubdtype(codes.dtype, np.integer):
        raise ResponseError(f"codes must be {n} integers; got {codes.dtype}{codes.shape}.")
    if n_classes < 2 or codes.min() < 0 or codes.max() >= n_classes:
        raise ResponseError(f"codes must lie in 0..{n_classes - 1} with n_classes >= 2.")
    prior = np.ones(n) if prior_weights is None else np.asarray(prior_weights, dtype=float)
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    for name, arr in (("prior_weights", prior), ("offset", offset)):
        if arr.shape != (n,) or not np.all(np.isfinite(arr)) or np.any(prior < 0):
            raise DataError(f"{name} must be {n} finite values (weights non-negative).")
    empty = np.flatnonzero(np.bincount(codes, weights=prior, minlength=n_classes) <= 0)
    if check_classes and empty.size:
        raise ResponseError(f"class(es) {empty.tolist()} have no rows with positive weight.")
    return _Data(codes.astype(np.intp), int(n_classes), X, prior, offset)


def fit_multinomial(
    codes: np.ndarray,
    n_classes: int,
    X: np.ndarray,
    *,
    prior_weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-8,
    column_names: Sequence[str] | None = None,
) -> MultinomialFitRecord:
    """Fit a multinomial logit model by Newton-Raphson (L-BFGS-B when singular).

    Parameters
    ----------
    codes : ndarray of int, shape (n,)
        Observed classes ``0..n_classes-1``; 0 is the reference class.
    n_classes : int
        Number of classes ``K >= 2``; each needs positive total weight.
    X : ndarray of shape (n, p)
        Design matrix of full column rank (on the rows with positive weight).
    prior_weights : ndarray of shape (n,), optional
        Non-negative frequency weights; rows with weight 0 do not affect the fit.
    offset : ndarray of shape (n,), optional
        Added to the linear predictor of every non-reference class. Default zeros.
    max_iter : int
        Maximum number of Newton iterations (the L-BFGS fallback may take ``10 * max_iter``).
    tol : float
        Tolerance on the relative deviance change and the Newton decrement.
    column_names : sequence of str, optional
        Used only to name aliased columns in a :class:`SingularDesignError`.

    Returns
    -------
    MultinomialFitRecord

    Raises
    ------
    SingularDesignError
        The design (rows with positive weight) is rank deficient.
    ResponseError, DataError
        Invalid codes, an empty class, or malformed weights, offset or design.
    """
    d = _validate(codes, n_classes, X, prior_weights, offset)
    theta = _start(d)
    loglik, gradient, info, probs = _derivatives(d, theta)
    history: list[Iteration] = []
    relative_change, converged, method = np.inf, False, "newton"
    message = f"stopped after max_iter={max_iter} iterations"
    delta, iteration = np.full_like(theta, np.inf), 0
    for iteration in range(1, max_iter + 1):
        factor = _factor(d, info, probs, column_names)
        if factor is None:
            method = "lbfgs"
            break
        delta = factor.solve(gradient)
        decrement = float(gradient @ delta)
        converged = _converged(relative_change, decrement, -2.0 * loglik, tol)
        step = _line_search(d, theta, delta, loglik)
        if step is None:
            message = "converged" if converged else "step halving could not increase loglik"
            break
        theta, halvings = step
        new_loglik, gradient, info, probs = _derivatives(d, theta)
        relative_change, loglik = _relative_change(new_loglik, loglik), new_loglik
        if converged:  # the final step, taken after the test passed
            message = "converged"
            break
        history.append(Iteration(iteration, -2.0 * loglik, relative_change, decrement, halvings))

    if method == "lbfgs":
        theta, relative_change, n_lbfgs = _lbfgs(d, theta, np.diag(info), max_iter, history)
        iteration += n_lbfgs - 1
        loglik, gradient, info, probs = _derivatives(d, theta)
    factor = _factor(d, info, probs, column_names) or _pinv_factor(info)  # at the estimates
    if method == "lbfgs":
        decrement = float(gradient @ factor.solve(gradient))
        converged = _converged(relative_change, decrement, -2.0 * loglik, tol)
        message = "converged (L-BFGS-B)" if converged else "L-BFGS-B did not meet the criterion"
    if not converged:
        warn_not_converged("multinomial fit", iteration, message, history, tol)
    moving = not converged or method == "lbfgs" or np.max(np.abs(delta)) > _MOVING_STEP
    positive = d.prior > 0
    with np.errstate(divide="ignore"):
        logp_observed = np.log(probs[np.flatnonzero(positive), d.codes[positive]])
    if moving and np.any(logp_observed > _SEPARATION_LOGP):
        warnings.warn(
            "quasi-complete separation: fitted probabilities numerically 0 or 1; some "
            "coefficients diverge and their standard errors are meaningless.",
            SeparationWarning,
            stacklevel=2,
        )
    coef = theta.reshape(n_classes - 1, -1).T.copy()
    return MultinomialFitRecord(
        coef, probs, loglik, -2.0 * loglik, factor, converged, iteration, tuple(history),
        message, method,
    )  # fmt: skip


def _lbfgs(d: _Data, theta, info_diag, max_iter, history):
    """Maximise the log-likelihood by L-BFGS-B from ``theta``, appending steps to ``history``.

    The variables are rescaled by the root of the information's diagonal (a diagonal
    preconditioner). Returns the estimates, the last relative deviance change and the
    number of iterations.
    """
    total = float(d.prior.sum())  # minimise -loglik / total, whose gradient is O(1)
    scale = np.sqrt(np.where(info_diag > 0, info_diag, total) / total)
    state = {"loglik": _score(d, theta)[0], "change": np.inf, "n": 0}
    done = history[-1].iteration if history else 0

    def objective(u):
        loglik, gradient, _ = _score(d, u / scale)
        return -loglik / total, -gradient / (total * scale)

    def callback(intermediate_result):
        new = -float(intermediate_result.fun) * total
        state["change"] = _relative_change(new, state["loglik"])
        state["loglik"], state["n"] = new, state["n"] + 1
        history.append(Iteration(done + state["n"], -2.0 * new, state["change"], np.nan, 0))

    options = {"maxiter": 10 * max_iter, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 20}
    result = optimize.minimize(
        objective, theta * scale, jac=True, method="L-BFGS-B", callback=callback, options=options
    )
    return result.x / scale, state["change"], max(state["n"], 1)
