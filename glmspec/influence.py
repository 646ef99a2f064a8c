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
  ``d_params_i = A x_i sqrt(w_i) r_i / (1 - h_i)`` (R's ``dfbeta``), ``dfbetas``
  (divided by ``bse``), ``d_fittedvalues`` and ``dffits_internal`` as statsmodels.

``observed=True`` (the default, statsmodels' ``get_influence()``) takes ``w`` from the
observed information; ``observed=False`` from the expected (IRLS) weights, as R's
``hatvalues``/``influence.measures``. The two agree for canonical links. Observed weights can
be negative for single rows; their hat values are then negative and ``d_params`` is NaN
(statsmodels returns NaN for all of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, stats

from glmspec.errors import SpecificationError
from glmspec.linalg import GramFactor, block_rows, factor_gram, factorize, weighted_gram

# -- leverages without an n x n matrix ---------------------------------------------------------


def solver_weights(design: Any) -> np.ndarray:
    """The weights the solver used: prior weights times frequency weights (if any)."""
    return getattr(design, "total_weights", design.prior_weights)


def information_weights(res: Any, observed: bool = True) -> np.ndarray:
    """Weights ``w`` with information ``X' diag(w) X`` at the estimates (dispersion 1).

    ``observed=False`` gives the expected (Fisher, IRLS) weights ``prior mu_eta^2 / V``, with
    ``prior`` the prior weights times any frequency weights;
    ``observed=True`` subtracts ``prior (y - mu) d/deta[mu_eta / V]`` (zero, up to rounding, for
    canonical links), statsmodels' ``hessian_factor(observed=True)``. Observed weights can be
    negative.
    """
    d, rec, fam = res.design, res.record, res.family
    prior = solver_weights(d)
    mu_eta, variance = fam.link.mu_eta(rec.eta), fam.variance(rec.mu)
    fisher = prior * mu_eta * mu_eta / variance
    if not observed:
        return fisher
    # computed for every link: a family's ``canonical_link`` may name its default link
    slope = fam.link.mu_eta_deriv(rec.eta) / variance - mu_eta * mu_eta * fam.variance_deriv(
        rec.mu
    ) / (variance * variance)
    return fisher - prior * (d.y - rec.mu) * slope


@dataclass(frozen=True)
class Bread:
    """Inverse information ``A = (X' diag(w) X)^{-1}`` and the weights ``w`` it was built from.

    ``factor`` is an upper-triangular ``r`` with ``X' diag(w) X = r' r`` when the information is
    positive definite (used for leverages without forming ``A``), else None.
    """

    inverse: np.ndarray
    weights: np.ndarray
    factor: GramFactor | None


def bread(res: Any, observed: bool = True) -> Bread:
    """Inverse (observed or expected) information at the estimates, dispersion 1."""
    X = res.design.X
    w = information_weights(res, observed)
    if np.all(w >= 0):
        factor: GramFactor | None = factorize(X, w, res.design.column_names)
    else:
        factor = factor_gram(weighted_gram(X, w))
    if factor is not None:
        return Bread(factor.inverse(), w, factor)
    gram = weighted_gram(X, w)
    return Bread(np.linalg.pinv(0.5 * (gram + gram.T), hermitian=True), w, None)


def quadratic_forms(X: np.ndarray, b: Bread) -> np.ndarray:
    """``x_i' A x_i`` for every row, blockwise (no n x n or extra n x p array)."""
    out = np.empty(X.shape[0])
    for rows, block in row_blocks(X):
        if b.factor is not None:
            z = linalg.solve_triangular(b.factor.r, block.T, trans="T", check_finite=False)
            out[rows] = np.einsum("ij,ij->j", z, z)
        else:
            out[rows] = np.einsum("ij,jk,ik->i", block, b.inverse, block)
    return out


def dense_rows(X: Any, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a design as a dense array.

    ``X`` is an ndarray or a :class:`glmspec.catmatrix.CategoricalBlockMatrix` (dense columns
    plus factors kept as integer codes), which is expanded one block of rows at a time.
    """
    if isinstance(X, np.ndarray):
        return X[start:stop]
    if not hasattr(X, "blocks"):
        return np.asarray(X)[start:stop]
    out = np.zeros((min(stop, X.shape[0]) - start, X.shape[1]))
    out[:, X.dense_columns] = X.dense[start:stop]
    for block in X.blocks:
        codes = block.codes[start:stop]
        hit = np.flatnonzero(codes >= 0)
        out[hit, block.columns[codes[hit]]] = 1.0
    return out


def row_blocks(X: Any, width: int | None = None):
    """Yield ``(slice, dense rows)`` over ``X`` in blocks of about 1 MiB."""
    n = X.shape[0]
    step = block_rows(X.shape[1] if width is None else width)
    for start in range(0, n, step):
        stop = min(start + step, n)
        yield slice(start, stop), dense_rows(X, start, stop)


def generalized_leverage(res: Any, b: Bread | None = None) -> np.ndarray:
    """``d mu_hat_i / d y_i = w_i x_i' A x_i`` with expected weights ``w`` and ``A`` the inverse
    observed information (statsmodels' ``MLEInfluence.hat_matrix_diag``).

    It equals the ordinary GLM hat values for canonical links and, unlike ``w_obs x' A x``,
    is never negative: the leverage used by HC2 and HC3.
    """
    b = bread(res, observed=True) if b is None else b
    return information_weights(res, observed=False) * quadratic_forms(res.design.X, b)


def hat_values(res: Any, observed: bool = True) -> np.ndarray:
    """Diagonal of the hat matrix ``W^(1/2) X (X'WX)^{-1} X' W^(1/2)``, without forming it."""
    b = bread(getattr(res, "results", res), observed)
    return b.weights * quadratic_forms(getattr(res, "results", res).design.X, b)


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
        values = stats.f.sf(self.cooks_distance.to_numpy(), self.k_vars, self._fit.df_resid)
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
        from glmspec.prediction import get_prediction  # prediction imports this module

        se = get_prediction(self.results).se_mean.to_numpy()
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
    if getattr(res, "model_kind", "glm") == "multinomial":
        raise SpecificationError("influence measures are available for GLM fits only.")
    return GLMInfluence(res, observed)
