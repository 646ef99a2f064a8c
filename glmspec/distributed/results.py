"""Results of a fit on Dask data: :class:`~glmspec.results.glm.GLMResults` with sums from the
workers.

Coefficients, covariance, tests and intervals are the in-memory code (they need only the
``p x p`` information). What needs every row -- the Pearson chi-square, the log-likelihood,
the null deviance -- is one more reduction each, computed on first access. Per-row results
(fitted values, residuals, predictions for Dask new data) are lazy Dask Series, computed in the
workers from the partitions. Influence measures, robust covariances and the sequential anova
refit or keep every row in memory and are not offered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from glmspec.design.build import Design
from glmspec.distributed.design import BlockPlan, build_block, design_info
from glmspec.distributed.engine import (
    DaskRows,
    Partitions,
    loglik_block,
    statistics_block,
)
from glmspec.errors import SpecificationError
from glmspec.fitting import fit_design
from glmspec.inference.applicability import not_offered
from glmspec.results.glm import GLMResults
from glmspec.results.negbin import NegBinResults
from glmspec.solvers.engine import working_quantities
from glmspec.solvers.irls import irls
from glmspec.solvers.negbin import ThetaFit

#: Rows drawn for the report's plots and the statsmodels check.
SAMPLE_ROWS = 5000


@dataclass(frozen=True)
class PartitionedDesign:
    """What :class:`~glmspec.design.build.Design` describes, for rows kept in the partitions."""

    plan: BlockPlan
    column_names: tuple[str, ...]
    response_name: str
    n_dropped: int
    n_rows: int
    nobs: float
    weight_sum: float
    weighted_mean: float
    offset_nonzero: bool
    factor_levels: dict
    classes: tuple | None = None
    weights_given: bool = False
    offset_given: bool = False
    freq_weights: Any = None
    exposure: Any = None
    trials: Any = None
    plan_partitions: int = 0

    @property
    def design_info(self):
        """patsy's DesignInfo of the right-hand side (for :func:`predict_matrix`)."""
        return design_info(self.plan)

    @property
    def has_intercept(self) -> bool:
        """Whether the design contains patsy's intercept column."""
        return "Intercept" in self.column_names


class DaskResults:
    """What every results class of a Dask fit shares: the data, the partitions, nobs and a
    random sample of rows held in memory."""

    def _keep_rows(self, ddf, partitions: Partitions) -> None:
        self.data = ddf
        self._partitions = partitions
        self._samples: dict = {}

    def __repr__(self) -> str:
        return "<Dask" + super().__repr__()[1:]

    @property
    def engine(self) -> str:
        """``"dask"``: where the rows were summed."""
        return "dask"

    @cached_property
    def nobs(self) -> int | float:
        """Rows with positive prior weight (sum of frequency weights when given)."""
        total = self.design.nobs
        return int(total) if float(total).is_integer() else total

    def _sums(self, func, *args) -> dict:
        return self._partitions.map_reduce(func, *args)

    def _sample_frame(self, n: int, seed: int) -> pd.DataFrame:
        """A random sample of about ``n`` rows of the data (exactly ``n``, or all rows; the
        same rows for the same ``n`` and ``seed``), collected to the client."""
        fraction = min(1.0, 1.2 * n / max(self.design.n_rows, 1))
        frame = self.data.sample(frac=fraction, random_state=seed).compute()
        if len(frame) > n:
            frame = frame.sample(n=n, random_state=seed)
        return frame.sort_index()

    def _design_of(self, frame: pd.DataFrame) -> Design:
        """The rows of ``frame`` (from the fitted data) as an in-memory Design of this fit."""
        d = self.design
        block = build_block(frame, d.plan)
        X = np.asarray(block.X)
        return Design(
            y=block.y,
            X=X,
            column_names=d.column_names,
            design_info=d.design_info,
            prior_weights=block.prior,
            trials=block.trials,
            offset=block.offset,
            response_name=d.response_name,
            classes=d.classes,
            n_dropped=block.n_dropped,
            row_index=frame.index[block.keep],
            factor_levels=d.factor_levels,
            weights_given=d.weights_given,
            offset_given=d.offset_given,
            freq_weights=block.freq,
        )

    def get_influence(self, observed: bool = True):
        """Not offered: influence measures need every row's leverage in memory."""
        raise not_offered("get_influence()")

    def anova(self, test: str | None = None):
        """Not offered: the sequential anova refits nested designs in memory."""
        raise not_offered("res.anova()")

    def get_robustcov_results(self, cov_type: str = "HC0", groups: Any = None, *, use_t=False):
        """Not offered: sandwich covariances are not computed on Dask data."""
        raise not_offered("get_robustcov_results()")

    def __getstate__(self):
        # shipped to workers by predict(): they need the coefficients and design, not the data
        state = self.__dict__.copy()
        for key in ("data", "_partitions", "_null_partitions", "_samples"):
            state.pop(key, None)
        return state


