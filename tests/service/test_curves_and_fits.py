"""Uploads, reads, fits and comparisons through a real server and the Python client."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fitting import get_law
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service.client import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    ScalingLawClient,
    Unauthenticated,
)

from .conftest import RunningServer, start

STEPS = np.arange(1.0, 4001.0)
CONV = {"L0": 0.0515, "B": 3.16e8, "beta": 0.12}
OPT = {"L0": 0.0515, "B": 1.99e7, "beta": 0.14}


def curve(params: dict[str, float], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return get_law("step_power").evaluate(STEPS, params) * np.exp(0.002 * rng.standard_normal(STEPS.size))


def test_upload_read_back_exactly_in_many_chunks(client: ScalingLawClient) -> None:
    loss = curve(CONV)
    info = client.upload_curve(STEPS, loss, name="conv", policy="conventional", study="s1", chunk_points=333)
    assert info.n_points == 4000 and info.x_last == 4000.0 and info.policy == "conventional"
    frame = client.read_curve(info.id)
    np.testing.assert_array_equal(frame.x.to_numpy(), STEPS)
    np.testing.assert_array_equal(frame.loss.to_numpy(), loss)
    assert client.get_curve(info.id) == info


def test_upload_accepts_dataframes_and_series(client: ScalingLawClient) -> None:
    frame = pd.DataFrame({"step": STEPS[:10], "loss": 1 / STEPS[:10]})
    a = client.upload_curve(frame)
    b = client.upload_curve(pd.Series(1 / STEPS[:10], index=STEPS[:10]))
    assert a.sha256 == b.sha256


def test_retry_with_the_same_request_id_returns_the_original(client: ScalingLawClient) -> None:
    first = client.upload_curve(STEPS[:50], 1 / STEPS[:50], request_id="run-7")
    again = client.upload_curve(STEPS[:50], 1 / STEPS[:50], request_id="run-7")
    assert again.id == first.id
    with pytest.raises(AlreadyExists):
        client.upload_curve(STEPS[:50], 2 / STEPS[:50], request_id="run-7")
    assert len(client.list_curves()) == 1


def test_list_filters_and_pages(client: ScalingLawClient) -> None:
    for i in range(5):
        client.upload_curve(STEPS[:5], 1 / STEPS[:5], study="a" if i < 3 else "b", policy=f"p{i % 2}")
    assert len(client.list_curves(page_size=2)) == 5
    assert len(client.list_curves(study="a", page_size=1)) == 3
    assert len(client.list_curves(study="a", policy="p0")) == 2


def test_delete_then_not_found(client: ScalingLawClient) -> None:
    info = client.upload_curve(STEPS[:5], 1 / STEPS[:5])
    client.delete_curve(info.id)
    with pytest.raises(NotFound):
        client.get_curve(info.id)
    with pytest.raises(NotFound):
        client.delete_curve(info.id)


@pytest.mark.parametrize(
    ("x", "loss", "violation"),
    [
        ([], [], "chunk: curve is empty"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], "chunk.loss"),
        ([1.0, 2.0, 3.0], [1.0, math.nan, 1.0], "loss[1]"),  # the caller's index, not the chunk field
        ([1.0, 3.0, 2.0], [1.0, 1.0, 1.0], "x[2]"),
    ],
)
def test_bad_uploads_are_rejected_and_store_nothing(
    client: ScalingLawClient, x: list[float], loss: list[float], violation: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        client.upload_curve(x, loss)
    assert err.value.field_violations[0].startswith(violation)
    assert client.list_curves() == []


def test_point_limit_is_resource_exhausted(tmp_path: Path) -> None:
    running = start(tmp_path, max_points=100)
    try:
        with ScalingLawClient(running.target) as c, pytest.raises(ResourceExhausted):
            c.upload_curve(STEPS[:101], 1 / STEPS[:101])
    finally:
        running.stop()


def test_broken_stream_stores_nothing(server: RunningServer, client: ScalingLawClient, tmp_path: Path) -> None:
    def messages():  # type: ignore[no-untyped-def]
        yield pb.UploadCurveRequest(header=pb.CurveHeader(name="half", expected_points=4))
        yield pb.UploadCurveRequest(chunk=pb.PointsChunk(x=[1.0, 2.0], loss=[1.0, 0.5]))
        raise RuntimeError("the uploader crashed mid-stream")

    with grpc.insecure_channel(server.target) as channel, pytest.raises(grpc.RpcError):
        pb_grpc.ScalingLawServiceStub(channel).UploadCurve(messages(), timeout=10)
    assert client.list_curves() == []
    with sqlite3.connect(tmp_path / "scalinglaw.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM curves").fetchone()[0] == 0


def test_fit_single_batch_and_joint(server: RunningServer, client: ScalingLawClient) -> None:
    a = client.upload_curve(STEPS, curve(CONV, 1)).id
    b = client.upload_curve(STEPS, curve(OPT, 2)).id
    (single,) = client.fit([a], x_min=400)
    assert single.status == "converged" and single.params["beta"] == pytest.approx(0.12, rel=0.05)
    batch = client.fit([a, b], x_min=400)
    assert [f.curve_id for f in batch] == [a, b]
    joint = client.fit([a, b], x_min=400, shared=["L0"], bootstrap=50)
    assert joint[0].params["L0"] == joint[1].params["L0"] and joint[0].ci_method == "bootstrap"
    paper = client.fit([a], x_min=400, method="paper")
    assert paper[0].method == "paper"
    stored = client.list_fits(a)  # every fit is kept with its curve, as it was answered
    assert [f.id for f in stored] == [single.id, batch[0].id, joint[0].id, paper[0].id]
    assert stored[0] == single and stored[2] == joint[0] and stored[-1].method == "paper"
    with pytest.raises(NotFound):
        client.list_fits("c-missing")


def test_the_robust_scale_is_estimated_unless_delta_is_given(server: RunningServer, client: ScalingLawClient) -> None:
    rng = np.random.default_rng(4)
    noisy = get_law("step_power").evaluate(STEPS, CONV) * np.exp(0.03 * rng.standard_normal(STEPS.size))
    a = client.upload_curve(STEPS, noisy).id
    client.fit([a])  # FitOptions.delta unset (0)
    client.fit([a], delta=0.2)
    estimated, given = (fit["extra"]["delta"] for fit in server.parts.store.list_fits(a))
    assert estimated == pytest.approx(1.345 * 0.03, rel=0.15) and given == 0.2


def test_fit_errors(client: ScalingLawClient) -> None:
    a = client.upload_curve(STEPS[:3], [3.0, 2.0, 1.5]).id
    flat = client.upload_curve(STEPS[:10], np.full(10, 2.0)).id
    with pytest.raises(InvalidArgument) as err:
        client.fit([a], law="no_such_law")
    assert err.value.field_violations[0].startswith("options.law: unknown law 'no_such_law'")
    with pytest.raises(FailedPrecondition):
        client.fit([a])  # 3 points, 3 parameters
    with pytest.raises(NotFound):
        client.fit(["c-missing"])
    (unidentifiable,) = client.fit([flat])
    assert unidentifiable.status == "unidentifiable"
    with pytest.raises(FailedPrecondition):
        client.compare(flat, [a])


def test_compare_gives_ar_with_intervals_and_cr(client: ScalingLawClient) -> None:
    header = {"vocab_size": 5000, "study": "t1"}
    a = client.upload_curve(STEPS, curve(CONV, 3), policy="conventional", **header).id
    b = client.upload_curve(STEPS, curve(OPT, 4), policy="optimal", **header).id
    result = client.compare(a, [b], x_min=400, target_losses=[3.0], bootstrap=100)
    (cand,) = result.candidates
    expected = 4000 ** (1 - 0.12 / 0.14) * 3.16e8 ** (0.12 / 0.14) / 1.99e7
    ar = cand.ar_fit[4000.0]
    assert ar.low < ar.value < ar.high and ar.value == pytest.approx(expected, rel=0.05)
    assert sorted(cand.ar_fit) == [4000.0, 4e4, 4e5, 4e6]
    assert cand.ar_measured[4000.0].value == pytest.approx(expected, rel=0.1)
    assert cand.ar_empirical[4000.0] == cand.ar_measured[4000.0].value  # deprecated: kept for code that reads it
    assert cand.cr > result.baseline_cr > 0 and "nats" in result.cr_units
    assert cand.b_improvement.value == pytest.approx(0.937, abs=0.05)
    assert cand.speedups[3.0].value > 1


def test_token_guards_everything_but_health(tmp_path: Path) -> None:
    running = start(tmp_path, token="s3cret")
    try:
        with ScalingLawClient(running.target) as anonymous, pytest.raises(Unauthenticated):
            anonymous.list_curves()
        with ScalingLawClient(running.target, token="wrong") as wrong, pytest.raises(Unauthenticated):
            wrong.list_curves()
        with ScalingLawClient(running.target, token="s3cret") as good:
            assert good.list_curves() == []
        with grpc.insecure_channel(running.target) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        running.stop()
