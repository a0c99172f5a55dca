"""Standalone benchmark runner for l2loss: speed, bandwidth efficiency and accuracy, side by side.

Sections, in one run, every figure a ratio measured in that run:

* ``grid``     mean_squared_error against every installed peer, over n, dtype, contiguous vs
               strided (``a[::2]``) inputs, unweighted vs weighted, and 1 vs 2 threads (for every
               library with a thread knob), with the bandwidth probe (``l2loss._core._bandwidth_probe``,
               a plain fused OpenMP read of both arrays) as the memory-speed limit;
* ``ops``      regression_report, mse_value_and_grad and RegressionAccumulator fed in 1e6 chunks,
               each against NumPy (and sklearn / torch) doing the same job;
* ``latency``  ns per call at n = 16 and 1000;
* ``accuracy`` the relative error of every library against the exact MSE (integer-scaled exact
               sums) on benign and adversarial data (large mean, wide dynamic range, cancellation);
* ``dask``     l2loss.dask vs dask-ml vs a dask.array expression vs the scheduler's own floor on a
               2-worker LocalCluster (``dask_bench.py``; when dask[distributed] and dask-ml are installed);
* ``shapes``   2-D (n, k) inputs, C and F order, against the 1-D rate for the same bytes and NumPy
               (``shapes.py``; the modules listed in MODULE_SECTIONS each run one such section).

Modules: ``timing`` (interleaved medians, machine load), ``peers`` (inputs, candidates),
``accuracy`` (data kinds, exact reference), ``machine`` (header), ``render`` (Markdown),
``plot`` (charts). Usage (from the repository root)::

    PYTHONPATH=python python benchmarks/run.py --dry-run           # the plan and its estimated time
    PYTHONPATH=python python benchmarks/run.py --quick             # n <= 1e6, about a minute
    PYTHONPATH=python python benchmarks/run.py --plot --update-readme   # the full run (README's numbers)
    l2loss bench --full -- --plot --update-readme                   # the same, from the CLI
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, also when loaded by path

import accuracy  # noqa: E402
import peers  # noqa: E402
import render  # noqa: E402
from machine import machine_info, machine_slug  # noqa: E402
from timing import CaseResult, TimingSettings, as_value, log, measure  # noqa: E402

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
MAIN_README = HERE.parent / "README.md"
RESULTS_DIR = HERE / "results"
MARKS = ("<!-- results:start -->", "<!-- results:end -->")
SUMMARY_MARKS = ("<!-- bench-summary:start -->", "<!-- bench-summary:end -->")
CHARTS = ("throughput.png", "accuracy.png")
ACCURACY_MAX_N = 10**7  # exact references up to here (grid rel. error column and the accuracy section)


@dataclass(frozen=True)
class Plan:
    """Everything a run will do."""

    mode: str  # "full", "quick" or "smoke"
    sizes: tuple[int, ...]
    dtypes: tuple[str, ...]
    layouts: tuple[str, ...]
    weightings: tuple[bool, ...]
    threads: tuple[int, ...]  # highest first: that is every library's "default" in the tables
    ops_sizes: tuple[int, ...]
    latency_sizes: tuple[int, ...]
    accuracy_sizes: tuple[int, ...]
    dask: tuple[int, int]  # (n, chunk) of the Dask section
    families: tuple[str, ...]
    sections: tuple[str, ...]
    timing: TimingSettings
    big_repeats: int  # rounds at n >= 1e8 (each round there takes seconds)
    seed: int

    def timing_for(self, n: int) -> TimingSettings:
        return replace(self.timing, repeats=self.big_repeats) if n >= 10**8 else self.timing


# Sections kept in their own modules (issue #16's shapes, row-wise outputs and small calls,
# #17's groups): module, the keyword arguments of its run() per mode (repeats included),
# and the function that renders its rows as Markdown.
MODULE_SECTIONS: dict[str, tuple[str, dict[str, dict[str, Any]], str]] = {
    "shapes": (
        "shapes",
        {
            "full": dict(repeats=5, elements=10**8),
            "quick": dict(repeats=3, elements=10**6),
            "smoke": dict(repeats=2, elements=20_000),
        },
        "markdown",
    ),
    "rowwise": (
        "rowwise",
        {
            "full": dict(repeats=5, elements=2 * 10**7),
            "quick": dict(repeats=3, elements=10**6),
            "smoke": dict(repeats=2, elements=20_000),
        },
        "markdown",
    ),
    "small": (
        "small_calls",
        {
            "full": dict(repeats=15),
            "quick": dict(repeats=5, quick=True),
            "smoke": dict(repeats=1, quick=True),
        },
        "render",
    ),
    "losses": (
        "small_losses",
        {"full": dict(repeats=20000), "quick": dict(repeats=2000), "smoke": dict(repeats=20)},
        "markdown",
    ),
    "grouped": (
        "grouped",
        {
            "full": dict(repeats=3, n=10**7),
            "quick": dict(repeats=2, n=10**6, group_counts=(100, 10**4)),
            "smoke": dict(repeats=1, n=20_000, group_counts=(10,)),
        },
        "markdown",
    ),
}
SECTIONS = ("grid", "ops", "latency", "accuracy", "dask", *MODULE_SECTIONS)

MODES: dict[str, dict[str, Any]] = {
    "full": dict(
        sizes=tuple(10**k for k in range(2, 9)),
        ops_sizes=(10**3, 10**6, 10**8),
        latency_sizes=(16, 1000),
        accuracy_sizes=(10**3, 10**5, 10**7),
        dask=(10**8, 5 * 10**6),  # (n, chunk): 1.5 GiB persisted on the LocalCluster
        repeats=7,
        big_repeats=5,
        sample_ms=20.0,
        retry_busy=2,
    ),
    "quick": dict(
        sizes=tuple(10**k for k in range(2, 7)),
        ops_sizes=(10**3, 10**6),
        latency_sizes=(16, 1000),
        accuracy_sizes=(10**3, 10**5),
        dask=(10**7, 10**6),
        repeats=3,
        big_repeats=3,
        sample_ms=5.0,
        retry_busy=0,
    ),
    "smoke": dict(
        sizes=(100, 1000),
        ops_sizes=(1000,),
        latency_sizes=(16,),
        accuracy_sizes=(200,),
        dask=(10**5, 2 * 10**4),
        repeats=2,
        big_repeats=2,
        sample_ms=0.5,
        retry_busy=0,
    ),
}


# --------------------------------------------------------------------------- the wall-time estimate

# Rough speeds on the project's 2-core VM (GB/s of the bytes used, all threads; then per-call overhead in
# s). One thread: parallel libraries at ~0.55x. Strided: everything at ~0.5x. Only for the estimate.
_SPEED = {
    "l2loss": (25, 2e-6),
    "probe": (28, 2e-6),
    "numpy": (4.3, 5e-6),
    "sklearn": (3.3, 3e-4),
    "numexpr": (6, 1.5e-5),
    "numba": (27, 3e-6),
    "simsimd": (17, 1e-6),
    "torch": (4.5, 1.5e-5),
    "l2loss-report": (6, 7e-5),
    "numpy-report": (0.6, 5e-5),
    "sklearn-report": (0.3, 2e-3),
    "l2loss-mse": (25, 2e-6),
    "l2loss-grad": (13, 5e-6),
    "numpy-grad": (2, 1e-5),
    "torch-grad": (2.6, 5e-5),
    "l2loss-stream": (2.5, 2e-5),
    "numpy-stream": (4, 1e-5),
}


def _call_s(key: str, nbytes: float, strided: bool, weighted: bool = False) -> float:
    family = key.split("@")[0]
    gbps, overhead = _SPEED.get(family, (4.0, 1e-5))
    if "@1" in key and family not in ("numpy", "sklearn", "simsimd"):
        gbps *= 0.55
    if weighted and family == "sklearn":  # np.average plus sklearn's checks of the weights
        gbps *= 0.6
    return overhead + nbytes / (gbps * 1e9) / (2 if strided else 1)


def estimate_seconds(plan: Plan, keys: dict[str, list[str]]) -> dict[str, float]:
    """Wall time per section on a quiet machine like the project's (warm-up ~ 3 calls, inputs, references)."""
    # imports (torch, sklearn, numba) and numba compiling one parallel kernel per dtype x layout x weights
    numba_compiles = (
        len(plan.dtypes) * len(plan.layouts) * len(plan.weightings) if "numba@1" in keys["grid"] else 0
    )
    est = {"setup": 6.0 + 1.5 * numba_compiles}
    quiet_check = 1.0 if plan.timing.wait_quiet > 0 else 0.0  # --wait-quiet samples the load for 1 s per case
    total = 0.0
    sample_s = plan.timing.sample_ns / 1e9

    def case(n: int, itemsize: int, arrays: int, cand_keys: list[str], strided: bool) -> float:
        rounds = plan.timing_for(n).repeats
        nbytes = n * itemsize * arrays
        calls = [_call_s(k, nbytes, strided, arrays == 3) for k in cand_keys]
        calls = [c if not (n >= 10**8 and c > 5.0) else 0.0 for c in calls]  # skipped after one call
        setup = n * (2 if strided else 1) * arrays * 25e-9  # generating the inputs
        reference = 0.3e-6 * n * (2 if arrays == 3 else 1) if n <= ACCURACY_MAX_N else 0.0
        return quiet_check + setup + reference + sum(3 * c + rounds * max(c, sample_s) for c in calls)

    for n in plan.sizes if "grid" in plan.sections else ():
        total = 0.0
        for dtype in plan.dtypes:
            size = 4 if dtype == "float32" else 8
            for layout in plan.layouts:
                for weighted in plan.weightings:
                    k = [
                        x for x in keys["grid"] if not (x == "simsimd" and (weighted or layout == "strided"))
                    ]
                    total += case(n, size, 3 if weighted else 2, k, layout == "strided")
        est[f"grid {render.fmt_n(n)}"] = total
    if "ops" in plan.sections:
        est["ops"] = sum(
            case(n, 4 if d == "float32" else 8, 2, keys["ops"], False)
            for n in plan.ops_sizes
            for d in plan.dtypes
        )
    if "latency" in plan.sections:
        est["latency"] = sum(
            len(plan.dtypes) * case(n, 8, 2, keys["latency"], False) for n in plan.latency_sizes
        )
    if "dask" in plan.sections and dask_available():
        n = plan.dask[0]
        est["dask"] = 8.0 + n * 40e-9 + (plan.timing.repeats + 1) * n * 16 / 4e9  # cluster, generation, 4 calls
    for name, (_, sizes, _) in MODULE_SECTIONS.items():
        if name in plan.sections:  # rough: ~40 candidate calls per round over the section's data
            size = sizes[plan.mode]
            est[name] = 2.0 + size["repeats"] * 40 * 16 * size.get("elements", size.get("n", 10**5)) / 5e9
    if "accuracy" in plan.sections:
        est["accuracy"] = sum(
            len(accuracy.DATA_KINDS) * len(plan.dtypes) * (n * 0.3e-6 + 0.02) for n in plan.accuracy_sizes
        )
    return est


