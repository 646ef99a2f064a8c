"""Reports of a spec's fits: one self-contained HTML page, Markdown with PNG plots, and JSON.

>>> from glmspec.report import build_tables, write_report
>>> path = write_report(spec, fitted)  # doctest: +SKIP

:func:`build_tables` computes every table once as plain data; :func:`write_report` renders it
(HTML, Markdown, ``results.json`` and plots) and swaps the finished folder into place
atomically.
"""

from typing import Any

__all__ = ["build_tables", "write_report"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the writer pulls in matplotlib and jinja2 (about 0.5 s), which
    # ``import glmspec`` (it exports ``regression_table`` from this package) should not pay.
    if name == "build_tables":
        from glmspec.report.tables import build_tables

        return build_tables
    if name == "write_report":
        from glmspec.report.writer import write_report

        return write_report
    raise AttributeError(f"module 'glmspec.report' has no attribute {name!r}")
