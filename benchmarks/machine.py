"""The machine header: CPU, cores, ISA path, OpenMP threads, versions, build, load."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import l2loss

HERE = Path(__file__).resolve().parent

# Intel family-6 model numbers of recent server cores (cpuinfo's "model name" on VMs is often generic).
INTEL_MODELS = {
    85: "Skylake/Cascade Lake-SP",
    106: "Ice Lake-SP",
    143: "Sapphire Rapids",
    207: "Emerald Rapids",
    173: "Granite Rapids",
}
ISA_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512dq",
    "avx512bw",
    "avx512vl",
    "avx512_fp16",
)


def cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty elsewhere)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model(info: Mapping[str, str] | None = None) -> str:
    info = cpuinfo() if info is None else info
    name = info.get("model name") or platform.processor() or platform.machine()
    if info.get("vendor_id") == "GenuineIntel" and info.get("cpu family") == "6":
        micro = INTEL_MODELS.get(int(info.get("model", "0")))
        if micro and micro.lower() not in name.lower():
            name += f" ({micro}, family 6 model {info['model']})"
    return name


def machine_slug() -> str:
    """e.g. "intel-xeon-processor-2c": the machine part of the results file name."""
    slug = re.sub(r"[^a-z0-9]+", "-", (cpuinfo().get("model name") or platform.machine()).lower()).strip("-")
    slug = re.sub(r"-?(r|tm)-", "-", slug)  # "intel-r-xeon-r-processor" -> "intel-xeon-processor"
    return f"{slug}-{os.cpu_count()}c"


DISTRIBUTIONS = {
    "numpy": "numpy",
    "sklearn": "scikit-learn",
    "numexpr": "numexpr",
    "numba": "numba",
    "simsimd": "simsimd",
    "torch": "torch",
    "matplotlib": "matplotlib",
}


def _version(distribution: str) -> str | None:
    """Installed version, read from the package metadata (importing torch just for this costs seconds)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def build_info() -> dict[str, Any]:
    """Which l2loss binary is being timed: the repository commit and a hash of the extension module."""
    core_file = Path(l2loss._core.__file__)
    info: dict[str, Any] = {
        "core_file": str(core_file),
        "core_sha256": hashlib.sha256(core_file.read_bytes()).hexdigest()[:12],
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


def machine_info(threads: Sequence[int], knobs: Mapping[str, str]) -> dict[str, Any]:
    info = cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(info),
        "isa_flags": [f for f in ISA_FLAGS if f in flags],
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "l2loss": l2loss.config(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "build": build_info(),
        "threads": list(threads),
        "thread_knobs": dict(knobs),
        "versions": {k: _version(d) for k, d in DISTRIBUTIONS.items()},
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def _fmt_load(load: Any) -> str:
    return "n/a" if not load else ", ".join(f"{x:.2f}" for x in load)


def header_lines(meta: Mapping[str, Any]) -> list[str]:
    cfg = meta["l2loss"]
    vers = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    knobs = "; ".join(f"{k}: {v}" for k, v in meta["thread_knobs"].items())
    omp_env = meta.get("omp_num_threads_env")
    return [
        f"- Date: {meta['date']}; command: `{meta['command']}`",
        f"- CPU: {meta['cpu']}; {meta['cores']} logical cores (affinity {meta['affinity']}); "
        f"ISA flags: {' '.join(meta['isa_flags']) or 'n/a'}",
        f"- l2loss {cfg.get('version')}: ISA path `{cfg.get('isa')}` "
        f"(supported: {', '.join(cfg['isas_supported'])}), "
        f"OpenMP {'on' if cfg.get('openmp') else 'off'}, default threads {cfg.get('num_threads')} "
        f"(OMP_NUM_THREADS={omp_env or 'unset'}); commit {meta['build']['commit']}, "
        f"_core sha256 {meta['build']['core_sha256']}…",
        f"- Thread counts timed: {', '.join(map(str, meta['threads']))} (`[kt]` after a name); "
        f"set by — {knobs}",
        f"- Python {meta['python']}; {vers}",
        f"- Load average at start / end: {_fmt_load(meta.get('loadavg_start'))} / "
        f"{_fmt_load(meta.get('loadavg_end'))} (1, 5, 15 min); "
        f"wall time {meta.get('wall_s', 0) / 60:.1f} min",
    ]
