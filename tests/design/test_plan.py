"""The numpy design builder gives patsy's matrix exactly, and fits through it are unchanged."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import patsy
import pytest
from hypothesis import given
from hypothesis import strategies as st

import glmspec
from glmspec.design import plan as fastdesign
from glmspec.design.columns import with_categoricals

PASS_NA = patsy.NAAction(NA_types=[])


def _frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(list("abcd"), n)
    eta = 0.3 + 0.4 * x + (g == "b") * 0.5
    return pd.DataFrame(
        {
            "y": rng.poisson(np.exp(eta)),
            "b01": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
            "z": eta + rng.normal(size=n),
            "x": x,
            "w": rng.normal(size=n).astype(np.float32),
            "k": rng.integers(0, 5, n),
            "big": rng.integers(2**40, 2**41, n),
            "g": g,
            "h": rng.choice(["u", "v", "w"], n),
            "flag": rng.random(n) < 0.4,
            "cat": pd.Categorical(rng.choice(["p", "q", "r"], n), categories=["r", "q", "p"]),
        }
    )


SIMPLE = [
    "x",
    "x + z",
    "0 + x + z",
    "g",
    "g - 1",
    "0 + g",
    "g + h",
    "g + h - 1",
    "g * h",
    "g:h",
    "0 + g:h",
    "h + g:h - 1",
    "x:g",
    "x:g - 1",
    "x + g + x:g",
    "x * g",
    "g:h:x",
    "g * h * x",
    "x:z:g",
    "x * z * g",
    "C(g, Sum) + x",
    "C(g, Helmert) * x",
    "C(g, Poly)",
    "C(g, Diff):x",
    "C(h, Sum):x - 1",
    "C(g, Treatment(reference='c')) + h",
    "C(g, levels=['d', 'c', 'b', 'a'])",
    "flag + x",
    "flag:g",
    "C(flag) + x",
    "C(k) + x",
    "C(k, Treatment(reference=3)) * z",
    "k + big + w",
    "big:w + k:x",
    "cat + x:cat",
    "C(cat) + C(cat, Sum):z",
    "Q('x') + Q('g')",
    "1",
    "0 + x:z",
]
PARTIAL = [
    "np.log(z ** 2) + g",
    "I(x * 2) + g:x",
    "x + np.exp(z):g",
    "center(x) + g",
    "standardize(z):h + x",
    "bs(x, df=4) + g",
]


def _categorical(frame):
    """Text columns as Categoricals (all levels), as glmspec.design.build hands them to patsy."""
    return with_categoricals(frame, list(frame.columns))


def _patsy(info, frame):
    (matrix,) = patsy.build_design_matrices([info], frame, NA_action=PASS_NA)
    return np.asarray(matrix)


def _info(formula, frame):
    # eval_env=1: the calling test's variables are the formula's namespace
    return patsy.dmatrix(formula, frame, NA_action=PASS_NA, eval_env=1).design_info


def _check_equal(got, info, frame):
    want = _patsy(info, frame)
    assert got is not None
    assert got.dtype == np.float64 and got.flags.c_contiguous
    assert got.shape == want.shape == (len(frame), len(info.column_names))
    np.testing.assert_array_equal(got, want, strict=True)


@pytest.mark.parametrize("strings_as_categorical", [False, True])
@pytest.mark.parametrize("formula", SIMPLE)
def test_simple_terms_give_patsys_matrix(formula, strings_as_categorical):
    frame = _frame()
    if strings_as_categorical:
        frame = with_categoricals(frame, list(frame.columns))
    info = _info(formula, frame)
    plan = fastdesign.compile_plan(info)
    assert plan is not None and plan.complete
    assert plan.column_names == tuple(info.column_names)
    _check_equal(fastdesign.build_matrix(info, frame), info, frame)
    _check_equal(fastdesign.build_matrix(info, frame, partial=False), info, frame)


@pytest.mark.parametrize("formula", PARTIAL)
def test_other_terms_are_built_by_patsy_in_place(formula):
    frame = _categorical(_frame())
    info = _info(formula, frame)
    assert fastdesign.compile_plan(info) is None
    assert fastdesign.build_matrix(info, frame, partial=False) is None
    plan = fastdesign.compile_plan(info, partial=True)
    assert plan is not None and not plan.complete
    _check_equal(fastdesign.build_matrix(info, frame), info, frame)


def test_nothing_simple_gives_none():
    frame = _frame()
    info = _info("np.log(z ** 2) + I(x + 1) - 1", frame)
    assert fastdesign.compile_plan(info, partial=True) is None
    assert fastdesign.build_matrix(info, frame) is None


def test_variables_outside_the_data_are_left_to_patsy():
    frame = _frame()
    outside = np.arange(len(frame), dtype=float)  # noqa: F841 - read by the formula
    info = _info("x + outside + g", frame)
    assert fastdesign.compile_plan(info, columns=frame.columns) is None
    assert fastdesign.compile_plan(info).build(frame) is None
    assert fastdesign.build_matrix(info, frame, partial=False) is None
    _check_equal(fastdesign.build_matrix(info, frame), info, frame)


def test_shadowed_c_is_not_patsys():
    def C(values, *args):  # noqa: N802 - shadows patsy's C on purpose
        return np.asarray(values == "a", dtype=float)

    frame = _frame()
    info = _info("C(g) + x", frame)
    assert info.column_names == ["Intercept", "C(g)", "x"]
    assert fastdesign.compile_plan(info) is None
    _check_equal(fastdesign.build_matrix(info, frame), info, frame)


def test_info_from_a_slice_builds_the_whole_data():
    """Categoricals carry their full categories, so the first rows' DesignInfo fits all rows."""
    frame = _categorical(_frame(2000))
    info = _info("x * g + g:h + C(h, Sum):z", frame.iloc[:5])
    _check_equal(fastdesign.build_matrix(info, frame), info, frame)


