"""The only place protobuf messages meet domain objects."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from fitting import (
    DEFAULT_TRAIN_FRACTIONS,
    BacktestResult,
    BacktestRow,
    Estimate,
    FitOptions,
    FitResult,
    FitStatus,
    check_train_fractions,
    get_law,
)
from fitting.comparison import CandidateResult, ComparisonResult, CurveSummary, HorizonAR, SpeedUpAt
from fitting.errors import InvalidInputError, ScalingLawError
from fitting.ratios_fitted import CoefficientImprovement
from fitting.ratios_measured import MeasuredRatio, Reach
from fitting.shared_floor import SharedFloorTest
from fitting.verdict import Verdict
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from service.server import limits
from service.server.jobs.results import JobComparison, StoredResult, stored_result
from service.server.store import CurveMeta, JobRecord, StoredCurve
from trainers.config import RunSpec
from trainers.presets import preset_spec

T = TypeVar("T")

_FIT_STATUS = {
    FitStatus.CONVERGED: pb.FIT_STATUS_CONVERGED,
    FitStatus.NOT_CONVERGED: pb.FIT_STATUS_NOT_CONVERGED,
    FitStatus.UNIDENTIFIABLE: pb.FIT_STATUS_UNIDENTIFIABLE,
}
_METHODS = {pb.FIT_METHOD_UNSPECIFIED: "robust", pb.FIT_METHOD_ROBUST: "robust", pb.FIT_METHOD_PAPER: "paper"}
_REPORT_FORMATS = {
    pb.REPORT_FORMAT_UNSPECIFIED: "png",
    pb.REPORT_FORMAT_PNG: "png",
    pb.REPORT_FORMAT_SVG: "svg",
    pb.REPORT_FORMAT_PDF: "pdf",
    pb.REPORT_FORMAT_HTML: "html",
}


def _lookup(table: Mapping[Any, T], value: int, name_of: Callable[[int], str], field: str) -> T:
    """Proto3 enums are open: a client may send any number, which is bad input, not a server fault."""
    if value not in table:
        names = ", ".join(name_of(k) for k in table if k)  # 0 (UNSPECIFIED), where allowed, means the default
        raise InvalidInputError(f"must be one of {names}, got {value}", field=field)
    return table[value]


def meta_from_header(h: pb.CurveHeader) -> CurveMeta:
    return CurveMeta(
        name=h.name, policy=h.policy, study=h.study, split=h.split, vocab_size=h.vocab_size,
        x_unit=h.x_unit or "step", tokens_per_step=h.tokens_per_step, request_id=h.request_id,
        extra_columns=tuple(h.extra_columns), labels=dict(h.labels),
    )  # fmt: skip


def header_from_meta(m: CurveMeta) -> pb.CurveHeader:
    return pb.CurveHeader(
        name=m.name, policy=m.policy, study=m.study, split=m.split, vocab_size=m.vocab_size, x_unit=m.x_unit,
        tokens_per_step=m.tokens_per_step, request_id=m.request_id, extra_columns=list(m.extra_columns),
        labels=m.labels,
    )  # fmt: skip


def curve_to_pb(c: StoredCurve) -> pb.Curve:
    created = Timestamp()
    created.FromDatetime(c.created_at)
    return pb.Curve(
        id=c.id, header=header_from_meta(c.meta), n_points=c.n_points, x_first=c.x_first, x_last=c.x_last,
        loss_last=c.loss_last, sha256=c.sha256, created_at=created, duplicate_of=c.duplicate_of, skipped=c.skipped,
    )  # fmt: skip


def fit_options(options: pb.FitOptions, *, expression_params: bool = True) -> FitOptions:
    """The request's FitOptions, checked now; unset fields take fitting's defaults.
    expression_params False: the bounds and starts are left out (CompareCurves ignores them)."""
    return FitOptions.from_keywords(
        _checked_law(options.law or "step_power"),
        method=_lookup(_METHODS, options.method, pb.FitMethod.Name, "options.method"),
        loss_fn=options.loss_fn or "huber",
        delta=options.delta or None,  # 0 (unset): estimated from the residuals
        bootstrap=options.bootstrap,
        seed=options.seed,
        x_min=options.x_min if options.HasField("x_min") else None,
        x_max=options.x_max if options.HasField("x_max") else None,
        fixed=dict(options.fixed),
        bounds={k: (v.low, v.high) for k, v in options.bounds.items()} if expression_params else None,
        starts=dict(options.starts) if expression_params else None,
        shared=list(options.shared),
    )


def _checked_law(text: str) -> str:
    """The law as given, parsed now so that a bad one is refused naming its request field."""
    try:
        get_law(text)  # bounded work: the text, its nodes and depth are limited before any is done
    except InvalidInputError as exc:
        raise type(exc)(exc.message, field=f"options.{exc.field}", index=exc.index) from None
    return text


def backtest_request(
    request: pb.BacktestLawsRequest,
) -> tuple[list[str], list[tuple[str, str]], list[str], list[float], FitOptions]:
    """A BacktestLawsRequest checked, before any curve is read: the curves to split, the pairs (fit on,
    predict), the laws (each parsed now, so a bad one names laws[i]), the fractions and the options."""
    split_ids, pairs = list(request.curve_ids), [(p.fit_on, p.predict_on) for p in request.pairs]
    limits.check_backtest_counts(len(request.laws), len(request.train_fractions))
    if request.laws and request.options.law:
        raise InvalidInputError("give the laws in laws, or one law here, not both", field="options.law")
    for index, law in enumerate(request.laws):
        try:
            get_law(law)
        except InvalidInputError as exc:
            raise type(exc)(exc.message, field="laws", index=index) from None
    laws = list(request.laws) or [request.options.law or "step_power"]
    asked = list(request.train_fractions) or (list(DEFAULT_TRAIN_FRACTIONS) if split_ids else [])
    fractions = check_train_fractions(asked, split=bool(split_ids))
    for index, (fit_on, predict_on) in enumerate(pairs):
        if not fit_on or not predict_on or fit_on == predict_on:
            raise InvalidInputError("needs two different curve ids, fit_on and predict_on", field="pairs", index=index)
    if not split_ids and not pairs:
        raise InvalidInputError("no curve ids and no pairs given", field="curve_ids")
    return split_ids, pairs, laws, fractions, fit_options(request.options)


def backtest_to_pb(result: BacktestResult) -> pb.BacktestLawsResponse:
    return pb.BacktestLawsResponse(rows=[_backtest_row_to_pb(r) for r in result.rows])


def _backtest_row_to_pb(r: BacktestRow) -> pb.BacktestRow:
    status = pb.FIT_STATUS_UNSPECIFIED if r.status == "failed" else _FIT_STATUS[FitStatus(r.status)]
    return pb.BacktestRow(
        law=r.law, fit_on=r.fit_on, predict_on=r.predict_on, train_fraction=r.train_fraction,
        final_error=r.final_error, mean_error=r.mean_error, worst_error=r.worst_error, coverage=r.coverage,
        n_train=r.n_train, n_held_out=r.n_held_out, status=status, message=r.message, rank=r.rank,
        n_bootstrap=r.n_bootstrap,
    )  # fmt: skip


def report_format(value: int) -> str:
    """RenderReportRequest.format as a file type."""
    return _lookup(_REPORT_FORMATS, value, pb.ReportFormat.Name, "format")


@functools.lru_cache(maxsize=256)
def _law_text(law: str) -> tuple[tuple[str, ...], str]:
    """The law's parameter order and formula, for clients that format laws without fitting/; a
    batch of fits of one expression law parses it once. A stored law text that no longer parses
    keeps its own text and no declared order."""
    try:
        found = get_law(law)
    except ScalingLawError:
        return (), law
    return found.param_names, found.formula


def fit_to_pb(fit: FitResult, curve_id: str, fit_id: str = "") -> pb.FitResult:
    param_names, formula = _law_text(fit.law)
    return pb.FitResult(
        id=fit_id, curve_id=curve_id, law=fit.law, params=dict(fit.params), stderr=dict(fit.stderr),
        ci={k: pb.Interval(low=lo, high=hi) for k, (lo, hi) in fit.ci.items()}, r2=fit.r2, rmse=fit.rmse,
        n_points=fit.n_points, x_range=pb.Interval(low=fit.x_range[0], high=fit.x_range[1]),
        status=_FIT_STATUS[fit.status], message=fit.message, nfev=fit.nfev,
        method=pb.FIT_METHOD_PAPER if fit.method == "paper" else pb.FIT_METHOD_ROBUST, ci_method=fit.ci_method,
        shared=list(fit.shared), fixed=list(fit.fixed), n_bootstrap=0 if fit.samples is None else len(fit.samples),
        n_left_out=int(fit.extra.get("left_out", 0)), param_names=param_names, formula=formula,
        verdict=verdict_to_pb(fit.verdict),
    )  # fmt: skip


def verdict_to_pb(v: Verdict | None) -> pb.Verdict:
    if v is None:
        return pb.Verdict()
    return pb.Verdict(
        judged=True, good=v.good, reason=v.reason, r2=v.r2, systematic=v.systematic, lag1=v.lag1, runs_z=v.runs_z
    )


def verdict_from_pb(v: pb.Verdict) -> Verdict | None:
    return Verdict(v.good, v.reason, v.r2, v.systematic, v.lag1, v.runs_z) if v.judged else None


def _number(value: float | None) -> float:
    """A number as the store keeps it: null for "not available" (NaN), as JSON has no NaN."""
    return math.nan if value is None else float(value)


def _stored_verdict(stored: Mapping[str, Any] | None) -> pb.Verdict:
    """A verdict as FitResult.to_dict() keeps it (null for NaN); fits stored before verdicts have none."""
    if not stored:
        return pb.Verdict()

    return pb.Verdict(
        judged=True, good=bool(stored["good"]), reason=str(stored["reason"]), r2=_number(stored.get("r2")),
        systematic=_number(stored.get("systematic")), lag1=_number(stored.get("lag1")),
        runs_z=_number(stored.get("runs_z")),
    )  # fmt: skip


def stored_fit_to_pb(stored: Mapping[str, Any], curve_id: str) -> pb.FitResult:
    """A fit as the store keeps it (FitResult.to_dict() and its id; null for "not available")."""

    lo, hi = stored["x_range"]
    param_names, formula = _law_text(stored["law"])
    return pb.FitResult(
        id=stored["id"], curve_id=curve_id, law=stored["law"],
        params={k: _number(v) for k, v in stored["params"].items()},
        stderr={k: _number(v) for k, v in stored["stderr"].items()},
        ci={k: pb.Interval(low=_number(a), high=_number(b)) for k, (a, b) in stored["ci"].items()},
        r2=_number(stored["r2"]), rmse=_number(stored["rmse"]), n_points=stored["n_points"],
        x_range=pb.Interval(low=_number(lo), high=_number(hi)), status=_FIT_STATUS[FitStatus(stored["status"])],
        message=stored["message"], nfev=stored["nfev"],
        method=pb.FIT_METHOD_PAPER if stored["method"] == "paper" else pb.FIT_METHOD_ROBUST,
        ci_method=stored["ci_method"], shared=stored["shared"], fixed=stored["fixed"],
        n_bootstrap=stored["n_bootstrap"], n_left_out=int((stored.get("extra") or {}).get("left_out") or 0),
        param_names=param_names, formula=formula, verdict=_stored_verdict(stored.get("verdict")),
    )  # fmt: skip


def estimate_to_pb(e: Estimate) -> pb.Estimate:
    return pb.Estimate(value=e.value, low=e.low, high=e.high, has_interval=e.has_interval)


_REACH = {
    Reach.MEASURED: pb.REACH_MEASURED,
    Reach.NEVER: pb.REACH_NEVER,
    Reach.BEFORE_START: pb.REACH_BEFORE_FIRST_POINT,
    Reach.OUTSIDE: pb.REACH_OUTSIDE_RANGE,
}


def measured_to_pb(m: MeasuredRatio) -> pb.MeasuredRatio:
    estimate = pb.Estimate(value=m.value, low=m.low, high=m.high, has_interval=m.has_interval)
    return pb.MeasuredRatio(estimate=estimate, reach=_REACH[m.reach], bound=m.bound)


def summary_to_pb(s: CurveSummary, curve_id: str) -> pb.CurveMetrics:
    return pb.CurveMetrics(curve_id=curve_id, auc=s.auc, cr=s.cr, cr_units=s.cr_units)


def candidate_to_pb(c: CandidateResult, curve_id: str) -> pb.CandidateComparison:
    nan = pb.Estimate(value=math.nan, low=math.nan, high=math.nan)
    return pb.CandidateComparison(
        curve_id=curve_id,
        fit=fit_to_pb(c.fit, curve_id),
        accelerations=[
            pb.HorizonAcceleration(
                horizon=a.horizon,
                ar_fit=estimate_to_pb(a.ar_fit),
                ar_empirical=a.ar_measured.value,  # deprecated in the proto; kept for older clients
                ar_measured=measured_to_pb(a.ar_measured),
            )
            for a in c.accelerations
        ],
        speedups=[
            pb.SpeedUp(
                target_loss=s.target_loss, speedup=estimate_to_pb(s.speedup), measured=measured_to_pb(s.measured)
            )
            for s in c.speedups
        ],
        b_improvement=estimate_to_pb(c.improvement.B) if c.improvement else nan,
        beta_improvement=estimate_to_pb(c.improvement.beta) if c.improvement else nan,
        metrics=summary_to_pb(c.summary, curve_id),
        verdict=verdict_to_pb(c.verdict),
    )


def comparison_to_pb(result: ComparisonResult, baseline_id: str, candidate_ids: list[str]) -> pb.Comparison:
    return pb.Comparison(
        baseline_id=baseline_id,
        baseline_fit=fit_to_pb(result.baseline_fit, baseline_id),
        baseline_metrics=summary_to_pb(result.baseline_summary, baseline_id),
        candidates=[candidate_to_pb(c, cid) for c, cid in zip(result.candidates, candidate_ids, strict=True)],
        shared_floor=shared_floor_to_pb(result.shared_floor),
    )


def shared_floor_to_pb(t: SharedFloorTest | None) -> pb.SharedFloorTest:
    if t is None:
        return pb.SharedFloorTest()
    return pb.SharedFloorTest(tested=True, shared=list(t.shared), delta_aic=t.delta_aic, reason=t.reason)


# -- back from protobuf: a comparison stored as a message (a job's) drawn as the domain object ----


def fit_from_pb(f: pb.FitResult) -> FitResult:
    """What the message carries; what it does not (bootstrap samples, correlations, loss_fn) keeps
    FitResult's defaults, so intervals come from `ci`, never from resampling again."""
    return FitResult(
        law=f.law, params=dict(f.params), stderr=dict(f.stderr), ci={k: (v.low, v.high) for k, v in f.ci.items()},
        r2=f.r2, rmse=f.rmse, n_points=f.n_points, x_range=(f.x_range.low, f.x_range.high),
        status=_FIT_STATUS_BACK[f.status], message=f.message, nfev=f.nfev,
        method="paper" if f.method == pb.FIT_METHOD_PAPER else "robust", ci_method=f.ci_method,
        fixed=tuple(f.fixed), shared=tuple(f.shared), extra={"left_out": f.n_left_out} if f.n_left_out else {},
        verdict=verdict_from_pb(f.verdict),
    )  # fmt: skip


