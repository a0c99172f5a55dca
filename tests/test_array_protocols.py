"""Containers beyond ndarray: torch CPU tensors (zero-copy via DLPack), __array__ objects,
DLPack-only producers. Oracles: torch.nn.functional.mse_loss and NumPy in float64."""

from __future__ import annotations

import l2loss
import numpy as np
import pytest


class ArrayLike:
    """Only the __array__ protocol (like many third-party containers)."""

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)

    def __len__(self) -> int:
        return len(self._a)


def test_array_protocol_objects() -> None:
    y, p = np.arange(10.0), np.arange(10.0) + 2
    assert l2loss.mean_squared_error(ArrayLike(y), ArrayLike(p)) == 4.0
    assert l2loss.regression_report(ArrayLike(y), p).mae == 2.0


def test_torch_tensors_match_torch_mse_loss() -> None:
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        y = torch.randn(10_001, generator=g, dtype=dtype)
        p = torch.randn(10_001, generator=g, dtype=dtype)
        ours = l2loss.mean_squared_error(y, p)
        ref = torch.nn.functional.mse_loss(p.double(), y.double()).item()
        assert ours == pytest.approx(ref, rel=1e-14)
        raw = l2loss.mean_squared_error(y, p, multioutput="raw_values")
        assert isinstance(raw, np.ndarray) and raw.dtype == np.dtype(str(dtype).replace("torch.", ""))
    # 2-D and non-contiguous tensors (a transposed view) are read in place.
    y2 = torch.randn(3, 5000, generator=g, dtype=torch.float64).T
    p2 = y2 + 1.0
    assert not y2.is_contiguous()
    assert l2loss.mean_squared_error(y2, p2) == 1.0
    assert np.shares_memory(np.from_dlpack(y2), y2.numpy())


def test_torch_tensor_requiring_grad_is_read_like_torchmetrics() -> None:
    # sklearn raises RuntimeError (it calls .numpy()); issue #15: l2loss reads the values,
    # as torchmetrics does. More in tests/test_torch_intake.py.
    torch = pytest.importorskip("torch")

    y = torch.ones(4, requires_grad=True)
    assert l2loss.mean_squared_error(y, torch.zeros(4)) == 1.0
    assert y.grad is None and y.requires_grad
