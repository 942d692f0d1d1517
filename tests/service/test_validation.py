"""Bad configuration and out-of-range requests end as clear errors naming what is wrong, never as
INTERNAL or a silent fallback; the client retries only calls whose repeat is harmless."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent import futures
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from pydantic import ValidationError

from fitting import InvalidInputError
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service.client import InvalidArgument, ScalingLawClient, Unavailable
from service.server import convert
from service.server.store.records import JobRecord
from service.settings import Settings

from .conftest import RunningServer

# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "missing"), [("tls_cert", "SCALINGLAW_TLS_KEY"), ("tls_key", "SCALINGLAW_TLS_CERT")])
def test_half_a_tls_configuration_is_refused(tmp_path: Path, given: str, missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        Settings(data_dir=tmp_path, **{given: tmp_path / "x.pem"})


def test_half_a_tls_configuration_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALINGLAW_TLS_CERT", "cert.pem")
    monkeypatch.setenv("SCALINGLAW_TLS_KEY", "")  # empty is unset, not Path(".")
    with pytest.raises(ValidationError, match="SCALINGLAW_TLS_KEY is not"):
        Settings()


# -- requests over a real channel ----------------------------------------------------------------


@pytest.fixture
def stub(server: RunningServer) -> Iterator[pb_grpc.ScalingLawServiceStub]:
    with grpc.insecure_channel(server.target) as channel:
        yield pb_grpc.ScalingLawServiceStub(channel)


def invalid_field(call: Callable[[], Any]) -> str:
    """The field an INVALID_ARGUMENT reply names."""
    with pytest.raises(grpc.RpcError) as err:
        call()
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    bad = error_details_pb2.BadRequest()
    assert rpc_status.from_call(err.value).details[0].Unpack(bad)
    return str(bad.field_violations[0].field)


def test_unknown_enum_values_are_invalid_argument(stub: pb_grpc.ScalingLawServiceStub) -> None:
    """Proto3 enums are open: any number arrives, and one we do not know is the caller's mistake."""
    perceptron = {"task": pb.TASK_PERCEPTRON, "request_id": "r"}
    cases = [
        (lambda: stub.StartTraining(pb.StartTrainingRequest(**perceptron, device=99)), "device"),
        (
            lambda: stub.StartTraining(pb.StartTrainingRequest(**perceptron, search=pb.SearchConfig(optimizer=99))),
            "search.optimizer",
        ),
        (lambda: stub.StartTraining(pb.StartTrainingRequest(task=99)), "task"),
        (lambda: stub.ListJobs(pb.ListJobsRequest(state=99)), "state"),
        (
            lambda: stub.FitCurves(pb.FitCurvesRequest(curve_ids=["c-1"], options=pb.FitOptions(method=7))),
            "options.method",
        ),
    ]
    for call, field in cases:
        assert invalid_field(call) == field


def test_report_format_outside_the_enum_is_invalid_input() -> None:
    assert convert.report_format(pb.REPORT_FORMAT_UNSPECIFIED) == "png"
    assert convert.report_format(pb.REPORT_FORMAT_SVG) == "svg"
    assert convert.report_format(pb.REPORT_FORMAT_HTML) == "html"
    with pytest.raises(InvalidInputError) as err:
        convert.report_format(9)
    assert err.value.field == "format" and "REPORT_FORMAT_SVG" in err.value.message


def test_vocab_size_must_fit_a_32_bit_column(client: ScalingLawClient) -> None:
    """PostgreSQL keeps vocab_size as INTEGER; a larger one is refused on every store alike."""
    x, loss = np.arange(1.0, 6.0), [5.0, 4.0, 3.0, 2.5, 2.2]
    with pytest.raises(InvalidArgument) as err:
        client.upload_curve(x, loss, vocab_size=2**31)
    assert err.value.field_violations[0].startswith("header.vocab_size:")
    assert client.upload_curve(x, loss, vocab_size=2**31 - 1).vocab_size == 2**31 - 1


def test_a_missing_column_is_invalid_argument_before_any_call(client: ScalingLawClient) -> None:
    frame = pd.DataFrame({"time": [1.0, 2.0], "loss": [2.0, 1.0]})
    with pytest.raises(InvalidArgument) as err:
        client.upload_curve(frame)
    assert err.value.field_violations == ["x_col: no column 'step'"]
    with pytest.raises(InvalidArgument, match="'val'"):
        client.upload_curve(frame, x_col="time", loss_col="val")
    with pytest.raises(InvalidArgument) as err:
        client.upload_curve(pd.DataFrame({"step": [1.0, 2.0], "loss": ["a", "b"]}))
    assert err.value.field_violations == ["loss: must be numbers"]


# -- conversions ---------------------------------------------------------------------------------


def test_a_well_learned_share_of_zero_is_zero_not_nan() -> None:
    summary = {
        "sim_conventional": 0.4, "sim_optimal": 0.6, "zero_weight_fraction_optimal": 0.1,
        "well_learned_share_optimal": 0.0,
    }  # fmt: skip
    now = datetime.now(UTC)
    job = JobRecord(
        id="j-1", request_id="r", study="", spec={}, request=b"", state="SUCCEEDED", progress=1.0, message="",
        error="", result={"curve_ids": {}, "summary": summary}, created_at=now, started_at=now, finished_at=now,
    )  # fmt: skip
    law = convert.job_to_pb(job).result.optimal_law
    assert law.well_learned_share == 0.0 and not math.isnan(law.well_learned_share)


# -- client retries ------------------------------------------------------------------------------


class Unreachable(grpc.GenericRpcHandler):
    """Answers every call UNAVAILABLE, as a restarting server does, counting the calls by method."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method.rsplit("/", 1)[-1]

        def refuse(request: Any, context: grpc.ServicerContext) -> None:
            self.calls[method] += 1
            context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")

        if method == "UploadCurve":
            return grpc.stream_unary_rpc_method_handler(refuse)
        return grpc.unary_unary_rpc_method_handler(refuse)


def test_only_calls_safe_to_repeat_are_retried() -> None:
    handler = Unreachable()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with ScalingLawClient(f"127.0.0.1:{port}", retries=1, timeout=10) as client:
            calls: list[Callable[[], Any]] = [
                lambda: client.delete_curve("c-1"),  # a repeat after a lost reply would say NotFound
                lambda: client.fit(["c-1"]),  # a repeat would store the fits twice
                lambda: client.get_curve("c-1"),
                lambda: client.upload_curve([1.0, 2.0], [2.0, 1.0]),  # same request id: the original
                lambda: client.start_training("perceptron"),  # likewise
            ]
            for call in calls:
                with pytest.raises(Unavailable):
                    call()
    finally:
        server.stop(grace=None)
    assert handler.calls == {"DeleteCurve": 1, "FitCurves": 1, "GetCurve": 2, "UploadCurve": 2, "StartTraining": 2}
