"""Results of a fit, with statsmodels' ``GLMResults`` names and R's numeric conventions.

Everything beyond the solver's record is computed lazily on first access and cached. See
:mod:`glmspec.inference.dispersion` for the conventions (dispersion, t versus z, AIC/BIC) and
:mod:`glmspec.families` for the log-likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from glmspec.design.build import Design, predict_matrix
from glmspec.errors import PredictionError, SpecificationError
from glmspec.families import Family
from glmspec.inference import covariance as _robust
from glmspec.inference import dispersion as inference
from glmspec.inference import influence as _influence
from glmspec.inference import prediction as _prediction
from glmspec.inference import residuals as _residuals
from glmspec.inference import wald as _wald
from glmspec.inference.anova import sequential_anova
from glmspec.inference.separation import Separation
from glmspec.results.summary import Summary
from glmspec.solvers.irls import FitRecord, fit_irls


@dataclass(frozen=True)
class ModelSpec:
    """What the user asked for, kept so the fit can be reproduced (and cross-checked)."""

    formula: str
    family: str
    link: str
    weights: Any = None
    offset: Any = None
    missing: str = "raise"
    max_iter: int = 100
    tol: float = 1e-8
    freq_weights: Any = None
    exposure: Any = None
    theta: float | None = None
    var_power: float | None = None
    penalty: str | None = None
    alpha: float = 0.0
    l1_ratio: float = 0.0
    formula_mode: str = "python"


class _Results:
    """Shared Wald inference; subclasses provide params, cov_params, llf and degrees of freedom."""

    spec: ModelSpec
    design: Design

    def __init__(self, spec: ModelSpec, design: Design, record, separation=None) -> None:
        self.spec = spec
        self.design = design
        #: The solver's frozen record (coefficients, means, information, history).
        self.record = record
        #: Complete or quasi-complete separation found by glmspec.inference.separation, else None.
        self.separation = separation

    #: Covariance behind params/bse/pvalues/conf_int: "nonrobust" (default), "HC0".."HC3" or
    #: "cluster" (see glmspec.inference.covariance); set by ``fit(cov_type=...)``.
    cov_type: str = "nonrobust"
    #: Cluster labels, one per fitted row, for ``cov_type="cluster"``.
    groups: np.ndarray | None = None

    def wald_test(self, constraints: Any, q: Any = None, *, use_f: bool | None = None):
        """Wald test of ``R params = q`` (patsy strings or a matrix); see
        :func:`glmspec.inference.wald.wald_test`."""
        return _wald.wald_test(self, constraints, q, use_f=use_f)

    def anova(self, test: str | None = None) -> pd.DataFrame:
        """Sequential analysis of deviance, as R's ``anova(fit)``; see
        :func:`glmspec.inference.anova.sequential_anova`."""
        return sequential_anova(self, test)

    def wald_test_terms(self, *, use_f: bool | None = None, skip_single: bool = False):
        """Joint Wald test per formula term; see :func:`glmspec.inference.wald.wald_test_terms`."""
        return _wald.wald_test_terms(self, use_f=use_f, skip_single=skip_single)

    def get_prediction(self, newdata: Any = None, offset: Any = None, exposure: Any = None):
        """Predicted means with standard errors and confidence intervals (``summary_frame``);
        see :func:`glmspec.inference.prediction.get_prediction`."""
        return _prediction.get_prediction(self, newdata, offset, exposure)

    def get_robustcov_results(self, cov_type: str = "HC0", groups: Any = None, *, use_t=False):
        """params/bse/pvalues/conf_int under another covariance; see
        :func:`glmspec.inference.covariance.robust_results`."""
        return _robust.robust_results(self, cov_type, groups, use_t=use_t)

    @property
    def converged(self) -> bool:
        """True only if the solver's convergence criterion was met."""
        return self.record.converged

    @property
    def n_iter(self) -> int:
        """Number of solver iterations (factorisations of the information)."""
        return self.record.n_iter

    @property
    def history(self) -> pd.DataFrame:
        """Per-iteration deviance, relative change, Newton decrement and step halvings."""
        return pd.DataFrame([vars(h) for h in self.record.history])

    @property
    def _t_df(self) -> float | None:
        """Degrees of freedom of the t reference distribution, or None for the normal."""
        return None

    @property
    def use_t(self) -> bool:
        """True when tests use Student's t (the dispersion is estimated)."""
        return self._t_df is not None

    @cached_property
    def tvalues(self):
        """Wald statistics ``params / bse`` (z or t, see :attr:`use_t`)."""
        return self.params / self.bse

    @cached_property
    def pvalues(self):
        """Two-sided p-values of the Wald statistics."""
        values = inference.wald_pvalues(np.asarray(self.tvalues), self._t_df)
        return self.tvalues.__class__(values, **_labels(self.tvalues))

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals ``params -/+ q * bse``, columns ``0`` (lower) and ``1``.

        For the multinomial family the rows are a (class, column) MultiIndex.
        """
        q = inference.critical_value(alpha, self._t_df)
        params, bse = _long(self.params), _long(self.bse)
        return pd.DataFrame({0: params - q * bse, 1: params + q * bse})

    @cached_property
    def aic(self) -> float:
        """R's AIC: ``-2 llf + 2 k`` with k coefficients (+1 for an estimated Gaussian sigma)."""
        return inference.information_criteria(self.llf, self._n_params, self.nobs)[0]

    @cached_property
    def bic(self) -> float:
        """R's BIC: ``-2 llf + log(nobs) k``."""
        return inference.information_criteria(self.llf, self._n_params, self.nobs)[1]

    @cached_property
    def nobs(self) -> int | float:
        """Rows with positive prior weight (R's ``nobs``); with ``freq_weights`` their sum over
        those rows (statsmodels' ``wnobs``: the number of rows the data stand for)."""
        used = self.design.prior_weights > 0
        freq = getattr(self.design, "freq_weights", None)
        if freq is None:
            return int(np.count_nonzero(used))
        total = float(np.sum(freq[used]))
        return int(total) if total.is_integer() else total

    @property
    def n_dropped(self) -> int:
        """Rows dropped for missing values (``missing="drop"``)."""
        return self.design.n_dropped

    def _new_offset(self, newdata: Any, offset: Any) -> np.ndarray | float:
        if offset is not None:
            return _finite_offset(offset, len(newdata), "offset=")
        if isinstance(self.spec.offset, str):
            if self.spec.offset not in newdata:
                raise PredictionError(
                    f"new data lacks the offset column {self.spec.offset!r}; "
                    "add it or pass offset=."
                )
            return _finite_offset(
                newdata[self.spec.offset], len(newdata), f"offset column {self.spec.offset!r}"
            )
        if self.design.offset_given:
            raise PredictionError(
                "the model was fitted with an offset array; pass offset= for the new data."
            )
        return 0.0

    def _new_log_exposure(self, newdata: Any, exposure: Any) -> np.ndarray | float:
        """``log(exposure)`` for new rows (0 when the model has no exposure)."""
        fitted_with = getattr(self.spec, "exposure", None)
        if fitted_with is None:
            if exposure is not None:
                raise PredictionError(
                    "the model was fitted without an exposure; pass offset= for new data."
                )
            return 0.0
        if exposure is None:
            if not isinstance(fitted_with, str):
                raise PredictionError(
                    "the model was fitted with an exposure array; pass exposure= for the new data."
                )
            if fitted_with not in newdata:
                raise PredictionError(
                    f"new data lacks the exposure column {fitted_with!r}; add it or pass exposure=."
                )
            exposure = newdata[fitted_with]
        try:
            values = np.asarray(exposure, dtype=float)
        except (TypeError, ValueError) as exc:
            raise PredictionError(f"exposure must be numeric: {exc}") from exc
        if values.ndim > 1 or values.size not in (1, len(newdata)):
            raise PredictionError(
                f"exposure has {values.size} values; new data has {len(newdata)} rows."
            )
        if not np.all(values > 0):
            raise PredictionError("exposure must be positive (its log is added to the offset).")
        return np.log(values)

    def summary(self):
        """A printable summary with R's ``summary.glm`` content (a :class:`Summary`)."""
        return Summary(self)


