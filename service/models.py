"""The service's replies as pydantic models, shared by the client, the CLI and the server's HTML
report: one conversion from protobuf (`curve_from_pb`, `fit_from_pb`, `comparison_from_pb`, `job_from_pb`, ...),
and the models as pandas DataFrames. Nothing here talks to a server.

DataFrames, one row per thing a researcher would plot or filter on, with plain column names:

    curves_frame(curves)        one row per curve (its metadata, labels as "label.KEY")
    fits_frame(fits)            one row per fit and parameter: value, stderr, ci_low, ci_high
    comparison_frame(result)    one row per candidate and horizon: AR from the fits with its
                                interval, AR read off the curves, and the candidate's coefficients
    backtest_frame(rows)        one row per law and setting: its errors on the held-out part

NaN marks a value the data does not give, as everywhere in the client.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel, computed_field

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb


class CurveInfo(BaseModel):
    id: str
    name: str
    policy: str
    study: str
    split: str
    vocab_size: int
    n_points: int
    x_first: float
    x_last: float
    loss_last: float
    sha256: str
    x_unit: str = "step"
    tokens_per_step: float = 0.0
    labels: dict[str, str] = {}
    columns: list[str] = []  # input columns beside x, e.g. "lr" (the learning rate of each point), "N", "D"
    duplicate_of: str = ""  # upload replies only: an earlier curve of the study with the same points
    skipped: bool = False  # upload replies only: skip_duplicate returned duplicate_of, storing nothing


class VerdictInfo(BaseModel):
    """Does the law describe the curve (a fit), or may a candidate's fit-based numbers be read (a
    comparison)? judged False: nothing was judged (a fit stored before verdicts existed)."""

    judged: bool = False
    good: bool = False
    reason: str = ""
    r2: float = math.nan
    systematic: float = math.nan  # the largest window median of the log residuals: about a relative error
    lag1: float = math.nan
    runs_z: float = math.nan

    @property
    def poor(self) -> bool:
        """A verdict that says the numbers are not to be read bare."""
        return self.judged and not self.good


class FitInfo(BaseModel):
    """A fit; NaN marks a value the data does not give (e.g. the parameters of a flat curve)."""

    id: str
    curve_id: str
    law: str
    params: dict[str, float]
    stderr: dict[str, float]
    ci: dict[str, tuple[float, float]]
    r2: float
    rmse: float
    n_points: int
    status: str
    message: str
    method: str
    ci_method: str
    shared: list[str]
    n_left_out: int = 0  # points at x <= 0 a fit without x_min left out (message says so too)
    n_bootstrap: int = 0  # the resamples its intervals come from (0: Wald intervals)
    param_names: list[str] = []  # the law's own parameter order (step_power: L0, B, beta); empty: unknown
    formula: str = ""  # the law as people write it, e.g. "L0 + (B / x)^beta"
    verdict: VerdictInfo = VerdictInfo()


class EstimateInfo(BaseModel):
    value: float
    low: float
    high: float


class MeasuredInfo(BaseModel):
    """A ratio read off the measured curves: value [low, high] when `reach` is "measured";
    otherwise value is NaN and `bound` is what the missed crossing implies ("never": the ratio
    is below it; "before_first_point": above it; "outside_range": nothing to read)."""

    value: float
    low: float
    high: float
    reach: str
    bound: float

    def __format__(self, spec: str) -> str:
        """'2.95 [2.81, 3.10]', 'never reached (< 1)', 'before the first point (> 20)' or '-'."""
        spec = spec or ".3g"
        if self.reach == "never":
            return f"never reached (< {self.bound:{spec}})"
        if self.reach == "before_first_point":
            return f"before the first point (> {self.bound:{spec}})"
        if self.reach != "measured":
            return "-"
        interval = f" [{self.low:{spec}}, {self.high:{spec}}]" if self.low == self.low else ""
        return f"{self.value:{spec}}{interval}"


class SharedFloorInfo(BaseModel):
    """Whether one floor L0 was shared, and why (tested False: the request said what to share)."""

    tested: bool = False
    shared: list[str] = []
    delta_aic: float = math.nan  # AIC(shared) - AIC(separate); above 10 the floors are fitted per curve
    reason: str = ""


class CandidateInfo(BaseModel):
    curve_id: str
    fit: FitInfo
    ar_fit: dict[float, EstimateInfo]  # horizon -> AR from the fits
    ar_measured: dict[float, MeasuredInfo]  # horizon -> AR read off the measured curves
    speedups: dict[float, EstimateInfo]  # target loss -> speed-up from the fits
    speedups_measured: dict[float, MeasuredInfo]  # target loss -> speed-up read off the curves
    b_improvement: EstimateInfo
    beta_improvement: EstimateInfo
    auc: float
    cr: float
    verdict: VerdictInfo = VerdictInfo()  # may the fit-based numbers (AR fit, speed-ups, coefficients) be read?

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ar_empirical(self) -> dict[float, float]:
        """Deprecated: read ar_measured (ar_measured[T].value is this). Horizon -> the measured AR's
        value, NaN where it is not a value; kept so code and `--json` output that use it still work."""
        return {horizon: m.value for horizon, m in self.ar_measured.items()}


class ComparisonInfo(BaseModel):
    baseline_id: str
    baseline_fit: FitInfo
    baseline_auc: float
    baseline_cr: float
    cr_units: str
    candidates: list[CandidateInfo]
    shared_floor: SharedFloorInfo = SharedFloorInfo()

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate and horizon (comparison_frame)."""
        return comparison_frame(self)


