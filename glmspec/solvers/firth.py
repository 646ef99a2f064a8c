"""Bias-reduced (Firth) fits of logistic and Poisson log-linear models.

Firth (1993) maximises the penalized log-likelihood

    l*(b) = l(b) + 1/2 log det I(b),      I(b) = X' W(b) X,

whose score, for a canonical link, is the ordinary score plus ``1/2 sum_i h_i V'(mu_i) x_i``
(``h_i`` the diagonal of the hat matrix of the weighted fit; ``V'(mu) = 1 - 2 mu`` for the
binomial, 1 for the Poisson). Its maximiser is R's ``brglm2::brglmFit(type = "AS_mean")`` and,
for logistic regression, ``logistf``. The estimates are finite under separation.

The loop is the usual one for this problem (logistf's and brglm2's): a step ``I(b)^{-1} U*(b)``
(Fisher scoring on the modified score), halved until the penalized log-likelihood does not
fall; it stops when the step is below ``tol`` in standard-error units. Standard errors come
from ``I(b)^{-1}`` at the estimates, as both packages. The loop is
:func:`glmspec.solvers.newton.newton_loop` over a :class:`FirthProblem`.

What the results mean: ``deviance``, ``llf`` and ``aic`` are the *ordinary* (unpenalized)
quantities at the Firth estimates, as ``brglm2`` reports them; the penalized log-likelihood
is :func:`penalized_loglik` (``res.penalized_llf``), which ``logistf`` prints as its
log-likelihood. Likelihood-ratio tests between Firth fits are not the ML ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import linalg

from glmspec.errors import FitError, SpecificationError, suggest
from glmspec.families import Family
from glmspec.linalg import factorize
from glmspec.solvers.newton import FitRecord, NewtonProblem, Step, solve

_MAX_HALVINGS = 40


METHODS = ("ml", "firth")


def check_method_option(
    method: str, family: Family | None, *, dask: bool, penalty: str | None, cov_type: str
) -> None:
    """Validate ``fit(method=)``: ``"firth"`` needs binomial-logit or Poisson-log in memory,
    not penalized, with the model-based covariance (the sandwich of the ordinary score does
    not apply); ``family`` is None for the multinomial."""
    if method not in METHODS:
        raise SpecificationError(
            f"unknown method {method!r}; method must be 'ml' or 'firth'."
            f"{suggest(str(method), METHODS)}"
        )
    if method == "ml":
        return
    if penalty is not None or dask or cov_type != "nonrobust":
        raise SpecificationError(
            "method='firth' cannot be combined with penalty=, cov_type= or Dask data."
        )
    if family is None:
        raise SpecificationError("method='firth' is not available for the multinomial family.")
    check_firth_family(family)


def check_firth_family(family: Family) -> None:
    """Raise :class:`SpecificationError` unless the family is binomial-logit or Poisson-log."""
    if not family.supports_firth:
        raise SpecificationError(
            "method='firth' is available for the binomial family with the logit link and the "
            f"poisson family with the log link, not {family.name} with {family.link.name!r}."
        )


class _Point:
    """Everything at one coefficient vector."""

    def __init__(self, y, X, family: Family, prior, offset, coef) -> None:
        self.coef = coef
        self.eta = X @ coef + offset
        self.mu = family.link.inverse(self.eta)
        self.weights = prior * family.variance(self.mu)  # canonical link: mu_eta = V(mu)
        root = np.sqrt(self.weights)
        self.chol = linalg.cho_factor(X.T @ (X * self.weights[:, None]), lower=False)
        a = linalg.solve_triangular(self.chol[0], (X * root[:, None]).T, trans="T")
        hat = np.sum(a * a, axis=0)
        # canonical link: d log W / d eta = V'(mu)
        adjusted = prior * (y - self.mu) + 0.5 * hat * family.variance_deriv(self.mu)
        self.score = X.T @ adjusted
        self.deviance = float(family.deviance(y, self.mu, prior))
        self.logdet = 2.0 * float(np.sum(np.log(np.diag(self.chol[0]))))
        #: -2 l* up to a constant: the penalized deviance to minimise
        self.objective = self.deviance - self.logdet


def fit_firth(
    y: np.ndarray,
    X: np.ndarray,
    family: Family,
    *,
    prior_weights: np.ndarray,
    offset: np.ndarray,
    max_iter: int = 100,
    tol: float = 1e-8,
    column_names: Sequence[str] | None = None,
) -> FitRecord:
    """Maximise Firth's penalized likelihood; a :class:`~glmspec.solver.FitRecord`.

    Parameters
    ----------
    y, X, family, prior_weights, offset, max_iter, tol, column_names
        As :func:`glmspec.solver.fit_irls` (binomial-logit or Poisson-log only).

    Returns
    -------
    FitRecord
        ``deviance`` is the ordinary deviance at the estimates; ``factor`` the Fisher
        information there; ``history`` holds the penalized deviance ``-2 l*`` (up to a
        constant) per step.
    """
    check_firth_family(family)
    X = np.ascontiguousarray(np.asarray(X, dtype=float))
    y, prior = np.asarray(y, dtype=float), np.asarray(prior_weights, dtype=float)
    offset = np.asarray(offset, dtype=float)
    # Full rank first, naming aliased columns as every other fit does.
    factorize(X, np.where(prior > 0, 1.0, 0.0), column_names)
    problem = FirthProblem(y, X, family, prior, offset)
    point = _Point(y, X, family, prior, offset, _start(y, X, family, prior, offset))
    outcome = solve(problem, point, max_iter=max_iter, tol=tol, name="Firth fit")
    point = outcome.point
    return FitRecord(
        coef=point.coef,
        eta=point.eta,
        mu=point.mu,
        deviance=point.deviance,
        factor=factorize(X, point.weights, column_names),
        working_weights=point.weights,
        converged=outcome.converged,
        n_iter=outcome.n_iter,
        history=outcome.history,
        message=outcome.message,
    )


class FirthProblem(NewtonProblem):
    """Firth's fit as a :class:`~glmspec.solvers.newton.NewtonProblem`: the objective is the
    penalized deviance ``-2 l*``, the step ``I(b)^{-1} U*(b)``; it converges when the step's
    decrement ``U*' I^{-1} U*`` is below ``tol**2`` (logistf's and brglm2's test on the step
    in standard-error units). Its last step, from the converged point, is taken only whole.
    """

    max_halvings = _MAX_HALVINGS
    final_halvings = 0

    def __init__(self, y, X, family: Family, prior, offset) -> None:
        self.y, self.X, self.family, self.prior, self.offset = y, X, family, prior, offset

    def objective(self, point: _Point) -> float:
        return point.objective

    def newton_step(self, point: _Point, change: float) -> Step:
        step = linalg.cho_solve(point.chol, point.score)
        return Step(step, float(point.score @ step))

    def trial(self, point: _Point, coef: np.ndarray, halvings: int) -> _Point | None:
        return _try(self.y, self.X, self.family, self.prior, self.offset, coef)

    def slack(self, point: _Point) -> float:
        return _noise(point)

    def check_convergence(self, point: _Point, step: Step, change: float, tol: float) -> bool:
        return step.decrement < tol * tol

    def no_step(self, point: _Point, step: Step, converged: bool) -> tuple[_Point, bool, str]:
        if converged:
            return point, True, "converged"
        return point, False, "step halving could not increase the penalized log-likelihood"


def _noise(point: _Point) -> float:
    """Rounding in the penalized deviance: a step may not lower it by less than this."""
    return 1e-13 * (abs(point.deviance) + abs(point.logdet) + 1.0)


def _try(y, X, family, prior, offset, coef) -> _Point | None:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            point = _Point(y, X, family, prior, offset, coef)
        except (linalg.LinAlgError, ValueError):
            return None
    return point if np.isfinite(point.objective) else None


def _start(y, X, family: Family, prior, offset) -> np.ndarray:
    """Weighted least squares of the link of smoothed responses (finite under separation)."""
    z = family.link.link(family.firth_start_mu(y, prior)) - offset
    root = np.sqrt(np.where(prior > 0, 1.0, 0.0))
    coef, *_ = np.linalg.lstsq(X * root[:, None], z * root, rcond=None)
    point = _try(y, X, family, prior, offset, coef)
    if point is None:
        raise FitError("no valid starting coefficients for the Firth fit.")
    return coef


def penalized_loglik(llf: float, X: np.ndarray, working_weights: np.ndarray) -> float:
    """Firth's penalized log-likelihood ``llf + 1/2 log det(X' W X)`` (logistf's loglik)."""
    X = np.asarray(X, dtype=float)
    sign, logdet = np.linalg.slogdet(X.T @ (X * working_weights[:, None]))
    return float(llf + 0.5 * logdet) if sign > 0 else float("nan")
