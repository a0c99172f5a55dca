"""l2loss.dask: real Dask (threaded scheduler and a 2-process LocalCluster), no mocks.

Oracle: the in-memory l2loss functions on the same data (themselves checked against
exact oracles and sklearn); equality is on the bits. Errors must match the in-memory
ones in type and message.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _support import bits, timing_sensitive
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
import l2loss  # noqa: E402
import l2loss.dask as ld  # noqa: E402
from dask.delayed import Delayed  # noqa: E402
from l2loss.dask import _MSE, _REPORT, _lazy_state, _prepare  # noqa: E402

FUNCTIONS = (
    "mean_squared_error", "root_mean_squared_error", "mean_absolute_error", "r2_score",
    "explained_variance_score", "max_error", "regression_report",
)
TAKE_EXACT = ("mean_squared_error", "root_mean_squared_error", "regression_report")
REPORT_FIELDS = ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error", "n_samples",
                 "weight_sum")


def result_bits(value: Any) -> Any:
    """A comparable, bit-level view of a result: float, ndarray (with dtype) or report."""
    if isinstance(value, l2loss.RegressionReport):
        return {f: result_bits(getattr(value, f)) for f in REPORT_FIELDS}
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    return (type(value).__name__, bits(value))


def assert_same_bits(got: Any, want: Any) -> None:
    assert result_bits(got) == result_bits(want)
    if isinstance(want, np.ndarray):  # spelled out as the brief asks
        assert np.array_equal(got, want)
    elif isinstance(want, float) and want == want:
        assert got == want


def error_of(call: Callable[[], Any]) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value)


def make(n: int, k: int, dtype: Any, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (n,) if k == 0 else (n, k)
    y = (rng.standard_normal(shape) * 10 + 1e3).astype(dtype)  # offset: R^2's denominator is hard
    p = (y + rng.standard_normal(shape)).astype(dtype)
    w = rng.uniform(-0.2, 2.0, n)
    return y, p, w


def kwargs_for(name: str, multioutput: Any, weights: Any) -> dict[str, Any]:
    if name == "max_error":
        return {}
    return {"multioutput": multioutput, "sample_weight": weights}


def multioutputs(name: str, k: int) -> list[Any]:
    if name == "max_error":
        return [None]
    out: list[Any] = ["uniform_average", "raw_values"]
    if k > 1:
        out.append(np.linspace(0.5, 2.0, k))
    if name in ("r2_score", "explained_variance_score"):
        out.append("variance_weighted")
    return out


# ---- threaded scheduler: every function, many chunkings, bit for bit ------------------------

# (row chunks of y_true, of y_pred, of sample_weight, column chunks): uneven and misaligned.
LAYOUTS = {
    "aligned": (200, 200, 200, None),
    "uneven": ((1, 300, 99, 7, 393), (1, 300, 99, 7, 393), (1, 300, 99, 7, 393), None),
    "misaligned": (97, 301, 64, None),
    "one-chunk-vs-many": (-1, 53, 250, None),
    "column-chunked": (150, 211, 37, 1),
}


def _bitwise_cases() -> Iterator[Any]:
    for name in FUNCTIONS:
        for layout, (*_, columns) in LAYOUTS.items():
            for k in (0, 3):
                for dtype in (np.float64, np.float32):
                    for weighted in (False, True):
                        if (name == "max_error" and (weighted or k)) or (k == 0 and columns is not None):
                            continue  # max_error: no weights, one output; column chunks: 2-D only
                        ids = f"{name}-{layout}-{'2d' if k else '1d'}-{np.dtype(dtype).name}-w{int(weighted)}"
                        yield pytest.param(name, layout, k, dtype, weighted, id=ids)


@pytest.mark.parametrize(("name", "layout", "k", "dtype", "weighted"), list(_bitwise_cases()))
def test_bitwise_equal_to_in_memory(name: str, layout: str, k: int, dtype: Any, weighted: bool) -> None:
    n = 800
    y, p, w = make(n, k, dtype, seed=len(layout) + k)
    ct, cp, cw, cols = LAYOUTS[layout]
    dy = da.from_array(y, chunks=(ct,) if k == 0 else (ct, cols or k))
    dp = da.from_array(p, chunks=(cp,) if k == 0 else (cp, cols or k))
    dw = da.from_array(w, chunks=cw) if weighted else None
    exacts = [{}, {"exact": True}] if name in TAKE_EXACT else [{}]
    for mo in multioutputs(name, k):
        for exact in exacts:
            want = getattr(l2loss, name)(y, p, **kwargs_for(name, mo, w if weighted else None), **exact)
            got = getattr(ld, name)(dy, dp, **kwargs_for(name, mo, dw), **exact)
            assert_same_bits(got, want)


@pytest.mark.parametrize("name", ["r2_score", "explained_variance_score"])
def test_force_finite_false_and_constant_outputs(name: str) -> None:
    y, p, _ = make(500, 3, np.float64, 3)
    y[:, 1] = 7.0  # a constant target: the denominator is exactly zero
    p[:, 2] = y[:, 2]  # a perfect output: the numerator is exactly zero
    dy, dp = da.from_array(y, chunks=(61, 2)), da.from_array(p, chunks=(170, 3))
    for force_finite in (True, False):
        for mo in ("raw_values", "uniform_average", "variance_weighted", None):
            if mo is None and name == "explained_variance_score":
                continue
            kw = {"multioutput": mo, "force_finite": force_finite}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                assert_same_bits(getattr(ld, name)(dy, dp, **kw), getattr(l2loss, name)(y, p, **kw))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 600),
    k=st.sampled_from([0, 1, 2]),
    cuts=st.lists(st.lists(st.integers(1, 600), max_size=6), min_size=3, max_size=3),
    split_every=st.integers(2, 9),
    weighted=st.booleans(),
    exact=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_chunking_any_tree_gives_in_memory_bits(n, k, cuts, split_every, weighted, exact, seed) -> None:
    y, p, w = make(n, k, np.float64, seed)
    if weighted and not np.sum(w):  # pragma: no cover - measure zero
        return

    def chunks(c: list[int]) -> tuple[int, ...]:
        bounds = sorted({0, n, *(x % n for x in c)})
        return tuple(b - a for a, b in zip(bounds[:-1], bounds[1:]))

    dy = da.from_array(y, chunks=(chunks(cuts[0]),) + y.shape[1:])
    dp = da.from_array(p, chunks=(chunks(cuts[1]),) + p.shape[1:])
    dw = da.from_array(w, chunks=(chunks(cuts[2]),)) if weighted else None
    want = l2loss.regression_report(y, p, sample_weight=w if weighted else None, multioutput="raw_values",
                                    exact=exact)
    got = ld.regression_report(dy, dp, sample_weight=dw, multioutput="raw_values", split_every=split_every,
                               exact=exact)
    assert_same_bits(got, want)


def test_split_every_changes_the_tree_not_the_bits() -> None:
    y, p, w = make(3000, 2, np.float64, 5)
    dy, dp, dw = (da.from_array(a, chunks=(50,) + a.shape[1:]) for a in (y, p, w))
    plan, arrays = _prepare(_REPORT, dy, dp, dw, "raw_values", True, None)
    tasks = {s: len(dict(_lazy_state(plan, arrays, s).__dask_graph__())) for s in (2, 60)}
    assert tasks[2] > tasks[60]  # a deeper tree really was built
    results = [ld.regression_report(dy, dp, sample_weight=dw, multioutput="raw_values", split_every=s)
               for s in (2, 3, 60)]
    for r in results:
        assert_same_bits(r, l2loss.regression_report(y, p, sample_weight=w, multioutput="raw_values"))


def test_only_small_states_travel() -> None:
    y, p, _ = make(200_000, 0, np.float64, 6)
    dy, dp = da.from_array(y, chunks=20_000), da.from_array(p, chunks=20_000)
    for metric, limit in ((_MSE, 200), (_REPORT, 400)):
        plan, arrays = _prepare(metric, dy, dp, None, "uniform_average", True, None)
        (block,) = dask.compute(_lazy_state(plan, arrays, 4))
        state = block.item()
        (data,) = state.states  # one engine pass
        assert isinstance(data, bytes) and len(data) < limit  # for 160 kB of data per block
        assert state.rows == (200_000, 200_000)


def test_rechunks_only_when_needed() -> None:
    y, p, _ = make(400, 3, np.float64, 7)
    aligned = _prepare(_MSE, da.from_array(y, chunks=(100, 3)), da.from_array(p, chunks=(100, 3)), None,
                       "raw_values", True, None)[1]
    assert all(a.chunks == ((100,) * 4, (3,)) for a in aligned)
    assert not any("rechunk" in str(name) for a in aligned for name in a.__dask_graph__().layers)
    by_columns = _prepare(_MSE, da.from_array(y, chunks=(100, 1)), da.from_array(p, chunks=(400, 2)), None,
                          "raw_values", True, None)[1]
    assert [a.chunks[1] for a in by_columns] == [(3,), (3,)]
    assert [a.chunks[0] for a in by_columns] == [(100,) * 4, (400,)]  # rows untouched: blockwise aligns


def test_num_threads_default_and_override() -> None:
    y, p, _ = make(1000, 0, np.float64, 8)
    dy, dp = da.from_array(y, chunks=300), da.from_array(p, chunks=300)
    assert ld.DEFAULT_NUM_THREADS == 1
    assert _prepare(_MSE, dy, dp, None, "uniform_average", True, None)[0].num_threads == 1
    assert _prepare(_MSE, dy, dp, None, "uniform_average", True, 2)[0].num_threads == 2
    want = l2loss.mean_squared_error(y, p)
    for threads in (None, 1, 2):
        assert_same_bits(ld.mean_squared_error(dy, dp, num_threads=threads), want)
    assert error_of(lambda: ld.mean_squared_error(dy, dp, num_threads=-1)) == error_of(
        lambda: l2loss.mean_squared_error(y, p, num_threads=-1))


# ---- other inputs and lazy results ---------------------------------------------------------


def test_dask_dataframe_columns_and_frames() -> None:
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    y, p, w = make(1000, 2, np.float64, 9)
    df = pd.DataFrame({"y0": y[:, 0], "y1": y[:, 1], "p0": p[:, 0], "p1": p[:, 1], "w": w})
    ddf = dd.from_pandas(df, npartitions=4)
    for name in FUNCTIONS:
        kw = kwargs_for(name, "uniform_average", df["w"])
        dkw = kwargs_for(name, "uniform_average", ddf["w"])
        assert_same_bits(getattr(ld, name)(ddf["y0"], ddf["p0"], **dkw),
                         getattr(l2loss, name)(df["y0"], df["p0"], **kw))
    assert_same_bits(  # a DataFrame is 2-D: one output per column
        ld.regression_report(ddf[["y0", "y1"]], ddf[["p0", "p1"]], multioutput="raw_values"),
        l2loss.regression_report(df[["y0", "y1"]], df[["p0", "p1"]], multioutput="raw_values"),
    )
    other = dd.from_pandas(df, npartitions=3)  # different partitions: chunk sizes are learnt first
    assert_same_bits(ld.r2_score(ddf["y0"], other["p0"], sample_weight=w),
                     l2loss.r2_score(df["y0"], df["p0"], sample_weight=w))


def test_numpy_and_mixed_inputs() -> None:
    y, p, w = make(500, 0, np.float32, 10)
    want = l2loss.mean_squared_error(y, p, sample_weight=w)
    assert_same_bits(ld.mean_squared_error(y, p, sample_weight=w), want)  # in-memory path
    lazy = ld.mean_squared_error(y, p, sample_weight=w, compute=False)
    assert isinstance(lazy, Delayed)
    assert_same_bits(lazy.compute(), want)
    assert_same_bits(ld.mean_squared_error(da.from_array(y, chunks=70), p, sample_weight=w), want)
    assert_same_bits(ld.mean_squared_error(y.tolist(), da.from_array(p, chunks=70), sample_weight=list(w)),
                     l2loss.mean_squared_error(y.tolist(), p, sample_weight=list(w)))


@pytest.mark.parametrize(
    ("true_dtype", "pred_dtype", "weight_dtype"),
    [(np.float32, np.float64, None), (np.int64, np.float32, np.float32), (np.float16, np.float16, np.float64),
     (np.int32, np.bool_, np.int64)],
)
def test_mixed_and_converted_dtypes(true_dtype: Any, pred_dtype: Any, weight_dtype: Any) -> None:
    rng = np.random.default_rng(21)
    y = (rng.standard_normal((700, 2)) * 40).astype(true_dtype)
    p = (rng.standard_normal((700, 2)) * 40).astype(pred_dtype)
    w = None if weight_dtype is None else rng.integers(1, 5, 700).astype(weight_dtype)
    dy, dp = da.from_array(y, chunks=(90, 1)), da.from_array(p, chunks=(250, 2))
    dw = None if w is None else da.from_array(w, chunks=333)
    for name in ("mean_squared_error", "r2_score", "regression_report"):
        assert_same_bits(getattr(ld, name)(dy, dp, sample_weight=dw, multioutput="raw_values"),
                         getattr(l2loss, name)(y, p, sample_weight=w, multioutput="raw_values"))
    assert_same_bits(ld.max_error(dy[:, 1], dp[:, 1]), l2loss.max_error(y[:, 1], p[:, 1]))


def test_compute_false_is_lazy_and_batches() -> None:
    y, p, w = make(900, 2, np.float64, 11)
    calls = []

    def count(block: np.ndarray) -> np.ndarray:
        if block.size:  # (map_blocks may also call it on an empty array for metadata)
            calls.append(1)
        return block

    dy = da.from_array(y, chunks=(100, 2)).map_blocks(count, dtype=y.dtype)
    dp = da.from_array(p, chunks=(300, 1))
    lazy = [getattr(ld, name)(dy, dp, **kwargs_for(name, "raw_values", w), compute=False)
            for name in FUNCTIONS if name != "max_error"]
    assert all(isinstance(x, Delayed) for x in lazy) and not calls
    results = dask.compute(*lazy)
    assert len(calls) == 9  # the input blocks are computed once for all the metrics
    for name, got in zip([f for f in FUNCTIONS if f != "max_error"], results):
        assert_same_bits(got, getattr(l2loss, name)(y, p, **kwargs_for(name, "raw_values", w)))


# ---- errors: the in-memory types and messages ---------------------------------------------


def _poison(block: np.ndarray) -> np.ndarray:
    raise AssertionError("the data was computed")


def _error_cases() -> Iterator[tuple[str, str, tuple, dict]]:
    y, p, w = make(600, 0, np.float64, 12)
    y2, p2, _ = make(600, 3, np.float64, 13)
    nan_late_y = y.copy()
    nan_late_y[550] = np.nan
    inf_early_p = p.copy()
    inf_early_p[3] = np.inf
    nan_w = w.copy()
    nan_w[100] = np.nan
    nan_y2 = y2.copy()
    nan_y2[400, 2] = np.nan
    zero_sum = np.zeros(600)
    zero_sum[[0, 1]] = [1.0, -1.0]  # later blocks: all-zero weights, so the nonzero flag must merge
    yield "length", "mean_squared_error", (y[:-1], p), {}
    yield "nan-before-inf", "mean_squared_error", (nan_late_y, inf_early_p), {}  # sklearn: y_true first
    yield "inf", "r2_score", (y, inf_early_p), {}
    yield "nan-weights", "regression_report", (y, p), {"sample_weight": nan_w}
    yield "all-zero-weights", "mean_absolute_error", (y, p), {"sample_weight": np.zeros(600)}
    yield "zero-weight-sum", "mean_squared_error", (y, p), {"sample_weight": zero_sum}
    yield "outputs", "mean_squared_error", (y2, p2[:, :2]), {}
    yield "outputs-after-nan", "regression_report", (nan_y2, p2[:, :2]), {}
    yield "outputs-after-zero-weights", "r2_score", (y2, p2[:, :2]), {"sample_weight": np.zeros(600)}
    yield "multioutput-str", "explained_variance_score", (y2, p2), {"multioutput": "average"}
    yield "multioutput-len", "root_mean_squared_error", (y2, p2), {"multioutput": [1.0, 2.0]}
    yield "multioutput-one-output", "mean_squared_error", (y, p), {"multioutput": [1.0]}
    yield "max-error-multioutput", "max_error", (y2, p2), {}
    yield "weights-2d", "mean_squared_error", (y, p), {"sample_weight": y2}
    yield "unknown-keyword", "mean_squared_error", (y, p), {"squared": False}
    yield "exact-not-bool", "regression_report", (y, p), {"exact": "yes"}
    yield "exact-after-multioutput", "root_mean_squared_error", (y, p), {"exact": 1, "multioutput": "x"}
    yield "exact-before-length", "mean_squared_error", (y[:-1], p), {"exact": None}
    yield "exact-and-nan", "mean_squared_error", (nan_late_y, p), {"exact": True}


@pytest.mark.parametrize("case", list(_error_cases()), ids=lambda c: c[0])
def test_errors_match_in_memory(case: tuple[str, str, tuple, dict]) -> None:
    _, name, args, kwargs = case
    want = error_of(lambda: getattr(l2loss, name)(*args, **kwargs))

    def chunked(a: Any) -> Any:
        return da.from_array(a, chunks=(128,) + np.shape(a)[1:]) if isinstance(a, np.ndarray) else a

    dargs = [chunked(a) for a in args]
    dkwargs = {k: chunked(v) if k == "sample_weight" else v for k, v in kwargs.items()}
    assert error_of(lambda: getattr(ld, name)(*dargs, **dkwargs)) == want
    assert want[0] is not AssertionError


def test_length_mismatch_found_before_computing() -> None:
    y, p, w = make(500, 0, np.float64, 14)
    dy = da.from_array(y, chunks=100).map_blocks(_poison, dtype=y.dtype)
    dp = da.from_array(p[:-1], chunks=100).map_blocks(_poison, dtype=y.dtype)
    want = error_of(lambda: l2loss.mean_squared_error(y, p[:-1]))
    assert error_of(lambda: ld.mean_squared_error(dy, dp, compute=False)) == want
    dp = da.from_array(p, chunks=100)
    want = error_of(lambda: l2loss.r2_score(y, p, sample_weight=w[:7]))
    assert error_of(lambda: ld.r2_score(dy, dp, sample_weight=w[:7], compute=False)) == want


def test_length_mismatch_with_unknown_chunks_found_at_compute_time() -> None:
    y, p, _ = make(1000, 0, np.float64, 15)
    dy, dp = da.from_array(y, chunks=100), da.from_array(p, chunks=100)
    dy_u, dp_u = dy[dy > 1000.0], dp[dp > 1000.5]  # boolean masks: chunk sizes unknown
    assert np.isnan(dy_u.shape[0])
    want = error_of(lambda: l2loss.mean_squared_error(y[y > 1000.0], p[p > 1000.5]))
    lazy = ld.mean_squared_error(dy_u, dp_u, compute=False)  # same number of blocks: paired, checked later
    assert error_of(lazy.compute) == want
    assert error_of(lambda: ld.mean_squared_error(dy_u, dp_u)) == want
    # Equal lengths but unknown sizes: fine.
    kept = y[y > 1000.0]
    assert_same_bits(ld.mean_squared_error(dy_u, dy_u + 1.5), l2loss.mean_squared_error(kept, kept + 1.5))


def test_blocks_with_all_zero_weights() -> None:
    y, p, w = make(1000, 2, np.float64, 20)
    w[300:] = 0.0  # most blocks carry no weight: fine, as long as one does
    dy, dp, dw = (da.from_array(a, chunks=(100,) + a.shape[1:]) for a in (y, p, w))
    for name in ("mean_squared_error", "r2_score", "regression_report"):
        assert_same_bits(getattr(ld, name)(dy, dp, sample_weight=dw, multioutput="raw_values", split_every=3),
                         getattr(l2loss, name)(y, p, sample_weight=w, multioutput="raw_values"))


def test_empty_inputs() -> None:
    y = np.zeros((0, 2))
    want = error_of(lambda: l2loss.regression_report(y, y))
    assert error_of(lambda: ld.regression_report(da.from_array(y), da.from_array(y))) == want
    dy = da.from_array(np.ones((50, 2)), chunks=(10, 2))
    empty = dy[dy[:, 0] > 1.0]  # unknown chunk sizes, found empty at compute time
    assert error_of(lambda: ld.regression_report(empty, empty)) == want


def test_r2_with_one_sample_warns_like_in_memory() -> None:
    y, p = np.array([1.0]), np.array([2.0])
    with pytest.warns(l2loss.UndefinedMetricWarning, match="less than two samples"):
        want = l2loss.r2_score(y, p)
    with pytest.warns(l2loss.UndefinedMetricWarning, match="less than two samples"):
        got = ld.r2_score(da.from_array(y), da.from_array(p))
    assert_same_bits(got, want)


# ---- a real multi-process cluster ------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this file
    package_root = str(Path(l2loss.__file__).resolve().parents[1])
    env = {"PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p),
           "OMP_NUM_THREADS": "1"}
    try:
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, env=env,
            # any free ports: a fixed dashboard port (8787) fails when another process holds it
            scheduler_port=0, dashboard_address=":0",
            timeout="30s", silence_logs=logging.ERROR,
        ) as cl:
            yield cl
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture
def client(cluster: Any) -> Iterator[Any]:
    with distributed.Client(cluster, set_as_default=False, timeout="30s") as c:
        c.wait_for_workers(2, timeout=30)
        with c.as_current():
            yield c


def test_cluster_bitwise(client: Any) -> None:
    y, p, w = make(20_000, 0, np.float64, 16)
    dy, dp, dw = da.from_array(y, chunks=3001), da.from_array(p, chunks=1777), da.from_array(w, chunks=5000)
    assert_same_bits(ld.mean_squared_error(dy, dp, sample_weight=dw),
                     l2loss.mean_squared_error(y, p, sample_weight=w))
    y2, p2, _ = make(6000, 3, np.float32, 17)
    dy2, dp2 = da.from_array(y2, chunks=(1000, 2)), da.from_array(p2, chunks=(700, 3))
    assert_same_bits(ld.regression_report(dy2, dp2, multioutput="raw_values"),
                     l2loss.regression_report(y2, p2, multioutput="raw_values"))
    future = client.compute(ld.r2_score(dy2, dp2, multioutput="variance_weighted", compute=False))
    assert_same_bits(future.result(timeout=30), l2loss.r2_score(y2, p2, multioutput="variance_weighted"))


def test_cluster_errors(client: Any) -> None:
    y, p, _ = make(5000, 0, np.float64, 18)
    want = error_of(lambda: l2loss.mean_squared_error(y, p[:-3]))
    dy, dp = da.from_array(y, chunks=999), da.from_array(p[:-3], chunks=999)
    assert error_of(lambda: ld.mean_squared_error(dy, dp)) == want
    p_nan = p.copy()
    p_nan[4321] = np.nan
    want = error_of(lambda: l2loss.r2_score(y, p_nan))
    assert want == (ValueError, "Input contains NaN.")
    dy, dp = da.from_array(y, chunks=999), da.from_array(p_nan, chunks=999)
    assert error_of(lambda: ld.r2_score(dy, dp)) == want


def _slow(block: np.ndarray) -> np.ndarray:
    time.sleep(0.15)
    return block


@timing_sensitive()
def test_worker_killed_mid_computation(client: Any) -> None:
    y, p, w = make(40_000, 0, np.float64, 19)
    dy = da.from_array(y, chunks=2000).map_blocks(_slow, dtype=y.dtype)  # 20 blocks x 0.15 s
    dp, dw = da.from_array(p, chunks=2000), da.from_array(w, chunks=2000)
    future = client.compute(ld.regression_report(dy, dp, sample_weight=dw, compute=False))
    deadline = time.monotonic() + 20
    victim = None
    while victim is None and time.monotonic() < deadline:
        busy = [addr for addr, keys in client.processing().items() if keys]
        victim = busy[0] if busy else None
        time.sleep(0.05)
    assert victim is not None, "no worker ever started the tasks"
    pid = client.run(os.getpid, workers=[victim])[victim]
    time.sleep(0.4)  # let a few blocks finish on the victim, so finished work is lost too
    assert not future.done()
    os.kill(pid, signal.SIGKILL)
    got = future.result(timeout=45)
    assert victim not in client.scheduler_info()["workers"]  # the kill happened; Dask recomputed
    assert_same_bits(got, l2loss.regression_report(y, p, sample_weight=w))
    client.wait_for_workers(2, timeout=30)  # the nanny restarts it: leave the cluster whole
