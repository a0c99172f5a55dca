"""Drop-in details beyond values (issue #15): sklearn's warning/error classes, its config,
NumPy's floating-point reports, sparse inputs, thread-count arguments (issue #15.9) and the
MSLE error order of issue #14 (#10). The oracle is always sklearn itself, run side by side."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import l2loss
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
import sklearn.exceptions
import sklearn.metrics as skm
from sklearn.utils._param_validation import InvalidParameterError as SkInvalidParameterError

PYTHON_DIR = str(Path(l2loss.__file__).resolve().parent.parent)


# -- warning and error classes -------------------------------------------------------------


def test_undefined_metric_warning_is_sklearns() -> None:
    with pytest.warns(sklearn.exceptions.UndefinedMetricWarning, match="R\\^2 score is not well-defined"):
        l2loss.r2_score([0.0], [1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=sklearn.exceptions.UndefinedMetricWarning)
        assert math.isnan(l2loss.r2_score([0.0], [1.0]))  # silenced by sklearn's filter
    assert issubclass(l2loss.UndefinedMetricWarning, sklearn.exceptions.UndefinedMetricWarning)
    with pytest.warns(l2loss.UndefinedMetricWarning):
        l2loss.regression_report([0.0], [1.0])


def test_warning_points_at_the_callers_line() -> None:
    for call in (
        lambda: l2loss.r2_score([0.0], [1.0]),
        lambda: l2loss.r2_score([0.0], [1.0], multioutput="raw_values"),
        lambda: l2loss.regression_report([0.0], [1.0]),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert len(caught) == 1
        assert caught[0].filename == __file__, caught[0].filename


def test_invalid_parameter_error_is_sklearns() -> None:
    with pytest.raises(SkInvalidParameterError, match="'multioutput' parameter of mean_squared_error"):
        l2loss.mean_squared_error([1.0], [2.0], multioutput="raw_valuez")
    try:
        l2loss.r2_score(5, [1.0])
    except SkInvalidParameterError as exc:
        assert isinstance(exc, (l2loss.InvalidParameterError, ValueError, TypeError))
        assert type(exc) is l2loss.InvalidParameterError
    else:
        raise AssertionError("no error")


def _run_without_sklearn(code: str) -> str:
    """Run code in a fresh interpreter where ``import sklearn`` fails."""
    prelude = "import sys\nsys.modules['sklearn'] = None  # blocks the import\n"
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": PYTHON_DIR, "PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_without_sklearn_nothing_changes() -> None:
    out = _run_without_sklearn(
        """
        import warnings
        import l2loss
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert l2loss.r2_score([0.0], [1.0]) != l2loss.r2_score([0.0], [1.0])
        assert caught[0].category is l2loss.UndefinedMetricWarning
        mro = l2loss.UndefinedMetricWarning.__mro__[1:]
        assert mro == (UserWarning, Warning, Exception, BaseException, object)
        try:
            l2loss.mean_squared_error([1.0], [2.0], multioutput="raw_valuez")
        except l2loss.InvalidParameterError as exc:
            assert type(exc) is l2loss.InvalidParameterError
            assert type(exc).__mro__[1:3] == (ValueError, TypeError)
        print(l2loss.mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]))
        loaded = [m for m, v in sys.modules.items() if v is not None and m.startswith(("sklearn", "scipy"))]
        print(sorted(loaded))
        """
    )
    assert out.split("\n")[:2] == ["0.375", "[]"]


def test_import_does_not_load_sklearn() -> None:
    code = "import sys, l2loss; print(sorted(m for m in sys.modules if m.startswith(('sklearn', 'scipy'))))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": PYTHON_DIR},
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


# -- sklearn.config_context(assume_finite=True) ---------------------------------------------

FINITE_CASES = [
    ("mean_squared_error", [math.nan, 1.0], [1.0, 2.0], {}),
    ("mean_squared_error", [math.inf, 1.0], [1.0, 2.0], {}),
    ("root_mean_squared_error", [math.inf, 1.0], [1.0, 2.0], {}),
    ("mean_absolute_error", [math.inf, 1.0], [1.0, 2.0], {}),
    ("r2_score", [math.nan, 1.0], [1.0, 2.0], {}),
    ("explained_variance_score", [math.nan, 1.0], [1.0, 2.0], {}),
    ("max_error", [math.nan, 1.0], [1.0, 2.0], {}),
    ("mean_squared_log_error", [math.nan, 1.0], [1.0, 2.0], {}),
    ("mean_squared_error", [1.0, 1.0], [1.0, 2.0], {"sample_weight": [math.nan, 1.0]}),
    ("mean_squared_error", [[1.0, 1.0]] * 2, [[1.0, 2.0]] * 2, {"multioutput": [math.nan, 1.0]}),
]


@pytest.mark.parametrize(("name", "y_true", "y_pred", "kwargs"), FINITE_CASES)
def test_assume_finite_is_honoured(name: str, y_true: Any, y_pred: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Input .*contains"):
        getattr(skm, name)(y_true, y_pred, **kwargs)
    with pytest.raises(ValueError, match="Input .*contains"):
        getattr(l2loss, name)(y_true, y_pred, **kwargs)
    with sklearn.config_context(assume_finite=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's inf - inf reports
        expected = getattr(skm, name)(y_true, y_pred, **kwargs)
        got = getattr(l2loss, name)(y_true, y_pred, **kwargs)
    assert type(got) is type(expected) is float
    assert got == expected or (math.isnan(got) and math.isnan(expected)), (got, expected)
    with pytest.raises(ValueError, match="Input .*contains"):  # the context is over
        getattr(l2loss, name)(y_true, y_pred, **kwargs)


def test_assume_finite_from_the_environment_without_sklearn() -> None:
    out = _run_without_sklearn(
        """
        import os
        os.environ["SKLEARN_ASSUME_FINITE"] = "1"
        import l2loss
        print(l2loss.mean_squared_error([float("nan"), 1.0], [1.0, 2.0]))
        """
    )
    assert out.strip() == "nan"


# -- NumPy floating-point reports, under the caller's np.errstate --------------------------

FP_CASES = [
    ("mean_squared_error", [1e200], [-1e200], {}, "overflow encountered in square"),
    ("root_mean_squared_error", [1e200, 1.0], [-1e200, 2.0], {}, "overflow encountered in square"),
    ("mean_squared_error", [1e308, 1.0], [-1e308, 2.0], {}, "overflow encountered in subtract"),
    ("mean_absolute_error", [1e308, -1e308], [-1e308, 1e308], {}, "overflow encountered in subtract"),
    ("r2_score", [1.0, 1.0], [1.0, 2.0], {"force_finite": False}, "divide by zero encountered in divide"),
    ("r2_score", [1.0, 1.0], [1.0, 1.0], {"force_finite": False}, "invalid value encountered in divide"),
    ("explained_variance_score", [1.0, 1.0], [1.0, 2.0], {"force_finite": False},
     "divide by zero encountered in divide"),
]


@pytest.mark.parametrize(("name", "y_true", "y_pred", "kwargs", "message"), FP_CASES)
def test_floating_point_reports_follow_errstate(
    name: str, y_true: Any, y_pred: Any, kwargs: dict[str, Any], message: str
) -> None:
    results = []
    for module in (skm, l2loss):
        with pytest.warns(RuntimeWarning, match=message) as caught:
            results.append(getattr(module, name)(y_true, y_pred, **kwargs))
        assert [str(w.message) for w in caught] == [message]
    expected, got = results
    assert got == expected or (math.isnan(got) and math.isnan(expected)), (got, expected)
    for module in (skm, l2loss):
        with np.errstate(all="raise"), pytest.raises(FloatingPointError, match=message):
            getattr(module, name)(y_true, y_pred, **kwargs)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(l2loss, name)(y_true, y_pred, **kwargs)  # silent, like numpy


# -- sparse inputs ---------------------------------------------------------------------------

SPARSE = [sp.csr_matrix, sp.csr_array, sp.coo_array]


@pytest.mark.parametrize("kind", SPARSE)
@pytest.mark.parametrize("where", ["y_true", "y_pred", "sample_weight", "multioutput"])
def test_sparse_inputs_are_sklearns_invalid_parameter(kind: Any, where: str) -> None:
    args: dict[str, Any] = {"y_true": [[1.0, 2.0]], "y_pred": [[1.0, 3.0]]}
    args[where] = kind(np.array([[1.0, 2.0]]))
    for module in (skm, l2loss):
        with pytest.raises(SkInvalidParameterError) as info:
            module.mean_squared_error(**args)
        if module is skm:
            expected = str(info.value)
    assert str(info.value) == expected
    assert f"The '{where}' parameter of mean_squared_error must be" in expected


def test_sparse_max_error() -> None:
    with pytest.raises(SkInvalidParameterError, match="'y_true' parameter of max_error must be an array-"):
        l2loss.max_error(sp.csr_array([[1.0, 2.0]]), [[1.0, 2.0]])


# -- issue #14 / #10: MSLE's domain error comes before numpy.average's TypeError -------------


@pytest.mark.parametrize("name", ["mean_squared_log_error", "root_mean_squared_log_error"])
@pytest.mark.parametrize("weights", [[[1.0], [2.0]], np.array([[1.0], [2.0]])])
def test_msle_domain_error_before_2d_weights(name: str, weights: Any) -> None:
    args = ([[3.0, -1.0], [2.0, 1.0]], [[2.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="Logarithmic Error cannot be used") as sk_info:
        getattr(skm, name)(*args, multioutput=weights)
    with pytest.raises(ValueError) as info:
        getattr(l2loss, name)(*args, multioutput=weights)
    assert (type(info.value), str(info.value)) == (type(sk_info.value), str(sk_info.value))


def test_r2_single_sample_before_2d_weights() -> None:
    args = ([[3.0, 1.0]], [[2.0, 1.0]])
    for module in (skm, l2loss):
        with pytest.warns(UserWarning, match="R\\^2 score is not well-defined"):
            assert math.isnan(module.r2_score(*args, multioutput=[[1.0], [2.0]]))


# -- issue #15.9: one rule for thread counts ------------------------------------------------


@pytest.mark.parametrize("n", [2, np.int64(2), np.int32(2), np.uint8(2)])
def test_numpy_integers_are_thread_counts_everywhere(n: Any) -> None:
    previous = l2loss.set_num_threads(n)
    try:
        assert l2loss.get_num_threads() == 2
        assert l2loss.mean_squared_error([1.0, 2.0], [1.0, 3.0], num_threads=n) == 0.5
        assert l2loss.mse_loss([1.0, 2.0], [1.0, 3.0], num_threads=n) == 0.5
    finally:
        l2loss.set_num_threads(previous)


@pytest.mark.parametrize("bad", [True, np.True_, 2.0, np.float64(2.0), "2", 0, np.int64(-1), 2**31])
def test_bad_thread_counts_are_refused_everywhere(bad: Any) -> None:
    previous = l2loss.get_num_threads()
    with pytest.raises(ValueError, match="^n must be"):
        l2loss.set_num_threads(bad)
    with pytest.raises(ValueError, match="^num_threads must be"):
        l2loss.mean_squared_error([1.0, 2.0], [1.0, 3.0], num_threads=bad)
    with pytest.raises(ValueError, match="^num_threads must be"):
        l2loss.r2_score([1.0, 2.0], [1.0, 3.0], num_threads=bad)
    assert l2loss.get_num_threads() == previous


def test_report_rmse_of_negative_weighted_mse_is_nan_without_warning() -> None:
    # Negative weights (allowed, as in sklearn) can make an output's MSE negative; the
    # report's rmse is then NaN, silently (hypothesis found it: test_stream.py, seed 46).
    y, p, w = [[0.0], [0.0]], [[1.0], [3.0]], [1.0, -0.2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = l2loss.regression_report(y, p, sample_weight=w, multioutput="raw_values")
    assert rep.mse[0] == (1.0 - 0.2 * 9.0) / 0.8 < 0
    assert math.isnan(rep.rmse[0])


# -- issue #15.7: array API dispatch ----------------------------------------------------------

ARRAY_API_SCRIPT = """
import sklearn, numpy as np, torch
import sklearn.metrics as skm
import l2loss
names = ["mean_squared_error", "root_mean_squared_error", "mean_absolute_error", "r2_score",
         "explained_variance_score", "mean_squared_log_error", "root_mean_squared_log_error"]
