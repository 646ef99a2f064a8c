"""Sums over the partitions of a Dask DataFrame: the row engine of a distributed IRLS fit.

:func:`glmspec.solvers.irls.irls` asks its engine for sums over rows (deviance, ``X'WX``, ``X'v``,
the decrement's rounding floor); :class:`DaskRows` computes each as one task per partition --
the partition's :class:`~glmspec.distributed.design.Block` is built inside the worker and the
per-block functions of :mod:`glmspec.solvers.irls` run on it -- and adds the results in a tree
reduction (:func:`tree_sum`). Only ``p x p`` matrices and scalars reach the client, where the
loop, the convergence test and the factorisation run unchanged.

Each evaluation at new coefficients also computes the Newton system there (one pass, not two,
per iteration when no step is halved): passes over the data, not the small products, are the
cost when partitions are read from disk.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from glmspec.distributed.design import Block, BlockPlan, build_block
from glmspec.errors import GLMSpecError
from glmspec.families import Family
from glmspec.families.negbin import ArrayThetaRows
from glmspec.inference.dispersion import pearson_chi2
from glmspec.linalg import factorize_gram
from glmspec.solvers.engine import (
    Point,
    evaluate_at,
    noise_from_parts,
    noise_parts,
    row_system,
    starting_point,
    working_quantities,
)

_TREE_ARITY = 8


def add_sums(*parts: dict) -> dict:
    """Add dicts of sums key by key: numbers and arrays add, ``valid`` flags and, lists join."""
    out: dict = {}
    for part in parts:
        for key, value in part.items():
            if key not in out:
                out[key] = value
            elif key == "valid":
                out[key] = out[key] and value
            elif isinstance(value, list):
                out[key] = out[key] + value
            elif isinstance(value, tuple):
                out[key] = tuple(map(operator.add, out[key], value))
            else:
                out[key] = out[key] + value
    return out


def tree_sum(tasks: Sequence[Any], combine: Callable = add_sums) -> Any:
    """Reduce delayed per-partition results pairwise-ish (``_TREE_ARITY`` at a time)."""
    from dask import delayed

    tasks = list(tasks)
    while len(tasks) > 1:
        tasks = [
            delayed(combine)(*tasks[i : i + _TREE_ARITY]) for i in range(0, len(tasks), _TREE_ARITY)
        ]
    return tasks[0]


@dataclass(frozen=True)
class PartitionError:
    """A problem found in one partition, raised on the client with its number."""

    partition: int
    kind: type
    message: str


def _guarded_block(frame, plan: BlockPlan, index: int) -> Block | PartitionError:
    try:
        return build_block(frame, plan)
    except GLMSpecError as exc:
        return PartitionError(index, type(exc), str(exc))


class Partitions:
    """A Dask DataFrame's partitions as lazily built blocks, with map-and-reduce over them."""

    def __init__(self, ddf: Any, plan: BlockPlan) -> None:
        from dask import delayed

        columns = list(dict.fromkeys([*plan.template.columns, *plan.extra_columns()]))
        self.plan = plan
        self.n_partitions = ddf.npartitions
        self._blocks = [
            delayed(_guarded_block)(part, plan, i)
            for i, part in enumerate(ddf[columns].to_delayed())
        ]

    def map_reduce(self, func: Callable, *args: Any, skip_empty: bool = True) -> dict:
        """``add_sums`` of ``func(block, *args)`` over every block (``skip_empty``: every
        block with a row of positive weight)."""
        import dask
        from dask import delayed

        tasks = [
            delayed(_apply)(func, block, index, skip_empty, *args)
            for index, block in enumerate(self._blocks)
        ]
        (total,) = dask.compute(tree_sum(tasks))
        return total


def _apply(func: Callable, block, index: int, skip_empty: bool, *args: Any) -> dict:
    if isinstance(block, PartitionError):
        return {"errors": [block]}
    if skip_empty and not np.any(block.weights > 0):
        return {}  # no row with positive weight: nothing to add (an empty partition too)
    try:
        return func(block, *args)
    except GLMSpecError as exc:
        return {"errors": [PartitionError(index, type(exc), str(exc))]}


