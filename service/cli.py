"""The `scalinglaw` command line.

    scalinglaw serve [--port P] [--data-dir D]
    scalinglaw upload FILE|LOGDIR... [--x-col step] [--loss-col loss ...] [--tag T ...] [--policy P] [--study S]
                      [--vocab-size V] [--dropna] [--skip-existing] [--label K=V ...]   (service/cli_logs.py)
    scalinglaw import-mlflow --tracking-uri URI (--run-id ID | --experiment NAME) --metric M ...
    scalinglaw curves [--study S] [--policy P] [--json]
    scalinglaw fit ID... [--law L] [--shared L0] [--x-min X] [--bootstrap N] [--method robust|paper] [--json]
    scalinglaw compare BASELINE CANDIDATE... [--x-min X] [--horizon T ...] [--target-loss L ...] [--json]

Exit codes: 0 done, 2 bad input (bad settings, unreadable files too), 3 not found, 4 conflict or
precondition, 5 unauthenticated, 6 server unavailable, 1 anything else (a FAILED job too).

    scalinglaw train perceptron|transformer-lm [--steps T] [--outer-iters K] [--watch] [--json]
    scalinglaw jobs JOB_ID [--cancel] [--json]
    scalinglaw report (--job JOB_ID | --baseline ID --candidate ID...) --out FILE.png|.svg
    scalinglaw demo

Commands that call a server take --target, --token and --ca-cert FILE (default SCALINGLAW_TLS_CA):
TLS, trusting the PEM certificates in FILE.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import grpc
from pydantic import ValidationError

from service import cli_logs
from service import client as c
from service.settings import Settings

EXIT_CODES: dict[type[c.ClientError], int] = {
    c.InvalidArgument: 2,
    c.NotFound: 3,
    c.AlreadyExists: 4,
    c.FailedPrecondition: 4,
    c.ResourceExhausted: 4,
    c.Unauthenticated: 5,
    c.Unavailable: 6,
}


def _invalid(message: str) -> c.InvalidArgument:
    """Bad input found here, before or instead of a call; exits 2 as the server's INVALID_ARGUMENT does."""
    return c.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, message, [])


def load_settings(**flags: Any) -> Settings:
    """SCALINGLAW_* variables, with the flags given (not None) over them; bad values exit 2."""
    try:
        settings = Settings()
        # `is not None`: --port 0 is a choice; validated, as model_copy would keep data_dir a str
        changes = {k: v for k, v in flags.items() if v is not None}
        return Settings.model_validate({**settings.model_dump(), **changes}) if changes else settings
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()]
        raise c.InvalidArgument(grpc.StatusCode.INVALID_ARGUMENT, "invalid settings", problems) from None


