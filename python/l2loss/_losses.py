"""Losses and gradients for training, from the same exact one-pass engine.

- :func:`mse_loss` -- ``torch.nn.functional.mse_loss`` semantics on arrays;
- :func:`per_sample_mse` -- Keras' per-sample loss (mean over the last axis);
- :func:`mse_grad`, :func:`mse_value_and_grad` -- the gradient w.r.t. ``y_pred`` (and the
  loss) in one pass: y_true and y_pred are read once, the gradient written once;
- :func:`l2_penalty`, :func:`ridge_loss_and_grad` -- L2 regularisation and ridge regression.

Unlike the sklearn-compatible metrics these follow the training libraries: NaN propagates
instead of raising, and empty inputs give nan ("mean") or 0 ("sum").

Argument order: :func:`mse_loss` takes ``(input, target)``, the prediction first, like
PyTorch; every other function here takes ``(y_true, y_pred)``, the truth first, like
scikit-learn and Keras. Gradients are with respect to ``y_pred``, so swapping the
arguments of :func:`mse_grad` or :func:`mse_value_and_grad` silently flips their sign.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import _core
from ._metrics import threads_arg
from ._validation import is_bfloat16, kernel_operand

__all__ = [
    "mse_loss",
    "per_sample_mse",
    "mse_grad",
    "mse_value_and_grad",
    "l2_penalty",
    "ridge_loss_and_grad",
]

_REDUCTIONS = ("none", "mean", "sum")
# The small-call fast paths (cpp/src/fast_losses.cpp): the plain call of each function --
# two float32/float64 ndarrays of one shape, options at their defaults -- straight to the
# engine, with the general path's bits; None means "declined", and the general path runs.
_mse_loss_fast = _core.mse_loss_fast
_mse_grad_fast = _core.mse_grad_fast


def _as_float_array(x: Any, name: str) -> np.ndarray:
    if type(x) is not np.ndarray and hasattr(x, "__dlpack__") and hasattr(x, "dtype"):
        try:
            x = np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError, ValueError):
            pass
    a = np.asarray(x)
    if a.dtype.kind == "c":
        raise TypeError(f"{name}: complex inputs are not supported")
    if a.dtype.kind not in "f" and not is_bfloat16(a.dtype):
        if a.dtype.kind not in "iub":
            raise TypeError(f"{name}: expected a numeric array, got dtype {a.dtype}")
        a = a.astype(np.float64)
    return a


def _kernel_view(a: np.ndarray) -> np.ndarray:
    """A 1-D/2-D float32/float64 view for the loss kernels: the element rule is
    kernel_operand's (narrow floats widened exactly); copies only for float16/bfloat16,
    byte order, or N-D layouts that cannot be flattened without one."""
    a = kernel_operand(a, narrow=False)
    if a.ndim == 0:
        return a.reshape(1)
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    return a


def _torch_size(shape: tuple[int, ...]) -> str:
    return f"torch.Size({list(shape)})"


def _broadcast(input: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({_torch_size(target.shape)}) that is different to the input size "
            f"({_torch_size(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )
    try:
        return tuple(np.broadcast_arrays(input, target))  # type: ignore[return-value]
    except ValueError:
        # torch's wording: the first mismatching dimension, counted from the right.
        a, b = input.shape, target.shape
        for k in range(1, max(len(a), len(b)) + 1):
            x = a[-k] if k <= len(a) else 1
            y = b[-k] if k <= len(b) else 1
            if x != y and 1 not in (x, y):
                dim = max(len(a), len(b)) - k
                raise RuntimeError(
                    f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                    f"at non-singleton dimension {dim}"
                ) from None
        raise


def _sum_squares(input: np.ndarray, target: np.ndarray, weight: np.ndarray | None, threads: int) -> Any:
    """Exact sums of fl(w*fl(d^2)) and of w over all elements (flattened row-wise)."""
    if weight is not None:  # element-wise weights: every element its own row
        input, target, weight = (np.ravel(v) for v in (input, target, weight))
        weight = _kernel_view(weight)
    return _core.reduce(
        _kernel_view(target), _kernel_view(input), weight, sums=_core.SUM_SQ, num_threads=threads
    )


def mse_loss(
    input: Any, target: Any, *, reduction: str = "mean", weight: Any = None, num_threads: int | None = None
) -> Any:
    """Mean squared error with ``torch.nn.functional.mse_loss`` semantics, on arrays.

    Argument order: ``(input, target)`` -- the **prediction first**, as in PyTorch (the
    metrics and :func:`mse_value_and_grad` take ``(y_true, y_pred)``, the truth first).
    The squared error is symmetric, so swapping them changes nothing here, but it does
    change the sign of a gradient elsewhere.

    Parameters
    ----------
    input : array_like
        The predictions, any shape. Integers and booleans are converted to float64.
    target : array_like
        The targets; a different shape is broadcast against ``input`` with PyTorch's
        UserWarning.
    reduction : {"mean", "sum", "none"}, default "mean"
        "mean": over all elements; "sum"; "none": the element-wise squared errors.
    weight : array_like, optional
        Element-wise weights of ``input``'s shape. The weighted mean is
        ``sum(w * se) / sum(w)``, with no guard against a zero sum (nan/inf, like torch).
    num_threads : int, optional
        Threads for this call (default: :func:`l2loss.get_num_threads`).

    Returns
    -------
    numpy scalar or ndarray
        The loss in the promoted floating dtype of the inputs (an array for "none").
        The sum is exact and the mean correctly rounded before that final conversion.
        Empty input: nan for "mean", 0 for "sum". NaN propagates (no error).

    Examples
    --------
    >>> import numpy as np, l2loss
    >>> x, y = np.array([2.5, 0.0, 2.0, 8.0]), np.array([3.0, -0.5, 2.0, 7.0])
    >>> float(l2loss.mse_loss(x, y)), float(l2loss.mse_loss(x, y, reduction="sum"))
    (0.375, 1.5)
    >>> l2loss.mse_loss(x, y, reduction="none")
    array([0.25, 0.25, 0.  , 1.  ])
    """
    if weight is None and num_threads is None:
        value = _mse_loss_fast(input, target, reduction)
        if value is not None:
            return value
    threads = threads_arg(num_threads)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      UserWarning, stacklevel=2)
        reduction = "mean"
    x = _as_float_array(input, "input")
    t = _as_float_array(target, "target")
    w = None if weight is None else _as_float_array(weight, "weight")
    if w is not None and w.shape != x.shape:
        raise ValueError("Weights and input must have the same size.")
    x, t = _broadcast(x, t)
    if w is not None:
        w = np.broadcast_to(w, x.shape)
    dtype = np.result_type(x, t, *([w] if w is not None else []))
    if reduction == "none":
        out = np.subtract(x, t, dtype=dtype)
        np.square(out, out=out)
        if w is not None:
            np.multiply(out, w, out=out)
        return out
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if x.size == 0:
        return dtype.type(np.nan if reduction == "mean" else 0.0)
    r = _sum_squares(x, t, w, threads)
    if reduction == "sum":
        return dtype.type(r.grand_total(_core.ACC_SQ))
    return dtype.type(r.grand_mean(_core.ACC_SQ))


def _row_means(yt: np.ndarray, yp: np.ndarray) -> Any:
    """The mean of the squared errors over the last axis: through the engine (each row's
    exact mean rounded once to the result dtype -- float32 rows are not averaged in float32)
    for float32/float64 pairs of one shape, else NumPy's own arithmetic (broadcasting,
    other dtypes, empty rows)."""
    dtype = np.result_type(yt, yp)
    if (
        yt.shape == yp.shape
        and yt.ndim >= 1
        and yt.shape[-1] > 0
        and dtype in (np.float32, np.float64)
        and yt.dtype in (np.float32, np.float64)
        and yp.dtype in (np.float32, np.float64)
        and yt.dtype.isnative
        and yp.dtype.isnative
    ):
        k = yt.shape[-1]
        out = np.empty(yt.shape[:-1], dtype=dtype)
        _core.row_mean_squares(yt.reshape(-1, k), yp.reshape(-1, k), out.reshape(-1))
        return out if out.ndim else out[()]
    d = np.subtract(yp, yt, dtype=dtype)
    return np.mean(np.square(d, out=d), axis=-1)


def per_sample_mse(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, reduction: str | None = None,
) -> Any:
    """Keras' mean squared error: the mean over the last axis, one loss per sample.

    Follows ``keras.losses.MeanSquaredError``. Argument order: ``(y_true, y_pred)``, the
    truth first, as in Keras.

    Parameters
    ----------
    y_true, y_pred : array_like
        Targets and predictions, shape ``(batch, ..., d)``. Ranks that differ by one are
        squeezed or expanded first, so ``(n,)`` against ``(n, 1)`` is element-wise. 1-D
        inputs are one sample.
    sample_weight : array_like, optional
        Multiplies the per-sample losses: a scalar, one weight per sample, or anything
        that broadcasts.
    reduction : {None, "none", "sum_over_batch_size", "mean", "mean_with_sample_weight", "sum"}, optional
        None/"none": the per-sample vector; "sum_over_batch_size"/"mean": sum divided by
        the number of per-sample losses (0 for an empty batch); "mean_with_sample_weight":
        sum divided by the sum of the weights; "sum".

    Returns
    -------
    ndarray or numpy scalar
        The per-sample losses (0-d for 1-D inputs), or their reduction; the sums of a
        reduction are exact. Each per-sample loss of a float32/float64 pair is its exact
        mean rounded once to the result dtype (float32 rows are not averaged in float32).

    Examples
    --------
    >>> import numpy as np, l2loss
    >>> l2loss.per_sample_mse([[0., 1.], [0., 0.]], [[1., 1.], [1., 0.]])
    array([0.5, 0.5])
    >>> float(l2loss.per_sample_mse([[0., 1.], [0., 0.]], [[1., 1.], [1., 0.]], reduction="sum"))
    1.0
    """
    yt = _as_float_array(y_true, "y_true")
    yp = _as_float_array(y_pred, "y_pred")
    yt, yp = _squeeze_or_expand(yt, yp)
    losses = _row_means(yt, yp)
    if sample_weight is not None:
        sw = _as_float_array(sample_weight, "sample_weight")
        losses, sw = _squeeze_or_expand(np.asarray(losses), sw)
        losses = losses * sw
    else:
        sw = None
    if reduction in (None, "none") or np.ndim(losses) == 0 or np.size(losses) == 0:
        return losses
    total = float(_exact_total(np.ravel(losses)))
    if reduction == "sum":
        return losses.dtype.type(total)
    if reduction in ("sum_over_batch_size", "mean"):
        return losses.dtype.type(total / losses.size if losses.size else 0.0)
    if reduction == "mean_with_sample_weight":
        denom = (
            float(_exact_total(np.ravel(np.broadcast_to(sw, losses.shape))))
            if sw is not None
            else losses.size
        )
        return losses.dtype.type(total / denom if denom else 0.0)
    raise ValueError(
        "Invalid value for argument `reduction`. Expected one of {'sum_over_batch_size', 'sum', 'mean', "
        f"'mean_with_sample_weight', 'none', None}}. Received: reduction={reduction!r}"
    )


def _squeeze_or_expand(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keras' squeeze_or_expand_to_same_rank (expand_rank_1=True): when the ranks differ by
    one and the larger ends in 1, a rank-1 smaller operand gains a trailing axis; otherwise
    the larger one loses its trailing axis. Anything else is left to broadcasting."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return (a, b[..., None]) if b.ndim == 1 else (a[..., 0], b)
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        return (a[..., None], b) if a.ndim == 1 else (a, b[..., 0])
    return a, b


def _exact_total(v: np.ndarray) -> float:
    """Correctly rounded exact sum of a vector (as the sum of v - 0 over a zero-stride zero)."""
    v = _kernel_view(np.ravel(v))
    zeros = np.broadcast_to(v.dtype.type(0), v.shape)
    return float(_core.reduce(zeros, v, None, sums=_core.SUM_DIFF).total(_core.ACC_DIFF)[0])


# ---- gradients -------------------------------------------------------------------------------


def _grad_setup(y_true: Any, y_pred: Any, sample_weight: Any, reduction: str, out: Any, threads: int) -> Any:
    """Validate everything (out included) before a single element is written."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    yt = _as_float_array(y_true, "y_true")
    yp = _as_float_array(y_pred, "y_pred")
    if yt.shape != yp.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {yt.shape} and {yp.shape}")
    out_dtype = np.result_type(yt.dtype, yp.dtype, np.float32)
    if out_dtype.itemsize < 4:
        out_dtype = np.dtype(np.float32)
    w = None
    if sample_weight is not None:
        w = _as_float_array(sample_weight, "sample_weight")
        if w.ndim != 1 or (yp.ndim == 0 or w.shape[0] != yp.shape[0]):
            raise ValueError(
                f"sample_weight must be 1-D with one weight per row ({yp.shape[:1]}), got {w.shape}"
            )
        out_dtype = np.result_type(out_dtype, w.dtype)
    if out is None:
        out = np.empty(yp.shape, dtype=out_dtype)
    else:
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
        if out.shape != yp.shape:
            raise ValueError(f"out has shape {out.shape}, expected {yp.shape}")
        if out.dtype != out_dtype:
            raise TypeError(f"out has dtype {out.dtype}, expected {out_dtype}")
        if not out.flags.writeable:
            raise ValueError("out is read-only")
        if np.may_share_memory(out, yt) or np.may_share_memory(out, yp) or (
            sample_weight is not None and np.may_share_memory(out, sample_weight)
        ):
            raise ValueError("out must not overlap y_true, y_pred or sample_weight")
    yt2, yp2, out2 = (_kernel_view(a) for a in (yt, yp, out))
    if out.size and not np.shares_memory(out2, out):
        raise ValueError("out must be viewable as a 1-D or 2-D array without a copy")
    n_rows = yp2.shape[0]
    n_cols = yp2.shape[1] if yp2.ndim == 2 else 1
    wk = None if w is None else _kernel_view(w)
    if reduction == "sum":
        scale = 2.0
    else:
        total_w = float(n_rows) if wk is None else _exact_total(wk)
        denom = total_w * n_cols
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = float(np.float64(2.0) / np.float64(denom))
    return yt2, yp2, wk, out, out2, scale, n_cols


