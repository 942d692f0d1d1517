"""fit_batch: many curves at once, vectorised across curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fitting.law_types import Law
from fitting.options import prepare_fit
from fitting.pipeline import constant_result, pad, results_for_rows, row_problem, solve_rows
from fitting.result import FitResult
from fitting.validation import CurveData, is_constant, left_out_note

BLOCK = 256  # curves per vectorised block: keeps the (block, m, P) Jacobian in cache


def fit_batch(
    curves: Sequence[tuple[Any, Any]],
    law: str | Law = "step_power",
    *,
    x_min: float | None = None,
    x_max: float | None = None,
    fixed: Mapping[str, float] | None = None,
    loss_fn: str = "huber",
    delta: float | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    method: str = "robust",
    bounds: Mapping[str, tuple[float, float]] | None = None,
    starts: Mapping[str, float] | None = None,
) -> list[FitResult]:
    """Fit every (x, loss) pair in `curves` (lengths may differ); results in input order.

    Same procedure and options as fit_curve, but all curves advance together: curves of
    similar length are padded into blocks and every optimiser step is one numpy expression
    per block. Errors name the curve: "curves[3].loss[7]: ...".
    """
    the_law, pinned, data = prepare_fit(
        curves, law, name_curves=True, x_min=x_min, x_max=x_max, fixed=fixed, loss_fn=loss_fn,
        delta=delta, bootstrap=bootstrap, seed=seed, method=method, bounds=bounds, starts=starts,
    )  # fmt: skip
    if method == "paper":
        from fitting.paper import fit_paper

        papers = [fit_paper([d], the_law, fixed=pinned, x_min=x_min, bootstrap=bootstrap, seed=seed)[0] for d in data]
        return left_out_note(papers, data)
    results: list[FitResult | None] = [None] * len(data)
    fittable = []
    for i, d in enumerate(data):
        if is_constant(d.loss):
            results[i] = constant_result(the_law, d, method, loss_fn)
        else:
            fittable.append(i)
    order = sorted(fittable, key=lambda i: data[i].n_points)
    rng = np.random.default_rng(seed)
    for start in range(0, len(order), BLOCK):
        block = order[start : start + BLOCK]
        fitted = _fit_block(the_law, [data[i] for i in block], pinned, loss_fn, delta, bootstrap, rng)
        for i, res in zip(block, fitted, strict=True):
            results[i] = res
    return left_out_note([r for r in results if r is not None], data)


def _fit_block(
    law: Law,
    block: list[CurveData],
    fixed: dict[str, float],
    loss_fn: str,
    delta: float | None,
    bootstrap: int,
    rng: np.random.Generator,
) -> list[FitResult]:
    inputs, loss, mask = pad(law, block)
    problem = row_problem(law, inputs, loss, mask, fixed)
    solution, scale = solve_rows(problem, fixed, loss_fn, delta)
    return results_for_rows(problem, solution, block, fixed, loss_fn, scale, bootstrap, rng)
