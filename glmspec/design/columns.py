"""The data's columns before patsy sees them: a DataFrame, the used columns with text as
Categoricals, missing values per column, and weight, offset and exposure columns or arrays.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd

from glmspec.design import formula_parse
from glmspec.design.textcolumns import (
    is_text_column,
)
from glmspec.errors import (
    DataError,
    PredictionError,
    suggest,
)


def as_frame(data: Any, what: str = "data") -> pd.DataFrame:
    """``data`` as a pandas DataFrame (never a copy of a DataFrame), or a :class:`DataError`
    saying what ``data`` must be.

    DataFrames of other libraries (polars, pyarrow tables, anything with ``to_pandas()`` or
    the DataFrame interchange protocol ``__dataframe__``) are converted; ``None``, a path and
    a numpy array are refused with the way to pass them.
    """
    if isinstance(data, pd.DataFrame):
        frame = data
    elif data is None or isinstance(data, (str, os.PathLike, np.ndarray)):
        raise DataError(not_a_table(data, what))
    elif hasattr(data, "to_pandas") or hasattr(data, "__dataframe__"):
        frame = converted(data, what)
    else:
        try:
            frame = pd.DataFrame(data)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{what} must be a pandas DataFrame or a mapping of column names to values, "
                f"got {type(data).__name__}: {exc}"
            ) from exc
    if frame.shape[0] == 0:
        raise DataError(f"{what} has no rows.")
    return frame


def not_a_table(data: Any, what: str) -> str:
    """Why ``None``, a path or an array is not ``data``, and what to pass instead."""
    need = f"{what} must be a pandas DataFrame (or a mapping of column names to values)"
    if data is None:
        return f"{what} is None; {need} holding the formula's columns."
    if isinstance(data, np.ndarray):
        return (
            f"{what} is a numpy array; {need} with named columns: pd.DataFrame(array, "
            "columns=[...]); or fit arrays without a formula with glmspec.fit_arrays(y, X)."
        )
    path = str(data)
    reader = "pd.read_parquet" if path.lower().endswith(".parquet") else "pd.read_csv"
    return (
        f"{what} is the string {path!r}, not a table; {need}: read the file first, "
        f"{reader}({path!r}), or give the path to the command line: glmspec fit FORMULA "
        f"--data {path}."
    )


def converted(data: Any, what: str) -> pd.DataFrame:
    """A polars/pyarrow/interchange-protocol DataFrame as pandas, or a DataError."""
    kind = f"{type(data).__module__.split('.')[0]}.{type(data).__name__}"
    try:
        if hasattr(data, "to_pandas"):  # polars, pyarrow
            frame = data.to_pandas()
        else:
            with warnings.catch_warnings():
                # pandas 3 deprecates the protocol; it is still the common ground of libraries
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                frame = pd.api.interchange.from_dataframe(data)
    except Exception as exc:  # noqa: BLE001 - any converter failure means "pass pandas"
        raise DataError(
            f"{what} is a {kind}, which could not be converted to pandas ({exc}); pass a "
            "pandas DataFrame."
        ) from exc
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what} is a {kind}, not a table; pass a pandas DataFrame.")
    return frame


def with_categoricals(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A shallow copy of the used columns with strings turned into sorted Categoricals."""
    out = frame[columns].copy(deep=False)
    for name in columns:
        if is_text_column(out[name]):
            out[name] = pd.Categorical(out[name])
    return out


def missing_rows(frame: pd.DataFrame, extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Boolean masks of missing (NaN, None, +-inf) values per column that has any."""
    found = {}
    for name, values in [*frame.items(), *extra.items()]:
        values = pd.Series(values) if not isinstance(values, pd.Series) else values
        dtype = values.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iu":
            continue  # numpy integers hold no missing value
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            mask = ~np.isfinite(values.to_numpy())  # NaN and +-inf in one pass
        else:
            mask = values.isna().to_numpy()
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                mask = mask | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        if mask.any():
            found[str(name)] = mask
    return found


def describe_missing(masks: dict[str, np.ndarray]) -> str:
    """The rows with a missing value and the columns they are in, for messages:
    ``"3 row(s) ('x': 2 row(s), 'w': 1 row(s))"`` (a row missing in two columns counts once)."""
    detail = ", ".join(f"{name!r}: {int(mask.sum())} row(s)" for name, mask in masks.items())
    total = int(np.logical_or.reduce(list(masks.values())).sum())
    return f"{total} row(s) ({detail})"


def column_or_array(value: Any, frame: pd.DataFrame, what: str) -> np.ndarray | None:
    """A weights/offset/exposure argument as floats: a column of ``frame`` or one value per row."""
    if value is None:
        return None
    label = what
    if isinstance(value, str):
        if value not in frame.columns:
            raise DataError(
                f"{what} column {value!r} is not in the data."
                f"{suggest(value, map(str, frame.columns))}"
            )
        label = f"{what} column {value!r}"
        value = frame[value]
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{label} must be numeric: {exc}") from exc
    if array.ndim != 1 or array.shape[0] != frame.shape[0]:
        raise DataError(
            f"{what} has shape {array.shape}; expected one value per row of data "
            f"({frame.shape[0]} rows)."
        )
    return array


def check_numeric(factor, frame: pd.DataFrame) -> None:
    """Raise :class:`PredictionError` if a numeric factor refers to a non-numeric column."""
    for name in formula_parse.names_in(factor.code):
        if name in frame.columns:
            col = frame[name]
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                example = col.dropna().iloc[0] if col.notna().any() else None
                raise PredictionError(
                    f"column {name!r} is numeric in the model ({factor.name()!r}) but the new "
                    f"data holds non-numeric values (e.g. {example!r})."
                )


def check_weights(weights: np.ndarray, what: str = "weights") -> None:
    """Weights must be non-negative and not all zero."""
    if np.any(weights < 0):
        raise DataError(f"{what} must be non-negative; {int((weights < 0).sum())} are negative.")
    if not np.any(weights > 0):
        raise DataError(f"all {what} are zero.")
