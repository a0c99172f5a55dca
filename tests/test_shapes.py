"""Every 2-D shape and layout gives each column exactly its 1-D bits (issue #16, item 2).

The engine walks a 2-D input three ways (engine.cpp, "shapes"): row chunks with one state
per column; row chunks whose blocks of a C-ordered (packed) operand are first copied column
by column into a per-thread buffer (up to 64 columns); and, for wide inputs (more than 256
columns and at most 8 rows per column), tiles of 32 columns shared out among the threads.
The careful pass (non-finite values) and the exact target-moments pass (tiny targets) take
the same tiles. None of it may change a bit: every column is compared with an oracle that
does not share our code (Fractions over the same IEEE terms, computed in Python floats), and
every layout, thread count and ISA with `==` on the bits.
"""

from __future__ import annotations

from fractions import Fraction

import l2loss
import numpy as np
import pytest
from _support import THREAD_COUNTS, bits, exact_sum, to_double
from l2loss import _core

# (rows, cols): packed row blocks (k <= 64), row chunks (k > 64 with many rows), wide tiles
# (k > 256, rows <= 8 k) with full and partial last tiles, and the boundaries between them.
SHAPES = [
    (1, 2),
    (3, 2),
    (1001, 2),
    (257, 3),
    (4099, 16),
    (300, 63),
    (300, 64),
    (300, 65),
    (2100, 257),  # 257 columns but > 8 rows per column: row chunks
    (5, 257),  # the first wide shape: 9 tiles, the last one column
    (1, 700),
    (33, 1000),
    (2, 4127),
]


def _pair(rng: np.random.Generator, shape: tuple[int, int], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    y = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, size=shape)
    p = y + rng.standard_normal(shape)
    return y.astype(dtype), p.astype(dtype)


def _layouts(a: np.ndarray) -> dict[str, np.ndarray]:
    """The same values as C, F, strided and negative-stride views."""
    big = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
    big[:, ::2] = a
    return {
        "C": np.ascontiguousarray(a),
        "F": np.asfortranarray(a),
        "strided": big[:, ::2],
        "reversed": np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1],
    }


def _column_mse_oracle(y: np.ndarray, p: np.ndarray) -> list[float]:
    out = []
    for j in range(y.shape[1]):
        terms = [(b - a) * (b - a) for a, b in zip(y[:, j].tolist(), p[:, j].tolist())]  # not ** 2: libm pow
        out.append(to_double(exact_sum(terms) / len(terms)))
    return out


def _column_mae_oracle(y: np.ndarray, p: np.ndarray) -> list[float]:
    out = []
    for j in range(y.shape[1]):
        terms = [abs(float(b) - float(a)) for a, b in zip(y[:, j].tolist(), p[:, j].tolist())]
        out.append(to_double(exact_sum(terms) / len(terms)))
    return out


