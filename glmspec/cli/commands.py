"""``glmspec run``, ``glmspec fit`` and ``glmspec datasets``."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from glmspec import datasets
from glmspec.cli.common import data_path, exit_status, print_lines, report_entry, status_line
from glmspec.cli.flags import cli_words, flag_name
from glmspec.cli.progress import IterationHandler, RunProgress
from glmspec.errors import GLMSpecError, ReportTargetError, SpecError
from glmspec.report import write_report
from glmspec.report.ahead import PlotsAhead
from glmspec.report.render import compile_templates
from glmspec.report.writer import normalise_formats
from glmspec.spec import FittedModel, Spec, load_spec
from glmspec.spec.format import OPTION_KEYS


def _fit_spec(mapping: dict, **options) -> Spec:
    """The spec of ``glmspec fit`` (``options`` go to :meth:`Spec.from_dict`); its problems
    name the flags, one per line."""
    try:
        return Spec.from_dict(mapping, source="glmspec fit", **options)
    except SpecError as exc:
        keyed = {f"{w}, key {k!r}: {m}": (w, k, m) for w, k, m in getattr(exc, "details", [])}
        lines = []
        for problem in exc.problems:
            if problem not in keyed:
                lines.append(cli_words(problem))
                continue
            where, key, message = keyed[problem]
            if where == "[check]":
                flag = "--check-tol"
            elif key == "formula":
                flag = "the formula"
            elif key == "data":
                flag = "--data"
            else:
                flag = flag_name(key)
            lines.append(f"{flag}: {cli_words(message)}")
        if len(lines) == 1:
            raise GLMSpecError(lines[0]) from None
        err = GLMSpecError(f"glmspec fit: {len(lines)} problems with the arguments:")
        err.problems = lines
        raise err from None


def _outcome(fitted: list[FittedModel], report: Path) -> int:
    """Print each model's status line and the report file a person opens; the exit status."""
    print_lines([*(status_line(item) for item in fitted), f"report: {report_entry(report)}"])
    return exit_status(fitted)


def cmd_run(args: argparse.Namespace) -> int:
    """``glmspec run SPEC``: fit, check and report every model of a spec."""
    spec = load_spec(args.spec, python_formulas=args.allow_python_formulas)
    formats = tuple(f.strip() for f in args.format.split(",")) if args.format else None
    progress = RunProgress(len(spec.models))
    # each solver iteration (a pass over the data on Dask) shows on the progress line
    handler = IterationHandler(progress)
    solver_log = logging.getLogger("glmspec.solver")
    solver_log.addHandler(handler)
    solver_log.setLevel(logging.INFO)
    with progress:
        try:
            fitted, report = fit_and_report(
                spec,
                check=not args.no_check,
                progress=progress,
                phase=progress.phase,
                out_dir=Path(args.out) if args.out else None,
                formats=formats,
                force=args.force,
            )
        finally:
            solver_log.removeHandler(handler)
    return _outcome(fitted, report)


def fit_and_report(
    spec: Spec,
    *,
    check: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
    phase: Callable[[str, str], None] | None = None,
    out_dir: Path | None = None,
    formats: tuple[str, ...] | None = None,
    force: bool = False,
) -> tuple[list[FittedModel], Path]:
    """Fit, check and report every model of ``spec``: what ``glmspec run`` does once the spec
    is read (``benchmarks/big_run.py`` times it phase by phase).

    Each model's plots are drawn on a background thread during its statsmodels check
    (:class:`glmspec.report.ahead.PlotsAhead`) when the check runs and the report has plots;
    they are finished before the next model's fit starts. The report's templates are
    compiled on that thread while the first model fits.

    Parameters
    ----------
    spec : Spec
    check : bool
        False skips the statsmodels check (``--no-check``).
    progress : callable, optional
        Called as ``progress(i, n, name)`` before each model's fit.
    phase : callable, optional
        Called as ``phase(phase, name)`` as :meth:`Spec.fit` and :func:`write_report` call it.
    out_dir, formats, force
        As :func:`write_report`.

    Returns
    -------
    list of FittedModel, pathlib.Path
        The outcomes and the report folder.
    """
    checked = check and spec.check_against == "statsmodels"
    chosen = normalise_formats(spec.report_formats if formats is None else formats)
    plotted = "html" in chosen or "markdown" in chosen
    with PlotsAhead() as ahead:
        if plotted:
            ahead.start(compile_templates)  # while the first model fits

        def next_model(i: int, n: int, name: str) -> None:
            ahead.wait()  # the previous model's plots are done before this fit starts
            if progress is not None:
                progress(i, n, name)

        def fitted_hook(model: FittedModel) -> None:
            if checked and plotted and model.results is not None:
                ahead.submit(model.results)

        fitted = spec.fit(
            progress=next_model,
            check=None if check else False,
            phase=phase,
            fitted_hook=fitted_hook,
        )
        report = write_report(
            spec,
            fitted,
            out_dir=out_dir,
            formats=formats,
            force=force,
            progress=phase,
            plots_ahead=ahead,
        )
    return fitted, report


def cmd_fit(args: argparse.Namespace) -> int:
    """``glmspec fit FORMULA --data ...``: fit one model and print its summary."""
    model = {"name": "model", "formula": args.formula}
    model.update({k: getattr(args, k) for k in OPTION_KEYS if getattr(args, k) is not None})
    spec = _fit_spec(
        {
            "title": f"glmspec fit {args.formula}",
            "data": str(data_path(args.data)),
            "model": [model],
            "check": {"against": "statsmodels" if args.compare else "none", "tol": args.check_tol},
        },
        python_formulas=args.allow_python_formulas,
    )
    fitted = spec.fit()
    item = fitted[0]
    if item.error is not None:
        raise GLMSpecError(cli_words(item.error))
    print(item.results.summary())
    if item.check is not None:
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            print(f"\nCross-check against statsmodels (tolerance {args.check_tol:g}):")
            print(item.check.to_string(index=False, float_format=lambda v: f"{v:.10g}"))
    if args.report:
        target = Path(os.path.abspath(args.report))  # "." names the working directory itself
        try:
            report = write_report(
                spec, fitted, out_dir=target.parent, name=target.name, force=args.force
            )
        except ReportTargetError as exc:  # the report's messages name run's --out
            raise ReportTargetError(str(exc).replace("(--out)", "(--report)")) from None
        return _outcome(fitted, report)
    print()
    print_lines([status_line(item)])
    return exit_status(fitted)


def cmd_datasets(args: argparse.Namespace) -> int:
    """``glmspec datasets``: list the bundled datasets."""
    for name in datasets.names():
        frame = datasets.load(name)
        print(f"{name:22s} {frame.shape[0]:7d} rows  {frame.shape[1]:3d} columns")
    return 0
