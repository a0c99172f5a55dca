"""The ``l2loss`` command line: ``bench`` (the built-in demo), ``eval`` (files) and ``info``.

``l2loss bench`` needs no input: it generates data, times l2loss against the pure-NumPy
reference and every installed peer side by side, and checks that the answers agree.
``l2loss eval`` evaluates prediction files of any size in bounded memory: two files
(``Y_TRUE Y_PRED``) or one table whose columns are named (``TABLE --true y --pred yhat``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _config, _core
from . import mean_squared_error as l2_mse
from ._files import FileFormatError, evaluate_files, parse_columns
from ._version import __version__

__all__ = ["main", "build_parser", "worst_groups"]

# Upper bounds of the numeric options: far beyond any real use, far below an overflow.
MAX_CLI_THREADS = 4096
MAX_CHUNK_ROWS = 1 << 40
MAX_BENCH_SIZE = 1 << 40
MAX_REPEATS = 1_000_000
MAX_SEED = 2**64 - 1


class CliError(Exception):
    """A user-facing problem: printed as one line on stderr, exit status 2."""


# ---- numeric options -----------------------------------------------------------------------


def _integer_option(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type=``: an integer in [low, high], written ``12``, ``1_000`` or ``1e6``.

    Anything else (``1e999``, ``nan``, ``1.5``, ``abc``, a value out of range) is an
    ``ArgumentTypeError``, so argparse prints a usage error and exits with status 2.
    """

    def parse(text: str) -> int:
        s = text.strip()
        try:
            value = int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
            if not math.isfinite(f) or f != math.floor(f):
                raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
            value = int(f)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer from {low:,} to {high:,}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


# ---- eval --------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: a non-finite number becomes ``null``."""
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def report_json(report: Any) -> str:
    """The report as strict JSON (RFC 8259): undefined or non-finite values are ``null``.

    Parameters
    ----------
    report : RegressionReport
        What :func:`l2loss.evaluate_files` or :func:`l2loss.regression_report` returned.

    Returns
    -------
    str
        An indented JSON object with one key per field of the report.

    Examples
    --------
    >>> import l2loss
    >>> from l2loss.cli import report_json
    >>> print(report_json(l2loss.regression_report([1.0, 2.0], [1.5, 2.5])))  # doctest: +ELLIPSIS
    {
      "mse": 0.25,
      "rmse": 0.5,
    ...
      "n_samples": 2,
      "weight_sum": 2.0
    }
    """
    return json.dumps({k: _json_safe(v) for k, v in report.to_dict().items()}, indent=2, allow_nan=False)


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        print(report_json(report))
        return
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(repr(report))
        return
    table = Table(title=f"l2loss: {report.n_samples:,} samples, weight sum {report.weight_sum:.6g}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in report._METRICS:
        table.add_row(name, report._format(getattr(report, name)))
    Console().print(table)


def _eval_inputs(args: argparse.Namespace) -> tuple[str, str | None, str | None, dict[str, str]]:
    """(y_true path, y_pred path or None for one table, weights path, column names)."""
    try:
        cols = parse_columns(args.columns)
    except ValueError as exc:
        raise CliError(f"--columns: {exc}") from None
    for key, value in (("true", args.true_col), ("pred", args.pred_col), ("weight", args.weight_col)):
        if value is None:
            continue
        if key in cols and cols[key] != value:
            raise CliError(f"--{key} {value!r} contradicts --columns {key}={cols[key]}")
        cols[key] = value
    if args.y_pred is None:
        missing = [f"--{k} COLUMN" for k in ("true", "pred") if k not in cols]
        if missing:
            raise CliError(
                f"one file given: name its columns with {' and '.join(missing)} "
                "(or give two files: l2loss eval Y_TRUE Y_PRED)"
            )
    elif "weight" in cols and args.weights is None:
        raise CliError("--weight names a column of the weights file: add --weights FILE")
    return args.y_true, args.y_pred, args.weights, cols


# For "worst groups first": a higher value is worse, except for these (lower is worse);
# the bias is ranked by its magnitude.
_HIGHER_IS_BETTER = ("r2", "explained_variance")
GROUP_SORT_KEYS = ("rmse", "mse", "mae", "r2", "explained_variance", "max_error", "mean_error")
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".json")


