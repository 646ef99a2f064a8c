"""Hard but valid data: glmspec must give the right answer, not merely an answer.

Every case here has a reference that does not share glmspec's weak spots: statsmodels fitted on
an *equivalent, well-conditioned* design (rescaled or reparametrised columns, mapped back
exactly), a closed form (independence model of a two-way table, level means), or the exact
log-likelihood from :func:`scipy.special.log_expit` / Stirling's series. Cases:

* badly scaled columns (sd 1e-6 next to sd 1e6), Poisson / binomial / Gaussian;
* nearly collinear columns (condition number ~1e10 after column scaling);
* huge Poisson counts (y ~ 1e7; counts or trials of 1e9 converge; y ~ 1e12 keeps its
  log-likelihood and deviance, Loader's saddle-point form against its own series);
* 95% zeros (Poisson and logistic); fitted means near 0 or 1 without separation;
* linear predictors of +-700 and beyond through an offset (constant shifts, rows with extreme
  offsets, Poisson means of 1e174; means, llf and estimates at eta = -700 exact, not at R's
  clamp; xfail: the llf of a row beyond eta = -745, where exp underflows);
* a factor with 1,000 levels, 100 of them with a single row (Poisson and Gaussian);
* a two-way table with one row per cell (closed-form independence / additive fits);
* a rare class (0.5% of rows) in a multinomial model;
* multinomial with an offset of +25 (solver start) and its null deviance (intercept + offset);
* zero prior weights: must equal dropping the rows, even when a zero-weight row's linear
  predictor overflows (reading that fit's llf or residuals is silent).

Tolerances are stated per case: about 1e-9 relative where the problem is well conditioned, and
``eps * cond`` where it is not (the accuracy any backward-stable solver can promise).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
from scipy import special

import glmspec
from glmspec.errors import DomainWarning

SM_FAMILIES = {
    "poisson": sm.families.Poisson,
    "binomial": sm.families.Binomial,
    "gaussian": sm.families.Gaussian,
}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def sm_glm(y, X, family, *, offset=None, var_weights=None):
    """statsmodels' GLM fitted to a tight tolerance (coefficients, not deviance)."""
    model = sm.GLM(
        np.asarray(y, dtype=float),
        np.asarray(X, dtype=float),
        family=SM_FAMILIES[family](),
        offset=offset,
        var_weights=var_weights,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(maxiter=1000, tol=1e-13, tol_criterion="params")


def design_matrix(rhs: str, data: pd.DataFrame, names) -> np.ndarray:
    """The model matrix built independently by patsy, columns in glmspec's order."""
    frame = patsy.dmatrix(rhs, data, return_type="dataframe")
    assert set(frame.columns) == set(names)
    return frame[list(names)].to_numpy()


def assert_coefficients(res, params, bse, *, rtol_params, rtol_bse):
    """Coefficients within ``rtol_params * max(|b|, se)``, standard errors within rtol_bse."""
    params, bse = np.asarray(params, dtype=float), np.asarray(bse, dtype=float)
    ours, our_bse = np.asarray(res.params, dtype=float), np.asarray(res.bse, dtype=float)
    scale = np.maximum(np.abs(params), bse)
    np.testing.assert_array_less(np.abs(ours - params) / scale, rtol_params)
    np.testing.assert_allclose(our_bse, bse, rtol=rtol_bse)


def fit_quietly(*args, **kwargs):
    """Fit, returning the result and the warnings raised (as (category, message))."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = glmspec.fit(*args, **kwargs)
    return res, [(w.category, str(w.message)) for w in caught]


def no_numpy_warnings(caught):
    """glmspec never leaks numpy's RuntimeWarnings (overflow, divide by zero, ...)."""
    leaked = [msg for cat, msg in caught if issubclass(cat, RuntimeWarning)]
    assert not leaked, leaked


def poisson_bd0(y, mu):
    """Loader's ``bd0 = y log(y/mu) + mu - y`` without cancellation (y > 0)."""
    r = (y - mu) / mu
    small = np.abs(r) < 1e-2
    series = np.zeros_like(r)
    for k in range(2, 12):  # (1+r) log1p(r) - r = sum_{k>=2} (-1)^k r^k / (k (k-1))
        series += (-1.0) ** k * r**k / (k * (k - 1))
    direct = (1.0 + r) * np.log1p(r) - r
    return mu * np.where(small, series, direct)


def mpmath_poisson(y, mu):
    """(llf, deviance) of Poisson counts at means ``mu``, in mpmath from the definitions
    ``y log mu - mu - log y!`` and ``2 (y log(y/mu) - (y - mu))``, with digits enough for
    their cancellation (terms up to ~1e177 at means of 1e174)."""
    import mpmath

    digits = 40 + int(np.log10(max(np.max(y), np.max(mu), 10.0)))
    with mpmath.workdps(digits):
        llf = deviance = mpmath.mpf(0)
        for yi, mi in zip(np.asarray(y, float), np.asarray(mu, float), strict=True):
            a, m = mpmath.mpf(yi), mpmath.mpf(mi)
            llf += (a * mpmath.log(m) if a else 0) - m - mpmath.loggamma(a + 1)
            deviance += 2 * ((a * mpmath.log(a / m) if a else 0) - (a - m))
        return float(llf), float(deviance)


def poisson_loglik_exact(y, mu):
    """sum log dpois(y, mu) for large y, by Stirling's series and ``bd0`` (R's dpois method)."""
    y, mu = np.asarray(y, dtype=float), np.asarray(mu, dtype=float)
    assert np.all(y >= 1000)
    stirlerr = 1 / (12 * y) - 1 / (360 * y**3) + 1 / (1260 * y**5)
    return float(np.sum(-poisson_bd0(y, mu) - 0.5 * np.log(2 * np.pi * y) - stirlerr))


# --------------------------------------------------------------------------------------------
# badly scaled and nearly collinear columns
# --------------------------------------------------------------------------------------------


def _simulate(family, eta, rng):
    if family == "poisson":
        return rng.poisson(np.exp(eta)).astype(float)
    if family == "binomial":
        return (rng.random(len(eta)) < special.expit(eta)).astype(float)
    return eta + rng.normal(size=len(eta))


@pytest.mark.parametrize("family", ["poisson", "binomial", "gaussian"])
def test_badly_scaled_columns(family):
    """sd 1e-6 and 1e6 side by side. statsmodels on the raw design loses ~1e-5 relative (its
    pinv sees a condition number of 1e12); on the rescaled design it is exact, and glmspec
    must match *that*, mapped back by the known scale factors."""
    rng = np.random.default_rng(11)
    n = 400
    tiny, huge = rng.normal(size=n) * 1e-6, rng.normal(size=n) * 1e6
    eta = 0.3 + 2e5 * tiny + 3e-7 * huge
    data = pd.DataFrame({"y": _simulate(family, eta, rng), "tiny": tiny, "huge": huge})
    res, caught = fit_quietly("y ~ tiny + huge", data, family)
    assert res.converged
    no_numpy_warnings(caught)
    X = design_matrix("tiny + huge", data, res.params.index)
    sd = X.std(axis=0)
    scale = 1.0 / np.where(sd > 0, sd, 1.0)  # the intercept (sd 0) keeps scale 1
    ref = sm_glm(data["y"], X * scale, family)
    assert_coefficients(res, ref.params * scale, ref.bse * scale, rtol_params=1e-9, rtol_bse=1e-8)
    assert res.llf == pytest.approx(ref.llf, rel=1e-11)
    assert res.deviance == pytest.approx(ref.deviance, rel=1e-9)
    np.testing.assert_allclose(res.fittedvalues, ref.fittedvalues, rtol=1e-9)


@pytest.mark.parametrize("family", ["poisson", "binomial", "gaussian"])
def test_nearly_collinear_columns(family):
    """x2 = x1 + 2**-33 * e, stored exactly (dyadic values): the column-scaled condition number
    is ~8e9. The exact reparametrisation (1, x1, e) is well conditioned; statsmodels fits it
    and its estimates map back exactly: b_x2 = g_e / d, b_x1 = g_x1 - g_e / d. Any solver
    can only promise ~eps * cond ~ 1e-6 relative here."""
    rng = np.random.default_rng(12)
    n, d = 400, 2.0**-33
    x1 = rng.integers(-(2**10), 2**10, n) / 2**8
    e = rng.integers(-8, 9, n).astype(float)
    x2 = x1 + d * e
    assert np.array_equal((x2 - x1) / d, e)  # the perturbation is stored exactly
    X = np.column_stack([np.ones(n), x1, x2])
    cond = np.linalg.cond(X / np.linalg.norm(X, axis=0))
    assert 1e9 < cond < 1e11
    eta = 0.2 + 0.4 * x1 + 0.05 * e
    data = pd.DataFrame({"y": _simulate(family, eta, rng), "x1": x1, "x2": x2})
    res, caught = fit_quietly("y ~ x1 + x2", data, family)
    assert res.converged
    no_numpy_warnings(caught)
    ref = sm_glm(data["y"], np.column_stack([np.ones(n), x1, e]), family)
    T = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0 / d], [0.0, 0.0, 1.0 / d]])
    params = T @ ref.params
    bse = np.sqrt(np.diag(T @ ref.cov_params() @ T.T))
    # backward-stable least squares: 4 p cond eps (2.1e-5 here; derived in test_glm_solver's
    # test_ill_conditioned_least_squares_reports_convergence)
    eps = np.finfo(float).eps
    assert_coefficients(res, params, bse, rtol_params=4 * 3 * cond * eps, rtol_bse=1e-4)
    scale = np.abs(ref.fittedvalues).max()
    np.testing.assert_allclose(res.fittedvalues, ref.fittedvalues, rtol=1e-5, atol=1e-6 * scale)
    # X @ b cancels coefficients of ~4e8: each eta_i is rounded by up to p eps |x_i|.|b|, which
    # moves the llf by the score (y - mu) / scale times that, added over rows like a random
    # walk (2.5e-6 seen on OpenBLAS's Sandybridge kernel; 1e-8 relative was one CPU's figure)
    score = (data["y"].to_numpy() - ref.fittedvalues) / (res.scale if family == "gaussian" else 1)
    eta_error = 3 * eps * (np.abs(X) @ np.abs(params))
    assert res.llf == pytest.approx(ref.llf, abs=4 * np.sqrt(np.sum((score * eta_error) ** 2)))
    assert res.deviance == pytest.approx(ref.deviance, rel=1e-6)


