"""Domain errors shared by every layer of scalinglaw.

    ScalingLawError
     +-- InvalidInputError        bad field in a request (names the field and first bad index)
     |    +-- UnknownLawError     law name not registered and not a valid expression
     +-- FitImpossibleError       the data cannot support the fit (too few points)
     +-- NotFoundError            an id that does not exist
     +-- AlreadyExistsError       same request id, different content
     +-- LimitExceededError       over a configured size limit

fitting/ raises these; service/server/errors.py maps each to one gRPC status code.
"""

from __future__ import annotations


class ScalingLawError(Exception):
    """Base of every error scalinglaw raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None, index: int | None = None):
        self.message = message
        self.field = field
        self.index = index
        where = ""
        if field is not None:
            where = f"{field}[{index}]: " if index is not None else f"{field}: "
        super().__init__(where + message)


class InvalidInputError(ScalingLawError):
    """A request field is malformed; `field` and `index` say where."""


class UnknownLawError(InvalidInputError):
    """The law is neither registered nor a parseable expression."""


class FitImpossibleError(ScalingLawError):
    """The data cannot determine the law (e.g. fewer points than parameters + 1)."""


class NotFoundError(ScalingLawError):
    """An id that does not exist."""


class AlreadyExistsError(ScalingLawError):
    """A request id reused with different content."""


class LimitExceededError(ScalingLawError):
    """Over a configured point or size limit."""
