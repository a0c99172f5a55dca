"""Argument intake with scikit-learn 1.9's rules, messages and validation order.

The drop-in functions must fail exactly like ``sklearn.metrics`` does: same exception
types, same messages, and the same *first* error when several things are wrong. The
one deliberate change of mechanics: sklearn scans every input for NaN/inf before it
computes; l2loss lets the fused kernel record non-finite values as a flag and only
looks for the culprit when the flag is set (or when another error is about to be
raised and the NaN error would have come first).
"""

from __future__ import annotations

import functools
import inspect
import numbers
import os
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

try:  # NumPy >= 1.25; the declared floor (1.23) has the class at the top level only
    from numpy.exceptions import ComplexWarning
except ImportError:  # pragma: no cover - exercised by the numpy-floor CI step
    from numpy import ComplexWarning  # type: ignore[attr-defined,no-redef]

__all__ = [
    "InvalidParameterError",
    "Targets",
    "assert_all_finite",
    "check_num_threads",
    "kernel_operand",
    "check_reg_targets",
    "fast_intake",
    "sklearn_assume_finite",
    "sklearn_signature",
    "small_call_fast_path",
    "sklearn_compatible",
    "user_stacklevel",
]

F = TypeVar("F", bound=Callable[..., Any])


def sklearn_signature(func: F) -> F:
    """Give a public function sklearn's argument-binding errors and result namespace.

    sklearn binds arguments with ``inspect.Signature.bind``, so its messages read "too
    many positional arguments" or "got an unexpected keyword argument 'squared'" rather
    than Python's own wording. The wrapper only consults the signature after a TypeError
    (binding costs ~1 us). A ``raw_values`` array comes back in ``y_pred``'s array
    namespace under sklearn's array API dispatch.
    """
    sig = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
        except TypeError:
            try:
                sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(str(exc)) from None
            raise
        if type(result) is np.ndarray:  # raw_values: sklearn's array API dispatch rule
            result = to_namespace_of(result, args[1] if len(args) > 1 else kwargs.get("y_pred"))
        return result

    return wrapper  # type: ignore[return-value]


