"""Shared test helpers: the ISA list, thread counts and sizes every suite sweeps, and the
exact oracles. Imported as ``from _support import ...`` (pyproject's pytest
``pythonpath = ["tests"]`` puts this folder on the path in every import mode); the
fixtures stay in conftest.py, where pytest finds them."""

from __future__ import annotations

import functools
import inspect
import math
import os
import struct
import subprocess
import warnings
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any, TypeVar

import l2loss
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from l2loss import _core

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


# ---- the property and hardening suites: hypothesis profiles, the slow gate, metric lists ----


_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def suite_settings(suite: str, *, default: int, small: int, long: int) -> settings:
    """A suite's hypothesis settings, chosen by ``HYPOTHESIS_PROFILE``: ``small`` (the
    sanitizer step of CI, tests/sanitize.sh --reduced, where every example is ~10x
    slower), ``long`` (a deep run), anything else the default. Applied locally through
    the returned decorator: loading a profile globally would change other modules. Each
    suite registers its own profile names, so one suite's counts never replace another's."""
    counts = {"default": default, "small": small, "long": long}
    for level, n in counts.items():
        settings.register_profile(
            f"l2loss-{suite}-{level}", max_examples=n, deadline=None, suppress_health_check=_SUPPRESS
        )
    level = os.environ.get("HYPOTHESIS_PROFILE", "")
    return settings(settings.get_profile(f"l2loss-{suite}-{level if level in counts else 'default'}"))


PROPERTY = suite_settings("hardening", default=100, small=25, long=3000)



METRICS = (
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "mean_squared_log_error",
    "root_mean_squared_log_error",
    "r2_score",
    "explained_variance_score",
    "max_error",
)
MEAN_METRICS = METRICS[:5]
HAS_EXACT = "exact" in inspect.signature(l2loss.mean_squared_error).parameters
ISAS = tuple(_core.supported_isas())


# ---- oracles and call recording shared by the property, bad-input and scale tests ----


def to_double(q: Fraction) -> float:
    try:
        return float(q)  # int / int true division: correctly rounded, subnormals included
    except OverflowError:
        return math.inf if q > 0 else -math.inf


def log1p_diff(y: float, p: float) -> float:
    """The engine's MSLE difference (log1p_pair in cpp/src/kernel_body.inc), replayed in
    Python floats: log((1 + p) / (1 + y)) with the ratio in double-double; the FMA is a
    correctly rounded Fraction, math.log1p/math.log are the same libm calls."""
    a = 1.0 + p
    ae = (1.0 - (a - p)) + (p - (a - (a - p)))
    b = 1.0 + y
    be = (1.0 - (b - y)) + (y - (b - (b - y)))
    q = a / b if b > 0.0 and math.isfinite(a) else math.nan
    if not (2.0**-1000 < q < 2.0**1000):
        return math.log1p(p) - math.log1p(y)
    q_lo = (float(Fraction(a) - Fraction(q) * Fraction(b)) + ae - q * be) / b
    if 0.5 <= q <= 2.0:
        r = q - 1.0
        s = r + q_lo
        e = (r - (s - (s - r))) + (q_lo - (s - r))
        return math.log1p(s) + e / (1.0 + s)
    return math.log(q) + q_lo / q


def call(fn, *args, **kwargs) -> tuple[str, Any, list[type]]:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            return "ok", fn(*args, **kwargs), [w.category for w in rec]
        except Exception as exc:  # noqa: BLE001 - classified by the caller
            return "err", exc, [w.category for w in rec]


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
