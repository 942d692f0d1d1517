"""What every task gives the trainer: per-example losses of a flat parameter vector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

# (theta (P,), inputs (n, ...), targets (n, ...)) -> per-example losses (n,)
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class ClosedForm(Protocol):
    """A task's gradient products written out by hand: the same values autograd gives (tests
    hold them to 1e-12), in a few matrix-vector products instead of a graph per step. Small
    models (the perceptron) spend most of their time building autograd graphs otherwise."""

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
    closed_form: ClosedForm | None = None  # hand-written products; None: autograd

    @property
    def n_train(self) -> int:
        return len(self.train)

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
