"""Losses and gradients: torch/Keras semantics, fused value-and-grad, L2 penalty, ridge.

Oracles: PyTorch itself (when installed), NumPy float64, exact Fraction sums, the
closed-form ridge gradient and scipy.optimize.check_grad.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import l2loss
import numpy as np
import pytest
from _support import THREAD_COUNTS, bits, exact_sum, terms_sq
from l2loss import _core

X4 = np.array([2.5, 0.0, 2.0, 8.0])
Y4 = np.array([3.0, -0.5, 2.0, 7.0])
W4 = np.array([1.0, 2.0, 0.0, 1.0])


class TestTorchSemantics:
    def test_documented_values(self) -> None:
        assert float(l2loss.mse_loss(X4, Y4)) == 0.375
        assert float(l2loss.mse_loss(X4, Y4, reduction="sum")) == 1.5
        assert np.array_equal(l2loss.mse_loss(X4, Y4, reduction="none"), [0.25, 0.25, 0.0, 1.0])
        assert float(l2loss.mse_loss(X4, Y4, weight=W4)) == 0.4375
        assert float(l2loss.mse_loss(X4, Y4, weight=W4, reduction="sum")) == 1.75
        assert np.isnan(l2loss.mse_loss(X4, Y4, weight=np.zeros(4)))  # no guard, like torch
        assert float(l2loss.mse_loss(np.array(1.0), np.array(3.0))) == 4.0

    def test_empty_nan_and_dtypes(self) -> None:
        assert np.isnan(l2loss.mse_loss(np.zeros(0), np.zeros(0)))
        assert l2loss.mse_loss(np.zeros(0), np.zeros(0), reduction="sum") == 0.0
        assert l2loss.mse_loss(np.zeros(0), np.zeros(0), reduction="none").shape == (0,)
        assert np.isnan(l2loss.mse_loss(np.array([1.0, np.nan]), np.array([1.0, 2.0])))
        assert np.isnan(l2loss.mse_loss(np.array([np.inf]), np.array([np.inf])))
        assert l2loss.mse_loss(np.float32([1, 2]), np.float32([1, 3])).dtype == np.float32
        assert l2loss.mse_loss(np.float32([1, 2]), np.float64([1, 3])).dtype == np.float64

    def test_errors_and_warnings(self) -> None:
        with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
            l2loss.mse_loss(X4, Y4, reduction="bad")
        with pytest.raises(ValueError, match="Weights and input must have the same size."):
            l2loss.mse_loss(np.zeros((2, 2)), np.ones((2, 2)), weight=np.array([1.0, 2.0]))
        with pytest.warns(UserWarning, match="elementwise_mean"):
            assert float(l2loss.mse_loss(X4, Y4, reduction="elementwise_mean")) == 0.375
        with pytest.warns(
            UserWarning, match=r"target size \(torch.Size\(\[3\]\)\) that is different to the input"
        ):
            value = l2loss.mse_loss(np.zeros((3, 1)), np.array([1.0, 2.0, 3.0]))
        assert value == pytest.approx(14 / 3)
        with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="must match the size of tensor b"):
            l2loss.mse_loss(np.zeros(3), np.zeros(2))

    def test_matches_torch(self) -> None:
        torch = pytest.importorskip("torch")
        F = torch.nn.functional
        rng = np.random.default_rng(0)
        for shape in [(1001,), (37, 5), (4, 3, 7)]:
            x, y, w = rng.standard_normal(shape), rng.standard_normal(shape), rng.random(shape)
            tx, ty, tw = (torch.from_numpy(v) for v in (x, y, w))
            for red in ("mean", "sum"):
                assert float(l2loss.mse_loss(x, y, reduction=red)) == pytest.approx(
                    float(F.mse_loss(tx, ty, reduction=red)), rel=1e-14)
                assert float(l2loss.mse_loss(x, y, reduction=red, weight=w)) == pytest.approx(
                    float(F.mse_loss(tx, ty, reduction=red, weight=tw)), rel=1e-14)
        # The broadcast warning text is torch's, word for word.
        with warnings.catch_warnings(record=True) as ours, warnings.catch_warnings(record=False):
            warnings.simplefilter("always")
            l2loss.mse_loss(np.zeros((3, 1)), np.zeros(3))
        with pytest.warns(UserWarning) as theirs:
            F.mse_loss(torch.zeros(3, 1), torch.zeros(3))
        assert str(ours[0].message) == str(theirs[0].message)

    def test_sum_is_exact(self) -> None:
        rng = np.random.default_rng(1)
        x = rng.standard_normal(4097) * 10.0 ** rng.integers(-20, 20, 4097)
        y = np.zeros_like(x)
        assert float(l2loss.mse_loss(x, y, reduction="sum")) == float(exact_sum(terms_sq(y, x)))


class TestKerasSemantics:
    # keras' own test data (keras/src/losses/losses_test.py, MeanSquaredErrorTest)
    YT = np.array([[1.0, 9.0, 2.0], [-5.0, -2.0, 6.0]])
    YP = np.array([[4.0, 8.0, 12.0], [8.0, 1.0, 3.0]])

    def test_keras_test_values(self) -> None:
        mse = l2loss.per_sample_mse
        assert float(mse(self.YT, self.YP, reduction="sum_over_batch_size")) == pytest.approx(49.5)
        assert float(mse(self.YT, self.YP, sample_weight=2.3, reduction="mean")) == pytest.approx(113.85)
        assert float(mse(self.YT, self.YP, sample_weight=[[1.2], [3.4]], reduction="mean")) == pytest.approx(
            127.96666666666665)
        assert float(mse(self.YT, self.YP, sample_weight=0.0, reduction="mean")) == 0.0
        assert np.allclose(mse(self.YT, self.YP, sample_weight=2.3), [84.3333333, 143.3666666])
        assert float(mse(self.YT, self.YP, sample_weight=2.3, reduction="sum")) == pytest.approx(227.7)
        assert float(mse(self.YT, self.YP, sample_weight=[[1.2], [3.4]],
                         reduction="mean_with_sample_weight")) == pytest.approx(55.637681159420296)

    def test_shapes(self) -> None:
        mse = l2loss.per_sample_mse
        assert mse(np.zeros(3), np.ones((3, 1))).shape == (3,)  # (n,) vs (n,1): element-wise
        assert np.ndim(mse([1.0, 2.0], [1.0, 4.0])) == 0  # 1-D: one sample
        assert (
            float(mse([1.0, 3.0], [1.0, 1.0], sample_weight=[1.0, 3.0], reduction="mean")) == 4.0
        )  # mse*mean(w)
        with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
            mse(self.YT, self.YP, reduction="avg")


class TestGradients:
    def test_documented_gradient(self) -> None:
        assert np.array_equal(l2loss.mse_grad(Y4, X4), [-0.25, 0.25, 0.0, 0.5])
        assert np.array_equal(l2loss.mse_grad(Y4, X4, reduction="sum"), [-1.0, 1.0, 0.0, 2.0])
        loss, grad = l2loss.mse_value_and_grad(np.zeros(2), np.array([1.0, 2.0]), sample_weight=[1.0, 3.0])
        assert np.array_equal(grad, [0.5, 3.0]) and loss == 3.25

    def test_formula_and_dtypes(self, isa: str) -> None:
        rng = np.random.default_rng(2)
        for shape in [(1,), (17,), (4099,), (513, 3)]:
            for dt in (np.float32, np.float64):
                yt, yp = rng.standard_normal(shape).astype(dt), rng.standard_normal(shape).astype(dt)
                w = rng.uniform(0.1, 2.0, shape[0])
                k = shape[1] if len(shape) == 2 else 1
                d = yp.astype(np.float64) - yt.astype(np.float64)
                wcol = w if len(shape) == 1 else w[:, None]
                loss, grad = l2loss.mse_value_and_grad(yt, yp, sample_weight=w)
                scale = 2.0 / (k * float(exact_sum(w.tolist())))
                assert grad.dtype == np.float64  # float64 weights promote
                assert np.array_equal(grad, scale * (wcol * d))
                g32 = l2loss.mse_grad(yt, yp)
                assert g32.dtype == dt
                assert np.array_equal(g32, ((2.0 / d.size) * d).astype(dt))
                if len(shape) == 1:
                    assert bits(loss) == bits(l2loss.mean_squared_error(yt, yp, sample_weight=w))

    def test_matches_torch_autograd(self) -> None:
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(3)
        yt, yp = rng.standard_normal(1001), rng.standard_normal(1001)
        x = torch.from_numpy(yp.copy()).requires_grad_()
        torch.nn.functional.mse_loss(x, torch.from_numpy(yt)).backward()
        np.testing.assert_allclose(l2loss.mse_grad(yt, yp), x.grad.numpy(), rtol=1e-15, atol=0)

    def test_reproducible_across_threads(self) -> None:
        rng = np.random.default_rng(4)
        yt, yp, w = rng.standard_normal(200_003), rng.standard_normal(200_003), rng.random(200_003)
        ref_loss, ref_grad = l2loss.mse_value_and_grad(yt, yp, sample_weight=w, num_threads=1)
        for t in THREAD_COUNTS:
            loss, grad = l2loss.mse_value_and_grad(yt, yp, sample_weight=w, num_threads=t)
            assert bits(loss) == bits(ref_loss) and np.array_equal(grad, ref_grad)

    def test_out_is_validated_before_any_write(self) -> None:
        yt, yp = np.zeros(8), np.ones(8)
        out = np.full(8, 7.0)
        assert l2loss.mse_grad(yt, yp, out=out) is out and np.array_equal(out, np.full(8, 0.25))
        sentinel = np.full(8, 7.0)
        bad_cases = [
            (np.full(8, 7.0, dtype=np.float32), TypeError),  # wrong dtype
            (np.full(9, 7.0), ValueError),  # wrong shape
            ([7.0] * 8, TypeError),  # not an array
        ]
        for bad, exc in bad_cases:
            with pytest.raises(exc):
                l2loss.mse_grad(yt, yp, out=bad)
        ro = sentinel.copy()
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            l2loss.mse_grad(yt, yp, out=ro)
        with pytest.raises(ValueError, match="overlap"):
            l2loss.mse_grad(yt, yp, out=yp)
        with pytest.raises(ValueError, match="one weight per row"):
            l2loss.mse_grad(yt, yp, sample_weight=np.ones(3), out=sentinel)
        assert np.array_equal(sentinel, np.full(8, 7.0))  # nothing was written
        with pytest.raises(ValueError, match="reduction"):
            l2loss.mse_grad(yt, yp, reduction="none")

    def test_nan_propagates_to_its_own_element(self) -> None:
        yp = np.array([1.0, np.nan, 3.0])
        loss, grad = l2loss.mse_value_and_grad(np.zeros(3), yp)
        assert np.isnan(loss) and np.isnan(grad[1]) and grad[0] == 2 / 3 and grad[2] == 2.0


def test_l2_penalty_is_exact() -> None:
    rng = np.random.default_rng(5)
    theta = rng.standard_normal(1000) * 10.0 ** rng.integers(-8, 8, 1000)
    value, grad = l2loss.l2_penalty(theta, 0.25)
    assert value == 0.25 * float(sum(Fraction(t) ** 2 for t in theta.tolist()))
    assert np.array_equal(grad, 0.5 * theta)
    out = np.empty_like(theta)
    assert l2loss.l2_penalty(theta, 0.25, out=out)[1] is out


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(6)
    n, d = 5003, 7
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w, rng.standard_normal(d), 0.7


class TestRidge:
    def test_matches_closed_form(self, isa: str, problem) -> None:
        X, y, w, c, b = problem
        alpha = 0.1
        loss, g, gb = l2loss.ridge_loss_and_grad(X, y, c, alpha=alpha, intercept=b, sample_weight=w)
        r = X @ c + b - y
        W = w.sum()
        assert loss == pytest.approx((w * r * r).sum() / W + alpha * (c @ c), rel=1e-13)
        np.testing.assert_allclose(g, 2 / W * X.T @ (w * r) + 2 * alpha * c, rtol=1e-12)
        assert gb == pytest.approx(2 / W * (w * r).sum(), rel=1e-12)

    def test_check_grad(self, isa: str, problem) -> None:
        scipy_optimize = pytest.importorskip("scipy.optimize")
        X, y, w, c, b = problem
        f = lambda v: l2loss.ridge_loss_and_grad(X, y, v[:-1], alpha=0.3, intercept=v[-1], sample_weight=w)[0]  # noqa: E731

        def fprime(v):
            _, g, gb = l2loss.ridge_loss_and_grad(X, y, v[:-1], alpha=0.3, intercept=v[-1], sample_weight=w)
            return np.append(g, gb)

        v0 = np.append(c, b)
        assert scipy_optimize.check_grad(f, fprime, v0) < 1e-6 * np.linalg.norm(fprime(v0))

    def test_same_bits_for_layout_dtype_and_threads(self, isa: str, problem) -> None:
        X, y, w, c, b = problem
        ref = l2loss.ridge_loss_and_grad(X, y, c, intercept=b, sample_weight=w, num_threads=1)
        for t in THREAD_COUNTS:
            for Xv in (X, np.asfortranarray(X)):
                got = l2loss.ridge_loss_and_grad(Xv, y, c, intercept=b, sample_weight=w, num_threads=t)
                assert (
                    bits(got[0]) == bits(ref[0])
                    and np.array_equal(got[1], ref[1])
                    and bits(got[2]) == bits(ref[2])
                )
        X32 = X.astype(np.float32)
        a = l2loss.ridge_loss_and_grad(X32, y, c, num_threads=1)
        f = l2loss.ridge_loss_and_grad(np.asfortranarray(X32), y, c, num_threads=2)
        assert bits(a[0]) == bits(f[0]) and np.array_equal(a[1], f[1])
        r = X32.astype(np.float64) @ c - y
        assert a[0] == pytest.approx((r * r).mean(), rel=1e-13)

    def test_errors(self, problem) -> None:
        X, y, _, c, _ = problem
        with pytest.raises(ValueError, match="coef"):
            l2loss.ridge_loss_and_grad(X, y, c[:-1])
        with pytest.raises(ValueError, match="y must have shape"):
            l2loss.ridge_loss_and_grad(X, y[:-1], c)
        with pytest.raises(ValueError, match="2-D"):
            l2loss.ridge_loss_and_grad(X[:, 0], y, c[:1])


def ridge_reference(X, y, coef, b, w=None):
    """The ridge engine's documented arithmetic, written independently with NumPy
    elementwise IEEE operations and exact Python sums (math.fsum is correctly rounded,
    Fraction exact). Returns (sum(w r^2)/W, W, G, G_b) like _core.ridge_sums."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    prods = X * np.asarray(coef, dtype=np.float64)  # fl(x_ij * c_j)
    ways = [np.zeros(n) for _ in range(8)]
    for j in range(d):  # way k: columns j = k (mod 8), in increasing j, from +0.0
        ways[j % 8] = ways[j % 8] + prods[:, j]
    dot = ((ways[0] + ways[1]) + (ways[2] + ways[3])) + ((ways[4] + ways[5]) + (ways[6] + ways[7]))
    r = (dot + b) - np.asarray(y, dtype=np.float64)
    if w is None:
        loss_terms, wr, W = r * r, r, Fraction(n)
    else:
        w = np.asarray(w, dtype=np.float64)
        loss_terms, wr, W = w * (r * r), w * r, exact_sum(w.tolist())
    loss = float(exact_sum(loss_terms.tolist()) / W)
    G = np.array([math.fsum((wr * X[:, j]).tolist()) for j in range(d)])
    return loss, float(W), G, math.fsum(wr.tolist())


