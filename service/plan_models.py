"""A compute-optimal plan as the client and the CLI see it: pydantic models from the
PlanComputeResponse, and the DataFrame of one row per budget (service/models.py holds the other
replies; nothing here talks to a server).

    plan_frame(plan)    one row per budget: N*, D*, D*/N* and the loss with their intervals
                        (Approach 3), the orders of magnitude of extrapolation, and Approach 2's
                        N_opt and D_opt from the IsoFLOP profiles (NaN without them)
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel

from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from service.models import EstimateInfo, FitInfo, estimate_from_pb, fit_from_pb


class PlanRowInfo(BaseModel):
    budget: float
    n_opt: EstimateInfo
    d_opt: EstimateInfo
    tokens_per_param: EstimateInfo
    loss: EstimateInfo
    extrapolation: float  # orders of magnitude outside the fitted runs' compute; 0 inside
    isoflop_n_opt: EstimateInfo
    isoflop_d_opt: EstimateInfo


class IsoFlopProfileInfo(BaseModel):
    budget: float
    n_points: int
    n_opt: EstimateInfo
    loss: EstimateInfo
    status: str  # "ok", "not convex" or "minimum outside its runs"


class IsoFlopInfo(BaseModel):
    """Approach 2 on the fitted runs; made False (and reason) when they make no two profiles."""

    made: bool
    reason: str = ""
    profiles: list[IsoFlopProfileInfo] = []
    a: EstimateInfo
    b: EstimateInfo
    left_out: int = 0
    message: str = ""


class PlanInfo(BaseModel):
    fit: FitInfo
    flops_per_token: float
    rows: list[PlanRowInfo]
    a: EstimateInfo  # N* ~ C^a
    b: EstimateInfo  # D* ~ C^b
    method: str  # "closed form" or "numeric"
    fitted_compute: tuple[float, float]
    n_resamples: int
    message: str
    isoflop: IsoFlopInfo


def plan_from_pb(reply: pb.PlanComputeResponse) -> PlanInfo:
    iso = reply.isoflop
    return PlanInfo(
        fit=fit_from_pb(reply.fit), flops_per_token=reply.flops_per_token,
        rows=[
            PlanRowInfo(
                budget=r.budget, n_opt=estimate_from_pb(r.n_opt), d_opt=estimate_from_pb(r.d_opt),
                tokens_per_param=estimate_from_pb(r.tokens_per_param), loss=estimate_from_pb(r.loss),
                extrapolation=r.extrapolation, isoflop_n_opt=estimate_from_pb(r.isoflop_n_opt),
                isoflop_d_opt=estimate_from_pb(r.isoflop_d_opt),
            )
            for r in reply.rows
        ],
        a=estimate_from_pb(reply.a), b=estimate_from_pb(reply.b), method=reply.method,
        fitted_compute=(reply.fitted_compute.low, reply.fitted_compute.high), n_resamples=reply.n_resamples,
        message=reply.message,
        isoflop=IsoFlopInfo(
            made=iso.made, reason=iso.reason, a=estimate_from_pb(iso.a), b=estimate_from_pb(iso.b),
            left_out=iso.left_out, message=iso.message,
            profiles=[
                IsoFlopProfileInfo(budget=p.budget, n_points=p.n_points, n_opt=estimate_from_pb(p.n_opt),
                                   loss=estimate_from_pb(p.loss), status=p.status)
                for p in iso.profiles
            ],
        ),
    )  # fmt: skip


PLAN_COLUMNS = [
    "budget", "n_opt", "n_opt_low", "n_opt_high", "d_opt", "d_opt_low", "d_opt_high", "tokens_per_param",
    "tokens_per_param_low", "tokens_per_param_high", "loss", "loss_low", "loss_high", "extrapolation",
    "isoflop_n_opt", "isoflop_n_opt_low", "isoflop_n_opt_high", "isoflop_d_opt", "isoflop_d_opt_low",
    "isoflop_d_opt_high",
]  # fmt: skip


def plan_frame(plan: PlanInfo) -> pd.DataFrame:
    """One row per budget (PLAN_COLUMNS); the plan itself in attrs["plan"]."""
    rows = []
    for r in plan.rows:
        row: dict[str, float] = {"budget": r.budget, "extrapolation": r.extrapolation}
        for name in ("n_opt", "d_opt", "tokens_per_param", "loss", "isoflop_n_opt", "isoflop_d_opt"):
            e: EstimateInfo = getattr(r, name)
            row.update({name: e.value, f"{name}_low": e.low, f"{name}_high": e.high})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    frame.attrs["plan"] = plan.model_dump()
    return frame
