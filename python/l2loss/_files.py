"""Out-of-core evaluation: prediction files of any size, read in chunks into the exact state.

Formats: ``.npy`` (memory-mapped one chunk window at a time, so resident memory stays
bounded by the chunk size), ``.npz`` (members streamed from the zip), Parquet and Arrow
IPC (pyarrow, optional), CSV/TSV/TXT (pyarrow's streaming reader when installed, else
NumPy on line batches). Every reader yields row chunks of exactly ``chunk_size`` rows.
"""

from __future__ import annotations

import itertools
import os
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from ._report import RegressionReport
from ._stream import RegressionAccumulator

if TYPE_CHECKING:
    from ._grouped import GroupedReport

__all__ = ["evaluate_files", "FileFormatError", "parse_columns"]

DEFAULT_CHUNK_ROWS = 1 << 20
PROGRESS_MIN_BYTES = 64 << 20  # below this a progress bar is only noise


# What a damaged zip member raises while it is read: a bad CRC (BadZipFile), a broken
# deflate/bzip2/lzma stream (zlib.error, OSError, EOFError), a lying size (ValueError).
_ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
)
try:
    import lzma

    _ZIP_READ_ERRORS = (*_ZIP_READ_ERRORS, lzma.LZMAError)
except ImportError:  # pragma: no cover - Python built without lzma
    pass


class FileFormatError(ValueError):
    """A file is missing, unreadable, truncated, corrupted, or lacks the requested column.

    A subclass of ``ValueError``; the message names the file. The ``l2loss eval`` command
    prints it as one ``l2loss: error:`` line and exits with status 2.

    Examples
    --------
    >>> import l2loss
    >>> try:
    ...     l2loss.evaluate_files("no_such_file.npy", "no_such_file.npy")
    ... except l2loss.FileFormatError as exc:
    ...     print(exc)
    no_such_file.npy: no such file
    """


def _choose(path: Any, wanted: str | None, names: list[str], plural: str, singular: str) -> str:
    """The member of a multi-array file (an .npz array, a table column) to read: the one
    named, or the only one there is; anything else is a FileFormatError naming them."""
    if wanted is None:
        if len(names) != 1:
            raise FileFormatError(f"{path}: has {plural} {names}; choose one with columns=")
        return names[0]
    if wanted not in names:
        raise FileFormatError(f"{path}: no {singular} {wanted!r} ({plural}: {names})")
    return wanted



# ---- readers ---------------------------------------------------------------------------


