"""python -m trainers perceptron|transformer-lm [options]: one run, a summary table, a JSON file.

python -m trainers perceptron --preset paper [--seeds 0,1,2] [--json OUT] [--report DIR]
    the paper's perceptron protocol over several data seeds (docs/reproduction.md)
python -m trainers reproduce perceptron --out DIR
    the same, writing the reproduction report (markdown and figures) to DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from fitting.errors import InvalidInputError, ScalingLawError
from trainers.config import RunSpec
from trainers.outcome import JobOutcome
from trainers.presets import PAPER_SEEDS, PRESETS, preset_spec
from trainers.runner import ProgressEvent, resolve_device, run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trainers", description=__doc__)
    parser.add_argument("task", choices=["perceptron", "transformer-lm"])
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a named configuration the other options change")
    parser.add_argument("--seeds", help="preset runs: comma-separated data seeds (default 0,1,2)")
    parser.add_argument("--report", help="preset runs: write the reproduction report (markdown, figures) here")
    parser.add_argument("--steps", type=int, help="inner GD steps T (default: 2000 perceptron, 4000 LM)")
    parser.add_argument("--eta", type=float, help="inner learning rate (default 0.1)")
    parser.add_argument("--lr-schedule", choices=["constant", "cosine", "wsd", "step"],
                        help="the inner rate over the steps (default constant; trainers/schedule.py)")  # fmt: skip
    parser.add_argument("--train-size", type=int, help="N training examples")
    parser.add_argument("--desired-size", type=int, help="K desired examples (a share is held out)")
    parser.add_argument("--test-size", type=int)
    parser.add_argument("--outer-iters", type=int, help="policy-search iterations (0: conventional only)")
    parser.add_argument("--outer-lr", type=float, help="outer step size (default 1.0)")
    parser.add_argument("--optimizer", choices=["sgd", "normalized", "eg", "rowwise"],
                        help="outer optimiser (default normalized)")  # fmt: skip
    parser.add_argument("--extend-steps", type=int, help="search over T + this many steps, keep the first T rows")
    parser.add_argument("--warmup", type=int, help="outer iterations of step-size warm-up (default: 3 normalized)")
    parser.add_argument("--holdout", type=float, help="share of the desired set that selects the policy (0.25)")
    parser.add_argument("--policy-blocks", type=int, help="share gamma over this many spans of steps")
    parser.add_argument("--agreement-splits", type=int,
                        help="move gamma only where this many parts of the desired set agree (1: off)")  # fmt: skip
    parser.add_argument("--checkpoint-every", type=int, help="0: sqrt(T), or every theta when |theta| <= N")
    parser.add_argument("--law-checkpoints", type=int, help="outer iterations at which SIM, CR and AR are recorded")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--dtype", choices=["auto", "float32", "float64"])
    parser.add_argument("--seed", type=int, help="data and initialisation seed (default 0)")
    parser.add_argument("--bootstrap", type=int, help="resamples for the intervals (default 200)")
    parser.add_argument("--label-noise", type=float, help="perceptron: share of flipped training labels")
    parser.add_argument("--teacher-shift-cos", type=float, help="perceptron: cos(teacher, shift); 0: balanced")
    parser.add_argument("--dim", type=int, help="perceptron input dimension D")
    parser.add_argument("--corpus", help="LM: a local .txt or .jsonl corpus, or builtin:pride-and-prejudice")
    parser.add_argument("--d-model", type=int)
    parser.add_argument("--layers", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--context", type=int)
    parser.add_argument("--vocab-size", type=int)
    parser.add_argument("--micro-batch", type=int)
    parser.add_argument("--out-dir", help="write config, curves, policy and summary here")
    parser.add_argument("--json", help="write the summary as JSON to this path")
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def spec_from(args: argparse.Namespace) -> RunSpec:
    """The preset (or the defaults: the paper's sizes) with every option given on top."""
    task: Literal["perceptron", "transformer_lm"] = "perceptron" if args.task == "perceptron" else "transformer_lm"
    base = preset_spec(args.preset) if args.preset else RunSpec(task=task, steps=2000 if task == "perceptron" else 4000)
    if base.task != task:
        raise InvalidInputError(f"preset {args.preset!r} is for the task {base.task}", field="preset")

    def given(**fields: Any) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v is not None}

    common = given(train_size=args.train_size, desired_size=args.desired_size, test_size=args.test_size)
    search = given(
        outer_iters=args.outer_iters, outer_lr=args.outer_lr, optimizer=args.optimizer, warmup=args.warmup,
        holdout=args.holdout, policy_blocks=args.policy_blocks, checkpoint_every=args.checkpoint_every,
        law_checkpoints=args.law_checkpoints, extend_steps=args.extend_steps, agreement_splits=args.agreement_splits,
    )  # fmt: skip
    top = given(
        steps=args.steps, eta=args.eta, lr_schedule=args.lr_schedule, seed=args.seed, device=args.device,
        dtype=args.dtype, bootstrap=args.bootstrap, out_dir=args.out_dir,
    )  # fmt: skip
    spec = replace(base, search=replace(base.search, **search), **top)
    if task == "perceptron":
        perceptron = given(dim=args.dim, label_noise=args.label_noise, teacher_shift_cos=args.teacher_shift_cos)
        return replace(spec, perceptron=replace(spec.perceptron, **common, **perceptron))
    lm = given(
        corpus=args.corpus, d_model=args.d_model, n_layers=args.layers, n_heads=args.heads, context=args.context,
        vocab_size=args.vocab_size, micro_batch=args.micro_batch,
    )  # fmt: skip
    return replace(spec, transformer=replace(spec.transformer, **common, **lm))


