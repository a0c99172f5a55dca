"""Exact references and the data the accuracy columns are measured on.

The exact MSE of given floating-point inputs is computed without any rounding:

1. ``d = p - t`` is split exactly into ``s + e`` (TwoSum), so ``d**2 = s*s + 2*s*e + e*e``, and
   each product is split exactly into two doubles (Dekker's TwoProduct); with weights, each of
   those terms is multiplied by ``w`` with TwoProduct again. This gives arrays of doubles whose
   *exact* total is ``sum(w * (p - t)**2)``.
2. Those doubles are summed exactly as integers ("integer-scaled"): every double is
   ``M * 2**(E - 53)`` with a 53-bit integer ``M`` (``np.frexp``); the halves of ``M`` are summed
   per exponent with ``np.bincount`` (every partial sum is an integer below 2**53, so the float
   additions are exact), and the per-exponent totals are shifted into one Python integer.

The result is a ``fractions.Fraction``: the exact MSE, so a value that equals it correctly
rounded has a (tiny, non-zero) error and a value that is *exactly* right would show 0. Every
data kind is checked against a plain ``Fraction`` computation before it is used
(:func:`self_check`), which also guards against overflow/underflow in the error-free transforms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

SCALE = 1074 + 53  # every double is an integer multiple of 2**-SCALE once written as M * 2**(E-53)
CHUNK = 1 << 22  # elements per exact-sum chunk: |sum of 26-bit halves| < 2**(27+22) stays exact in float64

# --------------------------------------------------------------------------- data kinds

DataMaker = Callable[[np.random.Generator, int, np.dtype], tuple[np.ndarray, np.ndarray]]


def _benign(rng: np.random.Generator, n: int, dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    t = rng.standard_normal(n, dtype=dt.type)
    p = rng.standard_normal(n, dtype=dt.type)
    p *= dt.type(0.5)
    p += t
    return t, p


def _large_mean(rng: np.random.Generator, n: int, dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    # mu = 1e8 in float64; float32 cannot hold 1e8 + N(0, 1) (its spacing there is 8), so 1e4.
    mu = 1e8 if dt == np.float64 else 1e4
    t = mu + rng.standard_normal(n)
    p = t + 0.1 * rng.standard_normal(n)
    return t.astype(dt), p.astype(dt)


def _wide_range(rng: np.random.Generator, n: int, dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    t = np.where(rng.random(n) < 0.5, -1.0, 1.0) * 10.0 ** rng.uniform(-8, 8, n)
    p = t * (1.0 + 0.1 * rng.standard_normal(n))
    return t.astype(dt), p.astype(dt)


def _cancellation(rng: np.random.Generator, n: int, dt: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    # p and t agree in all but their last few bits: (p - t) is a handful of ulps of values
    # ~1e4, so anything that does not difference first (t*t - 2*t*p + p*p) loses every digit.
    t = (1e4 * (1.0 + rng.random(n))).astype(dt)
    k = rng.integers(-4, 5, n).astype(dt)
    p = t + k * np.spacing(t)
    return t, p.astype(dt)


DATA_KINDS: dict[str, tuple[DataMaker, str]] = {
    "benign": (_benign, "t ~ N(0,1), p = t + N(0, 0.5²)"),
    "large mean": (_large_mean, "t = μ + N(0,1), p = t + N(0, 0.1²); μ = 1e8 (float64), 1e4 (float32)"),
    "wide range": (_wide_range, "|t| = 10^U(-8, 8) with random sign, p = t·(1 + N(0, 0.1²))"),
    "cancellation": (_cancellation, "t ~ U(1e4, 2e4), p = t + k·ulp(t), k ∈ {-4..4}"),
}


def make_data(kind: str, n: int, dtype: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    maker, _ = DATA_KINDS[kind]
    return maker(np.random.default_rng(seed), n, np.dtype(dtype))


# --------------------------------------------------------------------------- error-free transforms


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knuth's TwoSum: s + e == a + b exactly."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Veltkamp split into two 26-bit halves (NumPy ufuncs never contract to FMA)."""
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's TwoProduct: p + e == a * b exactly (no over/underflow: checked by self_check)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, al * bl - (((p - ah * bh) - al * bh) - ah * bl)


