"""Firth bias-reduced fits (method="firth") for logistic and Poisson log-linear models.

References: brglm2's published ``summary(update(modML, method = "brglm_fit"))`` on the
endometrial data (github cran/brglm2, README.md; the data are brglm2's ``data/endometrial.rda``,
Heinze & Schemper 2002, copied below), and a direct maximisation of the penalized
log-likelihood ``l(b) + 1/2 log det(X'WX)`` with scipy.optimize in each test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

import glmspec
from glmspec.errors import ModelComparisonError, SeparationWarning, SpecificationError

_ENDOMETRIAL = {
    "NV": (
        "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
        "0 0 0 0 0 1 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 1 1 0 1 0 "
    ),
    "PI": (
        "13 16 8 34 20 5 17 10 26 17 8 7 20 10 18 16 18 8 29 12 20 38 22 7 25 15 7 28 11 19 "
        "10 10 18 14 21 11 17 25 16 19 15 33 24 48 12 19 2 22 40 5 0 21 15 29 15 12 3 20 23 "
        "12 22 42 15 13 14 19 12 13 10 12 49 6 5 17 11 21 5 19 33 "
    ),
    "EH": (
        "1.64 2.26 3.14 2.68 1.28 2.31 1.8 1.68 1.56 2.31 2.01 1.89 3.15 1.23 1.27 1.76 2.0 "
        "2.64 0.88 1.27 1.37 0.97 1.14 0.88 0.91 0.58 0.97 1.5 1.33 2.37 1.82 3.13 1.31 1.92 "
        "1.64 2.01 1.88 1.93 2.11 1.29 1.72 0.75 1.92 1.84 1.11 1.61 1.18 1.44 1.18 0.93 1.17 "
        "1.19 1.06 2.02 2.29 2.33 2.9 1.7 1.41 2.25 1.54 1.97 1.75 2.16 2.57 1.37 3.61 2.04 "
        "2.17 1.69 0.27 1.84 1.3 0.96 1.01 0.98 0.35 1.02 0.85 "
    ),
    "HG": (
        "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
        "0 1 1 1 1 1 1 1 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 "
    ),
}


def _penalized_optimum(X, y, prior, offset, family):
    """argmax of l(b) + 1/2 log det(X' W X), by BFGS with its own gradient.

    The gradient of the penalty is computed as 1/2 tr(I^-1 dI/db_r), with each dI/db_r
    formed explicitly (not through hat values, as glmspec does).
    """

    def parts(b):
        eta = X @ b + offset
        if family == "binomial":
            mu = special.expit(eta)
            loglik = np.sum(prior * (y * eta - np.logaddexp(0.0, eta)))
            w, dw = prior * mu * (1 - mu), prior * mu * (1 - mu) * (1 - 2 * mu)
        else:
            mu = np.exp(eta)
            loglik = np.sum(prior * (y * eta - mu))
            w, dw = prior * mu, prior * mu
        info = X.T @ (X * w[:, None])
        inv = np.linalg.inv(info)
        penalty_grad = np.array(
            [0.5 * np.trace(inv @ (X.T @ (X * (dw * X[:, r])[:, None]))) for r in range(X.shape[1])]
        )
        grad = X.T @ (prior * (y - mu)) + penalty_grad
        return -(loglik + 0.5 * np.linalg.slogdet(info)[1]), -grad

    start = np.zeros(X.shape[1])
    if family == "poisson":
        start = np.linalg.lstsq(X, np.log(y + 0.5) - offset, rcond=None)[0]
    fit = optimize.minimize(parts, start, jac=True, method="BFGS", options={"gtol": 1e-11})
    return fit.x


def test_endometrial_matches_brglm2_published_summary():
    """brglm2 README: ``summary(update(modML, method = "brglm_fit"))``::

                    Estimate Std. Error z value Pr(>|z|)
        (Intercept)  3.77456    1.48869   2.535 0.011229 *
        NV           2.92927    1.55076   1.889 0.058902 .
        PI          -0.03475    0.03958  -0.878 0.379915
        EH          -2.60416    0.77602  -3.356 0.000791 ***
        Residual deviance:  56.575  on 75  degrees of freedom
        AIC:  64.575

    (AS_mixed equals AS_mean for the logit link.) Compared to the printed digits.
    """
    data = pd.DataFrame({k: np.array(v.split(), dtype=float) for k, v in _ENDOMETRIAL.items()})
    with pytest.warns(SeparationWarning, match="method='firth'"):
        ml = glmspec.fit("HG ~ NV + PI + EH", data, "binomial")
    assert "NV" in ml.separation.columns
    res = glmspec.fit("HG ~ NV + PI + EH", data, "binomial", method="firth")
    assert res.converged and res.separation is None
    np.testing.assert_array_equal(
        np.round(res.params.to_numpy(), 5), [3.77456, 2.92927, -0.03475, -2.60416]
    )
    np.testing.assert_array_equal(
        np.round(res.bse.to_numpy(), 5), [1.48869, 1.55076, 0.03958, 0.77602]
    )
    assert round(res.deviance, 3) == 56.575
    assert round(res.aic, 3) == 64.575
    assert round(res.pvalues["EH"], 6) == 0.000791
    X = np.asarray(res.design.X)
    exact = _penalized_optimum(X, res.design.y, res.design.total_weights, 0.0, "binomial")
    np.testing.assert_allclose(res.params, exact, rtol=1e-6)
    # standard errors: the inverse Fisher information at the estimates
    mu = special.expit(X @ exact)
    info = X.T @ (X * (mu * (1 - mu))[:, None])
    np.testing.assert_allclose(res.bse, np.sqrt(np.diag(np.linalg.inv(info))), rtol=1e-6)
    # llf is the ordinary log-likelihood; penalized_llf adds 1/2 log det I
    ordinary = np.sum(res.design.y * np.log(mu) + (1 - res.design.y) * np.log1p(-mu))
    assert res.llf == pytest.approx(ordinary, rel=1e-9)
    penalized = ordinary + 0.5 * np.linalg.slogdet(info)[1]
    assert res.penalized_llf == pytest.approx(penalized, rel=1e-9)


def test_binomial_counts_with_offset_equal_direct_maximisation():
    data = glmspec.datasets.load("star98")
    offset = 0.01 * data["PCTAF"].to_numpy()
    res = glmspec.fit(
        "NABOVE + NBELOW ~ LOWINC + PERASIAN", data, "binomial", offset=offset, method="firth"
    )
    X = np.asarray(res.design.X)
    exact = _penalized_optimum(X, res.design.y, res.design.total_weights, offset, "binomial")
    np.testing.assert_allclose(res.params, exact, rtol=1e-6)
    ml = glmspec.fit("NABOVE + NBELOW ~ LOWINC + PERASIAN", data, "binomial", offset=offset)
    # large counts: the bias correction is tiny but not zero
    np.testing.assert_allclose(res.params, ml.params, rtol=1e-2)
    assert not np.allclose(res.params, ml.params, rtol=1e-9, atol=0)


def test_poisson_with_an_all_zero_group_is_finite_and_equals_direct_maximisation():
    data = glmspec.datasets.load("cpunish")
    # the three states with the fewest executions set to zero and flagged by NONE: the ML
    # coefficient of NONE is -infinity (the Poisson analogue of separation)
    none = data["EXECUTIONS"].rank(method="first") <= 3
    data = data.assign(EXECUTIONS=np.where(none, 0, data["EXECUTIONS"]), NONE=none.astype(float))
    formula = "EXECUTIONS ~ I(INCOME / 10000) + SOUTH + NONE"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the zero-count warning is not what is tested here
        ml = glmspec.fit(formula, data, "poisson")  # NONE's estimate: where IRLS stopped
    assert ml.params["NONE"] < -15 and ml.bse["NONE"] > 1e3
    res = glmspec.fit(formula, data, "poisson", method="firth")
    assert res.converged and np.all(np.isfinite(res.params))
    X = np.asarray(res.design.X)
    exact = _penalized_optimum(X, res.design.y, res.design.total_weights, 0.0, "poisson")
    np.testing.assert_allclose(res.params, exact, rtol=1e-5)


def test_firth_options_are_validated():
    data = glmspec.datasets.load("spector")
    with pytest.raises(SpecificationError, match="method must be"):
        glmspec.fit("GRADE ~ GPA", data, "binomial", method="bias")
    with pytest.raises(SpecificationError, match="firth"):
        glmspec.fit("GRADE ~ GPA", data, "binomial", link="probit", method="firth")
    with pytest.raises(SpecificationError, match="firth"):
        glmspec.fit("GPA ~ TUCE", data, method="firth")
    res = glmspec.fit("GRADE ~ GPA", data, "binomial", method="firth")
    with pytest.raises(SpecificationError, match="does not apply"):
        glmspec.compare(res)
    with pytest.raises(SpecificationError, match="cov_type"):
        glmspec.fit("GRADE ~ GPA", data, "binomial", method="firth", cov_type="HC0")
    for call in (res.drop1, res.anova, lambda: res.conf_int(method="profile")):
        with pytest.raises(SpecificationError, match="maximum likelihood"):
            call()


def test_firth_fits_are_refused_by_likelihood_ratio_comparisons():
    data = glmspec.datasets.load("spector")
    small = glmspec.fit("GRADE ~ GPA", data, "binomial", method="firth")
    big = glmspec.fit("GRADE ~ GPA + PSI", data, "binomial", method="firth")
    ml_small = glmspec.fit("GRADE ~ GPA", data, "binomial")
    for call in (
        lambda: glmspec.lrtest(small, big),
        lambda: glmspec.anova(small, big),
        lambda: glmspec.anova(ml_small, big),
    ):
        with pytest.raises(ModelComparisonError, match="Firth .* penalized likelihood"):
            call()
    # maximum-likelihood fits of the same models still compare
    assert glmspec.lrtest(ml_small, glmspec.fit("GRADE ~ GPA + PSI", data, "binomial")).df == 1


def test_ml_zero_count_warning_points_to_firth():
    data = glmspec.datasets.load("cpunish")
    none = data["EXECUTIONS"].rank(method="first") <= 3
    data = data.assign(EXECUTIONS=np.where(none, 0, data["EXECUTIONS"]), NONE=none.astype(float))
    with pytest.warns(SeparationWarning, match="method='firth'"):
        glmspec.fit("EXECUTIONS ~ SOUTH + NONE", data, "poisson")
