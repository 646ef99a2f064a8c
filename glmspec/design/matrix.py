"""The design-matrix protocol, and a design whose many-level factors are kept as integer codes.

Solvers and inference ask a design for a few products and nothing else: :func:`as_design`
gives them an object with

* ``shape``; ``matvec(b)`` (``X b``) and ``rmatvec(v)`` (``X' v``);
* ``gram(w)`` (``X' diag(w) X``) and ``gram_and_rmatvec(w, v, single=False)`` (both in one
  pass over the rows);
* ``abs_matvec(v)`` (``|X| v``) and ``squares_rmatvec(v)`` (``(X * X)' v``), for the rounding
  floor of the convergence test;
* ``rows(start, stop)`` and ``row_blocks(width)`` (dense rows, about 1 MiB at a time),
  ``column(j)``, ``constant_columns()``, ``take(rows)`` (a row subset, same kind);
* ``supports_single`` -- whether ``gram_and_rmatvec(single=True)`` is faster than double.

:class:`DenseDesign` wraps an ndarray (its kernels are :mod:`glmspec.linalg`'s);
:class:`CategoricalBlockMatrix` keeps each many-level factor as one integer code per row. A
factor with k levels expands to k-1 (or k) indicator columns that are almost all zero; kept as
codes, the products cost O(n) per factor instead of O(n k):

* ``X @ b`` adds ``b[code]`` to the dense part's product;
* ``X' v`` for the dummy columns is a group sum, ``bincount(code, v)``;
* in ``X' W X`` the dummy-dummy block of one factor is diagonal (``bincount(code, w)``), the
  dummy-numeric block is a sparse one-hot matrix times the weighted dense columns, and the
  block between two factors is a weighted cross-tabulation.

The categorical matrix converts to the dense array with ``np.asarray`` for anything else (the
QR fallback, the statsmodels check). Its columns are in patsy's order, so results are
identical to the dense design's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import patsy
from scipy import sparse

from glmspec.design.plan import build_matrix
from glmspec.linalg import (
    abs_matvec,
    block_rows,
    gram_and_product,
    matvec,
    rmatvec,
    squares_matvec,
    weighted_gram,
)


@dataclass(frozen=True, eq=False)
class CodedBlock:
    """Indicator columns of one factor: row i has a 1 in column ``columns[codes[i]]``.

    ``codes[i] == -1`` marks the reference level (a row of zeros).
    """

    codes: np.ndarray
    columns: np.ndarray

    @property
    def width(self) -> int:
        return len(self.columns)

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Group sums of ``values`` over the block's columns (reference rows dropped)."""
        return np.bincount(self.codes + 1, weights=values, minlength=self.width + 1)[1:]

    def weighted_indicators(self, w: np.ndarray) -> sparse.csc_array:
        """The transposed indicator columns with ``w[i]`` in place of row i's 1 (width x n).

        Times a dense block of rows it gives the weighted group sums of all its columns in
        one compiled pass (no n-vector temporary per column). Built directly in compressed
        columns: row i of the design is column i here, with at most one entry.
        """
        hit = self.codes >= 0
        indptr = np.zeros(len(self.codes) + 1, dtype=np.intp)
        np.cumsum(hit, out=indptr[1:])
        return sparse.csc_array(
            (w[hit], self.codes[hit], indptr), shape=(self.width, len(self.codes))
        )

    def take(self, rows: np.ndarray) -> CodedBlock:
        """The block on a subset of the rows."""
        return CodedBlock(self.codes[rows], self.columns)


