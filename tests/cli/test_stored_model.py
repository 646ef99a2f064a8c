"""Predicting from a report's model.json equals predicting from the fitted model.

Reference: each fit's own ``predict``/``get_prediction`` (the stored model must reproduce them
from data alone, to 1e-12 relative; in practice they agree to a few ulps, the BLAS product
being the only difference).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import glmspec
import glmspec.design.build
from glmspec.errors import PredictionError
from glmspec.report.notes import conventions
from glmspec.report.stored import FILE, load_models, model_data, models_json
from glmspec.spec import load_spec

DATASETS = Path(glmspec.datasets.__file__).resolve().parent.parent / "datasets"
SPECS = sorted(DATASETS.glob("*.toml"))


def _stored(tmp_path: Path, fitted) -> dict:
    (tmp_path / FILE).write_text(models_json(fitted))
    return load_models(tmp_path)


def _assert_same(stored, res, data) -> None:
    for which in ("mean", "linear"):
        np.testing.assert_allclose(
            np.asarray(stored.predict(data, which)),
            np.asarray(res.predict(data, which=which)),
            rtol=1e-12,
            atol=0,
        )
    if stored._cov is None:
        return
    ours, theirs = stored.get_prediction(data), res.get_prediction(data)
    if stored.classes is not None:
        np.testing.assert_allclose(ours.se_mean, theirs.se_mean, rtol=1e-12, atol=0)
        return
    np.testing.assert_allclose(ours.linpred, theirs.linpred, rtol=1e-12, atol=0)
    # x' C x: the rounding of the quadratic form is bounded by p eps |x|'|C||x| (the same
    # numbers in another memory layout take another BLAS path), which cancellation can make
    # larger than 1e-12 of the result
    X = np.abs(np.asarray(glmspec.design.build.predict_matrix(res.design, data)))
    X = X[:, ~np.isin(res.design.column_names, list(res.aliased or ()))]
    cov = np.abs(stored._cov)
    bound = 4 * X.shape[1] * np.finfo(float).eps * np.einsum("ij,jk,ik->i", X, cov, X)
    variance_gap = np.abs(ours.se_linpred**2 - theirs.se_linpred**2)
    assert np.all(variance_gap <= bound + 1e-12 * theirs.se_linpred**2)
    assert np.all(ours.conf_int()["lower"] <= ours.predicted_mean)


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: p.stem)
def test_every_bundled_model_predicts_as_the_fit(spec_path, tmp_path):
    spec = load_spec(spec_path)
    fitted = spec.fit(check=False)
    models = _stored(tmp_path, fitted)
    for item in fitted:
        stored = models[item.entry.name]
        assert not isinstance(stored, str), stored
        data = spec.load_data(item.entry)
        _assert_same(stored, item.results, data)


RESTAURANT = glmspec.datasets.load("restaurant_visitors")


def _with_exposure() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = RESTAURANT.assign(
        hours_open=rng.uniform(0.5, 2.0, len(RESTAURANT)),
        baseline=rng.normal(0.0, 0.1, len(RESTAURANT)),
        weekday_code=RESTAURANT["weekday"].map({d: i for i, d in enumerate("MTWRFSU")}),
    )
    return frame


@pytest.mark.parametrize(
    ("formula", "options"),
    [
        # stateful transforms and contrasts: their fitted state comes from the JSON
        (
            "visitors ~ center(hour) + standardize(rain) + scale(temperature) + "
            "C(weekday, Sum) + C(weekday, Helmert):event + np.log(hour + 1)",
            {},
        ),
        (
            "visitors ~ bs(temperature, df=4) + C(weekday, levels=['Tue','Mon','Wed','Thu',"
            "'Fri','Sat','Sun'])",
            {},
        ),
        ("visitors ~ cr(temperature, df=4, constraints='center') + C(weekday, Poly)", {}),
        (
            "visitors ~ cc(temperature, df=5, constraints='center') + I(hour ** 2) + "
            "C(weekday, Treatment('Sun'))",
            {},
        ),
        # offsets and exposure are read from the new data's columns
        ("visitors ~ hour + C(weekday)", {"offset": "baseline"}),
        ("visitors ~ hour + C(weekday)", {"exposure": "hours_open", "offset": "baseline"}),
        ("visitors ~ hour + C(weekday)", {"family": "negative_binomial", "exposure": "hours_open"}),
        # aliased columns (R's singular.ok) contribute nothing, as in the fit's predict
        ("visitors ~ C(weekday) * rain + rain:C(weekday)", {"singular": "drop"}),
        ("visitors ~ hour + C(weekday)", {"link": "power(1/3)"}),
        # factors computed from a text column: their levels are not the column's values
        ('visitors ~ C(weekday == "Sat") + I(weekday == "Sun") + hour', {}),
        ("visitors ~ hour + rain", {"cov_type": "HC1"}),
        ("visitors ~ hour + C(weekday)", {"penalty": "l2", "alpha": 0.01}),
    ],
)
def test_transforms_contrasts_offsets_predict_as_the_fit(formula, options, tmp_path):
    frame = _with_exposure()
    options = {"family": "poisson", **options}
    res = glmspec.fit(formula, frame, formula_mode="safe", **options)
    fitted = [_Fitted("m", res)]
    stored = _stored(tmp_path, fitted)["m"]
    assert not isinstance(stored, str), stored
    new = frame.sample(200, random_state=1)
    _assert_same(stored, res, new)


def test_center_is_restored_from_its_long_double_sum(tmp_path):
    # center() keeps its sum as a long double: stored as value + remainder, restored exactly
    frame = RESTAURANT.assign(x=RESTAURANT["temperature"] * 1e6 + 1 / 3)
    res = glmspec.fit("visitors ~ center(x)", frame, "poisson", formula_mode="safe")
    stored = _stored(tmp_path, [_Fitted("m", res)])["m"]
    np.testing.assert_array_equal(
        stored.predict(frame, "linear").to_numpy(), res.predict(frame, which="linear").to_numpy()
    )


class _Fitted:
    """What ``models_json`` reads of a spec's FittedModel."""

    def __init__(self, name, results):
        self.results = results
        self.entry = type("Entry", (), {"name": name})()


