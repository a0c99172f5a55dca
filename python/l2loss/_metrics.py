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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Union, overload

import numpy as np

from . import _core
from ._validation import (
    MULTIOUTPUT_OPTIONS_R2,
    Targets,
    check_bool,
    check_num_threads,
    check_reg_targets,
    fast_intake,
    sklearn_compatible,
    sklearn_signature,
    user_stacklevel,
    validate_params,
)

if TYPE_CHECKING:
    import numpy.typing as npt

    ArrayLike = npt.ArrayLike
    # Output weights: a sequence of numbers or an array -- not a str, so that a misspelt
    # option such as "raw_valuez" is a type error.
    OutputWeights = Union[Sequence[float], npt.NDArray[Any]]
    # raw_values keep sklearn's working dtype (float32 inputs give float32).
    FloatArray = npt.NDArray[np.floating[Any]]
    Threads = Union[int, np.integer[Any], None]

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
# The kernel profiles are named by the engine (kernel_abi.hpp), never assembled here from
# bits: a set that differs from a profile silently runs the all-sums kernel.
SUMS_ALL = _core.PROFILE_REPORT  # the report and explained variance: all seven sums
SUMS_R2 = _core.PROFILE_R2  # R^2: the squared errors and the target moments, 4 of the 7


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
        term = d * d if square else np.abs(d)
        w = t.sample_weight
        if not np.all(np.isfinite(d)):
            op = "subtract"
        elif square and not np.all(np.isfinite(term)):
            op = "square"
        elif w is not None and not np.all(np.isfinite(term * w.reshape(-1, 1))):
            op = "multiply"
        else:  # finite terms whose exact sum is out of range: NumPy's own sum would overflow too
            return
    _OVERFLOW_REPLAY[op]()


def run_pass(
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


class UnvalidatedWeights(NamedTuple):
    """RMSE's array-like ``multioutput`` as the caller gave it (see _average_unvalidated)."""

    weights: Any


def aggregate(values: np.ndarray, multioutput: Any, dtype: np.dtype) -> Any:
    """Combine per-output values like sklearn's ``_average``, but correctly rounded."""
    if isinstance(multioutput, UnvalidatedWeights):
        return _average_unvalidated(values, multioutput.weights)
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
    if unvalidated:
        t.multioutput = UnvalidatedWeights(multioutput)
    sums = _core.SUM_ABS if acc == _ACC_ABS else (_core.SUM_SQ_EXACT if exact else _core.SUM_SQ)
    r = run_pass(t, sums, num_threads, log1p_error=log1p_error)
    if root:
        # exact=True: the correctly rounded root of the exact mean (not sqrt of a rounding).
        values = r.root_mean(acc) if exact else np.sqrt(r.mean(acc))
    else:
        values = r.mean(acc)
    if r.careful and not r.input_flags and log1p_error is None and not np.all(np.isfinite(values)):
        _report_overflow(t, square=acc == _ACC_SQ)
    return aggregate(values, t.multioutput, t.dtype)


@overload
def mean_squared_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["raw_values"], num_threads: Threads = ..., exact: bool = ...,
) -> FloatArray: ...
@overload
def mean_squared_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["uniform_average"] | OutputWeights = ..., num_threads: Threads = ...,
    exact: bool = ...,
) -> float: ...
@fast_intake(_core.mse_intake)
@sklearn_signature
def mean_squared_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
    multioutput: Any = "uniform_average", num_threads: Threads = None, exact: bool = False,
) -> Any:
    """Mean squared error regression loss, exact and reproducible.

    Drop-in for :func:`sklearn.metrics.mean_squared_error`: same parameters, errors and
    return types; the value is the correctly rounded exact weighted mean of
    ``(y_pred - y_true) ** 2`` (each square rounded once to float64).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Estimated target values.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (one per row, applied to every output; negative weights allowed).
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,), \
            default="uniform_average"
        How per-output values are combined: returned as an array ("raw_values"),
        averaged uniformly, or averaged with these output weights.
    num_threads : int, default=None
        Threads for this call (any integer >= 1, NumPy integers included); None means
        :func:`l2loss.get_num_threads`. The result does not depend on it.
    exact : bool, default=False
        Sum the *exact* squares of the *exact* differences (TwoSum + FMA TwoProduct):
        the result is the correctly rounded value of sum(w*(y_pred - y_true)^2)/sum(w).
        The default sums each square rounded once, which is within ~1e-19 relative
        of that and about 1.5x faster.

    Returns
    -------
    loss : float or ndarray of shape (n_outputs,)
        A float, or one value per output for ``multioutput="raw_values"`` (in sklearn's
        working dtype: float32 inputs give float32).

    Examples
    --------
    >>> import l2loss
    >>> l2loss.mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.375
    >>> yt, yp = [[0.5, 1], [1, 1], [7, 6]], [[0, 2], [1, 2], [8, 5]]
    >>> l2loss.mean_squared_error(yt, yp, multioutput="raw_values").shape
    (2,)
    """
    return _mean_metric(
        "mean_squared_error", _ACC_SQ, False, y_true, y_pred, sample_weight, multioutput, num_threads,
        exact=exact,
    )


