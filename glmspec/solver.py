"""Maximum-likelihood fitting of a GLM by IRLS (Fisher scoring), on arrays only.

The loop follows R's ``glm.fit``, in named steps:

1. :func:`working_quantities` -- IRLS weights ``w = prior * mu_eta^2 / V(mu)`` and the score
   factor at the current linear predictor;
2. a Newton (Fisher-scoring) step ``delta = (X'WX)^{-1} X' (prior * score)``, factorised by
   :func:`glmspec.linalg.factorize` (Cholesky, or QR when ill-conditioned);
3. :func:`_line_search` -- step halving while the linear predictor leaves the link's domain, the
   mean leaves the family's, or the deviance rises;
4. :func:`_converged` -- the relative change of the deviance is below ``tol`` (R's criterion,
   relative to ``|deviance| + 0.1``) *and* the gradient is negligible: the Newton decrement
   ``g' (X'WX)^{-1} g`` (the predicted further decrease of the deviance, and a bound on the
   squared step in standard-error units) is below ``tol**2`` on the same scale.
   ``converged=True`` means exactly that. The step computed at the converged point is still
   taken, so the returned coefficients are one Newton step better than the test requires.

The solver knows nothing of formulas, pandas or reports: arrays in, a frozen :class:`FitRecord`
out, with the whole iteration history.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glmspec.catmatrix import constant_columns
from glmspec.errors import ConvergenceWarning, FitError
from glmspec.families import Family
from glmspec.linalg import (
    GramFactor,
    abs_matvec,
    factor_gram,
    factorize,
    gram_and_product,
    squares_matvec,
)

MAX_HALVINGS = 30
_EPS = np.finfo(float).eps
_STALE_DECREMENT = 1e-16

log = logging.getLogger("glmspec.solver")


@dataclass(frozen=True)
class Iteration:
    """One accepted IRLS step."""

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
        Number of IRLS iterations (factorisations of ``X'WX``).
    history : tuple of Iteration
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


def working_quantities(
    family: Family, y: np.ndarray, mu: np.ndarray, eta: np.ndarray, prior: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return IRLS (expected-information) weights and the per-row score.

    The weights are ``prior * mu_eta^2 / V(mu)`` and the score
    ``prior * (y - mu) * mu_eta / V(mu)``, so that the gradient of the log-likelihood (at
    dispersion 1) is ``X' score`` and the Fisher information ``X' diag(weights) X``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mu_eta = family.link.mu_eta(eta)
        # mu_eta * (mu_eta / V) rather than mu_eta**2 / V: no overflow for means near 1e308
        ratio = mu_eta / family.variance(mu)
        weights = prior * (mu_eta * ratio)
        score = prior * (y - mu) * ratio
    if not prior.all():
        # rows with zero prior weight take no part, even where their mean overflowed
        weights[prior == 0] = 0.0
        score[prior == 0] = 0.0
    return weights, score


def observed_weights(
    family: Family,
    y: np.ndarray,
    mu: np.ndarray,
    eta: np.ndarray,
    fisher: np.ndarray,
    prior: np.ndarray,
) -> np.ndarray:
    """Weights of the observed information ``-d^2 llf / d beta^2 = X' diag(w) X``.

    ``w = fisher - prior * (y - mu) * d/deta[mu_eta / V(mu)]``; the correction vanishes for
    canonical links. The weights can be negative far from the optimum.
    """
    mu_eta = family.link.mu_eta(eta)
    variance = family.variance(mu)
    slope = family.link.mu_eta_deriv(eta) / variance - mu_eta * mu_eta * family.variance_deriv(
        mu
    ) / (variance * variance)
    return fisher - prior * (y - mu) * slope


def _evaluate(family, y, X, coef, offset, prior):
    """Linear predictor, mean and deviance at ``coef``; None when outside the valid range."""
    with np.errstate(all="ignore"):
        eta = X @ coef + offset
        mu = family.link.inverse(eta)
    state = evaluate_rows(family, y, eta, mu, prior)
    return None if state is None else (eta, mu, state)


def evaluate_rows(family, y, eta, mu, prior) -> float | None:
    """Deviance of rows with linear predictor ``eta`` and mean ``mu``; None when invalid."""
    # rows with zero prior weight do not count, whatever their linear predictor (R drops them)
    used = slice(None) if prior.all() else prior > 0
    if not family.link.valid_eta(eta[used]):
        return None
    with np.errstate(all="ignore"):
        if not family.valid_mu(mu[used]):
            return None
        deviance = family.deviance(y[used], mu[used], prior[used])
    return float(deviance) if np.isfinite(deviance) else None


@dataclass(frozen=True, eq=False)
class Point:
    """The fit at one coefficient vector, as the IRLS loop sees it.

    ``coef`` is None at the family's starting means (before the first step). ``rows`` is the
    engine's own state at this point: ``(eta, mu)`` arrays in memory, partial sums for an
    engine whose rows live elsewhere.
    """

    coef: np.ndarray | None
    deviance: float
    rows: Any = None


class InMemoryRows:
    """The IRLS loop's engine for rows held as arrays: every sum is computed directly.

    An engine provides the loop with sums over rows and nothing else, so the same loop runs
    on rows that live elsewhere (:mod:`glmspec.distributed` computes the same sums partition
    by partition). Its methods:

    * ``n_columns``;
    * ``start()`` -- the :class:`Point` at the family's starting means;
    * ``evaluate(coef)`` -- the :class:`Point` at ``coef``, None when the linear predictor or
      mean leaves the valid range or the deviance is not finite;
    * ``system(point, kind)`` -- ``(X' W X, X' v)`` with the expected (``"fisher"``) or
      observed (``"observed"``) information's weights and the score ``v``, or (``"working"``)
      the Fisher weights and ``v = W z`` for the working response ``z`` (first step);
    * ``factorize(gram, point)`` -- a :class:`GramFactor` of the Fisher information, raising
      :class:`~glmspec.errors.SingularDesignError` for an aliased design;
    * ``noise(point, factor)`` -- see :func:`decrement_noise`;
    * ``intercept_start()`` -- the intercept-only point, or None without an intercept column;
    * ``row_arrays(point)`` -- ``(eta, mu, working_weights)`` for the record (None each when
      the rows are not in memory).
    """

    def __init__(self, y, X, family, prior, offset, column_names=None) -> None:
        self.y, self.X, self.family = y, X, family
        self.prior, self.offset, self.column_names = prior, offset, column_names
        self.n_columns = X.shape[1]
        self._cached: tuple[Point, tuple[np.ndarray, np.ndarray]] | None = None

    def start(self) -> Point:
        family, y, prior = self.family, self.y, self.prior
        mu = family.starting_mu(y, prior)
        eta = family.link.link(mu)
        with np.errstate(all="ignore"):
            deviance = family.deviance(y, mu, prior)
        return Point(None, float(deviance), (eta, mu))

    def evaluate(self, coef: np.ndarray) -> Point | None:
        state = _evaluate(self.family, self.y, self.X, coef, self.offset, self.prior)
        return None if state is None else Point(coef, state[2], state[:2])

    def _working(self, point: Point) -> tuple[np.ndarray, np.ndarray]:
        # the loop asks for several sums at one point: compute its weights once
        if self._cached is None or self._cached[0] is not point:
            eta, mu = point.rows
            self._cached = (point, working_quantities(self.family, self.y, mu, eta, self.prior))
        return self._cached[1]

    def system(self, point: Point, kind: str) -> tuple[np.ndarray, np.ndarray]:
        eta, mu = point.rows
        weights, score = self._working(point)
        if kind == "working":
            working = eta - self.offset + score / np.where(weights > 0, weights, 1.0)
            return gram_and_product(self.X, weights, weights * working)
        if kind == "observed":
            weights = observed_weights(self.family, self.y, mu, eta, weights, self.prior)
        return gram_and_product(self.X, weights, score)

    def factorize(self, gram: np.ndarray, point: Point) -> GramFactor:
        factor = factor_gram(gram)
        if factor is not None:
            return factor
        return factorize(self.X, self._working(point)[0], self.column_names, gram=gram)

    def noise(self, point: Point, factor: GramFactor) -> float:
        eta, mu = point.rows
        parts = noise_parts(self.family, self.X, self.y, mu, eta, point.coef, self.prior)
        return noise_from_parts([parts], factor)

    def intercept_start(self) -> Point | None:
        ones = constant_columns(self.X)
        if not ones:
            return None
        coef = np.zeros(self.n_columns)
        with np.errstate(all="ignore"):
            coef[ones[0]] = self.family.link.link(np.average(self.y, weights=self.prior))
        return self.evaluate(coef)

    def row_arrays(self, point: Point):
        eta, mu = point.rows
        return eta, mu, self._working(point)[0]


def _line_search(rows, point: Point, delta: np.ndarray) -> tuple[Point, int] | None:
    """Halve ``delta`` until the new point is valid and (from a ``point`` with coefficients)
    its deviance does not rise."""
    base = np.zeros_like(delta) if point.coef is None else point.coef
    for halvings in range(MAX_HALVINGS + 1):
        candidate = rows.evaluate(base + delta)
        if candidate is not None:
            deviance_old = point.deviance
            rises = point.coef is not None and (
                candidate.deviance > deviance_old + 1e-12 * abs(deviance_old)
            )
            if not rises:
                return candidate, halvings
        if point.coef is None and candidate is None:
            break
        delta = 0.5 * delta
    return None


def _newton_factor(rows, family: Family, point: Point):
    """Factor of the observed information when positive definite, else of the expected one.

    Returns the factor, whether it is the observed information, and the gradient ``X' score``
    (computed in the same pass over the design as the information). Newton steps with the
    observed information converge quadratically for non-canonical links, where Fisher
    scoring converges only linearly.
    """
    if not family.is_canonical:
        gram, gradient = rows.system(point, "observed")
        observed = factor_gram(gram)
        if observed is not None:
            return observed, True, gradient
    gram, gradient = rows.system(point, "fisher")
    return rows.factorize(gram, point), False, gradient


def warn_not_converged(
    solver: str, iteration: int, message: str, history: Sequence[Iteration], tol: float
) -> None:
    """The :class:`ConvergenceWarning` of a solver that stopped before its criterion."""
    last = history[-1].relative_change if history else float("nan")
    warnings.warn(
        f"{solver} did not converge after {iteration} iterations ({message}); last relative "
        f"deviance change {last:.3g}, tolerance {tol:g}. Estimates are not reliable.",
        ConvergenceWarning,
        stacklevel=3,
    )


def _converged(
    relative_change: float, decrement: float, deviance: float, tol: float, noise: float = 0.0
) -> bool:
    # The decrement bounds the squared size of the step in standard-error units, so tol**2
    # makes coefficients accurate to about tol standard errors, not sqrt(tol). ``noise`` is
    # the decrement that rounding errors alone produce at the optimum.
    scale = abs(deviance) + 0.1
    return relative_change < tol and (decrement / scale < tol * tol or decrement <= noise)


def decrement_noise(family, X, y, mu, eta, coef, prior, factor: GramFactor) -> float:
    """The Newton decrement that rounding errors in the gradient produce at the optimum.

    Each row's score ``prior * (y - mu) * mu_eta / V`` carries an error from rounding ``y - mu``
    (about ``eps * (|y| + |mu|)``) and from the linear predictor itself, whose error
    ``eps * |x_i| . |coef|`` is large when nearly collinear columns cancel; it moves the score
    by the IRLS weight times that error. Taken as independent across rows, these give the
    gradient an error of variance ``(X * X)' row_error**2`` per coefficient and the decrement an
    expected floor ``sum_j var_j [(X'WX)^{-1}]_jj``; the factor 10 (about three standard
    deviations) makes it a floor that rounding alone seldom exceeds. For ill-conditioned
    designs (condition numbers of 1e8 and beyond) it exceeds the ``tol**2`` test, which
    rounding could then never pass.
    """
    return noise_from_parts([noise_parts(family, X, y, mu, eta, coef, prior)], factor)


def noise_parts(family, X, y, mu, eta, coef, prior) -> tuple[float, np.ndarray | None]:
    """One block of rows' share of :func:`decrement_noise`: ``(top, (X * X)' (e / top)**2)``.

    ``e`` is each row's score error and ``top`` its largest value (scaling keeps squares of
    huge means, 1e174, from overflowing); blocks combine in :func:`noise_from_parts`.
    """
    mu_eta = np.abs(family.link.mu_eta(eta))
    variance = family.variance(mu)
    eta_error = _EPS * (abs_matvec(X, np.abs(coef)) + np.abs(eta))
    row_error = prior * mu_eta / variance * (_EPS * (np.abs(y) + np.abs(mu)) + mu_eta * eta_error)
    top = float(np.max(row_error)) if row_error.size else 0.0
    if not np.isfinite(top) or top == 0.0:
        return top, None
    return top, squares_matvec(X, (row_error / top) ** 2)


def noise_from_parts(parts: Sequence[tuple[float, np.ndarray | None]], factor) -> float:
    """:func:`decrement_noise` from the blocks' :func:`noise_parts`."""
    top = max((t for t, _ in parts), default=0.0)
    if not np.isfinite(top) or top == 0.0:
        return 0.0 if top == 0.0 else float("inf")
    gradient_variance = sum((t / top) ** 2 * v for t, v in parts if v is not None)
    return 10.0 * top * (top * float(np.sum(gradient_variance * factor.inverse_diagonal())))


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
    rows = InMemoryRows(np.asarray(y, dtype=float), X, family, prior, offset, column_names)
    return irls(rows, family, max_iter=max_iter, tol=tol, start=start)


