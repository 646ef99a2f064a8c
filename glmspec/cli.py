"""Command line: ``glmspec run``, ``fit``, ``predict`` and ``datasets``.

Exit status: 0 when every fit converged and every statsmodels check passed; 1 when a fit did
not converge, failed, or a check failed (the report still says why); 2 for usage and spec
errors, which print one clear line, or for a spec with several problems a header and one
line per problem (``--debug`` shows the traceback). ``glmspec fit`` tells its problems in the
command line's words (``--missing drop``), and system errors name the path and the action.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from glmspec import datasets
from glmspec.errors import GLMSpecError, SpecError
from glmspec.report import write_report
from glmspec.spec import FittedModel, Spec, load_spec

EXAMPLE_RUN = "example:\n  glmspec run datasets/restaurant_visitors.toml --out reports"
EXAMPLE_FIT = (
    'example:\n  glmspec fit "visitors ~ hour + C(weekday) + rain" '
    "--data restaurant_visitors --family poisson --compare --report reports/visitors"
)
EXAMPLE_PREDICT = (
    "example:\n  glmspec predict datasets/restaurant_visitors.toml --model weather "
    "--data datasets/restaurant_visitors.csv --out predictions.csv --interval 0.95"
)

FORCE_HELP = (
    "replace an existing folder at the report's place even if glmspec did not write it "
    "(its contents are deleted); files, links and input-data folders are never replaced"
)


def _data_path(source: str) -> Path:
    """A CSV or Parquet path, or the file of a bundled dataset."""
    path = Path(source)
    if path.exists():
        return path.resolve()
    if source in datasets.names():
        return datasets.path(source)
    raise GLMSpecError(
        f"--data {source!r} is neither a readable file nor a bundled dataset "
        f"({', '.join(datasets.names())})."
    )


def _read_table(path: Path) -> pd.DataFrame:
    with _doing("read the data file", path):
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)


@contextmanager
def _doing(action: str, path: Path | str) -> Iterator[None]:
    """Turn a system error (``[Errno N] ...``) into one line naming the path and the action."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or " ".join(str(exc).split())
        raise GLMSpecError(f"cannot {action} {str(path)!r}: {reason}.") from exc
    except ValueError as exc:  # pandas' parser errors
        raise GLMSpecError(f"cannot {action} {str(path)!r}: {' '.join(str(exc).split())}") from exc


# `glmspec fit` builds a one-model spec from its arguments: its problems are told in the
# command line's words (the spec's key -> the flag that set it).
_FIT_FLAGS = {
    "formula": "the formula",
    "data": "--data",
    "family": "--family",
    "link": "--link",
    "weights": "--weights",
    "offset": "--offset",
    "missing": "--missing",
    "max_iter": "--max-iter",
    "tol": "--tol",
    "method": "--method",
}
_OPTION_WORDS = re.compile(
    r"\b(family|link|weights|offset|missing|max_iter|tol|method)=(?:'([^']*)')?"
)


def _cli_words(text: str) -> str:
    """A fit error in the command line's words: ``missing='drop'`` -> ``--missing drop``."""

    def flag(match: re.Match) -> str:
        value = "" if match[2] is None else f" {match[2]}"
        return f"{_FIT_FLAGS[match[1]]}{value}"

    return _OPTION_WORDS.sub(flag, text)


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
                lines.append(_cli_words(problem))
                continue
            where, key, message = keyed[problem]
            flag = "--check-tol" if where == "[check]" else _FIT_FLAGS.get(key, key)
            lines.append(f"{flag}: {_cli_words(message)}")
        if len(lines) == 1:
            raise GLMSpecError(lines[0]) from None
        err = GLMSpecError(f"glmspec fit: {len(lines)} problems with the arguments:")
        err.problems = lines
        raise err from None