class BacktestRowInfo(BaseModel):
    """One law in one backtest setting: fitted on fit_on's first train_fraction of its x range (NaN:
    on all of fit_on, a pair), predicting the rest (of predict_on). Errors are (P - L) / L: final_error
    signed at the last held-out point, mean and worst of its size; coverage the share of held-out
    points inside the 95 % band (NaN without bootstrap). status "failed": no fit (message says why)."""

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
    status: str
    message: str = ""
    rank: int = 0  # 1: the lowest mean error of its setting; 0: no fit
    n_bootstrap: int = 0


class JobInfo(BaseModel):
    id: str
    state: str  # QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED
    progress: float
    message: str
    error: str
    curve_ids: list[str]
    summary: dict[str, Any]
    comparison: ComparisonInfo | None = None  # of the job's test curves, once it has succeeded
    task: str = ""  # perceptron, transformer_lm
    study: str = ""
    created_at: datetime | None = None  # UTC
    replica: str = ""  # the replica that holds the job, or held it last (it changes when one dies)
    attempt: int = 0  # 0 for the first run; n after the n-th restart from the start


class JobEventInfo(BaseModel):
    seq: int
    phase: str
    message: str
    progress: float
    state: str
    replica: str = ""  # the replica that wrote the event


def job_from_pb(j: pb.Job) -> JobInfo:
    return JobInfo(
        id=j.id, state=pb.JobState.Name(j.state).removeprefix("JOB_STATE_"), progress=j.progress, message=j.message,
        error=j.error, curve_ids=list(j.result.curve_ids),
        summary=json.loads(j.result.summary_json) if j.result.summary_json else {},
        comparison=comparison_from_pb(j.result.comparison) if j.result.HasField("comparison") else None,
        task=pb.Task.Name(j.request.task).removeprefix("TASK_").lower(), study=j.request.study,
        created_at=j.created_at.ToDatetime(tzinfo=UTC) if j.HasField("created_at") else None,
        replica=j.replica, attempt=j.attempt,
    )  # fmt: skip


