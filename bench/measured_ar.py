"""The measured AR on noisy curves, before and after: the raw-point reading (the first logged
point below the baseline's interpolated loss at T, as the measured AR was read before)
against the smoothed, monotone reading of fitting/ratios_measured.py, side by side in one run.

Every pair is a time-rescaled copy, L2(t) = L1(k t) with fresh log-normal noise and 1 % upward
spikes, so the true AR at T is exactly k. Three curve shapes (near its floor, the paper's
Transformer, a pure power law), k in {1.5, 3, 5}, the candidate logged at every step or at 300
log-spaced steps; and a curve against a fresh-noise copy of itself (true AR 1).

    .venv/bin/python bench/measured_ar.py [--reps 4] [--coverage 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fitting.ratios_measured import Reach, acceleration_ratio_measured

SHAPES = {"floor": (2.0, 1e3, 0.5), "paper": (0.05, 3.16e8, 0.12), "power": (0.0, 10.0, 0.4)}
EVERY = np.arange(1.0, 2001.0)
LOGGED = np.unique(np.round(np.geomspace(1, 2000, 300)))


def law(t: np.ndarray, shape: str) -> np.ndarray:
    l0, b, beta = SHAPES[shape]
    return l0 + (b / t) ** beta


def noisy(loss: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    out = loss * np.exp(sigma * rng.standard_normal(loss.size))
    hit = rng.random(loss.size) < 0.01
    out[hit] *= np.exp(rng.uniform(0.2, 1.0, hit.sum()))
    return out


def raw_reading(x1: np.ndarray, l1: np.ndarray, x2: np.ndarray, l2: np.ndarray, horizon: float) -> float:
    """The former estimator: the first raw point of curve 2 below curve 1's interpolated loss at T."""
    target = float(np.interp(np.log(horizon), np.log(x1), l1))
    reached = np.flatnonzero(l2 <= target)
    if reached.size == 0:
        return float("nan")
    i = int(reached[0])
    if i == 0:
        return horizon / float(x2[0])
    frac = (l2[i - 1] - target) / (l2[i - 1] - l2[i])
    return horizon / float(np.exp(np.log(x2[i - 1]) + frac * (np.log(x2[i]) - np.log(x2[i - 1]))))


def summary(errors: list[float]) -> str:
    e = np.array(errors)
    return f"{np.median(e):7.2%} {np.quantile(e, 0.9):8.2%} {np.max(e):8.2%} {np.mean(e > 0.05):6.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=4, help="noisy pairs per shape, factor and grid")
    parser.add_argument("--coverage", type=int, default=40, help="pairs for the interval's coverage (0: skip)")
    args = parser.parse_args()
    print("relative error of the measured AR at T = 2000 (never reached counts as an infinite error)")
    print(f"{'noise':>6} {'':>10} {'median':>7} {'p90':>8} {'max':>8} {'> 5 %':>6}   {'self: raw max':>13}")
    for sigma in (0.0, 0.01, 0.03, 0.05):
        rng = np.random.default_rng(round(sigma * 1000))
        raw, ours, self_raw = [], [], []
        started = time.perf_counter()
        for shape in SHAPES:
            for k in (1.5, 3.0, 5.0):
                for grid in (EVERY, LOGGED):
                    for _ in range(args.reps):
                        y1, y2 = noisy(law(EVERY, shape), sigma, rng), noisy(law(grid * k, shape), sigma, rng)
                        r = raw_reading(EVERY, y1, grid, y2, 2000.0)
                        raw.append(abs(r / k - 1) if np.isfinite(r) else np.inf)
                        m = acceleration_ratio_measured(EVERY, y1, grid, y2, 2000.0, bootstrap=0)
                        ours.append(abs(m.value / k - 1) if m.reach is Reach.MEASURED else np.inf)
            again = noisy(law(EVERY, shape), sigma, rng)
            self_raw.append(raw_reading(EVERY, again, EVERY, again, 2000.0))
        per_pair = (time.perf_counter() - started) / len(ours)
        print(f"{sigma:6.0%} {'raw points':>10} {summary(raw)}   {max(self_raw):13.3f}")
        print(
            f"{'':>6} {'smoothed':>10} {summary(ours)}   {'1 (exactly)':>13}   ({per_pair * 1e3:.0f} ms per pair, both)"
        )
    if args.coverage:
        rng = np.random.default_rng(99)
        hits, widths = 0, []
        for _ in range(args.coverage):
            y1, y2 = noisy(law(EVERY, "floor"), 0.03, rng), noisy(law(EVERY * 3, "floor"), 0.03, rng)
            m = acceleration_ratio_measured(
                EVERY, y1, EVERY, y2, 2000.0, bootstrap=200, seed=int(rng.integers(1 << 30))
            )
            hits += m.low <= 3.0 <= m.high
            widths.append((m.high - m.low) / m.value)
        print(
            f"\n95 % interval, {args.coverage} pairs (floor shape, 3 % noise, k = 3, 200 resamples): "
            f"covers the truth {hits / args.coverage:.0%}, median width {np.median(widths):.1%} of the value"
        )


if __name__ == "__main__":
    main()
