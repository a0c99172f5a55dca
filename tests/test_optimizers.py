"""The training story: five optimizers driven by ridge_loss_and_grad reach the closed form.

Runs examples/ridge_optimizers.py's own code on n = 10^6, d = 32 (a few seconds).
Tolerances on the relative parameter error ||c - c*|| / ||c*||:
- full batch (GD, momentum): 1e-8. With standard-normal X the curvature X^T W X / W is
  within ~2% of the identity (condition number ~1.02), so these converge linearly to
  rounding level within 60 steps (measured: 1e-14 and 8e-10).
- minibatches of 2^15 rows (SGD, RMSprop, Adam): 5e-3. A batch's own minimiser is off by
  about sigma * sqrt(d / B) / ||c*|| = 0.5 * sqrt(32 / 32768) / 5.7 = 2.7e-3 relative;
  decaying step sizes average over many batches and land at or below that noise scale
  (measured: 7e-4, 3e-3, 1e-3); 5e-3 leaves a margin of ~2x over the worst.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import ridge_optimizers as ro  # noqa: E402

TOLERANCE = {"gd": 1e-8, "momentum": 1e-8, "sgd": 5e-3, "rmsprop": 5e-3, "adam": 5e-3}


@pytest.fixture(scope="module")
def problem():
    X, y, w = ro.make_problem(1_000_000, 32)
    return X, y, w, ro.closed_form(X, y, w, alpha=0.1)


@pytest.mark.parametrize("name", list(ro.SCHEDULE))
def test_optimizer_reaches_closed_form(problem, name: str) -> None:
    X, y, w, best = problem
    params, history = ro.fit(name, X, y, w, alpha=0.1, log_every=10**9)  # log first and last only
    rel = np.linalg.norm(params - best) / np.linalg.norm(best)
    assert rel < TOLERANCE[name], f"{name}: relative error {rel:.2e}"
    assert history[-1][1] < history[0][1]  # the full objective went down
