"""Small vectorised linear algebra used by the starting-value guesses."""

from __future__ import annotations

from itertools import combinations

import numpy as np


def nonneg_linear_fit(basis: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per curve, the non-negative coefficients c minimising sum_m w (y - basis @ c)^2.

    basis (b, m, K), y (b, m), mask (b, m) -> c (b, K). The weight w = mask / y^2 makes the
    squared error relative, which approximates the log-space residual the fits use. K is small
    (<= 3), so the exact non-negative solution is found by trying every active set.
    """
    basis = np.broadcast_to(basis, y.shape + basis.shape[-1:])
    k = basis.shape[-1]
    best_cost = np.full(len(y), np.inf)
    best = np.zeros((len(y), k))
    y, w, scale = relative_weights(y, mask)
    with np.errstate(all="ignore"):
        weighted = np.swapaxes(basis * w[..., None], 1, 2)  # (b, K, m); matmul beats a 3-operand einsum
        gram = weighted @ basis  # (b, K, K)
        rhs = (weighted @ y[..., None])[..., 0]  # (b, K)
        yy = (y * w * y).sum(axis=1)
        for size in range(1, k + 1):
            for subset in combinations(range(k), size):
                idx = np.array(subset)
                g = gram[:, idx[:, None], idx[None, :]]
                ridge = 1e-12 * np.trace(g, axis1=1, axis2=2)[:, None, None] * np.eye(size) + 1e-300
                c = np.linalg.solve(g + ridge, rhs[:, idx][..., None])[..., 0]
                full = np.zeros((len(y), k))
                full[:, idx] = c
                cost = yy - 2 * np.einsum("bk,bk->b", full, rhs) + np.einsum("bk,bkl,bl->b", full, gram, full)
                better = np.all(c >= 0, axis=1) & (cost < best_cost)
                best_cost = np.where(better, cost, best_cost)
                best = np.where(better[:, None], full, best)
        best = best * scale
    return np.where(np.isfinite(best), best, 0.0)


def relative_weights(y: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y (b, m) over its scale, the weights mask / y^2 of a relative squared error, and the scale (b, 1).

    Losses near 1e300 or 1e-300 overflow or vanish when squared in w. The solution scales with
    y, so y is divided by its geometric mean per curve first; a curve spanning more than the
    float range still overflows, and its coefficients come out zero."""
    with np.errstate(all="ignore"):
        log_y = np.where(mask > 0, np.log(np.where(mask > 0, y, 1.0)), 0.0)
        scale = np.exp(log_y.sum(axis=1) / np.maximum(mask.sum(axis=1), 1))[:, None]
        y = y / scale
        return y, mask / np.where(mask > 0, y, 1.0) ** 2, scale


def nonneg_pair_fit(
    sw: np.ndarray, swp: np.ndarray, swpp: np.ndarray, swy: np.ndarray, swpy: np.ndarray, swyy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """nonneg_linear_fit for the basis (1, p), in closed form from its weighted sums (any shape,
    all alike): sum w, sum w p, sum w p^2, sum w y, sum w p y, sum w y^2. Returns (c0, c1).

    The same active sets ({c0}, {c1}, both), ridge and choice as the general function; written
    out because a batch of 2 x 2 solves through numpy's stacked linear algebra cost more than
    the sums themselves (the step_power law's 16 starts for 256 curves: 11 ms against 1)."""
    with np.errstate(all="ignore"):
        zero = np.zeros(np.broadcast(sw, swp).shape)
        best0, best1, best_cost = zero, zero, np.full(zero.shape, np.inf)

        def consider(c0: np.ndarray, c1: np.ndarray) -> None:
            nonlocal best0, best1, best_cost
            cost = swyy - 2 * (c0 * swy + c1 * swpy) + c0 * c0 * sw + 2 * c0 * c1 * swp + c1 * c1 * swpp
            better = (c0 >= 0) & (c1 >= 0) & (cost < best_cost)
            best0, best1 = np.where(better, c0, best0), np.where(better, c1, best1)
            best_cost = np.where(better, cost, best_cost)

        consider(swy / (sw * (1 + 1e-12) + 1e-300), zero)
        consider(zero, swpy / (swpp * (1 + 1e-12) + 1e-300))
        ridge = 1e-12 * (sw + swpp) + 1e-300
        a, d = sw + ridge, swpp + ridge
        det = a * d - swp * swp
        consider((d * swy - swp * swpy) / det, (a * swpy - swp * swy) / det)
        return np.where(np.isfinite(best0), best0, 0.0), np.where(np.isfinite(best1), best1, 0.0)
