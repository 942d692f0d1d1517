"""Speed-ups read off measured loss curves, without a law (Gu et al. 2024, §4, "empirically").

AR(T) = T / min{t : L2(t) <= L1(T)} taken from raw points is decided by single noisy points: a
curve against itself reads up to 2.7 at 1-3 % noise. Here each curve is first replaced by a
smoothed, monotone version of itself, and levels and crossings are read off that
(docs/measured-ar.md has the reasons and the figures):

1. Robust local-quadratic regression of log L on log x, evaluated on a grid of up to 400 knots
   in log x: tricube weights within a half-width in log x (or over the nearest 8 points where
   the curve is sparser), and Huber weights (1.345 MAD) from a pilot fit of half-width 0.4 that
   take spikes out. Quadratic because loss curves bend in log-log space when L0 > 0; its bias is
   of third order, so wide windows stay nearly unbiased. Curves over 4,000 points are first
   averaged into 4,000 log-spaced bins, weighted by their counts.
2. Each knot takes its own half-width (Lepski's method): the widest of 0.05, 0.1, ..., 3.2 whose
   value stays within 3 standard errors of every narrower fit's, so a clean curve keeps narrow
   windows and a noisy one gets wide ones.
3. Pool adjacent violators makes the smoothed curve non-increasing; the pooled blocks are joined
   linearly between their centres, so it is strictly decreasing and every level is crossed once.
   AR(T) reads the baseline's level at T and the candidate's first crossing of it; a speed-up at
   a target loss, the ratio of the two curves' crossings.
4. Interval: a dependent wild bootstrap of the residuals (one random sign per block of
   consecutive points, at least n^(1/3) long, longer when the residuals are correlated, at most a
   tenth of the curve: the noise keeps its local correlation and its size along the curve), each
   resample smoothed again (choosing its own widths), made monotone again and read again. Curves
   are resampled independently (two runs have independent noise); the 2.5/97.5 percentiles of the
   resampled ratios make the interval. It covers the truth less often than the nominal 95 %: about 80 % on
   noisy synthetic pairs (3 % noise, tests/fitting/test_ratios_measured.py and
   bench/measured_ar.py), as the smoothing bias the wide windows let in is not in the resamples.

A level the candidate never gets down to within its measured range is not a number but a bound:
"never reached" means AR < T / (the candidate's last x); "reached before its first point" means
AR > T / (its first x). Both are reported as such, never as a value.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from fitting.errors import InvalidInputError
from fitting.resampling import block_length, block_sign_draws
from fitting.result import available_interval, percentile_interval, with_estimate
from fitting.validation import as_float_array, check_finite, check_positive

WIDTHS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)  # half-widths of the local fits in log x, narrowest first
_PILOT = 0.4  # the width of the pilot fit that finds the spikes and the noise level
_LEPSKI = 3.0  # a wider fit is taken while it stays within this many standard errors of every narrower one
_MIN_POINTS = 8  # a local fit reaches out to at least this many points where the curve is sparse
_GRID = 400  # knots of the smoothed curve in log x
_MAX_POINTS = 4000  # longer curves are averaged into this many log-spaced bins first (bounded work)
_ROBUST_ROUNDS = 3
_HUBER = 1.345  # Huber's tuning constant, in units of the residuals' MAD scale


class Reach(StrEnum):
    """Where the candidate's smoothed curve gets down to the level a ratio is read at (the
    values are the proto enum's names without its REACH_ prefix)."""

    MEASURED = "measured"  # the crossing lies inside the candidate's measured range
    NEVER = "never"  # the candidate never gets down to the level: ratio < bound
    BEFORE_START = "before_first_point"  # already below at its first point: ratio > bound
    OUTSIDE = "outside_range"  # the horizon or target is outside what the baseline measured


@dataclass(frozen=True)
class MeasuredRatio:
    """A ratio read off measured curves: value with its 95 % bootstrap interval (NaN when not
    available), or, when the level is not crossed inside the measured range, the bound it
    implies (`reach` says which side)."""

    value: float
    low: float = math.nan
    high: float = math.nan
    reach: Reach = Reach.MEASURED
    bound: float = math.nan

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        if self.reach is Reach.NEVER:
            return f"never reached (< {self.bound:{spec}})"
        if self.reach is Reach.BEFORE_START:
            return f"reached before the first point (> {self.bound:{spec}})"
        if self.reach is Reach.OUTSIDE:
            return "outside the measured range"
        if not self.has_interval:
            return format(self.value, spec)
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


