"""Options of the new families: theta recovery, freq_weights, exposure, power links, errors,
spec files, summaries and reports."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.discrete.discrete_model import NegativeBinomial as NB2

import glmspec
from glmspec import datasets
from glmspec.errors import (
    DataError,
    PredictionError,
    SpecError,
    SpecificationError,
    UnknownFamilyError,
    UnknownLinkError,
)
from glmspec.families.negbin import theta_information, theta_ml, theta_score
from glmspec.report import build_tables
from glmspec.spec import Spec, load_spec

DATASETS = Path(__file__).resolve().parents[2] / "datasets"


def nb_data(n=4000, theta=1.7, seed=0, exposure=False):
    """NB2 counts with log mean 0.4 + 0.6 x1 - 0.5 x2 (+ log t with ``exposure``)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    eta = 0.4 + 0.6 * x1 - 0.5 * x2
    frame = pd.DataFrame({"x1": x1, "x2": x2})
    if exposure:
        frame["t"] = rng.uniform(0.5, 4.0, n)
        eta = eta + np.log(frame["t"])
    mu = np.exp(eta)
    frame["y"] = rng.negative_binomial(theta, theta / (theta + mu))
    return frame


# --------------------------------------------------------------------------------------------
# Negative binomial theta (MASS::glm.nb)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("theta, seed", [(0.8, 1), (1.7, 2), (5.0, 3)])
def test_theta_recovered_and_equal_to_statsmodels_nb2(theta, seed):
    data = nb_data(theta=theta, seed=seed)
    res = glmspec.fit("y ~ x1 + x2", data, "negative_binomial")
    assert res.converged and res.theta_estimated
    assert abs(res.theta - theta) < 3 * res.theta_se, (res.theta, res.theta_se)
    truth = pd.Series({"Intercept": 0.4, "x1": 0.6, "x2": -0.5})
    assert np.all(np.abs((res.params - truth) / res.bse) < 4)
    nb2 = NB2(data["y"].to_numpy(float), np.asarray(res.design.X)).fit(
        method="newton", maxiter=300, tol=1e-12, disp=0
    )
    assert res.theta == pytest.approx(1 / nb2.params[-1], rel=1e-5)
    assert res.llf == pytest.approx(nb2.llf, rel=1e-10)
    np.testing.assert_allclose(res.params, nb2.params[:-1], rtol=1e-6, atol=1e-8)


def test_theta_ml_solves_the_score_equation():
    data = nb_data(seed=4)
    res = glmspec.fit("y ~ x1 + x2", data, "negative_binomial")
    y, mu = res.design.y, res.record.mu
    theta, se = theta_ml(y, mu)
    assert theta == pytest.approx(res.theta, rel=1e-7)
    assert abs(theta_score(theta, y, mu, np.ones_like(y))) < 1e-6 * len(y)
    assert se == pytest.approx(1 / np.sqrt(theta_information(theta, y, mu, np.ones_like(y))))
    # joint maximum: the coefficients are the IRLS fit at theta, so the score in beta is zero
    fixed = glmspec.fit("y ~ x1 + x2", data, "negative_binomial", theta=res.theta)
    pd.testing.assert_series_equal(fixed.params, res.params, rtol=1e-9)


def test_theta_with_offset_and_glm_check():
    data = nb_data(seed=5, exposure=True)
    data["log_t"] = np.log(data["t"])
    res = glmspec.fit("y ~ x1 + x2", data, "negative_binomial", offset="log_t")
    table = glmspec.compare(res)
    assert table.attrs["passed"], table.loc[~table["passed"]].to_string()
    assert "theta" in set(table["quantity"])


def test_theta_with_weights_skips_discrete_check_with_a_note():
    data = nb_data(n=1500, seed=6)
    data["w"] = np.random.default_rng(7).integers(1, 3, len(data)).astype(float)
    res = glmspec.fit("y ~ x1 + x2", data, "negative_binomial", weights="w")
    table = glmspec.compare(res)
    assert table.attrs["passed"]
    assert "theta" not in set(table["quantity"])
    assert any("no weights" in note for note in table.attrs["notes"])


# --------------------------------------------------------------------------------------------
# Frequency weights versus prior weights
# --------------------------------------------------------------------------------------------

FREQ_CASES = [
    ("poisson", "log", {}),
    ("gaussian", "identity", {}),
    ("gamma", "log", {}),
    ("negative_binomial", "log", {"theta": 2.0}),
    ("negative_binomial", "log", {}),
    ("quasipoisson", "log", {}),
]


