"""Steps between informations: when the IRLS loop forms ``X'WX``, and how it steps otherwise.

On a large design the passes that form ``X' W X`` are most of a fit's time (on 1e6 x 100,
one costs about four passes that compute only the gradient ``X' score``). Near the optimum
the information hardly changes from one point to the next -- its relative change over a
step is about the step's length in standard errors times ``1/sqrt(n)`` -- so an information
formed a step or two earlier, with BFGS updates from the gradients since
(:func:`glmspec.solvers.newton.quasi_newton_direction`), steers almost as well as a fresh one:
each such step shrinks the Newton decrement by the factor the information changed by
squared (measured: 1e-4 to 1e-5 per step on the benchmark's 5e5- and 1e6-row designs).

:class:`Steering` keeps that schedule for :class:`glmspec.solvers.irls.IRLSProblem`. The
information is formed at a point (an exact Newton step):

* while far from the optimum -- until a Newton step shrinks the decrement
  ``1/``:data:`NEWTON_RATE`-fold, and again after any halved step (Newton's method, as the
  plain loop);
* where the convergence test may pass: the relative deviance change is below ``tol`` and
  the steered decrement below :data:`TEST_MARGIN` times the test's threshold;
* when a steered step shrank the decrement too little to pay
  (:func:`glmspec.solvers.newton.worth_refreshing`), which includes a decrement stuck at its
  rounding floor.

The convergence test runs only at a point with its own information, so ``converged=True``
means what it means in the plain loop; the information at that point is the one the
standard errors use (unless the last step moved it by more than rounding; see
:class:`~glmspec.solvers.irls.IRLSProblem`).
"""

from __future__ import annotations

import numpy as np

from glmspec.linalg import GramFactor
from glmspec.solvers.engine import Point
from glmspec.solvers.newton import Step, quasi_newton_direction, update_pairs, worth_refreshing

#: Newton's method runs until one of its steps shrinks the decrement this much.
NEWTON_RATE = 1e-2
#: The information is formed for the test at a point whose steered decrement is below this
#: share of the test's threshold (the steered and the exact decrement differ by a few %).
TEST_MARGIN = 0.25
#: A step of decrement ``d`` from the converged point moves the information by about
#: ``sqrt(p d / deviance)`` relative; above ``STALE_DECREMENT`` (a 1e-8 change) the
#: standard errors need the information formed again at the returned coefficients.
STALE_DECREMENT = 1e-16


class Steering:
    """The information schedule of one IRLS fit over the row engine ``rows`` (see the module
    docstring); the loop asks :meth:`step` first and forms the information when it says None.
    """

    def __init__(self, rows, tol: float) -> None:
        self.rows, self.tol = rows, tol
        self.factor: GramFactor | None = None
        self.pairs: list = []  # BFGS pairs since the factor was formed
        self.gradient: np.ndarray | None = None  # at ``self.coef``, the last point stepped from
        self.coef: np.ndarray | None = None
        self.previous: float | None = None  # the decrement there
        self.newton = True  # far from the optimum: form the information at every point
        self.form_next = False  # form the information at the next point

    def step(self, point: Point, change: float) -> Step | None:
        """The step from ``point`` with the last information and the gradient here, or None
        when the information is to be formed at ``point`` instead."""
        factor = self.factor
        usable = factor is not None and factor.row_q is None and point.coef is not None
        if self.newton or self.form_next or not usable or not self.rows.steers:
            return None
        gradient = self.rows.gradient(point)
        if self.gradient is not None:
            update_pairs(self.pairs, point.coef - self.coef, self.gradient - gradient)
        delta = quasi_newton_direction(factor, self.pairs, gradient)
        decrement = float(gradient @ delta)
        scale = abs(point.deviance) + 0.1
        # The test point is one where the step taken from it leaves the information as it
        # is (to 1e-8): its information then gives the standard errors, formed once.
        target = min(self.tol * self.tol, STALE_DECREMENT / self.rows.n_columns) * scale
        if change < self.tol and decrement <= TEST_MARGIN * target:
            return None  # the test may pass here: it needs this point's information
        rate = None if self.previous is None else decrement / self.previous
        if not np.isfinite(decrement) or worth_refreshing(
            rate, decrement / target, self.rows.information_cost
        ):
            return None
        # the next point's decrement, if this step shrinks it as the last one did: when it
        # will pass, go straight to the information there (no gradient-only pass first)
        predicted = np.inf if rate is None else decrement * rate
        self.form_next = decrement < self.tol * scale and predicted <= TEST_MARGIN * target
        # an inherited information steers one step: formed at the next point, it then
        # steers many (its error, ~sqrt(p / m) for a subsample of m rows, does not shrink)
        self.form_next = self.form_next or factor.method == "subsample"
        self._remember(point, gradient, decrement)
        return Step(delta, decrement, exact=False)

    def inherit(self, factor: GramFactor) -> None:
        """Steer the first step with ``factor`` (a subsample's information, scaled to all
        the rows; method ``"subsample"``) instead of forming the information at the start."""
        self.factor, self.newton = factor, False

    def formed(self, point: Point, factor: GramFactor, gradient, decrement: float) -> None:
        """The information was formed at ``point``: Newton's step there had ``decrement``."""
        if self.newton and self.previous is not None and point.coef is not None:
            # Newton's quadratic phase: an information stays good for several steps
            self.newton = not decrement < NEWTON_RATE * self.previous
        self.factor, self.pairs, self.form_next = factor, [], False
        self._remember(point, gradient, decrement)

    def halved(self) -> None:
        """A step was halved: back to Newton's method until it converges quadratically."""
        self.newton, self.previous = True, None

    def _remember(self, point: Point, gradient, decrement: float) -> None:
        self.coef, self.gradient = point.coef, gradient
        self.previous = decrement if np.isfinite(decrement) else None