# --------------------------------------------------------------------------- sections


def _attach_errors(ms: Sequence[Any], ref: accuracy.Reference | None) -> None:
    if ref is None:
        return
    for m in ms:
        if m.value is not None:
            m.rel_error = ref.rel_error(m.value)
            m.correctly_rounded = ref.correctly_rounded(m.value)


def run_case(
    section: str, plan: Plan, n: int, dtype: str, layout: str = "contiguous", weighted: bool = False
) -> CaseResult:
    start = time.monotonic()
    label = f"[{section}] n={render.fmt_n(n)} {dtype} {layout}{' weighted' if weighted else ''}"
    inp = peers.make_inputs(n, dtype, plan.seed, layout, weighted)
    top = plan.threads[0]
    if section == "grid":
        cands = peers.mse_candidates(inp, plan.threads, plan.families)
    elif section == "ops":
        cands = peers.ops_candidates(inp, top, plan.families)
    else:
        cands = peers.latency_candidates(inp, top, plan.families)
    ref = None
    if section != "latency" and n <= ACCURACY_MAX_N:
        ref = accuracy.Reference(accuracy.exact_mse(inp.t, inp.p, inp.w))
    s = plan.timing_for(n)
    log(f"{label}: {len(cands)} candidates x {s.repeats} rounds")
    ms, load = measure(cands, n, s)
    if load.get("rounds_disturbed"):
        log(f"  {load['rounds_disturbed']} of {load['rounds']} rounds disturbed by other processes")
    _attach_errors(ms, ref)
    result = CaseResult(
        section, n, dtype, layout, weighted, ref.value if ref else None, ms, load, time.monotonic() - start
    )
    del inp, cands
    if n >= 10**6:
        gc.collect()  # big inputs gone before the next case allocates (a full collection costs ~0.1 s)
    return result


