"""What every results object shares: the fit record, the options, Wald inference from
``params``/``bse``, information criteria, predictions and the summary.

:class:`ResultsBase` is subclassed by :class:`~glmspec.results.glm.GLMResults` and
:class:`~glmspec.results.multinomial.MultinomialResults`; a subclass supplies ``params``,
``bse``, ``cov_params``, ``llf`` and the degrees of freedom.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from glmspec.design.build import Design
from glmspec.errors import PredictionError, SpecificationError
from glmspec.inference import dispersion as inference
from glmspec.inference import drop1 as _drop1
from glmspec.inference import emmeans as _emmeans
from glmspec.inference import margins as _margins
from glmspec.inference import prediction as _prediction
from glmspec.inference import profile as _profile
from glmspec.inference import wald as _wald
from glmspec.inference.anova import sequential_anova
from glmspec.options import FitOptions
from glmspec.results.coefficients import CoefficientInference
from glmspec.results.display import r_table
from glmspec.results.robust import RobustResults, robust_results
from glmspec.results.summary import Summary


class ResultsBase(CoefficientInference):
    """Shared Wald inference; subclasses provide params, cov_params, llf and degrees of freedom."""

    spec: FitOptions
    design: Design

    def __init__(self, spec: FitOptions, design: Design, record, separation=None) -> None:
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
    #: Names of the aliased columns left out by ``fit(singular="drop")`` (NaN coefficients).
    aliased: tuple[str, ...] = ()

    def _full_rank_only(self, what: str, refits: bool = False, aliased_ok: bool = False) -> None:
        """Refuse what is not defined for a fit with aliased columns (unless ``aliased_ok``:
        R computes it from the estimable columns) and, for what refits reduced models by
        maximum likelihood, for a Firth fit."""
        if refits and getattr(self.spec, "method", "ml") == "firth":
            raise SpecificationError(
                f"{what} refits reduced models by maximum likelihood, which does not apply to a "
                "Firth (bias-reduced) fit."
            )
        if self.aliased and not aliased_ok:
            raise SpecificationError(
                f"{what} is not available for a fit with aliased columns {list(self.aliased)} "
                "(singular='drop'); refit without them."
            )

    def wald_test(self, constraints: Any, q: Any = None, *, use_f: bool | None = None):
        """Wald test of ``R params = q`` (patsy strings or a matrix); see
        :func:`glmspec.inference.wald.wald_test`."""
        self._full_rank_only("wald_test")
        return _wald.wald_test(self, constraints, q, use_f=use_f)

    def anova(self, test: str | None = None) -> pd.DataFrame:
        """Sequential analysis of deviance, as R's ``anova(fit)``; see
        :func:`glmspec.inference.anova.sequential_anova`."""
        self._full_rank_only("anova", refits=True, aliased_ok=True)
        return r_table(sequential_anova(self, test), na="")

    def drop1(self, test: str | None = None) -> pd.DataFrame:
        """Single-term deletions, as R's ``drop1(fit, test=)``; see
        :func:`glmspec.inference.drop1.drop1`."""
        self._full_rank_only("drop1", refits=True, aliased_ok=True)
        return r_table(_drop1.drop1(self, test), na="")

    def get_margeff(self, at: str = "overall", method: str = "dydx", alpha: float = 0.05):
        """Average marginal effects with delta-method standard errors (statsmodels'
        ``get_margeff``); see :func:`glmspec.inference.margins.get_margeff`."""
        self._full_rank_only("get_margeff")
        return _margins.get_margeff(self, at, method, alpha)

    def emmeans(
        self,
        term: str,
        *,
        pairwise: bool = False,
        adjust: str = "tukey",
        alpha: float = 0.05,
        offset: float | None = None,
    ) -> pd.DataFrame:
        """Estimated marginal means of a factor (R's ``emmeans(fit, "f", type="response")``)
        or, with ``pairwise=True``, their pairwise contrasts; see
        :func:`glmspec.inference.emmeans.emmeans`."""
        self._full_rank_only("emmeans", aliased_ok=True)
        return r_table(
            _emmeans.emmeans(
                self, term, pairwise=pairwise, adjust=adjust, alpha=alpha, offset=offset
            )
        )

    def wald_test_terms(self, *, use_f: bool | None = None, skip_single: bool = False):
        """Joint Wald test per formula term; see :func:`glmspec.inference.wald.wald_test_terms`."""
        self._full_rank_only("wald_test_terms")
        return _wald.wald_test_terms(self, use_f=use_f, skip_single=skip_single)

    def get_prediction(self, newdata: Any = None, offset: Any = None, exposure: Any = None):
        """Predicted means with standard errors and confidence intervals (``summary_frame``);
        see :func:`glmspec.inference.prediction.get_prediction` (aliased columns contribute
        nothing, as R's ``predict.glm``)."""
        return _prediction.get_prediction(self, newdata, offset, exposure)

    def get_robustcov_results(
        self, cov_type: str = "HC0", groups: Any = None, *, use_t=False
    ) -> RobustResults:
        """params/bse/pvalues/conf_int under another covariance; see
        :func:`glmspec.results.robust.robust_results`."""
        self._full_rank_only("get_robustcov_results")
        return robust_results(self, cov_type, groups, use_t=use_t)

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

    def conf_int(self, alpha: float = 0.05, method: str = "wald") -> pd.DataFrame:
        """Confidence intervals, columns ``0`` (lower) and ``1`` (upper).

        ``method="wald"``: ``params -/+ q * bse``; for the multinomial family the rows are a
        (class, column) MultiIndex. ``method="profile"``: profile-likelihood intervals of a
        GLM, as R's ``confint(fit)`` (:func:`glmspec.inference.profile.profile_conf_int`).
        """
        if method == "profile":
            self._full_rank_only("conf_int(method='profile')", refits=True, aliased_ok=True)
            return _profile.profile_conf_int(self, alpha)
        if method != "wald":
            raise SpecificationError(f"method must be 'wald' or 'profile', got {method!r}.")
        return self._wald_conf_int(alpha)

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
        return new_offset(newdata, offset, self.spec.offset, self.design.offset_given)

    def _new_log_exposure(self, newdata: Any, exposure: Any) -> np.ndarray | float:
        """``log(exposure)`` for new rows (0 when the model has no exposure)."""
        return new_log_exposure(newdata, exposure, getattr(self.spec, "exposure", None))

    def summary(self):
        """A printable summary with R's ``summary.glm`` content (a :class:`Summary`)."""
        return Summary(self)

    def _repr_html_(self) -> str:
        """Jupyter shows a fit as its summary (HTML)."""
        return self.summary().as_html()


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


def new_offset(newdata: Any, offset: Any, fitted: Any, given: bool) -> np.ndarray | float:
    """The offset of new rows: ``offset`` when given, else the column the model was fitted
    with (``fitted``, a name), else 0; a model fitted with an offset array (``given``) needs
    ``offset``."""
    if offset is not None:
        return _finite_offset(offset, len(newdata), "offset=")
    if isinstance(fitted, str):
        if fitted not in newdata:
            raise PredictionError(
                f"new data lacks the offset column {fitted!r}; add it or pass offset=."
            )
        return _finite_offset(newdata[fitted], len(newdata), f"offset column {fitted!r}")
    if given:
        raise PredictionError(
            "the model was fitted with an offset array; pass offset= for the new data."
        )
    return 0.0


def new_log_exposure(newdata: Any, exposure: Any, fitted: Any) -> np.ndarray | float:
    """``log(exposure)`` for new rows: ``exposure`` when given, else the column the model
    was fitted with (``fitted``, a name; an array needs ``exposure``); 0 without one."""
    if fitted is None:
        if exposure is not None:
            raise PredictionError(
                "the model was fitted without an exposure; pass offset= for new data."
            )
        return 0.0
    if exposure is None:
        if not isinstance(fitted, str):
            raise PredictionError(
                "the model was fitted with an exposure array; pass exposure= for the new data."
            )
        if fitted not in newdata:
            raise PredictionError(
                f"new data lacks the exposure column {fitted!r}; add it or pass exposure=."
            )
        exposure = newdata[fitted]
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
