"""Row engines of the multinomial logit (softmax) solver: sums over rows, block by block.

Class 0 is the reference (linear predictor 0); class ``k >= 1`` has
``eta_k = X @ coef[:, k-1] + offset``. Flat coefficient vectors ``theta = coef.T.ravel()`` are
*class-major* (index ``(k-1)*p + j``), statsmodels ``MNLogit``'s ``cov_params`` order.

Row engines
-----------
The Newton loop, :func:`~glmspec.solvers.multinomial.fit_multinomial_rows`, never touches the rows:
it asks a :class:`MultinomialRows` engine for sums over them. Every sum can be computed on one
block of rows by a pure function of that block's arrays and added over blocks, so an engine
may keep its rows in memory (:class:`InMemoryMultinomialRows`, used by
:func:`~glmspec.solvers.multinomial.fit_multinomial`) or map over the partitions of a Dask
DataFrame and add the results:

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
  :attr:`~glmspec.solvers.multinomial.MultinomialFitRecord.probs` is then None).

:class:`StartSums` and :class:`BlockSums` add with ``+``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from glmspec.errors import DataError, ResponseError, SingularDesignError
from glmspec.linalg import GramFactor, check_rank, factorize, map_row_chunks, weighted_gram

_SEPARATION_LOGP = -1e-10  # log(1 - 1e-10): the observed class has probability 1
_QR_MAX_VALUES = 1 << 27  # largest square root (n K x (K-1) p values) the QR route builds
_BLOCK_BYTES = 1 << 20  # rows per block of the in-memory engine: about 1 MiB of X


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
    array), adds the block's information blocks ``X' diag(w p_j (delta_jk - p_k)) X``
    (``1 <= j <= k``) to it by BLAS ``syrk``: each block is one scaled copy of ``X`` (by
    ``sqrt(w p_j p_k)``, or ``sqrt(w p_j (1 - p_j))``) and one symmetric rank-m product,
    subtracted off the diagonal.
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
                # numpy's X.T @ X is syrk with the GIL released (scipy's blas.dsyrk holds it)
                if k == j:
                    pair_grams[j, k] += scaled.T @ scaled
                else:
                    pair_grams[j, k] -= scaled.T @ scaled
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

    def _blocks(self, start: int = 0, stop: int | None = None):
        stop = len(self.codes) if stop is None else stop
        for first in range(start, stop, self._step):
            rows = slice(first, min(first + self._step, stop))
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

        def chunk(start: int, stop: int) -> BlockSums:
            pair_grams = _empty_pair_grams(K, p) if want_information else None
            loglik, score, n_certain = 0.0, np.zeros((K - 1, p)), 0
            for codes, X, prior, offset in self._blocks(start, stop):
                ll, sc, nc = _block_terms(codes, X, prior, offset, coef, pair_grams)
                loglik, n_certain = loglik + ll, n_certain + nc
                score += sc
            information = None if pair_grams is None else _assemble_information(pair_grams, K, p)
            return BlockSums(loglik, score.ravel(), information, n_certain)

        # chunks on a worker per core, BLAS on one thread (too small blocks for its threads)
        parts = map_row_chunks(chunk, len(self.codes), self._step, p * (K - 1))
        return sum(parts[1:], parts[0])

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
