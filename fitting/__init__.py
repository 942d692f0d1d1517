"""scalinglaw's fitting engine: laws, robust batched fits, acceleration and compression maths.

Pure numpy/scipy/lmfit; no torch, grpc, storage or environment.
"""

from fitting.batch import fit_batch
from fitting.errors import (
    AlreadyExistsError,
    FitImpossibleError,
    InvalidInputError,
    LimitExceededError,
    NotFoundError,
    ScalingLawError,
    UnknownLawError,
)
from fitting.expression import expression_law
from fitting.laws import LAWS, Law, Param, get_law
from fitting.result import Estimate, FitResult, FitStatus
from fitting.single import fit_curve

__all__ = [
    "LAWS",
    "AlreadyExistsError",
    "Estimate",
    "FitImpossibleError",
    "FitResult",
    "FitStatus",
    "InvalidInputError",
    "Law",
    "LimitExceededError",
    "NotFoundError",
    "Param",
    "ScalingLawError",
    "UnknownLawError",
    "expression_law",
    "fit_batch",
    "fit_curve",
    "get_law",
]
