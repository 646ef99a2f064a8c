"""Sandwich (heteroscedasticity- and cluster-robust) covariances of the coefficients.

Every function takes a fitted results object (``res``) from :func:`glmspec.fit` and reads only
its design, solver record and family, so it works on any fit. Definitions, with ``A`` the
inverse of the information ``X' W X`` at dispersion 1 and ``s_i`` the per-row score factor
``prior_i (y_i - mu_i) mu_eta(eta_i) / V(mu_i)`` (the score of row ``i`` is ``s_i x_i``):

* ``"nonrobust"``: ``scale * (X' W X)^{-1}`` with the expected information, as
  :meth:`GLMResults.cov_params`.
* ``"HC0"``: ``A (sum_i s_i^2 x_i x_i') A``. As statsmodels' ``GLM.fit(cov_type="HC0")`` the
  bread ``A`` is the inverse *observed* information (identical to the expected one for
  canonical links); the dispersion cancels, so the result does not depend on ``scale``.
* ``"HC1"``, ``"HC2"``, ``"HC3"``: statsmodels' GLM silently returns HC0 for all three (it has
  no GLM-specific versions). glmspec uses R's ``sandwich::vcovHC`` adjustments of the meat
  instead: ``s_i^2 n / (n - k)``, ``s_i^2 / (1 - h_i)`` and ``s_i^2 / (1 - h_i)^2``, with the
  generalized leverages ``h_i = d mu_hat_i / d y_i`` of
  :func:`glmspec.inference.information.generalized_leverage` (expected
  weights, observed-information bread; statsmodels' ``MLEInfluence.hat_matrix_diag``). For
  canonical links this is exactly R's ``vcovHC(fit, type=...)``; for the Gaussian identity
  link it equals statsmodels' OLS/WLS ``cov_type="HC1"/"HC2"/"HC3"``.
* ``"cluster"``: ``c A (sum_g u_g u_g') A`` with ``u_g`` the score summed over cluster ``g``
  and statsmodels' default small-sample correction (``use_correction=True``)
  ``c = G / (G - 1) * (n - 1) / (n - k)``.

``n`` counts every row of the design (zero-weight rows included, as statsmodels and R's
``sandwich``) and ``k`` the coefficients. With ``freq_weights`` ``f`` the scores include them
and, as statsmodels, the HC meat uses ``s_i^2 / f_i`` (``f_i`` copies of a row, each with
its own score) while the cluster sums use ``s_i`` (all copies in the row's cluster).

Robust tests use the normal distribution by default, as statsmodels' GLM (``use_t=False``) and
R's ``lmtest::coeftest`` for ``glm`` fits; with ``use_t=True`` they use Student's t on
``df_resid`` (HC) or ``G - 1`` (cluster) degrees of freedom, statsmodels' ``df_resid_inference``.

Multinomial fits support ``"nonrobust"``, ``"HC0"``, ``"HC1"`` and ``"cluster"`` (the score of
row ``i`` for class ``j`` is ``prior_i (1{y_i = j} - p_ij) x_i``, class-major); leverages, and
so HC2/HC3, are not defined for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from glmspec.design.matrix import as_design, row_blocks
from glmspec.errors import DataError, SpecificationError, suggest
from glmspec.inference.information import (
    bread,
    generalized_leverage,
    score_factor,
)

COV_TYPES: tuple[str, ...] = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
_MULTINOMIAL_COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


def normalize_cov_type(cov_type: str) -> str:
    """Return the canonical spelling of ``cov_type`` (case-insensitive).

    Raises
    ------
    SpecificationError
        Unknown covariance type; the message lists the known ones and the closest match.
    """
    if isinstance(cov_type, str):
        for known in COV_TYPES:
            if cov_type.strip().lower() == known.lower():
                return known
    raise SpecificationError(
        f"unknown cov_type {cov_type!r}; known types: {', '.join(COV_TYPES)}."
        f"{suggest(str(cov_type), COV_TYPES)}"
    )


def _is_multinomial(res: Any) -> bool:
    return res.family.is_multiclass


# -- the pieces of the sandwich -----------------------------------------------------------------


def _per_copy(res: Any, s2: np.ndarray) -> np.ndarray:
    """Squared scores of one copy of each row: divided by its frequency weight (statsmodels)."""
    freq = getattr(res.design, "freq_weights", None)
    if freq is None:
        return s2
    return np.divide(s2, freq, out=np.zeros_like(s2), where=freq > 0)


def _sandwich(inverse: np.ndarray, meat: np.ndarray) -> np.ndarray:
    cov = inverse @ meat @ inverse
    return 0.5 * (cov + cov.T)


def _multinomial_scores(res: Any, rows: slice, X: np.ndarray) -> np.ndarray:
    d, probs = res.design, res.record.probs
    resid = (d.y[rows, None] == np.arange(probs.shape[1])) - probs[rows]
    resid = d.prior_weights[rows, None] * resid[:, 1:]
    return np.hstack([X * resid[:, [j]] for j in range(resid.shape[1])])


def _score_blocks(res: Any):
    """Yield (row slice, per-row scores) in row blocks; scores are n x k (class-major)."""
    k = np.size(np.asarray(res.params))
    s = None if _is_multinomial(res) else score_factor(res)
    for rows, X in row_blocks(res.design.X, k):
        if s is None:
            yield rows, _multinomial_scores(res, rows, X)
        else:
            yield rows, X * s[rows, None]


def group_codes(groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Cluster codes 0..n_groups-1 (labels sorted) and the number of clusters."""
    codes, uniques = pd.factorize(pd.Series(groups), sort=True)
    return codes, len(uniques)


