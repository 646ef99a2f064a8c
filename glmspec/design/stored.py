"""A fitted design as plain data (JSON), and the design rebuilt from it without the data.

:func:`design_to_data` turns a patsy ``DesignInfo`` into lists, strings and numbers: each
factor's code, type and levels (in patsy's order), the contrast matrix and column suffixes of
every categorical factor in every term, and the fitted state of the stateful transforms
(``center``'s mean, ``standardize``/``scale``'s mean and sum of squares, the knots of the
splines ``bs``, ``cr`` and ``cc``). :func:`design_from_data` rebuilds an equal ``DesignInfo``
from that data: patsy's own objects, filled with the stored values, so that
:func:`glmspec.design.build.design_matrix` gives the fitted columns from new rows exactly.

The data may come from a report folder written elsewhere, so it is untrusted: every value is
type-checked, numbers must be finite, and every factor's code must be a term of the stored
formula parsed in *safe* mode (:mod:`glmspec.design.formula_check`'s allowlist, evaluated
without Python's builtins). A transform's state is restored only into the allowlisted
transforms' known attributes; nothing is unpickled or evaluated beyond the allowlist. A
design that cannot be stored that way (terms outside the allowlist, a transform whose state
is not known here) raises :class:`~glmspec.errors.PredictionError` saying why.

Long doubles (``center`` sums in ``float128``) are stored as a pair of float64 (value and
remainder), which restores them exactly wherever the platform's long double has at most 106
bits of mantissa.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy as np
import patsy
from patsy.design_info import FactorInfo, SubtermInfo
from patsy.mgcv_cubic_splines import CC, CR
from patsy.splines import BS
from patsy.state import Center, Standardize

from glmspec.design.formula import SAFE_ENV, parse_model_formula
from glmspec.errors import FormulaError, PredictionError

#: Stateful transforms whose fitted state can be stored: class -> {attribute: kind}, kinds
#: "int" (a whole number), "array" (finite numbers, any shape), "array?" (an array or null).
TRANSFORM_STATE: dict[type, dict[str, str]] = {
    Center: {"_sum": "array", "_count": "int"},
    Standardize: {"current_n": "int", "current_mean": "array", "current_M2": "array"},
    BS: {"_degree": "int", "_all_knots": "array"},
    CR: {"_all_knots": "array", "_constraints": "array?"},
    CC: {"_all_knots": "array", "_constraints": "array?"},
}
_TRANSFORM_NAMES = {cls.__name__: cls for cls in TRANSFORM_STATE}


def design_to_data(info: patsy.DesignInfo, formula: str) -> dict[str, Any]:
    """The design of ``formula`` (fitted: ``info``) as JSON-ready data.

    Raises
    ------
    PredictionError
        The formula has terms outside the safe allowlist, or a transform whose state cannot
        be stored; the message says which.
    """
    _safe_codes(formula, "the model's formula")
    factors = list(info.factor_infos)
    index = {factor: i for i, factor in enumerate(factors)}
    factor_data = [_factor_to_data(info.factor_infos[f]) for f in factors]
    terms = []
    for term, codings in info.term_codings.items():
        subterms = []
        for sub in codings:
            contrasts = [
                {
                    "factor": index[factor],
                    "matrix": _finite_list(matrix.matrix, "a contrast matrix"),
                    "suffixes": [str(s) for s in matrix.column_suffixes],
                }
                for factor, matrix in sub.contrast_matrices.items()
            ]
            subterms.append(
                {
                    "factors": [index[f] for f in sub.factors],
                    "contrasts": contrasts,
                    "columns": int(sub.num_columns),
                }
            )
        terms.append({"factors": [index[f] for f in term.factors], "subterms": subterms})
    return {
        "column_names": [str(c) for c in info.column_names],
        "factors": factor_data,
        "terms": terms,
    }


def _factor_to_data(fi: FactorInfo) -> dict[str, Any]:
    factor = fi.factor
    if not isinstance(factor, patsy.EvalFactor):
        raise PredictionError(f"term {factor!r} is not a formula term glmspec can store.")
    out: dict[str, Any] = {"code": factor.code, "type": fi.type}
    if fi.type == "categorical":
        out["levels"] = [_level(v, factor.code) for v in fi.categories]
    else:
        out["columns"] = int(fi.num_columns)
    transforms = {}
    for name, obj in fi.state.get("transforms", {}).items():
        kinds = TRANSFORM_STATE.get(type(obj))
        if kinds is None:
            raise PredictionError(
                f"term {factor.code!r} uses the transform {type(obj).__name__}, whose fitted "
                "state glmspec cannot store as data."
            )
        state = {attr: _state_to_data(getattr(obj, attr), kind) for attr, kind in kinds.items()}
        transforms[name] = {"class": type(obj).__name__, "state": state}
    if transforms:
        out["transforms"] = transforms
    return out


def _level(value: Any, code: str) -> Any:
    """A factor level as JSON: text, a whole number, a finite number or a boolean."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        return value
    raise PredictionError(
        f"factor {code!r} has the level {value!r} ({type(value).__name__}), which JSON cannot "
        "hold exactly."
    )


