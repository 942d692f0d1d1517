"""The whole policy gradient of a logistic model (the perceptron) in closed form, fused over the run.

The generic adjoint (trainers.adjoint) asks the task for products one step at a time and
recomputes what the forward pass already knew. For l_n = BCE(sigmoid(z_n . theta), y_n) the
whole backward pass needs, per step, only p_t = sigmoid(Z theta_t) from the forward pass and
one product Z g_{t+1}:
    dJ/dgamma[t, n] = -eta_t (p_tn - y_n) (z_n . g_{t+1})
    g_t = grad L_dsr(theta_t) + g_{t+1} - eta_t Z^T (gamma_t p_t (1 - p_t) (Z g_{t+1}))
So the run costs four N x D matrix-vector products per step (two forward, two backward), and
everything that does not depend on the previous step (the evaluation curves, the desired
gradient at every theta_t, the products (p - y) * (Z g)) is done once, as matrix products over
all steps: 3.3x less time per policy gradient than the step-by-step closed form at the
paper's size (bench/perceptron_iteration.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainers.tasks.base import Split, Task


def logistic_policy_gradient(
    task: Task, inputs: torch.Tensor, targets: torch.Tensor, gamma: torch.Tensor, rates: list[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(dJ/dgamma (T, N), mean losses on (desired, holdout, test) at t = 0..T as (T + 1, 3)) for
    the logistic model with training inputs Z (N, D) and labels y (N,)."""
    steps = gamma.shape[0]
    rates = [float(r) for r in rates[:steps]]
    thetas, probs = _forward(task, inputs, targets, gamma, rates)
    work = torch.empty_like(targets)
    desired_grads = _mean_grads(task.desired, thetas)  # grad L_dsr(theta_t), (T + 1, D)
    along = torch.empty_like(gamma)  # z_n . g_{t+1}
    g_next = desired_grads[steps].clone()
    curvature = probs * (1 - probs) * gamma  # gamma_t p_t (1 - p_t), all steps at once
    for t in range(steps - 1, 0, -1):
        torch.mv(inputs, g_next, out=along[t])
        g_next.add_(desired_grads[t]).addmv_(inputs.T, torch.mul(curvature[t], along[t], out=work), alpha=-rates[t])
    torch.mv(inputs, g_next, out=along[0])
    rate = torch.tensor(rates, dtype=gamma.dtype, device=gamma.device)
    grad = along.mul_(probs.sub_(targets)).mul_(-rate[:, None])  # reuses both buffers
    return grad, _eval_curves(task, thetas)


def logistic_part_gradients(
    task: Task, inputs: torch.Tensor, targets: torch.Tensor, gamma: torch.Tensor, rates: list[float], parts: list[Split]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(dJ_s/dgamma for the area on each desired part s, (S, T, N); the curves as above) from one
    forward pass: the co-states of all parts go back together as the rows of one (S, D) matrix."""
    steps = gamma.shape[0]
    rates = [float(r) for r in rates[:steps]]
    thetas, probs = _forward(task, inputs, targets, gamma, rates)
    desired_grads = torch.stack([_mean_grads(part, thetas) for part in parts], dim=1)  # (T + 1, S, D)
    # co-states as rows, (S, D): (S, D) @ (D, N) runs 4x faster than the (N, D) @ (D, S) layout here
    along = torch.empty((steps, len(parts), inputs.shape[0]), dtype=gamma.dtype, device=gamma.device)
    g_next = desired_grads[steps].clone()
    curvature = probs * (1 - probs) * gamma
    for t in range(steps - 1, 0, -1):
        torch.mm(g_next, inputs.T, out=along[t])
        g_next.add_(desired_grads[t]).addmm_(curvature[t] * along[t], inputs, alpha=-rates[t])
    torch.mm(g_next, inputs.T, out=along[0])
    rate = torch.tensor(rates, dtype=gamma.dtype, device=gamma.device)
    grads = along.mul_(probs.sub_(targets).mul_(-rate[:, None])[:, None, :]).transpose(0, 1).contiguous()
    return grads, _eval_curves(task, thetas)


def _forward(
    task: Task, inputs: torch.Tensor, targets: torch.Tensor, gamma: torch.Tensor, rates: list[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """theta_0..theta_T (T + 1, D) and p_t = sigmoid(Z theta_t) (T, N) under the policy gamma."""
    steps = gamma.shape[0]
    thetas = torch.empty((steps + 1, task.theta0.numel()), dtype=gamma.dtype, device=gamma.device)
    probs = torch.empty_like(gamma)  # p_t, kept for the backward pass
    work = torch.empty_like(targets)
    thetas[0] = task.theta0
    # in-place and fused (addmv) operations: at this size each torch call costs about as much as
    # the arithmetic, so the loops make as few calls as they can
    for t in range(steps):
        torch.mv(inputs, thetas[t], out=work)
        torch.sigmoid(work, out=probs[t])
        torch.sub(probs[t], targets, out=work).mul_(gamma[t])
        torch.addmv(thetas[t], inputs.T, work, alpha=-rates[t], out=thetas[t + 1])
    return thetas, probs


def _mean_grads(split: Split, thetas: torch.Tensor) -> torch.Tensor:
    """grad of the split's mean loss at every theta_t, (T + 1, D), in two matrix products."""
    residual = torch.sigmoid(split.inputs @ thetas.T) - split.targets[:, None]  # (K, T + 1)
    return (split.inputs.T @ residual).T / max(len(split), 1)


def _eval_curves(task: Task, thetas: torch.Tensor) -> torch.Tensor:
    """Mean loss on (desired, holdout, test) at every theta_t (NaN for an empty split), (T + 1, 3)."""
    columns = []
    for split in (task.desired, task.holdout, task.test):
        if not len(split):
            columns.append(thetas.new_full((thetas.shape[0],), float("nan")))
            continue
        logits = split.inputs @ thetas.T  # (K, T + 1)
        targets = split.targets[:, None].expand_as(logits)
        columns.append(F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=0))
    return torch.stack(columns, dim=1)
