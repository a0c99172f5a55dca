"""RegressionAccumulator's torchmetrics / Keras habits (issue #18, "Streaming API").

torchmetrics semantics (shared/reference/anchor_semantics.md, section 4): ``forward`` /
``__call__`` update the state and return the metric of that batch alone; ``merge_state``
merges other metrics; ``update(preds, target)`` names the prediction first. Oracles:
scikit-learn on the batch or on all the data, and l2loss.regression_report (itself
checked against sklearn) for bit-level equality.
"""

from __future__ import annotations

import doctest
import inspect
import warnings

import l2loss
import l2loss._stream
import numpy as np
import pytest
import sklearn.metrics as skm
from _support import bits
from l2loss import RegressionAccumulator

FIELDS = ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error")


def batches(n_batches: int = 4, k: int = 0, seed: int = 0, weighted: bool = False):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_batches):
        n = 5 + 3 * i
        shape = (n,) if k == 0 else (n, k)
        y = rng.standard_normal(shape) * 3 + 1
        p = y + rng.standard_normal(shape)
        out.append((y, p, rng.uniform(0.1, 2.0, n) if weighted else None))
    return out


def same_report(a, b) -> bool:
    for f in (*FIELDS, "n_samples", "weight_sum"):
        x, y = np.asarray(getattr(a, f), dtype=np.float64), np.asarray(getattr(b, f), dtype=np.float64)
        if x.shape != y.shape or [bits(v) for v in x.ravel()] != [bits(v) for v in y.ravel()]:
            return False
    return True


# ---- forward / __call__ --------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["forward", "__call__"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("exact", [False, True])
def test_forward_returns_the_batch_report_and_accumulates(call: str, weighted: bool, exact: bool) -> None:
    acc, plain = RegressionAccumulator(exact=exact), RegressionAccumulator(exact=exact)
    for y, p, w in batches(weighted=weighted):
        got = getattr(acc, call)(y, p, w)
        plain.update(y, p, w)
        assert same_report(got, l2loss.regression_report(y, p, sample_weight=w, exact=exact))
        assert got.mse == pytest.approx(skm.mean_squared_error(y, p, sample_weight=w), rel=1e-14)
        assert got.r2 == pytest.approx(skm.r2_score(y, p, sample_weight=w), rel=1e-12)
        assert acc == plain  # the state grew exactly as with update()
    ys, ps, ws = zip(*batches(weighted=weighted))
    w_all = np.concatenate(ws) if weighted else None
    assert acc.result("mse") == pytest.approx(
        skm.mean_squared_error(np.concatenate(ys), np.concatenate(ps), sample_weight=w_all), rel=1e-14
    )


def test_forward_keywords_and_multioutput() -> None:
    ((y, p, _),) = batches(1, k=3)
    acc = RegressionAccumulator()
    got = acc(preds=p, target=y, multioutput="raw_values")
    np.testing.assert_array_equal(got.mse, l2loss.mean_squared_error(y, p, multioutput="raw_values"))
    np.testing.assert_allclose(got.r2, skm.r2_score(y, p, multioutput="raw_values"), rtol=1e-12)
    assert acc.forward(target=y, preds=p).r2 == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    assert acc.n_samples == 2 * len(y)
    with pytest.raises(TypeError, match="preds"):
        acc(p, preds=p)


def test_forward_that_cannot_report_leaves_the_state_unchanged() -> None:
    ((y, p, _),) = batches(1)
    acc = RegressionAccumulator().update(y, p)
    before = acc.to_bytes()
    with pytest.raises(ValueError, match="at least one non-zero"):
        acc.forward(y, p, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="multioutput"):
        acc.forward(y, p, multioutput="variance_weighted")
    with pytest.raises(ValueError, match="output"):
        acc.forward(np.c_[y, y], np.c_[p, p])
    assert acc.to_bytes() == before


# ---- update(preds=, target=) ---------------------------------------------------------------------


