"""The command line for the first release: --version, help, the one-table ``eval`` form,
strict JSON, one-line warnings and errors, hostile numeric options (issue 14 #7),
corrupted .npz members (issue 14 #6), the progress bar, and ``bench``'s warnings."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import l2loss
import numpy as np
import pytest
import sklearn.metrics as skm
from l2loss import _files
from l2loss.cli import busy_machine_warnings, chart_labels, main
from sklearn.exceptions import UndefinedMetricWarning

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*argv: str, **kwargs) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(l2loss.__file__).parents[1]), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "l2loss", *argv], capture_output=True, text=True, env=env,
                          timeout=300, **kwargs)


def strict_json(text: str) -> dict:
    def reject(token: str) -> None:
        raise AssertionError(f"invalid JSON token {token}")

    return json.loads(text, parse_constant=reject)


# ---- --version and help ----------------------------------------------------------------------


def test_version_flag_prints_the_pyproject_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = run_cli("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"l2loss {version}"


def test_top_level_help_has_no_raw_rst(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text and "`" not in text
    for command in ("bench", "eval", "info", "--version"):
        assert command in text


def test_eval_help_lists_formats_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = capsys.readouterr().out
    for fmt in (".npy", ".npz", ".parquet", ".arrow", ".feather", ".csv", ".tsv", ".txt"):
        assert fmt in text
    assert "examples:" in text and "l2loss eval table.parquet --true y --pred yhat" in text


# ---- one table named once --------------------------------------------------------------------


@pytest.fixture
def table_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    y = rng.standard_normal(5000)
    return y, y + 0.3 * rng.standard_normal(5000), rng.uniform(0.5, 2.0, 5000)


def write_table(path: Path, y: np.ndarray, p: np.ndarray, w: np.ndarray) -> None:
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"y": y, "yhat": p, "w": w}), path, row_group_size=1234)
    elif path.suffix == ".csv":
        np.savetxt(path, np.c_[y, p, w], delimiter=",", header="y,yhat,w", comments="", fmt="%.17g")
    else:
        np.savez(path, y=y, yhat=p, w=w)


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".npz"])
def test_eval_one_table_named_once(tmp_path: Path, table_data, suffix: str, capsys) -> None:
    y, p, w = table_data
    table = tmp_path / f"table{suffix}"
    write_table(table, y, p, w)
    assert main(["eval", str(table), "--true", "y", "--pred", "yhat", "--json"]) == 0
    got = strict_json(capsys.readouterr().out)
    assert got["n_samples"] == len(y)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, p), rel=1e-13)
    assert got["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-13)
    assert main(["eval", str(table), "--true", "y", "--pred", "yhat", "--weight", "w", "--json",
                 "--chunk-size", "777"]) == 0
    weighted = strict_json(capsys.readouterr().out)
    assert weighted["mse"] == pytest.approx(skm.mean_squared_error(y, p, sample_weight=w), rel=1e-13)
    assert weighted["r2"] == pytest.approx(skm.r2_score(y, p, sample_weight=w), rel=1e-13)
    assert weighted["weight_sum"] == pytest.approx(float(np.sum(w)), rel=1e-14)
    # The older form, the same file named three times, still works and gives the same bits.
    t = str(table)
    assert main(["eval", t, t, "--weights", t, "--columns", "true=y,pred=yhat,weight=w", "--json",
                 "--chunk-size", "777"]) == 0
    assert strict_json(capsys.readouterr().out) == weighted


def test_evaluate_files_one_table(tmp_path: Path, table_data) -> None:
    y, p, w = table_data
    write_table(tmp_path / "t.csv", y, p, w)
    rep = l2loss.evaluate_files(tmp_path / "t.csv", columns="true=y,pred=yhat,weight=w", progress=False)
    assert rep.mse == pytest.approx(skm.mean_squared_error(y, p, sample_weight=w), rel=1e-13)
    with pytest.raises(ValueError, match="y_pred_path: omitted.*'pred'"):
        l2loss.evaluate_files(tmp_path / "t.csv", columns={"true": "y"})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "one file given: name its columns with --true COLUMN and --pred COLUMN"),
        (["--true", "y"], "one file given: name its columns with --pred COLUMN"),
        (["--true", "y", "--pred", "yhat", "--columns", "true=other,pred=yhat"], "--true 'y' contradicts"),
    ],
)
def test_eval_one_table_usage_errors(tmp_path: Path, table_data, extra: list[str], message: str,
                                     capsys) -> None:
    write_table(tmp_path / "t.npz", *table_data)
    assert main(["eval", str(tmp_path / "t.npz"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("l2loss: error: ") and err.count("\n") == 1 and message in err


def test_eval_weight_column_of_two_files_needs_weights_file(tmp_path: Path, table_data, capsys) -> None:
    write_table(tmp_path / "t.npz", *table_data)
    t = str(tmp_path / "t.npz")
    assert main(["eval", t, t, "--true", "y", "--pred", "yhat", "--weight", "w"]) == 2
    assert "add --weights FILE" in capsys.readouterr().err


# ---- strict JSON, one-line warnings ----------------------------------------------------------


def test_json_writes_null_for_undefined_r2_and_warns_in_one_line(tmp_path: Path) -> None:
    np.save(tmp_path / "y.npy", np.array([1.0]))
    np.save(tmp_path / "p.npy", np.array([2.0]))
    out = run_cli("eval", str(tmp_path / "y.npy"), str(tmp_path / "p.npy"), "--json")
    assert out.returncode == 0, out.stderr
    assert "NaN" not in out.stdout
    got = strict_json(out.stdout)
    assert got["r2"] is None  # sklearn: nan with UndefinedMetricWarning for one sample
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(skm.r2_score([1.0], [2.0]))
    assert got["mse"] == 1.0
    assert out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("l2loss: warning: R^2 score is not well-defined")


def test_report_json_maps_every_non_finite_value_to_null() -> None:
    from l2loss.cli import report_json

    with pytest.warns(l2loss.UndefinedMetricWarning):
        rep = l2loss.regression_report(np.array([[1.0, 2.0]]), np.array([[1.5, 1e200]]),
                                       multioutput="raw_values")
    assert np.all(np.isnan(rep.r2))
    got = strict_json(report_json(rep))
    assert got["r2"] in (None, [None, None])
    assert got["mse"][0] == 0.25 and got["mse"][1] is None  # (1e200)**2 overflows to inf


# ---- hostile numeric options (issue 14 #7) ---------------------------------------------------

HOSTILE = ["1e999", "-1", "0", "nan", "inf", str(2**70), "abc", "1.5", ""]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    ("command", "option"),
    [("eval", "--threads"), ("eval", "--chunk-size"), ("bench", "--threads"), ("bench", "--size"),
     ("bench", "--repeats"), ("bench", "--seed")],
)
def test_hostile_numeric_options_are_usage_errors(tmp_path: Path, command: str, option: str, value: str,
                                                  capsys) -> None:
    if option == "--seed" and value == "0":
        value = "-5"  # 0 is a valid seed
    np.save(tmp_path / "y.npy", np.ones(4))
    argv = ["eval", str(tmp_path / "y.npy"), str(tmp_path / "y.npy")] if command == "eval" else ["bench"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, f"{option}={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "Traceback" not in err


def test_integer_options_accept_scientific_notation(tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "y.npy", np.arange(10.0))
    np.save(tmp_path / "p.npy", np.arange(10.0) + 1)
    assert main(["eval", str(tmp_path / "y.npy"), str(tmp_path / "p.npy"), "--chunk-size", "3e0",
                 "--threads", "1", "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["mse"] == 1.0


def test_bench_size_beyond_memory_is_one_line(capsys) -> None:
    assert main(["bench", "--size", str(2**40), "--repeats", "1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("l2loss: error: --size needs about")


# ---- corrupted .npz members (issue 14 #6) ----------------------------------------------------


def corrupt_member(src: Path, dst: Path, member: str, offset: int) -> None:
    """Flip one byte of a member's (stored or compressed) data, leaving the zip directory intact."""
    raw = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(member)
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    raw[info.header_offset + 30 + name_len + extra_len + offset] ^= 0xFF
    dst.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("save", "offset", "raw_error"),
    [
        (np.savez, 500, zipfile.BadZipFile),  # stored member: the CRC check fails at its end
        (np.savez_compressed, 40, Exception),  # deflate stream broken: zlib.error
        (np.savez_compressed, 2, Exception),  # broken at its start (the .npy header)
    ],
    ids=["bad-crc", "bad-deflate", "bad-deflate-header"],
)
def test_corrupted_npz_member(tmp_path: Path, save, offset: int, raw_error: type, capsys) -> None:
    good, bad = tmp_path / "good.npz", tmp_path / "bad.npz"
    save(good, y=np.arange(1000.0), yhat=np.arange(1000.0) + 1)
    corrupt_member(good, bad, "yhat.npy", offset)
    with pytest.raises(raw_error), np.load(bad) as z:  # the corruption is real: NumPy itself fails
        z["yhat"]
    with pytest.raises(l2loss.FileFormatError, match=r"bad\.npz: array 'yhat' is corrupted"):
        l2loss.evaluate_files(bad, columns={"true": "y", "pred": "yhat"}, progress=False)
    assert main(["eval", str(bad), "--true", "y", "--pred", "yhat"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("l2loss: error: ") and err.count("\n") == 1, err


def test_corrupted_npz_cli_subprocess_one_line(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.npz", tmp_path / "bad.npz"
    np.savez(good, y=np.arange(1000.0), yhat=np.arange(1000.0) + 1)
    corrupt_member(good, bad, "yhat.npy", 500)
    out = run_cli("eval", str(bad), "--true", "y", "--pred", "yhat")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "Bad CRC-32" in out.stderr


# ---- progress bar ----------------------------------------------------------------------------


def test_no_progress_output_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    np.save(tmp_path / "y.npy", np.arange(5000.0))
    np.save(tmp_path / "p.npy", np.arange(5000.0) + 1)
    out = run_cli("eval", str(tmp_path / "y.npy"), str(tmp_path / "p.npy"), "--progress",
                  "--chunk-size", "100", "--json")
    assert out.returncode == 0
    assert out.stderr == ""
    assert strict_json(out.stdout)["mse"] == 1.0


def run_on_terminal(tmp_path: Path, argv: list[str]) -> str:
    """Run the CLI with stderr on a pseudo-terminal; returns what the terminal showed."""
    pty = pytest.importorskip("pty")
    primary, secondary = pty.openpty()
    env = dict(os.environ, COLUMNS="160", TERM="xterm")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(l2loss.__file__).parents[1]), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "l2loss", *argv], stdout=subprocess.DEVNULL,
                            stderr=secondary, env=env, cwd=tmp_path)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    assert proc.wait(timeout=300) == 0
    return b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_counts_rows(tmp_path: Path) -> None:
    np.save(tmp_path / "y.npy", np.arange(200_000.0))
    np.save(tmp_path / "p.npy", np.arange(200_000.0) + 1)
    shown = run_on_terminal(tmp_path, ["eval", "y.npy", "p.npy", "--progress", "--chunk-size", "1000"])
    assert "rows" in shown and "%" in shown and "/s" in shown
    assert "200.0 k rows" in shown  # the total


