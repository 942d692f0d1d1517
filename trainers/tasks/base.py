"""What every task gives the trainer: per-example losses of a flat parameter vector, and the
gradient products of those losses through one interface (`Task.gradients`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

# (theta (P,), inputs (n, ...), targets (n, ...)) -> per-example losses (n,)
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class Gradients(Protocol):
    """The gradient products GD, the adjoint and the diagnostics need of a task's losses l_n.
    Every task has them by autograd (AutogradGradients); a task may also write them out by hand
    (Task.closed_form, the same values to 1e-12), in a few matrix-vector products instead of a
    graph per step: small models (the perceptron) spend most of their time building graphs."""

    def weighted_grad(self, theta: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(grad_theta sum_n w_n l_n, per-example training losses (N,))."""
        ...

    def mean_grad(self, theta: torch.Tensor, split: Split) -> torch.Tensor:
        """grad_theta of the mean loss over a split."""
        ...

    def hvp_and_directional(
        self, theta: torch.Tensor, weights: torch.Tensor, tangent: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(H_w tangent, J_l tangent): Hessian of sum_n w_n l_n times tangent, and grad l_n . tangent (N,)."""
        ...

    def directional(self, theta: torch.Tensor, tangent: torch.Tensor) -> torch.Tensor:
        """J_l tangent alone: grad l_n(theta) . tangent for every training example, (N,)."""
        ...


@dataclass(frozen=True)
class Split:
    inputs: torch.Tensor
    targets: torch.Tensor

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def chunk(self, sl: slice) -> Split:
        return Split(self.inputs[sl], self.targets[sl])


@dataclass(frozen=True)
class Task:
    """A learning problem. `desired` drives the policy search, `holdout` (a disjoint part of the
    desired distribution) selects the policy, `test` is only ever reported."""

    name: str
    loss_fn: LossFn
    theta0: torch.Tensor
    train: Split
    desired: Split
    holdout: Split
    test: Split
    label_space: int  # |V| in the compression ratio: 2 for the perceptron, the vocabulary for an LM
    micro_batch: int  # training examples per forward pass
    closed_form: Gradients | None = None  # hand-written products; None: autograd
    corrupted: torch.Tensor | None = None  # (N,) bool: training examples known to be corrupted (flipped labels)

    @property
    def n_train(self) -> int:
        return len(self.train)

    @property
    def gradients(self) -> Gradients:
        """The task's gradient products: hand-written where it has them, else autograd."""
        return self.closed_form if self.closed_form is not None else AutogradGradients(self)

    def chunks(self, n: int | None = None) -> list[slice]:
        n = self.n_train if n is None else n
        return [slice(i, min(i + self.micro_batch, n)) for i in range(0, n, self.micro_batch)]

    def eval_losses(self, theta: torch.Tensor) -> torch.Tensor:
        """Mean loss on (desired, holdout, test) as one tensor of 3, in one pass (NaN: empty split)."""
        splits = (self.desired, self.holdout, self.test)
        joined = Split(torch.cat([s.inputs for s in splits]), torch.cat([s.targets for s in splits]))
        losses = torch.cat(
            [self.loss_fn(theta, p.inputs, p.targets) for p in map(joined.chunk, self.chunks(len(joined)))]
        )
        parts = torch.split(losses, [len(s) for s in splits])
        return torch.stack([p.mean() if p.numel() else p.new_tensor(float("nan")) for p in parts])

    def mean_loss(self, theta: torch.Tensor, split: Split) -> torch.Tensor:
        """Mean per-example loss over a split, in micro-batches (a sum, then one division)."""
        total = theta.new_zeros(())
        for sl in self.chunks(len(split)):
            part = split.chunk(sl)
            total = total + self.loss_fn(theta, part.inputs, part.targets).sum()
        return total / max(len(split), 1)


@dataclass(frozen=True, eq=False)
class AutogradGradients:
    """The products by reverse-mode autograd, one micro-batch of training examples at a time
    (micro-batches add up a weighted sum, so they change memory, not the result). The N
    directional derivatives never form N per-example gradients: the weighted gradient J_l^T w
    is linear in w, so one double-backward of (J_l^T w) . v with respect to w gives J_l v."""

    task: Task

    def weighted_grad(self, theta: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        grad = torch.zeros_like(theta)
        losses = []
        for sl in self.task.chunks():
            th = theta.detach().requires_grad_(True)
            part = self.task.train.chunk(sl)
            loss = self.task.loss_fn(th, part.inputs, part.targets)
            (g,) = torch.autograd.grad((weights[sl] * loss).sum(), th)
            grad += g
            losses.append(loss.detach())
        return grad, torch.cat(losses)

    def mean_grad(self, theta: torch.Tensor, split: Split) -> torch.Tensor:
        th = theta.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(self.task.mean_loss(th, split), th)
        return g

    def hvp_and_directional(
        self, theta: torch.Tensor, weights: torch.Tensor, tangent: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hvp = torch.zeros_like(theta)
        directional = []
        for sl in self.task.chunks():
            th, w, g = self._weighted_grad_graph(theta, weights[sl], sl)
            h, dl = torch.autograd.grad(g, (th, w), grad_outputs=tangent)
            hvp += h
            directional.append(dl)
        return hvp, torch.cat(directional)

    def directional(self, theta: torch.Tensor, tangent: torch.Tensor) -> torch.Tensor:
        out = []
        for sl in self.task.chunks():
            ones = torch.ones(sl.stop - sl.start, dtype=theta.dtype, device=theta.device)
            _, w, g = self._weighted_grad_graph(theta, ones, sl)
            (dl,) = torch.autograd.grad(g, w, grad_outputs=tangent)  # the Hessian product is not needed
            out.append(dl)
        return torch.cat(out)

    def _weighted_grad_graph(
        self, theta: torch.Tensor, weights: torch.Tensor, sl: slice
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(theta, w, grad_theta sum_n w_n l_n) of one micro-batch, the gradient with its graph."""
        th = theta.detach().requires_grad_(True)
        w = weights.detach().requires_grad_(True)
        part = self.task.train.chunk(sl)
        losses = self.task.loss_fn(th, part.inputs, part.targets)
        (g,) = torch.autograd.grad((w * losses).sum(), th, create_graph=True)
        return th, w, g
