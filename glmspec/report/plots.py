"""Diagnostic plots of a fit, as PNG bytes.

Figures are drawn with matplotlib's object-oriented API on an Agg canvas
(:class:`matplotlib.figure.Figure` + :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`)
rather than through ``pyplot``: nothing is registered with pyplot's figure manager, so the
global backend of the calling program (a notebook, a GUI) is neither needed nor changed, no
display is required, and every figure is released once its PNG is written.

Scatter plots of more than :data:`MAX_POINTS` observations show a deterministic random
subsample (fixed seed); the caption says so. The QQ plot is computed from all residuals.

Fits of more than :data:`SUMMARY_ROWS` rows are drawn from summaries of all rows
(:mod:`glmspec.report.summaries`) rather than markers: observed vs fitted and residuals vs
fitted as a grid of counts (log shade) with the means (observed) or the 10/50/90 % quantiles
(residuals) within the deciles of the fitted mean, and the QQ plot from the sorted residuals at
:data:`MAX_POINTS` ranks. These figures use fixed margins instead of ``tight_layout`` (which
draws the figure once more), so a million-row model's plots cost about as much as a small one's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from scipy import stats

from glmspec.report import summaries

#: Most points drawn in one scatter plot.
MAX_POINTS = 5000
#: Above this many rows (with positive weight) the per-row plots are drawn from summaries.
#: At 5e4 rows a 5000-point subsample still shows the shape of the cloud; beyond it the
#: sorting and drawing of the per-row plots grow with n while a summary's cost barely does.
SUMMARY_ROWS = 50_000
#: Seed of the subsample of points drawn when there are more than :data:`MAX_POINTS`.
SEED = 0
_DPI = 100
#: Margins of the summary figures (fractions of 6 x 4.5 inches): room for tick labels of up
#: to 7 characters and the axis labels, so that no ``tight_layout`` pass is needed.
_MARGINS = {"left": 0.14, "right": 0.97, "bottom": 0.11, "top": 0.92}
_SHADE = "Blues"
#: Titles at the top of the axes, as matplotlib places them when no tick labels are on top;
#: fixing it skips matplotlib's search for such labels (a layout pass per figure).
_TITLE_Y = 1.0


@dataclass(frozen=True)
class Plot:
    """One rendered figure: ``key`` names it within a model (``forest``, ``qq``, ...)."""

    key: str
    title: str
    caption: str
    png: bytes


def model_plots(res: Any, alpha: float = 0.05) -> list[Plot]:
    """All plots of one fitted model.

    Parameters
    ----------
    res : GLMResults or MultinomialResults
    alpha : float
        Coefficient intervals are ``res.conf_int(alpha)``, level ``1 - alpha``.

    Returns
    -------
    list of Plot
        GLM: coefficient forest plot, observed vs fitted, deviance residuals vs fitted and a
        normal QQ plot of the deviance residuals. Multinomial: confusion matrix and
        per-class coefficient plot.
    """
    if res.family.is_multiclass:
        return [confusion_plot(res), class_coefficient_plot(res, alpha)]
    rows, note = res, ""
    if getattr(res, "engine", None) == "dask":
        # the rows stay on the workers: residual plots show a random sample of them
        rows = res.sample_results()
        shown, total = len(rows.design.y), res.design.n_rows
        note = (
            f" Fitted on Dask data: a random sample of {shown} of the {total} fitted rows "
            "(seed 0) is shown."
            if shown < total
            else f" Fitted on Dask data: all {total} rows, collected from the workers."
        )
    bins = None
    if len(_used(rows, rows.design.y)) > SUMMARY_ROWS:  # one decile split for two plots
        bins = summaries.quantile_bins(_used(rows, rows.fittedvalues.to_numpy()))
    per_row = [
        observed_fitted_plot(rows, bins=bins),
        residuals_fitted_plot(rows, bins=bins),
        qq_plot(rows),
    ]
    per_row = [replace(plot, caption=plot.caption + note) for plot in per_row]
    return [forest_plot(res, alpha), *per_row]


def _png(fig: Figure, tight: bool = True) -> bytes:
    """Render ``fig`` to PNG bytes and release it; ``tight``: lay it out with
    ``tight_layout``, else with the fixed :data:`_MARGINS` (one drawing pass fewer)."""
    FigureCanvasAgg(fig)
    if tight:
        fig.tight_layout()
    else:
        fig.subplots_adjust(**_MARGINS)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    finally:
        fig.clear()
    return buffer.getvalue()


def subsample(n: int, max_points: int = MAX_POINTS, seed: int = SEED) -> tuple[np.ndarray, str]:
    """Sorted indices of at most ``max_points`` of ``n`` rows, and a note for the caption."""
    if n <= max_points:
        return np.arange(n), ""
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(n, size=max_points, replace=False))
    return index, f" Showing a random subsample of {max_points} of {n} points (seed {seed})."


def _intervals(res: Any, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Estimates, lower and upper bounds and labels in long (class-major) order."""
    ci = res.conf_int(alpha)
    params = res.params
    estimates = params.T.stack() if params.ndim == 2 else params
    return (
        np.asarray(estimates, dtype=float),
        ci[0].to_numpy(dtype=float),
        ci[1].to_numpy(dtype=float),
        [str(k) for k in estimates.index],
    )


