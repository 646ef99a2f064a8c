"""Time ``glmspec predict`` from a report's model.json against refitting, on every bundled spec.

    python benchmarks/predict_from_report.py [--repeat 5]

For each model of each ``datasets/*.toml``: *refit* is what predicting from a spec costs
(read the spec and its data, fit the model, predict the spec's own rows); *stored* is what
predicting from a report costs (read and validate ``model.json``, rebuild the design, predict
the same rows). Both are in-process best-of-``--repeat`` times (the interpreter's start-up,
the same for both, is left out). The predictions are also compared (largest relative
difference). Prints a Markdown table and the overall ratio of the summed medians.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from glmspec.report.stored import FILE, load_models, models_json
from glmspec.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent


def _median_time(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)  # best of N: the least disturbed by other processes (timeit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows, total_refit, total_stored = [], 0.0, 0.0
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
                t_refit = _median_time(refit, args.repeat)
                t_stored = _median_time(stored, args.repeat)
                total_refit += t_refit
                total_stored += t_stored
                rows.append((spec_path.stem, name, len(data), t_refit, t_stored, gap))
    print("| spec | model | rows | refit + predict | model.json + predict | ratio | max rel diff |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for stem, name, n, t_refit, t_stored, gap in rows:
        print(
            f"| {stem} | {name} | {n} | {t_refit * 1e3:.1f} ms | {t_stored * 1e3:.1f} ms "
            f"| {t_refit / t_stored:.1f}x | {gap:.1e} |"
        )
    ratios = [r[3] / r[4] for r in rows]
    print(
        f"\nall models: refit {total_refit:.2f} s, stored {total_stored:.2f} s, "
        f"{total_refit / total_stored:.1f}x; smallest ratio {min(ratios):.1f}x"
    )


if __name__ == "__main__":
    main()
