"""The paper's perceptron protocol over several data seeds: the runs, their spread, the report.

    python -m trainers perceptron --preset paper [--seeds 0,1,2] [--json OUT] [--report DIR]
    python -m trainers reproduce perceptron --out DIR

Each seed is one `trainers.run` (conventional run, policy search, the kept policy retrained,
Learning-Law diagnostics, fits and AR read both ways) in its own process; the seeds run at once,
with no more torch threads in all than cores (one each for three seeds on two cores), so three
seeds on two cores take about 1.5 times one seed's CPU time.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fitting.ratios_measured import MeasuredRatio, Reach
from trainers.config import RunSpec
from trainers.outcome import JobOutcome, PolicyMetrics
from trainers.runner import ProgressEvent, TrainingResult, run


@dataclass(frozen=True, eq=False)
class SeedRun:
    """What the report needs of one seed's run: its outcome and its curves, as plain arrays."""

    seed: int
    outcome: JobOutcome
    curves: dict[str, dict[str, np.ndarray]]  # policy -> split ("test", "desired", "train") -> loss at t = 0..T
    sim_steps: dict[str, np.ndarray]  # policy -> the steps t where SIM_t was measured
    sim_t: dict[str, np.ndarray]  # policy -> SIM_t there
    well_learned_ratios: np.ndarray  # near-optimal policy: gamma / max gamma of well-learned (t, n)
    dropped: np.ndarray  # near-optimal policy: share of training examples with zero weight, per step
    dropped_corrupted: np.ndarray  # the same among the flipped-label examples
    policy_rows: np.ndarray  # the kept policy's every POLICY_ROW_STRIDE-th row, float16 (T / stride, N)

    @classmethod
    def of(cls, result: TrainingResult) -> SeedRun:
        outcomes = [o for o in (result.conventional, result.optimal) if o is not None]
        return cls(
            seed=result.spec.seed,
            outcome=result.outcome,
            curves={
                o.policy: {"test": o.curves.test, "desired": o.curves.desired, "train": o.curves.train}
                for o in outcomes
            },
            sim_steps={o.policy: o.diagnostics.steps for o in outcomes},
            sim_t={o.policy: o.diagnostics.sim_t for o in outcomes},
            well_learned_ratios=outcomes[-1].diagnostics.well_learned_ratios,
            dropped=outcomes[-1].diagnostics.dropped,
            dropped_corrupted=outcomes[-1].diagnostics.dropped_corrupted,
            policy_rows=_policy_rows(result),
        )


# The committed reproduction keeps the kept policy at every 10th step in float16 (1.6 MB a seed,
# against 33 MB whole); the run is deterministic, so the whole policy is one rerun away.
POLICY_ROW_STRIDE = 10


def _policy_rows(result: TrainingResult) -> np.ndarray:
    if result.search is None:
        return np.zeros((0, 0), dtype=np.float16)
    return result.search.gamma[::POLICY_ROW_STRIDE].to(torch.float16).cpu().numpy()


def write_artifacts(runs: Sequence[SeedRun], out: Path) -> None:
    """curves.csv (every seed's test, desired and training curves, both policies) and policy.pt
    (each seed's kept policy, every POLICY_ROW_STRIDE-th step, float16)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["seed,policy,step,test,desired,train"]
    for r in runs:
        for policy, curves in r.curves.items():
            rows = zip(curves["test"], curves["desired"], curves["train"], strict=True)
            for t, (test, desired, train) in enumerate(rows):
                lines.append(f"{r.seed},{policy},{t},{test:.8g},{desired:.8g},{train:.8g}")
    (out / "curves.csv").write_text("\n".join(lines) + "\n")
    policies = {r.seed: torch.from_numpy(r.policy_rows) for r in runs}
    torch.save({"stride": POLICY_ROW_STRIDE, "gamma_rows": policies}, out / "policy.pt")


ProgressFn = Callable[[int, ProgressEvent], None]  # (seed, event)


def run_seeds(spec: RunSpec, seeds: Sequence[int], *, progress: ProgressFn | None = None) -> list[SeedRun]:
    """One run of `spec` per data seed, all at once in spawned processes, in seed order."""
    spec.validate()
    context = mp.get_context("spawn")
    with context.Manager() as manager:
        events = manager.Queue()
        with ProcessPoolExecutor(max_workers=len(seeds), mp_context=context) as pool:
            threads = max(1, (os.cpu_count() or 1) // len(seeds))  # no more threads than cores, all seeds together
            futures = [pool.submit(_run_one, replace(spec, seed=seed), events, threads) for seed in seeds]
            while not all(f.done() for f in futures):
                try:
                    seed, event = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                if progress is not None:
                    progress(seed, event)
            return [f.result() for f in futures]


def _run_one(spec: RunSpec, events: Any, threads: int) -> SeedRun:
    import torch

    torch.set_num_threads(threads)
    result = run(spec, progress=lambda event: events.put((spec.seed, event)))
    return SeedRun.of(result)


# -- the spread over seeds ---------------------------------------------------------------------


def measured(ratio: MeasuredRatio | None) -> float:
    """A measured ratio's value (NaN where it is a bound or missing)."""
    return ratio.value if ratio is not None and ratio.reach is Reach.MEASURED else math.nan


