"""Tests of the shared Newton loop :mod:`glmspec.solvers.newton` on toy problems with known
minima, and of what every fit gets from it: the history records every accepted step, so its
length is ``n_iter`` (issue 13), step halving, and the warning of a loop that stops early."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.errors import ConvergenceWarning
from glmspec.families import get_family
from glmspec.solvers.firth import fit_firth
from glmspec.solvers.irls import fit_irls
from glmspec.solvers.multinomial import fit_multinomial
from glmspec.solvers.newton import MAX_HALVINGS, NewtonProblem, Step, solve
from glmspec.solvers.penalized import Penalty, fit_penalized


@dataclass(frozen=True)
class _Point:
    coef: np.ndarray
    deviance: float


class _Exponential(NewtonProblem):
    """``f(b) = 2 sum(exp(b) - c b)``: the Poisson deviance of one count ``c_j`` per
    coefficient (up to a constant), minimised at ``b = log(c)``. Points with some ``b`` above
    ``bound`` are invalid."""

    def __init__(self, c, bound=np.inf) -> None:
        self.c, self.bound, self.trials = np.asarray(c, dtype=float), bound, 0

    def at(self, coef) -> _Point | None:
        coef = np.asarray(coef, dtype=float)
        with np.errstate(over="ignore"):
            deviance = float(2.0 * np.sum(np.exp(coef) - self.c * coef))
        return _Point(coef, deviance) if np.isfinite(deviance) else None

    def newton_step(self, point, change):
        gradient = 2.0 * (self.c - np.exp(point.coef))  # minus the objective's gradient
        delta = gradient / (2.0 * np.exp(point.coef))  # the Hessian is diagonal
        return Step(delta, float(gradient @ delta))

    def trial(self, point, coef, halvings):
        self.trials += 1
        return None if np.any(coef > self.bound) else self.at(coef)


def _solve(problem, start, **options):
    options = {"max_iter": 100, "tol": 1e-8, "name": "toy Newton"} | options
    return solve(problem, problem.at(start), **options)


def test_toy_problem_converges_to_its_known_minimum():
    problem = _Exponential([1.0, 3.0, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcome = _solve(problem, [0.5, 0.5, 0.5])
    assert outcome.converged and outcome.message == "converged"
    # Newton's method converges quadratically: the minimum to rounding
    np.testing.assert_allclose(outcome.point.coef, np.log(problem.c), rtol=0, atol=1e-12)
    history = outcome.history
    assert len(history) == outcome.n_iter
    assert [h.iteration for h in history] == list(range(1, outcome.n_iter + 1))
    deviance = np.array([h.deviance for h in history])
    assert np.all(np.diff(deviance) <= 1e-12 * np.abs(deviance[:-1]))  # the line search's slack
    assert deviance[-1] == pytest.approx(2.0 * np.sum(problem.c * (1.0 - np.log(problem.c))))
    assert all(h.halvings == 0 for h in history)  # no step of this convex problem overshoots
    # the last step is taken from a point that meets the criterion: tiny change and decrement
    assert history[-1].relative_change < 1e-8 and history[-1].decrement < 1e-16


def test_step_halving_is_triggered_by_invalid_points_and_by_a_rising_objective():
    # from b = -5 the Newton step is e^5 - 1 = 147: far past the valid region (b <= 10)
    problem = _Exponential([1.0], bound=10.0)
    outcome = _solve(problem, [-5.0])
    assert outcome.converged
    assert outcome.history[0].halvings >= 4  # 147 / 2^4 < 10
    np.testing.assert_allclose(outcome.point.coef, [0.0], atol=1e-12)
    # within the valid region the full step raises the objective: halved too
    rising = _solve(_Exponential([1.0]), [-5.0])
    assert rising.converged and rising.history[0].halvings > 0


def test_a_refused_step_stops_the_loop_with_a_warning():
    problem = _Exponential([1.0], bound=-4.0)  # the minimum b = 0 is out of reach
    with pytest.warns(ConvergenceWarning, match="toy Newton did not converge after"):
        outcome = _solve(problem, [-5.0])
    assert not outcome.converged
    assert outcome.message == "step halving could not decrease the objective"
    # the refused iteration counts, but recorded are accepted steps only
    assert len(outcome.history) == outcome.n_iter - 1
    assert problem.trials == sum(h.halvings + 1 for h in outcome.history) + MAX_HALVINGS + 1


def test_iteration_limit_warns_and_records_every_iteration():
    with pytest.warns(
        ConvergenceWarning, match=r"toy Newton did not converge after 2 .*max_iter=2"
    ):
        outcome = _solve(_Exponential([1.0, 50.0]), [-3.0, -3.0], max_iter=2)
    assert not outcome.converged and outcome.n_iter == 2 and len(outcome.history) == 2
    quiet = _Exponential([1.0, 50.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not _solve(quiet, [-3.0, -3.0], max_iter=2, warn=False).converged


def test_test_at_iteration_limit_lets_the_last_point_converge():
    """A problem may test the point reached by the last allowed step (the multinomial fit)."""
    plain = _solve(_Exponential([2.0]), [0.0])
    assert plain.converged and plain.n_iter >= 2

    class TestsLast(_Exponential):
        test_at_iteration_limit = True
        stop_after_converged_step = False

        def stops_before_step(self, step, previous_converged):
            return True

    # the converged point is returned without its step: one iteration fewer than the plain loop
    limited = _solve(TestsLast([2.0]), [0.0], max_iter=plain.n_iter - 1)
    assert limited.converged and limited.n_iter == plain.n_iter - 1
    np.testing.assert_allclose(limited.point.coef, np.log([2.0]), atol=1e-9)


# --------------------------------------------------------------------------------------------
# Every fit: one history row per iteration (issue 13: IRLS recorded one fewer)
# --------------------------------------------------------------------------------------------


def _poisson_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.uniform(0, 1, (n, 2))])
    y = rng.poisson(np.exp(X @ [0.3, 0.8, -0.5])).astype(float)
    return y, X


@pytest.mark.parametrize(
    "family, link", [("poisson", "log"), ("gamma", "inverse"), ("binomial", "probit")]
)
def test_irls_history_has_one_row_per_iteration(family, link):
    y, X = _poisson_data()
    if family == "binomial":
        y = (y > 1).astype(float)
    if family == "gamma":
        y = y + 0.5
    record = fit_irls(y, X, get_family(family, link))
    assert record.converged and len(record.history) == record.n_iter
    # the last row is the step from the converged point: it reaches the returned deviance
    assert record.history[-1].deviance == pytest.approx(record.deviance, rel=1e-14)


def test_penalized_and_firth_histories_have_one_row_per_iteration():
    y, X = _poisson_data()
    n, fam = len(y), get_family("poisson")
    penalized = fit_penalized(
        y, X, fam, Penalty(0.01, 0.0, np.array([False, True, True])),
        prior_weights=np.ones(n), offset=np.zeros(n),
    )  # fmt: skip
    firth = fit_firth(y, X, fam, prior_weights=np.ones(n), offset=np.zeros(n))
    for record in (penalized, firth):
        assert record.converged and len(record.history) == record.n_iter


def test_multinomial_history_has_one_row_per_iteration():
    rng = np.random.default_rng(1)
    n = 400
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    codes = rng.integers(0, 3, n)
    record = fit_multinomial(codes, 3, X)
    assert record.converged and len(record.history) == record.n_iter


def test_api_history_frame_has_n_iter_rows():
    y, X = _poisson_data()
    data = pd.DataFrame({"y": y, "a": X[:, 1], "b": X[:, 2]})
    res = glmspec.fit("y ~ a + b", data, "poisson")
    assert res.converged and len(res.history) == res.n_iter