class DaskGLMResults(DaskResults, GLMResults):
    """:class:`~glmspec.results.glm.GLMResults` of a fit whose rows live in Dask partitions."""

    def __init__(self, spec, design, family, record, ddf, partitions: Partitions):
        GLMResults.__init__(self, spec, design, family, record)  # not the NB subclass's
        self._keep_rows(ddf, partitions)

    @cached_property
    def pearson_chi2(self) -> float:
        """Pearson chi-square statistic (one reduction)."""
        return self._sums(statistics_block, self.family, self.record.coef, None)["pearson"]

    @cached_property
    def llf(self) -> float:
        """Full log-likelihood as R's ``logLik`` (one reduction); see ``GLMResults.llf``."""
        return self._loglik_at(self.record.coef, None, self.deviance)

    def _loglik_at(self, coef, mu_const, deviance: float) -> float:
        scale = self.family.loglik_scale(
            deviance, self.nobs, self.scale, weight_sum=self.design.weight_sum
        )
        return self._sums(loglik_block, self.family, coef, mu_const, scale)["llf"]

    @cached_property
    def _null(self) -> tuple[np.ndarray | None, float | None, float]:
        """Coefficient of the intercept-only model (or None) and its constant mean, and its
        deviance; an intercept with an offset is a fit of its own, on the workers."""
        d = self.design
        if not d.has_intercept:
            deviance = self._sums(statistics_block, self.family, None, None)["deviance"]
            return None, None, deviance
        if not d.offset_nonzero:
            mean = d.weighted_mean
            deviance = self._sums(statistics_block, self.family, None, mean)["deviance"]
            return None, mean, deviance
        plan = intercept_plan(d.plan)
        partitions = Partitions(self.data, plan)
        rows = DaskRows(partitions, self.family, ("Intercept",), d.weighted_mean)
        record = irls(rows, self.family, max_iter=self.spec.max_iter, tol=self.spec.tol)
        self._null_partitions = partitions
        return record.coef, None, record.deviance

    @cached_property
    def null_deviance(self) -> float:
        """Deviance of the intercept-only model (with the offset), as R's ``null.deviance``."""
        return float(self._null[2])

    @cached_property
    def llnull(self) -> float:
        """Log-likelihood of the intercept-only model."""
        coef, mean, deviance = self._null
        scale = self.family.loglik_scale(
            deviance, self.nobs, self.scale, weight_sum=self.design.weight_sum
        )
        partitions = getattr(self, "_null_partitions", self._partitions)
        return partitions.map_reduce(loglik_block, self.family, coef, mean, scale)["llf"]

    def _rows(self, which: str) -> Any:
        """A lazy Dask Series of one per-row quantity (a property of :meth:`_view`) over the
        fitted rows, computed partition by partition in the workers."""
        meta = pd.Series(dtype=float, name=which)
        return self.data.map_partitions(_row_values, self, which, meta=meta)

    def _view(self, frame: pd.DataFrame) -> GLMResults:
        """In-memory results for the rows of ``frame``: this fit's coefficients with those
        rows' means, so per-row quantities are GLMResults' own."""
        design = self._design_of(frame)
        eta = design.X @ self.record.coef + design.offset
        mu = self.family.link.inverse(eta)
        weights, _ = working_quantities(self.family, design.y, mu, eta, design.total_weights)
        with np.errstate(all="ignore"):
            exact = self.family.link.unclamp(eta, mu)
            deviance = self.family.deviance(design.y, exact, design.total_weights)
        record = replace(
            self.record, eta=eta, mu=mu, deviance=float(deviance), working_weights=weights
        )
        return GLMResults(self.spec, design, self.family, record)

    @cached_property
    def fittedvalues(self):
        """Fitted means, a lazy Dask Series (rows dropped for missing values are left out)."""
        return self._rows("fittedvalues")

    @cached_property
    def linear_predictor(self):
        """Fitted linear predictor (offset included), a lazy Dask Series."""
        return self._rows("linear_predictor")

    @cached_property
    def resid_response(self):
        """``y - mu``, a lazy Dask Series."""
        return self._rows("resid_response")

    @cached_property
    def resid_pearson(self):
        """``(y - mu) sqrt(w / V(mu))``, a lazy Dask Series."""
        return self._rows("resid_pearson")

    @cached_property
    def resid_deviance(self):
        """``sign(y - mu) sqrt(w d(y, mu))``, a lazy Dask Series."""
        return self._rows("resid_deviance")

    @cached_property
    def resid_working(self):
        """``(y - mu) / mu_eta(eta)``, a lazy Dask Series."""
        return self._rows("resid_working")

    @cached_property
    def resid_anscombe(self):
        raise not_offered("resid_anscombe")

    def predict(
        self, newdata: Any = None, which: str = "mean", offset: Any = None, exposure: Any = None
    ):
        """As :meth:`GLMResults.predict`; Dask ``newdata`` gives a lazy Dask Series."""
        if newdata is None:
            if which not in ("mean", "linear"):
                raise SpecificationError(f"which must be 'mean' or 'linear', got {which!r}.")
            return self.fittedvalues if which == "mean" else self.linear_predictor
        if hasattr(newdata, "map_partitions"):
            if offset is not None or exposure is not None:
                raise SpecificationError(
                    "with Dask new data, give the offset and exposure as columns of it."
                )
            meta = pd.Series(dtype=float, name="predicted_" + which)
            return newdata.map_partitions(_predict_partition, self, which, meta=meta)
        return super().predict(newdata, which, offset, exposure)

    def sample_results(self, n: int = SAMPLE_ROWS, seed: int = 0) -> GLMResults:
        """This fit seen on a random sample of rows, in memory: the same coefficients and
        covariance, with fitted values and residuals of the sampled rows (for plots).

        Statistics summed over rows (deviance, llf, Pearson chi-square) are the sample's.
        """
        key = (n, seed)
        if key not in self._samples:
            view = self._view(self._sample_frame(n, seed))
            view.__dict__["_cov"] = self._cov  # the full fit's covariance, not the sample's
            self._samples[key] = view
        return self._samples[key]

    def sample_fit(self, n: int = SAMPLE_ROWS, seed: int = 0) -> GLMResults:
        """glmspec's in-memory fit of the rows of :meth:`sample_results` (for the statsmodels
        check, which needs the rows in memory)."""
        return fit_design(self.sample_results(n, seed).design, self.family, self.spec)


def _predict_partition(frame: pd.DataFrame, res: DaskGLMResults, which: str) -> pd.Series:
    if frame.empty:
        return pd.Series(dtype=float, name="predicted_" + which)
    return GLMResults.predict(res, frame, which)


def _row_values(frame: pd.DataFrame, res: DaskGLMResults, which: str) -> pd.Series:
    """One per-row quantity of a partition, indexed by the rows kept."""
    return getattr(res._view(frame), which).rename(which)


def intercept_plan(plan: BlockPlan) -> BlockPlan:
    """The same plan building the intercept column only (for the null model)."""
    from uuid import uuid4

    return replace(plan, intercept_only=True, token=uuid4().hex)


class DaskNegBinResults(DaskGLMResults, NegBinResults):
    """A negative binomial fit on Dask data: :class:`DaskGLMResults` plus theta (fixed, or
    estimated as ``glm.nb`` with every sum on the workers)."""

    def __init__(self, spec, design, family, record, ddf, partitions, theta_fit: ThetaFit):
        DaskGLMResults.__init__(self, spec, design, family, record, ddf, partitions)
        self.theta_fit = theta_fit
