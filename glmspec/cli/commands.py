"""``glmspec run``, ``glmspec fit`` and ``glmspec datasets``."""

from __future__ import annotations

import argparse
import logging
import os
import re
from pathlib import Path

import pandas as pd

from glmspec import datasets
from glmspec.cli.common import data_path, exit_status, print_lines, report_entry, status_line
from glmspec.cli.progress import IterationHandler, RunProgress
from glmspec.errors import GLMSpecError, ReportTargetError, SpecError
from glmspec.report import write_report
from glmspec.spec import FittedModel, Spec, load_spec
from glmspec.spec.format import OPTION_KEYS, OPTION_TYPES

#: Help of the fit options' flags; an option without an entry still gets its flag.
OPTION_HELP = {
    "family": "gaussian (default), binomial, poisson, gamma, negative_binomial, ...",
    "link": "link name, or power(p) (default: the family's canonical link)",
    "weights": "column of prior weights (R's weights)",
    "offset": "column added to the linear predictor",
    "missing": "raise (default) or drop rows with missing values",
    "max_iter": "iteration limit of the solver (default 100)",
    "tol": "convergence tolerance (default 1e-8)",
    "freq_weights": "column of frequency weights (a row stands for that many rows)",
    "exposure": "column whose log is added to the linear predictor (log-link counts)",
    "theta": "negative binomial theta, fixed (default: estimated by ML)",
    "var_power": "Tweedie variance power in (1, 2)",
    "cov_type": "nonrobust (default), HC0, HC1, HC2, HC3 or cluster",
    "groups": "column of cluster labels for --cov-type cluster",
    "penalty": "l2 or elastic_net (no standard errors then)",
    "alpha": "penalty strength (with --penalty)",
    "l1_ratio": "elastic net mixing in [0, 1] (with --penalty elastic_net)",
    "singular": "error (default) or drop aliased columns as R's glm",
    "method": "ml (default) or firth",
}


def flag_name(key: str) -> str:
    """The command-line flag of a spec/fit() option: ``max_iter`` -> ``--max-iter``."""
    return "--" + key.replace("_", "-")


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per fit option a spec accepts (:data:`glmspec.spec.format.OPTION_KEYS`),
    typed as the spec types it, so that ``glmspec fit`` takes what a spec file takes and
    the two cannot drift. A flag left out leaves the option at the spec's default."""
    for key in OPTION_KEYS:
        parser.add_argument(
            flag_name(key),
            dest=key,
            type=OPTION_TYPES.get(key, str),
            default=None,
            help=OPTION_HELP.get(key, f"the fit() option {key} (see glmspec.fit)"),
        )


def cli_words(text: str) -> str:
    """A fit error in the command line's words: ``missing='drop'`` -> ``--missing drop``."""
    words = re.compile(rf"\b({'|'.join(OPTION_KEYS)})=(?:'([^']*)')?")

    def flag(match: re.Match) -> str:
        value = "" if match[2] is None else f" {match[2]}"
        return f"{flag_name(match[1])}{value}"

    return words.sub(flag, text)


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
            check = False if args.no_check else None
            fitted = spec.fit(progress=progress, check=check, phase=progress.phase)
        finally:
            solver_log.removeHandler(handler)
        report = write_report(
            spec,
            fitted,
            out_dir=Path(args.out) if args.out else None,
            formats=formats,
            force=args.force,
            progress=progress.phase,
        )
    return _outcome(fitted, report)


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