def _read_npy_header(f: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of a .npy stream, leaving it at the data."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


class _Reader:
    """Yields consecutive row chunks of one operand."""

    name: str
    path: Path
    n_rows: int | None = None  # known up front for most formats
    nbytes: int = 0
    bytes_read: int | None = None  # bytes of the file consumed so far, for readers that know it

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        raise NotImplementedError


class _NpyReader(_Reader):
    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path
        with path.open("rb") as f:
            try:
                shape, fortran, dtype = _read_npy_header(f)
            except ValueError as exc:
                raise FileFormatError(f"{path}: not a valid .npy file ({exc})") from None
            offset = f.tell()
        if len(shape) not in (1, 2):
            raise FileFormatError(f"{path}: expected a 1-D or 2-D array, got shape {shape}")
        if dtype.hasobject:
            raise FileFormatError(f"{path}: object arrays are not supported")
        expected = offset + int(np.prod(shape)) * dtype.itemsize
        actual = path.stat().st_size
        if actual < expected:
            raise FileFormatError(f"{path}: truncated .npy file ({actual} bytes, header says {expected})")
        self.shape, self.fortran, self.dtype, self.offset = shape, fortran, dtype, offset
        self.n_rows = int(shape[0])
        self.nbytes = expected - offset

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize
        n_rows = int(self.shape[0])
        for start in range(0, n_rows, rows):
            stop = min(start + rows, n_rows)
            if self.fortran and len(self.shape) == 2:
                # Column-major: map the file, take a strided row window.
                mm = np.memmap(self.path, self.dtype, "r", self.offset, tuple(self.shape), order="F")
                yield mm[start:stop]
            else:
                # Map just this window; dropping it unmaps it, so resident memory stays
                # bounded by the chunk (a whole-file map would keep every page touched).
                mm = np.memmap(
                    self.path,
                    self.dtype,
                    "r",
                    self.offset + start * row_bytes,
                    (stop - start, *self.shape[1:]),
                )
                yield mm
            del mm


class _NpzReader(_Reader):
    def __init__(self, name: str, path: Path, key: str | None) -> None:
        self.name, self.path = name, path
        try:
            with zipfile.ZipFile(path) as z:
                names = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
        except (zipfile.BadZipFile, OSError) as exc:
            raise FileFormatError(f"{path}: not a valid .npz file ({exc})") from None
        key = _choose(path, key, names, "arrays", "array")
        self.member = key + ".npy"
        try:
            with zipfile.ZipFile(path) as z, z.open(self.member) as f:
                self.shape, self.fortran, self.dtype = _read_npy_header(f)
        except _ZIP_READ_ERRORS as exc:
            raise FileFormatError(f"{path}: array {key!r} is corrupted ({_reason(exc)})") from None
        if len(self.shape) not in (1, 2):
            raise FileFormatError(f"{path}: array {key!r} must be 1-D or 2-D, got shape {self.shape}")
        self.n_rows = int(self.shape[0])
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        try:
            yield from self._chunks(rows)
        except FileFormatError:
            raise
        except _ZIP_READ_ERRORS as exc:
            key = self.member[:-4]
            raise FileFormatError(f"{self.path}: array {key!r} is corrupted ({_reason(exc)})") from None

    def _chunks(self, rows: int) -> Iterator[np.ndarray]:
        n_rows = int(self.shape[0])
        row_shape = tuple(self.shape[1:])
        row_bytes = int(np.prod(row_shape)) * self.dtype.itemsize
        with zipfile.ZipFile(self.path) as z, z.open(self.member) as f:
            _read_npy_header(f)
            if self.fortran and len(self.shape) == 2:  # column-major: rows are not contiguous
                data = np.frombuffer(f.read(), dtype=self.dtype)
                if data.size != int(np.prod(self.shape)):
                    raise FileFormatError(f"{self.path}: truncated array in .npz")
                full = data.reshape(self.shape, order="F")
                for start in range(0, n_rows, rows):
                    yield full[start : start + rows]
                return
            for start in range(0, n_rows, rows):
                n = min(rows, n_rows - start)
                buf = f.read(n * row_bytes)
                if len(buf) != n * row_bytes:
                    raise FileFormatError(f"{self.path}: truncated array in .npz")
                yield np.frombuffer(buf, dtype=self.dtype).reshape((n, *row_shape))


def _reason(exc: BaseException) -> str:
    """An exception as a short phrase: its message, or its type when it has none."""
    kind = type(exc).__qualname__
    if type(exc).__module__ not in ("builtins", "zipfile"):
        kind = f"{type(exc).__module__}.{kind}"  # zlib.error, lzma.LZMAError
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{kind}: {text}" if text else kind


def _require_pyarrow(path: Path) -> Any:
    try:
        import pyarrow
    except ImportError:
        raise FileFormatError(
            f"{path}: reading this format needs pyarrow (pip install 'l2loss[files]')"
        ) from None
    return pyarrow


class _ArrowReader(_Reader):
    """Parquet, Arrow IPC (file or stream) and CSV via pyarrow's streaming readers."""

    keys = False  # a column of group keys: strings stay strings (not cast to float)

    def __init__(self, name: str, path: Path, column: str | None, kind: str) -> None:
        self.name, self.path, self.kind = name, path, kind
        self.pa = _require_pyarrow(path)
        schema_names = self._schema_names()
        self.column = _choose(path, column, schema_names, "columns", "column")
        self.nbytes = path.stat().st_size

    def _open_csv(self, source: Any = None) -> Any:
        from pyarrow import csv

        parse = csv.ParseOptions(delimiter="\t" if self.path.suffix.lower() == ".tsv" else ",")
        return csv.open_csv(
            self.path if source is None else source,
            parse_options=parse,
            read_options=csv.ReadOptions(block_size=1 << 22),
        )

    def _schema_names(self) -> list[str]:
        try:
            if self.kind == "parquet":
                import pyarrow.parquet as pq

                pf = pq.ParquetFile(self.path)
                self.n_rows = pf.metadata.num_rows
                return list(pf.schema_arrow.names)
            if self.kind == "arrow":
                return list(self._open_ipc().schema.names)
            return list(self._open_csv().schema.names)
        except FileFormatError:
            raise
        except Exception as exc:  # pyarrow raises many types for unreadable files
            raise FileFormatError(f"{self.path}: cannot read as {self.kind} ({exc})") from None

    def _open_ipc(self) -> Any:
        import pyarrow.ipc as ipc

        source = self.pa.memory_map(str(self.path), "r")
        try:
            reader = ipc.open_file(source)
            self.n_rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            return reader
        except self.pa.ArrowInvalid:
            return ipc.open_stream(self.pa.memory_map(str(self.path), "r"))

    def _batches(self) -> Iterator[Any]:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(self.path).iter_batches(batch_size=1 << 16, columns=[self.column])
        elif self.kind == "arrow":
            reader = self._open_ipc()
            if hasattr(reader, "num_record_batches"):
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i).select([self.column])
            else:
                yield from (b.select([self.column]) for b in reader)
        else:
            # Read through a file object whose position says how far the parse has come:
            # the progress of a CSV is in bytes (its row count is unknown until the end).
            with self.path.open("rb") as f:
                self.bytes_read = 0
                for b in self._open_csv(f):
                    self.bytes_read = f.tell()
                    yield b.select([self.column])

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        have = 0
        try:
            for batch in self._batches():
                arr = batch.column(0).to_numpy(zero_copy_only=False)
                if arr.dtype == object and not self.keys:
                    arr = arr.astype(np.float64)
                pending.append(arr)
                have += len(arr)
                while have >= rows:
                    block = np.concatenate(pending) if len(pending) > 1 else pending[0]
                    yield block[:rows]
                    rest = block[rows:]
                    pending, have = ([rest] if len(rest) else []), len(rest)
        except FileFormatError:
            raise
        except Exception as exc:
            raise FileFormatError(f"{self.path}: cannot read as {self.kind} ({exc})") from None
        if have:
            yield np.concatenate(pending) if len(pending) > 1 else pending[0]