def test_torchmetrics_keyword_names_have_their_meaning() -> None:
    """R^2 is not symmetric, so a swap of preds and target would show."""
    ((y, p, w),) = batches(1, weighted=True)
    acc = RegressionAccumulator().update(preds=p, target=y, sample_weight=w)
    assert acc.result("r2") == pytest.approx(skm.r2_score(y, p, sample_weight=w), rel=1e-12)
    assert acc.result("r2") != pytest.approx(skm.r2_score(p, y, sample_weight=w), rel=1e-6)
    assert acc == RegressionAccumulator().update(y, p, w)
    assert acc == RegressionAccumulator().update(y_true=y, y_pred=p, sample_weight=w)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((), {"y_pred": 1, "preds": 1, "target": 0}, "both"),
        ((), {"y_true": 0, "target": 0, "preds": 1}, "both"),
        ((0,), {"target": 0}, "both"),  # torchmetrics' positional preds, then target=: a mix
        ((0,), {"preds": 1}, "both"),
        ((0, 1), {"preds": 1, "target": 0}, "both"),
        ((), {"preds": 1}, "target"),
        ((), {"target": 0}, "preds"),
        ((0,), {}, "y_pred"),
        ((), {"y_pred": 1}, "y_true"),
        ((), {}, "y_true"),
    ],
)
def test_ambiguous_or_missing_arguments_raise_type_error(args, kwargs, match: str) -> None:
    y, p = np.zeros(3), np.ones(3)
    values = {0: y, 1: p}
    args = tuple(values[a] for a in args)
    kwargs = {k: values[v] for k, v in kwargs.items()}
    for method in ("update", "forward", "__call__"):
        acc = RegressionAccumulator()
        with pytest.raises(TypeError, match=match):
            getattr(acc, method)(*args, **kwargs)
        assert acc.n_samples == 0


def test_an_explicit_none_is_still_rejected_like_sklearn() -> None:
    with pytest.raises(ValueError, match="'y_true' parameter"):
        RegressionAccumulator().update(None, [1.0])
    with pytest.raises(ValueError, match="'y_true' parameter"):
        RegressionAccumulator().update(preds=[1.0], target=None)


# ---- merge_state ------------------------------------------------------------------------------------


@pytest.mark.parametrize("container", [list, tuple, iter, "single"])
def test_merge_state_merges_several(container) -> None:
    parts = batches(5, k=2, weighted=True)
    accs = [RegressionAccumulator().update(y, p, w) for y, p, w in parts]
    target = RegressionAccumulator()
    arg = accs[0] if container == "single" else container(accs)
    assert target.merge_state(arg) is target
    used = parts[:1] if container == "single" else parts
    y, p, w = (np.concatenate(v) for v in zip(*used))
    assert target == RegressionAccumulator().update(y, p, w)
    assert target.result("mse") == pytest.approx(skm.mean_squared_error(y, p, sample_weight=w), rel=1e-14)
    assert target.merge_state([]) is target and target.n_samples == len(y)


def test_merge_state_is_all_or_nothing() -> None:
    (y, p, _), (y2, p2, _) = batches(2, k=2)
    good = RegressionAccumulator().update(y, p)
    target = RegressionAccumulator().update(y2, p2)
    before = target.to_bytes()
    for bad in (
        [good, RegressionAccumulator().update(y[:, 0], p[:, 0])],  # other number of outputs
        [good, RegressionAccumulator(exact=True).update(y, p)],  # other exact setting
    ):
        with pytest.raises(ValueError):
            target.merge_state(bad)
        assert target.to_bytes() == before
    for bad in ([good, "not an accumulator"], "abc", 3, {"state": good}, None):
        with pytest.raises(TypeError, match="RegressionAccumulator"):
            target.merge_state(bad)
        assert target.to_bytes() == before
    target.merge_state([good, good])  # the same accumulator twice: counted twice
    assert target.n_samples == len(y2) + 2 * len(y)


# ---- result / reset -----------------------------------------------------------------------------------


