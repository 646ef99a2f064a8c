"""glmspec against glum on a few of ``run.py``'s dense cases, timed alternately in one process.

Run ``python benchmarks/versus_glum.py [--repeat 3] [--cases poisson,logistic,ar1,rare,gamma]``.
For each case, glmspec and glum (its defaults, as ``run.py``) fit in turn ``repeat`` times;
the medians and the same-run ratio glum / glmspec are printed with the load average before
and after (``os.getloadavg``), so runs on a shared machine can be judged. With ``--busy``
another process spins on one core throughout (as ``run.py --busy``). Nothing is written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import run as bench  # noqa: E402 - the benchmark's own data generators

import glmspec  # noqa: E402


def _cases(n: int) -> dict:
    def dense(family):
        def make():
            y, X = bench.simulate(family, n, 100)
            return y, X, {"binomial": "binomial"}.get(family, family), None

        return make

    def ar1():
        rng = np.random.default_rng(6)
        X = bench.correlated_design(n, 61)
        offset = np.log(rng.uniform(0.5, 2.0, n))
        beta = rng.normal(0, 0.3, 61)
        y = rng.poisson(np.exp(X @ beta + offset)).astype(float)
        return y, X, "poisson", offset

    def rare():
        rng = np.random.default_rng(7)
        X = rng.standard_normal((n, 41)) / np.sqrt(41)
        X[:, 0] = 1.0
        beta = rng.normal(0, 0.5, 41)
        beta[0] = -4.8
        y = (rng.random(n) < 1 / (1 + np.exp(-(X @ beta)))).astype(float)
        return y, X, "binomial", None

    return {
        "poisson": ("Poisson 1e6 x 100", dense("poisson")),
        "logistic": ("logistic 1e6 x 100", dense("binomial")),
        "ar1": ("Poisson AR(1) 0.9 + offset 1e6 x 61", ar1),
        "rare": ("logistic 1% events 1e6 x 41", rare),
        "gamma": ("Gamma log 1e6 x 100", dense("gamma")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--cases", default="poisson,logistic,ar1")
    parser.add_argument(
        "--busy", action="store_true", help="keep one core busy with another process meanwhile"
    )
    args = parser.parse_args()
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        _compare(_cases(args.n), args.cases.split(","), args.repeat)
    finally:
        if busy is not None:
            busy.terminate()
            busy.wait()


def _compare(cases: dict, keys: list[str], repeat: int) -> None:
    """Print each case's medians and same-run ratio."""
    for key in keys:
        label, make = cases[key]
        y, X, family, offset = make()
        link = "log" if family == "gamma" else None
        load = os.getloadavg()[0]
        ours, theirs, n_iter = [], [], 0
        for _ in range(repeat):
            start = time.perf_counter()
            res = glmspec.fit_arrays(y, X, family, link=link, offset=offset)
            ours.append(time.perf_counter() - start)
            n_iter = res.n_iter
            model = bench._glum(family, link)
            start = time.perf_counter()
            model.fit(X, y, offset=offset)
            theirs.append(time.perf_counter() - start)
        a, b = statistics.median(ours), statistics.median(theirs)
        print(
            f"{label}: glmspec {a:.3f} s ({n_iter} iterations), glum {b:.3f} s, "
            f"glum/glmspec {b / a:.2f}; load average {load:.2f} -> {os.getloadavg()[0]:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