def forest_plot(res: Any, alpha: float = 0.05) -> Plot:
    """Coefficients (intercept excluded) with their Wald intervals."""
    level = 1 - alpha
    est, lo, hi, names = _intervals(res, alpha)
    keep = [i for i, name in enumerate(names) if name != "Intercept"]
    note = " The intercept is not shown." if len(keep) < len(names) else ""
    if not keep:
        keep, note = list(range(len(names))), ""
    est, lo, hi = est[keep], lo[keep], hi[keep]
    labels = [names[i] for i in keep]
    fig = Figure(figsize=(7.0, 1.2 + 0.32 * len(labels)))
    ax = fig.add_subplot()
    y = np.arange(len(labels))[::-1]
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color="#1f4e79", capsize=3)
    ax.axvline(0.0, color="#888888", linewidth=1, linestyle="--")
    ax.set_yticks(y, labels)
    ax.set_xlabel(f"estimate ({res.family.link.name} scale) with {level:.0%} interval")
    ax.set_title("Coefficients", y=_TITLE_Y)
    caption = f"Estimates with {level:.0%} Wald intervals; dashed line at 0.{note}"
    return Plot("forest", "Coefficient plot", caption, _png(fig))


def observed_label(res: Any) -> str:
    """Axis label of the observed response: a two-column binomial response (``s + f`` or
    ``cbind(s, f)``) is plotted as the proportion ``s / (s + f)``, and says so."""
    name = res.design.response_name
    if res.family.proportion_response:
        inner = name[len("cbind(") : -1] if name.startswith("cbind(") and name.endswith(")") else ""
        parts = inner.split(", ") if inner else name.split(" + ")
        if len(parts) == 2:
            success, failure = (part.strip() for part in parts)
            return f"observed proportion {success} / ({success} + {failure})"
    return f"observed {name}"


def observed_fitted_plot(
    res: Any, summary_rows: int | None = None, bins: summaries.Bins | None = None
) -> Plot:
    """Observed response against fitted mean; binomial fits also show binned proportions.

    Above ``summary_rows`` rows (default :data:`SUMMARY_ROWS`) a grid of counts with the mean
    observed response in the deciles of the fitted mean (:func:`observed_fitted_summary`);
    ``bins``: those deciles' bins when already computed (shared with the residual plot).
    """
    y, mu = _used(res, res.design.y), _used(res, res.fittedvalues.to_numpy())
    if len(y) > _threshold(summary_rows):
        return observed_fitted_summary(res, y, mu, bins or summaries.quantile_bins(mu))
    index, note = subsample(len(y))
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot()
    ax.scatter(mu[index], y[index], s=8, alpha=0.35, color="#1f4e79", linewidths=0)
    lo, hi = float(min(mu.min(), y.min())), float(max(mu.max(), y.max()))
    ax.plot([lo, hi], [lo, hi], color="#c0392b", linewidth=1, label="observed = fitted")
    caption = "Observed response against fitted mean; red line: observed = fitted."
    if res.family.proportion_response and len(y) >= 20:
        bins = np.array_split(np.argsort(mu, kind="stable"), 10)
        ax.plot(
            [mu[b].mean() for b in bins],
            [y[b].mean() for b in bins],
            "s-",
            color="#e67e22",
            label="binned (deciles of fitted)",
        )
        caption += " Orange: observed proportion in deciles of the fitted probability."
    ax.set_xlabel("fitted mean")
    ax.set_ylabel(observed_label(res))
    ax.legend(loc="best", fontsize="small")
    ax.set_title("Observed vs fitted", y=_TITLE_Y)
    return Plot("observed_fitted", "Observed vs fitted", caption + note, _png(fig))


