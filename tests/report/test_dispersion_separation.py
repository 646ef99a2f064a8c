"""Overdispersion of Poisson/binomial-count fits and separation, in summary() and reports.

The overdispersion figures are recomputed here independently: statsmodels' Pearson chi-square
and residual df of the same model, and scipy's chi-square upper tail.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import glmspec
from glmspec.report import build_tables
from glmspec.report.render import render_html, render_markdown
from glmspec.spec import FittedModel, ModelEntry, Spec

FORMULA = "visitors ~ hour + C(weekday) + rain"


def _tables(name, res, formula, family):
    entry = ModelEntry(name, formula, family)
    return build_tables(Spec(name, (entry,)), [FittedModel(entry, res, data_rows=int(res.nobs))])


@pytest.fixture(scope="module")
def visitors():
    return glmspec.datasets.load("restaurant_visitors")


def test_poisson_overdispersion_is_shown_and_flagged(visitors):
    res = glmspec.fit(FORMULA, visitors, "poisson")
    ref = sm.GLM.from_formula(FORMULA, visitors, family=sm.families.Poisson()).fit()
    over = res.summary().info["overdispersion"]
    np.testing.assert_allclose(over["ratio"], ref.pearson_chi2 / ref.df_resid, rtol=1e-9)
    expected_p = stats.chi2.sf(ref.pearson_chi2, ref.df_resid)
    np.testing.assert_allclose(over["pvalue"], expected_p, rtol=1e-6, atol=1e-300)
    assert over["overdispersed"] and over["level"] == 0.01
    text = str(res.summary())
    assert f"Pearson chi2 / df = {over['ratio']:.4g}" in text
    note = [w for w in res.summary().warnings if w.startswith("overdispersion")]
    assert len(note) == 1 and "quasipoisson" in note[0] and "negative_binomial" in note[0]
    model = _tables("visits", res, FORMULA, "poisson")["models"][0]
    stats_rows = {r["key"]: r["value"] for r in model["fit_statistics"]}
    assert stats_rows["pearson_ratio"] == pytest.approx(over["ratio"], rel=1e-12)
    assert any(w.startswith("overdispersion") for w in model["warnings"])


def test_equidispersed_poisson_is_not_flagged():
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    data = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(0.5 + 0.3 * x))})
    res = glmspec.fit("y ~ x", data, "poisson")
    over = res.summary().info["overdispersion"]
    ref = sm.GLM(data["y"], sm.add_constant(data["x"]), family=sm.families.Poisson()).fit()
    np.testing.assert_allclose(over["pvalue"], stats.chi2.sf(ref.pearson_chi2, 398), rtol=1e-7)
    assert over["pvalue"] > 0.01 and not over["overdispersed"]
    assert not any(w.startswith("overdispersion") for w in res.summary().warnings)


def test_binomial_counts_only():
    rng = np.random.default_rng(5)
    n = 60
    x = rng.normal(size=n)
    trials = rng.integers(5, 30, n)
    p = 1 / (1 + np.exp(-(0.2 + x + rng.normal(scale=1.5, size=n))))  # extra-binomial noise
    success = rng.binomial(trials, p)
    data = pd.DataFrame({"s": success, "f": trials - success, "x": x, "b": (success > 10) * 1})
    counts = glmspec.fit("s + f ~ x", data, "binomial")
    over = counts.summary().info["overdispersion"]
    assert over is not None and over["overdispersed"]
    assert "quasibinomial" in " ".join(counts.summary().warnings)
    bernoulli = glmspec.fit("b ~ x", data, "binomial")
    assert bernoulli.summary().info["overdispersion"] is None  # 0/1 data say nothing about it
    quasi = glmspec.fit("s + f ~ x", data, "quasibinomial")
    assert quasi.summary().info["overdispersion"] is None  # the dispersion is estimated


@pytest.fixture(scope="module")
def separated():
    data = pd.DataFrame(
        {"y": [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 1], "x": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2, 8]}
    )
    data["w"] = np.arange(12) % 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = glmspec.fit("y ~ x + w", data, "binomial")
    assert res.separation is not None and res.converged
    return res


def test_separation_status_in_summary(separated):
    text = str(separated.summary())
    assert "Converged: yes" not in text
    assert f"Status: {separated.separation.kind} separation" in text
    for column in separated.separation.columns:
        assert f"{column} (separated)" in text


def test_separation_status_and_marks_in_report(separated):
    tables = _tables("sep", separated, "y ~ x + w", "binomial")
    model = tables["models"][0]
    assert model["status"] == "separation" and not tables["banner"]["ok"]
    marked = {r["term"] for r in model["coefficients"] if r["separated"]}
    assert marked == set(separated.separation.columns)
    html = render_html(tables, {})
    assert "NOT converged" not in html and '<span class="pass">converged' not in html
    assert html.count("(separated)</span>") == len(marked)
    markdown = render_markdown(tables, {})
    assert markdown.count("**(separated)**") == len(marked)