@overload
def root_mean_squared_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["raw_values"], num_threads: Threads = ..., exact: bool = ...,
) -> FloatArray: ...
@overload
def root_mean_squared_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["uniform_average"] | OutputWeights = ..., num_threads: Threads = ...,
    exact: bool = ...,
) -> float: ...
@fast_intake(_core.rmse_intake)
@sklearn_signature
def root_mean_squared_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
    multioutput: Any = "uniform_average", num_threads: Threads = None, exact: bool = False,
) -> Any:
    """Root mean squared error; over several outputs, the mean of per-output roots (like sklearn).

    Drop-in for :func:`sklearn.metrics.root_mean_squared_error`. Like scikit-learn 1.9,
    an array-like ``multioutput`` is passed to the averaging unvalidated: one output
    accepts ``[1.0]``, a wrong length is NumPy's TypeError and NaN weights give NaN
    (mean_squared_error validates the same argument; a drop-in keeps the difference).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Estimated target values.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (one per row, applied to every output; negative weights allowed).
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,), \
            default="uniform_average"
        How per-output values are combined: returned as an array ("raw_values"),
        averaged uniformly, or averaged with these output weights.
    num_threads : int, default=None
        Threads for this call (any integer >= 1, NumPy integers included); None means
        :func:`l2loss.get_num_threads`. The result does not depend on it.
    exact : bool, default=False
        Sum the *exact* squares of the *exact* differences (TwoSum + FMA TwoProduct):
        the result is the correctly rounded value of sum(w*(y_pred - y_true)^2)/sum(w).
        The default sums each square rounded once, which is within ~1e-19 relative
        of that and about 1.5x faster.

    Returns
    -------
    loss : float or ndarray of shape (n_outputs,)
        A float, or one value per output for ``multioutput="raw_values"`` (in sklearn's
        working dtype: float32 inputs give float32).

    Examples
    --------
    >>> import l2loss
    >>> l2loss.root_mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.6123724356957945
    >>> yt, yp = [[0.5, 1], [1, 1], [7, 6]], [[0, 2], [1, 2], [8, 5]]
    >>> l2loss.root_mean_squared_error(yt, yp, multioutput="raw_values").shape
    (2,)
    """
    return _mean_metric(
        "root_mean_squared_error", _ACC_SQ, True, y_true, y_pred, sample_weight, multioutput, num_threads,
        exact=exact,
    )