def estimate_from_pb(e: pb.Estimate) -> Estimate:
    return Estimate(e.value, e.low, e.high) if e.has_interval else Estimate(e.value)


def measured_from_pb(m: pb.MeasuredRatio) -> MeasuredRatio:
    e = m.estimate
    return MeasuredRatio(value=e.value, low=e.low, high=e.high, reach=_REACH_BACK[m.reach], bound=m.bound)


def comparison_from_pb(c: pb.Comparison) -> ComparisonResult:
    """The inverse of comparison_to_pb (curve ids aside, which the message keeps)."""

    def summary(m: pb.CurveMetrics) -> CurveSummary:
        return CurveSummary(auc=m.auc, cr=m.cr, cr_units=m.cr_units)

    def candidate(cand: pb.CandidateComparison) -> CandidateResult:
        b, beta = estimate_from_pb(cand.b_improvement), estimate_from_pb(cand.beta_improvement)
        # candidate_to_pb writes NaN for a law without B and beta (a real change is never NaN:
        # compare_curves refuses fits with parameters that are not finite)
        improvement = None if math.isnan(b.value) and math.isnan(beta.value) else CoefficientImprovement(b, beta)
        return CandidateResult(
            fit=fit_from_pb(cand.fit),
            accelerations=[
                HorizonAR(a.horizon, estimate_from_pb(a.ar_fit), measured_from_pb(a.ar_measured))
                for a in cand.accelerations
            ],
            speedups=[
                SpeedUpAt(s.target_loss, estimate_from_pb(s.speedup), measured_from_pb(s.measured))
                for s in cand.speedups
            ],
            improvement=improvement,
            summary=summary(cand.metrics),
            verdict=verdict_from_pb(cand.verdict),
        )

    floor = c.shared_floor
    return ComparisonResult(
        fit_from_pb(c.baseline_fit),
        summary(c.baseline_metrics),
        [candidate(x) for x in c.candidates],
        SharedFloorTest(tuple(floor.shared), floor.delta_aic, floor.reason) if floor.tested else None,
    )


