"""Declarative model specifications (TOML files or dicts) and fitting every model in one.

SKELETON: the data classes below are the contract used by the report and the CLI; loading,
validation and fitting are filled in by the spec work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class ModelEntry:
    """One ``[[model]]`` of a spec, with ``[defaults]`` already applied."""

    name: str
    formula: str
    family: str = "gaussian"
    link: str | None = None
    weights: str | None = None
    offset: str | None = None
    missing: str = "raise"
    max_iter: int = 100
    tol: float = 1e-8
    data: Path | None = None


@dataclass(frozen=True)
class Spec:
    """A validated spec: where the data is, which models to fit, how to check and report."""

    title: str
    models: tuple[ModelEntry, ...]
    data: Path | None = None
    path: Path | None = None
    check_against: str | None = "statsmodels"
    check_tol: float = 1e-6
    report_formats: tuple[str, ...] = ("html", "markdown")
    report_dir: Path = Path("reports")

    @property
    def stem(self) -> str:
        """Name of the report folder: the spec file's stem, or a slug of the title."""
        if self.path is not None:
            return self.path.stem
        return "".join(c if c.isalnum() else "_" for c in self.title.lower()).strip("_") or "spec"


@dataclass
class FittedModel:
    """Outcome of fitting one model entry: results or an error, plus what happened on the way.

    Attributes
    ----------
    entry : ModelEntry
    results : GLMResults or MultinomialResults or None
        None when the fit raised an error (then ``error`` says why).
    check : pandas.DataFrame or None
        :func:`glmspec.compare` table, or None when checking was off or impossible.
    check_error : str or None
        Why the check could not run.
    warnings : list of str
        Messages of warnings raised while fitting (separation, non-convergence, ...).
    error : str or None
    data_rows : int
        Rows in the data before dropping missing values.
    """

    entry: ModelEntry
    results: Any = None
    check: pd.DataFrame | None = None
    check_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    data_rows: int = 0

    @property
    def ok(self) -> bool:
        """Fitted, converged and (if checked) every check row passed."""
        if self.results is None or not self.results.converged:
            return False
        return self.check is None or bool(self.check.attrs.get("passed", False))
