"""Weighted least-squares linear algebra shared by the solvers.

Every Newton/IRLS step solves ``(X' W X) delta = g``. :func:`weighted_gram` forms ``X' W X`` in
row blocks (no n x p temporary of the whole design), chunks of blocks on a worker thread per
core (:func:`map_row_chunks`), and :func:`factorize` returns an
upper-triangular ``R`` with ``X' W X = R' R``:

* normally from a Cholesky factorisation of the column-equilibrated cross-product (fast);
* when that is not positive definite or is ill-conditioned (reciprocal condition number below
  ``1e-8``, i.e. the design's condition number above about ``1e4``) from a QR decomposition of
  ``sqrt(W) X``, which keeps full accuracy up to condition numbers near ``1e11`` and detects
  exact collinearity with R's ``glm.fit`` tolerance (``1e-11``) on column-scaled data.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg
from scipy.linalg import lapack
from threadpoolctl import ThreadpoolController

from glmspec.errors import SingularDesignError

_RCOND_MIN = 1e-8
_RANK_TOL = 1e-11
_GRAM_RANK_TOL = 1e-7
# Blocks of about 1 MiB stay in cache between scaling and the BLAS product (measured on
# 1e6 x 100: 0.41 s per X'WX with the gradient, 0.48 s with 4 MiB blocks).
_BLOCK_BYTES = 1 << 20


def block_rows(p: int) -> int:
    """Rows per block so that one block of a p-column float array takes about 1 MiB."""
    return max(256, _BLOCK_BYTES // (8 * max(p, 1)))


def weighted_gram(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Return ``X' diag(w) X``, accumulated over row blocks.

    Each block is scaled by ``sqrt(|w|)`` and multiplied with BLAS ``syrk`` (half the work of a
    general product), so the temporary memory is one block, not a copy of ``X``. Negative
    weights (observed information of non-canonical links) take a second ``syrk``. ``X`` is an
    ndarray: other designs go through :func:`glmspec.design.matrix.as_design`.
    """
    return gram_and_product(X, w)[0]


