"""dJ/dgamma by the discrete adjoint of T steps of GD (Gu et al. 2024, §4; docs/paper.md), exact and lean.

J(gamma) = sum_{t=1..T} L_dsr(theta_t). Backwards from g_T = grad L_dsr(theta_T):
    dJ/dgamma[t, n] = -eta * grad l_n(theta_t) . g_{t+1}
    g_t = grad L_dsr(theta_t) + g_{t+1} - eta * H_t g_{t+1}
where H_t is the Hessian of sum_n gamma[t, n] l_n. Both the N dot products and H_t g_{t+1}
come from one product with g_{t+1}, never from N per-example gradients. Three equal ways:
  - "forward": a forward-mode JVP (torch.func, forward-over-reverse) along g_{t+1} of
    theta -> (grad of the weighted loss, per-example losses);
  - "reverse": the weighted gradient G = J_l^T gamma_t is linear in gamma_t, so ONE
    double-backward of G . g_{t+1} with respect to (theta, gamma_t) gives (H_t g_{t+1}, J_l g_{t+1})
    (1.1-4x faster than "forward" on the CPU, bench/policy_search.py section 4);
  - "closed": the task's hand-written products (Task.closed_form; the perceptron has them);
  - "fused": the logistic model's whole run in closed form (trainers.logistic_adjoint).
"auto" (the default) takes "fused" for a logistic task, "closed" where the task has products,
else "reverse".
Parameters are kept only every k steps (default sqrt(T)); each segment is recomputed on the way
back, so memory is O(sqrt(T) |theta|) instead of the reference code's O(T |theta|). A run keeps
every step where that costs no more than the policy itself (default_checkpoint_every).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.func import grad, jvp

from trainers.logistic_adjoint import logistic_policy_gradient
from trainers.schedule import Rates, step_rates
from trainers.tasks.base import AutogradGradients, Task
from trainers.tasks.perceptron import LogisticProducts


@dataclass(frozen=True, eq=False)
class PolicyGradient:
    J: float  # sum_{t=1..T} L_dsr(theta_t)
    grad: torch.Tensor  # dJ/dgamma, (T, N)
    desired: torch.Tensor  # L_dsr(theta_t), t = 0..T
    holdout: torch.Tensor
    test: torch.Tensor
    snapshots_held: int  # most parameter vectors held at once

    @classmethod
    def from_curves(cls, grad: torch.Tensor, curves: torch.Tensor, snapshots_held: int) -> PolicyGradient:
        """From dJ/dgamma and the (T + 1, 3) curves on (desired, holdout, test) of the fused adjoint."""
        J = float(curves[1:, 0].sum())
        return cls(J, grad, curves[:, 0], curves[:, 1], curves[:, 2], snapshots_held)


MODES = ("reverse", "forward", "closed", "fused")


def available_modes(task: Task) -> tuple[str, ...]:
    """The adjoint modes this task can run: closed needs hand-written products, fused a logistic model."""
    return tuple(
        m for m in MODES
        if (m != "closed" or task.closed_form is not None)
        and (m != "fused" or isinstance(task.closed_form, LogisticProducts))
    )  # fmt: skip


def resolve_mode(task: Task, mode: str) -> str:
    if mode == "auto":
        if isinstance(task.closed_form, LogisticProducts):
            return "fused"
        return "closed" if task.closed_form is not None else "reverse"
    if mode not in MODES:
        raise ValueError(f"unknown adjoint mode {mode!r}; choose auto or one of {', '.join(MODES)}")
    if mode == "closed" and task.closed_form is None:
        raise ValueError(f"task {task.name} has no closed-form products")
    if mode == "fused" and not isinstance(task.closed_form, LogisticProducts):
        raise ValueError(f"task {task.name} is not a logistic model; the fused adjoint needs one")
    return mode


def default_checkpoint_every(task: Task, steps: int) -> int:
    """1 (keep every theta_t) when T x |theta| is no more than the policy's own T x N values,
    as for the perceptron; else sqrt(T), so the snapshots held grow as O(sqrt(T) |theta|)."""
    if task.theta0.numel() <= task.n_train:
        return 1
    return math.ceil(math.sqrt(steps))


def weighted_hvp_and_jvp(
    task: Task, theta: torch.Tensor, weights: torch.Tensor, tangent: torch.Tensor, mode: str = "reverse"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(H tangent, J_l tangent): the Hessian of sum_n w_n l_n times the tangent, and the
    directional derivative of every per-example loss (N,), per micro-batch."""
    mode = resolve_mode(task, mode)
    if mode == "closed":
        assert task.closed_form is not None
        return task.closed_form.hvp_and_directional(theta, weights, tangent)
    if mode == "reverse":
        return AutogradGradients(task).hvp_and_directional(theta, weights, tangent)
    hvp = torch.zeros_like(theta)
    directional = []
    for sl in task.chunks():
        part = task.train.chunk(sl)
        h, dl = _forward_over_reverse(task, theta, weights[sl], tangent, part.inputs, part.targets)
        hvp += h
        directional.append(dl)
    return hvp, torch.cat(directional)


