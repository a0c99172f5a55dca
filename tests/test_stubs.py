"""The hand-written stub of the compiled module matches the binary (mypy.stubtest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# pybind11 classes have their own metaclass, which a .pyi cannot express.
ALLOWLIST = Path(__file__).with_name("stubtest_allowlist.txt")


def test_core_stub_matches_module() -> None:
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "l2loss._core", "--allowlist", str(ALLOWLIST)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_kernel_profiles_are_the_engines_named_sets() -> None:
    """The Python layer takes the profiles by name; their bits are the sums each metric
    needs (a set that is not a profile would silently run the all-sums kernel)."""
    from l2loss import _core, _metrics

    assert _metrics.SUMS_ALL == _core.PROFILE_REPORT
    assert _metrics.SUMS_R2 == _core.PROFILE_R2
    assert _core.PROFILE_R2 == _core.SUM_SQ | _core.SUM_Y | _core.SUM_Y2
    assert _core.PROFILE_REPORT == (
        _core.SUM_SQ
        | _core.SUM_SQ_LO
        | _core.SUM_ABS
        | _core.SUM_DIFF
        | _core.SUM_Y
        | _core.SUM_Y2
        | _core.MAX_ABS
    )
    assert (_core.PROFILE_SQ, _core.PROFILE_ABS, _core.PROFILE_MAX) == (
        _core.SUM_SQ,
        _core.SUM_ABS,
        _core.MAX_ABS,
    )