def _freq_data(family):
    rng = np.random.default_rng(11)
    n = 300
    x = rng.uniform(0, 1, n)
    mu = np.exp(0.5 + 0.7 * x)
    if family == "gaussian":
        y = mu + rng.normal(0, 0.5, n)
    elif family == "gamma":
        y = rng.gamma(4.0, mu / 4.0)
    elif family == "negative_binomial":
        y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(float)
    else:
        y = rng.poisson(mu).astype(float)
    return pd.DataFrame({"x": x, "y": y, "f": rng.integers(1, 4, n).astype(float)})


@pytest.mark.parametrize("family, link, params", FREQ_CASES)
def test_freq_weights_equal_duplicated_rows(family, link, params):
    data = _freq_data(family)
    res = glmspec.fit("y ~ x", data, family, link, freq_weights="f", **params)
    long = data.loc[data.index.repeat(data["f"].astype(int))].reset_index(drop=True)
    dup = glmspec.fit("y ~ x", long, family, link, **params)
    pd.testing.assert_series_equal(res.params, dup.params, rtol=1e-8)
    pd.testing.assert_series_equal(res.bse, dup.bse, rtol=1e-7)
    assert res.nobs == dup.nobs == data["f"].sum()
    assert res.df_resid == dup.df_resid
    for name in ("llf", "aic", "bic", "deviance", "null_deviance", "scale", "llnull"):
        a, b = getattr(res, name), getattr(dup, name)
        assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-8), name
    if family == "negative_binomial" and not params:
        assert res.theta == pytest.approx(dup.theta, rel=1e-7)
        assert res.theta_se == pytest.approx(dup.theta_se, rel=1e-7)


@pytest.mark.parametrize("family, link, params", FREQ_CASES[:4])
def test_freq_weights_against_statsmodels(family, link, params):
    data = _freq_data(family)
    res = glmspec.fit("y ~ x", data, family, link, freq_weights="f", **params)
    table = glmspec.compare(res)
    assert table.attrs["passed"], table.loc[~table["passed"]].to_string()
    sm_family = {
        "poisson": sm.families.Poisson(),
        "gaussian": sm.families.Gaussian(),
        "gamma": sm.families.Gamma(sm.families.links.Log()),
        "negative_binomial": sm.families.NegativeBinomial(alpha=0.5),
    }[family]
    model = sm.GLM(data["y"], np.asarray(res.design.X), family=sm_family, freq_weights=data["f"])
    sm_res = model.fit(tol=1e-13, tol_criterion="params", maxiter=1000)
    np.testing.assert_allclose(res.params, sm_res.params, rtol=1e-7)
    np.testing.assert_allclose(res.bse, sm_res.bse, rtol=1e-7)
    assert res.df_resid == sm_res.df_resid and res.nobs == model.wnobs
    if family in ("poisson", "negative_binomial"):
        assert res.llf == pytest.approx(sm_res.llf, rel=1e-9)


def test_freq_weights_differ_from_prior_weights():
    data = _freq_data("gamma")
    freq = glmspec.fit("y ~ x", data, "gamma", "log", freq_weights="f")
    prior = glmspec.fit("y ~ x", data, "gamma", "log", weights="f")
    pd.testing.assert_series_equal(freq.params, prior.params, rtol=1e-9)  # same estimates
    assert prior.nobs == len(data) and freq.nobs == data["f"].sum()
    assert prior.df_resid != freq.df_resid
    assert not np.allclose(prior.bse, freq.bse, rtol=1e-3)
    assert freq.spec.freq_weights == "f" and "Frequency weights" in str(
        build_tables_for(freq)["conventions"]
    )


def test_freq_weights_errors():
    data = _freq_data("poisson")
    with pytest.raises(DataError, match="freq_weights must be non-negative"):
        glmspec.fit("y ~ x", data, "poisson", freq_weights=-data["f"])
    with pytest.raises(DataError, match="freq_weights column 'ff'.*Did you mean 'f'"):
        glmspec.fit("y ~ x", data, "poisson", freq_weights="ff")


