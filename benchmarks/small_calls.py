"""Per-call cost of the public metrics on small inputs, beside NumPy and scikit-learn.

Issue #16, item 1: at n = 1000 float64 every metric (weighted or not) should take
<= 2 us, ``r2_score`` <= 2.5 us, ``regression_report`` <= 5 us and
``RegressionAccumulator.update`` <= 3 us per call. Each case times l2loss, NumPy doing
the same job (``np.mean((a - b) ** 2)``, ``np.average(..., weights=w)`` ...) and
scikit-learn side by side in one process: the candidates alternate in rounds so that
machine noise hits them alike, and each figure is the median over the rounds of the
mean time of a loop of calls. "general path" is the same l2loss call without the fast
intake (``func.__wrapped__``; for update, the validation + ``_batch`` + ``_absorb`` path),
i.e. what every such call cost before issue #16.1. Run:

    PYTHONPATH=python python benchmarks/small_calls.py [--repeats 15] [--quick]

``run(repeats)`` returns one dict per case (for benchmarks/run.py). ``--profile`` adds
where the time of a call goes at n = 1000 float64 (``breakdown``): the public call, the
C++ fast intake called directly (the public call minus its one Python frame), the
engine's fused pass alone (``_core.reduce`` with the same kernel profile) and the
engine's finalisers (each through its ReduceResult method, ~0.2 us of call overhead
included). Not a test: timings are never asserted (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import l2loss
import numpy as np
from l2loss import _core

try:
    import sklearn.metrics as skm
except ImportError:  # pragma: no cover - sklearn is a test dependency
    skm = None

Call = Callable[[], Any]

SIZES = (16, 1000, 10000)
METRICS = (
    "mean_squared_error",
    "root_mean_squared_error",
    "mean_absolute_error",
    "mean_squared_log_error",
    "root_mean_squared_log_error",
    "max_error",
    "r2_score",
    "explained_variance_score",
)


def _numpy_twin(name: str, a: np.ndarray, b: np.ndarray, w: np.ndarray | None) -> Call:
    """NumPy doing the same job as metric ``name`` (the usual one-liner)."""
    avg = np.average
    if name == "mean_squared_error":
        return lambda: avg((a - b) ** 2, weights=w)
    if name == "root_mean_squared_error":
        return lambda: np.sqrt(avg((a - b) ** 2, weights=w))
    if name == "mean_absolute_error":
        return lambda: avg(np.abs(a - b), weights=w)
    if name == "mean_squared_log_error":
        return lambda: avg((np.log1p(a) - np.log1p(b)) ** 2, weights=w)
    if name == "root_mean_squared_log_error":
        return lambda: np.sqrt(avg((np.log1p(a) - np.log1p(b)) ** 2, weights=w))
    if name == "max_error":
        return lambda: np.max(np.abs(a - b))
    if name == "r2_score":
        return lambda: 1 - avg((a - b) ** 2, weights=w) / avg((a - avg(a, weights=w)) ** 2, weights=w)
    if name == "explained_variance_score":

        def ev() -> float:
            e = a - b
            var_e = avg((e - avg(e, weights=w)) ** 2, weights=w)
            return float(1 - var_e / avg((a - avg(a, weights=w)) ** 2, weights=w))

        return ev
    if name == "regression_report":
        parts = [_numpy_twin(m, a, b, w) for m in METRICS if m != "max_error" or w is None]
        return lambda: [f() for f in parts]
    raise ValueError(name)


def _sklearn_twin(name: str, a: np.ndarray, b: np.ndarray, w: np.ndarray | None) -> Call | None:
    if skm is None:
        return None
    if name == "regression_report":
        names = [
            "mean_squared_error",
            "root_mean_squared_error",
            "mean_absolute_error",
            "r2_score",
            "explained_variance_score",
        ]
        fs = [getattr(skm, m) for m in names]
        return lambda: ([f(a, b, sample_weight=w) for f in fs], skm.max_error(a, b))
    f = getattr(skm, name)
    if name == "max_error":
        return lambda: f(a, b)
    return lambda: f(a, b, sample_weight=w)


def _accumulator_case(a: np.ndarray, b: np.ndarray, w: np.ndarray | None) -> tuple[Call, Call, Call]:
    acc, slow_acc = l2loss.RegressionAccumulator(), l2loss.RegressionAccumulator()

    def ours() -> None:
        acc.update(a, b, w)

    def general() -> None:  # what update() ran before the fast intake (validation, check_reg_targets ...)
        slow_acc._absorb([slow_acc._batch("update", a, b, w)], from_update=True)

    sums = np.zeros(4)

    def numpy_twin() -> None:  # the running sums a hand-written NumPy accumulator keeps
        d = b - a
        ww = np.ones_like(a) if w is None else w
        sums[0] += ww @ (d * d)
        sums[1] += ww @ np.abs(d)
        sums[2] += ww @ d
        sums[3] += ww.sum()

    return ours, general, numpy_twin


def _ours(f: Callable[..., Any], a: np.ndarray, b: np.ndarray, w: np.ndarray | None) -> Call:
    if w is None:
        return lambda: f(a, b)
    return lambda: f(a, b, sample_weight=w)


def _loop_size(f: Call, budget_ns: int = 1_000_000) -> int:
    """Calls per timed loop so that one loop lasts about ``budget_ns``."""
    start = time.perf_counter_ns()
    f()
    once = max(time.perf_counter_ns() - start, 200)
    return max(1, min(2000, budget_ns // once))


def _median_us(calls: dict[str, Call], repeats: int) -> dict[str, float]:
    """Median over ``repeats`` rounds of the mean per-call time (us); candidates alternate."""
    for f in calls.values():  # warm-up
        for _ in range(20):
            f()
    loops = {name: _loop_size(f) for name, f in calls.items()}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    clock = time.perf_counter_ns
    for _ in range(repeats):
        for name, f in calls.items():
            k = loops[name]
            rng = range(k)
            start = clock()
            for _ in rng:
                f()
            samples[name].append((clock() - start) / k / 1000.0)
    return {name: statistics.median(v) for name, v in samples.items()}


def _data(n: int, dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.0, 10.0, n).astype(dtype)  # positive: the log metrics accept it
    b = (a + rng.uniform(-1.0, 1.0, n)).clip(0.0).astype(dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    return a, b, w


def cases(quick: bool = False) -> list[tuple[str, int, str, bool]]:
    """(function, n, dtype, weighted) for every case of the table."""
    sizes = [(1000, "float64")] if quick else [*((n, "float64") for n in SIZES), (1000, "float32")]
    out = []
    for n, dtype in sizes:
        for name in (*METRICS, "regression_report"):
            for weighted in (False, True):
                if name == "max_error" and weighted:
                    continue  # max_error takes no weights
                out.append((name, n, dtype, weighted))
    for n in (256, 1000):
        for weighted in (False, True):
            out.append(("RegressionAccumulator.update", n, "float64", weighted))
    return out


def run(repeats: int = 15, quick: bool = False) -> list[dict[str, Any]]:
    """Time every case; one dict per case with the median us per call of each candidate."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. sklearn's own deprecation chatter
        for name, n, dtype, weighted in cases(quick):
            a, b, w = _data(n, dtype)
            ww = w if weighted else None
            if name == "RegressionAccumulator.update":
                ours, slow, numpy_twin = _accumulator_case(a, b, ww)
                calls: dict[str, Call] = {"l2loss": ours, "general": slow, "numpy": numpy_twin}
            else:
                f = getattr(l2loss, name)
                calls = {"l2loss": _ours(f, a, b, ww), "general": _ours(f.__wrapped__, a, b, ww)}
                calls["numpy"] = _numpy_twin(name, a, b, ww)
                sk = _sklearn_twin(name, a, b, ww)
                if sk is not None:
                    calls["sklearn"] = sk
            times = _median_us(calls, repeats)
            rows.append(
                {
                    "function": name,
                    "n": n,
                    "dtype": dtype,
                    "weighted": weighted,
                    "l2loss_us": times["l2loss"],
                    "general_us": times["general"],
                    "numpy_us": times["numpy"],
                    "sklearn_us": times.get("sklearn"),
                }
            )
    return rows


