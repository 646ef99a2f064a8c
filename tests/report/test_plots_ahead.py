"""Plots drawn ahead (``glmspec.report.ahead``): during each model's statsmodels check, on one
background thread, giving the very figures a serial report draws."""

from __future__ import annotations

import threading
from pathlib import Path

import jinja2
import pytest

import glmspec
import glmspec.report.ahead as ahead_module
import glmspec.report.render as render
from glmspec.cli.commands import fit_and_report
from glmspec.report.ahead import PlotsAhead
from glmspec.report.plots import model_plots
from glmspec.report.render import plot_file
from glmspec.spec import load_spec

DATASETS = Path(glmspec.datasets.__file__).resolve().parent.parent / "datasets"


@pytest.fixture(scope="module")
def fits():
    data = glmspec.datasets.load("restaurant_visitors")
    return [
        glmspec.fit("visitors ~ hour + C(weekday)", data, "poisson"),
        glmspec.fit("visitors ~ hour + rain", data, "poisson"),
    ]


def test_figures_drawn_ahead_equal_the_serial_ones(fits):
    with PlotsAhead() as ahead:
        for res in fits:
            ahead.submit(res)
        drawn = [ahead.plots(res) for res in fits]
    assert drawn == [model_plots(res) for res in fits]  # keys, captions and PNG bytes
    assert all(len(plots) == 4 for plots in drawn)


def test_every_figure_is_drawn_on_the_one_worker_thread(fits, monkeypatch):
    threads: list[str] = []

    def recording(res, alpha):
        threads.append(threading.current_thread().name)
        return []

    monkeypatch.setattr(ahead_module, "model_plots", recording)
    with PlotsAhead() as ahead:
        ahead.submit(fits[0])
        ahead.wait()
        assert threads == [threads[0]]  # drawn before it was asked for
        assert ahead.plots(fits[0]) == [] and ahead.plots(fits[1]) == []  # one not submitted
    assert len(threads) == 2 and len(set(threads)) == 1
    assert threads[0].startswith("glmspec-plots")


def test_a_failing_plot_raises_where_the_report_asks_for_it(fits, monkeypatch):
    def broken(res, alpha):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(ahead_module, "model_plots", broken)
    with PlotsAhead() as ahead:
        ahead.submit(fits[0])
        ahead.wait()  # the error waits in the future
        with pytest.raises(RuntimeError, match="plotting failed"):
            ahead.plots(fits[0])


@pytest.mark.parametrize("check", [True, False])
def test_run_draws_each_model_during_its_check_only(tmp_path, monkeypatch, check):
    spec = load_spec(DATASETS / "restaurant_visitors.toml")
    events: list[tuple[str, str]] = []
    submit = PlotsAhead.submit

    def spied(self, res):
        events.append(("submit", id(res)))
        return submit(self, res)

    monkeypatch.setattr(PlotsAhead, "submit", spied)
    fitted, folder = fit_and_report(
        spec,
        check=check,
        progress=lambda i, n, name: events.append(("model", name)),
        phase=lambda phase, name: events.append((phase, name)),
        out_dir=tmp_path,
    )
    assert all(model.ok for model in fitted)
    submitted = [event for event in events if event[0] == "submit"]
    assert len(submitted) == (len(fitted) if check else 0)
    if check:  # each model's plots start after its fit, before its check
        for model in fitted:
            at = events.index(("checking", model.entry.name))
            assert events[at - 1] == ("submit", id(model.results))
    for model in fitted:  # the bundled spec's model names are their slugs
        for plot in model_plots(model.results):
            assert (folder / plot_file(model.entry.name, plot.key)).read_bytes() == plot.png


def test_compiled_templates_are_the_ones_rendering_uses(monkeypatch):
    """After ``compile_templates`` (run ahead by ``glmspec run``) no template is read or
    compiled again in the process: rendering takes the compiled ones."""
    render.compile_templates()

    def no_loading(*args, **kwargs):
        raise AssertionError("a template was read and compiled again")

    monkeypatch.setattr(jinja2.FileSystemLoader, "get_source", no_loading)
    render.compile_templates()  # every template again: all from the process's cache
