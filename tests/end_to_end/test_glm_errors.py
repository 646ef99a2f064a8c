"""Bad input raises the right :mod:`glmspec.errors` class, with a message naming the problem.

Every error a user can trigger is documented to be a :class:`GLMSpecError` subclass; the last
section checks that nothing escapes as a raw numpy, scipy, pandas or patsy exception.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import glmspec
from glmspec import datasets
from glmspec.errors import (
    ConvergenceWarning,
    DataError,
    DomainWarning,
    FormulaError,
    GLMSpecError,
    MissingValueError,
    PredictionError,
    ResponseError,
    SeparationWarning,
    SingularDesignError,
    SpecificationError,
    UnknownFamilyError,
    UnknownLinkError,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.uniform(0, 1, n),
            "group": rng.choice(["a", "b", "c"], n),
            "w": rng.uniform(0.5, 2.0, n),
            "off": rng.normal(0, 0.1, n),
        }
    )
    frame["count"] = rng.poisson(np.exp(0.5 + 0.3 * frame["x"]))
    frame["success"] = (rng.random(n) < 0.5).astype(int)
    return frame


# --------------------------------------------------------------------------------------------
# Family and link
# --------------------------------------------------------------------------------------------


def test_unknown_family_suggests_the_closest(data):
    with pytest.raises(UnknownFamilyError, match="Did you mean 'poisson'") as info:
        glmspec.fit("count ~ x", data, "poison")
    assert "'poison'" in str(info.value)
    assert "gaussian" in str(info.value)  # lists the known families
    with pytest.raises(UnknownFamilyError, match="Did you mean 'binomial'"):
        glmspec.fit("success ~ x", data, "binomail")


def test_unknown_family_type(data):
    with pytest.raises(UnknownFamilyError, match="int"):
        glmspec.fit("count ~ x", data, 3)


def test_unknown_link_suggests_the_closest(data):
    with pytest.raises(UnknownLinkError, match="Did you mean 'logit'") as info:
        glmspec.fit("success ~ x", data, "binomial", "logitt")
    assert "'logitt'" in str(info.value) and "probit" in str(info.value)
    with pytest.raises(UnknownLinkError, match="Did you mean 'probit'"):
        glmspec.fit("success ~ x", data, "binomial", "probbit")


@pytest.mark.parametrize(
    "family, link, allowed",
    [
        ("poisson", "logit", "log, identity, sqrt"),
        ("gaussian", "probit", "identity, log, inverse"),
        ("binomial", "sqrt", "logit, probit, cloglog, log, cauchit"),
        ("poisson", "inverse", "log, identity, sqrt"),
    ],
)
def test_link_not_allowed_for_family(data, family, link, allowed):
    response = "success" if family == "binomial" else "count"
    with pytest.raises(UnknownLinkError) as info:
        glmspec.fit(f"{response} ~ x", data, family, link)
    message = str(info.value)
    assert f"'{link}'" in message and family in message and allowed in message


def test_specification_errors_are_value_errors():
    for cls in (UnknownFamilyError, UnknownLinkError):
        assert issubclass(cls, SpecificationError)
        assert issubclass(cls, GLMSpecError) and issubclass(cls, ValueError)
    assert issubclass(MissingValueError, DataError) and issubclass(ResponseError, DataError)


# --------------------------------------------------------------------------------------------
# Missing and infinite values
# --------------------------------------------------------------------------------------------


def test_missing_values_raise_naming_column_and_count(data):
    data.loc[[3, 7], "x"] = np.nan
    data.loc[11, "group"] = None
    with pytest.raises(MissingValueError) as info:
        glmspec.fit("count ~ x + group", data, "poisson")
    message = str(info.value)
    assert "'x': 2 row(s)" in message
    assert "'group': 1 row(s)" in message
    assert "3 row(s)" in message
    assert "missing='drop'" in message


def test_missing_drop_drops_and_records(data):
    data.loc[[3, 7], "x"] = np.nan
    data.loc[11, "group"] = None
    res = glmspec.fit("count ~ x + group", data, "poisson", missing="drop")
    assert res.n_dropped == 3
    assert res.nobs == len(data) - 3
    clean = glmspec.fit("count ~ x + group", data.dropna(), "poisson")
    pd.testing.assert_series_equal(res.params, clean.params, rtol=1e-12)
    assert "dropped for missing values: 3" in str(res.summary())


def test_missing_values_in_unused_columns_are_ignored(data):
    data.loc[[1, 2], "z"] = np.nan
    res = glmspec.fit("count ~ x", data, "poisson")
    assert res.n_dropped == 0 and res.nobs == len(data)


def test_missing_values_in_weights_and_offset(data):
    data.loc[5, "w"] = np.nan
    with pytest.raises(MissingValueError, match="'w': 1 row"):
        glmspec.fit("count ~ x", data, "poisson", weights="w")
    offset = data["off"].to_numpy().copy()
    offset[[0, 1]] = np.nan
    with pytest.raises(MissingValueError, match="'offset': 2 row"):
        glmspec.fit("count ~ x", data, "poisson", offset=offset)
    res = glmspec.fit("count ~ x", data, "poisson", weights="w", offset=offset, missing="drop")
    assert res.n_dropped == 3


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values_raise(data, value):
    data.loc[4, "z"] = value
    with pytest.raises(MissingValueError, match="'z': 1 row") as info:
        glmspec.fit("count ~ x + z", data, "poisson")
    assert "infinite" in str(info.value)
    res = glmspec.fit("count ~ x + z", data, "poisson", missing="drop")
    assert res.n_dropped == 1


def test_missing_policy_must_be_known(data):
    with pytest.raises(DataError, match="omit"):
        glmspec.fit("count ~ x", data, "poisson", missing="omit")


# --------------------------------------------------------------------------------------------
# Response outside the family's support
# --------------------------------------------------------------------------------------------


def test_negative_poisson_counts(data):
    data.loc[[2, 9], "count"] = [-1, -3]
    with pytest.raises(ResponseError) as info:
        glmspec.fit("count ~ x", data, "poisson")
    message = str(info.value)
    assert "'count'" in message and "2 negative" in message and "row 2" in message


def test_non_integer_poisson_counts_warn_and_fit(data):
    data["count"] = data["count"].astype(float)
    data.loc[[0, 1, 2], "count"] = [0.5, 1.5, 2.25]
    with pytest.warns(DomainWarning, match="3 non-integer"):
        res = glmspec.fit("count ~ x", data, "poisson")
    assert res.converged
    sm_res = sm.GLM(data["count"], res.design.X, family=sm.families.Poisson()).fit(tol=1e-12)
    np.testing.assert_allclose(res.params, sm_res.params, rtol=1e-6)
    assert res.llf == pytest.approx(sm_res.llf, rel=1e-8)  # log Gamma(y + 1) for fractions


def test_binomial_response_outside_unit_interval(data):
    with pytest.raises(ResponseError) as info:
        glmspec.fit("count ~ x", data, "binomial")
    message = str(info.value)
    assert "'count'" in message and "outside [0, 1]" in message
    data.loc[0, "success"] = -1
    with pytest.raises(ResponseError, match="1 value"):
        glmspec.fit("success ~ x", data, "binomial")


def test_binomial_three_class_string_response(data):
    with pytest.raises(ResponseError) as info:
        glmspec.fit("group ~ x", data, "binomial")
    message = str(info.value)
    assert "3 classes" in message and "'a', 'b', 'c'" in message and "multinomial" in message


def test_binomial_single_class_string_response(data):
    with pytest.raises(ResponseError, match="1 classes"):
        glmspec.fit("label ~ x", data.assign(label="only"), "binomial")


def test_binomial_negative_counts(data):
    data["failures"] = 3 - data["success"]
    data.loc[0, "failures"] = -2
    with pytest.raises(ResponseError, match="non-negative"):
        glmspec.fit("success + failures ~ x", data, "binomial")


def test_gaussian_string_response(data):
    with pytest.raises(ResponseError, match="numeric response"):
        glmspec.fit("group ~ x", data, "gaussian")


# --------------------------------------------------------------------------------------------
# Weights, offset, data
# --------------------------------------------------------------------------------------------


def test_negative_weights(data):
    data.loc[[0, 5, 6], "w"] = -1.0
    with pytest.raises(DataError, match="3 are negative"):
        glmspec.fit("count ~ x", data, "poisson", weights="w")


def test_all_zero_weights(data):
    with pytest.raises(DataError, match="all weights are zero"):
        glmspec.fit("count ~ x", data, "poisson", weights=np.zeros(len(data)))


@pytest.mark.parametrize("what", ["weights", "offset"])
@pytest.mark.parametrize("length", [199, 201, 1])
def test_wrong_length_weights_or_offset(data, what, length):
    with pytest.raises(DataError) as info:
        glmspec.fit("count ~ x", data, "poisson", **{what: np.ones(length)})
    message = str(info.value)
    assert what in message and f"({length},)" in message and "200 rows" in message


@pytest.mark.parametrize("what", ["weights", "offset"])
def test_unknown_weights_or_offset_column(data, what):
    with pytest.raises(DataError, match=f"{what} column 'of'.*Did you mean 'off'"):
        glmspec.fit("count ~ x", data, "poisson", **{what: "of"})


def test_non_numeric_weights(data):
    with pytest.raises(DataError, match="weights column .group. must be numeric"):
        glmspec.fit("count ~ x", data, "poisson", weights="group")


@pytest.mark.parametrize(
    "formula, missing, suggestion",
    [
        ("count ~ xx", "xx", "x"),
        ("count ~ x + C(grp)", "grp", "group"),
        ("cont ~ x", "cont", "count"),
        ("count ~ x + np.log(zz)", "zz", "z"),
    ],
)
def test_formula_naming_a_missing_column(data, formula, missing, suggestion):
    with pytest.raises(FormulaError) as info:
        glmspec.fit(formula, data, "poisson")
    message = str(info.value)
    assert f"'{missing}'" in message and "not a column" in message
    assert f"Did you mean '{suggestion}'?" in message


@pytest.mark.parametrize("formula", ["count ~ x +", "count x", "~ x", "count ~ x ~ z", ""])
def test_malformed_formula(data, formula):
    with pytest.raises(FormulaError, match="formula"):
        glmspec.fit(formula, data, "poisson")


@pytest.mark.parametrize(
    "empty",
    [pd.DataFrame({"count": [], "x": []}), {}, pd.DataFrame()],
    ids=["no-rows", "empty-dict", "empty-frame"],
)
def test_empty_data(empty):
    with pytest.raises(DataError, match="no rows"):
        glmspec.fit("count ~ x", empty, "poisson")


def test_every_row_missing(data):
    with pytest.raises(DataError, match="every row"):
        glmspec.fit("count ~ x", data.assign(x=np.nan), "poisson", missing="drop")


@pytest.mark.parametrize("max_iter, tol", [(0, 1e-8), (2.5, 1e-8), (100, 0.0), (100, 2.0)])
def test_bad_solver_options(data, max_iter, tol):
    with pytest.raises(
        DataError, match=f"max_iter .*{max_iter}" if max_iter != 100 else f"tol .*{tol}"
    ):
        glmspec.fit("count ~ x", data, "poisson", max_iter=max_iter, tol=tol)


# --------------------------------------------------------------------------------------------
# Rank deficiency
# --------------------------------------------------------------------------------------------


def test_dummy_trap_names_the_columns(data):
    data["is_b"] = (data["group"] == "b").astype(float)
    with pytest.raises(SingularDesignError) as info:
        glmspec.fit("count ~ C(group) + is_b", data, "poisson")
    message = str(info.value)
    assert "rank 3 < 4" in message
    assert "'is_b'" in message and "'C(group)[T.b]'" in message


def test_duplicated_column_names_both(data):
    data["x_copy"] = data["x"]
    with pytest.raises(SingularDesignError) as info:
        glmspec.fit("count ~ x + x_copy", data, "poisson")
    message = str(info.value)
    assert "'x_copy'" in message and "'x'" in message


def test_linear_combination_and_constant_columns(data):
    data["combo"] = 2 * data["x"] - 3 * data["z"]
    with pytest.raises(SingularDesignError, match="'combo'|'x'|'z'"):
        glmspec.fit("count ~ x + z + combo", data, "gaussian")
    with pytest.raises(SingularDesignError, match="'zero'.*zero"):
        glmspec.fit("count ~ x + zero", data.assign(zero=0.0), "poisson")


def test_more_columns_than_rows(data):
    with pytest.raises(SingularDesignError, match="rank 2 < 3 columns.*column 'z'"):
        glmspec.fit("count ~ x + z", data.iloc[:2], "poisson")


# --------------------------------------------------------------------------------------------
# Convergence and separation
# --------------------------------------------------------------------------------------------


def test_non_convergence_warns(data):
    with pytest.warns(ConvergenceWarning, match="did not converge after 2 iterations"):
        res = glmspec.fit("success ~ x + group", data, "binomial", "cauchit", max_iter=2)
    assert res.converged is False
    assert res.n_iter == 2
    assert "NO" in str(res.summary())


def _separated(kind: str) -> pd.DataFrame:
    x = np.linspace(-2, 2, 40)
    y = (x > 0).astype(int)
    rng = np.random.default_rng(1)
    z = rng.normal(size=40)
    if kind == "quasi-complete":  # two identical rows at x = 0 with both outcomes
        x = np.r_[x, 0.0, 0.0]
        y = np.r_[y, 0, 1]
        # identical z too: with different z the tied rows would be strictly separable by z
        z = np.r_[z, 0.3, 0.3]
    return pd.DataFrame({"x": x, "z": z, "y": y})


def _fit_recording(data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = glmspec.fit("y ~ x + z", data, "binomial")
    return res, [w for w in caught if issubclass(w.category, SeparationWarning)]


@pytest.mark.parametrize("kind", ["complete", "quasi-complete"])
def test_separation_warns_naming_the_column(kind):
    res, separation_warnings = _fit_recording(_separated(kind))
    assert len(separation_warnings) == 1
    message = str(separation_warnings[0].message)
    assert "separation" in message and "'x'" in message
    assert res.separation is not None
    assert "x" in res.separation.columns
    assert res.separation.kind in ("complete", "quasi-complete")
    assert res.separation.describe() in str(res.summary())


def test_quasi_complete_separation_kind():
    res, _ = _fit_recording(_separated("quasi-complete"))
    assert res.separation.kind == "quasi-complete"


def test_complete_separation_kind():
    res, separation_warnings = _fit_recording(_separated("complete"))
    assert res.separation.kind == "complete"
    assert "complete separation" in str(separation_warnings[0].message)
    assert not str(separation_warnings[0].message).startswith("quasi")


def test_separation_by_a_factor_level_names_that_level():
    rng = np.random.default_rng(2)
    n = 300
    group = rng.choice(["a", "b", "c"], n)
    x = rng.normal(size=n)
    y = np.where(group == "c", 1, (rng.random(n) < 0.4).astype(int))
    # a string column in the place of z: level "c" only ever has successes
    res, separation_warnings = _fit_recording(pd.DataFrame({"z": group, "x": x, "y": y}))
    assert len(separation_warnings) == 1
    assert res.separation.kind == "quasi-complete"
    assert res.separation.columns == ("z[T.c]",)


def test_no_separation_no_warning():
    data = datasets.load("spector")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = glmspec.fit("GRADE ~ GPA + TUCE + PSI", data, "binomial")
    assert res.separation is None


# --------------------------------------------------------------------------------------------
# Prediction
# --------------------------------------------------------------------------------------------


@pytest.fixture
def fitted(data):
    return glmspec.fit("count ~ x + C(group)", data, "poisson")


def test_predict_unseen_level_names_factor_and_level(fitted):
    new = pd.DataFrame({"x": [0.0, 1.0, 2.0], "group": ["a", "zz", "zz"]})
    with pytest.raises(PredictionError) as info:
        fitted.predict(new)
    message = str(info.value)
    assert "'C(group)'" in message and "'group'" in message
    assert "'zz'" in message and "2 row(s)" in message
    assert "'a', 'b', 'c'" in message


def test_predict_missing_column(fitted):
    with pytest.raises(PredictionError, match=r"\['group'\]"):
        fitted.predict(pd.DataFrame({"x": [0.0]}))
    with pytest.raises(PredictionError, match=r"\['x'\].*Did you mean 'xx'"):
        fitted.predict(pd.DataFrame({"xx": [0.0], "group": ["a"]}))


def test_predict_missing_value(fitted):
    with pytest.raises(PredictionError, match="missing"):
        fitted.predict(pd.DataFrame({"x": [np.nan], "group": ["a"]}))


# --------------------------------------------------------------------------------------------
# Nothing escapes as a raw numpy / scipy / pandas / patsy exception
# --------------------------------------------------------------------------------------------

BAD_FITS = {
    "unknown family": dict(formula="count ~ x", family="poison"),
    "family object type": dict(formula="count ~ x", family=None),
    "unknown link": dict(formula="count ~ x", family="poisson", link="sqr"),
    "link type": dict(formula="count ~ x", family="poisson", link=3),
    "link for family": dict(formula="count ~ x", family="poisson", link="logit"),
    "missing value": dict(formula="count ~ x", family="poisson", nan_in="x"),
    "inf value": dict(formula="count ~ x", family="poisson", inf_in="x"),
    "negative count": dict(formula="neg ~ x", family="poisson"),
    "binomial range": dict(formula="count ~ x", family="binomial"),
    "three classes": dict(formula="group ~ x", family="binomial"),
    "negative weights": dict(formula="count ~ x", family="poisson", weights="neg_w"),
    "string weights": dict(formula="count ~ x", family="poisson", weights="group"),
    "short weights": dict(formula="count ~ x", family="poisson", weights=[1.0, 2.0]),
    "2-d offset": dict(formula="count ~ x", family="poisson", offset=np.ones((200, 2))),
    "missing column": dict(formula="count ~ nothere", family="poisson"),
    "unknown function": dict(formula="count ~ foo(x)", family="poisson"),
    "numpy attribute": dict(formula="count ~ np.nosuch(x)", family="poisson"),
    "log of negative": dict(formula="count ~ np.log(x)", family="poisson"),
    "bad syntax": dict(formula="count ~ (x", family="poisson"),
    "formula type": dict(formula=None, family="poisson"),
    "dummy trap": dict(formula="count ~ C(group) + is_b", family="poisson"),
    "duplicate": dict(formula="count ~ x + x2", family="gaussian"),
    "binomial three count columns": dict(formula="count + count + neg ~ x", family="binomial"),
    "missing option": dict(formula="count ~ x", family="poisson", missing="skip"),
    "max_iter": dict(formula="count ~ x", family="poisson", max_iter=-1),
}


# what each message must name (the column, option or value at fault)
BAD_FIT_NAMES = {
    "unknown family": "'poison'",
    "family object type": "family .*NoneType",
    "unknown link": "'sqr'.*Did you mean 'sqrt'",
    "link type": "link .*int",
    "link for family": "'logit' .*poisson",
    "missing value": "'x': 1 row",
    "inf value": "'x': 1 row",
    "negative count": "'neg' .*negative",
    "binomial range": "'count' .*outside \\[0, 1\\]",
    "three classes": "'group' has 3 classes",
    "negative weights": "weights must be non-negative",
    "string weights": "weights column 'group' must be numeric",
    "short weights": "weights has shape \\(2,\\)",
    "2-d offset": "offset has shape \\(200, 2\\)",
    "missing column": "'nothere'",
    "unknown function": "'foo'",
    "numpy attribute": "nosuch",
    "log of negative": "'np.log\\(x\\)'",
    "bad syntax": "count ~ \\(x",
    "formula type": "formula .*None",
    "dummy trap": "'is_b' = \\+1 \\* 'C\\(group\\)\\[T.b\\]'",
    "duplicate": "'x2' = \\+2 \\* 'x'",
    "binomial three count columns": "'count \\+ neg'",
    "missing option": "missing .*'skip'",
    "max_iter": "max_iter .*-1",
}


@pytest.mark.parametrize("case", sorted(BAD_FITS))
def test_bad_fit_input_raises_glmspec_error(data, case):
    spec = dict(BAD_FITS[case])
    frame = data.assign(
        neg=-data["count"],
        neg_w=-data["w"],
        x2=2 * data["x"],
        is_b=(data["group"] == "b").astype(float),
    )
    if "nan_in" in spec:
        frame.loc[0, spec.pop("nan_in")] = np.nan
    if "inf_in" in spec:
        frame.loc[0, spec.pop("inf_in")] = np.inf
    formula = spec.pop("formula")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GLMSpecError, match=BAD_FIT_NAMES[case]):
            glmspec.fit(formula, frame, **spec)


BAD_PREDICTIONS = {
    "unseen level": lambda res, new: res.predict(new.assign(group="zz")),
    "missing column": lambda res, new: res.predict(new.drop(columns="x")),
    "missing value": lambda res, new: res.predict(new.assign(x=np.nan)),
    "empty newdata": lambda res, new: res.predict(new.iloc[:0]),
    "not a frame": lambda res, new: res.predict([1.0, 2.0]),
}
BAD_PREDICTION_NAMES = {
    "unseen level": "'C\\(group\\)' .*\\['zz'\\]",
    "missing column": "lacks column\\(s\\) \\['x'\\]",
    "missing value": "'x': 5 row",
    "empty newdata": "no rows",
    "not a frame": "lacks column\\(s\\) \\['group', 'x'\\]",
}


@pytest.mark.parametrize("case", sorted(BAD_PREDICTIONS))
def test_bad_prediction_input_raises_glmspec_error(fitted, data, case):
    with pytest.raises(GLMSpecError, match=BAD_PREDICTION_NAMES[case]):
        BAD_PREDICTIONS[case](fitted, data.iloc[:5])


def test_predict_non_numeric_value_in_numeric_column(fitted, data):
    with pytest.raises(PredictionError, match="'x'"):
        fitted.predict(data.iloc[:5].assign(x="high"))


def test_predict_wrong_length_offset(data):
    res = glmspec.fit("count ~ x", data, "poisson", offset="off")
    with pytest.raises(GLMSpecError, match="offset"):
        res.predict(data.iloc[:5], offset=np.zeros(3))


@pytest.mark.parametrize(
    "call",
    [
        lambda res: res.predict(which="median"),
        lambda res: res.conf_int(alpha=1.5),
        lambda res: res.pseudo_rsquared("r2"),
    ],
    ids=["predict-which", "conf_int-alpha", "pseudo_rsquared-kind"],
)
def test_bad_result_method_arguments_raise_glmspec_error(fitted, call, request):
    option = {"predict-which": "which .*'median'", "conf_int-alpha": "alpha .*1.5"}
    name = option.get(request.node.callspec.id, "kind .*'r2'")
    with pytest.raises(GLMSpecError, match=name):
        call(fitted)
