"""l2loss.torch under torch.compile and TorchScript (issue #15, item 2).

The loss is the custom operator ``torch.ops.l2loss.mse_loss`` while compiling: compiled
results must have the eager (exact) bits, gradients must flow, and the operator must pass
torch.library.opcheck (schema, fake tensor, autograd registration). Compiled once per
module: compilation is the slow part.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import pytest

torch = pytest.importorskip("torch")

import l2loss.torch as lt  # noqa: E402
import torch.nn.functional as F  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(torch.library, "custom_op"), reason="torch < 2.4: no custom_op")


def _loss_and_grad(x: torch.Tensor, t: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, ...]:
    # reductions, broadcasting (no warning: same shapes) and weights in one graph
    return lt.mse_loss(x, t), lt.mse_loss(x, t, reduction="sum"), lt.mse_loss(x, t, weight=w)


@pytest.fixture(scope="module")
def compiled_eager() -> Callable[..., Any]:
    torch._dynamo.reset()
    return torch.compile(_loss_and_grad, backend="eager", fullgraph=True)


@pytest.fixture(scope="module")
def compiled_inductor() -> Callable[..., Any]:
    return torch.compile(lt.MSELoss(), fullgraph=True)  # the default backend


def _inputs(dtype: torch.dtype, n: int = 1000) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, generator=g, dtype=dtype) * 100
    t = torch.randn(n, generator=g, dtype=dtype) * 1e-3 + x
    return x, t, torch.rand(n, generator=g, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_eager_backend_has_the_eager_bits(
    compiled_eager: Callable[..., Any], dtype: torch.dtype
) -> None:
    x, t, w = _inputs(dtype)
    got = compiled_eager(x, t, w)
    want = _loss_and_grad(x, t, w)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == dtype and torch.equal(a, b)
    # gradients through the compiled graph
    xg = x.clone().requires_grad_()
    sum(compiled_eager(xg, t, w)).backward()
    xr = x.clone().requires_grad_()
    cases = (("mean", None), ("sum", None), ("mean", w))
    sum(F.mse_loss(xr, t, reduction=r, weight=ww) for r, ww in cases).backward()
    assert torch.allclose(xg.grad, xr.grad, rtol=1e-5 if dtype == torch.float32 else 1e-12)


# Inductor's own code calls torch.jit.script_method, deprecated in torch 2.13.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_inductor_matches_eager(compiled_inductor: Callable[..., Any]) -> None:
    x, t, _ = _inputs(torch.float32)
    xg = x.clone().requires_grad_()
    loss = compiled_inductor(xg, t)
    assert torch.equal(loss.detach(), lt.mse_loss(x, t))
    loss.backward()
    assert torch.allclose(xg.grad, 2 * (x - t) / x.numel(), rtol=1e-6, atol=0)


def test_the_operator_passes_opcheck() -> None:
    x, t, w = _inputs(torch.float64, 50)
    xg = x.clone().requires_grad_()
    for args in ((xg, t, None, "mean"), (xg, t, None, "sum"), (xg, t, w, "mean"), (xg, t[:1], None, "mean")):
        torch.library.opcheck(torch.ops.l2loss.mse_loss.default, args)


def test_the_operator_rejects_what_it_does_not_reduce() -> None:
    x, t, _ = _inputs(torch.float64, 5)
    with pytest.raises(ValueError, match="supports reduction 'mean' or 'sum'"):
        torch.ops.l2loss.mse_loss(x, t, None, "none")


def test_torch_jit_script_of_the_module() -> None:
    x, t, _ = _inputs(torch.float64, 100)
    for reduction in ("mean", "sum", "none"):
        with warnings.catch_warnings():  # torch 2.13 deprecates torch.jit.script itself
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.script(lt.MSELoss(reduction=reduction))
        xg = x.clone().requires_grad_()
        loss = scripted(xg, t)
        assert torch.equal(loss.detach(), lt.mse_loss(x, t, reduction=reduction))
        loss.sum().backward()
        want = 2 * (x - t) / (x.numel() if reduction == "mean" else 1)
        assert torch.allclose(xg.grad, want, rtol=1e-14, atol=0)