def cluster_correction(n: int, k: int, n_groups: int) -> float:
    """Small-sample factor of the cluster sandwich, ``G/(G-1) (n-1)/(n-k)`` (Stata, statsmodels)."""
    return n_groups / (n_groups - 1.0) * (n - 1.0) / (n - k)


def resolve_groups(res: Any, groups: Any, data: Any = None) -> np.ndarray:
    """Cluster labels, one per row of ``res``'s design.

    Parameters
    ----------
    res : results object or Design
        The fit (or its design) the labels are for.
    groups : str, Series or array-like
        A column name of ``data``; a Series indexed like the data (aligned on the fitted rows,
        so rows dropped by ``missing="drop"`` are dropped here too); or one label per fitted row.
    data : DataFrame, optional
        Needed when ``groups`` is a column name.

    Raises
    ------
    DataError
        No groups, an unknown column, a wrong length or missing labels.
    """
    d = getattr(res, "design", res)
    n = d.X.shape[0]
    if groups is None:
        raise DataError("cov_type='cluster' needs groups= (a column name or one label per row).")
    if isinstance(groups, str):
        if data is None or groups not in getattr(data, "columns", ()):
            columns = [] if data is None else [str(c) for c in data.columns]
            raise DataError(
                f"groups column {groups!r} is not in the data."
                f"{suggest(groups, columns) if columns else ' Pass the data or an array.'}"
            )
        groups = data[groups]
    if isinstance(groups, pd.Series) and len(groups) != n:
        missing = d.row_index.difference(groups.index)
        if len(missing):
            raise DataError(
                f"groups has {len(groups)} values and lacks the labels of {len(missing)} fitted "
                f"row(s) (e.g. {list(missing[:3])}); give one label per fitted row."
            )
        groups = groups.loc[d.row_index]
    values = np.asarray(groups)
    if values.ndim != 1 or values.shape[0] != n:
        hint = (
            f" {d.n_dropped} row(s) were dropped for missing values: pass a Series indexed like "
            "the data or a column name."
            if d.n_dropped
            else ""
        )
        raise DataError(
            f"groups has shape {values.shape}; expected one label per fitted row ({n} rows).{hint}"
        )
    if pd.isna(pd.Series(values)).any():
        raise DataError(f"groups has {int(pd.isna(pd.Series(values)).sum())} missing label(s).")
    return values


