"""Predicted means with standard errors and confidence intervals.

For a GLM, the linear predictor ``eta = x' b + offset`` has variance ``x' C x`` with ``C`` the
fit's ``cov_params()`` (robust when the fit uses a robust covariance). As statsmodels'
``GLMResults.get_prediction(...).summary_frame()`` and R's ``predict.glm(se.fit=TRUE)``:

* ``mean = g^{-1}(eta)``; ``mean_se = |d mu / d eta| * se(eta)`` (delta method);
* the interval is computed on the link scale, ``eta -/+ q se(eta)``, and transformed by
  ``g^{-1}``, so it stays inside the mean's range (for the identity link it is
  ``mean -/+ q mean_se``). ``q`` is the normal quantile, or Student's t on the residual df
  when the fit uses t tests (estimated dispersion). For decreasing inverse links (e.g. the
  Gaussian ``inverse``) statsmodels reports the transformed endpoints in their original
  order, so its "lower" exceeds its "upper"; glmspec orders them. For the fitted rows
  (``newdata=None``) glmspec keeps the fitted offset; statsmodels' ``get_prediction()``
  without ``exog`` drops it (pass ``exog`` and ``offset`` there to compare).

For multinomial fits each class probability ``p_k`` (reference class included) gets a
delta-method standard error from the gradient ``d p_k / d beta_j = p_k (1{k=j} - p_j) x`` and
an interval computed on the logit scale of ``p_k`` (``logit(p_k) -/+ q se / (p_k (1 - p_k))``)
and transformed back, so it stays in (0, 1). statsmodels' ``MNLogit`` has no
``get_prediction``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from glmspec.design.build import predict_matrix
from glmspec.design.matrix import row_blocks
from glmspec.errors import PredictionError, SpecificationError
from glmspec.inference import dispersion as inference
from glmspec.inference.information import linear_prediction, linear_predictor_se
from glmspec.solvers.multinomial import log_softmax

SUMMARY_COLUMNS = ("mean", "mean_se", "mean_ci_lower", "mean_ci_upper")


def _design_rows(res: Any, newdata: Any, offset: Any, exposure: Any = None):
    base = getattr(res, "results", res)
    if newdata is None:
        design = base.design
        if offset is not None:
            off = np.broadcast_to(np.asarray(offset, dtype=float), (design.X.shape[0],))
        else:
            off = design.offset
        return design.X, off, design.row_index
    X = predict_matrix(base.design, newdata)
    off = base._new_offset(newdata, offset)
    if hasattr(base, "_new_log_exposure"):
        off = off + base._new_log_exposure(newdata, exposure)
    elif exposure is not None:
        raise PredictionError("this model was fitted without an exposure; pass offset=.")
    index = newdata.index if isinstance(newdata, pd.DataFrame) else None
    return X, np.broadcast_to(np.asarray(off, dtype=float), (X.shape[0],)), index


class PredictionResults:
    """Predicted means of a GLM with delta-method standard errors (see the module docstring).

    Attributes
    ----------
    predicted_mean, se_mean : Series
        Mean on the response scale and its standard error.
    linpred, se_linpred : Series
        Linear predictor (offset included) and its standard error.
    """

    def __init__(self, link: Any, linpred, se_linpred, index, df):
        self._link = link
        self._df = df
        self.linpred = pd.Series(linpred, index=index, name="linpred")
        self.se_linpred = pd.Series(se_linpred, index=index, name="se_linpred")
        mean = self._link.inverse_exact(linpred)
        self.predicted_mean = pd.Series(mean, index=index, name="mean")
        se = np.abs(self._link.mu_eta(linpred)) * se_linpred
        self.se_mean = pd.Series(se, index=index, name="mean_se")

    def conf_int(self, alpha: float = 0.05, which: str = "mean") -> pd.DataFrame:
        """Confidence intervals of the mean (``which="mean"``) or of ``which="linear"``.

        Returns a DataFrame with columns ``lower`` and ``upper``.
        """
        q = inference.critical_value(alpha, self._df)
        lower = self.linpred - q * self.se_linpred
        upper = self.linpred + q * self.se_linpred
        if which == "linear":
            return pd.DataFrame({"lower": lower, "upper": upper})
        if which != "mean":
            raise SpecificationError(f"which must be 'mean' or 'linear', got {which!r}.")
        ends = np.column_stack([self._link.inverse_exact(lower), self._link.inverse_exact(upper)])
        ends.sort(axis=1)
        return pd.DataFrame(ends, index=self.linpred.index, columns=["lower", "upper"])

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """``mean``, ``mean_se``, ``mean_ci_lower``, ``mean_ci_upper``, as statsmodels."""
        ci = self.conf_int(alpha)
        return pd.DataFrame(
            {
                "mean": self.predicted_mean,
                "mean_se": self.se_mean,
                "mean_ci_lower": ci["lower"],
                "mean_ci_upper": ci["upper"],
            }
        )


class MultinomialPredictionResults:
    """Predicted class probabilities with delta-method standard errors and intervals.

    Attributes
    ----------
    predicted_mean, se_mean : DataFrame
        One row per prediction, one column per class (reference first).
    """

    def __init__(self, probs: np.ndarray, se: np.ndarray, index, classes, df):
        self._df = df
        columns = [str(c) for c in classes]
        self.predicted_mean = pd.DataFrame(probs, index=index, columns=columns)
        self.se_mean = pd.DataFrame(se, index=index, columns=columns)

    def conf_int(self, alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(lower, upper)`` DataFrames shaped like :attr:`predicted_mean`."""
        q = inference.critical_value(alpha, self._df)
        p = self.predicted_mean.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            se_logit = self.se_mean.to_numpy() / (p * (1.0 - p))
            logit = special.logit(p)
        lower = special.expit(logit - q * se_logit)
        upper = special.expit(logit + q * se_logit)
        frame = self.predicted_mean
        return (
            pd.DataFrame(lower, index=frame.index, columns=frame.columns),
            pd.DataFrame(upper, index=frame.index, columns=frame.columns),
        )

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Long frame indexed by (row, class) with statsmodels' four column names."""
        lower, upper = self.conf_int(alpha)

        def long(frame: pd.DataFrame) -> pd.Series:
            return frame.stack()

        out = pd.DataFrame(
            {
                "mean": long(self.predicted_mean),
                "mean_se": long(self.se_mean),
                "mean_ci_lower": long(lower),
                "mean_ci_upper": long(upper),
            }
        )
        out.index.names = ["row", "class"]
        return out