def ridge_layouts(X: np.ndarray) -> dict[str, np.ndarray]:
    """The same matrix in every memory layout the engine distinguishes."""
    n, d = X.shape
    big = np.zeros((2 * n + 1, 2 * d + 1), dtype=X.dtype)
    negative = big[::-2, ::-2][:n, :d]  # negative strides in both axes: packed path
    negative[...] = X
    rows_strided = np.zeros((2 * n, d), dtype=X.dtype)[::2]  # C rows, every other one
    rows_strided[...] = X
    cols_strided = np.zeros((n, 2 * d), dtype=X.dtype, order="F")[:, ::2]  # F columns, every other one
    cols_strided[...] = X
    return {"C": X, "F": np.asfortranarray(X), "negative": negative, "rows_strided": rows_strided,
            "cols_strided": cols_strided}


def same_bits(a, b) -> bool:
    same_scalars = all(bits(a[k]) == bits(b[k]) for k in (0, 1, 3))
    return same_scalars and a[2].tobytes() == b[2].tobytes()


# Shapes hitting the kernels' tails: rows mod 8 (AVX-512/scalar groups) and mod 4 (AVX2),
# columns mod 8 (the dot product's ways, AVX-512 column chunks) and mod 4 (AVX2 chunks),
# gradient tiles of 32 columns, sub-blocks of 64 rows and blocks of ~1000 rows.
RIDGE_SHAPES = [(1, 1), (2, 5), (7, 3), (8, 8), (9, 9), (17, 15), (31, 16), (33, 17), (65, 4), (130, 31),
                (1023, 32), (1025, 33), (300, 70), (64, 0)]


