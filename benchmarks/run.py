"""Standalone benchmark runner for l2loss: speed, bandwidth efficiency and accuracy, side by side.

For every (n, dtype) the runner allocates ``y_true``/``y_pred`` once from a seeded generator,
warms up every candidate (JIT compilation, page faults, lazy imports happen there), then times
the candidates **interleaved** (A B C, B C A, C A B, ...: one sample each per round, the starting
candidate rotating) for ``--repeats`` rounds and keeps the **median** per candidate. Small
calls are looped many times per sample and divided, so one sample always lasts at least
``--sample-ms``. Every figure in the output is a ratio measured in
the same run on the same machine:

* ``of probe``  = probe_time / candidate_time: the fraction of the physical limit reached, where
  the probe (``l2loss._core._bandwidth_probe``) is a plain fused OpenMP read of both arrays that
  computes a naive sum of squared differences (no exactness, no checks).
* ``vs NumPy``  = numpy_time / candidate_time (NumPy reference: ``np.mean((y_true - y_pred)**2)``).
* ``rel. error`` = |candidate - exact| / exact, with the exact MSE of the given inputs computed
  independently (``fractions.Fraction`` for small n, error-free transforms + ``math.fsum`` above).

Usage (from the repository root)::

    PYTHONPATH=python python benchmarks/run.py --quick
    PYTHONPATH=python python benchmarks/run.py --report --update-readme --plot benchmarks/results/latest.png
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import itertools
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import l2loss
import numpy as np

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
RESULTS_DIR = HERE / "results"
MARK_START, MARK_END = "<!-- results:start -->", "<!-- results:end -->"

DEFAULT_SIZES = (10**3, 10**5, 10**6, 10**7, 10**8)
QUICK_SIZES = (10**3, 10**5, 10**6)
LATENCY_SIZES = (16, 1000)
DEFAULT_DTYPES = ("float32", "float64")
SLOW_SKIP_MIN_N = 10**8  # at and above this n, a peer slower than SLOW_CALL_LIMIT_S per call is skipped
SLOW_CALL_LIMIT_S = 5.0
BUSY_PCT = 5.0  # other processes using more of the CPU than this while timing = "the machine was busy"
FRACTION_MAX_N = 10**4  # exact rational oracle up to here; error-free transforms + fsum above
EFT_RESOLUTION = 2.0**-52  # the fsum-based reference is within this relative error of the exact MSE

Metric = Callable[[np.ndarray, np.ndarray], Any]


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class Candidate:
    """One implementation under test: a callable taking (y_true, y_pred)."""

    key: str  # short id: "l2loss", "probe", "numpy", "sklearn", "numba", ... ("-report" suffix for reports)
    name: str
    fn: Metric
    group: str = "mse"  # "mse" rows are compared with NumPy's MSE, "report" rows with NumPy's report
    role: str = "peer"  # "l2loss", "probe", "numpy", "sklearn" or "peer"

    @property
    def may_skip(self) -> bool:
        return self.role not in ("l2loss", "probe")


@dataclass
class Measurement:
    """Raw samples (ns per call) of one candidate on one input."""

    key: str
    candidate: str
    group: str
    role: str
    number: int = 0  # calls per sample
    samples_ns: list[float] = field(default_factory=list)  # one per round, in round order
    sample_clean: list[bool] = field(default_factory=list)  # False: other processes were busy that round
    value: float | None = None  # the MSE it returned (as float)
    rel_error: float | None = None
    correctly_rounded: bool | None = None  # value == the exact MSE rounded to float64 (exact oracle only)
    skipped: str | None = None

    @property
    def used_samples(self) -> list[float]:
        """The samples of quiet rounds when there are enough of them (>= 3), else all samples."""
        clean = [x for x, ok in zip(self.samples_ns, self.sample_clean) if ok]
        return clean if len(clean) >= min(3, len(self.samples_ns)) else self.samples_ns

    @property
    def median_ns(self) -> float:
        used = self.used_samples
        return statistics.median(used) if used else math.nan

    @property
    def iqr_pct(self) -> float:
        used = self.used_samples
        if len(used) < 3:
            return math.nan
        q1, _, q3 = statistics.quantiles(used, n=4, method="inclusive")
        return 100.0 * (q3 - q1) / statistics.median(used)


@dataclass
class CaseResult:
    """All measurements for one (n, dtype) input pair."""

    kind: str  # "throughput" or "latency"
    n: int
    dtype: str
    bytes_read: int
    reference: float | None
    reference_method: str
    measurements: list[Measurement]
    background: dict[str, Any] = field(default_factory=dict)  # CPU used by others / steal, per round

    def find(self, role: str, group: str = "mse") -> Measurement | None:
        for m in self.measurements:
            if m.role == role and m.group == group and not m.skipped:
                return m
        return None


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...]
    dtypes: tuple[str, ...]
    repeats: int
    threads: int | None
    sample_ns: float
    seed: int
    report: bool
    latency: bool
    wait_quiet: float = 0.0  # seconds to wait for a quiet machine before each case
    retry_busy: int = 2  # replace disturbed rounds: up to retry_busy * repeats extra rounds


# --------------------------------------------------------------------------- candidates


def l2loss_candidates(threads: int | None, report: bool) -> list[Candidate]:
    kw: dict[str, Any] = {} if threads is None else {"num_threads": threads}
    probe_threads = threads or 0
    cands = [
        Candidate(
            "l2loss",
            "l2loss.mean_squared_error",
            lambda t, p: l2loss.mean_squared_error(t, p, **kw),
            role="l2loss",
        ),
        Candidate(
            "probe",
            "bandwidth probe",
            lambda t, p: l2loss._core._bandwidth_probe(t, p, probe_threads) / t.size,
            role="probe",
        ),
    ]
    if report:
        cands.append(
            Candidate(
                "l2loss-report",
                "l2loss.regression_report",
                lambda t, p: l2loss.regression_report(t, p, **kw),
                group="report",
                role="l2loss",
            )
        )
    return cands


def _numpy_mse(t: np.ndarray, p: np.ndarray) -> Any:
    return np.mean((t - p) ** 2)


def _numpy_report(t: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """What a NumPy user writes for the seven numbers of l2loss.regression_report."""
    d = p - t
    mse = np.mean(d**2)
    var_t = np.var(t)
    return {
        "mse": mse,
        "rmse": np.sqrt(mse),
        "mae": np.mean(np.abs(d)),
        "r2": 1.0 - mse / var_t,
        "explained_variance": 1.0 - np.var(d) / var_t,
        "max_error": np.max(np.abs(d)),
        "mean_error": np.mean(d),
    }


def reference_candidates(report: bool) -> list[Candidate]:
    cands = [Candidate("numpy", "NumPy mean((t-p)**2)", _numpy_mse, role="numpy")]
    if report:
        cands.append(
            Candidate("numpy-report", "NumPy, 7 metrics", _numpy_report, group="report", role="numpy")
        )
    try:
        import sklearn.metrics as skm
    except ImportError:
        return cands
    cands.append(Candidate("sklearn", "sklearn mean_squared_error", skm.mean_squared_error, role="sklearn"))
    if report:

        def sklearn_report(t: np.ndarray, p: np.ndarray) -> dict[str, Any]:
            return {
                "mse": skm.mean_squared_error(t, p),
                "rmse": skm.root_mean_squared_error(t, p),
                "mae": skm.mean_absolute_error(t, p),
                "r2": skm.r2_score(t, p),
                "explained_variance": skm.explained_variance_score(t, p),
                "max_error": skm.max_error(t, p),
                "mean_error": np.mean(p - t),
            }

        cands.append(
            Candidate(
                "sklearn-report", "sklearn, 6 metrics + bias", sklearn_report, group="report", role="sklearn"
            )
        )
    return cands


def _numexpr_candidate(threads: int | None) -> Candidate | None:
    try:
        import numexpr as ne
    except ImportError:
        return None
    if threads:
        ne.set_num_threads(threads)
    return Candidate(
        "numexpr",
        "numexpr sum((a-b)**2)/n",
        lambda t, p: ne.evaluate("sum((a-b)**2)", local_dict={"a": t, "b": p}) / t.size,
    )


def _numba_candidate(threads: int | None) -> Candidate | None:
    try:
        import numba
    except ImportError:
        return None
    if threads:
        numba.set_num_threads(threads)

    @numba.njit(parallel=True, fastmath=True, cache=False)
    def mse(t: np.ndarray, p: np.ndarray) -> float:  # pragma: no cover - compiled
        s = 0.0
        for i in numba.prange(t.shape[0]):
            d = t[i] - p[i]
            s += d * d
        return s / t.shape[0]

    return Candidate("numba", "numba prange fastmath", mse)


def _simsimd_candidate() -> Candidate | None:
    try:
        import simsimd
    except ImportError:
        return None
    return Candidate("simsimd", "simsimd sqeuclidean/n", lambda t, p: simsimd.sqeuclidean(t, p) / t.size)


def _torch_candidate(threads: int | None) -> Candidate | None:
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    if threads:
        torch.set_num_threads(threads)
    return Candidate(
        "torch",
        "torch mse_loss (CPU)",
        lambda t, p: F.mse_loss(torch.from_numpy(p), torch.from_numpy(t)).item(),
    )


def build_candidates(threads: int | None, report: bool) -> list[Candidate]:
    """All available candidates, in the order they are interleaved."""
    peers = [
        _numexpr_candidate(threads),
        _numba_candidate(threads),
        _simsimd_candidate(),
        _torch_candidate(threads),
    ]
    return [
        *l2loss_candidates(threads, report),
        *reference_candidates(report),
        *[c for c in peers if c is not None],
    ]


def latency_candidates(cands: Sequence[Candidate]) -> list[Candidate]:
    """l2loss vs NumPy vs sklearn; the probe is left out (it forks threads even for 16 elements)."""
    return [c for c in cands if c.group == "mse" and c.role in ("l2loss", "numpy", "sklearn")]


def as_mse(result: Any) -> float | None:
    """The MSE inside whatever a candidate returned (a scalar, a mapping or a report object)."""
    if isinstance(result, Mapping):
        result = result.get("mse", result.get("mean_squared_error"))
    elif hasattr(result, "mse"):
        result = result.mse
    try:
        return float(result)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- inputs and the exact oracle


def make_inputs(n: int, dtype: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """y_true ~ N(0, 1), y_pred = y_true + N(0, 0.5^2): contiguous, generated directly in `dtype`."""
    rng = np.random.default_rng(seed)
    y_true = rng.standard_normal(n, dtype=np.dtype(dtype).type)
    y_pred = rng.standard_normal(n, dtype=np.dtype(dtype).type)
    y_pred *= 0.5
    y_pred += y_true
    return y_true, y_pred


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knuth's TwoSum: s + e == a + b exactly."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Veltkamp split into two 26-bit halves (NumPy ufuncs never contract to FMA)."""
    c = 134217729.0 * a  # 2**27 + 1
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's TwoProduct: p + e == a * b exactly (no over/underflow in benchmark data)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, al * bl - (((p - ah * bh) - al * bh) - ah * bl)


