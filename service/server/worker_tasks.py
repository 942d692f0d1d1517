"""What a request does in a compute worker (service/server/compute.py), not on the server's event loop:
everything that reads user-shaped input beyond its size. A law given as text is used here (it
was first read on the loop by convert.fit_options, bounded work, so a bad one names options.law).
A job's configuration is not: it loads no torch, and the server checks it (limits.check_job)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

import fitting
from fitting.comparison import ComparisonResult
from fitting.isoflop import MAX_RUNS
from protos.scalinglaw.v1 import scalinglaw_pb2 as pb
from service import models
from service.server import convert
from service.server.jobs.results import JobComparison
from service.server.reports import html, plan_figure
from service.server.reports.figures import LabelledCurve, render
from service.server.store import CurvePoints
from trainers.outcome import JobOutcome


def fit_curves(curves: list[CurvePoints], options: fitting.FitOptions) -> list[fitting.FitResult]:
    """One curve, a batch, or a joint fit (shared parameters across several curves)."""
    law = options.resolve_law()
    pairs = [(_inputs(points, law), points.loss) for points in curves]
    if options.shared and len(pairs) > 1:
        return fitting.fit_joint(pairs, options=options)
    if len(pairs) == 1:
        return [fitting.fit_curve(*pairs[0], options=options)]
    return fitting.fit_batch(pairs, options=options)


def compare_curves(
    curves: list[CurvePoints],
    vocab_sizes: list[int],
    options: fitting.FitOptions,
    horizons: list[float] | None,
    target_losses: list[float],
    share_nothing: bool = False,
) -> ComparisonResult:
    """The first curve against the others: what options.shared names shared; nothing with
    share_nothing; else L0, where the law has it and the shared-floor test does not reject it."""
    law = options.resolve_law()
    (base, *candidates) = [(_inputs(points, law), points.loss) for points in curves]
    return fitting.compare_curves(
        base, candidates, horizons=horizons, target_losses=target_losses, vocab_sizes=vocab_sizes, options=options,
        test_floor=not options.shared and not share_nothing,
    )  # fmt: skip


def backtest_curves(
    curves: Mapping[str, CurvePoints], split_ids: list[str], pairs: list[tuple[str, str]], laws: list[str],
    fractions: list[float], options: fitting.FitOptions,
) -> fitting.BacktestResult:  # fmt: skip
    """The curves split_ids at each fraction and the pairs (fit on, predict), by curve id."""
    named = {cid: fitting.BacktestCurve(cid, p.x, p.loss, p.columns) for cid, p in curves.items()}
    return fitting.backtest(
        [named[cid] for cid in split_ids], laws, fractions, [(named[a], named[b]) for a, b in pairs], options=options
    )


def render_curves_report(
    curves: list[CurvePoints], labels: list[str], ids: list[str], vocab_sizes: list[int],
    options: fitting.FitOptions, target_losses: list[float], *, fmt: str, share_nothing: bool = False,
) -> bytes:  # fmt: skip
    """The first curve against the others, compared as CompareCurves compares them, then drawn and
    (html) tabled from that one comparison."""
    result = compare_curves(curves, vocab_sizes, options, None, target_losses, share_nothing)
    message = convert.comparison_to_pb(result, ids[0], ids[1:])
    settings = html.curves_settings(options.x_min, options.bootstrap)
    backtest = None
    if fmt == "html":  # can the law's extrapolation be trusted? its backtest on these curves, no band
        named = dict(zip(ids, curves, strict=True))
        backtest = backtest_curves(named, ids, [], [options.law if isinstance(options.law, str) else options.law.name],
                                   list(fitting.DEFAULT_TRAIN_FRACTIONS), replace(options, bootstrap=0))  # fmt: skip
    return _render(curves, labels, result, message, fmt=fmt, x_min=options.x_min, job_outcome=None,
                   settings=settings, target_losses=target_losses, backtest=backtest)  # fmt: skip


def render_job_report(
    curves: list[CurvePoints], labels: list[str], compared: JobComparison, *, fmt: str, x_min: float,
    job_outcome: JobOutcome | None, settings: dict[str, str],
) -> bytes:  # fmt: skip
    """The comparison a job's run made (stored with its outcome), drawn as it is: never a new one,
    so a job's figure, its page and `scalinglaw jobs` show the same numbers."""
    message = convert.comparison_to_pb(compared.comparison, compared.baseline_id, compared.candidate_ids)
    return _render(curves, labels, compared.comparison, message, fmt=fmt, x_min=x_min, job_outcome=job_outcome,
                   settings=settings, target_losses=())  # fmt: skip