# --------------------------------------------------------------------------------------------
# huge counts, many zeros, means near 0 or 1
# --------------------------------------------------------------------------------------------


def test_huge_poisson_counts():
    """y ~ 1e7: coefficients as statsmodels, log-likelihood exact to 1e-9 relative (each term
    is ~1.6e8, so the naive sum keeps ~9 of its 16 digits), intercept-only closed form."""
    rng = np.random.default_rng(13)
    n = 300
    x, g = rng.normal(size=n), rng.choice(["a", "b", "c"], n)
    data = pd.DataFrame({"y": rng.poisson(np.exp(16 + 0.2 * x)), "x": x, "g": g})
    assert data["y"].min() > 1e6
    res, caught = fit_quietly("y ~ x + g", data, "poisson")
    assert res.converged
    no_numpy_warnings(caught)
    ref = sm_glm(data["y"], design_matrix("x + g", data, res.params.index), "poisson")
    assert_coefficients(res, ref.params, ref.bse, rtol_params=1e-8, rtol_bse=1e-9)
    assert res.deviance == pytest.approx(ref.deviance, rel=1e-8)
    assert res.llf == pytest.approx(poisson_loglik_exact(data["y"], res.fittedvalues), rel=1e-9)
    null = glmspec.fit("y ~ 1", data, "poisson")
    assert np.exp(null.params["Intercept"]) == pytest.approx(data["y"].mean(), rel=1e-13)
    assert null.bse["Intercept"] == pytest.approx(1 / np.sqrt(data["y"].sum()), rel=1e-10)


