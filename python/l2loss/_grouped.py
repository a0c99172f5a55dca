"""grouped_report: every field of the regression report per group, in one pass.

The engine (cpp/src/grouped.cpp) buckets the rows by integer group code with a counting
sort and runs, per group, the very pass :func:`l2loss.regression_report` runs, so each
group's numbers are a report on that group's rows alone -- bit for bit, whatever the
row order, the thread count or (for :class:`GroupedAccumulator`) the batching.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import _core
from ._metrics import UndefinedMetricWarning, threads_arg
from ._report import RegressionReport
from ._validation import (
    MULTIOUTPUT_OPTIONS,
    check_multioutput,
    check_reg_targets,
    sklearn_compatible,
    user_stacklevel,
    validate_params,
)

if TYPE_CHECKING:
    from ._metrics import ArrayLike, OutputWeights, Threads

__all__ = ["GroupedAccumulator", "GroupedReport", "grouped_report"]

_METRICS = ("mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error")
# Integer keys spanning at most this many codes per row are bucketed directly (no sort).
_DIRECT_SPAN_PER_ROW = 2
_DIRECT_SPAN_MIN = 1 << 16


# ---- factorising the group keys ---------------------------------------------------------


def _to_numpy_keys(groups: Any) -> Any:
    """pandas/polars/pyarrow columns and array-likes as a 1-D NumPy array (or a pandas
    object, which pandas factorises faster and by its own category order)."""
    module = type(groups).__module__.split(".")[0]
    if module == "pandas":
        return groups
    if module == "polars":
        return groups.to_numpy()
    if module == "pyarrow":
        return groups.to_numpy(zero_copy_only=False)
    return np.asarray(groups)


def _missing_error() -> ValueError:
    return ValueError("groups must not contain missing values (NaN or None)")


def factorize_groups(groups: Any, n_samples: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(keys, codes, code_lo, n_codes)``: ``codes - code_lo`` indexes ``keys`` for every
    row, in ``[0, n_codes)``; ``keys`` is sorted. For integer groups whose range is small,
    ``keys`` is ``code_lo + arange(n_codes)`` (absent codes are dropped by the engine)."""
    g = _to_numpy_keys(groups)
    shape = getattr(g, "shape", None)
    if shape is None or len(shape) != 1:
        raise ValueError(f"groups must be 1-D with one key per sample, got shape {shape}")
    if shape[0] != n_samples:
        raise ValueError(
            f"groups must have one key per sample: got {shape[0]} keys for {n_samples} samples"
        )
    if isinstance(g, np.ndarray) and g.dtype.kind in "iu" and n_samples > 0:
        lo, hi = int(g.min()), int(g.max())
        span = hi - lo + 1
        if span <= max(_DIRECT_SPAN_PER_ROW * n_samples, _DIRECT_SPAN_MIN) and hi < 2**63:
            # Small range: the engine buckets the codes directly (no sort, no hashing).
            native = g.dtype.isnative and g.dtype.type in (np.int32, np.int64)
            codes = g if native else g.astype(np.int64)
            keys = (np.arange(span, dtype=np.int64) + lo).astype(g.dtype, copy=False)
            return keys, codes, lo, span
    try:
        import pandas as pd  # optional: hash-based factorize, much faster than a sort
    except ImportError:  # pragma: no cover - pandas is installed with the test extra
        pd = None
    if pd is not None:
        codes, uniques = pd.factorize(g, sort=True, use_na_sentinel=True)
        if n_samples and codes.min() < 0:
            raise _missing_error()
        keys = np.asarray(uniques)
    else:  # pragma: no cover
        arr = np.asarray(g)
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise _missing_error()
        try:
            keys, codes = np.unique(arr, return_inverse=True)
        except TypeError as exc:
            raise TypeError(f"groups must be sortable keys (numbers or strings): {exc}") from None
    codes = np.ascontiguousarray(codes, dtype=np.int64 if len(keys) > 2**31 - 2 else np.int32)
    return keys, codes, 0, max(len(keys), 1)


