"""Benchmark suites beyond the MSE grid of run.py, one per capability, same method.

    PYTHONPATH=python python benchmarks/suites.py [--suite report,training,stream,exact] [--quick]
                                                   [--markdown PATH] [--update-readme]

- report   : regression_report vs the five sklearn calls (mse, rmse, mae, r2, max_error)
             vs a hand-written NumPy version of the same five vs a lone l2loss MSE;
- training : mse_value_and_grad vs NumPy (d = p - y; loss = mean(d*d); grad = 2*d/n) vs
             torch forward+backward, and ridge_loss_and_grad vs NumPy's two mat-vec products;
- stream   : RegressionAccumulator fed in 1e6-element chunks vs one-shot regression_report;
- exact    : mean_squared_error(exact=True) vs the default mode, and float16 inputs vs
             the bandwidth probe on float32 (bytes per element pair compared).

Method (as run.py): inputs made once; every candidate warmed up; candidates interleaved
round by round (rotating the start); medians of the rounds; ratios from the same run.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import l2loss
from l2loss import _core

README = Path(__file__).with_name("README.md")
START, END = "<!-- suites:start -->", "<!-- suites:end -->"


def interleave(cands: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds per candidate; rounds interleave candidates, rotating the start."""
    names = list(cands)
    for fn in cands.values():
        fn()  # warm up: page faults, lazy imports, numba/torch first-call costs
    samples: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for k in order:
            gc.collect()
            t0 = time.perf_counter()
            cands[k]()
            samples[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in samples.items()}


def table(title: str, rows: list[tuple[str, float, float | None]], base: str) -> list[str]:
    """rows: (name, seconds, GB/s or None); ratios are base_time / time."""
    t_base = dict((r[0], r[1]) for r in rows)[base]
    out = [f"**{title}**", "", "| candidate | median | GB/s | speed vs " + base + " |", "|---|---:|---:|---:|"]
    for name, t, gbs in rows:
        g = f"{gbs:.1f}" if gbs is not None else "–"
        out.append(f"| {name} | {t * 1e3:.1f} ms | {g} | {t_base / t:.2f}× |")
    return out + [""]


