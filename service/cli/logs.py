"""`scalinglaw upload` and `scalinglaw import-mlflow`: curves from the logs researchers have.

    scalinglaw upload FILE|LOGDIR... [--x-col step] [--loss-col loss ...] [--tag NAME ...] [--dropna]
                      [--skip-existing] [--label KEY=VALUE ...] [--x-unit step] [--tokens-per-step N]
    scalinglaw import-mlflow --tracking-uri URI (--run-id ID | --experiment NAME) --metric NAME ...

A table file (.csv .tsv .parquet .json .jsonl) gives one curve per --loss-col (several: a wide
export, each column a run named after it); a directory or event file with --tag gives one curve
per TensorBoard run and tag. When a source fails part-way the client deletes the curves of it
already stored (best effort: lost if the process dies); the command says which sources were stored
and which not (stderr), and exits 2 when any was not.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import grpc

from service import client as c
from service.client.importers import LogCurve, LogReadError
from service.client.importers.table_files import read_table, table_curves
from service.client.importers.tensorboard_logs import EVENT_FILE_GLOB, read_tensorboard
from service.client.log_upload import SourceResult, upload_sources

# a source that fails for these is reported and the next goes on; others (no server, no token) stop all
_PER_SOURCE = (LogReadError, c.InvalidArgument, c.AlreadyExists, c.FailedPrecondition, c.ResourceExhausted)
COLUMNS = ["id", "name", "policy", "study", "n_points", "x_last", "loss_last", "note"]


def add_log_arguments(upload: argparse.ArgumentParser) -> None:
    """What `upload` takes besides the table columns and the curve's policy/study/split/vocab."""
    upload.add_argument("--tag", action="append", default=[], help="TensorBoard scalar tag (repeat for more)")
    upload.add_argument("--lr-tag", help="TensorBoard scalar tag of the learning rate, paired with each loss by step")
    add_common(upload)


def add_import_mlflow(sub: Any) -> None:
    parser = sub.add_parser("import-mlflow", help="upload metric histories of MLflow runs")
    parser.add_argument("--tracking-uri", required=True, help="e.g. http://127.0.0.1:5000 or sqlite:///mlflow.db")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run-id", help="the one run to read")
    which.add_argument("--experiment", help="every run of the experiment of this name")
    parser.add_argument("--metric", action="append", required=True, help="metric name (repeat for more)")
    parser.add_argument("--lr-metric", help="metric of the learning rate, paired with each loss by step")
    parser.add_argument("--policy", default="", help="label: the learning policy, e.g. conventional")
    parser.add_argument("--study", default="", help="label: the study the curves belong to")
    parser.add_argument("--split", default="test", help="label: the data split the loss is on (default: test)")
    parser.add_argument("--vocab-size", type=int, default=0, help="|V|, for the compression ratio CR (0: no CR)")
    add_common(parser)
    parser.add_argument("--json", action="store_true", help="print the stored curves as JSON instead of a table")


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dropna", action="store_true", help="leave out rows whose step or loss is NaN or inf")
    parser.add_argument("--skip-existing", action="store_true", help="skip curves whose points the study has")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="a label (repeatable)")
    parser.add_argument("--x-unit", default="step", help="what x counts: step, tokens, flops")
    parser.add_argument("--tokens-per-step", type=float, default=0.0, help="for the token form of CR")


def run_upload(args: argparse.Namespace, client: c.ScalingLawClient, emit: Callable[..., int]) -> int:
    loss_cols = args.loss_col or ["loss"]  # append action: None when not given

    def read(path: Path) -> list[LogCurve]:
        if path.is_dir() or path.name.startswith(EVENT_FILE_GLOB.rstrip("*")):
            if not args.tag:
                raise LogReadError(f"{path}: a TensorBoard log: name the scalar tags to read with --tag")
            return read_tensorboard(path, args.tag, dropna=args.dropna, lr_tag=args.lr_tag)
        if args.tag:
            raise LogReadError(f"{path}: --tag reads TensorBoard logs (a directory or event file), not tables")
        if args.lr_tag:
            raise LogReadError(f"{path}: --lr-tag reads TensorBoard logs; a table's rate column is --lr-col")
        frame = read_table(path)
        return table_curves(
            frame, str(path.name), x_col=args.x_col, loss_cols=loss_cols, name=path.stem, dropna=args.dropna,
            lr_col=args.lr_col, input_cols=args.input_col,
        )  # fmt: skip

    sources = [(str(path), partial(read, path)) for path in args.files]
    return _finish(args, _upload(client, sources, args), emit)


def run_import_mlflow(args: argparse.Namespace, client: c.ScalingLawClient, emit: Callable[..., int]) -> int:
    from service.client.importers.mlflow_runs import read_mlflow

    def read() -> list[LogCurve]:
        return read_mlflow(
            args.tracking_uri, args.metric, run_id=args.run_id or "", experiment=args.experiment or "",
            dropna=args.dropna, lr_metric=args.lr_metric,
        )  # fmt: skip

    where = f"run {args.run_id}" if args.run_id else f"experiment {args.experiment}"
    return _finish(args, _upload(client, [(where, read)], args), emit)


def _upload(
    client: c.ScalingLawClient, sources: Sequence[tuple[str, Callable[[], list[LogCurve]]]], args: argparse.Namespace
) -> list[SourceResult]:
    with warnings.catch_warnings():  # duplicates are told per curve in _finish, in the command's words
        warnings.simplefilter("ignore", c.DuplicateCurveWarning)
        return upload_sources(client, sources, _PER_SOURCE, **_meta(args))


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    labels = {}
    for item in args.label:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise c.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, f"--label {item!r}: write KEY=VALUE", [])
        labels[key] = value
    return {
        "policy": args.policy, "study": args.study, "split": args.split, "vocab_size": args.vocab_size,
        "x_unit": args.x_unit, "tokens_per_step": args.tokens_per_step, "labels": labels,
        "skip_duplicate": args.skip_existing,
    }  # fmt: skip


def _finish(args: argparse.Namespace, results: list[SourceResult], emit: Callable[..., int]) -> int:
    """The stored curves on stdout (table or --json); on stderr, per source, what was stored or
    why not, rows --dropna left out, and duplicates. Exit 2 when a source was not stored."""
    rows, records = [], []
    for result in results:
        if not result.ok:
            print(f"not stored: {result.source}: {result.error}", file=sys.stderr)
            continue
        stored = [i for i in result.curves if not i.skipped]
        print(f"stored: {result.source}: {len(stored)} of {len(result.curves)} curves", file=sys.stderr)
        if result.dropped:
            print(f"  --dropna left out {result.dropped} rows with NaN or inf", file=sys.stderr)
        for info in result.curves:
            note = ""
            if info.skipped:
                note = f"skipped: same points as {info.duplicate_of}"
            elif info.duplicate_of:
                note = f"duplicate of {info.duplicate_of}"
                print(
                    f"  warning: {info.name} ({info.id}) has the same points as {info.duplicate_of} in study "
                    f"{info.study!r}; --skip-existing skips such curves",
                    file=sys.stderr,
                )  # fmt: skip
            rows.append({**info.model_dump(), "note": note})
            records.append(info.model_dump())
    emit(args, records, COLUMNS, rows)
    return 2 if any(not r.ok for r in results) else 0
