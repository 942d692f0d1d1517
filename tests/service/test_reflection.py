"""Server reflection as a generic client uses it (docs/clients.md): the service and its messages
learned from the server alone, then calls made from JSON, as `grpcurl -d '{...}'` makes them."""

from __future__ import annotations

import base64
import json

import grpc
import numpy as np
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from service.client import ScalingLawClient

from .conftest import RunningServer

SERVICE = "scalinglaw.v1.ScalingLawService"


def _call_from_json(channel: grpc.Channel, pool: descriptor_pool.DescriptorPool, method: str, body: str) -> dict:  # type: ignore[type-arg]
    """A unary call whose types come from reflection only: nothing generated from our proto."""
    described = pool.FindServiceByName(SERVICE).FindMethodByName(method)
    request_class = message_factory.GetMessageClass(described.input_type)
    reply_class = message_factory.GetMessageClass(described.output_type)
    call = channel.unary_unary(
        f"/{SERVICE}/{method}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=reply_class.FromString,
    )
    reply = call(json_format.Parse(body, request_class()), timeout=30)
    return json_format.MessageToDict(reply, preserving_proto_field_name=True)


def test_reflection_describes_the_service_and_json_calls_work(server: RunningServer) -> None:
    with grpc.insecure_channel(server.target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert SERVICE in database.get_services()  # `grpcurl -plaintext HOST:PORT list`
        pool = descriptor_pool.DescriptorPool(database)
        methods = {m.name for m in pool.FindServiceByName(SERVICE).methods}  # `grpcurl ... describe`
        assert {"UploadCurve", "ListCurves", "CompareCurves", "StartTraining", "WatchJob", "RenderReport"} <= methods
        # the calls docs/clients.md shows, with its JSON bodies
        listed = _call_from_json(channel, pool, "ListCurves", '{"study": "s", "page_size": 10}')
        assert listed == {}  # no curves yet: empty fields are left out of JSON
        jobs = _call_from_json(channel, pool, "ListJobs", '{"state": "JOB_STATE_RUNNING"}')
        assert jobs == {}
        health_pool = pool.FindServiceByName("grpc.health.v1.Health")
        assert health_pool.FindMethodByName("Check") is not None


def test_a_generic_client_gets_the_html_report_from_json(server: RunningServer) -> None:
    """The page is made on the server: a client in any language asks for REPORT_FORMAT_HTML and
    writes the bytes (docs/clients.md), with the speed-up table at its target losses."""
    x = np.arange(1.0, 301.0)
    with ScalingLawClient(server.target) as client:  # a client stream: simpler from Python
        base = client.upload_curve(x, 0.05 + (3e8 / x) ** 0.12, policy="conventional").id
        cand = client.upload_curve(x, 0.05 + (2e7 / x) ** 0.14, policy="near-optimal").id
    body = {
        "curves": {"baseline_id": base, "candidate_ids": [cand]}, "format": "REPORT_FORMAT_HTML",
        "options": {"x_min": 30, "bootstrap": 19}, "target_losses": [5.0],
    }  # fmt: skip
    with grpc.insecure_channel(server.target) as channel:
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        reply = _call_from_json(channel, pool, "RenderReport", json.dumps(body))
    assert reply["media_type"] == "text/html; charset=utf-8"
    page = base64.b64decode(reply["content"]).decode()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    for text in ("conventional", "near-optimal", "Speed-up at target loss", "<td>resamples</td><td>19</td>"):
        assert text in page, text
