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

Before and after side by side: "before" is fitting.fit_batch at --before (default: the commit the
issue-19 work started from), taken out of git with `git archive`. Each fit_batch side, this
checkout's and the before's, runs in a worker process of its own that makes the same curves from
the same seed (so neither inherits the other's or lmfit's allocator state). On a shared machine
the load moves within seconds, so every side is timed in --chunks interleaved slices (ours,
before, lmfit, ours, ...) and the CPU seconds summed: each side sees the same load.

    python bench/fit_throughput.py [--curves 10000] [--lmfit-curves 300] [--accuracy-curves 1000]
                                   [--chunks 10] [--before REV | --skip-before]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lmfit
import numpy as np
from source_tree import tree_at  # bench/ is on sys.path when this script runs

import fitting
from fitting.laws import STEP_POWER
from fitting.pipeline import row_problem, subsample, to_internal

BOUNDS = [p.internal_bounds for p in STEP_POWER.params]  # (L0, log B, beta), as fit_batch has them
ROOT = Path(__file__).resolve().parents[1]
BEFORE = "c3c04ec"  # main when the issue-19 work started

# A fit_batch side: fit_batch of the tree it runs in (cwd), on curves made by this file's make_curves;
# one JSON request per line ({"n", "points", "sigma", "seed", "rows": [start, stop]}), one reply per
# line: the process CPU and wall seconds of fit_batch and the betas.
WORKER = r"""
import json, sys, time
sys.path.insert(1, sys.argv[1])
import numpy as np
import fitting
from fit_throughput import make_curves
made = {}
for line in sys.stdin:
    q = json.loads(line)
    key = (q["n"], q["points"], q["sigma"], q["seed"])
    if key not in made:
        made = {key: make_curves(*key)}
    x, losses, _ = made[key]
    rows = losses[q["rows"][0]:q["rows"][1]]
    cpu, wall = time.process_time(), time.perf_counter()
    beta = [f.params["beta"] for f in fitting.fit_batch([(x, r) for r in rows])]
    out = {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "beta": beta}
    print(json.dumps(out), flush=True)
"""


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


def theirs(fit: Callable[[np.ndarray, np.ndarray], float], x: np.ndarray, losses: np.ndarray) -> Timed:
    return timed(lambda: np.array([fit(x, row) for row in losses]))


