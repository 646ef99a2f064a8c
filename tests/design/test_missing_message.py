"""design.columns.describe_missing: the one description of missing values in messages, used
by build_design (data and formula), predict_matrix and the Dask engine's partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.design.build import predict_matrix
from glmspec.design.columns import describe_missing
from glmspec.errors import MissingValueError, PredictionError


def test_a_row_missing_in_two_columns_counts_once():
    masks = {"x": np.array([True, True, False, False]), "w": np.array([True, False, False, True])}
    assert describe_missing(masks) == "3 row(s) ('x': 2 row(s), 'w': 2 row(s))"


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"y": [1.0, 2.0, 0.0, 3.0, 1.0, 2.0], "x": [0.1, 0.5, 0.2, 0.9, 0.4, 0.3]})


@pytest.mark.filterwarnings("ignore:invalid value encountered in log:RuntimeWarning")
def test_every_missing_value_message_uses_it():
    frame = _frame()
    holes = frame.assign(x=[np.nan, 0.5, np.inf, 0.9, 0.4, 0.3])
    with pytest.raises(MissingValueError) as info:
        glmspec.fit("y ~ x", holes, "poisson")
    assert str(info.value).startswith("missing or infinite values in 2 row(s) ('x': 2 row(s));")
    negative = frame.assign(x=[-1.0, 0.5, 0.2, 0.9, 0.4, 0.3])
    with pytest.raises(MissingValueError) as info:
        glmspec.fit("y ~ np.log(x)", negative, "poisson")
    expected = "the formula produces missing or infinite values in 1 row(s) ("
    assert str(info.value).startswith(expected)
    res = glmspec.fit("y ~ x", frame, "poisson")
    with pytest.raises(PredictionError) as info:
        predict_matrix(res.design, holes)
    assert "new data has missing or infinite values in 2 row(s) ('x': 2 row(s));" in str(info.value)
