"""The engine returns the correctly rounded value of exact sums, on every ISA path.

Oracle: integer-scaled exact sums in Python (_support.exact_sum) over terms computed in
Python floats -- no code shared with the engine -- and math.fsum as a cross-check.
"""

from __future__ import annotations

import math

import l2loss
import numpy as np
import pytest
from _support import TAIL_SIZES, THREAD_SIZES, exact_sum, terms_sq

DTYPE_PAIRS = [
    (np.float64, np.float64),
    (np.float32, np.float32),
    (np.float32, np.float64),
    (np.float64, np.float32),
]


def _data(n: int, dt_true, dt_pred, seed: int):
    rng = np.random.default_rng(seed)
    y = (rng.standard_normal(n) * 3).astype(dt_true)
    p = (y.astype(np.float64) + rng.standard_normal(n)).astype(dt_pred)
    return y, p


@pytest.mark.parametrize("n", TAIL_SIZES + THREAD_SIZES[:1])
@pytest.mark.parametrize("dtypes", DTYPE_PAIRS, ids=lambda d: f"{d[0].__name__}-{d[1].__name__}")
def test_mse_mae_correctly_rounded(isa: str, n: int, dtypes) -> None:
    y, p = _data(n, *dtypes, seed=n)
    exact = exact_sum(terms_sq(y, p)) / n
    assert l2loss.mean_squared_error(y, p) == float(exact)
    assert l2loss.root_mean_squared_error(y, p) == math.sqrt(float(exact))
    abs_terms = [abs(float(b) - float(a)) for a, b in zip(y.tolist(), p.tolist())]
    assert l2loss.mean_absolute_error(y, p) == float(exact_sum(abs_terms) / n)


@pytest.mark.parametrize("n", (1, 9, 17, 33, 4097, THREAD_SIZES[1]))
@pytest.mark.parametrize("wdtype", (np.float64, np.float32))
def test_weighted_mse_correctly_rounded(isa: str, n: int, wdtype) -> None:
    rng = np.random.default_rng(100 + n)
    y, p = _data(n, np.float64, np.float32, seed=n + 1)
    w = rng.uniform(-0.5, 2.0, n).astype(wdtype)  # negative weights are legal
    exact = exact_sum(terms_sq(y, p, w)) / exact_sum(w.tolist())
    assert l2loss.mean_squared_error(y, p, sample_weight=w) == float(exact)


def test_fsum_cross_check() -> None:
    y, p = _data(50_001, np.float64, np.float64, seed=7)
    terms = terms_sq(y, p)
    assert float(exact_sum(terms)) == math.fsum(terms)  # the oracle agrees with fsum
    assert l2loss.regression_report(y, p).mse == float(exact_sum(terms) / len(terms))


class TestAdversarial:
    """Data that breaks naive, pairwise and compensated summation."""

    def test_huge_dynamic_range(self, isa: str) -> None:
        rng = np.random.default_rng(1)
        exps = rng.integers(-150, 150, 5000)
        p = rng.standard_normal(5000) * 10.0 ** exps
        y = np.zeros(5000)
        assert l2loss.mean_squared_error(y, p) == float(exact_sum(terms_sq(y, p)) / 5000)

    def test_sum_beyond_dbl_max_but_mean_finite(self, isa: str) -> None:
        # Each square is ~1e306: the sum overflows a double, the exact mean does not.
        p = np.full(1000, 1.2e153)
        p[::7] = 1.1e153
        y = -p * 0.5
        got = l2loss.mean_squared_error(y, p)
        assert math.isfinite(got)
        assert got == float(exact_sum(terms_sq(y, p)) / 1000)

    def test_cancellation_in_weights(self, isa: str) -> None:
        n = 4096
        rng = np.random.default_rng(3)
        y, p = rng.standard_normal(n), rng.standard_normal(n)
        w = np.tile([1e16, 1.0, -1e16, 3.0], n // 4)
        exact = exact_sum(terms_sq(y, p, w)) / exact_sum(w.tolist())
        assert l2loss.mean_squared_error(y, p, sample_weight=w) == float(exact)

    def test_near_tie_is_rounded_correctly(self, isa: str) -> None:
        # 1 + 2048 * 2**-64 + 2**-120 = 1 + 2**-53 + 2**-120: just above the midpoint
        # between 1 and 1 + 2**-52, so the correctly rounded sum is 1 + 2**-52. Naive
        # left-to-right summation returns 1.0 (each 2**-64 is lost against 1.0).
        p = np.concatenate([[1.0], np.full(2048, 2.0**-32), [2.0**-60]])
        rng = np.random.default_rng(5)
        p = p[rng.permutation(p.size)]
        y = np.zeros_like(p)
        r = l2loss._core.reduce(y, p, None, sums=l2loss._core.SUM_SQ)
        assert r.total(0)[0] == 1.0 + 2.0**-52
        assert l2loss.mean_squared_error(y, p) == float(exact_sum(terms_sq(y, p)) / p.size)

    def test_float32_sums_do_not_drift(self, isa: str) -> None:
        # float32 data summed naively in float32 drifts; ours is exact.
        rng = np.random.default_rng(11)
        n = 1_000_000
        y = rng.standard_normal(n).astype(np.float32)
        p = (y + rng.standard_normal(n).astype(np.float32)).astype(np.float32)
        terms = ((p.astype(np.float64) - y.astype(np.float64)) ** 2).tolist()
        assert l2loss.mean_squared_error(y, p) == float(exact_sum(terms) / n)


def test_r2_large_offset_matches_exact_rational() -> None:
    from fractions import Fraction

    rng = np.random.default_rng(2)
    n = 20_000
    y = 1e8 + rng.standard_normal(n)
    p = y + 0.1 * rng.standard_normal(n)
    ys = [Fraction(v) for v in y.tolist()]
    mean = sum(ys) / n
    exact_tss = sum((v - mean) ** 2 for v in ys)
    sse = exact_sum(terms_sq(y, p))
    assert l2loss.r2_score(y, p) == pytest.approx(float(1 - sse / exact_tss), rel=1e-15)
