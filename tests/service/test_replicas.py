"""Two server replicas on one PostgreSQL database, each a real in-process gRPC server: whatever
goes in through one is there, whole, through the other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fitting import get_law
from service.client import ScalingLawClient

from .conftest import RunningServer, start
from .postgres import fresh_schema
from .processes import pid_alive

TINY = {"dim": 8, "train_size": 64, "desired_size": 64, "test_size": 64}  # as in test_jobs.py
STEPS = np.arange(1.0, 2001.0)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    with fresh_schema() as url:
        a = start(tmp_path / "a", database_url=url, replica_id="a")
        try:
            b = start(tmp_path / "b", database_url=url, replica_id="b")
            try:
                yield a, b
            finally:
                b.stop()
        finally:
            a.stop()


@pytest.fixture
def clients(replicas: tuple[RunningServer, RunningServer]) -> Iterator[tuple[ScalingLawClient, ScalingLawClient]]:
    a, b = replicas
    with ScalingLawClient(a.target, timeout=60) as ca, ScalingLawClient(b.target, timeout=60) as cb:
        yield ca, cb


def loss_curve(beta: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clean = get_law("step_power").evaluate(STEPS, {"L0": 0.05, "B": 3e8, "beta": beta})
    return clean * np.exp(0.002 * rng.standard_normal(STEPS.size))


def test_a_curve_uploaded_through_one_replica_is_read_fitted_and_compared_through_the_other(
    replicas: tuple[RunningServer, RunningServer], clients: tuple[ScalingLawClient, ScalingLawClient]
) -> None:
    a, b = clients
    conv, opt = loss_curve(0.12, 1), loss_curve(0.14, 2)
    base = a.upload_curve(STEPS, conv, policy="conventional", study="r", request_id="base", chunk_points=300)
    cand = a.upload_curve(STEPS, opt, policy="optimal", study="r")
    assert b.get_curve(base.id) == base
    assert b.upload_curve(STEPS, conv, policy="conventional", study="r", request_id="base").id == base.id  # a retry
    frame = b.read_curve(base.id)
    assert frame.x.to_numpy().view("<u8").tolist() == STEPS.view("<u8").tolist()
    assert frame.loss.to_numpy().view("<u8").tolist() == conv.view("<u8").tolist()
    assert [c.id for c in b.list_curves(study="r")] == [base.id, cand.id]
    (fit,) = b.fit([base.id], x_min=200)
    assert fit.status == "converged" and fit.params["beta"] == pytest.approx(0.12, rel=0.05)
    assert [f["id"] for f in replicas[0].parts.store.list_fits(base.id)] == [fit.id]  # stored where A sees it
    result = b.compare(base.id, [cand.id], x_min=200, bootstrap=20)
    assert result.candidates[0].curve_id == cand.id and result.candidates[0].ar_fit


def test_a_job_started_through_one_replica_is_watched_through_the_other(
    clients: tuple[ScalingLawClient, ScalingLawClient],
) -> None:
    a, b = clients
    job = a.start_training(
        "perceptron", steps=60, device="cpu", bootstrap=20, study="jobs", config=TINY, search={"outer_iters": 2}
    )
    events = list(b.watch(job.id))  # B runs nothing: it follows the shared job_events by polling
    assert [e.seq for e in events] == list(range(1, len(events) + 1)) and events[-1].state == "SUCCEEDED"
    assert any(e.phase == "search" for e in events)
    done = b.get_job(job.id)
    assert done.state == "SUCCEEDED" and sorted(done.curve_ids) == sorted(c.id for c in b.list_curves(study="jobs"))
    assert a.get_job(job.id).curve_ids == done.curve_ids  # (== on the whole: the comparison holds NaNs)


def test_a_job_running_on_one_replica_is_cancelled_through_the_other(
    clients: tuple[ScalingLawClient, ScalingLawClient],
) -> None:
    a, b = clients
    job = a.start_training("perceptron", steps=20000, device="cpu", config=TINY, search={"outer_iters": 50})
    worker = None
    for event in b.watch(job.id):
        if event.phase == "started":
            worker = int(event.message.split()[-1])
        if event.phase in ("conventional", "search"):
            break
    assert worker is not None
    assert b.cancel_job(job.id).state == "CANCELLED"
    # A sees the job finished elsewhere (it checks every 2 s) and stops its process
    deadline = time.monotonic() + 10
    while pid_alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(worker), "replica A kept training a job cancelled through replica B"
    events = list(a.watch(job.id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)) and events[-1].state == "CANCELLED"
    assert a.get_job(job.id).state == "CANCELLED"
