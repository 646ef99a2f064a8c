"""A formula's design over the partitions of a Dask DataFrame, built inside the workers.

The client learns the design once: the columns the formula uses, every factor's levels
(a reduction of each textual or ``C()`` column's distinct values over all partitions, so a
level present in one partition only is still a column), and patsy's ``DesignInfo`` built from
a small *template* frame whose categorical columns carry those complete levels. Each worker
then turns its partition into a :class:`Block` of arrays -- the same response, design columns
(many-level factors as integer codes), weights and offset as the in-memory
:func:`glmspec.design.build.build_design` -- with that design.

patsy cannot pickle a ``DesignInfo``, so what travels to the workers is a :class:`BlockPlan`
(the formula, the template and the options); each worker process rebuilds the identical
``DesignInfo`` from it once and caches it. Stateful transforms (``center``, ``standardize``,
splines) learn their state from all rows at once and are refused: compute such columns
first.
"""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import patsy

from glmspec.design import matrix as catmatrix
from glmspec.design.columns import describe_missing, missing_rows
from glmspec.design.formula import (
    FORMULA_NAMESPACE,
    PASS_NA,
    SAFE_ENV,
    build_terms,
    design_info_levels,
    nonfinite_design_rows,
    parse_model_formula,
    response_label,
    used_columns,
)
from glmspec.design.formula_parse import factor_names, formula_factors, names_in
from glmspec.design.plan import build_matrix
from glmspec.design.response import lhs_levels
from glmspec.design.textcolumns import check_text_columns
from glmspec.errors import DataError, FormulaError, MissingValueError, ResponseError
from glmspec.families import family_class

_TEMPLATE_ROWS = 20


@dataclass(frozen=True)
class Block:
    """One partition's arrays, as :class:`glmspec.design.build.Design` holds them for all rows;
    ``keep`` marks the partition's rows that are used (not dropped for missing values)."""

    y: np.ndarray
    X: Any
    prior: np.ndarray
    offset: np.ndarray
    freq: np.ndarray | None
    trials: np.ndarray | None
    keep: np.ndarray

    @property
    def n_dropped(self) -> int:
        """Rows of the partition dropped for missing values."""
        return int(np.count_nonzero(~self.keep))

    @property
    def weights(self) -> np.ndarray:
        """Prior weights times frequency weights: what the solver uses."""
        return self.prior if self.freq is None else self.prior * self.freq


@dataclass(frozen=True, eq=False)
class BlockPlan:
    """Everything a worker needs to turn a partition into a :class:`Block` (picklable)."""

    formula: str
    family: str
    template: pd.DataFrame
    levels: dict[str, tuple]
    weights: str | None = None
    offset: str | None = None
    freq_weights: str | None = None
    exposure: str | None = None
    missing: str = "raise"
    classes: tuple | None = None
    intercept_only: bool = False
    formula_mode: str = "python"
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __hash__(self) -> int:  # the token, so a worker's unpickled copy hits its cache
        return hash(self.token)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BlockPlan) and other.token == self.token

    def extra_columns(self) -> list[str]:
        """The weights, offset, frequency weights and exposure columns given."""
        named = (self.weights, self.offset, self.freq_weights, self.exposure)
        return [c for c in named if c is not None]


def worker_env(formula_mode: str = "python") -> patsy.EvalEnvironment:
    """The namespace formulas are evaluated in on the workers: ``np`` and ``cbind`` only; in
    safe mode the allowlisted functions without builtins, as in memory."""
    if formula_mode == "safe":
        return SAFE_ENV
    return patsy.EvalEnvironment([{}]).with_outer_namespace(FORMULA_NAMESPACE)


def with_levels(frame: pd.DataFrame, levels: dict[str, tuple]) -> pd.DataFrame:
    """A shallow copy with each column of ``levels`` a Categorical of exactly those levels."""
    out = frame.copy(deep=False)
    for name, values in levels.items():
        # hash the column once, then look up only its few distinct values (pd.Categorical
        # with categories= looks up every row: 10x slower on text)
        codes, distinct = pd.factorize(out[name], use_na_sentinel=True)
        lookup = pd.Index(list(values)).get_indexer(distinct)
        mapped = np.where(codes >= 0, lookup[codes] if len(lookup) else -1, -1)
        out[name] = pd.Categorical.from_codes(mapped, categories=list(values))
    return out


@lru_cache(maxsize=8)
def _design_infos(plan: BlockPlan):
    """patsy's design infos for ``plan``, rebuilt once per worker process (cached by token)."""
    desc = parse_model_formula(plan.formula, plan.formula_mode)
    env = worker_env(plan.formula_mode)
    template = with_levels(plan.template, plan.levels)
    rhs = desc.rhs_termlist if not plan.intercept_only else [patsy.INTERCEPT]
    (rhs_info,) = patsy.design_matrix_builders(
        [rhs], lambda: iter([template]), env, NA_action=PASS_NA
    )
    lhs_info = None
    if not family_class(plan.family).is_multiclass:
        lhs_info = build_terms(desc.lhs_termlist, template, env).design_info
    return desc, rhs_info, lhs_info


