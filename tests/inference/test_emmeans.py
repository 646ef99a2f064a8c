"""Estimated marginal means (R's emmeans) against closed forms, an independent computation from
statsmodels fits at the reference grid, and statsmodels' Tukey HSD.

Sources of the reference numbers:
* InsectSprays (R's ``datasets``; values as in R, typed below): emmeans' "transformations"
  vignette fits ``glm(count ~ spray, family = poisson())`` and states that the EMMs equal the
  observed mean counts (``tapply(count, spray, mean)``); the delta-method SE of a one-factor
  Poisson mean is then ``sqrt(mean / n)`` and the interval ``exp(log(mean) -/+ z / sqrt(n mean))``
  (closed forms).
* Several factors, covariates and offsets: statsmodels' GLM fitted to the same data, its design
  rows built by patsy at a grid the test builds itself (emmeans' ``ref_grid`` rules from its
  documentation: factors' levels, two-valued covariates at both values, others at their mean,
  the mean offset), averaged per level; the response-scale SE by a numerical derivative.
* Tukey: statsmodels' ``pairwise_tukeyhsd`` (Tukey-Kramer from group means and the pooled
  variance), which a one-way Gaussian model's pairwise contrasts must equal.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multicomp import pairwise_tukeyhsd

import glmspec
from glmspec.errors import SpecificationError

COUNTS = [10, 7, 20, 14, 14, 12, 10, 23, 17, 20, 14, 13, 11, 17, 21, 11, 16, 14, 17, 17, 19, 21]
COUNTS += [7, 13, 0, 1, 7, 2, 3, 1, 2, 1, 3, 0, 1, 4, 3, 5, 12, 6, 4, 3, 5, 5, 5, 5, 2, 4, 3, 5]
COUNTS += [3, 5, 3, 6, 1, 1, 3, 2, 6, 4, 11, 9, 15, 22, 15, 16, 13, 10, 26, 26, 24, 13]
INSECT_SPRAYS = pd.DataFrame({"count": COUNTS, "spray": np.repeat(list("ABCDEF"), 12)})


def test_one_factor_poisson_means_are_the_observed_means_with_closed_form_se():
    res = glmspec.fit("count ~ spray", INSECT_SPRAYS, "poisson")
    emm = res.emmeans("spray")
    groups = INSECT_SPRAYS.groupby("spray")["count"]
    mean, n = groups.mean().to_numpy(), groups.size().to_numpy()
    np.testing.assert_allclose(emm["estimate"], mean, rtol=1e-9)
    np.testing.assert_allclose(emm["se"], np.sqrt(mean / n), rtol=1e-9)
    z = stats.norm.isf(0.025)
    np.testing.assert_allclose(emm["lower"], mean * np.exp(-z / np.sqrt(n * mean)), rtol=1e-9)
    np.testing.assert_allclose(emm["upper"], mean * np.exp(z / np.sqrt(n * mean)), rtol=1e-9)
    assert list(emm.index) == list("ABCDEF") and emm.index.name == "spray"
    # ratios of the means, as emmeans' pairs() on the response scale
    pairs = res.emmeans("spray", pairwise=True, adjust="none")
    assert pairs.index[0] == "A / B" and pairs.attrs["kind"] == "ratio"
    np.testing.assert_allclose(pairs["estimate"].iloc[0], mean[0] / mean[1], rtol=1e-9)
    se_log = np.sqrt(1 / (n[0] * mean[0]) + 1 / (n[1] * mean[1]))
    np.testing.assert_allclose(pairs["statistic"].iloc[0], np.log(mean[0] / mean[1]) / se_log)
    np.testing.assert_allclose(pairs["se"].iloc[0], mean[0] / mean[1] * se_log, rtol=1e-9)


def _grid_reference(sm_res, data, formula, factor, dims, covariates, offset, inverse):
    """EMMs from statsmodels' fit: patsy rows at the grid, averaged per level of ``factor``."""
    order = [factor, *[d for d in dims if d != factor]]
    grid = pd.DataFrame(list(itertools.product(*(dims[d] for d in order))), columns=order)
    for name, value in covariates.items():
        grid[name] = value
    info = patsy.dmatrix(formula.split("~")[1], data, eval_env=0).design_info
    assert info.column_names == list(sm_res.params.index)
    X = np.asarray(patsy.build_design_matrices([info], grid)[0])
    L = X.reshape(len(dims[factor]), -1, X.shape[1]).mean(axis=1)
    eta = L @ sm_res.params.to_numpy() + offset
    se_eta = np.sqrt(np.diag(L @ sm_res.cov_params().to_numpy() @ L.T))
    h = 1e-6
    slope = (inverse(eta + h) - inverse(eta - h)) / (2 * h)
    return inverse(eta), np.abs(slope) * se_eta, eta, se_eta


