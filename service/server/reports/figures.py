"""Report figures (matplotlib, headless): loss curves with their fitted laws on log-log axes, AR
against horizon with its interval band, and for training jobs the Learning-Law view."""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

import fitting
from fitting.comparison import ComparisonResult
from service.formatting import interval, number
from trainers.outcome import JobOutcome

MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
PLOT_POINTS = 2_000  # points drawn per curve: more are invisible at this size and cost memory and time
LOG_AR_ABOVE = 30.0  # the AR axis turns logarithmic past this, with the AR = 1 line still drawn
EXTRAPOLATED = {"color": "0.5", "alpha": 0.12}  # the shading of steps past the last measured one


@dataclass(frozen=True)
class LabelledCurve:
    label: str
    x: np.ndarray
    loss: np.ndarray


def render(
    curves: Sequence[LabelledCurve],
    comparison: ComparisonResult,
    *,
    fmt: str = "png",
    job_outcome: JobOutcome | None = None,
    x_min: float | None = None,
    bootstrap: int = 0,
) -> bytes:
    """One figure: curves and fits | AR vs horizon | (jobs) SIM vs CR, with a caption that says
    how the fits were made (range, law, resamples), so the figure can be read on its own."""
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"no report format {fmt!r}: use {', '.join(MEDIA_TYPES)}")
    panels = 3 if job_outcome else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.6 * panels, 5.0), constrained_layout=True)
    _curves_panel(axes[0], curves, comparison, x_min)
    _ar_panel(axes[1], curves, comparison)
    if job_outcome:
        _law_panel(axes[2], job_outcome)
    fig.supxlabel(textwrap.fill(caption(comparison, x_min, bootstrap), 70 * panels), fontsize=8, color="0.3")
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=110)
    plt.close(fig)
    return out.getvalue()


def thin(x: np.ndarray, loss: np.ndarray, limit: int = PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most `limit` points of a curve for a log-x plot: indices spaced evenly in log, so the
    early steps keep their detail and the long tail is sampled; the first and last points stay."""
    if x.size <= limit:
        return x, loss
    keep = np.unique(np.geomspace(1, x.size, limit).round().astype(np.int64) - 1)
    return x[keep], loss[keep]


def caption(comparison: ComparisonResult, x_min: float | None, bootstrap: int) -> str:
    fit = comparison.baseline_fit
    law = fitting.get_law(fit.law)
    shared_text = f", {', '.join(fit.shared)} shared" if fit.shared else ""
    range_text = f"x_min = {number(x_min)}" if x_min else "x_min: none (every point)"
    intervals = f"95 % intervals from {bootstrap} bootstrap resamples" if bootstrap else "95 % Wald intervals"
    poor = [c for c in comparison.candidates if c.verdict is not None and not c.verdict.good]
    warning = (
        " (!) The laws do not describe the curves (see the verdicts): the AR from the fits is not to be "
        "read; the measured AR is."
        if poor
        else ""
    )
    return (
        f"Fits of {fit.law}: L = {law.formula}{shared_text}, on {range_text}; {intervals}. "
        "Shaded: steps past the last measured one, where the fitted laws are extrapolated." + warning
    )


def _params_label(fit: Any) -> str:
    """'fit: L0 = 0.102 [0.0005, 0.253]' and so on, one parameter a line, in the law's order."""
    law = fitting.get_law(fit.law)
    lines = []
    for name in law.param_names:
        low, high = fit.ci.get(name, (math.nan, math.nan))
        lines.append(f"{name} = {interval(fit.params[name], low, high)}")
    return "fit: " + "\n      ".join(lines)


def _shade_extrapolated(ax: Any, last: float, right: float) -> None:
    ax.axvspan(last, right, **EXTRAPOLATED, lw=0)
    ax.text(last * 1.15, 0.02, "extrapolated", transform=ax.get_xaxis_transform(), fontsize=8, color="0.35")


def _curves_panel(ax: Any, curves: Sequence[LabelledCurve], comparison: ComparisonResult, x_min: float | None) -> None:
    fits = [comparison.baseline_fit] + [c.fit for c in comparison.candidates]
    last = max(float(c.x[-1]) for c in curves)
    right = last * 10  # a decade of the laws past the data: enough to see where they lead
    for curve, fit in zip(curves, fits, strict=True):
        (line,) = ax.loglog(*thin(curve.x, curve.loss), lw=1, alpha=0.55, label=f"{curve.label} (measured)")
        law = fitting.get_law(fit.law)
        lo = max(fit.x_range[0], 1e-12)
        grid = np.geomspace(lo, right, 300)
        ax.loglog(grid, law.evaluate(grid, fit.params), "--", color=line.get_color(), lw=1.5, label=_params_label(fit))
    _shade_extrapolated(ax, last, right)
    if x_min:
        ax.axvline(x_min, color="0.3", lw=0.8, ls=":")
        ax.text(x_min * 1.1, 0.03, "x_min: fits start", transform=ax.get_xaxis_transform(), fontsize=8, color="0.3")
    ax.set_xlim(right=right)
    # 4 and 6 rather than 4x10^0: a loss axis spans a decade or two
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number(v)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: number(v)))
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats)")
    ax.set_title("loss curves and fitted laws")
    ax.legend(fontsize=7, loc="best")  # where it hides the fewest points