def test_very_huge_poisson_counts_keep_an_accurate_llf():
    rng = np.random.default_rng(14)
    n = 50
    x = rng.normal(size=n)
    offset = np.full(n, 12 * np.log(10))
    y = rng.poisson(np.exp(offset + 0.2 + 0.3 * x)).astype(float)
    data = pd.DataFrame({"y": y, "x": x, "off": offset})
    res = glmspec.fit("y ~ x", data, "poisson", offset="off")
    assert res.converged
    mu = res.fittedvalues.to_numpy()
    llf, deviance = mpmath_poisson(y, mu)
    assert res.llf == pytest.approx(llf, rel=1e-13)
    assert res.llf == pytest.approx(poisson_loglik_exact(y, mu), rel=1e-10)
    # the deviance (~60) is a sum of terms y log(y/mu) ~ 3e13: the reported one is from the
    # solver's last evaluation, at the same means to rounding
    assert res.deviance == pytest.approx(deviance, rel=1e-8)
    assert res.family.deviance(y, mu, np.ones_like(y)) == pytest.approx(deviance, rel=1e-12)


def _huge_counts(family, seed, magnitude=1e9, n=40):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    if family == "poisson":
        offset = np.full(n, np.log(magnitude))
        y = rng.poisson(np.exp(offset + 0.2 + 0.3 * x)).astype(float)
        return pd.DataFrame({"y": y, "x": x, "off": offset})
    p = special.expit(0.2 + 0.3 * x)
    s = np.round(rng.normal(magnitude * p, np.sqrt(magnitude * p * (1 - p))))
    return pd.DataFrame({"s": s, "f": magnitude - s, "x": x})


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_huge_counts_converge(family):
    """10 data sets with counts (or trials) of 1e9; each must converge to the MLE."""
    for seed in range(10):
        data = _huge_counts(family, seed)
        if family == "poisson":
            res, caught = fit_quietly("y ~ x", data, "poisson", offset="off")
            endog, offset = data["y"], data["off"]
        else:
            res, caught = fit_quietly("s + f ~ x", data, "binomial")
            endog, offset = data[["s", "f"]], None
        assert res.converged and not caught, (seed, caught)
        ref = sm_glm(endog, design_matrix("x", data, res.params.index), family, offset=offset)
        assert_coefficients(res, ref.params, ref.bse, rtol_params=1e-8, rtol_bse=1e-8)


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_ninety_five_percent_zeros(family):
    rng = np.random.default_rng(15)
    n = 2000
    x = rng.normal(size=n)
    eta = (-3.6 if family == "poisson" else -3.3) + 0.5 * x
    data = pd.DataFrame({"y": _simulate(family, eta, rng), "x": x})
    assert 0.93 < np.mean(data["y"] == 0) < 0.97
    res, caught = fit_quietly("y ~ x", data, family)
    assert res.converged and not caught
    ref = sm_glm(data["y"], design_matrix("x", data, res.params.index), family)
    assert_coefficients(res, ref.params, ref.bse, rtol_params=1e-9, rtol_bse=1e-8)
    assert res.llf == pytest.approx(ref.llf, rel=1e-11)
    assert res.null_deviance == pytest.approx(ref.null_deviance, rel=1e-11)


