"""Training jobs are bounded before they are stored: bootstrap (max_bootstrap), estimated memory
(max_job_memory_bytes), jobs waiting to run (max_queued_jobs), names, and corpus files only from
SCALINGLAW_CORPUS_DIR with one answer whether or not a file elsewhere exists."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from service.client import InvalidArgument, ResourceExhausted, ScalingLawClient

from .conftest import RunningServer, start

TIMEOUT = 60.0
TINY = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}
LONG = {"steps": 20000, "device": "cpu", "config": TINY, "search": {"outer_iters": 50}}


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningServer]:
    (tmp_path / "corpora").mkdir()
    server = start(tmp_path, max_queued_jobs=2, corpus_dir=tmp_path / "corpora", max_name_bytes=32)
    yield server
    server.stop()


@pytest.fixture
def client(running: RunningServer) -> Iterator[ScalingLawClient]:
    with ScalingLawClient(running.target, timeout=TIMEOUT, retries=0) as c:
        yield c


def assert_no_jobs(running: RunningServer) -> None:
    assert running.parts.store.list_jobs()[0] == []


@pytest.mark.parametrize(
    ("kwargs", "field", "says"),
    [
        ({"bootstrap": 2**31 - 1}, "bootstrap", "max_bootstrap"),  # was accepted, then a 736 GiB MemoryError
        ({"config": {"dim": 2**31 - 1}}, "request", "max_job_memory_bytes"),
        ({"config": {"train_size": 2**30}, "steps": 10**6}, "request", "max_job_memory_bytes"),
        ({"study": "s" * 33}, "study", "max_name_bytes"),
    ],
)
def test_a_job_over_a_limit_is_refused_before_it_is_stored(
    running: RunningServer, client: ScalingLawClient, kwargs: dict[str, object], field: str, says: str
) -> None:
    with pytest.raises(ResourceExhausted) as err:
        client.start_training("perceptron", device="cpu", **kwargs)  # type: ignore[arg-type]
    assert says in err.value.message and err.value.field_violations[0].startswith(f"{field}:")
    assert_no_jobs(running)


def test_jobs_waiting_to_run_are_capped_by_max_queued_jobs(running: RunningServer, client: ScalingLawClient) -> None:
    executor = running.parts.executor
    jobs = [client.start_training("perceptron", **LONG).id]  # type: ignore[arg-type]
    try:
        wait_until(lambda: executor.queued == 0)  # the one job slot took it: it no longer waits
        jobs += [client.start_training("perceptron", **LONG).id for _ in range(2)]  # type: ignore[arg-type]
        with pytest.raises(ResourceExhausted) as err:
            client.start_training("perceptron", **LONG)  # type: ignore[arg-type]
        assert "max_queued_jobs" in err.value.message
        assert len(running.parts.store.list_jobs()[0]) == 3
        client.cancel_job(jobs[1])  # a cancelled job no longer counts as waiting
        assert executor.queued == 1
        jobs.append(client.start_training("perceptron", **LONG).id)  # type: ignore[arg-type]
    finally:
        for job_id in jobs:
            client.cancel_job(job_id)


def test_a_corpus_outside_the_corpus_dir_gets_one_answer_whether_or_not_it_exists(
    running: RunningServer, client: ScalingLawClient, tmp_path: Path
) -> None:
    corpora = tmp_path / "corpora"
    (tmp_path / "secret.txt").write_text("a story\n" * 100)
    os.symlink(tmp_path / "secret.txt", corpora / "link.txt")
    (corpora / "empty.txt").write_text("")
    answers = set()
    for path in ("/etc/passwd", "/no/such/file", str(tmp_path / "secret.txt"), "../secret.txt", "link.txt",
                 "missing.txt", "empty.txt", "."):  # fmt: skip
        with pytest.raises(InvalidArgument) as err:
            client.start_training("transformer_lm", steps=10, device="cpu", config={"corpus": path})
        answers.add((err.value.message, tuple(err.value.field_violations)))
    assert len(answers) == 1
    message, fields = answers.pop()
    assert "SCALINGLAW_CORPUS_DIR" in message and fields[0].startswith("transformer.corpus:")
    assert_no_jobs(running)


def test_a_corpus_in_the_corpus_dir_is_accepted(
    running: RunningServer, client: ScalingLawClient, tmp_path: Path
) -> None:
    (tmp_path / "corpora" / "stories.txt").write_text("Once upon a time there was a cat.\n\n" * 50)
    job = client.start_training("transformer_lm", steps=10, device="cpu", config={"corpus": "stories.txt"})
    client.cancel_job(job.id)
    (stored,) = running.parts.store.list_jobs()[0]
    assert stored.spec["transformer"]["corpus"] == str((tmp_path / "corpora" / "stories.txt").resolve())


def test_without_a_corpus_dir_no_corpus_path_is_taken(tmp_path: Path) -> None:
    (tmp_path / "stories.txt").write_text("Once upon a time there was a cat.\n\n" * 50)
    server = start(tmp_path)
    try:
        with ScalingLawClient(server.target, timeout=TIMEOUT) as client, pytest.raises(InvalidArgument) as err:
            client.start_training(
                "transformer_lm", steps=10, device="cpu", config={"corpus": str(tmp_path / "stories.txt")}
            )
        assert "SCALINGLAW_CORPUS_DIR" in err.value.message
    finally:
        server.stop()


def test_a_built_in_corpus_is_taken_without_a_corpus_dir(tmp_path: Path) -> None:
    """A corpus shipped with the trainers (trainers/data) names no file of the server's."""
    server = start(tmp_path)
    try:
        with ScalingLawClient(server.target, timeout=TIMEOUT) as client:
            job = client.start_training(
                "transformer_lm", steps=10, device="cpu", config={"corpus": "builtin:pride-and-prejudice"}
            )
            client.cancel_job(job.id)
        (stored,) = server.parts.store.list_jobs()[0]
        assert stored.spec["transformer"]["corpus"] == "builtin:pride-and-prejudice"
    finally:
        server.stop()
