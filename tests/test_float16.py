"""float16 inputs: the binned kernel (unweighted MSE/MAE on contiguous halves) against exact
oracles, on sizes around its flush blocks, on every ISA path and thread count, with the
extreme values of the format (so the binned accumulators see their largest terms)."""

from __future__ import annotations

from fractions import Fraction

import l2loss
import numpy as np
import pytest
from _support import THREAD_COUNTS, bits, exact_sum, terms_sq
from l2loss import _core

# The binned kernel flushes every 1024 steps of 2 vectors per lane: 8192 rows on the
# 4-lane paths, 16384 on AVX-512. Sizes straddle one and several flushes and every tail.
BLOCK_SIZES = (1, 15, 16, 17, 8191, 8192, 8193, 16383, 16384, 16385, 3 * 16384 + 9)

F16_MAX = float(np.finfo(np.float16).max)


def _halves(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "benign":
        y = rng.standard_normal(n)
        p = y + 0.1 * rng.standard_normal(n)
    elif kind == "extreme":  # the largest differences the format allows: terms near 2^34
        y = rng.choice([F16_MAX, -F16_MAX, 6e-8, -6e-8, 0.0], n)
        p = -y + rng.choice([0.0, 6e-8, 1.0], n)
    elif kind == "mixed":  # every binade, subnormals included: remainders of every size
        mag = 2.0 ** rng.uniform(-24, 15.9, n)
        y = mag * rng.choice([-1.0, 1.0], n)
        p = 2.0 ** rng.uniform(-24, 15.9, n) * rng.choice([-1.0, 1.0], n)
    else:
        raise ValueError(kind)
    return y.astype(np.float16), p.astype(np.float16)


def _mse_oracle(y: np.ndarray, p: np.ndarray) -> float:
    return float(exact_sum(terms_sq(y, p)) / len(y))


def _mae_oracle(y: np.ndarray, p: np.ndarray) -> float:
    d = p.astype(np.float64) - y.astype(np.float64)  # exact for halves
    return float(sum(Fraction(float(v)) for v in np.abs(d)) / len(y))


@pytest.mark.parametrize("n", BLOCK_SIZES)
@pytest.mark.parametrize("kind", ["benign", "extreme", "mixed"])
def test_float16_mse_and_mae_are_correctly_rounded(isa: str, n: int, kind: str) -> None:
    y, p = _halves(kind, n, seed=n)
    assert l2loss.mean_squared_error(y, p) == _mse_oracle(y, p)
    assert l2loss.mean_absolute_error(y, p) == _mae_oracle(y, p)


@pytest.mark.parametrize("kind", ["benign", "extreme", "mixed"])
def test_float16_matches_float64_upcast_bitwise(isa: str, kind: str) -> None:
    """Halves convert to doubles exactly, so the general float64 kernel sums the same terms."""
    y, p = _halves(kind, 5 * 16384 + 3, seed=7)
    y64, p64 = y.astype(np.float64), p.astype(np.float64)
    for fn in (l2loss.mean_squared_error, l2loss.mean_absolute_error, l2loss.root_mean_squared_error):
        assert bits(fn(y, p)) == bits(fn(y64, p64)), fn.__name__


@pytest.mark.parametrize("threads", THREAD_COUNTS)
def test_float16_bits_do_not_depend_on_threads_or_isa(threads: int) -> None:
    y, p = _halves("mixed", 7 * 16384 + 5, seed=3)
    want = {
        fn: bits(fn(y.astype(np.float64), p.astype(np.float64)))
        for fn in (l2loss.mean_squared_error, l2loss.mean_absolute_error)
    }
    previous = _core.get_isa()
    try:
        for name in _core.supported_isas():
            _core.set_isa(name)
            for fn, b in want.items():
                assert bits(fn(y, p, num_threads=threads)) == b, (name, fn.__name__)
    finally:
        _core.set_isa(previous)


def test_float16_strided_and_reversed_views_take_the_general_path_with_the_same_bits(isa: str) -> None:
    y, p = _halves("mixed", 2 * 40000, seed=11)
    for sl in (slice(None, None, 2), slice(None, None, -1), slice(1, None, 3)):
        ys, ps = y[sl], p[sl]
        assert bits(l2loss.mean_squared_error(ys, ps)) == bits(_mse_oracle(ys, ps))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("where", [0, 8191, 16384, 40000])
def test_float16_non_finite_values_anywhere_in_a_block(isa: str, bad: float, where: int) -> None:
    """The metrics reject non-finite input (sklearn's rule); mse_loss propagates it (torch's):
    an inf or NaN term anywhere in a binned block must come out as the float64 kernel's."""
    y, p = _halves("benign", 40001, seed=5)
    p[where] = bad
    y64, p64 = y.astype(np.float64), p.astype(np.float64)
    with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "infinity"):
        l2loss.mean_squared_error(y, p)
    for reduction in ("mean", "sum"):
        got, want = l2loss.mse_loss(p, y, reduction=reduction), l2loss.mse_loss(p64, y64, reduction=reduction)
        assert bits(got) == bits(want), reduction
    assert np.isnan(want) if np.isnan(bad) else want == np.inf
