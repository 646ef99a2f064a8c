"""Multinomial fits through the public API: shapes, conventions and the statsmodels check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import glmspec
from glmspec.errors import PredictionError, ResponseError, SpecificationError

FORMULA = "PID ~ logpopul + selfLR + age + educ + income"


@pytest.fixture(scope="module")
def anes():
    return glmspec.datasets.load("anes96")


@pytest.fixture(scope="module")
def anes_fit(anes):
    return glmspec.fit(FORMULA, anes, family="multinomial")


def test_matches_statsmodels_mnlogit(anes, anes_fit):
    table = glmspec.compare(anes_fit)
    assert table.attrs["passed"], table[~table["passed"]]
    reference = sm.MNLogit(anes_fit.design.y, anes_fit.design.X).fit(
        method="newton", tol=1e-12, maxiter=200, disp=False
    )
    np.testing.assert_allclose(anes_fit.params.to_numpy(), reference.params, rtol=1e-8)
    np.testing.assert_allclose(anes_fit.bse.to_numpy(), reference.bse, rtol=1e-8)
    np.testing.assert_allclose(anes_fit.llf, reference.llf, rtol=1e-12)
    np.testing.assert_allclose(anes_fit.aic, reference.aic, rtol=1e-12)
    np.testing.assert_allclose(anes_fit.bic, reference.bic, rtol=1e-12)
    # statsmodels fits the null model iteratively; ours is the closed form (class frequencies)
    np.testing.assert_allclose(anes_fit.llnull, reference.llnull, rtol=1e-8)
    assert anes_fit.df_model == reference.df_model
    assert anes_fit.df_resid == reference.df_resid


def test_shapes_and_labels(anes_fit):
    names = list(anes_fit.design.column_names)
    classes = [str(c) for c in sorted(set(anes_fit.design.classes))]
    for frame in (anes_fit.params, anes_fit.bse, anes_fit.tvalues, anes_fit.pvalues):
        assert isinstance(frame, pd.DataFrame)
        assert list(frame.index) == names
        assert list(frame.columns) == classes[1:]
    ci = anes_fit.conf_int(0.1)
    assert ci.shape == (anes_fit.params.size, 2)
    assert np.all(ci[0] < ci[1])
    assert anes_fit.cov_params().shape == (anes_fit.params.size, anes_fit.params.size)
    assert anes_fit.scale == 1.0 and not anes_fit.use_t


def test_predict_probabilities(anes, anes_fit):
    probs = anes_fit.predict(anes.head(20))
    assert probs.shape == (20, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(probs.to_numpy(), anes_fit.fittedvalues.head(20).to_numpy())
    linear = anes_fit.predict(anes.head(5), which="linear")
    assert linear.shape == (5, 6)


def test_two_classes_equal_binomial_logit():
    spector = glmspec.datasets.load("spector")
    multi = glmspec.fit("GRADE ~ GPA + TUCE + PSI", spector, family="multinomial")
    binom = glmspec.fit("GRADE ~ GPA + TUCE + PSI", spector, family="binomial")
    np.testing.assert_allclose(multi.params["1"], binom.params, rtol=1e-9)
    np.testing.assert_allclose(multi.bse["1"], binom.bse, rtol=1e-8)
    np.testing.assert_allclose(multi.llf, binom.llf, rtol=1e-12)


def test_string_response_reference_is_first_sorted_level():
    rng = np.random.default_rng(3)
    x = rng.normal(size=600)
    eta = np.column_stack([np.zeros(600), 0.5 + x, -0.5 - x])
    p = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    labels = np.array(["apple", "banana", "cherry"])
    choice = labels[[rng.choice(3, p=row) for row in p]]
    frame = pd.DataFrame({"fruit": choice, "x": x})
    res = glmspec.fit("fruit ~ x", frame, family="multinomial")
    assert res.classes == ("apple", "banana", "cherry")
    assert list(res.params.columns) == ["banana", "cherry"]
    shuffled = frame.assign(fruit=pd.Categorical(frame.fruit, ["cherry", "apple", "banana"]))
    relabelled = glmspec.fit("fruit ~ x", shuffled, family="multinomial")
    assert relabelled.classes[0] == "cherry"
    np.testing.assert_allclose(
        relabelled.fittedvalues[["apple", "banana", "cherry"]].to_numpy(),
        res.fittedvalues.to_numpy(),
        rtol=1e-7,
    )


def test_bad_inputs(anes):
    one_class = anes.assign(PID=1)
    with pytest.raises(ResponseError, match="single class"):
        glmspec.fit(FORMULA, one_class, family="multinomial")
    with pytest.raises(SpecificationError, match="softmax"):
        glmspec.fit(FORMULA, anes, family="multinomial", link="probit")
    frame = pd.DataFrame({"y": list("abcabcabca"), "g": list("uvuvuvuvuv"), "x": range(10)})
    res = glmspec.fit("y ~ g", frame, family="multinomial")
    with pytest.raises(PredictionError, match="'w'"):
        res.predict(pd.DataFrame({"g": ["w"]}))
    weighted = glmspec.fit("y ~ x", frame, family="multinomial", weights=np.ones(10))
    with pytest.raises(SpecificationError, match="MNLogit"):
        glmspec.compare(weighted)
