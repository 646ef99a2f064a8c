"""The binomial unit deviance of a 0/1 response (closed form) and of proportions (bd0 form).

References from mpmath at 50 digits: ``-2 log(mu)`` where ``y = 1`` and ``-2 log1p(-mu)``
where ``y = 0``. Tolerance: 4 ulps relative (one rounding of ``1 - mu`` recovered exactly,
one ``log``, a few products); a form that took ``log(1 - mu)`` directly would be off by
``1e-16 / mu`` relative for small means (1e-6 at ``mu = 1e-10``).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from glmspec.families import Binomial
from glmspec.families.saddle import bd0

ULP = np.finfo(float).eps


def _means() -> np.ndarray:
    rng = np.random.default_rng(11)
    near_one = 1.0 - np.logspace(-16.5, -1, 60)
    means = np.concatenate([np.logspace(-320, -1, 120), near_one, rng.random(120), [0.25, 0.5]])
    return means[(means > 0) & (means < 1)]


@pytest.mark.parametrize("outcome", [0.0, 1.0])
def test_binary_response_deviance_equals_the_exact_log_to_ulps(outcome: float) -> None:
    means = _means()
    got = Binomial().unit_deviance(np.full_like(means, outcome), means)
    with mpmath.workdps(50):
        exact = np.array(
            [
                float(-2 * (mpmath.log(m) if outcome else mpmath.log1p(-mpmath.mpf(m))))
                for m in means
            ]
        )
    positive = exact > 0
    assert np.all(got[~positive] == 0.0)  # mean of the outcome seen rounds to 1
    relative = np.abs(got[positive] - exact[positive]) / exact[positive]
    assert relative.max() <= 4 * ULP


def test_proportions_and_binary_rows_mixed_take_the_bd0_form_for_proportions() -> None:
    y = np.array([0.3, 1.0, 0.0, 0.7, 0.5, 1.0])
    mu = np.array([0.4, 0.2, 0.2, 0.7, 1e-9, 1.0 - 1e-12])
    got = Binomial().unit_deviance(y, mu)
    bd0_form = 2.0 * (bd0(y, mu) + bd0(1.0 - y, 1.0 - mu))
    np.testing.assert_allclose(got, bd0_form, rtol=8 * ULP, atol=0)
    assert got.shape == y.shape


def test_outcome_with_mean_zero_has_infinite_deviance_and_perfect_fit_positive_zero() -> None:
    got = Binomial().unit_deviance(np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0]))
    assert np.all(np.isinf(got[:2])) and np.all(got[:2] > 0)
    assert np.all(got[2:] == 0.0) and not np.any(np.signbit(got[2:]))


def test_shapes_follow_broadcasting() -> None:
    family = Binomial()
    assert family.unit_deviance(np.ones((2, 3)), np.full(3, 0.5)).shape == (2, 3)
    np.testing.assert_allclose(
        family.unit_deviance(np.array([[1.0, 0.0]]), np.array([[0.3, 0.3]])),
        [[-2 * np.log(0.3), -2 * np.log(0.7)]],
        rtol=4 * ULP,
    )