def _square_terms(t: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> Iterator[np.ndarray]:
    """Float64 arrays whose exact total is sum(w * (p - t)**2) in exact arithmetic."""
    s, e = _two_sum(p.astype(np.float64), -t.astype(np.float64))
    w64 = None if w is None else w.astype(np.float64)
    parts = [(s, s, w64)]  # (a, b, weight): d**2 = s*s + 2*s*e + e*e, the last two only where e != 0
    nz = e != 0
    if nz.any():
        w_nz = None if w64 is None else w64[nz]
        parts += [(2.0 * s[nz], e[nz], w_nz), (e[nz], e[nz], w_nz)]
    for a, b, weight in parts:
        for term in _two_prod(a, b):
            if weight is None:
                yield term
            else:
                yield from _two_prod(term, weight)


def exact_int_sum(x: np.ndarray) -> int:
    """S such that sum(x) == S * 2**-SCALE exactly (x: finite float64)."""
    total = 0
    for i in range(0, x.size, CHUNK):
        m, e = np.frexp(x[i : i + CHUNK])
        mant = (m * 2.0**53).astype(np.int64)  # exact: m has at most 53 significant bits
        e_min = int(e.min())
        idx = e - e_min
        hi = np.bincount(idx, weights=(mant >> 26).astype(np.float64))
        lo = np.bincount(idx, weights=(mant & ((1 << 26) - 1)).astype(np.float64))
        for k in np.flatnonzero((hi != 0) | (lo != 0)):
            total += ((int(hi[k]) << 26) + int(lo[k])) << (e_min + int(k) - 53 + SCALE)
    return total


def _checked(arr: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise ValueError("exact reference: an error-free transform overflowed")
    return arr


def exact_mse(t: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> Fraction:
    """The exact (weighted) MSE of the given floats, as a Fraction."""
    t, p = np.ravel(t), np.ravel(p)
    wv = None if w is None else np.ravel(w)
    total = 0
    for i in range(0, t.size, CHUNK):
        sl = slice(i, i + CHUNK)
        for term in _square_terms(t[sl], p[sl], None if wv is None else wv[sl]):
            total += exact_int_sum(_checked(term))
    sq = Fraction(total, 1 << SCALE)
    if wv is None:
        return sq / t.size
    return sq / Fraction(exact_int_sum(_checked(wv.astype(np.float64))), 1 << SCALE)


def fraction_mse(t: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> Fraction:
    """The same number the slow, obvious way (the oracle's oracle, small n only)."""
    ws = [1.0] * t.size if w is None else w.tolist()
    num = sum(
        (Fraction(wi) * (Fraction(b) - Fraction(a)) ** 2 for a, b, wi in zip(t.tolist(), p.tolist(), ws)),
        Fraction(0),
    )
    return num / sum((Fraction(x) for x in ws), Fraction(0))


def self_check(seed: int, dtypes: tuple[str, ...] = ("float32", "float64"), n: int = 1500) -> None:
    """exact_mse must equal the plain Fraction computation on every data kind, weighted or not."""
    rng = np.random.default_rng(seed)
    for kind in DATA_KINDS:
        for dtype in dtypes:
            t, p = make_data(kind, n, dtype, seed)
            w = rng.uniform(0.5, 2.0, n).astype(dtype)
            for weights in (None, w):
                if exact_mse(t, p, weights) != fraction_mse(t, p, weights):
                    raise RuntimeError(f"exact reference is wrong on {kind} {dtype}: benchmark is broken")


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Reference:
    """The exact MSE and how a computed value compares with it."""

    exact: Fraction

    @property
    def value(self) -> float:
        return float(self.exact)  # correctly rounded (Fraction.__float__ rounds to nearest)

    def rel_error(self, v: float) -> float:
        if not np.isfinite(v):
            return float("inf")
        diff = abs(Fraction(v) - self.exact)
        return float(diff / abs(self.exact)) if self.exact != 0 else float(diff)

    def correctly_rounded(self, v: float) -> bool:
        return v == self.value


@dataclass(frozen=True)
class AccuracyRow:
    """One library's value on one data set."""

    key: str  # candidate key, e.g. "numba@2"
    family: str  # the column it belongs to, e.g. "numba"
    name: str  # what it computes, e.g. "numba prange fastmath"
    threads: int | None
    value: float | None
    rel_error: float | None
    correctly_rounded: bool | None


@dataclass
class AccuracyCase:
    kind: str
    dtype: str
    n: int
    reference: float  # the exact MSE, correctly rounded
    rows: list[AccuracyRow]

    def main_row(self, family: str) -> AccuracyRow | None:
        """The family's row at its highest thread count (its default here)."""
        rows = [r for r in self.rows if r.family == family]
        return max(rows, key=lambda r: r.threads or 0) if rows else None

    def thread_dependent(self, family: str) -> bool:
        """Did the thread count change the bits of the result?"""
        values = {repr(r.value) for r in self.rows if r.family == family}
        return len(values) > 1
