"""What the client raises: a closed set of exceptions, translated from gRPC status codes in one place.

ClientError
 +-- InvalidArgument      (field_violations: ["curves[1].loss[5]: must be finite", ...])
 +-- NotFound
 +-- AlreadyExists
 +-- FailedPrecondition
 +-- ResourceExhausted
 +-- Unauthenticated
 +-- Unavailable          (after the retries of an idempotent call)
 +-- ServerError          (INTERNAL and anything else)
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


class ClientError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, field_violations: list[str] | None = None):
        self.code = code
        self.message = message
        self.field_violations = field_violations or []
        super().__init__(f"{code.name}: {message}")


class InvalidArgument(ClientError): ...


class NotFound(ClientError): ...


class AlreadyExists(ClientError): ...


class FailedPrecondition(ClientError): ...


class ResourceExhausted(ClientError): ...


class Unauthenticated(ClientError): ...


class Unavailable(ClientError): ...


class ServerError(ClientError): ...


class DuplicateCurveWarning(UserWarning):
    """upload_curve stored points its study already had (CurveInfo.duplicate_of names the curve)."""


_ERRORS: dict[grpc.StatusCode, type[ClientError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
}


def translate(err: grpc.RpcError) -> ClientError:
    """The one place grpc errors become client exceptions."""
    code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
    violations = []
    status = rpc_status.from_call(err) if isinstance(err, grpc.Call) else None
    for detail in status.details if status is not None else []:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            violations += [f"{v.field}: {v.description}" for v in bad.field_violations]
    details = err.details() if isinstance(err, grpc.Call) else str(err)
    return _ERRORS.get(code, ServerError)(code, details or "", violations)
