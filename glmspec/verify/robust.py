"""Robust (sandwich) standard errors on the statsmodels side of the check.

glmspec's ``bse`` follows the fit's ``cov_type`` (:mod:`glmspec.inference.covariance`), so the
check must compare it with statsmodels under the same covariance, not with statsmodels'
default non-robust SE:

* ``"HC0"``: statsmodels' own ``fit(cov_type="HC0")``.
* ``"cluster"``: statsmodels' ``fit(cov_type="cluster", cov_kwds={"groups": ...})`` with its
  default small-sample correction ``use_correction=True``, ``G / (G - 1) * (n - 1) / (n - k)``,
  the factor glmspec uses. statsmodels is fitted on the rows with positive weight; when the
  design has zero-weight rows (which glmspec's ``n`` and ``G`` count, as R's ``sandwich``) its
  covariance is rescaled by the ratio of the two factors and the ``convention`` column says so.
* ``"HC1"``, ``"HC2"``, ``"HC3"``: statsmodels' GLM returns HC0 for all three, so R's
  ``sandwich::vcovHC`` formulas are evaluated here from statsmodels' own building blocks (its
  ``score_obs``, its observed ``hessian`` and ``MLEInfluence.hat_matrix_diag``):
  meat weights ``n / (n - k)``, ``1 / (1 - h)`` and ``1 / (1 - h)^2``.

Multinomial fits: statsmodels' ``MNLogit`` with ``cov_type="HC0"`` or ``"cluster"``; HC1 is
its HC0 times ``n / (n - k)`` (``MNLogit`` also returns HC0 for HC1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glmspec.inference.covariance import cluster_correction, group_codes

__all__ = ["fit_options", "glm_bse", "multinomial_bse"]

_HC_FORMULA = {
    "HC1": "n / (n - k)",
    "HC2": "1 / (1 - h_i)",
    "HC3": "1 / (1 - h_i)^2",
}


def fit_options(res: Any, used: np.ndarray | None = None) -> dict:
    """Keyword arguments of statsmodels' ``fit`` that request ``res.cov_type``.

    Parameters
    ----------
    res : GLMResults or MultinomialResults
    used : ndarray of bool, optional
        The rows statsmodels is fitted on (default: all).

    Returns
    -------
    dict
        Empty for ``"nonrobust"`` and HC1-HC3 (computed by :func:`glm_bse`), else
        ``cov_type`` and, for ``"cluster"``, ``cov_kwds``.
    """
    cov_type = getattr(res, "cov_type", "nonrobust")
    if cov_type == "HC0" or (cov_type == "HC1" and res.family.is_multiclass):
        return {"cov_type": "HC0"}
    if cov_type == "cluster":
        groups, _ = group_codes(res.groups if used is None else res.groups[used])
        kwds = {"groups": groups, "use_correction": True, "df_correction": True}
        return {"cov_type": "cluster", "cov_kwds": kwds}
    return {}


def _cluster_rescale(res: Any, used: np.ndarray | None, k: int) -> tuple[float, str]:
    label = (
        "cluster-robust sandwich, observed-information bread, correction "
        "G/(G-1) (n-1)/(n-k) (statsmodels cov_type='cluster', use_correction=True)"
    )
    if used is None or used.all():
        return 1.0, label
    n, n_groups = res.groups.shape[0], group_codes(res.groups)[1]
    m, m_groups = int(used.sum()), group_codes(res.groups[used])[1]
    ratio = cluster_correction(n, k, n_groups) / cluster_correction(m, k, m_groups)
    return float(np.sqrt(ratio)), (
        f"{label}; statsmodels fitted on the {m} rows with positive weight, its correction "
        f"rescaled to glmspec's n = {n} rows and G = {n_groups} clusters (R sandwich)"
    )


def glm_bse(res: Any, model: Any, sm_res: Any, used: np.ndarray) -> tuple[np.ndarray, str]:
    """statsmodels' standard errors under ``res.cov_type`` and the ``convention`` label.

    Parameters
    ----------
    res : GLMResults
    model, sm_res
        statsmodels' GLM and its fit with :func:`fit_options`.
    used : ndarray of bool
        The rows of ``res.design`` statsmodels was fitted on.
    """
    cov_type = getattr(res, "cov_type", "nonrobust")
    if cov_type == "nonrobust":
        return (
            np.asarray(sm_res.bse),
            "sqrt(diag(scale * inv(X'WX))), expected information",
        )
    if cov_type == "HC0":
        return (
            np.asarray(sm_res.bse),
            "HC0 sandwich, observed-information bread (statsmodels cov_type='HC0')",
        )
    k = len(sm_res.params)
    if cov_type == "cluster":
        factor, label = _cluster_rescale(res, used, k)
        return factor * np.asarray(sm_res.bse), label
    params = np.asarray(sm_res.params)
    scores = model.score_obs(params)
    if model.freq_weights is not None and np.any(model.freq_weights != 1):
        # one copy of a row per frequency weight, as statsmodels' own HC0
        scores = scores / np.sqrt(np.asarray(model.freq_weights))[:, None]
    inverse = np.linalg.inv(model.hessian(params))
    weight = np.ones(scores.shape[0])
    if cov_type == "HC1":
        n = res.design.X.shape[0]  # every row, zero-weight ones included (R sandwich)
        weight *= n / (n - k)
    else:
        from statsmodels.stats.outliers_influence import MLEInfluence

        h = np.asarray(MLEInfluence(sm_res).hat_matrix_diag)
        weight /= (1.0 - h) ** (1 if cov_type == "HC2" else 2)
    meat = (scores * weight[:, None]).T @ scores
    cov = inverse @ meat @ inverse
    label = (
        f"{cov_type}: R sandwich::vcovHC formula (meat weights {_HC_FORMULA[cov_type]}) "
        "evaluated from statsmodels' score_obs, observed hessian and MLEInfluence leverages "
        "(statsmodels' GLM returns HC0 for HC1-HC3)"
    )
    return np.sqrt(np.diag(cov)), label


def multinomial_bse(res: Any, sm_res: Any) -> tuple[np.ndarray, str]:
    """statsmodels' MNLogit standard errors (classes as columns) under ``res.cov_type``."""
    cov_type = getattr(res, "cov_type", "nonrobust")
    bse = np.asarray(sm_res.bse)
    if cov_type == "nonrobust":
        return bse, "sqrt(diag(inv(Hessian)))"
    if cov_type == "HC0":
        return bse, "HC0 sandwich (statsmodels MNLogit cov_type='HC0')"
    if cov_type == "HC1":
        n, k = res.design.X.shape[0], bse.size
        return bse * np.sqrt(n / (n - k)), (
            "HC1: statsmodels MNLogit HC0 times n / (n - k) (R sandwich; MNLogit returns HC0)"
        )
    return bse, (
        "cluster-robust sandwich, correction G/(G-1) (n-1)/(n-k) (statsmodels MNLogit "
        "cov_type='cluster', use_correction=True)"
    )