class _TextReader(_Reader):
    """CSV/TSV/TXT without pyarrow: NumPy on batches of lines (bounded memory)."""

    def __init__(self, name: str, path: Path, column: str | None) -> None:
        self.name, self.path = name, path
        self.delimiter = (
            "," if path.suffix.lower() == ".csv" else ("\t" if path.suffix.lower() == ".tsv" else None)
        )
        with path.open() as f:
            first = f.readline()
        fields = [s.strip() for s in (first.split(self.delimiter) if self.delimiter else first.split())]
        self.has_header = any(not _is_number(s) for s in fields if s)
        if column is not None and not self.has_header:
            raise FileFormatError(f"{path}: columns= names {column!r} but the file has no header row")
        if column is not None and column not in fields:
            raise FileFormatError(f"{path}: no column {column!r} (columns: {fields})")
        if column is None and self.has_header and len(fields) > 1:
            raise FileFormatError(f"{path}: has columns {fields}; choose one with columns=")
        self.index = fields.index(column) if column is not None else None
        self.nbytes = path.stat().st_size

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        with self.path.open() as f:
            self.bytes_read = len(f.readline()) if self.has_header else 0
            line_no = 1 + int(self.has_header)
            while True:
                lines = list(itertools.islice(f, rows))
                if not lines:
                    return
                self.bytes_read += sum(map(len, lines))  # characters: bytes for the ASCII of numbers
                try:
                    block = np.loadtxt(lines, delimiter=self.delimiter, ndmin=2, dtype=np.float64)
                except ValueError as exc:
                    raise FileFormatError(
                        f"{self.path}: unreadable data near line {line_no} ({exc})"
                    ) from None
                line_no += len(lines)
                if self.index is not None:
                    yield block[:, self.index]
                else:
                    yield block[:, 0] if block.shape[1] == 1 else block


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def open_reader(
    name: str, path: str | os.PathLike[str], column: str | None, *, keys: bool = False
) -> _Reader:
    """A chunk reader for one operand; ``keys=True``: a column of group keys (any dtype)."""
    reader = _open_reader(name, path, column)
    if keys and isinstance(reader, _ArrowReader):
        reader.keys = True
    return reader


def _open_reader(name: str, path: str | os.PathLike[str], column: str | None) -> _Reader:
    p = Path(path)
    if not p.is_file():
        raise FileFormatError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        if column is not None:
            raise FileFormatError(f"{p}: .npy files have no named columns")
        return _NpyReader(name, p)
    if suffix == ".npz":
        return _NpzReader(name, p, column)
    if suffix in (".parquet", ".pq"):
        return _ArrowReader(name, p, column, "parquet")
    if suffix in (".arrow", ".feather", ".ipc"):
        return _ArrowReader(name, p, column, "arrow")
    if suffix in (".csv", ".tsv", ".txt"):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return _TextReader(name, p, column)
        if suffix == ".txt":
            return _TextReader(name, p, column)
        return _ArrowReader(name, p, column, "csv")
    raise FileFormatError(
        f"{p}: unsupported file type {suffix!r} "
        "(use .npy, .npz, .parquet, .arrow/.feather, .csv, .tsv or .txt)"
    )


