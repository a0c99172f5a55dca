"""2-D shapes against the 1-D rate for the same bytes (issue #16, item 2).

For (n, k) float64 inputs of ~10^8 elements (k in {2, 16, 1000, 10^5}; C and F order),
times side by side in one process, interleaved, medians of ``--repeats`` rounds:

* l2loss ``mean_squared_error`` / ``mean_absolute_error`` with ``multioutput="raw_values"``,
  MSE with ``"uniform_average"`` and with ``sample_weight``, and ``regression_report``
  (raw_values);
* the 1-D ``mean_squared_error`` over the same bytes (the same arrays raveled in memory
  order: the rate a 2-D call should reach) and NumPy's ``np.mean((a - b) ** 2, axis=0)``.

Run::

    PYTHONPATH=python python benchmarks/shapes.py [--repeats 5] [--elements 1e8]

Not a test: timings are never asserted (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import l2loss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suites import interleave  # noqa: E402

WIDTHS = (2, 16, 1000, 100_000)


def _candidates(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> dict[str, Callable[[], Any]]:
    flat_a, flat_b = a.ravel(order="K"), b.ravel(order="K")  # views: the same bytes, in memory order
    raw: dict[str, Any] = dict(multioutput="raw_values")
    return {
        "1-D mse, same bytes": lambda: l2loss.mean_squared_error(flat_a, flat_b),
        "mse raw_values": lambda: l2loss.mean_squared_error(a, b, **raw),
        "mae raw_values": lambda: l2loss.mean_absolute_error(a, b, **raw),
        "mse uniform": lambda: l2loss.mean_squared_error(a, b),
        "mse weighted raw": lambda: l2loss.mean_squared_error(a, b, sample_weight=w, **raw),
        "report raw_values": lambda: l2loss.regression_report(a, b, **raw),
        "numpy mean((a-b)**2, axis=0)": lambda: np.mean((a - b) ** 2, axis=0),
    }


def run(repeats: int = 5, elements: int = 10**8) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows_out: list[dict[str, Any]] = []
    for k in WIDTHS:
        n = max(1, elements // k)
        for order in "CF":
            a = np.asarray(rng.standard_normal((n, k)), order=order)
            b = np.asarray(rng.standard_normal((n, k)), order=order)
            w = rng.uniform(0.5, 2.0, n)
            med = interleave(_candidates(a, b, w), repeats)
            base = med["1-D mse, same bytes"]
            for name, t in med.items():
                rows_out.append(
                    dict(
                        shape=f"({n}, {k})",
                        order=order,
                        case=name,
                        ms=t * 1e3,
                        gbps=2 * a.nbytes / t / 1e9,
                        of_1d_rate=base / t,
                    )
                )
            del a, b
    return rows_out


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| shape | order | case | ms | GB/s | of the 1-D rate |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        numbers = (f"{r['ms']:.1f}", f"{r['gbps']:.1f}", f"{r['of_1d_rate']:.2f}")
        cells = (r["shape"], r["order"], r["case"], *numbers)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--elements", type=float, default=1e8)
    args = ap.parse_args()
    print(markdown(run(args.repeats, int(args.elements))))


if __name__ == "__main__":
    main()