# ---- the result -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GroupedReport:
    """Per-group regression reports, as columns (one entry per group, sorted by key).

    Each field is an array with one entry per group (shape ``(n_groups, n_outputs)`` for
    ``multioutput="raw_values"``); entry ``i`` equals the matching field of
    :func:`l2loss.regression_report` on the rows whose key is ``keys[i]``.

    Parameters
    ----------
    keys : ndarray of shape (n_groups,)
        The group keys, sorted.
    n_samples : ndarray of int64
        Rows per group.
    weight_sum : ndarray of float64
        Sum of the sample weights per group (``n_samples`` without weights).
    mse, rmse, mae, r2, explained_variance, max_error, mean_error : ndarray
        The report's metrics per group.
    key_name : str, default="group"
        Name of the key column in :meth:`to_frame` / :meth:`to_polars`.

    Examples
    --------
    >>> import l2loss
    >>> rep = l2loss.grouped_report([1.0, 2.0, 3.0, 5.0], [1.5, 2.0, 2.0, 5.0], ["a", "b", "a", "b"])
    >>> rep.keys.tolist(), rep.mse.tolist()
    (['a', 'b'], [0.625, 0.0])
    """

    keys: np.ndarray
    n_samples: np.ndarray
    weight_sum: np.ndarray
    mse: np.ndarray
    rmse: np.ndarray
    mae: np.ndarray
    r2: np.ndarray
    explained_variance: np.ndarray
    max_error: np.ndarray
    mean_error: np.ndarray
    key_name: str = "group"

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def index_of(self, key: Any) -> int:
        """Position of ``key`` in :attr:`keys`.

        Parameters
        ----------
        key : scalar
            A group key.

        Returns
        -------
        int
            The row of that group in every column.

        Examples
        --------
        >>> import l2loss
        >>> l2loss.grouped_report([1.0, 2.0, 3.0, 0.0], [1.0, 2.0, 4.0, 0.0], [7, 9, 9, 7]).index_of(9)
        1
        """
        hits = np.flatnonzero(self.keys == key)
        if hits.size == 0:
            raise KeyError(key)
        return int(hits[0])

    def report(self, key: Any) -> RegressionReport:
        """The :class:`RegressionReport` of one group.

        Parameters
        ----------
        key : scalar
            A group key.

        Returns
        -------
        RegressionReport
            The same values as ``regression_report`` on that group's rows.

        Examples
        --------
        >>> import l2loss
        >>> rep = l2loss.grouped_report([1.0, 2.0, 3.0, 0.0], [1.0, 2.0, 4.0, 0.0], [7, 9, 9, 7])
        >>> rep.report(9).mse
        0.5
        """
        i = self.index_of(key)

        def field(a: np.ndarray) -> Any:
            return a[i].copy() if a.ndim == 2 else float(a[i])

        return RegressionReport(
            **{name: field(getattr(self, name)) for name in _METRICS},
            n_samples=int(self.n_samples[i]),
            weight_sum=float(self.weight_sum[i]),
        )

    def _columns(self) -> dict[str, np.ndarray]:
        cols: dict[str, np.ndarray] = {
            self.key_name: self.keys, "n_samples": self.n_samples, "weight_sum": self.weight_sum
        }
        for name in _METRICS:
            value = getattr(self, name)
            if value.ndim == 2:
                for j in range(value.shape[1]):
                    cols[f"{name}_{j}"] = value[:, j]
            else:
                cols[name] = value
        return cols

    def to_dict(self) -> dict[str, list[Any]]:
        """The columns as plain lists, ready for ``json.dumps``.

        Returns
        -------
        dict
            Column name -> list (per-output columns are named ``mse_0``, ``mse_1``, ...).

        Examples
        --------
        >>> import l2loss
        >>> l2loss.grouped_report([1.0, 2.0, 1.0, 2.0], [1.0, 4.0, 1.0, 4.0], [0, 1, 0, 1]).to_dict()["mse"]
        [0.0, 4.0]
        """
        return {k: v.tolist() for k, v in self._columns().items()}

    def to_frame(self) -> Any:
        """The table as a pandas DataFrame, one row per group (needs pandas).

        Returns
        -------
        pandas.DataFrame
            Columns: the key (``key_name``), ``n_samples``, ``weight_sum`` and the metrics.

        Examples
        --------
        >>> import l2loss
        >>> df = l2loss.grouped_report([1.0, 2.0, 1.0, 2.0], [1.0, 4.0, 1.0, 4.0], list("xyxy")).to_frame()
        >>> df["mse"].tolist()
        [0.0, 4.0]
        """
        import pandas as pd  # optional dependency

        return pd.DataFrame(self._columns())

    def to_polars(self) -> Any:
        """The table as a polars DataFrame, one row per group (needs polars).

        Returns
        -------
        polars.DataFrame
            Columns as in :meth:`to_frame`.

        Examples
        --------
        >>> import l2loss
        >>> df = l2loss.grouped_report([1.0, 2.0, 1.0, 2.0], [1.0, 4.0, 1.0, 4.0], list("xyxy")).to_polars()
        >>> df["mse"].to_list()
        [0.0, 4.0]
        """
        import polars as pl  # optional dependency

        cols = self._columns()
        keys = cols[self.key_name]
        if keys.dtype == object:
            cols[self.key_name] = keys.tolist()  # polars takes Python objects as a list
        return pl.DataFrame(cols)

    def __repr__(self) -> str:
        return f"GroupedReport(n_groups={len(self)}, n_samples={int(self.n_samples.sum())})"


