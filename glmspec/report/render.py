"""Render the report tables to HTML, Markdown and JSON.

The templates in ``templates/`` only format values that :func:`glmspec.report.build_tables`
computed. Table columns are formatted a column at a time as R prints them
(:func:`glmspec.results.number_format.format_table`: one layout per column, p-values as
``format.pval``), single values through :func:`glmspec.results.summary.format_number`. The HTML
page is self-contained: CSS
inline, plots embedded as base64 PNG data URIs, no scripts and no external resources. The
HTML template is autoescaped; the Markdown template escapes table cells with ``md_cell``.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from glmspec.report.plots import Plot
from glmspec.report.values import json_ready
from glmspec.results.number_format import format_table
from glmspec.results.summary import format_number, format_pvalue
from glmspec.version import __version__

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: Significant digits of estimates and statistics in the tables.
DIGITS = 6
#: Significant digits of the two sides of the statsmodels check.
CHECK_DIGITS = 10


def fmt_number(value: Any, digits: int = DIGITS) -> str:
    """A table cell: ``NA`` for missing, ``yes``/``no`` for booleans, else ``format_number``."""
    if value is None:
        return "NA"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format_number(value, digits)


def fmt_pvalue(value: Any) -> str:
    """A p-value cell via ``format_pvalue`` (``<1e-16`` below machine precision)."""
    return "NA" if value is None else format_pvalue(value)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split()).replace("|", r"\|")


def md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, no raw HTML tags."""
    return _one_line(value).replace("<", "&lt;")


def md_code(value: Any) -> str:
    """An inline code span (HTML is literal there) that survives backticks and pipes."""
    text = _one_line(value)
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@functools.cache  # one per process: it keeps the compiled templates
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=fmt_number, pval=fmt_pvalue, md=md_cell, code=md_code)
    env.globals.update(DIGITS=DIGITS, CHECK_DIGITS=CHECK_DIGITS, version=__version__)
    return env


def compile_templates() -> None:
    """Compile every report template now, so that rendering finds them compiled.

    Compiling them costs about 0.25 s per process, as much as rendering a report; ``glmspec
    run`` does it on a background thread while the models fit
    (:func:`glmspec.cli.commands.fit_and_report`).
    """
    env = _environment()
    for name in env.list_templates():
        env.get_template(name)


#: Column formats of the coefficient table: estimate-like groups share one layout.
COEFFICIENT_FORMAT: dict[str, Any] = {
    "estimates": [
        ("estimate", "bse"),
        ("lower", "upper"),
        ("exp_estimate", "exp_lower", "exp_upper"),
    ],
    "statistics": ["statistic"],
    "pvalues": ["pvalue"],
}
#: Column formats of the comparison tables (information criteria, nested tests).
CRITERIA_FORMAT: dict[str, Any] = {
    "numbers": ["nobs", "llf", "df", "aic", "bic", "deviance", "delta_aic", "delta_bic"],
    "number_digits": DIGITS + 2,
}
TESTS_FORMAT: dict[str, Any] = {
    "numbers": ["df", "deviance", "dispersion", "lr_df"],
    "statistics": ["statistic", "lr_statistic", "f_statistic"],
    "pvalues": ["pvalue", "lr_pvalue", "f_pvalue"],
}


def shown_tables(tables: Mapping[str, Any]) -> dict[str, Any]:
    """The report's tables as text, each column formatted with one layout (R's ``format``).

    Returns
    -------
    dict
        ``coefficients``: model slug -> one dict of texts per coefficient row;
        ``criteria`` and ``tests``: one dict of texts per row of the comparison tables.
    """
    comparison = tables["comparison"]
    return {
        "coefficients": {
            m["slug"]: format_table(m["coefficients"], **COEFFICIENT_FORMAT)
            for m in tables["models"]
        },
        "criteria": format_table(comparison["models"], **CRITERIA_FORMAT),
        "tests": format_table(comparison["tests"], **TESTS_FORMAT),
        "overdispersion": format_table(
            comparison.get("overdispersion_tests", []),
            numbers=["theta"],
            statistics=["statistic"],
            pvalues=["pvalue"],
        ),
    }


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for ``png``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def plot_file(slug: str, key: str) -> str:
    """Path of a plot relative to the report folder: ``plots/<model>_<key>.png``."""
    return f"plots/{slug}_{key}.png"