def _ar_panel(ax: Any, curves: Sequence[LabelledCurve], comparison: ComparisonResult) -> None:
    last = float(curves[0].x[-1])
    right = last * 1000
    # from where the fits start: before it the laws would be extrapolated backwards, unshaded
    horizons = np.geomspace(max(comparison.baseline_fit.x_range[0], 1.0), right, 60)
    for curve, cand in zip(curves[1:], comparison.candidates, strict=True):
        estimates = [fitting.acceleration_ratio(comparison.baseline_fit, cand.fit, float(h)) for h in horizons]
        values = np.array([e.value for e in estimates])
        poor = cand.verdict is not None and not cand.verdict.good  # shown with the warning, never bare
        label = f"AR fit: {curve.label} vs {curves[0].label}" + (" (!) laws poor: not to be read" if poor else "")
        (line,) = ax.semilogx(horizons, values, label=label, linestyle=":" if poor else "-")
        if all(e.has_interval for e in estimates):
            low = np.array([e.low for e in estimates])
            high = np.array([e.high for e in estimates])
            ax.fill_between(horizons, low, high, color=line.get_color(), alpha=0.25, label="AR fit, 95 % interval")
        else:  # fits without their resamples (a job stored before outcomes were typed): the intervals it stored
            fitted = [(a.horizon, a.ar_fit) for a in cand.accelerations if a.ar_fit.has_interval]
            _interval_bars(ax, fitted, line.get_color(), "s", "AR fit (95 % interval)")
        measured = [(a.horizon, a.ar_measured) for a in cand.accelerations if a.ar_measured.has_interval]
        _interval_bars(ax, measured, line.get_color(), "o", "AR measured (95 % interval)")
    ax.axhline(1.0, color="0.2", lw=0.9, ls="-.", label="AR = 1: no speed-up")
    _shade_extrapolated(ax, last, right)
    ax.set_xlim(horizons[0], right)
    _, high = ax.get_ylim()
    if high > LOG_AR_ABOVE:  # a ratio that grows by orders of magnitude would flatten the measured points
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: number(v)))
    else:
        ax.set_ylim(bottom=0)  # ratios from 0: the distance from AR = 1 is the speed-up, not a zoom
    ax.set_xlabel("horizon T (steps)")
    ax.set_ylabel("acceleration ratio AR(T)")
    ax.set_title("AR against horizon")
    ax.legend(fontsize=7, loc="upper left")


def _interval_bars(ax: Any, points: Sequence[tuple[float, Any]], color: Any, marker: str, label: str) -> None:
    """Estimates (value, low, high) at their horizons as bars, their values written in the legend."""
    if not points:
        return
    values = np.array([e.value for _, e in points])
    spread = np.array([values - [e.low for _, e in points], [e.high for _, e in points] - values])
    # a percentile interval need not hold its estimate (the smoother's bias is not resampled,
    # and noiseless curves give intervals of width ~1e-4): a bar never reaches past it
    spread = np.clip(spread, 0.0, None)
    text = ", ".join(interval(e.value, e.low, e.high) for _, e in points)
    ax.errorbar([h for h, _ in points], values, yerr=spread, fmt=marker, color=color, capsize=3, mfc="white",
                label=f"{label}: {text}")  # fmt: skip


def _law_panel(ax: Any, outcome: JobOutcome) -> None:
    """SIM against CR for the two policies, on axes from 0, so the change between them is drawn
    to scale (a 0.3 % change in CR must not fill the panel), with the relative changes written."""
    steps, vocab = outcome.steps, outcome.label_space or 2
    points = [("conventional", outcome.conventional.cr, outcome.conventional.sim)]
    if outcome.optimal is not None:
        points.append(("near-optimal", outcome.optimal.cr, outcome.optimal.sim))
    for label, cr_value, sim in points:
        ax.plot([cr_value], [sim], "o", ms=8, label=f"{label}: CR {number(cr_value)}, SIM {number(sim)}")
    crs = [steps * math.log2(vocab) / h.j_test for h in outcome.history]
    if crs:
        ax.plot(crs, [points[0][2]] * len(crs), "|", color="grey", ms=12, label="CR at each outer iteration")
    xs = [p[1] for p in points] + crs
    ys = [p[2] for p in points]
    ax.set_xlim(min(0.0, *xs), max(xs) * 1.25)
    ax.set_ylim(min(0.0, *ys) * 1.25, max(0.0, *ys) * 1.25 or 1.0)
    if len(points) == 2:
        (_, cr0, sim0), (_, cr1, sim1) = points
        ax.text(0.03, 0.97, f"near-optimal vs conventional:\nCR {_change(cr0, cr1)}, SIM {_change(sim0, sim1)}",
                transform=ax.transAxes, va="top", fontsize=8)  # fmt: skip
    ax.set_xlabel("compression ratio CR (paper units)")
    ax.set_ylabel("SIM")
    ax.set_title("Learning Law: SIM against CR")
    ax.legend(fontsize=7, loc="lower right")


def _change(before: float, after: float) -> str:
    """'+0.3 %': the relative change, the number a zoomed axis would hide."""
    if not before:
        return "-"
    return f"{100 * (after - before) / abs(before):+.1f} %"
