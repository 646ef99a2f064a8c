"""fit(..., singular="drop"): R's singular.ok = TRUE, aliased coefficients as NaN.

The reference is the fit without the aliased columns, computed here with statsmodels on the
design with those columns removed (R's fit reports exactly that fit, with NA coefficients).
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

import glmspec
from glmspec.design.aliasing import aliased_columns
from glmspec.errors import SingularDesignError, SpecificationError


def _visitors_without_sunday_rain():
    data = glmspec.datasets.load("restaurant_visitors")
    # an empty interaction cell: no rainy Sunday hours
    return data[~((data["weekday"] == "Sun") & (data["rain"] == 1))]


def _reference(res, family):
    keep = [n for n in res.design.column_names if n not in res.aliased]
    X = np.asarray(res.design.X)[:, [res.design.column_names.index(n) for n in keep]]
    sm_res = sm.GLM(res.design.y, X, family=family, var_weights=res.design.total_weights).fit(
        tol=1e-12
    )
    return keep, sm_res


def test_empty_interaction_cell_poisson_equals_fit_without_aliased_column():
    data = _visitors_without_sunday_rain()
    formula = "visitors ~ C(weekday) * rain + temperature"
    with pytest.raises(SingularDesignError, match=r"C\(weekday\)\[T.Sun\]:rain"):
        glmspec.fit(formula, data, "poisson")
    res = glmspec.fit(formula, data, "poisson", singular="drop")
    assert res.aliased == ("C(weekday)[T.Sun]:rain",)
    assert list(res.params.index) == list(res.design.column_names)
    assert np.isnan(res.params["C(weekday)[T.Sun]:rain"])
    assert np.isnan(res.bse["C(weekday)[T.Sun]:rain"])
    assert np.isnan(res.cov_params().loc["C(weekday)[T.Sun]:rain"]).all()
    keep, sm_res = _reference(res, sm.families.Poisson())
    np.testing.assert_allclose(res.params[keep], sm_res.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse[keep], sm_res.bse, rtol=1e-7)
    assert res.deviance == pytest.approx(sm_res.deviance, rel=1e-10)
    assert res.df_resid == sm_res.df_resid
    assert res.llf == pytest.approx(sm_res.llf, rel=1e-10)
    # R's AIC counts the estimable coefficients only (statsmodels' aic for the Poisson)
    assert res.aic == pytest.approx(sm_res.aic, rel=1e-10)
    assert res.df_model == len(keep) - 1
    np.testing.assert_allclose(res.predict(data.head(20)), sm_res.fittedvalues[:20], rtol=1e-8)


def test_gaussian_aic_counts_estimable_coefficients_and_sigma():
    data = _visitors_without_sunday_rain()
    res = glmspec.fit("visitors ~ C(weekday) * rain", data, singular="drop")
    keep, sm_res = _reference(res, sm.families.Gaussian())
    n, k = len(data), len(keep)
    r_aic = n * (np.log(2 * np.pi * sm_res.deviance / n) + 1) + 2 * (k + 1)
    assert res.aic == pytest.approx(r_aic, rel=1e-10)
    assert res.scale == pytest.approx(sm_res.scale, rel=1e-10)
    assert res.df_resid == n - k


def test_later_column_of_a_collinear_set_is_aliased_as_r():
    data = glmspec.datasets.load("spector")
    data = data.assign(TOTAL=data["GPA"] + 2 * data["TUCE"])
    res = glmspec.fit("GRADE ~ GPA + TUCE + TOTAL + PSI", data, "binomial", singular="drop")
    assert res.aliased == ("TOTAL",)
    keep, sm_res = _reference(res, sm.families.Binomial())
    np.testing.assert_allclose(res.params[keep], sm_res.params, rtol=1e-8)
    assert res.aic == pytest.approx(sm_res.aic, rel=1e-10)
    # a full-rank design is fitted exactly as without the option
    plain = glmspec.fit("GRADE ~ GPA + TUCE + PSI", data, "binomial", singular="drop")
    assert plain.aliased == ()
    assert plain.deviance == glmspec.fit("GRADE ~ GPA + TUCE + PSI", data, "binomial").deviance


def test_aliased_columns_ignores_zero_weight_rows():
    X = np.column_stack([np.ones(4), [0.0, 0.0, 0.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    assert aliased_columns(X, np.array([1.0, 1.0, 1.0, 1.0])) == []
    assert aliased_columns(X, np.array([1.0, 1.0, 1.0, 0.0])) == [1]


def test_singular_option_is_validated_and_guarded():
    data = _visitors_without_sunday_rain()
    with pytest.raises(SpecificationError, match="singular must be"):
        glmspec.fit("visitors ~ rain", data, "poisson", singular="ok")
    with pytest.raises(SpecificationError, match="singular='drop'"):
        glmspec.fit("visitors ~ rain", data, "poisson", singular="drop", cov_type="HC0")
    res = glmspec.fit("visitors ~ C(weekday) * rain", data, "poisson", singular="drop")
    for call in (res.get_influence, lambda: res.wald_test("rain = 0")):
        with pytest.raises(SpecificationError, match="aliased"):
            call()


def test_aliased_fit_prints_na_and_predicts_with_standard_errors_as_r():
    data = _visitors_without_sunday_rain()
    res = glmspec.fit(
        "visitors ~ C(weekday) * rain + temperature", data, "poisson", singular="drop"
    )
    line = next(
        x for x in str(res.summary()).splitlines() if x.startswith("C(weekday)[T.Sun]:rain")
    )
    assert line.split()[1:] == ["NA"] * 6  # estimate, SE, z, p and the interval, as R's NA
    assert "nan" not in str(res.summary()).lower()
    # get_prediction: the reduced design's prediction and standard error (statsmodels)
    keep, sm_res = _reference(res, sm.families.Poisson())
    X = np.asarray(res.design.X)[:, [res.design.column_names.index(n) for n in keep]]
    theirs = sm_res.get_prediction(X[:30]).summary_frame()
    ours = res.get_prediction(data.head(30)).summary_frame()
    np.testing.assert_allclose(ours["mean"], theirs["mean"], rtol=1e-8)
    np.testing.assert_allclose(ours["mean_se"], theirs["mean_se"], rtol=1e-6)
    with pytest.raises(
        SpecificationError, match=r"aliased columns \['C\(weekday\)\[T.Sun\]:rain'\]"
    ):
        res.wald_test_terms()


@pytest.mark.parametrize("warm_start", [False, True])
def test_statsmodels_check_fits_the_design_without_the_aliased_columns(warm_start):
    data = _visitors_without_sunday_rain()
    res = glmspec.fit("visitors ~ C(weekday) * rain + temperature", data, singular="drop")
    table = glmspec.compare(res, warm_start=warm_start)
    assert table.attrs["passed"], table.loc[~table["passed"]]
    assert not any("[T.Sun]:rain" in q for q in table["quantity"])
    assert any("left out of statsmodels' design" in n for n in table.attrs["notes"])
    keep, sm_res = _reference(res, sm.families.Gaussian())
    rows = table.set_index("quantity")
    assert rows.loc["deviance", "statsmodels"] == pytest.approx(sm_res.deviance, rel=1e-10)
    assert rows.loc["df_resid", "statsmodels"] == res.df_resid
    # a wrong estimate of an estimable column still fails
    wrong = res.params.copy()
    wrong["temperature"] += 1e-4 * res.bse["temperature"] + 1e-4 * abs(wrong["temperature"])
    res.params = wrong
    failed = glmspec.compare(res, warm_start=warm_start)
    assert "coef[temperature]" in set(failed.loc[~failed["passed"], "quantity"])