class Worker:
    """fit_batch of one source tree, in a process of its own (WORKER) that makes the same curves.

    Both fit_batch sides run in workers, the checkout's and --before's: the process's allocator
    state moves fit_batch's CPU time by up to a fifth (glibc returns freed blocks to the kernel, and
    how soon depends on what the process allocated before), and the main process has lmfit's."""

    def __init__(self, label: str, tree: Path):
        self.label = label
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(ROOT / "bench")], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    @classmethod
    def at(cls, rev: str, directory: Path) -> Worker:
        """fit_batch at another revision."""
        return cls(rev, tree_at(rev, directory))

    def fit(self, spec: tuple[int, int, float, int], rows: np.ndarray) -> Timed:
        """fit_batch on rows [start, stop) of make_curves(*spec); rows: the start and the stop."""
        assert self.process.stdin is not None and self.process.stdout is not None
        request = dict(zip(("n", "points", "sigma", "seed"), spec, strict=True))
        self.process.stdin.write(json.dumps({**request, "rows": [int(rows[0]), int(rows[1])]}) + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        return Timed(np.array(reply["beta"]), reply["cpu"], reply["wall"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def interleaved(
    sides: dict[str, Callable[[int], Timed]], chunks: int
) -> tuple[dict[str, Timed], dict[str, list[Timed]]]:
    """Each side run on its chunks 0..chunks-1 in turn (side a's chunk k, b's chunk k, ...): on a
    shared machine every side sees the same load. The chunks' betas joined, their seconds summed;
    and each side's chunks as they ran."""
    parts: dict[str, list[Timed]] = {name: [] for name in sides}
    for k in range(chunks):
        for name, run in sides.items():
            parts[name].append(run(k))
    joined = {
        name: Timed(np.concatenate([p.beta for p in ps]), sum(p.cpu_s for p in ps), sum(p.wall_s for p in ps))
        for name, ps in parts.items()
    }
    return joined, parts


def split(n: int, chunks: int) -> np.ndarray:
    return np.linspace(0, n, chunks + 1).astype(int)


def accuracy(beta_hat: np.ndarray, beta: np.ndarray) -> tuple[float, float]:
    """Median |dbeta|/beta and the share of curves off by more than 10 %."""
    err = np.abs(beta_hat / beta - 1)
    return float(np.median(err)), float(np.mean(err > 0.1))


def throughput(args: argparse.Namespace, ours: Worker, before: Worker | None) -> None:
    spec = (args.curves, args.points, 0.01, args.seed)
    x, losses, beta = make_curves(*spec)
    lmfit_best_start(x, losses[0])  # warm imports and caches
    subset = np.random.default_rng(1).choice(args.curves, size=min(args.lmfit_curves, args.curves), replace=False)
    context = subset[: args.context_curves]
    cut, cut_sub, cut_ctx = (
        split(args.curves, args.chunks),
        split(len(subset), args.chunks),
        split(len(context), args.chunks),
    )
    sides: dict[str, Callable[[int], Timed]] = {
        "ours": lambda k: ours.fit(spec, cut[k : k + 2]),
        "best": lambda k: theirs(lmfit_best_start, x, losses[subset[cut_sub[k] : cut_sub[k + 1]]]),
        "every": lambda k: theirs(lmfit_all_starts, x, losses[context[cut_ctx[k] : cut_ctx[k + 1]]]),
    }
    for worker in (ours, before):
        if worker is not None:
            worker.fit(spec, np.array([0, 50]))  # warm the worker: imports and caches
    if before is not None:
        sides["before"] = lambda k: before.fit(spec, cut[k : k + 2])
    runs, chunk_runs = interleaved(sides, args.chunks)
    batch, best, every = runs["ours"], runs["best"], runs["every"]

    print(
        f"{args.curves} step_power curves x {args.points} points, 1 % noise, 16 starts per curve, {args.chunks} chunks"
    )
    print(f"{'tool':<44}{'curves':>7}{'CPU s':>9}{'wall s':>9}{'curves/CPU s':>14}{'med |db|/b':>12}{'> 10 %':>8}")

    def row(name: str, run: Timed | None, estimate: np.ndarray, true: np.ndarray) -> None:
        med, share = accuracy(estimate, true)
        n = len(true)
        times = f"{run.cpu_s:>9.2f}{run.wall_s:>9.2f}{run.rate(n):>14.1f}" if run else " " * 32
        print(f"{name:<44}{n:>7}{times}{med:>12.2e}{share:>8.1%}")

    row("fitting.fit_batch (all curves)", batch, batch.beta, beta)
    if before is not None:
        row(f"fitting.fit_batch before ({before.label})", runs["before"], runs["before"].beta, beta)
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
    # the same ratio chunk by chunk: its spread is the machine's speed moving and the lmfit curves'
    # own spread (lmfit's iterations differ from curve to curve), what one run's headline rests on
    by_chunk = [
        (len(p.beta) / p.cpu_s) / (len(q.beta) / q.cpu_s)
        for p, q in zip(chunk_runs["ours"], chunk_runs["best"], strict=True)
        if len(q.beta) and q.cpu_s > 0 and p.cpu_s > 0
    ]
    if by_chunk:
        print(
            f"  chunk by chunk ({len(by_chunk)} chunks of {len(subset) // args.chunks} lmfit curves): median "
            f"{np.median(by_chunk):.1f}x, from {min(by_chunk):.1f}x to {max(by_chunk):.1f}x"
        )
    if before is not None:
        was = runs["before"]
        was_ratio = was.rate(args.curves) / best.rate(len(subset))
        was_med, was_share = accuracy(was.beta[subset], beta[subset])
        print(
            f"before ({before.label}), same chunks: fit_batch {was_ratio:.1f}x lmfit "
            f"({was.rate(args.curves):.0f} curves per CPU second); median {was_med:.2e}, "
            f"> 10 % error {was_share:.1%}; after / before "
            f"{batch.rate(args.curves) / was.rate(args.curves):.2f}x per CPU second"
        )
    print(f"context: fit_batch {batch.rate(args.curves) / every.rate(len(context)):.0f}x lmfit refining all 16 starts")


def accuracy_table(args: argparse.Namespace, ours: Worker, before: Worker | None) -> None:
    n = args.accuracy_curves
    print(
        f"\naccuracy against single-start lmfit (best-scored start, least squares): "
        f"{n} curves x 600 points per noise level, {args.chunks} chunks"
    )
    names = ["ours", *(["before"] if before else []), "lmfit"]
    header = ["noise", *(h for name in names for h in (f"{name} med", "> 10 %")), *(f"{name} /CPU s" for name in names)]
    widths = [6, *([12, 8] * len(names)), *([14] * len(names))]
    print("".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for level, sigma in enumerate((0.01, 0.04, 0.08), start=1):
        runs, beta = accuracy_runs(args, ours, before, (n, 600, sigma, args.seed + level))
        errors = "".join(f"{m:>12.2e}{s:>8.1%}" for name in names for m, s in [accuracy(runs[name].beta, beta)])
        rates = "".join(f"{runs[name].rate(n):>14.1f}" for name in names)
        print(f"{sigma:>6.0%}{errors}{rates}")


def accuracy_runs(
    args: argparse.Namespace, ours: Worker, before: Worker | None, spec: tuple[int, int, float, int]
) -> tuple[dict[str, Timed], np.ndarray]:
    """Every side on the curves of make_curves(*spec), interleaved by chunks; and the true betas."""
    x, losses, beta = make_curves(*spec)
    cut = split(spec[0], args.chunks)
    sides: dict[str, Callable[[int], Timed]] = {
        "ours": lambda k: ours.fit(spec, cut[k : k + 2]),
        "lmfit": lambda k: theirs(lmfit_best_start, x, losses[cut[k] : cut[k + 1]]),
    }
    if before is not None:
        sides["before"] = lambda k: before.fit(spec, cut[k : k + 2])
    return interleaved(sides, args.chunks)[0], beta


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
    parser.add_argument("--chunks", type=int, default=10, help="interleaved slices each side is timed in")
    parser.add_argument("--before", default=BEFORE, help=f"the git revision of 'before' (default {BEFORE})")
    parser.add_argument("--skip-before", action="store_true", help="only this checkout")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (CPU seconds are the headline)")
    with tempfile.TemporaryDirectory() as tmp:
        ours = Worker("this checkout", ROOT)
        before = None if args.skip_before else Worker.at(args.before, Path(tmp))
        try:
            throughput(args, ours, before)
            accuracy_table(args, ours, before)
        finally:
            for worker in (ours, before):
                if worker is not None:
                    worker.close()
    bootstrap_time(args)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
