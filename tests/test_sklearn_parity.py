"""Value / type / dtype / warning parity of l2loss with scikit-learn 1.9 regression metrics.

What this file proves
---------------------
For every public metric of l2loss (``mean_squared_error``, ``root_mean_squared_error``,
``mean_absolute_error``, ``mean_squared_log_error``, ``root_mean_squared_log_error``,
``r2_score``, ``explained_variance_score``, ``max_error``) and for ``regression_report``:

* the value equals what scikit-learn returns on the *same* inputs (1-D and 2-D, every container
  type, dtype, memory layout, ``sample_weight`` kind and ``multioutput`` mode);
* the return type is exactly sklearn's (builtin ``float`` for aggregates, ``numpy.ndarray`` of
  shape ``(n_outputs,)`` and sklearn's dtype for ``multioutput="raw_values"``);
* the R^2 single-sample path returns ``float('nan')`` with ``l2loss.UndefinedMetricWarning``;
* the documented *intended* differences hold (exact sums, float32 computed exactly in double,
  ``max_error`` computing differences in floating point, accepting bool input).

Oracles
-------
* The real ``sklearn.metrics`` (never mocked) is called on the same inputs.  float64 results must
  agree to ``rtol=1e-13``; when sklearn works in float32 / float16 arithmetic it is only compared
  loosely (1e-5 / 5e-2) and l2loss is instead checked *tightly* against an independent float64
  ``math.fsum`` oracle (``_fsum_oracle`` below) or an exact ``fractions.Fraction`` computation.
* Exactness also implies invariances that are asserted bit for bit: memory layout, thread count,
  integer (power-of-two) weights versus repeated rows, zero weights versus dropped rows.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
import zlib
from fractions import Fraction
from typing import Any

import l2loss
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm

# --------------------------------------------------------------------------------------------
# constants and helpers
# --------------------------------------------------------------------------------------------

AVG_FUNCS = (
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "mean_squared_log_error",
    "root_mean_squared_log_error",
)
SCORE_FUNCS = ("r2_score", "explained_variance_score")
WEIGHTED_FUNCS = AVG_FUNCS + SCORE_FUNCS  # accept sample_weight / multioutput
ALL_FUNCS = WEIGHTED_FUNCS + ("max_error",)
LOG_FUNCS = frozenset({"mean_squared_log_error", "root_mean_squared_log_error"})
ROOT_FUNCS = frozenset({"root_mean_squared_error", "root_mean_squared_log_error"})

RTOL64 = 1e-13  # float64 working dtype: sklearn has rounding error, l2loss is exact
RTOL32_SK = 1e-5  # float32 working dtype: sklearn computes in float32
RTOL16_SK = 5e-2  # float16 working dtype: sklearn computes in float16
RTOL_ORACLE_AGG = 1e-12  # l2loss aggregate (a double) vs the float64 fsum oracle
ULP_REL = {  # l2loss raw_values array (rounded to its dtype) vs the float64 oracle
    np.dtype(np.float64): 1e-12,
    np.dtype(np.float32): 2.0**-23,
    np.dtype(np.float16): 2.0**-10,
}

R2_MSG = "R^2 score is not well-defined with less than two samples."

REPORT_FIELDS = (
    "mse",
    "rmse",
    "mae",
    "r2",
    "explained_variance",
    "max_error",
    "mean_error",
    "n_samples",
    "weight_sum",
)
REPORT_FIELD_FUNC = {
    "mse": "mean_squared_error",
    "rmse": "root_mean_squared_error",
    "mae": "mean_absolute_error",
    "r2": "r2_score",
    "explained_variance": "explained_variance_score",
}


def _rng(*key: Any) -> np.random.Generator:
    """A seeded generator whose seed is a stable function of ``key`` (test-id independent)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _sk(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call sklearn; its numpy RuntimeWarnings (0/0, x/0, overflow) must not turn into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return getattr(skm, name)(*args, **kwargs)


def _l2(name: str, *args: Any, allow_runtime_warning: bool = False, **kwargs: Any) -> Any:
    """Call l2loss.  RuntimeWarnings are tolerated (not required) only where sklearn emits them."""
    if allow_runtime_warning:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return getattr(l2loss, name)(*args, **kwargs)
    return getattr(l2loss, name)(*args, **kwargs)


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"ndarray(dtype={x.dtype}, shape={x.shape}, {x!r})"
    return f"{type(x).__name__}({x!r})"


def assert_same_result(expected: Any, got: Any, *, rtol: float, check_dtype: bool = True) -> None:
    """``got`` has exactly the type (and array dtype/shape) of ``expected`` and matches its value."""
    msg = f"sklearn={_describe(expected)} l2loss={_describe(got)}"
    if isinstance(expected, np.ndarray):
        assert type(got) is np.ndarray, msg
        assert got.shape == expected.shape, msg
        if check_dtype:
            assert got.dtype == expected.dtype, msg
        np.testing.assert_allclose(
            got.astype(np.float64),
            expected.astype(np.float64),
            rtol=rtol,
            atol=0,
            equal_nan=True,
            err_msg=msg,
        )
    else:
        assert type(expected) is float, f"oracle bug: sklearn returned {type(expected)}"
        assert type(got) is float, msg
        if math.isnan(expected):
            assert math.isnan(got), msg
        elif math.isinf(expected):
            assert got == expected, msg
        else:
            assert got == pytest.approx(expected, rel=rtol, abs=0), msg


def assert_bitwise_equal(a: Any, b: Any) -> None:
    """Identical results: same type, same dtype, same bits (nan == nan)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
        assert np.array_equal(a, b, equal_nan=True), (a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), (a, b)
    else:
        assert a == b, (a, b)


def make_pair(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float64):
    """y_true in (-0.5, 8), y_pred = y_true + N(0, 1) clipped above -0.9 (valid for MSLE too)."""
    yt = rng.uniform(-0.5, 8.0, size=shape)
    yp = np.clip(yt + rng.normal(0.0, 1.0, size=shape), -0.9, None)
    return yt.astype(dtype), yp.astype(dtype)


SW_KINDS = ("none", "positive", "with_zeros", "negative", "integer", "float32", "list")


def make_weights(kind: str, rng: np.random.Generator, n: int) -> Any:
    if kind == "none":
        return None
    if kind == "positive":
        return rng.uniform(0.1, 3.0, n)
    if kind == "with_zeros":
        w = rng.uniform(0.1, 3.0, n)
        w[::4] = 0.0
        return w
    if kind == "negative":
        w = rng.uniform(-0.5, 2.0, n)
        w[0] = -0.5  # at least one negative weight; the sum stays clearly positive
        return w
    if kind == "integer":
        w = rng.integers(0, 5, n)
        w[0] = 3
        return w
    if kind == "float32":
        return rng.uniform(0.1, 3.0, n).astype(np.float32)
    if kind == "list":
        return [float(v) for v in rng.uniform(0.1, 3.0, n)]
    raise AssertionError(kind)


def _avg(v: np.ndarray, w: np.ndarray | None) -> float:
    if w is None:
        return math.fsum(v) / len(v)
    return math.fsum(w * v) / math.fsum(w)


def _fsum_oracle(
    name: str,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    multioutput: Any = "uniform_average",
    force_finite: bool = True,
) -> Any:
    """Independent float64 re-implementation of the sklearn formulas with math.fsum sums.

    Returns a float or a float64 array (raw_values).  Used to check l2loss tightly where sklearn
    itself computes in float32/float16.
    """
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    if yt.ndim == 1:
        yt = yt.reshape(-1, 1)
    if yp.ndim == 1:
        yp = yp.reshape(-1, 1)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    ww = np.ones(yt.shape[0]) if w is None else w
    n_out = yt.shape[1]
    per, nums, dens = [], [], []
    for j in range(n_out):
        t, p = yt[:, j], yp[:, j]
        if name in LOG_FUNCS:
            t, p = np.log1p(t), np.log1p(p)
        d = t - p
        if name in ("mean_squared_error", "root_mean_squared_error") or name in LOG_FUNCS:
            v = _avg(d * d, w)
            per.append(math.sqrt(v) if name in ROOT_FUNCS else v)
        elif name == "mean_absolute_error":
            per.append(_avg(np.abs(d), w))
        elif name == "r2_score":
            tbar = _avg(t, w)
            nums.append(math.fsum(ww * d * d))
            dens.append(math.fsum(ww * (t - tbar) ** 2))
        elif name == "explained_variance_score":
            tbar = _avg(t, w)
            dbar = _avg(d, w)
            nums.append(_avg((d - dbar) ** 2, w))
            dens.append(_avg((t - tbar) ** 2, w))
        else:
            raise AssertionError(name)
    if name in SCORE_FUNCS:
        for num, den in zip(nums, dens):
            if not force_finite:
                per.append(1.0 - num / den if den != 0 else (math.nan if num == 0 else -math.inf))
            elif num == 0:
                per.append(1.0)
            elif den == 0:
                per.append(0.0)
            else:
                per.append(1.0 - num / den)
    per_a = np.array(per)
    if isinstance(multioutput, str) and multioutput == "raw_values":
        return per_a
    if multioutput is None or (isinstance(multioutput, str) and multioutput == "uniform_average"):
        return math.fsum(per) / n_out
    if isinstance(multioutput, str) and multioutput == "variance_weighted":
        if not any(d != 0 for d in dens):
            return math.fsum(per) / n_out
        return math.fsum(np.array(dens) * per_a) / math.fsum(dens)
    mo = np.asarray(multioutput, dtype=np.float64)
    return math.fsum(mo * per_a) / math.fsum(mo)


def assert_close_to_oracle(got: Any, oracle: Any, expected_dtype: Any = None) -> None:
    """Tight check of l2loss against the float64 fsum oracle."""
    if isinstance(oracle, np.ndarray):
        assert type(got) is np.ndarray
        if expected_dtype is not None:
            assert got.dtype == np.dtype(expected_dtype)
        np.testing.assert_allclose(
            got.astype(np.float64),
            oracle,
            rtol=ULP_REL[got.dtype],
            atol=0,
            err_msg=f"l2loss={got!r} oracle={oracle!r}",
        )
    else:
        assert type(got) is float
        assert got == pytest.approx(oracle, rel=RTOL_ORACLE_AGG, abs=0), (got, oracle)


def _mo_modes(name: str) -> list[Any]:
    modes: list[Any] = ["raw_values", "uniform_average"]
    if name in SCORE_FUNCS:
        modes.append("variance_weighted")
    if name == "r2_score":
        modes.append(None)
    return modes


# --------------------------------------------------------------------------------------------
# public API surface
# --------------------------------------------------------------------------------------------


def test_exception_classes():
    assert issubclass(l2loss.UndefinedMetricWarning, UserWarning)
    assert issubclass(l2loss.InvalidParameterError, ValueError)
    assert issubclass(l2loss.InvalidParameterError, TypeError)


@pytest.mark.parametrize("name", ALL_FUNCS + ("regression_report",))
def test_public_functions_exist_and_are_keyword_only(name):
    import inspect

    fn = getattr(l2loss, name)
    assert callable(fn)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        pytest.skip("no introspectable signature")
    params = list(sig.parameters.values())
    assert [p.name for p in params[:2]] == ["y_true", "y_pred"]
    for p in params[2:]:
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, (name, p)
    assert "num_threads" in sig.parameters
    assert sig.parameters["num_threads"].default is None
    if name in WEIGHTED_FUNCS or name == "regression_report":
        assert sig.parameters["sample_weight"].default is None
        assert sig.parameters["multioutput"].default == "uniform_average"
    if name in SCORE_FUNCS:
        assert sig.parameters["force_finite"].default is True


# --------------------------------------------------------------------------------------------
# documented examples (anchor_semantics.md §1), exact printed values
# --------------------------------------------------------------------------------------------

YT4, YP4 = [3, -0.5, 2, 7], [2.5, 0.0, 2, 8]
YT32 = [[0.5, 1], [-1, 1], [7, -6]]
YP32 = [[0, 2], [-1, 2], [8, -5]]
SWT, SWP, SWW = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 3.0, 6.0], [1, 2, 0, 1]

DOC_EXAMPLES = [
    ("mse", "mean_squared_error", (YT4, YP4), {}, 0.375),
    ("rmse", "root_mean_squared_error", (YT4, YP4), {}, 0.6123724356957945),
    ("mae", "mean_absolute_error", (YT4, YP4), {}, 0.5),
    ("r2", "r2_score", (YT4, YP4), {}, 0.9486081370449679),
    ("evs", "explained_variance_score", (YT4, YP4), {}, 0.9571734475374732),
    ("max_error", "max_error", ([3, 2, 7, 1], [4, 2, 7, 1]), {}, 1.0),
    ("mse_raw_1d", "mean_squared_error", (YT4, YP4), {"multioutput": "raw_values"}, np.array([0.375])),
    ("msle", "mean_squared_log_error", ([3, 5, 2.5, 7], [2.5, 5, 4, 8]), {}, 0.03973012298459379),
    ("rmsle", "root_mean_squared_log_error", ([3, 5, 2.5, 7], [2.5, 5, 4, 8]), {}, 0.19932416558108),
    ("mse_2d", "mean_squared_error", (YT32, YP32), {}, 0.7083333333333334),
    (
        "mse_2d_raw",
        "mean_squared_error",
        (YT32, YP32),
        {"multioutput": "raw_values"},
        np.array([5 / 12, 1.0]),
    ),
    ("mse_2d_w", "mean_squared_error", (YT32, YP32), {"multioutput": [0.3, 0.7]}, 0.825),
    ("mse_2d_w_unnorm", "mean_squared_error", (YT32, YP32), {"multioutput": [3, 7]}, 0.825),
    ("rmse_2d", "root_mean_squared_error", (YT32, YP32), {}, 0.8227486121839513),
    (
        "rmse_2d_raw",
        "root_mean_squared_error",
        (YT32, YP32),
        {"multioutput": "raw_values"},
        np.array([math.sqrt(5 / 12), 1.0]),
    ),
    ("r2_2d", "r2_score", (YT32, YP32), {}, 0.9368005266622779),
    ("r2_2d_vw", "r2_score", (YT32, YP32), {"multioutput": "variance_weighted"}, 0.9382566585956417),
    ("r2_2d_none", "r2_score", (YT32, YP32), {"multioutput": None}, 0.9368005266622779),
    ("mse_2d_negw", "mean_squared_error", (YT32, YP32), {"multioutput": [-1, 2]}, 1.5833333333333333),
    (
        "mse_n1_raw",
        "mean_squared_error",
        ([[1], [2]], [[1], [3]]),
        {"multioutput": "raw_values"},
        np.array([0.5]),
    ),
    ("msle_neg_half", "mean_squared_log_error", ([-0.5], [0.0]), {}, 0.4804530139182014),
    ("sw_mse", "mean_squared_error", (SWT, SWP), {"sample_weight": SWW}, 1.5),
    ("sw_mae", "mean_absolute_error", (SWT, SWP), {"sample_weight": SWW}, 1.0),
    ("sw_r2", "r2_score", (SWT, SWP), {"sample_weight": SWW}, -0.26315789473684204),
    ("sw_scaled", "mean_squared_error", (SWT, SWP), {"sample_weight": [10, 20, 0, 10]}, 1.5),
    ("sw_neg_mse", "mean_squared_error", (SWT, SWP), {"sample_weight": [1, -1, 1, 1]}, 1.5),
    ("sw_neg_r2", "r2_score", (SWT, SWP), {"sample_weight": [1, -1, 1, 1]}, 0.25),
    (
        "sw_2d_raw",
        "mean_squared_error",
        ([[1, 2], [3, 4], [5, 6]], [[1, 3], [4, 4], [5, 9]]),
        {"sample_weight": [1, 2, 3], "multioutput": "raw_values"},
        np.array([1 / 3, 14 / 3]),
    ),
    ("n_vs_n1", "mean_squared_error", ([1, 2, 3], [[1], [2], [4]]), {}, 0.3333333333333333),
    ("max_error_n1", "max_error", ([[1], [3]], [[1], [5]]), {}, 2.0),
    ("int_lists", "mean_squared_error", ([1, 2, 3], [2, 2, 5]), {}, 1.6666666666666667),
    (
        "bool_arrays",
        "mean_squared_error",
        (np.array([True, False, True]), np.array([False, False, True])),
        {},
        0.3333333333333333,
    ),
    ("int8_no_wrap", "mean_squared_error", (np.int8([127]), np.int8([-128])), {}, 65025.0),
    ("f64_tenth", "mean_squared_error", ([0.1], [0.0]), {}, 0.010000000000000002),
    (
        "f32_raw",
        "mean_squared_error",
        (np.float32([1, 2]), np.float32([1, 3])),
        {"multioutput": "raw_values"},
        np.float32([0.5]),
    ),
    (
        "f32_list_raw",
        "mean_squared_error",
        (np.float32([1, 2]), [1, 3.0]),
        {"multioutput": "raw_values"},
        np.float32([0.5]),
    ),
    (
        "int_f16_raw",
        "mean_squared_error",
        (np.array([1, 2]), np.float16([1, 2.5])),
        {"multioutput": "raw_values"},
        np.float16([0.125]),
    ),
    (
        "f32_f64_raw",
        "mean_squared_error",
        (np.float32([1, 2]), np.float64([1, 3])),
        {"multioutput": "raw_values"},
        np.array([0.5]),
    ),
    (
        "f32_sw64_raw",
        "mean_squared_error",
        (np.float32([1, 2]), np.float32([1, 3])),
        {"sample_weight": np.array([1.0, 2.0]), "multioutput": "raw_values"},
        np.array([2 / 3]),
    ),
    (
        "object_arrays",
        "mean_squared_error",
        (np.array([1, 2.5], dtype=object), np.array([1, 3], dtype=object)),
        {},
        0.125,
    ),
    ("str_list", "mean_squared_error", (["1", "2"], [1, 3]), {}, 0.5),
    ("str_arrays", "mean_squared_error", (np.array(["1", "2"]), ["1", "4"]), {}, 2.0),
    (
        "series_index_ignored",
        "mean_squared_error",
        (pd.Series([3, -0.5, 2, 7], index=[3, 2, 1, 0]), pd.Series([2.5, 0.0, 2, 8])),
        {},
        0.375,
    ),
    (
        "dataframe_raw",
        "mean_squared_error",
        (pd.DataFrame({"a": [1.0, 2], "b": [3.0, 4]}), pd.DataFrame({"a": [1.0, 3], "b": [3.0, 6]})),
        {"multioutput": "raw_values"},
        np.array([0.5, 2.0]),
    ),
    (
        "nullable_int64",
        "mean_squared_error",
        (pd.Series([1, 2, 3], dtype="Int64"), pd.Series([1, 2, 4], dtype="Int64")),
        {},
        0.3333333333333333,
    ),
    ("evs_single_sample", "explained_variance_score", ([1.0], [2.0]), {}, 1.0),
    ("r2_const_perfect", "r2_score", ([2, 2, 2], [2, 2, 2]), {}, 1.0),
    ("r2_const_imperfect", "r2_score", ([2, 2, 2], [2, 2, 3]), {}, 0.0),
    ("r2_const_tiny", "r2_score", ([-2, -2, -2], [-2, -2, -2 + 1e-8]), {}, 0.0),
    (
        "r2_vw_all_const",
        "r2_score",
        ([[5, 5], [5, 5]], [[5, 5], [5, 6]]),
        {"multioutput": "variance_weighted"},
        0.5,
    ),
    (
        "r2_vw_one_const",
        "r2_score",
        ([[5, 1], [5, 2], [5, 3]], [[5, 1], [6, 2], [5, 4]]),
        {"multioutput": "variance_weighted"},
        0.5,
    ),
    ("r2_sw_single_nonzero", "r2_score", ([1, 2, 3], [1, 2, 4]), {"sample_weight": [1, 0, 0]}, 1.0),
    ("r2_offset", "r2_score", ([1, 2, 3], [2, 3, 4]), {}, -0.5),
    ("evs_offset", "explained_variance_score", ([1, 2, 3], [2, 3, 4]), {}, 1.0),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "expected"),
    [pytest.param(n, a, k, e, id=i) for i, n, a, k, e in DOC_EXAMPLES],
)
def test_documented_examples(name, args, kwargs, expected):
    got = _l2(name, *args, **kwargs)
    if isinstance(expected, np.ndarray):
        assert type(got) is np.ndarray and got.dtype == expected.dtype and got.shape == expected.shape, got
        np.testing.assert_allclose(got, expected, rtol=1e-15 if expected.dtype == np.float64 else 0)
    else:
        assert type(got) is float, type(got)
        assert got == pytest.approx(expected, rel=1e-13, abs=0)
    # and sklearn agrees with the same comparison
    assert_same_result(
        _sk(name, *args, **kwargs), got, rtol=RTOL64 if not _is_low_precision(args, kwargs) else 1e-3
    )


def _is_low_precision(args: tuple, kwargs: dict) -> bool:
    arrs = list(args) + [kwargs.get("sample_weight")]
    return any(isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float16) for a in arrs) and not any(
        isinstance(a, np.ndarray) and a.dtype == np.float64 for a in arrs
    )


@pytest.mark.parametrize(
    ("y_true", "y_pred", "force_finite", "kwargs", "expected"),
    [
        pytest.param([2, 2, 2], [2, 2, 2], False, {}, math.nan, id="const_perfect_nan"),
        pytest.param([2, 2, 2], [2, 2, 3], False, {}, -math.inf, id="const_imperfect_-inf"),
        pytest.param(
            [[1, 3], [1, 2]],
            [[1, 4], [1, 1]],
            False,
            {"multioutput": "raw_values"},
            np.array([math.nan, -3.0]),
            id="raw_nan_-3",
        ),
        pytest.param(
            [[5, 1], [5, 2], [5, 3]],
            [[5, 1], [6, 2], [5, 4]],
            False,
            {"multioutput": "variance_weighted"},
            math.nan,
            id="vw_0_times_-inf",
        ),
    ],
)
def test_documented_force_finite_false_examples(y_true, y_pred, force_finite, kwargs, expected):
    got = _l2("r2_score", y_true, y_pred, force_finite=force_finite, allow_runtime_warning=True, **kwargs)
    if isinstance(expected, np.ndarray):
        assert type(got) is np.ndarray and got.dtype == np.float64
        np.testing.assert_array_equal(got, expected)
    else:
        assert type(got) is float
        assert (math.isnan(got) and math.isnan(expected)) or got == expected, got


# --------------------------------------------------------------------------------------------
# random data, float64, every sample_weight kind and every multioutput mode
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sw_kind", SW_KINDS)
@pytest.mark.parametrize("name", WEIGHTED_FUNCS)
def test_random_1d_float64(name, sw_kind):
    rng = _rng("1d", name, sw_kind)
    n = 257
    yt, yp = make_pair(rng, (n,))
    sw = make_weights(sw_kind, rng, n)
    for mo in _mo_modes(name):
        exp = _sk(name, yt, yp, sample_weight=sw, multioutput=mo)
        got = _l2(name, yt, yp, sample_weight=sw, multioutput=mo)
        assert_same_result(exp, got, rtol=RTOL64)
        if mo == "raw_values":
            assert got.shape == (1,)


MO_2D = [
    pytest.param("raw_values", id="raw_values"),
    pytest.param("uniform_average", id="uniform_average"),
    pytest.param([0.2, 0.5, 0.3], id="list_weights"),
    pytest.param(np.array([1.0, 2.0, 3.0]), id="array_weights_unnormalised"),
    pytest.param((-1.0, 2.0, 0.5), id="tuple_negative_weights"),
    pytest.param(np.array([0, 1, 3]), id="int_weights_with_zero"),
    pytest.param("variance_weighted", id="variance_weighted"),
    pytest.param(None, id="None"),
]


@pytest.mark.parametrize("sw_kind", ("none", "positive", "with_zeros", "negative", "integer", "float32"))
@pytest.mark.parametrize("multioutput", MO_2D)
@pytest.mark.parametrize("name", WEIGHTED_FUNCS)
def test_random_2d_float64(name, multioutput, sw_kind):
    if isinstance(multioutput, str) and multioutput == "variance_weighted" and name not in SCORE_FUNCS:
        pytest.skip("variance_weighted is r2/EVS only (rejected elsewhere: see test_sklearn_errors)")
    if multioutput is None and name != "r2_score":
        pytest.skip("multioutput=None is r2_score only (rejected elsewhere: see test_sklearn_errors)")
    rng = _rng("2d", name, repr(multioutput), sw_kind)
    n = 301
    yt, yp = make_pair(rng, (n, 3))
    sw = make_weights(sw_kind, rng, n)
    exp = _sk(name, yt, yp, sample_weight=sw, multioutput=multioutput)
    got = _l2(name, yt, yp, sample_weight=sw, multioutput=multioutput)
    assert_same_result(exp, got, rtol=RTOL64)
    if isinstance(multioutput, str) and multioutput == "raw_values":
        assert got.shape == (3,) and got.dtype == np.float64


@pytest.mark.parametrize("name", WEIGHTED_FUNCS)
def test_random_2d_larger(name):
    """n=2000, k=5: exercises the (possibly multi-threaded) engine on a bigger block."""
    rng = _rng("2d-large", name)
    yt, yp = make_pair(rng, (2000, 5))
    sw = rng.uniform(0.0, 2.0, 2000)
    for mo in _mo_modes(name) + [[1.0, 2.0, 0.0, -0.5, 3.0]]:
        for w in (None, sw):
            exp = _sk(name, yt, yp, sample_weight=w, multioutput=mo)
            got = _l2(name, yt, yp, sample_weight=w, multioutput=mo)
            assert_same_result(exp, got, rtol=RTOL64)


# --------------------------------------------------------------------------------------------
# containers: list / tuple / pandas / object / nested lists
# --------------------------------------------------------------------------------------------


def _containers_1d(yt: np.ndarray, yp: np.ndarray) -> dict[str, tuple[Any, Any]]:
    idx = np.arange(len(yt))[::-1]
    return {
        "list": (yt.tolist(), yp.tolist()),
        "tuple": (tuple(yt.tolist()), tuple(yp.tolist())),
        "list_vs_array": (yt.tolist(), yp),
        "series": (pd.Series(yt), pd.Series(yp)),
        "series_reversed_index": (pd.Series(yt, index=idx), pd.Series(yp)),
        "series_vs_list": (pd.Series(yt), yp.tolist()),
        "series_float64_nullable": (pd.Series(yt, dtype="Float64"), pd.Series(yp, dtype="Float64")),
        "dataframe_1col": (pd.DataFrame({"a": yt}), pd.DataFrame({"b": yp})),
        "dataframe_vs_1d": (pd.DataFrame({"a": yt}), yp),
        "object_array": (yt.astype(object), yp.astype(object)),
        "column_vectors": (yt.reshape(-1, 1), yp.reshape(-1, 1)),
        "column_vs_1d": (yt.reshape(-1, 1), yp),
        "nested_lists": (yt.reshape(-1, 1).tolist(), yp.reshape(-1, 1).tolist()),
        "range_vs_list": (range(len(yt)), (np.arange(len(yt)) + yp).tolist()),
    }


CONTAINER_IDS_1D = list(_containers_1d(np.zeros(2), np.zeros(2)).keys())


@pytest.mark.parametrize("container", CONTAINER_IDS_1D)
@pytest.mark.parametrize("name", ALL_FUNCS)
def test_containers_1d(name, container):
    rng = _rng("cont1d", name, container)
    yt, yp = make_pair(rng, (40,))
    a, b = _containers_1d(yt, yp)[container]
    modes = ["raw_values", "uniform_average"] if name != "max_error" else [None]
    sw_list = rng.uniform(0.5, 2.0, 40).tolist()
    for mo in modes:
        kw = {} if name == "max_error" else {"multioutput": mo}
        assert_same_result(_sk(name, a, b, **kw), _l2(name, a, b, **kw), rtol=RTOL64)
        if name != "max_error":
            for sw in (sw_list, tuple(sw_list), pd.Series(sw_list, index=np.arange(40)[::-1])):
                assert_same_result(
                    _sk(name, a, b, sample_weight=sw, **kw),
                    _l2(name, a, b, sample_weight=sw, **kw),
                    rtol=RTOL64,
                )


def _containers_2d(yt: np.ndarray, yp: np.ndarray) -> dict[str, tuple[Any, Any]]:
    cols = ["c0", "c1", "c2"]
    return {
        "nested_lists": (yt.tolist(), yp.tolist()),
        "nested_tuples": (tuple(map(tuple, yt.tolist())), tuple(map(tuple, yp.tolist()))),
        "dataframe": (pd.DataFrame(yt, columns=cols), pd.DataFrame(yp, columns=cols)),
        "dataframe_vs_array": (pd.DataFrame(yt, columns=cols, index=np.arange(len(yt))[::-1]), yp),
        "dataframe_mixed_dtypes": (
            pd.DataFrame(
                {"a": yt[:, 0], "b": yt[:, 1].astype(np.float32), "c": np.round(yt[:, 2]).astype(np.int64)}
            ),
            yp,
        ),
        "object_array": (yt.astype(object), yp.astype(object)),
    }


@pytest.mark.parametrize("container", list(_containers_2d(np.zeros((2, 3)), np.zeros((2, 3))).keys()))
@pytest.mark.parametrize("name", WEIGHTED_FUNCS)
def test_containers_2d(name, container):
    rng = _rng("cont2d", name, container)
    yt, yp = make_pair(rng, (30, 3))
    a, b = _containers_2d(yt, yp)[container]
    sw = rng.uniform(0.5, 2.0, 30)
    for mo in _mo_modes(name) + [[1.0, 3.0, 2.0]]:
        for w in (None, sw):
            assert_same_result(
                _sk(name, a, b, sample_weight=w, multioutput=mo),
                _l2(name, a, b, sample_weight=w, multioutput=mo),
                rtol=RTOL64,
            )


# --------------------------------------------------------------------------------------------
# memory layouts: C / F / strided / negative strides; bitwise layout invariance
# --------------------------------------------------------------------------------------------


def _layouts_2d(rng: np.random.Generator, n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    yt, yp = make_pair(rng, (n, 3))
    big_t, big_p = make_pair(rng, (3 * n, 3))
    wide_t, wide_p = make_pair(rng, (n, 6))
    return {
        "C": (yt, yp),
        "F": (np.asfortranarray(yt), np.asfortranarray(yp)),
        "C_vs_F": (yt, np.asfortranarray(yp)),
        "row_stride_3": (big_t[::3], big_p[::3]),
        "negative_row_stride": (big_t[::-1][:n], big_p[::-1][:n]),
        "column_stride_2": (wide_t[:, ::2], wide_p[:, ::2]),
        "negative_both": (yt[::-1, ::-1], yp[::-1, ::-1]),
        "transposed_view": (np.ascontiguousarray(yt.T).T, np.ascontiguousarray(yp.T).T),
    }


LAYOUTS_2D = list(_layouts_2d(np.random.default_rng(0), 4).keys())


@pytest.mark.parametrize("layout", LAYOUTS_2D)
@pytest.mark.parametrize("name", WEIGHTED_FUNCS)
def test_layouts_2d(name, layout):
    rng = _rng("layout2d", name, layout)
    n = 211
    a, b = _layouts_2d(rng, n)[layout]
    big_w = rng.uniform(0.1, 2.0, 3 * n)
    weights = {
        "none": None,
        "contig": np.ascontiguousarray(big_w[:n]),
        "strided": big_w[::3],
        "reversed": big_w[::-1][:n],
    }
    for _wname, w in weights.items():
        for mo in ("raw_values", "uniform_average"):
            got = _l2(name, a, b, sample_weight=w, multioutput=mo)
            assert_same_result(_sk(name, a, b, sample_weight=w, multioutput=mo), got, rtol=RTOL64)
            # exact sums: the layout must not change a single bit
            w_c = None if w is None else np.ascontiguousarray(w)
            ref = _l2(
                name, np.ascontiguousarray(a), np.ascontiguousarray(b), sample_weight=w_c, multioutput=mo
            )
            assert_bitwise_equal(got, ref)


@pytest.mark.parametrize(
    "layout", ["contig", "stride_3", "negative_stride", "column_of_C_matrix", "column_of_F_matrix"]
)
@pytest.mark.parametrize("name", ALL_FUNCS)
def test_layouts_1d(name, layout):
    rng = _rng("layout1d", name, layout)
    n = 199
    big_t, big_p = make_pair(rng, (3 * n, 4))
    views = {
        "contig": (np.ascontiguousarray(big_t[:n, 0]), np.ascontiguousarray(big_p[:n, 0])),
        "stride_3": (big_t[::3, 0], big_p[::3, 1]),
        "negative_stride": (big_t[::-1, 2][:n], big_p[::-1, 3][:n]),
        "column_of_C_matrix": (big_t[:n, 1], big_p[:n, 2]),
        "column_of_F_matrix": (np.asfortranarray(big_t)[:n, 1], np.asfortranarray(big_p)[:n, 2]),
    }
    a, b = views[layout]
    if name == "max_error":
        got = _l2(name, a, b)
        assert_same_result(_sk(name, a, b), got, rtol=RTOL64)
        assert_bitwise_equal(got, _l2(name, np.ascontiguousarray(a), np.ascontiguousarray(b)))
        return
    w = rng.uniform(0.1, 2.0, 3 * n)[::-3][:n]
    for sw in (None, w):
        got = _l2(name, a, b, sample_weight=sw)
        assert_same_result(_sk(name, a, b, sample_weight=sw), got, rtol=RTOL64)
        sw_c = None if sw is None else np.ascontiguousarray(sw)
        assert_bitwise_equal(
            got, _l2(name, np.ascontiguousarray(a), np.ascontiguousarray(b), sample_weight=sw_c)
        )


# --------------------------------------------------------------------------------------------
# dtypes: the working dtype rules, raw_values dtype, float32/float16 accuracy
# --------------------------------------------------------------------------------------------


def _cast(v: np.ndarray, kind: str) -> Any:
    if kind == "list":
        return v.tolist()
    if kind in ("int64", "int32", "int8", "uint8"):
        return np.round(v).astype(kind)
    if kind == "bool":
        return v > np.median(v)
    return v.astype(kind)


DTYPE_PAIRS = [
    # (y_true kind, y_pred kind, sample_weight kind or None)
    ("float32", "float32", None),
    ("float32", "list", None),
    ("list", "float32", None),
    ("float32", "float64", None),
    ("float64", "float32", None),
    ("int64", "float16", None),
    ("float16", "float16", None),
    ("float16", "float32", None),
    ("int64", "int64", None),
    ("int32", "float32", None),
    ("int8", "int8", None),
    ("uint8", "int64", None),
    ("bool", "bool", None),
    ("bool", "float32", None),
    ("float32", "float32", "float32"),
    ("float32", "float32", "float64"),
    ("float32", "float32", "int64"),
    ("float32", "float32", "list"),
    ("float16", "float16", "float32"),
    ("int64", "int64", "float32"),
    ("int64", "list", "float16"),
    ("float16", "float16", "float16"),
    ("float16", "float16", "list"),
    ("float32", "float64", "float16"),
]


def _working_dtype(*objs: Any) -> np.dtype:
    floats = [o.dtype for o in objs if isinstance(o, np.ndarray) and o.dtype.kind == "f"]
    return np.dtype(max(floats, key=lambda d: d.itemsize)) if floats else np.dtype(np.float64)


def _sk_rtol(dt: np.dtype) -> float:
    return {np.dtype(np.float64): RTOL64, np.dtype(np.float32): RTOL32_SK, np.dtype(np.float16): RTOL16_SK}[
        dt
    ]


@pytest.mark.parametrize("ndim", [1, 2], ids=["1d", "2d"])
@pytest.mark.parametrize(
    ("kt", "kp", "kw"), [pytest.param(*p, id=f"{p[0]}-{p[1]}-sw_{p[2]}") for p in DTYPE_PAIRS]
)
@pytest.mark.parametrize("name", WEIGHTED_FUNCS)
def test_dtypes(name, kt, kp, kw, ndim):
    rng = _rng("dtype", name, kt, kp, kw, ndim)
    n = 64
    shape = (n,) if ndim == 1 else (n, 2)
    yt, yp = make_pair(rng, shape)
    if "int" in kt or "int" in kp or "bool" in kt or "bool" in kp:
        yt, yp = yt + 1.0, yp + 1.0  # keep rounded integers >= 0 (uint8, MSLE)
    a, b = _cast(yt, kt), _cast(yp, kp)
    sw = (
        None
        if kw is None
        else _cast(rng.uniform(0.5, 3.0, n) if "int" not in kw else rng.integers(1, 4, n).astype(float), kw)
    )
    dt = _working_dtype(a, b, sw)
    for mo in _mo_modes(name):
        exp = _sk(name, a, b, sample_weight=sw, multioutput=mo)
        got = _l2(name, a, b, sample_weight=sw, multioutput=mo)
        # dtype of raw_values must be sklearn's (checked inside); the tolerance follows the
        # precision sklearn computes in (float16 y with any weights even returns float64)
        assert_same_result(exp, got, rtol=_sk_rtol(dt))
        # sklearn first converts y to the working dtype (a list next to float32 is rounded to
        # float32) and sample_weight to it too (float64 when the working dtype is float16)
        sw_dt = dt if dt in (np.float32, np.float64) else np.dtype(np.float64)
        oracle = _fsum_oracle(
            name,
            np.asarray(a, dtype=dt).astype(np.float64),
            np.asarray(b, dtype=dt).astype(np.float64),
            None if sw is None else np.asarray(sw, dtype=sw_dt).astype(np.float64),
            mo,
        )
        assert_close_to_oracle(got, oracle, expected_dtype=exp.dtype if isinstance(exp, np.ndarray) else None)


@pytest.mark.parametrize("name", WEIGHTED_FUNCS)
def test_float32_exact_against_float64_oracle(name):
    """float32 in: l2loss computes exactly in double; the aggregate is a double-accurate float,
    raw_values is that value rounded to float32.  sklearn (float32 arithmetic) only to 1e-5."""
    rng = _rng("f32oracle", name)
    yt, yp = make_pair(rng, (1500, 3), dtype=np.float32)
    sw = rng.uniform(0.0, 2.0, 1500).astype(np.float32)
    for w in (None, sw):
        for mo in _mo_modes(name) + [np.float32([0.5, 1.0, 2.0])]:
            got = _l2(name, yt, yp, sample_weight=w, multioutput=mo)
            assert_same_result(_sk(name, yt, yp, sample_weight=w, multioutput=mo), got, rtol=RTOL32_SK)
            assert_close_to_oracle(got, _fsum_oracle(name, yt, yp, w, mo), expected_dtype=np.float32)


def test_float32_tenth_squared_is_exact():
    # sklearn: float32 arithmetic -> 0.010000000707805157; l2loss: exact square of float32(0.1)
    exact = float(Fraction(float(np.float32(0.1))) ** 2)
    assert exact == 0.010000000298023226
    got = l2loss.mean_squared_error(np.float32([0.1]), np.float32([0.0]))
    assert type(got) is float and got == exact
    assert _sk("mean_squared_error", np.float32([0.1]), np.float32([0.0])) == pytest.approx(
        got, rel=RTOL32_SK
    )
    raw = l2loss.mean_squared_error(np.float32([0.1]), np.float32([0.0]), multioutput="raw_values")
    assert raw.dtype == np.float32 and raw[0] == np.float32(exact)


# --------------------------------------------------------------------------------------------
# exact sums (intended difference 1)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_error"])
def test_near_zero_weight_sum_is_exact(name):
    """[0.1, 0.2, -0.3] sums to 2**-55 exactly (numpy: 2**-54, sklearn gives 3602879701896397.0)."""
    wsum = Fraction(0.1) + Fraction(0.2) + Fraction(-0.3)
    assert wsum == Fraction(1, 2**55)
    expected = float(Fraction(0.2) / wsum)  # only the middle row has an error, |d| = d**2 = 1
    got = _l2(name, [1, 2, 3], [1, 3, 3], sample_weight=[0.1, 0.2, -0.3])
    assert type(got) is float and got == expected == 7205759403792794.0


@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_error"])
def test_weighted_mean_against_fraction_oracle(name):
    rng = _rng("fraction", name)
    yt = rng.normal(0, 1e3, 300)
    yp = yt + rng.normal(0, 1.0, 300)
    w = rng.uniform(-1.0, 3.0, 300)
    num = Fraction(0)
    for t, p, wi in zip(yt.tolist(), yp.tolist(), w.tolist()):
        d = Fraction(t) - Fraction(p)
        num += Fraction(wi) * (d * d if name == "mean_squared_error" else abs(d))
    den = sum((Fraction(v) for v in w.tolist()), Fraction(0))
    exact = float(num / den)
    got = _l2(name, yt, yp, sample_weight=w)
    assert got == pytest.approx(exact, rel=5e-16, abs=0)


# --------------------------------------------------------------------------------------------
# invariances that exactness makes bit-for-bit
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WEIGHTED_FUNCS)
def test_sample_weight_invariances_bitwise(name):
    rng = _rng("inv", name)
    n = 60
    yt, yp = make_pair(rng, (n, 2))
    reps = rng.choice([0, 1, 2, 4], size=n)
    reps[0] = 1
    rows = np.repeat(np.arange(n), reps)
    for mo in ("raw_values", "uniform_average"):
        weighted = _l2(name, yt, yp, sample_weight=reps, multioutput=mo)
        repeated = _l2(name, yt[rows], yp[rows], multioutput=mo)
        assert_bitwise_equal(weighted, repeated)  # integer weights == repeated rows
        keep = reps > 0
        dropped = _l2(name, yt[keep], yp[keep], sample_weight=reps[keep], multioutput=mo)
        assert_bitwise_equal(weighted, dropped)  # zero weight == dropped row
        scaled = _l2(name, yt, yp, sample_weight=reps * 8.0, multioutput=mo)
        assert_bitwise_equal(weighted, scaled)  # scale invariance
        ones = _l2(name, yt, yp, sample_weight=np.ones(n), multioutput=mo)
        assert_bitwise_equal(ones, _l2(name, yt, yp, multioutput=mo))  # None == all ones
        assert_same_result(_sk(name, yt, yp, sample_weight=reps, multioutput=mo), weighted, rtol=RTOL64)


@pytest.mark.parametrize("name", ALL_FUNCS)
def test_num_threads_bitwise_identical(name):
    rng = _rng("threads", name)
    n = 2000
    if name == "max_error":
        yt, yp = make_pair(rng, (n,))
        base = _l2(name, yt, yp)
        for t in (1, 2, 3, 8):
            assert_bitwise_equal(base, _l2(name, yt, yp, num_threads=t))
        assert_same_result(_sk(name, yt, yp), base, rtol=RTOL64)
        return
    yt, yp = make_pair(rng, (n, 3))
    sw = rng.uniform(-0.2, 2.0, n)
    for mo in ("raw_values", "uniform_average"):
        base = _l2(name, yt, yp, sample_weight=sw, multioutput=mo)
        for t in (1, 2, 3, 8):
            assert_bitwise_equal(base, _l2(name, yt, yp, sample_weight=sw, multioutput=mo, num_threads=t))
        assert_same_result(_sk(name, yt, yp, sample_weight=sw, multioutput=mo), base, rtol=RTOL64)


# --------------------------------------------------------------------------------------------
# small n
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ndim", [1, 2], ids=["1d", "2d"])
@pytest.mark.parametrize("name", [f for f in ALL_FUNCS if f != "r2_score"])
def test_single_sample(name, ndim):
    shape = (1,) if ndim == 1 else (1, 2)
    yt = np.full(shape, 2.5)
    yp = np.full(shape, 1.25)
    if name == "max_error":
        if ndim == 2:
            pytest.skip("max_error rejects 2 outputs (test_sklearn_errors)")
        assert_same_result(_sk(name, yt, yp), _l2(name, yt, yp), rtol=RTOL64)
        return
    for mo in _mo_modes(name):
        for sw in (None, [3.0], [-2.0]):
            assert_same_result(
                _sk(name, yt, yp, sample_weight=sw, multioutput=mo),
                _l2(name, yt, yp, sample_weight=sw, multioutput=mo),
                rtol=RTOL64,
            )
    if name == "explained_variance_score":
        assert _l2(name, yt, yp) == 1.0  # num = den = 0 -> 1.0, no single-sample special case


@pytest.mark.parametrize("ndim", [1, 2], ids=["1d", "2d"])
@pytest.mark.parametrize("name", ALL_FUNCS)
def test_two_samples(name, ndim):
    rng = _rng("n2", name, ndim)
    shape = (2,) if ndim == 1 else (2, 3)
    yt, yp = make_pair(rng, shape)
    if name == "max_error":
        if ndim == 2:
            pytest.skip("max_error rejects 2 outputs (test_sklearn_errors)")
        assert_same_result(_sk(name, yt, yp), _l2(name, yt, yp), rtol=RTOL64)
        return
    for mo in _mo_modes(name):
        for sw in (None, [1.0, 3.0], [2.0, 0.0], [-1.0, 2.0]):
            for ff in (True, False) if name in SCORE_FUNCS else (None,):
                kw = {} if ff is None else {"force_finite": ff}
                assert_same_result(
                    _sk(name, yt, yp, sample_weight=sw, multioutput=mo, **kw),
                    _l2(name, yt, yp, sample_weight=sw, multioutput=mo, allow_runtime_warning=True, **kw),
                    rtol=RTOL64,
                )


R2_SINGLE_CASES = [
    pytest.param([1.0], [2.0], {}, id="1d_default"),
    pytest.param([1.0], [2.0], {"multioutput": "raw_values"}, id="1d_raw_values"),
    pytest.param([1.0], [2.0], {"multioutput": "variance_weighted"}, id="1d_variance_weighted"),
    pytest.param([1.0], [2.0], {"multioutput": None}, id="1d_None"),
    pytest.param([1.0], [1.0], {"force_finite": False}, id="1d_perfect_force_finite_false"),
    pytest.param([1.0], [2.0], {"sample_weight": [5.0]}, id="1d_weighted"),
    pytest.param(np.float32([1.0]), np.float32([2.0]), {"multioutput": "raw_values"}, id="1d_f32_raw"),
    pytest.param([[1.0, 2.0]], [[2.0, 2.0]], {}, id="2d_default"),
    pytest.param([[1.0, 2.0]], [[2.0, 2.0]], {"multioutput": "raw_values"}, id="2d_raw_values"),
    pytest.param([[1.0, 2.0]], [[2.0, 2.0]], {"multioutput": "variance_weighted"}, id="2d_variance_weighted"),
    pytest.param([[1.0, 2.0]], [[2.0, 2.0]], {"multioutput": [1.0, 3.0]}, id="2d_custom_weights"),
    pytest.param([[1.0, 2.0, 3.0]], [[1.0, 2.0, 4.0]], {}, id="row_vs_row"),
]


@pytest.mark.parametrize(("y_true", "y_pred", "kwargs"), R2_SINGLE_CASES)
def test_r2_single_sample_nan_and_warning(y_true, y_pred, kwargs):
    with warnings.catch_warnings(record=True) as sk_rec:
        warnings.simplefilter("always")
        exp = skm.r2_score(y_true, y_pred, **kwargs)
    assert type(exp) is float and math.isnan(exp)
    assert [str(w.message) for w in sk_rec] == [R2_MSG]

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        got = l2loss.r2_score(y_true, y_pred, **kwargs)
    assert type(got) is float and math.isnan(got), _describe(got)  # a float even for raw_values
    assert len(rec) == 1, [(w.category, str(w.message)) for w in rec]
    assert rec[0].category is l2loss.UndefinedMetricWarning
    assert str(rec[0].message) == R2_MSG
    with pytest.warns(UserWarning, match=re.escape(R2_MSG)):
        l2loss.r2_score(y_true, y_pred, **kwargs)


def test_r2_two_samples_does_not_warn():
    # filterwarnings=error: any warning here fails the test
    assert_same_result(
        _sk("r2_score", [1.0, 2.0], [1.0, 3.0]), l2loss.r2_score([1.0, 2.0], [1.0, 3.0]), rtol=RTOL64
    )


# --------------------------------------------------------------------------------------------
# R^2 / explained variance: force_finite and constant targets
# --------------------------------------------------------------------------------------------

CONST_CASES = [
    pytest.param([2, 2, 2], [2, 2, 2], None, id="const_perfect"),
    pytest.param([2, 2, 2], [2, 2, 3], None, id="const_imperfect"),
    pytest.param([-2.0, -2.0, -2.0], [-2.0, -2.0, -2.0 + 1e-8], None, id="const_tiny_error"),
    pytest.param([0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.75, 0.5], None, id="const_pow2"),
    pytest.param([1, 2, 3], [1, 2, 3], None, id="perfect_nonconst"),
    pytest.param([1, 2, 3], [2, 3, 4], None, id="offset"),
    pytest.param([[1, 3], [1, 2]], [[1, 4], [1, 1]], None, id="2d_const_and_nonconst"),
    pytest.param([[5, 5], [5, 5]], [[5, 5], [5, 6]], None, id="2d_all_const"),
    pytest.param([[5, 5], [5, 5]], [[5, 5], [5, 5]], None, id="2d_all_const_perfect"),
    pytest.param([[5, 1], [5, 2], [5, 3]], [[5, 1], [6, 2], [5, 4]], None, id="2d_one_const"),
    pytest.param([[5, 1], [5, 2], [5, 3]], [[5, 1], [5, 2], [5, 3]], None, id="2d_perfect_with_const"),
    pytest.param([1, 2, 3], [1, 2, 4], [1, 0, 0], id="weighted_single_nonzero_row"),
    pytest.param([1, 2, 3], [1, 5, 4], [0, 2, 0], id="weighted_single_nonzero_row_imperfect"),
    pytest.param([4, 4, 7], [4, 5, 7], [1, 1, 0], id="weighted_const_after_zero_weight"),
    pytest.param([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], [1, -1, 1, 1], id="negative_weights_perfect"),
]


@pytest.mark.parametrize(
    "force_finite", [True, False, np.True_, np.False_], ids=["ff_True", "ff_False", "ff_npTrue", "ff_npFalse"]
)
@pytest.mark.parametrize(("y_true", "y_pred", "sw"), CONST_CASES)
@pytest.mark.parametrize("name", SCORE_FUNCS)
def test_force_finite_and_constant_targets(name, y_true, y_pred, sw, force_finite):
    modes = _mo_modes(name)
    if np.asarray(y_true).ndim == 2:
        modes = modes + [[1.0, 3.0], [2.0, -1.0]]
    for mo in modes:
        exp = _sk(name, y_true, y_pred, sample_weight=sw, multioutput=mo, force_finite=force_finite)
        got = _l2(
            name,
            y_true,
            y_pred,
            sample_weight=sw,
            multioutput=mo,
            force_finite=force_finite,
            allow_runtime_warning=True,
        )
        assert_same_result(exp, got, rtol=RTOL64)


@pytest.mark.parametrize("name", SCORE_FUNCS)
def test_force_finite_rules_explicit(name):
    kw = {"allow_runtime_warning": True}
    assert _l2(name, [3, 3, 3], [3, 3, 3], **kw) == 1.0  # num == 0 -> 1.0 even with den == 0
    assert _l2(name, [3, 3, 3], [3, 3, 4], **kw) == 0.0  # num != 0, den == 0 -> 0.0
    assert math.isnan(_l2(name, [3, 3, 3], [3, 3, 3], force_finite=False, **kw))
    assert _l2(name, [3, 3, 3], [3, 3, 4], force_finite=False, **kw) == -math.inf
    # variance_weighted, every denominator zero: uniform fallback
    assert _l2(name, [[5, 5], [5, 5]], [[5, 5], [5, 6]], multioutput="variance_weighted", **kw) == 0.5


@pytest.mark.parametrize("name", SCORE_FUNCS)
def test_large_offset_targets(name):
    """y = 1e8 + N(0, 1): sklearn is accurate enough here; l2loss must agree to 1e-10."""
    rng = _rng("offset", name)
    yt = 1e8 + rng.normal(0.0, 1.0, 1000)
    yp = yt + rng.normal(0.0, 0.3, 1000)
    for sw in (None, rng.uniform(0.5, 1.5, 1000)):
        exp = _sk(name, yt, yp, sample_weight=sw)
        got = _l2(name, yt, yp, sample_weight=sw)
        assert type(got) is float
        assert got == pytest.approx(exp, rel=1e-10, abs=0)
        assert 0.8 < got < 0.95


def test_r2_is_not_symmetric():
    yt, yp = [1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 2.0, 7.0]
    assert l2loss.r2_score(yt, yp) == pytest.approx(skm.r2_score(yt, yp), rel=RTOL64, abs=0)
    assert l2loss.r2_score(yp, yt) == pytest.approx(skm.r2_score(yp, yt), rel=RTOL64, abs=0)
    assert l2loss.r2_score(yt, yp) != pytest.approx(l2loss.r2_score(yp, yt), rel=1e-3)


# --------------------------------------------------------------------------------------------
# RMSE / MSLE specifics, overflow
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["root_mean_squared_error", "root_mean_squared_log_error"])
def test_rmse_is_mean_of_per_output_roots(name):
    sq = {
        "root_mean_squared_error": "mean_squared_error",
        "root_mean_squared_log_error": "mean_squared_log_error",
    }[name]
    rng = _rng("rmse_roots", name)
    yt, yp = make_pair(rng, (100, 3))
    yp[:, 2] += 3.0  # make the outputs' errors very different
    raw = _l2(name, yt, yp, multioutput="raw_values")
    np.testing.assert_allclose(raw, np.sqrt(_l2(sq, yt, yp, multioutput="raw_values")), rtol=1e-15)
    uni = _l2(name, yt, yp)
    assert uni == pytest.approx(math.fsum(raw) / 3, rel=1e-15)
    assert uni != pytest.approx(math.sqrt(_l2(sq, yt, yp)), rel=1e-3)  # not sqrt of the mean MSE
    w = [0.5, -1.0, 2.5]
    assert _l2(name, yt, yp, multioutput=w) == pytest.approx(math.fsum(raw * np.array(w)) / 2.0, rel=1e-14)
    assert_same_result(_sk(name, yt, yp, multioutput=w), _l2(name, yt, yp, multioutput=w), rtol=RTOL64)


def test_rmse_docstring_vs_sqrt_mse():
    assert l2loss.root_mean_squared_error(YT32, YP32) == pytest.approx(0.8227486121839513, rel=1e-15)
    assert l2loss.root_mean_squared_error(YT32, YP32) != pytest.approx(0.8416254115301732, rel=1e-6)


@pytest.mark.parametrize("name", sorted(LOG_FUNCS))
def test_msle_values_between_minus_one_and_zero(name):
    rng = _rng("msle_neg", name)
    yt = rng.uniform(-0.999, 0.0, (80, 2))
    yp = rng.uniform(-0.999, 0.0, (80, 2))
    sw = rng.uniform(0.1, 1.0, 80)
    for mo in ("raw_values", "uniform_average", [1.0, 2.0]):
        for w in (None, sw):
            assert_same_result(
                _sk(name, yt, yp, sample_weight=w, multioutput=mo),
                _l2(name, yt, yp, sample_weight=w, multioutput=mo),
                rtol=RTOL64,
            )
    assert _l2(name, [-0.5], [0.0]) == pytest.approx(
        0.4804530139182014 if name == "mean_squared_log_error" else math.sqrt(0.4804530139182014), rel=1e-15
    )
    assert _l2(name, [-0.9999999], [0.0]) == pytest.approx(_sk(name, [-0.9999999], [0.0]), rel=1e-12)


@pytest.mark.parametrize("name", ["mean_squared_error", "root_mean_squared_error", "r2_score"])
def test_overflow_of_finite_inputs(name):
    exp = _sk(name, [1e200, 0.0], [-1e200, 0.0])
    got = _l2(name, [1e200, 0.0], [-1e200, 0.0], allow_runtime_warning=True)
    if name == "r2_score":
        # num and den both overflow in sklearn (inf/inf -> nan); only require same type
        assert type(got) is float
        return
    assert exp == math.inf
    assert type(got) is float and got == math.inf


# --------------------------------------------------------------------------------------------
# max_error
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        "float64",
        "float32",
        "float16",
        "int64",
        "int32",
        "list",
        "f32_vs_f64",
        "int_vs_float",
        "n_by_1",
        "n1_vs_n",
    ],
)
def test_max_error_parity(kind):
    rng = _rng("maxerr", kind)
    yt, yp = make_pair(rng, (300,))
    a, b = {
        "float64": (yt, yp),
        "float32": (yt.astype(np.float32), yp.astype(np.float32)),
        "float16": (yt.astype(np.float16), yp.astype(np.float16)),
        "int64": (np.round(yt * 10).astype(np.int64), np.round(yp * 10).astype(np.int64)),
        "int32": (np.round(yt * 10).astype(np.int32), np.round(yp * 10).astype(np.int32)),
        "list": (yt.tolist(), yp.tolist()),
        "f32_vs_f64": (yt.astype(np.float32), yp),
        "int_vs_float": (np.round(yt).astype(np.int64), yp),
        "n_by_1": (yt.reshape(-1, 1), yp.reshape(-1, 1)),
        "n1_vs_n": (yt.reshape(-1, 1), yp),
    }[kind]
    exp = _sk("max_error", a, b)
    got = _l2("max_error", a, b)
    rtol = {"float32": RTOL32_SK, "float16": 1e-3}.get(kind, RTOL64)
    assert_same_result(exp, got, rtol=rtol)
    oracle = float(
        np.max(np.abs(np.asarray(a, dtype=np.float64).ravel() - np.asarray(b, dtype=np.float64).ravel()))
    )
    assert got == pytest.approx(oracle, rel={"float32": 1e-6, "float16": 1e-3}.get(kind, 1e-15))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "expected", "sklearn_value"),
    [
        pytest.param(np.int8([127]), np.int8([-128]), 255.0, 1.0, id="int8_no_wraparound"),
        pytest.param(np.uint8([0, 3]), np.uint8([255, 3]), 255.0, 1.0, id="uint8_no_wraparound"),
        pytest.param(np.array([2**62]), np.array([-(2**62)]), 2.0**63, -(2.0**63), id="int64_no_overflow"),
    ],
)
def test_max_error_integer_difference_in_floating_point(y_true, y_pred, expected, sklearn_value):
    """Intended difference 4: the difference is taken in floating point, never wraps."""
    assert _sk("max_error", y_true, y_pred) == sklearn_value  # documents what sklearn does
    got = l2loss.max_error(y_true, y_pred)
    assert type(got) is float and got == expected


def test_max_error_bool_accepted():
    """Intended difference 4: bool input works (sklearn raises TypeError on bool subtraction)."""
    with pytest.raises(TypeError):
        skm.max_error(np.array([True, False]), np.array([False, False]))
    got = l2loss.max_error(np.array([True, False]), np.array([False, False]))
    assert type(got) is float and got == 1.0
    assert l2loss.max_error(np.array([True, True]), np.array([True, True])) == 0.0


def test_max_error_object_and_numeric_types():
    for a, b in [
        (np.array([1, 2.5], dtype=object), np.array([1, 3], dtype=object)),
        ([3, 2, 7, 1], [4, 2, 7, 1]),
        ((3, 2, 7, 1), (4, 2, 7, -1)),
        (pd.Series([3, 2, 7, 1], index=[9, 8, 7, 6]), pd.Series([4, 2, 7, 1])),
        (pd.Series([3, 2, 7], dtype="Int64"), pd.Series([1, 2, 7], dtype="Int64")),
        (pd.DataFrame({"a": [3.0, 2.0]}), [4.5, 2.0]),
    ]:
        exp = _sk("max_error", a, b)
        got = l2loss.max_error(a, b)
        assert type(got) is float and got == exp


# --------------------------------------------------------------------------------------------
# regression_report
# --------------------------------------------------------------------------------------------

REPORT_CASES = [
    pytest.param((200,), None, "uniform_average", np.float64, id="1d"),
    pytest.param((200,), None, "raw_values", np.float64, id="1d_raw"),
    pytest.param((200,), "positive", "uniform_average", np.float64, id="1d_weighted"),
    pytest.param((200,), "with_zeros", "raw_values", np.float64, id="1d_weighted_zeros_raw"),
    pytest.param((200,), "negative", "uniform_average", np.float64, id="1d_negative_weights"),
    pytest.param((200,), "integer", "uniform_average", np.float64, id="1d_integer_weights"),
    pytest.param((200,), None, "uniform_average", np.float32, id="1d_float32"),
    pytest.param((200,), "float32", "raw_values", np.float32, id="1d_float32_raw_weighted"),
    pytest.param((150, 3), None, "uniform_average", np.float64, id="2d"),
    pytest.param((150, 3), None, "raw_values", np.float64, id="2d_raw"),
    pytest.param((150, 3), "positive", "raw_values", np.float64, id="2d_weighted_raw"),
    pytest.param((150, 3), "positive", [0.2, 0.3, 0.5], np.float64, id="2d_custom"),
    pytest.param((150, 3), "negative", [-1.0, 2.0, 1.0], np.float64, id="2d_negative_custom"),
    pytest.param((150, 3), None, "raw_values", np.float32, id="2d_float32_raw"),
    pytest.param((2,), None, "uniform_average", np.float64, id="n2"),
]


def _report_args(shape, sw_kind, dtype, key):
    rng = _rng("report", key)
    yt, yp = make_pair(rng, shape, dtype=dtype)
    sw = make_weights(sw_kind or "none", rng, shape[0])
    return yt, yp, sw


@pytest.mark.parametrize(("shape", "sw_kind", "multioutput", "dtype"), REPORT_CASES)
def test_regression_report_fields(shape, sw_kind, multioutput, dtype):
    yt, yp, sw = _report_args(shape, sw_kind, dtype, (shape, sw_kind, repr(multioutput), dtype))
    rep = l2loss.regression_report(yt, yp, sample_weight=sw, multioutput=multioutput)
    assert isinstance(rep, l2loss.RegressionReport)
    sk_rtol = RTOL64 if dtype == np.float64 else RTOL32_SK
    for field, func in REPORT_FIELD_FUNC.items():
        value = getattr(rep, field)
        # same as sklearn (to the accuracy tolerance) ...
        assert_same_result(_sk(func, yt, yp, sample_weight=sw, multioutput=multioutput), value, rtol=sk_rtol)
        # ... and bit for bit the matching l2loss function
        assert_bitwise_equal(value, _l2(func, yt, yp, sample_weight=sw, multioutput=multioutput))
    if len(shape) == 1 and sw_kind in (None, "positive", "float32"):
        me_field = rep.max_error
        if isinstance(multioutput, str) and multioutput == "raw_values":
            # per-output like every other field: shape (1,) for 1-D input
            assert type(me_field) is np.ndarray and me_field.shape == (1,), _describe(me_field)
            me_field = float(me_field[0])
        else:
            assert type(me_field) is float, _describe(me_field)
        assert me_field == l2loss.max_error(yt, yp)
        assert me_field == pytest.approx(_sk("max_error", yt, yp), rel=sk_rtol)
    # mean_error: weighted mean of (y_pred - y_true), per output then combined like the others
    d = np.asarray(yp, dtype=np.float64) - np.asarray(yt, dtype=np.float64)
    d2 = d.reshape(shape[0], -1)
    w64 = None if sw is None else np.asarray(sw, dtype=np.float64)
    per = np.array([_avg(d2[:, j], w64) for j in range(d2.shape[1])])
    # signed sums cancel: allow the rounding of each difference, relative to sum |w d| / |sum w|
    ww = np.ones(shape[0]) if w64 is None else w64
    slack = np.array(
        [4e-16 * math.fsum(np.abs(ww * d2[:, j])) / abs(math.fsum(ww)) for j in range(d2.shape[1])]
    )
    np_per = np.average(d2, axis=0, weights=w64)
    if isinstance(multioutput, str) and multioutput == "raw_values":
        me = rep.mean_error
        assert type(me) is np.ndarray and me.shape == (d2.shape[1],)
        assert me.dtype == np.dtype(dtype)
        err = np.abs(me.astype(np.float64) - per)
        assert np.all(err <= ULP_REL[np.dtype(dtype)] * np.abs(per) + slack), (me, per)
        np.testing.assert_allclose(me.astype(np.float64), np_per, rtol=1e-6 if dtype == np.float32 else 1e-9)
    else:
        me = rep.mean_error
        assert type(me) is float
        mo_w = None if multioutput == "uniform_average" else np.asarray(multioutput, dtype=np.float64)
        expected = _avg(per, mo_w)
        mo_abs = np.ones(len(per)) if mo_w is None else np.abs(mo_w)
        tol = 1e-15 * abs(expected) + math.fsum(mo_abs * slack) / abs(
            math.fsum(np.ones(len(per)) if mo_w is None else mo_w)
        )
        assert abs(me - expected) <= tol, (me, expected)
        assert me == pytest.approx(float(np.average(np_per, weights=mo_w)), rel=1e-9)
    assert rep.n_samples == shape[0] and isinstance(rep.n_samples, (int, np.integer))
    expected_wsum = float(shape[0]) if sw is None else math.fsum(np.asarray(sw, dtype=np.float64))
    assert rep.weight_sum == pytest.approx(expected_wsum, rel=1e-15)


def test_regression_report_container_and_dataclass():
    yt, yp = [3, -0.5, 2, 7], [2.5, 0.0, 2, 8]
    rep = l2loss.regression_report(yt, yp)
    assert dataclasses.is_dataclass(rep)
    names = {f.name for f in dataclasses.fields(rep)}
    assert names == set(REPORT_FIELDS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.mse = 0.0  # type: ignore[misc]
    d = rep.to_dict()
    assert isinstance(d, dict) and set(d) == set(REPORT_FIELDS)
    for k in REPORT_FIELDS:
        assert d[k] == getattr(rep, k), k
    assert d["mse"] == 0.375 and d["mae"] == 0.5 and d["max_error"] == 1.0
    assert d["rmse"] == pytest.approx(0.6123724356957945, rel=1e-15)
    assert d["r2"] == pytest.approx(0.9486081370449679, rel=1e-13)
    assert d["explained_variance"] == pytest.approx(0.9571734475374732, rel=1e-13)
    assert d["mean_error"] == 0.25  # mean of y_pred - y_true = [-0.5, 0.5, 0, 1]
    assert d["n_samples"] == 4 and d["weight_sum"] == 4.0
    assert "mse" in repr(rep)
    frame = rep.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert frame.size > 0


def test_regression_report_rejects_what_mse_rejects():
    # regression_report validates like the metric functions (same error, from sklearn's MSE)
    with pytest.raises(ValueError) as sk_exc:
        skm.mean_squared_error([1, 2, 3], [1, 2])
    with pytest.raises(ValueError) as exc:
        l2loss.regression_report([1, 2, 3], [1, 2])
    assert str(exc.value) == str(sk_exc.value)


@pytest.mark.parametrize("name", WEIGHTED_FUNCS)
def test_pandas_float32_keeps_float32(name):
    """pandas objects carry a dtype, so float32 Series/DataFrames vote for float32 like arrays."""
    rng = _rng("pd32", name)
    yt, yp = make_pair(rng, (50, 2), dtype=np.float32)
    cases = {
        "series": (pd.Series(yt[:, 0]), pd.Series(yp[:, 0])),
        "series_vs_list": (pd.Series(yt[:, 0]), yp[:, 0].tolist()),
        "dataframe": (pd.DataFrame(yt, columns=["a", "b"]), pd.DataFrame(yp, columns=["a", "b"])),
        "dataframe_vs_f64": (pd.DataFrame(yt, columns=["a", "b"]), yp.astype(np.float64)),
    }
    for _key, (a, b) in cases.items():
        exp = _sk(name, a, b, multioutput="raw_values")
        got = _l2(name, a, b, multioutput="raw_values")
        assert_same_result(exp, got, rtol=RTOL64 if exp.dtype == np.float64 else RTOL32_SK)
