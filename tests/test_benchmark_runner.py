"""The benchmark runner runs end to end: benchmarks/run.py --smoke writes well-formed results.

Nothing here is timed or compared with a speed: the runner's tiniest mode (n <= 1000, two
rounds of sub-millisecond samples, NumPy and sklearn as the only peers so that no JIT compiler
or torch import is paid for) must produce a JSON with every section, the Markdown tables, the
README sections between their markers and, when matplotlib is installed, both charts.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import l2loss
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "benchmarks" / "run.py"

pytestmark = pytest.mark.skipif(not RUNNER.exists(), reason="benchmarks/ is not part of this checkout")


def test_smoke_run_writes_json_markdown_readmes_and_charts(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    try:
        import matplotlib  # noqa: F401 - charts are drawn only when it is installed
    except ImportError:
        plots = False
    else:
        plots = True
    readme, main_readme = tmp_path / "README.md", tmp_path / "MAIN.md"
    shutil.copy(ROOT / "benchmarks" / "README.md", readme)
    shutil.copy(ROOT / "README.md", main_readme)
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    cmd = [
        sys.executable,
        str(RUNNER),
        "--smoke",
        "--peers",
        "numpy,sklearn",
        "--json",
        str(out_json),
        "--markdown",
        str(out_md),
        "--update-readme",
        "--readme",
        str(readme),
        "--main-readme",
        str(main_readme),
    ]
    if plots:
        cmd += ["--plot", str(tmp_path)]
    # the l2loss the tests import is the one the runner must time
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(l2loss.__file__).parent.parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]

    data = json.loads(out_json.read_text())
    assert {"meta", "plan", "grid", "ops", "latency", "accuracy", "dask"} <= set(data)
    if data["dask"] is not None:  # dask[distributed] and dask-ml installed: the LocalCluster rows ran
        d = data["dask"]
        assert set(d["median_s"]) == {"l2loss.dask", "dask-ml", "dask.array", "floor"}
        assert all(t > 0 for t in d["median_s"].values())
        assert math.isclose(d["values"]["dask-ml"], d["values"]["l2loss.dask"], rel_tol=1e-12)
        assert "### Dask" in out_md.read_text()
    assert data["meta"]["l2loss"]["isa"] and data["meta"]["cpu"] and data["meta"]["cores"] >= 1
    variants = {(c["layout"], c["weighted"]) for c in data["grid"]}
    assert variants == {("contiguous", False), ("contiguous", True), ("strided", False), ("strided", True)}
    for case in data["grid"] + data["ops"] + data["latency"]:
        keys = {m["key"] for m in case["measurements"]}
        assert "numpy" in keys or any(k.startswith("numpy-") for k in keys)
        for m in case["measurements"]:
            assert m["skipped"] or (m["median_ns"] > 0 and math.isfinite(m["median_ns"])), m
    threads = {
        m["threads"] for c in data["grid"] for m in c["measurements"] if m["key"].startswith("l2loss@")
    }
    assert threads == set(data["plan"]["threads"])
    groups = {m["group"] for c in data["ops"] for m in c["measurements"]}
    assert {"report", "grad", "stream"} <= groups
    assert {c["n"] for c in data["latency"]} == {16}
    kinds = {a["kind"] for a in data["accuracy"]}
    assert kinds == {"benign", "large mean", "wide range", "cancellation"}
    for a in data["accuracy"]:
        l2 = next(r for r in a["rows"] if r["family"] == "l2loss")
        assert l2["rel_error"] < 2**-52  # the runner's oracle and l2loss agree (both exact)

    md = out_md.read_text()
    for heading in ("### Machine", "### Throughput", "### Small-call latency", "### Accuracy"):
        assert heading in md
    assert "| n | dtype |" in md
    section = readme.read_text().split("<!-- results:start -->")[1].split("<!-- results:end -->")[0]
    assert data["meta"]["date"] in section and "### Accuracy" in section  # replaced by this run's tables
    assert "| n = 10³ | l2loss" in main_readme.read_text()
    if plots:
        for name in ("throughput.png", "accuracy.png"):
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"]({name})" in section  # embedded, relative to the README


def test_cli_bench_full_runs_the_suite(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from l2loss.cli import main

    # The child process prints the plan of the full grid and exits 0 (--dry-run times nothing).
    assert main(["bench", "--full", "--suite", str(ROOT / "benchmarks"), "--", "--dry-run"]) == 0
    captured = capfd.readouterr()
    out = captured.out + captured.err  # the runner logs its plan to stderr
    assert "plan (full)" in out and "grid" in out and "candidates:" in out
    # Outside a checkout it says where the suite lives, in one line; stray arguments are refused.
    assert main(["bench", "--full", "--suite", str(tmp_path)]) == 2
    err = capfd.readouterr().err
    assert err.startswith("l2loss: error:") and "run.py not found" in err and err.count("\n") == 1
    assert main(["bench", "stray"]) == 2
    assert "use --full" in capfd.readouterr().err
