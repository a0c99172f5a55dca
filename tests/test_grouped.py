"""grouped_report / GroupedAccumulator: every group's report has the bits of
regression_report on that group's rows alone (any row order, threads, batching), and
the exact values of independent oracles (fractions.Fraction, sklearn)."""

from __future__ import annotations

import pickle
import warnings
from fractions import Fraction
from typing import Any

import l2loss
import numpy as np
import pytest
from l2loss._grouped import factorize_groups

FIELDS = ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error")


def bits(x: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x, dtype=np.float64)).view(np.int64)


def assert_group_matches_report(
    rep: l2loss.GroupedReport, i: int, y_true: Any, y_pred: Any, mask: np.ndarray, w: Any = None,
    multioutput: Any = "uniform_average",
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", l2loss.UndefinedMetricWarning)
        ref = l2loss.regression_report(
            y_true[mask], y_pred[mask], sample_weight=None if w is None else w[mask], multioutput=multioutput
        )
    for f in FIELDS:
        got = getattr(rep, f)[i]
        assert np.array_equal(bits(got), bits(getattr(ref, f))), (f, i, got, getattr(ref, f))
    assert rep.n_samples[i] == ref.n_samples
    assert bits(rep.weight_sum[i]) == bits(ref.weight_sum)


def data(n: int, k: int | None, dtype: Any = np.float64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (n,) if k is None else (n, k)
    y = rng.normal(size=shape) * 10.0 ** rng.integers(-3, 4, size=shape)
    p = y + rng.normal(size=shape)
    return y.astype(dtype), p.astype(dtype)


@pytest.mark.parametrize("k", [None, 1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_each_group_is_its_own_report_bit_for_bit(k: Any, weighted: bool, dtype: Any, threads: int) -> None:
    n = 2000
    y, p = data(n, k, dtype)
    rng = np.random.default_rng(1)
    # unsorted keys; sizes from 1 row to hundreds (a few keys get a single row)
    g = rng.integers(0, 40, n) ** 2
    g[:5] = [10_001, 10_002, 10_003, 10_003, 10_004]
    w = rng.uniform(0.1, 3.0, n).astype(dtype) if weighted else None
    with pytest.warns(l2loss.UndefinedMetricWarning, match="less than two samples"):
        rep = l2loss.grouped_report(y, p, g, sample_weight=w, num_threads=threads)
    assert rep.keys.tolist() == sorted(set(g.tolist()))
    for i, key in enumerate(rep.keys.tolist()):
        assert_group_matches_report(rep, i, y, p, g == key, w)


@pytest.mark.parametrize("multioutput", ["raw_values", [0.2, 0.3, 0.5]])
def test_multioutput_per_group(multioutput: Any) -> None:
    y, p = data(600, 3)
    g = np.random.default_rng(2).integers(0, 9, 600)
    rep = l2loss.grouped_report(y, p, g, multioutput=multioutput)
    if multioutput == "raw_values":
        assert rep.mse.shape == (9, 3)
        assert set(rep.to_frame().columns) >= {"mse_0", "mse_2", "r2_1", "max_error_2"}
    for i, key in enumerate(rep.keys.tolist()):
        assert_group_matches_report(rep, i, y, p, g == key, multioutput=multioutput)


def test_row_order_threads_and_big_groups_do_not_change_bits() -> None:
    # Two groups above the engine's whole-thread threshold (2**16 rows) among small ones.
    n = 200_000
    y, p = data(n, None)
    rng = np.random.default_rng(3)
    g = np.where(rng.random(n) < 0.9, rng.integers(0, 2, n), rng.integers(2, 500, n))
    ref = l2loss.grouped_report(y, p, g, num_threads=1)
    perm = rng.permutation(n)
    order = np.argsort(g, kind="stable")
    variants = [(y, p, g, 2), (y[perm], p[perm], g[perm], 3), (y[order], p[order], g[order], 7)]
    for yy, pp, gg, threads in variants:
        got = l2loss.grouped_report(yy, pp, gg, num_threads=threads)
        assert np.array_equal(got.keys, ref.keys)
        for f in FIELDS:
            assert np.array_equal(bits(getattr(got, f)), bits(getattr(ref, f))), f
    for key in (0, 1, 7):
        assert_group_matches_report(ref, ref.index_of(key), y, p, g == key)


@pytest.mark.parametrize(
    ("k", "weighted", "dtype", "threads"),
    [
        (None, False, np.float64, 1),
        (None, True, np.float64, 2),
        (3, False, np.float32, 3),
        (2, True, np.float64, 7),
    ],
)
def test_unsorted_keys_in_chunks_are_each_groups_own_report(
    k: Any, weighted: bool, dtype: Any, threads: int
) -> None:
    # Unsorted keys with few groups and enough rows (>= 2 chunks of 2**18) take the
    # chunk-by-chunk strategy: each chunk partitioned by group in cache, the groups' parts
    # merged into their states. Bits: those of a report on each group's rows, and of the
    # same rows sorted (the in-place strategy) or in another order.
    n = 600_001
    y, p = data(n, k, dtype, seed=11)
    rng = np.random.default_rng(12)
    g = rng.integers(0, 23, n) * 7 - 40
    g[rng.random(n) < 0.3] = 5  # one big group beside small ones
    g[:3] = [10_000, 10_001, 10_001]  # a one-row group and a two-row group
    w = rng.uniform(0.0, 3.0, n).astype(dtype) if weighted else None
    with pytest.warns(l2loss.UndefinedMetricWarning, match="less than two samples"):
        rep = l2loss.grouped_report(y, p, g, sample_weight=w, num_threads=threads)
    for i, key in enumerate(rep.keys.tolist()):
        if i % 3 == 0 or key in (5, 10_000, 10_001):
            assert_group_matches_report(rep, i, y, p, g == key, w)
    order = np.argsort(g, kind="stable")
    perm = rng.permutation(n)
    for idx, t in ((order, 1), (perm, 2)):
        with pytest.warns(l2loss.UndefinedMetricWarning):
            other = l2loss.grouped_report(
                y[idx], p[idx], g[idx], sample_weight=None if w is None else w[idx], num_threads=t
            )
        for f in FIELDS:
            assert np.array_equal(bits(getattr(other, f)), bits(getattr(rep, f))), f
    acc = l2loss.GroupedAccumulator()
    acc.update(y, p, g, sample_weight=w)
    with pytest.warns(l2loss.UndefinedMetricWarning):
        streamed = acc.compute()
    for f in FIELDS:
        assert np.array_equal(bits(getattr(streamed, f)), bits(getattr(rep, f))), f


def test_values_are_correctly_rounded_exact_means() -> None:
    """Independent oracle: fractions.Fraction of the per-element terms."""
    y, p = data(300, None)
    g = np.arange(300) % 7
    w = np.random.default_rng(4).uniform(0.5, 2.0, 300)
    rep = l2loss.grouped_report(y, p, g, sample_weight=w)
    for key in range(7):
        m = g == key
        d = p[m] - y[m]
        ww = w[m]
        total_w = sum(Fraction(v) for v in ww)
        mse = sum(Fraction(float(a * float(b * b))) for a, b in zip(ww, d)) / total_w
        mae = sum(Fraction(float(a * abs(b))) for a, b in zip(ww, d)) / total_w
        assert rep.mse[key] == float(mse)
        assert rep.mae[key] == float(mae)
        assert rep.max_error[key] == float(np.max(np.abs(d)))


def test_matches_sklearn_per_group() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    y, p = data(1000, None)
    g = np.random.default_rng(5).integers(0, 5, 1000)
    rep = l2loss.grouped_report(y, p, g)
    for i, key in enumerate(rep.keys.tolist()):
        m = g == key
        assert rep.mse[i] == pytest.approx(sk.mean_squared_error(y[m], p[m]), rel=1e-13)
        assert rep.r2[i] == pytest.approx(sk.r2_score(y[m], p[m]), rel=1e-12)
        assert rep.explained_variance[i] == pytest.approx(sk.explained_variance_score(y[m], p[m]), rel=1e-12)


def test_one_row_groups_give_nan_r2_and_one_warning() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    p = np.array([1.5, 2.0, 2.0, 4.0, 12.0])
    g = np.array([0, 0, 1, 1, 2])
    with pytest.warns(l2loss.UndefinedMetricWarning, match=r"less than two samples \(1 group") as rec:
        rep = l2loss.grouped_report(y, p, g)
    assert len(rec) == 1
    assert np.isnan(rep.r2[2]) and not np.isnan(rep.r2[:2]).any()
    assert rep.mse[2] == 4.0 and rep.max_error[2] == 2.0
    for i in range(3):
        assert_group_matches_report(rep, i, y, p, g == i)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        l2loss.grouped_report(y[:4], p[:4], g[:4])  # no single-row group: no warning


@pytest.mark.parametrize(
    "make_groups",
    [
        lambda k: k,  # int64, small range: bucketed directly
        lambda k: (k * 10**12 - 5).astype(np.int64),  # sparse ints: factorised
        lambda k: k.astype(np.uint8),
        lambda k: k.astype(np.int32) - 3,
        lambda k: np.array([f"series-{v:02d}" for v in k]),
        lambda k: np.array([f"s{v}" for v in k], dtype=object),
        lambda k: k.astype(np.float64) / 4,
        lambda k: k % 2 == 0,
    ],
    ids=["int64", "sparse", "uint8", "int32-negative", "str", "object", "float", "bool"],
)
def test_key_types(make_groups: Any) -> None:
    y, p = data(500, None)
    k = np.random.default_rng(6).integers(0, 12, 500)
    g = make_groups(k)
    rep = l2loss.grouped_report(y, p, g)
    expected = sorted(set(g.tolist()))
    assert rep.keys.tolist() == expected
    for i, key in enumerate(expected):
        assert_group_matches_report(rep, i, y, p, g == key)


def test_dataframe_columns_and_conversions() -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    y, p = data(400, None)
    raw = np.random.default_rng(7).choice(["b", "a", "c"], 400)
    ref = l2loss.grouped_report(y, p, raw)
    for groups in (
        pd.Series(raw, name="series_id"),
        pd.Series(raw, dtype="category"),
        pl.Series("series_id", raw),
        pl.Series(raw).cast(pl.Categorical),
        pa.array(raw),
        pa.chunked_array([raw[:100], raw[100:]]),
    ):
        rep = l2loss.grouped_report(y, p, groups)
        assert [str(v) for v in rep.keys.tolist()] == ["a", "b", "c"]
        for f in FIELDS:
            assert np.array_equal(bits(getattr(rep, f)), bits(getattr(ref, f)))
    rep = l2loss.grouped_report(y, p, pd.Series(raw, name="series_id"))
    frame = rep.to_frame()
    assert list(frame.columns[:3]) == ["series_id", "n_samples", "weight_sum"]
    assert frame["n_samples"].sum() == 400 and frame["series_id"].tolist() == ["a", "b", "c"]
    assert np.array_equal(bits(frame["rmse"].to_numpy()), bits(rep.rmse))
    polars_frame = rep.to_polars()
    assert polars_frame["series_id"].to_list() == ["a", "b", "c"]
    assert np.array_equal(bits(polars_frame["mae"].to_numpy()), bits(rep.mae))
    assert rep.to_dict()["mse"] == rep.mse.tolist()
    one = rep.report("b")
    assert isinstance(one, l2loss.RegressionReport) and one.n_samples == int((raw == "b").sum())
    with pytest.raises(KeyError):
        rep.report("zzz")


@pytest.mark.parametrize(
    "n_groups", [100_000, pytest.param(1_000_000, marks=pytest.mark.slow)], ids=["1e5", "1e6"]
)
def test_many_groups_are_linear_and_exact(n_groups: int) -> None:
    """Many groups of 2 rows (no quadratic cost): counts match np.bincount, a sample of
    groups matches its own report, and MSE matches a float64 NumPy group-by closely."""
    n = 2 * n_groups
    rng = np.random.default_rng(8)
    y, p = rng.normal(size=n), rng.normal(size=n)
    g = rng.permutation(np.arange(n) % n_groups)  # two rows each
    rep = l2loss.grouped_report(y, p, g)
    assert len(rep) == n_groups
    counts = np.bincount(g)
    assert np.array_equal(rep.n_samples, counts)
    sq = np.bincount(g, (p - y) ** 2) / counts
    np.testing.assert_allclose(rep.mse, sq, rtol=1e-15)
    for key in rng.integers(0, n_groups, 20).tolist():
        assert_group_matches_report(rep, key, y, p, g == key)


def test_bad_input() -> None:
    y, p = [1.0, 2.0, 3.0], [1.0, 2.5, 3.0]
    with pytest.raises(ValueError, match="one key per sample"):
        l2loss.grouped_report(y, p, [0, 1])
    with pytest.raises(ValueError, match="1-D"):
        l2loss.grouped_report(y, p, [[0], [1], [1]])
    with pytest.raises(ValueError, match="missing values"):
        l2loss.grouped_report(y, p, [0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="missing values"):
        l2loss.grouped_report(y, p, np.array(["a", None, "b"], dtype=object))
    with pytest.raises(ValueError, match="Input contains NaN"):
        l2loss.grouped_report([1.0, np.nan, 3.0], p, [0, 1, 1])
    with pytest.raises(ValueError, match="num_threads"):
        l2loss.grouped_report(y, p, [0, 1, 1], num_threads=0)
    with pytest.raises(ZeroDivisionError, match="group 1"):
        l2loss.grouped_report(y, p, [0, 1, 1], sample_weight=[1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="at least one non-zero"):
        l2loss.grouped_report(y, p, [0, 1, 1], sample_weight=[0.0, 0.0, 0.0])
    with pytest.raises(l2loss.InvalidParameterError, match="multioutput"):
        l2loss.grouped_report(y, p, [0, 1, 1], multioutput="variance_weighted")


def test_factorize_direct_and_sorted_paths() -> None:
    keys, codes, lo, span = factorize_groups(np.array([5, 3, 5, 9]), 4)
    assert (lo, span) == (3, 7) and codes.dtype == np.int64
    assert keys.tolist() == list(range(3, 10))
    keys, codes, lo, span = factorize_groups(np.array([10**15, -(10**15)]), 2)
    assert keys.tolist() == [-(10**15), 10**15] and codes.tolist() == [1, 0] and lo == 0


# ---- streaming ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_accumulator_any_batching_and_merge_order_equals_one_shot(k: Any, weighted: bool) -> None:
    n = 3000
    y, p = data(n, k, seed=9)
    rng = np.random.default_rng(10)
    g = np.array([f"user{v}" for v in rng.integers(0, 50, n)])
    w = rng.uniform(0.0, 2.0, n) if weighted else None
    ref = l2loss.grouped_report(y, p, g, sample_weight=w, multioutput="raw_values")
    cuts = np.sort(rng.choice(np.arange(1, n), 6, replace=False))
    parts = []
    for lo, hi in zip([0, *cuts], [*cuts, n]):
        acc = l2loss.GroupedAccumulator(num_threads=2)
        acc.update(y[lo:hi], p[lo:hi], g[lo:hi], None if w is None else w[lo:hi])
        parts.append(acc)
    merged = l2loss.GroupedAccumulator()
    for i in rng.permutation(len(parts)).tolist():
        merged.merge(pickle.loads(pickle.dumps(parts[i])))
    restored = l2loss.GroupedAccumulator.from_bytes(merged.to_bytes())
    for acc in (merged, restored):
        got = acc.compute(multioutput="raw_values")
        assert got.keys.tolist() == ref.keys.tolist()
        for f in FIELDS:
            assert np.array_equal(bits(getattr(got, f)), bits(getattr(ref, f))), f
        assert np.array_equal(got.n_samples, ref.n_samples)


def test_accumulator_errors_and_reset() -> None:
    acc = l2loss.GroupedAccumulator()
    with pytest.raises(ValueError, match="at least one update"):
        acc.compute()
    acc.update([1.0, 2.0], [1.0, 2.0], [0, 1])
    with pytest.raises(ValueError, match="output"):
        acc.update([[1.0, 2.0]], [[1.0, 2.0]], [0])
    with pytest.raises(TypeError, match="GroupedAccumulator"):
        acc.merge(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a GroupedAccumulator state"):
        l2loss.GroupedAccumulator.from_bytes(b"garbage")
    blob = acc.to_bytes()
    with pytest.raises(ValueError, match="not a GroupedAccumulator state"):
        l2loss.GroupedAccumulator.from_bytes(blob[:-3])
    with pytest.raises(ValueError, match="Input contains NaN"):
        acc.update([np.nan], [1.0], [0])
    acc.update([5.0], [6.0], ["x"])
    with pytest.raises(TypeError, match="cannot be sorted"):
        acc.compute()
    assert len(acc.reset()) == 0



def test_every_isa_gives_the_same_bits() -> None:
    """Each kernel path (forced through the test hook) gives every group the bits of
    regression_report on that group, and the same bytes as every other path."""
    from l2loss import _core

    y, p = data(3000, 2, np.float32, seed=11)
    g = np.random.default_rng(12).integers(0, 30, 3000)
    w = np.random.default_rng(13).uniform(0.5, 1.5, 3000)
    digests = {}
    previous = _core.get_isa()
    try:
        for name in _core.supported_isas():
            _core.set_isa(name)
            rep = l2loss.grouped_report(y, p, g, sample_weight=w, num_threads=2)
            for key in (0, 13, 29):
                assert_group_matches_report(rep, rep.index_of(key), y, p, g == key, w)
            digests[name] = b"".join(np.ascontiguousarray(getattr(rep, f)).tobytes() for f in FIELDS)
    finally:
        _core.set_isa(previous)
    assert len(digests) >= 1 and len(set(digests.values())) == 1, sorted(digests)