def worst_groups(report: Any, by: str, top: int) -> np.ndarray:
    """Row indices of the ``top`` worst groups of a GroupedReport by metric ``by``.

    Parameters
    ----------
    report : GroupedReport
        Per-group results.
    by : str
        A metric field (``"rmse"``, ``"r2"``, ...): worst means highest, lowest for R^2 and
        explained variance, largest magnitude for ``mean_error``. NaN ranks last.
    top : int
        How many groups.

    Returns
    -------
    ndarray of int
        Indices into the report's columns, worst first (ties: in key order).

    Examples
    --------
    >>> import l2loss
    >>> from l2loss.cli import worst_groups
    >>> rep = l2loss.grouped_report([0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 3.0, 4.0], ["a", "a", "b", "b"])
    >>> rep.keys[worst_groups(rep, "rmse", 1)].tolist()
    ['b']
    """
    values = np.asarray(getattr(report, by), dtype=np.float64)
    if values.ndim == 2:  # raw values: rank by the mean over the outputs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            values = np.nanmean(values, axis=1)
    if by == "mean_error":
        values = np.abs(values)
    badness = values if by not in _HIGHER_IS_BETTER else -values
    badness = np.where(np.isnan(badness), -np.inf, badness)
    return np.argsort(-badness, kind="stable")[:top]


def _write_table(report: Any, path: str) -> None:
    """The per-group table to CSV, Parquet or JSON (by the file's extension)."""
    suffix = Path(path).suffix.lower()
    cols = report.to_dict()
    if suffix == ".json":
        rows = [dict(zip(cols, values)) for values in zip(*cols.values())]
        text = json.dumps([{k: _json_safe(v) for k, v in r.items()} for r in rows], indent=1, allow_nan=False)
        Path(path).write_text(text + "\n", encoding="utf-8")
    elif suffix == ".csv":
        import csv

        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(cols)
            writer.writerows(zip(*cols.values()))
    else:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise CliError(f"--output {path}: writing Parquet needs pyarrow (pip install pyarrow)") from None
        pq.write_table(pa.table(cols), path)


def _print_groups(report: Any, by: str, top: int, as_json: bool) -> None:
    order = worst_groups(report, by, top)
    names = ["n_samples", "mse", "rmse", "mae", "r2", "max_error", "mean_error"]
    rows = order.tolist()
    if as_json:
        cols = report.to_dict()
        worst = [{k: _json_safe(v[i]) for k, v in cols.items()} for i in rows]
        summary = {
            "n_groups": len(report), "n_samples": int(report.n_samples.sum()), "sort_by": by, "worst": worst,
        }
        print(json.dumps(summary, indent=2, allow_nan=False))
        return

    def fmt(i: int, name: str) -> str:
        v = getattr(report, name)[i]
        if name == "n_samples":
            return f"{int(v):,}"
        return "[" + ", ".join(f"{x:.6g}" for x in v.tolist()) + "]" if np.ndim(v) else f"{v:.6g}"

    title = (f"l2loss: {len(report):,} groups, {int(report.n_samples.sum()):,} samples; "
             f"worst {len(rows)} by {by}")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        print("\t".join([report.key_name, *names]))
        for i in rows:
            print("\t".join([str(report.keys[i]), *(fmt(i, n) for n in names)]))
        return
    table = Table(title=title)
    for name in (report.key_name, *names):
        table.add_column(name, justify="left" if name == report.key_name else "right")
    for i in rows:
        table.add_row(str(report.keys[i]), *(fmt(i, n) for n in names))
    Console().print(table)


