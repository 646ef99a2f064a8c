"""glmspec against statsmodels' GLM, in statsmodels' own test pattern.

Each case is a small class that only sets the data, formula, family, link and tolerances; the
shared base class :class:`CheckGLM` holds the test methods. Every case is checked twice:

* with :func:`glmspec.compare` (every row must pass at ``RTOL``), and
* directly, against an independent statsmodels ``GLM`` built in this file on glmspec's design
  matrix, with the response, ``var_weights`` and offset taken from the raw data (not from
  glmspec's design), fitted by IRLS to a tight parameter tolerance.

The quantities glmspec defines as R does (log-likelihood of the Gaussian at ``deviance/nobs``,
AIC counting the Gaussian dispersion, t tests for the Gaussian) are checked against scipy's
distributions and R's formulas instead of statsmodels' defaults.

Every family x link is covered: gaussian {identity, log, inverse}, binomial {logit, probit,
cloglog, log, cauchit}, poisson {log, identity, sqrt}, on bundled real data where the model is
sensible and on synthetic data with known coefficients (recovered within ``N_SE`` standard
errors) otherwise.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import glmspec
from glmspec import datasets
from tests.helpers import sm_link

RTOL = 1e-6
N_SE = 4.0

SM_FAMILIES = {
    "gaussian": sm.families.Gaussian,
    "binomial": sm.families.Binomial,
    "poisson": sm.families.Poisson,
}

SPECTOR = "GRADE ~ GPA + TUCE + PSI"
CPUNISH = "EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + VC100k96 + SOUTH + DEGREE"
SCOTLAND = "YES ~ COUTAX + UNEMPF + MOR + ACT + GDP + AGE + COUTAX_FEMALEUNEMP"
VISITORS = "visitors ~ hour + C(weekday) + rain + temperature + event"
RANDHIE = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
STAR98_RHS = (
    "LOWINC + PERASIAN + PERBLACK + PERHISP + PERMINTE + AVYRSEXP + AVSALK + PERSPENK + "
    "PTRATIO + PCTAF + PCTCHRT + PCTYRRND + PERMINTE_AVYRSEXP + PERMINTE_AVSAL + "
    "AVYRSEXP_AVSAL + PERSPEN_PTRATIO + PERSPEN_PCTAF + PTRATIO_PCTAF + "
    "PERMINTE_AVYRSEXP_AVSAL + PERSPEN_PTRATIO_PCTAF"
)


# --------------------------------------------------------------------------------------------
# Synthetic data with known coefficients
# --------------------------------------------------------------------------------------------


def _inverse_link(link: str, eta: np.ndarray) -> np.ndarray:
    return {
        "identity": lambda e: e,
        "log": np.exp,
        "logit": lambda e: 1.0 / (1.0 + np.exp(-e)),
        "probit": stats.norm.cdf,
        "cloglog": lambda e: -np.expm1(-np.exp(e)),
        "cauchit": stats.cauchy.cdf,
        "inverse": lambda e: 1.0 / e,
        "sqrt": np.square,
    }[link](eta)


def synthetic(
    family: str,
    link: str,
    coef: dict[str, float],
    *,
    n: int = 3000,
    seed: int = 0,
    low: float = -1.0,
    high: float = 1.0,
    sigma: float = 0.3,
    exposure: bool = False,
    weights: bool = False,
) -> pd.DataFrame:
    """Data whose mean is ``g^{-1}(coef . (1, x1, x2, ...))`` with ``x_j ~ U(low, high)``.

    Gaussian noise has standard deviation ``sigma / sqrt(w)``. With ``exposure`` the Poisson
    mean is multiplied by ``t`` and the column ``log_t`` holds the offset. With ``weights`` a
    column ``w`` of prior weights (integers 1-3, so binomial counts stay whole) is added; for
    the Gaussian the weights scale the precision, for the Poisson they are frequency-like.
    """
    rng = np.random.default_rng(seed)
    names = [k for k in coef if k != "Intercept"]
    data = {name: rng.uniform(low, high, n) for name in names}
    eta = coef["Intercept"] + sum(coef[k] * data[k] for k in names)
    frame = pd.DataFrame(data)
    w = rng.integers(1, 4, n).astype(float) if weights else np.ones(n)
    if exposure:
        t = rng.uniform(0.5, 3.0, n)
        frame["log_t"] = np.log(t)
        eta = eta + frame["log_t"].to_numpy()
    mu = _inverse_link(link, eta)
    if family == "gaussian":
        y = mu + rng.normal(0.0, sigma, n) / np.sqrt(w)
    elif family == "poisson":
        y = rng.poisson(mu).astype(np.int64)
    else:
        assert np.all((mu > 0) & (mu < 1)), "coefficients give an invalid probability"
        y = (rng.random(n) < mu).astype(np.int64)
    frame["y"] = y
    if weights:
        frame["w"] = w
    return frame


# --------------------------------------------------------------------------------------------
# The shared checks
# --------------------------------------------------------------------------------------------


class CheckGLM:
    """Base class: subclasses set the case; the methods check it against statsmodels."""

    formula: str
    family: str
    link: str
    weights: str | None = None
    offset: str | None = None
    #: true coefficients, for synthetic data (None: real data, nothing to recover)
    truth: dict[str, float] | None = None
    rtol: float = RTOL

    # -- case description -------------------------------------------------------------------

    @classmethod
    def make_data(cls) -> pd.DataFrame:
        raise NotImplementedError

    @classmethod
    def sm_endog(cls, data: pd.DataFrame) -> np.ndarray:
        """statsmodels' response from the raw data (counts as two columns for star98)."""
        return data[cls.formula.split("~")[0].strip()].to_numpy(dtype=float)

    @classmethod
    def sm_var_weights(cls, data: pd.DataFrame) -> np.ndarray | None:
        return None if cls.weights is None else data[cls.weights].to_numpy(dtype=float)

    @classmethod
    def sm_offset(cls, data: pd.DataFrame) -> np.ndarray | None:
        return None if cls.offset is None else data[cls.offset].to_numpy(dtype=float)

    # -- fitting ------------------------------------------------------------------------------

    @classmethod
    def setup_class(cls):
        cls.data = cls.make_data()
        with warnings.catch_warnings():
            warnings.simplefilter("error", glmspec.errors.ConvergenceWarning)
            cls.res = glmspec.fit(
                cls.formula,
                cls.data,
                cls.family,
                cls.link,
                weights=cls.weights,
                offset=cls.offset,
            )
        X = cls.res.design.X
        sm_family = SM_FAMILIES[cls.family](sm_link(cls.link))
        cls.endog = cls.sm_endog(cls.data)
        cls.var_weights = cls.sm_var_weights(cls.data)
        with warnings.catch_warnings():
            # statsmodels warns that identity/sqrt/log links leave the family's domain
            warnings.simplefilter("ignore")
            cls.sm_model = sm.GLM(
                cls.endog,
                X,
                family=sm_family,
                offset=cls.sm_offset(cls.data),
                var_weights=cls.var_weights,
            )
            cls.sm_res = cls.sm_model.fit(
                method="IRLS",
                maxiter=1000,
                tol=1e-13,
                rtol=0.0,
                tol_criterion="params",
                use_t=cls.family == "gaussian",
            )
            cls.table = glmspec.compare(cls.res, tol=RTOL)

    def _close(self, actual, desired, scale=None):
        """assert_allclose at ``rtol``; coefficients near zero are judged on ``scale``."""
        actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
        atol = 0.0 if scale is None else self.rtol * float(np.min(scale))
        np.testing.assert_allclose(actual, desired, rtol=self.rtol, atol=atol)

    @property
    def _sigma2(self) -> float:
        """R's Gaussian logLik dispersion: ML estimate deviance / nobs."""
        return self.sm_res.deviance / self.sm_res.nobs

    # -- tests ---------------------------------------------------------------------------------

    def test_converged(self):
        assert self.res.converged
        assert self.sm_res.converged

    def test_compare_all_rows_pass(self):
        failed = self.table.loc[~self.table["passed"]]
        assert self.table.attrs["passed"], f"compare() rows failed:\n{failed.to_string()}"
        assert self.table.attrs["tol"] == RTOL
        quantities = set(self.table["quantity"])
        assert {"llf", "deviance", "null_deviance", "scale", "nobs"} <= quantities
        assert {f"coef[{n}]" for n in self.res.params.index} <= quantities

    def test_params(self):
        assert list(self.res.params.index) == list(self.res.design.column_names)
        self._close(self.res.params, self.sm_res.params, scale=self.res.bse)

    def test_bse(self):
        self._close(self.res.bse, self.sm_res.bse)

    def test_cov_params(self):
        cov = self.res.cov_params()
        assert list(cov.index) == list(cov.columns) == list(self.res.params.index)
        sm_cov = np.asarray(self.sm_res.cov_params())
        scale = np.sqrt(np.outer(np.diag(sm_cov), np.diag(sm_cov)))
        np.testing.assert_allclose(cov.to_numpy() / scale, sm_cov / scale, rtol=0, atol=self.rtol)

    def test_deviance(self):
        self._close(self.res.deviance, self.sm_res.deviance)

    def test_null_deviance(self):
        self._close(self.res.null_deviance, self.sm_res.null_deviance)

    def test_scale(self):
        self._close(self.res.scale, self.sm_res.scale)
        if self.family != "gaussian":
            assert self.res.scale == 1.0
        else:
            pearson = np.sum(np.asarray(self.sm_res.resid_pearson) ** 2)
            self._close(self.res.scale, pearson / self.sm_res.df_resid)

    def test_degrees_of_freedom(self):
        assert self.res.nobs == self.sm_res.nobs
        assert self.res.df_resid == self.sm_res.df_resid
        assert self.res.df_model == self.sm_res.df_model
        assert self.res.df_resid == self.res.nobs - len(self.res.params)

    def test_llf(self):
        if self.family == "gaussian":
            # R's logLik: at the ML dispersion deviance / nobs for every link
            sm_llf = self.sm_res.family.loglike(
                self.sm_model.endog,
                self.sm_res.mu,
                self.sm_model.var_weights,
                self.sm_model.freq_weights,
                self._sigma2,
            )
            if self.link == "identity" and self.weights is None:
                self._close(self.sm_res.llf, sm_llf)  # statsmodels agrees for this link
        else:
            sm_llf = self.sm_res.llf
        self._close(self.res.llf, sm_llf)

    def test_llf_equals_scipy_logpdf_sum(self):
        mu = np.asarray(self.sm_res.mu)
        vw = np.ones(len(mu)) if self.var_weights is None else self.var_weights
        endog = self.endog
        if self.family == "poisson":
            expected = np.sum(vw * stats.poisson.logpmf(endog, mu))
        elif self.family == "binomial":
            if endog.ndim == 2:  # (successes, failures): the binomial coefficient counts
                expected = np.sum(vw * stats.binom.logpmf(endog[:, 0], endog.sum(axis=1), mu))
            else:
                expected = np.sum(vw * stats.binom.logpmf(endog, 1, mu))
        else:
            sd = np.sqrt(self._sigma2 / vw)
            expected = np.sum(stats.norm.logpdf(endog, mu, sd))
        self._close(self.res.llf, expected)

    def test_aic_bic_r_convention(self):
        k = len(self.res.params) + (1 if self.family == "gaussian" else 0)
        self._close(self.res.aic, -2 * self.res.llf + 2 * k)
        self._close(self.res.bic, -2 * self.res.llf + np.log(self.res.nobs) * k)
        if self.family != "gaussian":
            # statsmodels counts the same parameters when the dispersion is fixed
            self._close(self.res.aic, self.sm_res.aic)
            self._close(self.res.bic, self.sm_res.bic_llf)

    def test_tvalues_pvalues(self):
        self._close(self.res.tvalues, self.res.params / self.res.bse)
        self._close(self.res.tvalues, self.sm_res.tvalues)
        z = np.abs(self.res.tvalues.to_numpy())
        if self.family == "gaussian":
            assert self.res.use_t
            expected = 2 * stats.t.sf(z, self.res.df_resid)
        else:
            assert not self.res.use_t
            expected = 2 * stats.norm.sf(z)
        np.testing.assert_allclose(self.res.pvalues, expected, rtol=1e-10, atol=1e-300)
        # statsmodels uses t with df_resid when use_t=True (set above for the Gaussian)
        np.testing.assert_allclose(self.res.pvalues, self.sm_res.pvalues, rtol=1e-4, atol=1e-12)

    @pytest.mark.parametrize("alpha", [0.05, 0.1])
    def test_conf_int(self, alpha):
        ci = self.res.conf_int(alpha)
        assert list(ci.columns) == [0, 1]
        assert list(ci.index) == list(self.res.params.index)
        df = self.res.df_resid if self.family == "gaussian" else None
        q = stats.t.isf(alpha / 2, df) if df is not None else stats.norm.isf(alpha / 2)
        np.testing.assert_allclose(ci[0], self.res.params - q * self.res.bse, rtol=1e-12)
        np.testing.assert_allclose(ci[1], self.res.params + q * self.res.bse, rtol=1e-12)
        sm_ci = np.asarray(self.sm_res.conf_int(alpha))
        width = np.asarray(self.sm_res.bse)[:, None]
        np.testing.assert_allclose(ci.to_numpy() / width, sm_ci / width, rtol=0, atol=1e-5)

    def test_fitted_and_residuals(self):
        self._close(self.res.fittedvalues, self.sm_res.fittedvalues)
        scale = np.abs(np.asarray(self.sm_res.resid_pearson)).max()
        response = self.res.resid_response  # R: y - mu, on the proportion scale
        if self.endog.ndim == 2:  # statsmodels: on the count scale for (successes, failures)
            response = response * self.endog.sum(axis=1)
        for ours, theirs in [
            (response, self.sm_res.resid_response),
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


# --------------------------------------------------------------------------------------------
# Gaussian: identity, log, inverse
# --------------------------------------------------------------------------------------------


class TestGaussianIdentityScotland(CheckGLM):
    formula, family, link = SCOTLAND, "gaussian", "identity"

    @classmethod
    def make_data(cls):
        return datasets.load("scotland")


class TestGaussianLogScotland(CheckGLM):
    formula, family, link = SCOTLAND, "gaussian", "log"

    @classmethod
    def make_data(cls):
        return datasets.load("scotland")


class TestGaussianInverseScotland(CheckGLM):
    formula, family, link = SCOTLAND, "gaussian", "inverse"

    @classmethod
    def make_data(cls):
        return datasets.load("scotland")


class TestGaussianIdentitySynthetic(CheckGLM):
    formula, family, link = "y ~ x1 + x2", "gaussian", "identity"
    truth = {"Intercept": 1.0, "x1": 2.0, "x2": -0.5}

    @classmethod
    def make_data(cls):
        return synthetic(cls.family, cls.link, cls.truth, n=2000, seed=1, sigma=1.0)


class TestGaussianIdentityWeightsOffset(CheckGLM):
    """Prior weights are statsmodels' var_weights; the offset enters the linear predictor."""

    formula, family, link = "y ~ x1 + x2", "gaussian", "identity"
    weights, offset = "w", "log_t"
    truth = {"Intercept": 1.0, "x1": 2.0, "x2": -0.5}

    @classmethod
    def make_data(cls):
        return synthetic(
            cls.family,
            cls.link,
            cls.truth,
            n=2000,
            seed=2,
            sigma=1.0,
            weights=True,
            exposure=True,
        )


class TestGaussianLogSynthetic(CheckGLM):
    formula, family, link = "y ~ x1 + x2", "gaussian", "log"
    truth = {"Intercept": 1.0, "x1": 0.5, "x2": -0.3}

    @classmethod
    def make_data(cls):
        return synthetic(cls.family, cls.link, cls.truth, n=2000, seed=3, low=0, high=2)


class TestGaussianLogWeightsOffset(CheckGLM):
    formula, family, link = "y ~ x1 + x2", "gaussian", "log"
    weights, offset = "w", "log_t"
    truth = {"Intercept": 1.0, "x1": 0.5, "x2": -0.3}

    @classmethod
    def make_data(cls):
        return synthetic(
            cls.family,
            cls.link,
            cls.truth,
            n=2000,
            seed=4,
            low=0,
            high=2,
            weights=True,
            exposure=True,
        )


class TestGaussianInverseSynthetic(CheckGLM):
    formula, family, link = "y ~ x1 + x2", "gaussian", "inverse"
    truth = {"Intercept": 0.5, "x1": 0.3, "x2": 0.2}

    @classmethod
    def make_data(cls):
        return synthetic(cls.family, cls.link, cls.truth, n=2000, seed=5, low=0, high=2, sigma=0.1)


# --------------------------------------------------------------------------------------------
# Binomial: logit, probit, cloglog, log, cauchit
# --------------------------------------------------------------------------------------------


class _Spector(CheckGLM):
    formula, family = SPECTOR, "binomial"

    @classmethod
    def make_data(cls):
        return datasets.load("spector")


class TestBinomialLogitSpector(_Spector):
    link = "logit"


class TestBinomialProbitSpector(_Spector):
    link = "probit"


class TestBinomialCLogLogSpector(_Spector):
    link = "cloglog"


class TestBinomialCauchitSpector(_Spector):
    link = "cauchit"


class TestBinomialLogitSpectorWeights(_Spector):
    """Integer prior weights on 0/1 data: statsmodels' var_weights."""

    link = "logit"
    weights = "w"

    @classmethod
    def make_data(cls):
        data = datasets.load("spector")
        data["w"] = np.tile([1.0, 2.0, 3.0, 1.0], len(data) // 4)
        return data


class _Star98(CheckGLM):
    family = "binomial"

    @classmethod
    def make_data(cls):
        data = datasets.load("star98")
        data["TRIALS"] = data["NABOVE"] + data["NBELOW"]
        data["PROP"] = data["NABOVE"] / data["TRIALS"]
        return data

    @classmethod
    def sm_endog(cls, data):
        return data[["NABOVE", "NBELOW"]].to_numpy(dtype=float)

    @classmethod
    def sm_var_weights(cls, data):
        return None


class TestBinomialLogitStar98Counts(_Star98):
    formula, link = "NABOVE + NBELOW ~ " + STAR98_RHS, "logit"


class TestBinomialLogitStar98Cbind(_Star98):
    formula, link = "cbind(NABOVE, NBELOW) ~ " + STAR98_RHS, "logit"


class TestBinomialLogitStar98Proportion(_Star98):
    formula, link, weights = "PROP ~ " + STAR98_RHS, "logit", "TRIALS"


class TestBinomialProbitStar98Counts(_Star98):
    formula, link = "NABOVE + NBELOW ~ " + STAR98_RHS, "probit"


class TestBinomialProbitStar98Cbind(_Star98):
    formula, link = "cbind(NABOVE, NBELOW) ~ " + STAR98_RHS, "probit"


class TestBinomialProbitStar98Proportion(_Star98):
    formula, link, weights = "PROP ~ " + STAR98_RHS, "probit", "TRIALS"


class TestBinomialCLogLogStar98Counts(_Star98):
    formula, link = "NABOVE + NBELOW ~ " + STAR98_RHS, "cloglog"


class _BinomialSynthetic(CheckGLM):
    formula, family = "y ~ x1 + x2", "binomial"
    seed = 0
    low, high = -1.0, 1.0

    @classmethod
    def make_data(cls):
        return synthetic(
            cls.family, cls.link, cls.truth, n=3000, seed=cls.seed, low=cls.low, high=cls.high
        )


class TestBinomialLogitSynthetic(_BinomialSynthetic):
    link, seed = "logit", 10
    truth = {"Intercept": -0.5, "x1": 1.0, "x2": -0.7}


class TestBinomialProbitSynthetic(_BinomialSynthetic):
    link, seed = "probit", 11
    truth = {"Intercept": 0.2, "x1": 0.6, "x2": -0.4}


class TestBinomialCLogLogSynthetic(_BinomialSynthetic):
    link, seed = "cloglog", 12
    truth = {"Intercept": -0.8, "x1": 0.5, "x2": 0.3}


class TestBinomialCauchitSynthetic(_BinomialSynthetic):
    link, seed = "cauchit", 13
    truth = {"Intercept": 0.3, "x1": 1.2, "x2": -0.8}


class TestBinomialLogSynthetic(_BinomialSynthetic):
    """The log link on spector has its MLE on the boundary (mu = 1); here mu <= 0.37."""

    link, seed = "log", 14
    low, high = 0.0, 1.0
    truth = {"Intercept": -1.6, "x1": 0.6, "x2": -0.4}


# --------------------------------------------------------------------------------------------
# Poisson: log, identity, sqrt
# --------------------------------------------------------------------------------------------


class TestPoissonLogCpunish(CheckGLM):
    formula, family, link = CPUNISH, "poisson", "log"

    @classmethod
    def make_data(cls):
        return datasets.load("cpunish")


class TestPoissonSqrtCpunish(CheckGLM):
    formula, family, link = CPUNISH, "poisson", "sqrt"

    @classmethod
    def make_data(cls):
        return datasets.load("cpunish")


class _Visitors(CheckGLM):
    formula, family = VISITORS, "poisson"

    @classmethod
    def make_data(cls):
        return datasets.load("restaurant_visitors")


class TestPoissonLogVisitors(_Visitors):
    link = "log"
    truth = datasets.truth("restaurant_visitors")


class TestPoissonSqrtVisitors(_Visitors):
    link = "sqrt"


class TestPoissonIdentityVisitors(_Visitors):
    link = "identity"


class TestPoissonLogRandhie(CheckGLM):
    formula, family, link = RANDHIE, "poisson", "log"

    @classmethod
    def make_data(cls):
        return datasets.load("randhie")


class TestPoissonLogExposureWeights(CheckGLM):
    formula, family, link = "y ~ x1 + x2", "poisson", "log"
    weights, offset = "w", "log_t"
    truth = {"Intercept": 0.5, "x1": 0.8, "x2": -0.4}

    @classmethod
    def make_data(cls):
        return synthetic(
            cls.family, cls.link, cls.truth, n=3000, seed=20, exposure=True, weights=True
        )


class TestPoissonIdentitySynthetic(CheckGLM):
    formula, family, link = "y ~ x1 + x2", "poisson", "identity"
    truth = {"Intercept": 2.0, "x1": 1.5, "x2": 0.7}

    @classmethod
    def make_data(cls):
        return synthetic(cls.family, cls.link, cls.truth, n=3000, seed=21, low=0, high=3)


class TestPoissonSqrtSynthetic(CheckGLM):
    formula, family, link = "y ~ x1 + x2", "poisson", "sqrt"
    truth = {"Intercept": 1.0, "x1": 0.5, "x2": 0.3}

    @classmethod
    def make_data(cls):
        return synthetic(cls.family, cls.link, cls.truth, n=3000, seed=22, low=0, high=3)


class TestPoissonSqrtOffset(CheckGLM):
    formula, family, link = "y ~ x1 + x2", "poisson", "sqrt"
    offset = "shift"
    truth = {"Intercept": 1.0, "x1": 0.5, "x2": 0.3}

    @classmethod
    def make_data(cls):
        data = synthetic(
            cls.family,
            "sqrt",
            {"Intercept": 1.5, "x1": 0.5, "x2": 0.3},
            n=3000,
            seed=23,
            low=0,
            high=3,
        )
        data["shift"] = 0.5
        return data


# --------------------------------------------------------------------------------------------
# Cross-form and cross-argument identities
# --------------------------------------------------------------------------------------------

ALL_LINKS = {
    "gaussian": ("identity", "log", "inverse"),
    "binomial": ("logit", "probit", "cloglog", "log", "cauchit"),
    "poisson": ("log", "identity", "sqrt"),
}


def test_every_family_link_pair_has_a_case():
    covered = {
        (cls.family, cls.link)
        for cls in globals().values()
        if isinstance(cls, type) and issubclass(cls, CheckGLM) and cls.__name__.startswith("Test")
    }
    expected = {(f, link) for f, links in ALL_LINKS.items() for link in links}
    assert expected <= covered, expected - covered


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_star98_three_binomial_forms_identical(link):
    data = _Star98.make_data()
    fits = [
        glmspec.fit("NABOVE + NBELOW ~ " + STAR98_RHS, data, "binomial", link),
        glmspec.fit("cbind(NABOVE, NBELOW) ~ " + STAR98_RHS, data, "binomial", link),
        glmspec.fit("PROP ~ " + STAR98_RHS, data, "binomial", link, weights="TRIALS"),
    ]
    first = fits[0]
    for other in fits[1:]:
        pd.testing.assert_series_equal(other.params, first.params, rtol=1e-12)
        pd.testing.assert_series_equal(other.bse, first.bse, rtol=1e-12)
        for name in ("llf", "deviance", "null_deviance", "aic", "bic", "nobs", "df_resid"):
            assert getattr(other, name) == pytest.approx(getattr(first, name), rel=1e-12), name
    # R's binomial logLik includes the binomial coefficient
    counts = data[["NABOVE", "NBELOW"]].to_numpy()
    expected = stats.binom.logpmf(counts[:, 0], counts.sum(axis=1), first.fittedvalues).sum()
    assert first.llf == pytest.approx(expected, rel=1e-10)
    assert first.nobs == len(data)


@pytest.mark.parametrize(
    "family, link", [("poisson", "log"), ("gaussian", "log"), ("poisson", "sqrt")]
)
def test_offset_column_and_array_identical(family, link):
    data = synthetic(
        family,
        link,
        {"Intercept": 1.0, "x1": 0.4, "x2": -0.2},
        n=1500,
        seed=30,
        low=0,
        high=2,
        exposure=True,
    )
    by_name = glmspec.fit("y ~ x1 + x2", data, family, link, offset="log_t")
    by_array = glmspec.fit("y ~ x1 + x2", data, family, link, offset=data["log_t"].to_numpy())
    by_list = glmspec.fit("y ~ x1 + x2", data, family, link, offset=list(data["log_t"]))
    for other in (by_array, by_list):
        pd.testing.assert_series_equal(other.params, by_name.params, rtol=1e-13)
        pd.testing.assert_series_equal(other.bse, by_name.bse, rtol=1e-13)
        assert other.llf == by_name.llf
        assert other.null_deviance == pytest.approx(by_name.null_deviance, rel=1e-12)
    assert by_name.spec.offset == "log_t" and by_array.spec.offset == "array"
    # and both equal statsmodels with offset=
    sm_family = SM_FAMILIES[family](sm_link(link))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm_res = sm.GLM(
            data["y"].to_numpy(float),
            by_name.design.X,
            family=sm_family,
            offset=data["log_t"].to_numpy(),
        ).fit(maxiter=1000, tol=1e-13, rtol=0.0, tol_criterion="params")
    np.testing.assert_allclose(by_array.params, sm_res.params, rtol=RTOL)
    np.testing.assert_allclose(by_array.bse, sm_res.bse, rtol=RTOL)
    np.testing.assert_allclose(by_array.null_deviance, sm_res.null_deviance, rtol=RTOL)


@pytest.mark.parametrize("family, link", [("poisson", "log"), ("binomial", "logit")])
def test_null_deviance_with_and_without_offset(family, link):
    coef = {"Intercept": -0.3, "x1": 0.6, "x2": -0.4}
    data = synthetic(family, link, coef, n=1500, seed=31)
    data["off"] = np.random.default_rng(32).normal(0.0, 0.5, len(data))
    sm_family = SM_FAMILIES[family](sm_link(link))
    y = data["y"].to_numpy(float)
    plain = glmspec.fit("y ~ x1 + x2", data, family, link)
    shifted = glmspec.fit("y ~ x1 + x2", data, family, link, offset="off")
    sm_plain = sm.GLM(y, plain.design.X, family=sm_family).fit(tol=1e-12)
    sm_shifted = sm.GLM(y, plain.design.X, family=sm_family, offset=data["off"]).fit(tol=1e-12)
    np.testing.assert_allclose(plain.null_deviance, sm_plain.null_deviance, rtol=RTOL)
    np.testing.assert_allclose(shifted.null_deviance, sm_shifted.null_deviance, rtol=RTOL)
    assert abs(shifted.null_deviance - plain.null_deviance) > 1.0  # the offset matters
    # without an offset the null model's mean is the weighted mean response
    mean = np.full(len(y), y.mean())
    assert plain.null_deviance == pytest.approx(plain.family.deviance(y, mean, np.ones_like(y)))
    # llnull is the log-likelihood of that null model
    assert plain.llnull == pytest.approx(sm_plain.llnull, rel=RTOL)


def test_null_deviance_without_intercept_is_r_convention():
    """R's glm: with no intercept the null model is mu = linkinv(offset), no fitted constant."""
    data = synthetic("poisson", "log", {"Intercept": 0.0, "x1": 0.8}, n=500, seed=33, low=0)
    res = glmspec.fit("y ~ x1 - 1", data, "poisson", offset=np.full(len(data), 0.2))
    y = data["y"].to_numpy(float)
    expected = res.family.deviance(y, np.full(len(y), np.exp(0.2)), np.ones(len(y)))
    assert res.null_deviance == pytest.approx(expected, rel=1e-12)


def test_compare_passes_for_model_without_intercept():
    data = synthetic("poisson", "log", {"Intercept": 0.0, "x1": 0.8}, n=500, seed=33, low=0)
    res = glmspec.fit("y ~ x1 - 1", data, "poisson")
    table = glmspec.compare(res)
    assert table.attrs["passed"], table.loc[~table["passed"]].to_string()


def test_prior_weights_equal_statsmodels_var_weights_gaussian():
    """Gaussian prior weights: precision weights, as R's weights= and statsmodels' var_weights."""
    coef = {"Intercept": 1.0, "x1": 2.0, "x2": -0.5}
    data = synthetic("gaussian", "identity", coef, n=1000, seed=34, sigma=1.0, weights=True)
    res = glmspec.fit("y ~ x1 + x2", data, "gaussian", weights="w")
    sm_res = sm.GLM(
        data["y"], res.design.X, family=sm.families.Gaussian(), var_weights=data["w"]
    ).fit()
    wls = sm.WLS(data["y"], res.design.X, weights=data["w"]).fit()
    np.testing.assert_allclose(res.params, sm_res.params, rtol=RTOL)
    np.testing.assert_allclose(res.params, wls.params, rtol=RTOL)
    np.testing.assert_allclose(res.bse, wls.bse, rtol=RTOL)
    np.testing.assert_allclose(res.scale, wls.scale, rtol=RTOL)
    # R's logLik with weights: -n/2 (log(2 pi dev/n) + 1) + sum(log w)/2
    n, dev, w = res.nobs, res.deviance, data["w"].to_numpy()
    r_llf = -0.5 * n * (np.log(2 * np.pi * dev / n) + 1) + 0.5 * np.sum(np.log(w))
    assert res.llf == pytest.approx(r_llf, rel=1e-12)


def test_gaussian_identity_llf_matches_ols():
    coef = {"Intercept": 1.0, "x1": 2.0, "x2": -0.5}
    data = synthetic("gaussian", "identity", coef, n=800, seed=35, sigma=1.0)
    res = glmspec.fit("y ~ x1 + x2", data)
    ols = sm.OLS(data["y"], res.design.X).fit()
    np.testing.assert_allclose(res.params, ols.params, rtol=1e-10)
    np.testing.assert_allclose(res.bse, ols.bse, rtol=1e-10)
    assert res.llf == pytest.approx(ols.llf, rel=1e-12)
    # R's AIC counts sigma (k = p + 1); OLS's aic does not
    assert res.aic == pytest.approx(ols.aic + 2, rel=1e-12)
    assert res.bic == pytest.approx(ols.bic + np.log(res.nobs), rel=1e-12)
    np.testing.assert_allclose(res.pvalues, ols.pvalues, rtol=1e-8)
    np.testing.assert_allclose(res.conf_int(), ols.conf_int(), rtol=1e-10)


def _zero_weight_data():
    data = synthetic("poisson", "log", {"Intercept": 0.3, "x1": 0.4}, n=300, seed=36)
    data["b"] = (data["x1"] + np.random.default_rng(37).normal(size=300) > 0).astype(int)
    data["w"] = np.where(np.arange(300) % 5 == 0, 0.0, 1.0)
    return data


@pytest.mark.parametrize(
    "family, formula", [("poisson", "y ~ x1"), ("gaussian", "y ~ x1"), ("binomial", "b ~ x1")]
)
def test_zero_weight_rows_are_dropped_as_in_r(family, formula):
    """R's glm: rows with zero prior weight do not count in nobs, df_resid, llf, AIC, scale."""
    data = _zero_weight_data()
    res = glmspec.fit(formula, data, family, weights="w")
    kept = data.loc[data["w"] > 0]
    ref = glmspec.fit(formula, kept, family)
    pd.testing.assert_series_equal(res.params, ref.params, rtol=1e-9)
    pd.testing.assert_series_equal(res.bse, ref.bse, rtol=1e-8)
    assert res.nobs == ref.nobs == len(kept)
    for name in ("llf", "aic", "bic", "deviance", "null_deviance", "scale", "df_resid"):
        assert getattr(res, name) == pytest.approx(getattr(ref, name), rel=1e-9), name
    # statsmodels on the kept rows agrees
    assert glmspec.compare(ref).attrs["passed"]


def test_zero_trial_rows_are_dropped_as_in_r():
    data = _Star98.make_data()
    data.loc[[3, 8], ["NABOVE", "NBELOW"]] = 0
    formula = "NABOVE + NBELOW ~ LOWINC + PERASIAN + PERBLACK"
    res = glmspec.fit(formula, data, "binomial")
    ref = glmspec.fit(formula, data.drop(index=[3, 8]), "binomial")
    pd.testing.assert_series_equal(res.params, ref.params, rtol=1e-9)
    assert res.nobs == ref.nobs == len(data) - 2
    for name in ("llf", "aic", "bic", "deviance", "null_deviance"):
        assert getattr(res, name) == pytest.approx(getattr(ref, name), rel=1e-9), name


@pytest.mark.parametrize(
    "family, formula", [("poisson", "y ~ x1"), ("gaussian", "y ~ x1"), ("binomial", "b ~ x1")]
)
def test_compare_passes_with_zero_weight_rows(family, formula):
    res = glmspec.fit(formula, _zero_weight_data(), family, weights="w")
    table = glmspec.compare(res)
    assert table.attrs["passed"], table.loc[~table["passed"]].to_string()
