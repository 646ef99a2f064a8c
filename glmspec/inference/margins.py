"""Average marginal effects of a GLM, with statsmodels' ``get_margeff`` names and semantics.

For every design column but the intercept, the effect of a unit change on the mean
``mu = g^{-1}(eta)``:

* numeric columns: the derivative ``dmu/dx_j = mu_eta(eta) b_j`` (``method="dydx"``), or the
  elasticities ``eyex`` (``dydx * x_j / mu``), ``dyex`` (``dydx * x_j``), ``eydx``
  (``dydx / mu``);
* the treatment-coded columns of a factor (a term of one categorical factor): the discrete
  change of the mean from the reference level to that level, every other column of the factor
  at 0 (``mu_1 - mu_0``; for ``ey*`` methods ``log mu_1 - log mu_0``, as statsmodels'
  ``dummy=True``; for a two-level factor this is statsmodels' dummy effect exactly).

``at="overall"`` averages the per-row effects over the rows (statsmodels' default, the
average marginal effect); ``at="mean"`` evaluates them at the column means. Standard errors
by the delta method, ``J V J'``, with the Jacobian ``J`` of the effects in the coefficients
taken by central differences (statsmodels differentiates numerically too). The definition is
the same for every GLM family; for ``Logit``, ``Probit`` and ``Poisson`` it is statsmodels'.
Columns are treated one at a time, as statsmodels does: a variable that enters several
columns (``x + I(x**2)``, interactions) gets one effect per column, not a total effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from glmspec.errors import SpecificationError
from glmspec.inference.applicability import require_ml_glm_in_memory
from glmspec.inference.dispersion import check_alpha, critical_value, wald_pvalues

METHODS = ("dydx", "eyex", "dyex", "eydx")
AT = ("overall", "mean")
#: The effect column's name per method, as statsmodels' ``summary_frame``.
EFFECT_NAMES = {"dydx": "dy/dx", "eyex": "d(lny)/d(lnx)", "dyex": "dy/d(lnx)", "eydx": "d(lny)/dx"}


def get_margeff(res, at: str = "overall", method: str = "dydx", alpha: float = 0.05):
    """Marginal effects with delta-method standard errors; see the module docstring.

    Parameters
    ----------
    res : GLMResults
        A GLM fitted from a formula or arrays (not multinomial, not Dask, not penalized).
    at : {"overall", "mean"}
    method : {"dydx", "eyex", "dyex", "eydx"}
    alpha : float
        For the confidence interval (normal quantiles, as statsmodels).

    Returns
    -------
    pandas.DataFrame
        statsmodels' ``summary_frame()`` columns: ``dy/dx`` (or the elasticity's name, see
        :data:`EFFECT_NAMES`), ``Std. Err.``, ``z``,
        ``Pr(>|z|)``, ``Conf. Int. Low``, ``Cont. Int. Hi.``, one row per non-intercept
        column (named by the design's column names).
    """
    _check(res, at, method, alpha)
    design = res.design
    names = list(design.column_names)
    X = np.asarray(design.X, dtype=float)
    offset = np.asarray(design.offset, dtype=float)
    if at == "mean":
        X, offset = X.mean(axis=0, keepdims=True), np.array([offset.mean()])
    factor_columns = _factor_columns(design)
    effects = [j for j, name in enumerate(names) if name != "Intercept"]
    link = res.family.link

    def compute(coef: np.ndarray) -> np.ndarray:
        eta = X @ coef + offset
        mu, slope = link.inverse(eta), link.mu_eta(eta)
        out = []
        for j in effects:
            if j in factor_columns:
                base = X.copy()
                base[:, factor_columns[j]] = 0.0
                mu0 = link.inverse(base @ coef + offset)
                base[:, j] = 1.0
                mu1 = link.inverse(base @ coef + offset)
                change = np.log(mu1) - np.log(mu0) if method.startswith("ey") else mu1 - mu0
                out.append(np.mean(change))
                continue
            dydx = slope * coef[j]
            per_row = {
                "dydx": dydx,
                "eyex": dydx * X[:, j] / mu,
                "dyex": dydx * X[:, j],
                "eydx": dydx / mu,
            }[method]
            out.append(np.mean(per_row))
        return np.array(out)

    coef = np.asarray(res.params, dtype=float)
    value = compute(coef)
    jacobian = np.empty((len(value), len(coef)))
    for k in range(len(coef)):
        h = 1e-6 * max(abs(coef[k]), 1.0)
        up, down = coef.copy(), coef.copy()
        up[k] += h
        down[k] -= h
        jacobian[:, k] = (compute(up) - compute(down)) / (2.0 * h)
    cov = np.asarray(res.cov_params(), dtype=float)
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jacobian, cov, jacobian), 0.0, None))
    z = value / se
    q = critical_value(alpha, None)
    frame = pd.DataFrame(
        {
            EFFECT_NAMES[method]: value,
            "Std. Err.": se,
            "z": z,
            "Pr(>|z|)": wald_pvalues(z, None),
            "Conf. Int. Low": value - q * se,
            "Cont. Int. Hi.": value + q * se,
        },
        index=[names[j] for j in effects],
    )
    frame.attrs.update(at=at, method=method)
    return frame


def _factor_columns(design) -> dict[int, list[int]]:
    """For each column of a one-factor categorical term, all the columns of that term."""
    info = design.design_info
    if info is None:
        return {}
    categorical = {factor for factor, fi in info.factor_infos.items() if fi.type == "categorical"}
    found: dict[int, list[int]] = {}
    for term, cols in info.term_slices.items():
        if len(term.factors) == 1 and term.factors[0] in categorical:
            columns = list(range(cols.start, cols.stop))
            if len(columns) == len(info.factor_infos[term.factors[0]].categories):
                raise SpecificationError(
                    f"factor {term.name()!r} is coded without a reference level (a model "
                    "without intercept): its discrete changes are not defined."
                )
            for j in columns:
                found[j] = columns
    return found


def _check(res, at: str, method: str, alpha: float) -> None:
    if at not in AT:
        raise SpecificationError(f"at must be 'overall' or 'mean', got {at!r}.")
    if method not in METHODS:
        raise SpecificationError(f"method must be one of {', '.join(METHODS)}, got {method!r}.")
    check_alpha(alpha)
    require_ml_glm_in_memory(res, "get_margeff")
