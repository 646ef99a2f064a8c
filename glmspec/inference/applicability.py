"""Which fits an inference computation applies to: one guard for what needs a
maximum-likelihood GLM in memory (profile intervals, marginal effects, drop1), and the one
refusal of what a fit on Dask data does not offer."""

from __future__ import annotations

from typing import Any

from glmspec.errors import GLMSpecError, SpecificationError


def not_offered(what: str, error: type[GLMSpecError] = SpecificationError) -> GLMSpecError:
    """The error for ``what``, which needs every row in memory, on a fit on Dask data."""
    return error(
        f"{what} needs every row in memory and is not offered for a fit on Dask data; fit a "
        "sample in memory (ddf.sample(...).compute()) for it."
    )


def require_ml_glm_in_memory(
    res: Any, what: str, error: type[GLMSpecError] = SpecificationError
) -> None:
    """Refuse ``what`` (raising ``error``) unless ``res`` is a GLM (not multinomial) fitted by
    maximum likelihood (not penalized) with its rows in memory (not on Dask data)."""
    if getattr(res, "engine", None) == "dask":
        raise not_offered(what, error)
    if getattr(res, "model_kind", None) != "glm":
        raise error(f"{what} needs a GLM, not a multinomial fit.")
    if res.spec.penalty is not None:
        raise error(f"{what} needs a maximum-likelihood fit; this fit is penalized.")
