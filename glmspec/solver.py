"""Maximum-likelihood fitting of a GLM by IRLS (Fisher scoring), on arrays only.

The loop follows R's ``glm.fit``, in named steps:

1. :func:`working_quantities` -- IRLS weights ``w = prior * mu_eta^2 / V(mu)`` and the score
   factor at the current linear predictor;
2. a Newton (Fisher-scoring) step ``delta = (X'WX)^{-1} X' (prior * score)``, factorised by
   :func:`glmspec.linalg.factorize` (Cholesky, or QR when ill-conditioned);
3. :func:`_line_search` -- step halving while the linear predictor leaves the link's domain, the
   mean leaves the family's, or the deviance rises;
4. :func:`_converged` -- the relative change of the deviance is below ``tol`` (R's criterion,
   relative to ``|deviance| + 0.1``) *and* the gradient is negligible: the Newton decrement
   ``g' (X'WX)^{-1} g`` (the predicted further decrease of the deviance, and a bound on the
   squared step in standard-error units) is below ``tol**2`` on the same scale.
   ``converged=True`` means exactly that. The step computed at the converged point is still
   taken, so the returned coefficients are one Newton step better than the test requires.

The solver knows nothing of formulas, pandas or reports: arrays in, a frozen :class:`FitRecord`
out, with the whole iteration history.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glmspec.catmatrix import constant_columns
from glmspec.errors import ConvergenceWarning, FitError
from glmspec.families import Family
from glmspec.linalg import (
    GramFactor,
    abs_matvec,
    factor_gram,
    factorize,
    gram_and_product,
    squares_matvec,
)

MAX_HALVINGS = 30
_EPS = np.finfo(float).eps
_STALE_DECREMENT = 1e-16


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
        Number of IRLS iterations (factorisations of ``X'WX``).
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


def working_quantities(
    family: Family, y: np.ndarray, mu: np.ndarray, eta: np.ndarray, prior: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return IRLS (expected-information) weights and the per-row score.

    The weights are ``prior * mu_eta^2 / V(mu)`` and the score
    ``prior * (y - mu) * mu_eta / V(mu)``, so that the gradient of the log-likelihood (at
    dispersion 1) is ``X' score`` and the Fisher information ``X' diag(weights) X``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mu_eta = family.link.mu_eta(eta)
        # mu_eta * (mu_eta / V) rather than mu_eta**2 / V: no overflow for means near 1e308
        ratio = mu_eta / family.variance(mu)
        weights = prior * (mu_eta * ratio)
        score = prior * (y - mu) * ratio
    if not prior.all():
        # rows with zero prior weight take no part, even where their mean overflowed
        weights[prior == 0] = 0.0
        score[prior == 0] = 0.0
    return weights, score


def observed_weights(
    family: Family,
    y: np.ndarray,
    mu: np.ndarray,
    eta: np.ndarray,
    fisher: np.ndarray,
    prior: np.ndarray,
) -> np.ndarray:
    """Weights of the observed information ``-d^2 llf / d beta^2 = X' diag(w) X``.

    ``w = fisher - prior * (y - mu) * d/deta[mu_eta / V(mu)]``; the correction vanishes for
    canonical links. The weights can be negative far from the optimum.
    """
    mu_eta = family.link.mu_eta(eta)
    variance = family.variance(mu)
    slope = family.link.mu_eta_deriv(eta) / variance - mu_eta * mu_eta * family.variance_deriv(
        mu
    ) / (variance * variance)
    return fisher - prior * (y - mu) * slope


def _evaluate(family, y, X, coef, offset, prior):
    """Linear predictor, mean and deviance at ``coef``; None when outside the valid range."""
    with np.errstate(all="ignore"):
        eta = X @ coef + offset
        mu = family.link.inverse(eta)
    # rows with zero prior weight do not count, whatever their linear predictor (R drops them)
    used = slice(None) if prior.all() else prior > 0
    if not family.link.valid_eta(eta[used]):
        return None
    with np.errstate(all="ignore"):
        if not family.valid_mu(mu[used]):
            return None
        deviance = family.deviance(y[used], mu[used], prior[used])
    if not np.isfinite(deviance):
        return None
    return eta, mu, deviance


def _line_search(family, y, X, coef, delta, offset, prior, deviance_old):
    """Halve ``delta`` until the new point is valid and (if ``coef`` is given) not worse."""
    base = np.zeros_like(delta) if coef is None else coef
    for halvings in range(MAX_HALVINGS + 1):
        candidate = base + delta
        state = _evaluate(family, y, X, candidate, offset, prior)
        if state is not None:
            rises = coef is not None and state[2] > deviance_old + 1e-12 * abs(deviance_old)
            if not rises:
                return candidate, state, halvings
        if coef is None and state is None:
            break
        delta = 0.5 * delta
    return None


def _newton_factor(family, y, X, mu, eta, fisher, prior, score, column_names):
    """Factor of the observed information when positive definite, else of the expected one.

    Returns the factor, whether it is the observed information, and the gradient ``X' score``
    (computed in the same pass over the design as the information). Newton steps with the
    observed information converge quadratically for non-canonical links, where Fisher
    scoring converges only linearly.
    """
    if not family.is_canonical:
        weights = observed_weights(family, y, mu, eta, fisher, prior)
        gram, gradient = gram_and_product(X, weights, score)
        observed = factor_gram(gram)
        if observed is not None:
            return observed, True, gradient
    gram, gradient = gram_and_product(X, fisher, score)
    return factorize(X, fisher, column_names, gram=gram), False, gradient


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


def _intercept_start(family, y, X, offset, prior):
    """Intercept-only coefficients at the weighted mean response, if X has a column of ones."""
    ones = constant_columns(X)
    if not ones:
        return None
    coef = np.zeros(X.shape[1])
    with np.errstate(all="ignore"):
        coef[ones[0]] = family.link.link(np.average(y, weights=prior))
    state = _evaluate(family, y, X, coef, offset, prior)
    return None if state is None else (coef, state)


def _converged(
    relative_change: float, decrement: float, deviance: float, tol: float, noise: float = 0.0
) -> bool:
    # The decrement bounds the squared size of the step in standard-error units, so tol**2
    # makes coefficients accurate to about tol standard errors, not sqrt(tol). ``noise`` is
    # the decrement that rounding errors alone produce at the optimum.
    scale = abs(deviance) + 0.1
    return relative_change < tol and (decrement / scale < tol * tol or decrement <= noise)


def decrement_noise(family, X, y, mu, eta, coef, prior, factor: GramFactor) -> float:
    """The Newton decrement that rounding errors in the gradient produce at the optimum.

    Each row's score ``prior * (y - mu) * mu_eta / V`` carries an error from rounding ``y - mu``
    (about ``eps * (|y| + |mu|)``) and from the linear predictor itself, whose error
    ``eps * |x_i| . |coef|`` is large when nearly collinear columns cancel; it moves the score
    by the IRLS weight times that error. Taken as independent across rows, these give the
    gradient an error of variance ``(X * X)' row_error**2`` per coefficient and the decrement an
    expected floor ``sum_j var_j [(X'WX)^{-1}]_jj``; the factor 10 (about three standard
    deviations) makes it a floor that rounding alone seldom exceeds. For ill-conditioned
    designs (condition numbers of 1e8 and beyond) it exceeds the ``tol**2`` test, which
    rounding could then never pass.
    """
    mu_eta = np.abs(family.link.mu_eta(eta))
    variance = family.variance(mu)
    eta_error = _EPS * (abs_matvec(X, np.abs(coef)) + np.abs(eta))
    row_error = prior * mu_eta / variance * (_EPS * (np.abs(y) + np.abs(mu)) + mu_eta * eta_error)
    # scaled by the largest error so that squares of huge means (1e174) do not overflow
    top = float(np.max(row_error)) if row_error.size else 0.0
    if not np.isfinite(top) or top == 0.0:
        return 0.0 if top == 0.0 else float("inf")
    gradient_variance = squares_matvec(X, (row_error / top) ** 2)
    return 10.0 * top * (top * float(np.sum(gradient_variance * factor.inverse_diagonal())))


def fit_irls(
    y: np.ndarray,
    X: np.ndarray,
    family: Family,
    *,
    prior_weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-8,
    start: np.ndarray | None = None,
    column_names: Sequence[str] | None = None,
) -> FitRecord:
    """Fit a GLM by iteratively reweighted least squares.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Response (for the binomial: the proportion of successes).
    X : ndarray of shape (n, p)
        Design matrix of full column rank.
    family : Family
        Distribution with its link.
    prior_weights : ndarray of shape (n,), optional
        R's prior weights (binomial: times the number of trials). Default ones.
    offset : ndarray of shape (n,), optional
        Added to the linear predictor. Default zeros.
    max_iter : int
        Maximum number of IRLS iterations.
    tol : float
        Convergence tolerance on the relative deviance change and the Newton decrement.
    start : ndarray of shape (p,), optional
        Starting coefficients; default starts from the family's starting means, as R.
    column_names : sequence of str, optional
        Used only to name aliased columns in a :class:`SingularDesignError`.

    Returns
    -------
    FitRecord

    Raises
    ------
    SingularDesignError
        The weighted design is rank deficient.
    FitError
        No valid coefficients could be found from the starting values.
    """
    n, p = X.shape
    prior = np.ones(n) if prior_weights is None else np.asarray(prior_weights, dtype=float)
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    y = np.asarray(y, dtype=float)

    coef: np.ndarray | None = None
    if start is not None:
        coef = np.asarray(start, dtype=float)
        state = _evaluate(family, y, X, coef, offset, prior)
        if state is None:
            raise FitError("the starting coefficients give an invalid linear predictor or mean.")
        eta, mu, deviance = state
    else:
        mu = family.starting_mu(y, prior)
        eta = family.link.link(mu)
        with np.errstate(all="ignore"):
            deviance = family.deviance(y, mu, prior)

    history: list[Iteration] = []
    relative_change = np.inf
    converged = False
    message = f"stopped after max_iter={max_iter} iterations"
    factor = None
    weights = None
    observed = stale = False
    for iteration in range(1, max_iter + 1):
        weights, score = working_quantities(family, y, mu, eta, prior)
        if coef is None:
            factor = factorize(X, weights, column_names)
            # First step from starting means: regress the working response, as glm.fit does.
            working = eta - offset + score / np.where(weights > 0, weights, 1.0)
            delta = factor.solve(X.T @ (weights * working))
            decrement = np.inf
        else:
            factor, observed, gradient = _newton_factor(
                family, y, X, mu, eta, weights, prior, score, column_names
            )
            delta = factor.solve(gradient)
            decrement = float(gradient @ delta)
            noise = 0.0
            if relative_change < tol and decrement / (abs(deviance) + 0.1) >= tol * tol:
                noise = decrement_noise(family, X, y, mu, eta, coef, prior, factor)
            if _converged(relative_change, decrement, deviance, tol, noise):
                converged = True
                message = "converged"
                final = _line_search(family, y, X, coef, delta, offset, prior, deviance)
                if final is not None:
                    # The step moves the information by about sqrt(p * decrement / deviance)
                    # relative; refactor it at the returned coefficients when that exceeds 1e-8.
                    stale = decrement * X.shape[1] > _STALE_DECREMENT * (abs(deviance) + 0.1)
                    coef, (eta, mu, deviance), _ = final
                break
        step = _line_search(family, y, X, coef, delta, offset, prior, deviance)
        if step is None and coef is None:
            # R gives up here; instead walk from the intercept-only fit towards the first step.
            fallback = _intercept_start(family, y, X, offset, prior)
            if fallback is not None:
                coef, (eta, mu, deviance) = fallback
                step = _line_search(family, y, X, coef, delta - coef, offset, prior, deviance)
        if step is None:
            if coef is None:
                raise FitError(
                    "no valid coefficients were found from the starting values (the linear "
                    f"predictor left the {family.link.name} link's domain); give start=."
                )
            if decrement <= decrement_noise(family, X, y, mu, eta, coef, prior, factor):
                # the gradient is zero up to rounding: the step is noise, we are at the optimum
                converged, message = True, "converged (the remaining step is rounding noise)"
            else:
                message = (
                    "step halving could not decrease the deviance; the maximum may lie on the "
                    "boundary of the valid region (a fitted mean at the edge of the family's range)"
                )
            break
        coef, (eta, mu, new_deviance), halvings = step
        relative_change = abs(new_deviance - deviance) / (abs(new_deviance) + 0.1)
        deviance = new_deviance
        history.append(Iteration(iteration, deviance, relative_change, decrement, halvings))
    else:
        iteration = max_iter

    if observed or stale:
        # Standard errors use the expected information at the returned coefficients, as R's
        # summary.glm and statsmodels.
        weights, _ = working_quantities(family, y, mu, eta, prior)
        factor = factorize(X, weights, column_names)
    if not converged:
        warn_not_converged("IRLS", iteration, message, history, tol)
    return FitRecord(
        coef=coef,
        eta=eta,
        mu=mu,
        deviance=float(deviance),
        factor=factor,
        working_weights=weights,
        converged=converged,
        n_iter=iteration,
        history=tuple(history),
        message=message,
    )
