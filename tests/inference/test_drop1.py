"""drop1 (R's drop1.glm) and sequential anova in R's term order.

References: R's own printed output of ``example(drop1)`` (``tests/Examples/stats-Ex.Rout.save``
in R's sources, github wch/r-source), and refits of each reduced model with statsmodels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

import glmspec
from glmspec.errors import DomainWarning, ModelComparisonError


def _dobson():
    """Dobson (1990) p. 93, R's ``glm.D93`` of ``example(glm)``."""
    return pd.DataFrame(
        {
            "counts": [18, 17, 15, 20, 10, 20, 25, 13, 12],
            "outcome": [str(i % 3 + 1) for i in range(9)],
            "treatment": [str(i // 3 + 1) for i in range(9)],
        }
    )


def test_drop1_matches_r_printed_output_glm_d93():
    """R 4.x ``drop1(glm.D93, test = "Chisq")`` and ``test = "F"``, printed in
    wch/r-source tests/Examples/stats-Ex.Rout.save (3 significant digits)::

                  Df Deviance  AIC  LRT Pr(>Chi)
        <none>           5.13 56.8
        outcome    2    10.58 58.2 5.45    0.065 .
        treatment  2     5.13 52.8 0.00    1.000
                  Df Deviance  AIC F value Pr(>F)
        outcome    2    10.58 58.2    2.13   0.23
    """
    res = glmspec.fit("counts ~ C(outcome) + C(treatment)", _dobson(), "poisson")
    table = res.drop1("Chisq")
    assert list(table.index) == ["<none>", "C(outcome)", "C(treatment)"]
    assert list(table.columns) == ["Df", "Deviance", "AIC", "LRT", "Pr(>Chi)"]
    rounded = {"Deviance": [5.13, 10.58, 5.13], "AIC": [56.8, 58.2, 52.8]}
    for column, printed in rounded.items():
        decimals = 2 if column == "Deviance" else 1
        np.testing.assert_array_equal(np.round(table[column].to_numpy(), decimals), printed)
    assert round(table.loc["C(outcome)", "LRT"], 2) == 5.45
    assert round(table.loc["C(outcome)", "Pr(>Chi)"], 3) == 0.065
    with pytest.warns(DomainWarning, match="quasipoisson"):
        f_table = res.drop1("F")
    assert round(f_table.loc["C(outcome)", "F value"], 2) == 2.13
    assert round(f_table.loc["C(outcome)", "Pr(>F)"], 2) == 0.23


def _sm_fit(formula, data, family, **kw):
    return smf.glm(formula, data, family=family, **kw).fit(tol=1e-12)


def test_poisson_drop1_equals_statsmodels_refits_with_offset():
    data = glmspec.datasets.load("restaurant_visitors")
    data = data.assign(lhours=np.log(data["hour"] - 10.0))
    formula = "visitors ~ temperature + C(weekday) + rain + event"
    res = glmspec.fit(formula, data, "poisson", offset="lhours")
    table = res.drop1("Chisq")
    # R's order is the written order, patsy puts C(weekday) first
    assert list(table.index) == ["<none>", "temperature", "C(weekday)", "rain", "event"]
    terms = ["temperature", "C(weekday)", "rain", "event"]
    for term in terms:
        reduced = " + ".join(t for t in terms if t != term)
        sm_res = _sm_fit(
            f"visitors ~ {reduced}", data, sm.families.Poisson(), offset=data["lhours"]
        )
        row = table.loc[term]
        assert row["Df"] == res.df_model - sm_res.df_model
        assert row["Deviance"] == pytest.approx(sm_res.deviance, rel=1e-9)
        # dispersion 1: the AIC column is the reduced model's own AIC
        assert row["AIC"] == pytest.approx(sm_res.aic, rel=1e-9)
        lrt = sm_res.deviance - res.deviance
        assert row["LRT"] == pytest.approx(lrt, rel=1e-7)
        assert row["Pr(>Chi)"] == pytest.approx(stats.chi2.sf(lrt, row["Df"]), rel=1e-6)
    assert table.loc["<none>", "AIC"] == pytest.approx(res.aic, rel=1e-12)


def test_binomial_counts_drop1_respects_marginality_and_weights():
    data = glmspec.datasets.load("star98")
    formula = "NABOVE + NBELOW ~ LOWINC * PERASIAN + PCTAF + PTRATIO"
    res = glmspec.fit(formula, data, "binomial")
    table = res.drop1("Chisq")
    # LOWINC and PERASIAN are margins of LOWINC:PERASIAN: R's drop.scope keeps them
    assert list(table.index) == ["<none>", "PCTAF", "PTRATIO", "LOWINC:PERASIAN"]
    assert table.attrs["dispersion"] == 1.0
    for term, reduced in [
        ("PCTAF", "LOWINC + PERASIAN + LOWINC:PERASIAN + PTRATIO"),
        ("PTRATIO", "LOWINC + PERASIAN + LOWINC:PERASIAN + PCTAF"),
        ("LOWINC:PERASIAN", "LOWINC + PERASIAN + PCTAF + PTRATIO"),
    ]:
        sm_res = _sm_fit(f"NABOVE + NBELOW ~ {reduced}", data, sm.families.Binomial())
        assert table.loc[term, "Deviance"] == pytest.approx(sm_res.deviance, rel=1e-9)
        assert table.loc[term, "AIC"] == pytest.approx(sm_res.aic, rel=1e-9)
        assert table.loc[term, "Df"] == 1


def test_gamma_drop1_uses_the_full_models_dispersion():
    data = glmspec.datasets.load("scotland")
    terms = ["COUTAX", "UNEMPF", "MOR", "ACT"]
    res = glmspec.fit("YES ~ " + " + ".join(terms), data, "gamma")
    chisq, f_table = res.drop1("Chisq"), res.drop1("F")
    phi = res.pearson_chi2 / res.df_resid
    assert chisq.attrs["dispersion"] == pytest.approx(phi, rel=1e-12)
    assert "scaled dev." in chisq.columns and "LRT" not in chisq.columns
    rms = res.deviance / res.df_resid
    for term in terms:
        reduced = " + ".join(t for t in terms if t != term)
        sm_res = _sm_fit(f"YES ~ {reduced}", data, sm.families.Gamma())
        dev = sm_res.deviance
        assert chisq.loc[term, "Deviance"] == pytest.approx(dev, rel=1e-9)
        # R: AIC = deviance / dispersion + 2 rank, shifted so <none> is the model's AIC
        aic = dev / phi + 2 * (len(terms)) + res.aic - (res.deviance / phi + 2 * (len(terms) + 1))
        assert chisq.loc[term, "AIC"] == pytest.approx(aic, rel=1e-9)
        scaled = (dev - res.deviance) / phi
        assert chisq.loc[term, "scaled dev."] == pytest.approx(scaled, rel=1e-7)
        assert chisq.loc[term, "Pr(>Chi)"] == pytest.approx(stats.chi2.sf(scaled, 1), rel=1e-6)
        f_value = (dev - res.deviance) / rms
        assert f_table.loc[term, "F value"] == pytest.approx(f_value, rel=1e-7)
        p = stats.f.sf(f_value, 1, res.df_resid)
        assert f_table.loc[term, "Pr(>F)"] == pytest.approx(p, rel=1e-6)


def test_gaussian_drop1_aic_is_each_reduced_models_r_aic():
    data = glmspec.datasets.load("spector")
    res = glmspec.fit("GPA ~ TUCE + PSI + GRADE", data)
    table = res.drop1("Chisq")
    n = len(data)
    for term in ["TUCE", "PSI", "GRADE"]:
        reduced = " + ".join(t for t in ["TUCE", "PSI", "GRADE"] if t != term)
        sm_res = smf.ols(f"GPA ~ {reduced}", data).fit()
        # R's AIC of a Gaussian glm counts sigma; statsmodels' aic does too for OLS
        assert table.loc[term, "AIC"] == pytest.approx(sm_res.aic + 2, rel=1e-9)
        lrt = n * np.log(sm_res.ssr / res.deviance)
        assert table.loc[term, "scaled dev."] == pytest.approx(lrt, rel=1e-8)
    assert list(res.drop1().columns) == ["Df", "Deviance", "AIC"]


def test_quasi_family_has_no_aic_column():
    data = glmspec.datasets.load("cpunish")
    res = glmspec.fit("EXECUTIONS ~ INCOME + SOUTH", data, "quasipoisson")
    table = res.drop1("F")
    assert "AIC" not in table.columns
    sm_res = _sm_fit("EXECUTIONS ~ SOUTH", data, sm.families.Poisson())
    f_value = (sm_res.deviance - res.deviance) / (res.deviance / res.df_resid)
    assert table.loc["INCOME", "F value"] == pytest.approx(f_value, rel=1e-7)


def test_drop1_rejects_bad_test_and_models_it_does_not_apply_to():
    data = glmspec.datasets.load("spector")
    res = glmspec.fit("GRADE ~ GPA + PSI", data, "binomial")
    with pytest.raises(ModelComparisonError, match="test must be"):
        res.drop1("Wald")
    arrays = glmspec.fit_arrays(data["GRADE"], data[["GPA", "PSI"]], "binomial")
    with pytest.raises(ModelComparisonError, match="formula"):
        arrays.drop1()


def test_sequential_anova_follows_r_term_order():
    data = glmspec.datasets.load("scotland")
    # patsy would put C(high) (categorical only) first and x:C(high) among the columns of x
    data = data.assign(high=np.where(data["UNEMPF"] > data["UNEMPF"].median(), "hi", "lo"))
    res = glmspec.fit("YES ~ COUTAX:C(high) + COUTAX + C(high) + MOR", data, "gamma")
    table = res.anova()
    assert list(table.index) == ["NULL", "COUTAX", "C(high)", "MOR", "COUTAX:C(high)"]
    steps = ["COUTAX", "COUTAX + C(high)", "COUTAX + C(high) + MOR"]
    for name, formula in zip(["COUTAX", "C(high)", "MOR"], steps, strict=True):
        sm_res = _sm_fit(f"YES ~ {formula}", data, sm.families.Gamma())
        assert table.loc[name, "Resid. Dev"] == pytest.approx(sm_res.deviance, rel=1e-9)
    assert table.loc["COUTAX:C(high)", "Resid. Dev"] == pytest.approx(res.deviance, rel=1e-12)
