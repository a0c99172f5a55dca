"""Out-of-core evaluation: prediction files of any size, read in chunks into the exact state.

Formats: ``.npy`` (memory-mapped one chunk window at a time, so resident memory stays
bounded by the chunk size), ``.npz`` (members streamed from the zip), Parquet and Arrow
IPC (pyarrow, optional), CSV/TSV/TXT (pyarrow's streaming reader when installed, else
NumPy on line batches). Every reader yields row chunks of exactly ``chunk_size`` rows.
"""

from __future__ import annotations

import itertools
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._report import RegressionReport
from ._stream import RegressionAccumulator

__all__ = ["evaluate_files", "FileFormatError"]

DEFAULT_CHUNK_ROWS = 1 << 20
PROGRESS_MIN_BYTES = 64 << 20  # below this a progress bar is only noise


class FileFormatError(ValueError):
    """A file is missing, unreadable, truncated, or lacks the requested column."""


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
        for start in range(0, self.n_rows, rows):
            stop = min(start + rows, self.n_rows)
            if self.fortran and len(self.shape) == 2:
                # Column-major: map the file, take a strided row window.
                mm = np.memmap(self.path, self.dtype, "r", self.offset, self.shape, order="F")
                yield mm[start:stop]
            else:
                # Map just this window; dropping it unmaps it, so resident memory stays
                # bounded by the chunk (a whole-file map would keep every page touched).
                mm = np.memmap(self.path, self.dtype, "r", self.offset + start * row_bytes,
                               (stop - start, *self.shape[1:]))
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
        if key is None:
            if len(names) != 1:
                raise FileFormatError(f"{path}: holds arrays {names}; choose one with columns=")
            key = names[0]
        if key not in names:
            raise FileFormatError(f"{path}: no array {key!r} (arrays: {names})")
        self.member = key + ".npy"
        with zipfile.ZipFile(path) as z, z.open(self.member) as f:
            self.shape, self.fortran, self.dtype = _read_npy_header(f)
        if len(self.shape) not in (1, 2):
            raise FileFormatError(f"{path}: array {key!r} must be 1-D or 2-D, got shape {self.shape}")
        self.n_rows = int(self.shape[0])
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        row_shape = tuple(self.shape[1:])
        row_bytes = int(np.prod(row_shape)) * self.dtype.itemsize
        with zipfile.ZipFile(self.path) as z, z.open(self.member) as f:
            _read_npy_header(f)
            if self.fortran and len(self.shape) == 2:  # column-major: rows are not contiguous
                data = np.frombuffer(f.read(), dtype=self.dtype)
                if data.size != int(np.prod(self.shape)):
                    raise FileFormatError(f"{self.path}: truncated array in .npz")
                full = data.reshape(self.shape, order="F")
                for start in range(0, self.n_rows, rows):
                    yield full[start : start + rows]
                return
            for start in range(0, self.n_rows, rows):
                n = min(rows, self.n_rows - start)
                buf = f.read(n * row_bytes)
                if len(buf) != n * row_bytes:
                    raise FileFormatError(f"{self.path}: truncated array in .npz")
                yield np.frombuffer(buf, dtype=self.dtype).reshape((n, *row_shape))


def _require_pyarrow(path: Path) -> Any:
    try:
        import pyarrow
    except ImportError:
        raise FileFormatError(f"{path}: reading this format needs pyarrow (pip install 'l2loss[files]')") from None
    return pyarrow


class _ArrowReader(_Reader):
    """Parquet, Arrow IPC (file or stream) and CSV via pyarrow's streaming readers."""

    def __init__(self, name: str, path: Path, column: str | None, kind: str) -> None:
        self.name, self.path, self.kind = name, path, kind
        self.pa = _require_pyarrow(path)
        schema_names = self._schema_names()
        if column is None:
            if len(schema_names) != 1:
                raise FileFormatError(f"{path}: has columns {schema_names}; choose one with columns=")
            column = schema_names[0]
        if column not in schema_names:
            raise FileFormatError(f"{path}: no column {column!r} (columns: {schema_names})")
        self.column = column
        self.nbytes = path.stat().st_size

    def _open_csv(self) -> Any:
        from pyarrow import csv

        parse = csv.ParseOptions(delimiter="\t" if self.path.suffix.lower() == ".tsv" else ",")
        return csv.open_csv(self.path, parse_options=parse, read_options=csv.ReadOptions(block_size=1 << 22))

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
            yield from (b.select([self.column]) for b in self._open_csv())

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        have = 0
        try:
            for batch in self._batches():
                arr = batch.column(0).to_numpy(zero_copy_only=False)
                if arr.dtype == object:
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
        self.delimiter = "," if path.suffix.lower() == ".csv" else ("\t" if path.suffix.lower() == ".tsv" else None)
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
            if self.has_header:
                f.readline()
            line_no = 1 + int(self.has_header)
            while True:
                lines = list(itertools.islice(f, rows))
                if not lines:
                    return
                try:
                    block = np.loadtxt(lines, delimiter=self.delimiter, ndmin=2, dtype=np.float64)
                except ValueError as exc:
                    raise FileFormatError(f"{self.path}: unreadable data near line {line_no} ({exc})") from None
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


