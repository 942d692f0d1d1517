"""Where the fits start, against the AR from the fits: the reproduction's committed curves refitted.

    python bench/fit_start.py [--curves docs/reproduction/perceptron/curves.csv]
                              [--starts 25,50,75,100,150,200,300] [--figure docs/figures/fit_start.png]

For every seed in curves.csv, the conventional and near-optimal test curves are compared as the
preset compares them (the law L0 + (B/t)^beta, fitted from t = start to T, L0 shared only where the
data allow one floor), once per start, and it prints the AR at T from the fits over the AR read off
the curves, and r^2 of the worse fit. The AR is read where the near-optimal curve reaches the
conventional run's final loss, at t = T / AR: a fit that starts after that point extrapolates
there. The figure plots both against the start, with the reproduction's target bands (within 5 %, r^2 >= 0.99)
and each seed's T / AR. No training: a few seconds.
"""

from __future__ import annotations

import argparse
import csv
import warnings
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt
import numpy as np

import fitting


def read_curves(path: Path) -> dict[int, dict[str, np.ndarray]]:
    """{seed: {policy: test loss at t = 0..T}} from a reproduction's curves.csv."""
    rows: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with path.open() as f:
        for r in csv.DictReader(f):
            rows[int(r["seed"])][r["policy"]].append(float(r["test"]))
    return {s: {p: np.asarray(v) for p, v in by.items()} for s, by in rows.items()}


def refit(curves: dict[str, np.ndarray], start: int) -> tuple[float, float, float]:
    """(AR from the fits, AR measured, r^2 of the worse fit) with the fits from t = start."""
    conv, opt = curves["conventional"][1:], curves["optimal"][1:]
    steps = np.arange(1, len(conv) + 1, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = fitting.compare_curves((steps, conv), [(steps, opt)], x_min=start, horizons=[steps[-1]], bootstrap=0)
    at_t = c.candidates[0].accelerations[0]
    return at_t.ar_fit.value, at_t.ar_measured.value, min(c.baseline_fit.r2, c.candidates[0].fit.r2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curves", type=Path, default=Path("docs/reproduction/perceptron/curves.csv"))
    parser.add_argument("--starts", default="25,50,75,100,150,200,300")
    parser.add_argument("--figure", type=Path, help="also draw the figure here (PNG)")
    args = parser.parse_args()
    starts = [int(s) for s in args.starts.split(",")]
    by_seed = read_curves(args.curves)
    print("| seed | T / AR measured | " + " | ".join(f"from t {s}: fitted / measured, r^2" for s in starts) + " |")
    print("|---|---|" + "---|" * len(starts))
    results = {}
    for seed, curves in sorted(by_seed.items()):
        rows = [refit(curves, s) for s in starts]
        results[seed] = rows
        horizon = len(curves["optimal"]) - 1
        cells = " | ".join(f"{fit / measured:.3f}, {r2:.4f}" for fit, measured, r2 in rows)
        print(f"| {seed} | {horizon / rows[0][1]:.0f} | {cells} |")
    if args.figure:
        draw(starts, results, {s: len(c["optimal"]) - 1 for s, c in by_seed.items()}, args.figure)


def draw(starts: list[int], results: dict, horizons: dict[int, int], path: Path) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True)
    for seed, rows in results.items():
        ratio = [fit / measured for fit, measured, _ in rows]
        (line,) = top.plot(starts, ratio, "o-", label=f"seed {seed}")
        bottom.plot(starts, [r2 for _, _, r2 in rows], "o-", color=line.get_color())
        for ax in (top, bottom):
            ax.axvline(horizons[seed] / rows[0][1], color=line.get_color(), ls=":", lw=1)
    top.axhspan(0.95, 1.05, color="0.85", zorder=0, label="within 5 %")
    top.set_ylabel("AR from the fits / AR measured")
    top.legend(fontsize=8)
    bottom.axhspan(0.99, 1.0, color="0.85", zorder=0)
    bottom.set_ylabel("r^2, the worse of the two fits")
    bottom.set_xlabel("the fits start at step (dotted: T / AR measured, where the AR is read)")
    top.set_title("Perceptron reproduction: the fitted AR against where the fits start")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
