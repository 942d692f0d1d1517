"""What open uploads may hold at once: streams (max_concurrent_uploads) and bytes of points
(max_upload_bytes_in_flight). Over either: RESOURCE_EXHAUSTED naming the limit, nothing stored,
everything the stream held released however it ended, and the server keeps serving."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service.client import ResourceExhausted, ScalingLawClient

from .conftest import RunningServer, start

X = np.arange(1.0, 301.0)
LOSS = 2.0 + (300.0 / X) ** 0.5
TIMEOUT = 30.0


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class HeldUpload:
    """An upload that sends its header and n points, waits until released, then sends one more.
    Its header announces n + 1 points, so a stream cut short cannot pass for a whole one."""

    def __init__(self, running: RunningServer, n: int):
        self.release = threading.Event()
        self.channel = grpc.insecure_channel(running.target)
        stub = pb_grpc.ScalingLawServiceStub(self.channel)
        self.call = stub.UploadCurve.future(self._messages(n), timeout=TIMEOUT)
        wait_until(lambda: running.parts.servicer.uploads.bytes == 16 * n)  # the server holds the points

    def _messages(self, n: int) -> Iterator[pb.UploadCurveRequest]:
        yield pb.UploadCurveRequest(header=pb.CurveHeader(name="held", expected_points=n + 1))
        yield pb.UploadCurveRequest(chunk=pb.PointsChunk(x=X[:n], loss=LOSS[:n]))
        self.release.wait(TIMEOUT)
        yield pb.UploadCurveRequest(chunk=pb.PointsChunk(x=X[n : n + 1], loss=LOSS[n : n + 1]))

    def finish(self) -> pb.Curve:
        self.release.set()
        try:
            return self.call.result()
        finally:
            self.channel.close()

    def cancel(self) -> None:
        self.call.cancel()
        self.release.set()
        self.channel.close()


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[RunningServer]:
    running = start(tmp_path, max_concurrent_uploads=1, max_upload_bytes_in_flight=16 * 300)
    yield running
    running.stop()


def assert_still_serving(client: ScalingLawClient, curves_before: int) -> None:
    """A normal upload and fit succeed after the rejection, which stored nothing."""
    assert len(client.list_curves()) == curves_before
    info = client.upload_curve(X, LOSS)
    assert client.fit([info.id])[0].status == "converged"


def test_an_upload_over_max_concurrent_uploads_is_refused(limited: RunningServer) -> None:
    with ScalingLawClient(limited.target, timeout=TIMEOUT) as client:
        held = HeldUpload(limited, 10)
        with pytest.raises(ResourceExhausted, match="max_concurrent_uploads"):
            client.upload_curve(X[:10], LOSS[:10])
        assert held.finish().n_points == 11  # the open one is unaffected
        assert (limited.parts.servicer.uploads.streams, limited.parts.servicer.uploads.bytes) == (0, 0)
        assert_still_serving(client, curves_before=1)


def test_bytes_over_max_upload_bytes_in_flight_are_refused(tmp_path: Path) -> None:
    running = start(tmp_path, max_upload_bytes_in_flight=16 * 300)
    try:
        with ScalingLawClient(running.target, timeout=TIMEOUT) as client:
            with pytest.raises(ResourceExhausted, match="max_upload_bytes_in_flight"):
                client.upload_curve(np.arange(1.0, 302.0), np.ones(301))  # one stream over it alone
            held = HeldUpload(running, 200)
            with pytest.raises(ResourceExhausted, match="max_upload_bytes_in_flight"):
                client.upload_curve(X[:150], LOSS[:150])  # fits alone, not beside the held one
            held.finish()
            client.upload_curve(X[:150], LOSS[:150])  # the held bytes were released
            assert (running.parts.servicer.uploads.streams, running.parts.servicer.uploads.bytes) == (0, 0)
            assert_still_serving(client, curves_before=2)
    finally:
        running.stop()


def test_a_cancelled_upload_releases_what_it_held(limited: RunningServer) -> None:
    HeldUpload(limited, 100).cancel()
    wait_until(lambda: (limited.parts.servicer.uploads.streams, limited.parts.servicer.uploads.bytes) == (0, 0))
    with ScalingLawClient(limited.target, timeout=TIMEOUT) as client:
        assert_still_serving(client, curves_before=0)
