"""Scale: more than 2**31 elements through zero-stride views, with exact answers known.
"""

from __future__ import annotations

import math
from fractions import Fraction

import l2loss
import numpy as np
import pytest
from _support import METRICS, log1p_diff, to_double

skm = pytest.importorskip("sklearn.metrics")




# ================================================================================================
# 6. Scale: more than 2**31 elements through zero-stride views, exact answers known
# ================================================================================================

BIG_N = 2**31 + 9
Y0, P0 = 0.1, 0.3  # d = fl(0.3 - 0.1) = 0.19999999999999998: sums of it drift in float, not here


def _expected_constant(name: str, y: float, p: float, w: float | None = None) -> float:
    """Metrics of n identical rows: the mean of n equal terms is the term itself."""
    d = p - y
    if name == "mean_squared_error":
        return (w * (d * d)) / w if w is not None else d * d  # fl(w*t)/w exactly rounded (w power of 2)
    if name == "root_mean_squared_error":
        return math.sqrt(d * d)
    if name == "mean_absolute_error":
        return abs(d)
    if name == "max_error":
        return abs(d)
    if name in ("mean_squared_log_error", "root_mean_squared_log_error"):
        t = log1p_diff(y, p) ** 2
        return t if name == "mean_squared_log_error" else math.sqrt(t)
    if name == "r2_score":
        return 0.0 if d != 0 else 1.0  # constant target: denominator exactly 0
    if name == "explained_variance_score":
        return 1.0  # constant residual: numerator and denominator exactly 0
    raise AssertionError(name)


def _broadcast_1d(dtype=np.float64):
    return np.broadcast_to(dtype(Y0), (BIG_N,)), np.broadcast_to(dtype(P0), (BIG_N,))


@pytest.mark.slow
@pytest.mark.parametrize("name", [m for m in METRICS if "log" not in m])
def test_more_than_2_31_rows_every_metric(name: str) -> None:
    y, p = _broadcast_1d()
    assert l2loss.__dict__[name](y, p) == _expected_constant(name, Y0, P0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mean_squared_log_error", "root_mean_squared_log_error"])
def test_more_than_2_31_rows_log_metrics(name: str) -> None:
    y, p = _broadcast_1d()
    assert l2loss.__dict__[name](y, p) == _expected_constant(name, Y0, P0)


@pytest.mark.slow
def test_more_than_2_31_rows_weighted() -> None:
    y, p = _broadcast_1d()
    w = np.broadcast_to(np.float32(0.5), (BIG_N,))
    assert l2loss.mean_squared_error(y, p, sample_weight=w) == _expected_constant(
        "mean_squared_error", Y0, P0, 0.5
    )
    rep = l2loss.regression_report(y, p, sample_weight=w)
    assert rep.weight_sum == BIG_N / 2 and rep.n_samples == BIG_N


def test_more_than_2_31_elements_two_columns_report() -> None:
    """(n, 2) zero-stride view, 2**31 + 6 elements, every field of the report exact."""
    n = 2**30 + 3
    yv, pv = np.array([Y0, 2.0]), np.array([P0, -1.0])
    y, p = np.broadcast_to(yv, (n, 2)), np.broadcast_to(pv, (n, 2))
    assert y.size > 2**31
    rep = l2loss.regression_report(y, p, multioutput="raw_values")
    d = [P0 - Y0, -3.0]
    assert rep.n_samples == n and rep.weight_sum == float(n)
    assert rep.mse.tolist() == [x * x for x in d]
    assert rep.rmse.tolist() == [math.sqrt(x * x) for x in d]
    assert rep.mae.tolist() == [abs(x) for x in d] and rep.max_error.tolist() == [abs(x) for x in d]
    assert rep.mean_error.tolist() == d
    assert rep.r2.tolist() == [0.0, 0.0]  # constant targets recognised exactly
    assert rep.explained_variance.tolist() == [1.0, 1.0]
    uniform = l2loss.regression_report(y, p)
    assert uniform.mse == to_double((Fraction(d[0] * d[0]) + Fraction(d[1] * d[1])) / 2)


@pytest.mark.slow
@pytest.mark.parametrize("name", [m for m in METRICS if "log" not in m and m != "max_error"])
def test_more_than_2_31_elements_two_columns_every_metric(name: str) -> None:
    n = 2**30 + 3
    y = np.broadcast_to(np.array([Y0, 2.0]), (n, 2))
    p = np.broadcast_to(np.array([P0, -1.0]), (n, 2))
    got = l2loss.__dict__[name](y, p, multioutput="raw_values")
    assert got.tolist() == [_expected_constant(name, Y0, P0), _expected_constant(name, 2.0, -1.0)]
