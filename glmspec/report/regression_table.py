"""Side-by-side regression table of several fits, as R's ``modelsummary``/``stargazer`` and
statsmodels' ``summary_col``: models as columns, coefficients as rows with their standard
errors (or confidence intervals) under them, then n, log-likelihood, AIC, BIC, deviance and
dispersion.

>>> tab = glmspec.regression_table([small, big], names=["small", "big"])  # doctest: +SKIP
>>> tab.numbers  # doctest: +SKIP
>>> print(tab.to_latex())  # doctest: +SKIP

``tab.numbers`` holds every number (NaN where a model lacks a term); ``to_markdown()``,
``to_html()`` and ``to_latex()`` (booktabs) render it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from glmspec.errors import SpecificationError
from glmspec.inference.dispersion import check_alpha
from glmspec.inference.information import flat_params
from glmspec.results.number_format import NA, format_column, format_estimates

__all__ = ["RegressionTable", "regression_table", "report_section"]

#: Statistics rows under the coefficients: label -> results attribute.
STATISTICS = {
    "n": "nobs",
    "log-likelihood": "llf",
    "AIC": "aic",
    "BIC": "bic",
    "deviance": "deviance",
    "dispersion": "scale",
}
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _labels(series: pd.Series) -> list[str]:
    """Coefficient labels; multinomial ``(class, term)`` pairs as ``"class: term"``."""
    if isinstance(series.index, pd.MultiIndex):
        return [f"{cls}: {term}" for cls, term in series.index]
    return [str(term) for term in series.index]


class RegressionTable:
    """A regression table (see :func:`regression_table`).

    Attributes
    ----------
    numbers : pandas.DataFrame
        Models as columns; rows ``(term, "estimate")`` and ``(term, "std. error")`` (or
        ``(term, "lower")``, ``(term, "upper")``) in first-appearance order across the
        models, then ``(statistic, "")`` for n, log-likelihood, AIC, BIC, deviance and
        dispersion. NaN where a model has no such coefficient or statistic.
    covariance : list of str
        Each model's ``cov_type``.
    """

    def __init__(
        self,
        numbers: pd.DataFrame,
        terms: list[str],
        interval: bool,
        level: float,
        covariance: list[str],
        digits: int,
    ) -> None:
        self.numbers = numbers
        self.terms = terms
        self.interval = interval
        self.level = level
        self.covariance = covariance
        self.digits = digits

    def __repr__(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()

    def _model_texts(self) -> dict[str, list[list[str]]]:
        """Each model column's estimates and standard errors (or interval ends) formatted
        together with one layout, as the report's coefficient tables and ``summary()``
        (R's ``printCoefmat``): the same decimals down a model's column."""
        n = self.numbers
        parts = ("lower", "upper") if self.interval else ("std. error",)
        texts = {}
        for model in n.columns:
            cell = {key: float(value) for key, value in n[model].items()}  # (not .loc per cell)
            groups = [[cell[(t, part)] for t in self.terms] for part in ("estimate", *parts)]
            formatted = format_estimates(groups, self.digits) if self.terms else [[]] * 3
            texts[model] = [["" if c == NA else c for c in group] for group in formatted]
        return texts

    def rows(self) -> list[tuple[str, list[str]]]:
        """The table as text: ``(row label, one cell per model)``, the uncertainty row under
        each coefficient with an empty label; the statistics rows follow."""
        out = []
        by_model = self._model_texts()
        texts = [by_model[m] for m in self.numbers.columns]
        for i, term in enumerate(self.terms):
            out.append((term, [t[0][i] for t in texts]))
            if self.interval:
                cells = [f"[{t[1][i]}, {t[2][i]}]" if t[1][i] else "" for t in texts]
            else:
                cells = [f"({t[1][i]})" if t[1][i] else "" for t in texts]
            out.append(("", cells))
        return out

    def statistics_rows(self) -> list[tuple[str, list[str]]]:
        """``(statistic, cells)`` for n, log-likelihood, AIC, BIC, deviance, dispersion and
        the covariance type, each row with one layout across the models (8 significant
        digits, as ``summary()``: AIC differences matter in the units); a missing value (a
        quasi family's llf) prints as ``NA``."""
        out = []
        for label in STATISTICS:
            values = [float(v) for v in self.numbers.loc[(label, "")]]
            out.append((label, format_column(values, max(self.digits, 8))))
        out.append(("covariance", list(self.covariance)))
        return out

    def _note(self) -> str:
        if self.interval:
            return f"{self.level:.0%} confidence intervals in brackets."
        return "Standard errors in parentheses."

    @property
    def frame(self) -> pd.DataFrame:
        """The table as displayed: a DataFrame of strings."""
        rows = self.rows() + self.statistics_rows()
        return pd.DataFrame(
            [cells for _, cells in rows],
            index=[label for label, _ in rows],
            columns=self.numbers.columns,
        )

    def to_markdown(self) -> str:
        """A pipe table (GitHub-flavoured Markdown) with the note under it."""

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        names = [str(c) for c in self.numbers.columns]
        lines = [line(["", *names]), "|---|" + "---:|" * len(names)]
        lines += [line([f"`{t}`" if t else "", *c]) for t, c in self.rows()]
        lines += [line([t, *c]) for t, c in self.statistics_rows()]
        return "\n".join([*lines, "", self._note()])

    def to_html(self) -> str:
        """An HTML ``<table class="regression-table">`` (escaped), the note in its caption."""
        esc = html.escape
        head = "".join(f'<th class="num">{esc(str(c))}</th>' for c in self.numbers.columns)
        body = []
        for term, cells in self.rows():
            label = f"<code>{esc(term)}</code>" if term else ""
            tds = "".join(f'<td class="num">{esc(c)}</td>' for c in cells)
            body.append(f"<tr><th>{label}</th>{tds}</tr>")
        stats = []
        for label, cells in self.statistics_rows():
            tds = "".join(f'<td class="num">{esc(c)}</td>' for c in cells)
            stats.append(f"<tr><th>{esc(label)}</th>{tds}</tr>")
        return (
            f'<table class="regression-table"><caption>{esc(self._note())}</caption>\n'
            f"<thead><tr><th></th>{head}</tr></thead>\n"
            f"<tbody>\n{chr(10).join(body)}\n</tbody>\n"
            f'<tbody class="statistics">\n{chr(10).join(stats)}\n</tbody>\n</table>'
        )

    def to_latex(self) -> str:
        """A ``booktabs`` tabular (``\\toprule``, ``\\midrule``, ``\\bottomrule``); needs
        ``\\usepackage{booktabs}``. Special characters in names are escaped."""

        def esc(text: str) -> str:
            return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)

        def line(cells: Sequence[str]) -> str:
            return " & ".join(esc(c) for c in cells) + r" \\"

        k = self.numbers.shape[1]
        lines = [
            r"\begin{tabular}{l" + "r" * k + "}",
            r"\toprule",
            line(["", *[str(c) for c in self.numbers.columns]]),
            r"\midrule",
            *[line([t, *c]) for t, c in self.rows()],
            r"\midrule",
            *[line([t, *c]) for t, c in self.statistics_rows()],
            r"\bottomrule",
            r"\multicolumn{" + str(k + 1) + "}{l}{\\footnotesize " + esc(self._note()) + "}",
            r"\end{tabular}",
        ]
        return "\n".join(lines) + "\n"


def regression_table(
    results: Sequence[Any] | Mapping[str, Any],
    names: Sequence[str] | None = None,
    *,
    interval: bool = False,
    alpha: float = 0.05,
    digits: int = 4,
) -> RegressionTable:
    """Side-by-side table of several fits.

    Parameters
    ----------
    results : sequence of results, or mapping name -> results
        Fits from :func:`glmspec.fit` or :func:`glmspec.fit_arrays` (multinomial
        coefficients are labelled ``"class: term"``).
    names : sequence of str, optional
        Column names; default the mapping's keys, else ``(1)``, ``(2)``, ...
    interval : bool
        Show ``[lower, upper]`` confidence intervals (``res.conf_int(alpha)``, Wald, under the
        fit's covariance) under each coefficient instead of its standard error.
    alpha : float
        1 - confidence level of the intervals.
    digits : int
        Significant digits of the printed numbers (``numbers`` keeps full precision).

    Returns
    -------
    RegressionTable

    Raises
    ------
    SpecificationError
        No results, names of the wrong length or repeated, or an object that is not a fit.
    """
    if isinstance(results, Mapping):
        names = list(results) if names is None else names
        results = list(results.values())
    results = list(results)
    if not results:
        raise SpecificationError("regression_table() needs at least one fitted model.")
    for res in results:
        if not hasattr(res, "params") or not hasattr(res, "bse"):
            raise SpecificationError(
                f"regression_table() takes glmspec fits, not {type(res).__name__}."
            )
    names = [f"({i + 1})" for i in range(len(results))] if names is None else list(names)
    if len(names) != len(results) or len(set(names)) != len(names):
        raise SpecificationError(
            f"names must be {len(results)} distinct labels, one per model; got {names!r}."
        )
    check_alpha(alpha)
    columns: dict[str, dict[tuple[str, str], float]] = {}
    terms: list[str] = []
    for name, res in zip(names, results, strict=True):
        params, bse = flat_params(res.params), flat_params(res.bse)
        labels = _labels(params)
        column = {}
        for label, b, se in zip(labels, params.to_numpy(), bse.to_numpy(), strict=True):
            if label not in terms:
                terms.append(label)
            column[(label, "estimate")] = float(b)
            column[(label, "std. error")] = float(se)
        if interval:
            ci = res.conf_int(alpha)
            for label, low, high in zip(labels, ci[0], ci[1], strict=True):
                column[(label, "lower")] = float(low)
                column[(label, "upper")] = float(high)
        for label, attribute in STATISTICS.items():
            value = getattr(res, attribute, None)
            column[(label, "")] = float("nan") if value is None else float(value)
        columns[name] = column
    under = ("lower", "upper") if interval else ("std. error",)
    index = [(t, kind) for t in terms for kind in ("estimate", *under)]
    index += [(label, "") for label in STATISTICS]
    numbers = pd.DataFrame(
        {name: [col.get(key, np.nan) for key in index] for name, col in columns.items()},
        index=pd.MultiIndex.from_tuples(index, names=["row", "kind"]),
    )
    covariance = [str(getattr(res, "cov_type", "nonrobust")) for res in results]
    return RegressionTable(numbers, terms, interval, 1 - alpha, covariance, digits)


def report_section(named: Sequence[tuple[str, Any]]) -> dict[str, Any] | None:
    """The spec report's regression table: ``{"columns", "html", "markdown", "latex"}`` over
    the fitted models (failed fits left out), or None with fewer than two fits."""
    fits = {name: res for name, res in named if res is not None}
    if len(fits) < 2:
        return None
    table = regression_table(fits)
    return {
        "columns": list(fits),
        "html": table.to_html(),
        "markdown": table.to_markdown(),
        "latex": table.to_latex(),
    }
