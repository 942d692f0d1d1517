"""Batched fitting against lmfit, like for like: throughput and accuracy side by side.

Throughput: 10,000 synthetic step_power curves x 1,000 points (log-spaced steps 10..1e5, 1 %
Gaussian noise on log loss, L0 ~ U(0.5, 3), log10 B ~ U(2, 8), beta ~ U(0.1, 1)).
  - fitting.fit_batch: the law's 16 starts scored on a subsample, the best refined there, then
    on every point, with the Huber scale estimated from the residuals; curves in vectorised blocks.
  - lmfit, best start (the like-for-like headline): per curve, the same 16 starts computed and
    scored on the same subsample fit_batch uses, then one lmfit.minimize on every point
    (least_squares, ordinary least squares on log loss: the efficient fit for Gaussian noise and
    what a single-start lmfit user runs). The starts are inside the timed region, as they are
    for fit_batch.
  - lmfit, 16 starts refined, best kept (context: what refining every start costs).
Both sides are timed the same way: process CPU seconds (the headline: the build machines are
shared, and CPU time counts every thread a side might use) and wall seconds beside them. lmfit
is timed on a random subset (--lmfit-curves) and reported per curve.

Accuracy: at 1, 4 and 8 % noise, --accuracy-curves curves of 600 points from the same ranges,
fit_batch against the single-start lmfit fit above: median |dbeta|/beta and the share of curves
with beta off by more than 10 %, and each side's curves per CPU second.

Also times a 1,000-resample bootstrap of one 1,000-point curve. Our target: >= 10x the
like-for-like throughput with equal or better accuracy in the median and the tail.

    python bench/fit_throughput.py [--curves 10000] [--lmfit-curves 300] [--accuracy-curves 1000]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import lmfit
import numpy as np

import fitting
from fitting.laws import STEP_POWER
from fitting.pipeline import row_problem, subsample, to_internal

BOUNDS = [p.internal_bounds for p in STEP_POWER.params]  # (L0, log B, beta), as fit_batch has them


def make_curves(n: int, points: int, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (points,), losses (n, points) and the true beta (n,)."""
    rng = np.random.default_rng(seed)
    x = np.geomspace(10, 1e5, points)
    l0, b, beta = rng.uniform(0.5, 3, n), 10 ** rng.uniform(2, 8, n), rng.uniform(0.1, 1.0, n)
    clean = l0[:, None] + (b[:, None] / x) ** beta[:, None]
    return x, clean * np.exp(sigma * rng.standard_normal(clean.shape)), beta