def observed_fitted_summary(res: Any, y: np.ndarray, mu: np.ndarray, bins: summaries.Bins) -> Plot:
    """The observed-vs-fitted plot of many rows: counts on a grid and decile means."""
    grid = summaries.count_grid(mu, y)
    fig, ax = _summary_axes(grid)
    lo, hi = float(min(mu.min(), y.min())), float(max(mu.max(), y.max()))
    ax.plot([lo, hi], [lo, hi], color="#c0392b", linewidth=1, label="observed = fitted")
    ax.plot(bins.means(mu), bins.means(y), "s-", color="#e67e22", label="mean in deciles of fitted")
    ax.set_xlabel("fitted mean")
    ax.set_ylabel(observed_label(res))
    ax.legend(loc="best", fontsize="small")
    ax.set_title("Observed vs fitted", y=_TITLE_Y)
    caption = (
        f"Observed response against fitted mean, all {len(y)} rows as counts on a "
        f"{grid.counts.shape[0]} x {grid.counts.shape[1]} grid (darker: more rows, log "
        "scale); red line: observed = fitted; orange: mean observed response against mean "
        f"fitted mean in {len(bins.sizes)} bins cut at the deciles of the fitted mean."
    )
    return Plot("observed_fitted", "Observed vs fitted", caption, _png(fig, tight=False))


def residuals_fitted_plot(
    res: Any, summary_rows: int | None = None, bins: summaries.Bins | None = None
) -> Plot:
    """Deviance residuals against the fitted mean.

    Above ``summary_rows`` rows (default :data:`SUMMARY_ROWS`) a grid of counts with the
    residuals' 10/50/90 % quantiles in the deciles of the fitted mean (``bins``: as
    :func:`observed_fitted_plot`).
    """
    mu = _used(res, res.fittedvalues.to_numpy())
    resid = _used(res, res.resid_deviance.to_numpy())
    if len(mu) > _threshold(summary_rows):
        return residuals_fitted_summary(mu, resid, bins or summaries.quantile_bins(mu))
    index, note = subsample(len(mu))
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot()
    ax.scatter(mu[index], resid[index], s=8, alpha=0.35, color="#1f4e79", linewidths=0)
    ax.axhline(0.0, color="#c0392b", linewidth=1)
    ax.set_xlabel("fitted mean")
    ax.set_ylabel("deviance residual")
    ax.set_title("Deviance residuals vs fitted", y=_TITLE_Y)
    caption = "Deviance residuals against the fitted mean; red line at 0." + note
    return Plot("residuals_fitted", "Residuals vs fitted", caption, _png(fig))


#: Quantiles of the residuals drawn in each decile bin of the fitted mean.
RESIDUAL_QUANTILES = (0.1, 0.5, 0.9)


def residuals_fitted_summary(mu: np.ndarray, resid: np.ndarray, bins: summaries.Bins) -> Plot:
    """The residuals-vs-fitted plot of many rows: counts on a grid and binned quantiles."""
    grid = summaries.count_grid(mu, resid)
    fig, ax = _summary_axes(grid)
    ax.axhline(0.0, color="#c0392b", linewidth=1)
    centre, bands = bins.means(mu), bins.quantiles(resid, RESIDUAL_QUANTILES)
    ax.plot(centre, bands[:, 1], "s-", color="#e67e22", label="median in deciles of fitted")
    for j in (0, 2):
        ax.plot(centre, bands[:, j], "--", color="#e67e22", linewidth=1)
    ax.set_xlabel("fitted mean")
    ax.set_ylabel("deviance residual")
    ax.legend(loc="best", fontsize="small")
    ax.set_title("Deviance residuals vs fitted", y=_TITLE_Y)
    caption = (
        f"Deviance residuals against the fitted mean, all {len(mu)} rows as counts on a "
        f"{grid.counts.shape[0]} x {grid.counts.shape[1]} grid (darker: more rows, log "
        "scale); red line at 0; orange: median (solid) and 10 % and 90 % quantiles (dashed) "
        f"of the residuals in {len(bins.sizes)} bins cut at the deciles of the fitted mean."
    )
    return Plot("residuals_fitted", "Residuals vs fitted", caption, _png(fig, tight=False))


