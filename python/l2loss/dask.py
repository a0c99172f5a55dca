"""Exact, reproducible squared-error metrics on Dask arrays and dataframes.

``l2loss.dask`` has the seven metrics of :mod:`l2loss` that stream -- ``mean_squared_error``,
``root_mean_squared_error``, ``mean_absolute_error``, ``r2_score``,
``explained_variance_score``, ``max_error`` and ``regression_report`` -- with the
in-memory signatures (``exact=`` included) plus two keywords, ``split_every`` and
``compute``. They accept ``dask.array.Array`` (1-D or 2-D, any chunking), dask ``Series``
(``ddf["y"]``) and ``DataFrame`` (2-D, one output per column), and return **exactly the
bits** the in-memory function returns on the same data, whatever the chunking, the merge
order or the number of workers.

How: every row block becomes a small exact state (the engine's integer
superaccumulators, serialised with ``ReduceResult.to_bytes``: ~100 bytes for MSE, a few
hundred per output for the report), the states are merged with Dask's tree reduction,
and the metric is finalised from the merged state by the same code as the in-memory
function. Merging is integer addition, so the result cannot depend on the tree. Only
states travel between workers, never data (except where ``y_true`` and ``y_pred`` blocks
live on different workers: Dask then moves one of them to the other, as it would for
any element-wise operation).

Threads
-------
Each block is reduced with ``num_threads=1`` by default: Dask already runs one task per
worker thread (``dask worker --nthreads N``; the threaded scheduler uses one thread per
core), so OpenMP threads inside each task would oversubscribe the cores. If your workers
have fewer Dask threads than cores (e.g. ``--nthreads 1`` on a 16-core machine), pass
``num_threads=`` explicitly. NumPy inputs (no Dask collection among the arguments) go
straight to the in-memory function, whose default is :func:`l2loss.get_num_threads`.

Errors
------
Validation follows the in-memory functions: same exception types, same messages, same
precedence. Length mismatches, dimension, output-count and ``multioutput`` errors are
found from shapes before anything is computed (to respect sklearn's precedence, an
input is scanned for NaN/inf first only when such an error is about to be raised);
NaN/inf, all-zero weights and weights summing to zero are found when the metric is
computed. Inputs with unknown chunk sizes (dask dataframes, boolean indexing) are paired
block by block when they have as many blocks; their lengths are checked at compute time.
Otherwise their chunk sizes are computed first (one extra pass over such inputs).

Examples
--------
>>> import dask.array as da, numpy as np, l2loss, l2loss.dask
>>> y = np.linspace(0.0, 1.0, 1000); p = y + 0.25
>>> l2loss.dask.mean_squared_error(da.from_array(y, chunks=300), da.from_array(p, chunks=170)) \\
...     == l2loss.mean_squared_error(y, p)
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError("l2loss.dask needs Dask: pip install 'dask[array]'") from exc

from . import _core
from ._metrics import (
    SUMS_ALL,
    SUMS_R2,
    UnvalidatedWeights,
    _warn_r2_undefined,
    aggregate,
    assemble_fraction,
    round_max_error,
    threads_arg,
)
from ._metrics import explained_variance_score as _explained_variance_score
from ._metrics import max_error as _max_error
from ._metrics import mean_absolute_error as _mean_absolute_error
from ._metrics import mean_squared_error as _mean_squared_error
from ._metrics import r2_score as _r2_score
from ._metrics import root_mean_squared_error as _root_mean_squared_error
from ._report import RegressionReport, report_from_state
from ._report import regression_report as _regression_report
from ._validation import (
    MULTIOUTPUT_OPTIONS,
    MULTIOUTPUT_OPTIONS_R2,
    _to_array,
    assert_all_finite,
    check_bool,
    check_multioutput,
    check_n_outputs,
    check_target_dims,
    check_target_size,
    check_weight_dims,
    kernel_operand,
    num_samples,
    sklearn_signature,
    validate_params,
    working_dtype,
)

__all__ = [
    "DEFAULT_NUM_THREADS",
    "explained_variance_score",
    "grouped_report",
    "max_error",
    "mean_absolute_error",
    "mean_squared_error",
    "r2_score",
    "regression_report",
    "root_mean_squared_error",
]

DEFAULT_NUM_THREADS = 1
"""Engine threads per Dask task when ``num_threads`` is not given (see the module docstring)."""

_ALL_ZERO_WEIGHTS = "Sample weights must contain at least one non-zero number."


# ---- what each metric needs --------------------------------------------------------------


@dataclass(frozen=True)
class _Metric:
    """One public metric: its in-memory twin, the sums it needs and how it is finalised."""

    name: str
    eager: Callable[..., Any]  # the in-memory function (NumPy inputs go straight to it)
    # One engine pass per entry, with only the sums the metric reads (SUM_SQ is ~6x cheaper than all).
    sums: tuple[int, ...]
    finish: Callable[[Sequence[Any], _Plan], Any]  # (merged Reductions, one per pass; plan) -> result
    # The very set objects of _validation (their iteration order is in sklearn's messages).
    options: set[str] | None = field(default_factory=lambda: MULTIOUTPUT_OPTIONS)
    allow_none_multioutput: bool = False
    force_finite: bool = False  # takes a force_finite keyword
    numeric: bool = False  # max_error: dtype="numeric" conversions, a single output
    undefined_below_two: bool = False  # r2_score: warn and return nan with fewer than two samples
    exact: _Metric | None = None  # the exact=True variant (None: no exact keyword)


@dataclass(frozen=True)
class _Plan:
    """Everything decided from metadata on the client; shipped (a few hundred bytes) with the tasks."""

    metric: _Metric
    conversions: tuple[np.dtype | None, ...]  # per input: dtype its blocks are converted to (None: "numeric")
    messages: tuple[tuple[str, np.dtype], ...]  # per input: name and dtype used in NaN/inf messages
    out_dtype: np.dtype  # sklearn's result dtype (raw values keep it; max_error rounds to it)
    multioutput: Any  # validated: str, None or a float64 array of output weights
    force_finite: bool
    num_threads: int
    lengths_known: bool  # False: block lengths are only known at compute time
    true_columns: tuple[int, ...]  # y_true.shape[1:] (for a message)

    @property
    def weighted(self) -> bool:
        return len(self.conversions) == 3


# ---- per-block states and their merge ----------------------------------------------------


class _Partial(NamedTuple):
    """The exact summary of some rows: what travels between workers."""

    states: tuple[bytes, ...]  # _core.ReduceResult.to_bytes() per engine pass; () when there are no rows
    rows: tuple[int, ...]  # rows of y_true, y_pred[, sample_weight] seen (checks unknown chunk sizes)
    nonfinite: int  # bit 2*i: input i has a NaN, bit 2*i+1: an infinity (after conversion)
    nonzero_weight: bool  # some weight is non-zero (or there are no weights)
    misaligned: bool  # a block pair of unequal lengths (only possible with unknown chunk sizes)


def _kernel_block(block: Any, dtype: np.dtype | None) -> np.ndarray:
    """Convert one block exactly as the in-memory intake converts the whole input (element-wise)."""
    return kernel_operand(_to_array(block, dtype))


def _nonfinite_bits(arrays: Sequence[np.ndarray]) -> int:
    bits = 0
    for i, a in enumerate(arrays):
        bits |= (int(bool(np.isnan(a).any())) << (2 * i)) | (int(bool(np.isinf(a).any())) << (2 * i + 1))
    return bits


def _box(part: _Partial, keepdims: bool) -> np.ndarray:
    out = np.empty((1,) if keepdims else (), dtype=object)
    out[...] = None
    out.flat[0] = part
    return out


def _block_partial(*blocks: np.ndarray, plan: _Plan) -> np.ndarray:
    """One row block (y_true, y_pred[, sample_weight]) -> a boxed :class:`_Partial`."""
    rows = tuple(int(b.shape[0]) for b in blocks)
    if len(set(rows)) > 1:
        return _box(_Partial((), rows, 0, False, True), True)
    arrays = [_kernel_block(b, dtype) for b, dtype in zip(blocks, plan.conversions)]
    if rows[0] == 0:
        return _box(_Partial((), rows, 0, False, False), True)
    y_true, y_pred = (a.reshape(-1, 1) if a.ndim == 1 else a for a in arrays[:2])
    weights = arrays[2] if plan.weighted else None
    threads = plan.num_threads
    rs = [_core.reduce(y_true, y_pred, weights, sums=sums, num_threads=threads) for sums in plan.metric.sums]
    nonfinite = _nonfinite_bits(arrays) if any(r.careful for r in rs) else 0  # rare: locate like in memory
    nonzero = weights is None or not rs[0].weight_sum_is_zero() or bool(np.any(weights != 0))
    return _box(_Partial(tuple(r.to_bytes() for r in rs), rows, nonfinite, nonzero, False), True)


def _flatten(blocks: Any) -> Iterator[_Partial]:
    if isinstance(blocks, (list, tuple)) and not isinstance(blocks, _Partial):
        for b in blocks:
            yield from _flatten(b)
    elif isinstance(blocks, np.ndarray):
        yield from blocks.ravel().tolist()
    else:
        yield blocks


def _merge(parts: Iterator[_Partial]) -> _Partial:
    """Exact merge (integer addition): any grouping and order give the same state."""
    states: list[Any] = []
    rows: tuple[int, ...] = ()
    nonfinite, nonzero, misaligned = 0, False, False
    for p in parts:
        if p.states:
            rs = [_core.ReduceResult.from_bytes(b) for b in p.states]
            if not states:
                states = rs
            else:
                for state, r in zip(states, rs):
                    state.merge(r)
        rows = tuple(a + b for a, b in zip(rows, p.rows)) if rows else p.rows
        nonfinite |= p.nonfinite
        nonzero = nonzero or p.nonzero_weight
        misaligned = misaligned or p.misaligned
    return _Partial(tuple(s.to_bytes() for s in states), rows, nonfinite, nonzero, misaligned)


def _keep(x: np.ndarray, axis: Any = None, keepdims: bool = True) -> np.ndarray:
    return x


def _combine(blocks: Any, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return _box(_merge(_flatten(blocks)), keepdims)


def _raise_nonfinite(bits: int, messages: Sequence[tuple[str, np.dtype]]) -> None:
    """Raise the first NaN/inf error the in-memory intake would raise (inputs in sklearn's order)."""
    for i, (name, msg_dtype) in enumerate(messages):
        for k, value in ((0, np.nan), (1, np.inf)):
            if bits >> (2 * i + k) & 1:
                assert_all_finite(np.array([value]), name, msg_dtype)  # the in-memory wording


def _finalize(plan: _Plan, block: Any) -> Any:
    """Merged state -> the metric, with the in-memory function's late checks in its order."""
    p = next(_flatten(block))
    if not plan.lengths_known:
        lengths = list(p.rows)
        if len(set(lengths)) > 1:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: {lengths}")
        if p.misaligned:
            raise ValueError(
                "y_true, y_pred and sample_weight have unknown chunk sizes that turned out to differ "
                "block by block; call .compute_chunk_sizes() on the arrays (or repartition the "
                "dataframes alike) first"
            )
        if lengths[0] == 0:
            shape = (0, *plan.true_columns)
            raise ValueError(f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is "
                             "required.")
    _raise_nonfinite(p.nonfinite, plan.messages)
    if plan.weighted and not p.nonzero_weight:
        raise ValueError(_ALL_ZERO_WEIGHTS)
    assert p.states, "no rows: rejected from the shapes, or above"
    rs = [_core.ReduceResult.from_bytes(b) for b in p.states]
    if plan.metric.undefined_below_two and rs[0].n_rows < 2:
        return _warn_r2_undefined()
    if plan.weighted and rs[0].weight_sum_is_zero():
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    return plan.metric.finish(rs, plan)


# ---- finishers: the in-memory functions' last lines, on a merged state ----------------------


def _finish_mean(rs: Sequence[Any], plan: _Plan, *, acc: int, root: str | None = None) -> Any:
    """``root``: None, "sqrt" (sqrt of the rounded mean) or "exact" (correctly rounded root)."""
    values = rs[0].root_mean(acc) if root == "exact" else rs[0].mean(acc)
    return aggregate(np.sqrt(values) if root == "sqrt" else values, plan.multioutput, plan.out_dtype)


def _finish_fraction(rs: Sequence[Any], plan: _Plan, *, parts: str) -> Any:
    num, den = getattr(rs[0], parts)()
    return assemble_fraction(num, den, plan.multioutput, plan.force_finite, plan.out_dtype)


def _finish_max_error(rs: Sequence[Any], plan: _Plan) -> float:
    return round_max_error(float(rs[0].max_abs()[0]), plan.out_dtype)


def _finish_report(rs: Sequence[Any], plan: _Plan) -> RegressionReport:
    return report_from_state(rs[0], plan.multioutput, plan.out_dtype, *rs[1:])  # rs[1]: the exact pass


# ---- intake: sklearn's checks on metadata ---------------------------------------------------


def _as_dask_array(x: Any, like: da.Array | None) -> da.Array:
    """A dask array for any accepted input; NumPy-likes are chunked like ``like`` when possible."""
    if isinstance(x, da.Array):
        return x
    if dask.is_dask_collection(x):
        if hasattr(x, "to_dask_array"):  # dask DataFrame / Series: partitions become row blocks
            return x.to_dask_array()
        raise TypeError(f"l2loss.dask accepts dask arrays, dataframes and series, got {type(x).__name__}")
    arr = np.asarray(x)
    if like is not None and arr.ndim >= 1 and not math.isnan(like.shape[0]) and arr.shape[0] == like.shape[0]:
        return da.from_array(arr, chunks=(like.chunks[0],) + arr.shape[1:])
    return da.from_array(arr, chunks=arr.shape)


def _unknown_rows(x: da.Array) -> bool:
    return x.ndim >= 1 and any(math.isnan(c) for c in x.chunks[0])


def _chunk_identity(block: np.ndarray) -> np.ndarray:
    return block


def _with_chunk_sizes(x: da.Array) -> da.Array:
    if not _unknown_rows(x):
        return x
    # compute_chunk_sizes() works in place: give it a new array, not the caller's.
    return da.map_blocks(_chunk_identity, x, dtype=x.dtype).compute_chunk_sizes()


def _dask_inputs(y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[list[da.Array], bool]:
    """Dask arrays for the inputs, row blocks pairable; and whether their lengths are known.

    sklearn's length check (its first check on the data) is done here when lengths are known.
    """
    inputs = [x for x in (y_true, y_pred, sample_weight) if x is not None]
    collections = [_as_dask_array(x, None) if dask.is_dask_collection(x) else None for x in inputs]
    reference = next((x for x in collections if x is not None and x.ndim and not _unknown_rows(x)), None)
    arrays = [c if c is not None else _as_dask_array(x, reference) for x, c in zip(inputs, collections)]
    for x in arrays:
        if x.ndim == 0:
            num_samples(x)  # sklearn's TypeError for scalars
    if any(map(_unknown_rows, arrays)) and len({x.numblocks[0] for x in arrays}) > 1:
        arrays = [_with_chunk_sizes(x) for x in arrays]  # blocks cannot be paired: learn their sizes
    lengths_known = not any(map(_unknown_rows, arrays))
    if lengths_known:
        lengths = [int(x.shape[0]) for x in arrays]
        if len(set(lengths)) > 1:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: {lengths}")
    return arrays, lengths_known


class _Checked(NamedTuple):
    array: da.Array
    conversion: np.dtype | None  # what its blocks are converted to (None: max_error's "numeric")
    name: str  # in error messages ("sample_weight" or "")
    message_dtype: np.dtype


def _fail(checked: list[_Checked], exc: Exception, late: bool = False) -> Exception:
    """``check_reg_targets``' ``fail``/``fail_late``: a NaN/inf in an input checked earlier (and,
    if ``late``, all-zero weights) is reported first. Scans the data: only on the error path."""
    converted = [
        da.map_blocks(_kernel_block, c.array, c.conversion, meta=np.empty((0,) * c.array.ndim, np.float64))
        for c in checked
    ]
    scans = [s for x in converted for s in (da.isnan(x).any(), da.isinf(x).any())]
    weights = converted[2] if late and len(converted) == 3 else None
    if weights is not None:
        scans.append((weights != 0).any())
    found = dask.compute(*scans)
    bits = sum(int(bool(f)) << i for i, f in enumerate(found[: 2 * len(checked)]))
    _raise_nonfinite(bits, [(c.name, c.message_dtype) for c in checked])
    if weights is not None and not found[-1]:
        return ValueError(_ALL_ZERO_WEIGHTS)
    return exc


def _prepare(
    metric: _Metric, y_true: Any, y_pred: Any, sample_weight: Any, multioutput: Any, force_finite: Any,
    num_threads: Any, exact: Any = False,
) -> tuple[_Plan, list[da.Array]]:
    """sklearn's checks in sklearn's order (as ``_validation.check_reg_targets``), on metadata."""
    validate_params(
        metric.name, y_true, y_pred, sample_weight, multioutput, options=metric.options,
        allow_none_multioutput=metric.allow_none_multioutput, force_finite=force_finite,
    )
    if metric.exact is not None:
        check_bool("exact", exact)  # the in-memory check, same place
        metric = metric.exact if exact else metric
    # Dtypes vote on the original objects, as in memory (a DataFrame has no .dtype: no vote).
    dtype = None if metric.numeric else working_dtype(y_true, y_pred, sample_weight)
    arrays, lengths_known = _dask_inputs(y_true, y_pred, sample_weight)
    checked: list[_Checked] = []
    fail = functools.partial(_fail, checked)
    # The in-memory intake's shape rules, in its order (_validation.check_target_dims ...).
    for x in arrays[:2]:
        check_target_dims(x, fail)
        numeric_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        checked.append(_Checked(x, dtype, "", dtype if dtype is not None else numeric_dtype))
        check_target_size(x, fail)
    w_dtype = dtype if dtype is not None and dtype.itemsize >= 4 else np.dtype(np.float64)
    if len(arrays) == 3:
        check_weight_dims(arrays[2], arrays[0].shape[0], fail)
        checked.append(_Checked(arrays[2], w_dtype, "sample_weight", w_dtype))
    n_true, n_pred = (x.shape[1] if x.ndim == 2 else 1 for x in arrays[:2])
    check_n_outputs(n_true, n_pred, functools.partial(fail, late=True))
    if metric.name == "root_mean_squared_error" and not isinstance(multioutput, str):
        mo = UnvalidatedWeights(multioutput)  # sklearn 1.9's RMSE leaves it to numpy.average
    else:
        mo = check_multioutput(multioutput, n_true, functools.partial(fail, late=True))
    if metric.numeric and n_true > 1:
        raise fail(ValueError("Multioutput not supported in max_error"))
    threads = DEFAULT_NUM_THREADS if num_threads is None else threads_arg(num_threads)

    if metric.numeric:  # max_error rounds like sklearn's subtraction in the inputs' dtype
        out_dtype = np.result_type(checked[0].message_dtype, checked[1].message_dtype)
    else:
        out_dtype = dtype if dtype is not None else np.dtype(np.float64)
        if len(arrays) == 3:
            out_dtype = np.result_type(out_dtype, w_dtype)
    plan = _Plan(
        metric=metric,
        conversions=tuple(c.conversion for c in checked),
        messages=tuple((c.name, c.message_dtype) for c in checked),
        out_dtype=out_dtype,
        multioutput=mo,
        force_finite=bool(force_finite),
        num_threads=threads,
        lengths_known=lengths_known,
        true_columns=tuple(arrays[0].shape[1:]),
    )
    # A 2-D array chunked along columns is rechunked to whole rows (the kernel needs whole rows).
    arrays = [x.rechunk({1: -1}) if x.ndim == 2 and x.numblocks[1] > 1 else x for x in arrays]
    return plan, arrays


# ---- the lazy state ------------------------------------------------------------------------


def _lazy_state(plan: _Plan, arrays: list[da.Array], split_every: Any) -> Any:
    """A Delayed of the merged :class:`_Partial` (boxed in a 0-d object array).

    Design (why blockwise + ``da.reduction``): ``da.blockwise`` pairs the row blocks of
    all inputs -- aligning misaligned known chunkings by splitting at the union of the
    boundaries (no concatenation copies), and fusing with upstream element-wise steps so
    a block is reduced where it is produced -- and maps each pair to a boxed state. Dask's
    own ``da.reduction`` (``concatenate=False``) then merges the states in a tree with
    fan-in ``split_every``, the same machinery and configuration as ``x.sum()``. A
    ``dask.bag`` or hand-built Delayed tree would work as well but would re-implement the
    tree and lose blockwise fusion. da.reduction takes a single array, hence blockwise first.
    """
    indices = ["ij" if x.ndim == 2 else "i" for x in arrays]
    args = [a for x, index in zip(arrays, indices) for a in (x, index)]
    parts = da.blockwise(
        functools.partial(_block_partial, plan=plan), "i", *args,
        token=f"l2loss-{plan.metric.name}-block",
        align_arrays=plan.lengths_known,  # unknown sizes: pair block i with block i, checked at compute time
        concatenate=True, adjust_chunks={"i": 1}, dtype=object, meta=np.empty((0,), dtype=object),
    )
    merged = da.reduction(
        parts, _keep, _combine, combine=_combine, axis=0, keepdims=False, concatenate=False,
        split_every=split_every, dtype=object, meta=np.empty((), dtype=object),
        name=f"l2loss-{plan.metric.name}-merge",
    )
    return merged.to_delayed().flat[0]


def _evaluate(
    metric: _Metric, y_true: Any, y_pred: Any, *, sample_weight: Any = None,
    multioutput: Any = "uniform_average", force_finite: Any = True, exact: Any = False,
    num_threads: int | None, split_every: int | None, compute: bool,
) -> Any:
    """The one implementation behind the seven public functions."""
    options: dict[str, Any] = {}
    if not metric.numeric:
        options.update(sample_weight=sample_weight, multioutput=multioutput)
    if metric.force_finite:
        options["force_finite"] = force_finite
    if metric.exact is not None:
        options["exact"] = exact
    if not any(dask.is_dask_collection(x) for x in (y_true, y_pred, sample_weight)):
        if compute:
            return metric.eager(y_true, y_pred, num_threads=num_threads, **options)
        return dask.delayed(metric.eager, pure=True)(y_true, y_pred, num_threads=num_threads, **options)
    plan, arrays = _prepare(
        metric, y_true, y_pred, sample_weight, multioutput, force_finite, num_threads, exact
    )
    state = _lazy_state(plan, arrays, split_every)
    if compute:  # finalise here, so warnings and errors are raised in the caller's process
        (block,) = dask.compute(state)
        return _finalize(plan, block)
    return dask.delayed(functools.partial(_finalize, plan), pure=True, name=f"l2loss-{metric.name}")(state)


# ---- public functions ----------------------------------------------------------------------

_COMMON_PARAMETERS = """
    Parameters
    ----------
    y_true, y_pred : dask Array, dask Series / DataFrame or array-like
        Shape (n_samples,) or (n_samples, n_outputs){outputs_note}. Any row chunking, not
        necessarily the same for both; column chunks are merged into whole rows.{weights}
    num_threads : int, optional
        Engine threads per Dask task (default ``DEFAULT_NUM_THREADS`` = 1: Dask already runs
        one task per worker thread). Inputs without Dask collections go to the in-memory
        function, with its default.{exact}
    split_every : int, optional
        Fan-in of the tree that merges the per-block states (default: Dask's).
    compute : bool, default True
        False: return a ``dask.delayed.Delayed`` (compute many with one ``dask.compute``).

    Returns
    -------
    {returns}
        Bitwise equal to ``l2loss.{name}`` on the same data.

    Examples
    --------
    >>> import dask.array as da, numpy as np, l2loss, l2loss.dask
    >>> y = np.arange(12.0).reshape(6, 2); p = y + np.array([0.5, -1.0])
    >>> dy, dp = da.from_array(y, chunks=(4, 1)), da.from_array(p, chunks=3)
    >>> {example}
"""

_WEIGHTS = """
    sample_weight : array-like of shape (n_samples,), optional
    multioutput : {{{options}}} or array-like of shape (n_outputs,), default 'uniform_average'"""


def _document(
    summary: str, returns: str, example: str, *, weights: str | None = "'raw_values', 'uniform_average'",
    extra: str = "", exact: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Numpydoc docstrings from one template (the seven functions differ in three lines)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__doc__ = summary + "\n" + _COMMON_PARAMETERS.format(
            outputs_note="" if weights is not None else ", one output",
            weights=(_WEIGHTS.format(options=weights) + extra) if weights is not None else "",
            returns=returns, name=func.__name__, example=example, exact=_EXACT if exact else "",
        )
        return func

    return decorate


_EXACT = """
    exact : bool, default False
        As in the in-memory function: sum the exact squares of the exact differences
        (a costlier engine pass; see :func:`l2loss.mean_squared_error`)."""

_FORCE_FINITE = """
    force_finite : bool, default True
        As in scikit-learn: replace the scores of constant targets by 1.0 or 0.0."""

def _with_exact(metric: _Metric, sums: tuple[int, ...], finish: Callable[..., Any] | None = None) -> _Metric:
    """Attach the ``exact=True`` variant (other engine passes, maybe another finisher)."""
    return replace(metric, exact=replace(metric, sums=sums, finish=finish or metric.finish))


_MSE = _with_exact(
    _Metric("mean_squared_error", _mean_squared_error, (_core.SUM_SQ,),
            functools.partial(_finish_mean, acc=_core.ACC_SQ)),
    (_core.SUM_SQ_EXACT,),
)
_RMSE = _with_exact(
    _Metric("root_mean_squared_error", _root_mean_squared_error, (_core.SUM_SQ,),
            functools.partial(_finish_mean, acc=_core.ACC_SQ, root="sqrt")),
    (_core.SUM_SQ_EXACT,), functools.partial(_finish_mean, acc=_core.ACC_SQ, root="exact"),
)
_MAE = _Metric("mean_absolute_error", _mean_absolute_error, (_core.SUM_ABS,),
               functools.partial(_finish_mean, acc=_core.ACC_ABS))
_R2 = _Metric("r2_score", _r2_score, (SUMS_R2,), functools.partial(_finish_fraction, parts="r2_parts"),
              options=MULTIOUTPUT_OPTIONS_R2, allow_none_multioutput=True, force_finite=True,
              undefined_below_two=True)
_EV = _Metric("explained_variance_score", _explained_variance_score, (SUMS_ALL,),
              functools.partial(_finish_fraction, parts="explained_variance_parts"),
              options=MULTIOUTPUT_OPTIONS_R2, force_finite=True)
_MAX = _Metric("max_error", _max_error, (_core.MAX_ABS,), _finish_max_error, options=None, numeric=True)
_REPORT = _with_exact(_Metric("regression_report", _regression_report, (SUMS_ALL,), _finish_report),
                      (SUMS_ALL, _core.SUM_SQ_EXACT))


@_document("Mean squared error of Dask inputs, exact (see :func:`l2loss.mean_squared_error`).",
           "float or ndarray of shape (n_outputs,)",
           "l2loss.dask.mean_squared_error(dy, dp) == l2loss.mean_squared_error(y, p)\n    True", exact=True)
@sklearn_signature
def mean_squared_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None, exact: bool = False, split_every: int | None = None, compute: bool = True,
) -> Any:
    return _evaluate(_MSE, y_true, y_pred, sample_weight=sample_weight, multioutput=multioutput,
                     exact=exact, num_threads=num_threads, split_every=split_every, compute=compute)


@_document("Root mean squared error of Dask inputs (see :func:`l2loss.root_mean_squared_error`).",
           "float or ndarray of shape (n_outputs,)",
           "l2loss.dask.root_mean_squared_error(dy, dp, multioutput='raw_values').tolist()\n    [0.5, 1.0]",
           exact=True)
@sklearn_signature
def root_mean_squared_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None, exact: bool = False, split_every: int | None = None, compute: bool = True,
) -> Any:
    return _evaluate(_RMSE, y_true, y_pred, sample_weight=sample_weight, multioutput=multioutput,
                     exact=exact, num_threads=num_threads, split_every=split_every, compute=compute)


@_document("Mean absolute error of Dask inputs (see :func:`l2loss.mean_absolute_error`).",
           "float or ndarray of shape (n_outputs,)",
           "l2loss.dask.mean_absolute_error(dy, dp, sample_weight=np.arange(6.0))\n    0.75")
@sklearn_signature
def mean_absolute_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None, split_every: int | None = None, compute: bool = True,
) -> Any:
    return _evaluate(_MAE, y_true, y_pred, sample_weight=sample_weight, multioutput=multioutput,
                     num_threads=num_threads, split_every=split_every, compute=compute)


