"""Shared test helpers: the ISA list, thread counts and sizes every suite sweeps, and the
exact oracles. Imported as ``from _support import ...`` (pyproject's pytest
``pythonpath = ["tests"]`` puts this folder on the path in every import mode); the
fixtures stay in conftest.py, where pytest finds them."""

from __future__ import annotations

import functools
import struct
import subprocess
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
import pytest

F = TypeVar("F", bound=Callable[..., Any])

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


def timing_sensitive(attempts: int = 3) -> Callable[[F], F]:
    """Mark a test whose verdict depends on wall-clock time, scheduling or the process's
    memory high-water mark (a signal delivered in time, a killed worker noticed, a Python
    thread getting the GIL, RSS staying flat), and retry it up to `attempts` times on an
    AssertionError or a timeout, so a busy machine (CI shares its two cores) cannot fail
    it by chance while a real regression, which fails every attempt, still does. Marked
    ``timing`` so a run can select or deselect them (``-m "not timing"``)."""

    def decorate(test: F) -> F:
        @functools.wraps(test)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(1, attempts + 1):
                try:
                    return test(*args, **kwargs)
                except (AssertionError, subprocess.TimeoutExpired, TimeoutError):
                    if attempt == attempts:
                        raise
            return None

        return pytest.mark.timing(wrapper)  # type: ignore[no-any-return]

    return decorate
