"""What the Newton loops share: the iteration record, the stopping rule, the step-halving
limit and the warning of a loop that stopped early.

IRLS (:mod:`.irls`), the penalized fit (:mod:`.penalized`) and the multinomial fit
(:mod:`.multinomial`) take Newton steps with step halving and stop by :func:`is_converged`;
IRLS and the penalized fit return a :class:`FitRecord`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glmspec.errors import ConvergenceWarning
from glmspec.linalg import GramFactor

#: Most halvings of one step before the line search gives up.
MAX_HALVINGS = 30


@dataclass(frozen=True)
class Iteration:
    """One accepted IRLS step."""

    iteration: int
    deviance: float
    relative_change: float
    decrement: float
    halvings: int


@dataclass(frozen=True)
class FitRecord:
    """Everything the solver computed; read-only.

    Attributes
    ----------
    coef : ndarray
        Maximum-likelihood coefficients.
    eta, mu : ndarray
        Linear predictor (offset included) and mean at ``coef``.
    deviance : float
        ``sum(prior_weights * unit_deviance)`` at ``coef``.
    factor : GramFactor
        Factor of the Fisher information ``X' W X`` (dispersion 1) at convergence.
    working_weights : ndarray
        IRLS weights ``prior * mu_eta^2 / V(mu)`` matching ``factor``.
    converged : bool
        True only when the convergence criterion was met.
    n_iter : int
        Number of IRLS iterations (factorisations of ``X'WX``) on all the rows; those of a
        subsample start are not counted.
    history : tuple of Iteration
    message : str
        Why the loop stopped.
    """

    coef: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    deviance: float
    factor: GramFactor
    working_weights: np.ndarray
    converged: bool
    n_iter: int
    history: tuple[Iteration, ...]
    message: str


def warn_not_converged(
    solver: str, iteration: int, message: str, history: Sequence[Iteration], tol: float
) -> None:
    """The :class:`ConvergenceWarning` of a solver that stopped before its criterion."""
    last = history[-1].relative_change if history else float("nan")
    warnings.warn(
        f"{solver} did not converge after {iteration} iterations ({message}); last relative "
        f"deviance change {last:.3g}, tolerance {tol:g}. Estimates are not reliable.",
        ConvergenceWarning,
        stacklevel=3,
    )


def is_converged(
    relative_change: float, decrement: float, deviance: float, tol: float, noise: float = 0.0
) -> bool:
    """The stopping rule of every Newton loop here (see :mod:`glmspec.solvers.irls`, step 4):
    relative deviance change below ``tol`` and Newton decrement below ``tol**2`` on the
    ``|deviance| + 0.1`` scale (or down to the rounding ``noise``)."""
    # The decrement bounds the squared size of the step in standard-error units, so tol**2
    # makes coefficients accurate to about tol standard errors, not sqrt(tol). ``noise`` is
    # the decrement that rounding errors alone produce at the optimum.
    scale = abs(deviance) + 0.1
    return relative_change < tol and (decrement / scale < tol * tol or decrement <= noise)