def test_factors_two_valued_covariate_and_numeric_mean_equal_statsmodels_grid():
    data = glmspec.datasets.load("restaurant_visitors")
    formula = "visitors ~ np.log(hour) + C(weekday) * rain + temperature"
    res = glmspec.fit(formula, data, "poisson")
    emm = res.emmeans("C(weekday)")
    sm_res = smf.glm(formula, data, family=sm.families.Poisson()).fit(tol=1e-12)
    dims = {"weekday": sorted(data["weekday"].unique()), "rain": [0, 1]}
    # hour at the mean of hour (emmeans: the variable, not log(hour)); rain at 0 and 1
    covs = {"hour": data["hour"].mean(), "temperature": data["temperature"].mean()}
    est, se, _, _ = _grid_reference(sm_res, data, formula, "weekday", dims, covs, 0.0, np.exp)
    np.testing.assert_allclose(emm["estimate"], est, rtol=1e-7)
    np.testing.assert_allclose(emm["se"], se, rtol=1e-6)
    assert emm.attrs["averaged_over"] == ["rain"]
    assert emm.attrs["covariates"] == pytest.approx(covs)


def test_binomial_with_weights_and_offset_uses_the_mean_offset_and_t_free_z_intervals():
    data = glmspec.datasets.load("spector").assign(off=lambda d: 0.1 * d["TUCE"] - 2.0)
    formula = "GRADE ~ GPA + C(PSI)"
    res = glmspec.fit(formula, data, "binomial", offset="off")
    emm = res.emmeans("C(PSI)")
    sm_res = smf.glm(formula, data, family=sm.families.Binomial(), offset=data["off"]).fit(
        tol=1e-12
    )
    logistic = stats.logistic.cdf
    est, se, eta, se_eta = _grid_reference(
        sm_res,
        data,
        formula,
        "PSI",
        {"PSI": [0, 1]},
        {"GPA": data["GPA"].mean()},
        data["off"].mean(),
        logistic,
    )
    np.testing.assert_allclose(emm["estimate"], est, rtol=1e-7)
    np.testing.assert_allclose(emm["se"], se, rtol=1e-6)
    z = stats.norm.isf(0.025)
    np.testing.assert_allclose(emm["lower"], logistic(eta - z * se_eta), rtol=1e-7)
    np.testing.assert_allclose(emm["upper"], logistic(eta + z * se_eta), rtol=1e-7)
    # odds ratio of the two levels; offset=0 moves every mean
    pairs = res.emmeans("C(PSI)", pairwise=True)
    assert pairs.attrs["kind"] == "odds.ratio" and pairs.index[0] == "0 / 1"
    odds = est / (1 - est)
    np.testing.assert_allclose(pairs["estimate"].iloc[0], odds[0] / odds[1], rtol=1e-7)
    assert not np.allclose(res.emmeans("C(PSI)", offset=0.0)["estimate"], emm["estimate"])


def test_estimated_dispersion_gives_t_intervals_on_df_resid():
    data = INSECT_SPRAYS.iloc[3:]
    res = glmspec.fit("count ~ spray", data, "gaussian")
    emm = res.emmeans("spray")
    groups = data.groupby("spray")["count"]
    se = np.sqrt(res.scale / groups.size().to_numpy())
    np.testing.assert_allclose(emm["estimate"], groups.mean(), rtol=1e-9)
    np.testing.assert_allclose(emm["se"], se, rtol=1e-9)
    q = stats.t.isf(0.025, res.df_resid)
    np.testing.assert_allclose(emm["upper"] - emm["estimate"], q * se, rtol=1e-9)
    assert emm.attrs["df"] == res.df_resid


