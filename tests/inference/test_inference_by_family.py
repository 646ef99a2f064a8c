"""Inference extras for the families beyond gaussian/binomial/poisson, and frequency weights.

Each case is skipped while glmspec lacks the family (or ``fit(freq_weights=)``). Checks:
HC0 and cluster covariances against statsmodels' ``GLM.fit(cov_type=...)``, HC3 against R's
``vcovHC`` built from statsmodels' pieces, prediction frames, influence measures (expected
information) and Anscombe residuals against statsmodels.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.outliers_influence import MLEInfluence

import glmspec
from glmspec.design.build import predict_matrix
from glmspec.inference.covariance import robust_cov
from glmspec.inference.influence import get_influence
from glmspec.inference.prediction import get_prediction
from glmspec.inference.residuals import resid_anscombe
from glmspec.inference.wald import wald_test

RTOL = 1e-6
SM_FIT = {"method": "IRLS", "maxiter": 1000, "tol": 1e-13, "rtol": 0.0, "tol_criterion": "params"}
LINKS = sm.families.links


def close(actual, desired, rtol=RTOL):
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    atol = rtol * 1e-3 * np.nanmax(np.abs(desired))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol)


def _positive(n=500, seed=0, shape=4.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    mu = np.exp(0.7 + 0.5 * x)
    return pd.DataFrame(
        {
            "x": x,
            "y": rng.gamma(shape, mu / shape),
            "g": rng.integers(0, 15, n),
            "f": rng.integers(1, 4, n).astype(float),
            "z": rng.normal(size=n),
        }
    )


def _counts(n=600, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    mu = np.exp(1.0 + 0.6 * x)
    y = rng.negative_binomial(3.0, 3.0 / (3.0 + mu))
    return pd.DataFrame({"x": x, "y": y, "g": rng.integers(0, 12, n), "z": rng.normal(size=n)})


def _tweedie(n=500, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    mu = np.exp(0.3 + 0.4 * x)
    events = rng.poisson(mu)
    y = np.array([rng.gamma(2.0, 0.5, k).sum() for k in events])
    return pd.DataFrame({"x": x, "y": y, "g": rng.integers(0, 10, n), "z": rng.normal(size=n)})


@dataclass
class Case:
    name: str
    family: str
    link: str | None
    make_data: Any
    sm_family: Any
    fit_kwargs: dict = field(default_factory=dict)
    sm_kwargs: dict = field(default_factory=dict)
    needs: str | None = None


CASES = [
    Case("gamma_log", "gamma", "log", _positive, lambda: sm.families.Gamma(LINKS.Log())),
    Case("gamma_inverse", "gamma", None, _positive, lambda: sm.families.Gamma()),
    Case(
        "inverse_gaussian_log",
        "inverse_gaussian",
        "log",
        lambda: _positive(shape=20.0),
        lambda: sm.families.InverseGaussian(LINKS.Log()),
    ),
    Case(
        "negbin_fixed_theta",
        "negative_binomial",
        "log",
        _counts,
        lambda: sm.families.NegativeBinomial(alpha=1 / 3.0),
        {"theta": 3.0},
    ),
    Case(
        "tweedie_1_5",
        "tweedie",
        "log",
        _tweedie,
        lambda: sm.families.Tweedie(LINKS.Log(), var_power=1.5),
        {"var_power": 1.5},
    ),
    Case(
        "gamma_freq_weights",
        "gamma",
        "log",
        _positive,
        lambda: sm.families.Gamma(LINKS.Log()),
        {"freq_weights": "f"},
        needs="freq_weights",
    ),
]


@pytest.fixture(scope="module", params=CASES, ids=[c.name for c in CASES])
def case(request):
    c = request.param
    data = c.make_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = glmspec.fit("y ~ x + z", data, c.family, c.link, **c.fit_kwargs)
        freq = c.fit_kwargs.get("freq_weights")
        model = sm.GLM(
            data["y"].to_numpy(dtype=float),
            np.asarray(res.design.X),
            family=c.sm_family(),
            freq_weights=None if freq is None else data[freq].to_numpy(),
        )
        sm_res = model.fit(use_t=res.use_t, **SM_FIT)
        hc0 = model.fit(cov_type="HC0", **SM_FIT)
        cluster = model.fit(cov_type="cluster", cov_kwds={"groups": data["g"].to_numpy()}, **SM_FIT)
    return {"case": c, "data": data, "res": res, "model": model, "sm": sm_res, "hc0": hc0,
            "cluster": cluster}  # fmt: skip


def test_params_agree(case):
    close(case["res"].params, case["sm"].params)


def test_hc0_and_cluster(case):
    res = case["res"]
    close(robust_cov(res, "HC0"), case["hc0"].cov_params())
    close(robust_cov(res, "cluster", case["data"]["g"].to_numpy()), case["cluster"].cov_params())


def test_hc3_vcovhc(case):
    model, params = case["model"], case["sm"].params
    scores = model.score_obs(params)
    inverse = np.linalg.inv(-model.hessian(params))
    freq = np.asarray(model.freq_weights)
    h = MLEInfluence(case["sm"]).hat_matrix_diag
    expected = inverse @ (scores.T / freq / (1 - h) ** 2) @ scores @ inverse
    close(robust_cov(case["res"], "HC3"), expected)


def test_wald(case):
    ours = wald_test(case["res"], "x = 0.5, z = 0")
    theirs = case["sm"].wald_test("x1 = 0.5, x2 = 0", scalar=True)
    close(ours.statistic, theirs.statistic)
    close(ours.pvalue, theirs.pvalue)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # statsmodels' own check
def test_prediction(case):
    new = case["data"].iloc[::40]
    ours = get_prediction(case["res"], new).summary_frame()
    exog = predict_matrix(case["res"].design, new)
    theirs = case["sm"].get_prediction(exog).summary_frame()
    close(ours[["mean", "mean_se"]], theirs[["mean", "mean_se"]])
    ends = np.sort(theirs[["mean_ci_lower", "mean_ci_upper"]].to_numpy(), axis=1)
    close(ours[["mean_ci_lower", "mean_ci_upper"]], ends)


def test_influence_expected(case):
    if case["case"].needs == "freq_weights":
        pytest.skip("statsmodels' influence measures do not support freq_weights")
    ours = get_influence(case["res"], observed=False)
    theirs = case["sm"].get_influence(observed=False)
    close(ours.hat_matrix_diag, theirs.hat_matrix_diag)
    close(ours.resid_studentized, theirs.resid_studentized)
    close(ours.cooks_distance, theirs.cooks_distance[0])


def test_anscombe(case):
    close(resid_anscombe(case["res"]), case["sm"].resid_anscombe)
