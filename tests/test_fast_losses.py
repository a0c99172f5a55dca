"""The training losses' small-call fast paths (issue #16, item 1; cpp/src/fast_losses.cpp).

``mse_loss``, ``mse_grad`` and ``mse_value_and_grad`` take their plain call -- two
float32/float64 ndarrays, options at their defaults -- straight to the engine. The fast
results must have the bits of the general path (forced here by ``num_threads=1``, which
the fast path declines), and the general path's independent oracles: the exact sum
(fractions.Fraction) and NumPy float64 for the gradient. Every declined call keeps its
result or error.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import l2loss
import numpy as np
import pytest
from l2loss import _core

SHAPES = [(1,), (7,), (16,), (17,), (1000,), (3000,), (9, 1), (5, 3), (33, 2)]
F32, F64 = np.float32, np.float64
PAIRS = [(F64, F64), (F32, F32), (F32, F64), (F64, F32)]


def _bits(v: Any) -> bytes:
    return np.asarray(v).tobytes()


def _layouts(a: np.ndarray) -> list[np.ndarray]:
    """C order, F order (2-D), a strided slice and a reversed view of the same values."""
    out = [a]
    if a.ndim == 2:
        out.append(np.asfortranarray(a))
    big = np.empty((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
    big[::2] = a
    out.append(big[::2])
    rev = np.ascontiguousarray(a[::-1])
    out.append(rev[::-1])
    return out


def _pair(shape: tuple[int, ...], dtypes: tuple[Any, Any], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtypes[0]), (3 * rng.standard_normal(shape)).astype(dtypes[1])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtypes", PAIRS)
@pytest.mark.parametrize("shape", SHAPES)
def test_mse_loss_fast_has_the_general_bits(
    shape: tuple[int, ...], dtypes: tuple[Any, Any], reduction: str
) -> None:
    x, t = _pair(shape, dtypes)
    want = l2loss.mse_loss(x, t, reduction=reduction, num_threads=1)  # the general path
    exact = sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(x.ravel(), t.ravel()))
    for xv, tv in zip(_layouts(x), _layouts(t)):
        assert _core.mse_loss_fast(xv, tv, reduction) is not None  # taken
        got = l2loss.mse_loss(xv, tv, reduction=reduction)
        assert type(got) is type(want) and _bits(got) == _bits(want)
    if dtypes == (np.float64, np.float64):  # the oracle: each term fl(d*d), summed exactly
        terms = [float(a) - float(b) for a, b in zip(x.ravel(), t.ravel())]
        exact = sum((Fraction(d * d) for d in terms), Fraction(0))
        assert float(want) == float(exact if reduction == "sum" else exact / x.size)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtypes", PAIRS)
@pytest.mark.parametrize("shape", SHAPES)
def test_mse_grad_fast_has_the_general_bits(
    shape: tuple[int, ...], dtypes: tuple[Any, Any], reduction: str
) -> None:
    yt, yp = _pair(shape, dtypes, seed=1)
    want_v, want_g = l2loss.mse_value_and_grad(yt, yp, reduction=reduction, num_threads=1)
    n_cols = shape[1] if len(shape) == 2 else 1
    scale = 2.0 if reduction == "sum" else 2.0 / (shape[0] * n_cols)
    oracle = (scale * (yp.astype(np.float64) - yt.astype(np.float64))).astype(want_g.dtype)
    assert _bits(want_g) == _bits(oracle)  # NumPy float64, rounded once
    for tv, pv in zip(_layouts(yt), _layouts(yp)):
        assert _core.mse_grad_fast(tv, pv, reduction, None, True) is not None  # taken
        v, g = l2loss.mse_value_and_grad(tv, pv, reduction=reduction)
        assert type(v) is float and v.hex() == want_v.hex()
        assert g.dtype == want_g.dtype and g.shape == want_g.shape and _bits(g) == _bits(want_g)
        assert _bits(l2loss.mse_grad(tv, pv, reduction=reduction)) == _bits(want_g)
        for out in _layouts(np.full(shape, np.nan, dtype=want_g.dtype)):  # out= in any layout
            v2, g2 = l2loss.mse_value_and_grad(tv, pv, reduction=reduction, out=out)
            assert g2 is out and v2.hex() == want_v.hex()
            assert _bits(np.ascontiguousarray(out)) == _bits(want_g)
            out[...] = np.nan
            assert l2loss.mse_grad(tv, pv, reduction=reduction, out=out) is out
            assert _bits(np.ascontiguousarray(out)) == _bits(want_g)


def test_non_finite_values_propagate_with_the_general_bits() -> None:
    x = np.array([1.0, np.nan, 3.0])
    t = np.array([0.0, 1.0, np.inf])
    assert np.isnan(l2loss.mse_loss(x, t))
    v, g = l2loss.mse_value_and_grad(t, x)
    v1, g1 = l2loss.mse_value_and_grad(t, x, num_threads=1)
    assert np.isnan(v) and np.isnan(v1) and _bits(g) == _bits(g1)
    big = np.array([1e308, -1e308])
    assert l2loss.mse_loss(big, -big) == l2loss.mse_loss(big, -big, num_threads=1) == np.inf


@pytest.mark.parametrize("dtypes", PAIRS)
def test_nan_payloads_and_signs_have_the_general_bits(dtypes: tuple[Any, Any]) -> None:
    quiet = np.array([0x7FF8000000000123, 0xFFF8000000000456], dtype=np.uint64).view(np.float64)
    yt = np.array([1.0, quiet[0], 2.0, np.inf, -0.0, quiet[1], 3.0]).astype(dtypes[0])
    yp = np.array([quiet[1], 1.0, -np.inf, np.inf, 0.0, quiet[0], 1e30]).astype(dtypes[1])
    for reduction in ("mean", "sum"):
        v1, g1 = l2loss.mse_value_and_grad(yt, yp, reduction=reduction, num_threads=1)
        v, g = l2loss.mse_value_and_grad(yt, yp, reduction=reduction)
        assert _bits(v) == _bits(v1) and _bits(g) == _bits(g1)
        assert _bits(l2loss.mse_grad(yt, yp, reduction=reduction)) == _bits(g1)
        assert _bits(l2loss.mse_loss(yp, yt, reduction=reduction)) == _bits(
            l2loss.mse_loss(yp, yt, reduction=reduction, num_threads=1))


@pytest.mark.parametrize(
    "args",
    [
        ([1.0, 2.0], [1.0, 3.0]),  # lists
        (np.array([1, 2]), np.array([1, 3])),  # integers
        (np.array([1.0, 2.0], dtype=np.float16), np.array([1.0, 3.0], dtype=np.float16)),
        (np.array([1.0, 2.0], dtype=">f8"), np.array([1.0, 3.0])),  # byte order
        (np.float64(2.0), np.float64(1.0)),  # 0-d
        (np.ones((2, 2, 2)), np.zeros((2, 2, 2))),  # 3-D
        (np.ma.masked_array([1.0, 2.0]), np.array([1.0, 3.0])),  # a subclass
        (np.zeros(0), np.zeros(0)),  # empty
    ],
)
def test_declined_calls_keep_their_results(args: tuple[Any, Any]) -> None:
    x, t = args
    assert _core.mse_loss_fast(x, t, "mean") is None
    assert _core.mse_grad_fast(t, x, "mean", None, True) is None
    xf = np.asarray(x, dtype=np.float64)
    tf = np.asarray(t, dtype=np.float64)
    want = float(np.mean((xf - tf) ** 2)) if xf.size else float("nan")
    got = float(l2loss.mse_loss(x, t))
    assert got == want or (np.isnan(got) and np.isnan(want))


def test_broadcast_and_weights_and_options_take_the_general_path() -> None:
    x, t = np.array([[1.0], [2.0]]), np.array([0.0, 1.0])
    assert _core.mse_loss_fast(x, t, "mean") is None  # shapes differ: torch's warning and broadcast
    with pytest.warns(UserWarning, match="different to the input size"):
        assert l2loss.mse_loss(x, t) == 1.5  # (1 + 0 + 4 + 1) / 4
    assert _core.mse_loss_fast(x[:, 0], t, "none") is None
    assert _bits(l2loss.mse_loss(x[:, 0], t, reduction="none")) == _bits(np.array([1.0, 1.0]))
    with pytest.warns(UserWarning, match="elementwise_mean"):
        assert l2loss.mse_loss(x[:, 0], t, reduction="elementwise_mean") == 1.0
    w = np.array([1.0, 3.0])
    assert l2loss.mse_value_and_grad(t, x[:, 0], sample_weight=w)[0] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"reduction": "none"}, ValueError, "reduction must be 'mean' or 'sum'"),
        ({"out": np.zeros(3)}, ValueError, r"out has shape \(3,\)"),
        ({"out": np.zeros(2, dtype=np.float32)}, TypeError, "out has dtype float32"),
        ({"out": np.zeros(2, dtype=">f8")}, TypeError, "out has dtype >f8"),
        ({"out": [0.0, 0.0]}, TypeError, "out must be a numpy.ndarray"),
        ({"num_threads": 0}, ValueError, "num_threads"),
    ],
)
def test_declined_grad_calls_keep_their_errors(
    kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    yt, yp = np.array([1.0, 2.0]), np.array([0.0, 4.0])
    for fn in (l2loss.mse_grad, l2loss.mse_value_and_grad):
        with pytest.raises(exc, match=match):
            fn(yt, yp, **kwargs)


def test_declined_out_buffers_keep_their_errors_and_are_not_written() -> None:
    buf = np.array([1.0, 2.0, 3.0, 4.0])
    ro = np.zeros(2)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        l2loss.mse_grad(buf[:2], buf[2:], out=ro)
    for out in (buf[:2], buf[1:3], buf[2:]):  # overlapping an input
        before = buf.copy()
        with pytest.raises(ValueError, match="must not overlap"):
            l2loss.mse_value_and_grad(buf[:2], buf[2:], out=out)
        assert _bits(buf) == _bits(before)
    with pytest.raises(ValueError, match="same shape"):
        l2loss.mse_grad(np.zeros(2), np.zeros(3))
