"""``glmspec.fit`` on a Dask DataFrame: learn the design, scan, run the shared IRLS loop."""

from __future__ import annotations

import logging
from typing import Any

from glmspec.distributed.design import (
    categorical_levels,
    design_info,
    learn_plan,
    response_classes,
    response_name,
)
from glmspec.distributed.engine import (
    DaskRows,
    DaskThetaRows,
    Partitions,
    raise_partition_errors,
    response_check,
    scan_block,
)
from glmspec.distributed.results import DaskGLMResults, DaskNegBinResults, PartitionedDesign
from glmspec.errors import DataError
from glmspec.families import Family, NegativeBinomial
from glmspec.options import FitOptions
from glmspec.solvers.irls import irls
from glmspec.solvers.negbin import ThetaFit, fit_negbin_rows

log = logging.getLogger("glmspec.distributed")


def fit_dask(formula: str, ddf: Any, family: Family, spec: FitOptions) -> DaskGLMResults:
    """Fit ``formula`` on the Dask DataFrame ``ddf``: the same loop as in memory, with every
    sum over rows computed partition by partition on the workers.

    Parameters
    ----------
    formula : str
    ddf : dask.dataframe.DataFrame
        Not modified, and never collected to the client.
    family : Family
        With its link.
    spec : FitOptions
        Options; weights, offset, freq_weights and exposure must be column names.

    Returns
    -------
    DaskGLMResults

    Raises
    ------
    glmspec.errors.GLMSpecError
        As the in-memory fit; problems found in the data name the partitions they are in.
    """
    plan = learn_plan(
        formula,
        ddf,
        spec.family,
        weights=spec.weights,
        offset=spec.offset,
        freq_weights=spec.freq_weights,
        exposure=spec.exposure,
        missing=spec.missing,
        formula_mode=spec.formula_mode,
    )
    partitions = Partitions(ddf, plan)
    response = response_name(plan)
    check = None if family is None else response_check(family)
    # the IRLS start's sums come with the scan, except where the first fit is of another
    # family (glm.nb starts with a Poisson fit) or not IRLS (multinomial)
    ml_theta = isinstance(family, NegativeBinomial) and family.theta is None
    start = None if family is None or ml_theta else family
    scan = partitions.map_reduce(scan_block, check, response, start, skip_empty=False)
    raise_partition_errors(scan)
    if scan.get("rows", 0) == 0:
        raise DataError("no rows are left to fit (every row has a missing value).")
    if not scan["weight_sum"] > 0:
        raise DataError("all weights are zero.")
    info = design_info(plan)
    design = PartitionedDesign(
        plan=plan,
        column_names=tuple(info.column_names),
        response_name=response,
        n_dropped=scan["n_dropped"],
        n_rows=scan["rows"],
        nobs=scan["nobs"],
        weight_sum=scan["weight_sum"],
        weighted_mean=scan["weighted_y"] / scan["weight_sum"],
        offset_nonzero=scan["offset_nonzero"],
        factor_levels=categorical_levels(plan),
        classes=response_classes(plan),
        plan_partitions=ddf.npartitions,
        weights_given=spec.weights is not None,
        offset_given=spec.offset is not None,
        freq_weights=spec.freq_weights,
        exposure=spec.exposure,
    )

    log.info(
        "fitting %s (%s) on %d partitions, %d rows",
        formula,
        spec.family,
        ddf.npartitions,
        design.n_rows,
    )

    if family is None:
        from glmspec.distributed.multinomial import fit_multinomial_dask

        return fit_multinomial_dask(ddf, partitions, design, spec)

    def rows(current: Family, start: dict | None = None) -> DaskRows:
        return DaskRows(partitions, current, design.column_names, design.weighted_mean, start)

    if isinstance(family, NegativeBinomial):
        if family.theta is None:  # glm.nb's alternation, every sum on the workers

            def theta_rows(record):
                return DaskThetaRows(partitions, record, family.link)

            family, record, theta_fit = fit_negbin_rows(
                rows, theta_rows, family, max_iter=spec.max_iter, tol=spec.tol
            )
        else:
            record = irls(rows(family, scan), family, max_iter=spec.max_iter, tol=spec.tol)
            theta_fit = ThetaFit(family.theta, float("nan"), False)
        return DaskNegBinResults(spec, design, family, record, ddf, partitions, theta_fit)
    record = irls(rows(family, scan), family, max_iter=spec.max_iter, tol=spec.tol)
    log.info("%s after %d iterations", record.message, record.n_iter)
    return DaskGLMResults(spec, design, family, record, ddf, partitions)
