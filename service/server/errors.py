"""The one table from domain errors to gRPC status codes (docs/architecture.md, "Errors").

Domain code raises the errors of fitting.errors and never imports grpc; the server's interceptor
turns each into a google.rpc.Status through `rpc_status_for`, most specific class first.
Errors that name a field carry a google.rpc.BadRequest with one field violation
("curves[1].loss[5]"). MemoryError, wherever it arises, is RESOURCE_EXHAUSTED with a message of
ours. Anything else is INTERNAL, logged with its traceback by the caller, and
its reply says nothing about internals.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from fitting.errors import (
    AlreadyExistsError,
    FitImpossibleError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    ScalingLawError,
    UnknownLawError,
)

# most specific first
STATUS_TABLE: tuple[tuple[type[ScalingLawError], grpc.StatusCode], ...] = (
    (UnknownLawError, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidInputError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (FitImpossibleError, grpc.StatusCode.FAILED_PRECONDITION),
    (LimitExceededError, grpc.StatusCode.RESOURCE_EXHAUSTED),
)
INTERNAL_MESSAGE = "internal error; the server log has the details"


OUT_OF_MEMORY_MESSAGE = "the server ran out of memory for this request: ask for less (fewer points or resamples)"


def status_code_for(exc: BaseException) -> grpc.StatusCode:
    if isinstance(exc, MemoryError):  # anywhere in the server: the request was too big, not a bug
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    for kind, code in STATUS_TABLE:
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.INTERNAL


def field_path(exc: ScalingLawError) -> str:
    """'curves[1].loss[5]' from field 'curves[1].loss' and index 5."""
    if exc.field is None:
        return ""
    return exc.field if exc.index is None else f"{exc.field}[{exc.index}]"


def rpc_status_for(exc: BaseException) -> status_pb2.Status:
    """The google.rpc.Status a failed call returns."""
    code = status_code_for(exc)
    if isinstance(exc, MemoryError):
        return status_pb2.Status(code=code.value[0], message=OUT_OF_MEMORY_MESSAGE)
    if code is grpc.StatusCode.INTERNAL or not isinstance(exc, ScalingLawError):
        return status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message=INTERNAL_MESSAGE)
    status = status_pb2.Status(code=code.value[0], message=str(exc))
    if exc.field is not None:
        violation = error_details_pb2.BadRequest.FieldViolation(field=field_path(exc), description=exc.message)
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[violation]))
        status.details.append(detail)
    return status
