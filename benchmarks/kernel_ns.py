"""In-cache cost of each kernel path, in ns per element per core (one thread).

    PYTHONPATH=python python benchmarks/kernel_ns.py [ISA ...]     # default: the active ISA

n = 65,536 float64 pairs (fits in L2), y ~ N(0, 1), p = y + 0.1 N(0, 1); each figure is the
minimum over 60 samples of 10 back-to-back calls (call overhead included, ~0.02 ns/elem).
Use it to compare kernel changes (A/B on the same machine), not as a throughput claim.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import l2loss
from l2loss import _core

N = 1 << 16


def ns_per_elem(fn, reps: int = 10, samples: int = 60) -> float:
    best = float("inf")
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best / N * 1e9


def main() -> None:
    rng = np.random.default_rng(0)
    y = rng.standard_normal(N)
    p = y + rng.standard_normal(N) * 0.1
    y32, p32 = y.astype(np.float32), p.astype(np.float32)
    y16, p16 = y.astype(np.float16), p.astype(np.float16)
    w = rng.random(N)
    l2loss.set_num_threads(1)
    rows = [
        ("mse f64", lambda: l2loss.mean_squared_error(y, p)),
        ("mse f32", lambda: l2loss.mean_squared_error(y32, p32)),
        ("mse f16", lambda: l2loss.mean_squared_error(y16, p16)),
        ("mse f64 w", lambda: l2loss.mean_squared_error(y, p, sample_weight=w)),
        ("mae f64", lambda: l2loss.mean_absolute_error(y, p)),
        ("report f64", lambda: l2loss.regression_report(y, p)),
        ("r2 f64", lambda: l2loss.r2_score(y, p)),
        ("exact f64", lambda: l2loss.mean_squared_error(y, p, exact=True)),
        ("exact f16", lambda: l2loss.mean_squared_error(y16, p16, exact=True)),
        ("v&g f64", lambda: l2loss.mse_value_and_grad(y, p)),
    ]
    previous = _core.get_isa()
    try:
        for isa in sys.argv[1:] or [previous]:
            _core.set_isa(isa)
            for name, fn in rows:
                print(f"{isa:7s} {name:12s} {ns_per_elem(fn):6.3f} ns/elem")
    finally:
        _core.set_isa(previous)


if __name__ == "__main__":
    main()
