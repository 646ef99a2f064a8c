"""Leverage, standardized residuals and case-deletion (influence) measures of a GLM.

With ``w`` the information weights at the estimates and ``A = (X' diag(w) X)^{-1}``:

* hat values ``h_i = w_i x_i' A x_i``, the diagonal of ``W^(1/2) X A X' W^(1/2)``, computed
  row block by row block from the triangular factor of the information (never an n x n
  matrix);
* standardized (internally studentized) residuals ``r_i / sqrt(scale (1 - h_i))`` for the
  Pearson (statsmodels' ``resid_studentized``, R's ``rstandard(type="pearson")``) and the
  deviance residuals (R's ``rstandard()``);
* externally studentized residuals as R's ``rstudent.glm``:
  ``sign(d_i) sqrt(d_i^2 + h_i r_i^2 / (1 - h_i))``, divided for estimated dispersions by the
  leave-one-out ``sigma_i = sqrt((sum d^2 - d_i^2 / (1 - h_i)) / (df_resid - 1))`` (statsmodels
  has none for GLMs);
* Cook's distance ``r_i^2 h_i / (scale k (1 - h_i)^2)`` with Pearson ``r_i`` and ``k``
  coefficients (statsmodels' ``GLMInfluence.cooks_distance[0]``, R's ``cooks.distance``);
* one-step changes of the coefficients on deleting row ``i``,
  ``d_params_i = A x_i sqrt(w_i) r_i / (1 - h_i)`` (statsmodels'; R's ``dfbeta`` of a glm
  uses the deviance residual ``d_i`` in place of ``r_i``, i.e. it is ``d_params_i d_i / r_i``,
  tested against R), ``dfbetas``
  (divided by ``bse``), ``d_fittedvalues`` and ``dffits_internal`` as statsmodels.

``observed=True`` (the default, statsmodels' ``get_influence()``) takes ``w`` from the
observed information; ``observed=False`` from the expected (IRLS) weights, as R's
``hatvalues``/``influence.measures``. The two agree for canonical links. Observed weights can
be negative for single rows; their hat values are then negative and ``d_params`` is NaN
(statsmodels returns NaN for all of them).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from glmspec.design.matrix import row_blocks
from glmspec.errors import SpecificationError
from glmspec.inference.distributions import f_sf
from glmspec.inference.information import (
    Bread,
    bread,
    linear_prediction,
    quadratic_forms,
    solver_weights,
)


class GLMInfluence:
    """Influence and outlier measures of a GLM fit (see the module docstring).

    Parameters
    ----------
    res : GLMResults or RobustResults
        ``dfbetas`` divides by ``res.bse`` (robust when ``res`` uses a robust covariance).
    observed : bool
        Observed (default, statsmodels) or expected (R) information for the leverages.
    """

    def __init__(self, res: Any, observed: bool = True) -> None:
        self.results = res
        self._fit = getattr(res, "results", res)
        self.observed = observed

    def _series(self, values: np.ndarray, name: str) -> pd.Series:
        return pd.Series(values, index=self._fit.design.row_index, name=name)

    @cached_property
    def _bread(self) -> Bread:
        return bread(self._fit, self.observed)

    @cached_property
    def _h(self) -> np.ndarray:
        return self._bread.weights * quadratic_forms(self._fit.design.X, self._bread)

    @property
    def k_vars(self) -> int:
        """Number of coefficients."""
        return len(self._fit.design.column_names)

    @cached_property
    def hat_matrix_diag(self) -> pd.Series:
        """Leverages ``h_i``."""
        return self._series(self._h, "hat_matrix_diag")

    def _standardize(self, resid: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return resid / np.sqrt(self._fit.scale * (1.0 - self._h))

    @cached_property
    def _freq_root(self) -> np.ndarray | float:
        """``sqrt(f)``: a row with frequency weight ``f`` is deleted with all its copies, so
        its residuals here carry the weight the solver gave it (results' residuals are per
        copy, as statsmodels')."""
        freq = getattr(self._fit.design, "freq_weights", None)
        return 1.0 if freq is None else np.sqrt(freq)

    @cached_property
    def _pearson(self) -> np.ndarray:
        return np.asarray(self._fit.resid_pearson, dtype=float) * self._freq_root

    @cached_property
    def _deviance(self) -> np.ndarray:
        return np.asarray(self._fit.resid_deviance, dtype=float) * self._freq_root

    @cached_property
    def resid_studentized(self) -> pd.Series:
        """Standardized Pearson residuals ``r / sqrt(scale (1 - h))`` (statsmodels' name)."""
        return self._series(self._standardize(self._pearson), "resid_studentized")

    @property
    def resid_studentized_pearson(self) -> pd.Series:
        """Alias of :attr:`resid_studentized`."""
        return self.resid_studentized

    @cached_property
    def resid_studentized_deviance(self) -> pd.Series:
        """Standardized deviance residuals ``d / sqrt(scale (1 - h))`` (R's ``rstandard``)."""
        return self._series(self._standardize(self._deviance), "resid_studentized_deviance")

    @cached_property
    def resid_studentized_external(self) -> pd.Series:
        """Externally studentized residuals, R's ``rstudent`` for GLMs."""
        d, r, h = self._deviance, self._pearson, self._h
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.sign(d) * np.sqrt(d * d + h * r * r / (1.0 - h))
            if not self._fit.family.fixed_scale:
                used = solver_weights(self._fit.design) > 0
                total = np.sum(d[used] ** 2)
                sigma = np.sqrt((total - d * d / (1.0 - h)) / (self._fit.df_resid - 1.0))
                values = values / sigma
        values[np.isinf(values)] = np.nan
        return self._series(values, "resid_studentized_external")

    @cached_property
    def cooks_distance(self) -> pd.Series:
        """Cook's distance (statsmodels' ``cooks_distance[0]``, R's ``cooks.distance``)."""
        h = self._h
        with np.errstate(divide="ignore", invalid="ignore"):
            values = self._standardize(self._pearson) ** 2 * h / (1.0 - h) / self.k_vars
        return self._series(values, "cooks_distance")

    @cached_property
    def cooks_distance_pvalue(self) -> pd.Series:
        """Upper tail of F(k, df_resid) at Cook's distance (statsmodels' ``[1]``; rough)."""
        values = f_sf(self.cooks_distance.to_numpy(), self.k_vars, self._fit.df_resid)
        return self._series(values, "cooks_distance_pvalue")

    @cached_property
    def d_params(self) -> pd.DataFrame:
        """One-step change of the coefficients when row ``i`` is deleted (R's ``dfbeta``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.sqrt(self._bread.weights) * self._pearson / (1.0 - self._h)
        out = np.empty(self._fit.design.X.shape)
        for rows, block in row_blocks(self._fit.design.X):
            out[rows] = (block @ self._bread.inverse) * factor[rows, None]
        return pd.DataFrame(
            out, index=self._fit.design.row_index, columns=list(self._fit.design.column_names)
        )

    @cached_property
    def dfbetas(self) -> pd.DataFrame:
        """:attr:`d_params` divided by the standard errors ``res.bse``."""
        return self.d_params / np.asarray(self.results.bse, dtype=float)

    @cached_property
    def d_fittedvalues(self) -> pd.Series:
        """One-step change of the fitted mean: ``mu_eta(eta_i) x_i' d_params_i``."""
        fit = self._fit
        change = np.empty(fit.design.X.shape[0])
        d_params = self.d_params.to_numpy()
        for rows, block in row_blocks(fit.design.X):
            change[rows] = np.einsum("ij,ij->i", block, d_params[rows])
        values = fit.family.link.mu_eta(fit.record.eta) * change
        return self._series(values, "d_fittedvalues")

    @cached_property
    def d_fittedvalues_scaled(self) -> pd.Series:
        """:attr:`d_fittedvalues` over the standard error of the fitted mean (DFFITS)."""
        fit = self._fit
        linpred, se_linpred = linear_prediction(self.results, fit.design.X, fit.design.offset)
        se = np.abs(fit.family.link.mu_eta(linpred)) * se_linpred  # as get_prediction's mean_se
        return self._series(self.d_fittedvalues.to_numpy() / se, "d_fittedvalues_scaled")

    def summary_frame(self) -> pd.DataFrame:
        """statsmodels' columns: ``dfb_<name>``, ``cooks_d``, ``standard_resid``,
        ``hat_diag``, ``dffits_internal``."""
        dfb = self.dfbetas.add_prefix("dfb_")
        return dfb.assign(
            cooks_d=self.cooks_distance,
            standard_resid=self.resid_studentized,
            hat_diag=self.hat_matrix_diag,
            dffits_internal=self.d_fittedvalues_scaled,
        )


def get_influence(res: Any, observed: bool = True) -> GLMInfluence:
    """Influence measures of a GLM fit; see :class:`GLMInfluence`.

    Raises
    ------
    SpecificationError
        For multinomial fits (leverages are not defined per row there).
    """
    if res.family.is_multiclass:
        raise SpecificationError("influence measures are available for GLM fits only.")
    return GLMInfluence(res, observed)
