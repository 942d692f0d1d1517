"""Does the law describe the curve? A verdict with its reason, beside every fit and comparison.

An optimiser that converged says only that it found the law's best parameters, not that the law
holds: a power law fitted through a learning-rate warm-down converges, with tight intervals, while
the curve bends away from it. The verdict looks at what the fit leaves behind, the log residuals
r_i = log L_i - log L_law(x_i), in order of x:

- their *systematic* part: the median residual in each of up to 10 windows, taken along log x and
  the points' order together (each at least 12 points). A law that holds leaves windows centred on
  zero; one that does not leaves a run of windows on one side. A window is off when its median is
  both past a floor of 0.3 % (a smaller systematic error does not move a speed-up or an
  extrapolation by more than its interval) and past 3.5 of its own standard errors (3.5 keeps the
  false alarms of 10 windows near 0.5 %). A window's standard error comes from the noise's size
  and memory, read once the residuals' slow part is taken out, so noise that is itself
  autocorrelated (smoothed logs, the usual case) is not mistaken for misfit.
- r^2 on log L, the lag-1 autocorrelation of the residuals and the runs test on their signs, which
  are reported for the reader (a misfit shows in all three) but decide nothing alone: a flat, noisy
  curve has a low r^2 and a law that holds, and a smoothed curve has autocorrelated residuals.

In a comparison, the AR read off the fitted laws and the AR measured on the curves must also agree
where both exist (fitting/comparison.py, judge_agreement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WINDOWS = 10  # windows of log x for the systematic part
MIN_WINDOW = 12  # points per window at least
FLOOR = 0.003  # a systematic relative error below this is not a misfit worth a warning
Z_OFF = 3.5  # standard errors past which a window's median is off


@dataclass(frozen=True)
class Verdict:
    """good: the law describes the curve (every window of residuals within noise or the floor).
    reason: one line saying why, with the numbers. systematic: the largest window median of the
    log residuals (about a relative error); the others are NaN where the curve is too short."""

    good: bool
    reason: str
    r2: float = math.nan
    systematic: float = math.nan
    lag1: float = math.nan
    runs_z: float = math.nan

    def to_dict(self) -> dict[str, object]:
        def number(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "good": self.good,
            "reason": self.reason,
            "r2": number(self.r2),
            "systematic": number(self.systematic),
            "lag1": number(self.lag1),
            "runs_z": number(self.runs_z),
        }


def judge_residuals(x: np.ndarray, residuals: np.ndarray, log_loss: np.ndarray) -> Verdict:
    """The verdict from one curve's log residuals (in order of x) and its log losses."""
    x = np.asarray(x, dtype=float)
    r = np.asarray(residuals, dtype=float)
    ok = np.isfinite(r) & np.isfinite(x)
    x, r, y = x[ok], r[ok], np.asarray(log_loss, dtype=float)[ok]
    order = np.argsort(x, kind="stable")
    x, r, y = x[order], r[order], y[order]
    ss_tot = float(((y - y.mean()) ** 2).sum()) if y.size else 0.0
    r2 = 1.0 - float((r**2).sum()) / ss_tot if ss_tot > 0 else math.nan
    lag1, runs_z = autocorrelation(r), runs_test(r)
    if r.size < 2 * MIN_WINDOW:
        return Verdict(True, f"{r.size} points: too few to test the residuals for a misfit", r2, math.nan, lag1, runs_z)
    medians, errors, edges = _windows(x, r)
    z = np.abs(medians) / np.maximum(errors, 1e-300)
    off = (np.abs(medians) > FLOOR) & (z > Z_OFF)
    worst = int(np.argmax(np.abs(medians)))
    systematic = float(np.abs(medians[worst]))
    if not off.any():
        reason = f"residuals within noise: largest window median {systematic:.2%} (r2 {r2:.3f}, lag-1 {lag1:.2f})"
        return Verdict(True, reason, r2, systematic, lag1, runs_z)
    k = int(np.argmax(np.where(off, np.abs(medians), -1.0)))  # the worst window that is off
    side = "above" if medians[k] > 0 else "below"
    reason = (
        f"the law misses the curve: {int(off.sum())} of {medians.size} windows off, the curve {side} the law by "
        f"{abs(medians[k]):.2%} at x {edges[k]:.3g}-{edges[k + 1]:.3g} ({_z_text(z[k])} standard errors)"
    )
    return Verdict(False, reason, r2, systematic, lag1, runs_z)