def _value_and_grad(y_true: Any, y_pred: Any, sample_weight: Any, reduction: str, out: Any,
                    num_threads: Any) -> tuple[float, np.ndarray]:
    threads = threads_arg(num_threads)
    yt, yp, w, out, out2, scale, n_cols = _grad_setup(y_true, y_pred, sample_weight, reduction, out, threads)
    if yp.size == 0:
        return (float("nan") if reduction == "mean" else 0.0), out
    r = _core.reduce(yt, yp, w, sums=_core.SUM_SQ, num_threads=threads, grad_out=out2, grad_scale=scale)
    value = r.grand_mean(_core.ACC_SQ) if reduction == "mean" else r.grand_total(_core.ACC_SQ)
    return float(value), out


def mse_grad(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, reduction: str = "mean", out: Any = None,
    num_threads: int | None = None,
) -> np.ndarray:
    """Gradient of the squared-error loss with respect to ``y_pred``, in one pass.

    Argument order: ``(y_true, y_pred)``, the truth first, as in scikit-learn -- **not**
    PyTorch's ``(input, target)``. The gradient is taken with respect to the *second*
    argument: swapping the two silently flips its sign.

    Parameters
    ----------
    y_true : array_like
        The targets, 1-D ``(n,)`` or 2-D ``(n, n_outputs)``.
    y_pred : array_like
        The predictions, of the same shape.
    sample_weight : array_like, optional
        One weight per row, shape ``(n,)``.
    reduction : {"mean", "sum"}, default "mean"
        "mean": ``2 * w * (y_pred - y_true) / (n_outputs * sum(w))``, the gradient of
        :func:`mean_squared_error` (averaged over outputs); "sum":
        ``2 * w * (y_pred - y_true)``.
    out : ndarray, optional
        Receives the gradient: ``y_pred``'s shape, the result dtype (float32 for float32
        inputs, else float64), writable, not overlapping the inputs. It is validated
        completely before anything is written.
    num_threads : int, optional
        Threads for this call (default: :func:`l2loss.get_num_threads`).

    Returns
    -------
    ndarray
        The gradient (``out`` when given); each element is ``fl(scale * fl(w * d))``.

    See Also
    --------
    mse_value_and_grad : the loss as well, from the same pass.

    Examples
    --------
    >>> import numpy as np, l2loss
    >>> y_true, y_pred = np.array([3.0, -0.5, 2.0, 7.0]), np.array([2.5, 0.0, 2.0, 8.0])
    >>> l2loss.mse_grad(y_true, y_pred)
    array([-0.25,  0.25,  0.  ,  0.5 ])
    >>> l2loss.mse_grad(y_pred, y_true)  # swapped: the sign flips, with no error
    array([ 0.25, -0.25,  0.  , -0.5 ])
    """
    if sample_weight is None and num_threads is None:
        grad = _mse_grad_fast(y_true, y_pred, reduction, out, False)
        if grad is not None:
            return grad  # type: ignore[no-any-return]
    return _value_and_grad(y_true, y_pred, sample_weight, reduction, out, num_threads)[1]


