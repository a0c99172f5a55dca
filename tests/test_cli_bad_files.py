"""The command line and evaluate_files on bad files: one-line errors, non-zero exits.
"""

from __future__ import annotations

import os
import subprocess
import sys

import l2loss
import numpy as np
import pytest
from _support import call

skm = pytest.importorskip("sklearn.metrics")




# ---- the command line on bad files ---------------------------------------------------------------


def _bad_cli_cases(tmp: str) -> dict[str, list[str]]:
    def path(name: str) -> str:
        return os.path.join(tmp, name)

    np.save(path("y.npy"), np.arange(10.0))
    np.save(path("y3d.npy"), np.ones((2, 5, 1)))
    np.save(path("complex.npy"), np.ones(10, dtype=complex))
    np.save(path("strings.npy"), np.array(["a"] * 10))
    np.save(path("object.npy"), np.array([object()] * 10), allow_pickle=True)
    np.save(path("structured.npy"), np.zeros(10, dtype=[("a", "f8"), ("b", "i4")]))
    np.save(path("empty.npy"), np.zeros(0))
    np.save(path("inf.npy"), np.r_[np.zeros(9), np.inf])
    np.save(path("zeros.npy"), np.zeros(10))
    np.save(path("wsum0.npy"), np.r_[np.ones(5), -np.ones(5)])
    np.save(path("two_cols.npy"), np.ones((10, 2)))
    with open(path("zero_bytes.npy"), "wb"):
        pass
    with open(path("garbage.npy"), "wb") as f:
        f.write(os.urandom(300))
    with open(path("garbage.npz"), "wb") as f:
        f.write(b"PK\x03\x04" + os.urandom(200))
    with open(path("garbage.parquet"), "wb") as f:
        f.write(b"PAR1" + os.urandom(200))
    with open(path("words.csv"), "w") as f:
        f.write("\n".join(["hello", "world"] * 5) + "\n")
    with open(path("ragged.csv"), "w") as f:
        f.write("a,b\n1,2\n3\n4,5,6\n")
    os.mkdir(path("adir.npy"))
    y = path("y.npy")
    return {
        "directory": ["eval", path("adir.npy"), y],
        "zero-byte npy": ["eval", path("zero_bytes.npy"), y],
        "garbage npy": ["eval", path("garbage.npy"), y],
        "garbage npz": ["eval", path("garbage.npz"), y],
        "garbage parquet": ["eval", path("garbage.parquet"), y],
        "3-D npy": ["eval", path("y3d.npy"), y],
        "complex npy": ["eval", path("complex.npy"), y],
        "string npy": ["eval", path("strings.npy"), y],
        "object npy": ["eval", path("object.npy"), y],
        "structured npy": ["eval", path("structured.npy"), y],
        "empty npy": ["eval", path("empty.npy"), path("empty.npy")],
        "inf in y_pred": ["eval", y, path("inf.npy")],
        "all-zero weights": ["eval", y, y, "--weights", path("zeros.npy")],
        "weights sum to zero": ["eval", y, y, "--weights", path("wsum0.npy")],
        "missing weights": ["eval", y, y, "--weights", path("nope.npy")],
        "column count mismatch": ["eval", path("two_cols.npy"), y],
        "words csv": ["eval", path("words.csv"), y],
        "ragged csv": ["eval", path("ragged.csv"), path("ragged.csv"), "--columns", "true=a,pred=b"],
        "bad --columns": ["eval", y, y, "--columns", "nonsense"],
    }


def test_cli_bad_files_fail_with_one_line(tmp_path) -> None:
    cases = _bad_cli_cases(str(tmp_path))
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "l2loss", *argv, "--no-progress"] if argv[0] == "eval" else argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name, argv in cases.items()
    }
    failures = []
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        ok = proc.returncode not in (0, None) and proc.returncode > 0 and err.count("\n") == 1
        ok = ok and err.startswith("l2loss: error:") and "Traceback" not in err
        if not ok:
            failures.append(f"{name}: exit {proc.returncode}, stderr={err!r}")
    assert not failures, "\n".join(failures)


def test_evaluate_files_rejects_bad_arguments(tmp_path) -> None:
    y = tmp_path / "y.npy"
    np.save(y, np.arange(10.0))
    cases = {
        "None path": ((None, y), {}),
        "int path": ((3, y), {}),
        "missing": ((tmp_path / "missing.npy", y), {}),
        "chunk_size 0": ((y, y), {"chunk_size": 0}),
        "chunk_size -5": ((y, y), {"chunk_size": -5}),
        "chunk_size float": ((y, y), {"chunk_size": 1.5}),
        "bad columns": ((y, y), {"columns": "nonsense"}),
        "bad multioutput": ((y, y), {"multioutput": "bogus"}),
        "bad num_threads": ((y, y), {"num_threads": 0}),
        "weights missing": ((y, y), {"weights_path": tmp_path / "nope.npy"}),
    }
    for name, (args, kwargs) in cases.items():
        status, got, _ = call(l2loss.evaluate_files, *args, progress=False, **kwargs)
        assert status == "err", f"{name}: returned {got!r}"
        assert isinstance(got, (ValueError, TypeError)), f"{name}: {got!r}"
    rep = l2loss.evaluate_files(y, y, progress=False)
    assert rep.mse == 0.0 and rep.n_samples == 10