def breakdown(repeats: int = 15, n: int = 1000) -> list[dict[str, Any]]:
    """Where the time of a call goes (us, medians): public call, intake, engine pass, finalisers."""
    a, b, w = _data(n, "float64")
    families = [
        ("mean_squared_error", _core.mse_intake, _core.PROFILE_SQ, ("mean",)),
        ("r2_score", _core.r2_intake, _core.PROFILE_R2, ("r2_parts",)),
        (
            "explained_variance_score",
            _core.explained_variance_intake,
            _core.PROFILE_REPORT,
            ("explained_variance_parts",),
        ),
        (
            "regression_report",
            _core.report_intake,
            _core.PROFILE_REPORT,
            ("mean", "mean", "mean", "r2_parts", "explained_variance_parts", "weight_sum"),
        ),
    ]
    rows = []
    for name, intake, profile, finalisers in families:
        for ww in (None, w):
            kw = {} if ww is None else {"sample_weight": ww}
            state = _core.reduce(a, b, ww, sums=profile)
            fin = {
                "mean": lambda state=state: state.mean(_core.ACC_SQ),
                "r2_parts": state.r2_parts,
                "explained_variance_parts": state.explained_variance_parts,
                "weight_sum": state.weight_sum,
            }
            calls: dict[str, Call] = {
                "public": _ours(getattr(l2loss, name), a, b, ww),
                "intake": lambda intake=intake, kw=kw: intake(a, b, kw),
                "engine_pass": lambda ww=ww, profile=profile: _core.reduce(a, b, ww, sums=profile),
            }
            for f in dict.fromkeys(finalisers):
                calls[f] = fin[f]
            times = _median_us(calls, repeats)
            finalise = sum(times[f] for f in finalisers)
            rows.append(
                {"function": name, "n": n, "weighted": ww is not None, **times, "finalisers": finalise}
            )
    acc = l2loss.RegressionAccumulator()
    state = _core.reduce(a[:256], b[:256], None, sums=_core.PROFILE_REPORT)
    other = state.copy()
    times = _median_us(
        {
            "public": lambda: acc.update(a[:256], b[:256]),
            "intake": lambda: _core.accumulate_intake(a[:256], b[:256], None, None),
            "engine_pass": lambda: _core.reduce(a[:256], b[:256], None, sums=_core.PROFILE_REPORT),
            "merge": lambda: state.merge(other),
        },
        repeats,
    )
    rows.append(
        {
            "function": "RegressionAccumulator.update",
            "n": 256,
            "weighted": False,
            **times,
            "finalisers": times["merge"],
        }
    )
    return rows


def render_breakdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| function | n | weights | public us | intake us | engine pass us | finalisers (or merge) us |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['function']} | {r['n']} | {'yes' if r['weighted'] else 'no'} | {r['public']:.2f} | "
            f"{r['intake']:.2f} | {r['engine_pass']:.2f} | {r['finalisers']:.2f} |"
        )
    return "\n".join(lines)


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| function | n | dtype | weights | l2loss us | general path us | NumPy us | sklearn us "
        "| NumPy / l2loss |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        sk = "-" if r["sklearn_us"] is None else f"{r['sklearn_us']:.1f}"
        lines.append(
            f"| {r['function']} | {r['n']} | {r['dtype']} | {'yes' if r['weighted'] else 'no'} | "
            f"{r['l2loss_us']:.2f} | {r['general_us']:.2f} | {r['numpy_us']:.2f} | {sk} | "
            f"{r['numpy_us'] / r['l2loss_us']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds per case")
    parser.add_argument("--quick", action="store_true", help="n = 1000 float64 only")
    parser.add_argument("--profile", action="store_true", help="also where the time of a call goes")
    args = parser.parse_args(argv)
    print(render(run(args.repeats, args.quick)))
    if args.profile:
        print()
        print(render_breakdown(breakdown(args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