yt = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
yp = torch.tensor([[1.5, 2.0], [3.0, 5.0]])
for dispatch in (True, False):
    with sklearn.config_context(array_api_dispatch=dispatch):
        for name in names:
            for a, b in ((yt, yp), (yt.double(), yp.double()), (yt.numpy(), yp.numpy())):
                sk = getattr(skm, name)(a, b, multioutput="raw_values")
                l2 = getattr(l2loss, name)(a, b, multioutput="raw_values")
                assert type(l2) is type(sk) and l2.dtype == sk.dtype, (name, dispatch, type(sk), type(l2))
                assert np.allclose(np.asarray(l2), np.asarray(sk), rtol=1e-6), (name, l2, sk)
                assert type(getattr(l2loss, name)(a, b)) is float
print("ok")
"""


def test_array_api_dispatch_returns_raw_values_in_the_inputs_namespace() -> None:
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, "-c", ARRAY_API_SCRIPT], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": PYTHON_DIR, "SCIPY_ARRAY_API": "1"},
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


class _Unreadable:
    """An array-like whose host view fails (like a device array without a CPU copy)."""

    shape = (3,)
    dtype = np.dtype(np.float64)

    def __len__(self) -> int:
        return 3

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise RuntimeError("cannot export this buffer")


@pytest.mark.parametrize("where", ["y_true", "y_pred", "sample_weight"])
def test_unreadable_arrays_get_a_clear_error(where: str) -> None:
    args: dict[str, Any] = {"y_true": [1.0, 2.0, 3.0], "y_pred": [1.0, 2.0, 4.0]}
    args[where] = _Unreadable()
    with pytest.raises(TypeError, match=f"^{where} of type .*_Unreadable could not be read as a host array"):
        l2loss.mean_squared_error(**args)
