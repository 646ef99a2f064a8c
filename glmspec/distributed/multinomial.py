"""Multinomial fits on Dask data: the in-memory Newton loop on sums from the partitions.

:func:`glmspec.solvers.multinomial.fit_multinomial_rows` asks its engine for the starting sums and
for the log-likelihood, score and block information at given coefficients;
:class:`DaskMultinomialRows` computes each with
:func:`~glmspec.solvers.multinomial.block_start_sums` and
:func:`~glmspec.solvers.multinomial.block_derivatives` on every partition's block, in the workers,
and adds them in a tree reduction. Fallbacks that need the rows themselves (the QR of an
ill-conditioned information) are not available; the loop then goes on as its docstring says.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from glmspec.distributed.engine import Block, Partitions, raise_partition_errors
from glmspec.distributed.results import (
    SAMPLE_ROWS,
    DaskResults,
    intercept_plan,
)
from glmspec.errors import SpecificationError
from glmspec.fitting import fit_multinomial_design
from glmspec.inference.applicability import not_offered
from glmspec.linalg import factorize_gram
from glmspec.results.multinomial import MultinomialResults, class_probabilities
from glmspec.solvers.multinomial import (
    MultinomialRows,
    StartSums,
    block_derivatives,
    block_start_sums,
    fit_multinomial_rows,
)


def _start_block(block: Block, n_classes: int) -> dict:
    return {"start": block_start_sums(block.y, block.X, block.prior, block.offset, n_classes)}


def _derivatives_block(block: Block, n_classes: int, theta: np.ndarray, want: bool) -> dict:
    sums = block_derivatives(block.y, block.X, block.prior, block.offset, n_classes, theta, want)
    return {"sums": sums}


def _confusion_block(block: Block, n_classes: int, coef: np.ndarray) -> dict:
    """Counts of rows by observed class and most probable class (``pred_table``)."""
    predicted = class_probabilities(block.X @ coef + block.offset[:, None]).argmax(axis=1)
    table = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(table, (block.y, predicted), 1)
    return {"table": table}


class DaskMultinomialRows(MultinomialRows):
    """The multinomial engine over a Dask DataFrame's partitions (one pass per sum)."""

    def __init__(self, partitions: Partitions, n_classes: int, n_columns: int) -> None:
        self.partitions = partitions
        self.n_classes, self.n_columns = n_classes, n_columns

    def _pass(self, func, *args) -> dict:
        sums = self.partitions.map_reduce(func, *args)
        raise_partition_errors(sums)
        return sums

    @cached_property
    def _start(self) -> StartSums:
        return self._pass(_start_block, self.n_classes)["start"]

    def start_sums(self) -> StartSums:
        return self._start

    def derivatives(self, theta: np.ndarray, want_information: bool = True):
        return self._pass(_derivatives_block, self.n_classes, theta, want_information)["sums"]

    def check_rank(self, column_names) -> None:
        factorize_gram(self._start.gram, column_names)  # raises naming aliased columns


def fit_multinomial_dask(ddf: Any, partitions: Partitions, design, spec) -> DaskMultinomialResults:
    """Fit the multinomial logit on ``partitions`` (built from ``ddf``) and wrap the results."""
    rows = DaskMultinomialRows(partitions, len(design.classes), len(design.column_names))
    record = fit_multinomial_rows(
        rows, max_iter=spec.max_iter, tol=spec.tol, column_names=design.column_names
    )
    res = DaskMultinomialResults(spec, design, record, ddf, partitions)
    res._start_sums = rows.start_sums()
    return res


class DaskMultinomialResults(DaskResults, MultinomialResults):
    """:class:`~glmspec.results.multinomial.MultinomialResults` of a fit on Dask data."""

    def __init__(self, spec, design, record, ddf, partitions: Partitions):
        MultinomialResults.__init__(self, spec, design, record, None)
        self._keep_rows(ddf, partitions)

    @cached_property
    def llnull(self) -> float:
        """Log-likelihood of the intercept-only model: from the class totals, or (with an
        offset) a fit of its own on the workers, or (without an intercept) at zero."""
        d, k = self.design, len(self.classes)
        if d.has_intercept and not d.offset_nonzero:
            totals = self._start_sums.class_weights
            used = totals[totals > 0]
            return float(np.sum(used * np.log(used / totals.sum())))
        if d.has_intercept:
            partitions = Partitions(self.data, intercept_plan(d.plan))
            rows = DaskMultinomialRows(partitions, k, 1)
            return fit_multinomial_rows(rows, max_iter=self.spec.max_iter, tol=self.spec.tol).loglik
        zeros = np.zeros((k - 1) * len(d.column_names))
        return self._sums(_derivatives_block, k, zeros, False)["sums"].loglik

    def pred_table(self) -> pd.DataFrame:
        """Confusion matrix over all rows (one reduction)."""
        k = len(self.classes)
        table = self._sums(_confusion_block, k, self.record.coef)["table"]
        labels = [str(c) for c in self.classes]
        return pd.DataFrame(table, index=labels, columns=labels)

    @cached_property
    def fittedvalues(self):
        """Fitted class probabilities, a lazy Dask DataFrame."""
        return self.predict(self.data)

    @cached_property
    def resid_response(self):
        raise not_offered("resid_response")

    @cached_property
    def resid_pearson(self):
        raise not_offered("resid_pearson")

    @cached_property
    def resid_deviance(self):
        raise not_offered("resid_deviance")

    def predict(self, newdata: Any = None, which: str = "mean", offset: Any = None):
        """As :meth:`MultinomialResults.predict`; Dask ``newdata`` (or none: the fitted data)
        gives a lazy Dask DataFrame."""
        if newdata is None:
            newdata = self.data
        if not hasattr(newdata, "map_partitions"):
            return super().predict(newdata, which, offset)
        if offset is not None:
            raise SpecificationError("with Dask new data, give the offset as a column of it.")
        labels = self._class_labels if which == "linear" else [str(c) for c in self.classes]
        meta = pd.DataFrame({c: pd.Series(dtype=float) for c in labels})
        return newdata.map_partitions(_predict_partition, self, which, meta=meta)

    def sample_results(self, n: int = SAMPLE_ROWS, seed: int = 0) -> MultinomialResults:
        """The fit seen on a random sample of rows, in memory (same coefficients)."""
        key = (n, seed)
        if key not in self._samples:
            design = self._design_of(self._sample_frame(n, seed))
            eta = design.X @ self.record.coef + design.offset[:, None]
            record = replace(self.record, probs=class_probabilities(eta))
            view = MultinomialResults(self.spec, design, record, None)
            self._samples[key] = view
        return self._samples[key]

    def sample_fit(self, n: int = SAMPLE_ROWS, seed: int = 0) -> MultinomialResults:
        """glmspec's in-memory fit of :meth:`sample_results`' rows (for the statsmodels check)."""
        return fit_multinomial_design(self.sample_results(n, seed).design, self.spec)


def _predict_partition(frame: pd.DataFrame, res: DaskMultinomialResults, which: str):
    return MultinomialResults.predict(res, frame, which)
