"""Wald tests of linear hypotheses ``R beta = q`` on a fitted model.

The statistic is ``W = (R b - q)' [R C R']^+ (R b - q)`` with ``C`` the fit's
``cov_params()`` (so a fit with a robust covariance is tested with it) and ``J`` the rank of
``R C R'`` (the number of constraints when it has full rank). As statsmodels'
``wald_test(..., scalar=True)`` and R's conventions:

* chi-square form (``W`` against chi2 on ``J`` df) when the fit's tests use the normal
  distribution: fixed dispersion (binomial, Poisson, multinomial) or any robust covariance;
* F form (``W / J`` against F on ``J`` and the residual df) when the dispersion is estimated
  (``res.use_t``, as statsmodels' ``use_f=None`` with ``use_t=True`` and R's
  ``anova(test="F")``); for a cluster covariance with ``use_t`` the denominator df is
  ``n_groups - 1``. ``use_f=`` overrides the choice.

Hypotheses are patsy constraint strings over the design's column names, e.g.
``"hour = 0, C(weekday)[T.Tue] = C(weekday)[T.Wed]"``, or a matrix ``R`` (one row per
constraint) with an optional ``q``. For multinomial fits the coefficient names are
``"<class>:<column>"`` (e.g. ``"2:GPA"``), class-major as ``cov_params()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import patsy

from glmspec.errors import SpecificationError, suggest
from glmspec.inference.distributions import chi2_sf, f_sf


@dataclass(frozen=True)
class WaldTestResult:
    """Result of :func:`wald_test`.

    Attributes
    ----------
    statistic : float
        Chi-square statistic ``W``, or ``W / df`` for the F form.
    df : int
        Number of (linearly independent) constraints.
    df_denom : float or None
        Denominator degrees of freedom of the F form; None for chi-square.
    pvalue : float
    distribution : {"chi2", "F"}
    r_matrix, q : ndarray
        The constraints ``R beta = q`` that were tested.
    """

    statistic: float
    df: int
    df_denom: float | None
    pvalue: float
    distribution: str
    r_matrix: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)

    def __str__(self) -> str:
        if self.distribution == "F":
            return (
                f"Wald test: F({self.df}, {self.df_denom:g}) = {self.statistic:.6g}, "
                f"p = {self.pvalue:.4g}"
            )
        return f"Wald test: chi2({self.df}) = {self.statistic:.6g}, p = {self.pvalue:.4g}"


def coefficient_names(res: Any) -> list[str]:
    """Names of the coefficients in ``cov_params()`` order (``"class:column"`` if multinomial)."""
    params = res.params
    if isinstance(params, pd.DataFrame):
        return [f"{cls}:{col}" for cls in params.columns for col in params.index]
    return [str(c) for c in params.index]


def _flat(params: pd.Series | pd.DataFrame) -> np.ndarray:
    values = np.asarray(params, dtype=float)
    return values.ravel(order="F") if values.ndim == 2 else values


def _unknown_name(text: str, names: list[str]) -> str | None:
    """The first piece of a constraint that is neither a column name nor a number."""
    known = set(names)
    for piece in re.split(r"[=,+\-*/]", text):
        piece = piece.strip().strip("()").strip()
        if not piece or piece in known:
            continue
        try:
            float(piece)
        except ValueError:
            return piece
    return None


def constraint_matrix(res: Any, constraints: Any, q: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(R, q)`` from patsy constraint strings, a dict, an ``(R, q)`` tuple or a matrix ``R``.

    Raises
    ------
    SpecificationError
        A constraint names an unknown coefficient (the message lists the known ones), does not
        parse, or ``R``/``q`` have the wrong shape.
    """
    names = coefficient_names(res)
    k = len(names)
    if isinstance(constraints, tuple) and len(constraints) == 2 and q is None:
        constraints, q = constraints
    if isinstance(constraints, (str, dict)) or (
        isinstance(constraints, (list, tuple)) and constraints and isinstance(constraints[0], str)
    ):
        if q is not None:
            raise SpecificationError("q= is used only with a constraint matrix, not with strings.")
        try:
            lc = patsy.DesignInfo(names).linear_constraint(constraints)
        except patsy.PatsyError as exc:
            pieces = [constraints] if isinstance(constraints, str) else list(constraints)
            bad = next((b for t in pieces if (b := _unknown_name(str(t), names))), None)
            what = f"unknown coefficient {bad!r}" if bad else f"an error ({exc})"
            raise SpecificationError(
                f"constraint {constraints!r} has {what}.{suggest(bad or '', names)} "
                f"Coefficients: {names}."
            ) from exc
        return np.asarray(lc.coefs, dtype=float), np.asarray(lc.constants, dtype=float).ravel()
    try:
        r_matrix = np.atleast_2d(np.asarray(constraints, dtype=float))
    except (TypeError, ValueError) as exc:
        raise SpecificationError(
            f"constraints must be strings or a numeric matrix R: {exc}"
        ) from exc
    if r_matrix.ndim != 2 or r_matrix.shape[1] != k:
        raise SpecificationError(
            f"R has shape {r_matrix.shape}; it needs {k} columns, one per coefficient {names}."
        )
    q_vec = np.zeros(r_matrix.shape[0]) if q is None else np.atleast_1d(np.asarray(q, float))
    if q_vec.size == 1 and r_matrix.shape[0] > 1:
        q_vec = np.full(r_matrix.shape[0], float(q_vec[0]))
    if q_vec.shape != (r_matrix.shape[0],):
        raise SpecificationError(
            f"q has {q_vec.size} values; R has {r_matrix.shape[0]} rows (one value per row)."
        )
    return r_matrix, q_vec


