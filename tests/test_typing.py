"""Types for users (issue #18): ``mypy --strict`` on a user script that uses the public API.

The metrics return ``float``, or an ndarray for ``multioutput="raw_values"`` (overloads on
a ``Literal``); a misspelt option such as ``"raw_valuez"`` is a type error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import l2loss
import pytest

GOOD = """
from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

import l2loss

y = np.array([3.0, -0.5, 2.0, 7.0])
p = [2.5, 0.0, 2.0, 8.0]
Raw = npt.NDArray[np.floating[Any]]
assert_type(l2loss.mean_squared_error(y, p), float)
assert_type(l2loss.mean_squared_error(y, p, multioutput="raw_values"), Raw)
assert_type(l2loss.mean_squared_error(y, p, multioutput=[0.3, 0.7], exact=True), float)
assert_type(l2loss.root_mean_squared_error(y, p, sample_weight=[1, 2, 3, 4]), float)
assert_type(l2loss.root_mean_squared_error(y, p, multioutput="raw_values"), Raw)
assert_type(l2loss.mean_absolute_error(y, p, num_threads=np.int64(2)), float)
assert_type(l2loss.mean_absolute_error(y, p, multioutput=np.array([1.0, 2.0])), float)
assert_type(l2loss.mean_squared_log_error(y, p, multioutput="raw_values"), Raw)
assert_type(l2loss.root_mean_squared_log_error(y, p), float)
assert_type(l2loss.r2_score(y, p, multioutput="variance_weighted"), float)
assert_type(l2loss.r2_score(y, p, multioutput=None, force_finite=False), float)
assert_type(l2loss.r2_score(y, p, multioutput="raw_values"), Raw | float)  # nan below 2 samples
assert_type(l2loss.explained_variance_score(y, p, multioutput="raw_values"), Raw)
assert_type(l2loss.explained_variance_score(y, p), float)
assert_type(l2loss.max_error(y, p), float)
assert_type(l2loss.regression_report(y, p, exact=True), l2loss.RegressionReport)
previous: int = l2loss.set_num_threads(np.int64(1))
l2loss.set_num_threads(previous)
assert_type(l2loss.get_num_threads(), int)
try:
    l2loss.r2_score(y, p, multioutput="raw_valuez")  # type: ignore[arg-type]
except l2loss.InvalidParameterError as exc:
    message: str = str(exc)
"""

BAD = """
import l2loss

l2loss.mean_squared_error([1.0], [2.0], multioutput="raw_valuez")
l2loss.r2_score([1.0], [2.0], multioutput="raw_valuez")
x: float = l2loss.mean_squared_error([1.0], [2.0], multioutput="raw_values")
l2loss.max_error([1.0], [2.0], multioutput="raw_values")
"""


def test_mypy_strict_on_a_user_script(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "bad.py").write_text(textwrap.dedent(BAD))
    package_dir = str(Path(l2loss.__file__).resolve().parent.parent)
    env = dict(os.environ)
    # In a checkout (PYTHONPATH=python) mypy needs the package's folder on MYPYPATH; an
    # installed l2loss (CI) is found through site-packages, which mypy refuses on MYPYPATH.
    if package_dir not in sysconfig.get_paths().values():
        env["MYPYPATH"] = package_dir
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental",
         "--warn-unused-ignores", "good.py", "bad.py"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env=env,
    )
    out = result.stdout + result.stderr
    errors = re.findall(r"^(\w+\.py):(\d+): error: (.*)$", out, flags=re.M)
    expected = [("bad.py", 4), ("bad.py", 5), ("bad.py", 6), ("bad.py", 7)]
    assert [(f, int(n)) for f, n, _ in errors] == expected, out
    assert "raw_valuez" in errors[0][2] and "raw_valuez" in errors[1][2], out
    assert "ndarray" in errors[2][2], out
    assert result.returncode == 1, out
