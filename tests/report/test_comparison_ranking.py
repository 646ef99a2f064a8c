"""AIC/BIC ranked across families and links on the same data, the Poisson-vs-NB boundary test,
and the true reason for every pair that is not compared, whatever the pair's order.

The boundary test is recomputed independently from statsmodels' discrete ``Poisson`` and
``NegativeBinomial`` (NB2, alpha by ML) on the same design: ``pscl::odTest``'s
``p = pchisq(2 (llNB - llPois), 1, lower = FALSE) / 2``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.discrete.discrete_model import NegativeBinomial, Poisson

import glmspec
from glmspec.errors import ModelComparisonError
from glmspec.inference.anova import poisson_negbin_lrtest
from glmspec.report import build_tables
from glmspec.report.comparison import build_comparison
from glmspec.report.render import render_html
from glmspec.spec import FittedModel, ModelEntry, Spec

FORMULA = "visitors ~ hour + C(weekday) + rain"


@pytest.fixture(scope="module")
def fits():
    data = glmspec.datasets.load("restaurant_visitors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "pois": glmspec.fit(FORMULA, data, "poisson"),
            "nb": glmspec.fit(FORMULA, data, "negative_binomial"),
            "sqrt": glmspec.fit(FORMULA, data, "poisson", link="sqrt"),
            "small": glmspec.fit("visitors ~ hour", data, "poisson"),
            "logged": glmspec.fit("np.log(visitors + 1) ~ hour", data, "gaussian"),
            "half": glmspec.fit(FORMULA, data.iloc[:2000], "poisson"),
        }


def test_aic_ranked_across_families_and_links_on_the_same_data(fits):
    rows = {r["name"]: r for r in build_comparison(list(fits.items()))["models"]}
    same = ["pois", "nb", "sqrt", "small"]
    assert {rows[n]["group"] for n in same} == {"A"}
    assert rows["logged"]["group"] is None and rows["half"]["group"] is None
    lowest = min(fits[n].aic for n in same)
    for name in same:
        assert rows[name]["delta_aic"] == pytest.approx(fits[name].aic - lowest, rel=1e-12)
    assert [n for n in same if rows[n]["best_aic"]] == ["nb"]  # the visits are overdispersed
    assert rows["logged"]["delta_aic"] is None and not rows["half"]["best_aic"]


def test_poisson_negbin_boundary_test_equals_odTest_from_statsmodels(fits):
    pois, nb = fits["pois"], fits["nb"]
    X, y = np.asarray(pois.design.X), pois.design.y
    ll_pois = Poisson(y, X).fit(disp=0).llf
    ll_nb = NegativeBinomial(y, X, loglike_method="nb2").fit(disp=0, maxiter=500).llf
    statistic = 2 * (ll_nb - ll_pois)
    test = poisson_negbin_lrtest(pois, nb)
    assert test.statistic == pytest.approx(statistic, rel=1e-6)
    # p ~ 1e-225: compare on the log scale (chi2.logsf is accurate there)
    expected_log_p = np.log(0.5) + stats.chi2.logsf(statistic, 1)
    assert np.log(test.pvalue) == pytest.approx(expected_log_p, rel=1e-6)
    found = build_comparison(list(fits.items()))["overdispersion_tests"]
    assert [(r["restricted"], r["general"]) for r in found] == [("pois", "nb")]
    with pytest.raises(ModelComparisonError):
        poisson_negbin_lrtest(fits["small"], nb)  # different design
    with pytest.raises(ModelComparisonError):
        poisson_negbin_lrtest(nb, pois)  # arguments the wrong way round


def test_boundary_p_value_is_half_at_zero(fits):
    # a statistic of 0 (NB at theta -> infinity) gives p = 1/2, the mass of the 0 component
    pois = fits["pois"]
    assert 0.5 * stats.chi2.sf(0.0, 1) == 0.5
    assert poisson_negbin_lrtest(pois, fits["nb"]).pvalue < 0.5


@pytest.mark.parametrize("reverse", [False, True])
def test_pairs_not_compared_give_the_true_reason_in_either_order(fits, reverse):
    items = list(fits.items())
    skipped = build_comparison(items[::-1] if reverse else items)["skipped"]
    reasons = {frozenset((s["small"], s["big"])): s["reason"] for s in skipped}
    assert reasons[frozenset(("pois", "nb"))].startswith("different family or link")
    assert reasons[frozenset(("pois", "sqrt"))].startswith("different family or link")
    assert reasons[frozenset(("logged", "pois"))].startswith("different response")
    rows_reason = reasons[frozenset(("half", "pois"))]
    assert rows_reason.startswith("different rows (") and {"3000", "2000"} <= set(
        rows_reason.replace("(", " ").split()
    )
    assert reasons[frozenset(("half", "logged"))].startswith("different response")
    assert frozenset(("small", "pois")) not in reasons  # nested: tested, not skipped


def test_report_shows_ranking_and_boundary_test(fits):
    names = ["pois", "nb", "small"]
    entries = tuple(ModelEntry(n, fits[n].spec.formula, fits[n].family.name) for n in names)
    fitted = [FittedModel(e, fits[e.name], data_rows=3000) for e in entries]
    tables = build_tables(Spec("ranking", entries), fitted)
    html = render_html(tables, {})
    assert 'id="comparison-overdispersion"' in html
    assert 'data-poisson="pois" data-negbin="nb"' in html
    assert html.count('<td data-col="group">A</td>') == 3


def test_quasi_fit_has_na_df_in_the_criteria(fits):
    data = glmspec.datasets.load("restaurant_visitors")
    quasi = glmspec.fit(FORMULA, data, "quasipoisson")
    rows = {r["name"]: r for r in build_comparison([("q", quasi), ("p", fits["pois"])])["models"]}
    assert rows["q"]["df"] is None and rows["p"]["df"] == 9
    assert rows["q"]["delta_aic"] is None  # no AIC to rank