def fast_intake(
    fast: Callable[[Any, Any, dict[str, Any]], Any], finish: Callable[..., Any] | None = None
) -> Callable[[F], F]:
    """Route the common calls straight to a C++ fast intake, everything else to `general` (#16.1).

    ``fast(y_true, y_pred, kwargs)`` (``_core.mse_intake`` and friends, in
    cpp/src/fast_intake.cpp) takes the two positional arguments and the keyword dict of
    the call as given; it returns the result, or None to decline (any other array type,
    dtype, shape, keyword spelling, a non-finite value, a case with a warning ...), and
    then the general path -- validation, sklearn's errors and warnings, the general
    kernels -- runs as if the fast intake did not exist. ``finish`` (the report) turns a
    tuple from ``fast`` into the result. Kept outermost so that a call answered by the
    fast intake costs one Python frame.
    """

    def decorate(general: F) -> F:
        if finish is None:

            @functools.wraps(general)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if len(args) == 2:
                    value = fast(args[0], args[1], kwargs)
                    if value is not None:
                        return value
                return general(*args, **kwargs)

        else:
            make = finish

            @functools.wraps(general)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if len(args) == 2:
                    value = fast(args[0], args[1], kwargs)
                    if value is not None:
                        return make(*value)
                return general(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def small_call_fast_path(fast: Callable[[Any, Any, int], Any]) -> Callable[[F], F]:
    """Route the plainest calls straight to a C++ fast path, everything else to `general`.

    (The metrics now use :func:`fast_intake`, which also takes keywords; this older
    two-array form stays for fast paths written against it.)

    ``fast(y_true, y_pred, num_threads)`` (``_core.mse_fast`` and friends) takes two
    positional arrays and at most keywords spelled at their defaults plus a valid
    ``num_threads`` (see ``_fast_threads``); it returns the result, or None to decline
    (any other array type, dtype, shape, a non-finite value ...), and then the general
    path -- validation, sklearn's errors, the general kernels -- runs as if the fast path
    did not exist. Kept outermost so a small call costs one Python frame (~1 us in all).
    """

    def decorate(general: F) -> F:
        own = frozenset(inspect.signature(general).parameters)  # a keyword general lacks must reach it

        @functools.wraps(general)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) == 2:
                threads = _fast_threads(kwargs, own) if kwargs else 0  # 0: the engine's default
                if threads is not None:
                    value = fast(args[0], args[1], threads)
                    if value is not None:
                        return value
            return general(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


MAX_THREADS = 2**31 - 1  # the engine takes thread counts as a C int


def check_num_threads(value: Any, name: str = "num_threads", *, allow_none: bool = True) -> int:
    """The one rule for thread counts: any integral (Python or NumPy int) in [1, 2**31 - 1].

    ``bool`` and non-integral numbers (``2.0``) are refused; ``None`` means the default
    (returned as 0, the engine's "use the global setting") where ``allow_none``.
    """
    if value is None and allow_none:
        return 0
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        what = "a positive integer or None" if allow_none else "a positive integer"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    if value > MAX_THREADS:
        raise ValueError(f"{name} must be at most 2**31 - 1, got {value!r}")
    return int(value)


def _fast_threads(kwargs: dict[str, Any], own: frozenset[str]) -> int | None:
    """The thread count of a call the fast path may take, or None.

    Eligible: keywords spelled at their defaults (``sample_weight=None``,
    ``multioutput="uniform_average"``, ``exact=False``) and a valid ``num_threads``; an
    invalid ``num_threads`` is left to the general path, which raises its error.
    """
    threads = 0
    for key, value in kwargs.items():
        if key not in own:
            return None
        if key == "num_threads":
            if value is not None:
                if type(value) is not int or not 1 <= value <= MAX_THREADS:
                    return None
                threads = value
        elif not ((key == "sample_weight" and value is None) or (key == "exact" and value is False)
                  or (key == "multioutput" and type(value) is str and value == "uniform_average")):
            return None
    return threads


class InvalidParameterError(ValueError, TypeError):
    """A parameter has the wrong type or value (scikit-learn's class of that name).

    Raised where :func:`sklearn.utils.validate_params` raises. It is both a ValueError
    and a TypeError. Once scikit-learn is imported, the instances l2loss raises (and
    ``l2loss.InvalidParameterError`` itself) also derive from
    ``sklearn.utils._param_validation.InvalidParameterError``, so code written against
    scikit-learn catches them; l2loss never imports scikit-learn to do so.

    Examples
    --------
    >>> import l2loss
    >>> try:
    ...     l2loss.mean_squared_error([1.0], [2.0], multioutput="raw_valuez")
    ... except l2loss.InvalidParameterError as exc:
    ...     print(type(exc).__name__)
    InvalidParameterError
    """


# -- scikit-learn interop: its exception classes and config, read without importing it --

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that attributes a warning to the first frame outside l2loss.

    Call it from the function that calls :func:`warnings.warn`; however deep inside the
    package that is (wrappers, the report, the Dask layer), the warning names the user's line.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


# l2loss class name -> (sklearn module, class name). Importing sklearn costs ~1 s, so it
# is never imported here: if the user has not loaded it, nobody can be catching its classes.
_SKLEARN_TWINS = {
    "InvalidParameterError": ("sklearn.utils._param_validation", "InvalidParameterError"),
    "UndefinedMetricWarning": ("sklearn.exceptions", "UndefinedMetricWarning"),
}
_twins: dict[type, type] = {}
_twins_lock = threading.Lock()
C = TypeVar("C", bound=type)


def sklearn_compatible(cls: C) -> C:
    """``cls``, or (once scikit-learn is loaded) a subclass of both ``cls`` and sklearn's twin.

    The subclass is created once and cached, so ``l2loss.UndefinedMetricWarning`` and the
    category of an emitted warning are the same object while sklearn stays loaded.
    """
    module_name, class_name = _SKLEARN_TWINS[cls.__name__]
    module = sys.modules.get(module_name)
    sk_cls = getattr(module, class_name, None) if module is not None else None
    if not isinstance(sk_cls, type) or issubclass(cls, sk_cls):
        return cls
    with _twins_lock:
        twin = _twins.get(cls)
        if twin is None or not issubclass(twin, sk_cls):  # first use, or sklearn was reloaded
            namespace = {"__module__": "l2loss", "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
            twin = type(cls.__name__, (cls, sk_cls), namespace)
            _twins[cls] = twin
    return twin  # type: ignore[return-value]


def sklearn_assume_finite() -> bool:
    """scikit-learn's ``assume_finite`` setting (thread-local ``config_context`` included).

    Read from the loaded sklearn; when sklearn is not loaded, from the environment
    variable sklearn would read at import (SKLEARN_ASSUME_FINITE). Only called on the
    path where a non-finite value was found, so it costs nothing on clean inputs.
    """
    get_config = getattr(sys.modules.get("sklearn"), "get_config", None)
    if get_config is None:
        return bool(os.environ.get("SKLEARN_ASSUME_FINITE", False))
    try:
        return bool(get_config().get("assume_finite", False))
    except Exception:  # a half-imported or unusual sklearn: its default
        return False


def to_namespace_of(result: np.ndarray, y_pred: Any) -> Any:
    """``result`` in ``y_pred``'s array namespace when sklearn's ``array_api_dispatch`` is on.

    scikit-learn 1.9 with ``set_config(array_api_dispatch=True)`` returns raw values in
    the namespace (and dtype) of ``y_pred``: a torch tensor for torch inputs. l2loss
    computes on the host either way and converts the result; NumPy inputs, or dispatch
    off (the default), give NumPy arrays.
    """
    if type(y_pred) is np.ndarray or not hasattr(y_pred, "shape"):
        return result
    get_config = getattr(sys.modules.get("sklearn"), "get_config", None)
    if get_config is None or not get_config().get("array_api_dispatch", False):
        return result
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(y_pred, torch.Tensor):
        return torch.from_numpy(result).to(device=y_pred.device)
    namespace = getattr(y_pred, "__array_namespace__", None)
    if namespace is None:
        return result
    xp = namespace()
    try:
        return xp.asarray(result, device=getattr(y_pred, "device", None))
    except Exception as exc:
        raise TypeError(
            f"array_api_dispatch is on but the result could not be returned in {xp.__name__}: {exc}"
        ) from exc


def _unreadable(name: str, x: Any, exc: Exception) -> Exception:
    """An array that cannot be viewed on the host (DLPack / ``__array__`` failed)."""
    if isinstance(exc, (RuntimeError, BufferError)):
        return TypeError(
            f"{name} of type {type(x).__module__}.{type(x).__qualname__} could not be read as a "
            f"host array through DLPack or __array__ (move it to CPU memory first): {exc}"
        )
    return exc


def _is_sparse(x: Any) -> bool:
    """``scipy.sparse.issparse`` without importing scipy (unloaded -> nothing is sparse)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(x))


_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# String options in the same literal order as sklearn's source, so that the set
# iteration order (and hence the error message) is the same within one process.
MULTIOUTPUT_OPTIONS = {"raw_values", "uniform_average"}
MULTIOUTPUT_OPTIONS_R2 = {"raw_values", "uniform_average", "variance_weighted"}


def _is_array_like(x: Any) -> bool:
    """sklearn's "array-like" constraint: sparse matrices and arrays are not array-likes."""
    has_protocol = hasattr(x, "__len__") or hasattr(x, "shape") or hasattr(x, "__array__")
    return has_protocol and not np.isscalar(x) and not _is_sparse(x)


def _param_error(name: str, func: str, constraint: str, value: Any) -> InvalidParameterError:
    return sklearn_compatible(InvalidParameterError)(
        f"The {name!r} parameter of {func} must be {constraint}. Got {value!r} instead."
    )


def _options_str(options: set[str]) -> str:
    return "a str among {" + ", ".join(repr(o) for o in options) + "}"


def validate_params(
    func: str,
    y_true: Any,
    y_pred: Any,
    sample_weight: Any = None,
    multioutput: Any = "uniform_average",
    *,
    options: set[str] | None = MULTIOUTPUT_OPTIONS,
    allow_none_multioutput: bool = False,
    force_finite: Any = True,
) -> None:
    """sklearn's ``@validate_params`` stage: types of every parameter, in signature order."""
    for name, value in (("y_true", y_true), ("y_pred", y_pred)):
        if not _is_array_like(value):
            raise _param_error(name, func, "an array-like", value)
    if sample_weight is not None and not _is_array_like(sample_weight):
        raise _param_error("sample_weight", func, "an array-like or None", sample_weight)
    if options is not None:
        ok = (
            (isinstance(multioutput, str) and multioutput in options)
            or (multioutput is None and allow_none_multioutput)
            or (not isinstance(multioutput, str) and multioutput is not None and _is_array_like(multioutput))
        )
        if not ok:
            tail = ", an array-like or None" if allow_none_multioutput else " or an array-like"
            constraint = _options_str(options) + tail
            raise _param_error("multioutput", func, constraint, multioutput)
    if not isinstance(force_finite, (bool, np.bool_)):
        raise _param_error(
            "force_finite", func, "an instance of 'bool' or an instance of 'numpy.bool'", force_finite
        )


def check_bool(name: str, value: Any) -> bool:
    """A keyword that must be a real bool (True/False or numpy.bool_), not a truthy object."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def num_samples(x: Any) -> int:
    """sklearn's ``_num_samples``."""
    message = f"Expected sequence or array-like, got {type(x)}"
    if hasattr(x, "fit") and callable(x.fit):
        raise TypeError(message)
    shape = getattr(x, "shape", None)
    if shape is not None:
        if len(shape) == 0:
            raise TypeError(
                "Input should have at least 1 dimension i.e. satisfy "
                f"`len(x.shape) > 0`, got scalar `{x!r}` instead."
            )
        if isinstance(shape[0], numbers.Integral):
            return int(shape[0])
    if not hasattr(x, "__len__"):
        if hasattr(x, "__array__"):
            return len(np.asarray(x))
        raise TypeError(message)
    try:
        return len(x)
    except TypeError as exc:
        raise TypeError(message) from exc


def check_consistent_length(*arrays: Any) -> None:
    lengths = [num_samples(a) for a in arrays if a is not None]
    if len(set(lengths)) > 1:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: {lengths}")


def is_bfloat16(dt: np.dtype) -> bool:
    """``ml_dtypes.bfloat16`` (recognised without importing ml_dtypes: it is optional)."""
    return dt.kind == "V" and dt.itemsize == 2 and dt.names is None and dt.name == "bfloat16"


def working_dtype(*arrays: Any) -> np.dtype:
    """sklearn's ``_find_matching_floating_dtype``: only inputs with a ``dtype`` vote."""
    floats = []
    for a in arrays:
        if a is None or not hasattr(a, "dtype"):
            continue
        try:
            dt = np.dtype(a.dtype)
        except TypeError:
            dt = np.asarray(a).dtype
        if dt.kind == "f":
            floats.append(dt)
        elif is_bfloat16(dt):  # sklearn rejects it; l2loss computes like float32 inputs
            floats.append(np.dtype(np.float32))
    return np.result_type(*floats) if floats else np.dtype(np.float64)


def assert_all_finite(a: np.ndarray, input_name: str = "", msg_dtype: np.dtype | None = None) -> None:
    """Raise sklearn's NaN / infinity error for ``a`` if it has one."""
    if is_bfloat16(a.dtype):
        a = a.astype(np.float32)  # exact; only on the error path (the kernel flagged a value)
    if a.dtype.kind not in "fc":
        return
    padded = f"{input_name} " if input_name else ""
    if np.isnan(a).any():
        raise ValueError(f"Input {padded}contains NaN.")
    if np.isinf(a).any():
        dtype = a.dtype if msg_dtype is None else msg_dtype
        raise ValueError(f"Input {padded}contains infinity or a value too large for {dtype!r}.")


@dataclass
class _Checked:
    """An input converted for the kernel, plus what its error messages need."""

    kernel: np.ndarray  # float32/float64, native byte order; any strides
    message_dtype: np.dtype  # the dtype sklearn would name in its messages
    input_name: str = ""

    def assert_finite(self) -> None:
        if not sklearn_assume_finite():  # sklearn.config_context(assume_finite=True): no check
            assert_all_finite(self.kernel, self.input_name, self.message_dtype)


def _to_array(x: Any, dtype: np.dtype | None) -> np.ndarray:
    """Convert like sklearn's check_array would, but keep float32/float64 arrays as views.

    ``dtype`` is sklearn's working dtype; ``None`` means max_error's ``dtype="numeric"``.
    A float32 array inside a float64 computation is kept: the kernel widens exactly.
    """
    if isinstance(x, np.matrix):
        raise TypeError(
            "np.matrix is not supported. Please convert to a numpy array with "
            "np.asarray. For more information see: "
            "https://numpy.org/doc/stable/reference/generated/numpy.matrix.html"
        )
    if type(x) is not np.ndarray and hasattr(x, "__dlpack__") and hasattr(x, "dtype"):
        try:  # torch CPU tensors and other DLPack producers: zero-copy
            x = np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError, ValueError):
            pass
    if dtype is not None and not hasattr(x, "dtype"):
        # Python sequences: one conversion straight to the working dtype, as sklearn does
        # (so a bad string or a complex number fails with numpy's own message).
        with warnings.catch_warnings():
            warnings.simplefilter("error", ComplexWarning)
            try:
                return np.asarray(x, dtype=dtype)
            except ComplexWarning:
                raise ValueError(f"Complex data not supported\n{x}\n") from None
    arr = np.asarray(x)
    if is_bfloat16(arr.dtype):
        return arr  # read natively by the kernels (widened to float32 only when paired unlike)
    kind = arr.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported\n{arr}\n")
    if dtype is None:
        if kind in "USV":
            raise ValueError(
                "dtype='numeric' is not compatible with arrays of bytes/strings."
                "Convert your data to numeric values explicitly instead."
            )
        return arr if kind == "f" else arr.astype(np.float64)
    if arr.dtype in _NATIVE_FLOATS and arr.dtype.isnative and arr.dtype.itemsize <= dtype.itemsize:
        return arr
    return arr.astype(dtype)




def kernel_operand(arr: np.ndarray, *, narrow: bool = True) -> np.ndarray:
    """The one rule for what the kernels read in place (the Python side of the engine's
    element-type table, cpp/include/l2loss/element_types.hpp).

    float32 and float64 in native byte order are read in place; so are float16 and
    bfloat16 where the entry point's kernels take them (``narrow=True``: the metric
    kernels; the gradient outputs and ridge take wide floats only). Anything else is
    replaced by its exact widening: float32 for floats of at most 4 bytes (bfloat16
    included), float64 otherwise. (The metrics widen a narrow operand paired with a
    different type later, in check_reg_targets: the kernels read narrow floats in pairs.)
    """
    dt = arr.dtype
    if dt.isnative and dt in _NATIVE_FLOATS:
        return arr
    if narrow and ((dt == np.float16 and dt.isnative) or is_bfloat16(dt)):
        return arr
    small_float = (dt.kind == "f" or is_bfloat16(dt)) and dt.itemsize <= 4
    return arr.astype(np.float32 if small_float else np.float64)


@dataclass
class Targets:
    """Validated inputs, shaped (n_samples, n_outputs) for the kernel."""

    y_true: np.ndarray
    y_pred: np.ndarray
    sample_weight: np.ndarray | None
    multioutput: Any  # str, None, or float64 ndarray of output weights
    dtype: np.dtype  # sklearn's working dtype (raw_values results use it)
    checked: list[_Checked]

    @property
    def n_samples(self) -> int:
        return int(self.y_true.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.y_true.shape[1])

    def locate_nonfinite(self) -> None:
        """Raise the first NaN/inf error sklearn would raise (inputs in sklearn's order)."""
        for c in self.checked:
            c.assert_finite()

    def check_weights_not_all_zero(self) -> None:
        if self.sample_weight is not None and not np.any(self.sample_weight != 0):
            raise ValueError("Sample weights must contain at least one non-zero number.")


def _untorch(x: Any, widen_bfloat16: bool = False) -> Any:
    """A torch CPU tensor that requires grad or is bfloat16, as a NumPy view (no copy):
    detached, and bfloat16 reinterpreted as ``ml_dtypes.bfloat16`` (read natively by the
    kernels). ``widen_bfloat16`` (sample weights: the kernels read bfloat16 only as y
    pairs): float32 instead, an exact copy. Anything else is returned as is (torch is
    looked up only for its tensors)."""
    if type(x).__module__.partition(".")[0] != "torch" or not hasattr(x, "detach") or x.device.type != "cpu":
        return x
    if str(x.dtype) == "torch.bfloat16":
        if widen_bfloat16:
            return x.detach().float().numpy()
        try:
            from ml_dtypes import bfloat16
        except ImportError:  # pragma: no cover - ml_dtypes is a test dependency
            return x.detach().float().numpy()  # exact widening, a copy
        import torch

        return x.detach().view(torch.int16).numpy().view(bfloat16)
    return x.detach() if x.requires_grad else x


def check_reg_targets(
    y_true: Any,
    y_pred: Any,
    sample_weight: Any,
    multioutput: Any,
    *,
    numeric: bool = False,
) -> Targets:
    """sklearn's ``_check_reg_targets_with_floating_dtype`` (``numeric=True``: max_error's
    ``dtype="numeric"`` variant), minus the eager NaN scan."""
    y_true, y_pred, sample_weight = _untorch(y_true), _untorch(y_pred), _untorch(sample_weight, True)
    dtype = None if numeric else working_dtype(y_true, y_pred, sample_weight)
    check_consistent_length(y_true, y_pred, sample_weight)
    checked: list[_Checked] = []

    def fail(exc: Exception) -> Exception:
        # Errors found later than a NaN in an earlier input must not mask it.
        for c in checked:
            c.assert_finite()
        return exc

    arrays = []
    for name, x in (("y_true", y_true), ("y_pred", y_pred)):
        try:
            arr = _to_array(x, dtype)
        except Exception as exc:
            raise fail(_unreadable(name, x, exc)) from None
        check_target_dims(arr, fail)
        msg_dtype = arr.dtype if dtype is None else dtype
        checked.append(_Checked(kernel_operand(arr), msg_dtype))
        check_target_size(arr, fail)
        arrays.append(arr)

    weights = None
    # sklearn's _check_sample_weight only keeps float32/float64: with a float16 working
    # dtype the weights become float64, and so do the results.
    w_dtype = dtype if dtype is not None and dtype.itemsize >= 4 else np.dtype(np.float64)
    if sample_weight is not None:
        try:
            w = _to_array(sample_weight, w_dtype)
        except Exception as exc:
            raise fail(_unreadable("sample_weight", sample_weight, exc)) from None
        check_weight_dims(w, arrays[0].shape[0], fail)
        weights = kernel_operand(w)
        checked.append(_Checked(weights, w_dtype, "sample_weight"))

    kt, kp = checked[0].kernel, checked[1].kernel
    if kt.dtype != kp.dtype and 2 in (kt.dtype.itemsize, kp.dtype.itemsize):
        # The kernels read float16 and bfloat16 in like pairs; widening either is exact.
        kt, kp = (k.astype(np.float32) if k.dtype.itemsize == 2 else k for k in (kt, kp))
    yt, yp = (a.reshape(-1, 1) if a.ndim == 1 else a for a in (kt, kp))

    def fail_late(exc: Exception) -> Exception:
        # These come after sample_weight's checks in sklearn: weights must be clean first.
        fail(exc)
        if weights is not None and not np.any(weights != 0):
            return ValueError("Sample weights must contain at least one non-zero number.")
        return exc

    check_n_outputs(yt.shape[1], yp.shape[1], fail_late)
    mo = check_multioutput(multioutput, yt.shape[1], fail_late)
    out_dtype = dtype if dtype is not None else np.dtype(np.float64)
    if weights is not None:
        out_dtype = np.result_type(out_dtype, w_dtype)
    return Targets(yt, yp, weights, mo, out_dtype, checked)


# sklearn's shape rules for y_true, y_pred and sample_weight, each stated once. The
# in-memory intake (check_reg_targets) and the Dask intake (dask._prepare, on chunk
# metadata: anything with .ndim and .shape) call them in the same order -- per target:
# dims, then size; then the weights' dims; then the output counts -- and hand every
# error to `fail`, which lets an earlier input's NaN take precedence as in sklearn.


def check_target_dims(arr: Any, fail: Any) -> None:
    if arr.ndim >= 3:
        raise fail(ValueError(f"Found array with dim {arr.ndim}, while dim <= 2 is required."))


_AT_LEAST_ONE = "while a minimum of 1 is required."


def check_samples(arr: Any, fail: Any) -> None:
    if arr.shape[0] < 1:
        raise fail(ValueError(f"Found array with 0 sample(s) (shape={arr.shape}) {_AT_LEAST_ONE}"))


def check_target_size(arr: Any, fail: Any) -> None:
    check_samples(arr, fail)
    if arr.ndim == 2 and arr.shape[1] < 1:
        raise fail(ValueError(f"Found array with 0 feature(s) (shape={arr.shape}) {_AT_LEAST_ONE}"))


def check_weight_dims(w: Any, n_rows: int, fail: Any) -> None:
    if w.ndim != 1:
        raise fail(
            ValueError(
                f"Sample weights must be 1D array or scalar, got {w.ndim}D array. "
                f"Expected either a scalar value or a 1D array of length {n_rows}."
            )
        )


def check_n_outputs(n_true: int, n_pred: int, fail: Any) -> None:
    if n_true != n_pred:
        raise fail(ValueError(f"y_true and y_pred have different number of output ({n_true}!={n_pred})"))


def check_multioutput(multioutput: Any, n_outputs: int, fail: Any = None) -> Any:
    """sklearn's checks of an array-like ``multioutput`` (strings were validated earlier).

    ``fail`` lets the caller run earlier-ranked checks before an error is raised.
    """
    if isinstance(multioutput, str) or multioutput is None:
        return multioutput
    fail = fail or (lambda exc: exc)
    try:
        mo = _to_array(multioutput, None)
    except Exception as exc:
        raise fail(exc) from None
    check_target_dims(mo, fail)
    if not sklearn_assume_finite():
        try:
            assert_all_finite(mo)
        except ValueError as exc:
            raise fail(exc) from None
    check_samples(mo, fail)
    if n_outputs == 1:
        raise fail(ValueError("Custom weights are useful only in multi-output cases."))
    if n_outputs != mo.shape[0]:
        raise fail(
            ValueError(f"There must be equally many custom weights ({mo.shape[0]}) as outputs ({n_outputs}).")
        )
    # A 2-D (n_outputs, k) array passes sklearn's checks and fails only when the outputs
    # are averaged (numpy.average's TypeError), i.e. after MSLE's domain check and R^2's
    # single-sample return: it is returned as is and refused by the averaging step.
    return np.asarray(mo, dtype=np.float64)