def raise_partition_errors(sums: dict) -> None:
    """Raise the first problem found, naming each partition that had it."""
    errors = sorted(sums.get("errors", []), key=lambda e: e.partition)
    if not errors:
        return
    first = errors[0]
    same = [e for e in errors if e.kind is first.kind]
    shown = "; ".join(f"partition {e.partition}: {e.message}" for e in same[:5])
    more = f" (and {len(same) - 5} more partitions)" if len(same) > 5 else ""
    hint = ""
    if "missing" in first.message:
        hint = "; clean them or pass missing='drop' to drop those rows"
    raise first.kind(f"{shown}{more}{hint}.")


def scan_block(
    block: Block, family_check: Callable | None, response: str, start: Family | None = None
) -> dict:
    """Counts and sums the fit needs before the first iteration; checks the response. With
    ``start``, also :func:`start_block`'s sums for that family (one pass fewer)."""
    if family_check is not None:
        family_check(block.y, block.prior, response)
    w = block.weights
    used = block.prior > 0
    freq = block.freq
    starting = start_block(block, start) if start is not None and np.any(w > 0) else {}
    return starting | {
        "rows": len(block.y),
        "n_dropped": block.n_dropped,
        "nobs": float(np.count_nonzero(used) if freq is None else np.sum(freq[used])),
        "weight_sum": float(np.sum(w)),
        "weighted_y": float(np.sum(w * block.y)),
        "offset_nonzero": bool(np.any(block.offset)),
    }


def response_check(family: Family):
    """``family.check_response`` as a function of one partition's arrays (run on each)."""

    def check(y, prior, name):
        family.check_response(y, prior, name)

    return check


def start_block(block: Block, family: Family) -> dict:
    """Deviance and the working-response system at the family's starting means."""
    eta, mu, deviance = starting_point(family, block.y, block.weights)
    system = row_system(family, block.X, block.y, eta, mu, block.offset, block.weights, "working")
    return {"deviance": deviance, "working": system}


def evaluate_block(block: Block, family: Family, coef: np.ndarray, systems: bool) -> dict:
    """Validity and deviance at ``coef``; with ``systems`` also the Fisher (and, for a
    non-canonical link, observed) Newton system there."""
    w = block.weights
    state = evaluate_at(family, block.y, block.X, coef, block.offset, w)
    if state is None:
        return {"valid": False, "deviance": 0.0}
    eta, mu, deviance = state
    out: dict = {"valid": True, "deviance": deviance}
    if systems:
        working = working_quantities(family, block.y, mu, eta, w)
        for kind in ("fisher",) if family.is_canonical else ("fisher", "observed"):
            out[kind] = row_system(
                family, block.X, block.y, eta, mu, block.offset, w, kind, working=working
            )
    return out


