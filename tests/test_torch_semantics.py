"""l2loss.torch keeps torch's semantics (issue #15, item 5) and sums exactly.

Oracles: torch.nn.functional.mse_loss / torch.nn.MSELoss themselves (values, dtypes,
shapes, warnings, errors), and the exact sum of the per-element terms with Python
integers (_support.exact_sum) rounded once.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from typing import Any, Callable

import numpy as np
import pytest
from _support import bits, exact_sum, terms_sq

torch = pytest.importorskip("torch")

import l2loss.torch as lt  # noqa: E402
import torch.nn.functional as F  # noqa: E402

_G = torch.Generator().manual_seed(0)
X = torch.randn(4, 3, generator=_G)
T = torch.randn(4, 3, generator=_G)
W = torch.rand(4, 3, generator=_G)


def _run(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, list[tuple[type, str]]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out: Any = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the exception is what is compared
            out = exc
    return out, [(w.category, str(w.message)) for w in caught]


CASES = [
    ((X, T), {}),
    ((X, T), {"reduction": "sum"}),
    ((X, T), {"reduction": "none"}),
    ((X, T), {"reduction": "elementwise_mean"}),
    ((X, T), {"reduction": "bad"}),
    ((X, T), {"reduction": None}),
    ((X, T), {"size_average": False}),
    ((X, T), {"reduce": False}),
    ((X, T, True, True), {}),  # positional legacy arguments
    ((X, T[0]), {}),  # broadcast, with torch's warning
    ((X, T[:, :1]), {"reduction": "sum"}),
    ((X[:, :1], T[0]), {}),  # (4,1) against (3,): a 4x3 problem
    ((X, torch.randn(5)), {}),  # not broadcastable: RuntimeError after the warning
    ((X, torch.tensor(1.0)), {}),  # 0-d target
    ((torch.tensor(2.0), torch.tensor(5.0)), {}),
    ((X.double(), T.double()), {}),
    ((X, T.double()), {}),  # mixed: promoted to float64
    ((X.half(), T.half()), {}),
    ((X.half(), T), {}),
    ((X.bfloat16(), T.bfloat16()), {"reduction": "sum"}),
    ((X.bfloat16(), T.half()), {}),  # bf16 with f16 -> f32
    ((X.long(), T.long()), {}),  # NotImplementedError, torch's message
    ((X.long(), T), {}),  # int with float: float32
    ((X.bool(), T.bool()), {}),
    (([1.0], [2.0]), {}),  # not tensors: torch's AttributeError
    ((torch.zeros(0), torch.zeros(0)), {}),
    ((torch.zeros(0), torch.zeros(0)), {"reduction": "sum"}),
    ((torch.zeros(0, 3), torch.zeros(0, 3)), {"reduction": "none"}),
    ((torch.tensor([1.0, math.nan]), torch.ones(2)), {}),
    ((torch.tensor([math.inf, 1.0]), torch.tensor([math.inf, 0.0])), {}),  # inf - inf = nan
    ((torch.tensor([math.inf, 1.0]), torch.ones(2)), {"reduction": "sum"}),
    ((torch.tensor([3e38, -3e38]), torch.zeros(2)), {"reduction": "sum"}),  # overflows float32: inf
    ((X, T), {"weight": W}),
    ((X, T), {"weight": W, "reduction": "sum"}),
    ((X, T), {"weight": W, "reduction": "none"}),
    ((X, T), {"weight": W, "reduction": "elementwise_mean"}),  # torch's weighted path rejects it
    ((X, T), {"weight": W[0]}),  # wrong weight size: ValueError
    ((X, T), {"weight": torch.tensor([[1.0, -1.0, 0.0]] * 4)}),  # weights summing to 0: inf/nan, unguarded
    ((X[:, :1], T), {"weight": torch.ones(4, 1)}),  # weights broadcast against the target
    ((X, T), {"weight": W.double()}),
    ((torch.randn(2, 3, 4, 5, generator=_G).transpose(1, 3), torch.randn(2, 5, 4, 3, generator=_G)), {}),
    ((X.t(), T.t()), {"reduction": "sum"}),
    ((X[::2], T[::2]), {}),  # strided views
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_same_results_warnings_and_errors_as_torch(case: int) -> None:
    args, kwargs = CASES[case]
    ours, our_warnings = _run(lt.mse_loss, args, kwargs)
    ref, ref_warnings = _run(F.mse_loss, args, kwargs)
    assert our_warnings == ref_warnings
    if isinstance(ref, Exception):
        assert type(ours) is type(ref) and str(ours) == str(ref)
        return
    assert isinstance(ours, torch.Tensor), ours
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    # torch computes in the inputs' precision (the squares of float32 inputs in float32
    # even when the weights promote the result to float64); l2loss in float64.
    tolerances = {torch.float16: 2e-3, torch.bfloat16: 1e-2, torch.float32: 1e-6}
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
    rtol = max(tolerances.get(a.dtype, 1e-14) for a in tensors)
    assert torch.allclose(ours.double(), ref.double(), rtol=rtol, atol=0, equal_nan=True)


def test_module_is_torchs_module_with_exact_sums() -> None:
    for reduction in ("mean", "sum", "none"):
        ours, ref = lt.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction)
        assert isinstance(ours, torch.nn.MSELoss) and repr(ours) == repr(ref) == "MSELoss()"
        assert ours.reduction == reduction and ours.state_dict() == {}
        assert torch.allclose(ours(X, T), ref(X, T), rtol=1e-6)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert lt.MSELoss(size_average=False).reduction == "sum"
    bad = lt.MSELoss(reduction="bad")  # like torch: accepted here, rejected when called
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        bad(X, T)


def _rounded(value: Fraction, dtype: torch.dtype) -> float:
    """Rounded to float64, then to ``dtype`` (what the loss promises)."""
    return torch.tensor(float(value), dtype=torch.float64).to(dtype).item()


def _exact_mean(x: torch.Tensor, t: torch.Tensor) -> Fraction:
    return exact_sum(terms_sq(t.double().numpy(), x.double().numpy())) / x.numel()


@pytest.mark.parametrize("n", [1, 7, 256, 4097, (1 << 16) + 1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sum_and_mean_are_the_rounded_exact_values(n: int, dtype: torch.dtype) -> None:
    # The element terms are fl(d*d) with d = x - t in float64 (exact for float32 data);
    # the sum is their exact sum and the mean the exact sum / n, each rounded once to
    # float64 and then to the result dtype.
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, generator=g, dtype=dtype) * 1e3
    t = torch.randn(n, generator=g, dtype=dtype) * 1e-3 + x  # small differences, big values
    total = exact_sum(terms_sq(t.double().numpy(), x.double().numpy()))
    for requires_grad in (False, True):
        xg = x.clone().requires_grad_(requires_grad)
        s, m = lt.mse_loss(xg, t, reduction="sum"), lt.mse_loss(xg, t)
        assert s.dtype == m.dtype == dtype
        assert s.item() == _rounded(total, dtype) and m.item() == _rounded(total / n, dtype)
    if dtype == torch.float64:
        assert bits(lt.mse_loss(x, t).item()) == bits(float(total / n))


def test_float32_accuracy_beyond_torchs() -> None:
    # 2^20 float32 squares of very different sizes: torch accumulates in float32,
    # l2loss exactly. Ours is the correctly rounded value; torch's is close.
    g = torch.Generator().manual_seed(11)
    n = 1 << 20
    x = torch.randn(n, generator=g) * torch.exp2(torch.randint(-20, 20, (n,), generator=g).float())
    t = torch.zeros(n)
    want = np.float32(float(_exact_mean(x, t)))
    assert lt.mse_loss(x, t).item() == float(want)
    assert F.mse_loss(x, t).item() == pytest.approx(float(want), rel=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_16_bit_inputs_are_exactly_summed(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(12)
    x = torch.randn(1000, generator=g).to(dtype)
    t = torch.randn(1000, generator=g).to(dtype)
    total = exact_sum(terms_sq(t.double().numpy(), x.double().numpy()))
    got = lt.mse_loss(x, t, reduction="sum")
    assert got.dtype == dtype
    assert got.item() == _rounded(total, dtype)


def test_nan_and_inf_propagate_through_the_gradient_path() -> None:
    for n in (5, (1 << 16) + 1):
        x = torch.zeros(n, requires_grad=True)
        t = torch.zeros(n)
        t[1] = math.nan
        loss = lt.mse_loss(x, t)
        assert math.isnan(loss.item())
        loss.backward()
        assert math.isnan(x.grad[1].item()) and x.grad[0].item() == 0.0
        t[1] = math.inf
        assert lt.mse_loss(x, t, reduction="sum").item() == math.inf


def test_weighted_mean_is_exact() -> None:
    g = torch.Generator().manual_seed(13)
    x = torch.randn(1000, generator=g, dtype=torch.float64)
    t = torch.randn(1000, generator=g, dtype=torch.float64)
    w = torch.rand(1000, generator=g, dtype=torch.float64)
    num = exact_sum(terms_sq(t.numpy(), x.numpy(), w.numpy()))
    den = exact_sum(w.tolist())
    assert bits(lt.mse_loss(x, t, weight=w).item()) == bits(float(num / den))
    assert bits(lt.mse_loss(x, t, weight=w, reduction="sum").item()) == bits(float(num))


def test_empty_input_gradients() -> None:
    x = torch.zeros(0, requires_grad=True)
    loss = lt.mse_loss(x, torch.zeros(0))
    assert math.isnan(loss.item())
    loss.backward()
    assert x.grad.shape == (0,)
