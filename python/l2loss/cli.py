"""The ``l2loss`` command line: ``info``, ``bench`` (built-in demo) and ``eval`` (files).

``l2loss bench`` needs no input: it generates data, checks l2loss against NumPy in
float64 and times both (and sklearn when installed) side by side.
``l2loss eval Y_TRUE Y_PRED`` evaluates .npy (memory-mapped), .npz, .csv or .txt files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _config, _core, regression_report
from . import mean_squared_error as l2_mse

__all__ = ["main"]


class CliError(Exception):
    """A user-facing problem: printed as one line, exit status 2."""


# ---- eval ------------------------------------------------------------------------------


def load_array(path: str, column: str | None = None) -> np.ndarray:
    """Load one operand; .npy files are memory-mapped, never read whole into memory."""
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{path}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(p, mmap_mode="r", allow_pickle=False)
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                names = list(z.keys())
                key = column if column is not None else (names[0] if len(names) == 1 else None)
                if key is None or key not in names:
                    raise CliError(f"{path}: choose one of the arrays {names} with --columns")
                return z[key]
        if suffix in (".csv", ".txt", ".tsv"):
            delimiter = "," if suffix == ".csv" else None
            return _load_text(p, delimiter, column)
    except CliError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise CliError(f"{path}: cannot read ({exc})") from None
    raise CliError(f"{path}: unsupported file type {suffix!r} (use .npy, .npz, .csv or .txt)")


def _load_text(p: Path, delimiter: str | None, column: str | None) -> np.ndarray:
    with p.open() as f:
        first = f.readline()
    fields = [s.strip() for s in (first.split(delimiter) if delimiter else first.split())]
    has_header = any(_not_number(s) for s in fields if s)
    if column is not None and not has_header:
        raise CliError(f"{p}: --columns names a column but the file has no header")
    data = np.loadtxt(p, delimiter=delimiter, skiprows=1 if has_header else 0, ndmin=2, dtype=np.float64)
    if column is not None:
        if column not in fields:
            raise CliError(f"{p}: no column {column!r} (columns: {fields})")
        return data[:, fields.index(column)]
    return data[:, 0] if data.shape[1] == 1 else data


def _not_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return True
    return False


def parse_columns(spec: str | None) -> dict[str, str]:
    if not spec:
        return {}
    out = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or key not in ("true", "pred", "weight"):
            raise CliError(f"--columns: expected true=NAME,pred=NAME[,weight=NAME], got {part!r}")
        out[key] = value
    return out


def cmd_eval(args: argparse.Namespace) -> int:
    cols = parse_columns(args.columns)
    y_true = load_array(args.y_true, cols.get("true"))
    y_pred = load_array(args.y_pred, cols.get("pred"))
    weights = load_array(args.weights, cols.get("weight")) if args.weights else None
    try:
        report = regression_report(
            y_true, y_pred, sample_weight=weights, multioutput=args.multioutput, num_threads=args.threads
        )
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(repr(report))
    return 0


# ---- bench -----------------------------------------------------------------------------


def _median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return samples[len(samples) // 2]


def cmd_bench(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    n = args.n
    dtype = np.dtype(args.dtype)
    y_true = rng.standard_normal(n).astype(dtype)
    y_pred = (y_true + rng.standard_normal(n).astype(dtype) * dtype.type(0.1)).astype(dtype)
    nbytes = y_true.nbytes + y_pred.nbytes

    candidates: list[tuple[str, Callable[[], Any]]] = [
        ("l2loss.mean_squared_error", lambda: l2_mse(y_true, y_pred, num_threads=args.threads)),
        ("numpy np.mean((y-p)**2)", lambda: float(np.mean((y_true - y_pred) ** 2))),
    ]
    try:
        from sklearn.metrics import mean_squared_error as sk_mse

        if n <= 20_000_000:
            candidates.append(("sklearn mean_squared_error", lambda: sk_mse(y_true, y_pred)))
    except ImportError:
        pass
    if dtype.kind == "f" and y_true.flags.c_contiguous:
        candidates.append(("bandwidth probe (naive read)", lambda: _core._bandwidth_probe(y_true, y_pred, args.threads or 0)))

    exact = l2_mse(y_true, y_pred)
    numpy_f64 = float(np.mean((y_pred.astype(np.float64) - y_true.astype(np.float64)) ** 2))
    for _, fn in candidates:  # warm-up
        fn()
    times = {name: [] for name, _ in candidates}
    for _ in range(args.repeats):  # interleaved, so drift hits every candidate alike
        for name, fn in candidates:
            times[name].append(_median_seconds(fn, 1))
    cfg = _config.config()
    print(f"l2loss {cfg['version']} bench: n={n:,} {dtype.name}, ISA {cfg['isa']}, "
          f"OpenMP {'on' if cfg['openmp'] else 'off'}, threads {args.threads or cfg['num_threads']}, "
          f"median of {args.repeats} interleaved repeats")
    print(f"  MSE = {exact!r} (correctly rounded; NumPy float64 pairwise: {numpy_f64!r}, "
          f"relative difference {abs(numpy_f64 - exact) / exact if exact else 0.0:.1e})")
    base = sorted(times["numpy np.mean((y-p)**2)"])[args.repeats // 2]
    print(f"  {'candidate':<32}{'time':>12}{'GB/s':>9}{'vs NumPy':>10}")
    for name, _ in candidates:
        t = sorted(times[name])[args.repeats // 2]
        print(f"  {name:<32}{t * 1e3:>10.3f}ms{nbytes / t / 1e9:>9.2f}{base / t:>9.1f}x")
    return 0


# ---- info ------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(_config.config(), indent=2))
    else:
        _config.show_config()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="l2loss", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("eval", help="evaluate prediction files (regression_report)")
    p.add_argument("y_true")
    p.add_argument("y_pred")
    p.add_argument("--weights", help="sample weights file")
    p.add_argument("--columns", help="true=NAME,pred=NAME[,weight=NAME] for CSV headers / .npz keys")
    p.add_argument("--multioutput", default="uniform_average", choices=["raw_values", "uniform_average"])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="built-in benchmark on generated data")
    p.add_argument("-n", type=int, default=10_000_000, help="elements (default 1e7)")
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("info", help="show version, ISA path, OpenMP and threads")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "threads", None) is not None and args.threads < 1:
        print("l2loss: error: --threads must be >= 1", file=sys.stderr)
        return 2
    if getattr(args, "n", 1) < 1:
        print("l2loss: error: -n must be >= 1", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"l2loss: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `l2loss info | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
