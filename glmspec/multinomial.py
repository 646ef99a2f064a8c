"""Maximum-likelihood fitting of a multinomial logit (softmax) model, on arrays only.

Class 0 is the reference: its linear predictor is 0, and class ``k >= 1`` has
``eta_k = X @ coef[:, k-1] + offset``. Coefficient vectors are flattened *class-major*
(index ``(k-1)*p + j``), statsmodels ``MNLogit``'s ``cov_params`` order. The loop mirrors
:func:`glmspec.solver.fit_irls`, in named steps:

1. :func:`loglik_derivatives` -- log-likelihood, score and Fisher information (equal to the
   observed information for this canonical link); block ``(j, k)`` of the information is
   ``X' diag(w p_j (delta_jk - p_k)) X``, only the ``K(K-1)/2`` upper blocks are formed;
2. a Newton step, factorised by :func:`glmspec.linalg.factor_gram`. When that fails the design
   is checked for exact collinearity (:func:`glmspec.linalg.check_rank` raises
   :class:`SingularDesignError`); otherwise the information is only ill-conditioned and the
   fit continues by L-BFGS-B with the analytic gradient (``method="lbfgs"``);
3. :func:`_line_search` -- step halving while the log-likelihood decreases;
4. the convergence test of :func:`glmspec.solver._converged`: relative deviance change below
   ``tol`` and Newton decrement below ``tol**2`` (both relative to ``|deviance| + 0.1``). The
   step computed at the converged point is still taken.

Separation is detected only roughly: a :class:`SeparationWarning` is issued when some row with
positive weight has a fitted probability of its observed class above ``1 - 1e-10`` *and* the
coefficients are still moving (the fit did not converge, fell back to L-BFGS, or its last
Newton step changed a coefficient by more than ``1e-3``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, special

from glmspec.errors import (
    ConvergenceWarning,
    DataError,
    GLMSpecWarning,
    ResponseError,
    SeparationWarning,
)
from glmspec.linalg import GramFactor, check_rank, factor_gram, weighted_gram
from glmspec.solver import MAX_HALVINGS, Iteration, _converged

_SEPARATION_LOGP = -1e-10  # log(1 - 1e-10): fitted probability of the observed class is 1
_MOVING_STEP = 1e-3


@dataclass(frozen=True)
class MultinomialFitRecord:
    """Everything the multinomial solver computed; read-only.

    Attributes
    ----------
    coef : ndarray of shape (p, K-1)
        Column ``k-1`` holds the coefficients of class ``k`` against reference class 0.
    probs : ndarray of shape (n, K)
        Fitted probabilities.
    loglik : float
        ``sum(prior_i * log p_i[y_i])``, the full log-likelihood.
    deviance : float
        ``-2 * loglik``.
    information : GramFactor
        Factor of the ``(K-1)p x (K-1)p`` Fisher information at ``coef``, class-major.
    converged : bool
        True only when the convergence criterion was met.
    n_iter : int
        Newton iterations plus L-BFGS iterations.
    history : tuple of Iteration
        One entry per accepted step (``decrement`` is NaN for L-BFGS steps).
    message : str
        Why the loop stopped.
    method : str
        ``"newton"``, or ``"lbfgs"`` when the information became ill-conditioned.
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
    """A singular information ``r' r`` whose ``solve`` and ``inverse`` use its pseudo-inverse."""

    pinv: np.ndarray

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """Return ``pinv(r' r) @ rhs``."""
        return self.pinv @ rhs

    def inverse(self) -> np.ndarray:
        """Return the Moore-Penrose pseudo-inverse of ``r' r``."""
        return self.pinv


def log_softmax(eta_full: np.ndarray) -> np.ndarray:
    """Row-wise ``log p`` for linear predictors ``eta_full`` of shape (n, K), stably.

    Column 0 is the reference class and should be 0; the result is finite for any finite
    ``eta_full`` (``logsumexp`` subtracts the row maximum).
    """
    return eta_full - special.logsumexp(eta_full, axis=1, keepdims=True)


def covariance(record: MultinomialFitRecord) -> np.ndarray:
    """Inverse Fisher information at the optimum, class-major, shape ((K-1)p, (K-1)p)."""
    return record.information.inverse()


def _log_probs(X, theta, offset):
    p = X.shape[1]
    eta = X @ theta.reshape(-1, p).T + offset[:, None]
    return log_softmax(np.column_stack([np.zeros(X.shape[0]), eta]))


