"""A check where every quantity passes collapses to one line with the table behind a
<details>; a failed check stays expanded (issue 13)."""

from __future__ import annotations

import re

import glmspec
from glmspec.report import write_report
from glmspec.results.summary import format_number
from glmspec.spec import FittedModel, ModelEntry, Spec

FORMULA = "GRADE ~ GPA + TUCE + PSI"


def _write(tmp_path, tol):
    entry = ModelEntry("grade", FORMULA, "binomial")
    data = glmspec.datasets.load("spector")
    res = glmspec.fit(FORMULA, data, "binomial")
    fm = FittedModel(entry, res, data_rows=len(data))
    fm.check = glmspec.compare(res, tol=tol)
    folder = write_report(Spec("grades", (entry,)), [fm], out_dir=tmp_path)
    html = (folder / "index.html").read_text(encoding="utf-8")
    markdown = (folder / "index.md").read_text(encoding="utf-8")
    return fm.check, html, markdown


def _check_section(html: str) -> str:
    return html.split('id="model-grade-check"', 1)[1].split('id="model-grade-conventions"', 1)[0]


def test_all_passed_collapses_to_one_line(tmp_path):
    check, html, markdown = _write(tmp_path, 1e-6)
    assert check.attrs["passed"]
    n = len(check)
    largest = format_number(check["rel_diff"].max(), 1)
    line = f"{n}/{n} agree with statsmodels, largest relative difference {largest}"
    section = _check_section(html)
    assert line in section
    # the table (every row) is behind a <details>, after the one line
    details = re.search(r"<details>\s*<summary>.*?</summary>(.*?)</details>", section, re.S)
    assert details is not None
    assert details.group(1).count("<tr data-quantity=") == n
    assert section.index(line) < section.index("<details>")
    # Markdown: the one line plus the table
    assert line in markdown
    assert markdown.count("| pass |") == n


def test_failed_check_stays_expanded(tmp_path):
    check, html, markdown = _write(tmp_path, 1e-300)
    assert not check.attrs["passed"]
    section = _check_section(html)
    assert "<details>" not in section
    assert section.count("<tr data-quantity=") == len(check)
    assert "largest relative difference" not in section
    n_ok = int(check["passed"].sum())
    assert f"{n_ok} of {len(check)} quantities agree with statsmodels" in section
    assert "Result: **failed**" in markdown
