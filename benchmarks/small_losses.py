"""Small-call overhead of the training losses against NumPy doing the same job (issue #16, item 1).

Median microseconds per call of ``l2loss.mse_loss``, ``l2loss.mse_grad`` and
``l2loss.mse_value_and_grad`` on float64 arrays at n = 16, 1000, 10000, beside NumPy's
``np.mean((x - y) ** 2)``, ``2 * (p - t) / n`` and both. Candidates alternate in rounds so
that machine noise hits them alike. Standalone:

    PYTHONPATH=python python benchmarks/small_losses.py [--repeats 20000]

``run(repeats)`` returns the rows (for benchmarks/run.py). Not a test: timings are never
asserted (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import l2loss
import numpy as np

SIZES = (16, 1000, 10000)


def _median_us(cands: dict[str, Callable[[], Any]], repeats: int, rounds: int = 20) -> dict[str, float]:
    samples: dict[str, list[int]] = {name: [] for name in cands}
    per_round = max(1, repeats // rounds)
    clock = time.perf_counter_ns
    for f in cands.values():  # warm-up
        for _ in range(min(200, per_round)):
            f()
    for _ in range(rounds):
        for name, f in cands.items():
            times = samples[name]
            for _ in range(per_round):
                start = clock()
                f()
                times.append(clock() - start)
    return {name: statistics.median(v) / 1000.0 for name, v in samples.items()}


def _candidates(n: int, y: np.ndarray, p: np.ndarray) -> dict[str, Callable[[], Any]]:
    def np_loss() -> None:
        np.mean((p - y) ** 2)

    def np_grad() -> None:
        2.0 * (p - y) / n

    def np_both() -> None:
        d = p - y
        np.mean(d * d), 2.0 * d / n

    return {
        "mse_loss": lambda: l2loss.mse_loss(p, y),
        "numpy mse_loss": np_loss,
        "mse_grad": lambda: l2loss.mse_grad(y, p),
        "numpy mse_grad": np_grad,
        "mse_value_and_grad": lambda: l2loss.mse_value_and_grad(y, p),
        "numpy mse_value_and_grad": np_both,
    }


def run(repeats: int = 20000) -> list[dict[str, Any]]:
    """One row per (n, function): l2loss's and NumPy's median microseconds and their ratio."""
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(0)
    for n in SIZES:
        med = _median_us(_candidates(n, rng.standard_normal(n), rng.standard_normal(n)), repeats)
        for name in ("mse_loss", "mse_grad", "mse_value_and_grad"):
            rows.append({"n": n, "dtype": "float64", "function": name, "l2loss_us": med[name],
                         "numpy_us": med["numpy " + name], "ratio": med[name] / med["numpy " + name]})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| n | function | l2loss µs | NumPy µs | l2loss / NumPy |", "|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['function']} | {r['l2loss_us']:.2f} | {r['numpy_us']:.2f} | {r['ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20000, help="timed calls per candidate and size")
    args = parser.parse_args(argv)
    print(f"numpy {np.__version__}, float64, median of {args.repeats} calls each (alternating rounds)")
    print(f"{'n':>6} {'function':>20} | {'l2loss':>8} {'numpy':>8} {'ratio':>6}")
    for r in run(args.repeats):
        print(f"{r['n']:>6} {r['function']:>20} | {r['l2loss_us']:>6.2f}us {r['numpy_us']:>6.2f}us "
              f"{r['ratio']:>6.2f}")


if __name__ == "__main__":
    main()
