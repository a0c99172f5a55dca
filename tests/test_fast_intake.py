"""The fast intake (cpp/src/fast_intake.cpp, issue #16.1) is invisible but for its speed.

Every public metric, ``regression_report`` and ``RegressionAccumulator.update`` first
hand their arguments to one C++ entry, which answers the common call or returns None.
Checked here: (1) whenever it answers, the result has the bits of the general path
(``func.__wrapped__``, which never consults it) over many random shapes, dtypes,
layouts, weights, ``multioutput`` values, ``force_finite`` and thread counts, and the
general path agrees with independent oracles (exact fractions, sklearn); (2) every case
it declines still gives sklearn's values, errors and warnings; (3) a streamed state fed
through it has the bytes of one fed through the general path.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import l2loss
import numpy as np
import pytest
import sklearn
import sklearn.metrics as skm
import torch
from _support import THREAD_COUNTS, bits, exact_sum, terms_sq, to_double
from l2loss import _core

INTAKE = {
    "mean_squared_error": _core.mse_intake,
    "root_mean_squared_error": _core.rmse_intake,
    "mean_absolute_error": _core.mae_intake,
    "mean_squared_log_error": _core.msle_intake,
    "root_mean_squared_log_error": _core.rmsle_intake,
    "max_error": _core.max_error_intake,
    "r2_score": _core.r2_intake,
    "explained_variance_score": _core.explained_variance_intake,
    "regression_report": _core.report_intake,
}
FRACTION = ("r2_score", "explained_variance_score")
SIZES = (1, 2, 3, 7, 8, 9, 16, 17, 33, 1000, 4097)


def general(name: str) -> Callable[..., Any]:
    """The public function without its fast-intake wrapper: the general path only."""
    return getattr(l2loss, name).__wrapped__  # type: ignore[no-any-return]


def same(a: Any, b: Any) -> bool:
    """Equal bits: floats, arrays (dtype and bytes) and reports field by field."""
    if isinstance(a, l2loss.RegressionReport):
        return type(b) is type(a) and all(same(x, y) for x, y in zip(vars(a).values(), vars(b).values()))
    if isinstance(a, np.ndarray):
        return (
            type(b) is np.ndarray and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        )
    if isinstance(a, int) and not isinstance(a, bool):
        return type(b) is int and a == b
    return type(a) is float and type(b) is float and bits(a) == bits(b)


def random_case(rng: np.random.Generator, name: str) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A clean call the fast intake must answer: finite data, positive weights."""
    n = int(rng.choice(SIZES[1:] if name in (*FRACTION, "regression_report") else SIZES))  # n = 1: a warning
    shape_kind = "1d" if name == "max_error" else str(rng.choice(["1d", "col", "2", "3"]))
    k = {"1d": 1, "col": 1, "2": 2, "3": 3}[shape_kind]
    dt, dp = (rng.choice(["float64", "float32"]) for _ in range(2))
    scale = 10.0 ** rng.integers(-3, 4)
    y = rng.uniform(0.0, 5.0, (n, k)) * scale
    p = np.abs(y + rng.standard_normal((n, k)) * scale)  # >= 0: the log metrics accept it
    if rng.random() < 0.3:  # strided and reversed views
        y = np.repeat(y, 2, axis=0)[::-2]
        p = np.asfortranarray(p)
    if shape_kind == "1d":
        y, p = y[:, 0], p[:, 0]
    y, p = y.astype(dt), p.astype(dp)
    kw: dict[str, Any] = {}
    if name != "max_error":
        if rng.random() < 0.6:
            kw["sample_weight"] = rng.uniform(0.1, 3.0, n).astype(rng.choice(["float64", "float32"]))
        options = ["uniform_average", "raw_values"]
        if name in FRACTION:
            options.append("variance_weighted")
        if name == "r2_score":
            options.append(None)
        choice = rng.integers(len(options) + (2 if k > 1 else 0))
        if choice < len(options):
            kw["multioutput"] = options[choice]
        elif choice == len(options):
            kw["multioutput"] = rng.uniform(0.1, 1.0, k)
        else:
            kw["multioutput"] = [float(v) for v in rng.uniform(0.1, 1.0, k)]
        if name in FRACTION and rng.random() < 0.5:
            kw["force_finite"] = bool(rng.random() < 0.5)
    if rng.random() < 0.4:
        kw["num_threads"] = int(rng.choice(THREAD_COUNTS))
    if name in ("mean_squared_error", "root_mean_squared_error", "regression_report") and rng.random() < 0.2:
        kw["exact"] = False
    return y, p, kw


