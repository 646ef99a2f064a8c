"""glmspec.inference.distributions equals scipy.stats bit for bit, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from glmspec.inference import distributions

X = np.array(
    [-np.inf, -40.0, -3.0, -1e-300, 0.0, 1e-300, 0.5, 1.96, 3.0, 40.0, 1e4, np.inf, np.nan]
)
Q = np.array([-0.1, 0.0, 1e-300, 1e-10, 0.025, 0.5, 0.975, 1 - 1e-10, 1.0, 1.1, np.nan])
DF = np.array([-1.0, 0.0, np.nan, 1e-3, 0.5, 1.0, 2.5, 7.0, 30.0, 1e6, np.inf])

CASES = [
    ("norm_sf", lambda x: stats.norm.sf(x), lambda x: distributions.norm_sf(x), X, ()),
    ("norm_ppf", lambda q: stats.norm.ppf(q), lambda q: distributions.norm_ppf(q), Q, ()),
    ("norm_isf", lambda q: stats.norm.isf(q), lambda q: distributions.norm_isf(q), Q, ()),
    ("t_sf", stats.t.sf, distributions.t_sf, X, (DF,)),
    ("t_isf", stats.t.isf, distributions.t_isf, Q, (DF,)),
    ("chi2_sf", stats.chi2.sf, distributions.chi2_sf, X, (DF,)),
    ("chi2_ppf", stats.chi2.ppf, distributions.chi2_ppf, Q, (DF,)),
    ("f_sf", stats.f.sf, distributions.f_sf, X, (DF, DF)),
]


@pytest.mark.parametrize(("name", "reference", "ours", "points", "params"), CASES)
def test_equals_scipy_stats_on_a_grid_with_edge_cases(name, reference, ours, points, params):
    # every point against every parameter value (and, for F, every pair of them)
    grids = np.meshgrid(points, *params, indexing="ij")
    want = reference(*grids)
    got = ours(*grids)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want, err_msg=name)


def test_scalars_come_back_as_numpy_floats_as_from_scipy_stats():
    assert type(distributions.chi2_sf(3.0, 2)) is type(stats.chi2.sf(3.0, 2))
    assert distributions.chi2_sf(3.0, 2) == stats.chi2.sf(3.0, 2)
    assert np.ndim(distributions.t_isf(0.025, 10)) == 0
