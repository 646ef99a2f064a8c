"""Steps between informations (:mod:`glmspec.solvers.steering`): gradient-only passes steered
by an earlier point's information, a subsample's information for the first step, and the
information formed only where the convergence test can pass.

The test still runs at a point with its own information, so a steered fit must stop where
the plain exact-Newton loop stops: both return the optimum to rounding. Coefficients are
compared to ``1e-10`` of their standard errors (the returned points are an exact Newton step
past a point within ``tol`` standard errors of the optimum, so both are at the optimum to the
rounding of a design of condition number below 1e3, about 1e-13); the information at the
returned coefficients to ``1e-8`` (what :data:`~glmspec.solvers.steering.STALE_DECREMENT`
allows a step to move it by). The size thresholds are lowered so that small data take the
paths.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glmspec.solvers.engine as engine
import glmspec.solvers.irls as solver
from glmspec.families import get_family
from glmspec.linalg import GramFactor, weighted_gram
from glmspec.solvers.engine import InMemoryRows, working_quantities
from glmspec.solvers.irls import fit_irls, irls


def _data(family, link, *, n=20_000, p=8, rho=0.0, offset=True, weights=True, seed=0):
    rng = np.random.default_rng(seed)
    X = np.empty((n, p))
    X[:, 0] = 1.0
    X[:, 1] = rng.standard_normal(n)
    for j in range(2, p):  # AR(1) columns: rho = 0.9 gives a condition number near 1e2
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho * rho) * rng.standard_normal(n)
    X[:, 1:] /= np.sqrt(p)
    beta = rng.normal(0.0, 0.5, p)
    beta[0] = 0.3
    off = rng.uniform(-0.3, 0.3, n) if offset else np.zeros(n)
    prior = rng.uniform(0.5, 2.0, n) if weights else np.ones(n)
    fam = get_family(family, link)
    eta = X @ beta + off
    if family == "poisson":
        y = rng.poisson(np.exp(eta) if link in (None, "log") else np.clip(eta, 0.1, None) + 2)
    elif family == "binomial":
        y = (rng.random(n) < fam.link.inverse(eta)).astype(float)
    elif family == "gamma":
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
    else:
        y = rng.wald(np.exp(eta), 4.0)
    return np.asarray(y, dtype=float), X, fam, prior, off


def _rare(n=30_000, p=6, seed=3):
    """Logistic regression with about 1 % events."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1)) / np.sqrt(p)])
    beta = rng.normal(0.0, 0.5, p)
    beta[0] = -4.6
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ beta)))).astype(float)
    return y, X, get_family("binomial"), np.ones(n), np.zeros(n)


CASES = {
    "poisson": lambda: _data("poisson", None),
    "poisson, AR(1) 0.9, offset": lambda: _data("poisson", None, rho=0.9, seed=1),
    "poisson identity": lambda: _data("poisson", "identity", offset=False, seed=2),
    "logistic, weights": lambda: _data("binomial", None, seed=4),
    "logistic, AR(1) 0.9": lambda: _data("binomial", None, rho=0.9, weights=False, seed=5),
    "logistic, 1% events": _rare,
    "probit": lambda: _data("binomial", "probit", seed=6),
    "gamma log": lambda: _data("gamma", "log", seed=7),
    "gamma log, AR(1) 0.9": lambda: _data("gamma", "log", rho=0.9, seed=8),
    "inverse gaussian log": lambda: _data("inverse_gaussian", "log", weights=False, seed=9),
}


def _paths(monkeypatch, *, steer: bool, subsample: bool) -> None:
    monkeypatch.setattr(engine, "STEER_MIN_CELLS", 0 if steer else 10**18)
    monkeypatch.setattr(solver, "SUBSAMPLE_MIN_CELLS", 0 if subsample else 10**18)


def _fit(monkeypatch, data, *, steer: bool, subsample: bool, spy: list | None = None):
    y, X, fam, prior, offset = data
    _paths(monkeypatch, steer=steer, subsample=subsample)
    if spy is not None:
        gradient = InMemoryRows.gradient
        system = InMemoryRows.system

        def counted_gradient(self, point):
            spy.append(("gradient", len(self.y), point.coef))
            return gradient(self, point)

        def counted_system(self, point, kind, single=False):
            spy.append(("system", len(self.y), point.coef))
            return system(self, point, kind, single)

        monkeypatch.setattr(InMemoryRows, "gradient", counted_gradient)
        monkeypatch.setattr(InMemoryRows, "system", counted_system)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the steered paths must not leak warnings
        return fit_irls(y, X, fam, prior_weights=prior, offset=offset)


def _fisher(data, coef) -> np.ndarray:
    y, X, fam, prior, offset = data
    eta = X @ coef + offset
    weights, _ = working_quantities(fam, y, fam.link.inverse(eta), eta, prior)
    return weighted_gram(X, weights)