class TestRidgeKernels:
    @pytest.mark.parametrize("shape", RIDGE_SHAPES, ids=str)
    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    @pytest.mark.parametrize("weighted", [False, True])
    def test_exact_oracle_every_path(self, isa: str, shape, dtype, weighted: bool) -> None:
        rng = np.random.default_rng(shape[0] * 1000 + shape[1])
        n, d = shape
        X = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3, shape)).astype(dtype)
        y = rng.standard_normal(n) * 100
        coef = rng.standard_normal(d)
        w = None
        if weighted:
            w = rng.uniform(0.0, 3.0, n)
            w[1::5] = 0.0
        expected = ridge_reference(X, y, coef, 0.25, w)
        for name, Xv in ridge_layouts(X).items():
            for threads in (1, 3):
                got = _core.ridge_sums(Xv, y, w, coef, 0.25, threads)
                assert same_bits(got, expected), f"{isa} {name} threads={threads}: {got} != {expected}"

    def test_wide_dynamic_range_and_subnormals(self, isa: str) -> None:
        # Terms spanning ~400 decades make the expansions spill into the superaccumulator
        # often; products down to the subnormal range must still be summed exactly.
        rng = np.random.default_rng(11)
        n, d = 2003, 19
        X = rng.standard_normal((n, d)) * 10.0 ** rng.uniform(-150, 100, (n, d))
        X[:50] *= 1e-150  # products ~1e-300 .. subnormal
        y = rng.standard_normal(n) * 10.0 ** rng.uniform(-150, 100, n)
        coef = rng.standard_normal(d) * 10.0 ** rng.uniform(-5, 5, d)
        w = rng.uniform(0.0, 1.0, n) * 10.0 ** rng.uniform(-100, 0, n)
        for weights in (None, w):
            expected = ridge_reference(X, y, coef, -1e-3, weights)
            for Xv in (X, np.asfortranarray(X)):
                for threads in (1, 2):
                    assert same_bits(_core.ridge_sums(Xv, y, weights, coef, -1e-3, threads), expected)

    def test_spilled_residuals_are_kept(self, isa: str) -> None:
        # A term of 1e100 in row 0, cancelled exactly in row 992 (same lane: rows mod 8,
        # or the same column), with terms down to 1e-30 in between: while the 1e100 sits
        # in an expansion, the small terms' bits only survive through the spills into the
        # superaccumulator, and after the cancellation they are the whole result.
        rng = np.random.default_rng(15)
        n, d = 1000, 9
        r = rng.standard_normal(n) * 10.0 ** rng.uniform(-30, 0, n)
        r[0], r[992] = 1e100, -1e100
        X = rng.standard_normal((n, d)) * 10.0 ** rng.uniform(-30, 0, (n, d))
        X[0], X[992] = 1.0, 1.0
        y = -r  # coef = 0 and b = 0: the residuals are exactly r
        coef = np.zeros(d)
        expected = ridge_reference(X, y, coef, 0.0)
        assert abs(expected[3]) < 1e3 and np.all(np.abs(expected[2]) < 1e3)  # the 1e100s cancelled
        for Xv in (X, np.asfortranarray(X)):
            assert same_bits(_core.ridge_sums(Xv, y, None, coef, 0.0, 1), expected)

    @pytest.mark.parametrize("weighted", [False, True])
    def test_same_bits_for_every_isa_thread_count_layout_and_dtype(self, weighted: bool) -> None:
        # Large enough for 7 threads and ~20 blocks of rows per call.
        rng = np.random.default_rng(12)
        n, d = 20011, 33
        X32 = rng.standard_normal((n, d)).astype(np.float32)
        y32 = rng.standard_normal(n).astype(np.float32)
        w = rng.uniform(0.5, 2.0, n) if weighted else None
        coef = rng.standard_normal(d)
        previous = _core.get_isa()
        results = {}
        try:
            for isa_name in _core.supported_isas():
                _core.set_isa(isa_name)
                for dtype in (np.float32, np.float64):  # float32 widens exactly: same bits
                    for name, Xv in ridge_layouts(X32.astype(dtype)).items():
                        for threads in THREAD_COUNTS:
                            yv = y32 if dtype == np.float32 else y32.astype(np.float64)
                            key = (isa_name, dtype.__name__, name, threads)
                            results[key] = _core.ridge_sums(Xv, yv, w, coef, 0.5, threads)
        finally:
            _core.set_isa(previous)
        expected = ridge_reference(X32, y32, coef, 0.5, w)
        for key, got in results.items():
            assert same_bits(got, expected), key

    def test_public_api_same_bits_for_every_isa(self, problem) -> None:
        X, y, w, c, b = problem
        previous = _core.get_isa()
        try:
            got = []
            for isa_name in _core.supported_isas():
                _core.set_isa(isa_name)
                for Xv in (X, np.asfortranarray(X), X[::-1][::-1]):
                    loss, g, gb = l2loss.ridge_loss_and_grad(Xv, y, c, alpha=0.1, intercept=b,
                                                             sample_weight=w)
                    got.append((bits(loss), g.tobytes(), bits(gb)))
        finally:
            _core.set_isa(previous)
        assert all(x == got[0] for x in got)

    @pytest.mark.parametrize("dtype", [np.float64, np.float32])
    def test_misaligned_views(self, isa: str, dtype) -> None:
        # np.frombuffer at an odd offset: every element misaligned, every path must cope.
        rng = np.random.default_rng(16)
        n, d = 203, 13

        def misaligned(a: np.ndarray) -> np.ndarray:
            raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
            v = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
            v[...] = a
            return v

        X = rng.standard_normal((n, d)).astype(dtype)
        y, w, coef = rng.standard_normal(n), rng.uniform(0.5, 2.0, n), rng.standard_normal(d)
        expected = ridge_reference(X, y, coef, 0.5, w)
        for Xv in (misaligned(X), misaligned(np.ascontiguousarray(X.T)).T):  # C and F order
            assert Xv.ctypes.data % Xv.itemsize != 0 and (Xv.flags.c_contiguous or Xv.flags.f_contiguous)
            assert same_bits(_core.ridge_sums(Xv, misaligned(y), misaligned(w), coef, 0.5, 2), expected)

    @pytest.mark.parametrize("case", ["nan_x", "inf_x", "nan_y", "inf_weight", "nan_weight", "overflow"])
    def test_nonfinite_gives_nan(self, isa: str, case: str) -> None:
        rng = np.random.default_rng(13)
        n, d = 301, 10
        X, y, w = rng.standard_normal((n, d)), rng.standard_normal(n), np.ones(n)
        coef = rng.standard_normal(d)
        target, index, value = {"nan_x": (X, (150, 3), np.nan), "inf_x": (X, (7, 9), np.inf),
                                "nan_y": (y, 300, np.nan), "inf_weight": (w, 0, np.inf),
                                "nan_weight": (w, 64, np.nan), "overflow": (X, (20, 0), 1e300)}[case]
        target[index] = value
        for Xv in (X, np.asfortranarray(X)):
            for threads in (1, 2):
                loss, g, gb = l2loss.ridge_loss_and_grad(Xv, y, coef, sample_weight=w, num_threads=threads)
                assert np.isnan(loss) and np.all(np.isnan(g)) and np.isnan(gb), (case, loss, g, gb)

    def test_engine_rejects_float16_buffers(self) -> None:
        # The public function widens float16 first; the engine must not misread them.
        X, y, c = np.ones((4, 2)), np.ones(4), np.zeros(2)
        for args in ((X.astype(np.float16), y, None), (X, y.astype(np.float16), None),
                     (X, y, y.astype(np.float16))):
            with pytest.raises(ValueError, match="float32 or float64"):
                _core.ridge_sums(args[0], args[1], args[2], c, 0.0, 1)
        loss, g, gb = l2loss.ridge_loss_and_grad(X.astype(np.float16), y.astype(np.float16), c,
                                                 sample_weight=y.astype(np.float16))
        assert (loss, gb) == (1.0, -2.0) and np.array_equal(g, [-2.0, -2.0])

    def test_gradient_is_exact_near_the_optimum(self) -> None:
        # At the least-squares solution the gradient's terms cancel to ~1e-16 of their
        # size; summed exactly, it is still the correctly rounded sum of the terms (a
        # blocked double sum would be off by many ulps of the tiny result).
        rng = np.random.default_rng(14)
        X = rng.standard_normal((4000, 6))
        y = X @ rng.standard_normal(6) + rng.standard_normal(4000)
        coef = np.linalg.lstsq(X, y, rcond=None)[0]
        _, _, G, Gb = _core.ridge_sums(X, y, None, coef, 0.0, 2)
        assert np.array_equal(G, ridge_reference(X, y, coef, 0.0)[2])
        assert np.max(np.abs(G)) < 1e-9 * np.abs(X).sum()