def _forward_over_reverse(
    task: Task, theta: torch.Tensor, w: torch.Tensor, tangent: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    def weighted(th: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        losses = task.loss_fn(th, inputs, targets)
        return (w * losses).sum(), losses

    tangents = jvp(grad(weighted, has_aux=True), (theta,), (tangent,))[1]
    return tangents[0], tangents[1]  # (H tangent, J_l tangent)


def _reverse_step(
    task: Task, theta: torch.Tensor, weights: torch.Tensor, g_next: torch.Tensor, eta: float, *, with_desired: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """One backward step in one double-backward per micro-batch: returns dJ/dgamma[t] (N,) and
    grad L_dsr(theta_t) - eta H_t g_{t+1} (the desired gradient rides along in the last batch)."""
    th = theta.detach().requires_grad_(True)
    change = torch.zeros_like(theta)
    dj = []
    chunks = task.chunks()
    for i, sl in enumerate(chunks):
        part = task.train.chunk(sl)
        w = weights[sl].detach().requires_grad_(True)
        losses = task.loss_fn(th, part.inputs, part.targets)
        (g,) = torch.autograd.grad((w * losses).sum(), th, create_graph=True)
        outputs, seeds = [g], [-eta * g_next]
        if with_desired and i == len(chunks) - 1:
            outputs.append(task.mean_loss(th, task.desired))
            seeds.append(torch.ones((), dtype=th.dtype, device=th.device))
        d_theta, d_w = torch.autograd.grad(outputs, (th, w), grad_outputs=seeds)
        change += d_theta
        dj.append(d_w)
    return torch.cat(dj), change


def policy_gradient(
    task: Task, gamma: torch.Tensor, eta: float | Rates, *, checkpoint_every: int | None = None, mode: str = "auto"
) -> PolicyGradient:
    """J and dJ/dgamma for the policy gamma (T, N), checkpointing every k steps (default sqrt(T)).
    eta: one rate, or the rate of each update (a schedule)."""
    mode = resolve_mode(task, mode)
    gradients = task.gradients
    steps = gamma.shape[0]
    rates = step_rates(eta, steps)
    if mode == "fused":
        assert isinstance(gradients, LogisticProducts)
        dj, curves = logistic_policy_gradient(task, gradients.inputs, gradients.targets, gamma, rates)
        return PolicyGradient.from_curves(dj, curves, snapshots_held=steps + 1)
    k = checkpoint_every or math.ceil(math.sqrt(steps))
    theta = task.theta0.clone()
    snapshots: dict[int, torch.Tensor] = {}
    evals = torch.empty((steps + 1, 3), dtype=theta.dtype, device=theta.device)
    for t in range(steps):
        if t % k == 0:
            snapshots[t] = theta
        with torch.no_grad():
            evals[t] = task.eval_losses(theta)
        g, _ = gradients.weighted_grad(theta, gamma[t])
        theta = theta - rates[t] * g
    with torch.no_grad():
        evals[steps] = task.eval_losses(theta)

    dj = torch.empty_like(gamma)
    g_next = gradients.mean_grad(theta, task.desired)  # g_T
    held = len(snapshots) + 1
    for start in sorted(snapshots, reverse=True):
        segment = [snapshots[start]]  # recompute theta_start .. theta_{end-1}
        end = min(start + k, steps)
        for t in range(start, end - 1):
            g, _ = gradients.weighted_grad(segment[-1], gamma[t])
            segment.append(segment[-1] - rates[t] * g)
        held = max(held, len(snapshots) + len(segment))
        for t in range(end - 1, start - 1, -1):
            theta_t = segment[t - start]
            if mode == "reverse":
                dj[t], change = _reverse_step(task, theta_t, gamma[t], g_next, rates[t], with_desired=t >= 1)
            else:
                hvp, directional = weighted_hvp_and_jvp(task, theta_t, gamma[t], g_next, mode)
                dj[t] = -rates[t] * directional
                change = gradients.mean_grad(theta_t, task.desired) - rates[t] * hvp if t >= 1 else hvp
            if t >= 1:
                g_next = g_next + change
    return PolicyGradient(
        J=float(evals[1:, 0].sum()),
        grad=dj,
        desired=evals[:, 0],
        holdout=evals[:, 1],
        test=evals[:, 2],
        snapshots_held=held,
    )
