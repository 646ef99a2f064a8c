"""Branches that ordinary data seldom reach, each driven on purpose and its outcome asserted.

* the IRLS loop when step halving cannot lower the deviance: the step is rounding noise
  (converged), or it is not (a warning, not converged); no valid first step (the intercept-only
  fallback, or :class:`FitError`). An engine (the loop's documented row interface) whose
  deviance rises at every new point drives the first two deterministically;
* the penalized fit: halving at the boundary of the valid region, the iteration limit, an
  objective that cannot decrease, no valid start;
* every input error of :func:`glmspec.fit_arrays`, each naming the argument;
* the negative binomial: theta at its upper bound, the iteration limits of ``theta_ml`` and of
  the theta/coefficient alternation, a very large theta;
* Dask data: no response, no rows, an array offset, ``compare()`` on a Dask GLM fit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import glmspec
from glmspec.errors import (
    ConvergenceWarning,
    DataError,
    DomainWarning,
    FitError,
    FormulaError,
    MissingValueError,
    SpecificationError,
)
from glmspec.families import get_family, negbin
from glmspec.solvers.engine import InMemoryRows, Point
from glmspec.solvers.irls import fit_irls, irls
from glmspec.solvers.penalized import Penalty, fit_penalized

# --------------------------------------------------------------------------------------------
# The IRLS loop
# --------------------------------------------------------------------------------------------


def _poisson(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    return rng.poisson(np.exp(0.5 + 0.3 * x)).astype(float), X


class _RisingRows(InMemoryRows):
    """Every point after the first step has a larger deviance than all before it, so no
    step can be accepted; ``noise`` is the decrement rounding is taken to produce."""

    def __init__(self, *args, noise: float) -> None:
        super().__init__(*args)
        self._noise, self._calls = noise, 0

    def evaluate(self, coef):
        point = super().evaluate(coef)
        if point is None:
            return None
        self._calls += 1
        return Point(point.coef, point.deviance + self._calls, point.rows)

    def noise(self, point, factor) -> float:
        return self._noise


def _rows(cls=InMemoryRows, **kwargs):
    y, X = _poisson()
    n = len(y)
    return cls(y, X, get_family("poisson"), np.ones(n), np.zeros(n), **kwargs)


def test_no_decrease_and_a_step_above_the_noise_warns_and_is_not_converged():
    rows = _rows(_RisingRows, noise=0.0)
    with pytest.warns(ConvergenceWarning, match="step halving could not decrease the deviance"):
        record = irls(rows, get_family("poisson"))
    assert not record.converged
    assert len(record.history) == record.n_iter - 1  # the last iteration took no step


def test_no_decrease_and_a_step_within_the_noise_is_converged():
    rows = _rows(_RisingRows, noise=np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record = irls(rows, get_family("poisson"))
    assert record.converged
    assert record.message == "converged (the remaining step is rounding noise)"


class _FirstStepInvalid(InMemoryRows):
    """The first step from the starting means leaves the valid region (every halving too)."""

    def __init__(self, *args, intercept: bool) -> None:
        super().__init__(*args)
        self._intercept, self._steps = intercept, 0

    def evaluate(self, coef):
        self._steps += 1
        return None if self._steps <= 1 else super().evaluate(coef)

    def intercept_start(self):
        return super().intercept_start() if self._intercept else None


def test_invalid_first_step_walks_from_the_intercept_only_fit():
    y, X = _poisson()
    plain = fit_irls(y, X, get_family("poisson"))
    record = irls(_rows(_FirstStepInvalid, intercept=True), get_family("poisson"))
    assert record.converged
    np.testing.assert_allclose(record.coef, plain.coef, rtol=1e-9)


def test_invalid_first_step_without_an_intercept_is_a_fit_error():
    with pytest.raises(
        FitError,
        match=r"no valid coefficients .*\(the linear predictor left the log link's domain\)",
    ):
        irls(_rows(_FirstStepInvalid, intercept=False), get_family("poisson"))


def test_invalid_start_is_a_fit_error():
    y, X = _poisson()
    with pytest.raises(FitError, match="starting coefficients give an invalid"):
        fit_irls(y, X, get_family("poisson", "identity"), start=np.array([-5.0, 0.0]))


# --------------------------------------------------------------------------------------------
# The penalized fit
# --------------------------------------------------------------------------------------------


def _boundary_data(seed=0, n=300):
    """Poisson identity whose unconstrained optimum has negative means at x = 0."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    y = rng.poisson(0.05 + 10 * x**3).astype(float)
    return y, np.column_stack([np.ones(n), x])


