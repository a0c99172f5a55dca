"""pytest-benchmark suite: l2loss vs NumPy vs scikit-learn (MSE at n = 1e3 and 1e6; report at 1e6).

Kept out of the default test run (``testpaths = ["tests"]``) and marked ``benchmark``.
From the repository root::

    PYTHONPATH=python pytest benchmarks/ --benchmark-only            # timings, grouped per input
    PYTHONPATH=python pytest benchmarks/ --benchmark-disable         # smoke test: each body once (CI)

The candidates (and the input generator) are the ones ``benchmarks/run.py`` uses, so both
harnesses time exactly the same calls. Every test also checks the value it timed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

pytest.importorskip("sklearn")


def _load_runner() -> Any:
    """benchmarks/ is not a package: load run.py by path under a name that cannot clash."""
    name = "l2loss_benchmarks_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("run.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


run = _load_runner()

pytestmark = pytest.mark.benchmark(min_rounds=5, warmup=True, warmup_iterations=3, disable_gc=True)

CANDIDATES = {
    c.key: c for c in [*run.l2loss_candidates(None, report=True), *run.reference_candidates(report=True)]
}
MSE_KEYS = ["l2loss", "numpy", "sklearn"]
REPORT_KEYS = ["l2loss-report", "numpy-report", "sklearn-report"]
SEED = 20240229


@pytest.fixture(scope="module")
def inputs() -> Callable[[int, str], tuple[np.ndarray, np.ndarray]]:
    """(n, dtype) -> (y_true, y_pred), generated once per module."""
    cache: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}

    def get(n: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        if (n, dtype) not in cache:
            cache[(n, dtype)] = run.make_inputs(n, dtype, SEED)
        return cache[(n, dtype)]

    return get


def _float64_mse(t: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p.astype(np.float64) - t.astype(np.float64)) ** 2))


def _bench(benchmark: Any, key: str, n: int, dtype: str, inputs: Callable[..., Any]) -> None:
    t, p = inputs(n, dtype)
    cand = CANDIDATES[key]
    benchmark.group = f"{cand.group} n={run.fmt_n(n)} {dtype}"
    benchmark.extra_info.update(n=n, dtype=dtype, bytes_read=t.nbytes + p.nbytes, candidate=cand.name)
    value = run.as_mse(benchmark(cand.fn, t, p))
    # float32 reductions done in float32 (NumPy, sklearn) are off by ~1e-7 relative; l2loss is exact.
    assert value == pytest.approx(_float64_mse(t, p), rel=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("key", MSE_KEYS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [10**3, 10**6], ids=run.fmt_n)
def test_mean_squared_error(benchmark: Any, inputs: Callable[..., Any], n: int, dtype: str, key: str) -> None:
    _bench(benchmark, key, n, dtype, inputs)


@pytest.mark.parametrize("key", REPORT_KEYS)
def test_regression_report(benchmark: Any, inputs: Callable[..., Any], key: str) -> None:
    _bench(benchmark, key, 10**6, "float64", inputs)
