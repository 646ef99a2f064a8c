"""The rows' side of IRLS: per-row quantities and the in-memory row engine.

:func:`glmspec.solvers.irls.irls` never touches rows; it asks an engine for sums over them. This
module has what those sums are made of -- the IRLS weights and score
(:func:`working_quantities`), the observed-information weights (:func:`observed_weights`), the
deviance of a linear predictor (:func:`evaluate_rows`) and the rounding floor of the Newton
decrement (:func:`noise_parts`, :func:`noise_from_parts`) -- and :class:`InMemoryRows`, the
engine for rows held as arrays. :mod:`glmspec.distributed.engine` computes the same sums
partition by partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glmspec.design.matrix import as_design
from glmspec.families import Family
from glmspec.linalg import GramFactor, factor_gram, factorize, map_row_chunks

_EPS = np.finfo(float).eps
#: Designs of at least this many cells may take single-precision steps far from the optimum;
#: below it the products are too quick for the saving to show.
SINGLE_MIN_CELLS = 1_000_000
#: Designs of at least this many cells steer between informations with gradient-only passes
#: (:class:`glmspec.solvers.irls.IRLSProblem`); below it a pass is too quick for the saving
#: to beat the extra iterations.
STEER_MIN_CELLS = 1_000_000
#: Rows per block of the per-row work (link, deviance, weights), 256 KiB per array;
#: blocks are grouped into chunks on a worker per core. Only this size was measured.
ROW_BLOCK = 1 << 15


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


def evaluate_at(family, y, X, coef, offset, prior):
    """Linear predictor, mean and deviance at ``coef``; None when outside the valid range."""
    with np.errstate(all="ignore"):
        eta = as_design(X).matvec(coef) + offset
        mu = family.link.inverse(eta)
    state = evaluate_rows(family, y, eta, mu, prior)
    return None if state is None else (eta, mu, state)


def evaluate_rows(family, y, eta, mu, prior) -> float | None:
    """Deviance of rows with linear predictor ``eta`` and mean ``mu``; None when invalid.

    ``mu`` is the link's clamped inverse (what the IRLS weights use); the deviance is taken
    at the exact means where the clamp moved a row
    (:meth:`~glmspec.families.links.Link.unclamp`), so the line search sees the deviance the
    results report.
    """
    # rows with zero prior weight do not count, whatever their linear predictor (R drops them)
    used = slice(None) if prior.all() else prior > 0
    if not family.link.valid_eta(eta[used]):
        return None
    with np.errstate(all="ignore"):
        if not family.valid_mu(mu[used]):
            return None
        mu = family.link.unclamp(eta, mu)
        deviance = family.deviance(y[used], mu[used], prior[used])
    return float(deviance) if np.isfinite(deviance) else None


def starting_point(family, y, prior) -> tuple[np.ndarray, np.ndarray, float]:
    """Linear predictor, mean and deviance at the family's starting means (R's ``mustart``)."""
    mu = family.starting_mu(y, prior)
    eta = family.link.link(mu)
    with np.errstate(all="ignore"):
        deviance = family.deviance(y, mu, prior)
    return eta, mu, float(deviance)


def row_system(family, X, y, eta, mu, offset, prior, kind: str, working=None, single=False):
    """``(X' W X, X' v)`` for the loop's system of ``kind`` (see :class:`InMemoryRows`).

    ``"fisher"``: IRLS weights and the score; ``"observed"``: observed-information weights and
    the score; ``"working"``: IRLS weights and ``v = W z`` for the working response ``z``.
    ``working`` is :func:`working_quantities`' result when the caller has it already;
    ``single`` as :func:`glmspec.linalg.gram_and_product`; ``X`` is anything
    :func:`~glmspec.design.matrix.as_design` takes.
    """
    weights, score = working_quantities(family, y, mu, eta, prior) if working is None else working
    v = system_vector(kind, eta, offset, (weights, score))
    if kind == "observed":
        weights = observed_weights(family, y, mu, eta, weights, prior)
    return as_design(X).gram_and_rmatvec(weights, v, single=single)


def system_vector(kind: str, eta, offset, working) -> np.ndarray:
    """``v`` of the right-hand side ``X' v`` of :func:`row_system`'s system of ``kind``."""
    weights, score = working
    if kind == "working":
        return weights * (eta - offset + score / np.where(weights > 0, weights, 1.0))
    return score


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

    The per-row work (inverse link, deviance, IRLS weights) runs over chunks of
    :data:`ROW_BLOCK`-row blocks on a worker per core (:func:`~glmspec.linalg.map_row_chunks`,
    chunks set by the number of rows only), the deviance added chunk by chunk in order.

    An engine provides the loop with sums over rows and nothing else, so the same loop runs
    on rows that live elsewhere (:mod:`glmspec.distributed` computes the same sums partition
    by partition). Its methods:

    * ``n_columns``;
    * ``single_precision`` -- whether ``system(..., single=True)`` is faster (below);
    * ``steers`` -- whether a step may reuse an earlier point's information with the
      gradient here (``gradient(point)``: ``X' score``, one pass over the rows, where
      ``system`` is one ``X'WX`` pass); ``information_cost`` -- the extra cost of an
      information pass, in gradient iterations (an evaluation and a gradient pass);
    * ``start()`` -- the :class:`Point` at the family's starting means;
    * ``evaluate(coef)`` -- the :class:`Point` at ``coef``, None when the linear predictor or
      mean leaves the valid range or the deviance is not finite;
    * ``system(point, kind, single=False)`` -- ``(X' W X, X' v)`` with the expected
      (``"fisher"``) or observed (``"observed"``) information's weights and the score ``v``,
      or (``"working"``) the Fisher weights and ``v = W z`` for the working response ``z``
      (first step); ``single=True`` allows ``X' W X`` accurate to single precision only
      (for a step far from the optimum);
    * ``factorize(gram, point)`` -- a :class:`GramFactor` of the Fisher information, raising
      :class:`~glmspec.errors.SingularDesignError` for an aliased design;
    * ``solve(factor, point, kind, rhs)`` -- the step ``(X'WX)^{-1} rhs`` for ``rhs`` from
      ``system(point, kind)``;
    * ``noise(point, factor)`` -- see :func:`decrement_noise`;
    * ``intercept_start()`` -- the intercept-only point, or None without an intercept column;
    * ``row_arrays(point)`` -- ``(eta, mu, working_weights)`` for the record (None each when
      the rows are not in memory).
    """

    #: Measured on 1e6 x 100 (AMD EPYC, 2 cores): X'WX 0.18 s in single precision, X' v
    #: 0.045 s, an evaluation (X b, deviance, weights) 0.085 s.
    information_cost = 1.0

    def __init__(self, y, X, family, prior, offset, column_names=None) -> None:
        self.y, self.X, self.family = y, as_design(X), family
        self.prior, self.offset, self.column_names = prior, offset, column_names
        self.n_columns = X.shape[1]
        n, p = self.X.shape
        self.single_precision = self.X.supports_single and n * p >= SINGLE_MIN_CELLS
        self.steers = n * p >= STEER_MIN_CELLS
        self._cached: tuple[Point, tuple[np.ndarray, np.ndarray]] | None = None

    def start(self) -> Point:
        eta, mu, deviance = starting_point(self.family, self.y, self.prior)
        return Point(None, deviance, (eta, mu))

    def evaluate(self, coef: np.ndarray) -> Point | None:
        with np.errstate(all="ignore"):
            eta = self.X.matvec(coef)
        mu = np.empty_like(eta)
        family, y, prior, offset = self.family, self.y, self.prior, self.offset

        def chunk(start: int, stop: int) -> float | None:
            rows = slice(start, stop)
            with np.errstate(all="ignore"):
                eta[rows] += offset[rows]
                mu[rows] = family.link.inverse(eta[rows])
            return evaluate_rows(family, y[rows], eta[rows], mu[rows], prior[rows])

        parts = map_row_chunks(chunk, len(eta), ROW_BLOCK, 1)
        if any(part is None for part in parts):
            return None
        deviance = float(sum(parts))
        return Point(coef, deviance, (eta, mu)) if np.isfinite(deviance) else None

    def _working(self, point: Point) -> tuple[np.ndarray, np.ndarray]:
        # the loop asks for several sums at one point: compute its weights once
        if self._cached is None or self._cached[0] is not point:
            eta, mu = point.rows
            weights, score = np.empty_like(mu), np.empty_like(mu)
            family, y, prior = self.family, self.y, self.prior

            def chunk(start: int, stop: int) -> None:
                rows = slice(start, stop)
                weights[rows], score[rows] = working_quantities(
                    family, y[rows], mu[rows], eta[rows], prior[rows]
                )

            map_row_chunks(chunk, len(mu), ROW_BLOCK, 1)
            self._cached = (point, (weights, score))
        return self._cached[1]

    def system(
        self, point: Point, kind: str, single: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        eta, mu = point.rows
        return row_system(
            self.family,
            self.X,
            self.y,
            eta,
            mu,
            self.offset,
            self.prior,
            kind,
            working=self._working(point),
            single=single,
        )

    def gradient(self, point: Point) -> np.ndarray:
        return self.X.rmatvec(self._working(point)[1])

    def factorize(self, gram: np.ndarray, point: Point) -> GramFactor:
        factor = factor_gram(gram)
        if factor is not None:
            return factor
        working = self._working(point)[0]
        return factorize(np.asarray(self.X), working, self.column_names, gram=gram, keep_rows=True)

    def solve(self, factor: GramFactor, point: Point, kind: str, rhs: np.ndarray) -> np.ndarray:
        # An ill-conditioned design's QR factor solves the step as least squares from the rows:
        # solving R'R delta = rhs would lose a factor of the condition number (1e10: two
        # digits of the standard errors), which the line search cannot win back because the
        # deviance change of such a correction is below the deviance's rounding.
        if factor.row_q is None:
            return factor.solve(rhs)
        eta, _ = point.rows
        return factor.solve_rows(system_vector(kind, eta, self.offset, self._working(point)))

    def noise(self, point: Point, factor: GramFactor) -> float:
        eta, mu = point.rows
        parts = noise_parts(self.family, self.X, self.y, mu, eta, point.coef, self.prior)
        return noise_from_parts([parts], factor)

    def deviance_floor(self, point: Point) -> float:
        eta, mu = point.rows
        return deviance_floor(self.family, self.y, mu, eta, self.prior)

    def intercept_start(self) -> Point | None:
        ones = self.X.constant_columns()
        if not ones:
            return None
        coef = np.zeros(self.n_columns)
        with np.errstate(all="ignore"):
            coef[ones[0]] = self.family.link.link(np.average(self.y, weights=self.prior))
        return self.evaluate(coef)

    def row_arrays(self, point: Point):
        eta, mu = point.rows
        return eta, mu, self._working(point)[0]


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
    X = as_design(X)
    eta_error = _EPS * (X.abs_matvec(np.abs(coef)) + np.abs(eta))
    row_error = prior * mu_eta / variance * (_EPS * (np.abs(y) + np.abs(mu)) + mu_eta * eta_error)
    top = float(np.max(row_error)) if row_error.size else 0.0
    if not np.isfinite(top) or top == 0.0:
        return top, None
    return top, X.squares_rmatvec((row_error / top) ** 2)


def deviance_floor(family, y, mu, eta, prior) -> float:
    """How far rounding the means alone moves the deviance: the line search's tolerance.

    A mean carries a relative rounding error of about ``eps * (|eta_i| + 1)`` (``exp``
    magnifies the linear predictor's own), which moves its row's deviance by
    ``|d d_i / d eta_i| = 2 prior |y - mu| mu_eta / V`` times that; summed (a bound) with the
    summation's ``eps * sqrt(n) * deviance``. For counts of 1e9 this is ~1e-9 of the
    deviance, more than a Newton step near the optimum lowers it by. The cancellation of
    nearly collinear columns in ``X @ coef`` is left out on purpose: it is no reason to
    accept a rise (:func:`decrement_noise` covers it for the convergence test).
    """
    with np.errstate(all="ignore"):
        mu_eta = np.abs(family.link.mu_eta(eta))
        slope = 2.0 * prior * np.abs(y - mu) * (mu_eta / family.variance(mu))
        deviance = abs(float(family.deviance(y, mu, prior)))
        floor = _EPS * (float(np.dot(slope, np.abs(eta) + 1.0)) + np.sqrt(len(y)) * deviance)
    return floor if np.isfinite(floor) else 0.0


def noise_from_parts(parts: Sequence[tuple[float, np.ndarray | None]], factor) -> float:
    """:func:`decrement_noise` from the blocks' :func:`noise_parts`."""
    top = max((t for t, _ in parts), default=0.0)
    if not np.isfinite(top) or top == 0.0:
        return 0.0 if top == 0.0 else float("inf")
    gradient_variance = sum((t / top) ** 2 * v for t, v in parts if v is not None)
    return 10.0 * top * (top * float(np.sum(gradient_variance * factor.inverse_diagonal())))