def _penalized(y, X, family, penalty, **kwargs):
    n = len(y)
    return fit_penalized(
        y, X, family, penalty, prior_weights=np.ones(n), offset=np.zeros(n), **kwargs
    )


def test_penalized_fit_halves_at_the_boundary_and_warns_at_its_iteration_limit():
    y, X = _boundary_data()
    fam = get_family("poisson", "identity")
    penalty = Penalty(1e-4, 0.0, np.array([False, True]))
    with pytest.warns(ConvergenceWarning, match="penalized Newton did not converge after 20"):
        record = _penalized(y, X, fam, penalty, max_iter=20)
    assert not record.converged and record.n_iter == 20
    assert all(step.halvings > 0 for step in record.history)
    assert (X @ record.coef).min() > 0  # every accepted point is valid
    deviances = [step.deviance for step in record.history]
    assert deviances[-1] < deviances[0]


class _GrowingPenalty(Penalty):
    """A penalty that grows at every evaluation: the objective can never decrease."""

    def value(self, coef, weight_sum):
        object.__setattr__(self, "calls", getattr(self, "calls", 0) + 1)
        return 1e6 * self.calls  # far above any decrease of the deviance


def test_penalized_fit_whose_objective_cannot_decrease_stops_with_a_warning():
    y, X = _poisson()
    penalty = _GrowingPenalty(0.1, 0.0, np.array([False, True]))
    with pytest.warns(ConvergenceWarning, match="could not decrease the penalized objective"):
        record = _penalized(y, X, get_family("poisson"), penalty)
    assert not record.converged and record.history == ()
    # the intercept-only start is returned
    assert record.coef[1] == 0.0
    assert record.coef[0] == pytest.approx(np.log(y.mean()), rel=1e-12)


def test_penalized_fit_without_a_valid_start_is_a_fit_error():
    y, X = _poisson()
    with pytest.raises(FitError, match=r"no valid starting point .*\(zeros are invalid\)"):
        _penalized(
            y, X[:, 1:], get_family("poisson", "identity"), Penalty(0.1, 0.0, np.array([True]))
        )


# --------------------------------------------------------------------------------------------
# fit_arrays input errors
# --------------------------------------------------------------------------------------------

_N = 10
_X = np.column_stack([np.ones(_N), np.arange(_N, dtype=float)])
_Y = np.arange(_N, dtype=float)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"X": [["a", "b"]] * _N}, DataError, "X must be a numeric matrix"),
        ({"X": np.arange(_N, dtype=float)}, DataError, r"X must be a non-empty 2-d array.*\(10,\)"),
        ({"X": np.ones((0, 2))}, DataError, r"non-empty 2-d array, got shape \(0, 2\)"),
        (
            {"X": np.column_stack([_X, np.r_[np.inf, np.ones(_N - 1)]])},
            MissingValueError,
            r"X has missing or infinite values in column\(s\) \[2\]",
        ),
        ({"y": np.ones(_N - 1)}, DataError, r"y has shape \(9,\); expected \(10,\)"),
        ({"y": ["a"] * _N}, DataError, "y must be numeric"),
        ({"y": np.r_[np.nan, _Y[1:]]}, MissingValueError, r"y has 1 missing or infinite"),
        ({"column_names": ["a"]}, DataError, "column_names has 1 names for 2 columns"),
        ({"weights": -np.ones(_N)}, DataError, "weights must be non-negative"),
        ({"weights": np.ones(3)}, DataError, r"weights has shape \(3,\)"),
        ({"offset": np.r_[np.inf, np.zeros(_N - 1)]}, MissingValueError, "offset has 1 missing"),
        ({"freq_weights": -np.ones(_N)}, DataError, "freq_weights must be non-negative"),
        ({"freq_weights": np.ones(2)}, DataError, r"freq_weights has shape \(2,\)"),
        ({"tol": -1.0}, DataError, r"tol must be a number in \(0, 1\), got -1.0"),
        ({"max_iter": 0}, DataError, "max_iter must be a positive integer, got 0"),
    ],
)
def test_fit_arrays_input_errors_name_the_argument(kwargs, error, match):
    args = {"y": _Y, "X": _X, "family": "poisson"} | kwargs
    with pytest.raises(error, match=match):
        glmspec.fit_arrays(**args)


