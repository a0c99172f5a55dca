"""Every element type through every entry point that can reach the exact target-moments
rerun (R^2, explained variance, the report, the accumulator), against the same values
widened to float64 -- an oracle that shares no load code with the narrow paths.

Regression tests for a bfloat16 over-read: the rerun's dtype switch knew float16 and
float32 only, so bfloat16 targets were read as float64 (8 bytes per 2-byte element): up
to 6 bytes past the buffer, a SIGSEGV when the array ends at a page boundary, and wrong
R^2 values (1.0 instead of 0.99985... with one weight of 1e-310). The rerun runs when a
target or weight is tiny, a term overflows, or an input is not finite, so each of those
triggers is exercised at every position of small arrays.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import warnings

import l2loss
import numpy as np
import pytest
from _support import bits

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32), "float16": np.dtype(np.float16),
          "bfloat16": BF16}


def _r2(y, p, **kw):
    return l2loss.r2_score(y, p, multioutput="raw_values", **kw)


def _ev(y, p, **kw):
    return l2loss.explained_variance_score(y, p, multioutput="raw_values", **kw)


def _report(y, p, **kw):
    rep = l2loss.regression_report(y, p, multioutput="raw_values", **kw)
    return np.concatenate(
        [np.atleast_1d(np.asarray(getattr(rep, f), np.float64)) for f in ("mse", "r2", "explained_variance")]
    )


def _accumulator(y, p, sample_weight=None, **kw):
    acc = l2loss.RegressionAccumulator(**kw)
    half = len(y) // 2
    w0 = None if sample_weight is None else sample_weight[:half]
    w1 = None if sample_weight is None else sample_weight[half:]
    acc.update(y[:half], p[:half], w0)
    acc.update(y[half:], p[half:], w1)
    rep = acc.compute(multioutput="raw_values")
    return np.concatenate(
        [np.atleast_1d(np.asarray(getattr(rep, f), np.float64)) for f in ("mse", "r2", "explained_variance")]
    )


ENTRY_POINTS = {"r2_score": _r2, "explained_variance_score": _ev, "regression_report": _report,
                "RegressionAccumulator": _accumulator}


def _outcome(fn, *args, **kwargs):
    """The bits of a result, or the exception's type and message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = np.asarray(fn(*args, **kwargs))
        except (ValueError, TypeError) as e:
            # sklearn's message names the working dtype, which differs by design
            return type(e), re.sub(r"dtype\('\w+'\)", "dtype(...)", str(e))
    return out


def _same(got, want) -> bool:
    """Same error, or the same bits once the float64 oracle is rounded to the result's
    dtype (narrow inputs compute in float32, sklearn's working dtype, from the same exact
    sums; the oracle's rounding to float32 is the one the narrow path makes)."""
    if isinstance(want, tuple) or isinstance(got, tuple):
        return got == want
    with np.errstate(all="ignore"):
        return np.asarray(want).astype(got.dtype).tobytes() == got.tobytes()


