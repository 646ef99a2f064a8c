"""The coded representation of many-level factors gives the dense design's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.design import matrix as catmatrix
from glmspec.design.matrix import CategoricalBlockMatrix


def _frame(n=3000, seed=0, levels=(60, 40)):
    rng = np.random.default_rng(seed)
    store = rng.integers(0, levels[0], n)
    shop = rng.integers(0, levels[1], n)
    x = rng.normal(size=n)
    eta = 0.4 + 0.3 * x + rng.normal(0, 0.3, levels[0])[store] + rng.normal(0, 0.2, levels[1])[shop]
    return pd.DataFrame(
        {
            "y": rng.poisson(np.exp(eta)),
            "b": (rng.random(n) < 1 / (1 + np.exp(-eta + 1.5))).astype(int),
            "z": eta + rng.normal(size=n),
            "x": x,
            "store": [f"s{i:03d}" for i in store],
            "shop": shop,
            "g": rng.choice(list("abc"), n),
            "w": rng.integers(0, 4, n).astype(float),
            "off": rng.normal(0, 0.1, n),
        }
    )


def _dense_fit(*args, **kwargs):
    threshold = catmatrix.MIN_LEVELS
    catmatrix.MIN_LEVELS = 10**9
    try:
        return glmspec.fit(*args, **kwargs)
    finally:
        catmatrix.MIN_LEVELS = threshold


FORMULAS = [
    "y ~ x + C(store) + g",
    "y ~ x + C(store) + C(shop) + g:x",
    "y ~ 0 + C(store) + x",
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_operations_equal_dense(formula):
    data = _frame()
    res = glmspec.fit(formula, data, "poisson")
    X = res.design.X
    assert isinstance(X, CategoricalBlockMatrix)
    dense = np.asarray(X)
    assert dense.shape == X.shape
    rng = np.random.default_rng(1)
    b, v = rng.normal(size=X.shape[1]), rng.normal(size=X.shape[0])
    w = rng.random(X.shape[0])
    np.testing.assert_allclose(X @ b, dense @ b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X.T @ v, dense.T @ v, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(X.gram(w), dense.T @ (w[:, None] * dense), rtol=1e-10, atol=1e-10)
    signed = w - 0.5
    np.testing.assert_allclose(
        X.gram(signed), dense.T @ (signed[:, None] * dense), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(X.abs_matvec(np.abs(b)), np.abs(dense) @ np.abs(b), rtol=1e-12)
    np.testing.assert_allclose(X.squares_rmatvec(w), (dense * dense).T @ w, rtol=1e-10)
    for j in range(X.shape[1]):
        np.testing.assert_array_equal(X.column(j), dense[:, j])


@pytest.mark.parametrize(
    "formula, family, kwargs",
    [
        ("y ~ x + C(store) + g", "poisson", {}),
        ("y ~ x + C(store) + C(shop)", "poisson", {"weights": "w", "offset": "off"}),
        ("b ~ x + C(store)", "binomial", {}),
        ("z ~ x + C(store) + g", "gaussian", {"weights": "w"}),
        ("y ~ 0 + C(store) + x", "poisson", {}),
        ("y ~ x + C(store)", "poisson", {"link": "sqrt"}),
    ],
)
def test_fit_equals_dense_fit(formula, family, kwargs):
    data = _frame()
    fast = glmspec.fit(formula, data, family, **kwargs)
    slow = _dense_fit(formula, data, family, **kwargs)
    assert isinstance(fast.design.X, CategoricalBlockMatrix)
    assert isinstance(slow.design.X, np.ndarray)
    assert list(fast.params.index) == list(slow.params.index)
    np.testing.assert_allclose(fast.params, slow.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.bse, slow.bse, rtol=1e-10)
    assert fast.llf == pytest.approx(slow.llf, rel=1e-12)
    assert fast.deviance == pytest.approx(slow.deviance, rel=1e-12)
    assert fast.null_deviance == pytest.approx(slow.null_deviance, rel=1e-12)
    new = data.sample(50, random_state=2)
    np.testing.assert_allclose(fast.predict(new), slow.predict(new), rtol=1e-10)
    assert glmspec.compare(fast).attrs["passed"]


def test_few_levels_stay_dense():
    data = _frame()
    res = glmspec.fit("y ~ x + g", data, "poisson")
    assert isinstance(res.design.X, np.ndarray)


def test_custom_contrasts_stay_dense():
    data = _frame()
    res = glmspec.fit("y ~ x + C(store, Sum)", data, "poisson")
    assert isinstance(res.design.X, np.ndarray)


def test_collinear_coded_design_names_columns():
    data = _frame()
    data["store2"] = data["store"]
    with pytest.raises(glmspec.errors.SingularDesignError, match="store2"):
        glmspec.fit("y ~ x + C(store) + C(store2)", data, "poisson")
