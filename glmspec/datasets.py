"""Example data sets bundled with glmspec.

The CSV files live in the repository's top-level ``datasets/`` folder, which also holds the
scripts that produce them and a README describing every column. Real data sets are exported
from the copies statsmodels ships; ``restaurant_visitors`` is simulated from a Poisson GLM
with known coefficients, available through :func:`truth`.

Examples
--------
>>> from glmspec import datasets
>>> "spector" in datasets.names()
True
>>> datasets.load("spector").shape
(32, 4)
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from glmspec.errors import DataError, suggest

__all__ = ["DATA_DIR", "load", "names", "path", "truth"]

#: Folder holding the bundled CSV files.
DATA_DIR: Path = Path(__file__).resolve().parent.parent / "datasets"

_TRUTH_SUFFIX = "_truth.json"


def names() -> list[str]:
    """List the bundled data sets.

    Returns
    -------
    list of str
        Sorted file stems of the CSV files in the ``datasets/`` folder; each is a valid
        argument of :func:`load`.
    """
    if not DATA_DIR.is_dir():
        return []
    return sorted(p.stem for p in DATA_DIR.glob("*.csv") if p.is_file())


def path(name: str) -> Path:
    """Return the path of a bundled data set's CSV file.

    Parameters
    ----------
    name : str
        Name of the data set, one of :func:`names`.

    Returns
    -------
    pathlib.Path
        Absolute path of ``datasets/<name>.csv``.

    Raises
    ------
    glmspec.errors.DataError
        If ``name`` is not a bundled data set; the message lists the available names.
    """
    available = names()
    if not isinstance(name, str) or name not in available:
        hint = suggest(name, available) if isinstance(name, str) else ""
        listing = ", ".join(available) if available else f"(none found in {DATA_DIR})"
        raise DataError(f"Unknown data set {name!r}.{hint} Available data sets: {listing}.")
    return DATA_DIR / f"{name}.csv"


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set.

    Parameters
    ----------
    name : str
        Name of the data set, one of :func:`names`.

    Returns
    -------
    pandas.DataFrame
        The CSV as read by :func:`pandas.read_csv` with default options: whole-number
        columns are ``int64``, text columns (such as ISO dates or weekday names) are
        pandas' default string columns, nothing is parsed as a date or category.

    Raises
    ------
    glmspec.errors.DataError
        If ``name`` is not a bundled data set.

    Examples
    --------
    >>> from glmspec import datasets
    >>> df = datasets.load("restaurant_visitors")
    >>> list(df.columns)
    ['date', 'weekday', 'hour', 'rain', 'temperature', 'event', 'visitors']
    """
    return pd.read_csv(path(name))


def truth(name: str) -> dict[str, float]:
    """Return the true coefficients of a simulated data set.

    Parameters
    ----------
    name : str
        Name of a simulated data set, e.g. ``"restaurant_visitors"``.

    Returns
    -------
    dict of str to float
        Coefficients on the link scale, keyed by design-matrix column name (patsy's
        naming, e.g. ``"C(weekday)[T.Mon]"``) in design-column order.

    Raises
    ------
    glmspec.errors.DataError
        If ``name`` is not a bundled data set, or is a real data set (no known truth).

    Examples
    --------
    >>> from glmspec import datasets
    >>> datasets.truth("restaurant_visitors")["rain"]
    -0.3
    """
    csv = path(name)
    file = csv.with_name(name + _TRUTH_SUFFIX)
    if not file.is_file():
        found = DATA_DIR.glob("*" + _TRUTH_SUFFIX)
        simulated = sorted(p.name[: -len(_TRUTH_SUFFIX)] for p in found)
        raise DataError(
            f"Data set {name!r} is real data and has no true coefficients. "
            f"Simulated data sets: {', '.join(simulated) or '(none)'}."
        )
    with file.open(encoding="utf-8") as fh:
        return {str(k): float(v) for k, v in json.load(fh).items()}
