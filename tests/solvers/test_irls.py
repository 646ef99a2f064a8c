"""Array-level tests of the maximum-likelihood solver and its building blocks.

* links and families: analytic derivatives against central finite differences;
* the solver's gradient ``X' score`` and its observed-information weights against finite
  differences of the family's log-likelihood;
* the optimum: recovery of known coefficients at large n, a vanishing gradient, agreement with
  statsmodels even for an ill-conditioned design;
* the loop: the convergence flag, the history, step halving, rank deficiency, zero weights.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import glmspec
from glmspec.errors import ConvergenceWarning, FitError, SingularDesignError
from glmspec.families import get_family
from glmspec.families.links import get_link
from glmspec.linalg import factorize, weighted_gram
from glmspec.solvers.engine import observed_weights, working_quantities
from glmspec.solvers.irls import fit_irls
from tests.helpers import sm_link

ALL_PAIRS = [
    ("gaussian", "identity"),
    ("gaussian", "log"),
    ("gaussian", "inverse"),
    ("binomial", "logit"),
    ("binomial", "probit"),
    ("binomial", "cloglog"),
    ("binomial", "log"),
    ("binomial", "cauchit"),
    ("poisson", "log"),
    ("poisson", "identity"),
    ("poisson", "sqrt"),
]
CANONICAL = [("gaussian", "identity"), ("binomial", "logit"), ("poisson", "log")]
NON_CANONICAL = [pair for pair in ALL_PAIRS if pair not in CANONICAL]

#: (intercept, slope, slope) on the link scale, with x ~ U(0, 1): valid means for every link
TRUE_COEF = {
    ("gaussian", "identity"): [1.0, 2.0, -1.0],
    ("gaussian", "log"): [0.5, 1.0, -0.5],
    ("gaussian", "inverse"): [0.5, 0.4, 0.3],
    ("binomial", "logit"): [-0.5, 1.5, -1.0],
    ("binomial", "probit"): [-0.3, 0.9, -0.6],
    ("binomial", "cloglog"): [-0.8, 1.0, -0.5],
    ("binomial", "log"): [-1.5, 0.6, -0.4],
    ("binomial", "cauchit"): [-0.3, 1.5, -1.0],
    ("poisson", "log"): [0.5, 1.0, -0.5],
    ("poisson", "identity"): [2.0, 3.0, 1.0],
    ("poisson", "sqrt"): [1.0, 1.0, 0.5],
}

#: linear predictors inside each link's domain (and away from the clamps)
ETA = {
    "identity": np.linspace(-3, 3, 13),
    "log": np.linspace(-4, 4, 17),
    "logit": np.linspace(-6, 6, 25),
    "probit": np.linspace(-4, 4, 17),
    "cloglog": np.linspace(-4, 2, 13),
    "cauchit": np.linspace(-8, 8, 17),
    "inverse": np.r_[np.linspace(-3, -0.3, 10), np.linspace(0.3, 3, 10)],
    "sqrt": np.linspace(0.2, 4, 12),
    "inverse_squared": np.linspace(0.3, 3, 10),
    "power(0.3333)": np.linspace(0.3, 3, 10),
    "power(2.5)": np.linspace(0.3, 3, 10),
}


def simulate(family: str, link: str, n: int, seed: int, coef=None):
    """(y, X, family) with ``mu = g^{-1}(X coef)``, X = [1, U(0,1), U(0,1)]."""
    rng = np.random.default_rng(seed)
    fam = get_family(family, link)
    coef = np.asarray(TRUE_COEF[(family, link)] if coef is None else coef, dtype=float)
    X = np.column_stack([np.ones(n), rng.uniform(0, 1, (n, len(coef) - 1))])
    mu = fam.link.inverse(X @ coef)
    if family == "gaussian":
        y = mu + rng.normal(0.0, 0.2, n)
    elif family == "poisson":
        y = rng.poisson(mu).astype(float)
    else:
        y = (rng.random(n) < mu).astype(float)
    return y, X, fam


def central_diff(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def loglik_at(fam, y, X, prior, offset=0.0):
    """beta -> the family's log-likelihood at dispersion 1."""

    def llf(beta):
        mu = fam.link.inverse(X @ beta + offset)
        return fam.loglik(y, mu, prior, 1.0, None)

    return llf


