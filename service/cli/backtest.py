"""`scalinglaw backtest`: can an extrapolation be trusted? A thin layer over client.backtest.

scalinglaw backtest CURVE... [--law L ...] [--train-fraction F ...] [--fit-on ID --predict-on ID ...]
                    [--bootstrap N] [--x-min X] [--x-max X] [--json]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import grpc

from service import client as c
from service import result_tables as tables


def add_backtest(sub: Any, as_json: str) -> None:
    backtest = sub.add_parser("backtest", help="fit laws on the first part of curves and score their prediction")
    backtest.add_argument("curve_ids", nargs="*", metavar="CURVE", help="curves split at each train fraction")
    backtest.add_argument("--law", action="append", default=None,
                          help="a registered law or an expression in x (repeatable; default step_power)")  # fmt: skip
    backtest.add_argument("--train-fraction", type=float, action="append", default=[],
                          help="share of each curve's x range fitted (repeatable; default 0.5 and 0.8)")  # fmt: skip
    backtest.add_argument("--fit-on", action="append", default=[], metavar="ID",
                          help="cross-schedule: fit on this curve (repeatable, each with a --predict-on)")  # fmt: skip
    backtest.add_argument("--predict-on", action="append", default=[], metavar="ID",
                          help="the curve the matching --fit-on's law predicts")  # fmt: skip
    backtest.add_argument("--bootstrap", type=int, default=100,
                          help="resamples of the 95 %% prediction band (default 100; 0: no band)")  # fmt: skip
    backtest.add_argument("--x-min", type=float, help="leave out points before this x (warm-up), from both parts")
    backtest.add_argument("--x-max", type=float, help="leave out points after this x")
    backtest.add_argument("--json", action="store_true", help=as_json)


def run_backtest(args: argparse.Namespace, client: c.ScalingLawClient, names_of: Any) -> int:
    if len(args.fit_on) != len(args.predict_on):
        raise c.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, "give one --predict-on for each --fit-on", [])
    rows = client.backtest(
        args.curve_ids, laws=args.law or ["step_power"], train_fractions=args.train_fraction,
        pairs=list(zip(args.fit_on, args.predict_on, strict=True)), bootstrap=args.bootstrap, x_min=args.x_min,
        x_max=args.x_max,
    )  # fmt: skip
    if args.json:
        print(json.dumps([r.model_dump() for r in rows], indent=2))
        return 0
    names = names_of(client, [*args.curve_ids, *args.fit_on, *args.predict_on])
    print(tables.to_text(tables.backtest_table(rows, names)))
    return 0
