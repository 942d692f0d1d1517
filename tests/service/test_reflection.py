"""Server reflection as a generic client uses it (docs/clients.md): the service and its messages
learned from the server alone, then calls made from JSON, as `grpcurl -d '{...}'` makes them."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

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