def design_info(plan: BlockPlan) -> patsy.DesignInfo:
    """The right-hand side's ``DesignInfo`` (identical on the client and every worker)."""
    return _design_infos(plan)[1]


def _column(frame: pd.DataFrame, name: str | None) -> np.ndarray | None:
    return None if name is None else frame[name].to_numpy(dtype=float, na_value=np.nan)


def partition_problems(frame: pd.DataFrame, plan: BlockPlan) -> dict[str, int]:
    """Counts of missing or infinite values per used column in one partition."""
    columns = [c for c in plan.template.columns if c in frame.columns]
    extras = {name: _column(frame, name) for name in plan.extra_columns()}
    masks = missing_rows(frame[columns], extras)
    return {name: int(mask.sum()) for name, mask in masks.items()}


def build_block(frame: pd.DataFrame, plan: BlockPlan) -> Block:
    """Turn one partition into a :class:`Block` (runs inside a worker).

    Raises
    ------
    MissingValueError, ResponseError, DataError
        As :func:`glmspec.design.build.build_design` would for these rows; the caller adds the
        partition number.
    """
    desc, rhs_info, lhs_info = _design_infos(plan)
    columns = list(plan.template.columns)
    extras = {name: _column(frame, name) for name in plan.extra_columns()}
    keep = np.ones(len(frame), dtype=bool)
    masks = missing_rows(frame[columns], extras)
    if masks:
        if plan.missing == "raise":
            raise MissingValueError(f"missing or infinite values in {describe_missing(masks)}")
        for mask in masks.values():
            keep &= ~mask
    used = with_levels(frame.loc[keep, columns], plan.levels)
    X = _matrix(rhs_info, used, plan)
    lhs = None if lhs_info is None else _lhs(lhs_info, used)
    bad = nonfinite_design_rows(X, rhs_info, lhs)
    if bad:
        if plan.missing == "raise":
            message = f"the formula produces missing or infinite values in {describe_missing(bad)}"
            raise MissingValueError(message)
        good = ~np.logical_or.reduce(list(bad.values()))
        keep[np.flatnonzero(keep)[~good]] = False
        used = used.loc[good]
        X = _matrix(rhs_info, used, plan)
        lhs = None if lhs_info is None else _lhs(lhs_info, used)
    kept = {name: None if values is None else values[keep] for name, values in extras.items()}
    prior = np.ones(len(used)) if plan.weights is None else kept[plan.weights]
    offset = np.zeros(len(used)) if plan.offset is None else kept[plan.offset]
    if plan.exposure is not None:
        exposure = kept[plan.exposure]
        if np.any(exposure <= 0):
            raise DataError(f"exposure column {plan.exposure!r} has values <= 0")
        offset = offset + np.log(exposure)
    freq = None if plan.freq_weights is None else kept[plan.freq_weights]
    for name, values in (("weights", prior), ("freq_weights", freq)):
        if values is not None and np.any(values < 0):
            raise DataError(f"{name} must be non-negative; {int((values < 0).sum())} are negative")
    trials = None
    family = family_class(plan.family)
    if family.is_multiclass:
        y = _class_codes(used, desc, plan)
    else:
        y, trials, _ = family.read_response(
            lhs,
            response_label(desc),
            levels=lhs_levels(lhs.design_info),
            column_names=tuple(lhs.design_info.column_names),
        )
        if trials is not None:
            prior = prior * trials
    return Block(y, X, prior, offset, freq, trials, keep)


def _matrix(info, frame: pd.DataFrame, plan: BlockPlan):
    if not family_class(plan.family).is_multiclass:
        coded = catmatrix.from_patsy(info, frame, names_in)
        if coded is not None:
            return coded
    matrix = build_matrix(info, frame)
    if matrix is None:
        (matrix,) = patsy.build_design_matrices([info], frame, NA_action=PASS_NA)
    return np.ascontiguousarray(matrix, dtype=float)


def _lhs(info, frame: pd.DataFrame) -> patsy.DesignMatrix:
    (lhs,) = patsy.build_design_matrices([info], frame, NA_action=PASS_NA)
    return lhs


def _class_codes(frame: pd.DataFrame, desc: patsy.ModelDesc, plan: BlockPlan) -> np.ndarray:
    (factor,) = [f for term in desc.lhs_termlist for f in term.factors]
    values = worker_env(plan.formula_mode).eval(factor.code, inner_namespace=frame)
    codes = pd.Categorical(np.asarray(values), categories=list(plan.classes)).codes
    return codes.astype(np.int64)


