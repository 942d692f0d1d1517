"""The fitting demo behind `make demo`: conventional against near-optimal learning.

Fits L(t) = L0 + (B/t)^beta to both example curves (shared L0, t > 400 as in the paper),
with bootstrap intervals, then reports the acceleration ratio at several horizons, the
speed-up at target losses, the coefficient improvements and the compression ratios.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import fitting
from fitting import FitResult

CURVES = Path(__file__).parent / "curves"
WARMUP = 400  # the paper's t0
VOCAB = 5000  # the paper's LM vocabulary


def show_fits(title: str, fits: dict[str, FitResult]) -> None:
    print(f"\n{title}")
    print(f"{'policy':<14}{'L0':>28} {'B':>30} {'beta':>28}{'r2 (log)':>10}  status")
    for policy, fit in fits.items():
        cells = []
        for name in ("L0", "B", "beta"):
            low, high = fit.ci[name]
            interval = "[no interval]" if low != low else f"[{low:.3g}, {high:.3g}]"  # NaN: grid value
            cells.append(f"{fit.params[name]:.4g} {interval}")
        print(f"{policy:<14}{cells[0]:>28} {cells[1]:>30} {cells[2]:>28}{fit.r2:>10.4f}  {fit.status.value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the 95 %% intervals")
    args = parser.parse_args()

    curves = {policy: pd.read_csv(CURVES / f"{policy}.csv") for policy in ("conventional", "optimal")}
    print("Example curves (synthetic, seeded: see examples/make_example_curves.py)")
    for policy, frame in curves.items():
        print(f"  {policy:<13} {len(frame)} steps, final test loss {frame.loss.iloc[-1]:.4f} nats")

    pairs = [(frame.step.to_numpy(), frame.loss.to_numpy()) for frame in curves.values()]
    robust = fitting.fit_joint(pairs, shared=("L0",), x_min=WARMUP, bootstrap=args.bootstrap, seed=0)
    paper = fitting.fit_joint(pairs, shared=("L0",), x_min=WARMUP, method="paper")
    show_fits(
        f"Robust joint fit (Huber on log loss, shared L0, t >= {WARMUP}, {args.bootstrap} bootstrap resamples)",
        dict(zip(curves, robust, strict=True)),
    )
    show_fits(
        "The paper's procedure (grid over L0, log-linear regression; Wald intervals)",
        dict(zip(curves, paper, strict=True)),
    )

    base, cand = robust
    horizon = float(curves["conventional"].step.iloc[-1])
    print("\nAcceleration ratio AR(T) = T / min{t : L_opt(t) <= L_conv(T)}  (95 % bootstrap interval)")
    measured = fitting.acceleration_ratio_measured(*pairs[0], *pairs[1], horizon)
    for factor in (1, 10, 100, 1000):
        T = horizon * factor
        fit_ar = fitting.acceleration_ratio(base, cand, T)
        note = f"   measured on the curves: {measured:.3f}" if factor == 1 else ""
        print(f"  T = {T:>10.0f}   from fits: {fit_ar:.3f}{note}")
    print(f"  T = {1e7:>10.0f}   from fits: {fitting.acceleration_ratio(base, cand, 1e7):.3f}")

    print("\nSpeed-up at a target loss: t_conv(L*) / t_opt(L*)")
    final = float(curves["conventional"].loss.iloc[-200:].mean())
    for target in (3.0, 2.5, round(final, 3)):
        print(f"  L* = {target:<7} {fitting.speedup_at_loss(base, cand, target):.3f}")

    imp = fitting.coefficient_improvement(base, cand)
    print("\nCoefficient improvements (paper Table 2 at T = 4K: 93.7 % and 18.7 %)")
    print(f"  |dB/B|       = {imp.B.value:.1%}  [{imp.B.low:.1%}, {imp.B.high:.1%}]")
    print(f"  |dbeta/beta| = {imp.beta.value:.1%}  [{imp.beta.low:.1%}, {imp.beta.high:.1%}]")

    print(f"\nCompression ratio, |V| = {VOCAB}; units: {fitting.CR_UNITS['paper']}")
    for policy, frame in curves.items():
        cr = fitting.compression_ratio(frame.loss, VOCAB)
        print(f"  {policy:<13} AUC = {fitting.auc(frame.loss):9.1f} nats x steps   CR = {cr:.3f}")


if __name__ == "__main__":
    main()
