"""Formula and data to arrays: response, design matrix, weights and offset, via patsy.

The design keeps patsy's ``DesignInfo`` so that :func:`predict_matrix` rebuilds exactly the
fitted columns from new data. String columns become pandas Categoricals (with sorted levels,
as patsy and R order them) before patsy sees them, which makes patsy about 70x faster on
them. The caller's DataFrame is never modified.

Response conventions, as R's ``glm``:

* binomial: 0/1 numbers, booleans, a two-level factor or string column (the *second* level in
  sorted order is the success), proportions with ``weights`` = number of trials, or two count
  columns ``successes + failures ~ ...`` (also written ``cbind(successes, failures) ~ ...``);
* multinomial: a factor, string or integer column; the first level in sorted order (or a
  Categorical's first category) is the reference class;
* gaussian and poisson: one numeric column.
"""

from __future__ import annotations

import ast
import builtins
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import patsy
import patsy.builtins

from glmspec.design import formula_check
from glmspec.design import matrix as catmatrix
from glmspec.design import plan as fastdesign
from glmspec.design.formula_check import cbind
from glmspec.design.textcolumns import datetime_column_problem, text_values_problem
from glmspec.errors import (
    DataError,
    FormulaError,
    MissingValueError,
    PredictionError,
    ResponseError,
    suggest,
)

MISSING_POLICIES = ("raise", "drop")


# the bare numpy functions of safe mode (log, sqrt, ...) too, so a safe formula means the
# same in both modes; the caller's own names come first
_FORMULA_NAMESPACE = {name: getattr(np, name) for name in formula_check.BARE_FUNCTIONS}
_FORMULA_NAMESPACE |= {"np": np, "numpy": np, "cbind": cbind}
_PATSY_BUILTINS = frozenset(patsy.builtins.__all__)
# formula_mode="safe": the allowlisted functions (and cbind), evaluated without builtins
SAFE_ENV = formula_check.safe_eval_env()


@dataclass(frozen=True)
class Design:
    """Arrays for the solver plus what is needed to describe and rebuild them.

    Attributes
    ----------
    y : ndarray
        Response: numbers; for the binomial the proportion of successes; for the multinomial
        integer class codes (0 = reference).
    X : ndarray of shape (n, p)
    column_names : tuple of str
        patsy's column names, used as coefficient labels.
    prior_weights : ndarray
        R's prior weights; for the binomial they include the number of trials.
    trials : ndarray or None
        Binomial number of trials per row (1 for 0/1 data).
    offset : ndarray
    response_name : str
    classes : tuple or None
        Levels of a categorical response (binomial: failure, success; multinomial: all).
    n_dropped : int
        Rows dropped for missing values (``missing="drop"``).
    row_index : pandas.Index
        Index labels of the rows used.
    factor_levels : dict
        Each categorical factor's levels; the first is the reference.
    freq_weights : ndarray or None
        Frequency weights (a row stands for that many identical rows), kept apart from the
        prior weights; None when not given.
    exposure : ndarray or None
        Exposure given to the fit; ``log(exposure)`` is already part of ``offset``.
    constant_column : int or None
        For a design given as arrays: the column found constant and nonzero, which is the
        intercept (see :func:`glmspec.fit_arrays`); None for formula designs, whose intercept
        is patsy's ``Intercept`` column.
    """

    y: np.ndarray
    X: np.ndarray
    column_names: tuple[str, ...]
    design_info: Any
    prior_weights: np.ndarray
    trials: np.ndarray | None
    offset: np.ndarray
    response_name: str
    classes: tuple | None
    n_dropped: int
    row_index: pd.Index
    factor_levels: dict[str, tuple] = field(default_factory=dict)
    weights_given: bool = False
    offset_given: bool = False
    freq_weights: np.ndarray | None = None
    exposure: np.ndarray | None = None
    constant_column: int | None = None

    @property
    def total_weights(self) -> np.ndarray:
        """Weights the solver uses: prior weights times frequency weights."""
        if self.freq_weights is None:
            return self.prior_weights
        return self.prior_weights * self.freq_weights

    @property
    def has_intercept(self) -> bool:
        """Whether the design contains an intercept: patsy's ``Intercept`` column, or for
        arrays a constant nonzero column (:attr:`constant_column`)."""
        return self.constant_column is not None or "Intercept" in self.column_names