# --------------------------------------------------------------------------------------------
# Exposure
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["poisson", "quasipoisson", "negative_binomial"])
def test_exposure_equals_log_offset_and_is_reused_by_predict(family):
    data = nb_data(n=1500, seed=12, exposure=True)
    data["log_t"] = np.log(data["t"])
    res = glmspec.fit("y ~ x1 + x2", data, family, exposure="t")
    ref = glmspec.fit("y ~ x1 + x2", data, family, offset="log_t")
    pd.testing.assert_series_equal(res.params, ref.params, rtol=1e-10)
    pd.testing.assert_series_equal(res.bse, ref.bse, rtol=1e-10)
    assert res.deviance == pytest.approx(ref.deviance, rel=1e-12)
    assert glmspec.compare(res).attrs["passed"]
    new = data.head(5).copy()
    new["t"] = [1.0, 2.0, 3.0, 0.5, 10.0]
    expected = np.exp(np.asarray(res.design.X)[:5] @ res.params.to_numpy()) * new["t"]
    np.testing.assert_allclose(res.predict(new), expected, rtol=1e-12)
    np.testing.assert_allclose(res.predict(new, exposure=np.ones(5)), expected / new["t"])
    np.testing.assert_allclose(
        res.predict(new, which="linear"), np.log(expected.to_numpy()), rtol=1e-12
    )
    with pytest.raises(PredictionError, match="exposure column 't'"):
        res.predict(new.drop(columns="t"))


def test_exposure_array_needs_exposure_in_predict():
    data = nb_data(n=500, seed=13, exposure=True)
    res = glmspec.fit("y ~ x1 + x2", data, "poisson", exposure=data["t"].to_numpy())
    assert res.spec.exposure == "array"
    with pytest.raises(PredictionError, match="pass exposure="):
        res.predict(data.head())
    np.testing.assert_allclose(
        res.predict(data.head(), exposure=data["t"].head()), res.fittedvalues.head()
    )
    with pytest.raises(PredictionError, match="positive"):
        res.predict(data.head(), exposure=np.zeros(5))
    plain = glmspec.fit("y ~ x1 + x2", data, "poisson")
    with pytest.raises(PredictionError, match="without an exposure"):
        plain.predict(data.head(), exposure=data["t"].head())


def test_exposure_errors():
    data = nb_data(n=300, seed=14, exposure=True)
    bad = data.assign(t=np.where(np.arange(len(data)) == 7, 0.0, data["t"]))
    with pytest.raises(DataError, match=r"exposure must be positive.*row 7"):
        glmspec.fit("y ~ x1", bad, "poisson", exposure="t")
    with pytest.raises(SpecificationError, match="log-link count model"):
        glmspec.fit("y ~ x1", data, "poisson", "sqrt", exposure="t")
    with pytest.raises(SpecificationError, match="log-link count model"):
        glmspec.fit("y ~ x1", data.assign(y=data["y"] + 1.0), "gamma", "log", exposure="t")


# --------------------------------------------------------------------------------------------
# Links
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["poisson", "gaussian", "gamma", "quasipoisson"])
def test_power_half_equals_sqrt(family):
    rng = np.random.default_rng(15)
    x = rng.uniform(0, 1, 800)
    mu = np.square(1.5 + x)
    y = rng.poisson(mu).astype(float) if "poisson" in family else rng.gamma(5.0, mu / 5.0)
    data = pd.DataFrame({"x": x, "y": y})
    # "sqrt" by name is one of R's okLinks for the Poisson families only; any family that
    # allows power(p) takes the Sqrt link object (R: link = power(0.5))
    by_name = "sqrt" if "poisson" in family else glmspec.families.links.Sqrt()
    sqrt = glmspec.fit("y ~ x", data, family, by_name)
    power = glmspec.fit("y ~ x", data, family, "power(0.5)")
    half = glmspec.fit("y ~ x", data, family, "power(1/2)")
    for other in (power, half):
        pd.testing.assert_series_equal(other.params, sqrt.params, rtol=1e-12)
        assert other.llf == pytest.approx(sqrt.llf, rel=1e-12) or family == "quasipoisson"
        assert other.family.link.name == "sqrt"


