"""Penalized (ridge and elastic-net) GLMs by proximal Newton steps, on arrays only.

The objective is glum's and scikit-learn's::

    deviance / (2 * sum(w)) + alpha * (l1_ratio * |b|_1 + (1 - l1_ratio) / 2 * |b|_2^2)

where ``b`` are the penalized coefficients (every column but the intercept). Each iteration
builds the same quadratic model of the deviance as the IRLS solver (``X'WX`` and the gradient
in one pass, :func:`glmspec.linalg.gram_and_product`) and minimises it plus the penalty:
exactly by one linear solve for the ridge, by cyclic coordinate descent with soft
thresholding when there is an L1 part. The step is halved until the penalized objective
decreases. Convergence: the relative change of the objective is below ``tol`` and the step
is below ``tol`` standard errors of the quadratic model. The loop is
:func:`glmspec.solvers.newton.newton_loop` over a :class:`PenalizedProblem`.

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
from glmspec.solvers.newton import FitRecord, Move, NewtonProblem, Step, is_converged, solve

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


@dataclass(frozen=True, eq=False)
class _Point:
    """The fit at ``coef``: linear predictor, mean, deviance and penalized objective."""

    coef: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    deviance: float
    objective: float


class PenalizedProblem(NewtonProblem):
    """The penalized fit as a :class:`~glmspec.solvers.newton.NewtonProblem`: the objective is
    the deviance plus :meth:`Penalty.value`; the inner solve minimises the quadratic model plus
    the penalty (:func:`_minimise_model`); the convergence test runs after each step, on the
    step just taken (scikit-learn's and glum's placement)."""

    def __init__(self, y, X, family: Family, penalty: Penalty, prior, offset) -> None:
        self.y, self.X, self.family, self.penalty = y, X, family, penalty
        self.prior, self.offset = prior, offset
        self.weight_sum = float(np.sum(prior))

    def point(self, coef: np.ndarray, state) -> _Point:
        """The point at ``coef`` from :func:`evaluate_at`'s ``state``."""
        eta, mu, deviance = state
        return _Point(coef, eta, mu, deviance, deviance + self.penalty.value(coef, self.weight_sum))

    def objective(self, point: _Point) -> float:
        return point.objective

    def reported_deviance(self, point: _Point) -> float:
        return point.deviance

    def newton_step(self, point: _Point, change: float) -> Step:
        weights, score = working_quantities(self.family, self.y, point.mu, point.eta, self.prior)
        H, gradient = as_design(self.X).gram_and_rmatvec(weights, score)
        coef = point.coef
        target = _minimise_model(H, H @ coef + gradient, coef, self.penalty, self.weight_sum)
        delta = target - coef
        return Step(delta, float(delta @ H @ delta))

    def trial(self, point: _Point, coef: np.ndarray, halvings: int) -> _Point | None:
        state = evaluate_at(self.family, self.y, self.X, coef, self.offset, self.prior)
        return None if state is None else self.point(coef, state)

    def check_convergence(self, point: _Point, step: Step, change: float, tol: float) -> bool:
        return False  # tested after the step instead

    def converged_after_step(self, move: Move, step: Step, change: float, tol: float) -> bool:
        # the relative change of the objective, and the step in the model's metric
        return is_converged(change, step.decrement, move.end.objective, tol)

    def no_step(self, point: _Point, step: Step, converged: bool) -> tuple[_Point, bool, str]:
        return point, False, "step halving could not decrease the penalized objective"


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
    prior = prior_weights
    problem = PenalizedProblem(y, X, family, penalty, prior, offset)
    start = InMemoryRows(y, X, family, prior, offset).intercept_start()
    if start is None:
        coef = np.zeros(X.shape[1])
        state = evaluate_at(family, y, X, coef, offset, prior)
        if state is None:
            raise FitError("no valid starting point for the penalized fit (zeros are invalid).")
        point = problem.point(coef, state)
    else:
        point = problem.point(start.coef, (*start.rows, start.deviance))
    outcome = solve(problem, point, max_iter=max_iter, tol=tol, name="penalized Newton")
    point = outcome.point
    weights, _ = working_quantities(family, y, point.mu, point.eta, prior)
    try:
        factor = factorize(X, weights, gram=as_design(X).gram(weights))
    except SingularDesignError:  # allowed: the penalty makes the estimate unique anyway
        factor = None
    return FitRecord(
        coef=point.coef,
        eta=point.eta,
        mu=point.mu,
        deviance=float(point.deviance),
        factor=factor,
        working_weights=weights,
        converged=outcome.converged,
        n_iter=outcome.n_iter,
        history=outcome.history,
        message=outcome.message,
    )