@dataclass(frozen=True, eq=False)
class Monotone:
    """A strictly decreasing piecewise-linear log-loss against log x, over [x_first, x_last]."""

    knots: np.ndarray  # log x, increasing
    levels: np.ndarray  # log L, strictly decreasing
    x_first: float
    x_last: float

    def log_level_at(self, x: float) -> float:
        return float(np.interp(math.log(x), self.knots, self.levels))

    def first_reach(self, log_level: float) -> tuple[float, Reach]:
        """The x at which the curve gets down to exp(log_level), or the side it misses on."""
        if log_level >= self.levels[0]:
            return self.x_first, (Reach.MEASURED if log_level == self.levels[0] else Reach.BEFORE_START)
        if log_level < self.levels[-1]:
            return self.x_last, Reach.NEVER
        i = int(np.searchsorted(-self.levels, -log_level, side="left"))  # levels[i-1] > level >= levels[i]
        lo, hi = self.levels[i - 1], self.levels[i]
        u = self.knots[i - 1] + (lo - log_level) / (lo - hi) * (self.knots[i] - self.knots[i - 1])
        return float(np.exp(u)), Reach.MEASURED


@dataclass(frozen=True, eq=False)
class MeasuredCurve:
    """A measured curve read the robust way: its smoothed monotone version and `bootstrap` of
    its resamples (empty without bootstrap). Build once, compare against many."""

    curve: Monotone
    resamples: tuple[Monotone, ...]


def measure_curve(
    x: Any,
    loss: Any,
    *,
    bootstrap: int = 200,
    seed: int = 0,
    width: float | None = None,
    fields: tuple[str, str] = ("x", "loss"),
) -> MeasuredCurve:
    """The smoothed monotone version of a measured curve and its bootstrap resamples (see the
    module's docstring). `width` (half-width of every local fit in log x) is chosen point by
    point unless given. Give curves compared with each other different seeds. Errors name
    `fields` (the x and loss arguments as the caller calls them)."""
    log_x, log_loss, weights, (x_first, x_last) = _prepared(x, loss, *fields)
    if width is not None and not (math.isfinite(width) and width > 0):
        raise InvalidInputError(f"must be > 0, got {width}", field="width")
    if bootstrap < 0:
        raise InvalidInputError(f"must be >= 0, got {bootstrap}", field="bootstrap")
    grid = np.linspace(log_x[0], log_x[-1], min(_GRID, log_x.size))
    geometry = _Geometry(log_x, grid)
    robust, noise = _robust_weights(_Kernel(geometry, _PILOT), grid, log_x, log_loss, weights)
    smoother = _Smoother(geometry, weights, robust, noise, (width,) if width else WIDTHS)
    values = smoother(log_loss[None, :])[0]
    curve = _monotone(grid, values, x_first, x_last)
    resamples: tuple[Monotone, ...] = ()
    if bootstrap:
        fitted = np.interp(log_x, grid, values)
        residuals = log_loss - fitted
        rng = np.random.default_rng(seed)
        block = block_length(residuals)
        signs = block_sign_draws(rng, bootstrap, residuals.size, block)
        # each resample chooses its own widths, as the data did: the choice is part of the estimate
        rows = smoother.resampled(fitted, signs, residuals, block)
        resamples = tuple(_monotone(grid, row, x_first, x_last) for row in rows)
    return MeasuredCurve(curve, resamples)


def measured_acceleration(base: MeasuredCurve, cand: MeasuredCurve, horizon: float) -> MeasuredRatio:
    """AR(T) = T / (first x at which the candidate gets down to the baseline's loss at T)."""
    if not (math.isfinite(horizon) and horizon > 0):
        raise InvalidInputError(f"must be a finite step > 0, got {horizon}", field="horizon")
    if not base.curve.x_first <= horizon <= base.curve.x_last:
        return MeasuredRatio(math.nan, reach=Reach.OUTSIDE)
    if base is cand:  # a curve against itself takes exactly as long
        return MeasuredRatio(1.0, 1.0, 1.0)
    x, reach = cand.curve.first_reach(base.curve.log_level_at(horizon))
    samples = [
        _resampled_ratio(horizon, c.first_reach(b.log_level_at(horizon))[0])
        for b, c in zip(base.resamples, cand.resamples, strict=False)
    ]
    return _result(horizon, x, reach, samples)


