"""``glmspec run`` on a 1e6-row spec: where the time goes, phase by phase.

Run ``python benchmarks/big_run.py`` (1e6 rows, a few minutes) or ``--rows 100000``. It writes
a CSV of simulated insurance-like data (numeric covariates, a 12-level string factor, an
exposure) and a spec of four models (Poisson with an offset and a factor, logistic with an
interaction, Gamma with a log link, Gaussian) into a temporary folder, then runs what
``glmspec run spec.toml --out <tmp>/report`` runs, in this process: :func:`glmspec.spec.load_spec`
and :func:`glmspec.cli.commands.fit_and_report` (:meth:`Spec.fit <glmspec.spec.Spec.fit>`, each
model's plots drawn on a background thread during its statsmodels check, and
:func:`glmspec.report.write_report`). The phases are timed from glmspec's own progress hooks
(the calls that drive the progress line of :mod:`glmspec.cli.progress`):

* ``reading``: load_spec (parses the spec and reads the CSV);
* ``fitting``: from ``progress(i, n, name)`` to the model's ``phase("checking", name)``
  (design, solver, inference, results);
* ``checking``: the statsmodels cross-check (``phase("checking")`` to the next model), with
  the model's plots drawn meanwhile and waited for before the next model;
* ``tables``: ``progress("tables", "")`` to write_report's first ``progress("plotting", ...)``;
* ``plotting``: each model's plots (drawn during the check: the wait for any still drawing);
* ``writing``: ``progress("writing", "")`` to write_report's return (results.json,
  model.json, index.html, index.md, the PNGs).

"After the fits" is tables + plotting + writing; the check is reported on its own. With
``--results FILE`` the table is written into that Markdown file between the ``<!-- big-run -->``
and ``<!-- /big-run -->`` markers (``benchmarks/run.py --big-run`` does this for RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from glmspec.cli.commands import fit_and_report
from glmspec.spec import load_spec

BEGIN, END = "<!-- big-run -->", "<!-- /big-run -->"

SPEC = """\
title = "glmspec run benchmark: {rows} simulated policies"
data = "policies.csv"

[[model]]
name = "claims_poisson"
formula = "claims ~ age + income + density + vehicle_age + region"
family = "poisson"
offset = "log_exposure"

[[model]]
name = "lapse_logistic"
formula = "lapse ~ age + income + premium + region + age:income"
family = "binomial"

[[model]]
name = "cost_gamma"
formula = "cost ~ age + density + vehicle_age + premium + region"
family = "gamma"
link = "log"

[[model]]
name = "score_gaussian"
formula = "score ~ age + income + density + premium + region"

[check]
against = "{against}"
tol = 1e-6

[report]
formats = ["html", "markdown"]
"""


def simulate(rows: int, seed: int = 1) -> pd.DataFrame:
    """Simulated policies: correlated covariates, a 12-level region and four responses."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((rows, 5))
    age = z[:, 0]
    income = 0.6 * z[:, 0] + 0.8 * z[:, 1]
    density, vehicle_age, premium = z[:, 2], 0.5 * z[:, 2] + z[:, 3], z[:, 4]
    region_effect = np.linspace(-0.4, 0.4, 12)
    region = rng.integers(0, 12, rows)
    exposure = rng.uniform(0.2, 1.0, rows)
    eta = -1.5 + 0.2 * age - 0.1 * income + 0.3 * density + 0.05 * vehicle_age
    claims = rng.poisson(exposure * np.exp(eta + region_effect[region]))
    p = 1 / (1 + np.exp(-(-1.0 + 0.3 * age + 0.2 * income - 0.4 * premium + 0.1 * age * income)))
    mean_cost = np.exp(7.0 + 0.1 * age + 0.2 * density - 0.1 * vehicle_age + 0.05 * premium)
    return pd.DataFrame(
        {
            "claims": claims,
            "lapse": (rng.random(rows) < p).astype(int),
            "cost": rng.gamma(2.0, mean_cost / 2.0),
            "score": 50
            + 3 * age
            + 2 * income
            - density
            + region_effect[region]
            + rng.normal(0, 5, rows),
            "age": age.round(4),
            "income": income.round(4),
            "density": density.round(4),
            "vehicle_age": vehicle_age.round(4),
            "premium": premium.round(4),
            "region": np.array([f"R{k:02d}" for k in range(12)])[region],
            "log_exposure": np.log(exposure).round(6),
        }
    )


