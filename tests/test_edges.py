"""Non-finite values, overflow, huge index ranges and dtype conversions at the engine edge."""

from __future__ import annotations

import math

import l2loss
import numpy as np
import pytest
from _support import exact_sum, terms_sq
from l2loss import _core


class TestNonFinite:
    def test_finite_overflow_gives_inf_not_an_error(self, isa: str) -> None:
        # sklearn: inf (with a RuntimeWarning, which l2loss now reports too -- issue #15.4);
        # the inputs are finite, so no ValueError.
        with pytest.warns(RuntimeWarning, match="overflow encountered in square"):
            assert l2loss.mean_squared_error([1e200, 0], [-1e200, 0]) == math.inf
        y = np.zeros(1001)
        p = np.ones(1001)
        p[500] = 1.7e308
        y[500] = -1.7e308  # the difference itself overflows
        with pytest.warns(RuntimeWarning, match="overflow encountered in subtract"):
            assert l2loss.mean_squared_error(y, p) == math.inf
        with pytest.warns(RuntimeWarning, match="overflow encountered in subtract"):
            assert l2loss.mean_absolute_error(y, p) == math.inf

    def test_overflow_is_distinguished_from_nan_input(self, isa: str) -> None:
        y = np.zeros(1001)
        p = np.ones(1001)
        r = _core.reduce(y, p * 1e200, None, sums=_core.SUM_SQ)
        assert r.careful and r.input_flags == 0  # overflow: inputs were finite
        p[3] = np.nan
        r = _core.reduce(y, p, None, sums=_core.SUM_SQ)
        assert r.input_flags == _core.Y_PRED_NAN
        y[7] = -np.inf
        r = _core.reduce(y, p, None, sums=_core.SUM_SQ)
        assert r.input_flags == _core.Y_PRED_NAN | _core.Y_TRUE_INF

    @pytest.mark.parametrize("where", [0, 5, 16, 4096, 99_999])
    def test_nan_anywhere_is_reported(self, isa: str, where: int) -> None:
        y = np.ones(100_000)
        p = np.zeros(100_000)
        p[where] = np.nan
        with pytest.raises(ValueError, match="Input contains NaN"):
            l2loss.mean_squared_error(y, p)
        p[where] = np.inf
        with pytest.raises(ValueError, match="infinity"):
            l2loss.regression_report(y, p)
        p[where] = 0
        w = np.ones(100_000)
        w[where] = np.nan
        with pytest.raises(ValueError, match="Input sample_weight contains NaN"):
            l2loss.mean_absolute_error(y, p, sample_weight=w)

    def test_nonfinite_after_clean_call_does_not_leak_state(self) -> None:
        y = np.arange(10.0)
        with pytest.raises(ValueError):
            l2loss.mean_squared_error(y, np.full(10, np.nan))
        assert l2loss.mean_squared_error(y, y + 1) == 1.0


class TestHugeIndexRanges:
    def test_more_than_2_to_31_rows(self) -> None:
        # Zero-stride views: 2**31 + 9 rows without allocating them. Exact answer known.
        n = 2**31 + 9
        y = np.broadcast_to(np.float32(0.25), (n,))
        p = np.broadcast_to(np.float32(-1.25), (n,))
        rep = l2loss.regression_report(y, p)
        assert rep.n_samples == n
        assert rep.mse == 2.25 and rep.mae == 1.5 and rep.mean_error == -1.5
        assert rep.weight_sum == float(n)
        r = _core.reduce(y, p, None, sums=_core.SUM_SQ)
        assert r.total(0)[0] == float(2.25 * n)  # 2.25 * n is exact in double


class TestConversions:
    def test_float16_is_read_natively_and_exactly(self, isa: str) -> None:
        import tracemalloc

        rng = np.random.default_rng(0)
        special = np.array([0, -0.0, 6e-8, -6e-8, 65504, -65504, 1e-5, 0.1, 2**-14, -(2**-24)], np.float16)
        y = np.concatenate([rng.standard_normal(1000).astype(np.float16), special])
        p = np.concatenate([rng.standard_normal(1000).astype(np.float16), special[::-1]])
        for yy, pp in ((y, p), (y[::-3], p[::-3])):
            exact = exact_sum(terms_sq(yy.astype(np.float64), pp.astype(np.float64))) / len(yy)
            assert l2loss.mean_squared_error(yy, pp) == float(exact)
        raw = l2loss.mean_squared_error(y, p, multioutput="raw_values")
        assert raw.dtype == np.float16  # sklearn's working dtype is kept for raw values
        big = np.ones(1 << 20, np.float16)
        tracemalloc.start()
        try:
            l2loss.mean_squared_error(big, big)
            assert tracemalloc.get_traced_memory()[1] < 64 * 1024  # read in place, no float32 copy
        finally:
            tracemalloc.stop()

    def test_non_native_byte_order(self) -> None:
        y = np.arange(100, dtype=">f8")
        p = (np.arange(100) + 0.5).astype("<f8")
        assert l2loss.mean_squared_error(y, p) == 0.25

    def test_integers_do_not_wrap(self) -> None:
        assert l2loss.mean_squared_error(np.int8([127]), np.int8([-128])) == 65025.0
        assert l2loss.max_error(np.int8([127]), np.int8([-128])) == 255.0
        assert l2loss.max_error(np.array([2**62]), np.array([-(2**62)])) == 2.0**63

    def test_unaligned_and_readonly_views(self) -> None:
        buf = np.zeros(8 * 1001 + 3, dtype=np.uint8)
        y = np.frombuffer(buf.tobytes(), dtype=np.float64, count=1000, offset=3)  # unaligned, read-only
        assert not y.flags.aligned and not y.flags.writeable
        p = np.ones(1000)
        assert l2loss.mean_squared_error(y, p) == 1.0
        assert l2loss.mean_squared_error(y[::-3], p[::-3]) == 1.0

    def test_mixed_precision_pairs_are_native(self) -> None:
        y32 = np.float32([0.1, 0.2, 0.3])
        p64 = np.array([0.0, 0.0, 0.0])
        exact = exact_sum(terms_sq(y32.astype(np.float64), p64)) / 3
        assert l2loss.mean_squared_error(y32, p64) == float(exact)


def test_num_threads_argument_is_validated() -> None:
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="num_threads"):
            l2loss.mean_squared_error(np.ones(3), np.ones(3), sample_weight=np.ones(3), num_threads=bad)
    assert l2loss.mean_squared_error(np.ones(3), np.zeros(3), num_threads=7) == 1.0