@pytest.mark.parametrize("name", list(INTAKE))
def test_the_fast_intake_answers_with_the_general_paths_bits(isa: str, name: str) -> None:
    rng = np.random.default_rng(sum(map(ord, name + isa)))
    public, slow, intake = getattr(l2loss, name), general(name), INTAKE[name]
    for _ in range(60):
        y, p, kw = random_case(rng, name)
        assert intake(y, p, kw) is not None, (y.shape, y.dtype, p.dtype, kw)  # it answers ...
        got, want = public(y, p, **kw), slow(y, p, **kw)
        assert same(got, want), (name, y.shape, y.dtype, p.dtype, kw, got, want)  # ... with the same bits


def test_results_do_not_depend_on_threads_or_the_gil_release() -> None:
    rng = np.random.default_rng(7)
    n = 3 * 65536 + 7  # above the GIL-release threshold and the threading threshold
    y, p, w = rng.standard_normal(n), rng.standard_normal(n), rng.uniform(0.5, 2.0, n)
    for name in ("mean_squared_error", "r2_score", "explained_variance_score", "regression_report"):
        want = general(name)(y, p, sample_weight=w, num_threads=1)
        for t in THREAD_COUNTS:
            assert INTAKE[name](y, p, {"sample_weight": w, "num_threads": t}) is not None
            assert same(getattr(l2loss, name)(y, p, sample_weight=w, num_threads=t), want), (name, t)


# ---- the general path those bits come from agrees with independent oracles ----


