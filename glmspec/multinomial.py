"""Maximum-likelihood fitting of a multinomial logit (softmax) model from sums over rows.

Class 0 is the reference (linear predictor 0); class ``k >= 1`` has
``eta_k = X @ coef[:, k-1] + offset``. Flat coefficient vectors ``theta = coef.T.ravel()`` are
*class-major* (index ``(k-1)*p + j``), statsmodels ``MNLogit``'s ``cov_params`` order.

Row engines
-----------
The Newton loop, :func:`fit_multinomial_rows`, never touches the rows: it asks a
:class:`MultinomialRows` engine for sums over them. Every sum can be computed on one block of
rows by a pure function of that block's arrays and added over blocks, so an engine may keep
its rows in memory (:class:`InMemoryMultinomialRows`, used by :func:`fit_multinomial`) or map
over the partitions of a Dask DataFrame and add the results:

* ``start_sums() -> StartSums`` -- weighted class totals, ``sum(w * offset)``, ``X' w`` and
  ``X' diag(w) X``, per block by :func:`block_start_sums`;
* ``derivatives(theta, want_information=True) -> BlockSums`` -- log-likelihood, score, the
  ``(K-1)p`` square Fisher information (None when not wanted) and the number of rows with
  positive weight whose observed class has a fitted probability numerically 1, per block by
  :func:`block_derivatives`;
* ``information_cost`` (property, default 1) -- what a pass with the information costs, in
  passes without it; it decides how long the loop makes do with an older information;
* optional methods that need the rows themselves; the defaults say "not available" and the
  loop copes: ``check_rank(column_names)`` (raise :class:`SingularDesignError` naming aliased
  columns; default: no check), ``qr_factor(theta, column_names)`` (an accurate factor of an
  ill-conditioned information from a QR of its square root; default None) and
  ``probabilities(theta)`` (the ``(n, K)`` fitted probabilities; default None, and
  :attr:`MultinomialFitRecord.probs` is then None).

:class:`StartSums` and :class:`BlockSums` add with ``+``.

The loop
--------
1. start: class log-odds on a constant (intercept) column, zeros elsewhere. There the fitted
   probabilities are (with a constant offset, exactly) the same ``pi`` for every row, so the
   information is ``(diag(pi) - pi pi') kron X' W X`` -- factored from ``start_sums`` alone;
2. steps ``theta + H^-1 score``, ``H`` the latest factored information with BFGS updates
   from the steps since (:func:`_direction`; none at a point with fresh information, where
   the step is Newton's). Factoring: :func:`glmspec.linalg.factor_gram` (Cholesky); if that
   fails, the engine's ``check_rank``, then its ``qr_factor``, then a Cholesky factor
   accepted down to a reciprocal condition number of ``_RCOND_LAST``; if none is available,
   L-BFGS-B with the analytic score takes over (``method="lbfgs"``);
3. the information is evaluated at a new point only when it pays (:func:`_worth_refreshing`:
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
5. stop at a point with fresh information where :func:`glmspec.solver._converged` holds
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

import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, special
from scipy.linalg import blas, lapack

from glmspec.errors import (
    DataError,
    GLMSpecWarning,
    ResponseError,
    SeparationWarning,
    SingularDesignError,
)
from glmspec.linalg import GramFactor, check_rank, factor_gram, factorize, weighted_gram
from glmspec.solver import MAX_HALVINGS, Iteration, _converged, warn_not_converged

log = logging.getLogger("glmspec.solver")
_SEPARATION_LOGP = -1e-10  # log(1 - 1e-10): the observed class has probability 1
_MOVING_STEP = 1e-3
_QR_MAX_VALUES = 1 << 27  # largest square root (n K x (K-1) p values) the QR route builds
_REFRESH_RATE = 1e-2  # re-evaluate the information when a step shrinks the decrement less
_NEWTON_DECADES = 4.0  # decades of decrement a step with a recent information gains
_MEMORY = 10  # BFGS pairs kept on top of the last factored information
_POLISH = 1e-6  # final decrement below _POLISH * tol**2: within ~1e-3 tol SEs of the optimum
_RCOND_LAST = 1e-12  # smallest reciprocal condition number of a Cholesky-only information
_BLOCK_BYTES = 1 << 20  # rows per block of the in-memory engine: about 1 MiB of X


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


@dataclass(frozen=True)
class StartSums:
    """Sums over rows that the starting values need; blocks add with ``+``.

    Attributes
    ----------
    class_weights : ndarray of shape (K,)
        ``sum(w_i [y_i = k])``.
    offset_sum : float
        ``sum(w_i * offset_i)``.
    column_sums : ndarray of shape (p,)
        ``X' w``.
    gram : ndarray of shape (p, p)
        ``X' diag(w) X``.
    """

    class_weights: np.ndarray
    offset_sum: float
    column_sums: np.ndarray
    gram: np.ndarray

    def __add__(self, other: StartSums) -> StartSums:
        return StartSums(
            self.class_weights + other.class_weights,
            self.offset_sum + other.offset_sum,
            self.column_sums + other.column_sums,
            self.gram + other.gram,
        )


@dataclass(frozen=True)
class BlockSums:
    """Log-likelihood and its derivatives summed over rows; blocks add with ``+``.

    Attributes
    ----------
    loglik : float
        ``sum(w_i * log p_i[y_i])``.
    gradient : ndarray of shape ((K-1)p,)
        The score, class-major.
    information : ndarray of shape ((K-1)p, (K-1)p) or None
        The Fisher information (minus the Hessian of ``loglik``); None when not asked for.
    n_certain : int
        Rows with positive weight whose observed class has fitted probability above
        ``1 - 1e-10`` (the separation heuristic).
    """

    loglik: float
    gradient: np.ndarray
    information: np.ndarray | None
    n_certain: int

    def __add__(self, other: BlockSums) -> BlockSums:
        if self.information is None or other.information is None:
            information = None
        else:
            information = self.information + other.information
        return BlockSums(
            self.loglik + other.loglik,
            self.gradient + other.gradient,
            information,
            self.n_certain + other.n_certain,
        )


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


def _class_coef(theta: np.ndarray, n_classes: int, p: int) -> np.ndarray:
    """``(K, p)`` coefficients with a zero first row (the reference class)."""
    coef = np.zeros((n_classes, p))
    coef[1:] = np.asarray(theta, dtype=float).reshape(n_classes - 1, p)
    return coef


def _softmax_t(X: np.ndarray, offset: np.ndarray | None, coef: np.ndarray):
    """Transposed probabilities ``(K, m)``, shifted linear predictors and log-normalisers.

    Classes are rows, so that every per-class vector is contiguous and the reductions over
    classes are elementwise operations on whole rows (several times faster than reducing the
    short rows of an ``(m, K)`` array). The row maximum is subtracted before ``exp``: finite
    and accurate to rounding for any finite linear predictor.
    """
    eta = coef @ X.T
    if offset is not None:
        eta[1:] += offset
    eta -= eta.max(axis=0)
    probs = np.exp(eta)
    total = probs.sum(axis=0)
    probs /= total
    return probs, eta, np.log(total)


def _block_terms(codes, X, prior, offset, coef, pair_grams):
    """One block's log-likelihood, ``(K-1, p)`` score and certain-row count.

    ``prior`` None means unit weights. With ``pair_grams`` (a dict ``(j, k) -> p x p``
    Fortran array, upper triangle used), adds the block's information blocks
    ``X' diag(w p_j (delta_jk - p_k)) X`` (``1 <= j <= k``) to it by BLAS ``syrk``: each
    block is one scaled copy of ``X`` (by ``sqrt(w p_j p_k)``, or ``sqrt(w p_j (1 - p_j))``)
    and one symmetric rank-m update (``alpha = -1`` off the diagonal).
    """
    m, K = len(codes), coef.shape[0]
    probs, eta, log_total = _softmax_t(X, offset, coef)
    rows = np.arange(m)
    logp_observed = eta.ravel()[codes * m + rows] - log_total
    certain = logp_observed > _SEPARATION_LOGP
    if prior is None:
        loglik = float(logp_observed.sum())
        resid = -probs[1:]
    else:
        loglik = float(prior @ logp_observed)
        certain &= prior > 0
        resid = probs[1:] * -prior
    observed = np.flatnonzero(codes > 0)
    resid.ravel()[(codes[observed] - 1) * m + observed] += 1.0 if prior is None else prior[observed]
    score = resid @ X
    if pair_grams is not None:
        root = np.sqrt(probs)
        root_w = root if prior is None else root * np.sqrt(prior)
        # 1 - p_j as the sum of the other probabilities: no cancellation when p_j ~ 1
        before = np.cumsum(probs, axis=0)
        after = np.cumsum(probs[::-1], axis=0)[::-1]
        scaled = np.empty(X.shape)  # C order: scaled.T is what syrk reads in place
        for j in range(1, K):
            rest = before[j - 1] + after[j + 1] if j + 1 < K else before[j - 1]
            for k in range(j, K):
                r = root_w[j] * (np.sqrt(rest) if k == j else root[k])
                np.multiply(X, r[:, None], out=scaled)
                alpha = 1.0 if k == j else -1.0
                pair_grams[j, k] = blas.dsyrk(
                    alpha, scaled.T, beta=1.0, c=pair_grams[j, k], trans=0, lower=0, overwrite_c=1
                )
    return loglik, score, int(np.count_nonzero(certain))


def _empty_pair_grams(n_classes: int, p: int) -> dict:
    return {
        (j, k): np.zeros((p, p), order="F")
        for j in range(1, n_classes)
        for k in range(j, n_classes)
    }


def _assemble_information(pair_grams: dict, n_classes: int, p: int) -> np.ndarray:
    """The full symmetric information from the upper triangles of its ``(j, k)`` blocks."""
    info = np.empty(((n_classes - 1) * p, (n_classes - 1) * p))
    for (j, k), gram in pair_grams.items():
        block = np.triu(gram) + np.triu(gram, 1).T
        info[(j - 1) * p : j * p, (k - 1) * p : k * p] = block
        info[(k - 1) * p : k * p, (j - 1) * p : j * p] = block.T
    return info


def _as_block(codes, X, prior, offset):
    X = np.asarray(X, dtype=float)
    codes = np.asarray(codes, dtype=np.intp)
    prior = None if prior is None else np.asarray(prior, dtype=float)
    offset = None if offset is None else np.asarray(offset, dtype=float)
    return codes, X, prior, offset


def block_derivatives(
    codes: np.ndarray,
    X: np.ndarray,
    prior: np.ndarray | None,
    offset: np.ndarray | None,
    n_classes: int,
    theta: np.ndarray,
    want_information: bool = True,
) -> BlockSums:
    """Log-likelihood, score and Fisher information of one block of rows, to be added.

    A pure function of the block's arrays (no validation), for row engines that compute the
    sums block by block, e.g. inside Dask workers; the sum over all blocks is the
    :class:`BlockSums` of all rows.

    Parameters
    ----------
    codes : ndarray of int, shape (m,)
        Observed classes ``0..n_classes-1``.
    X : ndarray of shape (m, p)
        The block's rows of the design.
    prior, offset : ndarray of shape (m,) or None
        Prior weights (default ones) and offset (default zeros).
    n_classes : int
        ``K``.
    theta : ndarray of shape ((K-1)p,)
        Class-major coefficients, ``coef.T.ravel()``.
    want_information : bool
        Compute the information (the costly part); else ``information`` is None.

    Returns
    -------
    BlockSums
    """
    codes, X, prior, offset = _as_block(codes, X, prior, offset)
    p = X.shape[1]
    pair_grams = _empty_pair_grams(n_classes, p) if want_information else None
    loglik, score, n_certain = _block_terms(
        codes, X, prior, offset, _class_coef(theta, n_classes, p), pair_grams
    )
    information = None
    if pair_grams is not None:
        information = _assemble_information(pair_grams, n_classes, p)
    return BlockSums(loglik, score.ravel(), information, n_certain)


def block_start_sums(
    codes: np.ndarray,
    X: np.ndarray,
    prior: np.ndarray | None,
    offset: np.ndarray | None,
    n_classes: int,
) -> StartSums:
    """The :class:`StartSums` of one block of rows (arguments as :func:`block_derivatives`)."""
    codes, X, prior, offset = _as_block(codes, X, prior, offset)
    prior = np.ones(len(codes)) if prior is None else prior
    offset_sum = 0.0 if offset is None else float(prior @ offset)
    return StartSums(
        np.bincount(codes, weights=prior, minlength=n_classes).astype(float),
        offset_sum,
        X.T @ prior,
        weighted_gram(X, prior),
    )


class MultinomialRows(ABC):
    """Where :func:`fit_multinomial_rows` gets its sums over rows; see the module docstring.

    Attributes
    ----------
    n_classes : int
        ``K >= 2``.
    n_columns : int
        ``p``, the columns of the design.
    """

    n_classes: int
    n_columns: int

    @property
    def information_cost(self) -> float:
        """Cost of a pass with the information, in passes without it.

        Default 1: the pass itself (e.g. reading the rows) dominates, and the loop evaluates
        the information about as often as Newton's method would. Higher values make it rely
        longer on BFGS updates of an older information; the estimates differ only within the
        convergence tolerance.
        """
        return 1.0

    @abstractmethod
    def start_sums(self) -> StartSums:
        """Sums for the starting values, over all rows."""

    @abstractmethod
    def derivatives(self, theta: np.ndarray, want_information: bool = True) -> BlockSums:
        """Log-likelihood, score and (when wanted) information at ``theta``, over all rows."""

    def check_rank(self, column_names: Sequence[str] | None) -> None:  # noqa: B027
        """Raise :class:`SingularDesignError` naming aliased columns; by default no check."""

    def qr_factor(self, theta: np.ndarray, column_names: Sequence[str] | None) -> GramFactor | None:
        """A factor of the information from a QR of its square root; None if unavailable."""
        return None

    def probabilities(self, theta: np.ndarray) -> np.ndarray | None:
        """Fitted probabilities ``(n, K)`` at ``theta``; None when the rows are not at hand."""
        return None


class InMemoryMultinomialRows(MultinomialRows):
    """A row engine over in-memory arrays, computing every sum over row blocks of ~1 MiB.

    Parameters
    ----------
    codes, n_classes, X, prior_weights, offset
        As in :func:`fit_multinomial`; checked here (except that every class has weight).
    """

    def __init__(
        self,
        codes: np.ndarray,
        n_classes: int,
        X: np.ndarray,
        prior_weights: np.ndarray | None = None,
        offset: np.ndarray | None = None,
    ):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[0] == 0 or not np.all(np.isfinite(X)):
            raise DataError(f"X must be a non-empty finite 2-d array; got shape {X.shape}.")
        n, codes = X.shape[0], np.asarray(codes)
        if codes.shape != (n,) or not np.issubdtype(codes.dtype, np.integer):
            raise ResponseError(f"codes must be {n} integers; got {codes.dtype}{codes.shape}.")
        if n_classes < 2 or codes.min() < 0 or codes.max() >= n_classes:
            raise ResponseError(f"codes must lie in 0..{n_classes - 1} with n_classes >= 2.")
        prior = np.ones(n) if prior_weights is None else np.asarray(prior_weights, dtype=float)
        off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
        for name, arr in (("prior_weights", prior), ("offset", off)):
            if arr.shape != (n,) or not np.all(np.isfinite(arr)) or np.any(prior < 0):
                raise DataError(f"{name} must be {n} finite values (weights non-negative).")
        self.codes, self.X, self.prior = codes.astype(np.intp), X, prior
        self.offset = None if offset is None or not np.any(off) else off
        self._unit = bool(np.all(prior == 1.0))  # blocks then skip the weights
        self.n_classes, self.n_columns = int(n_classes), X.shape[1]
        self._step = max(64, _BLOCK_BYTES // (8 * max(self.n_columns, n_classes)))

    @property
    def information_cost(self) -> float:
        """Estimated from the work per row.

        ``K(K-1)/2`` scaled copies and ``syrk`` updates against two ``K x p`` products and a
        softmax, with constants fitted to OpenBLAS timings (about 8 for ``K = 5, p = 10``,
        16 for ``K = 5, p = 100``).
        """
        K, p = self.n_classes, self.n_columns
        extra = K * (K - 1) / 2 * (0.025 * p * p + 1.1 * p + 10.0)
        return 1.0 + extra / (K * (0.48 * p + 2.2))

    def _blocks(self):
        for start in range(0, len(self.codes), self._step):
            rows = slice(start, start + self._step)
            offset = None if self.offset is None else self.offset[rows]
            prior = None if self._unit else self.prior[rows]
            yield self.codes[rows], self.X[rows], prior, offset

    def start_sums(self) -> StartSums:
        """Class totals, ``sum(w offset)``, ``X' w`` and ``X' W X`` (one pass)."""
        offset_sum = 0.0 if self.offset is None else float(self.prior @ self.offset)
        return StartSums(
            np.bincount(self.codes, weights=self.prior, minlength=self.n_classes).astype(float),
            offset_sum,
            self.X.T @ self.prior,
            weighted_gram(self.X, self.prior),
        )

    def derivatives(self, theta: np.ndarray, want_information: bool = True) -> BlockSums:
        """Sums of :func:`block_derivatives` over the row blocks (one pass over ``X``)."""
        K, p = self.n_classes, self.n_columns
        coef = _class_coef(theta, K, p)
        pair_grams = _empty_pair_grams(K, p) if want_information else None
        loglik, score, n_certain = 0.0, np.zeros((K - 1, p)), 0
        for codes, X, prior, offset in self._blocks():
            ll, sc, nc = _block_terms(codes, X, prior, offset, coef, pair_grams)
            loglik, n_certain = loglik + ll, n_certain + nc
            score += sc
        information = None
        if pair_grams is not None:
            information = _assemble_information(pair_grams, K, p)
        return BlockSums(loglik, score.ravel(), information, n_certain)

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        """Fitted probabilities ``(n, K)``."""
        coef = _class_coef(theta, self.n_classes, self.n_columns)
        out = np.empty((len(self.codes), self.n_classes))
        for start, (_, X, _, offset) in zip(
            range(0, len(self.codes), self._step), self._blocks(), strict=True
        ):
            out[start : start + len(X)] = _softmax_t(X, offset, coef)[0].T
        return out

    def check_rank(self, column_names: Sequence[str] | None) -> None:
        """QR of the rows with positive weight (:func:`glmspec.linalg.check_rank`)."""
        check_rank(self.X[self.prior > 0], column_names)

    def qr_factor(self, theta: np.ndarray, column_names: Sequence[str] | None) -> GramFactor | None:
        """QR factor of ``A`` with ``A'A = information``; None if singular or too large.

        ``A[(i, m), (k, j)] = sqrt(w_i p_im) (delta_mk - p_ik) x_ij`` (``m = 0..K-1``) is
        accurate where the Cholesky factor of the information is not.
        """
        (n, p), K = self.X.shape, self.n_classes
        dim = (K - 1) * p
        if n * K * dim > _QR_MAX_VALUES:
            return None
        probs = self.probabilities(theta)
        root = np.sqrt(self.prior[:, None] * probs)[:, :, None] * (
            np.eye(K)[:, 1:] - probs[:, None, 1:]
        )
        try:
            return factorize(
                (root[..., None] * self.X[:, None, None, :]).reshape(n * K, dim), np.ones(n * K)
            )
        except SingularDesignError:
            return None


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


def _relative_change(loglik_new: float, loglik_old: float) -> float:
    """Relative change of the deviance ``-2 loglik``, on the ``|deviance| + 0.1`` scale."""
    return 2.0 * abs(loglik_new - loglik_old) / (2.0 * abs(loglik_new) + 0.1)


def _direction(factor: GramFactor, pairs, gradient: np.ndarray) -> np.ndarray:
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


def _worth_refreshing(rate: float | None, remaining: float, cost: float) -> bool:
    """Whether the information at the next point pays for itself.

    ``remaining``: how many times the decrement must still shrink; ``rate``: how much the last
    step shrank it (None: unknown); ``cost``: an information pass in score-only passes. With
    the information, the following steps gain about ``_NEWTON_DECADES`` decades each; without,
    ``-log10(rate)``.
    """
    if rate is None:
        return False
    if rate >= 1.0:
        return True
    decades = np.log10(max(remaining, 10.0))
    return bool(cost + decades / _NEWTON_DECADES < decades / -np.log10(rate))


def _update_pairs(pairs: list, s: np.ndarray, y: np.ndarray) -> None:
    """Append the BFGS pair of a step ``s`` whose score fell by ``y`` (if it has curvature)."""
    sy = float(s @ y)
    if sy > 1e-10 * np.sqrt(float(s @ s) * float(y @ y)):
        pairs.append((s, y, 1.0 / sy))
        del pairs[:-_MEMORY]


def _line_search(rows: MultinomialRows, theta, delta, loglik_old, want_information):
    """Halve ``delta`` until the log-likelihood does not decrease; None if it always does.

    Returns the new point, its sums (information after a halving, as the step showed the
    information used to be poor, or when ``want_information``) and the number of halvings.
    """
    for halvings in range(MAX_HALVINGS + 1):
        sums = rows.derivatives(theta + delta, want_information)
        if np.isfinite(sums.loglik) and sums.loglik >= loglik_old - 1e-12 * abs(loglik_old):
            return theta + delta, sums, halvings
        delta, want_information = 0.5 * delta, True
    return None


def _factor(rows: MultinomialRows, theta, info, column_names) -> GramFactor | None:
    """Cholesky factor of the information, else the engine's QR factor, else a Cholesky
    factor of a merely ill-conditioned information; None: (numerically) singular."""
    factor = factor_gram(info)
    if factor is not None:
        return factor
    rows.check_rank(column_names)
    factor = rows.qr_factor(theta, column_names)
    return factor if factor is not None else _ill_conditioned_factor(info)


def _ill_conditioned_factor(info: np.ndarray) -> GramFactor | None:
    """Cholesky factor when the equilibrated information's reciprocal condition number is
    above ``_RCOND_LAST`` (solves then lose at most about 4 of 16 digits); else None.

    The last resort of engines without a QR factor (and of the in-memory engine when the
    square root is too large to build), before L-BFGS-B.
    """
    scale = np.sqrt(np.diag(info))
    if not (np.all(scale > 0) and np.all(np.isfinite(scale))):
        return None
    scaled = info / np.outer(scale, scale)
    chol, status = lapack.dpotrf(scaled, lower=0, clean=1)
    if status != 0:
        return None
    rcond, _ = lapack.dpocon(chol, np.abs(scaled).sum(axis=0).max())
    if not rcond > _RCOND_LAST:
        return None
    return GramFactor(chol * scale[None, :], "cholesky")


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


def _kronecker_factor(start: StartSums, theta: np.ndarray, n_classes: int) -> GramFactor | None:
    """Factor of ``(diag(pi) - pi pi') kron X' W X``, pi the probabilities at the mean row.

    This is the information at the starting values whenever their fitted probabilities are
    the same for every row (an intercept and a constant offset); else an approximation that
    the loop replaces as soon as it proves poor. None when ``X' W X`` is not well conditioned.
    """
    total = start.class_weights.sum()
    mean_row = start.column_sums / total
    eta = np.concatenate([[0.0], theta.reshape(n_classes - 1, -1) @ mean_row])
    eta[1:] += start.offset_sum / total
    pi = np.exp(log_softmax(eta[None, :])[0, 1:])
    gram = factor_gram(start.gram)
    if gram is None:
        return None
    try:
        class_root = linalg.cholesky(np.diag(pi) - np.outer(pi, pi))
    except linalg.LinAlgError:
        return None
    return GramFactor(np.kron(class_root, gram.r), "kronecker")


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
    factor = _kronecker_factor(start, theta, K)
    fresh = factor is None  # whether sums.information is at theta (and factor is not yet)
    sums = rows.derivatives(theta, want_information=fresh)
    history: list[Iteration] = []
    relative_change, converged, method = np.inf, False, "newton"
    message = f"stopped after max_iter={max_iter} iterations"
    delta, previous, final, factor_here = np.full(K * p - p, np.inf), None, False, False
    exact = newton = False  # factor from an exact information; every pass computes one
    last_fresh = None  # decrement at the previous point, when both had fresh information
    pairs: list[tuple[np.ndarray, np.ndarray, float]] = []  # BFGS updates of the factor
    polish = _POLISH * tol * tol
    cost = max(float(rows.information_cost), 1.0)
    while True:
        if fresh:
            factor = _factor(rows, theta, sums.information, column_names)
            if factor is None:
                method = "lbfgs"
                break
            exact, pairs = True, []
        factor_here = fresh
        delta = _direction(factor, pairs, sums.gradient)
        decrement = float(sums.gradient @ delta)
        converged = fresh and _converged(relative_change, decrement, -2.0 * sums.loglik, tol)
        if converged and (decrement <= polish or final):
            message = "converged"
            break
        if len(history) >= max_iter:
            converged = False
            break
        rate = decrement / previous if previous else None
        refresh = _worth_refreshing(rate, decrement / polish, cost)
        if newton and last_fresh is not None and decrement < _REFRESH_RATE * last_fresh:
            newton = False  # Newton's quadratic phase: an information stays good for steps
        elif exact and refresh:
            newton = True  # even an exact information goes stale within one step
        last_fresh = decrement if fresh else None
        want = newton or refresh or converged or decrement <= polish
        want = want or (rate is not None and rate * decrement <= polish)
        step = _line_search(rows, theta, delta, sums.loglik, want)
        if step is None:
            message = "converged" if converged else "step halving could not increase loglik"
            break
        new_theta, new_sums, halvings = step
        relative_change = _relative_change(new_sums.loglik, sums.loglik)
        deviance = -2.0 * new_sums.loglik
        history.append(Iteration(len(history) + 1, deviance, relative_change, decrement, halvings))
        log.info(
            "multinomial iteration %d: deviance %.12g, relative change %.3g, halvings %d",
            len(history),
            deviance,
            relative_change,
            halvings,
        )
        _update_pairs(pairs, new_theta - theta, sums.gradient - new_sums.gradient)
        theta, sums, final = new_theta, new_sums, converged
        fresh = sums.information is not None
        previous = None if fresh or halvings else decrement
        newton = newton or (halvings > 0 and exact)

    n_iter = len(history)
    if method == "lbfgs":
        total = float(start.class_weights.sum())
        theta, relative_change, n_lbfgs = _lbfgs(
            rows, theta, np.diag(sums.information), total, max_iter, history
        )
        n_iter += n_lbfgs
        sums, fresh, factor_here = rows.derivatives(theta), True, False
    elif not fresh:
        sums, fresh, factor_here = rows.derivatives(theta), True, False
    if not factor_here:  # the factor at the estimates
        factor = _factor(rows, theta, sums.information, column_names)
        factor = factor or _pinv_factor(sums.information)
        if method == "lbfgs":
            decrement = float(sums.gradient @ factor.solve(sums.gradient))
            converged = _converged(relative_change, decrement, -2.0 * sums.loglik, tol)
            message = "converged (L-BFGS-B)" if converged else "L-BFGS-B did not meet the criterion"
    if not converged:
        warn_not_converged("multinomial fit", n_iter, message, history, tol)
    moving = not converged or method == "lbfgs" or np.max(np.abs(delta)) > _MOVING_STEP
    if moving and sums.n_certain > 0:
        warnings.warn(
            "quasi-complete separation: fitted probabilities numerically 0 or 1; some "
            "coefficients diverge and their standard errors are meaningless.",
            SeparationWarning,
            stacklevel=2,
        )
    coef = theta.reshape(K - 1, p).T.copy()
    loglik = sums.loglik
    return MultinomialFitRecord(
        coef, rows.probabilities(theta), loglik, -2.0 * loglik, factor, converged, n_iter,
        tuple(history), message, method,
    )  # fmt: skip


def _lbfgs(rows: MultinomialRows, theta, info_diag, total, max_iter, history):
    """Maximise the log-likelihood by L-BFGS-B from ``theta``, appending steps to ``history``.

    The variables are rescaled by the root of the information's diagonal (a diagonal
    preconditioner); ``total`` is the sum of the weights, which scales the objective to
    O(1). Returns the estimates, the last relative deviance change and the number of
    iterations.
    """
    scale = np.sqrt(np.where(info_diag > 0, info_diag, total) / total)
    state = {"loglik": rows.derivatives(theta, False).loglik, "change": np.inf, "n": 0}
    done = len(history)

    def objective(u):
        sums = rows.derivatives(u / scale, False)
        return -sums.loglik / total, -sums.gradient / (total * scale)

    def callback(intermediate_result):
        new = -float(intermediate_result.fun) * total
        state["change"] = _relative_change(new, state["loglik"])
        state["loglik"], state["n"] = new, state["n"] + 1
        history.append(Iteration(done + state["n"], -2.0 * new, state["change"], np.nan, 0))

    options = {"maxiter": 10 * max_iter, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 20}
    result = optimize.minimize(
        objective, theta * scale, jac=True, method="L-BFGS-B", callback=callback, options=options
    )
    return result.x / scale, state["change"], state["n"]