def learn_plan(
    formula: str,
    ddf: Any,
    family: str,
    *,
    weights: str | None,
    offset: str | None,
    freq_weights: str | None,
    exposure: str | None,
    missing: str,
    formula_mode: str = "python",
) -> BlockPlan:
    """Learn the columns, factor levels and template of ``formula`` on ``ddf`` (one pass).

    Raises
    ------
    FormulaError
        A name that is neither a column nor in the formula namespace, or a stateful transform.
    DataError
        A weights/offset/exposure argument that is not a column name.
    """
    import dask

    desc = parse_model_formula(formula, formula_mode)
    if not desc.lhs_termlist:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'.")
    env = worker_env(formula_mode)
    meta = ddf._meta
    columns = used_columns(desc, meta, formula, env)
    _refuse_stateful(desc, env, formula)
    for what, name in (
        ("weights", weights),
        ("offset", offset),
        ("freq_weights", freq_weights),
        ("exposure", exposure),
    ):
        if name is not None and (not isinstance(name, str) or name not in meta.columns):
            raise DataError(f"with Dask data, {what} must name a column of the data, got {name!r}.")
    level_columns = _level_columns(desc, meta, columns, family)
    per_partition = dask.compute(
        *[dask.delayed(_distinct)(part) for part in ddf[level_columns].to_delayed()]
    )
    levels, textual = {}, {}
    for name in level_columns:
        dtype = meta[name].dtype
        if isinstance(dtype, pd.CategoricalDtype) and dtype.known:
            levels[name] = tuple(dtype.categories)
        else:
            values = np.concatenate([found[name] for found in per_partition])
            levels[name] = tuple(pd.Categorical(values).categories)
            if not isinstance(dtype, pd.CategoricalDtype):
                textual[name] = levels[name]
    # the in-memory rule, on the distinct values found over all partitions
    dates = [n for n in columns if pd.api.types.is_datetime64_any_dtype(meta[n])]
    textual = {n: v for n, v in textual.items() if not _numeric(meta[n]) and n not in dates}
    check_text_columns(desc, family, textual, dates)
    # a few rows of the first partition; all partitions only if that one is empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dask: "insufficient elements"
        template = ddf[columns].head(_TEMPLATE_ROWS, npartitions=1, compute=True)
        if template.empty:
            template = ddf[columns].head(_TEMPLATE_ROWS, npartitions=-1, compute=True)
    if template.empty:
        raise DataError("data has no rows.")
    classes = None
    if family_class(family).is_multiclass:
        (factor,) = [f for term in desc.lhs_termlist for f in term.factors]
        (response,) = [c for c in names_in(factor.code) if c in columns]
        classes = levels[response]
        if len(classes) < 2:
            raise ResponseError(f"multinomial response {response!r} has fewer than two classes.")
    plan = BlockPlan(
        formula=formula,
        family=family,
        template=template,
        levels=levels,
        weights=weights,
        offset=offset,
        freq_weights=freq_weights,
        exposure=exposure,
        missing=missing,
        classes=classes,
        formula_mode=formula_mode,
    )
    try:
        _design_infos(plan)
    except patsy.PatsyError as exc:
        raise FormulaError(f"cannot build the design for {formula!r}: {exc}") from exc
    return plan


def _distinct(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each column's distinct non-missing values in one partition."""
    return {name: pd.unique(frame[name].dropna().to_numpy()) for name in frame.columns}


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _level_columns(desc, meta: pd.DataFrame, columns: list[str], family: str) -> list[str]:
    """Used columns whose distinct values are levels: text, categorical, inside ``C()``,
    and a multinomial response."""
    response = [f for term in desc.lhs_termlist for f in term.factors]
    declared = [f for f in formula_factors(desc) if f.code.startswith("C(")]
    inside_c = factor_names([*declared, *(response if family_class(family).is_multiclass else [])])
    out = []
    for name in columns:
        dtype = meta[name].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not isinstance(
            dtype, pd.CategoricalDtype
        )
        if pd.api.types.is_bool_dtype(dtype):
            continue  # patsy knows a boolean's two levels
        if not numeric or name in inside_c:
            out.append(name)
    return out


def _refuse_stateful(desc, env, formula: str) -> None:
    for term in desc.rhs_termlist:
        for factor in term.factors:
            if factor.memorize_passes_needed({}, env) > 0:
                raise FormulaError(
                    f"{factor.name()!r} in {formula!r} is a stateful transform (it learns from "
                    "all rows at once), which the Dask engine does not support; compute that "
                    "column on the Dask DataFrame first."
                )


def response_name(plan: BlockPlan) -> str:
    """The response's label, as :attr:`glmspec.design.build.Design.response_name`."""
    return response_label(_design_infos(plan)[0])


def response_classes(plan: BlockPlan) -> tuple | None:
    """Class labels of a categorical response (binomial: failure, success; multinomial: all)."""
    if plan.classes is not None:
        return plan.classes
    lhs_info = _design_infos(plan)[2]
    levels = design_info_levels(lhs_info) if lhs_info is not None else {}
    return next(iter(levels.values())) if levels else None


def categorical_levels(plan: BlockPlan) -> dict[str, tuple]:
    """Each categorical factor's levels, as :attr:`glmspec.design.build.Design.factor_levels`."""
    return design_info_levels(design_info(plan))
