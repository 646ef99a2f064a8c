"""Ridge and elastic-net fits: the objective's minimum, checked without other libraries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import glmspec
from glmspec.errors import SpecError, SpecificationError
from glmspec.spec import Spec


def _data(n=600, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.r_[0.6, -0.4, 0.3, np.zeros(p - 3)]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)])
    frame["count"] = rng.poisson(np.exp(0.2 + X @ beta))
    frame["hit"] = (rng.random(n) < 1 / (1 + np.exp(-(X @ beta)))).astype(int)
    frame["z"] = 1 + X @ beta + rng.normal(size=n)
    return frame, " + ".join(f"x{i}" for i in range(p))


def _objective(res, coef):
    """glum's objective, evaluated with glmspec's own family and design."""
    d, fam = res.design, res.family
    mu = fam.link.inverse(np.asarray(d.X) @ coef + d.offset)
    dev = fam.deviance(d.y, mu, d.prior_weights)
    b = coef[1:]
    a, rho = res.spec.alpha, res.spec.l1_ratio
    return dev / (2 * d.prior_weights.sum()) + a * (rho * np.abs(b).sum() + (1 - rho) / 2 * b @ b)


@pytest.mark.parametrize(
    "family, response", [("poisson", "count"), ("binomial", "hit"), ("gaussian", "z")]
)
@pytest.mark.parametrize("alpha, l1_ratio", [(0.05, None), (0.02, 0.5), (0.03, 1.0)])
def test_estimates_minimise_the_objective(family, response, alpha, l1_ratio):
    frame, terms = _data()
    penalty = "l2" if l1_ratio is None else "elastic_net"
    res = glmspec.fit(
        f"{response} ~ {terms}", frame, family, penalty=penalty, alpha=alpha, l1_ratio=l1_ratio
    )
    assert res.converged
    coef = res.params.to_numpy()
    best = _objective(res, coef)
    # no coordinate move, in either direction, lowers the objective (it is convex)
    for j in range(len(coef)):
        for step in (1e-5, -1e-5):
            moved = coef.copy()
            moved[j] += step
            assert _objective(res, moved) >= best - 1e-12
    # and a generic optimiser started elsewhere finds no lower value
    other = optimize.minimize(
        lambda c: _objective(res, c),
        np.zeros_like(coef),
        method="Powell",
        options={"xtol": 1e-10, "ftol": 1e-14, "maxfev": 40000},
    )
    assert best <= other.fun + 1e-10


def test_lasso_sets_small_coefficients_to_exactly_zero_and_keeps_the_intercept():
    frame, terms = _data()
    res = glmspec.fit(
        f"count ~ {terms}", frame, "poisson", penalty="elastic_net", alpha=0.05, l1_ratio=1.0
    )
    assert np.all(res.params[["x3", "x4", "x5"]] == 0.0)
    assert res.params["Intercept"] != 0.0 and res.params["x0"] != 0.0


def test_no_standard_errors_and_the_summary_says_why():
    frame, terms = _data()
    res = glmspec.fit(f"count ~ {terms}", frame, "poisson", penalty="l2", alpha=0.1)
    assert res.bse.isna().all() and res.pvalues.isna().all()
    assert "penalized fit" in str(res.summary())
    with pytest.raises(SpecificationError, match="penalized"):
        glmspec.compare(res)


def test_alpha_zero_equals_the_unpenalized_fit():
    frame, terms = _data()
    plain = glmspec.fit(f"hit ~ {terms}", frame, "binomial")
    ridge = glmspec.fit(f"hit ~ {terms}", frame, "binomial", penalty="l2", alpha=0.0)
    np.testing.assert_allclose(ridge.params, plain.params, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"penalty": "elasticnet", "alpha": 0.1}, "Did you mean .elastic_net."),
        ({"penalty": "elastic_net", "alpha": 0.1}, "l1_ratio"),
        ({"penalty": "l2", "alpha": -1.0}, "alpha"),
        ({"alpha": 0.1}, "penalty"),
        ({"penalty": "l2", "alpha": 0.1, "cov_type": "HC0"}, "standard errors"),
    ],
)
def test_bad_penalty_options(kwargs, match):
    frame, terms = _data(n=100)
    with pytest.raises(SpecificationError, match=match):
        glmspec.fit(f"count ~ {terms}", frame, "poisson", **kwargs)


def test_penalty_from_a_spec_and_its_validation(tmp_path):
    frame, terms = _data(n=200)
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    model = {
        "name": "ridge",
        "formula": f"count ~ {terms}",
        "family": "poisson",
        "penalty": "l2",
        "alpha": 0.1,
    }
    (item,) = Spec.from_dict({"data": str(path), "model": [model]}).fit()
    assert item.results.spec.penalty == "l2" and item.check is None and item.check_error
    with pytest.raises(SpecError, match="penalty"):
        Spec.from_dict({"data": str(path), "model": [{**model, "penalty": "l3"}]})
