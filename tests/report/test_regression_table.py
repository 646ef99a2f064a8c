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
    assert f"({glmspec.results.summary.format_number(fits['small'].bse['hour'], 4)})" in html


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


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX installed")
def test_latex_compiles(fits, tmp_path):  # pragma: no cover - no TeX in CI
    doc = (
        "\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n"
        + glmspec.regression_table(fits).to_latex()
        + "\\end{document}\n"
    )
    (tmp_path / "t.tex").write_text(doc)
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "t.tex"], cwd=tmp_path, capture_output=True
    )
    assert proc.returncode == 0


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
