"""Prediction intervals, influence measures and working/Anscombe residuals against statsmodels.

statsmodels references are fitted on glmspec's design matrix (IRLS to a tight parameter
tolerance, ``use_t=True`` for the Gaussian so that intervals use t as glmspec does).
Multinomial predictions, which statsmodels' ``MNLogit`` lacks, are checked against finite
differences of the softmax and a parametric simulation.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special, stats
from statsmodels.stats.outliers_influence import OLSInfluence

import glmspec
from glmspec import datasets
from glmspec.design.build import predict_matrix
from glmspec.errors import PredictionError, SpecificationError
from glmspec.inference.influence import get_influence
from glmspec.inference.information import hat_values
from glmspec.inference.prediction import get_prediction
from glmspec.inference.residuals import resid_anscombe, resid_working
from glmspec.results.robust import robust_results
from tests.helpers import sm_link

RTOL = 1e-6
SM_FIT = {"method": "IRLS", "maxiter": 1000, "tol": 1e-13, "rtol": 0.0, "tol_criterion": "params"}
FAMILIES = {
    "poisson": sm.families.Poisson,
    "binomial": sm.families.Binomial,
    "gaussian": sm.families.Gaussian,
}


def close(actual, desired, rtol=RTOL):
    """assert_allclose at ``rtol``; entries near zero judged against the largest entry."""
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    atol = rtol * 1e-3 * np.nanmax(np.abs(desired))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol)


def _synthetic_poisson_exposure(n=800, seed=11):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    t = rng.uniform(0.5, 3.0, n)
    f = rng.choice(["a", "b", "c"], n)
    eta = 0.5 + 0.8 * x + np.log(t) + (f == "b") * 0.3
    return pd.DataFrame({"x": x, "f": f, "log_t": np.log(t), "y": rng.poisson(np.exp(eta))})


def _synthetic_gaussian_inverse(n=600, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2, n)
    mu = 1.0 / (0.5 + 0.4 * x)
    return pd.DataFrame({"x": x, "y": mu + rng.normal(0, 0.1, n)})


class CheckGLMExtras:
    """Base class: a GLM fit and its statsmodels twin; prediction/influence/residual checks."""

    formula: str
    family: str
    link: str
    offset: str | None = None
    weights: str | None = None
    #: whether statsmodels' default (observed-information) influence is computable
    observed_influence: bool = True

    @classmethod
    def make_data(cls) -> pd.DataFrame:
        raise NotImplementedError

    @classmethod
    def sm_endog(cls, data):
        return data[cls.formula.split("~")[0].strip()].to_numpy(dtype=float)

    @classmethod
    def newdata(cls, data) -> pd.DataFrame:
        return data.sample(25, random_state=2)

    @classmethod
    def setup_class(cls):
        cls.data = cls.make_data()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls.res = glmspec.fit(
                cls.formula, cls.data, cls.family, cls.link, cls.weights, cls.offset
            )
            family = FAMILIES[cls.family](sm_link(cls.link))
            cls.sm_model = sm.GLM(
                cls.sm_endog(cls.data),
                np.asarray(cls.res.design.X),
                family=family,
                offset=None if cls.offset is None else cls.data[cls.offset].to_numpy(),
                var_weights=None if cls.weights is None else cls.data[cls.weights].to_numpy(),
            )
            cls.sm_res = cls.sm_model.fit(use_t=cls.family == "gaussian", **SM_FIT)

    # -- prediction ---------------------------------------------------------------------------

    def _sm_prediction(self, sm_res, new):
        exog = predict_matrix(self.res.design, new)
        offset = None if self.offset is None else new[self.offset].to_numpy()
        return sm_res.get_prediction(exog, offset=offset).summary_frame

    @staticmethod
    def _check_frame(ours, theirs):
        assert list(ours.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
        close(ours[["mean", "mean_se"]], theirs[["mean", "mean_se"]])
        # statsmodels keeps the transformed endpoints in order of the linear predictor
        ends = np.sort(theirs[["mean_ci_lower", "mean_ci_upper"]].to_numpy(), axis=1)
        close(ours[["mean_ci_lower", "mean_ci_upper"]], ends)
        assert np.all(ours["mean_ci_lower"] <= ours["mean"])
        assert np.all(ours["mean"] <= ours["mean_ci_upper"])

    @pytest.mark.parametrize("alpha", [0.05, 0.2])
    def test_prediction_newdata(self, alpha):
        new = self.newdata(self.data)
        ours = get_prediction(self.res, new).summary_frame(alpha)
        assert ours.index.equals(new.index)
        self._check_frame(ours, self._sm_prediction(self.sm_res, new)(alpha))

    def test_prediction_fitted_rows(self):
        ours = get_prediction(self.res).summary_frame()
        self._check_frame(ours, self._sm_fitted_prediction(self.sm_res).summary_frame())
        close(ours["mean"], self.res.fittedvalues, rtol=1e-12)

    def _sm_fitted_prediction(self, sm_res):
        """statsmodels' get_prediction() without exog drops the offset; pass both."""
        if self.offset is None:
            return sm_res.get_prediction()
        exog = np.asarray(self.res.design.X)
        return sm_res.get_prediction(exog, offset=self.data[self.offset].to_numpy())

    def test_prediction_robust_covariance(self):
        groups = np.arange(len(self.data)) % 9
        rr = robust_results(self.res, "cluster", groups)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sm_cl = self.sm_model.fit(cov_type="cluster", cov_kwds={"groups": groups}, **SM_FIT)
        new = self.newdata(self.data)
        self._check_frame(
            get_prediction(rr, new).summary_frame(), self._sm_prediction(sm_cl, new)()
        )

    def test_prediction_linear_scale(self):
        pred = get_prediction(self.res, self.newdata(self.data))
        ci = pred.conf_int(which="linear")
        q = (ci["upper"] - pred.linpred) / pred.se_linpred
        df = self.res.df_resid if self.res.use_t else None
        expected = stats.t.isf(0.025, df) if df else stats.norm.isf(0.025)
        close(q, np.full(len(q), expected), rtol=1e-10)

    # -- influence ----------------------------------------------------------------------------

    def _check_influence(self, ours, theirs):
        close(ours.hat_matrix_diag, theirs.hat_matrix_diag)
        close(ours.resid_studentized, theirs.resid_studentized)
        close(ours.cooks_distance, theirs.cooks_distance[0])
        close(ours.cooks_distance_pvalue, theirs.cooks_distance[1])
        close(ours.d_params, theirs.d_params)
        close(ours.dfbetas, theirs.dfbetas)
        close(ours.d_fittedvalues, theirs.d_fittedvalues)
        ours_frame, theirs_frame = ours.summary_frame(), theirs.summary_frame()
        names = [f"dfb_{c}" for c in self.res.design.column_names]
        assert list(ours_frame.columns) == [*names, *list(theirs_frame.columns)[len(names) :]]
        if self.offset is not None:
            # statsmodels' dffits uses get_prediction(), which drops the offset
            se = self._sm_fitted_prediction(self.sm_res).se_mean
            theirs_frame["dffits_internal"] = theirs.d_fittedvalues / se
        close(ours_frame.to_numpy(), theirs_frame.to_numpy())

    def test_influence_observed(self):
        if not self.observed_influence:
            pytest.skip("negative observed weights: statsmodels' default influence fails")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = self.sm_res.get_influence()
        self._check_influence(get_influence(self.res), theirs)

    def test_influence_expected(self):
        theirs = self.sm_res.get_influence(observed=False)
        ours = get_influence(self.res, observed=False)
        self._check_influence(ours, theirs)
        close(hat_values(self.res, observed=False), theirs.hat_matrix_diag)

    def test_standardized_and_studentized_residuals(self):
        infl = get_influence(self.res, observed=False)
        h = np.asarray(self.sm_res.get_hat_matrix_diag(observed=False))
        dev = np.asarray(self.sm_res.resid_deviance)
        pear = np.asarray(self.sm_res.resid_pearson)
        scale = self.sm_res.scale
        close(infl.resid_studentized_deviance, dev / np.sqrt(scale * (1 - h)))
        close(infl.resid_studentized_pearson, pear / np.sqrt(scale * (1 - h)))
        # R's rstudent.glm
        r = np.sign(dev) * np.sqrt(dev**2 + h * pear**2 / (1 - h))
        if self.family == "gaussian":
            sigma = np.sqrt((np.sum(dev**2) - dev**2 / (1 - h)) / (self.sm_res.df_resid - 1))
            r = r / sigma
        close(infl.resid_studentized_external, r)

    # -- residuals ----------------------------------------------------------------------------

    def test_resid_anscombe(self):
        close(resid_anscombe(self.res), self.sm_res.resid_anscombe)
        close(resid_anscombe(self.res, scaled=False), self.sm_res.resid_anscombe_unscaled)
        assert resid_anscombe(self.res).index.equals(self.res.fittedvalues.index)

    def test_resid_working(self):
        ours = resid_working(self.res)
        close(ours, (self.res.design.y - self.res.fittedvalues) / self._mu_eta())
        if self.sm_endog(self.data).ndim == 1:
            close(ours, self.sm_res.resid_working)

    def _mu_eta(self):
        return self.res.family.link.mu_eta(self.res.record.eta)


