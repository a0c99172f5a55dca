"""Drop-in replacements for scikit-learn's regression metrics, computed by the exact engine.

Every function has sklearn 1.9's signature, validation, errors, warnings and return
types (plus a keyword-only ``num_threads``). The one intended difference: results are
*more* accurate. Each sum is exact and each mean is the correctly rounded quotient of
exact sums; float32 inputs are not computed in float32 arithmetic; R^2 and explained
variance denominators are evaluated exactly, so constant targets are recognised exactly.
Results are bitwise identical for any thread count, ISA path and memory layout.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import _core
from ._validation import (
    MULTIOUTPUT_OPTIONS_R2,
    Targets,
    check_bool,
    check_num_threads,
    check_reg_targets,
    sklearn_binding,
    sklearn_compatible,
    user_stacklevel,
    validate_params,
)

__all__ = [
    "UndefinedMetricWarning",
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "mean_squared_log_error",
    "root_mean_squared_log_error",
    "r2_score",
    "explained_variance_score",
    "max_error",
]

_ACC_SQ = _core.ACC_SQ
_ACC_ABS = _core.ACC_ABS
_ACC_DIFF = _core.ACC_DIFF
SUMS_ALL = (
    _core.SUM_SQ | _core.SUM_SQ_LO | _core.SUM_ABS | _core.SUM_DIFF | _core.SUM_Y | _core.SUM_Y2 | _core.MAX_ABS
)
# R^2 reads the squared errors and the target moments only: a kernel profile of its own,
# 4 of the report's 7 exact sums.
SUMS_R2 = _core.SUM_SQ | _core.SUM_Y | _core.SUM_Y2


class UndefinedMetricWarning(UserWarning):
    """A metric is not well defined for the input (e.g. R^2 with fewer than two samples).

    scikit-learn's class of that name. Once scikit-learn is imported, the warnings l2loss
    emits (and ``l2loss.UndefinedMetricWarning`` itself) also derive from
    ``sklearn.exceptions.UndefinedMetricWarning``, so sklearn-based filters and
    ``pytest.warns`` see them; l2loss never imports scikit-learn to do so.

    Examples
    --------
    >>> import warnings
    >>> import l2loss
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     l2loss.r2_score([0.0], [1.0])
    nan
    >>> issubclass(caught[0].category, l2loss.UndefinedMetricWarning)
    True
    """


def threads_arg(num_threads: Any) -> int:
    """A call's ``num_threads`` for the engine (0: the global default); see check_num_threads."""
    return check_num_threads(num_threads)


_BIG = np.array([np.finfo(np.float64).max])
# One-element array operations that make NumPy report what sklearn's NumPy code reports
# ("overflow encountered in square", ...), under the caller's np.errstate.
_OVERFLOW_REPLAY = {
    "subtract": lambda: np.subtract(_BIG, -_BIG),
    "square": lambda: np.square(_BIG),
    "multiply": lambda: np.multiply(_BIG, _BIG),
}


def _report_overflow(t: Targets, square: bool) -> None:
    """Finite inputs gave a non-finite sum: raise NumPy's floating-point error as sklearn does.

    sklearn computes ``(y_true - y_pred) ** 2`` (or ``abs``) and ``numpy.average``, so NumPy
    reports an overflow in subtract, square or (weights) multiply. The culprit is found
    on this rare path only; NumPy itself then warns, raises, calls or ignores per
    ``np.errstate``.
    """
    with np.errstate(all="ignore"):
        d = np.subtract(t.y_true, t.y_pred, dtype=np.float64)
        if not np.all(np.isfinite(d)):
            op = "subtract"
        elif square and not np.all(np.isfinite(d * d)):
            op = "square"
        else:
            op = "multiply"
    _OVERFLOW_REPLAY[op]()