def measured_speedup(base: MeasuredCurve, cand: MeasuredCurve, target_loss: float) -> MeasuredRatio:
    """t_base(L*) / t_cand(L*) from the smoothed curves: how many times fewer steps the candidate
    needs to get down to L*. Outside the measured range when the baseline itself does not get
    there inside its own range."""
    if not (math.isfinite(target_loss) and target_loss > 0):
        raise InvalidInputError(f"must be a finite loss > 0, got {target_loss}", field="target_loss")
    level = math.log(target_loss)
    x_base, reach_base = base.curve.first_reach(level)
    if reach_base is not Reach.MEASURED:
        return MeasuredRatio(math.nan, reach=Reach.OUTSIDE)
    if base is cand:
        return MeasuredRatio(1.0, 1.0, 1.0)
    x, reach = cand.curve.first_reach(level)
    samples = []
    for b, c in zip(base.resamples, cand.resamples, strict=False):
        xb, rb = b.first_reach(level)
        samples.append(_resampled_ratio(xb, c.first_reach(level)[0]) if rb is Reach.MEASURED else math.nan)
    return _result(x_base, x, reach, samples)


def acceleration_ratio_measured(
    x1: Any, loss1: Any, x2: Any, loss2: Any, horizon: float, *, bootstrap: int = 200, seed: int = 0
) -> MeasuredRatio:
    """measured_acceleration of two raw curves (x increasing, loss > 0); identical curves give
    exactly 1."""
    base = measure_curve(x1, loss1, bootstrap=bootstrap, seed=seed, fields=("x1", "loss1"))
    same = _same(x1, loss1, x2, loss2)
    cand = base if same else measure_curve(x2, loss2, bootstrap=bootstrap, seed=seed + 1, fields=("x2", "loss2"))
    return measured_acceleration(base, cand, horizon)


def acceleration_ratio_empirical(*args: Any, **kwargs: Any) -> MeasuredRatio:
    """Deprecated: the former name of acceleration_ratio_measured."""
    warnings.warn(
        "acceleration_ratio_empirical is deprecated; use acceleration_ratio_measured", DeprecationWarning, stacklevel=2
    )
    return acceleration_ratio_measured(*args, **kwargs)


# ---------------------------------------------------------------------------------------------


def _same(x1: Any, loss1: Any, x2: Any, loss2: Any) -> bool:
    a1, a2 = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    l1, l2 = np.asarray(loss1, dtype=float), np.asarray(loss2, dtype=float)
    return a1.shape == a2.shape and l1.shape == l2.shape and np.array_equal(a1, a2) and np.array_equal(l1, l2)


