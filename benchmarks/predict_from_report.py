"""Time predicting from a report's model.json against refitting, on every bundled spec.

    python benchmarks/predict_from_report.py [--repeat 20]         # in-process, per model
    python benchmarks/predict_from_report.py --cli [--repeat 5]    # the command line

In-process (the default), for each model of each ``datasets/*.toml``: *refit* is what
predicting from a spec costs (read the spec and its data, fit the model, predict the spec's
own rows); *stored* is what predicting from a report costs (read and validate
``model.json``, rebuild the design, predict the same rows). The two are run alternately
``--repeat`` times and each keeps its best time (the least disturbed by other processes, as
timeit), so a burst of load hits both alike. The predictions are also compared (largest
relative difference).

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

from glmspec.report.stored import FILE, load_models, models_json
from glmspec.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent


def _seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


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

                gap = np.max(np.abs(np.asarray(stored()) / np.asarray(refit()) - 1))
                times = [(_seconds(refit), _seconds(stored)) for _ in range(repeat)]
                t_refit = min(t for t, _ in times)
                t_stored = min(t for _, t in times)
                rows.append((spec_path.stem, name, len(data), t_refit, t_stored, gap))
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
                a = np.genfromtxt(out_refit, delimiter=",", names=True, usecols=("mean",))
                b = np.genfromtxt(out_stored, delimiter=",", names=True, usecols=("mean",))
                gap = float(np.nanmax(np.abs(b["mean"] / a["mean"] - 1))) if a.size else 0.0
                t_refit = statistics.median(t for t, _ in times)
                t_stored = statistics.median(t for _, t in times)
                rows.append((spec_path.stem, entry.name, "", t_refit, t_stored, gap))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=None, help="runs (20; 5 with --cli)")
    parser.add_argument("--cli", action="store_true", help="time the command line")
    args = parser.parse_args()
    if args.cli:
        rows = _cli(args.repeat or 5)
        print("| spec | model | predict SPEC | predict REPORT | ratio | max rel diff |")
        print("|---|---|---:|---:|---:|---:|")
    else:
        rows = _in_process(args.repeat or 20)
        print("| spec | model | rows | refit + predict | model.json + predict | ratio | rel diff |")
        print("|---|---|---:|---:|---:|---:|---:|")
    for stem, name, n, t_refit, t_stored, gap in rows:
        size = "" if args.cli else f" {n} |"
        print(
            f"| {stem} | {name} |{size} {t_refit * 1e3:.1f} ms | {t_stored * 1e3:.1f} ms "
            f"| {t_refit / t_stored:.1f}x | {gap:.1e} |"
        )
    total_refit, total_stored = sum(r[3] for r in rows), sum(r[4] for r in rows)
    ratios = [r[3] / r[4] for r in rows]
    print(
        f"\nall models: refit {total_refit:.2f} s, stored {total_stored:.2f} s, "
        f"{total_refit / total_stored:.1f}x; smallest ratio {min(ratios):.1f}x"
    )


if __name__ == "__main__":
    main()
