"""The paper-sized Transformer LM on a GPU, within a wall-clock budget (see gpu_transformer.sh).

Prints steps/s of conventional GD, achieved TFLOP/s (6 x parameters x tokens per step, a
forward and a backward pass), peak GPU memory, the time of one outer iteration of the policy
search, and the AR/CR reached by as many outer iterations as fit in the budget.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace

import torch

import fitting
from trainers.adjoint import policy_gradient
from trainers.config import RunSpec, SearchConfig, TransformerConfig
from trainers.gd import train, uniform_policy
from trainers.runner import build_task
from trainers.search import search_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for the whole script")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--train-size", type=int, default=16384)
    parser.add_argument("--corpus", default=None, help="a local .txt/.jsonl corpus (default: generated stories)")
    parser.add_argument("--micro-batch", type=int, default=4096)
    args = parser.parse_args()
    started = time.perf_counter()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine")
    lm = TransformerConfig(train_size=args.train_size, corpus=args.corpus, micro_batch=args.micro_batch)
    spec = RunSpec(task="transformer_lm", steps=args.steps, device="cuda", transformer=lm).validate()
    task = build_task(replace(spec, search=SearchConfig(outer_iters=1)), torch.device("cuda"))
    n_params = task.theta0.numel()
    tokens = int(task.train.targets[:, 1:].sum())
    print(f"model {n_params} parameters, vocab {task.label_space}, N {task.n_train}, {tokens} target tokens per step")

    torch.cuda.reset_peak_memory_stats()
    probe = 50
    train(task, 5, spec.eta)
    torch.cuda.synchronize()
    tick = time.perf_counter()
    train(task, probe, spec.eta)
    torch.cuda.synchronize()
    per_step = (time.perf_counter() - tick) / probe
    tflops = 6 * n_params * tokens / per_step / 1e12
    print(f"conventional GD: {1 / per_step:.2f} steps/s, {tflops:.1f} TFLOP/s (6 P tokens), "
          f"peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")  # fmt: skip

    left = args.budget - (time.perf_counter() - started)
    # choose T so a conventional run and ~3 outer iterations (each ~4 runs) fit in what is left
    steps = max(20, min(args.steps, int(left / per_step / 16)))
    torch.cuda.reset_peak_memory_stats()
    tick = time.perf_counter()
    policy_gradient(task, uniform_policy(task, steps), spec.eta)
    torch.cuda.synchronize()
    outer = time.perf_counter() - tick
    print(f"T = {steps}: one outer iteration {outer:.1f} s = {outer / (per_step * steps):.2f} conventional runs, "
          f"peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")  # fmt: skip

    left = args.budget - (time.perf_counter() - started)
    iters = max(1, math.floor((left - 2 * per_step * steps) / outer) - 1)
    search = search_policy(task, steps, spec.eta, SearchConfig(outer_iters=iters, outer_lr=1.0))
    conv = train(task, steps, spec.eta)
    best = train(task, steps, spec.eta, search.gamma)
    x = conv.steps[1:].astype(float)
    result = {
        "steps": steps,
        "outer_iters": iters,
        "best_iteration": search.best_iteration,
        "ar_measured_test": format(fitting.acceleration_ratio_measured(x, conv.test[1:], x, best.test[1:], steps)),
        "cr_conventional": fitting.compression_ratio(conv.test[1:], task.label_space),
        "cr_optimal": fitting.compression_ratio(best.test[1:], task.label_space),
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
