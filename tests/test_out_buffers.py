"""out= buffers: validated completely before a single element is written (wrong dtype,
shape, order, read-only, overlapping inputs or weights), and any valid layout gets the
same values.
"""

from __future__ import annotations

import copy
from typing import Any

import l2loss
import numpy as np
import pytest
from _support import ISAS
from l2loss import _core

skm = pytest.importorskip("sklearn.metrics")




# ---- out= buffers: validated completely before a single element is written ---------------------

SENTINEL = -12345.5


def sentinel_like(shape, dtype=np.float64, order="C") -> np.ndarray:
    return np.full(shape, SENTINEL, dtype=dtype, order=order)


def _grad_failures() -> dict[str, tuple[tuple, dict, Any]]:
    y, p = np.arange(6.0), np.arange(6.0) + 0.5
    y2, p2 = np.arange(12.0).reshape(6, 2), np.arange(12.0).reshape(6, 2) + 0.5
    y3, p3 = np.arange(24.0).reshape(2, 3, 4), np.arange(24.0).reshape(2, 3, 4) + 0.5
    ro = sentinel_like(6)
    ro.flags.writeable = False
    return {
        "dtype float32": ((y, p), {}, sentinel_like(6, np.float32)),
        "dtype int64": ((y, p), {}, np.full(6, 7, dtype=np.int64)),
        "dtype float64 for float32 inputs": (
            (y.astype(np.float32), p.astype(np.float32)),
            {},
            sentinel_like(6),
        ),
        "dtype byteswapped": ((y, p), {}, sentinel_like(6, np.dtype(">f8"))),
        "shape longer": ((y, p), {}, sentinel_like(7)),
        "shape (n,1) for (n,)": ((y, p), {}, sentinel_like((6, 1))),
        "shape transposed": ((y2, p2), {}, sentinel_like((2, 6))),
        "shape 0-d": ((y, p), {}, np.array(SENTINEL)),
        "order: 3-D F-order out": ((y3, p3), {}, sentinel_like((2, 3, 4), order="F")),
        "read-only": ((y, p), {}, ro),
        "overlaps y_pred": ((y, p), {}, p),
        "overlaps y_true": ((y, p), {}, y),
        "list": ((y, p), {}, [0.0] * 6),
        "bad reduction": ((y, p), {"reduction": "avg"}, sentinel_like(6)),
        "bad weights shape": ((y, p), {"sample_weight": np.ones(5)}, sentinel_like(6)),
        "bad weights dtype": ((y, p), {"sample_weight": np.array(["a"] * 6)}, sentinel_like(6)),
        "bad num_threads": ((y, p), {"num_threads": 0}, sentinel_like(6)),
        "y shapes differ": ((y, p[:5]), {}, sentinel_like(6)),
        "complex y": ((y.astype(complex), p), {}, sentinel_like(6)),
    }


@pytest.mark.parametrize(
    "fn", [l2loss.mse_grad, l2loss.mse_value_and_grad], ids=["mse_grad", "mse_value_and_grad"]
)
@pytest.mark.parametrize("case", list(_grad_failures()))
def test_grad_out_failures_leave_out_untouched(fn, case: str) -> None:
    args, kwargs, out = _grad_failures()[case]
    before = out.copy() if isinstance(out, np.ndarray) else list(out)
    inputs_before = [a.copy() for a in args]
    with pytest.raises((ValueError, TypeError)):
        fn(*args, out=out, **kwargs)
    if isinstance(out, np.ndarray):
        assert out.tobytes() == before.tobytes(), "out was partially written by a failing call"
    else:
        assert out == before
    for a, b in zip(args, inputs_before):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("order", ["C", "F", "sliced", "negative"])
@pytest.mark.parametrize("shape", [(1000,), (333, 3)])
def test_grad_out_any_valid_layout_gets_the_same_values(order: str, shape) -> None:
    rng = np.random.default_rng(5)
    y, p, w = rng.standard_normal(shape), rng.standard_normal(shape), rng.uniform(0, 2, shape[0])
    ref_loss, ref = l2loss.mse_value_and_grad(y, p, sample_weight=w)
    if order == "sliced":
        out = sentinel_like(tuple(2 * s for s in shape))[tuple(slice(None, None, 2) for _ in shape)]
    elif order == "negative":
        out = sentinel_like(shape)[tuple(slice(None, None, -1) for _ in shape)]
    else:
        out = sentinel_like(shape, order=order)
    loss, got = l2loss.mse_value_and_grad(y, p, sample_weight=w, out=out)
    assert got is out and loss == ref_loss
    assert np.array_equal(out, ref)


