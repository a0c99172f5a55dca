"""r2_score runs a kernel profile of its own (squared errors and target moments: 4 of the
report's 7 exact sums). Its result must be the report's R^2 bit for bit -- the report still
runs the all-sums profile -- on every ISA, dtype, layout, weighting and thread count, including
the targets whose moments need the exact per-row terms (tiny and huge |y|), and it must match
an exact oracle."""

from __future__ import annotations

from fractions import Fraction

import l2loss
import numpy as np
import pytest
from _support import THREAD_COUNTS, bits, exact_sum


def oracle_r2(y: np.ndarray, p: np.ndarray, w: np.ndarray | None) -> float:
    """1 - SSE/TSS with SSE the exact sum of the rounded terms w*(p - y)^2 (the MSE contract)
    and TSS exact, in Fractions; correctly rounded at the end like l2loss's two parts."""
    yt = [float(v) for v in y.astype(np.float64)]
    yp = [float(v) for v in p.astype(np.float64)]
    ws = [1.0] * len(yt) if w is None else [float(v) for v in w]
    sse = float(exact_sum(wi * ((b - a) * (b - a)) for a, b, wi in zip(yt, yp, ws)))
    W = sum(Fraction(v) for v in ws)
    s1 = sum(Fraction(wi) * Fraction(a) for a, wi in zip(yt, ws))
    s2 = sum(Fraction(wi) * Fraction(a) ** 2 for a, wi in zip(yt, ws))
    tss = float((W * s2 - s1 * s1) / W)
    return 1.0 - sse / tss


def data(n: int, dtype: str, kind: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + n)
    if kind == "benign":
        y = rng.standard_normal(n) * 3.0 + 1.0
        p = y + rng.standard_normal(n) * 0.3
    elif kind == "tiny":  # y*y underflows the fast terms: the exact per-row moments take over
        y = rng.standard_normal(n) * 1e-160
        p = y + rng.standard_normal(n) * 1e-161
    else:  # "huge": y*y overflows the fast terms, yet the variance around the mean is finite
        y = 2e154 + rng.standard_normal(n) * 2e144
        p = y + rng.standard_normal(n) * 1e143
    return y.astype(dtype), p.astype(dtype)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("n", [2, 3, 17, 33, 1000, 4097])
def test_r2_profile_matches_the_report_and_the_oracle(isa: str, n: int, dtype: str, weighted: bool) -> None:
    y, p = data(n, dtype, "benign")
    w = np.random.default_rng(n).random(n) if weighted else None
    got = l2loss.r2_score(y, p, sample_weight=w)
    assert bits(got) == bits(l2loss.regression_report(y, p, sample_weight=w).r2)
    assert bits(got) == bits(oracle_r2(y, p, w))


@pytest.mark.parametrize("kind", ["tiny", "huge"])
def test_r2_profile_with_targets_that_need_exact_moments(isa: str, kind: str) -> None:
    y, p = data(3001, "float64", kind)
    for w in (None, np.random.default_rng(1).random(3001)):
        got = l2loss.r2_score(y, p, sample_weight=w)
        assert bits(got) == bits(l2loss.regression_report(y, p, sample_weight=w).r2)


@pytest.mark.parametrize("layout", ["strided", "negative", "two-outputs-C", "two-outputs-F"])
def test_r2_profile_layouts_and_threads(layout: str) -> None:
    y, p = data(2 * 70001, "float64", "benign")
    if layout == "strided":
        y, p = y[::2], p[1::2]
    elif layout == "negative":
        y, p = y[::-2], p[::-2]
    else:
        order = "C" if layout.endswith("C") else "F"
        y, p = np.asarray(y.reshape(-1, 2), order=order), np.asarray(p.reshape(-1, 2), order=order)
    want = l2loss.r2_score(y, p, multioutput="raw_values", num_threads=1)
    report = l2loss.regression_report(y, p, multioutput="raw_values", num_threads=1).r2
    assert np.array_equal(np.asarray(want).view(np.uint64), np.asarray(report).view(np.uint64))
    for t in THREAD_COUNTS:
        got = l2loss.r2_score(y, p, multioutput="raw_values", num_threads=t)
        assert np.array_equal(np.asarray(got).view(np.uint64), np.asarray(want).view(np.uint64))


def test_r2_profile_non_finite_input_keeps_sklearns_errors() -> None:
    skm = pytest.importorskip("sklearn.metrics")
    y, p = data(100, "float64", "benign")
    for bad in (np.nan, np.inf, -np.inf):
        for which in ("y_true", "y_pred"):
            a, b = y.copy(), p.copy()
            (a if which == "y_true" else b)[50] = bad
            with pytest.raises(ValueError) as want:
                skm.r2_score(a, b)
            with pytest.raises(ValueError) as got:
                l2loss.r2_score(a, b)
            assert str(got.value) == str(want.value)