@pytest.mark.parametrize("n", [1, 17, 1000])
def test_weighted_mean_squared_error_is_the_correctly_rounded_exact_mean(n: int) -> None:
    rng = np.random.default_rng(n)
    y, p = rng.standard_normal(n) * 1e3, rng.standard_normal(n)
    w = rng.uniform(-0.5, 2.0, n)
    w[0] = abs(w[0]) + 1.0  # a positive total
    want = to_double(exact_sum(terms_sq(y, p, w)) / exact_sum(w.tolist()))
    if want < 0:
        w = np.abs(w)
        want = to_double(exact_sum(terms_sq(y, p, w)) / exact_sum(w.tolist()))
    assert _core.mse_intake(y, p, {"sample_weight": w}) is not None
    assert bits(l2loss.mean_squared_error(y, p, sample_weight=w)) == bits(want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_results_match_sklearn(dtype: str) -> None:
    rng = np.random.default_rng(3)
    y = rng.uniform(0.0, 4.0, (200, 3)).astype(dtype)
    p = (y + rng.standard_normal((200, 3))).clip(0.0).astype(dtype)
    w = rng.uniform(0.5, 2.0, 200).astype(dtype)
    for name in INTAKE:
        if name in ("regression_report", "max_error"):
            continue
        for mo in (
            "raw_values",
            "uniform_average",
            [0.2, 0.3, 0.5],
            *(("variance_weighted",) if name in FRACTION else ()),
        ):
            kw = {"sample_weight": w, "multioutput": mo}
            assert INTAKE[name](y, p, kw) is not None
            got, want = getattr(l2loss, name)(y, p, **kw), getattr(skm, name)(y, p, **kw)
            assert type(got) is type(want) or isinstance(want, float), (name, mo)
            assert np.asarray(got).dtype == np.asarray(want).dtype, (name, mo)
            np.testing.assert_allclose(got, want, rtol=2e-5 if dtype == "float32" else 1e-12, err_msg=name)
    y1, p1 = y[:, 0], p[:, 0]
    assert _core.max_error_intake(y1, p1, {}) is not None
    got = l2loss.max_error(y1, p1)
    assert type(got) is float and bits(got) == bits(float(skm.max_error(y1, p1)))


def test_report_fields_match_the_single_metrics() -> None:
    rng = np.random.default_rng(5)
    y, p, w = rng.standard_normal((100, 2)), rng.standard_normal((100, 2)), rng.uniform(0.5, 2.0, 100)
    for mo in ("raw_values", "uniform_average", np.array([0.25, 0.75])):
        kw = {"sample_weight": w, "multioutput": mo}
        assert _core.report_intake(y, p, kw) is not None
        rep = l2loss.regression_report(y, p, **kw)
        assert same(rep.mse, l2loss.mean_squared_error(y, p, **kw))
        assert same(rep.mae, l2loss.mean_absolute_error(y, p, **kw))
        assert same(rep.r2, l2loss.r2_score(y, p, **kw))
        assert same(rep.explained_variance, l2loss.explained_variance_score(y, p, **kw))


# ---- what the fast intake declines still behaves exactly like sklearn ----


def key(value: Any) -> Any:
    """A comparable form of a result: bits for floats (NaN == NaN), dtype and bytes for arrays."""
    if isinstance(value, l2loss.RegressionReport):
        return tuple(key(v) for v in vars(value).values())
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, float):
        return ("float", bits(value))
    return value


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """(kind, value or (exception class, message), warning classes) of one call."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            value: Any = fn(*args, **kwargs)
            kind = "ok"
        except Exception as exc:  # noqa: BLE001 - compared below
            value, kind = (type(exc), str(exc)), "err"
    return kind, value, [w.category for w in rec]


Y = np.array([3.0, -0.5, 2.0, 7.0, 4.0])
P = np.array([2.5, 0.0, 2.0, 8.0, 4.5])
Y2, P2 = np.c_[Y, Y[::-1]], np.c_[P, P * 2]
NAN = np.array([3.0, np.nan, 2.0, 7.0, 4.0])
W = np.array([1.0, 2.0, 0.5, 1.0, 1.5])

# (label, metric, y_true, y_pred, kwargs): each one declined by the intake.
DECLINED: list[tuple[str, str, Any, Any, dict[str, Any]]] = [
    ("lists", "mean_squared_error", Y.tolist(), P.tolist(), {}),
    ("int arrays", "r2_score", Y.astype(int), P.astype(int), {}),
    ("byte-swapped", "mean_absolute_error", Y.astype(">f8"), P, {}),
    ("masked array", "mean_squared_error", np.ma.masked_array(Y, [1, 0, 0, 0, 0]), P, {}),
    ("NaN in y_true", "mean_squared_error", NAN, P, {}),
    ("NaN in y_pred, r2", "r2_score", Y, NAN, {}),
    ("inf in weights", "mean_squared_error", Y, P, {"sample_weight": np.r_[W[:4], np.inf]}),
    ("weights all zero", "explained_variance_score", Y, P, {"sample_weight": np.zeros(5)}),
    ("weights sum to zero", "r2_score", Y, P, {"sample_weight": np.array([1.0, -1.0, 0.0, 2.0, -2.0])}),
    (
        "weights sum to zero, report",
        "regression_report",
        Y,
        P,
        {"sample_weight": np.array([1.0, -1.0, 0, 0, 0])},
    ),
    ("2-D weights", "mean_squared_error", Y, P, {"sample_weight": W.reshape(-1, 1)}),
    ("weights too short", "mean_absolute_error", Y, P, {"sample_weight": W[:4]}),
    ("list weights", "mean_squared_error", Y, P, {"sample_weight": W.tolist()}),
    ("scalar weight", "mean_squared_error", Y, P, {"sample_weight": 2.0}),
    ("r2 of one sample", "r2_score", Y[:1], P[:1], {}),
    ("report of one sample", "regression_report", Y[:1], P[:1], {}),
    ("force_finite as numpy bool", "r2_score", Y, P, {"force_finite": np.bool_(False)}),
    ("force_finite as int", "r2_score", Y, P, {"force_finite": 1}),
    ("constant y_true, force_finite=False", "r2_score", np.ones(5), P, {"force_finite": False}),
    (
        "constant y_true, EV, force_finite=False",
        "explained_variance_score",
        np.ones(5),
        P,
        {"force_finite": False},
    ),
    ("custom weights, one output", "mean_squared_error", Y, P, {"multioutput": np.array([1.0])}),
    ("custom weights, one output, rmse", "root_mean_squared_error", Y, P, {"multioutput": [1.0]}),
    ("custom weights, wrong length", "r2_score", Y2, P2, {"multioutput": [0.5, 0.2, 0.3]}),
    (
        "custom weights, wrong length, rmse",
        "root_mean_squared_error",
        Y2,
        P2,
        {"multioutput": [0.5, 0.2, 0.3]},
    ),
    ("custom weights with NaN", "mean_squared_error", Y2, P2, {"multioutput": [0.5, np.nan]}),
    ("custom weights of ints", "mean_absolute_error", Y2, P2, {"multioutput": [1, 3]}),
    ("custom weights summing to zero", "mean_squared_error", Y2, P2, {"multioutput": [1.0, -1.0]}),
    ("custom weights 2-D", "mean_squared_error", Y2, P2, {"multioutput": np.ones((2, 1))}),
    ("variance_weighted for mse", "mean_squared_error", Y2, P2, {"multioutput": "variance_weighted"}),
    ("misspelt option", "r2_score", Y2, P2, {"multioutput": "raw_valuez"}),
    ("None outside r2", "mean_squared_error", Y2, P2, {"multioutput": None}),
    ("num_threads as numpy int", "mean_squared_error", Y, P, {"num_threads": np.int64(2)}),
    ("num_threads=0", "mean_squared_error", Y, P, {"num_threads": 0}),
    ("num_threads as float", "r2_score", Y, P, {"num_threads": 2.0}),
    ("exact=True", "mean_squared_error", Y, P, {"exact": True}),
    ("exact=1", "mean_squared_error", Y, P, {"exact": 1}),
    ("unknown keyword", "mean_squared_error", Y, P, {"squared": False}),
    ("exact on mae", "mean_absolute_error", Y, P, {"exact": False}),
    ("weights on max_error", "max_error", Y, P, {"sample_weight": W}),
    ("mismatched lengths", "mean_squared_error", Y, P[:4], {}),
    ("mismatched outputs", "r2_score", Y2, P2[:, :1].repeat(3, axis=1), {}),
    ("3-D", "mean_squared_error", Y.reshape(5, 1, 1), P.reshape(5, 1, 1), {}),
    ("empty", "explained_variance_score", Y[:0], P[:0], {}),
    ("no columns", "mean_squared_error", Y2[:, :0], P2[:, :0], {}),
    ("max_error with two outputs", "max_error", Y2, P2, {}),
    ("msle below -1", "mean_squared_log_error", Y - 3.0, P, {}),
    ("rmsle below -1", "root_mean_squared_log_error", Y, P - 3.0, {}),
    ("msle of float16", "mean_squared_log_error", Y.astype(np.float16), P.astype(np.float16), {}),
    (
        "float16 raw values",
        "mean_squared_error",
        Y.astype(np.float16),
        P.astype(np.float16),
        {"multioutput": "raw_values"},
    ),
    (
        "float16 weighted",
        "mean_squared_error",
        Y.astype(np.float16),
        P.astype(np.float16),
        {"sample_weight": W},
    ),
    ("float16 report", "regression_report", Y.astype(np.float16), P.astype(np.float16), {}),
    ("float16 max_error", "max_error", Y.astype(np.float16), P.astype(np.float16), {}),
    ("float16 with float32", "mean_squared_error", Y.astype(np.float16), P.astype(np.float32), {}),
    ("longdouble", "mean_squared_error", Y.astype(np.longdouble), P, {}),
    (
        "negative weighted mse under a root",
        "root_mean_squared_error",
        Y,
        P,
        {"sample_weight": np.array([1.0, 1.0, 1.0, -3.0, 1.0])},
    ),
    ("overflowing squares", "mean_squared_error", np.full(3, 1e300), np.full(3, -1e300), {}),
    ("overflowing r2 ratio", "r2_score", np.array([0.0, 0.0, 1e-300]), np.array([1e300, 0.0, 0.0]), {}),
    (
        "torch tensors",
        "mean_squared_error",
        torch.from_numpy(Y2),
        torch.from_numpy(P2),
        {"multioutput": "raw_values"},
    ),  # (array API dispatch: test_sklearn_interop's subprocess)
]
# l2loss-only keywords, and cases where l2loss is deliberately more exact than sklearn
# (exact sums; float16 inputs not computed in float16): compared with the general path only.
NOT_SKLEARN = {
    "num_threads as numpy int",
    "num_threads=0",
    "num_threads as float",
    "exact=True",
    "exact=1",
    "overflowing r2 ratio",
    "msle of float16",
    "regression_report",
}
# sklearn's message differs in form only (set order of the options, numpy's wording).
OWN_MESSAGE = {"int arrays", "custom weights 2-D", "float16 with float32", "misspelt option"}


@pytest.mark.parametrize(("label", "name", "y", "p", "kw"), DECLINED, ids=[c[0] for c in DECLINED])
def test_declined_calls_behave_like_sklearn(
    label: str, name: str, y: Any, p: Any, kw: dict[str, Any]
) -> None:
    assert INTAKE[name](y, p, kw) is None, label
    got = outcome(getattr(l2loss, name), y, p, **kw)
    slow = outcome(general(name), y, p, **kw)
    assert (got[0], key(got[1]), got[2]) == (slow[0], key(slow[1]), slow[2]), (
        label
    )  # the general path's result
    if label in NOT_SKLEARN or name in NOT_SKLEARN:
        return
    want = outcome(getattr(skm, name), y, p, **kw)
    assert got[0] == want[0], (label, got, want)
    if got[0] == "err":
        assert issubclass(got[1][0], want[1][0]) or issubclass(want[1][0], got[1][0]), (label, got, want)
        if label not in OWN_MESSAGE:
            assert got[1][1] == want[1][1], (label, got, want)
    else:
        rtol = 1e-2 if np.asarray(y).dtype == np.float16 else 1e-6
        np.testing.assert_allclose(
            np.asarray(got[1], dtype=float), np.asarray(want[1], dtype=float), rtol=rtol
        )
        assert [c.__name__ for c in got[2]] == [c.__name__ for c in want[2]], label


def test_declined_warnings_keep_their_class_and_point_at_the_caller() -> None:
    with pytest.warns(l2loss.UndefinedMetricWarning) as rec:
        assert math.isnan(l2loss.r2_score(Y[:1], P[:1]))
    assert issubclass(rec[0].category, skm._regression.UndefinedMetricWarning)  # type: ignore[attr-defined]
    assert rec[0].filename == __file__
    with pytest.warns(RuntimeWarning, match="invalid value encountered in sqrt") as rec:
        l2loss.root_mean_squared_error(Y, P, sample_weight=np.array([1.0, 1.0, 1.0, -3.0, 1.0]))


def test_assume_finite_is_honoured_on_the_declined_path() -> None:
    """sklearn's assume_finite changes only what non-finite inputs do, which the intake declines."""
    with sklearn.config_context(assume_finite=True):
        assert _core.mse_intake(NAN, P, {}) is None
        assert math.isnan(l2loss.mean_squared_error(NAN, P))
        assert math.isnan(skm.mean_squared_error(NAN, P))
        assert same(l2loss.r2_score(Y, P), general("r2_score")(Y, P))  # clean inputs: the fast bits