def test_binomial_means_within_1e_minus_17_of_the_boundary_without_separation():
    """x in [-40, 40] with slope ~1.5: fitted probabilities reach 1e-26, yet the outcomes
    overlap in the middle, so the estimates exist. R's warning ("fitted probabilities
    numerically 0 or 1") is allowed; the numbers must still be right."""
    rng = np.random.default_rng(16)
    n = 400
    x = np.linspace(-40, 40, n)
    data = pd.DataFrame({"y": (rng.random(n) < special.expit(x)).astype(float), "x": x})
    res, caught = fit_quietly("y ~ x", data, "binomial")
    assert res.converged
    assert res.separation is None
    assert all(issubclass(cat, DomainWarning) for cat, _ in caught), caught
    X = design_matrix("x", data, res.params.index)
    ref = sm_glm(data["y"], X, "binomial")
    assert_coefficients(res, ref.params, ref.bse, rtol_params=1e-9, rtol_bse=1e-8)
    eta = X @ res.params.to_numpy()
    exact = np.sum(data["y"] * special.log_expit(eta) + (1 - data["y"]) * special.log_expit(-eta))
    assert res.llf == pytest.approx(exact, rel=1e-10)


def test_poisson_means_near_zero():
    rng = np.random.default_rng(17)
    n = 400
    x = np.linspace(-10, 3, n)
    data = pd.DataFrame({"y": rng.poisson(np.exp(-2 + 2 * x)), "x": x})
    res, caught = fit_quietly("y ~ x", data, "poisson")
    assert res.converged and not caught
    assert res.fittedvalues.min() < 1e-9
    ref = sm_glm(data["y"], design_matrix("x", data, res.params.index), "poisson")
    assert_coefficients(res, ref.params, ref.bse, rtol_params=1e-9, rtol_bse=1e-8)
    assert res.llf == pytest.approx(ref.llf, rel=1e-11)


# --------------------------------------------------------------------------------------------
# linear predictors of +-700 and beyond (offsets)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [700.0, -700.0, 1e4, -1e4])
@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_constant_extreme_offset_moves_only_the_intercept(family, shift):
    """offset = shift on every row: the intercept absorbs it exactly, nothing else moves."""
    rng = np.random.default_rng(18)
    n = 300
    x = rng.normal(size=n)
    data = pd.DataFrame({"y": _simulate(family, 0.3 + 0.5 * x, rng), "x": x, "off": shift})
    base = glmspec.fit("y ~ x", data, family)
    res, caught = fit_quietly("y ~ x", data, family, offset="off")
    assert res.converged
    no_numpy_warnings(caught)
    assert res.params["Intercept"] == pytest.approx(base.params["Intercept"] - shift, abs=1e-9)
    assert res.params["x"] == pytest.approx(base.params["x"], rel=1e-9)
    np.testing.assert_allclose(res.bse, base.bse, rtol=1e-8)
    for name in ("llf", "deviance", "null_deviance"):
        assert getattr(res, name) == pytest.approx(getattr(base, name), rel=1e-10), name
    np.testing.assert_allclose(res.fittedvalues, base.fittedvalues, rtol=1e-8)


def _extreme_offset_rows(family):
    """300 ordinary rows, then rows at offset -700 (and +700 for the binomial) whose outcomes
    are what the offset predicts: they carry (almost exactly) no information."""
    rng = np.random.default_rng(19)
    n = 300
    x = rng.normal(size=n + 10)
    y = _simulate(family, 0.3 + 0.5 * x, rng)
    offset = np.zeros(n + 10)
    offset[n:] = -700.0
    y[n:] = 0.0
    if family == "binomial":
        offset[n + 5 :] = 700.0
        y[n + 5 :] = 1.0
    return pd.DataFrame({"y": y, "x": x, "off": offset}), n


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_rows_with_offsets_of_700_and_predictable_outcomes(family):
    data, n = _extreme_offset_rows(family)
    res, caught = fit_quietly("y ~ x", data, family, offset="off")
    no_numpy_warnings(caught)
    assert all(issubclass(cat, DomainWarning) for cat, _ in caught), caught
    assert res.converged
    if family == "binomial":
        assert res.separation is None
    ordinary = glmspec.fit("y ~ x", data.iloc[:n], family, offset="off")
    np.testing.assert_allclose(res.params, ordinary.params, rtol=1e-9)
    np.testing.assert_allclose(res.bse, ordinary.bse, rtol=1e-8)
    for name in ("llf", "deviance", "aic"):
        value = getattr(res, name)
        assert np.isfinite(value)
        assert value == pytest.approx(getattr(ordinary, name), rel=1e-9, abs=1e-9), name


