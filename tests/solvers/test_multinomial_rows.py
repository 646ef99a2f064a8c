"""The multinomial solver's row-engine interface: sums over uneven row blocks suffice."""

from __future__ import annotations

import numpy as np
import pytest

from glmspec.errors import GLMSpecWarning, ResponseError, SeparationWarning
from glmspec.solvers.multinomial import (
    BlockSums,
    InMemoryMultinomialRows,
    MultinomialRows,
    StartSums,
    block_derivatives,
    block_start_sums,
    covariance,
    fit_multinomial,
    fit_multinomial_rows,
    loglik_derivatives,
)

pytestmark = pytest.mark.filterwarnings("error::glmspec.errors.GLMSpecWarning")


class BlockedRows(MultinomialRows):
    """What a Dask engine does: the module-level block functions on each block, added."""

    def __init__(self, codes, n_classes, X, prior=None, offset=None, bounds=(0.13, 0.71)):
        n = len(codes)
        cuts = [0, *(int(b * n) for b in bounds), n]
        self.blocks = [
            (
                codes[a:b],
                X[a:b],
                None if prior is None else prior[a:b],
                None if offset is None else offset[a:b],
            )
            for a, b in zip(cuts[:-1], cuts[1:], strict=True)
        ]
        self.n_classes, self.n_columns = n_classes, X.shape[1]
        self.calls = {"start": 0, "cheap": 0, "information": 0}

    def start_sums(self) -> StartSums:
        self.calls["start"] += 1
        parts = [block_start_sums(*block, self.n_classes) for block in self.blocks]
        return parts[0] + parts[1] + parts[2]

    def derivatives(self, theta, want_information=True) -> BlockSums:
        self.calls["information" if want_information else "cheap"] += 1
        parts = [
            block_derivatives(*block, self.n_classes, theta, want_information)
            for block in self.blocks
        ]
        return parts[0] + parts[1] + parts[2]


def _se(record):
    return np.sqrt(np.diag(covariance(record)))


def _assert_same_fit(blocked, reference):
    np.testing.assert_allclose(blocked.coef, reference.coef, rtol=1e-10, atol=0)
    np.testing.assert_allclose(_se(blocked), _se(reference), rtol=1e-10, atol=0)
    assert blocked.loglik == pytest.approx(reference.loglik, rel=1e-12)
    assert blocked.converged and reference.converged
    assert blocked.method == reference.method == "newton"


def test_blocks_give_the_in_memory_fit(anes_arrays):
    codes, X, _ = anes_arrays
    reference = fit_multinomial(codes, 7, X)
    engine = BlockedRows(codes, 7, X)
    blocked = fit_multinomial_rows(engine)
    _assert_same_fit(blocked, reference)
    assert blocked.probs is None and reference.probs is not None
    assert engine.calls["start"] == 1 and engine.calls["information"] >= 1


def test_blocks_with_weights_and_offset(anes_arrays):
    codes, X, _ = anes_arrays
    rng = np.random.default_rng(7)
    prior = rng.integers(0, 4, size=len(codes)).astype(float)  # zeros included
    offset = 0.3 * X[:, 2] + rng.normal(scale=0.2, size=len(codes))
    reference = fit_multinomial(codes, 7, X, prior_weights=prior, offset=offset)
    blocked = fit_multinomial_rows(BlockedRows(codes, 7, X, prior, offset, bounds=(0.5, 0.52)))
    _assert_same_fit(blocked, reference)


def test_block_sums_add_up_to_all_rows(anes_arrays):
    codes, X, _ = anes_arrays
    rng = np.random.default_rng(1)
    prior, offset = rng.uniform(0.5, 2, len(codes)), rng.normal(size=len(codes))
    theta = rng.normal(scale=0.1, size=6 * X.shape[1])
    engine = BlockedRows(codes, 7, X, prior, offset, bounds=(0.01, 0.9))
    loglik, gradient, info, _ = loglik_derivatives(
        codes, 7, X, theta, prior_weights=prior, offset=offset
    )
    sums = engine.derivatives(theta)
    assert sums.loglik == pytest.approx(loglik, rel=1e-13)
    np.testing.assert_allclose(sums.gradient, gradient, rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(sums.information, info, rtol=1e-11, atol=1e-9)
    cheap = engine.derivatives(theta, want_information=False)
    assert cheap.information is None and cheap.loglik == sums.loglik
    whole = block_start_sums(codes, X, prior, offset, 7)
    start = engine.start_sums()
    np.testing.assert_allclose(start.class_weights, whole.class_weights, rtol=1e-13)
    np.testing.assert_allclose(start.gram, whole.gram, rtol=1e-12)
    assert start.offset_sum == pytest.approx(whole.offset_sum, rel=1e-12)


def test_in_memory_engine_is_a_row_engine(anes_arrays):
    codes, X, _ = anes_arrays
    rows = InMemoryMultinomialRows(codes, 7, X)
    assert isinstance(rows, MultinomialRows)
    assert (rows.n_classes, rows.n_columns) == (7, X.shape[1])
    record = fit_multinomial_rows(rows)
    np.testing.assert_array_equal(record.coef, fit_multinomial(codes, 7, X).coef)
    np.testing.assert_allclose(record.probs.sum(axis=1), 1.0)


def test_empty_class_is_an_error_from_the_sums(anes_arrays):
    codes, X, _ = anes_arrays
    prior = np.where(codes == 3, 0.0, 1.0)
    with pytest.raises(ResponseError, match=r"\[3\]"):
        fit_multinomial_rows(BlockedRows(codes, 7, X, prior))


def _ill_conditioned(eps):
    rng = np.random.default_rng(5)
    n = 400
    x, z = rng.normal(size=n), rng.normal(size=n)
    return rng.integers(0, 3, size=n), np.column_stack([np.ones(n), x, x + eps * z])


def test_without_qr_factor_an_ill_conditioned_information_is_still_factored():
    codes, X = _ill_conditioned(1e-5)
    reference = fit_multinomial(codes, 3, X)  # in memory: the QR route
    assert reference.information.method == "qr"
    blocked = fit_multinomial_rows(BlockedRows(codes, 3, X))
    assert blocked.converged and blocked.method == "newton"
    assert blocked.information.method == "cholesky"
    np.testing.assert_allclose(blocked.coef, reference.coef, rtol=1e-8)
    np.testing.assert_allclose(_se(blocked), _se(reference), rtol=1e-4)


def test_without_qr_factor_a_nearly_singular_information_falls_back_to_lbfgs():
    codes, X = _ill_conditioned(1e-7)
    assert fit_multinomial(codes, 3, X).information.method == "qr"
    with pytest.warns(GLMSpecWarning) as caught:
        blocked = fit_multinomial_rows(BlockedRows(codes, 3, X))
    assert any("pseudo-inverse" in str(w.message) for w in caught)
    assert blocked.method == "lbfgs" and blocked.information.method == "pinv"


def test_separation_is_flagged_from_the_certain_row_count():
    rng = np.random.default_rng(11)
    n = 300
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x])
    codes = np.where(x > 0.5, 2, rng.integers(0, 2, size=n))
    with pytest.warns(SeparationWarning, match="quasi-complete separation"):
        record = fit_multinomial_rows(BlockedRows(codes, 3, X))
    assert record.coef[1, 1] > 100
