"""A compute-optimal plan with 1000 resamples, timed (target: under a second), side by side with
the obvious way (each resample's optimum found by scipy's scalar minimiser, one budget at a time),
through the library and through a server process (PlanCompute: the plan and the IsoFLOP profiles,
then with the figure); and the plan itself printed, on Epoch's extraction of the Chinchilla runs
when it is at --data (tests/data/chinchilla/README.md), else on runs simulated at Chinchilla's
IsoFLOP budgets.

    .venv/bin/python bench/plan.py [--resamples 1000] [--data CSV] [--figure docs/figures/plan.png]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

import fitting
from service.cli.plan import plan_text
from service.cli.server_process import ServerProcess
from service.client import ScalingLawClient

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests/data/chinchilla/svg_extracted_data.csv"
BUDGETS = [1e21, 5.76e23]  # 5.76e23: Chinchilla's own (70B parameters, 1.4T tokens)
TARGET_SECONDS = 1.0
LAW = {"E": 1.82, "A": 482.01, "alpha": 0.3478, "B": 2085.43, "beta": 0.3658}  # the replication's fit


def runs(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    if path.is_file():
        frame = pd.read_csv(path)
        n, flops, loss = (frame[c].to_numpy(float) for c in ("Model Size", "Training FLOP", "loss"))
        keep = loss < np.sort(loss)[-5]  # as the replication: the five runs of highest loss left out
        return f"Epoch's extraction ({keep.sum()} runs)", {"N": n[keep], "D": flops[keep] / (6 * n[keep]),
                                                             "loss": loss[keep]}  # fmt: skip
    rng = np.random.default_rng(0)
    n, d = [], []
    for c in (6e18, 1e19, 3e19, 6e19, 1e20, 3e20, 6e20, 1e21, 3e21):
        sizes = fitting.compute_optimal(LAW, [c]).rows[0].n_opt.value * np.geomspace(0.1, 10.0, 14)
        n.append(sizes)
        d.append(c / (6 * sizes))
    inputs = {"N": np.concatenate(n), "D": np.concatenate(d)}
    loss = fitting.get_law("chinchilla").evaluate(inputs, LAW) * np.exp(0.008 * rng.standard_normal(inputs["N"].size))
    return "runs simulated at Chinchilla's budgets (126 runs)", {**inputs, "loss": loss}


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """The median of `repeat` wall times, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scalar_minimiser_plan(fit: fitting.FitResult, budgets: list[float]) -> np.ndarray:
    """The obvious way: for each resample and budget, minimise the law over log N with scipy."""
    assert fit.samples is not None
    law, names = fitting.get_law("chinchilla"), fitting.get_law("chinchilla").param_names
    out = np.empty((len(fit.samples), len(budgets)))
    for i, row in enumerate(fit.samples):
        params = dict(zip(names, row, strict=True))
        for j, c in enumerate(budgets):

            def loss(u: float, c: float = c, params: dict[str, float] = params) -> float:
                n = np.exp(np.array([u]))
                return float(law.evaluate({"N": n, "D": c / (6 * n)}, params)[0])

            out[i, j] = np.exp(minimize_scalar(loss, bounds=(0.0, np.log(c / 6)), method="bounded").x)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the fit")
    parser.add_argument("--data", type=Path, default=DATA, help="Epoch's svg_extracted_data.csv")
    parser.add_argument("--figure", type=Path, help="write the plan's figure here (.png, .svg, .pdf)")
    args = parser.parse_args()
    what, data = runs(args.data)
    inputs = {"N": data["N"], "D": data["D"]}
    start = time.perf_counter()
    fit = fitting.fit_curve(inputs, data["loss"], "chinchilla", bootstrap=args.resamples)
    fit_seconds = time.perf_counter() - start
    print(f"{what}: chinchilla fitted with {args.resamples} resamples in {fit_seconds:.2f} s ({fit.status.value})")

    many = list(np.geomspace(1e19, 1e25, 100))
    expression = fitting.expression_law("E + A / N**alpha + B / D**beta", inputs=("N", "D"))
    as_expression = fitting.FitResult(**{**fit.__dict__, "law": expression.name})
    rows = [
        ("library, closed form, 2 budgets", timed(lambda: fitting.compute_optimal(fit, BUDGETS, data=inputs))),
        ("library, closed form, 100 budgets", timed(lambda: fitting.compute_optimal(fit, many, data=inputs))),
        ("library, numeric (law as text), 2 budgets", timed(lambda: fitting.compute_optimal(as_expression, BUDGETS))),
        ("library, IsoFLOP profiles", timed(lambda: fitting.isoflop_profiles(
            data["N"], data["D"], data["loss"], bootstrap=args.resamples), repeat=3)),
        ("scipy's scalar minimiser per resample, 2 budgets", timed(lambda: scalar_minimiser_plan(fit, BUDGETS), 1)),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(tmp)
        try:
            with ScalingLawClient(server.target, timeout=120) as client:
                columns = {"N": data["N"], "D": data["D"]}
                curve = client.upload_curve(np.arange(1.0, data["N"].size + 1), data["loss"], columns=columns)
                (stored,) = client.fit([curve.id], law="chinchilla", bootstrap=args.resamples)
                rows.append(("PlanCompute (server process), 2 budgets", timed(lambda: client.plan(stored.id, BUDGETS))))
                figure = Path(tmp) / "plan.png"
                rows.append(
                    (
                        "PlanCompute with the PNG figure",
                        timed(lambda: client.plan(stored.id, BUDGETS, figure=figure), 3),
                    )
                )
                frame = client.plan(stored.id, BUDGETS, figure=args.figure)
        finally:
            server.kill()
    print(f"\nwall seconds, median (target for a plan with {args.resamples} resamples: under {TARGET_SECONDS:g} s)")
    print(f"{'work':52} {'seconds':>9} {'/ target':>9} {'scipy / this':>13}")
    naive = rows[4][1]
    for name, seconds in rows:
        like_for_like = name.endswith("2 budgets")  # the same plan: the same resamples and budgets
        ratio = f"{naive / seconds:13.1f}" if like_for_like else f"{'-':>13}"
        print(f"{name:52} {seconds:9.4f} {seconds / TARGET_SECONDS:9.3f} {ratio}")
    print()
    for line in plan_text(frame):
        print(line)
    if args.figure:
        print(f"figure written to {args.figure}")


if __name__ == "__main__":
    main()
