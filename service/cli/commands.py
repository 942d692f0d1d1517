"""The `scalinglaw` command line (`scalinglaw COMMAND -h` for each command's flags).

    scalinglaw serve [--port P] [--data-dir D]
    scalinglaw upload FILE|LOGDIR... [--x-col step] [--loss-col loss ...] [--tag T ...] [--policy P] [--study S]
                      [--vocab-size V] [--dropna] [--skip-existing] [--label K=V ...]   (service/cli/logs.py)
    scalinglaw import-mlflow --tracking-uri URI (--run-id ID | --experiment NAME) --metric M ...
    scalinglaw curves [--study S] [--policy P] [--json]
    scalinglaw delete CURVE_ID...
    scalinglaw fit ID... [--law L] [--shared L0] [--x-min X] [--bootstrap N] [--method robust|paper] [--json]
    scalinglaw fits CURVE_ID [--json]
    scalinglaw compare BASELINE CANDIDATE... [--law L] [--shared P ... | --separate] [--x-min X] [--x-max X]
                       [--method robust|paper] [--horizon T ...] [--target-loss L ...] [--json]
    scalinglaw predict FIT_OR_CURVE --schedule FILE [--lr-col lr] [--law L] [--bootstrap N] [--out FILE.csv]
    scalinglaw plan FIT_ID --budget 1e21 [--budget 5.76e23 ...] [--flops-per-token 6] [--out plan.png] [--json]
    scalinglaw backtest CURVE... [--law L ...] [--train-fraction F ...] [--fit-on ID --predict-on ID ...] [--json]
    scalinglaw train perceptron|transformer-lm [--steps T] [--outer-iters K] [--watch] [--json]
    scalinglaw jobs [--study S] [--state running] [--json]
    scalinglaw jobs JOB_ID [--watch | --cancel] [--json]
    scalinglaw report (--job JOB_ID | --baseline ID --candidate ID...) [--x-min X] --out FILE.png|.svg|.pdf|.html
    scalinglaw completion bash|zsh
    scalinglaw demo

Commands that call a server take --target, --token and --ca-cert FILE (default SCALINGLAW_TLS_CA):
TLS, trusting the PEM certificates in FILE.

Exit codes: 0 done, 2 bad input (bad settings, unreadable files too), 3 not found, 4 conflict or
precondition, 5 unauthenticated, 6 server unavailable, 130 Ctrl-C (a watched job keeps running),
141 the reader of the output left (`| head`), 1 anything else (a FAILED job too).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

_interrupted_while_loading = False


def _note_interrupt(signum: int, frame: Any) -> None:
    """Python's own Ctrl-C handler, which also remembers the key while the imports below load: an
    extension whose start-up the interrupt breaks may raise something else in its place
    (pydantic_core's Rust start-up panics with PanicException), and that ends quietly too."""
    global _interrupted_while_loading
    _interrupted_while_loading = True
    raise KeyboardInterrupt


def _quiet_interrupt(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """Ctrl-C before main() runs, while the imports below load (a second or more): one line, no
    traceback. Python still ends the process by SIGINT afterwards, so the shell sees 130; an
    import that the key broke into another exception ends here with 130."""
    if issubclass(kind, KeyboardInterrupt):
        print("\ninterrupted", file=sys.stderr)
        return
    if _interrupted_while_loading:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        print("\ninterrupted", file=sys.stderr, flush=True)
        os._exit(130)
    sys.__excepthook__(kind, value, tb)


def _interrupt_where_it_cannot_be_raised(unraisable: Any) -> None:
    """Ctrl-C that lands in a callback Python runs on its own (an import lock's weakref callback
    while the imports load, a finaliser): Python would print "Exception ignored ... Traceback" and
    drop the interrupt, so the CLI would go on as if no key had been pressed. It ends here instead,
    as Ctrl-C anywhere else does: one line, exit code 130."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        with contextlib.suppress(OSError, ValueError):  # (a reader that left, a closed stream)
            sys.stdout.flush()
        print("\ninterrupted", file=sys.stderr, flush=True)
        # the interrupt cannot be raised from a callback; the server keeps no half-written upload
        os._exit(130)
    sys.__unraisablehook__(unraisable)


sys.excepthook = _quiet_interrupt
sys.unraisablehook = _interrupt_where_it_cannot_be_raised
# only where Python's own handler is in place (not under a host that set its own), for the imports
_noting = threading.current_thread() is threading.main_thread()
_noting = _noting and signal.getsignal(signal.SIGINT) is signal.default_int_handler
if _noting:
    signal.signal(signal.SIGINT, _note_interrupt)
# gRPC's C core logs its own internals to stderr; the CLI says what went wrong in its own words, so
# only a user's setting shows them (a few, written before absl's logging starts, show regardless)
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc  # noqa: E402  (after the hook above, which must cover this import's second)
from pydantic import ValidationError  # noqa: E402

from service import client as c  # noqa: E402
from service import formatting, report_formats  # noqa: E402
from service import result_tables as tables  # noqa: E402
from service.cli import backtest as cli_backtest  # noqa: E402
from service.cli import jobs as cli_jobs  # noqa: E402
from service.cli import logs as cli_logs  # noqa: E402
from service.cli import plan as cli_plan  # noqa: E402
from service.cli import predict as cli_predict  # noqa: E402
from service.cli.completion import completion_script  # noqa: E402
from service.settings import Settings  # noqa: E402

if _noting:  # main() and the libraries it calls see Python's own handler
    signal.signal(signal.SIGINT, signal.default_int_handler)

INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command ended by Ctrl-C
BROKEN_PIPE = 141  # 128 + SIGPIPE, as `yes | head` reports it
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
        return formatting.number(value)
    return "" if value is None else str(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scalinglaw", description="Scaling laws of learning processes, as a service.")
    parser.add_argument("--target", default=None, help="server address (default SCALINGLAW_HOST:SCALINGLAW_PORT)")
    parser.add_argument("--token", default=None, help="bearer token (default SCALINGLAW_TOKEN)")
    parser.add_argument("--ca-cert", type=Path, help="PEM certificates to trust: use TLS (default SCALINGLAW_TLS_CA)")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="`scalinglaw COMMAND -h`: its flags"
    )
    as_json = "print the full records as JSON instead of a table"

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default SCALINGLAW_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on; 0 picks a free one (default SCALINGLAW_PORT)")
    serve.add_argument("--data-dir", help="SQLite file and job artifacts (default SCALINGLAW_DATA_DIR)")

    upload = sub.add_parser("upload", help="upload loss curves from files")
    upload.add_argument(
        "files", nargs="+", type=Path, help="tables (.csv, .tsv, .jsonl, .parquet, .json) or TensorBoard logs"
    )
    upload.add_argument("--x-col", default="step", help="column of steps, tokens or FLOPs (default: step)")
    upload.add_argument(
        "--loss-col", action="append", help="column of losses, in nats (default: loss); repeated: a wide table"
    )
    upload.add_argument("--lr-col", help="column of learning rates: each point's lr, for schedule-aware laws")
    upload.add_argument("--input-col", action="append", default=[], metavar="NAME[=COLUMN]",
                        help="a column carried as the law's input NAME (repeatable): a table of final losses with "
                        "--input-col N --input-col D is a point set for chinchilla; without a --x-col column, x is "
                        "the row number")  # fmt: skip
    upload.add_argument("--policy", default="", help="label: the learning policy, e.g. conventional")
    upload.add_argument("--study", default="", help="label: the study the curves belong to")
    upload.add_argument("--split", default="test", help="label: the data split the loss is on (default: test)")
    upload.add_argument("--vocab-size", type=int, default=0, help="|V|, for the compression ratio CR (0: no CR)")
    upload.add_argument("--json", action="store_true", help=as_json)
    cli_logs.add_log_arguments(upload)
    cli_logs.add_import_mlflow(sub)

    curves = sub.add_parser("curves", help="list stored curves")
    curves.add_argument("--study", default="", help="only curves of this study")
    curves.add_argument("--policy", default="", help="only curves of this policy")
    curves.add_argument("--json", action="store_true", help=as_json)

    delete = sub.add_parser("delete", help="delete stored curves and their fits")
    delete.add_argument("curve_ids", nargs="+", metavar="CURVE_ID", help="the curves to delete")

    fits = sub.add_parser("fits", help="list the fits stored for a curve")
    fits.add_argument("curve_id", help="the curve whose fits to list")
    fits.add_argument("--json", action="store_true", help=as_json)

    fit = sub.add_parser("fit", help="fit a law to stored curves")
    fit.add_argument("ids", nargs="+", metavar="CURVE_ID", help="the curves to fit")
    fit.add_argument("--law", default="step_power", help="a registered law or an expression in x (default step_power)")
    fit.add_argument("--shared", action="append", default=[], help="a parameter fitted jointly (repeatable), e.g. L0")
    fit.add_argument("--x-min", type=float, help="leave out points before this x (warm-up)")
    fit.add_argument("--x-max", type=float, help="leave out points after this x")
    fit.add_argument("--method", choices=["robust", "paper"], default="robust", help="robust fit or the paper's grid")
    fit.add_argument("--bootstrap", type=int, default=0, help="resamples for the intervals (0: Wald intervals)")
    fit.add_argument("--json", action="store_true", help=as_json)

    train = sub.add_parser("train", help="start a training job (conventional + near-optimal)")
    train.add_argument("task", choices=["perceptron", "transformer-lm"], help="what to train")
    train.add_argument("--preset", choices=["paper", "lm-cpu"], help="a named configuration the other flags change")
    train.add_argument("--steps", type=int, default=0, help="inner steps T (0: the task's default)")
    train.add_argument("--eta", type=float, default=0.0, help="inner learning rate (0: the task's default)")
    train.add_argument("--lr-schedule", choices=["constant", "cosine", "wsd", "step"], default="",
                       help="the inner rate over the steps (default constant); curves carry it as lr")  # fmt: skip
    train.add_argument("--train-size", type=int, default=0, help="training examples N (0: the task's default)")
    train.add_argument("--outer-iters", type=int, default=0, help="policy-search iterations (0: the default)")
    train.add_argument("--outer-lr", type=float, default=0.0, help="policy-search learning rate (0: the default)")
    train.add_argument("--optimizer", choices=["sgd", "normalized", "eg", "rowwise"], help="policy-search optimiser")
    train.add_argument("--agreement-splits", type=int, default=0,
                       help="move the policy only where this many parts of the desired set agree on a step "
                       "(1: off; 0: the default)")  # fmt: skip
    train.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where to train")
    train.add_argument("--seed", type=int, default=0, help="seed of data and initial parameters")
    train.add_argument("--study", default="", help="label the job and its curves with this study")
    train.add_argument("--watch", action="store_true", help="follow the job with a progress bar (Ctrl-C detaches)")
    train.add_argument("--json", action="store_true", help=as_json)

    jobs = sub.add_parser("jobs", help="list jobs, or show, watch or cancel one")
    jobs.add_argument("job_id", nargs="?", help="the job to show; none: list them all")
    action = jobs.add_mutually_exclusive_group()
    action.add_argument("--watch", action="store_true", help="follow the job until it ends (Ctrl-C detaches)")
    action.add_argument("--cancel", action="store_true", help="cancel the job")
    jobs.add_argument("--study", default="", help="list only jobs of this study")
    jobs.add_argument("--state", choices=["queued", "running", "succeeded", "failed", "cancelled"],
                      help="list only jobs in this state")  # fmt: skip
    jobs.add_argument("--json", action="store_true", help=as_json)

    report = sub.add_parser("report", help="render a report of a job or of curves (.png, .svg, .pdf or .html)")
    report.add_argument("--job", help="the job whose test curves to report")
    report.add_argument("--baseline", help="the baseline curve (with --candidate)")
    report.add_argument("--candidate", action="append", default=[], help="a candidate curve (repeatable)")
    # a job's report draws the comparison the job stored: these are for curves
    report.add_argument("--x-min", type=float, help="leave out points before this x in the fits (curves only)")
    report.add_argument("--bootstrap", type=int, default=0,
                        help="resamples for the intervals (0: the server's; curves only)")  # fmt: skip
    report.add_argument("--target-loss", type=float, action="append", default=[],
                        help="speed-up at this loss, in the .html report (repeatable; curves only)")  # fmt: skip
    add_comparison_fit_arguments(report, "; curves only")
    report.add_argument("--out", required=True, type=Path, help="the file; its extension picks the format")

    demo = sub.add_parser("demo", help="the perceptron study end to end through a temporary server")
    demo.add_argument("--outer-iters", type=int, default=40, help="policy-search iterations (default 40, the preset's)")
    demo.add_argument("--out", default="demo-report.png", help="where to write the report figure")

    compare = sub.add_parser("compare", help="a baseline curve against candidates")
    compare.add_argument("baseline", help="the baseline curve, e.g. the conventional run")
    compare.add_argument("candidates", nargs="+", metavar="CANDIDATE", help="curves compared with the baseline")
    compare.add_argument("--x-min", type=float, help="leave out points before this x in the fits")
    compare.add_argument("--horizon", type=float, action="append", default=[],
                         help="AR at this step T (repeatable; default: last step x1, x10, x100, x1000)")  # fmt: skip
    compare.add_argument("--target-loss", type=float, action="append", default=[],
                         help="speed-up to reach this loss (repeatable)")  # fmt: skip
    compare.add_argument("--bootstrap", type=int, default=0,
                         help="resamples for the intervals (default 0: the server picks, 200 if it can)")  # fmt: skip
    add_comparison_fit_arguments(compare, "")
    compare.add_argument("--json", action="store_true", help=as_json)

    cli_backtest.add_backtest(sub, as_json)
    cli_predict.add_predict(sub, as_json)
    cli_plan.add_plan(sub, as_json)

    completion = sub.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=["bash", "zsh"], help="the shell: source the output from its rc file")
    return parser


def add_comparison_fit_arguments(parser: argparse.ArgumentParser, scope: str) -> None:
    """How a comparison fits its curves, as `scalinglaw fit` takes it."""
    parser.add_argument("--law", default=None, help=f"the law to fit (default step_power{scope})")
    share = parser.add_mutually_exclusive_group()
    share.add_argument("--shared", action="append", default=None, metavar="PARAM",
                       help="a parameter fitted once for all curves (repeatable; default: L0 unless the data "
                       f"reject one floor{scope})")  # fmt: skip
    share.add_argument("--separate", action="store_true", help=f"fit every parameter per curve{scope}")
    parser.add_argument("--x-max", type=float, help=f"leave out points after this x in the fits{scope}")
    parser.add_argument("--method", choices=["robust", "paper"], default="robust",
                        help=f"robust (default) or the paper's procedure{scope}")  # fmt: skip


def shared_of(args: argparse.Namespace) -> list[str] | None:
    """--separate: nothing shared; --shared P...: those; neither: the comparison's choice (None)."""
    return [] if args.separate else args.shared


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from service.server.serve import main as serve_main

        serve_main(load_settings(host=args.host, port=args.port, data_dir=args.data_dir))
        return 0
    if args.command == "demo":
        from service.cli.demo import run_demo

        run_demo(outer_iters=args.outer_iters, report=args.out)
        return 0
    if args.command == "completion":
        print(completion_script(build_parser(), args.shell), end="")
        return 0
    if args.command == "report":  # said before any call, so a typo costs no rendering
        report_format(args.out)
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
            if args.agreement_splits:
                search["agreement_splits"] = args.agreement_splits
            job = client.start_training(
                args.task, steps=args.steps, eta=args.eta, seed=args.seed, device=args.device, study=args.study,
                config=config, search=search, preset=args.preset or "", lr_schedule=args.lr_schedule,
            )  # fmt: skip
            if args.watch:
                followed = cli_jobs.follow(client, job.id, args)
                if followed is None:
                    return cli_jobs.DETACHED
                job = followed
            return _job_out(args, job)
        if args.command == "jobs":
            if args.job_id is None:
                if args.watch or args.cancel:
                    raise _invalid("--watch and --cancel need a JOB_ID")
                listed = cli_jobs.list_jobs(client, args)
                if args.json:
                    print(json.dumps([j.model_dump() for j in listed], indent=2, default=str))
                else:
                    cli_jobs.print_jobs(listed)
                return 0
            if args.watch:
                followed = cli_jobs.follow(client, args.job_id, args)
                if followed is None:
                    return cli_jobs.DETACHED
                return _job_out(args, followed)
            job = client.cancel_job(args.job_id) if args.cancel else client.get_job(args.job_id)
            return _job_out(args, job)
        if args.command == "backtest":
            return cli_backtest.run_backtest(args, client, curve_names)
        if args.command == "predict":
            return cli_predict.run_predict(args, client)
        if args.command == "plan":
            return cli_plan.run_plan(args, client)
        if args.command == "delete":
            for curve_id in args.curve_ids:
                client.delete_curve(curve_id)
                print(f"deleted {curve_id}")
            return 0
        if args.command == "report":
            if not args.job and not args.baseline:
                raise _invalid("give --job or --baseline")
            if not args.out.parent.is_dir():  # said before the server renders anything
                raise _invalid(f"--out: no such directory: {args.out.parent}")
            content = client.report(
                job_id=args.job, baseline_id=args.baseline, candidate_ids=args.candidate, fmt=report_format(args.out),
                x_min=args.x_min, bootstrap=args.bootstrap, target_losses=args.target_loss, law=args.law,
                shared=shared_of(args), x_max=args.x_max, method=args.method,
            )  # fmt: skip
            try:
                args.out.write_bytes(content)
            except OSError as exc:
                raise _invalid(f"--out: cannot write {args.out}: {exc.strerror}") from None
            print(args.out)
            return 0
        if args.command == "curves":
            rows = [
                {**i.model_dump(), "lr": "yes" if "lr" in i.columns else "-"}
                for i in client.list_curves(study=args.study, policy=args.policy)
            ]
            columns = ["id", "name", "policy", "study", "split", "n_points", "x_last", "loss_last", "lr"]
            return _emit(args, rows, columns)
        if args.command in ("fit", "fits"):
            if args.command == "fits":
                fits = client.list_fits(args.curve_id)
            else:
                fits = client.fit(
                    args.ids, law=args.law, shared=args.shared, x_min=args.x_min, x_max=args.x_max,
                    method=args.method, bootstrap=args.bootstrap,
                )  # fmt: skip
            if args.json:
                return _emit(args, [f.model_dump() for f in fits], [])
            print(tables.to_text(tables.fit_table(fits, curve_names(client, [f.curve_id for f in fits])), titled=False))
            return 0
        result = client.compare(
            args.baseline, args.candidates, x_min=args.x_min, horizons=args.horizon,
            target_losses=args.target_loss, bootstrap=args.bootstrap, law=args.law or "step_power",
            shared=shared_of(args), x_max=args.x_max, method=args.method,
        )  # fmt: skip
        if args.json:
            return _emit(args, [result.model_dump()], [])
        names = curve_names(client, [args.baseline, *args.candidates])
        print("\n\n".join(tables.to_text(t) for t in tables.comparison_tables(result, names, args.target_loss)))
        return 0


def report_format(path: Path) -> str:
    """The report's format from its file's extension; any other extension exits 2."""
    fmt = report_formats.format_of(path)
    if fmt is None:
        raise _invalid(f"--out: {report_formats.unknown_format(path)}")
    return fmt


def curve_names(client: c.ScalingLawClient, curve_ids: list[str]) -> dict[str, str]:
    """What people call the curves (tables.curve_label), by id."""
    return {i: tables.curve_label(client.get_curve(i)) for i in dict.fromkeys(curve_ids)}


def _job_out(args: argparse.Namespace, job: c.JobInfo) -> int:
    """A job as JSON or a short table; a FAILED job exits 1 so scripts can tell."""
    if args.json:
        print(json.dumps(job.model_dump(), indent=2, default=str))
    else:
        print(tables.to_text(tables.job_table(job), titled=False))
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
    """The one place Ctrl-C and a closed pipe end the CLI: quietly, with the shell's exit codes."""
    try:
        try:
            return run_cli(argv)
        finally:
            # here, inside the handlers below: at exit a failed flush would print "Exception ignored"
            sys.stdout.flush()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # the reader left (`| head`): nothing more can be shown. Python flushes stdout again at exit,
        # so it is pointed at /dev/null first, or that flush would fail as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE


def run_cli(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_command(args, load_settings())
    except c.ClientError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for violation in exc.field_violations:
            if violation != exc.message:  # the message is most often its one violation: said once
                print(f"  {violation}", file=sys.stderr)
        return EXIT_CODES.get(type(exc), 1)


if __name__ == "__main__":
    sys.exit(main())
