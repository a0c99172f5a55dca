"""Markdown for a run: headline, throughput grids, operations, latency, accuracy, targets, raw table.

Ratios: *of probe* compares the bytes a call streams per second with what the bandwidth probe
(all threads) streams per second on the same n and dtype — 1.00 is the memory-speed limit for
large n. A stride-2 view spans twice its bytes (the probe then reads the 2n-element parents),
weighted calls read a third array. *vs NumPy* = NumPy's time / the candidate's time for the same
computation (group).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from accuracy import DATA_KINDS
from machine import header_lines
from timing import BUSY_PCT, CaseResult, Measurement

GROUP_TITLES = {
    "report": "regression_report",
    "grad": "mse_value_and_grad",
    "stream": "streaming (1e6 chunks)",
}


# --------------------------------------------------------------------------- formatting


def fmt_n(n: int) -> str:
    exp = math.log10(n) if n > 0 else 0
    return f"1e{int(exp)}" if exp == int(exp) and n >= 100 else str(n)


def fmt_time(ns: float) -> str:
    if not math.isfinite(ns):
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def fmt_num(x: float | None, suffix: str = "") -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.3g}{suffix}" if x < 100 else f"{x:.0f}{suffix}"


def fmt_ratio(x: float | None, suffix: str = "×") -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.2f}{suffix}"


def fmt_err(e: float | None, correctly_rounded: bool | None = None) -> str:
    if e is None:
        return "—"
    if e == 0:
        return "0"
    return f"{e:.1e}" + (" (c.r.)" if correctly_rounded else "")


def row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def header(cols: Sequence[str], align: Sequence[str]) -> list[str]:
    return [row(cols), "|" + "|".join(align) + "|"]


# --------------------------------------------------------------------------- ratios


def max_threads(case: CaseResult) -> int | None:
    ts = [m.threads for m in case.measurements if m.threads is not None]
    return max(ts) if ts else None


def probe_of(case: CaseResult) -> Measurement | None:
    return case.find(f"probe@{max_threads(case)}")


def of_probe(case: CaseResult, m: Measurement) -> float | None:
    """Bytes streamed per second relative to the probe with all threads (stride-2 views span 2x)."""
    probe = probe_of(case)
    if probe is None or m.skipped or not m.bytes_read:
        return None
    stride = 2 if case.layout == "strided" else 1
    return (m.bytes_read * stride / m.median_ns) / (probe.bytes_read / probe.median_ns)


def vs_numpy(case: CaseResult, m: Measurement) -> float | None:
    base = case.base("numpy", m.group)
    return None if base is None or m.skipped else base.median_ns / m.median_ns


def speedup(case: CaseResult, m: Measurement | None, key: str) -> float | None:
    other = case.find(key)
    return None if other is None or m is None or m.skipped else other.median_ns / m.median_ns


def l2loss_main(case: CaseResult) -> Measurement | None:
    t = max_threads(case)
    return case.find(f"l2loss@{t}") or case.find("l2loss") or case.base("l2loss", "mse")


def _columns(cases: Sequence[CaseResult]) -> list[str]:
    """Short candidate names in first-seen order across cases."""
    return list(dict.fromkeys(m.short for c in cases for m in c.measurements))


def _legend(cases: Sequence[CaseResult]) -> list[str]:
    """What each short column name stands for (thread suffixes dropped)."""
    names: dict[str, str] = {}
    for c in cases:
        for m in c.measurements:
            family = m.short.rsplit(" ", 1)[0] if m.threads is not None else m.short
            names.setdefault(family, m.candidate.split(" [", 1)[0])
    text = "; ".join(f"*{k}*: `{v}`" if k != v else f"*{k}*" for k, v in names.items())
    return [
        f"Columns — {text}. *n/a*: not applicable (simsimd takes no weights and only contiguous "
        "vectors); *skip*: one call took longer than the limit.",
        "",
    ]


def _cell(case: CaseResult, short: str, fmt: Callable[[Measurement], str]) -> str:
    m = next((x for x in case.measurements if x.short == short), None)
    if m is None:
        return "n/a"
    return "skip" if m.skipped else fmt(m)


def fmt_iqr(m: Measurement) -> str:
    return "—" if not math.isfinite(m.iqr_pct) else f"{m.iqr_pct:.0f}%"


# --------------------------------------------------------------------------- sections


def headline_rows(grid: Sequence[CaseResult]) -> list[str]:
    """Largest n, contiguous, unweighted, all threads: l2loss against the limit and each peer."""
    plain = [c for c in grid if c.layout == "contiguous" and not c.weighted]
    if not plain:
        return []
    n = max(c.n for c in plain)
    lines = header(
        [
            "n",
            "dtype",
            "l2loss time",
            "GB/s",
            "of probe",
            "vs NumPy",
            "vs sklearn",
            "vs numba",
            "vs torch",
            "rel. error",
        ],
        ["---:", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"],
    )
    for c in (c for c in plain if c.n == n):
        m = l2loss_main(c)
        if m is None:
            continue
        t = max_threads(c)
        lines.append(
            row(
                [
                    fmt_n(c.n),
                    c.dtype,
                    fmt_time(m.median_ns),
                    fmt_num(m.gb_per_s),
                    fmt_ratio(of_probe(c, m), ""),
                    fmt_ratio(vs_numpy(c, m)),
                    fmt_ratio(speedup(c, m, "sklearn")),
                    fmt_ratio(speedup(c, m, f"numba@{t}")),
                    fmt_ratio(speedup(c, m, f"torch@{t}")),
                    fmt_err(m.rel_error, m.correctly_rounded),
                ]
            )
        )
    return lines


def throughput_tables(grid: Sequence[CaseResult]) -> list[str]:
    out: list[str] = []
    for variant in dict.fromkeys(c.variant for c in grid):
        cases = [c for c in grid if c.variant == variant]
        cols = _columns(cases)
        out += [
            f"**{variant}** — GB/s per candidate; "
            "last columns: l2loss (all threads) *of probe* and *vs NumPy*",
            "",
        ]
        out += header(
            ["n", "dtype", *cols, "l2loss of probe", "l2loss vs NumPy"],
            ["---:", "---", *["---:"] * (len(cols) + 2)],
        )
        for c in cases:
            m = l2loss_main(c)
            out.append(
                row(
                    [
                        fmt_n(c.n),
                        c.dtype,
                        *[_cell(c, col, lambda x: fmt_num(x.gb_per_s)) for col in cols],
                        fmt_ratio(of_probe(c, m), "") if m else "—",
                        fmt_ratio(vs_numpy(c, m)) if m else "—",
                    ]
                )
            )
        out += ["", *_legend(cases)]
    return out


def ops_table(ops: Sequence[CaseResult]) -> list[str]:
    out = header(
        [
            "n",
            "dtype",
            "operation",
            "candidate",
            "time / call",
            "GB/s",
            "of probe",
            "vs NumPy",
            "IQR",
            "rel. error (MSE)",
        ],
        ["---:", "---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---"],
    )
    for c in ops:
        for m in sorted(
            c.measurements, key=lambda x: list(GROUP_TITLES).index(x.group) if x.group in GROUP_TITLES else -1
        ):
            if m.role == "probe":
                op = "(limit)"
            else:
                op = GROUP_TITLES.get(m.group, m.group)
            if m.skipped:
                out.append(row([fmt_n(c.n), c.dtype, op, m.candidate, "—", "—", "—", "—", "—", m.skipped]))
                continue
            out.append(
                row(
                    [
                        fmt_n(c.n),
                        c.dtype,
                        op,
                        m.candidate,
                        fmt_time(m.median_ns),
                        fmt_num(m.gb_per_s),
                        fmt_ratio(of_probe(c, m), ""),
                        fmt_ratio(vs_numpy(c, m)),
                        fmt_iqr(m),
                        fmt_err(m.rel_error, m.correctly_rounded),
                    ]
                )
            )
    return out


def latency_table(latency: Sequence[CaseResult]) -> list[str]:
    cols = _columns(latency)
    out = header(["n", "dtype", *cols], ["---:", "---", *["---:"] * len(cols)])
    for c in latency:
        out.append(row([c.n, c.dtype, *[_cell(c, col, lambda m: f"{m.median_ns:,.0f}") for col in cols]]))
    return [*out, "", *_legend(latency)]


def accuracy_tables(acc: Sequence[Any]) -> list[str]:
    """One table per dtype: rows (data kind, n), a column per candidate (default threads)."""
    out: list[str] = []
    for dtype in dict.fromkeys(a.dtype for a in acc):
        cases = [a for a in acc if a.dtype == dtype]
        cols = list(dict.fromkeys(r.family for a in cases for r in a.rows))
        out += [f"**{dtype}** — relative error of the MSE vs the exact MSE", ""]
        out += header(["data", "n", "exact MSE", *cols], ["---", "---:", "---:", *["---:"] * len(cols)])
        for a in cases:
            cells = []
            for col in cols:
                r = a.main_row(col)
                cells.append(
                    "n/a"
                    if r is None
                    else fmt_err(r.rel_error, r.correctly_rounded) + (" †" if a.thread_dependent(col) else "")
                )
            out.append(row([a.kind, fmt_n(a.n), f"{a.reference:.6g}", *cells]))
        out.append("")
    names = dict.fromkeys(
        f"*{r.family}*: `{r.name}`" if r.family != r.name else f"*{r.family}*" for a in acc for r in a.rows
    )
    out += [f"Columns — {'; '.join(names)}.", ""]
    kinds = "; ".join(f"*{k}*: {desc}" for k, (_, desc) in DATA_KINDS.items())
    out += [
        f"Data: {kinds}. *c.r.*: the value is the exact MSE correctly rounded to float64 (the closest a "
        "float64 can be; its error is then below 1.1e-16, not 0). †: this library gave different bits with "
        "1 and 2 threads (the column shows the all-threads value).",
        "",
    ]
    return out


def target_rows(
    grid: Sequence[CaseResult], ops: Sequence[CaseResult], latency: Sequence[CaseResult]
) -> list[tuple[str, str, str, str]]:
    """The performance targets (benchmarks/README.md) checked against this run: (target, case, measured, met?)."""
    rows: list[tuple[str, str, str, str]] = []

    def check(
        label: str, case: CaseResult, value: float | None, ok: Callable[[float], bool], unit: str
    ) -> None:
        if value is not None and math.isfinite(value):
            rows.append(
                (
                    label,
                    f"{fmt_n(case.n)} {case.dtype}",
                    f"{value:.2f}{unit}",
                    "yes" if ok(value) else "**no**",
                )
            )

    for c in grid:
        if c.layout != "contiguous" or c.weighted:
            continue
        m, t = l2loss_main(c), max_threads(c)
        if c.n >= 10**8:
            check("≥ 0.9 × probe", c, of_probe(c, m) if m else None, lambda x: x >= 0.9, "")
            check("≥ 4.5× NumPy", c, vs_numpy(c, m) if m else None, lambda x: x >= 4.5, "×")
        if c.n >= 10**8 or c.n == 10**6:
            check("≥ 1.0× numba prange fastmath", c, speedup(c, m, f"numba@{t}"), lambda x: x >= 1.0, "×")
    for c in ops:
        rep, mse, grad = c.find("l2loss-report"), c.find("l2loss-mse"), c.find("l2loss-grad")
        if c.n >= 10**6 and rep and mse:
            check("report ≤ 2× lone MSE", c, rep.median_ns / mse.median_ns, lambda x: x <= 2.0, "×")
        if c.n >= 10**6 and grad:
            check("value_and_grad ≥ 3× NumPy", c, vs_numpy(c, grad), lambda x: x >= 3.0, "×")
            check("value_and_grad ≥ 0.85 × probe", c, of_probe(c, grad), lambda x: x >= 0.85, "")
    for c in latency:
        m = c.find("l2loss")
        limit = {1000: 1.5, 16: 1.0}.get(c.n)
        if m is not None and limit is not None:
            check(f"n={c.n} call ≤ {limit} µs", c, m.median_ns / 1e3, lambda x, lim=limit: x <= lim, " µs")
    return rows


def background_lines(cases: Sequence[CaseResult]) -> list[str]:
    """How busy the machine was in the rounds used; names the cases still disturbed beyond BUSY_PCT."""
    loads = [(c, c.background) for c in cases if c.background]
    if not loads:
        return []
    worst_other = max(b["other_cpu_pct"] for _, b in loads)
    worst_steal = max(b["steal_pct"] for _, b in loads)
    disturbed = sum(b["rounds_disturbed"] for _, b in loads)
    total = sum(b["rounds"] for _, b in loads)
    line = (
        f"- Rounds during which other processes used more than {BUSY_PCT:.0f}% of the CPU: "
        f"{disturbed} of {total} (re-timed up to the --retry-busy limit, left out of the medians when "
        f"≥ 3 quiet rounds remained); in the rounds used, others took at most {worst_other:.1f}% of the "
        f"CPU (hypervisor steal ≤ {worst_steal:.1f}%)"
    )
    busy = [
        f"{c.section} {fmt_n(c.n)} {c.dtype} {c.variant} ({b['other_cpu_pct']:.0f}%)"
        for c, b in loads
        if b["other_cpu_pct"] > BUSY_PCT
    ]
    if busy:
        line += f"; **the machine stayed busy during: {', '.join(busy)}** — treat those rows with care"
    return [line]


def probe_notes(grid: Sequence[CaseResult], min_n: int = 10**7, slack: float = 0.75) -> list[str]:
    """Flag sizes where the probe of a narrow dtype is compute-bound, i.e. not a bandwidth ceiling."""
    notes = []
    plain = [c for c in grid if c.layout == "contiguous" and not c.weighted and c.n >= min_n and probe_of(c)]
    for n in sorted({c.n for c in plain}):
        same_n = [c for c in plain if c.n == n]
        if len(same_n) < 2:
            continue
        wide = max(same_n, key=lambda c: np.dtype(c.dtype).itemsize)
        wide_gbps = probe_of(wide).gb_per_s  # type: ignore[union-attr]
        for c in same_n:
            gbps = probe_of(c).gb_per_s  # type: ignore[union-attr]
            if c is wide or gbps >= slack * wide_gbps:
                continue
            note = (
                f"- **n={fmt_n(n)} {c.dtype}: the probe moves only {gbps:.1f} GB/s against "
                f"{wide_gbps:.1f} GB/s for {wide.dtype}** — it is compute-bound there (it widens each "
                f"element), not a bandwidth ceiling, so *of probe* overstates {c.dtype} efficiency"
            )
            m = l2loss_main(c)
            if m is not None:
                share = m.gb_per_s / wide_gbps
                note += f"; against the {wide.dtype} probe's bandwidth, l2loss reaches {share:.2f}"
            notes.append(note + ".")
    return [*notes, ""] if notes else []


def detail_table(cases: Sequence[CaseResult]) -> list[str]:
    out = header(
        [
            "n",
            "dtype",
            "layout, weights",
            "candidate",
            "time / call",
            "GB/s",
            "of probe",
            "vs NumPy",
            "IQR",
            "rel. error",
        ],
        ["---:", "---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---"],
    )
    for c in cases:
        for m in c.measurements:
            if m.skipped:
                out.append(
                    row([fmt_n(c.n), c.dtype, c.variant, m.candidate, "—", "—", "—", "—", "—", m.skipped])
                )
                continue
            out.append(
                row(
                    [
                        fmt_n(c.n),
                        c.dtype,
                        c.variant,
                        m.candidate,
                        fmt_time(m.median_ns),
                        fmt_num(m.gb_per_s),
                        fmt_ratio(of_probe(c, m), ""),
                        fmt_ratio(vs_numpy(c, m)),
                        fmt_iqr(m),
                        fmt_err(m.rel_error, m.correctly_rounded),
                    ]
                )
            )
    return out


METHOD = (
    "Medians of interleaved rounds (see *Method* above). **GB/s** counts the bytes of the elements a call "
    "uses (y_true, y_pred, and the weights), each once. **of probe** = that rate, counting the memory a "
    "stride-2 view spans (twice its bytes), over the rate of the bandwidth probe with all threads on the "
    "same n and dtype (for large n, 1.00 = the memory-speed limit; in cache it is only a yardstick). "
    "**vs NumPy** = NumPy's time / the candidate's for the same computation. `[kt]`: run with k threads. "
    "**rel. error** = |value − exact| / exact MSE of the given inputs (exact: integer-scaled sums of "
    "error-free terms); *c.r.* = the exact MSE correctly rounded to float64."
)


def render_markdown(
    meta: Mapping[str, Any],
    grid: Sequence[CaseResult],
    ops: Sequence[CaseResult],
    latency: Sequence[CaseResult],
    acc: Sequence[Any],
    charts: Sequence[tuple[str, str]] = (),
) -> str:
    out = ["### Machine", "", *header_lines(meta), *background_lines([*grid, *ops, *latency]), ""]
    headline = headline_rows(grid)
    if headline:
        out += ["### Headline: the largest n, contiguous, unweighted, all threads", "", *headline, ""]
    for title, path in charts:
        out += [f"![{title}]({path})", ""]
    if grid:
        out += [
            "### Throughput (mean_squared_error)",
            "",
            METHOD,
            "",
            *throughput_tables(grid),
            *probe_notes(grid),
        ]
    if ops:
        out += [
            "### regression_report, mse_value_and_grad, streaming",
            "",
            "All threads; *vs NumPy* compares with NumPy doing the same job (7 metrics; loss + gradient; "
            "a running float64 sum over the same chunks). Gradient rows count the gradient written as well.",
            "",
            *ops_table(ops),
            "",
        ]
    if latency:
        out += [
            "### Small-call latency (ns per call, warm caches, default settings)",
            "",
            *latency_table(latency),
            "",
        ]
    if acc:
        out += ["### Accuracy on benign and adversarial data", "", *accuracy_tables(acc)]
    rows = target_rows(grid, ops, latency)
    if rows:
        out += [
            "### Targets in this run",
            "",
            *header(["target", "case", "measured", "met"], ["---", "---", "---:", "---"]),
        ]
        out += [row(r) for r in rows] + [""]
    if grid:
        out += [
            "<details><summary>Every measurement of the throughput grid</summary>",
            "",
            *detail_table(grid),
            "",
            "</details>",
            "",
        ]
    return "\n".join(out)
