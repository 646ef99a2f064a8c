"""Export real data sets shipped with statsmodels as CSV files next to this script.

Run ``python datasets/export_statsmodels.py``. The output is deterministic:

* columns keep statsmodels' names and order (``load_pandas().data``);
* an identifier column that statsmodels' raw file has but ``load`` drops (``STATE`` in
  cpunish, ``COUNCILDIST`` in scotland) is put back as the first column;
* every column whose values are all whole numbers is written as an integer column;
* ``anes96.logpopul`` (= log(popul + 0.1), computed by statsmodels) is rounded to 6
  decimals so that the file does not depend on the last bit of ``log``;
* files use ``\\n`` line endings and pandas' shortest round-trip float formatting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

#: Data sets to export, by statsmodels name (also the CSV file stem).
NAMES = ("anes96", "cpunish", "randhie", "scotland", "spector", "star98")

#: Identifier columns found in statsmodels' raw CSV but dropped by ``load_pandas``.
_ID_COLUMNS = {"cpunish": ("cpunish.csv", "STATE"), "scotland": ("scotvote.csv", "COUNCILDIST")}


def _integral_to_int(df: pd.DataFrame) -> pd.DataFrame:
    """Cast float columns holding only finite whole numbers to ``int64``."""
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype.kind == "f" and np.isfinite(s).all() and (s == np.round(s)).all():
            out[col] = s.astype("int64")
    return out


def frame(name: str) -> pd.DataFrame:
    """Return the cleaned data frame of statsmodels data set ``name``.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.

    Returns
    -------
    pandas.DataFrame
        The data as written to ``<name>.csv``.
    """
    module = getattr(sm.datasets, name)
    df = module.load_pandas().data.copy()
    if name == "anes96":
        df["logpopul"] = df["logpopul"].round(6)
    if name in _ID_COLUMNS:
        fname, col = _ID_COLUMNS[name]
        raw = pd.read_csv(Path(module.__file__).parent / fname)
        ids = raw[col].astype(str)
        if len(ids) != len(df):
            raise RuntimeError(f"{name}: raw file and load_pandas() disagree on row count")
        df.insert(0, col, ids.to_numpy())
    return _integral_to_int(df)


def export(directory: Path, names: tuple[str, ...] = NAMES) -> list[Path]:
    """Write ``<name>.csv`` for each name into ``directory``.

    Parameters
    ----------
    directory : pathlib.Path
        Existing folder to write into.
    names : tuple of str
        Data sets to export.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    paths = []
    for name in names:
        p = Path(directory) / f"{name}.csv"
        frame(name).to_csv(p, index=False, lineterminator="\n")
        paths.append(p)
    return paths


def main() -> None:
    """Export every data set of :data:`NAMES` next to this script."""
    for p in export(Path(__file__).resolve().parent):
        print(f"wrote {p} ({p.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
