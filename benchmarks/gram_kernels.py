"""Weighted X'WX kernels on this CPU: syrk vs gemm over sqrt(W)-scaled row blocks.

Run ``python benchmarks/gram_kernels.py [--n 1000000] [--p 100] [--repeat 5]``. Times, on one
thread (BLAS limited to one thread, no row-chunk workers), for several block sizes:

* ``syrk``: ``B' B`` of the scaled block ``B = sqrt(w) X`` (numpy's matmul calls ``dsyrk``);
* ``dsyrk``: scipy.linalg.blas.dsyrk on the F-ordered block (upper triangle only, trans);
* ``gemm``: ``X' (w X)`` (general product of the block and its weighted copy);
* ``ssyrk``: single-precision ``B' B`` (the steering information).

Runs alternate (kernel by kernel, repeated) and the medians are printed with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from scipy.linalg import blas
from threadpoolctl import threadpool_limits


def kernels(X: np.ndarray, w: np.ndarray, rows: int) -> dict:
    root = np.sqrt(w)
    n, p = X.shape

    def syrk(dtype=float):
        gram = np.zeros((p, p))
        buffer = np.empty((rows, p), dtype=dtype)
        for first in range(0, n, rows):
            block = X[first : first + rows]
            out = buffer[: len(block)]
            np.multiply(block, root[first : first + len(block), None], out=out, casting="same_kind")
            gram += out.T @ out
        return gram

    def scipy_syrk():
        gram = np.zeros((p, p), order="F")
        buffer = np.empty((rows, p), order="F")
        for first in range(0, n, rows):
            block = X[first : first + rows]
            out = buffer[: len(block)]
            np.multiply(block, root[first : first + len(block), None], out=out)
            gram = blas.dsyrk(1.0, out, beta=1.0, c=gram, trans=1, lower=0, overwrite_c=1)
        return gram

    def gemm():
        gram = np.zeros((p, p))
        buffer = np.empty((rows, p))
        for first in range(0, n, rows):
            block = X[first : first + rows]
            out = buffer[: len(block)]
            np.multiply(block, w[first : first + len(block), None], out=out)
            gram += block.T @ out
        return gram

    return {
        "syrk": syrk,
        "dsyrk(F)": scipy_syrk,
        "gemm": gemm,
        "ssyrk": lambda: syrk(np.float32),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--p", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.p))
    w = rng.random(args.n)
    print(f"n={args.n} p={args.p}; load average {os.getloadavg()}")
    with threadpool_limits(1, user_api="blas"):
        for block_bytes in (1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22):
            rows = max(256, block_bytes // (8 * args.p))
            funcs = kernels(X, w, rows)
            samples: dict[str, list[float]] = {k: [] for k in funcs}
            for _ in range(args.repeat):
                for name, fn in funcs.items():
                    start = time.perf_counter()
                    fn()
                    samples[name].append(time.perf_counter() - start)
            medians = "  ".join(f"{k} {statistics.median(v):.3f}" for k, v in samples.items())
            print(f"block {block_bytes >> 10:5d} KiB ({rows} rows): {medians}")
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
