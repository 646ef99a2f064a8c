"""Numbers printed as R prints them: one layout per column, p-values as ``format.pval``.

References are R's published outputs (the examples of ``?glm``, whose printed summaries are
reproduced in R's documentation and countless tutorials), fitted here with glmspec: the full
precision numbers agree with R to 1e-6, so the printed strings must agree character for
character.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.results.number_format import (
    format_column,
    format_estimates,
    format_pvalues,
    format_statistics,
    format_table,
)


@pytest.fixture(scope="module")
def dobson():
    """R's ``glm.D93`` (Dobson 1990, p. 93), from ``example(glm)``."""
    data = pd.DataFrame(
        {
            "counts": [18, 17, 15, 20, 10, 20, 25, 13, 12],
            "outcome": [1, 2, 3] * 3,
            "treatment": [1] * 3 + [2] * 3 + [3] * 3,
        }
    )
    return glmspec.fit("counts ~ C(outcome) + C(treatment)", data, "poisson")


@pytest.fixture(scope="module")
def clotting():
    """``glm(lot1 ~ log(u), data = clotting, family = Gamma)`` from ``example(glm)``."""
    data = pd.DataFrame(
        {"u": [5, 10, 15, 20, 30, 40, 60, 80, 100], "lot1": [118, 58, 42, 35, 27, 25, 21, 19, 18]}
    )
    return glmspec.fit("lot1 ~ np.log(u)", data, "gamma")


def test_summary_of_glm_D93_prints_R_test_columns(dobson):
    # R: z value 17.815 -2.247 -1.520 0.000 0.000; Pr(>|z|) <2e-16 0.0246 0.1285 1.0000 1.0000
    # (the treatment estimates are rounding noise, 1e-15 in R, so their columns are not compared)
    assert format_statistics(dobson.tvalues) == ["17.815", "-2.247", "-1.520", "0.000", "0.000"]
    assert format_pvalues(dobson.pvalues) == ["<2e-16", "0.0246", "0.1285", "1.0000", "1.0000"]
    text = str(dobson.summary())
    assert "  17.815   <2e-16" in text and "  -2.247   0.0246" in text


def test_summary_of_clotting_gamma_prints_R_coefficient_table(clotting):
    # R:              Estimate Std. Error t value Pr(>|t|)
    #     (Intercept) -0.0165544  0.0009275  -17.85 4.28e-07 ***
    #     log(u)       0.0153431  0.0004150   36.98 2.75e-09 ***
    estimate, bse = format_estimates([clotting.params, clotting.bse])
    assert estimate == ["-0.0165544", "0.0153431"]
    assert bse == ["0.0009275", "0.0004150"]
    assert format_statistics(clotting.tvalues) == ["-17.85", "36.98"]
    assert format_pvalues(clotting.pvalues) == ["4.28e-07", "2.75e-09"]
    lines = str(clotting.summary()).splitlines()
    row = next(line for line in lines if line.startswith("np.log(u)")).split()
    assert row[1:5] == ["0.0153431", "0.0004150", "36.98", "2.75e-09"]


def test_format_pval_follows_R_rules():
    # eps separator: "<2e-16" when the other p-values are at most 6 characters, else "< 2e-16"
    assert format_pvalues([1e-300, 0.5]) == ["<2e-16", "0.5"]
    assert format_pvalues([1e-300, 0.012345]) == ["<2e-16", "0.0123"]
    assert format_pvalues([1e-300, 0.0012345]) == ["< 2e-16", "0.00123"]
    # 1e-4 and above are formatted together in fixed notation, smaller ones in scientific
    assert format_pvalues([0.05, 0.00123, 3.2e-5]) == ["0.05000", "0.00123", "3.2e-05"]
    assert format_pvalues([None, np.nan, 0.0]) == ["NA", "NA", "<2e-16"]


def test_columns_share_one_layout():
    # fixed notation: the decimals that the value needing most of them asks for
    assert format_column([1.5, 2.25, 10.0], 7) == ["1.50", "2.25", "10.00"]
    # scientific for the whole column when fixed notation would be wider (R's formatReal)
    assert format_column([123.4567, 0.001234], 4) == ["1.235e+02", "1.234e-03"]
    assert format_column([1.0, None, np.inf, -np.inf], 7) == ["1", "NA", "Inf", "-Inf"]
    # a nonzero estimate never prints as zero (printCoefmat's not.both.0 fix)
    estimate, _ = format_estimates([[12345.6, 1e-9], [1.0, 2.0]])
    assert float(estimate[1]) != 0


@pytest.mark.parametrize("seed", range(5))
def test_every_printed_value_rounds_back(seed):
    values = np.random.default_rng(seed).lognormal(0, 3, 12) * np.sign(np.arange(12) - 5.5)
    texts = format_column(values, 4)
    if "e" in texts[0]:
        assert all("e" in t and len(t.split("e")[0].split(".")[-1]) == 3 for t in texts)
        np.testing.assert_allclose([float(t) for t in texts], values, rtol=5e-4)
    else:
        decimals = {len(t.split(".")[1]) if "." in t else 0 for t in texts}
        assert len(decimals) == 1
        np.testing.assert_allclose(
            [float(t) for t in texts], values, atol=0.5 * 10.0 ** -decimals.pop() * (1 + 1e-9)
        )
        # and every value keeps at least 4 significant digits or all its decimals
        assert max(len(t.lstrip("-").replace(".", "").lstrip("0")) for t in texts) >= 4


def test_format_table_formats_named_columns():
    rows = [
        {"estimate": 1.23456, "bse": 0.1, "z": 12.3456, "p": 1e-20, "df": 1},
        {"estimate": -0.5, "bse": 0.25, "z": -2.0, "p": 0.0455, "df": 2},
    ]
    shown = format_table(
        rows, estimates=[("estimate", "bse")], statistics=["z"], pvalues=["p"], numbers=["df"]
    )
    # estimate and bse share one layout: 4 significant digits of the value that needs most
    assert shown[0] == {"estimate": "1.235", "bse": "0.100", "z": "12.35", "p": "<2e-16", "df": "1"}
    assert shown[1] == {
        "estimate": "-0.500",
        "bse": "0.250",
        "z": "-2.00",
        "p": "0.0455",
        "df": "2",
    }