def mse_value_and_grad(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, reduction: str = "mean", out: Any = None,
    num_threads: int | None = None,
) -> tuple[float, np.ndarray]:
    """Loss and gradient in one pass: y_true and y_pred read once, the gradient written once.

    Argument order: ``(y_true, y_pred)``, the truth first, as in scikit-learn -- **not**
    PyTorch's ``(input, target)``. The gradient is taken with respect to the *second*
    argument: swapping the two silently flips its sign (the loss is unchanged).

    Parameters
    ----------
    y_true : array_like
        The targets, 1-D ``(n,)`` or 2-D ``(n, n_outputs)``.
    y_pred : array_like
        The predictions, of the same shape.
    sample_weight : array_like, optional
        One weight per row, shape ``(n,)``.
    reduction : {"mean", "sum"}, default "mean"
        As in :func:`mse_grad`.
    out : ndarray, optional
        Receives the gradient, as in :func:`mse_grad`.
    num_threads : int, optional
        Threads for this call (default: :func:`l2loss.get_num_threads`).

    Returns
    -------
    loss : float
        Exact: for "mean" the correctly rounded ``sum(w * d**2) / (n_outputs * sum(w))``;
        for 1-D inputs it has the bits of :func:`mean_squared_error`. nan for empty
        inputs with "mean", 0 with "sum".
    grad : ndarray
        The gradient with respect to ``y_pred`` (``out`` when given).

    Examples
    --------
    >>> import numpy as np, l2loss
    >>> loss, grad = l2loss.mse_value_and_grad(np.array([1.0, 2.0]), np.array([2.0, 2.0]))
    >>> loss, grad
    (0.5, array([1., 0.]))
    >>> y_true, y_pred = np.array([3.0, -0.5]), np.array([2.5, 0.0])
    >>> l2loss.mse_value_and_grad(y_true=y_true, y_pred=y_pred)  # keywords make the order explicit
    (0.25, array([-0.5,  0.5]))
    """
    if sample_weight is None and num_threads is None:
        result = _mse_grad_fast(y_true, y_pred, reduction, out, True)
        if result is not None:
            return result  # type: ignore[no-any-return]
    return _value_and_grad(y_true, y_pred, sample_weight, reduction, out, num_threads)


