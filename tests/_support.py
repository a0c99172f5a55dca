"""Shared test helpers: the ISA list, thread counts and sizes every suite sweeps, and the
exact oracles. Imported as ``from _support import ...`` (pyproject's pytest
``pythonpath = ["tests"]`` puts this folder on the path in every import mode); the
fixtures stay in conftest.py, where pytest finds them."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from fractions import Fraction

import numpy as np

ALL_ISAS = ("scalar", "avx2", "avx512")
THREAD_COUNTS = (1, 2, 3, 7)
# Sizes that hit every SIMD tail (4- and 8-lane vectors, unrolled twice), the
# per-thread split threshold (8192 elements per thread for one sum) and blocks of 2-D
# inputs (32768 elements per block).
TAIL_SIZES = (1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 1023, 4095, 4097)
THREAD_SIZES = (2 * 8192 - 1, 2 * 8192 + 1, 3 * 65536 + 7)


def exact_sum(values: Iterable[float]) -> Fraction:
    """Exact sum of doubles with Python integers (every double is k * 2**-1074)."""
    total = 0
    for v in values:
        num, den = float(v).as_integer_ratio()
        total += num << (1074 - (den.bit_length() - 1))
    return Fraction(total, 1 << 1074)


def terms_sq(y_true: np.ndarray, y_pred: np.ndarray, w: np.ndarray | None = None) -> list[float]:
    """The engine's per-row MSE terms, computed independently in Python floats."""
    yt = [float(v) for v in np.asarray(y_true).ravel().tolist()]
    yp = [float(v) for v in np.asarray(y_pred).ravel().tolist()]
    if w is None:
        return [(p - t) * (p - t) for t, p in zip(yt, yp)]
    ws = [float(v) for v in np.asarray(w).tolist()]
    return [wi * ((p - t) * (p - t)) for t, p, wi in zip(yt, yp, ws)]


def bits(x: float) -> bytes:
    """The IEEE bits of a double, for equality that cannot hide -0.0 vs 0.0 or NaN payloads."""
    return struct.pack("<d", float(x))