def _surprising_row(family):
    """As above plus one row at offset -700 whose outcome is 1: it contributes about -700 to
    the log-likelihood (exactly log_expit(eta) or eta - exp(eta))."""
    data, n = _extreme_offset_rows(family)
    surprise = pd.DataFrame({"y": [1.0], "x": [0.25], "off": [-700.0]})
    return pd.concat([data, surprise], ignore_index=True)


def _exact_loglik(family, y, eta):
    if family == "binomial":
        return float(np.sum(y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta)))
    return float(np.sum(y * eta - np.exp(eta) - special.gammaln(y + 1)))


def _exact_mle(family, X, y, offset, start):
    """Newton-Raphson with the exact (never clamped) means, from ``start``."""
    beta = np.asarray(start, dtype=float)
    for _ in range(50):
        eta = X @ beta + offset
        mean = special.expit(eta) if family == "binomial" else np.exp(eta)
        weight = mean * (1 - mean) if family == "binomial" else mean
        step = np.linalg.solve(X.T @ (weight[:, None] * X), X.T @ (y - mean))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-14:
            break
    return beta


@pytest.mark.parametrize(
    "family",
    [
        "poisson",
        "binomial",
    ],
)
def test_a_surprising_row_at_eta_minus_700_leaves_the_estimates_right(family):
    """One y = 1 row at eta = -700: its score is x_i (1 - mu_i) ~ x_i, so it moves the
    estimates, and the MLE of the exact likelihood exists and is unique."""
    data = _surprising_row(family)
    res, caught = fit_quietly("y ~ x", data, family, offset="off")
    no_numpy_warnings(caught)
    assert res.converged
    X = design_matrix("x", data, res.params.index)
    start = glmspec.fit("y ~ x", data.iloc[:300], family).params
    exact = _exact_mle(family, X, data["y"].to_numpy(), data["off"].to_numpy(), start)
    np.testing.assert_allclose(res.params, exact, rtol=1e-9)


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_a_surprising_row_at_eta_minus_700_has_the_exact_llf(family):
    data = _surprising_row(family)
    res, _ = fit_quietly("y ~ x", data, family, offset="off")
    eta = design_matrix("x", data, res.params.index) @ res.params.to_numpy() + data["off"]
    exact = _exact_loglik(family, data["y"].to_numpy(), eta.to_numpy())
    assert exact < -690
    assert res.llf == pytest.approx(exact, rel=1e-10)
    if family == "binomial":  # Bernoulli rows: the deviance is -2 llf
        assert res.deviance == pytest.approx(-2 * exact, rel=1e-10)


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_means_at_eta_minus_700_are_not_clamped(family):
    data = _surprising_row(family)
    res, _ = fit_quietly("y ~ x", data, family, offset="off")
    eta = res.predict(data, which="linear").to_numpy()
    exact = special.expit(eta) if family == "binomial" else np.exp(eta)
    np.testing.assert_allclose(res.predict(data).to_numpy(), exact, rtol=1e-12, atol=0)
    np.testing.assert_allclose(res.fittedvalues.to_numpy(), exact, rtol=1e-12, atol=0)


@pytest.mark.xfail(
    strict=True,
    reason="LIMIT: beyond eta = -745 exp(eta) underflows to 0, so a y = 1 row there gets its "
    "log-likelihood at R's clamped mean 2.2e-16 (term -36 instead of -800): links.py "
    "Link.unclamp keeps the clamp where the exact mean is no positive float, because the "
    "families evaluate the likelihood from mu, not from eta. Fix: a log-link likelihood "
    "from eta (y * eta - exp(eta) - log y!).",
)
def test_a_surprising_row_beyond_eta_minus_745_has_the_exact_llf():
    data = _surprising_row("poisson")
    data.loc[data.index[-1], "off"] = -800.0
    res, _ = fit_quietly("y ~ x", data, "poisson", offset="off")
    eta = design_matrix("x", data, res.params.index) @ res.params.to_numpy() + data["off"]
    exact = _exact_loglik("poisson", data["y"].to_numpy(), eta.to_numpy())
    assert res.llf == pytest.approx(exact, rel=1e-10)


def _poisson_at_plus_400():
    """Means ~1e174 (eta ~ 400): weights mu_eta**2 / V would overflow if formed naively."""
    rng = np.random.default_rng(20)
    n = 50
    x = rng.normal(size=n)
    offset = np.full(n, 400.0)
    y = np.round(np.exp(offset + 0.2 + 0.3 * x))  # exact to float precision: a perfect fit
    return pd.DataFrame({"y": y, "x": x, "off": offset})


