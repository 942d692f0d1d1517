"""From validated curves to solved problems: padding, multi-start, scale rounds, bootstrap (FitResults: assemble.py).

Shared by fit_curve, fit_batch and fit_joint so the robust procedure exists once:
starts from the law's guess scored on a log-spaced subsample (cheap), Levenberg-Marquardt on the
subsample, then on every point, each with the robust scale estimated from the residuals unless
the caller gave one (solve_scaled).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fitting.binned import bootstrap_binned, needs_bins
from fitting.engine import Problem, Scale, Solution, estimate_scale, robust_cost, solve
from fitting.law_types import Law
from fitting.resampling import CORRELATED, ar1_draws, lag1
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
# The fit on the subsample only starts the fit on every point, which converges to FTOL itself:
# at 1e-3 the final estimates move by a median 4e-4 of a standard error (at most 0.07 over 4,096
# curves) against a start converged to FTOL, and the straggling subsample rows stop crawling.
START_FTOL = 1e-3
# Resamples stop earlier: their spread is many standard errors wide, so 5 % of one is noise.
BOOT_FTOL = 1e-6
BOOT_BLOCK = 128
_Z95 = 1.959963984540054


def pad(law: Law, curves: Sequence[CurveData]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Stack curves into (b, m) arrays; padding repeats the last point and has mask 0.

    A derived input with more axes, (n, K), becomes (b, m, K_max), its missing entries zero.
    Curves that all share the first one's points (runs logged at the same steps) share its inputs:
    each becomes one (1, m) row, which every pass over the block then reads once."""
    m = max(c.n_points for c in curves)
    if _same_points(curves):
        loss = np.stack([c.loss for c in curves])
        return {name: v[None] for name, v in curves[0].inputs.items()}, loss, np.ones_like(loss)
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


def _same_points(curves: Sequence[CurveData]) -> bool:
    """Every curve has the first's points: 1-D inputs, equal (the same arrays, or the same bytes:
    a quarter of np.array_equal's time, and values that differ only in a zero's sign are merely
    not shared)."""
    first = curves[0]
    if any(v.ndim != 1 for v in first.inputs.values()):
        return False
    keys = {name: v.tobytes() for name, v in first.inputs.items()}
    for c in curves[1:]:
        if c.n_points != first.n_points:
            return False
        for name, v in first.inputs.items():
            w = c.inputs[name]
            if w is not v and (w.dtype != v.dtype or w.tobytes() != keys[name]):
                return False
    return True


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
    # rows on one row of points, none padded (pad's shared inputs): one row's choice serves all
    name = problem.law.inputs[0]
    shared = problem.all_valid and problem.inputs[name].shape[0] == 1
    valid = problem.mask[:1] > 0 if shared else problem.mask > 0
    first = problem.inputs[name] if shared else np.broadcast_to(problem.inputs[name], (b, m))
    if len(problem.law.inputs) == 1:
        lx = np.log(first)
        lo = np.where(valid, lx, np.inf).min(axis=1, keepdims=True)
        hi = np.where(valid, lx, -np.inf).max(axis=1, keepdims=True)
        pos = (lx - lo) / np.maximum(hi - lo, 1e-300)
    else:  # multi-input data (a schedule law's annealing is late: not log-spaced): evenly spaced in index
        pos = np.arange(m)[None, :] / np.maximum(valid.sum(axis=1, keepdims=True) - 1, 1)
    bucket = np.floor(pos * (k - 1) + 0.5)
    keep = valid & np.concatenate([np.ones((len(valid), 1), bool), bucket[:, 1:] != bucket[:, :-1]], axis=1)
    if shared:  # one choice of points, taken from every row as columns
        idx = np.flatnonzero(keep[0])
        inputs = {key: v[:, idx] for key, v in problem.inputs.items()}
        log_loss, sub_mask = problem.log_loss[:, idx], np.ones((b, idx.size))
    else:
        order = np.argsort(~keep, axis=1, kind="stable")  # kept points first, in order
        width = int(keep.sum(axis=1).max())
        gather = (np.arange(b)[:, None], order[:, :width])
        inputs = {key: np.broadcast_to(v, (b, m, *v.shape[2:]))[gather] for key, v in problem.inputs.items()}
        log_loss, sub_mask = problem.log_loss[gather], keep[gather].astype(float)
    return Problem(
        law=problem.law, inputs=inputs, log_loss=log_loss, mask=sub_mask, columns=problem.columns, free=problem.free
    )


def best_start(problem: Problem, starts: np.ndarray, loss_fn: str, delta: float) -> np.ndarray:
    """starts (S, b, P) internal -> the lowest-cost start per row (b, P); the first on a tie.

    The starts are scored as rows of one problem, in slices of about 2^20 values, rather than
    start by start: on a block's 64-point subsample a start's own pass is mostly numpy's per-call
    cost."""
    lower, upper = problem.bounds()
    n_starts, b, _ = starts.shape
    every = np.clip(starts, lower, upper)
    every[..., ~problem.free] = starts[0][:, ~problem.free]
    cost = np.empty((n_starts, b))
    per = max(1, (1 << 20) // max(problem.log_loss.size, 1))
    for first in range(0, n_starts, per):
        chunk = every[first : first + per]
        rows = problem.rows(np.tile(np.arange(b), len(chunk)))  # start k of row i: row k * b + i
        cost[first : first + per] = robust_cost(
            rows.residuals(chunk.reshape(-1, chunk.shape[-1])), rows.mask, loss_fn, delta
        ).reshape(len(chunk), b)
    cost[~np.isfinite(cost)] = np.inf
    return every[np.argmin(cost, axis=0), np.arange(b)]


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
        theta = solve_scaled(sub, theta, loss_fn, delta, ftol=START_FTOL)[0].theta
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
