"""glmspec.regression_table: models as columns, coefficients with SEs or CIs under them,
then n, log-likelihood, AIC, BIC, deviance and dispersion (issue 13)."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.errors import SpecificationError
from glmspec.results.number_format import format_estimates


@pytest.fixture(scope="module")
def fits(visitors_data):
    small = glmspec.fit("visitors ~ hour + rain", visitors_data, "poisson")
    big = glmspec.fit(
        "visitors ~ hour + C(weekday) + rain", visitors_data, "negative_binomial", cov_type="HC0"
    )
    quasi = glmspec.fit("visitors ~ rain + temperature", visitors_data, "quasipoisson")
    return {"small": small, "big": big, "quasi": quasi}


def test_numbers_equal_each_models_params_and_bse(fits):
    table = glmspec.regression_table(fits)
    numbers = table.numbers
    assert list(numbers.columns) == ["small", "big", "quasi"]
    for name, res in fits.items():
        for term in res.params.index:
            assert numbers.loc[(term, "estimate"), name] == res.params[term]
            assert numbers.loc[(term, "std. error"), name] == res.bse[term]
        missing = [t for t in table.terms if t not in res.params.index]
        assert numbers.loc[[(t, "estimate") for t in missing], name].isna().all()
        assert numbers.loc[("n", ""), name] == res.nobs
        assert numbers.loc[("deviance", ""), name] == res.deviance
        assert numbers.loc[("dispersion", ""), name] == res.scale
        np.testing.assert_array_equal(
            numbers.loc[[("log-likelihood", ""), ("AIC", ""), ("BIC", "")], name].to_numpy(),
            [res.llf, res.aic, res.bic],
        )
    # the robust model's SE is its robust one
    assert table.covariance == ["nonrobust", "HC0", "nonrobust"]


def test_rows_in_first_appearance_order(fits):
    table = glmspec.regression_table([fits["small"], fits["big"], fits["quasi"]])
    expected = list(fits["small"].params.index)
    expected += [t for t in fits["big"].params.index if t not in expected]
    expected += [t for t in fits["quasi"].params.index if t not in expected]
    assert table.terms == expected
    assert list(table.numbers.columns) == ["(1)", "(2)", "(3)"]
    shown = [label for label in table.frame.index if label]
    assert shown[: len(expected)] == expected
    assert shown[len(expected) :] == [
        "n",
        "log-likelihood",
        "AIC",
        "BIC",
        "deviance",
        "dispersion",
        "covariance",
    ]


def test_intervals_are_conf_int(fits):
    table = glmspec.regression_table(fits, interval=True, alpha=0.1)
    for name, res in fits.items():
        ci = res.conf_int(0.1)
        for term in res.params.index:
            assert table.numbers.loc[(term, "lower"), name] == ci.loc[term, 0]
            assert table.numbers.loc[(term, "upper"), name] == ci.loc[term, 1]
    assert "90% confidence intervals" in table.to_markdown()
    assert re.search(r"\[-?[0-9.e-]+, -?[0-9.e-]+\]", table.to_html())


def test_markdown_and_html_show_every_model(fits):
    table = glmspec.regression_table(fits, digits=4)
    md = table.to_markdown().splitlines()
    width = len(fits) + 1
    rows = [line for line in md if line.startswith("|") and not line.startswith("|---")]
    assert all(line.count(" | ") == width - 1 for line in rows if "\\|" not in line)
    assert rows[0] == "|  | small | big | quasi |"
    # a quasi family has no likelihood: NA, as R prints it
    assert rows[[r.split(" | ")[0] for r in rows].index("| log-likelihood")].endswith("| NA |")
    html = table.to_html()
    assert html.count("<tr>") == 1 + 2 * len(table.terms) + 7
    small = fits["small"]
    (est, se) = format_estimates([small.params.tolist(), small.bse.tolist()], 4)
    hour = list(small.params.index).index("hour")
    assert f">{est[hour]}</td>" in html and f">({se[hour]})</td>" in html


def _decimals(text: str) -> int:
    core = text.strip("()[]")
    return len(core.split(".")[1]) if "." in core and "e" not in core else 0


def test_each_model_column_has_one_layout(fits):
    """Estimates and standard errors of a model share one layout (the report's coefficient
    tables, R's printCoefmat): the same number of decimals down the column."""
    table = glmspec.regression_table(fits)
    frame = table.frame
    coefficients = frame.iloc[: 2 * len(table.terms)]
    for model in frame.columns:
        shown = [c for c in coefficients[model] if c]
        assert len({_decimals(c) for c in shown}) == 1, (model, shown)
        # each statistic row is one layout across the models
    for label in ("log-likelihood", "deviance"):
        cells = [c for c in frame.loc[label] if c != "NA"]
        assert len({_decimals(c) for c in cells}) == 1, (label, cells)


def test_latex_is_booktabs_with_one_column_per_model(fits):
    latex = glmspec.regression_table(fits).to_latex()
    lines = latex.splitlines()
    assert lines[0] == r"\begin{tabular}{lrrr}"
    assert lines[1] == r"\toprule" and lines[-1] == r"\end{tabular}"
    assert latex.count(r"\toprule") == 1 and latex.count(r"\bottomrule") == 1
    assert latex.count(r"\midrule") == 2
    body = [ln for ln in lines if ln.endswith(r"\\") and not ln.startswith(r"\multicolumn")]
    # every row has one cell per model plus the label: 3 unescaped ampersands
    assert all(len(re.findall(r"(?<!\\)&", ln)) == 3 for ln in body)
    assert r"C(weekday)[T.Mon]" in latex
    assert lines.index(r"\bottomrule") > lines.index(r"\midrule")


def test_latex_escapes_special_characters(visitors_data):
    data = visitors_data.rename(columns={"rain": "rain_mm"})
    res = glmspec.fit("visitors ~ rain_mm", data, "poisson")
    latex = glmspec.regression_table([res], names=["a&b"]).to_latex()
    assert r"rain\_mm" in latex and r"a\&b" in latex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX (pdflatex) installed")
def test_latex_compiles(fits, tmp_path):  # pragma: no cover - no TeX in CI
    special = glmspec.regression_table(
        [fits["small"], fits["quasi"]], names=["a&b_1", "50% ~{x}"], interval=True
    )
    doc = (
        "\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n"
        + glmspec.regression_table(fits).to_latex()
        + special.to_latex()
        + "\\end{document}\n"
    )
    (tmp_path / "t.tex").write_text(doc)
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 0
    assert "Overfull" not in proc.stdout or "Warning" not in proc.stdout  # compiled cleanly


def test_bad_arguments(fits):
    with pytest.raises(SpecificationError, match="at least one"):
        glmspec.regression_table([])
    with pytest.raises(SpecificationError, match="distinct labels"):
        glmspec.regression_table([fits["small"], fits["big"]], names=["a", "a"])
    with pytest.raises(SpecificationError, match="not DataFrame"):
        glmspec.regression_table([pd.DataFrame()])
    with pytest.raises(SpecificationError, match="alpha"):
        glmspec.regression_table([fits["small"]], interval=True, alpha=2)


def test_multinomial_coefficients_are_labelled_by_class():
    anes = glmspec.datasets.load("anes96")
    res = glmspec.fit("PID ~ age", anes, "multinomial")
    table = glmspec.regression_table([res])
    assert len(table.terms) == res.params.size
    cls = res.params.columns[0]
    assert table.numbers.loc[(f"{cls}: age", "estimate"), "(1)"] == res.params.loc["age", cls]
    assert table.numbers.loc[(f"{cls}: age", "std. error"), "(1)"] == res.bse.loc["age", cls]


def _write(tmp_path, entries, data):
    from glmspec.report import write_report
    from glmspec.spec import FittedModel, Spec

    fitted = []
    for entry in entries:
        res = glmspec.fit(entry.formula, data, entry.family)
        fitted.append(FittedModel(entry, res, data_rows=len(data)))
    return write_report(Spec("models", tuple(entries)), fitted, out_dir=tmp_path), fitted


def test_spec_report_has_a_regression_table_with_two_models(visitors_data, tmp_path):
    from glmspec.spec import ModelEntry

    entries = [
        ModelEntry("base", "visitors ~ hour", "poisson"),
        ModelEntry("weather", "visitors ~ hour + rain", "poisson"),
    ]
    folder, fitted = _write(tmp_path, entries, visitors_data)
    html = (folder / "index.html").read_text(encoding="utf-8")
    section = html.split('id="comparison-regression-table"', 1)[1]
    table = section.split('<table class="regression-table">', 1)[1].split("</table>", 1)[0]
    assert "<th>base</th>" not in table and '<th class="num">base</th>' in table
    weather = fitted[1].results
    assert f"({glmspec.results.summary.format_number(weather.bse['rain'], 4)})" in table
    markdown = (folder / "index.md").read_text(encoding="utf-8")
    assert "### Regression table" in markdown and "|  | base | weather |" in markdown
    latex = (folder / "regression_table.tex").read_text(encoding="utf-8")
    assert latex.startswith(r"\begin{tabular}{lrr}") and r"\bottomrule" in latex


def test_spec_report_with_one_model_has_no_regression_table(visitors_data, tmp_path):
    from glmspec.spec import ModelEntry

    folder, _ = _write(tmp_path, [ModelEntry("base", "visitors ~ hour", "poisson")], visitors_data)
    assert "regression-table" not in (folder / "index.html").read_text(encoding="utf-8")
    assert not (folder / "regression_table.tex").exists()
