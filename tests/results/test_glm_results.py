"""The public API: what :func:`glmspec.fit` accepts and what its results expose."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import glmspec
from glmspec import datasets
from glmspec.errors import PredictionError
from tests.helpers import sm_link

VISITORS = "visitors ~ hour + C(weekday) + rain + temperature + event"


@pytest.fixture(scope="module")
def visitors_fit(visitors_data):
    return glmspec.fit(VISITORS, visitors_data, "poisson")


def _exposure_data(n=800, seed=0):
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "g": rng.choice(["lo", "mid", "hi"], n),
            "t": rng.uniform(0.5, 3.0, n),
            "w": rng.integers(1, 4, n).astype(float),
        },
        index=pd.RangeIndex(1000, 1000 + n),
    )
    data["log_t"] = np.log(data["t"])
    effect = data["g"].map({"lo": 0.0, "mid": 0.3, "hi": 0.6})
    data["y"] = rng.poisson(data["t"] * np.exp(0.2 + 0.5 * data["x"] + effect))
    return data


# --------------------------------------------------------------------------------------------
# The attribute contract
# --------------------------------------------------------------------------------------------


def test_every_attribute_exists_with_type_and_index(visitors_data, visitors_fit):
    res = visitors_fit
    names = list(datasets.truth("restaurant_visitors"))
    assert list(res.params.index) == names  # patsy's names, in design order
    for series in (res.params, res.bse, res.tvalues, res.pvalues):
        assert isinstance(series, pd.Series)
        assert list(series.index) == names
        assert series.dtype == np.float64
        assert np.all(np.isfinite(series))
    ci = res.conf_int()
    assert isinstance(ci, pd.DataFrame)
    assert list(ci.columns) == [0, 1]
    assert list(ci.index) == names
    assert np.all(ci[0] < res.params) and np.all(res.params < ci[1])
    narrow = res.conf_int(alpha=0.5)
    assert np.all(narrow[0] > ci[0]) and np.all(narrow[1] < ci[1])
    for name in ("llf", "deviance", "null_deviance", "aic", "bic", "scale", "pearson_chi2"):
        value = getattr(res, name)
        assert isinstance(value, numbers.Real) and np.isfinite(value), name
    for name in ("df_resid", "df_model", "nobs", "n_iter"):
        assert isinstance(getattr(res, name), numbers.Real), name
    assert res.nobs == len(visitors_data) == 3000
    assert res.df_model == len(names) - 1
    assert res.df_resid == res.nobs - len(names)
    assert res.converged is True
    assert isinstance(res.n_iter, int) and 1 <= res.n_iter < 25
    assert res.scale == 1.0
    assert res.null_deviance > res.deviance > 0
    for series in (
        res.fittedvalues,
        res.resid_response,
        res.resid_pearson,
        res.resid_deviance,
        res.resid_working,
        res.linear_predictor,
    ):
        assert isinstance(series, pd.Series)
        assert series.index.equals(visitors_data.index)
        assert len(series) == len(visitors_data)
    cov = res.cov_params()
    assert isinstance(cov, pd.DataFrame) and list(cov.index) == names
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), res.bse, rtol=1e-12)
    assert res.separation is None
    assert "GLMResults" in repr(res) and "poisson" in repr(res)


def test_restaurant_visitors_recovers_truth_within_3_se(visitors_fit):
    truth = pd.Series(datasets.truth("restaurant_visitors"))
    res = visitors_fit
    z = (res.params - truth[res.params.index]) / res.bse
    assert np.all(np.abs(z) < 3), z
    assert np.all(np.abs(res.tvalues) > 7)  # as documented in datasets/README.md


def test_fitted_values_are_inverse_link_of_linear_predictor(visitors_fit):
    res = visitors_fit
    X = res.design.X
    np.testing.assert_allclose(res.linear_predictor, X @ res.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(res.fittedvalues, np.exp(res.linear_predictor), rtol=1e-12)
    np.testing.assert_allclose(res.resid_response, res.design.y - res.fittedvalues, rtol=1e-12)


def test_pseudo_rsquared(visitors_fit):
    res = visitors_fit
    assert res.pseudo_rsquared() == pytest.approx(1 - res.llf / res.llnull)
    assert res.pseudo_rsquared("cs") == pytest.approx(
        1 - np.exp(2 * (res.llnull - res.llf) / res.nobs)
    )


# --------------------------------------------------------------------------------------------
# Residuals against statsmodels
# --------------------------------------------------------------------------------------------

RESIDUAL_CASES = {
    "poisson-log-offset-weights": (
        lambda: _exposure_data(),
        "y ~ x + g",
        "poisson",
        "log",
        "w",
        "log_t",
    ),
    "poisson-sqrt": (lambda: _exposure_data(seed=1), "y ~ x + g", "poisson", "sqrt", None, None),
    "binomial-probit-spector": (
        lambda: datasets.load("spector"),
        "GRADE ~ GPA + TUCE + PSI",
        "binomial",
        "probit",
        None,
        None,
    ),
    "gaussian-log-weights": (
        lambda: datasets.load("scotland").assign(w=np.tile([1.0, 2.0], 16)),
        "YES ~ COUTAX + UNEMPF + MOR",
        "gaussian",
        "log",
        "w",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(RESIDUAL_CASES))
def test_residuals_match_statsmodels(case):
    make, formula, family, link, weights, offset = RESIDUAL_CASES[case]
    data = make()
    res = glmspec.fit(formula, data, family, link, weights=weights, offset=offset)
    sm_family = {
        "poisson": sm.families.Poisson,
        "binomial": sm.families.Binomial,
        "gaussian": sm.families.Gaussian,
    }[family](sm_link(link))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm_res = sm.GLM(
            res.design.y,
            res.design.X,
            family=sm_family,
            var_weights=None if weights is None else data[weights],
            offset=None if offset is None else data[offset],
        ).fit(maxiter=1000, tol=1e-13, rtol=0.0, tol_criterion="params")
    scale = np.abs(np.asarray(sm_res.resid_pearson)).max()
    for kind in ("response", "pearson", "deviance", "working"):
        ours = getattr(res, f"resid_{kind}")
        assert ours.index.equals(data.index)
        np.testing.assert_allclose(
            ours, getattr(sm_res, f"resid_{kind}"), rtol=1e-6, atol=1e-7 * scale, err_msg=kind
        )
    np.testing.assert_allclose(res.fittedvalues, sm_res.fittedvalues, rtol=1e-6)
    # Pearson chi-square and deviance are the sums of squared residuals
    assert res.pearson_chi2 == pytest.approx(np.sum(res.resid_pearson**2), rel=1e-10)
    assert res.deviance == pytest.approx(np.sum(res.resid_deviance**2), rel=1e-10)


def test_binomial_count_residuals_are_on_the_proportion_scale():
    """R: residuals(type="response") of cbind(s, f) ~ ... are y - mu with y = s / (s + f)."""
    data = datasets.load("star98")
    res = glmspec.fit("NABOVE + NBELOW ~ LOWINC + PERASIAN + PERBLACK", data, "binomial")
    trials = data["NABOVE"] + data["NBELOW"]
    np.testing.assert_allclose(
        res.resid_response, data["NABOVE"] / trials - res.fittedvalues, rtol=1e-12
    )
    counts = data[["NABOVE", "NBELOW"]].to_numpy(float)
    sm_res = sm.GLM(counts, res.design.X, family=sm.families.Binomial()).fit(tol=1e-12)
    np.testing.assert_allclose(res.resid_pearson, sm_res.resid_pearson, rtol=1e-6)
    np.testing.assert_allclose(res.resid_deviance, sm_res.resid_deviance, rtol=1e-6)
    # statsmodels reports response residuals in counts
    np.testing.assert_allclose(res.resid_response * trials, sm_res.resid_response, rtol=1e-6)


# --------------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------------


def test_predict_mean_and_linear(visitors_data, visitors_fit):
    res = visitors_fit
    new = visitors_data.iloc[[5, 17, 2999, 0]]
    mean = res.predict(new)
    linear = res.predict(new, which="linear")
    assert isinstance(mean, pd.Series) and mean.index.equals(new.index)
    np.testing.assert_allclose(mean, res.fittedvalues.loc[new.index], rtol=1e-12)
    np.testing.assert_allclose(linear, np.log(mean), rtol=1e-12)
    # by hand, for a row not in the data
    row = pd.DataFrame(
        {
            "hour": [12],
            "weekday": ["Sat"],
            "rain": [1],
            "temperature": [20.5],
            "event": [0],
            "date": ["2030-01-01"],
        }
    )
    p = res.params
    eta = (
        p["Intercept"]
        + 12 * p["hour"]
        + p["C(weekday)[T.Sat]"]
        + p["rain"]
        + 20.5 * p["temperature"]
    )
    assert res.predict(row, which="linear").iloc[0] == pytest.approx(eta, rel=1e-12)
    assert res.predict(row).iloc[0] == pytest.approx(np.exp(eta), rel=1e-12)
    # the reference level, and a subset of levels in another order
    two = pd.DataFrame(
        {
            "hour": [11, 11],
            "weekday": ["Sun", "Fri"],
            "rain": [0, 0],
            "temperature": [10.0, 10.0],
            "event": [1, 1],
        }
    )
    lin = res.predict(two, which="linear")
    assert lin.iloc[0] - lin.iloc[1] == pytest.approx(p["C(weekday)[T.Sun]"], rel=1e-10)
    # newdata=None gives the fitted values
    pd.testing.assert_series_equal(res.predict(), res.fittedvalues)
    pd.testing.assert_series_equal(res.predict(which="linear"), res.linear_predictor)


def test_predict_uses_the_offset_column():
    data = _exposure_data()
    res = glmspec.fit("y ~ x + g", data, "poisson", offset="log_t")
    new = data.iloc[:20].copy()
    np.testing.assert_allclose(res.predict(new), res.fittedvalues.iloc[:20], rtol=1e-12)
    new["log_t"] = np.log(10.0)
    ten = res.predict(new)
    np.testing.assert_allclose(ten, 10 * res.predict(new.assign(log_t=0.0)), rtol=1e-12)
    linear = res.predict(new, which="linear")
    X = res.design.X[:20]
    np.testing.assert_allclose(linear, X @ res.params.to_numpy() + np.log(10.0), rtol=1e-12)
    # an explicit offset= overrides the column
    np.testing.assert_allclose(res.predict(new, offset=np.zeros(20)), ten / 10, rtol=1e-12)
    with pytest.raises(PredictionError, match="log_t"):
        res.predict(new.drop(columns="log_t"))


def test_predict_after_array_offset_needs_offset():
    data = _exposure_data()
    res = glmspec.fit("y ~ x + g", data, "poisson", offset=data["log_t"].to_numpy())
    new = data.iloc[:5]
    with pytest.raises(PredictionError, match="offset"):
        res.predict(new)
    np.testing.assert_allclose(
        res.predict(new, offset=new["log_t"].to_numpy()), res.fittedvalues.iloc[:5], rtol=1e-12
    )


def test_summary_text(visitors_fit):
    text = str(visitors_fit.summary())
    for name in visitors_fit.params.index:
        assert name in text
    for word in (
        "AIC",
        "BIC",
        "poisson",
        "log",
        "Null deviance",
        "Residual deviance",
        "z value",
        VISITORS,
    ):
        assert word in text
    gaussian = glmspec.fit("YES ~ COUTAX + UNEMPF", datasets.load("scotland"))
    assert "t value" in str(gaussian.summary())
    assert f"{gaussian.aic:.8g}" in str(gaussian.summary())


# --------------------------------------------------------------------------------------------
# Binomial response forms
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(3)
    n = 400
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + 1.2 * x)))).astype(np.int64)
    return x, y


def _fit_y(x, y):
    return glmspec.fit("y ~ x", pd.DataFrame({"x": x, "y": y}), "binomial")


@pytest.mark.parametrize(
    "form",
    [
        "int",
        "float",
        "bool",
        "str",
        "str-other-words",
        "string-dtype",
        "categorical",
        "categorical-unordered-input",
    ],
)
def test_binomial_response_forms_agree(binary, form):
    x, y = binary
    reference = _fit_y(x, y)
    response = {
        "int": y,
        "float": y.astype(float),
        "bool": y.astype(bool),
        "str": np.where(y == 1, "yes", "no"),  # "yes" sorts second: success, as R
        "str-other-words": np.where(y == 1, "pass", "fail"),
        "string-dtype": pd.array(np.where(y == 1, "yes", "no"), dtype="string"),
        "categorical": pd.Categorical(np.where(y == 1, "yes", "no")),
        "categorical-unordered-input": pd.Categorical(
            np.where(y == 1, "b", "a"), categories=["a", "b"]
        ),
    }[form]
    res = _fit_y(x, response)
    pd.testing.assert_series_equal(res.params, reference.params, rtol=1e-12)
    pd.testing.assert_series_equal(res.bse, reference.bse, rtol=1e-12)
    assert res.llf == pytest.approx(reference.llf, rel=1e-12)
    np.testing.assert_array_equal(res.design.y, y)


def test_binomial_categorical_second_category_is_success(binary):
    """As R's factor: the second *level* (category order, not sort order) is the success."""
    x, y = binary
    reference = _fit_y(x, y)
    labels = np.where(y == 1, "yes", "no")
    flipped = _fit_y(x, pd.Categorical(labels, categories=["yes", "no"]))
    assert flipped.design.classes == ("yes", "no")
    np.testing.assert_allclose(flipped.params, -reference.params, rtol=1e-10)
    np.testing.assert_allclose(flipped.fittedvalues, 1 - reference.fittedvalues, rtol=1e-10)
    assert flipped.llf == pytest.approx(reference.llf, rel=1e-12)


