"""From solved rows to FitResults: parameters, intervals, r^2, correlations and the status.

A block's numbers come from whole-array passes (`block_stats`); each curve's FitResult is then
assembled from Python floats. Done per curve with numpy, the same arithmetic cost a fifth of
fit_batch, almost all of it numpy's per-call overhead on arrays of three numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fitting.binned import binned_note
from fitting.engine import BAD_RESIDUAL, Problem, Solution, covariance
from fitting.law_types import Law
from fitting.pipeline import bootstrap_rows, to_natural
from fitting.result import FitResult, FitStatus, available, available_interval, percentile_interval, with_estimate
from fitting.validation import CurveData
from fitting.verdict import Verdict, judge_rows

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class CurveStats:
    """One curve's numbers that a FitResult is made of, as Python floats (P parameters)."""

    internal: list[float]  # the solution, internal units
    natural: list[float]
    var: list[float]  # the covariance's diagonal, internal units
    corr: list[list[float]]  # (P, P)
    ss_res: float  # sum of squared log-loss residuals
    ss_tot: float  # sum of squared log-loss deviations from their mean
    at_bound: list[bool]  # each parameter pushed onto its box


def block_stats(
    law: Law, theta: np.ndarray, cov: np.ndarray, residuals: np.ndarray, log_loss: np.ndarray, valid: np.ndarray
) -> list[CurveStats]:
    """Per row: theta (b, P), cov (b, P, P), residuals, log_loss and valid (b, m)."""
    var = np.diagonal(cov, axis1=1, axis2=2)
    sd = np.sqrt(np.abs(var))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # exact fits have zero spread
        corr = cov / (sd[:, :, None] * sd[:, None, :])
    n = np.maximum(valid.sum(axis=1), 1)
    whole = bool(valid.all())  # no padding: no masking passes (sums of squares by einsum, no temporaries)
    r = residuals if whole else np.where(valid, residuals, 0.0)
    y = log_loss if whole else np.where(valid, log_loss, 0.0)
    deviation = y - (y.sum(axis=1) / n)[:, None]
    if not whole:
        deviation = np.where(valid, deviation, 0.0)
    ss_res, ss_tot = np.einsum("ij,ij->i", r, r), np.einsum("ij,ij->i", deviation, deviation)
    columns = zip(
        theta.tolist(),
        to_natural(law, theta).tolist(),
        var.tolist(),
        corr.tolist(),
        ss_res.tolist(),
        ss_tot.tolist(),
        at_bounds(law, theta).tolist(),
        strict=True,
    )
    return [CurveStats(*row) for row in columns]


def curve_stats(
    law: Law, theta: np.ndarray, cov: np.ndarray, residuals: np.ndarray, log_loss: np.ndarray
) -> CurveStats:
    """block_stats of one curve: theta (P,), cov (P, P), residuals and log_loss (m,), every point valid."""
    valid = np.ones((1, len(residuals)), dtype=bool)
    return block_stats(law, theta[None], cov[None], residuals[None], log_loss[None], valid)[0]


def at_bounds(law: Law, theta: np.ndarray) -> np.ndarray:
    """(b, P): the parameters a fit pushed onto their box. The data wanted them further, so their
    value is the box's. The engine projects onto a bound exactly; lmfit's refinement may stop a
    hair inside it, hence the tolerance (relative for log-scale parameters, whose units are logs)."""
    out = np.zeros(theta.shape, dtype=bool)
    for j, p in enumerate(law.params):
        lo, hi = p.internal_bounds
        u = theta[:, j]
        if p.log_scale:
            out[:, j] = (u <= lo + 1e-6) | (u >= hi - 1e-6)
        else:
            out[:, j] = (np.abs(u - lo) <= 1e-9 * max(1.0, abs(lo))) | (np.abs(u - hi) <= 1e-9 * max(1.0, abs(hi)))
    return out


