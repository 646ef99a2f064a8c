"""The solver's fast paths for large designs: the subsample start
(``glmspec.solvers.irls._subsample_start``) and single-precision steps far from the optimum
(``glmspec.linalg.gram_and_product(single=True)``).

Neither changes the loop's criterion or the information at the estimates, so a fast fit must
equal the plain fit to rounding (1e-10), and a fast path that cannot help (a subsample that
fails, a single-precision information that is ill-conditioned or overflows) must fall back
silently. The size thresholds are lowered here so that small data take the paths.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glmspec.solvers.engine as irls_rows
import glmspec.solvers.irls as solver
from glmspec.errors import ConvergenceWarning
from glmspec.families import get_family
from glmspec.linalg import gram_and_product
from glmspec.solvers.irls import fit_irls

FAMILIES = [("poisson", None), ("binomial", None), ("gamma", "log"), ("binomial", "probit")]


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


def _fit(monkeypatch, *args, subsample: bool = False, single: bool = False, **kwargs):
    """``fit_irls`` with each fast path forced on or off, turning any warning into an error
    (the subsample's fit must not leak warnings)."""
    monkeypatch.setattr(solver, "SUBSAMPLE_MIN_CELLS", 0 if subsample else 10**18)
    monkeypatch.setattr(irls_rows, "SINGLE_MIN_CELLS", 0 if single else 10**18)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fit_irls(*args, **kwargs)


@pytest.mark.parametrize("family, link", FAMILIES)
def test_subsample_start_gives_the_plain_fit(monkeypatch, family, link):
    y, X, fam, prior, offset = _data(family, link)
    options = dict(prior_weights=prior, offset=offset)
    plain = _fit(monkeypatch, y, X, fam, **options)
    warm = _fit(monkeypatch, y, X, fam, **options, subsample=True)
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
    first = _fit(monkeypatch, y, X, fam, offset=offset, subsample=True)
    second = _fit(monkeypatch, y, X, fam, offset=offset, subsample=True)
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
    plain = _fit(monkeypatch, y, X, fam)
    warm = _fit(monkeypatch, y, X, fam, subsample=True)
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
    assert sample is not None and (X @ sample[0]).min() < 0  # invalid on the far row
    plain = _fit(monkeypatch, y, X, fam)
    warm = _fit(monkeypatch, y, X, fam, subsample=True)
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


# --------------------------------------------------------------------------------------------
# single-precision steps
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["C", "F"])
def test_single_precision_gram_is_close_and_the_product_exact(order):
    rng = np.random.default_rng(8)
    X = np.asarray(rng.standard_normal((5000, 12)), order=order)
    w, v = rng.uniform(-0.5, 2.0, 5000), rng.standard_normal(5000)
    gram, product = gram_and_product(X, w, v)
    rough, same_product = gram_and_product(X, w, v, single=True)
    assert rough.dtype == np.float64
    np.testing.assert_allclose(rough, gram, rtol=0, atol=1e-6 * np.abs(gram).max())
    np.testing.assert_array_equal(same_product, product)
    np.testing.assert_array_equal(rough, rough.T)