class PhaseClock:
    """Wall and CPU seconds per phase, from glmspec's progress hooks (``progress(i, n, name)``
    and ``phase(name, model)``). CPU seconds (this process, all its threads) hardly change
    with the machine's load, wall seconds do: both are reported."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.per_model: dict[tuple[str, str], float] = defaultdict(float)
        self._phase: str | None = None
        self._model = ""
        self._since = (0.0, 0.0)

    def start(self, phase: str, model: str = "") -> None:
        """End the running phase and start ``phase``."""
        now = (time.perf_counter(), time.process_time())
        if self._phase is not None:
            self.seconds[self._phase] += now[0] - self._since[0]
            self.cpu[self._phase] += now[1] - self._since[1]
            self.per_model[(self._phase, self._model)] += now[0] - self._since[0]
        self._phase, self._model, self._since = phase, model, now

    def stop(self) -> None:
        self.start("", "")
        self._phase = None

    def model(self, i: int, n: int, name: str) -> None:
        """The hook :meth:`Spec.fit` calls before each model: fitting begins."""
        self.start("fitting", name)


def run_once(folder: Path, check: bool) -> PhaseClock:
    """What ``glmspec run spec.toml --out folder/report`` does, with the phases timed."""
    clock = PhaseClock()
    clock.start("reading")
    spec = load_spec(folder / "spec.toml")
    fitted, _ = fit_and_report(
        spec,
        check=check,
        progress=clock.model,
        phase=clock.start,
        out_dir=folder / "report",
        force=True,
    )
    clock.stop()
    bad = [f.entry.name for f in fitted if not f.ok]
    if bad:
        raise RuntimeError(f"models not ok: {bad} ({[f.error or f.check_error for f in fitted]})")
    return clock


def table(clock: PhaseClock) -> list[str]:
    """Markdown rows of the phase times and the post-fit share."""
    s, c = clock.seconds, clock.cpu
    post = ("tables", "plotting", "writing")
    out = [
        "| phase | wall s | share of fitting (wall) | CPU s | share of fitting (CPU) |",
        "|---|---:|---:|---:|---:|",
    ]

    def row(label: str, wall: float, cpu: float) -> str:
        return (
            f"| {label} | {wall:.3f} | {wall / s['fitting']:.1%} | {cpu:.3f} "
            f"| {cpu / c['fitting']:.1%} |"
        )

    for phase in ("reading", "fitting", "checking", *post):
        out.append(row(phase, s[phase], c[phase]))
    after = (sum(s[p] for p in post), sum(c[p] for p in post))
    out.append(row("**after the fits** (tables + plotting + writing)", *after))
    models = sorted({m for (_, m) in clock.per_model if m})
    out += ["", "| model | fitting s | checking s | plotting s |", "|---|---:|---:|---:|"]
    for m in models:
        fit, check, plot = (
            clock.per_model[(phase, m)] for phase in ("fitting", "checking", "plotting")
        )
        out.append(f"| {m} | {fit:.3f} | {check:.3f} | {plot:.3f} |")
    return out


def section(clock: PhaseClock, rows: int, command: str, load: str) -> str:
    """The RESULTS.md section."""
    lines = [
        BEGIN,
        "",
        f"## `glmspec run` on a {rows:,}-row spec",
        "",
        f"Command: `{command}`; load average (1, 5, 15 min) before the run: {load}. Four models",
        "(Poisson with an offset and a 12-level factor, logistic with an interaction, Gamma with",
        "a log link, Gaussian), each phase timed from glmspec's progress hooks (see",
        "benchmarks/big_run.py). After the fits = tables + plotting + writing; the statsmodels",
        "check is its own phase, and each model's plots are drawn on a background thread",
        "during its check (the plotting phase is the wait for any still drawing). Lazy",
        "results statistics (null deviance, llf) are computed by",
        "whichever phase first asks for them: the check, else the tables. CPU seconds count",
        "all of this process's threads (the fits use a BLAS thread per core).",
        "",
        *table(clock),
        "",
        END,
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    """Put ``text`` into ``path`` in place of its previous big-run section, else at its end."""
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        old = head + text + rest.split(END, 1)[1].lstrip("\n")
        path.write_text(old)
    else:
        path.write_text(old.rstrip("\n") + "\n\n" + text if old else text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-check", action="store_true", help="skip the statsmodels check")
    parser.add_argument("--results", help="Markdown file to write the section into")
    parser.add_argument("--keep", help="folder to write the data, spec and report to (kept)")
    args = parser.parse_args(argv)
    command = (
        "python benchmarks/big_run.py"
        + (f" --rows {args.rows}" if args.rows != 1_000_000 else "")
        + (" --no-check" if args.no_check else "")
    )
    with tempfile.TemporaryDirectory(prefix="glmspec-big-run-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        simulate(args.rows).to_csv(folder / "policies.csv", index=False)
        against = "none" if args.no_check else "statsmodels"
        (folder / "spec.toml").write_text(SPEC.format(rows=args.rows, against=against))
        print(f"data written in {time.perf_counter() - start:.1f} s", flush=True)
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
        clock = run_once(folder, check=not args.no_check)
    text = section(clock, args.rows, command, load)
    print(text)
    if args.results:
        write_section(Path(args.results), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
