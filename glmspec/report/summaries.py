"""Summaries of many rows for the diagnostic plots of large fits.

Above :data:`glmspec.report.plots.SUMMARY_ROWS` rows the per-row plots are drawn from these
summaries instead of one marker per row: a grid of counts (a two-dimensional histogram),
means and quantiles within bins cut at the deciles of the fitted mean, and the normal QQ plot's
points at evenly spaced ranks. Each is computed from every row in one or two vectorized passes
(no Python loop over rows, no repeated prediction), so drawing the plots of a million-row fit
costs a few tenths of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

#: Cells of the count grid along the fitted (x) and the other (y) axis.
GRID_SHAPE = (80, 60)


@dataclass(frozen=True)
class Grid:
    """Counts of rows per cell: ``counts[i, j]`` rows have ``x`` in ``x_edges[i:i+2]`` and
    ``y`` in ``y_edges[j:j+2]`` (the last cell of each axis includes its upper edge)."""

    counts: np.ndarray
    x_edges: np.ndarray
    y_edges: np.ndarray


def _cells(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell index in ``0..k-1`` of each value on ``k`` equal cells spanning min..max."""
    lo, hi = float(values.min()), float(values.max())
    if not hi > lo:  # one distinct value: a unit-wide range centred on it
        half = 0.5 * max(abs(lo), 1.0)
        lo, hi = lo - half, hi + half
    index = ((values - lo) * (k / (hi - lo))).astype(np.intp)
    np.clip(index, 0, k - 1, out=index)  # the maximum lands on k: it belongs to the last cell
    return index, np.linspace(lo, hi, k + 1)


def count_grid(x: np.ndarray, y: np.ndarray, shape: tuple[int, int] = GRID_SHAPE) -> Grid:
    """Two-dimensional histogram of ``(x, y)`` on equal cells spanning each one's range.

    Parameters
    ----------
    x, y : ndarray
        Same length; rows where either is not finite are left out.
    shape : (int, int)
        Number of cells along x and along y.

    Returns
    -------
    Grid
    """
    nx, ny = shape
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.all():
        x, y = x[finite], y[finite]
    ix, x_edges = _cells(x, nx)
    iy, y_edges = _cells(y, ny)
    counts = np.bincount(ix * ny + iy, minlength=nx * ny).reshape(nx, ny)
    return Grid(counts, x_edges, y_edges)


@dataclass(frozen=True)
class Bins:
    """Rows grouped by the deciles of a key: ``labels[i]`` is row i's bin, ``sizes`` the rows
    per bin. Bins whose deciles coincide (tied keys) are merged, so no bin is empty."""

    labels: np.ndarray
    sizes: np.ndarray

    def means(self, values: np.ndarray) -> np.ndarray:
        """Mean of ``values`` in each bin."""
        sums = np.bincount(self.labels, weights=values, minlength=len(self.sizes))
        return sums / self.sizes

    def quantiles(self, values: np.ndarray, probs: tuple[float, ...]) -> np.ndarray:
        """``np.quantile`` of ``values`` in each bin: shape ``(bins, len(probs))``."""
        order = np.argsort(self.labels, kind="stable")  # small integers: a radix sort
        groups = np.split(np.asarray(values)[order], np.cumsum(self.sizes)[:-1])
        return np.array([np.quantile(g, probs) for g in groups])


def quantile_bins(key: np.ndarray, k: int = 10) -> Bins:
    """Bins of ``key`` cut at its ``k``-quantiles (deciles by default).

    Row ``i`` is in bin ``j`` when ``edge[j-1] <= key[i] < edge[j]`` for the distinct inner
    quantiles ``edge`` of ``key`` (``np.quantile``'s default, linear interpolation).
    """
    if not 2 <= k <= 255:
        raise ValueError(f"k must be in 2..255, got {k}.")
    key = np.asarray(key, dtype=float)
    inner = np.unique(np.quantile(key, np.linspace(0.0, 1.0, k + 1)[1:-1]))
    # label = number of inner edges <= key (searchsorted's side="right"), as small integers:
    # a few vectorized comparisons, and the one-byte labels sort by radix in Bins.quantiles
    labels = np.zeros(key.shape, dtype=np.uint8)
    for edge in inner:
        labels += key >= edge
    sizes = np.bincount(labels, minlength=len(inner) + 1)
    if np.any(sizes == 0):  # tied or gapped keys can leave a bin empty: renumber
        keep = np.flatnonzero(sizes)
        labels = np.searchsorted(keep, labels).astype(np.uint8)
        sizes = sizes[keep]
    return Bins(labels, sizes)


def order_statistic_medians(n: int, ranks: np.ndarray | None = None) -> np.ndarray:
    """Filliben's estimates of the medians of the uniform order statistics (those of
    :func:`scipy.stats.probplot`), at ``ranks`` (0-based; default all ``n``)."""
    i = np.arange(n, dtype=float) if ranks is None else np.asarray(ranks, dtype=float)
    last = 0.5 ** (1.0 / n)
    m = (i + 1 - 0.3175) / (n + 0.365)
    m = np.where(i == n - 1, last, m)
    return np.where(i == 0, 1.0 - last, m)


@dataclass(frozen=True)
class QQPoints:
    """Points of a normal QQ plot at ``len(theoretical)`` of ``n`` ranks, and the
    least-squares line through all ``n`` points (``ordered ~ intercept + slope * theoretical``)."""

    theoretical: np.ndarray
    ordered: np.ndarray
    slope: float
    intercept: float
    n: int


def qq_points(values: np.ndarray, max_points: int) -> QQPoints:
    """Normal QQ plot of ``values``: :func:`scipy.stats.probplot`'s points at ``max_points``
    evenly spaced ranks (the extremes included) and its least-squares line fitted to all
    points (``linregress`` in closed form)."""
    ordered = np.sort(np.asarray(values, dtype=float))
    n = len(ordered)
    theoretical = special.ndtri(order_statistic_medians(n))
    # probplot's line: scipy.stats.linregress(theoretical, ordered), in closed form
    t_centred = theoretical - theoretical.mean()
    slope = float(t_centred @ (ordered - ordered.mean()) / (t_centred @ t_centred))
    intercept = float(ordered.mean() - slope * theoretical.mean())
    index = np.unique(np.linspace(0, n - 1, min(max_points, n)).round().astype(np.intp))
    return QQPoints(theoretical[index], ordered[index], slope, intercept, n)
