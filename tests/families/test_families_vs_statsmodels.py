"""The families beyond the seed against statsmodels, in statsmodels' own test pattern.

Each case is a small class that only sets the data, formula, family, link, family parameters
and tolerances; :class:`CheckFamily` holds the checks. Every case is compared twice: through
:func:`glmspec.compare` (every row must pass) and directly against an independent statsmodels
``GLM`` built here from the raw data on glmspec's design matrix.

Conventions checked (R's, where statsmodels differs the statsmodels side is re-evaluated):

* Gamma and inverse Gaussian llf: ``sum(w log f(y; mu, disp))`` at ``disp = deviance /
  sum(w)`` (R's ``Gamma()$aic``), checked against scipy's ``gamma``/``invgauss`` logpdf sums
  and statsmodels' ``family.loglike`` at that dispersion; AIC counts the dispersion.
* Negative binomial: statsmodels' GLM family with ``alpha = 1/theta`` at glmspec's theta; the
  llf with every constant; AIC counts an estimated theta.
* Quasi families and Tweedie: statsmodels' Pearson scale (``scale="X2"``); llf, AIC, BIC NaN.
* Tests: t on df_resid when the dispersion is estimated (statsmodels ``use_t=True``), else z.

Every new family x link is covered, on bundled real data where the model is sensible
(scotland: Gamma; randhie: negative binomial, quasi-Poisson, Tweedie; star98:
quasibinomial) and on synthetic data with known coefficients (recovered within ``N_SE``
standard errors) otherwise.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special, stats

import glmspec
from glmspec import datasets
from tests.helpers import sm_link

RTOL = 1e-6
N_SE = 4.0

SCOTLAND = "YES ~ COUTAX + UNEMPF + MOR + ACT + GDP + AGE + COUTAX_FEMALEUNEMP"
RANDHIE = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
STAR98 = "NABOVE + NBELOW ~ LOWINC + PERASIAN + PERBLACK + PERHISP + PCTAF + PCTYRRND"

QUASI = ("quasipoisson", "quasibinomial")
ESTIMATED_SCALE = ("gamma", "inverse_gaussian", "tweedie", *QUASI)


def sm_family(res):
    """statsmodels' family for a glmspec fit (alpha = 1/theta for the negative binomial)."""
    f, link = res.family, sm_link(res.spec.link)
    if f.name == "negative_binomial":
        return sm.families.NegativeBinomial(link, alpha=1.0 / res.theta, check_link=False)
    if f.name == "tweedie":
        return sm.families.Tweedie(link, var_power=f.var_power, check_link=False)
    cls = {
        "gamma": sm.families.Gamma,
        "inverse_gaussian": sm.families.InverseGaussian,
        "quasipoisson": sm.families.Poisson,
        "quasibinomial": sm.families.Binomial,
        "poisson": sm.families.Poisson,
    }[f.name]
    return cls(link, check_link=False)


# --------------------------------------------------------------------------------------------
# Synthetic data with known coefficients
# --------------------------------------------------------------------------------------------


def _inverse_link(link: str, eta: np.ndarray) -> np.ndarray:
    if link.startswith("power("):
        return np.power(eta, 1.0 / float(link[6:-1]))
    return {
        "identity": lambda e: e,
        "log": np.exp,
        "inverse": lambda e: 1.0 / e,
        "inverse_squared": lambda e: 1.0 / np.sqrt(e),
        "sqrt": np.square,
        "logit": special.expit,
        "probit": stats.norm.cdf,
        "cloglog": lambda e: -np.expm1(-np.exp(e)),
        "cauchit": stats.cauchy.cdf,
    }[link](eta)


