"""A model's plots drawn on a background thread during its statsmodels check.

``glmspec run`` fits its models one after another and checks each against statsmodels; the
report's plots (matplotlib: about 0.25 s a figure, whatever the number of rows) need only the
fitted results. :class:`PlotsAhead` starts a model's plots as soon as its fit returns, so that
they are drawn while statsmodels refits the model (numpy and BLAS work that leaves a core idle
part of the time) rather than after the last fit; :func:`glmspec.report.write_report` then
takes the finished figures. :meth:`PlotsAhead.wait` before the next model's fit keeps the
figures from competing with a fit for the cores, and keeps their warnings out of the fit's
(the fit records the warnings raised while it runs; the check silences its own).

Every figure is drawn on the one worker thread, in submission order, so matplotlib is never
used by two threads at once. Fits on Dask are not drawn ahead: their plots gather a sample of
rows from the workers, which stays in the thread that reports. A plot that raises raises where
the report asks for it, as it would have without drawing ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from glmspec.report.plots import Plot, model_plots
from glmspec.report.tables import ALPHA


class PlotsAhead:
    """A queue of models whose plots are drawn on one background thread.

    Parameters
    ----------
    alpha : float
        Coefficient intervals of the forest plot are ``1 - alpha`` intervals; default the
        report's (:data:`glmspec.report.tables.ALPHA`).

    Examples
    --------
    >>> ahead = PlotsAhead()  # doctest: +SKIP
    >>> ahead.submit(results)  # doctest: +SKIP
    >>> figures = ahead.plots(results)  # doctest: +SKIP
    >>> ahead.close()  # doctest: +SKIP
    """

    def __init__(self, alpha: float = ALPHA) -> None:
        self.alpha = alpha
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="glmspec-plots")
        # keyed by id(): the results are kept alongside, so an id is never reused meanwhile
        self._queued: dict[int, tuple[Any, Future]] = {}

    def submit(self, res: Any) -> None:
        """Start drawing ``res``'s plots (a fit in memory; Dask fits are drawn on request)."""
        if getattr(res, "engine", None) == "dask" or id(res) in self._queued:
            return
        self._queued[id(res)] = (res, self._pool.submit(model_plots, res, self.alpha))

    def start(self, task: Callable[[], object]) -> None:
        """Run ``task`` on the worker, before the figures submitted later (work the report
        will need, such as compiling its templates); its result and errors are dropped, so
        it must be work the report would redo if it failed."""
        self._pool.submit(task)

    def plots(self, res: Any) -> list[Plot]:
        """``model_plots(res, alpha)``: the figures drawn ahead, waited for if still drawing."""
        queued = self._queued.pop(id(res), None)
        if queued is not None:
            return queued[1].result()
        if getattr(res, "engine", None) == "dask":
            return model_plots(res, self.alpha)
        # drawn on the worker too, after anything queued: matplotlib stays on one thread
        return self._pool.submit(model_plots, res, self.alpha).result()

    def wait(self) -> None:
        """Return when every figure submitted so far is drawn (or failed)."""
        wait([future for _, future in self._queued.values()])

    def close(self) -> None:
        """Drop the figures not asked for and stop the thread (after a figure in progress)."""
        self._queued.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> PlotsAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