def l2_penalty(params: Any, alpha: float, *, out: Any = None) -> tuple[float, np.ndarray]:
    """L2 regularisation: ``alpha * sum(params**2)`` and its gradient ``2 * alpha * params``.

    Parameters
    ----------
    params : array_like
        The parameters, any shape.
    alpha : float
        The regularisation strength.
    out : ndarray, optional
        Receives the gradient: ``params``' shape and dtype (float32 for float32 params,
        else float64), writable; it may be ``params`` itself (an in-place update).

    Returns
    -------
    penalty : float
        ``alpha`` times the exact, correctly rounded sum of squares.
    grad : ndarray
        ``2 * alpha * params`` (``out`` when given).

    Examples
    --------
    >>> import numpy as np, l2loss
    >>> l2loss.l2_penalty(np.array([1.0, -2.0]), 0.5)
    (2.5, array([ 1., -2.]))
    """
    theta = _as_float_array(params, "params")
    alpha = float(alpha)
    grad_dtype = np.result_type(theta.dtype, np.float32)
    if out is not None:  # validated completely before anything is written
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
        if out.shape != theta.shape or not out.flags.writeable:
            raise ValueError(f"out must be a writable array of shape {theta.shape}")
        if out.dtype != grad_dtype:
            raise TypeError(f"out has dtype {out.dtype}, expected {grad_dtype}")
    # The penalty first: out may be params itself (an in-place gradient).
    value = 0.0
    if theta.size:
        flat = _kernel_view(np.ravel(theta))
        sq = _core.reduce(np.broadcast_to(flat.dtype.type(0), flat.shape), flat, None, sums=_core.SUM_SQ)
        value = alpha * float(sq.total(_core.ACC_SQ)[0])
    grad = np.multiply(theta, 2.0 * alpha, out=out) if out is not None else np.multiply(theta, 2.0 * alpha)
    return value, grad