def _targets(n: int, cols: int | None, dtype: np.dtype, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (n,) if cols is None else (n, cols)
    y = rng.uniform(-4, 4, shape).astype(dtype)
    p = (y.astype(np.float64) + rng.uniform(-0.5, 0.5, shape)).astype(dtype)
    return y, p


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("cols", [None, 3])
def test_non_finite_target_at_every_position_matches_float64(
    entry: str, dtype: str, cols: int | None
) -> None:
    fn, dt = ENTRY_POINTS[entry], DTYPES[dtype]
    for n in range(2, 34):
        y, p = _targets(n, cols, dt, seed=n)
        for pos in sorted({0, n // 2, n - 1}):
            for bad in (np.nan, np.inf, -np.inf):
                yy = y.copy()
                yy[pos] = bad
                want = _outcome(fn, yy.astype(np.float64), p.astype(np.float64))
                got = _outcome(fn, yy, p)
                assert _same(got, want), (n, pos, bad, got, want)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("weight", [1e-310, 1e300, 5e-324])
def test_extreme_weight_with_narrow_targets_matches_float64(entry: str, dtype: str, weight: float) -> None:
    fn, dt = ENTRY_POINTS[entry], DTYPES[dtype]
    for n in (2, 3, 7, 16, 17, 33, 1000):
        for cols in (None, 2):
            y, p = _targets(n, cols, dt, seed=100 + n)
            w = np.random.default_rng(n).uniform(0.5, 2.0, n)
            w[n // 2] = weight
            want = _outcome(fn, y.astype(np.float64), p.astype(np.float64), sample_weight=w)
            got = _outcome(fn, y, p, sample_weight=w)
            assert _same(got, want), (n, cols, got, want)


def test_bfloat16_tiny_weight_r2_is_the_exact_value() -> None:
    """The probe's case: one weight of 1e-310 made the bfloat16 R^2 exactly 1.0."""
    from fractions import Fraction

    y = np.array([1.0, 2.0, 3.5, -1.25, 0.5], dtype=BF16)
    p = np.array([1.5, 2.0, 3.0, -1.0, 0.25], dtype=BF16)
    w = np.array([1.0, 1e-310, 2.0, 1.0, 0.5])
    ys, ps, ws = ([Fraction(float(v)) for v in a] for a in (y.astype(np.float64), p.astype(np.float64), w))
    wsum = sum(ws)
    mean = sum(wi * yi for wi, yi in zip(ws, ys)) / wsum
    num = sum(wi * (pi - yi) ** 2 for wi, yi, pi in zip(ws, ys, ps))
    den = sum(wi * (yi - mean) ** 2 for wi, yi in zip(ws, ys))
    got = l2loss.r2_score(y, p, sample_weight=w)  # float64 weights: float64 working dtype
    assert got != 1.0
    assert abs(Fraction(float(got)) - (1 - num / den)) <= Fraction(2) ** -52 * abs(1 - num / den)
    assert bits(got) == bits(l2loss.r2_score(y.astype(np.float64), p.astype(np.float64), sample_weight=w))


_GUARD_PAGE_CHILD = textwrap.dedent(
    """
    import ctypes, mmap, sys, warnings
    import numpy as np
    import ml_dtypes
    import l2loss

    dtype = np.dtype(sys.argv[1])
    page = mmap.PAGESIZE
    region = mmap.mmap(-1, 2 * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(region))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(ctypes.c_void_p(base + page), page, 0) != 0:  # PROT_NONE after the array
        raise OSError(ctypes.get_errno(), "mprotect")
    rng = np.random.default_rng(0)
    for n in range(2, 34):
        for cols in (1, 2):
            count = n * cols
            # the array's last element ends exactly at the guard page
            y = np.frombuffer(region, dtype=dtype, count=count, offset=page - count * dtype.itemsize)
            y = y.reshape(n, cols) if cols > 1 else y
            y[...] = rng.uniform(-3, 3, y.shape).astype(dtype)
            p = (y.astype(np.float64) + 0.25).astype(dtype)
            w = rng.uniform(0.5, 2, n)
            w[0] = 1e-310
            for pos in (0, n - 1):
                for kw in ({}, {"sample_weight": w}):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        saved = y.flat[pos]
                        y.flat[pos] = np.nan
                        fns = (l2loss.r2_score, l2loss.explained_variance_score, l2loss.regression_report)
                        for fn in fns:
                            try:
                                fn(y, p, **kw)
                            except ValueError:
                                pass
                        y.flat[pos] = saved
                        l2loss.r2_score(y, p, **kw)
                        l2loss.regression_report(y, p, **kw)
                        acc = l2loss.RegressionAccumulator()
                        acc.update(y, p, kw.get("sample_weight"))
                        acc.compute()
    print("ok")
    """
)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
def test_targets_ending_at_a_guard_page_are_not_over_read(dtype: str) -> None:
    """An array whose last byte is followed by a PROT_NONE page: any over-read is a SIGSEGV
    in the child (the release build's symptom of the bfloat16 bug)."""
    proc = subprocess.run([sys.executable, "-c", _GUARD_PAGE_CHILD, dtype], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip() == "ok"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_bandwidth_probe_refuses_narrow_floats(dtype: str) -> None:
    """The probe's own dtype switch read every non-float64 pair as float32: a 2-byte pair
    was read 4 bytes per element, past the end of both buffers."""
    from l2loss import _core

    a = np.ones(1000, DTYPES[dtype])
    with pytest.raises(ValueError, match="float32 or float64"):
        _core._bandwidth_probe(a, a.copy(), 1)
