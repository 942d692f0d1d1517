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

from fitting.engine import row_medians

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
    return judge_rows(x[order], r[order][None], y[order][None])[0]


def judge_rows(x: np.ndarray, residuals: np.ndarray, log_loss: np.ndarray) -> list[Verdict]:
    """The verdicts of curves that share their points: x (n,) in increasing order, finite; residuals
    and log losses (b, n), finite. Every statistic is one numpy expression over the rows (a batch
    of curves judged one at a time spent more on numpy's per-call cost than on its arithmetic)."""
    r, y = residuals, log_loss
    b, n = r.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        ss_tot = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1) if n else np.zeros(b)
        r2 = np.where(ss_tot > 0, 1.0 - (r**2).sum(axis=1) / np.where(ss_tot > 0, ss_tot, 1.0), math.nan)
    lag1, runs_z = autocorrelations(r), _runs_tests(r)
    if n < 2 * MIN_WINDOW:
        reason = f"{n} points: too few to test the residuals for a misfit"
        return [Verdict(True, reason, *_floats(r2[i], math.nan, lag1[i], runs_z[i])) for i in range(b)]
    medians, errors, edges = _windows(x, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(medians) / np.maximum(errors, 1e-300)
    off = (np.abs(medians) > FLOOR) & (z > Z_OFF)
    # per row, Python floats from whole-array passes: numpy's per-call cost on ten windows showed
    systematics, any_off = np.abs(medians).max(axis=1).tolist(), off.any(axis=1).tolist()
    columns = zip(r2.tolist(), systematics, lag1.tolist(), runs_z.tolist(), strict=True)
    out = []
    for i, stats in enumerate(columns):
        systematic = stats[1]
        if not any_off[i]:
            largest = f"largest window median {systematic:.2%}"
            reason = f"residuals within noise: {largest} (r2 {stats[0]:.3f}, lag-1 {stats[2]:.2f})"
            out.append(Verdict(True, reason, *stats))
            continue
        m_i, off_i = medians[i], off[i]
        k = int(np.argmax(np.where(off_i, np.abs(m_i), -1.0)))  # the worst window that is off
        side = "above" if m_i[k] > 0 else "below"
        reason = (
            f"the law misses the curve: {int(off_i.sum())} of {m_i.size} windows off, the curve {side} the law by "
            f"{abs(m_i[k]):.2%} at x {edges[k]:.3g}-{edges[k + 1]:.3g} ({_z_text(z[i, k])} standard errors)"
        )
        out.append(Verdict(False, reason, *stats))
    return out


def _floats(*values: float) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def autocorrelations(r: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of each row of r (b, n): NaN below 3 points or without spread."""
    if r.shape[1] < 3:
        return np.full(len(r), math.nan)
    d = r - r.mean(axis=1, keepdims=True)
    denom = (d * d).sum(axis=1)
    lagged = (d[:, 1:] * d[:, :-1]).sum(axis=1)
    return np.where(denom > 0, lagged / np.where(denom > 0, denom, 1.0), math.nan)


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


def _runs_tests(r: np.ndarray) -> np.ndarray:
    """runs_test of each row of r (b, n); rows with an exact zero (dropped from their signs) alone."""
    zero = (r == 0).any(axis=1)
    signs = r > 0
    n1 = signs.sum(axis=1).astype(float)
    n2 = r.shape[1] - n1
    n = n1 + n2
    runs = 1.0 + (signs[:, 1:] != signs[:, :-1]).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = 2.0 * n1 * n2 / n + 1.0
        var = 2.0 * n1 * n2 * (2.0 * n1 * n2 - n) / (n * n * (n - 1))
        z = np.where((n1 > 0) & (n2 > 0) & (n >= 3) & (var > 0), (runs - mean) / np.sqrt(var), math.nan)
    for i in np.flatnonzero(zero):
        z[i] = runs_test(r[i])
    return z


def _windows(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Medians of r over windows and their standard errors, per row of r (b, n), x (n,) increasing.
    The windows split a coordinate halfway between log x and the point's rank: log x alone would
    lump the last half of a run logged every step into one window, hiding a learning-rate
    warm-down; rank alone would do the same to its start. Windows are merged until each holds
    MIN_WINDOW points. Returns medians and standard errors (b, windows) and the window edges in x."""
    n = r.shape[1]
    count = max(1, min(WINDOWS, n // MIN_WINDOW))
    log_x = np.log(x) if (x > 0).all() else x
    span = log_x[-1] - log_x[0]
    coord = 0.5 * (log_x - log_x[0]) / (span if span > 0 else 1.0) + 0.5 * np.arange(n) / max(n - 1, 1)
    index = np.clip((coord * count).astype(int), 0, count - 1)
    # x increases, so the coordinate does and each window is a run of consecutive points
    ends = np.cumsum(np.bincount(index, minlength=count)).tolist()
    bounds, low = [], 0
    for end in ends:
        if end - low >= MIN_WINDOW:
            bounds.append((low, end))
            low = end
    if low < n:  # the remainder joins the last window
        bounds[-1] = (bounds[-1][0], n)
    noise = r - _moving_average(r, max(5, n // 10))
    rho = noise_memories(noise)[:, None]
    medians = np.stack([row_medians(r[:, lo:hi]) for lo, hi in bounds], axis=1)
    errors = np.stack([_median_errors(noise[:, lo:hi], rho) for lo, hi in bounds], axis=1)
    edges = np.array([x[bounds[0][0]], *(x[hi - 1] for _, hi in bounds)])
    return medians, errors, edges


def _moving_average(r: np.ndarray, width: int) -> np.ndarray:
    """Each row of r averaged over `width` neighbours (fewer at the ends): the residuals' slow part,
    a misfit's shape, taken out before the noise's size and memory are read."""
    # the window of np.convolve(r, ones(width), "same"), from cumulative sums: O(n), not O(n width)
    n = r.shape[1]
    i = np.arange(n)
    high = np.minimum(i + (width - 1) // 2 + 1, n)
    low = np.maximum(i + (width - 1) // 2 - width + 1, 0)
    sums = np.concatenate([np.zeros((len(r), 1)), np.cumsum(r, axis=1)], axis=1)
    # sums[:, high] - sums[:, low] as slices (a gather along rows costs several times a copy):
    # high is i + ahead and low is i - behind, each clipped to the row
    ahead, behind = int(high[0]), n - 1 - int(low[-1])
    upper = np.concatenate([sums[:, ahead:], np.repeat(sums[:, n:], ahead - 1, axis=1)], axis=1)
    lower = np.concatenate([np.zeros((len(r), behind)), sums[:, : n - behind]], axis=1)
    return (upper - lower) / (high - low)


def noise_memories(noise: np.ndarray) -> np.ndarray:
    """Each row's lag-1 autocorrelation, clipped to [0, 0.98]. Read after the slow part is taken
    out: noise whose memory is far shorter than a tenth of the curve keeps it; a misfit does not
    add to it. Noise that wanders as slowly as a misfit cannot be told from one, and is not."""
    return np.clip(np.nan_to_num(autocorrelations(noise), nan=0.0), 0.0, 0.98)


def _median_errors(noise: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """The standard error of a window's median, 1.25 sigma sqrt((1 + rho) / ((1 - rho) n)) for
    AR(1) noise of sd sigma (robust: the MAD of the window's noise); per row of noise (b, w)."""
    sigma = 1.4826 * row_medians(np.abs(noise - row_medians(noise)[:, None]))
    return 1.2533 * sigma * np.sqrt((1.0 + rho[:, 0]) / ((1.0 - rho[:, 0]) * noise.shape[1]))


def _z_text(z: float) -> str:
    """A window's distance in standard errors; a noise-free curve's is astronomical and says no more."""
    return f"{z:.1f}" if z < 1000 else "over 1000"
