"""The envelope of training curves (Approach 1 of Hoffmann et al. 2022): for runs of several model
sizes, each a curve of loss against tokens seen, the least loss reached at each compute C = k N D
across runs, which run reaches it (N_opt) and with how many tokens (D_opt), then N_opt = k_n C^a
fitted on those points.

Each curve's log loss is interpolated linearly in log compute; the envelope is read on a log-spaced
grid of compute where at least two runs have reached it, since one run alone says nothing about
which size is best, and where the best is neither the smallest nor the largest size that reached
it. The exponent's interval comes from resampling the runs (whole curves, with replacement) and
reading the envelope again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fitting.compute_optimal import DEFAULT_FLOPS_PER_TOKEN, check_flops_per_token
from fitting.errors import FitImpossibleError, InvalidInputError, LimitExceededError
from fitting.result import Estimate, estimate_from
from fitting.validation import as_float_array, check_finite, check_positive, first_index

DEFAULT_GRID = 200  # compute values the envelope is read at
MAX_RUNS = 1_000


@dataclass(frozen=True)
class Run:
    """One training run: its model size and its curve of loss against tokens seen."""

    n: float
    tokens: np.ndarray
    loss: np.ndarray


@dataclass(frozen=True, eq=False)
class EnvelopeResult:
    """compute (G,): where the envelope was read; n_opt, d_opt, loss (G,): the run that reaches the
    least loss there, its tokens and that loss. a, k_n: N_opt = k_n C^a fitted on those points."""

    compute: np.ndarray
    n_opt: np.ndarray
    d_opt: np.ndarray
    loss: np.ndarray
    a: Estimate
    b: Estimate
    k_n: Estimate
    flops_per_token: float
    n_runs: int


def loss_envelope(
    runs: Sequence[tuple[float, Any, Any]],
    *,
    flops_per_token: float = DEFAULT_FLOPS_PER_TOKEN,
    grid: int = DEFAULT_GRID,
    bootstrap: int = 200,
    seed: int = 0,
) -> EnvelopeResult:
    """Approach 1 on runs given as (N, tokens, loss), tokens strictly increasing (module docstring).
    FitImpossibleError when the runs do not overlap in compute, or all sizes are the same."""
    k = check_flops_per_token(flops_per_token)
    if not 2 <= len(runs) <= MAX_RUNS:
        if len(runs) > MAX_RUNS:
            raise LimitExceededError(f"{len(runs)} runs; the envelope takes at most {MAX_RUNS}", field="runs")
        raise InvalidInputError("give at least two runs of different model sizes", field="runs")
    if not (isinstance(grid, int) and 10 <= grid <= 10_000):
        raise InvalidInputError(f"must be an integer from 10 to 10000, got {grid!r}", field="grid")
    checked = [_run(i, *run) for i, run in enumerate(runs)]
    if len({r.n for r in checked}) < 2:
        raise FitImpossibleError("every run has the same model size: nothing to choose between", field="runs")
    compute = _grid(checked, k, grid)
    n_opt, d_opt, loss, covered = _read(checked, compute, k)
    if covered.sum() < 2 or np.unique(n_opt[covered]).size < 2:
        raise FitImpossibleError(
            "the runs overlap in compute at fewer than two grid points, or one size is best throughout: "
            "no frontier to fit", field="runs",
        )  # fmt: skip
    log_c, log_n = np.log(compute[covered]), np.log(n_opt[covered])
    slope, intercept = np.polyfit(log_c, log_n, 1)
    draws = _resampled(checked, compute, k, bootstrap, seed) if bootstrap else None
    a = estimate_from(float(slope), None if draws is None else draws[:, 1])
    k_n = estimate_from(math.exp(intercept), None if draws is None else np.exp(draws[:, 0]))
    return EnvelopeResult(
        compute=compute[covered], n_opt=n_opt[covered], d_opt=d_opt[covered], loss=loss[covered], a=a,
        b=Estimate(1.0 - a.value, 1.0 - a.high, 1.0 - a.low), k_n=k_n, flops_per_token=k, n_runs=len(checked),
    )  # fmt: skip


def _run(index: int, n: Any, tokens: Any, loss: Any) -> Run:
    field = f"runs[{index}]"
    size = as_float_array([n], f"{field}.n")
    t, ls = as_float_array(tokens, f"{field}.tokens"), as_float_array(loss, f"{field}.loss")
    for name, v in ((f"{field}.n", size), (f"{field}.tokens", t), (f"{field}.loss", ls)):
        check_finite(v, name)
        check_positive(v, name, "sizes, tokens and losses are positive")
    if t.size != ls.size or t.size < 2:
        raise InvalidInputError("tokens and loss must be of one length, at least two points", field=field)
    back = np.diff(t) <= 0
    if back.any():
        raise InvalidInputError(
            "tokens must be strictly increasing", field=f"{field}.tokens", index=first_index(back) + 1
        )
    return Run(float(size[0]), t, ls)


def _grid(runs: list[Run], k: float, points: int) -> np.ndarray:
    low = min(k * r.n * r.tokens[0] for r in runs)
    high = max(k * r.n * r.tokens[-1] for r in runs)
    return np.geomspace(low, high, points)


def _read(runs: Sequence[Run], compute: np.ndarray, k: float) -> tuple[np.ndarray, ...]:
    """At each compute: the least loss over the runs that reach it, that run's N and tokens, and
    whether the envelope says something there: two or more runs reach it, and the best is neither
    the smallest nor the largest of them (else the optimum may lie beyond the sizes run)."""
    log_c = np.log(compute)
    losses = np.full((len(runs), compute.size), np.inf)
    for i, r in enumerate(runs):
        c = np.log(k * r.n * r.tokens)
        inside = (log_c >= c[0]) & (log_c <= c[-1])
        losses[i, inside] = np.exp(np.interp(log_c[inside], c, np.log(r.loss)))
    best = np.argmin(losses, axis=0)
    sizes = np.array([r.n for r in runs])
    reached = np.isfinite(losses)
    smallest = np.where(reached, sizes[:, None], np.inf).min(axis=0)
    largest = np.where(reached, sizes[:, None], -np.inf).max(axis=0)
    n = sizes[best]
    covered = (reached.sum(axis=0) >= 2) & (n > smallest) & (n < largest)
    return n, compute / (k * n), losses[best, np.arange(compute.size)], covered


def _resampled(runs: list[Run], compute: np.ndarray, k: float, bootstrap: int, seed: int) -> np.ndarray | None:
    """(ln k_n, a) of the envelope of each resample of the runs; resamples with one size, or that
    overlap nowhere, are left out."""
    if not (isinstance(bootstrap, int) and bootstrap >= 0):
        raise InvalidInputError(f"must be an integer >= 0, got {bootstrap!r}", field="bootstrap")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(bootstrap):
        picked = [runs[i] for i in np.unique(rng.integers(0, len(runs), len(runs)))]  # a run twice adds nothing
        n, _, _, covered = _read(picked, compute, k)
        if covered.sum() >= 2 and np.unique(n[covered]).size >= 2:
            out.append(np.polyfit(np.log(compute[covered]), np.log(n[covered]), 1)[::-1])
    return np.array(out) if len(out) >= 2 else None
