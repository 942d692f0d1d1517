"""Replicas that die, on real server processes sharing the test PostgreSQL (a throwaway schema per
test) or one SQLite file: the owner of a job killed with SIGKILL mid-job, its queued job moved, a
race of three survivors, a drain on SIGTERM, and two servers on one SQLite file.

Leases are short here (renewed every 0.5 s, lost after 3 s), so a survivor must act within
BOUND seconds of the kill: the lease, one renewal, and 5 s for a loaded 2-core machine.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from service.cli.server_process import ServerProcess
from service.client import ClientError, JobEventInfo, ScalingLawClient
from service.server.jobs.leases import ReplicaIdInUse
from service.settings import Settings

from .conftest import start
from .postgres import fresh_schema
from .processes import ROOT, pid_alive

LEASE: dict[str, Any] = {"lease_renew_seconds": 0.5, "lease_seconds": 3.0, "fit_workers": 1, "grace_seconds": 1}
BOUND = LEASE["lease_seconds"] + LEASE["lease_renew_seconds"] + 5.0
TINY = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}
LONG_JOB: dict[str, Any] = {"steps": 20000, "device": "cpu", "config": TINY, "search": {"outer_iters": 50}}
SHORT_JOB: dict[str, Any] = {"steps": 10, "device": "cpu", "config": TINY, "search": {"outer_iters": 0}}


@contextmanager
def replicas(tmp_path: Path, names: list[str], **settings: Any) -> Iterator[list[ServerProcess]]:
    """Server processes named by their replica ids, started together on the test PostgreSQL (a
    fresh schema); killed before the schema is dropped."""
    with fresh_schema() as url:
        started: list[ServerProcess] = []

        def one(name: str) -> ServerProcess:
            process = ServerProcess(tmp_path / name, database_url=url, replica_id=name, **{**LEASE, **settings})
            started.append(process)
            return process

        try:
            with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
                yield list(pool.map(one, names))
        finally:
            for process in started:
                process.kill()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until condition() held; fails naming what did not happen."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout:.1f} s"
        time.sleep(0.05)
    return time.monotonic() - start


def until_training(events: Iterator[JobEventInfo]) -> tuple[list[JobEventInfo], int]:
    """The events up to the first training progress, and the job process's pid."""
    seen: list[JobEventInfo] = []
    for event in events:
        seen.append(event)
        if event.phase == "conventional":
            break
    pid = next(int(e.message.split()[-1]) for e in seen if e.phase == "started")
    return seen, pid


class RunningCounts:
    """Polls ListJobs while in use: the most jobs any one replica ran at once."""

    def __init__(self, target: str):
        self.client = ScalingLawClient(target)
        self.most = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._done.wait(0.2):
            replicas = [job.replica for job in self.client.list_jobs(state="running")]
            self.most = max([self.most, *(replicas.count(r) for r in set(replicas))])

    def __enter__(self) -> RunningCounts:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=10)
        self.client.close()


def contiguous(events: list[JobEventInfo]) -> bool:
    return [e.seq for e in events] == list(range(1, len(events) + 1))


@pytest.mark.slow
def test_kill_9_of_the_owner_fails_its_job_on_the_survivor_and_moves_its_queued_job(tmp_path: Path) -> None:
    with (
        replicas(tmp_path, ["a", "b"], max_jobs=1) as (a, b),
        ScalingLawClient(a.target, retries=0) as ca,
        ScalingLawClient(b.target) as cb,
    ):
        running = ca.start_training("perceptron", study="kill", **LONG_JOB)
        queued = ca.start_training("perceptron", study="kill", **LONG_JOB)
        through_a = ca.watch(running.id)
        seen, worker = until_training(through_a)
        assert (cb.get_job(queued.id).state, cb.get_job(queued.id).replica) == ("QUEUED", "a")
        a.kill()
        killed = time.monotonic()
        with pytest.raises(ClientError):  # the stream through the dead replica breaks...
            seen += list(through_a)
        rest = list(cb.watch(running.id, after_seq=seen[-1].seq))  # ...and goes on through the survivor
        acted = time.monotonic() - killed
        assert acted < BOUND, f"the survivor marked the job FAILED {acted:.1f} s after the kill (bound {BOUND} s)"
        events = seen + rest
        assert contiguous(events) and (events[-1].state, events[-1].replica) == ("FAILED", "b")
        assert {e.replica for e in seen} == {"a"}
        failed = cb.get_job(running.id)
        assert (
            failed.error.startswith("interrupted: replica 'a' (pid ") and "stopped renewing its lease" in failed.error
        )
        assert "marked FAILED by replica 'b'" in failed.error
        wait_for(lambda: not pid_alive(worker), 10, "the dead replica's job process exits")

        # the queued job was taken by b, within b's one job slot, and started there
        wait_for(lambda: cb.get_job(queued.id).state == "RUNNING", BOUND + 30, "the queued job starts on b")
        moved = cb.get_job(queued.id)
        assert moved.replica == "b" and moved.attempt == 0
        assert cb.cancel_job(queued.id).state == "CANCELLED"
        phases = [(e.phase, e.replica) for e in cb.watch(queued.id)]
        assert phases[:3] == [("queued", "a"), ("moved", "b"), ("started", "b")] and phases[-1][0] == "cancelled"