def reduce(
    t: Targets, sums: int, num_threads: Any, *, log1p_error: str | None = None, check_weight_sum: bool = True
) -> Any:
    """One fused pass; turns the kernel's flags into sklearn's errors in sklearn's order.

    ``check_weight_sum=False`` (streaming batches): a batch whose weights sum to zero is
    fine; only the total matters, checked when the metrics are computed.
    """
    r = _core.reduce(
        t.y_true, t.y_pred, t.sample_weight, sums=sums, log1p=log1p_error is not None,
        num_threads=threads_arg(num_threads),
    )
    if r.careful:  # something non-finite reached an accumulator: find out what
        if r.input_flags:
            t.locate_nonfinite()
        if check_weight_sum:
            t.check_weights_not_all_zero()
        if log1p_error is not None:
            _check_log1p_domain(t, log1p_error)
    if check_weight_sum and t.sample_weight is not None and r.weight_sum_is_zero():
        t.check_weights_not_all_zero()
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    return r


def _check_log1p_domain(t: Targets, metric_name: str) -> None:
    if np.any(t.y_true <= -1) or np.any(t.y_pred <= -1):
        raise ValueError(
            f"{metric_name} cannot be used when targets contain values less than or equal to -1."
        )


def average_outputs(values: np.ndarray, weights: np.ndarray | None) -> float:
    """Correctly rounded ``numpy.average(values, weights=weights)`` (validated weights)."""
    if weights is not None and weights.ndim != 1:  # a 2-D multioutput: numpy.average's refusal
        raise TypeError("Axis must be specified when shapes of a and weights differ.")
    return _core.exact_weighted_average(values, weights)


def aggregate(values: np.ndarray, multioutput: Any, dtype: np.dtype) -> Any:
    """Combine per-output values like sklearn's ``_average``, but correctly rounded."""
    if isinstance(multioutput, str) and multioutput == "raw_values":
        with np.errstate(over="ignore"):  # float16 raw values may overflow to inf, as sklearn's do
            return values.astype(dtype, copy=False)
    weights = None if isinstance(multioutput, str) or multioutput is None else multioutput
    return average_outputs(values, weights)


def _average_unvalidated(values: np.ndarray, multioutput: Any) -> float:
    """sklearn 1.9's RMSE: an array-like ``multioutput`` goes to ``numpy.average`` unchecked.

    So one output accepts ``[1.0]``, a wrong length is numpy's TypeError and NaN weights
    give nan. Clean weights of the right shape are averaged exactly; anything else goes
    to ``numpy.average`` itself, for its exact result or error.
    """
    w = np.asarray(multioutput)
    if w.shape == values.shape and w.dtype.kind in "biuf":
        w = w.astype(np.float64)
        if np.all(np.isfinite(w)):
            return average_outputs(values, w)
    return float(np.asarray(np.average(values, weights=multioutput)))  # 0-d: complex -> TypeError


def _mean_metric(
    func: str, acc: int, root: bool, y_true: Any, y_pred: Any, sample_weight: Any, multioutput: Any,
    num_threads: Any, log1p_error: str | None = None, exact: bool = False,
) -> Any:
    validate_params(func, y_true, y_pred, sample_weight, multioutput)
    check_bool("exact", exact)
    # sklearn's RMSE computes raw values first and never validates an array multioutput.
    unvalidated = func == "root_mean_squared_error" and not isinstance(multioutput, str)
    t = check_reg_targets(y_true, y_pred, sample_weight, "raw_values" if unvalidated else multioutput)
    sums = _core.SUM_ABS if acc == _ACC_ABS else (_core.SUM_SQ_EXACT if exact else _core.SUM_SQ)
    r = reduce(t, sums, num_threads, log1p_error=log1p_error)
    if r.careful and not r.input_flags and log1p_error is None:
        _report_overflow(t, square=acc == _ACC_SQ)
    if root:
        # exact=True: the correctly rounded root of the exact mean (not sqrt of a rounding).
        values = r.root_mean(acc) if exact else np.sqrt(r.mean(acc))
    else:
        values = r.mean(acc)
    if unvalidated:
        return _average_unvalidated(values, multioutput)
    return aggregate(values, t.multioutput, t.dtype)


