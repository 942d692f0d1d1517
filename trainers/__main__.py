"""python -m trainers perceptron|transformer-lm [options]: one run, a summary table, a JSON file."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any

from fitting.errors import ScalingLawError
from trainers.config import PerceptronConfig, RunSpec, SearchConfig, TransformerConfig
from trainers.run import ProgressEvent, TrainingResult, run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trainers", description=__doc__)
    parser.add_argument("task", choices=["perceptron", "transformer-lm"])
    parser.add_argument("--steps", type=int, help="inner GD steps T (default: 2000 perceptron, 4000 LM)")
    parser.add_argument("--eta", type=float, default=0.1)
    parser.add_argument("--train-size", type=int, help="N training examples")
    parser.add_argument("--desired-size", type=int, help="K desired examples (a share is held out)")
    parser.add_argument("--test-size", type=int)
    parser.add_argument("--outer-iters", type=int, default=0, help="policy-search iterations (0: conventional only)")
    parser.add_argument("--outer-lr", type=float, default=1.0)
    parser.add_argument("--optimizer", choices=["sgd", "normalized", "eg"], default="normalized")
    parser.add_argument("--holdout", type=float, default=0.25, help="share of the desired set that selects the policy")
    parser.add_argument("--policy-blocks", type=int, default=0, help="share gamma over this many spans of steps")
    parser.add_argument("--checkpoint-every", type=int, default=0, help="0: sqrt(T)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--dtype", choices=["auto", "float32", "float64"], default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--label-noise", type=float, default=0.0, help="perceptron: share of flipped labels")
    parser.add_argument("--dim", type=int, help="perceptron input dimension D")
    parser.add_argument("--corpus", help="LM: a local .txt or .jsonl corpus (default: generated stories)")
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
    def given(**fields: Any) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v is not None}

    common = given(train_size=args.train_size, desired_size=args.desired_size, test_size=args.test_size)
    search = SearchConfig(
        outer_iters=args.outer_iters,
        outer_lr=args.outer_lr,
        optimizer=args.optimizer,
        holdout=args.holdout,
        policy_blocks=args.policy_blocks,
        checkpoint_every=args.checkpoint_every,
    )
    spec = RunSpec(
        task="perceptron" if args.task == "perceptron" else "transformer_lm",
        steps=args.steps or (2000 if args.task == "perceptron" else 4000),
        eta=args.eta,
        seed=args.seed,
        device=args.device,
        dtype=args.dtype,
        bootstrap=args.bootstrap,
        out_dir=args.out_dir,
        search=search,
    )
    if spec.task == "perceptron":
        return replace(spec, perceptron=PerceptronConfig(**common, **given(dim=args.dim, label_noise=args.label_noise)))
    lm = given(
        corpus=args.corpus,
        d_model=args.d_model,
        n_layers=args.layers,
        n_heads=args.heads,
        context=args.context,
        vocab_size=args.vocab_size,
        micro_batch=args.micro_batch,
    )
    return replace(spec, transformer=TransformerConfig(**common, **lm))


def print_summary(result: TrainingResult) -> None:
    s = result.summary()
    print(f"\n{s['task']}: T = {s['steps']}, N = {s['train_size']}, {s['n_params']} parameters, device {s['device']}")
    print(f"{'':<26}{'conventional':>16}{'near-optimal':>16}")

    def row(name: str, a: object, b: object, fmt: str = ".4g") -> None:
        cells = [format(v, fmt) if isinstance(v, int | float) else "-" for v in (a, b)]
        print(f"{name:<26}{cells[0]:>16}{cells[1]:>16}")

    fc, fo = s["fit_conventional"] or {}, s["fit_optimal"] or {}
    row("test AUC (nats x steps)", s["auc_conventional"], s["auc_optimal"])
    row("CR (paper units)", s["cr_conventional"], s["cr_optimal"])
    row("SIM", s["sim_conventional"], s["sim_optimal"])
    row("fit L0", fc.get("L0"), fo.get("L0"))
    row("fit B", fc.get("B"), fo.get("B"))
    row("fit beta", fc.get("beta"), fo.get("beta"))
    if result.ar_fit is not None:
        print(f"AR at T (fit, 95 % CI): {result.ar_fit:.3f}   AR at T (measured): {s['ar_empirical']:.3f}")
        print(f"|dB/B| = {s['dB_over_B']:.1%}   |dbeta/beta| = {s['dbeta_over_beta']:.1%}")
        print(f"zero-weight share among CT <= 0 (near-optimal): {s['zero_weight_fraction_optimal']:.1%}")
        print(f"selected outer iteration: {s['best_iteration']} of {s['outer_iters']}")
    print(f"wall time: {s['seconds']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        spec = spec_from(args).validate()
    except ScalingLawError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def show(event: ProgressEvent) -> None:
        if not args.quiet:
            print(f"[{event.fraction:6.1%}] {event.phase}: {event.message}", file=sys.stderr, flush=True)

    result = run(spec, progress=show)
    print_summary(result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result.summary(), fh, indent=2, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
