"""glmspec against R on the bundled real data sets.

The reference numbers are in ``tests/r_reference/r_reference.json``, written by the committed
script ``tests/r_reference/make_reference.R`` (R's version and every package's version are
recorded in the file's ``provenance``); these tests only read the JSON and do not need R.
Models are written twice, in R in the script and in patsy here; R's coefficient names are
translated to patsy's (``factor(x)a`` -> ``C(x)[T.a]``) and matched by name, so patsy's column
order (factor columns before a numeric written first) does not matter.

Tolerance: 1e-6 relative, or tighter where the problem's conditioning allows. R fitted with
``epsilon = 1e-12`` and glmspec with its default criterion, so both are the optimum to far
below that; what remains is rounding amplified by the design's conditioning.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

import glmspec
from glmspec import datasets
from glmspec.errors import DomainWarning
from glmspec.families.negbin import theta_information

REFERENCE = Path(__file__).resolve().parents[1] / "r_reference" / "r_reference.json"
RTOL = 1e-6
#: Coefficients and SEs of ML fits: R's Fisher scoring for non-canonical links stops about
#: 1e-8 relative short of the optimum (glmspec's score there is 1e-14 in SE units); 1e-7 leaves
#: room for BLAS differences in glmspec.
GLM_RTOL = 1e-7


@cache
def reference() -> dict:
    return json.loads(REFERENCE.read_text())


def r_name(name: str) -> str:
    """R's coefficient name in patsy's spelling: ``factor(educ)7:factor(PID)3`` ->
    ``C(educ)[T.7]:C(PID)[T.3]``; ``(Intercept)`` -> ``Intercept``."""
    if name == "(Intercept)":
        return "Intercept"
    return ":".join(re.sub(r"^factor\((\w+)\)(.+)$", r"C(\1)[T.\2]", p) for p in name.split(":"))


def r_series(entry: dict) -> pd.Series:
    values = [np.nan if v is None else v for v in entry["values"]]
    return pd.Series(values, index=[r_name(n) for n in entry["names"]], dtype=float)


def r_values(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def assert_named(actual: pd.Series, expected: pd.Series, rtol: float = RTOL, atol: float = 0.0):
    assert sorted(actual.index) == sorted(expected.index)
    np.testing.assert_allclose(
        actual[expected.index].to_numpy(), expected.to_numpy(), rtol=rtol, atol=atol
    )


# ---- the models, as the R script writes them -----------------------------------------------


@cache
def data(name: str) -> pd.DataFrame:
    return datasets.load(name)


def _scotland_weights_offset():
    df = data("scotland")
    return dict(weights=df["ACT"].to_numpy() / 80, offset=np.log(df["MOR"].to_numpy() / 100))


CPUNISH = "EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + VC100k96 + SOUTH + DEGREE"
STAR98 = (
    "cbind(NABOVE, NBELOW) ~ LOWINC + PERASIAN + PERBLACK + PERHISP + PCTCHRT + PCTYRRND"
    " + PERMINTE + AVYRSEXP + AVSALK + PERSPENK + PTRATIO + PCTAF"
)
SCOTLAND = "YES ~ COUTAX + UNEMPF + MOR + ACT + GDP + AGE + COUTAX_FEMALEUNEMP"

MODELS = {
    "cpunish_poisson": lambda: glmspec.fit(CPUNISH, data("cpunish"), "poisson"),
    "star98_binomial": lambda: glmspec.fit(STAR98, data("star98"), "binomial"),
    "spector_logit": lambda: glmspec.fit("GRADE ~ GPA + TUCE + PSI", data("spector"), "binomial"),
    "scotland_gamma": lambda: glmspec.fit(SCOTLAND, data("scotland"), "gamma"),
    "scotland_gamma_log_weights_offset": lambda: glmspec.fit(
        "YES ~ COUTAX + UNEMPF + AGE",
        data("scotland"),
        "gamma",
        "log",
        **_scotland_weights_offset(),
    ),
    "restaurant_poisson": lambda: glmspec.fit(
        "visitors ~ temperature + C(weekday) + rain", data("restaurant_visitors"), "poisson"
    ),
    "restaurant_poisson_weights_offset": lambda: glmspec.fit(
        "visitors ~ temperature + C(weekday) * rain",
        data("restaurant_visitors"),
        "poisson",
        weights=data("restaurant_visitors")["event"].to_numpy() + 1.0,
        offset=np.log(data("restaurant_visitors")["hour"].to_numpy()),
    ),
    "anes96_gamma": lambda: glmspec.fit(
        "age ~ logpopul + C(educ) + TVnews", data("anes96"), "gamma", "log"
    ),
}


@cache
def fitted(name: str):
    return MODELS[name]()


def test_reference_records_r_and_package_versions():
    provenance = reference()["provenance"]
    assert provenance["R"].startswith("R version ")
    assert set(provenance["packages"]) >= {"MASS", "brglm2", "emmeans", "sandwich", "pscl"}
    assert provenance["script"] == "tests/r_reference/make_reference.R"
    assert (REFERENCE.parent / "make_reference.R").is_file()


# ---- 1. glm summaries -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_glm_summary_equals_r(name):
    ref, res = reference()["glm"][name], fitted(name)
    assert_named(res.params, r_series(ref["coef"]), GLM_RTOL)
    assert_named(res.bse, r_series(ref["se"]), GLM_RTOL)
    for attribute, key in [
        ("deviance", "deviance"),
        ("null_deviance", "null_deviance"),
        ("aic", "aic"),
        ("scale", "dispersion"),
        ("llf", "loglik"),
    ]:
        # second order in the coefficients (first order for the Pearson dispersion): tighter
        rtol = 1e-8 if key == "dispersion" else 1e-10
        np.testing.assert_allclose(getattr(res, attribute), ref[key], rtol=rtol, err_msg=key)
    assert res.df_resid == ref["df_resid"]


# ---- 2. sequential anova and drop1 --------------------------------------------------------------


def r_term(name: str) -> str:
    """R's term label in patsy's spelling: ``factor(weekday):rain`` -> ``C(weekday):rain``."""
    return re.sub(r"factor\((\w+)\)", r"C(\1)", name)


def assert_table(actual: pd.DataFrame, ref: dict, rtol: float = RTOL) -> None:
    """A table of R's (rows, columns) equals glmspec's: same row and column names, every value
    to ``rtol`` (NA where R has NA; p-values that underflow are 0 in both)."""
    assert list(actual.index) == [r_term(r) for r in ref["rows"]]
    assert list(actual.columns) == list(ref["columns"])
    for column, values in ref["columns"].items():
        np.testing.assert_allclose(
            actual[column].to_numpy(dtype=float),
            r_values(values),
            rtol=rtol,
            atol=1e-300,
            err_msg=column,
        )


@pytest.mark.parametrize("name", sorted(reference()["anova"]))
@pytest.mark.parametrize("test", ["Chisq", "F"])
def test_sequential_anova_equals_r_in_formula_order(name, test):
    """R's ``anova(fit, test=)``: the rows in the order the terms are written (a numeric
    written before a factor comes first, although patsy puts the factor's columns first)."""
    assert_table(fitted(name).anova(test), reference()["anova"][name][test])


