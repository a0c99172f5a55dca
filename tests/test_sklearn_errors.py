"""Error parity of l2loss with scikit-learn 1.9 regression metrics.

What this file proves
---------------------
Every invalid call that makes ``sklearn.metrics.<metric>`` raise makes ``l2loss.<metric>`` raise
the *same exception type with the same message* — including which error wins when several things
are wrong at once (sklearn's validation order: parameter types, then lengths, then
finiteness/shape of y_true, then of y_pred, then sample_weight, then output counts, then
multioutput weights, then metric-specific checks).

Oracle
------
The real ``sklearn.metrics`` (never mocked) is called first on the very same argument objects and
must raise; its exception is the expectation.  ``sklearn.utils._param_validation.InvalidParameterError``
maps to ``l2loss.InvalidParameterError``; every other exception type must match exactly.  Messages
are compared with ``str(exc)``; the only normalisation is the order of items inside ``{...}``
(sklearn prints a Python ``set`` there, whose order depends on the per-process string hash seed).

The few intended differences (``max_error`` on bool input, see test_sklearn_parity) are asserted
there; ``max_error`` on lists containing ``None`` is handled explicitly below.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import l2loss
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from sklearn.utils._param_validation import InvalidParameterError as SkInvalidParameterError

NAN, INF = np.nan, np.inf

AVG_FUNCS = (
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "mean_squared_log_error",
    "root_mean_squared_log_error",
)
SCORE_FUNCS = ("r2_score", "explained_variance_score")
WEIGHTED = AVG_FUNCS + SCORE_FUNCS
ALL = WEIGHTED + ("max_error",)
LOG = ("mean_squared_log_error", "root_mean_squared_log_error")
# root_mean_squared_error averages across outputs *without* sklearn's multioutput validation:
# its custom-weight outcomes are compared separately in test_rmse_custom_weight_quirks.
WEIGHTED_NO_RMSE = tuple(f for f in WEIGHTED if f != "root_mean_squared_error")
NOT_SCORE = AVG_FUNCS + ("max_error",)

_SET_RE = re.compile(r"\{((?:'[^'{}]*'(?:, )?)+)\}")


def _normalise(msg: str) -> str:
    """Sort the items of printed string sets: sklearn prints ``{'a', 'b'}`` in hash order."""
    return _SET_RE.sub(lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", msg)


def _raise_of(fn: Callable[[], Any]) -> BaseException | None:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - we want whatever is raised
        return exc
    return None


def _sklearn_exc(name: str, args: tuple, kwargs: dict) -> BaseException:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exc = _raise_of(lambda: getattr(skm, name)(*args, **kwargs))
    assert exc is not None, f"oracle: sklearn.{name} did not raise for {args!r} {kwargs!r}"
    return exc


def assert_same_error(name: str, *args: Any, **kwargs: Any) -> None:
    """sklearn raises; l2loss raises the same type (InvalidParameterError mapped) and message."""
    expected = _sklearn_exc(name, args, kwargs)
    got = _raise_of(lambda: getattr(l2loss, name)(*args, **kwargs))
    assert got is not None, (
        f"l2loss.{name} did not raise; sklearn raised {type(expected).__name__}: {expected}"
    )
    if isinstance(expected, SkInvalidParameterError):
        assert isinstance(got, l2loss.InvalidParameterError), (
            f"expected l2loss.InvalidParameterError, got {type(got).__name__}: {got}"
        )
        assert isinstance(got, ValueError) and isinstance(got, TypeError)
    else:
        assert type(got) is type(expected), (
            f"sklearn raised {type(expected).__name__}: {expected!s} | "
            f"l2loss raised {type(got).__name__}: {got!s}"
        )
    assert _normalise(str(got)) == _normalise(str(expected)), (
        f"\nsklearn: {type(expected).__name__}: {expected!s}\nl2loss : {type(got).__name__}: {got!s}"
    )


def assert_same_outcome(name: str, *args: Any, **kwargs: Any) -> None:
    """Either both raise the same error, or both return the same value (for sklearn quirks)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = getattr(skm, name)(*args, **kwargs)
        except Exception:  # noqa: BLE001
            assert_same_error(name, *args, **kwargs)
            return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # sklearn warns here too; not required
        got = getattr(l2loss, name)(*args, **kwargs)
    assert type(got) is type(expected), (expected, got)
    if isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(got), (expected, got)
    else:
        assert got == pytest.approx(expected, rel=1e-13, abs=0), (expected, got)


# --------------------------------------------------------------------------------------------
# case table: (case id, functions, factory returning (args, kwargs))
# factories build fresh objects per test (generators are single-use)
# --------------------------------------------------------------------------------------------

Y4T, Y4P = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 3.0, 6.0]
Y2T, Y2P = [[1.0, 2.0], [2.0, 3.0], [4.0, 1.0]], [[1.0, 3.0], [2.0, 2.0], [3.0, 3.0]]