def as_frame(data: Any, what: str = "data") -> pd.DataFrame:
    """``data`` as a pandas DataFrame (never a copy of a DataFrame), or a :class:`DataError`
    saying what ``data`` must be.

    DataFrames of other libraries (polars, pyarrow tables, anything with ``to_pandas()`` or
    the DataFrame interchange protocol ``__dataframe__``) are converted; ``None``, a path and
    a numpy array are refused with the way to pass them.
    """
    if isinstance(data, pd.DataFrame):
        frame = data
    elif data is None or isinstance(data, (str, os.PathLike, np.ndarray)):
        raise DataError(_not_a_table(data, what))
    elif hasattr(data, "to_pandas") or hasattr(data, "__dataframe__"):
        frame = _converted(data, what)
    else:
        try:
            frame = pd.DataFrame(data)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{what} must be a pandas DataFrame or a mapping of column names to values, "
                f"got {type(data).__name__}: {exc}"
            ) from exc
    if frame.shape[0] == 0:
        raise DataError(f"{what} has no rows.")
    return frame


def _not_a_table(data: Any, what: str) -> str:
    """Why ``None``, a path or an array is not ``data``, and what to pass instead."""
    need = f"{what} must be a pandas DataFrame (or a mapping of column names to values)"
    if data is None:
        return f"{what} is None; {need} holding the formula's columns."
    if isinstance(data, np.ndarray):
        return (
            f"{what} is a numpy array; {need} with named columns: pd.DataFrame(array, "
            "columns=[...]); or fit arrays without a formula with glmspec.fit_arrays(y, X)."
        )
    path = str(data)
    reader = "pd.read_parquet" if path.lower().endswith(".parquet") else "pd.read_csv"
    return (
        f"{what} is the string {path!r}, not a table; {need}: read the file first, "
        f"{reader}({path!r}), or give the path to the command line: glmspec fit FORMULA "
        f"--data {path}."
    )


def _converted(data: Any, what: str) -> pd.DataFrame:
    """A polars/pyarrow/interchange-protocol DataFrame as pandas, or a DataError."""
    kind = f"{type(data).__module__.split('.')[0]}.{type(data).__name__}"
    try:
        if hasattr(data, "to_pandas"):  # polars, pyarrow
            frame = data.to_pandas()
        else:
            with warnings.catch_warnings():
                # pandas 3 deprecates the protocol; it is still the common ground of libraries
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                frame = pd.api.interchange.from_dataframe(data)
    except Exception as exc:  # noqa: BLE001 - any converter failure means "pass pandas"
        raise DataError(
            f"{what} is a {kind}, which could not be converted to pandas ({exc}); pass a "
            "pandas DataFrame."
        ) from exc
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what} is a {kind}, not a table; pass a pandas DataFrame.")
    return frame


def _parse(formula: str, formula_mode: str = "python") -> patsy.ModelDesc:
    """patsy's terms of ``formula``; in safe mode only after every term passed the check."""
    desc = formula_check.parse_formula(formula)
    if formula_check.check_mode(formula_mode) == "safe":
        hint = " Pass formula_mode='python' to evaluate formula terms as Python."
        formula_check.check_safe(formula, desc, hint)
    return desc


def response_label(desc: patsy.ModelDesc) -> str:
    """The response's label: its terms' names joined by ``+`` (``successes + failures``)."""
    return " + ".join(t.name() for t in desc.lhs_termlist)


# names a factor reads as variables (columns, ``np``), not the functions it calls
_names_in = formula_check.names_in


def _used_columns(
    desc: patsy.ModelDesc, frame: pd.DataFrame, formula: str, env: patsy.EvalEnvironment
) -> list[str]:
    """Data columns the formula refers to; names neither in the data nor resolvable in the
    formula's namespace (patsy builtins, ``np``, the caller's variables) are an error."""
    names: set[str] = set()
    for term in [*desc.lhs_termlist, *desc.rhs_termlist]:
        for factor in term.factors:
            names |= _names_in(factor.code)
            _check_functions(factor.code, formula, env)
    columns = [c for c in frame.columns if c in names]
    repeated = sorted({str(c) for c in columns if columns.count(c) > 1})
    if repeated:
        name = repeated[0]
        raise DataError(
            f"column name {name!r} appears {columns.count(name)} times in the data; rename the "
            "duplicates so the formula is unambiguous."
        )
    unresolved = sorted(n for n in names - set(columns) if not _resolvable(n, env))
    if unresolved:
        name = unresolved[0]
        raise FormulaError(
            f"formula {formula!r} uses {name!r}, which is not a column of the data."
            f"{suggest(name, map(str, frame.columns))}"
        )
    return columns


