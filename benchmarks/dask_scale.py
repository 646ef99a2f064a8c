"""Scaling out: a Poisson fit on a Parquet dataset several times larger than a Dask worker's memory.

Writes a Parquet dataset (``--rows`` rows in files of ``--rows-per-file``) to ``--dir``, then:

1. fits ``count ~ x0 + ... + x9 + C(weekday) + C(store)`` with the Dask engine on a
   ``LocalCluster`` of ``--workers`` worker processes, each limited to ``--worker-memory``
   (the dataset held in pandas is at least 5x that), recording wall time, the client's peak
   resident memory (the client process, which also runs the scheduler) and each worker's;
2. fits the same model in memory (pandas) in a subprocess, recording wall time and peak
   memory, and checks the two fits' coefficients agree to 1e-10 relative.

Results go to the "Scaling out" section of ``benchmarks/RESULTS.md`` (kept when
``benchmarks/run.py`` rewrites the file). Needs ``pip install -e ".[dask]"``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA = "count ~ " + " + ".join(f"x{j}" for j in range(10)) + " + C(weekday) + C(store)"
WEEKDAYS = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
BEGIN, END = "<!-- dask-scale -->", "<!-- /dask-scale -->"


def write_dataset(folder: Path, rows: int, per_file: int, seed: int = 0) -> float:
    """Write the Parquet files; return the dataset's size in memory as pandas, in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    beta = rng.normal(scale=0.1, size=10)
    store_effect = rng.normal(scale=0.3, size=60)
    in_memory = 0.0
    for i, start in enumerate(range(0, rows, per_file)):
        n = min(per_file, rows - start)
        x = rng.normal(size=(n, 10))
        weekday = rng.integers(0, 7, size=n)
        store = rng.integers(0, 60, size=n)
        eta = 0.5 + x @ beta + 0.1 * weekday - 0.05 * (weekday == 6) + store_effect[store]
        frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(10)])
        frame["weekday"] = WEEKDAYS[weekday]
        frame["store"] = np.char.add("s", store.astype(str))
        frame["count"] = rng.poisson(np.exp(eta))
        frame.to_parquet(folder / f"part-{i:04d}.parquet", index=False)
        in_memory += frame.memory_usage(deep=True).sum()
    return in_memory


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_dask(folder: Path, workers: int, memory: str) -> dict:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import glmspec

    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, memory_limit=memory, dashboard_address=":0"
    )
    with Client(cluster) as client:
        ddf = dd.read_parquet(str(folder / "*.parquet"))
        start = time.perf_counter()
        res = glmspec.fit(FORMULA, ddf, family="poisson")
        seconds = time.perf_counter() - start
        llf = res.llf  # one more pass, timed apart
        worker_peaks = client.run(peak_rss_mib)
    cluster.close()
    return {
        "seconds": seconds,
        "n_iter": res.n_iter,
        "partitions": ddf.npartitions,
        "client_peak_mib": peak_rss_mib(),
        "worker_peak_mib": sorted(worker_peaks.values()),
        "params": res.params.to_dict(),
        "bse": res.bse.to_dict(),
        "llf": llf,
        "nobs": res.nobs,
    }


def fit_memory(folder: Path) -> dict:
    """In a subprocess (its peak memory is its own): read all files into pandas and fit."""
    code = f"""
import json, time, resource, sys
import pandas as pd, glmspec
start = time.perf_counter()
frame = pd.read_parquet({str(folder)!r})
read = time.perf_counter() - start
res = glmspec.fit({FORMULA!r}, frame, family="poisson")
seconds = time.perf_counter() - start - read
print(json.dumps({{"seconds": seconds, "read_seconds": read, "params": res.params.to_dict(),
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def render(args, in_memory: float, dask_fit: dict, memory_fit: dict) -> str:
    worker_limit = _bytes(args.worker_memory)
    lines = [
        BEGIN,
        "## Scaling out (Dask)",
        "",
        f"Command: `python benchmarks/dask_scale.py --rows {args.rows} --worker-memory "
        f"{args.worker_memory} --workers {args.workers}`",
        "",
        f"Poisson `{FORMULA}` ({dask_fit['nobs']} rows, {dask_fit['partitions']} Parquet files). "
        f"The data take {in_memory / 2**20:.0f} MiB in pandas = "
        f"{in_memory / worker_limit:.1f}x the {args.worker_memory} each of the "
        f"{args.workers} workers may use (LocalCluster, processes, 1 thread each).",
        "",
        "| engine | seconds | iterations | peak memory (MiB) |",
        "|---|---:|---:|---|",
        f"| dask | {dask_fit['seconds']:.1f} | {dask_fit['n_iter']} | client (with the "
        f"scheduler) {dask_fit['client_peak_mib']:.0f}; workers "
        + ", ".join(f"{m:.0f}" for m in dask_fit["worker_peak_mib"])
        + " |",
    ]
    if "error" in memory_fit:
        lines.append(f"| in memory (pandas) | | | failed: {memory_fit['error']} |")
    else:
        diff = max(
            abs(dask_fit["params"][k] - v) / max(abs(v), 1e-300)
            for k, v in memory_fit["params"].items()
        )
        lines.append(
            f"| in memory (pandas) | {memory_fit['seconds']:.1f} (+{memory_fit['read_seconds']:.1f}"
            f" reading) | | {memory_fit['peak_mib']:.0f} (one process) |"
        )
        lines += [
            "",
            f"Largest relative difference of the coefficients, dask vs in memory: {diff:.1e}.",
        ]
    lines += [
        "",
        "Each solver iteration is one pass over the Parquet files (read, design built in the "
        "worker, X'WX summed, tree-reduced); nothing but p x p sums reaches the client.",
        END,
    ]
    return "\n".join(lines) + "\n"


def _bytes(text: str) -> float:
    units = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "KB": 1e3, "MB": 1e6, "GB": 1e9}
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def update_results(path: Path, section: str) -> None:
    """Replace (or append) the scaling-out section of RESULTS.md."""
    text = path.read_text() if path.exists() else "# glmspec benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=12_000_000)
    parser.add_argument("--rows-per-file", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="400MiB")
    parser.add_argument(
        "--dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "glmspec-scale")
    )
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--no-memory", action="store_true", help="skip the in-memory fit")
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    print(f"writing {args.rows} rows to {folder} ...", flush=True)
    in_memory = write_dataset(folder, args.rows, args.rows_per_file)
    print(f"dataset: {in_memory / 2**20:.0f} MiB in pandas", flush=True)
    dask_fit = fit_dask(folder, args.workers, args.worker_memory)
    print(f"dask: {dask_fit['seconds']:.1f} s, {dask_fit['n_iter']} iterations", flush=True)
    memory_fit = {"error": "skipped (--no-memory)"} if args.no_memory else fit_memory(folder)
    section = render(args, in_memory, dask_fit, memory_fit)
    update_results(Path(args.out), section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