def gram_and_product(
    X: np.ndarray, w: np.ndarray, v: np.ndarray | None = None, *, single: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """``X' diag(w) X`` and, in the same pass over the rows, ``X' v`` (None without ``v``).

    Reading each block of ``X`` once for both products saves a pass over the design per
    Newton iteration (the design is the largest thing the solver touches).

    ``single=True`` multiplies each scaled block in single precision (``ssyrk``, about 1.3x
    faster per pass; the blocks' sums still add up in double): the result is accurate to
    about ``1e-7`` relative, enough for a Newton step far from the optimum, never for
    standard errors. ``X' v`` is always computed in double precision.
    """
    if w.min() >= 0.0:  # (Fisher weights always)
        return _syrk_blocks(X, w, v, single)
    gram, product = _syrk_blocks(X, np.clip(w, 0.0, None), v, single)
    gram -= _syrk_blocks(X, np.clip(-w, 0.0, None), None, single)[0]
    return gram, product


def _syrk_blocks(X: np.ndarray, w: np.ndarray, v: np.ndarray | None, single: bool = False):
    n, p = X.shape
    root_w = np.sqrt(w)
    top = float(root_w.max()) if single and n else 1.0
    if single and 0.0 < top < np.inf:
        root_w = root_w / top  # single precision overflows at 3e38: scale the weights to <= 1
    else:
        top = 1.0
    step = block_rows(p)
    order = "F" if X.flags.f_contiguous and not X.flags.c_contiguous else "C"
    dtype = np.float32 if single else float

    def chunk(start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        gram = np.zeros((p, p))
        product = None if v is None else np.zeros(p)
        buffer = np.empty((min(step, stop - start), p), dtype=dtype, order=order)
        for first in range(start, stop, step):
            rows = X[first : min(first + step, stop)]
            block = buffer[: len(rows)]
            with np.errstate(over="ignore", under="ignore"):  # an overflow shows in the factor
                np.multiply(
                    rows, root_w[first : first + len(rows), None], out=block, casting="same_kind"
                )
            gram += block.T @ block  # numpy calls syrk for a product with its own transpose
            if product is not None:
                product += _weighted_column_sums(v[first : first + len(rows)], rows)
        return gram, product

    parts = map_row_chunks(chunk, n, step, p)
    gram = np.zeros((p, p))
    for part, _ in parts:
        gram += part
    gram *= top * top
    return gram, (None if v is None else sum(product for _, product in parts))


def matvec(X: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``X b``, chunks of rows on worker threads (see :func:`map_row_chunks`)."""
    n, p = X.shape
    out = np.empty(n, dtype=np.result_type(X, coef))

    def chunk(start: int, stop: int) -> None:
        np.matmul(X[start:stop], coef, out=out[start:stop])

    map_row_chunks(chunk, n, block_rows(p), p)
    return out


def rmatvec(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``X' v``, chunks of rows on worker threads, their sums added in order."""
    n, p = X.shape
    parts = map_row_chunks(
        lambda start, stop: _weighted_column_sums(v[start:stop], X[start:stop]), n, block_rows(p), p
    )
    return sum(parts[1:], parts[0])


def _weighted_column_sums(v: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``rows' v`` by numpy's einsum loop rather than BLAS ``gemv``: on a C-ordered design
    OpenBLAS's transposed ``gemv`` streams it at a third of the memory bandwidth (1e6 x 100
    over two worker threads, AMD EPYC, OpenBLAS 0.3.30 Haswell kernels: 94-159 ms against
    44-46 ms; equal on a Fortran-ordered design, 42-50 ms)."""
    return np.einsum("i,ij->j", v, rows)


def abs_matvec(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``|X| v`` over row blocks (no n x p temporary)."""
    n, p = X.shape
    out = np.empty(n)
    step = block_rows(p)

    def chunk(start: int, stop: int) -> None:
        for first in range(start, stop, step):
            last = min(first + step, stop)
            out[first:last] = np.abs(X[first:last]) @ v

    map_row_chunks(chunk, n, step, p)
    return out


def squares_matvec(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(X * X)' v`` over row blocks (no n x p temporary)."""
    n, p = X.shape
    step = block_rows(p)

    def chunk(start: int, stop: int) -> np.ndarray:
        out = np.zeros(p)
        for first in range(start, stop, step):
            block = X[first : min(first + step, stop)]
            out += (block * block).T @ v[first : first + len(block)]
        return out

    parts = map_row_chunks(chunk, n, step, p)
    return sum(parts[1:], parts[0])


def worker_count() -> int:
    """Cores this process may run on (its CPU affinity, where the platform tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def map_row_chunks(kernel, n: int, step: int, width: int) -> list:
    """``[kernel(start, stop), ...]`` over contiguous chunks of ``n`` rows, on worker threads.

    The chunks (whole blocks of ``step`` rows, at most :data:`_MAX_CHUNKS`) depend on the
    design's shape only, never on the number of cores, so the sums over them are the same on
    any machine; a worker per core (:func:`worker_count`) takes the next chunk when done, so
    a core busy with another process slows the product gracefully. During the chunks every
    BLAS library runs one thread: the per-block products are too small for BLAS's own
    threads, and numpy releases the GIL inside BLAS, so the workers run in parallel. Each
    partial result costs ``width`` squared floats at most (chunks are capped so that all of
    them take at most a quarter of the rows' memory).
    """
    blocks = -(-n // step)
    chunks = max(1, min(_MAX_CHUNKS, blocks, n // (4 * max(width, 1))))
    edges = [min(n, (blocks * i // chunks) * step) for i in range(chunks + 1)]
    spans = list(zip(edges[:-1], edges[1:], strict=True))
    if len(spans) == 1:
        return [kernel(0, n)]
    with _one_blas_thread():
        # (a kernel that itself multiplies over rows runs its chunks in its own thread)
        nested = threading.current_thread().name.startswith(_WORKER_NAME)
        if nested or worker_count() == 1:
            return [kernel(start, stop) for start, stop in spans]
        return list(_pool().map(lambda span: kernel(*span), spans))


#: Most chunks a product over rows is split into (enough to balance 2-16 cores).
_MAX_CHUNKS = 16
_WORKER_NAME = "glmspec-rows"
_POOL: list[ThreadPoolExecutor] = []
_LOCK = threading.Lock()
_BLAS_LIMIT: list = []  # [controller, active limit, number of callers inside]


def _pool() -> ThreadPoolExecutor:
    with _LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(worker_count(), thread_name_prefix=_WORKER_NAME))
        return _POOL[0]


def _forget_pool() -> None:
    global _LOCK
    _LOCK = threading.Lock()  # a forked child has none of the parent's threads (nor owners)
    _POOL.clear()
    _BLAS_LIMIT.clear()


os.register_at_fork(after_in_child=_forget_pool)


@contextmanager
def _one_blas_thread():
    """Limit every loaded BLAS to one thread; the last of concurrent callers restores it."""
    with _LOCK:
        if not _BLAS_LIMIT:
            _BLAS_LIMIT.extend([ThreadpoolController(), None, 0])
        if _BLAS_LIMIT[2] == 0:
            _BLAS_LIMIT[1] = _BLAS_LIMIT[0].limit(limits=1, user_api="blas")
        _BLAS_LIMIT[2] += 1
    try:
        yield
    finally:
        with _LOCK:
            _BLAS_LIMIT[2] -= 1
            if _BLAS_LIMIT[2] == 0:
                _BLAS_LIMIT[1].restore_original_limits()
                _BLAS_LIMIT[1] = None


@dataclass(frozen=True)
class GramFactor:
    """Upper-triangular ``r`` with ``X' W X = r' r``, and how it was obtained.

    ``row_q`` (QR factors asked for it only) is ``Q`` of ``sqrt(W) X = Q r`` with each row
    divided by its ``sqrt(w)`` (zero where ``w`` is zero): :meth:`solve_rows` then solves a
    system ``X' v`` as least squares, without the normal equations.
    """

    r: np.ndarray
    method: str
    row_q: np.ndarray | None = field(default=None, kw_only=True, repr=False)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """Solve ``(r' r) x = rhs``."""
        # LAPACK's trtrs called as scipy's solve_triangular calls it (a C-ordered r is read as
        # its transpose), without that wrapper's checks: a small fit spends a tenth of its time
        # there otherwise.
        r = self.r
        if r.flags.f_contiguous:
            half, _ = lapack.dtrtrs(r, rhs, lower=0, trans=1)
            solution, _ = lapack.dtrtrs(r, half, lower=0, trans=0)
        else:
            half, _ = lapack.dtrtrs(r.T, rhs, lower=1, trans=0)
            solution, _ = lapack.dtrtrs(r.T, half, lower=1, trans=1)
        return solution

    def solve_rows(self, v: np.ndarray) -> np.ndarray:
        """Solve ``(r' r) x = X' v`` given ``v`` (needs ``row_q``).

        This is the least-squares solution ``r^{-1} Q' (v / sqrt(w))`` of a QR: its error is
        about ``kappa * eps`` relative, where solving ``r' r x = X' v`` (the semi-normal
        equations) loses another factor ``kappa``, the condition number of ``sqrt(W) X``.
        """
        return linalg.solve_triangular(self.r, self.row_q.T @ v, check_finite=False)

    def without_rows(self) -> GramFactor:
        """The same factor without ``row_q`` (n x p: not worth keeping in a result)."""
        return self if self.row_q is None else GramFactor(self.r, self.method)

    def inverse_diagonal(self) -> np.ndarray:
        """Diagonal of ``(X' W X)^{-1}``."""
        r_inv = linalg.solve_triangular(self.r, np.eye(self.r.shape[0]), check_finite=False)
        return np.einsum("ij,ij->i", r_inv, r_inv)

    def inverse(self) -> np.ndarray:
        """Return ``(X' W X)^{-1}``, the unscaled covariance of the coefficients."""
        r_inv = linalg.solve_triangular(self.r, np.eye(self.r.shape[0]), check_finite=False)
        inv = r_inv @ r_inv.T
        return 0.5 * (inv + inv.T)


def factor_gram(gram: np.ndarray, rcond_min: float = _RCOND_MIN) -> GramFactor | None:
    """Cholesky factor of a symmetric positive-definite ``gram``, or None.

    The matrix is equilibrated to unit diagonal first; None is returned when it is not
    positive definite or its reciprocal condition number is not above ``rcond_min`` (default
    ``1e-8``), where the caller should switch to a more accurate method or check the rank.
    """
    scale = np.sqrt(np.diag(gram))
    if not (np.all(scale > 0) and np.all(np.isfinite(scale))):
        return None
    scaled = gram / np.outer(scale, scale)
    chol, info = lapack.dpotrf(scaled, lower=0, clean=1)
    if info != 0:
        return None
    rcond, _ = lapack.dpocon(chol, np.abs(scaled).sum(axis=0).max())
    if not rcond > rcond_min:
        return None
    return GramFactor(chol * scale[None, :], "cholesky")


def factorize(
    X: np.ndarray,
    w: np.ndarray,
    column_names: Sequence[str] | None = None,
    gram: np.ndarray | None = None,
    keep_rows: bool = False,
) -> GramFactor:
    """Factor ``X' diag(w) X``, by Cholesky when well conditioned, else by QR of ``sqrt(w) X``.

    ``gram`` is ``X' diag(w) X`` when the caller has computed it already (it must, for a design
    that is not an ndarray: ``X`` is then only read, densely, by the QR). ``keep_rows=True``
    keeps a QR factor's ``row_q`` (see :class:`GramFactor`) for :meth:`GramFactor.solve_rows`.

    Raises
    ------
    SingularDesignError
        If the weighted design is rank deficient; the message names each aliased column and
        the columns it is a combination of.
    """
    factor = factor_gram(weighted_gram(X, w) if gram is None else gram)
    return factor if factor is not None else _qr_factor(X, w, column_names, keep_rows)


def factorize_gram(gram: np.ndarray, column_names: Sequence[str] | None = None) -> GramFactor:
    """Factor ``X' W X`` from the matrix alone, for rows that are not in memory.

    Cholesky when well conditioned (as :func:`factorize`); otherwise a pivoted Cholesky of
    the equilibrated matrix finds the rank. A diagonal below ``1e-7`` (the square root of a
    QR's ``1e-14`` on ``X`` itself, since the cross-product squares the condition number)
    means aliased columns, named as :func:`factorize` names them; a full-rank but
    ill-conditioned matrix keeps the plain Cholesky factor, which is less accurate than the
    QR of the rows that :func:`factorize` would use.

    Raises
    ------
    SingularDesignError
        The information is rank deficient (or has a zero diagonal: a column that is zero
        wherever the weights are positive).
    """
    factor = factor_gram(gram)
    if factor is not None:
        return factor
    p = gram.shape[0]
    norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    safe = np.where(norms > 0, norms, 1.0)
    scaled = gram / np.outer(safe, safe)
    chol, piv, rank, _ = lapack.dpstrf(scaled, lower=0, tol=_GRAM_RANK_TOL**2)
    pivot = piv - 1
    r_piv = np.triu(chol)
    if rank < p or np.any(norms == 0):
        rank = min(rank, int(np.sum(norms > 0)))
        raise SingularDesignError(_aliased_message(r_piv, pivot, rank, safe, norms, column_names))
    factor = factor_gram(gram, rcond_min=0.0)  # full rank: keep any Cholesky factor
    if factor is None:
        raise SingularDesignError(
            _aliased_message(r_piv, pivot, rank - 1, safe, norms, column_names)
        )
    return factor


def check_rank(X: np.ndarray, column_names: Sequence[str] | None = None) -> None:
    """Raise :class:`SingularDesignError` naming the aliased columns if ``X`` is rank deficient."""
    _qr_factor(X, np.ones(X.shape[0]), column_names)


def _qr_factor(
    X: np.ndarray, w: np.ndarray, column_names: Sequence[str] | None, keep_rows: bool = False
) -> GramFactor:
    root_w = np.sqrt(w)
    weighted = np.asarray(X) * root_w[:, None]
    norms = np.linalg.norm(weighted, axis=0)
    safe = np.where(norms > 0, norms, 1.0)
    scaled = weighted / safe
    r_piv, pivot = linalg.qr(scaled, mode="r", pivoting=True, check_finite=False)
    diag = np.abs(np.diag(r_piv))
    rank = int(np.sum(diag > _RANK_TOL * diag[0])) if diag.size and diag[0] > 0 else 0
    if rank < X.shape[1]:
        raise SingularDesignError(_aliased_message(r_piv, pivot, rank, safe, norms, column_names))
    if keep_rows:
        q, r = linalg.qr(scaled, mode="economic", check_finite=False)
    else:
        (r,) = linalg.qr(scaled, mode="r", check_finite=False)
    r = np.triu(r[: X.shape[1]])
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    row_q = None
    if keep_rows:
        # sqrt(W) X = (Q S)(S r) diag(norms) for the signs S; rows of zero weight take no part
        row_q = q * signs[None, :] / np.where(root_w > 0, root_w, np.inf)[:, None]
    return GramFactor((r * signs[:, None]) * norms[None, :], "qr", row_q=row_q)


def _aliased_message(r_piv, pivot, rank, col_scale, norms, column_names) -> str:
    p = len(pivot)
    names = list(column_names) if column_names is not None else [f"x{j}" for j in range(p)]
    kept = pivot[:rank]
    lines = []
    for pos in range(rank, p):
        j = pivot[pos]
        if norms[j] == 0:
            lines.append(f"column {names[j]!r} is zero wherever the weights are positive")
            continue
        coef = linalg.solve_triangular(r_piv[:rank, :rank], r_piv[:rank, pos]) if rank else []
        terms = [
            f"{c * col_scale[j] / col_scale[i]:+.6g} * {names[i]!r}"
            for c, i in zip(coef, kept, strict=True)
            if abs(c) > 1e-7
        ]
        lines.append(f"column {names[j]!r} = {' '.join(terms) if terms else '0'}")
    return (
        f"the design matrix is rank deficient (rank {rank} < {p} columns): "
        + "; ".join(lines)
        + ". Drop or recode the aliased column(s) (R would report them as NA)."
    )