def simulate(family, link, coef, *, n=2000, seed=0, dispersion=0.2, theta=2.0, var_power=1.5):
    """Data with ``mu = g^{-1}(coef . (1, x1, x2))``, ``x ~ U(0, 1)``.

    gamma: shape 1/dispersion; inverse_gaussian: shape 1/dispersion (numpy's Wald);
    negative_binomial and quasipoisson: NB2 counts with ``theta``; tweedie: compound
    Poisson-gamma with ``var_power`` and ``dispersion``; quasibinomial: beta-binomial
    proportions out of ``m = 20`` trials (column ``m``), overdispersed by ``dispersion``.
    """
    rng = np.random.default_rng(seed)
    x1, x2 = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    mu = _inverse_link(link, coef["Intercept"] + coef["x1"] * x1 + coef["x2"] * x2)
    frame = pd.DataFrame({"x1": x1, "x2": x2})
    if family == "gamma":
        shape = 1.0 / dispersion
        y = rng.gamma(shape, mu / shape)
    elif family == "inverse_gaussian":
        y = rng.wald(mu, 1.0 / dispersion)
    elif family in ("negative_binomial", "quasipoisson"):
        y = rng.negative_binomial(theta, theta / (theta + mu)).astype(float)
    elif family == "tweedie":
        p = var_power
        rate = np.power(mu, 2 - p) / (dispersion * (2 - p))
        shape, scale = (2 - p) / (p - 1), dispersion * (p - 1) * np.power(mu, p - 1)
        counts = rng.poisson(rate)
        y = np.where(counts > 0, rng.gamma(np.maximum(counts, 1) * shape, scale), 0.0)
    else:  # quasibinomial
        m, rho = 20, dispersion
        a, b = mu * (1 - rho) / rho, (1 - mu) * (1 - rho) / rho
        successes = rng.binomial(m, rng.beta(a, b))
        frame["m"] = float(m)
        y = successes / m
    frame["y"] = y
    return frame


# --------------------------------------------------------------------------------------------
# The shared checks
# --------------------------------------------------------------------------------------------