def _exact_square_terms(t: np.ndarray, p: np.ndarray) -> Iterator[np.ndarray]:
    """Float64 arrays whose exact total is sum((p - t)^2) computed in exact arithmetic."""
    s, e = _two_sum(p.astype(np.float64), -t.astype(np.float64))
    yield from _two_prod(s, s)
    inexact = e != 0
    if inexact.any():
        s, e = s[inexact], e[inexact]
        yield from _two_prod(2.0 * s, e)
        yield from _two_prod(e, e)


def exact_mse_fsum(t: np.ndarray, p: np.ndarray, chunk: int = 1 << 20) -> float:
    """MSE within 2**-52 relative of exact: one exact fsum over error-free terms, then one division."""

    def terms() -> Iterator[memoryview]:
        for i in range(0, t.size, chunk):
            for arr in _exact_square_terms(t[i : i + chunk], p[i : i + chunk]):
                if not np.all(np.isfinite(arr)):
                    raise ValueError("reference overflowed")
                yield memoryview(arr[arr != 0])

    return math.fsum(itertools.chain.from_iterable(terms())) / t.size


def exact_mse_fraction(t: np.ndarray, p: np.ndarray) -> Fraction:
    """The exact rational MSE of the given floats."""
    total = sum(((Fraction(b) - Fraction(a)) ** 2 for a, b in zip(t.tolist(), p.tolist())), Fraction(0))
    return total / t.size