def run_accuracy(plan: Plan) -> list[accuracy.AccuracyCase]:
    """Every MSE candidate once per (data kind, dtype, n), against the exact MSE; all thread counts."""
    out = []
    for n in plan.accuracy_sizes:
        for dtype in plan.dtypes:
            for kind in accuracy.DATA_KINDS:
                log(f"[accuracy] n={render.fmt_n(n)} {dtype} {kind}")
                inp = peers.make_inputs(n, dtype, plan.seed, kind=kind)
                ref = accuracy.Reference(accuracy.exact_mse(inp.t, inp.p))
                rows = []
                for c in peers.accuracy_candidates(inp, plan.threads, plan.families):
                    if c.prepare is not None:
                        c.prepare()
                    try:
                        v = (c.value_of or as_value)(c.fn(*c.args))
                    except Exception as exc:  # noqa: BLE001 - a peer refusing the data is a result too
                        log(f"  {c.label}: {type(exc).__name__}: {exc}")
                        v = None
                    v = math.nan if v is None else v
                    rows.append(
                        accuracy.AccuracyRow(
                            c.key, c.family, c.name, c.threads, v, ref.rel_error(v), ref.correctly_rounded(v)
                        )
                    )
                out.append(accuracy.AccuracyCase(kind, dtype, n, ref.value, rows))
    return out