def _score(codes, n_classes, X, theta, prior, offset):
    """Log-likelihood, class-major score and log-probabilities at ``theta``."""
    logp = _log_probs(X, theta, offset)
    loglik = float(prior @ logp[np.arange(X.shape[0]), codes])
    resid = (codes[:, None] == np.arange(n_classes)) - np.exp(logp)
    gradient = (X.T @ (prior[:, None] * resid[:, 1:])).T.ravel()
    return loglik, gradient, logp


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
        Class-major coefficients (``coef.T.ravel()``).

    Returns
    -------
    loglik : float
    gradient : ndarray of shape ((K-1)p,)
        Derivative of ``loglik``.
    information : ndarray of shape ((K-1)p, (K-1)p)
        Minus the Hessian of ``loglik``.
    probs : ndarray of shape (n, K)
    """
    n, p = X.shape
    prior = np.ones(n) if prior_weights is None else np.asarray(prior_weights, dtype=float)
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    loglik, gradient, logp = _score(codes, n_classes, X, theta, prior, offset)
    probs = np.exp(logp)
    m = n_classes - 1
    info = np.empty((m * p, m * p))
    for j in range(1, n_classes):
        rest = probs[:, np.arange(n_classes) != j].sum(axis=1)  # 1 - p_j without cancellation
        rows = slice((j - 1) * p, j * p)
        info[rows, rows] = weighted_gram(X, prior * probs[:, j] * rest)
        for k in range(j + 1, n_classes):
            block = -weighted_gram(X, prior * probs[:, j] * probs[:, k])
            cols = slice((k - 1) * p, k * p)
            info[rows, cols] = block
            info[cols, rows] = block.T
    return loglik, gradient, info, probs


def _relative_change(loglik_new: float, loglik_old: float) -> float:
    """Relative change of the deviance ``-2 loglik``, on solver.py's ``|deviance| + 0.1`` scale."""
    return 2.0 * abs(loglik_new - loglik_old) / (2.0 * abs(loglik_new) + 0.1)


def _line_search(X, codes, theta, delta, prior, offset, loglik_old):
    """Halve ``delta`` until the log-likelihood does not decrease; None if it always does."""
    rows = np.arange(X.shape[0])
    for halvings in range(MAX_HALVINGS + 1):
        candidate = theta + delta
        loglik = float(prior @ _log_probs(X, candidate, offset)[rows, codes])
        if np.isfinite(loglik) and loglik >= loglik_old - 1e-12 * abs(loglik_old):
            return candidate, halvings
        delta = 0.5 * delta
    return None


def _final_factor(info: np.ndarray) -> GramFactor:
    factor = factor_gram(info)
    if factor is not None:
        return factor
    warnings.warn(
        "the Fisher information is singular or ill-conditioned (reciprocal condition number "
        "below 1e-8) at the estimates; standard errors use its pseudo-inverse and may be "
        "inaccurate.",
        GLMSpecWarning,
        stacklevel=3,
    )
    values, vectors = linalg.eigh(info)
    root = np.sqrt(np.clip(values, 0.0, None))[:, None] * vectors.T
    (r,) = linalg.qr(root, mode="r")
    return PseudoInverseFactor(r, "pinv", linalg.pinvh(info))


def _start(codes, n_classes, X, prior):
    """Zeros, or class log-odds on a constant (intercept) column when every class occurs."""
    theta = np.zeros((n_classes - 1, X.shape[1]))
    used = X[prior > 0]
    freq = np.bincount(codes, weights=prior, minlength=n_classes)
    constant = np.flatnonzero(np.all(used == used[:1], axis=0) & (used[0] != 0))
    if constant.size and np.all(freq > 0):
        j = constant[0]
        theta[:, j] = np.log(freq[1:] / freq[0]) / used[0, j]
    return theta.ravel()


