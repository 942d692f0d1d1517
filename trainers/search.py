"""Near-optimal policy search: projected descent on gamma (T x N) from the uniform policy.

Each outer iteration computes J and dJ/dgamma by the adjoint (trainers.adjoint), logs the
desired, held-out and test areas, and steps gamma. The policy kept is the one with the lowest
held-out area (a disjoint part of the desired distribution), or with no held-out part the one
with the lowest desired area.

With cfg.extend_steps = delta the search optimises the area over T + delta steps and keeps the
policy's first T rows: row t's gradient sums the effect on the T - t steps after it, so the last
rows of a T-step search see almost nothing ahead and learn to fit the last few losses, which
turns the curve up at its end (docs/reproduction.md, "The search"). With cfg.agreement_splits = S > 1
an entry of dJ/dgamma moves gamma only where S parts of the desired set agree on its sign
(trainers.agreement): what the search learns then holds for the desired distribution, not only
for its K examples.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from fitting.errors import ScalingLawError
from trainers.adjoint import PolicyGradient
from trainers.agreement import agreement_gradient
from trainers.config import SearchConfig
from trainers.gd import uniform_policy
from trainers.outcome import OuterIteration
from trainers.schedule import Rates
from trainers.simplex import all_finite, project_to_simplex, row_blocks
from trainers.tasks.base import Task


@dataclass(frozen=True, eq=False)
class SearchResult:
    gamma: torch.Tensor  # the selected policy (T, N)
    best_iteration: int
    history: list[OuterIteration]
    snapshots_held: int


ProgressFn = Callable[[OuterIteration], None]
PolicyHook = Callable[[int, torch.Tensor, PolicyGradient], None]  # (k, gamma_k, its J, curves and gradient)


class SearchDivergedError(ScalingLawError):
    """The inner run or the policy gradient went non-finite: lower eta or the outer step size."""


def outer_lr(cfg: SearchConfig, k: int) -> float:
    """The step size of outer iteration k: linearly decayed to 0 over the search (the paper's
    schedule), after a linear warm-up over cfg.warmup iterations (the first full-size step of a
    normalized search overshoots: test area 351 -> 1147 in one step without it)."""
    if not cfg.outer_iters:
        return 0.0
    warm = min(1.0, (k + 1) / (cfg.warmup_iters + 1))
    return cfg.outer_lr * warm * (1.0 - k / cfg.outer_iters)


def step_policy(gamma: torch.Tensor, grad: torch.Tensor, lr: float, optimizer: str) -> torch.Tensor:
    """One outer update of every row of gamma; the result stays on the simplex."""
    n = gamma.shape[1]
    if optimizer == "sgd":  # the paper's: a raw gradient step, then the projection
        return project_to_simplex(gamma - lr * grad)
    if optimizer == "normalized":  # the same direction, scaled so a typical entry moves lr / N
        rms = grad.pow(2).mean().sqrt().clamp_min(torch.finfo(grad.dtype).tiny)
        return project_to_simplex(gamma - (lr / n) * grad / rms)
    if optimizer == "rowwise":
        # every row scaled by its own spread, so each row moves ~lr / N whatever its gradient's size
        # (the spread falls 900-fold from t = 0 to T - 1). A row's mean is dropped: the projection
        # ignores a constant added to a row, and the mean would only inflate the scale. A block of
        # rows at a time, projected at once: whole-policy temporaries cost more than the arithmetic.
        out = torch.empty_like(gamma)
        for rows in row_blocks(gamma.shape[0]):
            centered = grad[rows] - grad[rows].mean(dim=1, keepdim=True)
            spread = centered.pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(torch.finfo(grad.dtype).tiny)
            out[rows] = project_to_simplex(centered.mul_(-lr / n).div_(spread).add_(gamma[rows]))
        return out
    # exponentiated gradient (mirror descent on the simplex): multiplicative, never negative
    scale = grad.abs().amax().clamp_min(torch.finfo(grad.dtype).tiny)
    logits = torch.log(gamma.clamp_min(torch.finfo(gamma.dtype).tiny)) - lr * grad / scale
    return torch.softmax(logits, dim=1)


def extended_rates(eta: float | Rates, steps: int, horizon: int) -> float | Rates:
    """The inner rates over `horizon` >= steps updates: a schedule's last rate held past its end."""
    if np.ndim(eta) == 0 or horizon == steps:
        return eta
    rates = np.asarray(eta, dtype=float)[:steps]
    return np.concatenate([rates, np.full(horizon - steps, rates[-1])])


def tie_gradient(grad: torch.Tensor, blocks: int) -> torch.Tensor:
    """Average dJ/dgamma over `blocks` equal spans of steps (0: no tying), so every row of a span
    takes the same step and gamma stays constant on spans: T x N free values become blocks x N."""
    steps = grad.shape[0]
    if blocks <= 0 or blocks >= steps:
        return grad
    span = math.ceil(steps / blocks)
    out = torch.empty_like(grad)
    for start in range(0, steps, span):
        out[start : start + span] = grad[start : start + span].mean(dim=0, keepdim=True)
    return out


def search_policy(
    task: Task,
    steps: int,
    eta: float | Rates,
    cfg: SearchConfig,
    *,
    checkpoint_every: int | None = None,
    progress: ProgressFn | None = None,
    mode: str = "auto",
    on_policy: PolicyHook | None = None,
) -> SearchResult:
    """cfg.outer_iters steps of projected descent (step sizes: outer_lr) over steps + cfg.extend_steps
    rows; returns the first `steps` rows of the policy with the lowest held-out area over the
    first `steps` steps among gamma_0 (uniform) .. gamma_K (the desired area when nothing is held
    out). on_policy sees every gamma_k with its policy gradient. Raises SearchDivergedError naming
    the iteration when J or dJ/dgamma is not finite."""
    horizon = steps + cfg.extend_steps
    eta = extended_rates(eta, steps, horizon)
    gamma = uniform_policy(task, horizon)
    history: list[OuterIteration] = []
    best = (math.inf, 0, gamma[:steps])
    started = time.perf_counter()
    held = 0
    for k in range(cfg.outer_iters + 1):
        pg, kept = agreement_gradient(
            task, gamma, eta, cfg.agreement_splits, checkpoint_every=checkpoint_every, mode=mode
        )  # fmt: skip
        if not (math.isfinite(pg.J) and all_finite(pg.grad)):
            what = "the desired area J" if not math.isfinite(pg.J) else "dJ/dgamma"
            raise SearchDivergedError(
                f"outer iteration {k}: {what} is not finite (the inner run diverged); lower eta or the outer step size",
                field="search.outer_lr",
            )
        held = max(held, pg.snapshots_held)
        if on_policy is not None:
            on_policy(k, gamma[:steps], pg)
        lr = outer_lr(cfg, k)
        record = OuterIteration(
            iteration=k,
            j_desired=float(pg.desired[1 : steps + 1].sum()),
            j_holdout=float(pg.holdout[1 : steps + 1].sum()),
            j_test=float(pg.test[1 : steps + 1].sum()),
            lr=lr,
            seconds=time.perf_counter() - started,
            kept_share=kept,
        )
        history.append(record)
        if progress is not None:
            progress(record)
        score = record.j_holdout if len(task.holdout) else record.j_desired
        if np.isfinite(score) and score < best[0]:
            best = (score, k, gamma[:steps])
        if k < cfg.outer_iters:
            gamma = step_policy(gamma, tie_gradient(pg.grad, cfg.policy_blocks), lr, cfg.optimizer)
    return SearchResult(gamma=best[2], best_iteration=best[1], history=history, snapshots_held=held)
