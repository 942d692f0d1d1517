"""Hand-built wire bytes parse to exactly what protobuf builds."""

from __future__ import annotations

import numpy as np
import pytest

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from service import wire


@pytest.mark.parametrize("n", [0, 1, 15, 16, 1000, 70_000])
def test_chunks_round_trip(n: int) -> None:
    x = np.arange(1.0, n + 1.0)
    loss = np.linspace(5.0, 1.0, n)
    chunk = pb.PointsChunk.FromString(wire.points_chunk(x, loss))
    np.testing.assert_array_equal(np.asarray(chunk.x), x)
    np.testing.assert_array_equal(np.asarray(chunk.loss), loss)
    request = pb.UploadCurveRequest.FromString(wire.upload_chunk(x, loss))
    assert request.WhichOneof("payload") == "chunk" or n == 0
    assert request.chunk == pb.PointsChunk(x=x, loss=loss)
