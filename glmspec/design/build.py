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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import patsy
import patsy.builtins

from glmspec.design import formula_parse
from glmspec.design import plan as fastdesign
from glmspec.design.columns import (
    as_frame,
    check_numeric,
    check_weights,
    column_or_array,
    describe_missing,
    missing_rows,
    with_categoricals,
)
from glmspec.design.formula import (
    FORMULA_NAMESPACE,
    SAFE_ENV,
    build_failure,
    build_rhs,
    build_terms,
    design_info_levels,
    nonfinite_design_rows,
    parse_model_formula,
    resolvable,
    response_label,
    used_columns,
)
from glmspec.design.formula_check import cbind
from glmspec.design.response import lhs_levels, response_values
from glmspec.design.textcolumns import (
    check_text_columns,
    is_text_column,
)
from glmspec.errors import (
    DataError,
    FormulaError,
    MissingValueError,
    PredictionError,
    suggest,
)
from glmspec.families import Family, family_class

MISSING_POLICIES = ("raise", "drop")


def check_missing_policy(missing: Any) -> None:
    """Raise :class:`DataError` unless ``missing`` is one of :data:`MISSING_POLICIES`."""
    if missing not in MISSING_POLICIES:
        raise DataError(
            f"missing must be one of {', '.join(map(repr, MISSING_POLICIES))}, got {missing!r}."
            f"{suggest(str(missing), MISSING_POLICIES)}"
        )


FORMULA_NAMESPACE |= {"np": np, "numpy": np, "cbind": cbind}


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
    covariates : dict
        For each numeric data column the right-hand side reads: ``(mean, distinct)``, its mean
        over the rows used and, when it takes at most two values, those values (else ``()``);
        what a reference grid (:mod:`glmspec.inference.emmeans`) needs from the raw data.
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
    covariates: dict[str, tuple[float, tuple]] = field(default_factory=dict)

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


# names a factor reads as variables (columns, ``np``), not the functions it calls


