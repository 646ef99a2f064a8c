"""Tail probabilities and quantiles of the tests' reference distributions.

The normal, Student's t, chi-square and F distributions through :mod:`scipy.special`'s ufuncs,
the functions :mod:`scipy.stats` evaluates for these distributions, with its rules around them:
NaN where a parameter is not positive (or NaN) or a probability lies outside [0, 1], and a
survival probability of 1 at or below the support's lower end. Importing :mod:`scipy.stats`
adds about 0.7 s to every command's start-up (half of ``glmspec --help``); these few functions
need none of it. ``tests/inference/test_distributions.py`` requires them to equal
:mod:`scipy.stats` bit for bit, edge cases included.

Arguments broadcast; a scalar result is a numpy float, as :mod:`scipy.stats` returns it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from scipy import special


def _evaluate(
    function: Callable[..., np.ndarray],
    x: ArrayLike,
    params: tuple[ArrayLike, ...],
    edges: Callable[[np.ndarray], list[tuple[np.ndarray, float]]],
) -> np.ndarray | np.floating:
    """``function(*params, x)`` where every parameter is positive, NaN elsewhere; ``edges(x)``
    lists ``(where, value)`` pairs that override it (support ends, probabilities 0 and 1)."""
    x, *params = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (x, *params)))
    valid = np.ones(x.shape, dtype=bool)
    for param in params:
        valid &= param > 0  # (False for NaN)
    with np.errstate(invalid="ignore"):
        value = np.where(valid, function(*params, x), np.nan)
        for where, edge in edges(x):
            value = np.where(valid & where, edge, value)
    return value[()]


def _survival_edges(lower: float) -> Callable[[np.ndarray], list[tuple[np.ndarray, float]]]:
    """A survival function: 1 at or below the support's lower end, 0 at +inf, NaN at NaN."""
    return lambda x: [(x <= lower, 1.0), (x == np.inf, 0.0), (np.isnan(x), np.nan)]


def _quantile_edges(
    lower: float, upper: float
) -> Callable[[np.ndarray], list[tuple[np.ndarray, float]]]:
    """A quantile function at ``q``: ``lower`` at 0, ``upper`` at 1, NaN outside [0, 1]."""
    return lambda q: [(q == 0.0, lower), (q == 1.0, upper), (~((q >= 0.0) & (q <= 1.0)), np.nan)]


_REAL_LINE_SF = _survival_edges(-np.inf)
_HALF_LINE_SF = _survival_edges(0.0)


def norm_sf(x: ArrayLike) -> np.ndarray | np.floating:
    """Standard normal survival function ``P(Z > x)`` (:func:`scipy.stats.norm.sf`)."""
    return _evaluate(lambda v: special.ndtr(-v), x, (), _REAL_LINE_SF)


def norm_ppf(q: ArrayLike) -> np.ndarray | np.floating:
    """Standard normal quantile (:func:`scipy.stats.norm.ppf`)."""
    return _evaluate(special.ndtri, q, (), _quantile_edges(-np.inf, np.inf))


def norm_isf(q: ArrayLike) -> np.ndarray | np.floating:
    """Standard normal upper quantile, ``x`` with ``P(Z > x) = q``
    (:func:`scipy.stats.norm.isf`)."""
    return _evaluate(lambda v: -special.ndtri(v), q, (), _quantile_edges(np.inf, -np.inf))


def t_sf(x: ArrayLike, df: ArrayLike) -> np.ndarray | np.floating:
    """Student's t survival function with ``df`` degrees of freedom (:func:`scipy.stats.t.sf`)."""
    return _evaluate(lambda d, v: special.stdtr(d, -v), x, (df,), _REAL_LINE_SF)


def t_isf(q: ArrayLike, df: ArrayLike) -> np.ndarray | np.floating:
    """Student's t upper quantile (:func:`scipy.stats.t.isf`)."""
    return _evaluate(
        lambda d, v: -special.stdtrit(d, v), q, (df,), _quantile_edges(np.inf, -np.inf)
    )


def chi2_sf(x: ArrayLike, df: ArrayLike) -> np.ndarray | np.floating:
    """Chi-square survival function (:func:`scipy.stats.chi2.sf`); 1 at ``x <= 0``."""
    return _evaluate(special.chdtrc, x, (df,), _HALF_LINE_SF)


def chi2_ppf(q: ArrayLike, df: ArrayLike) -> np.ndarray | np.floating:
    """Chi-square quantile (:func:`scipy.stats.chi2.ppf`)."""
    return _evaluate(
        lambda d, v: 2.0 * special.gammaincinv(d / 2.0, v), q, (df,), _quantile_edges(0.0, np.inf)
    )


def f_sf(x: ArrayLike, dfn: ArrayLike, dfd: ArrayLike) -> np.ndarray | np.floating:
    """F survival function with ``dfn`` and ``dfd`` degrees of freedom (:func:`scipy.stats.f.sf`);
    1 at ``x <= 0``."""
    return _evaluate(special.fdtrc, x, (dfn, dfd), _HALF_LINE_SF)
