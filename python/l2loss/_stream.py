"""RegressionAccumulator: the engine's exact, mergeable state as a public streaming object.

Why chunking and merging cannot change a single bit: the state holds integer
superaccumulators of every sum a metric needs -- sum w*fl(d^2), sum w*|d|, the exact
sums w*d, w*y and w*y^2 (each split into a rounded part and its exact remainders),
sum w, the row count, max|d| and flags. Integer addition is associative and
commutative, so any chunking and any merge tree produce the same integers, and the
metrics are finalised from them by the same code as the one-shot functions. R^2's
denominator is (W*S_yy - S_y^2)/W evaluated exactly from those integers, so it keeps
the promise too (a two-pass "subtract the mean first" formula could not be streamed).

Threads: every read or write of an accumulator's fields happens under its own lock; the
kernels of an update run before the lock is taken (with the GIL released), so updates
from several threads still run in parallel. A merge never holds two locks at once (it
copies the other accumulator's state under the other's lock first), so ``a.merge(b)``
and ``b.merge(a)`` running together cannot deadlock.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from ._metrics import SUMS_ALL, run_pass, threads_arg
from ._report import RegressionReport, report_from_state
from ._validation import (
    MULTIOUTPUT_OPTIONS,
    _param_error,
    check_bool,
    check_multioutput,
    check_reg_targets,
    validate_params,
)

__all__ = ["RegressionAccumulator"]

_accumulate_intake = _core.accumulate_intake

_MAGIC = b"L2RA"
_VERSION = 1
# Working dtypes (sklearn's: the widest floating input dtype), by code. They are keyed by
# dtype.char so that byte order does not matter; "g" (long double) is what NumPy calls
# float128 on x86-64 Linux -- the one-shot functions return raw values in it, so the
# accumulator keeps it too.
_DTYPES: dict[int, np.dtype | None] = {
    0: None,
    1: np.dtype(np.float16),
    2: np.dtype(np.float32),
    3: np.dtype(np.float64),
    4: np.dtype(np.longdouble),
}
_DTYPE_CODES = {"e": 1, "f": 2, "d": 3, "g": 4}
_HEADER = struct.Struct("<4sBBBI")  # magic, version, dtype code, flags, n_outputs (0: not yet known)
_LENGTH = struct.Struct("<Q")  # byte length of the main state, which the exact state follows
_CRC = struct.Struct("<I")
# Inside a serialized ReduceResult (cpp/src/state.cpp): the flags byte (bit 0: weighted), the
# row and column counts, and the weight superaccumulator (sign, lowest digit, digit count,
# then 4-byte digits, the top one of 8 bytes).
_STATE_FLAGS, _STATE_SHAPE, _STATE_WEIGHT = 5, slice(16, 32), 32
_TOP_DIGIT = 66
_FLAG_NONZERO_WEIGHT, _FLAG_HAS_STATE, _FLAG_EXACT = 1, 2, 4

_METRIC_ALIASES = {
    "mean_squared_error": "mse",
    "root_mean_squared_error": "rmse",
    "mean_absolute_error": "mae",
    "r2_score": "r2",
    "explained_variance_score": "explained_variance",
}
_RESULT_NAMES = (*RegressionReport._METRICS, "n_samples", "weight_sum")


class _Unset:
    """Marks an argument that was not passed (``None`` is a value the validation rejects)."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


@dataclass
class _Part:
    """What one accumulator (or one batch) contributes to a merge; owned by the merge."""

    state: Any
    exact_state: Any
    dtype: np.dtype | None
    n_outputs: int | None
    nonzero_weight_seen: bool
    exact: bool


def _weight_field(state_bytes: memoryview) -> memoryview:
    """The encoded weight sum of a serialized ReduceResult (possibly cut short when truncated)."""
    head = bytes(state_bytes[_STATE_WEIGHT : _STATE_WEIGHT + 3])
    if len(head) < 3:
        return state_bytes[_STATE_WEIGHT:]
    lo, count = head[1], head[2]
    size = 3 + 4 * count + (4 if count and lo + count == _TOP_DIGIT + 1 else 0)
    return state_bytes[_STATE_WEIGHT : _STATE_WEIGHT + size]


def _resolve_targets(func: str, y_true: Any, y_pred: Any, preds: Any, target: Any) -> tuple[Any, Any]:
    """(y_true, y_pred) from sklearn's names/order or torchmetrics' keyword names, never a mix."""
    if preds is not _UNSET or target is not _UNSET:
        if y_true is not _UNSET or y_pred is not _UNSET:
            raise TypeError(
                f"{func}() got both sklearn-style (y_true, y_pred) and torchmetrics-style (preds=, target=) "
                "arguments; pass one pair only (preds is y_pred, target is y_true)"
            )
        for name, value in (("preds", preds), ("target", target)):
            if value is _UNSET:
                raise TypeError(f"{func}() missing required keyword argument: '{name}'")
        return target, preds
    for name, value in (("y_true", y_true), ("y_pred", y_pred)):
        if value is _UNSET:
            raise TypeError(f"{func}() missing required argument: '{name}'")
    return y_true, y_pred


