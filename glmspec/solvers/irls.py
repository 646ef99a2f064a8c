"""Maximum-likelihood fitting of a GLM by IRLS (Fisher scoring), on arrays only.

The loop follows R's ``glm.fit``; it is :class:`IRLSProblem` run by the Newton loop that
every fit shares (:func:`glmspec.solvers.newton.newton_loop`), in its named steps:

1. :func:`glmspec.solvers.engine.working_quantities` -- IRLS weights
   ``w = prior * mu_eta^2 / V(mu)`` and the score factor at the current linear predictor;
2. a Newton (Fisher-scoring) step ``delta = (X'WX)^{-1} X' (prior * score)``, factorised by
   :func:`glmspec.linalg.factorize` (Cholesky, or QR when ill-conditioned);
3. :meth:`IRLSProblem.line_search` -- step halving while the linear predictor leaves the
   link's domain, the mean leaves the family's, or the deviance rises;
4. :func:`glmspec.solvers.newton.is_converged` -- the relative change of the deviance is below
   ``tol`` (R's criterion, relative to ``|deviance| + 0.1``) *and* the gradient is
   negligible: the Newton decrement ``g' (X'WX)^{-1} g`` (the predicted further decrease of
   the deviance, and a bound on the squared step in standard-error units) is below
   ``tol**2`` on the same scale. ``converged=True`` means exactly that. The step computed at
   the converged point is still taken (and recorded in the history), so the returned
   coefficients are one Newton step better than the test requires.

Three shortcuts for large designs leave the criterion and the information at the
estimates unchanged, so the estimates are the same to rounding:

* from at least :data:`SUBSAMPLE_MIN_CELLS` rows x columns, the loop starts from the estimates
  on a fixed random subsample of the rows (:func:`_subsample_start`);
* from :data:`glmspec.solvers.engine.SINGLE_MIN_CELLS`, while the relative deviance change is still
  above ``tol`` (so the criterion cannot hold yet), ``X'WX`` is multiplied in single precision
  (:func:`_expected_factor`): it only steers the step there. A non-canonical link's observed
  information is multiplied in single precision at the converging step too (unless refused
  for its condition number, :func:`_newton_factor`): the standard errors never use it (they
  use the expected information at the estimates, formed in double precision), and a decrement
  accurate to about 1e-3 relative decides the test as an exact one does.
* from :data:`glmspec.solvers.engine.STEER_MIN_CELLS`, ``X'WX`` is formed only where it pays
  (:mod:`glmspec.solvers.steering`): other steps take the gradient on all the rows and the
  last information with BFGS updates; the test runs only where the information was formed.

The solver knows nothing of formulas, pandas or reports: arrays in, a frozen :class:`FitRecord`
out, with the whole iteration history. The loop itself, :func:`irls`, gets every sum over rows
from a row engine (:mod:`glmspec.solvers.engine`), so the same loop runs on Dask partitions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glmspec.design.matrix import as_design
from glmspec.errors import FitError, SingularDesignError
from glmspec.families import Family
from glmspec.linalg import GramFactor, factor_gram
from glmspec.solvers.engine import InMemoryRows, Point
from glmspec.solvers.newton import (
    MAX_HALVINGS,
    FitRecord,
    Move,
    NewtonProblem,
    Outcome,
    Step,
    solve,
)
from glmspec.solvers.steering import STALE_DECREMENT, Steering

_SINGLE_RCOND_MIN = 1e-4

#: Fits of at least this many cells (rows x columns) start from a subsample's estimates.
SUBSAMPLE_MIN_CELLS = 2_000_000
_SUBSAMPLE_FRACTION = 50  # the subsample is 1/50 of the rows ...
_SUBSAMPLE_ROWS_PER_COLUMN = 50  # ... and at least 50 rows per column
_SUBSAMPLE_MAX_ITER = 25
#: The subsample's estimates are ~sqrt(n / m) standard errors from the optimum (a decrement
#: of about p n / m on the full rows); its fit stops at a decrement 1e-6 of its deviance,
#: ~1e-6 n p / m of the full rows' scale at most -- far below that distance.
_SUBSAMPLE_TOL = 1e-3


def _newton_factor(rows, family: Family, point: Point, rough: bool = False, near: bool = False):
    """Factor of the observed information when positive definite, else of the expected one.

    Returns the factor, whether it is the observed information, the gradient ``X' score``
    (computed in the same pass over the design as the information) and whether the factor
    is single precision (see :func:`_expected_factor`). Newton steps with the observed
    information converge quadratically for non-canonical links, where Fisher scoring
    converges only linearly. ``near``: the convergence test may pass at this point (the
    relative deviance change is below ``tol``); a single-precision observed information
    refused there is formed again in double precision, and the expected information that
    replaces an indefinite one is double precision.
    """
    if not family.is_canonical:
        gram, gradient = rows.system(point, "observed", rough)
        observed = factor_gram(gram, _SINGLE_RCOND_MIN) if rough else factor_gram(gram)
        if observed is None and rough and near:
            gram, gradient = rows.system(point, "observed")
            observed, rough = factor_gram(gram), False
        if observed is not None:
            return observed, True, gradient, rough
    factor, gradient, rough = _expected_factor(rows, point, "fisher", rough and not near)
    return factor, False, gradient, rough


def _expected_factor(rows, point: Point, kind: str, rough: bool):
    """Factor of the expected information at ``point`` (``kind`` "fisher", or "working" for
    the first step, from the starting means), its system's right-hand side, and whether the
    factor is single precision.

    ``rough`` (the convergence test cannot pass at this point, so only the step needs the
    information) computes ``X'WX`` in single precision (:func:`glmspec.linalg.gram_and_product`);
    its factor is kept only when its reciprocal condition number is above
    ``_SINGLE_RCOND_MIN``, so that rounding errors of about 1e-7 change the step by less
    than 1e-3 relative and the iterations converge as before. Otherwise the information is
    computed again in double precision.
    """
    if rough:
        gram, rhs = rows.system(point, kind, True)
        factor = factor_gram(gram, _SINGLE_RCOND_MIN)
        if factor is not None:
            return factor, rhs, True
    gram, rhs = rows.system(point, kind)
    return rows.factorize(gram, point), rhs, False


def fit_irls(
    y: np.ndarray,
    X: np.ndarray,
    family: Family,
    *,
    prior_weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-8,
    start: np.ndarray | None = None,
    column_names: Sequence[str] | None = None,
) -> FitRecord:
    """Fit a GLM by iteratively reweighted least squares.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Response (for the binomial: the proportion of successes).
    X : ndarray of shape (n, p)
        Design matrix of full column rank.
    family : Family
        Distribution with its link.
    prior_weights : ndarray of shape (n,), optional
        R's prior weights (binomial: times the number of trials). Default ones.
    offset : ndarray of shape (n,), optional
        Added to the linear predictor. Default zeros.
    max_iter : int
        Maximum number of IRLS iterations.
    tol : float
        Convergence tolerance on the relative deviance change and the Newton decrement.
    start : ndarray of shape (p,), optional
        Starting coefficients; default starts from the family's starting means, as R.
    column_names : sequence of str, optional
        Used only to name aliased columns in a :class:`SingularDesignError`.

    Returns
    -------
    FitRecord

    Raises
    ------
    SingularDesignError
        The weighted design is rank deficient.
    FitError
        No valid coefficients could be found from the starting values.
    """
    n = X.shape[0]
    prior = np.ones(n) if prior_weights is None else np.asarray(prior_weights, dtype=float)
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    y = np.asarray(y, dtype=float)
    rows = InMemoryRows(y, X, family, prior, offset, column_names)
    warm = None if start is not None else _subsample_start(y, X, family, prior, offset, tol)
    if warm is not None:
        coef, information = warm
        try:
            record = irls(
                rows, family, max_iter=max_iter, tol=tol, start=coef, warn=False,
                information=information,
            )  # fmt: skip
        except FitError:
            record = None
        if record is not None and record.converged:
            return record
        # a subsample unlike the data (rare events, say) can start far off: start as R does
    return irls(rows, family, max_iter=max_iter, tol=tol, start=start)


def _subsample_start(y, X, family: Family, prior, offset, tol: float):
    """Estimates on a fixed random subsample of the rows, to start the full fit from.

    From the family's starting means, IRLS spends its first passes over the rows getting
    near the optimum. The estimates on ``m`` of the ``n`` rows are within about
    ``sqrt(n / m)`` standard errors of it, where Newton's method converges quadratically;
    on 1e6 x 100 designs that saves one or two products ``X'WX`` for the price of a fit on
    2% of the rows. The subsample is drawn with a fixed seed, so fits are reproducible.

    Returns the estimates and the subsample's information there, scaled to all the rows (for
    :mod:`glmspec.solvers.steering`), or None (start from the means) when it does not pay: a
    design of fewer than :data:`SUBSAMPLE_MIN_CELLS` cells, the Gaussian identity (whose first
    step is exact), a subsample on which a column is zero, or a subsample fit that fails or
    does not converge.
    """
    n, p = X.shape
    m = max(_SUBSAMPLE_ROWS_PER_COLUMN * p, n // _SUBSAMPLE_FRACTION)
    exact_first_step = family.exact_in_one_step
    small = n * p < SUBSAMPLE_MIN_CELLS or n < 10 * m
    if small or exact_first_step:
        return None
    picked = np.sort(np.random.default_rng(0).choice(n, size=m, replace=False))
    design = as_design(X).take(picked)
    if not np.all(design.squares_rmatvec(prior[picked]) > 0):
        return None  # a column (a rare level, say) is zero on the subsample: aliased there
    sample = InMemoryRows(y[picked], design, family, prior[picked], offset[picked])
    try:
        record = irls(
            sample,
            family,
            max_iter=_SUBSAMPLE_MAX_ITER,
            tol=max(tol, _SUBSAMPLE_TOL),
            warn=False,
            name="subsample IRLS",
        )
    except (FitError, SingularDesignError):
        return None
    if not record.converged:
        return None
    # its information at the estimates, scaled to all the rows: steers the first steps
    ratio = float(np.sum(prior)) / float(np.sum(prior[picked]))
    factor = record.factor
    return record.coef, GramFactor(factor.r * np.sqrt(ratio), "subsample")


class IRLSProblem(NewtonProblem):
    """IRLS over a row engine (:class:`glmspec.solvers.engine.InMemoryRows` or one with the
    same methods) as a :class:`~glmspec.solvers.newton.NewtonProblem`: the points are the
    engine's :class:`~glmspec.solvers.engine.Point`, the objective the deviance.

    The first step, from the family's starting means (``coef`` None), regresses the working
    response as ``glm.fit`` does; later steps use the observed information when positive
    definite (:func:`_newton_factor`). The line search accepts a rise within the deviance's
    rounding floor when the step's decrement is below it too, and the convergence test
    allows for the decrement's rounding noise (:func:`glmspec.solvers.engine.decrement_noise`).
    """

    def __init__(self, rows, family: Family, tol: float) -> None:
        self.rows, self.family, self.tol = rows, family, tol
        self.factor = None
        self.observed = self.stale = self.rough = False
        self.here = False  # self.factor is the information at the last point stepped from
        self.steering = Steering(rows, tol)
        self.fallback: Step | None = None  # the Newton step that replaced a failed steered one
        # the last step changed the deviance by no more than its rounding floor
        self.flat = False
        self._floor: tuple[Point, float] | None = None
        self._stranded: Point | None = None  # the intercept-only point whose step failed too

    def newton_step(self, point: Point, change: float) -> Step:
        self.fallback = None
        steered = self.steering.step(point, change)
        if steered is not None:
            self.here = False
            return steered
        return self._exact_step(point, change)

    def _exact_step(self, point: Point, change: float) -> Step:
        """The Newton step with the information formed at ``point``."""
        rows = self.rows
        # the criterion needs change < tol: until then the information only steers; the
        # observed information (non-canonical links) always only steers: the standard errors
        # use the expected information, formed at the estimates in double precision
        near = change < self.tol
        rough = (not near or not self.family.is_canonical) and rows.single_precision
        self.here = True
        if point.coef is None:
            # First step from starting means: regress the working response, as glm.fit does.
            factor, product, self.rough = _expected_factor(rows, point, "working", rough)
            self.factor = factor
            self.steering.formed(point, factor, None, np.inf)
            return Step(rows.solve(factor, point, "working", product), np.inf)
        factor, self.observed, gradient, self.rough = _newton_factor(
            rows, self.family, point, rough, near
        )
        self.factor = factor
        delta = rows.solve(factor, point, "fisher", gradient)
        step = Step(delta, float(gradient @ delta))
        self.steering.formed(point, factor, gradient, step.decrement)
        return step

    def trial(self, point: Point, coef: np.ndarray, halvings: int) -> Point | None:
        return self.rows.evaluate(coef)

    def accepts(self, point: Point, candidate: Point) -> bool:
        # from the starting means any valid point will do: they have no coefficients
        return point.coef is None or super().accepts(point, candidate)

    def halves_invalid(self, point: Point) -> bool:
        return point.coef is not None

    def within_rounding(self, point: Point, candidate: Point, decrement: float) -> bool:
        # A rise within the deviance's rounding floor is no rise: counts of 1e9 and more make
        # it ~1e-9 relative, more than a step near the optimum can lower it, so halving would
        # shrink the (accurate) Newton step to nothing. Accepted when the step's predicted
        # decrease is below the floor too: the Newton step (accurate gradient) is trusted.
        if not np.isfinite(decrement):
            return False
        if self._floor is None or self._floor[0] is not point:
            rows = self.rows
            floor = rows.deviance_floor(point) if hasattr(rows, "deviance_floor") else 0.0
            self._floor = (point, floor)
        floor = self._floor[1]
        return candidate.deviance - point.deviance <= floor and decrement <= floor

    def line_search(self, point: Point, step: Step, max_halvings: int) -> Move | None:
        move = super().line_search(point, step, max_halvings)
        if move is None and not step.exact:
            # the steered step failed: Newton's step from here (what no_step then judges)
            self.steering.halved()
            self.fallback = step = self._exact_step(point, 0.0)
            move = super().line_search(point, step, max_halvings)
        if move is None and point.coef is None:
            # R gives up here; instead walk from the intercept-only fit towards the first step.
            fallback = self.rows.intercept_start()
            if fallback is not None:
                towards = Step(step.delta - fallback.coef, step.decrement)
                move = super().line_search(fallback, towards, MAX_HALVINGS)
                self._stranded = fallback if move is None else None
        return move

    def decrement_noise(self, point: Point, step: Step) -> float:
        return self.rows.noise(point, self.factor)

    def check_convergence(self, point: Point, step: Step, change: float, tol: float) -> bool:
        # a change within the rounding floor is no measurable change (means of 1e174)
        change = 0.0 if self.flat else change
        exact = step.exact and point.coef is not None  # a steered step's decrement is not
        return exact and super().check_convergence(point, step, change, tol)

    def accepted(self, move: Move, step: Step, converged: bool) -> None:
        self.flat = move.within_rounding
        if move.halvings:
            self.steering.halved()
        if converged:
            # The step moves the information by about sqrt(p * decrement / deviance)
            # relative; refactor it at the returned coefficients when that exceeds 1e-8.
            scale = abs(move.start.deviance) + 0.1
            self.stale = step.decrement * self.rows.n_columns > STALE_DECREMENT * scale

    def no_step(self, point: Point, step: Step, converged: bool) -> tuple[Point, bool, str]:
        step = self.fallback or step
        if converged:
            return point, True, "converged"
        if point.coef is None and self._stranded is not None:
            point = self._stranded
        if point.coef is None:
            raise FitError(
                "no valid coefficients were found from the starting values (the linear "
                f"predictor left the {self.family.link.name} link's domain); give start=."
            )
        if step.decrement <= self.rows.noise(point, self.factor):
            # the gradient is zero up to rounding: we are at the optimum. The deviance
            # cannot see a step this small, but the gradient can: take it (it is the
            # quadratic remainder of the last Newton step, 2e-5 standard errors at
            # condition numbers of 1e10, not noise), with the information at its end.
            final = self.rows.evaluate(point.coef + step.delta)
            if final is not None:
                point, self.stale = final, True
            return point, True, "converged (the remaining step is rounding noise)"
        message = (
            "step halving could not decrease the deviance; the maximum may lie on the "
            "boundary of the valid region (a fitted mean at the edge of the family's range)"
        )
        return point, False, message

    def record(self, outcome: Outcome) -> FitRecord:
        """The :class:`FitRecord` of the loop's ``outcome``."""
        point, rows, factor = outcome.point, self.rows, self.factor
        if self.observed or self.stale or self.rough or not self.here:
            # Standard errors use the expected information at the returned coefficients, as
            # R's summary.glm and statsmodels, in double precision.
            factor = rows.factorize(rows.system(point, "fisher")[0], point)
        eta, mu, weights = rows.row_arrays(point)
        return FitRecord(
            coef=point.coef,
            eta=eta,
            mu=mu,
            deviance=float(point.deviance),
            factor=factor.without_rows(),
            working_weights=weights,
            converged=outcome.converged,
            n_iter=outcome.n_iter,
            history=outcome.history,
            message=outcome.message,
        )


