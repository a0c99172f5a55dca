"""How much two Python threads gain from l2loss releasing the GIL: the same 2 x `calls`
calls, each single-threaded inside (num_threads=1), run serially and from two Python
threads. MSLE (a log1p per element) is compute-bound; MSE on large arrays is memory-bound,
so two threads share the memory bandwidth and overlap less.

    PYTHONPATH=python python benchmarks/gil_release.py

(The pass/fail check that the GIL is released lives in tests/test_concurrency.py and
counts a Python thread's progress stamps, not wall-clock time. On an idle 2-core machine
MSLE's two-thread speedup should exceed ~1.3x; this script reports it and does not judge.)
"""

from __future__ import annotations

import threading
import time

import l2loss
import numpy as np


def gil_release_speedup(metric: str, n: int, calls: int, repeats: int = 3) -> tuple[float, float, float]:
    """(serial seconds, two-thread seconds, speedup), best of `repeats`."""
    rng = np.random.default_rng(0)
    data = [(rng.uniform(0, 10, n), rng.uniform(0, 10, n)) for _ in range(2)]
    fn = getattr(l2loss, metric)

    def work(k: int) -> None:
        y, p = data[k]
        for _ in range(calls):
            fn(y, p, num_threads=1)

    work(0), work(1)  # warm up
    best_serial = best_threaded = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        work(0), work(1)
        best_serial = min(best_serial, time.perf_counter() - t0)
        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        best_threaded = min(best_threaded, time.perf_counter() - t0)
    return best_serial, best_threaded, best_serial / best_threaded


def main() -> None:
    for metric, n, calls in (("mean_squared_log_error", 1_000_000, 4), ("mean_squared_error", 2_000_000, 6)):
        serial, threaded, speedup = gil_release_speedup(metric, n, calls)
        print(f"{metric}: 2 x {calls} calls on {n:.0e} float64 pairs, num_threads=1 each: serial "
              f"{serial * 1e3:.1f} ms, two Python threads {threaded * 1e3:.1f} ms, speedup {speedup:.2f}x")


if __name__ == "__main__":
    main()
