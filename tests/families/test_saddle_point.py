"""Loader's saddle-point pieces (:mod:`glmspec.families.saddle`) against mpmath at high precision.

The references are computed from the definitions, ``log Gamma(n + 1) - (n + 1/2) log n + n -
log(2 pi) / 2`` and ``x log(x / m) + m - x``, with enough digits that their own cancellation
cannot matter: the working precision grows with the size of the cancelling terms (``n log n``
is ~7e302 at n = 1e300 for a result of ~1e-301, so about 610 digits there).

Tolerances: a few ulps where the implementation claims double precision, 1e-14 relative for
``bd0`` (its direct form's terms exceed the result at most tenfold) and for ``stirlerr`` below
1 (the direct form from log Gamma, whose terms stay below ~10 times the result there).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from glmspec.families.saddle import bd0, stirlerr


def _digits_for(*magnitudes: float) -> int:
    """Working digits: 40 beyond the cancellation of terms of size ``magnitude * log``."""
    largest = max(abs(float(mpmath.log10(mpmath.mpf(abs(m)) + 1))) for m in magnitudes)
    return int(60 + 2 * largest)


def stirlerr_reference(n: float) -> float:
    with mpmath.workdps(_digits_for(n, 1.0 / n)):
        m = mpmath.mpf(n)
        value = mpmath.loggamma(m + 1) - (m + mpmath.mpf(1) / 2) * mpmath.log(m) + m
        return float(value - mpmath.log(2 * mpmath.pi) / 2)


def bd0_reference(x: float, m: float) -> float:
    with mpmath.workdps(_digits_for(x, m, 1.0 / m, 1.0 / x if x else 1.0)):
        x_, m_ = mpmath.mpf(x), mpmath.mpf(m)
        if x == 0:
            return float(m_)
        return float(x_ * mpmath.log(x_ / m_) + m_ - x_)


def _relative_errors(got, want):
    """|got - want| relative to want, or to the smallest normal float where the exact value is
    below it (a subnormal or underflowed result carries fewer than 53 bits, whoever computes it)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return np.abs(got - want) / np.maximum(np.abs(want), np.finfo(float).tiny)


@pytest.fixture
def rng():
    # one generator per test: the draws must not depend on which tests ran before (pytest-xdist
    # spreads a module's tests over workers)
    return np.random.default_rng(2026)


def test_stirlerr_from_1e_minus_300_to_1e300(rng):
    n = np.r_[10.0 ** rng.uniform(-300, 300, 200), 1e-300, 1e300, 1e154, 1e155, 15.7e6, 6181.0]
    want = [stirlerr_reference(v) for v in n]
    errors = _relative_errors(stirlerr(n), want)
    assert errors[n >= 1].max() < 4 * np.finfo(float).eps, n[np.argmax(errors)]
    assert errors.max() < 1e-14


def test_stirlerr_between_0_and_30_and_at_every_half_integer(rng):
    """Where the methods change (table, recurrence from log Gamma, series) and around them."""
    n = np.r_[
        rng.uniform(0, 30, 300),
        np.arange(0.5, 40.5, 0.5),
        np.nextafter([1.0, 5.25, 15.0, 15.5], [0, 0, 0, 0]),
        np.nextafter([1.0, 5.25, 15.0, 15.5], [9, 9, 99, 99]),
        1e-10,
    ]
    want = [stirlerr_reference(v) for v in n]
    errors = _relative_errors(stirlerr(n), want)
    assert errors[n >= 1].max() < 8 * np.finfo(float).eps, n[n >= 1][np.argmax(errors[n >= 1])]
    assert errors.max() < 1e-14, n[np.argmax(errors)]


def test_stirlerr_of_zero_is_its_limit_and_negative_is_nan():
    assert stirlerr(np.array([0.0]))[0] == np.inf
    with np.errstate(invalid="ignore"):
        assert np.isnan(stirlerr(np.array([-1.0]))[0])


def test_bd0_far_apart_from_1e_minus_300_to_1e300(rng):
    x = 10.0 ** rng.uniform(-300, 300, 300)
    m = 10.0 ** rng.uniform(-300, 300, 300)
    want = [bd0_reference(a, b) for a, b in zip(x, m, strict=True)]
    errors = _relative_errors(bd0(x, m), want)
    assert errors.max() < 1e-14, (x[np.argmax(errors)], m[np.argmax(errors)])


def test_bd0_near_equal_arguments(rng):
    """x = m (1 + d) with |d| from 1e-17 to 1: the series band, its edge and the direct form."""
    m = 10.0 ** rng.uniform(-300, 300, 400)
    d = 10.0 ** rng.uniform(-17, 0, 400) * rng.choice([-1.0, 1.0], 400)
    x = m * (1 + d)
    x = np.r_[x, m[:5] * (1 + 2 / 9), m[:5] * (1 - 2 / 11)]  # |v| = 0.1, the band's edge
    m = np.r_[m, m[:5], m[:5]]
    keep = x != m
    want = [bd0_reference(a, b) for a, b in zip(x[keep], m[keep], strict=True)]
    errors = _relative_errors(bd0(x[keep], m[keep]), want)
    assert errors.max() < 1e-14, (x[keep][np.argmax(errors)], m[keep][np.argmax(errors)])


def test_bd0_is_zero_at_x_equal_m_and_m_at_x_zero():
    m = np.array([1e-300, 1e-5, 1.0, 7.0, 1e174, 1e300])
    np.testing.assert_array_equal(bd0(m, m), 0.0)
    np.testing.assert_array_equal(bd0(np.zeros_like(m), m), m)


def test_bd0_near_the_largest_float():
    """x + m overflows; the result is still right (or inf where the exact value exceeds it)."""
    x = np.array([1.7e308, 1.0e308, 1.7e308, 1e300])
    m = np.array([1.6e308, 1.7e308, 1e-300, 1e-300])
    want = [bd0_reference(a, b) for a, b in zip(x, m, strict=True)]
    got = bd0(x, m)
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], np.asarray(want)[finite], rtol=1e-14)
    assert np.all(np.isinf(got[~finite]))


def test_bd0_broadcasts_and_leaves_its_inputs_alone():
    x = np.array([0.0, 1.0, 5.0])
    before = x.copy()
    out = bd0(x, 2.0)
    np.testing.assert_array_equal(x, before)
    assert out.shape == (3,)
    assert out[1] == pytest.approx(bd0_reference(1.0, 2.0), rel=1e-15)