def cmd_eval(args: argparse.Namespace) -> int:
    """``l2loss eval``: evaluate files, print the report; returns the exit status."""
    y_true, y_pred, weights, cols = _eval_inputs(args)
    if args.group_by is None and args.output is not None:
        raise CliError("--output writes the per-group table: add --group-by COLUMN")
    if args.output is not None and Path(args.output).suffix.lower() not in _TABLE_SUFFIXES:
        raise CliError(f"--output {args.output}: use a .csv, .parquet or .json file name")
    progress = False if args.no_progress else (True if args.progress else None)
    try:
        report = evaluate_files(
            y_true,
            y_pred,
            weights_path=weights,
            columns=cols or None,
            chunk_size=args.chunk_size,
            multioutput=args.multioutput,
            progress=progress,
            num_threads=args.threads,
            group_by=args.group_by,
        )
        if args.output is not None:
            _write_table(report, args.output)
    except (FileFormatError, ValueError, TypeError, ZeroDivisionError, OSError, MemoryError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CliError(text) from None
    if args.group_by is not None:
        _print_groups(report, args.sort_by, args.top, args.json)
    else:
        _print_report(report, args.json)
    return 0


# ---- bench -------------------------------------------------------------------------------


def _peers(y_true: np.ndarray, y_pred: np.ndarray, threads: int) -> list[tuple[str, Callable[[], float]]]:
    """Installed alternatives a user might pick instead, each returning the MSE."""
    n = y_true.shape[0]
    peers: list[tuple[str, Callable[[], float]]] = []
    try:
        from sklearn.metrics import mean_squared_error as sk_mse

        peers.append(("sklearn mean_squared_error", lambda: sk_mse(y_true, y_pred)))
    except ImportError:
        pass
    try:
        import numexpr as ne

        peers.append(
            (
                "numexpr sum((a-b)**2)/n",
                lambda: float(ne.evaluate("sum((a - b) ** 2)", local_dict={"a": y_true, "b": y_pred})) / n,
            )
        )
    except ImportError:
        pass
    try:
        import numba

        @numba.njit(parallel=True, fastmath=True, cache=False)
        def _numba_mse(a: np.ndarray, b: np.ndarray) -> float:  # pragma: no cover - compiled
            s = 0.0
            for i in numba.prange(a.shape[0]):
                d = a[i] - b[i]
                s += d * d
            return s / a.shape[0]

        _numba_mse(y_true[:16], y_pred[:16])  # compile before timing
        peers.append(("numba prange fastmath", lambda: float(_numba_mse(y_true, y_pred))))
    except ImportError:
        pass
    try:
        import torch

        ty, tp = torch.from_numpy(y_true), torch.from_numpy(y_pred)
        peers.append(("torch F.mse_loss (CPU)", lambda: float(torch.nn.functional.mse_loss(tp, ty))))
    except ImportError:
        pass
    return peers


def run_full_suite(suite: Path, suite_args: Sequence[str]) -> int:
    """``l2loss bench --full``: the benchmark grid of benchmarks/run.py, in a child process
    (it imports its sibling modules and the peers); returns its exit code."""
    script = suite / "run.py"
    if not script.is_file():
        raise CliError(
            f"{script} not found: the full suite lives in the source checkout's benchmarks/ folder; "
            "run from the checkout's root or pass --suite DIR"
        )
    return subprocess.call([sys.executable, str(script), *suite_args])


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), or the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_description() -> str:
    """The CPU model and core count, e.g. ``Intel(R) Xeon(R) Processor, 2 cores``."""
    model = platform.processor() or platform.machine() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {usable_cores()} cores"


def busy_machine_warnings(load_average: float | None, cores: int, threads: int) -> list[str]:
    """Reasons the timings of ``l2loss bench`` will not be representative (empty if none).

    Parameters
    ----------
    load_average : float or None
        The 1-minute load average before the benchmark starts (None where unknown).
    cores : int
        Cores this process may use.
    threads : int
        Threads the benchmark runs l2loss with.

    Returns
    -------
    list of str
        One sentence per problem: threads oversubscribed, machine busy.

    Examples
    --------
    >>> from l2loss.cli import busy_machine_warnings
    >>> busy_machine_warnings(0.1, 2, 2)
    []
    >>> busy_machine_warnings(2.0, 2, 4)  # doctest: +NORMALIZE_WHITESPACE
    ['4 threads on 2 cores: the threads are oversubscribed and wait for each other;
      timings will be slow and noisy (use --threads 2 or fewer)',
     'the machine is busy (load average 2.0 on 2 cores): other processes compete for the cores,
      so timings can be many times slower than on a quiet machine']
    """
    out = []
    if threads > cores:
        out.append(
            f"{threads} threads on {cores} cores: the threads are oversubscribed and wait for each other; "
            f"timings will be slow and noisy (use --threads {cores} or fewer)"
        )
    if load_average is not None and load_average >= 0.5 * cores:
        out.append(
            f"the machine is busy (load average {load_average:.1f} on {cores} cores): other processes "
            "compete for the cores, so timings can be many times slower than on a quiet machine"
        )
    return out


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _warn(message: str) -> None:
    print(f"l2loss: warning: {message}", file=sys.stderr)


