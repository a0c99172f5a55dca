"""evaluate_files and ``l2loss eval``: every format equals the in-memory result bit for bit;
bad inputs give one clear line and a non-zero exit; memory stays bounded; Ctrl-C stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import l2loss
import numpy as np
import pytest
from _support import timing_sensitive
from l2loss import FileFormatError, evaluate_files

N = 20_011


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    y = rng.standard_normal((N, 2)) * 5 + 100
    return {"y": y, "p": y + rng.standard_normal((N, 2)), "w": rng.uniform(0, 2, N)}


@pytest.fixture(scope="module")
def files(tmp_path_factory, data) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("files")
    y, p, w = data["y"], data["p"], data["w"]
    out = {}
    for name, arr in (("y", y[:, 0]), ("p", p[:, 0]), ("w", w), ("y2", y), ("p2", p)):
        np.save(d / f"{name}.npy", arr)
        out[name] = d / f"{name}.npy"
    np.save(d / "y2f.npy", np.asfortranarray(y))
    out["y2f"] = d / "y2f.npy"
    np.savez(d / "a.npz", truth=y[:, 0], pred=p[:, 0], w=w)
    np.savez_compressed(d / "c.npz", truth=y[:, 0], pred=p[:, 0])
    out["npz"], out["npz_c"] = d / "a.npz", d / "c.npz"
    with open(d / "a.csv", "w") as f:
        f.write("truth,pred,w\n")
        for a, b, c in zip(y[:, 0].tolist(), p[:, 0].tolist(), w.tolist()):
            f.write(f"{a!r},{b!r},{c!r}\n")
    out["csv"] = d / "a.csv"
    np.savetxt(d / "y.txt", y[:, 0], fmt="%.17g")
    np.savetxt(d / "p.txt", p[:, 0], fmt="%.17g")
    out["ytxt"], out["ptxt"] = d / "y.txt", d / "p.txt"
    try:
        import pyarrow as pa
        import pyarrow.feather as feather
        import pyarrow.parquet as pq

        table = pa.table({"truth": y[:, 0], "pred": p[:, 0], "w": w})
        pq.write_table(table, d / "a.parquet", row_group_size=3000)
        feather.write_feather(table, d / "a.arrow", chunksize=4000)
        out["parquet"], out["arrow"] = d / "a.parquet", d / "a.arrow"
    except ImportError:
        pass
    return out


def same(a, b) -> bool:
    return a.to_dict() == b.to_dict() and all(
        np.array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f))) for f in a._METRICS
    )


@pytest.mark.parametrize("chunk", [1, 7, 4096, N, 10 * N])
def test_npy_equals_in_memory(files, data, chunk: int) -> None:
    one = l2loss.regression_report(data["y"][:, 0], data["p"][:, 0], sample_weight=data["w"])
    got = evaluate_files(files["y"], files["p"], weights_path=files["w"], chunk_size=chunk)
    assert same(got, one)


def test_two_dimensional_npy_c_and_fortran(files, data) -> None:
    one = l2loss.regression_report(data["y"], data["p"], multioutput="raw_values")
    assert same(evaluate_files(files["y2"], files["p2"], multioutput="raw_values", chunk_size=999), one)
    assert same(evaluate_files(files["y2f"], files["p2"], multioutput="raw_values", chunk_size=999), one)


@pytest.mark.parametrize("fmt", ["npz", "npz_c", "csv", "parquet", "arrow"])
def test_table_formats_equal_in_memory(files, data, fmt: str) -> None:
    if fmt not in files:
        pytest.skip("pyarrow not installed")
    weighted = fmt in ("npz", "csv", "parquet", "arrow")
    cols = {"true": "truth", "pred": "pred", **({"weight": "w"} if weighted else {})}
    one = l2loss.regression_report(data["y"][:, 0], data["p"][:, 0],
                                   sample_weight=data["w"] if weighted else None)
    got = evaluate_files(files[fmt], files[fmt], weights_path=files[fmt] if weighted else None, columns=cols,
                         chunk_size=3333)
    assert same(got, one)


def test_text_files_without_header(files, data) -> None:
    one = l2loss.regression_report(data["y"][:, 0], data["p"][:, 0])
    assert same(evaluate_files(files["ytxt"], files["ptxt"], chunk_size=5000), one)


def test_errors_name_the_problem(files, tmp_path) -> None:
    np.save(tmp_path / "short.npy", np.ones(N - 1))
    with pytest.raises(ValueError, match=rf"y_true .* has {N} rows, y_pred .* has {N - 1} rows"):
        evaluate_files(files["y"], tmp_path / "short.npy")
    np.savetxt(tmp_path / "short.txt", np.ones(N - 5))
    with pytest.raises(ValueError, match=rf"has {N} rows.*has {N - 5} rows"):
        evaluate_files(files["ytxt"], tmp_path / "short.txt", chunk_size=1000)
    bad = np.load(files["p"])
    bad[12345] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match=r"y_pred .*bad.npy\) contains infinity at row 12345"):
        evaluate_files(files["y"], tmp_path / "bad.npy", chunk_size=1000)
    with pytest.raises(FileFormatError, match="no column 'nope'"):
        evaluate_files(files["csv"], files["csv"], columns="true=truth,pred=nope")
    with pytest.raises(FileFormatError, match="choose one with columns="):
        evaluate_files(files["csv"], files["csv"])
    (tmp_path / "trunc.npy").write_bytes(files["y"].read_bytes()[:-100])
    with pytest.raises(FileFormatError, match="truncated"):
        evaluate_files(files["y"], tmp_path / "trunc.npy")
    with pytest.raises(FileFormatError, match="no such file"):
        evaluate_files(tmp_path / "missing.npy", files["y"])
    (tmp_path / "x.bin").write_bytes(b"\x00")
    with pytest.raises(FileFormatError, match="unsupported file type"):
        evaluate_files(tmp_path / "x.bin", files["y"])
    (tmp_path / "garbage.npy").write_bytes(b"not numpy at all")
    with pytest.raises(FileFormatError, match="not a valid .npy"):
        evaluate_files(tmp_path / "garbage.npy", files["y"])
    with pytest.raises(ValueError, match="chunk_size"):
        evaluate_files(files["y"], files["p"], chunk_size=0)


# ---- the command line, through a real subprocess --------------------------------------------


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "l2loss", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_cli_eval_json_schema(files, data) -> None:
    out = run_cli("eval", str(files["y"]), str(files["p"]), "--weights", str(files["w"]), "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert set(got) == {"mse", "rmse", "mae", "r2", "explained_variance", "max_error", "mean_error",
                        "n_samples", "weight_sum"}
    assert got["mse"] == l2loss.mean_squared_error(data["y"][:, 0], data["p"][:, 0], sample_weight=data["w"])
    table = run_cli("eval", str(files["csv"]), str(files["csv"]), "--columns", "true=truth,pred=pred")
    assert table.returncode == 0 and "mse" in table.stdout


def test_cli_bad_inputs_exit_nonzero_with_one_line(files, tmp_path) -> None:
    np.save(tmp_path / "short.npy", np.ones(10))
    bad = np.load(files["p"])
    bad[77] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    (tmp_path / "trunc.npy").write_bytes(files["y"].read_bytes()[:-8])
    cases = {
        "no such file": ("eval", str(tmp_path / "missing.npy"), str(files["y"])),
        f"has {N} rows": ("eval", str(files["y"]), str(tmp_path / "short.npy")),
        "contains NaN at row 77": ("eval", str(files["y"]), str(tmp_path / "nan.npy")),
        "no column 'zz'": ("eval", str(files["csv"]), str(files["csv"]), "--columns", "true=truth,pred=zz"),
        "truncated": ("eval", str(files["y"]), str(tmp_path / "trunc.npy")),
    }
    for needle, argv in cases.items():
        out = run_cli(*argv)
        assert out.returncode == 2, (needle, out.stdout, out.stderr)
        assert out.stderr.count("\n") == 1 and out.stderr.startswith("l2loss: error:"), out.stderr
        assert needle in out.stderr, (needle, out.stderr)


def test_cli_bench_and_info() -> None:
    out = run_cli("bench", "--size", "50000", "--repeats", "3")
    assert out.returncode == 0, out.stderr
    assert "l2loss.mean_squared_error" in out.stdout and "bandwidth probe" in out.stdout
    assert run_cli("info").returncode == 0
    assert run_cli("bench", "--size", "0").returncode == 2  # argparse: bad value


def _big_pair(tmp_path: Path, n: int) -> tuple[Path, Path]:
    paths = []
    for name, offset in (("big_y", 0.0), ("big_p", 0.5)):
        path = tmp_path / f"{name}.npy"
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n,))
        step = 1 << 22
        for i in range(0, n, step):
            mm[i : i + step] = np.arange(i, min(i + step, n), dtype=np.float64) % 1000 + offset
        mm.flush()
        del mm
        paths.append(path)
    return paths[0], paths[1]


@timing_sensitive()
def test_memory_stays_bounded_on_large_npy(tmp_path) -> None:
    # 2 x 256 MB of memory-mapped input; resident memory must stay near the chunk size.
    n = 32 * 1024 * 1024
    y, p = _big_pair(tmp_path, n)
    code = (
        "import resource, l2loss; "
        f"r = l2loss.evaluate_files({str(y)!r}, {str(p)!r}, chunk_size=1 << 20, progress=False); "
        "assert r.mse == 0.25 and r.n_samples == %d, r; "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)" % n
    )
    base = subprocess.run([sys.executable, "-c", "import resource, l2loss; "
                           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                          capture_output=True, text=True, check=True)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=300)
    grew_mb = (int(out.stdout) - int(base.stdout)) / 1024
    assert grew_mb < 100, f"resident memory grew by {grew_mb:.0f} MB for 512 MB of input"


def _wait_until_mapped(pid: int, path: Path, timeout: float) -> None:
    """Linux: wait until the child has memory-mapped `path`, i.e. is evaluating rather than
    still importing (elsewhere, or if /proc cannot tell, a fixed pause)."""
    maps = Path(f"/proc/{pid}/maps")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if str(path) in maps.read_text():
                time.sleep(0.3)  # a few hundred chunks into the pass
                return
        except OSError:
            break
        time.sleep(0.05)
    time.sleep(1.5)


@timing_sensitive()
def test_ctrl_c_stops_promptly(tmp_path) -> None:
    n = 8 * 1024 * 1024
    y, p = _big_pair(tmp_path, n)
    # A shell without job control starts background jobs with SIGINT ignored, and a child
    # inherits that (CI launched as `(./.ci/run &)` hung here: Python installs no
    # KeyboardInterrupt handler when SIGINT is ignored at startup). A handler of our own
    # is reset to the default by exec, so the child gets Ctrl-C as a terminal would send it.
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # -X faulthandler: if it ever hangs, SIGABRT below makes the child print every thread's stack.
        proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "l2loss", "eval", str(y), str(p),
                                 "--chunk-size", "64", "--no-progress"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    _wait_until_mapped(proc.pid, y, timeout=30.0)  # importing can be slow on a busy machine
    assert proc.poll() is None, "finished too early to test interruption"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"no exit 10 s after SIGINT; the child's stacks:\n{err[-4000:]}")
    assert time.monotonic() - t0 < 2.0
    assert proc.returncode == 130 and "interrupted" in err
    assert os.path.exists(y)