def _resolvable(name: str, env: patsy.EvalEnvironment | None) -> bool:
    """Whether patsy can evaluate ``name`` without the data. A Python builtin is not: a term
    ``type`` that is not a column would evaluate to the builtin and drop out of the model."""
    if name in _PATSY_BUILTINS or name in _FORMULA_NAMESPACE:
        return True
    return env is not None and name in env.namespace


# Calls that state the intent to treat their first argument as a factor (R's factor(x) reaches
# here already read as C(x), see formula_check.parse_formula).
_FACTOR_CALLS = ("C",)


def _declared_factor(code: str) -> str | None:
    """The column a factor code declares a factor (``C(col, ...)``, ``C(Q("col"))``), or None."""
    try:
        node = ast.parse(code, mode="eval").body
    except SyntaxError:
        return None
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FACTOR_CALLS
        and node.args
    ):
        return None
    first = node.args[0]
    if isinstance(first, ast.Name):
        return first.id
    quoted = (
        isinstance(first, ast.Call)
        and isinstance(first.func, ast.Name)
        and first.func.id == "Q"
        and len(first.args) == 1
        and isinstance(first.args[0], ast.Constant)
        and isinstance(first.args[0].value, str)
    )
    return first.args[0].value if quoted else None


def unstated_factor_columns(desc: patsy.ModelDesc, family: str) -> set[str]:
    """Names a formula reads other than as ``C(column)``: a text column among them becomes a
    factor without the formula saying so. The response of the binomial and multinomial
    families (a factor response is theirs to read) is left out."""
    categorical_response = family in ("binomial", "quasibinomial", "multinomial")
    names: set[str] = set()
    terms = desc.rhs_termlist if categorical_response else [*desc.lhs_termlist, *desc.rhs_termlist]
    for term in terms:
        for factor in term.factors:
            if _declared_factor(factor.code) is None:
                names |= _names_in(factor.code)
    return names


def check_text_columns(
    desc: patsy.ModelDesc, family: str, levels: dict[str, Any], dates: Iterable[str] = ()
) -> None:
    """Refuse text columns of numbers or dates, and datetime columns, that would silently
    become factors.

    Parameters
    ----------
    desc : patsy.ModelDesc
    family : str
        Canonical family name (a binomial or multinomial response may be text).
    levels : dict
        Each used *text* column's distinct non-missing values.
    dates : iterable of str
        The used columns of a datetime dtype.

    Raises
    ------
    DataError
        Naming the column and its offending values (see :mod:`glmspec.design.textcolumns`).
    """
    unstated = unstated_factor_columns(desc, family)
    for name in dates:
        if name in unstated:
            raise DataError(datetime_column_problem(str(name)))
    for name, values in levels.items():
        if name in unstated:
            problem = text_values_problem(str(name), values)
            if problem is not None:
                raise DataError(problem)


def _is_text(column: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)


def _check_functions(code: str, formula: str, env: patsy.EvalEnvironment) -> None:
    """Every function a term calls by name is patsy's, glmspec's, the namespace's or (when
    the namespace has builtins) a Python builtin such as ``abs``."""
    for name in formula_check.functions_in(code):
        with_builtins = env is not SAFE_ENV and hasattr(builtins, name)
        if not (_resolvable(name, env) or with_builtins):
            hint = formula_check.OFFSET_HINT if name == "offset" else ""
            raise FormulaError(
                f"formula {formula!r} calls {name!r}, which is not a known function.{hint}"
            )