def _validate(codes, n_classes, X, prior_weights, offset):
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0:
        raise DataError(f"X must be a non-empty 2-d array; got shape {X.shape}.")
    n = X.shape[0]
    codes = np.asarray(codes)
    if codes.shape != (n,) or not np.issubdtype(codes.dtype, np.integer):
        raise ResponseError(
            f"codes must be {n} integers; got {codes.dtype} of shape {codes.shape}."
        )
    if n_classes < 2 or codes.min() < 0 or codes.max() >= n_classes:
        raise ResponseError(f"codes must lie in 0..{n_classes - 1} with n_classes >= 2.")
    prior = np.ones(n) if prior_weights is None else np.asarray(prior_weights, dtype=float)
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    for name, arr in (("prior_weights", prior), ("offset", offset)):
        if arr.shape != (n,) or not np.all(np.isfinite(arr)):
            raise DataError(f"{name} must be {n} finite values.")
    if np.any(prior < 0):
        raise DataError("prior_weights must be non-negative.")
    if not np.all(np.isfinite(X[prior > 0])):
        raise DataError("X has NaN or infinite values in rows with positive weight.")
    freq = np.bincount(codes, weights=prior, minlength=n_classes)
    if np.any(freq <= 0):
        empty = np.flatnonzero(freq <= 0).tolist()
        raise ResponseError(f"class(es) {empty} have no observations with positive weight.")
    return codes.astype(np.intp), X, prior, offset


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
    """Fit a multinomial logit model by Newton-Raphson (L-BFGS-B when ill-conditioned).

    Parameters
    ----------
    codes : ndarray of int, shape (n,)
        Observed classes ``0..n_classes-1``; 0 is the reference class.
    n_classes : int
        Number of classes ``K >= 2``; every class needs positive total weight.
    X : ndarray of shape (n, p)
        Design matrix of full column rank (on the rows with positive weight).
    prior_weights : ndarray of shape (n,), optional
        Non-negative frequency weights; rows with weight 0 do not affect the fit.
    offset : ndarray of shape (n,), optional
        Added to the linear predictor of every non-reference class. Default zeros.
    max_iter : int
        Maximum number of Newton iterations (L-BFGS-B may take ``10 * max_iter``).
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
        Invalid codes, empty class, or malformed weights, offset or design.
    """
    codes, X, prior, offset = _validate(codes, n_classes, X, prior_weights, offset)
    kw = {"prior_weights": prior, "offset": offset}
    theta = _start(codes, n_classes, X, prior)
    loglik, gradient, info, probs = loglik_derivatives(codes, n_classes, X, theta, **kw)
    history: list[Iteration] = []
    relative_change, converged, method = np.inf, False, "newton"
    message = f"stopped after max_iter={max_iter} iterations"
    delta = np.full_like(theta, np.inf)
    iteration = 0
    for iteration in range(1, max_iter + 1):
        factor = factor_gram(info)
        if factor is None:
            check_rank(X[prior > 0], column_names)
            method = "lbfgs"
            break
        delta = factor.solve(gradient)
        decrement = float(gradient @ delta)
        converged = _converged(relative_change, decrement, -2.0 * loglik, tol)
        step = _line_search(X, codes, theta, delta, prior, offset, loglik)
        if step is None:
            message = "converged" if converged else "step halving could not increase loglik"
            break
        theta, halvings = step
        new_loglik, gradient, info, probs = loglik_derivatives(codes, n_classes, X, theta, **kw)
        relative_change, loglik = _relative_change(new_loglik, loglik), new_loglik
        if converged:  # the final step, taken after the test passed
            message = "converged"
            break
        history.append(Iteration(iteration, -2.0 * loglik, relative_change, decrement, halvings))

    if method == "lbfgs":
        theta, relative_change, n_lbfgs = _lbfgs(
            codes, n_classes, X, theta, prior, offset, max_iter, loglik, history, iteration - 1
        )
        iteration += n_lbfgs - 1
        loglik, gradient, info, probs = loglik_derivatives(codes, n_classes, X, theta, **kw)
        factor = _final_factor(info)
        decrement = float(gradient @ factor.solve(gradient))
        converged = _converged(relative_change, decrement, -2.0 * loglik, tol)
        message = "converged (L-BFGS-B)" if converged else "L-BFGS-B did not meet the criterion"
    else:
        factor = _final_factor(info)

    coef = theta.reshape(n_classes - 1, X.shape[1]).T.copy()
    if not converged:
        last = history[-1].relative_change if history else float("nan")
        warnings.warn(
            f"multinomial fit did not converge after {iteration} iterations ({message}); last "
            f"relative deviance change {last:.3g}, tolerance {tol:g}. Estimates are not reliable.",
            ConvergenceWarning,
            stacklevel=2,
        )
    moving = not converged or method == "lbfgs" or np.max(np.abs(delta)) > _MOVING_STEP
    logp_obs = np.log(probs[np.arange(len(codes)), codes])
    if moving and np.any(logp_obs[prior > 0] > _SEPARATION_LOGP):
        warnings.warn(
            "quasi-complete separation: fitted probabilities numerically 0 or 1; some "
            "coefficients diverge and their standard errors are meaningless.",
            SeparationWarning,
            stacklevel=2,
        )
    return MultinomialFitRecord(
        coef=coef,
        probs=probs,
        loglik=loglik,
        deviance=-2.0 * loglik,
        information=factor,
        converged=converged,
        n_iter=iteration,
        history=tuple(history),
        message=message,
        method=method,
    )


def _lbfgs(codes, n_classes, X, theta, prior, offset, max_iter, loglik, history, done):
    """Minimise the deviance by L-BFGS-B from ``theta``, appending each step to ``history``.

    Returns the estimates, the last relative deviance change and the number of iterations.
    """
    scale = float(prior.sum())  # minimise -loglik / scale, whose gradient is O(1)
    state = {"loglik": loglik, "change": np.inf, "n": 0}

    def objective(t):
        value, grad, _ = _score(codes, n_classes, X, t, prior, offset)
        return -value / scale, -grad / scale

    def callback(intermediate_result):
        new = -float(intermediate_result.fun) * scale
        state["change"] = _relative_change(new, state["loglik"])
        state["loglik"] = new
        state["n"] += 1
        history.append(Iteration(done + state["n"], -2.0 * new, state["change"], np.nan, 0))

    options = {"maxiter": 10 * max_iter, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 20}
    result = optimize.minimize(
        objective, theta, jac=True, method="L-BFGS-B", callback=callback, options=options
    )
    return result.x, state["change"], max(state["n"], 1)
