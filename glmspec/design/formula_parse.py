"""A formula as text and as terms: patsy's split into terms (with R's ``factor(x)`` read as
``C(x)``), each term checked to be a Python expression, and the names and functions a term's
code uses, read from its syntax tree. What safe mode allows is :mod:`.formula_check`.
"""

from __future__ import annotations

import ast
import functools
import io
import keyword
import tokenize
from collections.abc import Iterable, Iterator
from typing import Any

import patsy

from glmspec.errors import FormulaError


def formula_factors(desc: patsy.ModelDesc, response: bool = True) -> Iterator[Any]:
    """The factors (patsy ``EvalFactor``) of every term of ``desc``: the response's (unless
    ``response`` is False), then the right-hand side's."""
    terms = [*desc.lhs_termlist, *desc.rhs_termlist] if response else desc.rhs_termlist
    for term in terms:
        yield from term.factors


def _r_idioms(formula: str) -> str:
    """``formula`` with R's ``factor(x)`` written as patsy's ``C(x)`` (tokens, not text, so
    that a column or a string holding "factor(" is left alone)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(formula).readline))
    except (tokenize.TokenError, SyntaxError):
        return formula  # patsy reports what is wrong with it
    starts = [0]
    for line in formula.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out = formula
    for i in reversed(range(len(tokens) - 1)):
        tok, after = tokens[i], tokens[i + 1]
        before = tokens[i - 1].string if i else ""
        if tok.string == "factor" and after.string == "(" and before != ".":
            begin = starts[tok.start[0] - 1] + tok.start[1]
            out = out[:begin] + "C" + out[begin + len("factor") :]
    return out


def _keyword_in(code: str) -> str | None:
    """The first Python keyword used as a name in ``code`` (``class``, ``lambda``), or None."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    for tok in tokens:
        if tok.type == tokenize.NAME and keyword.iskeyword(tok.string):
            if tok.string not in ("True", "False", "None"):
                return tok.string
    return None


def parse_formula(formula: str) -> patsy.ModelDesc:
    """Split ``formula`` into terms with patsy, after reading ``factor(x)`` as ``C(x)``.

    Parameters
    ----------
    formula : str
        ``"response ~ terms"``.

    Returns
    -------
    patsy.ModelDesc

    Raises
    ------
    FormulaError
        Not a string with ``~``, patsy cannot parse it, or a term is not a Python expression
        (for a keyword used as a column name, the message suggests ``Q("name")``).
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError(f"formula must be a string 'response ~ terms', got {formula!r}.")
    try:
        desc = patsy.ModelDesc.from_formula(_r_idioms(formula))
    except patsy.PatsyError as exc:
        raise FormulaError(f"formula {formula!r} does not parse: {exc}") from exc
    for factor in formula_factors(desc):
        try:
            ast.parse(factor.code, mode="eval")
        except SyntaxError:
            word = _keyword_in(factor.code)
            if word is not None:
                raise FormulaError(
                    f"formula {formula!r}: {word!r} is a Python keyword, so it cannot be "
                    f'written bare; for a column of that name write Q("{word}").'
                ) from None
            raise FormulaError(
                f"formula {formula!r}: term {factor.code!r} is not a valid expression."
            ) from None
    return desc


# A term's code is parsed many times per fit and per prediction (columns needed, numeric
# checks, factor sources): the answers are cached, as frozensets that no caller can alter.
@functools.lru_cache(maxsize=4096)
def names_in(code: str) -> frozenset[str]:
    """Names a factor's code reads as variables (data columns or namespace values, such as
    ``x`` and ``np`` in ``np.log(x)``) and the column names of ``Q("...")``; the names of
    called functions (``log`` in ``log(x)``) are not included."""
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        return frozenset()
    called = {
        id(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in called:
            names.add(node.id)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Q"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
    return frozenset(names)


@functools.lru_cache(maxsize=4096)
def functions_in(code: str) -> frozenset[str]:
    """Names of the functions a factor's code calls by a bare name (``log`` in ``log(x)``)."""
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        return frozenset()
    return frozenset(
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    )


def factor_names(factors: Iterable[Any]) -> set[str]:
    """The names the codes of ``factors`` (patsy factors, e.g. from :func:`formula_factors`)
    read as variables: the union of :func:`names_in` over them."""
    names: set[str] = set()
    for factor in factors:
        names |= names_in(factor.code)
    return names