@overload
def mean_absolute_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["raw_values"], num_threads: Threads = ...,
) -> FloatArray: ...
@overload
def mean_absolute_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["uniform_average"] | OutputWeights = ..., num_threads: Threads = ...,
) -> float: ...
@fast_intake(_core.mae_intake)
@sklearn_signature
def mean_absolute_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
    multioutput: Any = "uniform_average", num_threads: Threads = None,
) -> Any:
    """Mean absolute error, exact and reproducible.

    Drop-in for :func:`sklearn.metrics.mean_absolute_error`: the correctly rounded exact
    weighted mean of ``abs(y_pred - y_true)``. (No ``exact=`` option: each term
    ``abs(y_pred - y_true)`` is already the rounded difference sklearn uses, and summing
    it exactly is the default.)

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Estimated target values.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (one per row, applied to every output; negative weights allowed).
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,), \
            default="uniform_average"
        How per-output values are combined: returned as an array ("raw_values"),
        averaged uniformly, or averaged with these output weights.
    num_threads : int, default=None
        Threads for this call (any integer >= 1, NumPy integers included); None means
        :func:`l2loss.get_num_threads`. The result does not depend on it.

    Returns
    -------
    loss : float or ndarray of shape (n_outputs,)
        A float, or one value per output for ``multioutput="raw_values"`` (in sklearn's
        working dtype: float32 inputs give float32).

    Examples
    --------
    >>> import l2loss
    >>> l2loss.mean_absolute_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.5
    >>> yt, yp = [[0.5, 1], [1, 1], [7, 6]], [[0, 2], [1, 2], [8, 5]]
    >>> l2loss.mean_absolute_error(yt, yp, multioutput="raw_values").shape
    (2,)
    """
    return _mean_metric(
        "mean_absolute_error", _ACC_ABS, False, y_true, y_pred, sample_weight, multioutput, num_threads
    )


@overload
def mean_squared_log_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["raw_values"], num_threads: Threads = ...,
) -> FloatArray: ...
@overload
def mean_squared_log_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["uniform_average"] | OutputWeights = ..., num_threads: Threads = ...,
) -> float: ...
@fast_intake(_core.msle_intake)
@sklearn_signature
def mean_squared_log_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
    multioutput: Any = "uniform_average", num_threads: Threads = None,
) -> Any:
    """Mean squared logarithmic error, drop-in for :func:`sklearn.metrics.mean_squared_log_error`.

    The mean of ``(log1p(y_pred) - log1p(y_true)) ** 2``, with each difference formed as
    ``log((1 + y_pred) / (1 + y_true))`` from a double-double ratio (no cancellation):
    within 3 ulp of the exact value (sklearn's subtraction of two rounded logarithms has
    no such bound). Values <= -1 raise sklearn's ValueError.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Estimated target values.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (one per row, applied to every output; negative weights allowed).
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,), \
            default="uniform_average"
        How per-output values are combined: returned as an array ("raw_values"),
        averaged uniformly, or averaged with these output weights.
    num_threads : int, default=None
        Threads for this call (any integer >= 1, NumPy integers included); None means
        :func:`l2loss.get_num_threads`. The result does not depend on it.

    Returns
    -------
    loss : float or ndarray of shape (n_outputs,)
        A float, or one value per output for ``multioutput="raw_values"`` (in sklearn's
        working dtype: float32 inputs give float32).

    Examples
    --------
    >>> import l2loss
    >>> round(l2loss.mean_squared_log_error([3, 5, 2.5, 7], [2.5, 5, 4, 8]), 12)
    0.039730122985
    >>> yt, yp = [[0.5, 1], [1, 1], [7, 6]], [[0, 2], [1, 2], [8, 5]]
    >>> l2loss.mean_squared_log_error(yt, yp, multioutput="raw_values").shape
    (2,)
    """
    return _mean_metric(
        "mean_squared_log_error", _ACC_SQ, False, y_true, y_pred, sample_weight, multioutput, num_threads,
        log1p_error="Mean Squared Logarithmic Error",
    )


