"""One RegressionAccumulator shared by several Python threads loses nothing (issue #14, defect 9).

The oracle is the same accumulator fed sequentially: merging is exact, so whatever the
interleaving, the state must have the very bytes of a sequential run (and its mse the
bits of l2loss/sklearn's one-shot figure). A tiny switch interval makes the interpreter
switch threads between almost every bytecode, which is what exposed the lost rows
(40 of 40 trials with exact=True before the fix).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import sklearn.metrics as skm
from l2loss import RegressionAccumulator

N_THREADS = 8
BATCHES_PER_THREAD = 40
ROWS = 7


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _batches(seed: int, weighted: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(BATCHES_PER_THREAD):
        y = rng.standard_normal((ROWS, 2))
        out.append((y, y + rng.standard_normal((ROWS, 2)), rng.uniform(0.5, 2.0, ROWS) if weighted else None))
    return out


def _run(workers: list[Callable[[], None]]) -> None:
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                start.wait()
                fn()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    assert not errors, errors


def _sequential(exact: bool, parts) -> RegressionAccumulator:
    acc = RegressionAccumulator(exact=exact)
    for batches in parts:
        for y, p, w in batches:
            acc.update(y, p, sample_weight=w)
    return acc


def _check(acc: RegressionAccumulator, exact: bool, parts, weighted: bool) -> None:
    want = _sequential(exact, parts)
    assert acc.n_samples == N_THREADS * BATCHES_PER_THREAD * ROWS
    assert acc.to_bytes() == want.to_bytes()
    y = np.vstack([b[0] for batches in parts for b in batches])
    p = np.vstack([b[1] for batches in parts for b in batches])
    w = np.concatenate([b[2] for batches in parts for b in batches]) if weighted else None
    assert acc.result("mse") == pytest.approx(skm.mean_squared_error(y, p, sample_weight=w), rel=1e-13)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("trial", range(3))
def test_concurrent_updates_lose_no_rows(
    tiny_switch_interval, exact: bool, weighted: bool, trial: int
) -> None:
    parts = [_batches(100 * trial + i, weighted) for i in range(N_THREADS)]
    acc = RegressionAccumulator(exact=exact)

    def feed(batches) -> Callable[[], None]:
        def run() -> None:
            for y, p, w in batches:
                acc.update(y, p, sample_weight=w)

        return run

    _run([feed(b) for b in parts])
    _check(acc, exact, parts, weighted)


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("how", ["merge", "iadd", "merge_state", "forward"])
def test_concurrent_merges_lose_no_rows(tiny_switch_interval, exact: bool, how: str) -> None:
    parts = [_batches(7 + i, True) for i in range(N_THREADS)]
    acc = RegressionAccumulator(exact=exact)

    def feed(batches) -> Callable[[], None]:
        def run() -> None:
            nonlocal acc
            for y, p, w in batches:
                if how == "forward":
                    acc.forward(y, p, sample_weight=w)
                    continue
                part = RegressionAccumulator(exact=exact).update(y, p, sample_weight=w)
                if how == "merge":
                    acc.merge(part)
                elif how == "merge_state":
                    acc.merge_state([part])
                else:
                    target = acc
                    target += part  # in place: the same object

        return run

    _run([feed(b) for b in parts])
    _check(acc, exact, parts, True)


@pytest.mark.parametrize("exact", [False, True])
def test_readers_see_consistent_states_while_writers_update(tiny_switch_interval, exact: bool) -> None:
    """to_bytes / copy / pickle / compute running alongside updates: every snapshot is a
    state some sequence of whole batches produces (rows a multiple of the batch size)."""
    parts = [_batches(50 + i, False) for i in range(N_THREADS // 2)]
    acc = RegressionAccumulator(exact=exact).update(*parts[0][0][:2])
    stop = threading.Event()
    seen: list[int] = []

    def feed(batches) -> Callable[[], None]:
        def run() -> None:
            for y, p, _ in batches:
                acc.update(y, p)

        return run

    def read() -> None:
        while not stop.is_set():
            snap = RegressionAccumulator.from_bytes(acc.to_bytes())
            assert snap.n_samples % ROWS == 0
            assert acc.copy().n_samples % ROWS == 0
            assert acc.compute().n_samples % ROWS == 0
            seen.append(snap.n_samples)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        _run([feed(b) for b in parts])
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=60)
    assert seen
    assert acc.n_samples == (len(parts) * BATCHES_PER_THREAD + 1) * ROWS


def test_crossed_merges_do_not_deadlock(tiny_switch_interval) -> None:
    """a.merge(b) and b.merge(a) at the same time: a merge never holds two locks."""
    y, p, _ = _batches(1, False)[0]
    a, b = RegressionAccumulator().update(y, p), RegressionAccumulator().update(y, p)

    def a_into_b() -> None:
        for _ in range(20):  # at worst Fibonacci growth: ~7 * 2**28 rows, far below the 2**62 bound
            b.merge(a)

    def b_into_a() -> None:
        for _ in range(20):  # at worst Fibonacci growth: ~7 * 2**28 rows, far below the 2**62 bound
            a.merge(b)

    _run([a_into_b, b_into_a, lambda: [a.merge(a) for _ in range(3)]])
    assert a.n_samples % ROWS == 0 and b.n_samples % ROWS == 0


@pytest.mark.parametrize("exact", [False, True])
def test_concurrent_large_updates_run_the_kernels_in_parallel_safely(exact: bool) -> None:
    """Batches big enough that the kernels release the GIL: the commits still lose nothing."""
    rng = np.random.default_rng(12)
    y = rng.standard_normal((4, 3, 60_000))
    p = y + rng.standard_normal((4, 3, 60_000))
    acc = RegressionAccumulator(exact=exact, num_threads=1)

    def feed(i: int) -> Callable[[], None]:
        def run() -> None:
            for j in range(3):
                acc.update(y[i, j], p[i, j])

        return run

    _run([feed(i) for i in range(4)])
    want = RegressionAccumulator(exact=exact).update(y.ravel(), p.ravel())
    assert acc.n_samples == y.size
    assert acc.to_bytes() == want.to_bytes()
