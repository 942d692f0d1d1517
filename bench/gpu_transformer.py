"""The paper's smallest Table 2 setting of the Transformer LM on one GPU (run by gpu_transformer.sh).

T 1000 steps of full-batch GD on N 4096 sequences, the paper's model (2 layers, d 128, 8 heads,
context 64, vocabulary 5000, ~1.68M parameters). In order, within --budget seconds:
  1. how exact the policy gradient stays at the chosen precision: dJ/dgamma of a 20-step run
     against its float32 value (bf16 that breaks it leaves the adjoint in float32, and says so);
  2. a conventional run: steps/s, TFLOP/s (6 x parameters x target tokens a step: the gradient's
     forward and backward; the evaluation passes and attention scores not counted), peak memory;
  3. one or two outer iterations of the policy search (two where the estimate fits the budget):
     each an adjoint pass, then a step of gamma; the last policy is trained forward only;
  4. the policy kept by the held-out area, its measured AR at T and CR against conventional.
Precisions: fp32; tf32 (default: float32 tensors, TF32 matrix products); bf16 (the forward pass
under bf16 autocast, losses and parameters in float32).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from typing import TypeVar

import numpy as np
import torch

import fitting
from trainers.adjoint import policy_gradient
from trainers.config import RunSpec, SearchConfig, TransformerConfig
from trainers.gd import train, uniform_policy
from trainers.runner import build_task, instability_warning
from trainers.search import outer_lr, step_policy
from trainers.tasks.base import Task

PRECISIONS = ("fp32", "tf32", "bf16")
CHECK_STEPS = 20  # the exactness check's run: short, so it costs seconds
Result = TypeVar("Result")


@contextlib.contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """TF32 matrix products for tf32, full float32 otherwise (bf16 autocast sets its own)."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def at_precision(task: Task, precision: str) -> Task:
    """The task with its forward pass under bf16 autocast (losses returned in float32) for bf16."""
    if precision != "bf16":
        return task
    base = task.loss_fn

    def loss_fn(theta: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return base(theta, inputs, targets).float()

    return replace(task, loss_fn=loss_fn)


def timed(fn: Callable[[], Result]) -> tuple[Result, float]:
    torch.cuda.synchronize()
    tick = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return out, time.perf_counter() - tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for the whole benchmark (default 450)")
    parser.add_argument("--steps", type=int, default=1000, help="T (Table 2's smallest: 1000)")
    parser.add_argument("--train-size", type=int, default=4096, help="N (Table 2's smallest: 4096)")
    parser.add_argument("--outer-iters", type=int, default=2, help="at most this many outer iterations (1 or 2)")
    parser.add_argument("--outer-lr", type=float, default=1.0, help="the normalized optimiser's step (no warm-up)")
    parser.add_argument("--precision", choices=PRECISIONS, default="tf32")
    parser.add_argument("--tolerance", type=float, default=1e-2, help="largest relative error of dJ/dgamma accepted")
    parser.add_argument("--corpus", default=None, help="a .txt/.jsonl file or builtin:NAME (default: stories)")
    parser.add_argument("--micro-batch", type=int, default=4096)
    args = parser.parse_args()
    started = time.perf_counter()
    if not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device; this benchmark runs on a GPU machine (bench/gpu_transformer.sh)")
    lm = TransformerConfig(train_size=args.train_size, corpus=args.corpus, micro_batch=args.micro_batch)
    spec = RunSpec(task="transformer_lm", steps=args.steps, device="cuda", dtype="float32", transformer=lm)
    spec = replace(spec, search=SearchConfig(outer_iters=1)).validate()  # a held-out share of the desired set
    base = build_task(spec, torch.device("cuda"))
    fast = at_precision(base, args.precision)
    n_params = base.theta0.numel()
    tokens = int(base.train.targets[:, 1:].sum())  # the targets that count: not padding
    print(f"{torch.cuda.get_device_name()}: {n_params} parameters, vocabulary {base.label_space}, N {base.n_train}, "
          f"T {spec.steps}, eta {spec.eta}, {tokens} target tokens a step, precision {args.precision}")  # fmt: skip

    # 1. exactness of the policy gradient at this precision, against float32
    check = uniform_policy(base, CHECK_STEPS)
    with matmul_precision("fp32"):
        exact = policy_gradient(base, check, spec.eta).grad
    with matmul_precision(args.precision):
        quick, check_seconds = timed(lambda: policy_gradient(fast, check, spec.eta).grad)
    error = float((quick - exact).norm() / exact.norm())
    adjoint_precision = args.precision if error <= args.tolerance else "fp32"
    print(f"dJ/dgamma over {CHECK_STEPS} steps at {args.precision} against float32: relative error {error:.2e}; "
          f"the adjoint runs at {adjoint_precision}")  # fmt: skip
    adjoint_task = fast if adjoint_precision == args.precision else base

    # 2. a conventional run
    torch.cuda.reset_peak_memory_stats()
    with matmul_precision(args.precision):
        conv, run_seconds = timed(lambda: train(fast, spec.steps, spec.eta))
    per_step = run_seconds / spec.steps
    peak = torch.cuda.max_memory_allocated() / 2**30
    print(f"conventional GD: {1 / per_step:.2f} steps/s, {6 * n_params * tokens / per_step / 1e12:.1f} TFLOP/s "
          f"(6 P tokens), peak {peak:.2f} GiB, {run_seconds:.1f} s")  # fmt: skip
    warning = instability_warning(conv.train, spec.eta)
    if warning:
        print(f"warning: {warning}")

    # 3. outer iterations, as many (1 or 2) as the estimate lets fit
    # the adjoint pass scales with T; 1.5x for the segments recomputed on the way back, which a
    # 20-step run barely has (measured on the CPU: the estimate from 20 steps was 0.45-0.6 of the pass)
    pass_estimate = 1.5 * check_seconds / CHECK_STEPS * spec.steps
    left = args.budget - (time.perf_counter() - started)
    iters = 1
    while iters < min(args.outer_iters, 2) and (iters + 1) * pass_estimate + run_seconds < left:
        iters += 1
    print(f"one adjoint pass estimated at {pass_estimate:.0f} s: {iters} outer iteration(s) in the {left:.0f} s left")
    cfg = SearchConfig(outer_iters=iters, outer_lr=args.outer_lr, optimizer="normalized", warmup=0)
    gamma = uniform_policy(base, spec.steps)
    curves = []  # each policy's (held-out, test) loss at t = 0..T
    torch.cuda.reset_peak_memory_stats()
    for k in range(iters):
        with matmul_precision(adjoint_precision):
            pg, seconds = timed(partial(policy_gradient, adjoint_task, gamma, spec.eta))
        curves.append((pg.holdout.cpu().numpy(), pg.test.cpu().numpy()))
        gamma = step_policy(gamma, pg.grad, outer_lr(cfg, k), cfg.optimizer)
        print(f"outer {k}: adjoint pass {seconds:.1f} s, held-out area {curves[-1][0][1:].sum():.1f}, "
              f"peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")  # fmt: skip
    with matmul_precision(args.precision):
        last, _ = timed(lambda: train(fast, spec.steps, spec.eta, gamma))
    curves.append((last.holdout, last.test))

    # 4. the policy the held-out area keeps, against conventional on the test set
    best = int(np.argmin([holdout[1:].sum() for holdout, _ in curves]))
    x = np.arange(1, spec.steps + 1, dtype=float)
    test = curves[best][1][1:]
    ar = fitting.acceleration_ratio_measured(x, conv.test[1:], x, test, float(spec.steps))
    result = {
        "steps": spec.steps,
        "train_size": base.n_train,
        "parameters": n_params,
        "precision": args.precision,
        "adjoint_precision": adjoint_precision,
        "adjoint_relative_error": error,
        "steps_per_second": 1 / per_step,
        "tflops": 6 * n_params * tokens / per_step / 1e12,
        "peak_gib": peak,
        "outer_iters": iters,
        "kept_iteration": best,
        "ar_measured_test": format(ar),
        "cr_conventional": fitting.compression_ratio(conv.test[1:], base.label_space),
        "cr_kept": fitting.compression_ratio(test, base.label_space),
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps(result, indent=2))
    if time.perf_counter() - started > args.budget:
        print(f"over the budget of {args.budget:.0f} s")


if __name__ == "__main__":
    main()
