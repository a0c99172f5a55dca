"""RegressionAccumulator: any chunking and any merge tree give the one-shot bits.

Oracle: the one-shot functions (themselves checked against exact oracles and sklearn);
equality is on the bits of every report field.
"""

from __future__ import annotations

import pickle
import warnings

import l2loss
import numpy as np
import pytest
from _support import bits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from l2loss import RegressionAccumulator

FIELDS = ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error")


def report_bits(rep) -> list[bytes]:
    out = [bits(v) for f in FIELDS for v in np.asarray(getattr(rep, f), dtype=np.float64).ravel()]
    return out + [bits(rep.weight_sum), bits(rep.n_samples)]


def make(n: int, k: int, dtype, seed: int):
    rng = np.random.default_rng(seed)
    shape = (n,) if k == 0 else (n, k)
    y = (rng.standard_normal(shape) * 10 + 1e3).astype(dtype)
    p = (y + rng.standard_normal(shape)).astype(dtype)
    w = rng.uniform(-0.2, 2.0, n)
    return y, p, w


def merge_tree(states: list[RegressionAccumulator], order: list[int]) -> RegressionAccumulator:
    """Merge states pairwise in an order chosen by the test (not necessarily adjacent)."""
    pool = list(states)
    for pick in order:
        if len(pool) == 1:
            break
        i = pick % len(pool)
        a = pool.pop(i)
        j = (pick // 7) % len(pool)
        pool[j] = pool[j] + a if pick % 2 else a + pool[j]
    while len(pool) > 1:
        pool[0] = pool[0] + pool.pop()
    return pool[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 3000),
    k=st.sampled_from([0, 1, 3]),
    dtype=st.sampled_from([np.float64, np.float32]),
    weighted=st.booleans(),
    cuts=st.lists(st.integers(0, 3000), max_size=12),
    order=st.lists(st.integers(0, 1000), max_size=12),
    seed=st.integers(0, 2**16),
)
def test_any_chunking_and_merge_tree_gives_one_shot_bits(n, k, dtype, weighted, cuts, order, seed) -> None:
    y, p, w = make(n, k, dtype, seed)
    sw = w if weighted else None
    mo = "raw_values"
    bounds = sorted({0, n, *(c % (n + 1) for c in cuts)})
    states = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        acc = RegressionAccumulator()
        acc.update(y[a:b], p[a:b], None if sw is None else sw[a:b])
        states.append(acc)
    merged = merge_tree(states, order)
    if weighted and np.sum(w) == 0:  # pragma: no cover - measure-zero
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", l2loss.UndefinedMetricWarning)  # n == 1: R^2 is nan
        one = l2loss.regression_report(y, p, sample_weight=sw, multioutput=mo)
        got = merged.compute(mo)
        assert bits(merged.compute().mse) == bits(l2loss.mean_squared_error(y, p, sample_weight=sw))
    assert report_bits(got) == report_bits(one)
    # ... and a sequential stream over the same chunks gives the same bytes.
    seq = RegressionAccumulator()
    for a, b in zip(bounds[:-1], bounds[1:]):
        seq.update(y[a:b], p[a:b], None if sw is None else sw[a:b])
    assert seq.to_bytes() == merged.to_bytes()


def test_weighted_and_unweighted_batches_mix_as_unit_weights() -> None:
    y, p, w = make(1000, 2, np.float64, 1)
    acc = RegressionAccumulator()
    acc.update(y[:400], p[:400])
    acc.update(y[400:], p[400:], w[400:])
    full_w = np.concatenate([np.ones(400), w[400:]])
    one = l2loss.regression_report(y, p, sample_weight=full_w, multioutput="raw_values")
    assert report_bits(acc.compute("raw_values")) == report_bits(one)


def test_float32_raw_values_keep_dtype_and_bits() -> None:
    y, p, _ = make(500, 2, np.float32, 2)
    acc = RegressionAccumulator().update(y[:100], p[:100]).update(y[100:], p[100:])
    got = acc.compute("raw_values")
    one = l2loss.regression_report(y, p, multioutput="raw_values")
    assert got.mse.dtype == np.float32 and report_bits(got) == report_bits(one)


