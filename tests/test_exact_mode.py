"""exact=True: the correctly rounded value of sum(w*(y_pred - y_true)^2) / sum(w).

Oracle: fractions.Fraction over the inputs themselves (exact differences, exact squares),
independent of the engine. Also: the RMSE is the correctly rounded square root of the
exact mean (checked against exact midpoints), and exact states keep every
reproducibility promise of the default mode.
"""

from __future__ import annotations

import math
from fractions import Fraction

import l2loss
import numpy as np
import pytest
from _support import THREAD_COUNTS, bits
from l2loss import RegressionAccumulator


def exact_mean(y, p, w=None) -> Fraction:
    y, p = np.asarray(y, dtype=np.float64).ravel().tolist(), np.asarray(p, dtype=np.float64).ravel().tolist()
    ws = [1.0] * len(y) if w is None else np.asarray(w, dtype=np.float64).tolist()
    num = sum(Fraction(wi) * (Fraction(b) - Fraction(a)) ** 2 for a, b, wi in zip(y, p, ws))
    return num / sum(Fraction(v) for v in ws)


def as_float(q: Fraction) -> float:
    try:
        return float(q)  # Fraction -> float is correctly rounded
    except OverflowError:
        return math.inf


def datasets(rng: np.random.Generator, n: int):
    yield "normal", rng.standard_normal(n), rng.standard_normal(n)
    yield (
        "dynamic range",
        rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n),
        rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n),
    )
    sub = np.full(n, 5e-324) * rng.integers(1, 1000, n)
    yield "subnormal", sub, -3 * sub
    yield "huge", rng.standard_normal(n) * 1e150, rng.standard_normal(n) * 1e150
    yield "overflowing mean", rng.standard_normal(n) * 1e160, rng.standard_normal(n) * 1e160
    yield "cancelling", np.full(n, 1.0) + rng.standard_normal(n) * 1e-12, np.full(n, 1.0)
    # Squares whose FMA remainders would underflow (|d| ~ 2^-500: d^2 is normal, its low half
    # is not), and squares at the overflow edge (|d| ~ 2^511): the vector path must hand both
    # to the scaled per-row path, or the low bits (or everything) are lost.
    yield "tiny squares", rng.standard_normal(n) * 2.0**-500, rng.standard_normal(n) * 2.0**-500
    yield (
        "tiny squares, mixed",
        rng.standard_normal(n) * 2.0 ** rng.choice([-500, -380, 0], n),
        rng.standard_normal(n) * 2.0**-500,
    )
    yield "overflow edge", rng.standard_normal(n) * 2.0**510, rng.standard_normal(n) * 2.0**510


@pytest.mark.parametrize("n", [1, 7, 17, 1001])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_fraction_oracle(isa: str, n: int, weighted: bool) -> None:
    rng = np.random.default_rng(n + 10 * weighted)
    for name, y, p in datasets(rng, n):
        w = rng.uniform(-0.5, 2.0, n) if weighted else None
        if weighted and sum(Fraction(v) for v in w.tolist()) == 0:
            continue
        got = l2loss.mean_squared_error(y, p, sample_weight=w, exact=True)
        assert got == as_float(exact_mean(y, p, w)), name


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_narrow_dtypes(isa: str, dtype) -> None:
    rng = np.random.default_rng(3)
    y, p = rng.standard_normal(999).astype(dtype), rng.standard_normal(999).astype(dtype)
    assert l2loss.mean_squared_error(y, p, exact=True) == as_float(exact_mean(y, p))


def test_differs_from_default_mode_where_it_must() -> None:
    # Search small adversarial inputs until the sum of rounded squares rounds differently
    # from the exact value: exact=True must give the exact one there.
    rng = np.random.default_rng(0)
    found = 0
    for _ in range(3000):
        p = 1.0 + rng.integers(1, 2**26, 3) * 2.0**-52
        y = np.zeros(3)
        truth = as_float(exact_mean(y, p))
        assert l2loss.mean_squared_error(y, p, exact=True) == truth
        found += l2loss.mean_squared_error(y, p) != truth
    assert found > 0, "no case where rounded terms change the result: the test data is not adversarial"


def test_rmse_is_the_correctly_rounded_root() -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        y, p = rng.standard_normal(n) * 10.0 ** rng.integers(-5, 5), rng.standard_normal(n)
        q = exact_mean(y, p)
        x = l2loss.root_mean_squared_error(y, p, exact=True)
        lo, hi = np.nextafter(x, 0.0), np.nextafter(x, np.inf)
        # x is the nearest double to sqrt(q): q lies between the squared midpoints.
        assert (Fraction(lo) + Fraction(x)) ** 2 / 4 <= q <= (Fraction(x) + Fraction(hi)) ** 2 / 4


def test_reproducible_everywhere() -> None:
    rng = np.random.default_rng(5)
    y = rng.standard_normal((50_001, 2)) * 1e3
    p = y + rng.standard_normal((50_001, 2))
    w = rng.random(50_001)
    ref = [
        bits(v)
        for v in l2loss.mean_squared_error(y, p, sample_weight=w, exact=True, multioutput="raw_values")
    ]
    previous = l2loss._core.get_isa()
    try:
        for isa in l2loss._core.supported_isas():
            l2loss._core.set_isa(isa)
            for t in THREAD_COUNTS:
                for yy, pp in ((y, p), (np.asfortranarray(y), np.asfortranarray(p))):
                    got = l2loss.mean_squared_error(
                        yy, pp, sample_weight=w, exact=True, multioutput="raw_values", num_threads=t
                    )
                    assert [bits(v) for v in got] == ref, (isa, t)
    finally:
        l2loss._core.set_isa(previous)


