"""The Learning-Law paper's own fitting procedure for L0 + (B/x)^beta.

Grid over the warm-up t0 and L0; for each pair, ordinary regression of ln(L - L0) on ln x for
x >= t0 (slope -beta, intercept beta ln B); keep the pair with the highest (most negative)
correlation. With several curves L0 and t0 are shared and the mean correlation is maximised.

Where it falls short of the robust method: a single spike bends the least-squares line; the
correlation criterion prefers short, straight tails (it may drop informative early points);
L0 only ever takes grid values; and it gives no covariance for L0. Intervals from `bootstrap`
hold t0 and L0 at their chosen values (regression uncertainty only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fitting.errors import FitImpossibleError
from fitting.law_types import Law
from fitting.result import FitResult, FitStatus, available, available_interval, percentile_interval, with_estimate
from fitting.validation import CurveData

L0_GRID = 200
T0_GRID = 16
_Z95 = 1.959963984540054


def fit_paper(
    data: Sequence[CurveData],
    law: Law,
    *,
    fixed: Mapping[str, float],
    x_min: float | None,
    bootstrap: int,
    seed: int,
    shared: Sequence[str],
) -> list[FitResult]:
    """step_power fitted to curves that are not constant (entry.fit_prepared checks the options
    and sets constant curves aside); L0 and t0 shared when `shared` has L0, else each curve alone."""
    if len(data) > 1 and "L0" not in shared:
        return [
            fit_paper([d], law, fixed=fixed, x_min=x_min, bootstrap=bootstrap, seed=seed, shared=())[0] for d in data
        ]
    t0, l0 = _search(data, fixed.get("L0"), x_min)
    rng = np.random.default_rng(seed)
    beta_max = law.param("beta").upper
    shared_here = tuple(shared) if len(data) > 1 else ()
    return [_result(d, t0, l0, "L0" in fixed, bootstrap, rng, shared_here, beta_max) for d in data]


def _candidates_t0(data: Sequence[CurveData], x_min: float | None) -> np.ndarray:
    if x_min is not None:  # the range already starts at x_min
        return np.array([-np.inf])
    shortest = min(data, key=lambda d: d.n_points)
    xs = shortest.inputs["x"]
    # cut points up to the median step, keeping at least half of every curve
    return np.concatenate([[-np.inf], np.geomspace(xs[1], np.median(xs), T0_GRID - 1)])


def _search(data: Sequence[CurveData], fixed_l0: float | None, x_min: float | None) -> tuple[float, float]:
    best = (-np.inf, -np.inf, 0.0)  # (score, t0, L0)
    for t0 in _candidates_t0(data, x_min):
        kept = [(np.log(d.inputs["x"][d.inputs["x"] >= t0]), d.loss[d.inputs["x"] >= t0]) for d in data]
        if min(len(y) for _, y in kept) < 3:
            continue
        top = min(float(y.min()) for _, y in kept)
        grid = np.array([fixed_l0]) if fixed_l0 is not None else top * np.linspace(0.0, 1.0 - 1e-4, L0_GRID)
        score = np.mean([_correlation(lx, y, grid) for lx, y in kept], axis=0)
        if np.all(np.isnan(score)):  # e.g. x values so close that their logs are equal
            continue
        if fixed_l0 is None:  # one finer pass around the best coarse value
            k = int(np.nanargmax(-score))
            fine = np.linspace(grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)], 101)
            grid = np.concatenate([grid, fine])
            score = np.concatenate([score, np.mean([_correlation(lx, y, fine) for lx, y in kept], axis=0)])
        k = int(np.nanargmax(-score))
        if -score[k] > best[0]:
            best = (-score[k], float(t0), float(grid[k]))
    if not np.isfinite(best[0]):
        raise FitImpossibleError("no (t0, L0) gives a finite log-linear regression", field="loss")
    return best[1], best[2]


def _correlation(lx: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Pearson correlation of ln x with ln(L - L0), for every L0 in grid: (G,)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ly = np.log(y[None, :] - grid[:, None])
        dx = lx - lx.mean()
        dy = ly - ly.mean(axis=1, keepdims=True)
        return (dy @ dx) / np.sqrt((dy**2).sum(axis=1) * (dx**2).sum())


def _regress(lx: np.ndarray, ly: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise OLS of ly (R, n) on lx (n,): slope, intercept, residuals."""
    dx = lx - lx.mean()
    slope = (ly - ly.mean(axis=-1, keepdims=True)) @ dx / (dx**2).sum()
    intercept = ly.mean(axis=-1) - slope * lx.mean()
    resid = ly - (intercept[..., None] + slope[..., None] * lx)
    return slope, intercept, resid