@_document("R^2 of Dask inputs, exact denominator (see :func:`l2loss.r2_score`).",
           "float or ndarray of shape (n_outputs,)",
           "mo = 'variance_weighted'; l2loss.dask.r2_score(dy, dp, multioutput=mo) == "
           "l2loss.r2_score(y, p, multioutput=mo)\n    True",
           weights="'raw_values', 'uniform_average', 'variance_weighted'", extra=_FORCE_FINITE)
@sklearn_signature
def r2_score(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    force_finite: bool = True, num_threads: int | None = None, split_every: int | None = None,
    compute: bool = True,
) -> Any:
    return _evaluate(_R2, y_true, y_pred, sample_weight=sample_weight, multioutput=multioutput,
                     force_finite=force_finite, num_threads=num_threads, split_every=split_every,
                     compute=compute)


@_document("Explained variance of Dask inputs (see :func:`l2loss.explained_variance_score`).",
           "float or ndarray of shape (n_outputs,)",
           "l2loss.dask.explained_variance_score(dy, dp) == l2loss.explained_variance_score(y, p)\n    True",
           weights="'raw_values', 'uniform_average', 'variance_weighted'", extra=_FORCE_FINITE)
@sklearn_signature
def explained_variance_score(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    force_finite: bool = True, num_threads: int | None = None, split_every: int | None = None,
    compute: bool = True,
) -> Any:
    return _evaluate(_EV, y_true, y_pred, sample_weight=sample_weight, multioutput=multioutput,
                     force_finite=force_finite, num_threads=num_threads, split_every=split_every,
                     compute=compute)