def test_power_link_against_statsmodels():
    rng = np.random.default_rng(16)
    x = rng.uniform(0, 1, 1000)
    y = rng.gamma(5.0, np.power(1.0 + x, 1 / 0.3) / 5.0)
    res = glmspec.fit("y ~ x", pd.DataFrame({"x": x, "y": y}), "gamma", "power(0.3)")
    assert res.spec.link == "power(0.3)"
    table = glmspec.compare(res)
    assert table.attrs["passed"], table.loc[~table["passed"]].to_string()


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def positive():
    rng = np.random.default_rng(17)
    return pd.DataFrame({"x": rng.uniform(0, 1, 50), "y": rng.gamma(2.0, 1.0, 50) + 0.1})


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("gama", "gamma"),
        ("negative_binomal", "negative_binomial"),
        ("tweedy", "tweedie"),
        ("quasipoison", "quasipoisson"),
        ("inverse_gausian", "inverse_gaussian"),
    ],
)
def test_unknown_family_did_you_mean(positive, name, suggestion):
    with pytest.raises(UnknownFamilyError, match=f"Did you mean '{suggestion}'") as info:
        glmspec.fit("y ~ x", positive, name)
    assert "negative_binomial" in str(info.value) and "quasibinomial" in str(info.value)


@pytest.mark.parametrize(
    "family, link, allowed, power",
    [
        ("gamma", "logit", "allowed links: inverse, log, identity.", True),
        ("inverse_gaussian", "sqrt", "inverse_squared, inverse, log, identity.", True),
        ("negative_binomial", "inverse", "allowed links: log, sqrt, identity.", False),
        ("tweedie", "identity", "allowed links: log.", False),
        ("quasibinomial", "sqrt", "logit, probit, cloglog, log, cauchit.", False),
        ("quasipoisson", "logit", "allowed links: log, identity, sqrt.", True),
    ],
)
def test_link_not_allowed_lists_the_allowed(positive, family, link, allowed, power):
    with pytest.raises(UnknownLinkError) as info:
        glmspec.fit("y ~ x", positive, family, link, var_power=1.5 if family == "tweedie" else None)
    message = str(info.value)
    assert f"'{link}'" in message and family in message and allowed in message
    assert ("power(p)" in message) == power


@pytest.mark.parametrize("value", [1.0, 2.0, 0.5, 2.5, -1.0])
def test_tweedie_var_power_outside_open_interval(positive, value):
    with pytest.raises(
        SpecificationError, match=r"var_power must be in the open interval \(1, 2\)"
    ):
        glmspec.fit("y ~ x", positive, "tweedie", var_power=value)


def test_tweedie_needs_var_power_and_others_refuse_it(positive):
    with pytest.raises(SpecificationError, match="tweedie family needs var_power"):
        glmspec.fit("y ~ x", positive, "tweedie")
    with pytest.raises(SpecificationError, match="var_power=1.5 applies only to the tweedie"):
        glmspec.fit("y ~ x", positive, "gamma", var_power=1.5)


@pytest.mark.parametrize("value", [0.0, -2.0, float("nan"), float("inf"), "big"])
def test_theta_must_be_positive(positive, value):
    with pytest.raises(SpecificationError, match="theta must be a positive"):
        glmspec.fit("y ~ x", positive.assign(y=np.round(positive["y"])), "negbin", theta=value)


def test_theta_only_for_negative_binomial(positive):
    with pytest.raises(SpecificationError, match="theta=2.0 applies only to the negative_binomial"):
        glmspec.fit("y ~ x", positive, "poisson", theta=2.0)


def test_response_support_errors(positive):
    with pytest.raises(glmspec.errors.ResponseError, match="non-positive.*gamma"):
        glmspec.fit("y ~ x", positive.assign(y=positive["y"] - 1.0), "gamma")
    with pytest.raises(glmspec.errors.ResponseError, match="non-positive.*inverse_gaussian"):
        glmspec.fit("y ~ x", positive.assign(y=0.0 * positive["y"]), "inverse_gaussian")
    with pytest.raises(glmspec.errors.ResponseError, match="negative.*negative_binomial"):
        glmspec.fit("y ~ x", positive.assign(y=-positive["y"]), "negative_binomial")
    with pytest.raises(glmspec.errors.ResponseError, match="negative.*tweedie"):
        glmspec.fit("y ~ x", positive.assign(y=-positive["y"]), "tweedie", var_power=1.5)