class TestTorchModule:
    def test_autograd_matches_torch_and_gradcheck(self) -> None:
        torch = pytest.importorskip("torch")
        import l2loss.torch as lt

        F = torch.nn.functional
        g = torch.Generator().manual_seed(0)
        for red in ("mean", "sum"):
            for dtype in (torch.float32, torch.float64):
                x = torch.randn(50, 3, generator=g, dtype=dtype, requires_grad=True)
                y = torch.randn(50, 3, generator=g, dtype=dtype, requires_grad=True)
                ours = lt.mse_loss(x, y, reduction=red)
                ours.backward()
                gx, gy = x.grad.clone(), y.grad.clone()
                x.grad = y.grad = None
                F.mse_loss(x, y, reduction=red).backward()
                tol = 1e-6 if dtype == torch.float32 else 1e-14
                assert torch.allclose(ours, F.mse_loss(x, y, reduction=red), rtol=tol)
                assert torch.allclose(gx, x.grad, rtol=tol) and torch.allclose(gy, y.grad, rtol=tol)
                assert ours.grad_fn is not None and "MSEFunction" in type(ours.grad_fn).__name__
        x = torch.randn(20, 3, generator=g, dtype=torch.float64, requires_grad=True)
        y = torch.randn(20, 3, generator=g, dtype=torch.float64)
        w = torch.rand(20, 3, generator=g, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda a: lt.mse_loss(a, y), (x,))
        assert torch.autograd.gradcheck(lambda a: lt.mse_loss(a, y, reduction="sum", weight=w), (x,))
        assert torch.allclose(lt.MSELoss(reduction="sum")(x, y), F.mse_loss(x, y, reduction="sum"))

    def test_fallbacks_keep_torch_semantics(self) -> None:
        torch = pytest.importorskip("torch")
        import l2loss.torch as lt

        F = torch.nn.functional
        x, y = torch.zeros(3, 1), torch.tensor([1.0, 2.0, 3.0])
        with pytest.warns(UserWarning):
            assert torch.equal(lt.mse_loss(x, y), F.mse_loss(x, y))  # broadcasting: torch's op
        assert torch.equal(
            lt.mse_loss(x[:, 0], y, reduction="none"), F.mse_loss(x[:, 0], y, reduction="none")
        )
        h = torch.ones(4, dtype=torch.float16)
        assert lt.mse_loss(h, h * 2).dtype == torch.float16
        assert torch.isnan(lt.mse_loss(torch.zeros(0), torch.zeros(0)))