@dataclass(frozen=True)
class Reference:
    value: float
    exact: Fraction | None
    method: str

    def correctly_rounded(self, v: float) -> bool | None:
        return None if self.exact is None else v == self.value

    def rel_error(self, v: float) -> float:
        if self.exact is not None:
            return float(abs(Fraction(v) - self.exact) / self.exact) if math.isfinite(v) else math.inf
        return abs(v - self.value) / abs(self.value)


def compute_reference(t: np.ndarray, p: np.ndarray) -> Reference:
    if t.size <= FRACTION_MAX_N:
        exact = exact_mse_fraction(t, p)
        return Reference(float(exact), exact, "Fraction (exact)")
    return Reference(exact_mse_fsum(t, p), None, "EFT+fsum (±2.2e-16)")


def self_check_oracle(seed: int) -> None:
    """The fsum oracle must agree with the rational one; run once, on small data, before timing."""
    for dtype in DEFAULT_DTYPES:
        t, p = make_inputs(2000, dtype, seed)
        exact = exact_mse_fraction(t, p)
        approx = exact_mse_fsum(t, p, chunk=333)
        err = float(abs(Fraction(approx) - exact) / exact)
        if err > EFT_RESOLUTION:
            raise RuntimeError(f"fsum oracle off by {err:.3g} on {dtype}: benchmark reference is broken")


# --------------------------------------------------------------------------- timing


def _sample_ns(fn: Metric, t: np.ndarray, p: np.ndarray, number: int) -> float:
    """Mean ns per call over `number` back-to-back calls."""
    start = time.perf_counter_ns()
    for _ in range(number):
        fn(t, p)
    return (time.perf_counter_ns() - start) / number


