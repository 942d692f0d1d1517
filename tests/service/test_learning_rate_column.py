"""A curve carries its learning rate per point as the input column "lr", on every route in: a
table column (--lr-col), a TensorBoard tag (--lr-tag), the client's `lr=`; listings say which
curves have it, read_curve gives it back, and a bad rate is refused naming the row or index.
(The MLflow route is tested beside the other MLflow imports, in test_import_mlflow.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from service.cli import main
from service.client import InvalidArgument, ScalingLawClient, curves_frame

from .conftest import RunningServer
from .integrations import require

STEPS = np.arange(1.0, 401.0)
COSINE = 1e-3 * 0.5 * (1 + np.cos(np.pi * STEPS / STEPS[-1]))
LOSS = 2.0 + (300.0 / STEPS) ** 0.4


def test_a_table_column_becomes_the_curves_lr_and_listings_show_it(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cosine.csv"
    pd.DataFrame({"step": STEPS, "loss": LOSS, "learning_rate": COSINE}).to_csv(path, index=False)
    target = ["--target", server.target]
    assert main([*target, "upload", str(path), "--lr-col", "learning_rate", "--study", "lr", "--json"]) == 0
    (with_lr,) = json.loads(capsys.readouterr().out)
    assert with_lr["columns"] == ["lr"]
    plain = client.upload_curve(STEPS, LOSS * 1.01, study="lr")
    back = client.read_curve(with_lr["id"])
    assert np.array_equal(back["lr"], COSINE) and "lr" not in client.read_curve(plain.id)
    assert main([*target, "curves", "--study", "lr"]) == 0
    listed = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert listed == {with_lr["id"]: "yes", plain.id: "-"}
    frame = curves_frame(client.list_curves(study="lr")).set_index("id")
    assert frame.loc[with_lr["id"], "has_lr"] and not frame.loc[plain.id, "has_lr"]


def test_bad_rates_are_refused_naming_the_row_or_the_index(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rates = COSINE.copy()
    rates[6] = -1e-4  # the 7th data row
    path = tmp_path / "bad.csv"
    pd.DataFrame({"step": STEPS, "loss": LOSS, "lr": rates}).to_csv(path, index=False)
    assert main(["--target", server.target, "upload", str(path), "--lr-col", "lr"]) == 2
    assert "bad.csv row 7: lr is -0.0001; a learning rate is never negative" in capsys.readouterr().err
    assert main(["--target", server.target, "upload", str(path), "--lr-col", "rate"]) == 2
    assert "no column 'rate' (--lr-col)" in capsys.readouterr().err
    with pytest.raises(InvalidArgument, match=r"lr\[6\]: a learning rate must be finite and >= 0"):
        client.upload_curve(STEPS, LOSS, lr=rates)
    with pytest.raises(InvalidArgument, match="lr: 399 values for 400 points"):
        client.upload_curve(STEPS, LOSS, lr=COSINE[1:])
    frame = pd.DataFrame({"step": STEPS, "loss": LOSS, "eta": COSINE})
    assert np.array_equal(client.read_curve(client.upload_curve(frame, lr="eta").id)["lr"], COSINE)


def test_a_negative_rate_sent_past_the_client_is_refused_by_the_server(client: ScalingLawClient) -> None:
    rates = COSINE.copy()
    rates[9] = -1.0
    with pytest.raises(InvalidArgument, match=r"lr\[9\]: a learning rate is never negative"):
        client.upload_curve(STEPS, LOSS, columns={"lr": rates})  # columns= is passed through unchecked


def test_a_tensorboard_lr_tag_is_paired_with_each_loss_by_step(
    server: RunningServer, client: ScalingLawClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require("tensorboard", "tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path / "logs"
    with SummaryWriter(str(root / "wsd")) as writer:
        for step in range(100):
            writer.add_scalar("loss", 3.0 / (step + 1), step)
            if step % 10 == 0:  # the schedule logged every 10 steps: in force until the next entry
                writer.add_scalar("lr", 1e-3 if step < 80 else 1e-4, step)
    with SummaryWriter(str(root / "late")) as writer:
        for step in range(10):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_scalar("lr", 1e-3, 5)  # no rate before step 5
    target = ["--target", server.target, "upload"]
    assert main([*target, str(root / "wsd"), "--tag", "loss", "--lr-tag", "lr", "--json"]) == 0
    (stored,) = json.loads(capsys.readouterr().out)
    expected = np.where(np.arange(100) < 80, 1e-3, 1e-4).astype(np.float32)  # TensorBoard keeps float32
    assert np.array_equal(client.read_curve(stored["id"])["lr"], expected)
    assert main([*target, str(root / "late"), "--tag", "loss", "--lr-tag", "lr"]) == 2
    assert "late/lr: no learning rate at or before step 0 (the schedule starts at step 5)" in capsys.readouterr().err
    with pytest.raises(InvalidArgument, match=r"wsd/rate: the run has no scalar tag 'rate' \(--lr-tag\)"):
        client.upload_tensorboard(root / "wsd", ["loss"], lr_tag="rate")