def comparison_from_pb(reply: pb.Comparison) -> ComparisonInfo:
    return ComparisonInfo(
        baseline_id=reply.baseline_id,
        baseline_fit=fit_from_pb(reply.baseline_fit),
        baseline_auc=reply.baseline_metrics.auc,
        baseline_cr=reply.baseline_metrics.cr,
        cr_units=reply.baseline_metrics.cr_units,
        shared_floor=SharedFloorInfo(
            tested=reply.shared_floor.tested,
            shared=list(reply.shared_floor.shared),
            delta_aic=reply.shared_floor.delta_aic,
            reason=reply.shared_floor.reason,
        ),
        candidates=[
            CandidateInfo(
                curve_id=c.curve_id,
                fit=fit_from_pb(c.fit),
                ar_fit={a.horizon: estimate_from_pb(a.ar_fit) for a in c.accelerations},
                ar_measured={a.horizon: measured_from_pb(a.ar_measured) for a in c.accelerations},
                speedups={s.target_loss: estimate_from_pb(s.speedup) for s in c.speedups},
                speedups_measured={s.target_loss: measured_from_pb(s.measured) for s in c.speedups},
                b_improvement=estimate_from_pb(c.b_improvement),
                beta_improvement=estimate_from_pb(c.beta_improvement),
                auc=c.metrics.auc,
                cr=c.metrics.cr,
                verdict=verdict_from_pb(c.verdict),
            )
            for c in reply.candidates
        ],
    )


def backtest_from_pb(reply: pb.BacktestLawsResponse) -> list[BacktestRowInfo]:
    return [_backtest_row_from_pb(r) for r in reply.rows]


def _backtest_row_from_pb(r: pb.BacktestRow) -> BacktestRowInfo:
    status = pb.FitStatus.Name(r.status).removeprefix("FIT_STATUS_").lower() if r.status else "failed"
    return BacktestRowInfo(
        law=r.law, fit_on=r.fit_on, predict_on=r.predict_on, train_fraction=r.train_fraction,
        final_error=r.final_error, mean_error=r.mean_error, worst_error=r.worst_error, coverage=r.coverage,
        n_train=r.n_train, n_held_out=r.n_held_out, status=status, message=r.message, rank=r.rank,
        n_bootstrap=r.n_bootstrap,
    )  # fmt: skip


def measured_from_pb(m: pb.MeasuredRatio) -> MeasuredInfo:
    e = m.estimate
    reach = pb.Reach.Name(m.reach).removeprefix("REACH_").lower()
    return MeasuredInfo(value=e.value, low=e.low, high=e.high, reach=reach, bound=m.bound)


def curve_from_pb(c: pb.Curve) -> CurveInfo:
    h = c.header
    return CurveInfo(
        id=c.id, name=h.name, policy=h.policy, study=h.study, split=h.split, vocab_size=h.vocab_size,
        n_points=c.n_points, x_first=c.x_first, x_last=c.x_last, loss_last=c.loss_last, sha256=c.sha256,
        x_unit=h.x_unit, tokens_per_step=h.tokens_per_step, labels=dict(h.labels), columns=list(h.extra_columns),
        duplicate_of=c.duplicate_of, skipped=c.skipped,
    )  # fmt: skip


def fit_from_pb(f: pb.FitResult) -> FitInfo:
    return FitInfo(
        id=f.id, curve_id=f.curve_id, law=f.law, params=dict(f.params), stderr=dict(f.stderr),
        ci={k: (v.low, v.high) for k, v in f.ci.items()}, r2=f.r2, rmse=f.rmse, n_points=f.n_points,
        status=pb.FitStatus.Name(f.status).removeprefix("FIT_STATUS_").lower(), message=f.message,
        method="paper" if f.method == pb.FIT_METHOD_PAPER else "robust", ci_method=f.ci_method, shared=list(f.shared),
        n_left_out=f.n_left_out, n_bootstrap=f.n_bootstrap, param_names=list(f.param_names), formula=f.formula,
        verdict=verdict_from_pb(f.verdict),
    )  # fmt: skip


