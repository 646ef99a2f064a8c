"""Wald inference on the coefficients, written once for every results object.

:class:`CoefficientInference` works from ``params``, ``bse`` (by default the square roots of
the ``cov_params()`` diagonal) and :attr:`~CoefficientInference.df_inference`; the fitted
results (:class:`~glmspec.results.base.ResultsBase`) and the results under another covariance
(:class:`~glmspec.results.robust.RobustResults`) both inherit it.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from glmspec.inference import dispersion as inference
from glmspec.inference.information import flat_params


class CoefficientInference:
    """bse, tvalues, pvalues and Wald intervals from ``params``, ``cov_params()`` and
    ``df_inference``."""

    @property
    def df_inference(self) -> float | None:
        """Degrees of freedom of the t reference distribution, or None for the normal."""
        return None

    @property
    def use_t(self) -> bool:
        """True when tests use Student's t (on :attr:`df_inference`) rather than the normal."""
        return self.df_inference is not None

    @cached_property
    def bse(self) -> pd.Series | pd.DataFrame:
        """Standard errors: square roots of the ``cov_params()`` diagonal, shaped like params."""
        se = inference.standard_errors(np.asarray(self.cov_params(), dtype=float))
        if isinstance(self.params, pd.DataFrame):
            values = se.reshape(self.params.shape, order="F")
            return pd.DataFrame(values, index=self.params.index, columns=self.params.columns)
        return pd.Series(se, index=self.params.index, name="bse")

    @cached_property
    def tvalues(self):
        """Wald statistics ``params / bse`` (z or t, see :attr:`use_t`)."""
        return self.params / self.bse

    @cached_property
    def pvalues(self):
        """Two-sided p-values of the Wald statistics."""
        values = inference.wald_pvalues(np.asarray(self.tvalues), self.df_inference)
        return self.tvalues.__class__(values, **_labels(self.tvalues))

    def _wald_conf_int(self, alpha: float) -> pd.DataFrame:
        """Wald intervals ``params -/+ q * bse``; columns ``0`` (lower) and ``1`` (upper)."""
        q = inference.critical_value(alpha, self.df_inference)
        params, bse = flat_params(self.params), flat_params(self.bse)
        return pd.DataFrame({0: params - q * bse, 1: params + q * bse})


def _labels(obj) -> dict:
    if isinstance(obj, pd.DataFrame):
        return {"index": obj.index, "columns": obj.columns}
    return {"index": obj.index, "name": getattr(obj, "name", None)}
