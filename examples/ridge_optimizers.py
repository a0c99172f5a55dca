"""Fit ridge regression with five optimizers, each driven by l2loss.ridge_loss_and_grad.

Full-batch gradient descent, mini-batch SGD, momentum, RMSprop and Adam minimise

    loss(c, b) = sum(w * (X @ c + b - y)**2) / sum(w) + alpha * ||c||^2

on generated data (n = 10^6, d = 32 by default) and are compared with the closed-form
solution of (X^T W X + alpha * sum(w) * I) c = X^T W y (the intercept unpenalised).
Each step's loss and gradient come from one fused pass over (a batch of) X.

    python examples/ridge_optimizers.py [--n 1000000] [--d 32] [--plot ridge.png]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np

import l2loss


def make_problem(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = rng.standard_normal(d)
    y = X @ coef + 1.5 + 0.5 * rng.standard_normal(n)
    w = rng.uniform(0.5, 1.5, n)
    return X, y, w


def closed_form(X: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float) -> np.ndarray:
    """Minimiser [coef..., intercept] of the weighted ridge objective (intercept unpenalised)."""
    Xa = np.hstack([X, np.ones((len(X), 1))])
    A = Xa.T @ (w[:, None] * Xa)
    reg = alpha * w.sum() * np.eye(Xa.shape[1])
    reg[-1, -1] = 0.0
    return np.linalg.solve(A + reg, Xa.T @ (w * y))


@dataclass
class Optimizer:
    """Plain first-order update rules on the parameter vector [coef..., intercept]."""

    kind: str
    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    decay: float = 0.0  # lr_t = lr / (1 + decay * t)
    t: int = 0
    m: np.ndarray | None = field(default=None, repr=False)
    v: np.ndarray | None = field(default=None, repr=False)

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        self.t += 1
        lr = self.lr / (1.0 + self.decay * self.t)
        if self.m is None:
            self.m, self.v = np.zeros_like(params), np.zeros_like(params)
        if self.kind in ("gd", "sgd"):
            params -= lr * grad
        elif self.kind == "momentum":
            self.m = self.beta1 * self.m + grad
            params -= lr * self.m
        elif self.kind == "rmsprop":
            self.v = self.beta2 * self.v + (1 - self.beta2) * grad * grad
            params -= lr * grad / (np.sqrt(self.v) + self.eps)
        elif self.kind == "adam":
            self.m = self.beta1 * self.m + (1 - self.beta1) * grad
            self.v = self.beta2 * self.v + (1 - self.beta2) * grad * grad
            m_hat = self.m / (1 - self.beta1**self.t)
            v_hat = self.v / (1 - self.beta2**self.t)
            params -= lr * m_hat / (np.sqrt(v_hat) + self.eps)
        else:
            raise ValueError(f"unknown optimizer {self.kind!r}")


# (optimizer, batch rows or None for full batch, steps). Full-batch methods get a step
# size from the curvature (X^T W X / W is close to I for standard-normal X); the
# stochastic ones decay their step size so that minibatch noise averages out.
SCHEDULE = {
    "gd": (lambda: Optimizer("gd", lr=0.45), None, 60),
    "momentum": (lambda: Optimizer("momentum", lr=0.2, beta1=0.5), None, 60),
    "sgd": (lambda: Optimizer("sgd", lr=0.45, decay=0.05), 1 << 15, 300),
    "rmsprop": (lambda: Optimizer("rmsprop", lr=0.02, beta2=0.999, decay=0.2), 1 << 15, 400),
    "adam": (lambda: Optimizer("adam", lr=0.1, decay=0.05), 1 << 15, 600),
}


def fit(name: str, X: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float, seed: int = 0,
        log_every: int = 10) -> tuple[np.ndarray, list[tuple[int, float]]]:
    """Run one optimizer; returns the parameters and (step, full-data loss) every log_every steps."""
    make, batch, steps = SCHEDULE[name]
    opt = make()
    rng = np.random.default_rng(seed)
    params = np.zeros(X.shape[1] + 1)
    history: list[tuple[int, float]] = []
    n = len(X)
    for step in range(steps):
        if step % log_every == 0 or step == steps - 1:
            full = l2loss.ridge_loss_and_grad(X, y, params[:-1], alpha=alpha, intercept=params[-1], sample_weight=w)
            history.append((step, full[0]))
        if batch is None:
            Xb, yb, wb = X, y, w
        else:
            start = int(rng.integers(0, n - batch))  # contiguous batches: no copy of X
            Xb, yb, wb = X[start : start + batch], y[start : start + batch], w[start : start + batch]
        _, g, gb = l2loss.ridge_loss_and_grad(Xb, yb, params[:-1], alpha=alpha, intercept=params[-1],
                                              sample_weight=wb)
        opt.step(params, np.append(g, gb))
    return params, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--plot", help="write loss-vs-step curves to this PNG (needs matplotlib)")
    args = parser.parse_args()
    X, y, w = make_problem(args.n, args.d)
    best = closed_form(X, y, w, args.alpha)
    best_loss = l2loss.ridge_loss_and_grad(X, y, best[:-1], alpha=args.alpha, intercept=best[-1], sample_weight=w)[0]
    print(f"n={args.n:,} d={args.d} alpha={args.alpha}: closed-form loss {best_loss:.12g}")
    curves = {}
    for name in SCHEDULE:
        t0 = time.perf_counter()
        params, history = fit(name, X, y, w, args.alpha)
        rel = np.linalg.norm(params - best) / np.linalg.norm(best)
        curves[name] = history
        print(f"  {name:<9} {SCHEDULE[name][2]:4d} steps in {time.perf_counter() - t0:6.2f} s: "
              f"relative parameter error {rel:.2e}, loss - optimum {history[-1][1] - best_loss:.2e}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, history in curves.items():
            steps, losses = zip(*history)
            ax.semilogy(steps, np.maximum(np.asarray(losses) - best_loss, 1e-16), label=name)
        ax.set_xlabel("step")
        ax.set_ylabel("loss - optimal loss")
        ax.set_title(f"ridge regression, n={args.n:,}, d={args.d}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"  plot written to {args.plot}")


if __name__ == "__main__":
    main()
