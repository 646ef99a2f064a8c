"""``glmspec predict``: predictions of one model for new rows, as CSV.

From a report folder the model is rebuilt from the report's ``model.json``
(:mod:`glmspec.report.stored`), without the data or a refit; from a spec file the model is
fitted first. The output keeps the input's columns (or ``--keep COLS``) and adds the
predictions; a row with a missing value in a column the model reads gets empty (NA)
predictions, as R's ``predict(..., na.action = na.exclude)``, and the others are predicted.

``--out`` is written atomically and never replaces the input, a folder or a link; it replaces
an existing file only when it looks like an earlier output of this command (its CSV header
ends with prediction columns: ``mean``, ``linear_predictor``, ...), or with ``--force``.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from glmspec.cli.common import data_path, doing, read_table
from glmspec.design.build import incomplete_rows
from glmspec.errors import GLMSpecError
from glmspec.report.stored import FILE, StoredModel, load_models
from glmspec.spec import load_spec

TYPES = ("both", "response", "link")


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``glmspec predict``."""
    parser.add_argument(
        "source",
        metavar="REPORT_OR_SPEC",
        help=f"a report folder written by glmspec run/fit (its {FILE}: no refit), or a TOML "
        "spec file (the model is fitted)",
    )
    parser.add_argument(
        "--model", default=None, help="name of the model (may be left out when there is one)"
    )
    parser.add_argument("--data", required=True, help="CSV/Parquet file with the new rows")
    parser.add_argument("--out", required=True, help="CSV file to write")
    parser.add_argument(
        "--type",
        choices=TYPES,
        default="both",
        help="response: the mean (mean, or prob_<class>); link: the linear predictor "
        "(linear_predictor, or linear_<class>); both (default)",
    )
    parser.add_argument(
        "--se", action="store_true", help="add the standard error of each prediction (_se)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        metavar="LEVEL",
        help="add the mean's standard error and confidence interval at LEVEL (e.g. 0.95)",
    )
    parser.add_argument(
        "--keep",
        default=None,
        metavar="COLS",
        help="comma-separated input columns to copy to the output (default: all; '' for none)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out file even if it is not an earlier prediction file "
        "(never the input data, a folder or a link)",
    )


def _model(args: argparse.Namespace) -> tuple[Any, tuple[str, ...]]:
    """The predicting object (stored model or fitted results) and its offset/exposure
    columns."""
    source = Path(args.source)
    if source.is_dir():
        names = list(load_models(source, only=""))  # the names; nothing rebuilt yet
        name = _choose(args.model, names, f"report {str(source)!r}")
        model = load_models(source, only=name)[name]
        if isinstance(model, str):
            raise GLMSpecError(f"model {name!r} cannot predict from the report: {model}")
        return model, model.extra_columns
    spec = load_spec(source, python_formulas=args.allow_python_formulas)
    name = _choose(args.model, [m.name for m in spec.models], "spec")
    (item,) = spec.fit(check=False, only=[name])
    if item.error is not None:
        raise GLMSpecError(f"model {name!r} failed to fit: {item.error}")
    res = item.results
    extra = (res.spec.offset, getattr(res.spec, "exposure", None))
    return res, tuple(c for c in extra if isinstance(c, str))


def _multiclass(model: Any) -> bool:
    """Whether the stored model or fitted results predict class probabilities."""
    if isinstance(model, StoredModel):
        return model.is_multiclass
    return model.family.is_multiclass


def _choose(name: str | None, names: list[str], where: str) -> str:
    if name is None:
        if len(names) == 1:
            return names[0]
        raise GLMSpecError(f"--model is needed: the {where} has models {', '.join(names)}.")
    if name not in names:
        raise GLMSpecError(f"the {where} has no model {name!r}; models: {', '.join(names)}.")
    return name


