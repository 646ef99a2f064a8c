"""summary() and the report's model box say how a model was fitted (issue 13): covariance
type, prior and frequency weights, offset and exposure."""

from __future__ import annotations

import re

import numpy as np
import pytest

import glmspec
from glmspec.report import write_report
from glmspec.results.number_format import format_estimates
from glmspec.spec import FittedModel, ModelEntry, Spec

FORMULA = "visitors ~ hour + rain"


@pytest.fixture(scope="module")
def data(visitors_data):
    rng = np.random.default_rng(1)
    n = len(visitors_data)
    return visitors_data.assign(
        hours_open=rng.uniform(1, 3, n), w=rng.uniform(0.5, 2, n), f=rng.integers(1, 3, n)
    )


def test_summary_names_a_cluster_covariance_and_the_exposure(data):
    res = glmspec.fit(
        FORMULA, data, "poisson", cov_type="cluster", groups="date", exposure="hours_open"
    )
    text = str(res.summary())
    n_clusters = data["date"].nunique()
    assert f"Covariance: cluster-robust sandwich, {n_clusters} clusters" in text
    assert "Exposure: hours_open" in text
    assert "Offset: none" in text
    assert "Prior weights: none" in text


def test_summary_names_weights_offset_and_hc(data):
    res = glmspec.fit(
        FORMULA, data.assign(off=0.1), "poisson", cov_type="HC3", weights="w", offset="off"
    )
    text = str(res.summary())
    assert "Covariance: HC3 heteroscedasticity-robust sandwich (R sandwich::vcovHC)" in text
    assert "Prior weights: w" in text
    assert "Offset: off" in text
    assert "Exposure: none" in text
    freq = glmspec.fit(FORMULA, data, "poisson", freq_weights="f")
    text = str(freq.summary())
    assert "Frequency weights: f" in text
    assert "Covariance: nonrobust (inverse Fisher information)" in text
    gaussian = glmspec.fit("temperature ~ hour", data, "gaussian")
    assert "nonrobust (dispersion x inverse Fisher information)" in str(gaussian.summary())


def _box(html: str) -> dict[str, str]:
    """The model box of the first model: header -> cell text."""
    table = html.split('<table class="info">', 1)[1].split("</table>", 1)[0]
    return dict(re.findall(r"<tr><th>([^<]*)</th><td>(.*?)</td></tr>", table))


def test_report_model_box_states_covariance_and_exposure(data, tmp_path):
    entry = ModelEntry(
        "clustered",
        FORMULA,
        "poisson",
        exposure="hours_open",
        cov_type="cluster",
        groups="date",
    )
    res = glmspec.fit(
        FORMULA, data, "poisson", cov_type="cluster", groups="date", exposure="hours_open"
    )
    fm = FittedModel(entry, res, data_rows=len(data))
    folder = write_report(Spec("setup", (entry,)), [fm], out_dir=tmp_path)
    box = _box((folder / "index.html").read_text(encoding="utf-8"))
    assert box["exposure"].startswith("hours_open")
    assert box["offset"] == "none"
    assert box["covariance"].startswith("cluster-robust sandwich")
    assert box["prior weights"] == "none" and box["frequency weights"] == "none"
    markdown = (folder / "index.md").read_text(encoding="utf-8")
    assert "| exposure | hours_open" in markdown
    assert "| covariance | cluster-robust sandwich" in markdown


def test_results_display_as_html_in_jupyter(data):
    res = glmspec.fit("visitors ~ hour + rain", data, "poisson", cov_type="HC0")
    page = res._repr_html_()
    assert page == res.summary()._repr_html_()
    assert page.count("<table") == 1
    body = page.split("<tbody>", 1)[1]
    assert body.count("<tr>") == len(res.params)
    assert "<th>rain</th>" in body
    _, bse = format_estimates([res.params, res.bse])  # one layout for both, as R
    assert f"<td>{bse[list(res.params.index).index('rain')]}</td>" in body
    assert "Covariance: HC0" in page and "&lt;2e-16" in page  # escaped
    anes = glmspec.datasets.load("anes96")
    multi = glmspec.fit("PID ~ age", anes, "multinomial")
    assert multi._repr_html_().split("<tbody>", 1)[1].count("<tr>") == multi.params.size
