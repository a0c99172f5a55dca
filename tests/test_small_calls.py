"""The small-call path: mse/rmse/mae on two plain arrays skip the general machinery.

``_core.mse_fast``/``rmse_fast``/``mae_fast`` are called straight from the public
wrappers and, on one thread, run the kernel on a lazily cleared stack state without a
ReduceResult (``engine.small_mean``). Everything here checks that this shortcut is
invisible: the same bits as an exact oracle and as the general path, on every ISA,
dtype, layout and thread count, and the same errors and routing for everything else.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import l2loss
import numpy as np
import pytest
import sklearn.metrics as skm
from _support import TAIL_SIZES, THREAD_COUNTS, bits, exact_sum, terms_sq
from l2loss import _core

SIZES = TAIL_SIZES + (1000, 65537)


def exact_mse(y: np.ndarray, p: np.ndarray) -> float:
    return float(exact_sum(terms_sq(y, p)) / len(terms_sq(y, p)))


def exact_mae(y: np.ndarray, p: np.ndarray) -> float:
    yt = [float(v) for v in np.asarray(y).ravel().tolist()]
    yp = [float(v) for v in np.asarray(p).ravel().tolist()]
    return float(exact_sum(abs(b - a) for a, b in zip(yt, yp)) / len(yt))


def general(func: str, y: np.ndarray, p: np.ndarray, **kw) -> float:
    """The same metric through the general path: the public function without its
    fast-intake wrapper, with unit weights (w * d^2 is exact for w = 1, so the exact mean
    is the same) so that the weighted kernels run too."""
    return float(getattr(l2loss, func).__wrapped__(y, p, sample_weight=np.ones(len(y)), **kw))


def pair(n: int, dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + n)
    y = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)
    p = y + rng.standard_normal(n)
    return y.astype(dtype), p.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("n", SIZES)
def test_matches_the_exact_oracle_on_every_isa(isa: str, n: int, dtype: str) -> None:
    y, p = pair(n, dtype)
    mse = exact_mse(y, p)
    assert bits(l2loss.mean_squared_error(y, p)) == bits(mse)
    assert bits(l2loss.root_mean_squared_error(y, p)) == bits(math.sqrt(mse))
    assert bits(l2loss.mean_absolute_error(y, p)) == bits(exact_mae(y, p))
    for func in ("mean_squared_error", "root_mean_squared_error", "mean_absolute_error"):
        assert bits(getattr(l2loss, func)(y, p)) == bits(general(func, y, p))


@pytest.mark.parametrize(
    "layout", ["strided", "negative", "column", "mixed-f32-f64", "readonly", "unaligned"]
)
@pytest.mark.parametrize("n", [1, 17, 1000, 4097])
def test_layouts(isa: str, layout: str, n: int) -> None:
    y, p = pair(2 * n, "float64")
    if layout == "strided":
        y, p = y[::2], p[1::2]
    elif layout == "negative":
        y, p = y[::-2], p[::-2]
    elif layout == "column":
        y, p = y[:n].reshape(-1, 1), p[:n].reshape(-1, 1)
    elif layout == "mixed-f32-f64":
        y, p = y[:n].astype(np.float32), p[:n]
    elif layout == "readonly":
        y, p = y[:n], p[:n]
        y.flags.writeable = False
    else:  # a float64 view one byte off alignment
        raw = np.zeros(8 * n + 1, dtype=np.uint8)
        y = raw[1:].view(np.float64)
        y[:] = p[:n] - 1.0
        p = p[:n]
    assert bits(l2loss.mean_squared_error(y, p)) == bits(exact_mse(y, p))
    assert bits(l2loss.mean_absolute_error(y, p)) == bits(exact_mae(y, p))


@pytest.mark.parametrize("n", [16, 1000, 3 * 65536 + 7])
def test_thread_counts_give_the_same_bits(n: int) -> None:
    y, p = pair(n, "float64")
    want = bits(l2loss.mean_squared_error(y, p))
    for t in THREAD_COUNTS:
        assert bits(l2loss.mean_squared_error(y, p, num_threads=t)) == want
        assert bits(general("mean_squared_error", y, p, num_threads=t)) == want


def test_keywords_at_their_defaults_give_the_same_values() -> None:
    y, p = pair(100, "float64")
    want = bits(l2loss.mean_squared_error(y, p))
    for kw in (
        {"sample_weight": None},
        {"multioutput": "uniform_average"},
        {"exact": False},
        {"num_threads": 2, "sample_weight": None, "multioutput": "uniform_average", "exact": False},
    ):
        assert bits(l2loss.mean_squared_error(y, p, **kw)) == want, kw
    # A keyword the function does not have is an error, even at a harmless value.
    with pytest.raises(TypeError, match="exact"):
        l2loss.mean_absolute_error(y, p, exact=False)
    with pytest.raises(TypeError, match="squared"):
        l2loss.mean_squared_error(y, p, squared=True)


def test_the_shortcut_answers_only_plain_calls() -> None:
    y, p = pair(10, "float64")
    fast = _core.mse_fast
    assert bits(fast(y, p, 0)) == bits(exact_mse(y, p))
    assert fast(list(y), p, 0) is None  # not an array
    assert fast(y, p, -1) is None  # invalid thread count: the general path raises
    assert fast(y[:0], p[:0], 0) is None  # empty: sklearn's error
    assert fast(y[:5], p, 0) is None  # inconsistent lengths: sklearn's error
    assert fast(np.c_[y, y], np.c_[p, p], 0) is None  # two outputs
    assert fast(y.astype(np.int64), p, 0) is None  # integers are converted by the general path
    bad = y.copy()
    bad[3] = np.nan
    assert fast(bad, p, 0) is None  # non-finite: the general path finds it and raises
    with pytest.raises(ValueError, match="NaN"):
        l2loss.mean_squared_error(bad, p)
    big = np.full(10, 1e300)
    assert fast(big, -big, 0) is None  # the terms overflow: the general path answers inf
    with pytest.warns(RuntimeWarning, match="overflow encountered in square"):  # as sklearn's
        assert l2loss.mean_squared_error(big, -big) == math.inf


def test_array_subclasses_take_the_general_path() -> None:
    y, p = pair(10, "float64")
    masked = np.ma.masked_array(y, mask=[True] + [False] * 9)
    assert _core.mse_fast(masked, p, 0) is None
    assert l2loss.mean_squared_error(masked, p) == skm.mean_squared_error(masked, p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        matrix = np.asmatrix(y).T
    assert _core.mse_fast(matrix, p, 0) is None
    with pytest.raises(TypeError, match="np.matrix is not supported"):  # sklearn's error
        skm.mean_squared_error(matrix, p)
    with pytest.raises(TypeError, match="np.matrix is not supported"):
        l2loss.mean_squared_error(matrix, p)


def test_a_state_left_by_a_heavier_pass_does_not_leak_into_the_next() -> None:
    # small_mean's state lives on the stack, where the previous call's state just was;
    # only the accumulators a kernel claims are cleared. Alternate passes that use many
    # accumulators with ones that use few, on one thread, and check each against an oracle.
    rng = np.random.default_rng(7)
    for n in (5, 16, 33, 1000):
        y = rng.standard_normal(n) * 1e3
        p = y + rng.standard_normal(n)
        l2loss.regression_report(y, p, num_threads=1)
        l2loss.mean_squared_error(y, p, exact=True, num_threads=1)
        assert bits(l2loss.mean_squared_error(y, p, num_threads=1)) == bits(exact_mse(y, p))
        l2loss.r2_score(y, p, num_threads=1)
        assert bits(l2loss.mean_absolute_error(y, p, num_threads=1)) == bits(exact_mae(y, p))
        assert Fraction(l2loss.mean_squared_error(y, p)) == Fraction(exact_mse(y, p))


def test_thread_counts_beyond_a_c_int_are_refused_by_name() -> None:
    # Used to surface pybind11's "incompatible function arguments" TypeError (the engine
    # takes a C int); now every entry point says which argument is wrong.
    y, p = pair(1000, "float64")
    want = bits(l2loss.mean_squared_error(y, p))
    assert bits(l2loss.mean_squared_error(y, p, num_threads=2**31 - 1)) == want
    for t in (2**31, 2**40):
        for call in (
            lambda t=t: l2loss.mean_squared_error(y, p, num_threads=t),
            lambda t=t: general("mean_squared_error", y, p, num_threads=t),
            lambda t=t: l2loss.mse_value_and_grad(y, p, num_threads=t),
            lambda t=t: l2loss.r2_score(y, p, num_threads=t),
        ):
            with pytest.raises(ValueError, match="num_threads must be at most"):
                call()
    with pytest.raises(ValueError, match="at most"):
        l2loss.set_num_threads(2**40)


def test_the_small_calls_benchmark_runs() -> None:
    """benchmarks/small_calls.py (wired into benchmarks/run.py by the lead): every case gives
    a row with a positive time for each candidate; the timings themselves are not asserted."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "small_calls.py"
    spec = importlib.util.spec_from_file_location("small_calls", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.run(1, quick=True)
    want = [(name, n, weighted) for name, n, _, weighted in module.cases(True)]
    assert [(r["function"], r["n"], r["weighted"]) for r in rows] == want
    for r in rows:
        assert r["l2loss_us"] > 0 and r["general_us"] > 0 and r["numpy_us"] > 0, r
    assert "| regression_report | 1000 | float64 | yes |" in module.render(rows)
    profiled = {r["function"] for r in module.breakdown(1)}
    assert profiled >= {"regression_report", "RegressionAccumulator.update"}
