"""Every request's cost is capped before the work starts (service/server/limits.py): repeated curve ids,
points x resamples, horizon counts, chunk sizes both ways, names and labels, replies paged by bytes,
idle uploads. Over a limit: RESOURCE_EXHAUSTED naming it (a wrong request: INVALID_ARGUMENT naming
the field), nothing stored, and the server keeps serving."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service.client import ScalingLawClient
from service.server.reports.figures import thin
from service.server.store import SqliteStore

from .conftest import RunningServer, start

TIMEOUT = 30.0
X = np.arange(1.0, 301.0)
LOSS = 2.0 + (300.0 / X) ** 0.5


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def failure(call: Callable[[], object]) -> tuple[grpc.StatusCode, str, list[str]]:
    """The status code, message and field violations of a call that must fail."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    err = caught.value
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    fields = []
    for detail in status.details if status is not None else []:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    return err.code(), err.details() or "", fields  # type: ignore[attr-defined]


def header_upload(
    header: pb.CurveHeader, x: np.ndarray = X, loss: np.ndarray = LOSS
) -> Iterator[pb.UploadCurveRequest]:
    header.expected_points = x.size
    yield pb.UploadCurveRequest(header=header)
    yield pb.UploadCurveRequest(chunk=pb.PointsChunk(x=x, loss=loss))


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[RunningServer]:
    running = start(tmp_path, max_point_resamples=20_000, max_horizons=4, max_chunk_points=1000, max_labels=2,
                    max_name_bytes=32, max_label_bytes=64)  # fmt: skip
    yield running
    running.stop()


@pytest.fixture
def stub(limited: RunningServer) -> Iterator[pb_grpc.ScalingLawServiceStub]:
    with grpc.insecure_channel(limited.target) as channel:
        yield pb_grpc.ScalingLawServiceStub(channel)


@pytest.fixture
def ids(limited: RunningServer) -> list[str]:
    with ScalingLawClient(limited.target, timeout=TIMEOUT) as client:
        return [client.upload_curve(X, LOSS * (1 + i / 10)).id for i in range(3)]


def test_repeated_curve_ids_are_refused_naming_the_repeat(
    stub: pb_grpc.ScalingLawServiceStub, ids: list[str], limited: RunningServer
) -> None:
    a, b, _ = ids
    fit = pb.FitCurvesRequest(curve_ids=[a] + [b] * 200)  # the 4 KB request that fitted one curve 200 times
    code, message, fields = failure(lambda: stub.FitCurves(fit, timeout=TIMEOUT))
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["curve_ids[2]"]) and "repeats" in message
    compare = pb.CompareCurvesRequest(baseline_id=a, candidate_ids=[b, a])
    code, message, fields = failure(lambda: stub.CompareCurves(compare, timeout=TIMEOUT))
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["candidate_ids[1]"]) and "baseline" in message
    compare = pb.CompareCurvesRequest(baseline_id=a, candidate_ids=[b, b])
    assert failure(lambda: stub.CompareCurves(compare, timeout=TIMEOUT))[2] == ["candidate_ids[1]"]
    report = pb.RenderReportRequest(curves=pb.CurveSet(baseline_id=a, candidate_ids=[b, b]))
    assert failure(lambda: stub.RenderReport(report, timeout=TIMEOUT))[2] == ["curves.candidate_ids[1]"]
    assert limited.parts.servicer.compute.started == 0  # refused before any work


