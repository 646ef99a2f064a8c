"""Progress of ``glmspec run`` on stderr, drawn by :mod:`rich` in a terminal.

rich redraws one live line in place, sized to the terminal (the model's name is cut with an
ellipsis rather than wrapped), and clears it when the run ends, so nothing is left behind
whatever the width. The line shows the phase (fitting, checking, plotting, writing), the
model, how many models are done and the solver's latest iteration. When stderr is not a
terminal (CI logs, pipes) it shows nothing: the status lines on stdout say what happened.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column

#: The phases of a run, in order.
PHASES = ("fitting", "checking", "tables", "plotting", "writing")


class RunProgress:
    """A live progress line for a spec's models; a context manager.

    Call the object as ``progress(i, n, name)`` before each model is fitted (the signature
    :meth:`glmspec.spec.Spec.fit` expects), :meth:`phase` when a model's check, plots or the
    report files begin, and :meth:`iteration` with the solver's log lines.
    """

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self._progress: Progress | None = None
        self._task = None
        if self.enabled:
            console = Console(stderr=True, highlight=False)
            self._progress = Progress(
                TextColumn("{task.fields[phase]:<8}", table_column=Column(no_wrap=True)),
                TextColumn(
                    "{task.description}",
                    table_column=Column(no_wrap=True, overflow="ellipsis", ratio=2),
                ),
                BarColumn(bar_width=None, table_column=Column(ratio=1)),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn(
                    "{task.fields[detail]}",
                    table_column=Column(no_wrap=True, overflow="ellipsis", ratio=2),
                ),
                console=console,
                transient=True,  # the line is cleared at the end: no stale lines
                expand=True,
            )
            self._task = self._progress.add_task("", total=total, phase="", detail="")

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, i: int, n: int, name: str) -> None:
        """Model ``i`` of ``n`` (counting from 1) starts fitting."""
        self._update(completed=i - 1, total=n, description=name, phase="fitting", detail="")
        self._redraw()

    def phase(self, phase: str, name: str = "") -> None:
        """``phase`` (one of :data:`PHASES`) begins, for model ``name`` when it has one."""
        if phase == "plotting" or phase == "writing":
            self._update(completed=self.total)
        self._update(phase=phase, description=name, detail="")
        self._redraw()

    def iteration(self, message: str) -> None:
        """Show the solver's latest iteration (deviance, change) at the end of the line."""
        self._update(detail=message)

    def _redraw(self) -> None:
        # rich redraws 10 times a second from its own thread; a phase that ends sooner
        # (a small model fits in milliseconds) would never be seen, so a new phase or
        # model is drawn at once. Iterations are left to the timer: they come too fast.
        if self._progress is not None:
            self._progress.refresh()

    def _update(self, **fields) -> None:
        if self._progress is not None:
            self._progress.update(self._task, **fields)


class IterationHandler(logging.Handler):
    """Sends the solver's per-iteration log lines to the progress line."""

    def __init__(self, progress: RunProgress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.iteration(record.getMessage())