def test_partitions_from_a_pickled_plan():
    frame = _categorical(_frame(1000))
    info = _info("x * g + g:h:z + flag", frame)
    plan = pickle.loads(pickle.dumps(fastdesign.compile_plan(info)))
    blocks = [plan.build(frame.iloc[i : i + 300]) for i in range(0, len(frame), 300)]
    np.testing.assert_array_equal(np.vstack(blocks), _patsy(info, frame), strict=True)


def test_many_row_blocks():
    frame = _frame(20_000, seed=3)
    info = _info("x * g * h + z", frame)
    _check_equal(fastdesign.build_matrix(info, frame), info, frame)


def test_missing_and_infinite_numbers_pass_through():
    frame = _frame()
    frame.loc[3, "x"] = np.nan
    frame.loc[5, "z"] = np.inf
    info = _info("x * g + z", frame)
    _check_equal(fastdesign.build_matrix(info, frame), info, frame)


@pytest.mark.parametrize(
    "change",
    [
        "unseen level",
        "missing level",
        "text for a number",
        "other categories",
    ],
)
def test_data_patsy_rejects_gives_none(change):
    frame = _frame()
    info = _info("x * g + C(h) + cat + flag", _categorical(frame))
    new = frame.copy()
    if change == "unseen level":
        new.loc[7, "g"] = "zz"
    elif change == "missing level":
        new.loc[7, "g"] = None
    elif change == "text for a number":
        new["x"] = new["x"].astype(str)
    else:
        new["cat"] = new["cat"].cat.set_categories(["p", "q", "r"])
    assert fastdesign.build_matrix(info, new) is None
    with pytest.raises(Exception):  # noqa: B017 - patsy's own error, whatever it is
        _patsy(info, new)


def test_an_absent_column_is_patsys_error():
    frame = _frame()
    info = _info("x * g + h", frame)
    with pytest.raises(patsy.PatsyError, match="h"):
        fastdesign.build_matrix(info, frame.drop(columns="h"))
    assert fastdesign.build_matrix(info, frame.drop(columns="h"), partial=False) is None


def test_numbers_for_a_bool_are_built_as_patsy_does_or_left_to_it():
    frame = _frame()
    info = _info("flag * x", frame)
    new = frame.assign(flag=frame["flag"].astype(int))  # patsy: 0 == False, 1 == True
    got = fastdesign.build_matrix(info, new)
    if got is not None:
        _check_equal(got, info, new)


def test_bool_with_other_levels_is_matched_by_value():
    frame = _frame()
    info = _info("C(flag, levels=[True, False]) + x", frame)
    _check_equal(fastdesign.build_matrix(info, frame), info, frame)


@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 10**6),
    formula=st.sampled_from(SIMPLE + PARTIAL[:3]),
)
def test_random_data_matches_patsy(n, seed, formula):
    rng = np.random.default_rng(seed)
    frame = _frame(200, seed)
    info = _info(formula, frame)
    part = frame.iloc[rng.choice(len(frame), n, replace=False)]
    got = fastdesign.build_matrix(info, part)
    try:
        want = _patsy(info, part)
    except patsy.PatsyError:
        assert got is None
        return
    if got is None:  # only data patsy treats specially; here: none
        pytest.fail(f"{formula!r} not built")
    np.testing.assert_array_equal(got, want, strict=True)


def _without_fast_path(monkeypatch):
    monkeypatch.setattr(fastdesign, "build_matrix", lambda *args, **kwargs: None)


FITS = [
    ("y ~ x + g + x:g", "poisson"),
    ("y ~ x * C(g, Sum) + h", "poisson"),
    ("z ~ 0 + g + x:h", "gaussian"),
    ("b01 ~ flag + C(k) + x", "binomial"),
    ("z ~ cat:x + C(h, Helmert) + np.log(y + 1)", "gaussian"),
    ("h ~ x + g", "multinomial"),
]


@pytest.mark.parametrize(("formula", "family"), FITS)
def test_fits_are_unchanged(formula, family, monkeypatch):
    frame = _frame(600, seed=5)
    calls = []
    real = fastdesign.build_matrix

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(fastdesign, "build_matrix", spy)
    fast = glmspec.fit(formula, frame, family)
    fast_prediction = np.asarray(fast.predict(frame.iloc[:50]))
    assert calls and calls[0], "the fit did not use the numpy builder"
    _without_fast_path(monkeypatch)
    slow = glmspec.fit(formula, frame, family)
    np.testing.assert_array_equal(np.asarray(fast.params), np.asarray(slow.params))
    assert list(fast.design.column_names) == list(slow.design.column_names)
    np.testing.assert_array_equal(np.asarray(fast.design.X), np.asarray(slow.design.X))
    np.testing.assert_array_equal(fast_prediction, np.asarray(slow.predict(frame.iloc[:50])))


def test_prediction_errors_are_unchanged():
    frame = _frame(300)
    res = glmspec.fit("y ~ x * g", frame, "poisson")
    new = frame.iloc[:5].copy()
    new.loc[new.index[0], "g"] = "zz"
    with pytest.raises(glmspec.errors.PredictionError, match="not seen"):
        res.predict(new)


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_missing_drop_still_finds_formula_made_missing_rows():
    frame = _frame(300)
    frame["pos"] = np.abs(frame["z"]) + 1.0
    frame.loc[[2, 9], "pos"] = 0.0
    res = glmspec.fit("y ~ np.log(pos) + x:g", frame, "poisson", missing="drop")
    assert res.design.n_dropped == 2