def read_certificates(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _invalid(f"--ca-cert / SCALINGLAW_TLS_CA: cannot read {path}: {exc.strerror}") from None


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = {k: max(len(k), *(len(_cell(r.get(k))) for r in rows)) if rows else len(k) for k in columns}
    print("  ".join(k.ljust(widths[k]) for k in columns))
    for row in rows:
        print("  ".join(_cell(row.get(k)).ljust(widths[k]) for k in columns))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalinglaw", description="Scaling laws of learning processes, as a service.")
    parser.add_argument("--target", default=None, help="server address (default SCALINGLAW_HOST:SCALINGLAW_PORT)")
    parser.add_argument("--token", default=None, help="bearer token (default SCALINGLAW_TOKEN)")
    parser.add_argument("--ca-cert", type=Path, help="PEM certificates to trust: use TLS (default SCALINGLAW_TLS_CA)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir")

    upload = sub.add_parser("upload", help="upload loss curves from files")
    upload.add_argument("files", nargs="+", type=Path)
    upload.add_argument("--x-col", default="step")
    upload.add_argument("--loss-col", action="append", help="loss column (default loss); several: a wide table")
    upload.add_argument("--policy", default="")
    upload.add_argument("--study", default="")
    upload.add_argument("--split", default="test")
    upload.add_argument("--vocab-size", type=int, default=0)
    upload.add_argument("--json", action="store_true")
    cli_logs.add_log_arguments(upload)
    cli_logs.add_import_mlflow(sub)

    curves = sub.add_parser("curves", help="list stored curves")
    curves.add_argument("--study", default="")
    curves.add_argument("--policy", default="")
    curves.add_argument("--json", action="store_true")

    fits = sub.add_parser("fits", help="list the fits stored for a curve")
    fits.add_argument("curve_id")
    fits.add_argument("--json", action="store_true")

    fit = sub.add_parser("fit", help="fit a law to stored curves")
    fit.add_argument("ids", nargs="+")
    fit.add_argument("--law", default="step_power")
    fit.add_argument("--shared", action="append", default=[])
    fit.add_argument("--x-min", type=float)
    fit.add_argument("--x-max", type=float)
    fit.add_argument("--method", choices=["robust", "paper"], default="robust")
    fit.add_argument("--bootstrap", type=int, default=0)
    fit.add_argument("--json", action="store_true")

    train = sub.add_parser("train", help="start a training job (conventional + near-optimal)")
    train.add_argument("task", choices=["perceptron", "transformer-lm"])
    train.add_argument("--preset", choices=["paper"], help="a named configuration the other flags change")
    train.add_argument("--steps", type=int, default=0)
    train.add_argument("--eta", type=float, default=0.0)
    train.add_argument("--train-size", type=int, default=0)
    train.add_argument("--outer-iters", type=int, default=0)
    train.add_argument("--outer-lr", type=float, default=0.0)
    train.add_argument("--optimizer", choices=["sgd", "normalized", "eg"])
    train.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--study", default="")
    train.add_argument("--watch", action="store_true", help="follow the job with a progress bar")
    train.add_argument("--json", action="store_true")

    jobs = sub.add_parser("jobs", help="show a job, or cancel it")
    jobs.add_argument("job_id")
    jobs.add_argument("--cancel", action="store_true")
    jobs.add_argument("--json", action="store_true")

    report = sub.add_parser("report", help="render a PNG/SVG report of a job or of curves")
    report.add_argument("--job")
    report.add_argument("--baseline")
    report.add_argument("--candidate", action="append", default=[])
    report.add_argument("--out", required=True, type=Path)

    demo = sub.add_parser("demo", help="the perceptron study end to end through a temporary server")
    demo.add_argument("--outer-iters", type=int, default=12)
    demo.add_argument("--out", default="demo-report.png")

    compare = sub.add_parser("compare", help="a baseline curve against candidates")
    compare.add_argument("baseline")
    compare.add_argument("candidates", nargs="+")
    compare.add_argument("--x-min", type=float)
    compare.add_argument("--horizon", type=float, action="append", default=[])
    compare.add_argument("--target-loss", type=float, action="append", default=[])
    compare.add_argument("--bootstrap", type=int, default=200)
    compare.add_argument("--json", action="store_true")
    return parser


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from service.main import main as serve_main

        serve_main(load_settings(host=args.host, port=args.port, data_dir=args.data_dir))
        return 0
    if args.command == "demo":
        from service.demo import run_demo

        run_demo(outer_iters=args.outer_iters, report=args.out)
        return 0
    target = args.target or f"{settings.host}:{settings.port}"
    certificates = read_certificates(args.ca_cert or settings.tls_ca)
    token = args.token or settings.token or None
    with c.ScalingLawClient(target, token=token, root_certificates=certificates) as client:
        if args.command == "upload":
            return cli_logs.run_upload(args, client, _emit)
        if args.command == "import-mlflow":
            return cli_logs.run_import_mlflow(args, client, _emit)
        if args.command == "train":
            config = {"train_size": args.train_size} if args.train_size else {}
            search: dict[str, Any] = {"outer_iters": args.outer_iters, "outer_lr": args.outer_lr}
            if args.optimizer:
                search["optimizer"] = args.optimizer
            job = client.start_training(
                args.task, steps=args.steps, eta=args.eta, seed=args.seed, device=args.device, study=args.study,
                config=config, search=search, preset=args.preset or "",
            )  # fmt: skip
            if args.watch:
                for event in client.watch(job.id):
                    bar = "#" * int(30 * event.progress)
                    print(f"\r[{bar:<30}] {event.progress:5.1%} {event.message[:50]:<50}", end="", file=sys.stderr)
                print(file=sys.stderr)
                job = client.get_job(job.id)
            return _job_out(args, job)
        if args.command == "jobs":
            job = client.cancel_job(args.job_id) if args.cancel else client.get_job(args.job_id)
            return _job_out(args, job)
        if args.command == "report":
            if not args.job and not args.baseline:
                raise _invalid("give --job or --baseline")
            if not args.out.parent.is_dir():  # said before the server renders anything
                raise _invalid(f"--out: no such directory: {args.out.parent}")
            content = client.report(job_id=args.job, baseline_id=args.baseline, candidate_ids=args.candidate,
                                    fmt="svg" if args.out.suffix == ".svg" else "png")  # fmt: skip
            try:
                args.out.write_bytes(content)
            except OSError as exc:
                raise _invalid(f"--out: cannot write {args.out}: {exc.strerror}") from None
            print(args.out)
            return 0
        if args.command == "curves":
            rows = [i.model_dump() for i in client.list_curves(study=args.study, policy=args.policy)]
            return _emit(args, rows, ["id", "name", "policy", "study", "split", "n_points", "x_last", "loss_last"])
        if args.command in ("fit", "fits"):
            if args.command == "fits":
                fits = client.list_fits(args.curve_id)
            else:
                fits = client.fit(
                    args.ids, law=args.law, shared=args.shared, x_min=args.x_min, x_max=args.x_max,
                    method=args.method, bootstrap=args.bootstrap,
                )  # fmt: skip
            rows = [{"id": f.id, "curve_id": f.curve_id, "law": f.law, **f.params, "r2": f.r2, "status": f.status}
                    for f in fits]  # fmt: skip
            names = list(dict.fromkeys(k for f in fits for k in f.params))
            columns = ["id", "curve_id", "law", *names, "r2", "status"]
            return _emit(args, [f.model_dump() for f in fits], columns, rows)
        result = client.compare(
            args.baseline, args.candidates, x_min=args.x_min, horizons=args.horizon,
            target_losses=args.target_loss, bootstrap=args.bootstrap,
        )  # fmt: skip
        rows = []
        for cand in result.candidates:
            for horizon, est in cand.ar_fit.items():
                rows.append(
                    {"candidate": cand.curve_id, "horizon": horizon, "AR (fit)": est.value, "low": est.low,
                     "high": est.high, "AR (measured)": format(cand.ar_measured[horizon], ".4g"), "CR": cand.cr}
                )  # fmt: skip
        columns = ["candidate", "horizon", "AR (fit)", "low", "high", "AR (measured)", "CR"]
        return _emit(args, [result.model_dump()], columns, rows)


def _job_out(args: argparse.Namespace, job: c.JobInfo) -> int:
    """A job as JSON or a short table; a FAILED job exits 1 so scripts can tell."""
    if args.json:
        print(json.dumps(job.model_dump(), indent=2, default=str))
    else:
        s = job.summary
        print_table(
            [{"job": job.id, "state": job.state, "progress": job.progress, "AR (fit)": s.get("ar_fit"),
              "AR (measured)": s.get("ar_empirical"), "CR conv": s.get("cr_conventional"),
              "CR opt": s.get("cr_optimal"), "error": job.error}],
            ["job", "state", "progress", "AR (fit)", "AR (measured)", "CR conv", "CR opt", "error"],
        )  # fmt: skip
    return 1 if job.state == "FAILED" else 0


def _emit(
    args: argparse.Namespace, data: list[dict[str, Any]], columns: list[str], rows: list[dict[str, Any]] | None = None
) -> int:
    """--json prints the full records (a list; one object for compare); otherwise a table."""
    if getattr(args, "json", False):
        print(json.dumps(data[0] if args.command == "compare" else data, indent=2, default=str))
    else:
        print_table(rows if rows is not None else data, columns)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_command(args, load_settings())
    except c.ClientError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for violation in exc.field_violations:
            print(f"  {violation}", file=sys.stderr)
        return EXIT_CODES.get(type(exc), 1)


if __name__ == "__main__":
    sys.exit(main())