class TestPoissonVisitors(CheckGLMExtras):
    formula = "visitors ~ hour + C(weekday) + rain + temperature"
    family, link = "poisson", "log"
    make_data = staticmethod(lambda: datasets.load("restaurant_visitors"))


class TestPoissonSqrtVisitors(CheckGLMExtras):
    formula = "visitors ~ hour + C(weekday) + rain + temperature"
    family, link = "poisson", "sqrt"
    make_data = staticmethod(lambda: datasets.load("restaurant_visitors"))


class TestPoissonExposure(CheckGLMExtras):
    formula = "y ~ x + f"
    family, link, offset = "poisson", "log", "log_t"
    make_data = staticmethod(_synthetic_poisson_exposure)

    def test_explicit_offset(self):
        new = self.newdata(self.data)
        offset = np.linspace(-1, 1, len(new))
        ours = get_prediction(self.res, new, offset=offset).summary_frame()
        exog = predict_matrix(self.res.design, new)
        theirs = self.sm_res.get_prediction(exog, offset=offset).summary_frame()
        self._check_frame(ours, theirs)


class TestSpectorProbit(CheckGLMExtras):
    formula = "GRADE ~ GPA + TUCE + PSI"
    family, link = "binomial", "probit"
    make_data = staticmethod(lambda: datasets.load("spector"))

    @classmethod
    def newdata(cls, data):
        return data.head(12)