def _result(
    d: CurveData,
    t0: float,
    l0: float,
    l0_fixed: bool,
    bootstrap: int,
    rng: np.random.Generator,
    shared: tuple[str, ...],
    beta_max: float,
) -> FitResult:
    keep = d.inputs["x"] >= t0
    x, loss = d.inputs["x"][keep], d.loss[keep]
    n = len(x)
    # Hostile curves (a rising loss, losses near the float limits) overflow here: what overflowed
    # is reported as not available (NaN) and the status says why.
    with np.errstate(all="ignore"):
        lx, ly = np.log(x), np.log(loss - l0)
        slopes, intercepts, resids = _regress(lx, ly[None, :])
        slope, intercept, resid = float(slopes[0]), float(intercepts[0]), resids[0]
        beta = -slope
        log_b = intercept / beta
        s2 = float((resid**2).sum() / max(n - 2, 1))
        sxx = float(((lx - lx.mean()) ** 2).sum())
        var_slope = s2 / sxx
        var_int = s2 * (1.0 / n + lx.mean() ** 2 / sxx)
        cov_int_slope = -s2 * lx.mean() / sxx
        # ln B = intercept / beta = -intercept / slope: delta method
        g_int, g_slope = -1.0 / slope, intercept / slope**2
        var_log_b = g_int**2 * var_int + g_slope**2 * var_slope + 2 * g_int * g_slope * cov_int_slope
        params = {"L0": l0, "B": available(np.exp(log_b)), "beta": beta}
        se_log_b = float(np.sqrt(max(var_log_b, 0.0)))
        se_beta = available(np.sqrt(var_slope))
        stderr = {"L0": 0.0 if l0_fixed else float("nan"), "B": available(params["B"] * se_log_b), "beta": se_beta}
        ci = {
            "L0": (l0, l0) if l0_fixed else (float("nan"), float("nan")),
            "B": available_interval(np.exp(log_b - _Z95 * se_log_b), np.exp(log_b + _Z95 * se_log_b)),
            "beta": available_interval(beta - _Z95 * se_beta, beta + _Z95 * se_beta),
        }
        samples, ci_method = None, "wald"
        if bootstrap:
            picks = rng.integers(0, n, size=(bootstrap, n))
            fitted = ly - resid
            b_slope, b_int, _ = _regress(lx, fitted[None, :] + resid[picks])
            b_beta = -b_slope
            samples = np.stack([np.full(bootstrap, l0), np.exp(b_int / b_beta), b_beta], axis=1)
            for j, name in ((1, "B"), (2, "beta")):
                col = samples[:, j][np.isfinite(samples[:, j])]
                value = float(np.exp(log_b)) if name == "B" else float(beta)
                interval = with_estimate(value, *percentile_interval(col)) if col.size else (np.nan, np.nan)
                ci[name] = available_interval(*interval)
            ci_method = "bootstrap"
        model = np.logaddexp(np.log(l0), beta * (log_b - lx))  # log(L0 + (B/x)^beta), no overflow
        r_log = model - np.log(loss)
        ss_tot = float(((np.log(loss) - np.log(loss).mean()) ** 2).sum())
        corr = float(-np.sqrt(max(0.0, 1.0 - float((resid**2).sum()) / float(((ly - ly.mean()) ** 2).sum()))))
        r2 = available(1.0 - float((r_log**2).sum()) / ss_tot) if ss_tot > 0 else float("nan")
        rmse = available(np.sqrt(np.mean(r_log**2)))
    status, message = FitStatus.CONVERGED, "t0 and L0 from a grid; L0 has no standard error"
    if not beta > 0:
        status, message = FitStatus.UNIDENTIFIABLE, f"the loss does not fall with x (log-linear slope {slope:.3g})"
    elif beta > beta_max:  # e.g. points at (nearly) one x: any fall of the loss is an endless slope
        status = FitStatus.UNIDENTIFIABLE
        message = (
            f"beta = {beta:.3g} is above step_power's bound {beta_max:g}: no power law fits the fall of the loss "
            f"over x from {x[0]:.17g} to {x[-1]:.17g}"
        )
    elif not np.isfinite(params["B"]):
        status, message = FitStatus.UNIDENTIFIABLE, f"B = exp({log_b:.3g}) is beyond the float range"
    return FitResult(
        law="step_power",
        params=params,
        stderr=stderr,
        ci=ci,
        r2=r2,
        rmse=rmse,
        n_points=n,
        x_range=(float(x[0]), float(x[-1])),
        status=status,
        message=message,
        nfev=0,
        method="paper",
        loss_fn="linear",
        ci_method=ci_method,
        fixed=("L0",) if l0_fixed else (),
        shared=shared,
        samples=samples,
        extra={"t0": float(x[0]) if t0 == -np.inf else t0, "corr": available(corr), "r2_loglinear": available(corr**2)},
    )