# ---- from finalised columns to the report's semantics -----------------------------------


def _warn_small_groups(count: int) -> None:
    warnings.warn(
        f"R^2 score is not well-defined with less than two samples ({count} group(s) have "
        "one sample; their r2 is NaN).",
        sklearn_compatible(UndefinedMetricWarning),
        stacklevel=user_stacklevel(),
    )


def _combine(values: np.ndarray, multioutput: Any, dtype: np.dtype) -> np.ndarray:
    """_metrics.aggregate per group: raw values in the working dtype, or the correctly
    rounded (weighted) mean over the outputs of each group."""
    if isinstance(multioutput, str) and multioutput == "raw_values":
        with np.errstate(over="ignore"):
            return values.astype(dtype, copy=False)
    weights = None if isinstance(multioutput, str) or multioutput is None else multioutput
    return _core.average_rows(values, weights)


def _fraction(num: np.ndarray, den: np.ndarray, multioutput: Any, dtype: np.dtype) -> np.ndarray:
    """_metrics.assemble_fraction (force_finite=True) per group."""
    nonzero_den, nonzero_num = den != 0, num != 0
    scores = np.ones_like(num)
    valid = nonzero_den & nonzero_num
    scores[valid] = 1 - num[valid] / den[valid]
    scores[nonzero_num & ~nonzero_den] = 0.0
    return _combine(scores, multioutput, dtype)


def _check_weight_sums(d: dict[str, Any], keys: np.ndarray) -> None:
    zero = np.flatnonzero(d["weight_zero"])
    if zero.size:
        key = keys[zero[0]]
        key = key.item() if isinstance(key, np.generic) else key
        raise ZeroDivisionError(
            f"Weights sum to zero, can't be normalized (group {key!r} and "
            f"{zero.size - 1} other group(s))"
        )


def _assemble(
    d: dict[str, Any], keys: np.ndarray, multioutput: Any, dtype: np.dtype, key_name: str
) -> GroupedReport:
    mse = d["mse"]
    with np.errstate(invalid="ignore"):  # negative weights can make an MSE negative: its root is NaN
        rmse = np.sqrt(mse)
    n_rows = d["n_rows"]
    r2 = _fraction(d["r2_num"], d["r2_den"], multioutput, dtype)
    small = n_rows < 2
    if small.any():
        _warn_small_groups(int(small.sum()))
        r2 = r2.copy()
        r2[small] = np.nan
    max_abs = d["max_abs"]
    if dtype.kind == "f" and dtype.itemsize < 8:  # _metrics.round_max_error
        max_abs = max_abs.astype(dtype).astype(np.float64)
    is_raw = isinstance(multioutput, str) and multioutput == "raw_values"
    return GroupedReport(
        keys=keys,
        n_samples=n_rows,
        weight_sum=d["weight_sum"],
        mse=_combine(mse, multioutput, dtype),
        rmse=_combine(rmse, multioutput, dtype),
        mae=_combine(d["mae"], multioutput, dtype),
        r2=r2,
        explained_variance=_fraction(d["ev_num"], d["ev_den"], multioutput, dtype),
        max_error=max_abs.astype(dtype) if is_raw else max_abs.max(axis=1),
        mean_error=_combine(d["mean_error"], multioutput, dtype),
        key_name=key_name,
    )


def _key_name(groups: Any) -> str:
    name = getattr(groups, "name", None)
    return name if isinstance(name, str) and name else "group"