def _calibrate(fn: Metric, t: np.ndarray, p: np.ndarray, target_ns: float) -> tuple[int, float]:
    """Calls per sample so that one sample lasts >= target_ns; also the time of one (warm) call."""
    one_call = _sample_ns(fn, t, p, 1)
    number, elapsed = 1, one_call
    while elapsed < target_ns / 10:
        number *= 10
        elapsed = _sample_ns(fn, t, p, number) * number
    return max(1, math.ceil(number * target_ns / elapsed)), one_call


def _warm_up(cands: Sequence[Candidate], t: np.ndarray, p: np.ndarray, target_ns: float) -> list[Measurement]:
    """Call each candidate untimed (compiles/faults), record its value, pick its loop count or skip it."""
    out = []
    for c in cands:
        m = Measurement(c.key, c.name, c.group, c.role)
        m.value = as_mse(c.fn(t, p))
        m.number, one_call = _calibrate(c.fn, t, p, target_ns)
        if c.may_skip and t.size >= SLOW_SKIP_MIN_N and one_call > SLOW_CALL_LIMIT_S * 1e9:
            m.skipped = f"skipped: one call took {one_call / 1e9:.1f} s (> {SLOW_CALL_LIMIT_S:.0f} s)"
        out.append(m)
    return out


def measure(
    cands: Sequence[Candidate], t: np.ndarray, p: np.ndarray, s: Settings
) -> tuple[list[Measurement], dict[str, Any]]:
    """Warm up, then interleave the candidates round by round (A B C, B C A, C A B, ...).

    The starting candidate rotates each round so that no candidate always runs right after the
    same neighbour (thread pools of other runtimes may still be spinning when a sample starts).
    A round during which other processes used more than BUSY_PCT of the CPU is kept in the raw
    data but marked disturbed, and another round is timed in its place (after waiting up to
    s.wait_quiet seconds for a quiet machine), up to s.retry_busy * s.repeats extra rounds.
    """
    wait_until_quiet(s.wait_quiet)
    ms = _warm_up(cands, t, p, s.sample_ns)
    active = [(c, m) for c, m in zip(cands, ms) if not m.skipped]
    loads: list[dict[str, float]] = []
    clean_rounds, max_rounds = 0, s.repeats * (1 + s.retry_busy)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while clean_rounds < s.repeats and len(loads) < max_rounds and active:
            if loads and loads[-1].get("other_cpu_pct", 0.0) > BUSY_PCT:
                wait_until_quiet(s.wait_quiet)
            k = len(loads) % len(active)
            before = cpu_snapshot()
            for c, m in active[k:] + active[:k]:
                m.samples_ns.append(_sample_ns(c.fn, t, p, m.number))
            loads.append(background_load(before, cpu_snapshot()))
            quiet = loads[-1].get("other_cpu_pct", 0.0) <= BUSY_PCT
            clean_rounds += quiet
            for _, m in active:
                m.sample_clean.append(quiet)
    finally:
        if gc_was_enabled:
            gc.enable()
    return ms, _summarise_rounds(loads, s.repeats)


def _summarise_rounds(loads: list[dict[str, float]], repeats: int) -> dict[str, Any]:
    """Machine load over the rounds whose samples are used (the quiet ones if there are enough)."""
    if not loads or not all(loads):
        return {}
    quiet = [x for x in loads if x["other_cpu_pct"] <= BUSY_PCT]
    used = quiet if len(quiet) >= min(3, len(loads)) else loads
    return {
        "other_cpu_pct": max(x["other_cpu_pct"] for x in used),
        "steal_pct": max(x["steal_pct"] for x in used),
        "rounds": len(loads),
        "rounds_disturbed": len(loads) - len(quiet),
        "rounds_used": len(used),
        "round_other_cpu_pct": [round(x["other_cpu_pct"], 1) for x in loads],
    }


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class CpuSnapshot:
    """System-wide busy and steal seconds (/proc/stat) and this process's CPU seconds."""

    wall: float
    busy: float
    steal: float
    own: float


def cpu_snapshot() -> CpuSnapshot | None:
    try:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq, steal = (
                int(x) for x in f.readline().split()[1:9]
            )
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    own = os.times()
    return CpuSnapshot(
        time.monotonic(), (user + nice + system + irq + softirq) / hz, steal / hz, own.user + own.system
    )


def background_load(a: CpuSnapshot | None, b: CpuSnapshot | None) -> dict[str, float]:
    """Share of the machine's CPU time used by other processes (and stolen by the hypervisor)."""
    if a is None or b is None or b.wall <= a.wall:
        return {}
    capacity = (b.wall - a.wall) * (os.cpu_count() or 1)
    other = max(0.0, (b.busy - a.busy) - (b.own - a.own))
    return {"other_cpu_pct": 100 * other / capacity, "steal_pct": 100 * (b.steal - a.steal) / capacity}