@sklearn_binding(_core.mse_fast)
def mean_squared_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None, exact: bool = False,
) -> Any:
    """Mean squared error regression loss, exact and reproducible.

    Drop-in for :func:`sklearn.metrics.mean_squared_error`: same parameters, errors and
    return types; the value is the correctly rounded exact weighted mean of
    ``(y_pred - y_true) ** 2`` (each square rounded once to float64).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : array-like of shape (n_samples,), optional
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,)
    num_threads : int, optional
        Threads for this call (default: :func:`l2loss.get_num_threads`).
    exact : bool, default False
        Sum the *exact* squares of the *exact* differences (TwoSum + FMA TwoProduct):
        the result is the correctly rounded value of sum(w*(y_pred - y_true)^2)/sum(w).
        The default sums each square rounded once, which is within ~1e-19 relative
        of that and about 1.5x faster.

    Returns
    -------
    float or ndarray of shape (n_outputs,)

    Examples
    --------
    >>> import l2loss
    >>> l2loss.mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.375
    """
    return _mean_metric(
        "mean_squared_error", _ACC_SQ, False, y_true, y_pred, sample_weight, multioutput, num_threads,
        exact=exact,
    )


@sklearn_binding(_core.rmse_fast)
def root_mean_squared_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None, exact: bool = False,
) -> Any:
    """Root mean squared error; over several outputs, the mean of per-output roots (like sklearn).

    ``exact=True``: each per-output root is the correctly rounded square root of the exact
    mean of exact squares (see :func:`mean_squared_error`).

    Examples
    --------
    >>> import l2loss
    >>> round(l2loss.root_mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]), 12)
    0.612372435696
    """
    return _mean_metric(
        "root_mean_squared_error", _ACC_SQ, True, y_true, y_pred, sample_weight, multioutput, num_threads,
        exact=exact,
    )


@sklearn_binding(_core.mae_fast)
def mean_absolute_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None,
) -> Any:
    """Mean absolute error, exact and reproducible (drop-in for sklearn's).

    Examples
    --------
    >>> import l2loss
    >>> l2loss.mean_absolute_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.5
    """
    return _mean_metric(
        "mean_absolute_error", _ACC_ABS, False, y_true, y_pred, sample_weight, multioutput, num_threads
    )


@sklearn_binding()
def mean_squared_log_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None,
) -> Any:
    """Mean squared logarithmic error: the MSE of ``log1p`` of both inputs, transformed in
    the kernel (no temporaries). Values <= -1 raise sklearn's ValueError.

    Examples
    --------
    >>> import l2loss
    >>> round(l2loss.mean_squared_log_error([3, 5, 2.5, 7], [2.5, 5, 4, 8]), 12)
    0.039730122985
    """
    return _mean_metric(
        "mean_squared_log_error", _ACC_SQ, False, y_true, y_pred, sample_weight, multioutput, num_threads,
        log1p_error="Mean Squared Logarithmic Error",
    )


@sklearn_binding()
def root_mean_squared_log_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None,
) -> Any:
    """Root mean squared logarithmic error (mean of per-output roots, like sklearn).

    Examples
    --------
    >>> import l2loss
    >>> round(l2loss.root_mean_squared_log_error([3, 5, 2.5, 7], [2.5, 5, 4, 8]), 12)
    0.199324165581
    """
    return _mean_metric(
        "root_mean_squared_log_error", _ACC_SQ, True, y_true, y_pred, sample_weight, multioutput, num_threads,
        log1p_error="Root Mean Squared Logarithmic Error",
    )


def assemble_fraction(num: np.ndarray, den: np.ndarray, multioutput: Any, force_finite: bool, dtype: np.dtype) -> Any:
    """sklearn's ``_assemble_fraction_of_explained_deviance`` (exact-zero tests, no tolerance)."""
    nonzero_den = den != 0
    if not force_finite:
        scores = 1 - num / den  # NumPy's divide-by-zero / invalid report, per np.errstate, as in sklearn
    else:
        nonzero_num = num != 0
        scores = np.ones_like(num)
        valid = nonzero_den & nonzero_num
        scores[valid] = 1 - num[valid] / den[valid]
        scores[nonzero_num & ~nonzero_den] = 0.0
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            return scores.astype(dtype, copy=False)
        weights = None
        if multioutput == "variance_weighted" and np.any(nonzero_den):
            weights = den
    else:
        weights = multioutput
    return average_outputs(scores, weights)


