"""Learning-Law statistics (Gu et al. 2024, §3, Theorem 3.1; docs/paper.md), pure numpy.

CT[t, n] = grad L_test(theta_t) . grad l(x_n, theta_t) is the contribution of example n at
step t (trainers compute it); gamma[t, n] is the policy's weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from fitting.errors import InvalidInputError


@dataclass(frozen=True, eq=False)
class SimStatistics:
    """SIM_t = CTbar_t / s_t per step, its mean SIM, and how the policy treats CT <= 0 examples.

    ct_bar (T,): sum_n gamma CT; ct_std (T,): std of CT over gamma > 0 (ddof 1);
    n_active (T,): examples with gamma > zero_tol; sim_t is NaN where n_active < 2 or s_t = 0.
    zero_weight_fraction: share of (t, n) with CT <= 0 that get gamma <= zero_tol (-> 1 at optimum).
    zero_weight_fraction_positive: the same share among CT > 0. Not a test of the Law on its own:
    the loss depends on a step's weights only through their weighted gradient, so an optimum keeps
    at most as many examples a step as there are parameters and drops most CT > 0 pairs too.
    nonpositive_weight: the policy's weight on CT <= 0 pairs, sum_n gamma[t, n] [CT <= 0] averaged
    over t: the uniform policy's is the share of such pairs, the Law's 0 (kept examples all have
    the same, positive, contribution).
    """

    sim_t: np.ndarray
    sim: float
    zero_weight_fraction: float
    zero_weight_fraction_positive: float
    nonpositive_weight: float
    ct_bar: np.ndarray
    ct_std: np.ndarray
    n_active: np.ndarray


def _matrices(ct: Any, gamma: Any) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(ct, dtype=float)
    g = np.asarray(gamma, dtype=float)
    if c.ndim != 2:
        raise InvalidInputError(f"must be a (T, N) matrix, got shape {c.shape}", field="ct")
    if g.shape != c.shape:
        raise InvalidInputError(f"shape {g.shape} differs from ct's {c.shape}", field="gamma")
    for arr, name in ((c, "ct"), (g, "gamma")):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InvalidInputError("must be finite", field=name, index=int(np.flatnonzero(bad.ravel())[0]))
    if (g < 0).any():
        raise InvalidInputError("weights must be >= 0", field="gamma", index=int(np.flatnonzero((g < 0).ravel())[0]))
    return c, g


def sim_statistics(ct: Any, gamma: Any, *, zero_tol: float = 0.0) -> SimStatistics:
    """SIM and the zero-weight fraction (Gu et al. 2024, §3) from CT and gamma, both (T, N)."""
    c, g = _matrices(ct, gamma)
    active = g > zero_tol
    n_active = active.sum(axis=1)
    ct_bar = (g * c).sum(axis=1)
    count = np.maximum(n_active, 1)
    mean_active = np.where(active, c, 0.0).sum(axis=1) / count
    ss = np.where(active, (c - mean_active[:, None]) ** 2, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ct_std = np.where(n_active >= 2, np.sqrt(ss / np.maximum(n_active - 1, 1)), np.nan)
        sim_t = np.where(ct_std > 0, ct_bar / ct_std, np.nan)
    nonpositive = c <= 0
    zero_fraction = _share(~active, nonpositive)
    finite = sim_t[np.isfinite(sim_t)]
    return SimStatistics(
        sim_t=sim_t,
        sim=float(finite.mean()) if finite.size else float("nan"),
        zero_weight_fraction=zero_fraction,
        zero_weight_fraction_positive=_share(~active, ~nonpositive),
        nonpositive_weight=float((g * nonpositive).sum(axis=1).mean()),
        ct_bar=ct_bar,
        ct_std=ct_std,
        n_active=n_active,
    )


def _share(chosen: np.ndarray, among: np.ndarray) -> float:
    """The share of `among` that is also `chosen` (NaN where `among` is empty)."""
    total = int(among.sum())
    return float((chosen & among).sum() / total) if total else float("nan")


def well_learned_ratios(train_loss: Any, gamma: Any, *, loss_tol: float = 1e-6) -> np.ndarray:
    """gamma[t, n] / max_n gamma[t] for every well-learned (t, n) (train loss < loss_tol), sorted:
    the distribution the paper describes (§3, Fig. 9: most well-learned examples get little
    weight)."""
    loss, g = _matrices(train_loss, gamma)
    top = g.max(axis=1, keepdims=True)
    ratios = np.divide(g, top, out=np.zeros_like(g), where=top > 0)
    return np.sort(ratios[loss < loss_tol])


def well_learned_share(train_loss: Any, gamma: Any, *, loss_tol: float = 1e-6, ratio: float = 0.2) -> float:
    """Share of well-learned (t, n) (train loss < loss_tol) with gamma < ratio * max_n gamma[t].

    The perceptron check of Gu et al. 2024, §3 (the paper reports > 90 %). NaN when no example
    is well learned.
    """
    ratios = well_learned_ratios(train_loss, gamma, loss_tol=loss_tol)
    if not ratios.size:
        return float("nan")
    return float(np.mean(ratios < ratio))


@dataclass(frozen=True)
class SimCrFit:
    """SIM = c * [log(b / CR)]^(-a): SIM diverges as CR approaches b, the optimal CR (the paper's
    Fig. 7 fit). r2 is on log SIM."""

    c: float
    b: float
    a: float
    r2: float

    def sim_at(self, cr: Any) -> np.ndarray:
        x = np.asarray(cr, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.c * np.log(self.b / x) ** (-self.a)


def fit_sim_against_cr(cr: Any, sim: Any) -> SimCrFit:
    """Least squares on log SIM = log c - a log(log(b / CR)): linear in (log c, a) for each b, so
    b alone is searched (above the largest CR seen, up to 100 times it), then refined."""
    x, y = np.asarray(cr, dtype=float), np.asarray(sim, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidInputError(f"cr and sim must be 1-D of one length, got {x.shape} and {y.shape}", field="sim")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0:
        raise InvalidInputError("needs at least 3 points with distinct CR > 0 and SIM > 0", field="sim")
    x, log_y = x[keep], np.log(y[keep])

    def solve(b: float) -> tuple[float, float, float]:
        z = np.log(np.log(b / x))
        design = np.stack([np.ones_like(z), -z], axis=1)
        (log_c, a), *_ = np.linalg.lstsq(design, log_y, rcond=None)
        sse = float(np.sum((design @ np.array([log_c, a]) - log_y) ** 2))
        return sse, float(log_c), float(a)

    top = float(x.max())
    grid = top * (1 + np.geomspace(1e-4, 100.0, 200))
    best = min(grid, key=lambda b: solve(b)[0])
    lo, hi = top * (1 + 1e-6), float(best) * 1.1
    refined = minimize_scalar(lambda lb: solve(float(np.exp(lb)))[0], bounds=(np.log(lo), np.log(hi)), method="bounded")
    b = float(np.exp(refined.x)) if refined.fun <= solve(float(best))[0] else float(best)
    sse, log_c, a = solve(b)
    sst = float(np.sum((log_y - log_y.mean()) ** 2))
    return SimCrFit(c=float(np.exp(log_c)), b=b, a=a, r2=1 - sse / sst if sst > 0 else float("nan"))
