"""The statsmodels check compares robust standard errors with robust ones (issue 13).

glmspec's ``bse`` follows ``cov_type``; the check must fit statsmodels with the same
covariance (HC0, cluster) or evaluate R's ``sandwich`` formulas (HC1-HC3), so that a correct
robust fit passes and a spec with ``cov_type`` exits 0.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm

import glmspec
from glmspec import datasets
from tests.helpers import run_cli

VISITORS = "visitors ~ hour + C(weekday) + rain"


def _bse_rows(table):
    return table[table["quantity"].str.startswith("bse[")]


@pytest.mark.parametrize("link", ["log", "sqrt"])
@pytest.mark.parametrize("cov_type", ["HC0", "cluster"])
def test_robust_bse_rows_pass_against_statsmodels(visitors_data, cov_type, link):
    groups = {"groups": "date"} if cov_type == "cluster" else {}
    res = glmspec.fit(VISITORS, visitors_data, "poisson", link=link, cov_type=cov_type, **groups)
    table = glmspec.compare(res)
    assert table.attrs["passed"], table[~table["passed"]]
    rows = _bse_rows(table)
    assert len(rows) == len(res.params)
    # the compared SE is the robust one, not the model-based one
    np.testing.assert_array_equal(rows["glmspec"].to_numpy(), res.bse.to_numpy())
    nonrobust = glmspec.fit(VISITORS, visitors_data, "poisson", link=link)
    assert np.all(np.abs(rows["glmspec"].to_numpy() / nonrobust.bse.to_numpy() - 1) > 1e-3)
    assert rows["convention"].str.contains(cov_type).all()


def test_statsmodels_side_is_its_own_robust_fit(visitors_data):
    """The statsmodels column is statsmodels' fit(cov_type=...) itself, with its default
    cluster correction G/(G-1) (n-1)/(n-k)."""
    res = glmspec.fit(VISITORS, visitors_data, "poisson", cov_type="cluster", groups="date")
    design = res.design
    codes = visitors_data["date"].factorize(sort=True)[0]
    sm_res = sm.GLM(design.y, np.asarray(design.X), family=sm.families.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": codes}
    )
    rows = _bse_rows(glmspec.compare(res))
    np.testing.assert_allclose(rows["statsmodels"].to_numpy(), sm_res.bse, rtol=1e-8)


def test_a_wrong_robust_se_fails(visitors_data, monkeypatch):
    """The check can fail: glmspec's bse scaled by 1 + 1e-4 no longer agrees."""
    res = glmspec.fit(VISITORS, visitors_data, "poisson", cov_type="HC0")
    scaled = res.bse * (1 + 1e-4)
    monkeypatch.setattr(type(res), "bse", property(lambda self: scaled))
    table = glmspec.compare(res)
    assert not table.attrs["passed"]
    assert not _bse_rows(table)["passed"].any()


@pytest.mark.parametrize("cov_type", ["HC1", "HC2", "HC3"])
@pytest.mark.parametrize("link", ["logit", "probit"])
def test_hc1_to_hc3_follow_r_sandwich(cov_type, link):
    spector = datasets.load("spector")
    res = glmspec.fit("GRADE ~ GPA + TUCE + PSI", spector, "binomial", link=link, cov_type=cov_type)
    table = glmspec.compare(res)
    assert table.attrs["passed"], table[~table["passed"]]
    rows = _bse_rows(table)
    assert rows["convention"].str.contains("sandwich::vcovHC").all()
    # HC1-HC3 differ from HC0, so the check does not just compare HC0 with HC0
    hc0 = glmspec.fit("GRADE ~ GPA + TUCE + PSI", spector, "binomial", link=link, cov_type="HC0")
    assert np.all(np.abs(rows["statsmodels"].to_numpy() / hc0.bse.to_numpy() - 1) > 1e-3)


def test_robust_check_with_zero_and_frequency_weights(visitors_data):
    rng = np.random.default_rng(0)
    data = visitors_data.assign(
        w=rng.integers(0, 3, len(visitors_data)).astype(float),
        f=rng.integers(1, 4, len(visitors_data)).astype(float),
    )
    for cov_type in ("HC0", "HC1", "HC3", "cluster"):
        groups = {"groups": "date"} if cov_type == "cluster" else {}
        for weights in ({"weights": "w"}, {"freq_weights": "f"}):
            res = glmspec.fit(VISITORS, data, "poisson", cov_type=cov_type, **groups, **weights)
            table = glmspec.compare(res)
            assert table.attrs["passed"], (cov_type, weights, table[~table["passed"]])


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "cluster"])
def test_multinomial_robust_check(cov_type):
    anes = datasets.load("anes96")
    groups = {"groups": "educ"} if cov_type == "cluster" else {}
    res = glmspec.fit(
        "PID ~ logpopul + selfLR + age", anes, "multinomial", cov_type=cov_type, **groups
    )
    table = glmspec.compare(res)
    assert table.attrs["passed"], table[~table["passed"]]


def test_spec_with_cov_type_exits_0(tmp_path: Path):
    shutil.copy(datasets.path("restaurant_visitors"), tmp_path / "visitors.csv")
    (tmp_path / "robust.toml").write_text(
        'title = "robust"\ndata = "visitors.csv"\n[defaults]\nfamily = "poisson"\n'
        '[[model]]\nname = "hc0"\nformula = "visitors ~ hour + rain"\ncov_type = "HC0"\n'
        '[[model]]\nname = "clustered"\nformula = "visitors ~ hour + rain"\n'
        'cov_type = "cluster"\ngroups = "date"\n'
        '[check]\nagainst = "statsmodels"\ntol = 1e-6\n[report]\nformats = ["markdown"]\n'
    )
    proc = run_cli("run", "robust.toml", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    markdown = next((tmp_path / "out").rglob("index.md")).read_text()
    assert "FAIL" not in markdown
    assert markdown.count("Result: **passed**") == 2
    results = json.loads(next((tmp_path / "out").rglob("results.json")).read_text())
    assert "clustered" in json.dumps(results)
