"""A named preset through the CLI, the client and the service: the job runs the preset's settings
with the flags given on top; an unknown preset, or one for another task, is refused naming it."""

from __future__ import annotations

import json

import grpc
import pytest

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service.cli import main
from service.client import InvalidArgument, ScalingLawClient

from .conftest import RunningServer


def test_train_with_the_paper_preset_runs_its_settings_under_the_flags_given(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--target", server.target, "train", "perceptron", "--preset", "paper", "--steps", "40"]
    argv += ["--agreement-splits", "3"]
    assert main([*argv, "--train-size", "128", "--outer-iters", "1", "--device", "cpu", "--watch", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert job["state"] == "SUCCEEDED", job["error"]
    spec = server.parts.store.get_job(job["id"]).spec
    assert (spec["steps"], spec["perceptron"]["train_size"], spec["search"]["outer_iters"]) == (40, 128, 1)
    assert spec["search"]["agreement_splits"] == 3
    # the preset's own choices where no flag overrides them
    assert spec["perceptron"]["label_noise"] == 0.04 and spec["search"]["optimizer"] == "rowwise"
    assert spec["dtype"] == "float32" and spec["search"]["holdout"] == 0.0


REFUSED = [("perceptron", "nope", "unknown preset"), ("transformer_lm", "paper", "for the task perceptron")]


@pytest.mark.parametrize(("task", "preset", "says"), REFUSED)
def test_a_preset_that_does_not_apply_is_refused_naming_it(
    server: RunningServer, client: ScalingLawClient, task: str, preset: str, says: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        client.start_training(task, preset=preset, device="cpu")
    assert says in err.value.message and err.value.field_violations[0].startswith("preset:")
    assert server.parts.store.list_jobs()[0] == []


def test_the_rowwise_search_its_extension_and_the_teachers_angle_reach_the_job(
    server: RunningServer, client: ScalingLawClient
) -> None:
    job = client.start_training(
        "perceptron", steps=30, device="cpu", config={"train_size": 64, "teacher_shift_cos": 0.0},
        search={"outer_iters": 1, "optimizer": "rowwise", "extend_steps": 7},
    )  # fmt: skip
    spec = server.parts.store.get_job(job.id).spec
    assert spec["search"]["optimizer"] == "rowwise" and spec["search"]["extend_steps"] == 7
    assert spec["perceptron"]["teacher_shift_cos"] == 0.0  # set to zero is not unset
    plain = client.start_training("perceptron", steps=30, device="cpu", config={"train_size": 64})
    assert server.parts.store.get_job(plain.id).spec["perceptron"]["teacher_shift_cos"] is None
    with pytest.raises(InvalidArgument) as err:
        client.start_training("perceptron", device="cpu", config={"teacher_shift_cos": 2.0})
    assert err.value.field_violations[0].startswith("perceptron.teacher_shift_cos:")
    with pytest.raises(InvalidArgument) as err:
        client.start_training("perceptron", device="cpu", search={"agreement_splits": 99})
    assert err.value.field_violations[0].startswith("search.agreement_splits:")


def test_each_outer_iteration_says_how_much_of_the_gradient_the_desired_parts_agreed_on(
    server: RunningServer, client: ScalingLawClient
) -> None:
    job = client.start_training(
        "perceptron", steps=30, device="cpu", config={"train_size": 64},
        search={"outer_iters": 2, "optimizer": "rowwise", "holdout": 0.0, "agreement_splits": 2},
    )  # fmt: skip
    with grpc.insecure_channel(server.target) as channel:
        events = list(pb_grpc.ScalingLawServiceStub(channel).WatchJob(pb.WatchJobRequest(job_id=job.id), timeout=120))
    shares = [e.iteration.kept_share for e in events if e.HasField("iteration")]
    assert len(shares) == 3 and all(0.0 < s < 1.0 for s in shares), shares
    stored = server.parts.store.get_job(job.id)
    assert stored.state == "SUCCEEDED", stored.error
    assert any("the desired parts agree on" in e.message for e in events)