def build_result(
    law: Law,
    stats: CurveStats,
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
    verdict: Verdict | None = None,
) -> FitResult:
    """A FitResult from one curve's stats; samples: its resamples (B, P) in internal units;
    resample_bins: the bins they were refitted on (0: every point), said in its message."""
    names = law.param_names
    is_free = free.tolist()
    params = dict(zip(names, stats.natural, strict=True))
    stderr, ci = {}, {}
    for p, u, v, value, free_j in zip(law.params, stats.internal, stats.var, stats.natural, is_free, strict=True):
        if not free_j:
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
            if is_free[j]:
                col = nat_samples[:, j]
                col = col[np.isfinite(col)]
                ci[p.name] = with_estimate(params[p.name], *percentile_interval(col)) if col.size else (np.nan, np.nan)
        ci_method = "bootstrap"
    r = stats.corr
    corr = {
        a: {b: r[i][k] for k, b in enumerate(names) if k != i and is_free[k]} for i, a in enumerate(names) if is_free[i]
    }
    status, message = _status(law, stats, is_free, converged)
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
        r2=1.0 - stats.ss_res / stats.ss_tot if stats.ss_tot > 0 else math.nan,
        rmse=math.sqrt(stats.ss_res / max(n_points, 1)),
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
        verdict=verdict if all(map(math.isfinite, stats.natural)) else None,
    )


def _status(law: Law, stats: CurveStats, free: list[bool], converged: bool) -> tuple[FitStatus, str]:
    names = law.param_names
    undetermined = [n for n, f, v in zip(names, free, stats.var, strict=True) if f and not math.isfinite(v)]
    if undetermined:
        return FitStatus.UNIDENTIFIABLE, f"not determined by the data: {', '.join(undetermined)}"
    at_bound = [n for n, f, b in zip(names, free, stats.at_bound, strict=True) if f and b]
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
    stats = block_stats(problem.law, solution.theta, cov, solution.residuals, problem.log_loss, problem.mask > 0)
    verdicts = solver_verdicts(problem, solution)
    out = []
    for i, data in enumerate(curves):
        samples, bins = None, np.zeros(1, dtype=int)
        if n_boot:
            samples, bins = bootstrap_rows(problem, solution, i, n_boot, rng, loss_fn, scale[i], bins=resample_bins)
        out.append(
            build_result(
                problem.law,
                stats[i],
                n_points=data.n_points,
                x_range=data.x_range,
                converged=bool(solution.converged[i]),
                nfev=int(solution.nfev[i]),
                free=problem.free,
                loss_fn=loss_fn,
                fixed=fixed,
                samples=samples,
                extra=robust_extra(loss_fn, scale[i]),
                resample_bins=int(bins[0]),
                verdict=verdicts[i],
            )
        )
    return out


def solver_verdicts(problem: Problem, solution: Solution) -> list[Verdict | None]:
    """Each row's verdict (fitting/verdict.py) from the solver's own residuals, where the rows share
    one increasing row of points and none is padded (pipeline.pad's shared inputs: runs logged at
    the same steps); None for a row left to entry.with_verdicts, which would otherwise evaluate
    the law again at every point to get the same residuals."""
    x = problem.inputs[problem.law.inputs[0]]
    b = len(solution.residuals)
    if (
        x.shape[0] != 1
        or x.ndim != 2
        or not problem.all_valid
        or problem.group is not None
        or problem.weight is not None
    ):
        return [None] * b
    if np.any(np.diff(x[0]) < 0):
        return [None] * b
    r = solution.residuals
    ok = np.abs(r).max(axis=1) < BAD_RESIDUAL  # no stand-in for a bad value (NaN and inf compare False too)
    judged = iter(judge_rows(x[0], -r[ok], problem.log_loss[ok]) if ok.any() else [])
    return [next(judged) if row_ok else None for row_ok in ok.tolist()]


def robust_extra(loss_fn: str, scale: np.ndarray) -> dict[str, float]:
    """What a robust fit reports beside its parameters: the scale delta it used, in log-loss units."""
    return {} if loss_fn == "linear" else {"delta": float(np.asarray(scale).reshape(-1)[0])}
