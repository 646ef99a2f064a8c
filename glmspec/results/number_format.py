"""Numbers formatted a column at a time, as R prints them.

R formats a vector with one common layout: the same number of decimals for every element, or
scientific notation for all of them when fixed notation would be wider (``format.default``,
``formatReal`` in R's ``src/main/format.c``). Coefficient tables go through ``printCoefmat``
(``src/library/stats/R/anova.R``), p-values through ``format.pval``
(``src/library/base/R/format.R``). The functions here follow those three, so a summary or a
report table reads as R's ``summary.glm`` does:

* :func:`format_column` is ``format(x, digits=)``;
* :func:`format_pvalues` is ``format.pval(pv, digits=, eps=)`` (``< 2e-16`` below machine epsilon);
* :func:`format_estimates`, :func:`format_statistics` are ``printCoefmat``'s treatment of its
  estimate/standard-error columns and of its test-statistic column.

Every function takes a sequence of numbers (``None`` and NaN are missing, printed ``NA``) and
returns one string per value; they are meant for any table (coefficients, anova, drop1, emmeans).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: R's ``.Machine$double.eps``: p-values below it print as ``< 2e-16`` (``format.pval``'s eps).
EPS = float(np.finfo(float).eps)
#: ``summary.glm``'s print digits: ``max(3, getOption("digits") - 3)`` with the default 7.
COEF_DIGITS = 4
#: ``printCoefmat``'s ``dig.tst = max(1, min(5, digits - 1))``, also the p-value digits.
TEST_DIGITS = 3
NA = "NA"


def _values(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _layout(x: float, digits: int) -> tuple[int, int, int]:
    """R's ``scientific()``: (is negative, power of ten, significant digits needed <= digits)."""
    if x == 0:
        return 0, 0, 1
    mantissa, exponent = f"{abs(x):.{digits - 1}e}".split("e")
    nsig = len(mantissa.replace(".", "").rstrip("0")) or 1
    return int(x < 0), int(exponent), nsig


def format_column(values: Sequence[float | None], digits: int = 7) -> list[str]:
    """``format(values, digits=digits)`` in R: one layout for the whole column.

    Each value needs at most ``digits`` significant digits; the column gets the largest number
    of decimals any value needs, or scientific notation (the same mantissa digits for every
    value) when that is narrower than fixed notation, R's rule with ``scipen = 0``.

    Parameters
    ----------
    values : sequence of float or None
    digits : int
        Significant digits (R's ``digits``).

    Returns
    -------
    list of str
        ``NA`` for None/NaN, ``Inf``/``-Inf`` for infinities.
    """
    x = _values(values)
    finite = np.isfinite(x)
    if not finite.any():
        return [_special(v) for v in x]
    layouts = [_layout(v, digits) for v in x[finite]]
    neg = max(s for s, _, _ in layouts)
    lefts = [k + 1 for _, k, _ in layouts]
    rgt = max(0, max(n - (k + 1) for _, k, n in layouts))
    mxsl = max(
        s + (left if left > 0 else 1) for (s, _, _), left in zip(layouts, lefts, strict=True)
    )
    if max(lefts) < 0:
        mxsl = 1 + neg
    fixed_width = mxsl + rgt + (rgt != 0)
    exp_digits = 2 if max(lefts) > 100 or min(lefts) <= -99 else 1
    mantissa = max(n for _, _, n in layouts) - 1
    sci_width = neg + (mantissa > 0) + mantissa + 4 + exp_digits
    if fixed_width <= sci_width:
        return [f"{v:.{rgt}f}" if np.isfinite(v) else _special(v) for v in x]
    return [f"{v:.{mantissa}e}" if np.isfinite(v) else _special(v) for v in x]


def _special(v: float) -> str:
    if np.isnan(v):
        return NA
    return "Inf" if v > 0 else "-Inf"


def format_pvalues(
    values: Sequence[float | None], digits: int = TEST_DIGITS, eps: float = EPS
) -> list[str]:
    """``format.pval(values, digits=digits, eps=eps)`` in R.

    Values below ``eps`` print as ``< 2e-16`` (``<2e-16`` when the other p-values are at most
    6 characters wide, as R); the others are formatted together with ``digits`` significant
    digits, those of 1e-4 and above separately from the smaller ones (scientific).
    """
    x = _values(values)
    out = [NA] * len(x)
    ok = ~np.isnan(x)
    small = ok & (x < eps)
    rest = ok & ~small
    shown: list[str] = []
    if rest.any():
        expo = np.floor(np.log10(np.where(x > 0, x, 1e-50)))
        fixp = rest & ((expo >= -3) | (x == 0))
        for group in (fixp, rest & ~fixp):
            if group.any():
                texts = format_column(x[group], digits)
                for i, text in zip(np.flatnonzero(group), texts, strict=True):
                    out[i] = text
                shown += texts
    if small.any():
        eps_digits = max(1, digits - 2)
        if shown:
            width = max(len(s) for s in shown)
            if eps_digits > 1 and eps_digits + 6 > width:
                eps_digits = max(1, width - 7)
            sep = "" if eps_digits == 1 and width <= 6 else " "
        else:
            sep = "" if eps_digits == 1 else " "
        text = "<" + sep + format_column([eps], eps_digits)[0]
        for i in np.flatnonzero(small):
            out[i] = text
    return out


