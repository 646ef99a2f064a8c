"""Results under a chosen covariance: the fit's coefficients with the inference of
:class:`~glmspec.results.coefficients.CoefficientInference` on a robust covariance from
:func:`glmspec.inference.covariance.robust_cov`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from glmspec.inference.covariance import (
    group_codes,
    normalize_cov_type,
    resolve_groups,
    robust_cov,
)
from glmspec.inference.information import flat_params
from glmspec.results.coefficients import CoefficientInference


class RobustResults(CoefficientInference):
    """Coefficient inference of a fit under a chosen covariance (see :func:`robust_results`).

    The fitted model (``design``, ``family``, ``record``, ``spec``) is the fit's, so the
    functions of :mod:`glmspec.inference` (``wald_test``, ``get_prediction``, ...) take either.

    Attributes
    ----------
    results : GLMResults or MultinomialResults
        The fit.
    params, bse, tvalues, pvalues
        Shaped as the fit's ``params`` (Series, or DataFrame for multinomial fits).
    cov_type : str
    use_t : bool
        Whether tests use Student's t (on :attr:`df_inference`) rather than the normal.
    df_inference : float or None
        Degrees of freedom of the t reference distribution, or None for the normal.
    n_groups : int or None
        Number of clusters for ``cov_type="cluster"``.
    """

    def __init__(self, res, cov_type, cov, df_inference, n_groups=None):
        self.results = res
        self.cov_type = cov_type
        self._cov = cov
        self._df_inference = df_inference
        self.n_groups = n_groups
        self.params = res.params
        self.df_resid = res.df_resid
        self.design = res.design
        self.record = res.record
        self.spec = res.spec
        self.model_kind = res.model_kind

    def __repr__(self) -> str:
        return f"<RobustResults cov_type={self.cov_type!r} use_t={self.use_t}>"

    @property
    def df_inference(self) -> float | None:
        """Degrees of freedom of the t reference distribution, or None for the normal."""
        return self._df_inference

    @property
    def family(self):
        """The fit's family."""
        return self.results.family

    def cov_params(self) -> pd.DataFrame:
        """The covariance, labelled as the fit's ``cov_params()``."""
        index = flat_params(self.params).index
        return pd.DataFrame(self._cov, index=index, columns=index)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals ``params -/+ q * bse``; columns ``0`` (lower) and ``1`` (upper)."""
        return self._wald_conf_int(alpha)


def robust_results(
    res: Any,
    cov_type: str = "HC0",
    groups: Any = None,
    *,
    use_t: bool = False,
    data: Any = None,
) -> RobustResults:
    """Coefficient inference under ``cov_type``: params, bse, tvalues, pvalues, conf_int.

    Parameters
    ----------
    res : GLMResults or MultinomialResults
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}
    groups : str, Series or array-like, optional
        Cluster labels for ``"cluster"`` (a column name needs ``data``).
    use_t : bool
        Robust covariances: False (default, statsmodels' and ``coeftest``'s normal tests) or
        True for t tests on ``df_resid`` (HC) or ``n_groups - 1`` (cluster). Ignored for
        ``"nonrobust"``, which keeps the fit's own convention (t when the dispersion is
        estimated).
    data : DataFrame, optional
        The fitted data, to look up ``groups`` given as a column name.

    Returns
    -------
    RobustResults
    """
    cov_type = normalize_cov_type(cov_type)
    n_groups = None
    if cov_type == "cluster":
        groups = resolve_groups(res, groups, data)
        n_groups = group_codes(groups)[1]
    cov = np.asarray(robust_cov(res, cov_type, groups), dtype=float)
    if cov_type == "nonrobust":
        df = res.df_inference
    elif use_t:
        df = float(n_groups - 1) if n_groups is not None else float(res.df_resid)
    else:
        df = None
    return RobustResults(res, cov_type, cov, df, n_groups)
