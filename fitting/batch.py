"""fit_batch: many curves at once, vectorised across curves."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Unpack

import numpy as np

from fitting.assemble import results_for_rows
from fitting.engine import Problem, Solution
from fitting.entry import PreparedFit, fit_prepared, prepare_fit
from fitting.law_types import Law
from fitting.options import FitKeywords, FitOptions, options_from
from fitting.pipeline import pad, row_problem, solve_rows
from fitting.result import FitResult
from fitting.validation import CurveData

BLOCK = 256  # curves per vectorised block: keeps the (block, m, P) Jacobian in cache

# A last step on one curve's solution: (problem, solution, loss_fn, delta) -> solution
Polish = Callable[[Problem, Solution, str, float], Solution]


def fit_batch(
    curves: Sequence[tuple[Any, Any]],
    law: str | Law | None = None,
    *,
    options: FitOptions | None = None,
    **keywords: Unpack[FitKeywords],
) -> list[FitResult]:
    """Fit every (x, loss) pair in `curves` (lengths may differ); results in input order.

    Same procedure and options as fit_curve, but all curves advance together: curves of
    similar length are padded into blocks and every optimiser step is one numpy expression
    per block. Errors name the curve: "curves[3].loss[7]: ...".
    """
    prepared = prepare_fit(curves, options_from(law, options, keywords), name_curves=True)
    return fit_prepared(prepared, _fit_blocks)


def _fit_blocks(prepared: PreparedFit, curves: list[CurveData]) -> list[FitResult]:
    results: list[FitResult | None] = [None] * len(curves)
    order = sorted(range(len(curves)), key=lambda i: curves[i].n_points)
    rng = np.random.default_rng(prepared.options.seed)
    for start in range(0, len(order), BLOCK):
        block = order[start : start + BLOCK]
        for i, res in zip(block, fit_rows(prepared, [curves[i] for i in block], rng), strict=True):
            results[i] = res
    return [r for r in results if r is not None]


def fit_rows(
    prepared: PreparedFit, curves: list[CurveData], rng: np.random.Generator, polish: Polish | None = None
) -> list[FitResult]:
    """The robust procedure on curves fitted each alone, one curve per row of one padded problem."""
    law, fixed, options = prepared.law, prepared.fixed, prepared.options
    inputs, loss, mask = pad(law, curves)
    problem = row_problem(law, inputs, loss, mask, fixed)
    solution, scale = solve_rows(problem, fixed, options.loss_fn, options.delta)
    if polish is not None:
        solution = polish(problem, solution, options.loss_fn, float(scale[0, 0]))
    return results_for_rows(
        problem, solution, curves, fixed, options.loss_fn, scale, options.bootstrap, rng, options.resample_bins
    )
