"""Tests of the multinomial logit solver :mod:`glmspec.solvers.multinomial`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from glmspec.errors import (
    ConvergenceWarning,
    GLMSpecWarning,
    ResponseError,
    SeparationWarning,
    SingularDesignError,
)
from glmspec.families import get_family
from glmspec.solvers import multinomial_factor, multinomial_rows
from glmspec.solvers.irls import fit_irls
from glmspec.solvers.multinomial import covariance, fit_multinomial, log_softmax, loglik_derivatives

pytestmark = pytest.mark.filterwarnings("error::glmspec.errors.GLMSpecWarning")


def _sm_fit(codes, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.MNLogit(codes, X).fit(method="newton", tol=1e-12, maxiter=500, disp=0)


def _simulate(coef, X, rng):
    """Draw classes from the multinomial logit model with ``coef`` of shape (p, K-1)."""
    eta = np.column_stack([np.zeros(len(X)), X @ coef])
    probs = np.exp(log_softmax(eta))
    return (rng.random(len(X))[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)


def _se(record):
    k1 = record.coef.shape[1]
    return np.sqrt(np.diag(covariance(record))).reshape(k1, -1).T


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(20240517)
    n = 20000
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(-2, 2, size=n)])
    truth = np.array([[0.3, -0.5, 0.8], [1.0, -0.7, 0.2], [-0.4, 0.6, 1.2]])
    return _simulate(truth, X, rng), X, truth


def test_anes96_matches_statsmodels(anes_arrays):
    codes, X, names = anes_arrays
    record = fit_multinomial(codes, 7, X, column_names=names)
    reference = _sm_fit(codes, X)
    assert record.converged and record.method == "newton"
    assert record.coef.shape == (6, 6) and record.probs.shape == (len(codes), 7)
    np.testing.assert_allclose(record.coef, reference.params, rtol=1e-9)
    np.testing.assert_allclose(_se(record), reference.bse, rtol=1e-9)
    np.testing.assert_allclose(covariance(record), reference.cov_params(), rtol=1e-7, atol=1e-14)
    np.testing.assert_allclose(record.probs, reference.predict(), rtol=1e-9)
    assert record.loglik == pytest.approx(reference.llf, rel=1e-12)
    assert record.deviance == pytest.approx(-2 * reference.llf, rel=1e-12)


def test_anes96_gradient_zero_at_optimum(anes_arrays):
    codes, X, _ = anes_arrays
    record = fit_multinomial(codes, 7, X)
    loglik, gradient, info, probs = loglik_derivatives(codes, 7, X, record.coef.T.ravel())
    assert loglik == record.loglik
    np.testing.assert_array_equal(probs, record.probs)
    # Newton decrement: squared gradient in standard-error units.
    assert gradient @ np.linalg.solve(info, gradient) < 1e-12
    assert np.max(np.abs(gradient) / np.sqrt(np.diag(info))) < 1e-7
    np.testing.assert_allclose(record.information.inverse(), np.linalg.inv(info), rtol=1e-8)


def test_synthetic_recovers_truth(synthetic):
    codes, X, truth = synthetic
    record = fit_multinomial(codes, 4, X)
    assert record.converged
    assert np.all(np.abs(record.coef - truth) < 4 * _se(record))
    reference = _sm_fit(codes, X)
    np.testing.assert_allclose(record.coef, reference.params, rtol=1e-9)
    np.testing.assert_allclose(_se(record), reference.bse, rtol=1e-9)
    assert record.loglik == pytest.approx(reference.llf, rel=1e-12)


def test_two_classes_equal_binomial_irls(synthetic):
    codes, X, _ = synthetic
    keep = codes < 2
    y, Xb = codes[keep], X[keep]
    record = fit_multinomial(y, 2, Xb)
    binomial = fit_irls(y.astype(float), Xb, get_family("binomial"))
    np.testing.assert_allclose(record.coef[:, 0], binomial.coef, rtol=1e-8)
    binomial_se = np.sqrt(np.diag(binomial.factor.inverse()))
    np.testing.assert_allclose(_se(record)[:, 0], binomial_se, rtol=1e-8)
    assert record.deviance == pytest.approx(binomial.deviance, rel=1e-10)


def test_derivatives_match_finite_differences():
    rng = np.random.default_rng(3)
    n, K = 60, 3
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    codes = rng.integers(0, K, size=n)
    kw = {"prior_weights": rng.uniform(0.5, 2.0, size=n), "offset": rng.normal(size=n)}
    theta = rng.normal(scale=0.5, size=(K - 1) * 3)
    _, gradient, info, _ = loglik_derivatives(codes, K, X, theta, **kw)
    h = 1e-6
    eye = np.eye(theta.size)

    def loglik(t):
        return loglik_derivatives(codes, K, X, t, **kw)[0]

    def grad(t):
        return loglik_derivatives(codes, K, X, t, **kw)[1]

    fd_gradient = np.array([(loglik(theta + h * e) - loglik(theta - h * e)) / (2 * h) for e in eye])
    fd_hessian = np.array([(grad(theta + h * e) - grad(theta - h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(gradient, fd_gradient, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(-info, fd_hessian, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(info, info.T)


def test_log_softmax_extreme_linear_predictors():
    eta = np.array([[0.0, 1e4, -1e4], [0.0, -1e4, -1e4], [0.0, 1e4, 1e4]])
    logp = log_softmax(eta)
    expected = np.array(
        [[-1e4, 0.0, -2e4], [-np.log1p(2 * np.exp(-1e4)), -1e4, -1e4], [-1e4 - np.log(2)] * 3]
    )
    expected[2, 1:] = -np.log(2)
    assert np.all(np.isfinite(logp))
    np.testing.assert_allclose(logp, expected, rtol=1e-15, atol=0)
    # Through the solver's derivatives: a design whose linear predictors are +-1e4.
    X = np.array([[1.0], [-1.0], [1.0]])
    loglik, gradient, info, probs = loglik_derivatives(
        np.array([1, 0, 2]), 3, X, np.array([1e4, -1e4])
    )
    assert np.isfinite(loglik) and loglik == pytest.approx(-3e4)
    assert np.all(np.isfinite(gradient)) and np.all(np.isfinite(info))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_zero_weights_equal_dropped_rows(anes_arrays):
    codes, X, _ = anes_arrays
    weights = np.ones(len(codes))
    weights[::5] = 0.0
    keep = weights > 0
    weighted = fit_multinomial(codes, 7, X, prior_weights=weights)
    dropped = fit_multinomial(codes[keep], 7, X[keep])
    np.testing.assert_allclose(weighted.coef, dropped.coef, rtol=1e-10)
    np.testing.assert_allclose(covariance(weighted), covariance(dropped), rtol=1e-9)
    assert weighted.loglik == pytest.approx(dropped.loglik, rel=1e-13)
    np.testing.assert_allclose(weighted.probs[keep], dropped.probs, rtol=1e-10)


def test_frequency_weights_equal_repeated_rows(anes_arrays):
    codes, X, _ = anes_arrays
    weights = np.arange(len(codes)) % 3 + 1.0
    repeat = np.repeat(np.arange(len(codes)), weights.astype(int))
    weighted = fit_multinomial(codes, 7, X, prior_weights=weights)
    repeated = fit_multinomial(codes[repeat], 7, X[repeat])
    np.testing.assert_allclose(weighted.coef, repeated.coef, rtol=1e-9)
    np.testing.assert_allclose(covariance(weighted), covariance(repeated), rtol=1e-8)


def test_offset_shifts_the_coefficient_of_its_column(anes_arrays):
    codes, X, _ = anes_arrays
    plain = fit_multinomial(codes, 7, X)
    shifted = fit_multinomial(codes, 7, X, offset=0.7 * X[:, 2])
    expected = plain.coef.copy()
    expected[2] -= 0.7
    np.testing.assert_allclose(shifted.coef, expected, rtol=1e-9, atol=1e-12)
    assert shifted.loglik == pytest.approx(plain.loglik, rel=1e-12)


def test_rank_deficient_design_names_the_column(anes_arrays):
    codes, X, names = anes_arrays
    aliased = np.column_stack([X, X[:, 2] - 2 * X[:, 3]])
    with pytest.raises(SingularDesignError, match="selfLR_minus_2age"):
        fit_multinomial(codes, 7, aliased, column_names=[*names, "selfLR_minus_2age"])


def test_max_iter_one_does_not_converge(anes_arrays):
    codes, X, _ = anes_arrays
    with pytest.warns(ConvergenceWarning, match="after 1 iterations"):
        record = fit_multinomial(codes, 7, X, max_iter=1)
    assert not record.converged and record.n_iter == 1 and len(record.history) == 1


def test_ill_conditioned_design_uses_qr_and_matches_statsmodels():
    rng = np.random.default_rng(5)
    n, eps = 400, 1e-5
    x, z = rng.normal(size=n), rng.normal(size=n)
    well = np.column_stack([np.ones(n), x, z])
    codes = _simulate(np.array([[0.5, -0.3], [1.0, 0.0], [0.0, 0.5]]), well, rng)
    ill = np.column_stack([np.ones(n), x, x + eps * z])  # = well @ inv(A)
    record = fit_multinomial(codes, 3, ill)
    assert record.converged and record.information.method == "qr"
    reference = _sm_fit(codes, well)
    A = np.array([[1.0, 0, 0], [0, 1, -1 / eps], [0, 0, 1 / eps]])  # coef_ill = A @ coef_well
    np.testing.assert_allclose(record.coef, A @ reference.params, rtol=1e-7)
    big_a = np.kron(np.eye(2), A)
    expected_cov = big_a @ reference.cov_params() @ big_a.T
    np.testing.assert_allclose(np.diag(covariance(record)), np.diag(expected_cov), rtol=1e-7)
    assert record.loglik == pytest.approx(reference.llf, rel=1e-12)


def test_lbfgs_fallback(synthetic, monkeypatch):
    codes, X, _ = synthetic
    codes, X = codes[:3000], X[:3000]
    monkeypatch.setattr(multinomial_factor, "factor_gram", lambda gram: None)
    monkeypatch.setattr(multinomial_rows, "_QR_MAX_VALUES", 0)
    monkeypatch.setattr(multinomial_factor, "_ill_conditioned_factor", lambda info: None)
    with pytest.warns(GLMSpecWarning, match="pseudo-inverse"):
        record = fit_multinomial(codes, 4, X)
    assert record.method == "lbfgs" and record.information.method == "pinv"
    assert record.converged and record.n_iter == len(record.history)
    reference = _sm_fit(codes, X)
    assert record.loglik == pytest.approx(reference.llf, rel=1e-12)
    np.testing.assert_allclose(record.coef, reference.params, rtol=1e-5)
    np.testing.assert_allclose(_se(record), reference.bse, rtol=1e-6)


def test_separation_warns():
    rng = np.random.default_rng(11)
    n = 300
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    codes = np.where(x > 0.5, 2, rng.integers(0, 2, size=n))
    with pytest.warns(SeparationWarning, match="quasi-complete separation"):
        record = fit_multinomial(codes, 3, X)
    assert record.coef[1, 1] > 100


@pytest.mark.parametrize(
    ("codes", "n_classes", "match"),
    [
        (np.array([0, 1, 3, 1]), 3, "0..2"),
        (np.array([0.0, 1.0, 1.0, 0.0]), 2, "integers"),
        (np.array([0, 2, 2, 0]), 3, r"\[1\]"),
    ],
)
def test_invalid_codes(codes, n_classes, match):
    with pytest.raises(ResponseError, match=match):
        fit_multinomial(codes, n_classes, np.ones((4, 1)))