def grouped_report(
    y_true: ArrayLike, y_pred: ArrayLike, groups: Any, *, sample_weight: ArrayLike | None = None,
    multioutput: Literal["raw_values", "uniform_average"] | OutputWeights = "uniform_average",
    num_threads: Threads = None,
) -> GroupedReport:
    """:func:`regression_report` for every group of rows, in one pass over the data.

    Group ``g``'s numbers have exactly the bits of ``regression_report`` called on the
    rows whose key is ``g`` (the rows need not be sorted or contiguous), whatever the
    thread count. Cost: O(n + number of groups) time and memory.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground truth (correct) target values.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Estimated target values.
    groups : array-like of shape (n_samples,)
        The group key of every row: integers, strings or any values NumPy can sort;
        pandas, polars and pyarrow columns are accepted (a pandas categorical keeps its
        category order). Missing keys (NaN, None) are refused.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights. A group whose weights sum to zero raises ZeroDivisionError, as
        ``regression_report`` on its rows would.
    multioutput : {"raw_values", "uniform_average"} or array-like of shape (n_outputs,), \
            default="uniform_average"
        How per-output values are combined within each group.
    num_threads : int, default=None
        Threads for this call; None means :func:`l2loss.get_num_threads`.

    Returns
    -------
    report : GroupedReport
        One entry per group, sorted by key; ``to_frame()`` / ``to_polars()`` give a table.
        Groups of one row have r2 = NaN (one UndefinedMetricWarning for all of them).

    Examples
    --------
    >>> import l2loss
    >>> rep = l2loss.grouped_report([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0], [1, 1, 2, 2])
    >>> rep.keys.tolist(), rep.mse.tolist(), rep.n_samples.tolist()
    ([1, 2], [0.25, 0.5], [2, 2])
    """
    validate_params("grouped_report", y_true, y_pred, sample_weight, multioutput, options=MULTIOUTPUT_OPTIONS)
    threads = threads_arg(num_threads)
    t = check_reg_targets(y_true, y_pred, sample_weight, multioutput)
    keys, codes, lo, n_codes = factorize_groups(groups, t.n_samples)
    d = _core.grouped_report(t.y_true, t.y_pred, t.sample_weight, codes, lo, n_codes, num_threads=threads)
    if d["input_flags"]:
        t.locate_nonfinite()
    keys = keys[d["codes"]]
    if t.sample_weight is not None and d["weight_zero"].any():
        t.check_weights_not_all_zero()
        _check_weight_sums(d, keys)
    return _assemble(d, keys, t.multioutput, t.dtype, _key_name(groups))


# ---- streaming --------------------------------------------------------------------------

_MAGIC = b"L2LOSS-GROUPED\x01"


