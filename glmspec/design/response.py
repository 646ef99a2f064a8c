"""Evaluating a response column whose family reads it as a whole (the multinomial's classes).

How a response is read (binomial 0/1, proportions or two count columns; multinomial class
codes) is the family's: :meth:`glmspec.families.Family.read_response`. This module only
evaluates the formula's left-hand side where patsy's numeric coding would lose the labels.
"""

from __future__ import annotations

from typing import Any

from glmspec.design.formula import design_info_levels
from glmspec.errors import FormulaError, ResponseError


def lhs_levels(info) -> tuple | None:
    """The classes of a factor left-hand side (its first categorical factor), else None."""
    levels = design_info_levels(info)
    return next(iter(levels.values())) if levels else None


def response_values(frame, lhs_desc, eval_env, name) -> Any:
    """The values of a single-column left-hand side, as evaluated (labels kept)."""
    factors = [f for term in lhs_desc for f in term.factors]
    if len(factors) != 1:
        raise ResponseError(f"multinomial response {name!r} must be a single column.")
    try:
        return eval_env.eval(factors[0].code, inner_namespace=frame)
    except Exception as exc:  # noqa: BLE001 - patsy evaluates arbitrary user code
        raise FormulaError(f"cannot evaluate the response {name!r}: {exc}") from exc
