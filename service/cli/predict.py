"""`scalinglaw predict`: a fitted law applied at other steps or under another learning-rate
schedule, with its 95 % band. A thin layer over client.predict.

scalinglaw predict FIT_OR_CURVE --schedule FILE [--x-col step] [--lr-col lr] [--law L] [--bootstrap N]
                   [--x-min X] [--out FILE.csv] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from service import client as c
from service.client.importers import LogReadError
from service.client.importers.table_files import read_table
from service.formatting import interval, number

SHOWN = 12  # rows the table shows: log-spaced steps and the last


def add_predict(sub: Any, as_json: str) -> None:
    predict = sub.add_parser("predict", help="a fitted law's loss at other steps or under another lr schedule")
    predict.add_argument("source", metavar="FIT_OR_CURVE",
                         help="a stored fit's id (f-...) or a curve's id, fitted now with --law")  # fmt: skip
    predict.add_argument("--schedule", type=Path, required=True,
                         help="a table of steps (.csv, .tsv, .jsonl, ...), with lr for a schedule law")  # fmt: skip
    predict.add_argument("--x-col", default="step", help="its column of steps (default: step)")
    predict.add_argument("--lr-col", help="its column of learning rates (schedule laws: lr_annealing, multi_power)")
    predict.add_argument("--law", default="step_power", help="the law fitted to a curve (default step_power)")
    predict.add_argument("--x-min", type=float, help="leave out a curve's points before this x in its fit")
    predict.add_argument("--bootstrap", type=int, default=0,
                         help="resamples of a curve's fit for the 95 %% band (default 0: no band)")  # fmt: skip
    predict.add_argument("--out", type=Path, help="write every predicted step to this .csv")
    predict.add_argument("--json", action="store_true", help=as_json)


def run_predict(args: argparse.Namespace, client: c.ScalingLawClient) -> int:
    try:
        table = read_table(args.schedule)
    except LogReadError as exc:
        raise c.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, f"--schedule: {exc}", []) from None
    columns = {"--x-col": args.x_col, **({"--lr-col": args.lr_col} if args.lr_col else {})}
    for flag, name in columns.items():
        if name not in table.columns:
            raise c.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, f"{flag}: {args.schedule} has no column {name!r}",
                                    [])  # fmt: skip
    frame = client.predict(
        args.source, table[args.x_col].to_numpy(float), lr=table[args.lr_col].to_numpy(float) if args.lr_col else None,
        law=args.law, x_min=args.x_min, bootstrap=args.bootstrap,
    )  # fmt: skip
    if args.out:
        frame.to_csv(args.out, index=False)
    if args.json:
        print(json.dumps({"fit": frame.attrs["fit"], "points": frame.to_dict(orient="list")}, default=str))
        return 0
    fit = frame.attrs["fit"]
    print(
        f"{fit['law']} fitted on {fit['curve_id']}: "
        + ", ".join(f"{k} = {number(v)}" for k, v in fit["params"].items())
    )
    verdict = fit["verdict"]
    if verdict["judged"] and not verdict["good"]:
        print(f"(!) the law does not describe the curve it was fitted on: {verdict['reason']}")
    print(f"{'step':>12}  predicted loss [95 % band]")
    for i in _shown(frame["x"].to_numpy()):
        row = frame.iloc[i]
        print(f"{number(row['x']):>12}  {interval(row['loss'], row['low'], row['high'])}")
    if args.out:
        print(f"{len(frame)} steps written to {args.out}")
    return 0


def _shown(x: np.ndarray) -> list[int]:
    """Indices of up to SHOWN steps spread in log x, the last included."""
    positive = np.flatnonzero(x > 0)
    if positive.size <= SHOWN:
        return positive.tolist()
    targets = np.geomspace(x[positive[0]], x[positive[-1]], SHOWN)
    return sorted({int(positive[np.argmin(np.abs(x[positive] - t))]) for t in targets})