def _finalise(
    part: _Part, multioutput: Any, func: str, *, warn_r2_undefined: bool = True
) -> RegressionReport:
    """The report of a state: validates ``multioutput`` and the weight sum first."""
    ok = (isinstance(multioutput, str) and multioutput in MULTIOUTPUT_OPTIONS) or (
        not isinstance(multioutput, str) and multioutput is not None and np.ndim(multioutput) >= 1
    )
    if not ok:
        raise _param_error(
            "multioutput", func, "a str among {'raw_values', 'uniform_average'} or an array-like", multioutput
        )
    state = part.state
    if state is None or state.n_rows == 0:
        raise ValueError("RegressionAccumulator has no data: call update() before compute()")
    mo = check_multioutput(multioutput, int(part.n_outputs or 1))
    if state.weighted and state.weight_sum_is_zero():
        if not part.nonzero_weight_seen:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    assert part.dtype is not None
    return report_from_state(state, mo, part.dtype, part.exact_state, warn_r2_undefined=warn_r2_undefined)


class RegressionAccumulator:
    """Exact, mergeable streaming state for every metric of :func:`l2loss.regression_report`.

    Feed batches with :meth:`update` (any sizes, any number of calls), combine states
    built elsewhere with :meth:`merge`, :meth:`merge_state` or ``+``, and read the metrics
    with :meth:`compute` (or :meth:`result`). The result has exactly the bits the one-shot
    functions give on the concatenated data, whatever the chunking or the order of merges.

    **Argument order.** Positional arguments follow scikit-learn and Keras:
    ``update(y_true, y_pred, sample_weight)`` -- the *opposite* of torchmetrics'
    ``update(preds, target)``. torchmetrics code can keep its habit by naming the
    arguments: ``update(preds=p, target=t)`` (``preds`` is ``y_pred``, ``target`` is
    ``y_true``); a call that mixes the two conventions raises TypeError. Metrics such as
    R^2 are not symmetric, so a swapped pair gives a wrong number, not an error.

    Habits of other libraries that work here: torchmetrics' ``forward`` / ``__call__``
    (update, and return the report of that batch alone), ``merge_state`` and ``reset``;
    Keras' ``update_state``, ``result`` and ``reset_state``.

    **Threads.** One accumulator may be updated, merged, read, copied, pickled and
    serialised from several Python threads at once: every change is committed under a
    per-accumulator lock, no batch is lost, and -- since merging is exact -- the final
    state has the same bits whatever the interleaving. The kernels run before the lock is
    taken, with the GIL released, so concurrent updates run in parallel. What is *not*
    safe: changing an input array while an update that reads it is running (the kernel
    reads it without the GIL); and what a :meth:`compute` or :meth:`reset` running
    alongside updates sees is whichever batches happen to be committed by then.

    Parameters
    ----------
    n_outputs : int, optional
        Number of output columns; fixed by the first update when omitted.
    exact : bool, default False
        Also keep the exact sum of exact squares, so that ``mse``/``rmse`` are those of
        ``mean_squared_error(..., exact=True)``. Exact states merge only with exact states.
    num_threads : int, optional
        Threads for each update (default: :func:`l2loss.get_num_threads`).

    Examples
    --------
    >>> import numpy as np, l2loss
    >>> y, p = np.arange(10.0), np.arange(10.0) + 0.5
    >>> acc = l2loss.RegressionAccumulator()
    >>> for i in range(0, 10, 3):
    ...     _ = acc.update(y[i:i + 3], p[i:i + 3])
    >>> acc.compute().mse == l2loss.mean_squared_error(y, p)
    True
    >>> acc.result("mse")
    0.25

    torchmetrics' keyword names, with their meaning:

    >>> acc2 = l2loss.RegressionAccumulator().update(preds=p, target=y)
    >>> acc2 == acc
    True
    """

    def __init__(
        self, n_outputs: int | None = None, *, exact: bool = False, num_threads: int | None = None
    ) -> None:
        if n_outputs is not None and (
            isinstance(n_outputs, bool) or not isinstance(n_outputs, (int, np.integer)) or n_outputs < 1
        ):
            raise ValueError(f"n_outputs must be a positive integer or None, got {n_outputs!r}")
        threads_arg(num_threads)  # validate early
        check_bool("exact", exact)
        self._lock = threading.Lock()
        self._exact = bool(exact)
        self._num_threads = num_threads
        self._n_outputs_init = None if n_outputs is None else int(n_outputs)
        self._clear()

    def _clear(self) -> None:
        """Forget all data (the caller holds the lock, or the object is not shared yet)."""
        self._n_outputs = self._n_outputs_init
        self._state: Any = None
        self._exact_state: Any = None
        self._dtype: np.dtype | None = None
        self._nonzero_weight_seen = False

    # ---- feeding -----------------------------------------------------------------------

    def _batch(self, func: str, y_true: Any, y_pred: Any, sample_weight: Any) -> _Part:
        """The state of one batch (validated like sklearn's metrics); runs without the lock."""
        validate_params(func, y_true, y_pred, sample_weight, options=None)
        t = check_reg_targets(y_true, y_pred, sample_weight, "uniform_average")
        known = self._n_outputs  # an early check only: _absorb checks again under the lock
        if known is not None and t.n_outputs != known:
            raise ValueError(
                f"y_true and y_pred have {t.n_outputs} output(s) but this accumulator has {known}"
            )
        batch = run_pass(t, SUMS_ALL, self._num_threads, check_weight_sum=False)
        exact_batch = None
        if self._exact:
            exact_batch = run_pass(t, _core.SUM_SQ_EXACT, self._num_threads, check_weight_sum=False)
        nonzero = (
            t.sample_weight is None or not batch.weight_sum_is_zero() or bool(np.any(t.sample_weight != 0))
        )
        dtype = np.dtype(t.dtype.char)  # native byte order
        if dtype.char not in _DTYPE_CODES:  # pragma: no cover - check_reg_targets gives float dtypes only
            raise TypeError(f"unsupported working dtype {dtype} for y_true / y_pred")
        return _Part(batch, exact_batch, dtype, t.n_outputs, nonzero, self._exact)

    def _snapshot(self) -> _Part:
        """A copy of this accumulator's contribution, taken under its lock."""
        with self._lock:
            return _Part(
                None if self._state is None else self._state.copy(),
                None if self._exact_state is None else self._exact_state.copy(),
                self._dtype,
                self._n_outputs,
                self._nonzero_weight_seen,
                self._exact,
            )

    def _absorb(self, parts: list[_Part], *, from_update: bool = False) -> None:
        """Merge parts (owned by the caller, never shared) into this accumulator, all or nothing."""
        with self._lock:
            n_outputs = self._n_outputs
            for part in parts:
                if part.exact != self._exact:
                    raise ValueError(
                        "cannot merge an exact=True accumulator with an exact=False one "
                        "(their square sums differ)"
                    )
                if part.n_outputs is not None and n_outputs is not None and part.n_outputs != n_outputs:
                    if from_update:
                        raise ValueError(
                            f"y_true and y_pred have {part.n_outputs} output(s) "
                            f"but this accumulator has {n_outputs}"
                        )
                    raise ValueError(
                        f"cannot merge accumulators with {n_outputs} and {part.n_outputs} outputs"
                    )
                n_outputs = part.n_outputs if n_outputs is None else n_outputs
            state, exact_state = self._state, self._exact_state
            with_data = [part for part in parts if part.state is not None]
            # ReduceResult.merge is atomic, so a single merge into a lone state can be in place;
            # anything more (two states, or several parts) is merged into copies first, so
            # that a failure in the last merge leaves this accumulator untouched.
            in_place = len(with_data) == 1 and exact_state is None
            owned = False
            for part in with_data:
                if state is None:
                    state, exact_state, owned = part.state, part.exact_state, True
                    continue
                if not (in_place or owned):
                    state = state.copy()
                    exact_state = None if exact_state is None else exact_state.copy()
                    owned = True
                state.merge(part.state)
                if exact_state is not None:
                    exact_state.merge(part.exact_state)
            dtype = self._dtype
            for part in parts:
                if part.dtype is not None:
                    dtype = part.dtype if dtype is None else np.dtype(np.result_type(dtype, part.dtype).char)
            # Commit: nothing below can raise.
            self._state, self._exact_state, self._dtype = state, exact_state, dtype
            self._n_outputs = n_outputs
            self._nonzero_weight_seen = self._nonzero_weight_seen or any(p.nonzero_weight_seen for p in parts)

    def update(
        self,
        y_true: Any = _UNSET,
        y_pred: Any = _UNSET,
        sample_weight: Any = None,
        *,
        preds: Any = _UNSET,
        target: Any = _UNSET,
    ) -> RegressionAccumulator:
        """Add a batch of rows.

        The batch is validated like scikit-learn's metrics validate their inputs; on any
        error the accumulator is unchanged.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Ground truth (sklearn order: first).
        y_pred : array-like of the same shape
            Predictions.
        sample_weight : array-like of shape (n_samples,), optional
            One weight per row.
        preds, target : array-like, keyword-only
            torchmetrics' names: ``preds`` is ``y_pred`` and ``target`` is ``y_true``.
            Give both, and neither of ``y_true`` / ``y_pred``.

        Returns
        -------
        RegressionAccumulator
            ``self``, so that calls can be chained.

        Raises
        ------
        TypeError
            When the two naming conventions are mixed, or an argument is missing.
        ValueError
            Bad input (sklearn's messages), or a number of outputs other than this
            accumulator's.

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.RegressionAccumulator()
        >>> acc.update([3, -0.5], [2.5, 0.0]).update([2, 7], [2, 8]).result("mse")
        0.375
        >>> acc.update(preds=[1.0], target=[1.0]).n_samples
        5
        """
        if preds is _UNSET and target is _UNSET and not self._exact:
            # The fast intake (cpp/src/fast_intake.cpp): a clean batch's state in one call,
            # committed as _absorb would commit it; None (or another output count) means
            # the general path below, which validates, raises and warns as sklearn does.
            batch = _accumulate_intake(y_true, y_pred, sample_weight, self._num_threads)
            if batch is not None:
                state, dtype, n_outputs = batch
                with self._lock:
                    if self._n_outputs is None or self._n_outputs == n_outputs:
                        if self._state is None:
                            self._state = state
                        else:
                            self._state.merge(state)  # atomic: on error nothing has changed
                        if self._dtype is not dtype:
                            self._dtype = dtype if self._dtype is None else np.dtype(
                                np.result_type(self._dtype, dtype).char
                            )
                        self._n_outputs = n_outputs
                        self._nonzero_weight_seen = True  # the intake declines zero weight sums
                        return self
        y_true, y_pred = _resolve_targets("update", y_true, y_pred, preds, target)
        self._absorb(
            [self._batch("RegressionAccumulator.update", y_true, y_pred, sample_weight)], from_update=True
        )
        return self

    def forward(
        self,
        y_true: Any = _UNSET,
        y_pred: Any = _UNSET,
        sample_weight: Any = None,
        *,
        preds: Any = _UNSET,
        target: Any = _UNSET,
        multioutput: Any = "uniform_average",
    ) -> RegressionReport:
        """Add a batch and return the report of that batch alone (torchmetrics' ``forward``).

        The accumulated state grows exactly as with :meth:`update`; the returned report
        is :func:`l2loss.regression_report` of the batch. If the batch's report cannot be
        computed (e.g. all its weights are zero), the error is raised and the
        accumulator is unchanged.

        Parameters
        ----------
        y_true, y_pred, sample_weight, preds, target
            As for :meth:`update` (positional order: ``y_true``, ``y_pred``).
        multioutput : {"uniform_average", "raw_values"} or array-like, keyword-only
            How the batch's report combines outputs.

        Returns
        -------
        RegressionReport
            The metrics of this batch only.

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.RegressionAccumulator()
        >>> acc.forward([0.0, 0.0], [1.0, 1.0]).mse
        1.0
        >>> acc.forward([0.0, 0.0], [3.0, 3.0]).mse
        9.0
        >>> acc.result("mse")
        5.0
        """
        y_true, y_pred = _resolve_targets("forward", y_true, y_pred, preds, target)
        part = self._batch("RegressionAccumulator.forward", y_true, y_pred, sample_weight)
        # The batch report first: it may raise, and _absorb may adopt part.state as the state.
        report = _finalise(part, multioutput, "RegressionAccumulator.forward")
        self._absorb([part], from_update=True)
        return report

    def __call__(
        self,
        y_true: Any = _UNSET,
        y_pred: Any = _UNSET,
        sample_weight: Any = None,
        *,
        preds: Any = _UNSET,
        target: Any = _UNSET,
        multioutput: Any = "uniform_average",
    ) -> RegressionReport:
        """Same as :meth:`forward`: add a batch and return the report of that batch alone.

        Parameters
        ----------
        y_true, y_pred, sample_weight, preds, target, multioutput
            As for :meth:`forward`.

        Returns
        -------
        RegressionReport
            The metrics of this batch only.

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.RegressionAccumulator()
        >>> acc(preds=[2.0, 4.0], target=[1.0, 1.0]).mae
        2.0
        >>> acc.n_samples
        2
        """
        return self.forward(
            y_true, y_pred, sample_weight, preds=preds, target=target, multioutput=multioutput
        )

    def merge(self, other: RegressionAccumulator) -> RegressionAccumulator:
        """Add another accumulator's state to this one (exact; any merge order).

        Parameters
        ----------
        other : RegressionAccumulator
            Left unchanged. It may be ``self`` (the data then counts twice).

        Returns
        -------
        RegressionAccumulator
            ``self``.

        Raises
        ------
        TypeError
            ``other`` is not a RegressionAccumulator.
        ValueError
            The numbers of outputs or the ``exact`` settings differ; or the merged sums
            would leave the representable range. This accumulator is then unchanged.

        Examples
        --------
        >>> import l2loss
        >>> a = l2loss.RegressionAccumulator().update([0.0], [1.0])
        >>> b = l2loss.RegressionAccumulator().update([0.0], [3.0])
        >>> a.merge(b).result("mse")
        5.0
        """
        if not isinstance(other, RegressionAccumulator):
            raise TypeError(f"can only merge a RegressionAccumulator, got {type(other).__name__}")
        self._absorb([other._snapshot()])
        return self

    def merge_state(
        self, others: RegressionAccumulator | Iterable[RegressionAccumulator]
    ) -> RegressionAccumulator:
        """Merge several accumulators into this one, all or nothing (torchmetrics' name).

        Parameters
        ----------
        others : RegressionAccumulator or iterable of RegressionAccumulator
            Left unchanged.

        Returns
        -------
        RegressionAccumulator
            ``self``.

        Raises
        ------
        TypeError
            ``others`` is not an accumulator or an iterable of accumulators.
        ValueError
            As for :meth:`merge`; this accumulator is then unchanged.

        Examples
        --------
        >>> import l2loss
        >>> parts = [l2loss.RegressionAccumulator().update([0.0], [float(k)]) for k in (1, 2, 3)]
        >>> l2loss.RegressionAccumulator().merge_state(parts).result("mse") == (1 + 4 + 9) / 3
        True
        """
        if isinstance(others, RegressionAccumulator):
            items: list[Any] = [others]
        elif isinstance(others, (str, bytes, bytearray, dict)) or not isinstance(others, Iterable):
            raise TypeError(
                "merge_state expects a RegressionAccumulator or an iterable of them, "
                f"got {type(others).__name__}"
            )
        else:
            items = list(others)
        for item in items:
            if not isinstance(item, RegressionAccumulator):
                raise TypeError(
                    f"merge_state can only merge RegressionAccumulator objects, got {type(item).__name__}"
                )
        self._absorb([item._snapshot() for item in items])
        return self

    def __add__(self, other: RegressionAccumulator) -> RegressionAccumulator:
        """A new accumulator holding both states (neither operand changes).

        Parameters
        ----------
        other : RegressionAccumulator

        Returns
        -------
        RegressionAccumulator

        Examples
        --------
        >>> import l2loss
        >>> a = l2loss.RegressionAccumulator().update([0.0], [1.0])
        >>> (a + a).n_samples, a.n_samples
        (2, 1)
        """
        if not isinstance(other, RegressionAccumulator):
            return NotImplemented
        return self.copy().merge(other)

    def __iadd__(self, other: RegressionAccumulator) -> RegressionAccumulator:
        """``self += other`` is :meth:`merge`.

        Parameters
        ----------
        other : RegressionAccumulator

        Returns
        -------
        RegressionAccumulator
            ``self``.

        Examples
        --------
        >>> import l2loss
        >>> a = l2loss.RegressionAccumulator().update([0.0], [1.0])
        >>> a += l2loss.RegressionAccumulator().update([0.0], [3.0])
        >>> a.n_samples
        2
        """
        return self.merge(other)

    def reset(self) -> RegressionAccumulator:
        """Forget all data (the number of outputs given at construction is kept).

        Returns
        -------
        RegressionAccumulator
            ``self``, so that ``acc.reset().update(...)`` works.

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.RegressionAccumulator().update([0.0], [1.0])
        >>> acc.reset().n_samples
        0
        """
        with self._lock:
            self._clear()
        return self

    def copy(self) -> RegressionAccumulator:
        """An independent accumulator with the same state.

        Returns
        -------
        RegressionAccumulator

        Examples
        --------
        >>> import l2loss
        >>> a = l2loss.RegressionAccumulator().update([0.0], [1.0])
        >>> b = a.copy()
        >>> b == a, b is a
        (True, False)
        """
        return RegressionAccumulator.from_bytes(self.to_bytes(), num_threads=self._num_threads)

    @property
    def exact(self) -> bool:
        """Whether the exact sum of exact squares is kept (``exact=True``).

        Examples
        --------
        >>> import l2loss
        >>> l2loss.RegressionAccumulator(exact=True).exact
        True
        """
        return self._exact

    # ---- reading -----------------------------------------------------------------------

    @property
    def n_outputs(self) -> int | None:
        """Number of output columns (None until given or fixed by the first update).

        Examples
        --------
        >>> import l2loss
        >>> l2loss.RegressionAccumulator().update([[0.0, 1.0]], [[0.0, 2.0]]).n_outputs
        2
        """
        with self._lock:
            return self._n_outputs

    @property
    def n_samples(self) -> int:
        """Number of rows added so far.

        Examples
        --------
        >>> import l2loss
        >>> l2loss.RegressionAccumulator().update([1.0, 2.0], [1.0, 2.0]).n_samples
        2
        """
        with self._lock:
            return 0 if self._state is None else int(self._state.n_rows)

    @property
    def weight_sum(self) -> float:
        """Sum of the sample weights so far (the row count when unweighted), rounded to a float.

        Examples
        --------
        >>> import l2loss
        >>> l2loss.RegressionAccumulator().update([1.0, 2.0], [1.0, 2.0], [0.5, 2.0]).weight_sum
        2.5
        """
        with self._lock:
            return 0.0 if self._state is None else float(self._state.weight_sum())

    def compute(self, multioutput: Any = "uniform_average") -> RegressionReport:
        """Every metric of :func:`l2loss.regression_report` from the state.

        Parameters
        ----------
        multioutput : {"uniform_average", "raw_values"} or array-like, default "uniform_average"
            As in scikit-learn.

        Returns
        -------
        RegressionReport
            Fields are Python floats (ndarrays with ``"raw_values"``), bit for bit those
            of :func:`l2loss.regression_report` on all the data added.

        Raises
        ------
        ValueError
            No data yet; a bad ``multioutput``; all weights zero.
        ZeroDivisionError
            Non-zero weights that sum to exactly zero (as scikit-learn).

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.RegressionAccumulator().update([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
        >>> report = acc.compute()
        >>> report.mse, report.mae
        (0.375, 0.5)
        """
        return self._compute(multioutput, warn_r2_undefined=True)

    def _compute(self, multioutput: Any, *, warn_r2_undefined: bool) -> RegressionReport:
        with self._lock:
            part = _Part(
                self._state,
                self._exact_state,
                self._dtype,
                self._n_outputs,
                self._nonzero_weight_seen,
                self._exact,
            )
            return _finalise(
                part, multioutput, "RegressionAccumulator.compute", warn_r2_undefined=warn_r2_undefined
            )

    def report(self, multioutput: Any = "uniform_average") -> RegressionReport:
        """Alias of :meth:`compute`.

        Parameters
        ----------
        multioutput : {"uniform_average", "raw_values"} or array-like, default "uniform_average"

        Returns
        -------
        RegressionReport

        Examples
        --------
        >>> import l2loss
        >>> l2loss.RegressionAccumulator().update([0.0, 0.0], [2.0, 2.0]).report().rmse
        2.0
        """
        return self.compute(multioutput)

    # Keras-style names.
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> RegressionAccumulator:
        """Keras' name for :meth:`update` (same argument order: ``y_true, y_pred``).

        Parameters
        ----------
        y_true, y_pred, sample_weight
            As for :meth:`update`.

        Returns
        -------
        RegressionAccumulator
            ``self``.

        Examples
        --------
        >>> import l2loss
        >>> l2loss.RegressionAccumulator().update_state([0.0], [2.0]).result("mse")
        4.0
        """
        return self.update(y_true, y_pred, sample_weight)

    def result(self, metric: str | None = None, multioutput: Any = "uniform_average") -> Any:
        """One metric, or the whole report (Keras' name for :meth:`compute`).

        Parameters
        ----------
        metric : str, optional
            A field of :class:`l2loss.RegressionReport` -- ``"mse"``, ``"rmse"``, ``"mae"``,
            ``"r2"``, ``"explained_variance"``, ``"max_error"``, ``"mean_error"``,
            ``"n_samples"``, ``"weight_sum"`` -- or the name of the matching l2loss /
            scikit-learn function (``"mean_squared_error"``, ``"r2_score"``, ...).
            Omitted: the whole report.
        multioutput : {"uniform_average", "raw_values"} or array-like, default "uniform_average"

        Returns
        -------
        float, ndarray or RegressionReport
            The metric as a Python float (an ndarray of shape (n_outputs,) with
            ``multioutput="raw_values"``), or the report when ``metric`` is omitted.

        Raises
        ------
        ValueError
            Unknown metric name, or as for :meth:`compute`.

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.RegressionAccumulator().update([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
        >>> acc.result("mse"), acc.result("mean_absolute_error")
        (0.375, 0.5)
        >>> acc.result().mse
        0.375
        """
        if metric is None:
            return self.compute(multioutput)
        if not isinstance(metric, str):
            raise TypeError(f"metric must be a str or None, got {type(metric).__name__}")
        name = _METRIC_ALIASES.get(metric, metric)
        if name not in _RESULT_NAMES:
            hint = " (pass it as multioutput=...)" if metric in MULTIOUTPUT_OPTIONS else ""
            raise ValueError(
                f"unknown metric {metric!r}{hint}; expected one of {', '.join(_RESULT_NAMES)} "
                f"or {', '.join(_METRIC_ALIASES)}"
            )
        # A single row makes R^2 undefined (nan, with sklearn's warning); asking for
        # another metric must not warn about R^2.
        return getattr(self._compute(multioutput, warn_r2_undefined=name == "r2"), name)

    def reset_state(self) -> None:
        """Keras' name for :meth:`reset` (returns None, like Keras).

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.RegressionAccumulator().update([0.0], [1.0])
        >>> acc.reset_state()
        >>> acc.n_samples
        0
        """
        self.reset()

    # ---- serialisation -------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A compact, versioned, checksummed encoding (equal states give equal bytes).

        Returns
        -------
        bytes
            Readable by :meth:`from_bytes` (and by the CLI and the Dask integration).

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.RegressionAccumulator().update([0.0], [1.0])
        >>> l2loss.RegressionAccumulator.from_bytes(acc.to_bytes()) == acc
        True
        """
        with self._lock:
            flags = (
                (_FLAG_NONZERO_WEIGHT if self._nonzero_weight_seen else 0)
                | (_FLAG_HAS_STATE if self._state is not None else 0)
                | (_FLAG_EXACT if self._exact else 0)
            )
            code = 0 if self._dtype is None else _DTYPE_CODES[self._dtype.char]
            body = _HEADER.pack(_MAGIC, _VERSION, code, flags, self._n_outputs or 0)
            if self._state is not None:
                main = self._state.to_bytes()
                body += _LENGTH.pack(len(main)) + main
                if self._exact_state is not None:
                    body += self._exact_state.to_bytes()
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, num_threads: int | None = None
    ) -> RegressionAccumulator:
        """Rebuild an accumulator from :meth:`to_bytes`.

        Only what :meth:`to_bytes` can write is accepted, so ``from_bytes(b).to_bytes() == b``
        for every accepted ``b``. The declared sizes are checked against the length of
        ``data`` before anything is decoded, and the decoder validates a state fully
        before allocating it: a malformed blob costs memory of the order of its own size.

        Parameters
        ----------
        data : bytes, bytearray or memoryview
        num_threads : int, optional
            For later updates of the rebuilt accumulator.

        Returns
        -------
        RegressionAccumulator

        Raises
        ------
        TypeError
            ``data`` is not bytes-like.
        ValueError
            Anything :meth:`to_bytes` could not have written (wrong magic, version,
            checksum, sizes or fields; parts that do not agree with each other).

        Examples
        --------
        >>> import l2loss
        >>> blob = l2loss.RegressionAccumulator().update([0.0], [1.0]).to_bytes()
        >>> l2loss.RegressionAccumulator.from_bytes(blob).n_samples
        1
        >>> l2loss.RegressionAccumulator.from_bytes(blob[:-1])
        Traceback (most recent call last):
        ...
        ValueError: corrupted RegressionAccumulator bytes (checksum mismatch)
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"from_bytes expects bytes, got {type(data).__name__}")
        try:
            view = memoryview(data).cast("B")  # no copy
        except TypeError:  # a non-contiguous memoryview
            view = memoryview(bytes(data))
        if len(view) < _HEADER.size + _CRC.size or bytes(view[:4]) != _MAGIC:
            raise ValueError("not a serialized RegressionAccumulator")
        body = view[: -_CRC.size]
        (crc,) = _CRC.unpack_from(view, len(body))
        if zlib.crc32(body) != crc:
            raise ValueError("corrupted RegressionAccumulator bytes (checksum mismatch)")
        _, version, dtype_code, flags, n_outputs = _HEADER.unpack_from(body)
        if version != _VERSION:
            raise ValueError(f"unsupported RegressionAccumulator format version {version}")
        if dtype_code not in _DTYPES or flags & ~(_FLAG_NONZERO_WEIGHT | _FLAG_HAS_STATE | _FLAG_EXACT):
            raise ValueError("corrupted RegressionAccumulator bytes (bad header)")
        exact, has_state = bool(flags & _FLAG_EXACT), bool(flags & _FLAG_HAS_STATE)
        nonzero_weight_seen = bool(flags & _FLAG_NONZERO_WEIGHT)
        acc = cls(n_outputs or None, exact=exact, num_threads=num_threads)
        if not has_state:
            if len(body) != _HEADER.size:
                raise ValueError("corrupted RegressionAccumulator bytes (trailing data)")
            if dtype_code or nonzero_weight_seen:
                raise ValueError("corrupted RegressionAccumulator bytes (data flags without data)")
            return acc
        if not dtype_code or not n_outputs:
            raise ValueError("corrupted RegressionAccumulator bytes (state does not match header)")
        start = _HEADER.size + _LENGTH.size
        if len(body) < start:
            raise ValueError("corrupted RegressionAccumulator bytes (truncated)")
        (size,) = _LENGTH.unpack_from(body, _HEADER.size)
        available = len(body) - start
        # The main state fills the body; an exact state follows it and must not be empty.
        if size > available or (size == available) == exact:
            raise ValueError(
                f"corrupted RegressionAccumulator bytes (main state length {size} does not fit the "
                f"{available} bytes that follow it)"
            )
        main, tail = body[start : start + size], body[start + size :]
        if exact:
            # Both states are built from the same rows by the same update() and merge()
            # calls: their weighted flags, shapes and weight sums agree byte for byte.
            # Checked on the raw bytes, before either state is decoded.
            if (
                len(tail) <= _STATE_WEIGHT
                or len(main) <= _STATE_WEIGHT
                or (main[_STATE_FLAGS] ^ tail[_STATE_FLAGS]) & 1
                or main[_STATE_SHAPE] != tail[_STATE_SHAPE]
                or _weight_field(main) != _weight_field(tail)
            ):
                raise ValueError(
                    "corrupted RegressionAccumulator bytes "
                    "(the exact state's rows or weights differ from the main state's)"
                )
        state = _core.ReduceResult.from_bytes(bytes(main))
        if state.sums != SUMS_ALL or state.n_cols != n_outputs or state.n_rows < 1:
            raise ValueError("corrupted RegressionAccumulator bytes (state does not match header)")
        # An unweighted state (every batch unweighted) has seen a non-zero weight; a state
        # that never saw one has an exactly zero weight sum.
        if not nonzero_weight_seen and (not state.weighted or not state.weight_sum_is_zero()):
            raise ValueError("corrupted RegressionAccumulator bytes (weight flags do not match the state)")
        exact_state = None
        if exact:
            exact_state = _core.ReduceResult.from_bytes(bytes(tail))
            if exact_state.sums != _core.SUM_SQ_EXACT:
                raise ValueError("corrupted RegressionAccumulator bytes (exact state does not match)")
        acc._state, acc._exact_state = state, exact_state
        acc._dtype, acc._nonzero_weight_seen = _DTYPES[dtype_code], nonzero_weight_seen
        return acc

    def __getstate__(self) -> dict[str, Any]:
        """Pickle support: the :meth:`to_bytes` encoding (the lock is not pickled).

        Returns
        -------
        dict

        Examples
        --------
        >>> import pickle, l2loss
        >>> acc = l2loss.RegressionAccumulator().update([0.0], [1.0])
        >>> pickle.loads(pickle.dumps(acc)) == acc
        True
        """
        return {"bytes": self.to_bytes(), "num_threads": self._num_threads}

    def __setstate__(self, d: dict[str, Any]) -> None:
        """Pickle support: rebuild from :meth:`__getstate__`'s dict (validated by :meth:`from_bytes`).

        Parameters
        ----------
        d : dict

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.RegressionAccumulator.__new__(l2loss.RegressionAccumulator)
        >>> acc.__setstate__({"bytes": l2loss.RegressionAccumulator(2).to_bytes()})
        >>> acc.n_outputs
        2
        """
        other = RegressionAccumulator.from_bytes(d["bytes"], num_threads=d.get("num_threads"))
        self.__dict__.update(other.__dict__)

    def __eq__(self, other: object) -> bool:
        """Equal states (the same bytes), whatever the chunking or merge order that built them.

        Parameters
        ----------
        other : object

        Returns
        -------
        bool

        Examples
        --------
        >>> import l2loss
        >>> a = l2loss.RegressionAccumulator().update([0.0, 1.0], [1.0, 1.0])
        >>> b = l2loss.RegressionAccumulator().update([1.0], [1.0]).update([0.0], [1.0])
        >>> a == b
        True
        """
        if not isinstance(other, RegressionAccumulator):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        """Short summary: outputs, rows and weight sum.

        Returns
        -------
        str

        Examples
        --------
        >>> import l2loss
        >>> l2loss.RegressionAccumulator().update([0.0], [1.0])
        RegressionAccumulator(n_outputs=1, n_samples=1, weight_sum=1)
        """
        return (
            f"RegressionAccumulator(n_outputs={self.n_outputs}, n_samples={self.n_samples}, "
            f"weight_sum={self.weight_sum:.6g})"
        )
