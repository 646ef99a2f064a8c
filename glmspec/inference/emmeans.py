"""Estimated marginal means of a factor, R's ``emmeans(fit, "f", type = "response")``.

The reference grid is R's ``ref_grid`` default: every combination of the levels of the
model's factors, numeric covariates that take at most two values at both of them (emmeans'
``cov.keep = "2"``: a 0/1 column counts as a two-level factor), other numeric covariates at
their mean over the rows used (the mean of the variable, ``x`` in ``np.log(x)``, as emmeans,
not of the transformed column), and the offset at its mean (emmeans' "static offset" of an
``offset =`` argument; an exposure counts as ``log(exposure)`` in the offset). The grid's
design rows come from the fitted design's patsy plan, as ``predict()`` builds them.

For each level ``a`` of the factor, the linear function ``L_a`` is the average, with equal
weights, of the grid's design rows at that level; ``eta_a = L_a b + offset``, with standard
error ``sqrt(L_a V L_a')`` from ``res.cov_params()`` (robust when the fit is). The estimate is
``g^{-1}(eta_a)``, its standard error ``|dmu/deta| se(eta_a)`` (delta method), and the interval
is ``eta_a -/+ q se`` transformed by ``g^{-1}`` (z when the dispersion is fixed or the
covariance robust, t on ``df_resid`` when the dispersion is estimated), as emmeans.

Pairwise contrasts (emmeans' ``pairs()``) are the differences ``eta_a - eta_b`` of every pair
``a < b`` in level order: back-transformed to ratios for a log link and to odds ratios for a
logit link (emmeans with ``type = "response"``), left as differences on the link scale for the
other links (on the response scale for the identity link). p-values and intervals are adjusted
for the number of pairs: ``"tukey"`` (the studentized range for the number of means, emmeans'
default for pairs), ``"holm"`` (p-values; the intervals are Bonferroni's, as emmeans) or
``"none"``.

With aliased columns (``singular="drop"``) the aliased coefficients count as 0 (R's
parametrisation) and a mean or contrast whose linear function is not orthogonal to the
design's null space is NaN, emmeans' ``nonEst``; the adjustments still count every pair.
"""

from __future__ import annotations

import ast
import itertools

import numpy as np
import pandas as pd

from glmspec.design.build import predict_matrix
from glmspec.design.formula_parse import parse_formula
from glmspec.errors import GLMSpecError, SpecificationError
from glmspec.inference.applicability import require_ml_glm_in_memory
from glmspec.inference.dispersion import check_alpha, critical_value, wald_pvalues

ADJUSTMENTS = ("tukey", "holm", "none")
#: Largest reference grid built (emmeans' ``rg.limit`` is 10,000 rows).
GRID_LIMIT = 100_000
#: What a back-transformed contrast is called, by link (emmeans' column names).
CONTRAST_KINDS = {"log": "ratio", "logit": "odds.ratio"}


def emmeans(
    res,
    term: str,
    *,
    pairwise: bool = False,
    adjust: str = "tukey",
    alpha: float = 0.05,
    offset: float | None = None,
) -> pd.DataFrame:
    """Estimated marginal means of a factor, or their pairwise contrasts.

    Parameters
    ----------
    res : GLMResults
        A GLM fitted in memory from a formula (not multinomial, Dask or penalized).
    term : str
        The factor as written in the formula, e.g. ``"C(cyl)"`` (R's ``factor(cyl)`` is
        read as ``C(cyl)``).
    pairwise : bool
        False: the means; True: their pairwise contrasts.
    adjust : {"tukey", "holm", "none"}
        Multiplicity adjustment of the contrasts' p-values and intervals.
    alpha : float
        1 - confidence level of the intervals.
    offset : float, optional
        The offset on the grid (e.g. 0 for rates per unit of exposure); by default the mean
        offset of the rows used.

    Returns
    -------
    pandas.DataFrame
        Means: indexed by the factor's levels, columns ``estimate``, ``se``, ``lower``,
        ``upper``. Contrasts: indexed ``"a / b"`` (ratios) or ``"a - b"``, columns
        ``estimate``, ``se``, ``statistic`` (z or t), ``pvalue``, ``lower``, ``upper``.
        ``attrs`` records the scale, the degrees of freedom, the adjustment and the grid
        (``averaged_over``, ``covariates``, ``offset``).

    Raises
    ------
    SpecificationError
        Unknown or numeric term (the message lists the model's factors), a model it does not
        apply to, or a bad option.
    """
    _check(res, adjust, alpha, offset)
    target, levels, L, grid_info = _linear_functions(res, term)
    # aliased coefficients (singular="drop") are NaN: R's parametrisation sets them to 0, and a
    # linear function that is not estimable (not orthogonal to X's null space) is NaN (R's
    # nonEst)
    null = _null_space(res)
    coef = np.nan_to_num(np.asarray(res.params, dtype=float))
    cov = np.nan_to_num(np.asarray(res.cov_params(), dtype=float))
    off = float(np.mean(res.design.offset)) if offset is None else float(offset)
    eta_any = L @ coef + off  # also where not estimable (for estimable contrasts of them)
    eta = np.where(_estimable(L, null), eta_any, np.nan)
    df = res.df_inference
    link = res.family.link
    attrs = dict(grid_info, offset=off, df=df, alpha=alpha, link=link.name)
    if pairwise:
        return _pairs(levels, target, L, eta_any, cov, df, link.name, adjust, alpha, attrs, null)
    se_eta = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", L, cov, L), 0.0, None))
    se_eta = np.where(np.isnan(eta), np.nan, se_eta)
    q = critical_value(alpha, df)
    with np.errstate(over="ignore"):
        ends = np.column_stack(
            [link.inverse_exact(eta - q * se_eta), link.inverse_exact(eta + q * se_eta)]
        )
        estimate = link.inverse_exact(eta)
    ends.sort(axis=1)
    frame = pd.DataFrame(
        {
            "estimate": estimate,
            "se": np.abs(link.mu_eta(eta)) * se_eta,
            "lower": ends[:, 0],
            "upper": ends[:, 1],
        },
        index=pd.Index(levels, name=target),
    )
    frame.attrs.update(attrs, scale="response")
    return frame


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's adjusted p-values, R's ``p.adjust(p, "holm")``: ``n`` counts every test, the
    non-estimable (NaN) ones included, which stay NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full(len(p), np.nan)
    found = np.flatnonzero(np.isfinite(p))
    order = found[np.argsort(p[found], kind="stable")]
    factors = len(p) - np.arange(len(order))
    out[order] = np.minimum(1.0, np.maximum.accumulate(factors * p[order]))
    return out