class CheckFamily:
    """Base class: subclasses set the case; the methods check it against statsmodels."""

    formula: str = "y ~ x1 + x2"
    family: str
    link: str
    params: dict = {}
    weights: str | None = None
    truth: dict[str, float] | None = None
    rtol: float = RTOL

    @classmethod
    def make_data(cls) -> pd.DataFrame:
        raise NotImplementedError

    @classmethod
    def setup_class(cls):
        cls.data = cls.make_data()
        with warnings.catch_warnings():
            warnings.simplefilter("error", glmspec.errors.ConvergenceWarning)
            cls.res = glmspec.fit(
                cls.formula, cls.data, cls.family, cls.link, weights=cls.weights, **cls.params
            )
        response = cls.formula.split("~")[0].strip()
        if "+" in response:  # two count columns: proportions with trials as weights
            first, second = (c.strip() for c in response.split("+"))
            trials = cls.data[first] + cls.data[second]
            cls.endog = (cls.data[first] / trials).to_numpy(float)
            cls.var_weights = trials.to_numpy(float)
        else:
            cls.endog = cls.data[response].to_numpy(float)
            cls.var_weights = None if cls.weights is None else cls.data[cls.weights].to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls.sm_model = sm.GLM(
                cls.endog,
                np.asarray(cls.res.design.X),
                family=sm_family(cls.res),
                var_weights=cls.var_weights,
            )
            cls.sm_res = cls.sm_model.fit(
                method="IRLS",
                maxiter=1000,
                tol=1e-13,
                rtol=0.0,
                tol_criterion="params",
                scale="X2" if cls.family in QUASI else None,
                use_t=cls.family in ESTIMATED_SCALE,
            )
            cls.table = glmspec.compare(cls.res, tol=RTOL)

    def _close(self, actual, desired, scale=None):
        actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
        atol = 0.0 if scale is None else self.rtol * float(np.min(scale))
        np.testing.assert_allclose(actual, desired, rtol=self.rtol, atol=atol)

    @property
    def _w(self) -> np.ndarray:
        return np.ones(len(self.endog)) if self.var_weights is None else self.var_weights

    def test_converged(self):
        assert self.res.converged and self.sm_res.converged

    def test_compare_all_rows_pass(self):
        failed = self.table.loc[~self.table["passed"]]
        assert self.table.attrs["passed"], f"compare() rows failed:\n{failed.to_string()}"
        quantities = set(self.table["quantity"])
        assert {"deviance", "null_deviance", "scale", "nobs", "df_resid"} <= quantities
        assert ("llf" in quantities) == self.res.family.has_loglik

    def test_params_bse(self):
        self._close(self.res.params, self.sm_res.params, scale=self.res.bse)
        self._close(self.res.bse, self.sm_res.bse)

    def test_deviance_scale_df(self):
        self._close(self.res.deviance, self.sm_res.deviance)
        self._close(self.res.null_deviance, self.sm_res.null_deviance)
        self._close(self.res.scale, self.sm_res.scale)
        if self.family in ESTIMATED_SCALE:
            pearson = np.sum(np.asarray(self.sm_res.resid_pearson) ** 2)
            self._close(self.res.scale, pearson / self.res.df_resid)
        else:
            assert self.res.scale == 1.0
        assert self.res.nobs == self.sm_res.nobs
        assert self.res.df_resid == self.sm_res.df_resid == self.res.nobs - len(self.res.params)

    def test_llf_convention(self):
        name = self.res.family.name
        if not self.res.family.has_loglik:
            assert np.isnan(self.res.llf) and np.isnan(self.res.aic) and np.isnan(self.res.bic)
            assert np.isnan(self.res.llnull)
            return
        mu, y, w = np.asarray(self.sm_res.mu), self.endog, self._w
        if name in ("gamma", "inverse_gaussian"):
            disp = self.sm_res.deviance / np.sum(w)  # R: dev / sum(wt)
            if name == "gamma":
                expected = np.sum(w * stats.gamma.logpdf(y, a=1 / disp, scale=mu * disp))
            else:  # scipy: invgauss(mu / lambda, scale=lambda), lambda = 1 / disp
                expected = np.sum(w * stats.invgauss.logpdf(y, mu * disp, scale=1 / disp))
            sm_llf = self.sm_res.family.loglike(y, mu, np.ones_like(w), w, disp)
            self._close(sm_llf, expected)
            assert not np.isclose(self.sm_res.llf, expected, rtol=1e-8)  # statsmodels: Pearson
        else:  # negative binomial: statsmodels' llf is the full NB2 log-likelihood
            expected = np.sum(
                w * stats.nbinom.logpmf(y, self.res.theta, self.res.theta / (self.res.theta + mu))
            )
            self._close(self.sm_res.llf, expected)
        self._close(self.res.llf, expected)
        k = len(self.res.params) + self.res.family.n_dispersion_params
        self._close(self.res.aic, -2 * self.res.llf + 2 * k)
        self._close(self.res.bic, -2 * self.res.llf + np.log(self.res.nobs) * k)

    def test_tests_t_or_z(self):
        self._close(self.res.tvalues, self.sm_res.tvalues)
        assert self.res.use_t == (self.family in ESTIMATED_SCALE)
        np.testing.assert_allclose(self.res.pvalues, self.sm_res.pvalues, rtol=1e-4, atol=1e-12)
        sm_ci = np.asarray(self.sm_res.conf_int())
        width = np.asarray(self.sm_res.bse)[:, None]
        np.testing.assert_allclose(self.res.conf_int().to_numpy() / width, sm_ci / width, atol=1e-5)

    def test_fitted_and_residuals(self):
        self._close(self.res.fittedvalues, self.sm_res.fittedvalues)
        scale = np.abs(np.asarray(self.sm_res.resid_pearson)).max()
        for ours, theirs in [
            (self.res.resid_pearson, self.sm_res.resid_pearson),
            (self.res.resid_deviance, self.sm_res.resid_deviance),
        ]:
            np.testing.assert_allclose(ours, theirs, rtol=self.rtol, atol=self.rtol * scale)

    def test_truth_recovered(self):
        if self.truth is None:
            pytest.skip("real data: no known coefficients to recover")
        truth = pd.Series(self.truth)[self.res.params.index]
        z = (self.res.params - truth) / self.res.bse
        assert np.all(np.abs(z) < N_SE), f"estimates too far from the truth:\n{z}"


class _Synthetic(CheckFamily):
    seed = 0
    sim: dict = {}

    @classmethod
    def make_data(cls):
        return simulate(cls.family, cls.link, cls.truth, seed=cls.seed, **cls.sim)


# --------------------------------------------------------------------------------------------
# Gamma: inverse, log, identity on scotland; power(2) and weights on synthetic data
# --------------------------------------------------------------------------------------------


class _Scotland(CheckFamily):
    formula, family = SCOTLAND, "gamma"

    @classmethod
    def make_data(cls):
        return datasets.load("scotland")


class TestGammaInverseScotland(_Scotland):
    link = "inverse"

    def test_r_reference_values(self):
        # R: glm(YES ~ ..., family = Gamma, data = scotland); AIC(fit) = 182.947045954721
        assert self.res.aic == pytest.approx(182.947045954721, rel=1e-9)
        assert self.res.deviance == pytest.approx(0.087388516417, rel=1e-9)


class TestGammaLogScotland(_Scotland):
    link = "log"


class TestGammaIdentityScotland(_Scotland):
    link = "identity"


