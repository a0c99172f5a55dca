"""The ``l2loss`` command line: ``bench`` (the built-in demo), ``eval`` (files) and ``info``.

``l2loss bench`` needs no input: it generates data, times l2loss against the pure-NumPy
reference and every installed peer side by side, and checks that the answers agree.
``l2loss eval Y_TRUE Y_PRED`` evaluates prediction files of any size in bounded memory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import _config, _core
from . import mean_squared_error as l2_mse
from ._files import FileFormatError, evaluate_files

__all__ = ["main"]


class CliError(Exception):
    """A user-facing problem: printed as one line on stderr, exit status 2."""


# ---- eval --------------------------------------------------------------------------------


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
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


def cmd_eval(args: argparse.Namespace) -> int:
    try:
        report = evaluate_files(
            args.y_true, args.y_pred, weights_path=args.weights, columns=args.columns,
            chunk_size=args.chunk_size, multioutput=args.multioutput, progress=not args.no_progress,
            num_threads=args.threads,
        )
    except (FileFormatError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise CliError(str(exc).splitlines()[0]) from None
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

        peers.append(("numexpr sum((a-b)**2)/n", lambda: float(ne.evaluate("sum((a - b) ** 2)",
                                                                            local_dict={"a": y_true, "b": y_pred})) / n))
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


def cmd_bench(args: argparse.Namespace) -> int:
    if args.full:
        return run_full_suite(args.suite, args.suite_args)
    if args.suite_args:
        raise CliError(f"unexpected arguments {' '.join(args.suite_args)!r} (they go to the suite: use --full)")
    n, dtype = args.size, np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    y_true = rng.standard_normal(n).astype(dtype)
    y_pred = (y_true + rng.standard_normal(n).astype(dtype) * dtype.type(0.1)).astype(dtype)
    nbytes = y_true.nbytes + y_pred.nbytes
    threads = args.threads or _config.get_num_threads()
    candidates: list[tuple[str, Callable[[], Any]]] = [
        ("l2loss.mean_squared_error", lambda: l2_mse(y_true, y_pred, num_threads=threads)),
        ("numpy np.mean((y-p)**2)", lambda: float(np.mean((y_true - y_pred) ** 2))),
        *_peers(y_true, y_pred, threads),
        ("bandwidth probe (naive read)", lambda: _core._bandwidth_probe(y_true, y_pred, threads) / n),
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
    print(f"l2loss {cfg['version']} bench: n={n:,} {dtype.name}, ISA {cfg['isa']}, OpenMP "
          f"{'on' if cfg['openmp'] else 'off'}, {threads} thread(s), median of {args.repeats} interleaved repeats")
    print(f"  MSE = {exact!r} (correctly rounded)")
    base = med["numpy np.mean((y-p)**2)"]
    probe = med["bandwidth probe (naive read)"]
    print(f"  {'candidate':<30}{'time':>11}{'GB/s':>8}{'vs NumPy':>10}{'of probe':>10}{'rel. err':>10}")
    for name, _ in candidates:
        t = med[name]
        err = abs(values[name] - exact) / exact if exact else 0.0
        print(f"  {name:<30}{t * 1e3:>9.3f}ms{nbytes / t / 1e9:>8.2f}{base / t:>9.1f}x{probe / t:>9.2f}x{err:>10.1e}")
    if args.plot:
        _plot(med, nbytes, args.plot, f"MSE, n={n:,} {dtype.name}")
        print(f"  chart written to {args.plot}")
    if disagree:
        print(f"l2loss: error: answers disagree beyond {tol:g}: {', '.join(disagree)}", file=sys.stderr)
        return 1
    return 0


def _plot(med: dict[str, float], nbytes: int, path: str, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CliError("--plot needs matplotlib (pip install matplotlib)") from None
    names = list(med)
    gbs = [nbytes / med[k] / 1e9 for k in names]
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(names)))
    ax.barh(names[::-1], gbs[::-1], color=["#1f77b4" if k.startswith("l2loss") else "#999999" for k in names[::-1]])
    ax.set_xlabel("GB/s (higher is better)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- info ----------------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(_config.config(), indent=2))
    else:
        _config.show_config()
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="l2loss", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("bench", help="built-in benchmark on generated data (the main demo)")
    p.add_argument("--size", "-n", type=_positive_int, default=10_000_000, help="elements (default 1e7)")
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--repeats", type=_positive_int, default=7)
    p.add_argument("--threads", type=_positive_int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", metavar="PNG", help="write a bar chart (needs matplotlib)")
    p.add_argument(
        "--full", action="store_true",
        help="run the whole benchmark suite instead (benchmarks/run.py of a source checkout, with the "
        "'bench' extra installed); arguments after -- go to it, e.g. l2loss bench --full -- --quick --plot",
    )
    p.add_argument("--suite", metavar="DIR", type=Path, default=Path("benchmarks"),
                   help="the checkout's benchmarks/ folder for --full (default: ./benchmarks)")
    p.add_argument("suite_args", nargs="*", metavar="-- SUITE_ARGS", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("eval", help="evaluate prediction files (any size, bounded memory)")
    p.add_argument("y_true")
    p.add_argument("y_pred")
    p.add_argument("--weights", help="sample weights file")
    p.add_argument("--columns", help="true=NAME,pred=NAME[,weight=NAME] for tables and .npz archives")
    p.add_argument("--multioutput", default="uniform_average", choices=["raw_values", "uniform_average"])
    p.add_argument("--chunk-size", type=_positive_int, default=1 << 20, help="rows per chunk")
    p.add_argument("--threads", type=_positive_int, default=None)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("info", help="show version, ISA path, OpenMP and threads")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
