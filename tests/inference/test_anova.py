"""Sequential analysis of deviance (R's anova(fit)) against statsmodels and nested fits."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.anova import anova_lm

import glmspec
from glmspec.errors import ModelComparisonError


def test_gaussian_sequential_anova_equals_anova_lm():
    data = glmspec.datasets.load("spector")
    table = glmspec.fit("GRADE ~ GPA + TUCE + PSI", data).anova()
    reference = anova_lm(smf.ols("GRADE ~ GPA + TUCE + PSI", data).fit())
    assert table.attrs["test"] == "F"
    np.testing.assert_allclose(table["Deviance"].iloc[1:], reference["sum_sq"].iloc[:3], rtol=1e-10)
    np.testing.assert_allclose(table["F"].iloc[1:], reference["F"].iloc[:3], rtol=1e-9)
    np.testing.assert_allclose(table["Pr(>F)"].iloc[1:], reference["PR(>F)"].iloc[:3], rtol=1e-8)


def test_poisson_sequential_anova_equals_nested_fits():
    data = glmspec.datasets.load("restaurant_visitors")
    full = glmspec.fit("visitors ~ hour + C(weekday) + rain", data, "poisson")
    table = full.anova()
    # R's order (as written), although patsy puts the C(weekday) columns before hour
    assert list(table.index) == ["NULL", "hour", "C(weekday)", "rain"]
    first = glmspec.fit("visitors ~ hour", data, "poisson")
    second = glmspec.fit("visitors ~ hour + C(weekday)", data, "poisson")
    np.testing.assert_allclose(
        table["Resid. Dev"],
        [full.null_deviance, first.deviance, second.deviance, full.deviance],
        rtol=1e-10,
    )
    dev = second.deviance - full.deviance
    assert table.loc["rain", "Pr(>Chi)"] == pytest.approx(
        stats.chi2.sf(dev, 1), rel=1e-9, abs=1e-300
    )
    assert table.loc["C(weekday)", "Df"] == 6


def test_sequential_anova_refuses_multinomial():
    data = glmspec.datasets.load("anes96")
    res = glmspec.fit("PID ~ age + educ", data, "multinomial")
    with pytest.raises(ModelComparisonError, match="GLM"):
        res.anova()
