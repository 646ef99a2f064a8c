"""Products over rows split into chunks on worker threads (``glmspec.linalg.map_row_chunks``).

The chunks depend on the design's shape only, so the threaded ``X'WX`` is the same array
whatever the number of workers, and equals the serial sum over the rows to rounding; fits
through the threaded product give the plain loop's estimates.
"""

from __future__ import annotations

import math
import multiprocessing
import os

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import glmspec.linalg as linalg
from glmspec.families import get_family
from glmspec.linalg import block_rows, gram_and_product, map_row_chunks
from glmspec.solvers.engine import ROW_BLOCK, InMemoryRows, evaluate_at, working_quantities
from glmspec.solvers.irls import fit_irls


def _one_pass(X, w, v):
    """``X' diag(w) X`` and ``X' v`` as one product each (no blocks, no chunks)."""
    return X.T @ (w[:, None] * X), X.T @ v


@pytest.mark.parametrize("n, p", [(200_000, 10), (40_000, 60), (3_000, 120), (100, 3)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_threaded_gram_equals_the_serial_gram(monkeypatch, n, p, order):
    rng = np.random.default_rng(n + p)
    X = np.asarray(rng.standard_normal((n, p)), order=order)
    w, v = rng.uniform(0.0, 3.0, n), rng.standard_normal(n)
    gram, product = gram_and_product(X, w, v)
    expected_gram, expected_product = _one_pass(X, w, v)
    scale = np.abs(expected_gram).max()
    np.testing.assert_allclose(gram, expected_gram, rtol=0, atol=1e-12 * scale)
    product_scale = (np.abs(X).T @ np.abs(v)).max()  # what rounding of X' v scales with
    np.testing.assert_allclose(product, expected_product, rtol=0, atol=1e-12 * product_scale)
    np.testing.assert_array_equal(gram, gram.T)
    # the same chunks, one worker: the same sums in the same order, bit for bit
    monkeypatch.setattr(linalg, "worker_count", lambda: 1)
    serial_gram, serial_product = gram_and_product(X, w, v)
    np.testing.assert_array_equal(serial_gram, gram)
    np.testing.assert_array_equal(serial_product, product)


def test_signed_weights_and_single_precision_through_chunks():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((150_000, 8))
    w = rng.uniform(-1.0, 2.0, 150_000)
    gram, _ = gram_and_product(X, w)
    expected = X.T @ (w[:, None] * X)
    np.testing.assert_allclose(gram, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    rough, _ = gram_and_product(X, w, single=True)
    np.testing.assert_allclose(rough, expected, rtol=0, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("n, width", [(0, 5), (1, 5), (1000, 5), (1_000_000, 100), (5000, 4000)])
def test_chunks_cover_the_rows_once_in_order(n, width):
    step = block_rows(width)
    spans = map_row_chunks(lambda start, stop: (start, stop), n, step, width)
    assert spans[0][0] == 0 and spans[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(spans[:-1], spans[1:], strict=True))
    assert all(start % step == 0 and start < stop for start, stop in spans[1:])
    assert len(spans) <= 16
    # partial results of all chunks (width x width each) take at most a quarter of the rows
    assert len(spans) == 1 or 4 * len(spans) * width <= n


def test_blas_threads_are_restored_after_a_threaded_product():
    before = [info["num_threads"] for info in threadpool_info()]
    rng = np.random.default_rng(4)
    X = rng.standard_normal((100_000, 20))
    gram_and_product(X, np.ones(100_000))
    assert [info["num_threads"] for info in threadpool_info()] == before


def test_a_kernels_error_reaches_the_caller():
    def failing(start, stop):
        if start:
            raise ValueError("chunk failed")
        return start

    with pytest.raises(ValueError, match="chunk failed"):
        map_row_chunks(failing, 1_000_000, block_rows(10), 10)
    test_blas_threads_are_restored_after_a_threaded_product()


@pytest.mark.parametrize(
    "family, link",
    [("poisson", None), ("binomial", None), ("gamma", "log"), ("binomial", "probit")],
)
def test_fits_through_threaded_products_give_the_plain_loops_estimates(monkeypatch, family, link):
    rng = np.random.default_rng(5)
    n, p = 120_000, 12  # 11.5 MiB: 11 chunks
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1)) / np.sqrt(p)])
    eta = X @ rng.normal(0.0, 0.4, p) + 0.2
    fam = get_family(family, link)
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "binomial":
        y = rng.binomial(1, 1.0 / (1.0 + np.exp(-eta))).astype(float)
    else:
        y = rng.gamma(2.0, np.exp(eta) / 2.0)
    threaded = fit_irls(y, X, fam)

    def plain(kernel, n_rows, step, width):  # the whole design as one chunk, one thread
        return [kernel(0, n_rows)]

    monkeypatch.setattr(linalg, "map_row_chunks", plain)
    serial = fit_irls(y, X, fam)
    assert threaded.converged and serial.converged
    se = np.sqrt(np.diag(serial.factor.inverse()))
    np.testing.assert_allclose(threaded.coef, serial.coef, rtol=1e-10, atol=1e-10 * se.min())
    np.testing.assert_allclose(np.sqrt(np.diag(threaded.factor.inverse())), se, rtol=1e-10)
    assert threaded.deviance == pytest.approx(serial.deviance, rel=1e-12)