class TestGammaPowerSynthetic(_Synthetic):
    family, link, seed = "gamma", "power(2)", 1
    truth = {"Intercept": 2.0, "x1": 1.0, "x2": 1.5}


class TestGammaLogWeightsSynthetic(_Synthetic):
    """Prior weights: R's weights, statsmodels' var_weights; llf as R's sum(w log f)."""

    family, link, seed, weights = "gamma", "log", 2, "w"
    truth = {"Intercept": 0.5, "x1": 0.8, "x2": -0.6}

    @classmethod
    def make_data(cls):
        data = simulate(cls.family, cls.link, cls.truth, seed=cls.seed)
        data["w"] = np.random.default_rng(3).integers(1, 4, len(data)).astype(float)
        return data


# --------------------------------------------------------------------------------------------
# Inverse Gaussian: inverse_squared, inverse, log, identity on synthetic data
# --------------------------------------------------------------------------------------------


class TestInverseGaussianInverseSquared(_Synthetic):
    family, link, seed = "inverse_gaussian", "inverse_squared", 4
    truth = {"Intercept": 0.4, "x1": 0.5, "x2": 0.3}


class TestInverseGaussianInverse(_Synthetic):
    family, link, seed = "inverse_gaussian", "inverse", 5
    truth = {"Intercept": 0.5, "x1": 0.5, "x2": 0.3}


class TestInverseGaussianLog(_Synthetic):
    family, link, seed = "inverse_gaussian", "log", 6
    truth = {"Intercept": 0.2, "x1": 0.5, "x2": -0.3}


class TestInverseGaussianIdentity(_Synthetic):
    family, link, seed = "inverse_gaussian", "identity", 7
    truth = {"Intercept": 1.0, "x1": 1.0, "x2": 0.5}


# --------------------------------------------------------------------------------------------
# Negative binomial: log on randhie (theta by ML and fixed); sqrt, identity synthetic
# --------------------------------------------------------------------------------------------


class _Randhie(CheckFamily):
    formula = RANDHIE

    @classmethod
    def make_data(cls):
        return datasets.load("randhie")


class TestNegBinLogRandhie(_Randhie):
    family, link = "negative_binomial", "log"

    def test_theta_against_statsmodels_discrete_nb2(self):
        from statsmodels.discrete.discrete_model import NegativeBinomial

        model = NegativeBinomial(self.endog, np.asarray(self.res.design.X))
        nb2 = model.fit(method="newton", maxiter=300, tol=1e-12, disp=0)
        alpha = nb2.params[-1]
        assert self.res.theta == pytest.approx(1 / alpha, rel=1e-5)
        assert self.res.alpha == pytest.approx(alpha, rel=1e-5)
        assert self.res.llf == pytest.approx(nb2.llf, rel=1e-10)
        self._close(self.res.params, nb2.params[:-1], scale=self.res.bse)
        # R's SE.theta: the theta-theta observed information alone (beta held fixed)
        info = -model.hessian(nb2.params)[-1, -1] * alpha**4
        assert self.res.theta_se == pytest.approx(1 / np.sqrt(info), rel=1e-5)
        assert {"theta", "theta_se", "llf_joint"} <= set(self.table["quantity"])

    def test_aic_counts_theta(self):
        k = len(self.res.params) + 1
        assert self.res.aic == pytest.approx(-2 * self.res.llf + 2 * k, rel=1e-12)
        assert self.res.theta_estimated and np.isfinite(self.res.theta_se)


class TestNegBinFixedThetaRandhie(_Randhie):
    family, link, params = "negative_binomial", "log", {"theta": 1.5}

    def test_theta_fixed(self):
        assert self.res.theta == 1.5 and not self.res.theta_estimated
        assert np.isnan(self.res.theta_se)
        # glm(..., negative.binomial(1.5)): AIC counts the coefficients only
        assert self.res.aic == pytest.approx(-2 * self.res.llf + 2 * len(self.res.params))
        assert self.res.aic == pytest.approx(self.sm_res.aic, rel=1e-10)


class TestNegBinSqrtSynthetic(_Synthetic):
    family, link, seed = "negative_binomial", "sqrt", 8
    truth = {"Intercept": 1.5, "x1": 0.8, "x2": -0.5}


class TestNegBinIdentitySynthetic(_Synthetic):
    family, link, seed = "negative_binomial", "identity", 9
    truth = {"Intercept": 2.0, "x1": 3.0, "x2": 1.0}