class TestSpectorLogit(TestSpectorProbit):
    link = "logit"


class TestStar98Cloglog(CheckGLMExtras):
    """Two-column counts: trials as prior weights; statsmodels scales resid_working by n^2."""

    formula = "NABOVE + NBELOW ~ LOWINC + PERASIAN + PERBLACK + AVYRSEXP"
    family, link = "binomial", "cloglog"
    make_data = staticmethod(lambda: datasets.load("star98"))

    @classmethod
    def sm_endog(cls, data):
        return data[["NABOVE", "NBELOW"]].to_numpy(dtype=float)

    def test_statsmodels_working_residuals_differ_by_trials_squared(self):
        trials = self.data[["NABOVE", "NBELOW"]].sum(axis=1).to_numpy()
        close(resid_working(self.res) * trials**2, self.sm_res.resid_working)


class TestGaussianLogVisitors(CheckGLMExtras):
    formula = "visitors ~ hour + C(weekday) + rain"
    family, link = "gaussian", "log"
    observed_influence = False
    make_data = staticmethod(lambda: datasets.load("restaurant_visitors"))

    def test_negative_observed_weights_give_finite_hat_values(self):
        infl = get_influence(self.res)
        assert np.all(np.isfinite(infl.hat_matrix_diag))
        assert np.all(np.isfinite(infl.cooks_distance))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # statsmodels' own check
class TestGaussianInverse(CheckGLMExtras):
    """A decreasing inverse link: interval endpoints swap under the transformation."""

    formula = "y ~ x"
    family, link = "gaussian", "inverse"
    observed_influence = False
    make_data = staticmethod(_synthetic_gaussian_inverse)


class TestWeightedGaussianIdentity(CheckGLMExtras):
    formula = "y ~ x1 + x2"
    family, link, weights = "gaussian", "identity", "w"

    @staticmethod
    def make_data():
        rng = np.random.default_rng(8)
        n = 300
        x1, x2 = rng.uniform(-1, 1, n), rng.normal(size=n)
        w = rng.integers(1, 4, n).astype(float)
        y = 1.0 + 2.0 * x1 - x2 + rng.normal(0, 1, n) / np.sqrt(w)
        return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "w": w})

    def test_matches_ols_influence_on_whitened_data(self):
        root_w = np.sqrt(self.data["w"].to_numpy())
        exog = np.asarray(self.res.design.X) * root_w[:, None]
        theirs = OLSInfluence(sm.OLS(self.data["y"].to_numpy() * root_w, exog).fit())
        ours = get_influence(self.res)
        close(ours.hat_matrix_diag, theirs.hat_matrix_diag)
        close(ours.resid_studentized, theirs.resid_studentized_internal)
        close(ours.resid_studentized_external, theirs.resid_studentized_external)
        close(ours.cooks_distance, theirs.cooks_distance[0])
        close(ours.d_params, theirs.dfbeta)


class TestCodedFactor(CheckGLMExtras):
    """A 40-level factor kept as integer codes by the design."""

    formula = "y ~ x + C(store)"
    family, link = "poisson", "log"

    @staticmethod
    def make_data():
        rng = np.random.default_rng(4)
        n = 1200
        store = rng.integers(0, 40, n)
        x = rng.normal(size=n)
        mu = np.exp(1.0 + 0.3 * x + rng.normal(0, 0.3, 40)[store])
        frame = pd.DataFrame({"store": [f"s{i:02d}" for i in store], "x": x})
        frame["y"] = rng.poisson(mu)
        return frame

    def test_design_is_coded(self):
        assert not isinstance(self.res.design.X, np.ndarray)


