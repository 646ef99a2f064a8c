"""get_margeff against statsmodels' Logit/Probit/Poisson get_margeff on bundled data."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.formula.api as smf

import glmspec
from glmspec.errors import SpecificationError


def _close(ours, theirs, rtol):
    np.testing.assert_allclose(ours.iloc[:, 0], theirs.iloc[:, 0], rtol=rtol)
    np.testing.assert_allclose(ours["Std. Err."], theirs["Std. Err."], rtol=rtol)
    np.testing.assert_allclose(ours["z"], theirs["z"], rtol=rtol)
    assert list(ours.columns) == list(theirs.columns)


@pytest.mark.parametrize("at", ["overall", "mean"])
@pytest.mark.parametrize("method", ["dydx", "eyex", "dyex", "eydx"])
def test_logit_numeric_columns_equal_statsmodels(at, method):
    data = glmspec.datasets.load("spector")
    res = glmspec.fit("GRADE ~ GPA + TUCE + PSI", data, "binomial")
    sm_res = smf.logit("GRADE ~ GPA + TUCE + PSI", data).fit(disp=0, tol=1e-12)
    theirs = sm_res.get_margeff(at=at, method=method).summary_frame()
    _close(res.get_margeff(at=at, method=method), theirs, 1e-6)


@pytest.mark.parametrize("at", ["overall", "mean"])
def test_factor_is_a_discrete_change_as_statsmodels_dummy(at):
    data = glmspec.datasets.load("spector")
    res = glmspec.fit("GRADE ~ GPA + TUCE + C(PSI)", data, "binomial")
    sm_res = smf.logit("GRADE ~ GPA + TUCE + C(PSI)", data).fit(disp=0, tol=1e-12)
    theirs = sm_res.get_margeff(at=at, dummy=True).summary_frame()
    _close(res.get_margeff(at=at), theirs, 1e-6)


def test_probit_effects_equal_statsmodels_with_the_same_covariance():
    # glmspec's covariance is the expected information (as R's glm); statsmodels' Probit uses
    # the observed one, so its delta method is given glmspec's covariance for the comparison
    data = glmspec.datasets.load("spector")
    res = glmspec.fit("GRADE ~ GPA + TUCE + C(PSI)", data, "binomial", link="probit")
    sm_res = smf.probit("GRADE ~ GPA + TUCE + C(PSI)", data).fit(disp=0, tol=1e-12)
    cov = res.cov_params().to_numpy()
    sm_res._results.cov_params = lambda *args, **kwargs: cov  # the wrapped results
    theirs = sm_res.get_margeff(dummy=True).summary_frame()
    _close(res.get_margeff(), theirs, 1e-6)


@pytest.mark.parametrize("at", ["overall", "mean"])
def test_poisson_equals_statsmodels(at):
    data = glmspec.datasets.load("cpunish")
    formula = "EXECUTIONS ~ I(INCOME / 10000) + PERPOVERTY + C(SOUTH)"
    res = glmspec.fit(formula, data, "poisson")
    sm_res = smf.poisson(formula, data).fit(disp=0, tol=1e-12)
    theirs = sm_res.get_margeff(at=at, dummy=True).summary_frame()
    _close(res.get_margeff(at=at), theirs, 1e-6)


def test_multilevel_factor_changes_equal_predictions_at_each_level():
    data = glmspec.datasets.load("restaurant_visitors")
    res = glmspec.fit("visitors ~ temperature + C(weekday)", data, "poisson")
    table = res.get_margeff()
    base = res.predict(data.assign(weekday="Fri")).mean()  # Fri: the reference level
    for level in ["Mon", "Sat", "Sun"]:
        change = res.predict(data.assign(weekday=level)).mean() - base
        assert table.loc[f"C(weekday)[T.{level}]", "dy/dx"] == pytest.approx(change, rel=1e-10)


def test_margeff_rejects_bad_options():
    data = glmspec.datasets.load("spector")
    res = glmspec.fit("GRADE ~ GPA", data, "binomial")
    with pytest.raises(SpecificationError, match="method"):
        res.get_margeff(method="dx")
    with pytest.raises(SpecificationError, match="at must"):
        res.get_margeff(at="median")
    no_intercept = glmspec.fit("GRADE ~ 0 + C(PSI) + GPA", data, "binomial")
    with pytest.raises(SpecificationError, match="reference level"):
        no_intercept.get_margeff()
