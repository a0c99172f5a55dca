"""pytest-benchmark suite: l2loss vs NumPy vs scikit-learn (MSE at n = 1e3 and 1e6; report at 1e6).

Kept out of the default test run (``testpaths = ["tests"]``). From the repository root::

    PYTHONPATH=python pytest benchmarks/ --benchmark-only            # timings, grouped per input
    PYTHONPATH=python pytest benchmarks/ --benchmark-disable         # smoke test: each body once (CI)

The candidates and inputs are the ones ``benchmarks/run.py`` times (``peers.py``), so both
harnesses time exactly the same calls. Every test also checks the value it timed against the
exact MSE.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("sklearn")

import accuracy  # noqa: E402 - benchmarks/ is on sys.path (pytest's rootdir-relative import)
import peers  # noqa: E402
from timing import Candidate, as_value  # noqa: E402

pytestmark = pytest.mark.benchmark(min_rounds=5, warmup=True, warmup_iterations=3, disable_gc=True)

THREADS = os.cpu_count() or 1
MSE_FAMILIES = ["l2loss", "numpy", "sklearn"]
REPORT_KEYS = ["l2loss-report", "numpy-report", "sklearn-report"]
SEED = 20240229


@pytest.fixture(scope="module")
def inputs() -> Callable[[int, str], peers.Inputs]:
    """(n, dtype) -> contiguous unweighted inputs, generated once per module."""
    cache: dict[tuple[int, str], peers.Inputs] = {}

    def get(n: int, dtype: str) -> peers.Inputs:
        if (n, dtype) not in cache:
            cache[(n, dtype)] = peers.make_inputs(n, dtype, SEED)
        return cache[(n, dtype)]

    return get


def _bench(benchmark: Any, cand: Candidate, inp: peers.Inputs) -> None:
    benchmark.group = f"{cand.group} n={inp.n:.0e} {inp.dtype}"
    benchmark.extra_info.update(n=inp.n, dtype=inp.dtype, bytes_read=cand.bytes_read, candidate=cand.label)
    if cand.prepare is not None:
        cand.prepare()
    value = as_value(benchmark(cand.fn, *cand.args))
    # float32 reductions done in float32 (NumPy, sklearn) are off by ~1e-7 relative; l2loss is exact.
    exact = accuracy.Reference(accuracy.exact_mse(inp.t, inp.p))
    assert value is not None and exact.rel_error(value) < (1e-6 if inp.dtype == "float32" else 1e-12)


@pytest.mark.parametrize("family", MSE_FAMILIES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [10**3, 10**6], ids=lambda n: f"{n:.0e}")
def test_mean_squared_error(
    benchmark: Any, inputs: Callable[..., Any], n: int, dtype: str, family: str
) -> None:
    inp = inputs(n, dtype)
    cands = peers.mse_candidates(inp, [THREADS], MSE_FAMILIES, probe=False)
    _bench(benchmark, next(c for c in cands if c.key.split("@")[0] == family), inp)


@pytest.mark.parametrize("key", REPORT_KEYS)
def test_regression_report(benchmark: Any, inputs: Callable[..., Any], key: str) -> None:
    inp = inputs(10**6, "float64")
    _bench(benchmark, next(c for c in peers.ops_candidates(inp, THREADS, MSE_FAMILIES) if c.key == key), inp)
