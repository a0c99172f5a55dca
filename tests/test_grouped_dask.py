"""l2loss.dask.grouped_report: per-block exact group states merged in Dask's tree give
exactly the bits of the in-memory grouped_report, whatever the chunking and the tree."""

from __future__ import annotations

from typing import Any

import l2loss
import numpy as np
import pytest

da = pytest.importorskip("dask.array")
ld = pytest.importorskip("l2loss.dask")

FIELDS = ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error")


def assert_same(got: Any, want: Any) -> None:
    assert got.keys.tolist() == want.keys.tolist()
    assert np.array_equal(got.n_samples, want.n_samples)
    for f in (*FIELDS, "weight_sum"):
        a, b = np.asarray(getattr(got, f), np.float64), np.asarray(getattr(want, f), np.float64)
        assert np.array_equal(a.view(np.int64), b.view(np.int64)), f


@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("split_every", [2, 5])
def test_any_chunking_any_tree_gives_in_memory_bits(k: Any, weighted: bool, split_every: int) -> None:
    rng = np.random.default_rng(0)
    n = 4000
    shape = (n,) if k is None else (n, k)
    y = rng.normal(size=shape) * 1e3
    p = y + rng.normal(size=shape)
    g = rng.integers(0, 60, n) * 7 - 100
    w = rng.uniform(0.0, 2.0, n) if weighted else None
    want = l2loss.grouped_report(y, p, g, sample_weight=w, multioutput="raw_values")
    chunks_y = (300,) if k is None else (300, 1)
    got = ld.grouped_report(
        da.from_array(y, chunks=chunks_y), da.from_array(p, chunks=777), da.from_array(g, chunks=1000),
        sample_weight=None if w is None else da.from_array(w, chunks=450),
        multioutput="raw_values", split_every=split_every,
    )
    assert_same(got, want)


def test_dataframe_series_string_keys_and_lazy() -> None:
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    n = 3000
    frame = pd.DataFrame({"y": rng.normal(size=n), "p": rng.normal(size=n), "store": rng.integers(0, 25, n)})
    ddf = dd.from_pandas(frame, npartitions=5)
    want = l2loss.grouped_report(frame["y"], frame["p"], frame["store"])
    got = ld.grouped_report(ddf["y"], ddf["p"], ddf["store"])
    assert_same(got, want)
    assert got.key_name == "store" and got.to_frame().columns[0] == "store"
    keys = np.array([f"k{v}" for v in rng.integers(0, 9, n)], dtype=object)
    dy = da.from_array(frame["y"].to_numpy(), chunks=700)
    lazy = ld.grouped_report(dy, frame["p"].to_numpy(), da.from_array(keys, chunks=700), compute=False)
    assert_same(lazy.compute(), l2loss.grouped_report(frame["y"], frame["p"], keys))


def test_numpy_inputs_and_errors() -> None:
    y, p, g = np.arange(6.0), np.arange(6.0) + 1, np.array([0, 1] * 3)
    assert_same(ld.grouped_report(y, p, g), l2loss.grouped_report(y, p, g))
    with pytest.raises(ValueError, match="one key per sample"):
        ld.grouped_report(da.from_array(y, chunks=2), p, np.array([0, 1]))
    with pytest.raises(ValueError, match="Input contains NaN"):
        dy = da.from_array(np.array([1.0, np.nan, 2.0, 3.0]), chunks=2)
        ld.grouped_report(dy, np.ones(4), np.zeros(4, int))
