"""The options of a fit and every rule about them, in one place for every front end.

:class:`FitOptions` records what the user asked for (``ModelSpec`` is its older name, kept
for the results' ``spec`` attribute). :func:`glmspec.fit`, :func:`glmspec.fit_arrays`, spec
files and the Dask engine check their options with the functions here, so that a rule
(exposure only with a log-link count family, the multinomial's softmax link, the penalties)
reaches every front end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from glmspec.errors import DataError, SpecificationError, suggest
from glmspec.families import EXPOSURE_FAMILIES, Family
from glmspec.families.multinomial import check_softmax_link


@dataclass(frozen=True)
class FitOptions:
    """Every option of a fit, as the user gave it: kept on the results so the fit can be
    reproduced and cross-checked. Built by :func:`glmspec.fit` (also for spec files and
    Dask data) and :func:`glmspec.fit_arrays` after the rules below; the fitting step reads
    ``max_iter``, ``tol`` and the penalty from it."""

    formula: str
    family: str
    link: str
    weights: Any = None
    offset: Any = None
    missing: str = "raise"
    max_iter: int = 100
    tol: float = 1e-8
    freq_weights: Any = None
    exposure: Any = None
    theta: float | None = None
    var_power: float | None = None
    penalty: str | None = None
    alpha: float = 0.0
    l1_ratio: float = 0.0
    singular: str = "error"
    method: str = "ml"
    formula_mode: str = "python"


#: The name the results (``res.spec``) and older code use.
ModelSpec = FitOptions


def check_options(max_iter: int, tol: float) -> None:
    """``max_iter`` a positive integer and ``tol`` in (0, 1)."""
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise DataError(f"max_iter must be a positive integer, got {max_iter!r}.")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise DataError(f"tol must be a number in (0, 1), got {tol!r}.")


#: The penalties ``fit(penalty=...)`` accepts.
PENALTIES = ("l2", "elastic_net")


def penalty_options(penalty, alpha, l1_ratio, multinomial: bool, cov_type: str) -> dict:
    """Validated ``penalty``/``alpha``/``l1_ratio`` for :class:`FitOptions`."""
    if penalty is None:
        if alpha or l1_ratio is not None:
            raise SpecificationError("alpha and l1_ratio need penalty='l2' or 'elastic_net'.")
        return {}
    if penalty not in PENALTIES:
        raise SpecificationError(
            f"unknown penalty {penalty!r}; known: {', '.join(PENALTIES)}."
            f"{suggest(str(penalty), PENALTIES)}"
        )
    if multinomial:
        raise SpecificationError("penalties are not available for the multinomial family.")
    if cov_type != "nonrobust":
        raise SpecificationError("penalized fits have no standard errors: drop cov_type.")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
        raise SpecificationError(f"alpha must be a number >= 0, got {alpha!r}.")
    if penalty == "l2":
        if l1_ratio not in (None, 0, 0.0):
            raise SpecificationError("penalty='l2' has no l1_ratio; use 'elastic_net'.")
        l1_ratio = 0.0
    elif l1_ratio is None or not 0 <= l1_ratio <= 1:
        raise SpecificationError(f"elastic_net needs l1_ratio in [0, 1], got {l1_ratio!r}.")
    return {"penalty": penalty, "alpha": float(alpha), "l1_ratio": float(l1_ratio)}


def check_multinomial_link(link: Any) -> None:
    """The multinomial family's only link is the softmax (``"softmax"`` or ``"logit"``); the
    rule is the family's (:func:`glmspec.families.multinomial.check_softmax_link`)."""
    check_softmax_link(link)


def check_exposure_family(family: Family, exposure: Any) -> None:
    """``exposure=`` needs a log-link count family (it multiplies the mean)."""
    if exposure is None:
        return
    if not family.counts_response or family.link.name != "log":
        raise SpecificationError(
            f"exposure= needs a log-link count model ({', '.join(EXPOSURE_FAMILIES)} with "
            f"link 'log'); this is {family.name} with link {family.link.name!r}. Use offset= "
            "for other models."
        )


def describe_option(option: Any) -> str | None:
    """A column name as given; "array" for arrays; None when absent."""
    if option is None or isinstance(option, str):
        return option
    return "array"