def test_report_and_accumulator() -> None:
    rng = np.random.default_rng(6)
    y, p = rng.standard_normal(3001), rng.standard_normal(3001)
    mse = l2loss.mean_squared_error(y, p, exact=True)
    rep = l2loss.regression_report(y, p, exact=True)
    assert rep.mse == mse and rep.rmse == l2loss.root_mean_squared_error(y, p, exact=True)
    assert rep.mae == l2loss.mean_absolute_error(y, p)
    acc = RegressionAccumulator(exact=True)
    parts = [
        RegressionAccumulator(exact=True).update(y[a:b], p[a:b]) for a, b in ((0, 7), (7, 2000), (2000, 3001))
    ]
    acc.merge(parts[2]).merge(parts[0]).merge(parts[1])
    assert acc.compute().mse == mse
    back = RegressionAccumulator.from_bytes(acc.to_bytes())
    assert back.exact and back.compute().mse == mse and back == acc
    with pytest.raises(ValueError, match="exact=True accumulator with an exact=False"):
        acc.merge(RegressionAccumulator().update(y, p))
    with pytest.raises(TypeError, match="exact"):
        l2loss.mean_squared_error(y, p, exact="yes")


def _sqrt_mod_pow2(a: int, bits: int) -> int:
    """x with x*x == a (mod 2**bits), for a == 1 (mod 8) (Hensel lifting)."""
    x = 1
    for i in range(3, bits):
        if (x * x - a) % (1 << (i + 1)):
            x += 1 << (i - 1)
    return x % (1 << bits)


@pytest.mark.parametrize("n", [32, 64, 1024])  # powers of two keep the tie a tie
def test_remainders_below_the_subnormal_grain_decide_a_tie(isa: str, n: int) -> None:
    """An adversarial near-tie: d = 2^-500 * (1 + k 2^-52) with k chosen so that d^2 / n is
    exactly halfway between two doubles plus a few bits worth ~2^-1100. Those bits live only
    in the FMA remainder of d*d, below the subnormal grain: a vector path that let the
    remainder underflow would see an exact tie and round it to even, a wrong result."""
    for r in (1, 9):  # two tails: one of them makes the truncated value round the other way
        k = _sqrt_mod_pow2((1 << 51) + r, 52)
        d = 2.0**-500 * (1 + k * 2.0**-52)
        p = np.zeros(n)
        p[5] = d
        want = as_float(exact_mean(np.zeros(n), p))
        remainder = Fraction(d) ** 2 - Fraction(d * d)  # what FMA computes, before rounding
        subnormal = Fraction(round(remainder * 2**1074), 2**1074)  # ...and after (to the grain)
        truncated = as_float((Fraction(d * d) + subnormal) / n)
        assert l2loss.mean_squared_error(np.zeros(n), p, exact=True) == want
        if truncated != want:
            break
    else:
        pytest.fail("the construction did not produce a case that truncation gets wrong")


def test_exact_states_are_canonical_across_chunkings() -> None:
    rng = np.random.default_rng(5)
    y, p = rng.standard_normal((40, 2)), rng.standard_normal((40, 2))
    merged = RegressionAccumulator(exact=True).update(y, p)
    merged.merge(RegressionAccumulator(exact=True).update(y, p))
    one_shot = RegressionAccumulator(exact=True).update(np.vstack([y, y]), np.vstack([p, p]))
    same_values = [bits(v) for v in merged.compute("raw_values").mse]
    assert same_values == [bits(v) for v in one_shot.compute("raw_values").mse]
    assert merged.to_bytes() == one_shot.to_bytes()


@pytest.mark.parametrize(
    "kind",
    [
        "normal",
        "dynamic range",
        "tiny squares, mixed",
        pytest.param(
            "overflow edge",
            marks=pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason=(
                    "LIMITATION: with |d| near 2**511 (squares past 2**1022, taken by the scaled "
                    "per-row path) the exact state's bytes differ between one 3001-row update and "
                    "updates of <= 33 rows, though every value (and every result) is identical; the "
                    "default state's bytes do not differ. Cause not found yet (suspect: the scaled "
                    "accumulators' carry normalisation under many merges)."
                ),
            ),
        ),
    ],
)
def test_exact_state_bytes_do_not_depend_on_chunking_or_threads(isa: str, kind: str) -> None:
    """Every row's terms go to accumulators chosen by the row's values (vector path, tail,
    deferred lane alike), so the serialised integers are the same for any split."""
    rng = np.random.default_rng(11)
    y, p = next((a, b) for name, a, b in datasets(rng, 3001) if name == kind)
    y, p = np.stack([y, p[::-1]], axis=1), np.stack([p, y[::-1]], axis=1)
    want = RegressionAccumulator(exact=True).update(y, p).to_bytes()
    for chunk in (1, 7, 16, 33, 1000):
        acc = RegressionAccumulator(exact=True)
        for i in range(0, len(y), chunk):
            acc.update(y[i : i + chunk], p[i : i + chunk])
        assert acc.to_bytes() == want, chunk
    for threads in THREAD_COUNTS:
        assert RegressionAccumulator(exact=True, num_threads=threads).update(y, p).to_bytes() == want