def _assert_covariance(actual, expected, rtol=1e-8):
    """Equal to ``rtol`` on the scale of the standard errors: ``|a_ij - e_ij|`` against
    ``se_i se_j`` (a small covariance of two coefficients is no more accurate than that)."""
    se = np.sqrt(np.diag(expected))
    assert np.all(np.abs(actual - expected) <= rtol * np.outer(se, se))


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return request.param, CASES[request.param]()


@pytest.mark.parametrize("subsample", [False, True], ids=["from the means", "subsample start"])
def test_steered_fit_gives_the_plain_newton_fit(monkeypatch, case, subsample):
    name, data = case
    plain = _fit(monkeypatch, data, steer=False, subsample=False)
    spy: list = []
    steered = _fit(monkeypatch, data, steer=True, subsample=subsample, spy=spy)
    assert plain.converged and steered.converged, name
    se = np.sqrt(np.diag(plain.factor.inverse()))
    np.testing.assert_allclose(steered.coef, plain.coef, rtol=1e-10, atol=1e-10 * se.min())
    np.testing.assert_allclose(steered.deviance, plain.deviance, rtol=1e-12)
    # the standard errors' information is the Fisher information at the returned estimates
    _assert_covariance(steered.factor.inverse(), np.linalg.inv(_fisher(data, steered.coef)))
    # n_iter counts every step on all the rows, steered or Newton; the history has them all
    assert steered.n_iter == len(steered.history)
    full = [(kind, coef) for kind, rows, coef in spy if rows == len(data[0])]
    assert any(kind == "gradient" for kind, _ in full), "no step was steered"


def test_steering_forms_fewer_informations_and_none_after_the_test(monkeypatch):
    """Poisson (canonical link): the information at the test point gives the standard errors,
    so no ``X'WX`` pass runs at the returned coefficients."""
    data = _data("poisson", None, n=40_000, seed=11)
    plain_spy: list = []
    _fit(monkeypatch, data, steer=False, subsample=True, spy=plain_spy)
    spy: list = []
    steered = _fit(monkeypatch, data, steer=True, subsample=True, spy=spy)
    n = len(data[0])
    passes = [coef for kind, rows, coef in spy if kind == "system" and rows == n]
    plain_passes = [coef for kind, rows, coef in plain_spy if kind == "system" and rows == n]
    assert len(passes) < len(plain_passes)
    assert not any(np.array_equal(coef, steered.coef) for coef in passes)
    assert steered.history[-1].decrement * 8 <= 1e-16 * (steered.deviance + 0.1)


def test_converged_false_at_the_iteration_limit_is_the_plain_loops(monkeypatch):
    """A steered step's decrement never passes the test: stopped after the first step (steered
    by the subsample's information), the fit has not converged, and its information is formed
    at the returned coefficients (not the subsample's)."""
    data = _data("poisson", None, seed=12)
    y, X, fam, prior, offset = data
    _paths(monkeypatch, steer=True, subsample=True)
    start, information = solver._subsample_start(y, X, fam, prior, offset, 1e-8)
    rows = InMemoryRows(y, X, fam, prior, offset)
    short = irls(rows, fam, start=start, information=information, max_iter=1, warn=False)
    assert not short.converged and short.n_iter == 1
    _assert_covariance(short.factor.inverse(), np.linalg.inv(_fisher(data, short.coef)), 1e-10)


@pytest.mark.parametrize("scale", [1e-3, 1e3, 1e-30], ids=["too long", "too short", "huge"])
def test_a_poor_steering_information_falls_back_to_newton(monkeypatch, scale):
    """An inherited information off by a factor: steps that overshoot are halved (then Newton
    takes over), steps that undershoot contract too little (Newton takes over), and a step
    that no halving makes acceptable is replaced by Newton's step from the same point."""
    data = _data("binomial", None, seed=13)
    y, X, fam, prior, offset = data
    _paths(monkeypatch, steer=True, subsample=False)
    plain = _fit(monkeypatch, data, steer=False, subsample=False)
    _paths(monkeypatch, steer=True, subsample=False)
    start = plain.coef + 0.05
    exact = np.linalg.cholesky(_fisher(data, start)).T
    rows = InMemoryRows(y, X, fam, prior, offset)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record = irls(
            rows, fam, start=start, information=GramFactor(exact * np.sqrt(scale), "subsample")
        )
    assert record.converged
    se = np.sqrt(np.diag(plain.factor.inverse()))
    np.testing.assert_allclose(record.coef, plain.coef, rtol=1e-10, atol=1e-10 * se.min())


def test_small_designs_and_dask_engines_do_not_steer():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((1000, 5))
    rows = InMemoryRows(np.ones(1000), X, get_family("poisson"), np.ones(1000), np.zeros(1000))
    assert not rows.steers  # 5e3 cells: an extra iteration costs more than a pass saves
    from glmspec.distributed.engine import DaskRows

    assert not DaskRows.steers  # its evaluation pass forms the information anyway
