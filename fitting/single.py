"""fit_curve: one curve, multi-start robust fit refined by lmfit's Minimizer."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import lmfit
import numpy as np

from fitting.engine import Problem, Solution, robust_cost
from fitting.law_types import Law
from fitting.options import prepare_fit
from fitting.pipeline import constant_result, pad, results_for_rows, row_problem, solve_rows
from fitting.result import FitResult
from fitting.validation import is_constant, left_out_note


def fit_curve(
    x: Any,
    loss: Any,
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
) -> FitResult:
    """Fit `law` to one curve in log-loss space.

    x: steps (array-like) or, for multi-input laws, a mapping/DataFrame of input -> array.
    loss: losses (> 0). Points with x_min <= x <= x_max are used. `fixed` pins parameters.
    loss_fn: "huber" (default), "linear", "soft_l1" or "cauchy" on log residuals, with scale delta
    in log-loss units; None (default): estimated from the residuals (1.345 x their MAD-based standard
    deviation, refitted until it settles), so that Gaussian noise of any size gets a 95 %-efficient
    fit while spikes stay in the loss's linear part. The scale used is in `extra["delta"]`.
    bootstrap: number of residual-bootstrap resamples for percentile intervals (0: Wald).
    method: "robust" (multi-start + lmfit refinement) or "paper" (grid over t0, L0 and
    log-linear regression, step_power only). bounds/starts: for expression laws.
    """
    the_law, pinned, (data,) = prepare_fit(
        [(x, loss)], law, name_curves=False, x_min=x_min, x_max=x_max, fixed=fixed, loss_fn=loss_fn,
        delta=delta, bootstrap=bootstrap, seed=seed, method=method, bounds=bounds, starts=starts,
    )  # fmt: skip
    if method == "paper":
        from fitting.paper import fit_paper

        return left_out_note(
            fit_paper([data], the_law, fixed=pinned, x_min=x_min, bootstrap=bootstrap, seed=seed), [data]
        )[0]
    if is_constant(data.loss):
        return left_out_note([constant_result(the_law, data, method, loss_fn)], [data])[0]
    inputs, loss_arr, mask = pad(the_law, [data])
    problem = row_problem(the_law, inputs, loss_arr, mask, pinned)
    solution, scale = solve_rows(problem, pinned, loss_fn, delta)
    solution = refine_with_lmfit(problem, solution, loss_fn, float(scale[0, 0]))
    rng = np.random.default_rng(seed)
    return left_out_note(results_for_rows(problem, solution, [data], pinned, loss_fn, scale, bootstrap, rng), [data])[0]


def refine_with_lmfit(problem: Problem, solution: Solution, loss_fn: str, delta: float) -> Solution:
    """Polish the best start with lmfit's Minimizer (scipy least_squares, same robust loss).

    The lmfit result replaces the engine's only if its robust cost is not higher.
    """
    params = lmfit.Parameters()
    names = []
    lower, upper = problem.bounds()
    theta = solution.theta[0]
    for j in range(problem.n_columns):
        name = f"p{j}"  # by position: a user's parameter names never reach lmfit's own interpreter
        names.append(name)
        with np.errstate(all="ignore"):  # lmfit maps bounds through arcsin, which huge boxes overflow
            params.add(
                name, value=float(theta[j]), min=float(lower[j]), max=float(upper[j]), vary=bool(problem.free[j])
            )
    if not any(problem.free):
        return solution

    def residual(ps: lmfit.Parameters) -> np.ndarray:
        vec = np.array([ps[n].value for n in names])[None, :]
        return problem.residuals(vec)[0]

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # lmfit's own covariance is not used (see engine.covariance); its warnings are noise here
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = lmfit.minimize(residual, params, method="least_squares", loss=loss_fn, f_scale=delta, x_scale="jac")
    refined = np.array([fit.params[n].value for n in names])[None, :]
    r = problem.residuals(refined)
    cost = robust_cost(r, problem.mask, loss_fn, delta)
    nfev = solution.nfev + int(fit.nfev)
    if np.all(np.isfinite(cost)) and cost[0] <= solution.cost[0] * (1 + 1e-12):
        return Solution(refined, r, cost, solution.converged | bool(fit.success), nfev, solution.scale)
    return replace(solution, nfev=nfev)
