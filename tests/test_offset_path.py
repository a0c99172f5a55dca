"""The vector kernel's offset accumulators (kernel_body.inc, "offset accumulators"): the fast
exact path of the one- and two-sum profiles (MSE, MAE, weighted MSE with the weight sum).

Every result is checked against an exact oracle that shares no code with the engine
(Python integers over the IEEE terms). The data are built to hit what the path must get
right: bounds that grow inside a block (each growth flushes), terms far below their bound
(level-1 residuals that spill), bounds clamped at 2^-900 and past 2^900 (where the path
switches itself off), non-finite terms in any block, negative weights, and sizes around
the flush block (64 steps: 1024 rows on AVX-512, 512 on the 4-lane paths)."""

from __future__ import annotations

import math
from fractions import Fraction

import l2loss
import numpy as np
import pytest
from _support import THREAD_COUNTS, bits, exact_sum, terms_sq

SIZES = (15, 16, 511, 512, 513, 1023, 1024, 1025, 4097, 50_001)


def _mse(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    num = exact_sum(terms_sq(y, p, w))
    den = Fraction(len(y)) if w is None else exact_sum(w.tolist())
    return float(num / den)


def _mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(exact_sum([abs(b - a) for a, b in zip(y.tolist(), p.tolist())]) / len(y))


def _data(kind: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if kind == "growing":  # every block raises the bound: magnitudes 1e-150 .. 1e150 in order
        y = np.zeros(n)
        p = 10.0 ** np.linspace(-150, 150, n) * rng.choice([-1.0, 1.0], n)
    elif kind == "shrinking":  # one early large term, then terms 2^-40 .. 2^-80 below it
        y = rng.standard_normal(n) * 2.0 ** rng.uniform(-80, -40, n)
        p = np.zeros(n)
        p[min(3, n - 1)] = 1.0
    elif kind == "wide":  # every order of magnitude in every block
        y = rng.standard_normal(n) * 10.0 ** rng.uniform(-100, 100, n)
        p = rng.standard_normal(n) * 10.0 ** rng.uniform(-100, 100, n)
    elif kind == "tiny":  # squares at and below the 2^-900 clamp, subnormal ones included
        y = rng.standard_normal(n) * 10.0 ** rng.uniform(-200, -150, n)
        p = rng.standard_normal(n) * 10.0 ** rng.uniform(-200, -150, n)
    elif kind == "huge":  # squares beyond 2^900: the offset path switches off mid-call
        y = rng.standard_normal(n)
        p = y + rng.standard_normal(n) * np.where(np.arange(n) > n // 2, 1e140, 1.0)
    elif kind == "tie-prone":  # integers: many equal terms, exact results
        y = rng.integers(-3, 4, n).astype(np.float64)
        p = rng.integers(-3, 4, n).astype(np.float64)
    else:
        raise ValueError(kind)
    return y, p


KINDS = ("growing", "shrinking", "wide", "tiny", "huge", "tie-prone")


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_mse_and_mae_equal_the_exact_oracle(isa: str, kind: str, n: int) -> None:
    y, p = _data(kind, n, np.random.default_rng(n))
    assert bits(l2loss.mean_squared_error(y, p)) == bits(_mse(y, p)), kind
    assert bits(l2loss.mean_absolute_error(y, p)) == bits(_mae(y, p)), kind
    with np.errstate(over="ignore"):
        y32, p32 = y.astype(np.float32), p.astype(np.float32)
    if np.isfinite(y32).all() and np.isfinite(p32).all():
        assert bits(l2loss.mean_squared_error(y32, p32)) == bits(_mse(y32, p32)), kind


@pytest.mark.parametrize("n", (1023, 1025, 50_001))
@pytest.mark.parametrize("kind", KINDS)
def test_weighted_with_negative_weights(isa: str, kind: str, n: int) -> None:
    rng = np.random.default_rng(n + 1)
    y, p = _data(kind, n, rng)
    w = rng.uniform(-0.5, 2.0, n) * 10.0 ** rng.integers(-3, 4, n)
    if exact_sum(w.tolist()) == 0:
        w[0] += 1.0
    assert bits(l2loss.mean_squared_error(y, p, sample_weight=w)) == bits(_mse(y, p, w)), kind


@pytest.mark.parametrize("threads", THREAD_COUNTS)
def test_bits_do_not_depend_on_threads(threads: int) -> None:
    rng = np.random.default_rng(9)
    for kind in KINDS:
        y, p = _data(kind, 70_001, rng)
        assert bits(l2loss.mean_squared_error(y, p, num_threads=threads)) == bits(_mse(y, p)), kind


@pytest.mark.parametrize("where", [0, 700, 1024, 40_000])
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_terms_anywhere(isa: str, where: int, bad: float) -> None:
    """torch semantics (mse_loss) propagate them; the value must be what IEEE arithmetic says."""
    rng = np.random.default_rng(where)
    y = rng.standard_normal(50_001)
    p = y + 0.1
    p[where] = bad
    got = l2loss.mse_loss(p, y, reduction="sum")
    assert (math.isnan(got) and math.isnan(bad)) or got == math.inf
    p[where] = 1e200  # finite, but its square overflows: +inf, not nan
    assert l2loss.mse_loss(p, y, reduction="sum") == math.inf
