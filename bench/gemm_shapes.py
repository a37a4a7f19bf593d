#!/usr/bin/env python3
"""torch.mm GFLOP/s on the GEMM shapes of dl-core/examples/gemm_shapes.rs.

Usage: python3 bench/gemm_shapes.py [--best] [THREADS ...] > /tmp/torch_gemm.csv
Prints `name,threads,gflops` lines (median of timed samples after a warm-up; with --best the
fastest sample, steadier on a busy machine), the input of
`cargo run --release -p dl-core --example gemm_shapes -- --torch /tmp/torch_gemm.csv`.
"""
import re
import sys
import time
from pathlib import Path

import torch

SRC = Path(__file__).resolve().parent.parent / "dl-core/examples/gemm_shapes.rs"
SHAPE = re.compile(r'\("([\w.]+)", ([NT]), ([NT]), (\d+), (\d+), (\d+)\)')


def secs_per_call(f, best):
    """Like the Rust harness: warm up, samples of enough calls to last ~2 ms, >= 7 samples and 0.5 s."""
    f()
    t = time.perf_counter()
    f()
    reps = max(1, min(10_000, int(2e-3 / max(time.perf_counter() - t, 1e-9))))
    times = []
    start = time.perf_counter()
    while len(times) < 7 or time.perf_counter() - start < 0.5:
        t = time.perf_counter()
        for _ in range(reps):
            f()
        times.append((time.perf_counter() - t) / reps)
    times.sort()
    return times[0] if best else times[len(times) // 2]


def main():
    shapes = [(n, ta, tb, int(m), int(nn), int(k)) for n, ta, tb, m, nn, k in SHAPE.findall(SRC.read_text())]
    best = "--best" in sys.argv
    for threads in [int(t) for t in sys.argv[1:] if t != "--best"] or [1, 2]:
        torch.set_num_threads(threads)
        for name, ta, tb, m, n, k in shapes:
            # Stored like the Rust side: a transposed operand is a transposed view of a stored matrix.
            a = torch.randn(m, k) if ta == "N" else torch.randn(k, m).t()
            b = torch.randn(k, n) if tb == "N" else torch.randn(n, k).t()
            c = torch.empty(m, n)
            s = secs_per_call(lambda: torch.mm(a, b, out=c), best)
            print(f"{name},{threads},{2 * m * n * k / s / 1e9:.2f}", flush=True)


if __name__ == "__main__":
    main()
