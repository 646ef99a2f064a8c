"""Reading the response of the families that need more than one number per row: the binomial
(0/1, a two-level factor, proportions, or two count columns as R's ``cbind``) and the
multinomial (class codes and labels).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import patsy.builtins

from glmspec.design.formula import (
    design_info_levels,
)
from glmspec.errors import (
    FormulaError,
    ResponseError,
)


def binomial_response(lhs: patsy.DesignMatrix, name: str):
    """Proportion, number of trials and class labels from a binomial left-hand side."""
    info = lhs.design_info
    levels = design_info_levels(info)
    values = np.asarray(lhs, dtype=float)
    if levels:
        classes = next(iter(levels.values()))
        if len(classes) != 2:
            raise ResponseError(
                f"binomial response {name!r} has {len(classes)} classes {list(classes)}; it "
                "needs exactly two (use family='multinomial' for more)."
            )
        return values[:, 1], np.ones(len(values)), tuple(classes)
    if values.shape[1] == 1:
        return values[:, 0], np.ones(len(values)), None
    if values.shape[1] == 2:
        if np.any(values < 0):
            raise ResponseError(f"binomial counts {name!r} must be non-negative.")
        trials = values.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(trials > 0, values[:, 0] / trials, 0.0)
        return y, trials, None
    raise ResponseError(
        f"binomial response {name!r} has {values.shape[1]} columns; give one column or two "
        "count columns 'successes + failures ~ ...'."
    )


def multinomial_response(frame, lhs_desc, eval_env, name):
    """Class codes and labels (sorted; unused levels dropped) of a multinomial response."""
    factors = [f for term in lhs_desc for f in term.factors]
    if len(factors) != 1:
        raise ResponseError(f"multinomial response {name!r} must be a single column.")
    try:
        values = eval_env.eval(factors[0].code, inner_namespace=frame)
    except Exception as exc:  # noqa: BLE001 - patsy evaluates arbitrary user code
        raise FormulaError(f"cannot evaluate the response {name!r}: {exc}") from exc
    raw = np.asarray(values)
    if raw.dtype.kind == "f" and np.any(raw != np.round(raw)):
        raise ResponseError(
            f"multinomial response {name!r} holds non-integer numbers; it must be a factor, "
            "text or integer class labels (a continuous response needs another family)."
        )
    categorical = pd.Categorical(raw if not hasattr(values, "cat") else values)
    classes = tuple(categorical.categories)
    codes = categorical.codes.astype(np.int64)
    present = np.unique(codes)
    if len(present) < 2:
        raise ResponseError(
            f"multinomial response {name!r} has a single class {classes[present[0]]!r}; "
            "it needs at least two."
        )
    if len(present) < len(classes):
        # unused categories are dropped so every class is estimable
        used = [classes[i] for i in present]
        categorical = pd.Categorical(categorical, categories=used)
        classes, codes = tuple(used), categorical.codes.astype(np.int64)
    return codes, classes