def _null_space(res) -> np.ndarray | None:
    """A basis (columns) of the null space of the design when columns are aliased, else None:
    for each aliased column ``j``, ``e_j`` minus its combination of the estimable columns."""
    aliased = getattr(res, "aliased", ())
    if not aliased:
        return None
    names = list(res.design.column_names)
    X = np.asarray(res.design.X, dtype=float)[res.design.total_weights > 0]
    kept = [k for k, n in enumerate(names) if n not in aliased]
    basis = np.zeros((len(names), len(aliased)))
    for i, name in enumerate(aliased):
        j = names.index(name)
        combination, *_ = np.linalg.lstsq(X[:, kept], X[:, j], rcond=None)
        basis[j, i] = 1.0
        basis[kept, i] = -combination
    return basis / np.linalg.norm(basis, axis=0)


def _estimable(L: np.ndarray, null: np.ndarray | None) -> np.ndarray:
    """Which rows of ``L`` are estimable: orthogonal to the null space (emmeans'
    ``estimability`` tolerance, 1e-8 relative to the row's size)."""
    if null is None:
        return np.ones(len(L), dtype=bool)
    size = np.maximum(np.linalg.norm(L, axis=1), 1e-300)
    return np.abs(L @ null).max(axis=1) <= 1e-8 * size


def _pairs(
    levels, target, L, eta, cov, df, link_name, adjust, alpha, attrs, null=None
) -> pd.DataFrame:
    pairs = list(itertools.combinations(range(len(levels)), 2))
    D = np.array([L[i] - L[j] for i, j in pairs]).reshape(len(pairs), L.shape[1])
    diff = np.array([eta[i] - eta[j] for i, j in pairs])
    diff = np.where(_estimable(D, null), diff, np.nan)
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", D, cov, D), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = diff / se
    raw = wald_pvalues(statistic, df)
    if adjust == "tukey":
        # scipy.stats only here: importing it at start-up costs every command 0.7 s
        from scipy.stats import studentized_range

        k, dfree = len(levels), np.inf if df is None else df
        pvalue = studentized_range.sf(np.abs(statistic) * np.sqrt(2.0), k, dfree)
        q = studentized_range.ppf(1.0 - alpha, k, dfree) / np.sqrt(2.0)
    elif adjust == "holm":
        pvalue = _holm(raw)
        q = critical_value(alpha / max(len(pairs), 1), df)  # Bonferroni, as emmeans
    else:
        pvalue, q = raw, critical_value(alpha, df)
    lower, upper = diff - q * se, diff + q * se
    kind = CONTRAST_KINDS.get(link_name, "difference")
    if kind == "difference":
        estimate, se_out, sep = diff, se, " - "
    else:
        estimate, se_out, sep = np.exp(diff), np.exp(diff) * se, " / "
        lower, upper = np.exp(lower), np.exp(upper)
    names = [f"{levels[i]}{sep}{levels[j]}" for i, j in pairs]
    frame = pd.DataFrame(
        {
            "estimate": estimate,
            "se": se_out,
            "statistic": statistic,
            "pvalue": pvalue,
            "lower": lower,
            "upper": upper,
        },
        index=pd.Index(names, name="contrast"),
    )
    scale = "response" if kind != "difference" or link_name == "identity" else "link"
    frame.attrs.update(attrs, scale=scale, kind=kind, adjust=adjust, factor=target)
    return frame