def test_quasibinomial_allows_non_integer_successes_without_warning():
    rng = np.random.default_rng(18)
    data = pd.DataFrame({"x": rng.uniform(0, 1, 200), "p": rng.uniform(0.1, 0.9, 200)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = glmspec.fit("p ~ x", data, "quasibinomial")
    assert np.isnan(res.llf) and res.use_t
    with pytest.warns(glmspec.errors.DomainWarning):
        glmspec.fit("p ~ x", data, "binomial", weights=np.full(200, 3.0))


# --------------------------------------------------------------------------------------------
# Summary, spec files and reports
# --------------------------------------------------------------------------------------------


def build_tables_for(res):
    spec = Spec.from_dict(
        {
            "data": str(DATASETS / "scotland.csv"),
            "model": [{"name": "m", "formula": "YES ~ COUTAX"}],
        }
    )
    from glmspec.report.tables import model_tables
    from glmspec.spec import FittedModel

    return model_tables(spec, FittedModel(spec.models[0], results=res), "m")


def test_summary_shows_theta_and_missing_llf():
    data = nb_data(n=800, seed=19)
    nb = glmspec.fit("y ~ x1 + x2", data, "negative_binomial")
    text = str(nb.summary())
    assert "negative_binomial(theta=" in text and "Theta: " in text and "Std. Err." in text
    assert "alpha = 1/theta" in text
    quasi = str(glmspec.fit("y ~ x1 + x2", data, "quasipoisson").summary())
    assert "Log-likelihood: NA   AIC: NA   BIC: NA (no likelihood" in quasi
    tweedie = glmspec.fit("y ~ x1 + x2", data, "tweedie", var_power=1.5)
    text = str(tweedie.summary())
    assert "tweedie(var_power=1.5)" in text and "no closed form" in text


def test_report_tables_show_theta_and_llf_convention():
    data = nb_data(n=800, seed=20)
    tables = build_tables_for(glmspec.fit("y ~ x1 + x2", data, "negative_binomial"))
    stats_rows = {r["key"]: r["value"] for r in tables["fit_statistics"]}
    assert stats_rows["theta"] > 0 and stats_rows["theta_se"] > 0
    assert tables["info"]["theta"] == stats_rows["theta"]
    topics = {n["topic"]: n["text"] for n in tables["conventions"]}
    assert "glm.nb" in topics["theta"] and "alpha = 1/theta" in topics["theta"]
    quasi = build_tables_for(glmspec.fit("y ~ x1 + x2", data, "quasipoisson"))
    stats_rows = {r["key"]: r["value"] for r in quasi["fit_statistics"]}
    assert stats_rows["llf"] is None and stats_rows["aic"] is None
    assert "NA" in {n["topic"]: n["text"] for n in quasi["conventions"]}["llf"]
    gamma = build_tables_for(
        glmspec.fit("YES ~ COUTAX + UNEMPF", datasets.load("scotland"), "gamma", "log")
    )
    llf_note = {n["topic"]: n["text"] for n in gamma["conventions"]}["llf"]
    assert "deviance/sum(weights)" in llf_note


def test_bundled_gamma_spec_fits_and_checks():
    spec = load_spec(DATASETS / "scotland_gamma.toml")
    assert {m.family for m in spec.models} == {"gamma"}
    fitted = spec.fit()
    assert all(fm.ok for fm in fitted), [(fm.entry.name, fm.error) for fm in fitted]
    tables = build_tables(spec, fitted)
    assert tables["banner"]["ok"]


def test_bundled_negbin_spec_loads():
    spec = load_spec(DATASETS / "randhie_negbin.toml")
    families = {m.name: m.family for m in spec.models}
    assert families["negbin"] == "negative_binomial" and families["quasipoisson"] == "quasipoisson"
    tweedie = next(m for m in spec.models if m.family == "tweedie")
    assert tweedie.var_power == 1.5
    fitted = spec.fit(only=["negbin"])
    assert fitted[0].ok and fitted[0].results.theta > 0


def test_spec_accepts_new_options(tmp_path):
    data = nb_data(n=300, seed=21, exposure=True)
    data["f"] = 1 + np.arange(len(data)) % 2
    data.to_csv(tmp_path / "d.csv", index=False)
    spec = Spec.from_dict(
        {
            "data": "d.csv",
            "model": [
                {"name": "nb", "formula": "y ~ x1", "family": "negative_binomial", "theta": 2},
                {"name": "exp", "formula": "y ~ x1", "family": "poisson", "exposure": "t"},
                {"name": "fw", "formula": "y ~ x1", "family": "quasipoisson", "freq_weights": "f"},
                {"name": "tw", "formula": "y ~ x1", "family": "tweedie", "var_power": 1.3},
            ],
        },
        base_dir=tmp_path,
    )
    fitted = spec.fit()
    assert all(fm.ok for fm in fitted), [(fm.entry.name, fm.error, fm.check_error) for fm in fitted]
    assert fitted[0].results.theta == 2.0 and fitted[2].results.nobs == data["f"].sum()


def test_spec_reports_bad_new_options(tmp_path):
    data = nb_data(n=50, seed=22, exposure=True)
    data.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(SpecError) as info:
        Spec.from_dict(
            {
                "data": "d.csv",
                "model": [
                    {"name": "a", "formula": "y ~ x1", "family": "poisson", "theta": 2.0},
                    {"name": "b", "formula": "y ~ x1", "family": "tweedie"},
                    {"name": "c", "formula": "y ~ x1", "family": "tweedie", "var_power": 2.5},
                    {"name": "d", "formula": "y ~ x1", "family": "negbin", "theta": -1.0},
                    {"name": "e", "formula": "y ~ x1", "family": "gamma", "exposure": "t"},
                    {"name": "f", "formula": "y ~ x1", "family": "poisson", "exposure": "tt"},
                    {"name": "g", "formula": "y ~ x1", "family": "gamma", "link": "logit"},
                    {"name": "h", "formula": "y ~ x1", "family": "gaussian", "link": "power(2)"},
                ],
            },
            base_dir=tmp_path,
        )
    message = str(info.value)
    assert "model #1 'a', key 'theta': applies only to the negative_binomial family" in message
    assert "model #2 'b', key 'var_power': the tweedie family needs var_power" in message
    assert "model #3 'c', key 'var_power': must be in the open interval (1, 2)" in message
    assert "model #4 'd', key 'theta': must be a positive finite number" in message
    assert "model #5 'e', key 'exposure': needs a log-link count model" in message
    assert "model #6 'f', key 'exposure': column 'tt' is not in d.csv. Did you mean 't'?" in message
    assert "model #7 'g', key 'link'" in message and "allowed links: inverse, log, identity." in (
        message
    )
    assert "'h'" not in message  # gaussian allows power(p)
    assert "7 problem(s)" in message


def test_underdispersed_counts_give_a_large_theta_warning():
    rng = np.random.default_rng(23)
    x = rng.uniform(0, 1, 2000)
    # binomial counts have variance below the mean: the NB2 likelihood grows with theta
    data = pd.DataFrame({"x": x, "y": rng.binomial(40, np.exp(1 + x) / 40)})
    with pytest.warns(glmspec.errors.DomainWarning, match="no overdispersion"):
        res = glmspec.fit("y ~ x", data, "negative_binomial")
    pois = glmspec.fit("y ~ x", data, "poisson")
    pd.testing.assert_series_equal(res.params, pois.params, rtol=1e-5)


def test_nearly_poisson_counts_give_a_finite_theta_without_warnings():
    rng = np.random.default_rng(23)
    x = rng.uniform(0, 1, 2000)
    data = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(1 + x))})  # theta-hat about 811
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = glmspec.fit("y ~ x", data, "negative_binomial")
    assert 500 < res.theta < 1500 and res.converged
    assert abs(theta_score(res.theta, res.design.y, res.record.mu, np.ones(2000))) < 1e-9


def test_anova_refuses_negative_binomials_with_different_theta_but_lrtest_works():
    from glmspec.errors import ModelComparisonError

    data = glmspec.datasets.load("randhie")
    small = glmspec.fit("mdvis ~ lncoins + idp", data, "negative_binomial")
    big = glmspec.fit("mdvis ~ lncoins + idp + lpi + physlm", data, "negative_binomial")
    assert small.theta != big.theta
    with pytest.raises(ModelComparisonError, match="lrtest"):
        glmspec.anova(small, big)
    lr = glmspec.lrtest(small, big)
    assert lr.df == 2
    assert lr.statistic == pytest.approx(2 * (big.llf - small.llf))


def test_lrtest_refuses_families_without_loglik():
    from glmspec.errors import ModelComparisonError

    data = glmspec.datasets.load("randhie")
    small = glmspec.fit("mdvis ~ lncoins", data, "quasipoisson")
    big = glmspec.fit("mdvis ~ lncoins + idp", data, "quasipoisson")
    with pytest.raises(ModelComparisonError, match="no log-likelihood"):
        glmspec.lrtest(small, big)
    table = glmspec.anova(small, big)
    assert table.attrs["test"] == "F"
    assert "NA" in str(small.summary())
