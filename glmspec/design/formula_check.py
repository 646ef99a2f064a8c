"""What a formula may contain: its terms checked on their Python syntax tree, and evaluated
without Python's builtins.

patsy evaluates every formula term as Python, so a formula from a shared spec file could run
any code (``np.log(x + 0*__import__("os").system(...))``). In *safe* mode (the default for spec
files and the command line; ``glmspec.fit(..., formula_mode="safe")``) each term is parsed
with :mod:`ast` after patsy has split the formula into terms, and only this is allowed:

* data columns, also as ``Q("any name")``; numbers; ``+ - * / // % **``, comparisons (also
  with text: ``I(name == "bob")``), ``& |``;
* ``I(...)``; ``C(col)``, ``C(col, Treatment("b"))``, ``C(col, Sum)``, ``C(col, levels=[...])``
  with the contrasts Treatment, Sum, Diff, Helmert and Poly (text and numbers only as the
  arguments of ``C()`` and the contrasts);
* the numpy functions analysts use, bare or as ``np.f`` / ``numpy.f`` (:data:`FUNCTIONS`);
* patsy's ``center``, ``standardize``, ``scale`` and the splines ``bs``, ``cr``, ``cc`` (with
  literal options such as ``df=4``);
* R's ``factor(x)``, read as ``C(x)`` (in every mode), and ``cbind(successes, failures)``
  for a binomial response.

Anything else -- other attributes, dunder names, subscripts, unknown functions, lambdas,
comprehensions, text outside ``Q()``/``C()`` -- is a :class:`~glmspec.errors.FormulaError`
naming the term. The safe mode's evaluation namespace (:func:`safe_eval_env`) holds only the
allowed functions and no ``__builtins__``, so a gap in the check still cannot reach
``__import__``.

In every mode a term that is not a Python expression is an error naming it: a column named
like a Python keyword (``y ~ class``) gets the hint ``Q("class")``.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Iterable
from typing import Any

import numpy as np
import patsy
import patsy.builtins
import patsy.eval

from glmspec.design.formula_parse import formula_factors
from glmspec.errors import FormulaError

FORMULA_MODES = ("python", "safe")

#: numpy functions allowed in safe mode, as ``np.f``/``numpy.f`` and (those of
#: :data:`BARE_FUNCTIONS`) as ``f``.
FUNCTIONS = (
    "log",
    "log1p",
    "log2",
    "log10",
    "exp",
    "expm1",
    "sqrt",
    "abs",
    "absolute",
    "power",
    "square",
    "sin",
    "cos",
    "tan",
    "arctan",
    "tanh",
    "floor",
    "ceil",
)
BARE_FUNCTIONS = ("log", "log1p", "log2", "log10", "exp", "expm1", "sqrt", "abs", "power")
BARE_FUNCTIONS += ("square", "sin", "cos", "tan")
_TRANSFORMS = ("center", "standardize", "scale", "bs", "cr", "cc")
_CONTRASTS = ("Treatment", "Sum", "Diff", "Helmert", "Poly")
_NUMPY_NAMES = ("np", "numpy")
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_OPERATORS += (ast.BitAnd, ast.BitOr)
_COMPARISONS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_TEXT_OPTIONS = ("constraints",)  # cr/cc(x, df=4, constraints="center")


def cbind(*columns: Any) -> np.ndarray:
    """R's ``cbind`` for the binomial response ``cbind(successes, failures) ~ ...``."""
    return np.column_stack([np.asarray(c, dtype=float) for c in columns])


def _numpy_namespace() -> types.SimpleNamespace:
    """``np`` in safe mode: the allowed functions only, not the module."""
    return types.SimpleNamespace(**{name: getattr(np, name) for name in FUNCTIONS})


def safe_namespace() -> dict[str, Any]:
    """The names a safe-mode formula can use besides its columns."""
    numpy_ns = _numpy_namespace()
    namespace: dict[str, Any] = {name: getattr(np, name) for name in BARE_FUNCTIONS}
    namespace.update({name: numpy_ns for name in _NUMPY_NAMES})
    for name in ("I", "Q", "C", *_TRANSFORMS, *_CONTRASTS):
        namespace[name] = getattr(patsy.builtins, name)
    namespace["cbind"] = cbind
    return namespace