# ---- progress ----------------------------------------------------------------------------


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _si(value: float, unit: str) -> str:
    """12345678 rows -> '12.3 M rows'; bytes in MB/GB."""
    if unit == "bytes":
        for scale, prefix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if value >= scale:
                return f"{value / scale:.1f} {prefix}"
        return f"{value:.0f} B"
    for scale, prefix in ((1e9, "G "), (1e6, "M "), (1e3, "k ")):
        if value >= scale:
            return f"{value / scale:.1f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


class _Progress:
    """A progress bar on stderr (rich, else tqdm): done/total in rows (or bytes, for a CSV
    whose row count is unknown until its end), percent, rate and time left.

    Shown only on a terminal: a redirected stderr (a log file, a pipe, CI) gets nothing.
    """

    def __init__(self, total: int | None, unit: str, label: str, enabled: bool) -> None:
        self._bar: Any = None
        self._rich: Any = None
        self._done = 0
        if not enabled or not _stderr_is_terminal():
            return
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                ProgressColumn,
                TaskProgressColumn,
                TimeRemainingColumn,
            )
            from rich.text import Text
        except ImportError:
            pass
        else:

            class _Amount(ProgressColumn):
                def render(self, task: Any) -> Any:
                    total = "?" if task.total is None else _si(task.total, unit)
                    return Text(f"{_si(task.completed, unit)} / {total}")

            class _Rate(ProgressColumn):
                def render(self, task: Any) -> Any:
                    # The mean rate since the start: steadier than rich's windowed
                    # speed, and known after the first chunk.
                    elapsed = task.elapsed
                    if not elapsed or not task.completed:
                        return Text("?/s")
                    return Text(f"{_si(task.completed / elapsed, unit)}/s")

            self._rich = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                TaskProgressColumn(),
                _Amount(),
                _Rate(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._rich.start()
            self._task = self._rich.add_task(label, total=total)
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(
            total=total,
            desc=label,
            unit="B" if unit == "bytes" else " rows",
            unit_scale=True,
            leave=False,
            file=sys.stderr,
        )

    def update(self, done: int) -> None:
        """Move the bar to ``done`` rows (or bytes) in all."""
        step, self._done = done - self._done, done
        if self._rich is not None:
            self._rich.advance(self._task, step)
        elif self._bar is not None:
            self._bar.update(step)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self._bar is not None:
            self._bar.close()


# ---- evaluate_files ----------------------------------------------------------------------


def parse_columns(columns: Any) -> dict[str, str]:
    """Column names as a dict with keys among ``"true"``, ``"pred"`` and ``"weight"``.

    Parameters
    ----------
    columns : dict, str or None
        ``{"true": "y", "pred": "yhat", "weight": "w"}``, the same as a string
        ``"true=y,pred=yhat,weight=w"``, or None (no names: an empty dict).

    Returns
    -------
    dict of str to str
        A new dict; the caller may change it.

    Raises
    ------
    ValueError
        A malformed string, a key other than true/pred/weight, or a value that is not a str.

    Examples
    --------
    >>> from l2loss._files import parse_columns
    >>> parse_columns("true=y,pred=yhat")
    {'true': 'y', 'pred': 'yhat'}
    """
    if columns is None:
        return {}
    if isinstance(columns, str):
        out = {}
        for part in columns.split(","):
            key, sep, value = part.partition("=")
            if not sep or not value.strip():
                raise ValueError(f"columns: expected 'true=NAME,pred=NAME[,weight=NAME]', got {part!r}")
            out[key.strip()] = value.strip()
        columns = out
    if not isinstance(columns, dict) or set(columns) - {"true", "pred", "weight"}:
        raise ValueError(f"columns must map 'true'/'pred'/'weight' to column names, got {columns!r}")
    if not all(isinstance(v, str) for v in columns.values()):
        raise ValueError(f"columns: the column names must be strings, got {columns!r}")
    return dict(columns)


# The older private name, kept for callers of the first versions.
_parse_columns = parse_columns


def _first_nonfinite_row(chunk: np.ndarray) -> tuple[int, str] | None:
    a = np.asarray(chunk)
    if a.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad.reshape(len(a), -1).any(axis=1))[0])
    return row, "NaN" if np.isnan(a[row]).any() else "infinity"