@_document("Largest absolute residual of Dask inputs (see :func:`l2loss.max_error`).", "float",
           "l2loss.dask.max_error(dy[:, 0], dp[:, 0])\n    0.5", weights=None)
@sklearn_signature
def max_error(
    y_true: Any, y_pred: Any, *, num_threads: int | None = None, split_every: int | None = None,
    compute: bool = True,
) -> float:
    return _evaluate(_MAX, y_true, y_pred, multioutput=None, num_threads=num_threads, split_every=split_every,
                     compute=compute)


@_document("Every metric of :func:`l2loss.regression_report` from one pass over Dask inputs.",
           "RegressionReport",
           "rep = l2loss.dask.regression_report(dy, dp); (rep.mse, rep.max_error, rep.n_samples)\n"
           "    (0.625, 1.0, 6)", exact=True)
@sklearn_signature
def regression_report(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None, exact: bool = False, split_every: int | None = None, compute: bool = True,
) -> RegressionReport:
    return _evaluate(_REPORT, y_true, y_pred, sample_weight=sample_weight, multioutput=multioutput,
                     exact=exact, num_threads=num_threads, split_every=split_every, compute=compute)


# ---- grouped evaluation ----------------------------------------------------------------------
#
# The same plan as the metrics above, with GroupedAccumulator as the state: each row block
# (y_true, y_pred, groups[, sample_weight]) becomes the serialised exact per-group states
# of its rows, the states are merged in Dask's tree (exact, any order), and the merged
# accumulator is finalised in the caller's process. No dataframe group-by, no shuffle.


