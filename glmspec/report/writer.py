"""Write a report folder safely: ``index.html``, ``index.md``, ``results.json``, ``plots/``,
and ``model.json`` (each model as data, for ``glmspec predict``: :mod:`glmspec.report.stored`).

Everything is built in a hidden staging folder next to the target (same file system) and
swapped into place by :mod:`glmspec.report.swap`, which replaces an existing target only when
it is a glmspec report (marked by a ``.glmspec-report`` file written with every report), and
swaps atomically, so a failure or a crash at any moment leaves the previous report or the new
one, complete. A failure while building (a plot or template raising, a full disk) deletes the
staging folder and leaves the previous report untouched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from glmspec.errors import ReportTargetError, SpecificationError
from glmspec.report import stored, swap
from glmspec.report.ahead import PlotsAhead
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
    force: bool = False,
    progress: Callable[[str, str], None] | None = None,
    plots_ahead: PlotsAhead | None = None,
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
        Name of the report folder; default ``spec.stem``. One visible folder name.
    force : bool
        Replace an existing folder at the target even when glmspec did not write it (its
        contents are deleted). Never replaces a plain file, a symbolic link, a folder holding
        the spec's input data, or the working directory, the home folder or their parents.
    progress : callable, optional
        Called as ``progress("tables", "")`` before the tables are computed,
        ``progress("plotting", model)`` before each model's plots and
        ``progress("writing", "")`` before the files are written (a progress display).
    plots_ahead : PlotsAhead, optional
        Where the models' plots were started while the run went on
        (:class:`glmspec.report.ahead.PlotsAhead`, at the report's ``ALPHA``); the figures
        are taken from it. Default: drawn here.

    Returns
    -------
    pathlib.Path
        The report folder, containing ``results.json`` and, as requested, ``index.html``
        (self-contained), ``index.md`` and ``plots/<model>_<plot>.png``.

    Raises
    ------
    glmspec.errors.SpecificationError
        An unknown format.
    glmspec.errors.ReportTargetError
        The target may not be replaced (see ``force``), or another run kept it locked; checked
        before anything is built, and nothing is written.
    Exception
        Whatever failed while building the report; the previous report is then unchanged
        and no partial report is left behind.
    """
    chosen = normalise_formats(spec.report_formats if formats is None else formats)
    folder = name or spec.stem
    swap.check_folder_name(folder)
    root = Path(spec.report_dir if out_dir is None else out_dir)
    if root.is_symlink() and not root.is_dir():
        raise ReportTargetError(f"report folder {root} is a broken symbolic link.")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportTargetError(
            f"cannot create the report folder {root}: {exc.strerror or exc}."
        ) from exc
    target = Path(os.path.realpath(root)) / folder
    inputs = _inputs(spec)
    swap.check_target(target, inputs, force)  # refuse before the (slow) build
    try:
        with swap.staging_folder(target.parent, folder) as staging:
            _build(staging, spec, list(fitted), chosen, progress or _quiet, plots_ahead)
            swap.publish(staging, target, inputs, force)
    except OSError as exc:  # a full disk, no permission: say what glmspec was doing
        where = f" ({exc.filename})" if exc.filename else ""
        raise ReportTargetError(
            f"could not write the report {target}: {exc.strerror or exc}{where}; the previous "
            "report is unchanged."
        ) from exc
    return root / folder


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


def _quiet(phase: str, name: str) -> None:
    """No progress display."""


def _build(
    folder: Path,
    spec: Spec,
    fitted: list[FittedModel],
    formats: tuple[str, ...],
    progress,
    ahead: PlotsAhead | None = None,
) -> None:
    """Write every file of the report into ``folder``."""
    progress("tables", "")
    tables = build_tables(spec, fitted)
    want_plots = "html" in formats or "markdown" in formats
    plots: dict[str, list[Plot]] = {}
    if want_plots:
        for model, fm in zip(tables["models"], fitted, strict=True):
            if fm.results is not None:
                progress("plotting", fm.entry.name)
                plots[model["slug"]] = (
                    model_plots(fm.results, ALPHA) if ahead is None else ahead.plots(fm.results)
                )
    progress("writing", "")
    _write_text(folder / "results.json", results_json(tables, plots))
    _write_text(folder / stored.FILE, stored.models_json(fitted))
    if "html" in formats:
        _write_text(folder / "index.html", render_html(tables, plots))
    if "markdown" in formats:
        _write_text(folder / "index.md", render_markdown(tables, plots))
    if tables["regression_table"] is not None:
        _write_text(folder / "regression_table.tex", tables["regression_table"]["latex"])
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


def _inputs(spec: Spec) -> list[Path]:
    """The files a report is made from: the spec file and every data file."""
    paths = [spec.path, spec.data, *(entry.data for entry in spec.models)]
    return list(dict.fromkeys(p for p in paths if p is not None))
