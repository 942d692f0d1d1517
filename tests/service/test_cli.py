"""The scalinglaw CLI against a real server: tables, --json, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitting import get_law
from service.cli import main

from .conftest import RunningServer


def write_curve(path: Path, params: dict[str, float], seed: int) -> Path:
    steps = np.arange(1.0, 2001.0)
    rng = np.random.default_rng(seed)
    loss = get_law("step_power").evaluate(steps, params) * np.exp(0.002 * rng.standard_normal(steps.size))
    pd.DataFrame({"step": steps, "loss": loss}).to_csv(path, index=False)
    return path


def test_upload_list_fit_compare(server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = ["--target", server.target]
    a = write_curve(tmp_path / "conv.csv", {"L0": 0.05, "B": 3.16e8, "beta": 0.12}, 1)
    b = write_curve(tmp_path / "opt.csv", {"L0": 0.05, "B": 1.99e7, "beta": 0.14}, 2)
    assert main([*target, "upload", str(a), str(b), "--study", "cli", "--vocab-size", "5000", "--json"]) == 0
    ids = [row["id"] for row in json.loads(capsys.readouterr().out)]
    assert main([*target, "curves", "--study", "cli"]) == 0
    table = capsys.readouterr().out
    assert "conv" in table and "opt" in table
    assert main([*target, "fit", ids[0], "--x-min", "200", "--json"]) == 0
    (fit,) = json.loads(capsys.readouterr().out)
    assert fit["params"]["beta"] == pytest.approx(0.12, rel=0.05)
    assert main([*target, "compare", ids[0], ids[1], "--x-min", "200", "--bootstrap", "50"]) == 0
    assert "AR (fit)" in capsys.readouterr().out


def test_exit_codes(server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = ["--target", server.target]
    assert main([*target, "fit", "c-nope"]) == 3
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"step": [1.0, 2.0, 2.0], "loss": [1.0, 0.5, 0.4]}).to_csv(bad, index=False)
    assert main([*target, "upload", str(bad)]) == 2
    assert "chunk.x[2]" in capsys.readouterr().err
    assert main([*target, "upload", str(tmp_path / "missing.csv")]) == 2


def test_train_watch_jobs_and_report(server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = ["--target", server.target]
    argv = [*target, "train", "perceptron", "--steps", "40", "--train-size", "128", "--outer-iters", "1"]
    assert main([*argv, "--device", "cpu", "--watch", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["state"] == "SUCCEEDED"
    assert main([*target, "jobs", job["id"]]) == 0
    assert "SUCCEEDED" in capsys.readouterr().out
    out = tmp_path / "r.svg"
    assert main([*target, "report", "--job", job["id"], "--out", str(out)]) == 0
    assert out.read_bytes().lstrip().startswith(b"<?xml")