# Gradients of 2^22 elements and more are written with non-temporal stores after a scalar
# head that aligns them (engine.cpp kStreamGradElements); these sizes reach that path.
STREAM_N = (1 << 22) + 37


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("offset", [0, 1, 3])  # out= views starting 0, 1 or 3 elements into a buffer
@pytest.mark.parametrize("weighted", [False, True])
def test_streamed_gradient_matches_numpy_bitwise(isa: str, dtype, offset: int, weighted: bool) -> None:
    threads = 3
    rng = np.random.default_rng(offset + 10 * weighted)
    y = rng.standard_normal(STREAM_N).astype(dtype)
    p = (y + rng.standard_normal(STREAM_N).astype(dtype)).astype(dtype)
    w = rng.random(STREAM_N).astype(dtype) if weighted else None
    buf = np.full(STREAM_N + offset + 5, -7.0, dtype=dtype)
    out = buf[offset : offset + STREAM_N]
    loss, g = l2loss.mse_value_and_grad(y, p, sample_weight=w, reduction="sum", out=out, num_threads=threads)
    assert g is out
    d = p.astype(np.float64) - y.astype(np.float64)
    want = 2.0 * (d if w is None else w * d)  # "sum": scale 2, exact doubling of fl(w*d)
    assert np.array_equal(g, want.astype(dtype))
    assert (buf[:offset] == -7.0).all() and (buf[offset + STREAM_N :] == -7.0).all()
    terms = d * d if w is None else w * (d * d)
    assert bits(loss) == bits(math.fsum(terms))  # fsum: the correctly rounded exact sum
    mean_loss, _ = l2loss.mse_value_and_grad(y, p, sample_weight=w, out=out, num_threads=threads)
    assert bits(mean_loss) == bits(
        l2loss.mean_squared_error(y.astype(np.float64), p.astype(np.float64), sample_weight=w)
    )
