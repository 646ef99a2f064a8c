"""Single-term deletions of a GLM, as R's ``drop1(fit, test=...)`` (``drop1.glm``).

Each term that R's marginality rule (``drop.scope``) allows is dropped in turn: the model is
refitted without that term's columns, with the same response, prior weights, offset and family
(the negative binomial at the fitted theta), as ``glm.fit`` in ``drop1.glm``. A fit with
aliased columns (``singular="drop"``) is handled as R handles one with NA coefficients: each
refit leaves out the columns that are combinations of the others it keeps, and the degrees of
freedom are ranks (``z$rank``, ``object$rank``). The columns follow R's definitions exactly:

* ``Df``: the number of coefficients the term removes; ``Deviance``: the reduced model's
  residual deviance (``<none>``: the model's);
* ``AIC``: ``loglik + 2 Df_model`` shifted so that ``<none>`` equals the model's AIC, where
  ``loglik`` is ``n log(deviance / n)`` for the Gaussian (``n`` rows) and ``deviance /
  dispersion`` otherwise (dispersion: the full model's, 1 for binomial, Poisson and negative
  binomial); left out when the family has no AIC (quasi families, Tweedie);
* ``test="Chisq"``: ``LRT`` (named ``scaled dev.`` when the dispersion is not 1) = the rise of
  ``loglik``, against chi-square on ``Df``;
* ``test="F"``: ``F value`` = (deviance rise / Df) / (full deviance / residual df), against F
  on (Df, residual df); R warns that for the binomial and Poisson this assumes the quasi family.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from glmspec.design.termorder import droppable, formula_terms
from glmspec.errors import DomainWarning, ModelComparisonError
from glmspec.inference.applicability import require_ml_glm_in_memory
from glmspec.inference.distributions import chi2_sf, f_sf
from glmspec.solvers.refit import refit_columns

TESTS = ("Chisq", "LRT", "F")


def drop1(res, test: str | None = None) -> pd.DataFrame:
    """R's ``drop1(fit, test=)`` for a GLM fitted from a formula.

    Parameters
    ----------
    res : GLMResults or NegBinResults
        A fit of :func:`glmspec.fit` (in memory, not penalized).
    test : {None, "Chisq", "LRT", "F"}
        ``None`` (R's ``"none"``) gives ``Df``, ``Deviance`` and ``AIC`` only; ``"LRT"`` is
        ``"Chisq"``.

    Returns
    -------
    pandas.DataFrame
        Indexed ``"<none>"`` then each droppable term in R's order; columns ``Df``,
        ``Deviance``, ``AIC`` and, with a test, ``LRT`` (or ``scaled dev.``) and ``Pr(>Chi)``,
        or ``F value`` and ``Pr(>F)``. ``attrs["dispersion"]`` holds the dispersion used.

    Raises
    ------
    ModelComparisonError
        Unknown test, or a fit drop1 does not apply to (multinomial, array or Dask fits,
        penalized fits).
    """
    _check(res, test)
    design = res.design
    terms = droppable(formula_terms(design.design_info, res.spec.formula))
    n_columns = len(design.column_names)
    singular = bool(getattr(res, "aliased", ()))
    # the model's rank (R's object$rank): aliased columns (singular="drop") do not count
    n_coef = [n_columns - len(getattr(res, "aliased", ()))]
    deviance = [res.deviance]
    for term in terms:
        keep = [j for j in range(n_columns) if j not in term.columns]
        sub = refit_columns(
            design,
            res.family,
            keep,
            max_iter=res.spec.max_iter,
            tol=res.spec.tol,
            singular=singular,
        )
        n_coef.append(sub.n_coef)
        # a subset of the columns with the model's rank spans the same space: it is the same
        # model, whose deviance the refit reproduces only to rounding (R's LRT is then 0)
        deviance.append(res.deviance if sub.n_coef == n_coef[0] else sub.deviance)
    n_coef_arr, dev = np.array(n_coef, dtype=float), np.array(deviance)
    dispersion = float(res.scale)
    loglik = res.family.drop1_loglik(dev, _n_rows(design), dispersion)
    aic = loglik + 2.0 * n_coef_arr
    aic = aic + (res.aic - aic[0])
    df = n_coef_arr[0] - n_coef_arr
    df[0] = np.nan
    table = pd.DataFrame(
        {"Df": df, "Deviance": dev, "AIC": aic}, index=["<none>", *(t.name for t in terms)]
    )
    if np.all(np.isnan(aic)):
        table = table.drop(columns="AIC")
    if test in ("Chisq", "LRT"):
        lrt = np.maximum(0.0, loglik - loglik[0])
        lrt[0] = np.nan
        table["LRT" if dispersion == 1 else "scaled dev."] = lrt
        table["Pr(>Chi)"] = chi2_sf(lrt, df)
    elif test == "F":
        if res.family.quasi_name is not None:
            warnings.warn(
                f"F test assumes '{res.family.quasi_name}' family", DomainWarning, stacklevel=3
            )
        rms = dev[0] / res.df_resid
        rise = np.maximum(0.0, dev - dev[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            f_value = np.where(df < 1e-4, np.nan, rise / df / rms)
        table["F value"] = f_value
        table["Pr(>F)"] = f_sf(f_value, df, res.df_resid)
    table.attrs["test"] = test
    table.attrs["dispersion"] = dispersion
    return table


def _n_rows(design) -> float:
    """R's ``nrow(model.matrix)``: every row, or the rows frequency weights stand for."""
    freq = getattr(design, "freq_weights", None)
    return float(len(design.y)) if freq is None else float(np.sum(freq))


def _check(res, test: str | None) -> None:
    if test is not None and test not in TESTS:
        raise ModelComparisonError(f"test must be None, 'Chisq', 'LRT' or 'F', got {test!r}.")
    require_ml_glm_in_memory(res, "drop1", ModelComparisonError)
    if res.design.design_info is None:
        raise ModelComparisonError("drop1 needs a GLM fitted from a formula (glmspec.fit).")