def test_poisson_with_offsets_of_plus_400():
    res, caught = fit_quietly("y ~ x", _poisson_at_plus_400(), "poisson", offset="off")
    no_numpy_warnings(caught)
    assert res.converged
    np.testing.assert_allclose(res.params, [0.2, 0.3], atol=1e-9)
    assert np.all(np.isfinite(res.bse))


def test_poisson_with_offsets_of_plus_400_has_a_consistent_llf():
    data = _poisson_at_plus_400()
    res, _ = fit_quietly("y ~ x", data, "poisson", offset="off")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        llf, deviance = res.llf, res.deviance
    y = data["y"].to_numpy()
    saturated = np.sum(-0.5 * np.log(2 * np.pi * y) - 1 / (12 * y))  # sum log dpois(y, y)
    assert np.isfinite(llf) and np.isfinite(deviance)
    assert llf == pytest.approx(saturated - deviance / 2, rel=1e-9)
    exact_llf, exact_deviance = mpmath_poisson(y, res.fittedvalues.to_numpy())
    assert llf == pytest.approx(exact_llf, rel=1e-12)
    assert deviance == pytest.approx(exact_deviance, rel=1e-11)
    import mpmath

    with mpmath.workdps(220):  # (y - mu)^2 ~ 1e322 before the division
        mu = res.fittedvalues.to_numpy()
        pearson = sum(
            (mpmath.mpf(a) - mpmath.mpf(m)) ** 2 / mpmath.mpf(m) for a, m in zip(y, mu, strict=True)
        )
    assert res.pearson_chi2 == pytest.approx(float(pearson), rel=1e-12)


# --------------------------------------------------------------------------------------------
# many levels, one row per cell
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def thousand_levels():
    """1,000 levels: 100 with one row, the others 2 or 3 rows; every level has a positive
    count (a level of zeros has no finite estimate, see test_bad_input)."""
    rng = np.random.default_rng(21)
    levels = 1000
    counts = np.r_[np.ones(100, dtype=int), rng.integers(2, 4, levels - 100)]
    codes = np.repeat(np.arange(levels), counts)
    n = len(codes)
    x = rng.normal(size=n)
    effect = rng.normal(0, 0.3, levels)[codes]
    y = rng.poisson(np.exp(1.5 + effect + 0.3 * x))
    first = np.r_[True, codes[1:] != codes[:-1]]
    y[first] = np.maximum(y[first], 1)
    data = pd.DataFrame(
        {
            "y": y,
            "z": 1.5 + effect + 0.3 * x + rng.normal(size=n),
            "x": x,
            "g": [f"L{c:04d}" for c in codes],
        }
    )
    return data.sample(frac=1.0, random_state=3, ignore_index=True)