# ---- RegressionAccumulator.update ----


def general_update(acc: l2loss.RegressionAccumulator, *args: Any) -> None:
    """update() through the general path only (validation, check_reg_targets, run_pass)."""
    acc._absorb([acc._batch("RegressionAccumulator.update", *args)], from_update=True)


@pytest.mark.parametrize("k", [0, 1, 3])
def test_fast_updates_give_the_general_paths_state(isa: str, k: int) -> None:
    rng = np.random.default_rng(k)
    fast, slow = l2loss.RegressionAccumulator(), l2loss.RegressionAccumulator()
    for i in range(25):
        n = int(rng.choice(SIZES))
        shape = (n,) if k == 0 else (n, k)
        y = rng.standard_normal(shape).astype(rng.choice(["float64", "float32"]))
        p = rng.standard_normal(shape).astype(rng.choice(["float64", "float32"]))
        w = rng.uniform(-0.5, 2.0, n) + 0.6 if i % 2 else None
        assert _core.accumulate_intake(y, p, w, None) is not None
        fast.update(y, p, w)
        general_update(slow, y, p, w)
        assert fast.to_bytes() == slow.to_bytes(), i
    assert fast == slow
    for mo in ("raw_values", "uniform_average"):
        assert same(fast.compute(mo), slow.compute(mo))


