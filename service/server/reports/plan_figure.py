"""The figure of a compute-optimal plan (matplotlib, headless): the fitted runs as IsoFLOP profiles
with their parabolas and minima beside the fitted law's own profiles; the frontier N*(C) with its
band (Approach 3) and the profiles' minima with their power law (Approach 2); and tokens per
parameter against compute. The budgets asked for are marked; compute past the fitted runs is
shaded, as there the law is extrapolated."""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

import fitting
from fitting.compute_optimal import plan_law
from service.formatting import interval, number
from service.server.reports.figures import EXTRAPOLATED, MEDIA_TYPES

GRID = 80  # budgets the frontier's band is drawn at
A3, A2 = "C0", "C3"


def render_plan(
    fit: fitting.FitResult,
    plan: fitting.ComputePlan,
    data: Mapping[str, np.ndarray],
    loss: np.ndarray,
    isoflop: fitting.IsoFlopResult | None,
    *,
    fmt: str = "png",
) -> bytes:
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"no figure format {fmt!r}: use {', '.join(MEDIA_TYPES)}")
    k = plan.flops_per_token
    budgets = np.array([row.budget for row in plan.rows])
    fitted = np.array(plan.fitted_compute)
    span = budgets if np.isnan(fitted).any() else np.concatenate([budgets, fitted])
    grid = np.geomspace(span.min() / 3, span.max() * 3, GRID)
    frontier = fitting.compute_optimal(fit, grid, k)
    fig, axes = plt.subplots(1, 3, figsize=(17.0, 5.2), constrained_layout=True)
    _profiles_panel(axes[0], fit, data, loss, isoflop, k)
    _frontier_panel(axes[1], plan, frontier, grid, isoflop, "N")
    _frontier_panel(axes[2], plan, frontier, grid, isoflop, "ratio")
    fig.supxlabel(textwrap.fill(_caption(plan, isoflop), 210), fontsize=8, color="0.3")
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=110)
    plt.close(fig)
    return out.getvalue()


def _profiles_panel(
    ax: Axes, fit: fitting.FitResult, data: Mapping[str, np.ndarray], loss: np.ndarray,
    isoflop: fitting.IsoFlopResult | None, k: float,
) -> None:  # fmt: skip
    """The runs against N, coloured by compute; each profile's parabola (solid) and minimum with
    its interval, and the fitted law along the same budget (dashed), so the approaches show apart."""
    law = plan_law(fit.law)
    if "N" not in data or "D" not in data:
        ax.text(0.5, 0.5, "no N and D columns to draw", ha="center", transform=ax.transAxes)
        return
    n, d = data["N"], data["D"]
    compute = k * n * d
    cmap = plt.get_cmap("viridis")
    lo, hi = np.log10(compute.min()), np.log10(compute.max())

    def colour(c: float) -> tuple[float, float, float, float]:
        return cmap(0.0 if hi == lo else (math.log10(c) - lo) / (hi - lo) * 0.9)

    ax.scatter(n, loss, s=10, c=[colour(c) for c in compute], alpha=0.6, linewidths=0)
    profiles = isoflop.profiles if isoflop is not None else ()
    for p in profiles:
        sizes = np.geomspace(p.n.min(), p.n.max(), 60)
        ax.plot(sizes, p.parabola(sizes), color=colour(p.budget), lw=1.4)
        along = law.evaluate({"N": sizes, "D": p.budget / (k * sizes)}, fit.params)
        ax.plot(sizes, along, color=colour(p.budget), lw=1.0, ls="--", alpha=0.8)
        if p.status == "ok":
            e = p.n_opt
            xerr = [[e.value - e.low], [e.high - e.value]] if e.has_interval else None
            ax.errorbar([e.value], [p.loss_opt.value], xerr=xerr, fmt="o", ms=5, color=A2, mec="k", mew=0.6,
                        capsize=2, zorder=5)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel("final loss")
    title = f"IsoFLOP profiles: {len(profiles)}" if profiles else "runs (no IsoFLOP profiles)"
    ax.set_title(title + "\nsolid: parabola in log N (Approach 2); dashed: the fitted law", fontsize=10)
    ax.grid(True, alpha=0.2)