class GroupedAccumulator:
    """Grouped report state fed by batches: exact, mergeable and serialisable.

    Every group keeps the engine's exact state (about 9 KB per output), so a result
    after any batching, merged in any order, has the bits of :func:`grouped_report`
    on all the rows at once.

    Parameters
    ----------
    num_threads : int, default=None
        Threads for each update; None means :func:`l2loss.get_num_threads`.

    Examples
    --------
    >>> import l2loss
    >>> acc = l2loss.GroupedAccumulator()
    >>> acc = acc.update([1.0, 2.0, 0.0], [1.0, 3.0, 0.0], ["a", "b", "b"]).update([3.0], [5.0], ["a"])
    >>> acc.compute().mse.tolist()
    [2.0, 0.5]
    """

    def __init__(self, *, num_threads: Threads = None) -> None:
        self._threads = threads_arg(num_threads)
        self._states: dict[Any, Any] = {}
        self._n_outputs: int | None = None
        self._dtype: np.dtype | None = None
        self._key_name = "group"

    def __len__(self) -> int:
        return len(self._states)

    def _adopt(self, n_outputs: int, dtype: np.dtype) -> None:
        if self._n_outputs is not None and n_outputs != self._n_outputs:
            raise ValueError(
                f"y_true has {n_outputs} output(s) but earlier batches had {self._n_outputs}"
            )
        self._n_outputs = n_outputs
        self._dtype = dtype if self._dtype is None else np.result_type(self._dtype, dtype)

    def update(
        self, y_true: ArrayLike, y_pred: ArrayLike, groups: Any, sample_weight: ArrayLike | None = None
    ) -> GroupedAccumulator:
        """Add a batch of rows (any keys, in any order).

        Parameters
        ----------
        y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Ground truth target values.
        y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Estimated target values.
        groups : array-like of shape (n_samples,)
            Group keys, as for :func:`grouped_report`.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        GroupedAccumulator
            ``self``, for chaining.

        Examples
        --------
        >>> import l2loss
        >>> len(l2loss.GroupedAccumulator().update([1.0, 2.0], [1.0, 3.0], [5, 6]))
        2
        """
        validate_params("GroupedAccumulator.update", y_true, y_pred, sample_weight)
        t = check_reg_targets(y_true, y_pred, sample_weight, "uniform_average")
        keys, codes, lo, n_codes = factorize_groups(groups, t.n_samples)
        present, states = _core.grouped_states(
            t.y_true, t.y_pred, t.sample_weight, codes, lo, n_codes, num_threads=self._threads
        )
        if any(s.input_flags for s in states):
            t.locate_nonfinite()
        self._adopt(t.n_outputs, t.dtype)
        self._key_name = _key_name(groups) if self._key_name == "group" else self._key_name
        for key, state in zip(keys[present].tolist(), states):
            self._merge_one(key, state, copy=False)
        return self

    def _merge_one(self, key: Any, state: Any, *, copy: bool) -> None:
        mine = self._states.get(key)
        if mine is None:
            self._states[key] = state.copy() if copy else state
        else:
            mine.merge(state)

    def merge(self, other: GroupedAccumulator) -> GroupedAccumulator:
        """Add another accumulator's rows (exactly; ``other`` is unchanged).

        Parameters
        ----------
        other : GroupedAccumulator
            States to add.

        Returns
        -------
        GroupedAccumulator
            ``self``, for chaining.

        Examples
        --------
        >>> import l2loss
        >>> a = l2loss.GroupedAccumulator().update([1.0], [2.0], [0])
        >>> b = l2loss.GroupedAccumulator().update([1.0], [4.0], [0])
        >>> a.merge(b).compute().mse.tolist()
        [5.0]
        """
        if not isinstance(other, GroupedAccumulator):
            raise TypeError(f"other must be a GroupedAccumulator, got {type(other).__name__}")
        if other._n_outputs is None:
            return self
        self._adopt(other._n_outputs, other._dtype)  # type: ignore[arg-type]
        for key, state in other._states.items():
            self._merge_one(key, state, copy=True)
        return self

    def compute(
        self, multioutput: Literal["raw_values", "uniform_average"] | OutputWeights = "uniform_average"
    ) -> GroupedReport:
        """The per-group report of every row seen so far.

        Parameters
        ----------
        multioutput : {"raw_values", "uniform_average"} or array-like, default="uniform_average"
            As for :func:`grouped_report`.

        Returns
        -------
        GroupedReport
            Bitwise equal to :func:`grouped_report` on all the rows at once.

        Examples
        --------
        >>> import l2loss
        >>> l2loss.GroupedAccumulator().update([1.0, 2.0], [2.0, 2.0], [1, 1]).compute().mae.tolist()
        [0.5]
        """
        if self._n_outputs is None or self._dtype is None:
            raise ValueError("GroupedAccumulator.compute() needs at least one update with rows")
        validate_params(
            "GroupedAccumulator.compute", [0.0], [0.0], None, multioutput, options=MULTIOUTPUT_OPTIONS
        )
        mo = check_multioutput(multioutput, self._n_outputs, lambda exc: exc)
        try:
            order = sorted(self._states)
        except TypeError as exc:
            raise TypeError(f"group keys of different kinds cannot be sorted: {exc}") from None
        keys = np.array(order) if order and not isinstance(order[0], str) else np.array(order, dtype=object)
        d = _core.finalize_states([self._states[k] for k in order])
        _check_weight_sums(d, keys)
        return _assemble(d, keys, mo, self._dtype, self._key_name)

    def reset(self) -> GroupedAccumulator:
        """Forget every row.

        Returns
        -------
        GroupedAccumulator
            ``self``, empty.

        Examples
        --------
        >>> import l2loss
        >>> len(l2loss.GroupedAccumulator().update([1.0], [2.0], [0]).reset())
        0
        """
        self._states.clear()
        self._n_outputs = None
        self._dtype = None
        return self

    def to_bytes(self) -> bytes:
        """A compact, versioned byte string of the state (see :meth:`from_bytes`).

        Returns
        -------
        bytes
            Keys (NumPy ``.npy``, no pickles) and each group's canonical engine state.

        Examples
        --------
        >>> import l2loss
        >>> acc = l2loss.GroupedAccumulator().update([1.0, 2.0, 0.0, 4.0], [1.0, 3.0, 0.0, 4.0], [5, 6, 5, 6])
        >>> l2loss.GroupedAccumulator.from_bytes(acc.to_bytes()).compute().mse.tolist()
        [0.0, 0.5]
        """
        order = list(self._states)
        key_kinds = {type(k) for k in order}
        if key_kinds <= {int}:
            keys = np.array(order, dtype=np.int64)
        elif key_kinds <= {float, int}:
            keys = np.array(order, dtype=np.float64)
        elif key_kinds <= {str}:
            keys = np.array(order, dtype=str)
        elif key_kinds <= {bool}:
            keys = np.array(order, dtype=bool)
        else:
            kinds = sorted(map(str, key_kinds))
            raise TypeError(f"to_bytes() stores int, float, bool or str keys, got {kinds}")
        blobs = [self._states[k].to_bytes() for k in order]
        header = json.dumps({
            "n_outputs": self._n_outputs,
            "dtype": None if self._dtype is None else self._dtype.str,
            "key_name": self._key_name,
        }).encode()
        keys_io = io.BytesIO()
        np.save(keys_io, keys, allow_pickle=False)
        keys_bytes = keys_io.getvalue()
        lengths = np.array([len(b) for b in blobs], dtype="<u8").tobytes()
        return b"".join([
            _MAGIC, struct.pack("<QQQ", len(header), len(keys_bytes), len(blobs)),
            header, keys_bytes, lengths, *blobs,
        ])

    @classmethod
    def from_bytes(cls, data: bytes, *, num_threads: Threads = None) -> GroupedAccumulator:
        """Rebuild an accumulator from :meth:`to_bytes`.

        Parameters
        ----------
        data : bytes
            Output of :meth:`to_bytes`.
        num_threads : int, default=None
            Threads for later updates.

        Returns
        -------
        GroupedAccumulator
            Equal in every bit to the one serialised.

        Examples
        --------
        >>> import l2loss
        >>> blob = l2loss.GroupedAccumulator().update([1.0], [3.0], [4]).to_bytes()
        >>> len(l2loss.GroupedAccumulator.from_bytes(blob))
        1
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        view = bytes(data)

        def bad(why: str) -> ValueError:
            return ValueError(f"not a GroupedAccumulator state: {why}")

        if not view.startswith(_MAGIC) or len(view) < len(_MAGIC) + 24:
            raise bad("wrong magic or version")
        pos = len(_MAGIC)
        n_header, n_keys, n_groups = struct.unpack_from("<QQQ", view, pos)
        pos += 24
        if n_header + n_keys + 8 * n_groups > len(view) - pos:
            raise bad("truncated")
        try:
            header = json.loads(view[pos : pos + n_header])
            pos += n_header
            keys = np.load(io.BytesIO(view[pos : pos + n_keys]), allow_pickle=False)
            pos += n_keys
            n_outputs, dtype, key_name = header["n_outputs"], header["dtype"], header["key_name"]
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise bad(str(exc)) from None
        lengths = np.frombuffer(view, dtype="<u8", count=n_groups, offset=pos)
        pos += 8 * n_groups
        if keys.shape != (n_groups,) or int(lengths.sum()) != len(view) - pos:
            raise bad("inconsistent lengths")
        out = cls(num_threads=num_threads)
        if n_groups:
            if not isinstance(n_outputs, int) or not isinstance(dtype, str) or not isinstance(key_name, str):
                raise bad("malformed header")
            out._n_outputs, out._dtype, out._key_name = n_outputs, np.dtype(dtype), key_name
        for key, length in zip(keys.tolist(), lengths.tolist()):
            state = _core.ReduceResult.from_bytes(view[pos : pos + length])
            if state.n_cols != n_outputs or key in out._states:
                raise bad("a group state does not match the header")
            out._states[key] = state
            pos += length
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"state": self.to_bytes(), "num_threads": self._threads}

    def __setstate__(self, d: dict[str, Any]) -> None:
        other = GroupedAccumulator.from_bytes(d["state"])
        self.__dict__.update(other.__dict__)
        self._threads = d["num_threads"]

    def __repr__(self) -> str:
        return f"GroupedAccumulator(n_groups={len(self)}, n_outputs={self._n_outputs})"