def _grouped_block(*blocks: np.ndarray, weighted: bool, num_threads: int) -> np.ndarray:
    from ._grouped import GroupedAccumulator

    rows = {int(b.shape[0]) for b in blocks}
    if len(rows) > 1:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: {sorted(rows)}")
    acc = GroupedAccumulator(num_threads=num_threads)
    if rows != {0}:
        # Each block has the dtypes of the whole inputs, so the intake picks the same
        # working dtype as the in-memory call.
        acc.update(blocks[0], blocks[1], blocks[2], blocks[3] if weighted else None)
    out = np.empty((1,), dtype=object)
    out[0] = acc.to_bytes()
    return out


def _grouped_merge(blocks: Any, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    from ._grouped import GroupedAccumulator

    acc = GroupedAccumulator()
    for blob in _flatten(blocks):
        acc.merge(GroupedAccumulator.from_bytes(blob))  # type: ignore[arg-type]
    out = np.empty((1,) if keepdims else (), dtype=object)
    out[...] = None
    out.flat[0] = acc.to_bytes()
    return out


def _grouped_finalize(block: Any, multioutput: Any, key_name: str) -> Any:
    from ._grouped import GroupedAccumulator

    acc = GroupedAccumulator.from_bytes(np.asarray(block, dtype=object).flat[0])
    acc._key_name = key_name
    return acc.compute(multioutput=multioutput)


def grouped_report(
    y_true: Any, y_pred: Any, groups: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average",
    num_threads: int | None = None, split_every: int | None = None, compute: bool = True,
) -> Any:
    """:func:`l2loss.grouped_report` on Dask inputs, without a dataframe group-by.

    Every row block is reduced to the exact per-group states of its rows; the states are
    merged in a tree and finalised once, so the result has exactly the bits of
    :func:`l2loss.grouped_report` on the same data, whatever the chunking and the tree.
    Memory per task grows with the number of distinct keys in the merged blocks (about
    0.2 KB serialised and 10 KB in memory per group and output).

    Parameters
    ----------
    y_true, y_pred : dask Array, dask Series / DataFrame or array-like
        Shape (n_samples,) or (n_samples, n_outputs).
    groups : dask Array, dask Series or array-like of shape (n_samples,)
        The group key of every row (integers, strings, ...).
    sample_weight : array-like of shape (n_samples,), optional
        Sample weights.
    multioutput : {'raw_values', 'uniform_average'} or array-like, default 'uniform_average'
        How outputs are combined within each group.
    num_threads : int, optional
        Engine threads per Dask task (default ``DEFAULT_NUM_THREADS`` = 1).
    split_every : int, optional
        Fan-in of the merge tree (default: Dask's).
    compute : bool, default True
        False: return a ``dask.delayed.Delayed`` of the report.

    Returns
    -------
    GroupedReport
        Bitwise equal to ``l2loss.grouped_report`` on the same data.

    Examples
    --------
    >>> import dask.array as da, numpy as np, l2loss, l2loss.dask
    >>> y = np.arange(8.0); p = y + np.array([0.5, -1.0] * 4); g = np.array([3, 1] * 4)
    >>> rep = l2loss.dask.grouped_report(da.from_array(y, chunks=3), da.from_array(p, chunks=3),
    ...                                  da.from_array(g, chunks=3))
    >>> rep.keys.tolist(), rep.mse.tolist()
    ([1, 3], [1.0, 0.25])
    """
    from ._grouped import _key_name
    from ._grouped import grouped_report as _grouped_report

    inputs = (y_true, y_pred, groups, sample_weight)
    if not any(dask.is_dask_collection(x) for x in inputs):
        kwargs = dict(sample_weight=sample_weight, multioutput=multioutput, num_threads=num_threads)
        if compute:
            return _grouped_report(y_true, y_pred, groups, **kwargs)
        return dask.delayed(_grouped_report, pure=True)(y_true, y_pred, groups, **kwargs)
    validate_params("grouped_report", y_true, y_pred, sample_weight, multioutput, options=MULTIOUTPUT_OPTIONS)
    threads = DEFAULT_NUM_THREADS if num_threads is None else threads_arg(num_threads)
    arrays, lengths_known = _dask_inputs(y_true, y_pred, sample_weight)
    g = _as_dask_array(groups, arrays[0] if lengths_known else None)
    if g.ndim != 1:
        raise ValueError(f"groups must be 1-D with one key per sample, got shape {g.shape}")
    if _unknown_rows(g) and g.numblocks[0] != arrays[0].numblocks[0]:
        g = _with_chunk_sizes(g)
        arrays = [_with_chunk_sizes(x) for x in arrays]
        lengths_known = True
    if lengths_known and not _unknown_rows(g) and g.shape[0] != arrays[0].shape[0]:
        raise ValueError(
            f"groups must have one key per sample: got {g.shape[0]} keys for {arrays[0].shape[0]} samples"
        )
    for x in arrays[:2]:
        if x.ndim not in (1, 2):
            raise ValueError(f"y_true and y_pred must be 1-D or 2-D, got ndim={x.ndim}")
    arrays = [x.rechunk({1: -1}) if x.ndim == 2 and x.numblocks[1] > 1 else x for x in arrays]
    ordered = [arrays[0], arrays[1], g, *arrays[2:]]
    indices = ["ij" if x.ndim == 2 else "i" for x in ordered]
    args = [a for x, index in zip(ordered, indices) for a in (x, index)]
    parts = da.blockwise(
        functools.partial(_grouped_block, weighted=sample_weight is not None, num_threads=threads),
        "i", *args, token="l2loss-grouped-block", align_arrays=lengths_known, concatenate=True,
        adjust_chunks={"i": 1}, dtype=object, meta=np.empty((0,), dtype=object),
    )
    merged = da.reduction(
        parts, _keep, _grouped_merge, combine=_grouped_merge, axis=0, keepdims=False, concatenate=False,
        split_every=split_every, dtype=object, meta=np.empty((), dtype=object), name="l2loss-grouped-merge",
    )
    state = merged.to_delayed().flat[0]
    if compute:
        (block,) = dask.compute(state)
        return _grouped_finalize(block, multioutput, _key_name(groups))
    finalize = dask.delayed(_grouped_finalize, pure=True, name="l2loss-grouped")
    return finalize(state, multioutput, _key_name(groups))