def build_design(
    formula: str,
    data: Any,
    family: str | Family,
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
    family : str or Family
        Family (or its name); reads the response (:meth:`Family.read_response`).
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
    check_missing_policy(missing)
    family = family_class(family)
    frame = as_frame(data)
    desc = parse_model_formula(formula, formula_mode)
    if not desc.lhs_termlist:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'.")
    env = SAFE_ENV if formula_mode == "safe" else _eval_env(eval_env)
    columns = used_columns(desc, frame, formula, env)
    weight_values = column_or_array(weights, frame, "weights")
    offset_values = column_or_array(offset, frame, "offset")
    freq_values = column_or_array(freq_weights, frame, "freq_weights")
    exposure_values = column_or_array(exposure, frame, "exposure")
    extras = {
        ("weights" if not isinstance(weights, str) else weights): weight_values,
        ("offset" if not isinstance(offset, str) else offset): offset_values,
        (freq_weights if isinstance(freq_weights, str) else "freq_weights"): freq_values,
        (exposure if isinstance(exposure, str) else "exposure"): exposure_values,
    }
    extras = {k: v for k, v in extras.items() if v is not None}
    used = with_categoricals(frame, columns)
    # the Categoricals' categories are the text columns' distinct values, found once
    textual = {name: used[name].cat.categories for name in columns if is_text_column(frame[name])}
    dates = [name for name in columns if pd.api.types.is_datetime64_any_dtype(frame[name])]
    check_text_columns(desc, family, textual, dates)
    missing_masks = missing_rows(frame[columns], extras)
    keep = np.ones(frame.shape[0], dtype=bool)
    if missing_masks:
        if missing == "raise":
            raise MissingValueError(
                f"missing or infinite values in {describe_missing(missing_masks)}; clean them or "
                "pass missing='drop' to drop those rows."
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
            rhs_info, X = build_rhs(desc.rhs_termlist, used, env, not family.is_multiclass)
            lhs = None if family.is_multiclass else build_terms(desc.lhs_termlist, used, env)
        except patsy.PatsyError as exc:
            raise FormulaError(build_failure(formula, exc, desc, used)) from exc
        bad = nonfinite_design_rows(X, rhs_info, lhs)
        if not bad:
            break
        if missing == "raise":
            raise MissingValueError(
                f"the formula produces missing or infinite values in {describe_missing(bad)}; "
                "change the formula or pass missing='drop' to drop those rows."
            )
        dropped = np.logical_or.reduce(list(bad.values()))
        keep[np.flatnonzero(keep)[dropped]] = False
        if not keep.any():
            raise DataError("the formula produces missing values in every row.")
        used = used.loc[~dropped]
    prior = np.ones(int(keep.sum())) if weight_values is None else weight_values[keep]
    check_weights(prior)
    freq = None if freq_values is None else freq_values[keep]
    if freq is not None:
        check_weights(freq, "freq_weights")
    exposure_kept = None if exposure_values is None else exposure_values[keep]
    if exposure_kept is not None:
        _check_exposure(exposure_kept)
    if family.is_multiclass:
        values = response_values(used, desc.lhs_termlist, env, response_name)
        y, trials, classes = family.read_response(values, response_name)
    else:
        y, trials, classes = family.read_response(
            lhs,
            response_name,
            levels=lhs_levels(lhs.design_info),
            column_names=tuple(lhs.design_info.column_names),
        )
    if trials is not None:
        prior = prior * trials
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
        factor_levels=design_info_levels(rhs_info),
        weights_given=weight_values is not None,
        offset_given=offset_values is not None,
        freq_weights=freq,
        exposure=exposure_kept,
        covariates=_covariates(rhs_info, used),
    )


def _covariates(info: Any, used: pd.DataFrame) -> dict[str, tuple[float, tuple]]:
    """``(mean, distinct values if at most two)`` of each numeric column the design reads."""
    names = formula_parse.factor_names(info.factor_infos)
    found = {}
    for name in sorted(n for n in names if n in used.columns):
        column = used[name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        values = column.to_numpy(dtype=float)
        distinct: tuple = ()
        if np.unique(values[:64]).size <= 2:  # else more than two values: no full pass
            low, high = float(values.min()), float(values.max())
            if np.all((values == low) | (values == high)):
                distinct = (low,) if low == high else (low, high)
        found[name] = (float(values.mean()), distinct)
    return found


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


def _eval_env(eval_env: patsy.EvalEnvironment | int) -> patsy.EvalEnvironment:
    if isinstance(eval_env, int):
        eval_env = patsy.EvalEnvironment.capture(eval_env + 2)
    return eval_env.with_outer_namespace(FORMULA_NAMESPACE)


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
    return design_matrix(design.design_info, newdata)


def _needed_columns(info: patsy.DesignInfo, frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` the design reads; a missing one is an error naming it."""
    needed = formula_parse.factor_names(info.factor_infos)
    absent = [n for n in sorted(needed) if n not in frame.columns and not resolvable(n, None)]
    if absent:
        raise PredictionError(
            f"new data lacks column(s) {absent} used by the model."
            f"{suggest(absent[0], map(str, frame.columns))}"
        )
    return [c for c in frame.columns if c in needed]


def incomplete_rows(info: patsy.DesignInfo, newdata: Any, extra: tuple = ()) -> np.ndarray:
    """Rows of ``newdata`` with a missing or infinite value in a column the design reads or
    in one of the ``extra`` columns (offset, exposure): a boolean mask, as R's
    ``na.exclude`` needs it to predict the other rows."""
    frame = as_frame(newdata, "new data")
    columns = _needed_columns(info, frame)
    extras = {}
    for name in extra:
        if name not in frame.columns:
            raise PredictionError(f"new data lacks the column {name!r} the model needs.")
        extras[name] = frame[name]
    masks = missing_rows(frame[columns], extras)
    if not masks:
        return np.zeros(len(frame), dtype=bool)
    return np.logical_or.reduce(list(masks.values()))


def design_matrix(info: patsy.DesignInfo, newdata: Any) -> np.ndarray:
    """The columns of the design ``info`` (a fitted ``DesignInfo``) for ``newdata``.

    Raises
    ------
    PredictionError
        As :func:`predict_matrix`.
    """
    frame = as_frame(newdata, "new data")
    columns = _needed_columns(info, frame)
    used = {name: frame[name] for name in columns}  # no copy of the frame: reads only
    for factor in [f for f, fi in info.factor_infos.items() if fi.type != "categorical"]:
        check_numeric(factor, frame)
    missing = missing_rows(used, {})
    if missing:
        raise PredictionError(
            f"new data has missing or infinite values in {describe_missing(missing)}; "
            "predictions need complete rows."
        )
    recoded = {}  # text and categorical columns, as Categoricals of the fitted levels for patsy
    for factor, fi in info.factor_infos.items():
        name = fastdesign.factor_column(factor, fi) if fi.type == "categorical" else None
        if name not in used:  # numeric, or computed (C(x == "a")): no column's levels
            continue
        col = used[name]
        textual = pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
        if textual or isinstance(col.dtype, pd.CategoricalDtype):
            recoded[name] = fi.categories
        try:  # the distinct values first: a column holds few levels and many rows
            known = set(fi.categories)
            seen = all(value in known for value in col.unique())
        except TypeError:  # unhashable values
            seen = False
        unseen = np.zeros(len(col), dtype=bool) if seen else (~col.isin(fi.categories)).to_numpy()
        if unseen.any():
            levels = sorted({str(v) for v in col[unseen]})
            raise PredictionError(
                f"factor {factor.name()!r} (column {name!r}) has level(s) not seen when "
                f"fitting: {levels} in {int(unseen.sum())} row(s); fitted levels: "
                f"{list(fi.categories)}."
            )
    matrix = fastdesign.build_matrix(info, frame, partial=False)  # text matched to levels
    if matrix is not None:
        return matrix
    table = frame[columns].copy(deep=False)  # patsy sees the columns the formula reads
    for name, categories in recoded.items():
        table[name] = pd.Categorical(table[name], categories=list(categories))
    try:
        (matrix,) = patsy.build_design_matrices([info], table, NA_action="raise")
    except patsy.PatsyError as exc:
        raise PredictionError(f"cannot build the model's columns from new data: {exc}") from exc
    return np.asarray(matrix, dtype=float)
