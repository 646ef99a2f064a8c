"""Reports of a spec's fits: one self-contained HTML page, Markdown with PNG plots, and JSON.

>>> from glmspec.report import build_tables, write_report
>>> path = write_report(spec, fitted)  # doctest: +SKIP

:func:`build_tables` computes every table once as plain data; :func:`write_report` renders it
(HTML, Markdown, ``results.json`` and plots) and swaps the finished folder into place
atomically.
"""

from glmspec.report.tables import build_tables
from glmspec.report.writer import write_report

__all__ = ["build_tables", "write_report"]
