"""IsoFLOP profiles (Approach 2 of Hoffmann et al. 2022): runs grouped by their compute budget,
each group's final loss fitted as a parabola in log N, its minimum taken, and N_opt = k C^a fitted
across the budgets (D_opt = C / (k_f N_opt), so D_opt ~ C^(1-a)).

Runs are grouped by compute C (given, or k_f N D): the largest set of runs within `width`
decades either side of one run's compute forms a profile, then the next among those left, while
a set has at least `min_points` runs of distinct N. Runs in no profile are counted, not used.

Intervals: each profile's residuals are resampled (its runs' sizes kept) and the parabola refitted,
all resamples at once; the frontier is refitted on every resample's minima, so its exponent's
interval carries each minimum's uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fitting.compute_optimal import DEFAULT_FLOPS_PER_TOKEN, check_budgets, check_flops_per_token
from fitting.errors import FitImpossibleError, InvalidInputError, LimitExceededError
from fitting.result import Estimate, estimate_from
from fitting.validation import as_float_array, check_finite, check_positive

DEFAULT_WIDTH = 0.04  # decades either side: the Chinchilla extraction's budgets sit 0.2-0.3 decades apart
MAX_RUNS = 5_000  # grouping compares every run with every other
DEFAULT_MIN_POINTS = 6  # a parabola has 3 coefficients; the rest are residuals to resample


@dataclass(frozen=True, eq=False)
class IsoFlopProfile:
    """One budget's runs and the parabola loss = c0 + c1 u + c2 u^2 in u = ln N - centre.

    status: "ok"; "not convex" (c2 <= 0: no minimum); or "minimum outside its runs" (the vertex
    lies beyond the smallest or largest N of the profile: an extrapolated minimum, kept but not
    used for the frontier)."""

    budget: float
    n: np.ndarray
    d: np.ndarray
    loss: np.ndarray
    centre: float
    coef: tuple[float, float, float]
    n_opt: Estimate
    loss_opt: Estimate
    status: str

    def parabola(self, n: np.ndarray) -> np.ndarray:
        u = np.log(n) - self.centre
        return self.coef[0] + self.coef[1] * u + self.coef[2] * u**2


@dataclass(frozen=True, eq=False)
class IsoFlopResult:
    """The profiles, and N_opt = k_n C^a, D_opt = k_d C^b fitted across those whose status is ok.
    `samples` (S, 2): each resample's (ln k_n, a), rows with a non-convex profile left out."""

    profiles: tuple[IsoFlopProfile, ...]
    a: Estimate
    b: Estimate
    k_n: Estimate
    k_d: Estimate
    flops_per_token: float
    left_out: int
    samples: np.ndarray | None
    message: str = ""

    def n_opt(self, budgets: Any) -> list[Estimate]:
        """N_opt = k_n C^a at each budget, with its interval from the resamples."""
        c = np.log(check_budgets(budgets))
        value = np.log(self.k_n.value) + self.a.value * c
        draws = None if self.samples is None else self.samples[:, :1] + self.samples[:, 1:] * c[None, :]
        with np.errstate(over="ignore"):  # far out, N_opt (or a wild resample's) overflows: not available
            n, n_draws = np.exp(value), None if draws is None else np.exp(draws)
        return [estimate_from(float(v) if math.isfinite(v) else math.nan, None if n_draws is None else n_draws[:, j])
                for j, v in enumerate(n.tolist())]  # fmt: skip

    def d_opt(self, budgets: Any) -> list[Estimate]:
        """D_opt = C / (k_f N_opt) at each budget."""
        c = check_budgets(budgets)
        k = self.flops_per_token
        return [Estimate(b / (k * e.value), b / (k * e.high), b / (k * e.low))
                for b, e in zip(c.tolist(), self.n_opt(c), strict=True)]  # fmt: skip


