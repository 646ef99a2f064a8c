"""Comparisons of nested models: R's ``anova(m1, m2, ..., test=)`` and a likelihood-ratio test.

Models are comparable only when they are fitted to the same response, weights and rows with
the same family and link, and when each design's column space contains the previous one's.
Anything else raises :class:`ModelComparisonError`.

:func:`anova` follows R's ``anova.glm`` for several models: deviance differences are scaled
by the dispersion of the *largest* model; the test is ``"Chisq"`` (deviance difference /
dispersion against chi-square) for families with fixed dispersion and ``"F"`` (difference /
df / dispersion against F with the largest model's residual df) when it is estimated. An F
test asked for on a fixed-dispersion family uses infinite denominator df, as R (``pf(F, df,
Inf)``, the chi-square test's p-value).
:func:`lrtest` is the plain likelihood-ratio test ``2 (llf_big - llf_small)`` against
chi-square, as statsmodels' ``compare_lr_test``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from glmspec.design.termorder import formula_terms
from glmspec.errors import ModelComparisonError
from glmspec.inference.distributions import chi2_sf, f_sf
from glmspec.solvers.refit import refit_columns

_NEST_TOL = 1e-8


@dataclass(frozen=True)
class LRTest:
    """Likelihood-ratio test of a smaller model against a bigger one."""

    statistic: float
    df: int
    pvalue: float


def _n_params(res) -> int:
    """Estimated coefficients: aliased ones (NaN, ``singular="drop"``) do not count."""
    return int(np.sum(~np.isnan(np.asarray(res.params, dtype=float))))


def _label(res, i: int) -> str:
    return f"model {i + 1} ({res.spec.formula!r})"


def check_nested(small, big, names: tuple[str, str] = ("small", "big")) -> None:
    """Raise :class:`ModelComparisonError` unless ``small`` is nested in ``big`` on the same data.

    Nesting is checked on the column spaces (so ``x`` nests in ``2*x + z``), not on names.
    The data are checked first (:func:`data_difference`), then family and link, then nesting,
    so the error names the first thing that differs.
    """
    a, b = small.design, big.design
    difference = data_difference(small, big)
    if difference is not None:
        raise ModelComparisonError(
            f"{names[0]} and {names[1]} were not fitted to the same data ({difference}; response, "
            "rows, weights, frequency weights and offset must be identical); refit both on the "
            "same rows."
        )
    firth = [n for n, r in zip(names, (small, big), strict=True) if _is_firth(r)]
    if firth:
        raise ModelComparisonError(
            f"{' and '.join(firth)} {'is a' if len(firth) == 1 else 'are'} Firth (bias-reduced) "
            "fit(s): a penalized likelihood is not the likelihood that a likelihood-ratio test or "
            "an analysis of deviance compares; compare maximum-likelihood fits (method='ml')."
        )
    if small.family.name != big.family.name or small.family.link.name != big.family.link.name:
        raise ModelComparisonError(
            f"{names[0]} and {names[1]} use different families or links "
            f"({small.family.name}/{small.family.link.name} vs "
            f"{big.family.name}/{big.family.link.name}); they cannot be compared."
        )
    dask = [getattr(r, "engine", None) == "dask" for r in (small, big)]
    if _n_params(small) > _n_params(big):
        raise ModelComparisonError(
            f"{names[0]} has more parameters than {names[1]}; give the smaller model first."
        )
    if any(dask):
        # the rows stay on the workers: the spans are compared on the same sampled rows
        a, b = small.sample_results().design, big.sample_results().design
    small_x, big_x = np.asarray(a.X), np.asarray(b.X)
    coef, *_ = np.linalg.lstsq(big_x, small_x, rcond=None)
    residual = np.linalg.norm(small_x - big_x @ coef, axis=0)
    scale = np.maximum(np.linalg.norm(small_x, axis=0), 1e-300)
    outside = [
        n for n, r, s in zip(a.column_names, residual, scale, strict=True) if r > _NEST_TOL * s
    ]
    if outside:
        raise ModelComparisonError(
            f"{names[0]} is not nested in {names[1]}: column(s) {outside} are not in the span "
            f"of {names[1]}'s design."
        )


def data_difference(a, b, *, offset: bool = True) -> str | None:
    """How two fits' data differ, in words, or None when they share response, rows and weights.

    The reason names the first difference in this order: response, rows, prior weights,
    frequency weights, offset (skipped with ``offset=False``: an offset is part of a model, so
    models with different offsets still describe the same data, e.g. for AIC).
    """
    da, db = a.design, b.design
    dask = [getattr(r, "engine", None) == "dask" for r in (a, b)]
    if any(dask):
        if da.response_name != db.response_name:
            return f"different response ({da.response_name} vs {db.response_name})"
        return None if all(dask) and _same_dask_rows(a, b) else "different data or rows"
    if da.response_name != db.response_name and not (
        da.y.shape == db.y.shape and np.array_equal(da.y, db.y)
    ):
        return f"different response ({da.response_name} vs {db.response_name})"
    if da.y.shape != db.y.shape:
        return f"different rows ({a.nobs:g} vs {b.nobs:g} observations)"
    if not np.array_equal(da.y, db.y):
        return "different rows (the response values differ row by row)"
    if not np.array_equal(da.prior_weights, db.prior_weights):
        return "different prior weights"
    if not _same_optional(getattr(da, "freq_weights", None), getattr(db, "freq_weights", None)):
        return "different frequency weights"
    if offset and not np.array_equal(da.offset, db.offset):
        return "different offset or exposure"
    return None


def _is_firth(res) -> bool:
    return getattr(getattr(res, "spec", None), "method", "ml") == "firth"


def _same_dask_rows(small, big) -> bool:
    """Two Dask fits of the same Dask DataFrame with the same response, weights, offset and
    rows kept."""
    a, b = small.design, big.design
    options = ("weights", "offset", "freq_weights", "exposure", "missing")
    return (
        small.data is big.data
        and a.response_name == b.response_name
        and all(getattr(small.spec, k) == getattr(big.spec, k) for k in options)
        and (a.n_rows, a.n_dropped) == (b.n_rows, b.n_dropped)
    )


def _same_optional(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(a, b)


def _theta(res) -> float | None:
    return getattr(res.family, "theta", None)


def lrtest(small, big) -> LRTest:
    """Likelihood-ratio test ``2 (llf_big - llf_small)`` on the difference in parameters.

    The parameter count includes an estimated negative binomial theta (as R's
    ``anova.negbin``), so models with different estimated thetas are compared correctly.

    Raises
    ------
    ModelComparisonError
        The models are not nested, not fitted to the same data, or have no log-likelihood
        (quasi families, Tweedie: use :func:`anova`'s F test).
    """
    check_nested(small, big)
    if not (np.isfinite(small.llf) and np.isfinite(big.llf)):
        raise ModelComparisonError(
            f"the {big.family.name} family has no log-likelihood, so there is no "
            "likelihood-ratio test; use glmspec.anova (F test on the deviance)."
        )
    statistic = max(2.0 * (big.llf - small.llf), 0.0)
    df = _n_params(big) - _n_params(small)
    return LRTest(statistic, df, float(chi2_sf(statistic, df)) if df > 0 else float("nan"))


def poisson_negbin_lrtest(poisson, negbin) -> LRTest:
    """Boundary likelihood-ratio test of the Poisson in the negative binomial, ``pscl::odTest``.

    The Poisson is the negative binomial at ``1/theta = 0``, the boundary of the parameter
    space, so ``2 (llf_nb - llf_poisson)`` is a 50:50 mixture of 0 and chi-square(1) under
    the Poisson: ``p = P(chi2_1 >= statistic) / 2`` (Self and Liang 1987; ``pscl::odTest``).

    Raises
    ------
    ModelComparisonError
        Not a Poisson fit and a negative binomial fit with theta estimated by ML, with the same
        link, data and design.
    """
    if not (
        poisson.family.counts_response
        and poisson.family.fixed_scale
        and poisson.family.quasi_name
        and getattr(negbin, "theta_estimated", False)
    ):
        raise ModelComparisonError(
            "the boundary test needs a Poisson fit and a negative binomial fit with theta "
            "estimated by maximum likelihood."
        )
    difference = data_difference(poisson, negbin)
    same_design = difference is None and np.array_equal(
        np.asarray(poisson.design.X), np.asarray(negbin.design.X)
    )
    if poisson.family.link.name != negbin.family.link.name or not same_design:
        raise ModelComparisonError(
            "the Poisson and negative binomial fits differ in "
            f"{difference or 'link or design'}; the boundary test needs the same model."
        )
    statistic = max(2.0 * (negbin.llf - poisson.llf), 0.0)
    return LRTest(statistic, 1, 0.5 * float(chi2_sf(statistic, 1)))


def anova(*models, test: str | None = None) -> pd.DataFrame:
    """Analysis of deviance for a sequence of nested models, as R's ``anova(m1, m2, ...)``.

    Parameters
    ----------
    *models : GLMResults
        Two or more fits, from smallest to largest.
    test : {"Chisq", "F"}, optional
        Default: ``"Chisq"`` for fixed dispersion, ``"F"`` when the dispersion is estimated.

    Returns
    -------
    pandas.DataFrame
        Columns ``Resid. Df``, ``Resid. Dev``, ``Df``, ``Deviance``, the test statistic (``F``
        for the F test) and ``Pr(>Chi)`` or ``Pr(>F)``; one row per model.
    """
    if len(models) < 2:
        raise ModelComparisonError("anova needs at least two models.")
    thetas = {_theta(m) for m in models}
    if len(thetas) > 1:
        raise ModelComparisonError(
            "negative binomial models with different theta have deviances on different "
            "scales; compare them with glmspec.lrtest (as R's anova.negbin)."
        )
    for i in range(len(models) - 1):
        check_nested(models[i], models[i + 1], (_label(models[i], i), _label(models[i + 1], i + 1)))
    largest = models[-1]
    fixed = largest.family.fixed_scale
    test = test or ("Chisq" if fixed else "F")
    if test not in ("Chisq", "F"):
        raise ModelComparisonError(f"test must be 'Chisq' or 'F', got {test!r}.")
    dispersion = largest.scale
    df_scale = _dispersion_df(largest)
    rows = []
    for i, res in enumerate(models):
        row = {"Resid. Df": res.df_resid, "Resid. Dev": res.deviance}
        if i:
            prev = models[i - 1]
            df = prev.df_resid - res.df_resid
            dev = prev.deviance - res.deviance
            row.update({"Df": df, "Deviance": dev})
            if test == "Chisq":
                row["Pr(>Chi)"] = float(chi2_sf(dev / dispersion, df))
            else:
                f_stat = dev / df / dispersion
                row["F"] = f_stat
                row["Pr(>F)"] = float(_f_sf(f_stat, df, df_scale))
        rows.append(row)
    table = pd.DataFrame(rows, index=[f"model {i + 1}" for i in range(len(models))])
    table.attrs["test"] = test
    table.attrs["dispersion"] = dispersion
    return table


def _dispersion_df(res) -> float:
    """Denominator degrees of freedom of an F test, as R's ``anova.glm``: infinite when the
    dispersion is fixed (binomial, Poisson, negative binomial: the F test is then the
    chi-square test divided by its df), the residual df when it is estimated."""
    return float("inf") if res.family.fixed_scale else float(res.df_resid)


def _f_sf(f_stat, df, df_scale: float):
    """``P(F(df, df_scale) > f_stat)``; with infinite ``df_scale`` that is ``P(chi2(df) > df
    f_stat)`` (scipy's F distribution gives NaN there)."""
    if np.isinf(df_scale):
        return chi2_sf(np.multiply(f_stat, df), df)
    return f_sf(f_stat, df, df_scale)


def sequential_anova(res, test: str | None = None) -> pd.DataFrame:
    """Sequential analysis of deviance of one fit, as R's ``anova(fit, test=...)``.

    Terms are added in R's order (as written, main effects before interactions; see
    :func:`glmspec.design.termorder.formula_terms`), whatever order patsy gives the columns;
    each row gives the drop in deviance when that term joins the previous ones (with aliased
    columns, ``singular="drop"``, each refit leaves out the columns aliased among those it
    has and a term's ``Df`` is the rise in rank, as R's ``anova.glm``). Statistics
    use the full model's dispersion: ``"Chisq"`` (deviance / dispersion against chi-square)
    when the dispersion is fixed, ``"F"`` (deviance / df / dispersion against F on the
    full model's residual df) when it is estimated, as R (an F test on a fixed-dispersion
    family has infinite denominator df, as R's ``anova.glm``).

    Returns
    -------
    pandas.DataFrame
        Index ``NULL`` then the term names; columns ``Df``, ``Deviance``, ``Resid. Df``,
        ``Resid. Dev`` and ``Pr(>Chi)``, or ``F`` and ``Pr(>F)``.
    """
    design = res.design
    if design.design_info is None or getattr(res, "model_kind", "glm") != "glm":
        raise ModelComparisonError(
            "sequential anova needs a GLM fitted from a formula (glmspec.fit)."
        )
    test = test or ("Chisq" if res.family.fixed_scale else "F")
    if test not in ("Chisq", "F"):
        raise ModelComparisonError(f"test must be 'Chisq' or 'F', got {test!r}.")
    has_intercept = design.has_intercept
    names, resid_df, resid_dev = ["NULL"], [res.nobs - int(has_intercept)], [res.null_deviance]
    columns = [design.column_names.index("Intercept")] if has_intercept else []
    n_columns = len(design.column_names)
    spec = res.spec
    penalty = None if spec.penalty is None else (spec.alpha, spec.l1_ratio)
    model_rank = n_columns - len(getattr(res, "aliased", ()))
    for term in formula_terms(design.design_info, spec.formula):
        columns += term.columns
        if len(columns) == n_columns:
            deviance, df_resid = res.deviance, res.df_resid
        else:
            sub = refit_columns(
                design,
                res.family,
                columns,
                max_iter=spec.max_iter,
                tol=spec.tol,
                penalty=penalty,
                singular=bool(getattr(res, "aliased", ())),
            )
            deviance, df_resid = sub.deviance, res.nobs - sub.n_coef
            # nested columns of equal rank span the same space: the same maximum-likelihood
            # model, whose deviance a refit reproduces only to rounding (R's Deviance is 0)
            if penalty is None and sub.n_coef == model_rank:
                deviance = res.deviance
            elif penalty is None and df_resid == resid_df[-1]:
                deviance = resid_dev[-1]
        names.append(term.name)
        resid_df.append(df_resid)
        resid_dev.append(deviance)
    table = pd.DataFrame({"Resid. Df": resid_df, "Resid. Dev": resid_dev}, index=names)
    table.insert(0, "Deviance", -table["Resid. Dev"].diff())
    table.insert(0, "Df", -table["Resid. Df"].diff())
    dispersion = res.scale
    if test == "Chisq":
        table["Pr(>Chi)"] = chi2_sf(table["Deviance"] / dispersion, table["Df"])
    else:
        table["F"] = table["Deviance"] / table["Df"] / dispersion
        table["Pr(>F)"] = _f_sf(table["F"].to_numpy(), table["Df"].to_numpy(), _dispersion_df(res))
    table.attrs["test"], table.attrs["dispersion"] = test, dispersion
    return table