# --------------------------------------------------------------------------------------------
# Quasi-Poisson: log on randhie; sqrt, identity, power(1/3) on synthetic overdispersed counts
# --------------------------------------------------------------------------------------------


class TestQuasiPoissonLogRandhie(_Randhie):
    family, link = "quasipoisson", "log"

    def test_same_estimates_as_poisson_scaled_bse(self):
        pois = glmspec.fit(self.formula, self.data, "poisson")
        pd.testing.assert_series_equal(self.res.params, pois.params, rtol=1e-10)
        self._close(self.res.bse, pois.bse * np.sqrt(self.res.scale))
        assert self.res.scale > 5  # randhie is strongly overdispersed


class TestQuasiPoissonSqrt(_Synthetic):
    family, link, seed = "quasipoisson", "sqrt", 10
    truth = {"Intercept": 1.5, "x1": 0.8, "x2": -0.5}


class TestQuasiPoissonIdentity(_Synthetic):
    family, link, seed = "quasipoisson", "identity", 11
    truth = {"Intercept": 2.0, "x1": 3.0, "x2": 1.0}


class TestQuasiPoissonPower(_Synthetic):
    family, link, seed = "quasipoisson", "power(0.25)", 12
    truth = {"Intercept": 1.1, "x1": 0.3, "x2": -0.2}


# --------------------------------------------------------------------------------------------
# Quasibinomial: logit on star98 counts; probit, cloglog, log, cauchit on synthetic data
# --------------------------------------------------------------------------------------------


class TestQuasiBinomialLogitStar98(CheckFamily):
    formula, family, link = STAR98, "quasibinomial", "logit"

    @classmethod
    def make_data(cls):
        return datasets.load("star98")


class _QuasiBinomial(_Synthetic):
    formula, family, weights = "y ~ x1 + x2", "quasibinomial", "m"


class TestQuasiBinomialProbit(_QuasiBinomial):
    link, seed = "probit", 13
    truth = {"Intercept": 0.2, "x1": 0.6, "x2": -0.4}


class TestQuasiBinomialCLogLog(_QuasiBinomial):
    link, seed = "cloglog", 14
    truth = {"Intercept": -0.5, "x1": 0.6, "x2": -0.4}


class TestQuasiBinomialLog(_QuasiBinomial):
    link, seed = "log", 15
    truth = {"Intercept": -1.2, "x1": 0.5, "x2": -0.5}


class TestQuasiBinomialCauchit(_QuasiBinomial):
    link, seed = "cauchit", 16
    truth = {"Intercept": 0.1, "x1": 0.8, "x2": -0.6}


class TestQuasiBinomialLogit(_QuasiBinomial):
    link, seed = "logit", 17
    truth = {"Intercept": -0.3, "x1": 1.0, "x2": -0.7}


# --------------------------------------------------------------------------------------------
# Tweedie (1 < var_power < 2), log link: randhie and synthetic compound Poisson-gamma data
# --------------------------------------------------------------------------------------------


class TestTweedieLogRandhie(_Randhie):
    family, link, params = "tweedie", "log", {"var_power": 1.5}


class TestTweedieLogSynthetic(_Synthetic):
    family, link, seed = "tweedie", "log", 18
    params = {"var_power": 1.4}
    sim = {"var_power": 1.4, "dispersion": 1.5}
    truth = {"Intercept": 0.3, "x1": 0.5, "x2": -0.4}

    def test_scale_estimates_the_dispersion(self):
        assert np.mean(self.data["y"] == 0) > 0.1  # exact zeros, as compound Poisson-gamma
        assert self.res.scale == pytest.approx(1.5, rel=0.1)


ALL_LINKS = {
    "gamma": ("inverse", "log", "identity", "power(2)"),
    "inverse_gaussian": ("inverse_squared", "inverse", "log", "identity"),
    "negative_binomial": ("log", "sqrt", "identity"),
    "quasipoisson": ("log", "identity", "sqrt", "power(0.25)"),
    "quasibinomial": ("logit", "probit", "cloglog", "log", "cauchit"),
    "tweedie": ("log",),
}


def test_every_new_family_link_pair_has_a_case():
    covered = {
        (cls.family, cls.link)
        for cls in globals().values()
        if isinstance(cls, type)
        and issubclass(cls, CheckFamily)
        and cls.__name__.startswith("Test")
    }
    expected = {(f, link) for f, links in ALL_LINKS.items() for link in links}
    assert expected <= covered, expected - covered