_FIT_STATUS_BACK = {value: status for status, value in _FIT_STATUS.items()}
_REACH_BACK = {value: reach for reach, value in _REACH.items()}


# -- training jobs ------------------------------------------------------------------------------

_TASKS = {pb.TASK_PERCEPTRON: "perceptron", pb.TASK_TRANSFORMER_LM: "transformer_lm"}
_DEVICES = {pb.DEVICE_UNSPECIFIED: "auto", pb.DEVICE_AUTO: "auto", pb.DEVICE_CPU: "cpu", pb.DEVICE_CUDA: "cuda"}
_OPTIMIZERS = {
    pb.OPTIMIZER_UNSPECIFIED: "normalized",
    pb.OPTIMIZER_SGD: "sgd",
    pb.OPTIMIZER_NORMALIZED: "normalized",
    pb.OPTIMIZER_EG: "eg",
    pb.OPTIMIZER_ROWWISE: "rowwise",
}
_JOB_STATES = {name.removeprefix("JOB_STATE_"): value for name, value in pb.JobState.items()}
_STATE_NAMES = {value: name for name, value in _JOB_STATES.items() if value}


def _given(message: Any) -> dict[str, Any]:
    """The fields of a config message that were set (zero means: the trainer's default)."""
    return {f.name: v for f, v in message.ListFields()}


