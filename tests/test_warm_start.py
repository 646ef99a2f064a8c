"""The subsample start of large fits (``glmspec.solver._subsample_start``).

The loop and its criterion do not change, so a fit started from a subsample's estimates must
equal the fit started from the family's means to rounding, and any failure of the subsample
must fall back to the plain start silently. The size threshold is lowered here so that small
data take the path.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glmspec.solver as solver
from glmspec.families import get_family
from glmspec.solver import fit_irls


def _data(family: str, link: str | None, n: int = 4000, p: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1)) / np.sqrt(p)])
    beta = rng.normal(0.0, 0.5, p)
    beta[0] = 0.3
    offset = rng.uniform(-0.2, 0.2, n)
    eta = X @ beta + offset
    fam = get_family(family, link)
    prior = rng.uniform(0.5, 2.0, n)
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "binomial":
        trials = rng.integers(1, 6, n)
        y = rng.binomial(trials, 1.0 / (1.0 + np.exp(-eta))) / trials
        prior = trials.astype(float)
    else:
        mu = np.exp(eta)
        y = rng.gamma(2.0, mu / 2.0)
    return y, X, fam, prior, offset


def _fit(monkeypatch, min_cells: int, *args, **kwargs):
    monkeypatch.setattr(solver, "SUBSAMPLE_MIN_CELLS", min_cells)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the subsample's fit must not leak warnings
        return fit_irls(*args, **kwargs)


@pytest.mark.parametrize(
    "family, link",
    [("poisson", None), ("binomial", None), ("gamma", "log"), ("binomial", "probit")],
)
def test_subsample_start_gives_the_plain_fit(monkeypatch, family, link):
    y, X, fam, prior, offset = _data(family, link)
    options = dict(prior_weights=prior, offset=offset)
    plain = _fit(monkeypatch, 10**18, y, X, fam, **options)
    warm = _fit(monkeypatch, 0, y, X, fam, **options)
    assert plain.converged and warm.converged
    sample = solver._subsample_start(y, X, fam, prior, offset, 1e-8)
    assert sample is not None  # the path under test was taken
    assert warm.n_iter <= plain.n_iter
    se = np.sqrt(np.diag(plain.factor.inverse()))
    np.testing.assert_allclose(warm.coef, plain.coef, rtol=1e-10, atol=1e-10 * se.min())
    np.testing.assert_allclose(warm.deviance, plain.deviance, rtol=1e-12)
    np.testing.assert_allclose(
        np.sqrt(np.diag(warm.factor.inverse())), se, rtol=1e-8
    )  # information at the returned coefficients either way
    np.testing.assert_allclose(warm.mu, plain.mu, rtol=1e-10)


def test_subsample_start_is_reproducible(monkeypatch):
    y, X, fam, prior, offset = _data("poisson", None, seed=3)
    first = _fit(monkeypatch, 0, y, X, fam, offset=offset)
    second = _fit(monkeypatch, 0, y, X, fam, offset=offset)
    np.testing.assert_array_equal(first.coef, second.coef)
    assert first.n_iter == second.n_iter


def test_rare_events_fall_back_to_the_plain_start(monkeypatch):
    """Five events in 6000 rows: the subsample (120 rows) has none or separates, so its fit
    fails or does not converge, and the full fit starts from the means as R's does."""
    rng = np.random.default_rng(4)
    n = 6000
    X = np.column_stack([np.ones(n), rng.standard_normal(n)])
    y = np.zeros(n)
    y[rng.choice(n, 5, replace=False)] = 1.0
    fam = get_family("binomial")
    monkeypatch.setattr(solver, "SUBSAMPLE_MIN_CELLS", 0)
    sample = solver._subsample_start(y, X, fam, np.ones(n), np.zeros(n), 1e-8)
    plain = _fit(monkeypatch, 10**18, y, X, fam)
    warm = _fit(monkeypatch, 0, y, X, fam)
    assert warm.converged
    np.testing.assert_allclose(warm.coef, plain.coef, rtol=1e-10)
    if sample is None:  # the plain start was used: the same iterations exactly
        assert warm.n_iter == plain.n_iter


def test_warm_start_that_leaves_the_domain_falls_back(monkeypatch):
    """Poisson identity: a subsample's estimates can give a negative mean on other rows;
    the fit must then start from the means rather than raise."""
    rng = np.random.default_rng(2)
    n = 3000
    x = rng.uniform(0.0, 1.0, n)
    x[0] = 60.0  # one far row, outside the subsample
    X = np.column_stack([np.ones(n), x])
    y = rng.poisson(10.0 - 0.1 * x).astype(float)
    fam = get_family("poisson", "identity")
    monkeypatch.setattr(solver, "SUBSAMPLE_MIN_CELLS", 0)
    sample = solver._subsample_start(y, X, fam, np.ones(n), np.zeros(n), 1e-8)
    assert sample is not None and (X @ sample).min() < 0  # invalid on the far row
    plain = _fit(monkeypatch, 10**18, y, X, fam)
    warm = _fit(monkeypatch, 0, y, X, fam)
    assert warm.converged and warm.n_iter == plain.n_iter
    np.testing.assert_array_equal(warm.coef, plain.coef)


def test_when_the_subsample_start_is_not_used():
    rng = np.random.default_rng(7)
    n, p = 100_000, 30
    X = rng.standard_normal((n, p))
    y = rng.poisson(1.0, n).astype(float)
    ones, zeros = np.ones(n), np.zeros(n)
    # large enough (3e6 cells) for a Poisson fit ...
    assert solver._subsample_start(y, X, get_family("poisson"), ones, zeros, 1e-8) is not None
    # ... but the Gaussian identity's first step is already exact
    gaussian = get_family("gaussian")
    assert solver._subsample_start(y, X, gaussian, ones, zeros, 1e-8) is None
    # and small data do not pay for it
    small = X[:10_000]
    assert (
        solver._subsample_start(y[:10_000], small, get_family("poisson"), ones, zeros, 1e-8) is None
    )
