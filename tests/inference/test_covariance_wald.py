"""Robust covariances and Wald tests against statsmodels, in statsmodels' test pattern.

Each case class sets the data, formula, family and cluster labels; :class:`CheckRobust` holds
the checks. statsmodels references are fitted on glmspec's design matrix with IRLS to a tight
parameter tolerance. Reference choices:

* ``HC0`` and ``cluster``: statsmodels' ``GLM.fit(cov_type=...)`` directly (its bread is the
  observed information, its cluster correction ``G/(G-1) (n-1)/(n-k)``).
* ``HC1``/``HC2``/``HC3``: statsmodels' GLM returns HC0 for all three (checked below), so the
  reference is R's ``sandwich::vcovHC`` meat adjustments built from statsmodels' own pieces
  (``score_obs``, ``hessian`` and the generalized leverage ``MLEInfluence.hat_matrix_diag``,
  which is the GLM hat value for canonical links), and for the Gaussian identity link
  statsmodels' WLS ``cov_type="HC1"/"HC2"/"HC3"``.
* Wald tests: ``wald_test(..., scalar=True)`` and ``wald_test_terms(scalar=True)``; F form
  when statsmodels is fitted with ``use_t=True`` (glmspec's convention for estimated
  dispersions), chi-square otherwise.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.outliers_influence import MLEInfluence

import glmspec
from glmspec import datasets
from glmspec.errors import DataError, SpecificationError
from glmspec.inference.covariance import COV_TYPES, robust_cov
from glmspec.inference.wald import coefficient_names, wald_test, wald_test_terms
from glmspec.results.robust import robust_results

RTOL = 1e-6
SM_FIT = {"method": "IRLS", "maxiter": 1000, "tol": 1e-13, "rtol": 0.0, "tol_criterion": "params"}


def close(actual, desired, rtol=RTOL, atol_scale=None):
    """assert_allclose at ``rtol``; entries near zero are judged relative to ``atol_scale``."""
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    ref = np.max(np.abs(desired)) if atol_scale is None else atol_scale
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * 1e-3 * ref)


def close_cov(actual, desired, rtol=RTOL):
    """Covariances compared on the correlation scale of ``desired`` (scale-free)."""
    actual, desired = np.asarray(actual, dtype=float), np.asarray(desired, dtype=float)
    sd = np.sqrt(np.diag(desired))
    np.testing.assert_allclose(np.diag(actual), np.diag(desired), rtol=rtol)
    np.testing.assert_allclose(actual / np.outer(sd, sd), desired / np.outer(sd, sd), atol=rtol)


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


class CheckRobust:
    """Base class: a fit, its statsmodels twin, cluster labels and a linear hypothesis."""

    formula: str
    family: str
    link: str
    weights: str | None = None
    groups: str | np.ndarray
    constraint: str
    sm_family: sm.families.Family

    @classmethod
    def make_data(cls) -> pd.DataFrame:
        raise NotImplementedError

    @classmethod
    def sm_endog(cls, data):
        return data[cls.formula.split("~")[0].strip()].to_numpy(dtype=float)

    @classmethod
    def setup_class(cls):
        cls.data = cls.make_data()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls.res = glmspec.fit(cls.formula, cls.data, cls.family, cls.link, cls.weights)
        names = list(cls.res.design.column_names)
        exog = pd.DataFrame(np.asarray(cls.res.design.X), columns=names)
        vw = None if cls.weights is None else cls.data[cls.weights].to_numpy(dtype=float)
        cls.sm_model = sm.GLM(cls.sm_endog(cls.data), exog, family=cls.sm_family, var_weights=vw)
        cls.use_t = cls.family == "gaussian"
        labels = cls.data[cls.groups] if isinstance(cls.groups, str) else cls.groups
        cls.codes = pd.factorize(np.asarray(labels))[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "cov_type not fully supported with var_weights"
            cls.sm_res = cls.sm_model.fit(use_t=cls.use_t, **SM_FIT)
            cls.sm_hc0 = cls.sm_model.fit(cov_type="HC0", **SM_FIT)
            cls.sm_cluster = cls.sm_model.fit(
                cov_type="cluster", cov_kwds={"groups": cls.codes}, **SM_FIT
            )
            cls.sm_cluster_t = cls.sm_model.fit(
                cov_type="cluster", cov_kwds={"groups": cls.codes}, use_t=True, **SM_FIT
            )

    # -- covariances ---------------------------------------------------------------------------

    def test_nonrobust_is_the_fit(self):
        close_cov(robust_cov(self.res, "nonrobust"), self.res.cov_params(), rtol=1e-12)
        rr = robust_results(self.res, "nonrobust")
        close(rr.bse, self.res.bse, rtol=1e-12)
        close(rr.pvalues, self.res.pvalues, rtol=1e-10)
        assert rr.use_t == self.res.use_t

    def test_hc0_matches_statsmodels(self):
        close_cov(robust_cov(self.res, "HC0"), self.sm_hc0.cov_params())
        rr = robust_results(self.res, "HC0")
        assert rr.cov_type == "HC0" and not rr.use_t  # normal (z) tests, as statsmodels
        close(rr.bse, self.sm_hc0.bse)
        close(rr.tvalues, self.sm_hc0.tvalues)
        close(rr.pvalues, self.sm_hc0.pvalues, atol_scale=1.0)
        close(rr.conf_int(0.1), self.sm_hc0.conf_int(0.1))
        assert list(rr.cov_params().index) == list(self.res.params.index)

    def test_statsmodels_glm_hc123_are_hc0(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for cov_type in ("HC1", "HC3"):
                other = self.sm_model.fit(cov_type=cov_type, **SM_FIT)
                np.testing.assert_array_equal(other.bse, self.sm_hc0.bse)

    @pytest.mark.parametrize("cov_type", ["HC1", "HC2", "HC3"])
    def test_hc123_are_vcovhc_from_statsmodels_pieces(self, cov_type):
        params = self.sm_res.params.to_numpy()
        scores = self.sm_model.score_obs(params)
        inverse = np.linalg.inv(-self.sm_model.hessian(params))
        h = MLEInfluence(self.sm_res).hat_matrix_diag  # generalized leverage d mu / d y
        n, k = scores.shape
        omega = {"HC1": np.full(n, n / (n - k)), "HC2": 1 / (1 - h), "HC3": 1 / (1 - h) ** 2}
        expected = inverse @ (scores.T * omega[cov_type]) @ scores @ inverse
        close_cov(robust_cov(self.res, cov_type), expected)
        close(robust_results(self.res, cov_type).bse, np.sqrt(np.diag(expected)))

    def test_cluster_matches_statsmodels(self):
        rr = robust_results(self.res, "cluster", self.groups, data=self.data)
        close_cov(rr.cov_params(), self.sm_cluster.cov_params())
        assert rr.n_groups == len(np.unique(self.codes)) and not rr.use_t
        close(rr.bse, self.sm_cluster.bse)
        close(rr.pvalues, self.sm_cluster.pvalues, atol_scale=1.0)
        close(rr.conf_int(), self.sm_cluster.conf_int())

    def test_cluster_t_uses_groups_minus_one(self):
        rr = robust_results(self.res, "cluster", self.groups, data=self.data, use_t=True)
        assert rr.use_t and rr.df_inference == self.sm_cluster_t.df_resid_inference
        close(rr.pvalues, self.sm_cluster_t.pvalues, atol_scale=1.0)
        close(rr.conf_int(0.05), self.sm_cluster_t.conf_int(0.05))

    def test_cluster_groups_as_array_and_series(self):
        expected = robust_cov(self.res, "cluster", self.codes)
        labels = self.data[self.groups] if isinstance(self.groups, str) else self.groups
        series = pd.Series(np.asarray(labels), index=self.data.index)
        close_cov(robust_cov(self.res, "cluster", series), expected, rtol=1e-12)

    # -- Wald tests ----------------------------------------------------------------------------

    def _check_wald(self, ours, theirs):
        close(ours.statistic, theirs.statistic)
        close(ours.pvalue, theirs.pvalue, atol_scale=1.0)
        if ours.distribution == "F":
            assert ours.df == theirs.df_num and ours.df_denom == theirs.df_denom
        else:
            assert ours.df == theirs.df_denom  # statsmodels keeps the chi2 df in df_denom

    def test_wald_string(self):
        ours = wald_test(self.res, self.constraint)
        assert ours.distribution == ("F" if self.use_t else "chi2")
        self._check_wald(ours, self.sm_res.wald_test(self.constraint, scalar=True))

    def test_wald_matrix_and_q(self):
        k = len(self.res.params)
        R = np.zeros((2, k))
        R[0, 1], R[1, -1], R[1, 0] = 1.0, 1.0, 0.5
        q = np.array([0.1, -0.2])
        ours = wald_test(self.res, R, q)
        self._check_wald(ours, self.sm_res.wald_test((R, q), scalar=True))
        self._check_wald(wald_test(self.res, (R, q)), self.sm_res.wald_test((R, q), scalar=True))

    @pytest.mark.parametrize("use_f", [True, False])
    def test_wald_use_f_override(self, use_f):
        ours = wald_test(self.res, self.constraint, use_f=use_f)
        self._check_wald(ours, self.sm_res.wald_test(self.constraint, use_f=use_f, scalar=True))

    def test_wald_under_cluster_covariance(self):
        rr = robust_results(self.res, "cluster", self.groups, data=self.data)
        ours = wald_test(rr, self.constraint)
        assert ours.distribution == "chi2"
        self._check_wald(ours, self.sm_cluster.wald_test(self.constraint, scalar=True))
        rr_t = robust_results(self.res, "cluster", self.groups, data=self.data, use_t=True)
        theirs = self.sm_cluster_t.wald_test(self.constraint, scalar=True)
        self._check_wald(wald_test(rr_t, self.constraint), theirs)

    def _sm_formula_fit(self, **kwargs):
        """statsmodels from the formula: wald_test_terms needs its terms."""
        vw = None if self.weights is None else self.data[self.weights]
        model = smf.glm(self.formula, self.data, family=self.sm_family, var_weights=vw)
        return model.fit(**SM_FIT, **kwargs)

    def test_wald_test_terms(self):
        ours = wald_test_terms(self.res)
        theirs = self._sm_formula_fit(use_t=self.use_t).wald_test_terms(scalar=True).table
        assert list(ours.index) == list(theirs.index)
        assert list(ours.columns) == list(theirs.columns)
        assert ours.attrs["distribution"] == ("F" if self.use_t else "chi2")
        close(ours["statistic"], theirs["statistic"])
        close(ours["pvalue"], theirs["pvalue"], atol_scale=1.0)
        np.testing.assert_array_equal(ours["df_constraint"], theirs["df_constraint"])

    def test_wald_test_terms_robust_chi2(self):
        ours = wald_test_terms(robust_results(self.res, "HC0"))
        theirs = self._sm_formula_fit(cov_type="HC0").wald_test_terms(scalar=True).table
        close(ours["statistic"], theirs["statistic"])
        close(ours["pvalue"], theirs["pvalue"], atol_scale=1.0)


def _visitors():
    return datasets.load("restaurant_visitors")


class TestPoissonVisitors(CheckRobust):
    formula = "visitors ~ hour + C(weekday) + rain + temperature"
    family, link, groups = "poisson", "log", "weekday"
    constraint = "hour = 0, C(weekday)[T.Tue] = C(weekday)[T.Wed]"
    sm_family = sm.families.Poisson()
    make_data = staticmethod(_visitors)


class TestGaussianLogVisitors(CheckRobust):
    """Estimated dispersion (F tests), non-canonical link, 750 clusters (days)."""

    formula = "visitors ~ hour + C(weekday) + rain + temperature"
    family, link, groups = "gaussian", "log", "date"
    constraint = "hour = 0, C(weekday)[T.Tue] = C(weekday)[T.Wed]"
    sm_family = sm.families.Gaussian(sm.families.links.Log())
    make_data = staticmethod(_visitors)


def _spector():
    return datasets.load("spector")


class TestSpectorLogit(CheckRobust):
    formula = "GRADE ~ GPA + TUCE + PSI"
    family, link, groups = "binomial", "logit", np.arange(32) % 8
    constraint = "GPA = 2 * PSI, TUCE = 0"
    sm_family = sm.families.Binomial()
    make_data = staticmethod(_spector)


class TestSpectorProbit(CheckRobust):
    """Non-canonical: the sandwich bread is the observed information."""

    formula = "GRADE ~ GPA + TUCE + PSI"
    family, link, groups = "binomial", "probit", np.arange(32) % 5
    constraint = "GPA = 1"
    sm_family = sm.families.Binomial(sm.families.links.Probit())
    make_data = staticmethod(_spector)


class TestStar98Counts(CheckRobust):
    """Two-column binomial counts: trials enter the score as prior weights."""

    formula = "NABOVE + NBELOW ~ LOWINC + PERASIAN + PERBLACK + PERHISP + AVYRSEXP + PTRATIO"
    family, link, groups = "binomial", "logit", np.arange(303) % 12
    constraint = "LOWINC = 0, PERASIAN = PERBLACK"
    sm_family = sm.families.Binomial()
    make_data = staticmethod(lambda: datasets.load("star98"))

    @classmethod
    def sm_endog(cls, data):
        return data[["NABOVE", "NBELOW"]].to_numpy(dtype=float)


def _weighted_gaussian():
    rng = np.random.default_rng(7)
    n = 240
    x1, x2 = rng.uniform(-1, 1, n), rng.normal(size=n)
    w = rng.integers(1, 4, n).astype(float)
    y = 1.0 + 2.0 * x1 - x2 + rng.normal(0, 1 + np.abs(x1), n) / np.sqrt(w)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "w": w, "g": rng.integers(0, 24, n)})


class TestWeightedGaussianIdentity(CheckRobust):
    formula = "y ~ x1 + x2"
    family, link, weights, groups = "gaussian", "identity", "w", "g"
    constraint = "x1 = 2, x2 = -1"
    sm_family = sm.families.Gaussian()
    make_data = staticmethod(_weighted_gaussian)

    @pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
    def test_hc_equals_wls(self, cov_type):
        exog = np.asarray(self.res.design.X)
        wls = sm.WLS(self.data["y"], exog, weights=self.data["w"]).fit(cov_type=cov_type)
        close_cov(robust_cov(self.res, cov_type), wls.cov_params())


def _coded_factor():
    """A 40-level factor: glmspec keeps it as integer codes (CategoricalBlockMatrix)."""
    rng = np.random.default_rng(3)
    n = 1600
    store = rng.integers(0, 40, n)
    x = rng.normal(size=n)
    mu = np.exp(1.0 + 0.3 * x + rng.normal(0, 0.3, 40)[store])
    frame = pd.DataFrame({"store": [f"s{i:02d}" for i in store], "x": x})
    frame["y"] = rng.poisson(mu)
    return frame


class TestCodedFactorPoisson(CheckRobust):
    formula = "y ~ x + C(store)"
    family, link, groups = "poisson", "log", "store"
    constraint = "x = 0.3"
    sm_family = sm.families.Poisson()
    make_data = staticmethod(_coded_factor)

    def test_design_is_coded(self):
        assert not isinstance(self.res.design.X, np.ndarray)


# --------------------------------------------------------------------------------------------
# Multinomial
# --------------------------------------------------------------------------------------------


class TestMultinomialRobust:
    formula = "PID ~ logpopul + selfLR + age + educ + income"

    @classmethod
    def setup_class(cls):
        cls.data = datasets.load("anes96")
        cls.res = glmspec.fit(cls.formula, cls.data, "multinomial")
        exog = np.asarray(cls.res.design.X)
        cls.model = sm.MNLogit(cls.res.design.y, exog)
        cls.groups = cls.data["educ"].to_numpy()
        kw = {"method": "newton", "maxiter": 100, "disp": 0}
        cls.sm_res = cls.model.fit(**kw)
        cls.sm_hc0 = cls.model.fit(cov_type="HC0", **kw)
        cls.sm_cluster = cls.model.fit(cov_type="cluster", cov_kwds={"groups": cls.groups}, **kw)

    def test_hc0_and_cluster(self):
        close_cov(robust_cov(self.res, "HC0"), self.sm_hc0.cov_params())
        rr = robust_results(self.res, "cluster", "educ", data=self.data)
        close_cov(rr.cov_params(), self.sm_cluster.cov_params())
        close(rr.bse, self.sm_cluster.bse)
        close(rr.pvalues, self.sm_cluster.pvalues, atol_scale=1.0)
        assert rr.bse.shape == self.res.params.shape

    def test_hc1_is_scaled_hc0(self):
        n, k = len(self.res.design.y), self.res.params.size
        close_cov(robust_cov(self.res, "HC1"), robust_cov(self.res, "HC0") * n / (n - k))

    def test_hc2_needs_leverages(self):
        with pytest.raises(SpecificationError, match="leverages"):
            robust_cov(self.res, "HC2")

    def test_wald_matrix_and_names(self):
        k = self.res.params.size
        R = np.zeros((2, k))
        R[0, 1], R[1, 8], R[1, 2] = 1.0, 1.0, -1.0
        ours, theirs = wald_test(self.res, R), self.sm_res.wald_test(R, scalar=True)
        close(ours.statistic, theirs.statistic)
        close(ours.pvalue, theirs.pvalue)
        names = coefficient_names(self.res)
        assert names[1] == "1:logpopul" and names[8] == "2:selfLR"
        by_name = wald_test(self.res, "1:logpopul = 0, 2:selfLR = 1:selfLR")
        close(by_name.statistic, ours.statistic, rtol=1e-12)
        hc0 = wald_test(robust_results(self.res, "HC0"), R)
        close(hc0.statistic, self.sm_hc0.wald_test(R, scalar=True).statistic)

    def test_wald_terms_joint_over_classes(self):
        table = wald_test_terms(self.res)
        n_classes = len(self.res.classes) - 1
        assert list(table.index) == ["Intercept", "logpopul", "selfLR", "age", "educ", "income"]
        assert (table["df_constraint"] == n_classes).all()
        p = len(self.res.design.column_names)
        R = np.eye(self.res.params.size)[[1 + j * p for j in range(n_classes)]]
        close(table.loc["logpopul", "statistic"], wald_test(self.res, R).statistic, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


class TestErrors:
    @classmethod
    def setup_class(cls):
        cls.data = datasets.load("spector")
        cls.res = glmspec.fit("GRADE ~ GPA + TUCE + PSI", cls.data, "binomial")

    def test_cov_types_listed(self):
        assert COV_TYPES == ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
        close_cov(robust_cov(self.res, "hc1"), robust_cov(self.res, "HC1"), rtol=0)

    @pytest.mark.parametrize(("bad", "hint"), [("HC4", "HC"), ("clustered", "'cluster'")])
    def test_unknown_cov_type_suggests(self, bad, hint):
        with pytest.raises(SpecificationError, match="Did you mean") as info:
            robust_cov(self.res, bad)
        assert hint in str(info.value) and "nonrobust" in str(info.value)

    def test_cluster_needs_groups(self):
        with pytest.raises(DataError, match="groups="):
            robust_cov(self.res, "cluster")

    def test_groups_wrong_length(self):
        with pytest.raises(DataError, match="one label per fitted row"):
            robust_results(self.res, "cluster", np.arange(10))

    def test_groups_missing_labels(self):
        groups = np.arange(32, dtype=float) % 4
        groups[3] = np.nan
        with pytest.raises(DataError, match="missing"):
            robust_cov(self.res, "cluster", groups)

    def test_groups_unknown_column(self):
        with pytest.raises(DataError, match="Did you mean 'GRADE'"):
            robust_results(self.res, "cluster", "GRADES", data=self.data)

    def test_single_cluster(self):
        with pytest.raises(DataError, match="two"):
            robust_cov(self.res, "cluster", np.zeros(32))

    def test_groups_only_for_cluster(self):
        with pytest.raises(SpecificationError, match="only with cov_type='cluster'"):
            robust_cov(self.res, "HC0", np.arange(32))

    def test_constraint_unknown_column(self):
        with pytest.raises(SpecificationError) as info:
            wald_test(self.res, "GPAA = 0")
        message = str(info.value)
        assert "'GPAA'" in message and "Did you mean 'GPA'" in message
        assert "['Intercept', 'GPA', 'TUCE', 'PSI']" in message

    def test_constraint_matrix_shapes(self):
        with pytest.raises(SpecificationError, match="4 columns"):
            wald_test(self.res, np.eye(3))
        with pytest.raises(SpecificationError, match="one value per row"):
            wald_test(self.res, np.eye(4)[:2], q=[1.0, 2.0, 3.0])

    def test_errors_are_glmspec_errors(self):
        assert issubclass(SpecificationError, glmspec.errors.GLMSpecError)
        assert issubclass(DataError, glmspec.errors.GLMSpecError)


# --------------------------------------------------------------------------------------------
# fit(cov_type=, groups=) and the results methods
# --------------------------------------------------------------------------------------------


class TestFitWiring:
    formula = "visitors ~ hour + C(weekday) + rain + temperature"
    constraint = "hour = 0, C(weekday)[T.Tue] = C(weekday)[T.Wed]"

    @classmethod
    def setup_class(cls):
        cls.data = datasets.load("restaurant_visitors")
        cls.plain = glmspec.fit(cls.formula, cls.data, "gaussian", "log")
        cls.res = glmspec.fit(
            cls.formula, cls.data, "gaussian", "log", cov_type="cluster", groups="date"
        )
        cls.rr = robust_results(cls.plain, "cluster", "date", data=cls.data)

    def test_params_bse_pvalues_conf_int(self):
        assert self.res.cov_type == "cluster" and not self.res.use_t
        close(self.res.params, self.plain.params, rtol=1e-12)
        close_cov(self.res.cov_params(), self.rr.cov_params(), rtol=1e-12)
        close(self.res.bse, self.rr.bse, rtol=1e-12)
        close(self.res.pvalues, self.rr.pvalues, rtol=1e-10, atol_scale=1.0)
        close(self.res.conf_int(), self.rr.conf_int(), rtol=1e-12)
        assert self.plain.cov_type == "nonrobust" and self.plain.use_t

    def test_methods(self):
        ours = self.res.wald_test(self.constraint)
        close(ours.statistic, wald_test(self.rr, self.constraint).statistic, rtol=1e-12)
        assert ours.distribution == "chi2"
        assert self.plain.wald_test(self.constraint).distribution == "F"
        terms = self.res.wald_test_terms()
        close(terms["statistic"], wald_test_terms(self.rr)["statistic"], rtol=1e-12)
        frame = self.res.get_prediction(self.data.head()).summary_frame()
        assert list(frame.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
        assert len(self.res.get_influence(observed=False).hat_matrix_diag) == len(self.data)
        assert np.all(np.isfinite(self.res.resid_anscombe))
        assert np.all(np.isfinite(self.res.resid_working))
        hc3 = self.plain.get_robustcov_results("HC3")
        close(hc3.bse, robust_results(self.plain, "HC3").bse, rtol=1e-12)

    def test_multinomial(self):
        anes = datasets.load("anes96")
        res = glmspec.fit("PID ~ age + educ", anes, "multinomial", cov_type="HC0")
        plain = glmspec.fit("PID ~ age + educ", anes, "multinomial")
        close(res.bse, robust_results(plain, "HC0").bse, rtol=1e-12)
        with pytest.raises(SpecificationError, match="leverages"):
            glmspec.fit("PID ~ age + educ", anes, "multinomial", cov_type="HC3")

    def test_bad_options(self):
        with pytest.raises(SpecificationError, match="Did you mean 'HC1'"):
            glmspec.fit(self.formula, self.data, "poisson", cov_type="HC1x")
        with pytest.raises(DataError, match="groups="):
            glmspec.fit(self.formula, self.data, "poisson", cov_type="cluster")
        with pytest.raises(SpecificationError, match="only with cov_type='cluster'"):
            glmspec.fit(self.formula, self.data, "poisson", groups="date")
        with pytest.raises(DataError, match="Did you mean 'date'"):
            glmspec.fit(self.formula, self.data, "poisson", cov_type="cluster", groups="dates")


def test_groups_align_with_dropped_rows():
    data = datasets.load("spector").copy()
    data["g"] = np.arange(len(data)) % 6
    data.loc[[3, 17], "TUCE"] = np.nan
    res = glmspec.fit("GRADE ~ GPA + TUCE + PSI", data, "binomial", missing="drop")
    kept = data.dropna()
    expected = robust_cov(res, "cluster", kept["g"].to_numpy())
    close_cov(robust_cov(res, "cluster", data["g"]), expected, rtol=1e-12)
    close_cov(robust_results(res, "cluster", "g", data=data).cov_params(), expected, rtol=1e-12)
    with pytest.raises(DataError, match="2 row"):
        robust_cov(res, "cluster", data["g"].to_numpy())