def spec_from_request(r: pb.StartTrainingRequest) -> RunSpec:
    """The run a StartTraining asks for (not yet checked: limits.check_job); unset fields keep
    the preset's or the trainer's defaults."""
    task = _lookup(_TASKS, r.task, pb.Task.Name, "task")
    base = preset_spec(r.preset) if r.preset else RunSpec(task=task)  # type: ignore[arg-type]
    if base.task != task:
        raise InvalidInputError(f"preset {r.preset!r} is for the task {base.task}, not {task}", field="preset")
    spec = base.to_dict()
    top = {"steps": r.steps, "eta": r.eta, "seed": r.seed, "bootstrap": r.bootstrap, "lr_schedule": r.lr_schedule}
    spec.update({k: v for k, v in top.items() if v})
    spec["device"] = _lookup(_DEVICES, r.device, pb.Device.Name, "device")
    if r.HasField("perceptron"):
        spec["perceptron"].update(_given(r.perceptron))
    if r.HasField("transformer"):
        spec["transformer"].update(_given(r.transformer))
    search = _given(r.search)
    if r.search.optimizer or not r.preset:  # a preset keeps its optimizer unless one is named
        search["optimizer"] = _lookup(_OPTIMIZERS, r.search.optimizer, pb.Optimizer.Name, "search.optimizer")
    spec["search"].update(search)
    return RunSpec.from_dict(spec)