def group_by_compute(
    compute: np.ndarray, n: np.ndarray, *, width: float = DEFAULT_WIDTH, min_points: int = DEFAULT_MIN_POINTS
) -> list[np.ndarray]:
    """Indices of each budget's runs, by budget: the largest set within `width` decades of one
    run's compute first, then the next among those left (module docstring)."""
    log_c = np.log10(compute)
    left = np.ones(compute.size, dtype=bool)
    groups = []
    while left.sum() >= min_points:
        near = (np.abs(log_c[:, None] - log_c[None, :]) <= width) & left[None, :] & left[:, None]
        counts = np.array([np.unique(n[row]).size for row in near])
        best = int(np.argmax(counts))
        if counts[best] < min_points:
            break
        members = np.flatnonzero(near[best])
        groups.append(members)
        left[members] = False
    return sorted(groups, key=lambda g: float(np.median(compute[g])))


def isoflop_profiles(
    n: Any,
    d: Any,
    loss: Any,
    *,
    compute: Any = None,
    flops_per_token: float = DEFAULT_FLOPS_PER_TOKEN,
    width: float = DEFAULT_WIDTH,
    min_points: int = DEFAULT_MIN_POINTS,
    bootstrap: int = 1000,
    seed: int = 0,
) -> IsoFlopResult:
    """Approach 2 on runs of size n, tokens d and final loss (module docstring). compute: each
    run's FLOPs (default flops_per_token * n * d). FitImpossibleError when fewer than two
    profiles have a minimum inside their runs."""
    k = check_flops_per_token(flops_per_token)
    arrays = {name: as_float_array(v, name) for name, v in (("n", n), ("d", d), ("loss", loss))}
    if compute is not None:
        arrays["compute"] = as_float_array(compute, "compute")
    sizes = {v.size for v in arrays.values()}
    if len(sizes) != 1:
        raise InvalidInputError("n, d, loss (and compute) must be of one length", field="n")
    if arrays["n"].size > MAX_RUNS:
        raise LimitExceededError(f"{arrays['n'].size} runs; IsoFLOP profiles are read from at most {MAX_RUNS}",
                                 field="n")  # fmt: skip
    for name, v in arrays.items():
        check_finite(v, name)
        check_positive(v, name, "runs have positive sizes, tokens, losses and compute")
    if not (isinstance(width, int | float) and 0 < width < 1):
        raise InvalidInputError(f"must be between 0 and 1 decade, got {width!r}", field="width")
    if not (isinstance(min_points, int) and min_points >= 4):
        raise InvalidInputError(f"must be an integer >= 4 (a parabola and a residual), got {min_points!r}",
                                field="min_points")  # fmt: skip
    if not (isinstance(bootstrap, int) and bootstrap >= 0):
        raise InvalidInputError(f"must be an integer >= 0, got {bootstrap!r}", field="bootstrap")
    with np.errstate(over="ignore", under="ignore"):
        c = arrays.get("compute", k * arrays["n"] * arrays["d"])
    if not (np.isfinite(c).all() and (c > 0).all()):
        raise FitImpossibleError(f"the runs' compute {k:g} N D is out of the floating-point range", field="compute")
    groups = group_by_compute(c, arrays["n"], width=width, min_points=min_points)
    rng = np.random.default_rng(seed)
    profiles, draws = [], []
    for g in groups:
        profile, drawn = _profile(float(np.median(c[g])), arrays["n"][g], arrays["d"][g], arrays["loss"][g],
                                  bootstrap, rng)  # fmt: skip
        profiles.append(profile)
        draws.append(drawn)
    used = [i for i, p in enumerate(profiles) if p.status == "ok"]
    left_out = int(c.size - sum(g.size for g in groups))
    if len(used) < 2:
        raise FitImpossibleError(
            f"{len(groups)} IsoFLOP profile(s) of at least {min_points} runs within {width:g} decades of one budget, "
            f"{len(used)} with a minimum inside its runs; the frontier needs two",
            field="compute",
        )
    log_c = np.log(np.array([profiles[i].budget for i in used]))
    log_n = np.log(np.array([profiles[i].n_opt.value for i in used]))
    slope, intercept = np.polyfit(log_c, log_n, 1)
    samples = None
    if bootstrap:
        resampled = np.stack([draws[i] for i in used], axis=1)  # (S, profiles): ln N* of each resample
        samples = _frontier_draws(log_c, resampled)
    a = estimate_from(float(slope), None if samples is None else samples[:, 1])
    k_n = estimate_from(math.exp(intercept), None if samples is None else np.exp(samples[:, 0]))
    message = ""
    if bootstrap:
        convex = np.isfinite(np.stack([draws[i] for i in used], axis=1))
        if not convex.all():
            message = (f"{int((~convex).sum())} of {convex.size} resampled profiles had no minimum: each resample's "
                       "frontier is fitted on the profiles with one")  # fmt: skip
    return IsoFlopResult(
        profiles=tuple(profiles), a=a, b=Estimate(1.0 - a.value, 1.0 - a.high, 1.0 - a.low),
        k_n=k_n, k_d=Estimate(1.0 / (k * k_n.value), 1.0 / (k * k_n.high), 1.0 / (k * k_n.low)),
        flops_per_token=k, left_out=left_out, samples=samples, message=message,
    )  # fmt: skip