@pytest.mark.parametrize(
    "y, kwargs, match",
    [
        (np.array(["a", "b"] * (_N // 2))[:-1], {}, "y has 9 values for 10 rows of X"),
        (np.array(["a"] * _N), {}, "the multinomial response needs at least two classes"),
        (
            np.array(["a", "b"] * (_N // 2)),
            {"freq_weights": np.ones(_N)},
            "freq_weights is not available for the multinomial family",
        ),
    ],
)
def test_fit_arrays_multinomial_input_errors(y, kwargs, match):
    with pytest.raises((DataError, SpecificationError), match=match):
        glmspec.fit_arrays(y, _X, "multinomial", **kwargs)


# --------------------------------------------------------------------------------------------
# Negative binomial theta
# --------------------------------------------------------------------------------------------


class _RunawayTheta:
    """Sums of a log-likelihood ``-a / theta`` that increases without bound in theta, as the
    negative binomial's does for underdispersed counts (its limit is the Poisson)."""

    a = 1e6

    def moment(self):
        return 100.0, 100.0  # moment estimate theta = 1

    def at(self, theta):
        return -self.a / theta, self.a / theta**2, 2 * self.a / theta**3


def test_theta_ml_stops_at_its_upper_bound_with_a_warning():
    with pytest.warns(ConvergenceWarning, match="theta reached 1e\\+10.*family='poisson'"):
        theta, _, _ = negbin.theta_ml_rows(_RunawayTheta())
    assert theta == pytest.approx(negbin.THETA_MAX, rel=1e-12)


def test_theta_ml_iteration_limit_warns():
    rng = np.random.default_rng(0)
    y = rng.negative_binomial(2, 0.5, 500).astype(float)
    with pytest.warns(ConvergenceWarning, match="theta.ml: iteration limit 1 reached"):
        limited, _ = negbin.theta_ml(y, np.full(500, y.mean()), max_iter=1)
    full, _ = negbin.theta_ml(y, np.full(500, y.mean()))
    assert limited != pytest.approx(full, rel=1e-6)  # one step is not the maximum


def _nb_data(seed=0, n=500):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    mu = np.exp(1 + 0.5 * x)
    return pd.DataFrame({"y": rng.negative_binomial(2, 2 / (2 + mu)), "x": x})


def test_negbin_alternation_limit_warns_and_is_not_converged():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = glmspec.fit("y ~ x", _nb_data(), "negative_binomial", max_iter=2)
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert any("alternation" in m and "did not converge in 2 rounds" in m for m in messages)
    assert not res.converged


def test_negbin_of_underdispersed_counts_warns_that_theta_is_very_large():
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    data = pd.DataFrame({"y": np.round(np.exp(1 + 0.3 * x)), "x": x})
    with pytest.warns(DomainWarning, match="theta is very large"):
        res = glmspec.fit("y ~ x", data, "negative_binomial")
    assert res.theta > negbin_fit_threshold()
    poisson = glmspec.fit("y ~ x", data, "poisson")
    np.testing.assert_allclose(res.params, poisson.params, rtol=1e-5)


def negbin_fit_threshold() -> float:
    from glmspec.solvers.negbin import THETA_LARGE

    return THETA_LARGE


# --------------------------------------------------------------------------------------------
# Dask data (the default local scheduler: no cluster needed for these)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_frame():
    dd = pytest.importorskip("dask.dataframe")
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    df = pd.DataFrame({"y": rng.poisson(np.exp(0.3 + 0.4 * x)).astype(float), "x": x})
    return df, dd.from_pandas(df, npartitions=3)


def test_dask_formula_without_a_response(dask_frame):
    _, ddf = dask_frame
    with pytest.raises(FormulaError, match="no response on the left of '~'"):
        glmspec.fit("~ x", ddf, "poisson")


def test_dask_data_without_rows(dask_frame):
    _, ddf = dask_frame
    with pytest.raises(DataError, match="data has no rows"):
        glmspec.fit("y ~ x", ddf[ddf["x"] > 100], "poisson")


def test_dask_array_offset_is_refused_naming_the_option(dask_frame):
    _, ddf = dask_frame
    with pytest.raises(DataError, match="offset must name a column of the data, got ndarray"):
        glmspec.fit("y ~ x", ddf, "poisson", offset=np.zeros(400))


def test_compare_on_a_dask_glm_fit(dask_frame):
    df, ddf = dask_frame
    res = glmspec.fit("y ~ x", ddf, "poisson")
    table = glmspec.compare(res)
    assert table.attrs["passed"], table
    memory = glmspec.compare(glmspec.fit("y ~ x", df, "poisson"))
    assert list(table.index) == list(memory.index)
