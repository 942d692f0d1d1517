"""Slow, obviously correct references for tests and benchmarks (never used by runs)."""

from __future__ import annotations

import torch

from trainers.tasks.base import Task


def unrolled_policy_gradient(task: Task, gamma: torch.Tensor, eta: float) -> tuple[float, torch.Tensor]:
    """J and dJ/dgamma by autograd through the whole unrolled loop (memory O(T |theta|) graphs)."""
    gamma = gamma.detach().clone().requires_grad_(True)
    theta = task.theta0.clone()
    total = theta.new_zeros(())
    for t in range(gamma.shape[0]):
        losses = task.loss_fn(
            theta if theta.requires_grad else theta.requires_grad_(True), task.train.inputs, task.train.targets
        )
        (g,) = torch.autograd.grad((gamma[t] * losses).sum(), theta, create_graph=True)
        theta = theta - eta * g
        total = total + task.mean_loss(theta, task.desired)
    (dj,) = torch.autograd.grad(total, gamma)
    return float(total.detach()), dj