def test_grad_out_overlapping_weights_is_rejected() -> None:
    """Regression (found by this suite, fixed in 5b1c776): out= overlapping sample_weight was
    accepted and the gradient written while the weights were still being read."""
    n = 100_000
    buf = np.ones(n + 1)
    y, p = np.zeros(n), np.arange(n, dtype=np.float64)
    expected = l2loss.mse_grad(y, p, sample_weight=np.ones(n), reduction="sum")
    before = buf.copy()
    try:
        got = l2loss.mse_grad(y, p, sample_weight=buf[:n], reduction="sum", out=buf[1:])
    except ValueError:
        assert buf.tobytes() == before.tobytes()  # and nothing was written
        return
    assert np.array_equal(got, expected), "overlapping out= silently produced a wrong gradient"


def _unaligned(a: np.ndarray, writable: bool = False) -> np.ndarray:
    raw = bytearray(1 + a.nbytes) if writable else bytes(1) + a.tobytes()
    v = np.frombuffer(raw, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    if writable:
        v[...] = a
    assert not v.flags.aligned
    return v


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unaligned_buffers_on_every_isa(isa: str, dtype) -> None:
    """Inputs, weights and out= at odd addresses give the aligned results on every kernel.

    Under tests/sanitize.sh this is also the reproducer of a UBSan finding (found by this
    suite, fixed in caa005e + a65e834): the scalar kernel dereferenced misaligned double /
    float pointers in V::load and V::store_as (undefined behaviour; strict-alignment CPUs
    fault).
    """
    rng = np.random.default_rng(1)
    y = rng.standard_normal(10_001).astype(dtype)
    p = rng.standard_normal(10_001).astype(dtype)
    w = rng.uniform(0, 2, 10_001).astype(dtype)
    y2, p2 = y[:10_000].reshape(5000, 2), p[:10_000].reshape(5000, 2)
    previous = _core.get_isa()
    _core.set_isa(isa)
    try:
        ref = (
            l2loss.regression_report(y, p, sample_weight=w),
            l2loss.regression_report(y2, p2),
            l2loss.mse_value_and_grad(y, p, sample_weight=w),
        )
        yu, pu, wu = _unaligned(y), _unaligned(p), _unaligned(w)
        got = (
            l2loss.regression_report(yu, pu, sample_weight=wu),
            l2loss.regression_report(_unaligned(y2), _unaligned(p2)),
            l2loss.mse_value_and_grad(
                yu, pu, sample_weight=wu, out=_unaligned(np.zeros_like(p), writable=True)
            ),
        )
    finally:
        _core.set_isa(previous)
    assert got[0] == ref[0] and got[1] == ref[1]
    assert got[2][0] == ref[2][0] and np.array_equal(got[2][1], ref[2][1])


def test_l2_penalty_out_failures_leave_out_untouched() -> None:
    theta = np.array([1.0, -2.0, 3.0])
    ro = sentinel_like(3)
    ro.flags.writeable = False
    for out in (sentinel_like(4), sentinel_like((3, 1)), ro, np.full(3, 7, dtype=np.int64), [0.0] * 3):
        before = copy.deepcopy(out) if isinstance(out, list) else out.copy()
        with pytest.raises((ValueError, TypeError)):
            l2loss.l2_penalty(theta, 0.25, out=out)
        assert (out == before) if isinstance(out, list) else out.tobytes() == before.tobytes()
    out = sentinel_like(3)
    for bad_alpha in ("x", None):
        with pytest.raises((ValueError, TypeError)):
            l2loss.l2_penalty(theta, bad_alpha, out=out)
        assert np.all(out == SENTINEL)
    penalty, grad = l2loss.l2_penalty(theta, 0.25, out=out)
    assert grad is out and penalty == 3.5 and np.array_equal(out, [0.5, -1.0, 1.5])


def test_l2_penalty_out_aliasing_params() -> None:
    """Regression (found by this suite, fixed in 5b1c776): with out=params the penalty was computed
    from the already overwritten params (0.875 instead of 3.5)."""
    theta = np.array([1.0, -2.0, 3.0])
    try:
        penalty, grad = l2loss.l2_penalty(theta, 0.25, out=theta)
    except ValueError:
        return
    assert penalty == 3.5 and np.array_equal(grad, [0.5, -1.0, 1.5])


def test_l2_penalty_out_wrong_float_dtype_is_rejected() -> None:
    """Regression (found by this suite, fixed in 5b1c776): a float32 out= for float64 params was
    silently narrowed."""
    theta = np.array([1.0 + 2**-40, -2.0, 3.0])
    out = sentinel_like(3, np.float32)
    with pytest.raises(TypeError):
        l2loss.l2_penalty(theta, 0.25, out=out)
    assert np.all(out == np.float32(SENTINEL))
