"""No temporaries of input size: float32/float64 inputs are read in place at any strides.

NumPy reports its buffer allocations to tracemalloc, so a hidden copy of a large input
shows up as a traced peak of the input's size.
"""

from __future__ import annotations

import tracemalloc

import l2loss
import numpy as np
import pytest

N = 2_000_000


def _peak_bytes(fn) -> int:
    fn()  # warm caches, imports, lazily built objects
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.standard_normal((N, 2))
    return {"y": y, "p": y + 0.5, "y32": y.astype(np.float32), "w": rng.random(N)}


LAYOUTS = {
    "f64 1-D": lambda a: (a["y"][:, 0], a["p"][:, 1]),
    "f32 vs f64": lambda a: (a["y32"][:, 0], a["p"][:, 0]),
    "strided": lambda a: (a["y"][::3, 1], a["p"][::3, 0]),
    "negative stride": lambda a: (a["y"][::-1, 0], a["p"][::-1, 1]),
    "2-D C": lambda a: (a["y"], a["p"]),
    "2-D F": lambda a: (np.asfortranarray(a["y"][: N // 4]), np.asfortranarray(a["p"][: N // 4])),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "call",
    [
        lambda y, p, w: l2loss.mean_squared_error(y, p),
        lambda y, p, w: l2loss.mean_squared_error(y, p, sample_weight=w[: len(y)], multioutput="raw_values"),
        lambda y, p, w: l2loss.regression_report(y, p, sample_weight=w[: len(y)]),
        lambda y, p, w: l2loss.r2_score(y, p),
    ],
    ids=["mse", "weighted-raw", "report", "r2"],
)
def test_no_input_sized_temporaries(arrays, layout: str, call) -> None:
    y, p = LAYOUTS[layout](arrays)
    w = arrays["w"]
    peak = _peak_bytes(lambda: call(y, p, w))
    assert peak < 64 * 1024, f"{layout}: traced peak {peak} bytes for an input of {y.nbytes} bytes"
