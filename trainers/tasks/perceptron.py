"""The paper's teacher-student perceptron (Gu et al. 2024, §4; docs/paper.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainers.config import PerceptronConfig
from trainers.tasks.base import Split, Task


def perceptron_loss(theta: torch.Tensor, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example BCE of sigmoid(theta . z) against y in {0, 1}: (n,)."""
    return F.binary_cross_entropy_with_logits(z @ theta, y, reduction="none")


@dataclass(frozen=True)
class LogisticProducts:
    """The perceptron's products in closed form. With s = Z theta, p = sigmoid(s), r = p - y:
    grad l_n = r_n z_n and the Hessian of sum_n w_n l_n is Z^T diag(w p (1 - p)) Z, so every
    product is one or two matrix-vector products with Z (N x D) and no per-example gradient."""

    inputs: torch.Tensor  # Z, (N, D)
    targets: torch.Tensor  # y, (N,)

    def weighted_grad(self, theta: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.inputs @ theta
        residual = torch.sigmoid(s) - self.targets
        losses = F.binary_cross_entropy_with_logits(s, self.targets, reduction="none")
        return self.inputs.T @ (weights * residual), losses

    def mean_grad(self, theta: torch.Tensor, split: Split) -> torch.Tensor:
        residual = torch.sigmoid(split.inputs @ theta) - split.targets
        return split.inputs.T @ residual / max(len(split), 1)

    def hvp_and_directional(
        self, theta: torch.Tensor, weights: torch.Tensor, tangent: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.sigmoid(self.inputs @ theta)
        along = self.inputs @ tangent  # z_n . tangent, (N,)
        return self.inputs.T @ (weights * p * (1 - p) * along), (p - self.targets) * along

    def directional(self, theta: torch.Tensor, tangent: torch.Tensor) -> torch.Tensor:
        return (torch.sigmoid(self.inputs @ theta) - self.targets) * (self.inputs @ tangent)


def _tilted(teacher: torch.Tensor, cos: float) -> torch.Tensor:
    """The teacher turned to make angle arccos(cos) with the shift direction 1/sqrt(D), keeping its
    norm and its direction orthogonal to the shift (a random direction, as drawn)."""
    shift = torch.full_like(teacher, 1.0 / math.sqrt(teacher.numel()))
    across = teacher - (teacher @ shift) * shift
    return teacher.norm() * (cos * shift + math.sqrt(1.0 - cos * cos) * across / across.norm())


def build_perceptron(
    cfg: PerceptronConfig, *, holdout: float, seed: int, device: torch.device, dtype: torch.dtype
) -> Task:
    g = torch.Generator().manual_seed(seed)
    d = cfg.dim
    teacher = torch.randn(d, generator=g, dtype=torch.float64) * math.sqrt(math.sqrt(d))  # N(0, sqrt(D) I)
    if cfg.teacher_shift_cos is not None:
        teacher = _tilted(teacher, cfg.teacher_shift_cos)

    def sample(n: int, mean: float, var: float) -> torch.Tensor:
        return mean + math.sqrt(var) * torch.randn(n, d, generator=g, dtype=torch.float64)

    def labelled(z: torch.Tensor) -> Split:
        return Split(z, (z @ teacher > 0).to(torch.float64))

    train = labelled(sample(cfg.train_size, 0.0, cfg.train_var))
    flip = torch.zeros(cfg.train_size, dtype=torch.bool)
    if cfg.label_noise > 0:  # exactly that share, so the noise level is what the spec says on every seed
        flip[torch.randperm(cfg.train_size, generator=g)[: round(cfg.label_noise * cfg.train_size)]] = True
        train = Split(train.inputs, torch.where(flip, 1.0 - train.targets, train.targets))
    # the test set and theta_0 are drawn before the desired set, so that a run with another desired
    # set size trains and is tested on the same data
    test = labelled(sample(cfg.test_size, cfg.target_shift, 1.0))
    bound = 1.0 / math.sqrt(d)  # nn.Linear's default initialisation, as the reference code uses
    theta0 = (torch.rand(d, generator=g, dtype=torch.float64) * 2 - 1) * bound
    desired_all = labelled(sample(cfg.desired_size, cfg.target_shift, 1.0))
    n_hold = math.floor(cfg.desired_size * holdout)
    desired = desired_all.chunk(slice(n_hold, None))
    held = desired_all.chunk(slice(0, n_hold))

    def move(s: Split) -> Split:
        return Split(s.inputs.to(device, dtype), s.targets.to(device, dtype))

    train = move(train)
    return Task(
        name="perceptron",
        loss_fn=perceptron_loss,
        theta0=theta0.to(device, dtype),
        train=train,
        desired=move(desired),
        holdout=move(held),
        test=move(test),
        label_space=2,
        micro_batch=cfg.train_size,
        closed_form=LogisticProducts(train.inputs, train.targets),
        corrupted=flip.to(device),
    )
