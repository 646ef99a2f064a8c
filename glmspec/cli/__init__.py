"""Command line: ``glmspec run``, ``fit``, ``predict`` and ``datasets``.

Exit status: 0 when every fit converged and every statsmodels check passed; 1 when a fit did
not converge, failed, or a check failed (the report still says why); 2 for usage and spec
errors, which print one clear line, or for a spec with several problems a header and one
line per problem (``--debug``, before or after the sub-command, shows the traceback).
``glmspec fit`` tells its problems in the command line's words (``--missing drop``), and
system errors name the path and the action.

The sub-commands live in :mod:`glmspec.cli.commands` (run, fit, datasets) and
:mod:`glmspec.cli.predict`, the fit flags in :mod:`glmspec.cli.flags`, the progress display in
:mod:`glmspec.cli.progress`. ``commands`` (with the report writer: matplotlib and jinja2, a
large part of the start-up) is imported only by the sub-commands that need it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import traceback

from glmspec.cli.common import wrap
from glmspec.cli.flags import add_option_flags
from glmspec.cli.predict import add_predict_arguments, cmd_predict
from glmspec.errors import GLMSpecError
from glmspec.version import __version__

EXAMPLE_RUN = "example:\n  glmspec run datasets/restaurant_visitors.toml --out reports"
EXAMPLE_FIT = (
    'example:\n  glmspec fit "visitors ~ hour + C(weekday) + rain" '
    "--data restaurant_visitors --family poisson --compare --report reports/visitors"
)
EXAMPLE_PREDICT = (
    "example:\n  glmspec predict reports/restaurant_visitors --model weather "
    "--data new.csv --out predictions.csv\n"
    "  glmspec predict datasets/restaurant_visitors.toml --model weather "
    "--data datasets/restaurant_visitors.csv --out predictions.csv --interval 0.95"
)


def cmd_run(args: argparse.Namespace) -> int:
    """``glmspec run`` (:func:`glmspec.cli.commands.cmd_run`)."""
    from glmspec.cli.commands import cmd_run as run

    return run(args)


def cmd_fit(args: argparse.Namespace) -> int:
    """``glmspec fit`` (:func:`glmspec.cli.commands.cmd_fit`)."""
    from glmspec.cli.commands import cmd_fit as fit

    return fit(args)


def cmd_datasets(args: argparse.Namespace) -> int:
    """``glmspec datasets`` (:func:`glmspec.cli.commands.cmd_datasets`)."""
    from glmspec.cli.commands import cmd_datasets as listing

    return listing(args)


FORCE_HELP = (
    "replace an existing folder at the report's place even if glmspec did not write it "
    "(its contents are deleted); files, links and input-data folders are never replaced"
)


def _python_formulas_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-python-formulas",
        action="store_true",
        help="evaluate formula terms as Python code (default: columns, numbers, arithmetic and "
        "an allowlist of functions only); use only with formulas you trust",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="glmspec", description="Declarative generalized linear models, verified."
    )
    parser.add_argument("--version", action="version", version=f"glmspec {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    # --debug also after the sub-command; SUPPRESS keeps a --debug given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    raw = argparse.RawDescriptionHelpFormatter

    run = sub.add_parser(
        "run",
        help="fit every model of a spec file, check against statsmodels, write a report",
        description="Fit, verify and report every model of a TOML spec file.",
        epilog=EXAMPLE_RUN,
        formatter_class=raw,
        parents=[common],
    )
    run.add_argument("spec", help="TOML spec file")
    run.add_argument("--out", default=None, help="report folder (default: the spec's [report] dir)")
    run.add_argument("--format", default=None, help="comma-separated subset of html,markdown")
    run.add_argument("--no-check", action="store_true", help="skip the statsmodels check")
    run.add_argument("--force", action="store_true", help=FORCE_HELP)
    _python_formulas_flag(run)
    run.set_defaults(handler=cmd_run)

    fit = sub.add_parser(
        "fit",
        help="fit one model and print its summary",
        description="Fit one model and print its summary (optionally checked and reported). "
        "The fit options are glmspec.fit's, as flags (--max-iter for max_iter).",
        epilog=EXAMPLE_FIT,
        formatter_class=raw,
        parents=[common],
    )
    fit.add_argument("formula", help='R-style formula, e.g. "y ~ x + C(g)"')
    fit.add_argument("--data", required=True, help="CSV/Parquet file or bundled dataset name")
    add_option_flags(fit)
    fit.add_argument("--compare", action="store_true", help="cross-check with statsmodels")
    fit.add_argument("--check-tol", type=float, default=1e-6, help="tolerance of the check")
    fit.add_argument("--report", default=None, help="write an HTML/Markdown report to this folder")
    fit.add_argument("--force", action="store_true", help=FORCE_HELP)
    _python_formulas_flag(fit)
    fit.set_defaults(handler=cmd_fit)

    predict = sub.add_parser(
        "predict",
        help="predict with one model of a report (or a spec) on new data",
        description="Write the predictions of one model for new data as CSV: from a report "
        "folder written by glmspec run/fit (no refit), or from a spec file (fits the model).",
        epilog=EXAMPLE_PREDICT,
        formatter_class=raw,
        parents=[common],
    )
    add_predict_arguments(predict)
    _python_formulas_flag(predict)
    predict.set_defaults(handler=cmd_predict)

    listing = sub.add_parser(
        "datasets",
        help="list the bundled datasets",
        description="List the bundled datasets.",
        epilog="example:\n  glmspec datasets",
        formatter_class=raw,
        parents=[common],
    )
    listing.set_defaults(handler=cmd_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``glmspec`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (GLMSpecError, OSError, ValueError) as exc:
        if args.debug:
            traceback.print_exc()
        width = shutil.get_terminal_size().columns if sys.stderr.isatty() else None
        for line in _error_lines(exc, args.command):
            for part in [line] if width is None else wrap(line, width):
                print(part, file=sys.stderr)
        return 2


def _error_lines(exc: Exception, command: str) -> list[str]:
    """The error as printed: one line, or a header and one line per problem when a spec has
    several."""
    if isinstance(exc, OSError) and exc.strerror:
        # a system error no step above wrapped: name the path and the command, not "[Errno N]"
        path = f" on {str(exc.filename)!r}" if exc.filename else ""
        return [f"glmspec: error: glmspec {command} failed{path}: {exc.strerror}."]
    problems = getattr(exc, "problems", None)
    if problems and len(problems) > 1:
        header = " ".join(str(exc).splitlines()[0].split())
        return [f"glmspec: error: {header}", *(f"  - {' '.join(p.split())}" for p in problems)]
    return [f"glmspec: error: {' '.join(str(exc).split())}"]


if __name__ == "__main__":
    sys.exit(main())