def _bits(values: np.ndarray) -> list[bytes]:
    return [bits(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def _as_result(got: np.ndarray, oracle: list[float]) -> list[bytes]:
    """The oracle's doubles in the result's dtype (raw_values of float32 inputs are float32,
    as in scikit-learn), as bits."""
    return _bits(np.asarray(oracle, dtype=np.float64).astype(got.dtype))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_raw_values_match_the_fraction_oracle_in_every_layout(
    shape: tuple[int, int], dtype: str, isa: str
) -> None:
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    y, p = _pair(rng, shape, dtype)
    want_sq, want_abs = _column_mse_oracle(y, p), _column_mae_oracle(y, p)
    for name_y, yy in _layouts(y).items():
        for name_p, pp in _layouts(p).items():
            if name_y != name_p and {name_y, name_p} != {"C", "F"}:
                continue  # mixed layouts: C against F is the one that matters
            got = l2loss.mean_squared_error(yy, pp, multioutput="raw_values")
            assert _bits(got) == _as_result(got, want_sq), (name_y, name_p)
            got = l2loss.mean_absolute_error(yy, pp, multioutput="raw_values")
            assert _bits(got) == _as_result(got, want_abs), (name_y, name_p)


@pytest.mark.parametrize(
    "shape", [(4099, 16), (300, 65), (5, 257), (33, 1000)], ids=lambda s: f"{s[0]}x{s[1]}"
)
def test_every_function_and_thread_count_gives_the_bits_of_one_column_at_a_time(
    shape: tuple[int, int],
) -> None:
    rng = np.random.default_rng(7)
    y, p = _pair(rng, shape, "float64")
    w = rng.uniform(0.5, 2.0, size=shape[0])
    per_column = {
        "mse": [
            l2loss.mean_squared_error(y[:, j].copy(), p[:, j].copy(), sample_weight=w)
            for j in range(shape[1])
        ],
        "mae": [
            l2loss.mean_absolute_error(y[:, j].copy(), p[:, j].copy(), sample_weight=w)
            for j in range(shape[1])
        ],
        "r2": [l2loss.r2_score(y[:, j].copy(), p[:, j].copy(), sample_weight=w) for j in range(shape[1])],
        "ev": [
            l2loss.explained_variance_score(y[:, j].copy(), p[:, j].copy(), sample_weight=w)
            for j in range(shape[1])
        ],
    }
    for threads in THREAD_COUNTS:
        for yy, pp in ((y, p), (np.asfortranarray(y), np.asfortranarray(p))):
            kw = dict(sample_weight=w, multioutput="raw_values", num_threads=threads)
            got = {
                "mse": l2loss.mean_squared_error(yy, pp, **kw),
                "mae": l2loss.mean_absolute_error(yy, pp, **kw),
                "r2": l2loss.r2_score(yy, pp, **kw),
                "ev": l2loss.explained_variance_score(yy, pp, **kw),
            }
            for name, values in got.items():
                assert _bits(values) == _bits(per_column[name]), (name, threads)
            report = l2loss.regression_report(
                yy, pp, sample_weight=w, multioutput="raw_values", num_threads=threads
            )
            assert _bits(report.mse) == _bits(per_column["mse"])
            assert _bits(report.r2) == _bits(per_column["r2"])


@pytest.mark.parametrize("shape", [(4099, 16), (5, 257), (33, 1000)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_state_bytes_do_not_depend_on_layout_threads_or_isa(shape: tuple[int, int], isa: str) -> None:
    rng = np.random.default_rng(11)
    y, p = _pair(rng, shape, "float64")
    want = None
    for threads in THREAD_COUNTS:
        for yy, pp in ((y, p), (np.asfortranarray(y), np.asfortranarray(p)), (y, np.asfortranarray(p))):
            state = _core.reduce(yy, pp, sums=_core.PROFILE_REPORT, num_threads=threads).to_bytes()
            want = want or state
            assert state == want, threads


@pytest.mark.parametrize("shape", [(300, 16), (5, 257), (3, 1000)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_non_finite_values_take_the_careful_pass_column_by_column(shape: tuple[int, int]) -> None:
    """The careful pass walks the same tiles: NaN/inf land in their own column only."""
    rng = np.random.default_rng(3)
    y, p = _pair(rng, shape, "float64")
    y[0, 1] = np.nan
    p[-1, -1] = np.inf
    # The public functions refuse NaN (sklearn's error); the engine's own reduce takes it.
    sums = _core.PROFILE_REPORT
    want = [_core.reduce(y[:, j].copy(), p[:, j].copy(), sums=sums).to_bytes() for j in range(shape[1])]
    for threads in THREAD_COUNTS:
        r = _core.reduce(y, p, sums=sums, num_threads=threads)
        assert r.careful
        for j in range(shape[1]):
            one = _core.reduce(y[:, j : j + 1], p[:, j : j + 1], sums=sums)
            assert one.to_bytes() == want[j]
        assert _bits(r.mean(_core.ACC_SQ)) == _bits(
            [_core.reduce(y[:, j].copy(), p[:, j].copy()).mean(_core.ACC_SQ)[0] for j in range(shape[1])]
        )
        means = r.mean(_core.ACC_SQ)
        assert np.isnan(means[1]) and means[-1] == np.inf and np.isfinite(means[0])
        assert r.input_flags == _core.Y_TRUE_NAN | _core.Y_PRED_INF


@pytest.mark.parametrize("shape", [(300, 16), (5, 257), (3, 1000)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_tiny_targets_take_the_exact_moments_pass_column_by_column(shape: tuple[int, int]) -> None:
    """Targets near 1e-300 make sum y^2 need exact terms (target_moments.hpp): also per tile."""
    rng = np.random.default_rng(5)
    y = rng.standard_normal(shape) * 1e-160
    p = y + rng.standard_normal(shape) * 1e-161
    for threads in THREAD_COUNTS:
        got = l2loss.r2_score(y, p, multioutput="raw_values", num_threads=threads)
        for j in range(shape[1]):
            yj = [Fraction(v) for v in y[:, j].tolist()]
            terms = [(b - a) * (b - a) for a, b in zip(y[:, j].tolist(), p[:, j].tolist())]
            num = exact_sum(terms)
            mean = sum(yj) / len(yj)
            den = sum((v - mean) ** 2 for v in yj)
            want = 1.0 - to_double(num) / to_double(den)
            assert bits(got[j]) == bits(want), (threads, j)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_narrow_pairs_in_wide_and_packed_shapes(dtype: str) -> None:
    """Packed blocks copy 2-byte elements too."""
    if dtype == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        np_dtype = np.dtype(ml_dtypes.bfloat16)
    else:
        np_dtype = np.dtype(dtype)
    rng = np.random.default_rng(9)
    for shape in [(1000, 16), (5, 300)]:
        y = rng.standard_normal(shape).astype(np_dtype)
        p = rng.standard_normal(shape).astype(np_dtype)
        want = _column_mse_oracle(y.astype(np.float64), p.astype(np.float64))
        for yy in (y, np.asfortranarray(y)):
            got = l2loss.mean_squared_error(yy, p, multioutput="raw_values")
            assert _bits(got) == _as_result(got, want)


def test_gradient_of_a_packed_input_is_written_where_it_belongs() -> None:
    """Value-and-gradient passes read packed blocks through the buffer but write the gradient
    at the caller's addresses."""
    rng = np.random.default_rng(13)
    y, p = _pair(rng, (5000, 16), "float64")
    value, grad = l2loss.mse_value_and_grad(y, p)
    value_f, grad_f = l2loss.mse_value_and_grad(np.asfortranarray(y), np.asfortranarray(p))
    assert bits(value) == bits(value_f)
    assert np.array_equal(grad, grad_f)
    np.testing.assert_array_equal(grad, (2.0 / p.size) * (p - y))  # grad_scale * fl(d), engine.hpp


# The packed-rows kernel (C-ordered pairs, MSE / MAE): lanes across columns, so every k
# hits a different lane -> column pattern (period lcm(k, lanes) / lanes vectors, tails,
# vectors straddling rows for the weights).
PACKED_WIDTHS = (2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 24, 63, 64, 65, 100)


@pytest.mark.parametrize("k", PACKED_WIDTHS)
def test_packed_rows_weighted_and_mixed_dtypes_against_the_oracle(k: int, isa: str) -> None:
    rng = np.random.default_rng(k)
    n = 37 + 3 * k  # a tail in most blocks
    y = rng.standard_normal((n, k)) * 10.0 ** rng.integers(-3, 4, size=(n, k))
    p = y + rng.standard_normal((n, k))
    w = rng.uniform(0.25, 4.0, size=2 * n)
    for ty, tp, tw in (
        ("float64", "float64", "float64"),
        ("float32", "float64", "float32"),
        ("float64", "float32", None),
    ):
        yy, pp = y.astype(ty), p.astype(tp)
        ww = None if tw is None else w.astype(tw)[::2]  # strided weights
        yl, pl = yy.tolist(), pp.tolist()
        wl = [1.0] * n if ww is None else ww.tolist()
        want_sq, want_abs = [], []
        for j in range(k):
            sq = [wl[i] * ((pl[i][j] - yl[i][j]) * (pl[i][j] - yl[i][j])) for i in range(n)]
            ab = [wl[i] * abs(pl[i][j] - yl[i][j]) for i in range(n)]
            total_w = exact_sum(wl)
            want_sq.append(to_double(exact_sum(sq) / total_w))
            want_abs.append(to_double(exact_sum(ab) / total_w))
        for threads in (1, 3):
            kw = dict(sample_weight=ww, multioutput="raw_values", num_threads=threads)
            got = l2loss.mean_squared_error(yy, pp, **kw)
            assert _bits(got) == _as_result(got, want_sq), (ty, tp, tw, threads)
            got = l2loss.mean_absolute_error(yy, pp, **kw)
            assert _bits(got) == _as_result(got, want_abs), (ty, tp, tw, threads)


def test_packed_rows_non_finite_values_rerun_carefully() -> None:
    rng = np.random.default_rng(1)
    for k in (2, 3, 16, 65):
        y, p = _pair(rng, (50, k), "float64")
        y[7, 1] = np.inf  # an inf term in a vector lane
        p[-1, 0] = np.nan  # a NaN near the end (in the tail when 50 k is not a multiple of the lanes)
        r = _core.reduce(y, p)
        assert r.careful
        means = r.mean(_core.ACC_SQ)
        want = [_core.reduce(y[:, j].copy(), p[:, j].copy()).mean(_core.ACC_SQ)[0] for j in range(k)]
        assert _bits(means) == _bits(want)
        assert means[1] == np.inf and np.isnan(means[0])


def test_packed_rows_one_row_with_any_row_stride() -> None:
    """A (1, k) view may carry any row stride: still one flat run."""
    rng = np.random.default_rng(2)
    big_y, big_p = rng.standard_normal((5, 40)), rng.standard_normal((5, 40))
    y, p = big_y[2:3, 3:36], big_p[2:3, 3:36]
    got = l2loss.mean_squared_error(y, p, multioutput="raw_values")
    assert _bits(got) == _bits([(b - a) * (b - a) for a, b in zip(y[0].tolist(), p[0].tolist())])