def _finite_list(values: Any, what: str) -> list:
    array = np.asarray(values, dtype=float)
    if not np.isfinite(array).all():
        raise PredictionError(f"{what} has a non-finite value.")
    return array.tolist()


def _state_to_data(value: Any, kind: str) -> Any:
    if kind == "int":
        return int(value)
    if value is None and kind == "array?":
        return None
    array = np.asarray(value)
    high = array.astype(np.float64)
    low = (array - high).astype(np.float64)  # what float64 drops of a long double
    out = {"shape": list(array.shape), "values": _finite_list(high.ravel(), "a transform")}
    if array.dtype != np.float64 and np.any(low):
        out["low"] = _finite_list(low.ravel(), "a transform")
    if array.dtype == np.longdouble and array.dtype != np.float64:
        out["long"] = True
    return out


# -- rebuilding ----------------------------------------------------------------------------


def _safe_codes(formula: Any, where: str) -> set[str]:
    """The factor codes of the formula's right-hand side, the formula checked in safe mode."""
    if not isinstance(formula, str):
        raise PredictionError(f"{where} must be text.")
    try:
        desc = parse_model_formula(formula, "safe")
    except FormulaError as exc:
        raise PredictionError(
            f"{where} uses terms outside the safe allowlist: {' '.join(str(exc).split())}"
        ) from None
    return {f.code for term in desc.rhs_termlist for f in term.factors}


def design_from_data(data: Any, formula: str, where: str = "design") -> patsy.DesignInfo:
    """The ``DesignInfo`` stored by :func:`design_to_data`, validated.

    Parameters
    ----------
    data : dict
        As :func:`design_to_data` made it (read from JSON: untrusted).
    formula : str
        The model's formula; every stored factor must be one of its (safe) terms.
    where : str
        How messages name the data (e.g. ``"model.json, model 'base', design"``).

    Raises
    ------
    PredictionError
        Anything malformed: the message names the key and the problem.
    """
    codes = _safe_codes(formula, f"{where}: formula")
    data = checked_mapping(data, where, ("column_names", "factors", "terms"))
    names = checked_list(data["column_names"], f"{where}.column_names")
    if not all(isinstance(n, str) for n in names):
        raise PredictionError(f"{where}.column_names must be a list of text.")
    factor_list = checked_list(data["factors"], f"{where}.factors")
    factor_infos = [
        _factor_from_data(item, codes, f"{where}.factors[{i}]")
        for i, item in enumerate(factor_list)
    ]
    factors = [fi.factor for fi in factor_infos]
    term_codings: OrderedDict = OrderedDict()  # patsy requires an OrderedDict
    for t, term_data in enumerate(checked_list(data["terms"], f"{where}.terms")):
        at = f"{where}.terms[{t}]"
        term_data = checked_mapping(term_data, at, ("factors", "subterms"))
        term = patsy.Term([factors[i] for i in _indices(term_data["factors"], factors, at)])
        subterms = []
        for s, sub in enumerate(checked_list(term_data["subterms"], f"{at}.subterms")):
            subterms.append(_subterm(sub, factors, f"{at}.subterms[{s}]"))
        term_codings[term] = subterms
    try:
        return patsy.DesignInfo(
            names,
            factor_infos={fi.factor: fi for fi in factor_infos},
            term_codings=term_codings,
        )
    except (ValueError, TypeError, patsy.PatsyError) as exc:
        raise PredictionError(f"{where} is inconsistent: {' '.join(str(exc).split())}") from None


def _factor_from_data(item: Any, codes: set[str], at: str) -> FactorInfo:
    item = checked_mapping(item, at, ("code", "type"), optional=("levels", "columns", "transforms"))
    code = item["code"]
    if not isinstance(code, str) or code not in codes:
        raise PredictionError(f"{at}.code {code!r} is not a term of the model's formula.")
    factor = patsy.EvalFactor(code)
    state: dict[str, Any] = {}
    factor.memorize_passes_needed(state, SAFE_ENV)
    stored = item.get("transforms", {})
    if not isinstance(stored, dict) or set(stored) != set(state["transforms"]):
        raise PredictionError(
            f"{at}.transforms must hold the state of {sorted(state['transforms'])} only."
        )
    for name, obj in state["transforms"].items():
        _restore(obj, stored[name], f"{at}.transforms.{name}")
    if item["type"] == "categorical":
        levels = checked_list(item.get("levels"), f"{at}.levels")
        for level in levels:
            if not isinstance(level, (str, int, float, bool)) or (
                isinstance(level, float) and not math.isfinite(level)
            ):
                raise PredictionError(f"{at}.levels must hold text, numbers or booleans.")
        if len(set(map(repr, levels))) != len(levels) or not levels:
            raise PredictionError(f"{at}.levels must be distinct and not empty.")
        return FactorInfo(factor, "categorical", state, categories=tuple(levels))
    if item["type"] == "numerical":
        columns = item.get("columns")
        if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
            raise PredictionError(f"{at}.columns must be a positive whole number.")
        return FactorInfo(factor, "numerical", state, num_columns=columns)
    raise PredictionError(f"{at}.type must be 'categorical' or 'numerical'.")