def other_cpu_pct(window_s: float = 1.0) -> float:
    """CPU share used by other processes over a short idle window of ours."""
    before = cpu_snapshot()
    time.sleep(window_s)
    return background_load(before, cpu_snapshot()).get("other_cpu_pct", 0.0)


def wait_until_quiet(max_wait_s: float) -> None:
    """Wait (up to max_wait_s) until other processes use at most BUSY_PCT of the CPU."""
    deadline = time.monotonic() + max_wait_s
    while max_wait_s > 0:
        pct = other_cpu_pct()
        if pct <= BUSY_PCT:
            return
        if time.monotonic() >= deadline:
            log(f"  machine still busy ({pct:.0f}% used by others) after {max_wait_s:.0f} s: timing anyway")
            return
        log(f"  machine busy ({pct:.0f}% used by others): waiting")


def run_case(
    kind: str, cands: Sequence[Candidate], n: int, dtype: str, s: Settings, accuracy: bool
) -> CaseResult:
    label = f"[{kind}] n={fmt_n(n)} {dtype}"
    log(f"{label}: generating inputs")
    t, p = make_inputs(n, dtype, s.seed)
    ref = None
    if accuracy:
        log(f"{label}: exact reference")
        ref = compute_reference(t, p)
    log(f"{label}: timing {len(cands)} candidates x {s.repeats} rounds")
    ms, load = measure(cands, t, p, s)
    if load.get("rounds_disturbed"):
        log(f"  {load['rounds_disturbed']} of {load['rounds']} rounds disturbed by other processes")
    if ref is not None:
        for m in ms:
            if m.value is not None:
                m.rel_error = ref.rel_error(m.value)
                m.correctly_rounded = ref.correctly_rounded(m.value)
    result = CaseResult(
        kind, n, dtype, t.nbytes + p.nbytes, ref.value if ref else None, ref.method if ref else "", ms, load
    )
    del t, p
    gc.collect()
    return result


# --------------------------------------------------------------------------- machine description


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def l2loss_config() -> dict[str, Any]:
    cfg = getattr(l2loss, "config", None)
    if callable(cfg):
        return dict(cfg())
    core = l2loss._core
    return {
        "version": getattr(l2loss, "__version__", "?"),
        "isa": core.get_isa(),
        "openmp": core.have_openmp(),
        "num_threads": core.get_num_threads(),
    }


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - any import problem just means "not available"
        return None


def build_info() -> dict[str, Any]:
    """Which l2loss binary is being timed: the repository commit and a hash of the extension module."""
    core_file = Path(l2loss._core.__file__)
    info: dict[str, Any] = {
        "core_file": str(core_file),
        "core_sha256": hashlib.sha256(core_file.read_bytes()).hexdigest()[:12],
        "core_mtime": dt.datetime.fromtimestamp(core_file.stat().st_mtime, dt.timezone.utc).isoformat(
            timespec="seconds"
        ),
    }
    try:
        git = ["git", "-C", str(HERE)]
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True)
        info["commit"] = commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = None
    return info


def machine_info(threads: int | None) -> dict[str, Any]:
    cfg = l2loss_config()
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "l2loss": cfg,
        "build": build_info(),
        "threads_requested": threads,
        "versions": {m: _version(m) for m in ("numpy", "sklearn", "numexpr", "numba", "simsimd", "torch")},
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def header_lines(meta: Mapping[str, Any]) -> list[str]:
    cfg = meta["l2loss"]
    vers = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    load = meta.get("loadavg_start")
    load_end = meta.get("loadavg_end")
    threads = meta["threads_requested"] or f"default ({cfg.get('num_threads')})"
    return [
        f"- Date: {meta['date']}; command: `{meta['command']}`",
        f"- CPU: {meta['cpu']}, {meta['cores']} cores (affinity {meta['affinity']})",
        f"- l2loss {cfg.get('version')}: ISA path `{cfg.get('isa')}`, "
        f"OpenMP {cfg.get('openmp')}, threads {threads}; commit {meta['build']['commit']}, "
        f"_core sha256 {meta['build']['core_sha256']}…",
        f"- Python {meta['python']}; {vers}",
        f"- Load average at start / end: {_fmt_load(load)} / {_fmt_load(load_end)} (1, 5, 15 min)",
    ]


def _fmt_load(load: Any) -> str:
    return "n/a" if not load else ", ".join(f"{x:.2f}" for x in load)


# --------------------------------------------------------------------------- formatting


def fmt_time(ns: float) -> str:
    if not math.isfinite(ns):
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def fmt_ratio(x: float | None, suffix: str = "×") -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.2f}{suffix}"


def fmt_err(e: float | None, method: str) -> str:
    if e is None:
        return "—"
    if method.startswith("EFT") and e <= EFT_RESOLUTION:
        return "≤2.2e-16"  # at or below the resolution of the reference itself
    if e == 0:
        return "0"
    return f"{e:.1e}"