@overload
def evaluate_files(
    y_true_path: str | os.PathLike[str],
    y_pred_path: str | os.PathLike[str] | None = ...,
    *,
    weights_path: str | os.PathLike[str] | None = ...,
    columns: Any = ...,
    chunk_size: int = ...,
    multioutput: Any = ...,
    progress: bool | None = ...,
    num_threads: int | None = ...,
    group_by: None = ...,
) -> RegressionReport: ...
@overload
def evaluate_files(
    y_true_path: str | os.PathLike[str],
    y_pred_path: str | os.PathLike[str] | None = ...,
    *,
    weights_path: str | os.PathLike[str] | None = ...,
    columns: Any = ...,
    chunk_size: int = ...,
    multioutput: Any = ...,
    progress: bool | None = ...,
    num_threads: int | None = ...,
    group_by: str,
) -> GroupedReport: ...
def evaluate_files(
    y_true_path: str | os.PathLike[str],
    y_pred_path: str | os.PathLike[str] | None = None,
    *,
    weights_path: str | os.PathLike[str] | None = None,
    columns: Any = None,
    chunk_size: int = DEFAULT_CHUNK_ROWS,
    multioutput: Any = "uniform_average",
    progress: bool | None = None,
    num_threads: int | None = None,
    group_by: str | None = None,
) -> RegressionReport | GroupedReport:
    """Evaluate predictions stored in files of any size, in bounded memory.

    The files are read in chunks of ``chunk_size`` rows into one exact
    :class:`~l2loss.RegressionAccumulator`, so the result has exactly the bits of
    :func:`l2loss.regression_report` on the whole arrays, whatever the chunk size.

    Argument order: ``y_true_path`` (the targets) first, then ``y_pred_path`` (the
    predictions), as in scikit-learn.

    Parameters
    ----------
    y_true_path : str or os.PathLike
        The true values, or a table holding every operand (then omit ``y_pred_path`` and
        name the columns). Formats, by extension: ``.npy`` (memory-mapped), ``.npz``,
        ``.parquet``/``.pq``, ``.arrow``/``.feather``/``.ipc`` (Parquet and Arrow need
        pyarrow), ``.csv``, ``.tsv``, ``.txt``. 1-D, or 2-D ``(n, n_outputs)`` arrays.
    y_pred_path : str or os.PathLike, optional
        The predictions. Omitted (None): read from ``y_true_path``, whose columns
        ``columns`` must name.
    weights_path : str or os.PathLike, optional
        Sample weights, one per row. When omitted but ``columns`` names a ``"weight"``
        column, the weights are read from the one table (``y_pred_path`` omitted).
    columns : dict or str, optional
        Column (or ``.npz`` array) names: ``{"true": "y", "pred": "yhat", "weight": "w"}``
        or ``"true=y,pred=yhat,weight=w"``. Needed for files that hold several columns.
    chunk_size : int, default 1048576
        Rows per chunk; peak memory is a few chunks.
    multioutput : {"uniform_average", "raw_values"} or array-like, default "uniform_average"
        As in :func:`l2loss.regression_report`.
    progress : bool or None, default None
        A progress bar on stderr (rich or tqdm, when installed), shown only when stderr is
        a terminal: None shows it for inputs of 64 MB or more, True for any size, False
        never. It counts rows, or bytes for a CSV whose length is unknown until its end.
    num_threads : int, optional
        Threads per chunk (default: :func:`l2loss.get_num_threads`).
    group_by : str, optional
        A column (or ``.npz`` array) of ``y_true_path`` holding a group key per row: the
        result is then a :class:`~l2loss.GroupedReport` (one report per key, bitwise equal
        to :func:`l2loss.grouped_report` on the whole arrays, whatever the chunk size).

    Returns
    -------
    RegressionReport or GroupedReport
        MSE, RMSE, MAE, R², explained variance, max error, mean error, the number of
        samples and the weight sum.

    Raises
    ------
    FileFormatError
        A file is missing, of an unknown type, unreadable, truncated or corrupted, or
        lacks a named column.
    ValueError
        The inputs differ in length, hold NaN or infinity (the message names the first
        offending row), or are empty.

    Examples
    --------
    Two files, one per operand (written here to the current directory):

    >>> import numpy as np, l2loss
    >>> y_true, y_pred = np.array([3.0, -0.5, 2.0, 7.0]), np.array([2.5, 0.0, 2.0, 8.0])
    >>> np.save("y_true.npy", y_true)
    >>> np.save("y_pred.npy", y_pred)
    >>> report = l2loss.evaluate_files("y_true.npy", "y_pred.npy")
    >>> report.mse, report.r2
    (0.375, 0.9486081370449679)

    One table whose columns are named:

    >>> np.savetxt("table.csv", np.c_[y_true, y_pred], delimiter=",", header="y,yhat", comments="")
    >>> l2loss.evaluate_files("table.csv", columns={"true": "y", "pred": "yhat"}).mse
    0.375
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    cols = parse_columns(columns)
    if y_pred_path is None:
        missing = [k for k in ("true", "pred") if k not in cols]
        if missing:
            raise ValueError(
                "y_pred_path: omitted, so y_true_path is one table and columns= must name its "
                f"{' and '.join(repr(k) for k in missing)} column(s)"
            )
        y_pred_path = y_true_path
        if weights_path is None and "weight" in cols:
            weights_path = y_true_path
    readers = [
        open_reader("y_true", y_true_path, cols.get("true")),
        open_reader("y_pred", y_pred_path, cols.get("pred")),
    ]
    if weights_path is not None:
        readers.append(open_reader("sample_weight", weights_path, cols.get("weight")))
    if group_by is not None:
        if not isinstance(group_by, str):
            raise TypeError(f"group_by must be a column name (str), got {group_by!r}")
        readers.append(open_reader("groups", y_true_path, group_by, keys=True))
    known = [(r.name, r.path, r.n_rows) for r in readers if r.n_rows is not None]
    if len({n for _, _, n in known}) > 1:
        detail = ", ".join(f"{name} ({path}) has {n} rows" for name, path, n in known)
        raise ValueError(f"inputs have different lengths: {detail}")

    acc: Any
    if group_by is not None:
        from ._grouped import GroupedAccumulator

        acc = GroupedAccumulator(num_threads=num_threads)
    else:
        acc = RegressionAccumulator(num_threads=num_threads)
    total_rows = known[0][2] if known else None
    # Progress in rows when some input knows its row count, else in bytes of the first input.
    by_bytes = total_rows is None
    total_bytes = readers[0].nbytes or None
    show = progress is True or (progress is None and sum(r.nbytes for r in readers) >= PROGRESS_MIN_BYTES)
    bar = _Progress(
        total_bytes if by_bytes else total_rows, "bytes" if by_bytes else "rows", "l2loss eval", show
    )
    row = 0
    try:
        iterators = [r.chunks(int(chunk_size)) for r in readers]
        for parts in itertools.zip_longest(*iterators):
            if any(p is None for p in parts):
                _raise_length_mismatch(readers, parts, iterators, row, int(chunk_size))
            lengths = {len(p) for p in parts}
            if len(lengths) > 1:
                _raise_length_mismatch(readers, parts, iterators, row, int(chunk_size))
            try:
                if group_by is not None:
                    weights = parts[2] if len(parts) > 3 else None
                    acc.update(parts[0], parts[1], parts[-1], weights)
                else:
                    acc.update(parts[0], parts[1], parts[2] if len(parts) > 2 else None)
            except ValueError as exc:
                for reader, part in zip(readers, parts):
                    where = _first_nonfinite_row(part)
                    if where is not None:
                        r, kind = where
                        raise ValueError(
                            f"{reader.name} ({reader.path}) contains {kind} at row {row + r}"
                        ) from None
                raise ValueError(f"rows {row}-{row + len(parts[0]) - 1}: {exc}") from None
            row += len(parts[0])
            bar.update((readers[0].bytes_read or 0) if by_bytes else row)
    finally:
        bar.close()
    if row == 0:
        raise ValueError(f"{readers[0].path}: no rows to evaluate")
    result = acc.compute(multioutput)
    if group_by is not None:
        from dataclasses import replace

        result = replace(result, key_name=group_by)
    return result  # type: ignore[no-any-return]


def _raise_length_mismatch(
    readers: list[_Reader],
    parts: tuple[Any, ...],
    iterators: list[Iterator[np.ndarray]],
    row: int,
    chunk: int,
) -> None:
    """Count every input to the end so the message can say all lengths."""
    counts = []
    for part, it in zip(parts, iterators):
        n = row + (len(part) if part is not None else 0)
        for more in it:
            n += len(more)
        counts.append(n)
    detail = ", ".join(f"{r.name} ({r.path}) has {n} rows" for r, n in zip(readers, counts))
    raise ValueError(f"inputs have different lengths: {detail}")
