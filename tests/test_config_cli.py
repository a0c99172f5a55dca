"""Configuration (ISA hook, threads, show_config) and the command line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import l2loss
import numpy as np
import pytest
from l2loss import _core
from l2loss.cli import main


def test_show_config_and_config() -> None:
    buf = io.StringIO()
    l2loss.show_config(file=buf)
    text = buf.getvalue()
    cfg = l2loss.config()
    assert cfg["isa"] in cfg["isas_supported"] and "scalar" in cfg["isas_supported"]
    for needle in (l2loss.__version__, cfg["isa"], "OpenMP", "threads"):
        assert needle in text


def test_set_num_threads_returns_previous() -> None:
    original = l2loss.get_num_threads()
    try:
        assert l2loss.set_num_threads(3) == original
        assert l2loss.get_num_threads() == 3
        assert l2loss.set_num_threads(1) == 3
    finally:
        l2loss.set_num_threads(original)
    for bad in (0, -2, 2.0, None):
        with pytest.raises(ValueError):
            l2loss.set_num_threads(bad)  # type: ignore[arg-type]


def test_set_isa_hook_rejects_unknown_and_unsupported() -> None:
    with pytest.raises(ValueError, match="unknown ISA"):
        _core.set_isa("sse9")
    for name in ("scalar", "avx2", "avx512"):
        if name not in _core.supported_isas():
            with pytest.raises(ValueError, match="not supported"):
                _core.set_isa(name)
    assert _core.get_isa() == _core.best_isa()


@pytest.mark.parametrize("name", ["scalar", "avx2", "avx512", "bogus"])
def test_env_override_selects_the_kernel(name: str) -> None:
    env = dict(os.environ, L2LOSS_ISA=name)
    code = "import l2loss; print(l2loss.config()['isa'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    expected = name if name in _core.supported_isas() else _core.best_isa()
    assert out.stdout.strip() == expected


def test_cli_info_and_bench(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["isa"] == _core.get_isa()
    assert main(["bench", "-n", "20000", "--repeats", "3", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert "l2loss.mean_squared_error" in out and "numpy" in out


def test_cli_eval_files(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    y, p = rng.standard_normal(1000), rng.standard_normal(1000)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "p.npy", p)
    assert main(["eval", str(tmp_path / "y.npy"), str(tmp_path / "p.npy"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["mse"] == l2loss.mean_squared_error(y, p)
    np.savetxt(tmp_path / "both.csv", np.c_[y, p], delimiter=",", header="truth,pred", comments="")
    csv = str(tmp_path / "both.csv")
    assert main(["eval", csv, csv, "--columns", "true=truth,pred=pred", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mse"] == pytest.approx(got["mse"], rel=1e-15)
    np.savez(tmp_path / "arrs.npz", truth=y, pred=p)
    npz = str(tmp_path / "arrs.npz")
    assert main(["eval", npz, npz, "--columns", "true=truth,pred=pred"]) == 0
    assert "mse" in capsys.readouterr().out


def test_cli_bad_files_one_line_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "y.npy", np.ones(10))
    np.save(tmp_path / "short.npy", np.ones(9))
    (tmp_path / "trunc.npy").write_bytes((tmp_path / "y.npy").read_bytes()[:-20])
    (tmp_path / "bad.xyz").write_text("1\n")
    cases = [
        ["eval", str(tmp_path / "missing.npy"), str(tmp_path / "y.npy")],
        ["eval", str(tmp_path / "y.npy"), str(tmp_path / "short.npy")],
        ["eval", str(tmp_path / "y.npy"), str(tmp_path / "trunc.npy")],
        ["eval", str(tmp_path / "bad.xyz"), str(tmp_path / "y.npy")],
    ]
    for argv in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("l2loss: error:") and err.count("\n") == 1, err


def test_python_dash_m_entry_point() -> None:
    out = subprocess.run([sys.executable, "-m", "l2loss", "info"], capture_output=True, text=True, check=True)
    assert "ISA path in use" in out.stdout
