"""The spec format: its keys and their types, one model entry, and reading its data files."""

from __future__ import annotations

import glob
import inspect
import re
from dataclasses import field, make_dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from glmspec.api import fit
from glmspec.options import SPEC_OPTION_TYPES

TOP_KEYS = (
    "title",
    "data",
    "engine",
    "scheduler",
    "python_formulas",
    "defaults",
    "model",
    "check",
    "report",
)


ENGINES = ("pandas", "dask")


#: The fit() options a model (or [defaults]) may give: the spec keys of
#: :class:`~glmspec.options.FitOptions`, with their TOML types.
OPTION_TYPES: dict[str, type] = dict(SPEC_OPTION_TYPES)
OPTION_KEYS: tuple[str, ...] = tuple(OPTION_TYPES)


MODEL_KEYS = ("name", "formula", "data", *OPTION_KEYS)


CHECK_KEYS = ("against", "tol")


CHECK_AGAINST = ("statsmodels", "none")


REPORT_KEYS = ("formats", "dir", "intervals", "drop1", "emmeans")


#: ``[report] intervals``: the coefficients' intervals shown beside the Wald ones.
REPORT_INTERVALS = ("wald", "profile")


#: ``[report] drop1``: the test of each model's drop1 table, or "none" for no table.
REPORT_DROP1 = ("Chisq", "LRT", "F", "none")


REPORT_FORMATS = ("html", "markdown", "json")


DATA_SUFFIXES = (".csv", ".parquet")


SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _model_entry_class() -> type:
    """``ModelEntry``: a frozen dataclass of ``name``, ``formula``, every option of
    :data:`OPTION_KEYS` (defaulting to :func:`glmspec.fit`'s default, since a key left out
    means fit()'s default) and ``data``."""
    fit_defaults = inspect.signature(fit).parameters
    options = [
        (key, kind | None, field(default=fit_defaults[key].default))
        for key, kind in OPTION_TYPES.items()
    ]
    data = ("data", Path | None, field(default=None))
    entry = make_dataclass(
        "ModelEntry", [("name", str), ("formula", str), *options, data], frozen=True
    )
    entry.__module__ = __name__
    entry.__doc__ = """One ``[[model]]`` of a spec, with ``[defaults]`` already applied.

    ``name`` and ``formula``, then the fit() options of :data:`OPTION_KEYS` (each defaults
    to fit()'s default: ``family`` "gaussian", ``link`` None for the family's canonical link,
    ...), then ``data``, the resolved data file the model uses (its own or the spec's
    top-level one). ``family`` is the canonical family name.
    """
    return entry


ModelEntry = _model_entry_class()


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and its message with the whitespace collapsed."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def read_table(path: Path) -> tuple[pd.DataFrame | None, str | None]:
    """The data file as a DataFrame, or None and why it cannot be used."""
    if path.suffix.lower() not in DATA_SUFFIXES:
        return None, (
            f"data file {path.name!r} has unsupported extension {path.suffix or '(none)'!r}; "
            f"allowed: {', '.join(DATA_SUFFIXES)}."
        )
    if not path.is_file():
        why = "is not a file" if path.exists() else "does not exist"
        return None, f"data file {str(path)!r} {why}."
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except OSError as exc:  # the system's reason, without its "[Errno N]" prefix
        return None, f"data file {str(path)!r} cannot be read: {exc.strerror or exc}."
    except Exception as exc:  # noqa: BLE001 - any reader failure means "unreadable"
        return None, f"data file {str(path)!r} cannot be read: {one_line(exc)}"
    if frame.shape[0] == 0:
        return None, f"data file {str(path)!r} has no rows."
    return frame, None


def read_dask(path: Path) -> tuple[Any, str | None]:
    """A lazy Dask DataFrame of a Parquet/CSV file, folder or glob (``visits/*.parquet``),
    or None and why it cannot be used. Only the files' metadata is read here."""
    import dask.dataframe as dd

    pattern = str(path / "*.parquet") if path.is_dir() else str(path)
    files = sorted(glob.glob(pattern))
    if not files:
        return None, f"no data file matches {pattern!r}."
    suffixes = {Path(f).suffix.lower() for f in files}
    if len(suffixes) > 1 or not suffixes <= set(DATA_SUFFIXES):
        return None, (
            f"data {pattern!r} matches files with extension(s) {sorted(suffixes)}; give "
            f"Parquet or CSV files of one kind ({', '.join(DATA_SUFFIXES)})."
        )
    try:
        reader = dd.read_csv if suffixes == {".csv"} else dd.read_parquet
        return reader(files), None
    except Exception as exc:  # noqa: BLE001 - any reader failure means "unreadable"
        return None, f"data {pattern!r} cannot be read: {one_line(exc)}"
