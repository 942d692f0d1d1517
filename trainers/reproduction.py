"""The paper's perceptron protocol over several data seeds: the runs, their spread, the report.

    python -m trainers perceptron --preset paper [--seeds 0,1,2] [--json OUT] [--report DIR]
    python -m trainers reproduce perceptron --out DIR

Each seed is one `trainers.run` (conventional run, policy search, the kept policy retrained,
Learning-Law diagnostics, fits and AR read both ways) in its own process; the seeds run at once,
one torch thread each, so three seeds on two cores take about 1.5 times one seed.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from trainers.config import RunSpec
from trainers.run import ProgressEvent, TrainingResult, run


@dataclass(frozen=True, eq=False)
class SeedRun:
    """What the report needs of one seed's run: its summary and its curves, as plain arrays."""

    seed: int
    summary: dict[str, Any]
    curves: dict[str, dict[str, np.ndarray]]  # policy -> split ("test", "desired", "train") -> loss at t = 0..T
    sim_steps: dict[str, np.ndarray]  # policy -> the steps t where SIM_t was measured
    sim_t: dict[str, np.ndarray]  # policy -> SIM_t there
    well_learned_ratios: np.ndarray  # near-optimal policy: gamma / max gamma of well-learned (t, n)

    @classmethod
    def of(cls, result: TrainingResult) -> SeedRun:
        outcomes = [o for o in (result.conventional, result.optimal) if o is not None]
        return cls(
            seed=result.spec.seed,
            summary=result.summary(),
            curves={
                o.policy: {"test": o.curves.test, "desired": o.curves.desired, "train": o.curves.train}
                for o in outcomes
            },
            sim_steps={o.policy: o.diagnostics.steps for o in outcomes},
            sim_t={o.policy: o.diagnostics.sim_t for o in outcomes},
            well_learned_ratios=outcomes[-1].diagnostics.well_learned_ratios,
        )


ProgressFn = Callable[[int, ProgressEvent], None]  # (seed, event)


def run_seeds(spec: RunSpec, seeds: Sequence[int], *, progress: ProgressFn | None = None) -> list[SeedRun]:
    """One run of `spec` per data seed, all at once in spawned processes, in seed order."""
    spec.validate()
    context = mp.get_context("spawn")
    with context.Manager() as manager:
        events = manager.Queue()
        with ProcessPoolExecutor(max_workers=len(seeds), mp_context=context) as pool:
            futures = [pool.submit(_run_one, replace(spec, seed=seed), events) for seed in seeds]
            while not all(f.done() for f in futures):
                try:
                    seed, event = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                if progress is not None:
                    progress(seed, event)
            return [f.result() for f in futures]


def _run_one(spec: RunSpec, events: Any) -> SeedRun:
    result = run(spec, progress=lambda event: events.put((spec.seed, event)))
    return SeedRun.of(result)


# -- the spread over seeds ---------------------------------------------------------------------


def measured(summary: dict[str, Any], key: str) -> float:
    """A measured ratio's value (NaN where it is a bound or missing)."""
    m = summary.get(key) or {}
    return float(m["value"]) if m.get("reach") == "measured" else math.nan


ROWS: list[tuple[str, Callable[[dict[str, Any]], float], str]] = [
    ("test AR at T, measured", lambda s: measured(s, "ar_measured"), ".2f"),
    ("test AR at T, from the fits", lambda s: s["ar_fit"], ".2f"),
    ("r^2 of those fits (the worse curve)", lambda s: min(s["fit_r2"].values()), ".3f"),
    ("desired-set AR at T, measured", lambda s: measured(s, "ar_desired_measured"), ".2f"),
    ("test CR, conventional", lambda s: s["cr_conventional"], ".2f"),
    ("test CR, near-optimal", lambda s: s["cr_optimal"], ".2f"),
    ("test CR gain", lambda s: s["cr_optimal"] / s["cr_conventional"] - 1, ".0%"),
    ("SIM, conventional", lambda s: s["sim_conventional"], ".3f"),
    ("SIM, near-optimal", lambda s: s["sim_optimal"], ".3f"),
    ("zero-weight share among CT <= 0", lambda s: s["zero_weight_fraction_optimal"], ".1%"),
    ("well-learned with gamma < 0.2 max", lambda s: _or_nan(s["well_learned_share_optimal"]), ".1%"),
    ("outer iteration kept", lambda s: s["best_iteration"], ".0f"),
    ("seconds", lambda s: s["seconds"], ".0f"),
]


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def spread(runs: Sequence[SeedRun]) -> dict[str, dict[str, float]]:
    """Each row's value per seed, mean, min and max."""
    out: dict[str, dict[str, float]] = {}
    for name, get, _ in ROWS:
        values = np.array([get(r.summary) for r in runs], dtype=float)
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
        lines.append(f"{name:<36}" + "".join(f"{_cell(v, fmt):>10}" for v in cells))
    return "\n".join(lines)


def _cell(value: float, fmt: str) -> str:
    return "-" if not math.isfinite(value) else format(value, fmt)
