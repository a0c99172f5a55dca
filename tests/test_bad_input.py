"""Bad input at every edge of the public API: clear ValueError/TypeError naming the
argument (sklearn's class where sklearn has one), never a crash.
"""

from __future__ import annotations

import warnings
from typing import Any

import l2loss
import numpy as np
import pytest
from _support import METRICS, call

skm = pytest.importorskip("sklearn.metrics")




# ================================================================================================
# 2. Bad input at the edges
# ================================================================================================

GOOD = np.array([1.0, 2.0, 4.0])
BAD_VALUES = {
    "None": None,
    "scalar": 3.0,
    "string": "abc",
    "object": object(),
    "dict": {"a": 1},
    "complex": np.array([1 + 2j, 3j, 1.0]),
    "complex_list": [1 + 1j, 2.0, 3.0],
    "ragged": [[1.0, 2.0], [3.0], [4.0, 5.0]],
    "strings": ["a", "b", "c"],
    "object_array": np.array([object(), object(), object()]),
    "zero_d": np.array(5.0),
    "empty": np.array([]),
    "wrong_length": np.array([1.0, 2.0]),
    "three_d": np.ones((3, 1, 2)),
    "structured": np.zeros(3, dtype=[("a", "f8"), ("b", "f8")]),
    "datetime": np.array(["2020-01-01"] * 3, dtype="datetime64[D]"),
}
SK_FUNCS = METRICS + ("regression_report",)


@pytest.mark.parametrize(
    ("func", "position", "bad"),
    [
        (f, pos, b)
        for f in SK_FUNCS
        for pos in ("y_true", "y_pred", "sample_weight")
        for b in BAD_VALUES
        if b != "datetime"  # sklearn converts dates to numbers too
        and not (pos == "sample_weight" and (f == "max_error" or b == "None"))  # no weights / the default
    ],
)
def test_sklearn_compatible_functions_reject_bad_input(func: str, position: str, bad: str) -> None:
    value = BAD_VALUES[bad]
    args = {"y_true": GOOD, "y_pred": GOOD + 1, "sample_weight": None}
    args[position] = value
    kwargs = {"sample_weight": args["sample_weight"]} if func != "max_error" else {}
    status, got, _ = call(getattr(l2loss, func), args["y_true"], args["y_pred"], **kwargs)
    assert status == "err", f"{func}({position}={bad}) returned {got!r}"
    assert isinstance(got, (ValueError, TypeError)), f"{func}({position}={bad}) raised {got!r}"


@pytest.mark.parametrize(
    ("func", "bad"),
    [
        # num_threads=0 used to be accepted on the fast path of MSE/RMSE/MAE (found by this test,
        # fixed in _validation.small_call_fast_path).
        pytest.param(f, b, id=f"{f}-{b!r}")
        for f in SK_FUNCS
        for b in (0, -1, 1.5, True, "2", [2], 2**40, np.float64(2.0))
    ],
)
def test_num_threads_is_validated(func: str, bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        getattr(l2loss, func)(GOOD, GOOD + 1, num_threads=bad)


def test_zero_weights_and_zero_weight_sum() -> None:
    for func in SK_FUNCS:
        if func == "max_error":
            continue
        with pytest.raises(ValueError, match="non-zero"):
            getattr(l2loss, func)(GOOD, GOOD + 1, sample_weight=np.zeros(3))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ZeroDivisionError):
                getattr(l2loss, func)(GOOD, GOOD + 1, sample_weight=np.array([1.0, -1.0, 0.0]))


LOSS_CALLS = {
    "mse_loss": lambda a, b: l2loss.mse_loss(a, b),
    "per_sample_mse": lambda a, b: l2loss.per_sample_mse(a, b),
    "mse_grad": lambda a, b: l2loss.mse_grad(a, b),
    "mse_value_and_grad": lambda a, b: l2loss.mse_value_and_grad(a, b),
}
# mse_loss and per_sample_mse broadcast like torch / Keras, so scalars and broadcastable
# shapes are valid there; torch reports incompatible shapes with RuntimeError.
BROADCASTING_OK = {"scalar", "zero_d", "three_d"}