def test_single_precision_gram_of_huge_weights_does_not_overflow():
    """Weights of 1e200 (means from an offset of +460) exceed single precision's range; the
    blocks are scaled by the largest weight first."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((3000, 4))
    w = 1e200 * rng.uniform(0.5, 2.0, 3000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rough = gram_and_product(X, w, single=True)[0]
    exact = gram_and_product(X, w)[0]
    np.testing.assert_allclose(rough, exact, rtol=0, atol=1e-6 * np.abs(exact).max())


@pytest.mark.parametrize("family, link", FAMILIES)
def test_single_precision_steps_give_the_double_precision_fit(monkeypatch, family, link):
    y, X, fam, prior, offset = _data(family, link, seed=10)
    options = dict(prior_weights=prior, offset=offset)
    exact = _fit(monkeypatch, y, X, fam, **options)
    fast = _fit(monkeypatch, y, X, fam, **options, single=True)
    assert exact.converged and fast.converged
    se = np.sqrt(np.diag(exact.factor.inverse()))
    np.testing.assert_allclose(fast.coef, exact.coef, rtol=1e-10, atol=1e-10 * se.min())
    np.testing.assert_allclose(fast.deviance, exact.deviance, rtol=1e-12)
    # the information at the estimates is always double precision
    np.testing.assert_allclose(np.sqrt(np.diag(fast.factor.inverse())), se, rtol=1e-10)
    assert fast.n_iter <= exact.n_iter + 1


def _spy_systems(monkeypatch) -> list[tuple[str, bool]]:
    """Record the ``(kind, single)`` of every information the in-memory engine forms."""
    calls: list[tuple[str, bool]] = []
    system = irls_rows.InMemoryRows.system

    def spied(self, point, kind, single=False):
        calls.append((kind, single))
        return system(self, point, kind, single)

    monkeypatch.setattr(irls_rows.InMemoryRows, "system", spied)
    return calls


@pytest.mark.parametrize("family, link", [("gamma", "log"), ("binomial", "probit")])
def test_observed_information_is_always_single_precision(monkeypatch, family, link):
    """A non-canonical link's observed information only steers (the standard errors use the
    expected information), so even the step where the test passes forms it in single
    precision; the expected information at the estimates is formed once, in double."""
    y, X, fam, prior, offset = _data(family, link, seed=10)
    calls = _spy_systems(monkeypatch)
    fast = _fit(monkeypatch, y, X, fam, prior_weights=prior, offset=offset, single=True)
    assert fast.converged
    observed = [single for kind, single in calls if kind == "observed"]
    assert len(observed) >= 2 and all(observed)
    assert calls[-1] == ("fisher", False)
    assert [call for call in calls if not call[1]] == [("fisher", False)]


def test_ill_conditioned_observed_information_is_formed_again_in_double(monkeypatch):
    """Where the test may pass, a single-precision observed information refused for its
    condition number is formed again in double precision (not replaced by the expected one),
    and the fit equals the double-precision fit."""
    rng = np.random.default_rng(11)
    n = 4000
    x = rng.standard_normal(n)
    X = np.column_stack([np.ones(n), x, x + 1e-3 * rng.standard_normal(n)])
    y = rng.gamma(2.0, np.exp(0.2 + 0.3 * x) / 2.0)
    fam = get_family("gamma", "log")
    exact = _fit(monkeypatch, y, X, fam)
    calls = _spy_systems(monkeypatch)
    fast = _fit(monkeypatch, y, X, fam, single=True)
    assert fast.converged and ("observed", False) in calls
    se = np.sqrt(np.diag(exact.factor.inverse()))
    np.testing.assert_allclose(fast.coef, exact.coef, rtol=1e-10, atol=1e-10 * se.min())
    np.testing.assert_allclose(np.sqrt(np.diag(fast.factor.inverse())), se, rtol=1e-10)


def test_ill_conditioned_design_falls_back_to_double_precision(monkeypatch):
    """A condition number of ~1e6 puts the single-precision information's reciprocal condition
    number below 1e-4: its factor is refused and the step uses the double-precision one."""
    rng = np.random.default_rng(11)
    n = 4000
    x = rng.standard_normal(n)
    X = np.column_stack([np.ones(n), x, x + 1e-3 * rng.standard_normal(n)])
    y = rng.poisson(np.exp(0.2 + 0.3 * X[:, 1])).astype(float)
    fam = get_family("poisson")
    exact = _fit(monkeypatch, y, X, fam)
    fast = _fit(monkeypatch, y, X, fam, single=True)
    assert fast.converged and fast.n_iter == exact.n_iter
    np.testing.assert_allclose(fast.coef, exact.coef, rtol=1e-10)


def test_non_converged_fit_reports_double_precision_information(monkeypatch):
    y, X, fam, prior, offset = _data("poisson", None, seed=12)
    monkeypatch.setattr(irls_rows, "SINGLE_MIN_CELLS", 0)
    with pytest.warns(ConvergenceWarning):
        fast = fit_irls(y, X, fam, max_iter=1)
    monkeypatch.setattr(irls_rows, "SINGLE_MIN_CELLS", 10**18)
    with pytest.warns(ConvergenceWarning):
        exact = fit_irls(y, X, fam, max_iter=1)
    np.testing.assert_allclose(fast.coef, exact.coef, rtol=1e-4)  # one rough step apart
    # the factor is recomputed in double precision at the returned coefficients
    np.testing.assert_allclose(
        fast.factor.inverse(), _info_inverse(y, X, fam, fast.coef), rtol=1e-10
    )


def _info_inverse(y, X, fam, coef):
    mu = fam.link.inverse(X @ coef)
    weights = fam.link.mu_eta(X @ coef) ** 2 / fam.variance(mu)
    return np.linalg.inv(X.T @ (weights[:, None] * X))
