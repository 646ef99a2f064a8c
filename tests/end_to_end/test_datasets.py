"""Tests of the bundled data sets and of :mod:`glmspec.datasets`."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from glmspec import datasets
from glmspec.errors import DataError

DATA_DIR = Path(__file__).resolve().parents[2] / "datasets"

#: name -> (rows, columns)
SHAPES = {
    "anes96": (944, 11),
    "cpunish": (17, 8),
    "randhie": (20190, 10),
    "restaurant_visitors": (3000, 7),
    "scotland": (32, 9),
    "spector": (32, 4),
    "star98": (303, 22),
}

FORMULA = "visitors ~ hour + C(weekday) + rain + temperature + event"


def _script(stem: str) -> ModuleType:
    """Import ``datasets/<stem>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"_glmspec_{stem}", DATA_DIR / f"{stem}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_data_dir_is_repo_datasets_folder():
    assert datasets.DATA_DIR == DATA_DIR


def test_names_lists_every_csv():
    assert datasets.names() == sorted(p.stem for p in DATA_DIR.glob("*.csv"))
    assert set(datasets.names()) == set(SHAPES)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_load(name):
    df = datasets.load(name)
    assert isinstance(df, pd.DataFrame)
    assert df.shape == SHAPES[name]
    assert not df.isna().any().any()
    assert datasets.path(name) == DATA_DIR / f"{name}.csv"
    assert (DATA_DIR / f"{name}.csv").stat().st_size < 2_000_000


def test_column_types():
    rv = datasets.load("restaurant_visitors")
    for col in ("hour", "rain", "event", "visitors"):
        assert rv[col].dtype == np.int64, col
    assert rv["temperature"].dtype == np.float64
    assert pd.api.types.is_string_dtype(rv["weekday"])
    assert set(rv["weekday"]) == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    assert set(rv["hour"]) == {11, 12, 13, 14}
    assert datasets.load("star98")[["NABOVE", "NBELOW"]].dtypes.eq(np.int64).all()
    assert datasets.load("spector")["GRADE"].dtype == np.int64
    assert sorted(datasets.load("anes96")["PID"].unique()) == list(range(7))
    assert datasets.load("cpunish")["EXECUTIONS"].dtype == np.int64


@pytest.mark.parametrize("loader", [datasets.load, datasets.path, datasets.truth])
def test_unknown_name_raises_with_options(loader):
    with pytest.raises(DataError) as info:
        loader("spectr")
    message = str(info.value)
    assert "Did you mean 'spector'?" in message
    for name in SHAPES:
        assert name in message


def test_unknown_name_without_close_match():
    with pytest.raises(DataError, match="Available data sets: anes96"):
        datasets.load("../setup")


def test_truth():
    truth = datasets.truth("restaurant_visitors")
    script = _script("make_restaurant_visitors")
    assert truth == script.TRUE_COEFFICIENTS
    assert list(truth) == list(script.TRUE_COEFFICIENTS)
    with pytest.raises(DataError, match="restaurant_visitors"):
        datasets.truth("spector")


def test_generator_is_deterministic(tmp_path):
    script = _script("make_restaurant_visitors")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    csv_a, json_a = script.write(first)
    csv_b, json_b = script.write(second)
    assert csv_a.read_bytes() == csv_b.read_bytes()
    assert json_a.read_bytes() == json_b.read_bytes()
    assert csv_a.read_bytes() == datasets.path("restaurant_visitors").read_bytes()
    assert json.loads(json_a.read_text()) == datasets.truth("restaurant_visitors")


def test_export_reproduces_committed_files(tmp_path):
    script = _script("export_statsmodels")
    for written in script.export(tmp_path):
        assert written.read_bytes() == datasets.path(written.stem).read_bytes(), written.name


def test_poisson_fit_recovers_true_coefficients():
    patsy = pytest.importorskip("patsy")
    sm = pytest.importorskip("statsmodels.api")
    df = datasets.load("restaurant_visitors")
    y, X = patsy.dmatrices(FORMULA, df, return_type="dataframe")
    truth = datasets.truth("restaurant_visitors")
    assert list(X.columns) == list(truth)
    fit = sm.GLM(y, X, family=sm.families.Poisson()).fit()
    for name, value in truth.items():
        z = (fit.params[name] - value) / fit.bse[name]
        assert abs(z) < 3, f"{name}: estimate {fit.params[name]:.4f}, true {value}, z={z:.2f}"
        assert abs(fit.params[name] / fit.bse[name]) > 3, f"{name} not identifiable"
