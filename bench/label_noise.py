"""The paper preset against the share of flipped training labels: AR, CR and the zero-weight share.

    python bench/label_noise.py [--noise 0,0.01,0.02,0.03,0.04,0.05] [--seed 0] [--workers 2]
                                [--out docs/reproduction/perceptron/label_noise.md]

The paper's data as written has no label noise; the preset flips 3 % (docs/reproduction.md,
Calibration). This runs the whole preset (conventional run, search, kept policy, diagnostics,
fits) once per noise level, two at a time, and prints, and writes as markdown, how much of the
acceleration the noise level decides.
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from trainers import run
from trainers.outcome import JobOutcome
from trainers.presets import preset_spec
from trainers.reproduction import measured, near_optimal


def one(noise: float, seed: int) -> JobOutcome:
    spec = preset_spec("paper", seed=seed, device="cpu")
    return run(replace(spec, perceptron=replace(spec.perceptron, label_noise=noise))).outcome


def row(noise: float, o: JobOutcome) -> str:
    opt = near_optimal(o)
    ar = o.ar_measured
    interval = f"[{ar.low:.2f}, {ar.high:.2f}]" if ar is not None and ar.has_interval else ""
    fitted = math.nan if o.ar_fit is None else o.ar_fit.value
    return (
        f"| {noise:.1%} | {measured(ar):.2f} {interval} | {fitted:.2f} | {o.conventional.cr:.2f} | {opt.cr:.2f} "
        f"| {o.zero_weight_fraction or math.nan:.1%} | {o.well_learned_share or math.nan:.1%} "
        f"| {opt.end_rise:.4f} | {o.seconds:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", default="0,0.01,0.02,0.03,0.04,0.05")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", help="also write the table here (markdown)")
    args = parser.parse_args()
    levels = [float(x) for x in args.noise.split(",")]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(pool.map(one, levels, [args.seed] * len(levels)))
    lines = [
        f"Paper preset, seed {args.seed}, by share of flipped training labels "
        f"(`python bench/label_noise.py`, {time.perf_counter() - started:.0f} s wall on {args.workers} processes).",
        "",
        "| flipped | test AR at T, measured [95 %] | AR from the fits | CR conventional | CR near-optimal "
        "| zero weight among CT <= 0 | well-learned < 0.2 max | final / least test loss | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
        *(row(noise, o) for noise, o in zip(levels, outcomes, strict=True)),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
