"""The exact-number division behind every mean, R^2 and report value (cpp/src/exact.cpp).

``_core._exact_divide`` builds two exact binary numbers from 64-bit limbs and returns
their correctly rounded quotient; the oracle is CPython's ``int / int`` (correctly
rounded, subnormals included) on the same integers. The cases cover the short division
(a divisor of at most 64 bits) with numerators much longer than the quotient needs
(exact sums of squares span 100+ bits), the long division, ties, sticky bits below the
kept bits, subnormal, overflowing and negative results.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from l2loss import _core

MASK = (1 << 64) - 1


def _limbs(v: int) -> list[int]:
    out = []
    while v:
        out.append(v & MASK)
        v >>= 64
    return out


def _oracle(a: int, ea: int, b: int, eb: int) -> float:
    q = Fraction(a) * Fraction(2) ** ea / (Fraction(b) * Fraction(2) ** eb)
    try:
        return q.numerator / q.denominator
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def _check(a: int, ea: int, b: int, eb: int) -> None:
    got = _core._exact_divide(_limbs(abs(a)), ea, a < 0, _limbs(abs(b)), eb, b < 0)
    want = _oracle(a, ea, b, eb)
    assert got.hex() == want.hex(), (a, ea, b, eb, got, want)


def _rand(rng: random.Random, bits: int) -> int:
    v = rng.getrandbits(bits) | (1 << (bits - 1))
    if rng.random() < 0.3:  # a run of zeros or ones in the middle: near-ties, sticky bits
        lo = rng.randrange(bits)
        run = rng.randrange(1, 80)
        mask = ((1 << run) - 1) << lo
        v = (v | mask) if rng.random() < 0.5 else (v & ~mask)
        v |= 1 << (bits - 1)
    return v


@pytest.mark.parametrize("den_bits", [1, 2, 31, 32, 33, 53, 63, 64, 65, 96, 130, 300])
@pytest.mark.parametrize("num_bits", [1, 40, 64, 67, 68, 100, 129, 200, 700, 2200])
def test_quotients_are_correctly_rounded(num_bits: int, den_bits: int) -> None:
    rng = random.Random(num_bits * 1000 + den_bits)
    for _ in range(60):
        a, b = _rand(rng, num_bits), _rand(rng, den_bits)
        if rng.random() < 0.5:
            a = -a
        if rng.random() < 0.3:
            b = -b
        ea = rng.randrange(-1100, 100)
        eb = rng.randrange(-60, 60)
        _check(a, ea, b, eb)


@pytest.mark.parametrize("den", [1, 3, 7, 10, 1000, 2**53 + 1, 2**64 - 1, 3 * 2**70 + 5])
def test_ties_and_sticky_bits_below_a_long_numerator(den: int) -> None:
    # N = den * (an odd 54-bit value, a midpoint between two doubles) * 2^s, plus or minus
    # one unit far below: only the sticky bit of the dropped part decides the rounding.
    rng = random.Random(den)
    for _ in range(40):
        mid = (rng.getrandbits(53) | (1 << 53)) | 1
        for s in (0, 1, 40, 64, 65, 150):
            base = den * mid << s
            for delta in (0, 1, -1):
                if base + delta > 0:
                    _check(base + delta, rng.randrange(-300, 300), den, 0)


def test_extremes() -> None:
    _check(1, -1074, 1, 0)  # the smallest subnormal
    _check(1, -1075, 1, 0)  # half of it: ties to even gives zero
    _check(3, -1076, 1, 0)  # 0.75 of it: rounds up
    _check(1, 1024, 1, 0)  # overflow
    _check(-(2**200 + 1), 823, 3, -1)  # overflow, negative
    _check(2**2000 - 1, -2000 - 1074, 2**64 - 1, 0)
    _check(10**300, 0, 10**290, 0)
    with pytest.raises(ValueError):
        _core._exact_divide([1], 0, False, [], 0, False)
