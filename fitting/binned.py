"""Resamples of long curves refitted on log-spaced bins; the estimate itself uses every point.

A bootstrap refits the law to every resample, so its cost grows with points x resamples: on three
curves of 34k points, 49 resamples were two thirds of a comparison's 20 s. Past BIN_ABOVE points a
curve's resamples are drawn at every point as before (its own residuals, independently or by the
AR(1) sieve, fitting/resampling.py), then averaged into at most BINS bins evenly spaced in log x
and refitted there, each bin at its points' mean x. A point enters its bin through its robust
loss: the bin's value is the fitted curve plus sum psi(e) / sum psi'(e) and its weight
sum psi'(e) (psi' floored as the engine floors it), so to first order in the noise a weighted
least-squares fit to the bins takes the same step as the robust fit to every point would (the
M-estimator's linearisation), while keeping the law's curvature in its parameters, which is what
percentile intervals are for. Bins are narrow (a 34k-point curve: 0.02 in log x) against the
bends of a loss curve. The cost then grows with bins x resamples, whatever the curve's length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fitting.engine import Problem, Scale, newton_terms, solve
from fitting.resampling import CORRELATED, Sieve, lag1

BIN_ABOVE = 2000  # points of a curve past which its resamples are refitted on bins
BINS = 500  # log-spaced bins per curve (fewer where they would be empty)
_DRAWS_AT_ONCE = 16  # resamples drawn at every point at a time: bounds the memory to ~16 x points


@dataclass(frozen=True)
class CurveBins:
    """One curve's bins: `points` its valid points' positions in the row (increasing x), `first`
    each bin's first entry in `points`, `columns` the bins' columns among the row's bins."""

    points: np.ndarray
    first: np.ndarray
    columns: slice


def needs_bins(problem: Problem, labels: np.ndarray, bins: int | None) -> bool:
    """Whether a row's resamples are refitted on bins: `bins` 0 says never; laws of one input
    only (bins in log x), and only where some curve of the row has more than BIN_ABOVE points."""
    if bins == 0 or len(problem.law.inputs) != 1:
        return False
    return bool(np.bincount(labels).max() > (BIN_ABOVE if bins is None else 2 * bins))


def make_bins(log_x: np.ndarray, valid: np.ndarray, labels: np.ndarray, bins: int) -> list[CurveBins]:
    """Each curve's (label's) valid points in at most `bins` bins evenly spaced in its log x;
    curves with few points keep one bin per point. Points of a curve are in increasing x."""
    out, start = [], 0
    for g in np.unique(labels):
        pts = valid[labels == g]
        if pts.size <= bins:
            first = np.arange(pts.size)
        else:
            u = log_x[pts]
            edges = np.linspace(u[0], u[-1], bins + 1)
            which = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, bins - 1)
            first = np.flatnonzero(np.concatenate([[True], which[1:] != which[:-1]]))  # non-empty bins
        out.append(CurveBins(pts, first, slice(start, start + first.size)))
        start += first.size
    return out


def bootstrap_binned(
    one: Problem,
    theta: np.ndarray,
    residuals: np.ndarray,
    labels: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    loss_fn: str,
    delta: Scale,
    bins: int | None,
    ftol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(n_boot, P) internal samples of a one-row problem, fitted on bins; and each curve's bins.

    theta (1, P): the fit to every point; residuals (m,) its residuals; labels (valid points,)
    the curve of each valid point (0 for a curve fitted alone)."""
    valid = np.flatnonzero(one.mask[0] > 0)
    name = one.law.inputs[0]
    x = np.broadcast_to(one.inputs[name], one.log_loss.shape)[0]
    curves = make_bins(np.log(x), valid, labels, BINS if bins is None else bins)
    n_bins = curves[-1].columns.stop
    counts = [np.diff([*c.first, c.points.size]) for c in curves]
    mean_x = np.concatenate([np.add.reduceat(x[c.points], c.first) / n for c, n in zip(curves, counts, strict=True)])
    group = None if one.group is None else np.repeat(np.unique(labels), [c.first.size for c in curves])
    inputs = {name: mean_x[None, :], f"log_{name}": np.log(mean_x)[None, :]}
    shape = Problem(
        law=one.law, inputs=inputs, log_loss=np.zeros((1, n_bins)), mask=np.ones((1, n_bins)),
        columns=one.columns, free=one.free, group=group,
    )  # fmt: skip
    psi_sum, weight = np.empty((n_boot, n_bins)), np.empty((n_boot, n_bins))
    n_free = int(one.free.sum())
    scale = float(np.asarray(delta).reshape(-1)[0])  # the row's one scale
    for c in curves:
        resid = residuals[c.points]
        sieve = Sieve(resid, n_free) if lag1(resid) > CORRELATED else None
        # each residual's psi and Newton weight psi', floored as the engine's steps floor it
        psi_r, h_r = newton_terms(resid, loss_fn, scale)  # independent draws pick these
        for start in range(0, n_boot, _DRAWS_AT_ONCE):
            rows = slice(start, min(start + _DRAWS_AT_ONCE, n_boot))
            draws = rows.stop - rows.start
            if sieve is not None:  # remembered noise: an AR(1) sieve, then each draw through the loss
                psi, h = newton_terms(sieve.draws(rng, draws), loss_fn, scale)
            else:
                picks = rng.integers(0, resid.size, size=(draws, resid.size))
                psi, h = psi_r[picks], h_r[picks]
            psi_sum[rows, c.columns] = np.add.reduceat(psi, c.first, axis=1)
            weight[rows, c.columns] = np.add.reduceat(h, c.first, axis=1)
    value = shape.log_model(theta) + psi_sum / weight
    boot = Problem(
        law=one.law, inputs=inputs, log_loss=value, mask=np.ones_like(value), columns=one.columns,
        free=one.free, group=group, weight=np.sqrt(weight),
    )  # fmt: skip
    samples = solve(boot, np.repeat(theta, n_boot, axis=0), loss_fn="linear", ftol=ftol).theta
    return samples, np.array([c.first.size for c in curves])


def binned_note(n_bins: int, n_points: int, n_boot: int) -> str:
    """What a result says of intervals whose resamples were refitted on bins."""
    return (
        f"intervals: {n_boot} resamples refitted on {n_bins} log-spaced bins of the {n_points} points "
        "(the estimate uses every point)"
    )


def resample_points(n_points: int, n_inputs: int = 1, bins: int | None = None) -> int:
    """The points one resample of a curve of n_points is refitted on (at most; the work a request
    asks for is counted by it). n_inputs: the law's; bins: as FitOptions.resample_bins."""
    if bins == 0 or n_inputs != 1 or n_points <= (BIN_ABOVE if bins is None else 2 * bins):
        return n_points
    return BINS if bins is None else bins