def _check_memory(nbytes: int) -> None:
    """Refuse a --size whose arrays (plus NumPy's temporaries) cannot fit in free memory."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return
    need = 2 * nbytes  # the inputs, and NumPy's two full-size temporaries
    if need > available:
        raise CliError(f"--size needs about {need / 1e9:.1f} GB of memory, {available / 1e9:.1f} GB is free")


PROBE = "bandwidth probe (naive read)"
PROBE_NOTE = (
    "bandwidth probe: a plain, non-exact sum over both arrays with the same threads, compiled to "
    "read memory as fast as this machine can: the yardstick for memory speed, not a usable metric"
)


def cmd_bench(args: argparse.Namespace) -> int:
    """``l2loss bench``: time the candidates on generated data; returns the exit status."""
    if args.full:
        return run_full_suite(args.suite, args.suite_args)
    if args.suite_args:
        raise CliError(
            f"unexpected arguments {' '.join(args.suite_args)!r} (they go to the suite: use --full)"
        )
    n, dtype = args.size, np.dtype(args.dtype)
    threads = args.threads or _config.get_num_threads()
    cores = usable_cores()
    for message in busy_machine_warnings(_load_average(), cores, threads):
        _warn(message)
    _check_memory(2 * n * dtype.itemsize)
    try:
        rng = np.random.default_rng(args.seed)
        y_true = rng.standard_normal(n).astype(dtype)
        y_pred = (y_true + rng.standard_normal(n).astype(dtype) * dtype.type(0.1)).astype(dtype)
    except MemoryError:
        raise CliError(f"not enough memory for --size {n}") from None
    nbytes = y_true.nbytes + y_pred.nbytes
    candidates: list[tuple[str, Callable[[], Any]]] = [
        ("l2loss.mean_squared_error", lambda: l2_mse(y_true, y_pred, num_threads=threads)),
        ("numpy np.mean((y-p)**2)", lambda: float(np.mean((y_true - y_pred) ** 2))),
        *_peers(y_true, y_pred, threads),
        (PROBE, lambda: _core._bandwidth_probe(y_true, y_pred, threads) / n),
    ]
    # The answers must agree before any time counts.
    exact = l2_mse(y_true, y_pred)
    values = {name: fn() for name, fn in candidates}
    tol = 1e-4 if dtype == np.float32 else 1e-10
    disagree = [name for name, v in values.items() if not math.isclose(v, exact, rel_tol=tol)]
    times: dict[str, list[float]] = {name: [] for name, _ in candidates}
    for _ in range(args.repeats):  # interleaved, so drift hits every candidate alike
        for name, fn in candidates:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: sorted(v)[len(v) // 2] for name, v in times.items()}
    cfg = _config.config()
    machine = machine_description()
    print(
        f"l2loss {cfg['version']} bench: n={n:,} {dtype.name}, ISA {cfg['isa']}, OpenMP "
        f"{'on' if cfg['openmp'] else 'off'}, {threads} thread(s), "
        f"median of {args.repeats} interleaved repeats"
    )
    print(f"  machine: {machine}")
    print(f"  MSE = {exact!r} (correctly rounded)")
    base = med["numpy np.mean((y-p)**2)"]
    probe = med[PROBE]
    print(f"  {'candidate':<30}{'time':>11}{'GB/s':>8}{'vs NumPy':>10}{'of probe':>10}{'rel. err':>10}")
    for name, _ in candidates:
        t = med[name]
        err = abs(values[name] - exact) / exact if exact else 0.0
        print(
            f"  {name:<30}{t * 1e3:>9.3f}ms{nbytes / t / 1e9:>8.2f}"
            f"{base / t:>9.1f}x{probe / t:>9.2f}x{err:>10.1e}"
        )
    print(f"  ({PROBE_NOTE}; 'of probe' = probe time / candidate time, 1.0 = memory speed)")
    spread = max(times["l2loss.mean_squared_error"]) / max(min(times["l2loss.mean_squared_error"]), 1e-12)
    if args.repeats >= 3 and spread > 3.0:
        _warn(
            f"l2loss's repeats varied {spread:.0f}x between fastest and slowest: the machine was busy, "
            "so these timings are not representative; rerun on a quiet machine"
        )
    if args.plot:
        labels = chart_labels(
            med, nbytes, n=n, dtype=dtype.name, threads=threads, machine=machine, repeats=args.repeats
        )
        _plot(labels, args.plot)
        print(f"  chart written to {args.plot}")
    if disagree:
        print(f"l2loss: error: answers disagree beyond {tol:g}: {', '.join(disagree)}", file=sys.stderr)
        return 1
    return 0


def chart_labels(
    med: dict[str, float], nbytes: int, *, n: int, dtype: str, threads: int, machine: str, repeats: int
) -> dict[str, Any]:
    """What the ``bench --plot`` chart shows: bars, their value labels, title and footnote.

    Parameters
    ----------
    med : dict of str to float
        Median seconds per call of each candidate.
    nbytes : int
        Bytes one call reads (both arrays).
    n, dtype, threads, machine, repeats
        The run's size, dtype name, thread count, machine description and repeat count.

    Returns
    -------
    dict
        ``names`` and ``gbs`` (bar names and GB/s), ``values`` (one label per bar: GB/s and
        time), ``title``, ``xlabel`` and ``note`` (what the bandwidth probe is).

    Examples
    --------
    >>> from l2loss.cli import chart_labels
    >>> c = chart_labels({"l2loss.mean_squared_error": 0.001}, 16_000_000, n=1_000_000, dtype="float64",
    ...                  threads=2, machine="Example CPU, 2 cores", repeats=7)
    >>> c["values"], c["title"]
    (['16.0 GB/s, 1.000 ms'], 'MSE of 1,000,000 float64 pairs, 2 threads, Example CPU, 2 cores')
    """
    names = list(med)
    gbs = [nbytes / med[k] / 1e9 for k in names]
    return {
        "names": names,
        "gbs": gbs,
        "values": [f"{g:.1f} GB/s, {med[k] * 1e3:.3f} ms" for g, k in zip(gbs, names)],
        "title": f"MSE of {n:,} {dtype} pairs, {threads} thread{'s' if threads != 1 else ''}, {machine}",
        "xlabel": f"GB/s read (higher is better; median of {repeats} interleaved repeats)",
        "note": PROBE_NOTE,
    }


def _plot(labels: dict[str, Any], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CliError("--plot needs matplotlib (pip install matplotlib)") from None
    names, gbs = labels["names"][::-1], labels["gbs"][::-1]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.45 * len(names)))
    bars = ax.barh(names, gbs, color=["#1f77b4" if k.startswith("l2loss") else "#999999" for k in names])
    ax.bar_label(bars, labels=labels["values"][::-1], padding=3, fontsize=8)
    ax.set_xlim(0, max(gbs) * 1.35)
    ax.set_xlabel(labels["xlabel"])
    ax.set_title(labels["title"], fontsize=10)
    fig.text(0.01, 0.01, labels["note"], fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- info ----------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    """``l2loss info``: version, ISA path, OpenMP and threads; returns the exit status."""
    if args.json:
        print(json.dumps(_config.config(), indent=2))
    else:
        _config.show_config()
    return 0


# ---- parser --------------------------------------------------------------------------------

_TOP_DESCRIPTION = """\
l2loss: exact, reproducible squared-error metrics (MSE, RMSE, MAE, R2, ...) from the command line.
"""

_TOP_EPILOG = """\
examples:
  l2loss bench
  l2loss eval y_true.npy y_pred.npy
  l2loss eval table.parquet --true y --pred yhat --json
  l2loss info