def suite_report(sizes: list[int], repeats: int) -> list[str]:
    from sklearn import metrics as skm

    lines: list[str] = []
    for n in sizes:
        rng = np.random.default_rng(0)
        y = rng.standard_normal(n)
        p = y + 0.3 * rng.standard_normal(n)

        def sklearn_five() -> None:
            skm.mean_squared_error(y, p)
            skm.root_mean_squared_error(y, p)
            skm.mean_absolute_error(y, p)
            skm.r2_score(y, p)
            skm.max_error(y, p)

        def numpy_five() -> None:
            d = p - y
            mse = np.mean(d * d)
            _ = (np.sqrt(mse), np.mean(np.abs(d)), 1 - np.sum(d * d) / np.sum((y - y.mean()) ** 2), np.max(np.abs(d)))

        cands = {
            "l2loss.regression_report": lambda: l2loss.regression_report(y, p),
            "l2loss.mean_squared_error (alone)": lambda: l2loss.mean_squared_error(y, p),
            "NumPy, the five by hand": numpy_five,
            "sklearn, five calls": sklearn_five,
        }
        med = interleave(cands, repeats if n <= 10**7 else max(3, repeats // 2))
        nbytes = 16 * n
        rows = [(k, v, nbytes / v / 1e9) for k, v in med.items()]
        lines += table(f"regression_report, n = {n:.0e} float64 (bytes = y_true + y_pred)", rows,
                       "sklearn, five calls")
        lines.append(f"report / lone MSE: {med['l2loss.regression_report'] / med['l2loss.mean_squared_error (alone)']:.2f}× "
                     f"(target ≤ 2×); five sklearn calls / report: "
                     f"{med['sklearn, five calls'] / med['l2loss.regression_report']:.1f}× (target ≥ 20×)")
        lines.append("")
        del y, p
        gc.collect()
    return lines


def suite_training(n: int, n_ridge: int, repeats: int) -> list[str]:
    rng = np.random.default_rng(1)
    y = rng.standard_normal(n)
    p = y + 0.3 * rng.standard_normal(n)
    out = np.empty_like(p)

    def numpy_vg() -> None:
        d = p - y
        _ = (np.mean(d * d), 2 * d / n)

    cands: dict[str, Callable[[], Any]] = {
        "l2loss.mse_value_and_grad (out=)": lambda: l2loss.mse_value_and_grad(y, p, out=out),
        "NumPy loss + gradient": numpy_vg,
        "bandwidth probe (reads 16 B/elem)": lambda: _core._bandwidth_probe(y, p),
    }
    try:
        import torch

        ty = torch.from_numpy(y)
        tp = torch.from_numpy(p.copy()).requires_grad_()

        def torch_fb() -> None:
            tp.grad = None
            torch.nn.functional.mse_loss(tp, ty).backward()

        cands["torch F.mse_loss forward+backward"] = torch_fb
    except ImportError:
        pass
    med = interleave(cands, repeats)
    rows = [(k, v, (16 if "probe" in k else 24) * n / v / 1e9) for k, v in med.items()]
    lines = table(f"loss + gradient, n = {n:.0e} float64 (24 bytes/elem: read y, p; write grad)", rows,
                  "NumPy loss + gradient")
    probe_gbs = 16 * n / med["bandwidth probe (reads 16 B/elem)"] / 1e9
    ours_gbs = 24 * n / med["l2loss.mse_value_and_grad (out=)"] / 1e9
    lines += [f"value_and_grad vs NumPy: {med['NumPy loss + gradient'] / med['l2loss.mse_value_and_grad (out=)']:.2f}× "
              f"(target ≥ 3×); its GB/s over the read probe's: {ours_gbs / probe_gbs:.2f} (target ≥ 0.85)", ""]
    del y, p, out, cands
    gc.collect()

    X = rng.standard_normal((n_ridge, 32))
    yr = X @ rng.standard_normal(32) + rng.standard_normal(n_ridge)
    c = rng.standard_normal(32)

    def numpy_ridge() -> None:
        r = X @ c - yr
        _ = (r @ r / n_ridge + 0.1 * (c @ c), 2 / n_ridge * (X.T @ r) + 0.2 * c)

    med = interleave({
        "l2loss.ridge_loss_and_grad": lambda: l2loss.ridge_loss_and_grad(X, yr, c, alpha=0.1),
        "NumPy: X @ c, X.T @ r": numpy_ridge,
    }, repeats)
    rows = [(k, v, X.nbytes / v / 1e9) for k, v in med.items()]
    lines += table(f"ridge loss + gradient, n = {n_ridge:.0e}, d = 32 float64 (bytes = X)", rows, "NumPy: X @ c, X.T @ r")
    lines += [f"ridge vs NumPy: {med['NumPy: X @ c, X.T @ r'] / med['l2loss.ridge_loss_and_grad']:.2f}× (target ≥ 1.5×)", ""]
    return lines


def suite_stream(n: int, chunk: int, repeats: int) -> list[str]:
    rng = np.random.default_rng(2)
    y = rng.standard_normal(n)
    p = y + 0.3 * rng.standard_normal(n)

    def streamed() -> None:
        acc = l2loss.RegressionAccumulator()
        for a in range(0, n, chunk):
            acc.update(y[a : a + chunk], p[a : a + chunk])
        acc.compute()

    med = interleave({"RegressionAccumulator, 1e6 chunks": streamed,
                      "regression_report, one shot": lambda: l2loss.regression_report(y, p)}, repeats)
    rows = [(k, v, 16 * n / v / 1e9) for k, v in med.items()]
    return table(f"streaming, n = {n:.0e} float64 in chunks of {chunk:.0e}", rows, "regression_report, one shot")


def suite_exact(n: int, repeats: int) -> list[str]:
    rng = np.random.default_rng(3)
    y = rng.standard_normal(n)
    p = y + 0.3 * rng.standard_normal(n)
    med = interleave({
        "default (exact sum of rounded squares)": lambda: l2loss.mean_squared_error(y, p),
        "exact=True (exact squares, correctly rounded)": lambda: l2loss.mean_squared_error(y, p, exact=True),
        "bandwidth probe": lambda: _core._bandwidth_probe(y, p),
    }, repeats)
    rows = [(k, v, 16 * n / v / 1e9) for k, v in med.items()]
    lines = table(f"exact=True, n = {n:.0e} float64", rows, "default (exact sum of rounded squares)")
    ratio = med["exact=True (exact squares, correctly rounded)"] / med["default (exact sum of rounded squares)"]
    lines += [f"exact / default: {ratio:.2f}× (target ≤ 1.7×; exact mode is compute-bound at ~1.6 ns/elem/core "
              "in cache with AVX-512, so it needs ~3 cores to reach the memory limit)", ""]
    del y, p
    gc.collect()
    y16 = rng.standard_normal(n).astype(np.float16)
    p16 = (y16 + rng.standard_normal(n).astype(np.float16) * np.float16(0.3)).astype(np.float16)
    y32, p32 = y16.astype(np.float32), p16.astype(np.float32)
    med = interleave({
        "l2loss float16 (native)": lambda: l2loss.mean_squared_error(y16, p16),
        "l2loss float32": lambda: l2loss.mean_squared_error(y32, p32),
        "bandwidth probe float32": lambda: _core._bandwidth_probe(y32, p32),
    }, repeats)
    rows = [("l2loss float16 (native)", med["l2loss float16 (native)"], 4 * n / med["l2loss float16 (native)"] / 1e9),
            ("l2loss float32", med["l2loss float32"], 8 * n / med["l2loss float32"] / 1e9),
            ("bandwidth probe float32", med["bandwidth probe float32"], 8 * n / med["bandwidth probe float32"] / 1e9)]
    lines += table(f"float16 inputs, n = {n:.0e} (4 bytes per element pair)", rows, "l2loss float32")
    frac = rows[0][2] / rows[2][2]
    lines += [f"float16 GB/s over the float32 probe's: {frac:.2f} (target ≥ 0.9)", ""]
    return lines


def machine() -> str:
    cpu = "unknown CPU"
    try:
        m = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        cpu = m.group(1) if m else cpu
    except OSError:
        pass
    cfg = l2loss.config()
    return (f"{datetime.date.today()} · {cpu}, {os.cpu_count()} cores · l2loss {cfg['version']}, ISA {cfg['isa']}, "
            f"{cfg['num_threads']} threads · numpy {np.__version__} · Python {platform.python_version()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="report,training,stream,exact")
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds), for smoke tests")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    big = 10**6 if args.quick else 10**8
    repeats = 3 if args.quick else args.repeats
    lines = [f"Machine: {machine()}", ""]
    print(lines[0], flush=True)
    runners = {
        "report": lambda: suite_report([big // 10, big] if not args.quick else [big], repeats),
        "training": lambda: suite_training(big, big // 10, repeats),
        "stream": lambda: suite_stream(big, 10**6 if not args.quick else 10**5, repeats),
        "exact": lambda: suite_exact(big, repeats),
    }
    for name in args.suite.split(","):
        if name not in runners:
            raise SystemExit(f"unknown suite {name!r} (choose from {', '.join(runners)})")
        part = runners[name]()
        print("\n".join(part), flush=True)
        lines += part
    text = "\n".join(lines)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.update_readme:
        readme = README.read_text()
        if START not in readme:
            readme += f"\n## Capability suites (benchmarks/suites.py)\n\n{START}\n{END}\n"
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        README.write_text(f"{head}{START}\n{text}\n{END}{tail}")


if __name__ == "__main__":
    main()
