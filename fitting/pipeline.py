"""From validated curves to solved problems and FitResults: padding, multi-start, bootstrap.

Shared by fit_curve, fit_batch and fit_joint so the robust procedure exists once:
starts from the law's guess scored on a log-spaced subsample (cheap), Levenberg-Marquardt on the
subsample, then on every point, each with the robust scale estimated from the residuals unless
the caller gave one (solve_scaled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from fitting.binned import binned_note, bootstrap_binned, needs_bins
from fitting.engine import Problem, Scale, Solution, covariance, estimate_scale, robust_cost, solve
from fitting.law_types import Law, Param
from fitting.resampling import CORRELATED, ar1_draws, lag1
from fitting.result import FitResult, FitStatus, available, available_interval, percentile_interval, with_estimate
from fitting.validation import CurveData

SUBSAMPLE_POINTS = 64
# Starts are scored, before any scale is known, nearly as an L1 fit (every point in the linear
# part): robust to spikes whatever the noise.
FIRST_DELTA = 1e-3
# Rounds of (fit, re-estimate the scale); they stop once no row's scale moves more than 10 %
# (Huber's efficiency is flat near its tuning constant: 1.2 or 1.5 sigma fit as well as 1.345).
SCALE_ROUNDS = 4
SCALE_RTOL = 0.1
# Relative cost change at which a fit stops. IRLS converges linearly under the Huber loss;
# 1e-8 leaves parameters within ~0.5 % of a standard error of the exact optimum.
FTOL = 1e-8
# Resamples stop earlier: their spread is many standard errors wide, so 5 % of one is noise.
BOOT_FTOL = 1e-6
BOOT_BLOCK = 128
_Z95 = 1.959963984540054


def pad(law: Law, curves: Sequence[CurveData]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Stack curves into (b, m) arrays; padding repeats the last point and has mask 0.

    A derived input with more axes, (n, K), becomes (b, m, K_max), its missing entries zero."""
    m = max(c.n_points for c in curves)
    mask = np.zeros((len(curves), m))
    loss = np.ones((len(curves), m))
    shapes = trailing_shapes(curves)
    inputs = {name: np.ones((len(curves), m, *shape)) for name, shape in shapes.items()}
    for i, c in enumerate(curves):
        n = c.n_points
        mask[i, :n] = 1.0
        loss[i, :n], loss[i, n:] = c.loss, c.loss[-1]
        for name, arr in inputs.items():
            v = widen(c.inputs[name], shapes[name])
            arr[i, :n], arr[i, n:] = v, v[-1]
    return inputs, loss, mask


def join_inputs(curves: Sequence[CurveData]) -> dict[str, np.ndarray]:
    """Every curve's points one after another in one row, (1, sum n[, K_max]) (joint fits)."""
    shapes = trailing_shapes(curves)
    return {name: np.concatenate([widen(c.inputs[name], k) for c in curves])[None] for name, k in shapes.items()}


def trailing_shapes(curves: Sequence[CurveData]) -> dict[str, tuple[int, ...]]:
    """Each input's shape after the points' axis, the largest over the curves (() for (n,) inputs)."""
    return {
        name: tuple(np.max([c.inputs[name].shape[1:] for c in curves], axis=0).tolist()) if first.ndim > 1 else ()
        for name, first in curves[0].inputs.items()
    }


