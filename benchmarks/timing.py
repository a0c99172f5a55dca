"""How a case is timed: candidates, warm-up, calibrated samples, interleaved rounds, machine load.

One *case* is one input (n, dtype, layout, weights) and the candidates that run on it. Every
candidate is called untimed first (numba compiles there, pages get faulted in, lazy imports
happen), then timed once to choose how many back-to-back calls one sample loops over (so that a
sample lasts at least ``sample_ns``). The candidates are then timed **interleaved**, one sample
each per round, the starting candidate rotating every round (A B C, B C A, C A B, ...), and
each figure is the **median** of a candidate's samples. A round during which other processes
used more than ``BUSY_PCT`` of the CPU (from ``/proc/stat``) is kept in the raw data, marked
disturbed, and re-timed (up to ``retry_busy * repeats`` extra rounds).
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

BUSY_PCT = 5.0  # other processes using more of the CPU than this while timing = "the machine was busy"
SLOW_SKIP_MIN_N = 10**8  # at and above this n, a peer slower than SLOW_CALL_LIMIT_S per call is skipped
SLOW_CALL_LIMIT_S = 5.0
# Column names of the pivot tables, by the part of a candidate key before "@<threads>".
SHORT_NAMES = {
    "l2loss": "l2loss",
    "probe": "probe",
    "numpy": "NumPy",
    "sklearn": "sklearn",
    "numexpr": "numexpr",
    "numba": "numba",
    "simsimd": "simsimd",
    "torch": "torch",
    "l2loss-exact": "l2loss exact=True",
}


@dataclass(frozen=True)
class Candidate:
    """One implementation under test, already bound to its arguments: ``fn(*args)``."""

    key: str  # unique within a case: "l2loss@2", "numba@1", "numpy", "numpy-report", ...
    name: str  # what the tables show: "l2loss.mean_squared_error", "numba prange fastmath", ...
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    group: str = "mse"  # ratios compare candidates of one group: mse, report, grad, stream
    role: str = "peer"  # "l2loss", "probe", "numpy", "sklearn" or "peer"
    threads: int | None = None  # the thread count it was given (None: no thread knob)
    prepare: Callable[[], None] | None = None  # run before each sample, untimed (sets a global knob)
    bytes_read: int = 0  # bytes this call moves (GB/s = bytes_read / median time)
    value_of: Callable[[Any], float | None] | None = None  # the MSE inside what fn returned

    @property
    def label(self) -> str:
        return self.name if self.threads is None else f"{self.name} [{self.threads}t]"

    @property
    def family(self) -> str:
        """Short library name, e.g. "numba" (the name when there is none)."""
        return SHORT_NAMES.get(self.key.split("@")[0], self.name)

    @property
    def short(self) -> str:
        return self.family if self.threads is None else f"{self.family} {self.threads}t"

    @property
    def may_skip(self) -> bool:
        return self.role not in ("l2loss", "probe")


@dataclass
class Measurement:
    """Raw samples (ns per call) of one candidate on one input."""

    key: str
    candidate: str  # the full label, e.g. "numba prange fastmath [2t]"
    short: str  # the column name, e.g. "numba 2t"
    group: str
    role: str
    threads: int | None
    bytes_read: int
    number: int = 0  # calls per sample
    samples_ns: list[float] = field(default_factory=list)  # one per round, in round order
    sample_clean: list[bool] = field(default_factory=list)  # False: other processes were busy that round
    value: float | None = None  # the MSE it returned
    rel_error: float | None = None  # |value - exact| / exact
    correctly_rounded: bool | None = None  # value == the exact MSE rounded to float64
    skipped: str | None = None

    @property
    def used_samples(self) -> list[float]:
        """The samples of quiet rounds when there are enough of them (>= 3), else all samples."""
        clean = [x for x, ok in zip(self.samples_ns, self.sample_clean) if ok]
        return clean if len(clean) >= min(3, len(self.samples_ns)) else self.samples_ns

    @property
    def median_ns(self) -> float:
        used = self.used_samples
        return statistics.median(used) if used and not self.skipped else math.nan

    @property
    def gb_per_s(self) -> float:
        return self.bytes_read / self.median_ns if self.bytes_read else math.nan

    @property
    def iqr_pct(self) -> float:
        used = self.used_samples
        if len(used) < 3:
            return math.nan
        q1, _, q3 = statistics.quantiles(used, n=4, method="inclusive")
        return 100.0 * (q3 - q1) / statistics.median(used)


@dataclass
class CaseResult:
    """All measurements of one input."""

    section: str  # "grid", "ops" or "latency"
    n: int
    dtype: str
    layout: str  # "contiguous" or "strided" (a[::2])
    weighted: bool
    reference: float | None  # the exact MSE, correctly rounded (None: not computed)
    measurements: list[Measurement]
    background: dict[str, Any] = field(default_factory=dict)  # CPU used by others / steal, per round
    seconds: float = 0.0  # wall time of the whole case (inputs, reference, timing)

    @property
    def variant(self) -> str:
        return f"{self.layout}, {'weighted' if self.weighted else 'unweighted'}"

    def find(self, key: str) -> Measurement | None:
        for m in self.measurements:
            if m.key == key and not m.skipped:
                return m
        return None

    def base(self, role: str, group: str) -> Measurement | None:
        """The first unskipped measurement of a role in a group (e.g. NumPy's for "vs NumPy")."""
        for m in self.measurements:
            if m.role == role and m.group == group and not m.skipped:
                return m
        return None


@dataclass(frozen=True)
class TimingSettings:
    repeats: int
    sample_ns: float
    wait_quiet: float = 0.0  # seconds to wait for a quiet machine before each case
    retry_busy: int = 2  # replace disturbed rounds: up to retry_busy * repeats extra rounds


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def as_value(result: Any) -> float | None:
    """The MSE inside whatever a candidate returned (a scalar, tensor, mapping, report, tuple)."""
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, Mapping):
        result = result.get("mse", result.get("mean_squared_error"))
    elif hasattr(result, "mse"):
        result = result.mse
    try:
        return float(result)
    except (TypeError, ValueError):
        return None


