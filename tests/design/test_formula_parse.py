"""design.formula_parse: the factors of a formula and the names their code reads, the one
function behind the spec's column check, the design's used columns, the text-column check and
the Dask engine's level columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest

from glmspec.design.formula import used_columns
from glmspec.design.formula_parse import factor_names, formula_factors, parse_formula
from glmspec.design.textcolumns import unstated_factor_columns
from glmspec.errors import FormulaError

FORMULA = 'np.log(y) ~ x + C(g) + Q("a b") + log(z) + x:w'


def test_formula_factors_in_order_with_or_without_the_response():
    desc = parse_formula(FORMULA)
    codes = [f.code for f in formula_factors(desc)]
    assert codes == ["np.log(y)", "x", "C(g)", 'Q("a b")', "log(z)", "x", "w"]
    assert [f.code for f in formula_factors(desc, response=False)] == codes[1:]


def test_factor_names_reads_variables_and_quoted_columns_not_function_names():
    desc = parse_formula(FORMULA)
    assert factor_names(formula_factors(desc)) == {"np", "y", "x", "g", "a b", "z", "w"}
    assert factor_names(formula_factors(desc, response=False)) == {"x", "g", "a b", "z", "w"}
    assert factor_names([]) == set()


def test_the_front_ends_read_the_same_names():
    desc = parse_formula(FORMULA)
    frame = pd.DataFrame({c: [1.0, 2.0] for c in ["y", "x", "g", "a b", "z", "w", "unused"]})
    env = {"np": np, "log": np.log}
    columns = used_columns(desc, frame, FORMULA, patsy.EvalEnvironment([env]))
    assert set(columns) == {"y", "x", "g", "a b", "z", "w"}
    # C(g) declares g a factor; the binomial's response is its own to read
    assert unstated_factor_columns(desc, "gaussian") == {"np", "y", "x", "a b", "z", "w"}
    assert unstated_factor_columns(desc, "binomial") == {"x", "a b", "z", "w"}


def test_a_keyword_column_gets_the_q_hint():
    with pytest.raises(FormulaError, match=r'Q\("class"\)'):
        parse_formula("y ~ class")
