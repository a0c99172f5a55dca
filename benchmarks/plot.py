"""The two charts of a run: throughput against n (log-log) and accuracy per data kind (log scale).

Needs matplotlib (the ``bench`` extra); the Agg backend, so no display is needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from timing import CaseResult

FLOOR_DECADES = 1.5  # an error of exactly 0 is drawn this many decades below the smallest non-zero one
HALF_ULP = 2.0**-53  # relative error bound of a correctly rounded float64


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _family(short: str, threads: int | None) -> str:
    """ "numba 2t" -> "numba"."""
    return short.rsplit(" ", 1)[0] if threads is not None else short


def _fmt_n(n: int) -> str:
    exp = math.log10(n)
    return f"1e{int(exp)}" if exp == int(exp) else f"{n:,}"


def _style(name: str, threads: int | None, top: int | None) -> dict[str, Any]:
    if name == "probe":
        return {"color": "black", "linestyle": "--", "linewidth": 1.6, "marker": None}
    if name.startswith("l2loss"):
        single = threads is not None and threads != top
        return {
            "color": "tab:blue",
            "linestyle": ":" if single else "-",
            "linewidth": 2.8,
            "marker": "o",
            "markersize": 4,
        }
    return {"linewidth": 1.1, "marker": ".", "markersize": 5}


def throughput_chart(path: Path, grid: Sequence[CaseResult], meta: Mapping[str, Any]) -> None:
    """GB/s against n per candidate: one panel per (dtype, layout/weights); the probe as a dashed line.

    Peers with a thread knob are drawn at the highest thread count (all their rows are in the tables);
    l2loss is drawn at every thread count.
    """
    plt = _pyplot()
    dtypes = list(dict.fromkeys(c.dtype for c in grid))
    variants = list(dict.fromkeys(c.variant for c in grid))
    top = max((m.threads for c in grid for m in c.measurements if m.threads), default=None)
    fig, axes = plt.subplots(
        len(dtypes),
        len(variants),
        figsize=(4.6 * len(variants), 3.9 * len(dtypes)),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    colors: dict[str, Any] = {}
    palette = iter(plt.get_cmap("tab10").colors[1:] + plt.get_cmap("Dark2").colors)
    handles: dict[str, Any] = {}
    for i, dtype in enumerate(dtypes):
        for j, variant in enumerate(variants):
            ax = axes[i][j]
            cases = [c for c in grid if c.dtype == dtype and c.variant == variant]
            labels = dict.fromkeys(m.short for c in cases for m in c.measurements)
            for label in labels:
                pts = [
                    (c.n, m.gb_per_s, m.threads)
                    for c in cases
                    for m in c.measurements
                    if m.short == label and not m.skipped and math.isfinite(m.gb_per_s)
                ]
                if not pts:
                    continue
                threads = pts[0][2]
                family = _family(label, threads)
                if threads is not None and threads != top and family != "l2loss":
                    continue
                style = _style(family, threads, top)
                if "color" not in style:
                    if family not in colors:
                        colors[family] = next(palette)
                    style["color"] = colors[family]
                xs, ys, _ = zip(*pts)
                (line,) = ax.plot(xs, ys, label=label, **style)
                handles.setdefault(label, line)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.25)
            ax.set_title(f"{dtype}, {variant}", fontsize=9)
            if i == len(dtypes) - 1:
                ax.set_xlabel("n (elements per array)")
            if j == 0:
                ax.set_ylabel("GB/s (bytes used / median time)")
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="lower center",
        ncol=min(8, len(handles)),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        f"mean_squared_error throughput — {meta['cpu']}, {meta['cores']} cores, {meta['date']}\n"
        f"dashed black: bandwidth probe (memory-speed limit for large n); kt: k threads; "
        f"what each name computes: benchmarks/README.md",
        fontsize=10,
    )
    rows_of_legend = math.ceil(len(handles) / 8)
    fig.tight_layout(rect=(0, 0.035 * rows_of_legend + 0.02, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def accuracy_chart(path: Path, acc: Sequence[Any], meta: Mapping[str, Any]) -> None:
    """Relative error per candidate and data kind at the largest n (log scale; 0 drawn on a marked floor)."""
    plt = _pyplot()
    dtypes = list(dict.fromkeys(a.dtype for a in acc))
    n = max(a.n for a in acc)
    kinds = list(dict.fromkeys(a.kind for a in acc))
    families = list(dict.fromkeys(r.family for a in acc for r in a.rows))
    errors = [r.rel_error for a in acc if a.n == n for r in a.rows if r.rel_error]
    floor = 10 ** (math.floor(math.log10(min(errors + [HALF_ULP]))) - FLOOR_DECADES)
    fig, axes = plt.subplots(1, len(dtypes), figsize=(7.5 * len(dtypes), 4.6), squeeze=False, sharey=True)
    width = 0.8 / max(1, len(families))
    colors = plt.get_cmap("tab10").colors
    for ax, dtype in zip(axes[0], dtypes):
        for k, family in enumerate(families):
            bars_x, bars_y, zeros_x = [], [], []
            for x, kind in enumerate(kinds):
                case = next((a for a in acc if a.dtype == dtype and a.kind == kind and a.n == n), None)
                r = case.main_row(family) if case else None
                if r is None or r.rel_error is None:
                    continue
                pos = x - 0.4 + (k + 0.5) * width
                if r.rel_error == 0:
                    zeros_x.append(pos)
                else:
                    bars_x.append(pos)
                    bars_y.append(min(r.rel_error, 10.0))  # inf/NaN results drawn as a 1000% error
            color = colors[k % 10]
            ax.bar(bars_x, [y - floor for y in bars_y], width, bottom=floor, color=color, label=family)
            ax.plot(zeros_x, [floor * 1.6] * len(zeros_x), marker="v", linestyle="none", color=color)
            for pos in zeros_x:
                ax.annotate("0", (pos, floor * 2.2), ha="center", va="bottom", fontsize=7)
        ax.axhline(HALF_ULP, color="grey", linestyle=":", linewidth=1)
        ax.text(
            -0.45,
            HALF_ULP * 1.3,
            "float64 half-ulp: a correctly rounded result is at or below",
            ha="left",
            va="bottom",
            fontsize=7,
            color="grey",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
        ax.set_yscale("log")
        ax.set_ylim(floor, None)
        ax.set_xticks(range(len(kinds)), kinds)
        ax.set_title(f"{dtype} inputs, n = {_fmt_n(n)}", fontsize=10)
        ax.grid(True, axis="y", which="major", alpha=0.25)
    axes[0][0].set_ylabel("relative error of the MSE (▼0 = exactly 0)")
    axes[0][-1].legend(fontsize=7, loc="upper left", ncol=2)
    fig.suptitle(f"Accuracy against the exact MSE — {meta['date']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
