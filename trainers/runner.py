"""trainers.run(spec): conventional and near-optimal learning, measured the paper's way.

Trains the uniform policy, searches a near-optimal one, retrains under it, then hands the
test-loss curves to fitting/ (shared-L0 step_power fits with bootstrap intervals, AR, CR)
and measures the Learning-Law statistics of both policies. Artifacts are written with the
configuration when spec.out_dir is set.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import fitting
from fitting.errors import InvalidInputError
from trainers.adjoint import PolicyGradient, default_checkpoint_every
from trainers.config import RunSpec
from trainers.diagnostics import LawDiagnostics, measure_learning_law
from trainers.gd import Trajectory, train, uniform_policy
from trainers.outcome import JobOutcome, LawCheckpoint, OuterIteration, PolicyMetrics
from trainers.schedule import lr_schedule
from trainers.search import SearchResult, search_policy
from trainers.tasks.base import Task
from trainers.tasks.perceptron import build_perceptron
from trainers.tasks.transformer import build_transformer


@dataclass(frozen=True)
class ProgressEvent:
    """What a run reports while it works: a phase, its share of the whole, an outer iteration."""

    phase: str
    message: str
    fraction: float
    iteration: OuterIteration | None = None


ProgressFn = Callable[[ProgressEvent], None]


@dataclass(frozen=True, eq=False)
class PolicyOutcome:
    """One policy's run as measured, in memory: its curves, the law fitted and its diagnostics
    (the numbers it reports are in TrainingResult.outcome)."""

    policy: str  # "conventional" or "optimal"
    curves: Trajectory
    fit: fitting.FitResult
    diagnostics: LawDiagnostics


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """A run: what it reports (`outcome`, typed and JSON-able: summary.json, a job's result) and
    what that was measured on (curves, fits, diagnostics, the selected policy)."""

    spec: RunSpec
    outcome: JobOutcome
    conventional: PolicyOutcome
    optimal: PolicyOutcome | None
    search: SearchResult | None


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("CUDA was asked for but is not available on this machine", field="device")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def build_task(spec: RunSpec, device: torch.device) -> Task:
    dtype = getattr(torch, spec.resolved_dtype)
    holdout = spec.search.holdout if spec.search.outer_iters else 0.0
    if spec.task == "perceptron":
        return build_perceptron(spec.perceptron, holdout=holdout, seed=spec.seed, device=device, dtype=dtype)
    return build_transformer(spec.transformer, holdout=holdout, seed=spec.seed, device=device, dtype=dtype)


def run(spec: RunSpec, progress: ProgressFn | None = None) -> TrainingResult:
    """Everything the paper's claims check (docs/paper.md, Checkable claims), for one configuration.
    Bad configuration raises InvalidInputError before any work."""
    spec.validate()
    device = resolve_device(spec.device)
    with torch_threads(spec, device):
        return _run(spec, device, progress or (lambda event: None))


@contextlib.contextmanager
def torch_threads(spec: RunSpec, device: torch.device) -> Iterator[None]:
    """One CPU thread for the perceptron: its products are matrix-vector products of a few MB,
    where a second thread only adds synchronisation (2.2 s per gradient on one thread, 21.8 s
    with two threads competing on two cores). Other tasks keep torch's default."""
    before = torch.get_num_threads()
    if device.type == "cpu" and spec.task == "perceptron":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run(spec: RunSpec, device: torch.device, report: ProgressFn) -> TrainingResult:
    torch.manual_seed(spec.seed)
    clock: dict[str, float] = {}
    started = time.perf_counter()
    task = build_task(spec, device)
    searching = spec.search.outer_iters > 0
    # phases: conventional run, search (dominant), optimal run, two diagnostics passes
    weights = {"conventional": 0.05, "search": 0.75 if searching else 0.0, "optimal": 0.05, "diagnostics": 0.15}
    steps = np.arange(1, spec.steps + 1, dtype=float)
    every = spec.search.diagnostics_every or max(1, spec.steps // 50)

    rates = lr_schedule(spec.lr_schedule, spec.eta, spec.steps)  # the rate of each update
    report(ProgressEvent("conventional", "training with the uniform policy", 0.0))
    tick = time.perf_counter()
    conventional_curves = train(task, spec.steps, rates)
    clock["conventional_run"] = time.perf_counter() - tick
    warnings = [w for w in [instability_warning(conventional_curves.train, spec.eta)] if w]
    for warning in warnings:
        report(ProgressEvent("conventional", warning, weights["conventional"]))

    search = None
    optimal_curves = None
    checkpoints: list[LawCheckpoint] = []
    if searching:
        done = weights["conventional"]
        baseline = _Baseline(conventional_curves, steps)
        inspect = checkpoint_iterations(spec.search.outer_iters, spec.search.law_checkpoints)

        def on_iteration(it: OuterIteration) -> None:
            share = weights["search"] * (it.iteration + 1) / (spec.search.outer_iters + 1)
            msg = f"outer {it.iteration}/{spec.search.outer_iters}: J desired {it.j_desired:.4g}"
            msg += f", held-out {it.j_holdout:.4g}" if np.isfinite(it.j_holdout) else ""  # none held out: no column
            msg += f", test {it.j_test:.4g}"
            msg += f"; the desired parts agree on {it.kept_share:.0%} of dJ/dgamma" if it.kept_share < 1 else ""
            report(ProgressEvent("search", msg, done + share, it))

        def on_policy(k: int, gamma: torch.Tensor, pg: PolicyGradient) -> None:
            if k in inspect:
                law = measure_learning_law(task, gamma, rates, every)
                checkpoints.append(baseline.checkpoint(k, pg, law, task.label_space))

        tick = time.perf_counter()
        search = search_policy(
            task, spec.steps, rates, spec.search,
            checkpoint_every=spec.search.checkpoint_every or default_checkpoint_every(task, spec.steps),
            progress=on_iteration, on_policy=on_policy,
        )  # fmt: skip
        clock["search"] = time.perf_counter() - tick
        report(ProgressEvent("optimal", "training with the selected policy", done + weights["search"]))
        optimal_curves = train(task, spec.steps, rates, search.gamma)

    report(ProgressEvent("diagnostics", "measuring the Learning Law", 1.0 - weights["diagnostics"]))
    tick = time.perf_counter()
    uniform = uniform_policy(task, spec.steps)
    conv_law = measure_learning_law(task, uniform, rates, every)
    opt_law = measure_learning_law(task, search.gamma, rates, every) if search is not None else None
    clock["diagnostics"] = time.perf_counter() - tick

    tick = time.perf_counter()
    optimal = comparison = ar_desired = None
    if optimal_curves is not None and opt_law is not None:
        # the same comparison the service's CompareCurves makes: shared-L0 fits on t >= fit_from,
        # AR at T from the fits and read off the curves, coefficient improvements
        comparison = fitting.compare_curves(
            (steps, conventional_curves.test[1:]),
            [(steps, optimal_curves.test[1:])],
            x_min=spec.fit_from,
            horizons=[spec.steps * f for f in (1, 10, 100, 1000)],  # T first: the summary's AR
            bootstrap=spec.bootstrap,
            seed=spec.seed,
            vocab_sizes=[task.label_space, task.label_space],
        )
        conventional_fit = comparison.baseline_fit
        optimal = PolicyOutcome("optimal", optimal_curves, comparison.candidates[0].fit, opt_law)
        ar_desired = fitting.acceleration_ratio_measured(
            steps, conventional_curves.desired[1:], steps, optimal_curves.desired[1:], float(spec.steps),
            bootstrap=spec.bootstrap, seed=spec.seed,
        )  # fmt: skip
    else:
        (conventional_fit,) = fitting.fit_joint(
            [(steps, conventional_curves.test[1:])], x_min=spec.fit_from, bootstrap=spec.bootstrap, seed=spec.seed
        )
    conventional = PolicyOutcome("conventional", conventional_curves, conventional_fit, conv_law)
    clock["fits"] = time.perf_counter() - tick
    clock["total"] = time.perf_counter() - started

    candidate = None if comparison is None else comparison.candidates[0]
    at_t = None if candidate is None else candidate.accelerations[0]  # the horizon T
    improvement = None if candidate is None else candidate.improvement
    law = None if optimal is None else optimal.diagnostics
    outcome = JobOutcome(
        task=spec.task, steps=spec.steps, train_size=task.n_train, n_params=int(task.theta0.numel()),
        label_space=task.label_space, fit_from=spec.fit_from, outer_iters=spec.search.outer_iters, device=str(device),
        conventional=_metrics(conventional, task.label_space),
        optimal=None if optimal is None else _metrics(optimal, task.label_space),
        ar_fit=None if at_t is None else at_t.ar_fit, ar_measured=None if at_t is None else at_t.ar_measured,
        ar_desired=ar_desired, db_over_b=None if improvement is None else improvement.B.value,
        dbeta_over_beta=None if improvement is None else improvement.beta.value,
        zero_weight_fraction=None if law is None else law.zero_weight_fraction,
        zero_weight_fraction_positive=None if law is None else law.zero_weight_fraction_positive,
        nonpositive_weight=None if law is None else law.nonpositive_weight,
        well_learned_share=None if law is None else law.well_learned_share,
        best_iteration=None if search is None else search.best_iteration,
        snapshots_held=None if search is None else search.snapshots_held,
        history=() if search is None else tuple(search.history), checkpoints=tuple(checkpoints), timings=clock,
        artifacts=spec.out_dir, warnings=tuple(warnings), comparison=comparison,
    )  # fmt: skip
    result = TrainingResult(spec=spec, outcome=outcome, conventional=conventional, optimal=optimal, search=search)
    if spec.out_dir:
        save_artifacts(result, Path(spec.out_dir))
    report(ProgressEvent("done", "finished", 1.0))
    return result


# Full-batch GD below its stability limit never raises the training loss; a rise beyond rounding
# means eta is past it, the trajectory is chaotic and dJ/dgamma of it is not worth following
# (measured: a 1-layer LM at eta 0.1, where float32 and float64 gradients differ 68-fold).
UNSTABLE_RISE = 1e-3


def instability_warning(train_loss: np.ndarray, eta: float) -> str:
    """A warning when the conventional run's training loss rises between steps, else ''."""
    loss = np.asarray(train_loss, dtype=float)
    rises = np.diff(loss) / np.maximum(np.abs(loss[:-1]), np.finfo(float).tiny)
    if loss.size < 2 or not np.all(np.isfinite(rises)) or rises.max() <= UNSTABLE_RISE:
        return ""
    step = int(rises.argmax()) + 1
    return (
        f"the conventional run's training loss rises by {rises.max():.1%} at step {step}: eta {eta:g} is past "
        "full-batch GD's stability limit, so the policy gradient follows a chaotic trajectory; lower eta"
    )


def checkpoint_iterations(outer_iters: int, count: int) -> set[int]:
    """About `count` outer iterations, evenly spread from 0 to the last (0 and the last always)."""
    if count <= 0 or outer_iters <= 0:
        return set()
    return {round(i * outer_iters / max(count - 1, 1)) for i in range(count)} | {0, outer_iters}


class _Baseline:
    """The conventional run's curves, smoothed once, to read each checkpoint's measured AR against."""

    def __init__(self, curves: Trajectory, steps: np.ndarray):
        self.steps = steps
        self.test = fitting.measure_curve(steps, curves.test[1:], bootstrap=0)
        self.desired = fitting.measure_curve(steps, curves.desired[1:], bootstrap=0)

    def checkpoint(self, k: int, pg: PolicyGradient, law: LawDiagnostics, labels: int) -> LawCheckpoint:
        end = len(self.steps) + 1  # a search over T + delta steps reports its first T
        test = pg.test[1:end].double().cpu().numpy()
        desired = pg.desired[1:end].double().cpu().numpy()
        horizon = float(self.steps[-1])

        def ar(base: fitting.MeasuredCurve, loss: np.ndarray) -> float:
            return fitting.measured_acceleration(
                base, fitting.measure_curve(self.steps, loss, bootstrap=0), horizon
            ).value

        return LawCheckpoint(
            iteration=k,
            cr_test=fitting.compression_ratio(test, labels),
            ar_test=1.0 if k == 0 else ar(self.test, test),
            ar_desired=1.0 if k == 0 else ar(self.desired, desired),
            sim=law.sim,
            zero_weight_fraction=law.zero_weight_fraction,
            zero_weight_fraction_positive=law.zero_weight_fraction_positive,
            nonpositive_weight=law.nonpositive_weight,
        )


def _metrics(run: PolicyOutcome, labels: int) -> PolicyMetrics:
    test = run.curves.test[1:]
    return PolicyMetrics(
        auc=float(fitting.auc(test)),
        cr=float(fitting.compression_ratio(test, labels)),
        cr_desired=float(fitting.compression_ratio(run.curves.desired[1:], labels)),
        sim=float(run.diagnostics.sim),
        fit={k: float(run.fit.params[k]) for k in ("L0", "B", "beta")},
        r2=float(run.fit.r2),
        end_rise=float(test[-1] / test.min()),
        end_rise_desired=float(run.curves.desired[-1] / run.curves.desired[1:].min()),
    )


def save_artifacts(result: TrainingResult, out: Path) -> None:
    """config.json, summary.json, curves.csv, history.csv and policy.pt (the selected gamma)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(result.spec.to_dict(), indent=2))
    (out / "summary.json").write_text(json.dumps(result.outcome.summary(), indent=2, default=float))
    lines = ["policy,step,desired,holdout,test,train"]
    for outcome in (result.conventional, result.optimal):
        if outcome is None:
            continue
        c = outcome.curves
        for t in range(len(c.test)):
            lines.append(f"{outcome.policy},{t},{c.desired[t]:.8g},{c.holdout[t]:.8g},{c.test[t]:.8g},{c.train[t]:.8g}")
    (out / "curves.csv").write_text("\n".join(lines) + "\n")
    if result.search is not None:
        rows = ["iteration,j_desired,j_holdout,j_test,lr,seconds,kept_share"]
        rows += [
            f"{h.iteration},{h.j_desired},{h.j_holdout},{h.j_test},{h.lr},{h.seconds},{h.kept_share}"
            for h in result.search.history
        ]
        (out / "history.csv").write_text("\n".join(rows) + "\n")
        torch.save(
            {"gamma": result.search.gamma.to(torch.float32).cpu(), "config": result.spec.to_dict()}, out / "policy.pt"
        )