def _finite_offset(values: Any, n_rows: int, what: str) -> np.ndarray:
    """An offset for ``n_rows`` new rows: numeric, the right length, no NaN or inf."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise PredictionError(f"{what} must be numeric: {exc}") from exc
    if array.ndim > 1 or array.size not in (1, n_rows):
        raise PredictionError(f"{what} has {array.size} values; new data has {n_rows} rows.")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise PredictionError(f"{what} has missing or infinite values in {bad} row(s).")
    return array


def _labels(obj) -> dict:
    if isinstance(obj, pd.DataFrame):
        return {"index": obj.index, "columns": obj.columns}
    return {"index": obj.index, "name": getattr(obj, "name", None)}


def _long(obj) -> pd.Series:
    """Series as is; a (columns x classes) DataFrame stacked class-major."""
    if isinstance(obj, pd.DataFrame):
        return obj.T.stack()
    return obj


class GLMResults(_Results):
    """Results of :func:`glmspec.fit` for the gaussian, binomial and poisson families.

    Attributes follow statsmodels' ``GLMResults``: ``params``, ``bse``, ``tvalues``,
    ``pvalues``, ``conf_int()``, ``cov_params()``, ``llf``, ``deviance``, ``null_deviance``,
    ``aic``, ``bic``, ``scale``, ``pearson_chi2``, ``df_resid``, ``df_model``, ``nobs``,
    ``converged``, ``n_iter``, ``fittedvalues``, ``resid_*`` and ``predict``.
    """

    def __init__(
        self,
        spec: ModelSpec,
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
        """Estimated coefficients, labelled with patsy's column names."""
        return pd.Series(self.record.coef, index=list(self.design.column_names), name="params")

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
    def _t_df(self) -> float | None:
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
        names = list(self.design.column_names)
        return pd.DataFrame(self._cov, index=names, columns=names)

    @cached_property
    def _cov(self) -> np.ndarray:
        if self.spec.penalty is not None:
            # penalized estimates are biased: no standard errors (as glum and scikit-learn)
            return np.full((len(self.record.coef),) * 2, np.nan)
        if self.cov_type != "nonrobust":
            return _robust.robust_cov(self, self.cov_type, self.groups)
        return self.scale * self.record.factor.inverse()

    def get_influence(self, observed: bool = True):
        """Hat values, studentized residuals, Cook's distance, dfbetas; see
        :class:`glmspec.inference.influence.GLMInfluence`."""
        return _influence.get_influence(self, observed)

    @cached_property
    def resid_anscombe(self) -> pd.Series:
        """Anscombe residuals (scaled, as statsmodels); see :mod:`glmspec.inference.residuals`."""
        return _residuals.resid_anscombe(self)

    @cached_property
    def bse(self) -> pd.Series:
        """Standard errors of the coefficients."""
        return pd.Series(inference.standard_errors(self._cov), index=self.params.index, name="bse")

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
        if which not in ("mean", "linear"):
            raise SpecificationError(f"which must be 'mean' or 'linear', got {which!r}.")
        if newdata is None:
            return self.fittedvalues if which == "mean" else self.linear_predictor
        X = predict_matrix(self.design, newdata)
        eta = X @ self.record.coef + self._new_offset(newdata, offset)
        eta = eta + self._new_log_exposure(newdata, exposure)
        with np.errstate(over="ignore"):
            values = eta if which == "linear" else self.family.link.inverse_exact(eta)
        index = newdata.index if isinstance(newdata, pd.DataFrame) else None
        return pd.Series(values, index=index, name="predicted_" + which)
