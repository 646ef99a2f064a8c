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

from glmspec.design.formula import resolvable
from glmspec.design.formula_check import check_safe
from glmspec.design.formula_parse import factor_names, formula_factors, parse_formula
from glmspec.errors import FormulaError, GLMSpecError, SpecError, suggest
from glmspec.families import canonical_family_name
from glmspec.inference.emmeans import formula_factors as term_factors
from glmspec.inference.emmeans import normalise_term
from glmspec.options import COLUMN_OPTIONS, option_problems, value_problem
from glmspec.spec.format import (
    CHECK_AGAINST,
    CHECK_KEYS,
    ENGINES,
    MODEL_KEYS,
    OPTION_KEYS,
    OPTION_TYPES,
    REPORT_DROP1,
    REPORT_FORMATS,
    REPORT_INTERVALS,
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


def rule_message(key: str, error: GLMSpecError) -> str:
    """A rule's message as a spec reports it under ``key``: without the leading option name
    (``"tol must ..."``, ``"theta=2.0 applies only ..."``) that the key already gives."""
    text = str(error)
    if text.startswith(f"{key} must "):
        return text.removeprefix(f"{key} ")
    if text.startswith(f"{key}=") and " " in text:
        return text.split(" ", 1)[1]
    return text


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
        inference = self.report_inference(report, [e for e in entries if e is not None])
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
            **inference,
            engine=self.engine,
            scheduler=scheduler,
            python_formulas=self.python_formulas,
        )
        return fields, {p: f for p, f in self.frames.items() if f is not None}

    def report_inference(self, report: dict[str, Any], entries: list[ModelEntry]) -> dict:
        """``[report]``'s ``intervals``, ``drop1`` and ``emmeans`` as Spec fields; an emmeans
        term must be a factor of some model's formula."""
        intervals, drop1 = report.get("intervals", "wald"), report.get("drop1", "none")
        typed = self.typed(intervals, str, "[report]", "intervals")
        if typed and intervals not in REPORT_INTERVALS:
            msg = not_one_of("interval method", intervals, REPORT_INTERVALS)
            self.problem("[report]", "intervals", msg)
        if self.typed(drop1, str, "[report]", "drop1") and drop1 not in REPORT_DROP1:
            self.problem("[report]", "drop1", not_one_of("drop1 test", drop1, REPORT_DROP1))
        terms = report.get("emmeans", [])
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            msg = f'must be a list of factors as in the formulas (["C(g)"]), got {terms!r}.'
            self.problem("[report]", "emmeans", msg)
            terms = []
        factors = {normalise_term(f) for e in entries for f in term_factors(e.formula)}
        for term in terms:
            if normalise_term(term) not in factors:
                hint = suggest(normalise_term(term), sorted(factors))
                msg = f"{term!r} is not a term of any model's formula.{hint}"
                self.problem("[report]", "emmeans", msg)
        return {
            "report_intervals": intervals,
            "report_drop1": None if drop1 == "none" else drop1,
            "report_emmeans": tuple(dict.fromkeys(terms)),
        }

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
            error = value_problem(key, value)
            if error is None:
                out[key] = canonical_family_name(value) if key == "family" else value
            else:
                self.problem(where, key, rule_message(key, error))
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
        if not family_bad:
            dask = self.engine == "dask"
            rejected = {key for key in table if key in OPTION_KEYS and key not in own}
            for key, error in option_problems(opts, dask=dask, rejected=rejected):
                origin = f" ({key} from [defaults])" if key not in table and key in defaults else ""
                self.problem(where, key, rule_message(key, error) + origin)
        self.check_columns(self.formula_names(formula, where), opts, data, where)
        if len(self.problems) > before:
            return None
        return ModelEntry(name=name, formula=formula, data=data, **opts)

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
        names = factor_names(formula_factors(desc))
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
        checks += [(k, opts[k]) for k in COLUMN_OPTIONS if k in opts]
        for key, column in checks:
            if column not in frame.columns:
                hint = suggest(column, columns)
                msg = f"column {column!r} is not in {data.name}.{hint} Columns: {shown}."
                self.problem(where, key, msg)
