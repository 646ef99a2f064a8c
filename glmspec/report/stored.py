"""The report's ``model.json``: each fit stored as versioned data, to predict without refitting.

A report folder holds, next to ``results.json``, one ``model.json``: per model its formula,
family and link, the design as :mod:`glmspec.design.stored` writes it (factor levels,
contrasts, the fitted state of ``center``/``standardize``/spline terms), the estimable
coefficients, their covariance, the residual df of t-based intervals and the offset and
exposure columns. :func:`load_models` reads it back as :class:`StoredModel` objects, whose
``predict`` and ``get_prediction`` give what the fitted results give, without the data.

It is JSON, never a pickle: a report folder from elsewhere is untrusted input. Reading checks
the format name and version, every key and type, that numbers are finite and that the
formula's terms pass the safe allowlist; any problem is a
:class:`~glmspec.errors.PredictionError` naming the file, the model and the key. A model that
cannot be stored (a formula outside the allowlist, an offset given as an array, a transform
whose state is not data) is written with ``"available": false`` and the reason, and the
report's model box says so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from glmspec.design.build import design_matrix, incomplete_rows
from glmspec.design.stored import (
    checked_list,
    checked_mapping,
    checked_numbers,
    design_from_data,
    design_to_data,
)
from glmspec.errors import GLMSpecError, PredictionError
from glmspec.families.links import get_link
from glmspec.inference.prediction import predicted_values, prediction_from_arrays
from glmspec.results.base import new_log_exposure, new_offset

FILE = "model.json"
FORMAT = "glmspec-model"
VERSION = 1
_MODEL_KEYS = ("name", "available", "formula", "family", "link", "design", "coef", "cov")
_MODEL_KEYS += ("df", "classes", "offset", "exposure")


def models_json(fitted: list[Any]) -> str:
    """The ``model.json`` document for the fitted models (``FittedModel`` objects)."""
    models = [model_data(fm.entry.name, fm.results) for fm in fitted if fm.results is not None]
    document = {"format": FORMAT, "version": VERSION, "models": models}
    return json.dumps(document, indent=1, allow_nan=False) + "\n"


def model_data(name: str, res: Any) -> dict[str, Any]:
    """One model as data, or ``{"name", "available": False, "reason"}`` when it cannot be."""
    try:
        return {"name": name, "available": True, **_fit_data(res)}
    except GLMSpecError as exc:
        return {"name": name, "available": False, "reason": " ".join(str(exc).split())}
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # a kind of fit this module does not know (another engine's results): the report
        # is still written, and predict says why it cannot use this model
        reason = f"this kind of fit cannot be stored ({type(exc).__name__}: {exc})"
        return {"name": name, "available": False, "reason": " ".join(reason.split())}


def unstored_reason(res: Any) -> str | None:
    """Why ``res`` cannot be stored in ``model.json`` (None when it can)."""
    data = model_data("", res)
    return None if data["available"] else data["reason"]


def _fit_data(res: Any) -> dict[str, Any]:
    spec, design = res.spec, res.design
    info = getattr(design, "design_info", None)
    if info is None or not hasattr(info, "factor_infos"):
        raise PredictionError("the model was not fitted from a formula on a data frame.")
    for option in ("offset", "exposure"):
        value = getattr(spec, option, None)
        if value is not None and not isinstance(value, str):
            raise PredictionError(f"the model was fitted with an {option} array, not a column.")
    multinomial = res.family.is_multiclass
    aliased = set(getattr(res, "aliased", ()) or ())
    estimable = [c not in aliased for c in design.column_names]
    coef = np.asarray(res.record.coef, dtype=float)
    cov = np.asarray(res.cov_params(), dtype=float)
    keep = np.flatnonzero(np.tile(estimable, coef.shape[1] if multinomial else 1))
    cov = cov[np.ix_(keep, keep)]
    link = res.family.link
    return {
        "formula": spec.formula,
        "family": res.family.name,
        "link": None if multinomial else {"name": link.name, "power": getattr(link, "power", None)},
        "design": {**design_to_data(info, spec.formula), "estimable": estimable},
        "coef": coef.tolist(),
        "cov": cov.tolist() if np.isfinite(cov).all() else None,
        "df": None if res.df_inference is None else float(res.df_inference),
        "classes": [_plain(c) for c in res.classes] if multinomial else None,
        "offset": spec.offset,
        "exposure": getattr(spec, "exposure", None),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return value


class StoredModel:
    """A fit rebuilt from ``model.json``; predicts as the fitted results do.

    Attributes
    ----------
    name, formula, family : str
    classes : tuple or None
        The multinomial's classes (reference first).
    offset, exposure : str or None
        The columns of new data read as offset and exposure.
    """

    def __init__(self, data: dict[str, Any], where: str) -> None:
        for key in ("name", "formula", "family"):
            if not isinstance(data[key], str):
                raise PredictionError(f"{where}.{key} must be text.")
        self.name, self.formula, self.family = data["name"], data["formula"], data["family"]
        design = checked_mapping(
            data["design"], f"{where}.design", ("column_names", "factors", "terms", "estimable")
        )
        estimable = checked_list(design.pop("estimable"), f"{where}.design.estimable")
        self.design_info = design_from_data(design, self.formula, f"{where}.design")
        width = len(self.design_info.column_names)
        if len(estimable) != width or not all(isinstance(e, bool) for e in estimable):
            raise PredictionError(f"{where}.design.estimable must hold {width} booleans.")
        self._estimable = np.asarray(estimable, dtype=bool)
        self.classes = None
        if data["classes"] is not None:
            classes = checked_list(data["classes"], f"{where}.classes")
            if len(classes) < 2 or not all(isinstance(c, (str, int, float)) for c in classes):
                raise PredictionError(f"{where}.classes must list two or more levels.")
            self.classes = tuple(classes)
        self._coef = checked_numbers(data["coef"], f"{where}.coef")
        p = int(self._estimable.sum())
        shape = (p,) if self.classes is None else (p, len(self.classes) - 1)
        if self._coef.shape != shape:
            raise PredictionError(f"{where}.coef must have shape {shape}.")
        size = self._coef.size
        self._cov = None
        if data["cov"] is not None:
            self._cov = checked_numbers(data["cov"], f"{where}.cov")
            if self._cov.shape != (size, size):
                raise PredictionError(f"{where}.cov must be a {size} x {size} matrix.")
        self._df = data["df"]
        if self._df is not None and not (
            isinstance(self._df, (int, float)) and math.isfinite(self._df) and self._df > 0
        ):
            raise PredictionError(f"{where}.df must be a positive number or null.")
        self._link = _link(data["link"], self.classes is not None, where)
        self.offset = _column(data["offset"], f"{where}.offset")
        self.exposure = _column(data["exposure"], f"{where}.exposure")

    @property
    def is_multiclass(self) -> bool:
        """A multinomial model (class probabilities), as ``res.family.is_multiclass``."""
        return self.classes is not None

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """The offset and exposure columns new data must hold."""
        return tuple(c for c in (self.offset, self.exposure) if c is not None)

    def incomplete_rows(self, newdata: pd.DataFrame) -> np.ndarray:
        """Rows with a missing value in a column the model reads (R's ``na.exclude``)."""
        return incomplete_rows(self.design_info, newdata, self.extra_columns)

    def _rows(self, newdata: pd.DataFrame) -> tuple[np.ndarray, Any, Any]:
        X = design_matrix(self.design_info, newdata)
        if not self._estimable.all():
            X = X[:, self._estimable]  # aliased columns contribute nothing (R's predict.glm)
        off = new_offset(newdata, None, self.offset, False)
        return X, off, new_log_exposure(newdata, None, self.exposure)

    def predict(self, newdata: pd.DataFrame, which: str = "mean") -> pd.Series | pd.DataFrame:
        """The mean (``"mean"``) or linear predictor (``"linear"``), as the fit's ``predict``."""
        X, off, log_exposure = self._rows(newdata)
        return predicted_values(
            X, off + log_exposure, self._coef, self._link, which, newdata.index, self.classes
        )

    def get_prediction(self, newdata: pd.DataFrame):
        """Standard errors and intervals, as the fit's ``get_prediction``."""
        if self._cov is None:
            raise PredictionError(
                f"model {self.name!r} has no covariance (a penalized fit): no standard errors."
            )
        X, off, log_exposure = self._rows(newdata)
        offset = np.broadcast_to(np.asarray(off + log_exposure, dtype=float), (X.shape[0],))
        return prediction_from_arrays(
            X, offset, self._coef, self._cov, self._link, newdata.index, self._df, self.classes
        )


def _link(data: Any, multinomial: bool, where: str):
    if multinomial:
        if data is not None:
            raise PredictionError(f"{where}.link must be null for a multinomial model.")
        return None
    data = checked_mapping(data, f"{where}.link", ("name", "power"))
    name, power = data["name"], data["power"]
    if power is not None:
        if not isinstance(power, (int, float)) or isinstance(power, bool):
            raise PredictionError(f"{where}.link.power must be a number or null.")
        name = f"power({float(power)!r})"
    if not isinstance(name, str):
        raise PredictionError(f"{where}.link.name must be text.")
    try:
        return get_link(name)
    except GLMSpecError as exc:
        raise PredictionError(f"{where}.link: {' '.join(str(exc).split())}") from None


def _column(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise PredictionError(f"{where} must be a column name or null.")
    return value


def _reject_constant(token: str) -> None:
    raise ValueError(f"{token} is not a JSON number")


def load_models(folder: str | Path, only: str | None = None) -> dict[str, StoredModel | str]:
    """The models of a report folder's ``model.json``: name -> :class:`StoredModel`, or the
    reason the model was not stored; with ``only``, that model alone is rebuilt (the others
    map to None).

    Raises
    ------
    PredictionError
        The file is missing, not JSON, of another format or version, or malformed anywhere;
        the message names the file and the key.
    """
    path = Path(folder) / FILE
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text, parse_constant=_reject_constant)
    except FileNotFoundError:
        raise PredictionError(
            f"{path} does not exist: the folder is not a glmspec report, or one written "
            "before reports stored their models (run glmspec run again)."
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PredictionError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    document = checked_mapping(document, FILE, ("format", "version", "models"))
    if document["format"] != FORMAT:
        raise PredictionError(f"{path} is not a glmspec model file (format {FORMAT!r}).")
    if document["version"] != VERSION or isinstance(document["version"], bool):
        raise PredictionError(
            f"{path} has version {document['version']!r}; this glmspec reads version {VERSION}."
        )
    models: dict[str, StoredModel | str] = {}
    for i, item in enumerate(checked_list(document["models"], f"{FILE}.models")):
        where = f"{FILE}.models[{i}]"
        item = checked_mapping(item, where, ("name", "available"), _MODEL_KEYS + ("reason",))
        name = item["name"]
        if not isinstance(name, str) or name in models:
            raise PredictionError(f"{where}.name must be a distinct text.")
        if item["available"] is False:
            reason = item.get("reason")
            models[name] = reason if isinstance(reason, str) else "not stored"
            continue
        if item["available"] is not True:
            raise PredictionError(f"{where}.available must be true or false.")
        checked_mapping(item, where, _MODEL_KEYS)
        models[name] = (
            None if only not in (None, name) else StoredModel(item, f"{FILE}, model {name!r}")
        )
    return models