def test_bad_batch_leaves_state_unchanged() -> None:
    y, p, _ = make(100, 0, np.float64, 3)
    acc = RegressionAccumulator().update(y, p)
    before = acc.to_bytes()
    bad = p.copy()
    bad[17] = np.nan
    with pytest.raises(ValueError, match="Input contains NaN"):
        acc.update(y, bad)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        acc.update(y, p[:-1])
    with pytest.raises(ValueError, match="output"):
        acc.update(np.c_[y, y], np.c_[p, p])
    assert acc.to_bytes() == before


def test_errors_at_compute() -> None:
    with pytest.raises(ValueError, match="no data"):
        RegressionAccumulator().compute()
    acc = RegressionAccumulator().update([1.0, 2.0], [1.0, 3.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="at least one non-zero"):
        acc.compute()
    acc.update([1.0, 2.0], [1.0, 3.0], [1.0, -1.0])  # this batch alone sums to zero: allowed
    with pytest.raises(ZeroDivisionError, match="Weights sum to zero"):
        acc.compute()
    acc.update([5.0], [6.0], [2.0])
    assert acc.compute().mse == l2loss.mean_squared_error(
        [1.0, 2.0, 1.0, 2.0, 5.0], [1.0, 3.0, 1.0, 3.0, 6.0], sample_weight=[0, 0, 1, -1, 2]
    )
    with pytest.raises(l2loss.InvalidParameterError):
        acc.compute("variance_weighted")
    with pytest.raises(ValueError, match="Custom weights are useful only"):
        acc.compute([1.0])
    with pytest.raises(TypeError):
        acc.merge(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outputs"):
        RegressionAccumulator(2).merge(RegressionAccumulator().update([1.0], [2.0]))
    with pytest.raises(ValueError, match="n_outputs"):
        RegressionAccumulator(0)


def test_r2_single_sample_warns_like_one_shot() -> None:
    acc = RegressionAccumulator().update([1.0], [2.0])
    with pytest.warns(l2loss.UndefinedMetricWarning):
        assert np.isnan(acc.compute().r2)


def test_keras_aliases_and_reset() -> None:
    acc = RegressionAccumulator(1)
    acc.update_state([1.0, 2.0], [2.0, 2.0])
    assert acc.result().mse == 0.5
    acc.reset_state()
    assert acc.n_samples == 0 and acc.n_outputs == 1
    acc.update([1.0, 2.0], [3.0, 4.0])
    assert acc.report().mse == 4.0


def test_serialisation_round_trip_and_canonical_bytes() -> None:
    y, p, w = make(2000, 3, np.float64, 4)
    a = RegressionAccumulator().update(y, p, w)
    b = RegressionAccumulator.from_bytes(a.to_bytes())
    assert b == a and b.to_bytes() == a.to_bytes()
    c = pickle.loads(pickle.dumps(a))
    assert report_bits(c.compute("raw_values")) == report_bits(a.compute("raw_values"))
    empty = RegressionAccumulator(3)
    assert RegressionAccumulator.from_bytes(empty.to_bytes()).n_outputs == 3
    assert len(a.to_bytes()) < 2048  # compact: sign + trimmed 32-bit digits


def test_corrupted_or_foreign_bytes_raise_value_error() -> None:
    data = RegressionAccumulator().update([1.0, 2.0, 3.0], [1.5, 2.0, 2.0], [1.0, 2.0, 3.0]).to_bytes()
    for i in range(len(data)):  # every single-bit flip is caught
        bad = bytearray(data)
        bad[i] ^= 0x10
        with pytest.raises(ValueError):
            RegressionAccumulator.from_bytes(bytes(bad))
    for cut in range(len(data)):  # every truncation is caught
        with pytest.raises(ValueError):
            RegressionAccumulator.from_bytes(data[:cut])
    for foreign in (b"", b"hello world", pickle.dumps([1, 2, 3]), b"L2RA" + bytes(40)):
        with pytest.raises(ValueError):
            RegressionAccumulator.from_bytes(foreign)
    with pytest.raises(TypeError):
        RegressionAccumulator.from_bytes("text")  # type: ignore[arg-type]