class _Progress:
    """A one-line progress bar on stderr, shown only in a terminal."""

    def __init__(self) -> None:
        self.active = sys.stderr.isatty()
        self.line = ""

    def __call__(self, i: int, n: int, name: str) -> None:
        if self.active:
            filled = int(20 * (i - 1) / max(n, 1))
            bar = "#" * filled + "." * (20 - filled)
            self.line = f"[{bar}] {i}/{n} fitting {name:<30.30}"
            sys.stderr.write("\r" + " " * 100 + "\r" + self.line)
            sys.stderr.flush()

    def iteration(self, message: str) -> None:
        """Show the solver's latest iteration (deviance, change) after the bar."""
        if self.active:
            sys.stderr.write(f"\r{self.line} {message:<60.60}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.active:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()


class _IterationHandler(logging.Handler):
    """Sends the solver's per-iteration log lines to the progress line."""

    def __init__(self, progress: _Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.iteration(record.getMessage())


def _exit_status(fitted: list[FittedModel]) -> int:
    return 0 if all(item.ok for item in fitted) else 1


def _status_line(item: FittedModel) -> str:
    """One line per model: convergence, check verdict and warnings."""
    if item.error is not None:
        return f"  {item.entry.name}: FAILED: {item.error}"
    res = item.results
    parts = [f"converged in {res.n_iter} iterations" if res.converged else "NOT converged"]
    if item.check is not None:
        agree = int(item.check["passed"].sum())
        verdict = "passed" if item.check.attrs.get("passed") else "FAILED"
        parts.append(f"statsmodels check {verdict} ({agree}/{len(item.check)} rows agree)")
    elif item.check_error:
        parts.append(f"no statsmodels check: {item.check_error}")
    parts += [f"warning: {w}" for w in item.warnings]
    return f"  {item.entry.name}: " + "; ".join(parts)


def _finish(
    spec: Spec, fitted: list[FittedModel], out: Path | None, formats=None, name=None, force=False
):
    report = write_report(spec, fitted, out_dir=out, formats=formats, name=name, force=force)
    for item in fitted:
        print(_status_line(item))
    print(f"report: {report / 'index.html'}")
    return _exit_status(fitted)


def _cmd_run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, python_formulas=args.allow_python_formulas)
    formats = tuple(f.strip() for f in args.format.split(",")) if args.format else None
    progress = _Progress()
    # each solver iteration (a pass over the data on Dask) shows on the progress line
    handler = _IterationHandler(progress)
    solver_log = logging.getLogger("glmspec.solver")
    solver_log.addHandler(handler)
    solver_log.setLevel(logging.INFO)
    try:
        fitted = spec.fit(progress=progress, check=False if args.no_check else None)
    finally:
        solver_log.removeHandler(handler)
    progress.done()
    return _finish(spec, fitted, Path(args.out) if args.out else None, formats, force=args.force)


def _cmd_fit(args: argparse.Namespace) -> int:
    model = {"name": "model", "formula": args.formula, "family": args.family}
    options = {"link": args.link, "weights": args.weights, "offset": args.offset}
    model.update({k: v for k, v in options.items() if v is not None})
    model.update({"missing": args.missing, "max_iter": args.max_iter, "tol": args.tol})
    model["method"] = args.method
    spec = _fit_spec(
        {
            "title": f"glmspec fit {args.formula}",
            "data": str(_data_path(args.data)),
            "model": [model],
            "check": {"against": "statsmodels" if args.compare else "none", "tol": args.check_tol},
        },
        python_formulas=args.allow_python_formulas,
    )
    fitted = spec.fit()
    item = fitted[0]
    if item.error is not None:
        raise GLMSpecError(_cli_words(item.error))
    print(item.results.summary())
    if item.check is not None:
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            print(f"\nCross-check against statsmodels (tolerance {args.check_tol:g}):")
            print(item.check.to_string(index=False, float_format=lambda v: f"{v:.10g}"))
    if args.report:
        target = Path(os.path.abspath(args.report))  # "." names the working directory itself
        return _finish(spec, fitted, target.parent, name=target.name, force=args.force)
    print()
    print(_status_line(item))
    return _exit_status(fitted)


def _cmd_predict(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, python_formulas=args.allow_python_formulas)
    names = [m.name for m in spec.models]
    if args.model not in names:
        raise GLMSpecError(f"spec has no model {args.model!r}; models: {', '.join(names)}.")
    (item,) = spec.fit(check=False, only=[args.model])
    if item.error is not None:
        raise GLMSpecError(f"model {args.model!r} failed to fit: {item.error}")
    newdata = _read_table(_data_path(args.data))
    res = item.results
    mean, linear = res.predict(newdata), res.predict(newdata, which="linear")
    if isinstance(mean, pd.Series):
        out = pd.DataFrame({"mean": mean, "linear_predictor": linear})
    else:
        out = pd.concat([mean.add_prefix("prob_"), linear.add_prefix("linear_")], axis=1)
    if args.interval is not None:
        if not 0 < args.interval < 1:
            raise GLMSpecError(f"--interval must be a level in (0, 1), got {args.interval}.")
        frame = res.get_prediction(newdata).summary_frame(alpha=1 - args.interval)
        if isinstance(mean, pd.Series):
            out = out.join(frame.drop(columns="mean").set_axis(out.index))
        else:
            wide = frame.drop(columns="mean").unstack()
            wide.columns = [f"{stat}_{cls}" for stat, cls in wide.columns]
            out = out.join(wide.set_axis(out.index))
    with _doing("write the predictions to", args.out):
        out.to_csv(args.out, index=False)
    print(f"wrote {len(out)} predictions of model {args.model!r} to {args.out}")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    for name in datasets.names():
        frame = datasets.load(name)
        print(f"{name:22s} {frame.shape[0]:7d} rows  {frame.shape[1]:3d} columns")
    return 0


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
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    raw = argparse.RawDescriptionHelpFormatter

    run = sub.add_parser(
        "run",
        help="fit every model of a spec file, check against statsmodels, write a report",
        description="Fit, verify and report every model of a TOML spec file.",
        epilog=EXAMPLE_RUN,
        formatter_class=raw,
    )
    run.add_argument("spec", help="TOML spec file")
    run.add_argument("--out", default=None, help="report folder (default: the spec's [report] dir)")
    run.add_argument("--format", default=None, help="comma-separated subset of html,markdown")
    run.add_argument("--no-check", action="store_true", help="skip the statsmodels check")
    run.add_argument("--force", action="store_true", help=FORCE_HELP)
    _python_formulas_flag(run)
    run.set_defaults(handler=_cmd_run)

    fit = sub.add_parser(
        "fit",
        help="fit one model and print its summary",
        description="Fit one model and print its summary (optionally checked and reported).",
        epilog=EXAMPLE_FIT,
        formatter_class=raw,
    )
    fit.add_argument("formula", help='R-style formula, e.g. "y ~ x + C(g)"')
    fit.add_argument("--data", required=True, help="CSV/Parquet file or bundled dataset name")
    fit.add_argument("--family", default="gaussian", help="gaussian, binomial, poisson, ...")
    fit.add_argument("--link", default=None, help="link name (default: canonical)")
    fit.add_argument("--weights", default=None, help="column of prior weights")
    fit.add_argument("--offset", default=None, help="column added to the linear predictor")
    fit.add_argument("--missing", default="raise", choices=["raise", "drop"])
    fit.add_argument("--max-iter", type=int, default=100)
    fit.add_argument("--tol", type=float, default=1e-8)
    fit.add_argument(
        "--method", default="ml", help='"ml" (default) or "firth" (bias-reduced: binomial, poisson)'
    )
    fit.add_argument("--compare", action="store_true", help="cross-check with statsmodels")
    fit.add_argument("--check-tol", type=float, default=1e-6, help="tolerance of the check")
    fit.add_argument("--report", default=None, help="write an HTML/Markdown report to this folder")
    fit.add_argument("--force", action="store_true", help=FORCE_HELP)
    _python_formulas_flag(fit)
    fit.set_defaults(handler=_cmd_fit)

    predict = sub.add_parser(
        "predict",
        help="predict with one model of a spec on new data",
        description="Fit one model of a spec and write its predictions for new data as CSV.",
        epilog=EXAMPLE_PREDICT,
        formatter_class=raw,
    )
    predict.add_argument("spec", help="TOML spec file")
    predict.add_argument("--model", required=True, help="name of the model in the spec")
    predict.add_argument("--data", required=True, help="CSV/Parquet file with the new rows")
    predict.add_argument("--out", required=True, help="CSV file to write")
    predict.add_argument(
        "--interval",
        type=float,
        default=None,
        metavar="LEVEL",
        help="add the mean's standard error and confidence interval at LEVEL (e.g. 0.95)",
    )
    _python_formulas_flag(predict)
    predict.set_defaults(handler=_cmd_predict)

    listing = sub.add_parser(
        "datasets",
        help="list the bundled datasets",
        description="List the bundled datasets.",
        epilog="example:\n  glmspec datasets",
        formatter_class=raw,
    )
    listing.set_defaults(handler=_cmd_datasets)
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
        for line in _error_lines(exc, args.command):
            print(line, file=sys.stderr)
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