def irls(rows, family: Family, *, max_iter: int = 100, tol: float = 1e-8, start=None) -> FitRecord:
    """The IRLS/Newton loop of :func:`fit_irls` over any row engine (see :class:`InMemoryRows`).

    Parameters
    ----------
    rows : InMemoryRows or an engine with the same methods
    family : Family
    max_iter, tol, start
        As :func:`fit_irls`.

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

    history: list[Iteration] = []
    relative_change = np.inf
    converged = False
    message = f"stopped after max_iter={max_iter} iterations"
    factor = None
    observed = stale = False
    for iteration in range(1, max_iter + 1):
        if point.coef is None:
            # First step from starting means: regress the working response, as glm.fit does.
            gram, product = rows.system(point, "working")
            factor = rows.factorize(gram, point)
            delta = factor.solve(product)
            decrement = np.inf
        else:
            factor, observed, gradient = _newton_factor(rows, family, point)
            delta = factor.solve(gradient)
            decrement = float(gradient @ delta)
            noise = 0.0
            if relative_change < tol and decrement / (abs(point.deviance) + 0.1) >= tol * tol:
                noise = rows.noise(point, factor)
            if _converged(relative_change, decrement, point.deviance, tol, noise):
                converged = True
                message = "converged"
                final = _line_search(rows, point, delta)
                if final is not None:
                    # The step moves the information by about sqrt(p * decrement / deviance)
                    # relative; refactor it at the returned coefficients when that exceeds 1e-8.
                    scale = abs(point.deviance) + 0.1
                    stale = decrement * rows.n_columns > _STALE_DECREMENT * scale
                    point = final[0]
                break
        step = _line_search(rows, point, delta)
        if step is None and point.coef is None:
            # R gives up here; instead walk from the intercept-only fit towards the first step.
            fallback = rows.intercept_start()
            if fallback is not None:
                point = fallback
                step = _line_search(rows, point, delta - point.coef)
        if step is None:
            if point.coef is None:
                raise FitError(
                    "no valid coefficients were found from the starting values (the linear "
                    f"predictor left the {family.link.name} link's domain); give start=."
                )
            if decrement <= rows.noise(point, factor):
                # the gradient is zero up to rounding: the step is noise, we are at the optimum
                converged, message = True, "converged (the remaining step is rounding noise)"
            else:
                message = (
                    "step halving could not decrease the deviance; the maximum may lie on the "
                    "boundary of the valid region (a fitted mean at the edge of the family's range)"
                )
            break
        new_point, halvings = step
        relative_change = abs(new_point.deviance - point.deviance) / (abs(new_point.deviance) + 0.1)
        point = new_point
        history.append(Iteration(iteration, point.deviance, relative_change, decrement, halvings))
        log.info(
            "IRLS iteration %d: deviance %.12g, relative change %.3g, halvings %d",
            iteration,
            point.deviance,
            relative_change,
            halvings,
        )
    else:
        iteration = max_iter

    if observed or stale:
        # Standard errors use the expected information at the returned coefficients, as R's
        # summary.glm and statsmodels.
        factor = rows.factorize(rows.system(point, "fisher")[0], point)
    if not converged:
        warn_not_converged("IRLS", iteration, message, history, tol)
    eta, mu, weights = rows.row_arrays(point)
    return FitRecord(
        coef=point.coef,
        eta=eta,
        mu=mu,
        deviance=float(point.deviance),
        factor=factor,
        working_weights=weights,
        converged=converged,
        n_iter=iteration,
        history=tuple(history),
        message=message,
    )
