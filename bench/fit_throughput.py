"""Batched fitting throughput and accuracy against a per-curve lmfit loop, side by side.

10,000 synthetic step_power curves x 1,000 points (log-spaced steps 10..1e5, 1 % multiplicative
noise, L0 ~ U(0.5, 3), log10 B ~ U(2, 8), beta ~ U(0.1, 1)). Both tools minimise the same
objective (Huber, delta 1e-3, on log-loss residuals, parameters L0, log B, beta, same bounds)
from the same 16 starting points per curve (the law's variable-projection guesses):
  - fit_batch: scores the 16 starts, refines the best, all curves in vectorised blocks;
  - lmfit loop (the tool a user would otherwise pick): lmfit.minimize per start per curve,
    keeping the best; timed on a random subset (--lmfit-curves) and reported as curves/s;
  - lmfit loop, best start only: the same cheap start scoring, one lmfit refinement per curve
    (shows how much of the gain is vectorisation rather than fewer refinements).
Also times a 1,000-resample bootstrap of one 1,000-point curve. Target: >= 50x the lmfit
loop's throughput with equal or better accuracy; bootstrap < 1 s.

    python bench/fit_throughput.py [--curves 10000] [--lmfit-curves 100]
"""

from __future__ import annotations

import argparse
import time
import warnings

import lmfit
import numpy as np

import fitting
from fitting.laws import STEP_POWER
from fitting.pipeline import to_internal

DELTA = 1e-3


def make_curves(n: int, points: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = np.geomspace(10, 1e5, points)
    truth = {"L0": rng.uniform(0.5, 3, n), "B": 10 ** rng.uniform(2, 8, n), "beta": rng.uniform(0.1, 1.0, n)}
    clean = truth["L0"][:, None] + (truth["B"][:, None] / x) ** truth["beta"][:, None]
    return x, clean * np.exp(0.01 * rng.standard_normal(clean.shape)), truth


def starts_for(x: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """The law's 16 starts for one curve, internal units (L0, log B, beta)."""
    guesses = STEP_POWER.guess({"x": x[None, :]}, loss[None, :], np.ones((1, x.size)))[:, 0, :]
    return to_internal(STEP_POWER, guesses)


def lmfit_one(x: np.ndarray, loss: np.ndarray, starts: np.ndarray) -> tuple[float, float]:
    """Best of lmfit fits from each start; returns (beta, cost)."""
    log_x, log_loss = np.log(x), np.log(loss)
    bounds = [p.internal_bounds for p in STEP_POWER.params]

    def residual(ps: lmfit.Parameters) -> np.ndarray:
        l0, log_b, beta = ps["L0"].value, ps["log_B"].value, ps["beta"].value
        with np.errstate(divide="ignore"):
            return np.logaddexp(np.log(l0), beta * (log_b - log_x)) - log_loss

    best = (np.nan, np.inf)
    for start in starts:
        params = lmfit.Parameters()
        for name, value, (lo, hi) in zip(("L0", "log_B", "beta"), start, bounds, strict=True):
            params.add(name, value=float(np.clip(value, lo, hi)), min=lo, max=hi)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = lmfit.minimize(residual, params, method="least_squares", loss="huber", f_scale=DELTA)
        r = out.residual
        cost = float(np.where(np.abs(r) <= DELTA, 0.5 * r**2, DELTA * np.abs(r) - 0.5 * DELTA**2).sum())
        if cost < best[1]:
            best = (out.params["beta"].value, cost)
    return best


def best_start_only(x: np.ndarray, loss: np.ndarray, starts: np.ndarray) -> np.ndarray:
    log_x, log_loss = np.log(x), np.log(loss)
    with np.errstate(divide="ignore"):
        pred = np.logaddexp(np.log(starts[:, :1]), starts[:, 2:3] * (starts[:, 1:2] - log_x))
    r = pred - log_loss
    cost = np.where(np.abs(r) <= DELTA, 0.5 * r**2, DELTA * np.abs(r) - 0.5 * DELTA**2).sum(axis=1)
    return starts[[int(np.argmin(cost))]]


def accuracy(beta_hat: np.ndarray, beta: np.ndarray) -> tuple[float, float]:
    err = np.abs(beta_hat / beta - 1)
    return float(np.median(err)), float(np.mean(err > 0.1))


def main() -> None:
    parser = argparse.ArgumentParser(description="fit_batch vs a per-curve lmfit loop")
    parser.add_argument("--curves", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--lmfit-curves", type=int, default=100, help="random subset timed with lmfit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x, losses, truth = make_curves(args.curves, args.points, args.seed)
    curves = [(x, row) for row in losses]
    fitting.fit_batch(curves[:50])  # warm imports and caches

    t0 = time.perf_counter()
    results = fitting.fit_batch(curves)
    batch_s = time.perf_counter() - t0
    beta_batch = np.array([r.params["beta"] for r in results])
    converged = sum(r.converged for r in results)

    subset = np.random.default_rng(1).choice(args.curves, size=min(args.lmfit_curves, args.curves), replace=False)
    all_starts = {int(i): starts_for(x, losses[i]) for i in subset}
    t0 = time.perf_counter()
    beta_lmfit = np.array([lmfit_one(x, losses[i], all_starts[int(i)])[0] for i in subset])
    lmfit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    beta_best = np.array(
        [lmfit_one(x, losses[i], best_start_only(x, losses[i], all_starts[int(i)]))[0] for i in subset]
    )
    best_s = time.perf_counter() - t0

    rate_batch = args.curves / batch_s
    rate_lmfit = len(subset) / lmfit_s
    rate_best = len(subset) / best_s
    print(f"{args.curves} step_power curves x {args.points} points, 1 % noise, 16 starts per curve, Huber on log loss")
    header = f"{'tool':<40}{'curves':>8}{'seconds':>10}{'curves/s':>11}{'ratio':>9}"
    print(header + f"{'med |dbeta|/beta':>18}{'> 10 % err':>12}")
    rows = [
        ("fitting.fit_batch (all curves)", args.curves, batch_s, rate_batch, beta_batch, truth["beta"]),
        ("fitting.fit_batch (lmfit subset)", len(subset), np.nan, np.nan, beta_batch[subset], truth["beta"][subset]),
        ("lmfit loop, 16 starts refined", len(subset), lmfit_s, rate_lmfit, beta_lmfit, truth["beta"][subset]),
        ("lmfit loop, best start refined", len(subset), best_s, rate_best, beta_best, truth["beta"][subset]),
    ]
    for name, n, seconds, rate, est, true in rows:
        med, share = accuracy(est, true)
        ratio = rate_batch / rate if np.isfinite(rate) else np.nan
        print(f"{name:<40}{n:>8}{seconds:>10.2f}{rate:>11.1f}{ratio:>8.1f}x{med:>18.2e}{share:>12.2%}")
    print(f"fit_batch converged: {converged}/{args.curves}")
    print(f"throughput ratio vs the lmfit loop (same starts budget): {rate_batch / rate_lmfit:.1f}x (target >= 50x)")

    one_x, one_loss = x, losses[0]
    fitting.fit_curve(one_x, one_loss, bootstrap=10)
    t0 = time.perf_counter()
    fitting.fit_curve(one_x, one_loss)
    point_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fitting.fit_curve(one_x, one_loss, bootstrap=1000)
    boot_s = time.perf_counter() - t0
    print(
        f"bootstrap, 1000 resamples of one {args.points}-point curve: {boot_s:.2f} s "
        f"(point fit {point_s:.3f} s; target < 1 s)"
    )


if __name__ == "__main__":
    main()