def irls(
    rows,
    family: Family,
    *,
    max_iter: int = 100,
    tol: float = 1e-8,
    start=None,
    warn: bool = True,
    information: GramFactor | None = None,
    name: str = "IRLS",
) -> FitRecord:
    """The IRLS/Newton loop of :func:`fit_irls` over any row engine (see
    :class:`glmspec.solvers.engine.InMemoryRows`): :class:`IRLSProblem` run by
    :func:`glmspec.solvers.newton.solve`.

    Parameters
    ----------
    rows : InMemoryRows or an engine with the same methods
    family : Family
    max_iter, tol, start
        As :func:`fit_irls`.
    warn : bool
        Issue a :class:`ConvergenceWarning` when the criterion is not met.
    information : GramFactor, optional
        An approximation of the information at ``start`` (a subsample's, scaled to all the
        rows) that steers the first steps of an engine that ``steers``
        (:mod:`glmspec.solvers.steering`); it never enters the test or the record.
    name : str
        The loop's name in the log and the warning.

    Returns
    -------
    FitRecord
        ``eta``, ``mu`` and ``working_weights`` are None when the engine keeps no rows in
        memory.
    """
    if start is not None:
        point = rows.evaluate(np.asarray(start, dtype=float))
        if point is None:
            raise FitError("the starting coefficients give an invalid linear predictor or mean.")
    else:
        point = rows.start()
    problem = IRLSProblem(rows, family, tol)
    if information is not None and start is not None:
        problem.steering.inherit(information)
    outcome = solve(problem, point, max_iter=max_iter, tol=tol, name=name, warn=warn)
    return problem.record(outcome)
