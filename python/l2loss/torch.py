"""PyTorch integration: ``mse_loss`` and ``MSELoss`` backed by l2loss's kernels.

The forward pass on CPU float32/float64 tensors runs the fused value-and-gradient
kernel on the tensors' memory (zero-copy via DLPack): the loss is exact and the
gradient is computed in the same pass and kept for backward, which then only scales it
by ``grad_output``. Other devices or dtypes, broadcasting shapes and ``reduction="none"``
fall back to PyTorch's own implementation, so behaviour never changes -- only speed and
accuracy do. Requires ``torch`` (``pip install l2loss[torch]``).

Examples
--------
>>> import torch, l2loss.torch as lt
>>> x = torch.tensor([2.5, 0.0, 2.0, 8.0], requires_grad=True)
>>> loss = lt.mse_loss(x, torch.tensor([3.0, -0.5, 2.0, 7.0]))
>>> loss.backward(); x.grad
tensor([-0.2500,  0.2500,  0.0000,  0.5000])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ._losses import _value_and_grad

__all__ = ["mse_loss", "MSELoss"]

_NATIVE = (torch.float32, torch.float64)


class _MSEFunction(torch.autograd.Function):
    """Loss and gradient from one l2loss pass; backward scales the saved gradient."""

    @staticmethod
    def forward(ctx: Any, input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
                reduction: str) -> torch.Tensor:
        x = input.detach().reshape(-1)
        t = target.detach().reshape(-1).to(input.dtype)
        w = None if weight is None else weight.detach().reshape(-1)
        value, grad = _value_and_grad(
            np.from_dlpack(t), np.from_dlpack(x), None if w is None else np.from_dlpack(w), reduction, None, None
        )
        ctx.save_for_backward(torch.from_numpy(grad).reshape(input.shape))
        ctx.target_dtype = target.dtype
        return torch.tensor(value, dtype=input.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        (grad,) = ctx.saved_tensors
        grad_input = grad if bool(grad_output == 1) else grad * grad_output
        grad_target = None
        if ctx.needs_input_grad[1]:
            grad_target = (-grad_input).to(ctx.target_dtype)
        return grad_input, grad_target, None, None


def _use_kernels(input: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None, reduction: str) -> bool:
    tensors = [input, target] + ([weight] if weight is not None else [])
    return (
        reduction in ("mean", "sum")
        and all(t.device.type == "cpu" and t.dtype in _NATIVE for t in tensors)
        and input.shape == target.shape
        and input.dtype == target.dtype
        and (weight is None or (weight.shape == input.shape and weight.dtype == input.dtype))
        and input.numel() > 0
        and not (weight is not None and weight.requires_grad)  # d/dweight: let torch handle it
    )


def mse_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean",
             weight: torch.Tensor | None = None) -> torch.Tensor:
    """Drop-in for :func:`torch.nn.functional.mse_loss` (same arguments and results)."""
    if _use_kernels(input, target, weight, reduction):
        return _MSEFunction.apply(input, target, weight, reduction)
    return F.mse_loss(input, target, reduction=reduction, weight=weight)


class MSELoss(torch.nn.Module):
    """Drop-in for :class:`torch.nn.MSELoss` backed by :func:`l2loss.torch.mse_loss`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mse_loss(input, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
