"""Learning-Law diagnostics of a policy (Gu et al. 2024, §3; docs/paper.md), measured while it trains.

CT[t, n] = grad L_test(theta_t) . grad l_n(theta_t), at the same theta_t the policy's step
uses (the reference code measures one step late), for every n at once and without N
per-example gradients (Task.gradients.directional). The statistics come from fitting/.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import fitting
from trainers.gd import train
from trainers.schedule import Rates
from trainers.tasks.base import Task


@dataclass(frozen=True, eq=False)
class LawDiagnostics:
    """SIM per measured step and overall, the zero-weight share among CT <= 0, and (for the
    perceptron) the share of well-learned examples with gamma < 0.2 max gamma."""

    steps: np.ndarray  # the measured t
    sim_t: np.ndarray
    sim: float
    zero_weight_fraction: float
    zero_weight_fraction_positive: float  # the same share among CT > 0 (fitting.sim_statistics)
    nonpositive_weight: float  # the policy's weight on CT <= 0 pairs, averaged over the measured steps
    well_learned_share: float
    well_learned_ratios: np.ndarray  # gamma / max gamma of well-learned (t, n), sorted (at most 2000, evenly kept)
    dropped: np.ndarray  # (T,) share of training examples with zero weight at each step
    dropped_corrupted: np.ndarray  # (T,) the same among the corrupted ones (NaN where none are known)

    def to_dict(self) -> dict[str, float]:
        return {
            "sim": self.sim,
            "zero_weight_fraction": self.zero_weight_fraction,
            "zero_weight_fraction_positive": self.zero_weight_fraction_positive,
            "nonpositive_weight": self.nonpositive_weight,
            "well_learned_share": self.well_learned_share,
            "measured_steps": len(self.steps),
        }


def zero_weight_threshold(n_examples: int) -> float:
    """The weight at or below which an example counts as dropped: 1e-3 of the uniform weight, so
    multiplicative (eg) policies, which only approach zero, are judged like projected ones, which
    reach it exactly."""
    return 1e-3 / n_examples


def measure_learning_law(task: Task, gamma: torch.Tensor, eta: float | Rates, every: int) -> LawDiagnostics:
    """Train under gamma and measure CT every `every` steps."""
    steps = gamma.shape[0]
    rows: list[tuple[int, torch.Tensor, torch.Tensor]] = []

    def hook(t: int, theta: torch.Tensor, losses: torch.Tensor) -> None:
        if t % every:
            return
        # the Learning Law is validated on the held-out test set's gradient
        g_test = task.gradients.mean_grad(theta, task.test)
        rows.append((t, task.gradients.directional(theta, g_test), losses))

    train(task, steps, eta, gamma, on_step=hook)
    measured = np.array([t for t, _, _ in rows])
    ct = torch.stack([c for _, c, _ in rows]).cpu().double().numpy()
    train_losses = torch.stack([loss for _, _, loss in rows]).cpu().double().numpy()
    weights = gamma[measured].cpu().double().numpy()
    zero_tol = zero_weight_threshold(gamma.shape[1])
    stats = fitting.sim_statistics(ct, weights, zero_tol=zero_tol)
    ratios = fitting.well_learned_ratios(train_losses, weights)
    zero = gamma <= zero_tol  # the same threshold, for the share dropped at every step (Fig. 10)
    dropped_corrupted = np.full(steps, np.nan)
    if task.corrupted is not None and bool(task.corrupted.any()):
        dropped_corrupted = zero[:, task.corrupted].double().mean(dim=1).cpu().numpy()
    return LawDiagnostics(
        steps=measured,
        sim_t=stats.sim_t,
        sim=stats.sim,
        zero_weight_fraction=stats.zero_weight_fraction,
        zero_weight_fraction_positive=stats.zero_weight_fraction_positive,
        nonpositive_weight=stats.nonpositive_weight,
        well_learned_share=fitting.well_learned_share(train_losses, weights),
        well_learned_ratios=ratios[np.linspace(0, ratios.size - 1, min(ratios.size, 2000)).astype(int)],
        dropped=zero.double().mean(dim=1).cpu().numpy(),
        dropped_corrupted=dropped_corrupted,
    )
