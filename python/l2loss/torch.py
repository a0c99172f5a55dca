"""PyTorch integration: ``mse_loss`` and ``MSELoss`` backed by l2loss's exact kernels.

Drop-ins for :func:`torch.nn.functional.mse_loss` and :class:`torch.nn.MSELoss`: the same
arguments, reductions, broadcasting (with torch's warning), result dtypes, NaN propagation
and errors. What changes is accuracy: on CPU floating tensors the "mean" and "sum"
reductions are the exact sum of the element terms, rounded once (torch sums in the input
precision, blocked).

How the paths fit together:

- **eager, gradients needed** -- the loss is the kernel's exact value. Below 2**16
  elements the gradient is torch's own (``mse_loss_backward``'s bits; for the plain
  ``loss.backward()`` of contiguous float32/float64 tensors the engine writes it during the
  forward, so the backward only hands it over), and any other backward is torch's
  ``mse_loss_backward`` itself, which is differentiable, so ``create_graph=True``, Hessians,
  Hessian-vector products, gradient penalties and MAML-style second-order updates work;
  from 2**16 elements the kernel
  writes the gradient in the same pass as the loss (the inputs are read once, not twice)
  and the backward only scales it by ``grad_output`` -- unless ``create_graph=True``, when
  it is rebuilt from torch operations on the saved inputs (the gradient of MSE is linear
  in them) so that it is differentiable too;
- **torch.compile** -- the loss is the custom operator ``torch.ops.l2loss.mse_loss``
  (``torch.library.custom_op`` with a fake implementation and a differentiable backward),
  which Dynamo, AOTAutograd and Inductor treat as an opaque call: the compiled loss has the
  bits of the eager one. On torch < 2.4 (no ``custom_op``) compiled code uses
  ``torch.nn.functional.mse_loss``;
- **TorchScript** -- ``torch.jit.script(MSELoss())`` calls the same operator;
- everything else (other devices, integer or complex dtypes, ``reduction="none"``, weights
  that require grad, tensor subclasses, ``torch.func`` transforms) is torch's own
  implementation, unchanged.

Requires ``torch`` (``pip install l2loss[torch]``); tested with torch 2.13.

Examples
--------
>>> import torch, l2loss.torch as lt
>>> x = torch.tensor([2.5, 0.0, 2.0, 8.0], requires_grad=True)
>>> loss = lt.mse_loss(x, torch.tensor([3.0, -0.5, 2.0, 7.0]))
>>> loss.backward(); x.grad
tensor([-0.2500,  0.2500,  0.0000,  0.5000])
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import _reduction as _Reduction
from torch.overrides import has_torch_function_variadic

from . import _core
from ._losses import _exact_total

try:  # NumPy has no bfloat16: ml_dtypes' is the one the engine reads natively
    from ml_dtypes import bfloat16 as _np_bfloat16
except ImportError:  # pragma: no cover - ml_dtypes is a test dependency
    _np_bfloat16 = None

__all__ = ["mse_loss", "MSELoss"]

_KERNEL_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_NARROW = (torch.float16, torch.bfloat16)
_F32, _F64 = torch.float32, torch.float64
_MEAN, _SUM = 1, 2  # torch.nn._reduction.get_enum's codes
_SUM_SQ, _ACC_SQ = _core.SUM_SQ, _core.ACC_SQ
_HAVE_CUSTOM_OP = hasattr(torch.library, "custom_op")  # torch >= 2.4
_is_compiling = getattr(torch.compiler, "is_compiling", None) or torch._dynamo.is_compiling  # 2.3+ / older
_CPU = torch.device("cpu")
_STRIDED = torch.strided
# From this many elements the gradient is written by the forward pass itself (the inputs
# are read once, not twice); below it, per-call overhead dominates and the small-call
# path plus a torch-op gradient in backward is cheaper.
_FUSED_MIN = 1 << 16
_mse_fast = _core.mse_fast
_torch_mse = _core.torch_mse  # by address: contiguous float32/float64 CPU tensors only
_empty_like = torch.empty_like
_scalar_tensor = torch.scalar_tensor
_is_wrapped = torch._C._functorch.is_functorch_wrapped_tensor  # torch.func's (vmap, grad) tensors
# torch's gradient of mse_loss, called as torch's autograd calls it (the bare operator
# skips a Python frame); differentiable itself.
_mse_backward = torch.ops.aten.mse_loss_backward.default
_mse_backward = getattr(_mse_backward, "_op", _mse_backward)


def _numpy(t: Tensor) -> np.ndarray:
    """A NumPy view of a CPU tensor (bfloat16 reinterpreted as ml_dtypes.bfloat16); no copy."""
    if t.dtype == torch.bfloat16:
        if _np_bfloat16 is None:
            return t.detach().float().numpy()  # exact widening, a copy
        return t.detach().view(torch.int16).numpy().view(_np_bfloat16)
    return t.numpy(force=True)  # detaches; for CPU tensors of real dtype a view


def _kernel_eligible(*tensors: Tensor) -> bool:
    """CPU strided float16/32/64/bfloat16 tensors (what the kernel reads in place)."""
    for t in tensors:
        if t.dtype not in _KERNEL_DTYPES or t.device != _CPU or t.layout != _STRIDED:
            return False
    return True


def _result_dtype(input: Tensor, target: Tensor, weight: Tensor | None) -> torch.dtype:
    dtype = input.dtype if target.dtype == input.dtype else torch.promote_types(input.dtype, target.dtype)
    return dtype if weight is None else torch.promote_types(dtype, weight.dtype)


def _kernel(input: Tensor, target: Tensor, weight: Tensor | None, reduction: int,
            fuse_grad: bool) -> tuple[float, Tensor | None, float]:
    """The exact loss (a Python float), the gradient scale and, for large inputs when
    ``fuse_grad``, the gradient w.r.t. ``input`` written by the same pass.

    ``input``, ``target`` and ``weight`` have one shape (broadcast already). ``scale`` is
    2 ("sum") or 2 / (element count, or exact sum of the weights) ("mean"); the fused
    gradient is ``fl(scale * fl(w * (input - target)))`` element by element, computed in
    float64 and rounded once to the promoted dtype (float32 for 16-bit inputs).
    """
    xa, ta = _numpy(input), _numpy(target)
    if xa.dtype != ta.dtype and (xa.dtype.itemsize == 2 or ta.dtype.itemsize == 2):
        xa, ta = xa.astype(np.float32), ta.astype(np.float32)  # 16-bit floats are read in like pairs
    wa = None
    if weight is not None:  # one weight per element: every element its own row
        wa = _numpy(weight)
        if wa.dtype.itemsize == 2:
            wa = wa.astype(np.float32)
        wa, xa, ta = wa.reshape(-1), xa.reshape(-1), ta.reshape(-1)
    elif xa.ndim != 1 and xa.ndim != 2:  # 0-d, or N-d: flattened (a view where the layout allows)
        xa, ta = xa.reshape(-1), ta.reshape(-1)
    n = xa.size
    if reduction == _SUM:
        scale = 2.0
    elif wa is None:
        scale = 2.0 / n if n else float("nan")
    else:
        total_w = _exact_total(wa) if n else 0.0
        scale = 2.0 / total_w if total_w != 0.0 else float("nan")
    if n == 0:
        return (float("nan") if reduction == _MEAN else 0.0), None, scale
    if wa is None and reduction == _MEAN and xa.ndim == 1 and n < _FUSED_MIN:
        value = _mse_fast(ta, xa, 0)  # the small-call path (None if a term is not finite)
        if value is not None:
            return value, None, scale
    grad = out = None
    if fuse_grad and n >= _FUSED_MIN:
        gdtype = _result_dtype(input, target, weight)
        grad = torch.empty(xa.shape, dtype=torch.float32 if gdtype in _NARROW else gdtype)
        out = grad.numpy()
    r = _core.reduce(ta, xa, wa, sums=_SUM_SQ, num_threads=0, grad_out=out, grad_scale=scale)
    if reduction == _SUM:
        value = r.grand_total(_ACC_SQ)
    elif wa is None:
        value = r.grand_mean(_ACC_SQ)
    else:  # sum(w*se) / sum(w), unguarded like torch's (0/0 -> nan, x/0 -> +-inf)
        value = r.grand_mean(_ACC_SQ) if r.weight_sum() != 0.0 else _divide(r.grand_total(_ACC_SQ), 0.0)
    if grad is not None and grad.shape != input.shape:
        grad = grad.view(input.shape)
    return value, grad, scale


def _loss_tensor(value: float, dtype: torch.dtype) -> Tensor:
    """The 0-d result: the float64 value rounded to ``dtype`` (to +-inf beyond its range,
    as torch's own float32/float16 sums overflow)."""
    try:
        return _scalar_tensor(value, dtype=dtype)
    except RuntimeError:  # "value cannot be converted to type float without overflow"
        return _scalar_tensor(value, dtype=torch.float64).to(dtype)


def _divide(a: float, b: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


def _torch_grad(input: Tensor, target: Tensor, weight: Tensor | None, scale: float,
                grad_output: Tensor) -> Tensor:
    """``scale * (input - target) [* weight] * grad_output`` from torch operations.

    torch's own formula and rounding order (``mse_loss_backward``), so the gradient has
    torch's bits; and differentiable: under ``create_graph=True`` every operand carries
    its graph (Hessians, double backward).
    """
    g = torch.sub(input, target)
    if weight is not None:
        g = g * weight
    g = g.mul_(scale) if not g.requires_grad else g * scale
    return g if not grad_output.requires_grad and grad_output.item() == 1.0 else g * grad_output


class _MSEFunction(torch.autograd.Function):
    """The general case (weights, mixed or 16-bit dtypes, broadcast operands): the exact
    loss; the gradient from the kernel's pass (large inputs) or from torch operations in
    backward (small inputs, or a backward that must be differentiable)."""

    @staticmethod
    def forward(ctx: Any, input: Tensor, target: Tensor, weight: Tensor | None, reduction: int,
                dtype: torch.dtype) -> Tensor:
        value, grad, scale = _kernel(input, target, weight, reduction, True)
        ctx.save_for_backward(input, target, weight)
        ctx.grad, ctx.scale = grad, scale
        return _loss_tensor(value, dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Any, ...]:
        input, target, weight = ctx.saved_tensors
        g = ctx.grad
        ctx.grad = None  # freed now: a second backward (retain_graph=True) recomputes it
        if g is None or torch.is_grad_enabled():  # torch.is_grad_enabled(): create_graph=True
            g = _torch_grad(input, target, weight, ctx.scale, grad_output)
        elif grad_output.item() != 1.0:
            g = g * grad_output
        grad_input = grad_target = None
        if ctx.needs_input_grad[0]:
            grad_input = g if g.dtype == input.dtype else g.to(input.dtype)
        if ctx.needs_input_grad[1]:
            grad_target = (-g).to(target.dtype)
        return grad_input, grad_target, None, None, None


class _PlainMSEFunction(torch.autograd.Function):
    """The training call -- same-dtype float32/float64 CPU tensors, no weights -- with the
    fewest steps. Small contiguous inputs: the forward hands the two tensors' addresses to
    the engine, which returns the exact loss and, in the same call, writes torch's own
    gradient (``mse_loss_backward``'s formula and rounding for ``grad_output == 1``), so the
    usual ``loss.backward()`` only hands it over; any other backward (another
    ``grad_output``, the target's gradient, ``create_graph=True``, a second backward) is
    torch's ``mse_loss_backward`` itself (its bits, and differentiable). Large inputs get
    the gradient from the kernel's pass, as in :class:`_MSEFunction`."""

    @staticmethod
    def forward(ctx: Any, input: Tensor, target: Tensor, reduction: int, dtype: torch.dtype) -> Tensor:
        ctx.save_for_backward(input, target)
        ctx.reduction = reduction
        n = input.numel()  # (ctx.torch_grad and ctx.grad default to None: class attributes below)
        if n < _FUSED_MIN and input.is_contiguous() and target.is_contiguous():
            grad = _empty_like(input)
            value = _torch_mse(input.data_ptr(), target.data_ptr(), grad.data_ptr(), n, dtype is _F64,
                               reduction == _SUM)  # None: empty, or a term is not finite
            if value is not None:
                ctx.torch_grad = grad
                try:
                    return _scalar_tensor(value, dtype=dtype)
                except RuntimeError:  # beyond float32's range: +-inf, as _loss_tensor rounds
                    return _loss_tensor(value, dtype)
        value, ctx.grad, _ = _kernel(input, target, None, reduction, True)
        return _loss_tensor(value, dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Any, ...]:
        g = ctx.torch_grad
        if g is not None:  # torch's gradient for grad_output == 1, written by the forward
            ctx.torch_grad = None  # handed over once: a second backward recomputes it
            if not (torch.is_grad_enabled() or ctx.needs_input_grad[1]) and grad_output.item() == 1.0:
                ctx.saved_tensors  # noqa: B018 - torch's error if an input was modified in place since
                return g, None, None, None  # (torch.is_grad_enabled(): create_graph=True)
        input, target = ctx.saved_tensors
        g = ctx.grad
        ctx.grad = None  # freed now: a second backward (retain_graph=True) recomputes it
        need_input, need_target = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if g is not None and not torch.is_grad_enabled():  # torch.is_grad_enabled(): create_graph=True
            if grad_output.item() != 1.0:
                g = g * grad_output
            return (g if need_input else None), (-g if need_target else None), None, None
        return (
            _mse_backward(grad_output, input, target, ctx.reduction) if need_input else None,
            _mse_backward(grad_output, target, input, ctx.reduction) if need_target else None,
            None,
            None,
        )


# Function.apply without its Python layer (argument binding and the unwrapping of dead
# torch.func wrappers, ~2 us of a ~30 us training step): valid when no torch.func transform
# is active and the inputs are plain tensors, which mse_loss checks first.
_plain_apply = super(torch.autograd.Function, _PlainMSEFunction).apply
_functorch_active = torch._C._are_functorch_transforms_active
# The autograd engine runs a Python node through its class's ``apply``, which looks up
# ``backward`` / ``vjp`` and the ``boxed_grads_call`` option on every call (~1 us of a
# small training step); _PlainMSEFunction has neither vjp nor boxed grads, so its node can
# call backward directly. (If torch stops calling ``apply``, this is merely unused.)
if callable(getattr(torch.autograd.function.BackwardCFunction, "apply", None)):
    _PlainMSEFunction._backward_cls.apply = _PlainMSEFunction.backward  # type: ignore[attr-defined]
# The gradients a forward may leave for its backward: none unless it sets them.
_PlainMSEFunction._backward_cls.torch_grad = None  # type: ignore[attr-defined]
_PlainMSEFunction._backward_cls.grad = None  # type: ignore[attr-defined]


# ---- torch.compile / TorchScript: a custom operator -----------------------------------------


def _op_impl(input: Tensor, target: Tensor, weight: Optional[Tensor], reduction: str) -> Tensor:  # noqa: UP045
    """The operator's CPU kernel: ``input``, ``target`` (and ``weight``) broadcast already."""
    enum = _Reduction.get_enum(reduction)
    if enum not in (_MEAN, _SUM):
        raise ValueError(f"l2loss::mse_loss supports reduction 'mean' or 'sum', got {reduction!r}")
    dtype = _result_dtype(input, target, weight)
    if input.shape != target.shape:
        input, target = torch.broadcast_tensors(input, target)
    if not _kernel_eligible(input, target, *(() if weight is None else (weight,))):
        return _torch_loss(input, target, weight, enum)
    value, _, _ = _kernel(input, target, weight, enum, False)
    return _loss_tensor(value, dtype)


def _op_fake(input: Tensor, target: Tensor, weight: Optional[Tensor], reduction: str) -> Tensor:  # noqa: UP045
    return input.new_empty((), dtype=_result_dtype(input, target, weight))


def _op_setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
    input, target, weight, reduction = inputs
    ctx.save_for_backward(input, target, weight)
    ctx.reduction = reduction


def _op_backward(ctx: Any, grad_output: Tensor) -> tuple[Any, ...]:
    input, target, weight = ctx.saved_tensors
    shape = torch.broadcast_shapes(input.shape, target.shape)
    if ctx.reduction == "sum":
        scale_t: Any = 2.0
    elif weight is None:
        scale_t = 2.0 / max(1, int(np.prod(shape)))
    else:
        scale_t = 2.0 / weight.to(torch.float64).sum()
    d = input.to(torch.float64) - target.to(torch.float64)
    if weight is not None:
        d = weight.to(torch.float64) * d
    g = d * (grad_output.to(torch.float64) * scale_t)
    grad_input = grad_target = None
    if ctx.needs_input_grad[0]:
        grad_input = g.sum_to_size(input.shape).to(input.dtype)
    if ctx.needs_input_grad[1]:
        grad_target = (-g).sum_to_size(target.shape).to(target.dtype)
    return grad_input, grad_target, None, None


if _HAVE_CUSTOM_OP:
    _mse_op = torch.library.custom_op(
        "l2loss::mse_loss", mutates_args=(),
        schema="(Tensor input, Tensor target, Tensor? weight, str reduction) -> Tensor",
    )(_op_impl)
    _mse_op.register_fake(_op_fake)
    _mse_op.register_autograd(_op_backward, setup_context=_op_setup_context)


def _torch_loss(input: Tensor, target: Tensor, weight: Tensor | None, enum: int) -> Tensor:
    """torch's own computation (operands broadcast already)."""
    if weight is None:
        return torch._C._nn.mse_loss(input, target, enum)  # type: ignore[arg-type]  # an enum, as F.mse_loss passes
    weighted = torch.pow(input - target, 2) * weight
    if enum == 0:
        return weighted
    return torch.sum(weighted) if enum == _SUM else torch.sum(weighted) / torch.sum(weight)


# ---- public API ------------------------------------------------------------------------------


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """Mean squared error with exact sums: a drop-in for :func:`torch.nn.functional.mse_loss`.

    The same arguments, broadcasting (with torch's ``UserWarning`` when the sizes differ),
    reductions, result dtype, NaN propagation and errors as torch's function. On CPU
    float16/bfloat16/float32/float64 tensors the "mean" and "sum" reductions are computed
    by l2loss's kernel: the exact sum of the element terms ``fl(w * fl((x - y)**2))``
    (widened to float64), the mean correctly rounded from it, then rounded to the result
    dtype. The gradient comes from the same pass and is itself differentiable
    (``create_graph=True``, :func:`torch.autograd.functional.hessian`, gradient penalties).
    Other cases run torch's own implementation.

    Parameters
    ----------
    input : torch.Tensor
        Predictions.
    target : torch.Tensor
        Targets, broadcastable with ``input``.
    size_average, reduce : bool, optional
        Deprecated (as in torch); when set they override ``reduction``, with torch's warning.
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean": sum over all elements divided by their count (or by ``weight.sum()``);
        "sum": the sum; "none": the element-wise squared errors.
    weight : torch.Tensor, optional
        Element-wise weights with the shape of ``input``.

    Returns
    -------
    torch.Tensor
        A 0-d tensor ("mean", "sum") or the broadcast shape ("none"), in the promoted
        dtype of the inputs.

    Examples
    --------
    >>> import torch, l2loss.torch as lt
    >>> x, y = torch.tensor([2.5, 0.0, 2.0, 8.0]), torch.tensor([3.0, -0.5, 2.0, 7.0])
    >>> lt.mse_loss(x, y), lt.mse_loss(x, y, reduction="sum")
    (tensor(0.3750), tensor(1.5000))
    >>> w = torch.tensor([1.0, 1.0, 1.0, 0.0])
    >>> lt.mse_loss(x, y, weight=w)
    tensor(0.1667)
    """
    if (  # the training call, first and with as few checks as possible (small batches)
        weight is None and size_average is None and reduce is None and type(input) is Tensor
        and type(target) is Tensor and (reduction == "mean" or reduction == "sum")
        and (dtype := input.dtype) is target.dtype and (dtype is _F64 or dtype is _F32)
        and input.shape == target.shape and input.is_cpu and target.is_cpu
        and input.layout is _STRIDED and target.layout is _STRIDED and not _is_compiling()
        and not (_is_wrapped(input) or _is_wrapped(target))
    ):
        enum = _MEAN if reduction == "mean" else _SUM
        if (input.requires_grad or target.requires_grad) and torch.is_grad_enabled():
            if _functorch_active():
                return _PlainMSEFunction.apply(input, target, enum, dtype)
            return _plain_apply(input, target, enum, dtype)
        if input.is_contiguous() and target.is_contiguous():
            value = _torch_mse(input.data_ptr(), target.data_ptr(), 0, input.numel(), dtype is _F64,
                               enum == _SUM)
            if value is not None:
                return _loss_tensor(value, dtype)
        return _loss_tensor(_kernel(input, target, None, enum, False)[0], dtype)
    if has_torch_function_variadic(input, target, weight) or not (
        isinstance(input, Tensor) and isinstance(target, Tensor)
    ):  # tensor subclasses with __torch_function__, or not tensors at all: torch's behaviour
        if weight is None:  # torch < 2.6 has no weight argument
            return F.mse_loss(input, target, size_average, reduce, reduction)
        return F.mse_loss(input, target, size_average, reduce, reduction, weight=weight)  # type: ignore[call-arg]
    shape = input.shape
    if target.shape != shape:
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size ({input.size()}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=2,
        )
        input, target = torch.broadcast_tensors(input, target)
    if size_average is not None or reduce is not None:
        reduction = _Reduction.legacy_get_string(size_average, reduce)
    if weight is None:
        enum = _Reduction.get_enum(reduction)
    else:
        if weight.shape != shape:
            raise ValueError("Weights and input must have the same size.")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")
        enum = _Reduction.get_enum(reduction)
        if input.shape != shape or weight.requires_grad:  # weights broadcast, or d/dweight: torch's
            return _torch_loss(input, target, weight, enum)
    if enum == 0 or not _kernel_eligible(input, target, *(() if weight is None else (weight,))):
        return _torch_loss(input, target, weight, enum)
    dtype = _result_dtype(input, target, weight)
    if _is_compiling():
        if _HAVE_CUSTOM_OP:
            return torch.ops.l2loss.mse_loss(input, target, weight, "sum" if enum == _SUM else "mean")
        return _torch_loss(input, target, weight, enum)
    if _is_wrapped(input) or _is_wrapped(target):  # torch.func transforms: no memory to read
        return _torch_loss(input, target, weight, enum)
    if torch.is_grad_enabled() and (input.requires_grad or target.requires_grad):
        return _MSEFunction.apply(input, target, weight, enum, dtype)
    value, _, _ = _kernel(input, target, weight, enum, False)
    return _loss_tensor(value, dtype)


if _HAVE_CUSTOM_OP:

    def _scripted_mse_loss(input: Tensor, target: Tensor, reduction: str) -> Tensor:
        """``MSELoss.forward`` under TorchScript: the custom operator for "mean"/"sum"."""
        if reduction == "mean" or reduction == "sum":
            if input.size() != target.size():
                warnings.warn(
                    "Using a target size that is different to the input size. This will likely lead to "
                    "incorrect results due to broadcasting. Please ensure they have the same size.",
                    stacklevel=2,
                )
            return torch.ops.l2loss.mse_loss(input, target, None, reduction)
        return F.mse_loss(input, target, reduction=reduction)

else:  # pragma: no cover - torch < 2.4

    def _scripted_mse_loss(input: Tensor, target: Tensor, reduction: str) -> Tensor:
        """``MSELoss.forward`` under TorchScript: torch's own loss (no custom operators)."""
        return F.mse_loss(input, target, reduction=reduction)


class MSELoss(torch.nn.MSELoss):
    """Drop-in for :class:`torch.nn.MSELoss` backed by :func:`l2loss.torch.mse_loss`.

    A subclass of :class:`torch.nn.MSELoss` (so ``isinstance`` checks, ``repr`` and
    ``state_dict`` are torch's) whose forward is :func:`mse_loss`. Scriptable: under
    ``torch.jit.script`` the loss is the ``torch.ops.l2loss.mse_loss`` operator (torch >= 2.4;
    older torch scripts torch's own loss).

    Parameters
    ----------
    size_average, reduce : bool, optional
        Deprecated (as in torch); when set they override ``reduction``, with torch's warning.
    reduction : {"mean", "sum", "none"}, default "mean"
        As in :func:`mse_loss`; like torch, an invalid value is reported when the loss is called.

    Returns
    -------
    MSELoss
        A module whose ``forward(input, target)`` returns :func:`mse_loss`'s result.

    Examples
    --------
    >>> import torch, l2loss.torch as lt
    >>> loss_fn = lt.MSELoss(reduction="sum")
    >>> loss_fn(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
    tensor(4.)
    >>> isinstance(loss_fn, torch.nn.MSELoss)
    True
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """The loss of ``input`` against ``target`` (see :func:`mse_loss`).

        Parameters
        ----------
        input, target : torch.Tensor
            Predictions and targets (broadcastable).

        Returns
        -------
        torch.Tensor
            The loss.

        Examples
        --------
        >>> import torch, l2loss.torch as lt
        >>> lt.MSELoss()(torch.tensor([0.0, 3.0]), torch.tensor([1.0, 3.0]))
        tensor(0.5000)
        """
        if torch.jit.is_scripting():
            return _scripted_mse_loss(input, target, self.reduction)
        return mse_loss(input, target, reduction=self.reduction)
