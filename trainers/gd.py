"""Full-batch gradient descent under a learning policy (Gu et al. 2024, §2; docs/paper.md).

theta_{t+1} = theta_t - eta * grad sum_n gamma[t, n] l(x_n, theta_t), the gradient from the task
(Task.gradients: its closed form, or autograd by micro-batches that add up the weighted sum).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from trainers.schedule import Rates, step_rates
from trainers.tasks.base import Task


def uniform_policy(task: Task, steps: int) -> torch.Tensor:
    """Conventional learning: gamma[t, n] = 1/N, shape (T, N)."""
    n = task.n_train
    return torch.full((steps, n), 1.0 / n, device=task.theta0.device, dtype=task.theta0.dtype)


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Loss curves at t = 0..T (index t), in nats; `train` is the uniform mean over examples."""

    desired: np.ndarray
    holdout: np.ndarray
    test: np.ndarray
    train: np.ndarray
    theta_final: torch.Tensor

    @property
    def steps(self) -> np.ndarray:
        return np.arange(len(self.test))


StepHook = Callable[[int, torch.Tensor, torch.Tensor], None]  # (t, theta_t, per-example losses at theta_t)


def train(
    task: Task, steps: int, eta: float | Rates, gamma: torch.Tensor | None = None, *, on_step: StepHook | None = None
) -> Trajectory:
    """Run T steps of GD under gamma (None: uniform) from task.theta0, recording every loss. eta:
    one rate, or the rate of each update (a schedule, trainers/schedule.py).

    on_step, when given, sees theta_t before each update (diagnostics measure there)."""
    gamma = uniform_policy(task, steps) if gamma is None else gamma
    rates = step_rates(eta, steps)
    theta = task.theta0.clone()
    curves = torch.empty((steps + 1, 4), dtype=theta.dtype, device=theta.device)  # one copy to host at the end
    for t in range(steps + 1):
        with torch.no_grad():
            curves[t, :3] = task.eval_losses(theta)
        if t == steps:
            with torch.no_grad():
                curves[t, 3] = task.mean_loss(theta, task.train)
            break
        grad, losses = task.gradients.weighted_grad(theta, gamma[t])
        curves[t, 3] = losses.mean()
        if on_step is not None:
            on_step(t, theta, losses)
        theta = theta - rates[t] * grad
    host = curves.cpu().numpy().T
    return Trajectory(host[0], host[1], host[2], host[3], theta)
