"""How close a searched perceptron policy is to the Learning Law's structure, step by step.

    python bench/policy_structure.py [--seed 0] [--outer-iters 40] [--desired-size 512]

Runs the paper preset's search (with the changes given), then trains under the kept policy and,
every --every steps, measures:
  - the zero-weight share among the examples with CT <= 0 (the paper's Fig. 8), on the test set's
    gradient and on the desired set's, and among those with CT > 0;
  - the policy's weight on CT <= 0, on the test and the desired gradient (the Law's 0; the uniform
    policy's is the share of CT <= 0 examples, about 0.4);
  - how fast the step lowers the test loss: sum_n gamma CT over the uniform policy's mean CT at the
    same theta (1: as fast as a uniform step from there; 0: the step does not lower the test loss);
  - the median weight (x N) of the CT <= 0 examples that keep weight;
  - the search's own view: the correlation of -dJ/dgamma with the desired-set CT, the share of
    dropped examples whose dJ/dgamma is better than the median kept one's, and the kept examples'
    10-90 % spread of dJ/dgamma over the whole row's (0 where every kept example has the same
    dJ/dgamma, the optimum's condition).
docs/reproduction.md quotes its figures. One seed at 40 iterations takes about a minute on one core.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch

import fitting
from trainers.adjoint import default_checkpoint_every, policy_gradient
from trainers.diagnostics import zero_weight_threshold
from trainers.gd import train
from trainers.presets import preset_spec
from trainers.runner import build_task
from trainers.schedule import lr_schedule
from trainers.search import search_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--outer-iters", type=int, default=None, help="default: the preset's")
    parser.add_argument("--desired-size", type=int, default=None, help="default: the preset's (512)")
    parser.add_argument("--every", type=int, default=200, help="measure every this many steps")
    args = parser.parse_args()

    spec = preset_spec("paper", seed=args.seed)
    if args.outer_iters is not None:
        spec = replace(spec, search=replace(spec.search, outer_iters=args.outer_iters))
    if args.desired_size is not None:
        spec = replace(spec, perceptron=replace(spec.perceptron, desired_size=args.desired_size))
    torch.set_num_threads(1)
    torch.manual_seed(spec.seed)
    task = build_task(spec, torch.device("cpu"))
    rates = lr_schedule(spec.lr_schedule, spec.eta, spec.steps)
    every = default_checkpoint_every(task, spec.steps)
    gamma = search_policy(task, spec.steps, rates, spec.search, checkpoint_every=every).gamma
    benefit = -policy_gradient(task, gamma, rates).grad.double().numpy()  # what the search moves weight toward
    weights = gamma.double().numpy()
    zero_tol = zero_weight_threshold(weights.shape[1])

    rows: list[tuple[int, np.ndarray, np.ndarray]] = []

    def measure(t: int, theta: torch.Tensor, losses: torch.Tensor) -> None:
        if t % args.every == 0:
            g_test = task.gradients.mean_grad(theta, task.test)
            g_desired = task.gradients.mean_grad(theta, task.desired)
            ct_test = task.gradients.directional(theta, g_test).double().numpy()
            rows.append((t, ct_test, task.gradients.directional(theta, g_desired).double().numpy()))

    train(task, spec.steps, rates, gamma, on_step=measure)
    size = spec.perceptron.desired_size
    print(f"seed {spec.seed}, {spec.search.outer_iters} outer iterations, {size} desired examples")
    print("     t | zero among CT<=0: test  desired | among CT>0 | weight on CT<=0: test desired |"
          " test speed | kept CT<=0 median gamma*N | corr(-dJ/dgamma, CT)  dropped better  kept spread")  # fmt: skip
    for t, ct, ct_desired in rows:
        zero = weights[t] <= zero_tol
        kept = benefit[t][~zero]
        # the shares as the product's diagnostics compute them, on this one step
        on_test = fitting.sim_statistics(ct[None], weights[t][None], zero_tol=zero_tol)
        on_desired = fitting.sim_statistics(ct_desired[None], weights[t][None], zero_tol=zero_tol)
        held = weights[t][(ct <= 0) & ~zero] * weights.shape[1]
        row_spread = np.subtract(*np.percentile(benefit[t], [90, 10]))
        print(
            f"{t:6d} | {on_test.zero_weight_fraction:21.1%} {on_desired.zero_weight_fraction:8.1%} |"
            f" {on_test.zero_weight_fraction_positive:10.1%} |"
            f" {on_test.nonpositive_weight:20.1%} {on_desired.nonpositive_weight:7.1%} |"
            f" {on_test.ct_bar[0] / ct.mean():10.2f} |"
            f" {np.median(held) if held.size else float('nan'):26.3g} |"
            f" {np.corrcoef(benefit[t], ct_desired)[0, 1]:20.2f} {np.mean(benefit[t][zero] > np.median(kept)):15.1%}"
            f" {np.subtract(*np.percentile(kept, [90, 10])) / row_spread:12.2f}"
        )


if __name__ == "__main__":
    main()
