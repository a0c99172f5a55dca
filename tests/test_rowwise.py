"""Row-wise outputs through the engine (issue #16, item 3): one correctly rounded mean per row.

``_core.row_mean_squares`` writes, for every row, the mean of fl(d*d) over the row (d in
double), rounded once straight to the output format -- float32 results are not averaged in
float32 nor rounded twice. The oracle is Python's Fraction with a rounding written here
(``round_fraction``), which shares nothing with the engine's integer path.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from _support import THREAD_COUNTS
from l2loss import _core

FORMATS = {"float64": (53, -1074, 1023), "float32": (24, -149, 127)}


def round_fraction(q: Fraction, fmt: str) -> float:
    """q >= 0 rounded to nearest-even in the format (subnormals and overflow included)."""
    precision, lsb_min, max_exp = FORMATS[fmt]
    if q == 0:
        return 0.0
    e = q.numerator.bit_length() - q.denominator.bit_length()
    while Fraction(2) ** e > q:
        e -= 1
    while Fraction(2) ** (e + 1) <= q:
        e += 1
    lsb = max(e - (precision - 1), lsb_min)
    scaled = q / Fraction(2) ** lsb
    m = scaled.numerator // scaled.denominator
    rest = scaled - m
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and m % 2 == 1):
        m += 1
    if m.bit_length() + lsb - 1 > max_exp:
        return math.inf
    return math.ldexp(float(m), lsb)


def oracle(y: np.ndarray, p: np.ndarray, fmt: str) -> list[float]:
    out = []
    for yr, pr in zip(y.tolist(), p.tolist()):
        terms = [(b - a) * (b - a) for a, b in zip(yr, pr)]
        if any(math.isnan(t) for t in terms):
            out.append(math.nan)
        elif any(math.isinf(t) for t in terms):
            out.append(math.inf)
        else:
            out.append(round_fraction(sum(map(Fraction, terms), Fraction(0)) / len(terms), fmt))
    return out


def rows(y: np.ndarray, p: np.ndarray, out_dtype: str, **kw: int) -> np.ndarray:
    out = np.empty(y.shape[0], dtype=out_dtype)
    _core.row_mean_squares(y, p, out, **kw)
    return out


def same(got: np.ndarray, want: list[float]) -> bool:
    w = np.asarray(want, dtype=np.float64).astype(got.dtype)  # exact: want is in got's format
    return got.tobytes() == w.tobytes()


@pytest.mark.parametrize("k", [1, 2, 3, 7, 16, 100, 1000])
@pytest.mark.parametrize("in_dtype", ["float64", "float32"])
@pytest.mark.parametrize("out_dtype", ["float64", "float32"])
def test_each_row_is_its_mean_rounded_once(k: int, in_dtype: str, out_dtype: str) -> None:
    rng = np.random.default_rng(k)
    n = max(3, 2000 // k)
    y = (rng.standard_normal((n, k)) * 10.0 ** rng.integers(-4, 5, size=(n, k))).astype(in_dtype)
    p = (y + rng.standard_normal((n, k))).astype(in_dtype)
    got = rows(y, p, out_dtype)
    assert same(got, oracle(y.astype(np.float64), p.astype(np.float64), out_dtype))


def test_float32_rows_are_not_rounded_twice() -> None:
    """A row whose exact mean lies just above a float32 midpoint, by less than half a double
    ulp: rounding to double first lands on the midpoint (then ties to even, downwards), one
    rounding goes up. Terms 1, 1 and t with (2 + t) / 3 in (M, M + 2**-53), M = 1 + 2**-24."""
    low, high = 3 * (1 + Fraction(2) ** -24), 3 * (1 + Fraction(2) ** -24) + 3 * Fraction(2) ** -53

    def near(x: float) -> list[float]:  # x and its 40 neighbours on each side
        out, down, up = [x], x, x
        for _ in range(40):
            down, up = math.nextafter(down, 0.0), math.nextafter(up, 2.0)
            out += [down, up]
        return out

    found = [
        (b, c)
        for b in near(1.0)
        for c in near(math.sqrt(1 + 3 * 2.0**-24))
        if low < 1 + Fraction(b * b) + Fraction(c * c) < high
    ]
    assert found
    b, c = found[0]
    y = np.zeros((1, 3), dtype=np.float64)
    p = np.array([[1.0, b, c]])
    want = oracle(y, p, "float32")
    twice = np.float32(oracle(y, p, "float64")[0])
    assert twice != np.float32(want[0])  # the case has teeth
    assert same(rows(y, p, "float32"), want)


def test_wide_dynamic_range_rows_take_the_exact_path() -> None:
    y = np.zeros((4, 3))
    p = np.array(
        [[1e150, 1e-150, 3.0], [1e-300, 1e-300, 1e-320], [1e154, 1e154, 1e-160], [2.0**-537, 1.0, 0.0]]
    )
    for fmt in FORMATS:
        assert same(rows(y, p, fmt), oracle(y, p, fmt))


def test_non_finite_overflow_and_subnormal_results() -> None:
    y = np.zeros((5, 2))
    p = np.array([[np.nan, 1.0], [np.inf, 1.0], [1e200, 1e200], [1e-160, 0.0], [3e-162, 1e-162]])
    got = rows(y, p, "float64")
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == np.inf
    assert same(got[3:], oracle(y[3:], p[3:], "float64"))
    assert got[3] > 0 and got[3] < np.finfo(np.float64).tiny  # a subnormal mean, rounded once
    got32 = rows(np.zeros((2, 2)), np.array([[1e20, 1e20], [1e-23, 0.0]]), "float32")
    assert got32[0] == np.inf and same(
        got32[1:], oracle(np.zeros((1, 2)), np.array([[1e-23, 0.0]]), "float32")
    )


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_round_quotient_against_fractions_including_ties(fmt: str) -> None:
    rng = np.random.default_rng(7)
    precision = FORMATS[fmt][0]
    cases = []
    for _ in range(3000):
        n_limbs = int(rng.integers(1, 6))
        big = int.from_bytes(rng.bytes(8 * n_limbs), "little") >> int(rng.integers(0, 64))
        divisors = [1, 2, 3, 5, 7, 10, 16, 1000, 2**33 + 1, 2**64 - 1]
        k = divisors[int(rng.integers(len(divisors)))]
        scale = int(rng.integers(-1300, 900))
        cases.append((big, k, scale))
    for _ in range(500):  # exact midpoints: (2m + 1) / 2 ulps
        m = int(rng.integers(2 ** (precision - 1), 2**precision))
        k = int(rng.choice([1, 3, 7, 1000]))
        scale = int(rng.integers(-60, 60))
        cases.append(((2 * m + 1) * k, k, scale))
    cases += [
        (1, 1, -1075),
        (1, 1, -1076),
        (3, 1, -1076),
        (1, 3, -1074),
        (2**53 - 1, 1, 971),
        (2**54 - 1, 1, 970),
    ]
    for big, k, scale in cases:
        limbs = [(big >> (64 * i)) & (2**64 - 1) for i in range(max(1, (big.bit_length() + 63) // 64))]
        got = _core._round_quotient(limbs, scale, k, fmt == "float32")
        want = round_fraction(Fraction(big, k) * Fraction(2) ** scale, fmt)
        assert got == want or (math.isinf(want) and math.isinf(got)), (big, k, scale)


def test_layouts_threads_and_narrow_pairs_give_the_same_bits() -> None:
    rng = np.random.default_rng(3)
    y, p = rng.standard_normal((3001, 17)), rng.standard_normal((3001, 17))
    want = rows(y, p, "float64", num_threads=1)
    assert same(want, oracle(y, p, "float64"))
    for threads in THREAD_COUNTS:
        assert rows(y, p, "float64", num_threads=threads).tobytes() == want.tobytes()
        assert rows(np.asfortranarray(y), p, "float64", num_threads=threads).tobytes() == want.tobytes()
        assert (
            rows(y[::-1][::-1], p[:, ::-1][:, ::-1], "float64", num_threads=threads).tobytes()
            == want.tobytes()
        )
    yh, ph = y.astype(np.float16), p.astype(np.float16)
    assert same(rows(yh, ph, "float32"), oracle(yh.astype(np.float64), ph.astype(np.float64), "float32"))
    strided_out = np.empty(2 * 3001)[::2]
    _core.row_mean_squares(y, p, strided_out)
    assert strided_out.tobytes() == want.tobytes()


def test_bad_arguments_are_refused() -> None:
    y = np.zeros((3, 2))
    with pytest.raises(ValueError, match="same shape"):
        _core.row_mean_squares(y, np.zeros((3, 3)), np.empty(3))
    with pytest.raises(ValueError, match="one element per row"):
        _core.row_mean_squares(y, y, np.empty(4))
    with pytest.raises(ValueError, match="one element per row"):
        _core.row_mean_squares(y, y, np.empty(3, dtype=np.int64))
    ro = np.empty(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        _core.row_mean_squares(y, y, ro)
    with pytest.raises(ValueError, match="num_threads"):
        _core.row_mean_squares(y, y, np.empty(3), num_threads=-1)


@pytest.mark.parametrize("span", [20, 40, 60, 80, 100])
def test_rows_whose_terms_span_many_binades(span: int) -> None:
    """Terms from 1 down to 2**-span: the floating-point fast path is exact only while the
    span is small for its row length; past that the exact path must take over."""
    rng = np.random.default_rng(span)
    for k in (2, 3, 16, 101):
        y = np.zeros((400, k))
        p = rng.uniform(1.0, 2.0, size=(400, k)) * 2.0 ** (-rng.integers(0, span // 2 + 1, size=(400, k)))
        for fmt in FORMATS:
            assert same(rows(y, p, fmt), oracle(y, p, fmt)), (k, fmt)


def test_per_sample_mse_goes_through_the_engine() -> None:
    """Keras' per-sample MSE: every row rounded once, float32 included, any leading shape."""
    import l2loss

    rng = np.random.default_rng(4)
    y = rng.standard_normal((3, 50, 7)).astype(np.float32)
    p = rng.standard_normal((3, 50, 7)).astype(np.float32)
    got = l2loss.per_sample_mse(y, p)
    assert got.shape == (3, 50) and got.dtype == np.float32
    want = oracle(y.reshape(-1, 7).astype(np.float64), p.reshape(-1, 7).astype(np.float64), "float32")
    assert same(got.reshape(-1), want)
    one = l2loss.per_sample_mse(y[0, 0], p[0, 0])  # 1-D: one sample, a 0-d result
    assert np.ndim(one) == 0 and same(np.asarray([one]), want[:1])
    # a float64 / float32 pair: float64 results, as NumPy gives
    mixed = l2loss.per_sample_mse(np.zeros((2, 3)), np.ones((2, 3), dtype=np.float32))
    assert mixed.dtype == np.float64 and list(mixed) == [1.0, 1.0]
