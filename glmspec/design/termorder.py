"""The terms of a formula in R's order, with their design columns and R's marginality rule.

patsy orders the design's columns by the numeric factors of the terms (``y ~ x + C(f)`` gives
the ``C(f)`` columns before ``x``); R's ``terms()`` keeps the order in which the terms are
written, stably sorted by their number of factors (main effects, then two-way interactions,
...). Sequential anova and ``drop1`` list terms in R's order, so both take them from
:func:`formula_terms`.
"""

from __future__ import annotations

from dataclasses import dataclass

import patsy


@dataclass(frozen=True)
class ModelTerm:
    """One formula term (not the intercept).

    Attributes
    ----------
    name : str
        patsy's name of the term, e.g. ``"C(f)"`` or ``"x:C(f)"``.
    columns : tuple of int
        Positions of its columns in the design matrix.
    factors : frozenset of str
        Names of its factors (variables), for the marginality rule.
    """

    name: str
    columns: tuple[int, ...]
    factors: frozenset[str]


def formula_terms(design_info: patsy.DesignInfo, formula: str | None = None) -> list[ModelTerm]:
    """The non-intercept terms of a design in R's order.

    Parameters
    ----------
    design_info : patsy.DesignInfo
        The fitted design's ``design_info``.
    formula : str, optional
        The formula as written; its right-hand side gives the written order. Without it (or
        if it cannot be matched to the design's terms) patsy's term order is used before the
        sort by degree.

    Returns
    -------
    list of ModelTerm
        Sorted by number of factors, ties in written order, as R's ``terms.formula``.
    """
    slices = design_info.term_slices
    written = _written_order(formula)
    patsy_order = list(slices)

    def position(term) -> tuple[int, int, int]:
        if term in written:
            return (len(term.factors), 0, written.index(term))
        return (len(term.factors), 1, patsy_order.index(term))

    ordered = sorted((t for t in patsy_order if t.factors), key=position)
    return [
        ModelTerm(
            name=term.name(),
            columns=tuple(range(slices[term].start, slices[term].stop)),
            factors=frozenset(f.name() for f in term.factors),
        )
        for term in ordered
    ]


def r_column_order(design_info: patsy.DesignInfo | None, n_columns: int, formula=None) -> list[int]:
    """The design's columns in R's model-matrix order: the intercept, then each term's columns
    in R's term order (:func:`formula_terms`); ``range(n_columns)`` without a ``design_info``.

    R's ``glm.fit`` finds aliased columns walking this order, so ``y ~ x + C(f)`` with ``x`` a
    combination of the factor's columns gives the last factor column NA in R, not ``x``.
    """
    if design_info is None:
        return list(range(n_columns))
    slices = design_info.term_slices
    first = [j for t, s in slices.items() if not t.factors for j in range(s.start, s.stop)]
    rest = [j for term in formula_terms(design_info, formula) for j in term.columns]
    order = first + rest
    return order if sorted(order) == list(range(n_columns)) else list(range(n_columns))


def _written_order(formula: str | None) -> list:
    if not isinstance(formula, str):
        return []
    try:
        return list(patsy.ModelDesc.from_formula(formula).rhs_termlist)
    except patsy.PatsyError:
        return []


def droppable(terms: list[ModelTerm]) -> list[ModelTerm]:
    """Terms that can be dropped without leaving a higher-order term without its margin.

    R's ``drop.scope``: a term whose factors are all contained in another term (``a`` and
    ``b`` in ``a + b + a:b``) stays.
    """
    return [t for t in terms if not any(t is not u and t.factors <= u.factors for u in terms)]