def qq_plot(res: Any, summary_rows: int | None = None) -> Plot:
    """Normal QQ plot of the deviance residuals (scipy.stats.probplot's points and line).

    Above ``summary_rows`` rows (default :data:`SUMMARY_ROWS`) the same points and line are
    computed by :func:`glmspec.report.summaries.qq_points` at the drawn ranks only.
    """
    resid = _used(res, res.resid_deviance.to_numpy())
    n = len(resid)
    summary = n > _threshold(summary_rows)
    if summary:
        qq = summaries.qq_points(resid, MAX_POINTS)
        theoretical, ordered, slope, intercept = qq.theoretical, qq.ordered, qq.slope, qq.intercept
    else:
        (theoretical, ordered), (slope, intercept, _) = stats.probplot(resid, dist="norm")
        if n > MAX_POINTS:
            index = np.unique(np.linspace(0, n - 1, MAX_POINTS).round().astype(int))
            theoretical, ordered = theoretical[index], ordered[index]
    note = ""
    if n > MAX_POINTS:
        note = (
            f" Quantiles from all {n} residuals; {len(ordered)} evenly spaced ranks drawn "
            "(extremes included)."
        )
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot()
    ax.scatter(theoretical, ordered, s=8, alpha=0.5, color="#1f4e79", linewidths=0)
    ends = np.array([theoretical.min(), theoretical.max()])
    ax.plot(ends, intercept + slope * ends, color="#c0392b", linewidth=1)
    ax.set_xlabel("normal quantile")
    ax.set_ylabel("ordered deviance residual")
    ax.set_title("Normal QQ plot of deviance residuals", y=_TITLE_Y)
    caption = "Ordered deviance residuals against normal quantiles; red: least-squares line."
    return Plot("qq", "Normal QQ plot", caption + note, _png(fig, tight=not summary))


def _threshold(summary_rows: int | None) -> int:
    return SUMMARY_ROWS if summary_rows is None else summary_rows


def _summary_axes(grid: summaries.Grid) -> tuple[Figure, Any]:
    """A figure whose axes show ``grid``'s counts as shades (log scale, empty cells white)."""
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot()
    counts = np.ma.masked_equal(grid.counts.T, 0)
    ax.imshow(
        counts,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(grid.x_edges[0], grid.x_edges[-1], grid.y_edges[0], grid.y_edges[-1]),
        cmap=_SHADE,
        norm=LogNorm(vmin=1, vmax=max(int(grid.counts.max()), 2)),
    )
    return fig, ax


def confusion_plot(res: Any) -> Plot:
    """Heatmap of the confusion matrix (observed class by most probable class)."""
    table = res.pred_table()
    counts = table.to_numpy()
    k = len(table)
    fig = Figure(figsize=(1.6 + 0.7 * k, 1.2 + 0.6 * k))
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), list(table.columns))
    ax.set_yticks(range(k), list(table.index))
    ax.set_xlabel("predicted class (highest probability)")
    ax.set_ylabel("observed class")
    threshold = counts.max() / 2 if counts.size else 0
    for i in range(k):
        for j in range(k):
            colour = "white" if counts[i, j] > threshold else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=colour, fontsize=8)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"Confusion matrix (accuracy {accuracy:.3f})", y=_TITLE_Y)
    caption = (
        "Rows: observed class; columns: class with the highest fitted probability. "
        f"Accuracy {accuracy:.3f} on {int(counts.sum())} rows."
    )
    return Plot("confusion", "Confusion matrix", caption, _png(fig))


def class_coefficient_plot(res: Any, alpha: float = 0.05) -> Plot:
    """Per-class coefficients with intervals, one panel per term (intercept excluded)."""
    level = 1 - alpha
    ci = res.conf_int(alpha)
    terms = [t for t in res.params.index if t != "Intercept"] or list(res.params.index)
    classes = list(res.params.columns)
    ncols = min(3, len(terms))
    nrows = -(-len(terms) // ncols)
    fig = Figure(figsize=(3.4 * ncols, 0.8 + (0.9 + 0.25 * len(classes)) * nrows))
    for i, term in enumerate(terms):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        est = res.params.loc[term].to_numpy(dtype=float)
        lo = np.array([ci.loc[(c, term), 0] for c in classes], dtype=float)
        hi = np.array([ci.loc[(c, term), 1] for c in classes], dtype=float)
        y = np.arange(len(classes))[::-1]
        ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color="#1f4e79", capsize=2)
        ax.axvline(0.0, color="#888888", linewidth=1, linestyle="--")
        ax.set_yticks(y, classes)
        ax.set_title(term, fontsize="medium", y=_TITLE_Y)
        ax.tick_params(labelsize="small")
    reference = str(res.classes[0])
    fig.suptitle(f"Coefficients by class (log relative risk vs class {reference!r})")
    caption = (
        f"Per-class estimates with {level:.0%} Wald intervals against the reference class "
        f"{reference!r}; dashed line at 0."
    )
    if len(terms) < len(res.params.index):
        caption += " The intercept is not shown."
    return Plot("coef_by_class", "Coefficients by class", caption, _png(fig))


def _used(res: Any, values: np.ndarray) -> np.ndarray:
    """Rows with positive prior weight (zero-weight rows take no part in the fit)."""
    values = np.asarray(values, dtype=float)
    used = res.design.prior_weights > 0
    return values if used.all() else values[used]
