"""Penalized (ridge and elastic-net) GLMs by proximal Newton steps, on arrays only.

The objective is glum's and scikit-learn's::

    deviance / (2 * sum(w)) + alpha * (l1_ratio * |b|_1 + (1 - l1_ratio) / 2 * |b|_2^2)

where ``b`` are the penalized coefficients (every column but the intercept). Each iteration
builds the same quadratic model of the deviance as the IRLS solver (``X'WX`` and the gradient
in one pass, :func:`glmspec.linalg.gram_and_product`) and minimises it plus the penalty:
exactly by one linear solve for the ridge, by cyclic coordinate descent with soft
thresholding when there is an L1 part. The step is halved until the penalized objective
decreases. Convergence: the relative change of the objective is below ``tol`` and the step
is below ``tol`` standard errors of the quadratic model.

Standard errors are not defined for penalized estimates (the penalty biases them); the
results report none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glmspec.design.matrix import as_design
from glmspec.errors import FitError, SingularDesignError
from glmspec.families import Family
from glmspec.linalg import factorize
from glmspec.solvers.engine import InMemoryRows, evaluate_at, working_quantities
from glmspec.solvers.newton import MAX_HALVINGS, FitRecord, Iteration, warn_not_converged

_CD_SWEEPS = 1000


@dataclass(frozen=True)
class Penalty:
    """``alpha * (l1_ratio |b|_1 + (1 - l1_ratio)/2 |b|^2)`` on the columns in ``mask``."""

    alpha: float
    l1_ratio: float
    mask: np.ndarray

    @classmethod
    def except_intercept(cls, alpha: float, l1_ratio: float, column_names) -> Penalty:
        """The penalty on every column but ``Intercept`` (unpenalized, as glum and scikit-learn)."""
        return cls(alpha, l1_ratio, np.array([name != "Intercept" for name in column_names]))

    def value(self, coef: np.ndarray, weight_sum: float) -> float:
        """The penalty in deviance units: ``2 sum(w)`` times the objective's penalty."""
        b = coef[self.mask]
        l1, l2 = np.abs(b).sum(), 0.5 * b @ b
        return 2.0 * weight_sum * self.alpha * (self.l1_ratio * l1 + (1 - self.l1_ratio) * l2)


def _minimise_model(H, rhs, coef, penalty: Penalty, weight_sum: float) -> np.ndarray:
    """Minimise ``1/2 b'Hb - b'rhs + sum(w) alpha (l1 |b~|_1 + (1-l1)/2 |b~|^2)`` over ``b``."""
    mu1 = weight_sum * penalty.alpha * penalty.l1_ratio
    mu2 = weight_sum * penalty.alpha * (1 - penalty.l1_ratio)
    ridge = np.where(penalty.mask, mu2, 0.0)
    if mu1 == 0:
        return np.linalg.solve(H + np.diag(ridge), rhs)
    b = coef.copy()
    diag = np.diag(H) + ridge
    threshold = np.where(penalty.mask, mu1, 0.0)
    for _ in range(_CD_SWEEPS):
        largest = 0.0
        for j in range(len(b)):
            r = rhs[j] - H[j] @ b + H[j, j] * b[j]
            new = np.sign(r) * max(abs(r) - threshold[j], 0.0) / diag[j]
            largest = max(largest, abs(new - b[j]) * np.sqrt(diag[j]))
            b[j] = new
        if largest < 1e-12 * (1.0 + np.sqrt(abs(rhs @ b))):
            break
    return b


def fit_penalized(
    y: np.ndarray,
    X: np.ndarray,
    family: Family,
    penalty: Penalty,
    *,
    prior_weights: np.ndarray,
    offset: np.ndarray,
    max_iter: int = 100,
    tol: float = 1e-8,
) -> FitRecord:
    """Fit a ridge or elastic-net penalized GLM; see the module docstring for the objective.

    Raises
    ------
    FitError
        No valid starting point (an intercept-only start or zeros).
    """
    prior, weight_sum = prior_weights, float(np.sum(prior_weights))
    start = InMemoryRows(y, X, family, prior, offset).intercept_start()
    if start is None:
        coef = np.zeros(X.shape[1])
        state = evaluate_at(family, y, X, coef, offset, prior)
        if state is None:
            raise FitError("no valid starting point for the penalized fit (zeros are invalid).")
        eta, mu, deviance = state
    else:
        coef, deviance, (eta, mu) = start.coef, start.deviance, start.rows
    objective = deviance + penalty.value(coef, weight_sum)
    history, converged, message = [], False, f"stopped after max_iter={max_iter} iterations"
    for iteration in range(1, max_iter + 1):
        weights, score = working_quantities(family, y, mu, eta, prior)
        H, gradient = as_design(X).gram_and_rmatvec(weights, score)
        target = _minimise_model(H, H @ coef + gradient, coef, penalty, weight_sum)
        delta = target - coef
        size = float(delta @ H @ delta)
        halvings, state = 0, None
        while halvings <= MAX_HALVINGS:
            candidate = coef + delta
            state = evaluate_at(family, y, X, candidate, offset, prior)
            if state is not None:
                new_objective = state[2] + penalty.value(candidate, weight_sum)
                if new_objective <= objective + 1e-12 * abs(objective):
                    break
                state = None
            delta, halvings = 0.5 * delta, halvings + 1
        if state is None:
            message = "step halving could not decrease the penalized objective"
            break
        change = abs(new_objective - objective) / (abs(new_objective) + 0.1)
        coef, (eta, mu, deviance), objective = candidate, state, new_objective
        history.append(Iteration(iteration, deviance, change, size, halvings))
        if change < tol and size / (abs(objective) + 0.1) < tol * tol:
            converged, message = True, "converged"
            break
    else:
        iteration = max_iter
    if not converged:
        warn_not_converged("penalized Newton", iteration, message, history, tol)
    weights, _ = working_quantities(family, y, mu, eta, prior)
    try:
        factor = factorize(X, weights, gram=as_design(X).gram(weights))
    except SingularDesignError:  # allowed: the penalty makes the estimate unique anyway
        factor = None
    return FitRecord(
        coef=coef,
        eta=eta,
        mu=mu,
        deviance=float(deviance),
        factor=factor,
        working_weights=weights,
        converged=converged,
        n_iter=iteration,
        history=tuple(history),
        message=message,
    )