class _NoBuiltinsEnvironment(patsy.EvalEnvironment):
    """A patsy evaluation environment whose code runs with empty ``__builtins__``.

    patsy evaluates with ``eval(code, {}, namespace)``, which gives the code every builtin
    (``__import__`` included); here the globals hold an empty ``__builtins__``. ``subset``
    (which patsy calls while learning a term) keeps the class, as ``with_outer_namespace``
    does.
    """

    def eval(self, expr: str, source_name: str = "<string>", inner_namespace=None) -> Any:
        code = compile(expr, source_name, "eval", self.flags, False)
        inner = {} if inner_namespace is None else inner_namespace
        scope = patsy.eval.VarLookupDict([inner, self.namespace])
        return eval(code, {"__builtins__": {}}, scope)  # noqa: S307 - checked, no builtins

    def subset(self, names: Iterable[str]) -> _NoBuiltinsEnvironment:
        namespace = self.namespace
        return type(self)([{name: namespace[name] for name in names}], self.flags)


def safe_eval_env() -> patsy.EvalEnvironment:
    """The evaluation environment of safe mode: :func:`safe_namespace`, no builtins."""
    return _NoBuiltinsEnvironment([safe_namespace()])


def check_mode(formula_mode: Any) -> str:
    """Return ``formula_mode`` if it is one of :data:`FORMULA_MODES`, else raise FormulaError."""
    if formula_mode not in FORMULA_MODES:
        raise FormulaError(
            f"formula_mode must be 'python' (patsy: terms are Python) or 'safe' (columns, "
            f"numbers and an allowlist of functions), got {formula_mode!r}."
        )
    return formula_mode


OFFSET_HINT = (
    " offset() in a formula is not supported: give the offset as a column (offset='col', "
    "the spec's offset key, --offset col); for offset(log(x)) in a log-link count model use "
    "exposure='x'."
)


def check_safe(formula: str, desc: patsy.ModelDesc, hint: str = "") -> None:
    """Raise :class:`FormulaError` naming the first term of ``desc`` that safe mode refuses.

    Parameters
    ----------
    formula : str
        As written, for the message.
    desc : patsy.ModelDesc
        From :func:`glmspec.design.formula_parse.parse_formula`.
    hint : str
        Appended to the message: how to opt in to Python in the caller's words.
    """
    functions = {*BARE_FUNCTIONS, "I", "cbind", *_TRANSFORMS}
    for factor in formula_factors(desc):
        reason = _Refusal(functions).of(ast.parse(factor.code, mode="eval").body)
        if reason is not None:
            raise FormulaError(
                f"formula {formula!r}: term {factor.code!r} is not allowed: {reason}.{hint}"
            )