def class_probabilities(eta: np.ndarray) -> np.ndarray:
    """Softmax probabilities from the (n, K-1) non-reference linear predictors."""
    return np.exp(log_softmax(np.column_stack([np.zeros(len(eta)), eta])))


#: What ``predict(which=...)`` returns: the mean (class probabilities) or the linear predictor.
PREDICT_WHICH = ("mean", "linear")


def predicted_values(
    X: np.ndarray,
    offset: Any,
    coef: np.ndarray,
    link: Any,
    which: str = "mean",
    index: Any = None,
    classes: tuple | None = None,
) -> pd.Series | pd.DataFrame:
    """The predictions of ``predict(newdata, which)``: one home for a fit's ``predict`` and a
    model stored as data (:class:`glmspec.report.stored.StoredModel`).

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Design rows (estimable columns only).
    offset : float or ndarray of shape (n,)
        Offset, log-exposure included.
    coef : ndarray of shape (p,) or (p, K-1)
        Coefficients; a matrix for the multinomial (one column per non-reference class).
    link : Link
        The GLM's link (unused for the multinomial).
    which : {"mean", "linear"}
        The mean ``g^{-1}(eta)`` (class probabilities) or the linear predictor ``eta``.
    index : pandas.Index, optional
        Row labels of the result.
    classes : tuple, optional
        The multinomial's classes, reference first; None for a GLM.

    Returns
    -------
    Series (a GLM: ``predicted_mean`` / ``predicted_linear``) or DataFrame (a multinomial:
    one column per class, or per non-reference class for ``"linear"``).
    """
    if which not in PREDICT_WHICH:
        raise SpecificationError(f"which must be 'mean' or 'linear', got {which!r}.")
    if classes is not None:
        eta = np.asarray(X @ coef) + np.reshape(offset, (-1, 1))
        if which == "linear":
            return pd.DataFrame(eta, index=index, columns=[str(c) for c in classes[1:]])
        probs = class_probabilities(eta)
        return pd.DataFrame(probs, index=index, columns=[str(c) for c in classes])
    eta = np.asarray(X @ coef) + offset
    with np.errstate(over="ignore"):  # a mean beyond float range is inf, as R gives it
        values = eta if which == "linear" else link.inverse_exact(eta)
    return pd.Series(values, index=index, name="predicted_" + which)


