"""MLflow runs imported through the CLI and the client, from a real `mlflow server` process
(SQLite backend store, one per module: it takes seconds to start) into a real in-process server.
Needs the mlflow package (tests/service/integrations.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import numpy as np
import pytest

from service.cli import main
from service.client import InvalidArgument, ScalingLawClient
from tests.service.mlflow_server import MlflowServer, free_port

from .conftest import RunningServer
from .integrations import require

STEPS = np.arange(0, 300)


LR = 1e-3 * 0.5 ** (STEPS // 100)  # halved every 100 steps


def curve(scale: float) -> np.ndarray:
    return 0.05 + (scale / (STEPS + 1.0)) ** 0.3


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(tracking URI, run name -> run id): experiment "sweep" with runs conv and opt logging
    val_loss at steps 0..299 (conv logs step 10 twice, the later value 9.0, and its learning
    rate "lr" every 50 steps), opt also "acc"."""
    require("mlflow", "mlflow")
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    try:
        client = MlflowClient(server.uri)
        experiment = client.create_experiment("sweep")
        runs = {}
        now = int(time.time() * 1000)
        for name, scale in (("conv", 1e4), ("opt", 1e3)):
            run = client.create_run(experiment, run_name=name)
            metrics = [Metric("val_loss", float(v), now, int(s)) for s, v in zip(STEPS, curve(scale), strict=True)]
            if name == "conv":
                metrics.append(Metric("val_loss", 9.0, now + 1, 10))
                metrics += [Metric("lr", float(LR[s]), now, int(s)) for s in STEPS[::50]]  # a step schedule
            else:
                metrics.append(Metric("acc", 0.5, now, 0))
            for i in range(0, len(metrics), 1000):
                client.log_batch(run.info.run_id, metrics=metrics[i : i + 1000])
            runs[name] = run.info.run_id
        yield server.uri, runs
    finally:
        server.stop()


def test_every_run_of_an_experiment_becomes_a_curve_named_run_slash_metric(
    server: RunningServer, client: ScalingLawClient, tracking: tuple[str, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    uri, _ = tracking
    argv = ["--target", server.target, "import-mlflow", "--tracking-uri", uri, "--experiment", "sweep"]
    assert main([*argv, "--metric", "val_loss", "--study", "ml", "--json"]) == 0
    stored = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert sorted(stored) == ["conv/val_loss", "opt/val_loss"]
    conv = client.read_curve(stored["conv/val_loss"]["id"])
    expected = curve(1e4)
    expected[10] = 9.0  # logged twice at step 10: the later value
    assert np.array_equal(conv["x"], STEPS.astype(float)) and np.array_equal(conv["loss"], expected)
    assert client.fit([stored["opt/val_loss"]["id"]])[0].n_left_out == 1  # step 0
    assert main([*argv, "--metric", "val_loss", "--study", "ml", "--skip-existing"]) == 0  # again: skipped
    assert "0 of 2 curves" in capsys.readouterr().err and len(client.list_curves(study="ml")) == 2


def test_the_client_imports_one_run_and_missing_names_are_clear(
    client: ScalingLawClient, tracking: tuple[str, dict[str, str]]
) -> None:
    uri, runs = tracking
    (acc,) = client.import_mlflow(uri, ["acc"], run_id=runs["opt"], study="ml-client", policy="optimal")
    assert acc.name == "opt/acc" and acc.n_points == 1 and acc.policy == "optimal"
    with pytest.raises(InvalidArgument, match=r"'sweep' has no metric 'bleu'; its metrics are: acc, lr, val_loss"):
        client.import_mlflow(uri, ["bleu"], experiment="sweep")
    with pytest.raises(InvalidArgument, match="MLflow has no experiment 'nope'"):
        client.import_mlflow(uri, ["val_loss"], experiment="nope")
    with pytest.raises(InvalidArgument, match="MLflow has no run 'f00'"):
        client.import_mlflow(uri, ["val_loss"], run_id="f00")


def test_an_unreachable_tracking_server_is_one_line_in_our_words(
    server: RunningServer, tracking: tuple[str, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    argv = ["--target", server.target, "import-mlflow", "--tracking-uri", uri, "--experiment", "x", "--metric", "l"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not stored: experiment x: MLflow: cannot read experiment 'x' (" in err and "Traceback" not in err


def test_a_learning_rate_metric_rides_with_each_curve_paired_by_step(
    server: RunningServer, client: ScalingLawClient, tracking: tuple[str, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    uri, runs = tracking
    argv = ["--target", server.target, "import-mlflow", "--tracking-uri", uri, "--run-id", runs["conv"]]
    assert main([*argv, "--metric", "val_loss", "--lr-metric", "lr", "--study", "ml-lr", "--json"]) == 0
    (stored,) = json.loads(capsys.readouterr().out)
    assert stored["columns"] == ["lr"]
    points = client.read_curve(stored["id"])
    assert np.array_equal(points["lr"], LR)  # logged every 50 steps, in force until the next entry
    with pytest.raises(InvalidArgument, match=r"opt: the run has no metric 'lr' \(--lr-metric\)"):
        client.import_mlflow(uri, ["val_loss"], run_id=runs["opt"], lr_metric="lr")