@dataclass(frozen=True, eq=False)
class CategoricalBlockMatrix:
    """An n x p design: dense columns plus one or more coded indicator blocks."""

    dense: np.ndarray
    dense_columns: np.ndarray
    blocks: tuple[CodedBlock, ...]
    n_columns: int

    ndim = 2
    dtype = np.dtype(float)
    #: single-precision products would save nothing on the coded blocks
    supports_single = False

    @property
    def shape(self) -> tuple[int, int]:
        return (self.dense.shape[0], self.n_columns)

    def __len__(self) -> int:
        return self.dense.shape[0]

    def matvec(self, coef: np.ndarray) -> np.ndarray:
        """``X b``."""
        out = matvec(self.dense, coef[self.dense_columns])
        for block in self.blocks:
            out += np.concatenate([[0.0], coef[block.columns]])[block.codes + 1]
        return out

    __matmul__ = matvec

    @property
    def T(self) -> _Transposed:  # noqa: N802 - mirrors ndarray.T
        return _Transposed(self)

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        """``X' v``."""
        out = np.empty(self.n_columns)
        out[self.dense_columns] = rmatvec(self.dense, v)
        for block in self.blocks:
            out[block.columns] = block.sums(v)
        return out

    def gram(self, w: np.ndarray) -> np.ndarray:
        """``X' diag(w) X`` from its blocks, never touching a zero of the dummies."""
        return self.gram_and_rmatvec(w)[0]

    def gram_and_rmatvec(
        self, w: np.ndarray, v: np.ndarray | None = None, *, single: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(X' diag(w) X, X' v)``, the dense columns' parts in one pass over them;
        ``single`` is ignored (always double precision)."""
        gram = np.zeros((self.n_columns, self.n_columns))
        product = None if v is None else np.empty(self.n_columns)
        dc = self.dense_columns
        gram[np.ix_(dc, dc)], dense_product = gram_and_product(self.dense, w, v)
        if product is not None:
            product[dc] = dense_product
        for a, block in enumerate(self.blocks):
            cols = block.columns
            gram[cols, cols] = block.sums(w)
            if product is not None:
                product[cols] = block.sums(v)
            if len(dc):
                cross = block.weighted_indicators(w) @ self.dense
                gram[np.ix_(cols, dc)] = cross
                gram[np.ix_(dc, cols)] = cross.T
            for other in self.blocks[a + 1 :]:
                table = _crosstab(block, other, w)
                gram[np.ix_(cols, other.columns)] = table
                gram[np.ix_(other.columns, cols)] = table.T
        return gram, product

    def abs_matvec(self, v: np.ndarray) -> np.ndarray:
        """``|X| v``."""
        out = abs_matvec(self.dense, v[self.dense_columns])
        for block in self.blocks:
            out += np.concatenate([[0.0], v[block.columns]])[block.codes + 1]
        return out

    def squares_rmatvec(self, v: np.ndarray) -> np.ndarray:
        """``(X * X)' v``."""
        out = np.empty(self.n_columns)
        out[self.dense_columns] = squares_matvec(self.dense, v)
        for block in self.blocks:
            out[block.columns] = block.sums(v)
        return out

    def column(self, j: int) -> np.ndarray:
        """Column ``j`` as a dense vector."""
        hit = np.flatnonzero(self.dense_columns == j)
        if hit.size:
            return self.dense[:, hit[0]]
        for block in self.blocks:
            hit = np.flatnonzero(block.columns == j)
            if hit.size:
                return (block.codes == hit[0]).astype(float)
        raise IndexError(j)

    def constant_columns(self) -> list[int]:
        """Indices of columns that are 1 in every row (the intercept)."""
        dense = self.dense
        return [
            int(self.dense_columns[j]) for j in range(dense.shape[1]) if np.all(dense[:, j] == 1)
        ]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as a dense array."""
        out = np.zeros((min(stop, self.shape[0]) - start, self.n_columns))
        out[:, self.dense_columns] = self.dense[start:stop]
        for block in self.blocks:
            codes = block.codes[start:stop]
            hit = np.flatnonzero(codes >= 0)
            out[hit, block.columns[codes[hit]]] = 1.0
        return out

    def row_blocks(self, width: int | None = None):
        """Yield ``(slice, dense rows)`` in blocks of about 1 MiB of ``width`` columns."""
        return _row_blocks(self, width)

    def take(self, rows: np.ndarray) -> CategoricalBlockMatrix:
        """The design on a subset of the rows."""
        return CategoricalBlockMatrix(
            np.ascontiguousarray(self.dense[rows]),
            self.dense_columns,
            tuple(block.take(rows) for block in self.blocks),
            self.n_columns,
        )

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.rows(0, self.shape[0])
        return out if dtype is None else out.astype(dtype, copy=False)


@dataclass(frozen=True, eq=False)
class DenseDesign:
    """An n x p design held as one dense array (wrapped, not copied)."""

    array: np.ndarray

    supports_single = True

    @property
    def shape(self) -> tuple[int, int]:
        return self.array.shape

    @property
    def dense(self) -> np.ndarray:
        """The dense columns (all of them), as :class:`CategoricalBlockMatrix` names its own."""
        return self.array

    @property
    def dense_columns(self) -> np.ndarray:
        """Indices of :attr:`dense`'s columns in the design."""
        return np.arange(self.array.shape[1])

    def matvec(self, coef: np.ndarray) -> np.ndarray:
        """``X b`` (:func:`glmspec.linalg.matvec`)."""
        return matvec(self.array, coef)

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        """``X' v``."""
        return rmatvec(self.array, v)

    def gram(self, w: np.ndarray) -> np.ndarray:
        """``X' diag(w) X`` (:func:`glmspec.linalg.weighted_gram`)."""
        return weighted_gram(self.array, w)

    def gram_and_rmatvec(
        self, w: np.ndarray, v: np.ndarray | None = None, *, single: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(X' diag(w) X, X' v)`` in one pass (:func:`glmspec.linalg.gram_and_product`)."""
        return gram_and_product(self.array, w, v, single=single)

    def abs_matvec(self, v: np.ndarray) -> np.ndarray:
        """``|X| v``."""
        return abs_matvec(self.array, v)

    def squares_rmatvec(self, v: np.ndarray) -> np.ndarray:
        """``(X * X)' v``."""
        return squares_matvec(self.array, v)

    def column(self, j: int) -> np.ndarray:
        """Column ``j``."""
        return self.array[:, j]

    def constant_columns(self) -> list[int]:
        """Indices of columns that are 1 in every row (the intercept)."""
        X = self.array
        return [j for j in range(X.shape[1]) if np.all(X[:, j] == 1.0)]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (a view)."""
        return self.array[start:stop]

    def row_blocks(self, width: int | None = None):
        """Yield ``(slice, rows)`` in blocks of about 1 MiB of ``width`` columns."""
        return _row_blocks(self, width)

    def take(self, rows: np.ndarray) -> DenseDesign:
        """The design on a subset of the rows."""
        return DenseDesign(self.array[rows])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.array if dtype is None else self.array.astype(dtype, copy=False)


Design = DenseDesign | CategoricalBlockMatrix


def as_design(X: Any) -> Design:
    """``X`` as a design (see the module's protocol): a coded or wrapped design as it is, any
    other 2-d array wrapped in a :class:`DenseDesign`.

    The one place that tells the kinds apart; callers then use the protocol's methods.
    """
    if isinstance(X, DenseDesign | CategoricalBlockMatrix):
        return X
    return DenseDesign(np.asarray(X))


def _row_blocks(design: Design, width: int | None):
    n = design.shape[0]
    step = block_rows(design.shape[1] if width is None else width)
    for start in range(0, n, step):
        stop = min(start + step, n)
        yield slice(start, stop), design.rows(start, stop)


@dataclass(frozen=True)
class _Transposed:
    matrix: CategoricalBlockMatrix

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        return self.matrix.rmatvec(v)


def _crosstab(a: CodedBlock, b: CodedBlock, w: np.ndarray) -> np.ndarray:
    """``sum(w)`` over rows by (level of a, level of b), reference levels dropped."""
    cells = (a.codes + 1) * (b.width + 1) + (b.codes + 1)
    table = np.bincount(cells, weights=w, minlength=(a.width + 1) * (b.width + 1))
    return table.reshape(a.width + 1, b.width + 1)[1:, 1:]


# Rows looked at before a column is checked whole: a column that varies almost always varies
# there, so the full check runs on the intercept (and the rare look-alikes) only.
_CONSTANT_PROBE_ROWS = 64


def intercept_column(X: np.ndarray) -> int | None:
    """The column of ``X`` that is the intercept, as statsmodels' ``const_idx``: a column whose
    values are all equal and nonzero; of several, the first column of ones, else the first.

    Parameters
    ----------
    X : ndarray of shape (n, p)

    Returns
    -------
    int or None
        Its index, or None when no column is constant and nonzero.
    """
    head = X[:_CONSTANT_PROBE_ROWS]
    candidates = np.flatnonzero((head == head[0]).all(axis=0) & (head[0] != 0))
    constant = [int(j) for j in candidates if np.all(X[:, j] == X[0, j])]
    if not constant:
        return None
    ones = [j for j in constant if X[0, j] == 1]
    return (ones or constant)[0]


#: Factors with at least this many levels are kept as codes (below it dense BLAS is as fast).
MIN_LEVELS = 32


def from_patsy(
    info: patsy.DesignInfo, frame: pd.DataFrame, names_in
) -> CategoricalBlockMatrix | None:
    """Build the coded representation of ``info``'s design on ``frame``, or None.

    A term qualifies when it is a single categorical factor with at least :data:`MIN_LEVELS`
    levels, coded by indicator columns (treatment contrasts, with or without a reference
    level), and its factor reads exactly one column of ``frame``. The other terms are built
    densely by patsy. Returns None when no term qualifies.
    """
    coded = {}
    for term in info.terms:
        found = _indicator_coding(info, term, frame, names_in)
        if found is not None:
            coded[term] = found
    if not coded:
        return None
    dense_terms = [t for t in info.terms if t not in coded]
    names = info.column_names
    if dense_terms:
        dense_info = info.subset(dense_terms)
        dense = build_matrix(dense_info, frame)  # patsy's columns, built with numpy
        if dense is None:
            (dense,) = patsy.build_design_matrices(
                [dense_info], frame, NA_action=patsy.NAAction(NA_types=[])
            )
        dense_columns = [names.index(c) for c in dense_info.column_names]
    else:
        dense, dense_columns = np.zeros((len(frame), 0)), []
    blocks = []
    for term, (codes, level_to_column) in coded.items():
        columns = np.arange(len(names))[info.term_slices[term]]
        blocks.append((level_to_column[codes], columns))
    return build(np.asarray(dense), dense_columns, blocks, len(names))


def _indicator_coding(info, term, frame, names_in):
    """(level codes per row, column within the term per level) for qualifying terms."""
    if len(term.factors) != 1:
        return None
    factor = term.factors[0]
    factor_info = info.factor_infos[factor]
    if factor_info.type != "categorical" or len(factor_info.categories) < MIN_LEVELS:
        return None
    (subterm,) = info.term_codings[term]
    matrix = subterm.contrast_matrices[factor].matrix
    ones = matrix == 1
    if not (np.all(ones | (matrix == 0)) and np.all(ones.sum(axis=1) <= 1)):
        return None
    if not np.all(ones.sum(axis=0) == 1):
        return None
    level_to_column = np.where(ones.any(axis=1), ones.argmax(axis=1), -1)
    sources = [c for c in names_in(factor.code) if c in frame.columns]
    if len(sources) != 1 or factor.code not in (sources[0], f"C({sources[0]})"):
        return None
    codes = pd.Categorical(frame[sources[0]], categories=list(factor_info.categories)).codes
    if np.any(codes < 0):
        return None
    return codes.astype(np.intp), level_to_column


def build(
    dense: np.ndarray,
    dense_columns: Sequence[int],
    blocks: Sequence[tuple[np.ndarray, Sequence[int]]],
    n_columns: int,
) -> CategoricalBlockMatrix:
    """Assemble the matrix from the dense part and ``(codes, columns)`` per factor."""
    return CategoricalBlockMatrix(
        dense=np.ascontiguousarray(dense, dtype=float),
        dense_columns=np.asarray(dense_columns, dtype=np.intp),
        blocks=tuple(
            CodedBlock(np.asarray(codes, dtype=np.intp), np.asarray(cols, dtype=np.intp))
            for codes, cols in blocks
        ),
        n_columns=int(n_columns),
    )


def row_blocks(X: Any, width: int | None = None):
    """Yield ``(slice, dense rows)`` over ``X`` in blocks of about 1 MiB."""
    return as_design(X).row_blocks(width)
