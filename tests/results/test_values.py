"""Values where other tests assert only shapes or types (issue 17: two mutants survived).

* ``glmspec.anova`` of three or more models with the F test: every row's F and p-value use the
  *largest* model's dispersion and residual df (R's ``anova.glm``), computed here from R's
  formula and checked against statsmodels' ``anova_lm``;
* multinomial ``predict(which="linear")`` includes the offset; ``conf_int`` values equal
  statsmodels' ``MNLogit``;
* rows of zero weight: Pearson chi-square and every residual equal statsmodels' with zero
  ``var_weights``, and the multinomial residuals equal their closed forms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import special, stats
from statsmodels.stats.anova import anova_lm

import glmspec

SPECTOR = ("GRADE ~ GPA", "GRADE ~ GPA + TUCE", "GRADE ~ GPA + TUCE + PSI")


def _r_f_table(deviances, dfs, dispersion):
    """R's anova.glm F rows: (dev diff / df diff) / dispersion of the LARGEST model, against
    F(df diff, df_resid of the largest model)."""
    df_big = dfs[-1]
    f_values, p_values = [], []
    for i in range(1, len(deviances)):
        df = dfs[i - 1] - dfs[i]
        f = (deviances[i - 1] - deviances[i]) / df / dispersion
        f_values.append(f)
        p_values.append(stats.f.sf(f, df, df_big))
    return np.array(f_values), np.array(p_values)


def test_anova_of_three_gaussian_models_uses_the_largest_models_dispersion_and_df():
    data = glmspec.datasets.load("spector")
    fits = [glmspec.fit(f, data) for f in SPECTOR]
    table = glmspec.anova(*fits)
    assert table.attrs["test"] == "F"
    deviances = [sum((smf.ols(f, data).fit().resid) ** 2) for f in SPECTOR]
    dfs = [len(data) - len(smf.ols(f, data).fit().params) for f in SPECTOR]
    dispersion = deviances[-1] / dfs[-1]
    f_values, p_values = _r_f_table(deviances, dfs, dispersion)
    np.testing.assert_allclose(table["F"].iloc[1:], f_values, rtol=1e-9)
    np.testing.assert_allclose(table["Pr(>F)"].iloc[1:], p_values, rtol=1e-8)
    assert table.attrs["dispersion"] == pytest.approx(dispersion, rel=1e-10)
    # statsmodels' anova_lm of several models scales by the largest model too (same F), but
    # takes each row's own residual df for the p-value, where R takes the largest model's
    reference = anova_lm(*(smf.ols(f, data).fit() for f in SPECTOR))
    np.testing.assert_allclose(table["F"].iloc[1:], reference["F"].iloc[1:], rtol=1e-9)
    own_df = stats.f.sf(reference["F"].iloc[1:], reference["df_diff"].iloc[1:], dfs[1:])
    np.testing.assert_allclose(reference["Pr(>F)"].iloc[1:], own_df, rtol=1e-8)
    # ... which gives another p-value in the first row: the test tells the two apart
    assert abs(own_df[0] - p_values[0]) > 1e-4 * p_values[0]


def test_anova_of_three_gamma_models_uses_the_largest_models_pearson_dispersion():
    data = glmspec.datasets.load("scotland")
    formulas = (
        "YES ~ COUTAX",
        "YES ~ COUTAX + UNEMPF",
        "YES ~ COUTAX + UNEMPF + MOR + ACT",
    )
    fits = [glmspec.fit(f, data, "gamma", "log") for f in formulas]
    table = glmspec.anova(*fits)
    family = sm.families.Gamma(sm.families.links.Log())
    refs = [smf.glm(f, data, family=family).fit(tol=1e-12) for f in formulas]
    # R: summary(big)$dispersion, the Pearson chi-square over the largest model's df
    dispersion = refs[-1].pearson_chi2 / refs[-1].df_resid
    f_values, p_values = _r_f_table(
        [r.deviance for r in refs], [r.df_resid for r in refs], dispersion
    )
    assert table.attrs["test"] == "F"
    np.testing.assert_allclose(table["F"].iloc[1:], f_values, rtol=1e-7)
    np.testing.assert_allclose(table["Pr(>F)"].iloc[1:], p_values, rtol=1e-6)
    np.testing.assert_allclose(table["Df"].iloc[1:], [1, 2])


@pytest.fixture(scope="module")
def offset_data():
    rng = np.random.default_rng(3)
    n = 200
    x = rng.normal(size=n)
    offset = rng.normal(0, 0.5, n)
    eta = np.column_stack([np.zeros(n), 0.3 + 0.6 * x + offset, -0.2 - 0.5 * x + offset])
    codes = (rng.random(n)[:, None] > np.cumsum(special.softmax(eta, axis=1), axis=1)).sum(1)
    return pd.DataFrame({"y": np.array(["a", "b", "c"])[codes], "x": x, "off": offset})


def test_multinomial_linear_prediction_includes_the_offset(offset_data):
    res = glmspec.fit("y ~ x", offset_data, "multinomial", offset="off")
    new = pd.DataFrame({"x": [-1.0, 0.0, 2.0], "off": [0.5, -1.0, 3.0]})
    linear = res.predict(new, which="linear")
    coef = res.params.to_numpy()  # rows Intercept, x; columns the classes b, c
    expected = np.column_stack([np.ones(3), new["x"]]) @ coef + new["off"].to_numpy()[:, None]
    np.testing.assert_allclose(linear.to_numpy(), expected, rtol=1e-12)
    probs = special.softmax(np.column_stack([np.zeros(3), expected]), axis=1)
    np.testing.assert_allclose(res.predict(new).to_numpy(), probs, rtol=1e-12)
    # in sample too
    x = offset_data["x"].to_numpy()
    in_sample = (
        np.column_stack([np.ones(len(x)), x]) @ coef + offset_data["off"].to_numpy()[:, None]
    )
    np.testing.assert_allclose(res.predict(which="linear").to_numpy(), in_sample, rtol=1e-12)


def test_multinomial_conf_int_values_equal_statsmodels():
    data = glmspec.datasets.load("anes96")
    res = glmspec.fit("PID ~ logpopul + selfLR + age + educ + income", data, "multinomial")
    ref = sm.MNLogit(res.design.y, res.design.X).fit(
        method="newton", tol=1e-12, maxiter=200, disp=False
    )
    for alpha in (0.05, 0.1):
        ours = res.conf_int(alpha)
        theirs = ref.conf_int(alpha).reshape(-1, 2)  # (class, column) in class-major order
        assert list(ours.index) == [
            (str(k), name) for k in res.classes[1:] for name in res.design.column_names
        ]
        np.testing.assert_allclose(ours.to_numpy(), theirs, rtol=1e-7, atol=1e-9)


def _zero_weight_frame(seed: int = 24, n: int = 300):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    w = rng.integers(1, 4, n).astype(float)
    zero = rng.random(n) < 0.2
    w[zero] = 0.0
    return rng, x, w, zero


@pytest.mark.parametrize("family", ["poisson", "binomial", "gamma"])
def test_zero_weight_rows_pearson_and_residuals_equal_statsmodels(family):
    rng, x, w, zero = _zero_weight_frame()
    mu = np.exp(0.4 + 0.3 * x)
    y = {
        "poisson": lambda: rng.poisson(mu).astype(float),
        "binomial": lambda: (rng.random(len(x)) < mu / (1 + mu)).astype(float),
        "gamma": lambda: rng.gamma(4.0, mu / 4.0),
    }[family]()
    data = pd.DataFrame({"y": y, "x": x, "w": w})
    link = "logit" if family == "binomial" else "log"
    res = glmspec.fit("y ~ x", data, family, link, weights="w")
    sm_family = {
        "poisson": sm.families.Poisson(),
        "binomial": sm.families.Binomial(),
        "gamma": sm.families.Gamma(sm.families.links.Log()),
    }[family]
    ref = sm.GLM(y, sm.add_constant(x), family=sm_family, var_weights=w).fit(tol=1e-13)
    assert res.pearson_chi2 == pytest.approx(ref.pearson_chi2, rel=1e-8)
    for name in ("resid_pearson", "resid_deviance", "resid_response", "resid_working"):
        ours = np.asarray(getattr(res, name))
        np.testing.assert_allclose(ours, getattr(ref, name), rtol=1e-7, atol=1e-9, err_msg=name)
    # a zero weight row has Pearson and deviance residuals of exactly zero
    assert np.all(np.asarray(res.resid_pearson)[zero] == 0.0)
    assert np.all(np.asarray(res.resid_deviance)[zero] == 0.0)


def test_multinomial_residuals_equal_their_closed_forms_with_zero_weights():
    rng, x, w, zero = _zero_weight_frame()
    y = rng.choice(["a", "b", "c"], len(x))
    res = glmspec.fit("y ~ x", pd.DataFrame({"y": y, "x": x, "w": w}), "multinomial", weights="w")
    probs = res.fittedvalues.to_numpy()
    onehot = (y[:, None] == np.array(["a", "b", "c"])).astype(float)
    np.testing.assert_allclose(res.resid_response.to_numpy(), onehot - probs, atol=1e-12)
    pearson = np.sqrt(w)[:, None] * (onehot - probs) / np.sqrt(probs * (1 - probs))
    np.testing.assert_allclose(res.resid_pearson.to_numpy(), pearson, rtol=1e-10, atol=1e-12)
    observed = probs[np.arange(len(y)), onehot.argmax(axis=1)]
    deviance = np.sqrt(w * -2.0 * np.log(observed))
    np.testing.assert_allclose(res.resid_deviance.to_numpy(), deviance, rtol=1e-10)
    assert np.sum(res.resid_deviance.to_numpy() ** 2) == pytest.approx(res.deviance, rel=1e-10)
    assert np.all(res.resid_deviance.to_numpy()[zero] == 0.0)
    assert np.all(res.resid_pearson.to_numpy()[zero] == 0.0)