def _restore(obj: Any, stored: Any, at: str) -> None:
    """Set the allowlisted attributes of a fresh transform from the stored state."""
    stored = checked_mapping(stored, at, ("class", "state"))
    kinds = TRANSFORM_STATE.get(type(obj))
    if kinds is None or _TRANSFORM_NAMES.get(stored["class"]) is not type(obj):
        raise PredictionError(f"{at}.class must be {type(obj).__name__!r}.")
    state = checked_mapping(stored["state"], f"{at}.state", tuple(kinds))
    for attr, kind in kinds.items():
        setattr(obj, attr, _state_from_data(state[attr], kind, f"{at}.state.{attr}"))


def _state_from_data(value: Any, kind: str, at: str) -> Any:
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise PredictionError(f"{at} must be a whole number.")
        return value
    if value is None and kind == "array?":
        return None
    value = checked_mapping(value, at, ("shape", "values"), optional=("low", "long"))
    shape = checked_list(value["shape"], f"{at}.shape")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise PredictionError(f"{at}.shape must be a list of whole numbers.")
    array = checked_numbers(value["values"], f"{at}.values")
    if array.size != math.prod(shape):
        raise PredictionError(f"{at}.values does not have the shape {shape}.")
    if value.get("long", False) is True:
        array = array.astype(np.longdouble)
    if "low" in value:
        low = checked_numbers(value["low"], f"{at}.low")
        if low.size != array.size:
            raise PredictionError(f"{at}.low does not have the shape {shape}.")
        array = array + low.astype(array.dtype)
    return array.reshape(shape)


def _subterm(sub: Any, factors: list, at: str) -> SubtermInfo:
    sub = checked_mapping(sub, at, ("factors", "contrasts", "columns"))
    members = [factors[i] for i in _indices(sub["factors"], factors, at)]
    contrasts = {}
    for c, item in enumerate(checked_list(sub["contrasts"], f"{at}.contrasts")):
        where = f"{at}.contrasts[{c}]"
        item = checked_mapping(item, where, ("factor", "matrix", "suffixes"))
        (index,) = _indices([item["factor"]], factors, where)
        matrix = checked_numbers(item["matrix"], f"{where}.matrix")
        suffixes = checked_list(item["suffixes"], f"{where}.suffixes")
        if matrix.ndim != 2 or not all(isinstance(s, str) for s in suffixes):
            raise PredictionError(f"{where} must hold a matrix and its column suffixes.")
        contrasts[factors[index]] = patsy.ContrastMatrix(matrix, suffixes)
    columns = sub["columns"]
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 0:
        raise PredictionError(f"{at}.columns must be a whole number.")
    try:
        return SubtermInfo(members, contrasts, columns)
    except (ValueError, TypeError, patsy.PatsyError) as exc:
        raise PredictionError(f"{at} is inconsistent: {' '.join(str(exc).split())}") from None


# -- checked JSON values -------------------------------------------------------------------


def checked_mapping(value: Any, at: str, required=(), optional=()) -> dict:
    """An object from untrusted JSON with the ``required`` keys and no others but
    ``optional`` ones."""
    if not isinstance(value, dict):
        raise PredictionError(f"{at} must be an object.")
    absent = [k for k in required if k not in value]
    unknown = [k for k in value if k not in required and k not in optional]
    if absent or unknown:
        problem = f"lacks {absent}" if absent else f"has unknown key(s) {unknown}"
        raise PredictionError(f"{at} {problem}.")
    return value


def checked_list(value: Any, at: str) -> list:
    """A list from untrusted JSON."""
    if not isinstance(value, list):
        raise PredictionError(f"{at} must be a list.")
    return value


def _indices(values: Any, factors: list, at: str) -> list[int]:
    values = checked_list(values, f"{at}.factors")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in values) or not all(
        0 <= i < len(factors) for i in values
    ):
        raise PredictionError(f"{at}.factors must be positions in the factor list.")
    return values


_NUMBER_TYPES = (int, float)


def checked_numbers(value: Any, at: str) -> np.ndarray:
    """Finite numbers (nested lists of equal lengths) as a float64 array."""

    def flat(v: list) -> bool:
        # type(), not isinstance: a bool is not a number here
        if all(type(x) in _NUMBER_TYPES for x in v):
            return True
        return all(flat(x) if type(x) is list else type(x) in _NUMBER_TYPES for x in v)

    if not isinstance(value, list) or not flat(value):
        raise PredictionError(f"{at} must be a list of numbers.")
    try:
        array = np.array(value, dtype=float)
    except ValueError:
        raise PredictionError(f"{at} must be a rectangular list of numbers.") from None
    if not np.isfinite(array).all():
        raise PredictionError(f"{at} must hold finite numbers only.")
    return array
