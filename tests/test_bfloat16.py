"""bfloat16 inputs (ml_dtypes): read natively by every kernel path, in the default and the
exact mode, with exactly the bits of the same values widened to float64 (the widening is
exact, so the float64 path is an oracle that shares no load code with the bfloat16 one),
and checked against Fraction sums. sklearn itself rejects bfloat16; l2loss computes like
float32 inputs (float32 working dtype)."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import l2loss
import numpy as np
import pytest
from _support import THREAD_COUNTS, bits

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)

METRICS = (
    l2loss.mean_squared_error,
    l2loss.root_mean_squared_error,
    l2loss.mean_absolute_error,
    l2loss.r2_score,
    l2loss.explained_variance_score,
)


def _pair(n: int, cols: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (n,) if cols is None else (n, cols)
    y = rng.standard_normal(shape) * 10.0 ** rng.uniform(-30, 30, shape)  # bfloat16 has float32's range
    p = y * (1 + 0.1 * rng.standard_normal(shape))
    return y.astype(BF16), p.astype(BF16)


def _wide(*arrays: np.ndarray) -> list[np.ndarray]:
    return [a.astype(np.float64) for a in arrays]


@pytest.mark.parametrize("n", [1, 7, 16, 17, 1023, 40_001])
def test_bfloat16_metrics_equal_the_widened_float64_bits(isa: str, n: int) -> None:
    y, p = _pair(n, seed=n)
    y64, p64 = _wide(y, p)
    for fn in METRICS:
        if n < 2 and fn in (l2loss.r2_score, l2loss.explained_variance_score):
            continue
        assert bits(fn(y, p)) == bits(fn(y64, p64)), fn.__name__
    assert bits(l2loss.max_error(y, p)) == bits(l2loss.max_error(y64, p64))
    assert bits(l2loss.mean_squared_error(y, p, exact=True)) == bits(
        l2loss.mean_squared_error(y64, p64, exact=True)
    )


def test_bfloat16_mse_is_the_correctly_rounded_exact_mean(isa: str) -> None:
    y, p = _pair(3001, seed=1)
    terms = [(float(b) - float(a)) ** 2 for a, b in zip(*_wide(y, p))]
    assert l2loss.mean_squared_error(y, p) == float(sum(map(Fraction, terms)) / len(terms))
    exact = sum((Fraction(float(b)) - Fraction(float(a))) ** 2 for a, b in zip(*_wide(y, p))) / len(terms)
    assert l2loss.mean_squared_error(y, p, exact=True) == float(exact)


@pytest.mark.parametrize("threads", THREAD_COUNTS)
def test_bfloat16_layouts_weights_and_threads(threads: int) -> None:
    y, p = _pair(30_011, cols=3, seed=2)
    w = np.random.default_rng(3).random(len(y))
    cases = {
        "2-D C": (y, p),
        "2-D F": (np.asfortranarray(y), np.asfortranarray(p)),
        "strided": (y[::2], p[::2]),
        "reversed": (y[::-1], p[::-1]),
    }
    for name, (a, b) in cases.items():
        a64, b64 = _wide(a, b)
        ww = w[: len(a)]
        for mo in ("raw_values", "uniform_average"):
            got = l2loss.mean_squared_error(a, b, sample_weight=ww, multioutput=mo, num_threads=threads)
            want = l2loss.mean_squared_error(a64, b64, sample_weight=ww, multioutput=mo)
            assert np.array_equal(np.asarray(got, np.float64), np.asarray(want, np.float64)), (name, mo)
        got_r2 = l2loss.r2_score(a, b, multioutput="raw_values", num_threads=threads)
        assert got_r2.dtype == np.float32  # float32 working dtype, like float32 inputs
        assert np.array_equal(
            got_r2, l2loss.r2_score(a64.astype(np.float32), b64.astype(np.float32), multioutput="raw_values")
        )


def test_bfloat16_is_read_in_place() -> None:
    """No input-sized temporary: a copy of 2 x 4 MB would show in tracemalloc's peak."""
    y, p = _pair(2_000_000, seed=4)
    for call in (
        lambda: l2loss.mean_squared_error(y, p),
        lambda: l2loss.mean_squared_error(y, p, exact=True),
        lambda: l2loss.regression_report(y, p),
    ):
        call()
        tracemalloc.start()
        try:
            call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 200_000, peak


def test_bfloat16_mixed_with_other_dtypes_is_widened_exactly() -> None:
    y, p = _pair(5000, seed=5)
    y64, p64 = _wide(y, p)
    want = l2loss.mean_squared_error(y64, p64)
    assert l2loss.mean_squared_error(y, p64) == want
    assert l2loss.mean_squared_error(y64, p) == want
    assert l2loss.mean_squared_error(y.astype(np.float32), p) == want
    small = (np.arange(100) / 7).astype(BF16)
    assert l2loss.mean_squared_error(small, small.astype(np.float16)) == l2loss.mean_squared_error(
        small.astype(np.float64), small.astype(np.float16).astype(np.float64)
    )


def test_bfloat16_non_finite_values_get_sklearns_errors() -> None:
    y, p = _pair(100, seed=6)
    bad = y.copy()
    bad[50] = np.nan
    with pytest.raises(ValueError, match="Input contains NaN"):
        l2loss.mean_squared_error(bad, p)
    bad[50] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        l2loss.r2_score(bad, p)


def test_bfloat16_accumulator_and_report() -> None:
    y, p = _pair(50_000, cols=2, seed=7)
    y64, p64 = _wide(y, p)
    acc = l2loss.RegressionAccumulator()
    for i in range(0, len(y), 7_000):
        acc.update(y[i : i + 7_000], p[i : i + 7_000])
    rep, want = acc.compute(), l2loss.regression_report(y64, p64)
    assert bits(rep.mse) == bits(want.mse) and bits(rep.mae) == bits(want.mae)
    assert rep.r2 == pytest.approx(want.r2, rel=1e-6)  # float32 working dtype: r2 in float32
    exact = l2loss.RegressionAccumulator(exact=True)
    exact.update(y, p)
    assert bits(exact.compute().mse) == bits(l2loss.mean_squared_error(y64, p64, exact=True))


def test_bfloat16_losses() -> None:
    rng = np.random.default_rng(8)
    y = rng.standard_normal(1000).astype(BF16)
    p = (y.astype(np.float32) + rng.standard_normal(1000).astype(np.float32)).astype(BF16)
    y32, p32 = (a.astype(np.float32) for a in (y, p))
    loss = l2loss.mse_loss(p, y)
    assert loss.dtype == BF16 and float(loss) == float(np.float32(l2loss.mse_loss(p32, y32)).astype(BF16))
    g = l2loss.mse_grad(y, p)
    assert g.dtype == np.float32 and np.array_equal(g, l2loss.mse_grad(y32, p32))