def test_points_times_resamples_over_the_limit_is_refused_before_the_work(
    stub: pb_grpc.ScalingLawServiceStub, ids: list[str], limited: RunningServer
) -> None:
    a, b, c = ids  # 900 points; the limit is 20,000 point-resamples
    fit = pb.FitCurvesRequest(curve_ids=[a, b, c], options=pb.FitOptions(bootstrap=30))
    code, message, fields = failure(lambda: stub.FitCurves(fit, timeout=TIMEOUT))
    assert (code, fields) == (grpc.StatusCode.RESOURCE_EXHAUSTED, ["options.bootstrap"])
    assert "max_point_resamples" in message and "at most 22 resamples" in message
    compare = pb.CompareCurvesRequest(baseline_id=a, candidate_ids=[b], options=pb.FitOptions(bootstrap=100))
    assert failure(lambda: stub.CompareCurves(compare, timeout=TIMEOUT))[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
    report = pb.RenderReportRequest(curves=pb.CurveSet(baseline_id=a, candidate_ids=[b]), options=compare.options)
    assert failure(lambda: stub.RenderReport(report, timeout=TIMEOUT))[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert limited.parts.servicer.compute.started == 0
    # a fitting range that leaves fewer points makes the same resamples affordable
    fit = pb.FitCurvesRequest(curve_ids=[a], options=pb.FitOptions(bootstrap=30, x_min=100.0))
    (result,) = stub.FitCurves(fit, timeout=TIMEOUT).fits
    assert result.n_bootstrap == 30
    # left to the server, a comparison takes the resamples that fit the limit and says how many
    compare = pb.CompareCurvesRequest(baseline_id=a, candidate_ids=[b])
    reply = stub.CompareCurves(compare, timeout=TIMEOUT)
    assert reply.baseline_fit.n_bootstrap == 20_000 // 600


def test_long_curves_resamples_cost_their_bins(stub: pb_grpc.ScalingLawServiceStub, limited: RunningServer) -> None:
    """Past 2,000 points a curve's resamples are refitted on at most 500 log-spaced bins
    (fitting/binned.py), so they cost that many points each: 3 curves of 3,000 points afford 13
    resamples under 20,000 point-resamples (counted by every point, they afforded 2)."""
    x = np.arange(1.0, 3001.0)
    with ScalingLawClient(limited.target, timeout=TIMEOUT) as client:
        a, b, c = (client.upload_curve(x, 2.0 + (300.0 * k / x) ** 0.5, chunk_points=1000).id for k in (1, 2, 3))
    reply = stub.CompareCurves(pb.CompareCurvesRequest(baseline_id=a, candidate_ids=[b, c]), timeout=TIMEOUT)
    assert reply.baseline_fit.n_bootstrap == 13
    assert "13 resamples refitted on" in reply.baseline_fit.message
    fit = pb.FitCurvesRequest(curve_ids=[a, b, c], options=pb.FitOptions(bootstrap=30))
    code, message, _ = failure(lambda: stub.FitCurves(fit, timeout=TIMEOUT))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "ask for at most 13 resamples" in message


def test_horizon_and_target_counts_are_capped(stub: pb_grpc.ScalingLawServiceStub, ids: list[str]) -> None:
    a, b, _ = ids
    for field in ("horizons", "target_losses"):
        compare = pb.CompareCurvesRequest(baseline_id=a, candidate_ids=[b], **{field: [1.0, 2.0, 3.0, 4.0, 5.0]})
        code, message, fields = failure(lambda r=compare: stub.CompareCurves(r, timeout=TIMEOUT))  # type: ignore[misc]
        assert (code, fields) == (grpc.StatusCode.RESOURCE_EXHAUSTED, [field]) and "max_horizons" in message


def test_chunks_are_capped_both_ways(
    stub: pb_grpc.ScalingLawServiceStub, ids: list[str], limited: RunningServer
) -> None:
    request = pb.ReadCurvePointsRequest(id=ids[0], chunk_size=1001)
    code, message, fields = failure(lambda: list(stub.ReadCurvePoints(request, timeout=TIMEOUT)))
    assert (code, fields) == (grpc.StatusCode.RESOURCE_EXHAUSTED, ["chunk_size"]) and "max_chunk_points" in message
    assert sum(len(c.x) for c in stub.ReadCurvePoints(pb.ReadCurvePointsRequest(id=ids[0], chunk_size=1000))) == 300
    x = np.arange(1.0, 1002.0)
    code, message, fields = failure(lambda: stub.UploadCurve(header_upload(pb.CurveHeader(), x, 1.0 + 1.0 / x)))
    assert (code, fields) == (grpc.StatusCode.RESOURCE_EXHAUSTED, ["chunk"]) and "max_chunk_points" in message
    with ScalingLawClient(limited.target, timeout=TIMEOUT) as client:
        assert len(client.list_curves()) == 3  # nothing stored


@pytest.mark.parametrize(
    ("header", "field", "setting"),
    [
        (pb.CurveHeader(name="n" * 33), "header.name", "max_name_bytes"),
        (pb.CurveHeader(study="é" * 17), "header.study", "max_name_bytes"),  # bytes, not characters
        (pb.CurveHeader(request_id="r" * 33), "header.request_id", "max_name_bytes"),
        (pb.CurveHeader(labels={"a": "1", "b": "2", "c": "3"}), "header.labels", "max_labels"),
        (pb.CurveHeader(labels={"k" * 33: "1"}), "header.labels", "max_name_bytes"),
        (pb.CurveHeader(labels={"big": "v" * 65}), "header.labels['big']", "max_label_bytes"),
    ],
)
def test_names_and_labels_are_capped(
    stub: pb_grpc.ScalingLawServiceStub, limited: RunningServer, header: pb.CurveHeader, field: str, setting: str
) -> None:
    code, message, fields = failure(lambda: stub.UploadCurve(header_upload(header), timeout=TIMEOUT))
    assert (code, fields) == (grpc.StatusCode.RESOURCE_EXHAUSTED, [field]) and setting in message
    assert len(stub.ListCurves(pb.ListCurvesRequest(), timeout=TIMEOUT).curves) == 0


def test_listing_pages_by_bytes_so_large_labels_never_make_a_reply_over_the_message_limit(tmp_path: Path) -> None:
    # 8 curves of ~200 KB labels against a 1 MiB message limit: the default page of 50 would be 1.6 MB
    running = start(tmp_path, max_message_bytes=2**20, max_label_bytes=2**20)
    try:
        with grpc.insecure_channel(running.target) as channel:
            stub = pb_grpc.ScalingLawServiceStub(channel)
            stored = [
                stub.UploadCurve(header_upload(pb.CurveHeader(name=f"c{i}", labels={"notes": "x" * 200_000}))).id
                for i in range(8)
            ]
            listed, token, pages = [], "", 0
            while True:
                reply = stub.ListCurves(pb.ListCurvesRequest(page_token=token), timeout=TIMEOUT)
                assert reply.ByteSize() <= 2**20
                listed += [c.id for c in reply.curves]
                pages += 1
                token = reply.next_page_token
                if not token:
                    break
            assert listed == stored and pages >= 2
    finally:
        running.stop()


def test_job_listing_pages_by_bytes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    try:
        made = [store.create_job(request_id="", study="s", spec={}, request=b"")[0].id for _ in range(5)]
        listed, token = [], ""
        while True:
            page, token = store.list_jobs(page_token=token, size_of=lambda job: 1000, max_bytes=2500)
            assert len(page) <= 2
            listed += [j.id for j in page]
            if not token:
                break
        assert listed == made
    finally:
        store.close()


def test_an_idle_upload_times_out_and_frees_its_slot(tmp_path: Path) -> None:
    running = start(tmp_path, max_concurrent_uploads=1, upload_idle_seconds=0.5)
    release = threading.Event()
    try:
        with grpc.insecure_channel(running.target) as channel:
            stub = pb_grpc.ScalingLawServiceStub(channel)

            def silent() -> Iterator[pb.UploadCurveRequest]:
                yield pb.UploadCurveRequest(header=pb.CurveHeader(name="idle", expected_points=300))
                release.wait(TIMEOUT)  # then nothing: the client holds the stream open

            code, message, _ = failure(lambda: stub.UploadCurve(silent(), timeout=TIMEOUT))
            release.set()
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "upload_idle_seconds" in message
            wait_until(lambda: running.parts.servicer.uploads.streams == 0)
            with ScalingLawClient(running.target, timeout=TIMEOUT) as client:
                assert client.upload_curve(X, LOSS).n_points == 300
                assert len(client.list_curves()) == 1
    finally:
        release.set()
        running.stop()


def test_reports_thin_long_curves_log_spaced() -> None:
    x = np.arange(1.0, 2_000_001.0)
    tx, tl = thin(x, 1.0 / x)
    assert tx.size <= 2000 and tx[0] == 1.0 and tx[-1] == 2e6
    assert np.all(np.diff(tx) > 0) and np.array_equal(tl, 1.0 / tx)
    assert np.array_equal(tx[:100], x[:100])  # the early steps keep every point
    ratios = tx[-100:] / tx[-101:-1]
    assert ratios.max() < 1.01  # the tail is sampled evenly in log x
    short = np.arange(1.0, 11.0)
    assert thin(short, short)[0] is short