def _render(
    curves: Sequence[CurvePoints], labels: Sequence[str], result: ComparisonResult, message: pb.Comparison, *,
    fmt: str, x_min: float | None, job_outcome: JobOutcome | None, settings: Mapping[str, str],
    target_losses: Sequence[float], backtest: fitting.BacktestResult | None = None,
) -> bytes:  # fmt: skip
    """The figure in `fmt`; for html, the page around it as SVG, its tables made from the reply
    models of `message` (the same comparison as `result`) as the client would get them."""
    drawn = [LabelledCurve(label, c.x, c.loss) for label, c in zip(labels, curves, strict=True)]
    bootstrap = message.baseline_fit.n_bootstrap
    figure = render(drawn, result, fmt="svg" if fmt == "html" else fmt, job_outcome=job_outcome, x_min=x_min,
                    bootstrap=bootstrap)  # fmt: skip
    if fmt != "html":
        return figure
    ids = [message.baseline_id, *(c.curve_id for c in message.candidates)]
    names = dict(zip(ids, labels, strict=True))
    rows = models.backtest_from_pb(convert.backtest_to_pb(backtest)) if backtest is not None else None
    return html.page(models.comparison_from_pb(message), names, figure, settings, target_losses, rows).encode()


def predict_curve(
    points: CurvePoints | None, options: fitting.FitOptions, stored: fitting.FitResult | None, x: list[float],
    lr: list[float],
) -> tuple[fitting.FitResult, fitting.PredictionResult]:  # fmt: skip
    """A stored fit, or the curve fitted now, applied at x (under the schedule lr, for a schedule law)."""
    fit = stored if stored is not None else fit_curves([points], options)[0] if points is not None else None
    if fit is None:
        raise fitting.InvalidInputError("give a fit_id or a curve_id", field="source")
    return fit, fitting.predict(fit, x, lr=lr or None)


@dataclass(frozen=True, eq=False)
class PlannedCompute:
    """A plan, the IsoFLOP profiles of the fitted points (None, and the reason, where they make
    none) and the figure (empty unless asked for)."""

    plan: fitting.ComputePlan
    isoflop: fitting.IsoFlopResult | None
    isoflop_reason: str
    figure: bytes


def plan_compute(
    fit: fitting.FitResult, points: CurvePoints, budgets: list[float], flops_per_token: float, width: float,
    fmt: str | None,
) -> PlannedCompute:  # fmt: skip
    """Approach 3 from the fit at the budgets; Approach 2 from the fit's points (N, D and loss; a
    column C gives each run's compute, else it is flops_per_token N D); the figure in fmt."""
    data: dict[str, np.ndarray] = {name: points.columns[name] for name in ("N", "D") if name in points.columns}
    plan = fitting.compute_optimal(fit, budgets, flops_per_token, data=data if len(data) == 2 else None)
    isoflop, reason = None, "the fit's curve has no columns N and D"
    if len(data) == 2 and points.loss.size > MAX_RUNS:
        reason = f"{points.loss.size} points: IsoFLOP profiles are read from at most {MAX_RUNS} runs"
    elif len(data) == 2:
        try:  # a point set need not be IsoFLOP runs: then the plan stands alone, and says why
            isoflop = fitting.isoflop_profiles(
                data["N"], data["D"], points.loss, compute=points.columns.get("C"), flops_per_token=flops_per_token,
                width=width, bootstrap=max(plan.n_resamples, 200), seed=0,
            )  # fmt: skip
            reason = ""
        except fitting.FitImpossibleError as exc:
            reason = exc.message
    figure = b""
    if fmt is not None:
        figure = plan_figure.render_plan(fit, plan, data, points.loss, isoflop, fmt=fmt)
    return PlannedCompute(plan, isoflop, reason, figure)


def _inputs(points: CurvePoints, law: fitting.Law) -> Any:
    """x, or the named inputs a multi-input law needs (a schedule law's are x and the column lr)."""
    if len(law.inputs) > 1:
        named = {"x": points.x, **points.columns}
        return {name: named[name] for name in law.inputs if name in named}
    return points.x