def test_binomial_string_response_with_missing_drop(binary):
    x, y = binary
    labels = np.where(y == 1, "yes", "no").astype(object)
    labels[:7] = None
    res = glmspec.fit("y ~ x", pd.DataFrame({"x": x, "y": labels}), "binomial", missing="drop")
    reference = _fit_y(x[7:], y[7:])
    assert res.n_dropped == 7 and res.nobs == len(y) - 7
    pd.testing.assert_series_equal(res.params, reference.params, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Data handling
# --------------------------------------------------------------------------------------------


def test_callers_dataframe_is_unchanged():
    data = _exposure_data()
    data["label"] = pd.Categorical(np.where(data["x"] > 0, "pos", "neg"))
    data["flag"] = data["x"] > 1
    data["text"] = pd.array(data["g"], dtype="string")
    data.loc[data.index[:4], "x"] = np.nan
    before = data.copy(deep=True)
    res = glmspec.fit(
        "y ~ x + text + flag", data, "poisson", weights="w", offset="log_t", missing="drop"
    )
    res.predict(data.dropna())
    str(res.summary())
    glmspec.fit("label ~ g", data, "binomial")
    glmspec.fit("flag ~ g + log_t", data, "binomial")
    pd.testing.assert_frame_equal(data, before)
    assert list(data.dtypes) == list(before.dtypes)


def test_string_columns_are_factors():
    data = _exposure_data()
    as_string = glmspec.fit("y ~ x + g", data, "poisson")
    as_c = glmspec.fit("y ~ x + C(g)", data, "poisson")
    as_cat = glmspec.fit("y ~ x + g", data.assign(g=pd.Categorical(data["g"])), "poisson")
    # levels sorted: "hi" is the reference, as in R and patsy
    assert list(as_string.params.index) == ["Intercept", "g[T.lo]", "g[T.mid]", "x"]
    assert list(as_c.params.index) == ["Intercept", "C(g)[T.lo]", "C(g)[T.mid]", "x"]
    np.testing.assert_allclose(as_string.params.to_numpy(), as_c.params.to_numpy(), rtol=1e-12)
    pd.testing.assert_series_equal(as_string.params, as_cat.params, rtol=1e-12)
    assert as_string.design.factor_levels["g"] == ("hi", "lo", "mid")
    # the same as hand-made dummies
    dummies = data.assign(lo=(data["g"] == "lo") * 1.0, mid=(data["g"] == "mid") * 1.0)
    by_hand = glmspec.fit("y ~ lo + mid + x", dummies, "poisson")
    np.testing.assert_allclose(by_hand.params.to_numpy(), as_string.params.to_numpy(), rtol=1e-10)
    # and through statsmodels' own formula interface
    sm_res = sm.GLM.from_formula("y ~ x + g", data, family=sm.families.Poisson()).fit(tol=1e-12)
    np.testing.assert_allclose(as_string.params[sm_res.params.index], sm_res.params, rtol=1e-8)


def test_mapping_data_and_index_labels():
    data = _exposure_data(n=300)
    from_dict = glmspec.fit("y ~ x + g", {k: data[k].to_numpy() for k in data}, "poisson")
    from_frame = glmspec.fit("y ~ x + g", data, "poisson")
    np.testing.assert_allclose(from_dict.params, from_frame.params, rtol=1e-12)
    assert from_frame.fittedvalues.index.equals(data.index)


def test_missing_drop_keeps_index_labels_of_used_rows():
    data = _exposure_data(n=300)
    data.loc[data.index[[3, 10, 11]], "x"] = np.nan
    data.loc[data.index[20], "g"] = None
    res = glmspec.fit("y ~ x + g", data, "poisson", missing="drop")
    kept = data.dropna(subset=["x", "g"])
    assert res.n_dropped == 4 and res.nobs == len(kept)
    assert res.fittedvalues.index.equals(kept.index)
    reference = glmspec.fit("y ~ x + g", kept, "poisson")
    pd.testing.assert_series_equal(res.params, reference.params, rtol=1e-12)


def test_weights_column_and_array_identical():
    data = _exposure_data()
    by_name = glmspec.fit("y ~ x + g", data, "poisson", weights="w")
    by_array = glmspec.fit("y ~ x + g", data, "poisson", weights=data["w"].to_numpy())
    pd.testing.assert_series_equal(by_name.params, by_array.params, rtol=1e-13)
    assert by_name.llf == by_array.llf
    assert by_name.spec.weights == "w" and by_array.spec.weights == "array"


def test_family_and_link_spellings():
    data = datasets.load("spector")
    base = glmspec.fit("GRADE ~ GPA + TUCE + PSI", data, "binomial")
    for family, link in [
        ("Binomial", None),
        ("bernoulli", "logit"),
        ("binomial", "LOGIT"),
        (glmspec.families.get_family("binomial"), None),
    ]:
        res = glmspec.fit("GRADE ~ GPA + TUCE + PSI", data, family, link)
        pd.testing.assert_series_equal(res.params, base.params, rtol=1e-12)
    assert base.family.link.name == "logit"
    assert glmspec.fit("YES ~ AGE", datasets.load("scotland")).family.name == "gaussian"