# --------------------------------------------------------------------------- outputs


def case_dict(c: CaseResult) -> dict[str, Any]:
    d = asdict(c)
    for md, m in zip(d["measurements"], c.measurements):
        md["median_ns"] = None if m.skipped else m.median_ns
        md["gb_per_s"] = None if m.skipped else m.gb_per_s
        md["of_probe"] = render.of_probe(c, m)
        md["vs_numpy"] = render.vs_numpy(c, m)
    return d


def _strict(x: Any) -> Any:
    """NaN/inf (an empty IQR, a failed peer) as null/"inf"/"-inf", so that any JSON parser reads the file."""
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else str(x)
    if isinstance(x, dict):
        return {k: _strict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_strict(v) for v in x]
    return x


def write_json(
    path: Path,
    meta: dict[str, Any],
    plan: Plan,
    results: dict[str, list[Any]],
    dask_res: dict[str, Any] | None,
    module_rows: dict[str, list[dict[str, Any]]] | None = None,
) -> None:
    payload = {
        "meta": meta,
        "plan": asdict(plan),
        **{k: [case_dict(c) for c in v] for k, v in results.items() if k != "accuracy"},
        "accuracy": [asdict(a) for a in results["accuracy"]],
        "dask": dask_res,
        **(module_rows or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_strict(payload), indent=1, default=str, allow_nan=False) + "\n")


def replace_between(path: Path, marks: tuple[str, str], text: str) -> None:
    doc = path.read_text()
    start, end = doc.find(marks[0]), doc.find(marks[1])
    if start < 0 or end < start:
        raise SystemExit(f"{path}: markers {marks[0]} / {marks[1]} not found")
    path.write_text(doc[: start + len(marks[0])] + "\n" + text.rstrip() + "\n" + doc[end:])


