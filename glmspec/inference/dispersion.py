"""Statistics computed from a fit: dispersion, Wald tests, intervals, information criteria.

Conventions follow R's ``summary.glm`` and ``logLik.glm``:

* the dispersion is 1 for the binomial, Poisson and multinomial families, and otherwise the
  Pearson chi-square over the residual degrees of freedom (statsmodels' default ``scale="X2"``
  is the same);
* standard errors are ``sqrt(diag(dispersion * (X'WX)^{-1}))`` with the expected (Fisher)
  information at the estimate;
* tests use the normal distribution when the dispersion is fixed and Student's t with
  ``df_resid`` degrees of freedom when it is estimated. statsmodels' GLM uses the normal
  distribution for all families unless ``use_t=True``; R uses t.
* AIC and BIC count the coefficients plus the estimated dispersion of the Gaussian
  (``k = rank + 1``), as R's ``AIC``/``BIC``; statsmodels' ``aic`` uses ``rank`` only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glmspec.errors import SpecificationError
from glmspec.families import Family
from glmspec.inference.distributions import chi2_sf, norm_isf, norm_sf, t_isf, t_sf


def pearson_chi2(family: Family, y: np.ndarray, mu: np.ndarray, prior: np.ndarray) -> float:
    """Pearson chi-square ``sum(prior * (y - mu)^2 / V(mu))`` over rows with positive weight."""
    used = prior > 0
    resid = y[used] - mu[used]
    # resid * (resid / V) rather than resid**2 / V: no overflow for means near 1e174
    return float(np.sum(prior[used] * resid * (resid / family.variance(mu[used]))))


def dispersion(family: Family, pearson: float, df_resid: float) -> float:
    """Dispersion as R's ``summary.glm``: 1 when fixed, else Pearson chi-square / df_resid."""
    if family.fixed_scale:
        return 1.0
    return pearson / df_resid if df_resid > 0 else float("nan")


def standard_errors(cov: np.ndarray) -> np.ndarray:
    """Square roots of the covariance diagonal."""
    return np.sqrt(np.clip(np.diag(cov), 0.0, None))


def wald_pvalues(statistic: np.ndarray, df: float | None) -> np.ndarray:
    """Two-sided p-values: normal when ``df`` is None, else Student's t with ``df``."""
    stat = np.abs(np.asarray(statistic, dtype=float))
    if df is None:
        return 2.0 * norm_sf(stat)
    return 2.0 * t_sf(stat, df)


def check_alpha(alpha: Any) -> float:
    """``alpha`` (1 - the confidence level) as a float, or raise :class:`SpecificationError`
    unless it is a number in (0, 1)."""
    number = isinstance(alpha, (int, float, np.number)) and not isinstance(alpha, bool)
    if not (number and 0 < alpha < 1):
        raise SpecificationError(f"alpha must be a number in (0, 1), got {alpha!r}.")
    return float(alpha)


def critical_value(alpha: float, df: float | None) -> float:
    """The ``1 - alpha/2`` quantile of the normal (``df`` None) or t distribution."""
    check_alpha(alpha)
    if df is None:
        return float(norm_isf(alpha / 2))
    return float(t_isf(alpha / 2, df))


def information_criteria(llf: float, k: int, nobs: float) -> tuple[float, float]:
    """R's ``AIC = -2 llf + 2k`` and ``BIC = -2 llf + log(nobs) k``."""
    return -2.0 * llf + 2.0 * k, -2.0 * llf + np.log(nobs) * k


#: Level of the Pearson overdispersion test (:func:`pearson_overdispersion`).
OVERDISPERSION_LEVEL = 0.01


def pearson_overdispersion(
    pearson: float, df_resid: float, level: float = OVERDISPERSION_LEVEL
) -> dict[str, float | bool]:
    """Pearson's goodness-of-fit test of a fixed dispersion of 1 (Poisson, binomial counts).

    Under the model the Pearson chi-square is approximately chi-square on ``df_resid``
    degrees of freedom (McCullagh and Nelder 1989, sec. 4.4.5; Agresti 2015, sec. 7.2.2), so
    ``ratio = X2 / df_resid`` near 1 is what the model expects. Overdispersion is flagged when
    the upper-tail probability ``P(chi2_df >= X2)`` is below ``level`` (1 %): a test rather than
    a fixed ratio, because how far the ratio may stray from 1 by chance shrinks with df (a ratio
    of 1.5 is unremarkable on 10 df, p = 0.13, and decisive on 1000 df).

    Returns
    -------
    dict
        ``pearson_chi2``, ``df_resid``, ``ratio``, ``pvalue``, ``level`` and ``overdispersed``.
    """
    ratio = pearson / df_resid if df_resid > 0 else float("nan")
    pvalue = float(chi2_sf(pearson, df_resid)) if df_resid > 0 else float("nan")
    return {
        "pearson_chi2": float(pearson),
        "df_resid": float(df_resid),
        "ratio": float(ratio),
        "pvalue": pvalue,
        "level": level,
        "overdispersed": bool(pvalue < level),
    }
