"""The array path gives the formula path's numbers and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import glmspec
from glmspec.errors import DataError, MissingValueError, PredictionError


@pytest.fixture(scope="module")
def formula_fit():
    return glmspec.fit(
        "visitors ~ hour + C(weekday) + rain",
        glmspec.datasets.load("restaurant_visitors"),
        "poisson",
    )


def test_equals_formula_fit(formula_fit):
    d = formula_fit.design
    res = glmspec.fit_arrays(d.y, d.X, "poisson", column_names=d.column_names)
    np.testing.assert_allclose(res.params, formula_fit.params, rtol=1e-12)
    np.testing.assert_allclose(res.bse, formula_fit.bse, rtol=1e-12)
    assert res.llf == pytest.approx(formula_fit.llf, rel=1e-13)
    assert list(res.params.index) == list(formula_fit.params.index)
    np.testing.assert_allclose(res.predict(d.X[:5]), formula_fit.fittedvalues[:5], rtol=1e-12)
    assert glmspec.compare(res).attrs["passed"]


def test_weights_offset_and_links():
    rng = np.random.default_rng(5)
    X = np.column_stack([np.ones(400), rng.normal(size=(400, 2))])
    trials = rng.integers(1, 20, 400).astype(float)
    p = 1 / (1 + np.exp(-(X @ [0.2, 0.5, -0.4])))
    prop = rng.binomial(trials.astype(int), p) / trials
    res = glmspec.fit_arrays(prop, X, "binomial", link="probit", weights=trials)
    assert res.converged and glmspec.compare(res).attrs["passed"]
    off = rng.normal(0, 0.1, 400)
    counts = rng.poisson(np.exp(X @ [0.3, 0.2, 0.1] + off))
    res = glmspec.fit_arrays(counts, X, "poisson", offset=off)
    assert glmspec.compare(res).attrs["passed"]
    np.testing.assert_allclose(res.predict(X[:3], offset=off[:3]), res.fittedvalues[:3], rtol=1e-12)


def test_multinomial_labels():
    rng = np.random.default_rng(6)
    X = np.column_stack([np.ones(600), rng.normal(size=600)])
    labels = rng.choice(["lo", "mid", "hi"], 600)
    res = glmspec.fit_arrays(labels, X, "multinomial")
    assert res.classes == ("hi", "lo", "mid")
    assert glmspec.compare(res).attrs["passed"]


def test_errors():
    X = np.ones((10, 2))
    with pytest.raises(DataError, match="shape"):
        glmspec.fit_arrays(np.ones(9), X, "poisson")
    with pytest.raises(MissingValueError, match="column"):
        glmspec.fit_arrays(np.ones(10), np.where(np.eye(10, 2) > 0, np.nan, 1.0), "poisson")
    with pytest.raises(DataError, match="column_names"):
        glmspec.fit_arrays(np.ones(10), X, "poisson", column_names=["a"])
    res = glmspec.fit_arrays(
        np.arange(10.0), np.column_stack([np.ones(10), np.arange(10.0)]), "gaussian"
    )
    with pytest.raises(PredictionError, match="2 columns"):
        res.predict(np.ones((3, 3)))