def print_summary(outcome: JobOutcome) -> None:
    o, conv, opt = outcome, outcome.conventional, outcome.optimal
    print(f"\n{o.task}: T = {o.steps}, N = {o.train_size}, {o.n_params} parameters, device {o.device}")
    print(f"{'':<26}{'conventional':>16}{'near-optimal':>16}")

    def row(name: str, a: object, b: object, fmt: str = ".4g") -> None:
        cells = [format(v, fmt) if isinstance(v, int | float) else "-" for v in (a, b)]
        print(f"{name:<26}{cells[0]:>16}{cells[1]:>16}")

    row("test AUC (nats x steps)", conv.auc, opt and opt.auc)
    row("CR (paper units)", conv.cr, opt and opt.cr)
    row("SIM", conv.sim, opt and opt.sim)
    for name in ("L0", "B", "beta"):
        row(f"fit {name}", conv.fit.get(name), opt and opt.fit.get(name))
    if o.ar_fit is not None:
        if o.fits_readable:
            print(f"AR at T on the test set (95 % CI): from the fits {o.ar_fit:.3f}, measured {o.ar_measured:.3f}")
            print(f"|dB/B| = {o.db_over_b:.1%}   |dbeta/beta| = {o.dbeta_over_beta:.1%}")
        else:  # a fit-based number is not printed bare where the law does not describe the curves
            print(f"AR at T on the test set (95 % CI): measured {o.ar_measured:.3f}")
            reason = "no verdict" if o.fit_verdict is None else o.fit_verdict.reason
            print(f"(!) the AR from the fits, dB/B and dbeta/beta are not to be read: {reason}")
        print(f"AR at T on the desired set, measured: {o.ar_desired:.3f}")
        print(
            f"zero-weight share (near-optimal): {o.zero_weight_fraction:.1%} among CT <= 0, "
            f"{o.zero_weight_fraction_positive:.1%} among CT > 0; the policy's weight on CT <= 0: "
            f"{o.nonpositive_weight:.1%} (the Law: 0)"
        )
        print(f"selected outer iteration: {o.best_iteration} of {o.outer_iters}")
    for warning in o.warnings:
        print(f"warning: {warning}")
    print(f"wall time: {o.seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["reproduce"]:
        return reproduce(argv[1:])
    args = parse_args(argv)
    try:
        spec = spec_from(args).validate()
        seeds = parse_seeds(args.seeds) if args.preset else None
        if seeds is None and (args.seeds or args.report):
            raise InvalidInputError("--seeds and --report go with --preset", field="preset")
        resolve_device(spec.device)  # a missing CUDA is a one-line error here, not a traceback later
    except ScalingLawError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if seeds is not None:
        return run_preset(spec, seeds, json_path=args.json, report=args.report, quiet=args.quiet)

    def show(event: ProgressEvent) -> None:
        if not args.quiet:
            print(f"[{event.fraction:6.1%}] {event.phase}: {event.message}", file=sys.stderr, flush=True)

    outcome = run(spec, progress=show).outcome
    print_summary(outcome)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(outcome.summary(), fh, indent=2, default=float)
    return 0


def parse_seeds(text: str | None) -> list[int]:
    if not text:
        return list(PAPER_SEEDS)
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise InvalidInputError(f"expected comma-separated integers, got {text!r}", field="seeds") from None
    if not seeds or len(set(seeds)) != len(seeds) or len(seeds) > 8 or min(seeds) < 0:
        raise InvalidInputError("give 1 to 8 distinct seeds >= 0", field="seeds")
    return seeds


def run_preset(spec: RunSpec, seeds: list[int], *, json_path: str | None, report: str | None, quiet: bool) -> int:
    """The preset over several seeds, at once, with one progress line; the spread; optional files."""
    from trainers.reproduction import format_spread, run_seeds, spread, write_artifacts

    shares: dict[int, float] = dict.fromkeys(seeds, 0.0)
    started = time.perf_counter()

    def show(seed: int, event: ProgressEvent) -> None:
        shares[seed] = event.fraction
        if quiet:
            return
        done = sum(shares.values()) / len(shares)
        bar = "#" * int(30 * done)
        each = " ".join(f"s{k}:{v:4.0%}" for k, v in shares.items())
        line = f"[{bar:<30}] {done:5.1%} {each}  {time.perf_counter() - started:5.0f} s"
        print(f"\r{line}", end="", file=sys.stderr, flush=True)

    print(f"{spec.task}, preset over seeds {', '.join(map(str, seeds))}, run at once", file=sys.stderr)
    runs = run_seeds(spec, seeds, progress=show)
    wall = time.perf_counter() - started
    if not quiet:
        print(file=sys.stderr)
    print(format_spread(runs))
    print(f"wall time: {wall:.0f} s for {len(seeds)} seeds")
    if json_path:
        with open(json_path, "w") as fh:
            runs_out = [
                {**r.outcome.summary(), "test_loss_first_last": {p: [float(c["test"][0]), float(c["test"][-1])]
                                                                for p, c in r.curves.items()}}
                for r in runs
            ]  # fmt: skip
            payload = {"spec": spec.to_dict(), "seeds": seeds, "wall_seconds": wall, "spread": spread(runs),
                       "runs": runs_out}  # fmt: skip
            json.dump(payload, fh, indent=2, default=float)
    if report:
        from trainers.report import write_report

        write_artifacts(runs, Path(report))
        path = write_report(runs, Path(report), spec=spec, wall_seconds=wall)
        print(f"report: {path}")
    return 0


def reproduce(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainers reproduce", description="The paper's protocol over several seeds, with its report."
    )
    parser.add_argument("task", choices=["perceptron"])
    parser.add_argument("--out", required=True, help="directory for report.md, the figures and summary.json")
    parser.add_argument("--seeds", help="comma-separated data seeds (default 0,1,2)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ScalingLawError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return run_preset(
        preset_spec("paper"), seeds, json_path=str(out / "summary.json"), report=str(out), quiet=args.quiet
    )


if __name__ == "__main__":
    sys.exit(main())