def _warn_r2_undefined() -> float:
    warnings.warn(
        "R^2 score is not well-defined with less than two samples.",
        sklearn_compatible(UndefinedMetricWarning),
        stacklevel=user_stacklevel(),
    )
    return float("nan")


@sklearn_binding()
def r2_score(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    force_finite: bool = True, num_threads: int | None = None,
) -> Any:
    """R^2 (coefficient of determination), drop-in for :func:`sklearn.metrics.r2_score`.

    The denominator ``sum w*(y - ybar)^2`` is computed exactly from exact sums of ``w*y``
    and ``w*y^2`` (exact products), so large offsets cause no cancellation and a
    constant target is detected exactly.

    Examples
    --------
    >>> import l2loss
    >>> round(l2loss.r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]), 12)
    0.948608137045
    """
    func = "r2_score"
    validate_params(
        func, y_true, y_pred, sample_weight, multioutput, options=MULTIOUTPUT_OPTIONS_R2,
        allow_none_multioutput=True, force_finite=force_finite,
    )
    t = check_reg_targets(y_true, y_pred, sample_weight, multioutput)
    if t.n_samples < 2:
        t.locate_nonfinite()
        t.check_weights_not_all_zero()
        return _warn_r2_undefined()
    r = reduce(t, SUMS_R2, num_threads)
    num, den = r.r2_parts()
    return assemble_fraction(num, den, t.multioutput, bool(force_finite), t.dtype)


@sklearn_binding()
def explained_variance_score(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    force_finite: bool = True, num_threads: int | None = None,
) -> Any:
    """Explained variance score, drop-in for :func:`sklearn.metrics.explained_variance_score`.

    Both variances are evaluated exactly before their single rounding.

    Examples
    --------
    >>> import l2loss
    >>> round(l2loss.explained_variance_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]), 12)
    0.957173447537
    """
    func = "explained_variance_score"
    validate_params(
        func, y_true, y_pred, sample_weight, multioutput, options=MULTIOUTPUT_OPTIONS_R2,
        force_finite=force_finite,
    )
    t = check_reg_targets(y_true, y_pred, sample_weight, multioutput)
    r = reduce(t, SUMS_ALL, num_threads)
    num, den = r.explained_variance_parts()
    return assemble_fraction(num, den, t.multioutput, bool(force_finite), t.dtype)


def round_max_error(value: float, dtype: np.dtype) -> float:
    """sklearn computes |y_true - y_pred| in the input's float dtype: round like it does."""
    if dtype.kind == "f" and dtype.itemsize < 8:
        return float(dtype.type(value))
    return float(value)


@sklearn_binding()
def max_error(y_true: Any, y_pred: Any, *, num_threads: int | None = None) -> float:
    """Maximum absolute residual, drop-in for :func:`sklearn.metrics.max_error`.

    Unlike sklearn, integer inputs are subtracted in floating point (no wrap-around)
    and boolean inputs are accepted.

    Examples
    --------
    >>> import l2loss
    >>> l2loss.max_error([3, 2, 7, 1], [4, 2, 7, 1])
    1.0
    """
    validate_params("max_error", y_true, y_pred, options=None)
    t = check_reg_targets(y_true, y_pred, None, None, numeric=True)
    if t.n_outputs > 1:
        t.locate_nonfinite()  # sklearn's NaN check comes first
        raise ValueError("Multioutput not supported in max_error")
    r = reduce(t, _core.MAX_ABS, num_threads)
    dtype = np.result_type(t.checked[0].message_dtype, t.checked[1].message_dtype)
    return round_max_error(float(r.max_abs()[0]), dtype)

