"""A validated spec and fitting every model in it; :func:`load_spec` reads a TOML file.

A spec file (see ``datasets/*.toml``) has ``title`` (optional; default: the file stem),
``data`` (CSV or Parquet; a relative path is relative to the spec file's folder),
``engine`` ("pandas", the default, or "dask": ``data`` may then be a Parquet/CSV glob or
folder, read lazily and fitted partition by partition on a ``dask.distributed`` cluster),
``scheduler`` (with "dask": the address of a running scheduler, ``"tcp://host:8786"``;
default: a local cluster sized to this machine), ``python_formulas`` (true: formula terms are
evaluated as Python; default false: they are checked against :mod:`glmspec.design.formula_check`'s
allowlist at validation), ``[defaults]`` (fit() options a model leaves
out), one ``[[model]]`` table per model (``name``
and ``formula`` required; ``data`` and the fit() options optional: the spec keys of
:class:`~glmspec.options.FitOptions`, listed in :data:`glmspec.spec.format.OPTION_KEYS`, checked
by the same rules as :func:`glmspec.fit`), ``[check]`` (``against`` =
"statsmodels" or "none", ``tol`` in (0, 1)) and ``[report]`` (``formats``: some of "html",
"markdown", "json"; ``dir``: the reports' parent folder, relative to the spec file's folder and
inside it: an absolute path, ``~`` or a ``..`` that leaves the spec's folder is a spec error;
``intervals = "profile"``: every model also gets profile-likelihood intervals; ``drop1`` =
"Chisq", "LRT" or "F": a drop1 table per model; ``emmeans``: a list of factors as written in the
formulas, each giving a marginal-means table for every model that has it).

Every problem of a spec is collected and raised together in one :class:`SpecError`, whose
message names the file, the model, the key and the allowed values. Each data file is read once.
"""

from __future__ import annotations

import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from glmspec.api import fit as fit_model
from glmspec.errors import GLMSpecError, SpecError
from glmspec.spec.checks import SpecBuilder
from glmspec.spec.format import (
    OPTION_KEYS,
    ModelEntry,
    one_line,
    read_table,
)
from glmspec.verify.statsmodels import compare


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
        """Fitted, converged and (if checked) every check row passed; a check that was
        requested but could not run (``check_error``) is not a pass."""
        if self.results is None or not self.results.converged or self.check_error is not None:
            return False
        return self.check is None or bool(self.check.attrs.get("passed", False))