def test_updates_mix_fast_and_general_batches() -> None:
    rng = np.random.default_rng(11)
    y, p = rng.standard_normal(300), rng.standard_normal(300)
    mixed = l2loss.RegressionAccumulator()
    mixed.update(y[:100].tolist(), p[:100].tolist())  # a list: general
    mixed.update(y[100:200].astype(np.float32), p[100:200].astype(np.float32))  # fast, float32
    mixed.update(preds=p[200:], target=y[200:])  # torchmetrics' names: general
    assert mixed._dtype == np.dtype(np.float64)
    y[100:200], p[100:200] = y[100:200].astype(np.float32), p[100:200].astype(np.float32)  # what was fed
    assert same(mixed.compute(), l2loss.regression_report(y, p))
    only32 = l2loss.RegressionAccumulator().update(y.astype(np.float32), p.astype(np.float32))
    assert only32.compute("raw_values").mse.dtype == np.float32  # sklearn's working dtype


def test_update_declines_keep_their_errors_and_leave_the_state_alone() -> None:
    acc = l2loss.RegressionAccumulator().update(Y, P)
    before = acc.to_bytes()
    with pytest.raises(ValueError, match="have 2 output"):  # the fast batch has 2 outputs: general path
        acc.update(Y2, P2)
    with pytest.raises(ValueError, match="NaN"):
        acc.update(NAN, P)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        acc.update(Y, P[:4])
    assert acc.to_bytes() == before
    zero = np.array([1.0, -1.0, 0.0, 0.0, 0.0])
    assert _core.accumulate_intake(Y, P, zero, None) is None  # weights summing to zero: general
    acc.update(Y, P, zero)
    assert acc.n_samples == 10