def test_a_kernel_multiplying_over_rows_itself_does_not_wait_for_the_pool():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((200_000, 10))
    w = rng.random(200_000)
    expected = gram_and_product(X, w)[0]

    def nested(start, stop):  # every worker asks for a threaded product at once
        return gram_and_product(X, w)[0]

    for result in map_row_chunks(nested, 1_000_000, block_rows(10), 10):
        np.testing.assert_array_equal(result, expected)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_workers():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((200_000, 10))
    w = rng.random(200_000)
    expected = gram_and_product(X, w)[0]  # the parent's pool exists from here
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        in_child = pool.apply(gram_and_product, (X, w))[0]
    np.testing.assert_array_equal(in_child, expected)


def test_multinomial_sums_over_threaded_chunks_equal_one_block(monkeypatch):
    """The multinomial engine's log-likelihood, score and information summed over chunks on
    worker threads equal the same sums over all rows as one block (rounding), and the same
    chunks on one worker bit for bit."""
    from glmspec.solvers.multinomial_rows import InMemoryMultinomialRows, block_derivatives

    rng = np.random.default_rng(11)
    n, p, k = 60_000, 12, 4
    X = rng.standard_normal((n, p))
    codes = rng.integers(0, k, n)
    prior, offset = rng.uniform(0.5, 2.0, n), rng.normal(0.0, 0.3, n)
    theta = rng.normal(0.0, 0.2, (k - 1) * p)
    rows = InMemoryMultinomialRows(codes, k, X, prior, offset)
    chunked = rows.derivatives(theta)
    whole = block_derivatives(codes, X, prior, offset, k, theta)
    np.testing.assert_allclose(chunked.loglik, whole.loglik, rtol=1e-13)
    score_scale = np.abs(X).sum(axis=0).max() * prior.max()  # the score's rounding scale
    np.testing.assert_allclose(chunked.gradient, whole.gradient, rtol=0, atol=1e-13 * score_scale)
    scale = np.abs(whole.information).max()
    np.testing.assert_allclose(chunked.information, whole.information, rtol=0, atol=1e-13 * scale)
    assert chunked.n_certain == whole.n_certain
    monkeypatch.setattr(linalg, "worker_count", lambda: 1)
    serial = rows.derivatives(theta)
    np.testing.assert_array_equal(serial.information, chunked.information)
    np.testing.assert_array_equal(serial.gradient, chunked.gradient)


@pytest.mark.parametrize(
    "family_name, link", [("binomial", None), ("poisson", None), ("gamma", "log")]
)
def test_chunked_row_work_equals_the_whole_array_work(family_name, link):
    """The engine's per-row work over row chunks (inverse link, deviance, IRLS weights) gives
    the whole-array functions' rows bit for bit and their deviance to rounding."""
    rng = np.random.default_rng(5)
    n, p = 5 * ROW_BLOCK + 123, 4  # several chunks, a partial last block
    X = np.column_stack([np.ones(n), rng.standard_normal((n, p - 1))])
    coef = np.array([0.2, 0.3, -0.2, 0.1])
    mean = np.exp(X @ coef)
    family = get_family(family_name, link)
    y = {
        "binomial": (rng.random(n) < mean / (1 + mean)).astype(float),
        "poisson": rng.poisson(mean).astype(float),
        "gamma": rng.gamma(2.0, mean / 2.0),
    }[family_name]
    prior, offset = rng.uniform(0.5, 2.0, n), rng.normal(0, 0.1, n)
    prior[::97] = 0.0  # rows without weight take no part
    rows = InMemoryRows(y, X, family, prior, offset)
    point = rows.evaluate(coef)
    eta, mu, deviance = evaluate_at(family, y, X, coef, offset, prior)
    np.testing.assert_array_equal(point.rows[0], eta)
    np.testing.assert_array_equal(point.rows[1], mu)
    # chunk sums against one pairwise sum: n additions of positive terms, to n ulps at most
    assert point.deviance == pytest.approx(deviance, rel=n * np.finfo(float).eps, abs=0)
    weights, score = working_quantities(family, y, mu, eta, prior)
    np.testing.assert_array_equal(rows.row_arrays(point)[2], weights)
    np.testing.assert_array_equal(rows.gradient(point), rows.X.rmatvec(score))


@pytest.mark.parametrize("order", ["C", "F", "strided"])
def test_rmatvec_equals_exactly_summed_column_sums(order):
    """``X' v`` (numpy's einsum loop over chunks) against each column's correctly rounded sum
    (``math.fsum``), to the error bound of a sequential sum: ``n eps sum |terms|``."""
    rng = np.random.default_rng(21)
    base = rng.standard_normal((70_000, 24 if order == "strided" else 12)) * 1e3
    X = base[:, ::2] if order == "strided" else np.asarray(base, order=order)
    v = rng.standard_normal(len(X))
    got = linalg.rmatvec(X, v)
    exact = np.array([math.fsum(X[:, j] * v) for j in range(X.shape[1])])
    magnitude = np.abs(X).T @ np.abs(v)
    assert np.all(np.abs(got - exact) <= len(X) * np.finfo(float).eps * magnitude)
