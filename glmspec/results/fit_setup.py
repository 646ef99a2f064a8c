"""How a model was fitted, in words: covariance type, weights, offset and exposure.

One home for these lines, shown by ``summary()`` and by the report's model box, so that a
cluster-robust fit or an exposure is never presented as a plain model-based fit with
"offset: none".
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["covariance_label", "fit_setup"]


def covariance_label(res: Any) -> str:
    """The covariance of the coefficients, e.g. ``"cluster-robust (CR1), 21 clusters"``."""
    if getattr(res.spec, "penalty", None) is not None:
        return "none (penalized fit: no standard errors)"
    cov_type = getattr(res, "cov_type", "nonrobust")
    if cov_type == "nonrobust":
        scaled = "" if res.family.fixed_scale else "dispersion x "
        return f"nonrobust ({scaled}inverse Fisher information)"
    if cov_type == "cluster":
        n_groups = len(np.unique(np.asarray(res.groups).astype(str)))
        return f"cluster-robust sandwich, {n_groups} clusters (CR1: G/(G-1) (n-1)/(n-k))"
    source = "R sandwich::vcovHC" if cov_type in ("HC1", "HC2", "HC3") else "White"
    return f"{cov_type} heteroscedasticity-robust sandwich ({source})"


def fit_setup(res: Any) -> dict[str, str]:
    """Covariance, prior weights, frequency weights, offset and exposure of a fit.

    Parameters
    ----------
    res : GLMResults or MultinomialResults

    Returns
    -------
    dict
        Labels (``"covariance"``, ``"prior weights"``, ``"frequency weights"``, ``"offset"``,
        ``"exposure"``) to a short description; ``"none"`` where the option was not given.
    """
    spec = res.spec
    exposure = getattr(spec, "exposure", None)
    return {
        "covariance": covariance_label(res),
        "prior weights": _given(spec.weights),
        "frequency weights": _given(getattr(spec, "freq_weights", None)),
        "offset": _given(spec.offset),
        "exposure": "none"
        if exposure is None
        else f"{exposure} (its log is added to the linear predictor)",
    }


def _given(value: Any) -> str:
    return "none" if value is None else str(value)
