"""Maximum-likelihood fitting of a multinomial logit (softmax) model from sums over rows.

Class 0 is the reference (linear predictor 0); class ``k >= 1`` has
``eta_k = X @ coef[:, k-1] + offset``. Flat coefficient vectors ``theta = coef.T.ravel()`` are
*class-major* (index ``(k-1)*p + j``), statsmodels ``MNLogit``'s ``cov_params`` order.

The row engines are in :mod:`glmspec.solvers.multinomial_rows`, the factors of the information in
:mod:`glmspec.solvers.multinomial_factor`; their public names are importable from here too.

The loop
--------
It is :class:`MultinomialProblem` run by the Newton loop every fit shares
(:func:`glmspec.solvers.newton.newton_loop`: step, step halving, convergence test, history):

1. start: class log-odds on a constant (intercept) column, zeros elsewhere. There the fitted
   probabilities are (with a constant offset, exactly) the same ``pi`` for every row, so the
   information is ``(diag(pi) - pi pi') kron X' W X`` -- factored from ``start_sums`` alone;
2. steps ``theta + H^-1 score``, ``H`` the latest factored information with BFGS updates
   from the steps since (:func:`~glmspec.solvers.newton.quasi_newton_direction`; none at
   a point with fresh information, where the step is Newton's). Factoring:
   :func:`glmspec.linalg.factor_gram` (Cholesky); if that fails, the engine's ``check_rank``, then
   its ``qr_factor``, then a Cholesky factor accepted down to a reciprocal condition number of
   ``_RCOND_LAST``; if none is available, L-BFGS-B with the analytic score takes over
   (``method="lbfgs"``);
3. the information is evaluated at a new point only when it pays
   (:func:`~glmspec.solvers.newton.worth_refreshing`:
   the last step shrank the decrement too little for its ``information_cost``), after a
   halved step, and at the point expected to be the last (the decrement predicted from the
   last step's shrinkage below the stopping threshold). Far from the optimum, where even a
   fresh information goes stale within a step, every pass computes it (Newton's method)
   until a step shrinks the decrement 1/``_REFRESH_RATE``-fold. Other passes compute only the
   log-likelihood and score: the information's ``K(K-1)/2`` weighted ``syrk`` products take
   ``K(K-1)p^2/4`` multiply-adds per row against the score's ``2Kp`` (with ``K = 5`` and
   ``p = 100``, one information pass costs about 16 score passes);
4. step halving while the log-likelihood decreases; the trial point's pass computes the score
   (and, when wanted, the information) too, so an accepted step costs one pass;
5. stop at a point with fresh information where :func:`glmspec.solvers.newton.is_converged` holds
   (relative deviance change below ``tol``, Newton decrement below ``tol**2`` relative to
   ``|deviance| + 0.1``) and either the decrement is below ``_POLISH * tol**2`` (the
   coefficients are then within about ``1e-3 tol`` standard errors of the optimum) or the
   previous point met the criterion too (a step taken from a converged point, as the IRLS
   solver does, cannot do better than rounding). The information there gives the standard
   errors.

Separation is detected only roughly: :class:`SeparationWarning` is issued when a row with
positive weight has a fitted probability of its observed class above ``1 - 1e-10`` while the
coefficients still move (no convergence, the L-BFGS fallback, or a last Newton step above
``1e-3`` in some coefficient).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glmspec.errors import ResponseError, SeparationWarning
from glmspec.linalg import GramFactor
from glmspec.solvers.engine import Point
from glmspec.solvers.multinomial_factor import (
    PseudoInverseFactor,
    information_factor,
    kronecker_factor,
    lbfgs,
    pinv_factor,
)
from glmspec.solvers.multinomial_rows import (
    BlockSums,
    InMemoryMultinomialRows,
    MultinomialRows,
    StartSums,
    block_derivatives,
    block_start_sums,
    log_softmax,
)
from glmspec.solvers.newton import (
    Iteration,
    Move,
    NewtonProblem,
    Outcome,
    Step,
    is_converged,
    quasi_newton_direction,
    solve,
    update_pairs,
    worth_refreshing,
)

__all__ = [
    "BlockSums",
    "InMemoryMultinomialRows",
    "MultinomialFitRecord",
    "MultinomialRows",
    "PseudoInverseFactor",
    "StartSums",
    "block_derivatives",
    "block_start_sums",
    "covariance",
    "fit_multinomial",
    "fit_multinomial_rows",
    "log_softmax",
    "loglik_derivatives",
]
_MOVING_STEP = 1e-3
_REFRESH_RATE = 1e-2  # re-evaluate the information when a step shrinks the decrement less
_POLISH = 1e-6  # final decrement below _POLISH * tol**2: within ~1e-3 tol SEs of the optimum


@dataclass(frozen=True)
class MultinomialFitRecord:
    """Everything the multinomial solver computed; read-only.

    Attributes
    ----------
    coef : ndarray of shape (p, K-1)
        Column ``k-1``: coefficients of class ``k`` against reference class 0.
    probs : ndarray of shape (n, K) or None
        Fitted probabilities; None when the row engine keeps no rows in memory (its
        ``probabilities`` returns None). :func:`fit_multinomial` always fills it.
    loglik, deviance : float
        ``sum(prior_i * log p_i[y_i])``, the full log-likelihood, and ``-2 * loglik``.
    information : GramFactor
        Factor of the ``(K-1)p x (K-1)p`` Fisher information at ``coef``, class-major;
        a :class:`PseudoInverseFactor` when numerically singular (with a warning).
    converged : bool
        True only when the convergence criterion was met.
    n_iter : int
        Accepted steps (with fresh or reused information) plus L-BFGS iterations.
    history : tuple of Iteration
        One entry per accepted step (``decrement`` is NaN for L-BFGS steps).
    message : str
        Why the loop stopped.
    method : str
        ``"newton"``, or ``"lbfgs"`` when the information became singular.
    """

    coef: np.ndarray
    probs: np.ndarray | None
    loglik: float
    deviance: float
    information: GramFactor
    converged: bool
    n_iter: int
    history: tuple[Iteration, ...]
    message: str
    method: str


def covariance(record: MultinomialFitRecord) -> np.ndarray:
    """Inverse Fisher information at the estimates, class-major, ((K-1)p, (K-1)p)."""
    return record.information.inverse()


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
    rows = InMemoryMultinomialRows(codes, n_classes, X, prior_weights, offset)
    theta = np.asarray(theta, dtype=float)
    sums = rows.derivatives(theta)
    return sums.loglik, sums.gradient, sums.information, rows.probabilities(theta)


def _constant_column(start: StartSums) -> tuple[int, float] | None:
    """The first column constant and non-zero on the rows with positive weight, and its value.

    Constant means equality in Cauchy-Schwarz, ``(x' w)^2 = (x' W x) sum(w)``, to rounding.
    """
    total = start.class_weights.sum()
    sums, squares = start.column_sums, np.diag(start.gram)
    constant = (squares > 0) & (np.abs(sums * sums - squares * total) <= 1e-12 * squares * total)
    if not np.any(constant):
        return None
    j = int(np.flatnonzero(constant)[0])
    return j, float(sums[j] / total)


def _start(start: StartSums, n_classes: int, p: int) -> np.ndarray:
    """Zeros, except class log-odds on a constant (intercept) column.

    The log-odds are taken net of the average offset, so that a large offset does not start
    the fit with the reference class at a probability of e^-offset.
    """
    theta = np.zeros((n_classes - 1, p))
    constant = _constant_column(start)
    if constant is not None:
        j, value = constant
        freq = start.class_weights
        mean_offset = start.offset_sum / freq.sum()
        theta[:, j] = (np.log(freq[1:] / freq[0]) - mean_offset) / value
    return theta.ravel()


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
        Maximum number of steps (the L-BFGS fallback may take ``10 * max_iter``).
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
    rows = InMemoryMultinomialRows(codes, n_classes, X, prior_weights, offset)
    return fit_multinomial_rows(rows, max_iter=max_iter, tol=tol, column_names=column_names)


def fit_multinomial_rows(
    rows: MultinomialRows,
    *,
    max_iter: int = 100,
    tol: float = 1e-8,
    column_names: Sequence[str] | None = None,
) -> MultinomialFitRecord:
    """Fit a multinomial logit model from a row engine's sums (the loop of the module docstring).

    Parameters
    ----------
    rows : MultinomialRows
        The engine.
    max_iter, tol, column_names
        As in :func:`fit_multinomial`.

    Returns
    -------
    MultinomialFitRecord
        ``probs`` is None when ``rows.probabilities`` is.

    Raises
    ------
    ResponseError
        A class has no rows with positive weight.
    SingularDesignError
        From ``rows.check_rank``.
    """
    K, p = rows.n_classes, rows.n_columns
    start = rows.start_sums()
    empty = np.flatnonzero(start.class_weights <= 0)
    if empty.size:
        raise ResponseError(f"class(es) {empty.tolist()} have no rows with positive weight.")
    theta = _start(start, K, p)
    factor = kronecker_factor(start, theta, K)
    fresh = factor is None  # whether the information is computed at theta (and factored)
    sums = rows.derivatives(theta, want_information=fresh)
    problem = MultinomialProblem(rows, start, factor, fresh, max_iter, tol, column_names)
    point = Point(theta, -2.0 * sums.loglik, sums)
    outcome = solve(problem, point, max_iter=max_iter, tol=tol, name="multinomial fit")
    theta, sums, converged = outcome.point.coef, outcome.point.rows, outcome.converged
    moving = not converged or problem.method == "lbfgs"
    if (moving or np.max(np.abs(problem.delta)) > _MOVING_STEP) and sums.n_certain > 0:
        warnings.warn(
            "quasi-complete separation: fitted probabilities numerically 0 or 1; some "
            "coefficients diverge and their standard errors are meaningless.",
            SeparationWarning,
            stacklevel=2,
        )
    coef = theta.reshape(K - 1, p).T.copy()
    loglik = sums.loglik
    return MultinomialFitRecord(
        coef, rows.probabilities(theta), loglik, -2.0 * loglik, problem.factor, converged,
        outcome.n_iter, outcome.history, outcome.message, problem.method,
    )  # fmt: skip


class MultinomialProblem(NewtonProblem):
    """The multinomial fit as a :class:`~glmspec.solvers.newton.NewtonProblem` (the loop of
    the module docstring): points are :class:`~glmspec.solvers.engine.Point` with the
    engine's :class:`BlockSums` as their state, the objective the deviance ``-2 loglik``.

    It keeps the information schedule: the last factor, whether it is exact and at the
    current point (``fresh``), the BFGS pairs since, and whether the next point's pass
    computes the information (:meth:`prepare_line_search`). The convergence test passes only
    at a point with fresh information; a converged point is returned without its step when
    that step is negligible (``_POLISH``) or the previous point converged too, and the test
    runs at the point the last allowed step reached.
    """

    stop_after_converged_step = False
    test_at_iteration_limit = True

    def __init__(self, rows, start, factor, fresh, max_iter, tol, column_names) -> None:
        self.rows, self.start, self.column_names = rows, start, column_names
        self.max_iter, self.tol = max_iter, tol
        self.factor, self.fresh = factor, fresh
        self.factor_here = False  # self.factor is at the last point
        self.exact = self.newton = False  # factor from an exact information; every pass has one
        self.last_fresh = None  # decrement at the previous point, when both had fresh information
        self.previous = None  # decrement at the previous point, if its step was whole and reused
        self.pairs: list[tuple[np.ndarray, np.ndarray, float]] = []  # BFGS updates of the factor
        self.polish = _POLISH * tol * tol
        self.cost = max(float(rows.information_cost), 1.0)
        self.method = "newton"
        self.want = False  # whether the line search's first trial computes the information
        self.delta = np.full(rows.n_columns * (rows.n_classes - 1), np.inf)

    def newton_step(self, point: Point, change: float) -> Step | None:
        sums = point.rows
        if self.fresh:
            factor = information_factor(self.rows, point.coef, sums.information, self.column_names)
            if factor is None:
                self.method = "lbfgs"
                return None
            self.factor, self.exact, self.pairs = factor, True, []
        self.factor_here = self.fresh
        self.delta = quasi_newton_direction(self.factor, self.pairs, sums.gradient)
        return Step(self.delta, float(sums.gradient @ self.delta), exact=self.fresh)

    def check_convergence(self, point: Point, step: Step, change: float, tol: float) -> bool:
        return step.exact and super().check_convergence(point, step, change, tol)

    def stops_before_step(self, step: Step, previous_converged: bool) -> bool:
        return step.decrement <= self.polish or previous_converged

    def prepare_line_search(self, point: Point, step: Step, converged: bool) -> None:
        decrement, polish = step.decrement, self.polish
        rate = decrement / self.previous if self.previous else None
        refresh = worth_refreshing(rate, decrement / polish, self.cost)
        if (
            self.newton
            and self.last_fresh is not None
            and decrement < _REFRESH_RATE * self.last_fresh
        ):
            self.newton = False  # Newton's quadratic phase: an information stays good for steps
        elif self.exact and refresh:
            self.newton = True  # even an exact information goes stale within one step
        self.last_fresh = decrement if self.fresh else None
        want = self.newton or refresh or converged or decrement <= polish
        self.want = want or (rate is not None and rate * decrement <= polish)

    def trial(self, point: Point, coef: np.ndarray, halvings: int) -> Point | None:
        # after a halving, the step showed the information used to be poor: compute it
        sums = self.rows.derivatives(coef, self.want or halvings > 0)
        return Point(coef, -2.0 * sums.loglik, sums) if np.isfinite(sums.loglik) else None

    def accepted(self, move: Move, step: Step, converged: bool) -> None:
        old, new = move.start.rows, move.end.rows
        update_pairs(self.pairs, move.end.coef - move.start.coef, old.gradient - new.gradient)
        self.fresh = new.information is not None
        self.previous = None if self.fresh or move.halvings else step.decrement
        self.newton = self.newton or (move.halvings > 0 and self.exact)

    def no_step(self, point: Point, step: Step, converged: bool) -> tuple[Point, bool, str]:
        return (
            point,
            converged,
            "converged" if converged else "step halving could not increase loglik",
        )

    def finalize(self, outcome: Outcome) -> Outcome:
        """L-BFGS-B when the information became singular; the factor at the estimates."""
        rows, theta, sums = self.rows, outcome.point.coef, outcome.point.rows
        converged, message, history = outcome.converged, outcome.message, list(outcome.history)
        if self.method == "lbfgs":
            total = float(self.start.class_weights.sum())
            theta, relative_change, _ = lbfgs(
                rows, theta, np.diag(sums.information), total, self.max_iter, history
            )
            sums, self.factor_here = rows.derivatives(theta), False
        elif not self.fresh:
            sums, self.factor_here = rows.derivatives(theta), False
        if not self.factor_here:  # the factor at the estimates
            factor = information_factor(rows, theta, sums.information, self.column_names)
            self.factor = factor or pinv_factor(sums.information)
            if self.method == "lbfgs":
                decrement = float(sums.gradient @ self.factor.solve(sums.gradient))
                converged = is_converged(relative_change, decrement, -2.0 * sums.loglik, self.tol)
                message = (
                    "converged (L-BFGS-B)" if converged else "L-BFGS-B did not meet the criterion"
                )
        point = Point(theta, -2.0 * sums.loglik, sums)
        return Outcome(point, tuple(history), converged, message, len(history))
