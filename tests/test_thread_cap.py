"""A call never starts more than a small multiple of the hardware threads, whatever it
asks for. Regression test: num_threads=2**31-1 was capped only by n / 8192, so one
10**8-element call left 12,208 OS threads behind on a 2-core machine (and under a pids
limit libgomp ended the process). Counted from /proc/self/status in a fresh child, so
the pool threads of earlier tests cannot hide or fake a leak."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import l2loss
import numpy as np
import pytest
from l2loss import _core

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

_CHILD = textwrap.dedent(
    """
    import numpy as np
    import l2loss
    from l2loss import _core

    def os_threads():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))

    huge = 2**31 - 1
    rng = np.random.default_rng(0)
    y, p = rng.standard_normal(1 << 21), rng.standard_normal(1 << 21)
    X, coef = rng.standard_normal((1 << 15, 64)), rng.standard_normal(64)
    before = os_threads()
    l2loss.mean_squared_error(y, p, num_threads=huge)
    l2loss.r2_score(y, p, num_threads=huge)
    l2loss.regression_report(y, p, num_threads=huge)
    l2loss.mean_squared_error(y, p, exact=True, num_threads=huge)
    l2loss.mse_grad(y, p, num_threads=huge)
    l2loss.ridge_loss_and_grad(X, y[: 1 << 15], coef, num_threads=huge)
    _core._bandwidth_probe(y, p, huge)
    previous = l2loss.set_num_threads(huge)
    l2loss.mean_squared_error(y, p)
    l2loss.set_num_threads(previous)
    print(before, os_threads(), _core.max_threads_per_call())
    """
)


@pytest.mark.skipif(not _core.have_openmp(), reason="built without OpenMP: always one thread")
def test_a_huge_thread_request_starts_a_bounded_team() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=300, check=True
    )
    before, after, cap = map(int, out.stdout.split())
    assert cap == 4 * _core.max_hardware_threads()
    # the team's threads stay in libgomp's pool; the caller's thread is one of the team
    assert after - before <= cap - 1, (before, after, cap)


@pytest.mark.skipif(not _core.have_openmp(), reason="built without OpenMP: always one thread")
def test_threads_used_is_capped_and_results_keep_their_bits() -> None:
    rng = np.random.default_rng(1)
    y, p = rng.standard_normal(1 << 21), rng.standard_normal(1 << 21)
    r = _core.reduce(y, p, None, sums=_core.SUM_SQ, num_threads=2**31 - 1)
    assert r.threads_used == _core.max_threads_per_call()
    assert l2loss.mean_squared_error(y, p, num_threads=2**31 - 1) == l2loss.mean_squared_error(
        y, p, num_threads=1
    )


def test_negative_thread_counts_are_refused_by_every_entry_point() -> None:
    y, p = np.ones(10), np.zeros(10)
    X, coef = np.ones((10, 2)), np.zeros(2)
    for call in (
        lambda: l2loss.mean_squared_error(y, p, num_threads=-1),
        lambda: l2loss.ridge_loss_and_grad(X, y, coef, num_threads=-1),
        lambda: _core.reduce(y, p, None, sums=_core.SUM_SQ, num_threads=-1),
    ):
        with pytest.raises(ValueError, match="num_threads"):
            call()