def _prepared(
    x: Any, loss: Any, x_field: str, loss_field: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
    """log x, log L, point weights and the x range; long curves averaged into log-spaced bins."""
    xs, ls = as_float_array(x, x_field), as_float_array(loss, loss_field)
    if xs.size != ls.size:
        raise InvalidInputError(f"has {xs.size} points but {loss_field} has {ls.size}", field=x_field)
    if xs.size < 3:
        raise InvalidInputError(f"needs at least 3 points, got {xs.size}", field=x_field)
    check_finite(xs, x_field)
    check_finite(ls, loss_field)
    check_positive(xs, x_field, "steps are read on a log scale")
    check_positive(ls, loss_field, "losses are read on a log scale")
    bad = np.diff(xs) <= 0
    if bad.any():
        first = int(np.flatnonzero(bad)[0]) + 1
        raise InvalidInputError("must be strictly increasing", field=x_field, index=first)
    log_x, log_loss = np.log(xs), np.log(ls)
    x_range = (float(xs[0]), float(xs[-1]))
    if log_x.size <= _MAX_POINTS:
        return log_x, log_loss, np.ones_like(log_x), x_range
    edges = np.linspace(log_x[0], log_x[-1], _MAX_POINTS + 1)
    which = np.clip(np.searchsorted(edges, log_x, side="right") - 1, 0, _MAX_POINTS - 1)
    counts = np.bincount(which, minlength=_MAX_POINTS).astype(float)
    keep = counts > 0
    mean_x = np.bincount(which, weights=log_x, minlength=_MAX_POINTS)[keep] / counts[keep]
    mean_loss = np.bincount(which, weights=log_loss, minlength=_MAX_POINTS)[keep] / counts[keep]
    return mean_x, mean_loss, counts[keep], x_range


class _Geometry:
    """Each grid point's signed and absolute distances in log x to every point, and to its
    _MIN_POINTS-th nearest: shared by the kernels of every width."""

    def __init__(self, u: np.ndarray, grid: np.ndarray):
        k = min(u.size, _MIN_POINTS)
        self.du = u[None, :] - grid[:, None]
        self.dist = np.abs(self.du)
        self.nearest = np.partition(self.dist, k - 1, axis=1)[:, k - 1]


class _Kernel:
    """The local-quadratic smoother's geometry: tricube weights of each grid point over the
    points within `width` in log x (or its nearest _MIN_POINTS, where the curve is sparser).
    A width in log x rather than a share of the points: a curve logged at every step has most
    of its points at the end, and a share of them would span decades at the start. Quadratic
    rather than linear: loss curves bend in log-log space (L0 > 0), and a quadratic's bias is
    a third-order term, so wide windows, and their low noise, stay nearly unbiased.
    `smoother(w)` is the matrix S (grid, points) with point weights w; smoothed values = S @ log L."""

    def __init__(self, geometry: _Geometry, width: float):
        radius = np.maximum(np.maximum(geometry.nearest, width) * (1 + 1e-9), 1e-12)
        self.tricube = np.clip(1.0 - (geometry.dist / radius[:, None]) ** 3, 0.0, None) ** 3
        self.du = geometry.du

    def smoother(self, weights: np.ndarray) -> np.ndarray:
        w = self.tricube * weights[None, :]
        du = self.du
        m = [w.sum(axis=1)]
        term = w
        for _ in range(4):
            term = term * du
            m.append(term.sum(axis=1))
        s0, s1, s2, s3, s4 = m
        # first row of the inverse of [[s0 s1 s2] [s1 s2 s3] [s2 s3 s4]], by cofactors
        c0, c1, c2 = s2 * s4 - s3 * s3, s2 * s3 - s1 * s4, s1 * s3 - s2 * s2
        det = s0 * c0 + s1 * c1 + s2 * c2
        quadratic = np.abs(det) > 1e-10 * np.maximum(np.abs(s0 * c0), 1e-300)
        lin_det = s0 * s2 - s1 * s1
        linear = ~quadratic & (lin_det > 1e-12 * np.maximum(s0 * s2, 1e-300))
        q_det, l_det = np.where(quadratic, det, 1.0), np.where(linear, lin_det, 1.0)
        out = w * ((c0 + c1 * du.T + c2 * (du * du).T) / q_det).T
        out = np.where(linear[:, None], w * ((s2 - s1 * du.T) / l_det).T, out)
        mean = w / np.maximum(s0, 1e-300)[:, None]  # all weight at one x: a local mean
        return np.where((quadratic | linear)[:, None], out, mean)


def _robust_weights(
    kernel: _Kernel, grid: np.ndarray, log_x: np.ndarray, log_loss: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, float]:
    """Huber weights of the points after a few rounds of smoothing and re-weighting (spikes end
    with small weights), and the noise of one point (robust scale of the last residuals; a point
    that averages c raw points has c times less variance)."""
    robust = np.ones_like(log_x)
    for _ in range(_ROBUST_ROUNDS):
        residuals = log_loss - np.interp(log_x, grid, kernel.smoother(weights * robust) @ log_loss)
        robust = _huber_weights(residuals)
    scaled = residuals * np.sqrt(weights)
    noise = 1.4826 * float(np.median(np.abs(scaled - np.median(scaled))))
    return robust, noise


class _Smoother:
    """Each grid point's own width (Lepski's method): the widest of `widths` whose value stays
    within _LEPSKI standard errors of every narrower fit's. Widening only adds bias where the
    curve bends more than its noise can hide, so clean curves keep narrow windows, noisy ones get
    wide ones, and the end of a curve (where AR is read) gets what its own shape allows.
    Calling it smooths rows of log losses (n_rows, points) -> (n_rows, grid), choosing afresh
    for each row, so bootstrap resamples vary the choice as the data would."""

    def __init__(
        self, geometry: _Geometry, weights: np.ndarray, robust: np.ndarray, noise: float, widths: tuple[float, ...]
    ):
        self.matrices = [_Kernel(geometry, width).smoother(weights * robust) for width in widths]
        # standard error of each smoothed value (a point averaging c raw points has variance noise^2 / c)
        self.errors = [noise * np.sqrt((m**2 / weights[None, :]).sum(axis=1)) for m in self.matrices]

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return self._choose(lambda matrix: rows @ matrix.T)

    def resampled(self, fitted: np.ndarray, signs: np.ndarray, residuals: np.ndarray, block: int) -> np.ndarray:
        """What calling it on fitted + (signs, one per block of `block` points) * residuals gives,
        without those rows: the smoother is linear, so each block's residuals are smoothed once
        and the signs combine them, (draws, blocks) @ (blocks, grid) rather than (draws, points)
        @ (points, grid): block times less work."""
        starts = np.arange(0, residuals.size, block)
        return self._choose(
            lambda matrix: matrix @ fitted + signs @ np.add.reduceat(matrix * residuals, starts, axis=1).T
        )

    def _choose(self, smooth: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Lepski's choice per row and grid point; smooth(matrix) gives the rows smoothed by one
        width's matrix, asked for from the narrowest until no point accepts a wider one."""
        chosen = smooth(self.matrices[0])
        narrower = [chosen]
        accepting = np.ones(chosen.shape, dtype=bool)
        for matrix in self.matrices[1:]:
            value = smooth(matrix)
            for previous, previous_error in zip(narrower, self.errors, strict=False):
                accepting &= np.abs(value - previous) <= _LEPSKI * previous_error
            if not accepting.any():
                break
            chosen = np.where(accepting, value, chosen)
            narrower.append(value)
        return chosen


def _huber_weights(residuals: np.ndarray) -> np.ndarray:
    center = np.median(residuals)
    # floored: on a noise-free curve the MAD is 0, and its spikes are still outliers
    scale = max(1.4826 * float(np.median(np.abs(residuals - center))), 1e-9)
    a = np.abs(residuals - center) / (_HUBER * scale)
    return np.where(a <= 1.0, 1.0, 1.0 / np.maximum(a, 1.0))


def _monotone(grid: np.ndarray, values: np.ndarray, x_first: float, x_last: float) -> Monotone:
    """Pool adjacent violators (non-increasing), blocks joined between their centres."""
    level: list[float] = []
    weight: list[int] = []
    first: list[int] = []
    for i, v in enumerate(values.tolist()):
        level.append(v)
        weight.append(1)
        first.append(i)
        while len(level) > 1 and level[-2] <= level[-1]:
            v2, w2 = level.pop(), weight.pop()
            first.pop()
            level[-1] = (level[-1] * weight[-1] + v2 * w2) / (weight[-1] + w2)
            weight[-1] += w2
    starts = np.array(first)
    ends = np.append(starts[1:], values.size) - 1
    return Monotone(0.5 * (grid[starts] + grid[ends]), np.array(level), x_first, x_last)


def _resampled_ratio(numerator: float, x: float) -> float:
    """A resample's ratio. A censored one counts at its bound: one whose candidate never gets down
    to the level within its steps at T / (its last x), one already below at its first point at
    T / (its first x); `x` is that end. (At 0 and inf they gave intervals such as [0, 1.05] for a
    ratio whose crossing lies near the candidate's last step: a lower end no resample supports.)"""
    return numerator / x


def _result(numerator: float, x: float, reach: Reach, samples: list[float]) -> MeasuredRatio:
    """The ratio with the 2.5/97.5 percentiles of its resamples, or the bound it implies."""
    value = numerator / x
    if reach is not Reach.MEASURED:
        return MeasuredRatio(math.nan, reach=reach, bound=value)
    kept = np.array([v for v in samples if not math.isnan(v)])
    if kept.size < 2:
        return MeasuredRatio(value)
    low, high = available_interval(*percentile_interval(kept))
    return MeasuredRatio(value, *with_estimate(value, low, high))