def ridge_loss_and_grad(
    X: Any, y: Any, coef: Any, *, alpha: float = 0.0, intercept: float = 0.0, sample_weight: Any = None,
    num_threads: int | None = None,
) -> tuple[float, np.ndarray, float]:
    """Ridge objective and its gradient in **one pass over X**.

    ``loss = sum(w * (X @ coef + intercept - y)**2) / sum(w) + alpha * ||coef||^2``.
    The residual and ``X.T @ (w * r)`` are fused. Each row's residual is computed in one
    fixed order and every sum (loss, gradient, weights) is the exact sum of its per-row
    terms, correctly rounded once, so results are the same bits for any thread count,
    memory layout and kernel ISA.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        The design matrix: C- or F-ordered (or any strides), float32 or float64.
    y : array_like, shape (n_samples,)
        The targets.
    coef : array_like, shape (n_features,)
        The coefficients at which to evaluate.
    alpha : float, default 0.0
        The L2 penalty on ``coef`` (not on the intercept).
    intercept : float, default 0.0
        The intercept at which to evaluate.
    sample_weight : array_like, shape (n_samples,), optional
        Row weights.
    num_threads : int, optional
        Threads for this call (default: :func:`l2loss.get_num_threads`).

    Returns
    -------
    loss : float
        The ridge objective.
    grad_coef : ndarray, shape (n_features,)
        Its gradient with respect to ``coef``.
    grad_intercept : float
        Its derivative with respect to ``intercept``.

    Examples
    --------
    >>> import numpy as np, l2loss
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]]); y = np.array([1.0, 2.0])
    >>> loss, g, gb = l2loss.ridge_loss_and_grad(X, y, np.zeros(2))
    >>> loss, g
    (2.5, array([-1., -2.]))

    Gradient descent converges to the least-squares fit:

    >>> coef = np.zeros(2)
    >>> for _ in range(100):
    ...     loss, g, gb = l2loss.ridge_loss_and_grad(X, y, coef)
    ...     coef -= 0.5 * g
    >>> coef.round(6)
    array([1., 2.])
    """
    threads = threads_arg(num_threads)
    Xa = _as_float_array(X, "X")
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {Xa.shape}")
    Xa = _kernel_view(Xa)
    ya = _kernel_view(_as_float_array(y, "y"))
    if ya.ndim != 1 or ya.shape[0] != Xa.shape[0]:
        raise ValueError(f"y must have shape ({Xa.shape[0]},), got {np.shape(y)}")
    c = np.ascontiguousarray(_as_float_array(coef, "coef"), dtype=np.float64)
    if c.shape != (Xa.shape[1],):
        raise ValueError(f"coef must have shape ({Xa.shape[1]},), got {c.shape}")
    w = None
    if sample_weight is not None:
        w = _kernel_view(_as_float_array(sample_weight, "sample_weight"))
        if w.shape != (Xa.shape[0],):
            raise ValueError(f"sample_weight must have shape ({Xa.shape[0]},), got {w.shape}")
    if Xa.shape[0] == 0:
        raise ValueError("X has no rows")
    loss_mean, weight_sum, g, gb = _core.ridge_sums(Xa, ya, w, c, float(intercept), threads)
    scale = 2.0 / weight_sum
    penalty, penalty_grad = l2_penalty(c, alpha)
    return loss_mean + penalty, scale * g + penalty_grad, scale * gb