def _ratio(base: Measurement | None, m: Measurement) -> float | None:
    if base is None or m.skipped:
        return None
    return base.median_ns / m.median_ns


def fmt_n(n: int) -> str:
    exp = math.log10(n)
    return f"1e{int(exp)}" if exp == int(exp) and n >= 1000 else str(n)


def throughput_table(cases: Sequence[CaseResult]) -> list[str]:
    lines = [
        "| n | dtype | candidate | time / call | GB/s | of probe | vs NumPy | IQR | rel. error (ref) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for case in cases:
        probe = case.find("probe")
        for m in case.measurements:
            if m.role == "probe":
                of_probe = "1 (limit)"
            else:
                of_probe = fmt_ratio(_ratio(probe, m), "")
            if m.skipped:
                cells = ["—", "—", "—", "—", "—"]
                err = m.skipped
            else:
                gbps = case.bytes_read / m.median_ns
                vs_np = fmt_ratio(_ratio(case.find("numpy", m.group), m))
                cells = [fmt_time(m.median_ns), f"{gbps:.1f}", of_probe, vs_np, f"{m.iqr_pct:.0f}%"]
                err = fmt_err(m.rel_error, case.reference_method) + (" (c.r.)" if m.correctly_rounded else "")
            lines.append(
                f"| {fmt_n(case.n)} | {case.dtype} | {m.candidate} | " + " | ".join(cells) + f" | {err} |"
            )
        lines[-1] += f" *{case.reference_method}*" if case.reference_method else ""
    return lines


def latency_table(cases: Sequence[CaseResult]) -> list[str]:
    lines = ["| n | dtype | candidate | ns / call | vs NumPy | vs sklearn |", "|---:|---|---|---:|---:|---:|"]
    for case in cases:
        for m in case.measurements:
            lines.append(
                f"| {case.n} | {case.dtype} | {m.candidate} | {m.median_ns:,.0f} | "
                f"{fmt_ratio(_ratio(case.find('numpy'), m))} | {fmt_ratio(_ratio(case.find('sklearn'), m))} |"
            )
    return lines


def target_rows(
    cases: Sequence[CaseResult], latency: Sequence[CaseResult]
) -> list[tuple[str, str, str, str]]:
    """DESIGN.md §5 targets, checked against this run: (target, case, measured, met?)."""
    rows = []

    def check(
        label: str, case: CaseResult, value: float | None, ok: Callable[[float], bool], unit: str
    ) -> None:
        if value is None:
            return
        rows.append(
            (label, f"{fmt_n(case.n)} {case.dtype}", f"{value:.2f}{unit}", "yes" if ok(value) else "**no**")
        )

    for case in cases:
        l2 = case.find("l2loss")
        if l2 is None:
            continue
        numba_m = next((m for m in case.measurements if m.key == "numba" and not m.skipped), None)
        if case.n >= 10**8:
            check("≥ 0.9 × probe", case, _ratio(case.find("probe"), l2), lambda x: x >= 0.9, "")
            check("≥ 4.5× NumPy", case, _ratio(case.find("numpy"), l2), lambda x: x >= 4.5, "×")
        if case.n >= 10**8 or case.n == 10**6:
            check("≥ numba prange fastmath", case, _ratio(numba_m, l2), lambda x: x >= 1.0, "×")
    for case in latency:
        l2 = case.find("l2loss")
        if case.n == 1000 and l2 is not None:
            check("n=1e3 call ≤ 1.5 µs", case, l2.median_ns / 1e3, lambda x: x <= 1.5, " µs")
    return rows


def background_lines(cases: Sequence[CaseResult], busy_pct: float = BUSY_PCT) -> list[str]:
    """How busy the machine was in the rounds used; names the cases still disturbed beyond busy_pct."""
    loads = [(c, c.background) for c in cases if c.background]
    if not loads:
        return []
    worst_other = max(b["other_cpu_pct"] for _, b in loads)
    worst_steal = max(b["steal_pct"] for _, b in loads)
    disturbed = sum(b["rounds_disturbed"] for _, b in loads)
    total = sum(b["rounds"] for _, b in loads)
    line = (
        f"- Rounds during which other processes used more than {busy_pct:.0f}% of the CPU: {disturbed} of "
        f"{total} (re-timed up to the --retry-busy limit, and left out of the medians when at least 3 quiet "
        f"rounds remained); in the rounds used, others took at most {worst_other:.1f}% of the CPU "
        f"(hypervisor steal at most {worst_steal:.1f}%)"
    )
    busy = [
        f"{'latency ' if c.kind == 'latency' else ''}{fmt_n(c.n)} {c.dtype} ({b['other_cpu_pct']:.0f}%)"
        for c, b in loads
        if b["other_cpu_pct"] > busy_pct
    ]
    if busy:
        line += f"; **the machine stayed busy during: {', '.join(busy)}** — treat those rows with care"
    return [line]


def probe_notes(cases: Sequence[CaseResult], min_n: int = 10**7, slack: float = 0.75) -> list[str]:
    """Flag sizes where the probe of a narrow dtype is compute-bound, i.e. not a bandwidth ceiling.

    Out of cache, all dtypes share one memory bandwidth; a narrow-dtype probe that moves far fewer
    GB/s than the widest dtype's probe at the same n is limited by arithmetic (widening), so
    *of probe* overstates how close a candidate gets to the memory limit for that dtype.
    """
    notes = []
    for n in sorted({c.n for c in cases if c.n >= min_n}):
        same_n = [c for c in cases if c.n == n and c.find("probe")]
        if len(same_n) < 2:
            continue
        wide = max(same_n, key=lambda c: np.dtype(c.dtype).itemsize)
        wide_gbps = wide.bytes_read / wide.find("probe").median_ns  # type: ignore[union-attr]
        for c in same_n:
            probe, l2 = c.find("probe"), c.find("l2loss")
            gbps = c.bytes_read / probe.median_ns  # type: ignore[union-attr]
            if c is wide or gbps >= slack * wide_gbps:
                continue
            note = (
                f"- **n={fmt_n(n)} {c.dtype}: the probe moves only {gbps:.1f} GB/s against "
                f"{wide_gbps:.1f} GB/s for {wide.dtype}** — it is compute-bound there, not a bandwidth "
                f"ceiling, so *of probe* overstates {c.dtype} efficiency"
            )
            if l2 is not None:
                share = c.bytes_read / l2.median_ns / wide_gbps
                note += f"; against the {wide.dtype} probe's bandwidth, l2loss reaches {share:.2f}"
            notes.append(note + ".")
    return [*notes, ""] if notes else []


def render_markdown(
    meta: Mapping[str, Any], cases: Sequence[CaseResult], latency: Sequence[CaseResult]
) -> str:
    out = ["### Machine", "", *header_lines(meta), *background_lines([*cases, *latency]), ""]
    if cases:
        out += [
            "### Throughput",
            "",
            "Median of interleaved samples; *of probe* = probe time / candidate time (1.00 = the "
            "memory-speed limit); *vs NumPy* = NumPy time / candidate time (report rows: vs NumPy computing "
            "the same 7 numbers); *IQR* = inter-quartile range of the samples / median; *rel. error* = "
            "|value − exact| / exact MSE of the given inputs (*Fraction*: exact rational arithmetic; "
            "*EFT+fsum*: TwoSum + Dekker TwoProduct terms summed by `math.fsum`, itself within 2.2e-16, "
            "so smaller errors print as ≤2.2e-16; *c.r.*: the value is the exact MSE correctly rounded to "
            "float64, which is as close as a float64 can be). GB/s counts the bytes of y_true + y_pred.",
            "",
            *throughput_table(cases),
            "",
            *probe_notes(cases),
        ]
    if latency:
        out += ["### Per-call latency (small inputs, warm caches)", "", *latency_table(latency), ""]
    rows = target_rows(cases, latency)
    if rows:
        out += [
            "### DESIGN.md §5 targets in this run",
            "",
            "| target | case | measured | met |",
            "|---|---|---:|---|",
        ]
        out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- outputs


def default_json_path(quick: bool) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")
    slug = re.sub(r"-?(r|tm)-", "-", slug)  # "intel-r-xeon-r-processor" -> "intel-xeon-processor"
    suffix = "-quick" if quick else ""
    return RESULTS_DIR / f"{dt.date.today().isoformat()}-{slug}-{os.cpu_count()}c{suffix}.json"


def write_json(
    path: Path,
    meta: Mapping[str, Any],
    s: Settings,
    cases: Sequence[CaseResult],
    latency: Sequence[CaseResult],
) -> None:
    def case_dict(c: CaseResult) -> dict[str, Any]:
        d = asdict(c)
        for md, m in zip(d["measurements"], c.measurements):
            md["median_ns"] = None if m.skipped else m.median_ns
            md["gb_per_s"] = None if m.skipped else c.bytes_read / m.median_ns
        return d

    payload = {
        "meta": meta,
        "settings": asdict(s),
        "throughput": [case_dict(c) for c in cases],
        "latency": [case_dict(c) for c in latency],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n")


def update_readme(markdown: str, readme: Path = README) -> None:
    text = readme.read_text()
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme}: markers {MARK_START} / {MARK_END} not found")
    text = text[: start + len(MARK_START)] + "\n" + markdown.rstrip() + "\n\n" + text[end:]
    readme.write_text(text)


def plot(path: Path, cases: Sequence[CaseResult], meta: Mapping[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = sorted({c.dtype for c in cases})
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6.5 * len(dtypes), 4.8), squeeze=False, sharey=True)
    for ax, dtype in zip(axes[0], dtypes):
        mine = [c for c in cases if c.dtype == dtype]
        names = [m.candidate for m in mine[0].measurements if m.group == "mse"]
        for name in names:
            pts = [
                (c.n, c.bytes_read / m.median_ns)
                for c in mine
                for m in c.measurements
                if m.candidate == name and not m.skipped
            ]
            if pts:
                xs, ys = zip(*pts)
                style = "k--" if name == "bandwidth probe" else ("o-" if name.startswith("l2loss") else ".-")
                ax.plot(xs, ys, style, label=name, linewidth=2.5 if name.startswith("l2loss") else 1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n (elements per array)")
        ax.set_title(dtype)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("GB/s (bytes of y_true + y_pred / median time)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"MSE throughput — {meta['cpu']}, {meta['cores']} cores, {meta['date']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- CLI


def parse_sizes(text: str) -> tuple[int, ...]:
    return tuple(int(float(x)) for x in text.split(",") if x.strip())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="n up to 1e6, 3 repeats, short samples (< 30 s)")
    ap.add_argument("--sizes", type=parse_sizes, help="comma-separated n, e.g. 1e3,1e6,1e8")
    ap.add_argument(
        "--dtypes", default=",".join(DEFAULT_DTYPES), help="comma-separated (default float32,float64)"
    )
    ap.add_argument(
        "--repeats", type=int, help="interleaved rounds per candidate (default 7; 3 with --quick)"
    )
    ap.add_argument("--threads", type=int, help="threads for l2loss, the probe and the parallel peers")
    ap.add_argument(
        "--sample-ms", type=float, help="minimum duration of one sample (default 20 ms; 5 with --quick)"
    )
    ap.add_argument("--seed", type=int, default=20240229)
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help=f"before each case and after a disturbed round, wait up to S seconds until others use "
        f"<= {BUSY_PCT:.0f}%% of the CPU",
    )
    ap.add_argument(
        "--retry-busy",
        type=int,
        metavar="K",
        help="replace rounds disturbed by other processes: up to K x repeats extra rounds "
        "(default 2; 0 with --quick)",
    )
    ap.add_argument(
        "--only",
        help="comma-separated substrings: keep only matching peers (l2loss, probe, NumPy always run)",
    )
    ap.add_argument("--report", action="store_true", help="add l2loss.regression_report rows")
    ap.add_argument("--no-latency", action="store_true", help="skip the per-call latency rows (n = 16, 1000)")
    ap.add_argument("--json", type=Path, help="raw results (default benchmarks/results/<date>-<cpu>.json)")
    ap.add_argument("--no-json", action="store_true", help="do not write the JSON file")
    ap.add_argument("--markdown", type=Path, help="also write the Markdown tables to this file")
    ap.add_argument(
        "--update-readme", action="store_true", help="replace the results section of benchmarks/README.md"
    )
    ap.add_argument("--plot", type=Path, help="save a GB/s plot (PNG, needs matplotlib)")
    return ap.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        sizes=args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES),
        dtypes=tuple(d.strip() for d in args.dtypes.split(",") if d.strip()),
        repeats=args.repeats or (3 if args.quick else 7),
        threads=args.threads,
        sample_ns=(args.sample_ms or (5.0 if args.quick else 20.0)) * 1e6,
        seed=args.seed,
        report=args.report,
        latency=not args.no_latency,
        wait_quiet=args.wait_quiet,
        retry_busy=args.retry_busy if args.retry_busy is not None else (0 if args.quick else 2),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    s = settings_from(args)
    meta = machine_info(s.threads)
    self_check_oracle(s.seed)
    cands = build_candidates(s.threads, s.report)
    if args.only:
        keys = [k.strip().lower() for k in args.only.split(",") if k.strip()]
        cands = [c for c in cands if c.role in ("l2loss", "probe", "numpy") or any(k in c.key for k in keys)]
    log("candidates: " + ", ".join(c.name for c in cands))

    cases = [run_case("throughput", cands, n, dtype, s, accuracy=True) for n in s.sizes for dtype in s.dtypes]
    lat_cands = latency_candidates(cands)
    latency = (
        [run_case("latency", lat_cands, n, "float64", s, accuracy=False) for n in LATENCY_SIZES]
        if s.latency
        else []
    )
    meta["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None

    markdown = render_markdown(meta, cases, latency)
    print(markdown)
    if args.markdown:
        args.markdown.write_text(markdown + "\n")
    if not args.no_json:
        path = args.json or default_json_path(args.quick)
        write_json(path, meta, s, cases, latency)
        log(f"raw samples written to {path}")
    if args.plot:
        plot(args.plot, cases, meta)
        log(f"plot written to {args.plot}")
    if args.update_readme:
        update_readme(markdown)
        log(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
