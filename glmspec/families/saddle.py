"""Loader's saddle-point pieces: log-likelihoods and deviances without cancellation.

The Poisson log-probability ``y log(mu) - mu - log(y!)`` adds terms of size ``y log y`` to
get a result of size ``log y``: at ``y = 1e12`` the terms are ~3e13 and the answer keeps four
digits, and at means of 1e174 it is 0 or inf. Loader (2000, "Fast and accurate computation of
binomial probabilities") writes the same quantities with two functions whose values are
computed to full relative precision,

* :func:`stirlerr` -- ``log(n!) - log(sqrt(2 pi n) (n/e)^n)``, Stirling's error, and
* :func:`bd0` -- ``x log(x/m) + m - x``, the deviance part, >= 0,

so that ``log dpois(y, mu) = -stirlerr(y) - bd0(y, mu) - log(2 pi y) / 2`` and the unit
deviance is ``2 bd0(y, mu)``. R's ``dpois``/``dbinom``/``dnbinom`` use them; this is a
vectorised numpy rendering with a wider series band for ``bd0`` and the logarithm of the ratio
taken apart when the ratio over- or underflows (R < 4.4 returns inf there).
"""

from __future__ import annotations

import numpy as np
from scipy import special

_EPS = np.finfo(float).eps
_LOG_2PI = float(np.log(2.0 * np.pi))
_TINY = np.finfo(float).tiny

# stirlerr(k / 2) for k = 1..30, correctly rounded (computed with mpmath at 40 digits): below
# 8 the direct formula loses up to 3 digits to cancellation, and counts are mostly integers.
_HALVES = np.array(
    [
        np.inf,  # stirlerr(0): the limit; callers treat zero counts apart
        0.15342640972002736, 0.08106146679532726, 0.05481412105191765, 0.0413406959554093,
        0.03316287351993629, 0.02767792568499834, 0.023746163656297496, 0.020790672103765093,
        0.018488450532673187, 0.016644691189821193, 0.015134973221917378, 0.013876128823070748,
        0.012810465242920227, 0.01189670994589177, 0.011104559758206917, 0.010411265261972096,
        0.009799416126158804, 0.009255462182712733, 0.008768700134139386, 0.00833056343336287,
        0.00793411456431402, 0.007573675487951841, 0.007244554301320383, 0.00694284010720953,
        0.006665247032707682, 0.006408994188004207, 0.006171712263039458, 0.0059513701127588475,
        0.0057462165130101155, 0.005554733551962801,
    ]
)  # fmt: skip
# Stirling's series stirlerr(n) = sum_k (-1)^(k+1) S_k / n^(2k-1), S_k = |B_2k| / (2k (2k-1)).
_K = np.arange(1, 18)
_STIRLING = np.abs(special.bernoulli(34)[2::2]) / (2 * _K * (2 * _K - 1))
# The series is asymptotic: its smallest term, ~exp(-2 pi n), reaches 1e-13 of the result at
# n = 5.25 (where R starts it); from 8 on it is below 1e-20. Below, a recurrence shifts up.
_SERIES_FROM = 8.0
# bd0's series in v = (x - m) / (x + m): bd0 = s (1 + v (1 + v) sum_k v^2k / (2k + 3)),
# s = (x - m) v. Inside |v| < 0.1 eight terms give double precision; outside, the direct form
# loses at most one digit (its terms exceed the result at most tenfold).
_BAND = 0.1
_ODD = 1.0 / (2.0 * np.arange(0, 40) + 3.0)


def stirlerr(n: np.ndarray) -> np.ndarray:
    """Stirling's error ``log(n!) - log(sqrt(2 pi n) (n / e)^n)`` for ``n >= 0``.

    Parameters
    ----------
    n : array_like
        Non-negative reals (need not be integers).

    Returns
    -------
    ndarray
        To a few ulps for ``n >= 1``: a table at half-integers up to 15, Stirling's series
        from 8 on (with as many terms as the smallest ``n`` needs), a recurrence up into the
        series' range between 1 and 8; to ~1e-15 relative below 1 (the direct form from
        ``log Gamma``). ``inf`` at 0, NaN for negative ``n``.
    """
    n = np.asarray(n, dtype=float)
    out = np.empty_like(n)
    twice = 2.0 * n
    table = (n >= 0.0) & (n <= 15.0) & (twice == np.floor(twice))
    out[table] = _HALVES[twice[table].astype(np.intp)]
    series = (n > _SERIES_FROM) & ~table
    if np.any(series):
        m = n[series]
        out[series] = _stirling_series(m, _terms_needed(float(m.min())))
    shifted = ~(table | series) & (n >= 1.0)
    if np.any(shifted):
        out[shifted] = _stirlerr_shifted(n[shifted])
    direct = ~(table | series | shifted) & (n >= 0.0)
    out[n < 0] = np.nan
    if np.any(direct):
        m = n[direct]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_m = np.log(m)
            # log Gamma(m + 1) - (m + 1/2) log m + m - log(2 pi) / 2 with log Gamma(m) + log m
            # for log Gamma(m + 1): one rounding less; below 1 nothing cancels much
            out[direct] = special.gammaln(m) + m * (1.0 - log_m) + 0.5 * (log_m - _LOG_2PI)
    return out


