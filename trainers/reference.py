"""Slow, obviously correct references for tests and benchmarks (never used by runs)."""

from __future__ import annotations

import torch

from trainers.schedule import Rates, step_rates
from trainers.tasks.base import Task


def unrolled_policy_gradient(task: Task, gamma: torch.Tensor, eta: float | Rates) -> tuple[float, torch.Tensor]:
    """J and dJ/dgamma by autograd through the whole unrolled loop (memory O(T |theta|) graphs);
    eta: one rate or one per update."""
    rates = step_rates(eta, gamma.shape[0])
    gamma = gamma.detach().clone().requires_grad_(True)
    theta = task.theta0.clone()
    total = theta.new_zeros(())
    for t in range(gamma.shape[0]):
        losses = task.loss_fn(
            theta if theta.requires_grad else theta.requires_grad_(True), task.train.inputs, task.train.targets
        )
        (g,) = torch.autograd.grad((gamma[t] * losses).sum(), theta, create_graph=True)
        theta = theta - rates[t] * g
        total = total + task.mean_loss(theta, task.desired)
    (dj,) = torch.autograd.grad(total, gamma)
    return float(total.detach()), dj


def reference_style_policy_gradient(task: Task, gamma: torch.Tensor, eta: float) -> tuple[float, torch.Tensor]:
    """The reference code's way: keep every theta_t, materialise the N per-example gradients
    at every step (vmap of grad) to take their dot products with g_{t+1}."""
    from torch.func import grad, vmap

    def one(th: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return task.loss_fn(th, x[None], y[None])[0]

    per_example = vmap(grad(one), in_dims=(None, 0, 0))
    thetas = [task.theta0.clone()]
    for t in range(gamma.shape[0]):
        th = thetas[-1].detach().requires_grad_(True)
        (g,) = torch.autograd.grad((gamma[t] * task.loss_fn(th, task.train.inputs, task.train.targets)).sum(), th)
        thetas.append(thetas[-1] - eta * g)
    total = sum(float(task.mean_loss(th, task.desired)) for th in thetas[1:])
    dj = torch.empty_like(gamma)
    th = thetas[-1].detach().requires_grad_(True)
    (g_next,) = torch.autograd.grad(task.mean_loss(th, task.desired), th)
    for t in range(gamma.shape[0] - 1, -1, -1):
        grads = per_example(thetas[t], task.train.inputs, task.train.targets)  # (N, P)
        dj[t] = -eta * (grads @ g_next)
        if t >= 1:
            th = thetas[t].detach().requires_grad_(True)
            losses = task.loss_fn(th, task.train.inputs, task.train.targets)
            (gw,) = torch.autograd.grad((gamma[t] * losses).sum(), th, create_graph=True)
            (hvp,) = torch.autograd.grad(gw, th, grad_outputs=g_next)
            (gd,) = torch.autograd.grad(task.mean_loss(th, task.desired), th)
            g_next = gd + g_next - eta * hvp
    return total, dj


def qp_project_row(v: torch.Tensor) -> torch.Tensor:
    """Projection onto the simplex as one generic QP solve on the CPU (cvxpy), as the reference
    code does for every row. The first call also imports cvxpy and sets up its solver (measured
    with N = 4096 under load: 1.5 s, then about 0.2 s a call): time warm calls only, as
    bench/policy_search.py does."""
    import cvxpy as cp

    x = v.detach().cpu().double().numpy()
    w = cp.Variable(x.size)
    cp.Problem(cp.Minimize(cp.sum_squares(x - w)), [cp.sum(w) == 1, w >= 0]).solve()
    return torch.as_tensor(w.value, dtype=v.dtype, device=v.device)