def _sample_ns(c: Candidate, number: int) -> float:
    """Mean ns per call over `number` back-to-back calls (two-argument calls unpacked by hand)."""
    if c.prepare is not None:
        c.prepare()
    fn, args = c.fn, c.args
    if len(args) == 2:
        a, b = args
        start = time.perf_counter_ns()
        for _ in range(number):
            fn(a, b)
    else:
        start = time.perf_counter_ns()
        for _ in range(number):
            fn(*args)
    return (time.perf_counter_ns() - start) / number


def _calibrate(c: Candidate, target_ns: float) -> tuple[int, float]:
    """Calls per sample so that one sample lasts >= target_ns; also the time of one (warm) call."""
    one_call = _sample_ns(c, 1)
    number, elapsed = 1, one_call
    while elapsed < target_ns / 10:
        number *= 10
        elapsed = _sample_ns(c, number) * number
    return max(1, math.ceil(number * target_ns / elapsed)), one_call


def warm_up(cands: Sequence[Candidate], n: int, target_ns: float) -> list[Measurement]:
    """Call each candidate untimed (compiles/faults), record its value, pick its loop count or skip it."""
    out = []
    for c in cands:
        m = Measurement(c.key, c.label, c.short, c.group, c.role, c.threads, c.bytes_read)
        if c.prepare is not None:
            c.prepare()
        start = time.perf_counter_ns()
        result = c.fn(*c.args)
        first_call = time.perf_counter_ns() - start
        m.value = (c.value_of or as_value)(result)
        out.append(m)
        too_slow = c.may_skip and n >= SLOW_SKIP_MIN_N
        if too_slow and first_call > SLOW_CALL_LIMIT_S * 1e9:  # skip before paying for a second call
            m.skipped = f"skipped: one call took {first_call / 1e9:.1f} s (> {SLOW_CALL_LIMIT_S:.0f} s)"
            continue
        m.number, one_call = _calibrate(c, target_ns)
        if too_slow and one_call > SLOW_CALL_LIMIT_S * 1e9:
            m.skipped = f"skipped: one call took {one_call / 1e9:.1f} s (> {SLOW_CALL_LIMIT_S:.0f} s)"
    return out


def measure(
    cands: Sequence[Candidate], n: int, s: TimingSettings
) -> tuple[list[Measurement], dict[str, Any]]:
    """Warm up, then interleave the candidates round by round (A B C, B C A, C A B, ...)."""
    wait_until_quiet(s.wait_quiet)
    ms = warm_up(cands, n, s.sample_ns)
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
                m.samples_ns.append(_sample_ns(c, m.number))
                took = m.samples_ns[-1] * m.number
                if (
                    took > 10 * s.sample_ns
                ):  # a stalled call (e.g. a thread descheduled): shorten later samples
                    m.number = max(1, math.ceil(m.number * s.sample_ns / took))
            loads.append(background_load(before, cpu_snapshot()))
            quiet = loads[-1].get("other_cpu_pct", 0.0) <= BUSY_PCT
            clean_rounds += quiet
            for _, m in active:
                m.sample_clean.append(quiet)
    finally:
        if gc_was_enabled:
            gc.enable()
    return ms, _summarise_rounds(loads)


def _summarise_rounds(loads: list[dict[str, float]]) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- machine load


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
