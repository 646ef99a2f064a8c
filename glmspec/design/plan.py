"""Dense design matrices straight from a patsy ``DesignInfo`` with numpy, skipping patsy's build.

patsy's :func:`patsy.build_design_matrices` evaluates each factor with ``eval``, maps text
levels one value at a time and fills the matrix one column at a time over the whole array. For
the common terms -- the intercept, numeric columns, categorical columns (with any contrast the
``DesignInfo`` records) and products of these -- the matrix is a product of a column of the
data and rows of small contrast tables picked by integer level codes. :func:`build_matrix`
does exactly that, in row blocks that stay in cache, into one preallocated C-ordered float64
array. Its columns, their order and their values are patsy's: each entry is the same product
of the same factors, multiplied in the same order.

A term is *simple* when every factor's code is

* a bare column name (or ``Q("name")``) of the data with one numeric column, or a categorical
  factor (a pandas Categorical, text, bool or any column patsy treated as categorical), or
* ``C(name, ...)`` on a column of the data (``Treatment``, ``Sum``, ``Helmert``, ``levels=``:
  the contrast matrices and levels come from the ``DesignInfo``).

Other terms (``np.log(x)``, ``I(x ** 2)``, splines and other stateful transforms, variables
from the caller's namespace) are built by patsy, term by term, and copied in; or, with
``partial=False``, the whole matrix is left to patsy. Data patsy would reject or treat
specially (a level not among the ``DesignInfo``'s categories, a missing level, a text column
where a number is expected, a Categorical whose categories differ from the fitted ones) gives
None, so that the caller's patsy build raises patsy's own error.

The plan of the simple part, :class:`DesignPlan`, holds only column names, categories and
contrast tables: it pickles (patsy's ``DesignInfo`` does not), so a distributed engine can
ship it to workers and build each partition's block with :meth:`DesignPlan.build`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy
import patsy.builtins

__all__ = ["DesignPlan", "build_matrix", "compile_plan"]

# patsy's treatment of missing values in the terms it builds here: none are missing, as in
# glmspec.design.build (missing rows are found and dropped before patsy sees the data).
_PASS_NA = patsy.NAAction(NA_types=[])
# Rows per block: about 2 MiB of output, so a block stays in cache while its columns are filled.
_BLOCK_BYTES = 1 << 21


@dataclass(frozen=True)
class FactorPlan:
    """Where one factor's values come from.

    Attributes
    ----------
    column : str
        Data column the factor reads.
    categories : tuple or None
        The levels, in patsy's order, for a categorical factor; None for a numeric one.
    boxed : bool
        The factor is ``C(column, ...)``: values are matched to the levels one by one, as patsy
        does, even for a Categorical column whose categories differ. A bare categorical column
        that is a Categorical must carry exactly these categories (patsy raises otherwise).
    """

    column: str
    categories: tuple | None
    boxed: bool = False

    @property
    def numeric(self) -> bool:
        return self.categories is None


@dataclass(frozen=True, eq=False)
class SubtermPlan:
    """Columns ``start:start + width`` are the products of one column of each factor's table.

    ``factors[i]`` indexes :attr:`DesignPlan.factors`; ``tables[i]`` is that factor's contrast
    matrix (levels x columns) or None for a numeric factor (one column). The left-most factor's
    column varies fastest, as in patsy (and R).
    """

    start: int
    width: int
    factors: tuple[int, ...]
    tables: tuple[np.ndarray | None, ...]


@dataclass(frozen=True, eq=False)
class DesignPlan:
    """How to build the simple terms of a design; see :func:`compile_plan`.

    Attributes
    ----------
    n_columns : int
        Columns of the full design (including those of terms not in the plan).
    factors : tuple of FactorPlan
    subterms : tuple of SubtermPlan
        In column order; together they cover the columns of the planned terms.
    column_names : tuple of str
        The full design's column names, in order.
    """

    n_columns: int
    factors: tuple[FactorPlan, ...]
    subterms: tuple[SubtermPlan, ...]
    column_names: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Whether the plan covers every column of the design."""
        return sum(s.width for s in self.subterms) == self.n_columns

    def build(self, frame: pd.DataFrame, out: np.ndarray | None = None) -> np.ndarray | None:
        """Fill the planned columns of the design for the rows of ``frame``.

        Parameters
        ----------
        frame : pandas.DataFrame
            Holds every column in :attr:`factors`; no missing values in them (NaN in a numeric
            column passes through into the design, as with patsy's ``NA_types=[]``).
        out : ndarray of shape (len(frame), n_columns), optional
            C-ordered float64 array to fill; the columns of terms not in the plan are left as
            they are. A new array is made when not given.

        Returns
        -------
        ndarray or None
            ``out`` (or the new array), or None when a column is absent, of a type patsy would
            treat differently (text for a numeric factor, a Categorical with other
            categories), or holds a value that is not one of the categorical levels (unseen
            or missing): patsy then builds or rejects the data itself.
        """
        values = [_factor_values(f, frame) for f in self.factors]
        if any(v is None for v in values):
            return None
        n = len(frame)
        if out is None:
            out = np.empty((n, self.n_columns))
        elif out.shape != (n, self.n_columns) or out.dtype != np.float64:
            raise ValueError(
                f"out has shape {out.shape} and type {out.dtype}; expected float64 of shape "
                f"{(n, self.n_columns)}."
            )
        step = max(256, _BLOCK_BYTES // (8 * max(self.n_columns, 1)))
        for begin in range(0, n, step):
            rows = slice(begin, min(begin + step, n))
            for sub in self.subterms:
                target = out[rows, sub.start : sub.start + sub.width]
                if not sub.factors:
                    target[...] = 1.0
                    continue
                target[...] = _subterm_block(sub, values, rows)
        return out


def _subterm_block(sub: SubtermPlan, values: list[np.ndarray], rows: slice) -> np.ndarray:
    """The subterm's columns on ``rows``: products of the factors' columns, left one fastest.

    Products are taken left to right, as patsy's ``out[:, i] *= ...`` does, so every entry is
    bit for bit patsy's.
    """
    block = None
    for index, table in zip(sub.factors, sub.tables, strict=True):
        if table is None:
            part = values[index][rows, None]
        else:
            part = np.take(table, values[index][rows], axis=0)
        if block is None:
            block = part
        else:
            # new column index = earlier index + (earlier width) * this factor's column
            block = (block[:, None, :] * part[:, :, None]).reshape(block.shape[0], -1)
    return block


def _factor_values(factor: FactorPlan, frame: pd.DataFrame) -> np.ndarray | None:
    """Numeric values (1-D) or level codes (intp) of one factor, or None (patsy decides)."""
    if factor.column not in frame.columns:
        return None
    col = frame[factor.column]
    if not isinstance(col, pd.Series):  # repeated column name
        return None
    if factor.numeric:
        if not isinstance(col.dtype, np.dtype) or col.dtype.kind not in "iuf":
            return None
        # patsy multiplies in float64 whatever the column's type (int * int must not overflow)
        return np.asarray(col.to_numpy(), dtype=np.float64)
    categories = factor.categories
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        if tuple(col.cat.categories) != categories:
            if not factor.boxed:
                return None  # patsy: "mismatching levels"
            # C(column): patsy matches the values to its levels one by one
            recode = _level_index(categories, col.cat.categories)
            if recode is None:
                return None
            codes = np.where(codes < 0, -1, recode[codes])
    elif col.dtype == np.bool_ and categories == (False, True):
        codes = col.to_numpy()
    else:
        codes = _level_index(categories, col)  # a Series: pandas matches text faster
        if codes is None:
            return None
    codes = np.asarray(codes, dtype=np.intp)
    if codes.size and codes.min() < 0:
        return None
    return codes


def _level_index(categories: tuple, values) -> np.ndarray | None:
    """Position of each value among ``categories`` (-1: none), matching values by equality."""
    try:
        return pd.Index(list(categories), dtype=object).get_indexer(values)
    except (TypeError, ValueError):
        return None


def _source(factor, factor_info) -> FactorPlan | None:
    """The plan of one factor, or None when its code is not a column or ``C(column, ...)``."""
    if not isinstance(factor, patsy.EvalFactor):
        return None
    state = factor_info.state
    namespace = state["eval_env"].namespace if "eval_env" in state else {}
    if state.get("transforms"):
        return None
    try:
        tree = ast.parse(factor.code, mode="eval").body
    except SyntaxError:
        return None
    boxed = False
    if _is_call(tree, "C", namespace, patsy.builtins.C):
        if not tree.args or any(k.arg in (None, "data") for k in tree.keywords):
            return None
        tree, boxed = tree.args[0], True
    if isinstance(tree, ast.Name):
        column = tree.id
    elif (
        _is_call(tree, "Q", namespace, patsy.builtins.Q)
        and len(tree.args) == 1
        and not tree.keywords
        and isinstance(tree.args[0], ast.Constant)
        and isinstance(tree.args[0].value, str)
    ):
        column = tree.args[0].value
    else:
        return None
    if factor_info.type == "categorical":
        return FactorPlan(column, tuple(factor_info.categories), boxed)
    if boxed or factor_info.num_columns != 1:
        return None
    return FactorPlan(column, None)


def factor_column(factor, factor_info) -> str | None:
    """The data column whose values are the factor's values (``x``, ``Q("x")``, ``C(x, ...)``),
    or None when the factor computes them (``C(x > 2)``, ``np.log(x)``, a transform)."""
    source = _source(factor, factor_info)
    return None if source is None else source.column


def _is_call(node: ast.AST, name: str, namespace, builtin) -> bool:
    """``node`` is a call of the patsy builtin ``name`` (not shadowed by the caller)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and namespace.get(name, builtin) is builtin
    )


def compile_plan(
    design_info: patsy.DesignInfo, *, partial: bool = False, columns=None
) -> DesignPlan | None:
    """The numpy plan for ``design_info``'s simple terms.

    Parameters
    ----------
    design_info : patsy.DesignInfo
        The right-hand side's design info, as from :func:`patsy.design_matrix_builders` (for
        the full data, or for a slice of it when every categorical column carries its full
        categories).
    partial : bool
        Plan the simple terms even when others are not (their columns are then left to the
        caller); by default a design with any non-simple term gives None.
    columns : collection of str, optional
        The data's column names: a factor naming anything else (a variable of the formula's
        namespace) is not simple. Without it every name is taken to be a column, and
        :meth:`DesignPlan.build` returns None for data that lacks one.

    Returns
    -------
    DesignPlan or None
        None when no term (or, without ``partial``, not every term) is simple.

    """
    if design_info.term_codings is None:
        return None
    sources = {}
    for factor, info in design_info.factor_infos.items():
        source = _source(factor, info)
        if source is not None and columns is not None and source.column not in columns:
            source = None
        sources[factor] = source
    factor_index: dict = {}
    factors: list[FactorPlan] = []
    subterms: list[SubtermPlan] = []
    start = 0
    for term, codings in design_info.term_codings.items():
        width = sum(s.num_columns for s in codings)
        if any(sources[f] is None for f in term.factors):
            if not partial:
                return None
            start += width
            continue
        for sub in codings:
            indices, tables = [], []
            for factor in sub.factors:
                if sources[factor].numeric != (factor not in sub.contrast_matrices):
                    return None  # a coding this module does not know
                if factor not in factor_index:
                    factor_index[factor] = len(factors)
                    factors.append(sources[factor])
                indices.append(factor_index[factor])
                if factor in sub.contrast_matrices:
                    matrix = sub.contrast_matrices[factor].matrix
                    tables.append(np.ascontiguousarray(matrix, dtype=float))
                else:
                    tables.append(None)
            subterms.append(SubtermPlan(start, sub.num_columns, tuple(indices), tuple(tables)))
            start += sub.num_columns
    if not subterms and design_info.terms:
        return None
    return DesignPlan(
        n_columns=len(design_info.column_names),
        factors=tuple(factors),
        subterms=tuple(subterms),
        column_names=tuple(design_info.column_names),
    )


def build_matrix(
    design_info: patsy.DesignInfo, frame: pd.DataFrame, *, partial: bool = True
) -> np.ndarray | None:
    """Build the design matrix of ``design_info`` on ``frame`` with numpy.

    The result equals ``np.asarray(patsy.build_design_matrices([design_info], frame,
    NA_action=patsy.NAAction(NA_types=[]))[0])`` exactly: same columns, order and values.

    Parameters
    ----------
    design_info : patsy.DesignInfo
        The right-hand side's design info.
    frame : pandas.DataFrame
        The data: every column the formula reads, missing values already removed.
    partial : bool
        When some terms are not simple (functions such as ``np.log(x)``, ``I(...)``, splines),
        build those terms' columns with patsy and the rest with numpy. When False, such a
        design gives None. patsy's missing-value handling of the terms it builds is
        ``NA_types=[]`` (nothing is treated as missing).

    Returns
    -------
    ndarray of shape (len(frame), len(design_info.column_names)) or None
        C-ordered float64; None when the design is not simple (see ``partial``) or the data
        is not what the plan expects (see :meth:`DesignPlan.build`): the caller then uses
        patsy, which raises its own errors.
    """
    if not isinstance(frame, pd.DataFrame):
        return None
    plan = compile_plan(design_info, partial=partial, columns=set(frame.columns))
    if plan is None:
        return None
    out = np.empty((len(frame), plan.n_columns))
    if plan.build(frame, out) is None:
        return None
    if plan.complete:
        return out
    covered = np.zeros(plan.n_columns, dtype=bool)
    for sub in plan.subterms:
        covered[sub.start : sub.start + sub.width] = True
    rest = [
        term
        for term, sl in design_info.term_slices.items()
        if not covered[sl].all() and sl.stop > sl.start
    ]
    (matrix,) = patsy.build_design_matrices([design_info.subset(rest)], frame, NA_action=_PASS_NA)
    # the columns of each patsy-built term, in order, where that term sits in the design
    position = 0
    matrix = np.asarray(matrix)
    for term in rest:
        sl = design_info.term_slices[term]
        width = sl.stop - sl.start
        out[:, sl] = matrix[:, position : position + width]
        position += width
    return out
