"""fit_joint: several curves fitted together with some parameters shared (the paper shares L0)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import numpy as np

from fitting.assemble import build_result, curve_stats, robust_extra
from fitting.engine import Problem, covariance
from fitting.entry import PreparedFit, fit_prepared, prepare_fit
from fitting.errors import InvalidInputError
from fitting.law_types import Law
from fitting.options import FitOptions, JointKeywords, options_from
from fitting.pipeline import (
    best_start,
    bootstrap_rows,
    join_inputs,
    pad,
    row_problem,
    solve_rows,
    solve_scaled,
    with_logs,
)
from fitting.result import FitResult
from fitting.validation import CurveData


def fit_joint(
    curves: Sequence[tuple[Any, Any]],
    law: str | Law | None = None,
    *,
    options: FitOptions | None = None,
    **keywords: Unpack[JointKeywords],
) -> list[FitResult]:
    """Fit all curves at once with the shared parameters common to every curve (keyword `shared`,
    default ("L0",), or the options' ParamSpecs with shared set); other options as fit_curve's.

    Returns one FitResult per curve (input order); shared parameters have the same value,
    interval and bootstrap samples in each, and samples are paired across curves (row i of
    every result comes from the same resample), so ratios between curves get honest intervals.
    A constant curve gets status unidentifiable and is left out of the joint fit.
    """
    if len(curves) == 0:
        raise InvalidInputError("no curves given", field="curves")
    chosen = options_from(law, options, keywords, joint=True, shared=("L0",))
    return fit_prepared(prepare_fit(curves, chosen, name_curves=True, joint=True), _fit_members)


def joint_problem(law: Law, data: Sequence[CurveData], shared: tuple[str, ...], fixed: Mapping[str, float]) -> Problem:
    """All points in one row; shared parameters get one column, the others one per curve."""
    group = np.concatenate([np.full(d.n_points, g) for g, d in enumerate(data)])
    inputs = join_inputs(data)
    log_loss = np.log(np.concatenate([d.loss for d in data]))[None, :]
    columns, free, col = {}, [], 0
    for p in law.params:
        if p.name in shared or p.name in fixed:
            columns[p.name] = np.full(len(data), col)
            free.append(p.name not in fixed)
            col += 1
        else:
            columns[p.name] = np.arange(col, col + len(data))
            free.extend([True] * len(data))
            col += len(data)
    return Problem(
        law=law,
        inputs=with_logs(inputs),
        log_loss=log_loss,
        mask=np.ones_like(log_loss),
        columns=columns,
        free=np.array(free),
        group=group,
    )


def _fit_members(prepared: PreparedFit, data: list[CurveData]) -> list[FitResult]:
    law, shared, fixed, options = prepared.law, prepared.shared, prepared.fixed, prepared.options
    loss_fn, delta, bootstrap = options.loss_fn, options.delta, options.bootstrap
    # Each curve alone first: its parameters start the joint fit.
    inputs, loss, mask = pad(law, data)
    fits_alone, scales = solve_rows(row_problem(law, inputs, loss, mask, fixed), fixed, loss_fn, delta)
    alone = fits_alone.theta  # (G, P)
    problem = joint_problem(law, data, shared, fixed)
    starts = []
    for candidate in [*alone, np.median(alone, axis=0)]:  # shared value: each curve's, or the median
        theta = np.empty(problem.n_columns)
        for j, p in enumerate(law.params):
            cols = problem.columns[p.name]
            theta[cols] = candidate[j] if p.name in shared or p.name in fixed else alone[:, j]
        starts.append(theta[None, :])
    # one scale for all the curves' points: given, or estimated starting from the curves' own
    start = best_start(problem, np.stack(starts), loss_fn, float(np.median(scales)))
    solution, scale = solve_scaled(problem, start, loss_fn, delta)
    cov = covariance(problem, solution, loss_fn=loss_fn, delta=scale)[0]
    samples, bins = None, np.zeros(len(data), dtype=int)
    if bootstrap:
        rng = np.random.default_rng(options.seed)
        samples, bins = bootstrap_rows(
            problem, solution, 0, bootstrap, rng, loss_fn, scale, groups=problem.group, bins=options.resample_bins
        )
    out = []
    for g, d in enumerate(data):
        cols = np.array([problem.columns[p.name][g] for p in law.params])
        points = problem.group == g
        out.append(
            build_result(
                law,
                curve_stats(
                    law,
                    solution.theta[0, cols],
                    cov[np.ix_(cols, cols)],
                    solution.residuals[0, points],
                    problem.log_loss[0, points],
                ),
                n_points=d.n_points,
                x_range=d.x_range,
                converged=bool(solution.converged[0]),
                nfev=int(solution.nfev[0]),
                free=problem.free[cols],
                loss_fn=loss_fn,
                fixed=fixed,
                samples=None if samples is None else samples[:, cols],
                shared=shared,
                extra=robust_extra(loss_fn, scale),
                resample_bins=int(bins[g]),
            )
        )
    return out