@overload
def root_mean_squared_log_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["raw_values"], num_threads: Threads = ...,
) -> FloatArray: ...
@overload
def root_mean_squared_log_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["uniform_average"] | OutputWeights = ..., num_threads: Threads = ...,
) -> float: ...
@fast_intake(_core.rmsle_intake)
@sklearn_signature
def root_mean_squared_log_error(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
    multioutput: Any = "uniform_average", num_threads: Threads = None,
) -> Any:
    """Root mean squared logarithmic error (mean of per-output roots, like sklearn).

    Drop-in for :func:`sklearn.metrics.root_mean_squared_log_error`; the differences are
    formed as in :func:`mean_squared_log_error`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Estimated target values.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (one per row, applied to every output; negative weights allowed).
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,), \
            default="uniform_average"
        How per-output values are combined: returned as an array ("raw_values"),
        averaged uniformly, or averaged with these output weights.
    num_threads : int, default=None
        Threads for this call (any integer >= 1, NumPy integers included); None means
        :func:`l2loss.get_num_threads`. The result does not depend on it.

    Returns
    -------
    loss : float or ndarray of shape (n_outputs,)
        A float, or one value per output for ``multioutput="raw_values"`` (in sklearn's
        working dtype: float32 inputs give float32).

    Examples
    --------
    >>> import l2loss
    >>> round(l2loss.root_mean_squared_log_error([3, 5, 2.5, 7], [2.5, 5, 4, 8]), 12)
    0.199324165581
    >>> yt, yp = [[0.5, 1], [1, 1], [7, 6]], [[0, 2], [1, 2], [8, 5]]
    >>> l2loss.root_mean_squared_log_error(yt, yp, multioutput="raw_values").shape
    (2,)
    """
    return _mean_metric(
        "root_mean_squared_log_error", _ACC_SQ, True, y_true, y_pred, sample_weight, multioutput, num_threads,
        log1p_error="Root Mean Squared Logarithmic Error",
    )


def assemble_fraction(
    num: np.ndarray, den: np.ndarray, multioutput: Any, force_finite: bool, dtype: np.dtype
) -> Any:
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


