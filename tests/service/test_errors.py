"""One check per row of the error table (the server tests will call through a real channel)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from fitting import (
    AlreadyExistsError,
    FitImpossibleError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    UnknownLawError,
    fit_batch,
)
from service.server.errors import INTERNAL_MESSAGE, rpc_status_for, status_code_for


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInputError("curve is empty", field="loss"), grpc.StatusCode.INVALID_ARGUMENT),
        (UnknownLawError("unknown law 'x'", field="law"), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFoundError("no curve 'c-1'", field="id"), grpc.StatusCode.NOT_FOUND),
        (AlreadyExistsError("request_id reused", field="request_id"), grpc.StatusCode.ALREADY_EXISTS),
        (FitImpossibleError("2 points in range", field="loss"), grpc.StatusCode.FAILED_PRECONDITION),
        (LimitExceededError("over 10000000 points", field="chunk"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (RuntimeError("secret path /srv/x"), grpc.StatusCode.INTERNAL),
    ],
)
def test_each_row_of_the_table(error: Exception, code: grpc.StatusCode) -> None:
    assert status_code_for(error) is code
    status = rpc_status_for(error)
    assert status.code == code.value[0]
    if code is grpc.StatusCode.INTERNAL:
        assert status.message == INTERNAL_MESSAGE and "secret" not in str(status)


def test_bad_request_names_the_field_and_first_bad_index() -> None:
    with pytest.raises(InvalidInputError) as err:
        fit_batch([([1.0, 2.0, 3.0, 4.0], [3.0, 2.0, 1.5, 1.2]), ([1.0, 2.0, 3.0, 4.0], [3.0, float("nan"), 1.0, 1.0])])
    status = rpc_status_for(err.value)
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert bad.field_violations[0].field == "curves[1].loss[1]"
    assert "finite" in bad.field_violations[0].description