def _with_categoricals(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A shallow copy of the used columns with strings turned into sorted Categoricals."""
    out = frame[columns].copy(deep=False)
    for name in columns:
        if _is_text(out[name]):
            out[name] = pd.Categorical(out[name])
    return out


def _missing_rows(frame: pd.DataFrame, extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Boolean masks of missing (NaN, None, +-inf) values per column that has any."""
    found = {}
    for name, values in [*frame.items(), *extra.items()]:
        values = pd.Series(values) if not isinstance(values, pd.Series) else values
        mask = values.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            mask = mask | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if mask.any():
            found[str(name)] = mask
    return found


def _column_or_array(value: Any, frame: pd.DataFrame, what: str) -> np.ndarray | None:
    if value is None:
        return None
    label = what
    if isinstance(value, str):
        if value not in frame.columns:
            raise DataError(
                f"{what} column {value!r} is not in the data."
                f"{suggest(value, map(str, frame.columns))}"
            )
        label = f"{what} column {value!r}"
        value = frame[value]
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{label} must be numeric: {exc}") from exc
    if array.ndim != 1 or array.shape[0] != frame.shape[0]:
        raise DataError(
            f"{what} has shape {array.shape}; expected one value per row of data "
            f"({frame.shape[0]} rows)."
        )
    return array


# Missing values in the data are found (and dropped) before patsy sees it; what the formula
# itself produces passes through patsy and is found in the built matrix.
_PASS_NA = patsy.NAAction(NA_types=[])


def _build(termlist, frame, eval_env) -> patsy.DesignMatrix:
    return patsy.dmatrix(
        patsy.ModelDesc([], termlist), frame, eval_env=eval_env, NA_action=_PASS_NA
    )


def _nonfinite_design_rows(X, info, lhs) -> dict[str, np.ndarray]:
    """Masks of rows with NaN/inf per design column (response included)."""
    found = {}
    dense = X.dense if hasattr(X, "dense") else X
    if np.isfinite(dense).all() and (lhs is None or np.isfinite(np.asarray(lhs)).all()):
        return found  # the usual case, in one pass over the matrix
    names = (
        [info.column_names[j] for j in X.dense_columns]
        if hasattr(X, "dense")
        else info.column_names
    )
    pairs = list(zip(names, np.asarray(dense).T, strict=True))
    if lhs is not None:
        pairs += list(zip(lhs.design_info.column_names, np.asarray(lhs).T, strict=True))
    for name, column in pairs:
        bad = ~np.isfinite(column)
        if bad.any():
            found[name] = bad
    return found


def _build_failure(formula: str, exc: Exception, desc, frame: pd.DataFrame) -> str:
    """The patsy error, preceded by the text column used as a number when that is the cause."""
    for term in [*desc.lhs_termlist, *desc.rhs_termlist]:
        for factor in term.factors:
            code = factor.code
            for name in _names_in(code):
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


def _build_rhs(termlist, frame, eval_env, allow_coded: bool):
    """Design info and matrix: many-level factors as codes when allowed, else dense."""
    (info,) = patsy.design_matrix_builders(
        [termlist], lambda: iter([frame]), eval_env, NA_action=_PASS_NA
    )
    coded = catmatrix.from_patsy(info, frame, _names_in) if allow_coded else None
    if coded is not None:
        return info, coded
    matrix = fastdesign.build_matrix(info, frame)  # patsy's matrix, built with numpy
    if matrix is not None:
        return info, matrix
    (matrix,) = patsy.build_design_matrices([info], frame, NA_action=_PASS_NA)
    return info, np.ascontiguousarray(matrix, dtype=float)


def _categorical_levels(info) -> dict[str, tuple]:
    return {
        factor.name(): tuple(fi.categories)
        for factor, fi in info.factor_infos.items()
        if fi.type == "categorical"
    }


def _binomial_response(lhs: patsy.DesignMatrix, name: str):
    """Proportion, number of trials and class labels from a binomial left-hand side."""
    info = lhs.design_info
    levels = _categorical_levels(info)
    values = np.asarray(lhs, dtype=float)
    if levels:
        classes = next(iter(levels.values()))
        if len(classes) != 2:
            raise ResponseError(
                f"binomial response {name!r} has {len(classes)} classes {list(classes)}; it "
                "needs exactly two (use family='multinomial' for more)."
            )
        return values[:, 1], np.ones(len(values)), tuple(classes)
    if values.shape[1] == 1:
        return values[:, 0], np.ones(len(values)), None
    if values.shape[1] == 2:
        if np.any(values < 0):
            raise ResponseError(f"binomial counts {name!r} must be non-negative.")
        trials = values.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(trials > 0, values[:, 0] / trials, 0.0)
        return y, trials, None
    raise ResponseError(
        f"binomial response {name!r} has {values.shape[1]} columns; give one column or two "
        "count columns 'successes + failures ~ ...'."
    )


def _multinomial_response(frame, lhs_desc, eval_env, name):
    factors = [f for term in lhs_desc for f in term.factors]
    if len(factors) != 1:
        raise ResponseError(f"multinomial response {name!r} must be a single column.")
    try:
        values = eval_env.eval(factors[0].code, inner_namespace=frame)
    except Exception as exc:  # noqa: BLE001 - patsy evaluates arbitrary user code
        raise FormulaError(f"cannot evaluate the response {name!r}: {exc}") from exc
    raw = np.asarray(values)
    if raw.dtype.kind == "f" and np.any(raw != np.round(raw)):
        raise ResponseError(
            f"multinomial response {name!r} holds non-integer numbers; it must be a factor, "
            "text or integer class labels (a continuous response needs another family)."
        )
    categorical = pd.Categorical(raw if not hasattr(values, "cat") else values)
    classes = tuple(categorical.categories)
    codes = categorical.codes.astype(np.int64)
    present = np.unique(codes)
    if len(present) < 2:
        raise ResponseError(
            f"multinomial response {name!r} has a single class {classes[present[0]]!r}; "
            "it needs at least two."
        )
    if len(present) < len(classes):
        # unused categories are dropped so every class is estimable
        used = [classes[i] for i in present]
        categorical = pd.Categorical(categorical, categories=used)
        classes, codes = tuple(used), categorical.codes.astype(np.int64)
    return codes, classes


def build_design(
    formula: str,
    data: Any,
    family: str,
    *,
    weights: Any = None,
    offset: Any = None,
    missing: str = "raise",
    eval_env: patsy.EvalEnvironment | int = 0,
    freq_weights: Any = None,
    exposure: Any = None,
    formula_mode: str = "python",
) -> Design:
    """Build the arrays for ``formula`` on ``data``.

    Parameters
    ----------
    formula : str
        R-style formula, e.g. ``"visitors ~ hour + C(weekday)"``.
    data : DataFrame or mapping
        Not modified.
    family : str
        Canonical family name; decides how the response is read.
    weights, offset : str or array-like, optional
        A column name or one value per row.
    freq_weights, exposure : str or array-like, optional
        Frequency weights (>= 0) and exposure (> 0; its log is added to the offset), as a
        column name or one value per row.
    missing : {"raise", "drop"}
        NaN or infinite values in a used column: raise :class:`MissingValueError` naming the
        columns and counts, or drop those rows and record how many.
    eval_env : patsy.EvalEnvironment or int
        Namespace for names in the formula other than columns (``np`` is always available).
    formula_mode : {"python", "safe"}
        "python": terms are Python evaluated in ``eval_env`` (patsy's semantics); "safe":
        terms are checked against :mod:`glmspec.design.formula_check`'s allowlist and evaluated with
        only the allowed functions and no builtins (``eval_env`` is not used).

    Returns
    -------
    Design
    """
    if missing not in MISSING_POLICIES:
        raise DataError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}.")
    frame = as_frame(data)
    desc = _parse(formula, formula_mode)
    if not desc.lhs_termlist:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'.")
    env = SAFE_ENV if formula_mode == "safe" else _eval_env(eval_env)
    columns = _used_columns(desc, frame, formula, env)
    weight_values = _column_or_array(weights, frame, "weights")
    offset_values = _column_or_array(offset, frame, "offset")
    freq_values = _column_or_array(freq_weights, frame, "freq_weights")
    exposure_values = _column_or_array(exposure, frame, "exposure")
    extras = {
        ("weights" if not isinstance(weights, str) else weights): weight_values,
        ("offset" if not isinstance(offset, str) else offset): offset_values,
        (freq_weights if isinstance(freq_weights, str) else "freq_weights"): freq_values,
        (exposure if isinstance(exposure, str) else "exposure"): exposure_values,
    }
    extras = {k: v for k, v in extras.items() if v is not None}
    used = _with_categoricals(frame, columns)
    # the Categoricals' categories are the text columns' distinct values, found once
    textual = {name: used[name].cat.categories for name in columns if _is_text(frame[name])}
    dates = [name for name in columns if pd.api.types.is_datetime64_any_dtype(frame[name])]
    check_text_columns(desc, family, textual, dates)
    missing_masks = _missing_rows(frame[columns], extras)
    keep = np.ones(frame.shape[0], dtype=bool)
    if missing_masks:
        if missing == "raise":
            detail = ", ".join(f"{k!r}: {int(m.sum())} row(s)" for k, m in missing_masks.items())
            total = int(np.logical_or.reduce(list(missing_masks.values())).sum())
            raise MissingValueError(
                f"missing or infinite values in {total} row(s) ({detail}); clean them or pass "
                "missing='drop' to drop those rows."
            )
        for mask in missing_masks.values():
            keep &= ~mask
        if not keep.any():
            raise DataError("every row has a missing value in a used column.")
    if not keep.all():
        used = used.loc[keep]
    response_name = response_label(desc)
    # Values the formula itself makes missing (np.log of a negative number, an overflowing
    # np.exp) obey the same missing= policy, after a second build without those rows.
    for _ in range(2):
        try:
            rhs_info, X = _build_rhs(desc.rhs_termlist, used, env, family != "multinomial")
            lhs = None if family == "multinomial" else _build(desc.lhs_termlist, used, env)
        except patsy.PatsyError as exc:
            raise FormulaError(_build_failure(formula, exc, desc, used)) from exc
        bad = _nonfinite_design_rows(X, rhs_info, lhs)
        if not bad:
            break
        if missing == "raise":
            detail = ", ".join(f"{k!r}: {int(m.sum())} row(s)" for k, m in bad.items())
            total = int(np.logical_or.reduce(list(bad.values())).sum())
            raise MissingValueError(
                f"the formula produces missing or infinite values in {total} row(s) ({detail}); "
                "change the formula or pass missing='drop' to drop those rows."
            )
        dropped = np.logical_or.reduce(list(bad.values()))
        keep[np.flatnonzero(keep)[dropped]] = False
        if not keep.any():
            raise DataError("the formula produces missing values in every row.")
        used = used.loc[~dropped]
    prior = np.ones(int(keep.sum())) if weight_values is None else weight_values[keep]
    _check_weights(prior)
    freq = None if freq_values is None else freq_values[keep]
    if freq is not None:
        _check_weights(freq, "freq_weights")
    exposure_kept = None if exposure_values is None else exposure_values[keep]
    if exposure_kept is not None:
        _check_exposure(exposure_kept)
    trials, classes = None, None
    if family == "multinomial":
        y, classes = _multinomial_response(used, desc.lhs_termlist, env, response_name)
    elif family in ("binomial", "quasibinomial"):
        y, trials, classes = _binomial_response(lhs, response_name)
        prior = prior * trials
    else:
        if _categorical_levels(lhs.design_info) or lhs.shape[1] != 1:
            raise ResponseError(
                f"the {family} family needs one numeric response column; {response_name!r} "
                f"gives {lhs.shape[1]} column(s) {lhs.design_info.column_names}."
            )
        y = np.asarray(lhs, dtype=float)[:, 0]
    return Design(
        y=y,
        X=X,
        column_names=tuple(rhs_info.column_names),
        design_info=rhs_info,
        prior_weights=prior,
        trials=trials,
        offset=_offset(offset_values, exposure_kept, keep),
        response_name=response_name,
        classes=classes,
        n_dropped=int((~keep).sum()),
        row_index=used.index,
        factor_levels=_categorical_levels(rhs_info),
        weights_given=weight_values is not None,
        offset_given=offset_values is not None,
        freq_weights=freq,
        exposure=exposure_kept,
    )


