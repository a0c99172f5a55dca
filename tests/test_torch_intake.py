"""The sklearn-style metrics, regression_report and RegressionAccumulator read the tensors
torch users have (issue #15, item 3): tensors that require grad (as torchmetrics does) and
bfloat16 tensors, without copying them.

Oracle: the same values widened to float64 NumPy arrays (exact for float32 and bfloat16),
bit for bit; and scikit-learn on those float64 arrays, to a tolerance.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import sklearn.metrics as skm
from _support import bits

torch = pytest.importorskip("torch")

import l2loss  # noqa: E402
from l2loss._validation import _untorch  # noqa: E402

METRICS: list[tuple[Callable[..., Any], Callable[..., Any], bool]] = [  # (ours, sklearn's, takes weights)
    (l2loss.mean_squared_error, skm.mean_squared_error, True),
    (l2loss.root_mean_squared_error, skm.root_mean_squared_error, True),
    (l2loss.mean_absolute_error, skm.mean_absolute_error, True),
    (l2loss.r2_score, skm.r2_score, True),
    (l2loss.explained_variance_score, skm.explained_variance_score, True),
    (l2loss.max_error, skm.max_error, False),
    (l2loss.mean_squared_log_error, skm.mean_squared_log_error, True),
    (l2loss.root_mean_squared_log_error, skm.root_mean_squared_log_error, True),
]
IDS = [m[0].__name__ for m in METRICS]


def _tensors(
    dtype: torch.dtype, requires_grad: bool, shape: tuple[int, ...] = (101,)
) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(3)
    # positive values, so that the log metrics are defined
    y = (torch.rand(shape, generator=g) * 10).to(dtype)
    p = (torch.rand(shape, generator=g) * 10).to(dtype)
    w = torch.rand(shape[0], generator=g).to(dtype)
    return tuple(v.requires_grad_(requires_grad) for v in (y, p, w))


def _f64(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


@pytest.mark.parametrize("metric", METRICS, ids=IDS)
@pytest.mark.parametrize(
    ("dtype", "requires_grad"),
    [(torch.float32, True), (torch.float64, True), (torch.bfloat16, False), (torch.bfloat16, True)],
)
def test_every_metric_reads_grad_and_bfloat16_tensors(
    metric: Any, dtype: torch.dtype, requires_grad: bool
) -> None:
    ours, sk, weighted = metric
    y, p, w = _tensors(dtype, requires_grad)
    kwargs_list: list[dict[str, Any]] = [{}]
    if weighted:
        kwargs_list.append({"sample_weight": w})
    for kwargs in kwargs_list:
        got = ours(y, p, **kwargs)
        f64_kwargs = {k: _f64(v) for k, v in kwargs.items()}
        want = ours(_f64(y), _f64(p), **f64_kwargs)
        if ours is l2loss.max_error and dtype != torch.float64:
            # max_error works in sklearn's working dtype, float32 here: |d| is rounded to it.
            want = float(np.float32(want))
        assert type(got) is float and bits(got) == bits(want)
        rel = 1e-6 if ours is l2loss.max_error else 1e-12
        assert got == pytest.approx(sk(_f64(y), _f64(p), **f64_kwargs), rel=rel)
    assert y.grad is None and p.grad is None and y.requires_grad == requires_grad  # nothing recorded


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_two_dimensional_and_raw_values(dtype: torch.dtype) -> None:
    y, p, w = _tensors(dtype, True, shape=(50, 3))
    got = l2loss.mean_squared_error(y, p, sample_weight=w, multioutput="raw_values")
    want = l2loss.mean_squared_error(_f64(y), _f64(p), sample_weight=_f64(w), multioutput="raw_values")
    assert got.dtype == np.float32  # float32 and bfloat16 inputs: float32 raw values, as sklearn's float32
    assert np.array_equal(got, want.astype(np.float32))
    r2 = l2loss.r2_score(y, p, multioutput="variance_weighted")
    assert bits(r2) == bits(l2loss.r2_score(_f64(y), _f64(p), multioutput="variance_weighted"))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_regression_report_and_accumulator(dtype: torch.dtype) -> None:
    y, p, w = _tensors(dtype, True, shape=(200, 2))
    report = l2loss.regression_report(y, p, sample_weight=w)
    want = l2loss.regression_report(_f64(y), _f64(p), sample_weight=_f64(w))
    assert report == want
    acc = l2loss.RegressionAccumulator()
    for lo, hi in ((0, 17), (17, 120), (120, 200)):  # chunks of tensors that require grad
        acc.update(y[lo:hi], p[lo:hi], sample_weight=w[lo:hi])
    assert acc.compute() == want
    sk_mse = skm.mean_squared_error(_f64(y), _f64(p), sample_weight=_f64(w))
    assert sk_mse == pytest.approx(want.mse, rel=1e-12)


def test_intake_does_not_copy() -> None:
    x = torch.randn(1000, requires_grad=True)
    a = np.asarray(_untorch(x))
    assert not a.flags.owndata and a.ctypes.data == x.data_ptr()
    b = torch.randn(1000).bfloat16().requires_grad_()
    v = _untorch(b)
    assert v.dtype.name == "bfloat16" and v.ctypes.data == b.data_ptr() and not v.flags.owndata
    strided = torch.randn(100, 4).bfloat16()[::3, 1:]
    v = _untorch(strided)
    assert v.ctypes.data == strided.data_ptr() and v.strides == tuple(2 * s for s in strided.stride())
    assert np.array_equal(v.astype(np.float64), _f64(strided))
    plain = np.arange(3.0)
    assert _untorch(plain) is plain and _untorch(None) is None and _untorch([1.0]) == [1.0]
