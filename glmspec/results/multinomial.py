"""Results of a multinomial (softmax) fit, with statsmodels' ``MNLogit`` shapes.

``params``, ``bse``, ``tvalues`` and ``pvalues`` are DataFrames with one row per design column
and one column per non-reference class; the reference class is the first level (sorted, or a
Categorical's first category), as in R's ``nnet::multinom`` and statsmodels' ``MNLogit``.
``cov_params()`` is ordered class-major (all coefficients of the first non-reference class,
then the next), as statsmodels'.
"""

from __future__ import annotations

import warnings
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from glmspec.design.build import Design, predict_matrix
from glmspec.errors import SpecificationError
from glmspec.families import Multinomial
from glmspec.inference import covariance as _robust
from glmspec.inference.prediction import class_probabilities, predicted_values
from glmspec.inference.separation import Separation
from glmspec.options import FitOptions
from glmspec.results.base import ResultsBase
from glmspec.solvers.multinomial import (
    MultinomialFitRecord,
    covariance,
    fit_multinomial,
)


class MultinomialResults(ResultsBase):
    """Results of :func:`glmspec.fit` with ``family="multinomial"``."""

    family = Multinomial()

    def __init__(
        self,
        spec: FitOptions,
        design: Design,
        record: MultinomialFitRecord,
        separation: Separation | None = None,
    ):
        super().__init__(spec, design, record, separation)

    def __repr__(self) -> str:
        return (
            f"<MultinomialResults {self.spec.formula!r} classes={list(self.classes)} "
            f"nobs={self.nobs} converged={self.converged}>"
        )

    @property
    def model_kind(self) -> str:
        return "multinomial"

    @property
    def classes(self) -> tuple:
        """Response classes; the first is the reference."""
        return self.design.classes

    @property
    def _class_labels(self) -> list[str]:
        return [str(c) for c in self.classes[1:]]

    def _frame(self, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            values, index=list(self.design.column_names), columns=self._class_labels
        )

    @cached_property
    def params(self) -> pd.DataFrame:
        """Coefficients: rows are design columns, columns the non-reference classes."""
        return self._frame(self.record.coef)

    @cached_property
    def _cov(self) -> np.ndarray:
        if self.cov_type != "nonrobust":
            return _robust.robust_cov(self, self.cov_type, self.groups)
        return covariance(self.record)

    def cov_params(self) -> pd.DataFrame:
        """Covariance of the coefficients, class-major (statsmodels' order)."""
        index = pd.MultiIndex.from_product([self._class_labels, list(self.design.column_names)])
        return pd.DataFrame(self._cov, index=index, columns=index)

    @property
    def scale(self) -> float:
        """Always 1: the multinomial has no dispersion parameter."""
        return 1.0

    @property
    def llf(self) -> float:
        """Full log-likelihood ``sum w_i log p_i[y_i]``."""
        return self.record.loglik

    @property
    def deviance(self) -> float:
        """``-2 llf`` (the saturated model of individual outcomes has likelihood 1)."""
        return self.record.deviance

    @property
    def _rank(self) -> int:
        return self.record.coef.shape[0]

    @property
    def _n_params(self) -> int:
        return self.record.coef.size

    @property
    def df_model(self) -> float:
        """``(rank - 1) * (K - 1)``, as statsmodels' MNLogit."""
        return (self._rank - 1) * (len(self.classes) - 1)

    @property
    def df_resid(self) -> float:
        """``nobs - rank * (K - 1)``."""
        return self.nobs - self._n_params

    @cached_property
    def _null_probs(self) -> np.ndarray:
        d = self.design
        w = d.prior_weights
        if d.has_intercept and not d.offset_given:
            freq = np.bincount(d.y, weights=w, minlength=len(self.classes)) / w.sum()
            return np.broadcast_to(freq, (len(d.y), len(freq)))
        if d.has_intercept:
            # R's null model: intercepts only, with the offset (fitted, no closed form)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                null = fit_multinomial(
                    d.y,
                    len(self.classes),
                    np.ones((len(d.y), 1)),
                    prior_weights=w,
                    offset=d.offset,
                )
            return null.probs
        return class_probabilities(np.repeat(d.offset[:, None], len(self.classes) - 1, axis=1))

    @cached_property
    def llnull(self) -> float:
        """Log-likelihood of the intercept-only model (class frequencies)."""
        d = self.design
        used = np.flatnonzero(d.prior_weights > 0)
        p = self._null_probs[used, d.y[used]]
        return float(np.sum(d.prior_weights[used] * np.log(p)))

    @property
    def null_deviance(self) -> float:
        """``-2 llnull``."""
        return -2.0 * self.llnull

    def pseudo_rsquared(self, kind: str = "mcf") -> float:
        """McFadden's pseudo R-squared ``1 - llf / llnull``."""
        if kind != "mcf":
            raise SpecificationError("only McFadden's pseudo R-squared ('mcf') is defined here.")
        return 1.0 - self.llf / self.llnull

    @cached_property
    def fittedvalues(self) -> pd.DataFrame:
        """Fitted class probabilities, one column per class."""
        return pd.DataFrame(
            self.record.probs, index=self.design.row_index, columns=[str(c) for c in self.classes]
        )

    @cached_property
    def _onehot(self) -> np.ndarray:
        onehot = np.zeros_like(self.record.probs)
        onehot[np.arange(len(self.design.y)), self.design.y] = 1.0
        return onehot

    @cached_property
    def resid_response(self) -> pd.DataFrame:
        """Indicator of the observed class minus the fitted probabilities."""
        return self.fittedvalues.__class__(
            self._onehot - self.record.probs,
            index=self.fittedvalues.index,
            columns=self.fittedvalues.columns,
        )

    @cached_property
    def resid_pearson(self) -> pd.DataFrame:
        """Per class ``sqrt(w) (indicator - p) / sqrt(p (1 - p))``."""
        p = self.record.probs
        values = (self._onehot - p) * np.sqrt(self.design.prior_weights)[:, None]
        values /= np.sqrt(np.clip(p * (1 - p), 1e-300, None))
        return pd.DataFrame(
            values, index=self.fittedvalues.index, columns=self.fittedvalues.columns
        )

    @cached_property
    def resid_deviance(self) -> pd.Series:
        """``sqrt(-2 w log p_i[y_i])`` per row (non-negative)."""
        p = self.record.probs[np.arange(len(self.design.y)), self.design.y]
        with np.errstate(divide="ignore", invalid="ignore"):
            unit = np.where(self.design.prior_weights > 0, -2.0 * np.log(p), 0.0)
        values = np.sqrt(np.clip(self.design.prior_weights * unit, 0.0, None))
        return pd.Series(values, index=self.design.row_index, name="resid_deviance")

    def pred_table(self) -> pd.DataFrame:
        """Confusion matrix: rows observed class, columns the most probable class."""
        predicted = self.record.probs.argmax(axis=1)
        k = len(self.classes)
        table = np.zeros((k, k), dtype=int)
        np.add.at(table, (self.design.y, predicted), 1)
        labels = [str(c) for c in self.classes]
        return pd.DataFrame(table, index=labels, columns=labels)

    def predict(self, newdata: Any = None, which: str = "mean", offset: Any = None) -> pd.DataFrame:
        """Class probabilities (``which="mean"``) or linear predictors (``which="linear"``).

        Raises
        ------
        PredictionError
            Missing column, unseen factor level, or no offset for a model fitted with one.
        """
        if newdata is None:
            X, off, index = self.design.X, self.design.offset, self.design.row_index
        else:
            X = predict_matrix(self.design, newdata)
            off = self._new_offset(newdata, offset)
            index = newdata.index if isinstance(newdata, pd.DataFrame) else None
        return predicted_values(X, off, self.record.coef, None, which, index, self.classes)