@pytest.mark.slow
def test_with_retries_the_survivor_restarts_the_job_and_its_watcher_sees_the_owner_change(tmp_path: Path) -> None:
    job_spec: dict[str, Any] = {**LONG_JOB, "steps": 2000, "search": {"outer_iters": 2}}
    with (
        replicas(tmp_path, ["a", "b"], job_retries=1) as (a, b),
        ScalingLawClient(a.target, retries=0) as ca,
        ScalingLawClient(b.target, timeout=300) as cb,
    ):
        job = ca.start_training("perceptron", study="retry", **job_spec)
        through_b = cb.watch(job.id)  # a watcher on the survivor, from the start
        seen, worker = until_training(through_b)
        a.kill()
        killed = time.monotonic()
        for event in through_b:
            seen.append(event)
            if event.phase == "retry":
                acted = time.monotonic() - killed
                assert acted < BOUND, f"the retry came {acted:.1f} s after the kill (bound {BOUND} s)"
        assert contiguous(seen) and seen[-1].state == "SUCCEEDED"  # the stream ended with the job
        retry = next(e for e in seen if e.phase == "retry")
        assert "replica 'a'" in retry.message and "attempt 2 of 2" in retry.message and retry.replica == "b"
        writers = [e.replica for e in seen]
        assert set(writers[: writers.index("b")]) == {"a"} and set(writers[writers.index("b") :]) == {"b"}
        assert sum(e.phase == "started" for e in seen) == 2
        done = cb.get_job(job.id)
        assert (done.state, done.replica, done.attempt) == ("SUCCEEDED", "b", 1)
        assert sorted(c.id for c in cb.list_curves(study="retry")) == sorted(done.curve_ids)  # stored once
        assert len(done.curve_ids) == 4 and not pid_alive(worker)


@pytest.mark.slow
def test_three_survivors_racing_for_a_dead_replicas_jobs_take_each_one_once(tmp_path: Path) -> None:
    with replicas(tmp_path, ["d", "a", "b", "c"], max_jobs=2) as (d, *survivors):
        with ScalingLawClient(d.target, retries=0) as cd:
            running = [cd.start_training("perceptron", study="race", **LONG_JOB) for _ in range(2)]
            queued = [cd.start_training("perceptron", study="race", **SHORT_JOB) for _ in range(6)]
            for job in running:
                until_training(cd.watch(job.id))
        d.kill()
        with ScalingLawClient(survivors[0].target, timeout=300) as ca, RunningCounts(survivors[1].target) as counts:
            for job in running + queued:  # each watch ends when its job does
                events = list(ca.watch(job.id))
                phases = [e.phase for e in events]
                assert contiguous(events), phases
                if job in running:
                    assert phases.count("failed") == 1 and events[-1].state == "FAILED"
                else:
                    assert phases.count("moved") == 1 and phases.count("started") == 1, phases
                    assert events[-1].state == "SUCCEEDED" and events[-1].replica in ("a", "b", "c")
            assert 0 < counts.most <= 2, counts.most  # no survivor ran more than its SCALINGLAW_MAX_JOBS
            stored = sorted(c.id for c in ca.list_curves(study="race", page_size=100))
            assert stored == sorted(c for job in queued for c in ca.get_job(job.id).curve_ids)  # each job's once
            assert len(stored) == 2 * len(queued)  # no search (outer_iters 0): conventional test and desired


