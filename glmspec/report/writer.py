"""Write a report folder atomically: ``index.html``, ``index.md``, ``results.json``, ``plots/``.

Everything is built in a hidden staging folder next to the target (same file system), then
swapped into place with two renames: the old report is renamed aside, the new one renamed
into its place, and only then is the old one deleted. A failure while building (a plot or
template raising, a full disk) deletes the staging folder and leaves the previous report
untouched; a failure of the second rename puts the old report back.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from glmspec.errors import SpecificationError
from glmspec.report.plots import Plot, model_plots
from glmspec.report.render import plot_file, render_html, render_markdown, results_json
from glmspec.report.tables import ALPHA, build_tables
from glmspec.spec import FittedModel, Spec

#: Accepted report formats (``md`` is an alias of ``markdown``); JSON is always written.
FORMATS = ("html", "markdown", "json")
_ALIASES = {"md": "markdown", "htm": "html"}


def write_report(
    spec: Spec,
    fitted: Sequence[FittedModel],
    out_dir: str | os.PathLike[str] | None = None,
    formats: Iterable[str] | None = None,
    name: str | None = None,
) -> Path:
    """Write the report of ``fitted`` to ``<out_dir or spec.report_dir>/<name or spec.stem>/``.

    Parameters
    ----------
    spec : Spec
        Title, check settings, ``report_dir``, ``report_formats`` and ``stem``.
    fitted : sequence of FittedModel
        One outcome per model entry; failed fits are reported with their error.
    out_dir : path, optional
        Parent folder of the report; default ``spec.report_dir``. Created when missing.
    formats : iterable of str, optional
        Any of ``"html"``, ``"markdown"`` (``"md"``), ``"json"``; default
        ``spec.report_formats``. ``results.json`` is always written.
    name : str, optional
        Name of the report folder; default ``spec.stem``.

    Returns
    -------
    pathlib.Path
        The report folder, containing ``results.json`` and, as requested, ``index.html``
        (self-contained), ``index.md`` and ``plots/<model>_<plot>.png``.

    Raises
    ------
    glmspec.errors.SpecificationError
        An unknown format.
    Exception
        Whatever failed while building the report; the previous report is then unchanged
        and no partial report is left behind.
    """
    chosen = normalise_formats(spec.report_formats if formats is None else formats)
    root = Path(spec.report_dir if out_dir is None else out_dir)
    root.mkdir(parents=True, exist_ok=True)
    folder = name or spec.stem
    target = root / folder
    staging = _fresh_path(root, f".{folder}.tmp-")
    os.mkdir(staging)
    try:
        _build(staging, spec, list(fitted), chosen)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def normalise_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """Canonical format names in a stable order, ``json`` always included."""
    if isinstance(formats, str):
        formats = [formats]
    chosen = {"json"}
    for name in formats:
        key = _ALIASES.get(str(name).lower(), str(name).lower())
        if key not in FORMATS:
            raise SpecificationError(
                f"unknown report format {name!r}; choose from {', '.join(FORMATS)}."
            )
        chosen.add(key)
    return tuple(f for f in FORMATS if f in chosen)


def _build(folder: Path, spec: Spec, fitted: list[FittedModel], formats: tuple[str, ...]) -> None:
    """Write every file of the report into ``folder``."""
    tables = build_tables(spec, fitted)
    want_plots = "html" in formats or "markdown" in formats
    plots: dict[str, list[Plot]] = {}
    if want_plots:
        for model, fm in zip(tables["models"], fitted, strict=True):
            if fm.results is not None:
                plots[model["slug"]] = model_plots(fm.results, ALPHA)
    _write_text(folder / "results.json", results_json(tables, plots))
    if "html" in formats:
        _write_text(folder / "index.html", render_html(tables, plots))
    if "markdown" in formats:
        _write_text(folder / "index.md", render_markdown(tables, plots))
    if plots:
        _write_plots(folder, plots)


def _write_plots(folder: Path, plots: dict[str, list[Plot]]) -> None:
    (folder / "plots").mkdir()
    for slug, figures in plots.items():
        for plot in figures:
            (folder / plot_file(slug, plot.key)).write_bytes(plot.png)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def _fresh_path(root: Path, prefix: str) -> Path:
    """A path in ``root`` that does not exist yet (hidden, unique)."""
    while True:
        candidate = root / f"{prefix}{uuid.uuid4().hex[:12]}"
        if not os.path.lexists(candidate):
            return candidate


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; an existing target is moved aside and deleted after."""
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    backup = _fresh_path(target.parent, f".{target.name}.old-")
    os.rename(target, backup)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(backup, target)
        raise
    _remove(backup)


def _remove(path: Any) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        os.unlink(path)
