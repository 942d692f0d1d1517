import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FitMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIT_METHOD_UNSPECIFIED: _ClassVar[FitMethod]
    FIT_METHOD_ROBUST: _ClassVar[FitMethod]
    FIT_METHOD_PAPER: _ClassVar[FitMethod]

class FitStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIT_STATUS_UNSPECIFIED: _ClassVar[FitStatus]
    FIT_STATUS_CONVERGED: _ClassVar[FitStatus]
    FIT_STATUS_NOT_CONVERGED: _ClassVar[FitStatus]
    FIT_STATUS_UNIDENTIFIABLE: _ClassVar[FitStatus]

class Reach(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REACH_UNSPECIFIED: _ClassVar[Reach]
    REACH_MEASURED: _ClassVar[Reach]
    REACH_NEVER: _ClassVar[Reach]
    REACH_BEFORE_FIRST_POINT: _ClassVar[Reach]
    REACH_OUTSIDE_RANGE: _ClassVar[Reach]

class Task(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_UNSPECIFIED: _ClassVar[Task]
    TASK_PERCEPTRON: _ClassVar[Task]
    TASK_TRANSFORMER_LM: _ClassVar[Task]

class Device(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_UNSPECIFIED: _ClassVar[Device]
    DEVICE_AUTO: _ClassVar[Device]
    DEVICE_CPU: _ClassVar[Device]
    DEVICE_CUDA: _ClassVar[Device]

class Optimizer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPTIMIZER_UNSPECIFIED: _ClassVar[Optimizer]
    OPTIMIZER_SGD: _ClassVar[Optimizer]
    OPTIMIZER_NORMALIZED: _ClassVar[Optimizer]
    OPTIMIZER_EG: _ClassVar[Optimizer]
    OPTIMIZER_ROWWISE: _ClassVar[Optimizer]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]

class ReportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_FORMAT_UNSPECIFIED: _ClassVar[ReportFormat]
    REPORT_FORMAT_PNG: _ClassVar[ReportFormat]
    REPORT_FORMAT_SVG: _ClassVar[ReportFormat]
    REPORT_FORMAT_PDF: _ClassVar[ReportFormat]
    REPORT_FORMAT_HTML: _ClassVar[ReportFormat]
FIT_METHOD_UNSPECIFIED: FitMethod
FIT_METHOD_ROBUST: FitMethod
FIT_METHOD_PAPER: FitMethod
FIT_STATUS_UNSPECIFIED: FitStatus
FIT_STATUS_CONVERGED: FitStatus
FIT_STATUS_NOT_CONVERGED: FitStatus
FIT_STATUS_UNIDENTIFIABLE: FitStatus
REACH_UNSPECIFIED: Reach
REACH_MEASURED: Reach
REACH_NEVER: Reach
REACH_BEFORE_FIRST_POINT: Reach
REACH_OUTSIDE_RANGE: Reach
TASK_UNSPECIFIED: Task
TASK_PERCEPTRON: Task
TASK_TRANSFORMER_LM: Task
DEVICE_UNSPECIFIED: Device
DEVICE_AUTO: Device
DEVICE_CPU: Device
DEVICE_CUDA: Device
OPTIMIZER_UNSPECIFIED: Optimizer
OPTIMIZER_SGD: Optimizer
OPTIMIZER_NORMALIZED: Optimizer
OPTIMIZER_EG: Optimizer
OPTIMIZER_ROWWISE: Optimizer
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
REPORT_FORMAT_UNSPECIFIED: ReportFormat
REPORT_FORMAT_PNG: ReportFormat
REPORT_FORMAT_SVG: ReportFormat
REPORT_FORMAT_PDF: ReportFormat
REPORT_FORMAT_HTML: ReportFormat

class CurveHeader(_message.Message):
    __slots__ = ("name", "policy", "study", "split", "vocab_size", "x_unit", "tokens_per_step", "request_id", "extra_columns", "labels", "expected_points", "skip_duplicate")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    STUDY_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    X_UNIT_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_STEP_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EXTRA_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_POINTS_FIELD_NUMBER: _ClassVar[int]
    SKIP_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    policy: str
    study: str
    split: str
    vocab_size: int
    x_unit: str
    tokens_per_step: float
    request_id: str
    extra_columns: _containers.RepeatedScalarFieldContainer[str]
    labels: _containers.ScalarMap[str, str]
    expected_points: int
    skip_duplicate: bool
    def __init__(self, name: _Optional[str] = ..., policy: _Optional[str] = ..., study: _Optional[str] = ..., split: _Optional[str] = ..., vocab_size: _Optional[int] = ..., x_unit: _Optional[str] = ..., tokens_per_step: _Optional[float] = ..., request_id: _Optional[str] = ..., extra_columns: _Optional[_Iterable[str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., expected_points: _Optional[int] = ..., skip_duplicate: _Optional[bool] = ...) -> None: ...

class NamedColumn(_message.Message):
    __slots__ = ("name", "values")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class PointsChunk(_message.Message):
    __slots__ = ("x", "loss", "columns")
    X_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    x: _containers.RepeatedScalarFieldContainer[float]
    loss: _containers.RepeatedScalarFieldContainer[float]
    columns: _containers.RepeatedCompositeFieldContainer[NamedColumn]
    def __init__(self, x: _Optional[_Iterable[float]] = ..., loss: _Optional[_Iterable[float]] = ..., columns: _Optional[_Iterable[_Union[NamedColumn, _Mapping]]] = ...) -> None: ...

class UploadCurveRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: CurveHeader
    chunk: PointsChunk
    def __init__(self, header: _Optional[_Union[CurveHeader, _Mapping]] = ..., chunk: _Optional[_Union[PointsChunk, _Mapping]] = ...) -> None: ...

class Curve(_message.Message):
    __slots__ = ("id", "header", "n_points", "x_first", "x_last", "loss_last", "sha256", "created_at", "duplicate_of", "skipped")
    ID_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    N_POINTS_FIELD_NUMBER: _ClassVar[int]
    X_FIRST_FIELD_NUMBER: _ClassVar[int]
    X_LAST_FIELD_NUMBER: _ClassVar[int]
    LOSS_LAST_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_OF_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    id: str
    header: CurveHeader
    n_points: int
    x_first: float
    x_last: float
    loss_last: float
    sha256: str
    created_at: _timestamp_pb2.Timestamp
    duplicate_of: str
    skipped: bool
    def __init__(self, id: _Optional[str] = ..., header: _Optional[_Union[CurveHeader, _Mapping]] = ..., n_points: _Optional[int] = ..., x_first: _Optional[float] = ..., x_last: _Optional[float] = ..., loss_last: _Optional[float] = ..., sha256: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duplicate_of: _Optional[str] = ..., skipped: _Optional[bool] = ...) -> None: ...

class GetCurveRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListCurvesRequest(_message.Message):
    __slots__ = ("study", "policy", "page_size", "page_token")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    study: str
    policy: str
    page_size: int
    page_token: str
    def __init__(self, study: _Optional[str] = ..., policy: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCurvesResponse(_message.Message):
    __slots__ = ("curves", "next_page_token")
    CURVES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    curves: _containers.RepeatedCompositeFieldContainer[Curve]
    next_page_token: str
    def __init__(self, curves: _Optional[_Iterable[_Union[Curve, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteCurveRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteCurveResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReadCurvePointsRequest(_message.Message):
    __slots__ = ("id", "chunk_size")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    id: str
    chunk_size: int
    def __init__(self, id: _Optional[str] = ..., chunk_size: _Optional[int] = ...) -> None: ...

class Interval(_message.Message):
    __slots__ = ("low", "high")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ...) -> None: ...

class Estimate(_message.Message):
    __slots__ = ("value", "low", "high", "has_interval")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    HAS_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    value: float
    low: float
    high: float
    has_interval: bool
    def __init__(self, value: _Optional[float] = ..., low: _Optional[float] = ..., high: _Optional[float] = ..., has_interval: _Optional[bool] = ...) -> None: ...

class FitOptions(_message.Message):
    __slots__ = ("law", "x_min", "x_max", "shared", "fixed", "method", "loss_fn", "delta", "bootstrap", "seed", "bounds", "starts")
    class FixedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class BoundsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Interval
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Interval, _Mapping]] = ...) -> None: ...
    class StartsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LAW_FIELD_NUMBER: _ClassVar[int]
    X_MIN_FIELD_NUMBER: _ClassVar[int]
    X_MAX_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    FIXED_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LOSS_FN_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    BOUNDS_FIELD_NUMBER: _ClassVar[int]
    STARTS_FIELD_NUMBER: _ClassVar[int]
    law: str
    x_min: float
    x_max: float
    shared: _containers.RepeatedScalarFieldContainer[str]
    fixed: _containers.ScalarMap[str, float]
    method: FitMethod
    loss_fn: str
    delta: float
    bootstrap: int
    seed: int
    bounds: _containers.MessageMap[str, Interval]
    starts: _containers.ScalarMap[str, float]
    def __init__(self, law: _Optional[str] = ..., x_min: _Optional[float] = ..., x_max: _Optional[float] = ..., shared: _Optional[_Iterable[str]] = ..., fixed: _Optional[_Mapping[str, float]] = ..., method: _Optional[_Union[FitMethod, str]] = ..., loss_fn: _Optional[str] = ..., delta: _Optional[float] = ..., bootstrap: _Optional[int] = ..., seed: _Optional[int] = ..., bounds: _Optional[_Mapping[str, Interval]] = ..., starts: _Optional[_Mapping[str, float]] = ...) -> None: ...

class FitResult(_message.Message):
    __slots__ = ("id", "curve_id", "law", "params", "stderr", "ci", "r2", "rmse", "n_points", "x_range", "status", "message", "nfev", "method", "ci_method", "shared", "fixed", "n_bootstrap", "n_left_out", "param_names", "formula", "verdict")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class StderrEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class CiEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Interval
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Interval, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    CURVE_ID_FIELD_NUMBER: _ClassVar[int]
    LAW_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    CI_FIELD_NUMBER: _ClassVar[int]
    R2_FIELD_NUMBER: _ClassVar[int]
    RMSE_FIELD_NUMBER: _ClassVar[int]
    N_POINTS_FIELD_NUMBER: _ClassVar[int]
    X_RANGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NFEV_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CI_METHOD_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    FIXED_FIELD_NUMBER: _ClassVar[int]
    N_BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    N_LEFT_OUT_FIELD_NUMBER: _ClassVar[int]
    PARAM_NAMES_FIELD_NUMBER: _ClassVar[int]
    FORMULA_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    id: str
    curve_id: str
    law: str
    params: _containers.ScalarMap[str, float]
    stderr: _containers.ScalarMap[str, float]
    ci: _containers.MessageMap[str, Interval]
    r2: float
    rmse: float
    n_points: int
    x_range: Interval
    status: FitStatus
    message: str
    nfev: int
    method: FitMethod
    ci_method: str
    shared: _containers.RepeatedScalarFieldContainer[str]
    fixed: _containers.RepeatedScalarFieldContainer[str]
    n_bootstrap: int
    n_left_out: int
    param_names: _containers.RepeatedScalarFieldContainer[str]
    formula: str
    verdict: Verdict
    def __init__(self, id: _Optional[str] = ..., curve_id: _Optional[str] = ..., law: _Optional[str] = ..., params: _Optional[_Mapping[str, float]] = ..., stderr: _Optional[_Mapping[str, float]] = ..., ci: _Optional[_Mapping[str, Interval]] = ..., r2: _Optional[float] = ..., rmse: _Optional[float] = ..., n_points: _Optional[int] = ..., x_range: _Optional[_Union[Interval, _Mapping]] = ..., status: _Optional[_Union[FitStatus, str]] = ..., message: _Optional[str] = ..., nfev: _Optional[int] = ..., method: _Optional[_Union[FitMethod, str]] = ..., ci_method: _Optional[str] = ..., shared: _Optional[_Iterable[str]] = ..., fixed: _Optional[_Iterable[str]] = ..., n_bootstrap: _Optional[int] = ..., n_left_out: _Optional[int] = ..., param_names: _Optional[_Iterable[str]] = ..., formula: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, _Mapping]] = ...) -> None: ...

class Verdict(_message.Message):
    __slots__ = ("judged", "good", "reason", "r2", "systematic", "lag1", "runs_z")
    JUDGED_FIELD_NUMBER: _ClassVar[int]
    GOOD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    R2_FIELD_NUMBER: _ClassVar[int]
    SYSTEMATIC_FIELD_NUMBER: _ClassVar[int]
    LAG1_FIELD_NUMBER: _ClassVar[int]
    RUNS_Z_FIELD_NUMBER: _ClassVar[int]
    judged: bool
    good: bool
    reason: str
    r2: float
    systematic: float
    lag1: float
    runs_z: float
    def __init__(self, judged: _Optional[bool] = ..., good: _Optional[bool] = ..., reason: _Optional[str] = ..., r2: _Optional[float] = ..., systematic: _Optional[float] = ..., lag1: _Optional[float] = ..., runs_z: _Optional[float] = ...) -> None: ...

class FitCurvesRequest(_message.Message):
    __slots__ = ("curve_ids", "options")
    CURVE_IDS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    curve_ids: _containers.RepeatedScalarFieldContainer[str]
    options: FitOptions
    def __init__(self, curve_ids: _Optional[_Iterable[str]] = ..., options: _Optional[_Union[FitOptions, _Mapping]] = ...) -> None: ...

class FitCurvesResponse(_message.Message):
    __slots__ = ("fits",)
    FITS_FIELD_NUMBER: _ClassVar[int]
    fits: _containers.RepeatedCompositeFieldContainer[FitResult]
    def __init__(self, fits: _Optional[_Iterable[_Union[FitResult, _Mapping]]] = ...) -> None: ...

class ListFitsRequest(_message.Message):
    __slots__ = ("curve_id",)
    CURVE_ID_FIELD_NUMBER: _ClassVar[int]
    curve_id: str
    def __init__(self, curve_id: _Optional[str] = ...) -> None: ...

class ListFitsResponse(_message.Message):
    __slots__ = ("fits",)
    FITS_FIELD_NUMBER: _ClassVar[int]
    fits: _containers.RepeatedCompositeFieldContainer[FitResult]
    def __init__(self, fits: _Optional[_Iterable[_Union[FitResult, _Mapping]]] = ...) -> None: ...

class CurveMetrics(_message.Message):
    __slots__ = ("curve_id", "auc", "cr", "cr_units")
    CURVE_ID_FIELD_NUMBER: _ClassVar[int]
    AUC_FIELD_NUMBER: _ClassVar[int]
    CR_FIELD_NUMBER: _ClassVar[int]
    CR_UNITS_FIELD_NUMBER: _ClassVar[int]
    curve_id: str
    auc: float
    cr: float
    cr_units: str
    def __init__(self, curve_id: _Optional[str] = ..., auc: _Optional[float] = ..., cr: _Optional[float] = ..., cr_units: _Optional[str] = ...) -> None: ...

class MeasuredRatio(_message.Message):
    __slots__ = ("estimate", "reach", "bound")
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    REACH_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    estimate: Estimate
    reach: Reach
    bound: float
    def __init__(self, estimate: _Optional[_Union[Estimate, _Mapping]] = ..., reach: _Optional[_Union[Reach, str]] = ..., bound: _Optional[float] = ...) -> None: ...

class HorizonAcceleration(_message.Message):
    __slots__ = ("horizon", "ar_fit", "ar_empirical", "ar_measured")
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    AR_FIT_FIELD_NUMBER: _ClassVar[int]
    AR_EMPIRICAL_FIELD_NUMBER: _ClassVar[int]
    AR_MEASURED_FIELD_NUMBER: _ClassVar[int]
    horizon: float
    ar_fit: Estimate
    ar_empirical: float
    ar_measured: MeasuredRatio
    def __init__(self, horizon: _Optional[float] = ..., ar_fit: _Optional[_Union[Estimate, _Mapping]] = ..., ar_empirical: _Optional[float] = ..., ar_measured: _Optional[_Union[MeasuredRatio, _Mapping]] = ...) -> None: ...

class SpeedUp(_message.Message):
    __slots__ = ("target_loss", "speedup", "measured")
    TARGET_LOSS_FIELD_NUMBER: _ClassVar[int]
    SPEEDUP_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIELD_NUMBER: _ClassVar[int]
    target_loss: float
    speedup: Estimate
    measured: MeasuredRatio
    def __init__(self, target_loss: _Optional[float] = ..., speedup: _Optional[_Union[Estimate, _Mapping]] = ..., measured: _Optional[_Union[MeasuredRatio, _Mapping]] = ...) -> None: ...

class CandidateComparison(_message.Message):
    __slots__ = ("curve_id", "fit", "accelerations", "speedups", "b_improvement", "beta_improvement", "metrics", "verdict")
    CURVE_ID_FIELD_NUMBER: _ClassVar[int]
    FIT_FIELD_NUMBER: _ClassVar[int]
    ACCELERATIONS_FIELD_NUMBER: _ClassVar[int]
    SPEEDUPS_FIELD_NUMBER: _ClassVar[int]
    B_IMPROVEMENT_FIELD_NUMBER: _ClassVar[int]
    BETA_IMPROVEMENT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    curve_id: str
    fit: FitResult
    accelerations: _containers.RepeatedCompositeFieldContainer[HorizonAcceleration]
    speedups: _containers.RepeatedCompositeFieldContainer[SpeedUp]
    b_improvement: Estimate
    beta_improvement: Estimate
    metrics: CurveMetrics
    verdict: Verdict
    def __init__(self, curve_id: _Optional[str] = ..., fit: _Optional[_Union[FitResult, _Mapping]] = ..., accelerations: _Optional[_Iterable[_Union[HorizonAcceleration, _Mapping]]] = ..., speedups: _Optional[_Iterable[_Union[SpeedUp, _Mapping]]] = ..., b_improvement: _Optional[_Union[Estimate, _Mapping]] = ..., beta_improvement: _Optional[_Union[Estimate, _Mapping]] = ..., metrics: _Optional[_Union[CurveMetrics, _Mapping]] = ..., verdict: _Optional[_Union[Verdict, _Mapping]] = ...) -> None: ...

class CompareCurvesRequest(_message.Message):
    __slots__ = ("baseline_id", "candidate_ids", "options", "horizons", "target_losses", "share_nothing")
    BASELINE_ID_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_IDS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    HORIZONS_FIELD_NUMBER: _ClassVar[int]
    TARGET_LOSSES_FIELD_NUMBER: _ClassVar[int]
    SHARE_NOTHING_FIELD_NUMBER: _ClassVar[int]
    baseline_id: str
    candidate_ids: _containers.RepeatedScalarFieldContainer[str]
    options: FitOptions
    horizons: _containers.RepeatedScalarFieldContainer[float]
    target_losses: _containers.RepeatedScalarFieldContainer[float]
    share_nothing: bool
    def __init__(self, baseline_id: _Optional[str] = ..., candidate_ids: _Optional[_Iterable[str]] = ..., options: _Optional[_Union[FitOptions, _Mapping]] = ..., horizons: _Optional[_Iterable[float]] = ..., target_losses: _Optional[_Iterable[float]] = ..., share_nothing: _Optional[bool] = ...) -> None: ...

class Comparison(_message.Message):
    __slots__ = ("baseline_id", "baseline_fit", "baseline_metrics", "candidates", "shared_floor")
    BASELINE_ID_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_METRICS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    SHARED_FLOOR_FIELD_NUMBER: _ClassVar[int]
    baseline_id: str
    baseline_fit: FitResult
    baseline_metrics: CurveMetrics
    candidates: _containers.RepeatedCompositeFieldContainer[CandidateComparison]
    shared_floor: SharedFloorTest
    def __init__(self, baseline_id: _Optional[str] = ..., baseline_fit: _Optional[_Union[FitResult, _Mapping]] = ..., baseline_metrics: _Optional[_Union[CurveMetrics, _Mapping]] = ..., candidates: _Optional[_Iterable[_Union[CandidateComparison, _Mapping]]] = ..., shared_floor: _Optional[_Union[SharedFloorTest, _Mapping]] = ...) -> None: ...

class SharedFloorTest(_message.Message):
    __slots__ = ("tested", "shared", "delta_aic", "reason")
    TESTED_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    DELTA_AIC_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    tested: bool
    shared: _containers.RepeatedScalarFieldContainer[str]
    delta_aic: float
    reason: str
    def __init__(self, tested: _Optional[bool] = ..., shared: _Optional[_Iterable[str]] = ..., delta_aic: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class PerceptronConfig(_message.Message):
    __slots__ = ("dim", "train_size", "desired_size", "test_size", "train_var", "target_shift", "label_noise", "teacher_shift_cos")
    DIM_FIELD_NUMBER: _ClassVar[int]
    TRAIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    DESIRED_SIZE_FIELD_NUMBER: _ClassVar[int]
    TEST_SIZE_FIELD_NUMBER: _ClassVar[int]
    TRAIN_VAR_FIELD_NUMBER: _ClassVar[int]
    TARGET_SHIFT_FIELD_NUMBER: _ClassVar[int]
    LABEL_NOISE_FIELD_NUMBER: _ClassVar[int]
    TEACHER_SHIFT_COS_FIELD_NUMBER: _ClassVar[int]
    dim: int
    train_size: int
    desired_size: int
    test_size: int
    train_var: float
    target_shift: float
    label_noise: float
    teacher_shift_cos: float
    def __init__(self, dim: _Optional[int] = ..., train_size: _Optional[int] = ..., desired_size: _Optional[int] = ..., test_size: _Optional[int] = ..., train_var: _Optional[float] = ..., target_shift: _Optional[float] = ..., label_noise: _Optional[float] = ..., teacher_shift_cos: _Optional[float] = ...) -> None: ...

class TransformerConfig(_message.Message):
    __slots__ = ("n_layers", "d_model", "n_heads", "context", "vocab_size", "train_size", "desired_size", "test_size", "perturb_share", "perturb_ops", "corpus", "micro_batch")
    N_LAYERS_FIELD_NUMBER: _ClassVar[int]
    D_MODEL_FIELD_NUMBER: _ClassVar[int]
    N_HEADS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    TRAIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    DESIRED_SIZE_FIELD_NUMBER: _ClassVar[int]
    TEST_SIZE_FIELD_NUMBER: _ClassVar[int]
    PERTURB_SHARE_FIELD_NUMBER: _ClassVar[int]
    PERTURB_OPS_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    MICRO_BATCH_FIELD_NUMBER: _ClassVar[int]
    n_layers: int
    d_model: int
    n_heads: int
    context: int
    vocab_size: int
    train_size: int
    desired_size: int
    test_size: int
    perturb_share: float
    perturb_ops: int
    corpus: str
    micro_batch: int
    def __init__(self, n_layers: _Optional[int] = ..., d_model: _Optional[int] = ..., n_heads: _Optional[int] = ..., context: _Optional[int] = ..., vocab_size: _Optional[int] = ..., train_size: _Optional[int] = ..., desired_size: _Optional[int] = ..., test_size: _Optional[int] = ..., perturb_share: _Optional[float] = ..., perturb_ops: _Optional[int] = ..., corpus: _Optional[str] = ..., micro_batch: _Optional[int] = ...) -> None: ...

class SearchConfig(_message.Message):
    __slots__ = ("outer_iters", "outer_lr", "optimizer", "holdout", "policy_blocks", "checkpoint_every", "warmup", "law_checkpoints", "extend_steps", "agreement_splits")
    OUTER_ITERS_FIELD_NUMBER: _ClassVar[int]
    OUTER_LR_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    POLICY_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_EVERY_FIELD_NUMBER: _ClassVar[int]
    WARMUP_FIELD_NUMBER: _ClassVar[int]
    LAW_CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    EXTEND_STEPS_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_SPLITS_FIELD_NUMBER: _ClassVar[int]
    outer_iters: int
    outer_lr: float
    optimizer: Optimizer
    holdout: float
    policy_blocks: int
    checkpoint_every: int
    warmup: int
    law_checkpoints: int
    extend_steps: int
    agreement_splits: int
    def __init__(self, outer_iters: _Optional[int] = ..., outer_lr: _Optional[float] = ..., optimizer: _Optional[_Union[Optimizer, str]] = ..., holdout: _Optional[float] = ..., policy_blocks: _Optional[int] = ..., checkpoint_every: _Optional[int] = ..., warmup: _Optional[int] = ..., law_checkpoints: _Optional[int] = ..., extend_steps: _Optional[int] = ..., agreement_splits: _Optional[int] = ...) -> None: ...

class StartTrainingRequest(_message.Message):
    __slots__ = ("task", "steps", "eta", "perceptron", "transformer", "search", "device", "seed", "bootstrap", "study", "request_id", "preset", "lr_schedule")
    TASK_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ETA_FIELD_NUMBER: _ClassVar[int]
    PERCEPTRON_FIELD_NUMBER: _ClassVar[int]
    TRANSFORMER_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    STUDY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    LR_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    task: Task
    steps: int
    eta: float
    perceptron: PerceptronConfig
    transformer: TransformerConfig
    search: SearchConfig
    device: Device
    seed: int
    bootstrap: int
    study: str
    request_id: str
    preset: str
    lr_schedule: str
    def __init__(self, task: _Optional[_Union[Task, str]] = ..., steps: _Optional[int] = ..., eta: _Optional[float] = ..., perceptron: _Optional[_Union[PerceptronConfig, _Mapping]] = ..., transformer: _Optional[_Union[TransformerConfig, _Mapping]] = ..., search: _Optional[_Union[SearchConfig, _Mapping]] = ..., device: _Optional[_Union[Device, str]] = ..., seed: _Optional[int] = ..., bootstrap: _Optional[int] = ..., study: _Optional[str] = ..., request_id: _Optional[str] = ..., preset: _Optional[str] = ..., lr_schedule: _Optional[str] = ...) -> None: ...

class LearningLawStats(_message.Message):
    __slots__ = ("sim", "zero_weight_fraction", "well_learned_share", "zero_weight_fraction_positive", "nonpositive_weight")
    SIM_FIELD_NUMBER: _ClassVar[int]
    ZERO_WEIGHT_FRACTION_FIELD_NUMBER: _ClassVar[int]
    WELL_LEARNED_SHARE_FIELD_NUMBER: _ClassVar[int]
    ZERO_WEIGHT_FRACTION_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NONPOSITIVE_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    sim: float
    zero_weight_fraction: float
    well_learned_share: float
    zero_weight_fraction_positive: float
    nonpositive_weight: float
    def __init__(self, sim: _Optional[float] = ..., zero_weight_fraction: _Optional[float] = ..., well_learned_share: _Optional[float] = ..., zero_weight_fraction_positive: _Optional[float] = ..., nonpositive_weight: _Optional[float] = ...) -> None: ...

class OuterIteration(_message.Message):
    __slots__ = ("iteration", "j_desired", "j_holdout", "j_test", "lr", "seconds", "kept_share")
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    J_DESIRED_FIELD_NUMBER: _ClassVar[int]
    J_HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    J_TEST_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    KEPT_SHARE_FIELD_NUMBER: _ClassVar[int]
    iteration: int
    j_desired: float
    j_holdout: float
    j_test: float
    lr: float
    seconds: float
    kept_share: float
    def __init__(self, iteration: _Optional[int] = ..., j_desired: _Optional[float] = ..., j_holdout: _Optional[float] = ..., j_test: _Optional[float] = ..., lr: _Optional[float] = ..., seconds: _Optional[float] = ..., kept_share: _Optional[float] = ...) -> None: ...

class JobResult(_message.Message):
    __slots__ = ("curve_ids", "comparison", "conventional_law", "optimal_law", "history", "summary_json")
    CURVE_IDS_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    CONVENTIONAL_LAW_FIELD_NUMBER: _ClassVar[int]
    OPTIMAL_LAW_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    curve_ids: _containers.RepeatedScalarFieldContainer[str]
    comparison: Comparison
    conventional_law: LearningLawStats
    optimal_law: LearningLawStats
    history: _containers.RepeatedCompositeFieldContainer[OuterIteration]
    summary_json: str
    def __init__(self, curve_ids: _Optional[_Iterable[str]] = ..., comparison: _Optional[_Union[Comparison, _Mapping]] = ..., conventional_law: _Optional[_Union[LearningLawStats, _Mapping]] = ..., optimal_law: _Optional[_Union[LearningLawStats, _Mapping]] = ..., history: _Optional[_Iterable[_Union[OuterIteration, _Mapping]]] = ..., summary_json: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "state", "progress", "message", "error", "request", "result", "created_at", "started_at", "finished_at", "replica", "attempt")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: JobState
    progress: float
    message: str
    error: str
    request: StartTrainingRequest
    result: JobResult
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    replica: str
    attempt: int
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[float] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., request: _Optional[_Union[StartTrainingRequest, _Mapping]] = ..., result: _Optional[_Union[JobResult, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., replica: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("study", "state", "page_size", "page_token")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    study: str
    state: JobState
    page_size: int
    page_token: str
    def __init__(self, study: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id", "after_seq")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    after_seq: int
    def __init__(self, job_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("seq", "job_id", "time", "phase", "message", "progress", "state", "iteration", "replica")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    seq: int
    job_id: str
    time: _timestamp_pb2.Timestamp
    phase: str
    message: str
    progress: float
    state: JobState
    iteration: OuterIteration
    replica: str
    def __init__(self, seq: _Optional[int] = ..., job_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., phase: _Optional[str] = ..., message: _Optional[str] = ..., progress: _Optional[float] = ..., state: _Optional[_Union[JobState, str]] = ..., iteration: _Optional[_Union[OuterIteration, _Mapping]] = ..., replica: _Optional[str] = ...) -> None: ...

class CurveSet(_message.Message):
    __slots__ = ("baseline_id", "candidate_ids")
    BASELINE_ID_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_IDS_FIELD_NUMBER: _ClassVar[int]
    baseline_id: str
    candidate_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, baseline_id: _Optional[str] = ..., candidate_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RenderReportRequest(_message.Message):
    __slots__ = ("curves", "job_id", "format", "options", "target_losses", "share_nothing")
    CURVES_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    TARGET_LOSSES_FIELD_NUMBER: _ClassVar[int]
    SHARE_NOTHING_FIELD_NUMBER: _ClassVar[int]
    curves: CurveSet
    job_id: str
    format: ReportFormat
    options: FitOptions
    target_losses: _containers.RepeatedScalarFieldContainer[float]
    share_nothing: bool
    def __init__(self, curves: _Optional[_Union[CurveSet, _Mapping]] = ..., job_id: _Optional[str] = ..., format: _Optional[_Union[ReportFormat, str]] = ..., options: _Optional[_Union[FitOptions, _Mapping]] = ..., target_losses: _Optional[_Iterable[float]] = ..., share_nothing: _Optional[bool] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("content", "media_type")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    media_type: str
    def __init__(self, content: _Optional[bytes] = ..., media_type: _Optional[str] = ...) -> None: ...

class CurvePair(_message.Message):
    __slots__ = ("fit_on", "predict_on")
    FIT_ON_FIELD_NUMBER: _ClassVar[int]
    PREDICT_ON_FIELD_NUMBER: _ClassVar[int]
    fit_on: str
    predict_on: str
    def __init__(self, fit_on: _Optional[str] = ..., predict_on: _Optional[str] = ...) -> None: ...

class BacktestLawsRequest(_message.Message):
    __slots__ = ("curve_ids", "laws", "train_fractions", "pairs", "options")
    CURVE_IDS_FIELD_NUMBER: _ClassVar[int]
    LAWS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FRACTIONS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    curve_ids: _containers.RepeatedScalarFieldContainer[str]
    laws: _containers.RepeatedScalarFieldContainer[str]
    train_fractions: _containers.RepeatedScalarFieldContainer[float]
    pairs: _containers.RepeatedCompositeFieldContainer[CurvePair]
    options: FitOptions
    def __init__(self, curve_ids: _Optional[_Iterable[str]] = ..., laws: _Optional[_Iterable[str]] = ..., train_fractions: _Optional[_Iterable[float]] = ..., pairs: _Optional[_Iterable[_Union[CurvePair, _Mapping]]] = ..., options: _Optional[_Union[FitOptions, _Mapping]] = ...) -> None: ...

class BacktestRow(_message.Message):
    __slots__ = ("law", "fit_on", "predict_on", "train_fraction", "final_error", "mean_error", "worst_error", "coverage", "n_train", "n_held_out", "status", "message", "rank", "n_bootstrap")
    LAW_FIELD_NUMBER: _ClassVar[int]
    FIT_ON_FIELD_NUMBER: _ClassVar[int]
    PREDICT_ON_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FRACTION_FIELD_NUMBER: _ClassVar[int]
    FINAL_ERROR_FIELD_NUMBER: _ClassVar[int]
    MEAN_ERROR_FIELD_NUMBER: _ClassVar[int]
    WORST_ERROR_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    N_TRAIN_FIELD_NUMBER: _ClassVar[int]
    N_HELD_OUT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    N_BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    law: str
    fit_on: str
    predict_on: str
    train_fraction: float
    final_error: float
    mean_error: float
    worst_error: float
    coverage: float
    n_train: int
    n_held_out: int
    status: FitStatus
    message: str
    rank: int
    n_bootstrap: int
    def __init__(self, law: _Optional[str] = ..., fit_on: _Optional[str] = ..., predict_on: _Optional[str] = ..., train_fraction: _Optional[float] = ..., final_error: _Optional[float] = ..., mean_error: _Optional[float] = ..., worst_error: _Optional[float] = ..., coverage: _Optional[float] = ..., n_train: _Optional[int] = ..., n_held_out: _Optional[int] = ..., status: _Optional[_Union[FitStatus, str]] = ..., message: _Optional[str] = ..., rank: _Optional[int] = ..., n_bootstrap: _Optional[int] = ...) -> None: ...

class BacktestLawsResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[BacktestRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[BacktestRow, _Mapping]]] = ...) -> None: ...

class PredictCurveRequest(_message.Message):
    __slots__ = ("fit_id", "curve_id", "options", "x", "lr")
    FIT_ID_FIELD_NUMBER: _ClassVar[int]
    CURVE_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    fit_id: str
    curve_id: str
    options: FitOptions
    x: _containers.RepeatedScalarFieldContainer[float]
    lr: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, fit_id: _Optional[str] = ..., curve_id: _Optional[str] = ..., options: _Optional[_Union[FitOptions, _Mapping]] = ..., x: _Optional[_Iterable[float]] = ..., lr: _Optional[_Iterable[float]] = ...) -> None: ...

class PredictCurveResponse(_message.Message):
    __slots__ = ("fit", "x", "loss", "low", "high")
    FIT_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    fit: FitResult
    x: _containers.RepeatedScalarFieldContainer[float]
    loss: _containers.RepeatedScalarFieldContainer[float]
    low: _containers.RepeatedScalarFieldContainer[float]
    high: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, fit: _Optional[_Union[FitResult, _Mapping]] = ..., x: _Optional[_Iterable[float]] = ..., loss: _Optional[_Iterable[float]] = ..., low: _Optional[_Iterable[float]] = ..., high: _Optional[_Iterable[float]] = ...) -> None: ...

class PlanComputeRequest(_message.Message):
    __slots__ = ("fit_id", "budgets", "flops_per_token", "with_figure", "figure_format", "isoflop_width")
    FIT_ID_FIELD_NUMBER: _ClassVar[int]
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    FLOPS_PER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WITH_FIGURE_FIELD_NUMBER: _ClassVar[int]
    FIGURE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    ISOFLOP_WIDTH_FIELD_NUMBER: _ClassVar[int]
    fit_id: str
    budgets: _containers.RepeatedScalarFieldContainer[float]
    flops_per_token: float
    with_figure: bool
    figure_format: ReportFormat
    isoflop_width: float
    def __init__(self, fit_id: _Optional[str] = ..., budgets: _Optional[_Iterable[float]] = ..., flops_per_token: _Optional[float] = ..., with_figure: _Optional[bool] = ..., figure_format: _Optional[_Union[ReportFormat, str]] = ..., isoflop_width: _Optional[float] = ...) -> None: ...

class PlanRow(_message.Message):
    __slots__ = ("budget", "n_opt", "d_opt", "tokens_per_param", "loss", "extrapolation", "isoflop_n_opt", "isoflop_d_opt")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    N_OPT_FIELD_NUMBER: _ClassVar[int]
    D_OPT_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_PARAM_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    EXTRAPOLATION_FIELD_NUMBER: _ClassVar[int]
    ISOFLOP_N_OPT_FIELD_NUMBER: _ClassVar[int]
    ISOFLOP_D_OPT_FIELD_NUMBER: _ClassVar[int]
    budget: float
    n_opt: Estimate
    d_opt: Estimate
    tokens_per_param: Estimate
    loss: Estimate
    extrapolation: float
    isoflop_n_opt: Estimate
    isoflop_d_opt: Estimate
    def __init__(self, budget: _Optional[float] = ..., n_opt: _Optional[_Union[Estimate, _Mapping]] = ..., d_opt: _Optional[_Union[Estimate, _Mapping]] = ..., tokens_per_param: _Optional[_Union[Estimate, _Mapping]] = ..., loss: _Optional[_Union[Estimate, _Mapping]] = ..., extrapolation: _Optional[float] = ..., isoflop_n_opt: _Optional[_Union[Estimate, _Mapping]] = ..., isoflop_d_opt: _Optional[_Union[Estimate, _Mapping]] = ...) -> None: ...

class IsoFlopProfile(_message.Message):
    __slots__ = ("budget", "n_points", "n_opt", "loss", "status")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    N_POINTS_FIELD_NUMBER: _ClassVar[int]
    N_OPT_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    budget: float
    n_points: int
    n_opt: Estimate
    loss: Estimate
    status: str
    def __init__(self, budget: _Optional[float] = ..., n_points: _Optional[int] = ..., n_opt: _Optional[_Union[Estimate, _Mapping]] = ..., loss: _Optional[_Union[Estimate, _Mapping]] = ..., status: _Optional[str] = ...) -> None: ...

class IsoFlopFrontier(_message.Message):
    __slots__ = ("made", "reason", "profiles", "a", "b", "left_out", "message")
    MADE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    LEFT_OUT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    made: bool
    reason: str
    profiles: _containers.RepeatedCompositeFieldContainer[IsoFlopProfile]
    a: Estimate
    b: Estimate
    left_out: int
    message: str
    def __init__(self, made: _Optional[bool] = ..., reason: _Optional[str] = ..., profiles: _Optional[_Iterable[_Union[IsoFlopProfile, _Mapping]]] = ..., a: _Optional[_Union[Estimate, _Mapping]] = ..., b: _Optional[_Union[Estimate, _Mapping]] = ..., left_out: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class PlanComputeResponse(_message.Message):
    __slots__ = ("fit", "flops_per_token", "rows", "a", "b", "method", "fitted_compute", "n_resamples", "message", "isoflop", "figure", "media_type")
    FIT_FIELD_NUMBER: _ClassVar[int]
    FLOPS_PER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    FITTED_COMPUTE_FIELD_NUMBER: _ClassVar[int]
    N_RESAMPLES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ISOFLOP_FIELD_NUMBER: _ClassVar[int]
    FIGURE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    fit: FitResult
    flops_per_token: float
    rows: _containers.RepeatedCompositeFieldContainer[PlanRow]
    a: Estimate
    b: Estimate
    method: str
    fitted_compute: Interval
    n_resamples: int
    message: str
    isoflop: IsoFlopFrontier
    figure: bytes
    media_type: str
    def __init__(self, fit: _Optional[_Union[FitResult, _Mapping]] = ..., flops_per_token: _Optional[float] = ..., rows: _Optional[_Iterable[_Union[PlanRow, _Mapping]]] = ..., a: _Optional[_Union[Estimate, _Mapping]] = ..., b: _Optional[_Union[Estimate, _Mapping]] = ..., method: _Optional[str] = ..., fitted_compute: _Optional[_Union[Interval, _Mapping]] = ..., n_resamples: _Optional[int] = ..., message: _Optional[str] = ..., isoflop: _Optional[_Union[IsoFlopFrontier, _Mapping]] = ..., figure: _Optional[bytes] = ..., media_type: _Optional[str] = ...) -> None: ...