@pytest.mark.slow
def test_sigterm_fails_the_running_job_and_hands_the_queued_one_over_before_the_lease_expires(tmp_path: Path) -> None:
    slow_lease = {"lease_renew_seconds": 0.5, "lease_seconds": 30.0}  # a handover by expiry would take 30 s
    with (
        replicas(tmp_path, ["a", "b"], max_jobs=1, **slow_lease) as (a, b),
        ScalingLawClient(a.target, retries=0) as ca,
        ScalingLawClient(b.target) as cb,
    ):
        running = ca.start_training("perceptron", study="drain", **LONG_JOB)
        queued = ca.start_training("perceptron", study="drain", **LONG_JOB)
        until_training(ca.watch(running.id))
        stopped = time.monotonic()
        assert a.terminate(timeout=30) == 0
        failed = cb.get_job(running.id)
        assert failed.state == "FAILED" and failed.error.startswith("interrupted: replica 'a' (pid "), failed.error
        assert "stopped; marked FAILED by replica 'a'" in failed.error
        taken = wait_for(lambda: cb.get_job(queued.id).state == "RUNNING", 20, "the handed-back job starts on b")
        took = time.monotonic() - stopped
        assert took < 20 < slow_lease["lease_seconds"], taken
        cb.cancel_job(queued.id)
        phases = [(e.phase, e.replica) for e in cb.watch(queued.id, after_seq=1)]
        assert phases[:3] == [("handed back", "a"), ("moved", "b"), ("started", "b")]


def _serve(data_dir: Path, **settings: object) -> subprocess.Popen[str]:
    env = {**os.environ, "SCALINGLAW_PORT": "0", "SCALINGLAW_DATA_DIR": str(data_dir)}
    env.update({f"SCALINGLAW_{k.upper()}": str(v) for k, v in settings.items()})
    return subprocess.Popen([sys.executable, "-m", "service.server"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


@pytest.mark.slow
def test_a_second_server_with_the_same_replica_id_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path, **LEASE)
    try:
        second = _serve(tmp_path, **LEASE)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 2, (out, err)
        assert "SCALINGLAW_REPLICA_ID='' is in use by a live server on this database" in err
        assert f"pid {first.proc.pid} on" in err and "Traceback" not in err
        with ScalingLawClient(first.target) as client:  # the first one serves on, untouched
            assert client.list_jobs() == []
    finally:
        first.kill()


def test_lease_settings_are_checked_naming_them() -> None:
    with pytest.raises(ValidationError, match=r"SCALINGLAW_LEASE_SECONDS \(4\) must be at least twice"):
        Settings(lease_renew_seconds=3, lease_seconds=4)
    for bad in ({"lease_renew_seconds": 0}, {"lease_seconds": -1}, {"job_retries": -1}):
        with pytest.raises(ValidationError):
            Settings(**bad)
    assert (Settings().lease_renew_seconds, Settings().lease_seconds, Settings().job_retries) == (5.0, 20.0, 0)


def test_a_second_server_in_this_process_with_the_same_replica_id_is_refused(tmp_path: Path) -> None:
    first = start(tmp_path, **LEASE)
    try:
        with pytest.raises(ReplicaIdInUse, match="SCALINGLAW_REPLICA_ID='' is in use by a live server"):
            start(tmp_path, **LEASE)
        second = start(tmp_path, replica_id="b", **LEASE)  # its own id: the same file serves both
        second.stop()
    finally:
        first.stop()
    start(tmp_path, **LEASE).stop()  # a server that stopped released its lease: its id is free


@pytest.mark.slow
def test_two_servers_on_one_sqlite_file_with_their_own_ids_take_over_from_each_other(tmp_path: Path) -> None:
    a = ServerProcess(tmp_path / "shared", replica_id="a", **LEASE)
    b = ServerProcess(tmp_path / "shared", replica_id="b", **LEASE)
    try:
        with ScalingLawClient(a.target, retries=0) as ca, ScalingLawClient(b.target) as cb:
            job = ca.start_training("perceptron", study="sqlite", **LONG_JOB)
            until_training(ca.watch(job.id))
            assert cb.get_job(job.id).state == "RUNNING"  # b reads what a writes
            a.kill()
            acted = wait_for(lambda: cb.get_job(job.id).state == "FAILED", BOUND, "b fails a's job")
            assert (
                "replica 'a'" in cb.get_job(job.id).error and "marked FAILED by replica 'b'" in cb.get_job(job.id).error
            )
            events = list(cb.watch(job.id))
            assert contiguous(events) and events[-1].replica == "b", acted
    finally:
        a.kill()
        b.kill()