def _multinomial_prediction(coef: np.ndarray, classes, X, off, index, cov: np.ndarray, df):
    p, m = coef.shape
    probs = class_probabilities(np.asarray(X @ coef) + off[:, None])
    blocks = cov.reshape(m, p, m, p)
    var = np.empty_like(probs)
    for rows, block in row_blocks(X):
        # q[i, j, l] = x_i' C_jl x_i
        q = np.einsum("ia,jalb,ib->ijl", block, blocks, block)
        pr = probs[rows]
        for k in range(pr.shape[1]):
            a = -pr[:, [k]] * pr[:, 1:]
            if k:
                a[:, k - 1] += pr[:, k]
            var[rows, k] = np.einsum("ij,ijl,il->i", a, q, a)
    se = np.sqrt(np.clip(var, 0.0, None))
    return MultinomialPredictionResults(probs, se, index, classes, df)


def get_prediction(
    res: Any, newdata: Any = None, offset: Any = None, exposure: Any = None
) -> PredictionResults | MultinomialPredictionResults:
    """Predicted means with standard errors and confidence intervals.

    Parameters
    ----------
    res : GLMResults, MultinomialResults or RobustResults
        The covariance used is ``res.cov_params()``.
    newdata : DataFrame, optional
        Rows to predict; the fitted rows when omitted. Factors must use fitted levels.
    offset : array-like, optional
        Offset for ``newdata`` (default: its offset column if the model was fitted with
        ``offset="column"``, else zero; for the fitted rows, the fitted offset).
    exposure : array-like, optional
        Exposure for ``newdata`` of a model fitted with ``exposure=`` (its log is added to the
        offset; default: the exposure column of ``newdata``).

    Returns
    -------
    PredictionResults or MultinomialPredictionResults
        ``summary_frame(alpha)`` gives ``mean``, ``mean_se``, ``mean_ci_lower`` and
        ``mean_ci_upper``.

    Raises
    ------
    PredictionError
        Missing column, unseen factor level, or no offset for a model fitted with one.
    """
    X, off, index = _design_rows(res, newdata, offset, exposure)
    cov = np.asarray(res.cov_params(), dtype=float)
    df = res.df_inference
    if res.family.is_multiclass:
        base = getattr(res, "results", res)
        coef = np.asarray(base.params, dtype=float)
        return _multinomial_prediction(coef, base.classes, X, off, index, cov, df)
    linpred, se = linear_prediction(res, X, off, cov)
    return PredictionResults(res.family.link, linpred, se, index, df)


def prediction_from_arrays(
    X: np.ndarray,
    offset: np.ndarray,
    coef: np.ndarray,
    cov: np.ndarray,
    link: Any,
    index: Any,
    df: float | None = None,
    classes: tuple | None = None,
) -> PredictionResults | MultinomialPredictionResults:
    """:func:`get_prediction` for a fit known only by its numbers (a fit stored as data).

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Design rows (estimable columns only).
    offset : ndarray of shape (n,)
        Offset, log-exposure included.
    coef : ndarray of shape (p,) or (p, K-1)
        Coefficients; a matrix for the multinomial (one column per non-reference class).
    cov : ndarray
        Their covariance (class-major for the multinomial, as ``cov_params()``).
    link : Link
        The GLM's link (unused for the multinomial).
    index : pandas.Index
        Row labels of the result.
    df : float, optional
        Residual df of t-based intervals; None for normal ones.
    classes : tuple, optional
        The multinomial's classes, reference first; None for a GLM.
    """
    off = np.broadcast_to(np.asarray(offset, dtype=float), (X.shape[0],))
    if classes is not None:
        return _multinomial_prediction(coef, classes, X, off, index, cov, df)
    linpred, se = linear_predictor_se(X, off, coef, cov)
    return PredictionResults(link, linpred, se, index, df)