def _denominator_df(res: Any) -> float:
    df = res.df_inference
    return float(res.df_resid) if df is None else float(df)


def wald_test(
    res: Any, constraints: Any, q: Any = None, *, use_f: bool | None = None
) -> WaldTestResult:
    """Wald test of ``R beta = q`` (see the module docstring for the conventions).

    Parameters
    ----------
    res : GLMResults, MultinomialResults or RobustResults
        Uses ``res.params``, ``res.cov_params()`` and whether it uses t tests.
    constraints : str, list of str, dict, array-like or (R, q)
        Patsy constraint strings such as ``"x1 = 0, x2 = x3"``, or the matrix ``R``.
    q : array-like or float, optional
        Right-hand side for a matrix ``R`` (default zeros).
    use_f : bool, optional
        F form (True) or chi-square form (False); default ``res.use_t``.

    Returns
    -------
    WaldTestResult
    """
    r_matrix, q_vec = constraint_matrix(res, constraints, q)
    params = _flat(res.params)
    cov = np.asarray(res.cov_params(), dtype=float)
    diff = r_matrix @ params - q_vec
    middle = r_matrix @ cov @ r_matrix.T
    if np.any(np.isnan(middle)):
        raise SpecificationError("the covariance of the constraints has missing values.")
    statistic = float(diff @ np.linalg.pinv(middle, hermitian=True) @ diff)
    df = int(np.linalg.matrix_rank(middle))
    if df == 0:
        raise SpecificationError("the constraints have zero variance; nothing to test.")
    if use_f is None:
        use_f = bool(getattr(res, "use_t", False))
    if use_f:
        df_denom = _denominator_df(res)
        f_stat = statistic / df
        return WaldTestResult(
            f_stat, df, df_denom, float(f_sf(f_stat, df, df_denom)), "F", r_matrix, q_vec
        )
    return WaldTestResult(
        statistic, df, None, float(chi2_sf(statistic, df)), "chi2", r_matrix, q_vec
    )


def wald_test_terms(
    res: Any, *, use_f: bool | None = None, skip_single: bool = False
) -> pd.DataFrame:
    """Joint Wald test that all coefficients of each formula term are zero.

    One row per term of the formula (``Intercept`` included), using the design's
    ``term_name_slices``, as statsmodels' ``wald_test_terms``. For multinomial fits a term's
    coefficients in every non-reference class are tested together.

    Parameters
    ----------
    res : GLMResults, MultinomialResults or RobustResults
    use_f : bool, optional
        F form; default ``res.use_t`` (chi-square for fixed dispersion and robust covariances).
    skip_single : bool
        Leave out terms with a single column.

    Returns
    -------
    pandas.DataFrame
        Columns ``statistic``, ``pvalue``, ``df_constraint`` (and ``df_denom`` for the F form),
        indexed by term name; ``attrs["distribution"]`` is ``"chi2"`` or ``"F"``.
    """
    design = res.design
    slices = design.design_info.term_name_slices
    p = len(design.column_names)
    k = np.size(np.asarray(res.params))
    rows, index = [], []
    identity = np.eye(k)
    distribution = "chi2"
    for name, cols in slices.items():
        width = len(range(*cols.indices(p)))
        if width == 0 or (skip_single and width == 1):
            continue
        positions = np.concatenate([np.arange(p)[cols] + offset for offset in range(0, k, p)])
        result = wald_test(res, identity[positions], use_f=use_f)
        distribution = result.distribution
        row = [result.statistic, result.pvalue, result.df]
        if result.distribution == "F":
            row.append(result.df_denom)
        rows.append(row)
        index.append(name)
    columns = ["statistic", "pvalue", "df_constraint"]
    if distribution == "F":
        columns.append("df_denom")
    table = pd.DataFrame(rows, index=index, columns=columns)
    table.attrs["distribution"] = distribution
    return table
