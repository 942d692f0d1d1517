"""fit_curve: one curve, multi-start robust fit refined by lmfit's Minimizer."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any, Unpack

import lmfit
import numpy as np

from fitting.batch import fit_rows
from fitting.engine import Problem, Solution, robust_cost
from fitting.entry import PreparedFit, fit_prepared, prepare_fit
from fitting.law_types import Law
from fitting.options import FitKeywords, FitOptions, options_from
from fitting.result import FitResult
from fitting.validation import CurveData


def fit_curve(
    x: Any,
    loss: Any,
    law: str | Law | None = None,
    *,
    options: FitOptions | None = None,
    **keywords: Unpack[FitKeywords],
) -> FitResult:
    """Fit `law` (default step_power) to one curve in log-loss space.

    x: steps (array-like) or, for multi-input laws, a mapping/DataFrame of input -> array.
    loss: losses (> 0). How to fit: `options`, or the same as keywords (x_min, x_max, fixed,
    loss_fn, delta, bootstrap, seed, method, bounds, starts; see FitOptions). `fixed` pins
    parameters. loss_fn "huber" (default) with delta None (default) estimates the scale from the
    residuals (1.345 x their MAD-based standard deviation, refitted until it settles), so that
    Gaussian noise of any size gets a 95 %-efficient fit while spikes stay in the loss's linear
    part; the scale used is in `extra["delta"]`. method "robust" is multi-start and lmfit
    refinement; "paper" a grid over t0 and L0 and log-linear regression (step_power only).
    """
    prepared = prepare_fit([(x, loss)], options_from(law, options, keywords), name_curves=False)
    return fit_prepared(prepared, _fit_alone)[0]


def _fit_alone(prepared: PreparedFit, curves: list[CurveData]) -> list[FitResult]:
    rng = np.random.default_rng(prepared.options.seed)
    return fit_rows(prepared, curves, rng, polish=refine_with_lmfit)


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
