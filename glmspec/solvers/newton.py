"""The one Newton loop of every fit, and what its fits share.

:func:`newton_loop` runs the steps of scikit-learn's ``NewtonSolver.solve`` and glum's IRLS
over a :class:`NewtonProblem` -- the fit kind: what a point is, its objective and its Newton
system. Each iteration:

1-2. :meth:`NewtonProblem.newton_step` -- the gradient and the factored Hessian at the current
     point (update_gradient_hessian) and the direction they give (inner_solve);
4.   :meth:`NewtonProblem.check_convergence` -- :func:`is_converged` at the current point (R's
     ``glm.fit`` order: a converged point still takes the step computed there);
3.   :meth:`NewtonProblem.line_search` -- halve the step (at most :data:`MAX_HALVINGS` times)
     until the new point is valid and the objective does not rise;

then the accepted step is recorded as an :class:`Iteration`. :func:`solve` adds the fit's
:meth:`NewtonProblem.finalize` and the :class:`ConvergenceWarning` of a loop that stopped
early. The problems: IRLS over a row engine (:mod:`.irls`, in memory or on Dask), the
penalized fit (:mod:`.penalized`), Firth's fit (:mod:`.firth`) and the multinomial fit
(:mod:`.multinomial`); all but the last return a :class:`FitRecord`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glmspec.errors import ConvergenceWarning
from glmspec.linalg import GramFactor

log = logging.getLogger("glmspec.solver")

#: Most halvings of one step before the line search gives up.
MAX_HALVINGS = 30
#: BFGS pairs kept on top of a factored information (:func:`update_pairs`).
BFGS_MEMORY = 10
#: Decades of decrement a step with a recent information gains (:func:`worth_refreshing`).
NEWTON_DECADES = 4.0


@dataclass(frozen=True)
class Iteration:
    """One accepted step of a Newton loop: the objective after it (``deviance``), its relative
    change, the decrement the step was computed with and how often it was halved."""

    iteration: int
    deviance: float
    relative_change: float
    decrement: float
    halvings: int


@dataclass(frozen=True)
class FitRecord:
    """Everything the solver computed; read-only.

    Attributes
    ----------
    coef : ndarray
        Maximum-likelihood coefficients.
    eta, mu : ndarray
        Linear predictor (offset included) and mean at ``coef``.
    deviance : float
        ``sum(prior_weights * unit_deviance)`` at ``coef``.
    factor : GramFactor
        Factor of the Fisher information ``X' W X`` (dispersion 1) at convergence.
    working_weights : ndarray
        IRLS weights ``prior * mu_eta^2 / V(mu)`` matching ``factor``.
    converged : bool
        True only when the convergence criterion was met.
    n_iter : int
        Number of iterations (steps computed on all the rows: Newton steps with the
        information at the point, or steps steered by an earlier point's information, see
        :mod:`glmspec.solvers.steering`); those of a subsample start are not counted.
    history : tuple of Iteration
        One per accepted step, the step taken from the converged point included: as long as
        ``n_iter`` unless the last iteration's step was refused (``message`` says why). A
        steered step's decrement is that of the information it was steered by.
    message : str
        Why the loop stopped.
    """

    coef: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    deviance: float
    factor: GramFactor
    working_weights: np.ndarray
    converged: bool
    n_iter: int
    history: tuple[Iteration, ...]
    message: str


def warn_not_converged(
    solver: str,
    iteration: int,
    message: str,
    history: Sequence[Iteration],
    tol: float,
    stacklevel: int = 3,
) -> None:
    """The :class:`ConvergenceWarning` of a solver that stopped before its criterion."""
    last = history[-1].relative_change if history else float("nan")
    warnings.warn(
        f"{solver} did not converge after {iteration} iterations ({message}); last relative "
        f"deviance change {last:.3g}, tolerance {tol:g}. Estimates are not reliable.",
        ConvergenceWarning,
        stacklevel=stacklevel,
    )


def is_converged(
    relative_change: float, decrement: float, deviance: float, tol: float, noise: float = 0.0
) -> bool:
    """The stopping rule of every Newton loop here (see :mod:`glmspec.solvers.irls`, step 4):
    relative deviance change below ``tol`` and Newton decrement below ``tol**2`` on the
    ``|deviance| + 0.1`` scale (or down to the rounding ``noise``)."""
    # The decrement bounds the squared size of the step in standard-error units, so tol**2
    # makes coefficients accurate to about tol standard errors, not sqrt(tol). ``noise`` is
    # the decrement that rounding errors alone produce at the optimum.
    scale = abs(deviance) + 0.1
    return relative_change < tol and (decrement / scale < tol * tol or decrement <= noise)


def relative_change(new: float, old: float) -> float:
    """Relative change of the objective (deviance scale) in a step, as R's ``glm.fit``:
    ``|new - old| / (|new| + 0.1)``."""
    return abs(new - old) / (abs(new) + 0.1)


@dataclass(frozen=True)
class Step:
    """The Newton direction at a point: ``delta = H^{-1} g`` and the decrement ``g' delta``.

    ``exact`` is False when ``H`` is not the information at this very point (a reused or
    updated factor), where the convergence test may not pass.
    """

    delta: np.ndarray
    decrement: float
    exact: bool = True


@dataclass(frozen=True)
class Move:
    """An accepted step: from ``start`` to ``end`` after ``halvings`` halvings.

    ``within_rounding``: accepted because the objective rose by no more than its rounding
    floor (see :meth:`NewtonProblem.within_rounding`).
    """

    start: Any
    end: Any
    halvings: int
    within_rounding: bool = False


@dataclass(frozen=True)
class Outcome:
    """What :func:`newton_loop` hands to :meth:`NewtonProblem.finalize`.

    ``point`` is the last accepted point; ``n_iter`` the iterations run (a system solved and
    a step tried on all the rows); ``history`` one :class:`Iteration` per accepted step, so
    ``len(history) == n_iter`` unless the last iteration's step was refused (then the loop
    stopped there and ``message`` says why).
    """

    point: Any
    history: tuple[Iteration, ...]
    converged: bool
    message: str
    n_iter: int


class NewtonProblem:
    """One fit kind for :func:`newton_loop`: what a point, its objective and its Newton
    system are. Subclasses implement :meth:`newton_step` and :meth:`trial` and override the
    other steps where their fit differs from the defaults (documented on each method).

    A point is whatever the problem makes of a coefficient vector; the loop reads only
    ``point.coef`` and :meth:`objective`. Problems keep the loop's mutable state (a reused
    factor, flags for the last step) on themselves; the data they close over never change.
    """

    #: Most halvings of one step (and of the final step from a converged point).
    max_halvings: int = MAX_HALVINGS
    final_halvings: int = MAX_HALVINGS
    #: Whether the loop stops right after the step taken from a converged point (IRLS and
    #: Firth: the step is already computed, so it is taken) or tests again at its end.
    stop_after_converged_step: bool = True
    #: Whether the convergence test also runs at the point reached by the last allowed step.
    test_at_iteration_limit: bool = False

    def objective(self, point) -> float:
        """What the loop minimises, on the deviance scale."""
        return point.deviance

    def reported_deviance(self, point) -> float:
        """The ``deviance`` column of the history (default: the objective)."""
        return self.objective(point)

    def newton_step(self, point, change: float) -> Step | None:
        """Steps 1-2 (scikit-learn's ``update_gradient_hessian`` and ``inner_solve``): the
        gradient and the factored Hessian at ``point`` and the direction they give. ``change``
        is the relative change of the objective in the last step (inf before the first).
        None: no Newton step is possible here (the loop stops; :meth:`finalize` copes)."""
        raise NotImplementedError

    def trial(self, point, coef: np.ndarray, halvings: int):
        """The point at ``coef`` tried by the line search (after ``halvings`` halvings), or
        None when it is invalid (outside the link's or family's domain, not finite)."""
        raise NotImplementedError

    def slack(self, point) -> float:
        """How much a step from ``point`` may raise the objective: rounding, ``1e-12`` relative."""
        return 1e-12 * abs(self.objective(point))

    def accepts(self, point, candidate) -> bool:
        """Step 3's test: the objective at ``candidate`` does not rise (beyond :meth:`slack`)."""
        return not self.objective(candidate) > self.objective(point) + self.slack(point)

    def within_rounding(self, point, candidate, decrement: float) -> bool:
        """Accept a rise that the objective's rounding cannot tell from none (default: never)."""
        return False

    def line_search(self, point, step: Step, max_halvings: int) -> Move | None:
        """Step 3: halve ``step.delta`` until the point is valid and accepted; None if never."""
        base = np.zeros_like(step.delta) if point.coef is None else point.coef
        delta = step.delta
        for halvings in range(max_halvings + 1):
            candidate = self.trial(point, base + delta, halvings)
            if candidate is not None:
                if self.accepts(point, candidate):
                    return Move(point, candidate, halvings)
                if self.within_rounding(point, candidate, step.decrement):
                    return Move(point, candidate, halvings, within_rounding=True)
            elif not self.halves_invalid(point):
                break
            delta = 0.5 * delta
        return None

    def halves_invalid(self, point) -> bool:
        """Whether an invalid full step from ``point`` is halved (default) or given up."""
        return True

    def decrement_noise(self, point, step: Step) -> float:
        """The decrement that rounding alone produces at the optimum (default 0)."""
        return 0.0

    def check_convergence(self, point, step: Step, change: float, tol: float) -> bool:
        """Step 4 before stepping from ``point``: :func:`is_converged` with the decrement of
        ``step``, and :meth:`decrement_noise` asked for only when it decides."""
        objective = self.objective(point)
        noise = 0.0
        if change < tol and step.decrement / (abs(objective) + 0.1) >= tol * tol:
            noise = self.decrement_noise(point, step)
        return is_converged(change, step.decrement, objective, tol, noise)

    def converged_after_step(self, move: Move, step: Step, change: float, tol: float) -> bool:
        """Step 4 after a step (scikit-learn's placement): default never."""
        return False

    def stops_before_step(self, step: Step, previous_converged: bool) -> bool:
        """Whether a converged point is returned without the step computed there."""
        return False

    def prepare_line_search(self, point, step: Step, converged: bool) -> None:
        """Called before each line search (default: nothing)."""

    def accepted(self, move: Move, step: Step, converged: bool) -> None:
        """Called after each accepted step (default: nothing)."""

    def no_step(self, point, step: Step, converged: bool) -> tuple[Any, bool, str]:
        """The line search failed: the point to return, whether converged, and why."""
        message = "converged" if converged else "step halving could not decrease the objective"
        return point, converged, message

    def finalize(self, outcome: Outcome) -> Outcome:
        """After the loop, before the :class:`ConvergenceWarning` (default: unchanged)."""
        return outcome


def newton_loop(problem: NewtonProblem, point, *, max_iter: int, tol: float, name: str) -> Outcome:
    """Run the Newton loop of ``problem`` from ``point``.

    Each iteration: (1-2) :meth:`~NewtonProblem.newton_step` -- gradient, factored Hessian
    and direction; (4) :meth:`~NewtonProblem.check_convergence` at the current point;
    (3) :meth:`~NewtonProblem.line_search` -- step halving; then the accepted step is
    recorded. A converged point still takes its step (unless
    :meth:`~NewtonProblem.stops_before_step`), so the returned coefficients are one step
    better than the test requires. ``name`` labels the log.
    """
    history: list[Iteration] = []
    change, converged, message = np.inf, False, f"stopped after max_iter={max_iter} iterations"
    n_iter = 0
    while n_iter < max_iter or problem.test_at_iteration_limit:
        previous_converged = converged
        step = problem.newton_step(point, change)
        if step is None:
            converged, message = False, "no Newton step is possible"
            break
        converged = problem.check_convergence(point, step, change, tol)
        if converged and problem.stops_before_step(step, previous_converged):
            message = "converged"
            break
        if n_iter >= max_iter:
            converged = False
            break
        n_iter += 1
        problem.prepare_line_search(point, step, converged)
        halvings = problem.final_halvings if converged else problem.max_halvings
        move = problem.line_search(point, step, halvings)
        if move is None:
            point, converged, message = problem.no_step(point, step, converged)
            break
        start, point = move.start, move.end
        change = relative_change(problem.objective(point), problem.objective(start))
        history.append(
            Iteration(
                n_iter, problem.reported_deviance(point), change, step.decrement, move.halvings
            )
        )
        log.info(
            "%s iteration %d: deviance %.12g, relative change %.3g, halvings %d",
            name,
            n_iter,
            problem.reported_deviance(point),
            change,
            move.halvings,
        )
        problem.accepted(move, step, converged)
        if not converged:
            converged = problem.converged_after_step(move, step, change, tol)
        if converged and problem.stop_after_converged_step:
            message = "converged"
            break
    return Outcome(point, tuple(history), converged, message, n_iter)


def solve(
    problem: NewtonProblem, point, *, max_iter: int, tol: float, name: str, warn: bool = True
) -> Outcome:
    """:func:`newton_loop`, :meth:`NewtonProblem.finalize`, and the :class:`ConvergenceWarning`
    (when ``warn``) of a loop that stopped before its criterion."""
    outcome = problem.finalize(newton_loop(problem, point, max_iter=max_iter, tol=tol, name=name))
    if warn and not outcome.converged:
        warn_not_converged(
            name, outcome.n_iter, outcome.message, outcome.history, tol, stacklevel=4
        )
    return outcome


# --------------------------------------------------------------------------------------------
# steps between informations: what the loops that reuse a factor share
# --------------------------------------------------------------------------------------------


def quasi_newton_direction(factor: GramFactor, pairs, gradient: np.ndarray) -> np.ndarray:
    """``H^-1 gradient`` for ``H`` the factored information with the BFGS updates ``pairs``.

    The two-loop recursion of L-BFGS with the factored information as the initial Hessian;
    without pairs, the Newton step of that information.
    """
    q, alphas = gradient.copy(), []
    for s, y, rho in reversed(pairs):
        alphas.append(rho * (s @ q))
        q -= alphas[-1] * y
    r = factor.solve(q)
    for (s, y, rho), alpha in zip(pairs, reversed(alphas), strict=True):
        r += (alpha - rho * (y @ r)) * s
    return r


def update_pairs(pairs: list, s: np.ndarray, y: np.ndarray) -> None:
    """Append the BFGS pair of a step ``s`` whose score fell by ``y`` (if it has curvature)."""
    sy = float(s @ y)
    if sy > 1e-10 * np.sqrt(float(s @ s) * float(y @ y)):
        pairs.append((s, y, 1.0 / sy))
        del pairs[:-BFGS_MEMORY]


def worth_refreshing(rate: float | None, remaining: float, cost: float) -> bool:
    """Whether the information at the next point pays for itself.

    ``remaining``: how many times the decrement must still shrink; ``rate``: how much the last
    step shrank it (None: unknown); ``cost``: an information pass in score-only passes. With
    the information, the following steps gain about :data:`NEWTON_DECADES` decades each;
    without, ``-log10(rate)``.
    """
    if rate is None:
        return False
    if rate >= 1.0:
        return True
    decades = np.log10(max(remaining, 10.0))
    return bool(cost + decades / NEWTON_DECADES < decades / -np.log10(rate))