def summary_markdown(
    grid: Sequence[CaseResult],
    latency: Sequence[CaseResult],
    acc: Sequence[accuracy.AccuracyCase],
    meta: dict[str, Any],
) -> str:
    """The main README's performance summary: headline table, small calls, accuracy."""
    plain = [c for c in grid if c.layout == "contiguous" and not c.weighted]
    n = max(c.n for c in plain)
    exp = str(int(math.log10(n))).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    lines = [
        f"| n = 10{exp} | l2loss `mean_squared_error` | of the bandwidth probe "
        "| vs NumPy `np.mean((y-p)**2)` | vs sklearn | vs numba `prange` fastmath |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in (c for c in plain if c.n == n):
        m, t = render.l2loss_main(c), render.max_threads(c)
        if m is None:
            continue
        lines.append(
            render.row(
                [
                    c.dtype,
                    f"{render.fmt_time(m.median_ns)} ({render.fmt_num(m.gb_per_s)} GB/s)",
                    render.fmt_ratio(render.of_probe(c, m), ""),
                    render.fmt_ratio(render.vs_numpy(c, m)),
                    render.fmt_ratio(render.speedup(c, m, "sklearn")),
                    render.fmt_ratio(render.speedup(c, m, f"numba@{t}")),
                ]
            )
        )
    lines += ["", f"(Run of {meta['date']}: {meta['cpu']}, {meta['cores']} cores, {t} threads.)", ""]
    lat = {(c.n, c.dtype): c for c in latency}
    parts = []
    for size in sorted({c.n for c in latency}, reverse=True):
        c = lat.get((size, "float64"))
        if c and c.find("l2loss") and c.find("numpy"):
            parts.append(
                f"{c.find('l2loss').median_ns / 1e3:.2g} µs at n = {size} "
                f"(NumPy {c.find('numpy').median_ns / 1e3:.2g} µs)"
            )
    if parts:
        lines.append(f"- Small calls (float64): a `mean_squared_error` call takes {'; '.join(parts)}.")
    if acc:
        big = max(a.n for a in acc)
        worst: dict[str, float] = {}
        rows = [r for a in acc if a.n == big for r in a.rows if r.rel_error is not None]
        for r in rows:
            if not r.family.startswith("l2loss"):
                worst[r.family] = max(worst.get(r.family, 0.0), r.rel_error)  # inf stays inf
        l2 = [r for r in rows if r.family == "l2loss"]
        exact = [r for r in rows if r.family == "l2loss exact=True"]
        l2_text = f"l2loss's largest relative error is {max(r.rel_error for r in l2):.1e}"
        if l2 and all(r.correctly_rounded for r in l2):
            l2_text += " (every result the exact MSE correctly rounded)"
        elif exact and all(r.correctly_rounded for r in exact):
            l2_text += " (`exact=True`: every result correctly rounded)"
        peers_txt = ", ".join(f"{k} {v:.1e}" for k, v in sorted(worst.items(), key=lambda kv: -kv[1]))
        lines.append(
            f"- Accuracy at n = {render.fmt_n(big)} over benign, large-mean, wide-range and cancellation "
            f"data, float32 and float64: {l2_text}; the largest of each peer: {peers_txt}."
        )
    return "\n".join(lines)


def default_stem(mode: str) -> Path:
    suffix = "" if mode == "full" else f"-{mode}"
    return RESULTS_DIR / f"{dt.date.today().isoformat()}-{machine_slug()}{suffix}"


# --------------------------------------------------------------------------- CLI


def parse_list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def parse_sizes(text: str) -> tuple[int, ...]:
    return tuple(int(float(x)) for x in parse_list(text))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="n <= 1e6, 3 rounds, short samples (about a minute)"
    )
    mode.add_argument(
        "--smoke", action="store_true", help="tiniest end-to-end run (seconds; not a measurement)"
    )
    ap.add_argument(
        "--dry-run", action="store_true", help="print the plan and its estimated wall time, then exit"
    )
    ap.add_argument(
        "--sections",
        type=parse_list,
        default=SECTIONS,
        help=f"comma-separated subset of {','.join(SECTIONS)} (dask: when dask[distributed] and dask-ml "
        "are installed)",
    )
    ap.add_argument("--sizes", type=parse_sizes, help="grid sizes, e.g. 1e3,1e6,1e8")
    ap.add_argument("--max-n", type=lambda x: int(float(x)), help="drop every size above this (all sections)")
    ap.add_argument("--dtypes", type=parse_list, default=("float32", "float64"))
    ap.add_argument("--layouts", type=parse_list, default=("contiguous", "strided"))
    ap.add_argument("--weights", type=parse_list, default=("unweighted", "weighted"))
    ap.add_argument(
        "--threads",
        type=lambda x: tuple(sorted({int(v) for v in parse_list(x)}, reverse=True)),
        help="thread counts for every library with a knob (default: 1,<all cores>)",
    )
    ap.add_argument(
        "--peers",
        type=parse_list,
        default=peers.PEER_FAMILIES,
        help=f"peer libraries to include (default all installed: {','.join(peers.PEER_FAMILIES)})",
    )
    ap.add_argument(
        "--repeats", type=int, help="interleaved rounds (default 7, 5 at n >= 1e8; 3 with --quick)"
    )
    ap.add_argument(
        "--sample-ms", type=float, help="minimum length of one sample (default 20 ms; 5 with --quick)"
    )
    ap.add_argument("--seed", type=int, default=20240229)
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="before each case and after a disturbed round, wait up to S s for a quiet machine",
    )
    ap.add_argument(
        "--retry-busy", type=int, metavar="K", help="re-time disturbed rounds: up to K x repeats more"
    )
    ap.add_argument(
        "--json", type=Path, help="raw results (default benchmarks/results/<date>-<machine>.json)"
    )
    ap.add_argument("--no-json", action="store_true", help="write no JSON")
    ap.add_argument("--markdown", type=Path, help="the Markdown tables (default: next to the JSON, .md)")
    ap.add_argument(
        "--plot",
        nargs="?",
        type=Path,
        const=RESULTS_DIR,
        metavar="DIR",
        help=f"write {' and '.join(CHARTS)} to DIR (default benchmarks/results)",
    )
    ap.add_argument(
        "--update-readme",
        action="store_true",
        help="replace the results section of --readme and the summary of --main-readme",
    )
    ap.add_argument("--readme", type=Path, default=README, help="default benchmarks/README.md")
    ap.add_argument("--main-readme", type=Path, default=MAIN_README, help="default README.md")
    return ap.parse_args(argv)