def test_progress_bar_of_a_csv_counts_bytes(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    y = np.arange(100_000.0)
    np.savetxt(tmp_path / "t.csv", np.c_[y, y + 1], delimiter=",", header="y,yhat", comments="", fmt="%.17g")
    size = (tmp_path / "t.csv").stat().st_size
    reader = _files.open_reader("y_true", tmp_path / "t.csv", "y")
    assert reader.n_rows is None and reader.nbytes == size  # rows unknown up front: bytes it is
    shown = run_on_terminal(tmp_path, ["eval", "t.csv", "--true", "y", "--pred", "yhat", "--progress"])
    assert f"{size / 1e6:.1f} MB" in shown and "%" in shown and "MB/s" in shown


def test_csv_reader_reports_bytes_read(tmp_path: Path) -> None:
    y = np.arange(50_000.0)
    np.savetxt(tmp_path / "t.csv", np.c_[y, y], delimiter=",", header="y,yhat", comments="", fmt="%.17g")
    np.savetxt(tmp_path / "t.txt", y, fmt="%.17g")
    for path, column in ((tmp_path / "t.csv", "y"), (tmp_path / "t.txt", None)):
        reader = _files.open_reader("y_true", path, column)
        seen = []
        for _ in reader.chunks(10_000):
            seen.append(reader.bytes_read)
        assert seen == sorted(seen) and seen[-1] == path.stat().st_size, (path, seen)


# ---- bench -----------------------------------------------------------------------------------


def test_busy_machine_warnings() -> None:
    assert busy_machine_warnings(0.2, 2, 2) == []
    assert busy_machine_warnings(None, 2, 1) == []
    over = busy_machine_warnings(0.0, 2, 3)
    assert len(over) == 1 and "oversubscribed" in over[0] and "--threads 2" in over[0]
    busy = busy_machine_warnings(2.0, 2, 2)
    assert len(busy) == 1 and "busy" in busy[0] and "2.0" in busy[0]


def test_bench_warns_when_threads_oversubscribe(capsys) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert main(["bench", "-n", "2000", "--repeats", "1", "--threads", str(cores + 1)]) == 0
    captured = capsys.readouterr()
    assert "oversubscribed" in captured.err
    assert all(line.startswith("l2loss: warning: ") for line in captured.err.splitlines())
    assert "machine:" in captured.out and "bandwidth probe:" in captured.out


def test_chart_labels_name_values_threads_machine_and_probe() -> None:
    med = {"l2loss.mean_squared_error": 0.002, "numpy np.mean((y-p)**2)": 0.02,
           "bandwidth probe (naive read)": 0.0019}
    c = chart_labels(med, 32_000_000, n=2_000_000, dtype="float64", threads=2, machine="CPU X, 2 cores",
                     repeats=5)
    assert c["names"] == list(med)
    assert c["values"] == ["16.0 GB/s, 2.000 ms", "1.6 GB/s, 20.000 ms", "16.8 GB/s, 1.900 ms"]
    assert "2 threads" in c["title"] and "CPU X, 2 cores" in c["title"] and "2,000,000 float64" in c["title"]
    assert "median of 5" in c["xlabel"]
    assert "bandwidth probe" in c["note"] and "not a usable metric" in c["note"]
