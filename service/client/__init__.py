"""The Python client: what a user imports to talk to a scalinglaw server. It needs neither torch,
fitting/ nor the server (tests/test_layout.py checks it).

    client.py       ScalingLawClient: uploads, fits, comparisons, backtests, plans, jobs, reports
    errors.py       the closed set of exceptions it raises, translated from gRPC in one place
    importers/      curves read from table files, TensorBoard event files and MLflow runs
    log_upload.py   a source's curves uploaded in turn; those stored deleted again if one fails

The reply models and their DataFrames are shared with the CLI and the server's HTML report
(service/models.py); every public name is importable from here.
"""

from service.client.client import ScalingLawClient
from service.client.errors import (
    AlreadyExists,
    ClientError,
    DuplicateCurveWarning,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    ServerError,
    Unauthenticated,
    Unavailable,
)
from service.models import (
    BacktestRowInfo,
    CandidateInfo,
    ComparisonInfo,
    CurveInfo,
    EstimateInfo,
    FitInfo,
    JobEventInfo,
    JobInfo,
    MeasuredInfo,
    backtest_frame,
    comparison_frame,
    curves_frame,
    fits_frame,
)
from service.plan_models import IsoFlopInfo, PlanInfo, PlanRowInfo, plan_frame

__all__ = [
    "AlreadyExists",
    "BacktestRowInfo",
    "CandidateInfo",
    "ClientError",
    "ComparisonInfo",
    "CurveInfo",
    "DuplicateCurveWarning",
    "EstimateInfo",
    "FailedPrecondition",
    "FitInfo",
    "InvalidArgument",
    "IsoFlopInfo",
    "JobEventInfo",
    "JobInfo",
    "MeasuredInfo",
    "NotFound",
    "PlanInfo",
    "PlanRowInfo",
    "ResourceExhausted",
    "ScalingLawClient",
    "ServerError",
    "Unauthenticated",
    "Unavailable",
    "backtest_frame",
    "comparison_frame",
    "curves_frame",
    "fits_frame",
    "plan_frame",
]