def _frontier_panel(
    ax: Axes, plan: fitting.ComputePlan, frontier: fitting.ComputePlan, grid: np.ndarray,
    isoflop: fitting.IsoFlopResult | None, what: str,
) -> None:  # fmt: skip
    """N*(C) (what "N") or D*/N* (what "ratio") against compute: Approach 3's line and band, the
    IsoFLOP minima and their power law, the budgets asked for, the extrapolated compute shaded."""

    def pick(row: fitting.PlanRow) -> fitting.Estimate:
        return row.n_opt if what == "N" else row.tokens_per_param

    value = np.array([pick(r).value for r in frontier.rows])
    low, high = np.array([pick(r).low for r in frontier.rows]), np.array([pick(r).high for r in frontier.rows])
    a3 = f"Approach 3 (fitted law): a = {interval(plan.a.value, plan.a.low, plan.a.high)}"
    ax.plot(grid, value, color=A3, lw=1.8, label=a3)
    if frontier.n_resamples:
        ax.fill_between(grid, low, high, color=A3, alpha=0.18, lw=0, label="95 % band")
    if isoflop is not None:
        ok = [p for p in isoflop.profiles if p.status == "ok"]
        c = np.array([p.budget for p in ok])
        n = np.array([p.n_opt.value for p in ok])
        lo = np.array([p.n_opt.low for p in ok])
        hi = np.array([p.n_opt.high for p in ok])
        k = isoflop.flops_per_token
        y, y_lo, y_hi = (n, lo, hi) if what == "N" else (c / (k * n**2), c / (k * hi**2), c / (k * lo**2))
        a = interval(isoflop.a.value, isoflop.a.low, isoflop.a.high)
        a2 = f"Approach 2 (IsoFLOP minima; dashed: k C^a): a = {a}"
        ax.errorbar(c, y, yerr=[np.nan_to_num(y - y_lo), np.nan_to_num(y_hi - y)], fmt="o", ms=5, color=A2,
                    mec="k", mew=0.6, capsize=2, label=a2, zorder=5)  # fmt: skip
        fitted = np.array([e.value for e in isoflop.n_opt(grid)])
        ax.plot(grid, fitted if what == "N" else grid / (k * fitted**2), color=A2, lw=1.2, ls="--")
    for row in plan.rows:
        e = pick(row)
        ax.axvline(row.budget, color="0.4", lw=0.7, ls=":")
        ax.plot([row.budget], [e.value], marker="D", ms=6, color="k", zorder=6)
        ax.annotate(number(e.value), (row.budget, e.value), xytext=(6, -12), textcoords="offset points", fontsize=8)
    low_c, high_c = plan.fitted_compute
    if not math.isnan(low_c):
        ax.axvspan(grid[0], low_c, color=EXTRAPOLATED["color"], alpha=EXTRAPOLATED["alpha"])
        ax.axvspan(high_c, grid[-1], color=EXTRAPOLATED["color"], alpha=EXTRAPOLATED["alpha"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_xlabel(f"compute C = {number(plan.flops_per_token)} N D (FLOPs)")
    if what == "N":
        ax.set_ylabel("compute-optimal parameters N*")
        ax.set_title("the frontier N*(C); diamonds: the budgets asked for\nshaded: past the fitted runs", fontsize=10)
    else:
        ax.set_ylabel("tokens per parameter D*/N*")
        ax.set_title("tokens per parameter at the optimum", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, alpha=0.2)


def _caption(plan: fitting.ComputePlan, isoflop: fitting.IsoFlopResult | None) -> str:
    parts = [
        f"law {plan.law}, minimised over N ({plan.method}) with D = C / ({number(plan.flops_per_token)} N)",
        f"intervals: 95 % from {plan.n_resamples} resamples of the fit" if plan.n_resamples else "no intervals: the "
        "fit has no resamples",
    ]  # fmt: skip
    if isoflop is not None:
        parts.append(f"IsoFLOP: {len(isoflop.profiles)} profiles, {isoflop.left_out} runs in none")
    far = [r for r in plan.rows if r.extrapolation > 0]
    if far:
        worst = max(r.extrapolation for r in far)
        parts.append(f"{len(far)} budget(s) past the fitted runs' compute, up to {worst:.2g} orders of magnitude")
    return "; ".join(parts)
