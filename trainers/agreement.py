"""The policy gradient kept only where the parts of the desired set agree on its sign.

The search moves T x N weights to lower the area on K desired examples (512 in the paper's
perceptron). Past a few dozen outer iterations it fits those K examples rather than the
distribution they come from: the desired curve goes on falling while the test curve turns up
(docs/reproduction.md, "Over-fitting the desired set"). Here the desired set is cut into `parts`
disjoint parts (its examples are independent draws), dJ/dgamma is computed on each part's area,
and an entry of the whole set's gradient moves gamma only where every part's gradient, less its
row mean (the projection ignores a constant added to a row), has the same sign. An entry whose
sign depends on which desired examples were drawn serves those examples, not the distribution;
this is the AND-mask of Parascandolo et al., "Learning explanations that are hard to vary"
(ICLR 2021), with the parts as environments.

The kept entries' values are the whole set's gradient (the parts' gradients weighted by their
sizes add up to it exactly), so with one part nothing changes. Cost: one policy gradient per part,
or for the perceptron one forward pass and the parts' backward passes together.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import torch

from fitting.errors import InvalidInputError
from trainers.adjoint import PolicyGradient, policy_gradient, resolve_mode
from trainers.logistic_adjoint import logistic_part_gradients
from trainers.schedule import Rates, step_rates
from trainers.tasks.base import Split, Task
from trainers.tasks.perceptron import LogisticProducts


def desired_parts(desired: Split, parts: int) -> list[Split]:
    """The desired set cut into `parts` contiguous parts of near-equal size (the same cut at every
    outer iteration: a new random cut each time was measured and did worse, docs/reproduction.md)."""
    if parts > len(desired):
        raise InvalidInputError(
            f"{parts} parts of a desired set of {len(desired)} examples: a part would be empty",
            field="search.agreement_splits",
        )
    bounds = [round(i * len(desired) / parts) for i in range(parts + 1)]
    return [desired.chunk(slice(lo, hi)) for lo, hi in itertools.pairwise(bounds)]


def agreement_mask(grads: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """(T, N) bool: where every gradient, less its row mean, has the same sign (zero is a sign of its own)."""
    first = torch.sign(grads[0] - grads[0].mean(dim=1, keepdim=True))
    keep = torch.ones_like(first, dtype=torch.bool)
    for g in grads[1:]:
        keep &= torch.sign(g - g.mean(dim=1, keepdim=True)) == first
    return keep


def agreement_gradient(
    task: Task,
    gamma: torch.Tensor,
    eta: float | Rates,
    parts: int,
    *,
    checkpoint_every: int | None = None,
    mode: str = "auto",
) -> tuple[PolicyGradient, float]:
    """The whole desired set's J, curves and dJ/dgamma, the gradient zeroed where the parts
    disagree; and the share of entries kept. parts <= 1: the plain policy gradient."""
    if parts <= 1:
        return policy_gradient(task, gamma, eta, checkpoint_every=checkpoint_every, mode=mode), 1.0
    pieces = desired_parts(task.desired, parts)
    weights = [len(piece) / len(task.desired) for piece in pieces]  # the mean loss is linear in its examples
    if resolve_mode(task, mode) == "fused":  # the perceptron: one forward pass, the parts' co-states together
        products = task.closed_form
        assert isinstance(products, LogisticProducts)
        steps = gamma.shape[0]
        grads, curves = logistic_part_gradients(
            task, products.inputs, products.targets, gamma, step_rates(eta, steps), pieces
        )  # fmt: skip
        per_grad: torch.Tensor | list[torch.Tensor] = grads  # (S, T, N)
        whole = PolicyGradient.from_curves(grads[0], curves, snapshots_held=steps + 1)  # grad: set below
    else:
        per_part = [
            policy_gradient(replace(task, desired=piece), gamma, eta, checkpoint_every=checkpoint_every, mode=mode)
            for piece in pieces
        ]
        per_grad = [pg.grad for pg in per_part]
        desired = torch.stack([w * pg.desired for w, pg in zip(weights, per_part, strict=True)]).sum(dim=0)
        whole = replace(
            per_part[0], J=float(desired[1:].sum()), desired=desired,
            snapshots_held=max(pg.snapshots_held for pg in per_part),
        )  # fmt: skip
    weight = torch.tensor(weights, dtype=gamma.dtype, device=gamma.device)
    grad = torch.tensordot(weight, torch.stack(per_grad) if isinstance(per_grad, list) else per_grad, dims=1)
    keep = agreement_mask(per_grad)
    return replace(whole, grad=grad.mul_(keep)), keep.count_nonzero().item() / keep.numel()