def widen(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(n, *K) -> (n, *shape), zeros after each axis's own entries."""
    if v.shape[1:] == shape:  # (the usual case: np.pad's own cost, per curve, showed in fit_batch)
        return v
    return np.pad(v, [(0, 0), *((0, k - j) for j, k in zip(v.shape[1:], shape, strict=True))])


def row_problem(
    law: Law, inputs: dict[str, np.ndarray], loss: np.ndarray, mask: np.ndarray, fixed: Mapping[str, float]
) -> Problem:
    """One curve per row; column j is law parameter j."""
    columns = {p.name: np.array([j]) for j, p in enumerate(law.params)}
    free = np.array([p.name not in fixed for p in law.params])
    return Problem(law=law, inputs=with_logs(inputs), log_loss=np.log(loss), mask=mask, columns=columns, free=free)


def with_logs(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add "log_<name>" for every positive per-point input: laws read it instead of taking logs
    every step (a derived input may be signed, or per bin, and then has none)."""
    logs = {f"log_{k}": np.log(v) for k, v in inputs.items() if not k.startswith("log_") and _positive_points(v)}
    return {**inputs, **logs}


def _positive_points(v: np.ndarray) -> bool:
    return v.ndim <= 2 and bool(np.all(v > 0))


def to_internal(law: Law, natural: np.ndarray) -> np.ndarray:
    """(..., P) natural values -> internal, column j by law parameter j."""
    out = np.empty_like(natural, dtype=float)
    for j, p in enumerate(law.params):
        out[..., j] = p.to_internal(natural[..., j])
    return out


def to_natural(law: Law, internal: np.ndarray) -> np.ndarray:
    out = np.empty_like(internal, dtype=float)
    for j, p in enumerate(law.params):
        out[..., j] = p.to_natural(internal[..., j])
    return out


def subsample(problem: Problem, k: int = SUBSAMPLE_POINTS) -> Problem:
    """At most k points per row, evenly spaced in log of the first input (all rows at once)."""
    b, m = problem.log_loss.shape
    if m <= 2 * k:
        return problem
    valid = problem.mask > 0
    first = np.broadcast_to(problem.inputs[problem.law.inputs[0]], (b, m))
    if len(problem.law.inputs) == 1:
        lx = np.log(first)
        lo = np.where(valid, lx, np.inf).min(axis=1, keepdims=True)
        hi = np.where(valid, lx, -np.inf).max(axis=1, keepdims=True)
        pos = (lx - lo) / np.maximum(hi - lo, 1e-300)
    else:  # multi-input data (a schedule law's annealing is late: not log-spaced): evenly spaced in index
        pos = np.arange(m)[None, :] / np.maximum(valid.sum(axis=1, keepdims=True) - 1, 1)
    bucket = np.floor(pos * (k - 1) + 0.5)
    keep = valid & np.concatenate([np.ones((b, 1), bool), bucket[:, 1:] != bucket[:, :-1]], axis=1)
    order = np.argsort(~keep, axis=1, kind="stable")  # kept points first, in order
    width = int(keep.sum(axis=1).max())
    idx = order[:, :width]
    rows = np.arange(b)[:, None]
    sub_mask = keep[rows, idx].astype(float)
    return Problem(
        law=problem.law,
        inputs={name: np.broadcast_to(v, (b, m, *v.shape[2:]))[rows, idx] for name, v in problem.inputs.items()},
        log_loss=problem.log_loss[rows, idx],
        mask=sub_mask,
        columns=problem.columns,
        free=problem.free,
    )


def best_start(problem: Problem, starts: np.ndarray, loss_fn: str, delta: float) -> np.ndarray:
    """starts (S, b, P) internal -> the lowest-cost start per row (b, P)."""
    lower, upper = problem.bounds()
    best = np.clip(starts[0], lower, upper)
    best_cost = np.full(len(best), np.inf)
    for s in starts:
        s = np.clip(s, lower, upper)
        s[:, ~problem.free] = starts[0][:, ~problem.free]
        cost = robust_cost(problem.residuals(s), problem.mask, loss_fn, delta)
        cost = np.where(np.isfinite(cost), cost, np.inf)
        better = cost < best_cost
        best[better], best_cost[better] = s[better], cost[better]
    return best


def solve_rows(
    problem: Problem, fixed: Mapping[str, float], loss_fn: str, delta: float | None
) -> tuple[Solution, np.ndarray]:
    """Multi-start robust fit of every row of a row problem; also the scale used, (b, 1).

    delta None: the scale is estimated from the residuals (see solve_scaled)."""
    law = problem.law
    sub = subsample(problem)
    exp_loss = np.exp(sub.log_loss)
    inputs = {k: np.broadcast_to(v, exp_loss.shape + v.shape[2:]) for k, v in sub.inputs.items()}
    guesses = law.guess(inputs, exp_loss, sub.mask)
    starts = to_internal(law, guesses)
    for j, p in enumerate(law.params):
        if p.name in fixed:
            starts[..., j] = p.to_internal(fixed[p.name])
    theta = best_start(sub, starts, loss_fn, FIRST_DELTA if delta is None else delta)
    if sub is not problem:
        theta = solve_scaled(sub, theta, loss_fn, delta)[0].theta
    return solve_scaled(problem, theta, loss_fn, delta)


def solve_scaled(
    problem: Problem, theta: np.ndarray, loss_fn: str, delta: float | None, ftol: float = FTOL
) -> tuple[Solution, np.ndarray]:
    """solve() with the given delta, or with delta estimated from the residuals: fit, take the scale
    of the residuals (engine.estimate_scale), refit from there, until the scale settles."""
    if delta is not None or loss_fn == "linear":  # (the linear loss has no scale)
        solution = solve(problem, theta, loss_fn=loss_fn, delta=FIRST_DELTA if delta is None else delta, ftol=ftol)
        return solution, solution.scale
    solution = solve(problem, theta, loss_fn=loss_fn, delta=None, ftol=ftol)  # scale from theta's residuals
    n_free = int(problem.free.sum())
    for _ in range(SCALE_ROUNDS - 1):  # refit the rows whose scale moved, from where they are
        new = estimate_scale(solution.residuals, problem.mask, loss_fn, n_free)
        moved = np.flatnonzero(np.abs(new[:, 0] / solution.scale[:, 0] - 1.0) > SCALE_RTOL)
        if moved.size == 0:
            break
        again = solve(problem.rows(moved), solution.theta[moved], loss_fn=loss_fn, delta=new[moved], ftol=ftol)
        solution = _replace_rows(solution, moved, again)
    return solution, solution.scale


def _replace_rows(solution: Solution, rows: np.ndarray, new: Solution) -> Solution:
    theta, residuals, cost = solution.theta.copy(), solution.residuals.copy(), solution.cost.copy()
    converged, nfev, scale = solution.converged.copy(), solution.nfev.copy(), solution.scale.copy()
    theta[rows], residuals[rows], cost[rows] = new.theta, new.residuals, new.cost
    converged[rows], nfev[rows], scale[rows] = new.converged, nfev[rows] + new.nfev, new.scale
    jacobian = None
    if solution.jacobian is not None and new.jacobian is not None:
        jacobian = solution.jacobian.copy()
        jacobian[rows] = new.jacobian
    return Solution(theta, residuals, cost, converged, nfev, scale, jacobian)


def bootstrap_rows(
    problem: Problem,
    solution: Solution,
    row: int,
    n_boot: int,
    rng: np.random.Generator,
    loss_fn: str,
    delta: Scale,
    groups: np.ndarray | None = None,
    bins: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Residual bootstrap of one row in log space: (n_boot, P) internal parameter samples, and the
    bins each curve's resamples were refitted on (0: every point), one per curve of the row.

    Residuals are resampled within each curve (group) so joint fits keep each curve's noise: drawn
    independently where they are uncorrelated, by the AR(1) sieve where their lag-1 correlation
    passes CORRELATED (fitting/resampling.py), or the intervals would be far too narrow. A long
    curve's resamples are refitted on log-spaced bins (fitting/binned.py; `bins`: how many, None
    the default, 0 never), as their cost would grow with its points.
    """
    one = problem.rows(np.array([row]))
    valid = np.flatnonzero(one.mask[0] > 0)
    resid = solution.residuals[row]
    labels = np.zeros(len(valid), dtype=int) if groups is None else groups[valid]
    if needs_bins(one, labels, bins):
        theta = solution.theta[row : row + 1]
        return bootstrap_binned(one, theta, resid, labels, n_boot, rng, loss_fn, delta, bins, BOOT_FTOL)
    fitted = one.log_model(solution.theta[row : row + 1])[0]
    log_loss = np.repeat(one.log_loss, n_boot, axis=0)
    for g in np.unique(labels):
        pts = valid[labels == g]
        if lag1(resid[pts]) > CORRELATED:  # remembered noise: an AR(1) sieve
            log_loss[:, pts] = fitted[pts] + ar1_draws(rng, n_boot, resid[pts], int(problem.free.sum()))
        else:
            picks = rng.choice(pts, size=(n_boot, len(pts)), replace=True)
            log_loss[:, pts] = fitted[pts] + resid[picks]
    boot = Problem(
        law=one.law,
        inputs=one.inputs,
        log_loss=log_loss,
        mask=np.repeat(one.mask, n_boot, axis=0),
        columns=one.columns,
        free=one.free,
        group=one.group,
    )
    theta0 = np.repeat(solution.theta[row : row + 1], n_boot, axis=0)
    chunks = []
    for start in range(0, n_boot, BOOT_BLOCK):  # blocks keep the Jacobian in cache
        idx = np.arange(start, min(start + BOOT_BLOCK, n_boot))
        chunks.append(solve(boot.rows(idx), theta0[idx], loss_fn=loss_fn, delta=delta, ftol=BOOT_FTOL).theta)
    return np.concatenate(chunks), np.zeros(len(np.unique(labels)), dtype=int)


def build_result(
    law: Law,
    theta: np.ndarray,
    cov: np.ndarray,
    residuals: np.ndarray,
    log_loss: np.ndarray,
    *,
    n_points: int,
    x_range: tuple[float, float],
    converged: bool,
    nfev: int,
    free: np.ndarray,
    loss_fn: str,
    fixed: Mapping[str, float],
    samples: np.ndarray | None = None,
    shared: tuple[str, ...] = (),
    method: str = "robust",
    extra: Mapping[str, float] | None = None,
    resample_bins: int = 0,
) -> FitResult:
    """A FitResult from one curve's internal parameters (P,), covariance (P, P) and residuals;
    resample_bins: the bins its resamples were refitted on (0: every point), said in its message."""
    names = law.param_names
    natural = to_natural(law, theta)
    params = {n: float(v) for n, v in zip(names, natural, strict=True)}
    var = np.diagonal(cov)
    stderr, ci = {}, {}
    # Python floats and math from here: one curve's few numbers, where numpy's per-call cost shows
    for j, (p, u, v) in enumerate(zip(law.params, theta.tolist(), var.tolist(), strict=True)):
        value = params[p.name]
        if not free[j]:
            stderr[p.name], ci[p.name] = 0.0, (value, value)
            continue
        se = math.sqrt(v) if v >= 0 else math.nan  # NaN: not available
        if p.log_scale:  # delta method; the interval is symmetric in log
            stderr[p.name] = available(value * se)
            ci[p.name] = available_interval(_exp(u - _Z95 * se), _exp(u + _Z95 * se))
        else:
            stderr[p.name] = available(se)
            ci[p.name] = available_interval(value - _Z95 * se, value + _Z95 * se)
    ci_method = "wald"
    nat_samples = None
    if samples is not None:
        nat_samples = to_natural(law, samples)
        for j, p in enumerate(law.params):
            if free[j]:
                col = nat_samples[:, j]
                col = col[np.isfinite(col)]
                ci[p.name] = with_estimate(params[p.name], *percentile_interval(col)) if col.size else (np.nan, np.nan)
        ci_method = "bootstrap"
    sd = np.sqrt(np.abs(var))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # exact fits have zero spread
        r = (cov / np.outer(sd, sd)).tolist()
    corr = {a: {b: r[i][k] for k, b in enumerate(names) if k != i and free[k]} for i, a in enumerate(names) if free[i]}
    ss_res = float((residuals**2).sum())
    ss_tot = float(((log_loss - log_loss.mean()) ** 2).sum())
    status, message = _status(law, theta, var, free, converged)
    extra = dict(extra or {})
    if 0 < resample_bins < n_points and samples is not None:
        extra["resample_bins"] = float(resample_bins)
        note = binned_note(resample_bins, n_points, len(samples))
        message = f"{message}; {note}" if message else note
    return FitResult(
        law=law.name,
        params=params,
        stderr=stderr,
        ci=ci,
        r2=1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        rmse=float(np.sqrt(ss_res / max(n_points, 1))),
        n_points=n_points,
        x_range=x_range,
        status=status,
        message=message,
        nfev=nfev,
        method=method,
        loss_fn=loss_fn,
        ci_method=ci_method,
        correlations=corr,
        fixed=tuple(fixed),
        shared=shared,
        samples=nat_samples,
        extra=extra,
    )


def _status(law: Law, theta: np.ndarray, var: np.ndarray, free: np.ndarray, converged: bool) -> tuple[FitStatus, str]:
    undetermined = [p.name for j, p in enumerate(law.params) if free[j] and not np.isfinite(var[j])]
    if undetermined:
        return FitStatus.UNIDENTIFIABLE, f"not determined by the data: {', '.join(undetermined)}"
    at_bound = [p.name for j, p in enumerate(law.params) if free[j] and _on_bound(p, float(theta[j]))]
    if at_bound:
        return FitStatus.UNIDENTIFIABLE, f"ran to a bound: {', '.join(at_bound)}"
    if not converged:
        return FitStatus.NOT_CONVERGED, "iteration limit reached before convergence"
    return FitStatus.CONVERGED, ""


def _exp(u: float) -> float:
    """exp, with an overflow as infinity (which `available` turns into "not available")."""
    try:
        return math.exp(u)
    except OverflowError:
        return math.inf


def _on_bound(p: Param, internal: float) -> bool:
    """A parameter the fit pushed onto its box: the data wanted it further, so its value is the box's.

    The engine projects onto a bound exactly; lmfit's refinement may stop a hair inside it."""
    lo, hi = p.internal_bounds
    if p.log_scale:  # internal units are logs: a relative distance
        return internal <= lo + 1e-6 or internal >= hi - 1e-6
    return any(abs(internal - edge) <= 1e-9 * max(1.0, abs(edge)) for edge in (lo, hi))


def constant_result(law: Law, data: CurveData, method: str, loss_fn: str) -> FitResult:
    """A flat curve determines no rate: status unidentifiable, parameters NaN."""
    nan = float("nan")
    return FitResult(
        law=law.name,
        params=dict.fromkeys(law.param_names, nan),
        stderr=dict.fromkeys(law.param_names, nan),
        ci={n: (nan, nan) for n in law.param_names},
        r2=nan,
        rmse=nan,
        n_points=data.n_points,
        x_range=data.x_range,
        status=FitStatus.UNIDENTIFIABLE,
        message=f"constant curve (loss {data.loss[0]:g} everywhere): no parameter of {law.name} is determined",
        method=method,
        loss_fn=loss_fn,
    )


def results_for_rows(
    problem: Problem,
    solution: Solution,
    curves: Sequence[CurveData],
    fixed: Mapping[str, float],
    loss_fn: str,
    scale: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    resample_bins: int | None = None,
) -> list[FitResult]:
    """scale: the robust scale each row was fitted with, (b, 1); resamples keep their row's.
    resample_bins: bins a long curve's resamples are refitted on (None: the default, 0: never)."""
    cov = covariance(problem, solution, loss_fn=loss_fn, delta=scale)
    out = []
    for i, data in enumerate(curves):
        n = data.n_points
        samples, bins = None, np.zeros(1, dtype=int)
        if n_boot:
            samples, bins = bootstrap_rows(problem, solution, i, n_boot, rng, loss_fn, scale[i], bins=resample_bins)
        out.append(
            build_result(
                problem.law,
                solution.theta[i],
                cov[i],
                solution.residuals[i, :n],
                problem.log_loss[i, :n],
                n_points=n,
                x_range=data.x_range,
                converged=bool(solution.converged[i]),
                nfev=int(solution.nfev[i]),
                free=problem.free,
                loss_fn=loss_fn,
                fixed=fixed,
                samples=samples,
                extra=robust_extra(loss_fn, scale[i]),
                resample_bins=int(bins[0]),
            )
        )
    return out


def robust_extra(loss_fn: str, scale: np.ndarray) -> dict[str, float]:
    """What a robust fit reports beside its parameters: the scale delta it used, in log-loss units."""
    return {} if loss_fn == "linear" else {"delta": float(np.asarray(scale).reshape(-1)[0])}