ROWS: list[tuple[str, Callable[[JobOutcome], float], str]] = [
    ("test AR at T, measured", lambda o: measured(o.ar_measured), ".2f"),
    # the AR from the fits only where the comparison's verdict lets it be read; the ratio and r^2
    # below are the verdict's own checks, shown whatever it says
    ("test AR at T, from the fits (verdict good)", lambda o: _ar_fit(o) if o.fits_readable else math.nan, ".2f"),
    ("fitted AR / measured AR", lambda o: _ar_fit(o) / measured(o.ar_measured), ".3f"),
    ("r^2 of those fits (the worse curve)", lambda o: min(o.conventional.r2, near_optimal(o).r2), ".3f"),
    ("desired-set AR at T, measured", lambda o: measured(o.ar_desired), ".2f"),
    ("test CR, conventional", lambda o: o.conventional.cr, ".2f"),
    ("test CR, near-optimal", lambda o: near_optimal(o).cr, ".2f"),
    ("test CR gain", lambda o: near_optimal(o).cr / o.conventional.cr - 1, ".0%"),
    ("SIM, conventional", lambda o: o.conventional.sim, ".3f"),
    ("SIM, near-optimal", lambda o: near_optimal(o).sim, ".3f"),
    ("zero-weight share among CT <= 0", lambda o: _or_nan(o.zero_weight_fraction), ".1%"),
    ("zero-weight share among CT > 0", lambda o: _or_nan(o.zero_weight_fraction_positive), ".1%"),
    ("policy's weight on CT <= 0 (the Law: 0)", lambda o: _or_nan(o.nonpositive_weight), ".1%"),
    ("well-learned with gamma < 0.2 max", lambda o: _or_nan(o.well_learned_share), ".1%"),
    ("final / least test loss, near-optimal", lambda o: near_optimal(o).end_rise, ".4f"),
    ("final / least desired loss, near-optimal", lambda o: near_optimal(o).end_rise_desired, ".4f"),
    ("outer iteration kept", lambda o: _or_nan(o.best_iteration), ".0f"),
    ("seconds", lambda o: o.seconds, ".0f"),
]


def near_optimal(outcome: JobOutcome) -> PolicyMetrics:
    """The near-optimal policy's metrics: the protocol always searches, so a run without is a fault."""
    if outcome.optimal is None:
        raise ValueError("the run made no policy search")
    return outcome.optimal


def _ar_fit(outcome: JobOutcome) -> float:
    return _or_nan(None if outcome.ar_fit is None else outcome.ar_fit.value)


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def spread(runs: Sequence[SeedRun]) -> dict[str, dict[str, float]]:
    """Each row's value per seed, mean, min and max."""
    out: dict[str, dict[str, float]] = {}
    for name, get, _ in ROWS:
        values = np.array([get(r.outcome) for r in runs], dtype=float)
        finite = values[np.isfinite(values)]
        out[name] = {
            **{f"seed {r.seed}": float(v) for r, v in zip(runs, values, strict=True)},
            "mean": float(finite.mean()) if finite.size else math.nan,
            "min": float(finite.min()) if finite.size else math.nan,
            "max": float(finite.max()) if finite.size else math.nan,
        }
    return out


def format_spread(runs: Sequence[SeedRun]) -> str:
    """The spread as a plain-text table."""
    table = spread(runs)
    heads = [f"seed {r.seed}" for r in runs] + ["mean", "min", "max"]
    lines = [f"{'':<36}" + "".join(f"{h:>10}" for h in heads)]
    for name, _, fmt in ROWS:
        cells = [table[name][h] for h in heads]
        lines.append(f"{name:<36}" + "".join(f"{table_cell(v, fmt):>10}" for v in cells))
    return "\n".join(lines)


def table_cell(value: float, fmt: str) -> str:
    """One table cell: "-" where there is no value, and three significant digits where the row's
    format would print more than 9 characters (a fit's AR of 1e35 printed with .2f fills a line)."""
    if not math.isfinite(value):
        return "-"
    text = format(value, fmt)
    return text if len(text) <= 9 else format(value, ".3g")