class _Refusal:
    """Why an expression is not allowed in safe mode (None when it is)."""

    def __init__(self, functions: set[str]) -> None:
        self.functions = functions

    def of(self, node: ast.AST) -> str | None:
        """The reason for ``node`` or the first of its parts, or None."""
        if isinstance(node, ast.Name):
            if node.id.startswith("__"):
                return f"the name {node.id!r} is reserved by Python"
            return None
        if isinstance(node, ast.Constant):
            return _literal_refusal(node)
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, _OPERATORS):
                return f"the operator in {ast.unparse(node)!r} is not arithmetic"
            if isinstance(node.op, ast.Pow) and not (_has_name(node.left) or _has_name(node.right)):
                return f"{ast.unparse(node)!r} is a power of constants; write the number"
            return self.of(node.left) or self.of(node.right)
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                return f"the operator in {ast.unparse(node)!r} is not arithmetic"
            return self.of(node.operand)
        if isinstance(node, ast.Compare):
            if not all(isinstance(op, _COMPARISONS) for op in node.ops):
                return f"the comparison in {ast.unparse(node)!r} is not allowed"
            # a text level compared with a column, I(name == "bob"), is data, not code
            operands = [node.left, *node.comparators]
            return self.all(n for n in operands if not _is_text(n))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            return f"attribute {ast.unparse(node)!r} is not allowed (only np.<function>(...))"
        if isinstance(node, ast.Subscript):
            return f"subscript {ast.unparse(node)!r} is not allowed"
        if isinstance(node, ast.Lambda):
            return "lambda is not allowed"
        kind = type(node).__name__
        return f"{kind} expressions ({ast.unparse(node)!r}) are not allowed"

    def all(self, nodes: Iterable[ast.AST]) -> str | None:
        for node in nodes:
            reason = self.of(node)
            if reason is not None:
                return reason
        return None

    def call(self, node: ast.Call) -> str | None:
        func = node.func
        if isinstance(func, ast.Attribute):
            base = func.value
            if not (
                isinstance(base, ast.Name) and base.id in _NUMPY_NAMES and func.attr in FUNCTIONS
            ):
                return f"{ast.unparse(func)!r} is not an allowed function ({_allowed()})"
        elif not isinstance(func, ast.Name):
            return f"{ast.unparse(func)!r} is not an allowed function"
        elif func.id == "offset":
            return "offset() is not supported in formulas." + OFFSET_HINT[:-1]
        elif func.id == "Q":
            return self.column_call(node)
        elif func.id == "C":
            return self.factor_call(node)
        elif func.id in _CONTRASTS:
            return f"{func.id}() is allowed only as the contrast of C(column, {func.id}(...))"
        elif func.id not in self.functions:
            return f"{func.id!r} is not an allowed function ({_allowed()})"
        if any(isinstance(a, ast.Starred) for a in node.args):
            return "*args are not allowed"
        for kw in node.keywords:
            if kw.arg is None:
                return "**kwargs are not allowed"
            reason = _option_refusal(kw.value, kw.arg in _TEXT_OPTIONS)
            if reason is not None:
                return f"option {kw.arg}= of {ast.unparse(func)}(): {reason}"
        return self.all(node.args)

    def column_call(self, node: ast.Call) -> str | None:
        ok = len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant)
        if not ok or not isinstance(node.args[0].value, str):
            return 'Q() takes one column name in quotes, Q("name")'
        return None

    def factor_call(self, node: ast.Call) -> str | None:
        if not node.args or len(node.args) > 2 or any(kw.arg is None for kw in node.keywords):
            return "C() takes a column and optionally a contrast: C(col, Treatment('b'))"
        contrast = node.args[1] if len(node.args) == 2 else None
        for kw in node.keywords:
            if kw.arg == "contrast":
                contrast = kw.value
            elif kw.arg == "levels":
                reason = _option_refusal(kw.value, text=True)
                if reason is not None:
                    return f"levels= of C(): {reason}"
            else:
                return f"C() has no option {kw.arg}= (contrast=, levels=)"
        if contrast is not None:
            reason = _contrast_refusal(contrast)
            if reason is not None:
                return reason
        return self.of(node.args[0])


def _allowed() -> str:
    return "allowed: " + ", ".join([*BARE_FUNCTIONS, "I", "C", "Q", *_TRANSFORMS, "np.<f>"])


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _has_name(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) for n in ast.walk(node))


def _literal_refusal(node: ast.Constant, text: bool = False) -> str | None:
    value = node.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None
    if isinstance(value, str):
        if text:
            return None
        return (
            f'the text {value!r} is allowed only in Q("..."), as an argument of C() or '
            "compared with a column"
        )
    return f"{value!r} is not a number"


def _option_refusal(node: ast.AST, text: bool = False) -> str | None:
    """A function option must be a literal: a number, True/False/None, a list of numbers."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or node.value is None:
            return None
        return _literal_refusal(node, text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _option_refusal(node.operand)
    if isinstance(node, (ast.List, ast.Tuple)):
        for item in node.elts:
            reason = _option_refusal(item, text)
            if reason is not None:
                return reason
        return None
    return f"{ast.unparse(node)!r} is not a literal (number, True/False, list of numbers)"


def _contrast_refusal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name) and node.id in _CONTRASTS:
        return None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _CONTRASTS
        and all(kw.arg is not None for kw in node.keywords)
    ):
        for arg in [*node.args, *(kw.value for kw in node.keywords)]:
            reason = _option_refusal(arg, text=True)
            if reason is not None:
                return f"contrast {ast.unparse(node)!r}: {reason}"
        return None
    return (
        f"the contrast {ast.unparse(node)!r} is not one of {', '.join(_CONTRASTS)} "
        "(e.g. C(col, Treatment(reference='b')))"
    )