def _profile_poisson_fixed_effects(y, x, groups):
    """Exact MLE of y ~ x + C(g) (Poisson): for a slope b the level effects are closed form
    (mu_i = S_g exp(b x_i) / sum_g exp(b x)), so b solves a 1-d profile score equation. The
    slope's variance is the inverse of the profile information sum mu_i (x_i - xbar_g)^2,
    xbar_g the mu-weighted level mean of x (the Schur complement of X'WX)."""
    from scipy import optimize

    codes, _ = pd.factorize(groups)
    totals = np.bincount(codes, weights=y)

    def means(b):
        e = np.exp(b * x)
        return totals[codes] * e / np.bincount(codes, weights=e)[codes]

    def score(b):
        return float(x @ (y - means(b)))

    b = optimize.brentq(score, -5, 5, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    mu = means(b)
    xbar = np.bincount(codes, weights=mu * x) / np.bincount(codes, weights=mu)
    return b, 1 / np.sqrt(np.sum(mu * (x - xbar[codes]) ** 2)), mu


def test_thousand_level_factor_poisson(thousand_levels):
    """Reference: the exact profile-likelihood solution (statsmodels needs ~20 s for 1,001
    dense columns; the profile answer is exact and takes milliseconds)."""
    data = thousand_levels
    res, caught = fit_quietly("y ~ x + g", data, "poisson")
    assert res.converged and not caught
    assert len(res.params) == 1001
    y, x = data["y"].to_numpy(float), data["x"].to_numpy()
    slope, slope_se, mu = _profile_poisson_fixed_effects(y, x, data["g"])
    assert res.params["x"] == pytest.approx(slope, rel=1e-9)
    assert res.bse["x"] == pytest.approx(slope_se, rel=1e-8)
    np.testing.assert_allclose(res.fittedvalues, mu, rtol=1e-9)
    exact_llf = np.sum(special.xlogy(y, mu) - mu - special.gammaln(y + 1))
    assert res.llf == pytest.approx(exact_llf, rel=1e-11)
    # single-row levels are fitted exactly; the baseline level's SE is 1/sqrt(its total)
    single = data.groupby("g")["y"].transform("size") == 1
    np.testing.assert_allclose(res.fittedvalues[single], data["y"][single], rtol=1e-8)


def test_thousand_level_factor_poisson_closed_form(thousand_levels):
    """Without x, exp(intercept + level effect) is each level's mean count and the
    intercept's SE is 1/sqrt(total count of the reference level)."""
    data = thousand_levels
    res, caught = fit_quietly("y ~ g", data, "poisson")
    assert res.converged and not caught
    means = data.groupby("g")["y"].transform("mean")
    np.testing.assert_allclose(res.fittedvalues, means, rtol=1e-10)
    reference_total = data.loc[data["g"] == "L0000", "y"].sum()
    assert res.bse["Intercept"] == pytest.approx(1 / np.sqrt(reference_total), rel=1e-10)


def test_thousand_level_factor_gaussian(thousand_levels):
    """Reference: the within-level (Frisch-Waugh) regression, fitted by statsmodels' OLS on
    the level-demeaned data; its SE uses n - 1 residual df instead of n - 1001."""
    data = thousand_levels
    res, caught = fit_quietly("z ~ x + g", data, "gaussian")
    assert res.converged and not caught
    n = len(data)
    assert res.df_resid == n - 1001
    zc = data["z"] - data.groupby("g")["z"].transform("mean")
    xc = data["x"] - data.groupby("g")["x"].transform("mean")
    within = sm.OLS(zc.to_numpy(), xc.to_numpy()[:, None]).fit()
    assert res.params["x"] == pytest.approx(within.params[0], rel=1e-10)
    assert res.scale == pytest.approx(within.ssr / (n - 1001), rel=1e-10)
    assert res.bse["x"] == pytest.approx(within.bse[0] * np.sqrt((n - 1) / (n - 1001)), rel=1e-9)
    level_means = (data["z"] - within.params[0] * data["x"]).groupby(data["g"]).transform("mean")
    np.testing.assert_allclose(
        res.fittedvalues, level_means + within.params[0] * data["x"], rtol=1e-10, atol=1e-12
    )
    single = data.groupby("g")["z"].transform("size") == 1
    np.testing.assert_allclose(res.fittedvalues[single], data["z"][single], rtol=1e-9)


@pytest.fixture(scope="module")
def two_way_table():
    rng = np.random.default_rng(22)
    R, C = 30, 40
    r, c = np.repeat(np.arange(R), C), np.tile(np.arange(C), R)
    counts = rng.poisson(np.exp(1 + rng.normal(0, 0.5, R)[r] + rng.normal(0, 0.5, C)[c]))
    return pd.DataFrame(
        {
            "y": counts,
            "z": rng.normal(size=R * C) + 0.1 * r,
            "r": [f"r{i:02d}" for i in r],
            "c": [f"c{j:02d}" for j in c],
        }
    ), (R, C)


def test_one_row_per_cell_poisson_independence_model(two_way_table):
    """Poisson y ~ row + col on a table with one count per cell: fitted = row * col / total,
    deviance = G^2 and Pearson = X^2 of the independence test, df = (R-1)(C-1)."""
    data, (R, C) = two_way_table
    res, caught = fit_quietly("y ~ r + c", data, "poisson")
    assert res.converged and not caught
    table = data["y"].to_numpy().reshape(R, C)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    np.testing.assert_allclose(res.fittedvalues, expected.ravel(), rtol=1e-10)
    assert res.deviance == pytest.approx(
        2 * special.xlogy(table, table / expected).sum(), rel=1e-11
    )
    assert res.pearson_chi2 == pytest.approx(((table - expected) ** 2 / expected).sum(), rel=1e-11)
    assert res.df_resid == (R - 1) * (C - 1)


def test_one_row_per_cell_gaussian_additive_model(two_way_table):
    data, (R, C) = two_way_table
    res = glmspec.fit("z ~ r + c", data, "gaussian")
    table = data["z"].to_numpy().reshape(R, C)
    fit = table.mean(axis=1)[:, None] + table.mean(axis=0)[None, :] - table.mean()
    np.testing.assert_allclose(res.fittedvalues, fit.ravel(), rtol=1e-12, atol=1e-12)
    rss = ((table - fit) ** 2).sum()
    assert res.scale == pytest.approx(rss / ((R - 1) * (C - 1)), rel=1e-12)


# --------------------------------------------------------------------------------------------
# multinomial with a rare class
# --------------------------------------------------------------------------------------------


def test_multinomial_rare_class():
    rng = np.random.default_rng(23)
    n = 2000
    x = rng.normal(size=n)
    eta = np.column_stack([np.zeros(n), 0.2 + 0.5 * x, -5.0 + 0.8 * x])
    probs = special.softmax(eta, axis=1)
    codes = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    data = pd.DataFrame({"y": np.array(["a", "b", "rare"])[codes], "x": x})
    assert 0.002 < np.mean(codes == 2) <= 0.01
    res, caught = fit_quietly("y ~ x", data, "multinomial")
    assert res.converged and not caught
    X = design_matrix("x", data, res.params.index)
    ref = sm.MNLogit(codes, X).fit(method="newton", tol=1e-12, maxiter=200, disp=False)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=1e-8)
    assert res.llf == pytest.approx(ref.llf, rel=1e-12)
    np.testing.assert_allclose(res.fittedvalues.to_numpy(), ref.predict(), rtol=1e-8)


