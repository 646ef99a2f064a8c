"""One guard for what needs a maximum-likelihood GLM in memory (profile intervals, marginal
effects, drop1) and one check of ``alpha``, the 1 - confidence level, wherever it is taken."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.errors import ModelComparisonError, SpecificationError
from glmspec.inference.applicability import not_offered, require_ml_glm_in_memory
from glmspec.inference.dispersion import check_alpha, critical_value
from glmspec.inference.drop1 import drop1
from glmspec.inference.margins import get_margeff
from glmspec.inference.profile import profile_conf_int

#: (computation, its name in messages, the error class it raises)
GUARDED = [
    (lambda res: profile_conf_int(res), "profile intervals", SpecificationError),
    (lambda res: get_margeff(res), "get_margeff", SpecificationError),
    (lambda res: drop1(res), "drop1", ModelComparisonError),
]


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(8)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "y": rng.poisson(np.exp(0.3 + 0.2 * x)).astype(float),
            "x": x,
            "k": rng.choice(["a", "b", "c"], n),
        }
    )


@pytest.mark.parametrize("compute, what, error", GUARDED, ids=[g[1] for g in GUARDED])
def test_multinomial_and_penalized_fits_are_refused_by_one_guard(compute, what, error):
    frame = _frame()
    multinomial = glmspec.fit("k ~ x", frame, "multinomial")
    with pytest.raises(error, match=f"^{what} needs a GLM, not a multinomial fit.$"):
        compute(multinomial)
    penalized = glmspec.fit("y ~ x", frame, "poisson", penalty="l2", alpha=0.1)
    message = f"^{what} needs a maximum-likelihood fit; this fit is penalized.$"
    with pytest.raises(error, match=message):
        compute(penalized)


@pytest.mark.parametrize("compute, what, error", GUARDED, ids=[g[1] for g in GUARDED])
def test_a_dask_fit_gets_the_not_offered_refusal(compute, what, error):
    # only the attributes the guard reads: a Dask fit says engine == "dask"
    dask_like = types.SimpleNamespace(engine="dask", model_kind="glm", spec=None)
    with pytest.raises(error) as info:
        compute(dask_like)
    assert str(info.value) == str(not_offered(what))
    assert "not offered for a fit on Dask data" in str(info.value)


def test_an_ml_glm_in_memory_passes_the_guard():
    res = glmspec.fit("y ~ x", _frame(), "poisson")
    assert require_ml_glm_in_memory(res, "anything") is None


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, True, "0.05", None, float("nan")])
def test_alpha_outside_0_1_is_refused_everywhere(alpha):
    res = glmspec.fit("y ~ x", _frame(), "poisson")
    message = f"alpha must be a number in (0, 1), got {alpha!r}."
    for compute in (
        lambda: check_alpha(alpha),
        lambda: critical_value(alpha, None),
        lambda: res.conf_int(alpha),
        lambda: profile_conf_int(res, alpha),
        lambda: get_margeff(res, alpha=alpha),
        lambda: glmspec.regression_table([res], alpha=alpha),
    ):
        with pytest.raises(SpecificationError) as info:
            compute()
        assert str(info.value) == message


def test_check_alpha_returns_a_float():
    assert check_alpha(np.float32(0.25)) == 0.25 and isinstance(check_alpha(1 / 4), float)
