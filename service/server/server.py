"""The grpc.aio server: a factory returning (server, port), one interceptor for request ids,
bearer-token auth and the error table, standard health and reflection."""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from fitting.errors import InvalidInputError
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from protos.scalinglaw.v1 import scalinglaw_pb2_grpc as pb_grpc
from service.server.errors import rpc_status_for, status_code_for
from service.server.jobs.base import JobExecutor
from service.server.jobs.factory import make_executor
from service.server.servicer import ScalingLawServicer
from service.server.store import Store, open_store
from service.settings import Settings
from service.wire import passthrough

logger = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ScalingLawService"].full_name
HEALTH_PREFIX = "/grpc.health.v1.Health/"  # never needs a token
REFLECTION_PREFIX = "/grpc.reflection."  # needs the token when one is set


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Request id (from "x-request-id" or new) in every log line; token check; domain errors to
    status codes with google.rpc details; unexpected errors logged with traceback, INTERNAL."""

    def __init__(self, token: str):
        self.token = token
        self._expected = f"Bearer {token}".encode()

    def _authorised(self, metadata: dict[str, Any]) -> bool:
        """The bearer token, compared in constant time (a timing difference must not reveal a prefix)."""
        given = metadata.get("authorization", "")
        return hmac.compare_digest(
            given.encode("utf-8", "surrogatepass") if isinstance(given, str) else b"", self._expected
        )

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]], details: Any
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        if handler is None or method.startswith(HEALTH_PREFIX):
            return handler  # health is open, always
        metadata = dict(details.invocation_metadata or ())
        if self.token and not self._authorised(metadata):
            return _refusal(handler)  # before a byte of the request is read
        if method.startswith(REFLECTION_PREFIX):
            # raises no domain errors, and its aio stream writes through context.write rather than
            # yielding, which the wrappers below expect
            return handler
        request_id = metadata.get("x-request-id") or uuid.uuid4().hex[:12]

        async def fail(context: Any, exc: Exception) -> None:
            code = status_code_for(exc)
            if code is grpc.StatusCode.INTERNAL:
                logger.exception("request %s %s failed", request_id, method)
            else:
                logger.info("request %s %s: %s %s", request_id, method, code.name, exc)
            status = rpc_status_for(exc)
            await context.abort(
                code, status.message, trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),)
            )

        # Requests arrive as bytes and are parsed here, so bytes that are not the method's message
        # get INVALID_ARGUMENT (grpc's own deserializer would answer INTERNAL).
        deserialize = handler.request_deserializer

        def parse(raw: bytes, index: int | None = None) -> Any:
            try:
                return deserialize(raw) if deserialize is not None else raw
            except DecodeError as exc:
                raise InvalidInputError(str(exc), field="request", index=index) from None

        async def parse_each(raws: AsyncIterator[bytes]) -> AsyncIterator[Any]:
            index = 0
            async for raw in raws:
                yield parse(raw, index)
                index += 1

        def read(request: Any) -> Any:
            return parse_each(request) if handler.request_streaming else parse(request)

        def unary(behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            async def wrapped(request: Any, context: Any) -> Any:
                try:
                    return await behaviour(read(request), context)
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:  # the one place errors become statuses
                    await fail(context, exc)

            return wrapped

        def streaming(behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
            async def wrapped(request: Any, context: Any) -> AsyncIterator[Any]:
                try:
                    async for item in behaviour(read(request), context):
                        yield item
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await fail(context, exc)

            return wrapped

        kinds: dict[str, tuple[Callable[[Any], Any], Callable[..., grpc.RpcMethodHandler]]] = {
            "unary_unary": (unary, grpc.unary_unary_rpc_method_handler),
            "stream_unary": (unary, grpc.stream_unary_rpc_method_handler),
            "unary_stream": (streaming, grpc.unary_stream_rpc_method_handler),
            "stream_stream": (streaming, grpc.stream_stream_rpc_method_handler),
        }
        for attr, (wrap, make) in kinds.items():
            behaviour = getattr(handler, attr)
            if behaviour is not None:
                return make(
                    wrap(behaviour),
                    request_deserializer=None,  # bytes through; `parse` above makes the message
                    response_serializer=passthrough(handler.response_serializer),  # pre-built chunks pass as bytes
                )
        return handler


def _refusal(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """UNAUTHENTICATED without reading the request. A handler that takes a request stream is
    started before any message is read (a unary one only once the whole message has arrived), so
    the refusal takes a stream and never reads it, whatever the method's own shape."""

    async def refuse(requests: Any, context: Any) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

    if handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    return grpc.stream_unary_rpc_method_handler(refuse)


@dataclass(frozen=True)
class ServerParts:
    """What a caller of create_server may need besides the server: health (to drain), jobs, the
    store, and the servicer (its upload slots say what open uploads hold)."""

    health: health.aio.HealthServicer
    executor: JobExecutor
    store: Store
    servicer: ScalingLawServicer

    async def close(self) -> None:
        await self.executor.stop()
        self.servicer.close()
        self.store.close()


async def create_server(settings: Settings, store: Store | None = None) -> tuple[grpc.aio.Server, int, ServerParts]:
    """A ready-to-start server bound to settings.host:settings.port (0 picks a free port)."""
    opened = store is None
    store = store or open_store(settings)
    executor = make_executor(settings, store)
    try:
        await executor.start()
    except BaseException:  # e.g. another live server with this replica id: nothing left open
        if opened:
            store.close()
        raise
    limits = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
    ]
    server = grpc.aio.server(interceptors=[ServiceInterceptor(settings.token)], options=limits)
    servicer = ScalingLawServicer(settings, store, executor)
    pb_grpc.add_ScalingLawServiceServicer_to_server(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    if settings.reflection:  # with a token set, only callers with the token may use it
        reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    address = f"{settings.host}:{settings.port}"
    if settings.tls_cert and settings.tls_key:
        credentials = grpc.ssl_server_credentials([(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())])
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    return server, port, ServerParts(health_servicer, executor, store, servicer)
