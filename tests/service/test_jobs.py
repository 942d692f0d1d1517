"""Training jobs through a real server: spawned processes, live events, cancel, crashes."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest

from service import result_tables as tables
from service.client import ClientError, FailedPrecondition, InvalidArgument, ScalingLawClient
from service.server.store import SqliteStore
from tests.service.conftest import RunningServer, start

TINY = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}


def test_job_runs_streams_events_and_stores_its_curves(client: ScalingLawClient) -> None:
    job = client.start_training(
        "perceptron", steps=60, device="cpu", bootstrap=20, study="jobs", config=TINY, search={"outer_iters": 2},
        lr_schedule="wsd",
    )  # fmt: skip
    assert job.state in ("QUEUED", "RUNNING")
    events = list(client.watch(job.id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no gaps
    assert events[-1].state == "SUCCEEDED"
    assert any(e.phase == "search" for e in events)
    done = client.get_job(job.id)
    assert done.state == "SUCCEEDED" and done.progress == 1.0
    assert done.summary["outer_iters"] == 2 and "ar_empirical" in done.summary
    stored = client.list_curves(study="jobs")
    assert {c.policy for c in stored} == {"conventional", "optimal"}
    assert {c.split for c in stored} == {"test", "desired"}
    assert sorted(done.curve_ids) == sorted(c.id for c in stored)
    assert all(c.columns == ["lr"] for c in stored)  # each step's rate rides with the curve
    rates = client.read_curve(stored[0].id)["lr"].to_numpy()
    assert rates[0] == rates[47] == 0.1 and rates[-1] < 0.02  # the wsd schedule: stable, then the decay
    tests = {c.policy: c.id for c in stored if c.split == "test"}
    assert done.comparison is not None  # the run's own comparison, over the stored test curves
    assert done.comparison.baseline_id == tests["conventional"]
    assert [c.curve_id for c in done.comparison.candidates] == [tests["optimal"]]
    assert len(done.comparison.candidates[0].ar_fit) == 4  # T, 10T, 100T, 1000T
    assert done.comparison.baseline_cr > 0 and done.comparison.candidates[0].cr > 0  # |V| known to the run
    # replay from the middle
    assert [e.seq for e in client.watch(job.id, after_seq=3)] == [e.seq for e in events[3:]]


def test_same_request_id_returns_the_original_job(client: ScalingLawClient) -> None:
    a = client.start_training("perceptron", steps=20, device="cpu", config=TINY, request_id="same")
    b = client.start_training("perceptron", steps=20, device="cpu", config=TINY, request_id="same")
    assert a.id == b.id
    list(client.watch(a.id))


def test_bad_configuration_is_rejected_before_any_job(client: ScalingLawClient) -> None:
    with pytest.raises(InvalidArgument) as err:
        client.start_training("perceptron", steps=1, config=TINY)
    assert err.value.field_violations[0].startswith("steps")
    with pytest.raises(InvalidArgument):
        client.start_training("resnet")


def test_cancel_terminates_the_process(client: ScalingLawClient) -> None:
    job = client.start_training("perceptron", steps=20000, device="cpu", config=TINY, search={"outer_iters": 50})
    for event in client.watch(job.id):
        if event.phase in ("conventional", "search"):
            break
    cancelled = client.cancel_job(job.id)
    assert cancelled.state == "CANCELLED"
    assert list(client.watch(job.id))[-1].state == "CANCELLED"


def test_a_killed_job_process_fails_the_job_not_the_server(client: ScalingLawClient) -> None:
    job = client.start_training("perceptron", steps=20000, device="cpu", config=TINY, search={"outer_iters": 50})
    pid = None
    for event in client.watch(job.id):
        if event.phase == "started":
            pid = int(event.message.split()[-1])
        if event.phase in ("conventional", "search"):  # training, not starting up
            break
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    final = list(client.watch(job.id))[-1]
    assert final.state == "FAILED" and "exit code -9" in client.get_job(job.id).error
    follow = client.start_training("perceptron", steps=10, device="cpu", config=TINY)
    assert list(client.watch(follow.id))[-1].state == "SUCCEEDED"


def test_reports_of_a_job_and_of_curves(client: ScalingLawClient, tmp_path: Path) -> None:
    job = client.start_training(
        "perceptron", steps=60, seed=7, device="cpu", bootstrap=20, config=TINY, search={"outer_iters": 2}
    )
    list(client.watch(job.id))
    png = client.report(job_id=job.id, path=str(tmp_path / "job.png"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "job.png").stat().st_size == len(png)
    # the figure and the page show the comparison the job stored (its seed, its resamples), no other
    comparison = client.get_job(job.id).comparison
    assert comparison is not None
    (cand,) = comparison.candidates
    horizon = next(iter(cand.ar_fit))
    svg = client.report(job_id=job.id, fmt="svg").decode()
    # the job kept its fits' resamples: the AR fit's band is drawn from them, as for curves
    assert "AR fit, 95 % interval" in svg and "AR fit (95 % interval)" not in svg
    if cand.ar_measured[horizon].reach == "measured":
        assert f"AR measured (95 % interval): {tables.measured(cand.ar_measured[horizon])}" in svg
    page = client.report(job_id=job.id, fmt="html").decode()
    names = {comparison.baseline_id: "conventional", cand.curve_id: "optimal"}
    for table in tables.comparison_tables(comparison, names):
        assert tables.to_html(table) in page, table.title
    assert "<td>seed</td><td>7</td>" in page and "<td>resamples</td><td>20</td>" in page
    with pytest.raises(InvalidArgument) as refused:  # a job's report is never a new comparison
        client.report(job_id=job.id, fmt="svg", bootstrap=50)
    assert refused.value.field_violations[0].startswith("options.bootstrap")
    ids = client.get_job(job.id).curve_ids
    tests = [c for c in client.list_curves() if c.split == "test"]
    base = next(c.id for c in tests if c.policy == "conventional")
    cand = next(c.id for c in tests if c.policy == "optimal")
    assert base in ids
    svg = client.report(baseline_id=base, candidate_ids=[cand], fmt="svg")
    assert b"<svg" in svg[:400]


def test_a_job_without_a_comparison_has_no_report(client: ScalingLawClient) -> None:
    job = client.start_training("perceptron", steps=20, device="cpu", config=TINY, search={"outer_iters": 0})
    assert list(client.watch(job.id))[-1].state == "SUCCEEDED"
    assert client.get_job(job.id).comparison is None  # no near-optimal run to compare with
    with pytest.raises(FailedPrecondition, match="it has no comparison to report"):
        client.report(job_id=job.id, fmt="html")


def test_a_caller_that_gives_up_mid_start_still_gets_a_job_that_runs(server: RunningServer) -> None:
    """Fault injection: the store is slow to take the job; the caller's deadline passes first."""
    store = server.parts.store
    create_job = store.create_job
    gave_up, taken = threading.Event(), threading.Event()
    stored: list[Any] = []

    def slow_create_job(**kwargs: Any) -> Any:
        gave_up.wait(30)  # the store takes the job only once the caller has given up
        result = create_job(**kwargs)
        stored.append(result[0])
        taken.set()
        return result

    store.create_job = slow_create_job  # type: ignore[method-assign]
    try:
        with ScalingLawClient(server.target, timeout=0.3, retries=0) as impatient, pytest.raises(ClientError) as err:
            impatient.start_training("perceptron", steps=10, device="cpu", config=TINY, request_id="impatient")
        assert err.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
        gave_up.set()
        assert taken.wait(30), "the call the caller left did not go on to store the job"
    finally:
        gave_up.set()
        store.create_job = create_job  # type: ignore[method-assign]
    with ScalingLawClient(server.target, timeout=60) as client:
        retried = client.start_training("perceptron", steps=10, device="cpu", config=TINY, request_id="impatient")
        assert retried.id == stored[0].id  # the job the first call stored
        assert list(client.watch(retried.id))[-1].state == "SUCCEEDED"  # submitted, not left QUEUED


def test_stopping_the_server_fails_its_running_job_and_hands_its_queued_one_back(tmp_path: Path) -> None:
    server = start(tmp_path, max_jobs=1)
    with ScalingLawClient(server.target, timeout=60) as client:
        running = client.start_training("perceptron", steps=20000, device="cpu", config=TINY)
        queued = client.start_training("perceptron", steps=10, device="cpu", config=TINY)
        for event in client.watch(running.id):
            if event.phase == "started":
                break
    server.stop()
    store = SqliteStore(tmp_path / "scalinglaw.sqlite3")
    try:
        job = store.get_job(running.id)
        assert job.state == "FAILED" and job.error.startswith("interrupted: the unnamed replica"), job
        back = store.get_job(queued.id)
        assert (back.state, back.holder, store.job_events(queued.id)[-1].phase) == ("QUEUED", "", "handed back")
    finally:
        store.close()
    server = start(tmp_path, max_jobs=1)  # the next start runs the job that never started
    try:
        with ScalingLawClient(server.target, timeout=60) as client:
            events = list(client.watch(queued.id))
            assert [e.phase for e in events][:3] == ["queued", "handed back", "moved"]
            assert events[-1].state == "SUCCEEDED"
    finally:
        server.stop()
