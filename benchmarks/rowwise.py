"""Row-wise outputs: one correctly rounded mean per row against NumPy (issue #16, item 3).

For C-ordered (n, k) float64 and float32 pairs (k in {2, 16, 1000}), side by side in one
process, interleaved medians of ``--repeats`` rounds:

* ``_core.row_mean_squares`` -- the engine's per-row exact mean, rounded once to the
  output dtype (what ``per_sample_mse`` computes);
* ``l2loss.per_sample_mse`` as the public function;
* NumPy's ``np.mean((a - b) ** 2, axis=1)`` (float32 rows averaged in float32);
* the bandwidth probe over the same bytes (a plain fused read of both arrays).

Run::

    PYTHONPATH=python python benchmarks/rowwise.py [--repeats 5] [--elements 2e7]

Not a test: timings are never asserted (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import l2loss
import numpy as np
from l2loss import _core

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suites import interleave  # noqa: E402

WIDTHS = (2, 16, 1000)


def _candidates(a: np.ndarray, b: np.ndarray) -> dict[str, Callable[[], Any]]:
    out = np.empty(a.shape[0], dtype=a.dtype)
    return {
        "row_mean_squares (engine)": lambda: _core.row_mean_squares(a, b, out),
        "l2loss.per_sample_mse": lambda: l2loss.per_sample_mse(a, b),
        "numpy mean((a-b)**2, axis=1)": lambda: np.mean((a - b) ** 2, axis=1),
        "bandwidth probe (read)": lambda: _core._bandwidth_probe(a.ravel(), b.ravel()),
    }


def run(repeats: int = 5, elements: int = 2 * 10**7) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows_out: list[dict[str, Any]] = []
    for dtype in ("float64", "float32"):
        for k in WIDTHS:
            n = max(1, elements // k)
            a = rng.standard_normal((n, k)).astype(dtype)
            b = rng.standard_normal((n, k)).astype(dtype)
            med = interleave(_candidates(a, b), repeats)
            base = med["numpy mean((a-b)**2, axis=1)"]
            for name, t in med.items():
                rows_out.append(
                    dict(
                        shape=f"({n}, {k})",
                        dtype=dtype,
                        case=name,
                        ms=t * 1e3,
                        gbps=2 * a.nbytes / t / 1e9,
                        vs_numpy=base / t,
                    )
                )
            del a, b
    return rows_out


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| shape | dtype | case | ms | GB/s | × NumPy |", "|---|---|---|---:|---:|---:|"]
    for r in rows:
        numbers = (f"{r['ms']:.1f}", f"{r['gbps']:.1f}", f"{r['vs_numpy']:.2f}")
        lines.append("| " + " | ".join((r["shape"], r["dtype"], r["case"], *numbers)) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--elements", type=float, default=2e7)
    args = ap.parse_args()
    print(markdown(run(args.repeats, int(args.elements))))


if __name__ == "__main__":
    main()