# --------------------------------------------------------------------------------------------
# Multinomial prediction: finite differences and simulation
# --------------------------------------------------------------------------------------------


class TestMultinomialPrediction:
    @classmethod
    def setup_class(cls):
        cls.data = datasets.load("anes96")
        cls.res = glmspec.fit("PID ~ logpopul + selfLR + age + educ", cls.data, "multinomial")
        cls.new = cls.data.iloc[[0, 5, 50, 400, 900]]
        cls.pred = get_prediction(cls.res, cls.new)
        cls.X = predict_matrix(cls.res.design, cls.new)

    def _probs(self, theta):
        coef = theta.reshape(-1, self.X.shape[1]).T
        eta = np.column_stack([np.zeros(len(self.X)), self.X @ coef])
        return special.softmax(eta, axis=1)

    def test_means_are_predict(self):
        close(self.pred.predicted_mean, self.res.predict(self.new), rtol=1e-12)

    def test_se_by_finite_differences(self):
        theta = self.res.record.coef.T.ravel()
        eps = 1e-6
        jac = np.stack(
            [
                (self._probs(theta + eps * e) - self._probs(theta - eps * e)) / (2 * eps)
                for e in np.eye(len(theta))
            ],
            axis=-1,
        )
        cov = self.res.cov_params().to_numpy()
        expected = np.sqrt(np.einsum("nka,ab,nkb->nk", jac, cov, jac))
        close(self.pred.se_mean, expected, rtol=1e-6)

    def test_se_by_simulation(self):
        # draws from N(theta, C / 100): the softmax is then nearly linear, so the standard
        # deviation of the simulated probabilities is the delta-method standard error / 10
        rng = np.random.default_rng(0)
        theta = self.res.record.coef.T.ravel()
        draws = rng.multivariate_normal(theta, self.res.cov_params().to_numpy() / 100, 4000)
        simulated = 10 * np.std([self._probs(d) for d in draws], axis=0)
        np.testing.assert_allclose(self.pred.se_mean, simulated, rtol=0.06)

    def test_summary_frame_logit_interval(self):
        frame = self.pred.summary_frame(0.1)
        assert list(frame.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
        assert frame.index.names == ["row", "class"]
        assert len(frame) == len(self.new) * len(self.res.classes)
        p, se = frame["mean"].to_numpy(), frame["mean_se"].to_numpy()
        q = stats.norm.isf(0.05)
        lower = special.expit(special.logit(p) - q * se / (p * (1 - p)))
        close(frame["mean_ci_lower"], lower, rtol=1e-12)
        assert np.all((frame["mean_ci_lower"] > 0) & (frame["mean_ci_upper"] < 1))
        assert np.all((frame["mean_ci_lower"] <= p) & (p <= frame["mean_ci_upper"]))


# --------------------------------------------------------------------------------------------
# Other families (when families.py has them) and bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sm_family"),
    [
        ("gamma", lambda: sm.families.Gamma(sm.families.links.Log())),
        ("inverse_gaussian", lambda: sm.families.InverseGaussian(sm.families.links.Log())),
    ],
)
def test_anscombe_other_families(name, sm_family):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 400)
    frame = pd.DataFrame({"x": x, "y": np.exp(0.5 + 0.4 * x) * rng.gamma(5.0, 0.2, 400)})
    res = glmspec.fit("y ~ x", frame, name, "log")
    sm_res = sm.GLM(frame["y"], np.asarray(res.design.X), family=sm_family()).fit(**SM_FIT)
    close(resid_anscombe(res), sm_res.resid_anscombe)


class TestErrors:
    @classmethod
    def setup_class(cls):
        cls.data = datasets.load("restaurant_visitors")
        cls.res = glmspec.fit("visitors ~ hour + C(weekday)", cls.data, "poisson")
        cls.multi = glmspec.fit("PID ~ age", datasets.load("anes96"), "multinomial")

    def test_prediction_unseen_level(self):
        new = self.data.head(3).assign(weekday="Funday")
        with pytest.raises(PredictionError, match="Funday"):
            get_prediction(self.res, new)

    def test_prediction_missing_column(self):
        with pytest.raises(PredictionError, match="hour"):
            get_prediction(self.res, self.data.head(3).drop(columns="hour"))

    def test_prediction_bad_which(self):
        with pytest.raises(SpecificationError, match="which"):
            get_prediction(self.res, self.data.head(3)).conf_int(which="odds")

    def test_prediction_bad_alpha(self):
        with pytest.raises(SpecificationError, match="alpha"):
            get_prediction(self.res, self.data.head(3)).summary_frame(alpha=1.5)

    def test_multinomial_influence_and_anscombe(self):
        with pytest.raises(SpecificationError, match="GLM"):
            get_influence(self.multi)
        with pytest.raises(SpecificationError, match="GLM"):
            resid_anscombe(self.multi)