def verdict_from_pb(v: pb.Verdict) -> VerdictInfo:
    if not v.judged:
        return VerdictInfo()
    return VerdictInfo(
        judged=True, good=v.good, reason=v.reason, r2=v.r2, systematic=v.systematic, lag1=v.lag1, runs_z=v.runs_z
    )


def estimate_from_pb(e: pb.Estimate) -> EstimateInfo:
    return EstimateInfo(value=e.value, low=e.low, high=e.high)


# -- DataFrames ----------------------------------------------------------------------------------

CURVE_COLUMNS = [
    "id", "name", "policy", "study", "split", "vocab_size", "x_unit", "tokens_per_step", "n_points", "x_first",
    "x_last", "loss_last", "sha256", "has_lr", "columns",
]  # fmt: skip
FIT_COLUMNS = [
    "fit_id", "curve_id", "law", "method", "status", "param", "value", "stderr", "ci_low", "ci_high", "ci_method",
    "shared", "r2", "rmse", "n_points", "n_left_out", "message",
]  # fmt: skip
COMPARISON_COLUMNS = [
    "baseline_id", "candidate_id", "horizon", "ar_fit", "ar_fit_low", "ar_fit_high", "ar_measured",
    "ar_measured_low", "ar_measured_high", "ar_measured_reach", "b_improvement", "beta_improvement", "auc", "cr",
    "baseline_cr", "cr_units",
]  # fmt: skip


def curves_frame(curves: Sequence[CurveInfo]) -> pd.DataFrame:
    rows = []
    for c in curves:
        row: dict[str, object] = {k: getattr(c, k) for k in CURVE_COLUMNS[:-2]}
        row.update(has_lr="lr" in c.columns, columns=",".join(c.columns))  # the last two: what it carries
        row.update({f"label.{k}": v for k, v in c.labels.items()})
        rows.append(row)
    return pd.DataFrame(rows, columns=_with_extra(CURVE_COLUMNS, rows))


def fits_frame(fits: Sequence[FitInfo]) -> pd.DataFrame:
    rows = []
    for f in fits:
        for param, value in f.params.items():
            low, high = f.ci.get(param, (math.nan, math.nan))
            rows.append({
                "fit_id": f.id, "curve_id": f.curve_id, "law": f.law, "method": f.method, "status": f.status,
                "param": param, "value": value, "stderr": f.stderr.get(param, math.nan), "ci_low": low,
                "ci_high": high, "ci_method": f.ci_method, "shared": param in f.shared, "r2": f.r2, "rmse": f.rmse,
                "n_points": f.n_points, "n_left_out": f.n_left_out, "message": f.message,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def comparison_frame(result: ComparisonInfo) -> pd.DataFrame:
    rows = []
    for cand in result.candidates:
        for horizon, est in cand.ar_fit.items():
            measured = cand.ar_measured[horizon]
            rows.append({
                "baseline_id": result.baseline_id, "candidate_id": cand.curve_id, "horizon": horizon,
                "ar_fit": est.value, "ar_fit_low": est.low, "ar_fit_high": est.high, "ar_measured": measured.value,
                "ar_measured_low": measured.low, "ar_measured_high": measured.high,
                "ar_measured_reach": measured.reach, "b_improvement": cand.b_improvement.value,
                "beta_improvement": cand.beta_improvement.value, "auc": cand.auc, "cr": cand.cr,
                "baseline_cr": result.baseline_cr, "cr_units": result.cr_units,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _with_extra(columns: list[str], rows: list[dict[str, object]]) -> list[str]:
    extra = sorted({k for row in rows for k in row} - set(columns))
    return [*columns, *extra]


def backtest_frame(rows: Sequence[BacktestRowInfo]) -> pd.DataFrame:
    """One row per law and setting, in the reply's order (each setting's laws by mean error)."""
    return pd.DataFrame([r.model_dump() for r in rows], columns=list(BacktestRowInfo.model_fields))