def gradient_at(fam, y, X, prior, beta, offset=0.0):
    eta = X @ beta + offset
    mu = fam.link.inverse(eta)
    _, score = working_quantities(fam, y, mu, eta, prior)
    return X.T @ score


# --------------------------------------------------------------------------------------------
# Links and families: analytic derivatives
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ETA))
def test_link_mu_eta_is_derivative_of_inverse(name):
    link, eta = get_link(name), ETA[name]
    h = 1e-6 * np.maximum(1.0, np.abs(eta))
    numeric = central_diff(link.inverse, eta, h)
    np.testing.assert_allclose(link.mu_eta(eta), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ETA))
def test_link_mu_eta_deriv_is_derivative_of_mu_eta(name):
    link, eta = get_link(name), ETA[name]
    h = 1e-6 * np.maximum(1.0, np.abs(eta))
    numeric = central_diff(link.mu_eta, eta, h)
    np.testing.assert_allclose(link.mu_eta_deriv(eta), numeric, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ETA))
def test_link_and_inverse_round_trip(name):
    link, eta = get_link(name), ETA[name]
    np.testing.assert_allclose(link.link(link.inverse(eta)), eta, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "family, mu",
    [
        ("gaussian", np.linspace(-5, 5, 11)),
        ("binomial", np.linspace(0.01, 0.99, 21)),
        ("poisson", np.linspace(0.05, 50, 21)),
    ],
)
def test_family_variance_deriv_is_derivative_of_variance(family, mu):
    fam = get_family(family)
    h = 1e-6 * np.maximum(1.0, np.abs(mu))
    if family == "binomial":
        h = np.full_like(mu, 1e-7)
    numeric = central_diff(fam.variance, mu, h)
    np.testing.assert_allclose(fam.variance_deriv(mu), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("family, link", ALL_PAIRS)
def test_unit_deviance_is_twice_loglik_difference(family, link):
    """d(y, mu) = 2 [l(y; y) - l(mu; y)] at dispersion 1, unit weights (deviance definition)."""
    y, X, fam = simulate(family, link, 200, seed=1)
    mu = fam.link.inverse(X @ np.asarray(TRUE_COEF[(family, link)]))
    ones = np.ones_like(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = 2 * (fam.loglik(y, y, ones) - fam.loglik(y, mu, ones))
    assert fam.deviance(y, mu, ones) == pytest.approx(diff, rel=1e-10)


# --------------------------------------------------------------------------------------------
# Score and information against finite differences of the log-likelihood
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family, link", ALL_PAIRS)
def test_gradient_matches_finite_differences_of_loglik(family, link):
    y, X, fam = simulate(family, link, 400, seed=2)
    rng = np.random.default_rng(3)
    prior = rng.uniform(0.5, 2.0, len(y)) if family != "binomial" else np.ones(len(y))
    beta = np.asarray(TRUE_COEF[(family, link)]) * 1.05  # away from the optimum
    llf = loglik_at(fam, y, X, prior)
    analytic = gradient_at(fam, y, X, prior, beta)
    numeric = np.empty_like(beta)
    for j in range(len(beta)):
        e = np.zeros_like(beta)
        e[j] = 1e-6
        numeric[j] = (llf(beta + e) - llf(beta - e)) / 2e-6
    scale = np.abs(analytic).max()
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-5 * scale)


def _fd_hessian(fam, y, X, prior, beta, h=1e-5):
    """Hessian by central differences of the (already FD-checked) analytic gradient."""
    p = len(beta)
    hess = np.empty((p, p))
    for j in range(p):
        e = np.zeros(p)
        e[j] = h
        hess[:, j] = (
            gradient_at(fam, y, X, prior, beta + e) - gradient_at(fam, y, X, prior, beta - e)
        ) / (2 * h)
    return 0.5 * (hess + hess.T)


def _second_difference_hessian(llf, beta, h=1e-4):
    """Hessian from second differences of the log-likelihood itself."""
    p = len(beta)
    hess = np.empty((p, p))
    for i in range(p):
        for j in range(p):
            ei, ej = np.zeros(p), np.zeros(p)
            ei[i], ej[j] = h, h
            hess[i, j] = (
                llf(beta + ei + ej)
                - llf(beta + ei - ej)
                - llf(beta - ei + ej)
                + llf(beta - ei - ej)
            ) / (4 * h * h)
    return hess


@pytest.mark.parametrize("family, link", NON_CANONICAL)
def test_observed_information_matches_finite_difference_hessian(family, link):
    y, X, fam = simulate(family, link, 400, seed=4)
    prior = np.ones(len(y))
    beta = np.asarray(TRUE_COEF[(family, link)]) * 1.03
    eta = X @ beta
    mu = fam.link.inverse(eta)
    fisher, _ = working_quantities(fam, y, mu, eta, prior)
    observed = X.T @ (observed_weights(fam, y, mu, eta, fisher, prior)[:, None] * X)
    expected_info = X.T @ (fisher[:, None] * X)
    hess = _fd_hessian(fam, y, X, prior, beta)
    scale = np.abs(observed).max()
    np.testing.assert_allclose(observed, -hess, rtol=1e-5, atol=1e-6 * scale)
    hess2 = _second_difference_hessian(loglik_at(fam, y, X, prior), beta)
    np.testing.assert_allclose(observed, -hess2, rtol=1e-3, atol=1e-4 * scale)
    # away from the optimum the observed and expected information differ for these links
    assert np.abs(observed - expected_info).max() > 1e-4 * scale


@pytest.mark.parametrize("family, link", CANONICAL)
def test_expected_equals_observed_information_for_canonical_links(family, link):
    y, X, fam = simulate(family, link, 300, seed=5)
    assert fam.is_canonical
    prior = np.random.default_rng(6).uniform(0.5, 2, len(y))
    beta = np.asarray(TRUE_COEF[(family, link)]) * 0.8  # anywhere, not just at the optimum
    eta = X @ beta
    mu = fam.link.inverse(eta)
    fisher, _ = working_quantities(fam, y, mu, eta, prior)
    np.testing.assert_allclose(
        observed_weights(fam, y, mu, eta, fisher, prior), fisher, rtol=1e-12, atol=1e-14
    )
    hess = _fd_hessian(fam, y, X, prior, beta)
    np.testing.assert_allclose(X.T @ (fisher[:, None] * X), -hess, rtol=1e-5)


@pytest.mark.parametrize("family, link", NON_CANONICAL)
def test_non_canonical_links_are_flagged(family, link):
    assert not get_family(family, link).is_canonical


# --------------------------------------------------------------------------------------------
# The optimum
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family, link", [("poisson", "log"), ("binomial", "logit")])
def test_recovers_known_coefficients_at_large_n(family, link):
    coef = np.array([0.3, -0.8, 0.5, 1.2])
    n = 20000
    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 3)) * [1.0, 0.5, 0.3]])
    fam = get_family(family, link)
    mu = fam.link.inverse(X @ coef)
    y = rng.poisson(mu).astype(float) if family == "poisson" else (rng.random(n) < mu) * 1.0
    rec = fit_irls(y, X, fam)
    assert rec.converged
    se = np.sqrt(np.diag(rec.factor.inverse()))
    assert np.all(np.abs(rec.coef - coef) < 4 * se), (rec.coef - coef) / se
    assert np.all(se < 0.1)  # n = 20000 pins them down