def format_estimates(
    columns: Sequence[Sequence[float | None]], digits: int = COEF_DIGITS
) -> list[list[str]]:
    """Estimate-like columns (estimates, standard errors, interval bounds), ``printCoefmat``.

    The columns share one layout: rounded to ``max(1, digits - d)`` decimals, where ``d`` is
    the number of digits before the decimal point of the smallest nonzero absolute value
    (R's ``max(1, digits - digmin)`` over both ends of the range), then formatted together with
    ``digits`` significant digits. A nonzero value that rounds to zero is shown on its own with
    ``digits - 1`` significant digits (R's ``not.both.0`` fix), so no estimate prints as a
    misleading 0.
    """
    arrays = [_values(c) for c in columns]
    cells = np.concatenate(arrays) if arrays else np.array([])
    magnitudes = np.abs(cells[np.isfinite(cells) & (cells != 0)])
    digmin = 1 + (math.floor(math.log10(magnitudes.min())) if magnitudes.size else 0)
    rounded = np.round(cells, max(1, digits - digmin)) + 0.0  # R prints -0 as 0
    texts = format_column(rounded, digits)
    for i, (value, text) in enumerate(zip(cells, texts, strict=True)):
        if np.isfinite(value) and value != 0 and float(text) == 0:
            texts[i] = format_column([value], max(1, digits - 1))[0]
    out, start = [], 0
    for array in arrays:
        out.append(texts[start : start + len(array)])
        start += len(array)
    return out


def format_statistics(
    values: Sequence[float | None], digits: int = COEF_DIGITS, dig_tst: int = TEST_DIGITS
) -> list[str]:
    """Test statistics (z, t, F, chi-square), ``printCoefmat``'s ``format(round(x, dig.tst),
    digits=digits)``: at most ``dig_tst`` decimals, a common layout."""
    x = _values(values)
    return format_column(np.round(x, dig_tst) + 0.0, digits)  # R prints -0 as 0


def format_table(
    rows: Sequence[dict],
    *,
    estimates: Sequence[Sequence[str]] = (),
    statistics: Sequence[str] = (),
    pvalues: Sequence[str] = (),
    numbers: Sequence[str] = (),
    digits: int = COEF_DIGITS,
    number_digits: int = 7,
) -> list[dict[str, str]]:
    """Format the columns of a table given as row dicts, each column with one layout.

    Parameters
    ----------
    rows : sequence of dict
        Column name -> number (or None). A column missing from a row counts as missing.
    estimates : sequence of sequences of str
        Groups of columns that share one layout (:func:`format_estimates`), e.g.
        ``[("estimate", "bse"), ("lower", "upper")]``.
    statistics, pvalues : sequence of str
        Test-statistic columns (:func:`format_statistics`) and p-value columns
        (:func:`format_pvalues`).
    numbers : sequence of str
        Other numeric columns, each :func:`format_column` with ``number_digits``; integers
        (degrees of freedom, counts) print as integers.
    digits : int
        Significant digits of estimates and statistics (R's ``digits`` of ``printCoefmat``).
    number_digits : int

    Returns
    -------
    list of dict
        One dict per row: column name -> text (only the columns named).
    """
    out: list[dict[str, str]] = [{} for _ in rows]

    def column(name: str) -> list[float | None]:
        return [row.get(name) for row in rows]

    def put(name: str, texts: Sequence[str]) -> None:
        for shown, text in zip(out, texts, strict=True):
            shown[name] = text

    for group in estimates:
        for name, texts in zip(
            group, format_estimates([column(n) for n in group], digits), strict=True
        ):
            put(name, texts)
    for name in statistics:
        put(name, format_statistics(column(name), digits))
    for name in pvalues:
        put(name, format_pvalues(column(name)))
    for name in numbers:
        values = column(name)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            put(name, [str(int(v)) for v in values])
        else:
            put(name, format_column(values, number_digits))
    return out
