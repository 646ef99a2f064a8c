"""Command line: ``glmspec fit`` and ``glmspec datasets``.

Errors print one clear line and exit with status 2 (``--debug`` shows the traceback); a fit
that did not converge or a failed statsmodels check exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

import pandas as pd

from glmspec import datasets
from glmspec.api import fit
from glmspec.compare import compare
from glmspec.errors import GLMSpecError

EXAMPLE_FIT = (
    'example:\n  glmspec fit "visitors ~ hour + C(weekday) + rain" '
    "--data restaurant_visitors --family poisson --compare"
)


def _read_data(source: str) -> pd.DataFrame:
    """A CSV or Parquet path, or the name of a bundled dataset."""
    path = Path(source)
    if path.suffix.lower() == ".parquet" and path.exists():
        return pd.read_parquet(path)
    if path.exists():
        return pd.read_csv(path)
    if source in datasets.names():
        return datasets.load(source)
    raise GLMSpecError(
        f"--data {source!r} is neither a readable file nor a bundled dataset "
        f"({', '.join(datasets.names())})."
    )


def _cmd_fit(args: argparse.Namespace) -> int:
    data = _read_data(args.data)
    res = fit(
        args.formula,
        data,
        family=args.family,
        link=args.link,
        weights=args.weights,
        offset=args.offset,
        missing=args.missing,
        max_iter=args.max_iter,
        tol=args.tol,
    )
    print(res.summary())
    status = 0 if res.converged else 1
    if args.compare:
        table = compare(res, tol=args.check_tol)
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            print(f"\nCross-check against statsmodels (tolerance {args.check_tol:g}):")
            print(table.to_string(index=False, float_format=lambda v: f"{v:.10g}"))
        verdict = "PASSED" if table.attrs["passed"] else "FAILED"
        print(
            f"\nstatsmodels check {verdict}: {int(table['passed'].sum())}/{len(table)} rows agree."
        )
        if not table.attrs["passed"]:
            status = 1
    return status


def _cmd_datasets(args: argparse.Namespace) -> int:
    for name in datasets.names():
        frame = datasets.load(name)
        print(f"{name:22s} {frame.shape[0]:7d} rows  {frame.shape[1]:3d} columns")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="glmspec", description="Declarative generalized linear models, verified."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p_fit = sub.add_parser(
        "fit",
        help="fit one model and print its summary",
        epilog=EXAMPLE_FIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_fit.add_argument("formula", help='R-style formula, e.g. "y ~ x + C(g)"')
    p_fit.add_argument("--data", required=True, help="CSV/Parquet file or bundled dataset name")
    p_fit.add_argument("--family", default="gaussian", help="gaussian, binomial, poisson, ...")
    p_fit.add_argument("--link", default=None, help="link name (default: canonical)")
    p_fit.add_argument("--weights", default=None, help="column of prior weights")
    p_fit.add_argument("--offset", default=None, help="column added to the linear predictor")
    p_fit.add_argument("--missing", default="raise", choices=["raise", "drop"])
    p_fit.add_argument("--max-iter", type=int, default=100)
    p_fit.add_argument("--tol", type=float, default=1e-8)
    p_fit.add_argument("--compare", action="store_true", help="cross-check with statsmodels")
    p_fit.add_argument("--check-tol", type=float, default=1e-6, help="tolerance of the check")
    p_fit.set_defaults(handler=_cmd_fit)

    p_data = sub.add_parser("datasets", help="list the bundled datasets")
    p_data.set_defaults(handler=_cmd_datasets)
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
        print(f"glmspec: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
