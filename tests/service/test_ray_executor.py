"""The `ray` executor through a real server, against a real Ray started once for the module (CPU)."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.client import InvalidArgument, ScalingLawClient
from service.settings import Settings
from tests.service.conftest import RunningServer, start
from tests.service.integrations import require

TINY = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One Ray for the module: its start (seconds) is paid once; each server joins it. "local": a
    new instance even where a `ray start` cluster runs on this machine."""
    require("ray", "ray", switch="SCALINGLAW_REQUIRE_RAY")  # CI fails rather than skips without it
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture
def ray_client(local_ray: None, tmp_path: Path) -> Iterator[ScalingLawClient]:
    server: RunningServer = start(tmp_path, executor="ray", corpus_dir=tmp_path / "corpora")
    with ScalingLawClient(server.target, timeout=60) as client:
        yield client
    server.stop()


def start_long_job(client: ScalingLawClient) -> str:
    """A job that would train for minutes; the tests end it early."""
    return client.start_training("perceptron", steps=20000, device="cpu", config=TINY, search={"outer_iters": 50}).id


def started_pid(client: ScalingLawClient, job_id: str) -> int:
    """The Ray worker's pid, from the job's "started" event (the task sends it once it runs)."""
    for event in client.watch(job_id):
        if event.phase == "started":
            assert event.message.startswith("ray worker on "), event.message
            return int(event.message.split()[-1])
    raise AssertionError("the job ended without a started event")


def wait_until_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_job_runs_as_a_ray_task_streams_events_and_stores_its_curves(ray_client: ScalingLawClient) -> None:
    job = ray_client.start_training(
        "perceptron", steps=60, device="cpu", bootstrap=20, study="ray", config=TINY, search={"outer_iters": 2}
    )
    events = list(ray_client.watch(job.id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no gaps
    started = next(e for e in events if e.phase == "started")
    assert started.state == "RUNNING"
    assert "(CPU 1)" in started.message  # what Ray assigned: the options reached it
    assert any(e.phase == "search" for e in events)
    assert events[-1].state == "SUCCEEDED"
    done = ray_client.get_job(job.id)
    assert done.state == "SUCCEEDED" and done.progress == 1.0
    assert done.summary["outer_iters"] == 2 and "ar_empirical" in done.summary
    stored = ray_client.list_curves(study="ray")
    assert {(c.policy, c.split) for c in stored} == {
        (p, s) for p in ("conventional", "optimal") for s in ("test", "desired")
    }
    assert sorted(done.curve_ids) == sorted(c.id for c in stored)


def test_cancel_kills_the_ray_task_and_ends_the_job_cancelled(ray_client: ScalingLawClient) -> None:
    job_id = start_long_job(ray_client)
    pid = started_pid(ray_client, job_id)
    assert ray_client.cancel_job(job_id).state == "CANCELLED"
    assert list(ray_client.watch(job_id))[-1].state == "CANCELLED"
    assert wait_until_gone(pid), "the cancelled job's worker is still running"


def test_a_killed_ray_worker_fails_the_job_and_the_next_job_runs(ray_client: ScalingLawClient) -> None:
    job_id = start_long_job(ray_client)
    pid = started_pid(ray_client, job_id)
    os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    assert list(ray_client.watch(job_id))[-1].state == "FAILED"
    error = ray_client.get_job(job_id).error
    assert "worker died" in error and "WorkerCrashedError" in error
    follow = ray_client.start_training("perceptron", steps=10, device="cpu", config=TINY)
    assert list(ray_client.watch(follow.id))[-1].state == "SUCCEEDED"


def test_an_error_raised_in_training_fails_the_job_with_its_message(
    ray_client: ScalingLawClient, tmp_path: Path
) -> None:
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora" / "broken.jsonl").write_text(
        "this line is not JSON\n"
    )  # passes the checks, fails when loaded
    job = ray_client.start_training("transformer_lm", steps=10, device="cpu", config={"corpus": "broken.jsonl"})
    assert list(ray_client.watch(job.id))[-1].state == "FAILED"
    assert ray_client.get_job(job.id).error == (
        "InvalidInputError: corpus: line 1 is not a JSON object with a 'text' field"
    )


def test_a_cuda_job_asks_ray_for_one_gpu_and_is_refused_by_a_cluster_without_one(
    ray_client: ScalingLawClient,
) -> None:
    from service.server.jobs.ray_executor import task_options

    cuda = task_options("j-1", {"device": "cuda"})
    assert (cuda["num_gpus"], cuda["num_cpus"], cuda["max_retries"]) == (1, 1, 0)
    for device in ("cpu", "auto"):  # auto gets no GPU reserved, so Ray hides any and it trains on CPU
        assert task_options("j-2", {"device": device})["num_gpus"] == 0
    with pytest.raises(InvalidArgument) as err:  # rather than a task that waits for a GPU forever
        ray_client.start_training("perceptron", steps=10, device="cuda", config=TINY)
    assert err.value.field_violations == ["device: cuda was asked for but the Ray cluster has no GPU"]


def test_an_unknown_executor_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SCALINGLAW_EXECUTOR must be one of local, ray, got 'rya'"):
        Settings(data_dir=tmp_path, executor="rya")