def _predictions(model: Any, rows: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """The prediction columns for complete ``rows``."""
    multinomial = _multiclass(model)
    parts = []
    need_frame = args.se or args.interval is not None
    frame = model.get_prediction(rows) if need_frame else None
    if args.type in ("both", "response"):
        mean = model.predict(rows)
        parts.append(mean.add_prefix("prob_") if multinomial else mean.rename("mean"))
        if args.se and args.interval is None:
            se = frame.se_mean
            parts.append(se.add_prefix("mean_se_") if multinomial else se.rename("mean_se"))
    if args.type in ("both", "link"):
        linear = model.predict(rows, which="linear")
        parts.append(
            linear.add_prefix("linear_") if multinomial else linear.rename("linear_predictor")
        )
        if args.se and not multinomial:
            parts.append(frame.se_linpred.rename("linear_predictor_se"))
    if args.interval is not None:
        summary = frame.summary_frame(alpha=1 - args.interval)
        if multinomial:
            wide = summary.drop(columns="mean").unstack()
            wide.columns = [f"{stat}_{cls}" for stat, cls in wide.columns]
            parts.append(wide.set_axis(rows.index))
        else:
            parts.append(summary.drop(columns="mean").set_axis(rows.index))
    return pd.concat([p.set_axis(rows.index) for p in parts], axis=1)


def cmd_predict(args: argparse.Namespace) -> int:
    """``glmspec predict REPORT_OR_SPEC --data NEW --out FILE``."""
    if args.interval is not None and not 0 < args.interval < 1:
        raise GLMSpecError(f"--interval must be a level in (0, 1), got {args.interval}.")
    source_data = data_path(args.data)
    out = Path(args.out)
    _check_out(out, [source_data, Path(args.source)])
    model, extra = _model(args)
    newdata = read_table(source_data)
    keep = _kept_columns(newdata, args.keep)
    if isinstance(model, StoredModel):
        missing = model.incomplete_rows(newdata)
    else:
        missing = incomplete_rows(model.design.design_info, newdata, extra)
    complete = newdata.loc[~missing]
    predicted = _predictions(model, complete, args)
    predicted = predicted.reindex(newdata.index)  # NA for incomplete rows (na.exclude)
    clash = [c for c in keep if c in predicted.columns]
    if clash:
        raise GLMSpecError(
            f"input column(s) {clash} have the names of prediction columns; leave them out "
            "with --keep."
        )
    table = pd.concat([newdata[keep], predicted], axis=1)
    classes = tuple(model.classes) if _multiclass(model) else ()
    _write(table, out, classes, args.force)
    dropped = f"; {int(missing.sum())} row(s) with missing values are NA" if missing.any() else ""
    name = getattr(model, "name", None) or args.model or "model"
    print(f"wrote {len(table)} predictions of model {name!r} to {args.out}{dropped}")
    return 0


def _kept_columns(newdata: pd.DataFrame, keep: str | None) -> list[str]:
    if keep is None:
        return [str(c) for c in newdata.columns]
    names = [c.strip() for c in keep.split(",") if c.strip()]
    absent = [c for c in names if c not in newdata.columns]
    if absent:
        raise GLMSpecError(f"--keep names column(s) {absent} the new data does not have.")
    return names


def _check_out(out: Path, inputs: list[Path]) -> None:
    """Refuse an output path that is a folder, a link or one of the inputs."""
    if out.is_symlink() or out.is_dir():
        raise GLMSpecError(f"--out {str(out)!r} is a folder or a link; give a file name.")
    if out.exists() and any(out.resolve() == p.resolve() for p in inputs):
        raise GLMSpecError(f"--out {str(out)!r} is an input of this command; choose another.")


#: The columns ``glmspec predict`` writes for a GLM; a multinomial's are these prefixes
#: (``prob_``, ``linear_``, ``mean_se_``, ...) followed by a class.
PREDICTION_COLUMNS = ("mean", "linear_predictor", "mean_se", "linear_predictor_se")
PREDICTION_COLUMNS += ("mean_ci_lower", "mean_ci_upper")
_MAIN_COLUMNS = ("mean", "linear_predictor", "prob_", "linear_")


def _is_prediction_column(name: str, classes: tuple) -> bool:
    if name in PREDICTION_COLUMNS:
        return True
    prefixes = ("prob_", "linear_", *(f"{c}_" for c in PREDICTION_COLUMNS))
    return any(name == f"{p}{c}" for p in prefixes for c in map(str, classes))


def _ours(out: Path, classes: tuple) -> bool:
    """Whether an existing ``out`` is an earlier prediction file of this model: a CSV whose
    header ends with prediction columns (a mean or a linear predictor among them)."""
    try:
        with open(out, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    tail = []
    for name in reversed(header):
        if not _is_prediction_column(name, classes):
            break
        tail.append(name)
    return any(name.startswith(_MAIN_COLUMNS) for name in tail)


def _write(table: pd.DataFrame, out: Path, classes: tuple, force: bool) -> None:
    """Write ``table`` to ``out`` through a temporary file in the same folder."""
    if out.exists() and not force and not _ours(out, classes):
        raise GLMSpecError(
            f"--out {str(out)!r} exists and is not a glmspec prediction file; choose another "
            "file or pass --force to replace it."
        )
    folder = out.parent if str(out.parent) else Path(".")
    with doing("write the predictions to", out):
        handle, temporary = tempfile.mkstemp(prefix=".glmspec-", suffix=".csv", dir=folder)
        umask = os.umask(0)
        os.umask(umask)
        try:
            os.chmod(temporary, 0o666 & ~umask)  # as a plain open() would create it
            with os.fdopen(handle, "w", newline="", encoding="utf-8") as stream:
                table.to_csv(stream, index=False)
            os.replace(temporary, out)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
