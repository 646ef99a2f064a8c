"""The formula: parsing, the names it uses, and patsy terms evaluated into matrices.

Shared by the in-memory design (:mod:`.build`) and the Dask engine's per-partition blocks
(:mod:`glmspec.distributed.design`), which must read a formula exactly alike.
"""

from __future__ import annotations

import builtins

import numpy as np
import pandas as pd
import patsy
import patsy.builtins

from glmspec.design import formula_check, formula_parse
from glmspec.design import matrix as catmatrix
from glmspec.design import plan as fastdesign
from glmspec.errors import (
    DataError,
    FormulaError,
    suggest,
)

# the bare numpy functions of safe mode (log, sqrt, ...) too, so a safe formula means the
# same in both modes; the caller's own names come first
FORMULA_NAMESPACE = {name: getattr(np, name) for name in formula_check.BARE_FUNCTIONS}


PATSY_BUILTINS = frozenset(patsy.builtins.__all__)


# formula_mode="safe": the allowlisted functions (and cbind), evaluated without builtins
SAFE_ENV = formula_check.safe_eval_env()


def parse_model_formula(formula: str, formula_mode: str = "python") -> patsy.ModelDesc:
    """patsy's terms of ``formula``; in safe mode only after every term passed the check."""
    desc = formula_parse.parse_formula(formula)
    if formula_check.check_mode(formula_mode) == "safe":
        hint = " Pass formula_mode='python' to evaluate formula terms as Python."
        formula_check.check_safe(formula, desc, hint)
    return desc


def response_label(desc: patsy.ModelDesc) -> str:
    """The response's label: its terms' names joined by ``+`` (``successes + failures``)."""
    return " + ".join(t.name() for t in desc.lhs_termlist)


def used_columns(
    desc: patsy.ModelDesc, frame: pd.DataFrame, formula: str, env: patsy.EvalEnvironment
) -> list[str]:
    """Data columns the formula refers to; names neither in the data nor resolvable in the
    formula's namespace (patsy builtins, ``np``, the caller's variables) are an error."""
    factors = list(formula_parse.formula_factors(desc))
    for factor in factors:
        check_functions(factor.code, formula, env)
    names = formula_parse.factor_names(factors)
    columns = [c for c in frame.columns if c in names]
    repeated = sorted({str(c) for c in columns if columns.count(c) > 1})
    if repeated:
        name = repeated[0]
        raise DataError(
            f"column name {name!r} appears {columns.count(name)} times in the data; rename the "
            "duplicates so the formula is unambiguous."
        )
    unresolved = sorted(n for n in names - set(columns) if not resolvable(n, env))
    if unresolved:
        name = unresolved[0]
        raise FormulaError(
            f"formula {formula!r} uses {name!r}, which is not a column of the data."
            f"{suggest(name, map(str, frame.columns))}"
        )
    return columns


def resolvable(name: str, env: patsy.EvalEnvironment | None) -> bool:
    """Whether patsy can evaluate ``name`` without the data. A Python builtin is not: a term
    ``type`` that is not a column would evaluate to the builtin and drop out of the model."""
    if name in PATSY_BUILTINS or name in FORMULA_NAMESPACE:
        return True
    return env is not None and name in env.namespace


def check_functions(code: str, formula: str, env: patsy.EvalEnvironment) -> None:
    """Every function a term calls by name is patsy's, glmspec's, the namespace's or (when
    the namespace has builtins) a Python builtin such as ``abs``."""
    for name in formula_parse.functions_in(code):
        with_builtins = env is not SAFE_ENV and hasattr(builtins, name)
        if not (resolvable(name, env) or with_builtins):
            hint = formula_check.OFFSET_HINT if name == "offset" else ""
            raise FormulaError(
                f"formula {formula!r} calls {name!r}, which is not a known function.{hint}"
            )


# Missing values in the data are found (and dropped) before patsy sees it; what the formula
# itself produces passes through patsy and is found in the built matrix.
PASS_NA = patsy.NAAction(NA_types=[])


def build_terms(termlist, frame, eval_env) -> patsy.DesignMatrix:
    """patsy's matrix of ``termlist`` on ``frame``; missing values pass through (see PASS_NA)."""
    return patsy.dmatrix(patsy.ModelDesc([], termlist), frame, eval_env=eval_env, NA_action=PASS_NA)


def nonfinite_design_rows(X, info, lhs) -> dict[str, np.ndarray]:
    """Masks of rows with NaN/inf per design column (response included)."""
    found = {}
    design = catmatrix.as_design(X)
    dense = design.dense  # the coded factors' codes are always finite
    if np.isfinite(dense).all() and (lhs is None or np.isfinite(np.asarray(lhs)).all()):
        return found  # the usual case, in one pass over the matrix
    names = [info.column_names[j] for j in design.dense_columns]
    pairs = list(zip(names, np.asarray(dense).T, strict=True))
    if lhs is not None:
        pairs += list(zip(lhs.design_info.column_names, np.asarray(lhs).T, strict=True))
    for name, column in pairs:
        bad = ~np.isfinite(column)
        if bad.any():
            found[name] = bad
    return found


def build_failure(formula: str, exc: Exception, desc, frame: pd.DataFrame) -> str:
    """The patsy error, preceded by the text column used as a number when that is the cause."""
    for factor in formula_parse.formula_factors(desc):
        code = factor.code
        for name in formula_parse.names_in(code):
            if name not in frame.columns or code in (name, f"C({name})"):
                continue
            col = frame[name]
            if isinstance(col.dtype, pd.CategoricalDtype) or not (
                pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
            ):
                example = col.dropna().iloc[0] if col.notna().any() else None
                return (
                    f"column {name!r} holds non-numeric text (e.g. {example!r}) but the "
                    f"formula {formula!r} uses it as a number in {code!r}."
                )
    return f"cannot build the design for {formula!r}: {exc}"


def build_rhs(termlist, frame, eval_env, allow_coded: bool):
    """Design info and matrix: many-level factors as codes when allowed, else dense."""
    (info,) = patsy.design_matrix_builders(
        [termlist], lambda: iter([frame]), eval_env, NA_action=PASS_NA
    )
    coded = catmatrix.from_patsy(info, frame, formula_parse.names_in) if allow_coded else None
    if coded is not None:
        return info, coded
    matrix = fastdesign.build_matrix(info, frame)  # patsy's matrix, built with numpy
    if matrix is not None:
        return info, matrix
    (matrix,) = patsy.build_design_matrices([info], frame, NA_action=PASS_NA)
    return info, np.ascontiguousarray(matrix, dtype=float)


def design_info_levels(info) -> dict[str, tuple]:
    """Each categorical factor's levels in a patsy ``DesignInfo``."""
    return {
        factor.name(): tuple(fi.categories)
        for factor, fi in info.factor_infos.items()
        if fi.type == "categorical"
    }
