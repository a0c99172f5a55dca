"""MSLE accuracy against an mpmath oracle, l2loss vs scikit-learn (issue #15.6).

Usage: PYTHONPATH=python python benchmarks/msle_ulp.py [N] [SEED]
Prints the largest |error| in ulp of the exact MSLE for each, and in how many of the N
random cases (small integers, close predictions, wide magnitudes, (-1, 1)) l2loss is
further from the exact value than sklearn, and closer.
"""

from __future__ import annotations

import math
import sys

import l2loss
import mpmath
import numpy as np
from sklearn.metrics import mean_squared_log_error as sk_msle

mpmath.mp.prec = 200


def exact(y: np.ndarray, p: np.ndarray) -> mpmath.mpf:
    pairs = zip(y.tolist(), p.tolist())
    terms = [(mpmath.log1p(mpmath.mpf(b)) - mpmath.log1p(mpmath.mpf(a))) ** 2 for a, b in pairs]
    return mpmath.fsum(terms) / len(terms)


def ulps(got: float, ex: mpmath.mpf) -> float:
    return float((mpmath.mpf(got) - ex) / mpmath.mpf(math.ulp(float(ex))))


def main() -> None:
    n_cases = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    worst_l2 = worst_sk = 0.0
    worse = better = 0
    for i in range(n_cases):
        n = int(rng.integers(1, 40))
        kind = i % 4
        if kind == 0:
            y = rng.integers(0, 10, n).astype(float)
            p = np.maximum(y + rng.integers(-1, 2, n), 0)
        elif kind == 1:
            y = rng.random(n) * 10
            p = y * (1 + rng.normal(0, 1e-3, n))
        elif kind == 2:
            y, p = np.exp(rng.normal(0, 3, n)), np.exp(rng.normal(0, 3, n))
        else:
            y, p = rng.random(n) * 2 - 0.9, rng.random(n) * 2 - 0.9
        ex = exact(y, p)
        if ex == 0:
            continue
        a, b = ulps(l2loss.mean_squared_log_error(y, p), ex), ulps(sk_msle(y, p), ex)
        worst_l2, worst_sk = max(worst_l2, abs(a)), max(worst_sk, abs(b))
        worse += abs(a) > abs(b)
        better += abs(a) < abs(b)
    print(f"N={n_cases}: l2loss max |ulp| {worst_l2:.3f}, sklearn max |ulp| {worst_sk:.3f}; "
          f"l2loss worse in {worse}, better in {better}")


if __name__ == "__main__":
    main()