def test_exact_and_threaded_accumulators() -> None:
    rng = np.random.default_rng(2)
    y, p = rng.standard_normal(5000), rng.standard_normal(5000)
    exact = l2loss.RegressionAccumulator(exact=True).update(y, p)
    assert exact.result("mse") == l2loss.mean_squared_error(y, p, exact=True)
    for t in THREAD_COUNTS:
        acc = l2loss.RegressionAccumulator(num_threads=t).update(y, p)
        assert _core.accumulate_intake(y, p, None, t) is not None
        assert same(acc.compute(), l2loss.regression_report(y, p))
    assert _core.accumulate_intake(y, p, None, np.int64(2)) is None  # general path for NumPy ints
    assert same(
        l2loss.RegressionAccumulator(num_threads=np.int64(2)).update(y, p).compute(),
        l2loss.regression_report(y, p),
    )


@pytest.mark.parametrize("order", ["C", "F"])
def test_wide_inputs(order: str) -> None:
    rng = np.random.default_rng(13)
    y = np.asarray(rng.uniform(0.0, 3.0, (40, 300)), order=order)  # >= 0: the log metrics too
    p = np.asarray(rng.uniform(0.0, 3.0, (40, 300)), order=order)
    w, mo = rng.uniform(0.5, 2.0, 40), rng.uniform(0.1, 1.0, 300)
    for name in INTAKE:
        if name == "max_error":
            continue
        for kw in ({"multioutput": "raw_values"}, {"sample_weight": w, "multioutput": mo}):
            assert INTAKE[name](y, p, kw) is not None
            assert same(getattr(l2loss, name)(y, p, **kw), general(name)(y, p, **kw)), (name, kw)


