"""Dask benchmark: ``l2loss.dask.mean_squared_error`` vs dask-ml vs plain dask.array, one run.

On a ``LocalCluster`` (default 2 worker processes x 1 thread) the script generates
``y_true`` and ``y_pred = y_true + 0.1 * noise`` inside the cluster (``n`` float64 each, in
``chunk``-element blocks), **persists** them (so the metric is timed, not the random number
generator; ``y_pred``'s blocks are usually computed where ``y_true``'s live, so little data
moves: the output says how many block pairs share a worker), then
times the candidates **interleaved** (A B C, B C A, C A B, ...) for ``--repeats`` rounds after
one warm-up call each, and prints a Markdown table of the medians:

* ``l2loss.dask``  ``l2loss.dask.mean_squared_error(y_true, y_pred)`` (exact; 1 engine thread per task)
* ``dask-ml``      ``dask_ml.metrics.mean_squared_error(y_true, y_pred)``
* ``dask.array``   ``((y_true - y_pred) ** 2).mean().compute()``
* ``floor``        a no-op task per block pair and a tree reduction of scalars: the scheduler's
  own cost for this many blocks, which no metric can beat

``GB/s`` counts the bytes of both inputs (16 bytes per element pair) over the median time.

Usage (from the repository root; needs dask[array,distributed] and dask-ml)::

    PYTHONPATH=python python benchmarks/dask_bench.py                 # n = 2e8, ~3.2 GB persisted
    PYTHONPATH=python python benchmarks/dask_bench.py --n 2e7 --chunk 1e6 --repeats 3   # quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _noop_block(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.zeros(1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=float, default=2e8, help="elements per array (default 2e8)")
    ap.add_argument("--chunk", type=float, default=1e7, help="elements per block (default 1e7)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--threads-per-worker", type=int, default=1, help="threads per worker (default 1)")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved timing rounds (default 7)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    return ap.parse_args(argv)


def measure(
    n: int, chunk: int, *, workers: int = 2, threads_per_worker: int = 1, repeats: int = 7, seed: int = 0
) -> dict[str, Any]:
    """Time the four candidates on one LocalCluster; returns medians, values and the setup."""
    import dask
    import dask.array as da
    import dask_ml
    import dask_ml.metrics
    import distributed
    import l2loss
    import l2loss.dask

    package_root = str(Path(l2loss.__file__).resolve().parents[1])
    env = {"PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        dashboard_address=None,
        env=env,
    )
    client = distributed.Client(cluster)
    try:
        t0 = time.perf_counter()
        y_true = da.random.default_rng(seed).standard_normal(n, chunks=chunk)
        y_pred = y_true + 0.1 * da.random.default_rng(seed + 1).standard_normal(n, chunks=chunk)
        y_true, y_pred = client.persist([y_true, y_pred])
        distributed.wait([y_true, y_pred])
        generate_s = time.perf_counter() - t0
        where = client.who_has([y_true, y_pred])
        blocks = y_true.numblocks[0]
        together = sum(
            bool(set(where[(y_true.name, i)]) & set(where[(y_pred.name, i)])) for i in range(blocks)
        )

        floor_parts = da.blockwise(
            _noop_block, "i", y_true, "i", y_pred, "i", adjust_chunks={"i": 1}, dtype=float, meta=np.empty(0)
        )
        candidates: dict[str, Callable[[], Any]] = {
            "l2loss.dask": lambda: l2loss.dask.mean_squared_error(y_true, y_pred),
            "dask-ml": lambda: dask_ml.metrics.mean_squared_error(y_true, y_pred),
            "dask.array": lambda: ((y_true - y_pred) ** 2).mean().compute(),
            "floor": lambda: floor_parts.sum().compute(),
        }
        names = list(candidates)
        values = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dask-ml's deprecation chatter
            for name in names:  # warm-up: imports, worker caches, first-call costs
                values[name] = float(candidates[name]())
            times: dict[str, list[float]] = {name: [] for name in names}
            for r in range(repeats):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    t = time.perf_counter()
                    candidates[name]()
                    times[name].append(time.perf_counter() - t)
    finally:
        client.close()
        cluster.close()
    return {
        "n": n,
        "chunk": chunk,
        "blocks": blocks,
        "together": together,
        "workers": workers,
        "threads_per_worker": threads_per_worker,
        "repeats": repeats,
        "generate_s": generate_s,
        "median_s": {name: statistics.median(ts) for name, ts in times.items()},
        "values": {name: values[name] for name in names if name != "floor"},
        "versions": {
            "dask": dask.__version__,
            "distributed": distributed.__version__,
            "dask-ml": dask_ml.__version__,
            "l2loss": l2loss.__version__,
            "isa": l2loss.config()["isa"],
        },
    }


def render(res: dict[str, Any]) -> str:
    """The Markdown table of one measure() result (GB/s counts both float64 inputs)."""
    n, med, values = res["n"], res["median_s"], res["values"]
    gbytes = 2 * n * 8 / 1e9
    ref = med["l2loss.dask"]
    lines = [
        f"n = {n:.3g} float64 per array in {res['blocks']} blocks of {res['chunk']:.3g}; "
        f"LocalCluster {res['workers']} workers x {res['threads_per_worker']} thread(s); "
        f"median of {res['repeats']} interleaved rounds; "
        f"inputs persisted ({2 * n * 8 / 2**30:.2f} GiB, generated in {res['generate_s']:.1f} s; "
        f"{res['together']}/{res['blocks']} block pairs on the same worker).",
        "",
        "| candidate | median s | GB/s | time / l2loss.dask | MSE |",
        "|---|---:|---:|---:|---|",
    ]
    for name in med:
        value = repr(values[name]) if name in values else "-"
        row = [name, f"{med[name]:.3f}", f"{gbytes / med[name]:.1f}", f"{med[name] / ref:.2f}x", value]
        lines.append("| " + " | ".join(row) + " |")
    v = res["versions"]
    lines += [
        "",
        f"l2loss.dask is **{med['dask-ml'] / ref:.1f}x** faster than dask-ml and "
        f"**{med['dask.array'] / ref:.1f}x** faster than the plain dask.array expression.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, dask {v['dask']}, distributed {v['distributed']}, "
        f"dask-ml {v['dask-ml']}, l2loss {v['l2loss']} (ISA {v['isa']}).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    res = measure(
        int(args.n), int(args.chunk), workers=args.workers, threads_per_worker=args.threads_per_worker,
        repeats=args.repeats, seed=args.seed,
    )
    table = render(res)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