def job_to_pb(job: JobRecord) -> pb.Job:
    request = pb.StartTrainingRequest.FromString(job.request)
    message = pb.Job(
        id=job.id, state=_JOB_STATES[job.state], progress=job.progress, message=job.message, error=job.error,
        request=request, replica=job.owner, attempt=job.attempt,
    )  # fmt: skip
    for field in ("created_at", "started_at", "finished_at"):
        when = getattr(job, field)
        if when is not None:
            getattr(message, field).FromDatetime(when)
    stored = stored_result(job)
    if stored is not None:
        _result_to_pb(stored, message.result)
    elif job.result is not None:  # a row stored before outcomes were typed: echoed as it was kept
        _legacy_result_to_pb(job.result, message.result)
    return message


def _result_to_pb(stored: StoredResult, result: pb.JobResult) -> None:
    outcome = stored.outcome
    result.curve_ids.extend(stored.curve_ids.values())
    result.summary_json = json.dumps(outcome.summary(), default=float)
    result.conventional_law.sim = outcome.conventional.sim
    if outcome.optimal is not None:
        result.optimal_law.sim = outcome.optimal.sim
        result.optimal_law.zero_weight_fraction = _or_nan(outcome.zero_weight_fraction)
        result.optimal_law.zero_weight_fraction_positive = _or_nan(outcome.zero_weight_fraction_positive)
        result.optimal_law.nonpositive_weight = _or_nan(outcome.nonpositive_weight)
        result.optimal_law.well_learned_share = _or_nan(outcome.well_learned_share)  # 0.0 is a share like any other
    for it in outcome.history:
        result.history.add(**asdict(it))
    compared = stored.comparison
    if compared is not None:
        result.comparison.CopyFrom(comparison_to_pb(compared.comparison, compared.baseline_id, compared.candidate_ids))