@dataclass(frozen=True)
class Spec:
    """A validated spec: where the data is, which models to fit, how to check and report.

    ``data`` and every ``ModelEntry.data`` are absolute paths. ``check_against`` is
    ``"statsmodels"`` or None (``against = "none"``: no cross-check). ``report_dir`` is the
    spec's ``[report] dir`` resolved against the spec file's folder (``from_dict``: against
    ``base_dir``); a relative ``report_dir`` given to the constructor is relative to the
    working directory when the report is written.
    """

    title: str
    models: tuple[ModelEntry, ...]
    data: Path | None = None
    path: Path | None = None
    check_against: str | None = "statsmodels"
    check_tol: float = 1e-6
    report_formats: tuple[str, ...] = ("html", "markdown")
    report_dir: Path = Path("reports")
    report_intervals: str = "wald"
    report_drop1: str | None = None
    report_emmeans: tuple[str, ...] = ()
    engine: str = "pandas"
    scheduler: str | None = None
    python_formulas: bool = False
    _frames: dict[Path, pd.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _dask: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def stem(self) -> str:
        """Name of the report folder: the spec file's stem, or a slug of the title."""
        if self.path is not None:
            return self.path.stem
        return "".join(c if c.isalnum() else "_" for c in self.title.lower()).strip("_") or "spec"

    @classmethod
    def from_dict(
        cls,
        mapping: Mapping[str, Any],
        base_dir: Path | str | None = None,
        source: str = "<dict>",
        *,
        python_formulas: bool = False,
    ) -> Spec:
        """Build and validate a spec from a mapping with the TOML file's structure.

        Parameters
        ----------
        mapping : Mapping
            Same keys as the TOML file (``[[model]]`` is a list of dicts under ``"model"``).
        base_dir : Path or str, optional
            Folder that relative ``data`` paths and ``[report] dir`` are resolved against;
            the working directory when None.
        source : str
            Name used for the spec in error messages.
        python_formulas : bool
            Evaluate formula terms as Python (as the spec key ``python_formulas = true``);
            by default they are checked against an allowlist (:mod:`glmspec.design.formula_check`).

        Returns
        -------
        Spec

        Raises
        ------
        SpecError
            Listing every problem found; its ``problems`` attribute holds them one per item, and
        ``details`` the ``(where, key, message)`` of each problem that concerns a key.
        """
        base = Path.cwd() if base_dir is None else Path(base_dir)
        return Spec.built(SpecBuilder(source, base, python_formulas), mapping, None)

    @classmethod
    def built(cls, builder: SpecBuilder, mapping: Any, path: Path | None) -> Spec:
        """The spec ``builder`` validates from ``mapping`` (see :meth:`from_dict`)."""
        fields, frames = builder.build(mapping, path)
        spec = cls(**fields)
        spec._frames.update(frames)
        return spec

    def data_path(self, entry: ModelEntry) -> Path | None:
        """The data file ``entry`` is fitted on (its own, else the spec's)."""
        return entry.data if entry.data is not None else self.data

    def load_data(self, entry: ModelEntry) -> pd.DataFrame:
        """Return the data of ``entry``, read once per file and shared (do not modify it).

        Raises
        ------
        SpecError
            If the model has no data or the file cannot be read.
        """
        path = self.data_path(entry)
        if path is None:
            raise SpecError(f"model {entry.name!r} has no data file.")
        if path not in self._frames:
            frame, problem = read_table(path)
            if frame is None:
                raise SpecError(f"model {entry.name!r}, data: {problem}")
            self._frames[path] = frame
        return self._frames[path]

    def fit(
        self,
        progress: Callable[[int, int, str], None] | None = None,
        check: bool | None = None,
        only: Iterable[str] | None = None,
        phase: Callable[[str, str], None] | None = None,
        fitted_hook: Callable[[FittedModel], None] | None = None,
    ) -> list[FittedModel]:
        """Fit every model; a model that fails records its error and the others go on.

        Parameters
        ----------
        progress : callable, optional
            Called as ``progress(i, n, name)`` before each model, ``i`` counting from 1.
        check : bool, optional
            False skips the statsmodels cross-check; None or True run it when the spec asks
            for it (``check_against == "statsmodels"``).
        only : iterable of str, optional
            Names of the models to fit; default all.
        phase : callable, optional
            Called as ``phase("checking", name)`` before a model's statsmodels check (a
            progress display shows it; the check can take as long as the fit).
        fitted_hook : callable, optional
            Called with each model's :class:`FittedModel` as soon as its fit returns, before
            its check (the CLI starts the model's plots there).

        Returns
        -------
        list of FittedModel
            In the spec's order.
        """
        do_check = self.check_against == "statsmodels" and check is not False
        if self.engine == "dask":
            self.dask_client()
        wanted = None if only is None else set(only)
        entries = [m for m in self.models if wanted is None or m.name in wanted]
        fitted = []
        for i, entry in enumerate(entries, start=1):
            if progress is not None:
                progress(i, len(entries), entry.name)
            fitted.append(self._fit_one(entry, do_check, phase, fitted_hook))
        return fitted

    def dask_client(self):
        """The ``dask.distributed`` client of ``engine = "dask"``, started on first use and
        kept for the spec's life: connected to ``scheduler``, else a local cluster sized to
        this machine."""
        if "client" not in self._dask:
            from distributed import Client, LocalCluster

            if self.scheduler is not None:
                self._dask["client"] = Client(self.scheduler)
            else:
                cluster = LocalCluster(dashboard_address=":0")
                self._dask["cluster"] = cluster
                self._dask["client"] = Client(cluster)
        return self._dask["client"]

    def _fit_one(
        self, entry: ModelEntry, do_check: bool, phase=None, fitted_hook=None
    ) -> FittedModel:
        out = FittedModel(entry)
        try:
            frame = self.load_data(entry)
        except GLMSpecError as exc:
            out.error = one_line(exc)
            return out
        if self.engine == "pandas":
            out.data_rows = int(frame.shape[0])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            options = {key: getattr(entry, key) for key in OPTION_KEYS}
            options["formula_mode"] = "python" if self.python_formulas else "safe"
            try:
                out.results = fit_model(entry.formula, frame, **options)
            except GLMSpecError as exc:
                out.error = one_line(exc)
        if self.engine == "dask" and out.results is not None:
            out.data_rows = out.results.design.n_rows + out.results.design.n_dropped
        for w in caught:
            text = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
            if text not in out.warnings:
                out.warnings.append(text)
        if fitted_hook is not None:
            fitted_hook(out)
        if do_check and out.results is not None:
            if phase is not None:
                phase("checking", entry.name)
            try:
                out.check = compare(out.results, tol=self.check_tol)
            except GLMSpecError as exc:
                out.check_error = one_line(exc)
            except Exception as exc:  # noqa: BLE001 - statsmodels failing must not stop the run
                out.check_error = f"statsmodels failed: {one_line(exc)}"
        return out


def load_spec(path: Path | str, *, python_formulas: bool = False) -> Spec:
    """Read and validate a TOML spec file.

    Parameters
    ----------
    path : Path or str
        The ``.toml`` file. Relative ``data`` paths in it are resolved against its folder.
    python_formulas : bool
        Evaluate formula terms as Python even if the spec does not say
        ``python_formulas = true`` (the CLI's ``--allow-python-formulas``).

    Returns
    -------
    Spec
        With ``path`` set to the resolved file path and every data file already read.

    Raises
    ------
    SpecError
        The file is missing or not TOML, or the spec is invalid (every problem listed).
    """
    file = Path(path)
    try:
        with file.open("rb") as fh:
            mapping = tomllib.load(fh)
    except FileNotFoundError:
        raise SpecError(f"spec file {str(file)!r} does not exist.") from None
    except OSError as exc:  # the system's reason, without its "[Errno N]" prefix
        raise SpecError(f"spec file {str(file)!r} cannot be read: {exc.strerror or exc}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"spec file {str(file)!r} cannot be read as TOML: {exc}") from None
    builder = SpecBuilder(str(file), file.resolve().parent, python_formulas)
    return Spec.built(builder, mapping, file.resolve())
