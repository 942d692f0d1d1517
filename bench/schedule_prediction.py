"""Prediction across learning-rate schedules, side by side: the schedule-aware laws (lr_annealing,
multi_power) against a plain step_power fit of the steps, on the Multi-Power-Law paper's 400M runs
under nine schedules (tests/data/schedules, MIT). Each law is fitted on the paper repository's
protocol (constant, cosine and a two-stage run, jointly) and on one cosine run alone, then predicts
every other run; the errors are relative, over every point of each predicted run. Also prints the
fit times. The Multi-Power-Law paper reports 0.11-0.17 % mean and 0.4-1.0 % worst for its fits.

    .venv/bin/python bench/schedule_prediction.py [--figure docs/figures/schedules.png]

--figure draws the worked example of docs/schedules.md: the WSD run, step_power fitted to it (its
verdict), and lr_annealing fitted on the cosine run alone predicting it, with the band.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import fitting

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "schedules"
RUNS = ("constant_24000", "cosine_24000", "wsd_20000_24000", "wsdld_20000_24000", "wsdcon_3", "wsdcon_9",
        "wsdcon_18", "cosine_72000", "constant_72000")  # fmt: skip
PROTOCOLS = {"constant + cosine + two-stage": ("constant_24000", "cosine_24000", "wsdcon_9"), "cosine alone":
             ("cosine_24000",)}  # fmt: skip
LAWS = ("step_power", "lr_annealing", "multi_power")


def run(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, lr, loss): a first row at step 0 with lr 0 gives the schedule its 2160-step warmup."""
    table = pd.read_csv(DATA / f"multipowerlaw_400m_{name}.csv")
    return (np.r_[0.0, table["step"].to_numpy(float)], np.r_[0.0, table["lr"].to_numpy(float)],
            np.r_[np.nan, table["loss"].to_numpy(float)])  # fmt: skip


def fit(law: str, names: tuple[str, ...]) -> fitting.FitResult:
    curves = []
    for name in names:
        x, lr, loss = run(name)
        curves.append(({"x": x, "lr": lr}, loss) if law != "step_power" else (x[1:], loss[1:]))
    if len(curves) == 1:
        return fitting.fit_curve(*curves[0], law)
    return fitting.fit_joint(curves, law, shared=fitting.get_law(law).param_names)[0]


def errors(result: fitting.FitResult, law: str, fitted: tuple[str, ...]) -> list[np.ndarray]:
    out = []
    for name in RUNS:
        if name in fitted:
            continue
        x, lr, loss = run(name)
        if law == "step_power":
            predicted = fitting.predict(result, x[1:]).loss
        else:
            predicted = fitting.predict(result, x, lr=lr).loss[1:]
        out.append(np.abs(predicted / loss[1:] - 1))
    return out


def main() -> None:
    print(f"{'fitted on':<32}{'law':<14}{'mean error':>12}{'worst run mean':>16}{'worst point':>13}{'fit s':>8}")
    for protocol, names in PROTOCOLS.items():
        for law in LAWS:
            start = time.process_time()
            result = fit(law, names)
            seconds = time.process_time() - start
            errs = errors(result, law, names)
            mean = np.mean([e.mean() for e in errs])
            print(f"{protocol:<32}{law:<14}{mean:>11.2%}{max(e.mean() for e in errs):>15.2%}"
                  f"{max(e.max() for e in errs):>12.2%}{seconds:>8.2f}")  # fmt: skip


def figure(path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, lr, loss = run("wsd_20000_24000")
    blind = fitting.fit_curve(x[1:], loss[1:])
    cx, clr, closs = run("cosine_24000")
    schedule_fit = fitting.fit_curve({"x": cx, "lr": clr}, closs, "lr_annealing", bootstrap=100)
    predicted = fitting.predict(schedule_fit, x, lr=lr)
    fig, (ax, ax_lr) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, height_ratios=(3, 1), constrained_layout=True)
    ax.plot(x[1:], loss[1:], ".", ms=3, color="0.3", label="WSD run (measured, 400M)")
    verdict = "good" if blind.verdict and blind.verdict.good else "poor"
    ax.plot(x[1:], fitting.predict(blind, x[1:]).loss, "--", color="tab:red",
            label=f"step_power fitted to it: r2 {blind.r2:.3f}, verdict {verdict}")  # fmt: skip
    ax.plot(x[1:], predicted.loss[1:], color="tab:blue", label="lr_annealing fitted on the cosine run, predicting")
    ax.fill_between(x[1:], predicted.low[1:], predicted.high[1:], color="tab:blue", alpha=0.25, label="95 % band")
    error = np.abs(predicted.loss[1:] / loss[1:] - 1)
    ax.set_title(f"Predicted across schedules: mean error {error.mean():.2%}, worst {error.max():.2%}")
    ax.set_ylabel("loss (nats)")
    ax.set_ylim(loss[1:].min() * 0.98, loss[1:].max() * 1.02)
    ax.legend(fontsize=8)
    ax_lr.plot(x, lr, color="tab:green", label="WSD (predicted)")
    ax_lr.plot(cx, clr, color="0.5", ls=":", label="cosine (fitted on)")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("step")
    ax_lr.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    print(f"figure written to {path}")


if __name__ == "__main__":
    main()
    if "--figure" in sys.argv:
        figure(sys.argv[sys.argv.index("--figure") + 1])