def _legacy_result_to_pb(stored: Mapping[str, Any], result: pb.JobResult) -> None:
    """{"summary", "comparison_pb", "curve_ids"}, read by the few keys every version wrote."""
    summary = stored["summary"]
    result.curve_ids.extend(stored["curve_ids"].values())
    result.summary_json = json.dumps(summary, default=float)
    result.conventional_law.sim = summary["sim_conventional"]
    if summary.get("sim_optimal") is not None:
        result.optimal_law.sim = summary["sim_optimal"]
        result.optimal_law.zero_weight_fraction = summary["zero_weight_fraction_optimal"]
        result.optimal_law.zero_weight_fraction_positive = _or_nan(summary.get("zero_weight_fraction_positive_optimal"))
        result.optimal_law.nonpositive_weight = _or_nan(summary.get("nonpositive_weight_optimal"))
        result.optimal_law.well_learned_share = _or_nan(summary.get("well_learned_share_optimal"))
    for it in summary.get("history", []):
        result.history.add(**it)
    if "comparison_pb" in stored:
        result.comparison.ParseFromString(bytes.fromhex(stored["comparison_pb"]))


def job_comparison(job: JobRecord) -> JobComparison | None:
    """The comparison a finished job's run made of its test curves (with its seed, resamples and
    fitting range) and the ids of those curves: what RenderReport(job) draws. None before it has
    finished, or when it had no near-optimal run to compare. A row stored before outcomes were
    typed kept it as a message, which comes back without the fits' bootstrap samples."""
    stored = stored_result(job)
    if stored is not None:
        return stored.comparison
    if not job.result or "comparison_pb" not in job.result:
        return None
    message = pb.Comparison.FromString(bytes.fromhex(job.result["comparison_pb"]))
    return JobComparison(comparison_from_pb(message), message.baseline_id, [c.curve_id for c in message.candidates])


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def job_state_name(state: int) -> str:
    """A ListJobs state filter (not UNSPECIFIED, which means: any state) as the store names it."""
    return _lookup(_STATE_NAMES, state, pb.JobState.Name, "state")


def event_to_pb(job_id: str, e: Any) -> pb.JobEvent:
    event = pb.JobEvent(
        seq=e.seq, job_id=job_id, phase=e.phase, message=e.message, progress=e.progress, state=_JOB_STATES[e.state],
        replica=e.replica,
    )  # fmt: skip
    event.time.FromDatetime(e.time)
    if e.iteration:
        event.iteration.CopyFrom(pb.OuterIteration(**e.iteration))
    return event