def plan_from(args: argparse.Namespace) -> Plan:
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    d = MODES[mode]
    cap = args.max_n or math.inf
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}")
    retry = args.retry_busy if args.retry_busy is not None else d["retry_busy"]
    timing = TimingSettings(
        args.repeats or d["repeats"], (args.sample_ms or d["sample_ms"]) * 1e6, args.wait_quiet, retry
    )
    return Plan(
        mode=mode,
        sizes=tuple(n for n in (args.sizes or d["sizes"]) if n <= cap),
        dtypes=args.dtypes,
        layouts=args.layouts,
        weightings=tuple(w == "weighted" for w in args.weights),
        threads=args.threads or tuple(sorted({1, os.cpu_count() or 1}, reverse=True)),
        ops_sizes=tuple(n for n in d["ops_sizes"] if n <= cap),
        latency_sizes=d["latency_sizes"],
        accuracy_sizes=tuple(n for n in d["accuracy_sizes"] if n <= cap),
        dask=d["dask"] if d["dask"][0] <= cap else (min(d["dask"][0], int(cap)), min(d["dask"][1], int(cap))),
        families=tuple(f for f in args.peers if f in peers.PEER_FAMILIES),
        sections=args.sections,
        timing=timing,
        big_repeats=args.repeats or d["big_repeats"],
        seed=args.seed,
    )


def dask_available() -> bool:
    try:
        import dask_ml.metrics  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def run_dask(plan: Plan) -> dict[str, Any] | None:
    """l2loss.dask vs dask-ml vs dask.array vs the scheduler's floor on a 2-worker LocalCluster."""
    if not dask_available():
        log("dask: skipped (needs dask[distributed] and dask-ml: pip install -e .[bench,dask])")
        return None
    import dask_bench

    n, chunk = plan.dask
    log(f"dask: n = {render.fmt_n(n)} in blocks of {render.fmt_n(chunk)} on a LocalCluster")
    return dask_bench.measure(n, chunk, repeats=plan.timing.repeats, seed=plan.seed)


