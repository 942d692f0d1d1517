"""From validated curves to solved problems and FitResults: padding, multi-start, bootstrap.

Shared by fit_curve, fit_batch and fit_joint so the robust procedure exists once:
starts from the law's guess on a log-spaced subsample (cheap), Levenberg-Marquardt on the
subsample, then on every point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fitting.engine import Problem, Solution, covariance, robust_cost, solve
from fitting.laws import Law
from fitting.result import FitResult, FitStatus, available, available_interval, percentile_interval
from fitting.validation import CurveData

SUBSAMPLE_POINTS = 64
# Relative cost change at which a fit stops. IRLS converges linearly under the Huber loss;
# 1e-8 leaves parameters within ~0.5 % of a standard error of the exact optimum.
FTOL = 1e-8
# Resamples stop earlier: their spread is many standard errors wide, so 5 % of one is noise.
BOOT_FTOL = 1e-6
BOOT_BLOCK = 128
_Z95 = 1.959963984540054


def pad(law: Law, curves: Sequence[CurveData]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Stack curves into (b, m) arrays; padding repeats the last point and has mask 0."""
    m = max(c.n_points for c in curves)
    mask = np.zeros((len(curves), m))
    loss = np.ones((len(curves), m))
    inputs = {name: np.ones((len(curves), m)) for name in law.inputs}
    for i, c in enumerate(curves):
        n = c.n_points
        mask[i, :n] = 1.0
        loss[i, :n], loss[i, n:] = c.loss, c.loss[-1]
        for name in law.inputs:
            inputs[name][i, :n], inputs[name][i, n:] = c.inputs[name], c.inputs[name][-1]
    return inputs, loss, mask


def row_problem(
    law: Law, inputs: dict[str, np.ndarray], loss: np.ndarray, mask: np.ndarray, fixed: Mapping[str, float]
) -> Problem:
    """One curve per row; column j is law parameter j."""
    columns = {p.name: np.array([j]) for j, p in enumerate(law.params)}
    free = np.array([p.name not in fixed for p in law.params])
    return Problem(law=law, inputs=with_logs(inputs), log_loss=np.log(loss), mask=mask, columns=columns, free=free)


def with_logs(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add "log_<name>" for every input: laws read it instead of taking logs every step."""
    return {**inputs, **{f"log_{k}": np.log(v) for k, v in inputs.items() if not k.startswith("log_")}}


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
    else:  # unordered multi-input data: evenly spaced in index
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
        inputs={name: np.broadcast_to(v, (b, m))[rows, idx] for name, v in problem.inputs.items()},
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


def solve_rows(problem: Problem, fixed: Mapping[str, float], loss_fn: str, delta: float) -> Solution:
    """Multi-start robust fit of every row of a row problem."""
    law = problem.law
    sub = subsample(problem)
    exp_loss = np.exp(sub.log_loss)
    guesses = law.guess({k: np.broadcast_to(v, exp_loss.shape) for k, v in sub.inputs.items()}, exp_loss, sub.mask)
    starts = to_internal(law, guesses)
    for j, p in enumerate(law.params):
        if p.name in fixed:
            starts[..., j] = p.to_internal(fixed[p.name])
    theta = best_start(sub, starts, loss_fn, delta)
    if sub is not problem:
        theta = solve(sub, theta, loss_fn=loss_fn, delta=delta, ftol=FTOL).theta
    return solve(problem, theta, loss_fn=loss_fn, delta=delta, ftol=FTOL)


def bootstrap_rows(
    problem: Problem,
    solution: Solution,
    row: int,
    n_boot: int,
    rng: np.random.Generator,
    loss_fn: str,
    delta: float,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Residual bootstrap of one row in log space: (n_boot, P) internal parameter samples.

    Residuals are resampled within each curve (group) so joint fits keep each curve's noise.
    """
    one = problem.rows(np.array([row]))
    valid = np.flatnonzero(one.mask[0] > 0)
    fitted = one.log_model(solution.theta[row : row + 1])[0]
    resid = solution.residuals[row]
    log_loss = np.repeat(one.log_loss, n_boot, axis=0)
    labels = np.zeros(len(valid), dtype=int) if groups is None else groups[valid]
    for g in np.unique(labels):
        pts = valid[labels == g]
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
    return np.concatenate(chunks)


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
) -> FitResult:
    """A FitResult from one curve's internal parameters (P,), covariance (P, P) and residuals."""
    names = law.param_names
    natural = to_natural(law, theta)
    params = {n: float(v) for n, v in zip(names, natural, strict=True)}
    var = np.diagonal(cov)
    stderr, ci = {}, {}
    for j, p in enumerate(law.params):
        if not free[j]:
            stderr[p.name], ci[p.name] = 0.0, (params[p.name], params[p.name])
            continue
        se = float(np.sqrt(var[j])) if var[j] >= 0 else float("nan")
        with np.errstate(over="ignore"):  # a huge spread overflows: "not available", below
            if p.log_scale:  # delta method; the interval is symmetric in log
                stderr[p.name] = available(params[p.name] * se)
                ci[p.name] = available_interval(np.exp(theta[j] - _Z95 * se), np.exp(theta[j] + _Z95 * se))
            else:
                stderr[p.name] = available(se)
                ci[p.name] = available_interval(params[p.name] - _Z95 * se, params[p.name] + _Z95 * se)
    ci_method = "wald"
    nat_samples = None
    if samples is not None:
        nat_samples = to_natural(law, samples)
        for j, p in enumerate(law.params):
            if free[j]:
                col = nat_samples[:, j]
                col = col[np.isfinite(col)]
                ci[p.name] = percentile_interval(col) if col.size else (np.nan, np.nan)
        ci_method = "bootstrap"
    sd = np.sqrt(np.abs(var))
    with np.errstate(invalid="ignore", divide="ignore"):  # exact fits have zero spread
        corr = {
            a: {b: float(cov[i, k] / (sd[i] * sd[k])) for k, b in enumerate(names) if k != i and free[k]}
            for i, a in enumerate(names)
            if free[i]
        }
    ss_res = float((residuals**2).sum())
    ss_tot = float(((log_loss - log_loss.mean()) ** 2).sum())
    status, message = _status(law, theta, var, free, converged)
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
        extra=dict(extra or {}),
    )


def _status(law: Law, theta: np.ndarray, var: np.ndarray, free: np.ndarray, converged: bool) -> tuple[FitStatus, str]:
    undetermined = [p.name for j, p in enumerate(law.params) if free[j] and not np.isfinite(var[j])]
    if undetermined:
        return FitStatus.UNIDENTIFIABLE, f"not determined by the data: {', '.join(undetermined)}"
    at_bound = []
    for j, p in enumerate(law.params):
        lo, hi = p.internal_bounds
        if free[j] and p.log_scale and (theta[j] <= lo + 1e-6 or theta[j] >= hi - 1e-6):
            at_bound.append(p.name)
    if at_bound:
        return FitStatus.UNIDENTIFIABLE, f"ran to a bound: {', '.join(at_bound)}"
    if not converged:
        return FitStatus.NOT_CONVERGED, "iteration limit reached before convergence"
    return FitStatus.CONVERGED, ""


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
    delta: float,
    n_boot: int,
    rng: np.random.Generator,
) -> list[FitResult]:
    cov = covariance(problem, solution, loss_fn=loss_fn, delta=delta)
    out = []
    for i, data in enumerate(curves):
        n = data.n_points
        samples = bootstrap_rows(problem, solution, i, n_boot, rng, loss_fn, delta) if n_boot else None
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
            )
        )
    return out
