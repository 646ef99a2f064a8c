"""Validation of a spec: every problem of a mapping with the TOML file's structure is
collected (file, model, key, allowed values) and raised together in one :class:`SpecError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

import pandas as pd
import patsy

from glmspec.design.build import MISSING_POLICIES
from glmspec.design.formula import resolvable
from glmspec.design.formula_check import check_safe, names_in, parse_formula
from glmspec.errors import FormulaError, GLMSpecError, SpecError, suggest
from glmspec.families import (
    EXPOSURE_FAMILIES,
    FAMILIES,
    FAMILY_NAMES,
    FAMILY_PARAMS,
    canonical_family_name,
    describe_allowed_links,
)
from glmspec.families.links import LINKS, get_link
from glmspec.inference.covariance import COV_TYPES, normalize_cov_type
from glmspec.options import PENALTIES
from glmspec.spec.format import (
    CHECK_AGAINST,
    CHECK_KEYS,
    ENGINES,
    MODEL_KEYS,
    OPTION_KEYS,
    OPTION_TYPES,
    REPORT_FORMATS,
    REPORT_KEYS,
    SAFE_NAME,
    TOP_KEYS,
    ModelEntry,
    read_dask,
    read_table,
)

TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "a list",
}


def type_name(value: Any) -> str:
    """How a value's type is named in messages ("a string", "a table", ...)."""
    kind = value if isinstance(value, type) else type(value)
    return "a table" if issubclass(kind, Mapping) else TYPE_NAMES.get(kind, kind.__name__)


def not_one_of(what: str, value: Any, allowed: Iterable[str]) -> str:
    """The message for a value that is not one of ``allowed``, with a did-you-mean hint."""
    allowed = list(allowed)
    hint = suggest(str(value).strip().lower(), allowed)
    return f"unknown {what} {value!r}; allowed: {', '.join(allowed)}.{hint}"


def option_problem(key: str, value: Any) -> str | None:
    """Why a fit() option's (well-typed) value is invalid, or None."""
    try:
        if key == "family":
            canonical_family_name(value)
        elif key == "link":
            get_link(value)
    except GLMSpecError:
        names = FAMILY_NAMES if key == "family" else [*LINKS, "power(p)"]
        return not_one_of(key, value, names)
    if key == "cov_type":
        try:
            normalize_cov_type(value)
        except GLMSpecError:
            return not_one_of("covariance type", value, COV_TYPES)
    if key == "penalty" and value not in PENALTIES:
        return not_one_of("penalty", value, PENALTIES)
    if key == "alpha" and not value >= 0:
        return f"must be a number >= 0, got {value!r}."
    if key == "l1_ratio" and not 0 <= value <= 1:
        return f"must be a number in [0, 1], got {value!r}."
    if key == "missing" and value not in MISSING_POLICIES:
        return not_one_of("missing-value policy", value, MISSING_POLICIES)
    if key == "max_iter" and value < 1:
        return f"must be a positive integer, got {value!r}."
    if key == "tol" and not 0 < value < 1:
        return f"must be a number in (0, 1), got {value!r}."
    if key == "theta" and not value > 0:
        return f"must be a positive number (negative binomial shape), got {value!r}."
    if key == "var_power" and not 1 < value < 2:
        return f"must be a number in the open interval (1, 2), got {value!r}."
    return None


class SpecBuilder:
    """Collects every problem of one spec while turning its mapping into a spec's fields."""

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
        """Record one problem of ``key`` in ``where``."""
        self.problems.append(f"{where}, key {key!r}: {message}")
        self.details.append((where, key, message))

    def keys(self, table: Any, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
        """The known keys of ``table``; unknown ones are reported."""
        if not isinstance(table, Mapping):
            self.problems.append(f"{where}: must be a table, got {type_name(table)}.")
            return {}
        for key in table:
            if key not in allowed:
                self.problem(where, key, not_one_of("key", key, allowed))
        return {k: v for k, v in table.items() if k in allowed}

    def typed(self, value: Any, kind: type, where: str, key: str) -> bool:
        """Whether ``value`` is a ``kind`` (a float may be an int; a bool is never a number)."""
        kinds = (float, int) if kind is float else (kind,)
        if isinstance(value, kinds) and not isinstance(value, bool):
            return True
        got = f"{type_name(value)} {value!r}"
        self.problem(where, key, f"must be {type_name(kind)}, got {got}.")
        return False

    def build(
        self, mapping: Any, path: Path | None
    ) -> tuple[dict[str, Any], dict[Path, pd.DataFrame]]:
        """The fields of the :class:`~glmspec.spec.model.Spec` and the data frames read, or a
        :class:`SpecError` listing every problem."""
        top = self.keys(mapping, TOP_KEYS, "top level")
        stem = path.stem if path else Path(self.source).stem
        title = top.get("title", "spec" if stem.startswith("<") or not stem else stem)
        if not self.typed(title, str, "top level", "title") or not title.strip():
            title = "spec"
        self.engine = top.get("engine", "pandas")
        if self.typed(self.engine, str, "top level", "engine") and self.engine not in ENGINES:
            self.problem("top level", "engine", not_one_of("engine", self.engine, ENGINES))
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
            msg = f"must be true or false, got {type_name(python)} {python!r}."
            self.problem("top level", "python_formulas", msg)
        self.has_data = "data" in top
        data = self.data_file(top["data"], "top level") if self.has_data else None
        defaults = self.options(self.keys(top.get("defaults", {}), OPTION_KEYS, "[defaults]"))
        models = top.get("model", [])
        if not isinstance(models, list) or not models:
            got = "" if models == [] else f", got {type_name(models)}"
            msg = f"the spec needs a list of [[model]] tables (at least one){got}."
            self.problem("top level", "model", msg)
            models = []
        entries = [self.model(model, i, defaults, data) for i, model in enumerate(models, 1)]
        check = self.keys(top.get("check", {}), CHECK_KEYS, "[check]")
        against, tol = check.get("against", "statsmodels"), check.get("tol", 1e-6)
        if self.typed(against, str, "[check]", "against") and against not in CHECK_AGAINST:
            self.problem("[check]", "against", not_one_of("check", against, CHECK_AGAINST))
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
                    self.problem("[report]", "formats", not_one_of("format", fmt, REPORT_FORMATS))
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
        fields = dict(
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
        return fields, {p: f for p, f in self.frames.items() if f is not None}

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
            read = read_dask if self.engine == "dask" else read_table
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
            kind = OPTION_TYPES.get(key, str)
            if key not in OPTION_KEYS or not self.typed(value, kind, where, key):
                continue
            problem = option_problem(key, value)
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
            if not SAFE_NAME.match(name):
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
        ok = FAMILIES[family].allows_link(opts["link"])
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
        needs_power = "var_power" in FAMILIES[family].required_params
        if needs_power and "var_power" not in opts and "var_power" not in given:
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
                names |= names_in(factor.code)
        return {n for n in names if not resolvable(n, None)}

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
