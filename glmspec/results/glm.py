"""Results of a fit, with statsmodels' ``GLMResults`` names and R's numeric conventions.

Everything beyond the solver's record is computed lazily on first access and cached. See
:mod:`glmspec.inference.dispersion` for the conventions (dispersion, t versus z, AIC/BIC) and
:mod:`glmspec.families` for the log-likelihood.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from glmspec.design.build import Design, predict_matrix
from glmspec.errors import SpecificationError
from glmspec.families import Family
from glmspec.inference import covariance as _robust
from glmspec.inference import dispersion as inference
from glmspec.inference import influence as _influence
from glmspec.inference import residuals as _residuals
from glmspec.inference.prediction import PREDICT_WHICH, predicted_values
from glmspec.inference.separation import Separation
from glmspec.options import FitOptions
from glmspec.results.base import ResultsBase
from glmspec.solvers import firth as _firth
from glmspec.solvers.irls import fit_irls
from glmspec.solvers.newton import FitRecord


class GLMResults(ResultsBase):
    """Results of :func:`glmspec.fit` for the gaussian, binomial and poisson families.

    Attributes follow statsmodels' ``GLMResults``: ``params``, ``bse``, ``tvalues``,
    ``pvalues``, ``conf_int()``, ``cov_params()``, ``llf``, ``deviance``, ``null_deviance``,
    ``aic``, ``bic``, ``scale``, ``pearson_chi2``, ``df_resid``, ``df_model``, ``nobs``,
    ``converged``, ``n_iter``, ``fittedvalues``, ``resid_*`` and ``predict``.
    """

    def __init__(
        self,
        spec: FitOptions,
        design: Design,
        family: Family,
        record: FitRecord,
        separation: Separation | None = None,
    ):
        super().__init__(spec, design, record, separation)
        self.family = family

    def __repr__(self) -> str:
        return (
            f"<GLMResults {self.spec.formula!r} family={self.family.name} "
            f"link={self.family.link.name} nobs={self.nobs} converged={self.converged}>"
        )

    @property
    def model_kind(self) -> str:
        return "glm"

    @cached_property
    def params(self) -> pd.Series:
        """Estimated coefficients, labelled with patsy's column names (NaN where aliased)."""
        return pd.Series(self._expand(self.record.coef), index=self._names, name="params")

    @property
    def _names(self) -> list[str]:
        return list(self.design.column_names)

    @cached_property
    def _estimable(self) -> np.ndarray:
        """Mask of the design's columns that were fitted (all but the aliased ones)."""
        return np.array([n not in self.aliased for n in self.design.column_names])

    def _expand(self, values: np.ndarray) -> np.ndarray:
        """Coefficient values on every column of the design, NaN where aliased."""
        if not self.aliased:
            return values
        full = np.full(len(self._estimable), np.nan)
        full[self._estimable] = values
        return full

    @cached_property
    def _rank(self) -> int:
        return len(self.record.coef)

    @property
    def df_resid(self) -> float:
        """Residual degrees of freedom: ``nobs - rank``."""
        return self.nobs - self._rank

    @property
    def df_model(self) -> float:
        """Model degrees of freedom, ``rank - 1`` as in statsmodels."""
        return self._rank - 1

    @property
    def _n_params(self) -> int:
        return self._rank + self.family.n_dispersion_params

    @property
    def df_inference(self) -> float | None:
        """Degrees of freedom of the t reference distribution, or None for the normal."""
        if self.cov_type != "nonrobust":
            return None  # robust covariances: normal tests (statsmodels, lmtest::coeftest)
        return None if self.family.fixed_scale else float(self.df_resid)

    @cached_property
    def deviance(self) -> float:
        """Residual deviance ``sum(w * d(y, mu))``."""
        return self.record.deviance

    @cached_property
    def pearson_chi2(self) -> float:
        """Pearson chi-square statistic."""
        return inference.pearson_chi2(self.family, self.design.y, self._mean, self._prior)

    @cached_property
    def scale(self) -> float:
        """Dispersion: 1 for binomial/Poisson, Pearson chi-square / df_resid otherwise."""
        return inference.dispersion(self.family, self.pearson_chi2, self.df_resid)

    @cached_property
    def llf(self) -> float:
        """Full log-likelihood as R's ``logLik`` (Gaussian at dispersion ``deviance/nobs``,
        Gamma and inverse Gaussian at ``deviance/sum(weights)``; NaN for quasi families and
        the Tweedie, see ``family.llf_convention``)."""
        return self._loglik(self._mean, self.deviance)

    @cached_property
    def penalized_llf(self) -> float:
        """Firth fits: the penalized log-likelihood ``llf + 1/2 log det I`` maximised
        (logistf's log-likelihood); NaN for other fits."""
        if self.spec.method != "firth":
            return float("nan")
        X = np.asarray(self.design.X)[:, self._estimable]
        return _firth.penalized_loglik(self.llf, X, self.record.working_weights)

    def _loglik(self, mu: np.ndarray, deviance: float) -> float:
        d = self.design
        weight_sum = float(np.sum(self._prior))
        scale = self.family.loglik_scale(deviance, self.nobs, self.scale, weight_sum=weight_sum)
        freq = getattr(d, "freq_weights", None)
        return self.family.loglik(d.y, mu, d.prior_weights, scale, d.trials, freq_weights=freq)

    @property
    def _prior(self) -> np.ndarray:
        """The solver's weights: prior weights times frequency weights."""
        return getattr(self.design, "total_weights", self.design.prior_weights)

    def cov_params(self) -> pd.DataFrame:
        """Covariance of the coefficients: ``scale * (X'WX)^{-1}``."""
        return pd.DataFrame(self._cov, index=self._names, columns=self._names)

    @cached_property
    def _cov(self) -> np.ndarray:
        if self.spec.penalty is not None:
            # penalized estimates are biased: no standard errors (as glum and scikit-learn)
            return np.full((len(self.record.coef),) * 2, np.nan)
        if self.cov_type != "nonrobust":
            return _robust.robust_cov(self, self.cov_type, self.groups)
        cov = self.scale * self.record.factor.inverse()
        if not self.aliased:
            return cov
        full = np.full((len(self._estimable),) * 2, np.nan)
        full[np.ix_(self._estimable, self._estimable)] = cov
        return full

    def get_influence(self, observed: bool = True):
        """Hat values, studentized residuals, Cook's distance, dfbetas; see
        :class:`glmspec.inference.influence.GLMInfluence`."""
        self._full_rank_only("get_influence")
        return _influence.get_influence(self, observed)

    @cached_property
    def resid_anscombe(self) -> pd.Series:
        """Anscombe residuals (scaled, as statsmodels); see :mod:`glmspec.inference.residuals`."""
        return _residuals.resid_anscombe(self)

    @cached_property
    def _null_mu(self) -> np.ndarray:
        d = self.design
        if not d.has_intercept:
            link = self.family.link
            return link.unclamp(d.offset, link.inverse(d.offset))
        if not np.any(d.offset):
            return np.full_like(d.y, np.average(d.y, weights=self._prior))
        null = fit_irls(
            d.y, np.ones((len(d.y), 1)), self.family, prior_weights=self._prior, offset=d.offset
        )
        return null.mu

    @cached_property
    def null_deviance(self) -> float:
        """Deviance of the intercept-only model (with the offset), as R's ``null.deviance``."""
        return self.family.deviance(self.design.y, self._null_mu, self._prior)

    @cached_property
    def llnull(self) -> float:
        """Log-likelihood of the intercept-only model."""
        return self._loglik(self._null_mu, self.null_deviance)

    def pseudo_rsquared(self, kind: str = "mcf") -> float:
        """McFadden's (``"mcf"``, ``1 - llf/llnull``) or Cox-Snell (``"cs"``) pseudo R-squared."""
        if kind == "mcf":
            return 1.0 - self.llf / self.llnull
        if kind == "cs":
            return 1.0 - np.exp(2.0 * (self.llnull - self.llf) / self.nobs)
        raise SpecificationError(f"kind must be 'mcf' or 'cs', got {kind!r}.")

    def _series(self, values: np.ndarray, name: str) -> pd.Series:
        return pd.Series(values, index=self.design.row_index, name=name)

    @cached_property
    def _mean(self) -> np.ndarray:
        """The means the likelihood is evaluated at: exact, except where the exact mean has
        rounded onto the edge of its range (see :mod:`glmspec.families.links`); the solver's
        ``record.mu`` is clamped as R clamps it, for the IRLS weights."""
        return self.family.link.unclamp(self.record.eta, self.record.mu)

    @cached_property
    def fittedvalues(self) -> pd.Series:
        """Fitted means (response scale; binomial: probability of success), from the exact
        inverse link (R reports ``exp(-700)`` as 2.2e-16; glmspec as 9.9e-305)."""
        with np.errstate(over="ignore"):
            values = self.family.link.inverse_exact(self.record.eta)
        return self._series(values, "fittedvalues")

    @cached_property
    def linear_predictor(self) -> pd.Series:
        """Fitted linear predictor, offset included."""
        return self._series(self.record.eta, "linear_predictor")

    @cached_property
    def resid_response(self) -> pd.Series:
        """``y - mu``."""
        return self._series(self.design.y - self.fittedvalues.to_numpy(), "resid_response")

    @cached_property
    def resid_pearson(self) -> pd.Series:
        """``(y - mu) sqrt(w / V(mu))`` with prior weights ``w``.

        With ``freq_weights`` each row's residual is that of one of the identical rows it
        stands for (statsmodels, Stata): frequency weights are not in ``w``;
        ``pearson_chi2`` is still ``sum(f r^2)``.
        """
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            mu = self._mean
            w = self.design.prior_weights
            values = (self.design.y - mu) * np.sqrt(w / self.family.variance(mu))
        return self._series(values, "resid_pearson")

    @cached_property
    def resid_deviance(self) -> pd.Series:
        """``sign(y - mu) sqrt(w d(y, mu))`` with prior weights ``w``.

        With ``freq_weights``, per row of the duplicated data as :attr:`resid_pearson`;
        ``deviance`` is still ``sum(f r^2)``.
        """
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            y, mu = self.design.y, self._mean
            unit = np.clip(self.family.unit_deviance(y, mu), 0.0, None)
            values = np.sign(y - mu) * np.sqrt(self.design.prior_weights * unit)
        return self._series(values, "resid_deviance")

    @cached_property
    def resid_working(self) -> pd.Series:
        """``(y - mu) / mu_eta(eta)``."""
        values = (self.design.y - self.record.mu) / self.family.link.mu_eta(self.record.eta)
        return self._series(values, "resid_working")

    def predict(
        self, newdata: Any = None, which: str = "mean", offset: Any = None, exposure: Any = None
    ) -> pd.Series:
        """Predict the mean (``which="mean"``) or linear predictor (``which="linear"``).

        Parameters
        ----------
        newdata : DataFrame, optional
            New rows; the fitted data when omitted. Factors must use levels seen in fitting.
        which : {"mean", "linear"}
        offset : array-like, optional
            Offset for ``newdata``; by default the offset column of ``newdata`` when the model
            was fitted with ``offset="column"``, else zero.
        exposure : array-like, optional
            Exposure for ``newdata`` (its log is added to the offset); by default the exposure
            column of ``newdata`` when the model was fitted with ``exposure="column"``.

        Raises
        ------
        PredictionError
            Missing column, unseen factor level, or no offset for a model fitted with one.
        """
        if which not in PREDICT_WHICH:
            raise SpecificationError(f"which must be 'mean' or 'linear', got {which!r}.")
        if newdata is None:
            return self.fittedvalues if which == "mean" else self.linear_predictor
        X = predict_matrix(self.design, newdata)
        if self.aliased:
            X = X[:, self._estimable]  # as R's predict: aliased columns contribute nothing
        off = self._new_offset(newdata, offset) + self._new_log_exposure(newdata, exposure)
        index = newdata.index if isinstance(newdata, pd.DataFrame) else None
        return predicted_values(X, off, self.record.coef, self.family.link, which, index)