def _offset(offset: np.ndarray | None, exposure: np.ndarray | None, keep: np.ndarray):
    """The offset of the rows kept, plus ``log(exposure)`` when an exposure is given."""
    values = np.zeros(int(keep.sum())) if offset is None else offset[keep]
    return values if exposure is None else values + np.log(exposure)


def _check_exposure(exposure: np.ndarray) -> None:
    bad = np.flatnonzero(exposure <= 0)
    if bad.size:
        raise DataError(
            f"exposure must be positive (its log is added to the offset); {bad.size} value(s) "
            f"are <= 0 (first: {exposure[bad[0]]:g} in row {bad[0]})."
        )


def _array_rows(newdata: Any, n_columns: int) -> np.ndarray:
    """New rows for a model fitted by :func:`glmspec.fit_arrays`."""
    try:
        matrix = np.asarray(newdata, dtype=float)
    except (TypeError, ValueError) as exc:
        raise PredictionError(f"new data must be a numeric matrix: {exc}") from exc
    if matrix.ndim != 2 or matrix.shape[1] != n_columns:
        raise PredictionError(
            f"new data has shape {matrix.shape}; the model has {n_columns} columns."
        )
    return matrix


def _check_numeric(factor, frame: pd.DataFrame) -> None:
    """Raise :class:`PredictionError` if a numeric factor refers to a non-numeric column."""
    for name in _names_in(factor.code):
        if name in frame.columns:
            col = frame[name]
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                example = col.dropna().iloc[0] if col.notna().any() else None
                raise PredictionError(
                    f"column {name!r} is numeric in the model ({factor.name()!r}) but the new "
                    f"data holds non-numeric values (e.g. {example!r})."
                )


