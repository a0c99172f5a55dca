"""Grouped evaluation (issue #17): l2loss.grouped_report against dataframe group-bys.

Per-group MSE, RMSE, MAE and R^2 at n rows with 10^2, 10^4 and 10^6 groups, keys sorted
and unsorted, timed side by side in one process (rounds interleaved, medians):

- ``l2loss.grouped_report``: all seven report fields per group, exact;
- ``l2loss.regression_report``: the ungrouped report on the same rows (target: grouped
  <= 2x of it);
- polars ``group_by().agg(...)``: the four metrics in one multi-threaded query;
- pandas ``groupby``: the four metrics from one group-by of precomputed columns;
- Nixtla-style: one pandas group-by per metric, as ``utilsforecast.evaluation.evaluate``
  does (utilsforecast itself is not installed here; its losses are per-metric group-bys).

Run: ``PYTHONPATH=python python benchmarks/grouped.py [--n 1e7] [--repeats 5]``; the lead's
runner calls :func:`run`.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import l2loss
import numpy as np

GROUP_COUNTS = (100, 10_000, 1_000_000)


def _polars(y: np.ndarray, p: np.ndarray, g: np.ndarray) -> Callable[[], Any] | None:
    try:
        import polars as pl
    except ImportError:
        return None
    df = pl.DataFrame({"y": y, "p": p, "g": g})
    d = pl.col("p") - pl.col("y")

    def query() -> Any:
        return df.group_by("g").agg(
            (d**2).mean().alias("mse"),
            (d**2).mean().sqrt().alias("rmse"),
            d.abs().mean().alias("mae"),
            (1 - (d**2).sum() / ((pl.col("y") - pl.col("y").mean()) ** 2).sum()).alias("r2"),
        )

    return query


Query = Callable[[], Any]


def _pandas(y: np.ndarray, p: np.ndarray, g: np.ndarray) -> tuple[Query, Query] | None:
    try:
        import pandas as pd
    except ImportError:
        return None
    df = pd.DataFrame({"y": y, "p": p, "g": g})

    def one_groupby() -> Any:
        d = df["p"] - df["y"]
        ybar = df.groupby("g")["y"].transform("mean")
        frame = pd.DataFrame({"g": df["g"], "sq": d * d, "ab": d.abs(), "tot": (df["y"] - ybar) ** 2})
        sums = frame.groupby("g").agg(
            sq=("sq", "mean"), ab=("ab", "mean"), sqs=("sq", "sum"), tot=("tot", "sum")
        )
        return pd.DataFrame({
            "mse": sums["sq"], "rmse": np.sqrt(sums["sq"]), "mae": sums["ab"],
            "r2": 1 - sums["sqs"] / sums["tot"],
        })

    def per_metric() -> Any:  # utilsforecast.losses style: each metric its own group-by
        def mse() -> Any:
            return ((df["p"] - df["y"]) ** 2).groupby(df["g"]).mean()

        def mae() -> Any:
            return (df["p"] - df["y"]).abs().groupby(df["g"]).mean()

        def r2() -> Any:
            ybar = df.groupby("g")["y"].transform("mean")
            res = ((df["p"] - df["y"]) ** 2).groupby(df["g"]).sum()
            return 1 - res / ((df["y"] - ybar) ** 2).groupby(df["g"]).sum()

        return pd.concat({"mse": mse(), "rmse": np.sqrt(mse()), "mae": mae(), "r2": r2()}, axis=1)

    return one_groupby, per_metric


def _interleaved(cands: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    for fn in cands.values():  # warm-up (imports, page faults, polars' thread pool)
        fn()
    times: dict[str, list[float]] = {k: [] for k in cands}
    for _ in range(repeats):
        for name, fn in cands.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def run(
    repeats: int = 5, n: int = 10**7, group_counts: tuple[int, ...] = GROUP_COUNTS, seed: int = 0
) -> list[dict]:
    """One dict per (groups, key order): medians in seconds and the ratios of the issue."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(n)
    p = y + 0.1 * rng.standard_normal(n)
    out: list[dict] = []
    for n_groups in group_counts:
        keys = rng.integers(0, n_groups, n)
        for order in ("unsorted", "sorted"):
            g = np.sort(keys) if order == "sorted" else keys
            cands: dict[str, Callable[[], Any]] = {
                "l2loss.grouped_report": lambda g=g: l2loss.grouped_report(y, p, g),
                "l2loss.regression_report (ungrouped)": lambda: l2loss.regression_report(y, p),
            }
            polars_query = _polars(y, p, g)
            if polars_query is not None:
                cands["polars group_by.agg"] = polars_query
            pandas_queries = _pandas(y, p, g)
            if pandas_queries is not None:
                cands["pandas groupby"] = pandas_queries[0]
                cands["Nixtla-style (one pandas group-by per metric)"] = pandas_queries[1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one-row groups: R^2 undefined
                rep = l2loss.grouped_report(y, p, g)
                med = _interleaved(cands, repeats)
            check = {}
            if polars_query is not None:
                ref = polars_query().sort("g")
                check["max_rel_diff_mse_vs_polars"] = float(
                    np.max(np.abs(rep.mse - ref["mse"].to_numpy()) / ref["mse"].to_numpy())
                )
            ours = med["l2loss.grouped_report"]
            row: dict[str, Any] = {
                "n": n, "groups": n_groups, "present_groups": len(rep), "keys": order,
                "seconds": med, **check,
                "grouped_vs_ungrouped": ours / med["l2loss.regression_report (ungrouped)"],
            }
            for name in cands:
                if name.startswith(("polars", "pandas", "Nixtla")):
                    row[f"speedup_vs_{name.split()[0].lower()}"] = med[name] / ours
            out.append(row)
            del cands, rep
            gc.collect()
    return out


def markdown(rows: list[dict]) -> str:
    """The results as a Markdown table (seconds: medians; x: that time / l2loss's)."""
    lines = [
        "| groups | keys | l2loss grouped | ungrouped report | grouped / ungrouped "
        "| polars | pandas | Nixtla-style |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r["seconds"]
        ours = s["l2loss.grouped_report"]

        def cell(key: str, s: dict[str, float] = s, ours: float = ours) -> str:
            return f"{s[key]:.3f} s ({s[key] / ours:.2f}x)" if key in s else "-"

        lines.append(
            f"| {r['groups']:.0e} | {r['keys']} | {ours:.3f} s "
            f"| {s['l2loss.regression_report (ungrouped)']:.3f} s "
            f"| {r['grouped_vs_ungrouped']:.2f} | {cell('polars group_by.agg')} | {cell('pandas groupby')} "
            f"| {cell('Nixtla-style (one pandas group-by per metric)')} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=lambda x: int(float(x)), default=10**7)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--groups", type=lambda x: tuple(int(float(v)) for v in x.split(",")), default=GROUP_COUNTS
    )
    args = ap.parse_args()
    rows = run(args.repeats, args.n, args.groups)
    print(f"n = {args.n:.0e} float64 pairs, l2loss {l2loss.__version__}, {l2loss.get_num_threads()} threads")
    print(markdown(rows))
    for r in rows:
        if "max_rel_diff_mse_vs_polars" in r:
            print(f"groups {r['groups']:.0e} {r['keys']}: max rel. diff of MSE vs polars "
                  f"{r['max_rel_diff_mse_vs_polars']:.1e}")


if __name__ == "__main__":
    main()