@pytest.mark.parametrize("family, link", ALL_PAIRS)
def test_gradient_vanishes_at_the_optimum(family, link):
    y, X, fam = simulate(family, link, 2000, seed=8)
    rec = fit_irls(y, X, fam)
    assert rec.converged
    weights, score = working_quantities(fam, y, rec.mu, rec.eta, np.ones(len(y)))
    gradient = X.T @ score
    # the gradient in units of its own standard deviation (sqrt of the information)
    info = X.T @ (weights[:, None] * X)
    assert np.max(np.abs(gradient) / np.sqrt(np.diag(info))) < 1e-6
    # relative to the size of its summands, it is at rounding level
    magnitude = np.abs(X).T @ np.abs(score)
    assert np.max(np.abs(gradient) / magnitude) < 1e-7
    # and the Newton decrement is tiny
    assert gradient @ np.linalg.solve(info, gradient) < 1e-12 * (abs(rec.deviance) + 0.1)


@pytest.mark.parametrize("family, link", ALL_PAIRS)
def test_solver_matches_statsmodels(family, link):
    y, X, fam = simulate(family, link, 1000, seed=9)
    rec = fit_irls(y, X, fam)
    sm_fam = {
        "gaussian": sm.families.Gaussian,
        "binomial": sm.families.Binomial,
        "poisson": sm.families.Poisson,
    }[family](sm_link(link))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm_res = sm.GLM(y, X, family=sm_fam).fit(
            maxiter=1000, tol=1e-13, rtol=0.0, tol_criterion="params"
        )
    se = np.sqrt(np.diag(rec.factor.inverse()))
    np.testing.assert_allclose(rec.coef, sm_res.params, rtol=1e-6, atol=1e-6 * se.min())
    np.testing.assert_allclose(rec.deviance, sm_res.deviance, rtol=1e-10)
    sm_se = np.asarray(sm_res.bse) / np.sqrt(sm_res.scale)  # unscaled (X'WX)^-1
    np.testing.assert_allclose(se, sm_se, rtol=1e-6)


