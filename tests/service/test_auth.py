"""The bearer token: compared in constant time, checked before a request's bytes are read, and
guarding reflection too (which can be turned off); health stays open."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from tests.service.processes import Spawn

from .conftest import start

TOKEN = "s3cret"
TIMEOUT = 30.0


def reflect(channel: grpc.Channel, metadata: tuple[tuple[str, str], ...] = ()) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = stub.ServerReflectionInfo(iter([request]), timeout=TIMEOUT, metadata=metadata)
    return [s.name for s in reply.list_services_response.service]


def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call()  # type: ignore[operator]
    return err.value.code()  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("token_set", [True, False])
def test_reflection_needs_the_token_when_one_is_set(tmp_path: Path, token_set: bool) -> None:
    running = start(tmp_path, token=TOKEN if token_set else "")
    try:
        with grpc.insecure_channel(running.target) as channel:
            if token_set:
                assert code_of(lambda: reflect(channel)) == grpc.StatusCode.UNAUTHENTICATED
                wrong = (("authorization", "Bearer wrong"),)
                assert code_of(lambda: reflect(channel, wrong)) == grpc.StatusCode.UNAUTHENTICATED
                assert "scalinglaw.v1.ScalingLawService" in reflect(channel, (("authorization", f"Bearer {TOKEN}"),))
            else:
                assert "scalinglaw.v1.ScalingLawService" in reflect(channel)
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        running.stop()


def test_reflection_can_be_turned_off(tmp_path: Path) -> None:
    running = start(tmp_path, reflection=False)
    try:
        with grpc.insecure_channel(running.target) as channel:
            assert code_of(lambda: reflect(channel)) == grpc.StatusCode.UNIMPLEMENTED
    finally:
        running.stop()


@pytest.mark.parametrize("given", ["", "Bearer", f"Bearer {TOKEN}x", f"bearer {TOKEN}", "Bearer " + "x" * 4000, TOKEN])
def test_any_other_authorization_is_unauthenticated_for_every_shape_of_call(tmp_path: Path, given: str) -> None:
    running = start(tmp_path, token=TOKEN)
    metadata = (("authorization", given),) if given else ()
    try:
        with grpc.insecure_channel(running.target) as channel:
            stub = pb_grpc.ScalingLawServiceStub(channel)
            calls = [
                lambda: stub.ListCurves(pb.ListCurvesRequest(), timeout=TIMEOUT, metadata=metadata),
                lambda: list(stub.WatchJob(pb.WatchJobRequest(job_id="j"), timeout=TIMEOUT, metadata=metadata)),
                lambda: stub.UploadCurve(
                    iter([pb.UploadCurveRequest(header=pb.CurveHeader())]), timeout=TIMEOUT, metadata=metadata
                ),
            ]
            for call in calls:
                assert code_of(call) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        running.stop()


def _hwm_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_large_unauthenticated_requests_are_refused_before_they_are_read(tmp_path: Path, spawn: Spawn) -> None:
    server = spawn(tmp_path, token=TOKEN)
    big = pb.FitCurvesRequest(curve_ids=["x" * 1000] * 55_000)  # 55 MB, under the 64 MiB message limit
    codes: list[grpc.StatusCode] = []
    # the server is up and has answered once before its peak memory is taken as the baseline
    with grpc.insecure_channel(server.target) as channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT)
    before = _hwm_bytes(server.proc.pid)

    def send() -> None:
        with grpc.insecure_channel(server.target, options=[("grpc.max_send_message_length", 2**30)]) as channel:
            codes.append(code_of(lambda: pb_grpc.ScalingLawServiceStub(channel).FitCurves(big, timeout=TIMEOUT)))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 4
    grown = _hwm_bytes(server.proc.pid) - before
    assert grown < 100 * 2**20, f"the server's peak grew {grown / 2**20:.0f} MiB for 220 MB it should not read"
