"""Negative binomial fits with theta estimated (R's ``MASS::glm.nb``); the results class is
:class:`glmspec.results.negbin.NegBinResults`.

:func:`fit_negbin` follows ``glm.nb``: a Poisson fit with the same link gives the starting
means; then, in turn, theta by maximum likelihood at the current means
(:func:`glmspec.families.negbin.theta_ml`) and the coefficients by IRLS at that theta
(:func:`glmspec.solvers.irls.fit_irls`, warm-started), until the relative changes of theta and of
the log-likelihood are both below ``tol``. The coefficients are finally refitted at the last
theta, so the reported coefficients are exactly the maximum at the reported theta. Because
theta and the coefficients are orthogonal in the expected information, the alternation
converges in a few rounds to the joint maximum-likelihood estimate (the same point
statsmodels' ``discrete_model.NegativeBinomial`` finds by joint Newton steps).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from glmspec.errors import ConvergenceWarning, DomainWarning
from glmspec.families import Family, Poisson
from glmspec.families.negbin import ArrayThetaRows, NegativeBinomial, theta_ml_rows
from glmspec.solvers.engine import InMemoryRows
from glmspec.solvers.irls import irls
from glmspec.solvers.newton import FitRecord

#: Above this theta the data are practically Poisson (Var = mu + mu^2/theta ~ mu): warn.
THETA_LARGE = 1e6


@dataclasses.dataclass(frozen=True)
class ThetaFit:
    """The estimate of theta: value, standard error and the alternation's history."""

    theta: float
    se: float
    estimated: bool
    n_outer: int = 0
    converged: bool = True
    history: tuple[tuple[int, float, float], ...] = ()


def fit_negbin(
    y: np.ndarray,
    X,
    family: NegativeBinomial,
    *,
    prior_weights: np.ndarray,
    offset: np.ndarray,
    max_iter: int = 100,
    tol: float = 1e-8,
    column_names=None,
) -> tuple[NegativeBinomial, FitRecord, ThetaFit]:
    """Fit a negative binomial GLM with theta estimated by maximum likelihood (``glm.nb``).

    Parameters
    ----------
    y, X, prior_weights, offset, max_iter, tol, column_names
        As :func:`glmspec.solvers.irls.fit_irls`; ``max_iter`` also bounds the outer alternation.
    family : NegativeBinomial
        Gives the link; its theta, if any, is ignored.

    Returns
    -------
    family : NegativeBinomial
        At the estimated theta (``theta_estimated`` True).
    record : FitRecord
        The final IRLS fit at that theta; ``converged`` is True only when the alternation
        converged too, and ``n_iter`` counts every IRLS iteration.
    theta : ThetaFit
    """
    prior = np.asarray(prior_weights, dtype=float)
    offset = np.asarray(offset, dtype=float)
    y = np.asarray(y, dtype=float)

    def rows(current):
        return InMemoryRows(y, X, current, prior, offset, column_names)

    def theta_rows(record: FitRecord):
        return ArrayThetaRows(y, record.mu, prior)

    return fit_negbin_rows(rows, theta_rows, family, max_iter=max_iter, tol=tol)


def fit_negbin_rows(
    rows: Callable[[Family], Any],
    theta_rows: Callable[[FitRecord], Any],
    family: NegativeBinomial,
    *,
    max_iter: int = 100,
    tol: float = 1e-8,
) -> tuple[NegativeBinomial, FitRecord, ThetaFit]:
    """:func:`fit_negbin` over any row engine.

    Parameters
    ----------
    rows : callable
        ``rows(family)`` is the IRLS engine (:class:`glmspec.solvers.engine.InMemoryRows` or one
        with the same methods) of the data under ``family``.
    theta_rows : callable
        ``theta_rows(record)`` gives the sums of :func:`glmspec.families.negbin.theta_ml_rows` at
        the means of an IRLS record (:class:`glmspec.families.negbin.ArrayThetaRows` in memory).
    family : NegativeBinomial
    max_iter, tol
        As :func:`fit_negbin`.
    """
    record = irls(rows(Poisson(family.link)), Poisson(family.link), max_iter=max_iter, tol=tol)
    total_iter = record.n_iter
    theta, se, llf = theta_ml_rows(theta_rows(record))
    history = []
    converged = False
    for outer in range(1, max_iter + 1):
        current = family.with_theta(theta)
        record = irls(rows(current), current, max_iter=max_iter, tol=tol, start=record.coef)
        total_iter += record.n_iter
        new_theta, se, new_llf = theta_ml_rows(theta_rows(record), start=theta)
        history.append((outer, new_theta, new_llf))
        theta_change = abs(new_theta - theta) / theta
        llf_change = abs(new_llf - llf) / (abs(new_llf) + 0.1)
        theta, llf = new_theta, new_llf
        if theta_change < tol and llf_change < tol:
            converged = True
            break
    if not converged:
        warnings.warn(
            f"the negative binomial alternation (theta by ML, coefficients by IRLS) did not "
            f"converge in {max_iter} rounds; theta = {theta:.6g}. Estimates are not reliable.",
            ConvergenceWarning,
            stacklevel=4,
        )
    if theta > THETA_LARGE:
        warnings.warn(
            f"the ML estimate of theta is very large ({theta:.3g}, SE {se:.3g}): the counts show "
            "no overdispersion and the negative binomial reduces to the Poisson (family="
            "'poisson'); theta and its SE are not well determined.",
            DomainWarning,
            stacklevel=4,
        )
    final = family.with_theta(theta)
    record = irls(rows(final), final, max_iter=max_iter, tol=tol, start=record.coef)
    total_iter += record.n_iter
    record = dataclasses.replace(
        record,
        converged=record.converged and converged,
        n_iter=total_iter,
        message=record.message
        if converged
        else f"theta/coefficient alternation stopped after {max_iter} rounds",
    )
    fit = ThetaFit(theta, se, True, len(history), converged, tuple(history))
    return final, record, fit
