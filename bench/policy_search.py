"""Policy-search cost, side by side: ours against the reference code's way and plain autograd.

    python bench/policy_search.py [--quick]

1. One outer iteration (forward, checkpointed adjoint, projection) against one conventional
   run of the same T, perceptron at the paper's size (target <= 4x).
2. Peak memory as T grows (a small Transformer LM, each variant in a fresh process):
   ours (snapshots every sqrt(T) steps), the same adjoint keeping every theta_t, and autograd
   through the unrolled loop. Parameter vectors held and peak RSS above the task's baseline.
3. One outer iteration, ours against the reference style (every theta_t kept, N per-example
   gradients materialised by vmap at every step, one cvxpy QP projection per row: timed on
   a few rows and scaled to T) and against autograd through the unrolled loop
   (target >= 10x over the reference style).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from typing import Any

import torch

from trainers.adjoint import policy_gradient
from trainers.config import PerceptronConfig, TransformerConfig
from trainers.gd import train, uniform_policy
from trainers.reference import qp_project_row, reference_style_policy_gradient, unrolled_policy_gradient
from trainers.search import step_policy
from trainers.tasks.base import Task
from trainers.tasks.perceptron import build_perceptron
from trainers.tasks.transformer import build_transformer

CPU = torch.device("cpu")
LM = TransformerConfig(
    n_layers=2, d_model=64, n_heads=4, context=32, vocab_size=500, train_size=256, desired_size=64, test_size=64
)


def lm_task(train_size: int = LM.train_size) -> Task:
    cfg = TransformerConfig(**{**LM.__dict__, "train_size": train_size})
    return build_transformer(cfg, holdout=0.0, seed=0, device=CPU, dtype=torch.float32)


MEMORY_N = 8  # few sequences: the parameter vectors, not activations, dominate what T changes


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as fh:  # "5" resets VmHWM to the current RSS
        fh.write("5")


def perceptron_task() -> Task:
    return build_perceptron(PerceptronConfig(), holdout=0.25, seed=0, device=CPU, dtype=torch.float64)


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def outer_iteration(task: Task, steps: int, eta: float) -> tuple[float, int]:
    gamma = uniform_policy(task, steps)
    seconds, pg = timed(policy_gradient, task, gamma, eta)
    proj, _ = timed(step_policy, gamma, pg.grad, 0.5, "normalized")
    return seconds + proj, pg.snapshots_held


def memory_worker(variant: str, steps: int, queue: Any) -> None:
    torch.set_num_threads(1)
    task = lm_task(MEMORY_N)
    gamma = uniform_policy(task, steps)
    reset_peak_rss()
    base = rss_mb("VmRSS")
    held = 0
    start = time.perf_counter()
    if variant == "ours":
        held = policy_gradient(task, gamma, 0.1).snapshots_held
    elif variant == "keep every theta":
        held = policy_gradient(task, gamma, 0.1, checkpoint_every=1).snapshots_held
    else:
        unrolled_policy_gradient(task, gamma, 0.1)
        held = steps + 1  # every theta_t lives in the graph, with its activations
    seconds = time.perf_counter() - start
    queue.put((seconds, held, rss_mb("VmHWM") - base))


def in_fresh_process(variant: str, steps: int) -> tuple[float, int, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=memory_worker, args=(variant, steps, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller T everywhere")
    args = parser.parse_args()

    print("1. One outer iteration against one conventional run (perceptron, D 128, N 4096, float64, CPU)")
    task = perceptron_task()
    steps = 500 if args.quick else 2000
    train(task, 10, 0.1)
    conv, _ = timed(train, task, steps, 0.1)
    outer, held = outer_iteration(task, steps, 0.1)
    print(f"   T = {steps}: conventional run {conv:.2f} s, outer iteration {outer:.2f} s", end=" ")
    print(f"-> {outer / conv:.2f}x (target <= 4x)")
    print(f"   parameter vectors held: {held} (2 sqrt(T) = {2 * steps**0.5:.0f}; the reference code keeps {steps + 1})")

    n_params = int(lm_task().theta0.numel())
    print(f"\n2. Memory as T grows (Transformer LM, {n_params} parameters, N {MEMORY_N}, float32,", end=" ")
    print(f"{n_params * 4 / 2**20:.2f} MB per parameter vector, each run in a fresh process)")
    print(f"   {'T':>6} {'variant':<30}{'seconds':>9}{'theta held':>12}{'theta MB':>10}{'peak RSS +MB':>14}")
    for steps in (16, 64) if args.quick else (16, 64, 256, 1024):
        for variant in ("ours", "keep every theta", "autograd through the loop"):
            if variant.startswith("autograd") and steps > 64:
                print(f"   {steps:>6} {variant:<30}{'skipped: graph memory grows linearly (see above)':>35}")
                continue
            seconds, held, mb = in_fresh_process(variant, steps)
            theta_mb = held * n_params * 4 / 2**20
            print(f"   {steps:>6} {variant:<30}{seconds:>9.2f}{held:>12}{theta_mb:>10.1f}{mb:>14.1f}")

    print("\n3. One outer iteration: ours against the reference style and autograd through the loop")
    print(f"   {'task':<34}{'variant':<46}{'seconds':>9}{'ratio':>8}")
    cases = [("perceptron D 128, N 4096", perceptron_task(), 200 if args.quick else 2000)]
    cases.append((f"LM {n_params} params, N {LM.train_size}", lm_task(), 8 if args.quick else 32))
    for name, task, steps in cases:
        compare_outer_iteration(name, task, steps)
    print("   (target >= 10x over the reference style; QP time measured on 4 rows, scaled to T)")


def compare_outer_iteration(name: str, task: Task, steps: int) -> None:
    gamma = uniform_policy(task, steps)
    policy_gradient(task, gamma[:2], 0.1)  # warm-up
    ours_s, _ = timed(outer_iteration, task, steps, 0.1)
    ref_grad_s, (_, ref_grad) = timed(reference_style_policy_gradient, task, gamma, 0.1)
    rows = 4
    qp_s, _ = timed(lambda: [qp_project_row(gamma[t] - 1e-3 * ref_grad[t]) for t in range(rows)])
    ref_total = ref_grad_s + qp_s / rows * steps
    unrolled_s, _ = timed(unrolled_policy_gradient, task, gamma, 0.1)
    label = f"{name}, T {steps}"
    for variant, seconds in (
        ("ours: checkpointed adjoint + sort projection", ours_s),
        ("reference: per-example gradients (gradient only)", ref_grad_s),
        ("reference: + one cvxpy QP per row", ref_total),
        ("autograd through the unrolled loop (gradient only)", unrolled_s),
    ):
        print(f"   {label:<34}{variant:<46}{seconds:>9.2f}{seconds / ours_s:>7.1f}x")


if __name__ == "__main__":
    main()
