"""convert.py's part for compute-optimal plans: a PlanComputeRequest's values checked, and a plan
(fitting.ComputePlan and the IsoFLOP profiles beside it) as a PlanComputeResponse."""

from __future__ import annotations

import math

import fitting
from fitting.compute_optimal import DEFAULT_FLOPS_PER_TOKEN, check_flops_per_token
from fitting.errors import InvalidInputError
from fitting.isoflop import DEFAULT_WIDTH
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from service.server.convert import estimate_to_pb, report_format
from service.server.worker_tasks import PlannedCompute

NOT_AVAILABLE = pb.Estimate(value=math.nan, low=math.nan, high=math.nan)


def plan_request(request: pb.PlanComputeRequest) -> tuple[float, float, str | None]:
    """flops_per_token (0: 6), isoflop_width (0: the default) and the figure's format (None: no figure)."""
    k = check_flops_per_token(request.flops_per_token or DEFAULT_FLOPS_PER_TOKEN)
    width = request.isoflop_width or DEFAULT_WIDTH
    if not (math.isfinite(width) and 0 < width < 1):
        raise InvalidInputError(f"must be between 0 and 1 decade, got {width}", field="isoflop_width")
    fmt = report_format(request.figure_format) if request.with_figure else None
    if fmt == "html":
        raise InvalidInputError("a plan's figure is PNG, SVG or PDF", field="figure_format")
    return k, width, fmt


def plan_to_pb(planned: PlannedCompute, fit: pb.FitResult, media_type: str) -> pb.PlanComputeResponse:
    plan, isoflop = planned.plan, planned.isoflop
    n_iso = isoflop.n_opt(plan_budgets(plan)) if isoflop is not None else None
    d_iso = isoflop.d_opt(plan_budgets(plan)) if isoflop is not None else None
    rows = [
        pb.PlanRow(
            budget=row.budget, n_opt=estimate_to_pb(row.n_opt), d_opt=estimate_to_pb(row.d_opt),
            tokens_per_param=estimate_to_pb(row.tokens_per_param), loss=estimate_to_pb(row.loss),
            extrapolation=row.extrapolation,
            isoflop_n_opt=estimate_to_pb(n_iso[i]) if n_iso is not None else NOT_AVAILABLE,
            isoflop_d_opt=estimate_to_pb(d_iso[i]) if d_iso is not None else NOT_AVAILABLE,
        )
        for i, row in enumerate(plan.rows)
    ]  # fmt: skip
    low, high = plan.fitted_compute
    return pb.PlanComputeResponse(
        fit=fit, flops_per_token=plan.flops_per_token, rows=rows, a=estimate_to_pb(plan.a), b=estimate_to_pb(plan.b),
        method=plan.method, fitted_compute=pb.Interval(low=low, high=high), n_resamples=plan.n_resamples,
        message=plan.message, isoflop=isoflop_to_pb(isoflop, planned.isoflop_reason), figure=planned.figure,
        media_type=media_type if planned.figure else "",
    )  # fmt: skip


def plan_budgets(plan: fitting.ComputePlan) -> list[float]:
    return [row.budget for row in plan.rows]


def isoflop_to_pb(result: fitting.IsoFlopResult | None, reason: str) -> pb.IsoFlopFrontier:
    if result is None:
        return pb.IsoFlopFrontier(made=False, reason=reason, a=NOT_AVAILABLE, b=NOT_AVAILABLE)
    profiles = [
        pb.IsoFlopProfile(budget=p.budget, n_points=int(p.n.size), n_opt=estimate_to_pb(p.n_opt),
                          loss=estimate_to_pb(p.loss_opt), status=p.status)
        for p in result.profiles
    ]  # fmt: skip
    return pb.IsoFlopFrontier(
        made=True, profiles=profiles, a=estimate_to_pb(result.a), b=estimate_to_pb(result.b),
        left_out=result.left_out, message=result.message,
    )  # fmt: skip
