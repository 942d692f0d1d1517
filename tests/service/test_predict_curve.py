"""PredictCurve: a law fitted on one run predicts another learning-rate schedule, through the
client and the CLI against a real server: from a curve fitted now (with a band) or a stored fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fitting
from service.cli import main
from service.client import InvalidArgument, NotFound, ScalingLawClient

from .conftest import RunningServer

STEPS = np.arange(0.0, 3001.0)
PEAK = 1e-3
COSINE = PEAK * 0.5 * (1 + np.cos(np.pi * STEPS / STEPS[-1]))
WSD = np.where(STEPS < 2400, PEAK, PEAK * (1 - (STEPS - 2400) / 600))
TRUE = {"L0": 2.0, "A": 0.8, "alpha": 0.45, "C": 0.3}
LAW = fitting.get_law("lr_annealing")


def run(schedule: np.ndarray, seed: int) -> np.ndarray:
    clean = LAW.evaluate({"x": STEPS, "lr": schedule}, TRUE)
    return clean * np.exp(0.002 * np.random.default_rng(seed).standard_normal(STEPS.size))


def test_a_law_fitted_on_a_cosine_run_predicts_a_wsd_run(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cosine = client.upload_curve(STEPS[1:], run(COSINE, 1)[1:], lr=COSINE[1:], name="cosine").id
    truth = LAW.evaluate({"x": STEPS, "lr": WSD}, TRUE)
    frame = client.predict(cosine, STEPS, lr=WSD, law="lr_annealing", x_min=100, bootstrap=19)
    rel = np.abs(frame["loss"].to_numpy()[100:] / truth[100:] - 1)
    assert rel.mean() < 0.005 and rel.max() < 0.02, (rel.mean(), rel.max())
    band = frame.iloc[1:]  # step 0 has no loss to predict
    assert (band["low"] <= band["loss"]).all() and (band["loss"] <= band["high"]).all()
    assert frame.attrs["fit"]["law"] == "lr_annealing" and frame.attrs["fit"]["verdict"]["judged"]
    (stored,) = client.fit([cosine], law="lr_annealing", x_min=100)
    again = client.predict(stored.id, STEPS, lr=WSD)  # a stored fit: same law, no band
    assert np.allclose(again["loss"][100:], frame["loss"][100:], rtol=1e-3) and again["low"].isna().all()
    schedule = tmp_path / "wsd.csv"
    pd.DataFrame({"step": STEPS, "lr": WSD}).to_csv(schedule, index=False)
    argv = ["--target", server.target, "predict", stored.id, "--schedule", str(schedule), "--lr-col", "lr"]
    assert main([*argv, "--out", str(tmp_path / "out.csv")]) == 0
    out = capsys.readouterr().out
    assert "lr_annealing fitted on" in out and "3001 steps written" in out
    assert np.allclose(pd.read_csv(tmp_path / "out.csv")["loss"][100:], again["loss"][100:])


def test_bad_predictions_are_refused_naming_the_field(client: ScalingLawClient) -> None:
    cosine = client.upload_curve(STEPS[1:], run(COSINE, 2)[1:], lr=COSINE[1:]).id
    with pytest.raises(InvalidArgument, match="lr: 10 values for 3001 points"):
        client.predict(cosine, STEPS, lr=WSD[:10], law="lr_annealing")
    with pytest.raises(InvalidArgument) as missing:
        client.predict(cosine, STEPS, law="lr_annealing")  # a schedule law without the schedule
    assert "lr" in str(missing.value)
    with pytest.raises(NotFound, match="no fit 'f-nope'"):
        client.predict("f-nope", STEPS[1:])
