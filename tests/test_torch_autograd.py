"""l2loss.torch autograd: first and higher-order gradients (issue #15, item 1).

Oracles: torch.nn.functional.mse_loss's autograd, the closed form 2/n * I of the Hessian,
torch.autograd.gradcheck / gradgradcheck (finite differences in float64).
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import l2loss.torch as lt  # noqa: E402
import torch.nn.functional as F  # noqa: E402

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4)])
def test_hessian_is_the_closed_form(reduction: str, shape: tuple[int, ...]) -> None:
    g = _gen(1)
    x = torch.randn(shape, generator=g, dtype=F64)
    t = torch.randn(shape, generator=g, dtype=F64)
    n = x.numel()
    hess = torch.autograd.functional.hessian(lambda a: lt.mse_loss(a, t, reduction=reduction), x)
    want = torch.eye(n, dtype=F64) * (2.0 / n if reduction == "mean" else 2.0)
    assert torch.equal(hess.reshape(n, n), want)
    ref = torch.autograd.functional.hessian(lambda a: F.mse_loss(a, t, reduction=reduction), x)
    assert torch.allclose(hess, ref, rtol=0, atol=1e-15)


@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")  # the broadcast case
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradcheck_and_gradgradcheck_float64(reduction: str) -> None:
    g = _gen(2)
    x = torch.randn(6, 3, generator=g, dtype=F64, requires_grad=True)
    t = torch.randn(6, 3, generator=g, dtype=F64, requires_grad=True)
    w = torch.rand(6, 3, generator=g, dtype=F64)
    for fn in (
        lambda a, b: lt.mse_loss(a, b, reduction=reduction),
        lambda a, b: lt.mse_loss(a, b, reduction=reduction, weight=w),
        lambda a, b: lt.mse_loss(a, b[0], reduction=reduction),  # broadcast target
    ):
        assert torch.autograd.gradcheck(fn, (x, t))
        assert torch.autograd.gradgradcheck(fn, (x, t))


def test_create_graph_gives_a_differentiable_gradient() -> None:
    g = _gen(3)
    x = torch.randn(10, generator=g, dtype=F64, requires_grad=True)
    t = torch.randn(10, generator=g, dtype=F64)
    (gx,) = torch.autograd.grad(lt.mse_loss(x, t), x, create_graph=True)
    assert gx.grad_fn is not None
    (ref,) = torch.autograd.grad(F.mse_loss(x, t), x, create_graph=True)
    assert torch.equal(gx, ref)
    # A gradient penalty: d/dx ||grad||^2 = 2 * H @ grad = 2 * (2/n)^2 * (x - t)
    (gp,) = torch.autograd.grad(gx.pow(2).sum(), x)
    assert torch.allclose(gp, 2 * (2 / 10) ** 2 * (x - t).detach(), rtol=1e-15, atol=0)
    # Hessian-vector product.
    v = torch.randn(10, generator=g, dtype=F64)
    _, hvp = torch.autograd.functional.hvp(lambda a: lt.mse_loss(a, t), x.detach(), v)
    assert torch.allclose(hvp, v * (2 / 10), rtol=1e-15, atol=0)


def test_maml_inner_step_matches_torch() -> None:
    # One inner SGD step with create_graph=True, then the outer gradient w.r.t. the
    # initial parameters -- the second-order term must be there (it is zero when the
    # inner gradient is a constant).
    g = _gen(4)
    X = torch.randn(16, 3, generator=g, dtype=F64)
    y = torch.randn(16, generator=g, dtype=F64)
    Xq, yq = torch.randn(8, 3, generator=g, dtype=F64), torch.randn(8, generator=g, dtype=F64)
    grads = []
    for loss_fn in (lt.mse_loss, F.mse_loss):
        w = torch.zeros(3, dtype=F64, requires_grad=True)
        (gw,) = torch.autograd.grad(loss_fn(X @ w, y), w, create_graph=True)
        w_adapted = w - 0.1 * gw
        (outer,) = torch.autograd.grad(loss_fn(Xq @ w_adapted, yq), w)
        grads.append(outer)
    assert torch.allclose(grads[0], grads[1], rtol=1e-13, atol=1e-15)
    # First-order MAML (the inner gradient treated as a constant) differs: the second-order
    # term is really there.
    w = torch.zeros(3, dtype=F64, requires_grad=True)
    (gw,) = torch.autograd.grad(lt.mse_loss(X @ w, y), w)
    (first_order,) = torch.autograd.grad(lt.mse_loss(Xq @ (w - 0.1 * gw), yq), w)
    assert not torch.allclose(first_order, grads[0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [256, (1 << 16) + 3])  # the small path and the fused-gradient path
def test_gradients_match_torch(dtype: torch.dtype, n: int) -> None:
    g = _gen(5)
    xs = torch.randn(n, generator=g, dtype=dtype)
    ts = torch.randn(n, generator=g, dtype=dtype)
    got = []
    for fn in (lt.mse_loss, F.mse_loss):
        x, t = xs.clone().requires_grad_(), ts.clone().requires_grad_()
        loss = fn(x, t)
        (3.0 * loss).backward()  # a grad_output that is not 1
        got.append((loss.detach(), x.grad, t.grad))
    (l1, gx1, gt1), (l2, gx2, gt2) = got
    assert l1.dtype == l2.dtype == dtype and gx1.dtype == gt1.dtype == dtype
    rtol = 1e-6 if dtype == torch.float32 else 1e-13
    assert torch.allclose(l1, l2, rtol=rtol)
    assert torch.allclose(gx1, gx2, rtol=rtol, atol=0) and torch.allclose(gt1, gt2, rtol=rtol, atol=0)
    assert torch.equal(gt1, -gx1)
    if n < (1 << 16):  # small inputs: torch's own gradient kernel, torch's bits
        assert torch.equal(gx1, gx2) and torch.equal(gt1, gt2)


def test_fused_gradient_is_the_rounded_exact_gradient() -> None:
    # Large inputs: the gradient comes from the forward pass, each element
    # fl(fl(2/n) * (x - t)) evaluated in float64 and rounded once to float32.
    n = (1 << 16) + 5
    g = _gen(6)
    x = torch.randn(n, generator=g).requires_grad_()
    t = torch.randn(n, generator=g)
    lt.mse_loss(x, t).backward()
    want = ((x.detach().double() - t.double()) * (2.0 / n)).float()
    assert torch.equal(x.grad, want)


def test_retain_graph_and_repeated_backward() -> None:
    g = _gen(7)
    for n in (100, (1 << 16) + 1):
        x = torch.randn(n, generator=g, requires_grad=True)
        t = torch.randn(n, generator=g)
        loss = lt.mse_loss(x, t)
        loss.backward(retain_graph=True)
        first = x.grad.clone()
        loss.backward()
        assert torch.allclose(x.grad, 2 * first, rtol=1e-6, atol=0)


def test_in_place_change_after_forward_is_detected_like_torch() -> None:
    x = torch.randn(5, requires_grad=True)
    y = x * 1.0
    loss = lt.mse_loss(y, torch.zeros(5))
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_weights_requiring_grad_get_their_gradient() -> None:
    g = _gen(8)
    x = torch.randn(4, 3, generator=g, dtype=F64, requires_grad=True)
    t = torch.randn(4, 3, generator=g, dtype=F64)
    w = torch.rand(4, 3, generator=g, dtype=F64, requires_grad=True)
    lt.mse_loss(x, t, weight=w).backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    F.mse_loss(x, t, weight=w).backward()
    assert torch.allclose(gx, x.grad, rtol=1e-14) and torch.allclose(gw, w.grad, rtol=1e-14)


# torch's forward-mode AD loads its decompositions with torch.jit.script (deprecated in 2.13).
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_torch_func_transforms() -> None:
    g = _gen(9)
    x = torch.randn(4, 6, generator=g, dtype=F64)
    t = torch.randn(4, 6, generator=g, dtype=F64)
    from torch.func import grad, hessian, vmap

    ours, ref = grad(lambda a: lt.mse_loss(a, t))(x), grad(lambda a: F.mse_loss(a, t))(x)
    assert torch.allclose(ours, ref, rtol=1e-15)
    assert torch.allclose(vmap(lt.mse_loss)(x, t), vmap(F.mse_loss)(x, t), rtol=1e-15)
    assert torch.equal(hessian(lambda a: lt.mse_loss(a, t[0]))(x[0]), torch.eye(6, dtype=F64) * (2 / 6))


def test_no_graph_without_requires_grad_or_under_no_grad() -> None:
    x = torch.randn(8, requires_grad=True)
    t = torch.randn(8)
    assert lt.mse_loss(x.detach(), t).grad_fn is None
    with torch.no_grad():
        assert lt.mse_loss(x, t).grad_fn is None
    assert "MSEFunction" in type(lt.mse_loss(x, t).grad_fn).__name__


# ---- the small training call (issue #15, item 4): torch's gradient written by the forward ----


def _torch_step(
    fn: object, x: torch.Tensor, t: torch.Tensor, reduction: str, scale: float | None = None
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    xa = x.detach().clone().requires_grad_(x.requires_grad)
    ta = t.detach().clone().requires_grad_(t.requires_grad)
    loss = fn(xa, ta, reduction=reduction)  # type: ignore[operator]
    (loss if scale is None else loss * scale).backward()
    return loss.detach(), xa.grad, ta.grad


def _same_bits(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.dtype == b.dtype and a.shape == b.shape and a.numpy().tobytes() == b.numpy().tobytes()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(1,), (7,), (16,), (17,), (256,), (4096,), (65535,), (3, 5, 7)])
def test_small_step_gradient_has_torchs_bits(
    shape: tuple[int, ...], reduction: str, dtype: torch.dtype
) -> None:
    g = _gen(20)
    x = torch.randn(shape, generator=g, dtype=dtype) * 1e3
    t = torch.randn(shape, generator=g, dtype=dtype) * 1e3
    x.view(-1)[0] = t.view(-1)[0]  # a zero difference: +0 in torch's gradient
    x.requires_grad_(True)
    n = x.numel()
    grad = torch.empty_like(x)
    from l2loss import _core

    value = _core.torch_mse(x.data_ptr(), t.data_ptr(), grad.data_ptr(), n, dtype is F64, reduction == "sum")
    assert value is not None  # the engine entry takes the call
    ref_loss, ref_gx, _ = _torch_step(F.mse_loss, x, t, reduction)
    assert _same_bits(grad, ref_gx)  # torch's gradient, written by the forward
    loss, gx, gt = _torch_step(lt.mse_loss, x, t, reduction)
    assert _same_bits(gx, ref_gx) and gt is None
    xs, ts = x.detach().double().view(-1).tolist(), t.double().view(-1).tolist()
    exact = math.fsum((a - b) ** 2 for a, b in zip(xs, ts))
    # fsum of exact float64 squares of float32 data, or of rounded float64 terms: close to torch's
    assert math.isclose(float(loss), exact / (n if reduction == "mean" else 1), rel_tol=1e-6)
    assert loss.dtype == ref_loss.dtype and torch.allclose(loss, ref_loss, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_small_step_other_backwards_are_torchs(dtype: torch.dtype) -> None:
    g = _gen(21)
    x = torch.randn(256, generator=g, dtype=dtype, requires_grad=True)
    t = torch.randn(256, generator=g, dtype=dtype, requires_grad=True)
    for scale in (None, 3.0, 0.0, float("inf")):  # grad_output != 1 (0 * inf: NaN, torch's bits)
        got, ref = _torch_step(lt.mse_loss, x, t, "mean", scale), _torch_step(F.mse_loss, x, t, "mean", scale)
        assert _same_bits(got[1], ref[1]) and _same_bits(got[2], ref[2])  # target's gradient too
    xd = x.detach().clone().requires_grad_(True)
    loss = lt.mse_loss(xd, t.detach())
    loss.backward(retain_graph=True)
    first = xd.grad.clone()  # type: ignore[union-attr]
    xd.grad = None
    loss.backward()  # the second backward: torch's mse_loss_backward
    assert _same_bits(xd.grad, first)
    (gg,) = torch.autograd.grad(lt.mse_loss(xd, t.detach()), xd, create_graph=True)
    assert gg.requires_grad  # differentiable: torch's own operator under create_graph


def test_small_step_sees_inputs_modified_in_place_like_torch() -> None:
    for fn in (F.mse_loss, lt.mse_loss):
        x = torch.randn(16, requires_grad=True)
        a = x * 1.0
        loss = fn(a, torch.zeros(16))
        with torch.no_grad():
            a.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


def test_small_step_declines_non_finite_and_non_contiguous() -> None:
    x = torch.tensor([1.0, float("nan"), 2.0], requires_grad=True)
    t = torch.zeros(3)
    got, ref = _torch_step(lt.mse_loss, x, t, "mean"), _torch_step(F.mse_loss, x, t, "mean")
    assert torch.isnan(got[0]) and _same_bits(got[1], ref[1])
    base = torch.randn(40, generator=_gen(22), dtype=F64)
    xs = base[::2].clone().requires_grad_(True)
    ts = base.flip(0)[::2]  # non-contiguous target
    got, ref = _torch_step(lt.mse_loss, xs, ts, "sum"), _torch_step(F.mse_loss, xs, ts, "sum")
    assert _same_bits(got[1], ref[1])
