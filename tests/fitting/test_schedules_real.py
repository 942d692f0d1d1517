"""The schedule-aware laws on real curves: the Multi-Power-Law paper's 400M model trained under
nine schedules (tests/data/schedules/, MIT). A law fitted on some schedules predicts the others.

Errors are relative to the published loss, over every point of each predicted curve. The paper
reports 0.11-0.17 % mean and 0.4-1.0 % worst for its own fits (25M-400M); the bounds here sit just
above what we measured (README, "Laws of the learning-rate schedule"), so a worse fit fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitting import fit_curve, fit_joint, get_law, predict

DATA = Path(__file__).resolve().parents[1] / "data" / "schedules"
RUNS = (
    "constant_24000",
    "cosine_24000",
    "wsd_20000_24000",
    "wsdld_20000_24000",
    "wsdcon_3",
    "wsdcon_9",
    "wsdcon_18",
    "cosine_72000",
    "constant_72000",
)


def run(name: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One run's (inputs, loss). The files start after the warmup (0 -> 3e-4 over 2160 steps, as
    their README says): a first row at step 0 with lr 0 and no loss gives the schedule that warmup."""
    table = pd.read_csv(DATA / f"multipowerlaw_400m_{name}.csv")
    inputs = {"x": np.r_[0.0, table["step"].to_numpy(float)], "lr": np.r_[0.0, table["lr"].to_numpy(float)]}
    return inputs, np.r_[np.nan, table["loss"].to_numpy(float)]


def errors(law: str, fitted_on: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Relative error at every point of each run not fitted, predicted by `law` fitted on the others."""
    curves = [run(name) for name in fitted_on]
    shared = get_law(law).param_names
    fit = fit_curve(*curves[0], law) if len(curves) == 1 else fit_joint(curves, law, shared=shared)[0]
    out = {}
    for name in RUNS:
        if name not in fitted_on:
            inputs, loss = run(name)
            predicted = predict(fit, inputs["x"], lr=inputs["lr"]).loss
            out[name] = np.abs(predicted[1:] / loss[1:] - 1)
    return out


@pytest.mark.parametrize(
    ("law", "fitted_on", "mean_of_means", "each_mean", "worst"),
    [
        # one curve each: measured 0.24 % / 0.29 % mean over the other runs, worst 1.12 % / 1.29 %
        ("lr_annealing", ("cosine_24000",), 0.0025, 0.005, 0.012),
        ("multi_power", ("wsd_20000_24000",), 0.0031, 0.006, 0.014),
    ],
)
def test_a_law_fitted_on_one_run_predicts_the_others(
    law: str, fitted_on: tuple[str, ...], mean_of_means: float, each_mean: float, worst: float
) -> None:
    measured = errors(law, fitted_on)
    assert np.mean([e.mean() for e in measured.values()]) < mean_of_means
    for name, e in measured.items():
        assert e.mean() < each_mean, name
        assert e.max() < worst, name


@pytest.mark.parametrize("law", ["lr_annealing", "multi_power"])
def test_the_papers_protocol_constant_cosine_and_two_stage_predict_six_schedules(law: str) -> None:
    """Fitted jointly on constant, cosine and wsdcon_9, as the paper's repository benchmarks:
    measured 0.18 % (lr_annealing) and 0.19 % (multi_power) mean over the six others, worst 0.89 %
    and 0.95 %; the 72,000-step cosine run, three times longer than any fitted, is the hardest."""
    measured = errors(law, ("constant_24000", "cosine_24000", "wsdcon_9"))
    assert len(measured) == 6
    assert np.mean([e.mean() for e in measured.values()]) < 0.002
    for name, e in measured.items():
        assert e.mean() < (0.0055 if name == "cosine_72000" else 0.004), name
        assert e.max() < 0.0097, name