def _stirlerr_shifted(n: np.ndarray) -> np.ndarray:
    """stirlerr for 1 <= n <= 8: up into the series' range by the recurrence
    ``stirlerr(n) = stirlerr(n + 1) + (n + 1/2) log(1 + 1/n) - 1``, whose increment is
    ``sum_j u^2j / (2j + 1)`` with ``u = 1 / (2n + 1)`` (no cancellation; the direct form
    from log Gamma loses three digits here)."""
    steps = np.floor(_SERIES_FROM - n) + 1.0
    top = n + steps
    total = _stirling_series(top, _terms_needed(float(top.min())))
    for i in range(int(steps.max())):
        u = 1.0 / (2.0 * (n + i) + 1.0)
        w = u * u
        total += np.where(i < steps, w * _odd_reciprocals(w, 1.0 / 9.0), 0.0)
    return total


def _odd_reciprocals(w: np.ndarray, top: float) -> np.ndarray:
    """``sum_k w^k / (2k + 3)`` for ``0 <= w <= top < 1``, to double precision (Horner)."""
    terms = 1 if top == 0.0 else int(np.clip(np.ceil(np.log(_EPS / 8) / np.log(top)), 1, 40))
    total = np.full_like(w, _ODD[terms - 1])
    for k in range(terms - 2, -1, -1):
        total *= w  # in place: this loop is the deviance's hot path in IRLS
        total += _ODD[k]
    return total


def _terms_needed(smallest: float) -> int:
    """How many terms of Stirling's series reach double precision for every ``n >= smallest``."""
    ratio = _STIRLING * smallest ** -(2.0 * _K - 1.0) / (_STIRLING[0] / smallest)
    small = np.flatnonzero(ratio < _EPS / 4)
    return int(small[0]) if small.size else len(_STIRLING)


def _stirling_series(n: np.ndarray, terms: int) -> np.ndarray:
    inverse_square = (1.0 / n) ** 2  # underflows to 0 rather than overflowing n * n
    total = np.zeros_like(n)
    for k in range(terms - 1, -1, -1):  # Horner in 1/n^2, alternating signs
        total = _STIRLING[k] - total * inverse_square
    return total / n


def bd0(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Loader's deviance part ``x log(x / m) + m - x`` (>= 0) without cancellation.

    Parameters
    ----------
    x : array_like
        Values ``>= 0`` (``x log x`` is 0 at ``x = 0``).
    m : array_like
        Means ``> 0``; broadcast against ``x``.

    Returns
    -------
    ndarray
        To a few ulps for ``x`` near ``m`` (a series in ``v = (x - m) / (x + m)``), to ~1e-15
        relative elsewhere; finite whenever the exact value is below the largest float, also
        when ``x / m`` over- or underflows.
    """
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(m, dtype=float))
    # errstate: 0/0, log of 0 and overflow are handled below (and warnings cost 5x the math)
    with np.errstate(all="ignore"):
        diff = x - m
        v = x + m
        if np.isinf(v).any():
            # x + m overflowed (both near 1e308): halving first is exact
            halves = np.where(np.isinf(v), 0.5 * x + 0.5 * m, v)
            v = np.where(np.isinf(v), (0.5 * x - 0.5 * m) / halves, diff / halves)
        else:
            v = np.divide(diff, v, out=v)
        near = np.flatnonzero(np.abs(v) < _BAND)
        if near.size == v.size:
            return _bd0_series(diff, v)
        # x log(x/m) - (x - m). The ratio is raised to the smallest normal float: at x = 0 that
        # gives x * log(tiny) = 0 and bd0 = m; where x > 0 and the ratio underflowed, m exceeds
        # x * 745 by a factor of 1e300, so the change is far below m's last digit.
        out = np.divide(x, m)
        np.maximum(out, _TINY, out=out)
        np.log(out, out=out)
        out *= x
        out -= diff
        if not np.isfinite(out).all():
            _bd0_overflowed(x, m, out)
        if near.size:
            out[near] = _bd0_series(diff[near], v[near])
    return out


def _bd0_series(diff: np.ndarray, v: np.ndarray) -> np.ndarray:
    """bd0 for |v| < 0.1: ``s (1 + v (1 + v) sum_k v^2k / (2k + 3))``, ``s = (x - m) v``."""
    w = v * v
    top = float(w.max()) if w.size else 0.0
    series = _odd_reciprocals(w, top if top < _BAND * _BAND else _BAND * _BAND)
    series *= 1.0 + v
    series *= v
    series += 1.0
    series *= np.multiply(diff, v, out=w)
    return series


def _bd0_overflowed(x: np.ndarray, m: np.ndarray, out: np.ndarray) -> None:
    """Rows whose ratio x / m overflowed (its log from the two logs), and bd0(0, 0) = 0."""
    bad = ~np.isfinite(out)
    apart = bad & (x > 0) & np.isfinite(x) & (m > 0) & np.isfinite(m)
    xa, ma = x[apart], m[apart]
    out[apart] = xa * (np.log(xa) - np.log(ma)) + (ma - xa)
    out[bad & (x == 0) & (m == 0)] = 0.0  # the limit of bd0(0, m) = m