def block_means(block: Block, link, coef: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The block's linear predictor (offset included) and mean at ``coef`` (None: zeros)."""
    with np.errstate(all="ignore"):
        eta = block.offset if coef is None else block.X @ coef + block.offset
        return eta, link.inverse(eta)


def noise_block(block: Block, family: Family, coef: np.ndarray) -> dict:
    """This block's :func:`glmspec.solvers.engine.noise_parts` at ``coef``."""
    eta, mu = block_means(block, family.link, coef)
    return {"noise": [noise_parts(family, block.X, block.y, mu, eta, coef, block.weights)]}


class DaskRows:
    """The engine :func:`glmspec.solvers.irls.irls` runs on for Dask data (see
    :class:`glmspec.solvers.engine.InMemoryRows` for the methods)."""

    #: the evaluation pass computes the systems (in double precision) before they are asked
    #: for: neither single precision nor steering between informations saves a pass
    single_precision = False
    steers = False
    information_cost = 0.0

    def __init__(
        self,
        partitions: Partitions,
        family: Family,
        column_names: Sequence[str],
        weighted_mean: float,
        start: dict | None = None,
    ) -> None:
        self.partitions, self.family = partitions, family
        self._start = start  # the scan pass's sums, with start_block's when it computed them
        self.column_names = tuple(column_names)
        self.n_columns = len(self.column_names)
        self.weighted_mean = weighted_mean
        #: Passes over the data so far (one per reduction).
        self.passes = 0

    def _pass(self, func: Callable, *args: Any) -> dict:
        self.passes += 1
        sums = self.partitions.map_reduce(func, *args)
        raise_partition_errors(sums)
        return sums

    def start(self) -> Point:
        sums, self._start = self._start, None
        if sums is None or "working" not in sums:
            sums = self._pass(start_block, self.family)
        return Point(None, sums["deviance"], {"working": sums["working"]})

    def evaluate(self, coef: np.ndarray) -> Point | None:
        sums = self._pass(evaluate_block, self.family, coef, True)
        if not sums.get("valid", True) or not np.isfinite(sums["deviance"]):
            return None
        return Point(coef, float(sums["deviance"]), sums)

    def system(
        self, point: Point, kind: str, single: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        if kind not in point.rows:
            point.rows.update(self._pass(evaluate_block, self.family, point.coef, True))
        return point.rows[kind]

    def gradient(self, point: Point) -> np.ndarray:
        return self.system(point, "fisher")[1]

    def factorize(self, gram: np.ndarray, point: Point):
        return factorize_gram(gram, self.column_names)

    def solve(self, factor, point: Point, kind: str, rhs: np.ndarray) -> np.ndarray:
        return factor.solve(rhs)

    def noise(self, point: Point, factor) -> float:
        return noise_from_parts(self._pass(noise_block, self.family, point.coef)["noise"], factor)

    def intercept_start(self) -> Point | None:
        if "Intercept" not in self.column_names:
            return None
        coef = np.zeros(self.n_columns)
        with np.errstate(all="ignore"):
            coef[self.column_names.index("Intercept")] = self.family.link.link(
                np.asarray(self.weighted_mean)
            )
        return self.evaluate(coef)

    def row_arrays(self, point: Point):
        return None, None, None


def statistics_block(block: Block, family: Family, coef: np.ndarray | None, mu_const) -> dict:
    """Pearson chi-square and deviance at ``coef`` (or at the constant mean ``mu_const``)."""
    mu = _means(block, family, coef, mu_const)
    w = block.weights
    with np.errstate(all="ignore"):
        deviance = family.deviance(block.y, mu, w)
    return {"pearson": pearson_chi2(family, block.y, mu, w), "deviance": float(deviance)}


def loglik_block(block: Block, family: Family, coef, mu_const, scale: float) -> dict:
    """Full log-likelihood of the block's rows at dispersion ``scale``."""
    mu = _means(block, family, coef, mu_const)
    llf = family.loglik(block.y, mu, block.prior, scale, block.trials, freq_weights=block.freq)
    return {"llf": float(llf)}


def _means(block: Block, family: Family, coef, mu_const) -> np.ndarray:
    if coef is None and mu_const is not None:
        return np.full(len(block.y), float(mu_const))
    eta, mu = block_means(block, family.link, coef)
    return family.link.unclamp(eta, mu)  # the likelihood's means, as GLMResults'


def theta_block(block: Block, coef: np.ndarray, link, theta: float | None) -> dict:
    """The negative binomial theta sums of one block at the means of ``coef``: R's moment
    sums when ``theta`` is None, else log-likelihood, score and information in theta."""
    rows = ArrayThetaRows(block.y, block_means(block, link, coef)[1], block.weights)
    if theta is None:
        return {"moment": rows.moment()}
    return {"at": rows.at(theta)}


class DaskThetaRows:
    """:class:`glmspec.families.negbin.ArrayThetaRows`' sums, added over the partitions (one pass
    each) at the means of an IRLS record's coefficients."""

    def __init__(self, partitions: Partitions, record, link) -> None:
        self.partitions, self.coef, self.link = partitions, record.coef, link

    def moment(self) -> tuple[float, float]:
        return self.partitions.map_reduce(theta_block, self.coef, self.link, None)["moment"]

    def at(self, theta: float) -> tuple[float, float, float]:
        return self.partitions.map_reduce(theta_block, self.coef, self.link, theta)["at"]
