"""Plots of large fits drawn from summaries (glmspec.report.summaries), forced on small data
through the row threshold, and the statsmodels check started from glmspec's estimates."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import glmspec
import glmspec.report.plots as report_plots
from glmspec.report import summaries, write_report
from glmspec.spec import Spec

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.standard_normal(n)
    group = rng.choice(["a", "b", "c"], n)
    exposure = rng.uniform(0.5, 2.0, n)
    eta = 0.3 + 0.4 * x + np.where(group == "b", 0.2, 0.0)
    return pd.DataFrame(
        {
            "x": x,
            "group": group,
            "log_exposure": np.log(exposure),
            "count": rng.poisson(exposure * np.exp(eta)),
            "event": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
        }
    )


@pytest.fixture(scope="module")
def poisson(frame):
    return glmspec.fit("count ~ x + group", frame, family="poisson", offset="log_exposure")


# ----------------------------------------------------------------------------- summaries


def test_count_grid_is_the_two_dimensional_histogram():
    rng = np.random.default_rng(0)
    x, y = rng.gamma(2.0, size=5000), rng.standard_normal(5000)
    grid = summaries.count_grid(x, y, shape=(17, 11))
    assert grid.counts.shape == (17, 11) and grid.counts.sum() == 5000
    assert grid.x_edges[0] == x.min() and grid.x_edges[-1] == x.max()
    expected, _, _ = np.histogram2d(x, y, bins=[grid.x_edges, grid.y_edges])
    np.testing.assert_array_equal(grid.counts, expected)


def test_count_grid_leaves_out_rows_that_are_not_finite():
    x, y = np.array([0.0, 1.0, np.nan, 2.0, np.inf]), np.array([0.0, 1.0, 1.0, -np.inf, 1.0])
    grid = summaries.count_grid(x, y, shape=(2, 2))
    assert grid.counts.sum() == 2 and grid.x_edges[-1] == 1.0


def test_count_grid_of_a_constant_column():
    grid = summaries.count_grid(np.full(10, 2.0), np.arange(10.0), shape=(4, 5))
    assert grid.counts.sum() == 10 and grid.x_edges[0] < 2.0 < grid.x_edges[-1]
    assert np.count_nonzero(grid.counts.sum(axis=1)) == 1


def test_decile_bins_give_the_groupby_means_and_quantiles():
    rng = np.random.default_rng(1)
    key, values = rng.lognormal(size=4000), rng.standard_normal(4000)
    bins = summaries.quantile_bins(key)
    # rows in key order fall in bins 0, 1, ..., 9, 400 rows each (distinct keys)
    np.testing.assert_array_equal(bins.labels[np.argsort(key)], np.repeat(np.arange(10), 400))
    np.testing.assert_array_equal(bins.sizes, np.full(10, 400))
    groups = pd.Series(values).groupby(bins.labels)
    np.testing.assert_allclose(bins.means(values), groups.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        bins.quantiles(values, (0.1, 0.5, 0.9)),
        groups.quantile([0.1, 0.5, 0.9]).unstack().to_numpy(),
        rtol=1e-12,
    )


def test_tied_deciles_merge_bins_and_leave_none_empty():
    key = np.repeat([0.0, 0.0, 0.0, 0.0, 1.0, 5.0], 100)  # deciles 0, 0, ..., 1, 5
    bins = summaries.quantile_bins(key)
    assert bins.sizes.sum() == 600 and np.all(bins.sizes > 0)
    for label in range(len(bins.sizes)):  # each bin holds one of the three values
        assert len(np.unique(key[bins.labels == label])) == 1
    np.testing.assert_array_equal(bins.means(key), [0.0, 1.0, 5.0])


@pytest.mark.parametrize("n", [7, 1000, 12_345])
def test_qq_points_are_probplots(n):
    values = np.random.default_rng(n).standard_t(4, size=n)
    (theoretical, ordered), (slope, intercept, _) = stats.probplot(values, dist="norm")
    qq = summaries.qq_points(values, max_points=500)
    index = np.unique(np.linspace(0, n - 1, min(500, n)).round().astype(int))
    np.testing.assert_allclose(qq.theoretical, theoretical[index], rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(qq.ordered, ordered[index])
    assert qq.n == n and qq.ordered[0] == values.min() and qq.ordered[-1] == values.max()
    assert qq.slope == pytest.approx(slope, rel=1e-12)
    assert qq.intercept == pytest.approx(intercept, rel=1e-10, abs=1e-12)


# ----------------------------------------------------------------------------- plots


def test_summary_path_is_chosen_by_the_row_threshold(poisson):
    n = len(poisson.design.y)
    small = [
        report_plots.observed_fitted_plot(poisson),
        report_plots.residuals_fitted_plot(poisson),
        report_plots.qq_plot(poisson),
    ]
    assert not any("grid" in plot.caption for plot in small)
    big = [
        report_plots.observed_fitted_plot(poisson, summary_rows=n - 1),
        report_plots.residuals_fitted_plot(poisson, summary_rows=n - 1),
        report_plots.qq_plot(poisson, summary_rows=n - 1),
    ]
    for plot, reference in zip(big, small, strict=True):
        assert plot.key == reference.key and plot.png.startswith(PNG)
    assert f"all {n} rows as counts on a 80 x 60 grid" in big[0].caption
    assert "mean observed response" in big[0].caption and "10 bins" in big[0].caption
    assert "10 % and 90 % quantiles" in big[1].caption
    assert big[2].caption == small[2].caption  # the same points and line


def test_report_has_every_image_on_the_summary_path(frame, tmp_path, monkeypatch):
    monkeypatch.setattr(report_plots, "SUMMARY_ROWS", 100)
    frame.to_csv(tmp_path / "rows.csv", index=False)
    spec = Spec.from_dict(
        {
            "title": "summary plots",
            "data": "rows.csv",
            "model": [
                {"name": "counts", "formula": "count ~ x + group", "family": "poisson"},
                {"name": "events", "formula": "event ~ x", "family": "binomial"},
            ],
            "check": {"against": "none"},
        },
        base_dir=tmp_path,
    )
    fitted = spec.fit()
    folder = write_report(spec, fitted, out_dir=tmp_path / "out", formats=["html", "markdown"])
    keys = ("forest", "observed_fitted", "residuals_fitted", "qq")
    for name in ("counts", "events"):
        for key in keys:
            assert (folder / "plots" / f"{name}_{key}.png").read_bytes().startswith(PNG)
    html = (folder / "index.html").read_text()
    assert len(re.findall(r"<img [^>]*src=\"data:image/png;base64,", html)) == 8
    assert html.count("counts on a 80 x 60 grid") == 4
    markdown = (folder / "index.md").read_text()
    assert len(re.findall(r"!\[[^\]]*\]\(plots/[a-z_]+\.png\)", markdown)) == 8


# ----------------------------------------------------------------------------- the check


def test_check_started_from_the_estimates_passes_a_good_fit(poisson):
    cold = glmspec.compare(poisson, warm_start=False)
    warm = glmspec.compare(poisson, warm_start=True)
    assert cold.attrs["passed"] and warm.attrs["passed"]
    assert not any("started from glmspec" in note for note in cold.attrs["notes"])
    assert any("started from glmspec's estimates" in n for n in warm.attrs["notes"])
    np.testing.assert_allclose(warm["statsmodels"], cold["statsmodels"], rtol=1e-9)


@pytest.mark.parametrize("shift", [1e-3, 1e-5])
def test_check_started_from_a_wrong_estimate_fails(frame, shift):
    res = glmspec.fit("count ~ x + group", frame, family="poisson", offset="log_exposure")
    wrong = res.params.copy()
    wrong["x"] += shift * max(abs(wrong["x"]), res.bse["x"])  # 1e-5: well above tol 1e-6
    res.params = wrong  # what a solver stopping early would report
    table = glmspec.compare(res, warm_start=True)
    assert not table.attrs["passed"]
    failed = set(table.loc[~table["passed"], "quantity"])
    assert "coef[x]" in failed
    # statsmodels did not stop at the start: it moved to its own estimate
    note = next(n for n in table.attrs["notes"] if "started from glmspec" in n)
    assert int(re.search(r"took (\d+) iteration", note)[1]) >= 2
    row = table.set_index("quantity").loc["coef[x]"]
    assert row["rel_diff"] == pytest.approx(shift, rel=1e-3)


def test_check_warm_starts_by_row_count(poisson, monkeypatch):
    from glmspec.verify import statsmodels as check

    monkeypatch.setattr(check, "WARM_START_ROWS", len(poisson.design.y) - 1)
    notes = glmspec.compare(poisson).attrs["notes"]
    assert any("started from glmspec's estimates" in n for n in notes)


@pytest.fixture(scope="module")
def classes() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 1500
    x = rng.standard_normal(n)
    scores = np.column_stack([np.zeros(n), 0.5 + x, -0.3 - 0.8 * x])
    p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    choice = np.array(["a", "b", "c"])[(rng.random(n)[:, None] > p.cumsum(axis=1)).sum(axis=1)]
    mean = np.exp(1.0 + 0.5 * x)
    return pd.DataFrame(
        {"x": x, "choice": choice, "count": rng.negative_binomial(2, 2 / (2 + mean))}
    )


@pytest.mark.parametrize("family", ["negative_binomial", "multinomial"])
def test_warm_started_check_of_negbin_and_multinomial(classes, family):
    response = "choice" if family == "multinomial" else "count"
    res = glmspec.fit(f"{response} ~ x", classes, family=family)
    warm = glmspec.compare(res, warm_start=True)
    assert warm.attrs["passed"], warm.loc[~warm["passed"]]
    assert any("started from glmspec's estimates" in n for n in warm.attrs["notes"])
    cold = glmspec.compare(res, warm_start=False)
    np.testing.assert_allclose(warm["statsmodels"], cold["statsmodels"], rtol=1e-8)
    res.params = res.params + 1e-3 * res.bse.to_numpy().reshape(res.params.shape)
    wrong = glmspec.compare(res, warm_start=True)
    assert not wrong.attrs["passed"]
    assert all(wrong.loc[wrong["quantity"].str.startswith("coef["), "passed"] == False)  # noqa: E712