def starts_for(x: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """The law's 16 starts for one curve, internal units (L0, log B, beta), inside the bounds."""
    guesses = STEP_POWER.guess({"x": x[None, :]}, loss[None, :], np.ones((1, x.size)))[:, 0, :]
    lower, upper = np.array(BOUNDS).T
    return np.clip(to_internal(STEP_POWER, guesses), lower, upper)


def log_model(theta: np.ndarray, log_x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.logaddexp(np.log(theta[..., :1]), theta[..., 2:3] * (theta[..., 1:2] - log_x))


def lmfit_from(x: np.ndarray, loss: np.ndarray, start: np.ndarray) -> tuple[float, float]:
    """One lmfit least-squares fit from `start`: (beta, cost)."""
    log_x, log_loss = np.log(x), np.log(loss)

    def residual(ps: lmfit.Parameters) -> np.ndarray:
        return log_model(np.array([ps["L0"].value, ps["log_B"].value, ps["beta"].value]), log_x) - log_loss

    params = lmfit.Parameters()
    for name, value, (lo, hi) in zip(("L0", "log_B", "beta"), start, BOUNDS, strict=True):
        params.add(name, value=float(value), min=lo, max=hi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = lmfit.minimize(residual, params, method="least_squares")
    return float(out.params["beta"].value), float(0.5 * (out.residual**2).sum())


def lmfit_best_start(x: np.ndarray, loss: np.ndarray) -> float:
    """The single-start lmfit fit: starts computed and scored here on fit_batch's subsample (the
    same points and the same code), the best one refined on every point."""
    sub = subsample(row_problem(STEP_POWER, {"x": x[None]}, loss[None], np.ones((1, x.size)), {}))
    xs, log_ls = sub.inputs["x"][0], sub.log_loss[0]
    starts = starts_for(xs, np.exp(log_ls))
    cost = ((log_model(starts, np.log(xs)) - log_ls) ** 2).sum(axis=1)
    return lmfit_from(x, loss, starts[int(np.argmin(cost))])[0]


def lmfit_all_starts(x: np.ndarray, loss: np.ndarray) -> float:
    fits = [lmfit_from(x, loss, s) for s in starts_for(x, loss)]
    return min(fits, key=lambda f: f[1])[0]


@dataclass(frozen=True)
class Timed:
    beta: np.ndarray
    cpu_s: float
    wall_s: float

    def rate(self, n: int) -> float:
        return n / self.cpu_s


def timed(run: Callable[[], np.ndarray]) -> Timed:
    cpu, wall = time.process_time(), time.perf_counter()
    beta = run()
    return Timed(beta, time.process_time() - cpu, time.perf_counter() - wall)


def ours(x: np.ndarray, losses: np.ndarray) -> Timed:
    return timed(lambda: np.array([f.params["beta"] for f in fitting.fit_batch([(x, row) for row in losses])]))


def theirs(fit: Callable[[np.ndarray, np.ndarray], float], x: np.ndarray, losses: np.ndarray) -> Timed:
    return timed(lambda: np.array([fit(x, row) for row in losses]))


def accuracy(beta_hat: np.ndarray, beta: np.ndarray) -> tuple[float, float]:
    """Median |dbeta|/beta and the share of curves off by more than 10 %."""
    err = np.abs(beta_hat / beta - 1)
    return float(np.median(err)), float(np.mean(err > 0.1))


def throughput(args: argparse.Namespace) -> None:
    x, losses, beta = make_curves(args.curves, args.points, 0.01, args.seed)
    fitting.fit_batch([(x, row) for row in losses[:50]])  # warm imports and caches
    lmfit_best_start(x, losses[0])
    batch = ours(x, losses)
    subset = np.random.default_rng(1).choice(args.curves, size=min(args.lmfit_curves, args.curves), replace=False)
    best = theirs(lmfit_best_start, x, losses[subset])
    every = theirs(lmfit_all_starts, x, losses[subset[: args.context_curves]])

    print(f"{args.curves} step_power curves x {args.points} points, 1 % noise, 16 starts per curve")
    print(f"{'tool':<44}{'curves':>7}{'CPU s':>9}{'wall s':>9}{'curves/CPU s':>14}{'med |db|/b':>12}{'> 10 %':>8}")

    def row(name: str, run: Timed | None, estimate: np.ndarray, true: np.ndarray) -> None:
        med, share = accuracy(estimate, true)
        n = len(true)
        times = f"{run.cpu_s:>9.2f}{run.wall_s:>9.2f}{run.rate(n):>14.1f}" if run else " " * 32
        print(f"{name:<44}{n:>7}{times}{med:>12.2e}{share:>8.1%}")

    context = subset[: args.context_curves]
    row("fitting.fit_batch (all curves)", batch, batch.beta, beta)
    row("fitting.fit_batch (the lmfit subset)", None, batch.beta[subset], beta[subset])
    row("lmfit, best start refined (like-for-like)", best, best.beta, beta[subset])
    row("lmfit, 16 starts refined, best kept", every, every.beta, beta[context])
    ours_med, ours_share = accuracy(batch.beta[subset], beta[subset])
    their_med, their_share = accuracy(best.beta, beta[subset])
    ratio = batch.rate(args.curves) / best.rate(len(subset))
    wall_ratio = (args.curves / batch.wall_s) / (len(subset) / best.wall_s)
    rates = (
        f"{batch.rate(args.curves):.0f} vs {best.rate(len(subset)):.1f} curves per CPU second; wall {wall_ratio:.1f}x"
    )
    print(
        f"like-for-like: fit_batch {ratio:.1f}x lmfit refining the best-scored start ({rates}); "
        f"median |dbeta|/beta {ours_med:.2e} vs {their_med:.2e}, > 10 % error {ours_share:.1%} vs {their_share:.1%} "
        f"(target >= 10x at equal accuracy)"
    )
    context = batch.rate(args.curves) / every.rate(args.context_curves)
    print(f"context: fit_batch {context:.0f}x lmfit refining all 16 starts")


def accuracy_table(args: argparse.Namespace) -> None:
    print(
        f"\naccuracy against single-start lmfit (best-scored start, least squares): "
        f"{args.accuracy_curves} curves x 600 points per noise level"
    )
    header = ("noise", "ours med", "> 10 %", "lmfit med", "> 10 %", "ours /CPU s", "lmfit /CPU s")
    print("".join(f"{h:>{w}}" for h, w in zip(header, (6, 11, 8, 11, 8, 13, 14), strict=True)))
    for level, sigma in enumerate((0.01, 0.04, 0.08), start=1):
        x, losses, beta = make_curves(args.accuracy_curves, 600, sigma, args.seed + level)
        mine, other = ours(x, losses), theirs(lmfit_best_start, x, losses)
        (m1, s1), (m2, s2) = accuracy(mine.beta, beta), accuracy(other.beta, beta)
        n = args.accuracy_curves
        print(f"{sigma:>6.0%}{m1:>11.2e}{s1:>8.1%}{m2:>11.2e}{s2:>8.1%}{mine.rate(n):>13.0f}{other.rate(n):>14.1f}")


def bootstrap_time(args: argparse.Namespace) -> None:
    x, losses, _ = make_curves(1, args.points, 0.01, args.seed)
    fitting.fit_curve(x, losses[0], bootstrap=10)
    point = timed(lambda: np.array([fitting.fit_curve(x, losses[0]).params["beta"]]))
    boot = timed(lambda: np.array([fitting.fit_curve(x, losses[0], bootstrap=1000).params["beta"]]))
    print(
        f"\nbootstrap, 1000 resamples of one {args.points}-point curve: {boot.cpu_s:.2f} CPU s, "
        f"{boot.wall_s:.2f} wall s (point fit {point.cpu_s:.3f} CPU s; target < 1 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="fit_batch against lmfit, like for like")
    parser.add_argument("--curves", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--lmfit-curves", type=int, default=300, help="random subset timed with lmfit")
    parser.add_argument("--context-curves", type=int, default=25, help="of those, refined from all 16 starts")
    parser.add_argument("--accuracy-curves", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    throughput(args)
    accuracy_table(args)
    bootstrap_time(args)


if __name__ == "__main__":
    main()