def test_result_of_one_metric_is_a_float() -> None:
    y, p = np.array([3, -0.5, 2, 7]), np.array([2.5, 0.0, 2, 8])
    acc = RegressionAccumulator().update(y, p)
    sk = {
        "mse": skm.mean_squared_error,
        "rmse": skm.root_mean_squared_error,
        "mae": skm.mean_absolute_error,
        "r2": skm.r2_score,
        "explained_variance": skm.explained_variance_score,
        "max_error": skm.max_error,
    }
    for name, fn in sk.items():
        got = acc.result(name)
        assert type(got) is float, name
        assert got == pytest.approx(fn(y, p), rel=1e-15), name
        assert bits(acc.result(fn.__name__)) == bits(got), name  # the sklearn name is an alias
    assert acc.result("mean_error") == pytest.approx(float(np.mean(p - y)), rel=1e-15)
    assert acc.result("n_samples") == 4 and acc.result("weight_sum") == 4.0
    report = acc.result()
    assert isinstance(report, l2loss.RegressionReport)
    assert type(report.mse) is float and report.mse == acc.result("mse")
    assert float(report.rmse) ** 2 == pytest.approx(report.mse)


def test_result_with_raw_values_and_errors() -> None:
    ((y, p, _),) = batches(1, k=3)
    acc = RegressionAccumulator().update(y, p)
    raw = acc.result("mse", multioutput="raw_values")
    np.testing.assert_allclose(raw, skm.mean_squared_error(y, p, multioutput="raw_values"), rtol=1e-14)
    assert raw.shape == (3,)
    assert acc.result("rmse", "raw_values").shape == (3,)
    with pytest.raises(ValueError, match="unknown metric 'raw_values'.*multioutput="):
        acc.result("raw_values")
    with pytest.raises(ValueError, match="unknown metric 'msee'"):
        acc.result("msee")
    with pytest.raises(TypeError, match="metric"):
        acc.result(1)
    with pytest.raises(ValueError, match="no data"):
        RegressionAccumulator().result("mse")


def test_result_of_one_row_warns_only_for_r2() -> None:
    """One row: R^2 is undefined (nan, with sklearn's warning); the other metrics are not."""
    acc = RegressionAccumulator().update([1.0], [3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert acc.result("mse") == skm.mean_squared_error([1.0], [3.0]) == 4.0
        assert acc.result("explained_variance") == skm.explained_variance_score([1.0], [3.0])
    with pytest.warns(l2loss.UndefinedMetricWarning):
        assert np.isnan(acc.result("r2"))
    with pytest.warns(l2loss.UndefinedMetricWarning):
        acc.compute()


def test_reset_returns_self() -> None:
    ((y, p, _),) = batches(1)
    acc = RegressionAccumulator(1).update(y, p)
    assert acc.reset() is acc
    assert acc.n_samples == 0 and acc.n_outputs == 1
    assert acc.reset().update(y, p) == RegressionAccumulator().update(y, p)
    assert acc.reset_state() is None and acc.n_samples == 0  # Keras' reset_state returns None


# ---- documentation -------------------------------------------------------------------------------------

PUBLIC = [
    name
    for name, member in vars(RegressionAccumulator).items()
    if (not name.startswith("_") or name in ("__call__", "__add__", "__iadd__"))
    and (callable(member) or isinstance(member, (property, classmethod)))
]


def test_public_surface_is_complete() -> None:
    for name in ("update", "forward", "__call__", "merge", "merge_state", "result", "reset", "compute"):
        assert name in PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_method_has_a_numpydoc_docstring_with_examples(name: str) -> None:
    member = inspect.getattr_static(RegressionAccumulator, name)
    func = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
    doc = inspect.getdoc(func) or ""
    assert "Examples\n--------\n>>> " in doc, name
    if not isinstance(member, property):
        takes_args = len(inspect.signature(func).parameters) > (0 if isinstance(member, classmethod) else 1)
        returns = inspect.signature(func).return_annotation not in (None, "None")
        assert ("Parameters\n----------" in doc) or not takes_args, name
        assert ("Returns\n-------" in doc) or not returns, name


def test_class_docstring_states_the_argument_order() -> None:
    doc = inspect.getdoc(RegressionAccumulator) or ""
    assert "update(y_true, y_pred, sample_weight)" in doc
    assert "update(preds, target)" in doc and "preds=p, target=t" in doc


def test_the_examples_run() -> None:
    result = doctest.testmod(l2loss._stream, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 40
    assert result.failed == 0