def _near_collinear(seed: int, eps: float, n: int = 2000):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    X = np.column_stack([np.ones(n), z, z + eps * rng.normal(size=n), rng.normal(size=n)])
    return rng, z, X


def test_ill_conditioned_design_agrees_with_statsmodels():
    rng, z, X = _near_collinear(seed=1, eps=2e-8)
    cond = np.linalg.cond(X / np.linalg.norm(X, axis=0))
    assert 3e7 < cond < 3e8
    cases = [
        (
            rng.poisson(np.exp(0.3 + 0.2 * z + 0.1 * X[:, 3])).astype(float),
            "poisson",
            sm.families.Poisson(),
        ),
        (
            (rng.random(len(z)) < stats.norm.cdf(0.3 + 0.5 * z)).astype(float),
            "binomial",
            sm.families.Binomial(),
        ),
        (1.0 + z - 0.5 * X[:, 3] + rng.normal(size=len(z)), "gaussian", sm.families.Gaussian()),
    ]
    for y, family, sm_family in cases:
        with warnings.catch_warnings():
            # the convergence flag at this conditioning is checked by the test below
            warnings.simplefilter("ignore", ConvergenceWarning)
            rec = fit_irls(y, X, get_family(family))
        assert rec.factor.method == "qr"  # too ill-conditioned for the Cholesky path
        sm_res = sm.GLM(y, X, family=sm_family).fit(
            maxiter=1000, tol=1e-13, rtol=0.0, tol_criterion="params"
        )
        se = np.sqrt(np.diag(rec.factor.inverse()))
        rel = np.abs(rec.coef - sm_res.params) / np.maximum(np.abs(sm_res.params), se)
        assert rel.max() < 1e-6, (family, rel)
        np.testing.assert_allclose(se, sm_res.bse / np.sqrt(sm_res.scale), rtol=1e-6)
        assert rec.deviance <= sm_res.deviance * (1 + 1e-9)