def autocorrelation(r: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series (NaN below 3 points or without spread)."""
    if r.size < 3:
        return math.nan
    d = r - r.mean()
    denom = float((d * d).sum())
    return float((d[1:] * d[:-1]).sum()) / denom if denom > 0 else math.nan


def runs_test(r: np.ndarray) -> float:
    """Wald-Wolfowitz runs test on the residuals' signs: z below about -2 means too few runs,
    the mark of residuals that stay on one side of the law for long stretches."""
    signs = r[r != 0] > 0
    n1, n2 = int(signs.sum()), int((~signs).sum())
    n = n1 + n2
    if n1 == 0 or n2 == 0 or n < 3:
        return math.nan
    runs = 1 + int((signs[1:] != signs[:-1]).sum())
    mean = 2.0 * n1 * n2 / n + 1.0
    var = 2.0 * n1 * n2 * (2.0 * n1 * n2 - n) / (n * n * (n - 1))
    return (runs - mean) / math.sqrt(var) if var > 0 else math.nan


def _windows(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Medians of r over windows and their standard errors. The windows split a coordinate halfway
    between log x and the point's rank: log x alone would lump the last half of a run logged every
    step into one window, hiding a learning-rate warm-down; rank alone would do the same to its
    start. Windows are merged until each holds MIN_WINDOW points. Returns medians, standard errors
    and the window edges in x."""
    count = max(1, min(WINDOWS, r.size // MIN_WINDOW))
    log_x = np.log(x) if (x > 0).all() else x
    span = log_x[-1] - log_x[0]
    coord = 0.5 * (log_x - log_x[0]) / (span if span > 0 else 1.0) + 0.5 * np.arange(r.size) / max(r.size - 1, 1)
    index = np.clip((coord * count).astype(int), 0, count - 1)
    groups: list[np.ndarray] = []
    pending = np.zeros(0, dtype=int)
    for k in range(count):
        pending = np.concatenate([pending, np.flatnonzero(index == k)])
        if pending.size >= MIN_WINDOW:
            groups.append(pending)
            pending = np.zeros(0, dtype=int)
    if pending.size:  # the remainder joins the last window
        groups[-1] = np.concatenate([groups[-1], pending])
    noise = r - _moving_average(r, max(5, r.size // 10))
    rho = noise_memory(noise)
    medians = np.array([np.median(r[g]) for g in groups])
    errors = np.array([_median_error(noise[g], rho) for g in groups])
    edges = np.array([x[groups[0][0]], *(x[g[-1]] for g in groups)])
    return medians, errors, edges


def _moving_average(r: np.ndarray, width: int) -> np.ndarray:
    """r averaged over `width` neighbours (fewer at the ends): the residuals' slow part, a misfit's
    shape, taken out before the noise's size and memory are read."""
    # the window of np.convolve(r, ones(width), "same"), from cumulative sums: O(n), not O(n width)
    i = np.arange(r.size)
    high = np.minimum(i + (width - 1) // 2 + 1, r.size)
    low = np.maximum(i + (width - 1) // 2 - width + 1, 0)
    sums = np.concatenate([[0.0], np.cumsum(r)])
    return (sums[high] - sums[low]) / (high - low)


def noise_memory(noise: np.ndarray) -> float:
    """The noise's lag-1 autocorrelation, clipped to [0, 0.98]. Read after the slow part is taken
    out: noise whose memory is far shorter than a tenth of the curve keeps it; a misfit does not
    add to it. Noise that wanders as slowly as a misfit cannot be told from one, and is not."""
    rho = autocorrelation(noise)
    return min(max(rho if math.isfinite(rho) else 0.0, 0.0), 0.98)


def _median_error(noise: np.ndarray, rho: float) -> float:
    """The standard error of a window's median, 1.25 sigma sqrt((1 + rho) / ((1 - rho) n)) for
    AR(1) noise of sd sigma (robust: the MAD of the window's noise)."""
    sigma = 1.4826 * float(np.median(np.abs(noise - np.median(noise))))
    return 1.2533 * sigma * math.sqrt((1.0 + rho) / ((1.0 - rho) * noise.size))


def _z_text(z: float) -> str:
    """A window's distance in standard errors; a noise-free curve's is astronomical and says no more."""
    return f"{z:.1f}" if z < 1000 else "over 1000"