def test_tukey_contrasts_equal_statsmodels_tukey_hsd_on_unbalanced_groups():
    data = INSECT_SPRAYS.iloc[3:]  # 9 rows of A, 12 of the others
    res = glmspec.fit("count ~ spray", data, "gaussian")
    ours = res.emmeans("spray", pairwise=True)
    theirs = pairwise_tukeyhsd(data["count"], data["spray"])
    assert ours.attrs["kind"] == "difference" and ours.index[0] == "A - B"
    # statsmodels reports group2 - group1, emmeans group1 - group2
    np.testing.assert_allclose(ours["estimate"], -theirs.meandiffs, rtol=1e-9)
    np.testing.assert_allclose(ours["pvalue"], theirs.pvalues, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(ours["lower"], -theirs.confint[:, 1], rtol=1e-7)
    np.testing.assert_allclose(ours["upper"], -theirs.confint[:, 0], rtol=1e-7)


def test_holm_adjustment_and_bonferroni_intervals():
    res = glmspec.fit("count ~ spray", INSECT_SPRAYS, "poisson")
    raw = res.emmeans("spray", pairwise=True, adjust="none")
    holm = res.emmeans("spray", pairwise=True, adjust="holm")
    m = len(raw)
    order = np.argsort(raw["pvalue"].to_numpy())
    step = np.maximum.accumulate(raw["pvalue"].to_numpy()[order] * (m - np.arange(m)))
    expected = np.empty(m)
    expected[order] = np.minimum(step, 1.0)
    np.testing.assert_allclose(holm["pvalue"], expected, rtol=1e-12)
    z = stats.norm.isf(0.025 / m)
    log_se = holm["se"] / holm["estimate"]
    np.testing.assert_allclose(np.log(holm["upper"] / holm["estimate"]), z * log_se, rtol=1e-9)


def test_errors_name_the_term_and_list_the_factors():
    data = glmspec.datasets.load("restaurant_visitors")
    res = glmspec.fit("visitors ~ hour + C(weekday)", data, "poisson")
    with pytest.raises(SpecificationError, match=r"'weekday' is not a factor.*'C\(weekday\)'"):
        res.emmeans("weekday")
    with pytest.raises(SpecificationError, match="'hour' is numeric"):
        res.emmeans("hour")
    assert res.emmeans("factor(weekday)").equals(res.emmeans("C(weekday)"))
    with pytest.raises(SpecificationError, match="adjust must be"):
        res.emmeans("C(weekday)", pairwise=True, adjust="scheffe")
    computed = glmspec.fit("visitors ~ C(hour > 12)", data, "poisson")
    with pytest.raises(SpecificationError, match="computed"):
        computed.emmeans("C(hour > 12)")


def test_models_it_does_not_apply_to_are_refused():
    classes = INSECT_SPRAYS.assign(y=np.tile(["a", "b", "c"], 24), g=np.tile(["u", "v"], 36))
    multi = glmspec.fit("y ~ g + count", classes, "multinomial")
    with pytest.raises(SpecificationError, match="emmeans needs a GLM, not a multinomial fit"):
        multi.emmeans("g")
    X = np.column_stack([np.ones(72), INSECT_SPRAYS["spray"] == "A"])
    arrays = glmspec.fit_arrays(INSECT_SPRAYS["count"].to_numpy(), X, "poisson")
    with pytest.raises(SpecificationError, match="formula"):
        arrays.emmeans("x1")
    # with aliased columns the mean averaging over the empty cell is not estimable (R's nonEst)
    cells = INSECT_SPRAYS.assign(g=np.tile(["u", "v"], 36))
    cells = cells[~((cells["spray"] == "A") & (cells["g"] == "v"))]
    aliased = glmspec.fit("count ~ spray * g", cells, "poisson", singular="drop")
    means = aliased.emmeans("spray")
    assert np.isnan(means.loc["A"]).all() and np.isfinite(means.drop("A")).all().all()


def test_a_covariate_is_a_grid_factor_only_when_it_takes_at_most_two_values():
    # emmeans' cov.keep = "2": checked over every row, not only the first ones
    three = np.r_[np.zeros(66), [1.0, 2.0] * 3]
    two = np.r_[np.zeros(66), [1.0] * 6]
    data = INSECT_SPRAYS.assign(three=three, two=two)
    res = glmspec.fit("count ~ spray + three + two", data, "poisson")
    emm = res.emmeans("spray")
    assert emm.attrs["covariates"] == {"three": pytest.approx(three.mean())}
    assert emm.attrs["averaged_over"] == ["two"]


@pytest.mark.parametrize("alpha", [0, 1, True, "0.05", float("nan")])
def test_alpha_and_penalized_fits_are_refused_with_the_shared_messages(alpha):
    data = glmspec.datasets.load("restaurant_visitors")
    res = glmspec.fit("visitors ~ hour + C(weekday)", data, "poisson")
    with pytest.raises(SpecificationError) as info:
        res.emmeans("C(weekday)", alpha=alpha)
    assert str(info.value) == f"alpha must be a number in (0, 1), got {alpha!r}."
    ridge = glmspec.fit("visitors ~ hour + C(weekday)", data, "poisson", penalty="l2", alpha=0.1)
    with pytest.raises(SpecificationError, match="emmeans needs a maximum-likelihood fit"):
        ridge.emmeans("C(weekday)")
