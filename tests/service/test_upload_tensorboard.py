"""TensorBoard event files, written by PyTorch's SummaryWriter, uploaded through the CLI and the
client against a real in-process server. Needs the tensorboard package (tests/service/integrations.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.cli import main
from service.client import InvalidArgument, ScalingLawClient

from .conftest import RunningServer
from .integrations import require


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    """Two runs, one nested: scalars "loss/test" and "loss/train" from step 0; run-a resumed at step 40."""
    require("tensorboard", "tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path / "logs"
    for run, scale in (("run-a", 1.0), ("sweep/run-b", 2.0)):
        with SummaryWriter(str(root / run)) as writer:
            for step in range(0, 100):
                writer.add_scalar("loss/test", scale * (0.05 + (100.0 / (step + 1)) ** 0.3), step)
                writer.add_scalar("loss/train", scale * 3.0 / (step + 1), step)
    with SummaryWriter(str(root / "run-a")) as writer:  # a resumed run logs steps 40.. again
        for step in range(40, 60):
            writer.add_scalar("loss/test", 7.0, step)
    return root


def test_every_run_and_tag_becomes_a_curve_named_run_slash_tag(
    server: RunningServer, client: ScalingLawClient, logdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--target", server.target, "upload", str(logdir), "--tag", "loss/test", "--tag", "loss/train"]
    assert main([*argv, "--study", "tb", "--json"]) == 0
    stored = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    names = ["run-a/loss/test", "run-a/loss/train", "sweep/run-b/loss/test", "sweep/run-b/loss/train"]
    assert sorted(stored) == names and all(c["n_points"] == 100 and c["x_first"] == 0.0 for c in stored.values())
    points = client.read_curve(stored["run-a/loss/test"]["id"])
    expected = np.float32(0.05 + (100.0 / (np.arange(100) + 1)) ** 0.3)  # TensorBoard keeps float32
    expected[40:60] = 7.0  # the value logged last for a step is kept
    assert np.array_equal(points["x"], np.arange(100.0)) and np.array_equal(points["loss"], expected)
    fits = client.fit([stored["sweep/run-b/loss/train"]["id"]])
    assert fits[0].n_left_out == 1  # step 0, left out of the fit and said so


def test_the_client_uploads_one_event_file_and_names_missing_tags(client: ScalingLawClient, logdir: Path) -> None:
    event_file = next((logdir / "sweep" / "run-b").glob("events.out.tfevents.*"))
    (curve,) = client.upload_tensorboard(event_file, tags=["loss/train"], study="tb-client", labels={"src": "tb"})
    assert curve.name == "run-b/loss/train" and curve.labels == {"src": "tb"} and curve.split == "test"
    with pytest.raises(InvalidArgument, match=r"no run has the scalar tag 'accuracy'.*loss/test, loss/train"):
        client.upload_tensorboard(logdir, tags=["accuracy"])
    assert len(client.list_curves(study="tb-client")) == 1


def test_a_directory_without_tags_or_event_files_says_what_to_do(
    server: RunningServer, logdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--target", server.target]
    assert main([*target, "upload", str(logdir)]) == 2
    assert "name the scalar tags to read with --tag" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([*target, "upload", str(tmp_path / "empty"), "--tag", "loss"]) == 2
    assert "no TensorBoard event files" in capsys.readouterr().err
