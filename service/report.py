"""Report figures (matplotlib, headless): loss curves with their fitted laws on log-log axes, AR
against horizon with its interval band, and for training jobs the Learning-Law view."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import fitting
from fitting.comparison import ComparisonResult

MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
PLOT_POINTS = 2_000  # points drawn per curve: more are invisible at this size and cost memory and time


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
    job_summary: dict[str, Any] | None = None,
) -> bytes:
    """One figure: curves and fits | AR vs horizon | (jobs) CR per outer iteration and SIM vs CR."""
    panels = 3 if job_summary else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2), constrained_layout=True)
    _curves_panel(axes[0], curves, comparison)
    _ar_panel(axes[1], curves, comparison)
    if job_summary:
        _law_panel(axes[2], job_summary)
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


def _curves_panel(ax: Any, curves: Sequence[LabelledCurve], comparison: ComparisonResult) -> None:
    fits = [comparison.baseline_fit] + [c.fit for c in comparison.candidates]
    for curve, fit in zip(curves, fits, strict=True):
        (line,) = ax.loglog(*thin(curve.x, curve.loss), lw=1, alpha=0.6, label=curve.label)
        law = fitting.get_law(fit.law)
        lo, hi = fit.x_range
        grid = np.geomspace(max(lo, 1e-12), hi, 200)
        params = ", ".join(f"{k}={v:.3g}" for k, v in fit.params.items())
        ax.loglog(grid, law.evaluate(grid, fit.params), "--", color=line.get_color(), lw=1.5, label=f"fit: {params}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats)")
    ax.set_title("loss curves and fitted laws")
    ax.legend(fontsize=7)


def _ar_panel(ax: Any, curves: Sequence[LabelledCurve], comparison: ComparisonResult) -> None:
    last = float(curves[0].x[-1])
    horizons = np.geomspace(max(float(curves[0].x[0]), 1.0) * 10, last * 1000, 40)
    for curve, cand in zip(curves[1:], comparison.candidates, strict=True):
        estimates = [fitting.acceleration_ratio(comparison.baseline_fit, cand.fit, float(h)) for h in horizons]
        values = np.array([e.value for e in estimates])
        (line,) = ax.semilogx(horizons, values, label=f"{curve.label} vs {curves[0].label}")
        if all(e.has_interval for e in estimates):
            low = np.array([e.low for e in estimates])
            high = np.array([e.high for e in estimates])
            ax.fill_between(horizons, low, high, color=line.get_color(), alpha=0.2, label="95 % interval")
        measured = [a.horizon for a in cand.accelerations if a.ar_measured.has_interval]
        if measured:
            m = [a.ar_measured for a in cand.accelerations if a.ar_measured.has_interval]
            values = np.array([r.value for r in m])
            spread = np.array([values - [r.low for r in m], [r.high for r in m] - values])
            ax.errorbar(measured, values, yerr=spread, fmt="o", color=line.get_color(), capsize=3,
                        label="measured on the curves (95 % interval)")  # fmt: skip
    ax.axvline(last, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("horizon T (steps)")
    ax.set_ylabel("acceleration ratio AR(T)")
    ax.set_title("AR against horizon")
    ax.legend(fontsize=7)


def _law_panel(ax: Any, summary: dict[str, Any]) -> None:
    """SIM against CR for the two policies, and the test CR the search reached at each iteration."""
    steps, vocab = summary["steps"], summary.get("label_space") or 2
    points = [("conventional", summary["cr_conventional"], summary["sim_conventional"])]
    if summary.get("cr_optimal") is not None:
        points.append(("near-optimal", summary["cr_optimal"], summary["sim_optimal"]))
    for label, cr_value, sim in points:
        ax.plot([cr_value], [sim], "o", ms=8, label=f"{label}: CR {cr_value:.3g}, SIM {sim:.3g}")
    history = summary.get("history", [])
    if history:
        crs = [steps * math.log2(vocab) / h["j_test"] for h in history]
        ax.plot(crs, [points[0][2]] * len(crs), "|", color="grey", ms=12, label="CR at each outer iteration")
    ax.set_xlabel("compression ratio (paper units)")
    ax.set_ylabel("SIM")
    ax.set_title("Learning Law: SIM against CR")
    ax.legend(fontsize=7)