@overload
def r2_score(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["raw_values"], force_finite: bool = ..., num_threads: Threads = ...,
) -> FloatArray | float: ...
@overload
def r2_score(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["uniform_average", "variance_weighted"] | OutputWeights | None = ...,
    force_finite: bool = ..., num_threads: Threads = ...,
) -> float: ...
@fast_intake(_core.r2_intake)
@sklearn_signature
def r2_score(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
    multioutput: Any = "uniform_average", force_finite: bool = True, num_threads: Threads = None,
) -> Any:
    """R^2 (coefficient of determination), drop-in for :func:`sklearn.metrics.r2_score`.

    The denominator ``sum w*(y - ybar)^2`` is computed exactly from exact sums of ``w*y``
    and ``w*y^2`` (exact products), so large offsets cause no cancellation and a
    constant target is detected exactly. (No ``exact=`` option: the numerator is the
    same exact sum of rounded squares as mean_squared_error's default, and R^2 is a
    ratio rounded once more; exact squares would change it by ~1e-19 relative.)

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Estimated target values.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (one per row, applied to every output; negative weights allowed).
    multioutput : {"raw_values", "uniform_average", "variance_weighted"}, array-like of \
            shape (n_outputs,) or None, default="uniform_average"
        How per-output scores are combined; "variance_weighted" weights them by the
        variance of each output of ``y_true``; None means "uniform_average".
    force_finite : bool, default=True
        Replace the non-finite scores of a constant ``y_true`` (NaN for a perfect
        prediction, -inf otherwise) by 1.0 and 0.0, as sklearn does. With False, NumPy
        reports the division by zero per ``np.errstate`` (a RuntimeWarning by default).
    num_threads : int, default=None
        Threads for this call (any integer >= 1, NumPy integers included); None means
        :func:`l2loss.get_num_threads`. The result does not depend on it.

    Returns
    -------
    score : float or ndarray of shape (n_outputs,)
        A float, or one score per output for ``multioutput="raw_values"`` (in sklearn's
        working dtype). With fewer than two samples: a float NaN and an
        :class:`UndefinedMetricWarning`, whatever ``multioutput`` is (as in sklearn).

    Examples
    --------
    >>> import l2loss
    >>> l2loss.r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.9486081370449679
    >>> l2loss.r2_score([[0.5, 1], [-1, 1], [7, -6]], [[0, 2], [-1, 2], [8, -5]], multioutput="raw_values")
    array([0.96543779, 0.90816327])
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
    r = run_pass(t, SUMS_R2, num_threads)
    num, den = r.r2_parts()
    return assemble_fraction(num, den, t.multioutput, bool(force_finite), t.dtype)


@overload
def explained_variance_score(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["raw_values"], force_finite: bool = ..., num_threads: Threads = ...,
) -> FloatArray: ...
@overload
def explained_variance_score(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = ...,
    multioutput: Literal["uniform_average", "variance_weighted"] | OutputWeights = ...,
    force_finite: bool = ..., num_threads: Threads = ...,
) -> float: ...
@fast_intake(_core.explained_variance_intake)
@sklearn_signature
def explained_variance_score(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None,
    multioutput: Any = "uniform_average", force_finite: bool = True, num_threads: Threads = None,
) -> Any:
    """Explained variance score, drop-in for :func:`sklearn.metrics.explained_variance_score`.

    Both variances are evaluated exactly before their single rounding.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Estimated target values.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights (one per row, applied to every output; negative weights allowed).
    multioutput : {"raw_values", "uniform_average", "variance_weighted"} or array-like of \
            shape (n_outputs,), default="uniform_average"
        How per-output scores are combined; "variance_weighted" weights them by the
        variance of each output of ``y_true``.
    force_finite : bool, default=True
        Replace the non-finite scores of a constant ``y_true`` by 1.0 and 0.0, as sklearn does.
    num_threads : int, default=None
        Threads for this call (any integer >= 1, NumPy integers included); None means
        :func:`l2loss.get_num_threads`. The result does not depend on it.

    Returns
    -------
    score : float or ndarray of shape (n_outputs,)
        A float, or one score per output for ``multioutput="raw_values"`` (in sklearn's
        working dtype).

    Examples
    --------
    >>> import l2loss
    >>> l2loss.explained_variance_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
    0.9571734475374732
    """
    func = "explained_variance_score"
    validate_params(
        func, y_true, y_pred, sample_weight, multioutput, options=MULTIOUTPUT_OPTIONS_R2,
        force_finite=force_finite,
    )
    t = check_reg_targets(y_true, y_pred, sample_weight, multioutput)
    r = run_pass(t, SUMS_ALL, num_threads)
    num, den = r.explained_variance_parts()
    return assemble_fraction(num, den, t.multioutput, bool(force_finite), t.dtype)


def round_max_error(value: float, dtype: np.dtype) -> float:
    """sklearn computes |y_true - y_pred| in the input's float dtype: round like it does."""
    if dtype.kind == "f" and dtype.itemsize < 8:
        return float(dtype.type(value))
    return float(value)


@fast_intake(_core.max_error_intake)
@sklearn_signature
def max_error(y_true: ArrayLike, y_pred: ArrayLike, *, num_threads: Threads = None) -> float:
    """Maximum absolute residual, drop-in for :func:`sklearn.metrics.max_error`.

    Unlike sklearn, integer inputs are subtracted in floating point (no wrap-around)
    and boolean inputs are accepted. The result is rounded to the input's float dtype
    like sklearn's (float32 inputs: a float32 difference).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,)
        Estimated target values.
    num_threads : int, default=None
        Threads for this call (any integer >= 1, NumPy integers included); None means
        :func:`l2loss.get_num_threads`.

    Returns
    -------
    max_error : float
        The largest ``abs(y_true - y_pred)``.

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
    r = run_pass(t, _core.MAX_ABS, num_threads)
    dtype = np.result_type(t.checked[0].message_dtype, t.checked[1].message_dtype)
    return round_max_error(float(r.max_abs()[0]), dtype)