def open_reader(name: str, path: str | os.PathLike[str], column: str | None) -> _Reader:
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
        f"{p}: unsupported file type {suffix!r} (use .npy, .npz, .parquet, .arrow/.feather, .csv, .tsv or .txt)"
    )


# ---- progress ----------------------------------------------------------------------------


class _Progress:
    """rich (preferred) or tqdm on stderr; silent when neither is installed."""

    def __init__(self, total_rows: int | None, label: str, enabled: bool) -> None:
        self._bar: Any = None
        self._rich: Any = None
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._rich = Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._rich.start()
            self._task = self._rich.add_task(label, total=total_rows)
            return
        except ImportError:
            pass
        try:
            from tqdm import tqdm

            self._bar = tqdm(total=total_rows, desc=label, unit="rows", unit_scale=True, leave=False)
        except ImportError:
            pass

    def advance(self, rows: int) -> None:
        if self._rich is not None:
            self._rich.advance(self._task, rows)
        elif self._bar is not None:
            self._bar.update(rows)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self._bar is not None:
            self._bar.close()


# ---- evaluate_files ----------------------------------------------------------------------


def _parse_columns(columns: Any) -> dict[str, str]:
    if columns is None:
        return {}
    if isinstance(columns, str):
        out = {}
        for part in columns.split(","):
            key, sep, value = part.partition("=")
            if not sep or not value:
                raise ValueError(f"columns: expected 'true=NAME,pred=NAME[,weight=NAME]', got {part!r}")
            out[key.strip()] = value.strip()
        columns = out
    if not isinstance(columns, dict) or set(columns) - {"true", "pred", "weight"}:
        raise ValueError(f"columns must map 'true'/'pred'/'weight' to column names, got {columns!r}")
    return dict(columns)


def _first_nonfinite_row(chunk: np.ndarray) -> tuple[int, str] | None:
    a = np.asarray(chunk)
    if a.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    row = int(np.flatnonzero(bad.reshape(len(a), -1).any(axis=1))[0])
    return row, "NaN" if np.isnan(a[row]).any() else "infinity"


def evaluate_files(
    y_true_path: str | os.PathLike[str],
    y_pred_path: str | os.PathLike[str],
    *,
    weights_path: str | os.PathLike[str] | None = None,
    columns: Any = None,
    chunk_size: int = DEFAULT_CHUNK_ROWS,
    multioutput: Any = "uniform_average",
    progress: bool = True,
    num_threads: int | None = None,
) -> RegressionReport:
    """Evaluate prediction files of any size with bounded memory; returns a RegressionReport.

    Parameters
    ----------
    y_true_path, y_pred_path, weights_path : path
        ``.npy``, ``.npz``, ``.parquet``, ``.arrow``/``.feather``, ``.csv``, ``.tsv`` or ``.txt``.
    columns : dict or str, optional
        Column (or .npz array) names: ``{"true": "y", "pred": "yhat", "weight": "w"}`` or
        ``"true=y,pred=yhat,weight=w"``. Needed when a file holds several columns.
    chunk_size : int
        Rows per chunk; peak memory is a few chunks.
    progress : bool
        Show a progress bar on stderr (rich or tqdm) for inputs above 64 MB.

    The result has exactly the bits of :func:`l2loss.regression_report` on the whole
    arrays. Errors name the file, and for NaN/infinity the first offending row.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    cols = _parse_columns(columns)
    readers = [open_reader("y_true", y_true_path, cols.get("true")), open_reader("y_pred", y_pred_path, cols.get("pred"))]
    if weights_path is not None:
        readers.append(open_reader("sample_weight", weights_path, cols.get("weight")))
    known = [(r.name, r.path, r.n_rows) for r in readers if r.n_rows is not None]
    if len({n for _, _, n in known}) > 1:
        detail = ", ".join(f"{name} ({path}) has {n} rows" for name, path, n in known)
        raise ValueError(f"inputs have different lengths: {detail}")

    acc = RegressionAccumulator(num_threads=num_threads)
    total_rows = known[0][2] if known else None
    bar = _Progress(total_rows, "l2loss eval", progress and sum(r.nbytes for r in readers) >= PROGRESS_MIN_BYTES)
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
            bar.advance(len(parts[0]))
    finally:
        bar.close()
    if row == 0:
        raise ValueError(f"{readers[0].path}: no rows to evaluate")
    return acc.compute(multioutput)


def _raise_length_mismatch(readers: list[_Reader], parts: tuple[Any, ...], iterators: list[Iterator[np.ndarray]],
                           row: int, chunk: int) -> None:
    """Count every input to the end so the message can say all lengths."""
    counts = []
    for part, it in zip(parts, iterators):
        n = row + (len(part) if part is not None else 0)
        for more in it:
            n += len(more)
        counts.append(n)
    detail = ", ".join(f"{r.name} ({r.path}) has {n} rows" for r, n in zip(readers, counts))
    raise ValueError(f"inputs have different lengths: {detail}")
