"""Text columns that look like numbers or dates: refused instead of silently becoming factors.

patsy (and R) turn any text column into a factor with one level per distinct value. That is
right for ``"Mon"``/``"Tue"``, but a numeric column with one stray cell (``"abc"``, a thousands
separator ``"4,706"``, ``"1.2.3"``) or numbers and dates read as text would silently become a
factor with hundreds of levels: a different model from the one written, or a 1 KB
singular-design error. The rule, applied to the distinct non-missing values of each text column
a formula uses outside ``C(...)``:

* more than half of them parse as numbers (:func:`pandas.to_numeric`), or are numbers written
  with thousands separators (``"4,706"``): refused, naming the column and the first values
  that are not numbers;
* otherwise, more than half of them parse as ISO dates or date-times
  (:func:`pandas.to_datetime` with ``format="ISO8601"``): refused, saying that they are dates.

Datetime columns (``datetime64``), which patsy also makes factors, are refused the same way.
Writing ``C(column)`` states the intent to treat the column as a factor and is accepted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import patsy
import patsy.builtins

from glmspec.design import formula_parse
from glmspec.errors import (
    DataError,
)
from glmspec.families import Family, family_class

__all__ = ["datetime_column_problem", "text_values_problem"]

_SHOWN = 5  # offending values named in a message
# a number with thousands separators, "4,706" or "-1,234,567.5": pandas.to_numeric refuses it
_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"


def _as_term(name: str) -> str:
    """How ``name`` is written in a formula: bare when an identifier, else ``Q("name")``."""
    return name if name.isidentifier() else f'Q("{name}")'


def text_values_problem(name: str, values: Sequence[Any]) -> str | None:
    """Why a text column with these distinct values must not become a factor, or None.

    Parameters
    ----------
    name : str
        The column, for the message.
    values : sequence
        Its distinct non-missing values.

    Returns
    -------
    str or None
        A message naming the column, the values and the fix; None when the column is
        ordinary text (labels), which a factor represents correctly.
    """
    if len(values) == 0:
        return None
    text = pd.Index([str(v).strip() for v in values], dtype=object)
    numbers = pd.to_numeric(text, errors="coerce").notna()
    grouped = text.str.fullmatch(_THOUSANDS)
    intent = f"write C({_as_term(name)}) to treat it as a factor on purpose"
    if 2 * int((numbers | grouped).sum()) > len(text):
        others = list(text[~numbers][:_SHOWN])
        if grouped.any():
            return (
                f"column {name!r} holds numbers written with thousands separators (e.g. "
                f"{list(text[grouped][:_SHOWN])}), read as text; as a term it would become a "
                "factor with one level per value. Read the file with thousands=',' (or remove "
                f"the separators), or {intent}."
            )
        if not others:
            shown = list(text[:_SHOWN])
            return (
                f"column {name!r} holds numbers stored as text (e.g. {shown}); as a term it "
                "would become a factor with one level per value. Convert it to numbers "
                f"(pandas.to_numeric), or {intent}."
            )
        return (
            f"column {name!r} is text, but {int(numbers.sum())} of its {len(text)} distinct "
            f"values are numbers; the values that are not: {others}. As a term it would "
            "become a factor with one level per value. Clean the column (stray text, "
            f"thousands separators such as '4,706') so that it reads as numbers, or {intent}."
        )
    with np.errstate(all="ignore"):
        dates = pd.to_datetime(text, errors="coerce", format="ISO8601").notna()
    if 2 * int(dates.sum()) > len(text):
        shown = list(text[dates][:_SHOWN])
        return (
            f"column {name!r} holds dates as text (e.g. {shown}); as a term it would become a "
            "factor with one level per date. Convert it to a number (e.g. the day of the "
            f"year, or days since the first date), or {intent}."
        )
    return None


def datetime_column_problem(name: str) -> str:
    """Why a datetime column must not be a term as it is (patsy makes it a factor of dates)."""
    return (
        f"column {name!r} holds dates (datetime); as a term it would become a factor with one "
        "level per date. Convert it to a number (e.g. the day of the year, or days since the "
        f"first date), or write C({_as_term(name)}) to treat it as a factor on purpose."
    )


# Calls that state the intent to treat their first argument as a factor (R's factor(x) reaches
# here already read as C(x), see formula_parse.parse_formula).
FACTOR_CALLS = ("C",)


def declared_factor(code: str) -> str | None:
    """The column a factor code declares a factor (``C(col, ...)``, ``C(Q("col"))``), or None."""
    try:
        node = ast.parse(code, mode="eval").body
    except SyntaxError:
        return None
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FACTOR_CALLS
        and node.args
    ):
        return None
    first = node.args[0]
    if isinstance(first, ast.Name):
        return first.id
    quoted = (
        isinstance(first, ast.Call)
        and isinstance(first.func, ast.Name)
        and first.func.id == "Q"
        and len(first.args) == 1
        and isinstance(first.args[0], ast.Constant)
        and isinstance(first.args[0].value, str)
    )
    return first.args[0].value if quoted else None


def unstated_factor_columns(desc: patsy.ModelDesc, family: str | type[Family]) -> set[str]:
    """Names a formula reads other than as ``C(column)``: a text column among them becomes a
    factor without the formula saying so. The response of the binomial and multinomial
    families (a factor response is theirs to read) is left out."""
    categorical_response = family_class(family).categorical_response
    factors = formula_parse.formula_factors(desc, response=not categorical_response)
    return formula_parse.factor_names(f for f in factors if declared_factor(f.code) is None)


def check_text_columns(
    desc: patsy.ModelDesc,
    family: str | type[Family],
    levels: dict[str, Any],
    dates: Iterable[str] = (),
) -> None:
    """Refuse text columns of numbers or dates, and datetime columns, that would silently
    become factors.

    Parameters
    ----------
    desc : patsy.ModelDesc
    family : str or Family class
        The family or its name (a family with a ``categorical_response`` may have text).
    levels : dict
        Each used *text* column's distinct non-missing values.
    dates : iterable of str
        The used columns of a datetime dtype.

    Raises
    ------
    DataError
        Naming the column and its offending values (see :mod:`glmspec.design.textcolumns`).
    """
    unstated = unstated_factor_columns(desc, family)
    for name in dates:
        if name in unstated:
            raise DataError(datetime_column_problem(str(name)))
    for name, values in levels.items():
        if name in unstated:
            problem = text_values_problem(str(name), values)
            if problem is not None:
                raise DataError(problem)


def is_text_column(column: pd.Series) -> bool:
    """Whether a column holds text (object or string dtype)."""
    return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)
