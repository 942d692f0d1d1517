"""One outer iteration of the paper perceptron's policy search, before and after, side by side.

    python bench/perceptron_iteration.py [--repeats 3] [--steps 2000] [--whole]

1. The policy gradient: the step-by-step closed form (trainers.adjoint, mode "closed": products
   asked of the task one step at a time, the forward pass recomputed on the way back) against the
   fused logistic adjoint (mode "fused", trainers/logistic_adjoint.py).
2. The projection of the T x N step onto the simplex: a sort of every row (the previous
   algorithm, kept here as the baseline) against the active-set iteration (trainers/simplex.py).
3. The whole iteration both ways, and what 500 iterations x 3 seeds cost on 2 cores from it.
4. With --whole: the reproduction itself (the paper preset, seeds 0, 1 and 2 at once), its wall
   time against the slow CI step's 15 minutes.

One torch thread, the paper's sizes (T 2000, N 4096, D 128, float32); means of interleaved runs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

import torch

from trainers.adjoint import policy_gradient
from trainers.gd import uniform_policy
from trainers.presets import PAPER, PAPER_SEEDS, preset_spec
from trainers.reproduction import run_seeds
from trainers.runner import build_task
from trainers.simplex import project_to_simplex


def sorted_projection(v: torch.Tensor) -> torch.Tensor:
    """The sort-based Euclidean projection (Duchi et al. 2008), rows in float64: the baseline."""
    rows = v.to(torch.float64)
    shifted = rows - rows.amax(dim=-1, keepdim=True)
    u, _ = torch.sort(shifted, dim=-1, descending=True)
    css = torch.cumsum(u, dim=-1).sub_(1.0)
    k = torch.arange(1, v.shape[-1] + 1, dtype=rows.dtype)
    rho = (u.mul_(k) > css).sum(dim=-1, keepdim=True).clamp_(min=1)
    tau = torch.gather(css, -1, rho - 1) / rho.to(rows.dtype)
    return (shifted - tau).clamp_(min=0.0).to(v.dtype)


def elapsed(fn: Callable[[], object]) -> float:
    tick = time.perf_counter()
    fn()
    return time.perf_counter() - tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--whole", action="store_true", help="also time the 3-seed reproduction")
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = preset_spec("paper", steps=args.steps, device="cpu")
    task = build_task(replace(spec, search=replace(spec.search, holdout=0.0)), torch.device("cpu"))
    gamma = uniform_policy(task, args.steps)
    grad = policy_gradient(task, gamma, spec.eta).grad
    # a step of the size the preset's search takes, so the projection has real work to do
    centered = grad - grad.mean(dim=1, keepdim=True)
    step = gamma - (spec.search.outer_lr / task.n_train) * centered / centered.std(dim=1, keepdim=True)

    closed = fused = sort = active = 0.0
    for _ in range(args.repeats):  # interleaved, so a busy spell hits both sides
        closed += elapsed(lambda: policy_gradient(task, gamma, spec.eta, mode="closed"))
        fused += elapsed(lambda: policy_gradient(task, gamma, spec.eta, mode="fused"))
        sort += elapsed(lambda: sorted_projection(step))
        active += elapsed(lambda: project_to_simplex(step))
    closed, fused, sort, active = (x / args.repeats for x in (closed, fused, sort, active))
    agree = (sorted_projection(step) - project_to_simplex(step)).abs().max().item()
    print(f"paper perceptron, T {args.steps}, N {task.n_train}, D {task.theta0.numel()}, float32, one thread")
    print(f"{'':<34}{'before':>10}{'after':>10}{'ratio':>8}")
    print(f"{'policy gradient (s)':<34}{closed:>10.3f}{fused:>10.3f}{closed / fused:>7.1f}x")
    print(f"{'projection onto the simplex (s)':<34}{sort:>10.3f}{active:>10.3f}{sort / active:>7.1f}x")
    before, after = closed + sort, fused + active
    print(f"{'outer iteration (s)':<34}{before:>10.3f}{after:>10.3f}{before / after:>7.1f}x")
    print(f"projections agree to {agree:.1e} (largest entry difference)")
    # 3 seeds at once on 2 cores: each seed gets 2/3 of a core
    for iters in (200, 500):
        print(
            f"{iters} iterations x 3 seeds on 2 cores: {iters * 1.5 * before / 60:.1f} min before, "
            f"{iters * 1.5 * after / 60:.1f} min after (search only)"
        )
    if args.whole:
        tick = time.perf_counter()
        runs = run_seeds(PAPER, list(PAPER_SEEDS))
        wall = time.perf_counter() - tick
        seconds = ", ".join(f"seed {r.seed} {r.outcome.seconds:.0f} s" for r in runs)
        print(f"the reproduction, 3 seeds at once: {wall:.0f} s wall ({seconds}); the slow CI step allows 900 s")


if __name__ == "__main__":
    main()
