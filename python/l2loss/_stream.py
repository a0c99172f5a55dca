"""RegressionAccumulator: the engine's exact, mergeable state as a public streaming object.

Why chunking and merging cannot change a single bit: the state holds integer
superaccumulators of every sum a metric needs -- sum w*fl(d^2), sum w*|d|, the exact
sums w*d, w*y and w*y^2 (each split into a rounded part and its exact remainders),
sum w, the row count, max|d| and flags. Integer addition is associative and
commutative, so any chunking and any merge tree produce the same integers, and the
metrics are finalised from them by the same code as the one-shot functions. R^2's
denominator is (W*S_yy - S_y^2)/W evaluated exactly from those integers, so it keeps
the promise too (a two-pass "subtract the mean first" formula could not be streamed).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

from . import _core
from ._metrics import SUMS_ALL, reduce, threads_arg
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

_MAGIC = b"L2RA"
_VERSION = 1
_DTYPES = {0: None, 1: np.dtype(np.float16), 2: np.dtype(np.float32), 3: np.dtype(np.float64)}
_DTYPE_CODES = {v: k for k, v in _DTYPES.items()}
_HEADER = struct.Struct("<4sBBBI")  # magic, version, dtype code, flags, n_outputs (0: not yet known)


def _merged(state: Any, exact_state: Any, other: Any, other_exact: Any) -> tuple[Any, Any]:
    """The two states merged with the other two, all or nothing.

    ``Reduction.merge`` is atomic (on ValueError the target is unchanged), so a lone state
    is merged in place; with an exact state too, the first merge must not be committed
    before the second has succeeded, so both are merged into copies.
    """
    if other_exact is None:
        state.merge(other)
        return state, exact_state
    new_state, new_exact = state.copy(), exact_state.copy()
    new_state.merge(other)
    new_exact.merge(other_exact)
    return new_state, new_exact


class RegressionAccumulator:
    """Exact, mergeable streaming state for every metric of :func:`l2loss.regression_report`.

    Feed batches with :meth:`update` (any sizes, any number of calls), combine states
    built elsewhere with :meth:`merge` or ``+``, and read the metrics with
    :meth:`compute`. The result has exactly the bits the one-shot functions give on the
    concatenated data, whatever the chunking or the order of merges.

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
    """

    def __init__(self, n_outputs: int | None = None, *, exact: bool = False, num_threads: int | None = None) -> None:
        if n_outputs is not None and (
            isinstance(n_outputs, bool) or not isinstance(n_outputs, (int, np.integer)) or n_outputs < 1
        ):
            raise ValueError(f"n_outputs must be a positive integer or None, got {n_outputs!r}")
        threads_arg(num_threads)  # validate early
        check_bool("exact", exact)
        self._exact = bool(exact)
        self._exact_state: Any = None
        self._num_threads = num_threads
        self._n_outputs_init = None if n_outputs is None else int(n_outputs)
        self._n_outputs = self._n_outputs_init
        self._state: Any = None
        self._dtype: np.dtype | None = None
        self._nonzero_weight_seen = False

    # ---- feeding -----------------------------------------------------------------------

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> RegressionAccumulator:
        """Add a batch. Validated like sklearn's metrics; on error the state is unchanged."""
        validate_params("RegressionAccumulator.update", y_true, y_pred, sample_weight, options=None)
        t = check_reg_targets(y_true, y_pred, sample_weight, "uniform_average")
        if self._n_outputs is not None and t.n_outputs != self._n_outputs:
            raise ValueError(
                f"y_true and y_pred have {t.n_outputs} output(s) but this accumulator has {self._n_outputs}"
            )
        batch = reduce(t, SUMS_ALL, self._num_threads, check_weight_sum=False)
        exact_batch = reduce(t, _core.SUM_SQ_EXACT, self._num_threads, check_weight_sum=False) if self._exact else None
        nonzero = t.sample_weight is None or not batch.weight_sum_is_zero() or bool(np.any(t.sample_weight != 0))
        # Commit only after everything that can raise has run.
        if self._state is None:
            self._state, self._exact_state = batch, exact_batch
        else:
            self._state, self._exact_state = _merged(self._state, self._exact_state, batch, exact_batch)
        self._n_outputs = t.n_outputs
        self._dtype = t.dtype if self._dtype is None else np.result_type(self._dtype, t.dtype)
        self._nonzero_weight_seen = self._nonzero_weight_seen or nonzero
        return self

    def merge(self, other: RegressionAccumulator) -> RegressionAccumulator:
        """Add another accumulator's state to this one (exact; any merge order)."""
        if not isinstance(other, RegressionAccumulator):
            raise TypeError(f"can only merge a RegressionAccumulator, got {type(other).__name__}")
        if self._n_outputs is not None and other._n_outputs is not None and self._n_outputs != other._n_outputs:
            raise ValueError(f"cannot merge accumulators with {self._n_outputs} and {other._n_outputs} outputs")
        if self._exact != other._exact:
            raise ValueError(
                "cannot merge an exact=True accumulator with an exact=False one (their square sums differ)"
            )
        if other._state is not None:
            if self._state is None:
                self._state = other._state.copy()
                self._exact_state = None if other._exact_state is None else other._exact_state.copy()
            else:
                self._state, self._exact_state = _merged(
                    self._state, self._exact_state, other._state, other._exact_state
                )
        if other._dtype is not None:
            self._dtype = other._dtype if self._dtype is None else np.result_type(self._dtype, other._dtype)
        self._n_outputs = self._n_outputs if self._n_outputs is not None else other._n_outputs
        self._nonzero_weight_seen = self._nonzero_weight_seen or other._nonzero_weight_seen
        return self

    def __add__(self, other: RegressionAccumulator) -> RegressionAccumulator:
        if not isinstance(other, RegressionAccumulator):
            return NotImplemented
        return self.copy().merge(other)

    def __iadd__(self, other: RegressionAccumulator) -> RegressionAccumulator:
        return self.merge(other)

    def reset(self) -> None:
        """Forget all data (the number of outputs given at construction is kept)."""
        self.__init__(self._n_outputs_init, exact=self._exact, num_threads=self._num_threads)  # type: ignore[misc]

    def copy(self) -> RegressionAccumulator:
        return RegressionAccumulator.from_bytes(self.to_bytes(), num_threads=self._num_threads)

    @property
    def exact(self) -> bool:
        return self._exact

    # ---- reading -----------------------------------------------------------------------

    @property
    def n_outputs(self) -> int | None:
        return self._n_outputs

    @property
    def n_samples(self) -> int:
        return 0 if self._state is None else int(self._state.n_rows)

    @property
    def weight_sum(self) -> float:
        return 0.0 if self._state is None else float(self._state.weight_sum())

    def compute(self, multioutput: Any = "uniform_average") -> RegressionReport:
        """Every metric of :func:`l2loss.regression_report` from the state."""
        func = "RegressionAccumulator.compute"
        ok = (isinstance(multioutput, str) and multioutput in MULTIOUTPUT_OPTIONS) or (
            not isinstance(multioutput, str) and multioutput is not None and np.ndim(multioutput) >= 1
        )
        if not ok:
            raise _param_error("multioutput", func, "a str among {'raw_values', 'uniform_average'} or an array-like",
                               multioutput)
        if self._state is None or self._state.n_rows == 0:
            raise ValueError("RegressionAccumulator has no data: call update() before compute()")
        mo = check_multioutput(multioutput, int(self._n_outputs or 1))
        if self._state.weighted and self._state.weight_sum_is_zero():
            if not self._nonzero_weight_seen:
                raise ValueError("Sample weights must contain at least one non-zero number.")
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        assert self._dtype is not None
        return report_from_state(self._state, mo, self._dtype, self._exact_state)

    report = compute

    # Keras-style names.
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> RegressionAccumulator:
        return self.update(y_true, y_pred, sample_weight)

    def result(self, multioutput: Any = "uniform_average") -> RegressionReport:
        return self.compute(multioutput)

    def reset_state(self) -> None:
        self.reset()

    # ---- serialisation -------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A compact, versioned, checksummed encoding (equal states give equal bytes)."""
        flags = int(self._nonzero_weight_seen) | (int(self._state is not None) << 1) | (int(self._exact) << 2)
        body = _HEADER.pack(_MAGIC, _VERSION, _DTYPE_CODES[self._dtype], flags, self._n_outputs or 0)
        if self._state is not None:
            main = self._state.to_bytes()
            body += struct.pack("<Q", len(main)) + main
            if self._exact_state is not None:
                body += self._exact_state.to_bytes()
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes, *, num_threads: int | None = None) -> RegressionAccumulator:
        """Rebuild an accumulator from :meth:`to_bytes`; anything else raises ValueError."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"from_bytes expects bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < _HEADER.size + 4 or data[:4] != _MAGIC:
            raise ValueError("not a serialized RegressionAccumulator")
        body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
        if zlib.crc32(body) != crc:
            raise ValueError("corrupted RegressionAccumulator bytes (checksum mismatch)")
        _, version, dtype_code, flags, n_outputs = _HEADER.unpack(body[: _HEADER.size])
        if version != _VERSION:
            raise ValueError(f"unsupported RegressionAccumulator format version {version}")
        if dtype_code not in _DTYPES or flags & ~7:
            raise ValueError("corrupted RegressionAccumulator bytes (bad header)")
        exact = bool(flags & 4)
        acc = cls(n_outputs or None, exact=exact, num_threads=num_threads)
        acc._dtype = _DTYPES[dtype_code]
        acc._nonzero_weight_seen = bool(flags & 1)
        if flags & 2:
            rest = body[_HEADER.size :]
            if len(rest) < 8:
                raise ValueError("corrupted RegressionAccumulator bytes (truncated)")
            (size,) = struct.unpack("<Q", rest[:8])
            main, tail = rest[8 : 8 + size], rest[8 + size :]
            state = _core.Reduction.from_bytes(main)
            if state.sums != SUMS_ALL or state.n_cols != (n_outputs or -1) or acc._dtype is None:
                raise ValueError("corrupted RegressionAccumulator bytes (state does not match header)")
            acc._state = state
            if exact:
                exact_state = _core.Reduction.from_bytes(tail)
                if exact_state.sums != _core.SUM_SQ_EXACT or exact_state.n_cols != state.n_cols:
                    raise ValueError("corrupted RegressionAccumulator bytes (exact state does not match)")
                acc._exact_state = exact_state
            elif tail:
                raise ValueError("corrupted RegressionAccumulator bytes (trailing data)")
        elif len(body) != _HEADER.size:
            raise ValueError("corrupted RegressionAccumulator bytes (trailing data)")
        return acc

    def __getstate__(self) -> dict[str, Any]:
        return {"bytes": self.to_bytes(), "num_threads": self._num_threads}

    def __setstate__(self, d: dict[str, Any]) -> None:
        other = RegressionAccumulator.from_bytes(d["bytes"], num_threads=d.get("num_threads"))
        self.__dict__.update(other.__dict__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegressionAccumulator):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"RegressionAccumulator(n_outputs={self._n_outputs}, n_samples={self.n_samples}, "
            f"weight_sum={self.weight_sum:.6g})"
        )
