"""The design-matrix protocol: a dense and a coded design answer every product alike."""

from __future__ import annotations

import numpy as np
import pytest

from glmspec.design import matrix as catmatrix
from glmspec.design.matrix import DenseDesign, as_design
from glmspec.families import get_family
from glmspec.solvers.engine import InMemoryRows
from glmspec.solvers.irls import fit_irls, irls


def _coded(n=2000, seed=0, reference=True):
    """A coded design: two numeric columns and a 40- and a 35-level factor.

    ``reference=True``: intercept first, both factors without their first level; else no
    intercept and the first factor with all its levels, placed before the numeric columns.
    """
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 2))
    first, second = rng.integers(0, 40, n), rng.integers(0, 35, n)
    if reference:
        dense, dense_columns = np.column_stack([np.ones(n), numeric]), [0, 1, 2]
        blocks = [(first - 1, np.arange(3, 42)), (second - 1, np.arange(42, 76))]
    else:
        dense, dense_columns = numeric, [40, 41]
        blocks = [(first, np.arange(0, 40)), (second - 1, np.arange(42, 76))]
    return catmatrix.build(dense, dense_columns, blocks, 76)


@pytest.mark.parametrize("reference", [True, False])
def test_dense_and_coded_designs_agree(reference):
    coded = _coded(reference=reference)
    array = np.asarray(coded)
    dense = as_design(array)
    assert isinstance(dense, DenseDesign) and as_design(dense) is dense
    assert as_design(coded) is coded
    rng = np.random.default_rng(1)
    n, p = array.shape
    b, v, w = rng.normal(size=p), rng.normal(size=n), rng.random(n)
    signed = w - 0.3
    for design in (dense, coded):
        assert design.shape == (n, p)
        np.testing.assert_allclose(design.matvec(b), array @ b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(design.rmatvec(v), array.T @ v, rtol=1e-10, atol=1e-10)
        expected = array.T @ (w[:, None] * array)
        np.testing.assert_allclose(design.gram(w), expected, rtol=1e-12, atol=1e-12)
        gram, product = design.gram_and_rmatvec(signed, v)
        np.testing.assert_allclose(
            gram, array.T @ (signed[:, None] * array), rtol=1e-10, atol=1e-10
        )
        np.testing.assert_allclose(product, array.T @ v, rtol=1e-10, atol=1e-10)
        assert design.gram_and_rmatvec(w)[1] is None
        np.testing.assert_allclose(design.abs_matvec(b), np.abs(array) @ b, rtol=1e-12)
        np.testing.assert_allclose(design.squares_rmatvec(w), (array**2).T @ w, rtol=1e-12)
        assert design.constant_columns() == [j for j in range(p) if np.all(array[:, j] == 1)]
        for j in (0, 1, 5, p - 1):
            np.testing.assert_array_equal(design.column(j), array[:, j])
        blocks = list(design.row_blocks(width=400))  # a few rows per block
        assert len(blocks) > 1
        np.testing.assert_array_equal(np.vstack([rows for _, rows in blocks]), array)
        assert [s.start for s, _ in blocks] == sorted(s.start for s, _ in blocks)
        picked = np.array([3, 0, 17, 1999])
        np.testing.assert_array_equal(np.asarray(design.take(picked)), array[picked])
        np.testing.assert_array_equal(design.dense, array[:, design.dense_columns])
    assert coded.supports_single is False and dense.supports_single is True


def test_coded_cross_products_on_a_single_row_and_zero_weights():
    coded = _coded(n=1)
    array = np.asarray(coded)
    np.testing.assert_allclose(coded.gram(np.array([2.0])), 2.0 * array.T @ array, rtol=1e-15)
    coded = _coded(n=50)
    np.testing.assert_array_equal(coded.gram(np.zeros(50)), np.zeros((76, 76)))


def test_coded_subsample_start_gives_the_plain_loops_estimates():
    # 40000 x 76 cells: above SUBSAMPLE_MIN_CELLS, so fit_irls starts from a subsample fit
    coded = _coded(n=40000, seed=3)
    rng = np.random.default_rng(4)
    truth = rng.normal(0, 0.2, coded.shape[1])
    y = rng.poisson(np.exp(coded.matvec(truth))).astype(float)
    family = get_family("poisson")
    ones, zeros = np.ones(len(y)), np.zeros(len(y))
    fast = fit_irls(y, coded, family)
    plain = irls(InMemoryRows(y, coded, family, ones, zeros), family)
    dense = fit_irls(y, np.asarray(coded), family)
    assert fast.converged and plain.converged
    np.testing.assert_allclose(fast.coef, plain.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.coef, dense.coef, rtol=1e-10, atol=1e-12)


def test_subsample_without_a_rare_level_falls_back_to_the_plain_start():
    coded = _coded(n=40000, seed=5)
    n = coded.shape[0]
    # the rows fit_irls's subsample takes (same seed and size as _subsample_start): give
    # level 8 of the first factor to three rows outside it only
    picked = np.random.default_rng(0).choice(n, size=50 * 76, replace=False)
    outside = np.setdiff1d(np.arange(n), picked)[:3]
    codes = coded.blocks[0].codes.copy()
    codes[codes == 7] = 6
    codes[outside] = 7
    rare = catmatrix.build(
        coded.dense,
        coded.dense_columns,
        [(codes, coded.blocks[0].columns), (coded.blocks[1].codes, coded.blocks[1].columns)],
        coded.n_columns,
    )
    rng = np.random.default_rng(6)
    y = rng.poisson(np.exp(rare.matvec(rng.normal(0, 0.2, rare.shape[1])))).astype(float)
    family = get_family("poisson")
    assert np.all(rare.take(np.sort(picked)).column(10) == 0)
    fit = fit_irls(y, rare, family)
    plain = irls(InMemoryRows(y, rare, family, np.ones(n), np.zeros(n)), family)
    assert fit.converged
    np.testing.assert_allclose(fit.coef, plain.coef, rtol=1e-10, atol=1e-12)