def _matrices(*rows: Any) -> list[Any]:
    """np.matrix objects, made without its PendingDeprecationWarning (which numpy shows once
    per location, so whether it trips filterwarnings=error would depend on test order)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return [np.matrix(r) for r in rows]


def _c(*args: Any, **kwargs: Any) -> Callable[[], tuple[tuple, dict]]:
    return lambda: (args, kwargs)


CASES: list[tuple[str, tuple[str, ...], Callable[[], tuple[tuple, dict]]]] = [
    # ---- §1.2 step 1 / §1.6: inconsistent lengths ------------------------------------------
    ("len_mismatch", ALL, _c([1, 2, 3], [1, 2])),
    ("len_mismatch_pred_longer", ALL, _c([1, 2], [1, 2, 3])),
    ("len_mismatch_2d", ALL, _c([[1], [2]], [[1], [2], [3]])),
    ("len_mismatch_arrays", ALL, _c(np.zeros(5), np.zeros(4))),
    ("len_sample_weight_short", WEIGHTED, _c([1, 2, 3], [1, 2, 3], sample_weight=[1, 2])),
    ("len_sample_weight_long", WEIGHTED, _c([1, 2, 3], [1, 2, 3], sample_weight=[1, 2, 3, 4])),
    ("len_sample_weight_empty", WEIGHTED, _c([1, 2, 3], [1, 2, 3], sample_weight=[])),
    ("len_sample_weight_row", WEIGHTED, _c([1.0, 2.0], [1.0, 3.0], sample_weight=np.ones((1, 2)))),
    ("len_pred_with_weight", WEIGHTED, _c([1, 2, 3], [1, 2], sample_weight=[1, 2, 3])),
    ("len_all_three", WEIGHTED, _c([1, 2, 3], [1, 2], sample_weight=[1])),
    ("row_vs_vector", ALL, _c([[1, 2, 3]], [1, 2, 3])),
    ("vector_vs_row", ALL, _c([1, 2, 3], [[1, 2, 3]])),
    # length is checked before anything about the content
    ("len_beats_nan_true", ALL, _c([NAN], [1, 2])),
    ("len_beats_nan_pred", ALL, _c([1, 2, 3], [NAN, 1])),
    ("len_beats_inf_weight", WEIGHTED, _c([1, 2], [1, 2], sample_weight=[INF])),
    ("len_beats_3d", ALL, _c(np.zeros((2, 1, 1)), [1, 2, 3])),
    ("len_beats_complex", ALL, _c([1 + 1j, 2, 3], [1, 2])),
    ("len_beats_strings", ALL, _c(["a", "b", "c"], [1, 2])),
    ("len_beats_output_mismatch", ALL, _c([[1, 2], [3, 4]], [[1, 2, 3]])),
    ("len_beats_msle_negative", LOG, _c([-2.0, 1.0, 2.0], [0.0, 1.0])),
    # ---- §1.7: NaN / inf (message depends on the working dtype) ------------------------------
    ("nan_true", ALL, _c([1, NAN], [1, 2])),
    ("nan_pred", ALL, _c([1, 2], [1, NAN])),
    ("inf_true", ALL, _c([1, INF], [1, 2])),
    ("inf_pred", ALL, _c([1, 2], [1, INF])),
    ("ninf_pred", ALL, _c([1, 2], [1, -INF])),
    ("nan_and_inf_same_array", ALL, _c([INF, NAN], [1, 2])),
    ("nan_2d", ALL, _c([[1, 2], [NAN, 4]], [[1, 2], [3, 4]])),
    ("inf_2d_pred", ALL, _c([[1, 2], [3, 4]], [[1, INF], [3, 4]])),
    ("nan_true_f32", ALL, _c(np.float32([1, NAN]), np.float32([1, 2]))),
    ("inf_true_f32", ALL, _c(np.float32([1, INF]), np.float32([1, 2]))),
    ("inf_pred_f32_vs_list", ALL, _c([1.0, 2.0], np.float32([1, -INF]))),
    ("inf_true_f32_pred_f64", ALL, _c(np.float32([1, INF]), np.float64([1, 2]))),
    ("inf_true_f16", ALL, _c(np.float16([1, INF]), np.float16([1, 2]))),
    ("inf_pred_f16_true_int", ALL, _c(np.array([1, 2]), np.float16([1, INF]))),
    (
        "nan_f32_with_f64_weight",
        WEIGHTED,
        _c(np.float32([1, NAN]), np.float32([1, 2]), sample_weight=[1.0, 1.0]),
    ),
    ("nan_object_array", ALL, _c(np.array([1.0, NAN], dtype=object), [1, 2])),
    ("none_in_list", WEIGHTED, _c([1.0, None], [1, 3])),
    ("none_in_pred_list", WEIGHTED, _c([1.0, 3.0], [None, 3])),
    ("none_in_object_array", WEIGHTED, _c(np.array([1.0, None], dtype=object), [1, 3])),
    ("pd_na_float64", ALL, _c(pd.Series([1.0, None], dtype="Float64"), [1, 3])),
    ("pd_na_int64", ALL, _c(pd.Series([1, None], dtype="Int64"), [1, 3])),
    ("pd_na_in_list", WEIGHTED, _c([1.0, pd.NA], [1, 3])),
    ("nan_in_dataframe", ALL, _c(pd.DataFrame({"a": [1.0, NAN]}), [1.0, 2.0])),
    # order: y_true is checked completely before y_pred
    ("order_true_nan_before_pred_inf", ALL, _c([NAN, 1], [1, INF])),
    ("order_true_inf_before_pred_nan", ALL, _c([INF, 1], [1, NAN])),
    ("order_true_3d_before_pred_nan", ALL, _c(np.zeros((2, 1, 1)), [NAN, 1])),
    ("order_true_nan_before_pred_3d", ALL, _c([NAN, 1], np.zeros((2, 1, 1)))),
    ("order_true_empty_features_before_pred_nan", ALL, _c(np.zeros((2, 0)), [NAN, 1])),
    ("order_true_complex_before_pred_nan", ALL, _c([1 + 1j, 2], [NAN, 1])),
    # order: NaN before output-count mismatch / sample_weight / multioutput / MSLE range
    ("order_nan_before_output_mismatch", ALL, _c([[1, NAN], [3, 4]], [[1, 2, 3], [3, 4, 5]])),
    ("order_pred_nan_before_output_mismatch", ALL, _c([[1, 2], [3, 4]], [[1, 2, NAN], [3, 4, 5]])),
    ("order_nan_before_weight_2d", WEIGHTED, _c([1, NAN], [1, 2], sample_weight=[[1], [2]])),
    ("order_nan_before_weight_zero", WEIGHTED, _c([1, NAN], [1, 2], sample_weight=[0, 0])),
    ("order_nan_before_weight_nan", WEIGHTED, _c([1, 2], [1, NAN], sample_weight=[NAN, 1])),
    ("order_nan_before_weight_sum_zero", WEIGHTED, _c([1, NAN], [1, 2], sample_weight=[1, -1])),
    (
        "order_nan_before_multioutput_count",
        WEIGHTED,
        _c([[1, NAN], [1, 2]], [[1, 2], [1, 2]], multioutput=[1, 2, 3]),
    ),
    ("order_nan_before_msle_negative", LOG, _c([-2.0, NAN], [0.0, 1.0])),
    # ---- §1.6 / §1.2 step 2: empty, 0 features, ndim ----------------------------------------
    ("empty", ALL, _c([], [])),
    ("empty_arrays", ALL, _c(np.array([]), np.array([]))),
    ("empty_2d", ALL, _c(np.zeros((0, 2)), np.zeros((0, 2)))),
    ("zero_features", ALL, _c(np.zeros((2, 0)), np.zeros((2, 0)))),
    ("zero_features_pred", ALL, _c(np.zeros((2, 1)), np.zeros((2, 0)))),
    ("three_d", ALL, _c(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))),
    ("three_d_pred", ALL, _c([1.0, 2.0], np.zeros((2, 1, 1)))),
    ("nested_lists_3d", ALL, _c([[[1.0]], [[2.0]]], [[[1.0]], [[2.0]]])),
    ("zero_d", ALL, _c(np.array(1.0), np.array(2.0))),
    ("zero_d_pred", ALL, _c([1.0], np.array(1.0))),
    ("zero_d_weight", WEIGHTED, _c([1.0, 2.0], [1.0, 3.0], sample_weight=np.array(2.0))),
    ("ragged", ALL, _c([[1, 2], [3]], [[1, 2], [3, 4]])),
    ("matrix", ALL, _c(*_matrices([[1.0], [2.0]], [[1.0], [3.0]]))),
    # ---- §1.1 parameter types (InvalidParameterError) ----------------------------------------
    ("scalar_true", ALL, _c(1.0, 2.0)),
    ("scalar_pred", ALL, _c([1.0], 1.0)),
    ("int_scalar_true", ALL, _c(3, [3])),
    ("numpy_scalar_true", ALL, _c(np.float64(1.0), [1.0])),
    ("none_true", ALL, _c(None, [1.0])),
    ("none_pred", ALL, _c([1.0], None)),
    ("string_true", ALL, _c("abc", [1.0, 2.0, 3.0])),
    ("generator_true", ALL, lambda: (((x for x in [1.0, 2.0]), [1.0, 3.0]), {})),
    ("iterator_pred", ALL, lambda: (([1.0, 2.0], iter([1.0, 3.0])), {})),
    ("map_true", ALL, lambda: ((map(float, [1, 2]), [1.0, 3.0]), {})),
    ("weight_scalar_float", WEIGHTED, _c(Y4T, Y4P, sample_weight=2.0)),
    ("weight_scalar_int", WEIGHTED, _c(Y4T, Y4P, sample_weight=3)),
    ("weight_generator", WEIGHTED, lambda: ((Y4T, Y4P), {"sample_weight": (w for w in [1, 1, 1, 1])})),
    ("multioutput_bad_string", WEIGHTED, _c(Y2T, Y2P, multioutput="foo")),
    ("multioutput_bad_string_1d", WEIGHTED, _c(Y4T, Y4P, multioutput="mean")),
    ("multioutput_int", WEIGHTED, _c(Y2T, Y2P, multioutput=5)),
    ("multioutput_float", WEIGHTED, _c(Y2T, Y2P, multioutput=0.5)),
    ("multioutput_variance_weighted", AVG_FUNCS, _c(Y2T, Y2P, multioutput="variance_weighted")),
    ("multioutput_none", AVG_FUNCS + ("explained_variance_score",), _c(Y2T, Y2P, multioutput=None)),
    ("force_finite_int", SCORE_FUNCS, _c([1, 2], [1, 2], force_finite=1)),
    ("force_finite_zero", SCORE_FUNCS, _c([1, 2], [1, 2], force_finite=0)),
    ("force_finite_none", SCORE_FUNCS, _c([1, 2], [1, 2], force_finite=None)),
    ("force_finite_str", SCORE_FUNCS, _c([1, 2], [1, 2], force_finite="yes")),
    ("force_finite_float", SCORE_FUNCS, _c([1, 2], [1, 2], force_finite=1.0)),
    # order between parameter errors (signature order) and before any data check
    ("order_true_param_before_pred_param", ALL, _c(1.0, None)),
    ("order_pred_param_before_weight_param", WEIGHTED, _c([1.0], 2.0, sample_weight=2.0)),
    (
        "order_weight_param_before_multioutput_param",
        WEIGHTED,
        _c([1, 2], [1, 3], sample_weight=2.0, multioutput="foo"),
    ),
    ("order_true_param_before_multioutput_param", WEIGHTED, _c(1.0, [1, 3], multioutput="foo")),
    (
        "order_multioutput_param_before_force_finite",
        SCORE_FUNCS,
        _c([1, 2], [1, 3], multioutput="foo", force_finite=1),
    ),
    ("order_param_before_length", WEIGHTED, _c([1, 2, 3], [1, 2], sample_weight=2.0)),
    ("order_param_before_nan", WEIGHTED, _c([NAN], [1.0], multioutput="foo")),
    ("order_force_finite_before_length", SCORE_FUNCS, _c([1, 2, 3], [1, 2], force_finite=1)),
    ("order_param_before_3d", ALL, _c(np.zeros((2, 2, 2)), 1.0)),
    # ---- §1.1: call signature ---------------------------------------------------------------
    ("positional_third_argument", ALL, _c([1, 2], [1, 2], [1, 1])),
    ("positional_four_arguments", SCORE_FUNCS, _c([1, 2], [1, 2], None, "raw_values")),
    ("positional_beats_bad_values", ALL, _c(1.0, 2.0, 3.0)),
    ("squared_keyword", ALL, _c([1, 2], [1, 3], squared=False)),
    ("unknown_keyword", ALL, _c([1, 2], [1, 3], foo=1)),
    ("max_error_sample_weight", ("max_error",), _c(Y4T, Y4P, sample_weight=[1, 2, 0, 1])),
    ("max_error_multioutput", ("max_error",), _c(Y4T, Y4P, multioutput="raw_values")),
    ("force_finite_not_a_parameter", NOT_SCORE, _c([1, 2], [1, 3], force_finite=True)),
    ("missing_y_pred", ALL, _c([1, 2])),
    ("missing_everything", ALL, _c()),
    ("y_true_twice", ALL, _c([1.0], [1.0], y_true=[1.0])),
    # ---- §1.8 dtypes / content ----------------------------------------------------------------
    ("complex_true", ALL, _c(np.array([1 + 1j, 2]), [1, 3])),
    ("complex_true_list", ALL, _c([1 + 1j, 2], [1, 3])),
    ("complex_pred", ALL, _c([1, 3], np.array([1 + 1j, 2]))),
    ("complex_2d", ALL, _c(np.array([[1 + 1j], [2]]), [[1], [3]])),
    ("strings_true", WEIGHTED, _c(["a", "b"], [1, 3])),
    ("strings_pred", WEIGHTED, _c([1, 3], ["x", "y"])),
    ("strings_mixed", WEIGHTED, _c(["1", "b"], [1, 3])),
    ("strings_numpy", WEIGHTED, _c(np.array(["a", "b"]), [1, 3])),
    ("max_error_numeric_strings", ("max_error",), _c(["1", "2"], [1, 4])),
    ("max_error_strings", ("max_error",), _c([1, 4], ["a", "b"])),
    ("set_input", WEIGHTED, _c({1.0, 2.0}, [1.0, 3.0])),
    ("dict_input", WEIGHTED, _c({"a": 1.0}, [1.0])),
    # ---- §1.2 step 4: output counts -------------------------------------------------------------
    ("output_mismatch", ALL, _c([[1, 2], [3, 4]], [[1, 2, 3], [3, 4, 5]])),
    ("output_mismatch_1d_vs_2col", ALL, _c([1, 2], [[1, 2], [3, 4]])),
    ("output_mismatch_2col_vs_1d", ALL, _c([[1, 2], [3, 4]], [1, 2])),
    (
        "output_mismatch_dataframe",
        ALL,
        _c(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}), pd.DataFrame({"a": [1.0, 2.0]})),
    ),
    ("max_error_two_outputs", ("max_error",), _c([[1, 2], [3, 4]], [[1, 2], [3, 4]])),
    (
        "max_error_two_outputs_dataframe",
        ("max_error",),
        _c(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), np.zeros((2, 2))),
    ),
    # ---- §1.5 sample_weight ---------------------------------------------------------------------
    ("weight_2d_column", WEIGHTED, _c(Y4T, Y4P, sample_weight=[[1], [2], [0], [1]])),
    ("weight_2d_column_array", WEIGHTED, _c([1.0, 2.0], [1.0, 3.0], sample_weight=np.ones((2, 1)))),
    ("weight_2d_square", WEIGHTED, _c([1.0, 2.0], [1.0, 3.0], sample_weight=np.ones((2, 2)))),
    ("weight_nan", WEIGHTED, _c(Y4T, Y4P, sample_weight=[1, NAN, 1, 1])),
    ("weight_inf", WEIGHTED, _c(Y4T, Y4P, sample_weight=[1, INF, 1, 1])),
    ("weight_ninf", WEIGHTED, _c(Y4T, Y4P, sample_weight=[1, -INF, 1, 1])),
    ("weight_inf_f32_data", WEIGHTED, _c(np.float32(Y4T), np.float32(Y4P), sample_weight=[1, INF, 1, 1])),
    (
        "weight_inf_f32",
        WEIGHTED,
        _c(np.float32(Y4T), np.float32(Y4P), sample_weight=np.float32([1, INF, 1, 1])),
    ),
    (
        "weight_inf_f16",
        WEIGHTED,
        _c(np.float16(Y4T), np.float16(Y4P), sample_weight=np.float16([1, INF, 1, 1])),
    ),
    ("weight_nan_with_int_data", WEIGHTED, _c([1, 2], [1, 3], sample_weight=np.array([NAN, 1.0]))),
    ("weight_all_zero", WEIGHTED, _c(Y4T, Y4P, sample_weight=[0, 0, 0, 0])),
    ("weight_all_zero_float32", WEIGHTED, _c(Y4T, Y4P, sample_weight=np.float32([0, 0, 0, 0]))),
    ("weight_all_negative_zero", WEIGHTED, _c(Y4T, Y4P, sample_weight=[-0.0, 0.0, -0.0, 0.0])),
    ("weight_all_false", WEIGHTED, _c(Y4T, Y4P, sample_weight=[False] * 4)),
    ("weight_all_zero_2d_data", WEIGHTED, _c(Y2T, Y2P, sample_weight=[0.0, 0.0, 0.0])),
    ("weight_sum_exactly_zero", WEIGHTED, _c(Y4T, Y4P, sample_weight=[1, -1, 0, 0])),
    ("weight_sum_exactly_zero_three", WEIGHTED, _c(Y4T, Y4P, sample_weight=[2, -1, -1, 0])),
    ("weight_sum_exactly_zero_float", WEIGHTED, _c(Y4T, Y4P, sample_weight=[0.5, -0.25, -0.25, 0.0])),
    ("weight_sum_exactly_zero_2d", WEIGHTED, _c(Y2T, Y2P, sample_weight=[1.5, -1.0, -0.5])),
    ("weight_strings", WEIGHTED, _c([1.0, 2.0], [1.0, 3.0], sample_weight=["a", "b"])),
    ("weight_complex", WEIGHTED, _c([1.0, 2.0], [1.0, 3.0], sample_weight=[1j, 1])),
    # order: sample_weight before output mismatch / multioutput / MSLE range
    (
        "order_weight_before_output_mismatch",
        WEIGHTED,
        _c([[1, 2], [3, 4]], [[1, 2, 3], [3, 4, 5]], sample_weight=[0, 0]),
    ),
    (
        "order_weight_2d_before_output_mismatch",
        WEIGHTED,
        _c([[1, 2], [3, 4]], [[1, 2, 3], [3, 4, 5]], sample_weight=[[1], [1]]),
    ),
    (
        "order_weight_before_multioutput_count",
        WEIGHTED,
        _c(Y2T, Y2P, sample_weight=[NAN, 1, 1], multioutput=[1, 2, 3]),
    ),
    ("order_weight_zero_before_msle_negative", LOG, _c([-2.0, 1.0], [0.0, 1.0], sample_weight=[0, 0])),
    (
        "order_output_mismatch_before_multioutput",
        WEIGHTED,
        _c([[1, 2], [3, 4]], [[1, 2, 3], [3, 4, 5]], multioutput=[1.0]),
    ),
    ("order_output_mismatch_before_msle_negative", LOG, _c([[-2.0, 1], [1, 1]], [[0.0, 1, 1], [1, 1, 1]])),
    # ---- §1.4 multioutput weights ------------------------------------------------------------
    ("multioutput_weights_one_output", WEIGHTED_NO_RMSE, _c([1, 2], [1, 3], multioutput=[1.0])),
    (
        "multioutput_weights_one_output_column",
        WEIGHTED_NO_RMSE,
        _c([[1], [2]], [[1], [3]], multioutput=[2.0]),
    ),
    ("multioutput_weights_count", WEIGHTED_NO_RMSE, _c(Y2T, Y2P, multioutput=[1, 2, 3])),
    ("multioutput_weights_too_few", WEIGHTED_NO_RMSE, _c(Y2T, Y2P, multioutput=[1.0])),
    ("multioutput_weights_2d_row", WEIGHTED_NO_RMSE, _c(Y2T, Y2P, multioutput=[[1, 2]])),
    ("multioutput_weights_nan", WEIGHTED_NO_RMSE, _c(Y2T, Y2P, multioutput=[1, NAN])),
    ("multioutput_weights_inf", WEIGHTED_NO_RMSE, _c(Y2T, Y2P, multioutput=[1, INF])),
    ("multioutput_weights_empty", WEIGHTED_NO_RMSE, _c(Y2T, Y2P, multioutput=[])),
    ("multioutput_weights_strings", WEIGHTED_NO_RMSE, _c(Y2T, Y2P, multioutput=["a", "b"])),
    ("multioutput_weights_sum_zero", WEIGHTED, _c(Y2T, Y2P, multioutput=[1, -1])),
    ("multioutput_weights_sum_zero_float", WEIGHTED, _c(Y2T, Y2P, multioutput=np.array([0.5, -0.5]))),
    ("multioutput_weights_all_zero", WEIGHTED, _c(Y2T, Y2P, multioutput=[0, 0])),
    (
        "multioutput_sum_zero_with_weights",
        WEIGHTED,
        _c(Y2T, Y2P, sample_weight=[1, 2, 3], multioutput=[2, -2]),
    ),
    (
        "order_multioutput_before_msle_negative",
        LOG,
        _c([[-2.0, 1], [1, 1]], [[0.0, 1], [1, 1]], multioutput=[1, 2, 3]),
    ),
    # ---- §1.3 MSLE / RMSLE range --------------------------------------------------------------
    ("msle_true_minus_one", LOG, _c([-1.0, 2.0], [1.0, 3.0])),
    ("msle_pred_minus_one", LOG, _c([1.0, 2.0], [1.0, -1.0])),
    ("msle_pred_below", LOG, _c([1.0, 2.0], [1.0, -2.0])),
    ("msle_int_minus_one", LOG, _c([-1, 2], [1, 3])),
    ("msle_f32", LOG, _c(np.float32([1.0, -1.5]), np.float32([1.0, 1.0]))),
    ("msle_2d", LOG, _c([[1.0, 2.0], [3.0, -5.0]], [[1.0, 2.0], [3.0, 4.0]])),
    ("msle_with_weights", LOG, _c([1.0, -3.0, 2.0], [1.0, 2.0, 2.0], sample_weight=[1, 1, 1])),
    ("msle_negative_row_zero_weight", LOG, _c([1.0, -3.0, 2.0], [1.0, 2.0, 2.0], sample_weight=[1, 0, 1])),
    ("msle_beats_weight_sum_zero", LOG, _c([-2.0, 1.0], [0.0, 1.0], sample_weight=[1, -1])),
    (
        "msle_beats_multioutput_sum_zero",
        LOG,
        _c([[-2.0, 1], [1, 1]], [[0.0, 1], [1, 1]], multioutput=[1, -1]),
    ),
    # ---- §1.9 R^2 with one sample: errors win over the warning ---------------------------------
    ("r2_single_sample_bad_multioutput", SCORE_FUNCS, _c([[1, 2]], [[1, 2]], multioutput=[1, 2, 3])),
    ("r2_single_sample_zero_weight", SCORE_FUNCS, _c([1.0], [1.0], sample_weight=[0])),
    ("r2_single_sample_nan", SCORE_FUNCS, _c([NAN], [1.0])),
    ("r2_single_sample_custom_weights_one_output", SCORE_FUNCS, _c([1.0], [2.0], multioutput=[1.0])),
]

_ids = [c[0] for c in CASES]
assert len(_ids) == len(set(_ids)), "duplicate case id"


@pytest.mark.parametrize(
    ("name", "factory"),
    [
        pytest.param(name, factory, id=f"{case_id}-{name}")
        for case_id, funcs, factory in CASES
        for name in funcs
    ],
)
def test_same_error_as_sklearn(name, factory):
    args, kwargs = factory()
    assert_same_error(name, *args, **kwargs)


# --------------------------------------------------------------------------------------------
# explicit expectations (documented messages, independent of the case machinery)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "exc_type", "message"),
    [
        pytest.param(
            "mean_squared_error",
            ([1, 2, 3], [1, 2]),
            {},
            ValueError,
            "Found input variables with inconsistent numbers of samples: [3, 2]",
            id="length",
        ),
        pytest.param(
            "mean_squared_error",
            (Y4T, Y4P),
            {"sample_weight": [1, 2]},
            ValueError,
            "Found input variables with inconsistent numbers of samples: [4, 4, 2]",
            id="length_weights",
        ),
        pytest.param(
            "mean_squared_error", ([1, NAN], [1, 2]), {}, ValueError, "Input contains NaN.", id="nan"
        ),
        pytest.param(
            "mean_squared_error",
            (np.float32([1, INF]), np.float32([1, 2])),
            {},
            ValueError,
            "Input contains infinity or a value too large for dtype('float32').",
            id="inf_f32",
        ),
        pytest.param(
            "mean_squared_error",
            ([1, 2], [1, INF]),
            {},
            ValueError,
            "Input contains infinity or a value too large for dtype('float64').",
            id="inf_f64",
        ),
        pytest.param(
            "mean_squared_error",
            ([], []),
            {},
            ValueError,
            "Found array with 0 sample(s) (shape=(0,)) while a minimum of 1 is required.",
            id="empty",
        ),
        pytest.param(
            "mean_squared_error",
            (np.zeros((2, 0)), np.zeros((2, 0))),
            {},
            ValueError,
            "Found array with 0 feature(s) (shape=(2, 0)) while a minimum of 1 is required.",
            id="zero_features",
        ),
        pytest.param(
            "mean_squared_error",
            (np.zeros((2, 2, 2)), np.zeros((2, 2, 2))),
            {},
            ValueError,
            "Found array with dim 3, while dim <= 2 is required.",
            id="three_d",
        ),
        pytest.param(
            "mean_squared_error",
            (np.array(1.0), np.array(2.0)),
            {},
            TypeError,
            "Input should have at least 1 dimension i.e. satisfy `len(x.shape) > 0`, got scalar "
            "`array(1.)` instead.",
            id="zero_d",
        ),
        pytest.param(
            "mean_squared_error",
            ([[1, 2], [3, 4]], [[1, 2, 3], [3, 4, 5]]),
            {},
            ValueError,
            "y_true and y_pred have different number of output (2!=3)",
            id="outputs",
        ),
        pytest.param(
            "mean_squared_error",
            ([[1, 2, 3]], [1, 2, 3]),
            {},
            ValueError,
            "Found input variables with inconsistent numbers of samples: [1, 3]",
            id="row_vs_vector",
        ),
        pytest.param(
            "mean_squared_error",
            (Y4T, Y4P),
            {"sample_weight": [[1], [2], [0], [1]]},
            ValueError,
            "Sample weights must be 1D array or scalar, got 2D array. Expected either a scalar value or a "
            "1D array "
            "of length 4.",
            id="weights_2d",
        ),
        pytest.param(
            "mean_squared_error",
            (Y4T, Y4P),
            {"sample_weight": [1, NAN, 1, 1]},
            ValueError,
            "Input sample_weight contains NaN.",
            id="weights_nan",
        ),
        pytest.param(
            "mean_squared_error",
            (Y4T, Y4P),
            {"sample_weight": [1, INF, 1, 1]},
            ValueError,
            "Input sample_weight contains infinity or a value too large for dtype('float64').",
            id="weights_inf",
        ),
        pytest.param(
            "mean_squared_error",
            (Y4T, Y4P),
            {"sample_weight": [0, 0, 0, 0]},
            ValueError,
            "Sample weights must contain at least one non-zero number.",
            id="weights_all_zero",
        ),
        pytest.param(
            "mean_squared_error",
            (Y4T, Y4P),
            {"sample_weight": [1, -1, 0, 0]},
            ZeroDivisionError,
            "Weights sum to zero, can't be normalized",
            id="weights_sum_zero",
        ),
        pytest.param(
            "mean_squared_error",
            (Y2T, Y2P),
            {"multioutput": [1, -1]},
            ZeroDivisionError,
            "Weights sum to zero, can't be normalized",
            id="multioutput_sum_zero",
        ),
        pytest.param(
            "mean_squared_error",
            ([1, 2], [1, 3]),
            {"multioutput": [1.0]},
            ValueError,
            "Custom weights are useful only in multi-output cases.",
            id="custom_weights_one_output",
        ),
        pytest.param(
            "mean_squared_error",
            (Y2T, Y2P),
            {"multioutput": [1, 2, 3]},
            ValueError,
            "There must be equally many custom weights (3) as outputs (2).",
            id="custom_weights_count",
        ),
        pytest.param(
            "mean_squared_log_error",
            ([-1.0, 2.0], [1.0, 3.0]),
            {},
            ValueError,
            "Mean Squared Logarithmic Error cannot be used when targets contain values less than or equal "
            "to -1.",
            id="msle_range",
        ),
        pytest.param(
            "root_mean_squared_log_error",
            ([-1.0, 2.0], [1.0, 3.0]),
            {},
            ValueError,
            "Root Mean Squared Logarithmic Error cannot be used when targets contain values less than or "
            "equal to "
            "-1.",
            id="rmsle_range",
        ),
        pytest.param(
            "max_error",
            ([[1, 2], [3, 4]], [[1, 2], [3, 4]]),
            {},
            ValueError,
            "Multioutput not supported in max_error",
            id="max_error_multioutput",
        ),
        pytest.param(
            "max_error",
            (Y4T, Y4P),
            {"sample_weight": [1, 2, 0, 1]},
            TypeError,
            "got an unexpected keyword argument 'sample_weight'",
            id="max_error_sample_weight",
        ),
        pytest.param(
            "mean_squared_error",
            ([1, 2], [1, 3]),
            {"squared": False},
            TypeError,
            "got an unexpected keyword argument 'squared'",
            id="squared",
        ),
        pytest.param(
            "r2_score",
            ([1, 2], [1, 2], [1, 1]),
            {},
            TypeError,
            "too many positional arguments",
            id="positional",
        ),
        pytest.param(
            "mean_squared_error",
            (np.array([1 + 1j, 2]), [1, 3]),
            {},
            ValueError,
            "Complex data not supported\n[1.+1.j 2.+0.j]\n",
            id="complex",
        ),
        pytest.param(
            "mean_squared_error",
            (["a", "b"], [1, 3]),
            {},
            ValueError,
            "could not convert string to float: 'a'",
            id="strings",
        ),
        pytest.param(
            "max_error",
            (["1", "2"], [1, 4]),
            {},
            ValueError,
            "dtype='numeric' is not compatible with arrays of bytes/strings.Convert your data to numeric "
            "values "
            "explicitly instead.",
            id="max_error_strings",
        ),
    ],
)
def test_documented_messages(name, args, kwargs, exc_type, message):
    with pytest.raises(exc_type) as sk_info:
        getattr(skm, name)(*args, **kwargs)
    assert str(sk_info.value) == message  # the spec text is what sklearn says
    with pytest.raises(exc_type) as info:
        getattr(l2loss, name)(*args, **kwargs)
    assert type(info.value) is exc_type
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "message"),
    [
        pytest.param(
            "mean_squared_error",
            (1.0, 2.0),
            {},
            "The 'y_true' parameter of mean_squared_error must be an array-like. Got 1.0 instead.",
            id="mse_scalar",
        ),
        pytest.param(
            "r2_score",
            ([1.0, 2.0], 2.0),
            {},
            "The 'y_pred' parameter of r2_score must be an array-like. Got 2.0 instead.",
            id="r2_scalar_pred",
        ),
        pytest.param(
            "max_error",
            (None, [1.0]),
            {},
            "The 'y_true' parameter of max_error must be an array-like. Got None instead.",
            id="max_error_none",
        ),
        pytest.param(
            "mean_absolute_error",
            (Y4T, Y4P),
            {"sample_weight": 2.0},
            "The 'sample_weight' parameter of mean_absolute_error must be an array-like or None. Got 2.0 "
            "instead.",
            id="mae_scalar_weight",
        ),
        pytest.param(
            "mean_squared_error",
            (Y2T, Y2P),
            {"multioutput": "variance_weighted"},
            "The 'multioutput' parameter of mean_squared_error must be a str among {'raw_values', "
            "'uniform_average'} "
            "or an array-like. Got 'variance_weighted' instead.",
            id="mse_variance_weighted",
        ),
        pytest.param(
            "r2_score",
            (Y2T, Y2P),
            {"multioutput": "foo"},
            "The 'multioutput' parameter of r2_score must be a str among {'raw_values', 'uniform_average', "
            "'variance_weighted'}, an array-like or None. Got 'foo' instead.",
            id="r2_bad_multioutput",
        ),
        pytest.param(
            "explained_variance_score",
            (Y2T, Y2P),
            {"multioutput": None},
            "The 'multioutput' parameter of explained_variance_score must be a str among {'raw_values', "
            "'uniform_average', 'variance_weighted'} or an array-like. Got None instead.",
            id="evs_none_multioutput",
        ),
        pytest.param(
            "r2_score",
            ([1, 2], [1, 2]),
            {"force_finite": 1},
            "The 'force_finite' parameter of r2_score must be an instance of 'bool' or an instance of "
            "'numpy.bool'. "
            "Got 1 instead.",
            id="r2_force_finite_int",
        ),
    ],
)
def test_invalid_parameter_messages(name, args, kwargs, message):
    with pytest.raises(SkInvalidParameterError) as sk_info:
        getattr(skm, name)(*args, **kwargs)
    assert _normalise(str(sk_info.value)) == _normalise(message)
    with pytest.raises(l2loss.InvalidParameterError) as info:
        getattr(l2loss, name)(*args, **kwargs)
    assert _normalise(str(info.value)) == _normalise(message)
    # catchable as both ValueError and TypeError, like sklearn's
    with pytest.raises(ValueError):
        getattr(l2loss, name)(*args, **kwargs)
    with pytest.raises(TypeError):
        getattr(l2loss, name)(*args, **kwargs)


def test_generator_message_names_the_same_object():
    gen = (x for x in [1.0, 2.0])
    expected = f"The 'y_true' parameter of mean_squared_error must be an array-like. Got {gen!r} instead."
    with pytest.raises(l2loss.InvalidParameterError) as info:
        l2loss.mean_squared_error(gen, [1.0, 3.0])
    assert str(info.value) == expected


# --------------------------------------------------------------------------------------------
# sklearn quirks where the outcome (value or error) is compared as a whole
# --------------------------------------------------------------------------------------------

RMSE_QUIRKS = [
    pytest.param(
        ([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]),
        {"multioutput": [1.0]},
        id="one_output_custom_weight_returns_value",
    ),
    pytest.param(
        ([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]), {"multioutput": [1.0, 2.0]}, id="one_output_two_weights"
    ),
    pytest.param((Y2T, Y2P), {"multioutput": [1.0]}, id="too_few_weights"),
    pytest.param((Y2T, Y2P), {"multioutput": [1, 2, 3]}, id="too_many_weights"),
    pytest.param((Y2T, Y2P), {"multioutput": [[1, 2]]}, id="2d_weights"),
    pytest.param((Y2T, Y2P), {"multioutput": [1, NAN]}, id="nan_weight_returns_nan"),
    pytest.param((Y2T, Y2P), {"multioutput": [1, INF]}, id="inf_weight_returns_nan"),
    pytest.param((Y2T, Y2P), {"multioutput": []}, id="empty_weights"),
    pytest.param((Y2T, Y2P), {"multioutput": [1, -1]}, id="weights_sum_zero"),
    pytest.param((Y2T, Y2P), {"multioutput": [1.0, 3.0]}, id="valid_weights"),
]


@pytest.mark.parametrize(("args", "kwargs"), RMSE_QUIRKS)
def test_rmse_custom_weight_quirks(args, kwargs):
    """sklearn 1.9's root_mean_squared_error skips multioutput validation (it averages the
    raw_values of mean_squared_error with np.average), so it accepts weights its own
    mean_squared_error rejects ([1.0] for one output), fails with numpy's TypeError on a
    wrong length and returns nan for NaN weights. A drop-in does the same (issue #15.2;
    this test used to assert the opposite, MSE's validation, which the issue reverses)."""
    assert_same_outcome("root_mean_squared_error", *args, **kwargs)


def test_rmse_one_output_weight_is_sklearns_value():
    got = l2loss.root_mean_squared_error([3.0, 1.0], [2.0, 1.0], multioutput=[1.0])
    assert got == 0.7071067811865476 == skm.root_mean_squared_error([3.0, 1.0], [2.0, 1.0], multioutput=[1.0])
    with pytest.raises(TypeError, match="Axis must be specified"):
        l2loss.root_mean_squared_error(Y2T, Y2P, multioutput=[1, 2, 3])
    assert math.isnan(l2loss.root_mean_squared_error(Y2T, Y2P, multioutput=[NAN, 1]))


@pytest.mark.parametrize("name", WEIGHTED)
def test_multioutput_column_weights_quirk(name):
    """A (n_outputs, 1) weight array passes sklearn's length check and then fails in np.average."""
    assert_same_outcome(name, Y2T, Y2P, multioutput=np.array([[1.0], [2.0]]))


@pytest.mark.parametrize(
    "args", [pytest.param(([1.0, None], [1, 3]), id="true"), pytest.param(([1.0, 2.0], [None, 3]), id="pred")]
)
def test_max_error_none_in_list(args):
    """sklearn's max_error keeps object dtype and fails inside the subtraction (TypeError).  l2loss
    converts to floating point (intended difference 4), where None is NaN: either sklearn's exact
    TypeError or the float pipeline's ``ValueError('Input contains NaN.')`` is accepted."""
    expected = _sklearn_exc("max_error", args, {})
    assert type(expected) is TypeError
    got = _raise_of(lambda: l2loss.max_error(*args))
    assert got is not None, "l2loss.max_error accepted None"
    ok_sklearn = type(got) is TypeError and str(got) == str(expected)
    ok_float = type(got) is ValueError and str(got) == "Input contains NaN."
    assert ok_sklearn or ok_float, f"{type(got).__name__}: {got}"


# --------------------------------------------------------------------------------------------
# things that look wrong but are accepted (must NOT raise), value parity
# --------------------------------------------------------------------------------------------

ACCEPTED = [
    pytest.param(WEIGHTED, (["1", "2", "3"], [1, 3, 2]), {}, id="numeric_strings_list"),
    pytest.param(WEIGHTED, (np.array(["1.5", "2"]), ["1", "4"]), {}, id="numeric_strings_array"),
    pytest.param(WEIGHTED, (np.array([b"1", b"2"]), [1, 3]), {}, id="numeric_bytes"),
    pytest.param(WEIGHTED, (["1", "2"], [1, 3]), {"sample_weight": ["1", "2"]}, id="numeric_string_weights"),
    pytest.param(ALL, (range(3), [0, 1, 3]), {}, id="range"),
    pytest.param(WEIGHTED, (Y4T, Y4P), {"sample_weight": [1, -1, 1, 1]}, id="negative_weights"),
    pytest.param(WEIGHTED, (Y4T, Y4P), {"sample_weight": [True, False, True, True]}, id="bool_weights"),
    pytest.param(
        WEIGHTED, ([1.0, 2.0, 3.0], [1.0, 3.0, 3.0]), {"sample_weight": [0.1, 0.2, 0.2]}, id="tiny_weights"
    ),
    pytest.param(WEIGHTED, (Y2T, Y2P), {"multioutput": (1, 3)}, id="tuple_multioutput"),
    pytest.param(WEIGHTED, (Y2T, Y2P), {"multioutput": [-1, 2]}, id="negative_multioutput"),
    pytest.param(WEIGHTED, (Y2T, Y2P), {"multioutput": np.float32([1, 2])}, id="float32_multioutput"),
    pytest.param(("r2_score",), (Y2T, Y2P), {"multioutput": None}, id="r2_multioutput_none"),
    pytest.param(SCORE_FUNCS, (Y2T, Y2P), {"force_finite": np.bool_(False)}, id="numpy_bool_force_finite"),
    pytest.param(WEIGHTED, ([1, 2, 3], [[1], [2], [4]]), {}, id="vector_vs_column"),
    pytest.param(ALL, ([[1], [3]], [[1], [5]]), {}, id="column_vectors"),
    pytest.param(
        ALL, (np.array([1, 2.5], dtype=object), np.array([1, 3], dtype=object)), {}, id="object_arrays"
    ),
    pytest.param(
        ALL, (pd.Series([1, 2, 3], dtype="Int64"), pd.Series([1, 2, 4], dtype="Int64")), {}, id="nullable_int"
    ),
    pytest.param(LOG, ([-0.5, 0.0], [0.0, -0.999]), {}, id="msle_values_above_minus_one"),
    pytest.param(WEIGHTED, ([[1.0, 2.0, 3.0]], [[1.0, 2.0, 4.0]]), {}, id="single_row_2d"),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        pytest.param(name, p.values[1], p.values[2], id=f"{p.id}-{name}")
        for p in ACCEPTED
        for name in p.values[0]
    ],
)
def test_accepted_inputs(name, args, kwargs):
    if name == "max_error":
        kwargs = {}
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        expected = getattr(skm, name)(*args, **kwargs)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")  # r2 on a single row warns (checked in test_sklearn_parity)
        got = getattr(l2loss, name)(*args, **kwargs)
    assert type(got) is type(expected)
    if isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(got)
    else:
        # small-magnitude inputs: sklearn's rounding noise around an exact 0.0 is tolerated
        assert got == pytest.approx(expected, rel=1e-13, abs=1e-15)
