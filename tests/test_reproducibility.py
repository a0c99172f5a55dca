"""Bitwise reproducibility: the same bits for any thread count, ISA path and memory layout.

Compared with ``==`` on the IEEE bits (_support.bits), never with isclose.
"""

from __future__ import annotations

import l2loss
import numpy as np
import pytest
from _support import ALL_ISAS, THREAD_COUNTS, bits
from l2loss import _core

N = 3 * 65536 + 13  # large enough that 2, 3 and 7 threads all really split the rows


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    y = rng.standard_normal((N, 3)) * np.array([1.0, 1e6, 1e-6]) + np.array([0.0, 1e8, 0.0])
    p = y + rng.standard_normal((N, 3)) * np.array([0.5, 10.0, 1e-7])
    w = rng.uniform(0.0, 3.0, N)
    return {"y": y, "p": p, "w": w}


def _all_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray | None, **kw) -> list[bytes]:
    rep = l2loss.regression_report(y, p, sample_weight=w, multioutput="raw_values", **kw)
    out = []
    for field in ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error"):
        out.extend(bits(v) for v in np.asarray(getattr(rep, field), dtype=np.float64).ravel())
    out.append(bits(rep.weight_sum))
    for fn in (l2loss.mean_squared_error, l2loss.mean_absolute_error, l2loss.r2_score,
               l2loss.explained_variance_score):
        out.append(bits(fn(y, p, sample_weight=w, **kw)))
    return out


def _supported() -> list[str]:
    return [i for i in ALL_ISAS if i in _core.supported_isas()]


@pytest.mark.parametrize("weighted", [False, True])
def test_same_bits_for_every_thread_count_and_isa(data, weighted: bool) -> None:
    w = data["w"] if weighted else None
    previous = _core.get_isa()
    results = {}
    try:
        for isa in _supported():
            _core.set_isa(isa)
            for t in THREAD_COUNTS:
                results[(isa, t)] = _all_metrics(data["y"], data["p"], w, num_threads=t)
    finally:
        _core.set_isa(previous)
    reference = next(iter(results.values()))
    for key, value in results.items():
        assert value == reference, f"bits differ for ISA/threads {key}"


@pytest.mark.parametrize("threads", THREAD_COUNTS)
def test_same_bits_for_every_layout(data, threads: int) -> None:
    y, p, w = data["y"], data["p"], data["w"]
    reference = _all_metrics(y, p, w, num_threads=threads)
    layouts = {
        "fortran": (np.asfortranarray(y), np.asfortranarray(p), w),
        "strided": (np.repeat(y, 2, axis=0)[::2], np.repeat(p, 2, axis=0)[::2], np.repeat(w, 3)[::3]),
        "negative": (y[::-1][::-1], p[::-1].copy()[::-1], w[::-1].copy()[::-1]),
        "column-padded": (np.hstack([y, y])[:, :3], np.hstack([p, p])[:, :3], w),
    }
    for name, (yy, pp, ww) in layouts.items():
        assert _all_metrics(yy, pp, ww, num_threads=threads) == reference, name


@pytest.mark.skipif(not _core.have_openmp(), reason="built without OpenMP: always one thread")
def test_thread_counts_really_take_effect(data) -> None:
    for t in THREAD_COUNTS:
        r = _core.reduce(data["y"], data["p"], None, sums=_core.SUM_SQ, num_threads=t)
        assert r.threads_used == t
    small = _core.reduce(data["y"][:100], data["p"][:100], None, sums=_core.SUM_SQ, num_threads=7)
    assert small.threads_used == 1  # below the measured threshold one thread is faster


def test_reversed_rows_give_same_bits(data) -> None:
    # Reordering rows changes every floating-point partial sum; the exact sums cannot change.
    y, p, w = data["y"], data["p"], data["w"]
    assert _all_metrics(y[::-1], p[::-1], w[::-1]) == _all_metrics(y, p, w)
    perm = np.random.default_rng(0).permutation(N)
    assert _all_metrics(y[perm], p[perm], w[perm]) == _all_metrics(y, p, w)


def test_columns_equal_one_dimensional_calls(data) -> None:
    y, p, w = data["y"], data["p"], data["w"]
    raw = l2loss.mean_squared_error(y, p, sample_weight=w, multioutput="raw_values")
    for j in range(3):
        assert bits(raw[j]) == bits(l2loss.mean_squared_error(y[:, j], p[:, j], sample_weight=w))


def test_global_thread_setting_gives_same_bits(data) -> None:
    y, p = data["y"][:, 0], data["p"][:, 0]
    previous = l2loss.set_num_threads(1)
    try:
        one = l2loss.mean_squared_error(y, p)
        l2loss.set_num_threads(2)
        two = l2loss.mean_squared_error(y, p)
    finally:
        l2loss.set_num_threads(previous)
    assert bits(one) == bits(two)
