"""`scalinglaw plan`: how big a model and how many tokens for a compute budget, from a stored fit
of a law in N and D. A thin layer over client.plan.

scalinglaw plan FIT_ID --budget 1e21 [--budget 5.76e23 ...] [--flops-per-token 6] [--out plan.png] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import grpc
import pandas as pd

from service import client as c
from service import report_formats
from service.formatting import interval, number


def add_plan(sub: Any, as_json: str) -> None:
    plan = sub.add_parser("plan", help="compute-optimal model size and tokens for budgets, from a fit in N and D")
    plan.add_argument("fit_id", metavar="FIT_ID", help="a stored fit of a law in N and D (chinchilla), e.g. f-...")
    plan.add_argument("--budget", type=float, action="append", required=True, metavar="FLOPS",
                      help="a compute budget in FLOPs (repeatable), e.g. 1e21")  # fmt: skip
    plan.add_argument("--flops-per-token", type=float, default=6.0,
                      help="FLOPs per parameter and token: C = k N D (default 6)")  # fmt: skip
    plan.add_argument("--out", type=Path, help="write the plan's figure (.png, .svg or .pdf)")
    plan.add_argument("--json", action="store_true", help=as_json)


def run_plan(args: argparse.Namespace, client: c.ScalingLawClient) -> int:
    if args.out is not None:  # said before any call, so a typo costs no computation
        if report_formats.format_of(args.out) not in ("png", "svg", "pdf"):
            raise _invalid(f"--out: a plan's figure is .png, .svg or .pdf, not {args.out.suffix or args.out.name!r}")
        if not args.out.parent.is_dir():
            raise _invalid(f"--out: no such directory: {args.out.parent}")
    frame = client.plan(args.fit_id, args.budget, flops_per_token=args.flops_per_token, figure=args.out)
    plan = frame.attrs["plan"]
    if args.json:
        print(json.dumps(plan, indent=2, default=str))
        return 0
    for line in plan_text(frame):
        print(line)
    if args.out is not None:
        print(f"figure: {args.out}")
    return 0


def plan_text(frame: pd.DataFrame) -> list[str]:
    """The table and what it rests on, in lines."""
    plan = frame.attrs["plan"]
    fit, iso = plan["fit"], plan["isoflop"]
    k = number(plan["flops_per_token"])
    lines = [f"Compute-optimal plan from {fit['law']} fit {fit['id']} (curve {fit['curve_id']}), C = {k} N D"]
    if fit["status"] != "converged":
        lines.append(f"(!) the fit is {fit['status']}: {fit['message']}")
    if fit["verdict"]["judged"] and not fit["verdict"]["good"]:
        lines.append(f"(!) the law does not describe the runs it was fitted on: {fit['verdict']['reason']}")
    header = ["budget C", "N* [low, high]", "D* [low, high]", "D*/N* [low, high]", "loss [low, high]", "extrap.",
              "N* IsoFLOP [low, high]"]  # fmt: skip
    table = [header]
    for _, r in frame.iterrows():
        table.append([
            number(r["budget"]), _est(r, "n_opt"), _est(r, "d_opt"), _est(r, "tokens_per_param"), _est(r, "loss"),
            _decades(r["extrapolation"]), _est(r, "isoflop_n_opt"),
        ])  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    a, b = plan["a"], plan["b"]
    lines.append(f"N* ~ C^a, D* ~ C^b: a = {_interval(a)}, b = {_interval(b)} ({plan['method']})")
    if plan["n_resamples"]:
        lines.append(f"intervals: 95 %, from the fit's {plan['n_resamples']} resamples")
    low, high = plan["fitted_compute"]
    if not math.isnan(low):
        lines.append(f"the fitted runs span C = {number(low)} .. {number(high)}; extrap.: orders of magnitude outside")
    if plan["message"]:
        lines.append(f"note: {plan['message']}")
    if iso["made"]:
        ok = sum(p["status"] == "ok" for p in iso["profiles"])
        lines.append(
            f"IsoFLOP profiles (Approach 2): {len(iso['profiles'])} of the fitted runs' budgets, {ok} with a minimum "
            f"inside their runs, {iso['left_out']} runs in none; N_opt ~ C^a: a = {_interval(iso['a'])}"
        )
    else:
        lines.append(f"IsoFLOP profiles (Approach 2): none ({iso['reason']})")
    return lines


def _est(row: pd.Series, name: str) -> str:
    return interval(row[name], row[f"{name}_low"], row[f"{name}_high"])


def _interval(e: dict[str, float]) -> str:
    return interval(e["value"], e["low"], e["high"])


def _decades(value: float) -> str:
    if math.isnan(value):
        return "-"
    return "inside" if value == 0 else f"{value:.2g} OoM"


def _invalid(message: str) -> c.InvalidArgument:
    return c.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, message, [])
