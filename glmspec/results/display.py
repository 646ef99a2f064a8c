"""Tables that print as R prints them, in a console and in Jupyter.

``res.anova()``, ``res.drop1()``, ``res.emmeans()``, ``glmspec.anova()`` and
``glmspec.compare()`` return an :class:`RTable`: an ordinary ``pandas.DataFrame`` (every
number at full precision, every pandas operation; what pandas derives from it is a plain
DataFrame) that shows itself as R would, column by column (:mod:`.number_format`): p-value
columns as ``format.pval`` (``< 2e-16``), test statistics as ``printCoefmat``, counts as
integers, other numbers with one layout per column (``format(x, digits = 5)``, R's
``print.anova`` digits). ``repr()`` gives the text; Jupyter calls ``_repr_html_``, an HTML table
of the same texts.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from glmspec.results.number_format import (
    NA,
    format_column,
    format_pvalues,
    format_statistics,
)

#: Column names that hold p-values (R's and statsmodels' spellings).
PVALUE_COLUMNS = ("Pr(>Chi)", "Pr(>F)", "Pr(>|z|)", "Pr(>|t|)", "P>|z|", "P>|t|", "pvalue")
#: Column names of test statistics (``print.anova``'s ``tst.i``: "* value", F, Chisq).
STATISTIC_COLUMNS = ("F value", "F", "Chisq", "statistic", "z value", "t value")
#: Significant digits: R's ``print.anova``, ``max(getOption("digits") - 2, 3)``.
DIGITS = 5


def _is_count(x: np.ndarray) -> bool:
    finite = x[np.isfinite(x)]
    return bool(finite.size) and bool(np.all((finite == np.round(finite)) & (abs(finite) < 1e15)))


def _zapsmall(x: np.ndarray, digits: int) -> np.ndarray:
    """R's ``zapsmall(x, digits)`` (R 4.2): rounded to ``digits - log10(max |x|)`` decimals,
    a non-integer that R's ``round`` takes to the nearest whole number, so that a value of
    1e-15 next to 5.45 prints as 0, as a deviance of 1e-15 does in R."""
    finite = np.abs(x[np.isfinite(x)])
    biggest = finite.max() if finite.size else 0.0
    if biggest <= 0:
        return x
    return np.round(x, max(0, int(np.floor(digits - np.log10(biggest) + 0.5)))) + 0.0


def _numbers(x: np.ndarray, digits: int) -> list[str]:
    """``printCoefmat``'s other columns: zapped, one layout, a nonzero never shown as 0."""
    x = _zapsmall(x, digits)  # R compares the zapped values with their texts too
    texts = format_column(x, digits)
    for i, (value, text) in enumerate(zip(x, texts, strict=True)):
        if np.isfinite(value) and value != 0 and text != NA and float(text) == 0:
            texts[i] = format_column([value], max(1, digits - 1))[0]
    return texts


def column_texts(values: pd.Series, name: Any, na: str = NA, digits: int = DIGITS) -> list[str]:
    """One column of a table as R's ``print.anova``/``printCoefmat`` prints it: p-values as
    ``format.pval(digits = digits - 1)``, statistics as ``format(round(x, digits - 1),
    digits)``, degrees of
    freedom and counts as integers, other numbers zapped and formatted together with
    ``digits`` significant digits; ``na`` for a missing value. Text, booleans: as they are."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return ["" if v is None or v is pd.NA else str(v) for v in values]
    x = values.to_numpy(dtype=float, na_value=np.nan)
    label = str(name)
    dig_tst = max(1, min(5, digits - 1))  # printCoefmat's digits of statistics and p-values
    if label in PVALUE_COLUMNS or label.endswith("pvalue"):
        texts = format_pvalues(x, dig_tst)
    elif label in STATISTIC_COLUMNS or label.endswith("statistic"):
        texts = format_statistics(x, digits, dig_tst)
    elif label.endswith("Df") or _is_count(x):
        texts = [NA if np.isnan(v) else str(int(v)) for v in x]
    else:
        texts = _numbers(x, digits)
    return [na if t == NA else t for t in texts]


class RTable(pd.DataFrame):
    """A DataFrame that prints as R does (see the module docstring).

    ``attrs`` keeps what the function that made it stored (the test, the dispersion, ...).
    """

    #: How a missing cell prints: blank, as R's anova tables (``na.print = ""``), or "NA";
    #: the significant digits of the numbers.
    _metadata = ["na_text", "digits"]
    na_text: str = NA
    digits: int = DIGITS

    def texts(self) -> pd.DataFrame:
        """The table as text: a DataFrame of strings with the same index and columns."""
        frame = pd.DataFrame(self)
        na, digits = getattr(self, "na_text", NA), getattr(self, "digits", DIGITS)
        columns = {
            i: column_texts(frame.iloc[:, i], name, na, digits)
            for i, name in enumerate(frame.columns)
        }
        out = pd.DataFrame(columns, index=frame.index)
        out.columns = frame.columns
        return out

    def __repr__(self) -> str:
        return self.texts().to_string()

    def _repr_html_(self) -> str:
        """Jupyter's display: an HTML table of the texts (escaped), numbers right-aligned."""
        texts = self.texts()
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in texts.columns)
        index_name = html.escape(str(texts.index.name or ""))
        rows = []
        for label, row in zip(texts.index, texts.itertuples(index=False), strict=True):
            cells = "".join(f'<td style="text-align:right">{html.escape(v)}</td>' for v in row)
            rows.append(f"<tr><th>{html.escape(str(label))}</th>{cells}</tr>")
        return (
            '<table class="glmspec-table"><thead>'
            f"<tr><th>{index_name}</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


def r_table(frame: pd.DataFrame, na: str = NA, digits: int = DIGITS) -> RTable:
    """``frame`` (not copied: the same data and ``attrs``) as an :class:`RTable` whose
    missing cells print as ``na`` and numbers with ``digits`` significant digits."""
    table = RTable(frame, copy=False)
    table.attrs = dict(frame.attrs)
    table.na_text, table.digits = na, digits
    return table


def shown_as_r(na: str = NA, digits: int = DIGITS) -> Callable:
    """Decorator: the function's DataFrame result becomes an :class:`RTable`."""

    def wrap(function: Callable[..., pd.DataFrame]) -> Callable[..., RTable]:
        @functools.wraps(function)
        def displayed(*args: Any, **kwargs: Any) -> RTable:
            return r_table(function(*args, **kwargs), na, digits)

        return displayed

    return wrap