def run_module_sections(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """The sections kept in their own modules (MODULE_SECTIONS), at this mode's sizes."""
    import importlib

    out: dict[str, list[dict[str, Any]]] = {}
    for name, (module, sizes, _) in MODULE_SECTIONS.items():
        if name in plan.sections:
            log(f"section {name}")
            out[name] = importlib.import_module(module).run(**sizes[plan.mode])
    return out


def module_markdown(rows: dict[str, list[dict[str, Any]]]) -> str:
    import importlib

    parts = []
    for name, r in rows.items():
        module_name, _, render_name = MODULE_SECTIONS[name]
        module = importlib.import_module(module_name)
        title = (module.__doc__ or name).strip().splitlines()[0]
        parts.append(f"\n### {name}: {title}\n\n{getattr(module, render_name)(r)}\n")
    return "".join(parts)


def dask_markdown(res: dict[str, Any] | None) -> str:
    if res is None:
        return ""
    import dask_bench

    return "\n\n### Dask: l2loss.dask vs dask-ml (peers for the Dask rows)\n\n" + dask_bench.render(res)


def candidate_keys(plan: Plan) -> dict[str, list[str]]:
    """The candidates each section will time (probed on tiny inputs: which peers are installed)."""
    inp = peers.make_inputs(4, "float64", plan.seed)
    return {
        "grid": [c.key for c in peers.mse_candidates(inp, plan.threads, plan.families)],
        "ops": [c.key for c in peers.ops_candidates(inp, plan.threads[0], plan.families)],
        "latency": [c.key for c in peers.latency_candidates(inp, plan.threads[0], plan.families)],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = plan_from(args)
    keys = candidate_keys(plan)
    parts = estimate_seconds(plan, keys)
    estimate = sum(parts.values())
    n_grid = len(plan.sizes) * len(plan.dtypes) * len(plan.layouts) * len(plan.weightings)
    log(
        f"plan ({plan.mode}): grid {n_grid} cases (n = {', '.join(map(render.fmt_n, plan.sizes))}), "
        f"ops n = {', '.join(map(render.fmt_n, plan.ops_sizes))}, latency n = {plan.latency_sizes}, "
        f"accuracy n = {', '.join(map(render.fmt_n, plan.accuracy_sizes))}; threads {plan.threads}; "
        f"sections {','.join(plan.sections)}"
    )
    log(f"candidates: {', '.join(keys['grid'])}")
    log(
        f"estimated wall time on a quiet 2-core machine: {estimate / 60:.1f} min ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in parts.items())
        + f"); up to {1 + plan.timing.retry_busy}x that while others keep the machine busy (disturbed "
        "rounds are re-timed, --retry-busy)"
    )
    if args.dry_run:
        return 0

    started = time.monotonic()
    accuracy.self_check(plan.seed, n=300 if plan.mode == "smoke" else 1500)
    meta = machine_info(plan.threads, peers.thread_knobs(plan.families))
    meta["estimate_s"] = round(estimate)
    grid: list[CaseResult] = []
    if "grid" in plan.sections:
        for n in plan.sizes:
            for dtype in plan.dtypes:
                for layout in plan.layouts:
                    for weighted in plan.weightings:
                        grid.append(run_case("grid", plan, n, dtype, layout, weighted))
            log(f"  elapsed {(time.monotonic() - started) / 60:.1f} min")
    ops = (
        [run_case("ops", plan, n, d) for n in plan.ops_sizes for d in plan.dtypes]
        if "ops" in plan.sections
        else []
    )
    latency = (
        [run_case("latency", plan, n, d) for n in plan.latency_sizes for d in plan.dtypes]
        if "latency" in plan.sections
        else []
    )
    acc = run_accuracy(plan) if "accuracy" in plan.sections else []
    dask_res = run_dask(plan) if "dask" in plan.sections else None
    module_rows = run_module_sections(plan)
    meta["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    meta["thread_knobs"] = peers.thread_knobs(plan.families)  # numba's threading layer is known now
    meta["wall_s"] = round(time.monotonic() - started, 1)

    stem = default_stem(plan.mode)
    charts: list[tuple[str, Path]] = []
    if args.plot is not None:
        import plot

        if grid:
            plot.throughput_chart(args.plot / CHARTS[0], grid, meta)
            charts.append(("throughput against n", args.plot / CHARTS[0]))
        if acc:
            plot.accuracy_chart(args.plot / CHARTS[1], acc, meta)
            charts.append(("accuracy per data kind", args.plot / CHARTS[1]))
        log(f"charts written to {', '.join(str(p) for _, p in charts)}")
    markdown = render.render_markdown(meta, grid, ops, latency, acc) + dask_markdown(dask_res)
    markdown += module_markdown(module_rows)
    print(markdown)
    md_path = args.markdown or (
        None if args.no_json else args.json.with_suffix(".md") if args.json else stem.with_suffix(".md")
    )
    if md_path:
        md_path.parent.mkdir(parents=True, exist_ok=True)
        md_path.write_text(markdown + "\n")
        log(f"Markdown written to {md_path}")
    if not args.no_json:
        path = args.json or stem.with_suffix(".json")
        results = {"grid": grid, "ops": ops, "latency": latency, "accuracy": acc}
        write_json(path, meta, plan, results, dask_res, module_rows)
        log(f"raw results written to {path}")
    if args.update_readme:
        rel = [(title, os.path.relpath(p.resolve(), args.readme.resolve().parent)) for title, p in charts]
        replace_between(
            args.readme,
            MARKS,
            render.render_markdown(meta, grid, ops, latency, acc, rel)
            + dask_markdown(dask_res)
            + module_markdown(module_rows),
        )
        log(f"updated {args.readme}")
        if grid and latency:
            replace_between(args.main_readme, SUMMARY_MARKS, summary_markdown(grid, latency, acc, meta))
            log(f"updated the summary in {args.main_readme}")
    log(f"wall time {meta['wall_s'] / 60:.1f} min (estimated {estimate / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
