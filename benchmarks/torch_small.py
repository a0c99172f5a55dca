"""Small-batch overhead of l2loss.torch.mse_loss against torch.nn.functional.mse_loss.

Measures, side by side in one process, the median time of one training step's loss --
``loss = mse_loss(x, t); loss.backward()`` -- and of the forward alone without autograd,
for a few sizes (issue #15, item 4: 256 elements is the headline). Calls of the two
libraries alternate in rounds, so that machine noise hits both alike. Run:

    PYTHONPATH=python python benchmarks/torch_small.py [--repeats 20000] [--sizes 256 4096] [--threads 1]
        [--dtype float32 float64]

The "floor" column is a bare ``torch.autograd.Function`` (forward returns a new 0-d tensor,
backward hands back a precomputed gradient): what any Python-level autograd loss pays.

Not a test: timings are never asserted (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

import l2loss.torch as lt
import torch
import torch.nn.functional as F


def _step(fn: Callable[..., torch.Tensor], x: torch.Tensor, t: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        fn(x, t).backward()

    return run


def _forward(fn: Callable[..., torch.Tensor], x: torch.Tensor, t: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        fn(x, t)

    return run


def _median_us(pairs: dict[str, Callable[[], None]], repeats: int, rounds: int = 20) -> dict[str, float]:
    """Median per-call time in microseconds; the candidates alternate every round."""
    samples: dict[str, list[float]] = {name: [] for name in pairs}
    per_round = max(1, repeats // rounds)
    clock = time.perf_counter_ns
    for f in pairs.values():  # warm-up
        for _ in range(min(200, per_round)):
            f()
    for _ in range(rounds):
        for name, f in pairs.items():
            times = samples[name]
            for _ in range(per_round):
                start = clock()
                f()
                times.append(clock() - start)
    return {name: statistics.median(v) / 1000.0 for name, v in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 256, 4096, 65536, 1 << 20])
    parser.add_argument("--repeats", type=int, default=20000, help="timed calls per candidate and size")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (l2loss: its default)")
    parser.add_argument("--dtype", choices=["float32", "float64"], nargs="+", default=["float32", "float64"])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for name in args.dtype:
        _table(args, getattr(torch, name))


class _Floor(torch.autograd.Function):
    """A bare autograd.Function: a new 0-d output, a precomputed gradient handed back."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ctx.grad = torch.empty_like(x)
        return torch.scalar_tensor(0.0, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        return ctx.grad, None


def _floor(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return _Floor.apply(x, t)  # type: ignore[no-any-return]


def _table(args: argparse.Namespace, dtype: torch.dtype) -> None:
    print(f"torch {torch.__version__}, {dtype}, torch threads {args.threads}, median of "
          f"{args.repeats} calls each (alternating rounds)")
    print(f"{'n':>9} | {'fwd+bwd torch':>13} {'fwd+bwd l2loss':>14} {'ratio':>6} {'floor':>7} | "
          f"{'fwd torch':>9} {'fwd l2loss':>10} {'ratio':>6}")
    g = torch.Generator().manual_seed(0)
    for n in args.sizes:
        x = torch.randn(n, generator=g, dtype=dtype, requires_grad=True)
        t = torch.randn(n, generator=g, dtype=dtype)
        reps = max(50, args.repeats if n <= 65536 else args.repeats // 100)
        step = _median_us({"torch": _step(F.mse_loss, x, t), "l2loss": _step(lt.mse_loss, x, t),
                           "floor": _step(_floor, x, t)}, reps)
        xd = x.detach()
        fwd = _median_us({"torch": _forward(F.mse_loss, xd, t), "l2loss": _forward(lt.mse_loss, xd, t)}, reps)
        print(f"{n:>9} | {step['torch']:>11.1f}us {step['l2loss']:>12.1f}us "
              f"{step['l2loss'] / step['torch']:>6.2f} {step['floor']:>5.1f}us | "
              f"{fwd['torch']:>7.1f}us {fwd['l2loss']:>8.1f}us {fwd['l2loss'] / fwd['torch']:>6.2f}")


if __name__ == "__main__":
    main()