@pytest.mark.parametrize("name", sorted(reference()["drop1"]))
@pytest.mark.parametrize("test", ["none", "Chisq", "F"])
def test_drop1_equals_r(name, test):
    """R's ``drop1(fit, test=)``: marginality (``C(weekday):rain`` drops, its main effects
    stay), prior weights and offsets carried into the refits, ``scaled dev.`` when the
    dispersion is estimated, the F test over the full model's deviance / df."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DomainWarning)  # F test on a Poisson fit, as R warns
        table = fitted(name).drop1(None if test == "none" else test)
    assert_table(table, reference()["drop1"][name][test])


# ---- 3. profile-likelihood intervals ------------------------------------------------------------


@cache
def profile_of(name: str) -> pd.DataFrame:
    return fitted(name).conf_int(method="profile")


@pytest.mark.parametrize("name", sorted(reference()["profile"]))
def test_profile_limits_are_rs_exact_root_and_within_mass_spline_error(name):
    """``confint(fit)`` (MASS) interpolates a spline through a grid of the signed root
    deviance; the R script also solves the profile's root exactly (``uniroot`` on ``glm.fit``
    refits with the coefficient in the offset, tolerance 1e-13).

    * glmspec's limits equal R's exact roots to 1e-7 of the interval's half-width (relative to
      the limit itself where that is larger): both are roots of the same smooth function.
    * glmspec's limits are as far from MASS's as R's own exact roots are (MASS's spline error,
      measured in R), to 1e-7 of the half-width; and that error itself is below 1e-3 of the
      half-width, which bounds MASS's spline error on these data.
    """
    ref = reference()["profile"][name]
    table = profile_of(name)
    names = [r_name(n) for n in ref["names"]]
    ours = table.loc[names].to_numpy()
    exact = np.column_stack([ref["exact_lower"], ref["exact_upper"]])
    mass = np.column_stack([ref["mass_lower"], ref["mass_upper"]])
    half_width = (exact[:, 1] - exact[:, 0])[:, None] / 2
    scale = np.maximum(half_width, np.abs(exact))
    assert np.all(np.abs(ours - exact) <= 1e-7 * scale)
    spline_error = np.abs(mass - exact)
    assert np.all(np.abs(np.abs(ours - mass) - spline_error) <= 1e-7 * scale)
    assert np.all(spline_error <= 1e-3 * half_width)


def _independent_root(res, sm_family, j: int, side: float, q: float) -> float:
    """The root of ``sign(b - b_hat) sqrt((D(b) - D_hat) / phi) = side q``, with statsmodels
    refits (the coefficient fixed in the offset) and scipy's brentq, independent of glmspec's
    profile code."""
    design = res.design
    X, y = np.asarray(design.X), design.y
    others = np.delete(X, j, axis=1)
    b_hat, se, dev_hat, phi = res.params.iloc[j], res.bse.iloc[j], res.deviance, res.scale

    def signed_root(b: float) -> float:
        refit = sm.GLM(
            y,
            others,
            family=sm_family,
            var_weights=design.prior_weights,
            offset=design.offset + X[:, j] * b,
        ).fit(tol=1e-14, maxiter=200)
        return np.sign(b - b_hat) * np.sqrt(max(refit.deviance - dev_hat, 0.0) / phi)

    far = b_hat + side * 2 * q * se
    while side * signed_root(far) < q:
        far = b_hat + 2 * (far - b_hat)
    return optimize.brentq(
        lambda b: signed_root(b) - side * q, *sorted((b_hat, far)), xtol=1e-13 * se
    )


@pytest.mark.parametrize(
    "name, sm_family",
    [
        ("spector_logit", sm.families.Binomial()),
        ("scotland_gamma_log_weights_offset", sm.families.Gamma(sm.families.links.Log())),
    ],
)
def test_profile_limits_equal_an_independent_root(name, sm_family):
    res = fitted(name)
    table = profile_of(name)
    q = stats.norm.ppf(0.975)
    for j, coef in enumerate(res.params.index):
        se = res.bse.iloc[j]
        for column, side in ((0, -1.0), (1, 1.0)):
            root = _independent_root(res, sm_family, j, side, q)
            assert abs(table.loc[coef, column] - root) <= 1e-6 * max(abs(root), se), coef


# ---- 4. Firth (brglm2 type = "AS_mean") -------------------------------------------------------


def anes96_educ1() -> pd.DataFrame:
    """anes96 respondents with education 1 (grades 1-8), 13 rows: the vote is completely
    separated by party identification (datasets/README.md)."""
    df = data("anes96")
    return df[df["educ"] == 1].reset_index(drop=True)


FIRTH = {
    "anes96_educ1_separated": lambda: glmspec.fit(
        "vote ~ PID + selfLR", anes96_educ1(), "binomial", method="firth"
    ),
    "cpunish_poisson": lambda: glmspec.fit(CPUNISH, data("cpunish"), "poisson", method="firth"),
}


@pytest.mark.parametrize("name", sorted(FIRTH))
def test_firth_equals_brglm2_as_mean(name):
    """Coefficients, standard errors, the ordinary deviance and log-likelihood at the estimates
    (brglm2's), and the penalized log-likelihood ``llf + 1/2 log det I`` (computed in R from
    brglm2's fit)."""
    ref, res = reference()["firth"][name], FIRTH[name]()
    assert ref["converged"]
    assert_named(res.params, r_series(ref["coef"]))
    assert_named(res.bse, r_series(ref["se"]))
    np.testing.assert_allclose(res.deviance, ref["deviance"], rtol=1e-9)
    np.testing.assert_allclose(res.llf, ref["loglik"], rtol=1e-9)
    np.testing.assert_allclose(res.penalized_llf, ref["penalized_loglik"], rtol=1e-9)


def test_the_firth_dataset_is_separated_for_maximum_likelihood():
    """R's ML fit drives the deviance to 0 (complete separation); glmspec names it."""
    assert reference()["firth"]["anes96_educ1_separated"]["ml_deviance"] < 1e-6
    with pytest.warns(glmspec.errors.SeparationWarning):
        res = glmspec.fit("vote ~ PID + selfLR", anes96_educ1(), "binomial")
    assert res.separation is not None


# ---- 5. estimated marginal means ---------------------------------------------------------------

EMMEANS = {
    "restaurant_poisson": (lambda: fitted("restaurant_poisson"), "C(weekday)"),
    "anes96_logit": (
        lambda: glmspec.fit("vote ~ C(educ) + age + selfLR", data("anes96"), "binomial"),
        "C(educ)",
    ),
    "anes96_gamma": (lambda: fitted("anes96_gamma"), "C(educ)"),
    "restaurant_poisson_weights_offset": (
        lambda: fitted("restaurant_poisson_weights_offset"),
        "C(weekday)",
    ),
    # aliased columns: the means R calls nonEst (and contrasts with them) are NaN
    "anes96_poisson_educ_pid_educ": (
        lambda: singular_fit("anes96_poisson_educ_pid"),
        "C(educ)",
    ),
    "anes96_poisson_educ_pid_pid": (lambda: singular_fit("anes96_poisson_educ_pid"), "C(PID)"),
}


@pytest.mark.parametrize("name", sorted(EMMEANS))
def test_emmeans_equal_r(name):
    """``emmeans(fit, "f", type = "response")``: rates, probabilities and Gamma means (t on
    df_resid), with their delta-method SEs and back-transformed intervals."""
    ref = reference()["emmeans"][name]
    make, term = EMMEANS[name]
    table = make().emmeans(term)
    assert list(table.index) == ref["levels"]
    for column in ("estimate", "se", "lower", "upper"):
        np.testing.assert_allclose(table[column], r_values(ref[column]), rtol=RTOL, err_msg=column)


@pytest.mark.parametrize("name", sorted(EMMEANS))
@pytest.mark.parametrize("adjust", ["tukey", "holm", "none"])
def test_emmeans_pairwise_contrasts_equal_r(name, adjust):
    """``summary(pairs(emm), infer = TRUE, adjust=)``: ratios (log link) and odds ratios
    (logit) with SEs on the response scale, z or t statistics, Tukey (studentized range),
    Holm or unadjusted p-values, and Tukey, Bonferroni (for Holm, as emmeans) or plain
    intervals. R names contrasts of numeric levels ``educ1 / educ2``; glmspec ``1 / 2``."""
    ref = reference()["emmeans"][name]["pairs"][adjust]
    make, term = EMMEANS[name]
    table = make().emmeans(term, pairwise=True, adjust=adjust)
    assert list(table.index) == [re.sub(r"(educ|PID)(\d)", r"\2", c) for c in ref["contrast"]]
    for column in ("estimate", "se", "statistic", "lower", "upper"):
        np.testing.assert_allclose(table[column], r_values(ref[column]), rtol=RTOL, err_msg=column)
    # R's ptukey integrates numerically (about 1e-9 absolute); the other p-values are exact
    np.testing.assert_allclose(table["pvalue"], r_values(ref["pvalue"]), rtol=RTOL, atol=1e-9)


# ---- 6. negative binomial and pscl::odTest ------------------------------------------------------

NEGBIN = {
    "cpunish": ("EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + SOUTH", "cpunish"),
    "restaurant": (
        "visitors ~ hour + C(weekday) + rain + temperature",
        "restaurant_visitors",
    ),
    "restaurant_poisson_truth": (
        "visitors ~ hour + C(weekday) + rain + temperature + event",
        "restaurant_visitors",
    ),
}


@cache
def negbin_fits(name: str):
    formula, dataset = NEGBIN[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the simulated Poisson: theta large, a warning says so
        return (
            glmspec.fit(formula, data(dataset), "negative_binomial"),
            glmspec.fit(formula, data(dataset), "poisson"),
        )


def theta_se_tolerance(nb, r_theta: float) -> float:
    """Relative tolerance between glmspec's SE of theta and R's formula at R's estimate.

    The two estimates of theta agree only to the flatness of the likelihood in theta (on the
    simulated Poisson data theta is 2.8e3 with an SE of 5.1e3, and they differ by 6e-9
    relative). The SE moves with theta by its elasticity ``d log se / d log theta``
    (about 3 there, 0.5-1 for small theta), computed here from the information at glmspec's
    means; a factor 2 covers the means' own shift with theta (second order), and 1e-9 the
    rounding of the information, whose terms of size ``1/theta`` cancel to ``1/theta^3``.
    """
    y = nb.design.y
    mu = np.asarray(nb.fittedvalues, dtype=float)
    weights = nb.design.prior_weights

    def log_se(theta: float) -> float:
        return -0.5 * np.log(theta_information(theta, y, mu, weights))

    step = 1e-4
    elasticity = (log_se(nb.theta * (1 + step)) - log_se(nb.theta * (1 - step))) / (2 * step)
    return 2 * abs(elasticity) * abs(nb.theta / r_theta - 1) + 1e-9


@pytest.mark.parametrize("name", sorted(NEGBIN))
def test_negative_binomial_and_boundary_test_equal_glm_nb_and_odtest(name):
    """``MASS::glm.nb`` (theta, its SE, coefficients, SEs, 2 loglik) and ``pscl::odTest``:
    ``2 (llf_nb - llf_poisson)`` against a 50:50 mixture of 0 and chi-square(1)."""
    from glmspec.inference.anova import poisson_negbin_lrtest

    ref = reference()["negbin"][name]
    nb, poisson = negbin_fits(name)
    np.testing.assert_allclose(nb.theta, ref["theta"], rtol=RTOL)
    # R's SE.theta is theta.ml's 1/sqrt(information) at the theta before its last Newton step
    # (a step below 1.2e-4); glmspec's is at the estimate, which R's formula gives there too,
    # up to the two estimates' difference carried through the SE's elasticity in theta
    np.testing.assert_allclose(
        nb.theta_se, ref["se_theta_at_estimate"], rtol=theta_se_tolerance(nb, ref["theta"])
    )
    np.testing.assert_allclose(nb.theta_se, ref["se_theta"], rtol=1e-4)
    assert_named(nb.params, r_series(ref["coef"]))
    assert_named(nb.bse, r_series(ref["se"]))
    np.testing.assert_allclose(2 * nb.llf, ref["twologlik"], rtol=1e-10)
    np.testing.assert_allclose(poisson.llf, ref["poisson_loglik"], rtol=1e-10)
    test = poisson_negbin_lrtest(poisson, nb)
    od = ref["odtest"]
    # the statistic is a difference of log-likelihoods: relative to their size
    np.testing.assert_allclose(test.statistic, od["statistic"], atol=1e-10 * abs(nb.llf))
    np.testing.assert_allclose(test.pvalue, od["pvalue"], rtol=RTOL)
    assert f"{od['statistic']:.10f}"[:8] in od["printed"][-1]  # what odTest printed


@pytest.mark.parametrize("name", sorted(NEGBIN))
def test_theta_profile_interval_equals_rs_exact_root(name):
    """The interval ``{theta : 2 (llf_hat - l_p(theta)) <= chi2_1(0.95)}`` computed in R by
    ``uniroot`` over ``glm(family = negative.binomial(theta))`` refits; the upper limit is
    infinite when odTest's statistic is below the cut-off (the simulated Poisson data)."""
    ref = reference()["negbin"][name]["profile_theta"]
    lower, upper = negbin_fits(name)[0].theta_conf_int(0.05)
    np.testing.assert_allclose(lower, ref["lower"], rtol=1e-7)
    if ref["upper_is_inf"]:
        assert upper == np.inf
    else:
        np.testing.assert_allclose(upper, ref["upper"], rtol=1e-7)


# ---- 7. sandwich covariances ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cpunish_poisson", "spector_logit"])
@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
def test_heteroscedasticity_robust_se_equal_sandwich_vcovhc(name, cov_type):
    """``sandwich::vcovHC(fit, type=)`` for canonical links (for other links glmspec's bread is
    the observed information, statsmodels'; sandwich's is the expected one)."""
    ref = reference()["sandwich"][name]
    res = MODELS[name]().get_robustcov_results(cov_type)
    assert_named(pd.Series(res.bse, index=fitted(name).params.index), r_series(ref[cov_type]))


def test_hc3_covariance_matrix_equals_sandwich():
    ref = reference()["sandwich"]["cpunish_poisson"]
    res = glmspec.fit(CPUNISH, data("cpunish"), "poisson", cov_type="HC3")
    k = len(res.params)
    expected = np.array(ref["cov_HC3"]).reshape(k, k, order="F")  # R's column-major matrix
    names = [r_name(n) for n in ref["HC3"]["names"]]
    actual = res.cov_params().loc[names, names].to_numpy()
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("cov_type", ["HC1", "HC0"])
def test_cluster_robust_se_equal_sandwich_vcovcl(cov_type):
    """``vcovCL(fit, cluster = ~date, type = "HC1", cadjust = TRUE)`` is statsmodels' and
    glmspec's ``cov_type="cluster"``: ``G/(G-1) (n-1)/(n-k)``; with ``type = "HC0"`` only
    ``G/(G-1)``, so glmspec's SEs are sqrt((n-1)/(n-k)) times R's."""
    ref = reference()["sandwich"]["restaurant_poisson_cluster_date"][cov_type]
    df = data("restaurant_visitors")
    res = glmspec.fit(
        "visitors ~ temperature + C(weekday) + rain",
        df,
        "poisson",
        cov_type="cluster",
        groups="date",
    )
    n, k = len(df), len(res.params)
    factor = 1.0 if cov_type == "HC1" else np.sqrt((n - 1) / (n - k))
    assert_named(res.bse, r_series(ref) * factor)


# ---- 8. aliased columns (singular="drop") -------------------------------------------------------

SINGULAR = {
    "anes96_poisson_educ_pid": lambda: glmspec.fit(
        "age ~ TVnews + C(educ) * C(PID)", data("anes96"), "poisson", singular="drop"
    ),
    "anes96_quasipoisson_educ_pid": lambda: glmspec.fit(
        "age ~ C(educ) * C(PID)", data("anes96"), "quasipoisson", singular="drop"
    ),
    "restaurant_hour_twice": lambda: glmspec.fit(
        "visitors ~ hour + C(hour) + rain", data("restaurant_visitors"), "poisson", singular="drop"
    ),
}


@cache
def singular_fit(name: str):
    return SINGULAR[name]()


@pytest.mark.parametrize("name", sorted(SINGULAR))
def test_aliased_columns_are_rs_na_coefficients(name):
    """R's ``glm`` (``singular.ok = TRUE``): the same columns NA (anes96 has no respondent with
    education 1 and PID 3 or 5: empty cells of the interaction; ``hour`` written before
    ``C(hour)`` is a combination of the intercept and the factor's columns, so R's last factor
    column is NA, not ``hour``, although patsy puts ``hour`` last), and the same coefficients,
    SEs, deviance, df_resid and AIC (counting the estimable coefficients)."""
    ref, res = reference()["singular"][name], singular_fit(name)
    assert sorted(res.aliased) == sorted(r_name(n) for n in ref["aliased"])
    assert_named(res.params, r_series(ref["coef"]), GLM_RTOL)
    assert_named(res.bse, r_series(ref["se"]), GLM_RTOL)
    for attribute, key in [("deviance", "deviance"), ("aic", "aic"), ("scale", "dispersion")]:
        expected = r_values([ref[key]])[0]  # the quasi-Poisson's AIC is NA in R, NaN here
        np.testing.assert_allclose(getattr(res, attribute), expected, rtol=1e-8, err_msg=key)
    assert res.df_resid == ref["df_resid"]


@pytest.mark.parametrize("name", sorted(SINGULAR))
@pytest.mark.parametrize("test", ["Chisq", "F"])
def test_anova_of_a_fit_with_aliased_columns_equals_r(name, test):
    """R's ``anova.glm`` refits ``x[, varseq <= i]`` with ``glm.fit``, which drops what is
    aliased there: a term's Df is its rise in rank."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DomainWarning)
        table = singular_fit(name).anova(test)
    assert_table(table, reference()["singular"][name]["anova"][test])


@pytest.mark.parametrize("name", sorted(SINGULAR))
@pytest.mark.parametrize("test", ["none", "Chisq", "F"])
def test_drop1_of_a_fit_with_aliased_columns_equals_r(name, test):
    """R's ``drop1.glm``: Df from ranks (``object$rank - z$rank``), AIC counting them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DomainWarning)
        table = singular_fit(name).drop1(None if test == "none" else test)
    assert_table(table, reference()["singular"][name]["drop1"][test])


def test_profile_of_a_fit_with_aliased_columns_equals_r():
    """MASS profiles each estimable coefficient without the aliased columns (so the aliased
    column does not take over when ``C(PID)[T.3]`` is fixed) and gives NA for aliased ones."""
    from glmspec.inference.profile import profile_conf_int

    ref = reference()["singular"]["anes96_poisson_educ_pid"]["profile"]
    names = [r_name(n) for n in ref["names"]]
    table = profile_conf_int(singular_fit("anes96_poisson_educ_pid"), which=names)
    exact = np.column_stack([r_values(ref["exact_lower"]), r_values(ref["exact_upper"])])
    mass = np.column_stack([r_values(ref["mass_lower"]), r_values(ref["mass_upper"])])
    ours = table.loc[names].to_numpy()
    assert np.array_equal(np.isnan(ours), np.isnan(exact))
    assert np.array_equal(np.isnan(mass), np.isnan(exact))
    found = ~np.isnan(exact)
    half_width = np.abs(exact[:, [1]] - exact[:, [0]]) / 2
    scale = np.maximum(half_width, np.abs(exact))[found]
    assert np.all(np.abs(ours[found] - exact[found]) <= 1e-7 * scale)
    assert np.all(
        np.abs(ours[found] - mass[found]) <= 1e-3 * np.broadcast_to(half_width, ours.shape)[found]
    )


def test_anova_of_two_fits_with_aliased_columns_equals_r():
    """``anova(small, big)`` with ``big`` rank-deficient: Df is the difference in rank."""
    ref = reference()["singular"]["anova_two_models"]
    small = glmspec.fit("age ~ TVnews + C(educ) + C(PID)", data("anes96"), "poisson")
    table = glmspec.anova(small, singular_fit("anes96_poisson_educ_pid"))
    for column, values in ref["columns"].items():
        np.testing.assert_allclose(
            table[column].to_numpy(dtype=float), r_values(values), rtol=RTOL, err_msg=column
        )
    lr = glmspec.lrtest(small, singular_fit("anes96_poisson_educ_pid"))
    assert lr.df == 34


# ---- the script reproduces the reference ------------------------------------------------------


def _same_numbers(a, b, path: str = "") -> list[str]:
    """Paths where two JSON trees differ (numbers to 1e-9 relative, NA as null)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [p for k in a for p in _same_numbers(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} vs {len(b)}"]
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in _same_numbers(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return [] if np.isclose(a, b, rtol=1e-9, atol=0) else [f"{path}: {a} vs {b}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_the_r_script_reproduces_the_reference(tmp_path):
    """Rerun ``make_reference.R`` into a temporary file: the same numbers (to 1e-9, for another
    BLAS) when R and the packages have the recorded versions."""
    root = REFERENCE.parents[2]
    out = tmp_path / "r_reference.json"
    script = "tests/r_reference/make_reference.R"
    run = subprocess.run(
        ["Rscript", script, str(out)], cwd=root, capture_output=True, text=True, timeout=600
    )
    if run.returncode != 0 and "there is no package called" in run.stderr:
        pytest.skip(f"an R package is missing: {run.stderr.strip().splitlines()[-1]}")
    assert run.returncode == 0, run.stderr
    fresh = json.loads(out.read_text())
    if fresh["provenance"] != reference()["provenance"]:
        pytest.skip(f"other versions than recorded: {fresh['provenance']}")
    assert _same_numbers(fresh, reference()) == []


def test_theta_interval_needs_an_estimated_theta():
    from glmspec.errors import SpecificationError

    fixed = glmspec.fit(NEGBIN["cpunish"][0], data("cpunish"), "negative_binomial", theta=2.0)
    with pytest.raises(SpecificationError, match="theta estimated"):
        fixed.theta_conf_int()
    with pytest.raises(SpecificationError, match="alpha"):
        negbin_fits("cpunish")[0].theta_conf_int(alpha=1.5)


SMALL_MODELS = {
    "restaurant_poisson_weights_offset": lambda: glmspec.fit(
        "visitors ~ temperature + C(weekday) + rain",
        data("restaurant_visitors"),
        "poisson",
        weights=data("restaurant_visitors")["event"].to_numpy() + 1.0,
        offset=np.log(data("restaurant_visitors")["hour"].to_numpy()),
    ),
    "anes96_gamma": lambda: glmspec.fit("age ~ logpopul", data("anes96"), "gamma", "log"),
}


@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
@pytest.mark.parametrize("test", ["Chisq", "F"])
def test_anova_of_nested_models_equals_r(name, test):
    """R's ``anova(small, big, test=)``: the largest model's dispersion, and for the F test on a
    Poisson fit infinite denominator df (R's ``anova.glmlist``)."""
    ref = reference()["anova_models"][name][test]
    table = glmspec.anova(SMALL_MODELS[name](), fitted(name), test=test)
    assert list(table.columns) == list(ref["columns"])
    for column, values in ref["columns"].items():
        np.testing.assert_allclose(
            table[column].to_numpy(dtype=float), r_values(values), rtol=RTOL, err_msg=column
        )


# ---- 9. influence measures and predictions ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(reference()["influence"]))
def test_influence_measures_equal_r(name):
    """``hatvalues``, ``rstandard`` (deviance and Pearson), ``rstudent``, ``cooks.distance``
    and ``dfbeta``, with the leverages of the expected information (``observed=False``; the
    same as statsmodels' observed ones for canonical links)."""
    ref, res = reference()["influence"][name], fitted(name)
    influence = res.get_influence(observed=False)
    pairs = {
        "hat": influence.hat_matrix_diag,
        "rstandard": influence.resid_studentized_deviance,
        "rstandard_pearson": influence.resid_studentized_pearson,
        "rstudent": influence.resid_studentized_external,
        "cooks": influence.cooks_distance,
    }
    for key, ours in pairs.items():
        np.testing.assert_allclose(ours.to_numpy(), ref[key], rtol=RTOL, err_msg=key)
    # R's dfbeta (lm.influence) scales by the *deviance* residual (weighted.residuals of a glm),
    # glmspec and statsmodels by the Pearson residual (the one-step change): on row i they
    # differ by the factor d_i / r_i
    i = 6  # R's row 7
    factor = res.resid_deviance.iloc[i] / res.resid_pearson.iloc[i]
    row = influence.d_params.iloc[i] * factor
    assert_named(row, r_series(ref["dfbeta"]), RTOL, atol=1e-12 * np.abs(row).max())


def test_predictions_with_standard_errors_equal_r_predict():
    """``predict(fit, newdata, se.fit = TRUE)`` on both scales, with the offset evaluated on
    the new rows (Poisson with weights and offset; Gamma log link: SEs at the estimated
    dispersion)."""
    df = data("restaurant_visitors").iloc[::250]
    ref = reference()["prediction"]["restaurant_poisson_weights_offset"]
    frame = fitted("restaurant_poisson_weights_offset").get_prediction(
        df, offset=np.log(df["hour"].to_numpy())
    )
    _check_prediction(frame, ref)
    scot = data("scotland").iloc[:8]
    ref = reference()["prediction"]["scotland_gamma_log_weights_offset"]
    frame = fitted("scotland_gamma_log_weights_offset").get_prediction(
        scot, offset=np.log(scot["MOR"].to_numpy() / 100)
    )
    _check_prediction(frame, ref)


def _check_prediction(prediction, ref) -> None:
    summary = prediction.summary_frame()
    np.testing.assert_allclose(summary["mean"], ref["mean"], rtol=RTOL)
    np.testing.assert_allclose(summary["mean_se"], ref["mean_se"], rtol=RTOL)
    np.testing.assert_allclose(prediction.linpred, ref["link"], rtol=RTOL)
    np.testing.assert_allclose(prediction.se_linpred, ref["link_se"], rtol=RTOL)