def _exact_least_squares(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients and diag((X'X)^{-1}), rounded once from exact rationals.

    Every double is a rational, so X'X and X'y in fractions are exact, and so is their solve:
    a reference independent of any BLAS.
    """
    from fractions import Fraction

    cols = [[Fraction(v) for v in col] for col in X.T.tolist()]
    ys = [Fraction(v) for v in y.tolist()]
    p = len(cols)
    a = [
        [sum(u * v for u, v in zip(cols[i], cols[j], strict=True)) for j in range(p)]
        for i in range(p)
    ]
    b = [sum(u * v for u, v in zip(cols[i], ys, strict=True)) for i in range(p)]
    # Gauss-Jordan on [A | b | I]: exact, so no pivoting is needed beyond non-zero pivots
    m = [a[i] + [b[i]] + [Fraction(int(i == j)) for j in range(p)] for i in range(p)]
    for k in range(p):
        pivot = next(i for i in range(k, p) if m[i][k] != 0)
        m[k], m[pivot] = m[pivot], m[k]
        m[k] = [v / m[k][k] for v in m[k]]
        for i in range(p):
            if i != k and m[i][k] != 0:
                m[i] = [u - m[i][k] * v for u, v in zip(m[i], m[k], strict=True)]
    coef = np.array([float(m[i][p]) for i in range(p)])
    return coef, np.array([float(m[i][p + 1 + i]) for i in range(p)])


def test_ill_conditioned_least_squares_reports_convergence():
    """Least squares at condition number kappa ~ 1e10 agree with the exact solution to
    ``4 p kappa eps`` standard errors, on any BLAS kernel.

    The bound. Householder QR of the column-scaled ``A = sqrt(W) X`` is backward stable: the
    computed solution is exact for ``A + dA``, ``y + dy`` with ``|dA| <~ c eps |A|``. The error
    ``dx = A^+ (dy - dA x) + (A'A)^{-1} dA' r`` (Golub & Van Loan 5.3.8, Higham 20.1: relative
    error ``kappa eps + kappa^2 eps |r| / (|A| |x|)``) is, in units of standard errors
    ``SE_j = sigma sqrt([(A'A)^{-1}]_jj)``:

    * first term: ``|dA x| / sigma <~ c eps |A| |x| / sigma``; the nearly collinear
      coefficients are noise of about one SE, ``|x| ~ sigma kappa / |A|``, so ``~ c kappa eps``;
    * second term: ``|e_j' (A'A)^{-1} dA' r| / SE_j <= |dA| |r| / (sigma s_min(A))``, again
      ``c kappa eps`` (rounding errors of ``dA`` are not aligned with ``r``, so ``|dA' r|`` is
      about ``eps sigma``, not ``eps |A| |r|``).

    The standard errors themselves are ``sqrt`` of the diagonal of ``(R'R)^{-1}`` from the
    same backward-stable ``R``: relative error ``~ c kappa eps`` as well. Higham's worst-case
    constant grows with ``n p``, but rounding errors add like a random walk; ``c = 4 p`` is
    5x above the worst of the 8 seeds under OpenBLAS's Haswell, SkylakeX, Zen, Sandybridge and
    Prescott kernels (7.3e-6 SE at kappa eps = 2.2e-6). Solving the steps from the normal
    equations' factor (``R'R delta = X' v``, the semi-normal equations) loses another factor
    kappa that the line search cannot win back (the deviance change of such a correction is
    below the deviance's rounding): 1.1e-4 to 2.9e-4 SE, depending on the kernel.

    The deviance can only be evaluated to ~1e-10 relative here, because ``X @ coef`` cancels
    two coefficients of ~1e8, so deviances are compared at 1e-9.
    """
    flags = []
    for seed in range(8):
        rng, z, X = _near_collinear(seed=seed, eps=2e-10)
        y = 1.0 + z + rng.normal(size=len(z))
        kappa = np.linalg.cond(X / np.linalg.norm(X, axis=0))
        assert 5e9 < kappa < 2e10
        bound = 4 * X.shape[1] * kappa * np.finfo(float).eps  # 3.5e-5 here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            rec = fit_irls(y, X, get_family("gaussian"))
        assert rec.factor.method == "qr"
        exact, inverse_diagonal = _exact_least_squares(X, y)
        rss = np.sum((y - X @ exact) ** 2)
        se = np.sqrt(inverse_diagonal * rss / len(y))
        assert np.max(np.abs(rec.coef - exact) / se) < bound, seed
        np.testing.assert_allclose(
            np.sqrt(rec.factor.inverse_diagonal() * rec.deviance / len(y)), se, rtol=bound
        )
        assert rec.deviance <= rss * (1 + 1e-9)
        flags.append(rec.converged)
    assert all(flags), flags


# --------------------------------------------------------------------------------------------
# The loop: convergence flag, history, step halving
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family, link", ALL_PAIRS)
def test_converged_only_when_criterion_met(family, link):
    y, X, fam = simulate(family, link, 500, seed=10)
    tol = 1e-8
    rec = fit_irls(y, X, fam, tol=tol)
    assert rec.converged and rec.message == "converged"
    # the relative deviance change of the last recorded step is below tol ...
    assert rec.history[-1].relative_change < tol
    # ... and at the returned coefficients the Newton decrement is below tol**2 (scaled)
    weights, score = working_quantities(fam, y, rec.mu, rec.eta, np.ones(len(y)))
    g = X.T @ score
    decrement = g @ np.linalg.solve(X.T @ (weights[:, None] * X), g)
    assert decrement / (abs(rec.deviance) + 0.1) < tol**2
    # one iteration fewer is not enough: not converged, and a warning says so
    if rec.n_iter > 1:
        with pytest.warns(ConvergenceWarning, match="did not converge"):
            short = fit_irls(y, X, fam, tol=tol, max_iter=rec.n_iter - 1)
        assert not short.converged
        assert short.n_iter == rec.n_iter - 1


@pytest.mark.parametrize("family, link", [("poisson", "log"), ("binomial", "probit")])
def test_max_iter_one_does_not_converge(family, link):
    y, X, fam = simulate(family, link, 500, seed=11)
    with pytest.warns(ConvergenceWarning, match="after 1 iterations"):
        rec = fit_irls(y, X, fam, max_iter=1)
    assert rec.converged is False
    assert rec.n_iter == 1
    assert "max_iter=1" in rec.message


def test_max_iter_one_through_the_api():
    y, X, fam = simulate("poisson", "log", 300, seed=12)
    data = {"y": y, "x1": X[:, 1], "x2": X[:, 2]}
    with pytest.warns(ConvergenceWarning):
        res = glmspec.fit("y ~ x1 + x2", data, "poisson", max_iter=1)
    assert res.converged is False
    assert res.n_iter == 1
    assert "NO" in str(res.summary())


def test_looser_tolerance_needs_no_more_iterations():
    y, X, fam = simulate("binomial", "cloglog", 1000, seed=13)
    tight = fit_irls(y, X, fam, tol=1e-10)
    loose = fit_irls(y, X, fam, tol=1e-3)
    assert loose.converged and tight.converged
    assert loose.n_iter <= tight.n_iter
    se = np.sqrt(np.diag(tight.factor.inverse()))
    assert np.all(np.abs(loose.coef - tight.coef) < 1e-2 * se)


@pytest.mark.parametrize("family, link", ALL_PAIRS)
def test_history_recorded_and_deviance_non_increasing(family, link):
    y, X, fam = simulate(family, link, 500, seed=14)
    rec = fit_irls(y, X, fam)
    history = rec.history
    assert len(history) >= 1
    assert [h.iteration for h in history] == list(range(1, len(history) + 1))
    assert len(history) == rec.n_iter  # the step from the converged point is recorded too
    deviance = np.array([h.deviance for h in history])
    assert np.all(np.diff(deviance) <= 1e-12 * np.abs(deviance[:-1]))
    assert rec.deviance <= deviance[-1] * (1 + 1e-12) + 1e-12
    assert all(h.halvings >= 0 for h in history)
    assert np.isinf(history[0].decrement)  # first step: regression on the working response
    for h in history:
        assert h.relative_change >= 0


def test_history_dataframe_through_the_api():
    y, X, _ = simulate("poisson", "sqrt", 400, seed=15)
    res = glmspec.fit("y ~ x1 + x2", {"y": y, "x1": X[:, 1], "x2": X[:, 2]}, "poisson", "sqrt")
    hist = res.history
    assert list(hist.columns) == [
        "iteration",
        "deviance",
        "relative_change",
        "decrement",
        "halvings",
    ]
    assert len(hist) == len(res.record.history)
    assert hist["deviance"].is_monotonic_decreasing


def test_step_halving_from_a_start_whose_newton_step_leaves_the_domain():
    """Poisson identity: from start (30, -2.5) the full step makes some mu negative."""
    rng = np.random.default_rng(5)
    n = 500
    x = rng.uniform(0, 10, n)
    X = np.column_stack([np.ones(n), x])
    y = rng.poisson(1 + 2 * x).astype(float)
    fam = get_family("poisson", "identity")
    start = np.array([30.0, -2.5])
    assert np.all(X @ start > 0)  # the start itself is valid
    reference = fit_irls(y, X, fam)
    rec = fit_irls(y, X, fam, start=start)
    assert rec.converged
    assert rec.history[0].halvings > 0
    assert sum(h.halvings for h in rec.history) >= 2
    np.testing.assert_allclose(rec.coef, reference.coef, rtol=1e-9)
    # each accepted point is valid: the deviances are finite and decreasing
    deviance = np.array([h.deviance for h in rec.history])
    assert np.all(np.isfinite(deviance)) and np.all(np.diff(deviance) <= 0)


def test_invalid_start_raises_fit_error():
    y, X, fam = simulate("poisson", "identity", 100, seed=16)
    with pytest.raises(FitError, match="starting coefficients"):
        fit_irls(y, X, fam, start=np.array([-10.0, 0.0, 0.0]))


# --------------------------------------------------------------------------------------------
# Rank deficiency and zero weights
# --------------------------------------------------------------------------------------------


def test_exactly_collinear_column_names_the_column():
    y, X, fam = simulate("poisson", "log", 300, seed=17)
    Xd = np.column_stack([X, 2 * X[:, 1] - X[:, 2]])
    names = ["Intercept", "a", "b", "combo"]
    with pytest.raises(SingularDesignError) as info:
        fit_irls(y, Xd, fam, column_names=names)
    message = str(info.value)
    assert "rank 3 < 4" in message
    assert "'combo'" in message
    assert "'a'" in message and "'b'" in message


def test_zero_column_is_singular():
    y, X, fam = simulate("binomial", "logit", 300, seed=18)
    Xz = np.column_stack([X, np.zeros(len(y))])
    with pytest.raises(SingularDesignError, match="'zero'"):
        fit_irls(y, Xz, fam, column_names=["Intercept", "a", "b", "zero"])


@pytest.mark.parametrize("family, link", ALL_PAIRS)
def test_zero_prior_weights_equal_dropping_rows(family, link):
    y, X, fam = simulate(family, link, 600, seed=19)
    rng = np.random.default_rng(20)
    prior = rng.uniform(0.5, 2.0, len(y)) if family != "binomial" else np.ones(len(y))
    keep = rng.random(len(y)) > 0.25
    zeroed = np.where(keep, prior, 0.0)
    full = fit_irls(y, X, fam, prior_weights=zeroed)
    dropped = fit_irls(y[keep], X[keep], fam, prior_weights=prior[keep])
    se = np.sqrt(np.diag(dropped.factor.inverse()))
    np.testing.assert_allclose(full.coef, dropped.coef, rtol=1e-8, atol=1e-8 * se.min())
    np.testing.assert_allclose(full.deviance, dropped.deviance, rtol=1e-10)
    np.testing.assert_allclose(
        full.factor.inverse(), dropped.factor.inverse(), rtol=1e-7, atol=1e-10 * se.max() ** 2
    )


@settings(
    max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    seed=st.integers(0, 10_000),
    family_link=st.sampled_from(
        [
            ("poisson", "log"),
            ("binomial", "logit"),
            ("gaussian", "identity"),
            ("binomial", "probit"),
        ]
    ),
)
def test_zero_weights_equal_dropping_rows_through_the_api(seed, family_link):
    family, link = family_link
    y, X, _ = simulate(family, link, 200, seed=seed)
    rng = np.random.default_rng(seed + 1)
    w = rng.integers(1, 4, len(y)).astype(float)
    keep = rng.random(len(y)) > 0.3
    data = {"y": y, "x1": X[:, 1], "x2": X[:, 2], "w": np.where(keep, w, 0.0)}
    sub = {k: np.asarray(v)[keep] for k, v in data.items()}
    sub["w"] = w[keep]
    a = glmspec.fit("y ~ x1 + x2", data, family, link, weights="w")
    b = glmspec.fit("y ~ x1 + x2", sub, family, link, weights="w")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-6)
    assert a.nobs == b.nobs == keep.sum()
    assert a.df_resid == b.df_resid
    for name in ("llf", "deviance", "null_deviance", "aic", "bic", "scale", "pearson_chi2"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-8, abs=1e-10), name


# --------------------------------------------------------------------------------------------
# Linear algebra
# --------------------------------------------------------------------------------------------


def test_weighted_gram_blocks_and_negative_weights():
    rng = np.random.default_rng(21)
    X = rng.normal(size=(70_000, 4))  # more rows than one block
    w = rng.normal(size=70_000)  # some negative, as observed information can be
    np.testing.assert_allclose(weighted_gram(X, w), X.T @ (w[:, None] * X), rtol=1e-10, atol=1e-8)


def test_factorize_cholesky_and_qr_agree():
    rng = np.random.default_rng(22)
    X = np.column_stack([np.ones(500), rng.normal(size=(500, 3))])
    w = rng.uniform(0.1, 2.0, 500)
    chol = factorize(X, w)
    assert chol.method == "cholesky"
    gram = X.T @ (w[:, None] * X)
    np.testing.assert_allclose(chol.inverse(), np.linalg.inv(gram), rtol=1e-10)
    rhs = rng.normal(size=4)
    np.testing.assert_allclose(chol.solve(rhs), np.linalg.solve(gram, rhs), rtol=1e-10)
    # an ill-conditioned version goes through QR and still inverts X'WX
    Xi = X.copy()
    Xi[:, 3] = Xi[:, 2] + 1e-7 * rng.normal(size=500)
    qr = factorize(Xi, w)
    assert qr.method == "qr"
    np.testing.assert_allclose(qr.r.T @ qr.r, Xi.T @ (w[:, None] * Xi), rtol=1e-9)