def _profile(
    budget: float, n: np.ndarray, d: np.ndarray, loss: np.ndarray, bootstrap: int, rng: np.random.Generator
) -> tuple[IsoFlopProfile, np.ndarray]:
    """One profile's parabola and minimum, and its resamples' ln N* (NaN where not convex)."""
    order = np.argsort(n)
    n, d, loss = n[order], d[order], loss[order]
    centre = float(np.mean(np.log(n)))
    u = np.log(n) - centre
    design = np.stack([np.ones_like(u), u, u**2], axis=1)
    coef, *_ = np.linalg.lstsq(design, loss, rcond=None)
    fitted = design @ coef
    residuals = (loss - fitted) * math.sqrt(n.size / max(n.size - 3, 1))  # spread as the fit left it
    drawn_coef = np.empty((3, 0))
    if bootstrap:
        picks = rng.integers(0, n.size, size=(n.size, bootstrap))
        drawn_coef, *_ = np.linalg.lstsq(design, fitted[:, None] + residuals[picks], rcond=None)  # (3, S)
    vertex, low = _vertex(coef[:, None]), _vertex(drawn_coef)
    u_star, loss_star = float(vertex[0][0]), float(vertex[1][0])
    convex = coef[2] > 0
    inside = convex and u[0] <= u_star <= u[-1]
    status = "ok" if inside else "not convex" if not convex else "minimum outside its runs"
    log_n_draws = low[0] + centre
    with np.errstate(over="ignore"):  # a nearly flat parabola's vertex can overflow: not available
        n_draws = np.exp(log_n_draws) if convex else None
        n_star = float(np.exp(u_star + centre)) if convex else math.nan
    n_opt = estimate_from(n_star if math.isfinite(n_star) else math.nan, n_draws)
    loss_opt = estimate_from(loss_star if convex else math.nan, low[1] if convex else None)
    profile = IsoFlopProfile(budget, n, d, loss, centre, (float(coef[0]), float(coef[1]), float(coef[2])), n_opt,
                             loss_opt, status)  # fmt: skip
    return profile, log_n_draws


def _frontier_draws(log_c: np.ndarray, log_n: np.ndarray) -> np.ndarray | None:
    """Each resample's (ln k_n, a): ln N* regressed on ln C over the profiles whose resample has a
    minimum (a profile without one is left out of that resample alone, not the whole resample, which
    would keep only the resamples where every profile came out convex); resamples with fewer than
    two such profiles are left out."""
    w = np.isfinite(log_n).astype(float)
    y = np.where(w > 0, log_n, 0.0)
    sw, sx, sy = w.sum(1), (w * log_c).sum(1), (w * y).sum(1)
    sxx, sxy = (w * log_c**2).sum(1), (w * log_c * y).sum(1)
    det = sw * sxx - sx**2
    keep = (sw >= 2) & (det > 1e-12 * np.maximum(sw * sxx, 1e-300))
    if keep.sum() < 2:
        return None
    slope = (sw * sxy - sx * sy)[keep] / det[keep]
    intercept = (sy[keep] - slope * sx[keep]) / sw[keep]
    return np.stack([intercept, slope], axis=1)


def _vertex(coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The parabolas' vertices (u*, loss*) for coefficients (3, S); NaN where not convex."""
    c0, c1, c2 = coef
    with np.errstate(all="ignore"):
        u = np.where(c2 > 0, -c1 / (2 * c2), np.nan)
    return u, c0 + c1 * u + c2 * u**2