'l2loss COMMAND --help' describes each command.
"""

_EVAL_DESCRIPTION = """\
Evaluate predictions stored in files, in bounded memory (chunks of --chunk-size rows), and
print MSE, RMSE, MAE, R2, explained variance, max error and the mean error (bias).
The results have exactly the bits of l2loss.regression_report on the whole arrays.

Two forms:
  l2loss eval TABLE --true COLUMN --pred COLUMN [--weight COLUMN]
      one table file holding the targets, the predictions and optionally the weights
  l2loss eval Y_TRUE Y_PRED [--weights FILE] [--true COLUMN] [--pred COLUMN] [--weight COLUMN]
      one file per operand; columns are needed only for files with several columns

Formats (by file extension):
  .npy                  NumPy array, 1-D or 2-D (n, outputs), memory-mapped
  .npz                  NumPy archive: name the arrays with --true/--pred/--weight
  .parquet, .pq         Parquet (needs pyarrow)
  .arrow, .feather, .ipc  Arrow IPC file or stream (needs pyarrow)
  .csv, .tsv            comma/tab separated, with a header row when columns are named
  .txt                  whitespace separated numbers
"""

_EVAL_EPILOG = """\
examples:
  l2loss eval y_true.npy y_pred.npy
  l2loss eval table.parquet --true y --pred yhat --weight w
  l2loss eval scores.csv --true target --pred prediction --json > report.json
  l2loss eval arrays.npz --true y --pred p --multioutput raw_values
  l2loss eval truth.csv preds.csv --true y --pred yhat --weights w.npy

