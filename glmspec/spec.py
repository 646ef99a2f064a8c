"""Declarative model specifications (TOML files or dicts) and fitting every model in one.

A spec file (see ``datasets/*.toml``) has ``title`` (optional; default: the file stem),
``data`` (CSV or Parquet; a relative path is relative to the spec file's folder),
``engine`` ("pandas", the default, or "dask": ``data`` may then be a Parquet/CSV glob or
folder, read lazily and fitted partition by partition on a ``dask.distributed`` cluster),
``scheduler`` (with "dask": the address of a running scheduler, ``"tcp://host:8786"``;
default: a local cluster sized to this machine), ``python_formulas`` (true: formula terms are
evaluated as Python; default false: they are checked against :mod:`glmspec.design.formula_check`'s
allowlist at validation), ``[defaults]`` (fit() options a model leaves
out), one ``[[model]]`` table per model (``name``
and ``formula`` required; ``data`` and the fit() options ``family``, ``link``, ``weights``,
``offset``, ``missing``, ``max_iter``, ``tol``, ``freq_weights``, ``exposure``, ``theta``
(negative binomial) and ``var_power`` (Tweedie) optional), ``[check]`` (``against`` =
"statsmodels" or "none", ``tol`` in (0, 1)) and ``[report]`` (``formats``: some of "html",
"markdown", "json"; ``dir``: the reports' parent folder, relative to the spec file's folder and
inside it: an absolute path, ``~`` or a ``..`` that leaves the spec's folder is a spec error).

Every problem of a spec is collected and raised together in one :class:`SpecError`, whose
message names the file, the model, the key and the allowed values. Each data file is read once.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

import pandas as pd
import patsy

from glmspec.api import PENALTIES
from glmspec.api import fit as fit_model
from glmspec.design.build import MISSING_POLICIES, _names_in, _resolvable
from glmspec.design.formula_check import check_safe, parse_formula
from glmspec.errors import FormulaError, GLMSpecError, SpecError, suggest
from glmspec.families import (
    EXPOSURE_FAMILIES,
    FAMILIES,
    FAMILY_NAMES,
    FAMILY_PARAMS,
    canonical_family_name,
    describe_allowed_links,
    link_allowed,
)
from glmspec.families.links import LINKS, get_link
from glmspec.inference.covariance import COV_TYPES, normalize_cov_type
from glmspec.verify.statsmodels import compare

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
OPTION_KEYS = (
    "family",
    "link",
    "weights",
    "offset",
    "missing",
    "max_iter",
    "tol",
    "freq_weights",
    "exposure",
    "theta",
    "var_power",
    "cov_type",
    "groups",
    "penalty",
    "alpha",
    "l1_ratio",
)
_OPTION_TYPES = {
    "max_iter": int,
    "tol": float,
    "theta": float,
    "var_power": float,
    "alpha": float,
    "l1_ratio": float,
}
MODEL_KEYS = ("name", "formula", "data", *OPTION_KEYS)
CHECK_KEYS = ("against", "tol")
CHECK_AGAINST = ("statsmodels", "none")
REPORT_KEYS = ("formats", "dir")
REPORT_FORMATS = ("html", "markdown", "json")
DATA_SUFFIXES = (".csv", ".parquet")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ModelEntry:
    """One ``[[model]]`` of a spec, with ``[defaults]`` already applied.

    ``family`` is the canonical family name; ``link`` None means the family's canonical link;
    ``data`` is the resolved data file the model uses (its own or the spec's top-level one).
    """

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
    freq_weights: str | None = None
    exposure: str | None = None
    theta: float | None = None
    var_power: float | None = None
    cov_type: str = "nonrobust"
    groups: str | None = None
    penalty: str | None = None
    alpha: float = 0.0
    l1_ratio: float | None = None


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
        return _Builder(source, base, python_formulas).build(mapping, None)

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
            frame, problem = _read_table(path)
            if frame is None:
                raise SpecError(f"model {entry.name!r}, data: {problem}")
            self._frames[path] = frame
        return self._frames[path]

    def fit(
        self,
        progress: Callable[[int, int, str], None] | None = None,
        check: bool | None = None,
        only: Iterable[str] | None = None,
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
            fitted.append(self._fit_one(entry, do_check))
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

    def _fit_one(self, entry: ModelEntry, do_check: bool) -> FittedModel:
        out = FittedModel(entry)
        try:
            frame = self.load_data(entry)
        except GLMSpecError as exc:
            out.error = _one_line(exc)
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
                out.error = _one_line(exc)
        if self.engine == "dask" and out.results is not None:
            out.data_rows = out.results.design.n_rows + out.results.design.n_dropped
        for w in caught:
            text = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
            if text not in out.warnings:
                out.warnings.append(text)
        if do_check and out.results is not None:
            try:
                out.check = compare(out.results, tol=self.check_tol)
            except GLMSpecError as exc:
                out.check_error = _one_line(exc)
            except Exception as exc:  # noqa: BLE001 - statsmodels failing must not stop the run
                out.check_error = f"statsmodels failed: {_one_line(exc)}"
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
    builder = _Builder(str(file), file.resolve().parent, python_formulas)
    return builder.build(mapping, file.resolve())


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _read_table(path: Path) -> tuple[pd.DataFrame | None, str | None]:
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
        return None, f"data file {str(path)!r} cannot be read: {_one_line(exc)}"
    if frame.shape[0] == 0:
        return None, f"data file {str(path)!r} has no rows."
    return frame, None


def _read_dask(path: Path) -> tuple[Any, str | None]:
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
        return None, f"data {pattern!r} cannot be read: {_one_line(exc)}"


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
}


def _type_name(value: Any) -> str:
    kind = value if isinstance(value, type) else type(value)
    return "a table" if issubclass(kind, Mapping) else _TYPE_NAMES.get(kind, kind.__name__)


def _not_one_of(what: str, value: Any, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    hint = suggest(str(value).strip().lower(), allowed)
    return f"unknown {what} {value!r}; allowed: {', '.join(allowed)}.{hint}"


def _option_problem(key: str, value: Any) -> str | None:
    """Why a fit() option's (well-typed) value is invalid, or None."""
    try:
        if key == "family":
            canonical_family_name(value)
        elif key == "link":
            get_link(value)
    except GLMSpecError:
        names = FAMILY_NAMES if key == "family" else [*LINKS, "power(p)"]
        return _not_one_of(key, value, names)
    if key == "cov_type":
        try:
            normalize_cov_type(value)
        except GLMSpecError:
            return _not_one_of("covariance type", value, COV_TYPES)
    if key == "penalty" and value not in PENALTIES:
        return _not_one_of("penalty", value, PENALTIES)
    if key == "alpha" and not value >= 0:
        return f"must be a number >= 0, got {value!r}."
    if key == "l1_ratio" and not 0 <= value <= 1:
        return f"must be a number in [0, 1], got {value!r}."
    if key == "missing" and value not in MISSING_POLICIES:
        return _not_one_of("missing-value policy", value, MISSING_POLICIES)
    if key == "max_iter" and value < 1:
        return f"must be a positive integer, got {value!r}."
    if key == "tol" and not 0 < value < 1:
        return f"must be a number in (0, 1), got {value!r}."
    if key == "theta" and not value > 0:
        return f"must be a positive number (negative binomial shape), got {value!r}."
    if key == "var_power" and not 1 < value < 2:
        return f"must be a number in the open interval (1, 2), got {value!r}."
    return None


class _Builder:
    """Collects every problem of one spec while turning its mapping into a :class:`Spec`."""

    def __init__(self, source: str, base_dir: Path, python_formulas: bool = False) -> None:
        self.source, self.base_dir = source, base_dir
        self.python_formulas = python_formulas  # formulas are Python, not checked
        self.problems: list[str] = []
        self.details: list[tuple[str, str, str]] = []  # (where, key, message) of problem()
        self.frames: dict[Path, pd.DataFrame | None] = {}  # resolved path -> data or None
        self.names: dict[str, int] = {}  # model name -> index of its first use
        self.has_data = False  # a top-level 'data' key was given (valid or not)
        self.engine: Any = "pandas"
        self.bad_family = False  # [defaults] gave a family that does not exist

    def problem(self, where: str, key: str, message: str) -> None:
        self.problems.append(f"{where}, key {key!r}: {message}")
        self.details.append((where, key, message))

    def keys(self, table: Any, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
        """The known keys of ``table``; unknown ones are reported."""
        if not isinstance(table, Mapping):
            self.problems.append(f"{where}: must be a table, got {_type_name(table)}.")
            return {}
        for key in table:
            if key not in allowed:
                self.problem(where, key, _not_one_of("key", key, allowed))
        return {k: v for k, v in table.items() if k in allowed}

    def typed(self, value: Any, kind: type, where: str, key: str) -> bool:
        """Whether ``value`` is a ``kind`` (a float may be an int; a bool is never a number)."""
        kinds = (float, int) if kind is float else (kind,)
        if isinstance(value, kinds) and not isinstance(value, bool):
            return True
        got = f"{_type_name(value)} {value!r}"
        self.problem(where, key, f"must be {_type_name(kind)}, got {got}.")
        return False

    def build(self, mapping: Any, path: Path | None) -> Spec:
        top = self.keys(mapping, TOP_KEYS, "top level")
        stem = path.stem if path else Path(self.source).stem
        title = top.get("title", "spec" if stem.startswith("<") or not stem else stem)
        if not self.typed(title, str, "top level", "title") or not title.strip():
            title = "spec"
        self.engine = top.get("engine", "pandas")
        if self.typed(self.engine, str, "top level", "engine") and self.engine not in ENGINES:
            self.problem("top level", "engine", _not_one_of("engine", self.engine, ENGINES))
        scheduler = top.get("scheduler")
        if scheduler is not None and self.typed(scheduler, str, "top level", "scheduler"):
            if self.engine != "dask":
                self.problem("top level", "scheduler", 'is used only with engine = "dask".')
        if self.engine == "dask":
            self.dask_problem()
        python = top.get("python_formulas", False)
        if isinstance(python, bool):
            self.python_formulas |= python
        else:
            msg = f"must be true or false, got {_type_name(python)} {python!r}."
            self.problem("top level", "python_formulas", msg)
        self.has_data = "data" in top
        data = self.data_file(top["data"], "top level") if self.has_data else None
        defaults = self.options(self.keys(top.get("defaults", {}), OPTION_KEYS, "[defaults]"))
        models = top.get("model", [])
        if not isinstance(models, list) or not models:
            got = "" if models == [] else f", got {_type_name(models)}"
            msg = f"the spec needs a list of [[model]] tables (at least one){got}."
            self.problem("top level", "model", msg)
            models = []
        entries = [self.model(model, i, defaults, data) for i, model in enumerate(models, 1)]
        check = self.keys(top.get("check", {}), CHECK_KEYS, "[check]")
        against, tol = check.get("against", "statsmodels"), check.get("tol", 1e-6)
        if self.typed(against, str, "[check]", "against") and against not in CHECK_AGAINST:
            self.problem("[check]", "against", _not_one_of("check", against, CHECK_AGAINST))
        if self.typed(tol, float, "[check]", "tol") and not 0 < tol < 1:
            # a relative tolerance of 1 or more would pass any number: compare() refuses it
            self.problem("[check]", "tol", f"must be a number in (0, 1), got {tol!r}.")
        report = self.keys(top.get("report", {}), REPORT_KEYS, "[report]")
        formats, folder = report.get("formats", ["html", "markdown"]), report.get("dir", "reports")
        if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
            self.problem("[report]", "formats", f"must be a list of strings, got {formats!r}.")
        else:
            for fmt in formats:
                if fmt not in REPORT_FORMATS:
                    self.problem("[report]", "formats", _not_one_of("format", fmt, REPORT_FORMATS))
        if self.typed(folder, str, "[report]", "dir"):
            self.check_report_dir(folder)
        if self.problems:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            err = SpecError(
                f"invalid spec {self.source}: {len(self.problems)} problem(s):\n{lines}"
            )
            err.problems = list(self.problems)
            err.details = list(self.details)
            raise err
        spec = Spec(
            title=title,
            models=tuple(entries),
            data=data,
            path=path,
            check_against=None if against == "none" else against,
            check_tol=float(tol),
            report_formats=tuple(dict.fromkeys(formats)),
            report_dir=self.base_dir / os.path.normpath(folder),
            engine=self.engine,
            scheduler=scheduler,
            python_formulas=self.python_formulas,
        )
        spec._frames.update({p: f for p, f in self.frames.items() if f is not None})
        return spec

    def check_report_dir(self, folder: str) -> None:
        """Report a ``[report] dir`` that could point outside the spec's folder: a spec is
        data from anywhere, and its reports must not land in ``~/.ssh`` or ``/etc``."""
        normal = os.path.normpath(folder.replace("\\", "/")) if folder else "."
        if folder.startswith("~"):
            why = "starts with '~'"
        elif PurePosixPath(normal).is_absolute() or PureWindowsPath(folder).anchor:
            why = "is an absolute path"
        elif normal == ".." or normal.startswith("../"):
            why = "leaves the spec's folder ('..')"
        else:
            return
        self.problem(
            "[report]",
            "dir",
            f"{folder!r} {why}; it must be a folder inside the spec's folder (relative to it), "
            'e.g. "reports". To write elsewhere, use --out on the command line.',
        )

    def data_file(self, value: Any, where: str) -> Path | None:
        """Resolve a data path and read the file once; None when it is unusable."""
        value = str(value) if isinstance(value, PurePath) else value
        if not self.typed(value, str, where, "data"):
            return None
        resolved = (self.base_dir / Path(value).expanduser()).resolve()
        if resolved not in self.frames:
            read = _read_dask if self.engine == "dask" else _read_table
            self.frames[resolved], problem = read(resolved)
            if problem:
                self.problem(where, "data", problem)
        return resolved if self.frames[resolved] is not None else None

    def dask_problem(self) -> None:
        """Report a missing Dask installation for ``engine = "dask"``."""
        try:
            import dask.dataframe  # noqa: F401
            import distributed  # noqa: F401
        except ImportError:
            self.problem(
                "top level", "engine", 'engine = "dask" needs Dask: pip install "glmspec[dask]".'
            )
            self.engine = "pandas"  # read the data as usual to report its problems too

    def options(self, table: dict[str, Any], where: str = "[defaults]") -> dict[str, Any]:
        """Checked fit() options; invalid ones are reported and left out."""
        out: dict[str, Any] = {}
        for key, value in table.items():
            kind = _OPTION_TYPES.get(key, str)
            if key not in OPTION_KEYS or not self.typed(value, kind, where, key):
                continue
            problem = _option_problem(key, value)
            if problem is None:
                out[key] = canonical_family_name(value) if key == "family" else value
            else:
                self.problem(where, key, problem)
                self.bad_family |= key == "family" and where == "[defaults]"
        return out

    def model(
        self, model: Any, index: int, defaults: dict[str, Any], top_data: Path | None
    ) -> ModelEntry | None:
        """One [[model]] with the defaults applied; None if it has problems."""
        where = f"model #{index}"
        if isinstance(model, Mapping) and isinstance(model.get("name"), str):
            where += f" {model['name']!r}"
        before = len(self.problems)
        table = self.keys(model, MODEL_KEYS, where)
        name, formula = table.get("name"), table.get("formula")
        for key, value in (("name", name), ("formula", formula)):
            if value is None and isinstance(model, Mapping):
                self.problem(where, key, "required key is missing.")
            elif value is not None:
                self.typed(value, str, where, key)
        if isinstance(name, str):
            if not _SAFE_NAME.match(name):
                msg = "is not a safe folder/file name; use 1-64 letters, digits, '_', '-' or '.'"
                self.problem(where, "name", f"{name!r} {msg}, starting with a letter or digit.")
            if name in self.names:
                msg = f"{name!r} is already the name of model #{self.names[name]}."
                self.problem(where, "name", msg)
            self.names.setdefault(name, index)
        own = self.options({k: table[k] for k in OPTION_KEYS if k in table}, where)
        opts = {**defaults, **own}
        data = self.data_file(table["data"], where) if "data" in table else top_data
        if "data" not in table and not self.has_data:
            self.problem(where, "data", "no data: give a top-level or a per-model 'data'.")
        family_bad = ("family" in table and "family" not in own) or (
            "family" not in table and self.bad_family
        )
        if "link" in opts and not family_bad:
            self.check_link(opts, "link" in table, where)
        if not family_bad:
            self.check_family_options(opts, set(table), where)
        self.check_columns(self.formula_names(formula, where), opts, data, where)
        if len(self.problems) > before:
            return None
        return ModelEntry(name=name, formula=formula, data=data, **opts)

    def check_link(self, opts: dict[str, Any], own_link: bool, where: str) -> None:
        """Report a link the family does not allow, listing those it does."""
        family = opts.get("family", "gaussian")
        if family == "multinomial" and str(opts["link"]).strip().lower() == "softmax":
            return
        chosen = get_link(opts["link"])
        if family == "multinomial":
            ok, allowed = chosen.name == "logit", "allowed links: softmax (alias logit)."
        else:
            ok = link_allowed(FAMILIES[family], opts["link"], chosen)
            allowed = describe_allowed_links(FAMILIES[family])
        if not ok:
            origin = "" if own_link else " (from [defaults])"
            self.problem(
                where,
                "link",
                f"link {opts['link']!r}{origin} does not go with the {family} family; {allowed}",
            )

    def check_family_options(self, opts: dict[str, Any], given: set[str], where: str) -> None:
        """Report theta/var_power/exposure that do not fit the model's family and link.

        ``given`` are the model's own keys (an invalid value there is already reported)."""
        family = opts.get("family", "gaussian")
        for key, users in FAMILY_PARAMS.items():
            if key in opts and family not in users:
                msg = f"applies only to the {', '.join(users)} family, not to {family}."
                self.problem(where, key, msg)
        if family == "tweedie" and "var_power" not in opts and "var_power" not in given:
            self.problem(where, "var_power", "the tweedie family needs var_power, in (1, 2).")
        if "exposure" in opts:
            default = FAMILIES[family].canonical_link if family in FAMILIES else "logit"
            link = get_link(opts["link"]).name if "link" in opts else default
            if family not in EXPOSURE_FAMILIES or link != "log":
                self.problem(
                    where,
                    "exposure",
                    f"needs a log-link count model ({', '.join(EXPOSURE_FAMILIES)} with link "
                    f"'log'), not {family} with link {link!r}; use offset instead.",
                )

    def formula_names(self, formula: Any, where: str) -> set[str]:
        """Names a formula refers to that must be data columns (empty if it does not parse)."""
        if not isinstance(formula, str):
            return set()
        if "~" not in formula:
            self.problem(where, "formula", f"{formula!r} needs a response: 'y ~ terms'.")
            return set()
        try:
            desc = parse_formula(formula)
            if not self.python_formulas:
                hint = (
                    " To evaluate formula terms as Python, set python_formulas = true at the "
                    "spec's top level (command line: --allow-python-formulas)."
                )
                check_safe(formula, desc, hint)
        except FormulaError as exc:
            cause = exc.__cause__
            if isinstance(cause, patsy.PatsyError):  # its message without the caret lines
                self.problem(where, "formula", f"{formula!r} does not parse: {cause.message}.")
            else:
                self.problem(where, "formula", str(exc).removeprefix("formula "))
            return set()
        if not desc.lhs_termlist:
            self.problem(where, "formula", f"{formula!r} needs a response: 'y ~ terms'.")
            return set()
        names: set[str] = set()
        for term in [*desc.lhs_termlist, *desc.rhs_termlist]:
            for factor in term.factors:
                names |= _names_in(factor.code)
        return {n for n in names if not _resolvable(n, None)}

    def check_columns(
        self, names: set[str], opts: dict[str, Any], data: Path | None, where: str
    ) -> None:
        """Report formula names, weights and offset that are not columns of the data."""
        frame = self.frames.get(data) if data is not None else None
        if frame is None:
            return
        columns = [str(c) for c in frame.columns]
        shown = ", ".join(columns[:30]) + (", ..." if len(columns) > 30 else "")
        checks = [("formula", n) for n in sorted(names)]
        columns_keys = ("weights", "offset", "freq_weights", "exposure", "groups")
        checks += [(k, opts[k]) for k in columns_keys if k in opts]
        for key, column in checks:
            if column not in frame.columns:
                hint = suggest(column, columns)
                msg = f"column {column!r} is not in {data.name}.{hint} Columns: {shown}."
                self.problem(where, key, msg)
