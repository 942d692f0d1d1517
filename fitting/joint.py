"""fit_joint: several curves fitted together with some parameters shared (the paper shares L0)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fitting.engine import Problem, covariance
from fitting.errors import InvalidInputError
from fitting.law_types import Law
from fitting.options import prepare_fit
from fitting.pipeline import (
    best_start,
    bootstrap_rows,
    build_result,
    constant_result,
    join_inputs,
    pad,
    robust_extra,
    row_problem,
    solve_rows,
    solve_scaled,
    with_logs,
)
from fitting.result import FitResult
from fitting.validation import CurveData, is_constant, left_out_note


def fit_joint(
    curves: Sequence[tuple[Any, Any]],
    law: str | Law = "step_power",
    *,
    shared: Sequence[str] = ("L0",),
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
    """Fit all curves at once with the `shared` parameters common to every curve.

    Returns one FitResult per curve (input order); shared parameters have the same value,
    interval and bootstrap samples in each, and samples are paired across curves (row i of
    every result comes from the same resample), so ratios between curves get honest intervals.
    A constant curve gets status unidentifiable and is left out of the joint fit.
    """
    if len(curves) == 0:
        raise InvalidInputError("no curves given", field="curves")
    the_law, pinned, data = prepare_fit(
        curves, law, name_curves=True, x_min=x_min, x_max=x_max, fixed=fixed, loss_fn=loss_fn,
        delta=delta, bootstrap=bootstrap, seed=seed, method=method, bounds=bounds, starts=starts,
    )  # fmt: skip
    shared_names = tuple(shared)
    for name in shared_names:
        if name not in the_law.param_names:
            raise InvalidInputError(
                f"{name!r} is not a parameter of {the_law.name} ({', '.join(the_law.param_names)})", field="shared"
            )
    if method == "paper":
        from fitting.paper import fit_paper

        papers = fit_paper(
            data, the_law, fixed=pinned, x_min=x_min, bootstrap=bootstrap, seed=seed, shared=shared_names
        )
        return left_out_note(papers, data)
    results: list[FitResult | None] = [None] * len(data)
    members = []
    for i, d in enumerate(data):
        if is_constant(d.loss):
            results[i] = constant_result(the_law, d, method, loss_fn)
        else:
            members.append(i)
    if members:
        fitted = _fit_members(
            the_law, [data[i] for i in members], shared_names, pinned, loss_fn, delta, bootstrap, seed
        )
        for i, res in zip(members, fitted, strict=True):
            results[i] = res
    return left_out_note([r for r in results if r is not None], data)


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


def _fit_members(
    law: Law,
    data: list[CurveData],
    shared: tuple[str, ...],
    fixed: dict[str, float],
    loss_fn: str,
    delta: float | None,
    bootstrap: int,
    seed: int,
) -> list[FitResult]:
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
    samples = None
    if bootstrap:
        rng = np.random.default_rng(seed)
        samples = bootstrap_rows(problem, solution, 0, bootstrap, rng, loss_fn, scale, groups=problem.group)
    out = []
    for g, d in enumerate(data):
        cols = np.array([problem.columns[p.name][g] for p in law.params])
        points = problem.group == g
        out.append(
            build_result(
                law,
                solution.theta[0, cols],
                cov[np.ix_(cols, cols)],
                solution.residuals[0, points],
                problem.log_loss[0, points],
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
            )
        )
    return out