--json prints strict JSON: an undefined value (such as R2 of fewer than two samples) is null.
Exit status: 0 on success, 2 on a usage error or an unreadable file.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``l2loss`` argument parser (``bench``, ``eval``, ``info``, ``--version``).

    Returns
    -------
    argparse.ArgumentParser
        Parses a command line into a namespace whose ``func`` runs the command.

    Examples
    --------
    >>> from l2loss.cli import build_parser
    >>> args = build_parser().parse_args(["eval", "table.parquet", "--true", "y", "--pred", "yhat"])
    >>> args.y_true, args.y_pred, args.true_col, args.pred_col
    ('table.parquet', None, 'y', 'yhat')
    """
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="l2loss", description=_TOP_DESCRIPTION, epilog=_TOP_EPILOG, formatter_class=raw
    )
    parser.add_argument("-V", "--version", action="version", version=f"l2loss {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    count = _integer_option

    p = sub.add_parser(
        "bench",
        help="built-in benchmark on generated data (the main demo)",
        description="Time l2loss.mean_squared_error against NumPy, sklearn and every installed "
        "peer on generated data, side by side, after checking that their answers agree.",
        formatter_class=raw,
    )
    p.add_argument(
        "--size",
        "-n",
        type=count(1, MAX_BENCH_SIZE),
        default=10_000_000,
        help="elements per array (default 1e7)",
    )
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument(
        "--repeats", type=count(1, MAX_REPEATS), default=7, help="interleaved timing rounds (default 7)"
    )
    p.add_argument(
        "--threads",
        type=count(1, MAX_CLI_THREADS),
        default=None,
        help="threads for l2loss and the probe (default: l2loss.get_num_threads())",
    )
    p.add_argument("--seed", type=count(0, MAX_SEED), default=0, help="random seed of the generated data")
    p.add_argument("--plot", metavar="PNG", help="write a bar chart (needs matplotlib)")
    p.add_argument(
        "--full",
        action="store_true",
        help="run the whole benchmark suite instead (benchmarks/run.py of a source checkout, with the "
        "'bench' extra installed); arguments after -- go to it, e.g. l2loss bench --full -- --quick --plot",
    )
    p.add_argument(
        "--suite",
        metavar="DIR",
        type=Path,
        default=Path("benchmarks"),
        help="the checkout's benchmarks/ folder for --full (default: ./benchmarks)",
    )
    p.add_argument("suite_args", nargs="*", metavar="-- SUITE_ARGS", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "eval",
        help="evaluate prediction files (any size, bounded memory)",
        description=_EVAL_DESCRIPTION,
        epilog=_EVAL_EPILOG,
        formatter_class=raw,
        usage="l2loss eval TABLE --true COLUMN --pred COLUMN [--weight COLUMN] [options]\n"
        "       l2loss eval Y_TRUE Y_PRED [--weights FILE] [options]",
    )
    p.add_argument("y_true", metavar="TABLE|Y_TRUE", help="the table, or the file of true values")
    p.add_argument(
        "y_pred",
        metavar="Y_PRED",
        nargs="?",
        default=None,
        help="the file of predictions (omit it when TABLE holds them)",
    )
    p.add_argument(
        "--true", dest="true_col", metavar="COLUMN", help="column (or .npz array) of the true values"
    )
    p.add_argument(
        "--pred", dest="pred_col", metavar="COLUMN", help="column (or .npz array) of the predictions"
    )
    p.add_argument(
        "--weight", dest="weight_col", metavar="COLUMN", help="column (or .npz array) of sample weights"
    )
    p.add_argument(
        "--weights", metavar="FILE", help="sample weights file (default: TABLE when --weight is given)"
    )
    p.add_argument(
        "--columns", help="the older spelling of the column names: true=NAME,pred=NAME[,weight=NAME]"
    )
    p.add_argument("--multioutput", default="uniform_average", choices=["raw_values", "uniform_average"])
    p.add_argument(
        "--chunk-size",
        type=count(1, MAX_CHUNK_ROWS),
        default=1 << 20,
        help="rows per chunk (default 1048576); memory use is a few chunks",
    )
    p.add_argument("--threads", type=count(1, MAX_CLI_THREADS), default=None, help="threads (default: all)")
    p.add_argument("--json", action="store_true", help="print strict JSON instead of a table")
    p.add_argument(
        "--group-by", metavar="COLUMN", default=None,
        help="column (or .npz array) of TABLE|Y_TRUE with a group key per row: one report per group",
    )
    p.add_argument(
        "--output", metavar="FILE", default=None,
        help="with --group-by: write the per-group table (.csv, .parquet or .json)",
    )
    p.add_argument(
        "--sort-by", choices=GROUP_SORT_KEYS, default="rmse",
        help="with --group-by: the metric that ranks the worst groups (default rmse)",
    )
    p.add_argument(
        "--top", type=count(1, MAX_REPEATS), default=10,
        help="with --group-by: how many worst groups to print (default 10)",
    )
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        action="store_true",
        help="show a progress bar on a terminal even for small inputs (default: inputs >= 64 MB)",
    )
    bar.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "info",
        help="show version, ISA path, OpenMP and threads",
        description="Show the version, the kernel (ISA) path in use and those available, "
        "OpenMP and the default thread count.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_info)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Warnings as one line, ``l2loss: warning: ...``, never the source line that raised them."""
    text = " ".join(str(message).split())
    print(f"l2loss: warning: {text}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``l2loss`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 1 when ``bench``'s answers disagree, 2 on a usage
        error or an unreadable file (one ``l2loss: error:`` line on stderr), 130 when
        interrupted. ``--help`` and ``--version`` exit through ``SystemExit(0)``.

    Examples
    --------
    >>> import numpy as np
    >>> from l2loss.cli import main
    >>> np.savez("table.npz", y=[1.0, 2.0, 3.0], yhat=[1.0, 2.0, 5.0])
    >>> main(["eval", "table.npz", "--true", "y", "--pred", "yhat", "--json"])  # doctest: +ELLIPSIS
    {
      "mse": 1.3333333333333333,
    ...
    0
    """
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        if not sys.warnoptions:  # python -W ... or PYTHONWARNINGS keep their meaning
            warnings.simplefilter("default", UserWarning)
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args))
        except CliError as exc:
            print(f"l2loss: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("l2loss: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `l2loss info | head -1`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0


if __name__ == "__main__":
    sys.exit(main())
