"""Leaks: RSS stays flat over many API calls and state round-trips
(``L2LOSS_LEAK_CALLS=1000000`` or ``-m slow`` for the full-length runs).
"""

from __future__ import annotations

import gc
import os

import l2loss
import numpy as np
import pytest
from _support import timing_sensitive
from l2loss import _core

skm = pytest.importorskip("sklearn.metrics")




# ================================================================================================
# 5. Leaks: RSS stays flat over many calls
# ================================================================================================


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _api_round(y, p, w, y2, p2, theta, out, blob, bad_out) -> int:
    """One call of (nearly) every public entry point, error paths included; returns the count."""
    l2loss.mean_squared_error(y, p)
    l2loss.mean_squared_error(y, p, sample_weight=w)
    l2loss.root_mean_squared_error(y2, p2, multioutput="raw_values")
    l2loss.mean_absolute_error(y, p)
    l2loss.mean_squared_log_error(np.abs(y), np.abs(p))
    l2loss.r2_score(y, p)
    l2loss.explained_variance_score(y2, p2)
    l2loss.max_error(y, p)
    l2loss.regression_report(y, p, sample_weight=w)
    l2loss.mse_loss(p, y)
    l2loss.mse_value_and_grad(y, p, out=out)
    l2loss.l2_penalty(theta, 0.1)
    acc = l2loss.RegressionAccumulator.from_bytes(blob)
    acc.update(y, p)
    acc.to_bytes()
    _core.reduce(y, p, None, sums=_core.SUM_SQ).to_bytes()
    for bad in (
        lambda: l2loss.mse_grad(y, p, out=bad_out),
        lambda: l2loss.mean_squared_error(y, p[:-1]),
        lambda: _core.ReduceResult.from_bytes(b"L2ST\x01garbage"),
        lambda: l2loss.mean_squared_error(y, y * np.nan),
    ):
        try:
            bad()
        except (ValueError, TypeError):
            pass
    return 20


def _leak_run(total_calls: int) -> tuple[int, int, int, float]:
    rng = np.random.default_rng(3)
    y, p = rng.standard_normal(64), rng.standard_normal(64)
    y2, p2 = rng.standard_normal((32, 2)), rng.standard_normal((32, 2))
    w = rng.uniform(0.1, 1, 64)
    theta, out, bad_out = rng.standard_normal(16), np.empty(64), np.empty(64, dtype=np.float32)
    acc = l2loss.RegressionAccumulator()
    acc.update(y, p)
    blob = acc.to_bytes()
    args = (y, p, w, y2, p2, theta, out, blob, bad_out)
    warm = 0
    while warm < 20_000:
        warm += _api_round(*args)
    gc.collect()
    start = rss_bytes()
    calls = 0
    import time

    t0 = time.perf_counter()
    while calls < total_calls:
        calls += _api_round(*args)
    elapsed = time.perf_counter() - t0
    gc.collect()
    return start, rss_bytes(), calls, elapsed


LEAK_CALLS = int(os.environ.get("L2LOSS_LEAK_CALLS", "200000"))


def _assert_flat(start: int, end: int, calls: int, elapsed: float, bound_mb: float) -> None:
    growth = (end - start) / 2**20
    print(
        f"\n[leak] {calls} calls in {elapsed:.1f}s: RSS {start / 2**20:.1f} MiB -> {end / 2**20:.1f} MiB "
        f"(growth {growth:+.2f} MiB)"
    )
    assert growth < bound_mb, f"RSS grew by {growth:.1f} MiB over {calls} calls"


@timing_sensitive()
def test_rss_flat_over_many_api_calls() -> None:
    _assert_flat(*_leak_run(LEAK_CALLS), bound_mb=8)


@pytest.mark.slow
def test_rss_flat_over_a_million_api_calls() -> None:
    _assert_flat(*_leak_run(1_000_000), bound_mb=8)


@timing_sensitive()
def test_rss_flat_over_serialization_round_trips() -> None:
    rng = np.random.default_rng(4)
    acc = l2loss.RegressionAccumulator()
    acc.update(
        rng.standard_normal((100, 3)), rng.standard_normal((100, 3)), sample_weight=rng.uniform(0, 1, 100)
    )
    blob = acc.to_bytes()
    n = int(os.environ.get("L2LOSS_ROUNDTRIPS", "100000"))
    for _ in range(5000):
        blob = l2loss.RegressionAccumulator.from_bytes(blob).to_bytes()
    gc.collect()
    start = rss_bytes()
    import time

    t0 = time.perf_counter()
    for _ in range(n):
        blob2 = l2loss.RegressionAccumulator.from_bytes(blob).to_bytes()
    elapsed = time.perf_counter() - t0
    assert blob2 == blob
    gc.collect()
    _assert_flat(start, rss_bytes(), n, elapsed, bound_mb=4)