@pytest.mark.parametrize("func", list(LOSS_CALLS))
@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("bad", list(BAD_VALUES), ids=str)
def test_losses_reject_bad_input(func: str, position: int, bad: str) -> None:
    args = [GOOD, GOOD + 1]
    args[position] = BAD_VALUES[bad]
    status, got, warned = call(LOSS_CALLS[func], *args)
    if func in ("mse_loss", "per_sample_mse") and bad in BROADCASTING_OK:
        if status == "ok":
            assert np.all(np.isfinite(np.asarray(got, dtype=np.float64)))
            return
    assert status == "err", f"{func} accepted {bad}: {got!r}"
    allowed = (ValueError, TypeError) + ((RuntimeError,) if func == "mse_loss" else ())
    assert isinstance(got, allowed), f"{func}({bad}) raised {got!r}"


@pytest.mark.parametrize("bad", list(BAD_VALUES), ids=str)
def test_l2_penalty_and_ridge_reject_bad_input(bad: str) -> None:
    value = BAD_VALUES[bad]
    X, y, coef = np.ones((3, 2)), GOOD, np.zeros(2)
    calls = {
        "ridge X": lambda: l2loss.ridge_loss_and_grad(value, y, coef),
        "ridge y": lambda: l2loss.ridge_loss_and_grad(X, value, coef),
        "ridge coef": lambda: l2loss.ridge_loss_and_grad(X, y, value if bad != "wrong_length" else GOOD),
        "ridge sample_weight": lambda: l2loss.ridge_loss_and_grad(X, y, coef, sample_weight=value),
    }
    if bad not in ("scalar", "zero_d", "empty", "wrong_length", "three_d"):
        calls["l2_penalty"] = lambda: l2loss.l2_penalty(value, 0.5)
    for name, fn in calls.items():
        if name == "ridge sample_weight" and value is None:
            continue
        status, got, _ = call(fn)
        assert status == "err", f"{name}={bad} returned {got!r}"
        assert isinstance(got, (ValueError, TypeError)), f"{name}={bad} raised {got!r}"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reduction": "avg"},
        {"reduction": None},
        {"num_threads": 0},
        {"sample_weight": np.ones(4)},
        {"sample_weight": np.ones((3, 1))},
        {"sample_weight": "abc"},
    ],
    ids=repr,
)
def test_grad_options_are_validated(kwargs: dict) -> None:
    for fn in (l2loss.mse_grad, l2loss.mse_value_and_grad):
        with pytest.raises((ValueError, TypeError)):
            fn(GOOD, GOOD + 1, **kwargs)


def test_loss_options_are_validated() -> None:
    for kwargs in ({"reduction": "avg"}, {"num_threads": -1}, {"weight": np.ones(4)}):
        with pytest.raises((ValueError, TypeError)):
            l2loss.mse_loss(GOOD, GOOD + 1, **kwargs)
    with pytest.raises(ValueError):
        l2loss.per_sample_mse(np.ones((3, 2)), np.ones((3, 2)), reduction="avg")
    for alpha in ("x", None, [1.0]):
        with pytest.raises((ValueError, TypeError)):
            l2loss.l2_penalty(GOOD, alpha)
    with pytest.raises((ValueError, TypeError)):
        l2loss.ridge_loss_and_grad(np.ones((0, 2)), np.ones(0), np.zeros(2))
    with pytest.raises((ValueError, TypeError)):
        l2loss.ridge_loss_and_grad(np.ones((3, 2)), GOOD, np.zeros(2), num_threads=0)


def test_accumulator_rejects_bad_input_and_keeps_its_state() -> None:
    acc = l2loss.RegressionAccumulator()
    acc.update(GOOD, GOOD + 1)
    blob = acc.to_bytes()
    for bad in ("None", "string", "complex", "ragged", "empty", "three_d", "object"):
        for args in ((BAD_VALUES[bad], GOOD), (GOOD, BAD_VALUES[bad])):
            with pytest.raises((ValueError, TypeError)):
                acc.update(*args)
    with pytest.raises(ValueError):
        acc.update(np.ones((3, 2)), np.ones((3, 2)))  # the accumulator has one output
    with pytest.raises(ValueError):
        acc.update(GOOD, np.array([1.0, np.nan, 2.0]))
    with pytest.raises(TypeError):
        acc.merge("not an accumulator")
    with pytest.raises(ValueError):
        acc.merge(l2loss.RegressionAccumulator(2))
    for bad_mo in ("bad", None, 3):
        with pytest.raises((ValueError, TypeError)):
            acc.compute(bad_mo)
    with pytest.raises(ValueError):
        l2loss.RegressionAccumulator().compute()
    for bad_n in (0, -1, 1.5, "2", True):
        with pytest.raises((ValueError, TypeError)):
            l2loss.RegressionAccumulator(bad_n)
    assert acc.to_bytes() == blob