def _figures(
    tables: Mapping[str, Any], plots: Mapping[str, Sequence[Plot]], inline: bool
) -> dict[str, list[dict[str, str]]]:
    out = {}
    for model in tables["models"]:
        slug = model["slug"]
        out[slug] = [
            {
                "key": p.key,
                "title": p.title,
                "caption": p.caption,
                "src": data_uri(p.png) if inline else plot_file(slug, p.key),
            }
            for p in plots.get(slug, ())
        ]
    return out


def render_html(tables: Mapping[str, Any], plots: Mapping[str, Sequence[Plot]]) -> str:
    """The self-contained ``index.html``.

    Parameters
    ----------
    tables : dict
        Output of :func:`glmspec.report.build_tables`.
    plots : dict
        Model slug -> list of :class:`~glmspec.report.plots.Plot`, embedded as data URIs.
    """
    template = _environment().get_template("report.html.j2")
    return template.render(
        t=tables, shown=shown_tables(tables), figures=_figures(tables, plots, inline=True)
    )


def render_markdown(tables: Mapping[str, Any], plots: Mapping[str, Sequence[Plot]]) -> str:
    """``index.md``, referencing the plots as ``plots/<model>_<key>.png`` beside it."""
    template = _environment().get_template("report.md.j2")
    return template.render(
        t=tables, shown=shown_tables(tables), figures=_figures(tables, plots, inline=False)
    )


def results_json(tables: Mapping[str, Any], plots: Mapping[str, Sequence[Plot]]) -> str:
    """``results.json``: every number of the report at full precision, NaN/inf as null.

    Per model (keyed by name): ``entry`` options, ``status``, ``error``, ``info``,
    ``coefficients`` (term -> estimate, bse, statistic, pvalue, lower, upper and, for log
    and logit links, exp_estimate, exp_lower, exp_upper; multinomial: class -> term -> ...),
    ``coefficient_labels``, ``fit_statistics`` (key -> value), ``check``, ``conventions``,
    ``warnings``, ``inference`` (the optional profile intervals, drop1 and marginal-means tables
    of :mod:`glmspec.report.inference_tables`, or None) and ``plots`` (file and caption). Then
    ``comparison``.
    """
    models: dict[str, Any] = {}
    for model in tables["models"]:
        key = model["name"] if model["name"] not in models else model["slug"]
        models[key] = {
            "slug": model["slug"],
            "entry": model["entry"],
            "status": model["status"],
            "error": model["error"],
            "data_rows": model["data_rows"],
            "info": model["info"],
            "coefficients": _coefficient_mapping(model["coefficients"]),
            "coefficient_labels": model.get("coef_columns"),
            "fit_statistics": {r["key"]: r["value"] for r in model.get("fit_statistics", [])},
            "check": model["check"],
            "conventions": model.get("conventions", []),
            "warnings": model["warnings"],
            "inference": model.get("inference"),
            "plots": [
                {"key": p.key, "file": plot_file(model["slug"], p.key), "caption": p.caption}
                for p in plots.get(model["slug"], ())
            ],
        }
    document = {
        "generator": f"glmspec {__version__}",
        "title": tables["title"],
        "spec": tables["spec"],
        "banner": tables["banner"],
        "models": models,
        "comparison": tables["comparison"],
    }
    return json.dumps(json_ready(document), indent=2, allow_nan=False) + "\n"


_COEF_FIELDS = (
    "estimate",
    "bse",
    "statistic",
    "pvalue",
    "lower",
    "upper",
    "exp_estimate",
    "exp_lower",
    "exp_upper",
)


def _coefficient_mapping(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """term -> values, or class -> term -> values for the multinomial."""
    out: dict[str, Any] = {}
    for row in rows:
        values = {k: row[k] for k in _COEF_FIELDS if k in row}
        target = out if row["class"] is None else out.setdefault(row["class"], {})
        target[row["term"]] = values
    return out