def check_cov_type(cov_type: str, groups_given: bool, multinomial: bool) -> None:
    """The rules of a (canonical) ``cov_type`` with the rest of the model: HC2/HC3 need
    leverages, which multinomial fits do not define; ``groups=`` goes with "cluster" only.

    Raises
    ------
    SpecificationError
    """
    if multinomial and cov_type not in _MULTINOMIAL_COV_TYPES:
        raise SpecificationError(
            f"cov_type {cov_type!r} needs leverages, which multinomial fits do not define; use "
            f"one of {', '.join(_MULTINOMIAL_COV_TYPES)}."
        )
    if cov_type != "cluster" and groups_given:
        raise SpecificationError(f"groups= is used only with cov_type='cluster', not {cov_type!r}.")


def check_cov_options(
    cov_type: str, groups: Any, design: Any, data: Any = None, multinomial: bool = False
) -> tuple[str, np.ndarray | None]:
    """Validate ``fit(cov_type=, groups=)`` against a design: ``(cov_type, labels or None)``.

    Raises
    ------
    SpecificationError
        Unknown cov_type, groups without ``"cluster"``, HC2/HC3 for a multinomial model.
    DataError
        Missing or bad groups (see :func:`resolve_groups`).
    """
    cov_type = normalize_cov_type(cov_type)
    check_cov_type(cov_type, groups is not None, multinomial)
    if cov_type != "cluster":
        return cov_type, None
    labels = resolve_groups(design, groups, data)
    if group_codes(labels)[1] < 2:
        raise DataError("cov_type='cluster' needs at least two distinct groups.")
    return cov_type, labels


def robust_cov(res: Any, cov_type: str = "HC0", groups: Any = None) -> np.ndarray:
    """Covariance of the coefficients of type ``cov_type`` (see the module docstring).

    Parameters
    ----------
    res : GLMResults or MultinomialResults
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}
    groups : array-like or Series, optional
        Cluster labels (required for ``"cluster"``), see :func:`resolve_groups`.

    Returns
    -------
    ndarray of shape (k, k)
        Ordered as ``res.cov_params()`` (class-major for multinomial fits).

    Raises
    ------
    SpecificationError
        Unknown cov_type, or HC2/HC3 for a multinomial fit.
    DataError
        Bad or missing groups; fewer than two clusters.
    """
    multinomial = _is_multinomial(res)
    cov_type, labels = check_cov_options(cov_type, groups, res.design, None, multinomial)
    if multinomial:
        inverse = res.record.information.inverse()
        if cov_type == "nonrobust":
            return inverse
    else:
        if cov_type == "nonrobust":
            return res.scale * res.record.factor.inverse()
        b = bread(res, observed=True)
        inverse = b.inverse
    n, k = res.design.X.shape[0], inverse.shape[0]
    if cov_type == "cluster":
        codes, n_groups = group_codes(labels)
        sums = np.zeros((n_groups, k))
        for rows, scores in _score_blocks(res):
            idx = codes[rows]
            member = sparse.csr_matrix(
                (np.ones(len(idx)), (idx, np.arange(len(idx)))), shape=(n_groups, len(idx))
            )
            sums += member @ scores
        return cluster_correction(n, k, n_groups) * _sandwich(inverse, sums.T @ sums)
    if multinomial:
        meat = np.zeros((k, k))
        for _, scores in _score_blocks(res):
            meat += scores.T @ scores
    else:
        s2 = _per_copy(res, score_factor(res) ** 2)
        if cov_type in ("HC2", "HC3"):
            h = generalized_leverage(res, b)
            with np.errstate(divide="ignore"):
                s2 = s2 / (1.0 - h) ** (1 if cov_type == "HC2" else 2)
        meat = as_design(res.design.X).gram(s2)
    cov = _sandwich(inverse, meat)
    return cov * (n / (n - k)) if cov_type == "HC1" else cov