def odd_arrays() -> list[tuple[str, Any]]:
    base = np.linspace(0.5, 3.0, 6)
    ml_dtypes = pytest.importorskip("ml_dtypes")
    return [
        ("0-d", np.float64(2.0) * np.ones(())),
        ("numpy scalar", np.float64(2.0)),
        ("complex", base.astype(complex)),
        ("bool", base > 1),
        ("strings", base.astype(str)),
        ("object", base.astype(object)),
        ("datetime", np.arange(6).astype("datetime64[s]")),
        ("void2", np.zeros(6, dtype="V2")),
        ("structured", np.zeros(6, dtype=[("a", "f8")])),
        ("bfloat16", base.astype(ml_dtypes.bfloat16)),
        ("float16", base.astype(np.float16)),
        ("longdouble", base.astype(np.longdouble)),
        ("big-endian float32", base.astype(">f4")),
        ("broadcast", np.broadcast_to(np.float64(1.5), (6,))),
        ("strided", np.repeat(base, 3)[::3]),
        ("reversed", base[::-1]),
        ("3-D", base.reshape(6, 1, 1)),
        ("(6, 0)", np.zeros((6, 0))),
        ("(0,)", base[:0]),
        ("(6, 2)", np.c_[base, base[::-1]]),
        ("list", base.tolist()),
        ("None", None),
    ]


@pytest.mark.parametrize("name", list(INTAKE))
def test_odd_inputs_never_crash_and_give_the_general_paths_outcome(name: str) -> None:
    """Every odd array as y_true, y_pred, sample_weight or multioutput: the public call has
    the outcome (value bits, exception, warnings) of the general path."""
    base = np.linspace(0.5, 3.0, 6)
    base2 = np.c_[base, base[::-1] * 0.5]
    for label, odd in odd_arrays():
        calls: list[tuple[Any, Any, dict[str, Any]]] = [(odd, base[::-1], {}), (base, odd, {})]
        if name != "max_error":
            calls += [(base, base[::-1], {"sample_weight": odd}), (base2, base2[::-1], {"multioutput": odd})]
        for y, p, kw in calls:
            got = outcome(getattr(l2loss, name), y, p, **kw)
            want = outcome(general(name), y, p, **kw)
            assert (got[0], key(got[1]), got[2]) == (want[0], key(want[1]), want[2]), (name, label, kw)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_narrow_float_pairs(dtype: str) -> None:
    """float16 / bfloat16 pairs (read natively by the kernels) with a plain-float result."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dt = np.dtype(np.float16) if dtype == "float16" else np.dtype(ml_dtypes.bfloat16)
    rng = np.random.default_rng(17)
    y, p = rng.uniform(0.0, 4.0, (500, 2)).astype(dt), rng.uniform(0.0, 4.0, (500, 2)).astype(dt)
    for name in ("mean_squared_error", "root_mean_squared_error", "mean_absolute_error", *FRACTION):
        for kw in ({}, {"multioutput": [0.3, 0.7]}, {"num_threads": 2}):
            assert INTAKE[name](y, p, kw) is not None, (name, kw)
            assert same(getattr(l2loss, name)(y, p, **kw), general(name)(y, p, **kw)), (name, kw)
