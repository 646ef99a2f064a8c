"""anova, drop1, emmeans, glmspec.anova and glmspec.compare tables print as R prints them
(glmspec.results.display.RTable), in a console (repr) and in Jupyter (_repr_html_), while
holding the same numbers at full precision.

The expected cells are R's printed output of tests/results/r/print_tables.R (example(glm)'s
glm.D93; R 4.2.2 Patched (2022-11-10 r83330), recorded in that script).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.inference.anova import anova as plain_anova
from glmspec.inference.anova import sequential_anova
from glmspec.inference.drop1 import drop1 as plain_drop1
from glmspec.results.display import RTable, column_texts

#: R's printed cells, row by row (row names left out: R's "outcome" is glmspec's "C(outcome)").
R_ANOVA = [
    ["", "", "8", "10.5814", ""],
    ["2", "5.4523", "6", "5.1291", "0.06547"],
    ["2", "0.0000", "4", "5.1291", "1.00000"],
]
R_DROP1 = [
    ["", "5.1291", "56.761", "", ""],
    ["2", "10.5814", "58.214", "5.4523", "0.06547"],
    ["2", "5.1291", "52.761", "0.0000", "1.00000"],
]
#: anova(small, big): R's Deviance cell of model 2 is its rounding noise 6.2172e-15 (the two
#: deviances differ in the last bit), glmspec's the exact 0; the other cells are compared.
R_MODELS = [["6", "5.1291", "", "", ""], ["4", "5.1291", "2", None, "1"]]


@pytest.fixture(scope="module")
def d93():
    data = pd.DataFrame(
        {
            "counts": [18, 17, 15, 20, 10, 20, 25, 13, 12],
            "outcome": ["1", "2", "3"] * 3,
            "treatment": ["1"] * 3 + ["2"] * 3 + ["3"] * 3,
        }
    )
    big = glmspec.fit("counts ~ C(outcome) + C(treatment)", data, "poisson")
    small = glmspec.fit("counts ~ C(outcome)", data, "poisson")
    return small, big


def _cells(table: RTable) -> list[list[str]]:
    return [list(row) for row in table.texts().itertuples(index=False)]


def _html_cells(page: str) -> list[list[str]]:
    body = page.split("<tbody>", 1)[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("</tr>")[:-1]]


def test_anova_and_drop1_print_rs_cells(d93):
    _, big = d93
    for table, expected in ((big.anova(test="Chisq"), R_ANOVA), (big.drop1("Chisq"), R_DROP1)):
        assert isinstance(table, RTable)
        assert _cells(table) == expected
        assert _html_cells(table._repr_html_()) == expected
        # the console shows the same texts, one line per row after the header
        lines = repr(table).splitlines()
        assert len(lines) == 4 and lines[2].split()[-2:] == expected[1][-2:]


def test_model_comparison_prints_rs_cells(d93):
    small, big = d93
    table = glmspec.anova(small, big, test="Chisq")
    assert isinstance(table, RTable)
    for row, expected in zip(_cells(table), R_MODELS, strict=True):
        assert [c for c, e in zip(row, expected, strict=True) if e is not None] == [
            e for e in expected if e is not None
        ]


def test_numbers_and_attrs_are_the_plain_tables(d93):
    small, big = d93
    pairs = [
        (big.anova(test="Chisq"), sequential_anova(big, "Chisq")),
        (big.drop1("Chisq"), plain_drop1(big, "Chisq")),
        (glmspec.anova(small, big, test="Chisq"), plain_anova(small, big, test="Chisq")),
    ]
    for shown, plain in pairs:
        pd.testing.assert_frame_equal(pd.DataFrame(shown), plain, check_exact=True)
        assert shown.attrs == plain.attrs
    # what pandas derives from it is an ordinary DataFrame
    assert type(pairs[0][0].head()) is pd.DataFrame


def test_tiny_pvalues_print_as_r_and_html_escapes():
    data = glmspec.datasets.load("restaurant_visitors")
    res = glmspec.fit("visitors ~ hour + C(weekday) + rain", data, "poisson")
    table = res.anova(test="Chisq")
    assert table["Pr(>Chi)"].iloc[1] < np.finfo(float).eps
    assert _cells(table)[1][-1] == "< 2.2e-16"  # R's anova prints format.pval(digits = 4)
    page = table._repr_html_()
    assert "<th>Pr(&gt;Chi)</th>" in page and "&lt; 2.2e-16" in page
    # emmeans: one layout per column (the same number of decimals in every cell)
    means = res.emmeans("C(weekday)")
    assert isinstance(means, RTable) and means.attrs["factor"]
    for column in means.texts().columns:
        decimals = {len(t.split(".")[1]) if "." in t else 0 for t in means.texts()[column]}
        assert len(decimals) == 1, column


def test_compare_keeps_its_verdict_and_prints_ten_digits(d93):
    _, big = d93
    check = glmspec.compare(big)
    assert isinstance(check, RTable) and check.attrs["passed"]
    shown = check.texts()
    assert set(shown["passed"]) == {"True"}
    llf = shown.loc[check["quantity"] == "llf", "glmspec"].item()
    assert float(llf) == pytest.approx(big.llf, rel=1e-9)


def test_column_texts_rules():
    assert column_texts(pd.Series([1.0, np.nan, 3.0]), "Df", na="") == ["1", "", "3"]
    assert column_texts(pd.Series([0.5, 1e-20]), "pvalue") == ["0.5", "<2e-16"]
    assert column_texts(pd.Series(["a", "b"]), "term") == ["a", "b"]
    # zapsmall: R's printCoefmat(digits = 5, zap.ind = 2) prints 12346 and 0 for these
    assert column_texts(pd.Series([12345.6, 0.00012]), "Deviance") == ["12346", "0"]