def _eval_env(eval_env: patsy.EvalEnvironment | int) -> patsy.EvalEnvironment:
    if isinstance(eval_env, int):
        eval_env = patsy.EvalEnvironment.capture(eval_env + 2)
    return eval_env.with_outer_namespace(_FORMULA_NAMESPACE)


def _check_weights(weights: np.ndarray, what: str = "weights") -> None:
    if np.any(weights < 0):
        raise DataError(f"{what} must be non-negative; {int((weights < 0).sum())} are negative.")
    if not np.any(weights > 0):
        raise DataError(f"all {what} are zero.")


def predict_matrix(design: Design, newdata: Any) -> np.ndarray:
    """Rebuild the fitted design's columns from ``newdata``.

    Raises
    ------
    PredictionError
        A column the formula needs is missing, or a factor has a level not seen in fitting
        (the message names the factor and the level); for a design fitted from arrays,
        ``newdata`` is not a matrix with the fitted number of columns.
    """
    if design.design_info is None:
        return _array_rows(newdata, len(design.column_names))
    frame = as_frame(newdata, "new data")
    info = design.design_info
    needed = set()
    for factor in info.factor_infos:
        needed |= _names_in(factor.code)
    absent = [n for n in sorted(needed) if n not in frame.columns and not _resolvable(n, None)]
    if absent:
        raise PredictionError(
            f"new data lacks column(s) {absent} used by the model."
            f"{suggest(absent[0], map(str, frame.columns))}"
        )
    columns = [c for c in frame.columns if c in needed]
    used = frame[columns].copy(deep=False)
    for factor, fi in info.factor_infos.items():
        if fi.type != "categorical":
            _check_numeric(factor, used)
    missing = _missing_rows(used, {})
    if missing:
        detail = ", ".join(f"{k!r}: {int(m.sum())} row(s)" for k, m in missing.items())
        total = int(np.logical_or.reduce(list(missing.values())).sum())
        raise PredictionError(
            f"new data has missing or infinite values in {total} row(s) ({detail}); "
            "predictions need complete rows."
        )
    for factor, fi in info.factor_infos.items():
        if fi.type != "categorical":
            continue
        refs = [c for c in _names_in(factor.code) if c in used.columns]
        if len(refs) != 1:
            continue
        col = used[refs[0]]
        unseen = ~pd.Series(col).isin(fi.categories) & pd.Series(col).notna()
        if unseen.any():
            levels = sorted({str(v) for v in pd.Series(col)[unseen.to_numpy()]})
            raise PredictionError(
                f"factor {factor.name()!r} (column {refs[0]!r}) has level(s) not seen when "
                f"fitting: {levels} in {int(unseen.sum())} row(s); fitted levels: "
                f"{list(fi.categories)}."
            )
        textual = pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
        if textual or isinstance(col.dtype, pd.CategoricalDtype):
            used[refs[0]] = pd.Categorical(col, categories=list(fi.categories))
    matrix = fastdesign.build_matrix(info, used, partial=False)
    if matrix is not None:
        return matrix
    try:
        (matrix,) = patsy.build_design_matrices([info], used, NA_action="raise")
    except patsy.PatsyError as exc:
        raise PredictionError(f"cannot build the model's columns from new data: {exc}") from exc
    return np.asarray(matrix, dtype=float)