def test_a_formula_outside_the_allowlist_is_not_stored_and_says_why(tmp_path):
    res = glmspec.fit("visitors ~ np.clip(hour, 12, 13)", RESTAURANT, "poisson")
    data = model_data("clipped", res)
    assert data["available"] is False and "allowlist" in data["reason"]
    models = _stored(tmp_path, [_Fitted("clipped", res)])
    assert "allowlist" in models["clipped"]
    # the report's conventions note says so
    notes = {note["topic"]: note["text"] for note in conventions(res)}
    assert "model.json" in notes["prediction"] and "allowlist" in notes["prediction"]
    stored_fit = glmspec.fit("visitors ~ hour", RESTAURANT, "poisson")
    assert "prediction" not in {note["topic"] for note in conventions(stored_fit)}


# -- untrusted model.json: every malformed file is one clear error ------------------------


@pytest.fixture(scope="module")
def document() -> dict:
    res = glmspec.fit(
        "visitors ~ center(hour) + C(weekday) + temperature",
        RESTAURANT,
        "poisson",
        formula_mode="safe",
    )
    return json.loads(models_json([_Fitted("m", res)]))


def _mutate(document: dict, edit) -> dict:
    copy = json.loads(json.dumps(document))
    edit(copy)
    return copy


def _set(path, value):
    """An edit setting ``path`` to ``value``; a text key in a list picks the factor whose code
    it is."""

    def edit(doc):
        target = doc
        for key in path[:-1]:
            if isinstance(target, list) and isinstance(key, str):
                (target,) = [item for item in target if item.get("code") == key]
            else:
                target = target[key]
        target[path[-1]] = value

    return edit


MODEL = ("models", 0)
FACTORS = (*MODEL, "design", "factors")
CENTER = (*FACTORS, "center(hour)", "transforms", "_patsy_stobj0__center__")
BAD = {
    "version": (_set(("version",), 2), "version 2"),
    "format": (_set(("format",), "pickle"), "not a glmspec model file"),
    "coef type": (_set((*MODEL, "coef"), "1,2"), "coef must be a list of numbers"),
    "coef length": (_set((*MODEL, "coef"), [1.0]), "coef must have shape"),
    "infinite": (_set((*MODEL, "coef", 0), 1e999), "Infinity is not a JSON number"),
    "text number": (_set((*MODEL, "cov", 0, 0), "1e999"), "cov must be a list of numbers"),
    "unknown key": (_set((*MODEL, "pickle"), "x"), "unknown key"),
    "code not in formula": (
        _set((*FACTORS, "temperature", "code"), "__import__('os').getcwd()"),
        "is not a term of the model's formula",
    ),
    "unsafe formula": (
        _set((*MODEL, "formula"), "visitors ~ __import__('os').getcwd()"),
        "allowlist",
    ),
    "transform class": (_set((*CENTER, "class"), "BS"), "class must be 'Center'"),
    "transform state": (
        _set((*CENTER, "state", "_count"), "3000"),
        "_count must be a whole number",
    ),
    "transform attribute": (
        _set((*CENTER, "state", "__class__"), 1),
        "unknown key(s) ['__class__']",
    ),
    "link": (_set((*MODEL, "link", "name"), "nonsense"), "link"),
    "levels": (_set((*FACTORS, "C(weekday)", "levels"), []), "levels"),
    "name": (_set((*MODEL, "name"), 7), "name must be"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_model_json_is_refused_naming_the_problem(case, document, tmp_path):
    edit, expected = BAD[case]
    (tmp_path / FILE).write_text(json.dumps(_mutate(document, edit)))
    with pytest.raises(PredictionError, match=None) as info:
        load_models(tmp_path)
    assert expected in str(info.value), str(info.value)


def test_nan_tokens_and_other_files_are_refused(document, tmp_path):
    text = json.dumps(document).replace('"coef": [', '"coef": [NaN, ', 1)
    (tmp_path / FILE).write_text(text)
    with pytest.raises(PredictionError, match="NaN is not a JSON number"):
        load_models(tmp_path)
    (tmp_path / FILE).write_bytes(b"\x80\x04pickle")
    with pytest.raises(PredictionError, match="cannot read"):
        load_models(tmp_path)
    (tmp_path / FILE).unlink()
    with pytest.raises(PredictionError, match="not a glmspec report"):
        load_models(tmp_path)
