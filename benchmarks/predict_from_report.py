"""Time predicting from a report's model.json against refitting, on every bundled spec.

    python benchmarks/predict_from_report.py [--repeat 20]         # in-process, per model
    python benchmarks/predict_from_report.py --cli [--repeat 5]    # the command line

In-process (the default), for each model of each ``datasets/*.toml``: *refit* is what
predicting from a spec costs (read the spec and its data, fit the model, predict the spec's
own rows); *stored* is what predicting from a report costs (read and validate
``model.json``, rebuild the design, predict the same rows). The two are run alternately
``--repeat`` times and each keeps its best time (the least disturbed by other processes, as
timeit), so a burst of load hits both alike; ``--cpu`` times CPU time (every thread's)
instead of wall time, for a busy machine. A last column times ``glmspec.fit`` on the data
already in memory plus ``predict`` (no spec to read): the least a refit can cost. The
predictions are also compared (largest relative difference).

With ``--cli``: the wall time of ``glmspec predict REPORT --model M`` against ``glmspec
predict SPEC --model M`` (which fits first), each a fresh interpreter, alternated, median of
``--repeat``; both read the spec's own data file as new data and write the same CSV. The
interpreter's start-up and imports are part of what a user waits for, so they count here.

Prints a Markdown table and the overall ratio of the summed times.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import glmspec
from glmspec.report.stored import FILE, load_models, models_json
from glmspec.spec import OPTION_KEYS, load_spec

ROOT = Path(__file__).resolve().parent.parent


#: The clock of the in-process runs: wall time, or with --cpu the process's CPU time (every
#: thread's), which waiting for a busy machine's cores does not inflate.
CLOCK = {"clock": time.perf_counter}


def _seconds(action) -> float:
    clock = CLOCK["clock"]
    start = clock()
    action()
    return clock() - start


def _in_process(repeat: int) -> list[tuple]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for spec_path in sorted((ROOT / "datasets").glob("*.toml")):
            spec = load_spec(spec_path)
            fitted = spec.fit(check=False)
            Path(folder, FILE).write_text(models_json(fitted))
            for item in fitted:
                name = item.entry.name
                data = spec.load_data(item.entry)

                def refit(name=name, data=data, spec_path=spec_path):
                    fresh = load_spec(spec_path)
                    (again,) = fresh.fit(check=False, only=[name])
                    return again.results.predict(data)

                def stored(name=name, data=data):
                    return load_models(folder, only=name)[name].predict(data)

                entry = item.entry
                options = {key: getattr(entry, key) for key in OPTION_KEYS}

                def fit_only(entry=entry, data=data, options=options):
                    return glmspec.fit(entry.formula, data, **options).predict(data)

                gap = np.max(np.abs(np.asarray(stored()) / np.asarray(refit()) - 1))
                times = [
                    (_seconds(refit), _seconds(stored), _seconds(fit_only)) for _ in range(repeat)
                ]
                t_refit, t_stored, t_fit = (min(t[i] for t in times) for i in range(3))
                rows.append((spec_path.stem, name, len(data), t_refit, t_stored, gap, t_fit))
    return rows


def _cli(repeat: int) -> list[tuple]:
    rows = []
    command = [sys.executable, "-m", "glmspec"]
    with tempfile.TemporaryDirectory() as folder:
        for spec_path in sorted((ROOT / "datasets").glob("*.toml")):
            spec = load_spec(spec_path)
            subprocess.run(
                [*command, "run", str(spec_path), "--out", folder, "--no-check"],
                capture_output=True,
                check=True,
            )
            for entry in spec.models:
                data = str(entry.data)
                common = ["--model", entry.name, "--data", data, "--force"]
                out_refit, out_stored = Path(folder, "refit.csv"), Path(folder, "stored.csv")
                refit = [*command, "predict", str(spec_path), *common, "--out", str(out_refit)]
                report = str(Path(folder, spec_path.stem))
                stored = [*command, "predict", report, *common, "--out", str(out_stored)]
                times = []
                for _ in range(repeat):
                    run = [
                        _seconds(lambda c=c: subprocess.run(c, capture_output=True, check=True))
                        for c in (refit, stored)
                    ]
                    times.append(run)
                a, b = pd.read_csv(out_refit), pd.read_csv(out_stored)
                means = [c for c in a.columns if c == "mean" or c.startswith("prob_")]
                gap = float(np.nanmax(np.abs(b[means].to_numpy() / a[means].to_numpy() - 1)))
                t_refit = statistics.median(t for t, _ in times)
                t_stored = statistics.median(t for _, t in times)
                rows.append((spec_path.stem, entry.name, "", t_refit, t_stored, gap, None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=None, help="runs (20; 5 with --cli)")
    parser.add_argument("--cli", action="store_true", help="time the command line")
    parser.add_argument(
        "--cpu", action="store_true", help="in-process: CPU time instead of wall time"
    )
    args = parser.parse_args()
    if args.cpu:
        CLOCK["clock"] = time.process_time
    if args.cli:
        rows = _cli(args.repeat or 5)
        print("| spec | model | predict SPEC | predict REPORT | ratio | max rel diff |")
        print("|---|---|---:|---:|---:|---:|")
    else:
        rows = _in_process(args.repeat or 20)
        print(
            "| spec | model | rows | refit + predict | model.json + predict | ratio "
            "| rel diff | glmspec.fit + predict | ratio |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for stem, name, n, t_refit, t_stored, gap, t_fit in rows:
        size = "" if args.cli else f" {n} |"
        fit = "" if t_fit is None else f" {t_fit * 1e3:.1f} ms | {t_fit / t_stored:.1f}x |"
        print(
            f"| {stem} | {name} |{size} {t_refit * 1e3:.1f} ms | {t_stored * 1e3:.1f} ms "
            f"| {t_refit / t_stored:.1f}x | {gap:.1e} |{fit}"
        )
    total_refit, total_stored = sum(r[3] for r in rows), sum(r[4] for r in rows)
    ratios = [r[3] / r[4] for r in rows]
    print(
        f"\nall models: refit {total_refit:.2f} s, stored {total_stored:.2f} s, "
        f"{total_refit / total_stored:.1f}x; smallest ratio {min(ratios):.1f}x"
    )


if __name__ == "__main__":
    main()