def _multinomial_with_offset(seed=0, n=60):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    offset = rng.normal(0, 0.2, n)
    eta = np.column_stack([np.zeros(n), 0.3 + 0.6 * x + offset, -0.2 - 0.5 * x + offset])
    codes = (rng.random(n)[:, None] > np.cumsum(special.softmax(eta, axis=1), axis=1)).sum(1)
    return pd.DataFrame({"y": np.array(["a", "b", "c"])[codes], "x": x, "off": offset})


def test_multinomial_with_an_offset_of_25():
    data = _multinomial_with_offset()
    base = glmspec.fit("y ~ x", data, "multinomial", offset="off")
    res, caught = fit_quietly(
        "y ~ x", data.assign(off=data["off"] + 25.0), "multinomial", offset="off"
    )
    assert res.converged and not caught
    expected = base.params.copy()
    expected.loc["Intercept"] -= 25.0
    np.testing.assert_allclose(res.params, expected, rtol=1e-9, atol=1e-9)
    assert res.llf == pytest.approx(base.llf, rel=1e-10)


def test_multinomial_null_deviance_with_an_offset():
    data = _multinomial_with_offset()
    res = glmspec.fit("y ~ x", data, "multinomial", offset="off")
    null = glmspec.fit("y ~ 1", data, "multinomial", offset="off")
    assert res.null_deviance == pytest.approx(null.deviance, rel=1e-9)
    shifted = glmspec.fit("y ~ x", data.assign(off=data["off"] + 1.0), "multinomial", offset="off")
    assert shifted.null_deviance == pytest.approx(res.null_deviance, rel=1e-9)


# --------------------------------------------------------------------------------------------
# zero weights
# --------------------------------------------------------------------------------------------


def _zero_weight_data(family, rng, n=300):
    x = rng.normal(size=n)
    if family == "multinomial":
        y = rng.choice(["a", "b", "c"], n)
    else:
        y = _simulate(family, 0.4 + 0.3 * x, rng)
    w = rng.integers(1, 4, n).astype(float)
    zero = rng.random(n) < 0.2
    w[zero] = 0.0
    return pd.DataFrame({"y": y, "x": x, "w": w}), zero


def _assert_same_fit(a, b):
    np.testing.assert_allclose(np.asarray(a.params), np.asarray(b.params), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.asarray(a.bse), np.asarray(b.bse), rtol=1e-8)
    for name in ("llf", "deviance", "aic", "bic", "nobs", "df_resid"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-10), name


@pytest.mark.parametrize("family", ["poisson", "binomial", "gaussian", "multinomial"])
@pytest.mark.parametrize("zero_x", [None, 1e3], ids=["ordinary-x", "x=1e3"])
def test_zero_weight_rows_equal_dropping_them(family, zero_x):
    rng = np.random.default_rng(24)
    data, zero = _zero_weight_data(family, rng)
    if zero_x is not None:  # zero-weight rows far outside the data must not matter either
        data.loc[zero, "x"] = zero_x
    full, caught = fit_quietly("y ~ x", data, family, weights="w")
    assert not caught
    kept = glmspec.fit("y ~ x", data[~zero], family, weights="w")
    _assert_same_fit(full, kept)
    assert full.nobs == int((~zero).sum())


def test_zero_weight_row_with_overflowing_eta_poisson():
    rng = np.random.default_rng(24)
    data, zero = _zero_weight_data("poisson", rng)
    data.loc[zero, "x"] = 1e6
    full, caught = fit_quietly("y ~ x", data, "poisson", weights="w")
    assert full.converged and not caught
    _assert_same_fit(full, glmspec.fit("y ~ x", data[~zero], "poisson", weights="w"))


def test_zero_weight_row_with_overflowing_eta_reads_without_numpy_warnings():
    rng = np.random.default_rng(24)
    data, zero = _zero_weight_data("poisson", rng)
    data.loc[zero, "x"] = 1e6
    res, _ = fit_quietly("y ~ x", data, "poisson", weights="w")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for name in ("llf", "deviance", "pearson_chi2", "aic", "resid_deviance", "resid_pearson"):
            getattr(res, name)


def test_zero_weight_row_with_extreme_x_multinomial_is_silent():
    rng = np.random.default_rng(24)
    data, zero = _zero_weight_data("multinomial", rng)
    data.loc[zero, "x"] = 1e6
    full, caught = fit_quietly("y ~ x", data, "multinomial", weights="w")
    assert not caught, caught
    _assert_same_fit(full, glmspec.fit("y ~ x", data[~zero], "multinomial", weights="w"))
