"""User work never runs on the server's event loop (service/server/compute.py): health and store calls
answer while fits run, a fit whose caller cancelled or passed its deadline stops, and a fit that
runs out of its worker's memory is RESOURCE_EXHAUSTED while the server keeps serving."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service.client import ResourceExhausted, ScalingLawClient
from service.server.compute import ComputePool
from tests.service.processes import pid_alive

from .conftest import RunningServer, start

TIMEOUT = 60.0


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def hold_gil(exponent: int) -> int:
    """A huge integer power: one C call that holds the GIL throughout, as a runaway expression did."""
    return (3**exponent).bit_length()


def curve(n: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(1.0, n + 1.0)
    noise = np.exp(np.random.default_rng(n).normal(0.0, 0.01, n))
    return x, scale * (1.0 + (3e5 / x) ** 0.3) * noise  # L0 well inside its bounds: a fit converges


def test_a_computation_that_holds_the_gil_does_not_stall_the_loop_and_stops_when_cancelled() -> None:
    async def scenario() -> tuple[float, int]:
        pool = ComputePool(1)
        try:
            await pool.warm()
            (pid,) = pool.pids
            task = asyncio.create_task(pool.run(hold_gil, 10**8))  # minutes of one C call
            while pool.busy == 0:
                await asyncio.sleep(0.01)
            stall, last = 0.0, time.monotonic()
            for _ in range(100):  # a second of 10 ms ticks: the loop must keep ticking
                await asyncio.sleep(0.01)
                now = time.monotonic()
                stall, last = max(stall, now - last), now
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return stall, pid
        finally:
            pool.close()

    stall, pid = asyncio.run(scenario())
    assert stall < 0.5, f"the event loop stalled {stall:.2f} s"
    wait_until(lambda: not pid_alive(pid), timeout=10)  # the cancelled work stopped with its worker


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[RunningServer]:
    running = start(tmp_path, fit_workers=1)
    yield running
    running.stop()


def long_fit(running: RunningServer, client: ScalingLawClient) -> pb.FitCurvesRequest:
    """A request that keeps the one worker busy for many seconds (ten paper-method grids)."""
    ids = [client.upload_curve(*curve(20_000, 1.0 + i / 100)).id for i in range(10)]
    return pb.FitCurvesRequest(curve_ids=ids, options=pb.FitOptions(method=pb.FIT_METHOD_PAPER))


def test_health_and_store_answer_while_a_fit_runs_and_a_cancelled_fit_stops(one_worker: RunningServer) -> None:
    pool = one_worker.parts.servicer.compute
    with (
        ScalingLawClient(one_worker.target, timeout=TIMEOUT) as client,
        grpc.insecure_channel(one_worker.target) as channel,
    ):
        small = client.upload_curve(*curve(300)).id
        request = long_fit(one_worker, client)
        call = pb_grpc.ScalingLawServiceStub(channel).FitCurves.future(request, timeout=TIMEOUT)
        wait_until(lambda: pool.busy == 1)
        (pid,) = pool.pids
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(5):
            tick = time.monotonic()
            assert (
                health.Check(health_pb2.HealthCheckRequest(), timeout=1.0).status
                == health_pb2.HealthCheckResponse.SERVING
            )
            client.list_curves()
            client.get_curve(small)
            assert time.monotonic() - tick < 1.0
        assert not call.done()
        call.cancel()
        wait_until(lambda: pool.busy == 0)
        wait_until(lambda: not pid_alive(pid), timeout=10)
        # the one worker is free again: a small fit does not wait for the cancelled one's remainder
        with ScalingLawClient(one_worker.target, timeout=20) as quick:
            assert quick.fit([small])[0].status == "converged"


def test_a_fit_past_its_deadline_stops(one_worker: RunningServer) -> None:
    """The worker of a fit whose caller's deadline passed is killed at once. Its death is the
    evidence: a worker left to finish the fit for nobody stays alive, and a later fit that merely
    waits for it still succeeds whenever the rest takes under its timeout (about 9 s of the
    long fit's 12 s remain on a quiet 2-core machine)."""
    pool = one_worker.parts.servicer.compute
    with (
        ScalingLawClient(one_worker.target, timeout=TIMEOUT) as client,
        grpc.insecure_channel(one_worker.target) as channel,
    ):
        small = client.upload_curve(*curve(300)).id
        request = long_fit(one_worker, client)
        call = pb_grpc.ScalingLawServiceStub(channel).FitCurves.future(request, timeout=3.0)
        wait_until(lambda: pool.busy == 1)
        (pid,) = pool.pids
        with pytest.raises(grpc.RpcError) as err:
            call.result()
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        wait_until(lambda: not pid_alive(pid), timeout=5)
        wait_until(lambda: pool.busy == 0, timeout=5)  # the pool lets go of it just after its death
        # a fresh worker serves the next fit
        with ScalingLawClient(one_worker.target, timeout=20) as quick:
            assert quick.fit([small])[0].status == "converged"


@pytest.mark.slow  # 16 s on 2 cores
def test_a_fit_over_its_workers_memory_is_resource_exhausted_and_the_server_keeps_serving(tmp_path: Path) -> None:
    running = start(tmp_path, fit_workers=1, fit_memory_bytes=700 * 2**20, max_point_resamples=10**8)
    try:
        with ScalingLawClient(running.target, timeout=TIMEOUT) as client:
            # a law of two inputs: its resamples refit every point (a long curve of x alone refits
            # them on log-spaced bins, fitting/binned.py, and would fit in the memory)
            x, loss = curve(20_000)
            big = client.upload_curve(x, loss, columns={"N": x * 1e6, "D": x * 1e9}).id
            with pytest.raises(ResourceExhausted) as err:
                client.fit([big], law="chinchilla", bootstrap=400)  # ~1.5 GB of resamples
            assert "memory" in err.value.message
            assert client.fit([big], law="chinchilla")[0].law == "chinchilla"
            assert len(client.list_fits(big)) == 1  # the refused request stored nothing
    finally:
        running.stop()


def test_health_answers_while_a_law_given_as_text_is_read(one_worker: RunningServer) -> None:
    """A law's text is read on the event loop (service/server/convert.py), so reading it must be
    bounded work: this one's constant once took the parser 25 s of held GIL; now its size is judged
    from its logarithm and the law refused at once, while health keeps answering."""
    with (
        ScalingLawClient(one_worker.target, timeout=TIMEOUT) as client,
        grpc.insecure_channel(one_worker.target) as channel,
    ):
        small = client.upload_curve(*curve(300)).id
        request = pb.FitCurvesRequest(curve_ids=[small], options=pb.FitOptions(law="a*x + 0*((9**9999)**999)"))
        call = pb_grpc.ScalingLawServiceStub(channel).FitCurves.future(request, timeout=5.0)
        health = health_pb2_grpc.HealthStub(channel)
        while not call.done():
            tick = time.monotonic()
            health.Check(health_pb2.HealthCheckRequest(), timeout=2.0)
            assert time.monotonic() - tick < 1.0
            time.sleep(0.1)
        assert call.code() == grpc.StatusCode.INVALID_ARGUMENT, call.details()