def _linear_functions(res, term: str):
    """The factor's name, its levels, the averaged grid rows ``L`` (one per level) and a
    description of the grid."""
    info = res.design.design_info
    wanted = normalise_term(term)
    categorical, numeric = {}, []
    for factor, fi in info.factor_infos.items():
        if fi.type == "categorical":
            categorical[factor.name()] = (factor, fi)
        else:
            numeric.append(factor.name())
    if wanted not in categorical:
        known = ", ".join(repr(n) for n in categorical) or "none"
        if wanted in numeric or wanted in res.design.covariates:
            raise SpecificationError(
                f"emmeans needs a factor; {term!r} is numeric. The model's factors: {known}."
            )
        raise SpecificationError(f"{term!r} is not a factor of the model; its factors: {known}.")
    # one grid dimension per data column: factors at their levels, two-valued numerics at
    # both values, the other numerics at their mean
    dimensions: dict[str, tuple] = {}
    for name, (factor, fi) in categorical.items():
        column = _factor_column(factor.code)
        if column is None:
            raise SpecificationError(
                f"emmeans builds its grid from data columns; factor {name!r} is computed "
                "from them. Make it a column of the data and refit."
            )
        dimensions[column] = tuple(fi.categories)
        if name == wanted:
            target = column
    covariates = {}
    for column, (mean, distinct) in res.design.covariates.items():
        if column in dimensions:
            continue
        if len(distinct) == 2:
            dimensions[column] = distinct
        else:
            covariates[column] = mean
    size = int(np.prod([len(v) for v in dimensions.values()]))
    if size > GRID_LIMIT:
        raise SpecificationError(
            f"the reference grid of this model has {size} rows (levels of "
            f"{', '.join(dimensions)}), more than {GRID_LIMIT}."
        )
    others = [c for c in dimensions if c != target]
    order = [target, *others]
    grid = pd.DataFrame(
        list(itertools.product(*(dimensions[c] for c in order))), columns=order
    ).assign(**covariates)
    X = predict_matrix(res.design, grid)
    levels = dimensions[target]
    L = X.reshape(len(levels), -1, X.shape[1]).mean(axis=1)
    description = {"factor": target, "averaged_over": others, "covariates": covariates}
    return wanted, [str(level) for level in levels], L, description


def factor_names(res) -> list[str]:
    """The categorical factors of a fitted model, named as :func:`emmeans` takes them."""
    info = res.design.design_info
    if info is None:
        return []
    return [f.name() for f, fi in info.factor_infos.items() if fi.type == "categorical"]


def formula_factors(formula: str) -> list[str]:
    """The names of the factors of a formula's right-hand side (numeric or not); empty when
    it does not parse."""
    try:
        desc = parse_formula(formula)
    except GLMSpecError:
        return []
    return [factor.name() for term in desc.rhs_termlist for factor in term.factors]


def normalise_term(term: str) -> str:
    """The term as patsy names it: R's ``factor(x)`` is glmspec's ``C(x)``; spaces as patsy."""
    text = str(term).strip()
    if text.startswith("factor(") and text.endswith(")"):
        text = "C(" + text[len("factor(") :]
    try:
        return ast.unparse(ast.parse(text, mode="eval"))
    except SyntaxError:
        return text


def _factor_column(code: str) -> str | None:
    """The data column a categorical factor reads directly (``f``, ``C(f)``, ``C(f, ...)``,
    ``C(Q("f"))``), or None when the factor is computed (``C(x > 2)``)."""
    try:
        node = ast.parse(code, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "C":
        node = node.args[0] if node.args else None
    if isinstance(node, ast.Name):
        return node.id
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Q"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ):
        return node.args[0].value
    return None


def _check(res, adjust: str, alpha: float, offset) -> None:
    require_ml_glm_in_memory(res, "emmeans")
    if res.design.design_info is None:
        raise SpecificationError("emmeans needs a model fitted from a formula (not arrays).")
    if adjust not in ADJUSTMENTS:
        raise SpecificationError(f"adjust must be one of {', '.join(ADJUSTMENTS)}, got {adjust!r}.")
    check_alpha(alpha)
    if offset is not None and (
        isinstance(offset, bool) or not isinstance(offset, float | int) or not np.isfinite(offset)
    ):
        raise SpecificationError(f"offset must be a finite number, got {offset!r}.")
